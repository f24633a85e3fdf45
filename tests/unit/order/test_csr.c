/* test_csr.c — unit tests of csr.c: keys, requests, the lab CA, the files
 * written (modes, never overwriting a key), and reading requests in every
 * armour (PEM, Microsoft label, bare base64, DER), junk and tampered ones.
 * Everything is made at test time in a temporary folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "edge443/order/csr.h"
#include "edge443/order/order.h"

/* ---- fixtures --------------------------------------------------------- */

static char *t_sans1[] = {"sip.example.com", "sip.example.org",
			  "cwa.example.com"};
static char *t_sans2[] = {"webconf.example.com", "av.example.com"};
static char *t_sans3[] = {"edge01.corp.example"};
static size_t t_svc1[] = {0, 1}, t_svc2[] = {2, 3}, t_svc3[] = {4};

static struct order_cert t_certs[] = {
	{"ssl1", "sip.example.com", t_sans1, 3, false, true, t_svc1, 2, false},
	{"ssl2", "webconf.example.com", t_sans2, 2, false, false, t_svc2, 2,
	 false},
	{"int1", "edge01.corp.example", t_sans3, 1, true, false, t_svc3, 1,
	 false},
};
static struct order_plan t_plan = {t_certs, 3, 2, 1};

static struct config_service t_services[] = {
	{.name = "access"}, {.name = "cwa"},	 {.name = "webconf"},
	{.name = "av"},	    {.name = "edgeint"},
};
static struct config t_cfg = {
	.file = "test.conf", .services = t_services, .nservices = 5};

static char t_dir[256];

static int t_setup(void **state)
{
	(void)state;
	snprintf(t_dir, sizeof(t_dir), "/tmp/edge443-test-csr.XXXXXX");
	return mkdtemp(t_dir) ? 0 : -1;
}

static int t_teardown(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void t_path(char *buf, size_t len, const char *a, const char *b)
{
	snprintf(buf, len, "%s/%s/%s", t_dir, a, b);
}

static char *t_slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = calloc(1, 1 << 20);
	n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void t_spit(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static X509 *t_load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

/* The dNSNames of a certificate's SAN, comma-joined. */
static void t_cert_sans(X509 *x, char *buf, size_t len)
{
	GENERAL_NAMES *gens =
		X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);

	buf[0] = '\0';
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		int type;
		const ASN1_STRING *v = GENERAL_NAME_get0_value(
			sk_GENERAL_NAME_value(gens, i), &type);
		if (type != GEN_DNS)
			continue;
		if (buf[0])
			strncat(buf, ",", len - strlen(buf) - 1);
		strncat(buf, (const char *)ASN1_STRING_get0_data(v),
			len - strlen(buf) - 1);
	}
	GENERAL_NAMES_free(gens);
}

/* Verify LEAF to ROOT with the optional intermediate INTER. */
static int t_verify(X509 *leaf, X509 *root, X509 *inter)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	int ok;

	X509_STORE_add_cert(store, root);
	if (inter)
		sk_X509_push(untrusted, inter);
	X509_STORE_CTX_init(ctx, store, leaf, untrusted);
	ok = X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_free(untrusted);
	return ok;
}

/* ---- keys and requests ------------------------------------------------ */

static void test_key_kind_parse(void **state)
{
	enum csr_key_kind k;

	(void)state;
	assert_int_equal(csr_key_kind_parse("rsa:2048", &k), 0);
	assert_int_equal(k, CSR_KEY_RSA2048);
	assert_int_equal(csr_key_kind_parse("RSA:3072", &k), 0);
	assert_int_equal(k, CSR_KEY_RSA3072);
	assert_int_equal(csr_key_kind_parse("ec:p256", &k), 0);
	assert_int_equal(k, CSR_KEY_EC_P256);
	assert_int_equal(csr_key_kind_parse("rsa:1024", &k), -1);
	assert_int_equal(csr_key_kind_parse("dsa", &k), -1);
	assert_int_equal(csr_key_kind_parse("", &k), -1);
	assert_int_equal(csr_key_kind_parse(NULL, &k), -1);
	assert_string_equal(csr_key_kind_name(CSR_KEY_EC_P256), "ec:p256");
}

