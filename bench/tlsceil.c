/* tlsceil.c — the ceiling of a TLS terminator's handshake: OpenSSL alone, no
 * sockets.  A client and a server SSL object talk over a BIO pair in memory,
 * N times: full TLS 1.3 handshake (or a resumed one with -r), the bench's
 * request in, a 100-byte answer out, close_notify — what a terminator's
 * server side does per connection, minus the network and the proxying.
 *
 *   tlsceil -c CERT -k KEY [-n N] [-w WARM] [-t TICKETS] [-x] [-r] [-q]
 *
 *   -n N        handshakes measured (default 2000), after -w WARM (default 50)
 *   -t TICKETS  TLS 1.3 tickets per handshake (SSL_CTX_set_num_tickets;
 *               default 1, as edge443; OpenSSL's own default is 2)
 *   -x          server session cache off (default: SSL_SESS_CACHE_SERVER,
 *               as edge443)
 *   -r          resumption: every connection offers the ticket of the one
 *               before it (the client keeps the newest session)
 *   -q          keep-alive instead: one connection, then N requests on it
 *               (the server's SSL_read of the bench's request and SSL_write
 *               of the 100-byte answer, measured per request: the ceiling
 *               of the keep-alive rows)
 *
 * The server context is set up like edge443's (src/tls.c): cipher list
 * ECDHE+AESGCM:ECDHE+CHACHA20, server preference with ChaCha prioritised,
 * groups X25519:P-256:P-384, RELEASE_BUFFERS, a session id context, 300 s
 * session timeout.  The client is the bench's (hsload, fixload): no
 * verification, no chain building, OpenSSL's default key share (X25519).
 *
 * Only the server's work is measured: every server call (SSL_new, the
 * handshake, SSL_read, SSL_write, SSL_shutdown, SSL_free) goes through
 * server_op(), timed with CLOCK_THREAD_CPUTIME_ID (the cost of the clock
 * itself, calibrated, is subtracted).  Instructions: run it under
 *   valgrind --tool=callgrind --collect-atstart=no --toggle-collect=server_op
 * and divide the total by N (the warm-up goes through server_op_warm(), not
 * collected).
 *
 * Prints: n=N server_us=CPU-per-handshake resumed=R proto=.. cipher=..
 *         group=.. tickets=T cache=on|off
 *     (-q: n=N server_us=CPU-per-request mode=keepalive proto=.. cipher=..)
 *
 * build: cc -O2 -o tlsceil tlsceil.c -lssl -lcrypto
 */
#define _GNU_SOURCE
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { OP_NEW, OP_HANDSHAKE, OP_READ, OP_WRITE, OP_SHUTDOWN, OP_FREE };

static SSL_CTX *sctx;
static SSL *sv;
static BIO *sbio;
static char sbuf[4096];
static int sret;
static const char answer[] =
	"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n"
	"Connection: close\r\n\r\n"
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	"x"
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

static inline __attribute__((always_inline)) int op_body(int op)
{
	switch (op) {
	case OP_NEW:
		sv = SSL_new(sctx);
		SSL_set_bio(sv, sbio, sbio);
		SSL_set_accept_state(sv);
		return 1;
	case OP_HANDSHAKE:
		return SSL_do_handshake(sv);
	case OP_READ:
		return SSL_read(sv, sbuf, sizeof sbuf);
	case OP_WRITE:
		return SSL_write(sv, answer, (int)sizeof answer - 1);
	case OP_SHUTDOWN:
		return SSL_shutdown(sv);
	case OP_FREE:
		SSL_free(sv);
		sv = NULL;
		return 1;
	}
	return -1;
}

/* The measured server calls (callgrind --toggle-collect=server_op). */
__attribute__((noinline)) int server_op(int op)
{
	sret = op_body(op);
	return sret;
}

/* The same calls during the warm-up, not collected. */
__attribute__((noinline)) int server_op_warm(int op)
{
	sret = op_body(op);
	return sret;
}

static double cpu_ns;
static int warm_phase;

static double tcpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int srv(int op)
{
	if (warm_phase)
		return server_op_warm(op);
	double t0 = tcpu();
	int r = server_op(op);
	cpu_ns += tcpu() - t0;
	return r;
}

static long srv_calls;

