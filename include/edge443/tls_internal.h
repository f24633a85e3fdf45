/* tls_internal.h — what tls.c and tls_tickets.c share.
 *
 * Private to the tls module: nothing outside src/tls*.c includes it.  The
 * public API (and the opaque struct tls_tickets) stays in edge443/tls.h.
 */
#ifndef EDGE443_TLS_INTERNAL_H
#define EDGE443_TLS_INTERNAL_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "edge443/tls.h"

/* printf-style message into the caller's ERR (may be NULL). */
void tls_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Make server context CTX encrypt and decrypt session tickets with TICKETS:
 * CTX takes its own reference (dropped when CTX is freed) and gets the
 * ticket key callback.  Main thread only.  0, or -1 (the caller drains the
 * OpenSSL error queue). */
int tls_tickets_attach(SSL_CTX *ctx, struct tls_tickets *tickets);

#endif
