/* acme_jws.c — base64url, JWK, thumbprint, JWS and the account key.
 *
 * The JOSE pieces of RFC 8555 and nothing else: a request body signed with
 * the ES256 account key, the HS256 inner JWS of External Account Binding,
 * the RFC 7638 thumbprint that key authorizations end with, and the account
 * key file (loaded, or created with mode 0600).  JSON text is jansson's
 * (compact, keys sorted where RFC 7638 needs it), keys, digests, HMAC and the
 * DER-to-(r||s) conversion of ECDSA signatures are OpenSSL's.  It knows no
 * URL and sends nothing: acme.c does.
 */
#include "edge443/order/acme_jws.h"
#include "edge443/base/ossl_err.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>

/* ---- base64url ---------------------------------------------------------- */

char *acme_b64url(const unsigned char *data, size_t len)
{
	size_t cap = 4 * ((len + 2) / 3) + 1;
	char *out = malloc(cap);
	int n;

	if (!out)
		return NULL;
	n = len ? EVP_EncodeBlock((unsigned char *)out, data, (int)len) : 0;
	if (n < 0) {
		free(out);
		return NULL;
	}
	out[n] = '\0';
	while (n > 0 && out[n - 1] == '=')
		out[--n] = '\0';
	for (char *c = out; *c; c++) {
		if (*c == '+')
			*c = '-';
		else if (*c == '/')
			*c = '_';
	}
	return out;
}

unsigned char *acme_b64url_decode(const char *s, size_t *len)
{
	size_t n = strlen(s), pad = (4 - n % 4) % 4;
	char *std = NULL;
	unsigned char *out = NULL;
	int got;

	*len = 0;
	if (n % 4 == 1)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return NULL;
	}
	std = malloc(n + pad + 1);
	out = malloc((n + pad) / 4 * 3 + 1);
	if (!std || !out)
		goto fail;
	for (size_t i = 0; i < n; i++)
		std[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	memset(std + n, '=', pad);
	std[n + pad] = '\0';
	got = n ? EVP_DecodeBlock(out, (unsigned char *)std, (int)(n + pad))
		: 0;
	if (got < 0)
		goto fail;
	/* EVP_DecodeBlock counts the bytes of the padding as zeros */
	*len = (size_t)got - pad;
	out[*len] = '\0';
	free(std);
	return out;
fail:
	free(std);
	free(out);
	return NULL;
}

/* ---- JWK ---------------------------------------------------------------- */

/* A bignum parameter of KEY as base64url of its big-endian bytes, PAD bytes
 * wide (0 = as short as it is). */
static json_t *acme_jws_bn(EVP_PKEY *key, const char *param, int pad)
{
	BIGNUM *bn = NULL;
	unsigned char *buf = NULL;
	char *text = NULL;
	json_t *j = NULL;
	int n;

	if (!EVP_PKEY_get_bn_param(key, param, &bn))
		return NULL;
	n = pad ? pad : BN_num_bytes(bn);
	buf = malloc((size_t)n + 1);
	if (buf && BN_bn2binpad(bn, buf, n) == n)
		text = acme_b64url(buf, (size_t)n);
	if (text)
		j = json_string(text);
	free(text);
	free(buf);
	BN_free(bn);
	return j;
}

static int acme_jws_is_p256(EVP_PKEY *key)
{
	char group[64];

	return EVP_PKEY_is_a(key, "EC") &&
	       EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
					      group, sizeof(group), NULL) &&
	       strcmp(group, "prime256v1") == 0;
}

json_t *acme_jwk(EVP_PKEY *key)
{
	json_t *jwk = json_object();

	if (!jwk || !key)
		goto fail;
	if (acme_jws_is_p256(key)) {
		if (json_object_set_new(jwk, "crv", json_string("P-256")) ||
		    json_object_set_new(jwk, "kty", json_string("EC")) ||
		    json_object_set_new(
			    jwk, "x",
			    acme_jws_bn(key, OSSL_PKEY_PARAM_EC_PUB_X, 32)) ||
		    json_object_set_new(
			    jwk, "y",
			    acme_jws_bn(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32)))
			goto fail;
	} else if (EVP_PKEY_is_a(key, "RSA")) {
		if (json_object_set_new(
			    jwk, "e",
			    acme_jws_bn(key, OSSL_PKEY_PARAM_RSA_E, 0)) ||
		    json_object_set_new(jwk, "kty", json_string("RSA")) ||
		    json_object_set_new(
			    jwk, "n",
			    acme_jws_bn(key, OSSL_PKEY_PARAM_RSA_N, 0)))
			goto fail;
	} else {
		goto fail;
	}
	return jwk;
fail:
	json_decref(jwk);
	return NULL;
}

