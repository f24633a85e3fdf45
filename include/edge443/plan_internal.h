/* plan_internal.h — shared between plan.c, plan_cert.c and plan_service.c.
 *
 * Not part of the plan API: other modules include plan.h.  plan.c holds the
 * findings list, the orchestration of plan_check and the plan-wide rules;
 * plan_cert.c the per-certificate rules; plan_service.c the per-service
 * rules.  Everything here is pure logic over plain structs and may be called
 * from any thread that owns its arguments.
 */
#ifndef EDGE443_PLAN_INTERNAL_H
#define EDGE443_PLAN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "edge443/cert.h"
#include "edge443/config.h"
#include "edge443/plan.h"

/* ---- small helpers (plan.c) ------------------------------------------- */

/* LINE when an option was written (> 0), else FALLBACK (its section). */
int plan_line(int line, int fallback);

/* The config file name for findings; "(config)" when unknown. */
const char *plan_file(const struct config *cfg);

/* Case-insensitive equality; false when either is NULL. */
bool plan_name_eq(const char *a, const char *b);

/* "certificate \"ssl1\"", or for a chain as served (no section) "the
 * certificate served (CN=...)". */
void plan_cert_label(const struct config_cert *cc, const struct cert_info *ci,
		     char *buf, size_t len);

/* "service \"NAME\"". */
void plan_service_label(const struct config_service *svc, char *buf,
			size_t len);

/* Comma-separated list of the DNS SANs, "(none)" when empty. */
void plan_san_list(const struct cert_info *ci, char *buf, size_t len);

/* ---- per certificate (plan_cert.c) ------------------------------------ */

/* key-missing: a configuration fact (no `key` option) judged against the
 * services that terminate TLS with the certificate.  Not part of
 * plan_check_cert, because a chain as served (probe) has no key to judge. */
int plan_check_key_missing(const struct config *cfg,
			   const struct config_cert *cc,
			   struct plan_findings *out);

/* ---- per service (plan_service.c) ------------------------------------- */

/* The per-service rules that need no certificate: cert-required,
 * backend-required, edge-terminated, backend-verify, tls-legacy. */
int plan_check_service(const struct config *cfg,
		       const struct config_service *svc,
		       struct plan_findings *out);

#endif
