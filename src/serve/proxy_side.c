/* proxy_side.c — the plumbing of a connection's two sides.
 *
 * TLS sides run inside libevent's bufferevent_openssl; this file prepares
 * their SSL objects (OpenSSL 3's unexpected EOF treated as an end of stream,
 * with a close_notify tracker so a dirty close stays dirty) and turns their
 * error queues into a reason (worded by ossl_err.c).  Plain TCP sides keep a
 * bufferevent for writing but read through an event of their own, up to
 * PROXY_IO_MAX bytes per call (libevent 2.1 reads plain sockets 4 KiB at a
 * time), and report what they read, an end or a failure to the callbacks
 * that the side's creator gave (struct proxy_side_cbs), as a bufferevent
 * reports to its owner; a read its partner can take at once skips the
 * input buffer (the worker thread's scratch buffer, up to
 * PROXY_DIRECT_MAX).  A client's TLS side writes through this file's BIO,
 * which lets a batch of records leave in one write(2) and holds what the
 * socket does not take, ahead of anything sent later.  It knows no
 * connection: the relay logic, and what a read means to it, are proxy.c's
 * and proxy_events.c's.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
#include <openssl/err.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "edge443/serve/proxy_side.h"
#include "edge443/base/ossl_err.h"
#include "edge443/serve/tls.h"

/* Records a close_notify from the peer.  The SSLs run with
 * SSL_OP_IGNORE_UNEXPECTED_EOF, so OpenSSL 3 reports an EOF without
 * close_notify as an ordinary end of the stream instead of a fatal error
 * (after which nothing more could be sent to that peer); this callback is
 * what still tells the two apart, so a dirty close can be passed on dirty. */
static void proxy_ssl_info_cb(const SSL *ssl, int where, int ret)
{
	if ((where & SSL_CB_READ_ALERT) &&
	    (ret & 0xff) == SSL_AD_CLOSE_NOTIFY) {
		struct proxy_side *s = SSL_get_app_data(ssl);
		if (s)
			s->close_notify = true;
	}
}

void proxy_ssl_prepare(SSL *ssl, struct proxy_side *s)
{
	SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Read-ahead: one read(2) takes whatever the socket holds, instead of
	 * two per record (its header, then its body).  Records left in
	 * OpenSSL's buffer are what bufferevent_openssl cannot see (it only
	 * asks SSL_pending): proxy_side_read_buffered hands them to it. */
	SSL_set_read_ahead(ssl, 1);
	SSL_set_default_read_buffer_len(ssl, PROXY_TLS_READ_BUF);
	SSL_set_app_data(ssl, s);
	SSL_set_info_callback(ssl, proxy_ssl_info_cb);
}

void proxy_side_reading(struct proxy_side *s, bool on)
{
	if (!s->bev)
		return;
	if (!s->rev) {
		if (on)
			bufferevent_enable(s->bev, EV_READ);
		else
			bufferevent_disable(s->bev, EV_READ);
	} else if (on) {
		event_add(s->rev, NULL);
	} else {
		event_del(s->rev);
	}
}

void proxy_side_writing(struct proxy_side *s)
{
	/* Every bufferevent starts with EV_WRITE enabled (libevent 2.1), and
	 * nothing here disables it but proxy_side_handshake_idle: enabling it
	 * again would only arm the write event with nothing to write, one
	 * epoll_ctl to arm it and one when the socket proves writable. */
	if (s->bev && !(bufferevent_get_enabled(s->bev) & EV_WRITE))
		bufferevent_enable(s->bev, EV_WRITE);
}

void proxy_side_handshake_idle(struct proxy_side *s)
{
	/* bufferevent_openssl arms its write event when it is created (its
	 * EV_WRITE is enabled from the start).  A server reads the
	 * ClientHello first, and the handshake arms writing by itself when
	 * it must wait to write (SSL_ERROR_WANT_WRITE) whatever is enabled:
	 * disabling EV_WRITE until the handshake is done spares an armed
	 * write event that the first WANT_READ would disarm again. */
	if (s->bev)
		bufferevent_disable(s->bev, EV_WRITE);
}