static void test_keys(void **state)
{
	char err[256];
	EVP_PKEY *k;

	(void)state;
	k = csr_key_new(CSR_KEY_RSA2048, err, sizeof(err));
	assert_non_null(k);
	assert_int_equal(EVP_PKEY_get_base_id(k), EVP_PKEY_RSA);
	assert_int_equal(EVP_PKEY_get_bits(k), 2048);
	EVP_PKEY_free(k);
	k = csr_key_new(CSR_KEY_EC_P256, err, sizeof(err));
	assert_non_null(k);
	assert_int_equal(EVP_PKEY_get_base_id(k), EVP_PKEY_EC);
	assert_int_equal(EVP_PKEY_get_bits(k), 256);
	EVP_PKEY_free(k);
}

static void test_request(void **state)
{
	char err[256];
	EVP_PKEY *key = csr_key_new(CSR_KEY_EC_P256, err, sizeof(err));
	X509_REQ *req;
	STACK_OF(X509_EXTENSION) * exts;
	GENERAL_NAMES *gens;
	EXTENDED_KEY_USAGE *eku;
	char *pem;

	(void)state;
	assert_non_null(key);
	req = csr_req_new(&t_certs[0], key, err, sizeof(err));
	assert_non_null(req);
	assert_int_equal(X509_REQ_verify(req, key), 1);
	exts = X509_REQ_get_extensions(req);
	gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	assert_non_null(gens);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 3);
	for (int i = 0; i < 3; i++) {
		int type;
		const ASN1_STRING *v = GENERAL_NAME_get0_value(
			sk_GENERAL_NAME_value(gens, i), &type);
		assert_int_equal(type, GEN_DNS);
		assert_string_equal((const char *)ASN1_STRING_get0_data(v),
				    t_sans1[i]);
	}
	eku = X509V3_get_d2i(exts, NID_ext_key_usage, NULL, NULL);
	assert_non_null(eku);
	assert_int_equal(sk_ASN1_OBJECT_num(eku), 2);
	assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)),
			 NID_server_auth);
	assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 1)),
			 NID_client_auth);
	pem = csr_req_pem(req);
	assert_non_null(pem);
	assert_true(strncmp(pem, "-----BEGIN CERTIFICATE REQUEST-----\n", 36) ==
		    0);
	assert_non_null(strstr(pem, "-----END CERTIFICATE REQUEST-----\n"));
	free(pem);
	EXTENDED_KEY_USAGE_free(eku);
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	assert_null(csr_req_new(&t_certs[0], NULL, err, sizeof(err)));
	EVP_PKEY_free(key);
}

/* ---- files ------------------------------------------------------------ */

static void test_write_out_and_force(void **state)
{
	char out[300], path[400], err[512];
	struct stat st;
	char *before, *after;
	struct csr_info *info;
	enum csr_status s;

	(void)state;
	snprintf(out, sizeof(out), "%s/out", t_dir);
	assert_int_equal(csr_write_plan(&t_cfg, &t_plan, out, NULL,
					CSR_KEY_EC_P256, false, 0, err,
					sizeof(err)),
			 CSR_OK);
	for (size_t i = 0; i < t_plan.n; i++) {
		char name[64];
		snprintf(name, sizeof(name), "%s.key", t_certs[i].name);
		t_path(path, sizeof(path), "out", name);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		snprintf(name, sizeof(name), "%s.csr", t_certs[i].name);
		t_path(path, sizeof(path), "out", name);
		info = csr_read(path, &s, err, sizeof(err));
		assert_non_null(info);
		assert_int_equal(s, CSR_OK);
		assert_true(info->sig_ok);
		assert_string_equal(info->cn, t_certs[i].cn);
		assert_int_equal(info->nsans, t_certs[i].nsans);
		assert_string_equal(info->sans[0], t_certs[i].cn);
		assert_int_equal(info->form, CSR_FORM_PEM);
		csr_info_free(info);
	}
	/* No lab files in a plain --out folder. */
	t_path(path, sizeof(path), "out", "root.pem");
	assert_int_not_equal(stat(path, &st), 0);

	t_path(path, sizeof(path), "out", "ssl1.key");
	before = t_slurp(path);
	assert_non_null(before);
	err[0] = '\0';
	assert_int_equal(csr_write_plan(&t_cfg, &t_plan, out, NULL,
					CSR_KEY_EC_P256, false, 0, err,
					sizeof(err)),
			 CSR_ERR_INPUT);
	assert_non_null(strstr(err, "ssl1.key"));
	assert_non_null(strstr(err, "--force"));
	after = t_slurp(path);
	assert_string_equal(before, after);
	free(after);
	assert_int_equal(csr_write_plan(&t_cfg, &t_plan, out, NULL,
					CSR_KEY_EC_P256, true, 0, err,
					sizeof(err)),
			 CSR_OK);
	after = t_slurp(path);
	assert_string_not_equal(before, after);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(before);
	free(after);
}

