/* test_backend.c — server choice, connect with failover, PROXY headers
 * (src/serve/backend.c).
 *
 * Connect tests run a real libevent loop against loopback sockets made here:
 * a listening socket (a good server), a socket bound but not listening (a
 * server that refuses: the kernel answers RST) and a listening socket with
 * backlog 0 whose accept queue is already full (Linux drops further SYNs, so
 * a connect hangs until our timeout).  Each test also checks that no file
 * descriptor is left open.  PROXY headers are compared byte for byte.
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sys/wait.h>

#include <cmocka.h>

#include "edge443/serve/backend.h"

/* ---- helpers ---------------------------------------------------------- */

#define TEST_MAX_SERVERS 4

/* A backend of up to TEST_MAX_SERVERS loopback servers and the sockets
 * that play them. */
struct test_backend {
	struct config_backend be;
	struct config_addr servers[TEST_MAX_SERVERS];
	char text[TEST_MAX_SERVERS][64];
	int sock[TEST_MAX_SERVERS];   /* our end: listener / bound socket */
	int filler[TEST_MAX_SERVERS]; /* connection filling a full backlog */
	struct backend_pool pool;
};

/* What the connect callback saw. */
struct test_outcome {
	struct event_base *base;
	int called;
	int start_returned; /* set by the test right after start returns */
	int reentrant;	    /* the callback ran inside backend_connect_start */
	int fd;
	size_t server;
	enum backend_result result;
	char reason[2048];
	int has_reason;
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

static void test_backend_init(struct test_backend *tb)
{
	memset(tb, 0, sizeof(*tb));
	for (int i = 0; i < TEST_MAX_SERVERS; i++) {
		tb->sock[i] = -1;
		tb->filler[i] = -1;
	}
	tb->be.name = "cwa";
	tb->be.servers = tb->servers;
	tb->pool.be = &tb->be;
	atomic_init(&tb->pool.next, 0);
}

/* Add a loopback server: KIND 'l' listening, 'r' refusing, 'h' hanging
 * (accept queue full), 'x' an address family no socket can have. */
static size_t test_backend_add(struct test_backend *tb, char kind)
{
	size_t i = tb->be.nservers++;
	struct config_addr *a = &tb->servers[i];
	struct sockaddr_in *sin = (struct sockaddr_in *)&a->sa;
	socklen_t len = sizeof(*sin);
	int fd;

	assert_true(i < TEST_MAX_SERVERS);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->salen = sizeof(*sin);
	if (kind == 'x') {
		sin->sin_family = AF_UNSPEC;
		sin->sin_port = htons(9);
		a->port = 9;
		snprintf(tb->text[i], sizeof(tb->text[i]), "bogus:9");
		a->text = tb->text[i];
		return i;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)sin, sizeof(*sin)), 0);
	if (kind == 'l')
		assert_int_equal(listen(fd, 16), 0);
	if (kind == 'h')
		assert_int_equal(listen(fd, 0), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)sin, &len), 0);
	tb->sock[i] = fd;
	a->port = ntohs(sin->sin_port);
	snprintf(tb->text[i], sizeof(tb->text[i]), "127.0.0.1:%d", a->port);
	a->text = tb->text[i];
	if (kind == 'h') {
		/* Backlog 0 admits one connection to the accept queue; with it
		 * full, Linux drops SYNs, so the next connect hangs. */
		int f = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		assert_true(f >= 0);
		assert_int_equal(
			connect(f, (struct sockaddr *)sin, sizeof(*sin)), 0);
		tb->filler[i] = f;
	}
	return i;
}

static void test_backend_done(struct test_backend *tb)
{
	for (int i = 0; i < TEST_MAX_SERVERS; i++) {
		if (tb->sock[i] >= 0)
			close(tb->sock[i]);
		if (tb->filler[i] >= 0)
			close(tb->filler[i]);
	}
}

static void test_connect_cb(int fd, size_t server, enum backend_result result,
			    const char *reason, void *arg)
{
	(void)result;
	struct test_outcome *o = arg;

	o->called++;
	if (!o->start_returned)
		o->reentrant = 1;
	o->fd = fd;
	o->server = server;
	o->result = result;
	o->has_reason = reason != NULL;
	snprintf(o->reason, sizeof(o->reason), "%s", reason ? reason : "");
	event_base_loopbreak(o->base);
}