void proxy_side_tls_open(struct proxy_side *s)
{
	struct bufferevent *bev = s->bev;

	if (!bev || !s->ssl)
		return;
	/* libevent 2.1.12's bufferevent_openssl, once the handshake is done,
	 * arms the write event whenever EV_WRITE is enabled, and disarms it
	 * when the socket is writable and its output empty (consider_writing:
	 * event_del of ev_write, EV_WRITE left enabled).  That is the state
	 * reached here at once: EV_WRITE enabled, the write event disarmed
	 * while nothing waits; new output re-arms it (be_openssl_outbuf_cb,
	 * when the output grows from empty).  Right after the handshake
	 * neither of its "blocked" states can be set (only SSL_read and
	 * SSL_write outside the handshake set them), so the write event
	 * drives nothing else.  With the epoll changelist, the arming and
	 * disarming then cost no epoll_ctl at all. */
	if (!(bufferevent_get_enabled(bev) & EV_WRITE))
		bufferevent_enable(bev, EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		event_del(&bev->ev_write);
}

void proxy_side_read_buffered(struct proxy_side *s)
{
	struct bufferevent *bev = s->bev;

	/* With read-ahead, OpenSSL may hold bytes read from the socket that
	 * no SSL_read has decrypted yet: a whole record that came in the same
	 * segment as the one before it (or as the handshake's last flight),
	 * or the start of one.  bufferevent_openssl 2.1.12 keeps reading
	 * only while SSL_pending (the rest of the record being decrypted) is
	 * non-zero, then waits for the socket, which has nothing more to say:
	 * the records would wait there for ever.  Without read-ahead those
	 * bytes would still be in the socket, which would stay readable, and
	 * libevent would read them whenever its read event is armed.  So do
	 * what the socket would: when the read event is armed (reading wanted,
	 * not paused, not held by a watermark) and OpenSSL holds bytes,
	 * activate the read event; libevent then reads as on a readable
	 * socket (consider_reading).  A partial record costs one read(2)
	 * that finds the socket empty, and nothing else.  Called after every
	 * callback of a connection (proxy_release), which is where reading
	 * can progress or be turned back on. */
	if (!bev || !s->ssl || !SSL_is_init_finished(s->ssl) ||
	    !SSL_has_pending(s->ssl))
		return;
	if (event_pending(&bev->ev_read, EV_READ, NULL))
		event_active(&bev->ev_read, EV_READ, 1);
}

void proxy_side_free(struct proxy_side *s, bool reset)
{
	if (reset && s->bev) {
		/* An RST instead of a FIN: what was cut must look cut. */
		struct linger lg = {1, 0};
		int fd = bufferevent_getfd(s->bev);
		if (fd >= 0)
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	if (s->rev) {
		event_free(s->rev);
		s->rev = NULL;
	}
	if (s->wev) {
		event_free(s->wev);
		s->wev = NULL;
	}
	if (s->bev) {
		bufferevent_free(s->bev); /* frees the SSL and its BIOs */
		s->bev = NULL;
	}
	if (s->held) {
		evbuffer_free(s->held);
		s->held = NULL;
	}
	s->ssl = NULL;
}

size_t proxy_side_pending(const struct proxy_side *s)
{
	if (!s->bev)
		return 0;
	return evbuffer_get_length(bufferevent_get_output(s->bev)) +
	       (s->held ? evbuffer_get_length(s->held) : 0);
}

/* ---- a TLS side's BIO: the socket, and records held back in a batch ----- */

/* With this much held, SSL_write waits (SSL_ERROR_WANT_WRITE) as it would
 * on a full socket: a peer that does not read makes nothing grow. */
#define PROXY_HELD_MAX (256 * 1024)

/* What the BIO knows: its side, the socket, the base the side's write
 * event runs on, and whether the socket reached its end. */
struct proxy_bio {
	struct proxy_side *s;
	struct event_base *base;
	int fd;
	bool eof;
};

/* Write S's held records to FD (one writev).  0 (all, some or none of them
 * written), or -1 with errno when the socket failed. */
static int proxy_held_flush(struct proxy_side *s, int fd)
{
	if (!s->held || evbuffer_get_length(s->held) == 0)
		return 0;
	if (evbuffer_write(s->held, fd) < 0 && errno != EAGAIN &&
	    errno != EINTR)
		return -1;
	return 0;
}

/* After a batch: write it, and arm the write event for what is left.  A
 * failed socket is reported from that event, not from here: the caller
 * is in the middle of relaying and must not see the side freed under it. */
static void proxy_held_send(struct proxy_side *s)
{
	if (proxy_held_flush(s, bufferevent_getfd(s->bev)) < 0 ||
	    evbuffer_get_length(s->held) > 0)
		event_add(s->wev, NULL);
}

static int proxy_bio_write(BIO *b, const char *buf, int len)
{
	struct proxy_bio *pb = BIO_get_data(b);
	struct proxy_side *s = pb->s;
	ssize_t w;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	if (s->batching)
		return evbuffer_add(s->held, buf, (size_t)len) == 0 ? len : -1;
	if (s->held && evbuffer_get_length(s->held) > 0) {
		/* Whatever OpenSSL sends now (the next record, an alert,
		 * close_notify) goes after the held records, which the
		 * write event sends when the socket is writable: trying the
		 * socket here would mostly find it still full. */
		if (evbuffer_get_length(s->held) >= PROXY_HELD_MAX) {
			BIO_set_retry_write(b);
			return -1;
		}
		return evbuffer_add(s->held, buf, (size_t)len) == 0 ? len : -1;
	}
	do {
		w = write(pb->fd, buf, (size_t)len);
	} while (w < 0 && errno == EINTR);
	if (w < 0 && errno == EAGAIN)
		BIO_set_retry_write(b);
	return (int)w;
}

/* Reading is a socket BIO's: a read(2), retry on EAGAIN, and the end of
 * the stream remembered for BIO_eof (OpenSSL asks it to tell an EOF
 * without close_notify from an error). */
static int proxy_bio_read(BIO *b, char *buf, int len)
{
	struct proxy_bio *pb = BIO_get_data(b);
	ssize_t r;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	do {
		r = read(pb->fd, buf, (size_t)len);
	} while (r < 0 && errno == EINTR);
	if (r < 0 && errno == EAGAIN)
		BIO_set_retry_read(b);
	else if (r == 0)
		pb->eof = true;
	return (int)r;
}

static long proxy_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct proxy_bio *pb = BIO_get_data(b);

	(void)num;
	switch (cmd) {
	case BIO_C_GET_FD:
		if (ptr)
			*(int *)ptr = pb->fd;
		return pb->fd;
	case BIO_CTRL_GET_CLOSE:
		return BIO_NOCLOSE; /* the bufferevent closes the socket */
	case BIO_CTRL_SET_CLOSE:
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_EOF:
		return pb->eof;
	case BIO_CTRL_WPENDING:
		return pb->s && pb->s->held
			       ? (long)evbuffer_get_length(pb->s->held)
			       : 0;
	default:
		return 0;
	}
}

static int proxy_bio_create(BIO *b)
{
	struct proxy_bio *pb = calloc(1, sizeof(*pb));

	if (!pb)
		return 0;
	pb->fd = -1;
	BIO_set_data(b, pb);
	BIO_set_init(b, 1);
	return 1;
}

static int proxy_bio_destroy(BIO *b)
{
	free(BIO_get_data(b));
	BIO_set_data(b, NULL);
	return 1;
}

static BIO_METHOD *proxy_bio_method;
static int proxy_bio_type;

static void proxy_bio_method_init(void)
{
	proxy_bio_type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
			 BIO_TYPE_DESCRIPTOR;
	BIO_METHOD *m = BIO_meth_new(proxy_bio_type, "edge443 socket");

	if (m && BIO_meth_set_write(m, proxy_bio_write) &&
	    BIO_meth_set_read(m, proxy_bio_read) &&
	    BIO_meth_set_ctrl(m, proxy_bio_ctrl) &&
	    BIO_meth_set_create(m, proxy_bio_create) &&
	    BIO_meth_set_destroy(m, proxy_bio_destroy)) {
		proxy_bio_method = m;
		return;
	}
	BIO_meth_free(m);
}

/* S's socket is writable: write the held records; once they are all out,
 * tell the side's owner, as a bufferevent tells of a drained output. */
static void proxy_held_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_side *s = arg;

	(void)what;
	if (proxy_held_flush(s, fd) < 0) {
		int err = errno;
		evbuffer_drain(s->held, evbuffer_get_length(s->held));
		event_del(s->wev);
		errno = err;
		s->cbs->event(s, BEV_EVENT_WRITING | BEV_EVENT_ERROR, s->cbarg);
		return;
	}
	if (evbuffer_get_length(s->held) > 0)
		return;
	event_del(s->wev);
	s->cbs->drained(s, s->cbarg);
}

