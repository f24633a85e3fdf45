/* http_reply.h — what edge443 says itself: pages and the access log.
 *
 * http_reply.c writes the responses of edge443's own (error pages, 404/421,
 * 502/504) and the one access-log line per request; http.c calls it once it
 * has decided what to answer.  (The redirect listener's entry point,
 * http_redirect, is public: edge443/http.h.)
 */
#ifndef EDGE443_HTTP_REPLY_H
#define EDGE443_HTTP_REPLY_H

#include <event2/buffer.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge443/http/http_conn.h"

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
