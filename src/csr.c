/* csr.c — keys, certificate requests and the throw-away lab CA (OpenSSL).
 *
 * The write side turns order.c's planned certificates into files: a private
 * key (PKCS#8 PEM, mode 0600, never replacing an existing key unless forced)
 * and a PKCS#10 request per certificate, and for a lab a new root +
 * intermediate (public) and a separate internal root that issue every planned
 * certificate, plus a config snippet pointing at them.  The read side decodes
 * a request however it was armoured — PEM, Microsoft's "NEW CERTIFICATE
 * REQUEST" label, bare base64, DER — with OpenSSL's decoders only, verifies
 * its signature and re-armours it.  It decides nothing about the plan and
 * prints nothing.
 */
#include "edge443/csr.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define CSR_DAY 86400L
#define CSR_LEAF_DAYS 90 /* lab leaves: from now - 1 day, 90 days */
#define CSR_CA_DAYS 3650 /* lab CAs */
#define CSR_READ_MAX (1024 * 1024)

static void csr_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void csr_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Like csr_err, then ": <the OpenSSL reason>"; drains the error queue. */
static void csr_ossl_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void csr_ossl_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	unsigned long e = ERR_peek_last_error();
	char reason[256] = "";
	size_t used;

	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	used = strlen(err);
	if (reason[0] && used < errlen)
		snprintf(err + used, errlen - used, ": %s", reason);
}

/* ---- keys ------------------------------------------------------------- */

int csr_key_kind_parse(const char *s, enum csr_key_kind *kind)
{
	if (!s)
		return -1;
	if (strcasecmp(s, "rsa:2048") == 0)
		*kind = CSR_KEY_RSA2048;
	else if (strcasecmp(s, "rsa:3072") == 0)
		*kind = CSR_KEY_RSA3072;
	else if (strcasecmp(s, "ec:p256") == 0 ||
		 strcasecmp(s, "ec:p-256") == 0)
		*kind = CSR_KEY_EC_P256;
	else
		return -1;
	return 0;
}

const char *csr_key_kind_name(enum csr_key_kind kind)
{
	switch (kind) {
	case CSR_KEY_RSA2048:
		return "rsa:2048";
	case CSR_KEY_RSA3072:
		return "rsa:3072";
	case CSR_KEY_EC_P256:
		return "ec:p256";
	}
	return "?";
}

EVP_PKEY *csr_key_new(enum csr_key_kind kind, char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;

	switch (kind) {
	case CSR_KEY_RSA2048:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case CSR_KEY_RSA3072:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
		break;
	case CSR_KEY_EC_P256:
		key = EVP_EC_gen("P-256");
		break;
	}
	if (!key)
		csr_ossl_err(err, errlen, "cannot make a %s key",
			     csr_key_kind_name(kind));
	return key;
}

/* "RSA-2048", "EC-prime256v1", ... */
static void csr_key_desc(EVP_PKEY *key, char *buf, size_t len)
{
	char curve[64] = "";
	size_t clen = 0;

	if (!key) {
		snprintf(buf, len, "none");
		return;
	}
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		snprintf(buf, len, "RSA-%d", EVP_PKEY_get_bits(key));
		break;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(
			    key, OSSL_PKEY_PARAM_GROUP_NAME, curve,
			    sizeof(curve), &clen) != 1)
			snprintf(curve, sizeof(curve), "%d bits",
				 EVP_PKEY_get_bits(key));
		snprintf(buf, len, "EC-%s", curve);
		break;
	case EVP_PKEY_ED25519:
		snprintf(buf, len, "Ed25519");
		break;
	default:
		snprintf(buf, len, "%s-%d",
			 OBJ_nid2sn(EVP_PKEY_get_base_id(key)),
			 EVP_PKEY_get_bits(key));
		break;
	}
	ERR_clear_error();
}

/* ---- extensions ------------------------------------------------------- */

/* subjectAltName with every SAN of OC as a dNSName, in order. */
static X509_EXTENSION *csr_san_ext(const struct order_cert *oc)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	X509_EXTENSION *ext = NULL;

	if (!gens)
		return NULL;
	for (size_t i = 0; i < oc->nsans; i++) {
		GENERAL_NAME *gn = GENERAL_NAME_new();
		ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
		if (!gn || !ia5 ||
		    !ASN1_STRING_set(ia5, oc->sans[i],
				     (int)strlen(oc->sans[i]))) {
			GENERAL_NAME_free(gn);
			ASN1_IA5STRING_free(ia5);
			goto done;
		}
		GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
		if (!sk_GENERAL_NAME_push(gens, gn)) {
			GENERAL_NAME_free(gn);
			goto done;
		}
	}
	ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens);
done:
	GENERAL_NAMES_free(gens);
	return ext;
}

static const char *csr_eku_value(const struct order_cert *oc)
{
	return oc->client_auth ? "serverAuth,clientAuth" : "serverAuth";
}

/* digitalSignature for every key; keyEncipherment for RSA only (ku-mismatch).
 */
