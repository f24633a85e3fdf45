/* csr_internal.h — what csr.c, csr_issue.c and csr_write.c share.
 *
 * Private to the csr module: nothing outside src/order/csr*.c includes it.  The
 * public API stays in edge443/csr.h.
 */
#ifndef EDGE443_CSR_INTERNAL_H
#define EDGE443_CSR_INTERNAL_H

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <time.h>

#include "edge443/order/csr.h"
#include "edge443/order/order.h"

#define CSR_DAY 86400L
#define CSR_LEAF_DAYS 90 /* lab leaves: from now - 1 day, 90 days */
#define CSR_CA_DAYS 3650 /* lab CAs */

/* Where the lab CAs "publish" (RFC 5280 §4.2.1.13 / §4.2.2.1): every
 * certificate a lab CA issues names CSR_LAB_PKI_URL + CA + ".crl" as its
 * CRL distribution point, and in its Authority Information Access
 * CSR_LAB_PKI_URL + CA + ".crt" (caIssuers) and CSR_LAB_OCSP_URL + CA
 * (OCSP), so that the lab passes crl-dp-present and aia-present.  The
 * .invalid names (RFC 6761) never resolve: nothing fetches them.  CA is
 * one of the names below; roots carry neither extension. */
#define CSR_LAB_PKI_URL "http://pki.lab.invalid/"
#define CSR_LAB_OCSP_URL "http://ocsp.lab.invalid/"
#define CSR_LAB_CA_ROOT "lab-root"	     /* issues the intermediate */
#define CSR_LAB_CA_INT "lab-int"	     /* issues the public leaves */
#define CSR_LAB_CA_IROOT "lab-internal-root" /* issues internal leaves */

/* ---- csr.c: PEM helpers ------------------------------------------------- */

/* The contents of memory BIO B as a new NUL-terminated string, or NULL. */
char *csr_bio_text(BIO *b);

/* ---- csr_issue.c: the throw-away lab CA -------------------------------- */

enum csr_cert_kind {
	CSR_CERT_ROOT,
	CSR_CERT_INTERMEDIATE,
	CSR_CERT_LEAF,
};

struct csr_lab {
	EVP_PKEY *root_key, *int_key, *iroot_key;
	X509 *root, *inter, *iroot;
};

/* Free what LAB holds and zero it (a zeroed LAB is fine). */
void csr_lab_clear(struct csr_lab *lab);

/* The lab root, its intermediate and the separate internal root: 0, or -1
 * with the reason in err (LAB cleared). */
int csr_lab_new(struct csr_lab *lab, time_t now, char *err, size_t errlen);

/* Make and sign one certificate (see csr_issue.c); CA names the issuer in
 * the CRL and AIA URLs (CSR_LAB_CA_*; NULL for a self-signed root: none).
 * NULL on failure. */
X509 *csr_cert_new(enum csr_cert_kind kind, const X509_NAME *subject,
		   EVP_PKEY *pubkey, X509 *issuer, EVP_PKEY *ikey,
		   const char *ca, const struct order_cert *oc, time_t now,
		   long days);

#endif
