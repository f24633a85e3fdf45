/* test_acme.c — the ACME client's pieces that need no CA: base64url, the
 * RFC 7638 thumbprint (its own test vector), key authorizations, ES256 JWS
 * verified with OpenSSL, the EAB inner JWS, the tls-alpn-01 certificate and
 * its acmeIdentifier extension, the parsing of directory, order,
 * authorization and problem documents, Retry-After and the poll delays, the
 * account key file.  The protocol against a real CA is
 * tests/integration/test_acme.py (pebble).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "edge443/order/acme.h"
#include "edge443/order/acme_alpn.h"
#include "edge443/order/acme_ari.h"
#include "edge443/order/acme_http.h"
#include "edge443/order/acme_jws.h"
#include "edge443/order/acme_respond.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

static char t_dir[] = "/tmp/test_acme.XXXXXX";

static int t_setup(void **state)
{
	(void)state;
	return mkdtemp(t_dir) ? 0 : -1;
}

static int t_teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The decoded base64url S; fails the test when it does not decode. */
static unsigned char *t_unb64(const char *s, size_t *len)
{
	unsigned char *out = acme_b64url_decode(s, len);

	if (!out)
		fail_msg("not base64url: %s", s);
	return out;
}

static json_t *t_json_b64(const char *s)
{
	size_t len;
	unsigned char *raw = t_unb64(s, &len);
	json_t *j = json_loadb((const char *)raw, len, 0, NULL);

	free(raw);
	assert_non_null(j);
	return j;
}

static EVP_PKEY *t_p256(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	assert_non_null(k);
	return k;
}

static void test_b64url(void **state)
{
	static const struct {
		const char *raw, *enc;
	} v[] = {
		/* RFC 4648 section 10, without padding */
		{"", ""},
		{"f", "Zg"},
		{"fo", "Zm8"},
		{"foo", "Zm9v"},
		{"foob", "Zm9vYg"},
		{"fooba", "Zm9vYmE"},
		{"foobar", "Zm9vYmFy"},
		/* the two letters of the URL alphabet */
		{"\xfb\xff", "-_8"},
	};
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *e = acme_b64url((const unsigned char *)v[i].raw,
				      strlen(v[i].raw));
		unsigned char *d;

		assert_string_equal(e, v[i].enc);
		d = acme_b64url_decode(v[i].enc, &len);
		assert_non_null(d);
		assert_int_equal(len, strlen(v[i].raw));
		assert_memory_equal(d, v[i].raw, len);
		free(e);
		free(d);
	}
	/* padding, the standard alphabet, a stray byte: refused */
	assert_null(acme_b64url_decode("Zg==", &len));
	assert_null(acme_b64url_decode("+/8", &len));
	assert_null(acme_b64url_decode("Zm9v\n", &len));
	assert_null(acme_b64url_decode("Z", &len));
}