static const char *csr_ku_value(EVP_PKEY *key)
{
	return EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA
		       ? "critical,digitalSignature,keyEncipherment"
		       : "critical,digitalSignature";
}

/* Add extension NID = VALUE (OpenSSL's config syntax, constant strings only)
 * to certificate X.  0 / -1. */
static int csr_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	int ok;

	if (!ext)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static X509_NAME *csr_name(const char *cn, const char *org)
{
	X509_NAME *name = X509_NAME_new();

	if (!name)
		return NULL;
	if ((org && !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
						(const unsigned char *)org, -1,
						-1, 0)) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0)) {
		X509_NAME_free(name);
		return NULL;
	}
	return name;
}

/* ---- requests --------------------------------------------------------- */

X509_REQ *csr_req_new(const struct order_cert *oc, EVP_PKEY *key, char *err,
		      size_t errlen)
{
	X509_REQ *req = NULL;
	X509_NAME *name = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION *ext = NULL;

	if (!oc || !oc->cn || !key) {
		csr_err(err, errlen, "no certificate or key to request");
		return NULL;
	}
	req = X509_REQ_new();
	name = csr_name(oc->cn, NULL);
	exts = sk_X509_EXTENSION_new_null();
	if (!req || !name || !exts || !X509_REQ_set_version(req, 0) ||
	    !X509_REQ_set_subject_name(req, name) ||
	    !X509_REQ_set_pubkey(req, key))
		goto fail;

	ext = csr_san_ext(oc);
	if (!ext || !sk_X509_EXTENSION_push(exts, ext))
		goto fail;
	ext = X509V3_EXT_nconf_nid(NULL, NULL, NID_ext_key_usage,
				   csr_eku_value(oc));
	if (!ext || !sk_X509_EXTENSION_push(exts, ext))
		goto fail;
	ext = X509V3_EXT_nconf_nid(NULL, NULL, NID_key_usage,
				   csr_ku_value(key));
	if (!ext || !sk_X509_EXTENSION_push(exts, ext))
		goto fail;
	ext = NULL;
	if (!X509_REQ_add_extensions(req, exts) ||
	    !X509_REQ_sign(req, key, EVP_sha256()))
		goto fail;
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(name);
	return req;
fail:
	csr_ossl_err(err, errlen, "cannot make the request for \"%s\" (CN %s)",
		     oc->name ? oc->name : "?", oc->cn);
	X509_EXTENSION_free(ext);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(name);
	X509_REQ_free(req);
	return NULL;
}

/* ---- the lab CA ------------------------------------------------------- */

enum csr_cert_kind {
	CSR_CERT_ROOT,
	CSR_CERT_INTERMEDIATE,
	CSR_CERT_LEAF,
};

struct csr_lab {
	EVP_PKEY *root_key, *int_key, *iroot_key;
	X509 *root, *inter, *iroot;
};

static void csr_lab_clear(struct csr_lab *lab)
{
	EVP_PKEY_free(lab->root_key);
	EVP_PKEY_free(lab->int_key);
	EVP_PKEY_free(lab->iroot_key);
	X509_free(lab->root);
	X509_free(lab->inter);
	X509_free(lab->iroot);
	memset(lab, 0, sizeof(*lab));
}

/* A random positive 159-bit serial (RFC 5280: at most 20 octets). */
static int csr_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	int ok = bn && BN_rand(bn, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
		 BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;

	BN_free(bn);
	return ok ? 0 : -1;
}

/* Make and sign one certificate.  SUBJECT/PUBKEY describe the new
 * certificate; ISSUER/IKEY sign it (ISSUER NULL: self-signed with IKEY).
 * Leaves get OC's SANs and EKU.  Valid from NOW - 1 day for DAYS days. */
static X509 *csr_cert_new(enum csr_cert_kind kind, const X509_NAME *subject,
			  EVP_PKEY *pubkey, X509 *issuer, EVP_PKEY *ikey,
			  const struct order_cert *oc, time_t now, long days)
{
	X509 *x = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *san = NULL;

	if (!x || !X509_set_version(x, X509_VERSION_3) || csr_serial(x) < 0 ||
	    !X509_set_subject_name(x, subject) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer)
					    : subject) ||
	    !X509_set_pubkey(x, pubkey) ||
	    !X509_time_adj_ex(X509_getm_notBefore(x), -1, 0, &now) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), (int)days - 1, 0, &now))
		goto fail;
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	switch (kind) {
	case CSR_CERT_ROOT:
		if (csr_add_ext(x, &ctx, NID_basic_constraints,
				"critical,CA:TRUE") < 0 ||
		    csr_add_ext(x, &ctx, NID_key_usage,
				"critical,keyCertSign,cRLSign") < 0)
			goto fail;
		break;
	case CSR_CERT_INTERMEDIATE:
		if (csr_add_ext(x, &ctx, NID_basic_constraints,
				"critical,CA:TRUE,pathlen:0") < 0 ||
		    csr_add_ext(x, &ctx, NID_key_usage,
				"critical,keyCertSign,cRLSign") < 0)
			goto fail;
		break;
	case CSR_CERT_LEAF:
		if (csr_add_ext(x, &ctx, NID_basic_constraints,
				"critical,CA:FALSE") < 0 ||
		    csr_add_ext(x, &ctx, NID_key_usage, csr_ku_value(pubkey)) <
			    0 ||
		    csr_add_ext(x, &ctx, NID_ext_key_usage, csr_eku_value(oc)) <
			    0)
			goto fail;
		san = csr_san_ext(oc);
		if (!san || !X509_add_ext(x, san, -1))
			goto fail;
		X509_EXTENSION_free(san);
		san = NULL;
		break;
	}
	if (csr_add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0 ||
	    (kind != CSR_CERT_ROOT &&
	     csr_add_ext(x, &ctx, NID_authority_key_identifier,
			 "keyid:always") < 0))
		goto fail;
	if (!X509_sign(x, ikey, EVP_sha256()))
		goto fail;
	return x;
