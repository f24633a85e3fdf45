/* acme_alpn.h — the tls-alpn-01 challenge certificate and its TLS server.
 *
 * acme_alpn.c makes the self-signed certificate RFC 8737 asks for (one
 * dNSName, the critical id-pe-acmeIdentifier extension holding the SHA-256
 * of the key authorization) and the SSL_CTX that serves it: TLS 1.2+, ALPN
 * "acme-tls/1" only, and a client-hello callback that picks the challenge
 * certificate by the SNI name.  All of it is OpenSSL's; the sockets are
 * acme_respond.c's.
 *
 * Ownership: the X509 / EVP_PKEY / SSL_CTX returned are the caller's.  The
 * SSL_CTX borrows the table given to acme_alpn_ctx_new, which must outlive
 * it.  acme_alpn_cert_ctx_new's context is self-contained.
 */
#ifndef EDGE443_ORDER_ACME_ALPN_H
#define EDGE443_ORDER_ACME_ALPN_H

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stddef.h>

/* RFC 8737 section 6.1 */
#define ACME_ALPN_OID "1.3.6.1.5.5.7.1.31"
#define ACME_ALPN_PROTO "acme-tls/1"

/* One name's challenge certificate. */
struct acme_alpn_cert {
	char *name;
	X509 *cert;
	EVP_PKEY *key;
};

/* The table the client-hello callback reads (owned by acme_respond.c). */
struct acme_alpn_table {
	struct acme_alpn_cert *certs;
	size_t n;
};

/* A self-signed challenge certificate for NAME over KEY (valid for a day):
 * subjectAltName dNSName NAME and the critical acmeIdentifier extension,
 * an OCTET STRING of SHA-256(KEY_AUTH).  NULL with the reason in err. */
X509 *acme_alpn_cert_new(const char *name, const char *key_auth, EVP_PKEY *key,
			 char *err, size_t errlen);

/* The SSL_CTX that answers tls-alpn-01 from TABLE; NULL with the reason. */
SSL_CTX *acme_alpn_ctx_new(struct acme_alpn_table *table, char *err,
			   size_t errlen);

/* A context that serves CERT with KEY (both get a reference of the
 * context's) and selects ALPN acme-tls/1, with no client-hello callback of
 * its own: for a running listener whose client-hello callback switches a
 * challenge's connection to it (SSL_set_SSL_CTX).  NULL with the reason. */
SSL_CTX *acme_alpn_cert_ctx_new(X509 *cert, EVP_PKEY *key, char *err,
				size_t errlen);

#endif
