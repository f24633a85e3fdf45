/* acme_ari.h — ACME Renewal Information (RFC 9773): when the CA would have
 * a certificate renewed.
 *
 * acme_ari.c computes a certificate's ARI identifier (the base64url of its
 * Authority Key Identifier's keyIdentifier, a dot, the base64url of its
 * serial number's DER content octets), reads the renewalInfo document's
 * suggestedWindow, and picks the moment to renew inside it.  The GET itself
 * is acme.c's (acme_client_renewal_info).  Pure functions: any thread, no
 * I/O.  Strings returned are the caller's to free().
 */
#ifndef EDGE443_ORDER_ACME_ARI_H
#define EDGE443_ORDER_ACME_ARI_H

#include <openssl/x509.h>
#include <stddef.h>
#include <time.h>

/* The ARI certID of CERT (RFC 9773 section 4.1), or NULL when CERT has no
 * Authority Key Identifier with a keyIdentifier (no ARI for it). */
char *acme_ari_cert_id(const X509 *cert);

/* Parse a renewalInfo document: its suggestedWindow's start and end
 * (RFC 3339 times, UTC or with an offset; fractions of a second ignored).
 * 0, or -1 with the reason in err (not JSON, no window, end not after
 * start). */
int acme_ari_parse(const char *text, time_t *start, time_t *end, char *err,
		   size_t errlen);

/* When to renew inside the window [START, END) as of NOW, with RND a
 * uniform random number (RFC 9773 section 4.2: a uniformly random point of
 * the window, so that clients spread out; one already past means at once):
 * START + RND % (END - START), or NOW when that is earlier. */
time_t acme_ari_pick(time_t start, time_t end, time_t now, unsigned long rnd);

#endif
