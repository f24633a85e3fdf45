/* fuzz_http.c — libFuzzer target for HTTP publishing (src/http*.c).
 *
 * The input drives one client connection through http.c: byte 0 picks the
 * publishing rule (host_header, path list), then records of
 * [direction+length byte][bytes] feed the client side (requests, through
 * http_from_client) or the backend side (responses, through
 * http_from_backend) in the pieces a network would deliver.  What the
 * checker and the parser make of it must never crash, leak or read out of
 * bounds (built with ASan + UBSan), and once http.c says HTTP_CLOSE or
 * HTTP_TUNNEL the connection is over, as in proxy_http.c.  One property is
 * checked on top: whatever http.c sends to the backend parses as clean
 * HTTP/1.1 requests with a second, independent http_parser — a request that
 * the checker let through can never smuggle a second one.  With bit 4 of
 * byte 0 the client bytes go to the port-80 redirect listener instead
 * (http_redirect), whose answer must parse as one response with at most
 * one Location and no header a request could inject.
 *
 * build and run: tests/fuzz/run.sh [SECONDS]
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <http_parser.h>
#include <stdlib.h>

#include "edge443/http.h"
#include "edge443/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_names[] = {"cwa.example.com",
					 "as.cwa.example.com"};

/* The backend's view: feed everything sent to it to a fresh request
 * parser; any parse error is a finding.  Stops at an upgrade (the tunnel
 * carries raw bytes). */
struct fuzz_wire {
	http_parser p;
	bool upgraded;
};

static http_parser_settings fuzz_settings;

static void fuzz_wire_feed(struct fuzz_wire *w, struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	unsigned char *bytes = evbuffer_pullup(b, -1);

	if (w->upgraded || n == 0)
		return;
	size_t used = http_parser_execute(&w->p, &fuzz_settings,
					  (const char *)bytes, n);
	if (w->p.upgrade) {
		w->upgraded = true;
		return;
	}
	if (HTTP_PARSER_ERRNO(&w->p) != HPE_OK || used != n)
		abort(); /* http.c sent the backend something unparseable */
}

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

static void fuzz_check_answer(struct evbuffer *b)
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
	if (HTTP_PARSER_ERRNO(&p) != HPE_OK || a.locations > 1)
		abort();
}

static void fuzz_redirect(const struct config_service *svc, const uint8_t *data,
			  size_t size)
{
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();

	for (size_t i = 1; in && out && i < size;) {
		size_t n = (size_t)(data[i] & 0x7f) + 1;

		i++;
		if (n > size - i)
			n = size - i;
		evbuffer_add(in, data + i, n);
		i += n;
		int status;
		enum http_action a = http_redirect(svc, in, out, &status);
		fuzz_check_answer(out);
		if (a != HTTP_CONTINUE)
			break;
		evbuffer_drain(out, evbuffer_get_length(out));
	}
	if (in)
		evbuffer_free(in);
	if (out)
		evbuffer_free(out);
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
				 .backend = "10.0.0.7:443"};
	struct evbuffer *cin, *bout, *cout, *bin;
	struct http_conn *h;
	struct fuzz_wire wire = {.upgraded = false};
	bool need = false, open = true;

	if (size < 1)
		return 0;
	http_parser_init(&wire.p, HTTP_REQUEST);
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
	h = http_conn_new(&svc, fuzz_names, 2, "cwa01.corp.example", &peer);
	cin = evbuffer_new();
	bout = evbuffer_new();
	cout = evbuffer_new();
	bin = evbuffer_new();
	if (!h || !cin || !bout || !cout || !bin)
		goto done;
	for (size_t i = 1; open && i < size;) {
		bool backend = data[i] & 0x80;
		size_t n = (size_t)(data[i] & 0x7f) + 1;
		enum http_action a;

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
		/* What went on the wire is gone. */
		fuzz_wire_feed(&wire, bout);
		evbuffer_drain(bout, evbuffer_get_length(bout));
		evbuffer_drain(cout, evbuffer_get_length(cout));
	}
	if (open && (data[0] & 4))
		http_backend_failed(h, data[0] & 8, "fuzz", cout);
	else if (open)
		http_head_timeout(h, cout);
done:
	if (h)
		http_conn_free(h);
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

/* Log lines would drown the fuzzer's output. */
__attribute__((constructor)) static void fuzz_quiet(void)
{
	log_set_level(CONFIG_LOG_ERROR);
}
