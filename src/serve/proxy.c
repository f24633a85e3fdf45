/* proxy.c — one client connection, its backend connection, and the relay.
 *
 * The shape is libevent's le-proxy: each side's callbacks find the partner
 * side; a read moves the input to the partner's output; past PROXY_BUF_MAX
 * bytes waiting in the partner's output, reading pauses until a write
 * watermark says the partner drained half of it.  An EOF on one side is
 * forwarded as a half-close once everything read from that side has been
 * written (close_notify + FIN for TLS, FIN for plain TCP).  A dirty end stays
 * dirty on the other side: a peer that closes without close_notify (OpenSSL
 * 3's "unexpected EOF") is passed on as a FIN without close_notify, a peer
 * that resets as an RST, and a stream that edge443 itself cuts (a timeout,
 * the shutdown deadline) never ends with a close_notify, so a truncated
 * stream looks truncated.
 *
 * The connection follows the state machine of proxy_internal.h, with one
 * owner (the worker's proxy_owner), one teardown (proxy_conn_close) and a
 * deferred free: every callback holds the connection while it runs.  A
 * protocol layer (HTTP publishing) plugs in through struct proxy_hooks and
 * then owns every client byte; without hooks this is a plain byte relay.
 *
 * Not here: choosing the service for a listener (server_worker.c with
 * runtime.c), building SSL contexts (tls.c), connecting with failover
 * (backend.c), the sides' socket and SSL plumbing (proxy_side.c, which
 * reports a plain side's reads to proxy_plain_cbs here and calls nothing
 * else of this file), HTTP (proxy_http.c), the port-80 redirect listener
 * (redirect.c).
 */
#include "edge443/serve/proxy.h"
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

/* ---- the state machine -------------------------------------------------- */

#define PROXY_BIT(s) (1u << (s))

static const unsigned proxy_next[PROXY_NSTATES] = {
	[PROXY_PREREAD] = PROXY_BIT(PROXY_CONNECTING) | PROXY_BIT(PROXY_FLUSH) |
			  PROXY_BIT(PROXY_CLOSED),
	[PROXY_HANDSHAKE] = PROXY_BIT(PROXY_WAIT) |
			    PROXY_BIT(PROXY_CONNECTING) |
			    PROXY_BIT(PROXY_CLOSED),
	[PROXY_WAIT] = PROXY_BIT(PROXY_CONNECTING) | PROXY_BIT(PROXY_FLUSH) |
		       PROXY_BIT(PROXY_CLOSED),
	[PROXY_CONNECTING] = PROXY_BIT(PROXY_BACKEND_TLS) |
			     PROXY_BIT(PROXY_RELAY) | PROXY_BIT(PROXY_FLUSH) |
			     PROXY_BIT(PROXY_CLOSED),
	[PROXY_BACKEND_TLS] = PROXY_BIT(PROXY_CONNECTING) |
			      PROXY_BIT(PROXY_RELAY) | PROXY_BIT(PROXY_FLUSH) |
			      PROXY_BIT(PROXY_CLOSED),
	[PROXY_RELAY] = PROXY_BIT(PROXY_FLUSH) | PROXY_BIT(PROXY_CLOSED),
	[PROXY_FLUSH] = PROXY_BIT(PROXY_CLOSED),
	[PROXY_CLOSED] = 0,
};

static const char *const proxy_state_names[PROXY_NSTATES] = {
	[PROXY_PREREAD] = "preread",
	[PROXY_HANDSHAKE] = "handshake",
	[PROXY_WAIT] = "wait",
	[PROXY_CONNECTING] = "connecting",
	[PROXY_BACKEND_TLS] = "backend-tls",
	[PROXY_RELAY] = "relay",
	[PROXY_FLUSH] = "flush",
	[PROXY_CLOSED] = "closed",
};

