/* http_reply.c — what edge443 says itself: pages, redirects, access log.
 *
 * The responses this module writes without a backend (error pages for
 * requests it rejects, 404/421 for what is not published, 502/504 pages,
 * the 301 of the plain-HTTP redirect listener) and the one access-log line
 * per request.  Everything from the client that reaches a page or a log
 * line is escaped here.
 *
 * It decides no rule and parses no request it forwards: http.c calls in
 * here once it has decided what to answer; http_redirect only reads the
 * request line of a plain-HTTP request to build its Location.
 */
#include "edge443/http/http_reply.h"
#include "edge443/http/http.h"
#include "edge443/http/http_check.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edge443/base/log.h"

/* ---- access log -------------------------------------------------------- */

/* Copy attacker bytes for a log line: printable ASCII except '"' and '\'
 * kept, the rest as %XX, cut at HTTP_LOG_MAX. */
void http_log_copy(char *dst, size_t cap, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 4 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c > 0x20 && c < 0x7f && c != '"' && c != '\\') {
			dst[o++] = (char)c;
		} else {
			snprintf(dst + o, cap - o, "%%%02X", c);
			o += 3;
		}
	}
	dst[o] = '\0';
}

static long long http_ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - t->tv_sec) * 1000 +
	       (now.tv_nsec - t->tv_nsec) / 1000000;
}

void http_log_access(struct http_conn *h, int status, uint64_t bytes,
		     const char *reason)
{
	const struct http_peer *p = h->peer;
	const char *method = h->cur.method[0] ? h->cur.method : "-";
	const char *target = h->cur.target[0] ? h->cur.target : "-";
	const char *host = h->cur.host[0] ? h->cur.host : "-";
	/* Only a request that went to the backend names it: our own answers
	 * (404, 421, 400 to a head) say backend=-. */
	const char *backend =
		h->cur.forwarded && p && p->backend ? p->backend : "-";
	char why[512];

	if (p && p->responses)
		atomic_fetch_add(&p->responses[status >= 100 && status < 600
						       ? status / 100
						       : 0],
				 1);
	if (!log_enabled(LOG_LEVEL_INFO))
		return;
	log_info("access client=%s host=%s \"%s %s HTTP/1.%d\" status=%d "
		 "bytes=%" PRIu64 " ms=%lld backend=%s tls=%s%s%s%s",
		 http_client_addr(h), host, method, target, h->cur.minor,
		 status, bytes, http_ms_since(&h->cur.start), backend,
		 p && p->tls_version ? p->tls_version : "-",
		 reason ? " reason=\"" : "",
		 reason ? log_quoted(why, sizeof(why), reason) : "",
		 reason ? "\"" : "");
}

/* Append S HTML-escaped. */
static void http_html_escape(struct evbuffer *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '&')
			evbuffer_add(b, "&amp;", 5);
		else if (c == '<')
			evbuffer_add(b, "&lt;", 4);
		else if (c == '>')
			evbuffer_add(b, "&gt;", 4);
		else if (c == '"')
			evbuffer_add(b, "&quot;", 6);
		else if (c == '\'')
			evbuffer_add(b, "&#39;", 5);
		else if (c < 0x20 || c >= 0x7f)
			evbuffer_add_printf(b, "%%%02X", c);
		else
			evbuffer_add(b, s, 1);
	}
}

static const char *http_reason_phrase(int status)
{
	switch (status) {
	case 301:
		return "Moved Permanently";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 417:
		return "Expectation Failed";
	case 421:
		return "Misdirected Request";
	case 431:
		return "Request Header Fields Too Large";
	case 502:
		return "Bad Gateway";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Error";
	}
}

/* Write a complete response of our own to OUT: a short HTML page saying
 * MSG (escaped) — and an optional EXTRA header line ("Location: ...\r\n").
 * NOBODY: a response to HEAD (Content-Length stays, the body goes).
 * Returns the bytes written. */
size_t http_write_page(struct evbuffer *out, int status, const char *msg,
		       const char *extra, bool close, bool nobody)
{
	struct evbuffer *body = evbuffer_new();
	size_t before = evbuffer_get_length(out);
	const char *phrase = http_reason_phrase(status);

	if (body == NULL)
		return 0;
	evbuffer_add_printf(body,
			    "<!DOCTYPE html>\n<html><head><title>%d %s</title>"
			    "</head><body><h1>%d %s</h1><p>",
			    status, phrase, status, phrase);
	http_html_escape(body, msg);
	evbuffer_add_printf(body, "</p></body></html>\n");
	evbuffer_add_printf(out,
			    "HTTP/1.1 %d %s\r\nContent-Type: text/html; "
			    "charset=utf-8\r\nContent-Length: %zu\r\n"
			    "Cache-Control: no-store\r\n%s%s\r\n",
			    status, phrase, evbuffer_get_length(body),
			    extra ? extra : "",
			    close ? "Connection: close\r\n" : "");
	if (!nobody)
		evbuffer_add_buffer(out, body);
	evbuffer_free(body);
	return evbuffer_get_length(out) - before;
}

/* An error of the client's: page to CLIENT, access line, close. */
enum http_action http_fail(struct http_conn *h, struct evbuffer *client,
			   int status, const char *why)
{
	const char *msg;
	size_t n;

	switch (status) {
	case 408:
		msg = "The request did not arrive in time.";
		break;
	case 431:
		msg = "The request header is too large.";
		break;
	case 405:
		msg = "This method is not allowed here.";
		break;
	case 417:
		msg = "Only \"Expect: 100-continue\" is supported.";
		break;
	case 505:
		msg = "Only HTTP/1.0 and HTTP/1.1 are supported.";
		break;
	default:
		msg = "The request is malformed.";
		break;
	}
	n = http_write_page(client, status, msg, NULL, true,
			    h->cur.head_method);
	http_log_access(h, status, n, why);
	h->nrequests++;
	h->state = HTTP_S_CLOSING;
	return HTTP_CLOSE;
}

