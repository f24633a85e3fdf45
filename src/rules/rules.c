/* rules.c — the certificate-plan rules of `edge443 check`, as one call.
 *
 * This module judges a plan: it takes the plain `struct config` from
 * config.c and the `struct cert_info` facts that cert.c read for each
 * certificate section, applies the per-certificate rules (rules_cert.c, with
 * rules_issuer.c), the per-service rules (rules_service.c, with
 * rules_platform.c) and the plan-wide rules (here: listen
 * clashes, shared CNs, unknown references, unused sections), and appends
 * findings (severity, rule id, file:line, what is wrong — what to do), sorted
 * by line.  The findings list and the words every rule file uses are
 * findings.c's, the role facts roles.c's.  It reads no file itself:
 * rules_load_certs is the one place that asks cert.c to load certificates and
 * verify chains, so that rules_check stays pure logic over structs and is
 * unit-tested as such.  It does not print (report.c formats the findings) and
 * it does not decide exit codes (main.c does, from the error count).
 *
 * Every rule id is a string literal listed in rules_ids; findings point
 * at the line of the option they are about, falling back to the line of its
 * section, so that a user can go straight to what needs changing.
 */
#include "edge443/rules/rules.h"
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

const char *const rules_ids[] = {
	/* Per certificate */
	"file-unreadable",
	"key-missing",
	"key-match",
	"key-perms",
	"key-strength",
	"sig-weak",
	"eku-server",
	"ku-mismatch",
	"san-present",
	"cn-in-san",
	"san-order",
	"not-yet-valid",
	"expired",
	"expires-soon",
	"validity-cap",
	"chain-incomplete",
	"chain-extra",
	"internal-name",
	"crl-dp-present",	 /* rules_issuer.c */
	"aia-present",		 /* rules_issuer.c */
	"intermediate-expiring", /* rules_issuer.c */
	/* Per service, by role */
	"cert-required",
	"backend-required",
	"fqdn-covered",
	"cn-is-fqdn",
	"wildcard-forbidden",
	"eku-client",
	"sip-domain-san",
	"edge-terminated",
	"cwa-sans",
	"backend-verify",
	"public-clientauth",
	"edge-subject", /* rules_platform.c, as the next five */
	"lyncdiscover-san",
	"simple-url-covered",
	"wildcard-placement",
	"webservices-port",
	"platform-mismatch",
	/* Across the plan */
	"listen-unique",
	"fqdn-port-unique",
	"tls-legacy",
	"cn-shared",
	"ref-unknown",
	"unused",
	"user-exists", /* validate.c: a lookup, not a rule over the structs */
	/* Probe (reported by probe through findings_add) */
	"unreachable",
	"served-differs",
	"served-chain-incomplete",
	"served-no-sni",
	"pool-consistent",
	NULL,
};

/* Index of the certificate section NAME in cfg->certs, -1 when undefined. */
static long rules_cert_index(const struct config *cfg, const char *name)
{
	if (!name)
		return -1;
	for (size_t i = 0; i < cfg->ncerts; i++)
		if (cfg->certs[i].name && strcmp(cfg->certs[i].name, name) == 0)
			return (long)i;
	return -1;
}

/* The loaded facts for certificate section NAME, NULL when it is undefined. */
static const struct cert_info *rules_cert_for(const struct config *cfg,
					      const struct rules_certs *pc,
					      const char *name,
					      const struct config_cert **cc)
{
	long i = rules_cert_index(cfg, name);

	*cc = NULL;
	if (i < 0)
		return NULL;
	*cc = &cfg->certs[i];
	return pc && (size_t)i < pc->n ? pc->certs[i] : NULL;
}

/* ---- across the plan -------------------------------------------------- */

/* 0: different sockets; 1: the same address and port; 2: a wildcard address
 * and a specific one of the same family on the same port. */
