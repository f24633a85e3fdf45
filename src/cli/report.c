/* report.c — what `check` prints: the service map and the findings.
 *
 * Text output is for people: the service map (SERVICE, ROLE, FQDN, LISTEN,
 * CERTIFICATE, ...), then one
 * line per finding ("SEVERITY RULE FILE:LINE: MESSAGE") and a summary.  JSON
 * output is one document with the same content for automation, built with
 * jansson so that every string is escaped correctly.  This module decides
 * nothing: it formats what config.c, cert.c and rules.c produced.
 */
#include "edge443/cli/report.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPORT_COLUMNS 8

/* The cert_info of a service's certificate, or NULL. */
static const struct cert_info *
report_service_cert(const struct config *cfg, const struct rules_certs *pc,
		    const struct config_service *svc)
{
	if (!svc->certificate || !pc)
		return NULL;
	for (size_t i = 0; i < cfg->ncerts && i < pc->n; i++)
		if (strcmp(cfg->certs[i].name, svc->certificate) == 0)
			return pc->certs[i];
	return NULL;
}

/* "a,b" from the listen addresses; caller frees. */
static char *report_listen_text(const struct config_service *svc)
{
	size_t len = 1;
	for (size_t i = 0; i < svc->nlisten; i++)
		len += strlen(svc->listen[i].text) + 1;
	char *s = calloc(1, len);
	if (!s)
		return NULL;
	for (size_t i = 0; i < svc->nlisten; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, svc->listen[i].text);
	}
	return s;
}

/* One table cell padded to WIDTH, or the last cell of a row. */
static void report_cell(FILE *out, const char *text, size_t width, bool last)
{
	if (last)
		fprintf(out, "%s\n", text);
	else
		fprintf(out, "%-*s  ", (int)width, text);
}

void report_service_map(FILE *out, const struct config *cfg,
			const struct rules_certs *pc)
{
	static const char *const head[REPORT_COLUMNS] = {
		"SERVICE", "ROLE", "LISTEN", "FQDN",
		"CERT",	   "CN",   "MODE",   "BACKEND"};
	size_t rows = cfg->nservices;
	char **listen = calloc(rows ? rows : 1, sizeof(*listen));
	size_t width[REPORT_COLUMNS];

	if (!listen)
		return;
	for (size_t c = 0; c < REPORT_COLUMNS; c++)
		width[c] = strlen(head[c]);
	/* Two passes: measure, then print, so columns line up. */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			for (size_t c = 0; c < REPORT_COLUMNS; c++)
				report_cell(out, head[c], width[c],
					    c + 1 == REPORT_COLUMNS);
		}
		for (size_t r = 0; r < rows; r++) {
			const struct config_service *svc = &cfg->services[r];
			const struct cert_info *ci =
				report_service_cert(cfg, pc, svc);
			if (pass == 0)
				listen[r] = report_listen_text(svc);
			const char *cell[REPORT_COLUMNS] = {
				svc->name,
				config_role_name(svc->role),
				listen[r] ? listen[r] : "?",
				svc->fqdn ? svc->fqdn : "-",
				svc->certificate ? svc->certificate : "-",
				ci && ci->cn ? ci->cn : "-",
				config_mode_name(svc->mode),
				svc->backend ? svc->backend : "-"};
			for (size_t c = 0; c < REPORT_COLUMNS; c++) {
				if (pass == 0) {
					size_t l = strlen(cell[c]);
					if (l > width[c])
						width[c] = l;
				} else {
					report_cell(out, cell[c], width[c],
						    c + 1 == REPORT_COLUMNS);
				}
			}
		}
	}
	for (size_t r = 0; r < rows; r++)
		free(listen[r]);
	free(listen);
}

void report_check_text(FILE *out, const struct config *cfg,
		       const struct rules_certs *pc,
		       const struct findings *findings)
{
	report_service_map(out, cfg, pc);
	fputc('\n', out);
	for (size_t i = 0; i < findings->n; i++)
		finding_print(out, &findings->items[i]);
	if (findings->n)
		fputc('\n', out);
	fprintf(out, "%s: %zu error%s, %zu warning%s — %s\n", cfg->file,
		findings->errors, findings->errors == 1 ? "" : "s",
		findings->warnings, findings->warnings == 1 ? "" : "s",
		findings->errors ? "the certificate plan is NOT valid; nothing "
				   "may be served until the errors are fixed"
				 : "the certificate plan is valid");
}

