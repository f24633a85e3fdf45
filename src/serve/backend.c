/* backend.c — reaching a backend: server choice, connect with failover, PROXY.
 *
 * This module picks the first server of a backend round robin (one atomic
 * cursor per backend, shared by all workers), connects to it without blocking
 * under a per-server timeout, and on a connect error or timeout fails over to
 * the following servers in order, each tried at most once per client
 * connection; servers whose connect failed in the last BACKEND_FAIL_TIMEOUT
 * seconds are tried after the others (passive health, logged when a server
 * goes down or comes back; kept in memory shared with forked workers).  A local
 * resource error (EMFILE, ENOBUFS, no local port) is not a verdict on a server:
 * nothing is marked or counted, and the connect ends there as a local failure.
 * The outcome is reported exactly once through the caller's callback, always
 * from the event loop and never from inside backend_connect_start, so the
 * caller's state is complete when it runs.  It also formats PROXY protocol
 * v1/v2 headers and socket addresses.  It does no TLS and no relaying: the
 * caller (proxy_events.c) gets a connected socket, or a reason naming every
 * server that failed.
 */
#include "edge443/serve/backend.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "edge443/base/log.h"

/* Room for the reasons of every server; a longer list is cut short (the
 * reason is for a log line, not for parsing). */
#define BACKEND_REASON_MAX 1024

/* One connect in progress.  Invariant: while an attempt is pending, fd is
 * its socket and ev waits for it to become writable (or time out); once the
 * outcome is known but not yet delivered, ev is a deferred event without an
 * fd and result_fd / result_server hold the outcome.  fd and ev are -1/NULL
 * otherwise. */
struct backend_connect {
	struct event_base *base;
	struct backend_pool *pool;
	int timeout_sec;
	backend_connect_cb cb;
	void *arg;

	size_t *order;	 /* servers in the order to try: round robin from
			  * the cursor, servers up first */
	size_t attempts; /* servers tried so far (including the pending one) */
	size_t cur;	 /* index of the server being tried */

	int fd;
	struct event *ev;

	int result_fd; /* outcome to deliver: connected fd or -1 */
	size_t result_server;
	size_t timeouts; /* attempts that ended in the connect timeout */
	bool local;	 /* stopped on a local resource error */

	/* "all servers of backend "x" failed: A: why; B: why" being built. */
	char reason[BACKEND_REASON_MAX];
	size_t reasonlen;
};

static void backend_connect_event_cb(evutil_socket_t fd, short what, void *arg);

/* Append formatted text to bc->reason, keeping it NUL-terminated and cut at
 * BACKEND_REASON_MAX - 1 bytes. */
