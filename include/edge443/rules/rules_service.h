/* plan_service.h — the per-service rules of `edge443 check`.
 *
 * plan_service.c judges one service: whether a certificate suits its role
 * (with the role facts of roles.h), and the service rules that need no
 * certificate.  plan.c runs them for every service, probe for a chain as
 * served.  Pure logic over plain structs: any thread that owns its
 * arguments.
 */
#ifndef EDGE443_PLAN_SERVICE_H
#define EDGE443_PLAN_SERVICE_H

#include "edge443/cert/cert.h"
#include "edge443/config/config.h"
#include "edge443/rules/findings.h"

/* The per-service rules for SVC served with certificate CI (section CC,
 * may be NULL for a chain as served).  0 when SVC or CI is NULL or CI has
 * no leaf.  Returns 0, -1 on allocation failure. */
int plan_check_service_cert(const struct config *cfg,
			    const struct config_service *svc,
			    const struct config_cert *cc,
			    const struct cert_info *ci,
			    struct plan_findings *out);

/* The per-service rules that need no certificate: cert-required,
 * backend-required, edge-terminated, backend-verify, tls-legacy. */
int plan_check_service(const struct config *cfg,
		       const struct config_service *svc,
		       struct plan_findings *out);

#endif
