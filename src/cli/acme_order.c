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
 * The ACME protocol is acme.c's, the rules are rules.c's: this file only
 * sequences and reports.
 */
#include "edge443/cli/acme_order.h"
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

/* The files of one certificate section, old and new. */
struct acme_order_files {
	char cert[4096], chain[4096], key[4096]; /* NAME.new; "" when unused */
};

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

/* The PEM chain split: the leaf's PEM into *LEAF, the rest into *REST
 * (may be empty).  New strings; 0 / -1. */
static int acme_order_split(const char *pem, char **leaf, char **rest)
{
	const char *end = strstr(pem, "-----END CERTIFICATE-----");
	size_t n;

	*leaf = *rest = NULL;
	if (!end)
		return -1;
	end += strlen("-----END CERTIFICATE-----");
	while (*end == '\r' || *end == '\n')
		end++;
	n = (size_t)(end - pem);
	*leaf = malloc(n + 2);
	*rest = strdup(end);
	if (!*leaf || !*rest) {
		free(*leaf);
		free(*rest);
		return -1;
	}
	memcpy(*leaf, pem, n);
	(*leaf)[n] = '\0';
	if (n && (*leaf)[n - 1] != '\n')
		strcat(*leaf, "\n");
	return 0;
}

static char *acme_order_key_pem(EVP_PKEY *key)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *data = NULL, *out = NULL;
	long n;

	if (mem &&
	    PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL)) {
		n = BIO_get_mem_data(mem, &data);
		out = malloc((size_t)n + 1);
		if (out) {
			memcpy(out, data, (size_t)n);
			out[n] = '\0';
		}
	}
	BIO_free(mem);
	return out;
}

static void acme_order_unlink(const struct acme_order_files *f)
{
	if (f->cert[0])
		unlink(f->cert);
	if (f->chain[0])
		unlink(f->chain);
	if (f->key[0])
		unlink(f->key);
}

/* Write the new files as PATH.new; 0 / -1 (reason printed). */
static int acme_order_write_new(const struct config_cert *cc, const char *pem,
				EVP_PKEY *key, struct acme_order_files *f,
				FILE *errout)
{
	char err[ACME_ORDER_ERRLEN], *leaf = NULL, *rest = NULL, *kpem = NULL;
	int rc = -1;

	memset(f, 0, sizeof(*f));
	snprintf(f->cert, sizeof(f->cert), "%s.new", cc->cert);
	snprintf(f->key, sizeof(f->key), "%s.new", cc->key);
	if (cc->chain)
		snprintf(f->chain, sizeof(f->chain), "%s.new", cc->chain);
	if (acme_order_split(pem, &leaf, &rest) != 0 ||
	    !(kpem = acme_order_key_pem(key))) {
		fprintf(errout,
			"edge443 order: certificate %s: the CA's answer holds "
			"no certificate\n",
			cc->name);
		goto done;
	}
	if (acme_write_atomic(f->key, kpem, strlen(kpem), 0600, err,
			      sizeof(err)) != 0 ||
	    (cc->chain ? acme_write_atomic(f->cert, leaf, strlen(leaf), 0644,
					   err, sizeof(err)) != 0 ||
				 acme_write_atomic(f->chain, rest, strlen(rest),
						   0644, err, sizeof(err)) != 0
		       : acme_write_atomic(f->cert, pem, strlen(pem), 0644, err,
					   sizeof(err)) != 0)) {
		fprintf(errout, "edge443 order: %s\n", err);
		acme_order_unlink(f);
		goto done;
	}
	rc = 0;
done:
	if (kpem) {
		OPENSSL_cleanse(kpem, strlen(kpem));
		free(kpem);
	}
	free(leaf);
	free(rest);
	return rc;
}

/* Is finding F about CC or a service that uses it? */
static bool acme_order_concerns(const struct config *cfg,
				const struct config_cert *cc,
				const struct finding *f)
{
	char label[512];

	if (!f->subject) {
		snprintf(label, sizeof(label), "\"%s\"", cc->name);
		return f->message && strstr(f->message, label);
	}
	snprintf(label, sizeof(label), "certificate \"%s\"", cc->name);
	if (strcmp(f->subject, label) == 0)
		return true;
	for (size_t i = 0; i < cfg->nservices; i++) {
		if (!config_service_uses_cert(&cfg->services[i], cc->name))
			continue;
		snprintf(label, sizeof(label), "service \"%s\"",
			 cfg->services[i].name);
		if (strcmp(f->subject, label) == 0)
			return true;
	}
	return false;
}

/* The errors of FOUND about CC, each printed (after NOTE, once, when
 * given); how many. */
static int acme_order_errors(const struct config *cfg,
			     const struct config_cert *cc,
			     const struct findings *found, const char *note,
			     FILE *errout)
{
	int errors = 0;

	for (size_t i = 0; i < found->n; i++) {
		const struct finding *fi = &found->items[i];

		if (fi->severity != FINDING_ERROR ||
		    !acme_order_concerns(cfg, cc, fi))
			continue;
		if (note && errors == 0)
			fprintf(errout, "%s\n", note);
		finding_print(errout, fi);
		errors++;
	}
	return errors;
}