fail:
	X509_EXTENSION_free(san);
	X509_free(x);
	return NULL;
}

/* The lab root, its intermediate and the separate internal root. */
static int csr_lab_new(struct csr_lab *lab, time_t now, char *err,
		       size_t errlen)
{
	static const char org[] =
		"edge443 lab (throw-away, not for production)";
	X509_NAME *root_name = csr_name("edge443 Lab Public Root", org);
	X509_NAME *int_name = csr_name("edge443 Lab Public Intermediate", org);
	X509_NAME *iroot_name = csr_name("edge443 Lab Internal Root", org);
	int rc = -1;

	memset(lab, 0, sizeof(*lab));
	if (!root_name || !int_name || !iroot_name)
		goto done;
	lab->root_key = csr_key_new(CSR_KEY_RSA2048, err, errlen);
	lab->int_key = csr_key_new(CSR_KEY_RSA2048, err, errlen);
	lab->iroot_key = csr_key_new(CSR_KEY_RSA2048, err, errlen);
	if (!lab->root_key || !lab->int_key || !lab->iroot_key)
		goto done;
	lab->root = csr_cert_new(CSR_CERT_ROOT, root_name, lab->root_key, NULL,
				 lab->root_key, NULL, now, CSR_CA_DAYS);
	if (!lab->root)
		goto done;
	lab->inter =
		csr_cert_new(CSR_CERT_INTERMEDIATE, int_name, lab->int_key,
			     lab->root, lab->root_key, NULL, now, CSR_CA_DAYS);
	lab->iroot = csr_cert_new(CSR_CERT_ROOT, iroot_name, lab->iroot_key,
				  NULL, lab->iroot_key, NULL, now, CSR_CA_DAYS);
	if (!lab->inter || !lab->iroot)
		goto done;
	rc = 0;
done:
	if (rc < 0) {
		csr_ossl_err(err, errlen, "cannot make the lab CA");
		csr_lab_clear(lab);
	}
	X509_NAME_free(root_name);
	X509_NAME_free(int_name);
	X509_NAME_free(iroot_name);
	return rc;
}

/* ---- files ------------------------------------------------------------ */

/* Write LEN bytes to PATH with exactly MODE.  REPLACE: remove an existing
 * file first (never follow a symlink); otherwise fail when it exists. */
static int csr_write_bytes(const char *path, const void *data, size_t len,
			   int mode, bool replace, char *err, size_t errlen)
{
	const char *p = data;
	int fd;

	if (replace && unlink(path) < 0 && errno != ENOENT) {
		csr_err(err, errlen, "%s: cannot replace it: %s", path,
			strerror(errno));
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  (mode_t)mode);
	if (fd < 0) {
		csr_err(err, errlen, "%s: cannot create it: %s", path,
			strerror(errno));
		return -1;
	}
	if (fchmod(fd, (mode_t)mode) < 0)
		goto fail;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	csr_err(err, errlen, "%s: cannot write it: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(path);
	return -1;
}

int csr_write_text(const char *path, const char *text, int mode, char *err,
		   size_t errlen)
{
	return csr_write_bytes(path, text, strlen(text), mode, true, err,
			       errlen);
}

/* The contents of memory BIO B as a new NUL-terminated string. */
static char *csr_bio_text(BIO *b)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);
	char *s;

	if (n < 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (!s)
		return NULL;
	if (n > 0)
		memcpy(s, data, (size_t)n);
	s[n] = '\0';
	return s;
}

char *csr_req_pem(X509_REQ *req)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (b && PEM_write_bio_X509_REQ(b, req))
		s = csr_bio_text(b);
	BIO_free(b);
	return s;
}

static char *csr_key_pem(EVP_PKEY *key)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (b && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL))
		s = csr_bio_text(b);
	BIO_free(b);
	return s;
}

static char *csr_cert_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (b && PEM_write_bio_X509(b, x))
		s = csr_bio_text(b);
	BIO_free(b);
	return s;
}

