/* acme_order.c — `edge443 order`: order, check and install the ACME
 * certificates of the plan.
 *
 * For every certificate section with acme = true (or the one named): its
 * names are the plan's (order_plan_new), so the order matches the plan by
 * construction; the addresses the challenge is answered on are those of the
 * services that use it (listen for tls-alpn-01, redirect_http for http-01),
 * bound before the CA is asked.  A new key of --key's kind and a request
 * (csr_req_new) go to the CA (acme.c).  What comes back is written next to
 * the old files as NAME.new (write, fsync, rename), judged with every plan
 * rule as if it were installed, as of now and as of renew_before from now,
 * and only then renamed over the old files;
 * an error about the certificate or a service on it refuses it and the old
 * files stay.  --dry-run prints the same plan of work and contacts nothing.
 * The ACME protocol is acme.c's, the rules are rules.c's, the work on one
 * certificate (order, write, judge, install) acme_issue.c's, shared with
 * the renewal in `run`: this file only sequences and reports.
 */
#include "edge443/cli/acme_order.h"
#include "edge443/cli/acme_issue.h"
#include "edge443/config/config.h"
#include "edge443/order/acme.h"
#include "edge443/order/acme_jws.h"
#include "edge443/order/acme_respond.h"
#include "edge443/order/csr.h"
#include "edge443/order/order.h"
#include "edge443/rules/rules.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#define ACME_ORDER_ERRLEN 4096

/* Which addresses answer the challenge for OC, printed or bound. */
static int acme_order_addrs(const struct config *cfg,
			    const struct order_cert *oc, FILE *out,
			    struct acme_responder *rsp, FILE *errout)
{
	char err[ACME_ORDER_ERRLEN];
	bool http01 = cfg->acme.challenge == CONFIG_ACME_HTTP_01;

	for (size_t i = 0; i < oc->nservices; i++) {
		const struct config_service *s =
			&cfg->services[oc->services[i]];

		if (http01 && !s->http.redirect_http.text) {
			fprintf(errout,
				"error config %s:%d: service \"%s\" has no "
				"redirect_http, where http-01 is answered — "
				"add http { redirect_http = \"IP:80\" } to it, "
				"or set challenge = \"tls-alpn-01\"\n",
				cfg->file, s->line, s->name);
			return 2;
		}
		for (size_t k = 0; k < (http01 ? 1 : s->nlisten); k++) {
			const struct config_addr *a =
				http01 ? &s->http.redirect_http : &s->listen[k];

			if (out)
				fprintf(out, "  answered on %s (service %s)\n",
					a->text, s->name);
			if (rsp && acme_responder_listen(rsp, a, err,
							 sizeof(err)) != 0) {
				fprintf(errout, "edge443 order: %s\n", err);
				return 3;
			}
		}
	}
	return 0;
}

/* --dry-run: what would be ordered; the exit status of it alone. */
static int acme_order_print_plan(FILE *out, FILE *errout,
				 const struct config *cfg,
				 const struct config_cert *cc,
				 const struct order_cert *oc,
				 enum csr_key_kind kind)
{
	int code;

	fprintf(out, "certificate %s: ", cc->name);
	for (size_t i = 0; i < oc->nsans; i++)
		fprintf(out, "%s%s", i ? ", " : "", oc->sans[i]);
	fprintf(out, "\n  from %s, challenge %s, key %s\n", cfg->acme.directory,
		config_acme_challenge_name(cfg->acme.challenge),
		csr_key_kind_name(kind));
	code = acme_order_addrs(cfg, oc, out, NULL, errout);
	fprintf(out, "  writes key %s (0600), cert %s%s%s\n", cc->key, cc->cert,
		cc->chain ? ", chain " : "", cc->chain ? cc->chain : "");
	return code;
}

/* Order one certificate; the exit status of it alone. */
static int acme_order_one(struct acme_client *client, struct config *cfg,
			  struct config_cert *cc, const struct order_cert *oc,
			  enum csr_key_kind kind, FILE *out, FILE *errout)
{
	char err[ACME_ORDER_ERRLEN];
	struct acme_responder *rsp;
	int code;

	rsp = acme_responder_new(cfg->acme.challenge, err, sizeof(err));
	if (!rsp) {
		fprintf(errout, "edge443 order: %s\n", err);
		return 3;
	}
	code = acme_order_addrs(cfg, oc, NULL, rsp, errout);
	if (code == 0) {
		switch (acme_issue_one(client, cfg, cc, oc, kind, rsp,
				       "edge443 order", out, errout)) {
		case ACME_ISSUE_OK:
			code = 0;
			break;
		case ACME_ISSUE_REFUSED:
			code = 1;
			break;
		default:
			code = 3;
		}
	}
	acme_responder_free(rsp);
	return code;
}

int acme_order_run(struct config *cfg, const struct acme_order_opts *opts,
		   FILE *out, FILE *errout)
{
	char err[ACME_ORDER_ERRLEN];
	struct order_plan *plan = NULL;
	struct acme_client *client = NULL;
	size_t nwanted = 0;
	int code = 3;

	plan = order_plan_new(cfg, err, sizeof(err));
	if (!plan) {
		fprintf(errout, "error plan %s\n", err);
		code = 1;
		goto done;
	}
	for (size_t i = 0; i < cfg->ncerts; i++) {
		const struct config_cert *cc = &cfg->certs[i];

		if (opts->certificate && strcmp(cc->name, opts->certificate))
			continue;
		if (opts->certificate && !cc->acme) {
			fprintf(errout,
				"edge443 order: certificate \"%s\" does not "
				"say acme = true (%s:%d) — add it to the "
				"section to order it\n",
				cc->name, cfg->file, cc->line);
			code = 2;
			goto done;
		}
		if (cc->acme)
			nwanted++;
	}
	if (nwanted == 0) {
		if (opts->certificate)
			fprintf(errout,
				"edge443 order: no certificate section \"%s\" "
				"in %s\n",
				opts->certificate, cfg->file);
		else
			fprintf(errout,
				"edge443 order: no certificate in %s says "
				"acme = true — add it to the certificate "
				"sections to order\n",
				cfg->file);
		code = 2;
		goto done;
	}
	code = 0;
	for (size_t i = 0; i < cfg->ncerts; i++) {
		struct config_cert *cc = &cfg->certs[i];
		const struct order_cert *oc = NULL;
		int rc;

		if (!cc->acme ||
		    (opts->certificate && strcmp(cc->name, opts->certificate)))
			continue;
		for (size_t k = 0; k < plan->n; k++)
			if (strcmp(plan->certs[k].name, cc->name) == 0)
				oc = &plan->certs[k];
		if (!oc) {
			fprintf(errout,
				"error config %s:%d: certificate \"%s\" is "
				"used by no service, so the plan gives it no "
				"names — name it in a service, or remove "
				"acme = true\n",
				cfg->file, cc->line, cc->name);
			code = code ? code : 2;
			continue;
		}
		if (opts->dry_run) {
			rc = acme_order_print_plan(out, errout, cfg, cc, oc,
						   opts->key);
			if (rc > code)
				code = rc;
			continue;
		}
		if (!client) {
			client = acme_client_new(&cfg->acme, err, sizeof(err));
			if (!client || acme_client_account(client, err,
							   sizeof(err)) != 0) {
				fprintf(errout, "edge443 order: %s\n", err);
				code = 3;
				goto done;
			}
		}
		rc = acme_order_one(client, cfg, cc, oc, opts->key, out,
				    errout);
		if (rc > code)
			code = rc;
	}
done:
	acme_client_free(client);
	order_plan_free(plan);
	return code;
}
