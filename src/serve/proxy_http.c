/* proxy_http.c — HTTP publishing attached to a connection's relay.
 *
 * The hooks (struct proxy_hooks) that put http.c between the client and the
 * backend of a service with an http block.  With them the HTTP layer owns
 * every client byte: requests reach the backend only re-serialised by
 * http.c, and what it did not parse when the client ends its side is
 * discarded and counted (the conn line's discarded=), never forwarded.  The
 * backend is connected on the first request http.c accepts and then stays
 * pinned to this client connection; backend bytes go back through the
 * response tracking; error responses end the connection once flushed; a
 * 101 to a WebSocket upgrade turns the connection into a plain tunnel; the
 * header read timeout bounds a slow request head and response_timeout a
 * backend that does not answer (504).  The relay itself (buffers,
 * half-close, teardown) stays in proxy.c.
 */
#include "edge443/serve/proxy_http.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdlib.h>
#include <string.h>

#include "edge443/http/http.h"
#include "edge443/base/log.h"
#include "edge443/serve/proxy_internal.h"

/* Owned by the connection (c->layer), freed by its free hook. */
struct proxy_http {
	struct http_conn *http;
	struct evbuffer *staging; /* requests accepted before the backend is
				   * up */
	struct evbuffer *scratch; /* responses on their way to the client */
	struct http_peer peer;
	bool awaiting;	       /* waiting for a request head ... */
	time_t awaiting_since; /* ... since then (header read timeout) */
	time_t backend_since;  /* last progress of a pending response */
	bool client_ended;     /* the client ended its side */
};

static void proxy_http_client_data(struct proxy_conn *c);

static struct proxy_http *proxy_http_of(struct proxy_conn *c)
{
	return c->layer;
}

/* Seconds a backend may stay silent while a response is pending. */
static int proxy_http_response_timeout(const struct proxy_conn *c)
{
	int t = c->rs->backend ? c->rs->backend->pool.be->response_timeout : 0;
	return t > 0 ? t : 60;
}

/* Run F (an http.c call that may answer the client itself) and count what
 * it wrote to the client's output as edge443's own bytes. */
#define PROXY_HTTP_LOCAL(c, cout, call)                                        \
	do {                                                                   \
		size_t was_ = evbuffer_get_length(cout);                       \
		call;                                                          \
		(c)->local_out += evbuffer_get_length(cout) - was_;            \
	} while (0)

/* Track whether a request head is awaited, for the header read timeout. */
static void proxy_http_track(struct proxy_conn *c, struct proxy_http *L)
{
	bool awaiting = http_awaiting_head(L->http);

	if (awaiting && !L->awaiting)
		L->awaiting_since = proxy_now();
	L->awaiting = awaiting;
}

/* Between requests, nothing half-read: a drain may close it now. */
static bool proxy_http_idle(struct proxy_conn *c, struct proxy_http *L)
{
	return http_awaiting_head(L->http) && !http_response_pending(L->http) &&
	       evbuffer_get_length(bufferevent_get_input(c->client.bev)) == 0;
}

static void proxy_http_free(struct proxy_conn *c)
{
	struct proxy_http *L = proxy_http_of(c);

	if (!L)
		return;
	http_conn_free(L->http);
	if (L->staging)
		evbuffer_free(L->staging);
	if (L->scratch)
		evbuffer_free(L->scratch);
	free(L);
	c->layer = NULL;
}

/* After a 101 to a WebSocket upgrade: a plain tunnel, the layer's data
 * freed at the end. */
static const struct proxy_hooks proxy_http_tunnel_hooks = {
	.free = proxy_http_free,
};

/* Client bytes through the publishing rules. */
static void proxy_http_client_data(struct proxy_conn *c)
{
	struct proxy_http *L = proxy_http_of(c);
	struct evbuffer *in = bufferevent_get_input(c->client.bev);
	bool ready = c->state == PROXY_RELAY && c->backend.bev;
	struct evbuffer *to =
		ready ? bufferevent_get_output(c->backend.bev) : L->staging;
	/* A backend with nothing queued: collect the requests in the (empty)
	 * staging buffer and send them at once (proxy_send). */
	bool direct = ready && evbuffer_get_length(to) == 0 &&
		      evbuffer_get_length(L->staging) == 0;
	size_t before = evbuffer_get_length(in);
	struct evbuffer *cout = bufferevent_get_output(c->client.bev);
	bool need = false;
	enum http_action act;

	if (before == 0 || L->client_ended)
		return;
	PROXY_HTTP_LOCAL(c, cout,
			 act = http_from_client(L->http, in,
						direct ? L->staging : to, cout,
						&need));
	if (direct && evbuffer_get_length(L->staging))
		proxy_send(&c->backend, L->staging);
	if (evbuffer_get_length(in) != before) {
		c->client.bytes += before - evbuffer_get_length(in);
		c->last_active = L->backend_since = proxy_now();
	}
	proxy_http_track(c, L);
	if (act == HTTP_CLOSE) {
		proxy_flush_close(c, "closed by edge443 after a response");
		return;
	}
	proxy_limit(c, &c->client, to, ready ? &c->backend : NULL);
	if (need && c->state == PROXY_WAIT)
		proxy_connect_backend(c);
}

