/* server_procs.c — worker_mode = processes: the worker processes of `run`.
 *
 * The main process has validated, built the runtime, bound every listener
 * (one SO_REUSEPORT socket per worker and address) and dropped privileges
 * (server.c).  Here it forks one child per worker: child I serves socket
 * fds[I] of every address with the worker code of server_worker.c, run on
 * its main thread, and closes the other workers' sockets; the main process
 * keeps every socket (a new generation needs them) and never accepts.
 *
 * A child: PR_SET_PDEATHSIG(SIGTERM) (and exits at once if the main process
 * is already gone), every signal handler back to its default, SIGPIPE and
 * SIGHUP ignored, SIGTERM/SIGINT/SIGUSR1 read from a signalfd on its own
 * event base: TERM/INT drain as a thread's stop_ev does (kill_ev after
 * shutdown_timeout), USR1 reopens the log file.  It counts into its slot of
 * stats_shared.c and reads the session-ticket keys that the main process
 * keeps in shared memory (tls_tickets.c).  It never touches the main
 * process's event base (whose epoll set and signal pipe it shares), admin
 * endpoint, pid file or notify socket, and it ends with _exit.
 *
 * The main process reaps with SIGCHLD (libevent's signal event), folds the
 * counters of a child that ended into the retired totals, and starts a
 * child that died (crash, SIGKILL) again into the same place, at most once
 * a second per worker.  A reload forks a new generation and then sends
 * SIGTERM to the previous ones; SIGTERM of the main process sends SIGTERM
 * to every child and SIGKILL after shutdown_timeout plus a margin.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "edge443/base/log.h"
#include "edge443/serve/server_internal.h"
#include "edge443/serve/stats_shared.h"

/* Generations that may be alive at once (one serving, the rest draining):
 * the counter slots are made for this many. */
#define SERVER_PROCS_GENERATIONS 8
/* A worker is forked again at most once per this many milliseconds. */
#define SERVER_PROCS_RESPAWN_MS 1000
/* The back-off timer's step. */
#define SERVER_PROCS_RESPAWN_TICK_MS 200
/* Stop: SIGKILL this long after shutdown_timeout. */
#define SERVER_PROCS_KILL_MARGIN 5
/* At most this many children reaped per SIGCHLD event. */
#define SERVER_PROCS_REAP_MAX 4096

/* ------------------------------------------------------------- the child */

static void server_procs_child_signal_cb(evutil_socket_t fd, short what,
					 void *arg)
{
	struct server_worker *w = arg;
	struct signalfd_siginfo si;

	for (int n = 0;
	     n < 16 && read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si); n++) {
		if (si.ssi_signo == SIGUSR1) {
			if (log_reopen() < 0)
				log_error("worker %zu: cannot reopen the log "
					  "file: %s",
					  w->index, strerror(errno));
			continue;
		}
		if (w->draining)
			continue;
		/* SIGTERM, SIGINT (or the main process died): stop
		 * accepting, drain for at most shutdown_timeout. */
		struct timeval tv = {w->rt ? w->rt->cfg->shutdown_timeout : 0,
				     0};
		event_add(w->kill_ev, &tv);
		event_active(w->stop_ev, EV_READ, 0);
	}
	(void)what;
}

/* Close the sockets of every other worker: each child holds only its own. */
static void server_procs_child_fds(struct server *srv, size_t index)
{
	for (struct listener *l = srv->listeners; l; l = l->next)
		for (size_t i = 0; i < l->nfds; i++)
			if (i != index && l->fds[i] >= 0) {
				close(l->fds[i]);
				l->fds[i] = -1;
			}
}

/* The child's whole life; never returns. */
static void server_procs_child(struct server *srv, size_t index,
			       struct proxy_stats *stats)
{
	struct sigaction sa;
	sigset_t mask;
	struct server_worker w;
	struct event *sig_ev = NULL;
	int sfd;

