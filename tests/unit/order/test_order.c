/* test_order.c — unit tests of order.c (the certificate planner).
 *
 * Configs are plain structs built here (no libconfuse): a table of services
 * per case, and the expected certificates with their CN, SANs in order,
 * class, EKU and services.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "edge443/cert/cert.h"
#include "edge443/order/order.h"

#define T_MAX 8

struct t_svc {
	const char *name;
	enum config_role role;
	const char *fqdn;
	const char *certificate;
	const char *domains[3]; /* sip_domains, NULL-terminated */
	bool federation;
};

/* A struct config over a table of services (only what order.c reads). */
struct t_cfg {
	struct config cfg;
	struct config_service svcs[T_MAX];
	struct config_cert certs[T_MAX];
};

static void t_build(struct t_cfg *t, const struct t_svc *s, size_t n,
		    enum config_platform platform)
{
	memset(t, 0, sizeof(*t));
	t->cfg.file = "test.conf";
	t->cfg.platform = platform;
	t->cfg.services = t->svcs;
	t->cfg.nservices = n;
	t->cfg.certs = t->certs;
	for (size_t i = 0; i < n; i++) {
		struct config_service *svc = &t->svcs[i];
		svc->name = (char *)s[i].name;
		svc->role = s[i].role;
		svc->fqdn = (char *)s[i].fqdn;
		svc->certificate = (char *)s[i].certificate;
		svc->sip_domains = (char **)s[i].domains;
		while (s[i].domains[svc->nsip_domains])
			svc->nsip_domains++;
		svc->federation = s[i].federation;
		svc->line = (int)(10 * (i + 1));
		svc->fqdn_line = svc->line + 2;
		if (s[i].certificate) {
			bool seen = false;
			for (size_t j = 0; j < t->cfg.ncerts; j++)
				seen |= strcmp(t->certs[j].name,
					       s[i].certificate) == 0;
			if (!seen)
				t->certs[t->cfg.ncerts++].name =
					(char *)s[i].certificate;
		}
	}
}

/* Expected certificate: SANs and services as comma-joined text. */
struct t_want {
	const char *name;
	const char *sans; /* "a,b,c" (CN first) */
	bool internal;
	bool client_auth;
	const char *services; /* "access,cwa" */
};

static void t_join(char *buf, size_t len, char *const *items, size_t n)
{
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i)
			strncat(buf, ",", len - strlen(buf) - 1);
		strncat(buf, items[i], len - strlen(buf) - 1);
	}
}

static void t_expect(const struct config *cfg, const struct order_plan *p,
		     const struct t_want *want, size_t n)
{
	char buf[1024];

	assert_non_null(p);
	assert_int_equal(p->n, n);
	for (size_t i = 0; i < n; i++) {
		const struct order_cert *oc = &p->certs[i];
		char *names[T_MAX];
		assert_string_equal(oc->name, want[i].name);
		t_join(buf, sizeof(buf), oc->sans, oc->nsans);
		assert_string_equal(buf, want[i].sans);
		assert_ptr_equal(oc->cn, oc->sans[0]);
		assert_int_equal(oc->internal, want[i].internal);
		assert_int_equal(oc->client_auth, want[i].client_auth);
		for (size_t j = 0; j < oc->nservices; j++)
			names[j] = cfg->services[oc->services[j]].name;
		t_join(buf, sizeof(buf), names, oc->nservices);
		assert_string_equal(buf, want[i].services);
	}
}

static const struct t_svc t_classic[] = {
	{"access",
	 CONFIG_ROLE_ACCESS_EDGE,
	 "sip.example.com",
	 NULL,
	 {"example.com", "example.org", NULL},
	 false},
	{"cwa", CONFIG_ROLE_CWA, "cwa.example.com", NULL, {NULL}, false},
	{"webconf",
	 CONFIG_ROLE_WEBCONF_EDGE,
	 "webconf.example.com",
	 NULL,
	 {NULL},
	 false},
	{"av", CONFIG_ROLE_AV_EDGE, "av.example.com", NULL, {NULL}, false},
};

