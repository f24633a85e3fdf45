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

/* Make server context CTX encrypt and decrypt session tickets with TICKETS:
 * CTX takes its own reference (dropped when CTX is freed) and gets the
 * ticket key callback.  Main thread only.  0, or -1 (the caller drains the
 * OpenSSL error queue). */
int tls_tickets_attach(SSL_CTX *ctx, struct tls_tickets *tickets);

/* The host name of a ClientHello's server_name extension body (P, LEN as
 * SSL_client_hello_get0_ext gives it), as a new string; NULL when absent or
 * malformed (bounds-checked; printable ASCII only, at most 255 bytes). */
char *tls_sni_parse(const unsigned char *p, size_t len);

/* tls_sni.c: the client-hello callback of a listener's context MAIN.
 * ALTS[0..NALTS) (NALTS may be 0) are further contexts of the listener, for
 * further certificates of a key type MAIN already serves; LEAVES[0..NALTS]
 * are the certificates each context serves (LEAVES[0] for MAIN).  MAIN takes
 * ownership of ALTS and LEAVES (freed with MAIN, and freed here on failure)
 * and gets a client-hello callback that switches a connection to the first
 * context whose certificate covers the client's SNI (X509_check_host);
 * clients without SNI, or with a name none covers, keep MAIN — unless
 * STRICT_FQDN is not NULL (sni_strict; copied): then a ClientHello without
 * SNI, or whose SNI is neither STRICT_FQDN nor covered by any of LEAVES,
 * fails with a fatal unrecognized_name alert.  Main thread.  0 / -1. */
int tls_sni_attach(SSL_CTX *main, SSL_CTX **alts, size_t nalts,
		   STACK_OF(X509) * *leaves, const char *strict_fqdn);

#endif
