/* plan.c — the certificate-plan rules of RULES.md.
 *
 * This module judges a plan: it takes the plain `struct config` from
 * config.c and the `struct cert_info` facts that cert.c read for each
 * certificate section, applies the per-certificate, per-service and plan-wide
 * rules of RULES.md, and appends findings (severity, rule id, file:line, what
 * is wrong — what to do).  It reads no file itself: plan_load_certs is the one
 * place that asks cert.c to load certificates and verify chains, so that
 * plan_check stays pure logic over structs and is unit-tested as such.  It
 * does not print (report.c formats the findings) and it does not decide exit
 * codes (main.c does, from the error count).
 *
 * Every rule id is a string literal listed in plan_rule_ids; findings point
 * at the line of the option they are about, falling back to the line of its
 * section, so that a user can go straight to what needs changing.
 */
#include "edge443/plan.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/tls1.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const plan_rule_ids[] = {
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
	/* Per service, by role */
	"cert-required",
	"fqdn-covered",
	"cn-is-fqdn",
	"wildcard-forbidden",
	"eku-client",
	"sip-domain-san",
	"edge-terminated",
	"cwa-sans",
	"backend-verify",
	/* Across the plan */
	"listen-unique",
	"fqdn-port-unique",
	"tls-legacy",
	"cn-shared",
	"ref-unknown",
	"unused",
	/* Probe (reported by probe through plan_add) */
	"unreachable",
	"served-differs",
	"served-chain-incomplete",
	"served-no-sni",
	NULL,
};

#define PLAN_DAY 86400

/* ---- findings --------------------------------------------------------- */

const char *plan_severity_name(enum plan_severity sev)
{
	return sev == PLAN_ERROR ? "error" : "warn";
}

int plan_add(struct plan_findings *out, enum plan_severity sev,
	     const char *rule, const char *file, int line, const char *subject,
	     const char *fmt, ...)
{
	struct plan_finding *f;
	char *message = NULL, *subj = NULL;
	va_list ap;
	int len;

	if (out->n == out->cap) {
		size_t cap = out->cap ? out->cap * 2 : 16;
		struct plan_finding *items =
			realloc(out->items, cap * sizeof(*items));
		if (!items)
			return -1;
		out->items = items;
		out->cap = cap;
	}

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0)
		return -1;
	message = malloc((size_t)len + 1);
	if (!message)
		goto fail;
	va_start(ap, fmt);
	vsnprintf(message, (size_t)len + 1, fmt, ap);
	va_end(ap);
	if (subject && !(subj = strdup(subject)))
		goto fail;

	f = &out->items[out->n++];
	f->severity = sev;
	f->rule = rule;
	f->file = file;
	f->line = line > 0 ? line : 0;
	f->subject = subj;
	f->message = message;
	if (sev == PLAN_ERROR)
		out->errors++;
	else
		out->warnings++;
	return 0;
fail:
	free(message);
	free(subj);
	return -1;
}

void plan_findings_free(struct plan_findings *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++) {
		free(f->items[i].subject);
		free(f->items[i].message);
	}
	free(f->items);
	f->items = NULL;
	f->n = f->cap = 0;
	f->errors = f->warnings = 0;
}

/* Stable sort of items[from..n) by line, then errors before warnings.  An
 * insertion sort: plans hold tens of findings, and it is stable by nature. */
static void plan_sort(struct plan_findings *out, size_t from)
{
	for (size_t i = from + 1; i < out->n; i++) {
		struct plan_finding f = out->items[i];
		size_t j = i;

		while (j > from) {
			const struct plan_finding *p = &out->items[j - 1];
			bool after =
				p->line > f.line || (p->line == f.line &&
						     p->severity == PLAN_WARN &&
						     f.severity == PLAN_ERROR);
			if (!after)
				break;
			out->items[j] = out->items[j - 1];
			j--;
		}
		out->items[j] = f;
	}
}

/* ---- small helpers ---------------------------------------------------- */

static int plan_line(int line, int fallback)
{
	return line > 0 ? line : fallback;
}

static const char *plan_file(const struct config *cfg)
{
	return cfg && cfg->file ? cfg->file : "(config)";
}

static bool plan_name_eq(const char *a, const char *b)
{
	return a && b && strcasecmp(a, b) == 0;
}

/* The role as people call it, for messages. */
static const char *plan_role_title(enum config_role role)
{
	switch (role) {
	case CONFIG_ROLE_ACCESS_EDGE:
		return "Access Edge";
	case CONFIG_ROLE_WEBCONF_EDGE:
		return "Web Conferencing Edge";
	case CONFIG_ROLE_AV_EDGE:
		return "A/V Edge";
	case CONFIG_ROLE_EDGE_INTERNAL:
		return "the Edge internal interface";
	case CONFIG_ROLE_CWA:
		return "Communicator Web Access";
	case CONFIG_ROLE_WEB:
		return "a web site";
	case CONFIG_ROLE_GENERIC:
		break;
	}
	return "a generic TLS service";
}

/* "certificate \"ssl1\"", or for a chain as served (no section) "the
 * certificate served (CN=...)". */
static void plan_cert_label(const struct config_cert *cc,
			    const struct cert_info *ci, char *buf, size_t len)
{
	if (cc && cc->name)
		snprintf(buf, len, "certificate \"%s\"", cc->name);
	else if (ci && ci->subject[0])
		snprintf(buf, len, "the certificate served (%s)", ci->subject);
	else
		snprintf(buf, len, "the certificate served");
}

static void plan_service_label(const struct config_service *svc, char *buf,
			       size_t len)
{
	snprintf(buf, len, "service \"%s\"", svc->name ? svc->name : "?");
}

/* "2026-01-31 12:00 UTC" */
static void plan_date(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) ||
	    !strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm))
		snprintf(buf, len, "%lld (epoch)", (long long)t);
}

/* Seconds since the epoch of Y-M-D 00:00 UTC (proleptic Gregorian; Howard
 * Hinnant's days_from_civil), so no time zone can shift the CA/B dates. */