/* The client ended its side (RESET: it reset or failed). */
static void proxy_http_client_end(struct proxy_conn *c, bool reset)
{
	struct proxy_http *L = proxy_http_of(c);
	struct evbuffer *in = bufferevent_get_input(c->client.bev);

	/* What arrived before the end still goes through the rules. */
	if (!reset)
		proxy_http_client_data(c);
	if (proxy_closed(c) || c->state == PROXY_FLUSH)
		return;
	c->discarded += http_client_eof(L->http, in);
	L->client_ended = true;
	if (reset) {
		proxy_conn_close(c, "client failed");
		return;
	}
	if (http_request_incomplete(L->http)) {
		/* The backend holds part of a request: cut it. */
		proxy_set_end(c, PROXY_END_DIRTY);
		proxy_conn_close(c, "client ended inside a request");
		return;
	}
	if (!http_response_pending(L->http))
		proxy_flush_close(c, "closed by client");
	/* else: the pending response still goes to the client, then the
	 * connection ends (proxy_http_backend_data). */
}

/* Backend bytes back through the response tracking. */
static void proxy_http_backend_data(struct proxy_conn *c)
{
	struct proxy_http *L = proxy_http_of(c);
	struct evbuffer *in = bufferevent_get_input(c->backend.bev);
	struct evbuffer *out = bufferevent_get_output(c->client.bev);
	size_t before = evbuffer_get_length(in);
	enum http_action act;

	if (before == 0)
		return;
	/* As for requests: responses go out at once when nothing is queued. */
	bool direct = evbuffer_get_length(out) == 0;
	act = http_from_backend(L->http, in, direct ? L->scratch : out);
	if (direct && evbuffer_get_length(L->scratch))
		proxy_send(&c->client, L->scratch);
	if (evbuffer_get_length(in) != before) {
		c->backend.bytes += before - evbuffer_get_length(in);
		c->last_active = L->backend_since = proxy_now();
	}
	proxy_http_track(c, L);
	if (act == HTTP_CLOSE) {
		if (http_response_cut(L->http))
			proxy_set_end(c, PROXY_END_DIRTY);
		proxy_flush_close(c, "closed by edge443 after a response");
		return;
	}
	if (act == HTTP_TUNNEL) {
		/* 101 Switching Protocols to a WebSocket upgrade: plain bytes
		 * both ways from now. */
		c->hooks = &proxy_http_tunnel_hooks;
		L->awaiting = false;
		proxy_forward(c, &c->backend);
		proxy_forward(c, &c->client);
		return;
	}
	proxy_limit(c, &c->backend, out, &c->client);
	if (http_response_pending(L->http))
		return;
	if (L->client_ended) {
		proxy_flush_close(c, "closed by client");
		return;
	}
	if (c->draining && proxy_http_idle(c, L)) {
		proxy_flush_close(c, "shutdown");
		return;
	}
	/* A response ended: the next pipelined request may already wait in
	 * the client's input (no new read event will come for it). */
	if (evbuffer_get_length(bufferevent_get_input(c->client.bev)))
		proxy_http_client_data(c);
}

/* The backend ended its side (DIRTY: without close_notify, or it broke;
 * RESET: it reset). */
static void proxy_http_backend_end(struct proxy_conn *c, bool dirty, bool reset)
{
	struct proxy_http *L = proxy_http_of(c);
	struct evbuffer *cout = bufferevent_get_output(c->client.bev);

	if (c->backend.bev)
		proxy_http_backend_data(c);
	if (proxy_closed(c) || c->state == PROXY_FLUSH)
		return;
	/* A close-delimited response ends here, when the end is clean. */
	if (http_response_pending(L->http) && !dirty && !reset)
		(void)http_backend_eof(L->http);
	if (http_response_pending(L->http)) {
		size_t was = evbuffer_get_length(cout);
		PROXY_HTTP_LOCAL(c, cout,
				 http_backend_failed(L->http, false,
						     reset ? "backend reset"
							   : "backend closed "
							     "mid-response",
						     cout));
		/* An error page is a complete answer; a response cut short
		 * must look cut. */
		if (evbuffer_get_length(cout) == was)
			proxy_set_end(c, reset ? PROXY_END_RESET
					       : PROXY_END_DIRTY);
	}
	proxy_flush_close(c, "backend closed");
}

/* The backend is up (state RELAY): send what was staged, relay. */
static void proxy_http_backend_ready(struct proxy_conn *c)
{
	struct proxy_http *L = proxy_http_of(c);

	L->backend_since = proxy_now();
	proxy_arm_timer(c, 1);
	proxy_send(&c->backend, L->staging);
	if (c->client.paused && !c->client.eof) {
		c->client.paused = false;
		proxy_side_reading(&c->client, true);
	}
	proxy_http_client_data(c);
}

