/* order.c — the smallest certificate set that satisfies the plan rules.
 *
 * Pure logic over a `struct config`: no I/O, no OpenSSL.  It groups the
 * services into classes (public or internal; on Lync 2010 and later also
 * Edge or reverse proxy), lets every service whose CN must be its FQDN
 * (order_role_seeds, from the role table of roles.c) seed a certificate with
 * its FQDN as CN, and on Lync 2010 and later lets the Access Edge lead the
 * one Edge certificate and the external web services the reverse-proxy
 * certificate; it puts the other services on one of those as SANs (or lets
 * the first of them seed one when its class has none) and works out each
 * certificate's SAN list, EKU and name.  The result is what
 * `edge443 plan` prints and what csr.c turns into keys, requests and lab
 * certificates; it is built to pass every rule of rules.c.  The choices are
 * deterministic: the same config always gives the same plan.
 */
#include "edge443/order/order.h"

#include "edge443/cert/cert.h"
#include "edge443/base/names.h"
#include "edge443/base/ossl_err.h"
#include "edge443/config/roles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 5280 ub-common-name: a longer FQDN cannot be a subject CN. */
#define ORDER_CN_MAX 64
#define ORDER_NAME_MAX 253

bool order_role_seeds(const struct config *cfg, enum config_role role)
{
	enum config_platform platform =
		cfg ? cfg->platform : CONFIG_PLATFORM_OCS2007R2;

	return roles_cn_is_fqdn(platform, role) == ROLES_CN_MUST;
}

/* Lync Server 2010 or a later platform: one Edge certificate, a reverse
 * proxy with its own. */
static bool order_lync_up(const struct config *cfg)
{
	return (ROLES_LYNC_UP & ROLES_ON(cfg->platform)) != 0;
}

/* Published by the reverse proxy on CFG's platform (roles_facts
 * .reverse_proxy, where the platform has the role): its names go on the
 * reverse-proxy certificate, never on the Edge one. */
static bool order_svc_rp(const struct config *cfg,
			 const struct config_service *svc)
{
	return roles_of(svc->role)->reverse_proxy &&
	       roles_on_platform(cfg->platform, svc->role);
}

/* On Lync 2010 and later, where nothing is CN-bound, the service that leads
 * its class's certificate: the Access Edge (its FQDN is the documented
 * subject of the Edge certificate) and the external web services (the
 * first name of the reverse-proxy certificate). */
static bool order_svc_leads(const struct config *cfg,
			    const struct config_service *svc)
{
	if (!order_lync_up(cfg) || order_role_seeds(cfg, svc->role))
		return false;
	return svc->role == CONFIG_ROLE_ACCESS_EDGE ||
	       (svc->role == CONFIG_ROLE_WEB_SERVICES &&
		order_svc_rp(cfg, svc));
}

/* Does the FQDN of SVC go on its certificate?  Always, except the A/V Edge
 * on Lync 2010 and later: its authentication rides on the Edge certificate
 * without its external FQDN, unless the service names a certificate (then
 * fqdn-covered wants the name on it). */
static bool order_fqdn_on_cert(const struct config *cfg,
			       const struct config_service *svc)
{
	return !(order_lync_up(cfg) && svc->role == CONFIG_ROLE_AV_EDGE &&
		 !(svc->certificate && *svc->certificate));
}

/* A host name a CA can put in a dNSName (names_dns_why), and neither a
 * wildcard nor an IP literal, which edge443 plan never orders.  On failure
 * writes why into WHY. */
static bool order_name_ok(const char *name, const char **why)
{
	if (name && strchr(name, '*')) {
		*why = "is a wildcard; edge443 plan never plans wildcards "
		       "(Access Edge, Web Conferencing Edge and CWA refuse "
		       "them) — name the host itself";
		return false;
	}
	if (names_ip_literal(name)) {
		*why = "is an IP address; planned certificates carry DNS "
		       "names — use the host name clients connect to";
		return false;
	}
	*why = names_dns_why(name);
	return *why == NULL;
}

static char *order_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d)
		memcpy(d, s, n);
	return d;
}

static char *order_concat(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *d = malloc(la + lb + 1);

	if (!d)
		return NULL;
	memcpy(d, a, la);
	memcpy(d + la, b, lb + 1);
	return d;
}

static void order_cert_clear(struct order_cert *oc)
{
	free(oc->name);
	for (size_t i = 0; i < oc->nsans; i++)
		free(oc->sans[i]);
	free(oc->sans);
	free(oc->services);
	memset(oc, 0, sizeof(*oc));
}

