/* tls_tickets.c — session-ticket keys shared by every server context.
 *
 * One struct tls_tickets per process (and, with ticket_key_file, shared by
 * several machines): keys read from a file (raw 80-byte keys or base64 one
 * per line, newest first) or random keys that rotate every hour with the two
 * before still decrypting, and the ticket key callback that OpenSSL calls on
 * the workers to encrypt with the newest key and decrypt with any key held.
 * The keys are reference counted so a reload can drop them while old
 * contexts still use them.  It builds no context (tls.c attaches the keys to
 * one with tls_tickets_attach) and prints nothing.
 */
#include "edge443/serve/tls_tickets.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "edge443/base/ossl_err.h"

/* Random ticket keys: a new one every hour, the two before it still decrypt. */
#define TLS_TICKET_ROTATE 3600
#define TLS_TICKET_KEEP 3
/* Keys accepted from a ticket_key_file. */
#define TLS_TICKET_FILE_KEYS 8
#define TLS_TICKET_KEY_LEN 80
/* 8 base64 keys with CRLF line ends fit easily. */
#define TLS_TICKET_FILE_MAX 4096

/* ---- session tickets --------------------------------------------------- */

/* The layout of one key, as in the key file: name, HMAC key, AES key. */
struct tls_ticket_key {
	unsigned char name[16];
	unsigned char hmac[32];
	unsigned char aes[32];
};

struct tls_tickets {
	/* Taken for reading by the ticket callback (any worker), for writing
	 * by tls_tickets_rotate (main thread). */
	pthread_rwlock_t lock;
	struct tls_ticket_key keys[TLS_TICKET_FILE_KEYS]; /* newest first */
	size_t nkeys;
	bool from_file;
	struct timespec rotated; /* CLOCK_MONOTONIC when keys[0] was made */
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

static struct tls_tickets *tls_tickets_alloc(void)
{
	struct tls_tickets *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	if (pthread_rwlock_init(&t->lock, NULL) != 0) {
		free(t);
		return NULL;
	}
	atomic_init(&t->refs, 1);
	return t;
}

static bool tls_is_base64_text(const unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = buf[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '/' ||
		      c == '=' || c == '\n' || c == '\r' || c == ' ' ||
		      c == '\t'))
			return false;
	}
	return true;
}

/* One base64 key per line; blank lines are ignored. */
static int tls_tickets_parse_base64(struct tls_tickets *t, const char *path,
				    const unsigned char *buf, size_t len,
				    char *err, size_t errlen)
{
	size_t pos = 0;
	int lineno = 0;

	while (pos < len) {
		size_t start = pos, end, pad = 0;
		unsigned char out[128];
		int n;

		while (pos < len && buf[pos] != '\n')
			pos++;
		end = pos++;
		lineno++;
		while (start < end && (buf[start] == ' ' || buf[start] == '\t'))
			start++;
		while (end > start &&
		       (buf[end - 1] == ' ' || buf[end - 1] == '\t' ||
			buf[end - 1] == '\r'))
			end--;
		if (start == end)
			continue;
		if (t->nkeys == TLS_TICKET_FILE_KEYS) {
			ossl_err_printf(
				err, errlen,
				"%s: more than %d ticket keys; keep the "
				"newest %d",
				path, TLS_TICKET_FILE_KEYS,
				TLS_TICKET_FILE_KEYS);
			return -1;
		}
		if (end - start > 4 * sizeof(out) / 3 ||
		    (end - start) % 4 != 0) {
			ossl_err_printf(
				err, errlen,
				"%s:%d: not a base64 ticket key of %d bytes",
				path, lineno, TLS_TICKET_KEY_LEN);
			return -1;
		}
		for (size_t i = end; i > start && buf[i - 1] == '=' && pad < 2;
		     i--)
			pad++;
		n = EVP_DecodeBlock(out, buf + start, (int)(end - start));
		if (n < 0 || (size_t)n - pad != TLS_TICKET_KEY_LEN) {
			OPENSSL_cleanse(out, sizeof(out));
			ossl_err_printf(
				err, errlen,
				"%s:%d: not a base64 ticket key of %d bytes "
				"(make one with: openssl rand -base64 %d | tr "
				"-d '\\n')",
				path, lineno, TLS_TICKET_KEY_LEN,
				TLS_TICKET_KEY_LEN);
			return -1;
		}
		memcpy(&t->keys[t->nkeys++], out, TLS_TICKET_KEY_LEN);
		OPENSSL_cleanse(out, sizeof(out));
	}
	return 0;
}

/* Read a key file: raw 80-byte keys back to back, or base64 one per line,
 * newest first.  The file's permissions are not judged here. */