static void test_outcome_init(struct test_outcome *o, struct event_base *base)
{
	memset(o, 0, sizeof(*o));
	o->base = base;
	o->fd = -2;
}

/* Start a connect and run the loop until its callback ran (or 10 s). */
static void test_connect(struct event_base *base, struct test_backend *tb,
			 int timeout, struct test_outcome *o)
{
	struct timeval limit = {10, 0};
	struct backend_connect *bc;

	test_outcome_init(o, base);
	bc = backend_connect_start(base, &tb->pool, timeout, test_connect_cb,
				   o);
	o->start_returned = 1;
	assert_non_null(bc);
	assert_int_equal(o->called, 0);
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	assert_int_equal(o->called, 1);
	assert_false(o->reentrant);
}

/* The peer of a connected fd is really our listener: accept it. */
static void test_assert_accepts(int listener)
{
	int c = accept(listener, NULL, NULL);

	assert_true(c >= 0);
	close(c);
}

static int test_setup(void **state)
{
	struct event_base *base = event_base_new();

	if (base == NULL)
		return -1;
	*state = base;
	return 0;
}

static int test_teardown(void **state)
{
	event_base_free(*state);
	return 0;
}

/* ---- connect ---------------------------------------------------------- */

static void test_connect_one_server(void **state)
{
	struct event_base *base = *state;
	int fds = test_count_fds();
	struct test_backend tb;
	struct test_outcome o;

	test_backend_init(&tb);
	test_backend_add(&tb, 'l');
	test_connect(base, &tb, 5, &o);
	assert_true(o.fd >= 0);
	assert_int_equal(o.result, BACKEND_OK);
	assert_int_equal(o.server, 0);
	assert_false(o.has_reason);
	test_assert_accepts(tb.sock[0]);
	close(o.fd);
	test_backend_done(&tb);
	assert_int_equal(test_count_fds(), fds);
}

static void test_connect_failover(void **state)
{
	struct event_base *base = *state;
	int fds = test_count_fds();
	struct test_backend tb;
	struct test_outcome o;
	char want[512];

	test_backend_init(&tb);
	test_backend_add(&tb, 'r');
	test_backend_add(&tb, 'l');
	test_connect(base, &tb, 5, &o);
	assert_true(o.fd >= 0);
	assert_int_equal(o.server, 1);
	test_assert_accepts(tb.sock[1]);
	/* The reason on success names the server that failed first. */
	assert_true(o.has_reason);
	snprintf(want, sizeof(want), "%s: Connection refused", tb.text[0]);
	assert_string_equal(o.reason, want);
	close(o.fd);
	test_backend_done(&tb);
	assert_int_equal(test_count_fds(), fds);
}

static void test_connect_all_refused(void **state)
{
	struct event_base *base = *state;
	int fds = test_count_fds();
	struct test_backend tb;
	struct test_outcome o;
	char want[512];

	test_backend_init(&tb);
	test_backend_add(&tb, 'r');
	test_backend_add(&tb, 'r');
	test_backend_add(&tb, 'r');
	atomic_store(&tb.pool.next, 1); /* start at the second server */
	test_connect(base, &tb, 5, &o);
	assert_int_equal(o.fd, -1);
	assert_int_equal(o.result, BACKEND_FAILED);
	snprintf(want, sizeof(want),
		 "all servers of backend \"cwa\" failed: "
		 "%s: Connection refused; %s: Connection refused; "
		 "%s: Connection refused",
		 tb.text[1], tb.text[2], tb.text[0]);
	assert_string_equal(o.reason, want);
	test_backend_done(&tb);
	assert_int_equal(test_count_fds(), fds);
}

/* An error seen inside backend_connect_start (here socket() fails) is still
 * reported from the loop, not from inside the call. */
static void test_connect_immediate_error_deferred(void **state)
{
	struct event_base *base = *state;
	int fds = test_count_fds();
	struct test_backend tb;
	struct test_outcome o;

	test_backend_init(&tb);
	test_backend_add(&tb, 'x');
	test_connect(base, &tb, 5, &o); /* asserts not re-entrant */
	assert_int_equal(o.fd, -1);
	assert_non_null(strstr(o.reason, "all servers of backend \"cwa\" "
					 "failed: bogus:9: "));
	test_backend_done(&tb);
	assert_int_equal(test_count_fds(), fds);
}

