/* cert.c — load and inspect certificates, chains and keys.
 *
 * This module reads PEM files with OpenSSL (at most CERT_MAX_FILE bytes each,
 * never following a FIFO or device), records why a file could not be used in
 * words a user can act on (including which BEGIN/END lines to add to bare
 * base64), and reduces the leaf, its chain and its key to the plain facts of
 * `struct cert_info`.  It verifies a chain against a trust file and answers
 * whether a name is covered by the DNS SANs.  It does not judge: whether a
 * fact breaks a rule is decided in plan.c.  It prints nothing, and it leaves
 * the OpenSSL error queue empty on return from every public function.
 */
#include "edge443/cert.h"

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

/* snprintf whose truncation is intended: details are human text, and a
 * cut-off tail is better than no message. */
static void cert_fmt(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cert_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* Empty the OpenSSL error queue into BUF as "outer reason (inner reason)":
 * the last error queued is the most general, the first the root cause.
 * BUF is "" when the queue was empty. */
static void cert_ssl_reason(char *buf, size_t len)
{
	unsigned long e, first = 0, last = 0;
	const char *r1, *r2;

	while ((e = ERR_get_error()) != 0) {
		if (first == 0)
			first = e;
		last = e;
	}
	buf[0] = '\0';
	if (last == 0)
		return;
	r1 = ERR_reason_error_string(last);
	r2 = ERR_reason_error_string(first);
	if (r1 == NULL)
		r1 = "unknown OpenSSL error";
	if (r2 == NULL || first == last || strcmp(r1, r2) == 0)
		snprintf(buf, len, "%s", r1);
	else
		snprintf(buf, len, "%s (%s)", r1, r2);
}

/* Record a problem with PATH; the first problem per file wins. */
static void cert_add_error(struct cert_info *ci, enum cert_file_status st,
			   const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void cert_add_error(struct cert_info *ci, enum cert_file_status st,
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
static void cert_load_certs(struct cert_info *ci, const char *path, X509 **leaf)
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
	cert_ssl_reason(reason, sizeof(reason));
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
		cert_ssl_reason(why, sizeof(why));
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
static void cert_load_key(struct cert_info *ci, const char *path)
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
	cert_ssl_reason(reason, sizeof(reason));
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

/* One-line RFC 2253 name into BUF (UTF-8 kept readable, controls escaped). */
static void cert_name_line(const X509_NAME *name, char *buf, size_t len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int n;

	buf[0] = '\0';
	if (bio == NULL)
		goto out;
	if (X509_NAME_print_ex(bio, name, 0,
			       XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
		goto out;
	n = BIO_read(bio, buf, (int)(len - 1));
	if (n > 0)
		buf[n] = '\0';
out:
	BIO_free(bio);
	ERR_clear_error();
}

/* Copy an ASN.1 string as a C string; embedded NULs become '?' so that a
 * name cannot hide a suffix from the rules. */
static char *cert_asn1_strdup(const unsigned char *data, int len)
{
	char *s;
	int i;

	if (data == NULL || len < 0)
		return NULL;
	s = malloc((size_t)len + 1);
	if (s == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		s[i] = data[i] == '\0' ? '?' : (char)data[i];
	s[len] = '\0';
	return s;
}

static char *cert_first_cn(X509 *x)
{
	const X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_ENTRY *e;
	unsigned char *utf8 = NULL;
	char *cn;
	int i, n;

	i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (i < 0)
		return NULL;
	e = X509_NAME_get_entry(name, i);
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
	if (n < 0) {
		ERR_clear_error();
		return NULL;
	}
	cn = cert_asn1_strdup(utf8, n);
	OPENSSL_free(utf8);
	return cn;
}

static void cert_load_sans(struct cert_info *ci)
{
	GENERAL_NAMES *gens;
	int i, n;

	ci->has_san_ext =
		X509_get_ext_by_NID(ci->leaf, NID_subject_alt_name, -1) >= 0;
	gens = X509_get_ext_d2i(ci->leaf, NID_subject_alt_name, NULL, NULL);
	if (gens == NULL) {
		ERR_clear_error();
		return;
	}
	n = sk_GENERAL_NAME_num(gens);
	ci->sans = calloc(n > 0 ? (size_t)n : 1, sizeof(*ci->sans));
	if (ci->sans == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char *s;

		if (g->type != GEN_DNS)
			continue;
		s = cert_asn1_strdup(ASN1_STRING_get0_data(g->d.dNSName),
				     ASN1_STRING_length(g->d.dNSName));
		if (s != NULL)
			ci->sans[ci->nsans++] = s;
	}
out:
	GENERAL_NAMES_free(gens);
}

static time_t cert_asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		ERR_clear_error();
		return 0;
	}
	return timegm(&tm);
}

/* MD5/MD4/MD2/SHA-1 signatures are forgeable (CA/B BR 7.1.3.2). */
static bool cert_sig_is_weak(const X509 *x)
{
	int mdnid = NID_undef, pknid = NID_undef;

	if (!OBJ_find_sigid_algs(X509_get_signature_nid(x), &mdnid, &pknid))
		return false;
	return mdnid == NID_md5 || mdnid == NID_sha1 || mdnid == NID_md4 ||
	       mdnid == NID_md2 || mdnid == NID_md5_sha1;
}

/* True when X is self-issued and its signature verifies with its own key. */
static bool cert_is_self_signed(X509 *x)
{
	int r = X509_self_signed(x, 1);

	ERR_clear_error();
	return r == 1;
}

/* Fill every fact that depends on the leaf and chain (not on the key). */
static void cert_facts(struct cert_info *ci)
{
	EVP_PKEY *pk;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	uint32_t flags;
	const char *sn;
	int j;

	ci->cn = cert_first_cn(ci->leaf);
	cert_load_sans(ci);

	flags = X509_get_extension_flags(ci->leaf);
	ci->has_eku = (flags & EXFLAG_XKUSAGE) != 0;
	if (ci->has_eku) {
		uint32_t xku = X509_get_extended_key_usage(ci->leaf);

		if (xku & XKU_SSL_SERVER)
			ci->eku |= CERT_EKU_SERVER;
		if (xku & XKU_SSL_CLIENT)
			ci->eku |= CERT_EKU_CLIENT;
		if (xku & XKU_ANYEKU)
			ci->eku |= CERT_EKU_ANY;
	}
	ci->has_ku = (flags & EXFLAG_KUSAGE) != 0;
	if (ci->has_ku) {
		uint32_t ku = X509_get_key_usage(ci->leaf);

		if (ku & KU_DIGITAL_SIGNATURE)
			ci->ku |= CERT_KU_DIGITAL_SIGNATURE;
		if (ku & KU_KEY_ENCIPHERMENT)
			ci->ku |= CERT_KU_KEY_ENCIPHERMENT;
	}

	pk = X509_get0_pubkey(ci->leaf);
	if (pk != NULL) {
		switch (EVP_PKEY_get_base_id(pk)) {
		case EVP_PKEY_RSA:
		case EVP_PKEY_RSA_PSS:
			ci->key_type = CERT_KEY_RSA;
			break;
		case EVP_PKEY_EC:
			ci->key_type = CERT_KEY_EC;
			break;
		case EVP_PKEY_ED25519:
			ci->key_type = CERT_KEY_ED25519;
			break;
		default:
			ci->key_type = CERT_KEY_OTHER;
			break;
		}
		ci->key_bits = EVP_PKEY_get_bits(pk);
		if (ci->key_type == CERT_KEY_EC &&
		    !EVP_PKEY_get_utf8_string_param(
			    pk, OSSL_PKEY_PARAM_GROUP_NAME, ci->key_curve,
			    sizeof(ci->key_curve), NULL))
			ci->key_curve[0] = '\0';
	}

	j = X509_get_signature_nid(ci->leaf);
	sn = OBJ_nid2ln(j);
	if (sn == NULL)
		sn = OBJ_nid2sn(j);
	snprintf(ci->sig_alg, sizeof(ci->sig_alg), "%s",
		 sn != NULL ? sn : "unknown");

	/* A root's own signature is never checked by clients, so only the
	 * leaf and chain certificates that are not self-signed count. */
	if (cert_sig_is_weak(ci->leaf)) {
		ci->sig_weak = true;
		cert_name_line(X509_get_subject_name(ci->leaf),
			       ci->sig_weak_subject,
			       sizeof(ci->sig_weak_subject));
	}
	for (j = 0; !ci->sig_weak && j < sk_X509_num(ci->chain); j++) {
		X509 *x = sk_X509_value(ci->chain, j);

		if (cert_sig_is_weak(x) && !cert_is_self_signed(x)) {
			ci->sig_weak = true;
			cert_name_line(X509_get_subject_name(x),
				       ci->sig_weak_subject,
				       sizeof(ci->sig_weak_subject));
		}
	}

	ci->not_before = cert_asn1_time(X509_get0_notBefore(ci->leaf));
	ci->not_after = cert_asn1_time(X509_get0_notAfter(ci->leaf));

	if (X509_digest(ci->leaf, EVP_sha256(), md, &mdlen) == 1) {
		for (i = 0; i < mdlen && 3 * i + 3 <= sizeof(ci->fingerprint);
		     i++)
			snprintf(ci->fingerprint + 3 * i, 4,
				 i + 1 < mdlen ? "%02X:" : "%02X", md[i]);
	}

	cert_name_line(X509_get_subject_name(ci->leaf), ci->subject,
		       sizeof(ci->subject));
	cert_name_line(X509_get_issuer_name(ci->leaf), ci->issuer,
		       sizeof(ci->issuer));
	ci->self_signed = cert_is_self_signed(ci->leaf);
	for (j = 0; j < sk_X509_num(ci->chain); j++)
		if (cert_is_self_signed(sk_X509_value(ci->chain, j)))
			ci->chain_has_root = true;
	ERR_clear_error();
}

struct cert_info *cert_load(const char *cert_path, const char *chain_path,
			    const char *key_path)
{
	struct cert_info *ci = calloc(1, sizeof(*ci));

	if (ci == NULL)
		return NULL;
	ci->chain = sk_X509_new_null();
	if (ci->chain == NULL) {
		free(ci);
		return NULL;
	}
	if (cert_path != NULL)
		cert_load_certs(ci, cert_path, &ci->leaf);
	else
		cert_add_error(ci, CERT_FILE_MISSING, "(none)",
			       "no certificate file named");
	if (chain_path != NULL)
		cert_load_certs(ci, chain_path, NULL);
	if (key_path != NULL)
		cert_load_key(ci, key_path);
	if (ci->leaf != NULL)
		cert_facts(ci);
	if (ci->leaf != NULL && ci->key != NULL)
		ci->key_matches =
			X509_check_private_key(ci->leaf, ci->key) == 1;
	ERR_clear_error();
	return ci;
}

struct cert_info *cert_from_x509(X509 *leaf, STACK_OF(X509) * chain)
{
	struct cert_info *ci;
	int i;

	if (leaf == NULL)
		return NULL;
	ci = calloc(1, sizeof(*ci));
	if (ci == NULL)
		return NULL;
	ci->chain = sk_X509_new_null();
	if (ci->chain == NULL || !X509_up_ref(leaf))
		goto fail;
	ci->leaf = leaf;
	/* A served chain usually starts with the leaf itself: skip copies of
	 * the leaf so that they are not counted as extra chain certificates. */
	for (i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);

		if (X509_cmp(x, leaf) == 0)
			continue;
		if (!X509_up_ref(x))
			goto fail;
		if (!sk_X509_push(ci->chain, x)) {
			X509_free(x);
			goto fail;
		}
	}
	cert_facts(ci);
	ERR_clear_error();
	return ci;

fail:
	cert_free(ci);
	ERR_clear_error();
	return NULL;
}

void cert_free(struct cert_info *ci)
{
	size_t i;

	if (ci == NULL)
		return;
	X509_free(ci->leaf);
	sk_X509_pop_free(ci->chain, X509_free);
	EVP_PKEY_free(ci->key);
	for (i = 0; i < ci->nerrors; i++) {
		free(ci->errors[i].path);
		free(ci->errors[i].detail);
	}
	free(ci->cn);
	for (i = 0; i < ci->nsans; i++)
		free(ci->sans[i]);
	free(ci->sans);
	free(ci);
}

/* Certificates of ci->chain not on the leaf's issuer walk: from the leaf,
 * repeatedly take an unused chain certificate that issued the current one.
 * Used when verification failed and there is no verified path. */
static size_t cert_extra_by_walk(const struct cert_info *ci)
{
	int n = sk_X509_num(ci->chain), i, used = 0;
	bool *on_path;
	X509 *cur = ci->leaf;
	bool found = true;

	if (n <= 0)
		return 0;
	on_path = calloc((size_t)n, sizeof(*on_path));
	if (on_path == NULL)
		return 0;
	while (found && !cert_is_self_signed(cur)) {
		found = false;
		for (i = 0; i < n; i++) {
			X509 *x = sk_X509_value(ci->chain, i);

			if (!on_path[i] &&
			    X509_check_issued(x, cur) == X509_V_OK) {
				on_path[i] = true;
				used++;
				cur = x;
				found = true;
				break;
			}
		}
	}
	free(on_path);
	ERR_clear_error();
	return (size_t)(n - used);
}

/* Certificates of ci->chain that are not on the verified PATH (each path
 * certificate accounts for one chain copy, so a duplicate counts as extra). */
static size_t cert_extra_by_path(const struct cert_info *ci,
				 STACK_OF(X509) * path)
{
	int n = sk_X509_num(ci->chain), np = sk_X509_num(path), i, k;
	size_t extra = 0;
	bool *taken;

	if (n <= 0)
		return 0;
	taken = calloc(np > 0 ? (size_t)np : 1, sizeof(*taken));
	if (taken == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		X509 *x = sk_X509_value(ci->chain, i);
		bool hit = false;

		/* Index 0 of the path is the leaf itself. */
		for (k = 1; k < np && !hit; k++) {
			if (!taken[k] &&
			    X509_cmp(x, sk_X509_value(path, k)) == 0) {
				taken[k] = true;
				hit = true;
			}
		}
		if (!hit)
			extra++;
	}
	free(taken);
	return extra;
}

int cert_verify_chain(struct cert_info *ci, const char *trust_file, char *err,
		      size_t errlen)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	char reason[256], who[256];
	struct stat st;
	int rc = -1, ok, e, depth;
	X509 *bad;

	if (ci == NULL || ci->leaf == NULL) {
		snprintf(err, errlen, "no certificate to verify");
		return -1;
	}
	if (trust_file == NULL) {
		snprintf(err, errlen, "no trust file named");
		return -1;
	}
	/* Say plainly what is wrong with the trust file before OpenSSL does. */
	if (stat(trust_file, &st) != 0) {
		snprintf(err, errlen, "%s: %s", trust_file, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: is a directory", trust_file);
		return -1;
	}
	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	if (store == NULL || ctx == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (X509_STORE_load_file(store, trust_file) != 1) {
		cert_ssl_reason(reason, sizeof(reason));
		snprintf(err, errlen, "%s: holds no usable PEM certificate: %s",
			 trust_file, reason[0] ? reason : "unknown error");
		goto out;
	}
	if (X509_STORE_CTX_init(ctx, store, ci->leaf, ci->chain) != 1) {
		cert_ssl_reason(reason, sizeof(reason));
		snprintf(err, errlen, "cannot set up verification: %s", reason);
		goto out;
	}
	/* Expiry has rules of its own; partial chains are not accepted. */
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);

	ok = X509_verify_cert(ctx);
	if (ok == 1) {
		ci->chain_status = CERT_CHAIN_OK;
		snprintf(ci->chain_detail, sizeof(ci->chain_detail), "ok");
		ci->chain_extra =
			cert_extra_by_path(ci, X509_STORE_CTX_get0_chain(ctx));
	} else {
		e = X509_STORE_CTX_get_error(ctx);
		depth = X509_STORE_CTX_get_error_depth(ctx);
		bad = X509_STORE_CTX_get_current_cert(ctx);
		who[0] = '\0';
		if (bad != NULL)
			cert_name_line(X509_get_subject_name(bad), who,
				       sizeof(who));
		ci->chain_status = CERT_CHAIN_INCOMPLETE;
		if (e == X509_V_OK) {
			/* Failure outside the verifier (e.g. out of memory). */
			cert_ssl_reason(reason, sizeof(reason));
			cert_fmt(ci->chain_detail, sizeof(ci->chain_detail),
				 "verification failed: %s",
				 reason[0] ? reason : "unknown error");
		} else {
			cert_fmt(ci->chain_detail, sizeof(ci->chain_detail),
				 "%s at depth %d (%s)",
				 X509_verify_cert_error_string(e), depth,
				 who[0] ? who : ci->subject);
		}
		ci->chain_extra = cert_extra_by_walk(ci);
	}
	rc = 0;

out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return rc;
}

bool cert_covers(const struct cert_info *ci, const char *name)
{
	int r;

	if (ci == NULL || ci->leaf == NULL || name == NULL || name[0] == '\0')
		return false;
	r = X509_check_host(ci->leaf, name, strlen(name),
			    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
				    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
			    NULL);
	ERR_clear_error();
	return r == 1;
}

bool cert_name_is_wildcard(const char *name)
{
	return name != NULL && strchr(name, '*') != NULL;
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

const char *cert_key_desc(const struct cert_info *ci, char *buf, size_t len)
{
	static const struct {
		const char *group, *name;
	} curves[] = {
		{"prime256v1", "P-256"},
		{"secp384r1", "P-384"},
		{"secp521r1", "P-521"},
	};
	const char *curve;
	size_t i;

	if (buf == NULL || len == 0)
		return "";
	if (ci == NULL || ci->leaf == NULL) {
		snprintf(buf, len, "none");
		return buf;
	}
	switch (ci->key_type) {
	case CERT_KEY_RSA:
		snprintf(buf, len, "RSA-%d", ci->key_bits);
		break;
	case CERT_KEY_EC:
		curve = ci->key_curve[0] ? ci->key_curve : "unknown-curve";
		for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
			if (strcmp(curve, curves[i].group) == 0)
				curve = curves[i].name;
		snprintf(buf, len, "EC-%s", curve);
		break;
	case CERT_KEY_ED25519:
		snprintf(buf, len, "Ed25519");
		break;
	case CERT_KEY_OTHER:
		snprintf(buf, len, "other-%d", ci->key_bits);
		break;
	case CERT_KEY_NONE:
		snprintf(buf, len, "none");
		break;
	}
	return buf;
}
