/* notify.c — tell the service manager what `edge443 run` is doing.
 *
 * A thin wrapper around sd_notify(3) (libsystemd, which does the socket
 * work: the NOTIFY_SOCKET path or abstract name, and doing nothing when the
 * variable is unset).  What it adds is the message itself: one assignment
 * per state (READY=1, RELOADING=1 with the MONOTONIC_USEC= that systemd
 * asks for with it, STOPPING=1) and a STATUS= line that is always one line
 * of valid UTF-8 — a reload error or a configuration path may hold a newline
 * (which would start another assignment) or bytes systemd would reject the
 * whole status for.
 *
 * It does not decide when to notify (server.c does), does not log, and
 * depends on nothing in edge443.
 */
#include "edge443/serve/notify.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

/* Bytes of the valid UTF-8 character at S (NUL-terminated), or 0 when S
 * does not start one: no overlong forms, no surrogates, nothing above
 * U+10FFFF (RFC 3629). */
static size_t notify_utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0; /* overlong */
		if (s[0] == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90; /* overlong */
		if (s[0] == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (s[1] < lo || s[1] > hi)
		return 0;
	/* A NUL is no continuation byte: the loop stops at the end. */
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

int notify_message(char *buf, size_t len, enum notify_state state,
		   const char *status, uint64_t monotonic_usec)
{
	const unsigned char *s;
	size_t pos, used = 0;
	int n = -1;

	if (len == 0)
		return -1;
	switch (state) {
	case NOTIFY_STATUS:
		n = snprintf(buf, len, "STATUS=");
		break;
	case NOTIFY_READY:
		n = snprintf(buf, len, "READY=1%s", status ? "\nSTATUS=" : "");
		break;
	case NOTIFY_RELOADING:
		n = snprintf(buf, len,
			     "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "%s",
			     monotonic_usec, status ? "\nSTATUS=" : "");
		break;
	case NOTIFY_STOPPING:
		n = snprintf(buf, len, "STOPPING=1%s",
			     status ? "\nSTATUS=" : "");
		break;
	}
	if (n < 0 || (size_t)n >= len) {
		buf[0] = '\0';
		return -1;
	}
	pos = (size_t)n;
	for (s = (const unsigned char *)(status ? status : ""); *s;) {
		size_t k = notify_utf8_len(s);
		size_t out = k ? k : 1;

		if (pos + out >= len || used + out > NOTIFY_STATUS_MAX)
			break;
		if (k == 0)
			buf[pos] = '?';
		else if (k == 1 && (*s < 0x20 || *s == 0x7f))
			buf[pos] = ' ';
		else
			memcpy(buf + pos, s, k);
		pos += out;
		used += out;
		s += out;
	}
	buf[pos] = '\0';
	return (int)pos;
}

int notify_send(enum notify_state state, const char *fmt, ...)
{
	/* Room for a status a little longer than NOTIFY_STATUS_MAX, so that
	 * notify_message, not vsnprintf, decides where it is cut. */
	char status[NOTIFY_STATUS_MAX + 8];
	char msg[NOTIFY_STATUS_MAX + 128];
	struct timespec now = {0, 0};
	uint64_t usec;
	va_list ap;
	int r;

	if (!getenv("NOTIFY_SOCKET"))
		return 0;
	if (fmt) {
		va_start(ap, fmt);
		r = vsnprintf(status, sizeof(status), fmt, ap);
		va_end(ap);
		if (r < 0)
			status[0] = '\0';
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	usec = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
	if (notify_message(msg, sizeof(msg), state, fmt ? status : NULL, usec) <
	    0) {
		errno = EINVAL;
		return -1;
	}
	r = sd_notify(0, msg);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r > 0 ? 1 : 0;
}
