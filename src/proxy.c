/* proxy.c — one client connection, its backend connection, and the relay.
 *
 * The shape is libevent's le-proxy: each side's callbacks find the partner
 * side; a read moves the input to the partner's output; past PROXY_BUF_MAX
 * bytes waiting in the partner's output, reading pauses until a write
 * watermark says the partner drained half of it.  An EOF on one side is
 * forwarded as a half-close once everything read from that side has been
 * written (close_notify + FIN for TLS, FIN for plain TCP); a peer that closes
 * without close_notify (OpenSSL 3's "unexpected EOF") is treated as a dirty
 * EOF, and the dirty close is passed on dirty.  The connection ends when both
 * directions have finished or one side breaks, always through
 * proxy_conn_close, the one teardown path, which writes the log line.
 *
 * Not here: choosing the service (listener.c), building SSL contexts
 * (tls.c), connecting with failover (backend.c).
 */
#include "edge443/proxy.h"
#include "edge443/proxy_internal.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "edge443/http.h"
#include "edge443/log.h"

static void proxy_write_cb(struct bufferevent *bev, void *arg);
static void proxy_timer_cb(evutil_socket_t fd, short what, void *arg);

time_t proxy_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static struct proxy_side *proxy_side_of(struct proxy_conn *c,
					struct bufferevent *bev)
{
	return bev == c->client.bev ? &c->client : &c->backend;
}

static struct proxy_side *proxy_partner(struct proxy_conn *c,
					struct proxy_side *s)
{
	return s == &c->client ? &c->backend : &c->client;
}

const struct config *proxy_cfg(const struct proxy_conn *c)
{
	return c->rt->cfg;
}

void proxy_arm_timer(struct proxy_conn *c, int seconds)
{
	struct timeval tv = {seconds > 0 ? seconds : 1, 0};
	evtimer_add(c->timer, &tv);
}

/* The one teardown path: log, free both sides, unlink, free.  After it the
 * caller must not touch C.  WHY is a short text ("closed by client", ...). */
