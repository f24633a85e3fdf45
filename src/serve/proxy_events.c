/* proxy_events.c — the events of one client connection and of its backend
 * connection: accepting the client, reaching the backend, and the
 * callbacks and timers that drive the relay.
 *
 * Each side's libevent callbacks (read, write, event, a plain side's own
 * read and a TLS side's held records, proxy_side.c) find the connection and
 * act on its state (proxy_internal.h): the handshake done, the backend
 * reached (with failover and a TLS retry on the next server), an end or a
 * failure, a timeout.  What they do to the bytes, and the teardown, are
 * proxy.c's.  A protocol layer (HTTP publishing) plugs in through
 * struct proxy_hooks and then owns every client byte; without hooks this
 * is a plain byte relay.
 *
 * Not here: choosing the service for a listener (server_worker.c with
 * runtime.c), building SSL contexts (tls.c), connecting with failover
 * (backend.c), the sides' socket and SSL plumbing (proxy_side.c, which
 * reports a plain side's reads to proxy_plain_cbs here and calls nothing
 * else of this file), HTTP (proxy_http.c), the port-80 redirect listener
 * (redirect.c).
 */
#include "edge443/serve/proxy_events.h"
#include "edge443/serve/proxy_internal.h"
#include "edge443/serve/proxy_acme.h"

#include <assert.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "edge443/base/log.h"

static void proxy_read_cb(struct bufferevent *bev, void *arg);
static void proxy_write_cb(struct bufferevent *bev, void *arg);
static void proxy_event_cb(struct bufferevent *bev, short events, void *arg);
static void proxy_timer_cb(evutil_socket_t fd, short what, void *arg);
static const struct proxy_side_cbs proxy_plain_cbs;
static const struct proxy_side_cbs proxy_tls_cbs;

/* ---- small helpers ------------------------------------------------------ */

static struct proxy_side *proxy_side_of(struct proxy_conn *c,
					struct bufferevent *bev)
{
	return bev == c->client.bev ? &c->client : &c->backend;
}

static void proxy_setup_bev(struct proxy_conn *c, struct bufferevent *bev)
{
	bufferevent_setcb(bev, proxy_read_cb, proxy_write_cb, proxy_event_cb,
			  c);
	bufferevent_set_max_single_read(bev, PROXY_IO_MAX);
	bufferevent_set_max_single_write(bev, PROXY_IO_MAX);
}

/* Both sides are up (plain relay): start with what the client already
 * sent. */
static void proxy_start_relay(struct proxy_conn *c)
{
	proxy_set_state(c, PROXY_RELAY);
	c->last_active = proxy_now();
	proxy_arm_timer(c, 1);
	bufferevent_setwatermark(c->client.bev, EV_READ, 0, 0);
	proxy_side_writing(&c->backend);
	proxy_side_reading(&c->backend, true);
	proxy_side_writing(&c->client);
	c->client.paused = false;
	if (!c->client.eof)
		proxy_side_reading(&c->client, true);
	proxy_forward(c, &c->client);
	if (c->client.eof)
		proxy_pass_eof(c, &c->client);
}

/* The backend is up: the layer's relay, or the plain one. */
static void proxy_backend_up(struct proxy_conn *c)
{
	void (*ready)(struct proxy_conn *) = PROXY_HOOK(c, backend_ready);

	if (ready) {
		proxy_set_state(c, PROXY_RELAY);
		c->last_active = proxy_now();
		proxy_side_writing(&c->backend);
		proxy_side_reading(&c->backend, true);
		ready(c);
	} else {
		proxy_start_relay(c);
	}
}

/* No backend server could be used: the layer answers, or we close. */
static void proxy_backend_unusable(struct proxy_conn *c, enum backend_result r,
				   const char *reason, const char *why)
{
	void (*failed)(struct proxy_conn *, enum backend_result, const char *) =
		PROXY_HOOK(c, backend_failed);

	proxy_side_free(&c->backend, false);
	if (failed && c->client.bev) {
		failed(c, r, reason);
		return;
	}
	proxy_conn_close(c, why);
}

