/* csr_issue.c — keys, certificate requests and the throw-away lab CA.
 *
 * Makes the OpenSSL objects for order.c's planned certificates: a private
 * key of the chosen kind, a signed PKCS#10 request (CN, SANs, EKU, key
 * usage), and for a lab a new root + intermediate (public) and a separate
 * internal root that issue every planned certificate, each issued
 * certificate with a CRL distribution point and an Authority Information
 * Access (caIssuers, OCSP) at the lab's fixed URLs (csr_internal.h).  It writes
 * no file (csr_write.c does), reads no request (csr.c does) and prints nothing.
 */
#include "edge443/order/csr_internal.h"
#include "edge443/base/ossl_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

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
		ossl_err_drainf(err, errlen, "cannot make a %s key",
				csr_key_kind_name(kind));
	return key;
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
		ossl_err_printf(err, errlen,
				"no certificate or key to request");
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
	ossl_err_drainf(err, errlen,
			"cannot make the request for \"%s\" (CN %s)",
			oc->name ? oc->name : "?", oc->cn);
	X509_EXTENSION_free(ext);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(name);
	X509_REQ_free(req);
	return NULL;
}

/* ---- the lab CA ------------------------------------------------------- */

void csr_lab_clear(struct csr_lab *lab)
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

/* The CRL distribution point and the Authority Information Access of a
 * certificate that lab CA CA (CSR_LAB_CA_*) issues.  0 / -1. */
static int csr_add_ca_urls(X509 *x, X509V3_CTX *ctx, const char *ca)
{
	char crl[128], aia[256];

	if (snprintf(crl, sizeof(crl), "URI:%s%s.crl", CSR_LAB_PKI_URL, ca) >=
		    (int)sizeof(crl) ||
	    snprintf(aia, sizeof(aia), "caIssuers;URI:%s%s.crt,OCSP;URI:%s%s",
		     CSR_LAB_PKI_URL, ca, CSR_LAB_OCSP_URL,
		     ca) >= (int)sizeof(aia))
		return -1;
	if (csr_add_ext(x, ctx, NID_crl_distribution_points, crl) < 0 ||
	    csr_add_ext(x, ctx, NID_info_access, aia) < 0)
		return -1;
	return 0;
}

/* Make and sign one certificate.  SUBJECT/PUBKEY describe the new
 * certificate; ISSUER/IKEY sign it (ISSUER NULL: self-signed with IKEY).
 * Leaves get OC's SANs and EKU; a certificate that CA issues (CA not NULL)
 * gets that CA's CRL distribution point and AIA.  Valid from NOW - 1 day for
 * DAYS days. */
X509 *csr_cert_new(enum csr_cert_kind kind, const X509_NAME *subject,
		   EVP_PKEY *pubkey, X509 *issuer, EVP_PKEY *ikey,
		   const char *ca, const struct order_cert *oc, time_t now,
		   long days)
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
	if (ca && csr_add_ca_urls(x, &ctx, ca) < 0)
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
int csr_lab_new(struct csr_lab *lab, time_t now, char *err, size_t errlen)
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
				 lab->root_key, NULL, NULL, now, CSR_CA_DAYS);
	if (!lab->root)
		goto done;
	lab->inter = csr_cert_new(CSR_CERT_INTERMEDIATE, int_name, lab->int_key,
				  lab->root, lab->root_key, CSR_LAB_CA_ROOT,
				  NULL, now, CSR_CA_DAYS);
	lab->iroot =
		csr_cert_new(CSR_CERT_ROOT, iroot_name, lab->iroot_key, NULL,
			     lab->iroot_key, NULL, NULL, now, CSR_CA_DAYS);
	if (!lab->inter || !lab->iroot)
		goto done;
	rc = 0;
done:
	if (rc < 0) {
		ossl_err_drainf(err, errlen, "cannot make the lab CA");
		csr_lab_clear(lab);
	}
	X509_NAME_free(root_name);
	X509_NAME_free(int_name);
	X509_NAME_free(iroot_name);
	return rc;
}
