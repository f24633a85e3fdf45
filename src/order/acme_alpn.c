/* acme_alpn.c — the tls-alpn-01 challenge certificate and its SSL_CTX.
 *
 * RFC 8737: the CA connects to the name's address on port 443, offers only
 * the ALPN protocol "acme-tls/1" and sends the name as SNI; the server
 * answers with a self-signed certificate for that one name that carries the
 * critical id-pe-acmeIdentifier extension, the DER OCTET STRING of the
 * SHA-256 of the key authorization.  This file makes that certificate with
 * OpenSSL (the extension is encoded by i2d_ASN1_OCTET_STRING) and the
 * SSL_CTX whose client-hello callback picks it by the SNI name, refusing a
 * hello without the name or without acme-tls/1.  Sockets and the thread are
 * acme_respond.c's.
 */
#include "edge443/order/acme_alpn.h"
#include "edge443/base/ossl_err.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

static int acme_alpn_add_ext(X509 *x, const char *name, const char *key_auth,
			     char *err, size_t errlen)
{
	unsigned char md[32], *der = NULL;
	unsigned int mdlen = 0;
	ASN1_OCTET_STRING *digest = ASN1_OCTET_STRING_new();
	ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
	ASN1_OBJECT *oid = OBJ_txt2obj(ACME_ALPN_OID, 1);
	X509_EXTENSION *ext = NULL, *san = NULL;
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gen = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
	int derlen, ret = -1;

	if (!digest || !value || !oid || !gens || !gen || !ia5 ||
	    !EVP_Digest(key_auth, strlen(key_auth), md, &mdlen, EVP_sha256(),
			NULL) ||
	    !ASN1_OCTET_STRING_set(digest, md, (int)mdlen) ||
	    (derlen = i2d_ASN1_OCTET_STRING(digest, &der)) <= 0 ||
	    !ASN1_OCTET_STRING_set(value, der, derlen) ||
	    !(ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, value)) ||
	    !X509_add_ext(x, ext, -1))
		goto fail;
	if (!ASN1_STRING_set(ia5, name, (int)strlen(name)))
		goto fail;
	GENERAL_NAME_set0_value(gen, GEN_DNS, ia5);
	ia5 = NULL;
	if (!sk_GENERAL_NAME_push(gens, gen))
		goto fail;
	gen = NULL;
	san = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens);
	if (!san || !X509_add_ext(x, san, -1))
		goto fail;
	ret = 0;
	goto done;
fail:
	ossl_err_drainf(err, errlen, "making the tls-alpn-01 certificate of %s",
			name);
done:
	OPENSSL_free(der);
	ASN1_OCTET_STRING_free(digest);
	ASN1_OCTET_STRING_free(value);
	ASN1_OBJECT_free(oid);
	X509_EXTENSION_free(ext);
	X509_EXTENSION_free(san);
	GENERAL_NAMES_free(gens);
	GENERAL_NAME_free(gen);
	ASN1_IA5STRING_free(ia5);
	return ret;
}

X509 *acme_alpn_cert_new(const char *name, const char *key_auth, EVP_PKEY *key,
			 char *err, size_t errlen)
{
	X509 *x = X509_new();
	X509_NAME *subj = X509_NAME_new();
	unsigned char serial[16];
	BIGNUM *bn = NULL;

	if (!x || !subj || !name || !key_auth)
		goto fail;
	if (!X509_set_version(x, X509_VERSION_3) ||
	    RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
	    !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
					(const unsigned char *)name, -1, -1,
					0) ||
	    !X509_set_subject_name(x, subj) || !X509_set_issuer_name(x, subj) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 86400) ||
	    !X509_set_pubkey(x, key))
		goto fail;
	if (acme_alpn_add_ext(x, name, key_auth, err, errlen) != 0)
		goto fail_quiet;
	if (!X509_sign(x, key, EVP_sha256()))
		goto fail;
	BN_free(bn);
	X509_NAME_free(subj);
	return x;
