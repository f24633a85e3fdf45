/* server_worker.c — one worker of `edge443 run`.
 *
 * A worker is a thread (worker_mode = threads) or the main thread of a
 * worker process (processes, server_procs.c); either way it has its own
 * event base, its own SO_REUSEPORT socket per listening address and its own
 * connections (proxy.c, proxy_events.c).  It accepts until it reaches
 * max_connections (then pauses and resumes below it), backs off for a second
 * when accept fails (EMFILE), takes the new runtime and listener set when
 * the main thread reloads (sync_ev), stops accepting and drains on stop_ev,
 * and closes what is left on kill_ev.  Signals and reloads themselves are
 * server.c's.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edge443/base/log.h"
#include "edge443/serve/proxy_events.h"
#include "edge443/serve/proxy_http.h"
#include "edge443/serve/redirect.h"
#include "edge443/serve/server_internal.h"

static void server_worker_pause(struct server_worker *w, bool pause)
{
	if (w->paused == pause)
		return;
	w->paused = pause;
	for (struct server_wl *wl = w->wls; wl; wl = wl->next) {
		if (pause)
			evconnlistener_disable(wl->evl);
		else
			evconnlistener_enable(wl->evl);
	}
}

static int server_worker_limit(const struct server_worker *w)
{
	return w->rt->cfg->max_connections > 0 ? w->rt->cfg->max_connections
					       : 1;
}

static void server_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
			     struct sockaddr *sa, int salen, void *arg)
{
	struct server_wl *wl = arg;
	struct server_worker *w = wl->w;
	const struct runtime_service *rs;
	int one = 1;

	if (w->draining) {
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	rs = wl->rs;
	if (rs && !wl->redirect)
		proxy_accept(&w->owner, w->rt, rs, fd, sa, (socklen_t)salen,
			     rs->svc->http.present ? &proxy_http_hooks : NULL);
	else if (rs)
		redirect_accept(&w->owner, w->rt, rs, fd, sa);
	else
		close(fd);
	if (w->owner.nconns >= (size_t)server_worker_limit(w)) {
		if (!w->paused)
			log_warn("worker %zu: max_connections (%d) reached; "
				 "not accepting until connections close",
				 w->index, server_worker_limit(w));
		server_worker_pause(w, true);
	}
	(void)evl;
}

/* accept() failed: EMFILE and friends must not make the loop spin, so stop
 * accepting for a second. */
static void server_accept_error_cb(struct evconnlistener *evl, void *arg)
{
	struct server_wl *wl = arg;
	struct server_worker *w = wl->w;
	int err = EVUTIL_SOCKET_ERROR();
	time_t now = time(NULL);
	struct timeval one = {1, 0};

	if (now != w->last_accept_error_log) {
		w->last_accept_error_log = now;
		log_warn("worker %zu: accept on %s failed: %s; pausing accepts "
			 "for 1 s",
			 w->index, wl->l->text, strerror(err));
	}
	server_worker_pause(w, true);
	evtimer_add(w->resume_ev, &one);
	(void)evl;
}

static void server_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_worker *w = arg;

	if (!w->draining && w->owner.nconns < (size_t)server_worker_limit(w))
		server_worker_pause(w, false);
	(void)fd;
	(void)what;
}

static void server_conn_closed_cb(struct proxy_owner *owner)
{
	struct server_worker *w =
		(struct server_worker *)((char *)owner -
					 offsetof(struct server_worker, owner));

	if (w->draining) {
		if (owner->nconns == 0)
			event_base_loopexit(w->base, NULL);
		return;
	}
	if (w->paused && !evtimer_pending(w->resume_ev, NULL) &&
	    owner->nconns < (size_t)server_worker_limit(w))
		server_worker_pause(w, false);
}

static void server_wl_free(struct server_wl *wl)
{
	if (wl->evl)
		evconnlistener_free(wl->evl); /* closes the worker's socket */
	free(wl);
}