	/* Every handler of the main process (libevent's write into the main
	 * process's signal pipe) back to its default, while all signals are
	 * still blocked (server_procs_spawn). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &sa, NULL); /* reserved ones fail: fine */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL); /* reloads are the main process's */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	/* SIGTERM (read from the signalfd: a drain) once the main process
	 * dies; if it died before this line, nobody would send it. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != srv->pid)
		_exit(1);
	server_procs_child_fds(srv, index);
	/* The admin endpoint is the main process's: a copy kept here would
	 * hold its port after the main process died, until this child ends
	 * (the main process's epoll set is not touched: the socket stays
	 * open there). */
	if (admin_fd(srv->admin) >= 0)
		close(admin_fd(srv->admin));
	memset(&w, 0, sizeof(w));
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0 || server_worker_init(srv, &w, index) < 0) {
		log_error("worker %zu (pid %d): cannot set up its event loop",
			  index, (int)getpid());
		_exit(1);
	}
	w.process = true;
	w.owner.stats = stats;
	sig_ev = event_new(w.base, sfd, EV_READ | EV_PERSIST,
			   server_procs_child_signal_cb, &w);
	if (!sig_ev || event_add(sig_ev, NULL) < 0) {
		log_error("worker %zu (pid %d): cannot watch its signals",
			  index, (int)getpid());
		_exit(1);
	}
	server_worker_run(&w);
	event_free(sig_ev);
	server_worker_free(&w);
	close(sfd);
	_exit(0);
}

/* ------------------------------------------------------ the main process */

static long server_procs_ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - t->tv_sec) * 1000 +
	       (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* Fork the child of worker INDEX for the current generation.  0 / -1
 * (logged; the worker stays missing). */
static int server_procs_spawn(struct server *srv, size_t index)
{
	sigset_t all, old;
	pid_t pid;
	int slot;

	if (srv->nchildren == srv->children_cap) {
		size_t cap = srv->children_cap ? 2 * srv->children_cap : 8;
		struct server_child *c =
			realloc(srv->children, cap * sizeof(*c));
		if (!c) {
			log_error("worker %zu: out of memory", index);
			return -1;
		}
		srv->children = c;
		srv->children_cap = cap;
	}
	slot = stats_shared_take(srv->stats);
	if (slot < 0) {
		log_error("worker %zu: %d generations of workers are still "
			  "draining; starting it once one has ended",
			  index, SERVER_PROCS_GENERATIONS);
		return -1;
	}
	/* Blocked until the child has put its own handlers in place. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0)
		server_procs_child(srv, index,
				   stats_shared_slot(srv->stats, (size_t)slot));
	sigprocmask(SIG_SETMASK, &old, NULL);
	clock_gettime(CLOCK_MONOTONIC, &srv->spawned[index]);
	if (pid < 0) {
		log_error("worker %zu: cannot fork: %s", index,
			  strerror(errno));
		stats_shared_retire(srv->stats, (size_t)slot);
		return -1;
	}
	srv->children[srv->nchildren++] = (struct server_child){
		.pid = pid,
		.index = index,
		.generation = srv->generation,
		.slot = slot,
	};
	srv->missing[index] = false;
	log_info("worker %zu: process %d started (generation %u)", index,
		 (int)pid, srv->generation);
	return 0;
}

/* Fork every missing worker whose back-off is over; come back for the
 * others. */
static void server_procs_respawn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct timeval tick = {0, SERVER_PROCS_RESPAWN_TICK_MS * 1000};
	bool left = false;

	for (size_t i = 0; !srv->stopping && i < srv->nworkers; i++) {
		if (!srv->missing[i])
			continue;
		if (server_procs_ms_since(&srv->spawned[i]) <
			    SERVER_PROCS_RESPAWN_MS ||
		    server_procs_spawn(srv, i) < 0)
			left = true;
	}
	if (left && !evtimer_pending(srv->respawn_ev, NULL))
		evtimer_add(srv->respawn_ev, &tick);
	(void)fd;
	(void)what;
}

/* "killed by signal 9 (Killed)" / "exited with status 1". */
static void server_procs_status(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "exited with status %d",
			 WEXITSTATUS(status));
}

static void server_procs_reaped(struct server *srv, pid_t pid, int status)
{
	struct server_child c;
	size_t j = 0;
	char how[96];

	while (j < srv->nchildren && srv->children[j].pid != pid)
		j++;
	if (j == srv->nchildren)
		return; /* not a worker */
	c = srv->children[j];
	srv->children[j] = srv->children[--srv->nchildren];
	stats_shared_retire(srv->stats, (size_t)c.slot);
	server_procs_status(status, how, sizeof(how));
	if (c.generation == srv->generation && !c.draining && !srv->stopping) {
		log_error("worker %zu: process %d %s; starting a new one",
			  c.index, (int)pid, how);
		srv->missing[c.index] = true;
		server_procs_respawn_cb(-1, 0, srv);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		log_info("worker %zu: process %d (generation %u) has drained "
			 "and exited",
			 c.index, (int)pid, c.generation);
	} else {
		log_warn("worker %zu: process %d (generation %u) %s while "
			 "draining",
			 c.index, (int)pid, c.generation, how);
	}
	if (srv->stopping && srv->nchildren == 0)
		event_base_loopexit(srv->base, NULL);
}