/* Can TLS side S send a batch (its SSL writes through this file's BIO,
 * proxy_tls_side, and nothing is held)?  Its buffer and write event are
 * made the first time (an idle connection has neither). */
static bool proxy_held_ready(struct proxy_side *s)
{
	BIO *b = SSL_get_wbio(s->ssl);
	struct proxy_bio *pb;

	if (!b || BIO_method_type(b) != proxy_bio_type)
		return false;
	pb = BIO_get_data(b);
	if (!s->held && !(s->held = evbuffer_new()))
		return false;
	if (!s->wev &&
	    !(s->wev = event_new(pb->base, pb->fd, EV_WRITE | EV_PERSIST,
				 proxy_held_cb, s)))
		return false;
	return evbuffer_get_length(s->held) == 0;
}

int proxy_tls_side(struct proxy_side *s, struct event_base *base, int fd,
		   const struct proxy_side_cbs *cbs, void *arg)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	BIO *bio;
	struct proxy_bio *pb;

	pthread_once(&once, proxy_bio_method_init);
	if (!proxy_bio_method || !s->ssl || !(bio = BIO_new(proxy_bio_method)))
		return -1;
	s->cbs = cbs;
	s->cbarg = arg;
	pb = BIO_get_data(bio);
	pb->s = s;
	pb->base = base;
	pb->fd = fd;
	SSL_set_bio(s->ssl, bio, bio);
	return 0;
}