void proxy_conn_close(struct proxy_conn *c, const char *why)
{
	struct proxy_owner *owner = c->owner;
	struct timespec end;
	double ms;
	char end_why[512];

	if (c->connecting)
		backend_connect_cancel(c->connecting);
	if (c->timer)
		event_free(c->timer);
	if (c->kick)
		event_free(c->kick);
	if (log_enabled(CONFIG_LOG_INFO)) {
		clock_gettime(CLOCK_MONOTONIC, &end);
		ms = (double)(end.tv_sec - c->start.tv_sec) * 1e3 +
		     (double)(end.tv_nsec - c->start.tv_nsec) / 1e6;
		log_info("conn client=%s service=%s sni=%s tls=%s cipher=%s "
			 "backend=%s in=%llu out=%llu ms=%.1f end=\"%s\"",
			 c->peer, c->rs->svc->name, c->sni ? c->sni : "-",
			 c->tls_version ? c->tls_version : "-",
			 c->cipher ? c->cipher : "-", c->server,
			 (unsigned long long)c->client.bytes,
			 (unsigned long long)(c->backend.bytes + c->local_out),
			 ms, log_quoted(end_why, sizeof(end_why), why));
	}
	owner->stats.open--;
	owner->stats.bytes_in += c->client.bytes;
	owner->stats.bytes_out += c->backend.bytes + c->local_out;

	struct proxy_side *sides[2] = {&c->client, &c->backend};
	for (int i = 0; i < 2; i++) {
		struct proxy_side *s = sides[i];
		if (!s->bev)
			continue;
		/* A clean end sends close_notify (BEV_OPT_CLOSE_ON_FREE would
		 * not); a dirty one stays dirty. */
		if (s->ssl && !s->shut && !s->dirty &&
		    !proxy_partner(c, s)->dirty &&
		    (c->state == PROXY_RELAY || s == &c->client) &&
		    SSL_is_init_finished(s->ssl)) {
			SSL_shutdown(s->ssl);
			ERR_clear_error();
		}
		proxy_side_free(s);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		owner->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	owner->nconns--;
	http_conn_free(c->http);
	if (c->staging)
		evbuffer_free(c->staging);
	if (c->scratch)
		evbuffer_free(c->scratch);
	runtime_unref(c->rt);
	free(c->sni);
	free(c);
	if (owner->closed_cb)
		owner->closed_cb(owner);
}

/* Shut our sending direction on S: close_notify (unless the other peer
 * closed dirty) and FIN. */
static void proxy_shut(struct proxy_conn *c, struct proxy_side *s)
{
	int fd;

	if (s->shut || !s->bev)
		return;
	s->shut = true;
	s->shut_pending = false;
	if (s->ssl && !proxy_partner(c, s)->dirty) {
		SSL_shutdown(s->ssl);
		ERR_clear_error();
	}
	fd = bufferevent_getfd(s->bev);
	if (fd >= 0)
		shutdown(fd, SHUT_WR);
}

/* End the connection when there is nothing left to do.  Returns true when
 * the connection was closed (the caller must return at once). */
static bool proxy_maybe_finish(struct proxy_conn *c)
{
	struct proxy_side *sides[2] = {&c->client, &c->backend};

	if (c->closing) {
		/* One side broke: wait only for the survivor's output. */
		for (int i = 0; i < 2; i++)
			if (sides[i]->bev &&
			    evbuffer_get_length(
				    bufferevent_get_output(sides[i]->bev)))
				return false;
		proxy_conn_close(c, c->client.bev ? "backend failed"
						  : "client failed");
		return true;
	}
	if (c->state != PROXY_RELAY)
		return false;
	for (int i = 0; i < 2; i++) {
		if (!sides[i]->eof || !sides[i]->bev)
			return false;
		if (evbuffer_get_length(bufferevent_get_output(sides[i]->bev)))
			return false;
	}
	proxy_conn_close(c, c->client.dirty || c->backend.dirty
				    ? "closed (without close_notify)"
				    : "closed");
	return true;
}

/* Move what FROM has read to its partner's output, pausing FROM when the
 * partner's output is full. */
void proxy_forward(struct proxy_conn *c, struct proxy_side *from)
{
	struct proxy_side *to = proxy_partner(c, from);
	struct evbuffer *in = bufferevent_get_input(from->bev);
	size_t len = evbuffer_get_length(in);

	if (len == 0)
		return;
	if (!to->bev || to->shut) {
		/* Nobody left to deliver to: drop. */
		evbuffer_drain(in, len);
		return;
	}
	from->bytes += len;
	c->last_active = proxy_now();
	proxy_send(to, in);
	if (evbuffer_get_length(bufferevent_get_output(to->bev)) >=
	    PROXY_BUF_MAX) {
		proxy_side_reading(from, false);
		from->paused = true;
		bufferevent_setwatermark(to->bev, EV_WRITE, PROXY_BUF_MAX / 2,
					 0);
	}
}

/* FROM will send no more: forward the half-close to the partner once the
 * partner's output has drained. */
void proxy_pass_eof(struct proxy_conn *c, struct proxy_side *from)
{
	struct proxy_side *to = proxy_partner(c, from);

	if (!to->bev || to->shut)
		return;
	if (evbuffer_get_length(bufferevent_get_output(to->bev)) == 0) {
		proxy_shut(c, to);
	} else {
		to->shut_pending = true;
		bufferevent_setwatermark(to->bev, EV_WRITE, 0, 0);
	}
}

static void proxy_setup_bev(struct proxy_conn *c, struct bufferevent *bev)
{
	bufferevent_setcb(bev, proxy_read_cb, proxy_write_cb, proxy_event_cb,
			  c);
	bufferevent_set_max_single_read(bev, PROXY_IO_MAX);
	bufferevent_set_max_single_write(bev, PROXY_IO_MAX);
}

/* Both sides are up: relay, starting with what the client already sent. */
static void proxy_start_relay(struct proxy_conn *c)
{
	c->state = PROXY_RELAY;
	c->last_active = proxy_now();
	proxy_arm_timer(c, proxy_cfg(c)->idle_timeout);
	bufferevent_setwatermark(c->client.bev, EV_READ, 0, 0);
	bufferevent_enable(c->backend.bev, EV_WRITE);
	proxy_side_reading(&c->backend, true);
	bufferevent_enable(c->client.bev, EV_WRITE);
	c->client.paused = false;
	if (!c->client.eof)
		proxy_side_reading(&c->client, true);
	proxy_forward(c, &c->client);
	if (c->client.eof)
		proxy_pass_eof(c, &c->client);
}

static void proxy_backend_connected_cb(int fd, size_t server,
				       const char *reason, void *arg)
{
	struct proxy_conn *c = arg;
	const struct runtime_backend *rb = c->rs->backend;
	const struct config_backend *be = rb->pool.be;

	c->connecting = NULL;
	if (fd < 0) {
		c->owner->stats.backend_failures++;
		log_warn("service %s: client %s: backend unreachable: %s",
			 c->rs->svc->name, c->peer, reason);
		if (c->http) {
			/* 504 when every server timed out, else 502. */
			proxy_http_backend_failed(
				c,
				reason && strstr(reason, "timeout") &&
					!strstr(reason, "refused"),
				reason);
			return;
		}
		proxy_conn_close(c, "backend unreachable");
		return;
	}
	c->server_index = server;
	backend_addr_string((const struct sockaddr *)&be->servers[server].sa,
			    c->server, sizeof(c->server));
	if (be->proxy_protocol != CONFIG_PROXY_OFF) {
		unsigned char hdr[232];
		struct sockaddr_storage local;
		socklen_t llen = sizeof(local);
		int n = -1;
		/* The address the client reached: our side of its socket. */
		if (getsockname(bufferevent_getfd(c->client.bev),
				(struct sockaddr *)&local, &llen) == 0) {
			struct sockaddr_storage peer;
			socklen_t plen = sizeof(peer);
			if (getpeername(bufferevent_getfd(c->client.bev),
					(struct sockaddr *)&peer, &plen) == 0)
				n = backend_proxy_header(
					be->proxy_protocol,
					(struct sockaddr *)&peer,
					(struct sockaddr *)&local, hdr,
					sizeof(hdr));
		}
		/* A fresh socket takes a few hundred bytes at once. */
		if (n < 0 || send(fd, hdr, (size_t)n, MSG_NOSIGNAL) != n) {
			log_warn("service %s: client %s: cannot send the PROXY "
				 "header to %s",
				 c->rs->svc->name, c->peer, c->server);
			close(fd);
			proxy_conn_close(c, "backend failed");
			return;
		}
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
		c->backend.conn = c;
		c->state = PROXY_BACKEND_TLS;
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
	if (proxy_plain_side(c, &c->backend) < 0) {
		proxy_conn_close(c, "out of memory");
		return;
	}
	proxy_setup_bev(c, c->backend.bev);
	if (c->http)
		proxy_http_backend_ready(c);
	else
		proxy_start_relay(c);
}

/* The client side is ready (handshake done or ClientHello read): connect. */
void proxy_connect_backend(struct proxy_conn *c)
{
	if (!c->rs->backend) {
		log_warn("service %s: client %s: no backend configured",
			 c->rs->svc->name, c->peer);
		proxy_conn_close(c, "no backend");
		return;
	}
	c->state = PROXY_CONNECTING;
	evtimer_del(c->timer);
	/* Until the backend is up, keep at most PROXY_BUF_MAX of client data
	 * (http: the staging buffer is limited by proxy_http_limit). */
	if (!c->http)
		bufferevent_setwatermark(c->client.bev, EV_READ, 0,
					 PROXY_BUF_MAX);
	c->connecting = backend_connect_start(
		c->owner->base, &c->rs->backend->pool,
		proxy_cfg(c)->connect_timeout, proxy_backend_connected_cb, c);
	if (!c->connecting)
		proxy_conn_close(c, "out of memory");
}

/* Passthrough: read the SNI from the buffered ClientHello, then connect. */
static void proxy_preread(struct proxy_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->client.bev);
	size_t len = evbuffer_get_length(in);
	const struct config_service *svc = c->rs->svc;
	enum tls_peek_result r;
	char *sni = NULL;

	if (len == 0) {
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
			proxy_conn_close(c, "refused by sni_strict");
			return;
		}
		if (!sni || strcasecmp(sni, svc->fqdn) != 0) {
			log_info("service %s: client %s: sni_strict: "
				 "ClientHello for \"%s\" refused",
				 svc->name, c->peer, sni ? sni : "(no SNI)");
			proxy_conn_close(c, "refused by sni_strict");
			return;
		}
	}
	proxy_connect_backend(c);
}

