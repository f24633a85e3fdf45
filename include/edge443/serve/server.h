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

struct server_options {
	const char *config_path;
	bool daemon;
	const char *pidfile; /* NULL: none */
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
