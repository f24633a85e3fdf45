/* ossl_err.h — error text for a caller's err buffer, OpenSSL's included.
 *
 * The one place that turns OpenSSL's error queue into words, and the one
 * printf-into-err helper that every module's err/errlen convention uses
 * (STYLE.md 3: a caller-owned `char *err, size_t errlen`).  Everything here
 * is a pure function of its arguments and of the calling thread's OpenSSL
 * error queue: any thread, any callback.  Nothing is printed or logged.
 */
#ifndef EDGE443_OSSL_ERR_H
#define EDGE443_OSSL_ERR_H

#include <stddef.h>

/* printf-style message into ERR (ERRLEN bytes, always NUL-terminated);
 * nothing happens when ERR is NULL or ERRLEN is 0. */
void ossl_err_printf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One OpenSSL error code in words, into BUF (LEN bytes): its reason string
 * ("no start line"), strerror for a system error, else OpenSSL's
 * "error:XXXXXXXX:..." text.  Returns BUF.  The queue is not touched. */
const char *ossl_err_reason(unsigned long code, char *buf, size_t len);

/* Drain the thread's OpenSSL error queue into ERR as the printf-style
 * prefix, then ": " and every queued reason, oldest (the root cause) first,
 * "; " between them, a reason's extra text in parentheses and a code
 * repeated right after itself once ("loading ssl1.crt: no start line
 * (Expecting: CERTIFICATE); PEM lib").  With an empty queue ERR is the
 * prefix alone.  The queue is always drained, even when ERR is NULL or too
 * small (the text is then cut). */
void ossl_err_drainf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The same without a prefix: "reason; reason", "" for an empty queue. */
void ossl_err_drain(char *buf, size_t len);

#endif
