/* rules.h — the certificate-plan rules of `edge443 check`, as one call.
 *
 * rules.c is pure logic over plain structs: it reads a `struct config` and the
 * `struct cert_info` facts that cert.c loaded for each certificate section,
 * runs the per-certificate rules (rules_cert.h), the per-service rules
 * (rules_service.h) and the plan-wide rules, and produces findings
 * (findings.h: severity, rule id, file:line, what is wrong, what to
 * do).  This header includes those three, so a caller needs only it.  It
 * does no I/O: loading files and verifying chains is cert.c's job, done by
 * rules_load_certs before rules_check.
 */
#ifndef EDGE443_RULES_H
#define EDGE443_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "edge443/cert/cert.h"
#include "edge443/config/config.h"
#include "edge443/rules/rules_cert.h"
#include "edge443/rules/findings.h"
#include "edge443/rules/rules_service.h"

/* The certificates of a plan, parallel to cfg->certs: certs[i] belongs to
 * cfg->certs[i] (never NULL after rules_load_certs). */
struct rules_certs {
	struct cert_info **certs;
	size_t n;
	bool trust_ok;	       /* the global trust_file could be read */
	char trust_error[256]; /* why not */
};

/* Load every certificate section of CFG with cert_load and verify its chain
 * against cfg->trust_file.  Returns a new object (rules_certs_free), NULL only
 * on allocation failure. */
struct rules_certs *rules_load_certs(const struct config *cfg);
void rules_certs_free(struct rules_certs *pc);

/* Apply every per-certificate, per-service and plan-wide rule as of time NOW.
 * Appends to OUT (which the caller zero-initialises).  Returns 0, -1 on
 * allocation failure. */
int rules_check(const struct config *cfg, const struct rules_certs *pc,
		time_t now, struct findings *out);

/* Every rule id that rules.c can report, NULL-terminated (docs and tests). */
extern const char *const rules_ids[];

#endif