/* The first URI of the CRL distribution points of X (NID 0) or of its
 * Authority Information Access entries with method METHOD
 * (NID_ad_ca_issuers, NID_ad_OCSP), parsed back with OpenSSL, into BUF
 * ("" when there is none). */
static const char *t_ext_uri(X509 *x, int method, char *buf, size_t len)
{
	buf[0] = '\0';
	if (method == 0) {
		CRL_DIST_POINTS *cdp = X509_get_ext_d2i(
			x, NID_crl_distribution_points, NULL, NULL);
		for (int i = 0; i < sk_DIST_POINT_num(cdp) && !buf[0]; i++) {
			DIST_POINT *dp = sk_DIST_POINT_value(cdp, i);
			if (!dp->distpoint || dp->distpoint->type != 0)
				continue;
			for (int j = 0;
			     j <
			     sk_GENERAL_NAME_num(dp->distpoint->name.fullname);
			     j++) {
				GENERAL_NAME *gn = sk_GENERAL_NAME_value(
					dp->distpoint->name.fullname, j);
				if (gn->type == GEN_URI) {
					snprintf(
						buf, len, "%s",
						(const char *)ASN1_STRING_get0_data(
							gn->d.uniformResourceIdentifier));
					break;
				}
			}
		}
		CRL_DIST_POINTS_free(cdp);
		return buf;
	}
	AUTHORITY_INFO_ACCESS *aia =
		X509_get_ext_d2i(x, NID_info_access, NULL, NULL);
	for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
		ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
		if (OBJ_obj2nid(ad->method) == method &&
		    ad->location->type == GEN_URI) {
			snprintf(buf, len, "%s",
				 (const char *)ASN1_STRING_get0_data(
					 ad->location->d
						 .uniformResourceIdentifier));
			break;
		}
	}
	AUTHORITY_INFO_ACCESS_free(aia);
	return buf;
}

/* Every certificate a lab CA issues names that CA's CRL and AIA (so a lab
 * layout passes crl-dp-present and aia-present); the roots name none. */
static void t_expect_ca_urls(X509 *x, const char *ca)
{
	char buf[256], want[256];

	if (!ca) {
		assert_null(X509_get_ext_d2i(x, NID_crl_distribution_points,
					     NULL, NULL));
		assert_null(X509_get_ext_d2i(x, NID_info_access, NULL, NULL));
		return;
	}
	snprintf(want, sizeof(want), "http://pki.lab.invalid/%s.crl", ca);
	assert_string_equal(t_ext_uri(x, 0, buf, sizeof(buf)), want);
	snprintf(want, sizeof(want), "http://pki.lab.invalid/%s.crt", ca);
	assert_string_equal(t_ext_uri(x, NID_ad_ca_issuers, buf, sizeof(buf)),
			    want);
	snprintf(want, sizeof(want), "http://ocsp.lab.invalid/%s", ca);
	assert_string_equal(t_ext_uri(x, NID_ad_OCSP, buf, sizeof(buf)), want);
}

