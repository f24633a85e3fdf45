/* test_proxy.c — the relay state machine of one connection
 * (src/serve/proxy.c, src/serve/proxy_events.c).
 *
 * Each test builds a real runtime from a config string whose backend is a
 * loopback TCP listener opened here, hands one end of a socketpair (or, for
 * the reset test, of a loopback TCP pair) to proxy_accept as "the client",
 * accepts the backend connection edge443 makes, and then drives the owner's
 * event base in bounded non-blocking loops while the test plays client and
 * backend on the other ends.  Every wait is bounded in time; every test
 * checks that the connection ends (nconns back to 0, closed_cb called once)
 * and that no file descriptor is left open; ASan checks for leaks.
 *
 * Passthrough services relay plain (non-TLS) bytes untouched, so most cases
 * use them; the terminate cases use the test PKI ($EDGE443_PKI) and an
 * OpenSSL client on the socketpair.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "edge443/config/config.h"
#include "edge443/base/log.h"
#include "edge443/serve/proxy.h"
#include "edge443/serve/proxy_events.h"
#include "edge443/serve/proxy_http.h"
#include "edge443/serve/proxy_internal.h"
#include "edge443/serve/runtime.h"
#include "edge443/rules/validate.h"

#define TEST_MiB (1024 * 1024)

/* ---- fixture ------------------------------------------------------------ */

struct test_fx {
	struct proxy_owner owner; /* first: closed_cb finds the fixture */
	int closed_calls;
	struct proxy_stats stats; /* owner.stats points here */
	struct runtime *rt;
	int lsock;    /* the backend listener */
	int port;     /* its port */
	int cli;      /* the test's end of the client connection */
	int be;	      /* the test's end of the backend connection */
	int edge_cli; /* edge443's end of the client connection (its fd) */
	int fds_before;
};

static int test_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static double test_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	assert_true(fl >= 0);
	assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

static void test_closed_cb(struct proxy_owner *owner)
{
	struct test_fx *fx = (struct test_fx *)owner;
	fx->closed_calls++;
}

/* A loopback listener on an ephemeral port; RCVBUF (0 = default) is set
 * before listen so that accepted sockets inherit a fixed receive window. */
static int test_listen(int *port, int rcvbuf)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;

	assert_true(s >= 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (rcvbuf > 0)
		setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(s, 16), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	test_nonblock(s);
	return s;
}

/* A port on which nothing listens (bound, then closed). */
static int test_closed_port(void)
{
	int port;
	int s = test_listen(&port, 0);
	close(s);
	return port;
}

/* Build the runtime: service 0 "pt" is passthrough to backend "b" on
 * BACKEND_PORT; when the test PKI is there, service 1 "term" terminates TLS
 * with ssl1 and relays plain bytes to the same backend. */
static struct runtime *test_runtime(int backend_port, int handshake_timeout,
				    int idle_timeout)
{
	const char *pki = getenv("EDGE443_PKI");
	char text[4096];
	char err[2048] = "";
	enum config_status st;
	struct config *cfg;
	struct runtime *rt;
	int n;

	n = snprintf(text, sizeof(text),
		     "handshake_timeout = %d\n"
		     "idle_timeout = %d\n"
		     "connect_timeout = 2\n"
		     "backend b { servers = {\"127.0.0.1:%d\"} }\n"
		     "service pt {\n"
		     "  fqdn = \"as.cwa.example.com\"\n"
		     "  listen = \"127.0.0.1:1\"\n"
		     "  mode = \"passthrough\"\n"
		     "  backend = \"b\"\n"
		     "}\n",
		     handshake_timeout, idle_timeout, backend_port);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	if (pki) {
		n += snprintf(text + n, sizeof(text) - (size_t)n,
			      "certificate ssl1 {\n"
			      "  cert = \"%s/ssl1.crt\"\n"
			      "  chain = \"%s/chain.pem\"\n"
			      "  key = \"%s/ssl1.key\"\n"
			      "}\n"
			      "service term {\n"
			      "  fqdn = \"as.cwa.example.com\"\n"
			      "  listen = \"127.0.0.1:2\"\n"
			      "  certificate = \"ssl1\"\n"
			      "  mode = \"terminate\"\n"
			      "  backend = \"b\"\n"
			      "}\n"
			      /* check refuses this one (backend-required);
			       * the relay must still survive it */
			      "service nobackend {\n"
			      "  fqdn = \"as.cwa.example.com\"\n"
			      "  listen = \"127.0.0.1:3\"\n"
			      "  certificate = \"ssl1\"\n"
			      "  mode = \"terminate\"\n"
			      "  http { paths = {\"/\"} }\n"
			      "}\n",
			      pki, pki, pki);
		assert_true((size_t)n < sizeof(text));
	}
	cfg = config_load_string(text, "test.conf", NULL, &st, err,
				 sizeof(err));
	if (!cfg)
		fail_msg("config: %s", err);
	struct rules_certs *pc = rules_load_certs(cfg);
	assert_non_null(pc);
	rt = runtime_new(cfg, pc, NULL, NULL, err, sizeof(err));
	rules_certs_free(pc);
	if (!rt)
		fail_msg("runtime: %s", err);
	return rt;
}

static void test_fx_init(struct test_fx *fx, int handshake_timeout,
			 int backend_rcvbuf, bool backend_down)
{
	memset(fx, 0, sizeof(*fx));
	fx->cli = fx->be = fx->lsock = -1;
	fx->fds_before = test_count_fds();
	if (backend_down)
		fx->port = test_closed_port();
	else
		fx->lsock = test_listen(&fx->port, backend_rcvbuf);
	fx->rt = test_runtime(fx->port, handshake_timeout, 30);
	fx->owner.base = event_base_new();
	assert_non_null(fx->owner.base);
	fx->owner.stats = &fx->stats;
	fx->owner.closed_cb = test_closed_cb;
}

/* Run the loop once without blocking, then sleep 1 ms. */
static void test_pump(struct test_fx *fx)
{
	event_base_loop(fx->owner.base, EVLOOP_NONBLOCK);
	usleep(1000);
}

static void test_pump_ms(struct test_fx *fx, int ms)
{
	double end = test_now() + ms / 1e3;
	while (test_now() < end)
		test_pump(fx);
}

/* Pump until the connection list is empty (bounded); returns true if so. */
static bool test_pump_until_closed(struct test_fx *fx, int ms)
{
	double end = test_now() + ms / 1e3;
	while (fx->owner.nconns && test_now() < end)
		test_pump(fx);
	return fx->owner.nconns == 0;
}

/* Hand a fresh client socket to proxy_accept for service IDX; the test keeps
 * the other end in fx->cli (non-blocking).  TCP: a loopback TCP pair instead
 * of a socketpair. */
static void test_accept_hooks(struct test_fx *fx, size_t idx, bool tcp,
			      const struct proxy_hooks *hooks);

static void test_accept(struct test_fx *fx, size_t idx, bool tcp)
{
	test_accept_hooks(fx, idx, tcp, NULL);
}

