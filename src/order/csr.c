/* csr.c — reading a certificate request, and the module's shared helpers.
 *
 * The `edge443 csr` side: decode a request however it was armoured — PEM,
 * Microsoft's "NEW CERTIFICATE REQUEST" label, bare base64, DER — with
 * OpenSSL's decoders only, verify its signature, report what it asks for,
 * and re-armour it as PEM.  It also holds the PEM helper the other csr files
 * use; error text comes from ossl_err.c.  Making keys, requests and the lab
 * CA is in csr_issue.c; writing files is in csr_write.c.  It decides nothing
 * about the plan and prints nothing.
 */
#include "edge443/order/csr_internal.h"
#include "edge443/base/ossl_err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define CSR_READ_MAX (1024 * 1024)

/* ---- keys ------------------------------------------------------------- */

/* "RSA-2048", "EC-prime256v1", ... */
static void csr_key_desc(EVP_PKEY *key, char *buf, size_t len)
{
	/* OpenSSL's group names are short ("prime256v1", "brainpoolP512t1");
	 * 48 bytes leave room for "EC-" in csr_info's key[64], which -Os
	 * (-Wformat-truncation) wants to see. */
	char curve[48] = "";
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

/* ---- PEM ------------------------------------------------------------- */

/* The contents of memory BIO B as a new NUL-terminated string. */
char *csr_bio_text(BIO *b)
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
		ossl_err_printf(err, errlen, "%s: cannot read the request: %s",
				path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
		ossl_err_printf(err, errlen,
				"%s: cannot read the request: it is a folder",
				path);
		goto fail;
	}
	buf = malloc(CSR_READ_MAX + 2);
	if (!buf) {
		ossl_err_printf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	n = fread(buf, 1, CSR_READ_MAX + 1, f);
	if (ferror(f)) {
		ossl_err_printf(err, errlen, "%s: cannot read the request: %s",
				path, strerror(errno));
		goto fail;
	}
	if (n > CSR_READ_MAX) {
		*st = CSR_ERR_INPUT;
		ossl_err_printf(
			err, errlen,
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
		ossl_err_printf(err, errlen, "%s: out of memory", path);
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
			ossl_err_printf(
				err, errlen,
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
		ossl_err_printf(err, errlen,
				"%s: empty — no certificate request in it",
				path);
		goto done;
	}
	if (n < 64) {
		ossl_err_printf(
			err, errlen,
			"%s: not a certificate request: %zu characters, far "
			"too short for one",
			path, n);
		goto done;
	}
	if (n % 4 != 0 || pad > 2) {
		ossl_err_printf(
			err, errlen,
			"%s: not a certificate request: the base64 has %zu "
			"characters, not a multiple of 4 (truncated when "
			"copied?)",
			path, n);
		goto done;
	}
	der = malloc(n / 4 * 3 + 1);
	if (!der) {
		ossl_err_printf(err, errlen, "%s: out of memory", path);
		goto done;
	}
	dlen = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)n);
	if (dlen < 0 || (size_t)dlen < pad) {
		ossl_err_drainf(
			err, errlen,
			"%s: not a certificate request: the base64 does "
			"not decode",
			path);
		goto done;
	}
	dlen -= (int)pad; /* EVP_DecodeBlock counts the padding as zeros */
	p = der;
	req = d2i_X509_REQ(NULL, &p, dlen);
	if (!req) {
		ossl_err_drainf(err, errlen,
				"%s: base64 without BEGIN/END lines, but not a "
				"certificate request (PKCS#10)",
				path);
	} else if (p != der + dlen) {
		ossl_err_printf(
			err, errlen,
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
		ossl_err_drainf(err, errlen, "%s", path);
		return NULL;
	}
	req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	if (req)
		goto done;
	ossl_err_drainf(err, errlen,
			"%s: has BEGIN/END lines but holds no readable "
			"certificate request",
			path);
	/* What is in there instead?  (A certificate, a key, ...) */
	BIO_free(b);
	b = BIO_new_mem_buf(text, (int)len);
	if (b && PEM_read_bio(b, &name, &header, &data, &dlen) == 1 && name &&
	    strcmp(name, PEM_STRING_X509_REQ) != 0 &&
	    strcmp(name, PEM_STRING_X509_REQ_OLD) != 0)
		ossl_err_printf(
			err, errlen,
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
		ossl_err_printf(err, errlen,
				"%s: empty — no certificate request in it",
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
		ossl_err_printf(err, errlen,
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
		ossl_err_printf(err, errlen, "%s: out of memory", path);
		*status = CSR_ERR_IO;
		goto done;
	}
	info->req = req;
	req = NULL;
	info->form = form;
	if (csr_facts(info) < 0) {
		ossl_err_printf(err, errlen, "%s: out of memory", path);
		*status = CSR_ERR_IO;
		csr_info_free(info);
		info = NULL;
		goto done;
	}
	if (info->sig_ok) {
		*status = CSR_OK;
	} else {
		*status = CSR_ERR_VERIFY;
		ossl_err_printf(
			err, errlen,
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
