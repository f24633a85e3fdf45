/* acme_issue.c — one ACME certificate: ordered, written as NAME.new,
 * judged with every plan rule, installed.
 *
 * Shared by `edge443 order` (acme_order.c) and the renewal in `run`
 * (renew.c): a new key of the given kind and a request for the plan's
 * names (csr.h) go to the CA (acme.c), the challenge answered through the
 * caller's responder (a temporary listener, or the running listeners'
 * table); what comes back is written next to the old files as NAME.new
 * (write, fsync, rename), judged with every plan rule as if it were
 * installed, as of now and as of renew_before from now, and only then
 * renamed over the old files (key, chain, cert).  An error about the
 * certificate or a service on it refuses it: the .new files are removed
 * and the old ones stay.  Progress goes to OUT, every error (each finding
 * with its rule id) to ERR.
 */
#include "edge443/cli/acme_issue.h"
#include "edge443/order/acme_jws.h"
#include "edge443/order/acme_parse.h"
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
				const char *who, FILE *errout)
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
			"%s: certificate %s: the CA's answer holds "
			"no certificate\n",
			who, cc->name);
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
		fprintf(errout, "%s: %s\n", who, err);
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
			      const struct acme_order_files *f, const char *who,
			      FILE *errout)
{
	if (rename(f->key, cc->key) != 0 ||
	    (cc->chain && rename(f->chain, cc->chain) != 0) ||
	    rename(f->cert, cc->cert) != 0) {
		fprintf(errout, "%s: certificate %s: cannot install: %s\n", who,
			cc->name, strerror(errno));
		return -1;
	}
	return 0;
}

enum acme_issue_result
acme_issue_one(struct acme_client *client, struct config *cfg,
	       struct config_cert *cc, const struct order_cert *oc,
	       enum csr_key_kind kind, struct acme_responder *rsp,
	       const char *who, FILE *out, FILE *errout)
{
	char err[ACME_ORDER_ERRLEN];
	struct acme_order_files files;
	EVP_PKEY *key = NULL;
	X509_REQ *req = NULL;
	char *pem = NULL;
	enum acme_issue_result code = ACME_ISSUE_FAILED;
	int n;

	key = csr_key_new(kind, err, sizeof(err));
	req = key ? csr_req_new(oc, key, err, sizeof(err)) : NULL;
	if (!req) {
		fprintf(errout, "%s: certificate %s: %s\n", who, cc->name, err);
		goto done;
	}
	fprintf(out, "certificate %s: ordering %zu names with %s\n", cc->name,
		oc->nsans, config_acme_challenge_name(cfg->acme.challenge));
	fflush(out);
	pem = acme_client_order(client, (const char *const *)oc->sans,
				oc->nsans, req, rsp, err, sizeof(err));
	acme_responder_stop(rsp);
	if (!pem) {
		fprintf(errout, "%s: certificate %s: %s\n", who, cc->name, err);
		goto done;
	}
	if (acme_order_write_new(cc, pem, key, &files, who, errout) != 0)
		goto done;
	n = acme_order_check(cfg, cc, &files, errout);
	if (n != 0) {
		acme_order_unlink(&files);
		if (n < 0) {
			fprintf(errout, "%s: out of memory\n", who);
		} else {
			fprintf(errout,
				"%s: certificate %s: the new "
				"certificate breaks %d plan rule%s — not "
				"installed, the old files are kept\n",
				who, cc->name, n, n == 1 ? "" : "s");
			code = ACME_ISSUE_REFUSED;
		}
		goto done;
	}
	if (acme_order_install(cc, &files, who, errout) != 0) {
		acme_order_unlink(&files);
		goto done;
	}
	fprintf(out, "certificate %s: installed %s%s%s, key %s\n", cc->name,
		cc->cert, cc->chain ? ", chain " : "",
		cc->chain ? cc->chain : "", cc->key);
	code = ACME_ISSUE_OK;
done:
	EVP_PKEY_free(key);
	X509_REQ_free(req);
	free(pem);
	return code;
}
