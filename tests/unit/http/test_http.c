/* test_http.c — HTTP publishing rules (src/http/http.c).
 *
 * Table-driven: bad[] requests must be answered with the expected status,
 * Connection: close and HTTP_CLOSE without a byte reaching the backend;
 * good[] requests must be forwarded re-serialised exactly as listed.  Every
 * table row is fed whole and one byte at a time.  Scenario tests then follow
 * a connection through several requests and responses (keep-alive after
 * 404/421, pipelining, bodies in pieces, 100-continue, upgrades, HEAD,
 * malformed responses, backend failures, timeouts) and the redirect listener.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "edge443/http/http.h"
#include "edge443/base/log.h"

/* ---- fixture ---------------------------------------------------------- */

struct test_ctx {
	struct config_service svc;
	struct config_addr listen[2];
	char *paths[4];
	struct http_peer peer;
	struct http_conn *h;
	struct evbuffer *from, *to, *client, *bfrom;
	bool need;
};

static const char *const test_names[] = {"sip.example.com", "cwa.example.com",
					 "as.cwa.example.com",
					 "download.cwa.example.com"};

static void test_ctx_init(struct test_ctx *t, enum config_host_header hh,
			  const char *const *paths, size_t npaths)
{
	memset(t, 0, sizeof(*t));
	t->svc.name = "cwa";
	t->svc.fqdn = "cwa.example.com";
	t->listen[0].port = 443;
	t->listen[1].port = 8443;
	t->svc.listen = t->listen;
	t->svc.nlisten = 2;
	t->svc.http.present = true;
	t->svc.http.host_header = hh;
	for (size_t i = 0; i < npaths; i++)
		t->paths[i] = (char *)paths[i];
	t->svc.http.paths = t->paths;
	t->svc.http.npaths = npaths;
	t->peer.client_ip = "192.0.2.7";
	t->peer.client_addr = "192.0.2.7:51234";
	t->peer.tls_version = "TLSv1.3";
	t->peer.backend = "10.0.0.7:443";
	t->h = http_conn_new(&t->svc, test_names, 4, "cwa01.corp.example",
			     &t->peer);
	assert_non_null(t->h);
	t->from = evbuffer_new();
	t->to = evbuffer_new();
	t->client = evbuffer_new();
	t->bfrom = evbuffer_new();
}

static void test_ctx_default(struct test_ctx *t)
{
	static const char *const all[] = {"/"};

	test_ctx_init(t, CONFIG_HOST_ORIGINAL, all, 1);
}

static void test_ctx_done(struct test_ctx *t)
{
	http_conn_free(t->h);
	evbuffer_free(t->from);
	evbuffer_free(t->to);
	evbuffer_free(t->client);
	evbuffer_free(t->bfrom);
}

/* The contents of B as a NUL-terminated string (owned by the test). */
static char *test_str(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);

	assert_non_null(s);
	evbuffer_copyout(b, s, n);
	s[n] = '\0';
	return s;
}

static void test_expect(struct evbuffer *b, const char *want)
{
	char *s = test_str(b);

	assert_string_equal(s, want);
	free(s);
	evbuffer_drain(b, evbuffer_get_length(b));
}

/* B must begin with START; then it is emptied. */
static void test_expect_start(struct evbuffer *b, const char *start)
{
	char *s = test_str(b);

	if (strncmp(s, start, strlen(start)) != 0)
		fail_msg("got %.40s, want %s", s, start);
	free(s);
	evbuffer_drain(b, evbuffer_get_length(b));
}

/* Feed LEN bytes from the client, whole or one byte per call; returns the
 * first action other than HTTP_CONTINUE (or HTTP_CONTINUE). */
static enum http_action test_feed(struct test_ctx *t, const char *data,
				  size_t len, bool bytewise)
{
	enum http_action a = HTTP_CONTINUE;

	if (!bytewise) {
		evbuffer_add(t->from, data, len);
		return http_from_client(t->h, t->from, t->to, t->client,
					&t->need);
	}
	for (size_t i = 0; i < len; i++) {
		evbuffer_add(t->from, data + i, 1);
		a = http_from_client(t->h, t->from, t->to, t->client, &t->need);
		if (a != HTTP_CONTINUE)
			return a;
	}
	return a;
}

static enum http_action test_feed_str(struct test_ctx *t, const char *s)
{
	return test_feed(t, s, strlen(s), false);
}

static enum http_action test_backend(struct test_ctx *t, const char *s)
{
	evbuffer_add(t->bfrom, s, strlen(s));
	return http_from_backend(t->h, t->bfrom, t->client);
}

/* Undo chunked framing of the body that starts after the head in S: returns
 * head + "<dechunked body>" so byte-at-a-time re-framing compares equal. */
static char *test_dechunk(const char *s)
{
	const char *body = strstr(s, "\r\n\r\n");
	char *out = malloc(strlen(s) + 1), *o;

	assert_non_null(body);
	assert_non_null(out);
	body += 4;
	memcpy(out, s, (size_t)(body - s));
	o = out + (body - s);
	for (;;) {
		char *end;
		unsigned long n = strtoul(body, &end, 16);

		assert_memory_equal(end, "\r\n", 2);
		body = end + 2;
		if (n == 0) {
			assert_string_equal(body, "\r\n");
			break;
		}
		memcpy(o, body, n);
		o += n;
		body += n;
		assert_memory_equal(body, "\r\n", 2);
		body += 2;
	}
	*o = '\0';
	return out;
}

/* Log lines written between test_log_start and test_log_end (a file in a
 * fresh temporary folder; the text is owned by the test). */
struct test_log {
	char dir[64];
	char file[128];
};

static void test_log_start(struct test_log *l)
{
	snprintf(l->dir, sizeof(l->dir), "/tmp/test_http.XXXXXX");
	assert_non_null(mkdtemp(l->dir));
	snprintf(l->file, sizeof(l->file), "%s/log", l->dir);
	assert_int_equal(log_open(LOG_TARGET_FILE, l->file, LOG_LEVEL_INFO), 0);
}

static char *test_log_end(struct test_log *l)
{
	struct evbuffer *b = evbuffer_new();
	FILE *f;
	char buf[4096], *s;
	size_t n;

	log_close();
	f = fopen(l->file, "rb");
	assert_non_null(f);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		evbuffer_add(b, buf, n);
	fclose(f);
	unlink(l->file);
	rmdir(l->dir);
	s = test_str(b);
	evbuffer_free(b);
	return s;
}