static void test_accept_hooks(struct test_fx *fx, size_t idx, bool tcp,
			      const struct proxy_hooks *hooks)
{
	int sv[2];
	struct sockaddr_in peer;
	size_t before = fx->owner.nconns;

	assert_true(idx < fx->rt->cfg->nservices);
	if (tcp) {
		int port;
		int l = test_listen(&port, 0);
		struct sockaddr_in sin;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons((uint16_t)port);
		sv[0] = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(sv[0] >= 0);
		assert_int_equal(
			connect(sv[0], (struct sockaddr *)&sin, sizeof(sin)),
			0);
		struct pollfd pfd = {l, POLLIN, 0};
		assert_int_equal(poll(&pfd, 1, 2000), 1);
		sv[1] = accept(l, NULL, NULL);
		assert_true(sv[1] >= 0);
		close(l);
	} else {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	}
	test_nonblock(sv[0]);
	test_nonblock(sv[1]);
	fx->cli = sv[0];
	fx->edge_cli = sv[1];
	memset(&peer, 0, sizeof(peer));
	peer.sin_family = AF_INET;
	peer.sin_addr.s_addr = htonl(0xc0000201); /* 192.0.2.1 */
	peer.sin_port = htons(40000);
	assert_int_equal(
		proxy_accept(&fx->owner, fx->rt, &fx->rt->services[idx], sv[1],
			     (struct sockaddr *)&peer, sizeof(peer), hooks),
		0);
	assert_int_equal(fx->owner.nconns, before + 1);
}

/* Pump until edge443 has connected to the backend listener; accept it. */
static void test_accept_backend(struct test_fx *fx)
{
	double end = test_now() + 3.0;

	while (fx->be < 0 && test_now() < end) {
		test_pump(fx);
		fx->be = accept(fx->lsock, NULL, NULL);
	}
	if (fx->be < 0)
		fail_msg("edge443 did not connect to the backend");
	test_nonblock(fx->be);
}

/* edge443's own socket towards the backend listener: the fd in this process
 * whose peer is the listener's port, other than the test's accepted end. */
static int test_edge_backend_fd(const struct test_fx *fx)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int found = -1;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		struct sockaddr_in sin;
		socklen_t len = sizeof(sin);
		int fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd == fx->be || fd == dirfd(d))
			continue;
		if (getpeername(fd, (struct sockaddr *)&sin, &len) == 0 &&
		    sin.sin_family == AF_INET &&
		    ntohs(sin.sin_port) == fx->port)
			found = fd;
	}
	closedir(d);
	return found;
}

/* Write all of BUF to FD while pumping the loop (bounded). */
static void test_write_all(struct test_fx *fx, int fd, const void *buf,
			   size_t len)
{
	const char *p = buf;
	double end = test_now() + 10.0;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			fail_msg("send: %s", strerror(errno));
		if (test_now() > end)
			fail_msg("send: still %zu bytes to write after 10 s",
				 len);
		test_pump(fx);
	}
}

/* Read exactly LEN bytes from FD while pumping (bounded); fails on EOF. */
static void test_read_exact(struct test_fx *fx, int fd, void *buf, size_t len)
{
	char *p = buf;
	double end = test_now() + 10.0;

	while (len > 0) {
		ssize_t n = recv(fd, p, len, 0);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0)
			fail_msg("recv: EOF with %zu bytes still expected",
				 len);
		if (errno != EAGAIN && errno != EINTR)
			fail_msg("recv: %s", strerror(errno));
		if (test_now() > end)
			fail_msg("recv: still %zu bytes expected after 10 s",
				 len);
		test_pump(fx);
	}
}

/* Pump until FD reports EOF (0) or an error (-errno); bounded: returns 1 on
 * timeout.  Data arriving meanwhile is a failure. */
static int test_wait_eof(struct test_fx *fx, int fd, int ms)
{
	double end = test_now() + ms / 1e3;
	char c;

	while (test_now() < end) {
		ssize_t n = recv(fd, &c, 1, 0);
		if (n == 0)
			return 0;
		if (n > 0)
			fail_msg("unexpected data instead of EOF");
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		test_pump(fx);
	}
	return 1;
}

/* True while FD has neither data nor EOF pending. */
static bool test_still_open(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK);
	return n < 0 && errno == EAGAIN;
}

static void test_fx_finish(struct test_fx *fx)
{
	proxy_close_all(&fx->owner, "test end");
	if (fx->cli >= 0)
		close(fx->cli);
	if (fx->be >= 0)
		close(fx->be);
	if (fx->lsock >= 0)
		close(fx->lsock);
	event_base_free(fx->owner.base);
	runtime_unref(fx->rt);
	/* Every socket edge443 took over has been closed. */
	assert_int_equal(test_count_fds(), fx->fds_before);
}

static uint8_t test_pattern(size_t i)
{
	uint32_t x = (uint32_t)i * 2654435761u;
	return (uint8_t)((x >> 24) ^ (x >> 13) ^ (uint8_t)i);
}

static void test_fill(uint8_t *buf, size_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = test_pattern(off + i);
}

/* Send on FD the next piece (at most CHUNK bytes, through BUF) of a
 * TOTAL-byte pattern stream of which *WRITTEN went out; *WRITTEN advances.
 * Returns what send(2) returned. */
static ssize_t test_send_next(int fd, uint8_t *buf, size_t *written,
			      size_t total, size_t chunk)
{
	size_t len = total - *written < chunk ? total - *written : chunk;
	ssize_t n;

	test_fill(buf, *written, len);
	n = send(fd, buf, len, MSG_NOSIGNAL);
	if (n > 0)
		*written += (size_t)n;
	return n;
}

/* The N bytes in RBUF must continue the pattern at *RCVD (else the test
 * fails, naming WHERE); *RCVD advances. */
static void test_check_next(const uint8_t *rbuf, size_t n, size_t *rcvd,
			    const char *where)
{
	for (size_t i = 0; i < n; i++)
		if (rbuf[i] != test_pattern(*rcvd + i))
			fail_msg("%s: byte %zu differs", where, *rcvd + i);
	*rcvd += n;
}

/* ---- tests -------------------------------------------------------------- */

/* Plain bytes go both ways intact, small and bulk (1 MiB each way, at the
 * same time). */
static void test_bytes_both_ways(void **state)
{
	struct test_fx fx;
	char buf[64];
	size_t big = TEST_MiB;
	uint8_t *up = malloc(big), *down = malloc(big);
	uint8_t *got_up = malloc(big), *got_down = malloc(big);
	size_t w_up = 0, w_down = 0, r_up = 0, r_down = 0;
	double end;

	(void)state;
	assert_non_null(up && down && got_up && got_down);
	test_fill(up, 0, big);
	test_fill(down, 7, big);
	test_fx_init(&fx, 5, 0, false);
	test_accept(&fx, 0, false);
	test_write_all(&fx, fx.cli, "hello backend\n", 14);
	test_accept_backend(&fx);
	test_read_exact(&fx, fx.be, buf, 14);
	assert_memory_equal(buf, "hello backend\n", 14);
	test_write_all(&fx, fx.be, "hello client\n", 13);
	test_read_exact(&fx, fx.cli, buf, 13);
	assert_memory_equal(buf, "hello client\n", 13);

	/* Both directions at once, non-blocking, bounded. */
	end = test_now() + 20.0;
	while ((r_up < big || r_down < big) && test_now() < end) {
		ssize_t n;
		if (w_up < big &&
		    (n = send(fx.cli, up + w_up, big - w_up, MSG_NOSIGNAL)) > 0)
			w_up += (size_t)n;
		if (w_down < big && (n = send(fx.be, down + w_down,
					      big - w_down, MSG_NOSIGNAL)) > 0)
			w_down += (size_t)n;
		if (r_up < big &&
		    (n = recv(fx.be, got_up + r_up, big - r_up, 0)) > 0)
			r_up += (size_t)n;
		if (r_down < big &&
		    (n = recv(fx.cli, got_down + r_down, big - r_down, 0)) > 0)
			r_down += (size_t)n;
		event_base_loop(fx.owner.base, EVLOOP_NONBLOCK);
	}
	assert_int_equal(r_up, big);
	assert_int_equal(r_down, big);
	assert_memory_equal(got_up, up, big);
	assert_memory_equal(got_down, down, big);
	assert_int_equal(fx.owner.nconns, 1);
	assert_int_equal(fx.closed_calls, 0);
	test_fx_finish(&fx);
	assert_int_equal(fx.closed_calls, 1);
	assert_int_equal(fx.owner.nconns, 0);
	/* The counters saw every byte. */
	assert_int_equal(fx.stats.bytes_in, 14 + big);
	assert_int_equal(fx.stats.bytes_out, 13 + big);
	free(up);
	free(down);
	free(got_up);
	free(got_down);
}

