/* proxy_http.c — a connection of a service with an http block.
 *
 * The glue between one proxy_conn and http.c: client bytes go through the
 * publishing rules before they reach the backend (which is connected on the
 * first request http.c accepts, and then stays pinned to this client
 * connection), backend bytes through the response tracking; error responses
 * end the connection once they are flushed; 101 turns it into a raw tunnel;
 * the header read timeout bounds a slow request head.  The relay itself
 * (buffers, half-close, teardown) stays in proxy.c.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <string.h>

#include "edge443/http.h"
#include "edge443/proxy_internal.h"

/* Stop reading the client, let its output (an error response) drain, then
 * close.  Returns true when the connection was closed at once. */
bool proxy_flush_close(struct proxy_conn *c)
{
	c->http_close = true;
	proxy_side_reading(&c->client, false);
	proxy_side_reading(&c->backend, false);
	if (!c->client.bev ||
	    evbuffer_get_length(bufferevent_get_output(c->client.bev)) == 0) {
		proxy_conn_close(c, "closed by edge443 after a response");
		return true;
	}
	bufferevent_setwatermark(c->client.bev, EV_WRITE, 0, 0);
	return false;
}

/* Track whether a request head is awaited, for the header read timeout. */
static void proxy_http_track(struct proxy_conn *c)
{
	bool awaiting = http_awaiting_head(c->http);

	if (awaiting && !c->awaiting)
		c->awaiting_since = proxy_now();
	c->awaiting = awaiting;
}

/* Pause FROM when TO (an output or the staging buffer) holds too much. */
static void proxy_http_limit(struct proxy_conn *c, struct proxy_side *from,
			     struct evbuffer *to, struct proxy_side *to_side)
{
	if (evbuffer_get_length(to) < PROXY_BUF_MAX || !from->bev)
		return;
	proxy_side_reading(from, false);
	from->paused = true;
	if (to_side && to_side->bev)
		bufferevent_setwatermark(to_side->bev, EV_WRITE,
					 PROXY_BUF_MAX / 2, 0);
}

/* Client bytes through the publishing rules.  Returns true when the
 * connection was closed. */
bool proxy_http_client(struct proxy_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->client.bev);
	bool ready = c->state == PROXY_RELAY && c->backend.bev;
	struct evbuffer *to =
		ready ? bufferevent_get_output(c->backend.bev) : c->staging;
	/* A backend with nothing queued: collect the requests in the (empty)
	 * staging buffer and send them at once (proxy_send). */
	bool direct = ready && evbuffer_get_length(to) == 0 &&
		      evbuffer_get_length(c->staging) == 0;
	size_t before = evbuffer_get_length(in);
	bool need = false;
	enum http_action act;

	if (before == 0)
		return false;
	struct evbuffer *cout = bufferevent_get_output(c->client.bev);
	size_t was = evbuffer_get_length(cout);
	act = http_from_client(c->http, in, direct ? c->staging : to, cout,
			       &need);
	c->local_out += evbuffer_get_length(cout) - was;
	if (direct && evbuffer_get_length(c->staging))
		proxy_send(&c->backend, c->staging);
	c->client.bytes += before - evbuffer_get_length(in);
	c->last_active = proxy_now();
	proxy_http_track(c);
	if (act == HTTP_CLOSE)
		return proxy_flush_close(c);
	proxy_http_limit(c, &c->client, to, ready ? &c->backend : NULL);
	if (need && c->state == PROXY_HTTP_WAIT) {
		proxy_connect_backend(c);
		return c->state != PROXY_CONNECTING;
	}
	return false;
}

/* Backend bytes back through the response tracking.  Returns true when the
 * connection was closed. */