/* How many times NEEDLE occurs in LOG. */
static int test_log_count(const char *log, const char *needle)
{
	int n = 0;

	for (const char *p = log; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

#define H "Host: cwa.example.com\r\n"
#define XF                                                                     \
	"X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: https\r\n"           \
	"X-Forwarded-Host: "

/* ---- bad requests ------------------------------------------------------ */

struct test_bad {
	const char *name;
	const char *req;
	size_t len;
	int status;
	bool body_error; /* the head was forwarded; the body is bad */
};

#define BAD(n, s, st)                                                          \
	{                                                                      \
		n, s, sizeof(s) - 1, st, false                                 \
	}
#define BADBODY(n, s)                                                          \
	{                                                                      \
		n, s, sizeof(s) - 1, 400, true                                 \
	}
#define POSTC "POST /u HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n"

static const struct test_bad bad[] = {
	BAD("cl+te",
	    "POST / HTTP/1.1\r\n" H "Content-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	    400),
	BAD("te+cl",
	    "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n"
	    "Content-Length: 5\r\n\r\n0\r\n\r\n",
	    400),
	BAD("cl dup equal",
	    "POST / HTTP/1.1\r\n" H "Content-Length: 5\r\n"
	    "Content-Length: 5\r\n\r\nhello",
	    400),
	BAD("cl dup unequal",
	    "POST / HTTP/1.1\r\n" H "Content-Length: 5\r\n"
	    "Content-Length: 6\r\n\r\nhello!",
	    400),
	BAD("cl list",
	    "POST / HTTP/1.1\r\n" H "Content-Length: 5, 5\r\n\r\n"
	    "hello",
	    400),
	BAD("cl empty", "POST / HTTP/1.1\r\n" H "Content-Length: \r\n\r\n",
	    400),
	BAD("cl plus",
	    "POST / HTTP/1.1\r\n" H "Content-Length: +5\r\n\r\n"
	    "hello",
	    400),
	BAD("cl minus", "POST / HTTP/1.1\r\n" H "Content-Length: -1\r\n\r\n",
	    400),
	BAD("cl hex", "POST / HTTP/1.1\r\n" H "Content-Length: 0x5\r\n\r\n",
	    400),
	BAD("cl huge",
	    "POST / HTTP/1.1\r\n" H
	    "Content-Length: 99999999999999999999999\r\n\r\n",
	    400),
	BAD("te gzip",
	    "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n\r\n", 400),
	BAD("te gzip,chunked",
	    "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n\r\n",
	    400),
	BAD("te chunked,chunked",
	    "POST / HTTP/1.1\r\n" H
	    "Transfer-Encoding: chunked, chunked\r\n\r\n",
	    400),
	BAD("te twice",
	    "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	    400),
	BAD("te on 1.0",
	    "POST / HTTP/1.0\r\n" H "Transfer-Encoding: chunked\r\n"
	    "\r\n0\r\n\r\n",
	    400),
	BAD("te space",
	    "POST / HTTP/1.1\r\n" H "Transfer-Encoding : chunked\r\n"
	    "\r\n0\r\n\r\n",
	    400),
	BAD("space before colon",
	    "GET / HTTP/1.1\r\nHost : cwa.example.com\r\n"
	    "\r\n",
	    400),
	BAD("tab before colon", "GET / HTTP/1.1\r\n" H "X-A\t: b\r\n\r\n", 400),
	BAD("obs-fold", "GET / HTTP/1.1\r\n" H "X-A: b\r\n c\r\n\r\n", 400),
	BAD("obs-fold tab", "GET / HTTP/1.1\r\n" H "X-A: b\r\n\tc\r\n\r\n",
	    400),
	BAD("first line folded", "GET / HTTP/1.1\r\n " H "\r\n", 400),
	BAD("empty name", "GET / HTTP/1.1\r\n" H ": x\r\n\r\n", 400),
	BAD("no colon", "GET / HTTP/1.1\r\n" H "X-A\r\n\r\n", 400),
	BAD("bare LF everywhere", "GET / HTTP/1.1\nHost: cwa.example.com\n\n",
	    400),
	BAD("bare LF in field", "GET / HTTP/1.1\r\n" H "X-A: b\n\r\n", 400),
	BAD("bare LF end", "GET / HTTP/1.1\r\n" H "\n", 400),
	BAD("bare CR in value", "GET / HTTP/1.1\r\n" H "X-A: b\rc\r\n\r\n",
	    400),
	BAD("bare CR in line", "GET / HTTP/1.1\r" H "\r\n", 400),
	BAD("NUL in value", "GET / HTTP/1.1\r\n" H "X-A: b\0c\r\n\r\n", 400),
	BAD("NUL in target", "GET /a\0b HTTP/1.1\r\n" H "\r\n", 400),
	BAD("control in value", "GET / HTTP/1.1\r\n" H "X-A: b\x01\r\n\r\n",
	    400),
	BAD("tab in request line", "GET\t/ HTTP/1.1\r\n" H "\r\n", 400),
	BAD("two hosts", "GET / HTTP/1.1\r\n" H H "\r\n", 400),
	BAD("two hosts differ",
	    "GET / HTTP/1.1\r\n" H "Host: evil.example\r\n"
	    "\r\n",
	    400),
	BAD("no host", "GET / HTTP/1.1\r\n\r\n", 400),
	BAD("empty host", "GET / HTTP/1.1\r\nHost: \r\n\r\n", 400),
	BAD("host with space",
	    "GET / HTTP/1.1\r\nHost: cwa.example.com x\r\n"
	    "\r\n",
	    400),
	BAD("host with userinfo",
	    "GET / HTTP/1.1\r\nHost: a@cwa.example.com\r\n"
	    "\r\n",
	    400),
	BAD("host bad port",
	    "GET / HTTP/1.1\r\nHost: cwa.example.com:x\r\n\r\n", 400),
	BAD("bad method", "G@T / HTTP/1.1\r\n" H "\r\n", 400),
	BAD("http/2", "GET / HTTP/2.0\r\n" H "\r\n", 505),
	BAD("http/1.2", "GET / HTTP/1.2\r\n" H "\r\n", 505),
	BAD("connect", "CONNECT cwa.example.com:443 HTTP/1.1\r\n" H "\r\n",
	    405),
	BAD("star GET", "GET * HTTP/1.1\r\n" H "\r\n", 400),
	BAD("relative target", "GET a/b HTTP/1.1\r\n" H "\r\n", 400),
	BAD("absolute other host",
	    "GET http://evil.example/ HTTP/1.1\r\n" H "\r\n", 400),
	BAD("absolute other port",
	    "GET https://cwa.example.com:444/ HTTP/1.1\r\n" H "\r\n", 400),
	BAD("absolute userinfo",
	    "GET http://u@cwa.example.com/ HTTP/1.1\r\n" H "\r\n", 400),
	BAD("absolute ftp", "GET ftp://cwa.example.com/ HTTP/1.1\r\n" H "\r\n",
	    400),
	BAD("encoded dotdot", "GET /a/%2e%2e/b HTTP/1.1\r\n" H "\r\n", 400),
	BAD("encoded dotdot upper", "GET /a/%2E./b HTTP/1.1\r\n" H "\r\n", 400),
	BAD("encoded slash", "GET /a/..%2fb HTTP/1.1\r\n" H "\r\n", 400),
	BAD("encoded backslash", "GET /a/..%5cb HTTP/1.1\r\n" H "\r\n", 400),
	BAD("backslash", "GET /a\\..\\b HTTP/1.1\r\n" H "\r\n", 400),
	BAD("bad percent", "GET /a%zz HTTP/1.1\r\n" H "\r\n", 400),
	BAD("fragment", "GET /a#b HTTP/1.1\r\n" H "\r\n", 400),
	BAD("expect other", "GET / HTTP/1.1\r\n" H "Expect: 200-ok\r\n\r\n",
	    417),
	BAD("upgrade with body",
	    "POST / HTTP/1.1\r\n" H "Connection: Upgrade\r\n"
	    "Upgrade: websocket\r\nContent-Length: 2\r\n"
	    "\r\nab",
	    400),
	BAD("upgrade on 1.0",
	    "GET / HTTP/1.0\r\n" H "Connection: Upgrade\r\n"
	    "Upgrade: websocket\r\n\r\n",
	    400),
	BAD("non-ascii in target", "GET /\xc3\xa9 HTTP/1.1\r\n" H "\r\n", 400),
	BADBODY("chunk size not hex", POSTC "zz\r\nhello\r\n0\r\n\r\n"),
	BADBODY("chunk size empty", POSTC "\r\nhello\r\n0\r\n\r\n"),
	BADBODY("chunk size space", POSTC " 5\r\nhello\r\n0\r\n\r\n"),
	BADBODY("chunk size trailing space", POSTC "5 \r\nhello\r\n0\r\n\r\n"),
	BADBODY("chunk size 0x", POSTC "0x5\r\nhello\r\n0\r\n\r\n"),
	BADBODY("chunk size negative", POSTC "-5\r\nhello\r\n0\r\n\r\n"),
	BADBODY("chunk size overflow",
		POSTC "10000000000000005\r\nhello\r\n0\r\n\r\n"),
	BADBODY("chunk size 16 digits",
		POSTC "0000000000000005\r\nhello\r\n0\r\n\r\n"),
	BADBODY("chunk size bare CR", POSTC "5\rXhello\r\n0\r\n\r\n"),
	BADBODY("chunk size bare LF", POSTC "5\nhello\r\n0\r\n\r\n"),
	BADBODY("chunk data too long", POSTC "5\r\nhelloXY\r\n0\r\n\r\n"),
	BADBODY("chunk data bare LF", POSTC "5\r\nhello\n0\r\n\r\n"),
	BADBODY("chunk ext control", POSTC "5;a\x01\r\nhello\r\n0\r\n\r\n"),
	BADBODY("last chunk bare LF", POSTC "0\r\n\n"),
	BADBODY("trailer bare LF", POSTC "0\r\nX-T: 1\n\r\n"),
	BADBODY("trailer obs-fold", POSTC "0\r\nX-T: 1\r\n 2\r\n\r\n"),
};

static void test_bad_one(const struct test_bad *b, bool bytewise)
{
	struct test_ctx t;
	enum http_action a;
	char *s, want[64];

	test_ctx_default(&t);
	a = test_feed(&t, b->req, b->len, bytewise);
	if (a != HTTP_CLOSE)
		fail_msg("%s (%s): action %d, want HTTP_CLOSE", b->name,
			 bytewise ? "bytewise" : "whole", (int)a);
	s = test_str(t.client);
	snprintf(want, sizeof(want), "HTTP/1.1 %d ", b->status);
	if (strncmp(s, want, strlen(want)) != 0)
		fail_msg("%s (%s): answer %.40s, want %s", b->name,
			 bytewise ? "bytewise" : "whole", s, want);
	assert_non_null(strstr(s, "\r\nConnection: close\r\n"));
	assert_non_null(strstr(s, "\r\nContent-Length: "));
	free(s);
	if (!b->body_error && evbuffer_get_length(t.to) != 0)
		fail_msg("%s: bytes reached the backend", b->name);
	assert_false(http_awaiting_head(t.h));
	/* Nothing more is read after a parse error. */
	size_t nc = evbuffer_get_length(t.client),
	       nt = evbuffer_get_length(t.to);
	test_feed_str(&t, "GET / HTTP/1.1\r\n" H "\r\n");
	assert_int_equal(evbuffer_get_length(t.client), nc);
	assert_int_equal(evbuffer_get_length(t.to), nt);
	test_ctx_done(&t);
}

static void test_bad_requests(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		test_bad_one(&bad[i], false);
		test_bad_one(&bad[i], true);
	}
}

static void test_limits(void **state)
{
	struct evbuffer *req = evbuffer_new();
	struct test_ctx t;
	char *s;
	(void)state;

	/* One field too many. */
	evbuffer_add_printf(req, "GET / HTTP/1.1\r\n" H);
	for (int i = 0; i < HTTP_MAX_HEADERS; i++)
		evbuffer_add_printf(req, "X-%d: v\r\n", i);
	evbuffer_add_printf(req, "\r\n");
	test_ctx_default(&t);
	s = test_str(req);
	assert_int_equal(test_feed_str(&t, s), HTTP_CLOSE);
	free(s);
	s = test_str(t.client);
	assert_memory_equal(s, "HTTP/1.1 431 ", 13);
	free(s);
	assert_int_equal(evbuffer_get_length(t.to), 0);
	test_ctx_done(&t);

	/* Exactly the maximum is fine. */
	evbuffer_drain(req, evbuffer_get_length(req));
	evbuffer_add_printf(req, "GET / HTTP/1.1\r\n" H);
	for (int i = 0; i < HTTP_MAX_HEADERS - 1; i++)
		evbuffer_add_printf(req, "X-%d: v\r\n", i);
	evbuffer_add_printf(req, "\r\n");
	test_ctx_default(&t);
	s = test_str(req);
	assert_int_equal(test_feed_str(&t, s), HTTP_CONTINUE);
	free(s);
	assert_int_equal(evbuffer_get_length(t.client), 0);
	assert_true(evbuffer_get_length(t.to) > 0);
	test_ctx_done(&t);

	/* A head over HTTP_MAX_HEAD, even before it ends. */
	evbuffer_drain(req, evbuffer_get_length(req));
	evbuffer_add_printf(req, "GET / HTTP/1.1\r\n" H "X-Big: ");
	for (int i = 0; i < HTTP_MAX_HEAD; i++)
		evbuffer_add(req, "a", 1);
	test_ctx_default(&t);
	s = test_str(req);
	assert_int_equal(test_feed_str(&t, s), HTTP_CLOSE);
	free(s);
	s = test_str(t.client);
	assert_memory_equal(s, "HTTP/1.1 431 ", 13);
	free(s);
	test_ctx_done(&t);
	evbuffer_free(req);
}

/* ---- good requests ----------------------------------------------------- */

struct test_good {
	const char *name;
	enum config_host_header hh;
	const char *req;
	const char *fwd;
	bool chunked; /* byte-at-a-time re-framing differs: compare dechunked */
};

static const struct test_good good[] = {
	{"simple", CONFIG_HOST_ORIGINAL,
	 "GET /x?y=1 HTTP/1.1\r\n" H "User-Agent: t\r\n\r\n",
	 "GET /x?y=1 HTTP/1.1\r\n" H "User-Agent: t\r\n" XF
	 "cwa.example.com\r\nConnection: keep-alive\r\n\r\n",
	 false},
	{"leading empty line", CONFIG_HOST_ORIGINAL,
	 "\r\nGET / HTTP/1.1\r\n" H "\r\n",
	 "GET / HTTP/1.1\r\n" H XF "cwa.example.com\r\n"
	 "Connection: keep-alive\r\n\r\n",
	 false},
	{"x-forwarded overwritten", CONFIG_HOST_ORIGINAL,
	 "GET / HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\r\n" H
	 "x-forwarded-host: evil\r\nX-Forwarded-Proto: http\r\n"
	 "Forwarded: for=1.2.3.4\r\nAccept: */*\r\n\r\n",
	 "GET / HTTP/1.1\r\n" H "Accept: */*\r\n" XF "cwa.example.com\r\n"
	 "Connection: keep-alive\r\n\r\n",
	 false},
	{"hop-by-hop dropped", CONFIG_HOST_ORIGINAL,
	 "GET / HTTP/1.1\r\n" H "Connection: keep-alive, X-Secret\r\n"
	 "X-Secret: 1\r\nKeep-Alive: 300\r\nTE: trailers\r\n"
	 "Proxy-Connection: keep-alive\r\nTrailer: X-T\r\n"
	 "Upgrade: h2c\r\nCookie: a=b\r\n\r\n",
	 "GET / HTTP/1.1\r\n" H "Cookie: a=b\r\n" XF "cwa.example.com\r\n"
	 "Connection: keep-alive\r\n\r\n",
	 false},
	{"connection close", CONFIG_HOST_ORIGINAL,
	 "GET / HTTP/1.1\r\n" H "Connection: close\r\n\r\n",
	 "GET / HTTP/1.1\r\n" H XF "cwa.example.com\r\nConnection: close\r\n"
	 "\r\n",
	 false},
	{"http/1.0", CONFIG_HOST_ORIGINAL, "GET /a HTTP/1.0\r\n" H "\r\n",
	 "GET /a HTTP/1.0\r\n" H XF "cwa.example.com\r\nConnection: close\r\n"
	 "\r\n",
	 false},
	{"absolute-form", CONFIG_HOST_ORIGINAL,
	 "GET https://CWA.example.com/a?b=c HTTP/1.1\r\n" H "\r\n",
	 "GET /a?b=c HTTP/1.1\r\n" H XF "cwa.example.com\r\n"
	 "Connection: keep-alive\r\n\r\n",
	 false},
	{"absolute-form no path", CONFIG_HOST_ORIGINAL,
	 "GET http://cwa.example.com HTTP/1.1\r\n" H "\r\n",
	 "GET / HTTP/1.1\r\n" H XF "cwa.example.com\r\n"
	 "Connection: keep-alive\r\n\r\n",
	 false},
	{"host port 443 and case", CONFIG_HOST_ORIGINAL,
	 "GET / HTTP/1.1\r\nHost: CWA.Example.COM:443\r\n\r\n",
	 "GET / HTTP/1.1\r\nHost: CWA.Example.COM:443\r\n" XF
	 "CWA.Example.COM:443\r\nConnection: keep-alive\r\n\r\n",
	 false},
	{"host listen port", CONFIG_HOST_ORIGINAL,
	 "GET / HTTP/1.1\r\nHost: cwa.example.com:8443\r\n\r\n",
	 "GET / HTTP/1.1\r\nHost: cwa.example.com:8443\r\n" XF
	 "cwa.example.com:8443\r\nConnection: keep-alive\r\n\r\n",
	 false},
	{"host trailing dot", CONFIG_HOST_ORIGINAL,
	 "GET / HTTP/1.1\r\nHost: cwa.example.com.\r\n\r\n",
	 "GET / HTTP/1.1\r\nHost: cwa.example.com.\r\n" XF
	 "cwa.example.com.\r\nConnection: keep-alive\r\n\r\n",
	 false},
	{"host certificate name", CONFIG_HOST_ORIGINAL,
	 "GET / HTTP/1.1\r\nHost: as.cwa.example.com\r\n\r\n",
	 "GET / HTTP/1.1\r\nHost: as.cwa.example.com\r\n" XF
	 "as.cwa.example.com\r\nConnection: keep-alive\r\n\r\n",
	 false},
	{"host_header backend", CONFIG_HOST_BACKEND,
	 "GET / HTTP/1.1\r\n" H "\r\n",
	 "GET / HTTP/1.1\r\nHost: cwa01.corp.example\r\n" XF
	 "cwa.example.com\r\nConnection: keep-alive\r\n\r\n",
	 false},
	{"options star", CONFIG_HOST_ORIGINAL,
	 "OPTIONS * HTTP/1.1\r\n" H "\r\n",
	 "OPTIONS * HTTP/1.1\r\n" H XF "cwa.example.com\r\n"
	 "Connection: keep-alive\r\n\r\n",
	 false},
	{"value whitespace trimmed, empty value kept", CONFIG_HOST_ORIGINAL,
	 "GET / HTTP/1.1\r\nHost:cwa.example.com \r\nX-E:\r\nX-A:  b c \t\r\n"
	 "\r\n",
	 "GET / HTTP/1.1\r\n" H "X-E: \r\nX-A: b c\r\n" XF
	 "cwa.example.com\r\nConnection: keep-alive\r\n\r\n",
	 false},
	{"content-length body", CONFIG_HOST_ORIGINAL,
	 "POST /p HTTP/1.1\r\n" H "Content-Length: 5\r\n\r\nhello",
	 "POST /p HTTP/1.1\r\n" H XF "cwa.example.com\r\nContent-Length: 5\r\n"
	 "Connection: keep-alive\r\n\r\nhello",
	 false},
	{"content-length 0", CONFIG_HOST_ORIGINAL,
	 "POST /p HTTP/1.1\r\n" H "Content-Length: 0\r\n\r\n",
	 "POST /p HTTP/1.1\r\n" H XF "cwa.example.com\r\nContent-Length: 0\r\n"
	 "Connection: keep-alive\r\n\r\n",
	 false},
	{"chunked re-framed", CONFIG_HOST_ORIGINAL,
	 "POST /p HTTP/1.1\r\n" H "transfer-encoding: Chunked\r\n\r\n"
	 "5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n",
	 "POST /p HTTP/1.1\r\n" H XF "cwa.example.com\r\n"
	 "Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
	 "5\r\nhello\r\na\r\n0123456789\r\n0\r\n\r\n",
	 true},
	{"expect 100-continue forwarded", CONFIG_HOST_ORIGINAL,
	 "PUT /p HTTP/1.1\r\n" H "Expect: 100-continue\r\nContent-Length: 2"
	 "\r\n\r\n",
	 "PUT /p HTTP/1.1\r\n" H "Expect: 100-continue\r\n" XF
	 "cwa.example.com\r\nContent-Length: 2\r\nConnection: keep-alive\r\n"
	 "\r\n",
	 false},
	{"websocket upgrade", CONFIG_HOST_ORIGINAL,
	 "GET /ws HTTP/1.1\r\n" H "Connection: keep-alive, Upgrade\r\n"
	 "Upgrade: websocket\r\nSec-WebSocket-Key: abc\r\n\r\n",
	 "GET /ws HTTP/1.1\r\n" H "Sec-WebSocket-Key: abc\r\n" XF
	 "cwa.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
	 false},
};

static void test_good_requests(void **state)
{
	static const char *const all[] = {"/"};
	(void)state;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		for (int bytewise = 0; bytewise < 2; bytewise++) {
			const struct test_good *g = &good[i];
			struct test_ctx t;
			enum http_action a;
			char *s;

			test_ctx_init(&t, g->hh, all, 1);
			a = test_feed(&t, g->req, strlen(g->req), bytewise);
			if (a != HTTP_CONTINUE)
				fail_msg("%s: action %d", g->name, (int)a);
			if (evbuffer_get_length(t.client) != 0) {
				s = test_str(t.client);
				fail_msg("%s: answered %s", g->name, s);
			}
			assert_true(t.need);
			s = test_str(t.to);
			if (g->chunked) {
				char *x = test_dechunk(s),
				     *y = test_dechunk(g->fwd);

				if (strcmp(x, y) != 0)
					fail_msg("%s (%d):\n%s\nwant\n%s",
						 g->name, bytewise, x, y);
				free(x);
				free(y);
				if (!bytewise)
					assert_string_equal(s, g->fwd);
			} else if (strcmp(s, g->fwd) != 0) {
				fail_msg("%s (%d): forwarded\n%s\nwant\n%s",
					 g->name, bytewise, s, g->fwd);
			}
			free(s);
			test_ctx_done(&t);
		}
	}
}

/* ---- scenarios --------------------------------------------------------- */

static void test_misdirected_keeps_connection(void **state)
{
	struct test_ctx t;
	char *s;
	(void)state;

	test_ctx_default(&t);
	assert_int_equal(test_feed_str(&t, "GET /a HTTP/1.1\r\nHost: evil"
					   ".example\r\n\r\n"
					   "GET /b HTTP/1.1\r\n" H "\r\n"),
			 HTTP_CONTINUE);
	s = test_str(t.client);
	assert_memory_equal(s, "HTTP/1.1 421 Misdirected Request\r\n", 34);
	assert_null(strstr(s, "Connection: close"));
	free(s);
	s = test_str(t.to);
	assert_memory_equal(s, "GET /b HTTP/1.1\r\n", 17);
	free(s);
	test_ctx_done(&t);
}

static void test_paths(void **state)
{
	static const char *const paths[] = {"/owa/", "/abs"};
	static const struct {
		const char *target;
		int ok;
	} cases[] = {
		{"/owa/", 1},	 {"/owa/x/y?z", 1}, {"/owa", 0},
		{"/OWA/x", 0},	 {"/abs", 1},	    {"/abs/x", 1},
		{"/abs?q=1", 1}, {"/absx", 0},	    {"/other", 0},
		{"/", 0},	 {"*", 0},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct test_ctx t;
		char req[256], *s;

		test_ctx_init(&t, CONFIG_HOST_ORIGINAL, paths, 2);
		snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\n" H "\r\n",
			 strcmp(cases[i].target, "*") ? "GET" : "OPTIONS",
			 cases[i].target);
		assert_int_equal(test_feed_str(&t, req), HTTP_CONTINUE);
		if (cases[i].ok) {
			if (evbuffer_get_length(t.to) == 0)
				fail_msg("%s was not forwarded",
					 cases[i].target);
			assert_int_equal(evbuffer_get_length(t.client), 0);
		} else {
			s = test_str(t.client);
			if (strncmp(s, "HTTP/1.1 404 ", 13) != 0)
				fail_msg("%s: %s", cases[i].target, s);
			free(s);
			assert_int_equal(evbuffer_get_length(t.to), 0);
			assert_false(t.need);
			assert_true(http_awaiting_head(t.h));
		}
		test_ctx_done(&t);
	}
}

/* The request target of the request line in B (owned by the test). */
static char *test_fwd_target(struct evbuffer *b)
{
	char *s = test_str(b), *sp, *end;

	sp = strchr(s, ' ');
	assert_non_null(sp);
	end = strchr(sp + 1, ' ');
	assert_non_null(end);
	*end = '\0';
	memmove(s, sp + 1, strlen(sp + 1) + 1);
	return s;
}

/* Path normalisation (RFC 3986 §6.2.2, §5.2.4, and what backends do with
 * ';' and trailing dots): the target on the left reaches the backend as the
 * one on the right, or (NULL) is refused with 400 before the backend. */
static const struct {
	const char *target;
	const char *fwd; /* NULL: 400 */
} test_path_cases[] = {
	/* dot segments removed */
	{"/a/../b", "/b"},
	{"/a/./b", "/a/b"},
	{"/a/..", "/"},
	{"/a/.", "/a/"},
	{"/a/b/../../c/", "/c/"},
	{"/a/./././b", "/a/b"},
	{"/a//../b", "/a/b"}, /* ".." removes the empty segment */
	{"/a//b", "/a//b"},
	{"/.", "/"},
	{"/./", "/"},
	/* a ';' parameter of a dot segment (Tomcat, Jetty) */
	{"/cwa/..;/admin", "/admin"},
	{"/a/..;jsessionid=1/b", "/b"},
	{"/a/.;x=1/b", "/a/b"},
	{"/a/..;%2e/b", "/b"},
	{"/a;x=1/b", "/a;x=1/b"},
	{"/;/x", "/;/x"},
	{"/a/;../b", "/a/;../b"},
	/* unreserved characters decoded, other escapes upper-case */
	{"/%7Euser/%41%62c%2d%5f%30", "/~user/Abc-_0"},
	{"/a/%2ex", "/a/.x"},
	{"/file%2ehtml", "/file.html"},
	{"/a%3ab%3Fc%23d", "/a%3Ab%3Fc%23d"},
	{"/a%20b", "/a%20b"},
	{"/caf%c3%a9", "/caf%C3%A9"},
	{"/%f0%9f%98%80", "/%F0%9F%98%80"},
	{"/100%25", "/100%25"},
	{"/100%25zz", "/100%25zz"},
	{"/a.b/c..d/e.", "/a.b/c..d/e."},
	/* the query is forwarded as sent */
	{"/a/../x?q=../..%2f&b=%252e", "/x?q=../..%2f&b=%252e"},
	{"/x?", "/x?"},
	/* absolute-form: the path is normalised too */
	{"https://cwa.example.com/a/./b/../c?d", "/a/c?d"},
	/* refused: what a backend could read another way */
	{"/../a", NULL},
	{"/a/../../b", NULL},
	{"/..;/a", NULL},
	{"/a/%2e%2e/b", NULL},
	{"/a/%2E%2E", NULL},
	{"/a/%2e./b", NULL},
	{"/a/.%2e/b", NULL},
	{"/a/%2e/b", NULL},
	{"/a/..%3b/b", NULL},
	{"/a/.%3bx/b", NULL},
	{"/a/..%20/b", NULL},
	{"/a/%20../b", NULL},
	{"/a/.../b", NULL},
	{"/cwa/....//admin", NULL},
	{"/a/...;x/b", NULL},
	{"/a/%252e%252e/b", NULL},
	{"/a/%25%32%65%25%32%65/b", NULL}, /* "%252e%252e" once decoded */
	{"/a%252fb", NULL},
	{"/a%25%35%63b", NULL},
	{"/a/%c0%ae%c0%ae/b", NULL}, /* overlong '.' */
	{"/a/%e0%80%ae/b", NULL},
	{"/a/%c0%af", NULL},
	{"/a/%ed%a0%80", NULL},	   /* a surrogate */
	{"/a/%f4%90%80%80", NULL}, /* beyond U+10FFFF */
	{"/a/%c3", NULL},	   /* truncated */
	{"/a/%c3x", NULL},
	{"/a/%80", NULL},
	{"/a/%ff", NULL},
	{"/a/%ef%bc%8e%ef%bc%8e/b", NULL}, /* full-width dots */
	{"/a%ef%bc%8fb", NULL},		   /* full-width slash */
	{"/a/..%2fb", NULL},
	{"/a%2fb", NULL},
	{"/a%2Fb", NULL},
	{"/a%5cb", NULL},
	{"/a\\b", NULL},
	{"/a%00b", NULL},
	{"/a%0d%0aX:%20y", NULL},
	{"/a%09", NULL},
	{"/a%7f", NULL},
	{"/a%zz", NULL},
	{"/a%2", NULL},
	{"/a%", NULL},
	{"/%u002e%u002e/", NULL},
	{"/a#b", NULL},
};

static void test_path_normalise(void **state)
{
	(void)state;

	for (size_t i = 0;
	     i < sizeof(test_path_cases) / sizeof(test_path_cases[0]); i++) {
		const char *target = test_path_cases[i].target;
		const char *fwd = test_path_cases[i].fwd;
		struct test_ctx t;
		enum http_action a;
		char req[512], *s;

		test_ctx_default(&t);
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n" H "\r\n",
			 target);
		a = test_feed_str(&t, req);
		if (fwd == NULL) {
			s = test_str(t.client);
			if (a != HTTP_CLOSE || strncmp(s, "HTTP/1.1 400 ", 13))
				fail_msg(
					"%s: action %d, answer %.20s, want 400",
					target, (int)a, s);
			free(s);
			if (evbuffer_get_length(t.to) != 0) {
				s = test_fwd_target(t.to);
				fail_msg("%s reached the backend as %s", target,
					 s);
			}
		} else {
			if (a != HTTP_CONTINUE ||
			    evbuffer_get_length(t.client) != 0) {
				s = test_str(t.client);
				fail_msg("%s: action %d, answered %.20s",
					 target, (int)a, s);
			}
			s = test_fwd_target(t.to);
			if (strcmp(s, fwd) != 0)
				fail_msg("%s forwarded as %s, want %s", target,
					 s, fwd);
			free(s);
		}
		test_ctx_done(&t);
	}
}

