/* test_tls.c — unit tests for tls.c over the test PKI of tests/pki/mkpki.sh.
 *
 * Handshakes run in memory: a server SSL from the context under test and a
 * test client SSL joined by a BIO pair, driven in turn until both finish.
 * ClientHellos for tls_peek_sni are produced by a real OpenSSL client
 * writing into a memory BIO.  Configurations are parsed with
 * config_load_string, relative paths resolving against $EDGE443_PKI.
 * Ticket key files are written to a temporary folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "edge443/config/config.h"
#include "edge443/serve/runtime.h"
#include "edge443/cert/ticket_file.h"
#include "edge443/serve/tls.h"
#include "edge443/serve/tls_name.h"
#include "edge443/rules/validate.h"

static const char *test_tls_pki;
static char test_tls_tmp[] = "/tmp/test_tls.XXXXXX";

/* ---- helpers ----------------------------------------------------------- */

static const char *tmp(const char *name)
{
	static char bufs[4][PATH_MAX];
	static unsigned next;
	char *b = bufs[next++ % 4];

	snprintf(b, PATH_MAX, "%s/%s", test_tls_tmp, name);
	return b;
}

static const char *pki(const char *name)
{
	static char bufs[4][PATH_MAX];
	static unsigned next;
	char *b = bufs[next++ % 4];

	snprintf(b, PATH_MAX, "%s/%s", test_tls_pki, name);
	return b;
}

/* The common part of every test configuration: the certificate sections
 * and a plain backend.  Services are appended by each test. */
#define TEST_TLS_CERTS                                                         \
	"certificate ssl1 {\n"                                                 \
	"  cert = \"ssl1.crt\"\n"                                              \
	"  chain = \"chain.pem\"\n"                                            \
	"  key = \"ssl1.key\"\n"                                               \
	"}\n"                                                                  \
	"certificate ssl2 {\n"                                                 \
	"  cert = \"ssl2.crt\"\n"                                              \
	"  chain = \"chain.pem\"\n"                                            \
	"  key = \"ssl2.key\"\n"                                               \
	"}\n"                                                                  \
	"certificate web {\n"                                                  \
	"  cert = \"web.crt\"\n"                                               \
	"  chain = \"chain.pem\"\n"                                            \
	"  key = \"web.key\"\n"                                                \
	"}\n"                                                                  \
	"certificate ecdsa {\n"                                                \
	"  cert = \"ecdsa.crt\"\n"                                             \
	"  key = \"ecdsa.key\"\n"                                              \
	"}\n"                                                                  \
	"certificate expired {\n"                                              \
	"  cert = \"expired.crt\"\n"                                           \
	"  chain = \"chain.pem\"\n"                                            \
	"  key = \"expired.key\"\n"                                            \
	"}\n"                                                                  \
	"certificate mismatch {\n"                                             \
	"  cert = \"ssl1.crt\"\n"                                              \
	"  key = \"mismatch.key\"\n"                                           \
	"}\n"                                                                  \
	"certificate missing {\n"                                              \
	"  cert = \"no-such-file.crt\"\n"                                      \
	"  key = \"ssl1.key\"\n"                                               \
	"}\n"                                                                  \
	"certificate nokey {\n"                                                \
	"  cert = \"ssl1.crt\"\n"                                              \
	"}\n"                                                                  \
	"certificate cwabe {\n"                                                \
	"  cert = \"cwa-backend.crt\"\n"                                       \
	"  key = \"cwa-backend.key\"\n"                                        \
	"}\n"                                                                  \
	"backend plain {\n"                                                    \
	"  servers = {\"127.0.0.1:8080\"}\n"                                   \
	"}\n"                                                                  \
	"backend cwa {\n"                                                      \
	"  servers = {\"127.0.0.1:8443\"}\n"                                   \
	"  tls = true\n"                                                       \
	"  trust_file = \"internal-ca.crt\"\n"                                 \
	"  verify_name = \"cwa01.corp.example\"\n"                             \
	"}\n"                                                                  \
	"backend wrongname {\n"                                                \
	"  servers = {\"127.0.0.1:8443\"}\n"                                   \
	"  tls = true\n"                                                       \
	"  trust_file = \"internal-ca.crt\"\n"                                 \
	"  verify_name = \"cwa02.corp.example\"\n"                             \
	"}\n"                                                                  \
	"backend publictrust {\n"                                              \
	"  servers = {\"127.0.0.1:8443\"}\n"                                   \
	"  tls = true\n"                                                       \
	"  trust_file = \"trust.pem\"\n"                                       \
	"  verify_name = \"cwa01.corp.example\"\n"                             \
	"}\n"                                                                  \
	"backend notrust {\n"                                                  \
	"  servers = {\"127.0.0.1:8443\"}\n"                                   \
	"  tls = true\n"                                                       \
	"  verify_name = \"cwa01.corp.example\"\n"                             \
	"}\n"                                                                  \
	"backend missingtrust {\n"                                             \
	"  servers = {\"127.0.0.1:8443\"}\n"                                   \
	"  tls = true\n"                                                       \
	"  trust_file = \"no-such-ca.crt\"\n"                                  \
	"  verify_name = \"cwa01.corp.example\"\n"                             \
	"}\n"                                                                  \
	"backend noverify {\n"                                                 \
	"  servers = {\"127.0.0.1:8443\"}\n"                                   \
	"  tls = true\n"                                                       \
	"  verify = false\n"                                                   \
	"}\n"

#define TEST_TLS_HTTP "  http {\n    paths = {\"/\"}\n  }\n"

/* A terminating service "svc" on certificate CERT; LINES (may be "") are
 * added to the service block. */
static struct config *test_cfg(const char *cert, const char *lines)
{
	char text[8192] = TEST_TLS_CERTS;
	size_t used = strlen(text);
	char err[4096];
	enum config_status st;
	struct config *cfg;

	snprintf(text + used, sizeof(text) - used,
		 "service svc {\n"
		 "  role = \"generic\"\n"
		 "  fqdn = \"sip.example.com\"\n"
		 "  listen = \"127.0.0.1:9443\"\n"
		 "  certificate = \"%s\"\n"
		 "  mode = \"terminate\"\n"
		 "  backend = \"plain\"\n"
		 "%s"
		 "}\n",
		 cert, lines);
	cfg = config_load_string(text, "tls.conf", test_tls_pki, &st, err,
				 sizeof(err));
	if (cfg == NULL)
		fail_msg("config: %s", err);
	return cfg;
}

/* tls_server_ctx_new for SVC serving sections CC and EX[0..NEX), from the
 * objects validation loads (rules_load_certs): tls.c reads no file. */
static SSL_CTX *
test_ctx_from(struct config *cfg, const struct config_service *svc,
	      const struct config_cert *cc, const struct config_cert *const *ex,
	      size_t nex, struct tls_tickets *tickets, char *err, size_t errlen)
{
	struct rules_certs *pc = rules_load_certs(cfg);
	struct tls_cert tc[8];
	size_t n = 0;
	SSL_CTX *ctx;

	assert_non_null(pc);
	if (cc) {
		tc[n].cc = cc;
		tc[n].ci = validate_cert(cfg, pc, cc);
		n++;
	}
	for (size_t i = 0; i < nex && n < 8; i++, n++) {
		tc[n].cc = ex[i];
		tc[n].ci = validate_cert(cfg, pc, ex[i]);
	}
	ctx = tls_server_ctx_new(cfg, svc, tc, n, tickets, err, errlen);
	rules_certs_free(pc);
	return ctx;
}

/* The server context for the service of test_cfg(CERT, LINES) plus the
 * certificate sections named in EXTRA (NULL-terminated, may be NULL).
 * Returns NULL with the reason in err. */
static SSL_CTX *test_server_ctx(const char *cert, const char *lines,
				const char *const *extra,
				struct tls_tickets *tickets, char *err,
				size_t errlen)
{
	struct config *cfg = test_cfg(cert, lines);
	const struct config_cert *ex[4];
	size_t nex = 0;
	SSL_CTX *ctx;

	for (; extra != NULL && *extra != NULL && nex < 4; extra++) {
		ex[nex] = config_find_cert(cfg, *extra);
		assert_non_null(ex[nex]);
		nex++;
	}
	ctx = test_ctx_from(cfg, &cfg->services[0], config_find_cert(cfg, cert),
			    ex, nex, tickets, err, errlen);
	config_free(cfg);
	return ctx;
}

static SSL_CTX *test_server_ok(const char *cert, const char *lines,
			       const char *const *extra,
			       struct tls_tickets *tickets)
{
	char err[1024] = "";
	SSL_CTX *ctx =
		test_server_ctx(cert, lines, extra, tickets, err, sizeof(err));

	if (ctx == NULL)
		fail_msg("server ctx for %s: %s", cert, err);
	return ctx;
}

/* A plain test client context; verifies against trust.pem when VERIFY. */
static SSL_CTX *test_client_ctx(bool verify)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	assert_non_null(ctx);
	if (verify) {
		assert_int_equal(
			SSL_CTX_load_verify_file(ctx, pki("trust.pem")), 1);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	return ctx;
}

static bool test_want_io(SSL *ssl, int rc)
{
	int e = SSL_get_error(ssl, rc);

	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

/* Join SRV and CLI by a BIO pair and run both handshakes to the end.
 * 0 when both finished, -1 when either failed (when the server failed, the
 * client reads once more, so that it sees the server's alert). */
static int test_handshake(SSL *srv, SSL *cli)
{
	BIO *bs = NULL, *bc = NULL;

	assert_int_equal(BIO_new_bio_pair(&bs, 0, &bc, 0), 1);
	SSL_set_bio(srv, bs, bs);
	SSL_set_bio(cli, bc, bc);
	SSL_set_accept_state(srv);
	if (!SSL_is_init_finished(cli))
		SSL_set_connect_state(cli);
	for (int i = 0; i < 50; i++) {
		int rc = SSL_do_handshake(cli);
		int rs;

		if (rc <= 0 && !test_want_io(cli, rc))
			goto fail;
		rs = SSL_do_handshake(srv);
		if (rs <= 0 && !test_want_io(srv, rs)) {
			SSL_do_handshake(cli);
			goto fail;
		}
		if (rc == 1 && rs == 1)
			return 0;
	}
fail:
	ERR_clear_error();
	return -1;
}

/* Let the client read what the server sent after its handshake (TLS 1.3
 * session tickets). */
static void test_client_drain(SSL *cli)
{
	char buf[64];
	int rc = SSL_read(cli, buf, sizeof(buf));

	assert_true(rc <= 0);
	assert_int_equal(SSL_get_error(cli, rc), SSL_ERROR_WANT_READ);
}

static void test_peer_cn(SSL *cli, const char *want)
{
	X509 *peer = SSL_get0_peer_certificate(cli);
	char cn[256] = "";

	assert_non_null(peer);
	X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName,
				  cn, sizeof(cn));
	assert_string_equal(cn, want);
}

