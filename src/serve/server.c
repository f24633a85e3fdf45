/* server.c — `edge443 run`: the start-up order, the workers and the signals.
 *
 * Start-up: validate the plan exactly as `check` does (any error: print the
 * findings, bind nothing, exit 1), build the runtime (SSL contexts), raise
 * the open-files limit, bind every listener (all or nothing), daemonise if
 * asked, drop privileges (keeping only CAP_NET_BIND_SERVICE, so that a
 * reload can still bind a new address on port 443), start the workers.
 * Each worker thread has its own
 * event base, its own SO_REUSEPORT socket per address and its own
 * connections; the main thread only handles signals and reloads:
 *
 *   SIGTERM/SIGINT  stop accepting, drain for at most shutdown_timeout, exit 0
 *   SIGHUP          re-read and re-validate; a bad plan is logged and the
 *                   old runtime keeps serving; a good one is used by new
 *                   connections while open ones finish on the old one
 *   SIGUSR1         reopen the log file
 *
 * Under systemd (Type=notify, NOTIFY_SOCKET set) the main thread tells the
 * service manager each step (notify.c): READY=1 once the workers serve
 * (every listener bound, privileges dropped), RELOADING=1 then READY=1
 * around every SIGHUP reload, taken or refused, STOPPING=1 when the drain
 * begins, and a STATUS= line saying what is served.
 *
 * The main thread talks to workers only through event_active() on events of
 * the worker's base (libevent's pthread locking makes that safe) and through
 * `lock`, which guards the current runtime and the listener list.
 *
 * With worker_mode = processes the workers are child processes instead
 * (server_procs.c): the session-ticket keys are made in shared memory, a
 * reload forks a new generation of children, SIGTERM and SIGUSR1 are passed
 * on to them and /metrics sums their shared counters.
 *
 * Not here: validation (validate.c, reported by server_plan.c), the
 * workers (server_worker.c), the
 * worker processes (server_procs.c), the
 * /metrics text (metrics.c), the privilege drop (privs.c), the pid file
 * (pidfile.c), the open-files limit (limits.c).
 */
#include "edge443/serve/server.h"
#include "edge443/serve/server_internal.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "edge443/serve/acme_stats.h"
#include "edge443/serve/admin.h"
#include "edge443/serve/listener.h"
#include "edge443/serve/limits.h"
#include "edge443/base/log.h"
#include "edge443/serve/metrics.h"
#include "edge443/serve/notify.h"
#include "edge443/serve/pidfile.h"
#include "edge443/rules/rules.h"
#include "edge443/serve/privs.h"
#include "edge443/serve/proxy.h"
#include "edge443/serve/runtime.h"
#include "edge443/serve/served.h"
#include "edge443/serve/tls.h"
#include "edge443/rules/validate.h"

#include <openssl/crypto.h>

#define SERVER_TICKET_ROTATE_SEC 3600
#define SERVER_ERRLEN 65536

/* ------------------------------------------------------------ main thread */

static void server_workers_all(struct server *srv, bool stop)
{
	for (size_t i = 0; srv->workers && i < srv->nworkers; i++)
		if (srv->workers[i].started)
			event_active(stop ? srv->workers[i].stop_ev
					  : srv->workers[i].kill_ev,
				     EV_READ, 0);
}

static void server_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	server_workers_all(arg, false);
	(void)fd;
	(void)what;
}

static void server_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	if (atomic_load(&srv->workers_done) == srv->nworkers)
		event_base_loopexit(srv->base, NULL);
	(void)fd;
	(void)what;
}

/* Find an already-bound listener for ADDR (caller holds the lock or is the
 * only thread touching the list). */
static struct listener *server_find_listener(struct server *srv,
					     const struct config_addr *addr)
{
	for (struct listener *l = srv->listeners; l; l = l->next)
		if (!l->retired && listener_same_addr(&l->sa, &addr->sa))
			return l;
	return NULL;
}

