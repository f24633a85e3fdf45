/* http_check.c — the strict checks on what a client sends.
 *
 * http-parser is lenient (bare LF, obs-fold, whitespace before ':', sloppy
 * chunk framing), so every request head and every chunked body is first
 * checked here by a strict lexical scanner (http_scan_*, http_chunk_*) that
 * only validates line structure and never decides meaning.  This file also
 * holds the publishing rules on a parsed head: Content-Length and
 * Transfer-Encoding (RFC 9112 §6), Host against the service's names, the
 * request target, the normalisation of its path (RFC 3986, refusing what a
 * backend could read another way) and that path against the published
 * prefixes.
 *
 * It writes no responses and no log lines: callers in http.c turn a failed
 * check into an answer (http_reply.c).
 */
#include "edge443/http/http_check.h"

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

/* RFC 9110 tchar: ALPHA, DIGIT and !#$%&'*+-.^_`|~, as a bitmap of the
 * 128 ASCII bytes (bytes 0-63, then 64-127). */
static int http_is_tchar(unsigned char c)
{
	static const uint64_t tchar[2] = {0x03ff6cfa00000000ULL,
					  0x57ffffffc7fffffeULL};

	return c < 128 && (tchar[c >> 6] >> (c & 63) & 1);
}

/* A byte that may stand anywhere in a request line: VCHAR or SP. */
static int http_is_line_byte(unsigned char c)
{
	return c >= 0x20 && c < 0x7f;
}

/* A byte that may stand anywhere in a field value: HTAB, SP, VCHAR and
 * obs-text. */
