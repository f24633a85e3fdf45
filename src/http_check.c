/* http_check.c — the strict checks on what a client sends.
 *
 * http-parser is lenient (bare LF, obs-fold, whitespace before ':', sloppy
 * chunk framing), so every request head and every chunked body is first
 * checked here by a strict lexical scanner (http_scan_*, http_chunk_*) that
 * only validates line structure and never decides meaning.  This file also
 * holds the publishing rules on a parsed head: Content-Length and
 * Transfer-Encoding (RFC 9112 §6), Host against the service's names, the
 * request target and its path against the published prefixes.
 *
 * It writes no responses and no log lines: callers in http.c turn a failed
 * check into an answer (http_reply.c).
 */
#include "edge443/http_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_MAX_CHUNK_DIGITS 15 /* hex digits of a chunk size (< 2^60) */
#define HTTP_MAX_CL_DIGITS 18	 /* decimal digits of a Content-Length */

/* ---- small helpers ----------------------------------------------------- */

bool http_eq(const char *a, size_t alen, const char *b)
{
	return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

/* ---- strict lexical scan of a request head ----------------------------- */

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
int http_scan_from(struct http_scan *s, struct evbuffer *from)
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
long http_chunk_bytes(struct http_chunk *k, const unsigned char *p, size_t n)
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

/* ---- the publishing rules ---------------------------------------------- */

/* Split a Host value into name and port ("" when absent).  -1 when it is not
 * a plain host name with an optional numeric port. */
int http_host_split(const char *v, size_t n, size_t *namelen, const char **port,
		    size_t *portlen)
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

bool http_host_ok(const struct http_conn *h, const char *name, size_t n,
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
bool http_path_allowed(const struct http_conn *h, const char *p, size_t n)
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

int http_facts_get(struct http_conn *h, struct http_facts *x)
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
int http_target(struct http_conn *h, const struct http_facts *x,
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
