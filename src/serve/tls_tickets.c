/* tls_tickets.c — session-ticket keys shared by every server context.
 *
 * One struct tls_tickets per process (and, with ticket_key_file, shared by
 * several machines): keys read from a file (cert/ticket_file.c: oldest
 * first, the second newest encrypts, the newest only decrypts) or random
 * keys that rotate every hour with the two before still decrypting, and the
 * ticket key callback that OpenSSL calls on the workers to encrypt with the
 * encrypting key and decrypt with any key held.
 * The keys are reference counted so a reload can drop them while old
 * contexts still use them.  With worker processes the keys and their lock
 * live in shared memory (shm.c) made before the fork, so that the main
 * process rotates or replaces them for every child at once; the reference
 * count stays private to each process.  It builds no context (tls.c
 * attaches the keys to one with tls_tickets_attach) and prints nothing.
 */
#include "edge443/serve/tls_tickets.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "edge443/base/ossl_err.h"
#include "edge443/cert/ticket_file.h"
#include "edge443/serve/shm.h"

/* Random ticket keys: a new one every hour, the two before it still decrypt. */
#define TLS_TICKET_ROTATE 3600
#define TLS_TICKET_KEEP 3

/* The keys: on the heap, or in shared memory (tls_tickets_new_shared). */
struct tls_tickets_keys {
	/* Taken for reading by the ticket callback (any worker), for writing
	 * by tls_tickets_rotate and tls_tickets_set_keys (main thread). */
	pthread_rwlock_t lock;
	struct ticket_key keys[TICKET_FILE_MAX_KEYS]; /* oldest first */
	size_t nkeys;
	size_t enc; /* the key that encrypts */
	bool from_file;
	struct timespec
		rotated; /* CLOCK_MONOTONIC when the newest key was made */
};

struct tls_tickets {
	struct tls_tickets_keys *k;
	bool shared;   /* k is shm_new memory */
	pid_t creator; /* shared: the process that may destroy k's contents */
	/* One for the creator, one per SSL_CTX that uses the keys (dropped by
	 * the ex_data free callback when the context is freed), so a reload may
	 * free the old tickets while old connections still hold contexts. */
	atomic_int refs;
};

static int tls_ticket_idx = -1;
static pthread_once_t tls_ticket_once = PTHREAD_ONCE_INIT;

static void tls_ticket_ex_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
				  int idx, long argl, void *argp)
{
	tls_tickets_free(ptr);
}

static void tls_ticket_idx_init(void)
{
	tls_ticket_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
						  tls_ticket_ex_free_cb);
}

static struct tls_tickets *tls_tickets_alloc(bool shared)
{
	struct tls_tickets *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->shared = shared;
	t->creator = getpid();
	t->k = shared ? shm_new(sizeof(*t->k)) : calloc(1, sizeof(*t->k));
	if (t->k == NULL ||
	    (shared ? shm_rwlock_init(&t->k->lock)
		    : pthread_rwlock_init(&t->k->lock, NULL)) != 0) {
		if (shared)
			shm_free(t->k, sizeof(*t->k));
		else
			free(t->k);
		free(t);
		return NULL;
	}
	atomic_init(&t->refs, 1);
	return t;
}

/* Fill K (not yet shared, or under its write lock) with the N file keys,
 * or with one new random key when N is 0.  0, or -1 with err. */
static int tls_tickets_fill(struct tls_tickets_keys *k,
			    const struct ticket_key *keys, size_t n, char *err,
			    size_t errlen)
{
	struct ticket_key fresh;

	if (n > TICKET_FILE_MAX_KEYS) {
		ossl_err_printf(err, errlen, "session tickets: %zu keys", n);
		return -1;
	}
	if (n == 0) {
		if (RAND_bytes((unsigned char *)&fresh, sizeof(fresh)) != 1) {
			ossl_err_drainf(err, errlen,
					"session tickets: RAND_bytes");
			return -1;
		}
		OPENSSL_cleanse(k->keys, sizeof(k->keys));
		k->keys[0] = fresh;
		OPENSSL_cleanse(&fresh, sizeof(fresh));
		k->nkeys = 1;
		k->enc = 0;
		k->from_file = false;
		clock_gettime(CLOCK_MONOTONIC, &k->rotated);
		return 0;
	}
	OPENSSL_cleanse(k->keys, sizeof(k->keys));
	memcpy(k->keys, keys, n * sizeof(*keys));
	k->nkeys = n;
	k->enc = ticket_file_encrypting(n);
	k->from_file = true;
	return 0;
}