static time_t plan_utc(int y, int m, int d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	long yoe = y - era * 400;
	long doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (time_t)(era * 146097 + doe - 719468) * PLAN_DAY;
}

/* Comma-separated list of the DNS SANs, "(none)" when empty. */
static void plan_san_list(const struct cert_info *ci, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	if (!ci->nsans) {
		snprintf(buf, len, "(none)");
		return;
	}
	for (size_t i = 0; i < ci->nsans && used < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
				 ci->sans[i]);
		if (w < 0 || (size_t)w >= len - used) {
			if (len > 4)
				memcpy(buf + len - 4, "...", 4);
			return;
		}
		used += (size_t)w;
	}
}

/* True when some DNS SAN equals NAME (case-insensitively) or covers it. */
static bool plan_has_san(const struct cert_info *ci, const char *name)
{
	for (size_t i = 0; i < ci->nsans; i++)
		if (plan_name_eq(ci->sans[i], name))
			return true;
	return cert_covers(ci, name);
}

/* True when at least one service uses certificate section CC and every one
 * of them has role edge-internal: its chain may be internal. */
static bool plan_cert_internal(const struct config *cfg,
			       const struct config_cert *cc)
{
	size_t users = 0;

	if (!cfg || !cc || !cc->name)
		return false;
	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct config_service *svc = &cfg->services[i];
		if (!svc->certificate ||
		    strcmp(svc->certificate, cc->name) != 0)
			continue;
		if (svc->role != CONFIG_ROLE_EDGE_INTERNAL)
			return false;
		users++;
	}
	return users > 0;
}

/* A name that a public CA may not certify: a single label, an internal
 * suffix, or a private / loopback IP literal. */
static bool plan_name_internal(const char *name)
{
	static const char *const suffixes[] = {
		".local",	".corp", ".lan",      ".internal",
		".localdomain", ".home", ".intranet",
	};
	char buf[256];
	size_t len;
	struct in_addr a4;
	struct in6_addr a6;

	if (!name || !*name)
		return false;
	len = strlen(name);
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, name, len + 1);
	if (len > 1 && buf[len - 1] == '.')
		buf[--len] = '\0';

	if (inet_pton(AF_INET, buf, &a4) == 1) {
		uint32_t ip = ntohl(a4.s_addr);
		return (ip >> 24) == 10 || (ip >> 20) == (172u << 4 | 1u) ||
		       (ip >> 16) == (192u << 8 | 168u) || (ip >> 24) == 127;
	}
	if (inet_pton(AF_INET6, buf, &a6) == 1)
		return (a6.s6_addr[0] & 0xfe) == 0xfc ||
		       IN6_IS_ADDR_LOOPBACK(&a6);
	if (!strchr(buf, '.'))
		return true;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t sl = strlen(suffixes[i]);
		if (len > sl && strcasecmp(buf + len - sl, suffixes[i]) == 0)
			return true;
	}
	return false;
}

/* Which option of CC a file path belongs to, and its line. */
static const char *plan_file_kind(const struct config_cert *cc,
				  const char *path, int *line)
{
	*line = cc ? cc->line : 0;
	if (!cc || !path)
		return "file";
	if (cc->cert && strcmp(path, cc->cert) == 0) {
		*line = plan_line(cc->cert_line, cc->line);
		return "cert";
	}
	if (cc->chain && strcmp(path, cc->chain) == 0) {
		*line = plan_line(cc->chain_line, cc->line);
		return "chain";
	}
	if (cc->key && strcmp(path, cc->key) == 0) {
		*line = plan_line(cc->key_line, cc->line);
		return "key";
	}
	return "file";
}

/* Index of the certificate section NAME in cfg->certs, -1 when undefined. */
static long plan_cert_index(const struct config *cfg, const char *name)
{
	if (!name)
		return -1;
	for (size_t i = 0; i < cfg->ncerts; i++)
		if (cfg->certs[i].name && strcmp(cfg->certs[i].name, name) == 0)
			return (long)i;
	return -1;
}

/* The loaded facts for certificate section NAME, NULL when it is undefined. */
static const struct cert_info *plan_cert_for(const struct config *cfg,
					     const struct plan_certs *pc,
					     const char *name,
					     const struct config_cert **cc)
{
	long i = plan_cert_index(cfg, name);

	*cc = NULL;
	if (i < 0)
		return NULL;
	*cc = &cfg->certs[i];
	return pc && (size_t)i < pc->n ? pc->certs[i] : NULL;
}

/* ---- per certificate -------------------------------------------------- */

/* file-unreadable: one finding per file that cert.c could not use. */
static int plan_file_errors(const struct config *cfg,
			    const struct config_cert *cc,
			    const struct cert_info *ci, const char *who,
			    struct plan_findings *out)
{
	const char *file = plan_file(cfg);
	int rc = 0;

