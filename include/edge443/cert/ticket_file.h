/* ticket_file.h — the session-ticket key file: its format, reading it, and
 * rotating it for a pool.
 *
 * ticket_file.c reads a ticket_key_file into plain keys and rewrites it
 * atomically for `edge443 tickets rotate`.  It owns no keys beyond the
 * call: the caller's array receives them (and should cleanse it when done).
 * Nothing here knows OpenSSL's ticket callback (serve/tls_tickets.c does).
 *
 * The format, as HAProxy's tls-ticket-keys: one key per line, base64 of 80
 * bytes (16 name, 32 HMAC, 32 AES), OLDEST FIRST, newest last; blank lines
 * are ignored; raw 80-byte keys back to back are read too.  With two keys
 * or more the second newest encrypts, the newest only decrypts (it was
 * sent to every node ahead of its use), and every key decrypts.  With one
 * key, it encrypts.  A rotation appends a fresh key and drops the oldest
 * beyond TICKET_FILE_KEEP, so that during the roll-out (the file copied to
 * every node, then SIGHUP on each) every ticket any node issues opens on
 * every other node, before and after.
 */
#ifndef EDGE443_TICKET_FILE_H
#define EDGE443_TICKET_FILE_H

#include <stddef.h>

/* Keys a file may hold, and keys a rotation keeps. */
#define TICKET_FILE_MAX_KEYS 8
#define TICKET_FILE_KEEP 3
#define TICKET_KEY_LEN 80

/* One key, as in the file: name, HMAC key, AES key. */
struct ticket_key {
	unsigned char name[16];
	unsigned char hmac[32];
	unsigned char aes[32];
};

/* Read PATH into KEYS (at most TICKET_FILE_MAX_KEYS, oldest first); *N
 * receives the count (>= 1).  0, or -1 with the reason in err ("PATH:LINE:
 * ..." where a line is to blame, with what to do). */
int ticket_file_read(const char *path, struct ticket_key *keys, size_t *n,
		     char *err, size_t errlen);

/* The index of the key that encrypts among N keys, oldest first. */
size_t ticket_file_encrypting(size_t n);

/* Rotate PATH: append one fresh random key and keep the newest KEEP (a
 * missing file is created with KEEP fresh keys).  Written base64 to a
 * temporary file in the same folder (mode 0600), flushed, and renamed over
 * PATH, so that a reader sees the old file or the new one, never a part.
 * *BEFORE and *AFTER (may be NULL) receive the key counts.  0, or -1 with
 * the reason in err (PATH untouched). */
int ticket_file_rotate(const char *path, size_t keep, size_t *before,
		       size_t *after, char *err, size_t errlen);

#endif
