/* proxy.h — one client connection and its backend connection.
 *
 * proxy.c and proxy_events.c own everything about one accepted connection: the
 * client side (TLS terminated, or plain bytes read for passthrough), the
 * ClientHello peek (passthrough), the backend connection (plain or
 * re-encrypted), the relay in both directions with backpressure and
 * half-close, the timeouts, and the one teardown function that frees it all
 * and writes the connection's log line.
 * A protocol layer (HTTP publishing, proxy_http.h) attaches through hooks
 * given to proxy_accept (proxy_events.h); the port-80 redirect listener is
 * redirect.h's.
 *
 * Everything runs on the event base of the worker that accepted the
 * connection; nothing here is called from another thread.
 */
#ifndef EDGE443_PROXY_H
#define EDGE443_PROXY_H

#include <event2/event.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "edge443/serve/runtime.h"

struct proxy_conn;
struct proxy_hooks;   /* proxy_internal.h */
struct redirect_conn; /* redirect.h */

/* Why a client's TLS handshake (or passthrough ClientHello) failed. */
enum proxy_hs_reason {
	PROXY_HS_TIMEOUT, /* nothing (complete) within handshake_timeout */
	PROXY_HS_CLOSED,  /* the client closed during the handshake */
	PROXY_HS_ERROR,	  /* a TLS error: protocol, version, cipher, garbage */
	PROXY_HS_NREASONS,
};

/* Per-worker counters.  Written by the worker, read by the admin endpoint
 * on the main thread: atomics, so the reads are well defined.  With worker
 * processes they live in memory shared with the main process
 * (serve/stats_shared.h); atomics of this size are lock-free, so they are
 * well defined across processes too. */
struct proxy_stats {
	_Atomic uint64_t accepted;
	_Atomic uint64_t open;
	_Atomic uint64_t handshake_failures[PROXY_HS_NREASONS];
	/* Client TLS handshakes that completed: [0] full, [1] resumed (a
	 * session ticket or the session cache). */
	_Atomic uint64_t handshakes[2];
	_Atomic uint64_t backend_failures;
	_Atomic uint64_t bytes_in;  /* client -> backend */
	_Atomic uint64_t bytes_out; /* backend -> client */
	/* Responses of http services by class: [0] other, [1] 1xx ... [5] 5xx
	 */
	_Atomic unsigned long long http_responses[6];
	_Atomic uint64_t client_bytes_discarded; /* http: unparsed at the
						  * client's end */
};

/* What a worker hands to proxy.c: its event base and the list of its open
 * connections.  CLOSED_CB (may be NULL) runs after each connection is freed,
 * so the worker can resume accepting below its limit or finish draining. */
struct proxy_owner {
	struct event_base *base;
	size_t nconns;
	struct proxy_conn *conns; /* doubly linked list of open connections */
	struct redirect_conn *redirects; /* open redirect connections */
	bool draining; /* stop: idle connections close at once */
	/* Borrowed: the worker's counters (the worker struct's, or a slot of
	 * serve/stats_shared.h in a worker process); set before the first
	 * proxy_accept, never NULL then. */
	struct proxy_stats *stats;
	void (*closed_cb)(struct proxy_owner *owner);
};

/* The worker stops (SIGTERM): idle connections (an http keep-alive
 * connection between requests) close at once, the others after their
 * current exchange (or when they end, or at the shutdown deadline). */
void proxy_drain(struct proxy_owner *owner);

/* Close every open connection of OWNER now (the shutdown deadline): what
 * was still flowing is cut, so the peers see a reset, never a clean end. */
void proxy_close_all(struct proxy_owner *owner, const char *why);

/* "192.0.2.7:1234" / "[2001:db8::7]:1234" into ADDR and the address alone
 * into IP (either may be NULL); "?" for an unknown family. */
void proxy_peer_format(const struct sockaddr *sa, char *addr, size_t addrlen,
		       char *ip, size_t iplen);

#endif
