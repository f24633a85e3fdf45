/* roles.c — the service roles and the facts each one carries.
 *
 * The one table of what a role means for its certificate: its name in
 * messages, whether the service takes its FQDN from the certificate CN
 * (and on which platforms), whether the CN must be the FQDN, whether the
 * role is internal, authenticated by MTLS, or refuses wildcards.  The plan
 * rules judge with it and the certificate planner plans with it; neither
 * keeps a list of roles of its own.  Each fact feeds a rule of `edge443
 * check` and rests on that rule's public source: cn-shared and cn-is-fqdn on
 * OCS 2007 R2 "Certificate Requirements for External User Access" (Lync 2010
 * and later no longer read the FQDN from the CN), wildcard-forbidden on Lync
 * "Wildcard Certificate Support" and the CWA 2007 R2 certificate
 * requirements; edge-terminated is our own judgement.  Nothing here reads a
 * config or a file.
 */
#include "edge443/config/roles.h"

#include <stddef.h>

static const struct roles_facts roles_table[] = {
	[CONFIG_ROLE_ACCESS_EDGE] =
		{
			.role = CONFIG_ROLE_ACCESS_EDGE,
			.platforms = ROLES_ALL,
			.title = "Access Edge",
			.cn_bound = ROLES_OCS,
			.cn_is_fqdn_on = ROLES_OCS,
			.cn_is_fqdn = ROLES_CN_MUST,
			.cn_why = "takes its FQDN from the certificate CN "
				  "whatever is configured",
			.mtls_peer = true,
			.wildcard = ROLES_WILDCARD_FORBIDDEN,
		},
	[CONFIG_ROLE_WEBCONF_EDGE] =
		{
			.role = CONFIG_ROLE_WEBCONF_EDGE,
			.platforms = ROLES_ALL,
			.title = "Web Conferencing Edge",
			.cn_bound = ROLES_OCS,
			.cn_is_fqdn_on = ROLES_OCS,
			.cn_is_fqdn = ROLES_CN_MUST,
			.cn_why = "takes its FQDN from the certificate CN "
				  "whatever is configured",
			.mtls_peer = true,
			.wildcard = ROLES_WILDCARD_FORBIDDEN,
		},
	[CONFIG_ROLE_AV_EDGE] =
		{
			.role = CONFIG_ROLE_AV_EDGE,
			.platforms = ROLES_ALL,
			.title = "A/V Edge",
			.cn_is_fqdn_on = ROLES_OCS,
			.cn_is_fqdn = ROLES_CN_SHOULD,
			.cn_why = "should present its FQDN as the certificate "
				  "CN",
		},
	[CONFIG_ROLE_EDGE_INTERNAL] =
		{
			.role = CONFIG_ROLE_EDGE_INTERNAL,
			.platforms = ROLES_ALL,
			.title = "the Edge internal interface",
			.cn_is_fqdn_on = ROLES_OCS,
			.cn_is_fqdn = ROLES_CN_MUST,
			.cn_why = "is known to the internal servers by the "
				  "certificate CN",
			.internal = true,
			.wildcard = ROLES_WILDCARD_FORBIDDEN,
		},
	[CONFIG_ROLE_CWA] =
		{
			.role = CONFIG_ROLE_CWA,
			.platforms = ROLES_OCS,
			.title = "Communicator Web Access",
			.wildcard = ROLES_WILDCARD_FORBIDDEN,
		},
	[CONFIG_ROLE_WEB] =
		{
			.role = CONFIG_ROLE_WEB,
			.platforms = ROLES_ALL,
			.title = "a web site",
			.wildcard = ROLES_WILDCARD_NOT_CN,
		},
	[CONFIG_ROLE_WEB_SERVICES] =
		{
			.role = CONFIG_ROLE_WEB_SERVICES,
			.platforms = ROLES_LYNC_UP,
			.title = "the external web services",
			.wildcard = ROLES_WILDCARD_NOT_CN,
			.reverse_proxy = true,
		},
	[CONFIG_ROLE_OFFICE_WEB_APPS] =
		{
			.role = CONFIG_ROLE_OFFICE_WEB_APPS,
			.platforms = ROLES_LYNC_UP,
			.title = "Office Web Apps / Office Online Server",
			.wildcard = ROLES_WILDCARD_NOT_CN,
			.reverse_proxy = true,
		},
	[CONFIG_ROLE_GENERIC] =
		{
			.role = CONFIG_ROLE_GENERIC,
			.platforms = ROLES_ALL,
			.title = "a generic TLS service",
		},
};

const struct roles_facts *roles_of(enum config_role role)
{
	size_t n = sizeof(roles_table) / sizeof(roles_table[0]);

	if ((size_t)role < n && roles_table[role].title != NULL)
		return &roles_table[role];
	return &roles_table[CONFIG_ROLE_GENERIC];
}

bool roles_cn_bound(enum config_platform platform, enum config_role role)
{
	return (roles_of(role)->cn_bound & ROLES_ON(platform)) != 0;
}

bool roles_on_platform(enum config_platform platform, enum config_role role)
{
	return (roles_of(role)->platforms & ROLES_ON(platform)) != 0;
}

enum roles_cn roles_cn_is_fqdn(enum config_platform platform,
			       enum config_role role)
{
	const struct roles_facts *f = roles_of(role);

	return (f->cn_is_fqdn_on & ROLES_ON(platform)) != 0 ? f->cn_is_fqdn
							    : ROLES_CN_ANY;
}
