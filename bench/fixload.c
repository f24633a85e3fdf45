/* fixload.c — the benchmark's fixed-count TLS client, for counts that do not
 * depend on time: it sends exactly N requests (or makes exactly N
 * connections) and stops, so that a terminator's syscalls and instructions
 * can be divided by a known amount of work.
 *
 *   fixload -a IP -p PORT -m ka|hs|resume|reuse -n N [-c CONC] [-s SNI]
 *           [-H HOST] [-u URI] [-t SECONDS]
 *
 *   ka      CONC connections (full handshakes), then exactly N keep-alive
 *           requests over them, one outstanding per connection (as wrk
 *           does); every answer must be 2xx with a Content-Length; then
 *           every connection is closed with a close_notify.
 *   hs      exactly N connections, CONC at a time: full TLS handshake (the
 *           client session cache is off, nothing can resume), one
 *           "Connection: close" request, read until the server closes.
 *   resume  the same, but every connection offers the session (TLS 1.3
 *           ticket) received on the connection before it in its slot; the
 *           first connection of each slot is full.  resumed= counts the
 *           connections the server resumed.  OpenSSL's client, as browsers,
 *           uses a TLS 1.3 ticket once: a server that sends no new ticket on
 *           a resumed connection gets a full handshake on the next one.
 *   reuse   the same, but every connection of a slot offers a copy of the
 *           slot's first session, so every connection after the first can
 *           resume even when the server renews no ticket: the cost of a
 *           resumed handshake alone.
 *
 * Single thread, epoll, bounded by -t (default 120 s).  Prints
 *   ok=N fail=N resumed=N tickets=N secs=WALL proto=.. cipher=..
 * (tickets: the sessions the server sent, counted in resume and reuse modes)
 * and exits 1 if anything failed or the time ran out.
 *
 * build: cc -O2 -o fixload fixload.c -lssl -lcrypto
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { M_KA, M_HS, M_RESUME, M_REUSE };
enum { ST_CONNECT, ST_HANDSHAKE, ST_WRITE, ST_READ, ST_IDLE, ST_DONE };

struct conn {
	int fd;
	int state;
	SSL *ssl;
	SSL_SESSION *sess; /* resume: the last session of this slot */
	size_t got;        /* bytes of the current response */
	long need;         /* ka: head + body length once the head is in */
	char head[1024];
	size_t headlen;
};

static SSL_CTX *ctx;
static struct sockaddr_in addr;
static const char *sni = "test.example";
static char req[512];
static size_t reqlen;
static int mode = M_KA, epfd;
static long total = 1000, started, ok_n, fail_n, resumed_n, answered, tickets_n;
static char proto[32] = "?", cipher[64] = "?";

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void want(struct conn *c, unsigned events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_close(struct conn *c, int success)
{
	if (c->ssl) {
		/* The server's close_notify was read; a client SSL freed without
		 * a shutdown of its own makes its session not resumable.  No
		 * close_notify is sent back (as hsload). */
		if (success && mode != M_KA)
			SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN |
							 SSL_RECEIVED_SHUTDOWN);
		if (success && mode == M_REUSE && c->sess == NULL)
			c->sess = SSL_get1_session(c->ssl);
		if (success && mode == M_RESUME) {
			SSL_SESSION *s = SSL_get1_session(c->ssl);
			if (s != NULL && SSL_SESSION_is_resumable(s)) {
				SSL_SESSION_free(c->sess);
				c->sess = s;
			} else {
				SSL_SESSION_free(s);
			}
		}
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->state = ST_DONE;
	if (mode != M_KA) {
		if (success)
			ok_n++;
		else
			fail_n++;
	} else if (!success) {
		fail_n++;
	}
}

static void conn_start(struct conn *c)
{
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		perror("socket");
		exit(1);
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->got = 0;
	c->headlen = 0;
	c->need = -1;
	c->state = ST_CONNECT;
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
	epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
	if (mode != M_KA)
		started++;
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 &&
	    errno != EINPROGRESS)
		conn_close(c, 0);
}

