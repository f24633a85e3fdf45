/* proxy_internal.h — the connection struct, its states and the relay
 * primitives that a protocol layer (proxy_http.c) attaches through hooks.
 *
 * Shared by proxy.c, proxy_events.c, proxy_http.c and the unit tests of the
 * relay (tests/unit/test_proxy.c); no other module includes it.  One side's
 * plumbing (struct proxy_side and its functions) is proxy_side.h's, which
 * this header includes and which knows no connection.  Everything here runs
 * on the event base of the worker that owns the connection.
 *
 * Ownership: a proxy_conn is owned by its proxy_owner (the worker's list) and
 * by nobody else.  It owns both sides (their bufferevents, sockets and SSLs),
 * its timers, its protocol state (HOOKS' data, e.g. the http_conn) and one
 * reference on the runtime it was accepted under.
 *
 * Closing is deferred (as redis's "close scheduled"): every libevent
 * callback holds the connection while it runs (proxy_hold/proxy_release);
 * proxy_conn_close moves it to PROXY_CLOSED, writes the log line and frees
 * the sides at once, but the struct itself is freed only when the outermost
 * callback returns.  So no function reports whether C was freed: after any
 * call that may close, a caller tests proxy_closed(c) and returns.
 */
#ifndef EDGE443_PROXY_INTERNAL_H
#define EDGE443_PROXY_INTERNAL_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "edge443/serve/backend.h"
#include "edge443/serve/proxy.h"
#include "edge443/serve/proxy_side.h"

/* Bytes that may wait in one side's output before the other side pauses. */
#define PROXY_BUF_MAX (256 * 1024)

/* The life of a connection.  Transitions (proxy_state_allowed, kept true by
 * proxy_set_state, which refuses any other):
 *
 *   PREREAD     -> CONNECTING | CLOSED
 *   HANDSHAKE   -> WAIT | CONNECTING | CLOSED
 *   WAIT        -> CONNECTING | FLUSH | CLOSED
 *   CONNECTING  -> BACKEND_TLS | RELAY | FLUSH | CLOSED
 *   BACKEND_TLS -> CONNECTING (the next server) | RELAY | FLUSH | CLOSED
 *   RELAY       -> FLUSH | CLOSED
 *   FLUSH       -> CLOSED
 *   CLOSED      (final; the struct is freed when the outermost callback
 *                returns)
 */
enum proxy_state {
	PROXY_PREREAD,	  /* passthrough: buffering the ClientHello for SNI */
	PROXY_HANDSHAKE,  /* TLS handshake with the client in progress */
	PROXY_WAIT,	  /* a protocol layer (http) has the client and no
			   * request for the backend yet */
	PROXY_CONNECTING, /* connecting to a backend server (failover inside) */
	PROXY_BACKEND_TLS, /* reencrypt: TLS handshake with the backend */
	PROXY_RELAY,	   /* both sides up; bytes flow both ways */
	PROXY_FLUSH,	   /* nothing more is read: the surviving output (an
			    * error page, the rest of a response, what a broken
			    * side sent last) drains, then the connection
			    * closes */
	PROXY_CLOSED,	   /* closed; only the struct is left */
	PROXY_NSTATES,
};

/* How the connection ends towards the peers that are still there. */
enum proxy_end {
	PROXY_END_CLEAN, /* close_notify (TLS) and FIN */
	PROXY_END_DIRTY, /* FIN without close_notify: the stream was cut (a
			  * peer ended dirty, a timeout, a truncated response)
			  */
	PROXY_END_RESET, /* RST: a peer reset, or the shutdown deadline */
};

/* What a protocol layer plugs into the relay.  With hooks, the layer owns
 * every byte the client sends: the relay never forwards client input itself.
 * A hook left NULL falls back to the plain relay's behaviour, so a layer
 * that turns into a tunnel (WebSocket after 101) switches C->hooks to a
 * table with only the hooks it still needs (its free hook).  Each hook runs
 * inside a held callback and may close C. */
struct proxy_hooks {
	/* The client's TLS handshake is done: take the client (state WAIT). */
	void (*start)(struct proxy_conn *c);
	/* Client bytes wait in its input (in WAIT, CONNECTING, BACKEND_TLS or
	 * RELAY). */
	void (*client_data)(struct proxy_conn *c);
	/* The client ended its side (close_notify, FIN; RESET when it reset
	 * or failed).  Its input may still hold bytes. */
	void (*client_end)(struct proxy_conn *c, bool reset);
	/* Backend bytes wait in its input (RELAY). */
	void (*backend_data)(struct proxy_conn *c);
	/* The backend ended (DIRTY: no close_notify or a failure; RESET: it
	 * reset).  Its input may still hold bytes. */
	void (*backend_end)(struct proxy_conn *c, bool dirty, bool reset);
	/* The backend is up (state RELAY). */
	void (*backend_ready)(struct proxy_conn *c);
	/* No backend server could be reached or verified (state not yet
	 * RELAY): answer the client. */
	void (*backend_failed)(struct proxy_conn *c, enum backend_result r,
			       const char *reason);
	/* The connection's timer fired in WAIT or RELAY. */
	void (*timer)(struct proxy_conn *c);
	/* Shutdown drain: close now if idle, else after the current
	 * exchange. */
	void (*drain)(struct proxy_conn *c);
	/* Free the layer's data (runs once, from proxy_conn_close). */
	void (*free)(struct proxy_conn *c);
};

