/* admin.c — /metrics and /health over plain HTTP (libevent's evhttp).
 *
 * Only GET and HEAD of the two paths are answered; anything else is 404 or
 * 405.  The server supplies the metric text through a callback; this module
 * only listens and answers.  It does no TLS and no authentication: bind it to
 * loopback (the default in the documentation) or a management network.
 */
#include "edge443/admin.h"

#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct admin {
	struct evhttp *http;
	admin_metrics_cb metrics;
	void *arg;
};

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
	} else if (strcmp(uri, "/health") == 0) {
		evbuffer_add_printf(body, "ok\n");
		evhttp_add_header(headers, "Content-Type", "text/plain");
		evhttp_send_reply(req, HTTP_OK, "OK", body);
	} else {
		evhttp_send_error(req, HTTP_NOTFOUND,
				  "Not Found: try /metrics or /health");
	}
	evbuffer_free(body);
}

struct admin *admin_new(struct event_base *base, const struct config_addr *addr,
			admin_metrics_cb metrics, void *arg, char *err,
			size_t errlen)
{
	struct admin *a = calloc(1, sizeof(*a));
	char host[64];
	const char *colon;

	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->metrics = metrics;
	a->arg = arg;
	a->http = evhttp_new(base);
	if (!a->http)
		goto fail;
	/* evhttp wants the address without brackets and the port apart. */
	colon = strrchr(addr->text, ':');
	if (!colon || (size_t)(colon - addr->text) >= sizeof(host))
		goto fail;
	if (addr->text[0] == '[')
		snprintf(host, sizeof(host), "%.*s",
			 (int)(colon - addr->text - 2), addr->text + 1);
	else
		snprintf(host, sizeof(host), "%.*s", (int)(colon - addr->text),
			 addr->text);
	if (evhttp_bind_socket(a->http, host, (ev_uint16_t)addr->port) < 0)
		goto fail;
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

void admin_free(struct admin *a)
{
	if (!a)
		return;
	if (a->http)
		evhttp_free(a->http);
	free(a);
}
