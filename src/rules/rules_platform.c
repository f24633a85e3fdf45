/* rules_platform.c — the per-service rules that depend on the platform.
 *
 * This part of the rules module judges one service against cfg->platform
 * (RULES.md "Platforms and the rules of 2026"): on Lync 2010 and later the
 * Edge certificate's subject is the Access Edge FQDN (edge-subject), the
 * reverse proxy's certificate covers lyncdiscover.<domain> for every SIP
 * domain (lyncdiscover-san) and every simple URL (simple-url-covered), and
 * the reverse proxy publishes the pool's external web site, never the
 * internal one (webservices-port); on Lync 2013 and later a wildcard is never
 * the subject and never comes before the FQDN (wildcard-placement); and a
 * plan should not use a role the platform does not have (platform-mismatch,
 * from the role table's platforms).  Names are matched with cert_covers
 * (X509_check_host), as fqdn-covered does.  rules_service.c runs it; like
 * all of rules it reads no file and prints nothing: it appends findings
 * (findings.c).
 */
#include "edge443/rules/rules_platform.h"
#include "edge443/config/roles.h"

#include <stdio.h>
#include <string.h>

/* Where each rule applies (ROLES_ON bits of enum config_platform). */
#define RULES_PLATFORM_LYNC_UP ROLES_LYNC_UP
#define RULES_PLATFORM_LYNC2013_UP ROLES_FROM(CONFIG_PLATFORM_LYNC2013)

static bool rules_platform_on(const struct config *cfg, unsigned platforms)
{
	return (platforms & ROLES_ON(cfg->platform)) != 0;
}

bool rules_wildcard_placement_on(enum config_platform platform)
{
	return (RULES_PLATFORM_LYNC2013_UP & ROLES_ON(platform)) != 0;
}

/* edge-subject: the documented subject of the Edge external certificate. */
static int rules_check_edge_subject(const struct config *cfg,
				    const struct config_service *svc,
				    const struct cert_info *ci, const char *who,
				    const char *sdesc, const char *cwho,
				    int line, struct findings *out)
{
	char cn[300];

	if (svc->role != CONFIG_ROLE_ACCESS_EDGE || !svc->fqdn ||
	    !rules_platform_on(cfg, RULES_PLATFORM_LYNC_UP) ||
	    finding_name_eq(ci->cn, svc->fqdn))
		return 0;
	if (ci->cn)
		snprintf(cn, sizeof(cn), "has subject CN %s", ci->cn);
	else
		snprintf(cn, sizeof(cn), "has no subject CN");
	return findings_add(
		out, FINDING_WARN, "edge-subject", finding_file(cfg), line, who,
		"%s has FQDN %s but %s %s; on %s the Edge external certificate "
		"serves Access Edge, Web Conferencing Edge and A/V "
		"authentication, and its documented subject is the Access Edge "
		"FQDN — reissue it with CN = %s and the other Edge FQDNs as "
		"SANs (edge443 plan)",
		sdesc, svc->fqdn, cwho, cn, config_platform_name(cfg->platform),
		svc->fqdn);
}

/* lyncdiscover-san and simple-url-covered: the reverse proxy's names. */
static int rules_check_rp_names(const struct config *cfg,
				const struct config_service *svc,
				const struct cert_info *ci, const char *who,
				const char *sdesc, const char *cwho,
				struct findings *out)
{
	const char *file = finding_file(cfg);
	int line = finding_line(svc->certificate_line, svc->line);
	char sans[512];
	int rc = 0;

