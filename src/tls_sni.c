/* tls_sni.c — several certificates of one key type on one listener.
 *
 * A listener's own context holds at most one certificate per key type (an
 * RSA and an ECDSA twin, which OpenSSL chooses between by the client's
 * signature algorithms).  Further certificates of a key type already taken
 * live in further contexts; the client-hello callback installed here reads
 * the SNI through OpenSSL (SSL_client_hello_get0_ext) and switches the
 * connection to the first context whose certificate covers the name.  The
 * listener's own context stays the default, so clients without SNI still get
 * the service's own certificate.  Building the contexts is tls.c's job.
 */
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdlib.h>

#include "edge443/tls_internal.h"

#define TLS_SNI_MAX 16

struct tls_sni_set {
	size_t n;		   /* contexts, ctx[0] = the listener's */
	SSL_CTX *ctx[TLS_SNI_MAX]; /* ctx[1..] owned here */
	STACK_OF(X509) * leaves[TLS_SNI_MAX]; /* owned here */
};

static int tls_sni_index = -1;
static pthread_once_t tls_sni_once = PTHREAD_ONCE_INIT;

/* Runs when the listener's context is freed. */
static void tls_sni_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
			    int idx, long argl, void *argp)
{
	struct tls_sni_set *set = ptr;

	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++) {
		if (i > 0)
			SSL_CTX_free(set->ctx[i]);
		sk_X509_pop_free(set->leaves[i], X509_free);
	}
	free(set);
}

static void tls_sni_index_init(void)
{
	tls_sni_index =
		SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, tls_sni_free_cb);
}

static int tls_sni_covers(STACK_OF(X509) * leaves, const char *name)
{
	for (int i = 0; i < sk_X509_num(leaves); i++)
		if (X509_check_host(
			    sk_X509_value(leaves, i), name, 0,
			    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
				    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
			    NULL) == 1)
			return 1;
	return 0;
}

/* Pick the context for the client's SNI; never fails the handshake. */
static int tls_sni_select_cb(SSL *ssl, int *al, void *arg)
{
	struct tls_sni_set *set = arg;
	const unsigned char *p;
	size_t len;
	char *name;

	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) !=
	    1)
		return SSL_CLIENT_HELLO_SUCCESS;
	name = tls_sni_parse(p, len);
	if (!name)
		return SSL_CLIENT_HELLO_SUCCESS;
	for (size_t i = 0; i < set->n; i++) {
		if (tls_sni_covers(set->leaves[i], name)) {
			if (i > 0)
				SSL_set_SSL_CTX(ssl, set->ctx[i]);
			break;
		}
	}
	free(name);
	return SSL_CLIENT_HELLO_SUCCESS;
}

int tls_sni_attach(SSL_CTX *main, SSL_CTX **alts, size_t nalts,
		   STACK_OF(X509) * *leaves)
{
	struct tls_sni_set *set;

	pthread_once(&tls_sni_once, tls_sni_index_init);
	if (tls_sni_index < 0 || nalts + 1 > TLS_SNI_MAX)
		goto fail;
	set = calloc(1, sizeof(*set));
	if (!set)
		goto fail;
	set->n = nalts + 1;
	set->ctx[0] = main;
	for (size_t i = 0; i <= nalts; i++) {
		if (i > 0)
			set->ctx[i] = alts[i - 1];
		set->leaves[i] = leaves[i];
	}
	if (SSL_CTX_set_ex_data(main, tls_sni_index, set) != 1) {
		set->n = 0; /* ownership stays with the caller below */
		free(set);
		goto fail;
	}
	SSL_CTX_set_client_hello_cb(main, tls_sni_select_cb, set);
	return 0;
fail:
	for (size_t i = 0; i <= nalts; i++) {
		if (i > 0)
			SSL_CTX_free(alts[i - 1]);
		sk_X509_pop_free(leaves[i], X509_free);
	}
	return -1;
}