/* ISO 8601 UTC, or JSON null for 0. */
static json_t *report_time(time_t t)
{
	struct tm tm;
	char buf[32];

	if (t == 0 || !gmtime_r(&t, &tm))
		return json_null();
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

static json_t *report_string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *report_json_services(const struct config *cfg,
				    const struct rules_certs *pc)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < cfg->nservices; i++) {
		const struct config_service *svc = &cfg->services[i];
		const struct cert_info *ci = report_service_cert(cfg, pc, svc);
		json_t *listen = json_array();
		json_t *domains = json_array();

		for (size_t j = 0; listen && j < svc->nlisten; j++)
			json_array_append_new(listen,
					      json_string(svc->listen[j].text));
		for (size_t j = 0; domains && j < svc->nsip_domains; j++)
			json_array_append_new(domains,
					      json_string(svc->sip_domains[j]));
		json_array_append_new(
			arr,
			json_pack(
				"{s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:o, "
				"s:o, s:b, s:b, s:i, s:b}",
				"name", svc->name, "role",
				config_role_name(svc->role), "listen",
				listen ? listen : json_null(), "fqdn",
				report_string_or_null(svc->fqdn), "certificate",
				report_string_or_null(svc->certificate), "cn",
				report_string_or_null(ci ? ci->cn : NULL),
				"mode", config_mode_name(svc->mode), "backend",
				report_string_or_null(svc->backend),
				"sip_domains", domains ? domains : json_null(),
				"federation", svc->federation, "sni_strict",
				svc->sni_strict, "line", svc->line, "http",
				svc->http.present));
	}
	return arr;
}

/* A revocation or issuer pointer: its URI, "" when the extension names it
 * without a URI, null when the leaf has none. */
static json_t *report_json_pointer(bool present, const char *uri)
{
	if (!present)
		return json_null();
	return json_string(uri ? uri : "");
}

/* The intermediates on the leaf's path: [{"subject", "not_after"}]. */
static json_t *report_json_intermediates(const struct cert_info *ci)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < ci->nintermediates; i++)
		json_array_append_new(
			arr,
			json_pack("{s:s, s:o}", "subject",
				  ci->intermediates[i].subject, "not_after",
				  report_time(ci->intermediates[i].not_after)));
	return arr ? arr : json_null();
}

static json_t *report_json_cert(const struct config_cert *cc,
				const struct cert_info *ci)
{
	json_t *o = json_pack("{s:s, s:o, s:o, s:o, s:i}", "name", cc->name,
			      "cert", report_string_or_null(cc->cert), "chain",
			      report_string_or_null(cc->chain), "key",
			      report_string_or_null(cc->key), "line", cc->line);
	char kbuf[64];

	if (!o || !ci || !ci->leaf)
		return o;
	json_t *sans = json_array();
	for (size_t j = 0; sans && j < ci->nsans; j++)
		json_array_append_new(sans, json_string(ci->sans[j]));
	json_t *eku = json_array();
	if (eku && ci->has_eku) {
		if (ci->eku & CERT_EKU_SERVER)
			json_array_append_new(eku, json_string("serverAuth"));
		if (ci->eku & CERT_EKU_CLIENT)
			json_array_append_new(eku, json_string("clientAuth"));
		if (ci->eku & CERT_EKU_ANY)
			json_array_append_new(
				eku, json_string("anyExtendedKeyUsage"));
	}
	json_object_set_new(o, "cn", report_string_or_null(ci->cn));
	json_object_set_new(o, "sans", sans ? sans : json_null());
	json_object_set_new(o, "eku", ci->has_eku && eku ? eku : json_null());
	if (!ci->has_eku)
		json_decref(eku);
	json_object_set_new(o, "subject", json_string(ci->subject));
	json_object_set_new(o, "issuer", json_string(ci->issuer));
	json_object_set_new(o, "key_type",
			    json_string(cert_key_desc(ci, kbuf, sizeof(kbuf))));
	json_object_set_new(o, "signature", json_string(ci->sig_alg));
	json_object_set_new(o, "not_before", report_time(ci->not_before));
	json_object_set_new(o, "not_after", report_time(ci->not_after));
	json_object_set_new(o, "fingerprint_sha256",
			    json_string(ci->fingerprint));
	json_object_set_new(
		o, "chain_status",
		json_string(ci->chain_status == CERT_CHAIN_OK ? "ok"
			    : ci->chain_status == CERT_CHAIN_INCOMPLETE
				    ? "incomplete"
				    : "unchecked"));
	json_object_set_new(
		o, "crl_dp",
		report_json_pointer(ci->has_crl_dp, ci->crl_dp_uri));
	json_object_set_new(o, "aia_ca_issuers",
			    report_json_pointer(ci->has_aia_ca_issuers,
						ci->aia_ca_issuers));
	json_object_set_new(
		o, "ocsp", report_json_pointer(ci->has_aia_ocsp, ci->aia_ocsp));
	json_object_set_new(o, "intermediates", report_json_intermediates(ci));
	return o;
}

