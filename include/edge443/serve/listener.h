/* listener.h — listening sockets, bound before privileges are dropped.
 *
 * listener.c binds one listening socket per worker for an address, with
 * SO_REUSEPORT so the kernel spreads new connections over the workers.
 * Binding is all-or-nothing: either every socket of an address is bound or
 * none is left open, and an address another process listens on is refused.  It
 * does not accept: each worker wraps its own socket in an evconnlistener
 * (server.c).
 */
#ifndef EDGE443_LISTENER_H
#define EDGE443_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "edge443/config/config.h"

struct listener {
	struct sockaddr_storage sa;
	socklen_t salen;
	char *text; /* "127.0.0.11:443" as configured */
	int *fds;   /* one per worker; -1 once a worker has taken it */
	size_t nfds;
	bool retired; /* no longer in the configuration: workers drop it */
	struct listener *next;
};

/* Bind NWORKERS sockets for ADDR (listen backlog BACKLOG >= 1, which the
 * kernel caps at net.core.somaxconn).  FREEBIND: IP_FREEBIND /
 * IPV6_FREEBIND, so that an address the machine does not hold yet (the
 * backup node of a keepalived pair) binds now and serves once it arrives.
 * Refuses an address on which another socket already listens, even one with
 * SO_REUSEPORT (another edge443): call it only for addresses this process does
 * not hold yet.  Returns a new listener, or NULL with "127.0.0.11:443: cannot
 * listen: Address already in use — ..." in err.  The sockets listen already:
 * wrap them with a backlog of 0 in evconnlistener_new (anything else calls
 * listen() again). */
struct listener *listener_bind(const struct config_addr *addr, size_t nworkers,
			       int backlog, bool freebind, char *err,
			       size_t errlen);

/* Close the sockets still owned (fds[i] >= 0) and free.  Accepts NULL. */
void listener_free(struct listener *l);

/* True when A and B are the same family, address and port. */
bool listener_same_addr(const struct sockaddr_storage *a,
			const struct sockaddr_storage *b);

#endif
