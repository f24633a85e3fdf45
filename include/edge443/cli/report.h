/* report.h — text and JSON output of the service map and findings.
 *
 * report.c is the only code that formats what `check` (and `probe` and
 * `plan`) print for people and for automation.  JSON is built with jansson.
 */
#ifndef EDGE443_REPORT_H
#define EDGE443_REPORT_H

#include <stdio.h>

#include "edge443/config/config.h"
#include "edge443/rules/rules.h"
#include "edge443/order/order.h"
#include "edge443/order/csr.h"
#include "edge443/cli/probe.h"

/* The service map table (header line + one row per
 * service, columns padded to the widest cell). */
void report_service_map(FILE *out, const struct config *cfg,
			const struct rules_certs *pc);

/* Service map, a blank line, every finding, and a summary line
 * ("N errors, M warnings"). */
void report_check_text(FILE *out, const struct config *cfg,
		       const struct rules_certs *pc,
		       const struct findings *findings);

/* One JSON document: {"config", "services": [...], "certificates": [...],
 * "findings": [...], "errors": N, "warnings": M}.  Returns 0, -1 on failure. */
int report_check_json(FILE *out, const struct config *cfg,
		      const struct rules_certs *pc,
		      const struct findings *findings);

/* ---- edge443 plan / csr (report.c owns the formatting) ---- */

/* The planned certificates as a table (CERTIFICATE, CN, SANS in order with
 * the CN first, EKU, CA public|internal, SERVICES) and a summary line. */
void report_plan_text(FILE *out, const struct config *cfg,
		      const struct order_plan *plan);

/* One line per file that csr_write_plan wrote (OUT_DIR / LAB_DIR may be
 * NULL). */
void report_plan_files(FILE *out, const struct order_plan *plan,
		       const char *out_dir, const char *lab_dir);

/* One JSON document: {"config", "platform", "certificates": [{"name", "cn",
 * "sans", "eku", "ca", "services", "out"?, "lab"?}], "count", "public",
 * "internal", "trust_file"?, "snippet"?}.  Returns 0, -1 on failure. */
int report_plan_json(FILE *out, const struct config *cfg,
		     const struct order_plan *plan, const char *out_dir,
		     const char *lab_dir);

/* What `edge443 csr` says about a request: form, subject, SANs, key, EKU,
 * signature. */
void report_csr_text(FILE *out, const char *path, const struct csr_info *info);

/* ---- edge443 probe (report.c owns the formatting) ---- */

/* The probe table (SERVICE, TARGET, SNI, SERVED CN, FINGERPRINT (the first
 * bytes), MATCHES PLAN, CHAIN, NOTE; one row per connection attempt), a blank
 * line, every finding, and a summary line. */
void report_probe_text(FILE *out, const struct config *cfg,
		       const struct probe_report *rep);

/* One JSON document: {"config", "timeout", "probes": [{"service",
 * "backend", "target", "sni", "state", "served_cn", "subject",
 * "fingerprint_sha256", "matches_plan", "chain", "tls_version", "cipher",
 * "note", "seconds"}], "findings", "errors", "warnings", "ok"}.  Returns 0,
 * -1 on failure. */
int report_probe_json(FILE *out, const struct config *cfg,
		      const struct probe_report *rep);

#endif