/* Plain side S's read returned R (0: EOF, < 0: error ERR): its read event
 * off, the end reported as a bufferevent reports it. */
static void proxy_plain_end(struct proxy_side *s, ssize_t r, int err)
{
	event_del(s->rev);
	errno = err; /* the event callback reads it for the reason */
	s->cbs->event(s,
		      BEV_EVENT_READING |
			      (r == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR),
		      s->cbarg);
}

/* A plain socket is readable: read up to PROXY_IO_MAX bytes at once into the
 * bufferevent's input, then report to the side's callbacks what a
 * bufferevent would report to its own. */
static void proxy_plain_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_side *s = arg;
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer_iovec v[2];
	ssize_t r;
	int n;

	/* Nothing buffered and the partner can take the bytes at once: read
	 * into the thread's scratch buffer and hand them over from there,
	 * sparing the input buffer's allocation, its bookkeeping and the
	 * joining of pieces into records. */
	if (s->cbs->direct_ok && evbuffer_get_length(in) == 0 &&
	    s->cbs->direct_ok(s, s->cbarg)) {
		static _Thread_local unsigned char scratch[PROXY_DIRECT_MAX];
		r = read(fd, scratch, sizeof(scratch));
		if (r > 0) {
			s->cbs->direct(s, scratch, (size_t)r, s->cbarg);
			return;
		}
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		proxy_plain_end(s, r, errno);
		return;
	}
	/* A socket bufferevent keeps the end of its input frozen except
	 * while it reads itself; do as it does. */
	evbuffer_unfreeze(in, 0);
	n = evbuffer_reserve_space(in, PROXY_IO_MAX, v, 2);
	if (n <= 0) {
		evbuffer_freeze(in, 0);
		s->cbs->fail(s, "out of memory", s->cbarg);
		return;
	}
	r = readv(fd, (struct iovec *)v, n);
	int err = errno;
	if (r > 0) {
		if ((size_t)r <= v[0].iov_len) {
			v[0].iov_len = (size_t)r;
			n = 1;
		} else {
			v[1].iov_len = (size_t)r - v[0].iov_len;
		}
		evbuffer_commit_space(in, v, n);
		evbuffer_freeze(in, 0);
		s->cbs->data(s, s->cbarg);
		return;
	}
	evbuffer_commit_space(in, v, 0);
	if (r < 0 && (err == EAGAIN || err == EINTR)) {
		evbuffer_freeze(in, 0);
		return;
	}
	/* The side ended: do not keep the PROXY_IO_MAX bytes reserved for a
	 * read that brought nothing, or a half-closed connection would hold
	 * them until the other side ends (128 KiB each, measured).  libevent
	 * frees the chains of a buffer that is drained empty, but drains
	 * nothing from an empty one: give it one byte to drain. */
	if (evbuffer_get_length(in) == 0 && evbuffer_add(in, "", 1) == 0)
		evbuffer_drain(in, 1);
	evbuffer_freeze(in, 0);
	proxy_plain_end(s, r, err);
	(void)what;
}

/* A plain TCP side: the bufferevent writes, proxy_plain_read_cb reads. */
int proxy_plain_side(struct proxy_side *s, struct event_base *base,
		     const struct proxy_side_cbs *cbs, void *arg)
{
	s->cbs = cbs;
	s->cbarg = arg;
	s->rev = event_new(base, bufferevent_getfd(s->bev),
			   EV_READ | EV_PERSIST, proxy_plain_read_cb, s);
	return s->rev ? 0 : -1;
}

