/* http.c — HTTP/1.1 publishing rules on one client connection.
 *
 * This module turns the client's decrypted bytes into re-serialised requests
 * for the backend and follows the backend's responses back.  Requests are
 * parsed by Debian's http-parser; because that parser is lenient (bare LF,
 * obs-fold, whitespace before ':', sloppy chunk framing), every request head
 * and every chunked body is first checked by a strict lexical scanner here
 * (http_scan_*, http_chunk_*) that only validates line structure and never
 * decides meaning: any disagreement is a 400 and the connection closes.
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
#include "edge443/http.h"

#include <http_parser.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "edge443/log.h"

#define HTTP_MAX_RESP_HEAD (64 * 1024) /* a longer response head is a 502 */
#define HTTP_LOG_MAX 256 /* bytes of a client string kept in a log line */
#define HTTP_MAX_CHUNK_DIGITS 15 /* hex digits of a chunk size (< 2^60) */
#define HTTP_MAX_CL_DIGITS 18	 /* decimal digits of a Content-Length */

/* ---- strict lexical scan of a request head ----------------------------- */

/* Line structure of a request head (RFC 9112 §2.2, §5): CRLF only, no NUL or
 * other control byte, no obs-fold, a token name right before ':'.  Leading
 * empty lines before the request line are allowed (RFC 9112 §2.2). */
enum http_scan_state {
	HTTP_SCAN_LEAD,	      /* before the request line */
	HTTP_SCAN_LEAD_LF,    /* CR of a leading empty line seen */
	HTTP_SCAN_REQLINE,    /* in the request line */
	HTTP_SCAN_REQLINE_LF, /* CR ending the request line seen */
	HTTP_SCAN_LINE,	      /* at the start of a field line (or the end) */
	HTTP_SCAN_NAME,	      /* in a field name */
	HTTP_SCAN_VALUE,      /* after ':' */
	HTTP_SCAN_VALUE_LF,   /* CR ending a field line seen */
	HTTP_SCAN_END_LF,     /* CR of the empty line seen */
	HTTP_SCAN_DONE,
};

struct http_scan {
	enum http_scan_state state;
	size_t pos;	/* bytes of the input scanned so far */
	size_t nfields; /* field lines seen */
	int status;	/* on error: 400 or 431 */
	const char *why;
};

static int http_is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int http_scan_error(struct http_scan *s, int status, const char *why)
{
	s->status = status;
	s->why = why;
	return -1;
}

/* Scan N more bytes.  Returns 1 when the head ended (s->pos is then its
 * length, counted from the first byte ever scanned), 0 when more bytes are
 * needed, -1 on a violation (s->status, s->why). */
static int http_scan_bytes(struct http_scan *s, const unsigned char *p,
			   size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (s->pos >= HTTP_MAX_HEAD)
			return http_scan_error(s, 431,
					       "request head too large");
		s->pos++;
		switch (s->state) {
		case HTTP_SCAN_LEAD:
			if (c == '\r') {
				s->state = HTTP_SCAN_LEAD_LF;
				break;
			}
			if (c <= 0x20 || c >= 0x7f)
				return http_scan_error(
					s, 400, "bad byte before request line");
			s->state = HTTP_SCAN_REQLINE;
			break;
		case HTTP_SCAN_LEAD_LF:
			if (c != '\n')
				return http_scan_error(s, 400, "bare CR");
			s->state = HTTP_SCAN_LEAD;
			break;
		case HTTP_SCAN_REQLINE:
			if (c == '\r')
				s->state = HTTP_SCAN_REQLINE_LF;
			else if (c == '\n')
				return http_scan_error(s, 400, "bare LF");
			else if ((c < 0x20 || c >= 0x7f))
				return http_scan_error(s, 400,
						       "control or non-ASCII "
						       "byte in request line");
			break;
		case HTTP_SCAN_REQLINE_LF:
		case HTTP_SCAN_VALUE_LF:
			if (c != '\n')
				return http_scan_error(s, 400, "bare CR");
			s->state = HTTP_SCAN_LINE;
			break;
		case HTTP_SCAN_LINE:
			if (c == '\r') {
				s->state = HTTP_SCAN_END_LF;
				break;
			}
			if (c == ' ' || c == '\t')
				return http_scan_error(s, 400, "obs-fold");
			if (c == ':')
				return http_scan_error(s, 400,
						       "empty field name");
			if (!http_is_tchar(c))
				return http_scan_error(s, 400,
						       "bad field name");
			if (++s->nfields > HTTP_MAX_HEADERS)
				return http_scan_error(
					s, 431, "too many header fields");
			s->state = HTTP_SCAN_NAME;
			break;
		case HTTP_SCAN_NAME:
			if (c == ':')
				s->state = HTTP_SCAN_VALUE;
			else if (c == ' ' || c == '\t')
				return http_scan_error(
					s, 400, "whitespace before colon");
			else if (!http_is_tchar(c))
				return http_scan_error(s, 400,
						       "bad field name");
			break;
		case HTTP_SCAN_VALUE:
			if (c == '\r')
				s->state = HTTP_SCAN_VALUE_LF;
			else if (c == '\n')
				return http_scan_error(s, 400, "bare LF");
			else if ((c < 0x20 && c != '\t') || c == 0x7f)
				return http_scan_error(
					s, 400, "control byte in field value");
			break;
		case HTTP_SCAN_END_LF:
			if (c != '\n')
				return http_scan_error(s, 400, "bare CR");
			s->state = HTTP_SCAN_DONE;
			return 1;
		case HTTP_SCAN_DONE:
			return 1;
		}
	}
	return 0;
}

