/* test_challenges.c — the ACME challenges the running listeners answer
 * (src/serve/challenges.c, and its use by the client-hello callback of
 * src/serve/tls_sni.c).
 *
 * The table: add, replace, remove, clear, lookups by name (any case) and
 * by token, copies handed out, the count, the limit, and threads adding
 * and reading at once.  The ALPN parser: acme-tls/1 found anywhere in the
 * list, malformed lists refused.  Then a listener's context with the
 * client-hello callback (tls_sni_attach) and a real handshake over a BIO
 * pair: a client offering acme-tls/1 for a name with a pending challenge
 * gets the challenge certificate (acme_alpn_cert_ctx_new) and acme-tls/1;
 * the same client without a pending challenge, or a client without
 * acme-tls/1, gets the listener's own certificate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "edge443/order/acme_alpn.h"
#include "edge443/serve/challenges.h"
#include "edge443/serve/tls_sni.h"

static int test_teardown(void **state)
{
	(void)state;
	challenges_clear();
	return 0;
}

static void test_add_lookup_remove(void **state)
{
	char *ka;

	(void)state;
	assert_int_equal(challenges_count(), 0);
	assert_null(challenges_http("tok1"));
	assert_int_equal(
		challenges_add("web.example.com", "tok1", "tok1.thumb", NULL),
		0);
	assert_int_equal(
		challenges_add("sip.example.com", "tok2", "tok2.thumb", NULL),
		0);
	assert_int_equal(challenges_count(), 2);
	ka = challenges_http("tok1");
	assert_non_null(ka);
	assert_string_equal(ka, "tok1.thumb");
	free(ka);
	assert_null(challenges_http("tok3"));
	/* http-01 entries have no tls-alpn-01 context */
	assert_null(challenges_alpn_ctx("web.example.com"));
	/* a repeat replaces */
	assert_int_equal(
		challenges_add("WEB.example.com", "tok1", "other", NULL), 0);
	assert_int_equal(challenges_count(), 2);
	ka = challenges_http("tok1");
	assert_string_equal(ka, "other");
	free(ka);
	challenges_remove("web.example.com", "tok1");
	assert_null(challenges_http("tok1"));
	assert_int_equal(challenges_count(), 1);
	challenges_remove("nothing", "tok1"); /* ignored */
	assert_int_equal(challenges_count(), 1);
	challenges_clear();
	assert_int_equal(challenges_count(), 0);
	assert_null(challenges_http("tok2"));
	assert_int_equal(challenges_add(NULL, "t", "k", NULL), -1);
}

static void test_limit(void **state)
{
	char tok[32];

	(void)state;
	for (int i = 0; i < CHALLENGES_MAX; i++) {
		snprintf(tok, sizeof(tok), "t%d", i);
		assert_int_equal(challenges_add("n.example", tok, "k", NULL),
				 0);
	}
	assert_int_equal(challenges_add("n.example", "one-more", "k", NULL),
			 -1);
	assert_int_equal(challenges_count(), CHALLENGES_MAX);
	/* the table moves the last entry into a removed one's place */
	challenges_remove("n.example", "t0");
	snprintf(tok, sizeof(tok), "t%d", CHALLENGES_MAX - 1);
	char *ka = challenges_http(tok);
	assert_non_null(ka);
	free(ka);
}

static void *test_reader(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000; i++) {
		free(challenges_http("shared"));
		SSL_CTX_free(challenges_alpn_ctx("x.example"));
		(void)challenges_count();
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t th[3];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	(void)state;
	assert_non_null(ctx);
	for (int i = 0; i < 3; i++)
		assert_int_equal(
			pthread_create(&th[i], NULL, test_reader, NULL), 0);
	for (int i = 0; i < 2000; i++) {
		assert_int_equal(
			challenges_add("x.example", "shared", "k", ctx), 0);
		challenges_remove("x.example", "shared");
	}
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	SSL_CTX_free(ctx);
	assert_int_equal(challenges_count(), 0);
}

static void test_alpn_offered(void **state)
{
	static const unsigned char only[] = "\x00\x0b\x0a"
					    "acme-tls/1";
	static const unsigned char second[] = "\x00\x14\x08http/1.1\x0a"
					      "acme-tls/1";
	static const unsigned char h2[] = "\x00\x03\x02h2";
	static const unsigned char bad_len[] = "\x00\x0c\x0a"
					       "acme-tls/1";
	static const unsigned char overrun[] = "\x00\x0b\x0b"
					       "acme-tls/1";

	(void)state;
	assert_true(challenges_alpn_offered(only, sizeof(only) - 1));
	assert_true(challenges_alpn_offered(second, sizeof(second) - 1));
	assert_false(challenges_alpn_offered(h2, sizeof(h2) - 1));
	assert_false(challenges_alpn_offered(bad_len, sizeof(bad_len) - 1));
	assert_false(challenges_alpn_offered(overrun, sizeof(overrun) - 1));
	assert_false(challenges_alpn_offered(NULL, 0));
	assert_false(challenges_alpn_offered(only, 1));
}

/* ---- the client-hello callback with a real handshake -------------------- */

static EVP_PKEY *test_key;

static X509 *test_self_signed(const char *cn)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_get_subject_name(x);

	assert_non_null(x);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, test_key);
	assert_true(X509_sign(x, test_key, EVP_sha256()) > 0);
	return x;
}