bool proxy_state_allowed(enum proxy_state from, enum proxy_state to)
{
	if ((unsigned)from >= PROXY_NSTATES || (unsigned)to >= PROXY_NSTATES)
		return false;
	return (proxy_next[from] & PROXY_BIT(to)) != 0;
}

const char *proxy_state_name(enum proxy_state s)
{
	return (unsigned)s < PROXY_NSTATES ? proxy_state_names[s] : "?";
}

void proxy_set_state(struct proxy_conn *c, enum proxy_state to)
{
	if (c->state == to)
		return;
	if (!proxy_state_allowed(c->state, to)) {
		log_error("internal: connection state %s -> %s refused",
			  proxy_state_name(c->state), proxy_state_name(to));
		assert(!"proxy state transition not in the table");
		return;
	}
	c->state = to;
}

/* ---- small helpers ------------------------------------------------------ */

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
	if (c->timer)
		evtimer_add(c->timer, &tv);
}

void proxy_set_end(struct proxy_conn *c, enum proxy_end end)
{
	if (end > c->end)
		c->end = end;
}

/* ---- ownership: hold, release, close ----------------------------------- */

void proxy_hold(struct proxy_conn *c)
{
	c->depth++;
}

static void proxy_conn_free(struct proxy_conn *c)
{
	runtime_unref(c->rt);
	free(c->sni);
	proxy_acme_free(c);
	free(c);
}

void proxy_release(struct proxy_conn *c)
{
	if (--c->depth > 0)
		return;
	if (c->state == PROXY_CLOSED) {
		proxy_conn_free(c);
		return;
	}
	/* The outermost callback is done: records that TLS read-ahead left
	 * in OpenSSL are read as if the socket still held them. */
	proxy_side_read_buffered(&c->client);
	proxy_side_read_buffered(&c->backend);
}

static void proxy_log_close(struct proxy_conn *c, const char *why)
{
	struct timespec end;
	double ms;
	char end_why[512];

	if (!log_enabled(LOG_LEVEL_INFO))
		return;
	clock_gettime(CLOCK_MONOTONIC, &end);
	ms = (double)(end.tv_sec - c->start.tv_sec) * 1e3 +
	     (double)(end.tv_nsec - c->start.tv_nsec) / 1e6;
	log_info("conn client=%s service=%s sni=%s tls=%s cipher=%s "
		 "backend=%s in=%llu out=%llu discarded=%llu ms=%.1f "
		 "end=\"%s\"",
		 c->peer, c->rs->svc->name, c->sni ? c->sni : "-",
		 c->tls_version ? c->tls_version : "-",
		 c->cipher ? c->cipher : "-", c->server,
		 (unsigned long long)c->client.bytes,
		 (unsigned long long)(c->backend.bytes + c->local_out),
		 (unsigned long long)c->discarded, ms,
		 log_quoted(end_why, sizeof(end_why), why));
}

/* The one teardown: log, free both sides (sending close_notify only on a
 * clean end), unlink.  The struct itself waits for the last release. */
