/* report.h — text and JSON output of the service map and findings.
 *
 * report.c is the only code that formats what `check` (and later `probe` and
 * `plan`) print for people and for automation.  JSON is built with jansson.
 */
#ifndef EDGE443_REPORT_H
#define EDGE443_REPORT_H

#include <stdio.h>

#include "edge443/config.h"
#include "edge443/plan.h"

/* The service map table of SPEC "Command line" (header line + one row per
 * service, columns padded to the widest cell). */
void report_service_map(FILE *out, const struct config *cfg,
			const struct plan_certs *pc);

/* One line per finding: "SEVERITY RULE FILE:LINE: MESSAGE". */
void report_finding(FILE *out, const struct plan_finding *f);

/* Service map, a blank line, every finding, and a summary line
 * ("N errors, M warnings"). */
void report_check_text(FILE *out, const struct config *cfg,
		       const struct plan_certs *pc,
		       const struct plan_findings *findings);

/* One JSON document: {"config", "services": [...], "certificates": [...],
 * "findings": [...], "errors": N, "warnings": M}.  Returns 0, -1 on failure. */
int report_check_json(FILE *out, const struct config *cfg,
		      const struct plan_certs *pc,
		      const struct plan_findings *findings);

#endif