/* RFC 7638 section 3.1: the RSA key and its thumbprint. */
static void test_thumbprint_rfc7638(void **state)
{
	static const char n64[] =
		"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT8"
		"6zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W"
		"-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY36"
		"8QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08q"
		"NLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0L"
		"s1jF44-csFCur-kEgU8awapJzKnqDKgw";
	size_t nlen, elen;
	unsigned char *n = t_unb64(n64, &nlen), *e = t_unb64("AQAB", &elen);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL);
	BIGNUM *be = BN_bin2bn(e, (int)elen, NULL);
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *key = NULL;
	char *tp, *ka;

	(void)state;
	assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn));
	assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be));
	params = OSSL_PARAM_BLD_to_param(bld);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(
		EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params), 1);
	tp = acme_jwk_thumbprint(key);
	assert_string_equal(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	/* RFC 8555 section 8.1: token "." thumbprint */
	ka = acme_key_authorization("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92w"
				    "r-oA",
				    key);
	assert_string_equal(ka, "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA."
				"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	free(ka);
	free(tp);
	EVP_PKEY_free(key);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	free(n);
	free(e);
}

/* The EC JWK: crv, kty, x, y (32 bytes each), and a thumbprint over
 * exactly those members, sorted. */
static void test_jwk_ec(void **state)
{
	EVP_PKEY *k = t_p256();
	json_t *jwk = acme_jwk(k);
	char *text = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
	unsigned char md[32];
	unsigned int mdlen;
	char *want, *tp;
	size_t len;
	unsigned char *x;

	(void)state;
	assert_string_equal(json_string_value(json_object_get(jwk, "crv")),
			    "P-256");
	assert_string_equal(json_string_value(json_object_get(jwk, "kty")),
			    "EC");
	assert_int_equal(json_object_size(jwk), 4);
	x = t_unb64(json_string_value(json_object_get(jwk, "x")), &len);
	assert_int_equal(len, 32);
	free(x);
	assert_memory_equal(text,
			    "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":", 30);
	EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL);
	want = acme_b64url(md, mdlen);
	tp = acme_jwk_thumbprint(k);
	assert_string_equal(tp, want);
	free(want);
	free(tp);
	free(text);
	json_decref(jwk);
	EVP_PKEY_free(k);
}

/* Verify the ES256 JWS TEXT with KEY: r || s back to DER, then
 * EVP_DigestVerify over "protected.payload".  Returns the protected
 * header (the caller decrefs). */
static json_t *t_verify_es256(const char *text, EVP_PKEY *key)
{
	json_t *jws = json_loads(text, 0, NULL);
	const char *p64 = json_string_value(json_object_get(jws, "protected"));
	const char *y64 = json_string_value(json_object_get(jws, "payload"));
	const char *s64 = json_string_value(json_object_get(jws, "signature"));
	size_t slen;
	unsigned char *sig, *der = NULL;
	ECDSA_SIG *es = ECDSA_SIG_new();
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char input[8192];
	int derlen;
	json_t *prot;

	assert_non_null(jws);
	assert_int_equal(json_object_size(jws), 3);
	assert_non_null(p64);
	assert_non_null(y64);
	sig = t_unb64(s64, &slen);
	assert_int_equal(slen, 64);
	assert_int_equal(ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL),
					BN_bin2bn(sig + 32, 32, NULL)),
			 1);
	derlen = i2d_ECDSA_SIG(es, &der);
	assert_true(derlen > 0);
	snprintf(input, sizeof(input), "%s.%s", p64, y64);
	assert_int_equal(
		EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestVerify(md, der, (size_t)derlen,
					  (unsigned char *)input,
					  strlen(input)),
			 1);
	prot = t_json_b64(p64);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(md);
	free(sig);
	json_decref(jws);
	return prot;
}

static void test_jws_es256(void **state)
{
	EVP_PKEY *k = t_p256(), *other = t_p256();
	char err[256];
	char *jws = acme_jws_sign(k, NULL, "nonce-1", "https://ca/new-acct",
				  "{\"termsOfServiceAgreed\":true}", err,
				  sizeof(err));
	json_t *prot, *jwk, *j;
	const char *pay;
	size_t len;
	unsigned char *raw;

	(void)state;
	assert_non_null(jws);
	prot = t_verify_es256(jws, k);
	assert_string_equal(json_string_value(json_object_get(prot, "alg")),
			    "ES256");
	assert_string_equal(json_string_value(json_object_get(prot, "nonce")),
			    "nonce-1");
	assert_string_equal(json_string_value(json_object_get(prot, "url")),
			    "https://ca/new-acct");
	assert_null(json_object_get(prot, "kid"));
	jwk = acme_jwk(k);
	assert_true(json_equal(json_object_get(prot, "jwk"), jwk));
	j = json_loads(jws, 0, NULL);
	pay = json_string_value(json_object_get(j, "payload"));
	raw = t_unb64(pay, &len);
	assert_string_equal((char *)raw, "{\"termsOfServiceAgreed\":true}");
	free(raw);
	json_decref(j);
	json_decref(jwk);
	json_decref(prot);
	free(jws);

	/* with a kid, POST-as-GET: no jwk, empty payload */
	jws = acme_jws_sign(k, "https://ca/acct/1", "n2", "https://ca/order/7",
			    NULL, err, sizeof(err));
	assert_non_null(jws);
	prot = t_verify_es256(jws, k);
	assert_string_equal(json_string_value(json_object_get(prot, "kid")),
			    "https://ca/acct/1");
	assert_null(json_object_get(prot, "jwk"));
	j = json_loads(jws, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "payload")),
			    "");
	json_decref(j);
	json_decref(prot);
	free(jws);

	/* an RSA key is no ES256 key */
	EVP_PKEY_free(other);
	other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	assert_null(
		acme_jws_sign(other, NULL, "n", "u", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "P-256"));
	EVP_PKEY_free(other);
	EVP_PKEY_free(k);
}

