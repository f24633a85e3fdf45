/* test_rules.c — the certificate-plan rules of `edge443 check` (src/rules/).
 *
 * Every test writes a configuration (certificate paths point into the test
 * PKI that tests/pki/mkpki.sh made in $EDGE443_PKI), loads it with
 * config_load_string, loads the certificates with rules_load_certs and checks
 * the plan with rules_check as of now (the PKI is made relative to today).
 * Assertions are on rule id, severity and line; the line a finding must point
 * at is found by searching the config text for the option concerned.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "edge443/cert/cert.h"
#include "edge443/config/config.h"
#include "edge443/config/roles.h"
#include "edge443/rules/rules.h"

/* ---- helpers ---------------------------------------------------------- */

struct run {
	char *text; /* the config after @PKI@ substitution */
	struct config *cfg;
	struct rules_certs *pc;
	struct findings f;
};

static const char *pki_dir(void)
{
	const char *dir = getenv("EDGE443_PKI");

	if (!dir || !*dir)
		fail_msg("EDGE443_PKI is not set (run through ctest)");
	return dir;
}

/* TMPL with every "@PKI@" replaced by the PKI folder (caller frees). */
static char *subst(const char *tmpl)
{
	const char *pki = pki_dir();
	size_t n = 0, plen = strlen(pki), len;
	const char *p;
	char *out, *o;

	for (p = tmpl; (p = strstr(p, "@PKI@")); p += 5)
		n++;
	len = strlen(tmpl) + n * plen + 1;
	out = malloc(len);
	assert_non_null(out);
	o = out;
	for (p = tmpl; *p;) {
		if (strncmp(p, "@PKI@", 5) == 0) {
			memcpy(o, pki, plen);
			o += plen;
			p += 5;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

static void run_at(struct run *r, const char *tmpl, time_t now)
{
	enum config_status st;
	char err[4096] = "";

	memset(r, 0, sizeof(*r));
	r->text = subst(tmpl);
	r->cfg = config_load_string(r->text, "test.conf", pki_dir(), &st, err,
				    sizeof(err));
	if (!r->cfg)
		fail_msg("config rejected: %s\n--- config ---\n%s", err,
			 r->text);
	r->pc = rules_load_certs(r->cfg);
	assert_non_null(r->pc);
	assert_int_equal(rules_check(r->cfg, r->pc, now, &r->f), 0);
}

static void run(struct run *r, const char *tmpl)
{
	run_at(r, tmpl, time(NULL));
}

static void run_free(struct run *r)
{
	findings_free(&r->f);
	rules_certs_free(r->pc);
	config_free(r->cfg);
	free(r->text);
}

/* The first finding with id RULE, NULL when there is none. */
static const struct finding *find(const struct run *r, const char *rule)
{
	for (size_t i = 0; i < r->f.n; i++)
		if (strcmp(r->f.items[i].rule, rule) == 0)
			return &r->f.items[i];
	return NULL;
}

static size_t count(const struct run *r, const char *rule)
{
	size_t n = 0;

	for (size_t i = 0; i < r->f.n; i++)
		n += strcmp(r->f.items[i].rule, rule) == 0;
	return n;
}

/* Every finding, for failure messages. */
static void dump(const struct run *r)
{
	for (size_t i = 0; i < r->f.n; i++)
		print_message("  %s %s %s:%d: %s\n",
			      finding_severity_name(r->f.items[i].severity),
			      r->f.items[i].rule, r->f.items[i].file,
			      r->f.items[i].line, r->f.items[i].message);
}

/* The finding RULE, which must exist. */
static const struct finding *must_find(const struct run *r, const char *rule)
{
	const struct finding *f = find(r, rule);

	if (!f) {
		dump(r);
		fail_msg("no finding %s", rule);
	}
	return f;
}

/* The finding RULE on LINE, NULL when there is none. */
static const struct finding *find_at(const struct run *r, const char *rule,
				     int line)
{
	for (size_t i = 0; i < r->f.n; i++)
		if (strcmp(r->f.items[i].rule, rule) == 0 &&
		    r->f.items[i].line == line)
			return &r->f.items[i];
	return NULL;
}

static void must_not_find(const struct run *r, const char *rule)
{
	if (find(r, rule)) {
		dump(r);
		fail_msg("unexpected finding %s", rule);
	}
}

/* 1-based line number of position HIT in TEXT. */
static int line_at(const char *text, const char *hit)
{
	int line = 1;

	for (const char *p = text; p < hit; p++)
		line += *p == '\n';
	return line;
}

/* The line of the Nth (0-based) occurrence of NEEDLE in TEXT. */
static int line_of_nth(const char *text, const char *needle, int nth)
{
	const char *hit = strstr(text, needle);

	for (int i = 0; hit && i < nth; i++)
		hit = strstr(hit + 1, needle);
	if (!hit)
		fail_msg("\"%s\" #%d is not in the config", needle, nth);
	return line_at(text, hit);
}

static int line_of(const char *text, const char *needle)
{
	return line_of_nth(text, needle, 0);
}

/* ---- one certificate, one service: a table per rule ------------------- */

struct one_case {
	const char *rule;
	enum finding_severity sev;
	bool fires;	   /* false: the rule must stay silent */
	const char *cert;  /* file in the PKI */
	const char *chain; /* NULL: chain.pem; "" : no chain option */
	const char *key;   /* NULL: no key option */
	const char *role;
	const char *fqdn;
	const char *mode;
	const char *svc_extra; /* more service options */
	const char *global;    /* more global options */
	const char *at;	       /* the finding's line holds this text */
	const char *msg;       /* the message contains this (or NULL) */
};

/* The config of case C; the backend's servers are SERVERS (NULL: one on
 * port 8443). */
static char *one_config_servers(const struct one_case *c, const char *servers)
{
	char chain[256] = "", key[256] = "";
	char *buf = malloc(8192);

	assert_non_null(buf);
	if (!c->chain)
		snprintf(chain, sizeof(chain),
			 "  chain = \"@PKI@/chain.pem\"\n");
	else if (*c->chain)
		snprintf(chain, sizeof(chain), "  chain = \"@PKI@/%s\"\n",
			 c->chain);
	if (c->key)
		snprintf(key, sizeof(key), "  key = \"@PKI@/%s\"\n", c->key);
	snprintf(buf, 8192,
		 "# one certificate, one service\n"
		 "trust_file = \"@PKI@/trust.pem\"\n"
		 "%s"
		 "certificate c {\n"
		 "  cert = \"@PKI@/%s\"\n"
		 "%s"
		 "%s"
		 "}\n"
		 "backend b {\n"
		 "  servers = {%s}\n"
		 "  tls = true\n"
		 "  trust_file = \"@PKI@/internal-ca.crt\"\n"
		 "  verify_name = \"cwa01.corp.example\"\n"
		 "}\n"
		 "service s {\n"
		 "  role = \"%s\"\n"
		 "  fqdn = \"%s\"\n"
		 "  listen = \"127.0.0.1:443\"\n"
		 "  certificate = \"c\"\n"
		 "  mode = \"%s\"\n"
		 "  backend = \"b\"\n"
		 "%s"
		 "}\n",
		 c->global ? c->global : "", c->cert, chain, key,
		 servers ? servers : "\"127.0.0.1:8443\"",
		 c->role ? c->role : "generic",
		 c->fqdn ? c->fqdn : "sip.example.com",
		 c->mode ? c->mode : "passthrough",
		 c->svc_extra ? c->svc_extra : "");
	return buf;
}

static char *one_config(const struct one_case *c)
{
	return one_config_servers(c, NULL);
}

static void one_run_servers(const struct one_case *c, const char *servers)
{
	struct run r;
	char *tmpl = one_config_servers(c, servers);

	print_message("case %s %s (%s, %s)\n", c->rule,
		      c->fires ? finding_severity_name(c->sev) : "silent",
		      c->cert, c->role ? c->role : "generic");
	run(&r, tmpl);
	free(tmpl);
	if (!c->fires) {
		must_not_find(&r, c->rule);
	} else {
		const struct finding *f = must_find(&r, c->rule);
		if (count(&r, c->rule) != 1) {
			dump(&r);
			fail_msg("%s fired %zu times", c->rule,
				 count(&r, c->rule));
		}
		assert_int_equal(f->severity, c->sev);
		assert_int_equal(f->line, line_of(r.text, c->at));
		assert_string_equal(f->file, "test.conf");
		assert_non_null(f->subject);
		assert_non_null(strstr(f->message, " — "));
		if (c->msg && !strstr(f->message, c->msg))
			fail_msg("%s: \"%s\" lacks \"%s\"", c->rule, f->message,
				 c->msg);
	}
	run_free(&r);
}

static void one_run(const struct one_case *c)
{
	one_run_servers(c, NULL);
}

static void one_table(const struct one_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		one_run(&cases[i]);
}

#define E FINDING_ERROR
#define W FINDING_WARN
#define CERT_AT "c {"

static void test_finding_format(void **state)
{
	struct finding f = {FINDING_ERROR, "cn-shared",
			    "edge.conf",   66,
			    NULL,	   "two services share a CN"};
	char buf[256];

	(void)state;
	assert_string_equal(finding_format(&f, buf, sizeof(buf)),
			    "error cn-shared edge.conf:66: two services share "
			    "a CN");
	f.severity = FINDING_WARN;
	f.line = 0;
	assert_string_equal(finding_format(&f, buf, sizeof(buf)),
			    "warn cn-shared edge.conf: two services share a "
			    "CN");
	/* Cut safely at the buffer's end. */
	assert_string_equal(finding_format(&f, buf, 5), "warn");
}

static void test_file_unreadable(void **state)
{
	static const struct one_case cases[] = {
		{"file-unreadable", E, true, "no-such.crt", NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, "no-such.crt", "no-such.crt"},
		{"file-unreadable", E, true, "bare.crt", NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, "bare.crt", "-----BEGIN CERTIFICATE-----"},
		{"file-unreadable", E, true, "empty.pem", NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, "empty.pem", "empty.pem"},
		{"file-unreadable", E, true, "ssl1.crt", "no-such-chain.pem",
		 NULL, NULL, NULL, NULL, NULL, NULL, "no-such-chain.pem", NULL},
		{"file-unreadable", E, true, "ssl1.crt", NULL, "no-such.key",
		 NULL, NULL, "terminate", NULL, NULL, "no-such.key",
		 "no-such.key"},
		{"file-unreadable", E, true, "ssl1.crt", NULL, "bare.key", NULL,
		 NULL, "terminate", NULL, NULL, "bare.key",
		 "-----BEGIN PRIVATE KEY-----"},
		{"file-unreadable", E, false, "ssl1.crt", NULL, "ssl1.key",
		 NULL, NULL, "terminate", NULL, NULL, NULL, NULL},
	};
	(void)state;
	one_table(cases, sizeof(cases) / sizeof(cases[0]));
}

/* A certificate that did not load is judged by no other rule. */
static void test_unloaded_leaf_skips_rules(void **state)
{
	static const struct one_case c = {"file-unreadable",
					  E,
					  true,
					  "no-such.crt",
					  NULL,
					  NULL,
					  "access-edge",
					  "sip.example.com",
					  "terminate",
					  NULL,
					  NULL,
					  "no-such.crt",
					  NULL};
	struct run r;
	char *tmpl = one_config(&c);

	(void)state;
	run(&r, tmpl);
	free(tmpl);
	must_find(&r, "file-unreadable");
	must_not_find(&r, "key-missing");
	must_not_find(&r, "fqdn-covered");
	must_not_find(&r, "cn-is-fqdn");
	must_not_find(&r, "chain-incomplete");
	run_free(&r);
}

static void test_key_rules(void **state)
{
	static const struct one_case cases[] = {
		{"key-missing", E, true, "ssl1.crt", NULL, NULL, NULL, NULL,
		 "terminate", NULL, NULL, CERT_AT, "service \"s\""},
		{"key-missing", E, true, "ssl1.crt", NULL, NULL, "cwa",
		 "cwa.example.com", "reencrypt", NULL, NULL, CERT_AT, NULL},
		{"key-missing", E, false, "ssl1.crt", NULL, NULL, NULL, NULL,
		 "passthrough", NULL, NULL, NULL, NULL},
		{"key-match", E, true, "ssl1.crt", NULL, "mismatch.key", NULL,
		 NULL, "terminate", NULL, NULL, "mismatch.key", NULL},
		{"key-match", E, false, "ssl1.crt", NULL, "ssl1.key", NULL,
		 NULL, "terminate", NULL, NULL, NULL, NULL},
		{"key-perms", E, true, "ssl1.crt", NULL, "world.key", NULL,
		 NULL, "terminate", NULL, NULL, "world.key", "chmod 600"},
		{"key-perms", E, false, "ssl1.crt", NULL, "ssl1.key", NULL,
		 NULL, "terminate", NULL, NULL, NULL, NULL},
		{"key-strength", E, true, "rsa1024.crt", NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, "rsa1024.crt", "RSA"},
		/* internal: every service using it is edge-internal */
		{"key-strength", W, true, "rsa1024.crt", NULL, NULL,
		 "edge-internal", "sip.example.com", NULL, NULL, NULL,
		 "rsa1024.crt", NULL},
		{"key-strength", E, false, "ecdsa.crt", NULL, NULL, NULL,
		 "www.example.com", NULL, NULL, NULL, NULL, NULL},
		{"key-strength", E, false, "ssl1.crt", NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, NULL},
	};
	(void)state;
	one_table(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_signature_and_usage(void **state)
{
	static const struct one_case cases[] = {
		{"sig-weak", E, true, "sha1.crt", NULL, NULL, NULL, NULL, NULL,
		 NULL, NULL, "sha1.crt", "SHA-256"},
		{"sig-weak", E, false, "ssl1.crt", NULL, NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL},
		{"eku-server", E, true, "clientonly.crt", NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, "clientonly.crt", "serverAuth"},
		{"eku-server", E, false, "serveronly.crt", NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, NULL, NULL},
		{"ku-mismatch", W, true, "nodigsig.crt", NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, "nodigsig.crt", "digitalSignature"},
		{"ku-mismatch", W, false, "ecdsa.crt", NULL, NULL, NULL,
		 "www.example.com", NULL, NULL, NULL, NULL, NULL},
		{"ku-mismatch", W, false, "ssl1.crt", NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, NULL},
	};
	(void)state;
	one_table(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_san_rules(void **state)
{
	static const struct one_case cases[] = {
		{"san-present", E, true, "nosan.crt", NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, "nosan.crt", "subjectAltName"},
		{"san-present", E, false, "ssl1.crt", NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, NULL},
		{"cn-in-san", E, true, "cn-not-san.crt", NULL, NULL, NULL,
		 "www.example.com", NULL, NULL, NULL, "cn-not-san.crt",
		 "sip.example.com"},
		{"cn-in-san", E, false, "ssl1.crt", NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, NULL},
		{"san-order", W, true, "badorder.crt", NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, "badorder.crt", "*.example.com"},
		/* a wildcard after the exact names is fine */
		{"san-order", W, false, "web.crt", NULL, NULL, NULL,
		 "www.example.com", NULL, NULL, NULL, NULL, NULL},
		{"san-order", W, false, "ssl1.crt", NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, NULL},
	};
	(void)state;
	one_table(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_validity_rules(void **state)
{
	static const struct one_case cases[] = {
		{"not-yet-valid", E, true, "notyet.crt", NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, "notyet.crt", "2099-01-01"},
		{"not-yet-valid", E, false, "ssl1.crt", NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, NULL},
		{"expired", E, true, "expired.crt", NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, "expired.crt", "2021-01-01"},
		{"expired", E, false, "ssl1.crt", NULL, NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL},
		{"expires-soon", W, true, "soon.crt", NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, "soon.crt", "warn_days = 30"},
		/* warn_days below the 10 days left: silent */
		{"expires-soon", W, false, "soon.crt", NULL, NULL, NULL, NULL,
		 NULL, NULL, "warn_days = 5\n", NULL, NULL},
		{"expires-soon", W, false, "expired.crt", NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, NULL, NULL},
		{"validity-cap", W, true, "longlife.crt", NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, "longlife.crt", "days"},
		{"validity-cap", W, false, "ssl1.crt", NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, NULL},
		/* the cap does not apply to an internal certificate */
		{"validity-cap", W, false, "longlife.crt", NULL, NULL,
		 "edge-internal", NULL, NULL, NULL, NULL, NULL, NULL},
	};
	(void)state;
	one_table(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_chain_rules(void **state)
{
	static const struct one_case cases[] = {
		/* no chain: the forgotten intermediate */
		{"chain-incomplete", E, true, "ssl1.crt", "", NULL, NULL, NULL,
		 NULL, NULL, NULL, "ssl1.crt", "chain"},
		{"chain-incomplete", W, true, "edge-int.crt", "", NULL,
		 "edge-internal", "edge01.corp.example", NULL, NULL, NULL,
		 "edge-int.crt", NULL},
		{"chain-incomplete", E, true, "edge-int.crt", "", NULL, NULL,
		 "edge01.corp.example", NULL, NULL, NULL, "edge-int.crt", NULL},
		{"chain-incomplete", E, true, "selfsigned.crt", "", NULL, NULL,
		 NULL, NULL, NULL, NULL, "selfsigned.crt", NULL},
		{"chain-incomplete", E, false, "ssl1.crt", NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, NULL, NULL},
		{"chain-extra", W, true, "ssl1.crt", "chain-extra.pem", NULL,
		 NULL, NULL, NULL, NULL, NULL, "chain-extra.pem", "root"},
		{"chain-extra", W, false, "ssl1.crt", NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, NULL},
		{"internal-name", W, true, "internal-name.crt", NULL, NULL,
		 NULL, NULL, NULL, NULL, NULL, "internal-name.crt",
		 "server.local"},
		{"internal-name", W, false, "internal-name.crt", NULL, NULL,
		 "edge-internal", NULL, NULL, NULL, NULL, NULL, NULL},
		/* internal names on an internal chain are fine */
		{"internal-name", W, false, "edge-int.crt", "", NULL, NULL,
		 "edge01.corp.example", NULL, NULL, NULL, NULL, NULL},
		{"internal-name", W, false, "ssl1.crt", NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, NULL},
	};
	(void)state;
	one_table(cases, sizeof(cases) / sizeof(cases[0]));
}

#define SVC_AT "certificate = \"c\""

static void test_service_rules(void **state)
{
	static const struct one_case cases[] = {
		{"fqdn-covered", E, true, "ssl2.crt", NULL, NULL, NULL,
		 "sip.example.com", NULL, NULL, NULL, SVC_AT,
		 "sip.example.com"},
		/* one whole left-most label only */
		{"fqdn-covered", E, true, "web.crt", NULL, NULL, "web",
		 "a.b.example.com", NULL, NULL, NULL, SVC_AT, NULL},
		{"fqdn-covered", E, false, "web.crt", NULL, NULL, "web",
		 "any.example.com", NULL, NULL, NULL, NULL, NULL},
		{"fqdn-covered", E, false, "ssl1.crt", NULL, NULL, NULL,
		 "as.cwa.example.com", NULL, NULL, NULL, NULL, NULL},

		{"cn-is-fqdn", E, true, "all.crt", NULL, NULL, "webconf-edge",
		 "webconf.example.com", NULL, NULL, NULL, SVC_AT,
		 "Web Conferencing Edge takes its FQDN from the certificate "
		 "CN"},
		{"cn-is-fqdn", E, true, "all.crt", NULL, NULL, "access-edge",
		 "webconf.example.com", NULL, NULL, NULL, SVC_AT,
		 "Access Edge"},
		{"cn-is-fqdn", E, true, "all.crt", NULL, NULL, "edge-internal",
		 "av.example.com", NULL, NULL, NULL, SVC_AT, NULL},
		{"cn-is-fqdn", W, true, "all.crt", NULL, NULL, "av-edge",
		 "av.example.com", NULL, NULL, NULL, SVC_AT, NULL},
		{"cn-is-fqdn", E, false, "all.crt", NULL, NULL, "webconf-edge",
		 "webconf.example.com", NULL, NULL, "platform = \"lync\"\n",
		 NULL, NULL},
		{"cn-is-fqdn", E, false, "all.crt", NULL, NULL, "cwa",
		 "cwa.example.com", NULL, NULL, NULL, NULL, NULL},
		{"cn-is-fqdn", E, false, "ssl2.crt", NULL, NULL, "webconf-edge",
		 "WEBCONF.example.com", NULL, NULL, NULL, NULL, NULL},

		{"wildcard-forbidden", E, true, "wildcard.crt", NULL, NULL,
		 "access-edge", "sip.example.com", NULL, NULL, NULL, SVC_AT,
		 "*.example.com"},
		{"wildcard-forbidden", E, true, "web.crt", NULL, NULL, "cwa",
		 "www.example.com", NULL, NULL, NULL, SVC_AT, NULL},
		{"wildcard-forbidden", W, true, "wildcard.crt", NULL, NULL,
		 "web", "www.example.com", NULL, NULL, NULL, SVC_AT, NULL},
		{"wildcard-forbidden", W, false, "web.crt", NULL, NULL, "web",
		 "www.example.com", NULL, NULL, NULL, NULL, NULL},
		{"wildcard-forbidden", W, false, "wildcard.crt", NULL, NULL,
		 "generic", "www.example.com", NULL, NULL, NULL, NULL, NULL},

		{"eku-client", W, true, "serveronly.crt", NULL, NULL,
		 "access-edge", "sip.example.com", NULL, NULL, NULL, SVC_AT,
		 "phasing"},
		{"eku-client", E, true, "serveronly.crt", NULL, NULL,
		 "access-edge", "sip.example.com", NULL,
		 "  federation = true\n", NULL, "federation = true", NULL},
		{"eku-client", W, false, "ssl1.crt", NULL, NULL, "access-edge",
		 "sip.example.com", NULL, "  federation = true\n", NULL, NULL,
		 NULL},
		{"eku-client", W, false, "serveronly.crt", NULL, NULL,
		 "webconf-edge", "sip.example.com", NULL, NULL, NULL, NULL,
		 NULL},

		{"sip-domain-san", E, true, "ssl1.crt", NULL, NULL,
		 "access-edge", "sip.example.com", NULL,
		 "  sip_domains = {\"example.com\", \"example.net\", "
		 "\"example.org\"}\n",
		 NULL, "sip_domains", "sip.example.net"},
		{"sip-domain-san", E, false, "ssl1.crt", NULL, NULL,
		 "access-edge", "sip.example.com", NULL,
		 "  sip_domains = {\"example.com\", \"EXAMPLE.org\"}\n", NULL,
		 NULL, NULL},

		{"edge-terminated", W, true, "ssl1.crt", NULL, "ssl1.key",
		 "access-edge", "sip.example.com", "terminate", NULL, NULL,
		 "mode = ", "passthrough"},
		{"edge-terminated", W, true, "ssl2.crt", NULL, "ssl2.key",
		 "webconf-edge", "webconf.example.com", "reencrypt", NULL, NULL,
		 "mode = ", NULL},
		{"edge-terminated", W, false, "ssl1.crt", NULL, NULL,
		 "access-edge", "sip.example.com", "passthrough", NULL, NULL,
		 NULL, NULL},
		{"edge-terminated", W, false, "ssl1.crt", NULL, "ssl1.key",
		 "cwa", "cwa.example.com", "reencrypt", NULL, NULL, NULL, NULL},

		{"cwa-sans", W, true, "ssl2.crt", NULL, NULL, "cwa",
		 "webconf.example.com", NULL, NULL, NULL, SVC_AT,
		 "as.webconf.example.com and download.webconf.example.com"},
		{"cwa-sans", W, false, "ssl1.crt", NULL, NULL, "cwa",
		 "cwa.example.com", NULL, NULL, NULL, NULL, NULL},
	};
	(void)state;
	one_table(cases, sizeof(cases) / sizeof(cases[0]));
}

/* ---- the platform model: one case on every platform ------------------- */

/* A case of the one-certificate, one-service table run once per platform
 * ("platform = ..." before c.global): the rule must fire on the platforms
 * of FIRES_ON, with severity SEV_OCS on ocs2007r2 and SEV on the others,
 * and stay silent on the rest.  FIRES_ON 0 is a good case everywhere. */
struct platform_case {
	const char *rule;
	unsigned fires_on; /* ROLES_ON bits */
	enum finding_severity sev_ocs, sev;
	struct one_case c; /* rule, sev, fires and global are set here */
};

/* Case PC on every platform, the backend's servers being SERVERS (NULL:
 * one on port 8443). */
static void platform_run(const struct platform_case *pc, const char *servers)
{
	for (int p = 0; p < CONFIG_PLATFORM_COUNT; p++) {
		struct one_case c = pc->c;
		char global[512];

		snprintf(global, sizeof(global), "platform = \"%s\"\n%s",
			 config_platform_name((enum config_platform)p),
			 pc->c.global ? pc->c.global : "");
		c.rule = pc->rule;
		c.fires = (pc->fires_on & ROLES_ON(p)) != 0;
		c.sev = p == CONFIG_PLATFORM_OCS2007R2 ? pc->sev_ocs : pc->sev;
		c.global = global;
		print_message("platform %s: ",
			      config_platform_name((enum config_platform)p));
		one_run_servers(&c, servers);
	}
}

static void platform_table(const struct platform_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		platform_run(&cases[i], NULL);
}

#define LYNC_UP ROLES_LYNC_UP
#define LYNC2013_UP ROLES_FROM(CONFIG_PLATFORM_LYNC2013)
#define NOWHERE 0u

/* crl-dp-present, aia-present: public chains only; crl-dp-present is an
 * error on OCS 2007 R2 (it requires a CDP), a warning elsewhere. */
static void test_revocation_rules(void **state)
{
	static const struct platform_case cases[] = {
		{"crl-dp-present",
		 ROLES_ALL,
		 E,
		 W,
		 {.cert = "nocdp.crt",
		  .at = "nocdp.crt",
		  .msg = "no CRL distribution point"}},
		{"crl-dp-present", NOWHERE, E, W, {.cert = "cdp-aia.crt"}},
		{"crl-dp-present", NOWHERE, E, W, {.cert = "cdp-only.crt"}},
		/* an internal chain, and a chain that does not verify */
		{"crl-dp-present",
		 NOWHERE,
		 E,
		 W,
		 {.cert = "edge-int.crt",
		  .chain = "",
		  .role = "edge-internal",
		  .fqdn = "edge01.corp.example"}},
		{"crl-dp-present",
		 NOWHERE,
		 E,
		 W,
		 {.cert = "nocdp.crt", .chain = ""}},

		{"aia-present",
		 ROLES_ALL,
		 W,
		 W,
		 {.cert = "nocdp.crt",
		  .at = "nocdp.crt",
		  .msg = "Authority Information Access"}},
		{"aia-present",
		 ROLES_ALL,
		 W,
		 W,
		 {.cert = "cdp-only.crt", .at = "cdp-only.crt"}},
		{"aia-present", NOWHERE, W, W, {.cert = "cdp-aia.crt"}},
		{"aia-present",
		 NOWHERE,
		 W,
		 W,
		 {.cert = "edge-int.crt",
		  .chain = "",
		  .role = "edge-internal",
		  .fqdn = "edge01.corp.example"}},
	};
	/* the default platform, ocs2007r2, says why it is an error there */
	static const struct one_case ocs = {.rule = "crl-dp-present",
					    .sev = E,
					    .fires = true,
					    .cert = "nocdp.crt",
					    .at = "nocdp.crt",
					    .msg = "OCS 2007 R2 requires one"};
	(void)state;
	platform_table(cases, sizeof(cases) / sizeof(cases[0]));
	one_run(&ocs);
}

/* intermediate-expiring: every platform, public and internal chains. */
static void test_intermediate_expiring(void **state)
{
	static const struct platform_case cases[] = {
		{"intermediate-expiring",
		 ROLES_ALL,
		 E,
		 E,
		 {.cert = "expired-int.crt",
		  .chain = "expired-int-chain.pem",
		  .at = "expired-int-chain.pem",
		  .msg = "edge443 Test Expired Intermediate expired on "
			 "2021-01-01"}},
		{"intermediate-expiring",
		 ROLES_ALL,
		 W,
		 W,
		 {.cert = "short-int.crt",
		  .chain = "short-int-chain.pem",
		  .at = "short-int-chain.pem",
		  .msg = "before the certificate itself"}},
		/* within warn_days, though after the leaf */
		{"intermediate-expiring",
		 ROLES_ALL,
		 W,
		 W,
		 {.cert = "ssl1.crt",
		  .global = "warn_days = 5000\n",
		  .at = "chain.pem",
		  .msg = "warn_days = 5000"}},
		{"intermediate-expiring", NOWHERE, W, W, {.cert = "ssl1.crt"}},
		/* in the cert file after the leaf: the cert line */
		{"intermediate-expiring",
		 NOWHERE,
		 W,
		 W,
		 {.cert = "cwa-deep-full.pem",
		  .chain = "",
		  .fqdn = "cwa02.corp.example"}},
	};
	(void)state;
	platform_table(cases, sizeof(cases) / sizeof(cases[0]));
}

/* public-clientauth: access-edge with federation on a public chain that
 * still carries clientAuth. */
static void test_public_clientauth(void **state)
{
	static const struct platform_case cases[] = {
		{"public-clientauth",
		 ROLES_ALL,
		 W,
		 W,
		 {.cert = "ssl1.crt",
		  .role = "access-edge",
		  .svc_extra = "  federation = true\n",
		  .at = "federation = true",
		  .msg = "2027-03-15"}},
		{"public-clientauth",
		 NOWHERE,
		 W,
		 W,
		 {.cert = "ssl1.crt", .role = "access-edge"}},
		/* no clientAuth at all: eku-client says so instead */
		{"public-clientauth",
		 NOWHERE,
		 W,
		 W,
		 {.cert = "serveronly.crt",
		  .role = "access-edge",
		  .svc_extra = "  federation = true\n"}},
		/* not a public chain (it does not verify) */
		{"public-clientauth",
		 NOWHERE,
		 W,
		 W,
		 {.cert = "ssl1.crt",
		  .chain = "",
		  .role = "access-edge",
		  .svc_extra = "  federation = true\n"}},
		{"public-clientauth",
		 NOWHERE,
		 W,
		 W,
		 {.cert = "ssl1.crt",
		  .role = "generic",
		  .svc_extra = "  federation = true\n"}},
	};
	(void)state;
	platform_table(cases, sizeof(cases) / sizeof(cases[0]));
}

/* edge-subject: Lync 2010 and later, access-edge. */
static void test_edge_subject(void **state)
{
	static const struct platform_case cases[] = {
		{"edge-subject",
		 LYNC_UP,
		 W,
		 W,
		 {.cert = "ssl2.crt",
		  .role = "access-edge",
		  .fqdn = "av.example.com",
		  .at = SVC_AT,
		  .msg = "subject CN webconf.example.com"}},
		{"edge-subject",
		 NOWHERE,
		 W,
		 W,
		 {.cert = "ssl1.crt", .role = "access-edge"}},
		{"edge-subject",
		 NOWHERE,
		 W,
		 W,
		 {.cert = "ssl2.crt",
		  .role = "webconf-edge",
		  .fqdn = "av.example.com"}},
	};
	(void)state;
	platform_table(cases, sizeof(cases) / sizeof(cases[0]));
}

#define WEBEXT "webext.example.com"

/* lyncdiscover-san and simple-url-covered: Lync 2010 and later,
 * web-services; a wildcard SAN covers them as X509_check_host says. */
static void test_reverse_proxy_names(void **state)
{
	static const struct platform_case cases[] = {
		{"simple-url-covered",
		 LYNC_UP,
		 E,
		 E,
		 {.cert = "rp.crt",
		  .role = "web-services",
		  .fqdn = WEBEXT,
		  .svc_extra = "  simple_urls = {\"meet.example.com\", "
			       "\"admin.example.com\"}\n",
		  .at = "simple_urls",
		  .msg = "admin.example.com"}},
		{"simple-url-covered",
		 NOWHERE,
		 E,
		 E,
		 {.cert = "rp.crt",
		  .role = "web-services",
		  .fqdn = WEBEXT,
		  .svc_extra = "  simple_urls = {\"meet.example.com\", "
			       "\"DIALIN.example.com\"}\n"}},
		{"simple-url-covered",
		 NOWHERE,
		 E,
		 E,
		 {.cert = "web.crt",
		  .role = "web-services",
		  .fqdn = "www.example.com",
		  .svc_extra = "  simple_urls = {\"meet.example.com\"}\n"}},

		{"lyncdiscover-san",
		 LYNC_UP,
		 W,
		 W,
		 {.cert = "rp.crt",
		  .role = "web-services",
		  .fqdn = WEBEXT,
		  .svc_extra = "  sip_domains = {\"example.com\", "
			       "\"example.net\", \"example.org\"}\n",
		  .at = "sip_domains",
		  .msg = "lyncdiscover.example.net"}},
		{"lyncdiscover-san",
		 NOWHERE,
		 W,
		 W,
		 {.cert = "rp.crt",
		  .role = "web-services",
		  .fqdn = WEBEXT,
		  .svc_extra = "  sip_domains = {\"example.com\", "
			       "\"example.org\"}\n"}},
		{"lyncdiscover-san",
		 NOWHERE,
		 W,
		 W,
		 {.cert = "web.crt",
		  .role = "web-services",
		  .fqdn = "www.example.com",
		  .svc_extra = "  sip_domains = {\"example.com\"}\n"}},
		/* sip_domains of an Access Edge are sip-domain-san's */
		{"lyncdiscover-san",
		 NOWHERE,
		 W,
		 W,
		 {.cert = "ssl1.crt",
		  .role = "access-edge",
		  .svc_extra = "  sip_domains = {\"example.com\"}\n"}},
	};
	(void)state;
	platform_table(cases, sizeof(cases) / sizeof(cases[0]));
}

/* wildcard-placement: Lync 2013 and later, every role. */
static void test_wildcard_placement(void **state)
{
	static const struct platform_case cases[] = {
		{"wildcard-placement",
		 LYNC2013_UP,
		 E,
		 E,
		 {.cert = "wildcard.crt",
		  .role = "web-services",
		  .fqdn = "www.example.com",
		  .at = SVC_AT,
		  .msg = "subject CN *.example.com"}},
		{"wildcard-placement",
		 LYNC2013_UP,
		 E,
		 E,
		 {.cert = "wildcard.crt",
		  .role = "generic",
		  .fqdn = "www.example.com",
		  .at = SVC_AT}},
		/* *.example.com, www.example.com, sip.example.com */
		{"wildcard-placement",
		 LYNC2013_UP,
		 W,
		 W,
		 {.cert = "badorder.crt",
		  .role = "generic",
		  .at = SVC_AT,
		  .msg = "comes before sip.example.com"}},
		{"wildcard-placement",
		 LYNC2013_UP,
		 W,
		 W,
		 {.cert = "badorder.crt",
		  .role = "web-services",
		  .fqdn = "other.example.com",
		  .at = SVC_AT,
		  .msg = "comes before www.example.com"}},
		/* www.example.com, *.example.com */
		{"wildcard-placement",
		 NOWHERE,
		 W,
		 W,
		 {.cert = "web.crt",
		  .role = "web-services",
		  .fqdn = "www.example.com"}},
		{"wildcard-placement",
		 NOWHERE,
		 W,
		 W,
		 {.cert = "web.crt",
		  .role = "web-services",
		  .fqdn = "meet.example.com"}},
		{"wildcard-placement",
		 NOWHERE,
		 W,
		 W,
		 {.cert = "ssl1.crt", .role = "access-edge"}},
	};
	(void)state;
	platform_table(cases, sizeof(cases) / sizeof(cases[0]));
}

/* wildcard-forbidden keeps its roles on every platform, allows wildcard
 * SANs on the reverse proxy's roles, and leaves a wildcard CN to
 * wildcard-placement from Lync 2013 on. */
static void test_wildcard_forbidden_platforms(void **state)
{
	static const struct platform_case cases[] = {
		{"wildcard-forbidden",
		 ROLES_ALL,
		 E,
		 E,
		 {.cert = "web.crt",
		  .role = "access-edge",
		  .fqdn = "www.example.com",
		  .at = SVC_AT}},
		{"wildcard-forbidden",
		 ROLES_ALL,
		 E,
		 E,
		 {.cert = "web.crt",
		  .role = "webconf-edge",
		  .fqdn = "www.example.com",
		  .at = SVC_AT}},
		{"wildcard-forbidden",
		 NOWHERE,
		 E,
		 E,
		 {.cert = "web.crt",
		  .role = "web-services",
		  .fqdn = "www.example.com"}},
		{"wildcard-forbidden",
		 NOWHERE,
		 E,
		 E,
		 {.cert = "web.crt",
		  .role = "web-services",
		  .fqdn = "lyncdiscover.example.com"}},
		{"wildcard-forbidden",
		 NOWHERE,
		 E,
		 E,
		 {.cert = "web.crt",
		  .role = "office-web-apps",
		  .fqdn = "www.example.com"}},
		{"wildcard-forbidden",
		 ROLES_ALL & ~LYNC2013_UP,
		 W,
		 W,
		 {.cert = "wildcard.crt",
		  .role = "web-services",
		  .fqdn = "www.example.com",
		  .at = SVC_AT}},
		{"wildcard-forbidden",
		 ROLES_ALL & ~LYNC2013_UP,
		 W,
		 W,
		 {.cert = "wildcard.crt",
		  .role = "web",
		  .fqdn = "www.example.com",
		  .at = SVC_AT}},
	};
	(void)state;
	platform_table(cases, sizeof(cases) / sizeof(cases[0]));
}

/* The rules that said "platform == lync" mean Lync 2010 and later; and
 * fqdn-covered applies to the new roles on every platform. */
static void test_platform_model(void **state)
{
	static const struct platform_case cases[] = {
		{"cn-is-fqdn",
		 ROLES_OCS,
		 E,
		 E,
		 {.cert = "all.crt",
		  .role = "webconf-edge",
		  .fqdn = "webconf.example.com",
		  .at = SVC_AT}},
		{"cn-is-fqdn",
		 ROLES_OCS,
		 W,
		 W,
		 {.cert = "all.crt",
		  .role = "av-edge",
		  .fqdn = "av.example.com",
		  .at = SVC_AT}},
		{"cn-is-fqdn",
		 NOWHERE,
		 E,
		 E,
		 {.cert = "ssl2.crt",
		  .role = "webconf-edge",
		  .fqdn = "webconf.example.com"}},

		{"fqdn-covered",
		 ROLES_ALL,
		 E,
		 E,
		 {.cert = "rp.crt",
		  .role = "web-services",
		  .fqdn = "pool.example.net",
		  .at = SVC_AT}},
		{"fqdn-covered",
		 NOWHERE,
		 E,
		 E,
		 {.cert = "rp.crt", .role = "web-services", .fqdn = WEBEXT}},
		{"fqdn-covered",
		 ROLES_ALL,
		 E,
		 E,
		 {.cert = "ssl2.crt",
		  .role = "office-web-apps",
		  .fqdn = "oos.example.com",
		  .at = SVC_AT}},
		{"fqdn-covered",
		 NOWHERE,
		 E,
		 E,
		 {.cert = "web.crt",
		  .role = "office-web-apps",
		  .fqdn = "oos.example.com"}},
	};
	(void)state;
	platform_table(cases, sizeof(cases) / sizeof(cases[0]));
}

/* webservices-port: Lync 2010 and later, web-services whose backend
 * servers listen on 443 or 80 (the internal web site). */
static void test_webservices_port(void **state)
{
	static const struct {
		struct platform_case pc;
		const char *servers; /* of the backend */
	} cases[] = {
		{{"webservices-port",
		  LYNC_UP,
		  E,
		  E,
		  {.cert = "rp.crt",
		   .role = "web-services",
		   .fqdn = WEBEXT,
		   .at = "servers = ",
		   .msg = "on 10.0.0.5:443;"}},
		 "\"10.0.0.5:443\", \"10.0.0.6:4443\""},
		{{"webservices-port",
		  LYNC_UP,
		  E,
		  E,
		  {.cert = "rp.crt",
		   .role = "web-services",
		   .fqdn = WEBEXT,
		   .at = "servers = ",
		   .msg = "10.0.0.5:80, 10.0.0.6:443"}},
		 "\"10.0.0.5:80\", \"10.0.0.6:443\""},
		{{"webservices-port",
		  NOWHERE,
		  E,
		  E,
		  {.cert = "rp.crt", .role = "web-services", .fqdn = WEBEXT}},
		 "\"10.0.0.5:4443\", \"10.0.0.6:8080\""},
		/* another role may well forward to 443 */
		{{"webservices-port",
		  NOWHERE,
		  E,
		  E,
		  {.cert = "rp.crt",
		   .role = "office-web-apps",
		   .fqdn = WEBEXT}},
		 "\"10.0.0.5:443\""},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		platform_run(&cases[i].pc, cases[i].servers);
}

/* platform-mismatch: a role the platform does not have, on its line. */
static void test_platform_mismatch(void **state)
{
	static const struct platform_case cases[] = {
		{"platform-mismatch",
		 ROLES_OCS,
		 W,
		 W,
		 {.cert = "rp.crt",
		  .role = "web-services",
		  .fqdn = WEBEXT,
		  .at = "role = ",
		  .msg = "set platform"}},
		{"platform-mismatch",
		 ROLES_OCS,
		 W,
		 W,
		 {.cert = "rp.crt",
		  .role = "office-web-apps",
		  .fqdn = WEBEXT,
		  .at = "role = "}},
		{"platform-mismatch",
		 LYNC_UP,
		 W,
		 W,
		 {.cert = "ssl1.crt",
		  .role = "cwa",
		  .fqdn = "cwa.example.com",
		  .at = "role = ",
		  .msg = "role = \"web-services\""}},
		{"platform-mismatch",
		 NOWHERE,
		 W,
		 W,
		 {.cert = "web.crt", .role = "web", .fqdn = "www.example.com"}},
		{"platform-mismatch",
		 NOWHERE,
		 W,
		 W,
		 {.cert = "ssl1.crt", .role = "access-edge"}},
	};
	(void)state;
	platform_table(cases, sizeof(cases) / sizeof(cases[0]));
}

/* ---- hand-written plans ----------------------------------------------- */

static void test_cert_required(void **state)
{
	static const char tmpl[] = "trust_file = \"@PKI@/trust.pem\"\n"
				   "backend b {\n"
				   "  servers = {\"127.0.0.1:8443\"}\n"
				   "}\n"
				   "service t {\n"
				   "  role = \"generic\"\n"
				   "  fqdn = \"t.example.com\"\n"
				   "  listen = \"127.0.0.1:443\"\n"
				   "  mode = \"terminate\"\n"
				   "  backend = \"b\"\n"
				   "}\n"
				   "service p {\n"
				   "  role = \"web\"\n"
				   "  fqdn = \"p.example.com\"\n"
				   "  listen = \"127.0.0.2:443\"\n"
				   "  mode = \"passthrough\"\n"
				   "  backend = \"b\"\n"
				   "}\n"
				   "service av {\n"
				   "  role = \"av-edge\"\n"
				   "  fqdn = \"av.example.com\"\n"
				   "  listen = \"127.0.0.3:443\"\n"
				   "  mode = \"passthrough\"\n"
				   "  backend = \"b\"\n"
				   "}\n";
	struct run r;

	(void)state;
	run(&r, tmpl);
	assert_int_equal(count(&r, "cert-required"), 2);
	for (size_t i = 0; i < r.f.n; i++) {
		const struct finding *f = &r.f.items[i];
		if (strcmp(f->rule, "cert-required") != 0)
			continue;
		if (f->line == line_of(r.text, "service t {")) {
			assert_int_equal(f->severity, FINDING_ERROR);
			assert_non_null(strstr(f->message, "certificate = "));
		} else {
			assert_int_equal(f->line,
					 line_of(r.text, "service p {"));
			assert_int_equal(f->severity, FINDING_WARN);
		}
	}
	run_free(&r);
}

/* backend-required: every service, whatever its mode or role, names a
 * backend; without one `run` would accept connections it can only drop (an
 * http service crashed).  One error per service, on its section line. */
static void test_backend_required(void **state)
{
	static const char tmpl[] = "trust_file = \"@PKI@/trust.pem\"\n"
				   "certificate c {\n"
				   "  cert = \"@PKI@/ssl1.crt\"\n"
				   "  chain = \"@PKI@/chain.pem\"\n"
				   "  key = \"@PKI@/ssl1.key\"\n"
				   "}\n"
				   "backend b {\n"
				   "  servers = {\"127.0.0.1:8443\"}\n"
				   "}\n"
				   "service with {\n"
				   "  fqdn = \"sip.example.com\"\n"
				   "  listen = \"127.0.0.1:443\"\n"
				   "  certificate = \"c\"\n"
				   "  mode = \"terminate\"\n"
				   "  backend = \"b\"\n"
				   "}\n"
				   "service web {\n"
				   "  role = \"cwa\"\n"
				   "  fqdn = \"cwa.example.com\"\n"
				   "  listen = \"127.0.0.2:443\"\n"
				   "  certificate = \"c\"\n"
				   "  mode = \"terminate\"\n"
				   "  http {\n"
				   "  }\n"
				   "}\n"
				   "service pass {\n"
				   "  role = \"av-edge\"\n"
				   "  fqdn = \"av.example.com\"\n"
				   "  listen = \"127.0.0.3:443\"\n"
				   "  mode = \"passthrough\"\n"
				   "}\n";
	static const char *const without[] = {"service web {",
					      "service pass {"};
	struct run r;

	(void)state;
	run(&r, tmpl);
	assert_int_equal(count(&r, "backend-required"), 2);
	for (size_t i = 0; i < 2; i++) {
		const struct finding *f = find_at(&r, "backend-required",
						  line_of(r.text, without[i]));

		if (!f) {
			dump(&r);
			fail_msg("no backend-required for %s", without[i]);
		}
		assert_int_equal(f->severity, FINDING_ERROR);
		assert_non_null(strstr(f->message, "names no backend"));
		assert_non_null(strstr(f->message, "— add backend = \"NAME\""));
	}
	assert_string_equal(find_at(&r, "backend-required",
				    line_of(r.text, "service web {"))
				    ->subject,
			    "service \"web\"");
	assert_true(r.f.errors >= 2);
	run_free(&r);
}

static void test_backend_verify(void **state)
{
	static const char base[] = "trust_file = \"@PKI@/trust.pem\"\n"
				   "certificate c {\n"
				   "  cert = \"@PKI@/ssl1.crt\"\n"
				   "  chain = \"@PKI@/chain.pem\"\n"
				   "  key = \"@PKI@/ssl1.key\"\n"
				   "}\n"
				   "backend cwa {\n"
				   "  servers = {\"127.0.0.1:8443\"}\n"
				   "  tls = true\n"
				   "%s"
				   "}\n"
				   "service cwa {\n"
				   "  role = \"cwa\"\n"
				   "  fqdn = \"cwa.example.com\"\n"
				   "  listen = \"127.0.0.1:443\"\n"
				   "  certificate = \"c\"\n"
				   "  mode = \"%s\"\n"
				   "  backend = \"cwa\"\n"
				   "}\n";
	static const struct {
		const char *backend, *mode;
		bool fires;
		enum finding_severity sev;
		const char *at;
	} cases[] = {
		{"", "reencrypt", true, FINDING_ERROR, "backend cwa {"},
		{"  verify_name = \"cwa01.corp.example\"\n", "reencrypt", true,
		 FINDING_ERROR, "backend cwa {"},
		{"  trust_file = \"@PKI@/internal-ca.crt\"\n", "reencrypt",
		 true, FINDING_ERROR, "backend cwa {"},
		{"  verify = false\n", "reencrypt", true, FINDING_WARN,
		 "verify = false"},
		{"  trust_file = \"@PKI@/internal-ca.crt\"\n"
		 "  verify_name = \"cwa01.corp.example\"\n",
		 "reencrypt", false, FINDING_ERROR, NULL},
		/* not bridging: nothing to verify */
		{"", "terminate", false, FINDING_ERROR, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char tmpl[2048];
		struct run r;

		snprintf(tmpl, sizeof(tmpl), base, cases[i].backend,
			 cases[i].mode);
		print_message("case %zu\n", i);
		run(&r, tmpl);
		if (cases[i].fires) {
			const struct finding *f =
				must_find(&r, "backend-verify");
			assert_int_equal(count(&r, "backend-verify"), 1);
			assert_int_equal(f->severity, cases[i].sev);
			assert_int_equal(f->line, line_of(r.text, cases[i].at));
			assert_string_equal(f->subject, "service \"cwa\"");
		} else {
			must_not_find(&r, "backend-verify");
		}
		run_free(&r);
	}
}

/* Services without certificates (av-edge passthrough) on LISTEN-lists. */
static void test_listen_unique(void **state)
{
	static const char tmpl[] =
		"trust_file = \"@PKI@/trust.pem\"\n"
		"backend b {\n"
		"  servers = {\"127.0.0.1:8443\"}\n"
		"}\n"
		"service a {\n"
		"  role = \"av-edge\"\n"
		"  fqdn = \"a.example.com\"\n"
		"  listen = \"127.0.0.1:443\"\n"
		"  mode = \"passthrough\"\n"
		"  backend = \"b\"\n"
		"}\n"
		"service b {\n"
		"  role = \"av-edge\"\n"
		"  fqdn = \"b.example.com\"\n"
		"  listen = {\"127.0.0.2:443\", \"127.0.0.1:443\"}\n"
		"  mode = \"passthrough\"\n"
		"  backend = \"b\"\n"
		"}\n"
		"service c {\n"
		"  role = \"av-edge\"\n"
		"  fqdn = \"c.example.com\"\n"
		"  listen = {\"127.0.0.3:443\", \"127.0.0.3:8443\", "
		"\"[::1]:443\", \"127.0.0.3:443\"}\n"
		"  mode = \"passthrough\"\n"
		"  backend = \"b\"\n"
		"}\n"
		"service d {\n"
		"  role = \"av-edge\"\n"
		"  fqdn = \"d.example.com\"\n"
		"  listen = \"0.0.0.0:8443\"\n"
		"  mode = \"passthrough\"\n"
		"  backend = \"b\"\n"
		"}\n"
		"service e {\n"
		"  role = \"av-edge\"\n"
		"  fqdn = \"e.example.com\"\n"
		"  listen = {\"[::2]:443\", \"127.0.0.5:444\"}\n"
		"  mode = \"passthrough\"\n"
		"  backend = \"b\"\n"
		"}\n";
	int want[3];
	struct run r;
	size_t k = 0;

	(void)state;
	run(&r, tmpl);
	/* b reuses a's address; c lists one address twice; d's wildcard
	 * overlaps c's 127.0.0.3:8443.  e ([::2] vs [::1]) is fine. */
	want[0] = line_of_nth(r.text, "listen = ", 1);
	want[1] = line_of_nth(r.text, "listen = ", 2);
	want[2] = line_of_nth(r.text, "listen = ", 3);
	if (count(&r, "listen-unique") != 3) {
		dump(&r);
		fail_msg("listen-unique fired %zu times, want 3",
			 count(&r, "listen-unique"));
	}
	for (size_t i = 0; i < r.f.n; i++) {
		const struct finding *f = &r.f.items[i];
		if (strcmp(f->rule, "listen-unique") != 0)
			continue;
		assert_int_equal(f->severity, FINDING_ERROR);
		assert_int_equal(f->line, want[k]);
		k++;
	}
	const struct finding *f = must_find(&r, "listen-unique");
	assert_non_null(strstr(f->message, "service \"a\""));
	assert_non_null(strstr(f->message, "127.0.0.1:443"));
	must_not_find(&r, "fqdn-port-unique");
	run_free(&r);
}

static void test_fqdn_port_unique(void **state)
{
	static const char tmpl[] =
		"trust_file = \"@PKI@/trust.pem\"\n"
		"backend b {\n"
		"  servers = {\"127.0.0.1:8443\"}\n"
		"}\n"
		"service a {\n"
		"  role = \"av-edge\"\n"
		"  fqdn = \"x.example.com\"\n"
		"  listen = {\"127.0.0.1:443\", \"[::1]:443\"}\n"
		"  mode = \"passthrough\"\n"
		"  backend = \"b\"\n"
		"}\n"
		"service other-port {\n"
		"  role = \"av-edge\"\n"
		"  fqdn = \"x.example.com\"\n"
		"  listen = \"127.0.0.2:8443\"\n"
		"  mode = \"passthrough\"\n"
		"  backend = \"b\"\n"
		"}\n"
		"service same {\n"
		"  role = \"av-edge\"\n"
		"  fqdn = \"X.Example.com\"\n"
		"  listen = \"127.0.0.3:443\"\n"
		"  mode = \"passthrough\"\n"
		"  backend = \"b\"\n"
		"}\n";
	struct run r;

	(void)state;
	run(&r, tmpl);
	assert_int_equal(count(&r, "fqdn-port-unique"), 1);
	const struct finding *f = must_find(&r, "fqdn-port-unique");
	assert_int_equal(f->severity, FINDING_ERROR);
	assert_int_equal(f->line, line_of(r.text, "X.Example.com"));
	assert_string_equal(f->subject, "service \"same\"");
	assert_non_null(strstr(f->message, "service \"a\""));
	must_not_find(&r, "listen-unique");
	run_free(&r);
}

static void test_tls_legacy(void **state)
{
	static const char tmpl[] = "trust_file = \"@PKI@/trust.pem\"\n"
				   "tls_min = \"1.1\"\n"
				   "backend b {\n"
				   "  servers = {\"127.0.0.1:8443\"}\n"
				   "}\n"
				   "service old {\n"
				   "  role = \"av-edge\"\n"
				   "  fqdn = \"old.example.com\"\n"
				   "  listen = \"127.0.0.1:443\"\n"
				   "  mode = \"passthrough\"\n"
				   "  backend = \"b\"\n"
				   "  tls_min = \"1.0\"\n"
				   "}\n"
				   "service inherits {\n"
				   "  role = \"av-edge\"\n"
				   "  fqdn = \"inherits.example.com\"\n"
				   "  listen = \"127.0.0.2:443\"\n"
				   "  mode = \"passthrough\"\n"
				   "  backend = \"b\"\n"
				   "}\n"
				   "service modern {\n"
				   "  role = \"av-edge\"\n"
				   "  fqdn = \"modern.example.com\"\n"
				   "  listen = \"127.0.0.3:443\"\n"
				   "  mode = \"passthrough\"\n"
				   "  backend = \"b\"\n"
				   "  tls_min = \"1.2\"\n"
				   "}\n";
	struct run r;
	bool seen_old = false, seen_inherits = false;

	(void)state;
	run(&r, tmpl);
	assert_int_equal(count(&r, "tls-legacy"), 2);
	for (size_t i = 0; i < r.f.n; i++) {
		const struct finding *f = &r.f.items[i];
		if (strcmp(f->rule, "tls-legacy") != 0)
			continue;
		assert_int_equal(f->severity, FINDING_WARN);
		if (strcmp(f->subject, "service \"old\"") == 0) {
			assert_int_equal(f->line,
					 line_of(r.text, "tls_min = \"1.0\""));
			assert_non_null(strstr(f->message, "TLS 1.0"));
			seen_old = true;
		} else {
			assert_string_equal(f->subject, "service \"inherits\"");
			assert_int_equal(f->line,
					 line_of(r.text, "tls_min = \"1.1\""));
			seen_inherits = true;
		}
	}
	assert_true(seen_old && seen_inherits);
	run_free(&r);
}

/* The classic trap: one SAN certificate for every service on port 443. */
static const char all_layout[] = "trust_file = \"@PKI@/trust.pem\"\n"
				 "%s"
				 "certificate all {\n"
				 "  cert = \"@PKI@/all.crt\"\n"
				 "  chain = \"@PKI@/chain.pem\"\n"
				 "  key = \"@PKI@/all.key\"\n"
				 "}\n"
				 "backend edge {\n"
				 "  servers = {\"10.0.0.5:443\"}\n"
				 "}\n"
				 "backend cwa {\n"
				 "  servers = {\"10.0.0.7:443\"}\n"
				 "  tls = true\n"
				 "  trust_file = \"@PKI@/internal-ca.crt\"\n"
				 "  verify_name = \"cwa01.corp.example\"\n"
				 "}\n"
				 "service access {\n"
				 "  role = \"access-edge\"\n"
				 "  fqdn = \"sip.example.com\"\n"
				 "  listen = \"127.0.0.1:443\"\n"
				 "  certificate = \"all\"\n"
				 "  mode = \"passthrough\"\n"
				 "  backend = \"edge\"\n"
				 "}\n"
				 "service webconf {\n"
				 "  role = \"webconf-edge\"\n"
				 "  fqdn = \"webconf.example.com\"\n"
				 "  listen = \"127.0.0.2:443\"\n"
				 "  certificate = \"all\"\n"
				 "  mode = \"passthrough\"\n"
				 "  backend = \"edge\"\n"
				 "}\n"
				 "service av {\n"
				 "  role = \"av-edge\"\n"
				 "  fqdn = \"av.example.com\"\n"
				 "  listen = \"127.0.0.3:443\"\n"
				 "  certificate = \"all\"\n"
				 "  mode = \"passthrough\"\n"
				 "  backend = \"edge\"\n"
				 "}\n"
				 "service cwa {\n"
				 "  role = \"cwa\"\n"
				 "  fqdn = \"cwa.example.com\"\n"
				 "  listen = \"127.0.0.4:443\"\n"
				 "  certificate = \"all\"\n"
				 "  mode = \"reencrypt\"\n"
				 "  backend = \"cwa\"\n"
				 "}\n";

static void test_cn_shared(void **state)
{
	char tmpl[4096];
	struct run r;

	(void)state;
	snprintf(tmpl, sizeof(tmpl), all_layout, "");
	run(&r, tmpl);
	assert_int_equal(count(&r, "cn-shared"), 1);
	const struct finding *f = must_find(&r, "cn-shared");
	assert_int_equal(f->severity, FINDING_ERROR);
	/* on the later service (webconf), naming the earlier one */
	assert_int_equal(f->line,
			 line_of_nth(r.text, "certificate = \"all\"", 1));
	assert_string_equal(f->subject, "service \"webconf\"");
	assert_non_null(strstr(f->message, "service \"access\""));
	assert_non_null(strstr(f->message, "edge443 plan"));
	assert_non_null(strstr(f->message, "CN"));
	assert_true(r.f.errors > 0);
	run_free(&r);

	/* Lync no longer takes the FQDN from the CN. */
	snprintf(tmpl, sizeof(tmpl), all_layout, "platform = \"lync\"\n");
	run(&r, tmpl);
	must_not_find(&r, "cn-shared");
	must_not_find(&r, "cn-is-fqdn");
	run_free(&r);
}

/* cn-shared, the classic trap, is OCS 2007 R2's only: Lync 2010 and later
 * serve Access and Web Conferencing Edge with one certificate. */
static void test_cn_shared_platforms(void **state)
{
	(void)state;
	for (int p = 0; p < CONFIG_PLATFORM_COUNT; p++) {
		char tmpl[4096], global[64];
		struct run r;

		snprintf(global, sizeof(global), "platform = \"%s\"\n",
			 config_platform_name((enum config_platform)p));
		snprintf(tmpl, sizeof(tmpl), all_layout, global);
		print_message("platform %s\n", global);
		run(&r, tmpl);
		if (p == CONFIG_PLATFORM_OCS2007R2) {
			assert_int_equal(count(&r, "cn-shared"), 1);
		} else {
			must_not_find(&r, "cn-shared");
			must_not_find(&r, "cn-is-fqdn");
		}
		run_free(&r);
	}
}

/* The Skype for Business 2019 layout: one Edge external certificate
 * (subject = Access Edge FQDN, SANs for Web Conferencing and sip.<domain>)
 * for Access, Web Conferencing and A/V Edge, and a reverse-proxy
 * certificate for the external web services, simple URLs and
 * lyncdiscover, published to port 4443.  No error on any Lync or SfB
 * platform; on OCS 2007 R2 the shared certificate is the classic trap. */
static void test_sfb_layout(void **state)
{
	static const char layout[] =
		"trust_file = \"@PKI@/trust.pem\"\n"
		"platform = \"%s\"\n"
		"certificate edge {\n"
		"  cert = \"@PKI@/all.crt\"\n"
		"  chain = \"@PKI@/chain.pem\"\n"
		"}\n"
		"certificate rp {\n"
		"  cert = \"@PKI@/rp.crt\"\n"
		"  chain = \"@PKI@/chain.pem\"\n"
		"  key = \"@PKI@/rp.key\"\n"
		"}\n"
		"backend edge {\n"
		"  servers = {\"10.0.0.5:443\"}\n"
		"}\n"
		"backend pool {\n"
		"  servers = {\"10.0.1.5:4443\", \"10.0.1.6:4443\"}\n"
		"  tls = true\n"
		"  trust_file = \"@PKI@/internal-ca.crt\"\n"
		"  verify_name = \"cwa01.corp.example\"\n"
		"}\n"
		"service access {\n"
		"  role = \"access-edge\"\n"
		"  fqdn = \"sip.example.com\"\n"
		"  listen = \"127.0.0.1:443\"\n"
		"  certificate = \"edge\"\n"
		"  mode = \"passthrough\"\n"
		"  backend = \"edge\"\n"
		"  sip_domains = {\"example.com\"}\n"
		"}\n"
		"service webconf {\n"
		"  role = \"webconf-edge\"\n"
		"  fqdn = \"webconf.example.com\"\n"
		"  listen = \"127.0.0.2:443\"\n"
		"  certificate = \"edge\"\n"
		"  mode = \"passthrough\"\n"
		"  backend = \"edge\"\n"
		"}\n"
		"service av {\n"
		"  role = \"av-edge\"\n"
		"  fqdn = \"av.example.com\"\n"
		"  listen = \"127.0.0.3:443\"\n"
		"  certificate = \"edge\"\n"
		"  mode = \"passthrough\"\n"
		"  backend = \"edge\"\n"
		"}\n"
		"service webext {\n"
		"  role = \"web-services\"\n"
		"  fqdn = \"webext.example.com\"\n"
		"  listen = \"127.0.0.4:443\"\n"
		"  certificate = \"rp\"\n"
		"  mode = \"reencrypt\"\n"
		"  backend = \"pool\"\n"
		"  sip_domains = {\"example.com\", \"example.org\"}\n"
		"  simple_urls = {\"meet.example.com\", "
		"\"dialin.example.com\"}\n"
		"}\n";
	static const char *const silent[] = {
		"edge-subject",
		"lyncdiscover-san",
		"simple-url-covered",
		"wildcard-placement",
		"webservices-port",
		"platform-mismatch",
		"crl-dp-present",
		"aia-present",
		"intermediate-expiring",
		"cn-shared",
		"cn-is-fqdn",
		"fqdn-covered",
	};

	(void)state;
	for (int p = 0; p < CONFIG_PLATFORM_COUNT; p++) {
		const char *name =
			config_platform_name((enum config_platform)p);
		char tmpl[4096];
		struct run r;

		snprintf(tmpl, sizeof(tmpl), layout, name);
		print_message("platform %s\n", name);
		run(&r, tmpl);
		if (p == CONFIG_PLATFORM_OCS2007R2) {
			must_find(&r, "cn-shared");
			must_find(&r, "platform-mismatch");
			run_free(&r);
			continue;
		}
		if (r.f.errors != 0) {
			dump(&r);
			fail_msg("the SfB layout has %zu errors on %s",
				 r.f.errors, name);
		}
		for (size_t i = 0; i < sizeof(silent) / sizeof(silent[0]); i++)
			must_not_find(&r, silent[i]);
		run_free(&r);
	}
}

/* Two certificate sections, same CN: the trap again. */
static void test_cn_shared_same_cn(void **state)
{
	static const char tmpl[] = "trust_file = \"@PKI@/trust.pem\"\n"
				   "certificate one {\n"
				   "  cert = \"@PKI@/ssl1.crt\"\n"
				   "  chain = \"@PKI@/chain.pem\"\n"
				   "}\n"
				   "certificate two {\n"
				   "  cert = \"@PKI@/all.crt\"\n"
				   "  chain = \"@PKI@/chain.pem\"\n"
				   "}\n"
				   "backend edge {\n"
				   "  servers = {\"10.0.0.5:443\"}\n"
				   "}\n"
				   "service access {\n"
				   "  role = \"access-edge\"\n"
				   "  fqdn = \"sip.example.com\"\n"
				   "  listen = \"127.0.0.1:443\"\n"
				   "  certificate = \"one\"\n"
				   "  mode = \"passthrough\"\n"
				   "  backend = \"edge\"\n"
				   "}\n"
				   "service webconf {\n"
				   "  role = \"webconf-edge\"\n"
				   "  fqdn = \"webconf.example.com\"\n"
				   "  listen = \"127.0.0.2:443\"\n"
				   "  certificate = \"two\"\n"
				   "  mode = \"passthrough\"\n"
				   "  backend = \"edge\"\n"
				   "}\n"
				   "service webconf2 {\n"
				   "  role = \"webconf-edge\"\n"
				   "  fqdn = \"webconf2.example.com\"\n"
				   "  listen = \"127.0.0.3:8443\"\n"
				   "  certificate = \"two\"\n"
				   "  mode = \"passthrough\"\n"
				   "  backend = \"edge\"\n"
				   "}\n";
	struct run r;

	(void)state;
	run(&r, tmpl);
	/* webconf2 is on another port: not the trap (cn-is-fqdn covers it) */
	assert_int_equal(count(&r, "cn-shared"), 1);
	const struct finding *f = must_find(&r, "cn-shared");
	assert_int_equal(f->severity, FINDING_ERROR);
	assert_int_equal(f->line, line_of(r.text, "certificate = \"two\""));
	assert_non_null(strstr(f->message, "sip.example.com"));
	run_free(&r);
}

static void test_ref_unknown_and_unused(void **state)
{
	static const char tmpl[] = "trust_file = \"@PKI@/trust.pem\"\n"
				   "certificate spare {\n"
				   "  cert = \"@PKI@/ssl2.crt\"\n"
				   "  chain = \"@PKI@/chain.pem\"\n"
				   "}\n"
				   "backend b {\n"
				   "  servers = {\"127.0.0.1:8443\"}\n"
				   "}\n"
				   "backend idle {\n"
				   "  servers = {\"127.0.0.1:8444\"}\n"
				   "}\n"
				   "service s {\n"
				   "  role = \"web\"\n"
				   "  fqdn = \"www.example.com\"\n"
				   "  listen = \"127.0.0.1:443\"\n"
				   "  certificate = \"nope\"\n"
				   "  mode = \"passthrough\"\n"
				   "  backend = \"b\"\n"
				   "}\n"
				   "service t {\n"
				   "  role = \"av-edge\"\n"
				   "  fqdn = \"av.example.com\"\n"
				   "  listen = \"127.0.0.2:443\"\n"
				   "  mode = \"passthrough\"\n"
				   "  backend = \"nowhere\"\n"
				   "}\n";
	struct run r;

	(void)state;
	run(&r, tmpl);
	assert_int_equal(count(&r, "ref-unknown"), 2);
	const struct finding *f = must_find(&r, "ref-unknown");
	assert_int_equal(f->severity, FINDING_ERROR);
	assert_int_equal(f->line, line_of(r.text, "certificate = \"nope\""));
	f = find_at(&r, "ref-unknown",
		    line_of(r.text, "backend = \"nowhere\""));
	assert_non_null(f);
	assert_int_equal(f->severity, FINDING_ERROR);
	/* the per-service certificate rules are skipped for "nope" */
	must_not_find(&r, "fqdn-covered");
	must_not_find(&r, "cert-required");

	assert_int_equal(count(&r, "unused"), 2);
	f = must_find(&r, "unused");
	assert_int_equal(f->severity, FINDING_WARN);
	assert_int_equal(f->line, line_of(r.text, "certificate spare {"));
	assert_string_equal(f->subject, "certificate \"spare\"");
	f = find_at(&r, "unused", line_of(r.text, "backend idle {"));
	assert_non_null(f);
	assert_int_equal(f->severity, FINDING_WARN);
	assert_string_equal(f->subject, "backend \"idle\"");
	run_free(&r);
}

/* The classic OCS 2007 R2 layout (the README's service map): no errors. */
static void test_classic_layout(void **state)
{
	static const char tmpl[] =
		"trust_file = \"@PKI@/trust.pem\"\n"
		"certificate ssl1 {\n"
		"  cert = \"@PKI@/ssl1.crt\"\n"
		"  chain = \"@PKI@/chain.pem\"\n"
		"  key = \"@PKI@/ssl1.key\"\n"
		"}\n"
		"certificate ssl2 {\n"
		"  cert = \"@PKI@/ssl2.crt\"\n"
		"  chain = \"@PKI@/chain.pem\"\n"
		"}\n"
		"backend edge {\n"
		"  servers = {\"10.0.0.5:443\", \"10.0.0.6:443\"}\n"
		"}\n"
		"backend cwa {\n"
		"  servers = {\"10.0.0.7:443\"}\n"
		"  tls = true\n"
		"  trust_file = \"@PKI@/internal-ca.crt\"\n"
		"  verify_name = \"cwa01.corp.example\"\n"
		"}\n"
		"service access {\n"
		"  role = \"access-edge\"\n"
		"  fqdn = \"sip.example.com\"\n"
		"  listen = \"127.0.0.10:443\"\n"
		"  certificate = \"ssl1\"\n"
		"  mode = \"passthrough\"\n"
		"  backend = \"edge\"\n"
		"  sip_domains = {\"example.com\", \"example.org\"}\n"
		"  federation = true\n"
		"}\n"
		"service cwa {\n"
		"  role = \"cwa\"\n"
		"  fqdn = \"cwa.example.com\"\n"
		"  listen = \"127.0.0.13:443\"\n"
		"  certificate = \"ssl1\"\n"
		"  mode = \"reencrypt\"\n"
		"  backend = \"cwa\"\n"
		"}\n"
		"service webconf {\n"
		"  role = \"webconf-edge\"\n"
		"  fqdn = \"webconf.example.com\"\n"
		"  listen = \"127.0.0.11:443\"\n"
		"  certificate = \"ssl2\"\n"
		"  mode = \"passthrough\"\n"
		"  backend = \"edge\"\n"
		"}\n"
		"service av {\n"
		"  role = \"av-edge\"\n"
		"  fqdn = \"av.example.com\"\n"
		"  listen = \"127.0.0.12:443\"\n"
		"  certificate = \"ssl2\"\n"
		"  mode = \"passthrough\"\n"
		"  backend = \"edge\"\n"
		"}\n";
	struct run r;

	(void)state;
	run(&r, tmpl);
	if (r.f.errors != 0) {
		dump(&r);
		fail_msg("the classic layout has %zu errors", r.f.errors);
	}
	/* A/V Edge on the Web Conferencing certificate: CN recommended only */
	const struct finding *f = must_find(&r, "cn-is-fqdn");
	assert_int_equal(f->severity, FINDING_WARN);
	assert_string_equal(f->subject, "service \"av\"");
	run_free(&r);
}

static void test_trust_file_unreadable(void **state)
{
	static const char tmpl[] = "trust_file = \"@PKI@/no-such-trust.pem\"\n"
				   "certificate c {\n"
				   "  cert = \"@PKI@/ssl1.crt\"\n"
				   "}\n"
				   "certificate d {\n"
				   "  cert = \"@PKI@/ssl2.crt\"\n"
				   "}\n"
				   "backend b {\n"
				   "  servers = {\"127.0.0.1:8443\"}\n"
				   "}\n"
				   "service s {\n"
				   "  role = \"generic\"\n"
				   "  fqdn = \"sip.example.com\"\n"
				   "  listen = \"127.0.0.1:443\"\n"
				   "  certificate = \"c\"\n"
				   "  mode = \"passthrough\"\n"
				   "  backend = \"b\"\n"
				   "}\n"
				   "service t {\n"
				   "  role = \"generic\"\n"
				   "  fqdn = \"webconf.example.com\"\n"
				   "  listen = \"127.0.0.2:443\"\n"
				   "  certificate = \"d\"\n"
				   "  mode = \"passthrough\"\n"
				   "  backend = \"b\"\n"
				   "}\n";
	struct run r;

	(void)state;
	run(&r, tmpl);
	assert_false(r.pc->trust_ok);
	assert_true(r.pc->trust_error[0] != '\0');
	/* one finding, not one per certificate */
	assert_int_equal(count(&r, "file-unreadable"), 1);
	const struct finding *f = must_find(&r, "file-unreadable");
	assert_int_equal(f->severity, FINDING_ERROR);
	assert_int_equal(f->line, line_of(r.text, "trust_file = "));
	assert_non_null(strstr(f->message, "no-such-trust.pem"));
	must_not_find(&r, "chain-incomplete");
	run_free(&r);
}

/* Findings come sorted by line, errors first on one line. */
static void test_sorted(void **state)
{
	char tmpl[4096];
	struct run r;

	(void)state;
	snprintf(tmpl, sizeof(tmpl), all_layout, "");
	run(&r, tmpl);
	assert_true(r.f.n >= 3);
	for (size_t i = 1; i < r.f.n; i++) {
		const struct finding *a = &r.f.items[i - 1];
		const struct finding *b = &r.f.items[i];
		assert_true(a->line <= b->line);
		if (a->line == b->line)
			assert_false(a->severity == FINDING_WARN &&
				     b->severity == FINDING_ERROR);
	}
	size_t errors = 0, warnings = 0;
	for (size_t i = 0; i < r.f.n; i++)
		r.f.items[i].severity == FINDING_ERROR ? errors++ : warnings++;
	assert_int_equal(errors, r.f.errors);
	assert_int_equal(warnings, r.f.warnings);
	run_free(&r);
}

/* On one line, errors come before warnings even when added later:
 * ku-mismatch (warn) and expired (error) both point at the cert line. */
static void test_sorted_errors_first(void **state)
{
	static const struct one_case c = {
		"ku-mismatch", W,    true, "nodigsig.crt", NULL, NULL,
		NULL,	       NULL, NULL, NULL,	   NULL, "nodigsig.crt",
		NULL};
	struct run r;
	char *tmpl = one_config(&c);
	int line;
	size_t i = 0;

	(void)state;
	run_at(&r, tmpl, time(NULL) + 400L * 86400);
	free(tmpl);
	line = line_of(r.text, "nodigsig.crt");
	must_find(&r, "expired");
	must_find(&r, "ku-mismatch");
	while (i < r.f.n && r.f.items[i].line != line)
		i++;
	assert_true(i < r.f.n);
	assert_int_equal(r.f.items[i].severity, FINDING_ERROR);
	for (; i < r.f.n && r.f.items[i].line == line; i++)
		if (strcmp(r.f.items[i].rule, "ku-mismatch") == 0)
			break;
	assert_true(i < r.f.n);
	for (; i < r.f.n && r.f.items[i].line == line; i++)
		assert_int_equal(r.f.items[i].severity, FINDING_WARN);
	run_free(&r);
}

/* key-perms: a key readable by its group only is refused too. */
static void test_key_perms_group(void **state)
{
	char dir[] = "/tmp/test_plan.XXXXXX";
	char src[4096], dst[4096], tmpl[8192];
	char buf[65536];
	struct run r;
	FILE *in, *out;
	size_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(src, sizeof(src), "%s/ssl1.key", pki_dir());
	snprintf(dst, sizeof(dst), "%s/group.key", dir);
	in = fopen(src, "rb");
	assert_non_null(in);
	n = fread(buf, 1, sizeof(buf), in);
	fclose(in);
	out = fopen(dst, "wb");
	assert_non_null(out);
	assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(out);
	assert_int_equal(chmod(dst, 0640), 0);
	snprintf(tmpl, sizeof(tmpl),
		 "trust_file = \"@PKI@/trust.pem\"\n"
		 "certificate c {\n"
		 "  cert = \"@PKI@/ssl1.crt\"\n"
		 "  chain = \"@PKI@/chain.pem\"\n"
		 "  key = \"%s\"\n"
		 "}\n"
		 "backend b {\n"
		 "  servers = {\"127.0.0.1:8443\"}\n"
		 "}\n"
		 "service s {\n"
		 "  role = \"generic\"\n"
		 "  fqdn = \"sip.example.com\"\n"
		 "  listen = \"127.0.0.1:443\"\n"
		 "  certificate = \"c\"\n"
		 "  mode = \"terminate\"\n"
		 "  backend = \"b\"\n"
		 "}\n",
		 dst);
	run(&r, tmpl);
	const struct finding *f = must_find(&r, "key-perms");
	assert_int_equal(f->severity, FINDING_ERROR);
	assert_int_equal(f->line, line_of(r.text, "group.key"));
	assert_non_null(strstr(f->message, "0640"));
	must_not_find(&r, "key-match");
	run_free(&r);
	assert_int_equal(unlink(dst), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* The same plan at a later time: the certificates have expired. */
static void test_now_is_used(void **state)
{
	char tmpl[4096];
	struct run r;

	(void)state;
	snprintf(tmpl, sizeof(tmpl), all_layout, "");
	run_at(&r, tmpl, time(NULL) + 400L * 86400);
	const struct finding *f = must_find(&r, "expired");
	assert_int_equal(f->severity, FINDING_ERROR);
	assert_int_equal(f->line, line_of(r.text, "all.crt"));
	run_free(&r);
}

static void test_rule_ids(void **state)
{
	static const char *const expected[] = {
		"file-unreadable",
		"key-missing",
		"key-match",
		"key-perms",
		"key-strength",
		"sig-weak",
		"eku-server",
		"ku-mismatch",
		"san-present",
		"cn-in-san",
		"san-order",
		"not-yet-valid",
		"expired",
		"expires-soon",
		"validity-cap",
		"chain-incomplete",
		"chain-extra",
		"internal-name",
		"crl-dp-present",
		"aia-present",
		"intermediate-expiring",
		"cert-required",
		"backend-required",
		"fqdn-covered",
		"cn-is-fqdn",
		"wildcard-forbidden",
		"eku-client",
		"sip-domain-san",
		"edge-terminated",
		"cwa-sans",
		"backend-verify",
		"public-clientauth",
		"edge-subject",
		"lyncdiscover-san",
		"simple-url-covered",
		"wildcard-placement",
		"webservices-port",
		"platform-mismatch",
		"listen-unique",
		"fqdn-port-unique",
		"tls-legacy",
		"cn-shared",
		"ref-unknown",
		"unused",
		"user-exists",
		"unreachable",
		"served-differs",
		"served-chain-incomplete",
		"served-no-sni",
		"pool-consistent",
	};
	size_t n = 0;

	(void)state;
	while (rules_ids[n])
		n++;
	assert_int_equal(n, sizeof(expected) / sizeof(expected[0]));
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t j = 0; j < n; j++)
			found = found || strcmp(rules_ids[j], expected[i]) == 0;
		if (!found)
			fail_msg("%s is not in rules_ids", expected[i]);
		for (size_t j = i + 1; j < n; j++)
			assert_string_not_equal(rules_ids[i], rules_ids[j]);
	}
}

static void test_plan_add(void **state)
{
	struct findings f = {0};

	(void)state;
	assert_int_equal(findings_add(&f, FINDING_ERROR, "expired", "x.conf", 3,
				      "certificate \"a\"", "%s %d — %s", "n",
				      42, "do"),
			 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(findings_add(&f, FINDING_WARN, "unused",
					      "x.conf", -1, NULL, "w%d", i),
				 0);
	assert_int_equal(f.n, 41);
	assert_int_equal(f.errors, 1);
	assert_int_equal(f.warnings, 40);
	assert_string_equal(f.items[0].message, "n 42 — do");
	assert_string_equal(f.items[0].subject, "certificate \"a\"");
	assert_int_equal(f.items[1].line, 0);
	assert_null(f.items[1].subject);
	assert_string_equal(f.items[40].message, "w39");
	assert_string_equal(finding_severity_name(FINDING_ERROR), "error");
	assert_string_equal(finding_severity_name(FINDING_WARN), "warn");
	findings_free(&f);
	assert_int_equal(f.n, 0);
	findings_free(&f);
	findings_free(NULL);
	rules_certs_free(NULL);
}

/* probe's entry points: a chain as served, no config section. */
static void test_served_chain(void **state)
{
	static const char tmpl[] = "trust_file = \"@PKI@/trust.pem\"\n"
				   "backend b {\n"
				   "  servers = {\"127.0.0.1:8443\"}\n"
				   "}\n"
				   "service webconf {\n"
				   "  role = \"webconf-edge\"\n"
				   "  fqdn = \"webconf.example.com\"\n"
				   "  listen = \"127.0.0.1:443\"\n"
				   "  mode = \"passthrough\"\n"
				   "  backend = \"b\"\n"
				   "}\n";
	struct run r;
	char path[4096];
	struct findings f = {0};

	(void)state;
	run(&r, tmpl);
	snprintf(path, sizeof(path), "%s/expired.crt", pki_dir());
	struct cert_info *ci = cert_load(path, NULL, NULL);
	assert_non_null(ci);
	assert_non_null(ci->leaf);
	assert_int_equal(rules_check_cert(r.cfg, NULL, ci, time(NULL), &f), 0);
	assert_int_equal(rules_check_service_cert(r.cfg, &r.cfg->services[0],
						  NULL, ci, &f),
			 0);
	bool expired = false, cn = false;
	for (size_t i = 0; i < f.n; i++) {
		if (strcmp(f.items[i].rule, "expired") == 0) {
			expired = true;
			assert_int_equal(f.items[i].line, 0);
			assert_non_null(strstr(f.items[i].message, "served"));
		}
		if (strcmp(f.items[i].rule, "cn-is-fqdn") == 0) {
			cn = true;
			assert_int_equal(f.items[i].severity, FINDING_ERROR);
			assert_string_equal(f.items[i].subject,
					    "service \"webconf\"");
		}
	}
	assert_true(expired);
	assert_true(cn);
	assert_int_equal(f.errors, 3); /* expired, fqdn-covered, cn-is-fqdn */
	findings_free(&f);
	cert_free(ci);
	run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_finding_format),
		cmocka_unit_test(test_file_unreadable),
		cmocka_unit_test(test_unloaded_leaf_skips_rules),
		cmocka_unit_test(test_key_rules),
		cmocka_unit_test(test_signature_and_usage),
		cmocka_unit_test(test_san_rules),
		cmocka_unit_test(test_validity_rules),
		cmocka_unit_test(test_chain_rules),
		cmocka_unit_test(test_service_rules),
		cmocka_unit_test(test_revocation_rules),
		cmocka_unit_test(test_intermediate_expiring),
		cmocka_unit_test(test_public_clientauth),
		cmocka_unit_test(test_edge_subject),
		cmocka_unit_test(test_reverse_proxy_names),
		cmocka_unit_test(test_wildcard_placement),
		cmocka_unit_test(test_wildcard_forbidden_platforms),
		cmocka_unit_test(test_platform_model),
		cmocka_unit_test(test_webservices_port),
		cmocka_unit_test(test_platform_mismatch),
		cmocka_unit_test(test_cert_required),
		cmocka_unit_test(test_backend_required),
		cmocka_unit_test(test_backend_verify),
		cmocka_unit_test(test_listen_unique),
		cmocka_unit_test(test_fqdn_port_unique),
		cmocka_unit_test(test_tls_legacy),
		cmocka_unit_test(test_cn_shared),
		cmocka_unit_test(test_cn_shared_same_cn),
		cmocka_unit_test(test_cn_shared_platforms),
		cmocka_unit_test(test_sfb_layout),
		cmocka_unit_test(test_ref_unknown_and_unused),
		cmocka_unit_test(test_classic_layout),
		cmocka_unit_test(test_trust_file_unreadable),
		cmocka_unit_test(test_sorted),
		cmocka_unit_test(test_sorted_errors_first),
		cmocka_unit_test(test_key_perms_group),
		cmocka_unit_test(test_now_is_used),
		cmocka_unit_test(test_rule_ids),
		cmocka_unit_test(test_plan_add),
		cmocka_unit_test(test_served_chain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