/* The client half-closes: the backend gets all the data, then EOF, and can
 * still answer; the backend's close then ends the connection. */
static void test_client_half_close(void **state)
{
	struct test_fx fx;
	size_t n = 300 * 1024; /* more than the relay buffers at once */
	uint8_t *data = malloc(n), *got = malloc(n);
	char buf[32];

	(void)state;
	assert_non_null(data && got);
	test_fill(data, 3, n);
	test_fx_init(&fx, 5, 0, false);
	test_accept(&fx, 0, false);
	test_write_all(&fx, fx.cli, data, 1);
	test_accept_backend(&fx);
	test_write_all(&fx, fx.cli, data + 1, n - 1);
	assert_int_equal(shutdown(fx.cli, SHUT_WR), 0);
	test_read_exact(&fx, fx.be, got, n);
	assert_memory_equal(got, data, n);
	assert_int_equal(test_wait_eof(&fx, fx.be, 3000), 0);
	/* Half-closed, not closed: the answer still reaches the client. */
	assert_int_equal(fx.owner.nconns, 1);
	assert_true(test_still_open(fx.cli));
	test_write_all(&fx, fx.be, "answer after EOF\n", 17);
	test_read_exact(&fx, fx.cli, buf, 17);
	assert_memory_equal(buf, "answer after EOF\n", 17);
	test_pump_ms(&fx, 50);
	assert_int_equal(fx.owner.nconns, 1);
	assert_int_equal(fx.closed_calls, 0);
	/* The backend closes: the client sees EOF, the connection ends. */
	close(fx.be);
	fx.be = -1;
	assert_int_equal(test_wait_eof(&fx, fx.cli, 3000), 0);
	assert_true(test_pump_until_closed(&fx, 3000));
	assert_int_equal(fx.closed_calls, 1);
	test_fx_finish(&fx);
	assert_int_equal(fx.closed_calls, 1);
	free(data);
	free(got);
}

/* The backend half-closes: symmetric. */
static void test_backend_half_close(void **state)
{
	struct test_fx fx;
	size_t n = 300 * 1024;
	uint8_t *data = malloc(n), *got = malloc(n);
	char buf[32];

	(void)state;
	assert_non_null(data && got);
	test_fill(data, 11, n);
	test_fx_init(&fx, 5, 0, false);
	test_accept(&fx, 0, false);
	test_write_all(&fx, fx.cli, "x", 1);
	test_accept_backend(&fx);
	test_read_exact(&fx, fx.be, buf, 1);
	test_write_all(&fx, fx.be, data, n);
	assert_int_equal(shutdown(fx.be, SHUT_WR), 0);
	test_read_exact(&fx, fx.cli, got, n);
	assert_memory_equal(got, data, n);
	assert_int_equal(test_wait_eof(&fx, fx.cli, 3000), 0);
	assert_int_equal(fx.owner.nconns, 1);
	/* The client may still send. */
	test_write_all(&fx, fx.cli, "client after EOF\n", 17);
	test_read_exact(&fx, fx.be, buf, 17);
	assert_memory_equal(buf, "client after EOF\n", 17);
	test_pump_ms(&fx, 50);
	assert_int_equal(fx.owner.nconns, 1);
	close(fx.cli);
	fx.cli = -1;
	assert_int_equal(test_wait_eof(&fx, fx.be, 3000), 0);
	assert_true(test_pump_until_closed(&fx, 3000));
	assert_int_equal(fx.closed_calls, 1);
	test_fx_finish(&fx);
	assert_int_equal(fx.closed_calls, 1);
	free(data);
	free(got);
}

/* The client sends everything and half-closes before the backend connection
 * is even up (while pre-reading / connecting): the data and then the EOF still
 * reach the backend, and the answer still reaches the client. */
