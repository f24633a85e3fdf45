/* probe_internal.h — shared between probe.c and probe_io.c.
 *
 * Not part of the probe API: other modules include probe.h.  probe.c
 * decides what to probe and judges what was served; probe_io.c makes one
 * client connection: a non-blocking TCP connect and an OpenSSL client
 * handshake, both bounded by one deadline.
 */
#ifndef EDGE443_PROBE_INTERNAL_H
#define EDGE443_PROBE_INTERNAL_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "edge443/config/config.h"
#include "edge443/cli/probe.h"

/* How one connect + handshake ended. */
enum probe_io {
	PROBE_IO_OK,  /* handshake complete */
	PROBE_IO_TCP, /* no TCP connection */
	PROBE_IO_TLS, /* TCP connected, the handshake failed or timed out */
};

/* Connect to ADDR and run the client handshake of SSL (connect state and
 * SNI already set by the caller, who keeps ownership and may read the peer
 * certificate afterwards), connect and handshake together within TIMEOUT
 * seconds (> 0).  Fills ROW's version, cipher and seconds; on failure the
 * reason ("Connection refused", "no TLS handshake within 1 s ...", the
 * OpenSSL reason or, when SSL verifies its peer, the verify reason) goes to
 * err.  The socket is closed before returning.  Drains the OpenSSL error
 * queue. */
enum probe_io probe_io_attempt(const struct config_addr *addr, SSL *ssl,
			       int timeout, struct probe_row *row, char *err,
			       size_t errlen);

/* The client context for listeners: any protocol version and key size (the
 * rules judge what is served, so the handshake must not refuse it first)
 * and no verification (probe verifies the chain itself, against
 * trust_file).  NULL on allocation failure. */
SSL_CTX *probe_io_client_ctx_new(void);

#endif