static int test_peer_key_type(SSL *cli)
{
	X509 *peer = SSL_get0_peer_certificate(cli);

	assert_non_null(peer);
	return EVP_PKEY_get_base_id(X509_get0_pubkey(peer));
}

/* Did the server's reply carry a server_name extension (the SNI ack)? */
static void test_sni_debug_cb(SSL *s, int client_server, int type,
			      const unsigned char *data, int len, void *arg)
{
	if (client_server == 1 && type == TLSEXT_TYPE_server_name)
		*(bool *)arg = true;
}

/* The info callback of a test client: records the description of the alert
 * it reads (ARG: an int, -1 until one arrives). */
static void test_alert_info_cb(const SSL *ssl, int where, int ret)
{
	int *desc = SSL_get_app_data(ssl);

	if ((where & SSL_CB_READ_ALERT) != 0 && desc != NULL)
		*desc = ret & 0xff;
}

/* A handshake that must fail: returns the alert description the client
 * received (SSL_AD_*), or -1 when the handshake succeeded or ended without
 * an alert. */
static int test_handshake_alert(SSL *srv, SSL *cli)
{
	int desc = -1;

	SSL_set_app_data(cli, &desc);
	SSL_set_info_callback(cli, test_alert_info_cb);
	if (test_handshake(srv, cli) == 0)
		desc = -1;
	SSL_set_info_callback(cli, NULL);
	SSL_set_app_data(cli, NULL);
	return desc;
}

/* ---- server contexts --------------------------------------------------- */

