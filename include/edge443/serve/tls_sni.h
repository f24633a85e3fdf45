/* tls_sni.h — the client-hello callback of a listener: certificate choice
 * by SNI, and sni_strict.
 *
 * tls_sni.c installs it; tls.c calls tls_sni_attach when it builds a
 * listener's context that needs one.
 */
#ifndef EDGE443_TLS_SNI_H
#define EDGE443_TLS_SNI_H

#include <openssl/ssl.h>
#include <stddef.h>

/* The client-hello callback of a listener's context MAIN.
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