/* The OpenSSL reason of a bufferevent error (drains its queue).  Sets
 * *dirty when the peer closed without close_notify. */
void proxy_ssl_reason(struct bufferevent *bev, bool *dirty, char *buf,
		      size_t len)
{
	unsigned long e;

	bool syscall = false;

	buf[0] = '\0';
	*dirty = false;
	while ((e = bufferevent_get_openssl_error(bev)) != 0) {
		/* libevent 2.1 queues SSL_get_error()'s code itself before
		 * the OpenSSL reasons: SSL_ERROR_SYSCALL with nothing else
		 * is an EOF without close_notify. */
		if (e == SSL_ERROR_SYSCALL) {
			syscall = true;
			continue;
		}
		if (e == SSL_ERROR_SSL)
			continue;
		if (tls_error_is_dirty_eof(e)) {
			*dirty = true;
			continue;
		}
		/* libevent hands the queue back newest first: the last one
		 * is the cause ("unrecognized name" under "callback
		 * failed"). */
		ossl_err_reason(e, buf, len);
	}
	if (syscall && !buf[0] && EVUTIL_SOCKET_ERROR() == 0)
		*dirty = true;
}

/* The next chunk of SRC to SSL_write, small pieces (a response head and
 * its body) first joined into one TLS record's worth, so that they leave
 * in one record and one write(2).  False when SRC is empty. */
bool proxy_send_chunk(struct evbuffer *src, struct evbuffer_iovec *v)
{
	size_t len = evbuffer_get_length(src);
	size_t want = len < PROXY_RECORD ? len : PROXY_RECORD;

	if (len == 0 || evbuffer_peek(src, -1, NULL, v, 1) < 1)
		return false;
	if (v->iov_len < want) {
		v->iov_base = evbuffer_pullup(src, (ev_ssize_t)want);
		v->iov_len = want;
	}
	return v->iov_base != NULL && v->iov_len > 0;
}

void proxy_send_bytes(struct proxy_side *to, const unsigned char *buf,
		      size_t len)
{
	struct evbuffer *out = bufferevent_get_output(to->bev);

	if (evbuffer_get_length(out) == 0) {
		if (!to->ssl) {
			ssize_t w;
			do {
				w = write(bufferevent_getfd(to->bev), buf, len);
			} while (w < 0 && errno == EINTR);
			if (w > 0) {
				buf += w;
				len -= (size_t)w;
			}
		} else if (SSL_is_init_finished(to->ssl)) {
			/* More than one record and nothing held: encrypt
			 * them all into HELD, then one write(2) (a write(2)
			 * per record costs a syscall each). */
			bool batch = len > PROXY_RECORD && proxy_held_ready(to);
			to->batching = batch;
			/* As proxy_send: whole records; on WANT_WRITE the
			 * record becomes the first of the output, and
			 * libevent's retry repeats the same SSL_write. */
			while (len > 0) {
				size_t k =
					len < PROXY_RECORD ? len : PROXY_RECORD;
				int n = SSL_write(to->ssl, buf, (int)k);
				if (n <= 0) {
					ERR_clear_error();
					break;
				}
				buf += n;
				len -= (size_t)n;
			}
			to->batching = false;
			if (batch)
				proxy_held_send(to);
		}
	}
	/* What is left is queued (a failed write is reported by the
	 * bufferevent when it writes the queue). */
	if (len > 0)
		evbuffer_add(out, buf, len);
}

void proxy_send(struct proxy_side *to, struct evbuffer *src)
{
	struct evbuffer *out = bufferevent_get_output(to->bev);

	if (evbuffer_get_length(out) == 0) {
		if (!to->ssl) {
			evbuffer_write(src, bufferevent_getfd(to->bev));
		} else if (SSL_is_init_finished(to->ssl)) {
			/* Whole chunks, no partial writes: on WANT_WRITE the
			 * chunk becomes the first of the output, so libevent's
			 * retry repeats the same SSL_write, as OpenSSL asks. */
			struct evbuffer_iovec v;
			while (proxy_send_chunk(src, &v)) {
				int n = SSL_write(to->ssl, v.iov_base,
						  (int)v.iov_len);
				if (n <= 0) {
					ERR_clear_error();
					break;
				}
				evbuffer_drain(src, (size_t)n);
			}
		}
	}
	evbuffer_add_buffer(out, src);
}