/* The Nth address CFG listens on (service addresses, then redirect_http
 * listeners), or NULL past the end. */
static const struct config_addr *server_config_addr(const struct config *cfg,
						    size_t n)
{
	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct config_service *svc = &cfg->services[i];
		if (n < svc->nlisten)
			return &svc->listen[n];
		n -= svc->nlisten;
		if (svc->http.present && svc->http.redirect_http.text) {
			if (n == 0)
				return &svc->http.redirect_http;
			n--;
		}
	}
	return NULL;
}

/* Bind the addresses of CFG that are not bound yet, onto *NEWL, with CFG's
 * backlog (a reload does not change the backlog of an address already
 * bound).  The ones this process holds are kept, never bound again, so a
 * reload keeps its listeners while an address that another process
 * listens on (a second edge443) is refused.  All or nothing: on failure
 * everything bound here is closed again. */
static int server_bind_new(struct server *srv, const struct config *cfg,
			   struct listener **newl, char *err, size_t errlen)
{
	const struct config_addr *a;

	*newl = NULL;
	for (size_t n = 0; (a = server_config_addr(cfg, n)); n++) {
		bool known = server_find_listener(srv, a) != NULL;
		for (struct listener *l = *newl; l && !known; l = l->next)
			known = listener_same_addr(&l->sa, &a->sa);
		if (known)
			continue;
		struct listener *l =
			listener_bind(a, srv->nworkers, cfg->backlog,
				      cfg->freebind, err, errlen);
		if (!l)
			goto fail;
		l->next = *newl;
		*newl = l;
	}
	return 0;
fail:
	while (*newl) {
		struct listener *l = *newl;
		*newl = l->next;
		listener_free(l);
	}
	return -1;
}

/* Is the listener's address still served by CFG? */
static bool server_addr_in_config(const struct config *cfg,
				  const struct listener *l)
{
	const struct config_addr *a;

	for (size_t n = 0; (a = server_config_addr(cfg, n)); n++)
		if (listener_same_addr(&a->sa, &l->sa))
			return true;
	return false;
}

/* Settings a reload cannot apply to a running process: say so, with the
 * value that stays in force, instead of reporting a silent success. */
static void server_reload_unapplied(const struct config *now,
				    const struct config *next)
{
	const char *a = now->admin.text ? now->admin.text : "none";
	const char *b = next->admin.text ? next->admin.text : "none";
	const char *u = now->user ? now->user : "(none)";
	const char *w = next->user ? next->user : "(none)";
	const char *lf = now->log_file ? now->log_file : "(stderr/syslog)";
	const char *nlf = next->log_file ? next->log_file : "(stderr/syslog)";

	if (now->worker_mode != next->worker_mode)
		log_warn("reload: worker_mode = %s needs a restart; the "
			 "workers keep running as %s",
			 next->worker_mode == CONFIG_WORKERS_PROCESSES
				 ? "processes"
				 : "threads",
			 now->worker_mode == CONFIG_WORKERS_PROCESSES
				 ? "processes"
				 : "threads");
	if (now->workers != next->workers)
		log_warn(
			"reload: workers = %d needs a restart; %d workers keep "
			"serving",
			next->workers, now->workers);
	if (strcmp(a, b) != 0)
		log_warn("reload: admin = %s needs a restart; the admin "
			 "endpoint stays on %s",
			 b, a);
	if (strcmp(u, w) != 0)
		log_warn("reload: user = %s needs a restart; edge443 keeps "
			 "running as %s",
			 w, u);
	if (strcmp(lf, nlf) != 0 || now->log_syslog != next->log_syslog)
		log_warn("reload: the log destination (%s) needs a restart; "
			 "logging stays on %s",
			 nlf, lf);
	if (now->max_connections != next->max_connections)
		log_info("reload: max_connections = %d applies to new "
			 "accepts; the open-files limit set at start stays",
			 next->max_connections);
}

