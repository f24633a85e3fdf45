/* served.c — what this node serves, as one JSON document for /served.
 *
 * Built once per (re)load from the validated model that the SSL contexts
 * are built from, so the document says what the listeners present without
 * reading a file: services with the fingerprints of their certificates and
 * chains, and the findings of the check.  jansson writes the JSON, so every
 * string is escaped.  Pure: no I/O, any thread that owns V.
 */
#include "edge443/serve/served.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "edge443/cert/cert.h"
#include "edge443/config/config.h"

/* {"name", "leaf_sha256", "chain_sha256": [...]} of section NAME, or NULL
 * when the section is unknown or not loaded. */
static json_t *served_cert(const struct validated *v, const char *name)
{
	const struct config_cert *cc = config_find_cert(v->cfg, name);
	const struct cert_info *ci =
		cc ? validate_cert(v->cfg, v->certs, cc) : NULL;
	char fp[96];
	json_t *o, *chain;

	if (!ci || !ci->leaf)
		return NULL;
	chain = json_array();
	for (int i = 0; chain && i < sk_X509_num(ci->chain); i++)
		json_array_append_new(
			chain,
			json_string(cert_fingerprint(
				sk_X509_value(ci->chain, i), fp, sizeof(fp))));
	o = json_pack("{s:s, s:s, s:o*}", "name", name, "leaf_sha256",
		      ci->fingerprint, "chain_sha256", chain);
	return o;
}

static json_t *served_service(const struct validated *v,
			      const struct config_service *svc)
{
	json_t *listen = json_array(), *certs = json_array(), *o;

	for (size_t i = 0; listen && i < svc->nlisten; i++)
		json_array_append_new(listen, json_string(svc->listen[i].text));
	if (certs && svc->certificate)
		json_array_append_new(certs, served_cert(v, svc->certificate));
	for (size_t i = 0; certs && i < svc->nextra_certificates; i++)
		json_array_append_new(
			certs, served_cert(v, svc->extra_certificates[i]));
	o = json_pack("{s:s, s:s, s:s?, s:s, s:o*, s:o*}", "name", svc->name,
		      "role", config_role_name(svc->role), "fqdn", svc->fqdn,
		      "mode", config_mode_name(svc->mode), "listen", listen,
		      "certificates", certs);
	return o;
}

char *served_json(const struct validated *v)
{
	json_t *doc, *services = json_array(), *findings = json_array();
	char *text = NULL, *out = NULL;

	for (size_t i = 0; services && i < v->cfg->nservices; i++)
		json_array_append_new(services,
				      served_service(v, &v->cfg->services[i]));
	for (size_t i = 0; findings && i < v->findings.n; i++) {
		const struct finding *f = &v->findings.items[i];

		json_array_append_new(
			findings,
			json_pack("{s:s, s:s, s:s?}", "severity",
				  finding_severity_name(f->severity), "rule",
				  f->rule, "subject", f->subject));
	}
	doc = json_pack("{s:s, s:s, s:s, s:o*, s:o*}", "edge443",
			EDGE443_VERSION, "config", v->cfg->file, "platform",
			config_platform_name(v->cfg->platform), "services",
			services, "findings", findings);
	if (doc)
		text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (text && (out = malloc(strlen(text) + 2)) != NULL) {
		strcpy(out, text);
		strcat(out, "\n");
	}
	free(text);
	return out;
}