static void test_classic_two_certificates(void **state)
{
	static const struct t_want want[] = {
		{"cert1",
		 "sip.example.com,sip.example.org,cwa.example.com,"
		 "as.cwa.example.com,download.cwa.example.com",
		 false, false, "access,cwa"},
		{"cert2", "webconf.example.com,av.example.com", false, false,
		 "webconf,av"},
	};
	struct t_cfg t;
	char err[256];
	struct order_plan *p;

	(void)state;
	t_build(&t, t_classic, 4, CONFIG_PLATFORM_OCS2007R2);
	p = order_plan_new(&t.cfg, err, sizeof(err));
	t_expect(&t.cfg, p, want, 2);
	assert_int_equal(p->npublic, 2);
	assert_int_equal(p->ninternal, 0);
	assert_ptr_equal(order_plan_find_service(p, 3), &p->certs[1]);
	assert_ptr_equal(order_plan_find_service(p, 1), &p->certs[0]);
	assert_null(order_plan_find_service(p, 9));
	order_plan_free(p);
}

/* Service order does not change which certificate a service rides on, and
 * the SANs follow the CN and then service order. */
static void test_riders_listed_first(void **state)
{
	static const struct t_svc s[] = {
		{"av",
		 CONFIG_ROLE_AV_EDGE,
		 "av.example.com",
		 NULL,
		 {NULL},
		 false},
		{"cwa",
		 CONFIG_ROLE_CWA,
		 "cwa.example.com",
		 NULL,
		 {NULL},
		 false},
		{"webconf",
		 CONFIG_ROLE_WEBCONF_EDGE,
		 "webconf.example.com",
		 NULL,
		 {NULL},
		 false},
		{"access",
		 CONFIG_ROLE_ACCESS_EDGE,
		 "sip.example.com",
		 NULL,
		 {"example.com", NULL},
		 false},
	};
	static const struct t_want want[] = {
		{"cert1", "webconf.example.com,av.example.com", false, false,
		 "av,webconf"},
		{"cert2",
		 "sip.example.com,cwa.example.com,as.cwa.example.com,"
		 "download.cwa.example.com",
		 false, false, "cwa,access"},
	};
	struct t_cfg t;
	struct order_plan *p;

	(void)state;
	t_build(&t, s, 4, CONFIG_PLATFORM_OCS2007R2);
	p = order_plan_new(&t.cfg, NULL, 0);
	t_expect(&t.cfg, p, want, 2);
	order_plan_free(p);
}

static void test_names_from_config(void **state)
{
	struct t_svc s[4];
	struct t_cfg t;
	struct order_plan *p;

	(void)state;
	memcpy(s, t_classic, sizeof(s));
	s[0].certificate = "ssl1";
	s[1].certificate = "ssl1";
	s[2].certificate = "ssl2";
	s[3].certificate = "ssl2";
	t_build(&t, s, 4, CONFIG_PLATFORM_OCS2007R2);
	p = order_plan_new(&t.cfg, NULL, 0);
	assert_non_null(p);
	assert_string_equal(p->certs[0].name, "ssl1");
	assert_string_equal(p->certs[1].name, "ssl2");
	order_plan_free(p);

	/* The trap: everything on "all".  The first certificate keeps the
	 * name; the second gets a fresh one that no section uses. */
	for (size_t i = 0; i < 4; i++)
		s[i].certificate = i == 3 ? "cert1" : "all";
	t_build(&t, s, 4, CONFIG_PLATFORM_OCS2007R2);
	p = order_plan_new(&t.cfg, NULL, 0);
	assert_non_null(p);
	assert_string_equal(p->certs[0].name, "all");
	/* webconf names "all" (taken), av names "cert1": that one is used. */
	assert_string_equal(p->certs[1].name, "cert1");
	order_plan_free(p);

	/* An unused section named cert1 is not reused for a new certificate. */
	memcpy(s, t_classic, sizeof(s));
	s[2].certificate = "cert1";
	s[3].certificate = "cert1";
	t_build(&t, s, 4, CONFIG_PLATFORM_OCS2007R2);
	p = order_plan_new(&t.cfg, NULL, 0);
	assert_non_null(p);
	assert_string_equal(p->certs[0].name, "cert2");
	assert_string_equal(p->certs[1].name, "cert1");
	order_plan_free(p);
}

