/* test_probe.c — probe's judging of what was served (src/cli/probe.c and
 * src/cli/probe_pool.c), on certificate facts and without a network.
 *
 * "Served" chains are certificates of the test PKI ($EDGE443_PKI, made by
 * tests/pki/mkpki.sh), loaded with or without their intermediate: the
 * judging functions of probe_internal.h take the same cert_info a handshake
 * yields.  Each test checks one rule: served-differs, served-chain-incomplete,
 * served-no-sni, and pool-consistent's comparison of pool members.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "edge443/cert/cert.h"
#include "edge443/cli/probe_internal.h"
#include "edge443/rules/rules.h"

/* An Edge pool (passthrough, two servers), a front-end pool behind a
 * re-encrypting web-services service, a plain backend behind a terminating
 * web-services service, and a CWA that re-encrypts. */
static const char test_probe_conf[] =
	"platform = \"sfb2019\"\n"
	"trust_file = \"trust.pem\"\n"
	"certificate ssl1 {\n"
	"  cert = \"ssl1.crt\"\n"
	"  chain = \"chain.pem\"\n"
	"}\n"
	"certificate web {\n"
	"  cert = \"web.crt\"\n"
	"  chain = \"chain.pem\"\n"
	"  key = \"web.key\"\n"
	"}\n"
	"backend b_edge { servers = {\"127.0.0.1:5061\", "
	"\"127.0.0.2:5061\"} }\n"
	"backend b_fe {\n"
	"  servers = {\"127.0.0.1:4443\", \"127.0.0.2:4443\"}\n"
	"  tls = true\n"
	"  trust_file = \"internal-ca.crt\"\n"
	"  verify_name = \"fe01.corp.example\"\n"
	"}\n"
	"backend b_plain { servers = {\"127.0.0.1:8080\"} }\n"
	"service access {\n"
	"  role = \"access-edge\"\n"
	"  fqdn = \"sip.example.com\"\n"
	"  listen = \"192.0.2.11:443\"\n"
	"  certificate = \"ssl1\"\n"
	"  mode = \"passthrough\"\n"
	"  backend = \"b_edge\"\n"
	"}\n"
	"service ws {\n"
	"  role = \"web-services\"\n"
	"  fqdn = \"www.example.com\"\n"
	"  listen = \"192.0.2.12:443\"\n"
	"  certificate = \"web\"\n"
	"  mode = \"reencrypt\"\n"
	"  backend = \"b_fe\"\n"
	"}\n"
	"service ws_plain {\n"
	"  role = \"web-services\"\n"
	"  fqdn = \"www.example.com\"\n"
	"  listen = \"192.0.2.13:443\"\n"
	"  certificate = \"web\"\n"
	"  mode = \"terminate\"\n"
	"  backend = \"b_plain\"\n"
	"}\n"
	"service cwa {\n"
	"  role = \"cwa\"\n"
	"  fqdn = \"www.example.com\"\n"
	"  listen = \"192.0.2.14:443\"\n"
	"  certificate = \"web\"\n"
	"  mode = \"reencrypt\"\n"
	"  backend = \"b_fe\"\n"
	"}\n";

/* One judging run: the configuration, its loaded certificates, the report
 * the findings go to, and the context the judging functions read. */
struct test_probe {
	struct config *cfg;
	struct rules_certs *pc;
	struct probe_report rep;
	struct probe_ctx pctx;
};

static const char *test_probe_pki;

/* Path of NAME in the PKI folder; a ring of buffers. */
static const char *pki(const char *name)
{
	static char bufs[4][PATH_MAX];
	static unsigned next;
	char *b = bufs[next++ % 4];

	snprintf(b, PATH_MAX, "%s/%s", test_probe_pki, name);
	return b;
}

/* A chain as served: the leaf NAME.crt, followed by the intermediate when
 * WITH_CHAIN. */
static struct cert_info *served(const char *name, bool with_chain)
{
	char crt[128];
	struct cert_info *ci;

	snprintf(crt, sizeof(crt), "%s.crt", name);
	ci = cert_load(pki(crt), with_chain ? pki("chain.pem") : NULL, NULL);
	assert_non_null(ci);
	assert_int_equal(ci->nerrors, 0);
	assert_non_null(ci->leaf);
	return ci;
}

