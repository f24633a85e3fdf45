/* http_conn.h — the data of one published HTTP connection.
 *
 * The connection struct and what it holds (the state of the strict
 * scanners, the request being served, the parsed head's fields and facts),
 * shared by the three files of HTTP publishing: http.c drives the
 * connection, http_check.c checks what the client sends, http_reply.c writes
 * edge443's own answers and the access log.  Data and two inline helpers
 * only: no function of any .c file is declared here, so each of the three
 * depends on this header and never on another's.  Nothing outside src/http/
 * includes it; the public API is edge443/http.h.
 */
#ifndef EDGE443_HTTP_CONN_H
#define EDGE443_HTTP_CONN_H

#include <event2/buffer.h>
#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "edge443/http/http.h"

#define HTTP_LOG_MAX 256 /* bytes of a client string kept in a log line */

/* ---- the strict scanners' state (http_check.c scans) ------------------ */

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

/* ---- the connection -------------------------------------------------- */

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

#endif
