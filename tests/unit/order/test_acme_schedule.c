/* test_acme_schedule.c — when the renewal in `run` tries next
 * (src/order/acme_schedule.c).
 *
 * The due time of a certificate (renew_before in days, or a third of the
 * lifetime by default), the back-off after failures (1 minute doubling,
 * capped at a day, no overflow for any count) and the next try, which
 * never comes before the CA's Retry-After and never after a week of it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "edge443/order/acme_schedule.h"

#define DAY 86400L

static void test_due_default_third(void **state)
{
	(void)state;
	/* 90 days: due 30 days before the end */
	assert_int_equal(acme_renew_at(1000, 1000 + 90 * DAY, 0),
			 1000 + 60 * DAY);
	/* a broken validity (end before start): due at the end */
	assert_int_equal(acme_renew_at(5000, 4000, 0), 4000);
}

static void test_due_renew_before(void **state)
{
	(void)state;
	assert_int_equal(acme_renew_at(0, 100 * DAY, 10), 90 * DAY);
	/* larger than the lifetime: due before it began, i.e. now */
	assert_true(acme_renew_at(50 * DAY, 60 * DAY, 30) < 50 * DAY);
}

static void test_backoff(void **state)
{
	(void)state;
	assert_int_equal(acme_backoff(0), 0);
	assert_int_equal(acme_backoff(-3), 0);
	assert_int_equal(acme_backoff(1), 60);
	assert_int_equal(acme_backoff(2), 120);
	assert_int_equal(acme_backoff(3), 240);
	assert_int_equal(acme_backoff(11), 61440);
	assert_int_equal(acme_backoff(12), ACME_BACKOFF_MAX);
	assert_int_equal(acme_backoff(1000000), ACME_BACKOFF_MAX);
	for (int i = 1; i < 200; i++)
		assert_true(acme_backoff(i + 1) >= acme_backoff(i));
}

static void test_next_try(void **state)
{
	(void)state;
	/* no Retry-After: the back-off */
	assert_int_equal(acme_next_try(1000, 1, -1), 1060);
	assert_int_equal(acme_next_try(1000, 3, -1), 1240);
	/* a count below one is the first failure */
	assert_int_equal(acme_next_try(1000, 0, -1), 1060);
	/* a Retry-After longer than the back-off wins */
	assert_int_equal(acme_next_try(1000, 1, 3600), 4600);
	/* a shorter one does not bring the try forward */
	assert_int_equal(acme_next_try(1000, 4, 10), 1480);
	/* capped at a week */
	assert_int_equal(acme_next_try(0, 1, 365 * DAY), 7 * DAY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_due_default_third),
		cmocka_unit_test(test_due_renew_before),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_next_try),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