static void die(const char *what)
{
	fprintf(stderr, "tlsceil: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static int no_chain_check(X509_STORE_CTX *x, void *arg)
{
	(void)x;
	(void)arg;
	return 1;
}

/* The client sends REQ (LEN bytes); the server reads all of it and
 * answers (its calls measured). */
static void exchange(SSL *cl, const char *req, int len)
{
	if (SSL_write(cl, req, len) != len)
		die("client write");
	int got = 0;
	for (int i = 0; i < 4 && got < len; i++) {
		int r = srv(OP_READ);
		srv_calls++;
		if (r > 0)
			got += r;
		else if (SSL_get_error(sv, r) != SSL_ERROR_WANT_READ)
			die("server read");
	}
	if (got != len)
		die("server got a short request");
	if (srv(OP_WRITE) != (int)sizeof answer - 1)
		die("server write");
	srv_calls++;
}

/* A client SSL for test.example on a fresh BIO pair, whose other end is
 * the server's (sbio). */
static SSL *client_new(SSL_CTX *cctx)
{
	BIO *cbio;
	if (BIO_new_bio_pair(&cbio, 0, &sbio, 0) != 1)
		die("BIO pair");
	SSL *cl = SSL_new(cctx);
	SSL_set_bio(cl, cbio, cbio);
	SSL_set_tlsext_host_name(cl, "test.example");
	SSL_set_connect_state(cl);
	return cl;
}

/* One connection: returns 1 when the server resumed the session. */
static int one(SSL_CTX *cctx, SSL_SESSION **sess, int resume)
{
	static const char request[] =
		"GET /small HTTP/1.1\r\nHost: test.example\r\n"
		"Connection: close\r\n\r\n";
	SSL *cl = client_new(cctx);
	if (resume && *sess != NULL)
		SSL_set_session(cl, *sess);
	srv(OP_NEW);
	srv_calls++;
	int cdone = 0, sdone = 0;
	for (int i = 0; i < 20 && !(cdone && sdone); i++) {
		if (!cdone) {
			int r = SSL_do_handshake(cl);
			if (r == 1)
				cdone = 1;
			else if (SSL_get_error(cl, r) != SSL_ERROR_WANT_READ)
				die("client handshake");
		}
		if (!sdone) {
			int r = srv(OP_HANDSHAKE);
			srv_calls++;
			if (r == 1)
				sdone = 1;
			else if (SSL_get_error(sv, r) != SSL_ERROR_WANT_READ)
				die("server handshake");
		}
	}
	if (!(cdone && sdone))
		die("handshake did not finish");
	exchange(cl, request, (int)sizeof request - 1);
	srv(OP_SHUTDOWN);
	srv_calls++;
	char buf[4096];
	int r, n = 0;
	while ((r = SSL_read(cl, buf, sizeof buf)) > 0)
		n += r;
	if (SSL_get_error(cl, r) != SSL_ERROR_ZERO_RETURN ||
	    n != (int)sizeof answer - 1)
		die("client read");
	int reused = SSL_session_reused(cl);
	if (resume) {
		SSL_SESSION *s = SSL_get1_session(cl);
		if (s != NULL && SSL_SESSION_is_resumable(s)) {
			SSL_SESSION_free(*sess);
			*sess = s;
		} else {
			SSL_SESSION_free(s);
		}
	}
	/* Freed without a shutdown of its own, OpenSSL marks the session not
	 * resumable: record that the close_notify was seen. */
	SSL_set_shutdown(cl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(cl);
	srv(OP_FREE);
	srv_calls++;
	return reused;
}

/* -q: N keep-alive requests on connection CL (handshaken); the server's
 * SSL_read of each request and SSL_write of its answer are measured. */
static void keepalive(SSL *cl, long n, int measured)
{
	static const char request[] = "GET /small HTTP/1.1\r\n"
				      "Host: test.example\r\n\r\n";
	char buf[4096];
	int saved = warm_phase;

	warm_phase = !measured;
	for (long k = 0; k < n; k++) {
		exchange(cl, request, (int)sizeof request - 1);
		int r, m = 0;
		while (m < (int)sizeof answer - 1 &&
		       (r = SSL_read(cl, buf, sizeof buf)) > 0)
			m += r;
		if (m != (int)sizeof answer - 1)
			die("client read");
	}
	warm_phase = saved;
}

/* -q: a handshaken connection for keepalive(), not measured. */
static SSL *ka_connect(SSL_CTX *cctx)
{
	SSL *cl = client_new(cctx);
	warm_phase = 1;
	server_op_warm(OP_NEW);
	for (int i = 0; i < 20; i++) {
		int a = SSL_do_handshake(cl), b = server_op_warm(OP_HANDSHAKE);
		if (a == 1 && b == 1)
			break;
	}
	if (!SSL_is_init_finished(cl) || !SSL_is_init_finished(sv))
		die("handshake did not finish");
	return cl;
}

int main(int argc, char **argv)
{
	const char *cert = NULL, *key = NULL;
	long n = 2000, warm = 50;
	int tickets = 1, cache = 1, resume = 0, ka = 0, opt;
	while ((opt = getopt(argc, argv, "c:k:n:w:t:xrq")) != -1) {
		switch (opt) {
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'n':
			n = atol(optarg);
			break;
		case 'w':
			warm = atol(optarg);
			break;
		case 't':
			tickets = atoi(optarg);
			break;
		case 'x':
			cache = 0;
			break;
		case 'r':
			resume = 1;
			break;
		case 'q':
			ka = 1;
			break;
		default:
			fprintf(stderr,
				"usage: %s -c CERT -k KEY [-n N] [-w WARM] "
				"[-t TICKETS] [-x] [-r] [-q]\n",
				argv[0]);
			return 2;
		}
	}
	if (cert == NULL || key == NULL || n < 1 || n > 10000000 || warm < 0)
		return 2;

	sctx = SSL_CTX_new(TLS_server_method());
	if (sctx == NULL)
		die("server context");
	SSL_CTX_set_options(sctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
					  SSL_OP_PRIORITIZE_CHACHA |
					  SSL_OP_NO_RENEGOTIATION |
					  SSL_OP_NO_COMPRESSION);
	if (SSL_CTX_set_cipher_list(sctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1 ||
	    SSL_CTX_set1_groups_list(sctx, "X25519:P-256:P-384") != 1)
		die("ciphers or groups");
	SSL_CTX_set_mode(sctx, SSL_MODE_RELEASE_BUFFERS |
				       SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				       SSL_MODE_NO_AUTO_CHAIN);
	static const unsigned char sid[] = "tlsceil";
	SSL_CTX_set_session_id_context(sctx, sid, sizeof sid - 1);
	SSL_CTX_set_session_cache_mode(sctx, cache ? SSL_SESS_CACHE_SERVER
						   : SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(sctx, (size_t)tickets);
	SSL_CTX_sess_set_cache_size(sctx, 20480L);
	SSL_CTX_set_timeout(sctx, 300L);
	if (SSL_CTX_use_certificate_chain_file(sctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(sctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(sctx) != 1)
		die("certificate or key");

	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_cert_verify_callback(cctx, no_chain_check, NULL);
	SSL_CTX_set_session_cache_mode(
		cctx,
		resume ? SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL
		       : SSL_SESS_CACHE_OFF);

	/* The clock's own cost, per call pair, to subtract. */
	double c0 = tcpu();
	for (int i = 0; i < 2000; i++)
		(void)tcpu();
	double clock_pair = 2 * (tcpu() - c0) / 2001;

	if (ka) {
		SSL *cl = ka_connect(cctx);
		keepalive(cl, warm, 0);
		keepalive(cl, n, 1);
		double us = (cpu_ns - clock_pair * (double)srv_calls) / 1e3 /
			    (double)n;
		printf("n=%ld server_us=%.2f mode=keepalive proto=%s "
		       "cipher=%s\n",
		       n, us < 0 ? 0 : us, SSL_get_version(sv),
		       SSL_get_cipher_name(sv));
		SSL_free(cl);
		server_op_warm(OP_FREE);
		SSL_CTX_free(cctx);
		SSL_CTX_free(sctx);
		return 0;
	}

	SSL_SESSION *sess = NULL;
	warm_phase = 1;
	for (long i = 0; i < warm; i++)
		one(cctx, &sess, resume);
	warm_phase = 0;
	long reused = 0;
	/* Resumption needs a session from before the measured run. */
	if (resume && sess == NULL) {
		warm_phase = 1;
		one(cctx, &sess, resume);
		warm_phase = 0;
	}
	for (long i = 0; i < n; i++)
		reused += one(cctx, &sess, resume);
	double us = (cpu_ns - clock_pair * (double)srv_calls) / 1e3 / (double)n;
	if (us < 0)
		us = 0;

	/* What was negotiated, from one more (unmeasured) connection. */
	warm_phase = 1;
	char group[32] = "?", proto[32] = "?", cipher[64] = "?";
	{
		SSL *cl = client_new(cctx);
		server_op_warm(OP_NEW);
		for (int i = 0; i < 10; i++) {
			SSL_do_handshake(cl);
			server_op_warm(OP_HANDSHAKE);
		}
		int nid = SSL_get_negotiated_group(sv);
		const char *g = SSL_group_to_name(sv, nid);
		snprintf(group, sizeof group, "%s", g ? g : "?");
		snprintf(proto, sizeof proto, "%s", SSL_get_version(sv));
		snprintf(cipher, sizeof cipher, "%s", SSL_get_cipher_name(sv));
		SSL_free(cl);
		server_op_warm(OP_FREE);
	}
	printf("n=%ld server_us=%.1f resumed=%ld proto=%s cipher=%s group=%s "
	       "tickets=%d cache=%s\n",
	       n, us, reused, proto, cipher, group, tickets,
	       cache ? "on" : "off");
	SSL_SESSION_free(sess);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	return resume && reused != n ? 1 : 0;
}
