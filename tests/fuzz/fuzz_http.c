/* fuzz_http.c — libFuzzer target for HTTP publishing (src/http/).
 *
 * The input drives one client connection through http.c: byte 0 picks the
 * publishing rule (host_header, path list), then records of
 * [direction+length byte][bytes] feed the client side (requests, through
 * http_from_client) or the backend side (responses, through
 * http_from_backend) in the pieces a network would deliver.  With bit 5 of
 * byte 0, byte 1 says after how many records the client ends its side
 * (close_notify, FIN or RST: http_client_eof); the records after it still
 * come, backend responses as they would, client bytes to check that they
 * are ignored.  What the checker and the parser make of it must never
 * crash, leak or read out of bounds (built with ASan + UBSan), and once
 * http.c says HTTP_CLOSE or HTTP_TUNNEL the connection is over, as in
 * proxy_http.c.
 *
 * Properties checked on top, with a second, independent http_parser on
 * everything http.c sends to the backend:
 *  - it parses as clean HTTP/1.1 requests (nothing can be smuggled), only
 *    the last one ever unfinished, and unfinished exactly when
 *    http_request_incomplete says so (its body still streams or was cut);
 *  - no header field with '_' in its name, no HTTP2-Settings, no Upgrade
 *    but websocket; every path is in normal form (no dot segment, no
 *    encoded slash or backslash, no double encoding, escapes upper-case and
 *    only for what is not unreserved);
 *  - the requests on that wire are exactly the requests whose access-log
 *    line names the backend, in order, same method and path: nothing is
 *    forwarded that edge443 did not log as forwarded, and nothing is logged
 *    as forwarded that the backend did not get;
 *  - after http_client_eof nothing more reaches the backend, what the
 *    client left unparsed is discarded (and counted), and http_from_client
 *    answers HTTP_CONTINUE only while a response is pending.
 * With bit 4 of byte 0 the client bytes go to the port-80 redirect listener
 * instead (http_redirect), whose answer must parse as one response with at
 * most one Location and no header a request could inject, and whose
 * reported status must be the one it wrote.
 *
 * build and run: tests/fuzz/run.sh [SECONDS]
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <http_parser.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge443/http/http.h"
#include "edge443/base/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_REQS 256 /* requests of one input compared one by one */
#define FUZZ_PATH_KEPT                                                         \
	300 /* bytes of a path kept for that (the log keeps                    \
	     * 256 of them, escaped) */

static const char *const fuzz_names[] = {"cwa.example.com",
					 "as.cwa.example.com"};

/* One request as the backend saw it. */
struct fuzz_req {
	char method[24];
	char path[FUZZ_PATH_KEPT]; /* the target up to '?', cut */
	size_t pathlen;
};

/* The backend's view: everything sent to it goes through a fresh request
 * parser; any parse error is a finding. */
struct fuzz_wire {
	http_parser p;
	bool in_msg;   /* a request began and has not ended */
	char name[32]; /* the field being read (cut) */
	size_t namelen;
	bool in_value, is_upgrade;
	char value[16]; /* of an Upgrade field (cut) */
	size_t valuelen;
	size_t nreqs;
	struct fuzz_req reqs[FUZZ_MAX_REQS]; /* last: not cleared per input */
};

static struct fuzz_wire fuzz_wire;

static void fuzz_append(char *dst, size_t cap, size_t *len, const char *at,
			size_t n)
{
	size_t room = *len < cap ? cap - *len : 0;

	memcpy(dst + *len, at, n < room ? n : room);
	*len += n < room ? n : room;
}

static int fuzz_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* An Upgrade that reached the backend must be websocket (checked when the
 * field ends). */
static void fuzz_field_end(struct fuzz_wire *w)
{
	if (w->in_value && w->is_upgrade &&
	    !(w->valuelen == 9 && strncasecmp(w->value, "websocket", 9) == 0))
		abort(); /* an h2c (or other) upgrade was forwarded */
	w->in_value = false;
	w->is_upgrade = false;
	w->namelen = 0;
	w->valuelen = 0;
}

