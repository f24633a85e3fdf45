/* config_value.c — configuration values that need no libconfuse.
 *
 * The names of enum values as written in the file ("access-edge",
 * "reencrypt", "1.2", ...) in both directions, the parsing of "IP:port" and
 * "[IPv6]:port" addresses, the checks of DNS names, IP literals, section
 * names and path prefixes, and the resolution of relative paths against the
 * config file's folder.  Each is a pure function of its arguments: it reports
 * nothing itself (config_build.c turns a refusal into a message with file and
 * line) and it resolves no names (addresses must be IP literals).
 */
#include "edge443/config/config.h"
#include "edge443/config/config_internal.h"
#include "edge443/base/names.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/prov_ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- enums ------------------------------------------------------------- */

const struct config_value_name config_value_roles[] = {
	{"access-edge", CONFIG_ROLE_ACCESS_EDGE},
	{"webconf-edge", CONFIG_ROLE_WEBCONF_EDGE},
	{"av-edge", CONFIG_ROLE_AV_EDGE},
	{"edge-internal", CONFIG_ROLE_EDGE_INTERNAL},
	{"cwa", CONFIG_ROLE_CWA},
	{"web", CONFIG_ROLE_WEB},
	{"generic", CONFIG_ROLE_GENERIC},
	{"web-services", CONFIG_ROLE_WEB_SERVICES},
	{"office-web-apps", CONFIG_ROLE_OFFICE_WEB_APPS},
	{NULL, 0},
};

const struct config_value_name config_value_modes[] = {
	{"terminate", CONFIG_MODE_TERMINATE},
	{"reencrypt", CONFIG_MODE_REENCRYPT},
	{"passthrough", CONFIG_MODE_PASSTHROUGH},
	{NULL, 0},
};

const struct config_value_name config_value_proxy_names[] = {
	{"off", CONFIG_PROXY_OFF},
	{"v1", CONFIG_PROXY_V1},
	{"v2", CONFIG_PROXY_V2},
	{NULL, 0},
};

const struct config_value_name config_value_host_names[] = {
	{"original", CONFIG_HOST_ORIGINAL},
	{"backend", CONFIG_HOST_BACKEND},
	{NULL, 0},
};

const struct config_value_name config_value_platforms[] = {
	{"ocs2007r2", CONFIG_PLATFORM_OCS2007R2},
	{"lync2010", CONFIG_PLATFORM_LYNC2010},
	{"lync2013", CONFIG_PLATFORM_LYNC2013},
	{"sfb2015", CONFIG_PLATFORM_SFB2015},
	{"sfb2019", CONFIG_PLATFORM_SFB2019},
	{"sfbse", CONFIG_PLATFORM_SFBSE},
	/* an alias, after the names, so that the name of LYNC2010 is
	 * "lync2010" */
	{"lync", CONFIG_PLATFORM_LYNC2010},
	{NULL, 0},
};

const struct config_value_name config_value_log_levels[] = {
	{"error", LOG_LEVEL_ERROR},
	{"warn", LOG_LEVEL_WARN},
	{"info", LOG_LEVEL_INFO},
	{"debug", LOG_LEVEL_DEBUG},
	{NULL, 0},
};

const struct config_value_name config_value_worker_modes[] = {
	{"threads", CONFIG_WORKERS_THREADS},
	{"processes", CONFIG_WORKERS_PROCESSES},
	{NULL, 0},
};

const struct config_value_name config_value_acme_challenges[] = {
	{"tls-alpn-01", CONFIG_ACME_TLS_ALPN_01},
	{"http-01", CONFIG_ACME_HTTP_01},
	{NULL, 0},
};

const struct config_value_name config_value_tls_versions[] = {
	{"1.0", TLS1_VERSION},
	{"1.1", TLS1_1_VERSION},
	{"1.2", TLS1_2_VERSION},
	{"1.3", TLS1_3_VERSION},
	{NULL, 0},
};

static const char *config_name_of(const struct config_value_name *t, int value)
{
	for (; t->name; t++)
		if (t->value == value)
			return t->name;
	return "?";
}

const char *config_role_name(enum config_role role)
{
	return config_name_of(config_value_roles, (int)role);
}

const char *config_platform_name(enum config_platform platform)
{
	return config_name_of(config_value_platforms, (int)platform);
}

const char *config_acme_challenge_name(enum config_acme_challenge c)
{
	return config_name_of(config_value_acme_challenges, (int)c);
}

const char *config_mode_name(enum config_mode mode)
{
	return config_name_of(config_value_modes, (int)mode);
}

const char *config_tls_name(int version)
{
	return config_name_of(config_value_tls_versions, version);
}

/* ---- addresses, names, paths ------------------------------------------- */

/* Split "IP:port" / "[IPv6]:port" into HOST (cut to HOSTCAP) and the port
 * text.  0, or -1 with the reason in ERR. */
