/* validate.c — configuration file to validated model, in one place.
 *
 * Parse the file (config.c), load every certificate section once with its
 * chain and key (rules_load_certs, cert.c), and apply the plan rules
 * (rules_check) as of a given time.  The model that comes out is what `check`
 * reports and what `run` and a reload serve from: nothing is read twice.
 * Printing is not done here (report.c for check, server.c's log for run).
 */
#include "edge443/rules/validate.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALIDATE_ERRLEN (64 * 1024)

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
	v->result = v->findings.errors ? VALIDATE_PLAN_ERRORS : VALIDATE_OK;
	return v;
}

void validate_free(struct validated *v)
{
	if (!v)
		return;
	findings_free(&v->findings);
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
