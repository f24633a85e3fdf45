/* cert.h — load and inspect certificates, chains and keys.
 *
 * cert.c reads PEM files with OpenSSL and turns them into a `struct cert_info`
 * of plain facts (names, key, EKU, validity, revocation pointers, the
 * intermediates and their validity, ...) that the rules in rules.c
 * judge.  It also verifies chains against a trust file and says whether a key
 * belongs to a certificate.  It never decides whether a fact is an error:
 * that is rules.c's job.  Nothing here prints.
 */
#ifndef EDGE443_CERT_H
#define EDGE443_CERT_H

#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* What went wrong reading one file; CERT_FILE_OK when it was read. */
enum cert_file_status {
	CERT_FILE_OK = 0,
	CERT_FILE_MISSING,     /* does not exist */
	CERT_FILE_UNREADABLE,  /* permission denied, a directory, I/O error */
	CERT_FILE_NO_PEM,      /* readable, but holds no PEM object of the kind
				  expected */
	CERT_FILE_BARE_BASE64, /* base64 without BEGIN/END armour: `hint` says
				  which lines to add */
	CERT_FILE_BAD_PEM,     /* armour present, contents do not decode */
};

struct cert_file_error {
	enum cert_file_status status;
	char *path;   /* which file */
	char *detail; /* human text: "No such file or directory", the lines to
			 add, the OpenSSL reason */
};

enum cert_key_type {
	CERT_KEY_NONE = 0,
	CERT_KEY_RSA,
	CERT_KEY_EC,
	CERT_KEY_ED25519,
	CERT_KEY_OTHER,
};

/* EKU bits (cert_info.eku). */
#define CERT_EKU_SERVER 0x1u
#define CERT_EKU_CLIENT 0x2u
#define CERT_EKU_ANY 0x4u

/* Key usage bits (cert_info.ku). */
#define CERT_KU_DIGITAL_SIGNATURE 0x1u
#define CERT_KU_KEY_ENCIPHERMENT 0x2u

/* Chain verification outcome. */
enum cert_chain_status {
	CERT_CHAIN_UNCHECKED = 0,
	CERT_CHAIN_OK,
	CERT_CHAIN_INCOMPLETE, /* does not build to the trust file */
};

/* A chain certificate on the leaf's issuer path (cert_info.intermediates). */
struct cert_intermediate {
	char subject[256]; /* one-line subject, RFC 2253 */
	time_t not_after;
};

struct cert_info {
	/* Owned OpenSSL objects (NULL when the file could not be read). */
	X509 *leaf;
	STACK_OF(X509) *
		chain; /* intermediates from `cert` after the leaf and from
			  `chain`, in file order; never NULL once loaded */
	EVP_PKEY *key; /* NULL when no key file was named or it failed */

	/* Load problems, one per file that failed (cert, chain, key). */
	struct cert_file_error errors[3];
	size_t nerrors;

	/* Facts about the leaf (valid only when leaf != NULL). */
	char *cn;    /* first subject CN, NULL when there is none */
	char **sans; /* dNSName SANs in certificate order */
	size_t nsans;
	bool has_san_ext; /* a subjectAltName extension is present */
	bool has_eku;	  /* an extendedKeyUsage extension is present */
	unsigned eku;	  /* CERT_EKU_* */
	bool has_ku;	  /* a keyUsage extension is present */
	unsigned ku;	  /* CERT_KU_* */
	enum cert_key_type key_type;
	int key_bits;	    /* RSA modulus bits / EC field bits */
	char key_curve[32]; /* EC group short name ("prime256v1", ...) or "" */
	char sig_alg[64];   /* leaf signature algorithm, e.g.
			       "sha256WithRSAEncryption" */
	bool sig_weak; /* MD5 or SHA-1 signature on the leaf or any intermediate
			*/
	char sig_weak_subject[256]; /* which certificate carries the weak
				       signature */
	time_t not_before, not_after;
	char fingerprint[96]; /* SHA-256, "AA:BB:..." */
	char subject[256];    /* one-line subject, RFC 2253 */
	char issuer[256];
	bool self_signed; /* issuer == subject and the signature verifies with
			     its own key */