static int rules_addr_clash(const struct config_addr *a,
			    const struct config_addr *b)
{
	const struct sockaddr *sa = (const struct sockaddr *)&a->sa;
	const struct sockaddr *sb = (const struct sockaddr *)&b->sa;

	if (sa->sa_family != sb->sa_family || a->port != b->port)
		return 0;
	if (sa->sa_family == AF_INET) {
		struct in_addr x = ((const struct sockaddr_in *)sa)->sin_addr;
		struct in_addr y = ((const struct sockaddr_in *)sb)->sin_addr;
		if (x.s_addr == y.s_addr)
			return 1;
		return x.s_addr == htonl(INADDR_ANY) ||
				       y.s_addr == htonl(INADDR_ANY)
			       ? 2
			       : 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *x =
			&((const struct sockaddr_in6 *)sa)->sin6_addr;
		const struct in6_addr *y =
			&((const struct sockaddr_in6 *)sb)->sin6_addr;
		if (memcmp(x, y, sizeof(*x)) == 0)
			return 1;
		return IN6_IS_ADDR_UNSPECIFIED(x) || IN6_IS_ADDR_UNSPECIFIED(y)
			       ? 2
			       : 0;
	}
	return 0;
}

/* listen-unique for listen address K of service J, against every earlier
 * listen address (of earlier services, and earlier in J's own list). */
static int rules_check_listen(const struct config *cfg, size_t j, size_t k,
			      struct findings *out)
{
	const struct config_service *b = &cfg->services[j];
	const struct config_addr *addr = &b->listen[k];
	char who[300];

	finding_service_label(b, who, sizeof(who));
	for (size_t i = 0; i <= j; i++) {
		const struct config_service *a = &cfg->services[i];
		size_t nl = i == j ? k : a->nlisten;

		for (size_t l = 0; l < nl; l++) {
			int clash = rules_addr_clash(addr, &a->listen[l]);
			int line = finding_line(b->listen_line, b->line);

			if (!clash)
				continue;
			if (clash == 2)
				return findings_add(
					out, FINDING_ERROR, "listen-unique",
					finding_file(cfg), line, who,
					"%s listens on %s, which overlaps %s "
					"of service \"%s\" (line %d): a "
					"wildcard address takes the port on "
					"every address of the host — listen on "
					"specific addresses, one per service",
					who, addr->text, a->listen[l].text,
					a->name,
					finding_line(a->listen_line, a->line));
			if (i == j)
				return findings_add(
					out, FINDING_ERROR, "listen-unique",
					finding_file(cfg), line, who,
					"%s lists %s twice — remove the "
					"duplicate",
					who, addr->text);
			return findings_add(
				out, FINDING_ERROR, "listen-unique",
				finding_file(cfg), line, who,
				"%s listens on %s, which service \"%s\" "
				"(line %d) already uses — give every "
				"service its own IP address on port %d",
				who, addr->text, a->name,
				finding_line(a->listen_line, a->line),
				addr->port);
		}
	}
	return 0;
}

/* The first port that services A and B both listen on, 0 when none. */
static int rules_shared_port(const struct config_service *a,
			     const struct config_service *b)
{
	for (size_t k = 0; k < a->nlisten; k++)
		for (size_t l = 0; l < b->nlisten; l++)
			if (a->listen[k].port == b->listen[l].port)
				return a->listen[k].port;
	return 0;
}

/* cn-shared for the pair (A earlier, B later) of CN-bound services. */
static int rules_check_cn_shared(const struct config *cfg,
				 const struct rules_certs *pc,
				 const struct config_service *a,
				 const struct config_service *b,
				 struct findings *out)
{
	const struct config_cert *ca, *cb;
	const struct cert_info *ia, *ib;
	char who[300], certs[1024];
	int port;

	if (!roles_cn_bound(cfg->platform, a->role) ||
	    !roles_cn_bound(cfg->platform, b->role) || !a->certificate ||
	    !b->certificate)
		return 0;
	port = rules_shared_port(a, b);
	if (!port)
		return 0;
	ia = rules_cert_for(cfg, pc, a->certificate, &ca);
	ib = rules_cert_for(cfg, pc, b->certificate, &cb);
	if (!ca || !cb)
		return 0;
	const char *cna = ia && ia->leaf ? ia->cn : NULL;
	const char *cnb = ib && ib->leaf ? ib->cn : NULL;
	const char *cn = cnb ? cnb : "one CN";

