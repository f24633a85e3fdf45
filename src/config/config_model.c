/* config_model.c — lookups over a loaded configuration.
 *
 * Small read-only questions about a struct config that every layer asks
 * (which certificate section has this name, which TLS versions a service
 * uses): pure functions over the plain structs, no parsing and no I/O.
 */
#include "edge443/config/config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

const struct config_cert *config_find_cert(const struct config *cfg,
					   const char *name)
{
	for (size_t i = 0; cfg && name && i < cfg->ncerts; i++)
		if (cfg->certs[i].name && strcmp(cfg->certs[i].name, name) == 0)
			return &cfg->certs[i];
	return NULL;
}

const struct config_backend *config_find_backend(const struct config *cfg,
						 const char *name)
{
	for (size_t i = 0; cfg && name && i < cfg->nbackends; i++)
		if (cfg->backends[i].name &&
		    strcmp(cfg->backends[i].name, name) == 0)
			return &cfg->backends[i];
	return NULL;
}

int config_service_tls_min(const struct config *cfg,
			   const struct config_service *svc)
{
	return svc && svc->tls_min ? svc->tls_min : cfg->tls_min;
}

int config_service_tls_max(const struct config *cfg,
			   const struct config_service *svc)
{
	return svc && svc->tls_max ? svc->tls_max : cfg->tls_max;
}

const char *config_addr_host(const struct config_addr *addr, char *buf,
			     size_t len)
{
	const char *colon = addr->text ? strrchr(addr->text, ':') : NULL;
	size_t n;

	if (!colon || len == 0)
		return NULL;
	n = (size_t)(colon - addr->text);
	if (addr->text[0] == '[') {
		if (n < 2)
			return NULL;
		snprintf(buf, len, "%.*s", (int)(n - 2), addr->text + 1);
	} else {
		snprintf(buf, len, "%.*s", (int)n, addr->text);
	}
	return n < len ? buf : NULL;
}
