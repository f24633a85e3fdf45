/* proxy_acme.h — tls-alpn-01 on a passthrough listener.
 *
 * A passthrough listener forwards the client's TLS to the backend, so the
 * client-hello callback that answers ACME's tls-alpn-01 on terminating
 * listeners (tls_sni.c) never runs there.  proxy_acme.c takes over a
 * passthrough connection whose buffered ClientHello offers ALPN
 * "acme-tls/1" for a name with a pending challenge (challenges.h) and
 * completes that one handshake itself, on memory BIOs, with the challenge
 * context; every other connection passes through untouched.  It costs one
 * lock-free count when no challenge is pending.
 *
 * Ownership: the SSL of a taken-over connection is the connection's
 * (struct proxy_conn.acme), freed by proxy_acme_free when it closes.
 */
#ifndef EDGE443_PROXY_ACME_H
#define EDGE443_PROXY_ACME_H

#include <openssl/ssl.h>
#include <stdbool.h>

struct proxy_conn;

/* What became of the connection. */
enum proxy_acme {
	PROXY_ACME_NO,	 /* not a tls-alpn-01 validation: pass it through */
	PROXY_ACME_WAIT, /* taken over; the handshake waits for more bytes */
	PROXY_ACME_END,	 /* taken over and over: flush and close (*why) */
};

/* Called with the complete ClientHello still buffered in the client input.
 * After anything but PROXY_ACME_NO the caller neither connects nor
 * forwards, and gives later client data to proxy_acme_data. */
enum proxy_acme proxy_acme_take(struct proxy_conn *c, const char **why);

/* More client bytes (or the client's end) for a taken-over connection. */
enum proxy_acme proxy_acme_data(struct proxy_conn *c, const char **why);

void proxy_acme_free(struct proxy_conn *c);

#endif