static int test_probe_setup(void **state)
{
	struct test_probe *t;
	enum config_status st;
	char err[4096] = "";

	test_probe_pki = getenv("EDGE443_PKI");
	if (!test_probe_pki || !*test_probe_pki) {
		fprintf(stderr,
			"EDGE443_PKI is not set (run tests/pki/mkpki.sh)\n");
		return -1;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -1;
	t->cfg = config_load_string(test_probe_conf, "probe.conf",
				    test_probe_pki, &st, err, sizeof(err));
	if (!t->cfg) {
		fprintf(stderr, "config rejected: %s\n", err);
		free(t);
		return -1;
	}
	t->pc = rules_load_certs(t->cfg);
	if (!t->pc)
		return -1;
	t->pctx.cfg = t->cfg;
	t->pctx.pc = t->pc;
	t->pctx.out = &t->rep;
	t->pctx.timeout = 1;
	t->pctx.now = time(NULL);
	*state = t;
	return 0;
}

static int test_probe_teardown(void **state)
{
	struct test_probe *t = *state;

	probe_report_free(&t->rep);
	rules_certs_free(t->pc);
	config_free(t->cfg);
	free(t);
	return 0;
}

static const struct config_service *svc_named(const struct test_probe *t,
					      const char *name)
{
	for (size_t i = 0; i < t->cfg->nservices; i++)
		if (strcmp(t->cfg->services[i].name, name) == 0)
			return &t->cfg->services[i];
	fail_msg("no service %s", name);
	return NULL;
}

/* The findings of RULE in F. */
static size_t count_rule(const struct findings *f, const char *rule)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n; i++)
		n += strcmp(f->items[i].rule, rule) == 0;
	return n;
}

/* The first finding of RULE in F; fails when there is none. */
static const struct finding *find_rule(const struct findings *f,
				       const char *rule)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->items[i].rule, rule) == 0)
			return &f->items[i];
	fail_msg("no %s finding", rule);
	return NULL;
}

static void has(const char *text, const char *part)
{
	if (!strstr(text, part))
		fail_msg("\"%s\" not in: %s", part, text);
}

/* Judge CI as served by the access listener: a row, its chain verified,
 * then probe_judge.  Returns the row's index. */
static long judge_access(struct test_probe *t, struct cert_info *ci)
{
	const struct config_service *svc = svc_named(t, "access");
	const struct config_cert *cc = config_find_cert(t->cfg, "ssl1");
	const struct cert_info *planned = probe_planned(&t->pctx, cc);
	long idx = probe_row_add(&t->rep, svc->name, NULL, "192.0.2.11:443",
				 "sip.example.com");
	struct probe_row *row;

	assert_true(idx >= 0);
	assert_non_null(planned);
	row = &t->rep.rows[idx];
	probe_row_cert(row, ci, cc, planned);
	assert_int_equal(probe_verify(&t->pctx, ci, row), 0);
	assert_int_equal(probe_judge(&t->pctx, svc, cc, planned, ci, row,
				     "192.0.2.11:443 with SNI sip.example.com"),
			 0);
	return idx;
}

/* ---- served-differs ----------------------------------------------------- */

static void test_served_matches_plan(void **state)
{
	struct test_probe *t = *state;
	struct cert_info *ci = served("ssl1", true);
	long idx = judge_access(t, ci);

	assert_int_equal(t->rep.rows[idx].match, PROBE_MATCH_YES);
	assert_int_equal(t->rep.rows[idx].chain, PROBE_CHAIN_OK);
	assert_int_equal(count_rule(&t->rep.findings, "served-differs"), 0);
	assert_int_equal(
		count_rule(&t->rep.findings, "served-chain-incomplete"), 0);
	cert_free(ci);
}

static void test_served_differs(void **state)
{
	struct test_probe *t = *state;
	struct cert_info *ci = served("ssl2", true);
	const struct finding *f;
	long idx = judge_access(t, ci);

	assert_int_equal(t->rep.rows[idx].match, PROBE_MATCH_NO);
	assert_int_equal(count_rule(&t->rep.findings, "served-differs"), 1);
	f = find_rule(&t->rep.findings, "served-differs");
	assert_int_equal(f->severity, FINDING_ERROR);
	has(f->message, "192.0.2.11:443 with SNI sip.example.com");
	has(f->message, ci->fingerprint);
	has(f->message, "certificate \"ssl1\"");
	/* Passthrough: the backend presents it, so that is what to fix. */
	has(f->message, "backend \"b_edge\"");
	cert_free(ci);
}

