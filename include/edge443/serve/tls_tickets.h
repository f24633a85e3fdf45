/* tls_tickets.h — session-ticket keys shared by every server context.
 *
 * tls_tickets.c owns the keys; tls.c attaches them to each server context it
 * builds (tls_tickets_attach), and the runtime creates, rotates and frees
 * them (through tls.h, which includes this header).  With worker processes
 * the keys (not the struct) live in shared memory (tls_tickets_new_shared);
 * the struct and its references are each process's own.
 */
#ifndef EDGE443_TLS_TICKETS_H
#define EDGE443_TLS_TICKETS_H

#include <openssl/ssl.h>
#include <stdbool.h>
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
/* The same keys (the N file keys, or one random key when N is 0) in memory
 * shared with the processes forked afterwards (worker_mode = processes):
 * every child encrypts and decrypts with what the main process rotates or
 * sets there.  The references stay per process; only the last one in the
 * creating process wipes the keys. */
struct tls_tickets *tls_tickets_new_shared(const struct ticket_key *keys,
					   size_t n, char *err, size_t errlen);
/* Replace T's keys in place (a reload of shared keys): the N file keys, or
 * one new random key when N is 0 (rotating hourly from now).  Main thread;
 * safe against the ticket callback of any thread or process.  0, or -1
 * with err (the keys are then unchanged). */
int tls_tickets_set_keys(struct tls_tickets *t, const struct ticket_key *keys,
			 size_t n, char *err, size_t errlen);
/* True when T holds file keys (which never rotate by themselves). */
bool tls_tickets_from_file(const struct tls_tickets *t);
/* Rotate the random keys if due (call from a timer on the main thread);
 * a no-op for file-based keys.  Thread-safe against the ticket callback. */
void tls_tickets_rotate(struct tls_tickets *t);
/* The same rotation, due or not (what the hourly timer does; the tests
 * call it to see a rotation without waiting an hour). */
void tls_tickets_rotate_now(struct tls_tickets *t);
/* Take one more reference (dropped by tls_tickets_free). */
void tls_tickets_ref(struct tls_tickets *t);
void tls_tickets_free(struct tls_tickets *t);

/* Make server context CTX encrypt and decrypt session tickets with TICKETS:
 * CTX takes its own reference (dropped when CTX is freed) and gets the
 * ticket key callback.  Main thread only.  0, or -1 (the caller drains the
 * OpenSSL error queue). */
int tls_tickets_attach(SSL_CTX *ctx, struct tls_tickets *tickets);

#endif
