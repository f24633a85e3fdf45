/* http_internal.h — what http.c, http_check.c and http_reply.c share.
 *
 * Private to the http module: nothing outside src/http*.c includes it.  It
 * holds the connection struct, the state of the strict scanners and the
 * functions the three files call across.  None of these may be called by
 * other modules; the public API stays in edge443/http.h.
 */
#ifndef EDGE443_HTTP_INTERNAL_H
#define EDGE443_HTTP_INTERNAL_H

#include <event2/buffer.h>
#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "edge443/http.h"

#define HTTP_LOG_MAX 256 /* bytes of a client string kept in a log line */

/* ---- strict lexical scan of a request head (http_check.c) -------------- */

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

/* ---- strict lexical scan of a chunked body (http_check.c) -------------- */

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

/* ---- the connection (http.c) ------------------------------------------- */

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
	HTTP_S_CLOSING, /* nothing more is read from the client; the caller
			 * closes (once the pending response, if any, ended
			 * when the client ended first: http_client_eof) */
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
	bool forwarded; /* its head went to the backend (the log names it) */
	bool body_open; /* forwarded, and its body not sent whole (yet) */
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
	unsigned long nrequests;    /* requests finished or answered */
	struct timespec head_since; /* HEAD entered: a head awaited since */
	bool client_eof;	    /* http_client_eof: nothing more is read */

	http_parser resp_parser;
	struct evbuffer *resp_stage; /* head of the current response */
	bool resp_pending; /* a forwarded request awaits its final response */
	bool resp_head_done;
	bool resp_paused_head, resp_paused_end;
	bool resp_keepalive;
	bool resp_bad101;
	bool resp_cut; /* a response was ended after some of it was sent */
	int resp_status;
	uint64_t resp_bytes;
};

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

/* The client's address for a log line ("-" when unknown). */
static inline const char *http_client_addr(const struct http_conn *h)
{
	return h->peer && h->peer->client_addr ? h->peer->client_addr : "-";
}

/* Enter HTTP_S_HEAD: a request head is awaited from now on (the 408 and the
 * log line of a bad head measure from here). */
static inline void http_await_head(struct http_conn *h)
{
	h->state = HTTP_S_HEAD;
	clock_gettime(CLOCK_MONOTONIC, &h->head_since);
}

/* ---- http_check.c: scanners and the publishing rules -------------------- */

/* Case-insensitive: does A (ALEN bytes) equal the C string B? */
bool http_eq(const char *a, size_t alen, const char *b);

/* Scan what FROM holds past s->pos (the head stays in FROM until whole).
 * 1: the head ended (s->pos is its length); 0: more bytes needed; -1: a
 * violation (s->status, s->why). */
int http_scan_from(struct http_scan *s, struct evbuffer *from);

/* Scan up to N bytes of chunked framing.  Returns the number of bytes that
 * belong to the body, or -1 on a framing error. */
long http_chunk_bytes(struct http_chunk *k, const unsigned char *p, size_t n);

/* Split a Host value into name and port ("" when absent); -1 when it is
 * not a plain host name with an optional numeric port. */
int http_host_split(const char *v, size_t n, size_t *namelen, const char **port,
		    size_t *portlen);

/* Is NAME (N bytes) with PORT a name this connection serves? */
bool http_host_ok(const struct http_conn *h, const char *name, size_t n,
		  const char *port, size_t portlen);

/* Normalise the request path P (N bytes, no query, starting with '/') in
 * place, as ISA Server did before applying a publishing rule (RFC 3986):
 * escapes of unreserved characters decoded (%7E -> ~), the others kept with
 * upper-case hex digits; dot segments removed (§5.2.4), a segment whose name
 * before its first ';' is "." or ".." counting as one (to Tomcat and Jetty
 * "..;x" is ".."), parameters and all.  What a backend could read another
 * way is refused instead: a backslash; an encoded slash, backslash, control
 * byte or NUL; a malformed escape; a "%25" that decodes to another escape
 * (double encoding); invalid or overlong UTF-8, or a full-width dot, slash
 * or backslash; a dot segment built with escapes (%2e, %3b, %20); any other
 * segment of only dots and spaces (IIS trims trailing dots and spaces); ".."
 * above the root.  Returns the new length (<= N), or -1 with *WHY (400). */
long http_path_normalise(char *p, size_t n, const char **why);

/* Is the normalised PATH (no query) under one of the published prefixes? */
bool http_path_allowed(const struct http_conn *h, const char *p, size_t n);

/* Trim the head's fields and check them into X; -1 with x->status/why. */
int http_facts_get(struct http_conn *h, struct http_facts *x);

/* The request target as origin-form, its path normalised in place in
 * h->head (http_path_normalise): PATH/PLEN is what the publishing rule
 * matches and the backend gets, QUERY/QLEN the query as sent ("?..." or
 * empty).  -1 = 400 (WHY). */
int http_target(struct http_conn *h, const struct http_facts *x,
		const char **path, size_t *plen, const char **query,
		size_t *qlen, const char **why);

/* ---- http_reply.c: our own responses and the access log ---------------- */

/* Copy attacker bytes for a log line (printable, else %XX, capped). */
void http_log_copy(char *dst, size_t cap, const char *s, size_t n);

/* One access-log line for the current request. */
void http_log_access(struct http_conn *h, int status, uint64_t bytes,
		     const char *reason);

/* A complete response page of our own to OUT; returns the bytes written. */
size_t http_write_page(struct evbuffer *out, int status, const char *msg,
		       const char *extra, bool close, bool nobody);

/* An error of the client's: page to CLIENT, access line, HTTP_CLOSE. */
enum http_action http_fail(struct http_conn *h, struct evbuffer *client,
			   int status, const char *why);

/* Answer the request here (404, 421), keeping the connection if it can. */
enum http_action http_answer_local(struct http_conn *h,
				   const struct http_facts *x,
				   struct evbuffer *client, int status,
				   const char *msg, const char *why);

#endif