void proxy_conn_close(struct proxy_conn *c, const char *why)
{
	struct proxy_owner *owner = c->owner;
	bool relayed = c->state == PROXY_RELAY || c->state == PROXY_FLUSH;

	if (c->state == PROXY_CLOSED)
		return;
	if (c->connecting) {
		backend_connect_cancel(c->connecting);
		c->connecting = NULL;
	}
	if (c->timer) {
		event_free(c->timer);
		c->timer = NULL;
	}
	if (c->kick) {
		event_free(c->kick);
		c->kick = NULL;
	}
	/* The layer first: a response that ends with the connection is
	 * logged while the connection's facts are still there. */
	if (c->hooks && c->hooks->free)
		c->hooks->free(c);
	c->hooks = NULL;
	proxy_log_close(c, why);
	owner->stats->open--;
	owner->stats->bytes_in += c->client.bytes;
	owner->stats->bytes_out += c->backend.bytes + c->local_out;
	owner->stats->client_bytes_discarded += c->discarded;

	struct proxy_side *sides[2] = {&c->client, &c->backend};
	for (int i = 0; i < 2; i++) {
		struct proxy_side *s = sides[i];
		if (!s->bev) {
			proxy_side_free(s, false); /* what a side made early */
			continue;
		}
		/* A clean end sends close_notify (BEV_OPT_CLOSE_ON_FREE would
		 * not); a dirty one stays dirty. */
		if (c->end == PROXY_END_CLEAN && s->ssl && !s->shut &&
		    !s->dirty && !proxy_partner(c, s)->dirty &&
		    (relayed || s == &c->client) &&
		    SSL_is_init_finished(s->ssl)) {
			SSL_shutdown(s->ssl);
			ERR_clear_error();
		}
		proxy_side_free(s, c->end == PROXY_END_RESET);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		owner->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	owner->nconns--;
	c->state = PROXY_CLOSED; /* every state may close */
	if (owner->closed_cb)
		owner->closed_cb(owner);
	if (c->depth == 0)
		proxy_conn_free(c);
}

/* FLUSH: close once no side has output left. */
static void proxy_flush_check(struct proxy_conn *c)
{
	if (c->state != PROXY_FLUSH)
		return;
	if (proxy_side_pending(&c->client) || proxy_side_pending(&c->backend))
		return;
	proxy_conn_close(c, c->why ? c->why : "closed");
}

void proxy_flush_close(struct proxy_conn *c, const char *why)
{
	if (c->state == PROXY_CLOSED)
		return;
	if (c->state != PROXY_FLUSH) {
		proxy_set_state(c, PROXY_FLUSH);
		c->why = why;
		proxy_side_reading(&c->client, false);
		proxy_side_reading(&c->backend, false);
		c->client.paused = c->backend.paused = false;
		/* Bounded: a client that never reads does not keep it. */
		proxy_arm_timer(c, proxy_cfg(c)->idle_timeout);
	}
	struct proxy_side *sides[2] = {&c->client, &c->backend};
	for (int i = 0; i < 2; i++)
		if (sides[i]->bev)
			bufferevent_setwatermark(sides[i]->bev, EV_WRITE, 0, 0);
	proxy_flush_check(c);
}

/* ---- the relay ---------------------------------------------------------- */

static bool proxy_relay_done(const struct proxy_conn *c);

/* Shut our sending direction on S: close_notify (unless the other peer
 * closed dirty) and FIN. */
static void proxy_shut(struct proxy_conn *c, struct proxy_side *s)
{
	int fd;

	if (s->shut || !s->bev)
		return;
	s->shut = true;
	s->shut_pending = false;
	if (s->ssl && !proxy_partner(c, s)->dirty &&
	    c->end == PROXY_END_CLEAN) {
		SSL_shutdown(s->ssl);
		ERR_clear_error();
	}
	/* The FIN.  When this was the relay's last step (both peers ended,
	 * nothing left to write), every caller closes the connection at once
	 * (proxy_maybe_finish), and close(2) sends the same FIN:
	 * shutdown(2) first would be a syscall for nothing.  Everything else
	 * about the end (close_notify or not, RST on a reset) is decided as
	 * before. */
	fd = bufferevent_getfd(s->bev);
	if (fd >= 0 && !proxy_relay_done(c))
		shutdown(fd, SHUT_WR);
}

/* Both directions of a plain relay have finished: nothing is left to read
 * or to write.  Callers of proxy_shut then call proxy_maybe_finish. */
static bool proxy_relay_done(const struct proxy_conn *c)
{
	const struct proxy_side *sides[2] = {&c->client, &c->backend};

	if (c->state != PROXY_RELAY)
		return false;
	for (int i = 0; i < 2; i++) {
		if (!sides[i]->eof || !sides[i]->bev)
			return false;
		if (proxy_side_pending(sides[i]))
			return false;
	}
	return true;
}

/* A plain relay ends when both directions have finished. */
static void proxy_maybe_finish(struct proxy_conn *c)
{
	if (!proxy_relay_done(c))
		return;
	proxy_conn_close(c, c->client.dirty || c->backend.dirty
				    ? "closed (without close_notify)"
				    : "closed");
}

void proxy_limit(struct proxy_conn *c, struct proxy_side *from,
		 struct evbuffer *to, struct proxy_side *to_side)
{
	if (evbuffer_get_length(to) < PROXY_BUF_MAX || !from->bev)
		return;
	proxy_side_reading(from, false);
	from->paused = true;
	if (to_side && to_side->bev)
		bufferevent_setwatermark(to_side->bev, EV_WRITE,
					 PROXY_BUF_MAX / 2, 0);
	(void)c;
}

/* FROM brought LEN bytes for its partner: counted, the connection active
 * (the response timeout starts with the client's first bytes). */
static void proxy_note_read(struct proxy_conn *c, struct proxy_side *from,
			    size_t len)
{
	if (from == &c->client && from->bytes == 0)
		c->client_first = proxy_now();
	from->bytes += len;
	c->last_active = proxy_now();
}

void proxy_forward(struct proxy_conn *c, struct proxy_side *from)
{
	struct proxy_side *to = proxy_partner(c, from);
	struct evbuffer *in;
	size_t len;

	if (!from->bev)
		return;
	in = bufferevent_get_input(from->bev);
	len = evbuffer_get_length(in);
	if (len == 0)
		return;
	if (!to->bev || to->shut) {
		/* Nobody left to deliver to: drop. */
		evbuffer_drain(in, len);
		return;
	}
	proxy_note_read(c, from, len);
	proxy_send(to, in);
	proxy_limit(c, from, bufferevent_get_output(to->bev), to);
}

void proxy_pass_eof(struct proxy_conn *c, struct proxy_side *from)
{
	struct proxy_side *to = proxy_partner(c, from);

	if (!to->bev || to->shut)
		return;
	if (proxy_side_pending(to) == 0) {
		proxy_shut(c, to);
	} else {
		to->shut_pending = true;
		bufferevent_setwatermark(to->bev, EV_WRITE, 0, 0);
	}
}

/* A hook of the attached layer, or NULL (none, or detached). */
#define PROXY_HOOK(c, name) ((c)->hooks ? (c)->hooks->name : NULL)

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

/* ---- accept, drain, close all ------------------------------------------- */

void proxy_peer_format(const struct sockaddr *sa, char *addr, size_t addrlen,
		       char *ip, size_t iplen)
{
	char host[64] = "?";
	int port = -1;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	}
	if (addr && addrlen) {
		if (port < 0)
			snprintf(addr, addrlen, "?");
		else if (sa->sa_family == AF_INET6)
			snprintf(addr, addrlen, "[%s]:%d", host, port);
		else
			snprintf(addr, addrlen, "%s:%d", host, port);
	}
	if (ip && iplen)
		snprintf(ip, iplen, "%s", host);
}

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

void proxy_drain(struct proxy_owner *owner)
{
	struct proxy_conn *c, *next;

	owner->draining = true;
	for (c = owner->conns; c; c = next) {
		void (*drain)(struct proxy_conn *) = PROXY_HOOK(c, drain);
		/* A drain hook closes at most its own connection. */
		next = c->next;
		c->draining = true;
		if (drain) {
			proxy_hold(c);
			drain(c);
			proxy_release(c);
		}
	}
}

void proxy_close_all(struct proxy_owner *owner, const char *why)
{
	while (owner->conns) {
		struct proxy_conn *c = owner->conns;
		/* Cut: whatever was still flowing must not look complete. */
		proxy_set_end(c, PROXY_END_RESET);
		proxy_conn_close(c, why);
	}
}
