/* cert_file.c — read certificate and key files and explain why one is unusable.
 *
 * This part of the cert module reads a PEM file into memory (at most
 * CERT_MAX_FILE bytes, only regular files, opened non-blocking so that a FIFO
 * or device cannot hang the caller), decodes its certificates or its private
 * key with OpenSSL, and, when that fails, records in cert_info.errors why, in
 * words a user can act on: missing, unreadable, no PEM object of the kind
 * expected, a damaged PEM block, a key that needs a passphrase, or bare
 * base64 without BEGIN/END armour (naming the lines to add).  It does not
 * compute facts, verify chains or match names: that is cert.c.  It prints
 * nothing and leaves the OpenSSL error queue empty.
 */
#include "edge443/cert/cert.h"
#include "edge443/cert/cert_internal.h"
#include "edge443/base/ossl_err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* A certificate, chain or key file larger than this is not a PEM file we
 * want: refusing it keeps a mistyped path (a disk image, a log) from being
 * read into memory. */
#define CERT_MAX_FILE (1024 * 1024)

/* What a file is expected to hold, for messages and the bare-base64 check. */
enum cert_kind {
	CERT_KIND_CERT, /* one or more CERTIFICATE blocks */
	CERT_KIND_KEY,	/* one private key */
};

/* A file read into memory.  buf is NUL-terminated (not counted in len) so the
 * text helpers may use string functions on files without NUL bytes. */
struct cert_buf {
	char *buf;
	size_t len;
	mode_t mode;
};

static char *cert_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

/* Record a problem with PATH; the first problem per file wins. */
void cert_add_error(struct cert_info *ci, enum cert_file_status st,
		    const char *path, const char *fmt, ...)
{
	struct cert_file_error *fe;
	char detail[512];
	va_list ap;

	if (ci->nerrors >= sizeof(ci->errors) / sizeof(ci->errors[0]))
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	fe = &ci->errors[ci->nerrors++];
	fe->status = st;
	fe->path = cert_strdup(path);
	fe->detail = cert_strdup(detail);
}

/* Read PATH into OUT.  On failure returns the status and writes the reason
 * to DETAIL.  Only regular files are read; the file is opened non-blocking so
 * that a FIFO named by mistake cannot hang the caller. */
static enum cert_file_status cert_read_file(const char *path,
					    struct cert_buf *out, char *detail,
					    size_t detlen)
{
	struct stat st;
	size_t cap = 0;
	ssize_t n;
	int fd;

	out->buf = NULL;
	out->len = 0;
	out->mode = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		int e = errno;

		snprintf(detail, detlen, "%s", strerror(e));
		return (e == ENOENT || e == ENOTDIR) ? CERT_FILE_MISSING
						     : CERT_FILE_UNREADABLE;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(detail, detlen, "%s", strerror(errno));
		goto fail_unreadable;
	}
	out->mode = st.st_mode & 0777;
	if (S_ISDIR(st.st_mode)) {
		snprintf(detail, detlen, "is a directory");
		goto fail_unreadable;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(detail, detlen, "is not a regular file");
		goto fail_unreadable;
	}
	if (st.st_size > CERT_MAX_FILE) {
		snprintf(detail, detlen,
			 "the file is %lld bytes; a PEM file is far smaller "
			 "(limit %d bytes) — is this the right file?",
			 (long long)st.st_size, CERT_MAX_FILE);
		close(fd);
		return CERT_FILE_NO_PEM;
	}
	/* One byte more than fstat said, to notice a file that grew. */
	cap = (size_t)st.st_size + 1;
	out->buf = malloc(cap + 1);
	if (out->buf == NULL) {
		snprintf(detail, detlen, "%s", strerror(ENOMEM));
		goto fail_unreadable;
	}
	while (out->len < cap) {
		n = read(fd, out->buf + out->len, cap - out->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(detail, detlen, "%s", strerror(errno));
			goto fail_unreadable;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
	}
	if (out->len == cap) {
		snprintf(detail, detlen, "the file changed while it was read");
		goto fail_unreadable;
	}
	out->buf[out->len] = '\0';
	close(fd);
	return CERT_FILE_OK;

fail_unreadable:
	close(fd);
	free(out->buf);
	out->buf = NULL;
	out->len = 0;
	return CERT_FILE_UNREADABLE;
}