/* RFC 8555 section 7.3.4: HS256 over the account's JWK, the kid and the
 * newAccount URL in the protected header, no nonce. */
static void test_eab(void **state)
{
	static const char key64[] =
		"zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG";
	EVP_PKEY *k = t_p256();
	char err[256], input[8192];
	json_t *eab = acme_eab_jws("kid-1", key64, k, "https://ca/new-acct",
				   err, sizeof(err));
	json_t *prot, *pay, *jwk;
	unsigned char *mac_key, mac[32], *sig;
	size_t keylen, maclen = 0, siglen;

	(void)state;
	assert_non_null(eab);
	prot = t_json_b64(json_string_value(json_object_get(eab, "protected")));
	assert_string_equal(json_string_value(json_object_get(prot, "alg")),
			    "HS256");
	assert_string_equal(json_string_value(json_object_get(prot, "kid")),
			    "kid-1");
	assert_string_equal(json_string_value(json_object_get(prot, "url")),
			    "https://ca/new-acct");
	assert_null(json_object_get(prot, "nonce"));
	pay = t_json_b64(json_string_value(json_object_get(eab, "payload")));
	jwk = acme_jwk(k);
	assert_true(json_equal(pay, jwk));
	snprintf(input, sizeof(input), "%s.%s",
		 json_string_value(json_object_get(eab, "protected")),
		 json_string_value(json_object_get(eab, "payload")));
	mac_key = t_unb64(key64, &keylen);
	assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, mac_key,
				  keylen, (unsigned char *)input, strlen(input),
				  mac, sizeof(mac), &maclen));
	sig = t_unb64(json_string_value(json_object_get(eab, "signature")),
		      &siglen);
	assert_int_equal(siglen, 32);
	assert_memory_equal(sig, mac, 32);
	free(sig);
	free(mac_key);
	json_decref(jwk);
	json_decref(pay);
	json_decref(prot);
	json_decref(eab);

	/* a key that is not base64url: refused, and not quoted */
	assert_null(
		acme_eab_jws("kid-1", "sec+ret==", k, "u", err, sizeof(err)));
	assert_null(strstr(err, "sec+ret"));
	EVP_PKEY_free(k);
}

/* RFC 8737 section 3: one dNSName, the critical acmeIdentifier holding the
 * DER OCTET STRING of SHA-256(key authorization). */