static void test_server_handshake(void **state)
{
	SSL_CTX *sctx = test_server_ok("ssl1", "", NULL, NULL);
	SSL_CTX *cctx = test_client_ctx(true);
	SSL *srv = SSL_new(sctx), *cli = SSL_new(cctx);
	STACK_OF(X509) * chain;
	bool acked = false;
	char cn[256] = "";
	const unsigned char *alpn = NULL;
	unsigned int alpnlen = 0;

	assert_int_equal(SSL_set_tlsext_host_name(cli, "sip.example.com"), 1);
	assert_int_equal(SSL_set1_host(cli, "sip.example.com"), 1);
	assert_int_equal(SSL_set_alpn_protos(
				 cli, (const unsigned char *)"\x08http/1.1", 9),
			 0);
	SSL_set_tlsext_debug_callback(cli, test_sni_debug_cb);
	SSL_set_tlsext_debug_arg(cli, &acked);
	assert_int_equal(test_handshake(srv, cli), 0);

	assert_int_equal(SSL_get_verify_result(cli), X509_V_OK);
	test_peer_cn(cli, "sip.example.com");
	chain = SSL_get_peer_cert_chain(cli); /* leaf + intermediate */
	assert_non_null(chain);
	assert_int_equal(sk_X509_num(chain), 2);
	X509_NAME_get_text_by_NID(
		X509_get_subject_name(sk_X509_value(chain, 1)), NID_commonName,
		cn, sizeof(cn));
	assert_string_equal(cn, "edge443 Test Public Intermediate");

	assert_string_equal(tls_ssl_version(srv), "TLSv1.3");
	assert_true(strncmp(tls_ssl_cipher(srv), "TLS_", 4) == 0);
	assert_non_null(tls_ssl_sni(srv));
	assert_string_equal(tls_ssl_sni(srv), "sip.example.com");
	assert_true(acked);
	/* No http block: no ALPN. */
	SSL_get0_alpn_selected(cli, &alpn, &alpnlen);
	assert_int_equal(alpnlen, 0);

	SSL_free(srv);
	SSL_free(cli);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static void test_server_no_sni(void **state)
{
	SSL_CTX *sctx = test_server_ok("ssl1", "", NULL, NULL);
	SSL_CTX *cctx = test_client_ctx(true);
	SSL *srv = SSL_new(sctx), *cli = SSL_new(cctx);

	/* Without SNI the listener's certificate is served all the same. */
	assert_int_equal(test_handshake(srv, cli), 0);
	test_peer_cn(cli, "sip.example.com");
	assert_null(tls_ssl_sni(srv));
	SSL_free(srv);
	SSL_free(cli);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static void test_server_tls12_ciphers(void **state)
{
	SSL_CTX *sctx = test_server_ok("ssl1", "", NULL, NULL);
	SSL_CTX *cctx = test_client_ctx(false);
	SSL *srv = SSL_new(sctx), *cli = SSL_new(cctx);

	SSL_set_max_proto_version(cli, TLS1_2_VERSION);
	assert_int_equal(test_handshake(srv, cli), 0);
	assert_string_equal(tls_ssl_version(srv), "TLSv1.2");
	assert_true(strncmp(tls_ssl_cipher(srv), "ECDHE-", 6) == 0);
	assert_true(strstr(tls_ssl_cipher(srv), "GCM") != NULL ||
		    strstr(tls_ssl_cipher(srv), "CHACHA20") != NULL);
	SSL_free(srv);
	SSL_free(cli);

	/* A client that only offers RSA key exchange or CBC is refused. */
	srv = SSL_new(sctx);
	cli = SSL_new(cctx);
	SSL_set_max_proto_version(cli, TLS1_2_VERSION);
	assert_int_equal(SSL_set_cipher_list(cli, "AES128-GCM-SHA256:"
						  "ECDHE-RSA-AES128-SHA256"),
			 1);
	assert_int_equal(test_handshake(srv, cli), -1);
	SSL_free(srv);
	SSL_free(cli);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static void test_server_tls11_refused(void **state)
{
	SSL_CTX *sctx = test_server_ok("ssl1", "", NULL, NULL);
	SSL_CTX *cctx = test_client_ctx(false);
	SSL *srv = SSL_new(sctx), *cli = SSL_new(cctx);

	SSL_set_security_level(cli, 0);
	SSL_set_cipher_list(cli, "ALL:@SECLEVEL=0");
	SSL_set_min_proto_version(cli, TLS1_VERSION);
	SSL_set_max_proto_version(cli, TLS1_1_VERSION);
	assert_int_equal(test_handshake(srv, cli), -1);
	SSL_free(srv);
	SSL_free(cli);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static void test_server_legacy_tls10(void **state)
{
	SSL_CTX *sctx =
		test_server_ok("ssl1", "  tls_min = \"1.0\"\n", NULL, NULL);
	SSL_CTX *cctx = test_client_ctx(false);
	SSL *srv = SSL_new(sctx), *cli = SSL_new(cctx);

	/* A service that explicitly allows TLS 1.0 really serves it. */
	SSL_set_security_level(cli, 0);
	SSL_set_min_proto_version(cli, TLS1_VERSION);
	SSL_set_max_proto_version(cli, TLS1_VERSION);
	assert_int_equal(test_handshake(srv, cli), 0);
	assert_string_equal(tls_ssl_version(srv), "TLSv1");
	assert_true(strncmp(tls_ssl_cipher(srv), "ECDHE-RSA-AES", 13) == 0);
	SSL_free(srv);
	SSL_free(cli);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static void test_server_alpn(void **state)
{
	SSL_CTX *sctx = test_server_ok("ssl1", TEST_TLS_HTTP, NULL, NULL);
	SSL_CTX *cctx = test_client_ctx(false);
	SSL *srv = SSL_new(sctx), *cli = SSL_new(cctx);
	const unsigned char *alpn = NULL;
	unsigned int alpnlen = 0;

	assert_int_equal(
		SSL_set_alpn_protos(
			cli, (const unsigned char *)"\x02h2\x08http/1.1", 12),
		0);
	assert_int_equal(test_handshake(srv, cli), 0);
	SSL_get0_alpn_selected(cli, &alpn, &alpnlen);
	assert_int_equal(alpnlen, 8);
	assert_memory_equal(alpn, "http/1.1", 8);
	SSL_free(srv);
	SSL_free(cli);

	/* A client that asks for ALPN but not http/1.1 (only h2) is refused
	 * with no_application_protocol, over TLS 1.3 and 1.2, rather than
	 * served a protocol it did not ask for. */
	for (int v = 0; v < 2; v++) {
		srv = SSL_new(sctx);
		cli = SSL_new(cctx);
		SSL_set_max_proto_version(cli, v == 0 ? TLS1_3_VERSION
						      : TLS1_2_VERSION);
		assert_int_equal(
			SSL_set_alpn_protos(cli,
					    (const unsigned char *)"\x02h2", 3),
			0);
		assert_int_equal(test_handshake_alert(srv, cli),
				 SSL_AD_NO_APPLICATION_PROTOCOL);
		SSL_free(srv);
		SSL_free(cli);
	}

	/* A client without ALPN (old clients) is served, with no ALPN. */
	srv = SSL_new(sctx);
	cli = SSL_new(cctx);
	assert_int_equal(test_handshake(srv, cli), 0);
	SSL_get0_alpn_selected(cli, &alpn, &alpnlen);
	assert_int_equal(alpnlen, 0);
	SSL_free(srv);
	SSL_free(cli);
	SSL_CTX_free(sctx);

	/* Without an http block ALPN is not looked at: h2 alone is fine. */
	sctx = test_server_ok("ssl1", "", NULL, NULL);
	srv = SSL_new(sctx);
	cli = SSL_new(cctx);
	assert_int_equal(
		SSL_set_alpn_protos(cli, (const unsigned char *)"\x02h2", 3),
		0);
	assert_int_equal(test_handshake(srv, cli), 0);
	SSL_get0_alpn_selected(cli, &alpn, &alpnlen);
	assert_int_equal(alpnlen, 0);
	SSL_free(srv);
	SSL_free(cli);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

/* One handshake against SCTX with a client restricted to SIGALGS; returns
 * the peer's key type and the length of the chain it sent. */
static int test_twin_handshake(SSL_CTX *sctx, SSL_CTX *cctx,
			       const char *sigalgs, int *chainlen)
{
	SSL *srv = SSL_new(sctx), *cli = SSL_new(cctx);
	int type;

	assert_int_equal(SSL_set1_sigalgs_list(cli, sigalgs), 1);
	assert_int_equal(SSL_set_tlsext_host_name(cli, "www.example.com"), 1);
	assert_int_equal(test_handshake(srv, cli), 0);
	type = test_peer_key_type(cli);
	*chainlen = sk_X509_num(SSL_get_peer_cert_chain(cli));
	test_peer_cn(cli, "www.example.com");
	SSL_free(srv);
	SSL_free(cli);
	return type;
}

static void test_server_rsa_ecdsa_twins(void **state)
{
	static const char *const extra[] = {"ecdsa", NULL};
	SSL_CTX *sctx = test_server_ok("web", "", extra, NULL);
	SSL_CTX *cctx = test_client_ctx(false);
	int chainlen = 0;

	for (int v = 0; v < 2; v++) {
		SSL_CTX_set_max_proto_version(cctx, v == 0 ? TLS1_3_VERSION
							   : TLS1_2_VERSION);
		/* Each leaf keeps its own chain: web has the intermediate,
		 * ecdsa was loaded without one. */
		assert_int_equal(test_twin_handshake(sctx, cctx, "ECDSA+SHA256",
						     &chainlen),
				 EVP_PKEY_EC);
		assert_int_equal(chainlen, 1);
		assert_int_equal(
			test_twin_handshake(sctx, cctx,
					    "rsa_pss_rsae_sha256:RSA+SHA256",
					    &chainlen),
			EVP_PKEY_RSA);
		assert_int_equal(chainlen, 2);
	}
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

/* Two RSA certificates on one listener: the second is chosen by SNI, the
 * first stays the default (no SNI, or a name only it covers). */
static void test_server_sni_selects(void **state)
{
	static const char *const extra[] = {"ssl2", NULL};
	static const struct {
		const char *sni; /* NULL: no SNI */
		const char *cn;
	} cases[] = {
		{"webconf.example.com", "webconf.example.com"},
		{"av.example.com", "webconf.example.com"},
		{"sip.example.com", "sip.example.com"},
		{"cwa.example.com", "sip.example.com"},
		{"unknown.example.net", "sip.example.com"},
		{NULL, "sip.example.com"},
	};
	SSL_CTX *sctx = test_server_ok("ssl1", "", extra, NULL);
	SSL_CTX *cctx = test_client_ctx(false);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		SSL *srv = SSL_new(sctx), *cli = SSL_new(cctx);
		if (cases[i].sni)
			assert_int_equal(
				SSL_set_tlsext_host_name(cli, cases[i].sni), 1);
		assert_int_equal(test_handshake(srv, cli), 0);
		test_peer_cn(cli, cases[i].cn);
		SSL_free(srv);
		SSL_free(cli);
	}
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

/* One handshake against SCTX with SNI (NULL: none): the CN served, or the
 * alert the client received ("alert N"). */
static const char *test_strict_try(SSL_CTX *sctx, SSL_CTX *cctx,
				   const char *sni, char *buf, size_t len)
{
	SSL *srv = SSL_new(sctx), *cli = SSL_new(cctx);
	int desc;

	assert_non_null(srv);
	assert_non_null(cli);
	if (sni)
		assert_int_equal(SSL_set_tlsext_host_name(cli, sni), 1);
	desc = test_handshake_alert(srv, cli);
	if (desc >= 0) {
		snprintf(buf, len, "alert %d", desc);
	} else {
		X509 *peer = SSL_get0_peer_certificate(cli);

		buf[0] = '\0';
		if (peer)
			X509_NAME_get_text_by_NID(X509_get_subject_name(peer),
						  NID_commonName, buf,
						  (int)len);
	}
	SSL_free(srv);
	SSL_free(cli);
	return buf;
}

/* sni_strict on a terminating service: the FQDN and every name its
 * certificate(s) cover pass; another name, or none, gets unrecognized_name
 * before any certificate is sent. */
static void test_server_sni_strict(void **state)
{
	static const char *const twin[] = {"ssl2", NULL};
	static const struct {
		const char *cert;
		const char *const *extra;
		const char *sni;  /* NULL: no SNI */
		const char *want; /* the CN served, or "alert 112":
				   * unrecognized_name */
	} cases[] = {
		/* service fqdn sip.example.com, ssl1 (five SANs) */
		{"ssl1", NULL, "sip.example.com", "sip.example.com"},
		{"ssl1", NULL, "SIP.Example.COM", "sip.example.com"},
		{"ssl1", NULL, "cwa.example.com", "sip.example.com"},
		{"ssl1", NULL, "sip.example.org", "sip.example.com"},
		{"ssl1", NULL, "webconf.example.com", "alert 112"},
		{"ssl1", NULL, "example.com", "alert 112"},
		{"ssl1", NULL, "x.sip.example.com", "alert 112"},
		{"ssl1", NULL, NULL, "alert 112"},
		/* web: *.example.com covers one whole label, the FQDN too */
		{"web", NULL, "sip.example.com", "www.example.com"},
		{"web", NULL, "foo.example.com", "www.example.com"},
		{"web", NULL, "a.b.example.com", "alert 112"},
		{"web", NULL, "example.com", "alert 112"},
		/* a second RSA certificate chosen by SNI counts as well */
		{"ssl1", twin, "av.example.com", "webconf.example.com"},
		{"ssl1", twin, "sip.example.com", "sip.example.com"},
		{"ssl1", twin, "unknown.example.net", "alert 112"},
		{"ssl1", twin, NULL, "alert 112"},
	};
	SSL_CTX *cctx = test_client_ctx(false);
	char buf[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		SSL_CTX *sctx =
			test_server_ok(cases[i].cert, "  sni_strict = true\n",
				       cases[i].extra, NULL);
		const char *got = test_strict_try(sctx, cctx, cases[i].sni, buf,
						  sizeof(buf));

		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu (%s, SNI %s): got \"%s\", want "
				 "\"%s\"",
				 i, cases[i].cert,
				 cases[i].sni ? cases[i].sni : "none", got,
				 cases[i].want);
		SSL_CTX_free(sctx);
	}
	/* Not strict: every name, and none, is served the default. */
	{
		SSL_CTX *sctx = test_server_ok("ssl1", "", NULL, NULL);

		assert_string_equal(test_strict_try(sctx, cctx,
						    "webconf.example.com", buf,
						    sizeof(buf)),
				    "sip.example.com");
		assert_string_equal(
			test_strict_try(sctx, cctx, NULL, buf, sizeof(buf)),
			"sip.example.com");
		SSL_CTX_free(sctx);
	}
	SSL_CTX_free(cctx);
	assert_int_equal(ERR_peek_error(), 0);
}

static void test_server_expired_refused(void **state)
{
	char err[1024] = "";

	assert_null(
		test_server_ctx("expired", "", NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, pki("expired.crt")));
	assert_non_null(strstr(err, "expired on 2021-01-01"));
	assert_non_null(strstr(err, "certificate \"expired\""));
	assert_int_equal(ERR_peek_error(), 0);

	/* Also as an extra certificate next to a good one. */
	{
		static const char *const extra[] = {"expired", NULL};

		err[0] = '\0';
		assert_null(test_server_ctx("ecdsa", "", extra, NULL, err,
					    sizeof(err)));
		assert_non_null(strstr(err, "expired.crt"));
	}
}

static void test_server_key_mismatch_refused(void **state)
{
	char err[1024] = "";

	assert_null(
		test_server_ctx("mismatch", "", NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, pki("mismatch.key")));
	assert_non_null(strstr(err, "does not belong"));
	assert_int_equal(ERR_peek_error(), 0);
}

static void test_server_bad_files_refused(void **state)
{
	char err[1024] = "";

	assert_null(
		test_server_ctx("missing", "", NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "no-such-file.crt"));

	err[0] = '\0';
	assert_null(test_server_ctx("nokey", "", NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "no key file"));
	assert_int_equal(ERR_peek_error(), 0);
}

/* ---- client contexts --------------------------------------------------- */

/* Handshake from backend BE's client context to a server on cwa-backend.crt.
 * Returns the handshake result; *verify gets the client's verify result. */
static int test_backend_handshake(const char *be_name, long *verify,
				  const char **sni)
{
	struct config *cfg = test_cfg("cwabe", "");
	const struct config_backend *be = config_find_backend(cfg, be_name);
	char err[1024] = "";
	SSL_CTX *sctx, *cctx;
	SSL *srv, *cli;
	int rc;

	assert_non_null(be);
	sctx = test_ctx_from(cfg, &cfg->services[0],
			     config_find_cert(cfg, "cwabe"), NULL, 0, NULL, err,
			     sizeof(err));
	if (sctx == NULL)
		fail_msg("%s", err);
	/* The store the validation would load (none for verify = false). */
	X509_STORE *trust = be->trust_file ? cert_trust_load(be->trust_file,
							     err, sizeof(err))
					   : NULL;
	if (be->trust_file && trust == NULL)
		fail_msg("%s", err);
	cctx = tls_client_ctx_new(cfg, be, trust, err, sizeof(err));
	X509_STORE_free(trust); /* the context holds its own reference */
	if (cctx == NULL)
		fail_msg("%s", err);
	srv = SSL_new(sctx);
	cli = tls_client_ssl_new(cctx, be);
	assert_non_null(cli);
	rc = test_handshake(srv, cli);
	*verify = SSL_get_verify_result(cli);
	*sni = tls_ssl_sni(srv) != NULL ? strdup(tls_ssl_sni(srv)) : NULL;
	if (rc == 0)
		test_peer_cn(cli, "cwa01.corp.example");
	SSL_free(srv);
	SSL_free(cli);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	config_free(cfg);
	return rc;
}

static void test_client_verify(void **state)
{
	long verify = -1;
	const char *sni = NULL;

	assert_int_equal(test_backend_handshake("cwa", &verify, &sni), 0);
	assert_int_equal(verify, X509_V_OK);
	assert_non_null(sni);
	assert_string_equal(sni, "cwa01.corp.example");
	free((char *)sni);

	/* The wrong name: a connection error, never a silent downgrade. */
	assert_int_equal(test_backend_handshake("wrongname", &verify, &sni),
			 -1);
	assert_int_equal(verify, X509_V_ERR_HOSTNAME_MISMATCH);
	free((char *)sni);

	/* The wrong CA. */
	assert_int_equal(test_backend_handshake("publictrust", &verify, &sni),
			 -1);
	assert_int_not_equal(verify, X509_V_OK);
	free((char *)sni);

	/* verify = false: anything goes (the config says so explicitly). */
	assert_int_equal(test_backend_handshake("noverify", &verify, &sni), 0);
	free((char *)sni);
}

static void test_client_trust_file_errors(void **state)
{
	struct config *cfg = test_cfg("ssl1", "");
	char err[1024] = "";

	assert_null(tls_client_ctx_new(cfg, config_find_backend(cfg, "notrust"),
				       NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "trust_file"));

	/* A trust file that cannot be loaded: the validation says so (a
	 * file-unreadable finding of check), and a context without the store
	 * it would have loaded is refused, without reading the file. */
	err[0] = '\0';
	assert_null(cert_trust_load(
		config_find_backend(cfg, "missingtrust")->trust_file, err,
		sizeof(err)));
	assert_non_null(strstr(err, "no-such-ca.crt"));
	err[0] = '\0';
	assert_null(tls_client_ctx_new(cfg,
				       config_find_backend(cfg, "missingtrust"),
				       NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "no-such-ca.crt"));
	assert_int_equal(ERR_peek_error(), 0);
	config_free(cfg);
}

/* ---- session resumption ------------------------------------------------ */

/* A full handshake against SCTX; returns the client's resumable session. */
static SSL_SESSION *test_first_session(SSL_CTX *sctx, SSL_CTX *cctx)
{
	SSL *srv = SSL_new(sctx), *cli = SSL_new(cctx);
	SSL_SESSION *sess;

	assert_int_equal(test_handshake(srv, cli), 0);
	assert_int_equal(SSL_session_reused(cli), 0);
	if (SSL_version(cli) == TLS1_3_VERSION)
		test_client_drain(cli);
	sess = SSL_get1_session(cli);
	assert_non_null(sess);
	assert_int_equal(SSL_SESSION_is_resumable(sess), 1);
	/* Without a clean shutdown OpenSSL marks the session not resumable
	 * when the SSL is freed. */
	SSL_shutdown(cli);
	SSL_shutdown(srv);
	SSL_free(srv);
	SSL_free(cli);
	return sess;
}

/* A second handshake against SCTX offering SESS; true when resumed. */
static bool test_resumed(SSL_CTX *sctx, SSL_CTX *cctx, SSL_SESSION *sess)
{
	SSL *srv = SSL_new(sctx), *cli = SSL_new(cctx);
	bool reused;

	assert_int_equal(SSL_set_session(cli, sess), 1);
	assert_int_equal(test_handshake(srv, cli), 0);
	reused = SSL_session_reused(cli) == 1;
	SSL_shutdown(cli); /* keep SESS resumable for the next test */
	SSL_shutdown(srv);
	SSL_free(srv);
	SSL_free(cli);
	return reused;
}

static void test_resume_ticket(void **state)
{
	char err[256] = "";
	struct tls_tickets *t = tls_tickets_new(NULL, err, sizeof(err));
	struct tls_tickets *other = tls_tickets_new(NULL, err, sizeof(err));
	SSL_CTX *sctx, *sctx_other, *cctx = test_client_ctx(false);
	SSL_SESSION *sess;

	assert_non_null(t);
	assert_non_null(other);
	sctx = test_server_ok("ssl1", "", NULL, t);
	sctx_other = test_server_ok("ssl1", "", NULL, other);
	/* The contexts hold their own references. */
	tls_tickets_free(t);
	tls_tickets_free(other);

	for (int v = 0; v < 2; v++) {
		SSL_CTX_set_max_proto_version(cctx, v == 0 ? TLS1_3_VERSION
							   : TLS1_2_VERSION);
		sess = test_first_session(sctx, cctx);
		assert_int_equal(SSL_SESSION_has_ticket(sess), 1);
		tls_tickets_rotate(t); /* not due yet: no-op */
		assert_true(test_resumed(sctx, cctx, sess));
		/* Another process's keys cannot open the ticket. */
		assert_false(test_resumed(sctx_other, cctx, sess));
		SSL_SESSION_free(sess);
	}
	SSL_CTX_free(sctx);
	SSL_CTX_free(sctx_other);
	SSL_CTX_free(cctx);
}

/* ---- session tickets across processes (worker_mode = processes) -------- */

/* One session over a pipe: its length, then its DER (0: no more). */
static void test_send_session(int fd, SSL_SESSION *sess)
{
	unsigned char buf[16384], *p = buf;
	int n = sess ? i2d_SSL_SESSION(sess, NULL) : 0;

	assert_true(n >= 0 && (size_t)n <= sizeof(buf));
	if (sess)
		i2d_SSL_SESSION(sess, &p);
	assert_int_equal(write(fd, &n, sizeof(n)), sizeof(n));
	if (n)
		assert_int_equal(write(fd, buf, (size_t)n), n);
}

/* The next session from the pipe, or NULL (end, or an error). */
static SSL_SESSION *test_recv_session(int fd)
{
	unsigned char buf[16384];
	const unsigned char *p = buf;
	int n = 0;
	size_t got = 0;

	if (read(fd, &n, sizeof(n)) != sizeof(n) || n <= 0 ||
	    (size_t)n > sizeof(buf))
		return NULL;
	while (got < (size_t)n) {
		ssize_t r = read(fd, buf + got, (size_t)n - got);
		if (r <= 0)
			return NULL;
		got += (size_t)r;
	}
	return d2i_SSL_SESSION(NULL, &p, n);
}

/* A forked child of the test: it first sends a session of its own (made
 * with SCTX, as inherited), then answers every session it is sent with
 * one byte, 1 when SCTX resumed it.  Bounded by the parent's sessions. */
static void test_ticket_child(SSL_CTX *sctx, SSL_CTX *cctx, int in, int out)
{
	SSL_SESSION *sess = test_first_session(sctx, cctx);

	test_send_session(out, sess);
	SSL_SESSION_free(sess);
	for (int i = 0; i < 64 && (sess = test_recv_session(in)); i++) {
		unsigned char r = test_resumed(sctx, cctx, sess) ? 1 : 0;
		SSL_SESSION_free(sess);
		if (write(out, &r, 1) != 1)
			break;
	}
	_exit(0);
}

/* Does the child resume SESS? */
static bool test_child_resumes(int to, int from, SSL_SESSION *sess)
{
	unsigned char r = 2;

	test_send_session(to, sess);
	assert_int_equal(read(from, &r, 1), 1);
	return r == 1;
}

/* Keys of tls_tickets_new_shared: what the parent rotates or replaces
 * after the fork is what the child uses (and the other way round, a
 * ticket the child issued resumes in the parent).  Private keys
 * (tls_tickets_new) show the difference: a rotation in the parent is not
 * seen by the child. */
static void test_tickets_shared_fork(void **state)
{
	char err[256] = "";
	unsigned char raw[3 * 80];
	struct ticket_key file[3];

	(void)state;
	assert_int_equal(RAND_bytes(raw, sizeof(raw)), 1);
	memcpy(file, raw, sizeof(file));
	for (int shared = 1; shared >= 0; shared--) {
		struct tls_tickets *t =
			shared ? tls_tickets_new_shared(NULL, 0, err,
							sizeof(err))
			       : tls_tickets_new(NULL, err, sizeof(err));
		SSL_CTX *sctx, *cctx = test_client_ctx(false);
		SSL_SESSION *mine, *s1, *s2, *s3;
		int to[2], from[2], status = -1;
		pid_t pid;

		assert_non_null(t);
		sctx = test_server_ok("ssl1", "", NULL, t);
		assert_int_equal(pipe(to), 0);
		assert_int_equal(pipe(from), 0);
		s1 = test_first_session(sctx, cctx); /* before the fork */
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(to[1]);
			close(from[0]);
			test_ticket_child(sctx, cctx, to[0], from[1]);
		}
		close(to[0]);
		close(from[1]);
		mine = test_recv_session(from[0]);
		assert_non_null(mine);
		/* The child's ticket resumes here, and the parent's there. */
		assert_true(test_resumed(sctx, cctx, mine));
		assert_true(test_child_resumes(to[1], from[0], s1));
		/* Rotated in the parent after the fork: the new key encrypts
		 * s2, which the child opens only with shared keys. */
		tls_tickets_rotate_now(t);
		s2 = test_first_session(sctx, cctx);
		assert_int_equal(test_child_resumes(to[1], from[0], s2),
				 shared);
		assert_true(test_child_resumes(to[1], from[0], s1));
		if (shared) {
			/* Replaced in place (a reload of ticket_key_file):
			 * the child uses the file's keys, and the random
			 * ones are gone there too. */
			assert_int_equal(tls_tickets_set_keys(t, file, 3, err,
							      sizeof(err)),
					 0);
			assert_true(tls_tickets_from_file(t));
			s3 = test_first_session(sctx, cctx);
			assert_true(test_child_resumes(to[1], from[0], s3));
			assert_false(test_child_resumes(to[1], from[0], s1));
			SSL_SESSION_free(s3);
		}
		test_send_session(to[1], NULL);
		close(to[1]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		close(from[0]);
		SSL_SESSION_free(mine);
		SSL_SESSION_free(s1);
		SSL_SESSION_free(s2);
		tls_tickets_free(t);
		SSL_CTX_free(sctx);
		SSL_CTX_free(cctx);
	}
}

static void test_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	chmod(path, 0600);
}

/* Write KEYS (N keys of 80 bytes) to PATH, base64 one per line. */
static void test_write_b64_keys(const char *path, const unsigned char *keys,
				size_t n)
{
	char text[1024];
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		len += (size_t)EVP_EncodeBlock((unsigned char *)text + len,
					       keys + 80 * i, 80);
		text[len++] = '\n';
	}
	test_write_file(path, text, len);
}

static void test_ticket_key_file(void **state)
{
	unsigned char keys[160]; /* key A (older: encrypts), key B (newest) */
	char err[512] = "";
	struct tls_tickets *ta, *tb, *traw, *told;
	SSL_CTX *sa, *sb, *sraw, *sold, *cctx = test_client_ctx(false);
	SSL_SESSION *sess;
	const unsigned char *tick = NULL;
	size_t ticklen = 0;

	assert_int_equal(RAND_bytes(keys, sizeof(keys)), 1);
	test_write_b64_keys(tmp("tickets.b64"), keys, 2);
	test_write_file(tmp("tickets.raw"), keys, sizeof(keys));
	test_write_b64_keys(tmp("old.b64"), keys + 80, 1);

	/* Two "machines" loading the same file. */
	ta = tls_tickets_new(tmp("tickets.b64"), err, sizeof(err));
	if (ta == NULL)
		fail_msg("%s", err);
	tb = tls_tickets_new(tmp("tickets.b64"), err, sizeof(err));
	traw = tls_tickets_new(tmp("tickets.raw"), err, sizeof(err));
	told = tls_tickets_new(tmp("old.b64"), err, sizeof(err));
	assert_non_null(tb);
	assert_non_null(traw);
	assert_non_null(told);
	sa = test_server_ok("ssl1", "", NULL, ta);
	sb = test_server_ok("ssl1", "", NULL, tb);
	sraw = test_server_ok("ssl1", "", NULL, traw);
	sold = test_server_ok("ssl1", "", NULL, told);

	sess = test_first_session(sa, cctx);
	SSL_SESSION_get0_ticket(sess, &tick, &ticklen);
	assert_true(ticklen > 16);
	/* Named by the second newest key, A: the newest only decrypts. */
	assert_memory_equal(tick, keys, 16);
	assert_true(test_resumed(sb, cctx, sess));
	assert_true(test_resumed(sraw, cctx, sess));
	SSL_SESSION_free(sess);

	/* A ticket made with the newest key (by a node whose file holds B
	 * alone) opens too, and is renewed. */
	sess = test_first_session(sold, cctx);
	SSL_SESSION_get0_ticket(sess, &tick, &ticklen);
	assert_memory_equal(tick, keys + 80, 16);
	assert_true(test_resumed(sa, cctx, sess));
	SSL_SESSION_free(sess);

	/* The reverse: a node that holds only B cannot open A's. */
	sess = test_first_session(sa, cctx);
	assert_false(test_resumed(sold, cctx, sess));
	SSL_SESSION_free(sess);

	tls_tickets_rotate(ta); /* file keys never rotate */
	tls_tickets_free(ta);
	tls_tickets_free(tb);
	tls_tickets_free(traw);
	tls_tickets_free(told);
	SSL_CTX_free(sa);
	SSL_CTX_free(sb);
	SSL_CTX_free(sraw);
	SSL_CTX_free(sold);
	SSL_CTX_free(cctx);
}

/* Two nodes share a ticket key file; one has the rotated file (edge443
 * tickets rotate) and has reloaded, the other not yet.  Every ticket either
 * issues opens on both, and tickets issued before the rotation open after
 * it: no full handshake is caused by the rotation. */
static void test_ticket_rotation_pool(void **state)
{
	char err[512] = "";
	const char *path = tmp("pool.keys");
	struct tls_tickets *before, *after;
	SSL_CTX *sb, *sa, *cctx = test_client_ctx(false);
	SSL_SESSION *old_ticket, *s1, *s2;
	size_t n0 = 0, n1 = 0;

	unlink(path);
	assert_int_equal(
		ticket_file_rotate(path, 3, &n0, &n1, err, sizeof(err)), 0);
	assert_int_equal(n0, 0);
	assert_int_equal(n1, 3);
	before = tls_tickets_new(path, err, sizeof(err));
	assert_non_null(before);
	sb = test_server_ok("ssl1", "", NULL, before);
	old_ticket = test_first_session(sb, cctx);

	assert_int_equal(
		ticket_file_rotate(path, 3, &n0, &n1, err, sizeof(err)), 0);
	assert_int_equal(n0, 3);
	assert_int_equal(n1, 3);
	after = tls_tickets_new(path, err, sizeof(err));
	assert_non_null(after);
	sa = test_server_ok("ssl1", "", NULL, after);

	/* Issued before the rotation: opens on the rotated node. */
	assert_true(test_resumed(sa, cctx, old_ticket));
	/* During the roll-out, each node opens the other's tickets. */
	s1 = test_first_session(sa, cctx);
	assert_true(test_resumed(sb, cctx, s1));
	s2 = test_first_session(sb, cctx);
	assert_true(test_resumed(sa, cctx, s2));

	SSL_SESSION_free(old_ticket);
	SSL_SESSION_free(s1);
	SSL_SESSION_free(s2);
	tls_tickets_free(before);
	tls_tickets_free(after);
	SSL_CTX_free(sb);
	SSL_CTX_free(sa);
	SSL_CTX_free(cctx);
}

static void test_ticket_key_file_bad(void **state)
{
	unsigned char junk[100];
	char err[512] = "";

	memset(junk, 0x80, sizeof(junk));
	test_write_file(tmp("bad.raw"), junk, sizeof(junk));
	assert_null(tls_tickets_new(tmp("bad.raw"), err, sizeof(err)));
	assert_non_null(strstr(err, "bad.raw"));
	assert_non_null(strstr(err, "80-byte"));

	test_write_file(tmp("bad.b64"), "aGVsbG8=\n", 9);
	assert_null(tls_tickets_new(tmp("bad.b64"), err, sizeof(err)));
	assert_non_null(strstr(err, "bad.b64:1"));

	test_write_file(tmp("empty"), "", 0);
	assert_null(tls_tickets_new(tmp("empty"), err, sizeof(err)));
	assert_non_null(strstr(err, "empty"));

	assert_null(tls_tickets_new(tmp("no-such-file"), err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));

	assert_null(tls_tickets_new(test_tls_tmp, err, sizeof(err)));
	assert_non_null(strstr(err, "not a regular file"));

	tls_tickets_free(NULL);
}

/* ---- tls_peek_sni ------------------------------------------------------ */

/* The first flight of a real OpenSSL client: SNI (may be NULL), versions,
 * and optionally an ALPN list of ALPN_LEN bytes and a small record size to
 * make a large multi-record ClientHello.  Returns a malloc'd copy. */
static unsigned char *test_client_hello(const char *sni, int maxver,
					size_t alpn_len, unsigned frag,
					size_t *len)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;
	BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
	unsigned char *out;
	char *data;
	long n;

	assert_non_null(ctx);
	assert_non_null(rbio);
	assert_non_null(wbio);
	if (maxver != 0) {
		SSL_CTX_set_security_level(ctx, 0);
		SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
		SSL_CTX_set_max_proto_version(ctx, maxver);
	}
	ssl = SSL_new(ctx);
	assert_non_null(ssl);
	if (sni != NULL)
		assert_int_equal(SSL_set_tlsext_host_name(ssl, sni), 1);
	if (alpn_len > 0) {
		unsigned char *alpn = malloc(alpn_len);
		size_t i = 0;

		assert_non_null(alpn);
		while (i < alpn_len) {
			size_t n1 =
				alpn_len - i - 1 > 200 ? 200 : alpn_len - i - 1;

			alpn[i] = (unsigned char)n1;
			memset(alpn + i + 1, 'a' + (int)(i % 26), n1);
			i += 1 + n1;
		}
		assert_int_equal(
			SSL_set_alpn_protos(ssl, alpn, (unsigned)alpn_len), 0);
		free(alpn);
	}
	if (frag != 0)
		assert_int_equal(SSL_set_max_send_fragment(ssl, frag), 1);
	SSL_set_bio(ssl, rbio, wbio);
	SSL_set_connect_state(ssl);
	assert_true(SSL_do_handshake(ssl) <= 0);
	n = BIO_get_mem_data(wbio, &data);
	assert_true(n > 0);
	out = malloc((size_t)n);
	assert_non_null(out);
	memcpy(out, data, (size_t)n);
	*len = (size_t)n;
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return out;
}

static void test_peek_hello(void **state)
{
	size_t len;
	unsigned char *hello =
		test_client_hello("sip.example.com", 0, 0, 0, &len);
	char *sni = NULL;

	assert_int_equal(tls_peek_sni(hello, len, &sni), TLS_PEEK_HELLO);
	assert_non_null(sni);
	assert_string_equal(sni, "sip.example.com");
	free(sni);
	/* sni may be NULL when the caller only wants the verdict. */
	assert_int_equal(tls_peek_sni(hello, len, NULL), TLS_PEEK_HELLO);
	free(hello);

	hello = test_client_hello(NULL, 0, 0, 0, &len);
	sni = (char *)"x";
	assert_int_equal(tls_peek_sni(hello, len, &sni), TLS_PEEK_HELLO);
	assert_null(sni);
	free(hello);

	/* A TLS 1.0-only client is read as well. */
	hello = test_client_hello("av.example.com", TLS1_VERSION, 0, 0, &len);
	assert_int_equal(tls_peek_sni(hello, len, &sni), TLS_PEEK_HELLO);
	assert_non_null(sni);
	assert_string_equal(sni, "av.example.com");
	free(sni);
	free(hello);
}

static void test_peek_byte_by_byte(void **state)
{
	size_t len;
	unsigned char *hello =
		test_client_hello("webconf.example.com", 0, 0, 0, &len);
	char *sni = NULL;

	for (size_t i = 0; i < len; i++) {
		enum tls_peek_result r = tls_peek_sni(hello, i, &sni);

		if (r != TLS_PEEK_NEED_MORE)
			fail_msg("prefix of %zu/%zu bytes gave %d", i, len, r);
		assert_null(sni);
	}
	assert_int_equal(tls_peek_sni(hello, len, &sni), TLS_PEEK_HELLO);
	assert_string_equal(sni, "webconf.example.com");
	free(sni);
	free(hello);
}

static void test_peek_not_tls(void **state)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	/* A handshake record holding a ServerHello, not a ClientHello. */
	static const unsigned char server_hello[] = {
		0x16, 0x03, 0x03, 0x00, 0x06, 0x02,
		0x00, 0x00, 0x02, 0x03, 0x03,
	};
	/* A handshake record header whose version is not 3.x. */
	static const unsigned char bad_version[] = {0x16, 0x02, 0x00, 0x00,
						    0x10};
	unsigned char garbage[512];
	char *sni = NULL;

	assert_int_equal(RAND_bytes(garbage, sizeof(garbage)), 1);
	garbage[0] = 0x42;
	assert_int_equal(tls_peek_sni(garbage, sizeof(garbage), &sni),
			 TLS_PEEK_NOT_TLS);
	assert_int_equal(
		tls_peek_sni((const unsigned char *)http, strlen(http), &sni),
		TLS_PEEK_NOT_TLS);
	assert_int_equal(tls_peek_sni((const unsigned char *)"G", 1, &sni),
			 TLS_PEEK_NOT_TLS);
	assert_int_equal(tls_peek_sni(server_hello, sizeof(server_hello), &sni),
			 TLS_PEEK_NOT_TLS);
	assert_int_equal(tls_peek_sni(bad_version, sizeof(bad_version), &sni),
			 TLS_PEEK_NOT_TLS);
	/* Random bytes after a plausible record header. */
	garbage[0] = 0x16;
	garbage[1] = 0x03;
	garbage[2] = 0x01;
	garbage[3] = 0x01;
	garbage[4] = 0x00;
	garbage[5] = 0x01;
	garbage[6] = 0x00;
	garbage[7] = 0x00;
	garbage[8] = 0xfc;
	assert_int_equal(tls_peek_sni(garbage, 5 + 256, &sni),
			 TLS_PEEK_NOT_TLS);
	assert_null(sni);
	/* Nothing yet, and just the first byte. */
	assert_int_equal(tls_peek_sni(garbage, 0, &sni), TLS_PEEK_NEED_MORE);
	assert_int_equal(tls_peek_sni(garbage, 1, &sni), TLS_PEEK_NEED_MORE);
	/* The caller's error queue is untouched. */
	assert_int_equal(ERR_peek_error(), 0);
}

static void test_peek_too_big(void **state)
{
	size_t len = TLS_PEEK_MAX + 100;
	unsigned char *buf = calloc(1, len);
	char *sni = NULL;

	assert_non_null(buf);
	/* A full-size handshake record starting a 64 KiB ClientHello. */
	buf[0] = 0x16;
	buf[1] = 0x03;
	buf[2] = 0x01;
	buf[3] = 0x40;
	buf[4] = 0x00;
	buf[5] = 0x01;
	buf[6] = 0x01;
	buf[7] = 0x00;
	buf[8] = 0x00;
	buf[9] = 0x03;
	buf[10] = 0x03;
	assert_int_equal(tls_peek_sni(buf, 4096, &sni), TLS_PEEK_NEED_MORE);
	assert_int_equal(tls_peek_sni(buf, TLS_PEEK_MAX - 1, &sni),
			 TLS_PEEK_NEED_MORE);
	assert_int_equal(tls_peek_sni(buf, TLS_PEEK_MAX, &sni),
			 TLS_PEEK_TOO_BIG);
	assert_int_equal(tls_peek_sni(buf, len, &sni), TLS_PEEK_TOO_BIG);
	assert_null(sni);
	free(buf);
}

static void test_peek_large_multi_record(void **state)
{
	size_t len;
	/* ~6 KiB of ALPN, sent in records of 512 bytes. */
	unsigned char *hello = test_client_hello("download.cwa.example.com", 0,
						 6000, 512, &len);
	size_t records = 0, pos = 0;
	char *sni = NULL;

	assert_true(len > 4096);
	while (pos + 5 <= len) {
		assert_int_equal(hello[pos], 0x16);
		records++;
		pos += 5 + ((size_t)hello[pos + 3] << 8 | hello[pos + 4]);
	}
	assert_int_equal(pos, len);
	assert_true(records > 8);
	assert_int_equal(tls_peek_sni(hello, len, &sni), TLS_PEEK_HELLO);
	assert_non_null(sni);
	assert_string_equal(sni, "download.cwa.example.com");
	free(sni);
	/* Cut inside the last record: more needed. */
	assert_int_equal(tls_peek_sni(hello, len - 1, &sni),
			 TLS_PEEK_NEED_MORE);
	/* Followed by more bytes (early data, say): still a hello. */
	{
		unsigned char *more = malloc(len + 300);

		assert_non_null(more);
		memcpy(more, hello, len);
		memset(more + len, 0x17, 300);
		assert_int_equal(tls_peek_sni(more, len + 300, &sni),
				 TLS_PEEK_HELLO);
		free(sni);
		free(more);
	}
	free(hello);
}

static void test_peek_bad_sni(void **state)
{
	size_t len;
	unsigned char *hello =
		test_client_hello("sip.example.com", 0, 0, 0, &len);
	unsigned char *p = NULL;
	char *sni = NULL;

	for (size_t i = 0; i + 15 <= len; i++) {
		if (memcmp(hello + i, "sip.example.com", 15) == 0) {
			p = hello + i;
			break;
		}
	}
	assert_non_null(p);
	/* A NUL inside the name: a hello without a usable name. */
	p[3] = '\0';
	assert_int_equal(tls_peek_sni(hello, len, &sni), TLS_PEEK_HELLO);
	assert_null(sni);
	/* A control character (would reach the log). */
	p[3] = '\n';
	assert_int_equal(tls_peek_sni(hello, len, &sni), TLS_PEEK_HELLO);
	assert_null(sni);
	/* A name length that overruns the extension. */
	p[3] = '.';
	p[-1] = 0x40;
	assert_int_equal(tls_peek_sni(hello, len, &sni), TLS_PEEK_HELLO);
	assert_null(sni);
	/* A name type other than host_name. */
	p[-1] = 15;
	p[-3] = 1;
	assert_int_equal(tls_peek_sni(hello, len, &sni), TLS_PEEK_HELLO);
	assert_null(sni);
	p[-3] = 0;
	assert_int_equal(tls_peek_sni(hello, len, &sni), TLS_PEEK_HELLO);
	assert_string_equal(sni, "sip.example.com");
	free(sni);
	free(hello);
}

/* A real ClientHello (SNI sip.example.com) of about 16,000 bytes, just below
 * TLS_PEEK_MAX, made large by a long ALPN list; in records of at most FRAG
 * bytes (0: OpenSSL's default, one record). */
static unsigned char *test_big_hello(unsigned frag, size_t *len)
{
	const size_t target = 16000, probe_alpn = 1000;
	unsigned char *hello =
		test_client_hello("sip.example.com", 0, probe_alpn, frag, len);
	size_t overhead = *len - probe_alpn, alpn;

	free(hello);
	/* Record headers grow with the ALPN list when FRAG cuts records. */
	alpn = target - overhead -
	       (frag ? (target / frag + 1) * SSL3_RT_HEADER_LENGTH : 0);
	hello = test_client_hello("sip.example.com", 0, alpn, frag, len);
	assert_true(*len > 15500);
	assert_true(*len < TLS_PEEK_MAX);
	return hello;
}

/* Feed HELLO one byte more at a time, as proxy_preread does when a client
 * trickles it: every prefix needs more, the whole is a hello; returns the
 * CPU seconds all the calls took and sets *parses to how many OpenSSL parses
 * they ran. */
static double test_peek_trickle_one(const unsigned char *hello, size_t len,
				    unsigned long *parses)
{
	unsigned long before = tls_peek_parse_count();
	clock_t t0 = clock();
	char *sni = NULL;

	for (size_t i = 0; i < len; i++) {
		enum tls_peek_result r = tls_peek_sni(hello, i, &sni);

		if (r != TLS_PEEK_NEED_MORE)
			fail_msg("prefix of %zu/%zu bytes gave %d", i, len, r);
	}
	assert_int_equal(tls_peek_sni(hello, len, &sni), TLS_PEEK_HELLO);
	assert_non_null(sni);
	assert_string_equal(sni, "sip.example.com");
	free(sni);
	*parses = tls_peek_parse_count() - before;
	return (double)(clock() - t0) / CLOCKS_PER_SEC;
}

/* CPU bound for ~16,000 calls on a 16 KB hello.  Parsing every prefix with
 * OpenSSL (quadratic) took 0.34 s in a release build and more with the
 * sanitizers; the framing check takes a few milliseconds. */
#define TEST_PEEK_TRICKLE_CPU 0.05

static void test_peek_trickle(void **state)
{
	static const unsigned frags[] = {0, 512};

	for (size_t f = 0; f < sizeof(frags) / sizeof(frags[0]); f++) {
		size_t len;
		unsigned char *hello = test_big_hello(frags[f], &len);
		unsigned long parses = 0;
		double cpu = test_peek_trickle_one(hello, len, &parses);

		if (cpu > TEST_PEEK_TRICKLE_CPU)
			fail_msg("a %zu-byte hello (records of %u) fed byte "
				 "by byte took %.3f s of CPU (bound %.2f s)",
				 len, frags[f], cpu, TEST_PEEK_TRICKLE_CPU);
		assert_int_equal(parses, 1);
		free(hello);
	}
}

/* HELLO, one handshake record, framed again into records whose payloads are
 * SIZES[0..N) bytes, then the rest in one record.  Returns a malloc'd copy. */
static unsigned char *test_reframe(const unsigned char *hello, size_t len,
				   const size_t *sizes, size_t n,
				   size_t *outlen)
{
	const unsigned char *body = hello + SSL3_RT_HEADER_LENGTH;
	size_t blen = len - SSL3_RT_HEADER_LENGTH, at = 0, o = 0;
	unsigned char *out = malloc(len + (n + 1) * SSL3_RT_HEADER_LENGTH);

	assert_non_null(out);
	assert_int_equal((size_t)hello[3] << 8 | hello[4], blen);
	for (size_t k = 0; at < blen; k++) {
		size_t chunk = k < n ? sizes[k] : blen - at;

		assert_true(chunk > 0 && at + chunk <= blen);
		memcpy(out + o, hello, 3); /* type and version */
		out[o + 3] = (unsigned char)(chunk >> 8);
		out[o + 4] = (unsigned char)chunk;
		memcpy(out + o + SSL3_RT_HEADER_LENGTH, body + at, chunk);
		o += SSL3_RT_HEADER_LENGTH + chunk;
		at += chunk;
	}
	*outlen = o;
	return out;
}

/* What the framing alone decides: a handshake header across records, and
 * records that cannot carry a ClientHello, found as soon as they begin. */
static void test_peek_framing(void **state)
{
	static const size_t split[] = {1, 2, 3, 7};
	static const unsigned char alert[] = {0x15, 0x03, 0x03, 0x00,
					      0x02, 0x02, 0x28};
	size_t len, rlen;
	unsigned char *hello =
		test_client_hello("webconf.example.com", 0, 0, 0, &len);
	unsigned char *re = test_reframe(hello, len, split, 4, &rlen);
	unsigned char *buf = malloc(rlen + 64);
	unsigned long before;
	char *sni = NULL;

	assert_non_null(buf);
	/* The 4-byte handshake header spans three records. */
	before = tls_peek_parse_count();
	for (size_t i = 0; i < rlen; i++)
		assert_int_equal(tls_peek_sni(re, i, &sni), TLS_PEEK_NEED_MORE);
	assert_int_equal(tls_peek_sni(re, rlen, &sni), TLS_PEEK_HELLO);
	assert_non_null(sni);
	assert_string_equal(sni, "webconf.example.com");
	free(sni);
	assert_int_equal(tls_peek_parse_count() - before, 1);

	/* An alert record inside the hello: not TLS, from its first byte. */
	memcpy(buf, re, 6 + 7);
	memcpy(buf + 6 + 7, alert, sizeof(alert));
	assert_int_equal(tls_peek_sni(buf, 6 + 7, &sni), TLS_PEEK_NEED_MORE);
	assert_int_equal(tls_peek_sni(buf, 6 + 7 + 1, &sni), TLS_PEEK_NOT_TLS);

	/* A first handshake message that is not a ClientHello, in a record
	 * of one byte: decided without waiting for the rest. */
	memcpy(buf, re, 6);
	buf[5] = SSL3_MT_SERVER_HELLO;
	assert_int_equal(tls_peek_sni(buf, 6, &sni), TLS_PEEK_NOT_TLS);

	/* An empty handshake record (never sent by a TLS client). */
	memcpy(buf, "\x16\x03\x01\x00\x00", 5);
	memcpy(buf + 5, hello, len < 50 ? len : 50);
	assert_int_equal(tls_peek_sni(buf, 5, &sni), TLS_PEEK_NOT_TLS);

	/* A record longer than a plaintext record may be: at its header. */
	memcpy(buf, "\x16\x03\x01\x40\x01\x01", 6);
	assert_int_equal(tls_peek_sni(buf, 5, &sni), TLS_PEEK_NOT_TLS);

	/* A second record of another version family. */
	memcpy(buf, re, 6);
	memcpy(buf + 6, "\x16\x04", 2);
	assert_int_equal(tls_peek_sni(buf, 7, &sni), TLS_PEEK_NEED_MORE);
	assert_int_equal(tls_peek_sni(buf, 8, &sni), TLS_PEEK_NOT_TLS);
	assert_null(sni);
	assert_int_equal(ERR_peek_error(), 0);
	free(buf);
	free(re);
	free(hello);
}

/* ---- alerts and names -------------------------------------------------- */

static void test_alert_record(void **state)
{
	static const unsigned char want[] = {0x15, 0x03, 0x03, 0x00,
					     0x02, 0x02, 112};
	unsigned char buf[16];
	SSL_CTX *cctx = test_client_ctx(false);
	int desc = -1;

	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(
		tls_alert_record(buf, sizeof(buf), SSL_AD_UNRECOGNIZED_NAME),
		TLS_ALERT_RECORD_LEN);
	assert_int_equal(TLS_ALERT_RECORD_LEN, 7);
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(buf[7], 0xaa);
	/* Too small a buffer, or no such description: nothing written. */
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(tls_alert_record(buf, 6, SSL_AD_UNRECOGNIZED_NAME), 0);
	assert_int_equal(tls_alert_record(buf, sizeof(buf), -1), 0);
	assert_int_equal(tls_alert_record(buf, sizeof(buf), 256), 0);
	assert_int_equal(tls_alert_record(NULL, 7, 112), 0);
	assert_int_equal(buf[0], 0xaa);

	/* What a real client makes of it, right after its ClientHello (TLS
	 * 1.3, and a client that stops at 1.2). */
	for (int v = 0; v < 2; v++) {
		SSL *cli = SSL_new(cctx);
		BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());

		assert_non_null(cli);
		assert_non_null(rbio);
		assert_non_null(wbio);
		SSL_set_max_proto_version(cli, v == 0 ? TLS1_3_VERSION
						      : TLS1_2_VERSION);
		SSL_set_bio(cli, rbio, wbio);
		SSL_set_connect_state(cli);
		assert_int_equal(
			SSL_set_tlsext_host_name(cli, "other.example.net"), 1);
		assert_true(SSL_do_handshake(cli) <= 0);
		assert_int_equal(tls_alert_record(buf, sizeof(buf),
						  SSL_AD_UNRECOGNIZED_NAME),
				 TLS_ALERT_RECORD_LEN);
		assert_int_equal(BIO_write(rbio, buf, TLS_ALERT_RECORD_LEN),
				 TLS_ALERT_RECORD_LEN);
		desc = -1;
		SSL_set_app_data(cli, &desc);
		SSL_set_info_callback(cli, test_alert_info_cb);
		assert_true(SSL_do_handshake(cli) <= 0);
		assert_int_equal(SSL_get_error(cli, -1), SSL_ERROR_SSL);
		assert_int_equal(ERR_GET_REASON(ERR_peek_error()),
				 SSL_R_TLSV1_UNRECOGNIZED_NAME);
		ERR_clear_error();
		assert_int_equal(desc, SSL_AD_UNRECOGNIZED_NAME);
		SSL_free(cli);
	}
	SSL_CTX_free(cctx);
}

/* runtime_service_covers: the FQDN, and what the service's certificate(s)
 * cover per X509_check_host, for passthrough services too. */
static void test_runtime_covers(void **state)
{
	static const char text[] = "certificate nosan {\n"
				   "  cert = \"nosan.crt\"\n"
				   "}\n"
				   "certificate nokey {\n"
				   "  cert = \"ssl1.crt\"\n"
				   "}\n"
				   "certificate web {\n"
				   "  cert = \"web.crt\"\n"
				   "  key = \"web.key\"\n"
				   "}\n"
				   "certificate ssl2 {\n"
				   "  cert = \"ssl2.crt\"\n"
				   "  key = \"ssl2.key\"\n"
				   "}\n"
				   "certificate ecdsa {\n"
				   "  cert = \"ecdsa.crt\"\n"
				   "  key = \"ecdsa.key\"\n"
				   "}\n"
				   "backend plain {\n"
				   "  servers = {\"127.0.0.1:8080\"}\n"
				   "}\n"
				   "service pass {\n"
				   "  fqdn = \"download.cwa.example.com\"\n"
				   "  listen = \"127.0.0.1:9441\"\n"
				   "  certificate = \"nokey\"\n"
				   "  mode = \"passthrough\"\n"
				   "  backend = \"plain\"\n"
				   "  sni_strict = true\n"
				   "}\n"
				   "service bare {\n"
				   "  role = \"av-edge\"\n"
				   "  fqdn = \"av.example.com\"\n"
				   "  listen = \"127.0.0.1:9442\"\n"
				   "  mode = \"passthrough\"\n"
				   "  backend = \"plain\"\n"
				   "}\n"
				   "service webs {\n"
				   "  fqdn = \"portal.example.net\"\n"
				   "  listen = \"127.0.0.1:9443\"\n"
				   "  certificate = \"web\"\n"
				   "  mode = \"terminate\"\n"
				   "  backend = \"plain\"\n"
				   "}\n"
				   "service twin {\n"
				   "  fqdn = \"webconf.example.com\"\n"
				   "  listen = \"127.0.0.1:9444\"\n"
				   "  certificate = {\"ssl2\", \"ecdsa\"}\n"
				   "  mode = \"terminate\"\n"
				   "  backend = \"plain\"\n"
				   "}\n"
				   "service cn {\n"
				   "  fqdn = \"other.example.net\"\n"
				   "  listen = \"127.0.0.1:9445\"\n"
				   "  certificate = \"nosan\"\n"
				   "  mode = \"passthrough\"\n"
				   "  backend = \"plain\"\n"
				   "}\n";
	static const struct {
		size_t svc; /* index in services[] above */
		const char *name;
		bool covered;
	} cases[] = {
		{0, "download.cwa.example.com", true},
		{0, "DOWNLOAD.Cwa.Example.COM", true},
		{0, "sip.example.org", true}, /* a SAN of ssl1 */
		{0, "sip.example.com", true},
		{0, "webconf.example.com", false},
		{0, "cwa.example", false},
		{0, "", false},
		{0, NULL, false},
		{1, "av.example.com", true}, /* no certificate: the FQDN */
		{1, "AV.example.com", true},
		{1, "webconf.example.com", false},
		{2, "portal.example.net", true},
		{2, "www.example.com", true},
		{2, "foo.example.com", true}, /* *.example.com */
		{2, "a.b.example.com", false},
		{2, "example.com", false},
		{3, "av.example.com", true},  /* ssl2 */
		{3, "www.example.com", true}, /* ecdsa, the extra one */
		{3, "sip.example.com", false},
		{4, "sip.example.com", false}, /* the CN of a SAN-less cert */
		{4, "other.example.net", true},
	};
	static const int nleaves[] = {1, -1, 1, 2, 1}; /* -1: no stack */
	char err[4096] = "";
	enum config_status st;
	struct config *cfg;
	struct runtime *rt;

	cfg = config_load_string(text, "covers.conf", test_tls_pki, &st, err,
				 sizeof(err));
	if (cfg == NULL)
		fail_msg("config: %s", err);
	assert_int_equal(cfg->nservices, 5);
	struct rules_certs *pc = rules_load_certs(cfg);
	assert_non_null(pc);
	rt = runtime_new(cfg, pc, NULL, NULL, err, sizeof(err));
	rules_certs_free(pc);
	if (rt == NULL)
		fail_msg("runtime: %s", err);
	for (size_t i = 0; i < 5; i++) {
		const STACK_OF(X509) *lv = rt->services[i].leaves;

		if (nleaves[i] < 0)
			assert_null(lv);
		else
			assert_int_equal(sk_X509_num(lv), nleaves[i]);
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = runtime_service_covers(&rt->services[cases[i].svc],
						  cases[i].name);

		if (got != cases[i].covered)
			fail_msg("service %s, name %s: covered = %d",
				 rt->services[cases[i].svc].svc->name,
				 cases[i].name ? cases[i].name : "(null)", got);
	}
	assert_false(runtime_service_covers(NULL, "av.example.com"));
	assert_int_equal(ERR_peek_error(), 0);
	runtime_unref(rt);
}

/* Workers peek concurrently: each thread peeks the same hello many times. */
struct test_peek_job {
	const unsigned char *hello;
	size_t len;
	int ok;
};

static void *test_peek_thread(void *arg)
{
	struct test_peek_job *job = arg;

	for (int i = 0; i < 50; i++) {
		char *sni = NULL;

		if (tls_peek_sni(job->hello, job->len, &sni) ==
			    TLS_PEEK_HELLO &&
		    sni != NULL && strcmp(sni, "av.example.com") == 0)
			job->ok++;
		free(sni);
	}
	return NULL;
}

static void test_peek_threads(void **state)
{
	size_t len;
	unsigned char *hello =
		test_client_hello("av.example.com", 0, 0, 0, &len);
	pthread_t th[4];
	struct test_peek_job jobs[4];

	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct test_peek_job){hello, len, 0};
		assert_int_equal(pthread_create(&th[i], NULL, test_peek_thread,
						&jobs[i]),
				 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(jobs[i].ok, 50);
	}
	free(hello);
}

