/* test_stats_shared.c — unit tests for stats_shared.c (and shm.c).
 *
 * Forked children count into their slot as a worker process does; the
 * parent sees the counts while they run, folds a slot when its child has
 * ended (every counter kept, `open` dropped), and reuses the slot for the
 * next child without counting anything twice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "edge443/serve/stats_shared.h"

/* Fork a child that counts ACCEPTED connections, RESUMED resumed
 * handshakes and 1 open connection into ST, then exits. */
static void test_child_counts(struct proxy_stats *st, int accepted, int resumed)
{
	int status = -1;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		for (int i = 0; i < accepted; i++)
			atomic_fetch_add(&st->accepted, 1);
		for (int i = 0; i < resumed; i++)
			atomic_fetch_add(&st->handshakes[1], 1);
		atomic_fetch_add(&st->open, 1);
		st->http_responses[2] += 7;
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static struct metrics_totals test_sum(const struct stats_shared *s)
{
	struct metrics_totals t;

	memset(&t, 0, sizeof(t));
	stats_shared_sum(s, &t);
	return t;
}

static void test_stats_fold_on_exit(void **state)
{
	struct stats_shared *s = stats_shared_new(2);
	struct metrics_totals t;
	int a, b;

	(void)state;
	assert_non_null(s);
	a = stats_shared_take(s);
	b = stats_shared_take(s);
	assert_true(a >= 0 && b >= 0 && a != b);
	assert_int_equal(stats_shared_take(s), -1); /* both in use */
	assert_int_equal(stats_shared_used(s), 2);

	/* What the children wrote is seen by the parent. */
	test_child_counts(stats_shared_slot(s, (size_t)a), 5, 2);
	test_child_counts(stats_shared_slot(s, (size_t)b), 3, 0);
	t = test_sum(s);
	assert_int_equal(t.accepted, 8);
	assert_int_equal(t.handshakes[1], 2);
	assert_int_equal(t.open, 2);
	assert_int_equal(t.http_responses[2], 14);

	/* A's child ended: its counts stay, its open connection does not. */
	stats_shared_retire(s, (size_t)a);
	stats_shared_retire(s, (size_t)a); /* twice: no double count */
	t = test_sum(s);
	assert_int_equal(t.accepted, 8);
	assert_int_equal(t.handshakes[1], 2);
	assert_int_equal(t.open, 1);
	assert_int_equal(stats_shared_used(s), 1);

	/* The slot is reused, zeroed: nothing counted twice. */
	a = stats_shared_take(s);
	assert_true(a >= 0);
	assert_int_equal(stats_shared_slot(s, (size_t)a)->accepted, 0);
	t = test_sum(s);
	assert_int_equal(t.accepted, 8);
	test_child_counts(stats_shared_slot(s, (size_t)a), 4, 1);
	stats_shared_retire(s, (size_t)a);
	stats_shared_retire(s, (size_t)b);
	t = test_sum(s);
	assert_int_equal(t.accepted, 12);
	assert_int_equal(t.handshakes[1], 3);
	assert_int_equal(t.open, 0);
	assert_int_equal(t.http_responses[2], 21);
	assert_int_equal(stats_shared_used(s), 0);
	stats_shared_free(s);
	stats_shared_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats_fold_on_exit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