void proxy_read_cb(struct bufferevent *bev, void *arg)
{
	struct proxy_conn *c = arg;

	if (c->state == PROXY_PREREAD) {
		proxy_preread(c);
		return;
	}
	if (c->redirect) {
		struct evbuffer *out = bufferevent_get_output(bev);
		size_t was = evbuffer_get_length(out);
		enum http_action act = http_redirect(
			c->rs->svc, bufferevent_get_input(bev), out, &(int){0});
		c->local_out += evbuffer_get_length(out) - was;
		if (act == HTTP_CLOSE)
			proxy_flush_close(c);
		return;
	}
	if (c->http && !c->tunnel && !c->http_close) {
		if (bev == c->client.bev)
			proxy_http_client(c);
		else if (c->state == PROXY_RELAY)
			proxy_http_backend(c);
		return;
	}
	if (c->state != PROXY_RELAY)
		return; /* stays buffered until the backend is up */
	proxy_forward(c, proxy_side_of(c, bev));
}

static void proxy_write_cb(struct bufferevent *bev, void *arg)
{
	struct proxy_conn *c = arg;
	struct proxy_side *s = proxy_side_of(c, bev);
	struct proxy_side *other = proxy_partner(c, s);

	if (c->http_close) {
		if (s == &c->client &&
		    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			proxy_conn_close(c,
					 "closed by edge443 after a response");
		return;
	}
	if (other->paused && other->bev) {
		other->paused = false;
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		if (!other->eof)
			proxy_side_reading(other, true);
		/* http may have left bytes unread when it paused. */
		if (c->http && !c->tunnel && c->state == PROXY_RELAY &&
		    (other == &c->client ? proxy_http_client(c)
					 : proxy_http_backend(c)))
			return;
	}
	if (s->shut_pending &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		proxy_shut(c, s);
	proxy_maybe_finish(c);
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
	proxy_side_free(&c->backend);
	struct proxy_side fresh = {.conn = c};
	c->backend = fresh;
	proxy_connect_backend(c);
	return true;
}

/* The kick: every TLS side with output waiting writes again. */
static void proxy_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_conn *c = arg;
	struct proxy_side *sides[2] = {&c->client, &c->backend};

	for (int i = 0; i < 2; i++)
		if (sides[i]->ssl && sides[i]->bev &&
		    evbuffer_get_length(bufferevent_get_output(sides[i]->bev)))
			bufferevent_enable(sides[i]->bev, EV_WRITE);
	(void)fd;
	(void)what;
}

/* libevent 2.1.12 stops writing a TLS side too when its read side ends, and
 * does so after our event callback returns (conn_closed): what waits in its
 * output would never go out (a half-close) nor fail (a reset), and a partner
 * paused behind it would hold the connection until the idle timeout.  Re-arm
 * the write event from the loop, once libevent is done. */
static void proxy_kick_writing(struct proxy_conn *c)
{
	if (!c->kick)
		c->kick = event_new(c->owner->base, -1, 0, proxy_kick_cb, c);
	if (c->kick)
		event_active(c->kick, EV_TIMEOUT, 0);
}

void proxy_event_cb(struct bufferevent *bev, short events, void *arg)
{
	struct proxy_conn *c = arg;
	struct proxy_side *s = proxy_side_of(c, bev);
	bool is_client = s == &c->client;
	char reason[256] = "";
	bool dirty = false;

	if (events & BEV_EVENT_CONNECTED) {
		if (is_client && c->state == PROXY_HANDSHAKE) {
			c->tls_version = tls_ssl_version(s->ssl);
			c->cipher = tls_ssl_cipher(s->ssl);
			const char *sni = tls_ssl_sni(s->ssl);
			c->sni = sni ? strdup(sni) : NULL;
			if (c->rs->svc->http.present)
				proxy_http_start(c);
			else
				proxy_connect_backend(c);
		} else if (!is_client && c->state == PROXY_BACKEND_TLS) {
			backend_server_mark_ok(&c->rs->backend->pool,
					       c->server_index);
			if (c->http)
				proxy_http_backend_ready(c);
			else
				proxy_start_relay(c);
		}
		return;
	}

	/* A write that failed means the peer is gone (a reset, a closed
	 * socket), whatever libevent calls it: after the peer's close_notify
	 * or EOF it reports a failed SSL_write as an EOF.  Never a half-close
	 * to wait on. */
	if ((events & BEV_EVENT_WRITING) &&
	    (events & (BEV_EVENT_ERROR | BEV_EVENT_EOF))) {
		int err = EVUTIL_SOCKET_ERROR();
		if (s->ssl)
			proxy_ssl_reason(bev, &dirty, reason, sizeof(reason));
		if (!reason[0])
			snprintf(reason, sizeof(reason), "%s",
				 err ? strerror(err) : "write failed");
		goto broken;
	}

	if (events & BEV_EVENT_ERROR) {
		int err = EVUTIL_SOCKET_ERROR();
		if (s->ssl)
			proxy_ssl_reason(bev, &dirty, reason, sizeof(reason));
		if (!dirty && !reason[0] && err == 0)
			dirty = s->ssl != NULL; /* EOF without an alert */
		if (!dirty && !reason[0])
			snprintf(reason, sizeof(reason), "%s",
				 err ? strerror(err) : "connection error");
		if (!dirty)
			goto broken;
		events |= BEV_EVENT_EOF;
	}

	if (events & BEV_EVENT_EOF) {
		s->eof = true;
		s->dirty = dirty || (s->ssl && !s->close_notify);
		/* Only output already queued is stranded: new data re-arms
		 * writing by itself (libevent's output callback). */
		if (s->ssl && s->bev &&
		    evbuffer_get_length(bufferevent_get_output(s->bev)))
			proxy_kick_writing(c);
		if (c->state == PROXY_HANDSHAKE) {
			c->owner->stats.handshake_failures[PROXY_HS_CLOSED]++;
			log_info("service %s: client %s: closed during the TLS "
				 "handshake",
				 c->rs->svc->name, c->peer);
			proxy_conn_close(c, "client closed during handshake");
			return;
		}
		if (c->state == PROXY_PREREAD) {
			proxy_preread(c); /* decide with what we have */
			return;
		}
		if (!is_client && c->state == PROXY_BACKEND_TLS) {
			snprintf(reason, sizeof(reason),
				 "closed during the TLS handshake");
			goto broken;
		}
		if (c->redirect || c->state == PROXY_HTTP_WAIT) {
			proxy_conn_close(c, "closed by client");
			return;
		}
		if (c->state != PROXY_RELAY)
			return; /* passed on when the relay starts */
		if (c->http && !c->tunnel) {
			/* What came before the EOF still goes through the
			 * rules; a backend that closes ends the connection
			 * once its last response reached the client. */
			if (is_client ? proxy_http_client(c)
				      : proxy_http_backend(c))
				return;
			if (!is_client) {
				proxy_flush_close(c);
				return;
			}
		}
		proxy_forward(c, s);
		proxy_pass_eof(c, s);
		proxy_maybe_finish(c);
		return;
	}

	if (events & BEV_EVENT_TIMEOUT) {
		snprintf(reason, sizeof(reason), "timeout");
		goto broken;
	}
	return;

broken:
	if (c->state == PROXY_HANDSHAKE) {
		c->owner->stats.handshake_failures[PROXY_HS_ERROR]++;
		/* Peer-caused: info, so a scanner cannot flood the log. */
		log_info("service %s: client %s: TLS handshake failed: %s",
			 c->rs->svc->name, c->peer, reason);
		proxy_conn_close(c, "handshake failed");
		return;
	}
	if (!is_client && c->state == PROXY_BACKEND_TLS) {
		long vr = SSL_get_verify_result(s->ssl);
		char why[512];
		c->owner->stats.backend_failures++;
		log_warn("service %s: client %s: TLS to backend %s (%s) "
			 "failed: %s%s%s",
			 c->rs->svc->name, c->peer, c->server,
			 c->rs->backend->pool.be->verify_name
				 ? c->rs->backend->pool.be->verify_name
				 : "-",
			 reason,
			 vr != X509_V_OK ? "; certificate verification: " : "",
			 vr != X509_V_OK ? X509_verify_cert_error_string(vr)
					 : "");
		snprintf(why, sizeof(why), "TLS handshake failed: %s%s%s",
			 reason, vr != X509_V_OK ? "; " : "",
			 vr != X509_V_OK ? X509_verify_cert_error_string(vr)
					 : "");
		if (proxy_backend_tls_retry(c, why))
			return;
		if (c->http) {
			snprintf(why, sizeof(why), "TLS to %s failed: %s%s%s",
				 c->server, reason, vr != X509_V_OK ? "; " : "",
				 vr != X509_V_OK
					 ? X509_verify_cert_error_string(vr)
					 : "");
			proxy_http_backend_failed(c, false, why);
			return;
		}
		proxy_conn_close(c, "backend TLS failed");
		return;
	}
	log_info("service %s: client %s: %s side failed: %s", c->rs->svc->name,
		 c->peer, is_client ? "client" : "backend", reason);
	if (c->http && !c->tunnel && !is_client && c->client.bev &&
	    !c->http_close) {
		proxy_http_backend_failed(c, false, reason);
		return;
	}
	if (c->state != PROXY_RELAY) {
		proxy_conn_close(c, is_client ? "client failed"
					      : "backend failed");
		return;
	}
	/* Deliver what the broken side sent before it broke, then end once
	 * the survivor's output has drained. */
	proxy_forward(c, s);
	c->closing = true;
	struct proxy_side *other = proxy_partner(c, s);
	proxy_side_free(s);
	s->eof = true;
	if (other->bev) {
		proxy_side_reading(other, false);
		bufferevent_setwatermark(other->bev, EV_WRITE, 0, 0);
	}
	proxy_maybe_finish(c);
}

static void proxy_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_conn *c = arg;
	const struct config *cfg = proxy_cfg(c);

	switch (c->state) {
	case PROXY_PREREAD:
	case PROXY_HANDSHAKE:
		c->owner->stats.handshake_failures[PROXY_HS_TIMEOUT]++;
		log_info("service %s: client %s: no %s within %d s",
			 c->rs->svc->name, c->peer,
			 c->state == PROXY_PREREAD ? "ClientHello"
						   : "TLS handshake",
			 cfg->handshake_timeout);
		proxy_conn_close(c, "handshake timeout");
		return;
	case PROXY_BACKEND_TLS:
		c->owner->stats.backend_failures++;
		log_warn("service %s: client %s: TLS handshake with backend %s "
			 "took more than %d s",
			 c->rs->svc->name, c->peer, c->server,
			 cfg->connect_timeout);
		if (proxy_backend_tls_retry(c, "TLS handshake timeout"))
			return;
		if (c->http) {
			proxy_http_backend_failed(c, true,
						  "backend TLS handshake "
						  "timeout");
			return;
		}
		proxy_conn_close(c, "backend TLS timeout");
		return;
	case PROXY_CONNECTING:
		return; /* backend.c times each server out */
	case PROXY_HTTP_WAIT:
		if (c->redirect) {
			proxy_conn_close(c, "request timeout");
			return;
		}
		proxy_http_timer(c);
		return;
	case PROXY_RELAY: {
		if (c->http && !c->tunnel) {
			proxy_http_timer(c);
			return;
		}
		time_t idle = proxy_now() - c->last_active;
		if (idle >= cfg->idle_timeout) {
			proxy_conn_close(c, "idle timeout");
			return;
		}
		proxy_arm_timer(c, cfg->idle_timeout - (int)idle);
		return;
	}
	}
}