	for (size_t i = 0; i < ci->nerrors && i < 3; i++) {
		const struct cert_file_error *e = &ci->errors[i];
		const char *path = e->path ? e->path : "(no path)";
		const char *detail = e->detail ? e->detail : "";
		int line;
		const char *kind = plan_file_kind(cc, e->path, &line);
		bool is_key = strcmp(kind, "key") == 0;
		const char *what, *todo;

		switch (e->status) {
		case CERT_FILE_MISSING:
			what = "does not exist";
			todo = "fix the path (a relative path is relative to "
			       "the config file's folder) or install the file";
			break;
		case CERT_FILE_UNREADABLE:
			what = "cannot be read";
			todo = "make it a regular file that the user edge443 "
			       "starts as can read";
			break;
		case CERT_FILE_BARE_BASE64:
			/* cert.c's detail already says what is wrong and
			 * which lines to add ("... — add the line ..."). */
			if (strstr(detail, " — "))
				rc |= plan_add(out, PLAN_ERROR,
					       "file-unreadable", file, line,
					       who, "%s: %s file %s: %s", who,
					       kind, path, detail);
			else
				rc |= plan_add(
					out, PLAN_ERROR, "file-unreadable",
					file, line, who,
					"%s: %s file %s holds base64 without "
					"its BEGIN/END lines — add the "
					"-----BEGIN ...----- line before it "
					"and the -----END ...----- line after "
					"it",
					who, kind, path);
			continue;
		case CERT_FILE_BAD_PEM:
			what = "holds a PEM object that does not decode";
			todo = is_key ? "replace it with the PEM private key "
					"of "
					"this certificate"
				      : "replace it with an intact copy of the "
					"PEM certificate(s)";
			break;
		case CERT_FILE_NO_PEM:
		case CERT_FILE_OK:
		default:
			what = is_key ? "holds no PEM private key"
				      : "holds no PEM certificate";
			todo = is_key ? "it must hold the private key in PEM "
					"(-----BEGIN PRIVATE KEY-----)"
				      : "it must hold PEM certificates "
					"(-----BEGIN CERTIFICATE-----)";
			break;
		}
		rc |= plan_add(out, PLAN_ERROR, "file-unreadable", file, line,
			       who, "%s: %s file %s %s%s%s%s — %s", who, kind,
			       path, what, *detail ? " (" : "", detail,
			       *detail ? ")" : "", todo);
	}
	if (!ci->leaf && ci->nerrors == 0 && cc && !cc->cert)
		rc |= plan_add(out, PLAN_ERROR, "file-unreadable", file,
			       cc->line, who,
			       "%s names no cert file — add cert = \"PATH\" "
			       "(the PEM certificate, leaf first)",
			       who);
	return rc;
}

static bool plan_ec_curve_ok(const char *curve)
{
	static const char *const ok[] = {
		"prime256v1", "secp384r1", "secp521r1",
		"P-256",      "P-384",	   "P-521",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(curve, ok[i]) == 0)
			return true;
	return false;
}

static int plan_check_key(const struct config *cfg,
			  const struct config_cert *cc,
			  const struct cert_info *ci, const char *who,
			  bool internal, struct plan_findings *out)
{
	const char *file = plan_file(cfg);
	int sec = cc ? cc->line : 0;
	int key_line = cc ? plan_line(cc->key_line, cc->line) : 0;
	const char *key_path = cc && cc->key ? cc->key : "the key file";
	const char *cert_path = cc && cc->cert ? cc->cert : "the certificate";
	bool weak = false;
	char desc[64];
	int rc = 0;

	if (ci->key && !ci->key_matches)
		rc |= plan_add(out, PLAN_ERROR, "key-match", file, key_line,
			       who,
			       "%s: the key in %s does not belong to the "
			       "certificate in %s — name the key that was "
			       "generated with this certificate's request, or "
			       "reissue the certificate for this key",
			       who, key_path, cert_path);
	if (ci->key && (ci->key_mode & 077))
		rc |= plan_add(out, PLAN_ERROR, "key-perms", file, key_line,
			       who,
			       "%s: key file %s has mode %04o, readable by "
			       "group or others — chmod 600 %s (owned by the "
			       "user edge443 starts as)",
			       who, key_path, (unsigned)(ci->key_mode & 0777),
			       key_path);

	if (ci->key_type == CERT_KEY_RSA)
		weak = ci->key_bits < 2048 || ci->key_bits % 8 != 0;
	else if (ci->key_type == CERT_KEY_EC)
		weak = !plan_ec_curve_ok(ci->key_curve);
	if (weak)
		rc |= plan_add(
			out, internal ? PLAN_WARN : PLAN_ERROR, "key-strength",
			file, plan_line(cc ? cc->cert_line : 0, sec), who,
			"%s has a %s key; clients and public CAs require "
			"RSA of at least 2048 bits (a multiple of 8) or "
			"EC P-256, P-384 or P-521 — reissue it with an "
			"RSA-2048 or EC P-256 key (edge443 plan --key "
			"rsa:2048)",
			who, cert_key_desc(ci, desc, sizeof(desc)));
	return rc;
}

/* key-missing: a configuration fact (no `key` option) judged against the
 * services that terminate TLS with the certificate.  Not part of
 * plan_check_cert, because a chain as served (probe) has no key to judge. */
static int plan_check_key_missing(const struct config *cfg,
				  const struct config_cert *cc,
				  struct plan_findings *out)
{
	const struct config_service *first = NULL;
	size_t others = 0;
	char who[300];

	if (cc->key)
		return 0;
	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct config_service *svc = &cfg->services[i];
		if (!svc->certificate ||
		    strcmp(svc->certificate, cc->name) != 0 ||
		    svc->mode == CONFIG_MODE_PASSTHROUGH)
			continue;
		if (first)
			others++;
		else
			first = svc;
	}
	if (!first)
		return 0;
	plan_cert_label(cc, NULL, who, sizeof(who));
	return plan_add(out, PLAN_ERROR, "key-missing", plan_file(cfg),
			plan_line(cc->key_line, cc->line), who,
			"%s has no key, but service \"%s\" (%s)%s terminates "
			"TLS with it — add key = \"PATH\" (this certificate's "
			"private key, mode 0600) to %s",
			who, first->name, config_mode_name(first->mode),
			others ? " and other services" : "", who);
}

static int plan_check_names(const struct config *cfg,
			    const struct config_cert *cc,
			    const struct cert_info *ci, const char *who,
			    struct plan_findings *out)
{
	const char *file = plan_file(cfg);
	int line = cc ? plan_line(cc->cert_line, cc->line) : 0;
	char sans[512];
	int rc = 0;

	plan_san_list(ci, sans, sizeof(sans));
	if (!ci->has_san_ext || ci->nsans == 0) {
		rc |= plan_add(out, PLAN_ERROR, "san-present", file, line, who,
			       "%s has %s; clients match the names in the "
			       "subjectAltName only — reissue it as a SAN "
			       "certificate that lists every FQDN it serves, "
			       "the CN first (edge443 plan)",
			       who,
			       ci->has_san_ext
				       ? "a subjectAltName without any DNS name"
				       : "no subjectAltName extension");
		return rc;
	}

