/* proxy.c — one client connection and its backend connection: their
 * states, their lifetime and the relay's primitives.
 *
 * The state machine of proxy_internal.h (the table of allowed transitions),
 * the ownership of a connection (proxy_hold / proxy_release, the one teardown
 * proxy_conn_close and the deferred free), and what moves bytes between the
 * two sides.  The relay has the shape of libevent's le-proxy: a read moves
 * the input to the partner's output; past PROXY_BUF_MAX bytes waiting in the
 * partner's output, reading pauses until a write watermark says the partner
 * drained half of it.  An EOF on one side is forwarded as a half-close once
 * everything read from that side has been written (close_notify + FIN for
 * TLS, FIN for plain TCP).  A dirty end stays dirty on the other side: a
 * peer that closes without close_notify (OpenSSL 3's "unexpected EOF") is
 * passed on as a FIN without close_notify, a peer that resets as an RST, and
 * a stream that edge443 itself cuts (a timeout, the shutdown deadline) never
 * ends with a close_notify, so a truncated stream looks truncated.
 *
 * Also the owner's drain and close-all, which act on every connection
 * through these, and the peer address as text.  It registers no callback
 * and calls none of proxy_events.c (the sides' events, reaching the
 * backend, accepting) or of a protocol layer except through its hooks: both
 * build on it.
 */
#include "edge443/serve/proxy.h"
#include "edge443/serve/proxy_internal.h"
#include "edge443/serve/proxy_acme.h"

#include <arpa/inet.h>
#include <assert.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <openssl/err.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "edge443/base/log.h"

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

struct proxy_side *proxy_partner(struct proxy_conn *c, struct proxy_side *s)
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
void proxy_flush_check(struct proxy_conn *c)
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
void proxy_shut(struct proxy_conn *c, struct proxy_side *s)
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
void proxy_maybe_finish(struct proxy_conn *c)
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
void proxy_note_read(struct proxy_conn *c, struct proxy_side *from, size_t len)
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

/* ---- the owner: drain, close all; addresses ------------------------------ */

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
