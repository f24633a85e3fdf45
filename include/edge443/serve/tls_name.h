/* tls_name.h — host names in TLS: the SNI of a ClientHello, and whether a
 * certificate covers a name.
 *
 * Pure functions (tls_name.c), used by tls.c, tls_sni.c and, through tls.h,
 * by runtime.c.  Any thread.
 */
#ifndef EDGE443_TLS_NAME_H
#define EDGE443_TLS_NAME_H

#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>

/* True when NAME (an SNI or a Host name) is FQDN (ASCII case-insensitive;
 * FQDN may be NULL) or is covered by a DNS SAN of one of LEAVES (may be NULL)
 * per X509_check_host: never the subject CN, no partial wildcards ("w*"), a
 * wildcard covers one whole left-most label.  NULL or "" NAME: false.  Pure;
 * any thread; leaves the thread's OpenSSL error queue as it found it. */
bool tls_name_covered(const char *fqdn, const STACK_OF(X509) * leaves,
		      const char *name);

/* The host name of a ClientHello's server_name extension body (P, LEN as
 * SSL_client_hello_get0_ext gives it), as a new string (free); NULL when
 * absent or malformed (bounds-checked; printable ASCII only, at most 255
 * bytes). */
char *tls_name_parse_sni(const unsigned char *p, size_t len);

#endif