/* The service manager's STATUS= for the runtime in service: "serving 4
 * services on 5 addresses" (redirect_http listeners count as addresses). */
static void server_served(const struct runtime *rt, char *buf, size_t len)
{
	size_t naddr = 0, nsvc = rt->cfg->nservices;

	while (server_config_addr(rt->cfg, naddr))
		naddr++;
	snprintf(buf, len, "serving %zu service%s on %zu address%s", nsvc,
		 nsvc == 1 ? "" : "s", naddr, naddr == 1 ? "" : "es");
}

/* A reload is over: READY=1 again, with what is served now and, when the
 * new configuration was REFUSED (why), that the previous one still is. */
static void server_notify_reloaded(const struct server *srv,
				   const char *refused)
{
	char served[128];

	server_served(srv->rt, served, sizeof(served));
	if (refused)
		notify_send(NOTIFY_READY,
			    "reload refused: %s; the previous configuration is "
			    "still %s",
			    refused, served);
	else
		notify_send(NOTIFY_READY, "%s", served);
}

/* The ticket keys of model V: its ticket_key_file's keys (read and judged
 * by the validation), else new random keys.  NULL with the reason in err. */
static struct tls_tickets *server_tickets(const struct server *srv,
					  const struct validated *v, char *err,
					  size_t errlen)
{
	if (srv->procs)
		return tls_tickets_new_shared(v->ticket_keys, v->nticket_keys,
					      err, errlen);
	if (v->nticket_keys > 0)
		return tls_tickets_from_keys(v->ticket_keys, v->nticket_keys,
					     err, errlen);
	return tls_tickets_new(NULL, err, errlen);
}

/* The ticket keys for the model V that a reload brings: its
 * ticket_key_file's keys, read again by the validation (rotated by
 * `edge443 tickets rotate` and copied to every node), else the running
 * random keys, or new random keys when the running ones came from a file.  A
 * new reference (the caller frees it), or NULL with the reason in err: the
 * running keys stay.  Worker processes keep the shared keys they were
 * forked with: server_reload replaces their contents in place instead. */
static struct tls_tickets *server_reload_tickets(struct server *srv,
						 const struct validated *v,
						 char *err, size_t errlen)
{
	if (srv->procs || (v->nticket_keys == 0 && !srv->tickets_from_file)) {
		tls_tickets_ref(srv->tickets);
		return srv->tickets;
	}
	return server_tickets(srv, v, err, errlen);
}

/* Worker processes: the reload is taken; put the N keys of its
 * ticket_key_file (or, when the running keys came from a file and the new
 * configuration has none, new random keys) into the shared keys, which
 * every child reads. */
static void server_reload_shared_tickets(struct server *srv,
					 const struct ticket_key *keys,
					 size_t n, const char *file)
{
	char err[256];

	if (n == 0 && !tls_tickets_from_file(srv->tickets))
		return; /* random keys: they keep rotating */
	if (tls_tickets_set_keys(srv->tickets, keys, n, err, sizeof(err)) < 0)
		log_error("reload: %s; the previous session-ticket keys stay",
			  err);
	else if (n)
		log_info("reload: session-ticket keys read again from %s",
			 file);
	srv->tickets_from_file = tls_tickets_from_file(srv->tickets);
}