/* The published prefixes are matched on the normalised path, and the
 * backend gets that path: what was matched is what it serves. */
static void test_paths_normalised(void **state)
{
	static const char *const paths[] = {"/cwa/", "/%7eapp", "/a%3ab/"};
	static const struct {
		const char *target;
		const char *fwd; /* NULL: 404 */
	} cases[] = {
		{"/cwa/..;/admin", NULL},
		{"/cwa/x/../../admin", NULL},
		{"/cwa/./x", "/cwa/x"},
		{"/cwa/x/..", "/cwa/"},
		{"/other/../cwa/y?z", "/cwa/y?z"},
		{"/%63wa/y", "/cwa/y"},
		{"/cwa/%2e%2fadmin", NULL}, /* (a 400, below) */
		{"/~app/x", "/~app/x"},
		{"/%7Eapp", "/~app"},
		{"/~app;x", NULL},
		{"/~appx", NULL},
		{"/a%3Ab/x", "/a%3Ab/x"},
		{"/a:b/x", NULL}, /* ':' and %3A are not the same */
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct test_ctx t;
		char req[256], *s;

		test_ctx_init(&t, CONFIG_HOST_ORIGINAL, paths, 3);
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n" H "\r\n",
			 cases[i].target);
		test_feed_str(&t, req);
		if (cases[i].fwd) {
			if (evbuffer_get_length(t.to) == 0) {
				s = test_str(t.client);
				fail_msg("%s: not forwarded: %.20s",
					 cases[i].target, s);
			}
			s = test_fwd_target(t.to);
			if (strcmp(s, cases[i].fwd) != 0)
				fail_msg("%s forwarded as %s", cases[i].target,
					 s);
			free(s);
		} else {
			s = test_str(t.client);
			if (strncmp(s, "HTTP/1.1 404 ", 13) != 0 &&
			    strncmp(s, "HTTP/1.1 400 ", 13) != 0)
				fail_msg("%s: %.20s", cases[i].target, s);
			free(s);
			assert_int_equal(evbuffer_get_length(t.to), 0);
		}
		test_ctx_done(&t);
	}
}