static void test_early_eof(void **state)
{
	struct test_fx fx;
	size_t n = 100 * 1024;
	uint8_t *data = malloc(n), *got = malloc(n);
	char buf[16];

	(void)state;
	assert_non_null(data && got);
	test_fill(data, 5, n);
	test_fx_init(&fx, 5, 0, false);
	test_accept(&fx, 0, false);
	/* All of it lands in the socketpair at once (no loop run yet). */
	int big = 1 << 20;
	setsockopt(fx.cli, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	assert_int_equal(send(fx.cli, data, n, MSG_NOSIGNAL), (ssize_t)n);
	assert_int_equal(shutdown(fx.cli, SHUT_WR), 0);
	test_accept_backend(&fx);
	test_read_exact(&fx, fx.be, got, n);
	assert_memory_equal(got, data, n);
	assert_int_equal(test_wait_eof(&fx, fx.be, 3000), 0);
	test_write_all(&fx, fx.be, "ok\n", 3);
	close(fx.be);
	fx.be = -1;
	test_read_exact(&fx, fx.cli, buf, 3);
	assert_memory_equal(buf, "ok\n", 3);
	assert_int_equal(test_wait_eof(&fx, fx.cli, 3000), 0);
	assert_true(test_pump_until_closed(&fx, 3000));
	assert_int_equal(fx.closed_calls, 1);
	test_fx_finish(&fx);
	free(data);
	free(got);
}

/* The backend sends more than the relay buffers and closes at once, while
 * the client is slow to read: nothing is lost (bufferevent_free would drop
 * unsent output), then the client sees EOF. */
static void test_backend_close_flushes(void **state)
{
	struct test_fx fx;
	size_t n = 4 * TEST_MiB;
	uint8_t *data = malloc(n), *got = malloc(n);
	size_t w = 0, r = 0;
	char c;
	double end;

	(void)state;
	assert_non_null(data && got);
	test_fill(data, 9, n);
	test_fx_init(&fx, 5, 0, false);
	test_accept(&fx, 0, false);
	test_write_all(&fx, fx.cli, "x", 1);
	test_accept_backend(&fx);
	test_read_exact(&fx, fx.be, &c, 1);
	/* Write it all while the client reads only 4 KiB whenever the
	 * backend is blocked (the relay pauses in between). */
	end = test_now() + 10.0;
	while (w < n && test_now() < end) {
		ssize_t k = send(fx.be, data + w, n - w, MSG_NOSIGNAL);
		if (k > 0) {
			w += (size_t)k;
		} else {
			ssize_t m = recv(fx.cli, got + r, 4096, 0);
			if (m > 0)
				r += (size_t)m;
		}
		test_pump(&fx);
	}
	assert_int_equal(w, n);
	close(fx.be);
	fx.be = -1;
	test_pump_ms(&fx, 100);
	test_read_exact(&fx, fx.cli, got + r, n - r);
	assert_memory_equal(got, data, n);
	assert_int_equal(test_wait_eof(&fx, fx.cli, 3000), 0);
	/* A FIN is a half-close: the client may still send, so the
	 * connection lives until the client closes too. */
	close(fx.cli);
	fx.cli = -1;
	assert_true(test_pump_until_closed(&fx, 3000));
	assert_int_equal(fx.closed_calls, 1);
	test_fx_finish(&fx);
	free(data);
	free(got);
}

/* Backpressure: a backend that does not read makes the relay stop reading
 * the client, so a non-blocking client write ends in EAGAIN long before
 * 16 MiB; then reading the backend drains everything byte-exact. */
static void test_backpressure(void **state)
{
	struct test_fx fx;
	size_t total = 16 * TEST_MiB;
	size_t chunk = 64 * 1024;
	uint8_t *buf = malloc(chunk), *rbuf = malloc(chunk);
	size_t written = 0, rcvd = 0;
	int small = 64 * 1024;
	double end, stalled_since = 0;
	/* What may legitimately sit in kernel buffers: the socketpair
	 * (client send + edge receive), edge443's TCP send buffer (autotuned
	 * up to tcp_wmem max) and the backend's receive window, plus the
	 * relay's own bound (a few hundred KiB). */
	size_t wmem_max = 4 * TEST_MiB;
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_wmem", "r");
	unsigned long a, b, c;

	(void)state;
	assert_non_null(buf && rbuf);
	if (f) {
		if (fscanf(f, "%lu %lu %lu", &a, &b, &c) == 3)
			wmem_max = c;
		fclose(f);
	}
	test_fx_init(&fx, 5, small, false);
	test_accept(&fx, 0, false);
	setsockopt(fx.cli, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	test_fill(buf, 0, 1);
	test_write_all(&fx, fx.cli, buf, 1);
	written = 1;
	test_accept_backend(&fx);

	/* Write without reading the backend until the client is blocked for
	 * 300 ms of loop time in a row. */
	end = test_now() + 20.0;
	while (written < total && test_now() < end) {
		ssize_t n = test_send_next(fx.cli, buf, &written, total, chunk);
		if (n > 0) {
			stalled_since = 0;
			event_base_loop(fx.owner.base, EVLOOP_NONBLOCK);
			continue;
		}
		assert_true(n < 0 && errno == EAGAIN);
		if (stalled_since == 0)
			stalled_since = test_now();
		else if (test_now() - stalled_since > 0.3)
			break;
		test_pump(&fx);
	}
	if (written >= total)
		fail_msg("backpressure: edge443 read all %zu bytes from the "
			 "client although the backend reads nothing",
			 written);
	print_message("backpressure: client blocked after %zu KiB (bound "
		      "%zu KiB)\n",
		      written / 1024, (wmem_max + 4 * TEST_MiB) / 1024);
	assert_true(written < wmem_max + 4 * TEST_MiB);
	assert_int_equal(fx.owner.nconns, 1);
	{
		/* Precisely: what is written but in no kernel queue is held
		 * by edge443 itself. */
		int efd = test_edge_backend_fd(&fx);
		int q_cli = 0, q_out = 0, q_be = 0;
		assert_true(efd >= 0);
		assert_int_equal(ioctl(fx.edge_cli, SIOCINQ, &q_cli), 0);
		assert_int_equal(ioctl(efd, SIOCOUTQ, &q_out), 0);
		assert_int_equal(ioctl(fx.be, SIOCINQ, &q_be), 0);
		size_t kernel = (size_t)q_cli + (size_t)q_out + (size_t)q_be;
		size_t held = written > kernel ? written - kernel : 0;
		print_message("backpressure: kernel queues %zu KiB, edge443 "
			      "holds %zu KiB\n",
			      kernel / 1024, held / 1024);
		/* PROXY_BUF_MAX (256 KiB) in the output plus one read. */
		assert_true(held <= 512 * 1024);
	}

	/* Now drain: everything arrives, byte-exact, and the rest flows. */
	end = test_now() + 30.0;
	while (rcvd < total && test_now() < end) {
		if (written < total) {
			test_send_next(fx.cli, buf, &written, total, chunk);
		}
		ssize_t n = recv(fx.be, rbuf, chunk, 0);
		if (n > 0) {
			test_check_next(rbuf, (size_t)n, &rcvd, "backpressure");
		} else {
			assert_true(n < 0 && errno == EAGAIN);
		}
		event_base_loop(fx.owner.base, EVLOOP_NONBLOCK);
	}
	assert_int_equal(rcvd, total);
	assert_int_equal(fx.owner.nconns, 1);
	test_fx_finish(&fx);
	free(buf);
	free(rbuf);
}

/* The client resets mid-stream (SO_LINGER 0 close on a TCP client) while
 * edge443 still has backend data for it: the connection ends, the backend
 * sees the end. */
static void test_client_reset(void **state)
{
	struct test_fx fx;
	size_t n = TEST_MiB;
	uint8_t *data = malloc(n);
	struct linger lg = {1, 0};
	size_t w = 0;
	double end;
	int r;

	(void)state;
	assert_non_null(data);
	test_fill(data, 0, n);
	test_fx_init(&fx, 5, 0, false);
	test_accept(&fx, 0, true);
	test_write_all(&fx, fx.cli, "go\n", 3);
	test_accept_backend(&fx);
	/* Fill towards the client, which does not read. */
	end = test_now() + 2.0;
	while (w < n && test_now() < end) {
		ssize_t k = send(fx.be, data + w, n - w, MSG_NOSIGNAL);
		if (k > 0)
			w += (size_t)k;
		test_pump(&fx);
	}
	assert_true(w > 0);
	assert_int_equal(
		setsockopt(fx.cli, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(fx.cli);
	fx.cli = -1;
	/* The backend gets EOF or a reset once the relay gives up; drain
	 * what was relayed meanwhile. */
	end = test_now() + 5.0;
	r = 1;
	while (test_now() < end) {
		char sink[65536];
		ssize_t k = recv(fx.be, sink, sizeof(sink), 0);
		if (k == 0) {
			r = 0;
			break;
		}
		if (k < 0 && errno != EAGAIN) {
			r = -errno;
			break;
		}
		test_pump(&fx);
	}
	assert_true(r <= 0);
	assert_true(test_pump_until_closed(&fx, 3000));
	assert_int_equal(fx.closed_calls, 1);
	test_fx_finish(&fx);
	free(data);
}

/* Same with a socketpair client that closes with unread data (AF_UNIX
 * reports ECONNRESET to the peer then). */
static void test_client_reset_unix(void **state)
{
	struct test_fx fx;
	char blob[200000];

	(void)state;
	memset(blob, 'z', sizeof(blob));
	test_fx_init(&fx, 5, 0, false);
	test_accept(&fx, 0, false);
	test_write_all(&fx, fx.cli, "go\n", 3);
	test_accept_backend(&fx);
	test_read_exact(&fx, fx.be, blob, 3);
	test_write_all(&fx, fx.be, blob, sizeof(blob));
	test_pump_ms(&fx, 50);
	close(fx.cli);
	fx.cli = -1;
	assert_true(test_wait_eof(&fx, fx.be, 5000) <= 0);
	assert_true(test_pump_until_closed(&fx, 3000));
	assert_int_equal(fx.closed_calls, 1);
	test_fx_finish(&fx);
}

/* Nothing listens on the backend port: the client sees EOF, the connection
 * ends, the failure is counted. */
static void test_backend_unreachable(void **state)
{
	struct test_fx fx;

	(void)state;
	test_fx_init(&fx, 5, 0, true);
	test_accept(&fx, 0, false);
	test_write_all(&fx, fx.cli, "anyone there?\n", 14);
	assert_int_equal(test_wait_eof(&fx, fx.cli, 4000), 0);
	assert_true(test_pump_until_closed(&fx, 3000));
	assert_int_equal(fx.closed_calls, 1);
	assert_int_equal(fx.stats.backend_failures, 1);
	test_fx_finish(&fx);
}

/* A client that sends nothing is closed after handshake_timeout (1 s), in
 * the passthrough pre-read and in the TLS handshake of a terminate service;
 * no backend connection is ever made. */
static void test_silent_client(void **state)
{
	for (size_t idx = 0; idx < 2; idx++) {
		struct test_fx fx;
		double t0, took;
		int r;

		(void)state;
		test_fx_init(&fx, 1, 0, false);
		if (idx >= fx.rt->cfg->nservices) {
			test_fx_finish(&fx);
			skip();
		}
		t0 = test_now();
		test_accept(&fx, idx, false);
		r = test_wait_eof(&fx, fx.cli, 4000);
		took = test_now() - t0;
		if (r != 0)
			fail_msg("service %zu: silent client not closed (%d)",
				 idx, r);
		assert_true(took >= 0.9 && took < 2.5);
		assert_true(test_pump_until_closed(&fx, 1000));
		assert_int_equal(fx.closed_calls, 1);
		assert_int_equal(fx.stats.handshake_failures[PROXY_HS_TIMEOUT],
				 1);
		assert_int_equal(fx.stats.open, 0);
		assert_int_equal(accept(fx.lsock, NULL, NULL), -1);
		test_fx_finish(&fx);
	}
}

/* proxy_close_all ends every connection, in every state: relaying,
 * pre-reading, and (terminate) in the TLS handshake. */
static void test_close_all(void **state)
{
	struct test_fx fx;
	int cli[3] = {-1, -1, -1};
	int be = -1;
	size_t nconn;
	char buf[8];

	(void)state;
	test_fx_init(&fx, 5, 0, false);
	/* 1: relaying */
	test_accept(&fx, 0, false);
	test_write_all(&fx, fx.cli, "one", 3);
	test_accept_backend(&fx);
	test_read_exact(&fx, fx.be, buf, 3);
	cli[0] = fx.cli;
	be = fx.be;
	fx.be = -1;
	/* 2: pre-reading (nothing sent yet) */
	test_accept(&fx, 0, false);
	cli[1] = fx.cli;
	nconn = 2;
	/* 3: terminate, handshake not started */
	if (fx.rt->cfg->nservices > 1) {
		test_accept(&fx, 1, false);
		cli[2] = fx.cli;
		nconn = 3;
	}
	fx.cli = -1;
	test_pump_ms(&fx, 20);
	assert_int_equal(fx.owner.nconns, nconn);
	proxy_close_all(&fx.owner, "shutdown");
	assert_int_equal(fx.owner.nconns, 0);
	assert_null(fx.owner.conns);
	assert_int_equal(fx.closed_calls, (int)nconn);
	/* The shutdown deadline cuts what was flowing: the peers must see
	 * a reset (TCP) or at least an end (a socketpair has no RST), never
	 * a clean close that a close-delimited stream would take as
	 * complete. */
	for (size_t i = 0; i < nconn; i++) {
		int r = test_wait_eof(&fx, cli[i], 1000);
		assert_true(r == 0 || r == -ECONNRESET);
	}
	assert_int_equal(test_wait_eof(&fx, be, 1000), -ECONNRESET);
	for (size_t i = 0; i < nconn; i++)
		close(cli[i]);
	close(be);
	test_fx_finish(&fx);
}

/* ---- the state machine ------------------------------------------------ */

/* The transition table, spelled out once more: every pair not listed here
 * must be refused, so a new transition needs a decision in both places. */
static void test_state_table(void **state)
{
	static const struct {
		enum proxy_state from, to;
	} allowed[] = {
		{PROXY_PREREAD, PROXY_CONNECTING},
		{PROXY_PREREAD, PROXY_CLOSED},
		{PROXY_PREREAD,
		 PROXY_FLUSH}, /* tls-alpn-01 answered on passthrough */
		{PROXY_HANDSHAKE, PROXY_WAIT},
		{PROXY_HANDSHAKE, PROXY_CONNECTING},
		{PROXY_HANDSHAKE, PROXY_CLOSED},
		{PROXY_WAIT, PROXY_CONNECTING},
		{PROXY_WAIT, PROXY_FLUSH},
		{PROXY_WAIT, PROXY_CLOSED},
		{PROXY_CONNECTING, PROXY_BACKEND_TLS},
		{PROXY_CONNECTING, PROXY_RELAY},
		{PROXY_CONNECTING, PROXY_FLUSH},
		{PROXY_CONNECTING, PROXY_CLOSED},
		{PROXY_BACKEND_TLS, PROXY_CONNECTING},
		{PROXY_BACKEND_TLS, PROXY_RELAY},
		{PROXY_BACKEND_TLS, PROXY_FLUSH},
		{PROXY_BACKEND_TLS, PROXY_CLOSED},
		{PROXY_RELAY, PROXY_FLUSH},
		{PROXY_RELAY, PROXY_CLOSED},
		{PROXY_FLUSH, PROXY_CLOSED},
	};
	(void)state;
	for (int f = 0; f < PROXY_NSTATES; f++) {
		for (int t = 0; t < PROXY_NSTATES; t++) {
			bool want = false;
			for (size_t i = 0;
			     i < sizeof(allowed) / sizeof(allowed[0]); i++)
				if (allowed[i].from == (enum proxy_state)f &&
				    allowed[i].to == (enum proxy_state)t)
					want = true;
			if (proxy_state_allowed(f, t) != want)
				fail_msg("%s -> %s: table says %d, expected %d",
					 proxy_state_name(f),
					 proxy_state_name(t),
					 proxy_state_allowed(f, t), want);
		}
		/* Every state but CLOSED can close; nothing leaves CLOSED,
		 * and nothing goes back to the client's first states. */
		assert_int_equal(proxy_state_allowed(f, PROXY_CLOSED),
				 f != PROXY_CLOSED);
		assert_false(proxy_state_allowed(f, PROXY_HANDSHAKE));
		assert_false(proxy_state_allowed(f, PROXY_PREREAD));
	}
	assert_false(proxy_state_allowed(PROXY_NSTATES, PROXY_CLOSED));
}

/* A close requested while a callback holds the connection: the log line
 * and the sockets go at once, the struct stays readable (state CLOSED)
 * until the last release frees it (ASan would see a use after free or a
 * leak otherwise), and a second close is a no-op. */
static void test_deferred_close(void **state)
{
	struct test_fx fx;
	struct proxy_conn *c;

	(void)state;
	test_fx_init(&fx, 5, 0, false);
	test_accept(&fx, 0, false);
	c = fx.owner.conns;
	assert_non_null(c);
	proxy_hold(c);
	proxy_hold(c);
	proxy_conn_close(c, "test close");
	assert_int_equal(c->state, PROXY_CLOSED);
	assert_true(proxy_closed(c));
	assert_null(c->client.bev);
	assert_int_equal(fx.owner.nconns, 0);
	assert_null(fx.owner.conns);
	assert_int_equal(fx.closed_calls, 1);
	proxy_conn_close(c, "again");
	assert_int_equal(fx.closed_calls, 1);
	proxy_release(c);
	assert_int_equal(c->state, PROXY_CLOSED); /* still held once */
	proxy_release(c);			  /* freed here */
	assert_int_equal(test_wait_eof(&fx, fx.cli, 1000), 0);
	close(fx.cli);
	fx.cli = -1;
	test_fx_finish(&fx);
}

/* ---- terminate: an OpenSSL client on the socketpair -----------------------
 */

/* Drive SSL_do_handshake on a non-blocking socket while pumping. */
static void test_tls_handshake(struct test_fx *fx, SSL *ssl)
{
	double end = test_now() + 5.0;
	int r;

	while ((r = SSL_do_handshake(ssl)) != 1) {
		int e = SSL_get_error(ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			char why[256] = "";
			ERR_error_string_n(ERR_get_error(), why, sizeof(why));
			fail_msg("client handshake failed (%d): %s", e, why);
		}
		if (test_now() > end)
			fail_msg("client handshake timed out");
		test_pump(fx);
	}
}

static void test_tls_read_exact(struct test_fx *fx, SSL *ssl, void *buf,
				size_t len)
{
	char *p = buf;
	double end = test_now() + 10.0;

	while (len > 0) {
		int n = SSL_read(ssl, p, (int)len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		int e = SSL_get_error(ssl, n);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			fail_msg("SSL_read: error %d with %zu bytes expected",
				 e, len);
		if (test_now() > end)
			fail_msg("SSL_read: timed out");
		test_pump(fx);
	}
}

static void test_tls_write(struct test_fx *fx, SSL *ssl, const void *buf,
			   size_t len)
{
	double end = test_now() + 10.0;
	int n;

	while ((n = SSL_write(ssl, buf, (int)len)) <= 0) {
		int e = SSL_get_error(ssl, n);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			fail_msg("SSL_write: error %d", e);
		if (test_now() > end)
			fail_msg("SSL_write: timed out");
		test_pump(fx);
	}
	assert_int_equal(n, (int)len);
}

/* Terminate: bytes both ways, the client's close_notify + FIN reaches the
 * backend as EOF, the backend answers after it, and the backend's close
 * reaches the client as close_notify (a clean TLS end). */
/* A TLS client on FX's client socket (no verification, SNI
 * as.cwa.example.com), handshaken; its context in *CTX (both the
 * caller's). */
static SSL *test_tls_client(struct test_fx *fx, SSL_CTX **ctx)
{
	SSL *ssl;

	*ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(*ctx);
	SSL_CTX_set_verify(*ctx, SSL_VERIFY_NONE, NULL);
	ssl = SSL_new(*ctx);
	assert_non_null(ssl);
	SSL_set_tlsext_host_name(ssl, "as.cwa.example.com");
	SSL_set_fd(ssl, fx->cli);
	SSL_set_connect_state(ssl);
	test_tls_handshake(fx, ssl);
	return ssl;
}

static void test_terminate_half_close(void **state)
{
	struct test_fx fx;
	SSL_CTX *ctx;
	SSL *ssl;
	char buf[64];
	double end;
	int r;

	(void)state;
	test_fx_init(&fx, 5, 0, false);
	if (fx.rt->cfg->nservices < 2) {
		test_fx_finish(&fx);
		skip();
	}
	test_accept(&fx, 1, false);
	ssl = test_tls_client(&fx, &ctx);
	test_tls_write(&fx, ssl, "ping\n", 5);
	test_accept_backend(&fx);
	test_read_exact(&fx, fx.be, buf, 5);
	assert_memory_equal(buf, "ping\n", 5);
	test_write_all(&fx, fx.be, "pong\n", 5);
	test_tls_read_exact(&fx, ssl, buf, 5);
	assert_memory_equal(buf, "pong\n", 5);

	/* Client: close_notify, then FIN. */
	r = SSL_shutdown(ssl);
	assert_true(r >= 0);
	assert_int_equal(shutdown(fx.cli, SHUT_WR), 0);
	assert_int_equal(test_wait_eof(&fx, fx.be, 3000), 0);
	assert_int_equal(fx.owner.nconns, 1);
	test_write_all(&fx, fx.be, "late\n", 5);
	test_tls_read_exact(&fx, ssl, buf, 5);
	assert_memory_equal(buf, "late\n", 5);
	close(fx.be);
	fx.be = -1;
	/* The client gets edge443's close_notify. */
	end = test_now() + 3.0;
	for (;;) {
		r = SSL_read(ssl, buf, sizeof(buf));
		int e = SSL_get_error(ssl, r);
		if (e == SSL_ERROR_ZERO_RETURN)
			break;
		if (e != SSL_ERROR_WANT_READ)
			fail_msg("expected close_notify from edge443, got "
				 "SSL error %d",
				 e);
		if (test_now() > end)
			fail_msg("no close_notify within 3 s");
		test_pump(&fx);
	}
	assert_true(test_pump_until_closed(&fx, 3000));
	assert_int_equal(fx.closed_calls, 1);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	test_fx_finish(&fx);
}

/* ---- TLS read-ahead: records that arrive together ------------------------
 * The client below writes into a memory BIO, so that the test decides what
 * leaves in one segment.  edge443's SSLs read ahead: one read(2) takes
 * every record of a segment, and libevent's bufferevent_openssl, which
 * only asks SSL_pending, would leave the records after the first one in
 * OpenSSL's buffer while it waits for a socket that has nothing more to
 * say.  Each step here sends several records in one segment and then
 * waits: without proxy_side_read_buffered, each one stalls. */

/* What the client wrote so far, in one send(2). */
static void test_mem_flush(struct test_fx *fx, BIO *wbio)
{
	char *p = NULL;
	long n = BIO_get_mem_data(wbio, &p);

	if (n > 0)
		test_write_all(fx, fx->cli, p, (size_t)n);
	assert_int_equal(BIO_reset(wbio), 1);
}

/* What edge443 sent so far, into the client's memory BIO. */
static void test_mem_feed(struct test_fx *fx, BIO *rbio)
{
	char buf[16384];
	ssize_t n;

	while ((n = recv(fx->cli, buf, sizeof(buf), 0)) > 0)
		assert_int_equal(BIO_write(rbio, buf, (int)n), (int)n);
}

static void test_mem_read_exact(struct test_fx *fx, SSL *ssl, BIO *rbio,
				void *buf, size_t len)
{
	char *p = buf;
	double end = test_now() + 10.0;

	while (len > 0) {
		int n = SSL_read(ssl, p, (int)len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (SSL_get_error(ssl, n) != SSL_ERROR_WANT_READ)
			fail_msg("SSL_read: error with %zu bytes expected",
				 len);
		if (test_now() > end)
			fail_msg("SSL_read: timed out");
		test_pump(fx);
		test_mem_feed(fx, rbio);
	}
}

static void test_terminate_records_together(void **state)
{
	struct test_fx fx;
	SSL_CTX *ctx;
	SSL *ssl;
	BIO *rbio, *wbio;
	char buf[64];
	double end;
	int r;

	(void)state;
	test_fx_init(&fx, 5, 0, false);
	if (fx.rt->cfg->nservices < 2) {
		test_fx_finish(&fx);
		skip();
	}
	test_accept(&fx, 1, false);
	ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(ctx);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	ssl = SSL_new(ctx);
	assert_non_null(ssl);
	rbio = BIO_new(BIO_s_mem());
	wbio = BIO_new(BIO_s_mem());
	assert_true(rbio && wbio);
	SSL_set_bio(ssl, rbio, wbio);
	SSL_set_tlsext_host_name(ssl, "as.cwa.example.com");
	SSL_set_connect_state(ssl);
	end = test_now() + 5.0;
	while ((r = SSL_do_handshake(ssl)) != 1) {
		if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ)
			fail_msg("client handshake failed");
		if (test_now() > end)
			fail_msg("client handshake timed out");
		test_mem_flush(&fx, wbio);
		test_pump(&fx);
		test_mem_feed(&fx, rbio);
	}

	/* 1. The client's Finished and two records, in one segment. */
	assert_int_equal(SSL_write(ssl, "one\n", 4), 4);
	assert_int_equal(SSL_write(ssl, "two\n", 4), 4);
	test_mem_flush(&fx, wbio);
	test_accept_backend(&fx);
	test_read_exact(&fx, fx.be, buf, 8);
	assert_memory_equal(buf, "one\ntwo\n", 8);
	test_write_all(&fx, fx.be, "pong\n", 5);
	test_mem_read_exact(&fx, ssl, rbio, buf, 5);
	assert_memory_equal(buf, "pong\n", 5);

	/* 2. Three records in one segment, on an open connection. */
	assert_int_equal(SSL_write(ssl, "three\n", 6), 6);
	assert_int_equal(SSL_write(ssl, "four\n", 5), 5);
	assert_int_equal(SSL_write(ssl, "five\n", 5), 5);
	test_mem_flush(&fx, wbio);
	test_read_exact(&fx, fx.be, buf, 16);
	assert_memory_equal(buf, "three\nfour\nfive\n", 16);

	/* 3. A record and the close_notify in one segment, without a FIN:
	 * the close_notify is passed on as the backend's EOF. */
	assert_int_equal(SSL_write(ssl, "last\n", 5), 5);
	assert_true(SSL_shutdown(ssl) >= 0);
	test_mem_flush(&fx, wbio);
	test_read_exact(&fx, fx.be, buf, 5);
	assert_memory_equal(buf, "last\n", 5);
	assert_int_equal(test_wait_eof(&fx, fx.be, 3000), 0);
	close(fx.be);
	fx.be = -1;
	assert_true(test_pump_until_closed(&fx, 3000));
	assert_int_equal(fx.closed_calls, 1);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	test_fx_finish(&fx);
}

/* Terminate, both directions against a peer that does not read: backend
 * data for a client that stops reading waits in the client's output (the
 * write event re-armed by new output after the handshake left it off),
 * client data for a backend that stops reading pauses the client (with
 * read-ahead, records may wait in OpenSSL while it is paused); then both
 * drain, byte-exact. */
static void test_terminate_backpressure(void **state)
{
	struct test_fx fx;
	size_t total = 16 * TEST_MiB;
	size_t chunk = 64 * 1024;
	uint8_t *buf = malloc(chunk), *rbuf = malloc(chunk);
	int small = 64 * 1024;
	SSL_CTX *ctx;
	SSL *ssl;
	double end;

	(void)state;
	assert_non_null(buf && rbuf);
	test_fx_init(&fx, 5, small, false);
	if (fx.rt->cfg->nservices < 2) {
		test_fx_finish(&fx);
		free(buf);
		free(rbuf);
		skip();
	}
	test_accept(&fx, 1, false);
	setsockopt(fx.cli, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	setsockopt(fx.cli, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	ssl = test_tls_client(&fx, &ctx);
	test_tls_write(&fx, ssl, "x", 1);
	test_accept_backend(&fx);
	test_read_exact(&fx, fx.be, rbuf, 1);

	/* Backend -> client: write until blocked for 300 ms, then read. */
	size_t written = 0, rcvd = 0;
	double stalled_since = 0;
	end = test_now() + 20.0;
	while (written < total && test_now() < end) {
		ssize_t n = test_send_next(fx.be, buf, &written, total, chunk);
		if (n > 0) {
			stalled_since = 0;
			event_base_loop(fx.owner.base, EVLOOP_NONBLOCK);
			continue;
		}
		assert_true(n < 0 && errno == EAGAIN);
		if (stalled_since == 0)
			stalled_since = test_now();
		else if (test_now() - stalled_since > 0.3)
			break;
		test_pump(&fx);
	}
	assert_true(written < total);
	end = test_now() + 30.0;
	while (rcvd < total && test_now() < end) {
		if (written < total) {
			test_send_next(fx.be, buf, &written, total, chunk);
		}
		int n = SSL_read(ssl, rbuf, (int)chunk);
		if (n > 0) {
			test_check_next(rbuf, (size_t)n, &rcvd,
					"to the client");
		} else {
			assert_int_equal(SSL_get_error(ssl, n),
					 SSL_ERROR_WANT_READ);
		}
		event_base_loop(fx.owner.base, EVLOOP_NONBLOCK);
	}
	assert_int_equal(rcvd, total);

	/* Client -> backend: the same the other way. */
	written = rcvd = 0;
	stalled_since = 0;
	end = test_now() + 20.0;
	while (written < total && test_now() < end) {
		size_t len = total - written < 16384 ? total - written : 16384;
		test_fill(buf, written, len);
		int n = SSL_write(ssl, buf, (int)len);
		if (n > 0) {
			written += (size_t)n;
			stalled_since = 0;
			event_base_loop(fx.owner.base, EVLOOP_NONBLOCK);
			continue;
		}
		assert_int_equal(SSL_get_error(ssl, n), SSL_ERROR_WANT_WRITE);
		if (stalled_since == 0)
			stalled_since = test_now();
		else if (test_now() - stalled_since > 0.3)
			break;
		test_pump(&fx);
	}
	assert_true(written < total);
	end = test_now() + 30.0;
	while (rcvd < total && test_now() < end) {
		if (written < total) {
			size_t len = total - written < 16384 ? total - written
							     : 16384;
			test_fill(buf, written, len);
			int n = SSL_write(ssl, buf, (int)len);
			if (n > 0)
				written += (size_t)n;
			else
				assert_int_equal(SSL_get_error(ssl, n),
						 SSL_ERROR_WANT_WRITE);
		}
		ssize_t n = recv(fx.be, rbuf, chunk, 0);
		if (n > 0) {
			test_check_next(rbuf, (size_t)n, &rcvd,
					"to the backend");
		} else {
			assert_true(n < 0 && errno == EAGAIN);
		}
		event_base_loop(fx.owner.base, EVLOOP_NONBLOCK);
	}
	assert_int_equal(rcvd, total);
	assert_int_equal(fx.owner.nconns, 1);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	test_fx_finish(&fx);
	free(buf);
	free(rbuf);
}

/* An http service without a backend (check refuses it: backend-required):
 * the first request used to free the connection inside
 * proxy_connect_backend while proxy_http.c still read it.  With the
 * deferred close it just ends (ASan checks every access). */
/* A backend's large read goes to the TLS client as one batch of records in
 * one write(2) (proxy_send_bytes).  With the client not reading, the socket
 * takes part of the batch and the rest is held; then the client reads:
 * every byte arrives in order, and edge443's close_notify (the backend
 * closed meanwhile) comes after the held records, never before. */
static void test_terminate_held_batch(void **state)
{
	struct test_fx fx;
	size_t total = 2 * TEST_MiB, chunk = 256 * 1024;
	uint8_t *buf = malloc(chunk), *rbuf = malloc(chunk);
	int small = 32 * 1024;
	SSL_CTX *ctx;
	SSL *ssl;
	double end;

	(void)state;
	assert_non_null(buf && rbuf);
	test_fx_init(&fx, 5, 0, false);
	if (fx.rt->cfg->nservices < 2) {
		test_fx_finish(&fx);
		free(buf);
		free(rbuf);
		skip();
	}
	test_accept(&fx, 1, false);
	setsockopt(fx.cli, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	ssl = test_tls_client(&fx, &ctx);
	test_tls_write(&fx, ssl, "x", 1);
	test_accept_backend(&fx);
	test_read_exact(&fx, fx.be, rbuf, 1);

	/* 256 KiB at once from the backend, before edge443 reads: one
	 * direct read, one batch of 16 records, more than the client's
	 * socket takes. */
	test_fill(buf, 0, chunk);
	test_write_all(&fx, fx.be, buf, chunk);
	test_pump_ms(&fx, 200);
	struct proxy_conn *c = fx.owner.conns;
	assert_non_null(c);
	assert_non_null(c->client.held);
	assert_true(evbuffer_get_length(c->client.held) > 0);
	assert_true(proxy_side_pending(&c->client) >=
		    evbuffer_get_length(c->client.held));

	/* The rest, then the backend's end; the client reads it all. */
	size_t written = chunk, rcvd = 0;
	bool closed = false;
	end = test_now() + 30.0;
	while (test_now() < end) {
		if (written < total) {
			test_send_next(fx.be, buf, &written, total, chunk);
		} else if (!closed) {
			close(fx.be);
			fx.be = -1;
			closed = true;
		}
		int n = SSL_read(ssl, rbuf, (int)chunk);
		if (n > 0) {
			test_check_next(rbuf, (size_t)n, &rcvd,
					"to the client");
		} else {
			int e = SSL_get_error(ssl, n);
			if (e == SSL_ERROR_ZERO_RETURN)
				break;
			assert_int_equal(e, SSL_ERROR_WANT_READ);
		}
		event_base_loop(fx.owner.base, EVLOOP_NONBLOCK);
	}
	/* close_notify, and only after every byte. */
	assert_int_equal(rcvd, total);
	assert_true(closed);
	/* The client ends too: the connection closes. */
	assert_true(SSL_shutdown(ssl) >= 0);
	assert_int_equal(shutdown(fx.cli, SHUT_WR), 0);
	assert_true(test_pump_until_closed(&fx, 3000));
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	test_fx_finish(&fx);
	free(buf);
	free(rbuf);
}

static void test_http_no_backend(void **state)
{
	static const char req[] = "GET / HTTP/1.1\r\n"
				  "Host: as.cwa.example.com\r\n\r\n";
	struct test_fx fx;
	SSL_CTX *ctx;
	SSL *ssl;

	(void)state;
	test_fx_init(&fx, 5, 0, false);
	if (fx.rt->cfg->nservices < 3) {
		test_fx_finish(&fx);
		skip();
	}
	test_accept_hooks(&fx, 2, false, &proxy_http_hooks);
	ssl = test_tls_client(&fx, &ctx);
	test_tls_write(&fx, ssl, req, sizeof(req) - 1);
	assert_true(test_pump_until_closed(&fx, 3000));
	assert_int_equal(fx.closed_calls, 1);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	test_fx_finish(&fx);
}

/* Terminate: garbage instead of a ClientHello is a handshake failure, not a
 * hang; no backend connection. */
static void test_terminate_garbage(void **state)
{
	struct test_fx fx;
	char junk[600];

	(void)state;
	test_fx_init(&fx, 5, 0, false);
	if (fx.rt->cfg->nservices < 2) {
		test_fx_finish(&fx);
		skip();
	}
	memset(junk, 'G', sizeof(junk));
	memcpy(junk, "\x16\x03\x01\x00\x05garbage", 12);
	test_accept(&fx, 1, false);
	test_write_all(&fx, fx.cli, junk, sizeof(junk));
	/* An alert may come first, then EOF. */
	double end = test_now() + 3.0;
	int r = 1;
	while (test_now() < end) {
		char buf[256];
		ssize_t n = recv(fx.cli, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			r = 0;
			break;
		}
		if (n > 0)
			assert_int_equal(buf[0], 0x15); /* alert record */
		test_pump(&fx);
	}
	assert_int_equal(r, 0);
	assert_true(test_pump_until_closed(&fx, 1000));
	assert_int_equal(fx.stats.handshake_failures[PROXY_HS_ERROR], 1);
	assert_int_equal(accept(fx.lsock, NULL, NULL), -1);
	test_fx_finish(&fx);
}

/* proxy_send_chunk: a head and a body held in separate chunks leave as one
 * SSL_write (one TLS record, one write(2)); a large chunk is not copied; an
 * empty buffer gives nothing. */
static void test_send_chunk_joins(void **state)
{
	static const char head[] =
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
	static char big[3 * PROXY_RECORD];
	struct evbuffer *b = evbuffer_new();
	struct evbuffer_iovec v;

	(void)state;
	assert_non_null(b);
	assert_false(proxy_send_chunk(b, &v));
	assert_int_equal(
		evbuffer_add_reference(b, head, strlen(head), NULL, NULL), 0);
	assert_int_equal(evbuffer_add_reference(b, "hello", 5, NULL, NULL), 0);
	assert_true(evbuffer_get_length(b) == strlen(head) + 5);
	assert_true(proxy_send_chunk(b, &v));
	assert_int_equal(v.iov_len, strlen(head) + 5);
	assert_memory_equal(v.iov_base, head, strlen(head));
	assert_memory_equal((char *)v.iov_base + strlen(head), "hello", 5);
	evbuffer_drain(b, v.iov_len);

	/* More than a record: the first SSL_write carries a full record. */
	memset(big, 'x', sizeof(big));
	assert_int_equal(evbuffer_add_reference(b, "y", 1, NULL, NULL), 0);
	assert_int_equal(
		evbuffer_add_reference(b, big, sizeof(big), NULL, NULL), 0);
	assert_true(proxy_send_chunk(b, &v));
	assert_int_equal(v.iov_len, PROXY_RECORD);
	assert_int_equal(((char *)v.iov_base)[0], 'y');
	evbuffer_drain(b, v.iov_len);
	/* What is left is one large chunk: handed over as it is. */
	assert_true(proxy_send_chunk(b, &v));
	assert_int_equal(v.iov_len, sizeof(big) + 1 - PROXY_RECORD);
	assert_ptr_equal(v.iov_base, big + PROXY_RECORD - 1);
	evbuffer_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes_both_ways),
		cmocka_unit_test(test_client_half_close),
		cmocka_unit_test(test_backend_half_close),
		cmocka_unit_test(test_early_eof),
		cmocka_unit_test(test_backend_close_flushes),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_client_reset),
		cmocka_unit_test(test_client_reset_unix),
		cmocka_unit_test(test_backend_unreachable),
		cmocka_unit_test(test_silent_client),
		cmocka_unit_test(test_close_all),
		cmocka_unit_test(test_state_table),
		cmocka_unit_test(test_deferred_close),
		cmocka_unit_test(test_terminate_half_close),
		cmocka_unit_test(test_terminate_records_together),
		cmocka_unit_test(test_terminate_backpressure),
		cmocka_unit_test(test_terminate_held_batch),
		cmocka_unit_test(test_http_no_backend),
		cmocka_unit_test(test_terminate_garbage),
		cmocka_unit_test(test_send_chunk_joins),
	};

	/* Connection lines go to stderr; keep them for failure analysis. */
	log_open(LOG_TARGET_STDERR, NULL, LOG_LEVEL_DEBUG);
	signal(SIGPIPE, SIG_IGN);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	log_close();
	return rc;
}