/* ---- served-chain-incomplete -------------------------------------------- */

static void test_served_chain_incomplete(void **state)
{
	struct test_probe *t = *state;
	struct cert_info *ci = served("ssl1", false);
	const struct finding *f;
	long idx = judge_access(t, ci);

	assert_int_equal(t->rep.rows[idx].match, PROBE_MATCH_YES);
	assert_int_equal(t->rep.rows[idx].chain, PROBE_CHAIN_INCOMPLETE);
	assert_int_equal(
		count_rule(&t->rep.findings, "served-chain-incomplete"), 1);
	/* Said about the wire, never as the on-disk rule. */
	assert_int_equal(count_rule(&t->rep.findings, "chain-incomplete"), 0);
	f = find_rule(&t->rep.findings, "served-chain-incomplete");
	assert_int_equal(f->severity, FINDING_ERROR);
	has(f->message, "missing on the wire");
	has(f->message, "passthrough");
	assert_int_equal(count_rule(&t->rep.findings, "served-differs"), 0);
	cert_free(ci);
}

/* ---- served-no-sni ------------------------------------------------------ */

static void test_served_no_sni(void **state)
{
	struct test_probe *t = *state;
	const struct config_service *svc = svc_named(t, "access");
	struct cert_info *with = served("ssl1", true);
	struct cert_info *same = served("ssl1", true);
	struct cert_info *other = served("ssl2", true);
	const struct finding *f;

	/* The same leaf without SNI: nothing to say. */
	assert_int_equal(probe_no_sni_judge(&t->pctx, svc, "here",
					    with->fingerprint, same, NULL),
			 0);
	assert_int_equal(t->rep.findings.n, 0);

	/* Another leaf without SNI: a warning naming both fingerprints. */
	assert_int_equal(probe_no_sni_judge(&t->pctx, svc,
					    "192.0.2.11:443 without SNI",
					    with->fingerprint, other, NULL),
			 0);
	assert_int_equal(count_rule(&t->rep.findings, "served-no-sni"), 1);
	f = find_rule(&t->rep.findings, "served-no-sni");
	assert_int_equal(f->severity, FINDING_WARN);
	has(f->message, with->fingerprint);
	has(f->message, other->fingerprint);
	has(f->message, "192.0.2.11:443 without SNI");

	/* No handshake without SNI: a warning with the reason. */
	assert_int_equal(probe_no_sni_judge(&t->pctx, svc, "there",
					    with->fingerprint, NULL,
					    "handshake failure"),
			 0);
	assert_int_equal(count_rule(&t->rep.findings, "served-no-sni"), 2);
	has(t->rep.findings.items[1].message, "handshake failure");
	assert_int_equal(t->rep.findings.errors, 0);
	cert_free(with);
	cert_free(same);
	cert_free(other);
}

/* ---- pool-consistent ---------------------------------------------------- */

static void test_pool_same(void **state)
{
	struct cert_info *a = served("ssl1", true);
	struct cert_info *b = served("ssl1", true);
	struct cert_info *bare = served("ssl1", false);
	struct cert_info *other = served("ssl2", true);

	(void)state;
	assert_true(probe_pool_same(a, b));
	assert_true(probe_pool_same(bare, bare));
	assert_false(probe_pool_same(a, bare)); /* same leaf, another chain */
	assert_false(probe_pool_same(a, other));
	assert_false(probe_pool_same(a, NULL));
	cert_free(a);
	cert_free(b);
	cert_free(bare);
	cert_free(other);
}

/* Judge the pool of the access service with members serving A and B (NULL:
 * not reached). */
static int judge_pool(struct test_probe *t, const struct cert_info *a,
		      const struct cert_info *b)
{
	const struct config_service *svc = svc_named(t, "access");
	const struct config_backend *be = config_find_backend(t->cfg, "b_edge");
	const struct config_cert *cc = config_find_cert(t->cfg, "ssl1");
	struct probe_member m[2] = {{"127.0.0.1:5061", a},
				    {"127.0.0.2:5061", b}};

	return probe_pool_judge(&t->rep.findings, t->cfg, svc, be, cc,
				probe_planned(&t->pctx, cc), m, 2);
}