static int tls_tickets_load(struct tls_tickets *t, const char *path, char *err,
			    size_t errlen)
{
	unsigned char buf[TLS_TICKET_FILE_MAX + 1];
	size_t len = 0;
	struct stat st;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		ossl_err_printf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		ossl_err_printf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	while (len < sizeof(buf)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ossl_err_printf(err, errlen, "%s: %s", path,
					strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > TLS_TICKET_FILE_MAX) {
		ossl_err_printf(
			err, errlen,
			"%s: larger than %d bytes; a ticket key file holds at "
			"most %d keys of %d bytes",
			path, TLS_TICKET_FILE_MAX, TLS_TICKET_FILE_KEYS,
			TLS_TICKET_KEY_LEN);
		goto out;
	}
	if (len > 0 && tls_is_base64_text(buf, len)) {
		rc = tls_tickets_parse_base64(t, path, buf, len, err, errlen);
	} else if (len > 0 && len % TLS_TICKET_KEY_LEN == 0) {
		if (len / TLS_TICKET_KEY_LEN > TLS_TICKET_FILE_KEYS) {
			ossl_err_printf(
				err, errlen,
				"%s: more than %d ticket keys; keep the "
				"newest %d",
				path, TLS_TICKET_FILE_KEYS,
				TLS_TICKET_FILE_KEYS);
			goto out;
		}
		t->nkeys = len / TLS_TICKET_KEY_LEN;
		memcpy(t->keys, buf, len);
		rc = 0;
	} else {
		ossl_err_printf(
			err, errlen,
			"%s: %zu bytes is not a whole number of %d-byte "
			"ticket keys (raw) nor base64 keys one per line",
			path, len, TLS_TICKET_KEY_LEN);
		goto out;
	}
	if (rc == 0 && t->nkeys == 0) {
		ossl_err_printf(err, errlen, "%s: holds no ticket key", path);
		rc = -1;
	}
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

struct tls_tickets *tls_tickets_new(const char *path, char *err, size_t errlen)
{
	struct tls_tickets *t = tls_tickets_alloc();

	if (t == NULL) {
		ossl_err_printf(err, errlen, "session tickets: out of memory");
		return NULL;
	}
	if (path != NULL) {
		t->from_file = true;
		if (tls_tickets_load(t, path, err, errlen) != 0)
			goto fail;
		return t;
	}
	if (RAND_bytes((unsigned char *)&t->keys[0], sizeof(t->keys[0])) != 1) {
		ossl_err_drainf(err, errlen, "session tickets: RAND_bytes");
		goto fail;
	}
	t->nkeys = 1;
	clock_gettime(CLOCK_MONOTONIC, &t->rotated);
	return t;
fail:
	tls_tickets_free(t);
	return NULL;
}

void tls_tickets_rotate(struct tls_tickets *t)
{
	struct tls_ticket_key fresh;
	struct timespec now;

	if (t == NULL || t->from_file)
		return;
	/* Only this function (main thread) writes `rotated`. */
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - t->rotated.tv_sec < TLS_TICKET_ROTATE)
		return;
	if (RAND_bytes((unsigned char *)&fresh, sizeof(fresh)) != 1) {
		ERR_clear_error(); /* keep the current key; try next time */
		return;
	}
	pthread_rwlock_wrlock(&t->lock);
	memmove(&t->keys[1], &t->keys[0],
		(TLS_TICKET_KEEP - 1) * sizeof(t->keys[0]));
	t->keys[0] = fresh;
	if (t->nkeys < TLS_TICKET_KEEP)
		t->nkeys++;
	t->rotated = now;
	pthread_rwlock_unlock(&t->lock);
	OPENSSL_cleanse(&fresh, sizeof(fresh));
}

void tls_tickets_free(struct tls_tickets *t)
{
	if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	OPENSSL_cleanse(t->keys, sizeof(t->keys));
	pthread_rwlock_destroy(&t->lock);
	free(t);
}

/* SSL_CTX_set_tlsext_ticket_key_evp_cb: HMAC-SHA256 + AES-256-CBC.  Encrypt
 * with the newest key; decrypt with any key we still hold, asking for a new
 * ticket (2) when it was not the newest.  Called concurrently by workers. */
static int tls_ticket_key_cb(SSL *ssl, unsigned char key_name[16],
			     unsigned char iv[EVP_MAX_IV_LENGTH],
			     EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct tls_tickets *t =
		SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tls_ticket_idx);
	struct tls_ticket_key key;
	char digest[] = "SHA256";
	OSSL_PARAM params[3];
	int ret = 0;

	if (t == NULL)
		return -1;
	pthread_rwlock_rdlock(&t->lock);
	if (enc && t->nkeys > 0) {
		key = t->keys[0];
		ret = 1;
	}
	for (size_t i = 0; !enc && i < t->nkeys; i++) {
		if (memcmp(key_name, t->keys[i].name, sizeof(key.name)) == 0) {
			key = t->keys[i];
			ret = i == 0 ? 1 : 2;
			break;
		}
	}
	pthread_rwlock_unlock(&t->lock);
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
