/* http.c — HTTP/1.1 publishing rules on one client connection.
 *
 * This module turns the client's decrypted bytes into re-serialised requests
 * for the backend and follows the backend's responses back: the connection
 * state, the request flow through Debian's http-parser, and the response
 * flow.  Because that parser is lenient (bare LF, obs-fold, whitespace before
 * ':', sloppy chunk framing), every request head and every chunked body is
 * first checked by the strict lexical scanners of http_check.c (which also
 * holds the Host, target and path rules): any disagreement is a 400 and the
 * connection closes.  Error pages, the redirect listener and the access log
 * are in http_reply.c.
 *
 * Requests are handled one at a time: the next request head is not read
 * until the previous response has ended, so pipelined requests wait in the
 * client's input and error responses never overtake earlier responses.
 * Bodies are streamed (Content-Length as is, chunked re-framed by us,
 * trailers dropped); nothing buffers a whole body.  Response bytes from the
 * (trusted) backend are forwarded as received once their head has parsed; the
 * head is staged so that a malformed head can still become a 502.
 *
 * It does no I/O, owns no sockets and runs no timers: the caller (proxy.c)
 * moves bytes and acts on the returned enum http_action.
 */
#include "edge443/http/http.h"
#include "edge443/http/http_check.h"
#include "edge443/http/http_conn.h"
#include "edge443/http/http_reply.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "edge443/base/log.h"

#define HTTP_MAX_RESP_HEAD (64 * 1024) /* a longer response head is a 502 */

/* ---- request parser callbacks ------------------------------------------ */

static int http_req_url_cb(http_parser *p, const char *at, size_t n)
{
	struct http_conn *h = p->data;

	if (!h->in_head)
		return 0;
	if (h->url == NULL)
		h->url = at;
	h->urllen += n; /* the head is one contiguous copy */
	return 0;
}

static int http_req_field_cb(http_parser *p, const char *at, size_t n)
{
	struct http_conn *h = p->data;
	struct http_field *f;

	if (!h->in_head)
		return 0; /* a trailer: dropped */
	f = h->nfields ? &h->fields[h->nfields - 1] : NULL;
	if (f == NULL || f->value != NULL) {
		if (h->nfields == HTTP_MAX_HEADERS) {
			h->field_overflow = true;
			return 0;
		}
		f = &h->fields[h->nfields++];
		f->name = at;
		f->namelen = 0;
		f->value = NULL;
		f->valuelen = 0;
	}
	f->namelen += n;
	return 0;
}

static int http_req_value_cb(http_parser *p, const char *at, size_t n)
{
	struct http_conn *h = p->data;
	struct http_field *f;

	if (!h->in_head || h->nfields == 0 || h->field_overflow)
		return 0;
	f = &h->fields[h->nfields - 1];
	if (f->value == NULL)
		f->value = at;
	f->valuelen += n;
	return 0;
}

static int http_req_body_cb(http_parser *p, const char *at, size_t n)
{
	struct http_conn *h = p->data;

	if (h->body_to == NULL || n == 0)
		return 0;
	if (h->cur.chunked) {
		/* Re-frame: one chunk per piece; never a 0 chunk here. */
		char line[2 * sizeof(size_t) + 2];
		size_t k = sizeof(line) - 2;

		line[k] = '\r';
		line[k + 1] = '\n';
		for (size_t v = n; v != 0; v >>= 4)
			line[--k] = "0123456789abcdef"[v & 15];
		evbuffer_add(h->body_to, line + k, sizeof(line) - k);
		evbuffer_add(h->body_to, at, n);
		evbuffer_add(h->body_to, "\r\n", 2);
	} else {
		evbuffer_add(h->body_to, at, n);
	}
	return 0;
}

static int http_req_done_cb(http_parser *p)
{
	struct http_conn *h = p->data;

	h->req_end = true;
	http_parser_pause(p, 1); /* stop at the message boundary */
	return 0;
}

static const http_parser_settings http_req_settings = {
	.on_url = http_req_url_cb,
	.on_header_field = http_req_field_cb,
	.on_header_value = http_req_value_cb,
	.on_body = http_req_body_cb,
	.on_message_complete = http_req_done_cb,
};

/* ---- response parser callbacks ----------------------------------------- */

static int http_resp_headers_cb(http_parser *p)
{
	struct http_conn *h = p->data;

	h->resp_status = p->status_code;
	h->resp_paused_head = true;
	http_parser_pause(p, 1);
	if (p->status_code == 101 && !h->cur.upgrade) {
		h->resp_bad101 = true;
		return -1;
	}
	/* A response to HEAD has no body whatever its framing says. */
	return h->cur.head_method ? 1 : 0;
}

