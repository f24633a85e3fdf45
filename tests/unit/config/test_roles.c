/* test_roles.c — the role table (src/config/roles.c).
 *
 * One row per role and platform: which roles are CN-bound (take their FQDN
 * from the certificate CN: cn-shared), how strictly their CN must be their
 * FQDN (cn-is-fqdn), and the facts the plan rules and the planner read
 * (internal, MTLS, wildcards).  The planner's seeding (order_role_seeds)
 * must follow the table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "edge443/order/order.h"
#include "edge443/config/roles.h"

static const struct {
	enum config_role role;
	enum config_platform platform;
	bool cn_bound;
	enum roles_cn cn;
	bool seeds; /* order_role_seeds */
} rows[] = {
	{CONFIG_ROLE_ACCESS_EDGE, CONFIG_PLATFORM_OCS2007R2, true,
	 ROLES_CN_MUST, true},
	{CONFIG_ROLE_WEBCONF_EDGE, CONFIG_PLATFORM_OCS2007R2, true,
	 ROLES_CN_MUST, true},
	{CONFIG_ROLE_AV_EDGE, CONFIG_PLATFORM_OCS2007R2, false, ROLES_CN_SHOULD,
	 false},
	{CONFIG_ROLE_EDGE_INTERNAL, CONFIG_PLATFORM_OCS2007R2, false,
	 ROLES_CN_MUST, true},
	{CONFIG_ROLE_CWA, CONFIG_PLATFORM_OCS2007R2, false, ROLES_CN_ANY,
	 false},
	{CONFIG_ROLE_WEB, CONFIG_PLATFORM_OCS2007R2, false, ROLES_CN_ANY,
	 false},
	{CONFIG_ROLE_GENERIC, CONFIG_PLATFORM_OCS2007R2, false, ROLES_CN_ANY,
	 false},
	/* Lync 2010 and later read no FQDN from the CN. */
	{CONFIG_ROLE_ACCESS_EDGE, CONFIG_PLATFORM_LYNC2010, false, ROLES_CN_ANY,
	 false},
	{CONFIG_ROLE_WEBCONF_EDGE, CONFIG_PLATFORM_LYNC2010, false,
	 ROLES_CN_ANY, false},
	{CONFIG_ROLE_AV_EDGE, CONFIG_PLATFORM_LYNC2010, false, ROLES_CN_ANY,
	 false},
	{CONFIG_ROLE_EDGE_INTERNAL, CONFIG_PLATFORM_LYNC2010, false,
	 ROLES_CN_ANY, false},
	{CONFIG_ROLE_CWA, CONFIG_PLATFORM_LYNC2010, false, ROLES_CN_ANY, false},
	{CONFIG_ROLE_ACCESS_EDGE, CONFIG_PLATFORM_LYNC2013, false, ROLES_CN_ANY,
	 false},
	{CONFIG_ROLE_ACCESS_EDGE, CONFIG_PLATFORM_SFB2015, false, ROLES_CN_ANY,
	 false},
	{CONFIG_ROLE_WEBCONF_EDGE, CONFIG_PLATFORM_SFB2019, false, ROLES_CN_ANY,
	 false},
	{CONFIG_ROLE_EDGE_INTERNAL, CONFIG_PLATFORM_SFBSE, false, ROLES_CN_ANY,
	 false},
	{CONFIG_ROLE_WEB_SERVICES, CONFIG_PLATFORM_SFB2019, false, ROLES_CN_ANY,
	 false},
	{CONFIG_ROLE_OFFICE_WEB_APPS, CONFIG_PLATFORM_SFB2019, false,
	 ROLES_CN_ANY, false},
};

/* Which platforms have which role (platform-mismatch): CWA is OCS 2007
 * R2's; the reverse-proxy roles are Lync 2010's and later; the Edge roles
 * are everyone's. */