/* ---- the server_name extension body (tls_name.c) ---------------------- */

static void test_name_parse_sni(void **state)
{
	static const struct {
		const char *body; /* the extension body, as bytes */
		size_t len;
		const char *want; /* NULL: refused */
	} cases[] = {
		{"\x00\x0e\x00\x00\x0bsip.example", 16, "sip.example"},
		{"\x00\x04\x00\x00\x01"
		 "a",
		 6, "a"},
		{"\x00\x03\x00\x00\x00", 5, NULL},	       /* empty name */
		{"\x00\x0e\x00\x00\x0bsip.example", 15, NULL}, /* cut */
		{"\x00\x0f\x00\x00\x0bsip.example", 16, NULL}, /* list len */
		{"\x00\x0e\x01\x00\x0bsip.example", 16, NULL}, /* type 1 */
		{"\x00\x0e\x00\x00\x0bsip\x00"
		 "example",
		 16, NULL},				       /* NUL */
		{"\x00\x0e\x00\x00\x0bsip example", 16, NULL}, /* space */
		{"\x00\x01", 2, NULL},
	};
	unsigned char big[5 + 256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = tls_name_parse_sni(
			(const unsigned char *)cases[i].body, cases[i].len);

		if (cases[i].want == NULL
			    ? got != NULL
			    : got == NULL || strcmp(got, cases[i].want))
			fail_msg("case %zu: got %s", i, got ? got : "NULL");
		free(got);
	}
	/* 256 bytes: longer than RFC 6066 allows. */
	memset(big, 'a', sizeof(big));
	big[0] = 0x01;
	big[1] = 0x03;
	big[2] = 0x00;
	big[3] = 0x01;
	big[4] = 0x00;
	assert_null(tls_name_parse_sni(big, sizeof(big)));
	/* 255 bytes: the longest it allows. */
	big[1] = 0x02;
	big[3] = 0x00;
	big[4] = 0xff;
	char *name = tls_name_parse_sni(big, sizeof(big) - 1);
	assert_non_null(name);
	assert_int_equal(strlen(name), 255);
	free(name);
}

