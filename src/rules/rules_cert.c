/* rules_cert.c — the per-certificate rules of `edge443 check`.
 *
 * This part of the rules module judges one certificate section on its own:
 * the files cert.c could not use, the key (presence, match, permissions,
 * strength), the signature, EKU and key usage, the names (SAN present, CN in
 * the SANs, their order, internal names) and the validity period and chain;
 * what the issuer gives clients (CRL distribution point, AIA, intermediates
 * that expire) is rules_issuer.c, which it runs.  It does not judge how a
 * service uses the certificate (rules_service.c) or anything across the plan
 * (rules.c, which runs it), and like all of plan it reads no file and prints
 * nothing: it appends findings (findings.c).
 */
#include "edge443/rules/rules_cert.h"
#include "edge443/rules/rules_issuer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/tls1.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RULES_DAY 86400

/* Seconds since the epoch of Y-M-D 00:00 UTC (proleptic Gregorian; Howard
 * Hinnant's days_from_civil), so no time zone can shift the CA/B dates. */
static time_t rules_utc(int y, int m, int d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	long yoe = y - era * 400;
	long doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (time_t)(era * 146097 + doe - 719468) * RULES_DAY;
}

/* True when at least one service uses certificate section CC and every one
 * of them has role edge-internal: its chain may be internal. */
static bool rules_cert_internal(const struct config *cfg,
				const struct config_cert *cc)
{
	size_t users = 0;

	if (!cfg || !cc || !cc->name)
		return false;
	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct config_service *svc = &cfg->services[i];
		if (!config_service_uses_cert(svc, cc->name))
			continue;
		if (svc->role != CONFIG_ROLE_EDGE_INTERNAL)
			return false;
		users++;
	}
	return users > 0;
}

/* Which option of CC a file path belongs to, and its line. */
static const char *rules_file_kind(const struct config_cert *cc,
				   const char *path, int *line)
{
	*line = cc ? cc->line : 0;
	if (!cc || !path)
		return "file";
	if (cc->cert && strcmp(path, cc->cert) == 0) {
		*line = finding_line(cc->cert_line, cc->line);
		return "cert";
	}
	if (cc->chain && strcmp(path, cc->chain) == 0) {
		*line = finding_line(cc->chain_line, cc->line);
		return "chain";
	}
	if (cc->key && strcmp(path, cc->key) == 0) {
		*line = finding_line(cc->key_line, cc->line);
		return "key";
	}
	return "file";
}

/* ---- per certificate -------------------------------------------------- */

/* file-unreadable: one finding per file that cert.c could not use. */
static int rules_file_errors(const struct config *cfg,
			     const struct config_cert *cc,
			     const struct cert_info *ci, const char *who,
			     struct findings *out)
{
	const char *file = finding_file(cfg);
	int rc = 0;