static json_t *report_json_findings(const struct findings *findings)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < findings->n; i++) {
		const struct finding *f = &findings->items[i];
		json_t *o = json_pack(
			"{s:s, s:s, s:s, s:o, s:o, s:s}", "severity",
			finding_severity_name(f->severity), "rule", f->rule,
			"file", f->file, "line",
			f->line > 0 ? json_integer(f->line) : json_null(),
			"subject", report_string_or_null(f->subject), "message",
			f->message);
		json_array_append_new(arr, o);
	}
	return arr;
}

int report_check_json(FILE *out, const struct config *cfg,
		      const struct rules_certs *pc,
		      const struct findings *findings)
{
	json_t *certs = json_array();
	json_t *doc = NULL;
	int rc = -1;

	for (size_t i = 0; certs && i < cfg->ncerts; i++)
		json_array_append_new(
			certs, report_json_cert(&cfg->certs[i],
						pc && i < pc->n ? pc->certs[i]
								: NULL));
	doc = json_pack(
		"{s:s, s:s, s:o, s:o, s:o, s:I, s:I, s:b}", "config", cfg->file,
		"platform", config_platform_name(cfg->platform), "services",
		report_json_services(cfg, pc), "certificates",
		certs ? certs : json_array(), "findings",
		report_json_findings(findings), "errors",
		(json_int_t)findings->errors, "warnings",
		(json_int_t)findings->warnings, "valid", findings->errors == 0);
	if (!doc)
		goto done;
	if (json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0) {
		fputc('\n', out);
		rc = 0;
	}
done:
	json_decref(doc);
	return rc;
}

/* ---- edge443 plan ---------------------------------------------------- */

/* "a, b, c" from N strings; caller frees. */
static char *report_join(char *const *items, size_t n, const char *sep)
{
	size_t len = 1, sl = strlen(sep);
	char *s;

	for (size_t i = 0; i < n; i++)
		len += strlen(items[i]) + sl;
	s = calloc(1, len);
	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(s, sep);
		strcat(s, items[i]);
	}
	return s;
}

/* The service names of a planned certificate, "access, cwa"; caller frees. */
static char *report_plan_services(const struct config *cfg,
				  const struct order_cert *oc)
{
	char **names =
		calloc(oc->nservices ? oc->nservices : 1, sizeof(*names));
	char *s;

	if (!names)
		return NULL;
	for (size_t i = 0; i < oc->nservices; i++)
		names[i] = cfg->services[oc->services[i]].name;
	s = report_join(names, oc->nservices, ", ");
	free(names);
	return s;
}

#define REPORT_PLAN_COLUMNS 6

