/* tls_tickets.h — session-ticket keys shared by every server context.
 *
 * tls_tickets.c owns the keys; tls.c attaches them to each server context it
 * builds (tls_tickets_attach), and the runtime creates, rotates and frees
 * them (through tls.h, which includes this header).
 */
#ifndef EDGE443_TLS_TICKETS_H
#define EDGE443_TLS_TICKETS_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "edge443/cert/ticket_file.h"

/* Session-ticket keys shared by every server context of one process (and,
 * with ticket_key_file, by several machines).  Random keys rotate hourly:
 * the newest encrypts, the two before still decrypt.  File keys follow the
 * file's roles (cert/ticket_file.h): the second newest encrypts. */
struct tls_tickets;

/* Load keys from PATH (NULL: random keys that rotate hourly in
 * tls_tickets_rotate); the format is ticket_file.h's; err says why it
 * failed. */
struct tls_tickets *tls_tickets_new(const char *path, char *err, size_t errlen);
/* Keys already read (the validated model's ticket_key_file: N keys, oldest
 * first, 1 <= N <= TICKET_FILE_MAX_KEYS; copied), with the file's roles. */
struct tls_tickets *tls_tickets_from_keys(const struct ticket_key *keys,
					  size_t n, char *err, size_t errlen);
/* Rotate the random keys if due (call from a timer on the main thread);
 * a no-op for file-based keys.  Thread-safe against the ticket callback. */
void tls_tickets_rotate(struct tls_tickets *t);
/* Take one more reference (dropped by tls_tickets_free). */
void tls_tickets_ref(struct tls_tickets *t);
void tls_tickets_free(struct tls_tickets *t);

/* Make server context CTX encrypt and decrypt session tickets with TICKETS:
 * CTX takes its own reference (dropped when CTX is freed) and gets the
 * ticket key callback.  Main thread only.  0, or -1 (the caller drains the
 * OpenSSL error queue). */
int tls_tickets_attach(SSL_CTX *ctx, struct tls_tickets *tickets);

#endif
