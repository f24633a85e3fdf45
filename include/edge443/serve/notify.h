/* notify.h — tell the service manager what `edge443 run` is doing.
 *
 * notify.c speaks systemd's notification protocol (Type=notify) through
 * sd_notify(3) of libsystemd: READY=1 once every listener is bound and the
 * privileges are dropped, RELOADING=1 then READY=1 around a SIGHUP reload
 * (refused or not), STOPPING=1 when the drain begins, and a one-line STATUS=
 * saying what is served.  It decides nothing: server.c says when.
 *
 * Without NOTIFY_SOCKET in the environment (not started by systemd with
 * Type=notify) every call does nothing and returns 0.  The variable is left
 * in the environment, because reloads and the drain notify again later.
 * systemd only accepts messages from the process it started
 * (NotifyAccess=main): call these from that process, not after a fork
 * (`run --daemon` forks; it is not for Type=notify).  The functions keep no
 * state and may be called from any thread; server.c calls them from the
 * main thread only.
 */
#ifndef EDGE443_NOTIFY_H
#define EDGE443_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

/* The longest STATUS= text sent, in bytes; a longer one is cut (never in
 * the middle of a UTF-8 character). */
#define NOTIFY_STATUS_MAX 512

enum notify_state {
	NOTIFY_STATUS,	  /* STATUS= alone */
	NOTIFY_READY,	  /* READY=1: serving (start-up, end of a reload) */
	NOTIFY_RELOADING, /* RELOADING=1 and MONOTONIC_USEC=: a reload began */
	NOTIFY_STOPPING,  /* STOPPING=1: no longer accepting, draining */
};

/* Send STATE to $NOTIFY_SOCKET, with a STATUS= line formatted from FMT (NULL:
 * no STATUS= line, except for NOTIFY_STATUS: see notify_message).  Returns 1
 * when sent, 0 when NOTIFY_SOCKET is unset (nothing was done), -1 with errno
 * set when it could not be sent (the caller goes on serving: a service manager
 * that cannot be told is no reason to stop). */
int notify_send(enum notify_state state, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The datagram notify_send sends, written into BUF (LEN bytes, always
 * NUL-terminated when LEN > 0): the state's assignment ("READY=1"; for
 * NOTIFY_RELOADING also "MONOTONIC_USEC=" MONOTONIC_USEC), then
 * "STATUS=" STATUS unless STATUS is NULL (NOTIFY_STATUS always has its line:
 * NULL sends an empty one, which clears the status).  STATUS is made one line
 * of valid UTF-8, as systemd requires: a control byte (a newline would start
 * another assignment) becomes a space, a byte that is not part of a valid UTF-8
 * character becomes '?', and it is cut at NOTIFY_STATUS_MAX bytes or where
 * BUF ends.  Returns the length written, or -1 when LEN cannot hold the
 * assignments themselves (the state's, and "STATUS=" with a STATUS).  Pure:
 * exposed for the unit test. */
int notify_message(char *buf, size_t len, enum notify_state state,
		   const char *status, uint64_t monotonic_usec);

#endif