	if (ci->cn) {
		bool found = false;
		for (size_t i = 0; i < ci->nsans && !found; i++)
			found = plan_name_eq(ci->cn, ci->sans[i]);
		if (!found)
			rc |= plan_add(out, PLAN_ERROR, "cn-in-san", file, line,
				       who,
				       "%s has CN %s, which is not one of its "
				       "SANs (%s); clients ignore the CN once "
				       "SANs exist — reissue it with the CN "
				       "also as the first SAN",
				       who, ci->cn, sans);
	}

	bool first_not_cn = ci->cn && !plan_name_eq(ci->sans[0], ci->cn);
	const char *wild_first = NULL, *exact_after = NULL;
	for (size_t i = 0; i < ci->nsans && !exact_after; i++) {
		if (cert_name_is_wildcard(ci->sans[i])) {
			if (!wild_first)
				wild_first = ci->sans[i];
		} else if (wild_first) {
			exact_after = ci->sans[i];
		}
	}
	if (first_not_cn || exact_after) {
		char why[600];
		int w = 0;

		if (first_not_cn)
			w = snprintf(why, sizeof(why),
				     "the first SAN is %s, not the CN %s",
				     ci->sans[0], ci->cn);
		if (exact_after && w >= 0 && (size_t)w < sizeof(why))
			snprintf(
				why + w, sizeof(why) - (size_t)w,
				"%sthe wildcard %s comes before the exact name "
				"%s",
				w ? " and " : "", wild_first, exact_after);
		rc |= plan_add(out, PLAN_WARN, "san-order", file, line, who,
			       "%s: %s (SANs: %s); ISA Server 2006 and some UC "
			       "devices read only the first SAN — reissue it "
			       "with the CN as the first SAN and exact names "
			       "before wildcards",
			       who, why, sans);
	}
	return rc;
}

/* The CA/B Forum cap on a certificate's lifetime, in days, for a
 * certificate issued at NOT_BEFORE (BR 6.3.2). */
static long plan_validity_cap(time_t not_before)
{
	if (not_before < plan_utc(2026, 3, 15))
		return 398;
	if (not_before < plan_utc(2027, 3, 15))
		return 200;
	if (not_before < plan_utc(2029, 3, 15))
		return 100;
	return 47;
}

static int plan_check_validity(const struct config *cfg,
			       const struct config_cert *cc,
			       const struct cert_info *ci, const char *who,
			       bool internal, time_t now,
			       struct plan_findings *out)
{
	const char *file = plan_file(cfg);
	int line = cc ? plan_line(cc->cert_line, cc->line) : 0;
	char from[40], until[40];
	int rc = 0;

	plan_date(ci->not_before, from, sizeof(from));
	plan_date(ci->not_after, until, sizeof(until));
	if (ci->not_before > now)
		rc |= plan_add(out, PLAN_ERROR, "not-yet-valid", file, line,
			       who,
			       "%s is not valid before %s — install a "
			       "certificate that is valid now, or check the "
			       "system clock",
			       who, from);
	if (ci->not_after < now) {
		rc |= plan_add(out, PLAN_ERROR, "expired", file, line, who,
			       "%s expired on %s — renew it and install the "
			       "new certificate",
			       who, until);
	} else if (cfg && cfg->warn_days > 0 &&
		   (double)ci->not_after - (double)now <
			   (double)cfg->warn_days * PLAN_DAY) {
		long days = (long)((ci->not_after - now) / PLAN_DAY);
		rc |= plan_add(out, PLAN_WARN, "expires-soon", file, line, who,
			       "%s expires on %s, in %ld day%s (warn_days = "
			       "%d) — renew it now and install the new "
			       "certificate before then",
			       who, until, days, days == 1 ? "" : "s",
			       cfg->warn_days);
	}

	if (!internal && ci->not_after > ci->not_before) {
		long cap = plan_validity_cap(ci->not_before);
		double life = (double)ci->not_after - (double)ci->not_before;
		if (life > (double)cap * PLAN_DAY)
			rc |= plan_add(
				out, PLAN_WARN, "validity-cap", file, line, who,
				"%s is valid for %.0f days (%s to %s), "
				"longer than the %ld days that the CA/B "
				"Forum allows for a certificate issued "
				"then; public clients may refuse it — "
				"reissue it with a lifetime of at most "
				"%ld days",
				who, life / PLAN_DAY, from, until, cap, cap);
	}
	return rc;
}

static int plan_check_chain(const struct config *cfg,
			    const struct config_cert *cc,
			    const struct cert_info *ci, const char *who,
			    bool internal, struct plan_findings *out)
{
	const char *file = plan_file(cfg);
	int cert_line = cc ? plan_line(cc->cert_line, cc->line) : 0;
	int chain_line = cc && cc->chain ? plan_line(cc->chain_line, cc->line)
					 : cert_line;
	const char *trust =
		cfg && cfg->trust_file ? cfg->trust_file : "trust_file";
	int rc = 0;

	if (ci->chain_status == CERT_CHAIN_INCOMPLETE) {
		if (internal)
			rc |= plan_add(
				out, PLAN_WARN, "chain-incomplete", file,
				chain_line, who,
				"%s does not verify to trust_file %s with the "
				"intermediates provided (%s); it serves the "
				"Edge internal interface only, so an internal "
				"CA is fine — make sure the internal servers "
				"trust its root, and add any intermediate(s) "
				"to chain",
				who, trust, ci->chain_detail);
		else
			rc |= plan_add(
				out, PLAN_ERROR, "chain-incomplete", file,
				chain_line, who,
				"%s does not verify to trust_file %s with the "
				"intermediates provided (%s); clients that do "
				"not already hold the intermediate will refuse "
				"it — add the issuing intermediate "
				"certificate(s) to chain (or after the leaf in "
				"cert)",
				who, trust, ci->chain_detail);
	}
	if (ci->chain_has_root || ci->chain_extra > 0) {
		char what[160];

		bool one = ci->chain_extra == 1;

		if (ci->chain_has_root && ci->chain_extra > 0)
			snprintf(what, sizeof(what),
				 "a root certificate and %zu certificate%s "
				 "that %s not on the leaf's path",
				 ci->chain_extra, one ? "" : "s",
				 one ? "is" : "are");
		else if (ci->chain_has_root)
			snprintf(what, sizeof(what), "a root certificate");
		else
			snprintf(what, sizeof(what),
				 "%zu certificate%s that %s not on the leaf's "
				 "path",
				 ci->chain_extra, one ? "" : "s",
				 one ? "is" : "are");
		rc |= plan_add(out, PLAN_WARN, "chain-extra", file, chain_line,
			       who,
			       "%s: the chain holds %s — remove the root and "
			       "any unrelated certificates from the chain "
			       "file; clients bring their own roots, and extra "
			       "certificates only cost bytes or confuse them",
			       who, what);
	}
	return rc;
}