static void test_alpn_cert(void **state)
{
	EVP_PKEY *k = t_p256();
	char err[256];
	const char *ka = "token.thumbprint";
	X509 *x =
		acme_alpn_cert_new("sip.example.com", ka, k, err, sizeof(err));
	ASN1_OBJECT *oid = OBJ_txt2obj(ACME_ALPN_OID, 1);
	X509_EXTENSION *ext;
	const ASN1_OCTET_STRING *data;
	const unsigned char *p;
	ASN1_OCTET_STRING *inner;
	unsigned char md[32];
	unsigned int mdlen;
	GENERAL_NAMES *gens;
	int idx;

	(void)state;
	assert_non_null(x);
	idx = X509_get_ext_by_OBJ(x, oid, -1);
	assert_true(idx >= 0);
	ext = X509_get_ext(x, idx);
	assert_int_equal(X509_EXTENSION_get_critical(ext), 1);
	data = X509_EXTENSION_get_data(ext);
	p = ASN1_STRING_get0_data(data);
	inner = d2i_ASN1_OCTET_STRING(NULL, &p, ASN1_STRING_length(data));
	assert_non_null(inner);
	/* the whole value is the one OCTET STRING */
	assert_ptr_equal(p, ASN1_STRING_get0_data(data) +
				    ASN1_STRING_length(data));
	EVP_Digest(ka, strlen(ka), md, &mdlen, EVP_sha256(), NULL);
	assert_int_equal(ASN1_STRING_length(inner), 32);
	assert_memory_equal(ASN1_STRING_get0_data(inner), md, 32);
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 1);
	{
		int type;
		ASN1_IA5STRING *dns = GENERAL_NAME_get0_value(
			sk_GENERAL_NAME_value(gens, 0), &type);
		assert_int_equal(type, GEN_DNS);
		assert_string_equal((const char *)ASN1_STRING_get0_data(dns),
				    "sip.example.com");
	}
	assert_int_equal(X509_verify(x, k), 1);
	GENERAL_NAMES_free(gens);
	ASN1_OCTET_STRING_free(inner);
	ASN1_OBJECT_free(oid);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void test_parse_directory(void **state)
{
	struct acme_directory d;
	char err[256];

	(void)state;
	assert_int_equal(
		acme_directory_parse(
			"{\"newNonce\":\"https://ca/nonce\",\"newAccount\":"
			"\"https://ca/acct\",\"newOrder\":\"https://ca/order\","
			"\"renewalInfo\":\"https://ca/ari\",\"meta\":{"
			"\"termsOfService\":\"https://ca/tos\","
			"\"externalAccountRequired\":true}}",
			&d, err, sizeof(err)),
		0);
	assert_string_equal(d.new_nonce, "https://ca/nonce");
	assert_string_equal(d.new_account, "https://ca/acct");
	assert_string_equal(d.new_order, "https://ca/order");
	assert_string_equal(d.renewal_info, "https://ca/ari");
	assert_string_equal(d.terms, "https://ca/tos");
	assert_true(d.eab_required);
	acme_directory_clear(&d);

	assert_int_equal(acme_directory_parse("{\"newNonce\":\"x\"}", &d, err,
					      sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "lacks newNonce, newAccount or newOrder"));
	assert_int_equal(acme_directory_parse("<html>", &d, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "not a JSON object"));
	assert_int_equal(acme_directory_parse("[1]", &d, err, sizeof(err)), -1);
}

