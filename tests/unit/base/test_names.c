/* test_names.c — the host-name check (src/base/names.c).
 *
 * A table of good and bad names: each bad one with the words of its reason,
 * and every row also through config_value_dns_name_ok, the configuration's
 * copy of the check, which must agree row for row until it calls this one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "edge443/config/config_internal.h"
#include "edge443/base/names.h"

#define T_L63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 characters */
#define T_N253                                                                 \
	T_L63 "." T_L63 "." T_L63                                              \
	      ".aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const char *const good[] = {
	"sip.example.com",
	"a",
	"localhost",
	"a-b.example",
	"xn--bcher-kva.example",
	"SIP.Example.COM",
	"0.example.com",
	"192.0.2.1", /* the syntax of a name (names_ip_literal tells) */
	T_L63 ".example.com",
	T_N253,
};

static const struct {
	const char *name;
	const char *says;
} bad[] = {
	{"", "is empty"},
	{"*.example.com", "wildcard"},
	{"w*.example.com", "wildcard"},
	{".example.com", "empty label"},
	{"example.com.", "empty label"},
	{"sip..example.com", "empty label"},
	{T_L63 "a.example.com", "longer than 63"},
	{T_N253 "a", "longer than 253"},
	{"-sip.example.com", "starts or ends with '-'"},
	{"sip-.example.com", "starts or ends with '-'"},
	{"sip.example-", "starts or ends with '-'"},
	{"sip_1.example.com", "holds a character"},
	{"sip example.com", "holds a character"},
	{"sip.exa\xc3\xa9mple.com", "holds a character"},
	{"2001:db8::1", "holds a character"},
	{"[2001:db8::1]", "holds a character"},
	{"sip.example.com:443", "holds a character"},
};

static void test_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const char *why = names_dns_why(good[i]);

		if (why != NULL || !names_dns_ok(good[i]))
			fail_msg("\"%s\" refused: %s", good[i], why);
		if (!config_value_dns_name_ok(good[i]))
			fail_msg("\"%s\": config_value_dns_name_ok disagrees",
				 good[i]);
	}
}

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = names_dns_why(bad[i].name);

		if (why == NULL || names_dns_ok(bad[i].name))
			fail_msg("\"%s\" accepted", bad[i].name);
		if (strstr(why, bad[i].says) == NULL)
			fail_msg("\"%s\": \"%s\", want \"%s\"", bad[i].name,
				 why, bad[i].says);
		if (config_value_dns_name_ok(bad[i].name))
			fail_msg("\"%s\": config_value_dns_name_ok disagrees",
				 bad[i].name);
	}
	assert_false(names_dns_ok(NULL));
	assert_string_equal(names_dns_why(NULL), "is empty");
}

static void test_ip_literal(void **state)
{
	(void)state;
	assert_true(names_ip_literal("192.0.2.1"));
	assert_true(names_ip_literal("2001:db8::1"));
	assert_true(names_ip_literal("::1"));
	assert_false(names_ip_literal("sip.example.com"));
	assert_false(names_ip_literal("192.0.2"));
	assert_false(names_ip_literal("[2001:db8::1]"));
	assert_false(names_ip_literal(""));
	assert_false(names_ip_literal(NULL));
	/* The configuration's copy agrees. */
	assert_true(config_value_ip_ok("192.0.2.1"));
	assert_true(config_value_ip_ok("2001:db8::1"));
	assert_false(config_value_ip_ok("sip.example.com"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_ip_literal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
