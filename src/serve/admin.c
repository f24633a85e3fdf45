/* admin.c — /metrics, /health and /served over plain HTTP (libevent's
 * evhttp).
 *
 * Only GET and HEAD of the three paths are answered; anything else is 404
 * or 405.  /served is the JSON document of what this node serves
 * (serve/served.c), which `edge443 probe --pool NODE...` compares across
 * the nodes of a pool.  /health is 200 "ok" while edge443 serves and 503
 * "draining" once the server said that the SIGTERM/SIGINT drain began
 * (admin_set_draining), so that a keepalived track_script or a load balancer
 * moves traffic away before the drain ends.  The server supplies the metric
 * text and the served document through callbacks; this module only listens and
 * answers.  Like the workers' listeners it stops accepting for a second when
 * accept() fails (EMFILE), instead of spinning.  It does no TLS and no
 * authentication: bind it to loopback (the default in the documentation) or a
 * management network.
 */
#include "edge443/serve/admin.h"

#include <errno.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge443/base/log.h"

struct admin {
	struct evhttp *http;
	struct evhttp_bound_socket *bound; /* evhttp's */
	admin_metrics_cb metrics;
	admin_served_cb served;
	void *arg;
	bool draining; /* main thread only, as the requests */
};

/* One second after an accept failure: accept again. */
static void admin_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	evconnlistener_enable(arg);
	(void)fd;
	(void)what;
}

/* accept() failed (EMFILE and friends): without this libevent retries at
 * once, spinning the main thread and warning on every turn.  Stop accepting
 * for a second, as the workers do.  evhttp owns the listener and passes its
 * own pointer as the argument, so the timer is a one-shot on the listener
 * (event_base_free releases one still pending); a pause per failure keeps
 * the log to at most one line a second. */
static void admin_accept_error_cb(struct evconnlistener *evl, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval one = {1, 0};

	evconnlistener_disable(evl);
	if (event_base_once(evconnlistener_get_base(evl), -1, EV_TIMEOUT,
			    admin_resume_cb, evl, &one) < 0) {
		/* Nothing can re-enable it later: better a busy loop than
		 * an endpoint that never answers again. */
		evconnlistener_enable(evl);
		return;
	}
	log_warn("admin: accept failed: %s; pausing accepts for 1 s",
		 strerror(err));
	(void)arg;
}

static void admin_request_cb(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;
	const char *uri = evhttp_request_get_uri(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct evbuffer *body = evbuffer_new();
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);

	if (!body) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(headers, "Allow", "GET, HEAD");
		evhttp_send_error(req, 405, "Method Not Allowed");
	} else if (strcmp(uri, "/metrics") == 0) {
		a->metrics(body, a->arg);
		evhttp_add_header(headers, "Content-Type",
				  "text/plain; version=0.0.4; charset=utf-8");
		evhttp_send_reply(req, HTTP_OK, "OK", body);
	} else if (strcmp(uri, "/served") == 0) {
		a->served(body, a->arg);
		evhttp_add_header(headers, "Content-Type", "application/json");
		evhttp_add_header(headers, "Cache-Control", "no-store");
		evhttp_send_reply(req, HTTP_OK, "OK", body);
	} else if (strcmp(uri, "/health") == 0) {
		evbuffer_add_printf(body, a->draining ? "draining\n" : "ok\n");
		evhttp_add_header(headers, "Content-Type", "text/plain");
		evhttp_add_header(headers, "Cache-Control", "no-store");
		if (a->draining)
			evhttp_send_reply(req, HTTP_SERVUNAVAIL,
					  "Service Unavailable", body);
		else
			evhttp_send_reply(req, HTTP_OK, "OK", body);
	} else {
		evhttp_send_error(
			req, HTTP_NOTFOUND,
			"Not Found: try /metrics, /health or /served");
	}
	evbuffer_free(body);
}

struct admin *admin_new(struct event_base *base, const struct config_addr *addr,
			admin_metrics_cb metrics, admin_served_cb served,
			void *arg, char *err, size_t errlen)
{
	struct admin *a = calloc(1, sizeof(*a));
	struct evhttp_bound_socket *bound;
	char host[64];

	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->metrics = metrics;
	a->served = served;
	a->arg = arg;
	a->http = evhttp_new(base);
	if (!a->http)
		goto fail;
	/* evhttp wants the address without brackets and the port apart. */
	if (!config_addr_host(addr, host, sizeof(host)))
		goto fail;
	bound = evhttp_bind_socket_with_handle(a->http, host,
					       (ev_uint16_t)addr->port);
	if (!bound)
		goto fail;
	a->bound = bound;
	evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(bound),
				    admin_accept_error_cb);
	evhttp_set_allowed_methods(
		a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
				 EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_timeout(a->http, 10);
	evhttp_set_gencb(a->http, admin_request_cb, a);
	return a;
fail:
	snprintf(err, errlen, "admin %s: cannot listen", addr->text);
	admin_free(a);
	return NULL;
}

void admin_set_draining(struct admin *a)
{
	if (a)
		a->draining = true;
}

/* Call once the event loop no longer runs: a pending accept back-off timer
 * refers to the listener freed here (server.c frees the admin after the
 * loop has stopped, then the base, which releases the timer). */
int admin_fd(const struct admin *a)
{
	return a && a->bound ? (int)evhttp_bound_socket_get_fd(a->bound) : -1;
}

void admin_free(struct admin *a)
{
	if (!a)
		return;
	if (a->http)
		evhttp_free(a->http);
	free(a);
}