static void server_reload(struct server *srv)
{
	enum server_result code = SERVER_OK;
	char err[1024];
	struct validated *v;
	struct runtime *rt;
	struct listener *newl = NULL;

	log_info("reload: reading %s", srv->opts.config_path);
	v = server_validate(srv->opts.config_path, NULL, &code);
	if (!v) {
		log_error("reload: %s is not valid; the previous configuration "
			  "keeps serving",
			  srv->opts.config_path);
		srv->reloads_failed++;
		snprintf(err, sizeof(err), "%s: %s (see the log)",
			 srv->opts.config_path,
			 code == SERVER_PLAN_ERRORS
				 ? "errors in the certificate plan"
			 : code == SERVER_CONFIG_ERROR
				 ? "configuration error"
				 : "cannot be read or checked");
		server_notify_reloaded(srv, err);
		return;
	}
	enum log_level level = v->cfg->log_level;
	struct tls_tickets *tickets =
		server_reload_tickets(srv, v, err, sizeof(err));
	if (!tickets) {
		log_error("reload: %s; the previous configuration and its "
			  "ticket keys keep serving",
			  err);
		validate_free(v);
		srv->reloads_failed++;
		server_notify_reloaded(srv, err);
		return;
	}
	char *served = served_json(v);
	struct ticket_key keys[TICKET_FILE_MAX_KEYS];
	size_t nkeys = v->nticket_keys;
	memcpy(keys, v->ticket_keys, nkeys * sizeof(keys[0]));
	rt = server_runtime(v, tickets, err, sizeof(err));
	if (!rt) {
		OPENSSL_cleanse(keys, sizeof(keys));
		log_error("reload: %s; the previous configuration keeps "
			  "serving",
			  err);
		tls_tickets_free(tickets);
		free(served);
		srv->reloads_failed++;
		server_notify_reloaded(srv, err);
		return;
	}
	if (server_bind_new(srv, rt->cfg, &newl, err, sizeof(err)) < 0) {
		OPENSSL_cleanse(keys, sizeof(keys));
		log_error("reload: %s; the previous configuration keeps "
			  "serving",
			  err);
		runtime_unref(rt);
		tls_tickets_free(tickets);
		free(served);
		srv->reloads_failed++;
		server_notify_reloaded(srv, err);
		return;
	}
	srv->reloads_ok++;
	server_reload_unapplied(srv->rt->cfg, rt->cfg);
	pthread_mutex_lock(&srv->lock);
	for (struct listener *l = srv->listeners; l; l = l->next)
		if (!l->retired && !server_addr_in_config(rt->cfg, l)) {
			l->retired = true;
			log_info("reload: no longer listening on %s", l->text);
		}
	while (newl) {
		struct listener *l = newl;
		newl = l->next;
		l->next = srv->listeners;
		srv->listeners = l;
		log_info("reload: now listening on %s", l->text);
	}
	struct runtime *old = srv->rt;
	srv->rt = rt;
	pthread_mutex_unlock(&srv->lock);
	runtime_unref(old);
	free(srv->served);
	srv->served = served;
	/* The new contexts hold their own references to the keys; the old
	 * contexts keep theirs until their last connection ends. */
	if (tickets != srv->tickets) {
		tls_tickets_free(srv->tickets);
		srv->tickets = tickets;
		srv->tickets_from_file = rt->cfg->ticket_key_file != NULL;
		if (srv->tickets_from_file)
			log_info("reload: session-ticket keys read again from "
				 "%s",
				 rt->cfg->ticket_key_file);
	} else {
		tls_tickets_free(tickets); /* the extra reference */
	}
	log_set_level(level);
	if (srv->procs) {
		server_reload_shared_tickets(srv, keys, nkeys,
					     rt->cfg->ticket_key_file);
		server_procs_reload(srv);
	} else {
		for (size_t i = 0; i < srv->nworkers; i++)
			event_active(srv->workers[i].sync_ev, EV_READ, 0);
	}
	OPENSSL_cleanse(keys, sizeof(keys));
	log_info("reload: %s is in service for new connections",
		 srv->opts.config_path);
	server_notify_reloaded(srv, NULL);
}

/* Stop what opts.companion started (the ACME renewal), once. */
static void server_companion_stop(struct server *srv)
{
	if (srv->companion && srv->opts.companion)
		srv->opts.companion->stop(srv->companion);
	srv->companion = NULL;
}