void report_plan_text(FILE *out, const struct config *cfg,
		      const struct order_plan *plan)
{
	static const char *const head[REPORT_PLAN_COLUMNS] = {
		"CERTIFICATE", "CN", "SANS", "EKU", "CA", "SERVICES"};
	size_t width[REPORT_PLAN_COLUMNS];
	size_t rows = plan->n;
	char **sans = calloc(rows ? rows : 1, sizeof(*sans));
	char **svcs = calloc(rows ? rows : 1, sizeof(*svcs));

	if (!sans || !svcs)
		goto done;
	for (size_t c = 0; c < REPORT_PLAN_COLUMNS; c++)
		width[c] = strlen(head[c]);
	for (size_t r = 0; r < rows; r++) {
		sans[r] = report_join(plan->certs[r].sans, plan->certs[r].nsans,
				      ",");
		svcs[r] = report_plan_services(cfg, &plan->certs[r]);
	}
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			for (size_t c = 0; c < REPORT_PLAN_COLUMNS; c++)
				report_cell(out, head[c], width[c],
					    c + 1 == REPORT_PLAN_COLUMNS);
		for (size_t r = 0; r < rows; r++) {
			const struct order_cert *oc = &plan->certs[r];
			const char *cell[REPORT_PLAN_COLUMNS] = {
				oc->name,
				oc->cn,
				sans[r] ? sans[r] : "?",
				oc->client_auth ? "serverAuth,clientAuth"
						: "serverAuth",
				oc->internal ? "internal" : "public",
				svcs[r] ? svcs[r] : "?"};
			for (size_t c = 0; c < REPORT_PLAN_COLUMNS; c++) {
				if (pass == 0) {
					if (strlen(cell[c]) > width[c])
						width[c] = strlen(cell[c]);
				} else {
					report_cell(
						out, cell[c], width[c],
						c + 1 == REPORT_PLAN_COLUMNS);
				}
			}
		}
	}
	fprintf(out,
		"\n%s: %zu certificate%s (%zu public, %zu internal) for %zu "
		"service%s — %s%s%s; public and internal names never share "
		"one\n",
		cfg->file, plan->n, plan->n == 1 ? "" : "s", plan->npublic,
		plan->ninternal, cfg->nservices, cfg->nservices == 1 ? "" : "s",
		cfg->platform != CONFIG_PLATFORM_OCS2007R2 ? "platform " : "",
		cfg->platform != CONFIG_PLATFORM_OCS2007R2
			? config_platform_name(cfg->platform)
			: "",
		cfg->platform != CONFIG_PLATFORM_OCS2007R2
			? ": no service takes its FQDN from the CN, so the "
			  "services share certificates as SANs"
			: "every CN-bound service has a certificate with its "
			  "own CN");
done:
	for (size_t r = 0; sans && svcs && r < rows; r++) {
		free(sans[r]);
		free(svcs[r]);
	}
	free(sans);
	free(svcs);
}

void report_plan_files(FILE *out, const struct order_plan *plan,
		       const char *out_dir, const char *lab_dir)
{
	for (size_t i = 0; out_dir && i < plan->n; i++)
		fprintf(out, "wrote %s/%s.key (mode 0600) and %s/%s.csr\n",
			out_dir, plan->certs[i].name, out_dir,
			plan->certs[i].name);
	if (!lab_dir)
		return;
	for (size_t i = 0; i < plan->n; i++)
		fprintf(out,
			"wrote %s/%s.crt, %s.key (mode 0600), %s.csr — "
			"issued by the lab %s\n",
			lab_dir, plan->certs[i].name, plan->certs[i].name,
			plan->certs[i].name,
			plan->certs[i].internal ? "internal root"
						: "intermediate");
	fprintf(out,
		"wrote %s/root.pem (lab root: use it as trust_file), "
		"chain.pem (lab intermediate), internal-root.pem (lab internal "
		"root)\n"
		"wrote %s/edge443.conf.snippet — the certificate sections for "
		"this plan\n",
		lab_dir, lab_dir);
}

/* {"key": "DIR/NAME.key", ...} for one certificate in DIR. */
static json_t *report_plan_paths(const char *dir, const char *name, bool crt)
{
	json_t *o = json_object();
	const char *exts[] = {"key", "csr", "crt"};

	for (size_t i = 0; o && i < (crt ? 3u : 2u); i++) {
		size_t len = strlen(dir) + strlen(name) + 8;
		char *p = malloc(len);
		if (!p)
			break;
		snprintf(p, len, "%s/%s.%s", dir, name, exts[i]);
		json_object_set_new(o, exts[i], json_string(p));
		free(p);
	}
	return o;
}

