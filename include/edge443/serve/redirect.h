/* redirect.h — the plain-HTTP listener of an http service (redirect_http).
 *
 * One small connection object per accepted socket: it reads one request
 * head (http_redirect in http_reply.c decides the answer: 301 to
 * https://FQDN/same-path, or 400), writes it, lets it drain and closes.  It
 * never talks to a backend.  The connections live in their worker's
 * proxy_owner (owner->redirects, counted in owner->nconns) and run on its
 * event base only.
 */
#ifndef EDGE443_REDIRECT_H
#define EDGE443_REDIRECT_H

#include <sys/socket.h>

#include "edge443/serve/proxy.h"
#include "edge443/serve/runtime.h"

/* Take over FD (accepted, non-blocking) on RS's redirect_http listener; a
 * reference on RT is taken.  On failure FD is closed; 0 / -1. */
int redirect_accept(struct proxy_owner *owner, struct runtime *rt,
		    const struct runtime_service *rs, int fd,
		    const struct sockaddr *peer);

/* Close every redirect connection of OWNER now. */
void redirect_close_all(struct proxy_owner *owner, const char *why);

#endif