/* Scan what FROM holds past s->pos (the head stays in FROM until whole). */
static int http_scan_from(struct http_scan *s, struct evbuffer *from)
{
	struct evbuffer_ptr ptr;
	struct evbuffer_iovec v[4];

	while (s->pos < evbuffer_get_length(from)) {
		int nv, r;

		if (evbuffer_ptr_set(from, &ptr, s->pos, EVBUFFER_PTR_SET) < 0)
			return http_scan_error(s, 400, "internal buffer error");
		nv = evbuffer_peek(from, -1, &ptr, v, 4);
		if (nv > 4)
			nv = 4;
		for (int i = 0; i < nv; i++) {
			r = http_scan_bytes(s, v[i].iov_base, v[i].iov_len);
			if (r != 0)
				return r;
		}
		if (nv <= 0)
			break;
	}
	return 0;
}

/* ---- strict lexical scan of a chunked body ------------------------------ */

enum http_chunk_state {
	HTTP_CHUNK_SIZE0,   /* first hex digit of a chunk size */
	HTTP_CHUNK_SIZE,    /* more hex digits, ';' or CR */
	HTTP_CHUNK_EXT,	    /* chunk extension up to CR (ignored, dropped) */
	HTTP_CHUNK_SIZE_LF, /* LF after the size line */
	HTTP_CHUNK_DATA,    /* REMAIN bytes of data */
	HTTP_CHUNK_DATA_CR, /* CR after the data */
	HTTP_CHUNK_DATA_LF,
	HTTP_CHUNK_TRAILER0, /* start of a trailer line or the final CRLF */
	HTTP_CHUNK_TRAILER,
	HTTP_CHUNK_TRAILER_LF,
	HTTP_CHUNK_END_LF,
	HTTP_CHUNK_DONE,
};

struct http_chunk {
	enum http_chunk_state state;
	uint64_t remain; /* size being read, then data bytes left */
	int digits;
	size_t trailer; /* bytes of trailer lines (capped like a head) */
};

static int http_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Scan up to N bytes of chunked framing.  Returns the number of bytes that
 * belong to the body (N, or fewer when the body ended inside), or -1 on a
 * framing error. */
