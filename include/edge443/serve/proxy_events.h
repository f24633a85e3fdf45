/* proxy_events.h — taking over an accepted client connection.
 *
 * proxy_events.c gives each connection its callbacks and timers: the TLS
 * handshake (or the ClientHello peek of passthrough), reaching the backend,
 * and every event that drives the relay of proxy.h until the connection
 * ends.  It runs on the event base of the worker that accepted the
 * connection.
 *
 * Ownership: the connection belongs to OWNER (proxy.h) from the call on.
 */
#ifndef EDGE443_PROXY_EVENTS_H
#define EDGE443_PROXY_EVENTS_H

#include <sys/socket.h>

#include "edge443/serve/proxy.h"

/* Take over FD (an accepted, non-blocking socket) for service RS of runtime
 * RT (a reference is taken).  PEER is the client address.  HOOKS attach a
 * protocol layer (&proxy_http_hooks for a service with an http block), NULL
 * for a plain relay.  The connection lives until it ends by itself or
 * proxy_close_all.  On failure the fd is closed and nothing remains; returns
 * 0 / -1. */
int proxy_accept(struct proxy_owner *owner, struct runtime *rt,
		 const struct runtime_service *rs, int fd,
		 const struct sockaddr *peer, socklen_t peerlen,
		 const struct proxy_hooks *hooks);

#endif
