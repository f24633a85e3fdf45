/* rules_service.c — the per-service rules of `edge443 check`.
 *
 * This part of the rules module judges one service: whether its certificate
 * suits its role (FQDN covered, CN is the FQDN, no wildcard where the role
 * forbids it, client EKU and its future on public hierarchies, SIP domains,
 * CWA names), and the service rules that need no certificate (certificate
 * required, backend required, Edge terminated, backend verification, legacy
 * TLS); the rules that depend on the platform are rules_platform.c, which it
 * runs with them.  It does not judge the
 * certificate on its own (rules_cert.c) or clashes between services (rules.c,
 * which runs it), and like all of plan it reads no file and prints nothing:
 * it appends findings (findings.c).  What a role requires comes from the
 * role table (roles.c).
 */
#include "edge443/rules/rules_service.h"
#include "edge443/rules/rules_platform.h"
#include "edge443/config/roles.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/tls1.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* True when some DNS SAN equals NAME (case-insensitively) or covers it. */
static bool rules_has_san(const struct cert_info *ci, const char *name)
{
	for (size_t i = 0; i < ci->nsans; i++)
		if (finding_name_eq(ci->sans[i], name))
			return true;
	return cert_covers(ci, name);
}

/* ---- per service ------------------------------------------------------ */

static int rules_check_cn_is_fqdn(const struct config *cfg,
				  const struct config_service *svc,
				  const struct cert_info *ci, const char *who,
				  const char *sdesc, const char *cwho, int line,
				  struct findings *out)
{
	const struct roles_facts *role = roles_of(svc->role);
	enum roles_cn rule = roles_cn_is_fqdn(cfg->platform, svc->role);
	char cn[300];

	if (rule == ROLES_CN_ANY || !svc->fqdn ||
	    finding_name_eq(ci->cn, svc->fqdn))
		return 0;
	if (ci->cn)
		snprintf(cn, sizeof(cn), "has CN %s", ci->cn);
	else
		snprintf(cn, sizeof(cn), "has no CN");
	return findings_add(
		out, rule == ROLES_CN_MUST ? FINDING_ERROR : FINDING_WARN,
		"cn-is-fqdn", finding_file(cfg), line, who,
		"%s has FQDN %s but %s %s; %s %s — give it a "
		"certificate whose CN is %s (edge443 plan)%s",
		sdesc, svc->fqdn, cwho, cn, role->title, role->cn_why,
		svc->fqdn,
		roles_cn_bound(cfg->platform, svc->role)
			? ", or a different port"
			: "");
}

static int rules_check_wildcard(const struct config *cfg,
				const struct config_service *svc,
				const struct cert_info *ci, const char *who,
				const char *sdesc, const char *cwho, int line,
				struct findings *out)
{
	const struct roles_facts *role = roles_of(svc->role);
	const char *wild = NULL;

	switch (role->wildcard) {
	case ROLES_WILDCARD_FORBIDDEN:
		if (ci->cn && cert_name_is_wildcard(ci->cn))
			wild = ci->cn;
		for (size_t i = 0; i < ci->nsans && !wild; i++)
			if (cert_name_is_wildcard(ci->sans[i]))
				wild = ci->sans[i];
		if (!wild)
			return 0;
		return findings_add(
			out, FINDING_ERROR, "wildcard-forbidden",
			finding_file(cfg), line, who,
			"%s uses %s, which names the wildcard %s; %s "
			"does not support wildcard certificates — give "
			"it a certificate with explicit names (edge443 "
			"plan)",
			sdesc, cwho, wild, role->title);
	case ROLES_WILDCARD_NOT_CN:
		/* From Lync 2013 on, wildcard-placement reports a wildcard
		 * CN as an error on every role. */
		if (!ci->cn || !cert_name_is_wildcard(ci->cn) ||
		    rules_wildcard_placement_on(cfg->platform))
			return 0;
		return findings_add(
			out, FINDING_WARN, "wildcard-forbidden",
			finding_file(cfg), line, who,
			"%s uses %s, whose CN %s is a wildcard; old "
			"clients that read the CN do not match it — "
			"prefer a certificate whose CN is %s (a "
			"wildcard SAN is fine)",
			sdesc, cwho, ci->cn,
			svc->fqdn ? svc->fqdn : "the FQDN");
	case ROLES_WILDCARD_OK:
		break;
	}
	return 0;
}

/* public-clientauth: federation on a public certificate that still carries
 * clientAuth (when it lacks it, eku-client reports that instead). */
static int rules_check_public_clientauth(const struct config *cfg,
					 const struct config_service *svc,
					 const struct cert_info *ci,
					 const char *who, const char *sdesc,
					 const char *cwho, int line,
					 struct findings *out)
{
	char until[40];