static int fuzz_begin_cb(http_parser *p)
{
	struct fuzz_wire *w = p->data;

	w->in_msg = true;
	if (w->nreqs < FUZZ_MAX_REQS)
		w->reqs[w->nreqs].pathlen = 0;
	w->nreqs++;
	return 0;
}

static int fuzz_url_cb(http_parser *p, const char *at, size_t n)
{
	struct fuzz_wire *w = p->data;

	if (w->nreqs <= FUZZ_MAX_REQS) {
		struct fuzz_req *r = &w->reqs[w->nreqs - 1];

		fuzz_append(r->path, sizeof(r->path), &r->pathlen, at, n);
	}
	return 0;
}

static int fuzz_field_cb(http_parser *p, const char *at, size_t n)
{
	struct fuzz_wire *w = p->data;

	if (w->in_value)
		fuzz_field_end(w);
	if (memchr(at, '_', n) != NULL)
		abort(); /* a field with '_' in its name reached the backend */
	fuzz_append(w->name, sizeof(w->name), &w->namelen, at, n);
	return 0;
}

static int fuzz_value_cb(http_parser *p, const char *at, size_t n)
{
	struct fuzz_wire *w = p->data;

	if (!w->in_value) {
		w->in_value = true;
		if (w->namelen == 14 &&
		    strncasecmp(w->name, "http2-settings", 14) == 0)
			abort();
		w->is_upgrade = w->namelen == 7 &&
				strncasecmp(w->name, "upgrade", 7) == 0;
	}
	fuzz_append(w->value, sizeof(w->value), &w->valuelen, at, n);
	return 0;
}

/* The path of an origin-form target must be in normal form: normalising
 * it again could change nothing a backend might read differently. */
static void fuzz_check_path(const char *s, size_t n)
{
	const char *q = memchr(s, '?', n);

	if (n == 1 && s[0] == '*')
		return;
	if (q != NULL)
		n = (size_t)(q - s);
	if (n == 0 || s[0] != '/')
		abort();
	for (size_t i = 0; i < n;) {
		size_t dots = 0, other = 0, j = i + 1;
		bool semi = false;

		for (; j < n && s[j] != '/'; j++) {
			if (s[j] == '\\')
				abort();
			if (s[j] == ';')
				semi = true;
			if (s[j] == '%') {
				int hi = j + 2 < n ? fuzz_hex(s[j + 1]) : -1;
				int lo = j + 2 < n ? fuzz_hex(s[j + 2]) : -1;
				int b = hi * 16 + lo;

				if (hi < 0 || lo < 0 || s[j + 1] > 'F' ||
				    s[j + 2] > 'F' || b == '/' || b == '\\' ||
				    b < 0x20 || b == 0x7f || b == '-' ||
				    b == '.' || b == '_' || b == '~' ||
				    (b >= '0' && b <= '9') ||
				    (b >= 'A' && b <= 'Z') ||
				    (b >= 'a' && b <= 'z'))
					abort(); /* not the normal form */
				if (b == '%' && j + 4 < n &&
				    fuzz_hex(s[j + 3]) >= 0 &&
				    fuzz_hex(s[j + 4]) >= 0)
					abort(); /* double encoding */
				if (!semi)
					other += b != ' ';
				j += 2;
			} else if (!semi) {
				dots += s[j] == '.';
				other += s[j] != '.';
			}
		}
		if (dots > 0 && other == 0)
			abort(); /* ".", "..", "...", "..;x" reached it */
		i = j;
	}
}

static int fuzz_headers_cb(http_parser *p)
{
	struct fuzz_wire *w = p->data;

	fuzz_field_end(w);
	if (w->nreqs <= FUZZ_MAX_REQS) {
		struct fuzz_req *r = &w->reqs[w->nreqs - 1];

		snprintf(r->method, sizeof(r->method), "%s",
			 http_method_str((enum http_method)p->method));
		if (r->pathlen < sizeof(r->path))
			fuzz_check_path(r->path, r->pathlen);
		if (memchr(r->path, '?', r->pathlen) != NULL)
			r->pathlen = (size_t)((char *)memchr(r->path, '?',
							     r->pathlen) -
					      r->path);
	}
	return 0;
}

static int fuzz_done_cb(http_parser *p)
{
	struct fuzz_wire *w = p->data;

	w->in_msg = false;
	return 0;
}