static void test_connect_no_servers(void **state)
{
	struct event_base *base = *state;
	struct test_backend tb;
	struct test_outcome o;

	test_backend_init(&tb);
	test_connect(base, &tb, 5, &o);
	assert_int_equal(o.fd, -1);
	assert_int_equal(o.result, BACKEND_FAILED);
	assert_string_equal(o.reason, "backend \"cwa\" has no servers");
}

static void test_connect_timeout(void **state)
{
	struct event_base *base = *state;
	int fds = test_count_fds();
	struct test_backend tb;
	struct test_outcome o;
	struct timespec t0, t1;
	char want[512];
	double secs;

	test_backend_init(&tb);
	test_backend_add(&tb, 'h');
	test_backend_add(&tb, 'l');
	clock_gettime(CLOCK_MONOTONIC, &t0);
	test_connect(base, &tb, 1, &o);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (o.fd >= 0 && o.server == 0) {
		/* A kernel that queues beyond the backlog: the trick does not
		 * work here, so the timeout path cannot be exercised. */
		close(o.fd);
		test_backend_done(&tb);
		skip();
	}
	assert_true(o.fd >= 0);
	assert_int_equal(o.server, 1);
	snprintf(want, sizeof(want), "%s: connect timeout after 1 s",
		 tb.text[0]);
	assert_string_equal(o.reason, want);
	assert_true(secs >= 0.9);
	assert_true(secs < 5.0);
	close(o.fd);
	test_backend_done(&tb);
	assert_int_equal(test_count_fds(), fds);
}

static void test_connect_round_robin(void **state)
{
	struct event_base *base = *state;
	int fds = test_count_fds();
	struct test_backend tb;
	struct test_outcome o;

	test_backend_init(&tb);
	test_backend_add(&tb, 'l');
	test_backend_add(&tb, 'l');
	for (size_t i = 0; i < 6; i++) {
		test_connect(base, &tb, 5, &o);
		assert_true(o.fd >= 0);
		assert_int_equal(o.server, i % 2);
		test_assert_accepts(tb.sock[i % 2]);
		close(o.fd);
	}
	assert_int_equal(atomic_load(&tb.pool.next), 6);
	test_backend_done(&tb);
	assert_int_equal(test_count_fds(), fds);
}

/* Every server timed out: BACKEND_TIMEOUT (an http service answers 504); a
 * timeout and a refusal: BACKEND_FAILED (502). */
static void test_connect_result_timeout(void **state)
{
	static const char *const kinds[] = {"h", "hr"};
	static const enum backend_result want[] = {BACKEND_TIMEOUT,
						   BACKEND_FAILED};
	struct event_base *base = *state;
	int fds = test_count_fds();

	for (size_t k = 0; k < 2; k++) {
		struct test_backend tb;
		struct test_outcome o;

		test_backend_init(&tb);
		for (const char *c = kinds[k]; *c; c++)
			test_backend_add(&tb, *c);
		test_connect(base, &tb, 1, &o);
		if (o.fd >= 0) { /* see test_connect_timeout */
			close(o.fd);
			test_backend_done(&tb);
			skip();
		}
		assert_int_equal(o.result, want[k]);
		assert_non_null(strstr(o.reason, "connect timeout after 1 s"));
		test_backend_done(&tb);
	}
	assert_int_equal(test_count_fds(), fds);
}

/* The lowest free file descriptor. */
static int test_lowest_free_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	close(fd);
	return fd;
}

/* No socket can be had here (EMFILE: the open-files limit is reached): a
 * local failure, not a verdict on the servers.  Neither is marked down or
 * counted, the next server is not tried (it would fail the same way), and
 * the result says BACKEND_LOCAL so the caller need not guess from the
 * text.  Afterwards both servers serve as before. */
