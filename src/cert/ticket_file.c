/* ticket_file.c — the session-ticket key file: read it, and rotate it.
 *
 * Reads a ticket_key_file (base64 keys one per line or raw 80-byte keys,
 * oldest first; see ticket_file.h for the format and the roles of its keys)
 * into plain keys, and rewrites it atomically with one fresh key for
 * `edge443 tickets rotate`.  OpenSSL is used for base64 and random bytes
 * only; nothing here builds a context or prints.
 */
#include "edge443/cert/ticket_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "edge443/base/ossl_err.h"

/* 8 base64 keys with CRLF line ends fit easily. */
#define TICKET_FILE_BYTES 4096

static bool ticket_is_base64_text(const unsigned char *buf, size_t len)
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

/* One base64 key per line, oldest first; blank lines are ignored. */
static int ticket_parse_base64(struct ticket_key *keys, size_t *nkeys,
			       const char *path, const unsigned char *buf,
			       size_t len, char *err, size_t errlen)
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
		if (*nkeys == TICKET_FILE_MAX_KEYS) {
			ossl_err_printf(
				err, errlen,
				"%s: more than %d ticket keys; keep the "
				"newest %d (edge443 tickets rotate keeps %d)",
				path, TICKET_FILE_MAX_KEYS,
				TICKET_FILE_MAX_KEYS, TICKET_FILE_KEEP);
			return -1;
		}
		if (end - start > 4 * sizeof(out) / 3 ||
		    (end - start) % 4 != 0) {
			ossl_err_printf(
				err, errlen,
				"%s:%d: not a base64 ticket key of %d bytes",
				path, lineno, TICKET_KEY_LEN);
			return -1;
		}
		for (size_t i = end; i > start && buf[i - 1] == '=' && pad < 2;
		     i--)
			pad++;
		n = EVP_DecodeBlock(out, buf + start, (int)(end - start));
		if (n < 0 || (size_t)n - pad != TICKET_KEY_LEN) {
			OPENSSL_cleanse(out, sizeof(out));
			ossl_err_printf(
				err, errlen,
				"%s:%d: not a base64 ticket key of %d bytes "
				"(make one with: openssl rand -base64 %d | tr "
				"-d '\\n')",
				path, lineno, TICKET_KEY_LEN, TICKET_KEY_LEN);
			return -1;
		}
		memcpy(&keys[(*nkeys)++], out, TICKET_KEY_LEN);
		OPENSSL_cleanse(out, sizeof(out));
	}
	return 0;
}

int ticket_file_read(const char *path, struct ticket_key *keys, size_t *n,
		     char *err, size_t errlen)
{
	*n = 0;
	unsigned char buf[TICKET_FILE_BYTES + 1];
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
		ssize_t got = read(fd, buf + len, sizeof(buf) - len);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			ossl_err_printf(err, errlen, "%s: %s", path,
					strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if (len > TICKET_FILE_BYTES) {
		ossl_err_printf(
			err, errlen,
			"%s: larger than %d bytes; a ticket key file holds at "
			"most %d keys of %d bytes",
			path, TICKET_FILE_BYTES, TICKET_FILE_MAX_KEYS,
			TICKET_KEY_LEN);
		goto out;
	}
	if (len > 0 && ticket_is_base64_text(buf, len)) {
		rc = ticket_parse_base64(keys, n, path, buf, len, err, errlen);
	} else if (len > 0 && len % TICKET_KEY_LEN == 0) {
		if (len / TICKET_KEY_LEN > TICKET_FILE_MAX_KEYS) {
			ossl_err_printf(
				err, errlen,
				"%s: more than %d ticket keys; keep the "
				"newest %d (edge443 tickets rotate keeps %d)",
				path, TICKET_FILE_MAX_KEYS,
				TICKET_FILE_MAX_KEYS, TICKET_FILE_KEEP);
			goto out;
		}
		*n = len / TICKET_KEY_LEN;
		memcpy(keys, buf, len);
		rc = 0;
	} else {
		ossl_err_printf(
			err, errlen,
			"%s: %zu bytes is not a whole number of %d-byte "
			"ticket keys (raw) nor base64 keys one per line",
			path, len, TICKET_KEY_LEN);
		goto out;
	}
	if (rc == 0 && *n == 0) {
		ossl_err_printf(err, errlen, "%s: holds no ticket key", path);
		rc = -1;
	}
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

size_t ticket_file_encrypting(size_t n)
{
	return n >= 2 ? n - 2 : 0;
}

/* Write N keys to FD, base64 one per line.  0, or -1 (errno set). */
static int ticket_write_keys(int fd, const struct ticket_key *keys, size_t n)
{
	char line[4 * ((TICKET_KEY_LEN + 2) / 3) + 2];

	for (size_t i = 0; i < n; i++) {
		int len = EVP_EncodeBlock((unsigned char *)line,
					  (const unsigned char *)&keys[i],
					  TICKET_KEY_LEN);
		size_t off = 0;

		line[len++] = '\n';
		while (off < (size_t)len) {
			ssize_t w = write(fd, line + off, (size_t)len - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				OPENSSL_cleanse(line, sizeof(line));
				return -1;
			}
			off += (size_t)w;
		}
	}
	OPENSSL_cleanse(line, sizeof(line));
	return 0;
}

/* Write KEYS to a temporary file beside PATH, flush it, rename it over PATH
 * and flush the folder.  0, or -1 with the reason in err. */
static int ticket_replace(const char *path, const struct ticket_key *keys,
			  size_t n, char *err, size_t errlen)
{
	char tmp[4096], dir[4096];
	const char *slash = strrchr(path, '/');
	int fd, dfd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp)) {
		ossl_err_printf(err, errlen, "%s: path too long", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0) {
		ossl_err_printf(err, errlen,
				"%s: cannot create %s: %s — the folder must "
				"be writable by this user",
				path, tmp, strerror(errno));
		return -1;
	}
	if (ticket_write_keys(fd, keys, n) < 0 || fsync(fd) < 0) {
		ossl_err_printf(err, errlen, "%s: cannot write %s: %s", path,
				tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		ossl_err_printf(err, errlen, "%s: cannot rename %s over it: %s",
				path, tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd); /* the rename itself is durable from here */
		close(dfd);
	}
	return 0;
}

int ticket_file_rotate(const char *path, size_t keep, size_t *before,
		       size_t *after, char *err, size_t errlen)
{
	struct ticket_key keys[TICKET_FILE_MAX_KEYS + 1];
	size_t n = 0, fresh = 1, from = 0;
	struct stat st;
	int rc = -1;

	if (keep < 2 || keep > TICKET_FILE_MAX_KEYS)
		keep = TICKET_FILE_KEEP;
	if (stat(path, &st) != 0 && errno == ENOENT) {
		fresh = keep; /* a new file: KEEP fresh keys */
	} else if (ticket_file_read(path, keys, &n, err, errlen) != 0) {
		goto out;
	}
	if (RAND_bytes((unsigned char *)&keys[n],
		       (int)(fresh * sizeof(keys[0]))) != 1) {
		ossl_err_drainf(err, errlen, "%s: RAND_bytes", path);
		goto out;
	}
	if (before)
		*before = n;
	n += fresh;
	if (n > keep)
		from = n - keep;
	if (ticket_replace(path, keys + from, n - from, err, errlen) != 0)
		goto out;
	if (after)
		*after = n - from;
	rc = 0;
out:
	OPENSSL_cleanse(keys, sizeof(keys));
	return rc;
}
