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

/* Session-ticket keys shared by every server context of one process (and,
 * with ticket_key_file, by several machines).  Keys rotate: the newest key
 * encrypts, the previous ones still decrypt. */
struct tls_tickets;

/* Load keys from PATH (NULL: random keys that rotate every ROTATE seconds in
 * tls_tickets_rotate).  The file holds 80 bytes per key (16 name + 32 HMAC +
 * 32 AES), newest first, as raw bytes or base64; err says why it failed. */
struct tls_tickets *tls_tickets_new(const char *path, char *err, size_t errlen);
/* Rotate the random keys if due (call from a timer on the main thread);
 * a no-op for file-based keys.  Thread-safe against the ticket callback. */
void tls_tickets_rotate(struct tls_tickets *t);
void tls_tickets_free(struct tls_tickets *t);

/* Make server context CTX encrypt and decrypt session tickets with TICKETS:
 * CTX takes its own reference (dropped when CTX is freed) and gets the
 * ticket key callback.  Main thread only.  0, or -1 (the caller drains the
 * OpenSSL error queue). */
int tls_tickets_attach(SSL_CTX *ctx, struct tls_tickets *tickets);

#endif
