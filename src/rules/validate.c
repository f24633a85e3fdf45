/* validate.c — configuration file to validated model, in one place.
 *
 * Parse the file (config.c), load every certificate section once with its
 * chain and key (rules_load_certs, cert.c), and apply the plan rules
 * (rules_check) as of a given time.  The model that comes out is what `check`
 * reports and what `run` and a reload serve from: nothing is read twice.
 * Printing is not done here (report.c for check, server.c's log for run).
 */
#include "edge443/rules/validate.h"

#include <openssl/crypto.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALIDATE_ERRLEN (64 * 1024)

/* The trust store of every backend that verifies its servers, once; a
 * trust_file that cannot be used is a file-unreadable error.  0, or -1 out
 * of memory. */
static int validate_backend_trust(struct validated *v)
{
	const struct config *cfg = v->cfg;
	char why[512], subject[300];

	if (cfg->nbackends == 0)
		return 0;
	v->backend_trust = calloc(cfg->nbackends, sizeof(*v->backend_trust));
	if (!v->backend_trust)
		return -1;
	v->nbackend_trust = cfg->nbackends;
	for (size_t i = 0; i < cfg->nbackends; i++) {
		const struct config_backend *be = &cfg->backends[i];

		if (!be->tls || !be->verify || !be->trust_file)
			continue; /* backend-verify judges what is missing */
		/* Backends that name the same file share one store. */
		for (size_t k = 0; k < i && !v->backend_trust[i]; k++)
			if (v->backend_trust[k] &&
			    cfg->backends[k].trust_file &&
			    strcmp(cfg->backends[k].trust_file,
				   be->trust_file) == 0 &&
			    X509_STORE_up_ref(v->backend_trust[k]) == 1)
				v->backend_trust[i] = v->backend_trust[k];
		if (v->backend_trust[i])
			continue;
		v->backend_trust[i] =
			cert_trust_load(be->trust_file, why, sizeof(why));
		if (v->backend_trust[i])
			continue;
		snprintf(subject, sizeof(subject), "backend \"%s\"", be->name);
		if (findings_add(
			    &v->findings, FINDING_ERROR, "file-unreadable",
			    cfg->file,
			    be->trust_file_line > 0 ? be->trust_file_line
						    : be->line,
			    subject,
			    "trust_file: %s — name the PEM file of the CA "
			    "that issued the backend servers' certificates, "
			    "readable by the user edge443 starts as",
			    why) < 0)
			return -1;
	}
	return 0;
}

/* The keys of ticket_key_file, once; a file that cannot be used is a
 * file-unreadable error.  0, or -1 out of memory. */
static int validate_ticket_keys(struct validated *v)
{
	const struct config *cfg = v->cfg;
	char why[1024];

	if (!cfg->ticket_key_file ||
	    ticket_file_read(cfg->ticket_key_file, v->ticket_keys,
			     &v->nticket_keys, why, sizeof(why)) == 0)
		return 0;
	v->nticket_keys = 0;
	return findings_add(&v->findings, FINDING_ERROR, "file-unreadable",
			    cfg->file, cfg->ticket_key_file_line, NULL,
			    "ticket_key_file: %s — make one with: edge443 "
			    "tickets rotate %s",
			    why, cfg->ticket_key_file) < 0
		       ? -1
		       : 0;
}

struct validated *validate(const char *path, time_t as_of)
{
	struct validated *v = calloc(1, sizeof(*v));
	enum config_status st = CONFIG_OK;

	if (!v)
		return NULL;
	v->config_errors = calloc(1, VALIDATE_ERRLEN);
	if (!v->config_errors) {
		v->result = VALIDATE_NOMEM;
		return v;
	}
	v->cfg = config_load(path, &st, v->config_errors, VALIDATE_ERRLEN);
	if (!v->cfg) {
		v->result = st == CONFIG_ERR_READ ? VALIDATE_UNREADABLE
						  : VALIDATE_CONFIG;
		if (!v->config_errors[0])
			snprintf(v->config_errors, VALIDATE_ERRLEN,
				 "%s: cannot load the configuration\n", path);
		return v;
	}
	free(v->config_errors);
	v->config_errors = NULL;
	v->certs = rules_load_certs(v->cfg);
	if (!v->certs ||
	    rules_check(v->cfg, v->certs, as_of, &v->findings) < 0) {
		v->result = VALIDATE_NOMEM;
		return v;
	}
	/* The one rule that asks the machine, not the file: run drops to
	 * this user after binding, so a missing one is caught here. */
	if (v->cfg->user && v->cfg->user[0] && !getpwnam(v->cfg->user) &&
	    findings_add(&v->findings, FINDING_ERROR, "user-exists",
			 v->cfg->file, v->cfg->user_line, NULL,
			 "user = \"%s\": no such user on this machine — create "
			 "it (adduser --system --group %s) or name an existing "
			 "one; run would bind and then fail to drop privileges",
			 v->cfg->user, v->cfg->user) < 0) {
		v->result = VALIDATE_NOMEM;
		return v;
	}
	if (validate_backend_trust(v) < 0 || validate_ticket_keys(v) < 0) {
		v->result = VALIDATE_NOMEM;
		return v;
	}
	findings_sort(&v->findings, 0);
	v->result = v->findings.errors ? VALIDATE_PLAN_ERRORS : VALIDATE_OK;
	return v;
}

void validate_free(struct validated *v)
{
	if (!v)
		return;
	findings_free(&v->findings);
	for (size_t i = 0; i < v->nbackend_trust; i++)
		X509_STORE_free(v->backend_trust[i]);
	free(v->backend_trust);
	OPENSSL_cleanse(v->ticket_keys, sizeof(v->ticket_keys));
	rules_certs_free(v->certs);
	config_free(v->cfg);
	free(v->config_errors);
	free(v);
}

const struct cert_info *validate_cert(const struct config *cfg,
				      const struct rules_certs *certs,
				      const struct config_cert *cc)
{
	if (!cfg || !certs || !cc || cc < cfg->certs ||
	    cc >= cfg->certs + cfg->ncerts)
		return NULL;
	size_t i = (size_t)(cc - cfg->certs);
	return i < certs->n ? certs->certs[i] : NULL;
}