/* No backend server could be reached or verified: 502, or 504 when every
 * server timed out. */
static void proxy_http_backend_failed(struct proxy_conn *c,
				      enum backend_result r, const char *reason)
{
	struct proxy_http *L = proxy_http_of(c);
	struct evbuffer *cout = bufferevent_get_output(c->client.bev);

	PROXY_HTTP_LOCAL(c, cout,
			 http_backend_failed(L->http, r == BACKEND_TIMEOUT,
					     reason, cout));
	proxy_flush_close(c, "closed by edge443 after a response");
}

/* After the TLS handshake of an http service (state WAIT). */
static void proxy_http_start(struct proxy_conn *c)
{
	const struct runtime_service *rs = c->rs;
	const struct config_backend *be =
		rs->backend ? rs->backend->pool.be : NULL;
	struct proxy_http *L = calloc(1, sizeof(*L));

	c->layer = L;
	if (!L) {
		proxy_conn_close(c, "out of memory");
		return;
	}
	L->peer.client_ip = c->peer_ip;
	L->peer.client_addr = c->peer;
	L->peer.tls_version = c->tls_version ? c->tls_version : "-";
	L->peer.backend = c->server;
	L->peer.responses = c->owner->stats->http_responses;
	L->http = http_conn_new(rs->svc, (const char *const *)rs->names,
				rs->nnames, be ? be->verify_name : NULL,
				&L->peer);
	L->staging = evbuffer_new();
	L->scratch = evbuffer_new();
	if (!L->http || !L->staging || !L->scratch) {
		proxy_conn_close(c, "out of memory");
		return;
	}
	proxy_arm_timer(c, 1);
	proxy_http_track(c, L);
	proxy_http_client_data(c);
}

/* The header read timeout (handshake_timeout from the moment a request
 * head is awaited; slowloris cannot stretch it), the response timeout and
 * the idle timeout, whichever comes first. */
static void proxy_http_timer(struct proxy_conn *c)
{
	struct proxy_http *L = proxy_http_of(c);
	const struct config *cfg = proxy_cfg(c);
	struct evbuffer *cout = bufferevent_get_output(c->client.bev);
	int rto = proxy_http_response_timeout(c);
	time_t now = proxy_now();
	time_t next;

	if (L->awaiting && now - L->awaiting_since >= cfg->handshake_timeout) {
		PROXY_HTTP_LOCAL(c, cout, http_head_timeout(L->http, cout));
		proxy_flush_close(c, "request timeout");
		return;
	}
	if (http_response_pending(L->http) && now - L->backend_since >= rto) {
		size_t was = evbuffer_get_length(cout);
		char why[96];
		snprintf(why, sizeof(why),
			 "response timeout (%d s without an answer)", rto);
		log_warn("service %s: client %s: backend %s: %s",
			 c->rs->svc->name, c->peer, c->server, why);
		PROXY_HTTP_LOCAL(c, cout,
				 http_backend_failed(L->http, true, why, cout));
		if (evbuffer_get_length(cout) == was)
			proxy_set_end(c, PROXY_END_DIRTY); /* cut short */
		proxy_side_free(&c->backend, false);
		proxy_flush_close(c, "response timeout");
		return;
	}
	if (now - c->last_active >= cfg->idle_timeout) {
		if (!proxy_http_idle(c, L))
			proxy_set_end(c, PROXY_END_DIRTY);
		proxy_conn_close(c, "idle timeout");
		return;
	}
	next = c->last_active + cfg->idle_timeout;
	if (L->awaiting && L->awaiting_since + cfg->handshake_timeout < next)
		next = L->awaiting_since + cfg->handshake_timeout;
	if (http_response_pending(L->http) && L->backend_since + rto < next)
		next = L->backend_since + rto;
	proxy_arm_timer(c, (int)(next - now));
}

/* Shutdown drain: an idle keep-alive connection closes now; one with a
 * request in flight closes after its response (proxy_http_backend_data). */
static void proxy_http_drain(struct proxy_conn *c)
{
	struct proxy_http *L = proxy_http_of(c);

	if (L && c->client.bev && proxy_http_idle(c, L))
		proxy_flush_close(c, "shutdown");
}

const struct proxy_hooks proxy_http_hooks = {
	.start = proxy_http_start,
	.client_data = proxy_http_client_data,
	.client_end = proxy_http_client_end,
	.backend_data = proxy_http_backend_data,
	.backend_end = proxy_http_backend_end,
	.backend_ready = proxy_http_backend_ready,
	.backend_failed = proxy_http_backend_failed,
	.timer = proxy_http_timer,
	.drain = proxy_http_drain,
	.free = proxy_http_free,
};