static void test_edge_internal_adds_internal_cert(void **state)
{
	struct t_svc s[6];
	static const struct t_want want[] = {
		{"cert1",
		 "sip.example.com,sip.example.org,cwa.example.com,"
		 "as.cwa.example.com,download.cwa.example.com",
		 false, true, "access,cwa"},
		{"cert2", "webconf.example.com,av.example.com", false, false,
		 "webconf,av"},
		{"cert3", "edge01.corp.example,portal.corp", true, false,
		 "edgeint,portal"},
	};
	struct t_cfg t;
	struct order_plan *p;

	(void)state;
	memcpy(s, t_classic, sizeof(t_classic));
	s[0].federation = true;
	s[4] = (struct t_svc){"edgeint",
			      CONFIG_ROLE_EDGE_INTERNAL,
			      "edge01.corp.example",
			      NULL,
			      {NULL},
			      false};
	s[5] = (struct t_svc){"portal", CONFIG_ROLE_WEB, "portal.corp",
			      NULL,	{NULL},		 false};
	t_build(&t, s, 6, CONFIG_PLATFORM_OCS2007R2);
	p = order_plan_new(&t.cfg, NULL, 0);
	t_expect(&t.cfg, p, want, 3);
	assert_int_equal(p->npublic, 2);
	assert_int_equal(p->ninternal, 1);
	order_plan_free(p);
}

/* Public and internal names never share; a class without a CN-bound
 * service gets its certificate from its first service. */
static void test_classes_never_mix(void **state)
{
	static const struct t_svc s[] = {
		{"intra",
		 CONFIG_ROLE_WEB,
		 "intranet.local",
		 NULL,
		 {NULL},
		 false},
		{"www",
		 CONFIG_ROLE_WEB,
		 "www.example.com",
		 NULL,
		 {NULL},
		 false},
		{"app", CONFIG_ROLE_GENERIC, "app", NULL, {NULL}, false},
		{"shop",
		 CONFIG_ROLE_CWA,
		 "shop.example.com",
		 NULL,
		 {NULL},
		 false},
	};
	static const struct t_want want[] = {
		{"cert1", "intranet.local,app", true, false, "intra,app"},
		{"cert2",
		 "www.example.com,shop.example.com,as.shop.example.com,"
		 "download.shop.example.com",
		 false, false, "www,shop"},
	};
	struct t_cfg t;
	struct order_plan *p;

	(void)state;
	t_build(&t, s, 4, CONFIG_PLATFORM_OCS2007R2);
	p = order_plan_new(&t.cfg, NULL, 0);
	t_expect(&t.cfg, p, want, 2);
	order_plan_free(p);
}

/* A/V with no Web Conferencing Edge rides on the first certificate of its
 * class; two CN-bound services with one FQDN share a certificate; SANs are
 * deduplicated without regard to case. */
static void test_sharing_and_dedup(void **state)
{
	static const struct t_svc s[] = {
		{"access",
		 CONFIG_ROLE_ACCESS_EDGE,
		 "sip.example.com",
		 NULL,
		 {"Example.COM", "example.net", NULL},
		 false},
		{"access6",
		 CONFIG_ROLE_ACCESS_EDGE,
		 "SIP.example.com",
		 NULL,
		 {"example.net", NULL},
		 true},
		{"av",
		 CONFIG_ROLE_AV_EDGE,
		 "av.example.com",
		 NULL,
		 {NULL},
		 false},
	};
	static const struct t_want want[] = {
		{"cert1", "sip.example.com,sip.example.net,av.example.com",
		 false, true, "access,access6,av"},
	};
	struct t_cfg t;
	struct order_plan *p;

	(void)state;
	t_build(&t, s, 3, CONFIG_PLATFORM_OCS2007R2);
	p = order_plan_new(&t.cfg, NULL, 0);
	t_expect(&t.cfg, p, want, 1);
	order_plan_free(p);
}