	for (size_t i = 0; i < ci->nerrors && i < 3; i++) {
		const struct cert_file_error *e = &ci->errors[i];
		const char *path = e->path ? e->path : "(no path)";
		const char *detail = e->detail ? e->detail : "";
		int line;
		const char *kind = rules_file_kind(cc, e->path, &line);
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
				rc |= findings_add(
					out, FINDING_ERROR, "file-unreadable",
					file, line, who, "%s: %s file %s: %s",
					who, kind, path, detail);
			else
				rc |= findings_add(
					out, FINDING_ERROR, "file-unreadable",
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
		rc |= findings_add(out, FINDING_ERROR, "file-unreadable", file,
				   line, who, "%s: %s file %s %s%s%s%s — %s",
				   who, kind, path, what, *detail ? " (" : "",
				   detail, *detail ? ")" : "", todo);
	}
	if (!ci->leaf && ci->nerrors == 0 && cc && !cc->cert)
		rc |= findings_add(
			out, FINDING_ERROR, "file-unreadable", file, cc->line,
			who,
			"%s names no cert file — add cert = \"PATH\" "
			"(the PEM certificate, leaf first)",
			who);
	return rc;
}

static bool rules_ec_curve_ok(const char *curve)
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

static int rules_check_key(const struct config *cfg,
			   const struct config_cert *cc,
			   const struct cert_info *ci, const char *who,
			   bool internal, struct findings *out)
{
	const char *file = finding_file(cfg);
	int sec = cc ? cc->line : 0;
	int key_line = cc ? finding_line(cc->key_line, cc->line) : 0;
	const char *key_path = cc && cc->key ? cc->key : "the key file";
	const char *cert_path = cc && cc->cert ? cc->cert : "the certificate";
	bool weak = false;
	char desc[64];
	int rc = 0;

	if (ci->key && !ci->key_matches)
		rc |= findings_add(
			out, FINDING_ERROR, "key-match", file, key_line, who,
			"%s: the key in %s does not belong to the "
			"certificate in %s — name the key that was "
			"generated with this certificate's request, or "
			"reissue the certificate for this key",
			who, key_path, cert_path);
	if (ci->key && (ci->key_mode & 077))
		rc |= findings_add(
			out, FINDING_ERROR, "key-perms", file, key_line, who,
			"%s: key file %s has mode %04o, readable by "
			"group or others — chmod 600 %s (owned by the "
			"user edge443 starts as)",
			who, key_path, (unsigned)(ci->key_mode & 0777),
			key_path);

	if (ci->key_type == CERT_KEY_RSA)
		weak = ci->key_bits < 2048 || ci->key_bits % 8 != 0;
	else if (ci->key_type == CERT_KEY_EC)
		weak = !rules_ec_curve_ok(ci->key_curve);
	if (weak)
		rc |= findings_add(
			out, internal ? FINDING_WARN : FINDING_ERROR,
			"key-strength", file,
			finding_line(cc ? cc->cert_line : 0, sec), who,
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
 * rules_check_cert, because a chain as served (probe) has no key to judge. */
int rules_check_key_missing(const struct config *cfg,
			    const struct config_cert *cc, struct findings *out)
{
	const struct config_service *first = NULL;
	size_t others = 0;
	char who[300];

	if (cc->key)
		return 0;
	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct config_service *svc = &cfg->services[i];
		if (!config_service_uses_cert(svc, cc->name) ||
		    svc->mode == CONFIG_MODE_PASSTHROUGH)
			continue;
		if (first)
			others++;
		else
			first = svc;
	}
	if (!first)
		return 0;
	finding_cert_label(cc, NULL, who, sizeof(who));
	return findings_add(
		out, FINDING_ERROR, "key-missing", finding_file(cfg),
		finding_line(cc->key_line, cc->line), who,
		"%s has no key, but service \"%s\" (%s)%s terminates "
		"TLS with it — add key = \"PATH\" (this certificate's "
		"private key, mode 0600) to %s",
		who, first->name, config_mode_name(first->mode),
		others ? " and other services" : "", who);
}

static int rules_check_names(const struct config *cfg,
			     const struct config_cert *cc,
			     const struct cert_info *ci, const char *who,
			     struct findings *out)
{
	const char *file = finding_file(cfg);
	int line = cc ? finding_line(cc->cert_line, cc->line) : 0;
	char sans[512];
	int rc = 0;

	finding_san_list(ci, sans, sizeof(sans));
	if (!ci->has_san_ext || ci->nsans == 0) {
		rc |= findings_add(
			out, FINDING_ERROR, "san-present", file, line, who,
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
			found = finding_name_eq(ci->cn, ci->sans[i]);
		if (!found)
			rc |= findings_add(
				out, FINDING_ERROR, "cn-in-san", file, line,
				who,
				"%s has CN %s, which is not one of its "
				"SANs (%s); clients ignore the CN once "
				"SANs exist — reissue it with the CN "
				"also as the first SAN",
				who, ci->cn, sans);
	}

	bool first_not_cn = ci->cn && !finding_name_eq(ci->sans[0], ci->cn);
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
		rc |= findings_add(
			out, FINDING_WARN, "san-order", file, line, who,
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
static long rules_validity_cap(time_t not_before)
{
	if (not_before < rules_utc(2026, 3, 15))
		return 398;
	if (not_before < rules_utc(2027, 3, 15))
		return 200;
	if (not_before < rules_utc(2029, 3, 15))
		return 100;
	return 47;
}

static int rules_check_validity(const struct config *cfg,
				const struct config_cert *cc,
				const struct cert_info *ci, const char *who,
				bool internal, time_t now, struct findings *out)
{
	const char *file = finding_file(cfg);
	int line = cc ? finding_line(cc->cert_line, cc->line) : 0;
	char from[40], until[40];
	int rc = 0;

	finding_date(ci->not_before, from, sizeof(from));
	finding_date(ci->not_after, until, sizeof(until));
	if (ci->not_before > now)
		rc |= findings_add(
			out, FINDING_ERROR, "not-yet-valid", file, line, who,
			"%s is not valid before %s — install a "
			"certificate that is valid now, or check the "
			"system clock",
			who, from);
	if (ci->not_after < now) {
		rc |= findings_add(
			out, FINDING_ERROR, "expired", file, line, who,
			"%s expired on %s — renew it and install the "
			"new certificate",
			who, until);
	} else if (cfg && cfg->warn_days > 0 &&
		   (double)ci->not_after - (double)now <
			   (double)cfg->warn_days * RULES_DAY) {
		long days = (long)((ci->not_after - now) / RULES_DAY);
		rc |= findings_add(
			out, FINDING_WARN, "expires-soon", file, line, who,
			"%s expires on %s, in %ld day%s (warn_days = "
			"%d) — renew it now and install the new "
			"certificate before then",
			who, until, days, days == 1 ? "" : "s", cfg->warn_days);
	}

	if (!internal && ci->not_after > ci->not_before) {
		long cap = rules_validity_cap(ci->not_before);
		double life = (double)ci->not_after - (double)ci->not_before;
		if (life > (double)cap * RULES_DAY)
			rc |= findings_add(
				out, FINDING_WARN, "validity-cap", file, line,
				who,
				"%s is valid for %.0f days (%s to %s), "
				"longer than the %ld days that the CA/B "
				"Forum allows for a certificate issued "
				"then; public clients may refuse it — "
				"reissue it with a lifetime of at most "
				"%ld days",
				who, life / RULES_DAY, from, until, cap, cap);
	}
	return rc;
}

static int rules_check_chain(const struct config *cfg,
			     const struct config_cert *cc,
			     const struct cert_info *ci, const char *who,
			     bool internal, struct findings *out)
{
	const char *file = finding_file(cfg);
	int cert_line = cc ? finding_line(cc->cert_line, cc->line) : 0;
	int chain_line = cc && cc->chain
				 ? finding_line(cc->chain_line, cc->line)
				 : cert_line;
	const char *trust =
		cfg && cfg->trust_file ? cfg->trust_file : "trust_file";
	int rc = 0;

	if (ci->chain_status == CERT_CHAIN_INCOMPLETE) {
		if (internal)
			rc |= findings_add(
				out, FINDING_WARN, "chain-incomplete", file,
				chain_line, who,
				"%s does not verify to trust_file %s with the "
				"intermediates provided (%s); it serves the "
				"Edge internal interface only, so an internal "
				"CA is fine — make sure the internal servers "
				"trust its root, and add any intermediate(s) "
				"to chain",
				who, trust, ci->chain_detail);
		else
			rc |= findings_add(
				out, FINDING_ERROR, "chain-incomplete", file,
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
		rc |= findings_add(
			out, FINDING_WARN, "chain-extra", file, chain_line, who,
			"%s: the chain holds %s — remove the root and "
			"any unrelated certificates from the chain "
			"file; clients bring their own roots, and extra "
			"certificates only cost bytes or confuse them",
			who, what);
	}
	return rc;
}

static int rules_check_internal_name(const struct config *cfg,
				     const struct config_cert *cc,
				     const struct cert_info *ci,
				     const char *who, bool internal,
				     struct findings *out)
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

		if (!name || !cert_name_is_internal(name))
			continue;
		/* The CN is normally also a SAN: name it once. */
		for (size_t j = 0; i == ci->nsans && j < ci->nsans; j++)
			dup = dup || finding_name_eq(name, ci->sans[j]);
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
	return findings_add(
		out, FINDING_WARN, "internal-name", finding_file(cfg),
		cc ? finding_line(cc->cert_line, cc->line) : 0, who,
		"%s chains to a public root but names the internal "
		"host%s %s; public CAs may not issue certificates for "
		"internal names — move internal names to a "
		"certificate from your internal CA, or use public "
		"names",
		who, n == 1 ? "" : "s", names);
}

int rules_check_cert(const struct config *cfg, const struct config_cert *cc,
		     const struct cert_info *ci, time_t now,
		     struct findings *out)
{
	const char *file = finding_file(cfg);
	int line = cc ? finding_line(cc->cert_line, cc->line) : 0;
	bool internal = rules_cert_internal(cfg, cc);
	char who[300];
	int rc = 0;

	if (!ci)
		return 0;
	finding_cert_label(cc, ci, who, sizeof(who));
	rc |= rules_file_errors(cfg, cc, ci, who, out);
	if (!ci->leaf)
		return rc;

	rc |= rules_check_key(cfg, cc, ci, who, internal, out);
	if (ci->sig_weak)
		rc |= findings_add(
			out, FINDING_ERROR, "sig-weak", file, line, who,
			"%s: %s carries an MD5 or SHA-1 signature (the "
			"leaf is signed with %s), which clients refuse "
			"— reissue it with a SHA-256 signature",
			who,
			ci->sig_weak_subject[0] ? ci->sig_weak_subject
						: ci->subject,
			ci->sig_alg[0] ? ci->sig_alg : "?");
	if (ci->has_eku &&
	    (!(ci->eku & CERT_EKU_SERVER) || (ci->eku & CERT_EKU_ANY)))
		rc |= findings_add(
			out, FINDING_ERROR, "eku-server", file, line, who,
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
		rc |= findings_add(out, FINDING_WARN, "ku-mismatch", file, line,
				   who,
				   "%s has an RSA key but its key usage lacks "
				   "digitalSignature, which ECDHE and TLS 1.3 "
				   "need — reissue it with key usage "
				   "digitalSignature, keyEncipherment",
				   who);
	if (ci->has_ku && ci->key_type == CERT_KEY_EC &&
	    (ci->ku & CERT_KU_KEY_ENCIPHERMENT))
		rc |= findings_add(
			out, FINDING_WARN, "ku-mismatch", file, line, who,
			"%s has an EC key but its key usage includes "
			"keyEncipherment, which an EC key cannot do — "
			"reissue it with key usage digitalSignature "
			"only",
			who);
	rc |= rules_check_names(cfg, cc, ci, who, out);
	rc |= rules_check_validity(cfg, cc, ci, who, internal, now, out);
	rc |= rules_check_chain(cfg, cc, ci, who, internal, out);
	rc |= rules_check_internal_name(cfg, cc, ci, who, internal, out);
	rc |= rules_check_issuer(cfg, cc, ci, who, internal, now, out);
	return rc;
}