static void server_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;

	switch (sig) {
	case SIGTERM:
	case SIGINT:
		if (srv->stopping)
			return;
		srv->stopping = true;
		/* First, so that keepalived moves the addresses away while
		 * the open connections drain. */
		admin_set_draining(srv->admin);
		notify_send(NOTIFY_STOPPING,
			    "draining: no longer accepting; open connections "
			    "have at most %d s",
			    srv->rt->cfg->shutdown_timeout);
		log_info("signal %s: no longer accepting; draining for at most "
			 "%d s",
			 sig == SIGTERM ? "TERM" : "INT",
			 srv->rt->cfg->shutdown_timeout);
		server_companion_stop(srv);
		if (srv->procs) {
			server_procs_stop(srv);
			break;
		}
		server_workers_all(srv, true);
		struct timeval tv = {srv->rt->cfg->shutdown_timeout, 0};
		evtimer_add(srv->deadline_ev, &tv);
		break;
	case SIGHUP:
		if (!srv->stopping) {
			notify_send(NOTIFY_RELOADING, "reloading %s",
				    srv->opts.config_path);
			server_reload(srv);
		}
		break;
	case SIGUSR1:
		if (log_reopen() < 0)
			log_error("signal USR1: cannot reopen the log file: %s",
				  strerror(errno));
		else
			log_info("signal USR1: log file reopened");
		if (srv->procs)
			server_procs_signal(srv, SIGUSR1);
		break;
	}
	(void)what;
}

static void server_rotate_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	tls_tickets_rotate(srv->tickets);
	(void)fd;
	(void)what;
}

static size_t server_worker_count(const struct config *cfg)
{
	long n =
		cfg->workers > 0 ? cfg->workers : sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (size_t)n : 1;
}

/* /metrics: the workers' counters summed (atomics), rendered by metrics.c. */
/* /served: the document of the model now serving (main thread, as every
 * (re)load that replaces it). */
static void server_served_cb(struct evbuffer *out, void *arg)
{
	struct server *srv = arg;

	if (srv->served)
		evbuffer_add(out, srv->served, strlen(srv->served));
	else
		evbuffer_add_printf(out, "{}\n");
}

static void server_metrics_cb(struct evbuffer *out, void *arg)
{
	struct server *srv = arg;
	struct metrics_totals t = {0};

	if (srv->procs)
		server_procs_metrics(srv, &t);
	for (size_t i = 0; srv->workers && i < srv->nworkers; i++)
		metrics_add(&t, &srv->workers[i].stats);
	t.workers = srv->nworkers;
	t.reloads_ok = srv->reloads_ok;
	t.reloads_failed = srv->reloads_failed;
	struct acme_stats_snapshot acme;
	acme_stats_snapshot(&acme);
	t.acme = &acme;
	/* The main thread is the only writer of srv->rt: no lock needed. */
	metrics_render(out, &t, srv->rt, time(NULL));
}

/* Logging, ticket keys and the runtime of a validated model V (taken).
 * 0, or -1 with everything said on stderr. */
static int server_prepare(struct server *srv, struct validated *v)
{
	const struct config *cfg = v->cfg;
	char err[1024];
	enum log_target target = cfg->log_file ? LOG_TARGET_FILE
				 : cfg->log_syslog || srv->opts.daemon
					 ? LOG_TARGET_SYSLOG
					 : LOG_TARGET_STDERR;

	srv->nworkers = server_worker_count(cfg);
	srv->procs = cfg->worker_mode == CONFIG_WORKERS_PROCESSES;
	if (log_open(target, cfg->log_file, cfg->log_level) < 0) {
		fprintf(stderr,
			"error %s:%d: log_file %s: cannot open: %s — create "
			"its folder, or give the user edge443 runs as write "
			"access to it\n",
			cfg->file, cfg->log_file_line,
			cfg->log_file ? cfg->log_file : "-", strerror(errno));
		validate_free(v);
		return -1;
	}
	srv->tickets = server_tickets(srv, v, err, sizeof(err));
	srv->tickets_from_file = v->nticket_keys > 0;
	if (!srv->tickets) {
		fprintf(stderr, "error %s: session tickets: %s\n", cfg->file,
			err);
		validate_free(v);
		return -1;
	}
	srv->served = served_json(v);
	srv->rt = server_runtime(v, srv->tickets, err, sizeof(err));
	if (!srv->rt) {
		fprintf(stderr, "edge443: %s — nothing was bound\n", err);
		return -1;
	}
	if (limits_raise_nofile(srv->rt->cfg->max_connections, srv->nworkers,
				err, sizeof(err)) < 0)
		fprintf(stderr, "edge443: warning: %s\n", err);
	if (server_bind_new(srv, srv->rt->cfg, &srv->listeners, err,
			    sizeof(err)) < 0) {
		fprintf(stderr, "edge443: %s — nothing was bound\n", err);
		return -1;
	}
	return 0;
}