int report_plan_json(FILE *out, const struct config *cfg,
		     const struct order_plan *plan, const char *out_dir,
		     const char *lab_dir)
{
	json_t *certs = json_array();
	json_t *doc = NULL;
	int rc = -1;

	for (size_t i = 0; certs && i < plan->n; i++) {
		const struct order_cert *oc = &plan->certs[i];
		json_t *sans = json_array();
		json_t *svcs = json_array();
		json_t *eku = json_array();
		json_t *o;
		for (size_t j = 0; sans && j < oc->nsans; j++)
			json_array_append_new(sans, json_string(oc->sans[j]));
		for (size_t j = 0; svcs && j < oc->nservices; j++)
			json_array_append_new(
				svcs,
				json_string(
					cfg->services[oc->services[j]].name));
		if (eku) {
			json_array_append_new(eku, json_string("serverAuth"));
			if (oc->client_auth)
				json_array_append_new(
					eku, json_string("clientAuth"));
		}
		o = json_pack("{s:s, s:s, s:o, s:o, s:s, s:o}", "name",
			      oc->name, "cn", oc->cn, "sans",
			      sans ? sans : json_null(), "eku",
			      eku ? eku : json_null(), "ca",
			      oc->internal ? "internal" : "public", "services",
			      svcs ? svcs : json_null());
		if (o && out_dir)
			json_object_set_new(
				o, "out",
				report_plan_paths(out_dir, oc->name, false));
		if (o && lab_dir)
			json_object_set_new(
				o, "lab",
				report_plan_paths(lab_dir, oc->name, true));
		json_array_append_new(certs, o);
	}
	doc = json_pack("{s:s, s:s, s:o, s:I, s:I, s:I}", "config", cfg->file,
			"platform", config_platform_name(cfg->platform),
			"certificates", certs ? certs : json_array(), "count",
			(json_int_t)plan->n, "public",
			(json_int_t)plan->npublic, "internal",
			(json_int_t)plan->ninternal);
	if (!doc)
		goto done;
	if (lab_dir) {
		size_t len = strlen(lab_dir) + 32;
		char *p = malloc(len);
		if (p) {
			snprintf(p, len, "%s/root.pem", lab_dir);
			json_object_set_new(doc, "trust_file", json_string(p));
			snprintf(p, len, "%s/edge443.conf.snippet", lab_dir);
			json_object_set_new(doc, "snippet", json_string(p));
			free(p);
		}
	}
	if (json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0) {
		fputc('\n', out);
		rc = 0;
	}
done:
	json_decref(doc);
	return rc;
}

/* ---- edge443 csr ----------------------------------------------------- */

void report_csr_text(FILE *out, const char *path, const struct csr_info *info)
{
	fprintf(out, "request:   %s (%s)\n", path, csr_form_name(info->form));
	fprintf(out, "subject:   %s\n",
		info->subject[0] ? info->subject : "(empty)");
	fprintf(out, "SANs:      ");
	if (info->nsans == 0)
		fprintf(out, "(none)");
	for (size_t i = 0; i < info->nsans; i++)
		fprintf(out, "%s%s", i ? ", " : "", info->sans[i]);
	fprintf(out, "\nkey:       %s\n", info->key);
	fprintf(out, "EKU:       %s\n",
		info->has_eku ? info->eku : "(none requested)");
	fprintf(out, "signature: %s, %s\n",
		info->sig_alg[0] ? info->sig_alg : "?",
		info->sig_ok ? "verified" : "DOES NOT VERIFY");
}

/* ---- edge443 probe ----------------------------------------------------- */

#define REPORT_PROBE_COLUMNS 8
#define REPORT_PROBE_FP_CHARS 14 /* "AB:CD:EF:01:23": the first 5 bytes */