/* Send the PROXY protocol header on the fresh socket FD; 0 / -1. */
static int proxy_send_proxy_header(struct proxy_conn *c, int fd)
{
	const struct config_backend *be = c->rs->backend->pool.be;
	unsigned char hdr[232];
	struct sockaddr_storage local, peer;
	socklen_t llen = sizeof(local), plen = sizeof(peer);
	int cfd = bufferevent_getfd(c->client.bev);
	int n = -1;

	/* The address the client reached: our side of its socket. */
	if (getsockname(cfd, (struct sockaddr *)&local, &llen) == 0 &&
	    getpeername(cfd, (struct sockaddr *)&peer, &plen) == 0)
		n = backend_proxy_header(
			be->proxy_protocol, (struct sockaddr *)&peer,
			(struct sockaddr *)&local, hdr, sizeof(hdr));
	/* A fresh socket takes a few hundred bytes at once. */
	if (n < 0 || send(fd, hdr, (size_t)n, MSG_NOSIGNAL) != n) {
		log_warn("service %s: client %s: cannot send the PROXY header "
			 "to %s",
			 c->rs->svc->name, c->peer, c->server);
		return -1;
	}
	return 0;
}

/* FD is connected to server SERVER: wrap it as the backend side. */
static void proxy_backend_attach(struct proxy_conn *c, int fd, size_t server)
{
	const struct runtime_backend *rb = c->rs->backend;
	const struct config_backend *be = rb->pool.be;

	c->server_index = server;
	backend_addr_string((const struct sockaddr *)&be->servers[server].sa,
			    c->server, sizeof(c->server));
	if (be->proxy_protocol != CONFIG_PROXY_OFF &&
	    proxy_send_proxy_header(c, fd) < 0) {
		close(fd);
		proxy_backend_unusable(c, BACKEND_FAILED,
				       "cannot send the PROXY header",
				       "backend failed");
		return;
	}
	if (rb->client_ctx) {
		c->backend.ssl = tls_client_ssl_new(rb->client_ctx, be);
		if (!c->backend.ssl) {
			close(fd);
			proxy_conn_close(c, "out of memory");
			return;
		}
		proxy_ssl_prepare(c->backend.ssl, &c->backend);
		/* On failure libevent has freed the SSL: do not free it. */
		c->backend.bev = bufferevent_openssl_socket_new(
			c->owner->base, fd, c->backend.ssl,
			BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
		if (!c->backend.bev) {
			c->backend.ssl = NULL;
			proxy_conn_close(c, "out of memory");
			return;
		}
		proxy_setup_bev(c, c->backend.bev);
		bufferevent_enable(c->backend.bev, EV_READ | EV_WRITE);
		proxy_set_state(c, PROXY_BACKEND_TLS);
		proxy_arm_timer(c, proxy_cfg(c)->connect_timeout);
		return;
	}
	c->backend.bev = bufferevent_socket_new(c->owner->base, fd,
						BEV_OPT_CLOSE_ON_FREE);
	if (!c->backend.bev) {
		close(fd);
		proxy_conn_close(c, "out of memory");
		return;
	}
	if (proxy_plain_side(&c->backend, c->owner->base, &proxy_plain_cbs, c) <
	    0) {
		proxy_conn_close(c, "out of memory");
		return;
	}
	proxy_setup_bev(c, c->backend.bev);
	proxy_backend_up(c);
}

static void proxy_backend_connected_cb(int fd, size_t server,
				       enum backend_result r,
				       const char *reason, void *arg)
{
	struct proxy_conn *c = arg;

	proxy_hold(c);
	c->connecting = NULL;
	if (fd < 0) {
		/* A local resource error is no verdict on the backend. */
		if (r != BACKEND_LOCAL)
			c->owner->stats->backend_failures++;
		log_warn("service %s: client %s: backend unreachable: %s",
			 c->rs->svc->name, c->peer, reason ? reason : "?");
		proxy_backend_unusable(c, r, reason, "backend unreachable");
	} else {
		proxy_backend_attach(c, fd, server);
	}
	proxy_release(c);
}

void proxy_connect_backend(struct proxy_conn *c)
{
	if (!c->rs->backend) {
		/* check refuses this (backend-required); never serve it. */
		log_warn("service %s: client %s: no backend configured",
			 c->rs->svc->name, c->peer);
		proxy_conn_close(c, "no backend");
		return;
	}
	proxy_set_state(c, PROXY_CONNECTING);
	if (c->timer)
		evtimer_del(c->timer);
	/* Until the backend is up, keep at most PROXY_BUF_MAX of client data
	 * (a layer limits its own staging). */
	if (!c->hooks)
		bufferevent_setwatermark(c->client.bev, EV_READ, 0,
					 PROXY_BUF_MAX);
	c->connecting = backend_connect_start(
		c->owner->base, &c->rs->backend->pool,
		proxy_cfg(c)->connect_timeout, proxy_backend_connected_cb, c);
	if (!c->connecting)
		proxy_conn_close(c, "out of memory");
}

/* ---- passthrough: the ClientHello --------------------------------------- */

/* sni_strict refused the ClientHello: a fatal unrecognized_name alert (for
 * a TLS client; nothing for a non-TLS stream), then close. */
static void proxy_preread_refuse(struct proxy_conn *c, bool tls)
{
	unsigned char alert[TLS_ALERT_RECORD_LEN];
	size_t n = tls ? tls_alert_record(alert, sizeof(alert),
					  SSL_AD_UNRECOGNIZED_NAME)
		       : 0;

	if (n > 0)
		(void)send(bufferevent_getfd(c->client.bev), alert, n,
			   MSG_NOSIGNAL | MSG_DONTWAIT);
	proxy_conn_close(c, "refused by sni_strict");
}

/* Read the SNI from the buffered ClientHello, then connect. */
static void proxy_preread(struct proxy_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->client.bev);
	size_t len = evbuffer_get_length(in);
	const struct config_service *svc = c->rs->svc;
	enum tls_peek_result r;
	char *sni = NULL;

	if (len == 0) {
		if (c->client.eof)
			proxy_conn_close(c, "client closed before sending");
		return;
	}
	if (len > TLS_PEEK_MAX)
		len = TLS_PEEK_MAX;
	r = tls_peek_sni(evbuffer_pullup(in, (ev_ssize_t)len), len, &sni);
	/* A ClientHello that does not end within TLS_PEEK_MAX bytes is not
	 * waited for any longer (the buffer would grow without bound). */
	if (r == TLS_PEEK_NEED_MORE && len >= TLS_PEEK_MAX)
		r = TLS_PEEK_TOO_BIG;
	if (r == TLS_PEEK_NEED_MORE && !c->client.eof)
		return;
	c->sni = sni;
	if (svc->sni_strict) {
		if (r != TLS_PEEK_HELLO) {
			log_info(
				"service %s: client %s: sni_strict: %s refused",
				svc->name, c->peer,
				r == TLS_PEEK_NOT_TLS ? "non-TLS stream"
						      : "incomplete "
							"ClientHello");
			proxy_preread_refuse(c, r != TLS_PEEK_NOT_TLS);
			return;
		}
		if (!sni || !runtime_service_covers(c->rs, sni)) {
			log_info("service %s: client %s: sni_strict: "
				 "ClientHello for \"%s\" refused",
				 svc->name, c->peer, sni ? sni : "(no SNI)");
			proxy_preread_refuse(c, true);
			return;
		}
	}
	/* tls-alpn-01 for a pending challenge is answered here, not by the
	 * backend (a lock-free count when none is pending). */
	if (r == TLS_PEEK_HELLO) {
		const char *why = NULL;
		enum proxy_acme a = proxy_acme_take(c, &why);

		if (a == PROXY_ACME_END)
			proxy_flush_close(c, why);
		if (a != PROXY_ACME_NO)
			return;
	}
	proxy_connect_backend(c);
}

