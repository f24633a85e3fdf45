/* csr.h — private keys, certificate requests and the throw-away lab CA.
 *
 * The csr module (csr.c reads requests, csr_issue.c makes keys, requests and
 * the lab CA, csr_write.c writes files) is the OpenSSL side of
 * `edge443 plan --out/--lab` and `edge443 csr`:
 * it makes keys and PKCS#10 requests for the certificates that order.c
 * planned, creates a lab root, intermediate and internal root and issues the
 * planned certificates from them, writes the files (keys mode 0600, never
 * overwriting a key unless told to), and reads a request in whatever armour
 * it arrives in (PEM, Microsoft's "NEW CERTIFICATE REQUEST", bare base64,
 * DER), verifies it and re-armours it.  All decoding is OpenSSL's; nothing
 * here parses ASN.1 by hand.  Nothing here prints: results and reasons go
 * back to the caller.
 */
#ifndef EDGE443_CSR_H
#define EDGE443_CSR_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "edge443/config/config.h"
#include "edge443/order/order.h"

/* Outcome of a csr operation (the command line chooses the exit status). */
enum csr_status {
	CSR_OK,
	CSR_ERR_VERIFY, /* a request's signature does not verify */
	CSR_ERR_INPUT,	/* unparseable input, a bad name, or a key file that
			   exists without --force */
	CSR_ERR_IO,	/* a file or folder cannot be read or written, or
			   OpenSSL failed */
};

enum csr_key_kind {
	CSR_KEY_RSA2048, /* "rsa:2048" (the default) */
	CSR_KEY_RSA3072, /* "rsa:3072" */
	CSR_KEY_EC_P256, /* "ec:p256" */
};

/* "rsa:2048" | "rsa:3072" | "ec:p256" (case-insensitive).  0 / -1. */
int csr_key_kind_parse(const char *s, enum csr_key_kind *kind);
const char *csr_key_kind_name(enum csr_key_kind kind);

/* A new private key of KIND, or NULL with the OpenSSL reason in err. */
EVP_PKEY *csr_key_new(enum csr_key_kind kind, char *err, size_t errlen);

/* A signed (SHA-256) request for planned certificate OC with KEY: subject
 * CN = oc->cn, requested extensions subjectAltName (oc->sans in order),
 * extendedKeyUsage serverAuth (+clientAuth) and keyUsage.  Caller frees with
 * X509_REQ_free; NULL with the reason in err. */
X509_REQ *csr_req_new(const struct order_cert *oc, EVP_PKEY *key, char *err,
		      size_t errlen);

/* Write the files of PLAN:
 *   OUT_DIR (may be NULL): NAME.key (0600) and NAME.csr per certificate;
 *   LAB_DIR (may be NULL): NAME.key, NAME.csr and NAME.crt per certificate,
 *     issued from a new throw-away CA: root.pem (lab root), chain.pem (lab
 *     intermediate), internal-root.pem (lab internal root, issuer of the
 *     internal certificates), and edge443.conf.snippet with the certificate
 *     sections (absolute paths) for CFG's services.  The CA keys are not
 *     kept.
 * Folders are created (mode 0700) when missing.  Before anything is written
 * every NAME.key is looked for: when one exists and FORCE is false nothing is
 * written and CSR_ERR_INPUT is returned, the file named in err.  Each key is
 * made once and used for both folders.  NOW is the issue time of the lab
 * certificates (0 = time(NULL)). */
enum csr_status csr_write_plan(const struct config *cfg,
			       const struct order_plan *plan,
			       const char *out_dir, const char *lab_dir,
			       enum csr_key_kind kind, bool force, time_t now,
			       char *err, size_t errlen);

/* How a request file was armoured. */
enum csr_form {
	CSR_FORM_PEM,	 /* -----BEGIN CERTIFICATE REQUEST----- */
	CSR_FORM_PEM_MS, /* -----BEGIN NEW CERTIFICATE REQUEST----- (certreq) */
	CSR_FORM_BARE,	 /* base64 without BEGIN/END lines */
	CSR_FORM_DER,	 /* binary DER */
};

/* What `edge443 csr` reports about a request.  Owns everything. */
struct csr_info {
	X509_REQ *req;
	enum csr_form form;
	char subject[512]; /* RFC 2253 one-line subject, "" when empty */
	char *cn;	   /* first CN, NULL when none */
	char **sans;	   /* dNSName SANs requested, in order */
	size_t nsans;
	char key[64];	  /* "RSA-2048", "EC-prime256v1", ... */
	bool has_eku;	  /* an extendedKeyUsage is requested */
	char eku[256];	  /* "serverAuth, clientAuth" */
	char sig_alg[64]; /* "sha256WithRSAEncryption", ... */
	bool sig_ok;	  /* X509_REQ_verify with the request's own key */
};

/* Read and decode the request in PATH.  Returns a new info (csr_info_free)
 * with *status CSR_OK, or CSR_ERR_VERIFY when it decodes but its signature
 * does not verify (info still returned, sig_ok false).  Returns NULL with
 * *status CSR_ERR_IO (cannot read the file) or CSR_ERR_INPUT (not a
 * certificate request) and a message naming PATH in err. */
struct csr_info *csr_read(const char *path, enum csr_status *status, char *err,
			  size_t errlen);

void csr_info_free(struct csr_info *info);

const char *csr_form_name(enum csr_form form);

/* REQ as PEM (-----BEGIN CERTIFICATE REQUEST-----, 64-column base64).
 * Returns a NUL-terminated string the caller frees, or NULL. */
char *csr_req_pem(X509_REQ *req);

/* Write TEXT to PATH (replacing it) with MODE.  0, or -1 with the reason. */
int csr_write_text(const char *path, const char *text, int mode, char *err,
		   size_t errlen);

#endif