	if (ca == cb)
		snprintf(certs, sizeof(certs), "certificate \"%s\" (CN %s)",
			 cb->name, cn);
	else if (finding_name_eq(cna, cnb))
		snprintf(certs, sizeof(certs),
			 "certificates \"%s\" and \"%s\", which have the same "
			 "CN %s",
			 ca->name, cb->name, cn);
	else
		return 0;
	finding_service_label(b, who, sizeof(who));
	return findings_add(
		out, FINDING_ERROR, "cn-shared", finding_file(cfg),
		finding_line(b->certificate_line, b->line), who,
		"%s (%s) and service \"%s\" (%s, line %d) both listen on port "
		"%d with %s; Access Edge and Web Conferencing Edge "
		"revert their FQDN to the certificate CN, so both would claim "
		"%s — give each its own certificate with CN = its FQDN "
		"(%s and %s); run `edge443 plan` to compute the certificates "
		"to order",
		who, config_role_name(b->role), a->name,
		config_role_name(a->role), finding_line(a->line, 0), port,
		certs, cn, b->fqdn ? b->fqdn : "?", a->fqdn ? a->fqdn : "?");
}

static int rules_check_across(const struct config *cfg,
			      const struct rules_certs *pc,
			      struct findings *out)
{
	const char *file = finding_file(cfg);
	int rc = 0;

	for (size_t j = 0; j < cfg->nservices; j++) {
		const struct config_service *b = &cfg->services[j];
		char who[300];

		finding_service_label(b, who, sizeof(who));
		for (size_t k = 0; k < b->nlisten; k++)
			rc |= rules_check_listen(cfg, j, k, out);
		for (size_t i = 0; i < j; i++) {
			const struct config_service *a = &cfg->services[i];
			int port = rules_shared_port(a, b);

			if (port && finding_name_eq(a->fqdn, b->fqdn))
				rc |= findings_add(
					out, FINDING_ERROR, "fqdn-port-unique",
					file,
					finding_line(b->fqdn_line, b->line),
					who,
					"%s has FQDN %s on port %d, like "
					"service "
					"\"%s\" (line %d); a client resolving "
					"%s reaches only one of them — give "
					"one "
					"of them another FQDN or another port",
					who, b->fqdn, port, a->name,
					finding_line(a->fqdn_line, a->line),
					b->fqdn);
			rc |= rules_check_cn_shared(cfg, pc, a, b, out);
		}
	}

	for (size_t i = 0; i < cfg->ncerts; i++) {
		const struct config_cert *cc = &cfg->certs[i];
		bool used = false;
		for (size_t j = 0; j < cfg->nservices && !used; j++)
			used = config_service_uses_cert(&cfg->services[j],
							cc->name);
		if (!used) {
			char who[300];
			finding_cert_label(cc, NULL, who, sizeof(who));
			rc |= findings_add(
				out, FINDING_WARN, "unused", file, cc->line,
				who,
				"%s is used by no service — remove it, "
				"or name it in a service (certificate = "
				"\"%s\")",
				who, cc->name);
		}
	}
	for (size_t i = 0; i < cfg->nbackends; i++) {
		const struct config_backend *be = &cfg->backends[i];
		bool used = false;
		for (size_t j = 0; j < cfg->nservices && !used; j++)
			used = cfg->services[j].backend &&
			       strcmp(cfg->services[j].backend, be->name) == 0;
		if (!used) {
			char who[300];
			snprintf(who, sizeof(who), "backend \"%s\"", be->name);
			rc |= findings_add(
				out, FINDING_WARN, "unused", file, be->line,
				who,
				"%s is used by no service — remove it, "
				"or name it in a service (backend = "
				"\"%s\")",
				who, be->name);
		}
	}
	return rc;
}

/* ---- the whole plan --------------------------------------------------- */