static void test_not_found_body_discarded(void **state)
{
	static const char *const paths[] = {"/owa/"};
	struct test_ctx t;
	char *s;
	(void)state;

	test_ctx_init(&t, CONFIG_HOST_ORIGINAL, paths, 1);
	assert_int_equal(test_feed_str(&t, "POST /x<script> HTTP/1.1\r\n" H
					   "Content-Length: 5\r\n\r\nhel"),
			 HTTP_CONTINUE);
	s = test_str(t.client);
	assert_memory_equal(s, "HTTP/1.1 404 Not Found\r\n", 24);
	assert_null(strstr(s, "<script>"));
	assert_non_null(strstr(s, "is not published on cwa.example.com"));
	free(s);
	evbuffer_drain(t.client, evbuffer_get_length(t.client));
	assert_false(http_awaiting_head(t.h)); /* reading the body */
	assert_int_equal(test_feed_str(&t, "loGET /owa/ HTTP/1.1\r\n" H "\r\n"),
			 HTTP_CONTINUE);
	assert_int_equal(evbuffer_get_length(t.client), 0);
	s = test_str(t.to);
	assert_memory_equal(s, "GET /owa/ HTTP/1.1\r\n", 20);
	free(s);
	test_ctx_done(&t);
}

/* The largest head that passes (HTTP_MAX_HEADERS fields filling
 * HTTP_MAX_HEAD, a long target and query): re-serialised in one reservation
 * of the backend's buffer, every kept field in order, the head ending once,
 * nothing written past it (ASan in the test build). */