/* More bytes (or the end) from a client taken over for tls-alpn-01. */
static void proxy_acme_more(struct proxy_conn *c)
{
	const char *why = NULL;

	if (proxy_acme_data(c, &why) == PROXY_ACME_END)
		proxy_flush_close(c, why);
}

/* ---- callbacks ---------------------------------------------------------- */

static void proxy_read_cb(struct bufferevent *bev, void *arg)
{
	struct proxy_conn *c = arg;
	bool is_client = bev == c->client.bev;

	proxy_hold(c);
	if (c->state == PROXY_PREREAD) {
		if (c->acme)
			proxy_acme_more(c);
		else
			proxy_preread(c);
	} else if (c->state == PROXY_FLUSH || c->state == PROXY_CLOSED) {
		/* Nothing more is read (a plain side's last read). */
	} else if (c->hooks) {
		void (*data)(struct proxy_conn *) =
			is_client		  ? c->hooks->client_data
			: c->state == PROXY_RELAY ? c->hooks->backend_data
						  : NULL;
		if (data)
			data(c);
		else if (c->state == PROXY_RELAY)
			proxy_forward(c, proxy_side_of(c, bev)); /* tunnel */
	} else if (c->state == PROXY_RELAY) {
		proxy_forward(c, proxy_side_of(c, bev));
	} /* else: stays buffered until the backend is up */
	proxy_release(c);
}

