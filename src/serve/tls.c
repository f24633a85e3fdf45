/* tls.c — OpenSSL contexts for listeners and backends, and SNI peeking.
 *
 * This module builds the server SSL_CTX of a service (protocol versions,
 * cipher list, groups, certificates with their own chains, ALPN, session
 * cache and tickets), the client SSL_CTX of a re-encrypting backend (chain
 * verified to the backend's trust_file at OpenSSL's full default depth, name
 * checked per connection), attaches the session-ticket keys of tls_tickets.c
 * (which owns them), and reads the SNI of a buffered ClientHello for
 * passthrough by running OpenSSL itself on a memory BIO.  It reads no
 * certificate or key file: a server context is built from the objects that
 * the validation loaded and judged (struct tls_cert), so what is served is
 * what was checked, and a backend's trust store is the one the validation
 * loaded (cert_trust_load): it reads no file at all.  Name
 * matching and the SNI parser are tls_name.c's, the listener's client-hello
 * callback tls_sni.c's.  It knows nothing about sockets or libevent and
 * prints nothing.  Error queue: the constructors (main thread) clear the
 * thread's OpenSSL error queue and leave it empty; tls_peek_sni, which runs on
 * workers between a connection's reads, leaves it exactly as it found it;
 * errors are worded by ossl_err.c.
 *
 * Decisions worth knowing:
 * - Certificate choice.  A listener serves one certificate per key type; when
 *   an RSA and an ECDSA certificate are loaded into one context, OpenSSL picks
 *   by the client's signature algorithms.  No client-hello callback is needed
 *   for that, so a listener's context gets one (tls_sni_attach) only when
 *   further certificates of a key type are chosen by SNI, for sni_strict,
 *   or when it serves an acme certificate renewed with tls-alpn-01;
 *   otherwise the SNI is read after the handshake with SSL_get_servername
 *   (tls_ssl_sni).  The passthrough peek's own context always has one: it
 *   reads the SNI and stops the handshake.  Every server context installs a
 *   servername callback, because without one OpenSSL does not acknowledge
 *   SNI.
 * - sni_strict is decided in the client-hello callback, before any
 *   certificate is sent: the alert is unrecognized_name, which RFC 6066
 *   gives for a name the server does not serve.
 * - ALPN on http services is http/1.1 or nothing: a client that asks only
 *   for other protocols (h2) is refused with no_application_protocol (RFC
 *   7301) rather than served HTTP/1.1 it did not ask for; a client without
 *   ALPN is served (old clients, curl --http1.1 style).
 * - tls_peek_sni decides incomplete input from the record framing alone and
 *   runs OpenSSL once the ClientHello is complete: a hello that trickles in
 *   byte by byte costs one parse, not one per byte.
 * - Expired certificates are refused when the context is built (an expired
 *   certificate is never served); a not-yet-valid one is left to the plan
 *   rules, which already refuse it at start-up.
 * - Services that lower tls_min below 1.2 get security level 0 and the ECDHE
 *   AES-CBC suites added, because OpenSSL 3 refuses TLS 1.0/1.1 otherwise.
 * - Messages name the certificate section and the file but not the service
 *   or backend: the caller knows which and adds it with its file:line.
 * - Backends keep OpenSSL's default TLS 1.2 cipher list: internal servers
 *   are often old, and the connection is verified either way.
 */
#include "edge443/serve/tls.h"
#include "edge443/serve/tls_name.h"
#include "edge443/serve/tls_sni.h"
#include "edge443/serve/tls_tickets.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "edge443/cert/cert.h"
#include "edge443/base/ossl_err.h"

/* TLS 1.2: forward secrecy and AEAD only (no RSA key exchange, no CBC).
 * TLS 1.3 keeps OpenSSL's default suites. */