static void test_write_lab(void **state)
{
	char lab[300], path[400], err[512], sans[512];
	X509 *root, *inter, *iroot, *leaf;
	char *snippet;
	time_t now = time(NULL);

	(void)state;
	snprintf(lab, sizeof(lab), "%s/lab", t_dir);
	assert_int_equal(csr_write_plan(&t_cfg, &t_plan, NULL, lab,
					CSR_KEY_RSA2048, false, now, err,
					sizeof(err)),
			 CSR_OK);
	t_path(path, sizeof(path), "lab", "root.pem");
	root = t_load_cert(path);
	t_path(path, sizeof(path), "lab", "chain.pem");
	inter = t_load_cert(path);
	t_path(path, sizeof(path), "lab", "internal-root.pem");
	iroot = t_load_cert(path);
	assert_int_equal(X509_get_pathlen(inter), 0);
	t_expect_ca_urls(root, NULL);
	t_expect_ca_urls(iroot, NULL);
	t_expect_ca_urls(inter, "lab-root");

	for (size_t i = 0; i < t_plan.n; i++) {
		char name[64];
		const ASN1_TIME *nb, *na;
		int days, secs;
		snprintf(name, sizeof(name), "%s.crt", t_certs[i].name);
		t_path(path, sizeof(path), "lab", name);
		leaf = t_load_cert(path);
		if (t_certs[i].internal) {
			assert_int_equal(t_verify(leaf, iroot, NULL), 1);
			assert_int_not_equal(t_verify(leaf, root, inter), 1);
		} else {
			assert_int_equal(t_verify(leaf, root, inter), 1);
			assert_int_not_equal(t_verify(leaf, iroot, NULL), 1);
		}
		t_cert_sans(leaf, sans, sizeof(sans));
		assert_int_equal(
			strncmp(sans, t_certs[i].cn, strlen(t_certs[i].cn)), 0);
		assert_int_equal(X509_check_ca(leaf), 0);
		t_expect_ca_urls(leaf, t_certs[i].internal ? "lab-internal-root"
							   : "lab-int");
		assert_true(X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER);
		assert_int_equal((X509_get_extended_key_usage(leaf) &
				  XKU_SSL_CLIENT) != 0,
				 t_certs[i].client_auth);
		assert_true(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE);
		assert_true(X509_get_key_usage(leaf) & KU_KEY_ENCIPHERMENT);
		assert_int_equal(X509_get_signature_nid(leaf),
				 NID_sha256WithRSAEncryption);
		/* 90 days from now - 1 day. */
		nb = X509_get0_notBefore(leaf);
		na = X509_get0_notAfter(leaf);
		assert_int_equal(ASN1_TIME_diff(&days, &secs, nb, na), 1);
		assert_int_equal(days, 90);
		assert_int_equal(X509_cmp_time(nb, &now), -1);
		X509_free(leaf);
	}
	snippet = t_slurp(strcat(strcpy(path, lab), "/edge443.conf.snippet"));
	assert_non_null(snippet);
	assert_non_null(strstr(snippet, "certificate ssl1 {"));
	assert_non_null(strstr(snippet, "certificate int1 {"));
	assert_non_null(strstr(snippet, "/lab/ssl1.crt\""));
	assert_non_null(strstr(snippet, "/lab/chain.pem\""));
	assert_non_null(strstr(snippet, "trust_file = \""));
	assert_non_null(strstr(snippet, "internal-root.pem"));
	assert_non_null(
		strstr(snippet, "service edgeint: certificate = \"int1\""));
	assert_non_null(strstr(snippet, "ABSOLUTE"));
	free(snippet);
	X509_free(root);
	X509_free(inter);
	X509_free(iroot);

	/* The lab folder's keys are not replaced either. */
	assert_int_equal(csr_write_plan(&t_cfg, &t_plan, NULL, lab,
					CSR_KEY_RSA2048, false, now, err,
					sizeof(err)),
			 CSR_ERR_INPUT);
}