/* The plan rules on the new files, as if installed, as of now and as of
 * renew_before from now (so that what is installed still passes when its
 * renewal is due): the number of errors about CC (each printed), or -1
 * when the check could not run. */
static int acme_order_check(struct config *cfg, struct config_cert *cc,
			    const struct acme_order_files *f, FILE *errout)
{
	char *old_cert = cc->cert, *old_chain = cc->chain, *old_key = cc->key;
	struct findings now = {0}, later = {0};
	struct rules_certs *pc;
	const struct cert_info *ci;
	time_t t = time(NULL), t2 = t;
	char note[128];
	int errors = 0;

	cc->cert = (char *)f->cert;
	cc->chain = cc->chain ? (char *)f->chain : NULL;
	cc->key = (char *)f->key;
	pc = rules_load_certs(cfg);
	if (pc && (size_t)(cc - cfg->certs) < pc->n) {
		ci = pc->certs[cc - cfg->certs];
		if (ci && ci->leaf)
			t2 = t + acme_renew_window(ci->not_before,
						   ci->not_after,
						   cfg->acme.renew_before);
	}
	if (!pc || rules_check(cfg, pc, t, &now) < 0 ||
	    rules_check(cfg, pc, t2, &later) < 0)
		errors = -1;
	cc->cert = old_cert;
	cc->chain = old_chain;
	cc->key = old_key;
	if (errors == 0) {
		struct tm tm;

		errors = acme_order_errors(cfg, cc, &now, NULL, errout);
		gmtime_r(&t2, &tm);
		strftime(note, sizeof(note),
			 "as of %Y-%m-%d, renew_before from now:", &tm);
		if (errors == 0 && t2 != t)
			errors = acme_order_errors(cfg, cc, &later, note,
						   errout);
	}
	findings_free(&now);
	findings_free(&later);
	rules_certs_free(pc);
	return errors;
}

/* Rename the new files over the old ones: key, chain, then cert. */
static int acme_order_install(const struct config_cert *cc,
			      const struct acme_order_files *f, FILE *errout)
{
	if (rename(f->key, cc->key) != 0 ||
	    (cc->chain && rename(f->chain, cc->chain) != 0) ||
	    rename(f->cert, cc->cert) != 0) {
		fprintf(errout,
			"edge443 order: certificate %s: cannot install: %s\n",
			cc->name, strerror(errno));
		return -1;
	}
	return 0;
}

/* Order one certificate; the exit status of it alone. */
static int acme_order_one(struct acme_client *client, struct config *cfg,
			  struct config_cert *cc, const struct order_cert *oc,
			  enum csr_key_kind kind, FILE *out, FILE *errout)
{
	char err[ACME_ORDER_ERRLEN];
	struct acme_responder *rsp = NULL;
	struct acme_order_files files;
	EVP_PKEY *key = NULL;
	X509_REQ *req = NULL;
	char *pem = NULL;
	int code = 3, n;

	rsp = acme_responder_new(cfg->acme.challenge, err, sizeof(err));
	if (!rsp) {
		fprintf(errout, "edge443 order: %s\n", err);
		goto done;
	}
	code = acme_order_addrs(cfg, oc, NULL, rsp, errout);
	if (code != 0)
		goto done;
	code = 3;
	key = csr_key_new(kind, err, sizeof(err));
	req = key ? csr_req_new(oc, key, err, sizeof(err)) : NULL;
	if (!req) {
		fprintf(errout, "edge443 order: certificate %s: %s\n", cc->name,
			err);
		goto done;
	}
	fprintf(out, "certificate %s: ordering %zu names with %s\n", cc->name,
		oc->nsans, config_acme_challenge_name(cfg->acme.challenge));
	fflush(out);
	pem = acme_client_order(client, (const char *const *)oc->sans,
				oc->nsans, req, rsp, err, sizeof(err));
	acme_responder_free(rsp);
	rsp = NULL;
	if (!pem) {
		fprintf(errout, "edge443 order: certificate %s: %s\n", cc->name,
			err);
		goto done;
	}
	if (acme_order_write_new(cc, pem, key, &files, errout) != 0)
		goto done;
	n = acme_order_check(cfg, cc, &files, errout);
	if (n != 0) {
		acme_order_unlink(&files);
		if (n < 0) {
			fprintf(errout, "edge443 order: out of memory\n");
		} else {
			fprintf(errout,
				"edge443 order: certificate %s: the new "
				"certificate breaks %d plan rule%s — not "
				"installed, the old files are kept\n",
				cc->name, n, n == 1 ? "" : "s");
			code = 1;
		}
		goto done;
	}
	if (acme_order_install(cc, &files, errout) != 0) {
		acme_order_unlink(&files);
		goto done;
	}
	fprintf(out, "certificate %s: installed %s%s%s, key %s\n", cc->name,
		cc->cert, cc->chain ? ", chain " : "",
		cc->chain ? cc->chain : "", cc->key);
	code = 0;
done:
	acme_responder_free(rsp);
	EVP_PKEY_free(key);
	X509_REQ_free(req);
	free(pem);
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
