/* backend.h — reaching a backend: server choice, connect with failover, PROXY.
 *
 * backend.c picks the next server of a backend round robin, connects to it
 * without blocking with a connect timeout, fails over to the following server
 * on a connect error or timeout (each server tried at most once per client
 * connection), and builds PROXY protocol v1/v2 headers.  It does no TLS and
 * no relaying: the caller (proxy_events.c) gets a connected socket.
 *
 * Passive health (as nginx's max_fails=1 fail_timeout=10s): a server whose
 * connect failed is "down" for BACKEND_FAIL_TIMEOUT seconds, during which
 * every other server is tried before it (it is still tried last, so a
 * backend whose servers all failed recently is not refused untried); a
 * connect that succeeds marks it up again.  Clients no longer each wait out
 * the connect timeout of a dead server.  Transitions are logged.
 */
#ifndef EDGE443_BACKEND_H
#define EDGE443_BACKEND_H

#include <event2/event.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "edge443/config/config.h"

/* Seconds a server whose connect failed is tried after the others. */
#define BACKEND_FAIL_TIMEOUT 10

/* What all workers know of one server. */
struct backend_server_state {
	_Atomic long long down_until;	     /* CLOCK_MONOTONIC s; 0 = up */
	_Atomic unsigned long long failures; /* connects that failed */
};

/* Shared, read-mostly state of one backend: the round-robin cursor and the
 * servers' health. */
struct backend_pool {
	const struct config_backend
		*be;	  /* borrowed from the runtime's config */
	atomic_uint next; /* round-robin cursor, all workers */
	struct backend_server_state *servers; /* parallel to be->servers;
					       * NULL: no health memory.
					       * MAP_SHARED: the processes
					       * forked after
					       * backend_pool_init share it */
};

/* Set up POOL for BE (cursor 0, every server up); 0, or -1 out of memory.
 * backend_pool_free releases what it allocated (POOL itself is the
 * caller's). */
int backend_pool_init(struct backend_pool *pool,
		      const struct config_backend *be);
void backend_pool_free(struct backend_pool *pool);
/* Server I of POOL: up now (not within BACKEND_FAIL_TIMEOUT of a failed
 * connect), and how many connects to it failed. */
bool backend_server_up(const struct backend_pool *pool, size_t i);
unsigned long long backend_server_failures(const struct backend_pool *pool,
					   size_t i);
/* Server I failed after the connect (the TLS handshake to it, or its
 * certificate's verification): down as for a failed connect, WHY logged on
 * the transition.  A no-op without health memory. */
void backend_server_mark_failed(struct backend_pool *pool, size_t i,
				const char *why);
/* Server I works (for a TLS backend: its handshake and verification
 * succeeded; plain backends are marked up by a successful connect). */
void backend_server_mark_ok(struct backend_pool *pool, size_t i);

/* How a connect ended. */
enum backend_result {
	BACKEND_OK,	 /* FD is connected */
	BACKEND_FAILED,	 /* servers refused/reset/unreachable (at least one
			  * not a timeout), or the backend has no servers */
	BACKEND_TIMEOUT, /* every server tried timed out */
	BACKEND_LOCAL,	 /* a local resource error (EMFILE, ENFILE, ENOBUFS,
			  * ENOMEM, EADDRNOTAVAIL: no socket or no local
			  * port); no server judged */
};

/* Called once with the outcome, always from the event loop (never from inside
 * backend_connect_start).  RESULT is BACKEND_OK exactly when FD >= 0: a
 * connected non-blocking socket now owned by the callee, SERVER the index of
 * the server used; REASON is then NULL, or, when earlier servers failed
 * first, lists them ("10.0.0.1:80: Connection refused") so the caller can log
 * the failover.  Otherwise FD is -1 and REASON says why, e.g. "all servers of
 * backend \"cwa\" failed: 10.0.0.1:80: Connection refused; 10.0.0.2:80:
 * connect timeout after 5 s" (BACKEND_FAILED; an http service answers 502),
 * every server timing out (BACKEND_TIMEOUT; 504), or "backend \"cwa\": no
 * connection could be opened here (a local error, no server judged):
 * 10.0.0.1:80: Too many open files" (BACKEND_LOCAL).  A local error is not
 * the server's fault: the server is not marked down, no failure is counted
 * for it, and the connect stops there (the next server would fail the same
 * way).  REASON is valid only during the call.  The handle is already freed
 * when the callback runs. */
typedef void (*backend_connect_cb)(int fd, size_t server,
				   enum backend_result result,
				   const char *reason, void *arg);

struct backend_connect;

/* Start connecting to the pool's servers on BASE with TIMEOUT_SEC per server
 * (<= 0: no timeout).  The first server is chosen round robin across all
 * callers (pool->next), then the following ones in order, each at most once;
 * a connect error or timeout moves on to the next (a local error does not).
 * Returns a handle, or NULL when nothing could be started (out of memory, bad
 * arguments; the callback is then never called).  Call from the thread that
 * runs BASE. */
struct backend_connect *backend_connect_start(struct event_base *base,
					      struct backend_pool *pool,
					      int timeout_sec,
					      backend_connect_cb cb, void *arg);
/* Abandon a connect whose callback has not run yet: closes any socket, frees
 * the handle; the callback is never called.  NULL is accepted.  Must not be
 * called after (or from) the callback. */
void backend_connect_cancel(struct backend_connect *bc);

/* Write a PROXY protocol header for a TCP connection from SRC (the client) to
 * DST (the address it connected to) into buf; nothing is NUL-terminated.
 * v1: "PROXY TCP4 src dst sport dport\r\n" or "PROXY TCP6 ...\r\n".
 * v2: the 12-byte signature \r\n\r\n\0\r\nQUIT\n, 0x21 (version 2, PROXY),
 * 0x11 (TCP4) or 0x21 (TCP6), the address length (12 / 36, big endian), then
 * source and destination addresses and ports in network order (28 / 52 bytes).
 * A v4-mapped IPv6 address (::ffff:a.b.c.d) counts as IPv4.  When the
 * families differ or an address is not IPv4/IPv6 (or NULL), v1 writes
 * "PROXY UNKNOWN\r\n" and v2 a LOCAL header (0x20, family 0x00, length 0;
 * 16 bytes).  Returns the number of bytes written (0 for CONFIG_PROXY_OFF),
 * or -1 when buf is too small (buf then holds nothing useful). */
int backend_proxy_header(enum config_proxy_protocol version,
			 const struct sockaddr *src, const struct sockaddr *dst,
			 unsigned char *buf, size_t len);

/* "127.0.0.1:8443" or "[2001:db8::1]:8443" for a sockaddr ("?" for other
 * families), into buf (truncated to len); returns buf ("" if len is 0). */
const char *backend_addr_string(const struct sockaddr *sa, char *buf,
				size_t len);

#endif