/* Wipe and free a buffer (key files hold secrets). */
static void cert_buf_free(struct cert_buf *b)
{
	if (b->buf != NULL) {
		OPENSSL_cleanse(b->buf, b->len);
		free(b->buf);
	}
	b->buf = NULL;
	b->len = 0;
}

/* Find the label of the first "-----BEGIN LABEL-----" line in B (for
 * messages).  Returns false when there is none. */
static bool cert_find_label(const struct cert_buf *b, char *label, size_t len)
{
	static const char begin[] = "-----BEGIN ";
	const char *p = NULL, *end;
	size_t i, n;

	if (b->len < sizeof(begin))
		return false;
	for (i = 0; i + sizeof(begin) - 1 <= b->len; i++) {
		if (memcmp(b->buf + i, begin, sizeof(begin) - 1) == 0) {
			p = b->buf + i + sizeof(begin) - 1;
			break;
		}
	}
	if (p == NULL)
		return false;
	end = p;
	while (end < b->buf + b->len && *end != '-' && *end != '\n' &&
	       *end != '\r')
		end++;
	n = (size_t)(end - p);
	if (n >= len)
		n = len - 1;
	memcpy(label, p, n);
	label[n] = '\0';
	return true;
}

/* Decode B as bare base64 (whitespace allowed between characters) into a new
 * DER buffer.  Returns NULL when B holds anything else or decodes to nothing.
 * The caller frees *DER with OPENSSL_free. */
static unsigned char *cert_unbase64(const struct cert_buf *b, size_t *derlen)
{
	EVP_ENCODE_CTX *ctx = NULL;
	unsigned char *der = NULL;
	unsigned char *in = NULL;
	size_t i, nin = 0;
	int outl = 0, fin = 0;

	*derlen = 0;
	if (b->len == 0)
		return NULL;
	in = OPENSSL_malloc(b->len);
	der = OPENSSL_malloc(b->len);
	ctx = EVP_ENCODE_CTX_new();
	if (in == NULL || der == NULL || ctx == NULL)
		goto fail;
	for (i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->buf[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '/' ||
		      c == '='))
			goto fail;
		in[nin++] = c;
	}
	/* At least one full DER header and a multiple of four characters. */
	if (nin < 8 || nin % 4 != 0 || nin > INT_MAX)
		goto fail;
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, der, &outl, in, (int)nin) < 0)
		goto fail;
	if (EVP_DecodeFinal(ctx, der + outl, &fin) != 1)
		goto fail;
	if (outl + fin <= 0)
		goto fail;
	*derlen = (size_t)(outl + fin);
	EVP_ENCODE_CTX_free(ctx);
	OPENSSL_free(in);
	return der;

fail:
	EVP_ENCODE_CTX_free(ctx);
	OPENSSL_free(in);
	OPENSSL_clear_free(der, b->len);
	ERR_clear_error();
	return NULL;
}

/* The PEM label that DER needs when it is a whole certificate or private key
 * (decided by which DER decoder accepts all of it), or NULL. */
static const char *cert_der_label(const unsigned char *der, size_t len)
{
	const unsigned char *p;
	const char *label = NULL;
	PKCS8_PRIV_KEY_INFO *p8;
	X509_SIG *sig;
	EVP_PKEY *pk;
	X509 *x;
	long l = (long)len;

	p = der;
	x = d2i_X509(NULL, &p, l);
	if (x != NULL && p == der + len)
		label = "CERTIFICATE";
	X509_free(x);
	if (label == NULL) {
		p = der;
		p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, l);
		if (p8 != NULL && p == der + len)
			label = "PRIVATE KEY";
		PKCS8_PRIV_KEY_INFO_free(p8);
	}
	if (label == NULL) {
		p = der;
		sig = d2i_X509_SIG(NULL, &p, l);
		if (sig != NULL && p == der + len)
			label = "ENCRYPTED PRIVATE KEY";
		X509_SIG_free(sig);
	}
	/* d2i_PrivateKey with a type reads the type-specific format (PKCS#1
	 * for RSA, SEC1 for EC); PKCS#8 was recognised above. */
	if (label == NULL) {
		p = der;
		pk = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, l);
		if (pk != NULL && p == der + len)
			label = "RSA PRIVATE KEY";
		EVP_PKEY_free(pk);
	}
	if (label == NULL) {
		p = der;
		pk = d2i_PrivateKey(EVP_PKEY_EC, NULL, &p, l);
		if (pk != NULL && p == der + len)
			label = "EC PRIVATE KEY";
		EVP_PKEY_free(pk);
	}
	ERR_clear_error();
	return label;
}

