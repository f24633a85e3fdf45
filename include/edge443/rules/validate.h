/* validate.h — the one pipeline from a configuration file to a validated
 * model: the configuration, the certificates loaded from it, the findings.
 *
 * check, run and every SIGHUP reload call validate(); whatever serves
 * afterwards (runtime.c, tls.c) is built from the objects in the model and
 * never reads a certificate or key file again, so a file replaced after the
 * check is not served until a reload has validated it.
 *
 * Besides the certificate sections it loads what else serving needs from
 * a file: the trust store of every backend that verifies its servers, and
 * the session-ticket keys of ticket_key_file; a file that cannot be used is
 * a file-unreadable error, found by check.
 *
 * Ownership: a struct validated owns its configuration, its certificate set,
 * its trust stores, its ticket keys and its findings; validate_free releases
 * what is still in it.  A caller that keeps the configuration (runtime_new
 * takes it) sets v->cfg to NULL first.  Not thread-safe; call from the main
 * thread.
 */
#ifndef EDGE443_VALIDATE_H
#define EDGE443_VALIDATE_H

#include <openssl/x509.h>
#include <time.h>

#include "edge443/cert/ticket_file.h"
#include "edge443/config/config.h"
#include "edge443/rules/rules.h"

enum validate_result {
	VALIDATE_OK,	      /* no error (warnings allowed) */
	VALIDATE_PLAN_ERRORS, /* the plan rules found errors */
	VALIDATE_CONFIG,      /* syntax or value error in the file */
	VALIDATE_UNREADABLE,  /* the file is missing or unreadable */
	VALIDATE_NOMEM,
};

struct validated {
	enum validate_result result;
	struct config *cfg;	   /* NULL when it did not load */
	struct rules_certs *certs; /* parallel to cfg->certs: leaf, chain,
				    * key and facts, as judged */
	struct findings findings;  /* every finding of the plan rules */
	/* Parallel to cfg->backends: the trust store of each backend that
	 * verifies its servers (tls and verify with a trust_file), else NULL.
	 * NULL itself when the configuration has no backend. */
	X509_STORE **backend_trust;
	size_t nbackend_trust; /* = cfg->nbackends (cfg may go first) */
	/* The keys of ticket_key_file, oldest first (0: none configured). */
	struct ticket_key ticket_keys[TICKET_FILE_MAX_KEYS];
	size_t nticket_keys;
	char *config_errors; /* config_load's messages ("FILE:LINE: ...\n"
			      * each) when cfg is NULL, else NULL */
};

/* Load PATH, load and verify every certificate it names, and apply every
 * plan rule as of AS_OF.  Returns a new model (see RESULT), NULL only when
 * even that could not be allocated. */
struct validated *validate(const char *path, time_t as_of);
/* Free V and what it still owns.  Accepts NULL. */
void validate_free(struct validated *v);

/* The loaded objects of certificate section CC of V's configuration (NULL
 * when CC is not one of its sections). */
const struct cert_info *validate_cert(const struct config *cfg,
				      const struct rules_certs *certs,
				      const struct config_cert *cc);

#endif