__attribute__((format(printf, 2, 3))) static void
backend_reason_add(struct backend_connect *bc, const char *fmt, ...)
{
	size_t room = sizeof(bc->reason) - bc->reasonlen;
	va_list ap;
	int n;

	if (room <= 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(bc->reason + bc->reasonlen, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	bc->reasonlen += (size_t)n < room ? (size_t)n : room - 1;
}

/* Name of server I of POOL for messages: as written in the config when
 * known. */
static const char *backend_server_name(const struct backend_pool *pool,
				       size_t i, char *buf, size_t len)
{
	const struct config_addr *a = &pool->be->servers[i];

	if (a->text != NULL)
		return a->text;
	return backend_addr_string((const struct sockaddr *)&a->sa, buf, len);
}

static long long backend_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec;
}

/* The health of server I, or NULL (no health memory, no such server). */
static struct backend_server_state *
backend_state(const struct backend_pool *pool, size_t i)
{
	if (pool == NULL || pool->servers == NULL || pool->be == NULL ||
	    i >= pool->be->nservers)
		return NULL;
	return &pool->servers[i];
}

bool backend_server_up(const struct backend_pool *pool, size_t i)
{
	struct backend_server_state *st = backend_state(pool, i);

	return st == NULL || atomic_load(&st->down_until) <= backend_now();
}

unsigned long long backend_server_failures(const struct backend_pool *pool,
					   size_t i)
{
	struct backend_server_state *st = backend_state(pool, i);

	return st != NULL ? atomic_load(&st->failures) : 0;
}

int backend_pool_init(struct backend_pool *pool,
		      const struct config_backend *be)
{
	pool->be = be;
	atomic_init(&pool->next, 0);
	pool->servers = NULL;
	if (be == NULL || be->nservers == 0)
		return 0;
	/* Shared memory, not the heap: with worker_mode = processes the
	 * pool is made before the workers are forked, so every worker
	 * process and the main process (its /metrics) see the same marks,
	 * as the threads of one process do.  Zeroed: every server up. */
	void *m =
		mmap(NULL, be->nservers * sizeof(*pool->servers),
		     PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return -1;
	pool->servers = m;
	return 0;
}

void backend_pool_free(struct backend_pool *pool)
{
	if (pool == NULL || pool->servers == NULL)
		return;
	munmap(pool->servers, pool->be->nservers * sizeof(*pool->servers));
	pool->servers = NULL;
}

void backend_server_mark_failed(struct backend_pool *pool, size_t i,
				const char *why)
{
	struct backend_server_state *st = backend_state(pool, i);
	char name[INET6_ADDRSTRLEN + 16];

	if (st == NULL)
		return;
	long long now = backend_now();
	long long was =
		atomic_exchange(&st->down_until, now + BACKEND_FAIL_TIMEOUT);
	atomic_fetch_add(&st->failures, 1);
	if (was <= now)
		log_warn("backend %s: server %s marked down for %d s (tried "
			 "after the others): %s",
			 pool->be->name ? pool->be->name : "?",
			 backend_server_name(pool, i, name, sizeof(name)),
			 BACKEND_FAIL_TIMEOUT, why);
}

void backend_server_mark_ok(struct backend_pool *pool, size_t i)
{
	struct backend_server_state *st = backend_state(pool, i);
	char name[INET6_ADDRSTRLEN + 16];

	if (st == NULL || atomic_load(&st->down_until) == 0 ||
	    atomic_exchange(&st->down_until, 0) == 0)
		return;
	log_info("backend %s: server %s is up again",
		 pool->be->name ? pool->be->name : "?",
		 backend_server_name(pool, i, name, sizeof(name)));
}

/* Record why the attempt on the current server ended ("A: why", separated
 * by "; "). */
static void backend_reason_server(struct backend_connect *bc, const char *why)
{
	char name[INET6_ADDRSTRLEN + 16];

	backend_reason_add(
		bc, "%s%s: %s", bc->attempts > 1 ? "; " : "",
		backend_server_name(bc->pool, bc->cur, name, sizeof(name)),
		why);
}

/* The current server failed: record why and mark it down. */
static void backend_server_failed(struct backend_connect *bc, const char *why)
{
	backend_reason_server(bc, why);
	backend_server_mark_failed(bc->pool, bc->cur, why);
}

/* A local resource error while connecting to the current server (no socket,
 * no buffer, no local port): not the server's fault, so it is neither marked
 * down nor counted, and trying the next server would only fail the same
 * way.  Recorded for the reason; the connect stops. */
static bool backend_errno_local(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS ||
	       err == ENOMEM || err == EADDRNOTAVAIL;
}

static void backend_local_failed(struct backend_connect *bc, int err)
{
	backend_reason_server(bc, strerror(err));
	bc->local = true;
}

/* The current server failed: a local error stops the connect (returns
 * -2), anything else marks the server down (returns -1). */
static int backend_errno_failed(struct backend_connect *bc, int err)
{
	if (backend_errno_local(err)) {
		backend_local_failed(bc, err);
		return -2;
	}
	backend_server_failed(bc, strerror(err));
	return -1;
}

/* A connect to server I succeeded: it is up again, unless the backend
 * speaks TLS (then the caller says so once the handshake succeeded). */
static void backend_server_ok(struct backend_connect *bc, size_t i)
{
	if (!bc->pool->be->tls)
		backend_server_mark_ok(bc->pool, i);
}

/* Close the pending attempt, if any. */
static void backend_attempt_clear(struct backend_connect *bc)
{
	if (bc->ev != NULL) {
		event_free(bc->ev);
		bc->ev = NULL;
	}
	if (bc->fd >= 0) {
		close(bc->fd);
		bc->fd = -1;
	}
}

/* Start connecting to server I.  Returns 1 when the attempt is pending (ev
 * armed), 0 when it connected at once (fd set, nothing armed), -1 when it
 * failed (reason recorded, server marked down, nothing left open), -2 on a
 * local error (reason recorded, nothing marked, nothing left open). */
static int backend_attempt_start(struct backend_connect *bc, size_t i)
{
	const struct config_addr *a = &bc->pool->be->servers[i];
	struct timeval tv = {bc->timeout_sec, 0};
	int one = 1;

	bc->cur = i;
	bc->attempts++;
	bc->fd = socket(a->sa.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (bc->fd < 0)
		return backend_errno_failed(bc, errno);
	/* Relayed TLS records and PROXY headers should leave at once. */
	(void)setsockopt(bc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(bc->fd, (const struct sockaddr *)&a->sa, a->salen) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EINTR) {
		int rc = backend_errno_failed(bc, errno);

		backend_attempt_clear(bc);
		return rc;
	}
	bc->ev = event_new(bc->base, bc->fd, EV_WRITE, backend_connect_event_cb,
			   bc);
	if (bc->ev == NULL ||
	    event_add(bc->ev, bc->timeout_sec > 0 ? &tv : NULL) != 0) {
		backend_local_failed(bc, ENOMEM);
		backend_attempt_clear(bc);
		return -2;
	}
	return 1;
}

/* Try the servers not tried yet, in bc->order, until one is pending or
 * connected, or a local error stops the search.  Returns 1 when an attempt
 * is pending; 0 when the outcome is known (result_fd / result_server set,
 * nothing armed). */
static int backend_advance(struct backend_connect *bc)
{
	const struct config_backend *be = bc->pool->be;

	while (bc->attempts < be->nservers && !bc->local) {
		size_t i = bc->order[bc->attempts];
		int rc = backend_attempt_start(bc, i);

		if (rc == 1)
			return 1;
		if (rc == 0) {
			backend_server_ok(bc, i);
			bc->result_fd = bc->fd;
			bc->result_server = i;
			bc->fd = -1;
			return 0;
		}
	}
	bc->result_fd = -1;
	bc->result_server = 0;
	return 0;
}

/* Hand the outcome to the caller and free the handle.  The handle is freed
 * before the callback runs, so the callback may do anything (even free the
 * caller's connection) without touching a dangling handle. */
static void backend_deliver(struct backend_connect *bc)
{
	char reason[BACKEND_REASON_MAX + 128];
	backend_connect_cb cb = bc->cb;
	void *arg = bc->arg;
	int fd = bc->result_fd;
	size_t server = bc->result_server;
	const struct config_backend *be = bc->pool->be;
	enum backend_result result = BACKEND_FAILED;

	if (fd >= 0) {
		/* Servers that failed before this one, for the caller's log. */
		result = BACKEND_OK;
		snprintf(reason, sizeof(reason), "%s", bc->reason);
	} else if (bc->local) {
		result = BACKEND_LOCAL;
		snprintf(reason, sizeof(reason),
			 "backend \"%s\": no connection could be opened here "
			 "(a local error, no server judged): %s",
			 be->name != NULL ? be->name : "?", bc->reason);
	} else if (be->nservers == 0) {
		snprintf(reason, sizeof(reason),
			 "backend \"%s\" has no servers",
			 be->name != NULL ? be->name : "?");
	} else {
		if (bc->attempts > 0 && bc->timeouts == bc->attempts)
			result = BACKEND_TIMEOUT;
		snprintf(reason, sizeof(reason),
			 "all servers of backend \"%s\" failed: %s",
			 be->name != NULL ? be->name : "?", bc->reason);
	}
	backend_attempt_clear(bc);
	free(bc->order);
	free(bc);
	cb(fd, server, result, reason[0] != '\0' ? reason : NULL, arg);
}

/* The deferred delivery of an outcome known inside backend_connect_start. */
static void backend_deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	backend_deliver(arg);
}

/* The pending attempt became writable (connected or failed) or timed out. */
static void backend_connect_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct backend_connect *bc = arg;
	char why[64];
	int err = 0;
	socklen_t errlen = sizeof(err);

	if (what & EV_TIMEOUT) {
		snprintf(why, sizeof(why), "connect timeout after %d s",
			 bc->timeout_sec);
		bc->timeouts++;
		backend_server_failed(bc, why);
	} else if (getsockopt(bc->fd, SOL_SOCKET, SO_ERROR, &err, &errlen) !=
		   0) {
		backend_server_failed(bc, strerror(errno));
	} else if (err != 0) {
		backend_errno_failed(bc, err);
	} else {
		event_free(bc->ev);
		bc->ev = NULL;
		backend_server_ok(bc, bc->cur);
		bc->result_fd = bc->fd;
		bc->result_server = bc->cur;
		bc->fd = -1;
		backend_deliver(bc);
		return;
	}
	backend_attempt_clear(bc);
	if (backend_advance(bc) == 0)
		backend_deliver(bc);
}

/* The order to try the N servers in: round robin from the shared cursor,
 * servers that are up first, those marked down after them. */
static int backend_order(struct backend_connect *bc, size_t n)
{
	size_t first = atomic_fetch_add(&bc->pool->next, 1) % n;
	size_t k = 0;

	bc->order = calloc(n, sizeof(*bc->order));
	if (bc->order == NULL)
		return -1;
	for (int pass = 0; pass < 2; pass++)
		for (size_t j = 0; j < n; j++) {
			size_t i = (first + j) % n;
			if (backend_server_up(bc->pool, i) == (pass == 0))
				bc->order[k++] = i;
		}
	return 0;
}

struct backend_connect *backend_connect_start(struct event_base *base,
					      struct backend_pool *pool,
					      int timeout_sec,
					      backend_connect_cb cb, void *arg)
{
	struct backend_connect *bc = NULL;
	size_t n;

	if (base == NULL || pool == NULL || pool->be == NULL || cb == NULL)
		return NULL;
	bc = calloc(1, sizeof(*bc));
	if (bc == NULL)
		return NULL;
	bc->base = base;
	bc->pool = pool;
	bc->timeout_sec = timeout_sec;
	bc->cb = cb;
	bc->arg = arg;
	bc->fd = -1;
	bc->result_fd = -1;
	n = pool->be->nservers;
	if (n > 0 && backend_order(bc, n) < 0) {
		free(bc);
		return NULL;
	}

	if (backend_advance(bc) == 1)
		return bc;
	/* The outcome is already known (every server failed at once, or a
	 * connect completed immediately): report it from the loop, never from
	 * inside this call. */
	bc->ev = event_new(base, -1, 0, backend_deferred_cb, bc);
	if (bc->ev == NULL)
		goto fail;
	event_active(bc->ev, 0, 0);
	return bc;

fail:
	if (bc->result_fd >= 0)
		close(bc->result_fd);
	free(bc->order);
	free(bc);
	return NULL;
}

void backend_connect_cancel(struct backend_connect *bc)
{
	if (bc == NULL)
		return;
	backend_attempt_clear(bc);
	if (bc->result_fd >= 0)
		close(bc->result_fd);
	free(bc->order);
	free(bc);
}

/* The binary signature that opens every PROXY v2 header. */
static const unsigned char backend_proxy_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

/* An address reduced to what a PROXY header carries.  A v4-mapped IPv6
 * address (a dual-stack listener's view of an IPv4 client) counts as IPv4. */
struct backend_proxy_addr {
	int family; /* AF_INET, AF_INET6, or AF_UNSPEC when unusable */
	unsigned char addr[16];
	uint16_t port; /* network order */
};

static void backend_proxy_addr_get(const struct sockaddr *sa,
				   struct backend_proxy_addr *pa)
{
	memset(pa, 0, sizeof(*pa));
	pa->family = AF_UNSPEC;
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		pa->family = AF_INET;
		memcpy(pa->addr, &sin->sin_addr, 4);
		pa->port = sin->sin_port;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
			(const struct sockaddr_in6 *)sa;

		pa->port = sin6->sin6_port;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			pa->family = AF_INET;
			memcpy(pa->addr, sin6->sin6_addr.s6_addr + 12, 4);
		} else {
			pa->family = AF_INET6;
			memcpy(pa->addr, &sin6->sin6_addr, 16);
		}
	}
}