static void test_pool_consistent_same(void **state)
{
	struct test_probe *t = *state;
	struct cert_info *a = served("ssl1", true);
	struct cert_info *b = served("ssl1", true);

	assert_int_equal(judge_pool(t, a, b), 0);
	assert_int_equal(t->rep.findings.n, 0);
	/* A member not reached is not compared (it is unreachable). */
	assert_int_equal(judge_pool(t, a, NULL), 0);
	assert_int_equal(judge_pool(t, NULL, NULL), 0);
	assert_int_equal(t->rep.findings.n, 0);
	cert_free(a);
	cert_free(b);
}

static void test_pool_consistent_other_leaf(void **state)
{
	struct test_probe *t = *state;
	struct cert_info *a = served("ssl1", true);
	struct cert_info *b = served("ssl2", true);
	const struct finding *f;

	assert_int_equal(judge_pool(t, a, b), 0);
	assert_int_equal(t->rep.findings.n, 1);
	f = find_rule(&t->rep.findings, "pool-consistent");
	assert_int_equal(f->severity, FINDING_ERROR);
	assert_string_equal(f->subject, "backend \"b_edge\"");
	has(f->message, "backend \"b_edge\"");
	has(f->message, "127.0.0.1:5061 serves");
	has(f->message, "127.0.0.2:5061 serves");
	has(f->message, a->fingerprint);
	has(f->message, b->fingerprint);
	has(f->message, "another leaf");
	has(f->message, "(certificate \"ssl1\" of the plan)");
	has(f->message, "every pool member needs the same certificate and "
			"private key");
	has(f->message, "install certificate \"ssl1\"");
	cert_free(a);
	cert_free(b);
}

static void test_pool_consistent_other_chain(void **state)
{
	struct test_probe *t = *state;
	struct cert_info *a = served("ssl1", true);
	struct cert_info *b = served("ssl1", false);
	const struct finding *f;

	assert_int_equal(judge_pool(t, a, b), 0);
	f = find_rule(&t->rep.findings, "pool-consistent");
	has(f->message, "the same leaf but another chain");
	has(f->message, "with 1 intermediate");
	has(f->message, "with no intermediate");
	cert_free(a);
	cert_free(b);
}

/* Which backends --pool connects to. */
static void test_pool_applies(void **state)
{
	struct test_probe *t = *state;
	const struct config *cfg = t->cfg;

	/* An Edge pool: the members terminate TLS themselves. */
	assert_true(probe_pool_applies(svc_named(t, "access"),
				       config_find_backend(cfg, "b_edge")));
	/* The front-end pool behind the reverse proxy speaks TLS. */
	assert_true(probe_pool_applies(svc_named(t, "ws"),
				       config_find_backend(cfg, "b_fe")));
	/* Plain HTTP behind a web-services service: no certificate. */
	assert_false(probe_pool_applies(svc_named(t, "ws_plain"),
					config_find_backend(cfg, "b_plain")));
	/* A re-encrypting CWA is probed (and verified) as before, not as a
	 * pool. */
	assert_false(probe_pool_applies(svc_named(t, "cwa"),
					config_find_backend(cfg, "b_fe")));
	assert_false(probe_pool_applies(svc_named(t, "access"), NULL));
}

/* ---- --pool NODE...: a node's /served document ----------------------------
 */

/* The /served document of a node that serves T's plan exactly. */
static json_t *node_doc(struct test_probe *t)
{
	json_t *services = json_array();
	char fp[96];

	for (size_t i = 0; i < t->cfg->nservices; i++) {
		const struct config_service *svc = &t->cfg->services[i];
		const struct config_cert *cc =
			config_find_cert(t->cfg, svc->certificate);
		const struct cert_info *ci = probe_planned(&t->pctx, cc);
		json_t *chain = json_array(), *listen = json_array();

		assert_non_null(ci);
		for (int k = 0; k < sk_X509_num(ci->chain); k++)
			json_array_append_new(
				chain, json_string(cert_fingerprint(
					       sk_X509_value(ci->chain, k), fp,
					       sizeof(fp))));
		for (size_t k = 0; k < svc->nlisten; k++)
			json_array_append_new(listen,
					      json_string(svc->listen[k].text));
		json_array_append_new(
			services,
			json_pack("{s:s, s:s, s:s, s:o, s:[{s:s, s:s, s:o}]}",
				  "name", svc->name, "fqdn", svc->fqdn, "mode",
				  config_mode_name(svc->mode), "listen", listen,
				  "certificates", "name", svc->certificate,
				  "leaf_sha256", ci->fingerprint,
				  "chain_sha256", chain));
	}
	return json_pack("{s:o, s:[]}", "services", services, "findings");
}