static void test_connect_local_error(void **state)
{
	struct event_base *base = *state;
	int fds = test_count_fds();
	struct test_backend tb;
	struct test_outcome o;
	struct timeval limit = {10, 0};
	struct backend_connect *bc;
	struct rlimit saved, low;
	char want[512];

	test_backend_init(&tb);
	test_backend_add(&tb, 'l');
	test_backend_add(&tb, 'l');
	assert_int_equal(backend_pool_init(&tb.pool, &tb.be), 0);

	/* Every descriptor below the lowest free one is taken, so with the
	 * soft limit there socket() fails with EMFILE.  Only around the start:
	 * the failure is seen inside it, and cmocka needs descriptors. */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	low = saved;
	low.rlim_cur = (rlim_t)test_lowest_free_fd();
	test_outcome_init(&o, base);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	bc = backend_connect_start(base, &tb.pool, 5, test_connect_cb, &o);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	o.start_returned = 1;
	assert_non_null(bc);
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	assert_int_equal(o.called, 1);
	assert_false(o.reentrant);

	assert_int_equal(o.fd, -1);
	assert_int_equal(o.result, BACKEND_LOCAL);
	snprintf(want, sizeof(want),
		 "backend \"cwa\": no connection could be opened here (a "
		 "local error, no server judged): %s: %s",
		 tb.text[0], strerror(EMFILE));
	assert_string_equal(o.reason, want); /* one server tried, no more */
	for (size_t i = 0; i < 2; i++) {
		assert_true(backend_server_up(&tb.pool, i));
		assert_int_equal(backend_server_failures(&tb.pool, i), 0);
	}

	/* With descriptors again the round robin goes on, untroubled. */
	test_connect(base, &tb, 5, &o);
	assert_int_equal(o.result, BACKEND_OK);
	assert_int_equal(o.server, 1);
	assert_false(o.has_reason);
	test_assert_accepts(tb.sock[1]);
	close(o.fd);
	backend_pool_free(&tb.pool);
	test_backend_done(&tb);
	assert_int_equal(test_count_fds(), fds);
}

/* ---- passive health ----------------------------------------------------- */

/* A refused server is marked down and then tried after the others: the
 * next connection whose round robin starts at it goes straight to the live
 * server (no failure in the reason); a success marks a server up again. */
static void test_health_down_tried_last(void **state)
{
	struct event_base *base = *state;
	int fds = test_count_fds();
	struct test_backend tb;
	struct test_outcome o;

	test_backend_init(&tb);
	test_backend_add(&tb, 'r');
	test_backend_add(&tb, 'l');
	assert_int_equal(backend_pool_init(&tb.pool, &tb.be), 0);
	assert_true(backend_server_up(&tb.pool, 0));
	test_connect(base, &tb, 5, &o); /* cursor 0: refused, then 1 */
	assert_int_equal(o.server, 1);
	assert_true(o.has_reason);
	test_assert_accepts(tb.sock[1]);
	close(o.fd);
	assert_false(backend_server_up(&tb.pool, 0));
	assert_true(backend_server_up(&tb.pool, 1));
	assert_int_equal(backend_server_failures(&tb.pool, 0), 1);
	assert_int_equal(backend_server_failures(&tb.pool, 1), 0);
	for (int k = 0; k < 2; k++) { /* cursors 1 and 2 (= server 0) */
		test_connect(base, &tb, 5, &o);
		assert_int_equal(o.server, 1);
		assert_false(o.has_reason); /* server 0 was not tried first */
		test_assert_accepts(tb.sock[1]);
		close(o.fd);
	}
	assert_int_equal(backend_server_failures(&tb.pool, 0), 1);

	/* Every server down: they are still tried, and one that answers is
	 * up again. */
	atomic_store(&tb.pool.servers[1].down_until, (long long)1 << 40);
	test_connect(base, &tb, 5, &o);
	assert_int_equal(o.server, 1);
	test_assert_accepts(tb.sock[1]);
	close(o.fd);
	assert_true(backend_server_up(&tb.pool, 1));
	backend_pool_free(&tb.pool);
	test_backend_done(&tb);
	assert_int_equal(test_count_fds(), fds);
}

/* A server that hangs costs the connect timeout once, not for every
 * client: the next connection starting at it does not wait. */
static void test_health_hanging_server_waited_once(void **state)
{
	struct event_base *base = *state;
	int fds = test_count_fds();
	struct test_backend tb;
	struct test_outcome o;
	struct timespec t0, t1;
	double secs;

	test_backend_init(&tb);
	test_backend_add(&tb, 'h');
	test_backend_add(&tb, 'l');
	assert_int_equal(backend_pool_init(&tb.pool, &tb.be), 0);
	test_connect(base, &tb, 1, &o);
	if (o.fd >= 0 && o.server == 0) { /* see test_connect_timeout */
		close(o.fd);
		backend_pool_free(&tb.pool);
		test_backend_done(&tb);
		skip();
	}
	assert_int_equal(o.server, 1);
	test_assert_accepts(tb.sock[1]);
	close(o.fd);
	atomic_store(&tb.pool.next, 0); /* start at the hanging one again */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	test_connect(base, &tb, 1, &o);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_int_equal(o.server, 1);
	assert_false(o.has_reason);
	assert_true(secs < 0.5);
	test_assert_accepts(tb.sock[1]);
	close(o.fd);
	backend_pool_free(&tb.pool);
	test_backend_done(&tb);
	assert_int_equal(test_count_fds(), fds);
}