	if (svc->role != CONFIG_ROLE_WEB_SERVICES ||
	    !rules_platform_on(cfg, RULES_PLATFORM_LYNC_UP))
		return 0;
	finding_san_list(ci, sans, sizeof(sans));
	for (size_t i = 0; i < svc->nsimple_urls; i++) {
		const char *name = svc->simple_urls[i];

		if (!name || cert_covers(ci, name))
			continue;
		rc |= findings_add(
			out, FINDING_ERROR, "simple-url-covered", file,
			finding_line(svc->simple_urls_line, line), who,
			"%s publishes the simple URL %s but %s does not cover "
			"it (DNS SANs: %s); users who join a meeting or open "
			"the dial-in page at https://%s get a certificate "
			"error — add %s as a SAN (edge443 plan)",
			sdesc, name, cwho, sans, name, name);
	}
	for (size_t i = 0; i < svc->nsip_domains; i++) {
		char name[300];

		snprintf(name, sizeof(name), "lyncdiscover.%s",
			 svc->sip_domains[i]);
		if (cert_covers(ci, name))
			continue;
		rc |= findings_add(
			out, FINDING_WARN, "lyncdiscover-san", file,
			finding_line(svc->sip_domains_line, line), who,
			"%s serves SIP domain %s but %s does not cover %s "
			"(DNS SANs: %s); mobile and desktop clients discover "
			"the web services at https://%s, and the HTTP-only "
			"fallback is weaker — add %s as a SAN (edge443 plan)",
			sdesc, svc->sip_domains[i], cwho, name, sans, name,
			name);
	}
	return rc;
}

/* wildcard-placement: a wildcard CN (error), or a wildcard SAN before the
 * FQDN or, when the FQDN is not listed as such, before an exact name
 * (warn: UC devices read the first SAN). */
static int rules_check_wildcard_placement(const struct config *cfg,
					  const struct config_service *svc,
					  const struct cert_info *ci,
					  const char *who, const char *sdesc,
					  const char *cwho, int line,
					  struct findings *out)
{
	const char *wild = NULL, *exact = NULL;
	size_t w = 0;
	char sans[512];

	if (!rules_wildcard_placement_on(cfg->platform))
		return 0;
	if (ci->cn && cert_name_is_wildcard(ci->cn))
		return findings_add(
			out, FINDING_ERROR, "wildcard-placement",
			finding_file(cfg), line, who,
			"%s uses %s, whose subject CN %s is a wildcard; on %s "
			"wildcards are supported only as SANs, never as the "
			"subject — reissue it with CN = %s and any wildcard as "
			"a SAN "
			"after the exact names (edge443 plan)",
			sdesc, cwho, ci->cn,
			config_platform_name(cfg->platform),
			svc->fqdn ? svc->fqdn : "the service FQDN");
	for (size_t i = 0; i < ci->nsans && !wild; i++)
		if (cert_name_is_wildcard(ci->sans[i])) {
			wild = ci->sans[i];
			w = i;
		}
	if (!wild)
		return 0;
	/* Where the FQDN is listed as an exact SAN, the wildcard must come
	 * after it; where it is not, after every exact name. */
	for (size_t i = 0; i < ci->nsans && svc->fqdn && !exact; i++)
		if (finding_name_eq(ci->sans[i], svc->fqdn)) {
			if (i < w)
				return 0;
			exact = ci->sans[i];
		}
	for (size_t i = w + 1; i < ci->nsans && !exact; i++)
		if (!cert_name_is_wildcard(ci->sans[i]))
			exact = ci->sans[i];
	if (!exact)
		return 0;
	finding_san_list(ci, sans, sizeof(sans));
	return findings_add(
		out, FINDING_WARN, "wildcard-placement", finding_file(cfg),
		line, who,
		"%s uses %s, whose wildcard SAN %s comes before %s (DNS SANs: "
		"%s); UC devices read only the first SAN — reissue it with "
		"the FQDN %s first and wildcards after every exact name "
		"(edge443 plan)",
		sdesc, cwho, wild, exact, sans, svc->fqdn ? svc->fqdn : exact);
}

int rules_check_platform_cert(const struct config *cfg,
			      const struct config_service *svc,
			      const struct config_cert *cc,
			      const struct cert_info *ci, struct findings *out)
{
	char who[300], sdesc[400], cwho[300];
	int line, rc = 0;

	if (!cfg || !svc || !ci || !ci->leaf)
		return 0;
	finding_service_label(svc, who, sizeof(who));
	snprintf(sdesc, sizeof(sdesc), "%s (%s)", who,
		 config_role_name(svc->role));
	finding_cert_label(cc, ci, cwho, sizeof(cwho));
	line = finding_line(svc->certificate_line, svc->line);

	rc |= rules_check_edge_subject(cfg, svc, ci, who, sdesc, cwho, line,
				       out);
	rc |= rules_check_rp_names(cfg, svc, ci, who, sdesc, cwho, out);
	rc |= rules_check_wildcard_placement(cfg, svc, ci, who, sdesc, cwho,
					     line, out);
	return rc;
}