#define TLS_SERVER_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20"
/* Only for services that explicitly allow TLS 1.0/1.1 (no AEAD there). */
#define TLS_LEGACY_CIPHERS TLS_SERVER_CIPHERS ":ECDHE+AES+SHA1"
#define TLS_SERVER_GROUPS "X25519:P-256:P-384"

/* How long a ticket resumes. */
#define TLS_SESSION_TIMEOUT 300L

/* ---- errors ------------------------------------------------------------ */

void tls_error_string(const char *what, char *err, size_t errlen)
{
	ossl_err_drainf(err, errlen, "%s", what != NULL ? what : "OpenSSL");
}

bool tls_error_is_dirty_eof(unsigned long errcode)
{
	return errcode != 0 && !ERR_SYSTEM_ERROR(errcode) &&
	       ERR_GET_LIB(errcode) == ERR_LIB_SSL &&
	       ERR_GET_REASON(errcode) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

/* ---- server contexts --------------------------------------------------- */

/* Without a servername callback OpenSSL does not acknowledge SNI (no empty
 * server_name extension in the reply); every name is fine here because the
 * listener, not the name, decides the certificate. */
static int tls_servername_cb(SSL *ssl, int *al, void *arg)
{
	return SSL_TLSEXT_ERR_OK;
}

/* Select "http/1.1" from the client's ALPN list (called only when the client
 * sent one); without it the handshake fails with no_application_protocol. */
static int tls_alpn_cb(SSL *ssl, const unsigned char **out,
		       unsigned char *outlen, const unsigned char *in,
		       unsigned int inlen, void *arg)
{
	static const unsigned char want[] = "http/1.1";
	unsigned int i = 0;

	while (i < inlen) {
		unsigned int n = in[i];

		if (n > inlen - i - 1)
			break;
		if (n == sizeof(want) - 1 && memcmp(in + i + 1, want, n) == 0) {
			*out = in + i + 1;
			*outlen = (unsigned char)n;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + n;
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static const char *tls_key_type_name(int id)
{
	switch (id) {
	case EVP_PKEY_RSA:
		return "RSA";
	case EVP_PKEY_RSA_PSS:
		return "RSA-PSS";
	case EVP_PKEY_EC:
		return "ECDSA";
	case EVP_PKEY_ED25519:
		return "Ed25519";
	case EVP_PKEY_ED448:
		return "Ed448";
	default:
		return "this";
	}
}

/* Load certificate section CC into CTX: leaf, its own chain, its key.
 * SSL_CTX_use_certificate makes the slot of the leaf's key type current, so
 * the chain certificates and the key that follow attach to that leaf (an
 * RSA and an ECDSA certificate each keep their own chain).  TYPES/NTYPES
 * record the key types already loaded: a second certificate of the same
 * type would silently replace the first. */
static int tls_server_load_cert(SSL_CTX *ctx, const struct tls_cert *tc,
				int *types, const char **names, size_t *ntypes,
				char *err, size_t errlen)
{
	const struct config_cert *cc = tc->cc;
	const struct cert_info *ci = tc->ci;
	char what[512];
	int type, rc = -1;

	if (cc->cert == NULL || cc->key == NULL) {
		ossl_err_printf(
			err, errlen,
			"certificate \"%s\" has no %s file; a "
			"terminating service needs the certificate and its "
			"private key",
			cc->name, cc->cert == NULL ? "cert" : "key");
		return -1;
	}
	/* The objects the plan rules judged, never the files again. */
	if (ci == NULL) {
		ossl_err_printf(err, errlen,
				"certificate \"%s\" was not loaded", cc->name);
		return -1;
	}
	if (ci->nerrors > 0) {
		const struct cert_file_error *fe = &ci->errors[0];

		ossl_err_printf(err, errlen, "certificate \"%s\": %s: %s: %s",
				cc->name, fe->path,
				cert_file_status_name(fe->status),
				fe->detail != NULL ? fe->detail : "");
		goto out;
	}
	if (ci->leaf == NULL || ci->key == NULL) {
		ossl_err_printf(err, errlen,
				"certificate \"%s\": %s: no "
				"certificate or key could be read",
				cc->name, cc->cert);
		goto out;
	}
	if (X509_cmp_time(X509_get0_notAfter(ci->leaf), NULL) <= 0) {
		char when[64] = "an unknown date";
		struct tm tm;

		if (ASN1_TIME_to_tm(X509_get0_notAfter(ci->leaf), &tm) == 1)
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC",
				 &tm);
		ossl_err_printf(
			err, errlen,
			"certificate \"%s\": %s expired on %s; "
			"an expired certificate is never served — renew it",
			cc->name, cc->cert, when);
		goto out;
	}
	if (!ci->key_matches) {
		ossl_err_printf(err, errlen,
				"certificate \"%s\": key %s does not "
				"belong to certificate %s — name the key the "
				"certificate was issued for",
				cc->name, cc->key, cc->cert);
		goto out;
	}
	type = EVP_PKEY_get_base_id(ci->key);
	for (size_t i = 0; i < *ntypes; i++) {
		if (types[i] == type) {
			ossl_err_printf(
				err, errlen,
				"certificates \"%s\" and "
				"\"%s\" both have %s keys; a listener serves "
				"one certificate per key type (e.g. one RSA "
				"and one ECDSA)",
				names[i], cc->name, tls_key_type_name(type));
			goto out;
		}
	}
	snprintf(what, sizeof(what), "certificate \"%s\" (%s)", cc->name,
		 cc->cert);
	ERR_clear_error();
	if (SSL_CTX_use_certificate(ctx, ci->leaf) != 1 ||
	    SSL_CTX_clear_chain_certs(ctx) != 1)
		goto ssl_fail;
	for (int i = 0; i < sk_X509_num(ci->chain); i++) {
		if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(ci->chain, i)) !=
		    1)
			goto ssl_fail;
	}
	snprintf(what, sizeof(what), "certificate \"%s\": key %s", cc->name,
		 cc->key);
	if (SSL_CTX_use_PrivateKey(ctx, ci->key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto ssl_fail;
	types[*ntypes] = type;
	names[*ntypes] = cc->name;
	(*ntypes)++;
	rc = 0;
	goto out;
ssl_fail:
	ossl_err_drainf(err, errlen, "%s", what);
out:
	return rc;
}

/* The session id context: the service name, hashed when longer than
 * OpenSSL allows.  Sessions of one service never resume on another. */
static int tls_set_sid_ctx(SSL_CTX *ctx, const char *name)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t len = strlen(name);

	if (len > 0 && len <= SSL_MAX_SID_CTX_LENGTH)
		return SSL_CTX_set_session_id_context(
			ctx, (const unsigned char *)name, (unsigned int)len);
	if (EVP_Digest(name, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		return 0;
	return SSL_CTX_set_session_id_context(ctx, md, mdlen);
}

/* One server context serving CC and EXTRA (all of different key types). */
static SSL_CTX *tls_server_ctx_one(const struct config *cfg,
				   const struct config_service *svc,
				   const struct tls_cert *cc,
				   const struct tls_cert *const *extra,
				   size_t nextra, struct tls_tickets *tickets,
				   char *err, size_t errlen)
{
	SSL_CTX *ctx = NULL;
	int *types = NULL;
	const char **names = NULL;
	size_t ntypes = 0;
	int min = config_service_tls_min(cfg, svc);
	int max = config_service_tls_max(cfg, svc);
	const char *what = "TLS context";

	if (cc == NULL) {
		ossl_err_printf(err, errlen,
				"no certificate to serve — name a "
				"certificate section with a cert and key");
		return NULL;
	}
	ERR_clear_error();
	types = calloc(nextra + 1, sizeof(*types));
	names = calloc(nextra + 1, sizeof(*names));
	if (types == NULL || names == NULL) {
		ossl_err_printf(err, errlen, "%s: out of memory", what);
		goto fail;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		goto ssl_fail;
	if ((min != 0 && SSL_CTX_set_min_proto_version(ctx, min) != 1) ||
	    (max != 0 && SSL_CTX_set_max_proto_version(ctx, max) != 1)) {
		ossl_err_drainf(err, errlen, "%s", what);
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
					 SSL_OP_PRIORITIZE_CHACHA |
					 SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_NO_COMPRESSION);
	if (min != 0 && min < TLS1_2_VERSION) {
		/* OpenSSL 3 allows TLS 1.0/1.1 only at security level 0. */
		SSL_CTX_set_security_level(ctx, 0);
		if (SSL_CTX_set_cipher_list(ctx, TLS_LEGACY_CIPHERS) != 1)
			goto ssl_fail;
	} else if (SSL_CTX_set_cipher_list(ctx, TLS_SERVER_CIPHERS) != 1) {
		goto ssl_fail;
	}
	if (SSL_CTX_set1_groups_list(ctx, TLS_SERVER_GROUPS) != 1)
		goto ssl_fail;
	/* RELEASE_BUFFERS: an idle connection holds no 34 KiB of buffers.
	 * ACCEPT_MOVING_WRITE_BUFFER: libevent retries writes from a moved
	 * buffer.  No ENABLE_PARTIAL_WRITE: libevent 2.1's do_write goes on
	 * with the next buffer chunk after a partial SSL_write, which
	 * reorders data once a chunk is larger than one record.
	 * NO_AUTO_CHAIN: serve exactly the configured chain. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_NO_AUTO_CHAIN);

	if (tls_set_sid_ctx(ctx, svc->name) != 1)
		goto ssl_fail;
	/* Resumption by session tickets only, no stateful session cache:
	 * measured (bench/results.md, counts) a cache changes nothing for
	 * TLS 1.3 and TLS 1.2 clients with tickets, while it costs memory and
	 * a lock that every worker takes on every handshake, and no cache is
	 * shared across processes or the nodes of a pool — tickets are (with
	 * ticket_key_file).  Only a TLS 1.2 client without ticket support
	 * loses resumption; nginx's default is the same. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* One TLS 1.3 ticket per handshake (OpenSSL sends two): a client
	 * resumes with one, and each ticket costs an encryption. */
	SSL_CTX_set_num_tickets(ctx, 1);
	SSL_CTX_set_timeout(ctx, TLS_SESSION_TIMEOUT);
	if (tickets != NULL && tls_tickets_attach(ctx, tickets) != 0)
		goto ssl_fail;
	/* tickets == NULL: OpenSSL's own per-context random ticket keys. */

	SSL_CTX_set_tlsext_servername_callback(ctx, tls_servername_cb);
	if (svc->http.present)
		SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_cb, NULL);

	if (tls_server_load_cert(ctx, cc, types, names, &ntypes, err, errlen) !=
	    0)
		goto fail;
	for (size_t i = 0; i < nextra; i++) {
		if (extra[i] == NULL)
			continue;
		if (tls_server_load_cert(ctx, extra[i], types, names, &ntypes,
					 err, errlen) != 0)
			goto fail;
	}
	free(types);
	free(names);
	ERR_clear_error();
	return ctx;
ssl_fail:
	ossl_err_drainf(err, errlen, "%s", what);
fail:
	free(types);
	free(names);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

/* The configuration refuses more (config.h). */
#define TLS_SERVER_MAX_CERTS CONFIG_MAX_LISTENER_CERTS

/* The key type of CC's leaf (EVP_PKEY_RSA, ...), or -1 - I when it cannot be
 * read (unique, so tls_server_ctx_one reports the problem). *LEAF gets a
 * reference to the leaf or NULL. */
static int tls_cert_key_type(const struct tls_cert *tc, size_t i, X509 **leaf)
{
	const struct cert_info *ci = tc->ci;
	int type = -1 - (int)i;

	*leaf = NULL;
	if (ci && ci->leaf && X509_get0_pubkey(ci->leaf)) {
		type = EVP_PKEY_get_base_id(X509_get0_pubkey(ci->leaf));
		if (X509_up_ref(ci->leaf) == 1)
			*leaf = ci->leaf;
	}
	return type;
}

/* Does SVC answer tls-alpn-01 in `run` (the renewal of one of its acme
 * certificates)?  Then its context needs the client-hello callback. */
static bool tls_acme_alpn(const struct config *cfg,
			  const struct config_service *svc)
{
	if (!cfg->acme.present ||
	    cfg->acme.challenge != CONFIG_ACME_TLS_ALPN_01)
		return false;
	for (size_t i = 0; i < cfg->ncerts; i++)
		if (cfg->certs[i].acme &&
		    config_service_uses_cert(svc, cfg->certs[i].name))
			return true;
	return false;
}

/* The listener's certificates go into contexts of one certificate per key
 * type: the Nth certificate of a key type into context N.  Context 0 is the
 * listener's own (RSA + ECDSA twins are chosen by OpenSSL); the others are
 * chosen by SNI (tls_sni.c). */
SSL_CTX *tls_server_ctx_new(const struct config *cfg,
			    const struct config_service *svc,
			    const struct tls_cert *certs, size_t ncerts,
			    struct tls_tickets *tickets, char *err,
			    size_t errlen)
{
	const struct tls_cert *all[TLS_SERVER_MAX_CERTS];
	const struct tls_cert *mine[TLS_SERVER_MAX_CERTS];
	X509 *leaf[TLS_SERVER_MAX_CERTS] = {0};
	int type[TLS_SERVER_MAX_CERTS];
	size_t group[TLS_SERVER_MAX_CERTS];
	SSL_CTX *ctx[TLS_SERVER_MAX_CERTS] = {0};
	STACK_OF(X509) * leaves[TLS_SERVER_MAX_CERTS] = {0};
	size_t n = 0, ngroups = 0;
	SSL_CTX *result = NULL;
	/* sni_strict: the names the client-hello callback lets through. */
	const char *strict =
		svc->sni_strict ? (svc->fqdn ? svc->fqdn : "") : NULL;

	if (ncerts == 0 || certs == NULL)
		return tls_server_ctx_one(cfg, svc, NULL, NULL, 0, tickets, err,
					  errlen);
	for (size_t i = 0; i < ncerts; i++) {
		if (n == TLS_SERVER_MAX_CERTS) {
			ossl_err_printf(
				err, errlen,
				"more than %d certificates on one listener",
				TLS_SERVER_MAX_CERTS);
			return NULL;
		}
		all[n++] = &certs[i];
	}
	for (size_t i = 0; i < n; i++) {
		type[i] = tls_cert_key_type(all[i], i, &leaf[i]);
		group[i] = 0;
		for (size_t j = 0; j < i; j++)
			if (type[j] == type[i])
				group[i]++;
		if (group[i] + 1 > ngroups)
			ngroups = group[i] + 1;
	}
	for (size_t g = 0; g < ngroups; g++) {
		size_t k = 0;
		leaves[g] = sk_X509_new_null();
		if (!leaves[g]) {
			ossl_err_printf(err, errlen, "out of memory");
			goto done;
		}
		for (size_t i = 0; i < n; i++) {
			if (group[i] != g)
				continue;
			mine[k++] = all[i];
			if (leaf[i] && sk_X509_push(leaves[g], leaf[i]) > 0)
				leaf[i] = NULL; /* the stack owns it now */
		}
		ctx[g] = tls_server_ctx_one(cfg, svc, mine[0], mine + 1, k - 1,
					    tickets, err, errlen);
		if (!ctx[g])
			goto done;
	}
	if (ngroups > 1 || strict || tls_acme_alpn(cfg, svc)) {
		/* tls_sni_attach owns ctx[1..] and every stack, even when it
		 * fails. */
		if (tls_sni_attach(ctx[0], ctx + 1, ngroups - 1, leaves,
				   strict) != 0) {
			ossl_err_printf(
				err, errlen,
				"cannot set up the client-hello callback "
				"(certificate choice by SNI, sni_strict, "
				"tls-alpn-01)");
			SSL_CTX_free(ctx[0]);
			ctx[0] = NULL;
		}
		memset(ctx + 1, 0, sizeof(ctx[0]) * (ngroups - 1));
		memset(leaves, 0, sizeof(leaves));
	}
	result = ctx[0];
	ctx[0] = NULL;
done:
	for (size_t g = 0; g < TLS_SERVER_MAX_CERTS; g++) {
		SSL_CTX_free(ctx[g]);
		sk_X509_pop_free(leaves[g], X509_free);
	}
	for (size_t i = 0; i < n; i++)
		X509_free(leaf[i]);
	return result;
}

/* ---- client contexts (re-encrypt) -------------------------------------- */

SSL_CTX *tls_client_ctx_new(const struct config *cfg,
			    const struct config_backend *be, X509_STORE *trust,
			    char *err, size_t errlen)
{
	SSL_CTX *ctx = NULL;
	char what[600];

	if (be->verify && be->trust_file == NULL) {
		ossl_err_printf(
			err, errlen,
			"verify is on but no trust_file is set — name the CA "
			"file that issued the backend's certificate, or set "
			"verify = false");
		return NULL;
	}
	if (be->verify && be->verify_name == NULL) {
		ossl_err_printf(
			err, errlen,
			"verify is on but no verify_name is set — name the "
			"host name on the backend's certificate");
		return NULL;
	}
	snprintf(what, sizeof(what), "TLS context");
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		goto ssl_fail;
	SSL_CTX_set_options(ctx,
			    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (be->verify) {
		if (trust == NULL) {
			ossl_err_printf(err, errlen,
					"trust_file %s was not loaded by the "
					"validation",
					be->trust_file);
			goto fail;
		}
		SSL_CTX_set1_cert_store(ctx, trust);
		/* OpenSSL's default depth (100) verifies the whole chain; a
		 * depth of 1 (nginx's default) rejects two intermediates. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	ERR_clear_error();
	return ctx;
ssl_fail:
	ossl_err_drainf(err, errlen, "%s", what);
fail:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

SSL *tls_client_ssl_new(SSL_CTX *ctx, const struct config_backend *be)
{
	const char *name = be->verify_name;
	unsigned char addr[16];
	bool is_ip;
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL)
		return NULL;
	if (name != NULL) {
		is_ip = inet_pton(AF_INET, name, addr) == 1 ||
			inet_pton(AF_INET6, name, addr) == 1;
		/* RFC 6066: no IP literals in SNI. */
		if (!is_ip && SSL_set_tlsext_host_name(ssl, name) != 1)
			goto fail;
		if (be->verify && is_ip &&
		    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) !=
			    1)
			goto fail;
		if (be->verify && !is_ip) {
			SSL_set_hostflags(ssl,
					  X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			if (SSL_set1_host(ssl, name) != 1)
				goto fail;
		}
	}
	SSL_set_connect_state(ssl);
	return ssl;
fail:
	SSL_free(ssl);
	ERR_clear_error();
	return NULL;
}

/* ---- alerts -------------------------------------------------- */

size_t tls_alert_record(unsigned char *out, size_t outlen,
			int alert_description)
{
	if (out == NULL || outlen < TLS_ALERT_RECORD_LEN ||
	    alert_description < 0 || alert_description > 255)
		return 0;
	out[0] = SSL3_RT_ALERT;
	out[1] = SSL3_VERSION_MAJOR;
	out[2] = TLS1_2_VERSION & 0xff; /* as OpenSSL frames it for 1.2/1.3 */
	out[3] = 0;
	out[4] = 2; /* level + description */
	out[5] = SSL3_AL_FATAL;
	out[6] = (unsigned char)alert_description;
	return TLS_ALERT_RECORD_LEN;
}

/* ---- SNI peeking (passthrough) ----------------------------------------- */

/* What the client-hello callback of one peek found. */
struct tls_peek_state {
	bool seen; /* the callback ran: the ClientHello was complete */
	char *sni;
};

static SSL_CTX *tls_peek_ctx;
static pthread_once_t tls_peek_once = PTHREAD_ONCE_INIT;
static atomic_ulong tls_peek_parses; /* tls_peek_parse_count */

/* Runs once the whole ClientHello has been read (before version or cipher
 * choice): record the SNI and stop the handshake without an alert. */
static int tls_peek_hello_cb(SSL *ssl, int *al, void *arg)
{
	struct tls_peek_state *st = SSL_get_app_data(ssl);
	const unsigned char *p;
	size_t len;

	st->seen = true;
	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) ==
	    1)
		st->sni = tls_name_parse_sni(p, len);
	return SSL_CLIENT_HELLO_RETRY;
}

static void tls_peek_ctx_init(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL)
		return;
	/* Every version the library has, so nothing the backend would accept
	 * is refused here (the callback runs before version choice anyway). */
	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_min_proto_version(ctx, 0);
	SSL_CTX_set_max_proto_version(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_client_hello_cb(ctx, tls_peek_hello_cb, NULL);
	tls_peek_ctx = ctx;
}

static size_t tls_peek_u24(const unsigned char *p)
{
	return (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
}

/* How much of a ClientHello BUF[0..LEN) holds, from the record framing alone
 * (a few byte reads per record): TLS_PEEK_HELLO once every record holding a
 * byte of the ClientHello message has arrived (OpenSSL reads whole records),
 * TLS_PEEK_NEED_MORE before, or TLS_PEEK_NOT_TLS when the bytes cannot begin
 * a ClientHello: a record that is not a handshake record of version 3.x (the
 * hello comes before any other record type), an empty handshake record (RFC
 * 8446 section 5.1, RFC 5246 section 6.2.1), a record above the 2^14 bytes a
 * plaintext record may hold, or a first handshake message that is not a
 * ClientHello.  Whether the message itself is well formed is for OpenSSL to
 * say. */
static enum tls_peek_result tls_peek_framing(const unsigned char *buf,
					     size_t len)
{
	unsigned char hs[SSL3_HM_HEADER_LENGTH]; /* type, 24-bit length */
	size_t pos = 0, nhs = 0, body = 0;

	for (;;) {
		size_t rlen, avail;

		if (pos >= len)
			return TLS_PEEK_NEED_MORE;
		if (buf[pos] != SSL3_RT_HANDSHAKE)
			return TLS_PEEK_NOT_TLS;
		if (len - pos < 2)
			return TLS_PEEK_NEED_MORE;
		if (buf[pos + 1] != SSL3_VERSION_MAJOR)
			return TLS_PEEK_NOT_TLS;
		if (len - pos < SSL3_RT_HEADER_LENGTH)
			return TLS_PEEK_NEED_MORE;
		rlen = (size_t)buf[pos + 3] << 8 | buf[pos + 4];
		if (rlen == 0 || rlen > SSL3_RT_MAX_PLAIN_LENGTH)
			return TLS_PEEK_NOT_TLS;
		pos += SSL3_RT_HEADER_LENGTH;
		avail = len - pos < rlen ? len - pos : rlen;
		/* The handshake header may itself span records. */
		for (size_t i = 0; nhs < sizeof(hs) && i < avail; i++)
			hs[nhs++] = buf[pos + i];
		if (nhs > 0 && hs[0] != SSL3_MT_CLIENT_HELLO)
			return TLS_PEEK_NOT_TLS;
		if (avail < rlen)
			return TLS_PEEK_NEED_MORE;
		pos += rlen;
		body += rlen;
		if (nhs == sizeof(hs) &&
		    body - sizeof(hs) >= tls_peek_u24(hs + 1))
			return TLS_PEEK_HELLO;
	}
}

/* Run OpenSSL's server on the complete ClientHello in BUF[0..LEN): HELLO
 * with *sni (may be NULL), or NOT_TLS when OpenSSL finds no ClientHello in
 * bytes whose framing is complete. */
static enum tls_peek_result tls_peek_parse(const unsigned char *buf, size_t len,
					   char **sni)
{
	struct tls_peek_state st = {false, NULL};
	enum tls_peek_result res = TLS_PEEK_NOT_TLS;
	SSL *ssl = NULL;
	BIO *rbio = NULL, *wbio = NULL;

	pthread_once(&tls_peek_once, tls_peek_ctx_init);
	if (tls_peek_ctx == NULL)
		return TLS_PEEK_NOT_TLS;
	atomic_fetch_add_explicit(&tls_peek_parses, 1, memory_order_relaxed);
	ERR_set_mark();
	ssl = SSL_new(tls_peek_ctx);
	rbio = BIO_new_mem_buf(buf, (int)len);
	wbio = BIO_new(BIO_s_null()); /* whatever it writes is discarded */
	if (ssl == NULL || rbio == NULL || wbio == NULL)
		goto out;
	/* At the end of the bytes: "retry" (WANT_READ), not end of file. */
	BIO_set_mem_eof_return(rbio, -1);
	SSL_set_bio(ssl, rbio, wbio);
	rbio = wbio = NULL;
	SSL_set_app_data(ssl, &st);
	SSL_set_accept_state(ssl);
	/* Either the callback ran, or OpenSSL refused the bytes; wanting more
	 * cannot happen after complete framing, and would not be waited for:
	 * each further byte would parse again. */
	SSL_do_handshake(ssl);
	if (st.seen) {
		res = TLS_PEEK_HELLO;
		if (sni != NULL) {
			*sni = st.sni;
			st.sni = NULL;
		}
	}
out:
	SSL_free(ssl);
	BIO_free(rbio);
	BIO_free(wbio);
	free(st.sni);
	/* The caller's error queue is left as it was. */
	ERR_pop_to_mark();
	return res;
}

enum tls_peek_result tls_peek_sni(const unsigned char *buf, size_t len,
				  char **sni)
{
	size_t n = len < TLS_PEEK_MAX ? len : TLS_PEEK_MAX;

	if (sni != NULL)
		*sni = NULL;
	/* A TLS stream starts with a handshake record, 0x16 0x03: anything
	 * else (plain HTTP, an SSLv2-format hello, A/V relay bytes) is
	 * decided from the first bytes, without OpenSSL. */
	switch (tls_peek_framing(buf, n)) {
	case TLS_PEEK_HELLO:
		return tls_peek_parse(buf, n, sni);
	case TLS_PEEK_NEED_MORE:
		return len >= TLS_PEEK_MAX ? TLS_PEEK_TOO_BIG
					   : TLS_PEEK_NEED_MORE;
	default:
		return TLS_PEEK_NOT_TLS;
	}
}

unsigned long tls_peek_parse_count(void)
{
	return atomic_load_explicit(&tls_peek_parses, memory_order_relaxed);
}

/* ---- connection facts -------------------------------------------------- */

const char *tls_ssl_version(const SSL *ssl)
{
	return SSL_get_version(ssl);
}

const char *tls_ssl_cipher(const SSL *ssl)
{
	return SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
}

const char *tls_ssl_sni(const SSL *ssl)
{
	return SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
}