/* A file without "-----BEGIN": explain what it holds.  Records
 * CERT_FILE_BARE_BASE64 with the lines to add when it is bare base64 of the
 * expected kind, CERT_FILE_NO_PEM otherwise. */
static void cert_explain_unarmoured(struct cert_info *ci, const char *path,
				    const struct cert_buf *b,
				    enum cert_kind kind)
{
	const char *what =
		kind == CERT_KIND_CERT ? "certificate" : "private key";
	const char *label = NULL;
	unsigned char *der;
	size_t derlen;
	bool want;

	if (b->len == 0) {
		cert_add_error(ci, CERT_FILE_NO_PEM, path,
			       "the file is empty (expected a PEM %s)", what);
		return;
	}
	der = cert_unbase64(b, &derlen);
	if (der != NULL) {
		label = cert_der_label(der, derlen);
		OPENSSL_clear_free(der, derlen);
	}
	if (label == NULL) {
		cert_add_error(ci, CERT_FILE_NO_PEM, path,
			       "holds no PEM %s (no \"-----BEGIN\" line)",
			       what);
		return;
	}
	want = kind == CERT_KIND_CERT ? strcmp(label, "CERTIFICATE") == 0
				      : strcmp(label, "CERTIFICATE") != 0;
	if (!want) {
		cert_add_error(ci, CERT_FILE_NO_PEM, path,
			       "holds base64 without PEM armour, but it is a "
			       "%s, not a %s",
			       kind == CERT_KIND_CERT ? "private key"
						      : "certificate",
			       what);
		return;
	}
	cert_add_error(
		ci, CERT_FILE_BARE_BASE64, path,
		"the file holds base64 without PEM armour — add the line "
		"\"-----BEGIN %s-----\" before it and \"-----END %s-----\" "
		"after it",
		label, label);
}

/* Read every CERTIFICATE block of PATH.  The first one goes to *LEAF when
 * LEAF is not NULL; all others (all of them when LEAF is NULL) are appended
 * to ci->chain.  Problems are recorded in ci->errors. */
void cert_load_certs(struct cert_info *ci, const char *path, X509 **leaf)
{
	struct cert_buf b;
	char detail[256], reason[256], label[64];
	enum cert_file_status st;
	BIO *bio = NULL;
	X509 *x;
	int count = 0;

	st = cert_read_file(path, &b, detail, sizeof(detail));
	if (st != CERT_FILE_OK) {
		cert_add_error(ci, st, path, "%s", detail);
		return;
	}
	bio = BIO_new_mem_buf(b.buf, (int)b.len);
	if (bio == NULL) {
		cert_add_error(ci, CERT_FILE_UNREADABLE, path, "out of memory");
		goto done;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (leaf != NULL && *leaf == NULL) {
			*leaf = x;
		} else if (!sk_X509_push(ci->chain, x)) {
			X509_free(x);
			cert_add_error(ci, CERT_FILE_UNREADABLE, path,
				       "out of memory");
			goto done;
		}
		count++;
	}
	/* PEM_read_bio_X509 skips blocks of other kinds (a key in a combined
	 * file is fine) and ends with PEM_R_NO_START_LINE at end of input. */
	if (ERR_GET_LIB(ERR_peek_last_error()) == ERR_LIB_PEM &&
	    ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE) {
		ERR_clear_error();
		if (count > 0)
			goto done;
		if (cert_find_label(&b, label, sizeof(label)))
			cert_add_error(ci, CERT_FILE_NO_PEM, path,
				       "holds no PEM certificate (found a "
				       "\"%s\" block)",
				       label);
		else
			cert_explain_unarmoured(ci, path, &b, CERT_KIND_CERT);
		goto done;
	}
	ossl_err_drain(reason, sizeof(reason));
	if (count == 0)
		cert_add_error(ci, CERT_FILE_BAD_PEM, path,
			       "holds no PEM certificate that decodes: %s",
			       reason[0] ? reason : "unknown error");
	else
		cert_add_error(ci, CERT_FILE_BAD_PEM, path,
			       "certificate %d does not decode: %s", count + 1,
			       reason[0] ? reason : "unknown error");

done:
	BIO_free(bio);
	cert_buf_free(&b);
	ERR_clear_error();
}