/* "DIR/NAME.EXT" into BUF.  0 / -1 when it does not fit. */
static int csr_path(char *buf, size_t len, const char *dir, const char *name,
		    const char *ext)
{
	int n = snprintf(buf, len, "%s/%s%s", dir, name, ext);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* A certificate name is used as a file name: letters, digits, '.', '_',
 * '-', not starting with '.'. */
static bool csr_name_safe(const char *name)
{
	if (!name || !*name || name[0] == '.' || strlen(name) > 64)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
		      *p == '-'))
			return false;
	return true;
}

/* Create DIR (0700) when missing; fail when it is not a folder. */
static int csr_mkdir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	csr_err(err, errlen, "%s: cannot create the folder: %s", dir,
		errno == EEXIST ? "a file of that name exists"
				: strerror(errno));
	return -1;
}

/* Append S to a growing string *BUF (length *LEN); -1 on allocation failure. */
static int csr_cat(char **buf, size_t *len, const char *s)
{
	size_t sl = strlen(s);
	char *grown = realloc(*buf, *len + sl + 1);

	if (!grown)
		return -1;
	memcpy(grown + *len, s, sl + 1);
	*buf = grown;
	*len += sl;
	return 0;
}

/* S as a libconfuse double-quoted string (backslash and quote escaped). */
static int csr_cat_quoted(char **buf, size_t *len, const char *s)
{
	char one[3];

	if (csr_cat(buf, len, "\"") < 0)
		return -1;
	for (; *s; s++) {
		one[0] = (*s == '"' || *s == '\\') ? '\\' : *s;
		one[1] = (*s == '"' || *s == '\\') ? *s : '\0';
		one[2] = '\0';
		if (csr_cat(buf, len, one) < 0)
			return -1;
	}
	return csr_cat(buf, len, "\"");
}

static int csr_catf(char **buf, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int csr_catf(char **buf, size_t *len, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return csr_cat(buf, len, line);
}

/* "    cert  = "/abs/DIR/FILE"\n" */
static int csr_cat_path(char **buf, size_t *len, const char *option,
			const char *dir, const char *file)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (csr_catf(buf, len, "  %-5s = ", option) < 0 ||
	    csr_cat_quoted(buf, len, path) < 0)
		return -1;
	return csr_cat(buf, len, "\n");
}

/* The text of DIR/edge443.conf.snippet (DIR absolute). */
static char *csr_snippet(const struct config *cfg,
			 const struct order_plan *plan, const char *dir,
			 time_t now)
{
	char *s = NULL;
	size_t len = 0;
	char stamp[32] = "";
	struct tm tm;
	int bad = 0;

	if (gmtime_r(&now, &tm))
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	bad |= csr_catf(&s, &len,
			"# edge443.conf.snippet — made by `edge443 plan --lab` "
			"at %s from %s.\n",
			stamp, cfg && cfg->file ? cfg->file : "(config)");
	bad |= csr_cat(&s, &len,
		       "# LAB CERTIFICATES from a throw-away CA: for testing "
		       "only, never for production.\n"
		       "# All paths below are ABSOLUTE, so this snippet works "
		       "from any folder.\n"
		       "#\n"
		       "# Public certificates are issued by the lab root "
		       "(root.pem) through the lab\n"
		       "# intermediate (chain.pem).  Internal certificates are "
		       "issued directly by a\n"
		       "# separate lab internal root (internal-root.pem), as "
		       "an internal CA would.\n"
		       "# The CA private keys were not kept.\n"
		       "#\n"
		       "# Use the lab root as the global trust file:\n"
		       "#   trust_file = ");
	{
		char root[PATH_MAX + 16];
		snprintf(root, sizeof(root), "%s/root.pem", dir);
		bad |= csr_cat_quoted(&s, &len, root);
	}
	bad |= csr_cat(&s, &len,
		       "\n# and give each service its certificate:\n");
	for (size_t i = 0; cfg && i < cfg->nservices; i++) {
		const struct order_cert *oc = order_plan_find_service(plan, i);
		if (oc)
			bad |= csr_catf(
				&s, &len,
				"#   service %s: certificate = \"%s\"\n",
				cfg->services[i].name, oc->name);
	}
	for (size_t i = 0; i < plan->n; i++) {
		const struct order_cert *oc = &plan->certs[i];
		char file[128];
		bad |= csr_catf(&s, &len, "\n# CN %s; %s CA (%s)\n", oc->cn,
				oc->internal ? "internal" : "public",
				oc->internal ? "internal-root.pem"
					     : "root.pem via chain.pem");
		bad |= csr_catf(&s, &len, "certificate %s {\n", oc->name);
		snprintf(file, sizeof(file), "%s.crt", oc->name);
		bad |= csr_cat_path(&s, &len, "cert", dir, file);
		if (!oc->internal)
			bad |= csr_cat_path(&s, &len, "chain", dir,
					    "chain.pem");
		snprintf(file, sizeof(file), "%s.key", oc->name);
		bad |= csr_cat_path(&s, &len, "key", dir, file);
		bad |= csr_cat(&s, &len, "}\n");
	}
	if (bad) {
		free(s);
		return NULL;
	}
	return s;
}