int rules_check(const struct config *cfg, const struct rules_certs *pc,
		time_t now, struct findings *out)
{
	const char *file = finding_file(cfg);
	size_t start = out->n;
	int rc = 0;

	if (pc && !pc->trust_ok)
		rc |= findings_add(
			out, FINDING_ERROR, "file-unreadable", file,
			cfg->trust_file_line, "trust_file",
			"trust_file %s cannot be used (%s), so no chain "
			"was verified — point trust_file at a readable "
			"PEM bundle of the roots that clients trust",
			cfg->trust_file ? cfg->trust_file : "(unset)",
			pc->trust_error[0] ? pc->trust_error
					   : "unknown reason");

	for (size_t i = 0; i < cfg->ncerts; i++) {
		const struct config_cert *cc = &cfg->certs[i];
		const struct cert_info *ci =
			pc && i < pc->n ? pc->certs[i] : NULL;
		rc |= rules_check_cert(cfg, cc, ci, now, out);
		if (ci && ci->leaf)
			rc |= rules_check_key_missing(cfg, cc, out);
	}

	for (size_t j = 0; j < cfg->nservices; j++) {
		const struct config_service *svc = &cfg->services[j];
		char who[300];

		finding_service_label(svc, who, sizeof(who));
		/* The service's certificate, then its twins of other key
		 * types: each must be defined and meet the role's rules. */
		for (size_t k = 0;
		     svc->certificate && k <= svc->nextra_certificates; k++) {
			const char *name =
				k == 0 ? svc->certificate
				       : svc->extra_certificates[k - 1];
			const struct config_cert *cc;
			const struct cert_info *ci =
				rules_cert_for(cfg, pc, name, &cc);
			if (!cc)
				rc |= findings_add(
					out, FINDING_ERROR, "ref-unknown", file,
					finding_line(svc->certificate_line,
						     svc->line),
					who,
					"%s names certificate \"%s\", which is "
					"not defined — add a certificate %s { "
					"} section or fix the name",
					who, name, name);
			else
				rc |= rules_check_service_cert(cfg, svc, cc, ci,
							       out);
		}
		if (svc->backend && !config_find_backend(cfg, svc->backend))
			rc |= findings_add(
				out, FINDING_ERROR, "ref-unknown", file,
				finding_line(svc->backend_line, svc->line), who,
				"%s names backend \"%s\", which is not "
				"defined — add a backend %s { } section "
				"or fix the name",
				who, svc->backend, svc->backend);
		rc |= rules_check_service(cfg, svc, out);
	}

	rc |= rules_check_across(cfg, pc, out);
	findings_sort(out, start);
	return rc ? -1 : 0;
}

/* ---- loading ---------------------------------------------------------- */

struct rules_certs *rules_load_certs(const struct config *cfg)
{
	struct rules_certs *pc = calloc(1, sizeof(*pc));

	if (!pc)
		return NULL;
	pc->trust_ok = true;
	if (cfg->ncerts) {
		pc->certs = calloc(cfg->ncerts, sizeof(*pc->certs));
		if (!pc->certs)
			goto fail;
	}
	for (size_t i = 0; i < cfg->ncerts; i++) {
		const struct config_cert *cc = &cfg->certs[i];
		struct cert_info *ci = cert_load(cc->cert, cc->chain, cc->key);
		char err[256] = "";

		if (!ci)
			goto fail;
		pc->certs[i] = ci;
		pc->n = i + 1;
		/* The trust file is read once per certificate by cert.c; the
		 * first failure stops further attempts (one finding). */
		if (!ci->leaf || !pc->trust_ok)
			continue;
		if (!cfg->trust_file) {
			pc->trust_ok = false;
			snprintf(pc->trust_error, sizeof(pc->trust_error),
				 "no trust_file is set");
			continue;
		}
		if (cert_verify_chain(ci, cfg->trust_file, err, sizeof(err)) <
		    0) {
			pc->trust_ok = false;
			snprintf(pc->trust_error, sizeof(pc->trust_error), "%s",
				 err);
		}
	}
	return pc;
fail:
	rules_certs_free(pc);
	return NULL;
}

void rules_certs_free(struct rules_certs *pc)
{
	if (!pc)
		return;
	for (size_t i = 0; i < pc->n; i++)
		cert_free(pc->certs[i]);
	free(pc->certs);
	free(pc);
}