static int http_resp_done_cb(http_parser *p)
{
	struct http_conn *h = p->data;

	h->resp_keepalive = http_should_keep_alive(p) != 0;
	h->resp_paused_end = true;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings http_resp_settings = {
	.on_headers_complete = http_resp_headers_cb,
	.on_message_complete = http_resp_done_cb,
};

/* ---- construction ------------------------------------------------------ */

struct http_conn *http_conn_new(const struct config_service *svc,
				const char *const *names, size_t nnames,
				const char *backend_name,
				const struct http_peer *peer)
{
	struct http_conn *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->svc = svc;
	h->peer = peer;
	if (nnames > 0) {
		h->names = calloc(nnames, sizeof(*h->names));
		if (h->names == NULL)
			goto fail;
		for (size_t i = 0; i < nnames; i++) {
			h->names[i] = strdup(names[i]);
			if (h->names[i] == NULL)
				goto fail;
			h->nnames++;
		}
	}
	h->backend_name = strdup(backend_name ? backend_name : svc->fqdn);
	h->resp_stage = evbuffer_new();
	if (h->backend_name == NULL || h->resp_stage == NULL)
		goto fail;
	http_parser_init(&h->req_parser, HTTP_REQUEST);
	h->req_parser.data = h;
	http_parser_init(&h->resp_parser, HTTP_RESPONSE);
	h->resp_parser.data = h;
	http_await_head(h);
	h->cur.start = h->head_since;
	h->cur.minor = 1;
	return h;
fail:
	http_conn_free(h);
	return NULL;
}

void http_conn_free(struct http_conn *h)
{
	if (h == NULL)
		return;
	/* A response delimited by the backend closing ends here; a request
	 * still without a response is logged too (every forwarded request
	 * gets its line), with status 0. */
	if (h->resp_pending)
		http_log_access(
			h, h->resp_head_done ? h->resp_status : 0,
			h->resp_bytes,
			h->resp_head_done
				? NULL
				: "connection closed before a response");
	for (size_t i = 0; i < h->nnames; i++)
		free(h->names[i]);
	free(h->names);
	free(h->backend_name);
	free(h->head);
	if (h->resp_stage)
		evbuffer_free(h->resp_stage);
	free(h);
}

/* ---- client -> backend ------------------------------------------------- */

/* Is the header NAME listed in any Connection header of the request? */
static bool http_in_connection(const struct http_conn *h, const char *name,
			       size_t n)
{
	for (size_t i = 0; i < h->nfields; i++) {
		const struct http_field *f = &h->fields[i];
		const char *v = f->value, *end = f->value + f->valuelen;

		if (!http_eq(f->name, f->namelen, "connection"))
			continue;
		while (v < end) {
			const char *t;

			while (v < end &&
			       (*v == ' ' || *v == '\t' || *v == ','))
				v++;
			t = v;
			while (v < end && *v != ',' && *v != ' ' && *v != '\t')
				v++;
			if ((size_t)(v - t) == n &&
			    strncasecmp(t, name, n) == 0)
				return true;
		}
	}
	return false;
}

/* Fields edge443 removes from every forwarded request: hop-by-hop ones,
 * framing and Host (written by us), and the forwarding headers we own. */
static bool http_dropped(const struct http_field *f)
{
	/* clang-format off */
#define HTTP_NAME(s) {s, sizeof(s) - 1}
	/* clang-format on */
	static const struct {
		const char *name;
		size_t len;
	} drop[] = {
		HTTP_NAME("connection"),
		HTTP_NAME("keep-alive"),
		HTTP_NAME("proxy-connection"),
		HTTP_NAME("te"),
		HTTP_NAME("trailer"),
		HTTP_NAME("upgrade"),
		HTTP_NAME("http2-settings"), /* only ever meant for h2c */
		HTTP_NAME("transfer-encoding"),
		HTTP_NAME("content-length"),
		HTTP_NAME("host"),
		HTTP_NAME("x-forwarded-for"),
		HTTP_NAME("x-forwarded-proto"),
		HTTP_NAME("x-forwarded-host"),
		HTTP_NAME("forwarded"),
	};
#undef HTTP_NAME

	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (drop[i].len == f->namelen &&
		    strncasecmp(f->name, drop[i].name, f->namelen) == 0)
			return true;
	return false;
}

/* The head is written into one contiguous reservation of the backend's
 * buffer: pieces are copied, nothing is formatted (printf-style appends cost
 * more than the rest of the request's own work). */
struct http_out {
	char *p;
};

static void http_put(struct http_out *o, const void *s, size_t n)
{
	memcpy(o->p, s, n);
	o->p += n;
}

#define HTTP_PUT_LIT(o, s) http_put((o), (s), sizeof(s) - 1)

static void http_put_u64(struct http_out *o, uint64_t v)
{
	char d[20];
	size_t n = 0;

	do {
		d[sizeof(d) - ++n] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	http_put(o, d + sizeof(d) - n, n);
}

/* Write the re-serialised head of the request to TO: the normalised PATH
 * and the QUERY as sent.  -1 when TO cannot grow (out of memory). */
static int http_serialise(struct http_conn *h, const struct http_facts *x,
			  const char *path, size_t plen, const char *query,
			  size_t qlen, struct evbuffer *to)
{
	const struct http_peer *p = h->peer;
	const char *xff = p && p->client_ip ? p->client_ip : "unknown";
	bool backend_host = h->svc->http.host_header == CONFIG_HOST_BACKEND;
	bool keep[HTTP_MAX_HEADERS];
	size_t mlen = strlen(h->cur.method);
	size_t need;
	struct evbuffer_iovec v;
	struct http_out o;

	/* An upper bound of what follows, literals included. */
	need = mlen + plen + qlen + 256 + strlen(xff) + 2 * x->host->valuelen +
	       (backend_host ? strlen(h->backend_name) : 0) +
	       (h->cur.upgrade ? x->upgrade->valuelen : 0);
	for (size_t i = 0; i < h->nfields; i++) {
		const struct http_field *f = &h->fields[i];

		keep[i] = !http_dropped(f) &&
			  !http_in_connection(h, f->name, f->namelen);
		if (keep[i])
			need += f->namelen + f->valuelen + 4;
	}
	if (evbuffer_reserve_space(to, (ev_ssize_t)need, &v, 1) != 1 ||
	    v.iov_len < need)
		return -1;
	o.p = v.iov_base;
	http_put(&o, h->cur.method, mlen);
	HTTP_PUT_LIT(&o, " ");
	http_put(&o, path, plen);
	http_put(&o, query, qlen);
	/* HTTP/1.0 stays 1.0 so the backend never answers it chunked. */
	if (h->cur.minor == 0)
		HTTP_PUT_LIT(&o, " HTTP/1.0\r\nHost: ");
	else
		HTTP_PUT_LIT(&o, " HTTP/1.1\r\nHost: ");
	if (backend_host)
		http_put(&o, h->backend_name, strlen(h->backend_name));
	else
		http_put(&o, x->host->value, x->host->valuelen);
	HTTP_PUT_LIT(&o, "\r\n");
	for (size_t i = 0; i < h->nfields; i++) {
		const struct http_field *f = &h->fields[i];

		if (!keep[i])
			continue;
		http_put(&o, f->name, f->namelen);
		HTTP_PUT_LIT(&o, ": ");
		http_put(&o, f->value, f->valuelen);
		HTTP_PUT_LIT(&o, "\r\n");
	}
	HTTP_PUT_LIT(&o, "X-Forwarded-For: ");
	http_put(&o, xff, strlen(xff));
	HTTP_PUT_LIT(&o, "\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: ");
	http_put(&o, x->host->value, x->host->valuelen);
	HTTP_PUT_LIT(&o, "\r\n");
	if (x->has_cl) {
		HTTP_PUT_LIT(&o, "Content-Length: ");
		http_put_u64(&o, x->cl);
		HTTP_PUT_LIT(&o, "\r\n");
	}
	if (x->chunked)
		HTTP_PUT_LIT(&o, "Transfer-Encoding: chunked\r\n");
	if (h->cur.upgrade) {
		HTTP_PUT_LIT(&o, "Connection: Upgrade\r\nUpgrade: ");
		http_put(&o, x->upgrade->value, x->upgrade->valuelen);
		HTTP_PUT_LIT(&o, "\r\n");
	} else if (h->cur.close) {
		HTTP_PUT_LIT(&o, "Connection: close\r\n");
	} else {
		HTTP_PUT_LIT(&o, "Connection: keep-alive\r\n");
	}
	HTTP_PUT_LIT(&o, "\r\n");
	v.iov_len = (size_t)(o.p - (char *)v.iov_base);
	assert(v.iov_len <= need); /* the bound above holds */
	return evbuffer_commit_space(to, &v, 1);
}

/* Remove every field whose name holds '_' before anything reads the fields
 * (as nginx does with underscores_in_headers off): CGI, PHP and others map
 * '-' and '_' both to '_' (HTTP_X_FORWARDED_FOR), so X_Forwarded_For would
 * pass for the X-Forwarded-For we set.  One log line per request. */
static void http_drop_underscores(struct http_conn *h)
{
	const char *first = NULL;
	size_t firstlen = 0, kept = 0;

	for (size_t i = 0; i < h->nfields; i++) {
		const struct http_field *f = &h->fields[i];

		if (memchr(f->name, '_', f->namelen) == NULL) {
			h->fields[kept++] = *f;
		} else if (first == NULL) {
			first = f->name;
			firstlen = f->namelen;
		}
	}
	if (first != NULL && log_enabled(LOG_LEVEL_INFO)) {
		char name[HTTP_LOG_MAX + 1];

		http_log_copy(name, sizeof(name), first, firstlen);
		log_info("access client=%s: dropped %zu header field(s) with "
			 "'_' in the name, the first \"%s\"",
			 http_client_addr(h), h->nfields - kept, name);
	}
	h->nfields = kept;
}

/* Only WebSocket may turn the connection into a tunnel.  Any other upgrade
 * (h2c above all, defined for cleartext only, which would hand the backend
 * a raw HTTP/2 stream past every rule) is stripped: the request goes on as
 * an ordinary one (Upgrade, HTTP2-Settings and Connection are never
 * forwarded as sent), and a 101 to it is a bad response. */
static bool http_upgrade_ok(struct http_conn *h, const struct http_facts *x)
{
	char v[HTTP_LOG_MAX + 1];

	if (x->upgrade == NULL)
		return false;
	if (h->req_parser.upgrade &&
	    http_eq(x->upgrade->value, x->upgrade->valuelen, "websocket"))
		return true;
	if (log_enabled(LOG_LEVEL_INFO)) {
		http_log_copy(v, sizeof(v), x->upgrade->value,
			      x->upgrade->valuelen);
		log_info("access client=%s: Upgrade \"%s\" stripped (%s); "
			 "forwarded as an ordinary request",
			 http_client_addr(h), v,
			 h->req_parser.upgrade ? "only websocket is tunnelled"
					       : "not named in Connection");
	}
	return false;
}

/* Where a request that passed the checks goes: its Host split into name
 * and port, its normalised path and its query (all pointing into h->head or
 * the Host field). */
struct http_route {
	size_t hostlen;
	const char *port, *path, *query;
	size_t portlen, plen, qlen;
};

/* Run the request parser over the head (h->head, N bytes) and note what the
 * access log needs (method, version, target, Host), with the '_' fields
 * dropped.  NULL when the head parsed whole, else why not (a 400). */
static const char *http_parse_head(struct http_conn *h, size_t n)
{
	http_parser *p = &h->req_parser;
	enum http_errno err;
	const char *m;
	size_t used, mlen;
	bool logged = log_enabled(LOG_LEVEL_INFO);

	h->nfields = 0;
	h->field_overflow = false;
	h->url = NULL;
	h->urllen = 0;
	h->req_end = false;
	h->body_to = NULL;
	h->in_head = true;
	used = http_parser_execute(p, &http_req_settings, h->head, n);
	h->in_head = false;
	err = HTTP_PARSER_ERRNO(p);
	if (h->req_end) {
		http_parser_pause(p, 0);
	}
	m = http_method_str((enum http_method)p->method);
	mlen = strnlen(m, sizeof(h->cur.method) - 1);
	memcpy(h->cur.method, m, mlen);
	h->cur.method[mlen] = '\0';
	h->cur.minor = p->http_minor;
	/* The access log's copies (target, Host) are made only for a log
	 * that writes them. */
	if (h->url && logged)
		http_log_copy(h->cur.target, sizeof(h->cur.target), h->url,
			      h->urllen);
	http_drop_underscores(h);
	for (size_t i = 0; logged && i < h->nfields; i++)
		if (http_eq(h->fields[i].name, h->fields[i].namelen, "host"))
			http_log_copy(h->cur.host, sizeof(h->cur.host),
				      h->fields[i].value ? h->fields[i].value
							 : "",
				      h->fields[i].valuelen);
	if (err != HPE_OK && err != HPE_PAUSED)
		return http_errno_description(err);
	if (used != n)
		return "head and parser disagree";
	return NULL;
}

/* The checks on a parsed head that end the connection: the field count,
 * the version, CONNECT, the framing and Host fields (http_facts_get), an
 * upgrade, the Host syntax and the target.  NULL when the request may go on
 * (X and R filled, h->cur set from the head), else why not with *STATUS
 * (400, 405, 431, 505). */
static const char *http_head_refusal(struct http_conn *h, struct http_facts *x,
				     struct http_route *r, int *status)
{
	http_parser *p = &h->req_parser;
	const char *why;

	*status = 400;
	h->cur.head_method = p->method == HTTP_HEAD;
	if (h->field_overflow) {
		*status = 431;
		return "too many header fields";
	}
	if (p->http_major != 1 || p->http_minor > 1) {
		*status = 505;
		return "unsupported HTTP version";
	}
	if (p->method == HTTP_CONNECT) {
		*status = 405;
		return "CONNECT";
	}
	if (http_facts_get(h, x) < 0) {
		*status = x->status;
		return x->why;
	}
	h->cur.chunked = x->chunked;
	h->cur.close = p->http_minor == 0 || http_in_connection(h, "close", 5);
	h->cur.upgrade = http_upgrade_ok(h, x);
	if ((p->upgrade && x->upgrade == NULL) ||
	    (h->cur.upgrade && (p->http_minor == 0 || x->chunked ||
				(x->has_cl && x->cl > 0) || !h->req_end)))
		return "bad upgrade request";
	if (http_host_split(x->host->value, x->host->valuelen, &r->hostlen,
			    &r->port, &r->portlen) < 0)
		return "malformed Host";
	if (http_target(h, x, &r->path, &r->plen, &r->query, &r->qlen, &why) <
	    0)
		return why;
	if (log_enabled(LOG_LEVEL_INFO))
		http_log_copy(h->cur.target, sizeof(h->cur.target), r->path,
			      r->plen);
	return NULL;
}

/* The publishing rule: a Host this service does not serve is answered 421,
 * a path it does not publish 404, here, without the backend (the connection
 * may stay).  True when it answered (*ACT set). */
static bool http_not_published(struct http_conn *h, const struct http_facts *x,
			       const struct http_route *r,
			       struct evbuffer *client, enum http_action *act)
{
	char msg[HTTP_LOG_MAX * 2], shown[HTTP_LOG_MAX + 1];

	if (!http_host_ok(h, x->host->value, r->hostlen, r->port, r->portlen)) {
		http_log_copy(shown, sizeof(shown), x->host->value,
			      x->host->valuelen);
		snprintf(msg, sizeof(msg),
			 "This server does not publish %s; it publishes %s.",
			 shown, h->svc->fqdn);
		*act = http_answer_local(h, x, client, 421, msg,
					 "Host not served here");
		return true;
	}
	if (!(r->plen == 1 && r->path[0] == '*' &&
	      http_path_allowed(h, "/", 1)) &&
	    !http_path_allowed(h, r->path, r->plen)) {
		http_log_copy(shown, sizeof(shown), r->path, r->plen);
		snprintf(msg, sizeof(msg), "%s is not published on %s.", shown,
			 h->svc->fqdn);
		*act = http_answer_local(h, x, client, 404, msg,
					 "path not published");
		return true;
	}
	return false;
}

/* Send the request head, re-serialised, to TO and await its response; the
 * body (if any) follows in HTTP_S_BODY. */
static int http_forward_head(struct http_conn *h, const struct http_facts *x,
			     const struct http_route *r, struct evbuffer *to)
{
	if (http_serialise(h, x, r->path, r->plen, r->query, r->qlen, to) < 0)
		return -1;
	h->cur.forwarded = true;
	h->resp_pending = true;
	h->resp_head_done = false;
	h->resp_bytes = 0;
	h->resp_status = 0;
	evbuffer_drain(h->resp_stage, evbuffer_get_length(h->resp_stage));
	if (h->cur.upgrade) {
		h->state = HTTP_S_UPGRADE;
	} else if (h->req_end) {
		h->state = HTTP_S_WAIT;
	} else {
		h->state = HTTP_S_BODY;
		h->cur.body_open = true;
		h->body_to = to;
		memset(&h->chunk, 0, sizeof(h->chunk));
	}
	return 0;
}

/* The head is whole in FROM (h->scan.pos bytes): parse it, check it, then
 * forward it re-serialised or answer it. */
static enum http_action
http_take_head(struct http_conn *h, struct evbuffer *from, struct evbuffer *to,
	       struct evbuffer *client, bool *need_backend)
{
	size_t n = h->scan.pos;
	struct http_facts x;
	struct http_route r;
	enum http_action act = HTTP_CONTINUE;
	const char *why;
	int status;

	memset(&h->cur, 0, sizeof(h->cur));
	clock_gettime(CLOCK_MONOTONIC, &h->cur.start);
	h->cur.minor = 1;
	free(h->head);
	h->head = malloc(n);
	if (h->head == NULL)
		return http_fail(h, client, 400, "out of memory");
	evbuffer_remove(from, h->head, n);
	memset(&h->scan, 0, sizeof(h->scan));
	why = http_parse_head(h, n);
	if (why != NULL) {
		h->cur.head_method = false;
		act = http_fail(h, client, 400, why);
	} else if ((why = http_head_refusal(h, &x, &r, &status)) != NULL) {
		act = http_fail(h, client, status, why);
	} else if (!http_not_published(h, &x, &r, client, &act)) {
		if (http_forward_head(h, &x, &r, to) < 0)
			act = http_fail(h, client, 400, "out of memory");
		else
			*need_backend = true;
	}
	free(h->head);
	h->head = NULL;
	h->nfields = 0;
	h->url = NULL;
	if (h->state == HTTP_S_DISCARD)
		memset(&h->chunk, 0, sizeof(h->chunk));
	h->req_end = false;
	return act;
}

/* Stream (or drop) body bytes from FROM.  0 when FROM is used up or the body
 * ended (state changed), -1 on a framing error (WHY). */
static int http_take_body(struct http_conn *h, struct evbuffer *from,
			  struct evbuffer *to, const char **why)
{
	while (evbuffer_get_length(from) > 0) {
		struct evbuffer_iovec v;
		size_t feed, used;
		enum http_errno err;

		if (evbuffer_peek(from, -1, NULL, &v, 1) < 1)
			return 0;
		feed = v.iov_len;
		if (h->cur.chunked) {
			long r = http_chunk_bytes(&h->chunk, v.iov_base,
						  v.iov_len);
			if (r < 0) {
				*why = "malformed chunked framing";
				return -1;
			}
			feed = (size_t)r;
		}
		h->body_to = h->state == HTTP_S_BODY ? to : NULL;
		used = http_parser_execute(&h->req_parser, &http_req_settings,
					   v.iov_base, feed);
		err = HTTP_PARSER_ERRNO(&h->req_parser);
		h->body_to = NULL;
		if ((err != HPE_OK && err != HPE_PAUSED) ||
		    (used != feed && !h->req_end) ||
		    (h->cur.chunked &&
		     (h->chunk.state == HTTP_CHUNK_DONE) != h->req_end)) {
			*why = err != HPE_OK && err != HPE_PAUSED
				       ? http_errno_description(err)
				       : "body framing disagreement";
			return -1;
		}
		evbuffer_drain(from, used);
		if (h->req_end) {
			http_parser_pause(&h->req_parser, 0);
			h->req_end = false;
			if (h->state == HTTP_S_BODY) {
				if (h->cur.chunked)
					evbuffer_add(to, "0\r\n\r\n", 5);
				h->cur.body_open = false;
			}
			if (h->state == HTTP_S_BODY && h->resp_pending)
				h->state = HTTP_S_WAIT;
			else
				http_await_head(h);
			return 0;
		}
	}
	return 0;
}

/* A request that failed in its head phase (a bad or late head) has no
 * request line to log; it took the time since the head was awaited. */
static void http_cur_head_phase(struct http_conn *h)
{
	memset(&h->cur, 0, sizeof(h->cur));
	h->cur.start = h->head_since;
	h->cur.minor = 1;
}

/* A framing error in a body (WHY): a 400 only while no byte of an answer to
 * that request went out; once it was answered (404/421 whose body we drop,
 * a response that came before the body ended) or its response has begun,
 * the connection just closes (the request keeps its one log line). */
static enum http_action http_body_fail(struct http_conn *h,
				       struct evbuffer *client, const char *why)
{
	bool answered = h->state == HTTP_S_DISCARD || !h->resp_pending;

	if (answered || h->resp_head_done ||
	    evbuffer_get_length(h->resp_stage) > 0) {
		log_info("access client=%s: %s; closing", http_client_addr(h),
			 why);
		/* A response under way is cut: it must not look complete. */
		if (!answered)
			h->resp_cut = true;
		h->state = HTTP_S_CLOSING;
		return HTTP_CLOSE;
	}
	h->resp_pending = false;
	return http_fail(h, client, 400, why);
}

enum http_action http_from_client(struct http_conn *h, struct evbuffer *from,
				  struct evbuffer *to, struct evbuffer *client,
				  bool *need_backend)
{
	if (h->client_eof) {
		/* Nothing the client sent after its end counts. */
		evbuffer_drain(from, evbuffer_get_length(from));
		return h->resp_pending ? HTTP_CONTINUE : HTTP_CLOSE;
	}
	for (;;) {
		enum http_action act;
		const char *why = NULL;
		int r;

		switch (h->state) {
		case HTTP_S_HEAD:
			if (evbuffer_get_length(from) == 0)
				return HTTP_CONTINUE;
			r = http_scan_from(&h->scan, from);
			if (r < 0) {
				http_cur_head_phase(h);
				return http_fail(h, client, h->scan.status,
						 h->scan.why);
			}
			if (r == 0)
				return HTTP_CONTINUE;
			act = http_take_head(h, from, to, client, need_backend);
			if (act != HTTP_CONTINUE)
				return act;
			break;
		case HTTP_S_BODY:
		case HTTP_S_DISCARD:
			if (evbuffer_get_length(from) == 0)
				return HTTP_CONTINUE;
			if (http_take_body(h, from, to, &why) < 0)
				return http_body_fail(h, client, why);
			if (h->state == HTTP_S_BODY ||
			    h->state == HTTP_S_DISCARD)
				return HTTP_CONTINUE;
			break;
		case HTTP_S_WAIT:
		case HTTP_S_UPGRADE:
		case HTTP_S_CLOSING:
			return HTTP_CONTINUE;
		case HTTP_S_TUNNEL:
			return HTTP_TUNNEL;
		}
	}
}

/* ---- backend -> client ------------------------------------------------- */

/* The final response to the current request has ended: its access line,
 * and the request is done. */
static void http_resp_finished(struct http_conn *h)
{
	http_log_access(h, h->resp_status, h->resp_bytes, NULL);
	h->resp_pending = false;
	h->nrequests++;
}

static enum http_action http_resp_fail(struct http_conn *h, struct evbuffer *to,
				       const char *why)
{
	int status = 0;
	size_t n = 0;

	if (!h->resp_head_done) { /* nothing of a final response sent */
		char msg[512];

		status = 502;
		snprintf(msg, sizeof(msg),
			 "The web server behind %s sent an invalid response.",
			 h->svc->fqdn);
		n = http_write_page(to, 502, msg, NULL, true,
				    h->cur.head_method);
	} else {
		h->resp_cut = true; /* part of it went out: cut */
	}
	http_log_access(h, status ? status : h->resp_status,
			status ? n : h->resp_bytes, why);
	h->resp_pending = false;
	h->nrequests++;
	h->state = HTTP_S_CLOSING;
	return HTTP_CLOSE;
}

enum http_action http_from_backend(struct http_conn *h, struct evbuffer *from,
				   struct evbuffer *to)
{
	if (h->state == HTTP_S_TUNNEL)
		return HTTP_TUNNEL;
	while (evbuffer_get_length(from) > 0) {
		struct evbuffer_iovec v;
		size_t used;
		enum http_errno err;

		if (h->state == HTTP_S_CLOSING && !h->resp_pending)
			return HTTP_CLOSE;
		if (!h->resp_pending) {
			log_info("backend %s sent bytes with no request "
				 "outstanding; closing",
				 h->peer && h->peer->backend ? h->peer->backend
							     : "-");
			h->state = HTTP_S_CLOSING;
			return HTTP_CLOSE;
		}
		if (evbuffer_peek(from, -1, NULL, &v, 1) < 1)
			break;
		used = http_parser_execute(&h->resp_parser, &http_resp_settings,
					   v.iov_base, v.iov_len);
		err = HTTP_PARSER_ERRNO(&h->resp_parser);
		if (err != HPE_OK && err != HPE_PAUSED)
			return http_resp_fail(
				h, to,
				h->resp_bad101 ? "101 to a request that asked "
						 "no upgrade"
					       : http_errno_description(err));
		if (!h->resp_head_done &&
		    !(h->resp_paused_head && used <= HTTP_MAX_RESP_HEAD &&
		      evbuffer_get_length(h->resp_stage) == 0)) {
			/* Staged until the head has parsed, so that a bad
			 * one can still become a 502; a head that parsed
			 * whole in this piece goes on at once. */
			evbuffer_remove_buffer(from, h->resp_stage, used);
			if (evbuffer_get_length(h->resp_stage) >
			    HTTP_MAX_RESP_HEAD)
				return http_resp_fail(
					h, to, "response head too large");
		} else {
			evbuffer_remove_buffer(from, to, used);
			h->resp_bytes += used;
		}
		if (h->resp_paused_head) {
			h->resp_paused_head = false;
			http_parser_pause(&h->resp_parser, 0);
			h->resp_bytes += evbuffer_get_length(h->resp_stage);
			evbuffer_add_buffer(to, h->resp_stage);
			h->resp_head_done = true;
		}
		if (!h->resp_paused_end)
			continue;
		h->resp_paused_end = false;
		http_parser_pause(&h->resp_parser, 0);
		h->resp_head_done = false;
		if (h->resp_status == 101) {
			http_log_access(h, 101, h->resp_bytes, NULL);
			h->resp_pending = false;
			if (h->state == HTTP_S_CLOSING)
				return HTTP_CLOSE; /* the client has ended */
			h->state = HTTP_S_TUNNEL;
			return HTTP_TUNNEL;
		}
		if (h->resp_status >= 100 && h->resp_status < 200)
			continue; /* interim (100 Continue): still pending */
		http_resp_finished(h);
		if (h->cur.close || !h->resp_keepalive ||
		    h->state == HTTP_S_CLOSING) {
			h->state = HTTP_S_CLOSING;
			return HTTP_CLOSE;
		}
		if (h->state == HTTP_S_WAIT || h->state == HTTP_S_UPGRADE)
			http_await_head(h);
	}
	return HTTP_CONTINUE;
}

void http_backend_failed(struct http_conn *h, bool timeout, const char *reason,
			 struct evbuffer *client)
{
	int status = timeout ? 504 : 502;
	char msg[512];
	size_t n;

	/* An interim 100 Continue does not count: a final response can
	 * still follow it. */
	if (!h->resp_pending || h->resp_head_done) {
		log_info("access client=%s backend=%s: %s", http_client_addr(h),
			 h->peer && h->peer->backend ? h->peer->backend : "-",
			 reason ? reason : "backend failed");
		if (h->resp_pending && h->resp_head_done)
			http_log_access(h, h->resp_status, h->resp_bytes,
					reason);
		h->resp_pending = false;
		h->state = HTTP_S_CLOSING;
		return;
	}
	if (timeout)
		snprintf(msg, sizeof(msg),
			 "The web server behind %s did not answer in time.",
			 h->svc->fqdn);
	else
		snprintf(msg, sizeof(msg),
			 "The web server behind %s is not available right now.",
			 h->svc->fqdn);
	n = http_write_page(client, status, msg, NULL, true,
			    h->cur.head_method);
	http_log_access(h, status, n, reason ? reason : "backend failed");
	h->resp_pending = false;
	h->nrequests++;
	h->state = HTTP_S_CLOSING;
}

void http_head_timeout(struct http_conn *h, struct evbuffer *client)
{
	if (h->state == HTTP_S_HEAD && (h->scan.pos > 0 || h->nrequests == 0)) {
		http_cur_head_phase(h);
		(void)http_fail(h, client, 408, "request head timeout");
	}
	h->state = HTTP_S_CLOSING;
}

bool http_awaiting_head(const struct http_conn *h)
{
	return h->state == HTTP_S_HEAD;
}

bool http_response_pending(const struct http_conn *h)
{
	return h->resp_pending;
}

bool http_request_incomplete(const struct http_conn *h)
{
	return h->cur.body_open;
}

size_t http_client_eof(struct http_conn *h, struct evbuffer *from)
{
	size_t n;

	if (h->state == HTTP_S_TUNNEL)
		return 0; /* raw bytes: the caller relays them */
	n = evbuffer_get_length(from);
	evbuffer_drain(from, n);
	if (h->client_eof)
		return n;
	h->client_eof = true;
	if (h->state == HTTP_S_BODY && h->resp_pending) {
		/* The body will never end: the backend connection cannot be
		 * used again (http_request_incomplete). */
		http_log_access(h, h->resp_head_done ? h->resp_status : 499,
				h->resp_bytes, "request aborted by the client");
		h->resp_pending = false;
		h->nrequests++;
	} else if (h->state == HTTP_S_BODY) {
		log_info("access client=%s: the client ended before the body "
			 "of its answered request; closing",
			 http_client_addr(h));
	}
	h->state = HTTP_S_CLOSING;
	return n;
}

bool http_backend_eof(struct http_conn *h)
{
	if (!h->resp_pending || !h->resp_head_done)
		return !h->resp_pending;
	/* Length 0 tells the parser the stream ended: a response delimited
	 * by the close completes (on_message_complete). */
	http_parser_execute(&h->resp_parser, &http_resp_settings, NULL, 0);
	if (!h->resp_paused_end)
		return false;
	h->resp_paused_end = false;
	http_parser_pause(&h->resp_parser, 0);
	h->resp_head_done = false;
	http_resp_finished(h);
	h->state = HTTP_S_CLOSING;
	return true;
}

bool http_response_cut(const struct http_conn *h)
{
	return h->resp_cut;
}
