/* order.h — compute the smallest certificate set for the configured services.
 *
 * order.c is pure logic over a `struct config` (no I/O, no OpenSSL): it
 * decides how many certificates the services need, which CN and SANs each
 * one carries (CN first), whether it asks for clientAuth, whether it comes
 * from a public or an internal CA, and which services use it.  Making keys,
 * requests and lab certificates from the result is csr.c's job; printing it
 * is report.c's.
 *
 * The rules it follows are those of `edge443 check` (rules.c), with the role
 * facts of roles.h:
 *   - every service whose certificate CN must be its FQDN (cn-is-fqdn as an
 *     error: access-edge, webconf-edge, edge-internal on ocs2007r2; none on
 *     lync2010 and later) seeds a certificate whose CN is its FQDN; two such
 *     services with the same FQDN (and class) share one;
 *   - on lync2010 and later (lync2013, sfb2015, sfb2019, sfbse) nothing is
 *     CN-bound and the set is the smallest: the first access-edge of its
 *     class seeds the ONE Edge certificate (subject = the Access Edge FQDN,
 *     edge-subject), and the first web-services seeds the ONE reverse-proxy
 *     certificate; the services that roles_of(role)->reverse_proxy marks
 *     (web-services, office-web-apps, on the platforms that have them) are
 *     a class of their own and never share a certificate with the Edge;
 *   - the other services ride as SANs on a certificate of their class: the
 *     reverse-proxy services on the external web services' certificate; A/V
 *     on the Web Conferencing Edge certificate (ocs2007r2), else on the
 *     Access Edge's; CWA / web / generic / webconf-edge (lync2010+) on the
 *     Access Edge certificate; otherwise the first certificate of the
 *     class; when the class has no certificate yet, the first such service
 *     seeds one;
 *   - public and internal names never share a certificate (internal: role
 *     edge-internal, or an FQDN a public CA may not certify: a single label,
 *     .local/.corp/.lan/.internal/..., a private IP);
 *   - SANs: the CN, then each service's FQDN in service order (on
 *     lync2010+ the service that seeded the certificate first), each
 *     followed by the names derived from it: cwa adds as.<fqdn> and
 * download.<fqdn>; web-services its simple_urls and lyncdiscover.<domain> for
 * each of its sip_domains; access-edge adds sip.<domain> for each of
 * sip_domains (on lync2010+ after every service FQDN of the Edge certificate:
 *     Access Edge, Web Conferencing Edge, then sip.<domain>); on lync2010+
 *     the A/V Edge FQDN is a SAN only when the service names a certificate
 *     (A/V authentication needs none, fqdn-covered does); SANs are
 *     deduplicated case-insensitively;
 *   - EKU serverAuth, plus clientAuth when a service on it sets federation;
 *   - wildcards are never planned (a wildcard FQDN or simple URL is
 *     refused).
 */
#ifndef EDGE443_ORDER_H
#define EDGE443_ORDER_H

#include <stdbool.h>
#include <stddef.h>

#include "edge443/config/config.h"

/* One planned certificate.  All strings and arrays are owned by the plan. */
struct order_cert {
	char *name;  /* the config's certificate section that a service names
			("ssl1"), else "cert1", "cert2", ... — unique in the plan
		      */
	char *cn;    /* = sans[0] */
	char **sans; /* dNSNames, CN first, then in service order, no duplicates
		      */
	size_t nsans;
	bool internal;	  /* issue from the internal CA (never mixed with public
			     names) */
	bool client_auth; /* EKU clientAuth besides serverAuth (federation) */
	size_t *services; /* indices into cfg->services, in service order */
	size_t nservices;
	bool reverse_proxy; /* the reverse-proxy certificate (lync2010+:
			       web-services, office-web-apps) */
};

struct order_plan {
	struct order_cert *certs; /* in the order they were seeded */
	size_t n;
	size_t npublic, ninternal;
};

/* Plan the certificates for every service of CFG.  Returns a new plan
 * (order_plan_free), or NULL with the reason in err: a service without an
 * FQDN, a wildcard or malformed name (FQDN, sip.<domain>,
 * lyncdiscover.<domain>, simple URL), or allocation failure.  A config with
 * no services gives an empty plan. */
struct order_plan *order_plan_new(const struct config *cfg, char *err,
				  size_t errlen);

void order_plan_free(struct order_plan *plan);

/* The planned certificate that service index SVC rides on, or NULL. */
const struct order_cert *order_plan_find_service(const struct order_plan *plan,
						 size_t svc);

/* True when a service of ROLE seeds a certificate of its own under CFG's
 * platform (CFG NULL: the default platform): the roles whose certificate CN
 * must be their FQDN (roles_cn_is_fqdn == ROLES_CN_MUST). */
bool order_role_seeds(const struct config *cfg, enum config_role role);

#endif