static void test_write_refusals(void **state)
{
	struct order_cert bad = t_certs[1];
	struct order_plan plan = {&bad, 1, 1, 0};
	char out[300], err[512];

	(void)state;
	snprintf(out, sizeof(out), "%s/refuse", t_dir);
	bad.name = "../escape";
	assert_int_equal(csr_write_plan(&t_cfg, &plan, out, NULL,
					CSR_KEY_EC_P256, false, 0, err,
					sizeof(err)),
			 CSR_ERR_INPUT);
	assert_non_null(strstr(err, "../escape"));
	bad.name = "ok";
	snprintf(out, sizeof(out), "%s/afile", t_dir);
	t_spit(out, "x", 1);
	assert_int_equal(csr_write_plan(&t_cfg, &plan, out, NULL,
					CSR_KEY_EC_P256, false, 0, err,
					sizeof(err)),
			 CSR_ERR_IO);
	assert_non_null(strstr(err, "afile"));
}

/* ---- reading requests ------------------------------------------------- */

/* A fresh request for ssl1 as PEM (caller frees) and DER. */
static char *t_request(unsigned char **der, int *derlen)
{
	char err[256];
	EVP_PKEY *key = csr_key_new(CSR_KEY_RSA2048, err, sizeof(err));
	X509_REQ *req = csr_req_new(&t_certs[0], key, err, sizeof(err));
	char *pem;

	assert_non_null(req);
	pem = csr_req_pem(req);
	*der = NULL;
	*derlen = i2d_X509_REQ(req, der);
	assert_true(*derlen > 0);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return pem;
}

/* Read FILE (written with DATA) and return the re-armoured PEM. */
static char *t_roundtrip(const char *name, const char *data, size_t len,
			 enum csr_form form)
{
	char path[400], err[512];
	enum csr_status s;
	struct csr_info *info;
	char *pem;

	snprintf(path, sizeof(path), "%s/%s", t_dir, name);
	t_spit(path, data, len);
	info = csr_read(path, &s, err, sizeof(err));
	if (!info)
		fail_msg("%s: %s", name, err);
	assert_int_equal(s, CSR_OK);
	assert_int_equal(info->form, form);
	assert_true(info->sig_ok);
	assert_string_equal(info->subject, "CN=sip.example.com");
	assert_int_equal(info->nsans, 3);
	assert_string_equal(info->eku, "serverAuth, clientAuth");
	assert_string_equal(info->key, "RSA-2048");
	pem = csr_req_pem(info->req);
	csr_info_free(info);
	return pem;
}

static void test_read_forms(void **state)
{
	unsigned char *der;
	int derlen;
	char *pem = t_request(&der, &derlen);
	char *bare = calloc(1, strlen(pem) + 1);
	char *oneline = calloc(1, strlen(pem) + 1);
	char *ms = calloc(1, strlen(pem) * 2 + 64);
	char *got;
	const char *p;
	size_t n;

	(void)state;
	/* bare: the lines between BEGIN and END; oneline: without newlines */
	p = strchr(pem, '\n') + 1;
	strncat(bare, p, (size_t)(strstr(pem, "-----END") - p));
	for (const char *q = bare; *q; q++)
		if (*q != '\n')
			strncat(oneline, q, 1);
	/* Microsoft: NEW CERTIFICATE REQUEST and CRLF.  Copied byte by byte
	 * (ms has room for every byte twice): strncat with a bound equal to
	 * the length of "\r\n" is what -O2's -Wstringop-overflow refuses. */
	strcat(ms, "-----BEGIN NEW CERTIFICATE REQUEST-----\r\n");
	n = strlen(ms);
	for (const char *q = bare; *q; q++) {
		if (*q == '\n')
			ms[n++] = '\r';
		ms[n++] = *q;
	}
	ms[n] = '\0';
	strcat(ms, "-----END NEW CERTIFICATE REQUEST-----\r\n");

	got = t_roundtrip("pem.csr", pem, strlen(pem), CSR_FORM_PEM);
	assert_string_equal(got, pem);
	free(got);
	got = t_roundtrip("bare.txt", bare, strlen(bare), CSR_FORM_BARE);
	assert_string_equal(got, pem);
	free(got);
	got = t_roundtrip("oneline.txt", oneline, strlen(oneline),
			  CSR_FORM_BARE);
	assert_string_equal(got, pem);
	free(got);
	got = t_roundtrip("ms.req", ms, strlen(ms), CSR_FORM_PEM_MS);
	assert_string_equal(got, pem);
	free(got);
	got = t_roundtrip("req.der", (const char *)der, (size_t)derlen,
			  CSR_FORM_DER);
	assert_string_equal(got, pem);
	free(got);

	OPENSSL_free(der);
	free(pem);
	free(bare);
	free(oneline);
	free(ms);
}

