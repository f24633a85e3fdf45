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

/* Run until signalled.  Returns the process exit code (0 after a clean
 * drain, 1 when the plan has errors, 3 when a listener cannot be bound or a
 * file cannot be read, 2 for a configuration syntax error). */
int server_run(const struct server_options *opts);

#endif