/* webservices-port: the backend servers of a web-services service on 443 or
 * 80, the front end's internal web site. */
static int rules_check_webservices_port(const struct config *cfg,
					const struct config_service *svc,
					const char *who, struct findings *out)
{
	const struct config_backend *b;
	char bad[512];
	size_t used = 0, n = 0;

	if (svc->role != CONFIG_ROLE_WEB_SERVICES || !svc->backend ||
	    !rules_platform_on(cfg, RULES_PLATFORM_LYNC_UP))
		return 0;
	b = config_find_backend(cfg, svc->backend);
	if (!b)
		return 0; /* ref-unknown says so */
	bad[0] = '\0';
	for (size_t i = 0; i < b->nservers; i++) {
		int port = b->servers[i].port;
		int w;

		if (port != 443 && port != 80)
			continue;
		n++;
		if (used >= sizeof(bad))
			continue;
		w = snprintf(bad + used, sizeof(bad) - used, "%s%s",
			     used ? ", " : "",
			     b->servers[i].text ? b->servers[i].text : "?");
		if (w > 0)
			used += (size_t)w;
	}
	if (!n)
		return 0;
	return findings_add(
		out, FINDING_ERROR, "webservices-port", finding_file(cfg),
		finding_line(b->servers_line, b->line), who,
		"%s (web-services) forwards to backend \"%s\" on %s; ports 443 "
		"and 80 of a front-end server are its internal web site, and "
		"the reverse proxy must publish the external one — point "
		"backend \"%s\" at port 4443 (for 443) and 8080 (for 80)",
		who, b->name, bad, b->name);
}

/* platform-mismatch: a role that cfg->platform does not have. */
static int rules_check_platform_mismatch(const struct config *cfg,
					 const struct config_service *svc,
					 const char *who, struct findings *out)
{
	const struct roles_facts *role = roles_of(svc->role);
	const char *platform = config_platform_name(cfg->platform);
	const char *why, *todo;

	if (roles_on_platform(cfg->platform, svc->role))
		return 0;
	if (role->platforms == ROLES_OCS) {
		why = "it belongs to OCS 2007 R2; Lync 2010 and later publish "
		      "the pool's external web services through the reverse "
		      "proxy instead";
		todo = "use role = \"web-services\" for the external web "
		       "services (or \"web\" for another site), or set "
		       "platform = \"ocs2007r2\" if the servers are OCS "
		       "2007 R2";
	} else if (role->platforms == ROLES_LYNC_UP) {
		why = "it is published by the reverse proxy of Lync 2010 and "
		      "later";
		todo = "set platform to the version the servers run "
		       "(lync2010, lync2013, sfb2015, sfb2019 or sfbse), or "
		       "use role = \"cwa\" or \"web\" on OCS 2007 R2";
	} else {
		why = "the platform has no such role";
		todo = "set platform to the version the servers run, or "
		       "choose another role";
	}
	return findings_add(
		out, FINDING_WARN, "platform-mismatch", finding_file(cfg),
		finding_line(svc->role_line, svc->line), who,
		"%s has role %s (%s), which platform %s does not have: %s — "
		"%s",
		who, config_role_name(svc->role), role->title, platform, why,
		todo);
}

int rules_check_platform_service(const struct config *cfg,
				 const struct config_service *svc,
				 struct findings *out)
{
	char who[300];
	int rc = 0;

	if (!cfg || !svc)
		return 0;
	finding_service_label(svc, who, sizeof(who));
	rc |= rules_check_webservices_port(cfg, svc, who, out);
	rc |= rules_check_platform_mismatch(cfg, svc, who, out);
	return rc;
}
