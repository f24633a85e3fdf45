/* ossl_err.c — error text for a caller's err buffer, OpenSSL's included.
 *
 * This module writes messages into the caller-owned err/errlen buffers of
 * every other module: a printf-style helper, and the one formatter of
 * OpenSSL's thread-local error queue, so that a failure reads the same
 * whichever module met it (tls.c, cert*.c, csr*.c, proxy_side.c, probe).
 * Reasons come oldest first, because OpenSSL queues the root cause first and
 * the most general wrapper ("PEM lib", "ASN1 lib") last.  It calls nothing of
 * edge443 and keeps no state: the queue it drains is the calling thread's.
 */
#include "edge443/base/ossl_err.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

void ossl_err_printf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

const char *ossl_err_reason(unsigned long code, char *buf, size_t len)
{
	const char *r;

	if (len == 0)
		return buf;
	if (ERR_SYSTEM_ERROR(code)) {
		/* GNU strerror_r (_GNU_SOURCE is defined project-wide): it
		 * may return a static string instead of filling BUF. */
		r = strerror_r(ERR_GET_REASON(code), buf, len);
	} else {
		r = ERR_reason_error_string(code);
		if (r == NULL) {
			ERR_error_string_n(code, buf, len);
			return buf;
		}
	}
	if (r != buf)
		snprintf(buf, len, "%s", r);
	return buf;
}

/* Append the queue's reasons to ERR, which holds USED bytes of text
 * already; SEP0 goes before the first reason.  Drains the whole queue. */
static void ossl_err_append(char *err, size_t errlen, size_t used,
			    const char *sep0)
{
	unsigned long code, prev = 0;
	const char *data;
	int flags;
	bool first = true;

	while ((code = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) !=
	       0) {
		char buf[256];
		const char *reason;
		int n;

		if (err == NULL || used + 1 >= errlen || code == prev)
			continue;
		prev = code;
		reason = ossl_err_reason(code, buf, sizeof(buf));
		if ((flags & ERR_TXT_STRING) != 0 && data != NULL &&
		    *data != '\0')
			n = snprintf(err + used, errlen - used, "%s%s (%s)",
				     first ? sep0 : "; ", reason, data);
		else
			n = snprintf(err + used, errlen - used, "%s%s",
				     first ? sep0 : "; ", reason);
		first = false;
		if (n < 0)
			break;
		used += (size_t)n;
		if (used >= errlen)
			used = errlen - 1;
	}
}

void ossl_err_drainf(char *err, size_t errlen, const char *fmt, ...)
{
	size_t used = 0;
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		used = strlen(err);
	}
	ossl_err_append(err, errlen, used, ": ");
}

void ossl_err_drain(char *buf, size_t len)
{
	if (buf != NULL && len > 0)
		buf[0] = '\0';
	ossl_err_append(buf, len, 0, "");
}