static long http_chunk_bytes(struct http_chunk *k, const unsigned char *p,
			     size_t n)
{
	size_t i = 0;

	while (i < n && k->state != HTTP_CHUNK_DONE) {
		unsigned char c = p[i];
		int hv;

		if (k->state == HTTP_CHUNK_DATA) {
			size_t take = n - i;

			if (take > k->remain)
				take = (size_t)k->remain;
			k->remain -= take;
			i += take;
			if (k->remain == 0)
				k->state = HTTP_CHUNK_DATA_CR;
			continue;
		}
		i++;
		switch (k->state) {
		case HTTP_CHUNK_SIZE0:
		case HTTP_CHUNK_SIZE:
			hv = http_hexval(c);
			if (hv >= 0) {
				if (++k->digits > HTTP_MAX_CHUNK_DIGITS)
					return -1;
				k->remain = k->remain * 16 + (uint64_t)hv;
				k->state = HTTP_CHUNK_SIZE;
			} else if (k->state == HTTP_CHUNK_SIZE0) {
				return -1;
			} else if (c == ';') {
				k->state = HTTP_CHUNK_EXT;
			} else if (c == '\r') {
				k->state = HTTP_CHUNK_SIZE_LF;
			} else {
				return -1;
			}
			break;
		case HTTP_CHUNK_EXT:
			if (c == '\r')
				k->state = HTTP_CHUNK_SIZE_LF;
			else if ((c < 0x20 && c != '\t') || c == 0x7f)
				return -1;
			break;
		case HTTP_CHUNK_SIZE_LF:
			if (c != '\n')
				return -1;
			k->digits = 0;
			k->state = k->remain ? HTTP_CHUNK_DATA
					     : HTTP_CHUNK_TRAILER0;
			break;
		case HTTP_CHUNK_DATA_CR:
			if (c != '\r')
				return -1;
			k->state = HTTP_CHUNK_DATA_LF;
			break;
		case HTTP_CHUNK_DATA_LF:
			if (c != '\n')
				return -1;
			k->state = HTTP_CHUNK_SIZE0;
			break;
		case HTTP_CHUNK_TRAILER0:
			if (c == '\r') {
				k->state = HTTP_CHUNK_END_LF;
				break;
			}
			if (!http_is_tchar(c))
				return -1;
			k->state = HTTP_CHUNK_TRAILER;
			break;
		case HTTP_CHUNK_TRAILER:
			if (++k->trailer > HTTP_MAX_HEAD)
				return -1;
			if (c == '\r')
				k->state = HTTP_CHUNK_TRAILER_LF;
			else if ((c < 0x20 && c != '\t') || c == 0x7f)
				return -1;
			break;
		case HTTP_CHUNK_TRAILER_LF:
			if (c != '\n')
				return -1;
			k->state = HTTP_CHUNK_TRAILER0;
			break;
		case HTTP_CHUNK_END_LF:
			if (c != '\n')
				return -1;
			k->state = HTTP_CHUNK_DONE;
			break;
		case HTTP_CHUNK_DATA:
		case HTTP_CHUNK_DONE:
			break;
		}
	}
	return (long)i;
}

/* ---- the connection ---------------------------------------------------- */

/* Where the client side is.  Invariant: HEAD is the only state in which a
 * request head is read, and it is entered only when no response is
 * outstanding (resp_pending false). */
enum http_state {
	HTTP_S_HEAD,	/* awaiting or reading a request head */
	HTTP_S_BODY,	/* streaming a request body to the backend */
	HTTP_S_DISCARD, /* reading and dropping the body of a request we
			 * answered ourselves (404/421) */
	HTTP_S_WAIT,	/* request sent whole; waiting for its response */
	HTTP_S_UPGRADE, /* upgrade request sent; client bytes stay in FROM
			 * until the backend answered */
	HTTP_S_CLOSING, /* nothing more is read; the caller closes */
	HTTP_S_TUNNEL,	/* 101 seen: raw relay, this module is done */
};

/* One header field of the head being parsed; points into h->head. */
struct http_field {
	const char *name, *value;
	size_t namelen, valuelen;
};

/* The request being served (one at a time). */
struct http_req {
	char method[24];
	char target[HTTP_LOG_MAX +
		    1];		     /* path for the log (sanitised, capped) */
	char host[HTTP_LOG_MAX + 1]; /* client's Host for the log */
	int minor;		     /* HTTP/1.MINOR */
	bool head_method;
	bool upgrade;
	bool close; /* last request on the connection (client asked, or 1.0) */
	bool chunked;
	struct timespec start;
};

struct http_conn {
	const struct config_service *svc;
	char **names;
	size_t nnames;
	char *backend_name;
	const struct http_peer *peer;

	enum http_state state;
	http_parser req_parser;
	struct http_scan scan;
	struct http_chunk chunk;
	char *head; /* copy of the head being parsed (NULL otherwise) */
	bool in_head;
	bool req_end; /* request parser paused at message end */
	struct http_field fields[HTTP_MAX_HEADERS];
	size_t nfields;
	bool field_overflow;
	const char *url;
	size_t urllen;
	struct evbuffer *body_to; /* where body callbacks write (NULL: drop) */
	struct http_req cur;
	unsigned long nrequests; /* requests finished or answered */

	http_parser resp_parser;
	struct evbuffer *resp_stage; /* head of the current response */
	bool resp_pending; /* a forwarded request awaits its final response */
	bool resp_head_done;
	bool resp_paused_head, resp_paused_end;
	bool resp_keepalive;
	bool resp_bad101;
	int resp_status;
	uint64_t resp_bytes;
};

/* ---- small helpers ----------------------------------------------------- */

