/* rules_service.h — the per-service rules of `edge443 check`.
 *
 * rules_service.c judges one service: whether a certificate suits its role
 * (with the role facts of roles.h), and the service rules that need no
 * certificate.  rules.c runs them for every service, probe for a chain as
 * served.  Pure logic over plain structs: any thread that owns its
 * arguments.
 */
#ifndef EDGE443_RULES_SERVICE_H
#define EDGE443_RULES_SERVICE_H

#include "edge443/cert/cert.h"
#include "edge443/config/config.h"
#include "edge443/rules/findings.h"

/* The per-service rules for SVC served with certificate CI (section CC,
 * may be NULL for a chain as served), public-clientauth and those of
 * rules_platform.h that need a certificate among them.  0 when SVC or CI is
 * NULL or CI has no leaf.  Returns 0, -1 on allocation failure. */
int rules_check_service_cert(const struct config *cfg,
			     const struct config_service *svc,
			     const struct config_cert *cc,
			     const struct cert_info *ci, struct findings *out);

/* The per-service rules that need no certificate: cert-required,
 * backend-required, edge-terminated, backend-verify, tls-legacy, and from
 * rules_platform.h webservices-port and platform-mismatch. */
int rules_check_service(const struct config *cfg,
			const struct config_service *svc, struct findings *out);

#endif
