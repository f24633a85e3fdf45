/* proxy_side.h — one side of a connection: its socket, SSL and bufferevent.
 *
 * proxy_side.c is the plumbing under proxy.c's relay: preparing a side's SSL,
 * a plain side's own read event, turning reading on and off, sending,
 * freeing, and the reason of a TLS error.  It knows no connection: what a
 * plain side's read event finds goes to the callbacks that its creator gave
 * it (struct proxy_side_cbs), the way a bufferevent calls its owner's.
 * Shared by proxy.c, proxy_http.c (through proxy_internal.h) and
 * tests/unit/test_proxy.c.  Everything runs on the event base of the worker
 * that owns the side.
 */
#ifndef EDGE443_PROXY_SIDE_H
#define EDGE443_PROXY_SIDE_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest single socket read/write libevent may do (its default is 4 KiB). */
#define PROXY_IO_MAX (64 * 1024)
/* Largest read of a plain side that goes straight to its partner (see
 * proxy_side_cbs.direct): up to 16 records encrypted as one batch and sent
 * with one write(2), which measured 11 % less CPU per byte than 4. */
#define PROXY_DIRECT_MAX (256 * 1024)
/* One TLS record's plaintext: small pieces are joined up to this before an
 * SSL_write so that they leave as one record. */
#define PROXY_RECORD (16 * 1024)
/* OpenSSL's read buffer of a TLS side (its default holds one record): with
 * read-ahead, one read(2) takes up to four full records.  Released when
 * empty (SSL_MODE_RELEASE_BUFFERS), so an idle connection holds none. */
#define PROXY_TLS_READ_BUF (64 * 1024 + 1024)

struct proxy_side;

/* What a plain side's own read event reports to whoever made the side
 * (proxy.c).  ARG is what proxy_plain_side was given.  Each runs inside the
 * read event's callback and may free the side. */
struct proxy_side_cbs {
	/* Bytes were appended to S's input. */
	void (*data)(struct proxy_side *s, void *arg);
	/* The socket ended: EVENTS is BEV_EVENT_READING with BEV_EVENT_EOF
	 * or BEV_EVENT_ERROR (errno says why), as a bufferevent reports it;
	 * the read event is already off. */
	void (*event)(struct proxy_side *s, short events, void *arg);
	/* No memory to read into (WHY: static text). */
	void (*fail)(struct proxy_side *s, const char *why, void *arg);
	/* Optional (both NULL or both set).  DIRECT_OK: may the next read
	 * skip S's input (it is empty) and go to DIRECT instead?  DIRECT:
	 * LEN bytes were read into BUF, the worker thread's scratch buffer,
	 * valid only during the call; it must take them all (send them on,
	 * or queue a copy). */
	bool (*direct_ok)(struct proxy_side *s, void *arg);
	void (*direct)(struct proxy_side *s, const unsigned char *buf,
		       size_t len, void *arg);
	/* A TLS side made by proxy_tls_side: its held records (see
	 * proxy_send_bytes) are all written, as a bufferevent's write
	 * callback reports a drained output. */
	void (*drained)(struct proxy_side *s, void *arg);
};

struct proxy_side {
	struct bufferevent *bev; /* NULL until created / after it broke */
	struct event *rev;	 /* plain TCP: our own read event (libevent 2.1
				  * reads plain sockets 4 KiB at a time; this reads
				  * up to PROXY_IO_MAX); NULL for TLS sides */
	const struct proxy_side_cbs *cbs; /* plain TCP: where REV reports */
	void *cbarg;			  /* ... with this argument */
	SSL *ssl;			  /* owned by bev; NULL for plain TCP */
	/* TLS sides made by proxy_tls_side: records encrypted in one batch
	 * that the socket did not take yet (written before anything else
	 * this side sends), and the event that writes them when the socket
	 * is writable.  Owned; made by the first batch, NULL until then
	 * and for other sides. */
	struct evbuffer *held;
	struct event *wev;
	bool batching;	   /* SSL_write's records go to HELD */
	bool eof;	   /* the peer finished sending (or broke) */
	bool dirty;	   /* ... without close_notify */
	bool shut;	   /* we have shut our sending direction */
	bool shut_pending; /* shut it once the output has drained */
	bool paused;	   /* reading paused: the partner's output is full */
	bool close_notify; /* the peer's close_notify alert was read */
	uint64_t bytes;	   /* bytes read from this side */
};

