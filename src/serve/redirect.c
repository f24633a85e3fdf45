/* redirect.c — connections to the port-80 redirect listener.
 *
 * A redirect connection reads one plain HTTP request head within
 * handshake_timeout, answers it through http_redirect (301 to the https URL
 * of the same path, or 400 for a malformed head), counts the answer in the
 * worker's metrics (edge443_http_responses_total), lets the answer drain and
 * closes, writing one conn line.  While the renewal of `run` has an http-01
 * challenge pending (challenges.c), GET /.well-known/acme-challenge/TOKEN
 * of a pending TOKEN is answered 200 with its key authorization instead
 * of redirected (RFC 8555 section 8.3).  Every path that ends the connection
 * goes through redirect_close, and each callback returns right after it.
 */
#include "edge443/serve/redirect.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "edge443/base/log.h"
#include "edge443/http/http.h"
#include "edge443/serve/challenges.h"

struct redirect_conn {
	struct proxy_owner *owner;
	struct redirect_conn *prev, *next;
	struct runtime *rt; /* one reference */
	const struct runtime_service *rs;
	struct bufferevent *bev; /* owns the socket */
	struct event *timer;
	struct timespec start;
	char peer[64];
	unsigned long long in, out;
	bool answered; /* the answer is written; close once drained */
};

/* The one teardown: log, unlink, free.  The caller returns at once. */
static void redirect_close(struct redirect_conn *r, const char *why)
{
	struct proxy_owner *owner = r->owner;

	if (log_enabled(LOG_LEVEL_INFO)) {
		struct timespec now;
		char end_why[256];
		clock_gettime(CLOCK_MONOTONIC, &now);
		double ms = (double)(now.tv_sec - r->start.tv_sec) * 1e3 +
			    (double)(now.tv_nsec - r->start.tv_nsec) / 1e6;
		log_info("conn client=%s service=%s sni=- tls=- cipher=- "
			 "backend=- in=%llu out=%llu discarded=0 ms=%.1f "
			 "end=\"%s\"",
			 r->peer, r->rs->svc->name, r->in, r->out, ms,
			 log_quoted(end_why, sizeof(end_why), why));
	}
	if (r->timer)
		event_free(r->timer);
	if (r->bev)
		bufferevent_free(r->bev);
	if (r->prev)
		r->prev->next = r->next;
	else
		owner->redirects = r->next;
	if (r->next)
		r->next->prev = r->prev;
	owner->nconns--;
	owner->stats->open--;
	owner->stats->bytes_in += r->in;
	owner->stats->bytes_out += r->out;
	runtime_unref(r->rt);
	free(r);
	if (owner->closed_cb)
		owner->closed_cb(owner);
}

/* http-01: is the head in IN a GET of a pending challenge's path?  Then
 * answer it into OUT (200 and the key authorization) and return 200; 0 to
 * leave the request to http_redirect; -1 while the head is incomplete. */
static int redirect_challenge(struct evbuffer *in, struct evbuffer *out)
{
	char line[1024], token[512];
	size_t n = evbuffer_get_length(in), eol = 0;
	struct evbuffer_ptr end;
	char *ka;

	if (challenges_count() == 0)
		return 0;
	end = evbuffer_search_eol(in, NULL, &eol, EVBUFFER_EOL_CRLF);
	if (end.pos < 0)
		return n < sizeof(line) ? -1 : 0;
	if ((size_t)end.pos >= sizeof(line))
		return 0;
	evbuffer_copyout(in, line, (size_t)end.pos);
	line[end.pos] = '\0';
	if (sscanf(line, "GET " CHALLENGES_HTTP_PREFIX "%511[^ /?] HTTP/1.%*c",
		   token) != 1)
		return 0;
	if (evbuffer_search(in, "\r\n\r\n", 4, NULL).pos < 0)
		return n < 8192 ? -1 : 0;
	ka = challenges_http(token);
	if (!ka)
		return 0;
	evbuffer_add_printf(
		out,
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
		"Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		strlen(ka), ka);
	free(ka);
	return 200;
}

static void redirect_read_cb(struct bufferevent *bev, void *arg)
{
	struct redirect_conn *r = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);
	size_t was_in = evbuffer_get_length(in);
	size_t was_out = evbuffer_get_length(out);
	int status = 0;
	enum http_action act;

	if (r->answered) {
		evbuffer_drain(in, was_in); /* nothing more is read */
		return;
	}
	status = redirect_challenge(in, out);
	if (status < 0)
		return; /* the rest of a challenge request's head */
	act = status ? HTTP_CLOSE : http_redirect(r->rs->svc, in, out, &status);
	r->out += evbuffer_get_length(out) - was_out;
	if (act != HTTP_CLOSE)
		return;
	r->in += was_in;
	evbuffer_drain(in, evbuffer_get_length(in));
	if (status >= 100 && status < 600)
		r->owner->stats->http_responses[status / 100]++;
	else
		r->owner->stats->http_responses[0]++;
	r->answered = true;
	bufferevent_disable(bev, EV_READ);
	if (evbuffer_get_length(out) == 0)
		redirect_close(r, "closed by edge443 after a response");
}

static void redirect_write_cb(struct bufferevent *bev, void *arg)
{
	struct redirect_conn *r = arg;

	if (r->answered &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		redirect_close(r, "closed by edge443 after a response");
}

static void redirect_event_cb(struct bufferevent *bev, short events, void *arg)
{
	struct redirect_conn *r = arg;

	(void)bev;
	if (events & BEV_EVENT_EOF)
		redirect_close(r, r->answered ? "closed by client"
					      : "closed by client before a "
						"request");
	else if (events & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		redirect_close(r, "client failed");
}

static void redirect_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct redirect_conn *r = arg;

	(void)fd;
	(void)what;
	redirect_close(r, r->answered ? "client did not read the answer"
				      : "request timeout");
}

int redirect_accept(struct proxy_owner *owner, struct runtime *rt,
		    const struct runtime_service *rs, int fd,
		    const struct sockaddr *peer)
{
	struct redirect_conn *r = calloc(1, sizeof(*r));
	struct timeval tv = {rt->cfg->handshake_timeout, 0};

	if (!r) {
		close(fd);
		return -1;
	}
	r->owner = owner;
	r->rt = runtime_ref(rt);
	r->rs = rs;
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	proxy_peer_format(peer, r->peer, sizeof(r->peer), NULL, 0);
	r->next = owner->redirects;
	if (owner->redirects)
		owner->redirects->prev = r;
	owner->redirects = r;
	owner->nconns++;
	owner->stats->accepted++;
	owner->stats->open++;
	r->bev = bufferevent_socket_new(owner->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!r->bev)
		close(fd);
	r->timer = evtimer_new(owner->base, redirect_timer_cb, r);
	if (!r->bev || !r->timer) {
		redirect_close(r, "out of memory");
		return -1;
	}
	bufferevent_setcb(r->bev, redirect_read_cb, redirect_write_cb,
			  redirect_event_cb, r);
	bufferevent_enable(r->bev, EV_READ | EV_WRITE);
	evtimer_add(r->timer, &tv);
	return 0;
}

void redirect_close_all(struct proxy_owner *owner, const char *why)
{
	while (owner->redirects)
		redirect_close(owner->redirects, why);
}