static const http_parser_settings fuzz_settings = {
	.on_message_begin = fuzz_begin_cb,
	.on_url = fuzz_url_cb,
	.on_header_field = fuzz_field_cb,
	.on_header_value = fuzz_value_cb,
	.on_headers_complete = fuzz_headers_cb,
	.on_message_complete = fuzz_done_cb,
};

/* Parse what B holds as the backend would (an upgrade request ends a
 * parser run early; the requests after a refused upgrade parse too). */
static void fuzz_wire_feed(struct fuzz_wire *w, struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b), off = 0;
	const char *bytes = (const char *)evbuffer_pullup(b, -1);

	while (off < n) {
		size_t used = http_parser_execute(&w->p, &fuzz_settings,
						  bytes + off, n - off);

		if (HTTP_PARSER_ERRNO(&w->p) != HPE_OK)
			abort(); /* http.c sent the backend something bad */
		if (used != n - off && !(w->p.upgrade && used > 0))
			abort();
		off += used;
	}
}

/* ---- the access log ------------------------------------------------------
 * log.c writes to a memory file; after each input its lines are read back
 * and the requests they log as forwarded (backend=FUZZ_BACKEND, where our
 * own answers say backend=-) compared with what the wire saw. */

#define FUZZ_BACKEND "10.0.0.7:443"

static int fuzz_log_fd = -1;

/* Is the log target T (TLEN bytes, as http_log_copy escapes it: bytes
 * outside printable ASCII, '"' and backslash as %XX, a '%' as is) the path R
 * saw, or the start of it when the log cut it? */
static bool fuzz_same_path(const char *t, size_t tlen, const struct fuzz_req *r)
{
	size_t i = 0, o = 0;

	while (i < tlen) {
		char c = t[i++];

		if (o >= r->pathlen)
			return o >= sizeof(r->path); /* the kept part ended */
		if (c == '%' && r->path[o] != '%' && i + 1 < tlen &&
		    fuzz_hex(t[i]) >= 0 && fuzz_hex(t[i + 1]) >= 0) {
			c = (char)(fuzz_hex(t[i]) * 16 + fuzz_hex(t[i + 1]));
			i += 2;
		}
		if (r->path[o++] != c)
			return false;
	}
	/* All of it, or what the log keeps (256 bytes with the escapes). */
	return o == r->pathlen || tlen >= 250;
}

static void fuzz_check_log(const struct fuzz_wire *w)
{
	size_t n = 0, k = 0;
	struct stat st;
	char *buf, *line, *end;

	if (fuzz_log_fd < 0 || fstat(fuzz_log_fd, &st) < 0)
		return;
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		return;
	if (st.st_size > 0)
		n = (size_t)pread(fuzz_log_fd, buf, (size_t)st.st_size, 0);
	buf[n] = '\0';
	for (line = buf; line < buf + n; line = end + 1) {
		char *req, *sp, *sp2, *status, *be;

		end = strchr(line, '\n');
		if (end == NULL)
			end = buf + n;
		*end = '\0';
		if (strstr(line, " INFO access client=") == NULL ||
		    (status = strstr(line, "\" status=")) == NULL)
			continue;
		be = strstr(status, " backend=");
		if (be == NULL)
			abort();
		if (strncmp(be + 9, FUZZ_BACKEND " ", strlen(FUZZ_BACKEND) + 1))
			continue; /* answered by edge443 itself */
		req = strchr(line, '"');
		sp = req ? strchr(req + 1, ' ') : NULL;
		sp2 = sp ? strchr(sp + 1, ' ') : NULL;
		if (sp2 == NULL || sp2 > status)
			abort();
		/* The k-th forwarded request logged is the k-th on the wire. */
		if (k >= w->nreqs)
			abort(); /* logged as forwarded, never sent */
		if (k < FUZZ_MAX_REQS) {
			const struct fuzz_req *r = &w->reqs[k];

			if ((size_t)(sp - req - 1) != strlen(r->method) ||
			    strncmp(req + 1, r->method, strlen(r->method)) ||
			    !fuzz_same_path(sp + 1, (size_t)(sp2 - sp - 1), r))
				abort(); /* another request than was sent */
		}
		k++;
	}
	if (k != w->nreqs)
		abort(); /* sent to the backend, never logged as forwarded */
	free(buf);
}