static void test_largest_head_serialised(void **state)
{
	struct evbuffer *req = evbuffer_new();
	struct test_ctx t;
	char *s, *p;
	size_t fill;
	(void)state;

	assert_non_null(req);
	evbuffer_add_printf(req, "POST /%0500d?%0500d HTTP/1.1\r\n" H, 1, 2);
	evbuffer_add_printf(req, "Content-Length: 2\r\nConnection: close\r\n");
	fill = (HTTP_MAX_HEAD - evbuffer_get_length(req) - 2) /
		       (HTTP_MAX_HEADERS - 3) -
	       11;
	for (int i = 0; i < HTTP_MAX_HEADERS - 3; i++)
		evbuffer_add_printf(req, "X-%04d: %0*d\r\n", i, (int)fill, i);
	evbuffer_add_printf(req, "\r\nok");
	assert_true(evbuffer_get_length(req) <= HTTP_MAX_HEAD + 2);
	test_ctx_default(&t);
	s = test_str(req);
	assert_int_equal(test_feed_str(&t, s), HTTP_CONTINUE);
	free(s);
	assert_int_equal(evbuffer_get_length(t.client), 0);
	s = test_str(t.to);
	assert_memory_equal(s, "POST /", 6);
	p = s;
	for (int i = 0; i < HTTP_MAX_HEADERS - 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "\r\nX-%04d: ", i);
		p = strstr(p, name);
		if (p == NULL)
			fail_msg("field %d missing or out of order", i);
	}
	assert_non_null(strstr(s, "\r\nContent-Length: 2\r\n"));
	assert_non_null(strstr(s, "\r\nConnection: close\r\n\r\nok"));
	assert_null(strstr(strstr(s, "\r\n\r\n") + 4, "\r\n\r\n"));
	free(s);
	test_ctx_done(&t);
	evbuffer_free(req);
}

/* With the log above INFO, nothing is copied for access lines, yet the 404
 * and 421 pages still name the (escaped) target and Host; and a response
 * whose head parsed whole in one read goes to the client unstaged, byte for
 * byte. */
static void test_quiet_log_pages(void **state)
{
	static const char *const paths[] = {"/owa/"};
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
				   "\r\nok";
	struct test_ctx t;
	char *s;
	(void)state;

	log_set_level(LOG_LEVEL_WARN);
	test_ctx_init(&t, CONFIG_HOST_ORIGINAL, paths, 1);
	assert_int_equal(
		test_feed_str(&t,
			      "GET /x%22y HTTP/1.1\r\n" H "\r\n"
			      "GET /a HTTP/1.1\r\nHost: evil.example\r\n\r\n"
			      "GET /owa/ HTTP/1.1\r\n" H "\r\n"),
		HTTP_CONTINUE);
	s = test_str(t.client);
	assert_memory_equal(s, "HTTP/1.1 404 Not Found\r\n", 24);
	assert_non_null(
		strstr(s, "/x%22y is not published on cwa.example.com"));
	assert_non_null(strstr(s, "HTTP/1.1 421 Misdirected Request\r\n"));
	assert_non_null(strstr(s, "does not publish evil.example;"));
	free(s);
	evbuffer_drain(t.client, evbuffer_get_length(t.client));
	s = test_str(t.to);
	assert_memory_equal(s, "GET /owa/ HTTP/1.1\r\n", 20);
	free(s);
	assert_int_equal(test_backend(&t, resp), HTTP_CONTINUE);
	s = test_str(t.client);
	assert_string_equal(s, resp);
	free(s);
	assert_true(http_awaiting_head(t.h));
	test_ctx_done(&t);
	log_set_level(LOG_LEVEL_INFO);
}

