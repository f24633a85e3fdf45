/* runtime.h — what a validated configuration becomes when it serves.
 *
 * A runtime owns a configuration and everything built from it: one server
 * SSL_CTX per terminating service, the leaf certificate(s) of every service
 * that names one (passthrough included), one client SSL_CTX per
 * re-encrypting backend, and the backend pools.  It is reference counted: the
 * server holds one reference to the current runtime and every connection holds
 * one to the runtime it was accepted under, so a reload (SIGHUP) can install a
 * new runtime while existing connections finish on the old one.  runtime_ref
 * and runtime_unref may be called from any thread.
 */
#ifndef EDGE443_RUNTIME_H
#define EDGE443_RUNTIME_H

#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "edge443/serve/backend.h"
#include "edge443/config/config.h"
#include "edge443/rules/rules.h"
#include "edge443/serve/tls.h"

struct runtime_backend {
	struct backend_pool pool;
	SSL_CTX *client_ctx; /* NULL unless be->tls */
};

struct runtime_service {
	const struct config_service *svc; /* borrowed from runtime->cfg */
	SSL_CTX *ctx;			  /* NULL for passthrough */
	struct runtime_backend *backend;  /* NULL when none is configured */
	char **names; /* DNS SANs of the service's certificate(s): the Host
		       * names an http service accepts besides its FQDN */
	size_t nnames;
	/* Owned (freed with the runtime): one leaf per certificate section
	 * the service names (certificate, then the extra ones), in that
	 * order; for passthrough, the certificates installed on the backend.
	 * NULL when the service names none.  Read-only once built: workers
	 * may read it concurrently (runtime_service_covers). */
	STACK_OF(X509) * leaves;
};

struct runtime {
	atomic_int refs;
	struct config *cfg;		  /* owned */
	struct runtime_service *services; /* parallel to cfg->services */
	struct runtime_backend *backends; /* parallel to cfg->backends */
	time_t *cert_not_after;		  /* parallel to cfg->certs; 0 = unknown
					   * (for edge443_certificate_expiry_seconds) */
};

/* Certificates one listener serves at most (its own, an ECDSA twin, ...):
 * the configuration refuses more. */
#define RUNTIME_MAX_CERTS CONFIG_MAX_LISTENER_CERTS

/* Build the runtime for CFG (taking ownership of CFG on success and on
 * failure) from CERTS, the certificate set loaded and judged with it, and
 * TRUST, the trust stores of its backends, parallel to cfg->backends (may be
 * NULL when no backend verifies) (validate.h; both borrowed: the runtime
 * takes its own references on what it keeps, so the caller may free them
 * afterwards).  No file is read here.  TICKETS is shared by every server
 * context (may be NULL).  Returns a runtime with one reference, or NULL with
 * the reason in err. */
struct runtime *runtime_new(struct config *cfg, const struct rules_certs *certs,
			    X509_STORE *const *trust,
			    struct tls_tickets *tickets, char *err,
			    size_t errlen);

struct runtime *runtime_ref(struct runtime *rt);
/* Drop one reference; the last one frees everything.  Accepts NULL. */
void runtime_unref(struct runtime *rt);

/* The service listening on SA (exact address and port, or a wildcard address
 * of the same family on the same port), or NULL. */
const struct runtime_service *runtime_service_for(const struct runtime *rt,
						  const struct sockaddr *sa);

/* True when NAME (an SNI, a Host name) is one of the service's names: its
 * fqdn (ASCII case-insensitive) or a name one of its certificates covers
 * (rs->leaves, X509_check_host: DNS SANs only, no partial wildcards; see
 * tls_name_covered).  A service without a certificate (a passthrough service
 * may have none) has only its fqdn.  NULL or "" NAME: false.  Any thread, any
 * callback; no allocation. */
bool runtime_service_covers(const struct runtime_service *rs, const char *name);

/* The http service whose redirect_http listener is SA, or NULL. */
const struct runtime_service *runtime_redirect_for(const struct runtime *rt,
						   const struct sockaddr *sa);

#endif