/* An SSL call returned R <= 0: wait, or finish the connection. */
static void ssl_step(struct conn *c, int r)
{
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		want(c, EPOLLIN);
		return;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		want(c, EPOLLOUT);
		return;
	}
	int success = 0;
	if (mode != M_KA && c->state == ST_READ &&
	    (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL))
		success = c->got >= 12 && memcmp(c->head, "HTTP/1.", 7) == 0 &&
			  c->head[9] == '2';
	if (!success)
		fprintf(stderr, "fixload: connection failed in state %d (%d)\n",
			c->state, e);
	ERR_clear_error();
	conn_close(c, success);
}

/* ka: the response so far is complete? -1 = broken, 0 = not yet, 1 = yes. */
static int ka_complete(struct conn *c)
{
	if (c->need < 0) {
		char *e = memmem(c->head, c->headlen, "\r\n\r\n", 4);
		if (e == NULL)
			return c->headlen >= sizeof c->head - 1 ? -1 : 0;
		*e = '\0';
		if (c->headlen < 12 || memcmp(c->head, "HTTP/1.", 7) != 0 ||
		    c->head[9] != '2')
			return -1;
		char *cl = strcasestr(c->head, "\r\ncontent-length:");
		if (cl == NULL)
			return -1;
		c->need = (long)(e - c->head) + 4 + atol(cl + 17);
	}
	if ((long)c->got > c->need)
		return -1; /* one request outstanding: nothing may follow */
	return (long)c->got == c->need;
}

static void conn_event(struct conn *c)
{
	int r;
	if (c->state == ST_CONNECT) {
		int err = 0;
		socklen_t l = sizeof err;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			fprintf(stderr, "fixload: connect: %s\n",
				strerror(err));
			conn_close(c, 0);
			return;
		}
		c->ssl = SSL_new(ctx);
		SSL_set_fd(c->ssl, c->fd);
		SSL_set_tlsext_host_name(c->ssl, sni);
		if (mode == M_RESUME && c->sess != NULL)
			SSL_set_session(c->ssl, c->sess);
		if (mode == M_REUSE && c->sess != NULL) {
			/* a copy: the client marks what it used not resumable */
			SSL_SESSION *d = SSL_SESSION_dup(c->sess);
			SSL_set_session(c->ssl, d);
			SSL_SESSION_free(d);
		}
		SSL_set_connect_state(c->ssl);
		c->state = ST_HANDSHAKE;
	}
	if (c->state == ST_HANDSHAKE) {
		r = SSL_do_handshake(c->ssl);
		if (r != 1) {
			ssl_step(c, r);
			return;
		}
		if (SSL_session_reused(c->ssl))
			resumed_n++;
		if (proto[0] == '?') {
			snprintf(proto, sizeof proto, "%s",
				 SSL_get_version(c->ssl));
			snprintf(cipher, sizeof cipher, "%s",
				 SSL_get_cipher_name(c->ssl));
		}
		if (mode == M_KA) {
			if (started >= total) { /* all requests are out */
				c->state = ST_IDLE;
				want(c, 0);
				return;
			}
			started++;
		}
		c->state = ST_WRITE;
	}
	if (c->state == ST_IDLE)
		return; /* nothing expected; closed at the end */
	if (c->state == ST_WRITE) {
		r = SSL_write(c->ssl, req, (int)reqlen);
		if (r <= 0) {
			ssl_step(c, r);
			return;
		}
		c->state = ST_READ;
		c->got = c->headlen = 0;
		c->need = -1;
		want(c, EPOLLIN);
	}
	if (c->state == ST_READ) {
		char buf[16384];
		for (;;) {
			r = SSL_read(c->ssl, buf, sizeof buf);
			if (r <= 0) {
				ssl_step(c, r);
				return;
			}
			size_t room = sizeof c->head - 1 - c->headlen;
			size_t n = (size_t)r < room ? (size_t)r : room;
			memcpy(c->head + c->headlen, buf, n);
			c->headlen += n;
			c->got += (size_t)r;
			if (mode != M_KA)
				continue;
			int done = ka_complete(c);
			if (done < 0) {
				fprintf(stderr, "fixload: bad or non-2xx answer: %.60s\n",
					c->head);
				conn_close(c, 0);
				return;
			}
			if (done == 0)
				continue;
			ok_n++;
			answered++;
			if (started >= total) {
				c->state = ST_IDLE;
				want(c, 0);
				return;
			}
			started++;
			c->state = ST_WRITE;
			r = SSL_write(c->ssl, req, (int)reqlen);
			if (r <= 0) {
				ssl_step(c, r);
				return;
			}
			c->state = ST_READ;
			c->got = c->headlen = 0;
			c->need = -1;
		}
	}
}