/* Refuse when DIR/NAME.key exists for any planned certificate. */
static enum csr_status csr_check_keys(const struct order_plan *plan,
				      const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;

	for (size_t i = 0; i < plan->n; i++) {
		if (csr_path(path, sizeof(path), dir, plan->certs[i].name,
			     ".key") < 0) {
			csr_err(err, errlen, "%s: folder name too long", dir);
			return CSR_ERR_INPUT;
		}
		if (lstat(path, &st) == 0) {
			csr_err(err, errlen,
				"%s already exists; edge443 plan never "
				"overwrites a private key — use --force to "
				"replace it, or choose another folder",
				path);
			return CSR_ERR_INPUT;
		}
	}
	return CSR_OK;
}

/* Write the PEM TEXT as DIR/NAME+EXT. */
static int csr_put(const char *dir, const char *name, const char *ext,
		   const char *text, int mode, bool replace, char *err,
		   size_t errlen)
{
	char path[PATH_MAX];

	if (!text) {
		csr_err(err, errlen, "out of memory encoding %s%s", name, ext);
		return -1;
	}
	if (csr_path(path, sizeof(path), dir, name, ext) < 0) {
		csr_err(err, errlen, "%s: folder name too long", dir);
		return -1;
	}
	return csr_write_bytes(path, text, strlen(text), mode, replace, err,
			       errlen);
}

/* Key, request and (lab) certificate of one planned certificate. */
static enum csr_status csr_write_one(const struct order_cert *oc,
				     const char *out_dir, const char *lab_dir,
				     const struct csr_lab *lab,
				     enum csr_key_kind kind, time_t now,
				     char *err, size_t errlen)
{
	EVP_PKEY *key = csr_key_new(kind, err, errlen);
	X509_REQ *req = NULL;
	X509 *crt = NULL;
	char *key_pem = NULL, *req_pem = NULL, *crt_pem = NULL;
	enum csr_status st = CSR_ERR_IO;

	if (!key)
		goto done;
	req = csr_req_new(oc, key, err, errlen);
	if (!req)
		goto done;
	key_pem = csr_key_pem(key);
	req_pem = csr_req_pem(req);
	/* replace = true: a key that existed was vetted by csr_check_keys
	 * (it only gets here with --force). */
	if (out_dir && (csr_put(out_dir, oc->name, ".key", key_pem, 0600, true,
				err, errlen) < 0 ||
			csr_put(out_dir, oc->name, ".csr", req_pem, 0644, true,
				err, errlen) < 0))
		goto done;
	if (lab_dir) {
		crt = oc->internal
			      ? csr_cert_new(CSR_CERT_LEAF,
					     X509_REQ_get_subject_name(req),
					     key, lab->iroot, lab->iroot_key,
					     oc, now, CSR_LEAF_DAYS)
			      : csr_cert_new(CSR_CERT_LEAF,
					     X509_REQ_get_subject_name(req),
					     key, lab->inter, lab->int_key, oc,
					     now, CSR_LEAF_DAYS);
		if (!crt) {
			csr_ossl_err(err, errlen,
				     "cannot issue the lab certificate \"%s\"",
				     oc->name);
			goto done;
		}
		crt_pem = csr_cert_pem(crt);
		if (csr_put(lab_dir, oc->name, ".key", key_pem, 0600, true, err,
			    errlen) < 0 ||
		    csr_put(lab_dir, oc->name, ".csr", req_pem, 0644, true, err,
			    errlen) < 0 ||
		    csr_put(lab_dir, oc->name, ".crt", crt_pem, 0644, true, err,
			    errlen) < 0)
			goto done;
	}
	st = CSR_OK;
done:
	if (key_pem)
		OPENSSL_cleanse(key_pem, strlen(key_pem));
	free(key_pem);
	free(req_pem);
	free(crt_pem);
	X509_free(crt);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return st;
}

/* root.pem, chain.pem, internal-root.pem and the snippet. */
static enum csr_status csr_write_lab_files(const struct config *cfg,
					   const struct order_plan *plan,
					   const char *dir,
					   const struct csr_lab *lab,
					   time_t now, char *err, size_t errlen)
{
	char *root = csr_cert_pem(lab->root);
	char *inter = csr_cert_pem(lab->inter);
	char *iroot = csr_cert_pem(lab->iroot);
	char *snippet = csr_snippet(cfg, plan, dir, now);
	enum csr_status st = CSR_ERR_IO;

	if (csr_put(dir, "root", ".pem", root, 0644, true, err, errlen) < 0 ||
	    csr_put(dir, "chain", ".pem", inter, 0644, true, err, errlen) < 0 ||
	    csr_put(dir, "internal-root", ".pem", iroot, 0644, true, err,
		    errlen) < 0 ||
	    csr_put(dir, "edge443.conf", ".snippet", snippet, 0644, true, err,
		    errlen) < 0)
		goto done;
	st = CSR_OK;
done:
	free(root);
	free(inter);
	free(iroot);
	free(snippet);
	return st;
}

