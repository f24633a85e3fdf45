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

#include "edge443/cert/ticket_file.h"
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
	const char *files[] = {"trust.pem",	  "chain.pem", "pub.crt",
			       "pub.key",	  "rt.conf",   "rt2.conf",
			       "internal-ca.crt", "t.keys"};
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
	rt = runtime_new(cfg, v->certs, v->backend_trust, NULL, err,
			 sizeof(err));
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

/* A validated model with BACKEND (a backend section named "b") and GLOBAL
 * (global settings) in place of the plain ones. */
static struct validated *test_validate_with(const char *global,
					    const char *backend)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/rt2.conf", test_dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
		"trust_file = \"trust.pem\"\n%s"
		"certificate pub {\n"
		"  cert = \"pub.crt\"\n"
		"  chain = \"chain.pem\"\n"
		"  key = \"pub.key\"\n"
		"}\n%s"
		"service cwa {\n"
		"  fqdn = \"cwa.example.com\"\n"
		"  listen = \"127.0.0.1:443\"\n"
		"  certificate = \"pub\"\n"
		"  mode = \"reencrypt\"\n"
		"  backend = \"b\"\n"
		"}\n",
		global, backend);
	assert_int_equal(fclose(f), 0);
	return validate(path, time(NULL));
}

static const struct finding *test_finding(const struct validated *v,
					  const char *rule, int line)
{
	for (size_t i = 0; i < v->findings.n; i++)
		if (strcmp(v->findings.items[i].rule, rule) == 0 &&
		    v->findings.items[i].line == line)
			return &v->findings.items[i];
	return NULL;
}

/* What serving needs besides the certificates is loaded by the validation
 * too: the backend's trust store and the ticket keys, so a file that
 * cannot be used is check's error (file-unreadable, at its line), and the
 * runtime is built from what was loaded. */
static void test_model_trust_and_tickets(void **state)
{
	static const char good_be[] = "backend b {\n"
				      "  servers = {\"127.0.0.1:9\"}\n"
				      "  tls = true\n"
				      "  trust_file = \"internal-ca.crt\"\n"
				      "  verify_name = \"cwa01.corp.example\"\n"
				      "}\n";
	static const char bad_be[] = "backend b {\n"
				     "  servers = {\"127.0.0.1:9\"}\n"
				     "  tls = true\n"
				     "  trust_file = \"no-such-ca.crt\"\n"
				     "  verify_name = \"cwa01.corp.example\"\n"
				     "}\n";
	char keys[512], global[600], err[1024];
	const struct finding *f;
	struct validated *v;
	struct runtime *rt;
	struct config *cfg;
	FILE *k;

	(void)state;
	test_copy("internal-ca.crt", "internal-ca.crt");
	v = test_validate_with("", good_be);
	assert_non_null(v);
	if (v->result != VALIDATE_OK)
		fail_msg("good layout: %s %s",
			 v->findings.n ? v->findings.items[0].rule : "-",
			 v->findings.n ? v->findings.items[0].message : "");
	assert_int_equal(v->nbackend_trust, 1);
	assert_non_null(v->backend_trust[0]);
	validate_free(v);
	/* Two backends naming the same trust file share one store: the file
	 * is read once. */
	{
		char two[1024];

		snprintf(two, sizeof(two),
			 "%sbackend b2 {\n  servers = {\"127.0.0.1:10\"}\n"
			 "  tls = true\n  trust_file = \"internal-ca.crt\"\n"
			 "  verify_name = \"cwa01.corp.example\"\n}\n",
			 good_be);
		v = test_validate_with("", two);
		assert_non_null(v);
		assert_int_equal(v->nbackend_trust, 2);
		assert_non_null(v->backend_trust[0]);
		assert_ptr_equal(v->backend_trust[0], v->backend_trust[1]);
		validate_free(v);
	}
	v = test_validate_with("", good_be);
	assert_non_null(v);
	/* The trust file is gone before the runtime is built: nothing is
	 * read again, so it builds. */
	snprintf(keys, sizeof(keys), "%s/internal-ca.crt", test_dir);
	unlink(keys);
	cfg = v->cfg;
	v->cfg = NULL;
	rt = runtime_new(cfg, v->certs, v->backend_trust, NULL, err,
			 sizeof(err));
	validate_free(v);
	if (!rt)
		fail_msg("runtime: %s", err);
	assert_non_null(rt->backends[0].client_ctx);
	runtime_unref(rt);

	v = test_validate_with("", bad_be);
	assert_non_null(v);
	assert_int_equal(v->result, VALIDATE_PLAN_ERRORS);
	f = test_finding(v, "file-unreadable", 10); /* trust_file's line */
	assert_non_null(f);
	assert_non_null(strstr(f->message, "no-such-ca.crt"));
	assert_string_equal(f->subject, "backend \"b\"");
	validate_free(v);

	/* ticket_key_file: good keys are in the model; a broken file is an
	 * error at its line, with what to do. */
	test_copy("internal-ca.crt", "internal-ca.crt");
	snprintf(keys, sizeof(keys), "%s/t.keys", test_dir);
	assert_int_equal(
		ticket_file_rotate(keys, 3, NULL, NULL, err, sizeof(err)), 0);
	snprintf(global, sizeof(global), "ticket_key_file = \"t.keys\"\n");
	v = test_validate_with(global, good_be);
	assert_non_null(v);
	assert_int_equal(v->result, VALIDATE_OK);
	assert_int_equal(v->nticket_keys, 3);
	validate_free(v);
	k = fopen(keys, "w");
	assert_non_null(k);
	fputs("not a key\n", k);
	fclose(k);
	v = test_validate_with(global, good_be);
	assert_non_null(v);
	assert_int_equal(v->result, VALIDATE_PLAN_ERRORS);
	assert_int_equal(v->nticket_keys, 0);
	f = test_finding(v, "file-unreadable", 2);
	assert_non_null(f);
	assert_non_null(strstr(f->message, "ticket_key_file"));
	assert_non_null(strstr(f->message, "edge443 tickets rotate"));
	validate_free(v);
	unlink(keys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serves_the_validated_objects),
		cmocka_unit_test(test_validate_results),
		cmocka_unit_test(test_model_trust_and_tickets),
	};
	return cmocka_run_group_tests(tests, test_setup, test_teardown);
}
