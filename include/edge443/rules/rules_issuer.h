/* rules_issuer.h — the per-certificate rules about what the issuer gives
 * clients: revocation pointers, issuer location, intermediates that expire.
 *
 * rules_issuer.c judges the facts cert_x509.c read (CRL distribution point,
 * Authority Information Access, the intermediates on the leaf's path and
 * their notAfter); rules_cert.c runs it for every certificate section, and
 * so for a chain as served.  Pure logic over plain structs: any thread that
 * owns its arguments.
 */
#ifndef EDGE443_RULES_ISSUER_H
#define EDGE443_RULES_ISSUER_H

#include <stdbool.h>
#include <time.h>

#include "edge443/cert/cert.h"
#include "edge443/config/config.h"
#include "edge443/rules/findings.h"

/* crl-dp-present and aia-present (public chains only: INTERNAL is false and
 * the chain verified to trust_file) and intermediate-expiring (every chain)
 * for CI as of NOW.  CC names the section (may be NULL: a chain as served),
 * WHO is its label for messages.  Returns 0, -1 on allocation failure. */
int rules_check_issuer(const struct config *cfg, const struct config_cert *cc,
		       const struct cert_info *ci, const char *who,
		       bool internal, time_t now, struct findings *out);

#endif
