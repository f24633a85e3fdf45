/* proxy_http.h — HTTP publishing as a layer on the relay of proxy.c.
 *
 * proxy_http_hooks is what the worker hands to proxy_accept for a service
 * with an http block: with it, http.c owns every byte the client sends
 * (see proxy_http.c).  A constant table; nothing to free.
 */
#ifndef EDGE443_PROXY_HTTP_H
#define EDGE443_PROXY_HTTP_H

#include "edge443/serve/proxy.h"

extern const struct proxy_hooks proxy_http_hooks;

#endif
