/* plan.h — the certificate-plan rules of RULES.md.
 *
 * plan.c is pure logic over plain structs: it reads a `struct config` and the
 * `struct cert_info` facts that cert.c loaded for each certificate section,
 * and produces findings (severity, rule id, file:line, what is wrong, what to
 * do).  It does no I/O: loading files and verifying chains is cert.c's job,
 * done by plan_load_certs before plan_check.
 */
#ifndef EDGE443_PLAN_H
#define EDGE443_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "edge443/cert.h"
#include "edge443/config.h"

enum plan_severity {
	PLAN_WARN,
	PLAN_ERROR,
};

struct plan_finding {
	enum plan_severity severity;
	const char *rule; /* static rule id, e.g. "cn-is-fqdn" */
	const char *file; /* borrowed from the config (cfg->file) */
	int line;	  /* 0 when no line applies */
	char *subject; /* owned: "service \"webconf\"" / "certificate \"ssl1\""
			  / NULL */
	char *message; /* owned: what is wrong — what to do */
};

struct plan_findings {
	struct plan_finding *items;
	size_t n, cap;
	size_t errors, warnings;
};

/* The certificates of a plan, parallel to cfg->certs: certs[i] belongs to
 * cfg->certs[i] (never NULL after plan_load_certs). */
struct plan_certs {
	struct cert_info **certs;
	size_t n;
	bool trust_ok;	       /* the global trust_file could be read */
	char trust_error[256]; /* why not */
};

/* Load every certificate section of CFG with cert_load and verify its chain
 * against cfg->trust_file.  Returns a new object (plan_certs_free), NULL only
 * on allocation failure. */
struct plan_certs *plan_load_certs(const struct config *cfg);
void plan_certs_free(struct plan_certs *pc);

/* Apply every per-certificate, per-service and plan-wide rule as of time NOW.
 * Appends to OUT (which the caller zero-initialises).  Returns 0, -1 on
 * allocation failure. */
int plan_check(const struct config *cfg, const struct plan_certs *pc,
	       time_t now, struct plan_findings *out);

/* The per-certificate rules and the per-service rules for one certificate, as
 * probe uses them on a chain as served: SVC may be NULL (certificate rules
 * only); CC names the config section for messages (may be NULL). */
int plan_check_cert(const struct config *cfg, const struct config_cert *cc,
		    const struct cert_info *ci, time_t now,
		    struct plan_findings *out);
int plan_check_service_cert(const struct config *cfg,
			    const struct config_service *svc,
			    const struct config_cert *cc,
			    const struct cert_info *ci,
			    struct plan_findings *out);

/* Append one finding (printf-style message).  Used by plan.c and probe. */
int plan_add(struct plan_findings *out, enum plan_severity sev,
	     const char *rule, const char *file, int line, const char *subject,
	     const char *fmt, ...) __attribute__((format(printf, 7, 8)));

void plan_findings_free(struct plan_findings *f);

const char *plan_severity_name(enum plan_severity sev);

/* Every rule id that plan.c can report, NULL-terminated (docs and tests). */
extern const char *const plan_rule_ids[];

#endif
