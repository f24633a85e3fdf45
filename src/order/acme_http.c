/* acme_http.c — one HTTPS request to the ACME server, through libcurl.
 *
 * A thin layer over a libcurl easy handle: it sets the trust file, the
 * timeouts and the JOSE content type, collects the body and the headers
 * that RFC 8555 uses (Replay-Nonce, Location, Retry-After, Link rel="up",
 * Content-Type) and reads a Retry-After value.  HTTPS is verified (peer and
 * host name), redirects are not followed, and nothing here retries: what to
 * do with a status is acme.c's decision.
 */
#include "edge443/order/acme_http.h"
#include "edge443/base/ossl_err.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

/* A body larger than this is no ACME answer (a chain is a few KiB). */
#define ACME_HTTP_MAX_BODY (1024 * 1024)

struct acme_http {
	CURL *curl;
	char *trust_file;
	long timeout;
};

struct acme_http *acme_http_new(const char *trust_file, long timeout, char *err,
				size_t errlen)
{
	struct acme_http *h = calloc(1, sizeof(*h));

	if (!h || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		ossl_err_printf(err, errlen, "cannot start libcurl");
		free(h);
		return NULL;
	}
	h->curl = curl_easy_init();
	h->trust_file = trust_file ? strdup(trust_file) : NULL;
	h->timeout = timeout > 0 ? timeout : 30;
	if (!h->curl || (trust_file && !h->trust_file)) {
		ossl_err_printf(err, errlen, "cannot start libcurl");
		acme_http_free(h);
		return NULL;
	}
	return h;
}

void acme_http_free(struct acme_http *h)
{
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	free(h->trust_file);
	free(h);
	curl_global_cleanup();
}

void acme_resp_clear(struct acme_resp *resp)
{
	if (!resp)
		return;
	free(resp->body);
	free(resp->nonce);
	free(resp->location);
	free(resp->retry_after);
	free(resp->link_up);
	free(resp->content_type);
	memset(resp, 0, sizeof(*resp));
}

static size_t acme_http_body_cb(char *data, size_t size, size_t n, void *arg)
{
	struct acme_resp *resp = arg;
	size_t len = size * n;
	char *nb;

	if (resp->len + len > ACME_HTTP_MAX_BODY)
		return 0;
	nb = realloc(resp->body, resp->len + len + 1);
	if (!nb)
		return 0;
	memcpy(nb + resp->len, data, len);
	resp->len += len;
	nb[resp->len] = '\0';
	resp->body = nb;
	return len;
}

/* A copy of [S, S+N) without the surrounding blanks. */
static char *acme_http_trimdup(const char *s, size_t n)
{
	char *out;

	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	out = malloc(n + 1);
	if (out) {
		memcpy(out, s, n);
		out[n] = '\0';
	}
	return out;
}

static void acme_http_set(char **slot, char *value)
{
	free(*slot);
	*slot = value;
}

/* Link: <URL>;rel="up" — the issuer chain's URL (RFC 8555 section 7.4.2);
 * only the first "up" link is kept. */
static void acme_http_link(struct acme_resp *resp, const char *v, size_t n)
{
	const char *lt = memchr(v, '<', n), *gt;

	if (resp->link_up || !lt)
		return;
	gt = memchr(lt, '>', n - (size_t)(lt - v));
	if (!gt)
		return;
	for (const char *p = gt; p + 8 <= v + n; p++)
		if (strncasecmp(p, "rel=\"up\"", 8) == 0 ||
		    strncasecmp(p, "rel=up", 6) == 0) {
			resp->link_up = acme_http_trimdup(
				lt + 1, (size_t)(gt - lt - 1));
			return;
		}
}

static size_t acme_http_header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct acme_resp *resp = arg;
	size_t len = size * n;
	const char *colon = memchr(data, ':', len);
	size_t nlen, vlen;
	const char *v;

	/* a new status line (a 100 Continue before the answer) starts over */
	if (len > 5 && strncmp(data, "HTTP/", 5) == 0)
		return len;
	if (!colon)
		return len;
	nlen = (size_t)(colon - data);
	v = colon + 1;
	vlen = len - nlen - 1;
	if (nlen == 12 && strncasecmp(data, "Replay-Nonce", 12) == 0)
		acme_http_set(&resp->nonce, acme_http_trimdup(v, vlen));
	else if (nlen == 8 && strncasecmp(data, "Location", 8) == 0)
		acme_http_set(&resp->location, acme_http_trimdup(v, vlen));
	else if (nlen == 11 && strncasecmp(data, "Retry-After", 11) == 0)
		acme_http_set(&resp->retry_after, acme_http_trimdup(v, vlen));
	else if (nlen == 4 && strncasecmp(data, "Link", 4) == 0)
		acme_http_link(resp, v, vlen);
	else if (nlen == 12 && strncasecmp(data, "Content-Type", 12) == 0) {
		char *ct = acme_http_trimdup(v, vlen);
		char *semi = ct ? strchr(ct, ';') : NULL;

		if (semi)
			*semi = '\0';
		for (char *c = ct; c && *c; c++)
			*c = (char)tolower((unsigned char)*c);
		acme_http_set(&resp->content_type, ct);
	}
	return len;
}

static int acme_http_do(struct acme_http *h, const char *url, const char *body,
			int head_only, const char *accept,
			struct acme_resp *resp, char *err, size_t errlen)
{
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	char accept_hdr[128];
	CURLcode rc;
	CURL *c = h->curl;

	acme_resp_clear(resp);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, h->timeout);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
			 h->timeout < 10 ? h->timeout : 10L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->trust_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->trust_file);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "edge443/" EDGE443_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, acme_http_body_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, acme_http_header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
	if (head_only)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body) {
		hdrs = curl_slist_append(hdrs,
					 "Content-Type: application/jose+json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if (accept) {
		snprintf(accept_hdr, sizeof(accept_hdr), "Accept: %s", accept);
		hdrs = curl_slist_append(hdrs, accept_hdr);
	}
	/* no "Expect: 100-continue" round trip */
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	rc = curl_easy_perform(c);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		ossl_err_printf(err, errlen, "%s: %s", url,
				errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	if (!resp->body) {
		resp->body = calloc(1, 1);
		if (!resp->body) {
			ossl_err_printf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

int acme_http_get(struct acme_http *h, const char *url, int head_only,
		  struct acme_resp *resp, char *err, size_t errlen)
{
	return acme_http_do(h, url, NULL, head_only, NULL, resp, err, errlen);
}

int acme_http_post(struct acme_http *h, const char *url, const char *body,
		   const char *accept, struct acme_resp *resp, char *err,
		   size_t errlen)
{
	return acme_http_do(h, url, body ? body : "", 0, accept, resp, err,
			    errlen);
}

long acme_retry_after(const char *value, time_t now)
{
	char *end = NULL;
	long secs;
	time_t when;

	if (!value || !*value)
		return -1;
	if (isdigit((unsigned char)value[0])) {
		errno = 0;
		secs = strtol(value, &end, 10);
		if (errno || *end != '\0' || secs < 0)
			return -1;
		return secs;
	}
	/* an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT"); libcurl reads it */
	when = curl_getdate(value, NULL);
	if (when == (time_t)-1)
		return -1;
	return when > now ? (long)(when - now) : 0;
}