static int test_servername_cb(SSL *ssl, int *al, void *arg)
{
	(void)ssl;
	(void)al;
	(void)arg;
	return SSL_TLSEXT_ERR_OK;
}

static bool test_want(SSL *s, int rc)
{
	int e = SSL_get_error(s, rc);

	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

/* A handshake of a client (SNI NAME, ALPN list ALPN) with a server on
 * SCTX; the subject CN the client saw into CN, the ALPN chosen into PROTO.
 * 0 / -1. */
static int test_hello(SSL_CTX *sctx, const char *name,
		      const unsigned char *alpn, unsigned alpnlen, char *cn,
		      size_t cnlen, char *proto, size_t protolen)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL *srv = SSL_new(sctx), *cli = SSL_new(cctx);
	BIO *bs, *bc;
	int ret = -1;

	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	SSL_set_tlsext_host_name(cli, name);
	SSL_set_alpn_protos(cli, alpn, alpnlen);
	BIO_new_bio_pair(&bs, 0, &bc, 0);
	SSL_set_bio(srv, bs, bs);
	SSL_set_bio(cli, bc, bc);
	SSL_set_accept_state(srv);
	SSL_set_connect_state(cli);
	for (int i = 0; i < 50; i++) {
		int rc = SSL_do_handshake(cli), rs;

		if (rc <= 0 && !test_want(cli, rc))
			break;
		rs = SSL_do_handshake(srv);
		if (rs <= 0 && !test_want(srv, rs))
			break;
		if (rc == 1 && rs == 1) {
			X509 *peer = SSL_get1_peer_certificate(cli);
			const unsigned char *p = NULL;
			unsigned plen = 0;

			X509_NAME_get_text_by_NID(X509_get_subject_name(peer),
						  NID_commonName, cn,
						  (int)cnlen);
			X509_free(peer);
			SSL_get0_alpn_selected(cli, &p, &plen);
			snprintf(proto, protolen, "%.*s", (int)plen,
				 p ? (const char *)p : "");
			ret = 0;
			break;
		}
	}
	ERR_clear_error();
	SSL_free(srv);
	SSL_free(cli);
	SSL_CTX_free(cctx);
	return ret;
}

static void test_hello_switch(void **state)
{
	static const unsigned char acme[] = "\x0a"
					    "acme-tls/1";
	static const unsigned char http[] = "\x08http/1.1";
	SSL_CTX *main = SSL_CTX_new(TLS_server_method()), *alpn;
	X509 *own, *chal;
	STACK_OF(X509) * leaves[1];
	char cn[256], proto[64], err[512];

	(void)state;
	test_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(test_key);
	own = test_self_signed("own.example.com");
	assert_int_equal(SSL_CTX_use_certificate(main, own), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(main, test_key), 1);
	SSL_CTX_set_tlsext_servername_callback(main, test_servername_cb);
	leaves[0] = sk_X509_new_null();
	X509_up_ref(own);
	sk_X509_push(leaves[0], own);
	assert_int_equal(tls_sni_attach(main, NULL, 0, leaves, NULL), 0);

	chal = acme_alpn_cert_new("web.example.com", "tok.thumb", test_key, err,
				  sizeof(err));
	assert_non_null(chal);
	alpn = acme_alpn_cert_ctx_new(chal, test_key, err, sizeof(err));
	assert_non_null(alpn);

	/* nothing pending: the listener's own certificate */
	assert_int_equal(test_hello(main, "web.example.com", acme,
				    sizeof(acme) - 1, cn, sizeof(cn), proto,
				    sizeof(proto)),
			 0);
	assert_string_equal(cn, "own.example.com");

	assert_int_equal(
		challenges_add("web.example.com", "tok", "tok.thumb", alpn), 0);
	SSL_CTX_free(alpn); /* the table holds its own reference */
	/* pending, acme-tls/1 offered: the challenge certificate */
	assert_int_equal(test_hello(main, "web.example.com", acme,
				    sizeof(acme) - 1, cn, sizeof(cn), proto,
				    sizeof(proto)),
			 0);
	assert_string_equal(cn, "web.example.com");
	assert_string_equal(proto, "acme-tls/1");
	/* another name, or no acme-tls/1: the own certificate */
	assert_int_equal(test_hello(main, "other.example.com", acme,
				    sizeof(acme) - 1, cn, sizeof(cn), proto,
				    sizeof(proto)),
			 0);
	assert_string_equal(cn, "own.example.com");
	assert_int_equal(test_hello(main, "web.example.com", http,
				    sizeof(http) - 1, cn, sizeof(cn), proto,
				    sizeof(proto)),
			 0);
	assert_string_equal(cn, "own.example.com");
	/* removed: the own certificate again */
	challenges_remove("web.example.com", "tok");
	assert_int_equal(test_hello(main, "web.example.com", acme,
				    sizeof(acme) - 1, cn, sizeof(cn), proto,
				    sizeof(proto)),
			 0);
	assert_string_equal(cn, "own.example.com");

	X509_free(chal);
	X509_free(own);
	SSL_CTX_free(main);
	EVP_PKEY_free(test_key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_add_lookup_remove,
					  test_teardown),
		cmocka_unit_test_teardown(test_limit, test_teardown),
		cmocka_unit_test_teardown(test_threads, test_teardown),
		cmocka_unit_test(test_alpn_offered),
		cmocka_unit_test_teardown(test_hello_switch, test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