static void test_pipelined(void **state)
{
	struct test_ctx t;
	(void)state;

	test_ctx_default(&t);
	assert_int_equal(test_feed_str(&t, "GET /1 HTTP/1.1\r\n" H "\r\n"
					   "GET /2 HTTP/1.1\r\n" H "\r\n"),
			 HTTP_CONTINUE);
	test_expect(t.to, "GET /1 HTTP/1.1\r\n" H XF "cwa.example.com\r\n"
			  "Connection: keep-alive\r\n\r\n");
	assert_false(http_awaiting_head(t.h));
	assert_int_equal(test_backend(&t, "HTTP/1.1 200 OK\r\nContent-Length: 1"
					  "\r\n\r\n1"),
			 HTTP_CONTINUE);
	test_expect(t.client, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1");
	assert_true(http_awaiting_head(t.h));
	/* The caller calls again when its client input is not empty. */
	assert_int_equal(http_from_client(t.h, t.from, t.to, t.client, &t.need),
			 HTTP_CONTINUE);
	test_expect(t.to, "GET /2 HTTP/1.1\r\n" H XF "cwa.example.com\r\n"
			  "Connection: keep-alive\r\n\r\n");
	/* Chunked response forwarded as received, then the connection is
	 * idle and awaiting a head. */
	assert_int_equal(test_backend(&t,
				      "HTTP/1.1 200 OK\r\nTransfer-Encoding:"
				      " chunked\r\n\r\n2\r\nok\r\n"),
			 HTTP_CONTINUE);
	assert_false(http_awaiting_head(t.h));
	assert_int_equal(test_backend(&t, "0\r\n\r\n"), HTTP_CONTINUE);
	test_expect(t.client, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
			      "\r\n\r\n2\r\nok\r\n0\r\n\r\n");
	assert_true(http_awaiting_head(t.h));
	test_ctx_done(&t);
}

static void test_body_in_pieces(void **state)
{
	struct test_ctx t;
	(void)state;

	test_ctx_default(&t);
	assert_int_equal(test_feed_str(&t, "POST / HTTP/1.1\r\n" H
					   "Content-Length: 10\r\n\r\nab"),
			 HTTP_CONTINUE);
	test_expect(t.to, "POST / HTTP/1.1\r\n" H XF "cwa.example.com\r\n"
			  "Content-Length: 10\r\nConnection: keep-alive\r\n"
			  "\r\nab");
	assert_false(http_awaiting_head(t.h));
	assert_int_equal(test_feed_str(&t, "cdef"), HTTP_CONTINUE);
	test_expect(t.to, "cdef");
	assert_int_equal(test_feed_str(&t, "ghijGET"), HTTP_CONTINUE);
	test_expect(t.to, "ghij");
	/* The next request waits for the response. */
	assert_int_equal(evbuffer_get_length(t.from), 3);
	assert_int_equal(test_backend(&t, "HTTP/1.1 204 No Content\r\n\r\n"),
			 HTTP_CONTINUE);
	test_expect(t.client, "HTTP/1.1 204 No Content\r\n\r\n");
	assert_int_equal(test_feed_str(&t, " / HTTP/1.1\r\n" H "\r\n"),
			 HTTP_CONTINUE);
	assert_true(evbuffer_get_length(t.to) > 0);
	test_ctx_done(&t);
}

static void test_early_response(void **state)
{
	struct test_ctx t;
	(void)state;

	/* NTLM: a 401 may come before the body was sent whole. */
	test_ctx_default(&t);
	assert_int_equal(test_feed_str(&t, "POST / HTTP/1.1\r\n" H
					   "Content-Length: 4\r\n\r\nab"),
			 HTTP_CONTINUE);
	evbuffer_drain(t.to, evbuffer_get_length(t.to));
	assert_int_equal(test_backend(&t, "HTTP/1.1 401 Unauthorized\r\n"
					  "Content-Length: 0\r\n\r\n"),
			 HTTP_CONTINUE);
	assert_false(http_awaiting_head(t.h));
	assert_int_equal(test_feed_str(&t, "cdGET /n HTTP/1.1\r\n" H "\r\n"),
			 HTTP_CONTINUE);
	char *s = test_str(t.to);
	assert_memory_equal(s, "cdGET /n HTTP/1.1\r\n", 19);
	free(s);
	test_ctx_done(&t);
}

static void test_continue(void **state)
{
	struct test_ctx t;
	(void)state;

	test_ctx_default(&t);
	assert_int_equal(test_feed_str(&t, "PUT /p HTTP/1.1\r\n" H
					   "Expect: 100-continue\r\n"
					   "Content-Length: 2\r\n\r\n"),
			 HTTP_CONTINUE);
	evbuffer_drain(t.to, evbuffer_get_length(t.to));
	assert_int_equal(test_backend(&t, "HTTP/1.1 100 Continue\r\n\r\n"),
			 HTTP_CONTINUE);
	test_expect(t.client, "HTTP/1.1 100 Continue\r\n\r\n");
	assert_int_equal(test_feed_str(&t, "ok"), HTTP_CONTINUE);
	test_expect(t.to, "ok");
	assert_int_equal(test_backend(&t, "HTTP/1.1 201 Created\r\n"
					  "Content-Length: 0\r\n\r\n"),
			 HTTP_CONTINUE);
	test_expect(t.client, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n"
			      "\r\n");
	assert_true(http_awaiting_head(t.h));
	test_ctx_done(&t);
}

#define UPG                                                                    \
	"GET /ws HTTP/1.1\r\n" H                                               \
	"Connection: Upgrade\r\nUpgrade: websocket\r\n"                        \
	"\r\n"

static void test_upgrade_101(void **state)
{
	struct test_ctx t;
	(void)state;

	test_ctx_default(&t);
	assert_int_equal(test_feed_str(&t, UPG "\x81\x05hello"), HTTP_CONTINUE);
	test_expect(t.to, "GET /ws HTTP/1.1\r\n" H XF "cwa.example.com\r\n"
			  "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
	/* Frames after the upgrade request are held until the answer. */
	assert_int_equal(evbuffer_get_length(t.from), 7);
	assert_int_equal(http_from_client(t.h, t.from, t.to, t.client, &t.need),
			 HTTP_CONTINUE);
	assert_int_equal(evbuffer_get_length(t.to), 0);
	assert_int_equal(test_backend(&t,
				      "HTTP/1.1 101 Switching Protocols\r\n"
				      "Connection: Upgrade\r\n"
				      "Upgrade: websocket\r\n\r\n\x81\x02hi"),
			 HTTP_TUNNEL);
	test_expect(t.client,
		    "HTTP/1.1 101 Switching Protocols\r\n"
		    "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
	test_expect(t.bfrom, "\x81\x02hi");
	test_expect(t.from, "\x81\x05hello");
	assert_int_equal(http_from_client(t.h, t.from, t.to, t.client, &t.need),
			 HTTP_TUNNEL);
	test_ctx_done(&t);
}

static void test_upgrade_refused(void **state)
{
	struct test_ctx t;
	(void)state;

	test_ctx_default(&t);
	assert_int_equal(
		test_feed_str(&t, UPG "GET /next HTTP/1.1\r\n" H "\r\n"),
		HTTP_CONTINUE);
	evbuffer_drain(t.to, evbuffer_get_length(t.to));
	assert_int_equal(test_backend(&t, "HTTP/1.1 400 Bad Request\r\n"
					  "Content-Length: 3\r\n\r\nno!"),
			 HTTP_CONTINUE);
	test_expect(t.client, "HTTP/1.1 400 Bad Request\r\nContent-Length: 3"
			      "\r\n\r\nno!");
	assert_int_equal(http_from_client(t.h, t.from, t.to, t.client, &t.need),
			 HTTP_CONTINUE);
	char *s = test_str(t.to);
	assert_memory_equal(s, "GET /next HTTP/1.1\r\n", 20);
	free(s);
	test_ctx_done(&t);
}

static void test_unasked_101(void **state)
{
	struct test_ctx t;
	char *s;
	(void)state;

	test_ctx_default(&t);
	test_feed_str(&t, "GET / HTTP/1.1\r\n" H "\r\n");
	assert_int_equal(test_backend(&t, "HTTP/1.1 101 Switching Protocols\r\n"
					  "Connection: Upgrade\r\n"
					  "Upgrade: websocket\r\n\r\n"),
			 HTTP_CLOSE);
	s = test_str(t.client);
	assert_memory_equal(s, "HTTP/1.1 502 Bad Gateway\r\n", 26);
	free(s);
	test_ctx_done(&t);
}

static void test_head_response(void **state)
{
	struct test_ctx t;
	(void)state;

	test_ctx_default(&t);
	test_feed_str(&t, "HEAD / HTTP/1.1\r\n" H "\r\n");
	assert_int_equal(test_backend(&t, "HTTP/1.1 200 OK\r\n"
					  "Content-Length: 100\r\n\r\n"),
			 HTTP_CONTINUE);
	test_expect(t.client, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
	assert_true(http_awaiting_head(t.h));
	evbuffer_drain(t.to, evbuffer_get_length(t.to));
	test_feed_str(&t, "GET / HTTP/1.1\r\n" H "\r\n");
	assert_int_equal(test_backend(&t, "HTTP/1.1 200 OK\r\n"
					  "Content-Length: 2\r\n\r\nab"),
			 HTTP_CONTINUE);
	test_expect(t.client, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab");
	assert_true(http_awaiting_head(t.h));
	test_ctx_done(&t);
}

static void test_bad_responses(void **state)
{
	static const char *const bad_resp[] = {
		"HTTP/1.1 abc\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n"
		"\r\n",
		"garbage\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
		"Content-Length: 3\r\n\r\n",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(bad_resp) / sizeof(bad_resp[0]); i++) {
		for (int bytewise = 0; bytewise < 2; bytewise++) {
			struct test_ctx t;
			enum http_action a = HTTP_CONTINUE;
			char *s;

			test_ctx_default(&t);
			test_feed_str(&t, "GET / HTTP/1.1\r\n" H "\r\n");
			if (bytewise) {
				for (const char *p = bad_resp[i];
				     *p && a == HTTP_CONTINUE; p++) {
					evbuffer_add(t.bfrom, p, 1);
					a = http_from_backend(t.h, t.bfrom,
							      t.client);
				}
			} else {
				a = test_backend(&t, bad_resp[i]);
			}
			assert_int_equal(a, HTTP_CLOSE);
			s = test_str(t.client);
			if (strncmp(s, "HTTP/1.1 502 Bad Gateway\r\n", 26) != 0)
				fail_msg("response %zu: %s", i, s);
			assert_non_null(strstr(s, "Connection: close\r\n"));
			free(s);
			test_ctx_done(&t);
		}
	}
}

static void test_response_close(void **state)
{
	struct test_ctx t;
	(void)state;

	/* The backend closes: so do we. */
	test_ctx_default(&t);
	test_feed_str(&t, "GET / HTTP/1.1\r\n" H "\r\n");
	assert_int_equal(test_backend(&t, "HTTP/1.1 200 OK\r\nConnection: close"
					  "\r\nContent-Length: 0\r\n\r\n"),
			 HTTP_CLOSE);
	test_ctx_done(&t);

	/* The client asked close. */
	test_ctx_default(&t);
	test_feed_str(&t, "GET / HTTP/1.1\r\n" H "Connection: close\r\n\r\n"
			  "GET /ignored HTTP/1.1\r\n" H "\r\n");
	assert_int_equal(test_backend(&t, "HTTP/1.1 200 OK\r\n"
					  "Content-Length: 0\r\n\r\n"),
			 HTTP_CLOSE);
	test_ctx_done(&t);

	/* A body delimited by close: logged when the connection is freed. */
	test_ctx_default(&t);
	test_feed_str(&t, "GET / HTTP/1.0\r\n" H "\r\n");
	assert_int_equal(test_backend(&t, "HTTP/1.0 200 OK\r\n\r\npart"),
			 HTTP_CONTINUE);
	test_expect(t.client, "HTTP/1.0 200 OK\r\n\r\npart");
	test_ctx_done(&t);

	/* Bytes nobody asked for. */
	test_ctx_default(&t);
	assert_int_equal(test_backend(&t, "HTTP/1.1 200 OK\r\n\r\n"),
			 HTTP_CLOSE);
	assert_int_equal(evbuffer_get_length(t.client), 0);
	test_ctx_done(&t);
}

static void test_backend_failed(void **state)
{
	struct test_ctx t;
	char *s;
	(void)state;

	test_ctx_default(&t);
	test_feed_str(&t, "GET / HTTP/1.1\r\n" H "\r\n");
	http_backend_failed(t.h, false, "connection refused", t.client);
	s = test_str(t.client);
	assert_memory_equal(s, "HTTP/1.1 502 Bad Gateway\r\n", 26);
	assert_non_null(strstr(s, "Connection: close\r\n"));
	assert_non_null(strstr(s, "cwa.example.com"));
	assert_null(strstr(s, "refused")); /* the reason is for the log */
	free(s);
	test_ctx_done(&t);

	test_ctx_default(&t);
	test_feed_str(&t, "GET / HTTP/1.1\r\n" H "\r\n");
	http_backend_failed(t.h, true, "connect timeout", t.client);
	s = test_str(t.client);
	assert_memory_equal(s, "HTTP/1.1 504 Gateway Timeout\r\n", 30);
	free(s);
	test_ctx_done(&t);

	/* After the response started nothing can be said. */
	test_ctx_default(&t);
	test_feed_str(&t, "GET / HTTP/1.1\r\n" H "\r\n");
	test_backend(&t, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab");
	evbuffer_drain(t.client, evbuffer_get_length(t.client));
	http_backend_failed(t.h, false, "reset", t.client);
	assert_int_equal(evbuffer_get_length(t.client), 0);
	test_ctx_done(&t);
}

/* h2c is for cleartext only: over TLS an Upgrade other than websocket is
 * stripped and the request forwarded as an ordinary one. */
static void test_upgrade_h2c_stripped(void **state)
{
	struct test_ctx t;
	struct test_log l;
	char *log, *s;
	(void)state;

	test_log_start(&l);
	test_ctx_default(&t);
	assert_int_equal(test_feed_str(&t,
				       "GET /a HTTP/1.1\r\n" H
				       "Connection: Upgrade, HTTP2-Settings"
				       "\r\nUpgrade: h2c\r\nHTTP2-Settings: "
				       "AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"),
			 HTTP_CONTINUE);
	test_expect(t.to, "GET /a HTTP/1.1\r\n" H XF "cwa.example.com\r\n"
			  "Connection: keep-alive\r\n\r\n");
	/* It asked no upgrade of the backend: a 101 is a bad response. */
	assert_int_equal(test_backend(&t, "HTTP/1.1 101 Switching Protocols\r\n"
					  "Connection: Upgrade\r\n"
					  "Upgrade: h2c\r\n\r\n"),
			 HTTP_CLOSE);
	test_expect_start(t.client, "HTTP/1.1 502 Bad Gateway\r\n");
	test_ctx_done(&t);

	/* With a body (allowed for h2c), and the connection goes on. */
	test_ctx_default(&t);
	assert_int_equal(test_feed_str(&t, "POST /p HTTP/1.1\r\n" H
					   "Connection: upgrade\r\n"
					   "Upgrade: websocket, h2c\r\n"
					   "Content-Length: 2\r\n\r\nok"),
			 HTTP_CONTINUE);
	test_expect(t.to, "POST /p HTTP/1.1\r\n" H XF "cwa.example.com\r\n"
			  "Content-Length: 2\r\nConnection: keep-alive\r\n\r\n"
			  "ok");
	assert_int_equal(test_backend(&t, "HTTP/1.1 200 OK\r\n"
					  "Content-Length: 0\r\n\r\n"),
			 HTTP_CONTINUE);
	assert_int_equal(test_feed_str(&t, "GET /n HTTP/1.1\r\n" H "\r\n"),
			 HTTP_CONTINUE);
	s = test_str(t.to);
	assert_memory_equal(s, "GET /n HTTP/1.1\r\n", 17);
	free(s);
	test_ctx_done(&t);
	log = test_log_end(&l);
	assert_int_equal(test_log_count(log, "Upgrade \"h2c\" stripped"), 1);
	assert_int_equal(
		test_log_count(log, "Upgrade \"websocket,%20h2c\" stripped"),
		1);
	free(log);
}

/* Header fields with '_' in the name are dropped, and count for nothing. */
static void test_underscore_fields(void **state)
{
	struct test_ctx t;
	struct test_log l;
	char *log;
	(void)state;

	test_log_start(&l);
	test_ctx_default(&t);
	assert_int_equal(test_feed_str(&t, "POST /p HTTP/1.1\r\n" H
					   "X_Forwarded_For: 6.6.6.6\r\n"
					   "Content_Length: 5\r\n"
					   "X-Ok: 1\r\n"
					   "Transfer_Encoding: chunked\r\n"
					   "Ho_st: evil.example\r\n\r\n"),
			 HTTP_CONTINUE);
	/* No body (neither framing field counts), no second Host. */
	test_expect(t.to, "POST /p HTTP/1.1\r\n" H "X-Ok: 1\r\n" XF
			  "cwa.example.com\r\nConnection: keep-alive\r\n\r\n");
	assert_int_equal(evbuffer_get_length(t.client), 0);
	test_ctx_done(&t);

	/* A Host with '_' is no Host. */
	test_ctx_default(&t);
	assert_int_equal(test_feed_str(&t, "GET / HTTP/1.1\r\n"
					   "Host_: cwa.example.com\r\n\r\n"),
			 HTTP_CLOSE);
	test_expect_start(t.client, "HTTP/1.1 400 ");
	assert_int_equal(evbuffer_get_length(t.to), 0);
	test_ctx_done(&t);
	log = test_log_end(&l);
	/* One line per request, naming the first. */
	assert_int_equal(test_log_count(log, "with '_' in the name"), 2);
	assert_non_null(strstr(log, "dropped 4 header field(s) with '_' in "
				    "the name, the first \"X_Forwarded_For\""));
	assert_non_null(strstr(log, "dropped 1 header field(s) with '_' in "
				    "the name, the first \"Host_\""));
	assert_non_null(strstr(log, "reason=\"no Host\""));
	free(log);
}

/* http_client_eof: nothing the client left unparsed is ever forwarded. */
static void test_client_eof(void **state)
{
	struct test_ctx t;
	struct test_log l;
	char *log, *s;
	(void)state;

	/* A pipelined request behind a pending response is discarded; the
	 * response still goes out, then the connection ends. */
	test_log_start(&l);
	test_ctx_default(&t);
	assert_int_equal(test_feed_str(&t, "GET /1 HTTP/1.1\r\n" H "\r\n"
					   "GET /2 HTTP/1.1\r\n" H "\r\n"),
			 HTTP_CONTINUE);
	evbuffer_drain(t.to, evbuffer_get_length(t.to));
	assert_true(http_response_pending(t.h));
	assert_int_equal(http_client_eof(t.h, t.from),
			 strlen("GET /2 HTTP/1.1\r\n" H "\r\n"));
	assert_int_equal(evbuffer_get_length(t.from), 0);
	assert_false(http_request_incomplete(t.h));
	assert_false(http_awaiting_head(t.h));
	assert_int_equal(test_feed_str(&t, "GET /3 HTTP/1.1\r\n" H "\r\n"),
			 HTTP_CONTINUE);
	assert_int_equal(evbuffer_get_length(t.from), 0);
	assert_int_equal(test_backend(&t, "HTTP/1.1 200 OK\r\n"
					  "Content-Length: 1\r\n\r\nx"),
			 HTTP_CLOSE);
	test_expect(t.client, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
	assert_int_equal(http_from_client(t.h, t.from, t.to, t.client, &t.need),
			 HTTP_CLOSE);
	assert_int_equal(evbuffer_get_length(t.to), 0);
	test_ctx_done(&t);

	/* An incomplete head: dropped, nothing answered. */
	test_ctx_default(&t);
	assert_int_equal(test_feed_str(&t, "GET / HTT"), HTTP_CONTINUE);
	assert_int_equal(http_client_eof(t.h, t.from), 9);
	assert_int_equal(http_from_client(t.h, t.from, t.to, t.client, &t.need),
			 HTTP_CLOSE);
	http_head_timeout(t.h, t.client);
	assert_int_equal(evbuffer_get_length(t.client), 0);
	assert_int_equal(evbuffer_get_length(t.to), 0);
	test_ctx_done(&t);

	/* A body cut short: the request is logged as aborted and the caller
	 * learns that the backend connection must close. */
	test_ctx_default(&t);
	assert_int_equal(test_feed_str(&t, "POST /up HTTP/1.1\r\n" H
					   "Content-Length: 10\r\n\r\nabc"),
			 HTTP_CONTINUE);
	evbuffer_drain(t.to, evbuffer_get_length(t.to));
	assert_true(http_request_incomplete(t.h));
	assert_int_equal(http_client_eof(t.h, t.from), 0);
	assert_true(http_request_incomplete(t.h));
	assert_false(http_response_pending(t.h));
	assert_int_equal(test_feed_str(&t, "defghij"), HTTP_CLOSE);
	assert_int_equal(evbuffer_get_length(t.to), 0);
	assert_int_equal(evbuffer_get_length(t.client), 0);
	test_ctx_done(&t);

	/* Frames held behind an upgrade request: dropped; the 101 then ends
	 * the connection instead of starting a tunnel for nobody. */
	test_ctx_default(&t);
	assert_int_equal(test_feed_str(&t, UPG "\x81\x05hello"), HTTP_CONTINUE);
	evbuffer_drain(t.to, evbuffer_get_length(t.to));
	assert_int_equal(http_client_eof(t.h, t.from), 7);
	assert_int_equal(test_backend(&t, "HTTP/1.1 101 Switching Protocols\r\n"
					  "Connection: Upgrade\r\n"
					  "Upgrade: websocket\r\n\r\n"),
			 HTTP_CLOSE);
	test_ctx_done(&t);

	/* The body of a request answered early (NTLM 401): no second line. */
	test_ctx_default(&t);
	test_feed_str(&t,
		      "POST /n HTTP/1.1\r\n" H "Content-Length: 4\r\n\r\nab");
	assert_int_equal(test_backend(&t, "HTTP/1.1 401 Unauthorized\r\n"
					  "Content-Length: 0\r\n\r\n"),
			 HTTP_CONTINUE);
	assert_int_equal(http_client_eof(t.h, t.from), 0);
	assert_true(http_request_incomplete(t.h));
	assert_int_equal(http_from_client(t.h, t.from, t.to, t.client, &t.need),
			 HTTP_CLOSE);
	test_ctx_done(&t);
	log = test_log_end(&l);
	assert_int_equal(test_log_count(log, "\"GET /1 HTTP/1.1\" status=200"),
			 1);
	assert_null(strstr(log, "/2 HTTP"));
	assert_null(strstr(log, "/3 HTTP"));
	s = strstr(log, "\"POST /up HTTP/1.1\" status=499 bytes=0 ");
	assert_non_null(s);
	assert_non_null(strstr(s, "reason=\"request aborted by the client\""));
	assert_int_equal(test_log_count(log, "\"POST /n HTTP/1.1\""), 1);
	free(log);
}

/* A response timeout: 504 while nothing of the response reached the
 * client (an interim 100 Continue does not count), and the log says why. */
static void test_response_timeout(void **state)
{
	struct test_ctx t;
	struct test_log l;
	char *log;
	(void)state;

	test_log_start(&l);
	test_ctx_default(&t);
	assert_false(http_response_pending(t.h));
	test_feed_str(&t, "GET /slow HTTP/1.1\r\n" H "\r\n");
	assert_true(http_response_pending(t.h));
	/* Part of a head staged (never sent): still a 504. */
	assert_int_equal(test_backend(&t, "HTTP/1.1 200 OK\r\nConte"),
			 HTTP_CONTINUE);
	assert_true(http_response_pending(t.h));
	assert_int_equal(evbuffer_get_length(t.client), 0);
	http_backend_failed(t.h, true, "response timeout", t.client);
	test_expect_start(t.client, "HTTP/1.1 504 Gateway Timeout\r\n");
	assert_false(http_response_pending(t.h));
	test_ctx_done(&t);

	test_ctx_default(&t);
	test_feed_str(&t, "PUT /c HTTP/1.1\r\n" H "Expect: 100-continue\r\n"
			  "Content-Length: 2\r\n\r\n");
	test_backend(&t, "HTTP/1.1 100 Continue\r\n\r\n");
	test_expect(t.client, "HTTP/1.1 100 Continue\r\n\r\n");
	test_feed_str(&t, "ok");
	assert_true(http_response_pending(t.h));
	http_backend_failed(t.h, true, "response timeout", t.client);
	test_expect_start(t.client, "HTTP/1.1 504 Gateway Timeout\r\n");
	test_ctx_done(&t);

	/* A response that ended is not pending; neither is a local 404. */
	static const char *const owa[] = {"/owa/"};
	test_ctx_init(&t, CONFIG_HOST_ORIGINAL, owa, 1);
	test_feed_str(&t, "GET /owa/ HTTP/1.1\r\n" H "\r\n");
	test_backend(&t, "HTTP/1.1 204 No Content\r\n\r\n");
	assert_false(http_response_pending(t.h));
	test_feed_str(&t, "GET /x HTTP/1.1\r\n" H "\r\n");
	assert_false(http_response_pending(t.h));
	test_ctx_done(&t);
	log = test_log_end(&l);
	assert_non_null(strstr(log, "\"GET /slow HTTP/1.1\" status=504 "));
	assert_non_null(strstr(log, "\"PUT /c HTTP/1.1\" status=504 "));
	assert_int_equal(test_log_count(log, "reason=\"response timeout\""), 2);
	free(log);
}

/* One access line per request; backend= names the backend only for a
 * request that went there. */
static void test_access_lines(void **state)
{
	static const char *const owa[] = {"/owa/"};
	struct test_ctx t;
	struct test_log l;
	char *log;
	(void)state;

	test_log_start(&l);
	test_ctx_init(&t, CONFIG_HOST_ORIGINAL, owa, 1);
	test_feed_str(&t, "GET /owa/a HTTP/1.1\r\n" H "\r\n");
	test_backend(&t, "HTTP/1.1 204 No Content\r\n\r\n");
	/* A 404 whose body then breaks: closed, not answered twice. */
	assert_int_equal(test_feed_str(&t, "POST /x HTTP/1.1\r\n" H
					   "Transfer-Encoding: chunked\r\n\r\n"
					   "zz\r\n"),
			 HTTP_CLOSE);
	test_ctx_done(&t);
	/* A request still waiting when the connection goes is logged too. */
	test_ctx_init(&t, CONFIG_HOST_ORIGINAL, owa, 1);
	test_feed_str(&t, "GET /owa/w HTTP/1.1\r\n" H "\r\n");
	test_ctx_done(&t);
	log = test_log_end(&l);
	assert_non_null(strstr(log, "\"GET /owa/a HTTP/1.1\" status=204 "
				    "bytes=27 "));
	assert_non_null(strstr(log, " backend=10.0.0.7:443 "));
	assert_non_null(strstr(log, "\"POST /x HTTP/1.1\" status=404 "));
	assert_int_equal(test_log_count(log, "\"POST /x HTTP/1.1\""), 1);
	assert_int_equal(test_log_count(log, " backend=- "), 1);
	assert_non_null(strstr(log, "\"GET /owa/w HTTP/1.1\" status=0 "));
	free(log);
}

static void test_head_timeout(void **state)
{
	struct test_ctx t;
	char *s;
	(void)state;

	/* Nothing answered yet: 408. */
	test_ctx_default(&t);
	assert_true(http_awaiting_head(t.h));
	http_head_timeout(t.h, t.client);
	s = test_str(t.client);
	assert_memory_equal(s, "HTTP/1.1 408 Request Timeout\r\n", 30);
	free(s);
	test_ctx_done(&t);

	/* Idle keep-alive after an answered request: close silently. */
	test_ctx_default(&t);
	test_feed_str(&t, "GET / HTTP/1.1\r\n" H "\r\n");
	test_backend(&t, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	evbuffer_drain(t.client, evbuffer_get_length(t.client));
	assert_true(http_awaiting_head(t.h));
	http_head_timeout(t.h, t.client);
	assert_int_equal(evbuffer_get_length(t.client), 0);
	test_ctx_done(&t);

	/* A head started (slowloris): 408. */
	test_ctx_default(&t);
	test_feed_str(&t, "GET / HTTP/1.1\r\n" H "\r\n");
	test_backend(&t, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	evbuffer_drain(t.client, evbuffer_get_length(t.client));
	test_feed_str(&t, "GET / HTTP/1.1\r\nX-A: a");
	assert_true(http_awaiting_head(t.h));
	http_head_timeout(t.h, t.client);
	s = test_str(t.client);
	assert_memory_equal(s, "HTTP/1.1 408 Request Timeout\r\n", 30);
	free(s);
	test_ctx_done(&t);
}

/* The 408 line measures from when the head was awaited. */
static void test_head_timeout_ms(void **state)
{
	struct timespec nap = {0, 60 * 1000 * 1000};
	struct test_ctx t;
	struct test_log l;
	char *log, *s;
	(void)state;

	test_log_start(&l);
	test_ctx_default(&t);
	test_feed_str(&t, "GET / HTTP/1.1\r\nX-A: a");
	nanosleep(&nap, NULL);
	http_head_timeout(t.h, t.client);
	test_ctx_done(&t);
	log = test_log_end(&l);
	s = strstr(log, " status=408 ");
	assert_non_null(s);
	s = strstr(s, " ms=");
	assert_non_null(s);
	if (atoi(s + 4) < 50)
		fail_msg("408 logged with%.8s, want >= 50 ms", s);
	free(log);
}

/* ---- redirect listener ------------------------------------------------- */

static void test_redirect(void **state)
{
	static const struct {
		const char *req;
		const char *location; /* NULL: 400 */
	} cases[] = {
		{"GET /a/b?c=d&e HTTP/1.1\r\nHost: x\r\n\r\n",
		 "https://cwa.example.com/a/b?c=d&e"},
		{"GET / HTTP/1.0\r\n\r\n", "https://cwa.example.com/"},
		{"GET http://cwa.example.com/p?q HTTP/1.1\r\nHost: y\r\n\r\n",
		 "https://cwa.example.com/p?q"},
		{"OPTIONS * HTTP/1.1\r\nHost: y\r\n\r\n",
		 "https://cwa.example.com/"},
		{"GET /a\"<b> HTTP/1.1\r\n\r\n",
		 "https://cwa.example.com/a%22%3Cb%3E"},
		{"GET / HTTP/1.1\nHost: x\n\n", NULL},
		{"GET / HTTP/1.1\r\nHost : x\r\n\r\n", NULL},
		{"GARBAGE\r\n\r\n", NULL},
	};
	struct config_service svc;
	struct config_addr listen = {.port = 443};
	(void)state;

	memset(&svc, 0, sizeof(svc));
	svc.fqdn = "cwa.example.com";
	svc.listen = &listen;
	svc.nlisten = 1;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct evbuffer *from = evbuffer_new(), *to = evbuffer_new();
		const char *r = cases[i].req;
		enum http_action a = HTTP_CONTINUE;
		char *s, want[256];
		int st = -1;

		/* Byte by byte: incomplete heads wait. */
		for (size_t k = 0; r[k] && a == HTTP_CONTINUE; k++) {
			evbuffer_add(from, r + k, 1);
			a = http_redirect(&svc, from, to, &st);
			if (a == HTTP_CONTINUE) {
				assert_int_equal(evbuffer_get_length(to), 0);
				assert_int_equal(st, 0);
			}
		}
		assert_int_equal(a, HTTP_CLOSE);
		/* The status answered, for the metrics. */
		assert_int_equal(st, cases[i].location ? 301 : 400);
		s = test_str(to);
		if (cases[i].location) {
			snprintf(want, sizeof(want), "\r\nLocation: %s\r\n",
				 cases[i].location);
			assert_memory_equal(
				s, "HTTP/1.1 301 Moved Permanently\r\n", 32);
			if (strstr(s, want) == NULL)
				fail_msg("%s: %s", r, s);
			assert_non_null(strstr(s, "Connection: close\r\n"));
			assert_non_null(strstr(s, "Content-Length: "));
		} else {
			assert_memory_equal(s, "HTTP/1.1 400 ", 13);
		}
		free(s);
		evbuffer_free(from);
		evbuffer_free(to);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_good_requests),
		cmocka_unit_test(test_misdirected_keeps_connection),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_path_normalise),
		cmocka_unit_test(test_paths_normalised),
		cmocka_unit_test(test_not_found_body_discarded),
		cmocka_unit_test(test_quiet_log_pages),
		cmocka_unit_test(test_largest_head_serialised),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_body_in_pieces),
		cmocka_unit_test(test_early_response),
		cmocka_unit_test(test_continue),
		cmocka_unit_test(test_upgrade_101),
		cmocka_unit_test(test_upgrade_refused),
		cmocka_unit_test(test_unasked_101),
		cmocka_unit_test(test_head_response),
		cmocka_unit_test(test_bad_responses),
		cmocka_unit_test(test_response_close),
		cmocka_unit_test(test_backend_failed),
		cmocka_unit_test(test_upgrade_h2c_stripped),
		cmocka_unit_test(test_underscore_fields),
		cmocka_unit_test(test_client_eof),
		cmocka_unit_test(test_response_timeout),
		cmocka_unit_test(test_access_lines),
		cmocka_unit_test(test_head_timeout),
		cmocka_unit_test(test_head_timeout_ms),
		cmocka_unit_test(test_redirect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