/* A TLS backend: a failure after the connect (handshake, verification)
 * marks the server down; the connect alone does not mark it up again, the
 * caller's mark_ok after the handshake does. */
static void test_health_tls_marks(void **state)
{
	struct event_base *base = *state;
	int fds = test_count_fds();
	struct test_backend tb;
	struct test_outcome o;

	test_backend_init(&tb);
	test_backend_add(&tb, 'l');
	tb.be.tls = true;
	assert_int_equal(backend_pool_init(&tb.pool, &tb.be), 0);
	backend_server_mark_failed(&tb.pool, 0, "certificate verify failed");
	assert_false(backend_server_up(&tb.pool, 0));
	assert_int_equal(backend_server_failures(&tb.pool, 0), 1);
	test_connect(base, &tb, 5, &o); /* the only server: still tried */
	assert_int_equal(o.server, 0);
	test_assert_accepts(tb.sock[0]);
	close(o.fd);
	assert_false(backend_server_up(&tb.pool, 0));
	backend_server_mark_ok(&tb.pool, 0);
	assert_true(backend_server_up(&tb.pool, 0));
	backend_server_mark_failed(&tb.pool, 7, "out of range: ignored");
	backend_pool_free(&tb.pool);
	test_backend_done(&tb);
	assert_int_equal(test_count_fds(), fds);
}

/* The health marks are shared with a process forked after the pool was
 * made (worker_mode = processes): a server a worker process marks down is
 * down for the main process's /metrics and for every other worker. */