static void test_read_junk(void **state)
{
	static const struct {
		const char *name;
		const char *data;
		size_t len;
		enum csr_status want;
		const char *says;
	} cases[] = {
		{"empty.csr", "", 0, CSR_ERR_INPUT, "empty"},
		{"space.csr", " \n\n ", 0, CSR_ERR_INPUT, "empty"},
		{"letter.txt", "Dear CA, please sign.\n", 0, CSR_ERR_INPUT,
		 "not a certificate request"},
		{"short.txt", "aGVsbG8gd29ybGQ=\n", 0, CSR_ERR_INPUT,
		 "too short"},
		{"bin.der", "\x30\x82\x01\x00\x00\x01", 6, CSR_ERR_INPUT,
		 "not a DER certificate request"},
		{"badpem.csr",
		 "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END "
		 "CERTIFICATE REQUEST-----\n",
		 0, CSR_ERR_INPUT, "no readable certificate request"},
		{"cert.pem",
		 "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END "
		 "CERTIFICATE-----\n",
		 0, CSR_ERR_INPUT, "\"CERTIFICATE\""},
		{"b64junk.txt",
		 "VGhpcyBpcyBub3QgREVSIGF0IGFsbCwganVzdCBzb21lIHRleHQgdGhhdCBp"
		 "cyBsb25nIGVub3VnaC4uLi4u\n",
		 0, CSR_ERR_INPUT, "not a certificate request"},
	};
	char path[400], err[512];
	enum csr_status s;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", t_dir, cases[i].name);
		t_spit(path, cases[i].data,
		       cases[i].len ? cases[i].len : strlen(cases[i].data));
		err[0] = '\0';
		assert_null(csr_read(path, &s, err, sizeof(err)));
		if (s != cases[i].want || !strstr(err, cases[i].name) ||
		    !strstr(err, cases[i].says))
			fail_msg("%s: status %d, message: %s", cases[i].name,
				 (int)s, err);
	}
	snprintf(path, sizeof(path), "%s/no-such.csr", t_dir);
	assert_null(csr_read(path, &s, err, sizeof(err)));
	assert_int_equal(s, CSR_ERR_IO);
	assert_non_null(strstr(err, "no-such.csr"));
	assert_null(csr_read(t_dir, &s, err, sizeof(err)));
	assert_int_equal(s, CSR_ERR_IO);
}

static void test_read_tampered(void **state)
{
	unsigned char *der;
	int derlen;
	char *pem = t_request(&der, &derlen);
	char path[400], err[512];
	enum csr_status s;
	struct csr_info *info;

	(void)state;
	der[derlen - 1] ^= 0xff;
	snprintf(path, sizeof(path), "%s/tampered.der", t_dir);
	t_spit(path, der, (size_t)derlen);
	info = csr_read(path, &s, err, sizeof(err));
	assert_non_null(info);
	assert_int_equal(s, CSR_ERR_VERIFY);
	assert_false(info->sig_ok);
	assert_non_null(strstr(err, "tampered.der"));
	assert_non_null(strstr(err, "does not verify"));
	csr_info_free(info);
	csr_info_free(NULL);
	OPENSSL_free(der);
	free(pem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_kind_parse),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_write_out_and_force),
		cmocka_unit_test(test_write_lab),
		cmocka_unit_test(test_write_refusals),
		cmocka_unit_test(test_read_forms),
		cmocka_unit_test(test_read_junk),
		cmocka_unit_test(test_read_tampered),
	};
	return cmocka_run_group_tests(tests, t_setup, t_teardown);
}