	if (svc->role != CONFIG_ROLE_ACCESS_EDGE || !svc->federation ||
	    ci->chain_status != CERT_CHAIN_OK ||
	    (ci->has_eku && !(ci->eku & (CERT_EKU_CLIENT | CERT_EKU_ANY))))
		return 0;
	finding_date(ci->not_after, until, sizeof(until));
	return findings_add(
		out, FINDING_WARN, "public-clientauth", finding_file(cfg),
		finding_line(svc->federation_line, line), who,
		"%s sets federation = true and uses %s, which chains to a "
		"public root and carries clientAuth until it expires on %s; "
		"public TLS hierarchies become serverAuth-only (Chrome Root "
		"Program policy: from 2026-06-15 for new issuance, and no "
		"public TLS leaf with clientAuth after 2027-03-15), so its "
		"renewal will not carry clientAuth and federation MTLS will "
		"fail — plan federation on a certificate from a CA that still "
		"issues serverAuth and clientAuth (one your federation "
		"partners trust)",
		sdesc, cwho, until);
}

int rules_check_service_cert(const struct config *cfg,
			     const struct config_service *svc,
			     const struct config_cert *cc,
			     const struct cert_info *ci, struct findings *out)
{
	const char *file = finding_file(cfg);
	char who[300], sdesc[400], cwho[300], sans[512];
	int line, rc = 0;

	if (!cfg || !svc || !ci || !ci->leaf)
		return 0;
	finding_service_label(svc, who, sizeof(who));
	snprintf(sdesc, sizeof(sdesc), "%s (%s)", who,
		 config_role_name(svc->role));
	finding_cert_label(cc, ci, cwho, sizeof(cwho));
	finding_san_list(ci, sans, sizeof(sans));
	line = finding_line(svc->certificate_line, svc->line);

	if (svc->fqdn && !cert_covers(ci, svc->fqdn))
		rc |= findings_add(
			out, FINDING_ERROR, "fqdn-covered", file, line, who,
			"%s has FQDN %s but %s does not cover it (DNS "
			"SANs: %s) — add %s as a SAN, or name a "
			"certificate that has it (edge443 plan)",
			sdesc, svc->fqdn, cwho, sans, svc->fqdn);
	rc |= rules_check_cn_is_fqdn(cfg, svc, ci, who, sdesc, cwho, line, out);
	rc |= rules_check_wildcard(cfg, svc, ci, who, sdesc, cwho, line, out);

	if (svc->role == CONFIG_ROLE_ACCESS_EDGE && ci->has_eku &&
	    !(ci->eku & (CERT_EKU_CLIENT | CERT_EKU_ANY)))
		rc |= findings_add(
			out, svc->federation ? FINDING_ERROR : FINDING_WARN,
			"eku-client", file,
			svc->federation
				? finding_line(svc->federation_line, line)
				: line,
			who,
			"%s uses %s, whose extended key usage lacks "
			"clientAuth; "
			"federation and public IM connectivity authenticate "
			"the Access Edge as a client (MTLS)%s — request "
			"serverAuth and clientAuth; public CAs are phasing "
			"clientAuth out of TLS server certificates, so you may "
			"need a CA that still issues it",
			sdesc, cwho,
			svc->federation ? " and this service sets federation "
					  "= true"
					: "");

	rc |= rules_check_public_clientauth(cfg, svc, ci, who, sdesc, cwho,
					    line, out);

	if (svc->role == CONFIG_ROLE_ACCESS_EDGE) {
		int dline = finding_line(svc->sip_domains_line, line);
		for (size_t i = 0; i < svc->nsip_domains; i++) {
			char name[300];
			snprintf(name, sizeof(name), "sip.%s",
				 svc->sip_domains[i]);
			if (rules_has_san(ci, name))
				continue;
			rc |= findings_add(
				out, FINDING_ERROR, "sip-domain-san", file,
				dline, who,
				"%s serves SIP domain %s but %s has no "
				"SAN %s (SANs: %s); clients look up "
				"sip.%s to sign in — add %s as a SAN "
				"(edge443 plan)",
				sdesc, svc->sip_domains[i], cwho, name, sans,
				svc->sip_domains[i], name);
		}
	}

	if (svc->role == CONFIG_ROLE_CWA && svc->fqdn) {
		char as[300], dl[300], missing[620];
		bool has_as, has_dl;

		snprintf(as, sizeof(as), "as.%s", svc->fqdn);
		snprintf(dl, sizeof(dl), "download.%s", svc->fqdn);
		has_as = rules_has_san(ci, as);
		has_dl = rules_has_san(ci, dl);
		if (!has_as || !has_dl) {
			snprintf(missing, sizeof(missing), "%s%s%s",
				 has_as ? "" : as,
				 !has_as && !has_dl ? " and " : "",
				 has_dl ? "" : dl);
			rc |= findings_add(
				out, FINDING_WARN, "cwa-sans", file, line, who,
				"%s uses %s, which lacks the SAN%s %s; "
				"CWA serves desktop sharing and file "
				"downloads on those names — add %s as "
				"SAN%s (edge443 plan)",
				sdesc, cwho, !has_as && !has_dl ? "s" : "",
				missing, missing,
				!has_as && !has_dl ? "s" : "");
		}
	}

	rc |= rules_check_platform_cert(cfg, svc, cc, ci, out);
	return rc;
}