/* ---- the redirect listener ---------------------------------------------- */

/* The redirect answer: header names allowed in it, Location counted. */
struct fuzz_answer {
	int locations;
	const char *field;
	size_t fieldlen;
};

static int fuzz_on_field(http_parser *p, const char *at, size_t len)
{
	struct fuzz_answer *a = p->data;
	static const char *const allowed[] = {
		"Location",   "Content-Type",  "Content-Length",
		"Connection", "Cache-Control", "Server",
		"Date"};
	bool ok = false;

	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (strlen(allowed[i]) == len &&
		    strncasecmp(allowed[i], at, len) == 0)
			ok = true;
	if (!ok)
		abort(); /* a header the request injected */
	if (len == 8 && strncasecmp(at, "Location", 8) == 0)
		a->locations++;
	return 0;
}

static void fuzz_check_answer(struct evbuffer *b, int status)
{
	static http_parser_settings st = {.on_header_field = fuzz_on_field};
	struct fuzz_answer a = {0, NULL, 0};
	http_parser p;
	size_t n = evbuffer_get_length(b);
	const char *bytes = (const char *)evbuffer_pullup(b, -1);

	if (n == 0)
		return;
	http_parser_init(&p, HTTP_RESPONSE);
	p.data = &a;
	http_parser_execute(&p, &st, bytes, n);
	if (HTTP_PARSER_ERRNO(&p) != HPE_OK || a.locations > 1 ||
	    (int)p.status_code != status)
		abort();
}

static void fuzz_redirect(const struct config_service *svc, const uint8_t *data,
			  size_t size)
{
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();

	for (size_t i = 1; in && out && i < size;) {
		size_t n = (size_t)(data[i] & 0x7f) + 1;
		int status = -1;

		i++;
		if (n > size - i)
			n = size - i;
		evbuffer_add(in, data + i, n);
		i += n;
		enum http_action a = http_redirect(svc, in, out, &status);
		if (a == HTTP_CONTINUE &&
		    (status != 0 || evbuffer_get_length(out) != 0))
			abort();
		if (a != HTTP_CONTINUE && status != 301 && status != 400 &&
		    status != 431)
			abort();
		fuzz_check_answer(out, status);
		if (a != HTTP_CONTINUE)
			break;
	}
	if (in)
		evbuffer_free(in);
	if (out)
		evbuffer_free(out);
}

/* ---- one connection ----------------------------------------------------- */

/* The client ends its side: what it left is dropped and counted; what
 * http_from_client may still say is fixed.  Returns false when the caller
 * would now close (nothing pending, or a request cut mid-body). */
static bool fuzz_client_eof(struct http_conn *h, struct evbuffer *cin,
			    struct evbuffer *bout, struct evbuffer *cout)
{
	size_t left = evbuffer_get_length(cin);
	bool need = false;

	if (http_client_eof(h, cin) != left || evbuffer_get_length(cin) != 0)
		abort();
	if (http_awaiting_head(h))
		abort();
	if (http_request_incomplete(h))
		return false; /* the backend connection closes with it */
	enum http_action a = http_from_client(h, cin, bout, cout, &need);
	if (evbuffer_get_length(bout) || evbuffer_get_length(cout) ||
	    a != (http_response_pending(h) ? HTTP_CONTINUE : HTTP_CLOSE))
		abort();
	return a == HTTP_CONTINUE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *paths_all[] = {"/"};
	static char *paths_some[] = {"/pub/", "/cwa", "/a%20b/"};
	struct config_addr listen[1] = {{.port = 443}};
	struct config_service svc;
	struct http_peer peer = {.client_ip = "192.0.2.7",
				 .client_addr = "192.0.2.7:51234",
				 .tls_version = "TLSv1.3",
				 .backend = FUZZ_BACKEND};
	struct evbuffer *cin, *bout, *cout, *bin;
	struct http_conn *h;
	struct fuzz_wire *wire = &fuzz_wire;
	bool need = false, open = true, eof = false;
	size_t first = 1, eof_at = SIZE_MAX, rec = 0;