static int backend_proxy_v1(const struct backend_proxy_addr *s,
			    const struct backend_proxy_addr *d,
			    unsigned char *buf, size_t len)
{
	/* The longest v1 line is 107 bytes (spec section 2.1). */
	char line[128];
	char sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];
	int n;

	if (s->family == AF_UNSPEC || s->family != d->family) {
		n = snprintf(line, sizeof(line), "PROXY UNKNOWN\r\n");
	} else {
		if (inet_ntop(s->family, s->addr, sa, sizeof(sa)) == NULL ||
		    inet_ntop(d->family, d->addr, da, sizeof(da)) == NULL)
			return -1;
		n = snprintf(line, sizeof(line), "PROXY %s %s %s %u %u\r\n",
			     s->family == AF_INET ? "TCP4" : "TCP6", sa, da,
			     (unsigned)ntohs(s->port),
			     (unsigned)ntohs(d->port));
	}
	if (n < 0 || (size_t)n >= sizeof(line) || (size_t)n > len)
		return -1;
	memcpy(buf, line, (size_t)n);
	return n;
}

static int backend_proxy_v2(const struct backend_proxy_addr *s,
			    const struct backend_proxy_addr *d,
			    unsigned char *buf, size_t len)
{
	size_t alen = 0, total;
	unsigned char *p;

	if (s->family != AF_UNSPEC && s->family == d->family)
		alen = s->family == AF_INET ? 4 : 16;
	total = 16 + (alen ? 2 * alen + 4 : 0);
	if (total > len)
		return -1;
	memcpy(buf, backend_proxy_v2_sig, sizeof(backend_proxy_v2_sig));
	if (alen == 0) {
		buf[12] = 0x20; /* version 2, LOCAL */
		buf[13] = 0x00; /* AF_UNSPEC, UNSPEC */
		buf[14] = 0;
		buf[15] = 0;
		return 16;
	}
	buf[12] = 0x21;			   /* version 2, PROXY */
	buf[13] = alen == 4 ? 0x11 : 0x21; /* TCP over IPv4 / IPv6 */
	buf[14] = (unsigned char)((total - 16) >> 8);
	buf[15] = (unsigned char)((total - 16) & 0xff);
	p = buf + 16;
	memcpy(p, s->addr, alen);
	memcpy(p + alen, d->addr, alen);
	memcpy(p + 2 * alen, &s->port, 2); /* already network order */
	memcpy(p + 2 * alen + 2, &d->port, 2);
	return (int)total;
}

