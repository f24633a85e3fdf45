/* server_internal.h — what server.c, server_plan.c, server_worker.c and
 * server_procs.c share.
 *
 * Private to the server module: the server and worker structs, and the
 * worker life cycle that the main thread drives.  The main thread writes
 * `rt` and `listeners` under `lock`; each worker reads them under the same
 * lock when told to (sync_ev), and otherwise touches only its own struct.
 */
#ifndef EDGE443_SERVER_INTERNAL_H
#define EDGE443_SERVER_INTERNAL_H

#include <event2/event.h>
#include <event2/listener.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "edge443/serve/admin.h"
#include "edge443/serve/listener.h"
#include "edge443/serve/metrics.h"
#include "edge443/serve/proxy.h"
#include "edge443/serve/runtime.h"
#include "edge443/serve/server.h"
#include "edge443/serve/tls.h"

struct server;

/* One worker's evconnlistener on one listener's socket. */
struct server_wl {
	struct server_worker *w;
	struct listener *l;
	struct evconnlistener *evl;
	/* What this address serves under the worker's runtime, resolved when
	 * the worker takes a runtime (not on every accept): a service, or
	 * the redirect listener of one (REDIRECT), or nothing (NULL). */
	const struct runtime_service *rs;
	bool redirect;
	struct server_wl *next;
};

struct server_worker {
	struct server *srv;
	size_t index;
	pthread_t thread;
	bool started;
	struct event_base *base;
	struct proxy_owner owner;
	/* A thread's counters (owner.stats points here); a worker process
	 * counts into its stats_shared slot instead. */
	struct proxy_stats stats;
	bool process; /* the main thread of a worker process */
	struct runtime
		*rt; /* what new connections use; the worker's reference */
	struct server_wl *wls;
	struct event
		*sync_ev; /* main -> worker: take the new runtime/listeners */
	struct event *stop_ev;	 /* main -> worker: stop accepting, drain */
	struct event *kill_ev;	 /* main -> worker: drain deadline passed */
	struct event *resume_ev; /* accept back-off (EMFILE) and limit timer */
	bool paused;		 /* listeners disabled (limit or back-off) */
	bool draining;
	time_t last_accept_error_log;
};

/* One worker process (worker_mode = processes; server_procs.c). */
struct server_child {
	pid_t pid;
	size_t index;	     /* the worker it is: it serves fds[index] */
	unsigned generation; /* srv->generation when it was forked */
	int slot;	     /* its stats_shared slot */
	bool draining;	     /* SIGTERM sent: it drains and exits */
};

struct server {
	struct server_options opts;
	pthread_mutex_t lock; /* guards rt and listeners */
	struct runtime *rt;
	struct listener *listeners;
	struct server_worker *workers;
	size_t nworkers;
	struct event_base *base;
	struct tls_tickets *tickets;
	char *served; /* owned: the /served document of the model now serving */
	bool tickets_from_file;	   /* read from ticket_key_file (reread on
				      reload), else random keys */
	struct event *done_ev;	   /* worker -> main: a worker has finished */
	struct event *deadline_ev; /* drain deadline */
	struct event *rotate_ev;   /* session-ticket key rotation */
	struct event *signals[5];
	atomic_size_t workers_done;
	bool stopping;
	struct admin *admin;
	uint64_t reloads_ok, reloads_failed;
	void *companion; /* opts.companion's handle, or NULL */

	/* worker_mode = processes, as started (a reload cannot change it);
	 * the rest is server_procs.c's, main thread only. */
	bool procs;
	pid_t pid;		       /* the main process */
	struct server_child *children; /* live children, every generation */
	size_t nchildren, children_cap;
	unsigned generation;	  /* the one new connections go to */
	struct timespec *spawned; /* per worker: its last fork (back-off) */
	bool *missing;		  /* per worker: no child of this generation */
	struct stats_shared *stats;  /* the children's counters */
	struct event *chld_ev;	     /* SIGCHLD */
	struct event *respawn_ev;    /* a missing child's back-off is over */
	struct event *procs_kill_ev; /* stop: the children's time is up */
};

struct validated;

/* server_plan.c, for start-up and reload.  Validate PATH as `check` does
 * (validate.c) and report: every finding to OUT (start-up: stderr) or, when
 * OUT is NULL, to the log (reload), in the one format of a finding
 * (finding_format).  Returns the model when it may serve (no error; the
 * caller owns it), else NULL with *code set. */
struct validated *server_validate(const char *path, FILE *out,
				  enum server_result *code);
/* The runtime for a validated model V: it takes V's configuration and is
 * built from V's loaded certificates; V is freed either way.  NULL with
 * the reason in err. */
struct runtime *server_runtime(struct validated *v, struct tls_tickets *tickets,
			       char *err, size_t errlen);

/* Set up worker INDEX of SRV (its event base and control events). 0 / -1. */
int server_worker_init(struct server *srv, struct server_worker *w,
		       size_t index);
/* Take the listeners, serve until stopped or killed, close what is left
 * (a worker process's whole life, server_procs.c). */
void server_worker_run(struct server_worker *w);
/* The worker thread: server_worker_run, then tell the main thread
 * (done_ev). */
void *server_worker_main(void *arg);
/* Free what server_worker_init made (after the thread was joined). */
void server_worker_free(struct server_worker *w);

/* worker_mode = processes (server_procs.c), all on the main thread of the
 * main process.  Set up the counters and the SIGCHLD and timer events on
 * srv->base (after the signal events, before the privilege drop).  0 / -1
 * (logged). */
int server_procs_init(struct server *srv);
/* Fork the first generation of children.  0 when every one started. */
int server_procs_start(struct server *srv);
/* A reload is in place (srv->rt, srv->listeners): fork a new generation,
 * then send SIGTERM to the previous ones (they drain), and close the
 * sockets of the addresses the new configuration left (retired). */
void server_procs_reload(struct server *srv);
/* SIGTERM/SIGINT: every child drains; SIGKILL after shutdown_timeout plus
 * a margin; the main loop exits once every child has been reaped. */
void server_procs_stop(struct server *srv);
/* Pass signal SIG (SIGUSR1: reopen the log) on to every child. */
void server_procs_signal(struct server *srv, int sig);
/* Add the children's counters, those that ended included, to T. */
void server_procs_metrics(const struct server *srv, struct metrics_totals *t);
/* Kill and reap what is left, free what server_procs_init made. */
void server_procs_free(struct server *srv);

#endif