static int plan_check_internal_name(const struct config *cfg,
				    const struct config_cert *cc,
				    const struct cert_info *ci, const char *who,
				    bool internal, struct plan_findings *out)
{
	char names[512];
	size_t used = 0;
	size_t n = 0;

	if (internal || ci->chain_status != CERT_CHAIN_OK)
		return 0;
	names[0] = '\0';
	for (size_t i = 0; i <= ci->nsans; i++) {
		const char *name = i < ci->nsans ? ci->sans[i] : ci->cn;
		bool dup = false;

		if (!name || !plan_name_internal(name))
			continue;
		/* The CN is normally also a SAN: name it once. */
		for (size_t j = 0; i == ci->nsans && j < ci->nsans; j++)
			dup = dup || plan_name_eq(name, ci->sans[j]);
		if (dup)
			continue;
		if (used < sizeof(names)) {
			int w = snprintf(names + used, sizeof(names) - used,
					 "%s%s", n ? ", " : "", name);
			if (w > 0)
				used += (size_t)w;
		}
		n++;
	}
	if (!n)
		return 0;
	return plan_add(out, PLAN_WARN, "internal-name", plan_file(cfg),
			cc ? plan_line(cc->cert_line, cc->line) : 0, who,
			"%s chains to a public root but names the internal "
			"host%s %s; public CAs may not issue certificates for "
			"internal names — move internal names to a "
			"certificate from your internal CA, or use public "
			"names",
			who, n == 1 ? "" : "s", names);
}

int plan_check_cert(const struct config *cfg, const struct config_cert *cc,
		    const struct cert_info *ci, time_t now,
		    struct plan_findings *out)
{
	const char *file = plan_file(cfg);
	int line = cc ? plan_line(cc->cert_line, cc->line) : 0;
	bool internal = plan_cert_internal(cfg, cc);
	char who[300];
	int rc = 0;

	if (!ci)
		return 0;
	plan_cert_label(cc, ci, who, sizeof(who));
	rc |= plan_file_errors(cfg, cc, ci, who, out);
	if (!ci->leaf)
		return rc;

	rc |= plan_check_key(cfg, cc, ci, who, internal, out);
	if (ci->sig_weak)
		rc |= plan_add(out, PLAN_ERROR, "sig-weak", file, line, who,
			       "%s: %s carries an MD5 or SHA-1 signature (the "
			       "leaf is signed with %s), which clients refuse "
			       "— reissue it with a SHA-256 signature",
			       who,
			       ci->sig_weak_subject[0] ? ci->sig_weak_subject
						       : ci->subject,
			       ci->sig_alg[0] ? ci->sig_alg : "?");
	if (ci->has_eku &&
	    (!(ci->eku & CERT_EKU_SERVER) || (ci->eku & CERT_EKU_ANY)))
		rc |= plan_add(out, PLAN_ERROR, "eku-server", file, line, who,
			       "%s has an extended key usage %s — reissue it "
			       "with the extended key usage serverAuth (Server "
			       "Authentication) only, plus clientAuth where "
			       "federation needs it",
			       who,
			       (ci->eku & CERT_EKU_ANY)
				       ? "that includes anyExtendedKeyUsage"
				       : "without serverAuth, so clients "
					 "refuse it for a TLS server");
	if (ci->has_ku && ci->key_type == CERT_KEY_RSA &&
	    !(ci->ku & CERT_KU_DIGITAL_SIGNATURE))
		rc |= plan_add(out, PLAN_WARN, "ku-mismatch", file, line, who,
			       "%s has an RSA key but its key usage lacks "
			       "digitalSignature, which ECDHE and TLS 1.3 "
			       "need — reissue it with key usage "
			       "digitalSignature, keyEncipherment",
			       who);
	if (ci->has_ku && ci->key_type == CERT_KEY_EC &&
	    (ci->ku & CERT_KU_KEY_ENCIPHERMENT))
		rc |= plan_add(out, PLAN_WARN, "ku-mismatch", file, line, who,
			       "%s has an EC key but its key usage includes "
			       "keyEncipherment, which an EC key cannot do — "
			       "reissue it with key usage digitalSignature "
			       "only",
			       who);
	rc |= plan_check_names(cfg, cc, ci, who, out);
	rc |= plan_check_validity(cfg, cc, ci, who, internal, now, out);
	rc |= plan_check_chain(cfg, cc, ci, who, internal, out);
	rc |= plan_check_internal_name(cfg, cc, ci, who, internal, out);
	return rc;
}

/* ---- per service ------------------------------------------------------ */

static bool plan_role_cn_bound(enum config_role role)
{
	return role == CONFIG_ROLE_ACCESS_EDGE ||
	       role == CONFIG_ROLE_WEBCONF_EDGE;
}

static int plan_check_cn_is_fqdn(const struct config *cfg,
				 const struct config_service *svc,
				 const struct cert_info *ci, const char *who,
				 const char *sdesc, const char *cwho, int line,
				 struct plan_findings *out)
{
	enum plan_severity sev = PLAN_ERROR;
	char cn[300];
	const char *why;