int backend_proxy_header(enum config_proxy_protocol version,
			 const struct sockaddr *src, const struct sockaddr *dst,
			 unsigned char *buf, size_t len)
{
	struct backend_proxy_addr s, d;

	if (buf == NULL && len > 0)
		return -1;
	backend_proxy_addr_get(src, &s);
	backend_proxy_addr_get(dst, &d);
	switch (version) {
	case CONFIG_PROXY_V1:
		return backend_proxy_v1(&s, &d, buf, len);
	case CONFIG_PROXY_V2:
		return backend_proxy_v2(&s, &d, buf, len);
	case CONFIG_PROXY_OFF:
		return 0;
	}
	return -1;
}

const char *backend_addr_string(const struct sockaddr *sa, char *buf,
				size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (buf == NULL || len == 0)
		return "";
	if (sa != NULL && sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		if (inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip)) !=
		    NULL) {
			snprintf(buf, len, "%s:%u", ip,
				 (unsigned)ntohs(sin->sin_port));
			return buf;
		}
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
			(const struct sockaddr_in6 *)sa;

		if (inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip)) !=
		    NULL) {
			snprintf(buf, len, "[%s]:%u", ip,
				 (unsigned)ntohs(sin6->sin6_port));
			return buf;
		}
	}
	snprintf(buf, len, "?");
	return buf;
}