static bool http_eq(const char *a, size_t alen, const char *b)
{
	return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

/* Copy attacker bytes for a log line: printable ASCII except '"' and '\'
 * kept, the rest as %XX, cut at HTTP_LOG_MAX. */
static void http_log_copy(char *dst, size_t cap, const char *s, size_t n)
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

static void http_log_access(struct http_conn *h, int status, uint64_t bytes,
			    const char *reason)
{
	const struct http_peer *p = h->peer;
	const char *method = h->cur.method[0] ? h->cur.method : "-";
	const char *target = h->cur.target[0] ? h->cur.target : "-";
	const char *host = h->cur.host[0] ? h->cur.host : "-";

	log_info("access client=%s host=%s \"%s %s HTTP/1.%d\" status=%d "
		 "bytes=%" PRIu64 " ms=%lld backend=%s tls=%s%s%s%s",
		 p && p->client_addr ? p->client_addr : "-", host, method,
		 target, h->cur.minor, status, bytes,
		 http_ms_since(&h->cur.start),
		 p && p->backend ? p->backend : "-",
		 p && p->tls_version ? p->tls_version : "-",
		 reason ? " reason=\"" : "", reason ? reason : "",
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
static size_t http_write_page(struct evbuffer *out, int status, const char *msg,
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
static enum http_action http_fail(struct http_conn *h, struct evbuffer *client,
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
		evbuffer_add_printf(h->body_to, "%zx\r\n", n);
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
	clock_gettime(CLOCK_MONOTONIC, &h->cur.start);
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
	/* A response delimited by the backend closing ends here. */
	if (h->resp_pending && h->resp_head_done)
		http_log_access(h, h->resp_status, h->resp_bytes, NULL);
	for (size_t i = 0; i < h->nnames; i++)
		free(h->names[i]);
	free(h->names);
	free(h->backend_name);
	free(h->head);
	if (h->resp_stage)
		evbuffer_free(h->resp_stage);
	free(h);
}

/* ---- the publishing rules ---------------------------------------------- */

/* Split a Host value into name and port ("" when absent).  -1 when it is not
 * a plain host name with an optional numeric port. */
static int http_host_split(const char *v, size_t n, size_t *namelen,
			   const char **port, size_t *portlen)
{
	size_t i = 0;

	while (i < n && v[i] != ':') {
		unsigned char c = (unsigned char)v[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_'))
			return -1;
		i++;
	}
	if (i == 0)
		return -1;
	*namelen = i;
	*port = v + i;
	*portlen = 0;
	if (i < n) {
		*port = v + i + 1;
		*portlen = n - i - 1;
		if (*portlen == 0 || *portlen > 5)
			return -1;
		for (size_t j = 0; j < *portlen; j++)
			if ((*port)[j] < '0' || (*port)[j] > '9')
				return -1;
	}
	return 0;
}

/* Does NAME (without port, maybe with one trailing dot) equal PATTERN, a
 * DNS name or a "*.rest" wildcard of one label? */
static bool http_name_match(const char *name, size_t n, const char *pattern)
{
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (http_eq(name, n, pattern))
		return true;
	if (pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = memchr(name, '.', n);

		return dot != NULL && dot != name &&
		       http_eq(dot + 1, n - (size_t)(dot + 1 - name),
			       pattern + 2);
	}
	return false;
}

static bool http_host_ok(const struct http_conn *h, const char *name, size_t n,
			 const char *port, size_t portlen)
{
	bool named = http_name_match(name, n, h->svc->fqdn);

	for (size_t i = 0; !named && i < h->nnames; i++)
		named = http_name_match(name, n, h->names[i]);
	if (!named)
		return false;
	if (portlen == 0)
		return true;
	int p = atoi(port); /* digits only, at most 5 (http_host_split) */
	if (p == 443)
		return true;
	for (size_t i = 0; i < h->svc->nlisten; i++)
		if (h->svc->listen[i].port == p)
			return true;
	return false;
}

/* A path a prefix check can trust: no backslash, no dot segment, no encoded
 * dot, slash, backslash or NUL (the backend would decode them after our
 * check). */
static bool http_path_safe(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\\' || p[i] == '#')
			return false;
		if (p[i] == '%') {
			if (i + 2 >= n)
				return false;
			if (http_hexval((unsigned char)p[i + 1]) < 0 ||
			    http_hexval((unsigned char)p[i + 2]) < 0)
				return false;
			if (strncasecmp(p + i, "%2e", 3) == 0 ||
			    strncasecmp(p + i, "%2f", 3) == 0 ||
			    strncasecmp(p + i, "%5c", 3) == 0 ||
			    strncmp(p + i, "%00", 3) == 0)
				return false;
		}
		if (p[i] == '/') {
			size_t j = i + 1;
			size_t dots = 0;

			while (j < n && p[j] == '.') {
				dots++;
				j++;
			}
			if ((dots == 1 || dots == 2) && (j == n || p[j] == '/'))
				return false;
		}
	}
	return true;
}

/* Is PATH (no query) under one of the published prefixes?  Case-sensitive
 * (a case-sensitive backend must not see more than was published); a prefix
 * not ending in '/' matches whole segments only ("/owa" matches "/owa" and
 * "/owa/x", not "/owax"). */
static bool http_path_allowed(const struct http_conn *h, const char *p,
			      size_t n)
{
	const struct config_http *c = &h->svc->http;

	if (c->npaths == 0)
		return true;
	for (size_t i = 0; i < c->npaths; i++) {
		size_t m = strlen(c->paths[i]);

		if (m > n || memcmp(p, c->paths[i], m) != 0)
			continue;
		if (m == n || (m > 0 && c->paths[i][m - 1] == '/') ||
		    p[m] == '/')
			return true;
	}
	return false;
}

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
	static const char *const drop[] = {
		"connection",
		"keep-alive",
		"proxy-connection",
		"te",
		"trailer",
		"upgrade",
		"transfer-encoding",
		"content-length",
		"host",
		"x-forwarded-for",
		"x-forwarded-proto",
		"x-forwarded-host",
		"forwarded",
	};

	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (http_eq(f->name, f->namelen, drop[i]))
			return true;
	return false;
}

/* What the head's fields say, checked (RFC 9112 §6, PITFALLS). */
struct http_facts {
	const struct http_field *host;
	const struct http_field *upgrade;
	bool has_cl;
	uint64_t cl;
	bool chunked;
	bool expect_continue;
	const char *why; /* set when the head is rejected */
	int status;
};

static int http_facts_fail(struct http_facts *x, int status, const char *why)
{
	x->status = status;
	x->why = why;
	return -1;
}

static void http_trim(struct http_field *f)
{
	if (f->value == NULL) {
		f->value = f->name + f->namelen; /* empty value */
		f->valuelen = 0;
	}
	while (f->valuelen > 0 && (f->value[f->valuelen - 1] == ' ' ||
				   f->value[f->valuelen - 1] == '\t'))
		f->valuelen--;
	while (f->valuelen > 0 && (f->value[0] == ' ' || f->value[0] == '\t')) {
		f->value++;
		f->valuelen--;
	}
}

static int http_facts_get(struct http_conn *h, struct http_facts *x)
{
	size_t nhost = 0, ncl = 0, nte = 0;

	memset(x, 0, sizeof(*x));
	for (size_t i = 0; i < h->nfields; i++) {
		struct http_field *f = &h->fields[i];

		http_trim(f);
		if (http_eq(f->name, f->namelen, "host")) {
			nhost++;
			x->host = f;
		} else if (http_eq(f->name, f->namelen, "content-length")) {
			if (++ncl > 1)
				return http_facts_fail(
					x, 400, "repeated Content-Length");
			if (f->valuelen == 0 ||
			    f->valuelen > HTTP_MAX_CL_DIGITS)
				return http_facts_fail(x, 400,
						       "bad Content-Length");
			x->cl = 0;
			for (size_t j = 0; j < f->valuelen; j++) {
				if (f->value[j] < '0' || f->value[j] > '9')
					return http_facts_fail(
						x, 400, "bad Content-Length");
				x->cl = x->cl * 10 +
					(uint64_t)(f->value[j] - '0');
			}
			x->has_cl = true;
		} else if (http_eq(f->name, f->namelen, "transfer-encoding")) {
			nte++;
			if (!http_eq(f->value, f->valuelen, "chunked"))
				return http_facts_fail(
					x, 400,
					"Transfer-Encoding other than chunked");
			x->chunked = true;
		} else if (http_eq(f->name, f->namelen, "expect")) {
			if (!http_eq(f->value, f->valuelen, "100-continue"))
				return http_facts_fail(x, 417,
						       "unsupported Expect");
			x->expect_continue = true;
		} else if (http_eq(f->name, f->namelen, "upgrade")) {
			if (x->upgrade != NULL)
				return http_facts_fail(x, 400,
						       "repeated Upgrade");
			x->upgrade = f;
		}
	}
	if (nhost != 1)
		return http_facts_fail(
			x, 400, nhost ? "more than one Host" : "no Host");
	if (nte > 1)
		return http_facts_fail(x, 400, "repeated Transfer-Encoding");
	if (nte > 0 && h->req_parser.http_minor == 0)
		return http_facts_fail(x, 400, "Transfer-Encoding on HTTP/1.0");
	if (nte > 0 && ncl > 0)
		return http_facts_fail(x, 400,
				       "Content-Length with Transfer-Encoding");
	return 0;
}

/* The request target as origin-form (TARGET/TLEN: what we forward; PATH/PLEN:
 * the path part).  Absolute-form must name the Host.  -1 = 400 (WHY). */
static int http_target(struct http_conn *h, const struct http_facts *x,
		       const char **target, size_t *tlen, const char **path,
		       size_t *plen, const char **why)
{
	const char *u = h->url;
	size_t n = h->urllen;

	*why = "bad request target";
	if (n == 0)
		return -1;
	if (n == 1 && u[0] == '*') {
		if (h->req_parser.method != HTTP_OPTIONS)
			return -1;
		*target = *path = u;
		*tlen = *plen = 1;
		return 0;
	}
	if (u[0] != '/') {
		struct http_parser_url pu;
		size_t hl = 0, pl = 0, hpl = 0;
		const char *hp, *pp;

		if (!(n > 7 && strncasecmp(u, "http://", 7) == 0) &&
		    !(n > 8 && strncasecmp(u, "https://", 8) == 0))
			return -1;
		http_parser_url_init(&pu);
		if (http_parser_parse_url(u, n, 0, &pu) != 0 ||
		    !(pu.field_set & (1 << UF_HOST)) ||
		    (pu.field_set & (1 << UF_USERINFO)) ||
		    (pu.field_set & (1 << UF_FRAGMENT)))
			return -1;
		/* Compare authority with Host: name case-insensitively, port
		 * as written. */
		hp = u + pu.field_data[UF_HOST].off;
		hl = pu.field_data[UF_HOST].len;
		if (http_host_split(x->host->value, x->host->valuelen, &pl, &pp,
				    &hpl) < 0 ||
		    pl != hl || strncasecmp(hp, x->host->value, hl) != 0) {
			*why = "absolute-form target disagrees with Host";
			return -1;
		}
		if (pu.field_set & (1 << UF_PORT)) {
			const char *up = u + pu.field_data[UF_PORT].off;
			size_t ul = pu.field_data[UF_PORT].len;

			if (ul != hpl || memcmp(up, pp, hpl) != 0) {
				*why = "absolute-form target disagrees with "
				       "Host";
				return -1;
			}
		} else if (hpl != 0) {
			*why = "absolute-form target disagrees with Host";
			return -1;
		}
		if (!(pu.field_set & (1 << UF_PATH))) {
			/* "http://host" or "http://host?q": path "/" */
			if (pu.field_set & (1 << UF_QUERY))
				return -1;
			*target = *path = "/";
			*tlen = *plen = 1;
			return 0;
		}
		u += pu.field_data[UF_PATH].off;
		n = h->urllen - pu.field_data[UF_PATH].off;
	}
	*target = u;
	*tlen = n;
	*path = u;
	*plen = n;
	const char *q = memchr(u, '?', n);
	if (q != NULL)
		*plen = (size_t)(q - u);
	if (memchr(u, '#', n) != NULL)
		return -1;
	if (!http_path_safe(u, *plen)) {
		*why = "unsafe path (dot segment, backslash or encoded /.\\)";
		return -1;
	}
	return 0;
}

/* Write the re-serialised head of the request to TO. */
static void http_serialise(struct http_conn *h, const struct http_facts *x,
			   const char *target, size_t tlen, struct evbuffer *to)
{
	const struct http_peer *p = h->peer;

	evbuffer_add_printf(to, "%s ", h->cur.method);
	evbuffer_add(to, target, tlen);
	/* HTTP/1.0 stays 1.0 so the backend never answers it chunked. */
	evbuffer_add_printf(to, " HTTP/1.%d\r\nHost: ", h->cur.minor);
	if (h->svc->http.host_header == CONFIG_HOST_BACKEND)
		evbuffer_add_printf(to, "%s", h->backend_name);
	else
		evbuffer_add(to, x->host->value, x->host->valuelen);
	evbuffer_add(to, "\r\n", 2);
	for (size_t i = 0; i < h->nfields; i++) {
		const struct http_field *f = &h->fields[i];

		if (http_dropped(f) ||
		    http_in_connection(h, f->name, f->namelen))
			continue;
		evbuffer_add(to, f->name, f->namelen);
		evbuffer_add(to, ": ", 2);
		evbuffer_add(to, f->value, f->valuelen);
		evbuffer_add(to, "\r\n", 2);
	}
	evbuffer_add_printf(to, "X-Forwarded-For: %s\r\n",
			    p && p->client_ip ? p->client_ip : "unknown");
	evbuffer_add_printf(to, "X-Forwarded-Proto: https\r\n"
				"X-Forwarded-Host: ");
	evbuffer_add(to, x->host->value, x->host->valuelen);
	evbuffer_add(to, "\r\n", 2);
	if (x->has_cl)
		evbuffer_add_printf(to, "Content-Length: %" PRIu64 "\r\n",
				    x->cl);
	if (x->chunked)
		evbuffer_add_printf(to, "Transfer-Encoding: chunked\r\n");
	if (h->cur.upgrade) {
		evbuffer_add_printf(to, "Connection: Upgrade\r\nUpgrade: ");
		evbuffer_add(to, x->upgrade->value, x->upgrade->valuelen);
		evbuffer_add(to, "\r\n", 2);
	} else if (h->cur.close) {
		evbuffer_add_printf(to, "Connection: close\r\n");
	} else {
		evbuffer_add_printf(to, "Connection: keep-alive\r\n");
	}
	evbuffer_add(to, "\r\n", 2);
}

/* Answer the request here (404, 421): keeps the connection when the body
 * can be read and dropped. */
static enum http_action http_answer_local(struct http_conn *h,
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
	h->state = h->req_end ? HTTP_S_HEAD : HTTP_S_DISCARD;
	return HTTP_CONTINUE;
}

/* The head is whole in FROM (h->scan.pos bytes): parse it, check it, then
 * forward it re-serialised or answer it. */
static enum http_action
http_take_head(struct http_conn *h, struct evbuffer *from, struct evbuffer *to,
	       struct evbuffer *client, bool *need_backend)
{
	size_t n = h->scan.pos, used;
	struct http_facts x;
	const char *target, *path, *why;
	size_t tlen, plen;
	enum http_errno err;
	enum http_action act = HTTP_CONTINUE;
	http_parser *p = &h->req_parser;

	memset(&h->cur, 0, sizeof(h->cur));
	clock_gettime(CLOCK_MONOTONIC, &h->cur.start);
	h->cur.minor = 1;
	free(h->head);
	h->head = malloc(n);
	if (h->head == NULL)
		return http_fail(h, client, 400, "out of memory");
	evbuffer_remove(from, h->head, n);
	memset(&h->scan, 0, sizeof(h->scan));
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
	snprintf(h->cur.method, sizeof(h->cur.method), "%s",
		 http_method_str((enum http_method)p->method));
	h->cur.minor = p->http_minor;
	if (h->url)
		http_log_copy(h->cur.target, sizeof(h->cur.target), h->url,
			      h->urllen);
	for (size_t i = 0; i < h->nfields; i++)
		if (http_eq(h->fields[i].name, h->fields[i].namelen, "host"))
			http_log_copy(h->cur.host, sizeof(h->cur.host),
				      h->fields[i].value ? h->fields[i].value
							 : "",
				      h->fields[i].valuelen);
	if ((err != HPE_OK && err != HPE_PAUSED) || used != n) {
		h->cur.head_method = false;
		act = http_fail(h, client, 400,
				err != HPE_OK && err != HPE_PAUSED
					? http_errno_description(err)
					: "head and parser disagree");
		goto done;
	}
	h->cur.head_method = p->method == HTTP_HEAD;
	if (h->field_overflow) {
		act = http_fail(h, client, 431, "too many header fields");
		goto done;
	}
	if (p->http_major != 1 || p->http_minor > 1) {
		act = http_fail(h, client, 505, "unsupported HTTP version");
		goto done;
	}
	if (p->method == HTTP_CONNECT) {
		act = http_fail(h, client, 405, "CONNECT");
		goto done;
	}
	if (http_facts_get(h, &x) < 0) {
		act = http_fail(h, client, x.status, x.why);
		goto done;
	}
	h->cur.chunked = x.chunked;
	h->cur.close = p->http_minor == 0 || http_in_connection(h, "close", 5);
	h->cur.upgrade = p->upgrade && x.upgrade != NULL;
	if (p->upgrade && (!h->cur.upgrade || p->http_minor == 0 || x.chunked ||
			   (x.has_cl && x.cl > 0) || !h->req_end)) {
		act = http_fail(h, client, 400, "bad upgrade request");
		goto done;
	}
	size_t hn, pn;
	const char *port;
	if (http_host_split(x.host->value, x.host->valuelen, &hn, &port, &pn) <
	    0) {
		act = http_fail(h, client, 400, "malformed Host");
		goto done;
	}
	if (http_target(h, &x, &target, &tlen, &path, &plen, &why) < 0) {
		act = http_fail(h, client, 400, why);
		goto done;
	}
	http_log_copy(h->cur.target, sizeof(h->cur.target), path, plen);
	if (!http_host_ok(h, x.host->value, hn, port, pn)) {
		char msg[HTTP_LOG_MAX * 2];

		snprintf(msg, sizeof(msg),
			 "This server does not publish %s; it publishes %s.",
			 h->cur.host, h->svc->fqdn);
		act = http_answer_local(h, &x, client, 421, msg,
					"Host not served here");
		goto done;
	}
	if (!(plen == 1 && path[0] == '*' && http_path_allowed(h, "/", 1)) &&
	    !http_path_allowed(h, path, plen)) {
		char msg[HTTP_LOG_MAX * 2];

		snprintf(msg, sizeof(msg), "%s is not published on %s.",
			 h->cur.target, h->svc->fqdn);
		act = http_answer_local(h, &x, client, 404, msg,
					"path not published");
		goto done;
	}
	http_serialise(h, &x, target, tlen, to);
	*need_backend = true;
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
		h->body_to = to;
		memset(&h->chunk, 0, sizeof(h->chunk));
	}
done:
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
				h->state = h->resp_pending ? HTTP_S_WAIT
							   : HTTP_S_HEAD;
			} else {
				h->state = HTTP_S_HEAD;
			}
			return 0;
		}
	}
	return 0;
}

