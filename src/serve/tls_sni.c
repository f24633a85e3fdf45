/* tls_sni.c — the client-hello callback of a listener: certificate choice
 * by SNI, and sni_strict.
 *
 * A listener's own context holds at most one certificate per key type (an
 * RSA and an ECDSA twin, which OpenSSL chooses between by the client's
 * signature algorithms).  Further certificates of a key type already taken
 * live in further contexts; the client-hello callback installed here reads
 * the SNI through OpenSSL (SSL_client_hello_get0_ext) and switches the
 * connection to the first context whose certificate covers the name.  The
 * listener's own context stays the default, so clients without SNI still get
 * the service's own certificate.  With sni_strict the same callback refuses a
 * ClientHello that names none of the service's names (or none at all) with
 * an unrecognized_name alert, before any certificate is sent.  A hello that
 * offers ALPN "acme-tls/1" for a name with a pending tls-alpn-01 challenge
 * (challenges.c, filled by the renewal of `run`) is switched to that
 * challenge's context instead, which serves the RFC 8737 certificate and
 * selects acme-tls/1.  Building the
 * contexts is tls.c's job; reading the name and matching it are tls_name.c's.
 */
#include <openssl/err.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "edge443/config/config.h"
#include "edge443/serve/challenges.h"
#include "edge443/serve/tls_name.h"
#include "edge443/serve/tls_sni.h"

/* One context per certificate at most: the configuration's limit. */
#define TLS_SNI_MAX CONFIG_MAX_LISTENER_CERTS

struct tls_sni_set {
	size_t n;		   /* contexts, ctx[0] = the listener's */
	SSL_CTX *ctx[TLS_SNI_MAX]; /* ctx[1..] owned here */
	STACK_OF(X509) * leaves[TLS_SNI_MAX]; /* owned here */
	char *strict_fqdn; /* owned; NULL unless sni_strict */
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
	free(set->strict_fqdn);
	free(set);
}

static void tls_sni_index_init(void)
{
	tls_sni_index =
		SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, tls_sni_free_cb);
}

/* sni_strict: is NAME one of the service's names (its FQDN, or a name one of
 * its certificates covers)? */
static bool tls_sni_strict_ok(const struct tls_sni_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (tls_name_covered(set->strict_fqdn, set->leaves[i], name))
			return true;
	return false;
}

/* tls-alpn-01: a hello offering acme-tls/1 for NAME, whose challenge is
 * pending, moves to the challenge's context.  True when it did. */
static bool tls_sni_challenge(SSL *ssl, const char *name)
{
	const unsigned char *p;
	size_t len;
	SSL_CTX *ctx;

	if (!name || challenges_count() == 0 ||
	    SSL_client_hello_get0_ext(
		    ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &p,
		    &len) != 1 ||
	    !challenges_alpn_offered(p, len))
		return false;
	ctx = challenges_alpn_ctx(name);
	if (!ctx)
		return false;
	SSL_set_SSL_CTX(ssl, ctx); /* takes its own reference */
	SSL_CTX_free(ctx);
	return true;
}

/* Pick the context for the client's SNI; with sni_strict, refuse a name
 * that is not the service's (unrecognized_name, RFC 6066 section 3). */
static int tls_sni_select_cb(SSL *ssl, int *al, void *arg)
{
	struct tls_sni_set *set = arg;
	const unsigned char *p;
	size_t len;
	char *name = NULL;

	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) ==
	    1)
		name = tls_name_parse_sni(p, len);
	if (tls_sni_challenge(ssl, name)) {
		free(name);
		return SSL_CLIENT_HELLO_SUCCESS;
	}
	if (set->strict_fqdn && (!name || !tls_sni_strict_ok(set, name))) {
		/* So that the error queue says why: OpenSSL adds only its
		 * own "callback failed" after this. */
		ERR_raise(ERR_LIB_SSL, SSL_R_TLSV1_UNRECOGNIZED_NAME);
		free(name);
		*al = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_CLIENT_HELLO_ERROR;
	}
	for (size_t i = 0; name && i < set->n; i++) {
		if (tls_name_covered(NULL, set->leaves[i], name)) {
			if (i > 0)
				SSL_set_SSL_CTX(ssl, set->ctx[i]);
			break;
		}
	}
	free(name);
	return SSL_CLIENT_HELLO_SUCCESS;
}

int tls_sni_attach(SSL_CTX *main, SSL_CTX **alts, size_t nalts,
		   STACK_OF(X509) * *leaves, const char *strict_fqdn)
{
	struct tls_sni_set *set;

	pthread_once(&tls_sni_once, tls_sni_index_init);
	if (tls_sni_index < 0 || nalts + 1 > TLS_SNI_MAX)
		goto fail;
	set = calloc(1, sizeof(*set));
	if (!set)
		goto fail;
	if (strict_fqdn) {
		set->strict_fqdn = strdup(strict_fqdn);
		if (!set->strict_fqdn) {
			free(set);
			goto fail;
		}
	}
	set->n = nalts + 1;
	set->ctx[0] = main;
	for (size_t i = 0; i <= nalts; i++) {
		if (i > 0)
			set->ctx[i] = alts[i - 1];
		set->leaves[i] = leaves[i];
	}
	if (SSL_CTX_set_ex_data(main, tls_sni_index, set) != 1) {
		set->n = 0; /* ownership stays with the caller below */
		free(set->strict_fqdn);
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
