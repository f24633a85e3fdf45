/* test_runtime.c — the runtime is built from the validated model
 * (src/serve/runtime.c, src/rules/validate.c).
 *
 * The certificate files are copied to a temporary folder, validated, and
 * then replaced on disk before the runtime is built: the context must serve
 * the certificate that was judged, never the file as it is now (the window
 * between check and serve that a re-read would open).  Uses the test PKI
 * ($EDGE443_PKI).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "edge443/serve/runtime.h"
#include "edge443/rules/validate.h"

static char test_dir[256];

static void test_copy(const char *from, const char *to)
{
	char src[512], dst[512], buf[4096];
	const char *pki = getenv("EDGE443_PKI");
	FILE *in, *out;
	size_t n;

	assert_non_null(pki);
	snprintf(src, sizeof(src), "%s/%s", pki, from);
	snprintf(dst, sizeof(dst), "%s/%s", test_dir, to);
	in = fopen(src, "rb");
	assert_non_null(in);
	out = fopen(dst, "wb");
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
	assert_int_equal(chmod(dst, 0600), 0); /* keys must not be readable */
}

/* The validated model of a one-service layout whose certificate "pub" is
 * whatever pub.crt/pub.key hold now. */
static struct validated *test_validate(void)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/rt.conf", test_dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "trust_file = \"trust.pem\"\n"
		   "certificate pub {\n"
		   "  cert = \"pub.crt\"\n"
		   "  chain = \"chain.pem\"\n"
		   "  key = \"pub.key\"\n"
		   "}\n"
		   "backend b { servers = {\"127.0.0.1:9\"} }\n"
		   "service cwa {\n"
		   "  fqdn = \"cwa.example.com\"\n"
		   "  listen = \"127.0.0.1:443\"\n"
		   "  certificate = \"pub\"\n"
		   "  mode = \"terminate\"\n"
		   "  backend = \"b\"\n"
		   "  http { paths = {\"/\"} }\n"
		   "}\n");
	assert_int_equal(fclose(f), 0);
	return validate(path, time(NULL));
}

static int test_setup(void **state)
{
	(void)state;
	snprintf(test_dir, sizeof(test_dir), "/tmp/edge443-test-rt.XXXXXX");
	assert_non_null(mkdtemp(test_dir));
	test_copy("trust.pem", "trust.pem");
	test_copy("chain.pem", "chain.pem");
	test_copy("ssl1.crt", "pub.crt");
	test_copy("ssl1.key", "pub.key");
	return 0;
}

static int test_teardown(void **state)
{
	const char *files[] = {"trust.pem", "chain.pem", "pub.crt", "pub.key",
			       "rt.conf"};
	char path[512];

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", test_dir, files[i]);
		unlink(path);
	}
	rmdir(test_dir);
	return 0;
}

/* The certificate files change between the validation and the build of the
 * runtime: the runtime serves what was validated. */
static void test_serves_the_validated_objects(void **state)
{
	struct validated *v;
	struct runtime *rt;
	struct config *cfg;
	char err[1024] = "";
	X509 *judged;

	(void)state;
	v = test_validate();
	assert_non_null(v);
	if (v->result != VALIDATE_OK)
		fail_msg("the layout should validate (result %d): %s %s",
			 v->result,
			 v->findings.n ? v->findings.items[0].rule : "-",
			 v->findings.n ? v->findings.items[0].message : "");
	judged = v->certs->certs[0]->leaf;
	assert_non_null(judged);
	X509_up_ref(judged);
	/* Replaced on disk by a certificate for other names, and a broken
	 * key: a runtime that read the files again would serve the other
	 * certificate, or fail. */
	test_copy("ssl2.crt", "pub.crt");
	test_copy("garbage.pem", "pub.key");
	cfg = v->cfg;
	v->cfg = NULL;
	rt = runtime_new(cfg, v->certs, NULL, err, sizeof(err));
	validate_free(v); /* the runtime keeps its own references */
	if (!rt)
		fail_msg("runtime: %s", err);
	X509 *served = SSL_CTX_get0_certificate(rt->services[0].ctx);
	assert_non_null(served);
	assert_int_equal(X509_cmp(served, judged), 0);
	/* The Host names of the http service come from the same object. */
	bool found = false;
	for (size_t i = 0; i < rt->services[0].nnames; i++)
		if (strcmp(rt->services[0].names[i], "cwa.example.com") == 0)
			found = true;
	assert_true(found);
	assert_true(
		runtime_service_covers(&rt->services[0], "as.cwa.example.com"));
	assert_false(runtime_service_covers(&rt->services[0],
					    "webconf.example.com"));
	X509_free(judged);
	runtime_unref(rt);
}

/* validate() reports what it found: a broken file is a plan error, a
 * missing configuration is unreadable, a syntax error is a config error. */
static void test_validate_results(void **state)
{
	struct validated *v;
	char path[512];
	FILE *f;

	(void)state;
	test_copy("expired.crt", "pub.crt");
	test_copy("expired.key", "pub.key");
	v = test_validate();
	assert_non_null(v);
	assert_int_equal(v->result, VALIDATE_PLAN_ERRORS);
	assert_non_null(v->cfg);
	assert_true(v->findings.errors > 0);
	validate_free(v);
	test_copy("ssl1.crt", "pub.crt");
	test_copy("ssl1.key", "pub.key");

	/* user names nobody on this machine: check says so (user-exists),
	 * before run would bind and fail to drop privileges. */
	snprintf(path, sizeof(path), "%s/rt.conf", test_dir);
	{
		struct validated *u;
		FILE *g;
		char text[4096];
		size_t n;

		g = fopen(path, "r");
		assert_non_null(g);
		n = fread(text, 1, sizeof(text) - 1, g);
		fclose(g);
		text[n] = '\0';
		g = fopen(path, "w");
		assert_non_null(g);
		fprintf(g, "user = \"edge443-no-such-user\"\n%s", text);
		fclose(g);
		u = validate(path, time(NULL));
		assert_non_null(u);
		assert_int_equal(u->result, VALIDATE_PLAN_ERRORS);
		bool seen = false;
		for (size_t i = 0; i < u->findings.n; i++)
			if (strcmp(u->findings.items[i].rule, "user-exists") ==
				    0 &&
			    u->findings.items[i].line == 1)
				seen = true;
		assert_true(seen);
		validate_free(u);
	}

	snprintf(path, sizeof(path), "%s/missing.conf", test_dir);
	v = validate(path, time(NULL));
	assert_non_null(v);
	assert_int_equal(v->result, VALIDATE_UNREADABLE);
	assert_null(v->cfg);
	assert_non_null(v->config_errors);
	validate_free(v);

	snprintf(path, sizeof(path), "%s/rt.conf", test_dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("service {\n", f);
	fclose(f);
	v = validate(path, time(NULL));
	assert_non_null(v);
	assert_int_equal(v->result, VALIDATE_CONFIG);
	assert_non_null(strstr(v->config_errors, "rt.conf"));
	validate_free(v);
	validate_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serves_the_validated_objects),
		cmocka_unit_test(test_validate_results),
	};
	return cmocka_run_group_tests(tests, test_setup, test_teardown);
}
