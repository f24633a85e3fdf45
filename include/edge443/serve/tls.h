/* tls.h — OpenSSL contexts for listeners and backends, and SNI peeking.
 *
 * tls.c builds one server SSL_CTX per service (its own certificate(s) and
 * chain, so every listener keeps its own CN with or without SNI), one client
 * SSL_CTX per re-encrypting backend (verified against the backend's
 * trust_file), attaches the session-ticket keys (tls_tickets.h) and reads the
 * SNI of a buffered ClientHello for passthrough through OpenSSL on a memory
 * BIO (no hand-written parser).  This header also includes tls_tickets.h and
 * tls_name.h (name matching), so callers need only it.  It knows nothing
 * about sockets or libevent.
 *
 * Thread safety: contexts are built on the main thread and then only read
 * (SSL_new) by workers; SSL_CTX is reference counted by OpenSSL, so a reload
 * may drop its reference while connections still use the context.
 */
#ifndef EDGE443_TLS_H
#define EDGE443_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#include "edge443/cert/cert.h"
#include "edge443/config/config.h"
#include "edge443/serve/tls_name.h"
#include "edge443/serve/tls_tickets.h"

/* A certificate section and the objects loaded from it (leaf, chain, key,
 * facts) by the validation that judged it (validate.c).  Both borrowed. */
struct tls_cert {
	const struct config_cert *cc;
	const struct cert_info *ci;
};

/* A server context for SVC serving CERTS[0..NCERTS) — CERTS[0] the
 * service's own certificate, the others further sections served by the same
 * listener (e.g. an ECDSA twin) — from the objects already loaded and
 * judged: no file is read here, so what is served is what was checked.
 * TLS versions from the config (service overrides global), a modern cipher
 * list, session cache + tickets from TICKETS (may be NULL), servername
 * acknowledgement, and, when needed, a client-hello callback:
 * - it selects among the certificates of the listener by SNI (an RSA and an
 *   ECDSA certificate share one context; further ones of a key type already
 *   taken are chosen by SNI);
 * - with svc->sni_strict, it fails a ClientHello without SNI, or whose SNI
 *   is neither svc->fqdn nor covered by one of the certificates
 *   (tls_name_covered), with a fatal unrecognized_name alert.
 * ALPN, for a service with an http block: "http/1.1" is selected; a client
 * that offers ALPN without http/1.1 (only "h2", say) fails with a fatal
 * no_application_protocol alert; a client that offers no ALPN is served.
 * The context takes its own references on the certificates and keys.
 * Returns a new SSL_CTX (caller owns one reference) or NULL with the reason
 * in err. */
SSL_CTX *tls_server_ctx_new(const struct config *cfg,
			    const struct config_service *svc,
			    const struct tls_cert *certs, size_t ncerts,
			    struct tls_tickets *tickets, char *err,
			    size_t errlen);

/* A client context for re-encrypting to backend BE: verification against
 * TRUST (the store of be->trust_file, loaded by the validation; the context
 * takes its own reference) with full chain depth, unless be->verify is
 * false (TRUST is then ignored and may be NULL); TLS versions 1.2+.  No
 * file is read.  The name check is per connection: tls_client_ssl_new.
 * NULL with the reason in err. */
SSL_CTX *tls_client_ctx_new(const struct config *cfg,
			    const struct config_backend *be, X509_STORE *trust,
			    char *err, size_t errlen);

/* A client SSL for one backend connection: SNI = be->verify_name and, when
 * verifying, SSL_set1_host(verify_name).  NULL on failure. */
SSL *tls_client_ssl_new(SSL_CTX *ctx, const struct config_backend *be);

/* Length of a TLS alert record (header 5 + level 1 + description 1). */
#define TLS_ALERT_RECORD_LEN 7

/* Write a fatal TLS alert record with ALERT_DESCRIPTION (SSL_AD_*, 0..255)
 * into OUT: 0x15 0x03 0x03 0x00 0x02 0x02 DESC, for a connection that is
 * refused before any TLS state exists (passthrough sni_strict: write it, then
 * close).  Returns TLS_ALERT_RECORD_LEN, or 0 (nothing written) when OUTLEN
 * is smaller or the description is out of range. */
size_t tls_alert_record(unsigned char *out, size_t outlen,
			int alert_description);

/* Outcome of peeking at the first bytes of a passthrough stream. */
enum tls_peek_result {
	TLS_PEEK_NEED_MORE, /* a ClientHello has begun; more bytes needed */
	TLS_PEEK_HELLO,	    /* a complete ClientHello; *sni set (may be NULL: no
			       SNI) */
	TLS_PEEK_NOT_TLS,   /* the bytes are not a TLS ClientHello */
	TLS_PEEK_TOO_BIG,   /* more than TLS_PEEK_MAX bytes without a full hello
			     */
};

#define TLS_PEEK_MAX 16384

/* Read the SNI of the ClientHello that starts the first LEN bytes of a stream
 * (all bytes so far, not a delta; at most TLS_PEEK_MAX are looked at).
 * Cheap while the hello is incomplete: the TLS record framing alone (record
 * headers, the handshake message's type and length, possibly spanning
 * several records) decides NEED_MORE, or NOT_TLS for bytes that cannot start
 * a ClientHello (from the first byte on); only once every record holding the
 * ClientHello has arrived is it parsed, once, by a throw-away server SSL on a
 * memory BIO whose client-hello callback reads the SNI and stops the
 * handshake.  Accepts every TLS version so it never rejects what the backend
 * would accept.  *sni is a new string (free) or NULL.  Pure function of BUF:
 * no state is kept between calls; any thread. */
enum tls_peek_result tls_peek_sni(const unsigned char *buf, size_t len,
				  char **sni);

/* How many times tls_peek_sni has run OpenSSL's parse in this process, all
 * threads together (for tests: a hello fed byte by byte is parsed once). */
unsigned long tls_peek_parse_count(void);

/* After a handshake: "TLSv1.3", the cipher name, and the SNI (or NULL). */
const char *tls_ssl_version(const SSL *ssl);
const char *tls_ssl_cipher(const SSL *ssl);
const char *tls_ssl_sni(const SSL *ssl);

/* Drain the OpenSSL error queue into err ("what: reason; reason"; WHAT NULL
 * reads "OpenSSL"): ossl_err_drainf with WHAT as the prefix, kept for the
 * callers that name it (probe_io.c). */
void tls_error_string(const char *what, char *err, size_t errlen);

/* True when the SSL's last error was the peer closing without close_notify
 * (OpenSSL 3: SSL_R_UNEXPECTED_EOF_WHILE_READING).  ERRCODE is what
 * bufferevent_get_openssl_error() returned. */
bool tls_error_is_dirty_eof(unsigned long errcode);

#endif
