/* http_check.h — the strict checks on what a client sends.
 *
 * http_check.c: the strict lexical scanners of a request head and of a
 * chunked body, and the publishing rules on a parsed head (Host, target,
 * path).  Called by http.c, and by http_reply.c for the redirect listener's
 * request line.  Pure functions of their arguments.
 */
#ifndef EDGE443_HTTP_CHECK_H
#define EDGE443_HTTP_CHECK_H

#include <event2/buffer.h>
#include <stdbool.h>
#include <stddef.h>

#include "edge443/http/http_conn.h"

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

#endif
