/* log.h — the one place the running server writes its logs.
 *
 * log.c writes lines with a timestamp and level to stderr, to a log file
 * (reopened on SIGUSR1 via log_reopen, for logrotate) or to syslog.  A line
 * is "2026-11-24T17:05:00.123Z edge443[PID] LEVEL message" (UTC, LEVEL one of
 * ERROR WARN INFO DEBUG); syslog gets the message alone with ident "edge443",
 * LOG_PID, LOG_DAEMON and the matching priority.  Control bytes (< 0x20 and
 * 0x7f) in a message become '?', so attacker data (SNI, Host) cannot split or
 * forge a line; a line is at most 4096 bytes, a longer one ends in "...".
 *
 * log_msg, log_enabled, log_set_level and log_reopen are safe to call from
 * every worker thread: each line is written with a single write(2) so lines
 * never interleave, and a reopen never leaves a writer with a closed fd.
 * log_open and log_close switch targets and must be called while no other
 * thread logs (start-up, shutdown).  Before log_open (and after log_close)
 * messages go to stderr at INFO.  Messages below the configured level are
 * dropped cheaply.  log_msg preserves errno.
 */
#ifndef EDGE443_LOG_H
#define EDGE443_LOG_H

#include <stddef.h>

/* The levels, most severe first; a configured level writes itself and
 * everything above it. */
enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

enum log_target {
	LOG_TARGET_STDERR,
	LOG_TARGET_FILE,
	LOG_TARGET_SYSLOG,
};

/* Set up logging (closing any previous target); PATH is the file for
 * LOG_TARGET_FILE (else ignored), opened for appending and created mode 0640.
 * Returns 0, -1 when the file cannot be opened (errno set; the previous
 * target stays in use). */
int log_open(enum log_target target, const char *path, enum log_level level);
/* Change the level (reload). */
void log_set_level(enum log_level level);
/* Reopen the log file by its path (SIGUSR1, after logrotate renamed it); a
 * no-op for stderr and syslog.  0, or -1 with errno set when the file cannot
 * be opened (logging then continues to the old file). */
int log_reopen(void);
void log_close(void);

/* True when LEVEL would be written (to skip building expensive lines). */
int log_enabled(enum log_level level);

/* Copy S into DST (CAP bytes, cut) for a quoted field of a log line
 * (reason="..."): '"' becomes '\'' so the field cannot end early. */
const char *log_quoted(char *dst, size_t cap, const char *s);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