/* Every session (TLS 1.3 ticket) the server sends is counted. */
static int new_session(SSL *ssl, SSL_SESSION *sess)
{
	(void)ssl;
	(void)sess;
	tickets_n++;
	return 0; /* not kept: SSL_get1_session picks the newest */
}

static int no_chain_check(X509_STORE_CTX *x, void *arg)
{
	(void)x;
	(void)arg;
	return 1;
}

int main(int argc, char **argv)
{
	const char *ip = "127.0.0.1", *uri = "/small", *host = NULL, *m = "ka";
	int port = 443, conc = 32, opt;
	double limit = 120;
	while ((opt = getopt(argc, argv, "a:p:m:n:c:s:H:u:t:")) != -1) {
		switch (opt) {
		case 'a': ip = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'm': m = optarg; break;
		case 'n': total = atol(optarg); break;
		case 'c': conc = atoi(optarg); break;
		case 's': sni = optarg; break;
		case 'H': host = optarg; break;
		case 'u': uri = optarg; break;
		case 't': limit = atof(optarg); break;
		default:
			fprintf(stderr,
				"usage: %s -a IP -p PORT -m ka|hs|resume|reuse -n N [-c CONC] "
				"[-s SNI] [-H HOST] [-u URI] [-t SECONDS]\n",
				argv[0]);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(m, "ka") == 0)
		mode = M_KA;
	else if (strcmp(m, "hs") == 0)
		mode = M_HS;
	else if (strcmp(m, "resume") == 0)
		mode = M_RESUME;
	else if (strcmp(m, "reuse") == 0)
		mode = M_REUSE;
	else {
		fprintf(stderr, "fixload: mode ka, hs, resume or reuse\n");
		return 2;
	}
	if (total < 1 || conc < 1 || conc > 4096)
		return 2;
	if (mode != M_KA && conc > total)
		conc = (int)total;
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, ip, &addr.sin_addr) != 1) {
		fprintf(stderr, "fixload: bad IP %s\n", ip);
		return 2;
	}
	reqlen = (size_t)snprintf(req, sizeof req,
				  "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", uri,
				  host ? host : sni,
				  mode == M_KA ? "" : "Connection: close\r\n");

	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, mode >= M_RESUME
						    ? SSL_SESS_CACHE_CLIENT |
							      SSL_SESS_CACHE_NO_INTERNAL
						    : SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_cert_verify_callback(ctx, no_chain_check, NULL);
	if (mode >= M_RESUME)
		SSL_CTX_sess_set_new_cb(ctx, new_session);

	epfd = epoll_create1(0);
	struct conn *cs = calloc((size_t)conc, sizeof *cs);
	for (int i = 0; i < conc; i++)
		conn_start(&cs[i]);

	double t0 = now(), end = t0 + limit;
	int timed_out = 0;
	struct epoll_event evs[256];
	for (;;) {
		if (mode == M_KA ? answered >= total || fail_n > 0
				 : ok_n + fail_n >= total)
			break;
		if (now() >= end) {
			timed_out = 1;
			break;
		}
		int n = epoll_wait(epfd, evs, 256, 100);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c->fd >= 0)
				conn_event(c);
		}
		if (mode != M_KA)
			for (int i = 0; i < conc; i++)
				if (cs[i].fd < 0 && started < total)
					conn_start(&cs[i]);
	}
	for (int i = 0; i < conc; i++) {
		if (cs[i].fd < 0)
			continue;
		if (cs[i].ssl) {
			SSL_shutdown(cs[i].ssl); /* close_notify, not waited for */
			SSL_free(cs[i].ssl);
		}
		close(cs[i].fd);
	}
	if (timed_out)
		fprintf(stderr, "fixload: time limit %.0fs reached\n", limit);
	printf("ok=%ld fail=%ld resumed=%ld tickets=%ld secs=%.3f proto=%s "
	       "cipher=%s\n",
	       ok_n, fail_n, resumed_n, tickets_n, now() - t0, proto, cipher);
	return timed_out || fail_n > 0 || ok_n != total ? 1 : 0;
}