char *acme_jwk_thumbprint(EVP_PKEY *key)
{
	json_t *jwk = acme_jwk(key);
	/* RFC 7638: the required members only, sorted, no whitespace */
	char *text =
		jwk ? json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	unsigned char md[32];
	unsigned int mdlen = 0;
	char *out = NULL;

	if (text &&
	    EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL))
		out = acme_b64url(md, mdlen);
	free(text);
	json_decref(jwk);
	return out;
}

char *acme_key_authorization(const char *token, EVP_PKEY *account_key)
{
	char *tp = acme_jwk_thumbprint(account_key);
	char *out = NULL;
	size_t n;

	if (!tp || !token)
		goto done;
	n = strlen(token) + 1 + strlen(tp) + 1;
	out = malloc(n);
	if (out)
		snprintf(out, n, "%s.%s", token, tp);
done:
	free(tp);
	return out;
}

/* ---- JWS ---------------------------------------------------------------- */

/* "PROTECTED.PAYLOAD" with both parts base64url; new string. */
static char *acme_jws_input(const char *prot64, const char *pay64)
{
	size_t n = strlen(prot64) + 1 + strlen(pay64) + 1;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s.%s", prot64, pay64);
	return s;
}

/* The flattened JWS as compact JSON text; new string. */
static char *acme_jws_flat(const char *prot64, const char *pay64,
			   const char *sig64)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "protected", prot64, "payload",
			      pay64, "signature", sig64);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return text;
}

/* ES256 over INPUT: the DER ECDSA signature turned into r || s, 32 bytes
 * each (RFC 7518 section 3.4), base64url.  NULL with the reason in err. */
static char *acme_jws_es256(EVP_PKEY *key, const char *input, char *err,
			    size_t errlen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *der = NULL, raw[64];
	const unsigned char *p;
	size_t derlen = 0;
	ECDSA_SIG *sig = NULL;
	const BIGNUM *r, *s;
	char *out = NULL;

	if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &derlen, (const unsigned char *)input,
			   strlen(input)) != 1 ||
	    !(der = malloc(derlen)) ||
	    EVP_DigestSign(md, der, &derlen, (const unsigned char *)input,
			   strlen(input)) != 1) {
		ossl_err_drainf(err, errlen, "signing the ACME request");
		goto done;
	}
	p = der;
	sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	if (!sig) {
		ossl_err_drainf(err, errlen, "reading the ECDSA signature");
		goto done;
	}
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, raw, 32) != 32 ||
	    BN_bn2binpad(s, raw + 32, 32) != 32) {
		ossl_err_printf(err, errlen, "ECDSA signature too long");
		goto done;
	}
	out = acme_b64url(raw, sizeof(raw));
done:
	ECDSA_SIG_free(sig);
	free(der);
	EVP_MD_CTX_free(md);
	return out;
}

char *acme_jws_sign(EVP_PKEY *key, const char *kid, const char *nonce,
		    const char *url, const char *payload, char *err,
		    size_t errlen)
{
	json_t *prot = json_object();
	char *prot_text = NULL, *prot64 = NULL, *pay64 = NULL, *input = NULL,
	     *sig64 = NULL, *out = NULL;

	if (!key || !acme_jws_is_p256(key)) {
		ossl_err_printf(err, errlen,
				"the ACME account key is not a P-256 key");
		goto done;
	}
	if (!prot || json_object_set_new(prot, "alg", json_string("ES256")) ||
	    (kid ? json_object_set_new(prot, "kid", json_string(kid))
		 : json_object_set_new(prot, "jwk", acme_jwk(key))) ||
	    (nonce && json_object_set_new(prot, "nonce", json_string(nonce))) ||
	    json_object_set_new(prot, "url", json_string(url ? url : "")))
		goto oom;
	prot_text = json_dumps(prot, JSON_COMPACT | JSON_SORT_KEYS);
	if (!prot_text)
		goto oom;
	prot64 = acme_b64url((const unsigned char *)prot_text,
			     strlen(prot_text));
	pay64 = acme_b64url((const unsigned char *)(payload ? payload : ""),
			    payload ? strlen(payload) : 0);
	if (!prot64 || !pay64 || !(input = acme_jws_input(prot64, pay64)))
		goto oom;
	sig64 = acme_jws_es256(key, input, err, errlen);
	if (!sig64)
		goto done;
	out = acme_jws_flat(prot64, pay64, sig64);
	if (!out)
		goto oom;
	goto done;
oom:
	ossl_err_printf(err, errlen, "out of memory signing the request");
done:
	json_decref(prot);
	free(prot_text);
	free(prot64);
	free(pay64);
	free(input);
	free(sig64);
	return out;
}

