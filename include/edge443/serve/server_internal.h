/* server_internal.h — what server.c and server_worker.c share.
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
#include <time.h>

#include "edge443/serve/admin.h"
#include "edge443/serve/listener.h"
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
};

/* Set up worker INDEX of SRV (its event base and control events). 0 / -1. */
int server_worker_init(struct server *srv, struct server_worker *w,
		       size_t index);
/* The worker thread: takes its listeners, serves until stopped or killed,
 * closes what is left and tells the main thread (done_ev). */
void *server_worker_main(void *arg);
/* Free what server_worker_init made (after the thread was joined). */
void server_worker_free(struct server_worker *w);

#endif