static int http_is_value_byte(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
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
	/* s->pos never passes HTTP_MAX_HEAD: a head that has not ended by
	 * then is too large. */
	size_t room = HTTP_MAX_HEAD - s->pos, i = 0, start = s->pos;
	bool cut = n > room;

	if (cut)
		n = room;
	while (i < n) {
		unsigned char c;

		/* A run of ordinary bytes changes no state: skip it whole. */
		if (s->state == HTTP_SCAN_REQLINE)
			while (i < n && http_is_line_byte(p[i]))
				i++;
		else if (s->state == HTTP_SCAN_NAME)
			while (i < n && http_is_tchar(p[i]))
				i++;
		else if (s->state == HTTP_SCAN_VALUE)
			while (i < n && http_is_value_byte(p[i]))
				i++;
		if (i == n)
			break;
		c = p[i++];
		s->pos = start + i;
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
	s->pos = start + n;
	if (cut)
		return http_scan_error(s, 431, "request head too large");
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

/* ---- the request path ------------------------------------------------- */

static bool http_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/* The byte of the escape at P ("%XX", N bytes available), or -1. */
static int http_escape_at(const char *p, size_t n)
{
	int hi, lo;

	if (n < 3 || p[0] != '%')
		return -1;
	hi = http_hexval((unsigned char)p[1]);
	lo = http_hexval((unsigned char)p[2]);
	return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* What one segment holds, for the dot-segment decision. */
struct http_seg {
	size_t raw_dots;  /* literal '.' before the first literal ';' */
	bool raw_other;	  /* anything else there (an escape included) */
	bool raw_semi;	  /* a literal ';' seen */
	size_t dots;	  /* decoded '.' before the first decoded ';' */
	bool other;	  /* decoded bytes there other than '.' and ' ' */
	bool semi;	  /* a decoded ';' (literal or %3B) seen */
	int need;	  /* UTF-8 continuation bytes still expected */
	uint32_t cp, min; /* the code point being decoded, its least value */
};

/* Follow decoded byte B of a segment: the name before its first ';', and
 * UTF-8 (every byte >= 0x80 came from an escape: the head scanner refuses
 * literal ones).  -1 with *WHY on invalid UTF-8. */
static int http_seg_byte(struct http_seg *s, unsigned char b, const char **why)
{
	if (b == ';')
		s->semi = true;
	else if (!s->semi && b == '.')
		s->dots++;
	else if (!s->semi && b != ' ')
		s->other = true;
	*why = "invalid UTF-8 in the path";
	if (s->need > 0) {
		if ((b & 0xc0) != 0x80)
			return -1;
		s->cp = s->cp << 6 | (b & 0x3f);
		if (--s->need > 0)
			return 0;
		if (s->cp < s->min || s->cp > 0x10ffff ||
		    (s->cp >= 0xd800 && s->cp <= 0xdfff))
			return -1; /* overlong (%c0%ae), beyond, surrogate */
		/* Windows' best-fit mapping turns these into '.', '/', '\'. */
		if (s->cp == 0xff0e || s->cp == 0xff0f || s->cp == 0xff3c) {
			*why = "full-width dot, slash or backslash in the path";
			return -1;
		}
		return 0;
	}
	if (b < 0x80)
		return 0;
	if (b < 0xc2 || b > 0xf4)
		return -1; /* a continuation byte first, 0xc0, 0xc1, >= 0xf5 */
	s->need = b < 0xe0 ? 1 : b < 0xf0 ? 2 : 3;
	s->cp = b & (0x3f >> s->need);
	s->min = s->need == 1 ? 0x80 : s->need == 2 ? 0x800 : 0x10000;
	return 0;
}

/* Write byte B of an escape as a normalised path holds it: an unreserved
 * character decoded, anything else an escape with upper-case hex digits.
 * Returns the bytes written (1 or 3). */
static size_t http_put_decoded(char *o, unsigned char b)
{
	static const char hex[] = "0123456789ABCDEF";

	if (http_unreserved(b)) {
		o[0] = (char)b;
		return 1;
	}
	o[0] = '%';
	o[1] = hex[b >> 4];
	o[2] = hex[b & 15];
	return 3;
}

/* Decode the segment P[R..N) (up to the next literal '/') to P + *W, in
 * place (*W <= R).  Sets *R past it.  -1 with *WHY. */
static int http_seg_decode(char *p, size_t n, size_t *r, size_t *w,
			   struct http_seg *s, const char **why)
{
	size_t i = *r, o = *w, start = *w;

	memset(s, 0, sizeof(*s));
	for (; i < n && p[i] != '/'; i++) {
		unsigned char c = (unsigned char)p[i];
		int b = c;

		if (c == '\\') {
			*why = "backslash in the path";
			return -1;
		}
		if (c != '%') {
			if (c == ';')
				s->raw_semi = true;
			else if (!s->raw_semi && c == '.')
				s->raw_dots++;
			else if (!s->raw_semi)
				s->raw_other = true;
			p[o++] = (char)c;
		} else {
			b = http_escape_at(p + i, n - i);
			if (b < 0) {
				*why = "malformed percent-escape in the path";
				return -1;
			}
			if (b < 0x20 || b == 0x7f || b == '/' || b == '\\') {
				*why = "encoded slash, backslash or control "
				       "byte in the path";
				return -1;
			}
			if (!s->raw_semi)
				s->raw_other = true;
			i += 2;
			o += http_put_decoded(p + o, (unsigned char)b);
		}
		if (http_seg_byte(s, (unsigned char)b, why) < 0)
			return -1;
	}
	if (s->need > 0) {
		*why = "invalid UTF-8 in the path";
		return -1;
	}
	/* "%25" then two hex digits: a second decoding would make an escape
	 * of them (%252e -> %2e -> .), which some backends do. */
	for (size_t j = start; j + 5 <= o; j++)
		if (memcmp(p + j, "%25", 3) == 0 &&
		    http_hexval((unsigned char)p[j + 3]) >= 0 &&
		    http_hexval((unsigned char)p[j + 4]) >= 0) {
			*why = "double-encoded percent-escape in the path";
			return -1;
		}
	*r = i;
	*w = o;
	return 0;
}

long http_path_normalise(char *p, size_t n, const char **why)
{
	size_t r = 0, w = 0;

	*why = "bad request target";
	if (n == 0 || p[0] != '/')
		return -1;
	/* Invariant: p[r] is a literal '/' (or r == n); the output p[0..w) is
	 * "" or "/seg/seg..." with no dot segment and no trailing '/' added
	 * yet; w <= r, as no byte decodes longer than it was written. */
	while (r < n) {
		struct http_seg s;
		size_t seg = w;

		r++;
		p[w++] = '/';
		if (http_seg_decode(p, n, &r, &w, &s, why) < 0)
			return -1;
		if (!s.raw_other && (s.raw_dots == 1 || s.raw_dots == 2)) {
			w = seg; /* "." or "..", parameters and all */
			if (s.raw_dots == 2) {
				if (w == 0) {
					*why = "dot segment above the root";
					return -1;
				}
				while (w > 0 && p[w - 1] != '/')
					w--;
				w--; /* back to that segment's '/' */
			}
			if (r == n) /* "/a/." and "/a/b/.." end in "/a/" */
				p[w++] = '/';
		} else if (s.dots > 0 && !s.other) {
			*why = "ambiguous dot segment in the path";
			return -1;
		}
	}
	return (long)w;
}

/* The next unit of the published prefix Q as a normalised path would hold
 * it, to U; returns its length (1 or 3) and advances *I. */
static size_t http_prefix_unit(const char *q, size_t *i, char u[3])
{
	int b = http_escape_at(q + *i, strnlen(q + *i, 3));

	if (b < 0) {
		u[0] = q[(*i)++];
		return 1;
	}
	*i += 3;
	return http_put_decoded(u, (unsigned char)b);
}

/* Is PATH (normalised, no query) under one of the published prefixes?
 * Case-sensitive (a case-sensitive backend must not see more than was
 * published), compared as the prefix normalises ("/%7euser" is "/~user"); a
 * prefix not ending in '/' matches whole segments only ("/owa" matches
 * "/owa" and "/owa/x", not "/owax" nor "/owa;x"). */
bool http_path_allowed(const struct http_conn *h, const char *p, size_t n)
{
	const struct config_http *c = &h->svc->http;

	if (c->npaths == 0)
		return true;
	for (size_t k = 0; k < c->npaths; k++) {
		const char *q = c->paths[k];
		size_t i = 0, m = 0;
		bool same = true;
		char u[3];

		while (same && q[i] != '\0') {
			size_t ul = http_prefix_unit(q, &i, u);

			same = m + ul <= n && memcmp(p + m, u, ul) == 0;
			m += ul;
		}
		if (!same)
			continue;
		if (m == n || (m > 0 && p[m - 1] == '/') || p[m] == '/')
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

/* The request target as origin-form: PATH/PLEN the normalised path (in
 * place in h->head), QUERY/QLEN the query as sent ("?..." or empty).
 * Absolute-form must name the Host.  -1 = 400 (WHY). */
int http_target(struct http_conn *h, const struct http_facts *x,
		const char **path, size_t *plen, const char **query,
		size_t *qlen, const char **why)
{
	size_t n = h->urllen;
	char *u;
	long len;

	*why = "bad request target";
	*query = "";
	*qlen = 0;
	if (h->url == NULL || n == 0)
		return -1;
	/* The URL lies in our own copy of the head, which we may rewrite. */
	u = h->head + (h->url - h->head);
	if (n == 1 && u[0] == '*') {
		if (h->req_parser.method != HTTP_OPTIONS)
			return -1;
		*path = u;
		*plen = 1;
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
			*path = "/";
			*plen = 1;
			return 0;
		}
		u += pu.field_data[UF_PATH].off;
		n = h->urllen - pu.field_data[UF_PATH].off;
	}
	if (memchr(u, '#', n) != NULL)
		return -1;
	const char *q = memchr(u, '?', n);
	size_t pn = q ? (size_t)(q - u) : n;
	*query = u + pn;
	*qlen = n - pn;
	len = http_path_normalise(u, pn, why);
	if (len < 0)
		return -1;
	*path = u;
	*plen = (size_t)len;
	return 0;
}