json_t *acme_eab_jws(const char *eab_kid, const char *eab_hmac_key,
		     EVP_PKEY *account_key, const char *url, char *err,
		     size_t errlen)
{
	json_t *prot = NULL, *jwk = NULL, *out = NULL;
	char *prot_text = NULL, *jwk_text = NULL, *prot64 = NULL, *pay64 = NULL,
	     *input = NULL, *sig64 = NULL;
	unsigned char *mac_key = NULL, mac[EVP_MAX_MD_SIZE];
	size_t mac_keylen = 0, maclen = 0;

	mac_key = acme_b64url_decode(eab_hmac_key ? eab_hmac_key : "",
				     &mac_keylen);
	if (!mac_key || mac_keylen == 0) {
		ossl_err_printf(err, errlen,
				"eab_hmac_key does not decode as base64url — "
				"copy it exactly as the CA gave it");
		goto done;
	}
	prot = json_pack("{s:s, s:s, s:s}", "alg", "HS256", "kid",
			 eab_kid ? eab_kid : "", "url", url ? url : "");
	jwk = acme_jwk(account_key);
	if (!prot || !jwk)
		goto oom;
	prot_text = json_dumps(prot, JSON_COMPACT | JSON_SORT_KEYS);
	jwk_text = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
	if (!prot_text || !jwk_text)
		goto oom;
	prot64 = acme_b64url((const unsigned char *)prot_text,
			     strlen(prot_text));
	pay64 = acme_b64url((const unsigned char *)jwk_text, strlen(jwk_text));
	if (!prot64 || !pay64 || !(input = acme_jws_input(prot64, pay64)))
		goto oom;
	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, mac_key, mac_keylen,
		       (const unsigned char *)input, strlen(input), mac,
		       sizeof(mac), &maclen)) {
		ossl_err_drainf(err, errlen, "HMAC-SHA256 for the EAB");
		goto done;
	}
	sig64 = acme_b64url(mac, maclen);
	if (!sig64)
		goto oom;
	out = json_pack("{s:s, s:s, s:s}", "protected", prot64, "payload",
			pay64, "signature", sig64);
	if (!out)
		goto oom;
	goto done;
oom:
	ossl_err_printf(err, errlen, "out of memory building the EAB");
done:
	if (mac_key) {
		OPENSSL_cleanse(mac_key, mac_keylen);
		free(mac_key);
	}
	json_decref(prot);
	json_decref(jwk);
	free(prot_text);
	free(jwk_text);
	free(prot64);
	free(pay64);
	free(input);
	free(sig64);
	return out;
}

/* ---- files -------------------------------------------------------------- */

int acme_write_atomic(const char *path, const void *data, size_t len, int mode,
		      char *err, size_t errlen)
{
	char tmp[4096], dir[4096];
	const char *p = data;
	int fd = -1, dfd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
		    (int)sizeof(tmp) ||
	    snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		ossl_err_printf(err, errlen, "%s: path too long", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  mode);
	if (fd < 0 || fchmod(fd, (mode_t)mode) != 0)
		goto fail;
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	ossl_err_printf(err, errlen, "cannot write %s: %s", path,
			strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

/* A new P-256 key written to PATH (0600); NULL with the reason in err. */
static EVP_PKEY *acme_account_key_create(const char *path, char *err,
					 size_t errlen)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	BIO *mem = BIO_new(BIO_s_mem());
	char *pem = NULL;
	long n;

	if (!key || !mem ||
	    !PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL)) {
		ossl_err_drainf(err, errlen, "making the ACME account key");
		goto fail;
	}
	n = BIO_get_mem_data(mem, &pem);
	if (acme_write_atomic(path, pem, (size_t)n, 0600, err, errlen) != 0)
		goto fail;
	BIO_free(mem);
	return key;
fail:
	BIO_free(mem);
	EVP_PKEY_free(key);
	return NULL;
}

EVP_PKEY *acme_account_key_load(const char *path, char *err, size_t errlen)
{
	struct stat st;
	EVP_PKEY *key = NULL;
	BIO *in = NULL;

	if (stat(path, &st) != 0) {
		if (errno != ENOENT) {
			ossl_err_printf(err, errlen, "cannot read %s: %s", path,
					strerror(errno));
			return NULL;
		}
		return acme_account_key_create(path, err, errlen);
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		ossl_err_printf(err, errlen,
				"%s: the account key must be a file readable "
				"by its owner only — chmod 600 %s",
				path, path);
		return NULL;
	}
	in = BIO_new_file(path, "r");
	if (in)
		key = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL);
	BIO_free(in);
	if (!key) {
		ossl_err_drainf(err, errlen, "reading the account key %s",
				path);
		return NULL;
	}
	if (!acme_jws_is_p256(key)) {
		ossl_err_printf(err, errlen,
				"%s: the account key is not a P-256 (ES256) "
				"key — remove it, and edge443 makes one",
				path);
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}
