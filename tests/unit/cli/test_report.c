/* test_report.c — what check prints for people and for automation
 * (src/cli/report.c): the one line of a finding, the text report's parts, and
 * the JSON document read back with jansson.  Layouts come from config
 * strings over the test PKI ($EDGE443_PKI); output goes to memory streams.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "edge443/rules/rules.h"
#include "edge443/cli/report.h"

/* A model of one service over the test PKI: ssl1 for cwa.example.com (good)
 * or, with BAD, the expired certificate. */
struct test_model {
	struct config *cfg;
	struct rules_certs *pc;
	struct findings findings;
};

static void test_model_load(struct test_model *m, bool bad)
{
	const char *pki = getenv("EDGE443_PKI");
	char text[2048], err[4096];
	enum config_status st;

	assert_non_null(pki);
	memset(m, 0, sizeof(*m));
	snprintf(text, sizeof(text),
		 "trust_file = \"%s/trust.pem\"\n"
		 "certificate pub {\n"
		 "  cert = \"%s/%s.crt\"\n"
		 "  chain = \"%s/chain.pem\"\n"
		 "  key = \"%s/%s.key\"\n"
		 "}\n"
		 "backend b { servers = {\"127.0.0.1:9\"} }\n"
		 "service cwa {\n"
		 "  fqdn = \"cwa.example.com\"\n"
		 "  listen = \"192.0.2.13:443\"\n"
		 "  certificate = \"pub\"\n"
		 "  mode = \"terminate\"\n"
		 "  backend = \"b\"\n"
		 "}\n",
		 pki, pki, bad ? "expired" : "ssl1", pki, pki,
		 bad ? "expired" : "ssl1");
	m->cfg =
		config_load_string(text, "r.conf", NULL, &st, err, sizeof(err));
	if (!m->cfg)
		fail_msg("%s", err);
	m->pc = rules_load_certs(m->cfg);
	assert_non_null(m->pc);
	assert_int_equal(rules_check(m->cfg, m->pc, time(NULL), &m->findings),
			 0);
}

static void test_model_free(struct test_model *m)
{
	findings_free(&m->findings);
	rules_certs_free(m->pc);
	config_free(m->cfg);
}

/* Run FN into a memory stream and return what it wrote (free it). */
static char *test_capture_text(const struct test_model *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	report_check_text(f, m->cfg, m->pc, &m->findings);
	fclose(f);
	return buf;
}

static void test_check_text(void **state)
{
	struct test_model good, bad;
	char *out;

	(void)state;
	test_model_load(&good, false);
	out = test_capture_text(&good);
	assert_non_null(strstr(out, "cwa"));
	assert_non_null(strstr(out, "192.0.2.13:443"));
	assert_non_null(strstr(out, "r.conf: 0 errors"));
	assert_non_null(strstr(out, "the certificate plan is valid"));
	free(out);
	test_model_free(&good);

	test_model_load(&bad, true);
	out = test_capture_text(&bad);
	assert_non_null(strstr(out, "error expired r.conf:"));
	assert_non_null(strstr(out, "NOT valid; nothing may be served"));
	free(out);
	test_model_free(&bad);
}

static void test_check_json(void **state)
{
	struct test_model m;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	json_error_t jerr;
	json_t *doc, *certs, *findings;

	(void)state;
	test_model_load(&m, true);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(report_check_json(f, m.cfg, m.pc, &m.findings), 0);
	fclose(f);
	doc = json_loads(buf, 0, &jerr);
	if (!doc)
		fail_msg("not JSON: %s", jerr.text);
	assert_true(json_is_false(json_object_get(doc, "valid")));
	assert_true(json_integer_value(json_object_get(doc, "errors")) >= 1);
	certs = json_object_get(doc, "certificates");
	assert_true(json_is_array(certs) && json_array_size(certs) == 1);
	const char *fp = json_string_value(json_object_get(
		json_array_get(certs, 0), "fingerprint_sha256"));
	assert_non_null(fp);
	assert_string_equal(fp, m.pc->certs[0]->fingerprint);
	findings = json_object_get(doc, "findings");
	assert_true(json_is_array(findings) && json_array_size(findings) >= 1);
	bool expired = false;
	for (size_t i = 0; i < json_array_size(findings); i++) {
		const char *rule = json_string_value(
			json_object_get(json_array_get(findings, i), "rule"));
		if (rule && strcmp(rule, "expired") == 0)
			expired = true;
	}
	assert_true(expired);
	json_decref(doc);
	free(buf);
	test_model_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_text),
		cmocka_unit_test(test_check_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