/* The main loop's events: signals, ticket rotation, shutdown; then the
 * admin endpoint (bound before the privilege drop too).  0 / -1 (logged). */
static int server_events(struct server *srv)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
	struct timeval rotate = {SERVER_TICKET_ROTATE_SEC, 0};
	char err[1024];

	if (evthread_use_pthreads() < 0 || !(srv->base = event_base_new())) {
		log_error("cannot create the event loop");
		return -1;
	}
	srv->done_ev = event_new(srv->base, -1, 0, server_done_cb, srv);
	srv->deadline_ev = evtimer_new(srv->base, server_deadline_cb, srv);
	srv->rotate_ev =
		event_new(srv->base, -1, EV_PERSIST, server_rotate_cb, srv);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		srv->signals[i] =
			evsignal_new(srv->base, sigs[i], server_signal_cb, srv);
		if (!srv->signals[i] ||
		    evsignal_add(srv->signals[i], NULL) < 0) {
			log_error("cannot install signal handlers");
			return -1;
		}
	}
	event_add(srv->rotate_ev, &rotate);
	if (srv->procs && server_procs_init(srv) < 0)
		return -1;
	if (srv->rt->cfg->admin.text) {
		srv->admin = admin_new(srv->base, &srv->rt->cfg->admin,
				       server_metrics_cb, server_served_cb, srv,
				       err, sizeof(err));
		if (!srv->admin) {
			log_error("%s — nothing is served", err);
			return -1;
		}
	}
	return 0;
}

/* Start the worker threads (signals blocked in them: the main thread
 * handles every signal).  True when all of them run. */