/* Make SSL treat an EOF without close_notify as an end of stream and record
 * a real close_notify in S (so a dirty close can be passed on dirty). */
void proxy_ssl_prepare(SSL *ssl, struct proxy_side *s);
/* Give plain side S (its bufferevent made) its own read event on BASE,
 * reading up to PROXY_IO_MAX bytes at a time into the bufferevent's input
 * and reporting to CBS with ARG (both kept; CBS static).  0 / -1. */
int proxy_plain_side(struct proxy_side *s, struct event_base *base,
		     const struct proxy_side_cbs *cbs, void *arg);
/* TLS side S (its SSL made, its bufferevent not yet) on socket FD: give
 * the SSL this file's BIO for the socket, which reads and writes as a
 * socket BIO does and can also hold a batch of records back to send them
 * with one write(2) (see proxy_send_bytes; the buffer and the write event
 * this needs are made on BASE the first time).  EVENT and DRAINED of CBS
 * (kept; static) are called with ARG when held records fail to be written
 * or are all written.  0 / -1. */
int proxy_tls_side(struct proxy_side *s, struct event_base *base, int fd,
		   const struct proxy_side_cbs *cbs, void *arg);
/* Turn reading of S on or off (a TLS side through its bufferevent, a plain
 * side through its own read event). */
void proxy_side_reading(struct proxy_side *s, bool on);
/* Writing on for S without arming its write event: EV_WRITE enabled (a
 * no-op when it is, as it is from the bufferevent's creation on). */
void proxy_side_writing(struct proxy_side *s);
/* A TLS side that accepts a handshake: EV_WRITE disabled until it is done
 * (the handshake arms writing itself when it must wait to write). */
void proxy_side_handshake_idle(struct proxy_side *s);
/* A TLS side whose handshake just finished: EV_WRITE enabled, its write
 * event disarmed while its output is empty (relies on libevent 2.1.12's
 * bufferevent_openssl, see proxy_side.c). */
void proxy_side_tls_open(struct proxy_side *s);
/* TLS side S: when OpenSSL holds bytes read ahead from the socket that
 * libevent has not read (it asks SSL_pending only) and S's read event is
 * armed, activate it, as a readable socket would (see proxy_side.c). */
void proxy_side_read_buffered(struct proxy_side *s);
/* Free S's bufferevent (closing the socket) and read event; RESET sends an
 * RST (SO_LINGER 0) instead of a FIN. */
void proxy_side_free(struct proxy_side *s, bool reset);
/* Send SRC (drained) to side TO: written at once when TO has nothing queued
 * (sparing the bufferevent's add/remove of its write event per chunk), the
 * rest queued in TO's bufferevent as usual. */
void proxy_send(struct proxy_side *to, struct evbuffer *src);
/* Send LEN bytes at BUF to side TO, which has nothing queued: written at
 * once (a TLS side in records of at most PROXY_RECORD), what the socket
 * does not take copied into TO's bufferevent as usual.  A TLS side made
 * by proxy_tls_side gets more than one record's worth encrypted as a
 * batch and written with one write(2); what of it the socket does not
 * take is held and written first once the socket is writable
 * (proxy_side_pending counts it).  Calls nothing back: a failed socket is
 * reported later, from the event loop. */
void proxy_send_bytes(struct proxy_side *to, const unsigned char *buf,
		      size_t len);
/* The next chunk of SRC for one SSL_write: pieces smaller than a record are
 * joined first (a response head and its body leave as one record). */
bool proxy_send_chunk(struct evbuffer *src, struct evbuffer_iovec *v);
/* The OpenSSL reason of a bufferevent error (drains its queue; each code
 * worded by ossl_err_reason); *DIRTY when the peer closed without
 * close_notify. */
void proxy_ssl_reason(struct bufferevent *bev, bool *dirty, char *buf,
		      size_t len);
/* Bytes waiting in S's output and its held records (0 without a
 * bufferevent). */
size_t proxy_side_pending(const struct proxy_side *s);

#endif