static void test_parse_order_authz(void **state)
{
	struct acme_order o;
	struct acme_authz a;
	char err[256];
	char *p;

	(void)state;
	assert_int_equal(
		acme_order_parse("{\"status\":\"pending\",\"identifiers\":[],"
				 "\"authorizations\":[\"https://ca/a/1\","
				 "\"https://ca/a/2\"],\"finalize\":"
				 "\"https://ca/f/1\"}",
				 &o, err, sizeof(err)),
		0);
	assert_int_equal(o.status, ACME_STATUS_PENDING);
	assert_int_equal(o.nauthorizations, 2);
	assert_string_equal(o.authorizations[1], "https://ca/a/2");
	assert_string_equal(o.finalize, "https://ca/f/1");
	assert_null(o.certificate);
	acme_order_clear(&o);

	assert_int_equal(
		acme_order_parse(
			"{\"status\":\"invalid\",\"authorizations\":[],"
			"\"finalize\":\"f\",\"error\":{\"type\":\"urn:ietf:"
			"params:acme:error:unauthorized\",\"detail\":\"no\"}}",
			&o, err, sizeof(err)),
		0);
	assert_int_equal(o.status, ACME_STATUS_INVALID);
	assert_string_equal(o.error, "acme:unauthorized: no");
	acme_order_clear(&o);
	assert_int_equal(acme_order_parse("{\"status\":\"valid\"}", &o, err,
					  sizeof(err)),
			 -1);
	assert_int_equal(acme_order_parse("{\"status\":\"sleepy\","
					  "\"authorizations\":[],"
					  "\"finalize\":\"f\"}",
					  &o, err, sizeof(err)),
			 -1);

	assert_int_equal(
		acme_authz_parse(
			"{\"status\":\"pending\",\"identifier\":{\"type\":"
			"\"dns\",\"value\":\"sip.example.com\"},\"challenges\":"
			"[{\"type\":\"http-01\",\"url\":\"https://ca/c/1\","
			"\"token\":\"t1\",\"status\":\"pending\"},{\"type\":"
			"\"tls-alpn-01\",\"url\":\"https://ca/c/2\",\"token\":"
			"\"t2\",\"status\":\"invalid\",\"error\":{\"type\":"
			"\"urn:ietf:params:acme:error:connection\","
			"\"detail\":\"refused\"}}]}",
			&a, err, sizeof(err)),
		0);
	assert_int_equal(a.status, ACME_STATUS_PENDING);
	assert_string_equal(a.identifier, "sip.example.com");
	assert_int_equal(a.nchallenges, 2);
	assert_string_equal(a.challenges[1].type, "tls-alpn-01");
	assert_string_equal(a.challenges[1].token, "t2");
	assert_int_equal(a.challenges[1].status, ACME_STATUS_INVALID);
	assert_string_equal(a.error, "acme:connection: refused");
	acme_authz_clear(&a);
	assert_int_equal(acme_authz_parse("{\"status\":\"valid\"}", &a, err,
					  sizeof(err)),
			 -1);

	p = acme_problem_text("{\"type\":\"urn:ietf:params:acme:error:"
			      "badNonce\",\"detail\":\"stale\"}");
	assert_string_equal(p, "acme:badNonce: stale");
	free(p);
	p = acme_problem_text("{\"type\":\"about:blank\",\"detail\":\"x\"}");
	assert_string_equal(p, "about:blank: x");
	free(p);
	assert_null(acme_problem_text("not json"));
	assert_null(acme_problem_text(NULL));
	assert_int_equal(acme_status_parse("ready"), ACME_STATUS_READY);
	assert_int_equal(acme_status_parse("processing"),
			 ACME_STATUS_PROCESSING);
	assert_int_equal(acme_status_parse(NULL), ACME_STATUS_UNKNOWN);
}

static void test_retry_after(void **state)
{
	time_t now = 1800000000; /* 2027-01-15T08:00:00Z */

	(void)state;
	assert_int_equal(acme_retry_after("120", now), 120);
	assert_int_equal(acme_retry_after("0", now), 0);
	/* an HTTP-date, 90 seconds ahead; and one in the past */
	assert_int_equal(acme_retry_after("Fri, 15 Jan 2027 08:01:30 GMT", now),
			 90);
	assert_int_equal(acme_retry_after("Fri, 15 Jan 2027 07:00:00 GMT", now),
			 0);
	assert_int_equal(acme_retry_after("soon", now), -1);
	assert_int_equal(acme_retry_after("-5", now), -1);
	assert_int_equal(acme_retry_after("12x", now), -1);
	assert_int_equal(acme_retry_after(NULL, now), -1);
	assert_int_equal(acme_retry_after("", now), -1);

	/* the poll delay: Retry-After cut to 1..ACME_POLL_MAX_WAIT, else
	 * 1, 2, 4, 8, 8, ... */
	assert_int_equal(acme_poll_delay("5", now, 0), 5);
	assert_int_equal(acme_poll_delay("0", now, 3), 1);
	assert_int_equal(acme_poll_delay("86400", now, 0), ACME_POLL_MAX_WAIT);
	assert_int_equal(acme_poll_delay(NULL, now, 0), 1);
	assert_int_equal(acme_poll_delay(NULL, now, 1), 2);
	assert_int_equal(acme_poll_delay(NULL, now, 2), 4);
	assert_int_equal(acme_poll_delay("junk", now, 3), 8);
	assert_int_equal(acme_poll_delay(NULL, now, 40), 8);
}