static void server_procs_chld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	int status;
	pid_t pid;

	for (int n = 0; n < SERVER_PROCS_REAP_MAX; n++) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			break;
		server_procs_reaped(srv, pid, status);
	}
	(void)sig;
	(void)what;
}

static void server_procs_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	if (srv->nchildren)
		log_warn("%zu worker process%s still running after "
			 "shutdown_timeout + %d s: killing them",
			 srv->nchildren, srv->nchildren == 1 ? "" : "es",
			 SERVER_PROCS_KILL_MARGIN);
	server_procs_signal(srv, SIGKILL);
	(void)fd;
	(void)what;
}

int server_procs_init(struct server *srv)
{
	srv->pid = getpid();
	srv->stats = stats_shared_new(srv->nworkers * SERVER_PROCS_GENERATIONS);
	srv->spawned = calloc(srv->nworkers, sizeof(*srv->spawned));
	srv->missing = calloc(srv->nworkers, sizeof(*srv->missing));
	srv->chld_ev =
		evsignal_new(srv->base, SIGCHLD, server_procs_chld_cb, srv);
	srv->respawn_ev = evtimer_new(srv->base, server_procs_respawn_cb, srv);
	srv->procs_kill_ev = evtimer_new(srv->base, server_procs_kill_cb, srv);
	if (!srv->stats || !srv->spawned || !srv->missing || !srv->chld_ev ||
	    !srv->respawn_ev || !srv->procs_kill_ev ||
	    evsignal_add(srv->chld_ev, NULL) < 0) {
		log_error("cannot set up the worker processes");
		return -1;
	}
	return 0;
}

int server_procs_start(struct server *srv)
{
	int rc = 0;

	srv->generation = 1;
	for (size_t i = 0; i < srv->nworkers; i++)
		if (server_procs_spawn(srv, i) < 0) {
			srv->missing[i] = true;
			rc = -1;
		}
	return rc;
}

void server_procs_reload(struct server *srv)
{
	size_t started = 0;

	srv->generation++;
	for (size_t i = 0; i < srv->nworkers; i++) {
		srv->missing[i] = true;
		if (server_procs_spawn(srv, i) == 0)
			started++;
	}
	if (started < srv->nworkers)
		server_procs_respawn_cb(-1, 0, srv);
	for (size_t j = 0; j < srv->nchildren; j++) {
		struct server_child *c = &srv->children[j];
		if (c->generation == srv->generation || c->draining)
			continue;
		c->draining = true;
		kill(c->pid, SIGTERM);
	}
	/* The children of every generation hold their own sockets: the
	 * addresses the configuration left are closed here, once. */
	for (struct listener **p = &srv->listeners; *p;) {
		struct listener *l = *p;
		if (l->retired) {
			*p = l->next;
			listener_free(l);
		} else {
			p = &l->next;
		}
	}
	log_info("reload: %zu of %zu worker processes of generation %u "
		 "started; the previous ones drain",
		 started, srv->nworkers, srv->generation);
}

void server_procs_stop(struct server *srv)
{
	struct timeval tv = {
		srv->rt->cfg->shutdown_timeout + SERVER_PROCS_KILL_MARGIN, 0};

	evtimer_del(srv->respawn_ev);
	for (size_t j = 0; j < srv->nchildren; j++) {
		srv->children[j].draining = true;
		kill(srv->children[j].pid, SIGTERM);
	}
	if (srv->nchildren == 0)
		event_base_loopexit(srv->base, NULL);
	else
		evtimer_add(srv->procs_kill_ev, &tv);
}

void server_procs_signal(struct server *srv, int sig)
{
	for (size_t j = 0; j < srv->nchildren; j++)
		kill(srv->children[j].pid, sig);
}

void server_procs_metrics(const struct server *srv, struct metrics_totals *t)
{
	if (srv->stats)
		stats_shared_sum(srv->stats, t);
}

void server_procs_free(struct server *srv)
{
	/* Start-up failed or the loop ended early: nothing may outlive the
	 * main process.  waitpid blocks only for a child already killed. */
	for (size_t j = 0; j < srv->nchildren; j++) {
		int status;
		kill(srv->children[j].pid, SIGKILL);
		waitpid(srv->children[j].pid, &status, 0);
	}
	srv->nchildren = 0;
	free(srv->children);
	free(srv->spawned);
	free(srv->missing);
	if (srv->chld_ev)
		event_free(srv->chld_ev);
	if (srv->respawn_ev)
		event_free(srv->respawn_ev);
	if (srv->procs_kill_ev)
		event_free(srv->procs_kill_ev);
	stats_shared_free(srv->stats);
}