static void test_platforms(void **state)
{
	(void)state;
	for (int p = 0; p < CONFIG_PLATFORM_COUNT; p++) {
		enum config_platform pl = (enum config_platform)p;
		bool ocs = pl == CONFIG_PLATFORM_OCS2007R2;

		assert_true(roles_on_platform(pl, CONFIG_ROLE_ACCESS_EDGE));
		assert_true(roles_on_platform(pl, CONFIG_ROLE_AV_EDGE));
		assert_true(roles_on_platform(pl, CONFIG_ROLE_GENERIC));
		assert_int_equal(roles_on_platform(pl, CONFIG_ROLE_CWA), ocs);
		assert_int_equal(
			roles_on_platform(pl, CONFIG_ROLE_WEB_SERVICES), !ocs);
		assert_int_equal(
			roles_on_platform(pl, CONFIG_ROLE_OFFICE_WEB_APPS),
			!ocs);
	}
	assert_int_equal(ROLES_LYNC_UP & ROLES_OCS, 0);
	assert_int_equal(ROLES_LYNC_UP | ROLES_OCS, ROLES_ALL);
	assert_true(roles_of(CONFIG_ROLE_WEB_SERVICES)->reverse_proxy);
	assert_true(roles_of(CONFIG_ROLE_OFFICE_WEB_APPS)->reverse_proxy);
	assert_false(roles_of(CONFIG_ROLE_CWA)->reverse_proxy);
}

static void test_cn_by_platform(void **state)
{
	struct config cfg;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum config_role r = rows[i].role;
		enum config_platform p = rows[i].platform;

		cfg.platform = p;
		if (roles_cn_bound(p, r) != rows[i].cn_bound)
			fail_msg("row %zu: roles_cn_bound", i);
		if (roles_cn_is_fqdn(p, r) != rows[i].cn)
			fail_msg("row %zu: roles_cn_is_fqdn", i);
		if (order_role_seeds(&cfg, r) != rows[i].seeds)
			fail_msg("row %zu: order_role_seeds", i);
	}
	/* Without a config the planner assumes the default platform. */
	assert_true(order_role_seeds(NULL, CONFIG_ROLE_EDGE_INTERNAL));
}

static void test_facts(void **state)
{
	(void)state;
	assert_string_equal(roles_of(CONFIG_ROLE_ACCESS_EDGE)->title,
			    "Access Edge");
	assert_true(roles_of(CONFIG_ROLE_EDGE_INTERNAL)->internal);
	assert_false(roles_of(CONFIG_ROLE_ACCESS_EDGE)->internal);
	assert_true(roles_of(CONFIG_ROLE_ACCESS_EDGE)->mtls_peer);
	assert_true(roles_of(CONFIG_ROLE_WEBCONF_EDGE)->mtls_peer);
	assert_false(roles_of(CONFIG_ROLE_AV_EDGE)->mtls_peer);
	assert_int_equal(roles_of(CONFIG_ROLE_CWA)->wildcard,
			 ROLES_WILDCARD_FORBIDDEN);
	assert_int_equal(roles_of(CONFIG_ROLE_EDGE_INTERNAL)->wildcard,
			 ROLES_WILDCARD_FORBIDDEN);
	assert_int_equal(roles_of(CONFIG_ROLE_WEB)->wildcard,
			 ROLES_WILDCARD_NOT_CN);
	assert_int_equal(roles_of(CONFIG_ROLE_AV_EDGE)->wildcard,
			 ROLES_WILDCARD_OK);
	assert_int_equal(roles_of(CONFIG_ROLE_GENERIC)->wildcard,
			 ROLES_WILDCARD_OK);
}

/* Every role has its own row, with a title and, where cn-is-fqdn applies,
 * a reason; an unknown value gets the generic row. */
static void test_every_role(void **state)
{
	(void)state;
	for (int r = CONFIG_ROLE_ACCESS_EDGE; r <= CONFIG_ROLE_OFFICE_WEB_APPS;
	     r++) {
		const struct roles_facts *f = roles_of((enum config_role)r);

		assert_int_equal(f->role, r);
		assert_non_null(f->title);
		if (f->cn_is_fqdn != ROLES_CN_ANY)
			assert_non_null(f->cn_why);
	}
	assert_int_equal(roles_of((enum config_role)99)->role,
			 CONFIG_ROLE_GENERIC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cn_by_platform),
		cmocka_unit_test(test_facts),
		cmocka_unit_test(test_platforms),
		cmocka_unit_test(test_every_role),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
