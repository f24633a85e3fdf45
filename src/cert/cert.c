/* cert.c — inspect certificates, chains and keys.
 *
 * This module turns a leaf, its chain and its key into the plain facts of
 * `struct cert_info` (names, key, EKU, validity, signatures, fingerprint,
 * revocation pointers, intermediates), verifies a chain against a trust file
 * and answers whether a name is covered by the DNS SANs.  Reading the files
 * and explaining why one could not be used (missing, bare base64, damaged
 * PEM, ...) is cert_file.c; reading single X509 objects (names and times as
 * text, CRL distribution points and AIA, the issuer path) is cert_x509.c;
 * cert_load here calls both.  It does not judge: whether a fact breaks a rule
 * is decided in rules.c.  It prints nothing, and it leaves the OpenSSL error
 * queue empty on return from every public function.
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
#include <strings.h>
#include <arpa/inet.h>
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

/* MD5/MD4/MD2/SHA-1 signatures are forgeable (CA/B BR 7.1.3.2). */
static bool cert_sig_is_weak(const X509 *x)
{
	int mdnid = NID_undef, pknid = NID_undef;

	if (!OBJ_find_sigid_algs(X509_get_signature_nid(x), &mdnid, &pknid))
		return false;
	return mdnid == NID_md5 || mdnid == NID_sha1 || mdnid == NID_md4 ||
	       mdnid == NID_md2 || mdnid == NID_md5_sha1;
}

/* EKU and key usage of the leaf, as the plan rules need them. */
static void cert_facts_usage(struct cert_info *ci)
{
	uint32_t flags = X509_get_extension_flags(ci->leaf);

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
}

/* The leaf's public key: type, bits and, for EC, the curve. */
static void cert_facts_key(struct cert_info *ci)
{
	EVP_PKEY *pk = X509_get0_pubkey(ci->leaf);

	if (pk == NULL)
		return;
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
	    !EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME,
					    ci->key_curve,
					    sizeof(ci->key_curve), NULL))
		ci->key_curve[0] = '\0';
}

/* The leaf's signature algorithm, and the first weak signature (MD5,
 * SHA-1) on the leaf or the chain. */
static void cert_facts_signatures(struct cert_info *ci)
{
	int nid = X509_get_signature_nid(ci->leaf);
	const char *sn = OBJ_nid2ln(nid);

	if (sn == NULL)
		sn = OBJ_nid2sn(nid);
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
	for (int j = 0; !ci->sig_weak && j < sk_X509_num(ci->chain); j++) {
		X509 *x = sk_X509_value(ci->chain, j);

		if (cert_sig_is_weak(x) && !cert_is_self_signed(x)) {
			ci->sig_weak = true;
			cert_name_line(X509_get_subject_name(x),
				       ci->sig_weak_subject,
				       sizeof(ci->sig_weak_subject));
		}
	}
}

const char *cert_fingerprint(const X509 *x, char *buf, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (len > 0)
		buf[0] = '\0';
	if (x == NULL || X509_digest(x, EVP_sha256(), md, &mdlen) != 1) {
		ERR_clear_error();
		return buf;
	}
	for (unsigned int i = 0; i < mdlen && 3 * i + 3 <= len; i++)
		snprintf(buf + 3 * i, 4, i + 1 < mdlen ? "%02X:" : "%02X",
			 md[i]);
	return buf;
}

/* Validity, SHA-256 fingerprint, subject and issuer lines, and whether the
 * leaf or a chain certificate is self-signed. */
static void cert_facts_identity(struct cert_info *ci)
{
	ci->not_before = cert_asn1_time(X509_get0_notBefore(ci->leaf));
	ci->not_after = cert_asn1_time(X509_get0_notAfter(ci->leaf));
	cert_fingerprint(ci->leaf, ci->fingerprint, sizeof(ci->fingerprint));

	cert_name_line(X509_get_subject_name(ci->leaf), ci->subject,
		       sizeof(ci->subject));
	cert_name_line(X509_get_issuer_name(ci->leaf), ci->issuer,
		       sizeof(ci->issuer));
	ci->self_signed = cert_is_self_signed(ci->leaf);
	for (int j = 0; j < sk_X509_num(ci->chain); j++)
		if (cert_is_self_signed(sk_X509_value(ci->chain, j)))
			ci->chain_has_root = true;
}

/* Fill every fact that depends on the leaf and chain (not on the key). */
static void cert_facts(struct cert_info *ci)
{
	ci->cn = cert_first_cn(ci->leaf);
	cert_load_sans(ci);
	cert_facts_usage(ci);
	cert_facts_key(ci);
	cert_facts_signatures(ci);
	cert_facts_identity(ci);
	cert_facts_revocation(ci);
	cert_facts_intermediates(ci);
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
	cert_facts_x509_free(ci);
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
		ossl_err_drain(reason, sizeof(reason));
		snprintf(err, errlen, "%s: holds no usable PEM certificate: %s",
			 trust_file, reason[0] ? reason : "unknown error");
		goto out;
	}
	if (X509_STORE_CTX_init(ctx, store, ci->leaf, ci->chain) != 1) {
		ossl_err_drain(reason, sizeof(reason));
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
			ossl_err_drain(reason, sizeof(reason));
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

/* A name that a public CA may not certify: a single label, an internal
 * suffix, or a private / loopback IP literal. */
bool cert_name_is_internal(const char *name)
{
	static const char *const suffixes[] = {
		".local",	".corp", ".lan",      ".internal",
		".localdomain", ".home", ".intranet",
	};
	char buf[256];
	size_t len;
	struct in_addr a4;
	struct in6_addr a6;

	if (!name || !*name)
		return false;
	len = strlen(name);
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, name, len + 1);
	if (len > 1 && buf[len - 1] == '.')
		buf[--len] = '\0';
	if (inet_pton(AF_INET, buf, &a4) == 1) {
		unsigned long ip = ntohl(a4.s_addr);
		return (ip >> 24) == 10 || (ip >> 20) == 0xac1ul ||
		       (ip >> 16) == 0xc0a8ul || (ip >> 24) == 127;
	}
	if (inet_pton(AF_INET6, buf, &a6) == 1)
		return (a6.s6_addr[0] & 0xfe) == 0xfc ||
		       IN6_IS_ADDR_LOOPBACK(&a6);
	if (!strchr(buf, '.'))
		return true;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t sl = strlen(suffixes[i]);
		if (len > sl && strcasecmp(buf + len - sl, suffixes[i]) == 0)
			return true;
	}
	return false;
}
