/* log.c — the one place the running server writes its logs.
 *
 * This module formats one line per message,
 * "2026-11-24T17:05:00.123Z edge443[1234] INFO message", and writes it with a
 * single write(2) to stderr or to a log file, or hands the message to syslog
 * (ident "edge443", LOG_PID, facility LOG_DAEMON) with the matching priority.
 * A line never exceeds LOG_LINE_MAX bytes (longer messages end in "...") and
 * control bytes in a message (which may carry attacker data such as an SNI or
 * a Host header) are replaced by '?', so one message is always one line.
 *
 * Thread safety: log_msg, log_enabled, log_set_level and log_reopen may be
 * called from any thread at any time.  The level is an atomic int.  The file
 * descriptor a writer uses never changes number: log_reopen opens the new file
 * and dup3()s it over the old descriptor, which the kernel does atomically, so
 * a concurrent writer writes either to the old file or to the new one, never
 * to a closed or reused descriptor.  log_open and log_close change the target
 * and must be called while no other thread logs (start-up and shutdown).
 *
 * It does not decide what is worth logging, and it never exits or aborts:
 * a failed write is dropped.
 */
#include "edge443/base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* Longest line written, newline included; longer messages are cut and end in
 * "...".  Lines up to PIPE_BUF (4096 on Linux) are also atomic on a pipe. */
#define LOG_LINE_MAX 4096

/* Mode of a log file we create: the owner writes, the group (adm) reads. */
#define LOG_FILE_MODE 0640

/* Before log_open, and after log_close, messages go to stderr at INFO. */
static atomic_int log_level = LOG_LEVEL_INFO;
static enum log_target log_target = LOG_TARGET_STDERR;
static int log_fd = STDERR_FILENO; /* the file's descriptor, or stderr */
static char *log_path;		   /* LOG_TARGET_FILE: the file to reopen */

static const char *log_level_name(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_ERROR:
		return "ERROR";
	case LOG_LEVEL_WARN:
		return "WARN";
	case LOG_LEVEL_INFO:
		return "INFO";
	case LOG_LEVEL_DEBUG:
		return "DEBUG";
	}
	return "?";
}

static int log_syslog_priority(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_ERROR:
		return LOG_ERR;
	case LOG_LEVEL_WARN:
		return LOG_WARNING;
	case LOG_LEVEL_INFO:
		return LOG_INFO;
	case LOG_LEVEL_DEBUG:
		return LOG_DEBUG;
	}
	return LOG_NOTICE;
}

static int log_open_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
		    LOG_FILE_MODE);
}

int log_open(enum log_target target, const char *path, enum log_level level)
{
	char *copy = NULL;
	int fd = -1;

	if (target == LOG_TARGET_FILE) {
		if (path == NULL) {
			errno = EINVAL;
			return -1;
		}
		copy = strdup(path);
		if (copy == NULL)
			return -1;
		fd = log_open_file(path);
		if (fd < 0) {
			int saved = errno;

			free(copy);
			errno = saved;
			return -1;
		}
	}
	log_close();
	switch (target) {
	case LOG_TARGET_FILE:
		log_fd = fd;
		log_path = copy;
		break;
	case LOG_TARGET_SYSLOG:
		/* LOG_NDELAY connects now, while /dev/log is still reachable
		 * (before a chroot or privilege drop). */
		openlog("edge443", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		break;
	case LOG_TARGET_STDERR:
		break;
	}
	log_target = target;
	log_set_level(level);
	return 0;
}

void log_set_level(enum log_level level)
{
	if (level < LOG_LEVEL_ERROR)
		level = LOG_LEVEL_ERROR;
	if (level > LOG_LEVEL_DEBUG)
		level = LOG_LEVEL_DEBUG;
	atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

int log_reopen(void)
{
	int fd;

	if (log_target != LOG_TARGET_FILE)
		return 0;
	fd = log_open_file(log_path);
	if (fd < 0)
		return -1; /* keep writing to the old file */
	if (dup3(fd, log_fd, O_CLOEXEC) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	return 0;
}

void log_close(void)
{
	switch (log_target) {
	case LOG_TARGET_FILE:
		if (log_fd >= 0)
			close(log_fd);
		break;
	case LOG_TARGET_SYSLOG:
		closelog();
		break;
	case LOG_TARGET_STDERR:
		break;
	}
	free(log_path);
	log_path = NULL;
	log_fd = STDERR_FILENO;
	log_target = LOG_TARGET_STDERR;
}

int log_enabled(enum log_level level)
{
	return (int)level <=
	       atomic_load_explicit(&log_level, memory_order_relaxed);
}

/* Replace control bytes (< 0x20 and 0x7f) in s[0..len) by '?'. */
static void log_sanitize(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			s[i] = '?';
	}
}

/* Format the message into buf[0..room) (room >= 4), NUL-terminated; cut
 * with "..." when it does not fit.  Returns its length. */
static size_t log_format_message(char *buf, size_t room, const char *fmt,
				 va_list ap)
{
	int n = vsnprintf(buf, room, fmt, ap);
	size_t len;

	if (n < 0) {
		snprintf(buf, room, "(unformattable log message)");
		return strlen(buf);
	}
	len = (size_t)n;
	if (len >= room) {
		len = room - 1;
		memcpy(buf + len - 3, "...", 3);
	}
	log_sanitize(buf, len);
	return len;
}

static void log_write_all(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(log_fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* nowhere to report it */
		}
		buf += n;
		len -= (size_t)n;
	}
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	int saved_errno = errno;
	struct timespec ts;
	struct tm tm;
	size_t len;
	va_list ap;
	int n;

	if (!log_enabled(level))
		return;

	if (log_target == LOG_TARGET_SYSLOG) {
		va_start(ap, fmt);
		log_format_message(line, sizeof(line), fmt, ap);
		va_end(ap);
		syslog(log_syslog_priority(level), "%s", line);
		errno = saved_errno;
		return;
	}

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
		     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ edge443[%ld] %s ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
		     (long)getpid(), log_level_name(level));
	if (n < 0 || (size_t)n >= sizeof(line) / 2)
		n = 0; /* cannot happen; keep the message at least */
	len = (size_t)n;
	/* Leave one byte for the newline (the NUL lands there meanwhile). */
	va_start(ap, fmt);
	len += log_format_message(line + len, sizeof(line) - len, fmt, ap);
	va_end(ap);
	line[len++] = '\n';
	log_write_all(line, len);
	errno = saved_errno;
}

const char *log_quoted(char *dst, size_t cap, const char *s)
{
	size_t o = 0;

	if (cap == 0)
		return "";
	for (; s && *s && o + 1 < cap; s++)
		dst[o++] = *s == '"' ? '\'' : *s;
	dst[o] = '\0';
	return dst;
}