enum csr_status csr_write_plan(const struct config *cfg,
			       const struct order_plan *plan,
			       const char *out_dir, const char *lab_dir,
			       enum csr_key_kind kind, bool force, time_t now,
			       char *err, size_t errlen)
{
	char out_abs[PATH_MAX], lab_abs[PATH_MAX];
	struct csr_lab lab;
	enum csr_status st = CSR_OK;

	memset(&lab, 0, sizeof(lab));
	if (err && errlen)
		err[0] = '\0';
	if (!plan)
		return CSR_ERR_INPUT;
	if (now == 0)
		now = time(NULL);
	for (size_t i = 0; i < plan->n; i++)
		if (!csr_name_safe(plan->certs[i].name)) {
			csr_err(err, errlen,
				"certificate name \"%s\" cannot be a file name "
				"(letters, digits, '.', '_' and '-' only, not "
				"starting with '.') — rename the certificate "
				"section",
				plan->certs[i].name);
			return CSR_ERR_INPUT;
		}
	/* Resolve both folders; the same folder twice is written once. */
	if (out_dir) {
		if (csr_mkdir(out_dir, err, errlen) < 0 ||
		    !realpath(out_dir, out_abs)) {
			if (err && !err[0])
				csr_err(err, errlen, "%s: %s", out_dir,
					strerror(errno));
			return CSR_ERR_IO;
		}
		out_dir = out_abs;
	}
	if (lab_dir) {
		if (csr_mkdir(lab_dir, err, errlen) < 0 ||
		    !realpath(lab_dir, lab_abs)) {
			if (err && !err[0])
				csr_err(err, errlen, "%s: %s", lab_dir,
					strerror(errno));
			return CSR_ERR_IO;
		}
		lab_dir = lab_abs;
		if (out_dir && strcmp(out_dir, lab_dir) == 0)
			out_dir = NULL;
	}
	if (!force) {
		if (out_dir &&
		    (st = csr_check_keys(plan, out_dir, err, errlen)) != CSR_OK)
			return st;
		if (lab_dir &&
		    (st = csr_check_keys(plan, lab_dir, err, errlen)) != CSR_OK)
			return st;
	}
	if (lab_dir && csr_lab_new(&lab, now, err, errlen) < 0)
		return CSR_ERR_IO;
	for (size_t i = 0; i < plan->n && st == CSR_OK; i++)
		st = csr_write_one(&plan->certs[i], out_dir, lab_dir, &lab,
				   kind, now, err, errlen);
	if (st == CSR_OK && lab_dir)
		st = csr_write_lab_files(cfg, plan, lab_dir, &lab, now, err,
					 errlen);
	csr_lab_clear(&lab);
	return st;
}

/* ---- reading a request ------------------------------------------------ */

const char *csr_form_name(enum csr_form form)
{
	switch (form) {
	case CSR_FORM_PEM:
		return "PEM";
	case CSR_FORM_PEM_MS:
		return "PEM with Microsoft's NEW CERTIFICATE REQUEST label";
	case CSR_FORM_BARE:
		return "bare base64 without BEGIN/END lines";
	case CSR_FORM_DER:
		return "binary DER";
	}
	return "?";
}

void csr_info_free(struct csr_info *info)
{
	if (!info)
		return;
	X509_REQ_free(info->req);
	free(info->cn);
	for (size_t i = 0; i < info->nsans; i++)
		free(info->sans[i]);
	free(info->sans);
	free(info);
}