void order_plan_free(struct order_plan *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < plan->n; i++)
		order_cert_clear(&plan->certs[i]);
	free(plan->certs);
	free(plan);
}

const struct order_cert *order_plan_find_service(const struct order_plan *plan,
						 size_t svc)
{
	for (size_t i = 0; plan && i < plan->n; i++)
		for (size_t j = 0; j < plan->certs[i].nservices; j++)
			if (plan->certs[i].services[j] == svc)
				return &plan->certs[i];
	return NULL;
}

/* Append NAME (copied) unless it is already there, compared without case.
 * Returns 0, -1 on allocation failure. */
static int order_add_san(struct order_cert *oc, const char *name)
{
	char **grown;

	for (size_t i = 0; i < oc->nsans; i++)
		if (strcasecmp(oc->sans[i], name) == 0)
			return 0;
	grown = realloc(oc->sans, (oc->nsans + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	oc->sans = grown;
	oc->sans[oc->nsans] = order_strdup(name);
	if (!oc->sans[oc->nsans])
		return -1;
	oc->nsans++;
	return 0;
}

/* Add a prefix + name SAN, e.g. "as." + "cwa.example.com". */
static int order_add_san_prefixed(struct order_cert *oc, const char *prefix,
				  const char *name)
{
	char *s = order_concat(prefix, name);
	int rc;

	if (!s)
		return -1;
	rc = order_add_san(oc, s);
	free(s);
	return rc;
}

static bool order_svc_internal(const struct config_service *svc)
{
	return roles_of(svc->role)->internal ||
	       cert_name_is_internal(svc->fqdn);
}

/* Is certificate OC of the class of SVC (internal or public, reverse proxy
 * or not)? */
static bool order_same_class(const struct config *cfg,
			     const struct order_cert *oc,
			     const struct config_service *svc)
{
	return oc->internal == order_svc_internal(svc) &&
	       oc->reverse_proxy == order_svc_rp(cfg, svc);
}

/* Start a new certificate with CN = FQDN of service index S.  Returns its
 * index, or -1 on allocation failure. */
static long order_seed(struct order_plan *plan, const struct config *cfg,
		       size_t s)
{
	struct order_cert *grown;
	struct order_cert *oc;

	grown = realloc(plan->certs, (plan->n + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	plan->certs = grown;
	oc = &plan->certs[plan->n];
	memset(oc, 0, sizeof(*oc));
	oc->internal = order_svc_internal(&cfg->services[s]);
	oc->reverse_proxy = order_svc_rp(cfg, &cfg->services[s]);
	plan->n++;
	if (order_add_san(oc, cfg->services[s].fqdn) < 0)
		return -1;
	oc->cn = oc->sans[0];
	return (long)(plan->n - 1);
}

/* The first certificate of the plan of the class of SVC that a service of
 * ROLE seeded as its own (CN-bound or leading: CHOSEN[i]), or -1.  OWNER[i]
 * is the seeding service of cert i. */
static long order_find_role(const struct order_plan *plan,
			    const struct config *cfg, const size_t *owner,
			    const bool *chosen, enum config_role role,
			    const struct config_service *svc)
{
	for (size_t i = 0; i < plan->n; i++)
		if (chosen[i] && order_same_class(cfg, &plan->certs[i], svc) &&
		    cfg->services[owner[i]].role == role)
			return (long)i;
	return -1;
}

static long order_find_class(const struct order_plan *plan,
			     const struct config *cfg,
			     const struct config_service *svc)
{
	for (size_t i = 0; i < plan->n; i++)
		if (order_same_class(cfg, &plan->certs[i], svc))
			return (long)i;
	return -1;
}

/* Which certificate a rider (a service that seeds none) goes on, or -1 when its
 * class has none yet: the reverse-proxy services on the external web
 * services' certificate; A/V on the Web Conferencing Edge's (CN-bound), else
 * the Access Edge's; the others on the Access Edge's; else the first of the
 * class. */
static long order_pick(const struct order_plan *plan, const struct config *cfg,
		       const size_t *owner, const bool *chosen,
		       const struct config_service *svc)
{
	long k = -1;

	if (order_svc_rp(cfg, svc))
		k = order_find_role(plan, cfg, owner, chosen,
				    CONFIG_ROLE_WEB_SERVICES, svc);
	else if (svc->role == CONFIG_ROLE_AV_EDGE)
		k = order_find_role(plan, cfg, owner, chosen,
				    CONFIG_ROLE_WEBCONF_EDGE, svc);
	if (k < 0 && !order_svc_rp(cfg, svc))
		k = order_find_role(plan, cfg, owner, chosen,
				    CONFIG_ROLE_ACCESS_EDGE, svc);
	if (k < 0)
		k = order_find_class(plan, cfg, svc);
	return k;
}

static bool order_name_taken(const struct order_plan *plan, size_t upto,
			     const char *name)
{
	for (size_t i = 0; i < upto; i++)
		if (plan->certs[i].name &&
		    strcmp(plan->certs[i].name, name) == 0)
			return true;
	return false;
}

/* Name every certificate: the config section that the first of its services
 * names (when no earlier certificate took it), else "certN" with the
 * smallest N not used by the plan or by a config section. */
static int order_name_certs(struct order_plan *plan, const struct config *cfg)
{
	unsigned next = 1;

	for (size_t i = 0; i < plan->n; i++) {
		struct order_cert *oc = &plan->certs[i];
		for (size_t j = 0; j < oc->nservices && !oc->name; j++) {
			const char *want =
				cfg->services[oc->services[j]].certificate;
			if (want && *want && !order_name_taken(plan, i, want)) {
				oc->name = order_strdup(want);
				if (!oc->name)
					return -1;
			}
		}
	}
	for (size_t i = 0; i < plan->n; i++) {
		struct order_cert *oc = &plan->certs[i];
		char buf[32];
		if (oc->name)
			continue;
		for (;;) {
			snprintf(buf, sizeof(buf), "cert%u", next++);
			if (!order_name_taken(plan, plan->n, buf) &&
			    !config_find_cert(cfg, buf))
				break;
		}
		oc->name = order_strdup(buf);
		if (!oc->name)
			return -1;
	}
	return 0;
}

/* Add PREFIX + each of SVC's sip_domains ("sip.", "lyncdiscover."). */
static int order_add_domains(struct order_cert *oc,
			     const struct config_service *svc,
			     const char *prefix)
{
	for (size_t d = 0; d < svc->nsip_domains; d++)
		if (order_add_san_prefixed(oc, prefix, svc->sip_domains[d]) < 0)
			return -1;
	return 0;
}

/* The names one service puts on its certificate, after its FQDN: CWA's
 * as./download. names, the external web services' simple URLs and
 * lyncdiscover.<domain> names, and on OCS 2007 R2 the Access Edge's
 * sip.<domain> names (on Lync 2010 and later those follow every service
 * FQDN of the Edge certificate). */
static int order_add_derived(struct order_cert *oc, const struct config *cfg,
			     const struct config_service *svc)
{
	if (svc->role == CONFIG_ROLE_CWA &&
	    (order_add_san_prefixed(oc, "as.", svc->fqdn) < 0 ||
	     order_add_san_prefixed(oc, "download.", svc->fqdn) < 0))
		return -1;
	if (svc->role == CONFIG_ROLE_WEB_SERVICES) {
		for (size_t u = 0; u < svc->nsimple_urls; u++)
			if (order_add_san(oc, svc->simple_urls[u]) < 0)
				return -1;
		if (order_add_domains(oc, svc, "lyncdiscover.") < 0)
			return -1;
	}
	if (svc->role == CONFIG_ROLE_ACCESS_EDGE && !order_lync_up(cfg) &&
	    order_add_domains(oc, svc, "sip.") < 0)
		return -1;
	return 0;
}

/* The FQDN (order_fqdn_on_cert) and derived names of SVC, and its EKU. */
static int order_add_service(struct order_cert *oc, const struct config *cfg,
			     const struct config_service *svc)
{
	if (order_fqdn_on_cert(cfg, svc) && order_add_san(oc, svc->fqdn) < 0)
		return -1;
	if (order_add_derived(oc, cfg, svc) < 0)
		return -1;
	if (svc->federation)
		oc->client_auth = true;
	return 0;
}

/* SANs of every certificate: CN first (already there), then for each of its
 * services in service order the FQDN and the names derived from it
 * (order_add_service) — on Lync 2010 and later the service that seeded it
 * (OWNER) first, then the others, then the Access Edge's sip.<domain>
 * names; and the EKU. */
static int order_fill(struct order_plan *plan, const struct config *cfg,
		      const size_t *owner)
{
	bool lync_up = order_lync_up(cfg);

	for (size_t i = 0; i < plan->n; i++) {
		struct order_cert *oc = &plan->certs[i];
		if (lync_up &&
		    order_add_service(oc, cfg, &cfg->services[owner[i]]) < 0)
			return -1;
		for (size_t j = 0; j < oc->nservices; j++)
			if (!(lync_up && oc->services[j] == owner[i]) &&
			    order_add_service(oc, cfg,
					      &cfg->services[oc->services[j]]) <
				    0)
				return -1;
		for (size_t j = 0; lync_up && j < oc->nservices; j++) {
			const struct config_service *svc =
				&cfg->services[oc->services[j]];
			if (svc->role == CONFIG_ROLE_ACCESS_EDGE &&
			    order_add_domains(oc, svc, "sip.") < 0)
				return -1;
		}
		oc->cn = oc->sans[0];
	}
	return 0;
}

/* Refuse a sip_domains entry of SVC that gives no plannable PREFIX.<domain>
 * name ("sip.", "lyncdiscover."). */
static int order_validate_domains(const struct config *cfg,
				  const struct config_service *svc,
				  const char *prefix, char *err, size_t errlen)
{
	const char *file = cfg->file ? cfg->file : "(config)";
	const char *why = NULL;
	char name[ORDER_NAME_MAX + 16];
	int dline = svc->sip_domains_line ? svc->sip_domains_line : svc->line;

	for (size_t d = 0; d < svc->nsip_domains; d++) {
		snprintf(name, sizeof(name), "%s%s", prefix,
			 svc->sip_domains[d]);
		if (strlen(svc->sip_domains[d]) > ORDER_NAME_MAX ||
		    !order_name_ok(name, &why)) {
			ossl_err_printf(err, errlen,
					"%s:%d: service \"%s\": sip_domains "
					"entry \"%s\" gives %s%s, which %s",
					file, dline, svc->name,
					svc->sip_domains[d], prefix,
					svc->sip_domains[d], why);
			return -1;
		}
	}
	return 0;
}

/* Refuse names that cannot be planned, with the service and option. */
static int order_validate(const struct config *cfg, char *err, size_t errlen)
{
	const char *file = cfg->file ? cfg->file : "(config)";
	const char *why = NULL;

	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct config_service *svc = &cfg->services[i];
		int line = svc->fqdn_line ? svc->fqdn_line : svc->line;
		if (!svc->fqdn) {
			ossl_err_printf(
				err, errlen,
				"%s:%d: service \"%s\" has no fqdn; edge443 "
				"plan needs the name clients connect to — "
				"add fqdn = \"...\"",
				file, svc->line, svc->name);
			return -1;
		}
		if (!order_name_ok(svc->fqdn, &why)) {
			ossl_err_printf(err, errlen,
					"%s:%d: service \"%s\": fqdn \"%s\" %s",
					file, line, svc->name, svc->fqdn, why);
			return -1;
		}
		if (order_role_seeds(cfg, svc->role) &&
		    strlen(svc->fqdn) > ORDER_CN_MAX) {
			ossl_err_printf(
				err, errlen,
				"%s:%d: service \"%s\": fqdn \"%s\" is longer "
				"than the 64 characters a certificate CN can "
				"hold, and a %s takes its FQDN from the CN — "
				"use a shorter name",
				file, line, svc->name, svc->fqdn,
				config_role_name(svc->role));
			return -1;
		}
		if (svc->role == CONFIG_ROLE_ACCESS_EDGE &&
		    order_validate_domains(cfg, svc, "sip.", err, errlen) < 0)
			return -1;
		if (svc->role == CONFIG_ROLE_WEB_SERVICES &&
		    order_validate_domains(cfg, svc, "lyncdiscover.", err,
					   errlen) < 0)
			return -1;
		for (size_t u = 0; svc->role == CONFIG_ROLE_WEB_SERVICES &&
				   u < svc->nsimple_urls;
		     u++) {
			int uline = svc->simple_urls_line
					    ? svc->simple_urls_line
					    : svc->line;
			if (!order_name_ok(svc->simple_urls[u], &why)) {
				ossl_err_printf(
					err, errlen,
					"%s:%d: service \"%s\": simple_urls "
					"entry \"%s\" %s",
					file, uline, svc->name,
					svc->simple_urls[u], why);
				return -1;
			}
		}
	}
	return 0;
}

/* Add service index S to certificate K. */
static int order_attach(struct order_plan *plan, long k, size_t s)
{
	struct order_cert *oc = &plan->certs[k];
	size_t *grown =
		realloc(oc->services, (oc->nservices + 1) * sizeof(*grown));

	if (!grown)
		return -1;
	oc->services = grown;
	oc->services[oc->nservices++] = s;
	return 0;
}

/* Keep each certificate's service list in service order (riders are
 * attached after the seeds). */
static void order_sort_services(struct order_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		struct order_cert *oc = &plan->certs[i];
		for (size_t a = 1; a < oc->nservices; a++) {
			size_t v = oc->services[a], b = a;
			while (b > 0 && oc->services[b - 1] > v) {
				oc->services[b] = oc->services[b - 1];
				b--;
			}
			oc->services[b] = v;
		}
	}
}

struct order_plan *order_plan_new(const struct config *cfg, char *err,
				  size_t errlen)
{
	struct order_plan *plan = NULL;
	size_t *owner = NULL; /* owner[k]: the service that seeded cert k */
	bool *chosen = NULL;  /* chosen[k]: seeded by a CN-bound or leading
				 service, not by the first rider */
	bool *placed = NULL;  /* placed[s]: service s is on a certificate */
	size_t nalloc;

	if (err && errlen)
		err[0] = '\0';
	if (!cfg) {
		ossl_err_printf(err, errlen, "no configuration");
		return NULL;
	}
	if (order_validate(cfg, err, errlen) < 0)
		return NULL;
	nalloc = cfg->nservices ? cfg->nservices : 1;
	plan = calloc(1, sizeof(*plan));
	owner = calloc(nalloc, sizeof(*owner));
	chosen = calloc(nalloc, sizeof(*chosen));
	placed = calloc(nalloc, sizeof(*placed));
	if (!plan || !owner || !chosen || !placed)
		goto oom;

	/* Pass 1: the services whose CN must be their FQDN seed (two with
	 * one FQDN share); on Lync 2010 and later the first leading service
	 * of each class (Access Edge, external web services) seeds. */
	for (size_t s = 0; s < cfg->nservices; s++) {
		const struct config_service *svc = &cfg->services[s];
		bool seeds = order_role_seeds(cfg, svc->role);
		long k = -1;
		if (!seeds && !order_svc_leads(cfg, svc))
			continue;
		if (seeds) {
			for (size_t i = 0; i < plan->n && k < 0; i++)
				if (order_same_class(cfg, &plan->certs[i],
						     svc) &&
				    strcasecmp(plan->certs[i].cn, svc->fqdn) ==
					    0)
					k = (long)i;
		} else if (order_find_role(plan, cfg, owner, chosen, svc->role,
					   svc) >= 0) {
			continue; /* a later one of its role rides */
		}
		if (k < 0) {
			k = order_seed(plan, cfg, s);
			if (k < 0)
				goto oom;
			owner[k] = s;
			chosen[k] = true;
		}
		if (order_attach(plan, k, s) < 0)
			goto oom;
		placed[s] = true;
	}
	/* Pass 2: the others ride on a certificate of their class; those
	 * whose FQDN goes on no certificate (A/V on lync2010+) last, so that
	 * they seed one only when nothing else does. */
	for (size_t n = 0; n < 2 * cfg->nservices; n++) {
		size_t s = n % cfg->nservices;
		const struct config_service *svc = &cfg->services[s];
		long k;
		if (placed[s] ||
		    order_fqdn_on_cert(cfg, svc) != (n < cfg->nservices))
			continue;
		k = order_pick(plan, cfg, owner, chosen, svc);
		if (k < 0) {
			k = order_seed(plan, cfg, s);
			if (k < 0)
				goto oom;
			owner[k] = s;
		}
		if (order_attach(plan, k, s) < 0)
			goto oom;
		placed[s] = true;
	}
	order_sort_services(plan);
	if (order_fill(plan, cfg, owner) < 0 || order_name_certs(plan, cfg) < 0)
		goto oom;
	for (size_t i = 0; i < plan->n; i++) {
		const struct order_cert *oc = &plan->certs[i];
		if (strlen(oc->cn) > ORDER_CN_MAX) {
			const struct config_service *svc =
				&cfg->services[owner[i]];
			ossl_err_printf(
				err, errlen,
				"%s:%d: service \"%s\": fqdn \"%s\" would be "
				"the CN of certificate \"%s\", but a CN holds "
				"at most 64 characters — use a shorter name, "
				"or add a service with a shorter FQDN first",
				cfg->file ? cfg->file : "(config)",
				svc->fqdn_line ? svc->fqdn_line : svc->line,
				svc->name, svc->fqdn, oc->name);
			order_plan_free(plan);
			plan = NULL;
			goto done;
		}
	}
	for (size_t i = 0; i < plan->n; i++) {
		if (plan->certs[i].internal)
			plan->ninternal++;
		else
			plan->npublic++;
	}
done:
	free(owner);
	free(chosen);
	free(placed);
	return plan;
oom:
	ossl_err_printf(err, errlen,
			"out of memory while planning certificates");
	order_plan_free(plan);
	plan = NULL;
	goto done;
}