static void test_health_shared_fork(void **state)
{
	struct test_backend tb;
	pid_t pid;
	int status = -1;

	(void)state;
	test_backend_init(&tb);
	test_backend_add(&tb, 'l');
	test_backend_add(&tb, 'l');
	assert_int_equal(backend_pool_init(&tb.pool, &tb.be), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		backend_server_mark_failed(&tb.pool, 1, "refused");
		_exit(backend_server_up(&tb.pool, 1) ? 1 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(backend_server_up(&tb.pool, 0));
	assert_false(backend_server_up(&tb.pool, 1));
	assert_int_equal(backend_server_failures(&tb.pool, 1), 1);
	/* And back: the main process's mark_ok is seen by a new worker. */
	backend_server_mark_ok(&tb.pool, 1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(backend_server_up(&tb.pool, 1) ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	backend_pool_free(&tb.pool);
	test_backend_done(&tb);
}

/* Run the loop briefly: a cancelled connect must never call back. */
static void test_run_briefly(struct event_base *base)
{
	struct timeval tv = {0, 200000};

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void test_connect_cancel_pending(void **state)
{
	struct event_base *base = *state;
	int fds = test_count_fds();
	struct test_backend tb;
	struct test_outcome o;
	struct backend_connect *bc;

	test_backend_init(&tb);
	test_backend_add(&tb, 'h');
	test_outcome_init(&o, base);
	bc = backend_connect_start(base, &tb.pool, 5, test_connect_cb, &o);
	assert_non_null(bc);
	test_run_briefly(base); /* the connect is now hanging */
	assert_int_equal(o.called, 0);
	backend_connect_cancel(bc);
	test_run_briefly(base);
	assert_int_equal(o.called, 0);
	test_backend_done(&tb);
	assert_int_equal(test_count_fds(), fds);
}

static void test_connect_cancel_before_loop(void **state)
{
	struct event_base *base = *state;
	int fds = test_count_fds();
	struct test_backend tb;
	struct test_outcome o;
	struct backend_connect *bc;

	/* A good server (connected or in progress) and a failure already
	 * known (delivery deferred): both cancel cleanly. */
	test_backend_init(&tb);
	test_backend_add(&tb, 'l');
	test_outcome_init(&o, base);
	bc = backend_connect_start(base, &tb.pool, 5, test_connect_cb, &o);
	assert_non_null(bc);
	backend_connect_cancel(bc);
	test_run_briefly(base);
	assert_int_equal(o.called, 0);
	test_backend_done(&tb);

	test_backend_init(&tb);
	test_backend_add(&tb, 'x');
	bc = backend_connect_start(base, &tb.pool, 5, test_connect_cb, &o);
	assert_non_null(bc);
	backend_connect_cancel(bc);
	test_run_briefly(base);
	assert_int_equal(o.called, 0);

	backend_connect_cancel(NULL);
	assert_int_equal(test_count_fds(), fds);
}

static void test_connect_bad_arguments(void **state)
{
	struct event_base *base = *state;
	struct test_backend tb;
	struct test_outcome o;

	test_backend_init(&tb);
	test_outcome_init(&o, base);
	assert_null(
		backend_connect_start(NULL, &tb.pool, 5, test_connect_cb, &o));
	assert_null(backend_connect_start(base, NULL, 5, test_connect_cb, &o));
	assert_null(backend_connect_start(base, &tb.pool, 5, NULL, &o));
	assert_int_equal(o.called, 0);
}

/* ---- PROXY headers ---------------------------------------------------- */

static struct sockaddr_storage test_sa(const char *ip, int port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	}
	return ss;
}

/* Header for SRC -> DST must equal WANT (WANTLEN bytes) and must not fit
 * in one byte less. */
static void test_proxy_case(enum config_proxy_protocol v, const char *src,
			    int sport, const char *dst, int dport,
			    const void *want, size_t wantlen)
{
	struct sockaddr_storage s = test_sa(src, sport),
				d = test_sa(dst, dport);
	unsigned char buf[256];
	int n;

	memset(buf, 0xee, sizeof(buf));
	n = backend_proxy_header(v, (struct sockaddr *)&s,
				 (struct sockaddr *)&d, buf, sizeof(buf));
	assert_int_equal(n, (int)wantlen);
	assert_memory_equal(buf, want, wantlen);
	assert_int_equal(buf[wantlen], 0xee); /* nothing written beyond */
	assert_int_equal(backend_proxy_header(v, (struct sockaddr *)&s,
					      (struct sockaddr *)&d, buf,
					      wantlen),
			 (int)wantlen);
	assert_int_equal(backend_proxy_header(v, (struct sockaddr *)&s,
					      (struct sockaddr *)&d, buf,
					      wantlen - 1),
			 -1);
}

static void test_proxy_v1(void **state)
{
	static const char v4[] =
		"PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n";
	static const char v6[] =
		"PROXY TCP6 2001:db8::1 2001:db8:0:1::443 65535 443\r\n";
	static const char unknown[] = "PROXY UNKNOWN\r\n";
	static const char longest[] =
		"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";

	test_proxy_case(CONFIG_PROXY_V1, "192.0.2.10", 56324, "198.51.100.1",
			443, v4, strlen(v4));
	test_proxy_case(CONFIG_PROXY_V1, "2001:db8::1", 65535,
			"2001:db8:0:1::443", 443, v6, strlen(v6));
	test_proxy_case(CONFIG_PROXY_V1, "192.0.2.10", 1, "2001:db8::1", 443,
			unknown, strlen(unknown));
	test_proxy_case(CONFIG_PROXY_V1, "2001:db8::1", 1, "192.0.2.10", 443,
			unknown, strlen(unknown));
	/* A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d. */
	test_proxy_case(CONFIG_PROXY_V1, "::ffff:192.0.2.10", 56324,
			"::ffff:198.51.100.1", 443, v4, strlen(v4));
	test_proxy_case(CONFIG_PROXY_V1,
			"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
			"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
			longest, strlen(longest));
	assert_int_equal(strlen(longest), 104);
}

static void test_proxy_v2(void **state)
{
	static const unsigned char v4[] = {
		0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49,
		0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c, 192,  0,	2,    10,
		198,  51,   100,  1,	0xdc, 0x04, 0x01, 0xbb, /* 56324, 443 */
	};
	static const unsigned char v6[] = {
		0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55,
		0x49, 0x54, 0x0a, 0x21, 0x21, 0x00, 0x24, 0x20, 0x01,
		0x0d, 0xb8, 0,	  0,	0,    0,    0,	  0,	0,
		0,    0,    0,	  0,	0x01, 0x20, 0x01, 0x0d, 0xb8,
		0,    0,    0,	  1,	0,    0,    0,	  0,	0,
		0,    0x04, 0x43, 0xff, 0xff, 0x01, 0xbb, /* 65535, 443 */
	};
	static const unsigned char local[] = {
		0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51,
		0x55, 0x49, 0x54, 0x0a, 0x20, 0x00, 0x00, 0x00,
	};

	test_proxy_case(CONFIG_PROXY_V2, "192.0.2.10", 56324, "198.51.100.1",
			443, v4, sizeof(v4));
	test_proxy_case(CONFIG_PROXY_V2, "2001:db8::1", 65535,
			"2001:db8:0:1::443", 443, v6, sizeof(v6));
	test_proxy_case(CONFIG_PROXY_V2, "192.0.2.10", 1, "2001:db8::1", 443,
			local, sizeof(local));
	test_proxy_case(CONFIG_PROXY_V2, "::ffff:192.0.2.10", 56324,
			"198.51.100.1", 443, v4, sizeof(v4));
	assert_int_equal(sizeof(v4), 28);
	assert_int_equal(sizeof(v6), 52);
}

static void test_proxy_odd_inputs(void **state)
{
	struct sockaddr_storage s = test_sa("192.0.2.10", 1);
	struct sockaddr_storage u;
	unsigned char buf[64];

	memset(&u, 0, sizeof(u));
	u.ss_family = AF_UNIX;
	assert_int_equal(backend_proxy_header(CONFIG_PROXY_V1,
					      (struct sockaddr *)&s, NULL, buf,
					      sizeof(buf)),
			 15);
	assert_memory_equal(buf, "PROXY UNKNOWN\r\n", 15);
	assert_int_equal(
		backend_proxy_header(CONFIG_PROXY_V2, (struct sockaddr *)&u,
				     (struct sockaddr *)&u, buf, sizeof(buf)),
		16);
	assert_int_equal(buf[12], 0x20);
	assert_int_equal(
		backend_proxy_header(CONFIG_PROXY_OFF, (struct sockaddr *)&s,
				     (struct sockaddr *)&s, buf, sizeof(buf)),
		0);
	assert_int_equal(backend_proxy_header(CONFIG_PROXY_V2,
					      (struct sockaddr *)&s,
					      (struct sockaddr *)&s, NULL, 0),
			 -1);
}

static void test_addr_string(void **state)
{
	struct sockaddr_storage a = test_sa("127.0.0.1", 8443);
	struct sockaddr_storage b = test_sa("2001:db8::1", 443);
	struct sockaddr_storage u;
	char buf[64], tiny[6];

	memset(&u, 0, sizeof(u));
	u.ss_family = AF_UNIX;
	assert_string_equal(
		backend_addr_string((struct sockaddr *)&a, buf, sizeof(buf)),
		"127.0.0.1:8443");
	assert_string_equal(
		backend_addr_string((struct sockaddr *)&b, buf, sizeof(buf)),
		"[2001:db8::1]:443");
	assert_string_equal(
		backend_addr_string((struct sockaddr *)&u, buf, sizeof(buf)),
		"?");
	assert_string_equal(backend_addr_string(NULL, buf, sizeof(buf)), "?");
	assert_string_equal(
		backend_addr_string((struct sockaddr *)&a, tiny, sizeof(tiny)),
		"127.0");
	assert_string_equal(backend_addr_string((struct sockaddr *)&a, buf, 0),
			    "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_connect_one_server,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_connect_failover,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_connect_all_refused,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(
			test_connect_immediate_error_deferred, test_setup,
			test_teardown),
		cmocka_unit_test_setup_teardown(test_connect_no_servers,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_connect_timeout,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_connect_round_robin,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_connect_result_timeout,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_connect_local_error,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_connect_cancel_pending,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_connect_cancel_before_loop,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_connect_bad_arguments,
						test_setup, test_teardown),
		cmocka_unit_test(test_health_shared_fork),
		cmocka_unit_test(test_proxy_v1),
		cmocka_unit_test(test_proxy_v2),
		cmocka_unit_test(test_proxy_odd_inputs),
		cmocka_unit_test(test_addr_string),
		cmocka_unit_test_setup_teardown(test_health_down_tried_last,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(
			test_health_hanging_server_waited_once, test_setup,
			test_teardown),
		cmocka_unit_test_setup_teardown(test_health_tls_marks,
						test_setup, test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