/* Read at most CSR_READ_MAX bytes of PATH into a new NUL-terminated buffer. */
static char *csr_slurp(const char *path, size_t *len, enum csr_status *st,
		       char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	struct stat sb;
	char *buf = NULL;
	size_t n;

	*st = CSR_ERR_IO;
	if (!f) {
		csr_err(err, errlen, "%s: cannot read the request: %s", path,
			strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
		csr_err(err, errlen,
			"%s: cannot read the request: it is a folder", path);
		goto fail;
	}
	buf = malloc(CSR_READ_MAX + 2);
	if (!buf) {
		csr_err(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	n = fread(buf, 1, CSR_READ_MAX + 1, f);
	if (ferror(f)) {
		csr_err(err, errlen, "%s: cannot read the request: %s", path,
			strerror(errno));
		goto fail;
	}
	if (n > CSR_READ_MAX) {
		*st = CSR_ERR_INPUT;
		csr_err(err, errlen,
			"%s: larger than 1 MiB — not a certificate request",
			path);
		goto fail;
	}
	buf[n] = '\0';
	*len = n;
	fclose(f);
	*st = CSR_OK;
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

static bool csr_is_b64(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Decode base64 text without armour (whitespace anywhere, lone "-----"
 * lines ignored) and parse it as a DER request.  Returns the request or
 * NULL with the reason in err. */
static X509_REQ *csr_decode_bare(const char *path, const char *text, size_t len,
				 char *err, size_t errlen)
{
	char *b64 = malloc(len + 1);
	unsigned char *der = NULL;
	const unsigned char *p;
	X509_REQ *req = NULL;
	size_t n = 0, pad = 0;
	int dlen;

	if (!b64) {
		csr_err(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		bool line_start = i == 0 || text[i - 1] == '\n';
		if (line_start && strncmp(text + i, "-----", 5) == 0) {
			while (i < len && text[i] != '\n')
				i++; /* a lone BEGIN or END line */
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad++;
		} else if (!csr_is_b64(c) || pad) {
			csr_err(err, errlen,
				"%s: not a certificate request: neither PEM "
				"(no -----BEGIN CERTIFICATE REQUEST----- line) "
				"nor base64 (byte 0x%02x at offset %zu)",
				path, c, i);
			goto done;
		}
		b64[n++] = (char)c;
	}
	b64[n] = '\0';
	if (n == 0) {
		csr_err(err, errlen, "%s: empty — no certificate request in it",
			path);
		goto done;
	}
	if (n < 64) {
		csr_err(err, errlen,
			"%s: not a certificate request: %zu characters, far "
			"too short for one",
			path, n);
		goto done;
	}
	if (n % 4 != 0 || pad > 2) {
		csr_err(err, errlen,
			"%s: not a certificate request: the base64 has %zu "
			"characters, not a multiple of 4 (truncated when "
			"copied?)",
			path, n);
		goto done;
	}
	der = malloc(n / 4 * 3 + 1);
	if (!der) {
		csr_err(err, errlen, "%s: out of memory", path);
		goto done;
	}
	dlen = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)n);
	if (dlen < 0 || (size_t)dlen < pad) {
		csr_ossl_err(err, errlen,
			     "%s: not a certificate request: the base64 does "
			     "not decode",
			     path);
		goto done;
	}
	dlen -= (int)pad; /* EVP_DecodeBlock counts the padding as zeros */
	p = der;
	req = d2i_X509_REQ(NULL, &p, dlen);
	if (!req) {
		csr_ossl_err(err, errlen,
			     "%s: base64 without BEGIN/END lines, but not a "
			     "certificate request (PKCS#10)",
			     path);
	} else if (p != der + dlen) {
		csr_err(err, errlen,
			"%s: %ld bytes of junk after the certificate request",
			path, (long)(der + dlen - p));
		X509_REQ_free(req);
		req = NULL;
	}
done:
	free(b64);
	free(der);
	return req;
}

/* Parse an armoured request; on failure say what the armour holds. */
static X509_REQ *csr_decode_pem(const char *path, const char *text, size_t len,
				char *err, size_t errlen)
{
	BIO *b = BIO_new_mem_buf(text, (int)len);
	X509_REQ *req = NULL;
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen = 0;

	if (!b) {
		csr_ossl_err(err, errlen, "%s", path);
		return NULL;
	}
	req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	if (req)
		goto done;
	csr_ossl_err(err, errlen,
		     "%s: has BEGIN/END lines but holds no readable "
		     "certificate request",
		     path);
	/* What is in there instead?  (A certificate, a key, ...) */
	BIO_free(b);
	b = BIO_new_mem_buf(text, (int)len);
	if (b && PEM_read_bio(b, &name, &header, &data, &dlen) == 1 && name &&
	    strcmp(name, PEM_STRING_X509_REQ) != 0 &&
	    strcmp(name, PEM_STRING_X509_REQ_OLD) != 0)
		csr_err(err, errlen,
			"%s: holds a \"%s\" PEM object, not a certificate "
			"request (expected -----BEGIN CERTIFICATE "
			"REQUEST-----)",
			path, name);
	ERR_clear_error();
done:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(b);
	return req;
}

/* A copy of an ASN1 string as text (embedded NULs make it "?"). */
static char *csr_asn1_text(const ASN1_STRING *s)
{
	int len = ASN1_STRING_length(s);
	const unsigned char *d = ASN1_STRING_get0_data(s);
	char *t;

	if (len < 0 || !d)
		return NULL;
	if (memchr(d, '\0', (size_t)len))
		len = 0;
	t = malloc((size_t)len + 1);
	if (!t)
		return NULL;
	memcpy(t, d, (size_t)len);
	t[len] = '\0';
	return t;
}

/* Fill the facts of INFO from INFO->req.  0 / -1 (allocation). */
static int csr_facts(struct csr_info *info)
{
	X509_REQ *req = info->req;
	const X509_NAME *subj = X509_REQ_get_subject_name(req);
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	GENERAL_NAMES *gens = NULL;
	EXTENDED_KEY_USAGE *eku = NULL;
	const X509_ALGOR *alg = NULL;
	const ASN1_OBJECT *obj = NULL;
	EVP_PKEY *key = X509_REQ_get0_pubkey(req);
	BIO *b = BIO_new(BIO_s_mem());
	int idx, rc = -1;

	if (!b)
		goto done;
	if (subj && X509_NAME_print_ex(b, subj, 0, XN_FLAG_RFC2253) >= 0) {
		char *s = csr_bio_text(b);
		if (s) {
			snprintf(info->subject, sizeof(info->subject), "%s", s);
			free(s);
		}
	}
	idx = subj ? X509_NAME_get_index_by_NID(subj, NID_commonName, -1) : -1;
	if (idx >= 0) {
		ASN1_STRING *d = X509_NAME_ENTRY_get_data(
			X509_NAME_get_entry(subj, idx));
		unsigned char *utf8 = NULL;
		int n = d ? ASN1_STRING_to_UTF8(&utf8, d) : -1;
		if (n >= 0) {
			info->cn = malloc((size_t)n + 1);
			if (info->cn) {
				memcpy(info->cn, utf8, (size_t)n);
				info->cn[n] = '\0';
			}
		}
		OPENSSL_free(utf8);
	}
	gens = exts ? X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL)
		    : NULL;
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);
		int type;
		const ASN1_STRING *v = GENERAL_NAME_get0_value(gn, &type);
		char **grown;
		if (type != GEN_DNS)
			continue;
		grown = realloc(info->sans, (info->nsans + 1) * sizeof(*grown));
		if (!grown)
			goto done;
		info->sans = grown;
		info->sans[info->nsans] = csr_asn1_text(v);
		if (!info->sans[info->nsans])
			goto done;
		info->nsans++;
	}
	eku = exts ? X509V3_get_d2i(exts, NID_ext_key_usage, NULL, NULL) : NULL;
	if (eku) {
		size_t used = 0;
		info->has_eku = true;
		for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
			const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
			char txt[80];
			int nid = OBJ_obj2nid(o);
			if (nid != NID_undef)
				snprintf(txt, sizeof(txt), "%s",
					 OBJ_nid2ln(nid));
			else
				OBJ_obj2txt(txt, sizeof(txt), o, 1);
			if (nid == NID_server_auth)
				snprintf(txt, sizeof(txt), "serverAuth");
			else if (nid == NID_client_auth)
				snprintf(txt, sizeof(txt), "clientAuth");
			if (used < sizeof(info->eku))
				used += (size_t)snprintf(
					info->eku + used,
					sizeof(info->eku) - used, "%s%s",
					i ? ", " : "", txt);
		}
	}
	csr_key_desc(key, info->key, sizeof(info->key));
	X509_REQ_get0_signature(req, NULL, &alg);
	if (alg) {
		X509_ALGOR_get0(&obj, NULL, NULL, alg);
		OBJ_obj2txt(info->sig_alg, sizeof(info->sig_alg), obj, 0);
	}
	info->sig_ok = key && X509_REQ_verify(req, key) == 1;
	rc = 0;
done:
	ERR_clear_error();
	BIO_free(b);
	GENERAL_NAMES_free(gens);
	EXTENDED_KEY_USAGE_free(eku);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}