/* ---- errors ------------------------------------------------------------ */

static void test_error_string(void **state)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char err[512];
	char small[8];

	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_use_certificate_file(ctx, pki("garbage.pem"),
						      SSL_FILETYPE_PEM),
			 0);
	assert_int_not_equal(ERR_peek_error(), 0);
	tls_error_string("loading garbage.pem", err, sizeof(err));
	assert_true(strncmp(err, "loading garbage.pem: ", 21) == 0);
	assert_true(strlen(err) > 21);
	assert_int_equal(ERR_peek_error(), 0);

	/* A tiny buffer: truncated, but the queue is still drained. */
	assert_int_equal(SSL_CTX_use_certificate_file(ctx, pki("garbage.pem"),
						      SSL_FILETYPE_PEM),
			 0);
	tls_error_string("loading", small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(ERR_peek_error(), 0);
	tls_error_string("nothing", NULL, 0);
	tls_error_string("nothing", err, sizeof(err));
	assert_string_equal(err, "nothing");
	SSL_CTX_free(ctx);
}

static void test_dirty_eof(void **state)
{
	SSL_CTX *sctx = test_server_ok("ssl1", "", NULL, NULL);
	SSL_CTX *cctx = test_client_ctx(false);
	SSL *srv = SSL_new(sctx), *cli = SSL_new(cctx);
	char buf[16];
	int rc;

	assert_int_equal(test_handshake(srv, cli), 0);
	test_client_drain(cli);
	/* The client goes away without close_notify. */
	assert_int_equal(BIO_shutdown_wr(SSL_get_wbio(cli)), 1);
	rc = SSL_read(srv, buf, sizeof(buf));
	assert_true(rc <= 0);
	assert_int_equal(SSL_get_error(srv, rc), SSL_ERROR_SSL);
	assert_true(tls_error_is_dirty_eof(ERR_peek_error()));
	ERR_clear_error();

	assert_false(tls_error_is_dirty_eof(0));
	assert_false(tls_error_is_dirty_eof(
		ERR_PACK(ERR_LIB_SSL, 0, SSL_R_WRONG_VERSION_NUMBER)));
	SSL_free(srv);
	SSL_free(cli);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static int test_tls_setup(void **state)
{
	test_tls_pki = getenv("EDGE443_PKI");
	if (test_tls_pki == NULL) {
		fprintf(stderr, "EDGE443_PKI is not set\n");
		return -1;
	}
	if (mkdtemp(test_tls_tmp) == NULL)
		return -1;
	return 0;
}

static int test_tls_teardown(void **state)
{
	static const char *const files[] = {"tickets.b64", "tickets.raw",
					    "old.b64",	   "bad.raw",
					    "bad.b64",	   "empty"};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(tmp(files[i]));
	rmdir(test_tls_tmp);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_peek_threads), /* first: races the lazy init */
		cmocka_unit_test(test_server_handshake),
		cmocka_unit_test(test_server_no_sni),
		cmocka_unit_test(test_server_tls12_ciphers),
		cmocka_unit_test(test_server_tls11_refused),
		cmocka_unit_test(test_server_legacy_tls10),
		cmocka_unit_test(test_server_alpn),
		cmocka_unit_test(test_server_rsa_ecdsa_twins),
		cmocka_unit_test(test_server_sni_selects),
		cmocka_unit_test(test_server_sni_strict),
		cmocka_unit_test(test_server_expired_refused),
		cmocka_unit_test(test_server_key_mismatch_refused),
		cmocka_unit_test(test_server_bad_files_refused),
		cmocka_unit_test(test_client_verify),
		cmocka_unit_test(test_client_trust_file_errors),
		cmocka_unit_test(test_resume_ticket),
		cmocka_unit_test(test_ticket_key_file),
		cmocka_unit_test(test_ticket_rotation_pool),
		cmocka_unit_test(test_ticket_key_file_bad),
		cmocka_unit_test(test_peek_hello),
		cmocka_unit_test(test_peek_byte_by_byte),
		cmocka_unit_test(test_peek_not_tls),
		cmocka_unit_test(test_peek_too_big),
		cmocka_unit_test(test_peek_large_multi_record),
		cmocka_unit_test(test_peek_bad_sni),
		cmocka_unit_test(test_peek_trickle),
		cmocka_unit_test(test_peek_framing),
		cmocka_unit_test(test_alert_record),
		cmocka_unit_test(test_runtime_covers),
		cmocka_unit_test(test_name_parse_sni),
		cmocka_unit_test(test_error_string),
		cmocka_unit_test(test_dirty_eof),
		cmocka_unit_test(test_tickets_shared_fork),
	};

	return cmocka_run_group_tests(tests, test_tls_setup, test_tls_teardown);
}