static void proxy_write_cb(struct bufferevent *bev, void *arg)
{
	struct proxy_conn *c = arg;
	struct proxy_side *s = proxy_side_of(c, bev);
	struct proxy_side *other = proxy_partner(c, s);

	proxy_hold(c);
	if (c->state == PROXY_FLUSH) {
		proxy_flush_check(c);
		goto out;
	}
	if (other->paused && other->bev) {
		other->paused = false;
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		if (!other->eof)
			proxy_side_reading(other, true);
		/* A layer may have left bytes unread when it paused. */
		void (*data)(struct proxy_conn *) =
			other == &c->client ? PROXY_HOOK(c, client_data)
					    : PROXY_HOOK(c, backend_data);
		if (data && c->state != PROXY_CLOSED)
			data(c);
		if (proxy_closed(c))
			goto out;
	}
	if (s->shut_pending && proxy_side_pending(s) == 0)
		proxy_shut(c, s);
	proxy_maybe_finish(c);
out:
	proxy_release(c);
}

/* The TLS handshake with backend server c->server_index failed (WHY): mark
 * it down and, when another server is left, try it — the failed one is now
 * tried last, and what the client sent is still buffered here.  At most one
 * attempt per server.  True when a new attempt started. */
static bool proxy_backend_tls_retry(struct proxy_conn *c, const char *why)
{
	struct backend_pool *pool = &c->rs->backend->pool;

	backend_server_mark_failed(pool, c->server_index, why);
	if (++c->tls_failures >= pool->be->nservers)
		return false;
	log_warn("service %s: client %s: trying another server of backend %s",
		 c->rs->svc->name, c->peer, pool->be->name);
	proxy_side_free(&c->backend, false);
	struct proxy_side fresh = {0};
	c->backend = fresh;
	proxy_connect_backend(c);
	return true;
}

/* The TLS handshake with the backend failed (REASON) or timed out. */
static void proxy_backend_tls_failed(struct proxy_conn *c, const char *reason,
				     bool timeout)
{
	long vr = c->backend.ssl ? SSL_get_verify_result(c->backend.ssl)
				 : X509_V_OK;
	const char *verr =
		vr != X509_V_OK ? X509_verify_cert_error_string(vr) : "";
	const char *vname = c->rs->backend->pool.be->verify_name;
	char why[512];

	c->owner->stats->backend_failures++;
	log_warn("service %s: client %s: TLS to backend %s (%s) failed: "
		 "%s%s%s",
		 c->rs->svc->name, c->peer, c->server, vname ? vname : "-",
		 reason, verr[0] ? "; certificate verification: " : "", verr);
	snprintf(why, sizeof(why), "TLS to %s failed: %s%s%s", c->server,
		 reason, verr[0] ? "; " : "", verr);
	if (proxy_backend_tls_retry(c, why))
		return;
	proxy_backend_unusable(
		c, timeout ? BACKEND_TIMEOUT : BACKEND_FAILED, why,
		timeout ? "backend TLS timeout" : "backend TLS failed");
}

/* libevent 2.1.12 stops writing a TLS side too when its read side ends, and
 * does so after our event callback returns (conn_closed): what waits in its
 * output would never go out (a half-close) nor fail (a reset), and a partner
 * paused behind it would hold the connection until the idle timeout.  Re-arm
 * the write event from the loop, once libevent is done. */
static void proxy_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_conn *c = arg;
	struct proxy_side *sides[2] = {&c->client, &c->backend};

	proxy_hold(c);
	for (int i = 0; i < 2; i++)
		if (sides[i]->ssl && sides[i]->bev &&
		    proxy_side_pending(sides[i]))
			bufferevent_enable(sides[i]->bev, EV_WRITE);
	proxy_release(c);
	(void)fd;
	(void)what;
}