static void proxy_peer_string(const struct sockaddr *sa, char *buf, size_t len)
{
	if (!backend_addr_string(sa, buf, len))
		snprintf(buf, len, "?");
}

static int proxy_accept_any(struct proxy_owner *owner, struct runtime *rt,
			    const struct runtime_service *rs, int fd,
			    const struct sockaddr *peer, bool redirect)
{
	struct proxy_conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return -1;
	}
	c->owner = owner;
	c->rt = runtime_ref(rt);
	c->rs = rs;
	clock_gettime(CLOCK_MONOTONIC, &c->start);
	c->last_active = c->start.tv_sec;
	proxy_peer_string(peer, c->peer, sizeof(c->peer));
	snprintf(c->peer_ip, sizeof(c->peer_ip), "%s", c->peer);
	/* "192.0.2.7:1234" / "[2001:db8::7]:1234" -> the address alone */
	char *colon = strrchr(c->peer_ip, ':');
	if (colon)
		*colon = '\0';
	if (c->peer_ip[0] == '[') {
		memmove(c->peer_ip, c->peer_ip + 1, strlen(c->peer_ip));
		char *b = strchr(c->peer_ip, ']');
		if (b)
			*b = '\0';
	}
	snprintf(c->server, sizeof(c->server), "-");
	c->timer = evtimer_new(owner->base, proxy_timer_cb, c);
	/* Link first, so proxy_conn_close can unlink on every path. */
	c->next = owner->conns;
	if (owner->conns)
		owner->conns->prev = c;
	owner->conns = c;
	owner->nconns++;
	owner->stats.accepted++;
	owner->stats.open++;
	if (!c->timer) {
		close(fd);
		proxy_conn_close(c, "out of memory");
		return -1;
	}

	if (redirect) {
		c->redirect = true;
		c->state = PROXY_HTTP_WAIT;
		c->client.bev = bufferevent_socket_new(owner->base, fd,
						       BEV_OPT_CLOSE_ON_FREE);
		if (!c->client.bev) {
			close(fd);
			proxy_conn_close(c, "out of memory");
			return -1;
		}
	} else if (rs->svc->mode == CONFIG_MODE_PASSTHROUGH) {
		c->state = PROXY_PREREAD;
		c->client.bev = bufferevent_socket_new(owner->base, fd,
						       BEV_OPT_CLOSE_ON_FREE);
		if (!c->client.bev) {
			close(fd);
			proxy_conn_close(c, "out of memory");
			return -1;
		}
	} else {
		c->state = PROXY_HANDSHAKE;
		c->client.ssl = SSL_new(rs->ctx);
		if (!c->client.ssl) {
			close(fd);
			proxy_conn_close(c, "out of memory");
			return -1;
		}
		proxy_ssl_prepare(c->client.ssl, &c->client);
		/* On failure libevent has freed the SSL: never free it again.
		 */
		c->client.bev = bufferevent_openssl_socket_new(
			owner->base, fd, c->client.ssl,
			BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (!c->client.bev) {
			c->client.ssl = NULL;
			proxy_conn_close(c, "out of memory");
			return -1;
		}
	}
	proxy_setup_bev(c, c->client.bev);
	c->client.conn = c;
	c->backend.conn = c;
	if (!c->client.ssl && proxy_plain_side(c, &c->client) < 0) {
		proxy_conn_close(c, "out of memory");
		return -1;
	}
	bufferevent_enable(c->client.bev, EV_WRITE);
	proxy_side_reading(&c->client, true);
	proxy_arm_timer(c, rt->cfg->handshake_timeout);
	return 0;
}

int proxy_accept(struct proxy_owner *owner, struct runtime *rt,
		 const struct runtime_service *rs, int fd,
		 const struct sockaddr *peer, socklen_t peerlen)
{
	(void)peerlen;
	return proxy_accept_any(owner, rt, rs, fd, peer, false);
}

int proxy_accept_redirect(struct proxy_owner *owner, struct runtime *rt,
			  const struct runtime_service *rs, int fd,
			  const struct sockaddr *peer, socklen_t peerlen)
{
	(void)peerlen;
	return proxy_accept_any(owner, rt, rs, fd, peer, true);
}

void proxy_close_all(struct proxy_owner *owner, const char *why)
{
	while (owner->conns)
		proxy_conn_close(owner->conns, why);
}