	switch (svc->role) {
	case CONFIG_ROLE_ACCESS_EDGE:
	case CONFIG_ROLE_WEBCONF_EDGE:
		why = "takes its FQDN from the certificate CN whatever is "
		      "configured";
		break;
	case CONFIG_ROLE_EDGE_INTERNAL:
		why = "is known to the internal servers by the certificate CN";
		break;
	case CONFIG_ROLE_AV_EDGE:
		why = "should present its FQDN as the certificate CN";
		sev = PLAN_WARN;
		break;
	default:
		return 0;
	}
	if (cfg->platform != CONFIG_PLATFORM_OCS2007R2 || !svc->fqdn ||
	    plan_name_eq(ci->cn, svc->fqdn))
		return 0;
	if (ci->cn)
		snprintf(cn, sizeof(cn), "has CN %s", ci->cn);
	else
		snprintf(cn, sizeof(cn), "has no CN");
	return plan_add(out, sev, "cn-is-fqdn", plan_file(cfg), line, who,
			"%s has FQDN %s but %s %s; %s %s — give it a "
			"certificate whose CN is %s (edge443 plan)%s",
			sdesc, svc->fqdn, cwho, cn, plan_role_title(svc->role),
			why, svc->fqdn,
			plan_role_cn_bound(svc->role) ? ", or a different port"
						      : "");
}

static int plan_check_wildcard(const struct config *cfg,
			       const struct config_service *svc,
			       const struct cert_info *ci, const char *who,
			       const char *sdesc, const char *cwho, int line,
			       struct plan_findings *out)
{
	const char *wild = NULL;

	switch (svc->role) {
	case CONFIG_ROLE_ACCESS_EDGE:
	case CONFIG_ROLE_WEBCONF_EDGE:
	case CONFIG_ROLE_EDGE_INTERNAL:
	case CONFIG_ROLE_CWA:
		if (ci->cn && cert_name_is_wildcard(ci->cn))
			wild = ci->cn;
		for (size_t i = 0; i < ci->nsans && !wild; i++)
			if (cert_name_is_wildcard(ci->sans[i]))
				wild = ci->sans[i];
		if (!wild)
			return 0;
		return plan_add(out, PLAN_ERROR, "wildcard-forbidden",
				plan_file(cfg), line, who,
				"%s uses %s, which names the wildcard %s; %s "
				"does not support wildcard certificates — give "
				"it a certificate with explicit names (edge443 "
				"plan)",
				sdesc, cwho, wild, plan_role_title(svc->role));
	case CONFIG_ROLE_WEB:
		if (!ci->cn || !cert_name_is_wildcard(ci->cn))
			return 0;
		return plan_add(out, PLAN_WARN, "wildcard-forbidden",
				plan_file(cfg), line, who,
				"%s uses %s, whose CN %s is a wildcard; old "
				"clients that read the CN do not match it — "
				"prefer a certificate whose CN is %s (a "
				"wildcard SAN is fine)",
				sdesc, cwho, ci->cn,
				svc->fqdn ? svc->fqdn : "the FQDN");
	default:
		return 0;
	}
}

int plan_check_service_cert(const struct config *cfg,
			    const struct config_service *svc,
			    const struct config_cert *cc,
			    const struct cert_info *ci,
			    struct plan_findings *out)
{
	const char *file = plan_file(cfg);
	char who[300], sdesc[400], cwho[300], sans[512];
	int line, rc = 0;

	if (!cfg || !svc || !ci || !ci->leaf)
		return 0;
	plan_service_label(svc, who, sizeof(who));
	snprintf(sdesc, sizeof(sdesc), "%s (%s)", who,
		 config_role_name(svc->role));
	plan_cert_label(cc, ci, cwho, sizeof(cwho));
	plan_san_list(ci, sans, sizeof(sans));
	line = plan_line(svc->certificate_line, svc->line);

	if (svc->fqdn && !cert_covers(ci, svc->fqdn))
		rc |= plan_add(out, PLAN_ERROR, "fqdn-covered", file, line, who,
			       "%s has FQDN %s but %s does not cover it (DNS "
			       "SANs: %s) — add %s as a SAN, or name a "
			       "certificate that has it (edge443 plan)",
			       sdesc, svc->fqdn, cwho, sans, svc->fqdn);
	rc |= plan_check_cn_is_fqdn(cfg, svc, ci, who, sdesc, cwho, line, out);
	rc |= plan_check_wildcard(cfg, svc, ci, who, sdesc, cwho, line, out);