static void proxy_kick_writing(struct proxy_conn *c)
{
	if (!c->kick)
		c->kick = event_new(c->owner->base, -1, 0, proxy_kick_cb, c);
	if (c->kick)
		event_active(c->kick, EV_TIMEOUT, 0);
}

/* A TLS handshake finished on side S. */
static void proxy_side_connected(struct proxy_conn *c, struct proxy_side *s)
{
	proxy_side_tls_open(s);
	if (s == &c->client && c->state == PROXY_HANDSHAKE) {
		c->owner->stats->handshakes[SSL_session_reused(s->ssl) == 1]++;
		c->tls_version = tls_ssl_version(s->ssl);
		c->cipher = tls_ssl_cipher(s->ssl);
		const char *sni = tls_ssl_sni(s->ssl);
		c->sni = sni ? strdup(sni) : NULL;
		void (*start)(struct proxy_conn *) = PROXY_HOOK(c, start);
		if (start) {
			proxy_set_state(c, PROXY_WAIT);
			start(c);
		} else {
			proxy_connect_backend(c);
		}
	} else if (s == &c->backend && c->state == PROXY_BACKEND_TLS) {
		backend_server_mark_ok(&c->rs->backend->pool, c->server_index);
		proxy_backend_up(c);
	}
}

/* Side S ended its sending direction (FIN or close_notify; DIRTY: without
 * close_notify). */
static void proxy_side_ended(struct proxy_conn *c, struct proxy_side *s,
			     bool dirty)
{
	bool is_client = s == &c->client;

	s->eof = true;
	s->dirty = dirty;
	/* Only output already queued is stranded: new data re-arms writing
	 * by itself (libevent's output callback). */
	if (s->ssl && proxy_side_pending(s))
		proxy_kick_writing(c);
	switch (c->state) {
	case PROXY_HANDSHAKE:
		c->owner->stats->handshake_failures[PROXY_HS_CLOSED]++;
		log_info("service %s: client %s: closed during the TLS "
			 "handshake",
			 c->rs->svc->name, c->peer);
		proxy_conn_close(c, "client closed during handshake");
		return;
	case PROXY_PREREAD:
		if (c->acme)
			proxy_acme_more(c); /* the validator ended its side */
		else
			proxy_preread(c); /* decide with what we have */
		return;
	case PROXY_FLUSH:
		proxy_side_reading(s, false);
		proxy_flush_check(c);
		return;
	case PROXY_BACKEND_TLS:
		if (!is_client) {
			proxy_backend_tls_failed(
				c, "closed during the TLS handshake", false);
			return;
		}
		break;
	default:
		break;
	}
	proxy_side_reading(s, false);
	if (c->hooks) {
		if (is_client && c->hooks->client_end) {
			c->hooks->client_end(c, false);
			return;
		}
		if (!is_client && c->hooks->backend_end) {
			c->hooks->backend_end(c, dirty, false);
			return;
		}
	}
	if (c->state != PROXY_RELAY)
		return; /* the client's end is passed on when the relay starts
			 */
	proxy_forward(c, s);
	proxy_pass_eof(c, s);
	proxy_maybe_finish(c);
}

/* Side S broke (REASON; RESET: the peer reset the connection). */
static void proxy_side_broke(struct proxy_conn *c, struct proxy_side *s,
			     const char *reason, bool reset)
{
	bool is_client = s == &c->client;

	switch (c->state) {
	case PROXY_HANDSHAKE:
		c->owner->stats->handshake_failures[PROXY_HS_ERROR]++;
		/* Peer-caused: info, so a scanner cannot flood the log. */
		log_info("service %s: client %s: TLS handshake failed: %s",
			 c->rs->svc->name, c->peer, reason);
		proxy_conn_close(c, "handshake failed");
		return;
	case PROXY_PREREAD:
		proxy_conn_close(c, "client failed");
		return;
	case PROXY_BACKEND_TLS:
		if (!is_client) {
			proxy_backend_tls_failed(c, reason, false);
			return;
		}
		break;
	default:
		break;
	}
	log_info("service %s: client %s: %s side failed: %s", c->rs->svc->name,
		 c->peer, is_client ? "client" : "backend", reason);
	s->eof = true;
	s->dirty = true;
	proxy_set_end(c, reset ? PROXY_END_RESET : PROXY_END_DIRTY);
	proxy_side_reading(s, false);
	if (c->state == PROXY_FLUSH) {
		proxy_side_free(s, false);
		proxy_flush_check(c);
		return;
	}
	if (c->hooks) {
		if (is_client && c->hooks->client_end) {
			c->hooks->client_end(c, true);
			return;
		}
		if (!is_client && c->hooks->backend_end) {
			c->hooks->backend_end(c, true, reset);
			return;
		}
	}
	if (c->state != PROXY_RELAY) {
		proxy_conn_close(c, is_client ? "client failed"
					      : "backend failed");
		return;
	}
	/* Deliver what the broken side sent before it broke, then end (dirty)
	 * once the survivor's output has drained. */
	proxy_forward(c, s);
	proxy_side_free(s, false);
	proxy_flush_close(c, is_client ? "client failed" : "backend failed");
}

