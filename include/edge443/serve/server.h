/* server.h — `edge443 run`: start-up order, workers, signals, reload.
 *
 * server.c validates the plan exactly as `check` does, builds the runtime,
 * binds every listener, drops privileges, starts the worker threads (each
 * with its own event base) and then waits for signals on the main thread:
 * SIGTERM/SIGINT drain, SIGHUP reloads (a bad new plan keeps the old one
 * serving), SIGUSR1 reopens the log file.
 */
#ifndef EDGE443_SERVER_H
#define EDGE443_SERVER_H

#include <stdbool.h>

/* Something `run` starts beside the workers — the ACME renewal
 * (cli/renew.c), which serve/ knows only through these two calls.  START
 * runs on the main thread once the workers serve (after the daemonising and
 * the privilege drop), with the configuration path and ARG; it returns a
 * handle (NULL: nothing started, and STOP is not called).  STOP runs on the
 * main thread when the drain begins or start-up fails, and waits for it to
 * end.  It must block every signal in the threads it starts: the main
 * thread handles them.  To install what it made it sends SIGHUP to the
 * process, the reload path.  Owned by the caller of server_run. */
struct server_companion {
	void *(*start)(const char *config_path, void *arg);
	void (*stop)(void *handle);
	void *arg;
};

struct server_options {
	const char *config_path;
	bool daemon;
	const char *pidfile;			  /* NULL: none */
	const struct server_companion *companion; /* NULL: none; borrowed */
};

/* How `run` ended (main.c turns it into the exit status). */
enum server_result {
	SERVER_OK,	      /* stopped after a clean drain */
	SERVER_PLAN_ERRORS,   /* the plan has errors: nothing was bound */
	SERVER_CONFIG_ERROR,  /* a syntax or value error in the file */
	SERVER_RUNTIME_ERROR, /* a listener could not be bound, a file could
			       * not be read, out of memory, ... */
};

/* Run until signalled. */
enum server_result server_run(const struct server_options *opts);

#endif