	/* Where clients find revocation and the issuer (leaf extensions). */
	bool has_crl_dp;  /* a cRLDistributionPoints extension that lists at
			     least one distribution point */
	char *crl_dp_uri; /* its first URI; NULL when it names none */
	bool has_aia_ca_issuers, has_aia_ocsp; /* Authority Information Access
						  holds caIssuers / OCSP */
	char *aia_ca_issuers; /* first caIssuers URI, NULL when none */
	char *aia_ocsp;	      /* first OCSP URI, NULL when none */

	/* The certificates of `chain` on the leaf's issuer path (each one
	 * issued the one before, as X509_check_issued says), leaf side first,
	 * self-signed roots left out: the intermediates a client is given.
	 * NULL when there are none. */
	struct cert_intermediate *intermediates;
	size_t nintermediates;

	/* Key facts (valid when key != NULL). */
	bool key_matches; /* X509_check_private_key(leaf, key) */
	mode_t key_mode;  /* st_mode & 0777 of the key file */

	/* Chain facts (after cert_verify_chain). */
	enum cert_chain_status chain_status;
	char chain_detail[256]; /* X509_verify_cert_error_string and at which
				   depth */
	bool chain_has_root; /* the chain file holds a self-signed certificate
			      */
	size_t chain_extra; /* intermediates that are not on the leaf's verified
			       path */
};

/* The SHA-256 fingerprint of X as "AA:BB:..." (95 characters) into BUF (96
 * bytes hold it), "" when X is NULL.  Returns BUF. */
const char *cert_fingerprint(const X509 *x, char *buf, size_t len);

/* Load CERT_PATH (leaf first, may carry intermediates), CHAIN_PATH and KEY_PATH
 * (either may be NULL) and fill in every fact.  Always returns a new object
 * (NULL only on allocation failure); problems are recorded in ->errors. */
struct cert_info *cert_load(const char *cert_path, const char *chain_path,
			    const char *key_path);

/* Build a cert_info from certificates already in memory (probe: the chain as
 * served).  Takes its own references; LEAF must not be NULL. */
struct cert_info *cert_from_x509(X509 *leaf, STACK_OF(X509) * chain);

void cert_free(struct cert_info *ci);

/* Verify the leaf to the roots in TRUST_FILE (PEM bundle) using only the
 * intermediates in ci->chain, as of time AT (0 = now, but validity errors are
 * ignored here: expiry has rules of its own).  Fills chain_status,
 * chain_detail, chain_has_root and chain_extra.  Returns 0 when verification
 * ran (whatever its result), -1 when the trust file could not be read (reason
 * in err). */
int cert_verify_chain(struct cert_info *ci, const char *trust_file, char *err,
		      size_t errlen);

/* True when a DNS SAN of the leaf matches NAME by X509_check_host with
 * NEVER_CHECK_SUBJECT | NO_PARTIAL_WILDCARDS. */
bool cert_covers(const struct cert_info *ci, const char *name);

/* True when NAME is one a public CA may not certify: a single label, an
 * internal suffix (.local, .corp, .lan, .internal, ...), or a private or
 * loopback IP literal.  Used by the internal-name rule and by plan. */
bool cert_name_is_internal(const char *name);

/* True when NAME contains a '*' label. */
bool cert_name_is_wildcard(const char *name);

/* Human text for a file status ("missing", "unreadable", ...). */
const char *cert_file_status_name(enum cert_file_status st);

/* Key type as text: "RSA-2048", "EC-P-256", ... into buf. */
const char *cert_key_desc(const struct cert_info *ci, char *buf, size_t len);

#endif
