/* acme_jws.h — the JOSE side of ACME: base64url, JWK, thumbprint, JWS.
 *
 * acme_jws.c signs ACME requests (RFC 8555 section 6.2: flattened JWS,
 * ES256 over a P-256 account key, "jwk" before the account exists and "kid"
 * after), builds the External Account Binding inner JWS (section 7.3.4,
 * HS256 over the account's JWK), computes the RFC 7638 thumbprint and the
 * key authorization of a challenge (section 8.1), and loads or creates the
 * account key.  JSON is jansson's, keys and digests are OpenSSL's; nothing
 * here does I/O except acme_account_key_load, and nothing prints.
 *
 * Ownership: every char * returned is a new NUL-terminated string the caller
 * frees with free(); every json_t * a new reference the caller releases with
 * json_decref; an EVP_PKEY * the caller frees with EVP_PKEY_free.  All
 * functions are pure functions of their arguments: any thread.
 */
#ifndef EDGE443_ORDER_ACME_JWS_H
#define EDGE443_ORDER_ACME_JWS_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>

/* RFC 4648 section 5 without padding.  NULL on allocation failure. */
char *acme_b64url(const unsigned char *data, size_t len);

/* Decode base64url (padding and whitespace refused).  A new buffer of *LEN
 * bytes (NUL-terminated for convenience), or NULL when S is not base64url. */
unsigned char *acme_b64url_decode(const char *s, size_t *len);

/* The public JWK of KEY (EC P-256: crv, kty, x, y; RSA: e, kty, n), or
 * NULL for another key type. */
json_t *acme_jwk(EVP_PKEY *key);

/* RFC 7638 SHA-256 thumbprint of KEY's JWK, base64url; NULL on failure. */
char *acme_jwk_thumbprint(EVP_PKEY *key);

/* "TOKEN.THUMBPRINT" (RFC 8555 section 8.1); NULL on failure. */
char *acme_key_authorization(const char *token, EVP_PKEY *account_key);

/* A flattened JWS (RFC 7515 section 7.2.2) as compact JSON text:
 * {"protected": b64url({"alg":"ES256", "jwk"|"kid", "nonce", "url"}),
 *  "payload": b64url(PAYLOAD), "signature": b64url(r || s)}.
 * KEY must be a P-256 key.  KID NULL puts the JWK in the header (newAccount);
 * PAYLOAD NULL gives the empty payload of a POST-as-GET.  NONCE may be NULL
 * (the EAB inner JWS has none).  NULL with the reason in err. */
char *acme_jws_sign(EVP_PKEY *key, const char *kid, const char *nonce,
		    const char *url, const char *payload, char *err,
		    size_t errlen);

/* The externalAccountBinding object of a newAccount payload: a flattened JWS
 * with protected {"alg":"HS256","kid":EAB_KID,"url":URL}, the account's JWK
 * as payload, signed with HMAC-SHA256 under the decoded EAB_HMAC_KEY
 * (base64url).  NULL with the reason in err (the key is never quoted). */
json_t *acme_eab_jws(const char *eab_kid, const char *eab_hmac_key,
		     EVP_PKEY *account_key, const char *url, char *err,
		     size_t errlen);

/* Load the PEM P-256 key in PATH; when PATH does not exist, make one and
 * write it with mode 0600 (a temporary file in the same folder, fsync,
 * rename).  A key of another type, or a file readable by group or others,
 * is refused.  NULL with the reason (naming PATH) in err. */
EVP_PKEY *acme_account_key_load(const char *path, char *err, size_t errlen);

/* Write LEN bytes to PATH atomically: PATH.tmp.PID in the same folder with
 * MODE, fsync, rename over PATH, fsync the folder.  0, or -1 with the reason
 * in err (the temporary file is removed). */
int acme_write_atomic(const char *path, const void *data, size_t len, int mode,
		      char *err, size_t errlen);

#endif