/* renew_before in days, or a third of the lifetime. */
static void test_renew_window(void **state)
{
	time_t nb = 1800000000, day = 86400;

	(void)state;
	assert_int_equal(acme_renew_window(nb, nb + 90 * day, 0), 30 * day);
	assert_int_equal(acme_renew_window(nb, nb + 90 * day, 20), 20 * day);
	assert_int_equal(acme_renew_window(nb, nb + 47 * day, 0), 47 * day / 3);
	assert_int_equal(acme_renew_window(nb, nb, 0), 0);
	assert_int_equal(acme_renew_window(nb, nb - day, 0), 0);
}

static void test_account_key(void **state)
{
	char path[512], err[512], *tp1, *tp2;
	struct stat st;
	EVP_PKEY *k;

	(void)state;
	snprintf(path, sizeof(path), "%s/account.key", t_dir);
	k = acme_account_key_load(path, err, sizeof(err));
	if (!k)
		fail_msg("%s", err);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	tp1 = acme_jwk_thumbprint(k);
	EVP_PKEY_free(k);
	/* loaded again: the same key */
	k = acme_account_key_load(path, err, sizeof(err));
	assert_non_null(k);
	tp2 = acme_jwk_thumbprint(k);
	assert_string_equal(tp1, tp2);
	EVP_PKEY_free(k);
	/* readable by others: refused */
	assert_int_equal(chmod(path, 0644), 0);
	assert_null(acme_account_key_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, "chmod 600"));
	free(tp1);
	free(tp2);
}

