/* acme_respond.h — answer ACME challenges on a temporary listener.
 *
 * While edge443 is not running, `edge443 order` answers the CA's
 * validation itself: acme_respond.c binds the addresses it is given (each
 * service's listen address for tls-alpn-01, its redirect_http address for
 * http-01), and a thread of its own answers there until stopped —
 * tls-alpn-01 (RFC 8737) with the challenge certificate that acme_alpn.c
 * makes and selects in the client-hello callback, http-01 (RFC 8555
 * section 8.3) with the key authorization at
 * /.well-known/acme-challenge/TOKEN.  Anything else is refused.  Every
 * connection is bounded by a timeout; nothing is logged.
 *
 * Ownership: the caller owns the responder (acme_responder_new / _free);
 * _free stops the thread and closes the sockets.  Add addresses and
 * challenges before acme_responder_start; after it only _stop and _free.
 */
#ifndef EDGE443_ORDER_ACME_RESPOND_H
#define EDGE443_ORDER_ACME_RESPOND_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <sys/socket.h>

#include "edge443/config/config.h"

struct acme_responder;

/* Where a responder made by acme_responder_new_sink publishes its
 * challenges instead of answering them itself: the running listeners of
 * `run` (cli/renew.c hands in serve/'s challenge table).  ADD gets each
 * challenge when the ACME client adds it — for tls-alpn-01 with ALPN_CTX,
 * a context serving the challenge certificate (acme_alpn_cert_ctx_new; the
 * sink takes its own reference), else NULL — and returns 0 / -1; REMOVE
 * gets each one back when the responder stops.  Borrowed; must outlive the
 * responder. */
struct acme_responder_sink {
	int (*add)(void *arg, const char *name, const char *token,
		   const char *key_auth, SSL_CTX *alpn_ctx);
	void (*remove)(void *arg, const char *name, const char *token);
	void *arg;
};

struct acme_responder *acme_responder_new(enum config_acme_challenge type,
					  char *err, size_t errlen);
/* A responder that binds nothing and answers nothing itself: every
 * challenge goes to SINK (acme_responder_listen must not be called). */
struct acme_responder *
acme_responder_new_sink(enum config_acme_challenge type,
			const struct acme_responder_sink *sink, char *err,
			size_t errlen);
void acme_responder_free(struct acme_responder *r);

enum config_acme_challenge acme_responder_type(const struct acme_responder *r);

/* Bind ADDR now (so that a busy address fails before the CA is asked).
 * An address already added is skipped.  0, or -1 with the reason in err. */
int acme_responder_listen(struct acme_responder *r,
			  const struct config_addr *addr, char *err,
			  size_t errlen);

/* Answer the challenge of NAME: TOKEN and its KEY_AUTH (both copied; for
 * tls-alpn-01 the challenge certificate is made here).  0 / -1. */
int acme_responder_add(struct acme_responder *r, const char *name,
		       const char *token, const char *key_auth, char *err,
		       size_t errlen);

/* Start answering in a thread of its own.  0 / -1. */
int acme_responder_start(struct acme_responder *r, char *err, size_t errlen);

/* Stop the thread (waits for it; at most one connection's timeout).  The
 * sockets stay bound until _free.  Safe to call twice. */
void acme_responder_stop(struct acme_responder *r);

#endif
