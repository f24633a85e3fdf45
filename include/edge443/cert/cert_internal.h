/* cert_internal.h — shared between the files of the cert module only.
 *
 * Not part of the cert API: other modules include cert.h.  cert_file.c reads
 * files into a `struct cert_info` and records load problems; cert_x509.c
 * reads single X509 objects (a name or a time as text, the revocation and
 * issuer pointers, the issuer path); cert.c computes the facts from what was
 * read, with both.  Neither of those two calls back into cert.c.
 */
#ifndef EDGE443_CERT_INTERNAL_H
#define EDGE443_CERT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "edge443/cert/cert.h"

/* Record a problem with PATH in ci->errors; the first problem per file wins
 * and problems beyond the size of ci->errors are dropped. */
void cert_add_error(struct cert_info *ci, enum cert_file_status st,
		    const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Read every CERTIFICATE block of PATH.  The first one goes to *LEAF when
 * LEAF is not NULL; all others (all of them when LEAF is NULL) are appended
 * to ci->chain.  Problems are recorded in ci->errors. */
void cert_load_certs(struct cert_info *ci, const char *path, X509 **leaf);

/* Read the private key in PATH into ci->key and its mode into ci->key_mode.
 * Problems go to ci->errors. */
void cert_load_key(struct cert_info *ci, const char *path);

/* One-line RFC 2253 name into BUF (UTF-8 kept readable, controls escaped);
 * "" when it cannot be printed. */
void cert_name_line(const X509_NAME *name, char *buf, size_t len);

/* An ASN.1 time as seconds since the epoch (UTC); 0 when unreadable. */
time_t cert_asn1_time(const ASN1_TIME *t);

/* True when X is self-issued and its signature verifies with its own key. */
bool cert_is_self_signed(X509 *x);

/* Fill ci->has_crl_dp, crl_dp_uri, has_aia_*, aia_* from the leaf's
 * cRLDistributionPoints and authorityInfoAccess extensions. */
void cert_facts_revocation(struct cert_info *ci);

/* Fill ci->intermediates: the certificates of ci->chain on the leaf's issuer
 * walk (see cert.h), with their subject and notAfter. */
void cert_facts_intermediates(struct cert_info *ci);

/* Free what cert_facts_revocation and cert_facts_intermediates allocated. */
void cert_facts_x509_free(struct cert_info *ci);

#endif