bool proxy_http_backend(struct proxy_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->backend.bev);
	struct evbuffer *out = bufferevent_get_output(c->client.bev);
	size_t before = evbuffer_get_length(in);
	enum http_action act;

	if (before == 0)
		return false;
	/* As for requests: responses go out at once when nothing is queued. */
	bool direct = evbuffer_get_length(out) == 0;
	act = http_from_backend(c->http, in, direct ? c->scratch : out);
	if (direct && evbuffer_get_length(c->scratch))
		proxy_send(&c->client, c->scratch);
	c->backend.bytes += before - evbuffer_get_length(in);
	c->last_active = proxy_now();
	proxy_http_track(c);
	if (act == HTTP_CLOSE)
		return proxy_flush_close(c);
	if (act == HTTP_TUNNEL) {
		/* 101 Switching Protocols: plain bytes both ways from now. */
		c->tunnel = true;
		c->awaiting = false;
		proxy_forward(c, &c->backend);
		proxy_forward(c, &c->client);
		return false;
	}
	proxy_http_limit(c, &c->backend, out, &c->client);
	/* A response ended: the next pipelined request (or what followed a
	 * refused upgrade) may already wait in the client's input. */
	if (c->client.bev &&
	    evbuffer_get_length(bufferevent_get_input(c->client.bev)))
		return proxy_http_client(c);
	return false;
}

/* The backend could not be reached or verified: 502/504 to the client. */
void proxy_http_backend_failed(struct proxy_conn *c, bool timeout,
			       const char *reason)
{
	proxy_side_free(&c->backend);
	struct evbuffer *cout = bufferevent_get_output(c->client.bev);
	size_t was = evbuffer_get_length(cout);
	http_backend_failed(c->http, timeout, reason, cout);
	c->local_out += evbuffer_get_length(cout) - was;
	proxy_flush_close(c);
}

/* The backend is up for an http service: send what was staged, relay. */
void proxy_http_backend_ready(struct proxy_conn *c)
{
	c->state = PROXY_RELAY;
	c->last_active = proxy_now();
	proxy_arm_timer(c, 1);
	evbuffer_add_buffer(bufferevent_get_output(c->backend.bev), c->staging);
	bufferevent_enable(c->backend.bev, EV_WRITE);
	proxy_side_reading(&c->backend, true);
	if (c->client.paused && !c->client.eof) {
		c->client.paused = false;
		proxy_side_reading(&c->client, true);
	}
	if (proxy_http_client(c))
		return;
	if (c->client.eof)
		proxy_pass_eof(c, &c->client);
}

/* After the TLS handshake of an http service: wait for a request. */
void proxy_http_start(struct proxy_conn *c)
{
	const struct runtime_service *rs = c->rs;
	const struct config_backend *be =
		rs->backend ? rs->backend->pool.be : NULL;

	c->hpeer.client_ip = c->peer_ip;
	c->hpeer.client_addr = c->peer;
	c->hpeer.tls_version = c->tls_version ? c->tls_version : "-";
	c->hpeer.backend = c->server;
	c->hpeer.responses = c->owner->stats.http_responses;
	c->http = http_conn_new(rs->svc, (const char *const *)rs->names,
				rs->nnames, be ? be->verify_name : NULL,
				&c->hpeer);
	c->staging = evbuffer_new();
	c->scratch = evbuffer_new();
	if (!c->http || !c->staging || !c->scratch) {
		proxy_conn_close(c, "out of memory");
		return;
	}
	c->state = PROXY_HTTP_WAIT;
	proxy_arm_timer(c, 1);
	proxy_http_track(c);
	proxy_http_client(c);
}

/* http: the header read timeout (handshake_timeout from the moment a
 * request head is awaited; slowloris cannot stretch it) and the idle
 * timeout, whichever comes first. */
void proxy_http_timer(struct proxy_conn *c)
{
	const struct config *cfg = proxy_cfg(c);
	time_t now = proxy_now();
	time_t next;

	if (c->http_close)
		return;
	if (c->awaiting && now - c->awaiting_since >= cfg->handshake_timeout) {
		struct evbuffer *cout = bufferevent_get_output(c->client.bev);
		size_t was = evbuffer_get_length(cout);
		http_head_timeout(c->http, cout);
		c->local_out += evbuffer_get_length(cout) - was;
		proxy_flush_close(c);
		return;
	}
	if (now - c->last_active >= cfg->idle_timeout) {
		proxy_conn_close(c, "idle timeout");
		return;
	}
	next = c->last_active + cfg->idle_timeout;
	if (c->awaiting && c->awaiting_since + cfg->handshake_timeout < next)
		next = c->awaiting_since + cfg->handshake_timeout;
	proxy_arm_timer(c, (int)(next - now));
}