struct csr_info *csr_read(const char *path, enum csr_status *status, char *err,
			  size_t errlen)
{
	struct csr_info *info = NULL;
	X509_REQ *req = NULL;
	enum csr_form form = CSR_FORM_PEM;
	size_t len = 0;
	char *text = NULL;

	if (err && errlen)
		err[0] = '\0';
	text = csr_slurp(path, &len, status, err, errlen);
	if (!text)
		return NULL;
	*status = CSR_ERR_INPUT;
	if (len == 0) {
		csr_err(err, errlen, "%s: empty — no certificate request in it",
			path);
		goto done;
	}
	if ((unsigned char)text[0] == 0x30) {
		const unsigned char *p = (const unsigned char *)text;
		req = d2i_X509_REQ(NULL, &p, (long)len);
		if (req && p != (const unsigned char *)text + len) {
			X509_REQ_free(req);
			req = NULL;
		}
		ERR_clear_error();
		form = CSR_FORM_DER;
	}
	if (!req && memchr(text, '\0', len)) {
		csr_err(err, errlen,
			"%s: binary data that is not a DER certificate "
			"request",
			path);
		goto done;
	}
	if (!req && strstr(text, "-----BEGIN")) {
		form = strstr(text,
			      "-----BEGIN " PEM_STRING_X509_REQ_OLD "-----")
			       ? CSR_FORM_PEM_MS
			       : CSR_FORM_PEM;
		req = csr_decode_pem(path, text, len, err, errlen);
		if (!req)
			goto done;
	} else if (!req) {
		form = CSR_FORM_BARE;
		req = csr_decode_bare(path, text, len, err, errlen);
		if (!req)
			goto done;
	}
	info = calloc(1, sizeof(*info));
	if (!info) {
		csr_err(err, errlen, "%s: out of memory", path);
		*status = CSR_ERR_IO;
		goto done;
	}
	info->req = req;
	req = NULL;
	info->form = form;
	if (csr_facts(info) < 0) {
		csr_err(err, errlen, "%s: out of memory", path);
		*status = CSR_ERR_IO;
		csr_info_free(info);
		info = NULL;
		goto done;
	}
	if (info->sig_ok) {
		*status = CSR_OK;
	} else {
		*status = CSR_ERR_VERIFY;
		csr_err(err, errlen,
			"%s: the request's signature does not verify with its "
			"own public key — it was altered or damaged after it "
			"was signed; make a new request",
			path);
	}
done:
	X509_REQ_free(req);
	free(text);
	return info;
}