static json_t *node_service(json_t *doc, const char *name)
{
	json_t *s;
	size_t i;

	json_array_foreach(json_object_get(doc, "services"), i, s)
	{
		if (strcmp(json_string_value(json_object_get(s, "name")),
			   name) == 0)
			return s;
	}
	fail_msg("no service %s in the document", name);
	return NULL;
}

static void test_nodes_same(void **state)
{
	struct test_probe *t = *state;
	struct findings mine = {0};
	json_t *doc = node_doc(t);

	assert_int_equal(
		probe_nodes_judge(&t->pctx, "192.0.2.1:9443", doc, &mine), 0);
	assert_int_equal(t->rep.findings.n, 0);
	assert_int_equal(t->rep.n, t->cfg->nservices); /* a row each */
	for (size_t i = 0; i < t->rep.n; i++) {
		assert_true(t->rep.rows[i].node);
		assert_int_equal(t->rep.rows[i].match, PROBE_MATCH_YES);
	}
	json_decref(doc);
}

static void test_nodes_differ(void **state)
{
	struct test_probe *t = *state;
	struct findings mine = {0};
	json_t *doc = node_doc(t), *ws = node_service(doc, "ws"), *extra;
	json_t *cert = json_array_get(json_object_get(ws, "certificates"), 0);
	const struct finding *f;

	/* Another leaf on ws, another mode on cwa, no access service, a
	 * service the configuration lacks, and a finding it lacks. */
	json_object_set_new(cert, "leaf_sha256", json_string("AB:CD"));
	json_object_set_new(node_service(doc, "cwa"), "mode",
			    json_string("terminate"));
	extra = json_deep_copy(node_service(doc, "access"));
	json_object_set_new(extra, "name", json_string("other"));
	json_array_append_new(json_object_get(doc, "services"), extra);
	json_array_remove(json_object_get(doc, "services"), 0); /* access */
	json_array_append_new(json_object_get(doc, "findings"),
			      json_pack("{s:s, s:s, s:s}", "severity", "warn",
					"rule", "expires-soon", "subject",
					"certificate \"web\""));
	assert_int_equal(
		probe_nodes_judge(&t->pctx, "192.0.2.2:9443", doc, &mine), 0);
	assert_int_equal(count_rule(&t->rep.findings, "pool-consistent"), 5);
	f = find_rule(&t->rep.findings, "pool-consistent");
	assert_int_equal(f->severity, FINDING_ERROR);
	for (size_t i = 0; i < t->rep.findings.n; i++)
		has(t->rep.findings.items[i].message, "node 192.0.2.2:9443 ");
	{
		char all[8192] = "";
		for (size_t i = 0; i < t->rep.findings.n; i++) {
			strncat(all, t->rep.findings.items[i].message,
				sizeof(all) - strlen(all) - 1);
			strncat(all, "\n", sizeof(all) - strlen(all) - 1);
		}
		has(all, "does not serve service \"access\"");
		has(all, "serves certificate \"web\" as leaf AB:CD");
		has(all, "serves service \"cwa\" as www.example.com, "
			 "terminate");
		has(all, "serves service \"other\", which this configuration "
			 "does not have");
		has(all, "passes another check: its configuration gives warn "
			 "expires-soon for certificate \"web\"");
		has(all, "copy probe.conf");
	}
	json_decref(doc);
}

#define T(f)                                                                   \
	cmocka_unit_test_setup_teardown(f, test_probe_setup,                   \
					test_probe_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_served_matches_plan),
		T(test_served_differs),
		T(test_served_chain_incomplete),
		T(test_served_no_sni),
		T(test_pool_same),
		T(test_pool_consistent_same),
		T(test_pool_consistent_other_leaf),
		T(test_pool_consistent_other_chain),
		T(test_pool_applies),
		T(test_nodes_same),
		T(test_nodes_differ),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
