/* roles.h — the service roles and the facts each one carries.
 *
 * One table (roles.c) says, for every `enum config_role`, what the plan
 * rules (rules_service.c, rules.c) and the certificate planner (order.c) need
 * to know about it, so that the two cannot mean different things by one
 * word.  Facts that depend on the platform hold a set of platforms
 * (ROLES_ON bits).  Pure data and pure functions: any thread.
 */
#ifndef EDGE443_ROLES_H
#define EDGE443_ROLES_H

#include <stdbool.h>

#include "edge443/config/config.h"

/* The bit of platform P in a set of platforms. */
#define ROLES_ON(p) (1u << (unsigned)(p))
/* Every platform from P on (the platforms are in release order). */
#define ROLES_FROM(p) (ROLES_ALL & ~(ROLES_ON(p) - 1u))
#define ROLES_ALL ((1u << CONFIG_PLATFORM_COUNT) - 1u)
#define ROLES_OCS ROLES_ON(CONFIG_PLATFORM_OCS2007R2)
/* Lync Server 2010 and every later platform. */
#define ROLES_LYNC_UP ROLES_FROM(CONFIG_PLATFORM_LYNC2010)

/* What the certificate's subject CN must be, for the cn-is-fqdn rule. */
enum roles_cn {
	ROLES_CN_ANY,	 /* whatever it is */
	ROLES_CN_SHOULD, /* the service FQDN, or a warning */
	ROLES_CN_MUST,	 /* the service FQDN, or an error */
};

/* Where a wildcard name may appear in the role's certificate
 * (wildcard-forbidden). */
enum roles_wildcard {
	ROLES_WILDCARD_OK,	  /* anywhere */
	ROLES_WILDCARD_NOT_CN,	  /* a wildcard CN warns (old clients read the
				   * CN); wildcard SANs are fine */
	ROLES_WILDCARD_FORBIDDEN, /* nowhere: CN and SANs */
};

struct roles_facts {
	enum config_role role;
	const char *title; /* as people call it: "Access Edge" */
	/* Platforms on which the service takes its FQDN from its
	 * certificate's CN, whatever is configured: "CN-bound" (cn-shared,
	 * OCS 2007 R2 "Certificate Requirements for External User Access").
	 * Lync 2010 and later no longer do. */
	unsigned cn_bound;
	/* Platforms on which cn-is-fqdn applies, how strictly, and why. */
	unsigned cn_is_fqdn_on;
	enum roles_cn cn_is_fqdn;
	const char *cn_why; /* "takes its FQDN from the certificate CN ..." */
	/* Serves internal clients only: its certificate comes from the
	 * internal CA, never together with public names. */
	bool internal;
	/* Clients and federation partners authenticate the server itself
	 * (MTLS), so edge443 should pass it through (edge-terminated). */
	bool mtls_peer;
	enum roles_wildcard wildcard;
	/* The platforms that have this role (platform-mismatch): CWA is OCS
	 * 2007 R2's, the external web services and Office Web Apps are
	 * published by the reverse proxy of Lync 2010 and later. */
	unsigned platforms;
	/* Published by the reverse proxy of Lync 2010 and later (the
	 * reverse-proxy certificate, where wildcard SANs are allowed). */
	bool reverse_proxy;
};

/* The facts of ROLE; a role without a row gets the generic one.  Never
 * NULL; static. */
const struct roles_facts *roles_of(enum config_role role);

/* Is ROLE CN-bound on PLATFORM (see roles_facts.cn_bound)? */
bool roles_cn_bound(enum config_platform platform, enum config_role role);

/* Does PLATFORM have ROLE (see roles_facts.platforms)? */
bool roles_on_platform(enum config_platform platform, enum config_role role);

/* What the CN of ROLE's certificate must be on PLATFORM (ROLES_CN_ANY where
 * cn-is-fqdn does not apply). */
enum roles_cn roles_cn_is_fqdn(enum config_platform platform,
			       enum config_role role);

#endif