static void test_write_atomic(void **state)
{
	char path[512], err[512], buf[64] = "";
	struct stat st;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/f.pem", t_dir);
	assert_int_equal(
		acme_write_atomic(path, "one\n", 4, 0644, err, sizeof(err)), 0);
	assert_int_equal(
		acme_write_atomic(path, "two\n", 4, 0600, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "two\n");
	snprintf(path, sizeof(path), "%s/no/such/folder/f.pem", t_dir);
	assert_int_equal(
		acme_write_atomic(path, "x", 1, 0600, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot write"));
}

/* A free loopback port, as a config_addr (text owned by the caller). */
static void t_free_addr(struct config_addr *a)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	char text[64], err[128];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	snprintf(text, sizeof(text), "127.0.0.1:%d", ntohs(sin.sin_port));
	assert_int_equal(config_addr_parse(text, a, err, sizeof(err)), 0);
}

static int t_connect(const struct config_addr *a)
{
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_int_equal(connect(fd, (const struct sockaddr *)&a->sa, a->salen),
			 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* A TLS client to A with SNI and ALPN (NULL: none offered): the
 * certificate served, or NULL when the handshake fails. */
static X509 *t_alpn_client(const struct config_addr *a, const char *sni,
			   const char *alpn)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	unsigned char wire[64];
	SSL *ssl = SSL_new(ctx);
	int fd = t_connect(a);
	X509 *x = NULL;

	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, sni);
	if (alpn) {
		wire[0] = (unsigned char)strlen(alpn);
		memcpy(wire + 1, alpn, strlen(alpn));
		SSL_set_alpn_protos(ssl, wire, (unsigned)strlen(alpn) + 1);
	}
	if (SSL_connect(ssl) == 1) {
		const unsigned char *sel;
		unsigned int sellen;

		SSL_get0_alpn_selected(ssl, &sel, &sellen);
		assert_int_equal(sellen, strlen(ACME_ALPN_PROTO));
		assert_memory_equal(sel, ACME_ALPN_PROTO, sellen);
		x = SSL_get1_peer_certificate(ssl);
	}
	ERR_clear_error();
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return x;
}

/* The tls-alpn-01 responder: acme-tls/1 and the SNI name pick the
 * challenge certificate; another name, or no acme-tls/1, gets nothing. */
static void test_responder_alpn(void **state)
{
	char err[256];
	struct config_addr a = {0};
	struct acme_responder *r =
		acme_responder_new(CONFIG_ACME_TLS_ALPN_01, err, sizeof(err));
	X509 *x;
	GENERAL_NAMES *gens;
	ASN1_OBJECT *oid = OBJ_txt2obj(ACME_ALPN_OID, 1);

	(void)state;
	assert_non_null(r);
	t_free_addr(&a);
	assert_int_equal(acme_responder_listen(r, &a, err, sizeof(err)), 0);
	/* the same address twice is one listener */
	assert_int_equal(acme_responder_listen(r, &a, err, sizeof(err)), 0);
	assert_int_equal(acme_responder_add(r, "a.example.com", "ta", "ta.tp",
					    err, sizeof(err)),
			 0);
	assert_int_equal(acme_responder_add(r, "b.example.com", "tb", "tb.tp",
					    err, sizeof(err)),
			 0);
	assert_int_equal(acme_responder_start(r, err, sizeof(err)), 0);

	x = t_alpn_client(&a, "b.example.com", ACME_ALPN_PROTO);
	assert_non_null(x);
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	{
		int type;
		ASN1_IA5STRING *dns = GENERAL_NAME_get0_value(
			sk_GENERAL_NAME_value(gens, 0), &type);
		assert_string_equal((const char *)ASN1_STRING_get0_data(dns),
				    "b.example.com");
	}
	assert_true(X509_get_ext_by_OBJ(x, oid, -1) >= 0);
	GENERAL_NAMES_free(gens);
	X509_free(x);
	assert_null(t_alpn_client(&a, "c.example.com", ACME_ALPN_PROTO));
	assert_null(t_alpn_client(&a, "a.example.com", "http/1.1"));
	assert_null(t_alpn_client(&a, "a.example.com", NULL));
	acme_responder_stop(r);
	acme_responder_stop(r);
	acme_responder_free(r);
	ASN1_OBJECT_free(oid);
	free(a.text);
}

static void t_http_get(const struct config_addr *a, const char *req, char *buf,
		       size_t len)
{
	int fd = t_connect(a);
	size_t used = 0;
	ssize_t n;

	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	while (used + 1 < len &&
	       (n = recv(fd, buf + used, len - 1 - used, 0)) > 0)
		used += (size_t)n;
	buf[used] = '\0';
	close(fd);
}

/* The http-01 responder: the key authorization at its token, 404 for
 * anything else; a busy address is refused with what to do. */
static void test_responder_http(void **state)
{
	char err[256], buf[2048];
	struct config_addr a = {0};
	struct acme_responder *r =
		acme_responder_new(CONFIG_ACME_HTTP_01, err, sizeof(err));
	struct acme_responder *r2 =
		acme_responder_new(CONFIG_ACME_HTTP_01, err, sizeof(err));

	(void)state;
	assert_non_null(r);
	t_free_addr(&a);
	assert_int_equal(acme_responder_listen(r, &a, err, sizeof(err)), 0);
	assert_int_equal(acme_responder_listen(r2, &a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is edge443 running?"));
	acme_responder_free(r2);
	assert_int_equal(acme_responder_add(r, "a.example.com", "tok-1",
					    "tok-1.thumb", err, sizeof(err)),
			 0);
	assert_int_equal(acme_responder_start(r, err, sizeof(err)), 0);
	t_http_get(&a,
		   "GET /.well-known/acme-challenge/tok-1 HTTP/1.1\r\nHost: "
		   "a.example.com\r\n\r\n",
		   buf, sizeof(buf));
	assert_memory_equal(buf, "HTTP/1.1 200 OK\r\n", 17);
	assert_non_null(strstr(buf, "\r\n\r\ntok-1.thumb"));
	t_http_get(&a, "GET /.well-known/acme-challenge/tok-2 HTTP/1.1\r\n\r\n",
		   buf, sizeof(buf));
	assert_memory_equal(buf, "HTTP/1.1 404 ", 13);
	t_http_get(&a, "GET / HTTP/1.1\r\n\r\n", buf, sizeof(buf));
	assert_memory_equal(buf, "HTTP/1.1 404 ", 13);
	acme_responder_free(r);
	free(a.text);
}

/* ---- ACME Renewal Information (RFC 9773) ----------------------------------
 */

/* A certificate with serial 0x0087654321 and the Authority Key Identifier
 * 69:88:5B:...:D4 of the RFC's example; with AKI false, none. */
static X509 *ari_cert(bool aki)
{
	static const unsigned char keyid[20] = {
		0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
		0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4};
	X509 *x = X509_new();
	BIGNUM *bn = NULL;
	ASN1_INTEGER *serial;

	assert_non_null(x);
	assert_true(BN_hex2bn(&bn, "87654321") > 0);
	serial = BN_to_ASN1_INTEGER(bn, NULL);
	assert_non_null(serial);
	assert_int_equal(X509_set_serialNumber(x, serial), 1);
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	if (aki) {
		AUTHORITY_KEYID *ak = AUTHORITY_KEYID_new();

		assert_non_null(ak);
		ak->keyid = ASN1_OCTET_STRING_new();
		assert_non_null(ak->keyid);
		assert_int_equal(
			ASN1_OCTET_STRING_set(ak->keyid, keyid, sizeof(keyid)),
			1);
		assert_int_equal(X509_add1_ext_i2d(x,
						   NID_authority_key_identifier,
						   ak, 0, X509V3_ADD_DEFAULT),
				 1);
		AUTHORITY_KEYID_free(ak);
	}
	return x;
}

static void test_ari(void **state)
{
	X509 *x = ari_cert(true), *none = ari_cert(false);
	char *id = acme_ari_cert_id(x), err[256];
	time_t start = 0, end = 0;

	(void)state;
	/* RFC 9773 section 4.1's example: the leading zero of the serial's
	 * DER content is kept. */
	assert_non_null(id);
	assert_string_equal(id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
	free(id);
	assert_null(acme_ari_cert_id(none));
	X509_free(x);
	X509_free(none);

	assert_int_equal(
		acme_ari_parse("{\"suggestedWindow\": {\"start\": "
			       "\"2027-01-02T04:00:00Z\", \"end\": "
			       "\"2027-01-03T04:00:00.123+02:00\"}, "
			       "\"explanationURL\": \"https://ca/why\"}",
			       &start, &end, err, sizeof(err)),
		0);
	assert_int_equal(start, 1798862400);	   /* 2027-01-02T04:00:00Z */
	assert_int_equal(end, 1798862400 + 79200); /* +1 d - 2 h */
	assert_int_equal(acme_ari_parse("{\"suggestedWindow\": {\"start\": "
					"\"2027-01-03T00:00:00Z\", \"end\": "
					"\"2027-01-02T00:00:00Z\"}}",
					&start, &end, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "ends before it starts"));
	assert_int_equal(acme_ari_parse("{}", &start, &end, err, sizeof(err)),
			 -1);
	assert_int_equal(acme_ari_parse("nope", &start, &end, err, sizeof(err)),
			 -1);

	/* A uniformly random point of the window; at once when it is past. */
	assert_int_equal(acme_ari_pick(1000, 2000, 500, 0), 1000);
	assert_int_equal(acme_ari_pick(1000, 2000, 500, 999), 1999);
	assert_int_equal(acme_ari_pick(1000, 2000, 500, 1000), 1000);
	assert_int_equal(acme_ari_pick(1000, 2000, 1500, 100), 1500);
	assert_int_equal(acme_ari_pick(1000, 2000, 3000, 7), 3000);
	for (unsigned long r = 0; r < 5000; r += 37) {
		time_t t = acme_ari_pick(1000, 2000, 0, r * 7919);
		assert_true(t >= 1000 && t < 2000);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64url),
		cmocka_unit_test(test_thumbprint_rfc7638),
		cmocka_unit_test(test_jwk_ec),
		cmocka_unit_test(test_jws_es256),
		cmocka_unit_test(test_eab),
		cmocka_unit_test(test_alpn_cert),
		cmocka_unit_test(test_parse_directory),
		cmocka_unit_test(test_parse_order_authz),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_renew_window),
		cmocka_unit_test(test_ari),
		cmocka_unit_test(test_account_key),
		cmocka_unit_test(test_write_atomic),
		cmocka_unit_test(test_responder_alpn),
		cmocka_unit_test(test_responder_http),
	};

	return cmocka_run_group_tests(tests, t_setup, t_teardown);
}