static void proxy_event_cb(struct bufferevent *bev, short events, void *arg)
{
	struct proxy_conn *c = arg;
	struct proxy_side *s = proxy_side_of(c, bev);
	char reason[256] = "";
	bool dirty = false;
	int err = EVUTIL_SOCKET_ERROR();

	proxy_hold(c);
	if (c->state == PROXY_CLOSED)
		goto out;
	if (events & BEV_EVENT_CONNECTED) {
		proxy_side_connected(c, s);
		goto out;
	}
	/* A write that failed means the peer is gone (a reset, a closed
	 * socket), whatever libevent calls it: after the peer's close_notify
	 * or EOF it reports a failed SSL_write as an EOF.  Never a half-close
	 * to wait on. */
	if ((events & BEV_EVENT_WRITING) &&
	    (events & (BEV_EVENT_ERROR | BEV_EVENT_EOF))) {
		if (s->ssl)
			proxy_ssl_reason(bev, &dirty, reason, sizeof(reason));
		if (!reason[0])
			snprintf(reason, sizeof(reason), "%s",
				 err ? strerror(err) : "write failed");
		proxy_side_broke(c, s, reason,
				 err == ECONNRESET || err == EPIPE);
		goto out;
	}
	if (events & BEV_EVENT_ERROR) {
		if (s->ssl)
			proxy_ssl_reason(bev, &dirty, reason, sizeof(reason));
		if (!dirty && !reason[0] && err == 0)
			dirty = s->ssl != NULL; /* EOF without an alert */
		if (dirty) {
			proxy_side_ended(c, s, true);
			goto out;
		}
		if (!reason[0])
			snprintf(reason, sizeof(reason), "%s",
				 err ? strerror(err) : "connection error");
		proxy_side_broke(c, s, reason, err == ECONNRESET);
		goto out;
	}
	if (events & BEV_EVENT_EOF) {
		proxy_side_ended(c, s, s->ssl && !s->close_notify);
		goto out;
	}
	if (events & BEV_EVENT_TIMEOUT)
		proxy_side_broke(c, s, "timeout", false);
out:
	proxy_release(c);
}

/* A plain side's own read event (proxy_side.c) read bytes: as a read
 * watermark would, keep at most PROXY_BUF_MAX while not relaying yet (the
 * backend still connecting), then run the read callback. */
static void proxy_plain_data_cb(struct proxy_side *s, void *arg)
{
	struct proxy_conn *c = arg;

	if (c->state != PROXY_RELAY && !c->hooks &&
	    evbuffer_get_length(bufferevent_get_input(s->bev)) >=
		    PROXY_BUF_MAX) {
		proxy_side_reading(s, false);
		s->paused = true;
	}
	proxy_read_cb(s->bev, c);
}

/* ... found the socket's end or an error (errno): the event callback. */
static void proxy_plain_event_cb(struct proxy_side *s, short events, void *arg)
{
	proxy_event_cb(s->bev, events, arg);
}

/* ... had no memory to read into. */
static void proxy_plain_fail_cb(struct proxy_side *s, const char *why,
				void *arg)
{
	struct proxy_conn *c = arg;

	proxy_hold(c);
	proxy_conn_close(c, why);
	proxy_release(c);
	(void)s;
}

/* ... may hand its next read over directly: a plain relay (no protocol
 * layer) whose partner is up, open, and has nothing queued. */