	if (svc->role == CONFIG_ROLE_ACCESS_EDGE && ci->has_eku &&
	    !(ci->eku & (CERT_EKU_CLIENT | CERT_EKU_ANY)))
		rc |= plan_add(
			out, svc->federation ? PLAN_ERROR : PLAN_WARN,
			"eku-client", file,
			svc->federation ? plan_line(svc->federation_line, line)
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

	if (svc->role == CONFIG_ROLE_ACCESS_EDGE) {
		int dline = plan_line(svc->sip_domains_line, line);
		for (size_t i = 0; i < svc->nsip_domains; i++) {
			char name[300];
			snprintf(name, sizeof(name), "sip.%s",
				 svc->sip_domains[i]);
			if (plan_has_san(ci, name))
				continue;
			rc |= plan_add(out, PLAN_ERROR, "sip-domain-san", file,
				       dline, who,
				       "%s serves SIP domain %s but %s has no "
				       "SAN %s (SANs: %s); clients look up "
				       "sip.%s to sign in — add %s as a SAN "
				       "(edge443 plan)",
				       sdesc, svc->sip_domains[i], cwho, name,
				       sans, svc->sip_domains[i], name);
		}
	}

	if (svc->role == CONFIG_ROLE_CWA && svc->fqdn) {
		char as[300], dl[300], missing[620];
		bool has_as, has_dl;

		snprintf(as, sizeof(as), "as.%s", svc->fqdn);
		snprintf(dl, sizeof(dl), "download.%s", svc->fqdn);
		has_as = plan_has_san(ci, as);
		has_dl = plan_has_san(ci, dl);
		if (!has_as || !has_dl) {
			snprintf(missing, sizeof(missing), "%s%s%s",
				 has_as ? "" : as,
				 !has_as && !has_dl ? " and " : "",
				 has_dl ? "" : dl);
			rc |= plan_add(out, PLAN_WARN, "cwa-sans", file, line,
				       who,
				       "%s uses %s, which lacks the SAN%s %s; "
				       "CWA serves desktop sharing and file "
				       "downloads on those names — add %s as "
				       "SAN%s (edge443 plan)",
				       sdesc, cwho,
				       !has_as && !has_dl ? "s" : "", missing,
				       missing, !has_as && !has_dl ? "s" : "");
		}
	}

	return rc;
}

/* The per-service rules that need no certificate: cert-required,
 * edge-terminated, backend-verify, tls-legacy. */
static int plan_check_service(const struct config *cfg,
			      const struct config_service *svc,
			      struct plan_findings *out)
{
	const char *file = plan_file(cfg);
	char who[300];
	int rc = 0;
	bool terminates = svc->mode != CONFIG_MODE_PASSTHROUGH;

	plan_service_label(svc, who, sizeof(who));

	if (!svc->certificate) {
		if (terminates)
			rc |= plan_add(
				out, PLAN_ERROR, "cert-required", file,
				svc->line, who,
				"%s (%s) terminates TLS (mode = \"%s\") but "
				"names no certificate — add certificate "
				"= \"NAME\" naming a certificate section "
				"with its key",
				who, config_role_name(svc->role),
				config_mode_name(svc->mode));
		else if (svc->role != CONFIG_ROLE_AV_EDGE)
			rc |= plan_add(out, PLAN_WARN, "cert-required", file,
				       svc->line, who,
				       "%s (%s) names no certificate, so check "
				       "cannot validate what the backend "
				       "presents — name the certificate "
				       "installed on the backend (certificate "
				       "= \"NAME\", no key needed for "
				       "passthrough)",
				       who, config_role_name(svc->role));
	}