struct tls_tickets *tls_tickets_from_keys(const struct ticket_key *keys,
					  size_t n, char *err, size_t errlen)
{
	struct tls_tickets *t;

	if (n == 0 || n > TICKET_FILE_MAX_KEYS) {
		ossl_err_printf(err, errlen, "session tickets: %zu keys", n);
		return NULL;
	}
	t = tls_tickets_alloc(false);
	if (t == NULL) {
		ossl_err_printf(err, errlen, "session tickets: out of memory");
		return NULL;
	}
	tls_tickets_fill(t->k, keys, n, err, errlen);
	return t;
}

struct tls_tickets *tls_tickets_new(const char *path, char *err, size_t errlen)
{
	struct tls_tickets *t;

	if (path != NULL) {
		struct ticket_key keys[TICKET_FILE_MAX_KEYS];
		size_t n = 0;

		t = ticket_file_read(path, keys, &n, err, errlen) == 0
			    ? tls_tickets_from_keys(keys, n, err, errlen)
			    : NULL;
		OPENSSL_cleanse(keys, sizeof(keys));
		return t;
	}
	t = tls_tickets_alloc(false);
	if (t == NULL) {
		ossl_err_printf(err, errlen, "session tickets: out of memory");
		return NULL;
	}
	if (tls_tickets_fill(t->k, NULL, 0, err, errlen) < 0)
		goto fail;
	return t;
fail:
	tls_tickets_free(t);
	return NULL;
}

struct tls_tickets *tls_tickets_new_shared(const struct ticket_key *keys,
					   size_t n, char *err, size_t errlen)
{
	struct tls_tickets *t = tls_tickets_alloc(true);

	if (t == NULL) {
		ossl_err_printf(err, errlen,
				"session tickets: cannot map shared memory");
		return NULL;
	}
	if (tls_tickets_fill(t->k, keys, n, err, errlen) < 0) {
		tls_tickets_free(t);
		return NULL;
	}
	return t;
}

int tls_tickets_set_keys(struct tls_tickets *t, const struct ticket_key *keys,
			 size_t n, char *err, size_t errlen)
{
	int rc;

	pthread_rwlock_wrlock(&t->k->lock);
	rc = tls_tickets_fill(t->k, keys, n, err, errlen);
	pthread_rwlock_unlock(&t->k->lock);
	return rc;
}

bool tls_tickets_from_file(const struct tls_tickets *t)
{
	return t->k->from_file;
}

void tls_tickets_rotate(struct tls_tickets *t)
{
	struct timespec now;

	if (t == NULL || t->k->from_file)
		return;
	/* Only the rotation and tls_tickets_set_keys (main thread) write
	 * `rotated` and `from_file`. */
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - t->k->rotated.tv_sec < TLS_TICKET_ROTATE)
		return;
	tls_tickets_rotate_now(t);
}

void tls_tickets_rotate_now(struct tls_tickets *t)
{
	struct ticket_key fresh;
	struct timespec now;
	struct tls_tickets_keys *k;

	if (t == NULL || t->k->from_file)
		return;
	k = t->k;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (RAND_bytes((unsigned char *)&fresh, sizeof(fresh)) != 1) {
		ERR_clear_error(); /* keep the current key; try next time */
		return;
	}
	pthread_rwlock_wrlock(&k->lock);
	if (k->nkeys == TLS_TICKET_KEEP) {
		memmove(&k->keys[0], &k->keys[1],
			(TLS_TICKET_KEEP - 1) * sizeof(k->keys[0]));
		k->nkeys--;
	}
	k->keys[k->nkeys++] = fresh;
	k->enc = k->nkeys - 1; /* one process: the newest encrypts */
	k->rotated = now;
	pthread_rwlock_unlock(&k->lock);
	OPENSSL_cleanse(&fresh, sizeof(fresh));
}