/* ---- per platform ------------------------------------------------------ */

/* The SfB 2019 classic layout (conf/sfb2019.conf): the Edge (Access, Web
 * Conferencing, A/V without a certificate), the reverse proxy (external web
 * services with simple URLs and two SIP domains, Office Online Server) and
 * the Edge internal interface. */
static const struct t_svc t_sfb[] = {
	{"access",
	 CONFIG_ROLE_ACCESS_EDGE,
	 "sip.example.com",
	 NULL,
	 {"example.com", "example.org", NULL},
	 false},
	{"webconf",
	 CONFIG_ROLE_WEBCONF_EDGE,
	 "webconf.example.com",
	 NULL,
	 {NULL},
	 false},
	{"av", CONFIG_ROLE_AV_EDGE, "av.example.com", NULL, {NULL}, false},
	{"webext",
	 CONFIG_ROLE_WEB_SERVICES,
	 "webext.example.com",
	 NULL,
	 {"example.com", "example.org", NULL},
	 false},
	{"oos",
	 CONFIG_ROLE_OFFICE_WEB_APPS,
	 "oos.example.com",
	 NULL,
	 {NULL},
	 false},
	{"edgeint",
	 CONFIG_ROLE_EDGE_INTERNAL,
	 "edgepool.corp.example",
	 NULL,
	 {NULL},
	 false},
};
static const char *t_sfb_urls[] = {"meet.example.com", "dialin.example.com"};

/* Give service index I of T the simple URLs URLS. */
static void t_urls(struct t_cfg *t, size_t i, const char **urls, size_t n)
{
	t->svcs[i].simple_urls = (char **)urls;
	t->svcs[i].nsimple_urls = n;
}

/* Lync 2010 and later: ONE Edge certificate (subject = the Access Edge
 * FQDN; Web Conferencing, then sip.<domain>; A/V rides without its FQDN),
 * ONE reverse-proxy certificate (external web services first, its simple
 * URLs, lyncdiscover.<domain>, Office Online Server), and the internal name
 * on its own.  OCS 2007 R2 plans the same services as before: a
 * certificate per CN-bound service, everything else on the Access Edge's
 * (the reverse-proxy roles are not OCS 2007 R2's: platform-mismatch). */
static void test_platform_table(void **state)
{
	static const struct t_want lync[] = {
		{"cert1", "sip.example.com,webconf.example.com,sip.example.org",
		 false, false, "access,webconf,av"},
		{"cert2",
		 "webext.example.com,meet.example.com,dialin.example.com,"
		 "lyncdiscover.example.com,lyncdiscover.example.org,"
		 "oos.example.com",
		 false, false, "webext,oos"},
		{"cert3", "edgepool.corp.example", true, false, "edgeint"},
	};
	static const bool lync_rp[] = {false, true, false};
	static const struct t_want ocs[] = {
		{"cert1",
		 "sip.example.com,sip.example.org,webext.example.com,"
		 "meet.example.com,dialin.example.com,"
		 "lyncdiscover.example.com,lyncdiscover.example.org,"
		 "oos.example.com",
		 false, false, "access,webext,oos"},
		{"cert2", "webconf.example.com,av.example.com", false, false,
		 "webconf,av"},
		{"cert3", "edgepool.corp.example", true, false, "edgeint"},
	};
	static const struct {
		enum config_platform platform;
		const struct t_want *want;
		const bool *rp; /* NULL: none is the reverse proxy's */
	} rows[] = {
		{CONFIG_PLATFORM_OCS2007R2, ocs, NULL},
		{CONFIG_PLATFORM_LYNC2010, lync, lync_rp},
		{CONFIG_PLATFORM_LYNC2013, lync, lync_rp},
		{CONFIG_PLATFORM_SFB2015, lync, lync_rp},
		{CONFIG_PLATFORM_SFB2019, lync, lync_rp},
		{CONFIG_PLATFORM_SFBSE, lync, lync_rp},
	};

	(void)state;
	assert_int_equal(sizeof(rows) / sizeof(rows[0]), CONFIG_PLATFORM_COUNT);
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		struct t_cfg t;
		char err[256];
		struct order_plan *p;

		t_build(&t, t_sfb, 6, rows[r].platform);
		t_urls(&t, 3, t_sfb_urls, 2);
		p = order_plan_new(&t.cfg, err, sizeof(err));
		if (!p)
			fail_msg("platform %s: %s",
				 config_platform_name(rows[r].platform), err);
		t_expect(&t.cfg, p, rows[r].want, 3);
		assert_int_equal(p->npublic, 2);
		assert_int_equal(p->ninternal, 1);
		for (size_t i = 0; i < p->n; i++)
			if (p->certs[i].reverse_proxy !=
			    (rows[r].rp && rows[r].rp[i]))
				fail_msg("platform %s: cert %zu reverse_proxy",
					 config_platform_name(rows[r].platform),
					 i);
		order_plan_free(p);
	}
}