	if (plan_role_cn_bound(svc->role) && terminates)
		rc |= plan_add(
			out, PLAN_WARN, "edge-terminated", file,
			plan_line(svc->mode_line, svc->line), who,
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
			rc |= plan_add(
				out, PLAN_ERROR, "backend-verify", file,
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
			rc |= plan_add(
				out, PLAN_WARN, "backend-verify", file,
				plan_line(b->verify_line, b->line), who,
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
		rc |= plan_add(
			out, PLAN_WARN, "tls-legacy", file,
			svc->tls_min ? plan_line(svc->tls_min_line, svc->line)
				     : plan_line(cfg->tls_min_line, svc->line),
			who,
			"%s allows TLS %s (tls_min = \"%s\"); TLS 1.0 and "
			"1.1 are deprecated (RFC 8996) — set tls_min = "
			"\"1.2\" unless very old clients must connect",
			who, config_tls_name(min), config_tls_name(min));
	return rc;
}

/* ---- across the plan -------------------------------------------------- */

/* 0: different sockets; 1: the same address and port; 2: a wildcard address
 * and a specific one of the same family on the same port. */
static int plan_addr_clash(const struct config_addr *a,
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
static int plan_check_listen(const struct config *cfg, size_t j, size_t k,
			     struct plan_findings *out)
{
	const struct config_service *b = &cfg->services[j];
	const struct config_addr *addr = &b->listen[k];
	char who[300];

	plan_service_label(b, who, sizeof(who));
	for (size_t i = 0; i <= j; i++) {
		const struct config_service *a = &cfg->services[i];
		size_t nl = i == j ? k : a->nlisten;

		for (size_t l = 0; l < nl; l++) {
			int clash = plan_addr_clash(addr, &a->listen[l]);
			int line = plan_line(b->listen_line, b->line);

			if (!clash)
				continue;
			if (clash == 2)
				return plan_add(
					out, PLAN_ERROR, "listen-unique",
					plan_file(cfg), line, who,
					"%s listens on %s, which overlaps %s "
					"of service \"%s\" (line %d): a "
					"wildcard address takes the port on "
					"every address of the host — listen on "
					"specific addresses, one per service",
					who, addr->text, a->listen[l].text,
					a->name,
					plan_line(a->listen_line, a->line));
			if (i == j)
				return plan_add(
					out, PLAN_ERROR, "listen-unique",
					plan_file(cfg), line, who,
					"%s lists %s twice — remove the "
					"duplicate",
					who, addr->text);
			return plan_add(
				out, PLAN_ERROR, "listen-unique",
				plan_file(cfg), line, who,
				"%s listens on %s, which service \"%s\" "
				"(line %d) already uses — give every "
				"service its own IP address on port %d",
				who, addr->text, a->name,
				plan_line(a->listen_line, a->line), addr->port);
		}
	}
	return 0;
}

/* The first port that services A and B both listen on, 0 when none. */
static int plan_shared_port(const struct config_service *a,
			    const struct config_service *b)
{
	for (size_t k = 0; k < a->nlisten; k++)
		for (size_t l = 0; l < b->nlisten; l++)
			if (a->listen[k].port == b->listen[l].port)
				return a->listen[k].port;
	return 0;
}

/* cn-shared for the pair (A earlier, B later) of CN-bound services. */
static int plan_check_cn_shared(const struct config *cfg,
				const struct plan_certs *pc,
				const struct config_service *a,
				const struct config_service *b,
				struct plan_findings *out)
{
	const struct config_cert *ca, *cb;
	const struct cert_info *ia, *ib;
	char who[300], certs[1024];
	int port;

	if (cfg->platform != CONFIG_PLATFORM_OCS2007R2 ||
	    !plan_role_cn_bound(a->role) || !plan_role_cn_bound(b->role) ||
	    !a->certificate || !b->certificate)
		return 0;
	port = plan_shared_port(a, b);
	if (!port)
		return 0;
	ia = plan_cert_for(cfg, pc, a->certificate, &ca);
	ib = plan_cert_for(cfg, pc, b->certificate, &cb);
	if (!ca || !cb)
		return 0;
	const char *cna = ia && ia->leaf ? ia->cn : NULL;
	const char *cnb = ib && ib->leaf ? ib->cn : NULL;
	const char *cn = cnb ? cnb : "one CN";

	if (ca == cb)
		snprintf(certs, sizeof(certs), "certificate \"%s\" (CN %s)",
			 cb->name, cn);
	else if (plan_name_eq(cna, cnb))
		snprintf(certs, sizeof(certs),
			 "certificates \"%s\" and \"%s\", which have the same "
			 "CN %s",
			 ca->name, cb->name, cn);
	else
		return 0;
	plan_service_label(b, who, sizeof(who));
	return plan_add(
		out, PLAN_ERROR, "cn-shared", plan_file(cfg),
		plan_line(b->certificate_line, b->line), who,
		"%s (%s) and service \"%s\" (%s, line %d) both listen on port "
		"%d with %s; Access Edge and Web Conferencing Edge "
		"revert their FQDN to the certificate CN, so both would claim "
		"%s — give each its own certificate with CN = its FQDN "
		"(%s and %s); run `edge443 plan` to compute the certificates "
		"to order",
		who, config_role_name(b->role), a->name,
		config_role_name(a->role), plan_line(a->line, 0), port, certs,
		cn, b->fqdn ? b->fqdn : "?", a->fqdn ? a->fqdn : "?");
}

static int plan_check_across(const struct config *cfg,
			     const struct plan_certs *pc,
			     struct plan_findings *out)
{
	const char *file = plan_file(cfg);
	int rc = 0;

	for (size_t j = 0; j < cfg->nservices; j++) {
		const struct config_service *b = &cfg->services[j];
		char who[300];

		plan_service_label(b, who, sizeof(who));
		for (size_t k = 0; k < b->nlisten; k++)
			rc |= plan_check_listen(cfg, j, k, out);
		for (size_t i = 0; i < j; i++) {
			const struct config_service *a = &cfg->services[i];
			int port = plan_shared_port(a, b);

			if (port && plan_name_eq(a->fqdn, b->fqdn))
				rc |= plan_add(
					out, PLAN_ERROR, "fqdn-port-unique",
					file, plan_line(b->fqdn_line, b->line),
					who,
					"%s has FQDN %s on port %d, like "
					"service "
					"\"%s\" (line %d); a client resolving "
					"%s reaches only one of them — give "
					"one "
					"of them another FQDN or another port",
					who, b->fqdn, port, a->name,
					plan_line(a->fqdn_line, a->line),
					b->fqdn);
			rc |= plan_check_cn_shared(cfg, pc, a, b, out);
		}
	}

	for (size_t i = 0; i < cfg->ncerts; i++) {
		const struct config_cert *cc = &cfg->certs[i];
		bool used = false;
		for (size_t j = 0; j < cfg->nservices && !used; j++)
			used = cfg->services[j].certificate &&
			       strcmp(cfg->services[j].certificate, cc->name) ==
				       0;
		if (!used) {
			char who[300];
			plan_cert_label(cc, NULL, who, sizeof(who));
			rc |= plan_add(out, PLAN_WARN, "unused", file, cc->line,
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
			rc |= plan_add(out, PLAN_WARN, "unused", file, be->line,
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

int plan_check(const struct config *cfg, const struct plan_certs *pc,
	       time_t now, struct plan_findings *out)
{
	const char *file = plan_file(cfg);
	size_t start = out->n;
	int rc = 0;

	if (pc && !pc->trust_ok)
		rc |= plan_add(out, PLAN_ERROR, "file-unreadable", file,
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
		rc |= plan_check_cert(cfg, cc, ci, now, out);
		if (ci && ci->leaf)
			rc |= plan_check_key_missing(cfg, cc, out);
	}

	for (size_t j = 0; j < cfg->nservices; j++) {
		const struct config_service *svc = &cfg->services[j];
		char who[300];

		plan_service_label(svc, who, sizeof(who));
		if (svc->certificate) {
			const struct config_cert *cc;
			const struct cert_info *ci =
				plan_cert_for(cfg, pc, svc->certificate, &cc);
			if (!cc)
				rc |= plan_add(
					out, PLAN_ERROR, "ref-unknown", file,
					plan_line(svc->certificate_line,
						  svc->line),
					who,
					"%s names certificate \"%s\", which is "
					"not defined — add a certificate %s { "
					"} section or fix the name",
					who, svc->certificate,
					svc->certificate);
			else
				rc |= plan_check_service_cert(cfg, svc, cc, ci,
							      out);
		}
		if (svc->backend && !config_find_backend(cfg, svc->backend))
			rc |= plan_add(out, PLAN_ERROR, "ref-unknown", file,
				       plan_line(svc->backend_line, svc->line),
				       who,
				       "%s names backend \"%s\", which is not "
				       "defined — add a backend %s { } section "
				       "or fix the name",
				       who, svc->backend, svc->backend);
		rc |= plan_check_service(cfg, svc, out);
	}

	rc |= plan_check_across(cfg, pc, out);
	plan_sort(out, start);
	return rc ? -1 : 0;
}

/* ---- loading ---------------------------------------------------------- */

struct plan_certs *plan_load_certs(const struct config *cfg)
{
	struct plan_certs *pc = calloc(1, sizeof(*pc));

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
	plan_certs_free(pc);
	return NULL;
}

void plan_certs_free(struct plan_certs *pc)
{
	if (!pc)
		return;
	for (size_t i = 0; i < pc->n; i++)
		cert_free(pc->certs[i]);
	free(pc->certs);
	free(pc);
}
