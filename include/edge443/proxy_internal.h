/* proxy_internal.h — what proxy.c and proxy_http.c share about a connection.
 *
 * Private to the proxy module (not for other modules or tests): the
 * connection struct with its state enum, and the relay primitives that the
 * HTTP glue (proxy_http.c) uses.  Everything here runs on the event base of
 * the worker that owns the connection.
 */
#ifndef EDGE443_PROXY_INTERNAL_H
#define EDGE443_PROXY_INTERNAL_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "edge443/http.h"
#include "edge443/proxy.h"

/* Bytes that may wait in one side's output before the other side pauses. */
#define PROXY_BUF_MAX (256 * 1024)
/* Largest single socket read/write libevent may do (its default is 4 KiB). */
#define PROXY_IO_MAX (64 * 1024)
/* One TLS record's plaintext: small pieces are joined up to this before an
 * SSL_write so that they leave as one record. */
#define PROXY_RECORD (16 * 1024)

enum proxy_state {
	PROXY_PREREAD,	  /* passthrough: buffering the ClientHello for SNI */
	PROXY_HANDSHAKE,  /* TLS handshake with the client in progress */
	PROXY_HTTP_WAIT,  /* http service (or redirect listener): client up,
			   * no request for the backend yet */
	PROXY_CONNECTING, /* connecting to a backend server (failover inside) */
	PROXY_BACKEND_TLS, /* reencrypt: TLS handshake with the backend */
	PROXY_RELAY,	   /* both sides up; bytes flow both ways */
};

struct proxy_side {
	struct proxy_conn *conn;
	struct bufferevent *bev; /* NULL until created / after it broke */
	struct event *rev;	 /* plain TCP: our own read event (libevent 2.1
				  * reads plain sockets 4 KiB at a time; this reads
				  * up to PROXY_IO_MAX); NULL for TLS sides */
	SSL *ssl;		 /* owned by bev; NULL for plain TCP */
	bool eof;   /* the peer finished sending (FIN, close_notify or dirty) */
	bool dirty; /* ... without close_notify */
	bool shut;  /* we have shut our sending direction */
	bool shut_pending; /* shut it once the output has drained */
	bool paused;	   /* reading paused: the partner's output is full */
	bool close_notify; /* the peer's close_notify alert was read */
	uint64_t bytes;	   /* bytes read from this side */
};

struct proxy_conn {
	struct proxy_owner *owner;
	struct proxy_conn *prev, *next;
	struct runtime *rt;
	const struct runtime_service *rs;
	enum proxy_state state; /* see enum proxy_state; only moves forward */
	struct proxy_side client, backend;
	struct backend_connect *connecting;
	struct event *timer; /* handshake timeout, then idle timeout */
	struct event *kick;  /* re-arms TLS writing after a read-side end */
	time_t last_active;  /* monotonic seconds of the last byte read */
	struct timespec start;
	char *sni;
	char peer[64];
	char server[64];
	size_t server_index; /* of the backend's servers, once connected */
	size_t tls_failures; /* backend servers whose TLS handshake failed */
	const char *tls_version;
	const char *cipher;
	bool closing; /* a side broke: close once the other's output drained */

	/* HTTP publishing (service with an http block), see http.h. */
	struct http_conn *http; /* NULL for plain relays */
	bool tunnel;		/* after 101: raw relay from now on */
	bool redirect;		/* a redirect_http listener connection */
	bool http_close;	/* close once the client's output drained */
	bool awaiting;		/* http: waiting for a request head ... */
	time_t awaiting_since;	/* ... since then (header read timeout) */
	struct evbuffer
		*staging; /* requests accepted before the backend is up */
	struct evbuffer *scratch; /* responses on their way to the client */
	struct http_peer hpeer;
	uint64_t local_out; /* bytes of responses edge443 wrote itself */
	char peer_ip[64];
};

/* ---- relay primitives (proxy.c) ---- */

/* Monotonic seconds. */
time_t proxy_now(void);
const struct config *proxy_cfg(const struct proxy_conn *c);
void proxy_arm_timer(struct proxy_conn *c, int seconds);
/* The one teardown path; the caller must not touch C afterwards. */
void proxy_conn_close(struct proxy_conn *c, const char *why);
/* Move FROM's input to its partner's output (backpressure included). */
void proxy_forward(struct proxy_conn *c, struct proxy_side *from);
/* FROM sent its last byte: half-close the partner once it drained. */
void proxy_pass_eof(struct proxy_conn *c, struct proxy_side *from);
/* Turn reading of S on or off (a TLS side through its bufferevent, a plain
 * side through its own read event). */
void proxy_side_reading(struct proxy_side *s, bool on);
/* Free S's bufferevent (closing the socket) and read event. */
void proxy_side_free(struct proxy_side *s);
/* Start connecting to the service's backend (state PROXY_CONNECTING). */
void proxy_connect_backend(struct proxy_conn *c);

/* The bufferevent callbacks of both sides (proxy.c); a plain side's own
 * read event calls them too. */
void proxy_read_cb(struct bufferevent *bev, void *arg);
void proxy_event_cb(struct bufferevent *bev, short events, void *arg);

/* ---- the two sides' plumbing (proxy_side.c) ---- */

/* Make SSL treat an EOF without close_notify as an end of stream and record
 * a real close_notify in S (so a dirty close can be passed on dirty). */
void proxy_ssl_prepare(SSL *ssl, struct proxy_side *s);
/* Give plain side S its own read event (reads up to PROXY_IO_MAX). 0 / -1. */
int proxy_plain_side(struct proxy_conn *c, struct proxy_side *s);
/* Send SRC (drained) to side TO: written at once when TO has nothing queued
 * (sparing the bufferevent's add/remove of its write event per chunk), the
 * rest queued in TO's bufferevent as usual. */
void proxy_send(struct proxy_side *to, struct evbuffer *src);
/* The next chunk of SRC for one SSL_write: pieces smaller than a record are
 * joined first (a response head and its body leave as one record). */
bool proxy_send_chunk(struct evbuffer *src, struct evbuffer_iovec *v);
/* The OpenSSL reason of a bufferevent error (drains its queue); *DIRTY when
 * the peer closed without close_notify. */
void proxy_ssl_reason(struct bufferevent *bev, bool *dirty, char *buf,
		      size_t len);

/* ---- HTTP publishing glue (proxy_http.c) ---- */

/* Stop reading, let the client's output drain, then close; true when the
 * connection was closed at once. */
bool proxy_flush_close(struct proxy_conn *c);
/* Client / backend bytes through http.c; true when the connection closed. */
bool proxy_http_client(struct proxy_conn *c);
bool proxy_http_backend(struct proxy_conn *c);
/* The backend could not be reached or verified: 502 (504 on TIMEOUT). */
void proxy_http_backend_failed(struct proxy_conn *c, bool timeout,
			       const char *reason);
/* The backend is up: send what was staged and relay. */
void proxy_http_backend_ready(struct proxy_conn *c);
/* After the TLS handshake of an http service: wait for a request. */
void proxy_http_start(struct proxy_conn *c);
/* The connection's timer fired in an http state. */
void proxy_http_timer(struct proxy_conn *c);

#endif
