/* rules_issuer.c — the per-certificate rules about what the issuer gives
 * clients.
 *
 * This part of the rules module judges the leaf's pointers to revocation and
 * to its issuer, and the intermediates it is served with: crl-dp-present
 * (OCS 2007 R2 requires a CRL distribution point in every server
 * certificate; elsewhere clients that check revocation by CRL cannot),
 * aia-present (RFC 5280 §4.2.2.1: without caIssuers or OCSP a client can
 * neither fetch a missing intermediate nor check revocation online), both for
 * public chains only, and intermediate-expiring (an intermediate that has
 * expired, expires before the leaf, or within warn_days), for every chain.
 * The facts come from cert_x509.c; rules_cert.c runs this for every
 * certificate.  Like all of rules it reads no file and prints nothing: it
 * appends findings (findings.c).
 */
#include "edge443/rules/rules_issuer.h"

#include <stdio.h>
#include <string.h>

#define RULES_ISSUER_DAY 86400

static int rules_check_crl_dp(const struct config *cfg, const char *who,
			      const struct cert_info *ci, int line,
			      struct findings *out)
{
	bool ocs = !cfg || cfg->platform == CONFIG_PLATFORM_OCS2007R2;
	char ocsp[320];

	if (ci->has_crl_dp)
		return 0;
	if (ci->has_aia_ocsp)
		snprintf(ocsp, sizeof(ocsp), " (only the OCSP responder %s)",
			 ci->aia_ocsp ? ci->aia_ocsp : "of its AIA");
	else
		snprintf(ocsp, sizeof(ocsp), " and no OCSP responder");
	if (ocs)
		return findings_add(
			out, FINDING_ERROR, "crl-dp-present", finding_file(cfg),
			line, who,
			"%s has no CRL distribution point%s; OCS 2007 R2 "
			"requires one in every server certificate, and clients "
			"that check revocation by CRL cannot — reissue it from "
			"a CA that puts a CRL distribution point (an http:// "
			"URL) in its certificates",
			who, ocsp);
	return findings_add(
		out, FINDING_WARN, "crl-dp-present", finding_file(cfg), line,
		who,
		"%s has no CRL distribution point%s; clients that check "
		"revocation by CRL cannot, and public CAs are making OCSP "
		"optional — reissue it from a CA that puts a CRL distribution "
		"point in its certificates",
		who, ocsp);
}

static int rules_check_aia(const struct config *cfg, const char *who,
			   const struct cert_info *ci, int line,
			   struct findings *out)
{
	if (ci->has_aia_ca_issuers || ci->has_aia_ocsp)
		return 0;
	return findings_add(
		out, FINDING_WARN, "aia-present", finding_file(cfg), line, who,
		"%s has no Authority Information Access (neither caIssuers "
		"nor OCSP): a client that lacks the intermediate cannot fetch "
		"it, and none can check revocation online — reissue it from a "
		"CA that includes AIA, and serve the intermediate(s) in chain "
		"meanwhile",
		who);
}

/* intermediate-expiring for the Ith intermediate of CI. */
static int rules_check_intermediate(const struct config *cfg, const char *who,
				    const struct cert_info *ci, size_t i,
				    time_t now, int line, struct findings *out)
{
	const struct cert_intermediate *im = &ci->intermediates[i];
	const char *name = im->subject[0] ? im->subject : "(no subject)";
	int warn_days = cfg ? cfg->warn_days : 0;
	char until[40], leaf[40];

	finding_date(im->not_after, until, sizeof(until));
	finding_date(ci->not_after, leaf, sizeof(leaf));
	if (im->not_after < now)
		return findings_add(
			out, FINDING_ERROR, "intermediate-expiring",
			finding_file(cfg), line, who,
			"%s: its intermediate %s expired on %s, so clients "
			"refuse the whole chain — put the CA's current "
			"intermediate in chain (the CA publishes it), or "
			"reissue the certificate from the CA's current "
			"hierarchy",
			who, name, until);
	if (im->not_after < ci->not_after)
		return findings_add(
			out, FINDING_WARN, "intermediate-expiring",
			finding_file(cfg), line, who,
			"%s: its intermediate %s expires on %s, before the "
			"certificate itself (%s); from then on clients refuse "
			"the chain — get the CA's replacement intermediate and "
			"put it in chain before %s, or reissue the certificate "
			"from a hierarchy that outlives it",
			who, name, until, leaf, until);
	if (warn_days > 0 && (double)im->not_after - (double)now <
				     (double)warn_days * RULES_ISSUER_DAY) {
		long days = (long)((im->not_after - now) / RULES_ISSUER_DAY);

		return findings_add(
			out, FINDING_WARN, "intermediate-expiring",
			finding_file(cfg), line, who,
			"%s: its intermediate %s expires on %s, in %ld day%s "
			"(warn_days = %d) — get the CA's replacement "
			"intermediate and put it in chain before then",
			who, name, until, days, days == 1 ? "" : "s",
			warn_days);
	}
	return 0;
}

int rules_check_issuer(const struct config *cfg, const struct config_cert *cc,
		       const struct cert_info *ci, const char *who,
		       bool internal, time_t now, struct findings *out)
{
	int cert_line = cc ? finding_line(cc->cert_line, cc->line) : 0;
	int chain_line = cc && cc->chain
				 ? finding_line(cc->chain_line, cc->line)
				 : cert_line;
	int rc = 0;

	if (!ci || !ci->leaf)
		return 0;
	/* A public chain: not an internal role's, and it verified to the
	 * roots clients trust (as internal-name judges it). */
	if (!internal && ci->chain_status == CERT_CHAIN_OK) {
		rc |= rules_check_crl_dp(cfg, who, ci, cert_line, out);
		rc |= rules_check_aia(cfg, who, ci, cert_line, out);
	}
	for (size_t i = 0; i < ci->nintermediates; i++)
		rc |= rules_check_intermediate(cfg, who, ci, i, now, chain_line,
					       out);
	return rc;
}
