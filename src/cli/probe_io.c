/* probe_io.c — one client connection for probe, bounded in time.
 *
 * A non-blocking TCP connect, then an OpenSSL client handshake on the same
 * non-blocking socket, both waiting in poll() against one deadline, so a
 * listener that accepts TCP and never answers costs at most the connect
 * timeout.  It reports how the attempt ended and why, and hands over the
 * chain served; it does not judge certificates (probe.c and probe_pool.c
 * do) and keeps nothing between attempts.
 */
#include "edge443/cli/probe_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "edge443/serve/tls.h"

static double probe_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait for EVENTS on FD until DEADLINE (probe_clock seconds): 1 ready,
 * 0 timed out, -1 poll failed (errno). */
static int probe_wait(int fd, short events, double deadline)
{
	struct pollfd p;

	for (;;) {
		double left = deadline - probe_clock();
		int r;

		if (left <= 0)
			return 0;
		p.fd = fd;
		p.events = events;
		p.revents = 0;
		r = poll(&p, 1, (int)(left * 1000.0) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r > 0)
			return 1;
	}
}

/* A non-blocking TCP connection to ADDR by DEADLINE: the fd, or -1 with the
 * reason in err. */
static int probe_tcp_connect(const struct config_addr *addr, double deadline,
			     int timeout, char *err, size_t errlen)
{
	int fd, soerr = 0, r;
	socklen_t len = sizeof(soerr);

	fd = socket(addr->sa.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&addr->sa, addr->salen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto fail;
	}
	r = probe_wait(fd, POLLOUT, deadline);
	if (r == 0) {
		snprintf(err, errlen,
			 "no TCP connection within %d s (connect_timeout)",
			 timeout);
		goto fail;
	}
	if (r < 0) {
		snprintf(err, errlen, "poll: %s", strerror(errno));
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
		soerr = errno;
	if (soerr != 0) {
		snprintf(err, errlen, "%s", strerror(soerr));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* Why SSL_connect failed, into err (drains the OpenSSL error queue). */
static void probe_ssl_reason(SSL *ssl, int code, char *err, size_t errlen)
{
	long vr = SSL_get_verify_result(ssl);

	/* The verify result means something only when a failure stops the
	 * handshake (backends); the listener context verifies nothing. */
	if ((SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) && vr != X509_V_OK) {
		snprintf(err, errlen, "certificate verify failed: %s",
			 X509_verify_cert_error_string(vr));
		ERR_clear_error();
		return;
	}
	switch (code) {
	case SSL_ERROR_ZERO_RETURN:
		snprintf(err, errlen,
			 "the peer closed the connection during the handshake");
		ERR_clear_error();
		return;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			snprintf(err, errlen, "%s",
				 errno ? strerror(errno)
				       : "the peer closed the connection "
					 "during the handshake");
			return;
		}
		break;
	default:
		break;
	}
	tls_error_string("TLS handshake failed", err, errlen);
}

/* Run the client handshake of SSL on FD by DEADLINE.  0, or -1 with the
 * reason in err. */
static int probe_handshake(SSL *ssl, int fd, double deadline, int timeout,
			   char *err, size_t errlen)
{
	ERR_clear_error();
	if (SSL_set_fd(ssl, fd) != 1) {
		tls_error_string("SSL_set_fd", err, errlen);
		return -1;
	}
	for (;;) {
		int r, e, w;
		short ev;

		errno = 0;
		r = SSL_connect(ssl);
		if (r == 1)
			return 0;
		e = SSL_get_error(ssl, r);
		if (e == SSL_ERROR_WANT_READ) {
			ev = POLLIN;
		} else if (e == SSL_ERROR_WANT_WRITE) {
			ev = POLLOUT;
		} else {
			probe_ssl_reason(ssl, e, err, errlen);
			return -1;
		}
		w = probe_wait(fd, ev, deadline);
		if (w == 0) {
			snprintf(err, errlen,
				 "no TLS handshake within %d s "
				 "(connect_timeout): "
				 "TCP was accepted but the ClientHello got no "
				 "answer",
				 timeout);
			ERR_clear_error();
			return -1;
		}
		if (w < 0) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			ERR_clear_error();
			return -1;
		}
	}
}

/* See probe_internal.h. */
enum probe_io probe_io_attempt(const struct config_addr *addr, SSL *ssl,
			       int timeout, struct probe_row *row, char *err,
			       size_t errlen)
{
	double start = probe_clock();
	double deadline = start + timeout;
	enum probe_io io = PROBE_IO_TCP;
	int fd;

	fd = probe_tcp_connect(addr, deadline, timeout, err, errlen);
	if (fd >= 0) {
		io = PROBE_IO_TLS;
		if (probe_handshake(ssl, fd, deadline, timeout, err, errlen) ==
		    0) {
			io = PROBE_IO_OK;
			snprintf(row->version, sizeof(row->version), "%s",
				 tls_ssl_version(ssl));
			snprintf(row->cipher, sizeof(row->cipher), "%s",
				 tls_ssl_cipher(ssl));
			/* Say goodbye politely; never wait for the answer. */
			(void)SSL_shutdown(ssl);
			ERR_clear_error();
		}
		close(fd);
	}
	row->seconds = probe_clock() - start;
	return io;
}

int probe_io_fetch(SSL_CTX *ctx, const struct config_addr *addr,
		   const char *sni, int timeout, struct probe_row *row,
		   enum probe_io *io, struct cert_info **ci, char *err,
		   size_t errlen)
{
	SSL *ssl = SSL_new(ctx);
	X509 *leaf;
	int rc = 0;

	*ci = NULL;
	*io = PROBE_IO_TCP;
	if (!ssl || (sni && SSL_set_tlsext_host_name(ssl, sni) != 1)) {
		SSL_free(ssl);
		ERR_clear_error();
		return -1;
	}
	SSL_set_connect_state(ssl);
	*io = probe_io_attempt(addr, ssl, timeout, row, err, errlen);
	if (*io == PROBE_IO_OK) {
		leaf = SSL_get0_peer_certificate(ssl);
		if (!leaf) {
			*io = PROBE_IO_TLS;
			snprintf(err, errlen,
				 "the handshake completed without a server "
				 "certificate");
		} else if (!(*ci = cert_from_x509(
				     leaf, SSL_get_peer_cert_chain(ssl)))) {
			rc = -1;
		}
	}
	SSL_free(ssl);
	ERR_clear_error();
	return rc;
}

const char *probe_io_sni(const char *name)
{
	unsigned char buf[16];

	if (!name || !*name || inet_pton(AF_INET, name, buf) == 1 ||
	    inet_pton(AF_INET6, name, buf) == 1)
		return NULL;
	return name;
}

SSL_CTX *probe_io_client_ctx_new(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx)
		return NULL;
	SSL_CTX_set_security_level(ctx, 0);
	if (SSL_CTX_set_min_proto_version(ctx, 0) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_options(ctx,
			    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	return ctx;
}