struct proxy_conn {
	struct proxy_owner *owner;
	struct proxy_conn *prev, *next;
	struct runtime *rt;
	const struct runtime_service *rs;
	enum proxy_state state; /* see enum proxy_state */
	enum proxy_end end;	/* how the connection will end */
	int depth;		/* callbacks running on C (deferred close) */
	struct proxy_side client, backend;
	struct backend_connect *connecting;
	struct event *timer; /* handshake timeout, then idle timeout */
	struct event *kick;  /* re-arms TLS writing after a read-side end */
	time_t last_active;  /* monotonic seconds of the last byte read */
	time_t client_first; /* tcp: when the client's first byte came */
	struct timespec start;
	char *sni;
	SSL *acme; /* passthrough taken over for tls-alpn-01 (proxy_acme.c);
		      owned, NULL otherwise */
	char peer[64];
	char peer_ip[64];
	char server[64];
	size_t server_index; /* of the backend's servers, once connected */
	size_t tls_failures; /* backend servers whose TLS handshake failed */
	const char *tls_version;
	const char *cipher;
	const char *why;    /* the end's reason (static text), for the log */
	bool draining;	    /* the worker drains: end after this exchange */
	uint64_t local_out; /* bytes of responses edge443 wrote itself */
	uint64_t discarded; /* client bytes dropped unparsed at its end */

	const struct proxy_hooks *hooks; /* NULL: a plain relay */
	void *layer;			 /* the hooks' data (http: see
					  * proxy_http.c) */
};

/* ---- the state machine (proxy.c) ---- */

/* Is FROM -> TO one of the transitions above? */
bool proxy_state_allowed(enum proxy_state from, enum proxy_state to);
/* Move C to TO; a transition not in the table is a bug (asserted) and is
 * refused. */
void proxy_set_state(struct proxy_conn *c, enum proxy_state to);
const char *proxy_state_name(enum proxy_state s);
static inline bool proxy_closed(const struct proxy_conn *c)
{
	return c->state == PROXY_CLOSED;
}

/* A hook of the attached layer, or NULL (none, or detached). */
#define PROXY_HOOK(c, name) ((c)->hooks ? (c)->hooks->name : NULL)

/* ---- lifetime and relay primitives (proxy.c) ---- */

/* Monotonic seconds. */
time_t proxy_now(void);
/* The other side of C. */
struct proxy_side *proxy_partner(struct proxy_conn *c, struct proxy_side *s);
const struct config *proxy_cfg(const struct proxy_conn *c);
void proxy_arm_timer(struct proxy_conn *c, int seconds);
/* Hold C while a callback runs; the last release frees a closed C. */
void proxy_hold(struct proxy_conn *c);
void proxy_release(struct proxy_conn *c);
/* Close C now (deferred free, see above): log line with WHY, sides freed,
 * sent as c->end says.  A second call is a no-op. */
void proxy_conn_close(struct proxy_conn *c, const char *why);
/* Make the end at least as severe as END (clean < dirty < reset). */
void proxy_set_end(struct proxy_conn *c, enum proxy_end end);
/* Stop reading both sides; close once the client's (and the backend's)
 * output has drained (state FLUSH).  Closes at once when nothing waits. */
void proxy_flush_close(struct proxy_conn *c, const char *why);
/* In FLUSH: close once no side has output left. */
void proxy_flush_check(struct proxy_conn *c);
/* FROM brought LEN bytes for its partner: counted, the connection active
 * (the response timeout starts with the client's first bytes). */
void proxy_note_read(struct proxy_conn *c, struct proxy_side *from, size_t len);
/* Move FROM's input to its partner's output (backpressure included). */
void proxy_forward(struct proxy_conn *c, struct proxy_side *from);
/* FROM sent its last byte: half-close the partner once it drained. */
void proxy_pass_eof(struct proxy_conn *c, struct proxy_side *from);
/* Shut our sending direction on S: close_notify (unless the other peer
 * closed dirty or the end is not clean) and FIN. */
void proxy_shut(struct proxy_conn *c, struct proxy_side *s);
/* A plain relay whose two directions have both finished closes. */
void proxy_maybe_finish(struct proxy_conn *c);
/* Pause FROM while the buffer it fills (TO; TO_SIDE's output, or a staging
 * buffer when TO_SIDE is NULL) holds PROXY_BUF_MAX or more. */
void proxy_limit(struct proxy_conn *c, struct proxy_side *from,
		 struct evbuffer *to, struct proxy_side *to_side);
/* ---- the events (proxy_events.c) ---- */

/* Start connecting to the service's backend (state CONNECTING). */
void proxy_connect_backend(struct proxy_conn *c);

#endif