static bool server_start_workers(struct server *srv)
{
	sigset_t all, old;

	srv->workers = calloc(srv->nworkers, sizeof(*srv->workers));
	if (!srv->workers)
		return false;
	for (size_t i = 0; i < srv->nworkers; i++)
		if (server_worker_init(srv, &srv->workers[i], i) < 0) {
			log_error("cannot create worker %zu", i);
			return false;
		}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (size_t i = 0; i < srv->nworkers; i++) {
		if (pthread_create(&srv->workers[i].thread, NULL,
				   server_worker_main, &srv->workers[i]) != 0) {
			log_error("cannot start worker %zu", i);
			break;
		}
		srv->workers[i].started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return srv->workers[srv->nworkers - 1].started;
}

/* Everything is up: say what is served (log, service manager), then run
 * the main loop until the workers are done. */
static void server_serve(struct server *srv)
{
	char served[128];

	for (size_t i = 0; i < srv->rt->cfg->nservices; i++) {
		const struct config_service *svc = &srv->rt->cfg->services[i];
		for (size_t j = 0; j < svc->nlisten; j++)
			log_info("service %s (%s, %s): listening on %s",
				 svc->name, config_role_name(svc->role),
				 config_mode_name(svc->mode),
				 svc->listen[j].text);
	}
	log_info("edge443 %s serving %s with %zu worker%s%s", EDGE443_VERSION,
		 srv->opts.config_path, srv->nworkers,
		 srv->nworkers == 1 ? "" : "s",
		 srv->procs ? " (processes)" : "");
	/* Every listener listens (connections wait in its backlog until its
	 * worker takes them) and the privileges are dropped: the service
	 * manager may start what depends on us. */
	server_served(srv->rt, served, sizeof(served));
	if (notify_send(NOTIFY_READY, "%s", served) < 0)
		log_warn("cannot tell the service manager that edge443 is "
			 "ready (NOTIFY_SOCKET=%s): %s",
			 getenv("NOTIFY_SOCKET"), strerror(errno));
	event_base_dispatch(srv->base);
}

/* The one teardown of `run`, for every way out. */
static void server_free(struct server *srv, enum server_result code)
{
	char err[1024];

	server_companion_stop(srv);
	if (srv->procs)
		server_procs_free(srv);
	admin_free(srv->admin);
	for (size_t i = 0; srv->workers && i < srv->nworkers; i++)
		server_worker_free(&srv->workers[i]);
	free(srv->workers);
	for (size_t i = 0; i < sizeof(srv->signals) / sizeof(srv->signals[0]);
	     i++)
		if (srv->signals[i])
			event_free(srv->signals[i]);
	if (srv->done_ev)
		event_free(srv->done_ev);
	if (srv->deadline_ev)
		event_free(srv->deadline_ev);
	if (srv->rotate_ev)
		event_free(srv->rotate_ev);
	if (srv->base)
		event_base_free(srv->base);
	while (srv->listeners) {
		struct listener *l = srv->listeners;
		srv->listeners = l->next;
		listener_free(l);
	}
	runtime_unref(srv->rt);
	tls_tickets_free(srv->tickets);
	free(srv->served);
	if (srv->opts.pidfile && code == SERVER_OK &&
	    pidfile_remove(srv->opts.pidfile, err, sizeof(err)) < 0)
		log_warn("%s", err);
	log_close();
	pthread_mutex_destroy(&srv->lock);
}

enum server_result server_run(const struct server_options *opts)
{
	struct validated *v;
	struct server srv;
	char err[1024];
	enum server_result code = SERVER_RUNTIME_ERROR;

	memset(&srv, 0, sizeof(srv));
	srv.opts = *opts;
	pthread_mutex_init(&srv.lock, NULL);

	/* Nothing binds before the plan is valid. */
	v = server_validate(srv.opts.config_path, stderr, &code);
	if (!v) {
		pthread_mutex_destroy(&srv.lock);
		return code;
	}
	if (server_prepare(&srv, v) < 0)
		goto out;
	/* nochdir: relative paths (the configuration for SIGHUP, log_file for
	 * SIGUSR1, the pid file) keep meaning what they meant at start. */
	if (srv.opts.daemon && daemon(1, 0) < 0) {
		fprintf(stderr, "edge443: cannot daemonise: %s\n",
			strerror(errno));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	if (server_events(&srv) < 0)
		goto out;
	/* The pid file says "signal me": only once the handlers are in place
	 * (a SIGUSR1 or SIGHUP that came earlier ended the process). */
	if (srv.opts.pidfile &&
	    pidfile_write(srv.opts.pidfile, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	if (privs_drop(srv.rt->cfg->user, srv.opts.pidfile, err, sizeof(err)) <
	    0) {
		log_error("%s", err);
		goto out;
	}
	bool started = srv.procs ? server_procs_start(&srv) == 0
				 : server_start_workers(&srv);
	if (started) {
		if (srv.opts.companion)
			srv.companion = srv.opts.companion->start(
				srv.opts.config_path, srv.opts.companion->arg);
		server_serve(&srv);
	} else if (srv.workers)
		server_workers_all(&srv, false);
	for (size_t i = 0; srv.workers && i < srv.nworkers; i++)
		if (srv.workers[i].started)
			pthread_join(srv.workers[i].thread, NULL);
	if (started) {
		log_info("stopped");
		code = SERVER_OK;
	}
out:
	server_free(&srv, code);
	return code;
}