/* Lync 2010 and later, one case per row: the Access Edge leads the Edge
 * certificate wherever it is listed; A/V naming a certificate gets its
 * FQDN on it; Office Online alone seeds the reverse-proxy certificate; a
 * second web-services rides on the first; web / generic ride on the Edge
 * certificate; federation asks clientAuth of the Edge certificate only;
 * without an Access Edge the first Edge service seeds. */
static void test_lync_cases(void **state)
{
	static const struct t_svc order[] = {
		{"webconf",
		 CONFIG_ROLE_WEBCONF_EDGE,
		 "webconf.example.com",
		 NULL,
		 {NULL},
		 false},
		{"access",
		 CONFIG_ROLE_ACCESS_EDGE,
		 "access.example.com",
		 NULL,
		 {"example.com", NULL},
		 true},
		{"av",
		 CONFIG_ROLE_AV_EDGE,
		 "av.example.com",
		 "edge",
		 {NULL},
		 false},
	};
	static const struct t_want order_want[] = {
		{"edge",
		 "access.example.com,webconf.example.com,av.example.com,"
		 "sip.example.com",
		 false, true, "webconf,access,av"},
	};
	static const struct t_svc rp[] = {
		{"oos",
		 CONFIG_ROLE_OFFICE_WEB_APPS,
		 "oos.example.com",
		 NULL,
		 {NULL},
		 false},
		{"www",
		 CONFIG_ROLE_WEB,
		 "www.example.com",
		 NULL,
		 {NULL},
		 false},
		{"access",
		 CONFIG_ROLE_ACCESS_EDGE,
		 "sip.example.com",
		 NULL,
		 {NULL},
		 true},
		{"pool2",
		 CONFIG_ROLE_WEB_SERVICES,
		 "webext2.example.com",
		 NULL,
		 {"example.net", NULL},
		 false},
		{"pool1",
		 CONFIG_ROLE_WEB_SERVICES,
		 "webext1.example.com",
		 NULL,
		 {NULL},
		 false},
	};
	static const struct t_want rp_want[] = {
		{"cert1", "sip.example.com,www.example.com", false, true,
		 "www,access"},
		{"cert2",
		 "webext2.example.com,lyncdiscover.example.net,"
		 "oos.example.com,webext1.example.com",
		 false, false, "oos,pool2,pool1"},
	};
	static const struct t_svc noaccess[] = {
		{"av",
		 CONFIG_ROLE_AV_EDGE,
		 "av.example.com",
		 NULL,
		 {NULL},
		 false},
		{"webconf",
		 CONFIG_ROLE_WEBCONF_EDGE,
		 "webconf.example.com",
		 NULL,
		 {NULL},
		 false},
	};
	static const struct t_want noaccess_want[] = {
		{"cert1", "webconf.example.com", false, false, "av,webconf"},
	};
	static const struct {
		const struct t_svc *svcs;
		size_t nsvcs;
		const struct t_want *want;
		size_t nwant;
	} rows[] = {
		{order, 3, order_want, 1},
		{rp, 5, rp_want, 2},
		{noaccess, 2, noaccess_want, 1},
	};

	(void)state;
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++)
		for (int pl = CONFIG_PLATFORM_LYNC2010;
		     pl < CONFIG_PLATFORM_COUNT; pl++) {
			struct t_cfg t;
			struct order_plan *p;
			t_build(&t, rows[r].svcs, rows[r].nsvcs,
				(enum config_platform)pl);
			p = order_plan_new(&t.cfg, NULL, 0);
			t_expect(&t.cfg, p, rows[r].want, rows[r].nwant);
			order_plan_free(p);
		}
}

