/* acme.h — the ACME client (RFC 8555): account, order, authorizations,
 * challenges, finalize, download.
 *
 * acme.c talks to one CA, the acme { } section's, in the order RFC 8555
 * section 7 gives: the directory, a nonce, the account (newAccount, with
 * External Account Binding when configured; an existing account is found
 * again by its key), then per certificate newOrder, each authorization, its
 * challenge (answered by an acme_responder, acme_respond.h), finalize with
 * the caller's CSR, polling with bounded retries that honour Retry-After,
 * and the download of the PEM chain.  Nonces come from every answer;
 * badNonce is retried with the fresh nonce; a 429 or 503 with a short
 * Retry-After is waited out a bounded number of times.  The account key and
 * the EAB key are never put into a message.
 *
 * What to order (the names) comes from the caller, which takes them from
 * the plan (order.h), and so does the request (csr.h).  Nothing here writes
 * a certificate file or prints: the caller installs what comes back.  The
 * JSON documents are read by acme_parse.c (acme_parse.h).
 *
 * Ownership: struct acme_client is the caller's (acme_client_new / _free),
 * and borrows the struct config_acme it was made from, which must outlive
 * it.  Returned strings are the caller's to free().  One client per
 * thread; every call blocks (the caller is the order command, not a
 * worker).
 */
#ifndef EDGE443_ORDER_ACME_H
#define EDGE443_ORDER_ACME_H

#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "edge443/config/config.h"
#include "edge443/order/acme_parse.h"
#include "edge443/order/acme_respond.h"

/* Tries of one request after a 429/503 whose Retry-After is at most
 * ACME_POLL_MAX_WAIT, and after badNonce (each with the fresh nonce). */
#define ACME_POST_TRIES 5
#define ACME_BADNONCE_TRIES 10

struct acme_client;

/* A client for CFG's CA: loads (or creates, 0600) the account key and
 * creates state_dir (0700).  Contacts nothing yet.  NULL with the reason in
 * err. */
struct acme_client *acme_client_new(const struct config_acme *cfg, char *err,
				    size_t errlen);
void acme_client_free(struct acme_client *c);

/* The account key (for key authorizations); owned by the client. */
EVP_PKEY *acme_client_key(const struct acme_client *c);

/* Fetch the directory and find or create the account (newAccount with
 * termsOfServiceAgreed, the contacts and the EAB).  Its URL is kept in
 * state_dir/account.url.  0, or -1 with the reason in err. */
int acme_client_account(struct acme_client *c, char *err, size_t errlen);

/* Order one certificate for NAMES (dNSNames, the plan's): newOrder, every
 * authorization answered through RESP with the configured challenge
 * (acme_responder_add per name, then acme_responder_start; the responder is
 * stopped before finalize), finalize with CSR, download.  Returns the PEM
 * chain (leaf first), or NULL with the reason in err. */
char *acme_client_order(struct acme_client *c, const char *const *names,
			size_t nnames, X509_REQ *csr,
			struct acme_responder *resp, char *err, size_t errlen);

/* ACME Renewal Information (RFC 9773) for CERT, after acme_client_account:
 * 1 with the CA's suggested window in *START and *END and its Retry-After
 * (seconds; -1 when none: ask again in a day) in *RETRY_AFTER, 0 when the
 * CA offers no renewalInfo or CERT has no ARI identifier, -1 with the
 * reason in err. */
int acme_client_renewal_info(struct acme_client *c, const X509 *cert,
			     time_t *start, time_t *end, long *retry_after,
			     char *err, size_t errlen);

/* The next acme_client_order replaces CERT (NULL: none): its ARI certID goes
 * into newOrder's "replaces" when the CA offers renewalInfo (RFC 9773
 * section 5).  0, or -1 when CERT has no ARI identifier (nothing is sent). */
int acme_client_replaces(struct acme_client *c, const X509 *cert);

/* After a failed acme_client_order: the Retry-After (seconds) of a 429 or
 * 503 answer too long to wait out inside the call, for the caller's next
 * try; -1 when the CA sent none. */
long acme_client_retry_after(const struct acme_client *c);

#endif