void report_probe_text(FILE *out, const struct config *cfg,
		       const struct probe_report *rep)
{
	static const char *const head[REPORT_PROBE_COLUMNS] = {
		"SERVICE",     "TARGET",       "SNI",	"SERVED CN",
		"FINGERPRINT", "MATCHES PLAN", "CHAIN", "NOTE",
	};
	size_t width[REPORT_PROBE_COLUMNS];

	for (size_t c = 0; c < REPORT_PROBE_COLUMNS; c++)
		width[c] = strlen(head[c]);
	/* Two passes: measure, then print, so columns line up. */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			for (size_t c = 0; c < REPORT_PROBE_COLUMNS; c++)
				report_cell(out, head[c], width[c],
					    c + 1 == REPORT_PROBE_COLUMNS);
		for (size_t r = 0; r < rep->n; r++) {
			const struct probe_row *row = &rep->rows[r];
			char svc[256], fp[REPORT_PROBE_FP_CHARS + 1];
			const char *cn = row->served_cn;

			if (!cn[0])
				cn = row->state == PROBE_STATE_TLS ? "(no CN)"
								   : "-";

			if (row->backend)
				snprintf(svc, sizeof(svc), "%s->%s",
					 row->service, row->backend);
			else
				snprintf(svc, sizeof(svc), "%s", row->service);
			snprintf(fp, sizeof(fp), "%.*s", REPORT_PROBE_FP_CHARS,
				 row->fingerprint[0] ? row->fingerprint : "-");
			const char *cell[REPORT_PROBE_COLUMNS] = {
				svc,
				row->target,
				row->sni ? row->sni : "(none)",
				cn,
				fp,
				probe_match_name(row->match),
				probe_chain_name(row->chain),
				row->note[0] ? row->note
					     : probe_state_name(row->state)};
			for (size_t c = 0; c < REPORT_PROBE_COLUMNS; c++) {
				if (pass == 0) {
					if (strlen(cell[c]) > width[c])
						width[c] = strlen(cell[c]);
				} else {
					report_cell(
						out, cell[c], width[c],
						c + 1 == REPORT_PROBE_COLUMNS);
				}
			}
		}
	}
	fputc('\n', out);
	for (size_t i = 0; i < rep->findings.n; i++)
		finding_print(out, &rep->findings.items[i]);
	if (rep->findings.n)
		fputc('\n', out);
	fprintf(out,
		"%s: %zu connection%s probed: %zu error%s, %zu warning%s "
		"— %s\n",
		cfg->file, rep->n, rep->n == 1 ? "" : "s", rep->findings.errors,
		rep->findings.errors == 1 ? "" : "s", rep->findings.warnings,
		rep->findings.warnings == 1 ? "" : "s",
		rep->findings.errors ? "clients do NOT see what the plan says; "
				       "fix the errors"
				     : "what clients see matches the plan");
}

static json_t *report_probe_row_json(const struct probe_row *row)
{
	json_t *o = json_pack(
		"{s:s, s:o, s:b, s:b, s:s, s:o, s:s, s:o, s:o, s:o, s:s, s:s, "
		"s:o, s:o, s:o, s:f}",
		"service", row->service, "backend",
		report_string_or_null(row->backend), "pool_member", row->pool,
		"node", row->node, "target", row->target, "sni",
		report_string_or_null(row->sni), "state",
		probe_state_name(row->state), "served_cn",
		report_string_or_null(row->served_cn[0] ? row->served_cn
							: NULL),
		"subject",
		report_string_or_null(row->subject[0] ? row->subject : NULL),
		"fingerprint_sha256",
		report_string_or_null(row->fingerprint[0] ? row->fingerprint
							  : NULL),
		"matches_plan", probe_match_name(row->match), "chain",
		probe_chain_name(row->chain), "tls_version",
		report_string_or_null(row->version[0] ? row->version : NULL),
		"cipher",
		report_string_or_null(row->cipher[0] ? row->cipher : NULL),
		"note", report_string_or_null(row->note[0] ? row->note : NULL),
		"seconds", row->seconds);
	return o;
}

int report_probe_json(FILE *out, const struct config *cfg,
		      const struct probe_report *rep)
{
	json_t *rows = json_array();
	json_t *doc = NULL;
	int rc = -1;

	for (size_t i = 0; rows && i < rep->n; i++)
		json_array_append_new(rows,
				      report_probe_row_json(&rep->rows[i]));
	doc = json_pack("{s:s, s:i, s:o, s:o, s:I, s:I, s:b}", "config",
			cfg->file, "timeout", probe_timeout(cfg), "probes",
			rows ? rows : json_array(), "findings",
			report_json_findings(&rep->findings), "errors",
			(json_int_t)rep->findings.errors, "warnings",
			(json_int_t)rep->findings.warnings, "ok",
			rep->findings.errors == 0);
	if (!doc)
		goto done;
	if (json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0) {
		fputc('\n', out);
		rc = 0;
	}
done:
	json_decref(doc);
	return rc;
}
