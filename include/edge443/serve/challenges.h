/* challenges.h — the ACME challenges the running listeners answer.
 *
 * challenges.c keeps one process-wide table of pending challenges: for
 * each, the name being validated, the http-01 token and key authorization,
 * and for tls-alpn-01 the SSL_CTX that serves the name's challenge
 * certificate (made by the ACME side, order/acme_alpn.c, and handed in as a
 * plain SSL_CTX so that serve/ needs nothing of order/).  The renewal of
 * `run` (cli/renew.c) adds and removes entries from its own thread; the
 * workers read them: the client-hello callback (tls_sni.c) for a hello
 * that offers ALPN "acme-tls/1", the port-80 listener (redirect.c) for GET
 * /.well-known/acme-challenge/TOKEN.  Every call takes one mutex; the
 * count is an atomic, so an empty table costs a worker one load.
 *
 * Ownership: the table is this module's.  It copies the strings it is
 * given and takes its own reference to the SSL_CTX (SSL_CTX_up_ref);
 * what it returns is the caller's (free(), SSL_CTX_free).
 */
#ifndef EDGE443_SERVE_CHALLENGES_H
#define EDGE443_SERVE_CHALLENGES_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

/* The RFC 8737 ALPN protocol and the RFC 8555 section 8.3 path prefix. */
#define CHALLENGES_ALPN "acme-tls/1"
#define CHALLENGES_HTTP_PREFIX "/.well-known/acme-challenge/"
/* At most this many pending challenges at once. */
#define CHALLENGES_MAX 256

/* Answer the challenge of NAME: http-01 at TOKEN with KEY_AUTH, and (when
 * ALPN_CTX is not NULL) tls-alpn-01 with that context.  A repeat of NAME
 * and TOKEN replaces the entry.  0, or -1 (table full, out of memory). */
int challenges_add(const char *name, const char *token, const char *key_auth,
		   SSL_CTX *alpn_ctx);

/* Stop answering NAME's challenge TOKEN.  Unknown ones are ignored. */
void challenges_remove(const char *name, const char *token);

/* Remove every entry. */
void challenges_clear(void);

/* How many are pending (a lock-free hint for the hot path). */
size_t challenges_count(void);

/* The tls-alpn-01 context for NAME (case-insensitive), a new reference;
 * NULL when NAME has no pending tls-alpn-01 challenge. */
SSL_CTX *challenges_alpn_ctx(const char *name);

/* The key authorization for http-01 TOKEN, a new string; NULL if none. */
char *challenges_http(const char *token);

/* Does the ALPN extension body P[0..LEN) (RFC 7301 section 3.1) offer
 * acme-tls/1?  Bounds are checked at every step. */
bool challenges_alpn_offered(const unsigned char *p, size_t len);

#endif