	if (size < 1)
		return 0;
	memset(wire, 0, offsetof(struct fuzz_wire, reqs));
	http_parser_init(&wire->p, HTTP_REQUEST);
	wire->p.data = wire;
	if (fuzz_log_fd >= 0 && ftruncate(fuzz_log_fd, 0) < 0)
		abort();
	memset(&svc, 0, sizeof(svc));
	svc.name = "cwa";
	svc.fqdn = "cwa.example.com";
	svc.listen = listen;
	svc.nlisten = 1;
	svc.http.present = true;
	svc.http.host_header =
		data[0] & 1 ? CONFIG_HOST_BACKEND : CONFIG_HOST_ORIGINAL;
	svc.http.paths = data[0] & 2 ? paths_some : paths_all;
	svc.http.npaths = data[0] & 2 ? 3 : 1;
	if (data[0] & 16) {
		fuzz_redirect(&svc, data, size);
		return 0;
	}
	if ((data[0] & 32) && size > 1) {
		eof_at = data[1];
		first = 2;
	}
	h = http_conn_new(&svc, fuzz_names, 2, "cwa01.corp.example", &peer);
	cin = evbuffer_new();
	bout = evbuffer_new();
	cout = evbuffer_new();
	bin = evbuffer_new();
	if (!h || !cin || !bout || !cout || !bin)
		goto done;
	for (size_t i = first; open && i < size; rec++) {
		bool backend = data[i] & 0x80;
		size_t n = (size_t)(data[i] & 0x7f) + 1;
		enum http_action a;

		if (!eof && rec == eof_at) {
			eof = true;
			open = fuzz_client_eof(h, cin, bout, cout);
			if (!open)
				break;
		}
		i++;
		if (n > size - i)
			n = size - i;
		evbuffer_add(backend ? bin : cin, data + i, n);
		i += n;
		if (backend)
			a = http_from_backend(h, bin, cout);
		else
			a = http_from_client(h, cin, bout, cout, &need);
		open = a == HTTP_CONTINUE;
		if (eof && !backend &&
		    (evbuffer_get_length(cin) || evbuffer_get_length(cout) ||
		     a != (http_response_pending(h) ? HTTP_CONTINUE
						    : HTTP_CLOSE)))
			abort(); /* client bytes after its end counted */
		if (eof && evbuffer_get_length(bout) != 0)
			abort(); /* the backend got bytes after the client end
				  */
		/* What went on the wire is gone. */
		fuzz_wire_feed(wire, bout);
		evbuffer_drain(bout, evbuffer_get_length(bout));
		evbuffer_drain(cout, evbuffer_get_length(cout));
		if (wire->in_msg != http_request_incomplete(h))
			abort(); /* a request cut short, and http.c says not */
	}
	if (open && !eof && eof_at != SIZE_MAX) {
		eof = true;
		open = fuzz_client_eof(h, cin, bout, cout);
	}
	if (open && (data[0] & 4))
		http_backend_failed(h, data[0] & 8, "fuzz", cout);
	else if (open)
		http_head_timeout(h, cout);
done:
	if (h)
		http_conn_free(h);
	if (h && cin && bout && cout && bin)
		fuzz_check_log(wire);
	if (cin)
		evbuffer_free(cin);
	if (bout)
		evbuffer_free(bout);
	if (cout)
		evbuffer_free(cout);
	if (bin)
		evbuffer_free(bin);
	return 0;
}

/* Log lines go to a memory file the checks read back (never to stderr,
 * where they would drown the fuzzer's output).  Without one, only the
 * checks that need no log run. */
__attribute__((constructor)) static void fuzz_log_setup(void)
{
	char path[64];

	log_set_level(LOG_LEVEL_ERROR);
	fuzz_log_fd = memfd_create("fuzz_http_log", MFD_CLOEXEC);
	if (fuzz_log_fd < 0)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fuzz_log_fd);
	if (log_open(LOG_TARGET_FILE, path, LOG_LEVEL_INFO) < 0) {
		close(fuzz_log_fd);
		fuzz_log_fd = -1;
	}
}