void tls_tickets_ref(struct tls_tickets *t)
{
	atomic_fetch_add(&t->refs, 1);
}

void tls_tickets_free(struct tls_tickets *t)
{
	if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	if (!t->shared) {
		OPENSSL_cleanse(t->k->keys, sizeof(t->k->keys));
		pthread_rwlock_destroy(&t->k->lock);
		free(t->k);
	} else {
		/* Only the creator wipes the shared keys: a child's last
		 * reference unmaps its own view, the others keep theirs. */
		if (t->creator == getpid()) {
			OPENSSL_cleanse(t->k->keys, sizeof(t->k->keys));
			pthread_rwlock_destroy(&t->k->lock);
		}
		shm_free(t->k, sizeof(*t->k));
	}
	free(t);
}

/* SSL_CTX_set_tlsext_ticket_key_evp_cb: HMAC-SHA256 + AES-256-CBC.  Encrypt
 * with the encrypting key; decrypt with any key we still hold, and always
 * ask for a new ticket (2) on a resumption.  Called concurrently by
 * workers. */
static int tls_ticket_key_cb(SSL *ssl, unsigned char key_name[16],
			     unsigned char iv[EVP_MAX_IV_LENGTH],
			     EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct tls_tickets *t =
		SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tls_ticket_idx);
	struct tls_tickets_keys *k;
	struct ticket_key key;
	char digest[] = "SHA256";
	OSSL_PARAM params[3];
	int ret = 0;

	if (t == NULL)
		return -1;
	k = t->k;
	pthread_rwlock_rdlock(&k->lock);
	if (enc && k->nkeys > 0) {
		key = k->keys[k->enc];
		ret = 1;
	}
	for (size_t i = 0; !enc && i < k->nkeys; i++) {
		if (memcmp(key_name, k->keys[i].name, sizeof(key.name)) == 0) {
			key = k->keys[i];
			/* 2: use it and send a new ticket.  TLS 1.3 clients
			 * use each ticket once (RFC 8446 C.4); without a
			 * fresh one every other connection would be a full
			 * handshake.  (1 would mean: no new ticket.) */
			ret = 2;
			break;
		}
	}
	pthread_rwlock_unlock(&k->lock);
	if (ret == 0)
		return 0; /* unknown key: full handshake */

	params[0] = OSSL_PARAM_construct_octet_string(
		OSSL_MAC_PARAM_KEY, key.hmac, sizeof(key.hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     digest, 0);
	params[2] = OSSL_PARAM_construct_end();
	if (enc) {
		memcpy(key_name, key.name, sizeof(key.name));
		if (RAND_bytes(iv, 16) != 1 ||
		    EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, key.aes,
				       iv) != 1)
			ret = -1;
	} else if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, key.aes,
				      iv) != 1) {
		ret = -1;
	}
	if (ret > 0 && EVP_MAC_CTX_set_params(hctx, params) != 1)
		ret = -1;
	OPENSSL_cleanse(&key, sizeof(key));
	return ret;
}

int tls_tickets_attach(SSL_CTX *ctx, struct tls_tickets *tickets)
{
	pthread_once(&tls_ticket_once, tls_ticket_idx_init);
	if (tls_ticket_idx < 0)
		return -1;
	atomic_fetch_add(&tickets->refs, 1);
	if (SSL_CTX_set_ex_data(ctx, tls_ticket_idx, tickets) != 1) {
		tls_tickets_free(tickets);
		return -1;
	}
	if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_ticket_key_cb) != 1)
		return -1;
	return 0;
}