fail:
	ossl_err_drainf(err, errlen, "making the tls-alpn-01 certificate of %s",
			name ? name : "?");
fail_quiet:
	BN_free(bn);
	X509_NAME_free(subj);
	X509_free(x);
	return NULL;
}

/* The host_name of a server_name extension (RFC 6066 section 3): a new
 * string, or NULL when there is none.  Bounds are checked at every step. */
static char *acme_alpn_sni(const unsigned char *p, size_t len)
{
	size_t list, n;
	char *name;

	if (len < 5)
		return NULL;
	list = ((size_t)p[0] << 8) | p[1];
	if (list + 2 != len || p[2] != 0 /* host_name */)
		return NULL;
	n = ((size_t)p[3] << 8) | p[4];
	if (n == 0 || n + 5 > len || memchr(p + 5, '\0', n))
		return NULL;
	name = malloc(n + 1);
	if (!name)
		return NULL;
	memcpy(name, p + 5, n);
	name[n] = '\0';
	return name;
}

/* The ALPN list offered holds acme-tls/1 (RFC 7301 section 3.1). */
static int acme_alpn_offered(const unsigned char *p, size_t len)
{
	size_t proto = sizeof(ACME_ALPN_PROTO) - 1;

	if (len < 2 || (((size_t)p[0] << 8) | p[1]) + 2 != len)
		return 0;
	for (size_t i = 2; i < len;) {
		size_t n = p[i];

		if (i + 1 + n > len)
			return 0;
		if (n == proto && memcmp(p + i + 1, ACME_ALPN_PROTO, n) == 0)
			return 1;
		i += 1 + n;
	}
	return 0;
}

static int acme_alpn_hello_cb(SSL *ssl, int *al, void *arg)
{
	struct acme_alpn_table *t = arg;
	const unsigned char *p;
	size_t len;
	char *name = NULL;

	if (SSL_client_hello_get0_ext(
		    ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &p,
		    &len) != 1 ||
	    !acme_alpn_offered(p, len)) {
		*al = SSL_AD_NO_APPLICATION_PROTOCOL;
		return SSL_CLIENT_HELLO_ERROR;
	}
	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) ==
	    1)
		name = acme_alpn_sni(p, len);
	for (size_t i = 0; name && i < t->n; i++) {
		if (strcasecmp(t->certs[i].name, name) != 0)
			continue;
		free(name);
		if (SSL_use_certificate(ssl, t->certs[i].cert) != 1 ||
		    SSL_use_PrivateKey(ssl, t->certs[i].key) != 1) {
			*al = SSL_AD_INTERNAL_ERROR;
			return SSL_CLIENT_HELLO_ERROR;
		}
		return SSL_CLIENT_HELLO_SUCCESS;
	}
	free(name);
	*al = SSL_AD_UNRECOGNIZED_NAME;
	return SSL_CLIENT_HELLO_ERROR;
}

static int acme_alpn_select_cb(SSL *ssl, const unsigned char **out,
			       unsigned char *outlen, const unsigned char *in,
			       unsigned int inlen, void *arg)
{
	static const unsigned char proto[] = "\x0a" ACME_ALPN_PROTO;
	unsigned char *sel = NULL;

	if (SSL_select_next_proto(&sel, outlen, proto, sizeof(proto) - 1, in,
				  inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

SSL_CTX *acme_alpn_ctx_new(struct acme_alpn_table *table, char *err,
			   size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		ossl_err_drainf(err, errlen, "the tls-alpn-01 TLS context");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_client_hello_cb(ctx, acme_alpn_hello_cb, table);
	SSL_CTX_set_alpn_select_cb(ctx, acme_alpn_select_cb, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	return ctx;
}

SSL_CTX *acme_alpn_cert_ctx_new(X509 *cert, EVP_PKEY *key, char *err,
				size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_use_certificate(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1) {
		ossl_err_drainf(err, errlen, "the tls-alpn-01 TLS context");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_alpn_select_cb(ctx, acme_alpn_select_cb, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	return ctx;
}