/* Answer the request here (404, 421): keeps the connection when the body
 * can be read and dropped. */
enum http_action http_answer_local(struct http_conn *h,
				   const struct http_facts *x,
				   struct evbuffer *client, int status,
				   const char *msg, const char *why)
{
	bool body = x->chunked || (x->has_cl && x->cl > 0);
	/* The client may hold its body back for a 100 that never comes:
	 * close rather than guess whether it will still send it. */
	bool close = h->cur.close || (body && x->expect_continue);
	size_t n = http_write_page(client, status, msg, NULL, close,
				   h->cur.head_method);

	http_log_access(h, status, n, why);
	h->nrequests++;
	if (close) {
		h->state = HTTP_S_CLOSING;
		return HTTP_CLOSE;
	}
	h->body_to = NULL;
	if (h->req_end)
		http_await_head(h);
	else
		h->state = HTTP_S_DISCARD;
	return HTTP_CONTINUE;
}

/* ---- the redirect listener --------------------------------------------- */

static int http_redir_url_cb(http_parser *p, const char *at, size_t n)
{
	struct evbuffer *url = p->data;

	evbuffer_add(url, at, n);
	return 0;
}

static int http_redir_headers_cb(http_parser *p)
{
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings http_redir_settings = {
	.on_url = http_redir_url_cb,
	.on_headers_complete = http_redir_headers_cb,
};

/* Append the origin-form part of URL (path?query, "/" when it has none) to
 * LOC, percent-encoding anything outside printable ASCII. */
static void http_redir_target(struct evbuffer *loc, const char *u, size_t n)
{
	struct http_parser_url pu;
	size_t off = 0;

	if (n == 0 || u[0] != '/') {
		http_parser_url_init(&pu);
		if (n == 0 || http_parser_parse_url(u, n, 0, &pu) != 0 ||
		    !(pu.field_set & (1 << UF_SCHEMA)) ||
		    !(pu.field_set & (1 << UF_PATH))) {
			evbuffer_add(loc, "/", 1);
			return;
		}
		off = pu.field_data[UF_PATH].off;
	}
	for (size_t i = off; i < n; i++) {
		unsigned char c = (unsigned char)u[i];

		if (c == '#')
			break;
		if (c > 0x20 && c < 0x7f && c != '"' && c != '<' && c != '>' &&
		    c != '\\')
			evbuffer_add(loc, &u[i], 1);
		else
			evbuffer_add_printf(loc, "%%%02X", c);
	}
}

enum http_action http_redirect(const struct config_service *svc,
			       struct evbuffer *from, struct evbuffer *to,
			       int *status)
{
	struct http_scan s;
	http_parser p;
	struct evbuffer *url = NULL, *loc = NULL;
	unsigned char *head;
	size_t used;
	enum http_errno err;
	int r;

	*status = 0;
	memset(&s, 0, sizeof(s));
	r = http_scan_from(&s, from);
	if (r == 0)
		return HTTP_CONTINUE;
	if (r < 0) {
		*status = s.status;
		http_write_page(to, s.status, "The request is malformed.", NULL,
				true, false);
		return HTTP_CLOSE;
	}
	head = evbuffer_pullup(from, (ev_ssize_t)s.pos);
	url = evbuffer_new();
	loc = evbuffer_new();
	if (head == NULL || url == NULL || loc == NULL)
		goto bad;
	http_parser_init(&p, HTTP_REQUEST);
	p.data = url;
	used = http_parser_execute(&p, &http_redir_settings, (const char *)head,
				   s.pos);
	err = HTTP_PARSER_ERRNO(&p);
	if (err != HPE_PAUSED || used + 1 != s.pos || p.http_major != 1 ||
	    p.method == HTTP_CONNECT)
		goto bad;
	evbuffer_add_printf(loc, "https://%s", svc->fqdn);
	if (svc->nlisten > 0 && svc->listen[0].port != 443)
		evbuffer_add_printf(loc, ":%d", svc->listen[0].port);
	http_redir_target(loc, (const char *)evbuffer_pullup(url, -1),
			  evbuffer_get_length(url));
	{
		size_t ll = evbuffer_get_length(loc);
		char *shown = malloc(ll + 1), *extra = malloc(ll + 16);

		if (shown == NULL || extra == NULL) {
			free(shown);
			free(extra);
			goto bad;
		}
		evbuffer_copyout(loc, shown, ll);
		shown[ll] = '\0';
		snprintf(extra, ll + 16, "Location: %s\r\n", shown);
		/* The page shows the URL too (escaped once more as HTML). */
		*status = 301;
		http_write_page(to, 301, shown, extra, true,
				p.method == HTTP_HEAD);
		*status = 301;
		free(shown);
		free(extra);
	}
	evbuffer_drain(from, s.pos);
	evbuffer_free(url);
	evbuffer_free(loc);
	return HTTP_CLOSE;
bad:
	if (url)
		evbuffer_free(url);
	if (loc)
		evbuffer_free(loc);
	*status = 400;
	http_write_page(to, 400, "The request is malformed.", NULL, true,
			false);
	*status = 400;
	return HTTP_CLOSE;
}