enum http_action http_from_client(struct http_conn *h, struct evbuffer *from,
				  struct evbuffer *to, struct evbuffer *client,
				  bool *need_backend)
{
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
				memset(&h->cur, 0, sizeof(h->cur));
				clock_gettime(CLOCK_MONOTONIC, &h->cur.start);
				h->cur.minor = 1;
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
			if (http_take_body(h, from, to, &why) < 0) {
				/* A 400 only while no response byte went out.
				 */
				if (h->resp_pending &&
				    (h->resp_head_done ||
				     evbuffer_get_length(h->resp_stage))) {
					log_info(
						"access client=%s: %s; closing",
						h->peer && h->peer->client_addr
							? h->peer->client_addr
							: "-",
						why);
					h->state = HTTP_S_CLOSING;
					return HTTP_CLOSE;
				}
				h->resp_pending = false;
				return http_fail(h, client, 400, why);
			}
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

static enum http_action http_resp_fail(struct http_conn *h, struct evbuffer *to,
				       const char *why)
{
	int status = 0;
	size_t n = 0;

	if (!h->resp_head_done && h->resp_bytes == 0) {
		char msg[512];

		status = 502;
		snprintf(msg, sizeof(msg),
			 "The web server behind %s sent an invalid response.",
			 h->svc->fqdn);
		n = http_write_page(to, 502, msg, NULL, true,
				    h->cur.head_method);
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
		if (!h->resp_head_done) {
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
			h->state = HTTP_S_TUNNEL;
			return HTTP_TUNNEL;
		}
		if (h->resp_status >= 100 && h->resp_status < 200)
			continue; /* interim (100 Continue): still pending */
		http_log_access(h, h->resp_status, h->resp_bytes, NULL);
		h->resp_pending = false;
		h->nrequests++;
		if (h->cur.close || !h->resp_keepalive) {
			h->state = HTTP_S_CLOSING;
			return HTTP_CLOSE;
		}
		if (h->state == HTTP_S_WAIT || h->state == HTTP_S_UPGRADE)
			h->state = HTTP_S_HEAD;
	}
	return HTTP_CONTINUE;
}

void http_backend_failed(struct http_conn *h, bool timeout, const char *reason,
			 struct evbuffer *client)
{
	int status = timeout ? 504 : 502;
	char msg[512];
	size_t n;

	if (!h->resp_pending || h->resp_head_done || h->resp_bytes > 0) {
		log_info("access client=%s backend=%s: %s",
			 h->peer && h->peer->client_addr ? h->peer->client_addr
							 : "-",
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
		memset(&h->cur, 0, sizeof(h->cur));
		clock_gettime(CLOCK_MONOTONIC, &h->cur.start);
		h->cur.minor = 1;
		(void)http_fail(h, client, 408, "request head timeout");
	}
	h->state = HTTP_S_CLOSING;
}

bool http_awaiting_head(const struct http_conn *h)
{
	return h->state == HTTP_S_HEAD;
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
			       struct evbuffer *from, struct evbuffer *to)
{
	struct http_scan s;
	http_parser p;
	struct evbuffer *url = NULL, *loc = NULL;
	unsigned char *head;
	size_t used;
	enum http_errno err;
	int r;

	memset(&s, 0, sizeof(s));
	r = http_scan_from(&s, from);
	if (r == 0)
		return HTTP_CONTINUE;
	if (r < 0) {
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
		http_write_page(to, 301, shown, extra, true,
				p.method == HTTP_HEAD);
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
	http_write_page(to, 400, "The request is malformed.", NULL, true,
			false);
	return HTTP_CLOSE;
}
