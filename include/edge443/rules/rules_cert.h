/* rules_cert.h — the per-certificate rules of `edge443 check`.
 *
 * rules_cert.c judges one certificate section on its own (files, key,
 * signature, usages, names, validity, chain, and with rules_issuer.h the
 * revocation pointers and intermediates) and appends findings; rules.c
 * runs it for every section, probe for a chain as served.  Pure logic over
 * plain structs: any thread that owns its arguments.
 */
#ifndef EDGE443_RULES_CERT_H
#define EDGE443_RULES_CERT_H

#include <time.h>

#include "edge443/cert/cert.h"
#include "edge443/config/config.h"
#include "edge443/rules/findings.h"

/* The per-certificate rules for CI as of time NOW; CC names the config
 * section for messages (may be NULL: a chain as served).  Returns 0, -1 on
 * allocation failure. */
int rules_check_cert(const struct config *cfg, const struct config_cert *cc,
		     const struct cert_info *ci, time_t now,
		     struct findings *out);

/* key-missing: a configuration fact (no `key` option) judged against the
 * services that terminate TLS with the certificate.  Not part of
 * rules_check_cert, because a chain as served (probe) has no key to judge. */
int rules_check_key_missing(const struct config *cfg,
			    const struct config_cert *cc, struct findings *out);

#endif
