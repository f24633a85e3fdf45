/* listener.c — bind the listening sockets of the services.
 *
 * One non-blocking SO_REUSEPORT socket per worker and address, so each worker
 * accepts on its own socket and the kernel balances new connections.  Before
 * the first of them binds, a probe socket without SO_REUSEPORT makes sure no
 * other process listens on the address: SO_REUSEPORT alone would let a second
 * edge443 share the port silently.  An IPv6 socket is IPV6_V6ONLY so
 * "[::]:443" and "0.0.0.0:443" can coexist.  Binding happens before the
 * privilege drop; nothing here accepts.
 */
#include "edge443/serve/listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "ADDR: cannot listen: why — what to do" for errno ERR. */
static void listener_error(const struct config_addr *addr, int err, char *buf,
			   size_t len)
{
	snprintf(buf, len, "%s: cannot listen: %s%s", addr->text, strerror(err),
		 err == EADDRINUSE
			 ? " — another process listens on it (a second "
			   "edge443?); stop it, or give this service another "
			   "address"
		 : err == EADDRNOTAVAIL
			 ? " — the address is not configured on this machine "
			   "(on the backup node of a pair, set freebind = true)"
		 : err == EACCES ? " — binding a port below 1024 needs root "
				   "or CAP_NET_BIND_SERVICE"
				 : "");
}

/* A socket bound to ADDR with SO_REUSEADDR, and with SO_REUSEPORT when
 * REUSEPORT; listening with BACKLOG when BACKLOG > 0.  The fd, or -1 with
 * the reason in err. */
static int listener_socket(const struct config_addr *addr, bool reuseport,
			   bool freebind, int backlog, char *err, size_t errlen)
{
	int one = 1, saved;
	int fd = socket(addr->sa.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (reuseport &&
	     setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0))
		goto fail;
	if (addr->sa.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (freebind && (addr->sa.ss_family == AF_INET6
				 ? setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND,
					      &one, sizeof(one))
				 : setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one,
					      sizeof(one))) < 0)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&addr->sa, addr->salen) < 0)
		goto fail;
	if (backlog > 0 && listen(fd, backlog) < 0)
		goto fail;
	return fd;
fail:
	saved = errno;
	listener_error(addr, saved, err, errlen);
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Is ADDR free?  A socket with SO_REUSEADDR but without SO_REUSEPORT cannot
 * bind where any other socket listens (ours would join another process's
 * SO_REUSEPORT group without a word), yet ignores connections in TIME_WAIT
 * (a restart binds at once).  The probe is closed again before the real
 * sockets bind.  0, or -1 with the reason in err. */
static int listener_probe(const struct config_addr *addr, bool freebind,
			  char *err, size_t errlen)
{
	int fd = listener_socket(addr, false, freebind, 0, err, errlen);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

struct listener *listener_bind(const struct config_addr *addr, size_t nworkers,
			       int backlog, bool freebind, char *err,
			       size_t errlen)
{
	struct listener *l = NULL;

	if (listener_probe(addr, freebind, err, errlen) < 0)
		return NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		goto oom;
	l->sa = addr->sa;
	l->salen = addr->salen;
	l->text = strdup(addr->text);
	l->fds = malloc(nworkers * sizeof(*l->fds));
	if (!l->text || !l->fds)
		goto oom;
	for (size_t i = 0; i < nworkers; i++)
		l->fds[i] = -1;
	l->nfds = nworkers;
	for (size_t i = 0; i < nworkers; i++) {
		l->fds[i] = listener_socket(addr, true, freebind, backlog, err,
					    errlen);
		if (l->fds[i] < 0) {
			listener_free(l);
			return NULL;
		}
	}
	return l;
oom:
	snprintf(err, errlen, "%s: out of memory", addr->text);
	listener_free(l);
	return NULL;
}

void listener_free(struct listener *l)
{
	if (!l)
		return;
	for (size_t i = 0; l->fds && i < l->nfds; i++)
		if (l->fds[i] >= 0)
			close(l->fds[i]);
	free(l->fds);
	free(l->text);
	free(l);
}

bool listener_same_addr(const struct sockaddr_storage *a,
			const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a;
		const struct sockaddr_in *y = (const void *)b;
		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a;
		const struct sockaddr_in6 *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr,
			      sizeof(x->sin6_addr)) == 0;
	}
	return false;
}