static bool proxy_plain_direct_ok(struct proxy_side *s, void *arg)
{
	struct proxy_conn *c = arg;
	struct proxy_side *to = proxy_partner(c, s);

	return c->state == PROXY_RELAY && !c->hooks && to->bev && !to->shut &&
	       proxy_side_pending(to) == 0 &&
	       (!to->ssl || SSL_is_init_finished(to->ssl));
}

/* ... read LEN bytes into BUF (see proxy_plain_direct_ok): relayed from
 * there, as proxy_forward relays an input buffer. */
static void proxy_plain_direct_cb(struct proxy_side *s,
				  const unsigned char *buf, size_t len,
				  void *arg)
{
	struct proxy_conn *c = arg;
	struct proxy_side *to = proxy_partner(c, s);

	proxy_hold(c);
	proxy_note_read(c, s, len);
	proxy_send_bytes(to, buf, len); /* calls nothing back */
	proxy_limit(c, s, bufferevent_get_output(to->bev), to);
	proxy_release(c);
}

/* A client TLS side's held records (proxy_side.c) are all written: what
 * a drained output means to the relay. */
static void proxy_tls_drained_cb(struct proxy_side *s, void *arg)
{
	/* With output still queued, the bufferevent calls the write
	 * callback itself once that drains to its watermark. */
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		proxy_write_cb(s->bev, arg);
}

/* ... could not be written (errno): the event callback. */
static void proxy_tls_event_cb(struct proxy_side *s, short events, void *arg)
{
	proxy_event_cb(s->bev, events, arg);
}

static const struct proxy_side_cbs proxy_tls_cbs = {
	.event = proxy_tls_event_cb,
	.drained = proxy_tls_drained_cb,
};

static const struct proxy_side_cbs proxy_plain_cbs = {
	.data = proxy_plain_data_cb,
	.event = proxy_plain_event_cb,
	.fail = proxy_plain_fail_cb,
	.direct_ok = proxy_plain_direct_ok,
	.direct = proxy_plain_direct_cb,
};

/* A plain relay's idle and response timeouts. */
static void proxy_relay_timer(struct proxy_conn *c)
{
	const struct config *cfg = proxy_cfg(c);
	const struct config_backend *be = c->rs->backend->pool.be;
	int rto = be->response_timeout > 0 ? be->response_timeout : 60;
	time_t now = proxy_now();
	time_t idle = now - c->last_active;
	time_t next = c->last_active + cfg->idle_timeout;

	/* The backend must answer the client's first bytes in time. */
	if (c->backend.bytes == 0 && c->client.bytes > 0) {
		if (now - c->client_first >= rto) {
			log_warn("service %s: client %s: backend %s sent "
				 "nothing within response_timeout (%d s)",
				 c->rs->svc->name, c->peer, c->server, rto);
			proxy_set_end(c, PROXY_END_DIRTY);
			proxy_conn_close(c, "response timeout");
			return;
		}
		if (c->client_first + rto < next)
			next = c->client_first + rto;
	}
	if (idle >= cfg->idle_timeout) {
		proxy_set_end(c, PROXY_END_DIRTY);
		proxy_conn_close(c, "idle timeout");
		return;
	}
	proxy_arm_timer(c, (int)(next - now));
}

static void proxy_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_conn *c = arg;
	const struct config *cfg = proxy_cfg(c);
	void (*timer)(struct proxy_conn *) = PROXY_HOOK(c, timer);

	proxy_hold(c);
	switch (c->state) {
	case PROXY_PREREAD:
	case PROXY_HANDSHAKE:
		c->owner->stats->handshake_failures[PROXY_HS_TIMEOUT]++;
		log_info("service %s: client %s: no %s within %d s",
			 c->rs->svc->name, c->peer,
			 c->state == PROXY_PREREAD ? "ClientHello"
						   : "TLS handshake",
			 cfg->handshake_timeout);
		proxy_conn_close(c, "handshake timeout");
		break;
	case PROXY_BACKEND_TLS:
		log_warn("service %s: client %s: TLS handshake with backend %s "
			 "took more than %d s",
			 c->rs->svc->name, c->peer, c->server,
			 cfg->connect_timeout);
		proxy_backend_tls_failed(c, "TLS handshake timeout", true);
		break;
	case PROXY_CONNECTING:
		break; /* backend.c times each server out */
	case PROXY_WAIT:
	case PROXY_RELAY:
		if (timer)
			timer(c);
		else
			proxy_relay_timer(c);
		break;
	case PROXY_FLUSH:
		proxy_set_end(c, PROXY_END_DIRTY);
		proxy_conn_close(c, "client did not read the rest in time");
		break;
	case PROXY_CLOSED:
	case PROXY_NSTATES:
		break;
	}
	proxy_release(c);
	(void)fd;
	(void)what;
}