static int config_addr_split(const char *text, char *host, size_t hostcap,
			     const char **port_text, bool *v6, char *err,
			     size_t errlen)
{
	size_t hostlen;

	*v6 = text[0] == '[';
	if (*v6) {
		const char *close = strchr(text, ']');

		if (!close) {
			snprintf(err, errlen,
				 "missing \"]\" after the IPv6 address");
			return -1;
		}
		hostlen = (size_t)(close - text - 1);
		if (close[1] != ':') {
			snprintf(err, errlen,
				 "missing :port after the address");
			return -1;
		}
		*port_text = close + 2;
		if (hostlen >= hostcap) {
			snprintf(err, errlen, "not an IPv6 address");
			return -1;
		}
		memcpy(host, text + 1, hostlen);
	} else {
		const char *colon = strrchr(text, ':');

		if (!colon) {
			snprintf(err, errlen,
				 "missing :port after the address");
			return -1;
		}
		if (memchr(text, ':', (size_t)(colon - text))) {
			snprintf(err, errlen,
				 "an IPv6 address must be written in brackets, "
				 "e.g. [2001:db8::1]:443");
			return -1;
		}
		hostlen = (size_t)(colon - text);
		*port_text = colon + 1;
		if (hostlen >= hostcap) {
			snprintf(err, errlen,
				 "not an IP address (names are not resolved)");
			return -1;
		}
		memcpy(host, text, hostlen);
	}
	host[hostlen] = '\0';
	return 0;
}

/* A decimal port 1-65535 (digits only); -1 with the reason in ERR. */
static long config_addr_port(const char *port_text, char *err, size_t errlen)
{
	char *end = NULL;
	long port;

	if (!*port_text) {
		snprintf(err, errlen, "missing port after \":\"");
		return -1;
	}
	for (const char *c = port_text; *c; c++) {
		if (*c < '0' || *c > '9') {
			snprintf(err, errlen, "the port is not a number");
			return -1;
		}
	}
	errno = 0;
	port = strtol(port_text, &end, 10);
	if (errno != 0 || port < 1 || port > 65535) {
		snprintf(err, errlen, "port %.20s is out of range", port_text);
		return -1;
	}
	return port;
}

int config_addr_parse(const char *text, struct config_addr *addr, char *err,
		      size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_text = NULL;
	bool v6 = false;
	long port;

	if (err && errlen)
		err[0] = '\0';
	memset(addr, 0, sizeof(*addr));
	if (!text || !*text) {
		snprintf(err, errlen, "the address is empty");
		return -1;
	}
	if (config_addr_split(text, host, sizeof(host), &port_text, &v6, err,
			      errlen) < 0)
		return -1;
	port = config_addr_port(port_text, err, errlen);
	if (port < 0)
		return -1;
	if (v6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&addr->sa;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
			snprintf(err, errlen, "\"%s\" is not an IPv6 address",
				 host);
			return -1;
		}
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		addr->salen = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&addr->sa;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
			snprintf(err, errlen,
				 "\"%s\" is not an IP address (names are not "
				 "resolved)",
				 host);
			return -1;
		}
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		addr->salen = sizeof(*sin);
	}
	addr->port = (int)port;
	addr->text = strdup(text);
	if (!addr->text) {
		memset(addr, 0, sizeof(*addr));
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* A plausible host name: dot-separated labels of letters, digits and inner
 * hyphens, 1-63 characters each, 253 in all.  No wildcard. */
bool config_value_dns_name_ok(const char *s)
{
	return names_dns_ok(s); /* the one host-name check (names.c) */
}

bool config_value_ip_ok(const char *s)
{
	return names_ip_literal(s);
}

/* Section names end up in file names (plan --out writes NAME.key). */
bool config_value_section_name_ok(const char *s)
{
	if (!s || !*s || s[0] == '.' || strlen(s) > 64)
		return false;
	for (; *s; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.'))
			return false;
	}
	return true;
}

char *config_value_resolve(const char *dir, const char *path)
{
	size_t dl, pl;
	char *out;

	if (path[0] == '/' || !dir || !*dir)
		return strdup(path);
	dl = strlen(dir);
	pl = strlen(path);
	out = malloc(dl + pl + 2);
	if (!out)
		return NULL;
	memcpy(out, dir, dl);
	if (dir[dl - 1] != '/')
		out[dl++] = '/';
	memcpy(out + dl, path, pl + 1);
	return out;
}

bool config_value_path_prefix_ok(const char *s)
{
	return s[0] == '/';
}

char *config_value_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n;
	char *out;

	if (!slash)
		return strdup(".");
	while (slash > path && slash[-1] == '/')
		slash--;
	n = slash == path ? 1 : (size_t)(slash - path);
	out = malloc(n + 1);
	if (!out)
		return NULL;
	memcpy(out, path, n);
	out[n] = '\0';
	return out;
}

bool config_service_uses_cert(const struct config_service *svc,
			      const char *name)
{
	if (!name || !svc->certificate)
		return false;
	if (strcmp(svc->certificate, name) == 0)
		return true;
	for (size_t i = 0; i < svc->nextra_certificates; i++)
		if (strcmp(svc->extra_certificates[i], name) == 0)
			return true;
	return false;
}
