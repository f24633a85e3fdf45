/* tls_name.c — host names in TLS: the SNI of a ClientHello, and whether a
 * certificate covers a name.
 *
 * Two pure functions that both the context builder (tls.c: the passthrough
 * peek) and the listener's client-hello callback (tls_sni.c: certificate
 * choice, sni_strict) use, and runtime.c through tls.h: the host name of a
 * server_name extension (RFC 6066 section 3), bounds-checked, and name
 * matching as the plan rules match names, OpenSSL's X509_check_host against
 * DNS SANs only with no partial wildcards (RFC 6125 section 6.4.3).  It
 * builds no context and keeps no state.
 */
#include "edge443/serve/tls_name.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/tls1.h>
#include <openssl/x509v3.h>

/* Longest host name RFC 6066 allows in server_name. */
#define TLS_NAME_SNI_MAX 255

/* The server_name extension body as OpenSSL's own parser accepts it: a list
 * (2-byte length) holding exactly one host_name entry (type 0, 2-byte
 * length).  Names with bytes outside printable ASCII (NUL, controls: they
 * would reach the log) or longer than 255 bytes give NULL. */
char *tls_name_parse_sni(const unsigned char *p, size_t len)
{
	size_t list, n;
	char *name;

	if (len < 5)
		return NULL;
	list = (size_t)p[0] << 8 | p[1];
	n = (size_t)p[3] << 8 | p[4];
	if (list != len - 2 || p[2] != TLSEXT_NAMETYPE_host_name ||
	    n != len - 5 || n == 0 || n > TLS_NAME_SNI_MAX)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (p[5 + i] < 0x21 || p[5 + i] > 0x7e)
			return NULL;
	}
	name = malloc(n + 1);
	if (name == NULL)
		return NULL;
	memcpy(name, p + 5, n);
	name[n] = '\0';
	return name;
}

bool tls_name_covered(const char *fqdn, const STACK_OF(X509) * leaves,
		      const char *name)
{
	bool covered = false;

	if (name == NULL || name[0] == '\0')
		return false;
	if (fqdn != NULL && strcasecmp(name, fqdn) == 0)
		return true;
	ERR_set_mark();
	for (int i = 0; !covered && i < sk_X509_num(leaves); i++)
		covered = X509_check_host(
				  sk_X509_value(leaves, i), name, 0,
				  X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
					  X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
				  NULL) == 1;
	ERR_pop_to_mark();
	return covered;
}
