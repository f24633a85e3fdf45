/* server_plan.c — the validated model `run` serves, and its runtime.
 *
 * For start-up and for every reload: validate the configuration exactly as
 * `check` does (validate.c), report every finding (stderr at start-up, the
 * log on a reload) and refuse a plan with errors, then build the runtime
 * (SSL contexts, backend pools) from the validated model.  It binds,
 * forks and signals nothing: that is server.c's.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "edge443/base/log.h"
#include "edge443/rules/rules.h"
#include "edge443/rules/validate.h"
#include "edge443/serve/server_internal.h"

/* Validate PATH as `check` does (validate.c) and report: every finding to
 * OUT (start-up: stderr) or, when OUT is NULL, to the log (reload), in the
 * one format of a finding (finding_format).  Returns the model when it may
 * serve (no error; the caller owns it), else NULL with *code set. */
struct validated *server_validate(const char *path, FILE *out,
				  enum server_result *code)
{
	struct validated *v = validate(path, time(NULL));
	char line[2048];

	if (!v || v->result == VALIDATE_NOMEM) {
		*code = SERVER_RUNTIME_ERROR;
		validate_free(v);
		return NULL;
	}
	if (!v->cfg) {
		for (char *l = strtok(v->config_errors, "\n"); l;
		     l = strtok(NULL, "\n")) {
			if (out)
				fprintf(out, "error config %s\n", l);
			else
				log_error("reload: error config %s", l);
		}
		*code = v->result == VALIDATE_UNREADABLE ? SERVER_RUNTIME_ERROR
							 : SERVER_CONFIG_ERROR;
		validate_free(v);
		return NULL;
	}
	for (size_t i = 0; i < v->findings.n; i++) {
		const struct finding *f = &v->findings.items[i];
		if (out) {
			finding_print(out, f);
			continue;
		}
		finding_format(f, line, sizeof(line));
		log_msg(f->severity == FINDING_ERROR ? LOG_LEVEL_ERROR
						     : LOG_LEVEL_WARN,
			"reload: %s", line);
	}
	if (v->result == VALIDATE_PLAN_ERRORS) {
		if (out)
			fprintf(out,
				"%s: %zu error%s in the certificate plan — "
				"nothing was bound\n",
				path, v->findings.errors,
				v->findings.errors == 1 ? "" : "s");
		*code = SERVER_PLAN_ERRORS;
		validate_free(v);
		return NULL;
	}
	return v;
}

/* The runtime for a validated model V: it takes V's configuration and is
 * built from V's loaded certificates; V is freed either way. */
struct runtime *server_runtime(struct validated *v, struct tls_tickets *tickets,
			       char *err, size_t errlen)
{
	struct config *cfg = v->cfg;
	struct runtime *rt;

	v->cfg = NULL;
	rt = runtime_new(cfg, v->certs, v->backend_trust, tickets, err, errlen);
	validate_free(v);
	return rt;
}
