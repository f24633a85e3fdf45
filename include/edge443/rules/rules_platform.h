/* rules_platform.h — the per-service rules that depend on the platform:
 * the Edge subject of Lync 2010 and later, the reverse-proxy names and
 * ports, wildcard placement, and roles the platform does not have.
 *
 * rules_platform.c judges one service against cfg->platform with the role
 * facts of roles.h; rules_service.c runs it with the other per-service rules
 * (and so does probe, for a chain as served).  Pure logic over plain
 * structs: any thread that owns its arguments.
 */
#ifndef EDGE443_RULES_PLATFORM_H
#define EDGE443_RULES_PLATFORM_H

#include <stdbool.h>

#include "edge443/cert/cert.h"
#include "edge443/config/config.h"
#include "edge443/rules/findings.h"

/* edge-subject, lyncdiscover-san, simple-url-covered and wildcard-placement
 * for SVC served with CI (section CC, NULL for a chain as served).  0 when
 * SVC or CI is NULL or CI has no leaf.  Returns 0, -1 on allocation
 * failure. */
int rules_check_platform_cert(const struct config *cfg,
			      const struct config_service *svc,
			      const struct config_cert *cc,
			      const struct cert_info *ci, struct findings *out);

/* webservices-port and platform-mismatch for SVC (no certificate needed).
 * Returns 0, -1 on allocation failure. */
int rules_check_platform_service(const struct config *cfg,
				 const struct config_service *svc,
				 struct findings *out);

/* True when wildcard-placement applies on PLATFORM (Lync 2013 and later):
 * it then reports a wildcard CN as an error, so wildcard-forbidden need not
 * warn about the same CN. */
bool rules_wildcard_placement_on(enum config_platform platform);

#endif