/* The names the reverse proxy adds are checked like the FQDN: a wildcard
 * simple URL or a sip_domains entry that gives no lyncdiscover.<domain> is
 * refused with the option and its line. */
static void test_lync_bad_names(void **state)
{
	static const char *wild[] = {"*.example.com"};
	static const char *bad[] = {"meet..example.com"};
	struct t_svc s = {"webext",
			  CONFIG_ROLE_WEB_SERVICES,
			  "webext.example.com",
			  NULL,
			  {NULL},
			  false};
	struct t_cfg t;
	char err[512];

	(void)state;
	t_build(&t, &s, 1, CONFIG_PLATFORM_SFB2019);
	t_urls(&t, 0, wild, 1);
	t.svcs[0].simple_urls_line = 7;
	assert_null(order_plan_new(&t.cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "test.conf:7: service \"webext\": "
				    "simple_urls entry \"*.example.com\""));
	assert_non_null(strstr(err, "wildcard"));
	t_urls(&t, 0, bad, 1);
	assert_null(order_plan_new(&t.cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "simple_urls"));

	s.domains[0] = "-bad.example.com";
	t_build(&t, &s, 1, CONFIG_PLATFORM_SFB2019);
	assert_null(order_plan_new(&t.cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "gives lyncdiscover.-bad.example.com"));
}

static void test_empty_config(void **state)
{
	struct t_cfg t;
	struct order_plan *p;

	(void)state;
	t_build(&t, NULL, 0, CONFIG_PLATFORM_OCS2007R2);
	p = order_plan_new(&t.cfg, NULL, 0);
	assert_non_null(p);
	assert_int_equal(p->n, 0);
	order_plan_free(p);
	order_plan_free(NULL);
}