/* What WL's address serves under runtime RT. */
static void server_wl_resolve(struct server_wl *wl, const struct runtime *rt)
{
	const struct sockaddr *sa = (const struct sockaddr *)&wl->l->sa;

	wl->rs = runtime_service_for(rt, sa);
	wl->redirect = false;
	if (!wl->rs) {
		wl->rs = runtime_redirect_for(rt, sa);
		wl->redirect = wl->rs != NULL;
	}
}

/* Take the current runtime and listener list (start-up and reload). */
static void server_sync_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_worker *w = arg;
	struct server *srv = w->srv;
	struct runtime *old = NULL;

	pthread_mutex_lock(&srv->lock);
	if (w->rt != srv->rt) {
		old = w->rt;
		w->rt = runtime_ref(srv->rt);
	}
	/* Drop listeners that left the configuration. */
	for (struct server_wl **p = &w->wls; *p;) {
		if ((*p)->l->retired) {
			struct server_wl *dead = *p;
			*p = dead->next;
			server_wl_free(dead);
		} else {
			p = &(*p)->next;
		}
	}
	/* Open the ones this worker does not serve yet. */
	for (struct listener *l = srv->listeners; l && !w->draining;
	     l = l->next) {
		if (l->retired || l->fds[w->index] < 0)
			continue;
		struct server_wl *wl = calloc(1, sizeof(*wl));
		if (!wl)
			break;
		wl->w = w;
		wl->l = l;
		/* Backlog 0: the socket listens already, with the
		 * configured backlog (-1 would listen() again with 128). */
		/* A worker process shares the socket with the main process
		 * and leaves it open until it exits: closing it while its
		 * event_del waits in epoll's changelist would leave it in
		 * the epoll set (the main process holds the file open). */
		wl->evl = evconnlistener_new(
			w->base, server_accept_cb, wl,
			(w->process ? 0 : LEV_OPT_CLOSE_ON_FREE) |
				LEV_OPT_CLOSE_ON_EXEC,
			0, l->fds[w->index]);
		if (!wl->evl) {
			log_error("worker %zu: cannot listen on %s", w->index,
				  l->text);
			free(wl);
			continue;
		}
		l->fds[w->index] = -1; /* the evconnlistener has it now */
		server_wl_resolve(wl, w->rt);
		evconnlistener_set_error_cb(wl->evl, server_accept_error_cb);
		if (w->paused)
			evconnlistener_disable(wl->evl);
		wl->next = w->wls;
		w->wls = wl;
	}
	/* A new runtime: every listener's service is looked up again, once. */
	if (old)
		for (struct server_wl *wl = w->wls; wl; wl = wl->next)
			server_wl_resolve(wl, w->rt);
	pthread_mutex_unlock(&srv->lock);
	runtime_unref(old);
	(void)fd;
	(void)what;
}

/* A worker process's listening sockets, to close once its event loop has
 * taken them out of its epoll set (server_stop_cb). */
struct server_closing {
	size_t n;
	int fds[];
};

static void server_close_fds_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_closing *cl = arg;

	for (size_t i = 0; i < cl->n; i++)
		close(cl->fds[i]);
	free(cl);
	(void)fd;
	(void)what;
}

/* A worker process that drains lets go of its listening sockets: when the
 * main process is gone (SIGKILL, a crash: PDEATHSIG sent the SIGTERM), it
 * was their last holder, and a socket nobody accepts on would queue
 * connections until the drain ends and keep a restarted edge443 from
 * binding.  (With the main process alive, they stay open there.)  Closed
 * from a zero timer, after the next dispatch has applied the changelist
 * that takes them out of the epoll set. */
static void server_release_listeners(struct server_worker *w)
{
	size_t n = 0;
	struct server_closing *cl;
	const struct timeval now = {0, 0};

	for (struct server_wl *wl = w->wls; wl; wl = wl->next)
		n++;
	cl = n ? malloc(sizeof(*cl) + n * sizeof(cl->fds[0])) : NULL;
	if (!cl)
		return; /* they close when the process exits */
	cl->n = 0;
	for (struct server_wl *wl = w->wls; wl; wl = wl->next)
		if (wl->evl)
			cl->fds[cl->n++] = evconnlistener_get_fd(wl->evl);
	if (event_base_once(w->base, -1, EV_TIMEOUT, server_close_fds_cb, cl,
			    &now) < 0)
		free(cl);
}

