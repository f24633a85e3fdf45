/* acme_http.h — HTTPS to the ACME server, through libcurl.
 *
 * acme_http.c sends one request at a time (GET, HEAD, or a POST of a JOSE
 * body) and hands back the status, the body and the headers RFC 8555 cares
 * about: Replay-Nonce, Location, Retry-After, Link rel="up" and
 * Content-Type.  The server's certificate is verified against the acme
 * section's trust_file (or the system's CAs); redirects are not followed.
 * It knows no ACME object: acme.c does.  Nothing prints.
 *
 * Ownership: struct acme_http is the caller's (acme_http_new / _free); a
 * struct acme_resp owns its strings (acme_resp_clear frees them and zeroes
 * it).  One acme_http per thread; the calls block for at most the timeouts
 * given to acme_http_new.
 */
#ifndef EDGE443_ORDER_ACME_HTTP_H
#define EDGE443_ORDER_ACME_HTTP_H

#include <stddef.h>
#include <time.h>

struct acme_http;

struct acme_resp {
	long status; /* HTTP status, 0 when no answer */
	char *body;  /* NUL-terminated, may hold NUL bytes before len */
	size_t len;
	char *nonce;	    /* Replay-Nonce, NULL when absent */
	char *location;	    /* Location */
	char *retry_after;  /* Retry-After as sent */
	char *link_up;	    /* the URL of a Link: <...>;rel="up" */
	char *content_type; /* without parameters, lower case */
};

/* A transport; TRUST_FILE (may be NULL: the system's CAs) verifies the
 * server.  TIMEOUT bounds every request in seconds.  NULL with the reason
 * in err. */
struct acme_http *acme_http_new(const char *trust_file, long timeout, char *err,
				size_t errlen);
void acme_http_free(struct acme_http *h);

/* GET (HEAD when HEAD_ONLY) URL.  0 when an answer came (whatever its
 * status), -1 with the reason in err (no connection, TLS failure). */
int acme_http_get(struct acme_http *h, const char *url, int head_only,
		  struct acme_resp *resp, char *err, size_t errlen);

/* POST BODY as application/jose+json to URL; ACCEPT (may be NULL) is sent
 * as the Accept header.  0 / -1 as acme_http_get. */
int acme_http_post(struct acme_http *h, const char *url, const char *body,
		   const char *accept, struct acme_resp *resp, char *err,
		   size_t errlen);

void acme_resp_clear(struct acme_resp *resp);

/* Seconds to wait for a Retry-After VALUE (delta-seconds or an HTTP-date,
 * RFC 9110 section 10.2.3) as of NOW: 0 for a date in the past, -1 when
 * VALUE is NULL or unreadable. */
long acme_retry_after(const char *value, time_t now);

#endif