/* ---- accept ------------------------------------------------------------ */

/* The client side of a new connection: TLS accepting, or plain bytes for
 * passthrough.  0 / -1 (FD is then closed). */
static int proxy_client_side(struct proxy_conn *c, int fd)
{
	struct proxy_owner *owner = c->owner;

	if (c->rs->svc->mode == CONFIG_MODE_PASSTHROUGH) {
		c->state = PROXY_PREREAD;
		c->client.bev = bufferevent_socket_new(owner->base, fd,
						       BEV_OPT_CLOSE_ON_FREE);
		if (!c->client.bev) {
			close(fd);
			return -1;
		}
		proxy_setup_bev(c, c->client.bev);
		return proxy_plain_side(&c->client, owner->base,
					&proxy_plain_cbs, c);
	}
	c->state = PROXY_HANDSHAKE;
	c->client.ssl = SSL_new(c->rs->ctx);
	if (!c->client.ssl) {
		close(fd);
		return -1;
	}
	proxy_ssl_prepare(c->client.ssl, &c->client);
	if (proxy_tls_side(&c->client, owner->base, fd, &proxy_tls_cbs, c) <
	    0) {
		SSL_free(c->client.ssl);
		c->client.ssl = NULL;
		close(fd);
		return -1;
	}
	/* On failure libevent has freed the SSL: never free it again. */
	c->client.bev = bufferevent_openssl_socket_new(
		owner->base, fd, c->client.ssl, BUFFEREVENT_SSL_ACCEPTING,
		BEV_OPT_CLOSE_ON_FREE);
	if (!c->client.bev) {
		c->client.ssl = NULL;
		return -1;
	}
	proxy_setup_bev(c, c->client.bev);
	proxy_side_handshake_idle(&c->client);
	return 0;
}

int proxy_accept(struct proxy_owner *owner, struct runtime *rt,
		 const struct runtime_service *rs, int fd,
		 const struct sockaddr *peer, socklen_t peerlen,
		 const struct proxy_hooks *hooks)
{
	struct proxy_conn *c = calloc(1, sizeof(*c));
	int rc = 0;

	(void)peerlen;
	if (!c) {
		close(fd);
		return -1;
	}
	c->owner = owner;
	c->rt = runtime_ref(rt);
	c->rs = rs;
	/* A layer needs decrypted bytes: never on passthrough. */
	c->hooks = rs->svc->mode == CONFIG_MODE_PASSTHROUGH ? NULL : hooks;
	c->state = PROXY_HANDSHAKE;
	clock_gettime(CLOCK_MONOTONIC, &c->start);
	c->last_active = c->start.tv_sec;
	proxy_peer_format(peer, c->peer, sizeof(c->peer), c->peer_ip,
			  sizeof(c->peer_ip));
	snprintf(c->server, sizeof(c->server), "-");
	/* Link first, so proxy_conn_close can unlink on every path. */
	c->next = owner->conns;
	if (owner->conns)
		owner->conns->prev = c;
	owner->conns = c;
	owner->nconns++;
	owner->stats->accepted++;
	owner->stats->open++;
	proxy_hold(c);
	c->timer = evtimer_new(owner->base, proxy_timer_cb, c);
	if (!c->timer) {
		close(fd);
		rc = -1;
	} else if (proxy_client_side(c, fd) < 0) {
		rc = -1;
	}
	if (rc < 0) {
		proxy_conn_close(c, "out of memory");
	} else {
		/* Writing is enabled from the start for a plain client, and
		 * once the handshake is done for a TLS one. */
		proxy_side_reading(&c->client, true);
		proxy_arm_timer(c, rt->cfg->handshake_timeout);
	}
	proxy_release(c);
	return rc;
}