static void server_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_worker *w = arg;

	w->draining = true;
	if (w->process)
		server_release_listeners(w);
	while (w->wls) {
		struct server_wl *wl = w->wls;
		w->wls = wl->next;
		server_wl_free(wl);
	}
	/* Idle keep-alive connections close now, the rest after their
	 * current exchange. */
	redirect_close_all(&w->owner, "shutdown");
	proxy_drain(&w->owner);
	if (w->owner.nconns == 0)
		event_base_loopexit(w->base, NULL);
	(void)fd;
	(void)what;
}

static void server_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_worker *w = arg;

	if (w->owner.nconns)
		log_warn("worker %zu: shutdown_timeout reached; closing %zu "
			 "open connection%s",
			 w->index, w->owner.nconns,
			 w->owner.nconns == 1 ? "" : "s");
	redirect_close_all(&w->owner, "shutdown");
	proxy_close_all(&w->owner, "shutdown deadline");
	event_base_loopexit(w->base, NULL);
	(void)fd;
	(void)what;
}

void server_worker_run(struct server_worker *w)
{
	server_sync_cb(-1, 0, w);
	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	redirect_close_all(&w->owner, "shutdown");
	proxy_close_all(&w->owner, "shutdown");
	while (w->wls) {
		struct server_wl *wl = w->wls;
		w->wls = wl->next;
		server_wl_free(wl);
	}
}

void *server_worker_main(void *arg)
{
	struct server_worker *w = arg;

	server_worker_run(w);
	atomic_fetch_add(&w->srv->workers_done, 1);
	event_active(w->srv->done_ev, EV_READ, 0);
	return NULL;
}

int server_worker_init(struct server *srv, struct server_worker *w,
		       size_t index)
{
	struct event_config *ec = event_config_new();

	w->srv = srv;
	w->index = index;
	/* epoll's changelist: libevent applies the net change of an fd's
	 * events once per loop instead of one epoll_ctl per event_add/del.
	 * bufferevent_openssl adds and removes its events at every step of a
	 * handshake and around every write (measured: 16 epoll_ctl per
	 * proxied connection without it, see bench/results.md).  libevent
	 * documents one hazard, fds cloned by dup(): with the changelist an
	 * event_del reaches epoll only after the socket may be closed, which
	 * drops it from epoll only when no other descriptor shares its file.
	 * A worker's base watches only sockets it accepted or opened itself
	 * (SOCK_CLOEXEC), never duplicated, and its listening sockets.  A
	 * worker thread's process forks only to daemonise, before any of
	 * them exists; a worker process shares its listening sockets with
	 * the main process, so it never closes them (server_sync_cb) and
	 * forks nothing itself. */
	if (ec)
		event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	w->base = ec ? event_base_new_with_config(ec) : NULL;
	if (ec)
		event_config_free(ec);
	if (!w->base)
		return -1;
	w->owner.base = w->base;
	w->owner.stats = &w->stats;
	w->owner.closed_cb = server_conn_closed_cb;
	w->sync_ev = event_new(w->base, -1, 0, server_sync_cb, w);
	w->stop_ev = event_new(w->base, -1, 0, server_stop_cb, w);
	w->kill_ev = event_new(w->base, -1, 0, server_kill_cb, w);
	w->resume_ev = evtimer_new(w->base, server_resume_cb, w);
	return w->sync_ev && w->stop_ev && w->kill_ev && w->resume_ev ? 0 : -1;
}

void server_worker_free(struct server_worker *w)
{
	if (w->sync_ev)
		event_free(w->sync_ev);
	if (w->stop_ev)
		event_free(w->stop_ev);
	if (w->kill_ev)
		event_free(w->kill_ev);
	if (w->resume_ev)
		event_free(w->resume_ev);
	runtime_unref(w->rt);
	if (w->base)
		event_base_free(w->base);
}