/* Names that cannot be planned: refused with file:line and the service. */
static void test_bad_names(void **state)
{
	static const struct {
		const char *fqdn;
		enum config_role role;
		const char *domain;
		const char *expect;
	} bad[] = {
		{"*.example.com", CONFIG_ROLE_WEB, NULL, "wildcard"},
		{"sip.*.example.com", CONFIG_ROLE_ACCESS_EDGE, NULL,
		 "wildcard"},
		{NULL, CONFIG_ROLE_CWA, NULL, "no fqdn"},
		{"", CONFIG_ROLE_CWA, NULL, "empty"},
		{"a..example.com", CONFIG_ROLE_WEB, NULL, "empty label"},
		{"-a.example.com", CONFIG_ROLE_WEB, NULL, "'-'"},
		{"a_b.example.com", CONFIG_ROLE_WEB, NULL, "character"},
		{"sip.example.com,DNS:evil.com", CONFIG_ROLE_WEB, NULL,
		 "character"},
		{"192.0.2.1", CONFIG_ROLE_WEB, NULL, "IP address"},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
		 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
		 ".example.com",
		 CONFIG_ROLE_ACCESS_EDGE, NULL, "64 characters"},
		{"sip.example.com", CONFIG_ROLE_ACCESS_EDGE, "*.example.com",
		 "sip_domains"},
	};
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct t_svc s = {"svc", bad[i].role,		bad[i].fqdn,
				  NULL,	 {bad[i].domain, NULL}, false};
		struct t_cfg t;
		t_build(&t, &s, 1, CONFIG_PLATFORM_OCS2007R2);
		err[0] = '\0';
		assert_null(order_plan_new(&t.cfg, err, sizeof(err)));
		if (!strstr(err, bad[i].expect) || !strstr(err, "test.conf:") ||
		    !strstr(err, "\"svc\""))
			fail_msg("case %zu (%s): %s", i,
				 bad[i].fqdn ? bad[i].fqdn : "(null)", err);
	}
	/* A long FQDN is fine for a rider that does not seed a certificate
	 * CN check (cwa on the access certificate). */
	{
		struct t_svc s[2] = {
			{"access",
			 CONFIG_ROLE_ACCESS_EDGE,
			 "sip.example.com",
			 NULL,
			 {NULL},
			 false},
			{"cwa",
			 CONFIG_ROLE_CWA,
			 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
			 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.example.com",
			 NULL,
			 {NULL},
			 false},
		};
		struct t_cfg t;
		struct order_plan *p;
		t_build(&t, s, 2, CONFIG_PLATFORM_OCS2007R2);
		p = order_plan_new(&t.cfg, err, sizeof(err));
		assert_non_null(p);
		assert_int_equal(p->n, 1);
		order_plan_free(p);
		/* ... but not when it would seed a certificate (its CN). */
		t_build(&t, &s[1], 1, CONFIG_PLATFORM_OCS2007R2);
		assert_null(order_plan_new(&t.cfg, err, sizeof(err)));
		assert_non_null(strstr(err, "64 characters"));
		assert_non_null(strstr(err, "\"cwa\""));
	}
}

static void test_name_internal(void **state)
{
	static const struct {
		const char *name;
		bool internal;
	} cases[] = {
		{"server.local", true},
		{"edge01.CORP", true},
		{"x.lan", true},
		{"a.b.internal", true},
		{"server", true},
		{"10.1.2.3", true},
		{"192.168.0.1", true},
		{"172.16.0.1", true},
		{"fd00::1", true},
		{"sip.example.com", false},
		{"edge01.corp.example", false},
		{"192.0.2.1", false},
		{"local", true},
		{"notlocal.com", false},
		{"", false},
		{NULL, false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (cert_name_is_internal(cases[i].name) != cases[i].internal)
			fail_msg("cert_name_is_internal(%s) != %d",
				 cases[i].name ? cases[i].name : "NULL",
				 cases[i].internal);
}

static void test_role_seeds(void **state)
{
	struct t_cfg t;

	(void)state;
	t_build(&t, NULL, 0, CONFIG_PLATFORM_OCS2007R2);
	assert_true(order_role_seeds(&t.cfg, CONFIG_ROLE_ACCESS_EDGE));
	assert_true(order_role_seeds(&t.cfg, CONFIG_ROLE_WEBCONF_EDGE));
	assert_true(order_role_seeds(&t.cfg, CONFIG_ROLE_EDGE_INTERNAL));
	assert_false(order_role_seeds(&t.cfg, CONFIG_ROLE_AV_EDGE));
	assert_false(order_role_seeds(&t.cfg, CONFIG_ROLE_CWA));
	t.cfg.platform = CONFIG_PLATFORM_LYNC2010;
	assert_false(order_role_seeds(&t.cfg, CONFIG_ROLE_ACCESS_EDGE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classic_two_certificates),
		cmocka_unit_test(test_riders_listed_first),
		cmocka_unit_test(test_names_from_config),
		cmocka_unit_test(test_edge_internal_adds_internal_cert),
		cmocka_unit_test(test_classes_never_mix),
		cmocka_unit_test(test_sharing_and_dedup),
		cmocka_unit_test(test_platform_table),
		cmocka_unit_test(test_lync_cases),
		cmocka_unit_test(test_lync_bad_names),
		cmocka_unit_test(test_empty_config),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_name_internal),
		cmocka_unit_test(test_role_seeds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