/* The per-service rules that need no certificate: cert-required,
 * backend-required, edge-terminated, backend-verify, tls-legacy, and those
 * of rules_platform.c (webservices-port, platform-mismatch). */
int rules_check_service(const struct config *cfg,
			const struct config_service *svc, struct findings *out)
{
	const char *file = finding_file(cfg);
	char who[300];
	int rc = 0;
	bool terminates = svc->mode != CONFIG_MODE_PASSTHROUGH;

	finding_service_label(svc, who, sizeof(who));

	if (!svc->certificate) {
		if (terminates)
			rc |= findings_add(
				out, FINDING_ERROR, "cert-required", file,
				svc->line, who,
				"%s (%s) terminates TLS (mode = \"%s\") but "
				"names no certificate — add certificate "
				"= \"NAME\" naming a certificate section "
				"with its key",
				who, config_role_name(svc->role),
				config_mode_name(svc->mode));
		else if (svc->role != CONFIG_ROLE_AV_EDGE)
			rc |= findings_add(
				out, FINDING_WARN, "cert-required", file,
				svc->line, who,
				"%s (%s) names no certificate, so check "
				"cannot validate what the backend "
				"presents — name the certificate "
				"installed on the backend (certificate "
				"= \"NAME\", no key needed for "
				"passthrough)",
				who, config_role_name(svc->role));
	}

	/* Without a backend `run` would accept connections it can only
	 * drop (and http publishing has nowhere to send a request). */
	if (!svc->backend)
		rc |= findings_add(
			out, FINDING_ERROR, "backend-required", file, svc->line,
			who,
			"%s (%s, mode = \"%s\") names no backend, so "
			"edge443 would have nowhere to send its "
			"connections — add backend = \"NAME\" naming a "
			"backend section with the servers to forward "
			"to",
			who, config_role_name(svc->role),
			config_mode_name(svc->mode));

	if (roles_of(svc->role)->mtls_peer && terminates)
		rc |= findings_add(
			out, FINDING_WARN, "edge-terminated", file,
			finding_line(svc->mode_line, svc->line), who,
			"%s (%s) terminates TLS (mode = \"%s\"); clients "
			"and federation partners authenticate the Edge "
			"server itself (MTLS), which edge443 would hide "
			"— use mode = \"passthrough\" and install the "
			"certificate on the Edge server",
			who, config_role_name(svc->role),
			config_mode_name(svc->mode));

	if (svc->mode == CONFIG_MODE_REENCRYPT && svc->backend) {
		const struct config_backend *b =
			config_find_backend(cfg, svc->backend);
		if (b && b->verify && (!b->trust_file || !b->verify_name)) {
			char missing[64];
			snprintf(missing, sizeof(missing), "%s%s%s",
				 b->trust_file ? "" : "trust_file",
				 !b->trust_file && !b->verify_name ? " and "
								   : "",
				 b->verify_name ? "" : "verify_name");
			rc |= findings_add(
				out, FINDING_ERROR, "backend-verify", file,
				b->line, who,
				"%s re-encrypts to backend \"%s\", which has "
				"no "
				"%s, so the backend server could not be "
				"verified and edge443 refuses to bridge blind "
				"— add trust_file = \"INTERNAL-CA.pem\" and "
				"verify_name = \"SERVER-FQDN\" to backend "
				"\"%s\", or write verify = false to accept an "
				"unverified backend",
				who, b->name, missing, b->name);
		} else if (b && b->verify_set && !b->verify) {
			rc |= findings_add(
				out, FINDING_WARN, "backend-verify", file,
				finding_line(b->verify_line, b->line), who,
				"%s re-encrypts to backend \"%s\" with verify "
				"= "
				"false: anyone on the internal path can "
				"impersonate the backend server — set verify = "
				"true with trust_file and verify_name",
				who, b->name);
		}
	}

	int min = config_service_tls_min(cfg, svc);
	if (min > 0 && min < TLS1_2_VERSION)
		rc |= findings_add(
			out, FINDING_WARN, "tls-legacy", file,
			svc->tls_min
				? finding_line(svc->tls_min_line, svc->line)
				: finding_line(cfg->tls_min_line, svc->line),
			who,
			"%s allows TLS %s (tls_min = \"%s\"); TLS 1.0 and "
			"1.1 are deprecated (RFC 8996) — set tls_min = "
			"\"1.2\" unless very old clients must connect",
			who, config_tls_name(min), config_tls_name(min));
	rc |= rules_check_platform_service(cfg, svc, out);
	return rc;
}