/* Passphrase callback that refuses: a key file must not need a prompt. */
static int cert_no_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* A key block that OpenSSL 3's decoder refused: its reason is usually just
 * "unsupported", so parse the armour again by hand to tell a damaged PEM
 * block (cut short, bad base64) from a well-formed block holding something
 * that is not a key of that kind. */
static void cert_explain_bad_key(struct cert_info *ci, const char *path,
				 const struct cert_buf *b, const char *label,
				 const char *reason)
{
	char *name = NULL, *header = NULL, why[256];
	unsigned char *data = NULL;
	long len = 0;
	BIO *bio;

	bio = BIO_new_mem_buf(b->buf, (int)b->len);
	if (bio != NULL &&
	    PEM_read_bio(bio, &name, &header, &data, &len) != 1) {
		ossl_err_drain(why, sizeof(why));
		cert_add_error(ci, CERT_FILE_BAD_PEM, path,
			       "the \"%s\" block is damaged: %s", label,
			       why[0] ? why : "unknown error");
	} else {
		cert_add_error(
			ci, CERT_FILE_BAD_PEM, path,
			"the \"%s\" block does not hold a usable private "
			"key: %s",
			label, reason[0] ? reason : "unknown error");
	}
	BIO_free(bio);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_clear_free(data, (size_t)(len > 0 ? len : 0));
	ERR_clear_error();
}

/* Read the private key of PATH into ci->key and its mode into ci->key_mode. */
void cert_load_key(struct cert_info *ci, const char *path)
{
	struct cert_buf b;
	char detail[256], reason[256], label[64];
	enum cert_file_status st;
	BIO *bio = NULL;
	bool has_label;

	st = cert_read_file(path, &b, detail, sizeof(detail));
	ci->key_mode = b.mode;
	if (st != CERT_FILE_OK) {
		cert_add_error(ci, st, path, "%s", detail);
		return;
	}
	has_label = cert_find_label(&b, label, sizeof(label));
	if (!has_label) {
		cert_explain_unarmoured(ci, path, &b, CERT_KIND_KEY);
		goto done;
	}
	bio = BIO_new_mem_buf(b.buf, (int)b.len);
	if (bio == NULL) {
		cert_add_error(ci, CERT_FILE_UNREADABLE, path, "out of memory");
		goto done;
	}
	ci->key =
		PEM_read_bio_PrivateKey(bio, NULL, cert_no_passphrase_cb, NULL);
	if (ci->key != NULL)
		goto done;
	ossl_err_drain(reason, sizeof(reason));
	if (strstr(b.buf, "ENCRYPTED") != NULL)
		cert_add_error(
			ci, CERT_FILE_BAD_PEM, path,
			"the private key is encrypted with a passphrase; "
			"store it unencrypted (mode 0600), e.g. with "
			"`openssl pkey -in KEY -out NEW`");
	else if (strstr(label, "PRIVATE KEY") == NULL)
		cert_add_error(
			ci, CERT_FILE_NO_PEM, path,
			"holds no PEM private key (found a \"%s\" block)",
			label);
	else
		cert_explain_bad_key(ci, path, &b, label, reason);

done:
	BIO_free(bio);
	cert_buf_free(&b);
	ERR_clear_error();
}

const char *cert_file_status_name(enum cert_file_status st)
{
	switch (st) {
	case CERT_FILE_OK:
		return "ok";
	case CERT_FILE_MISSING:
		return "missing";
	case CERT_FILE_UNREADABLE:
		return "unreadable";
	case CERT_FILE_NO_PEM:
		return "no PEM object";
	case CERT_FILE_BARE_BASE64:
		return "base64 without PEM armour";
	case CERT_FILE_BAD_PEM:
		return "damaged PEM";
	}
	return "unknown";
}
