/* test_bufcache.c — the per-thread cache of large blocks (src/base/bufcache.c).
 *
 * A freed large block is handed out again to the next allocation it fits,
 * small ones and ones beyond the caps go to glibc, a block that would waste
 * more than half of itself is not used, another thread has a cache of its
 * own that is emptied when it exits, a full cache gives its oldest block
 * back to make room, and bufcache_install declines in a sanitizer build.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/crypto.h>

#include "edge443/base/bufcache.h"

static void test_reuse(void **state)
{
	void *a, *b;

	(void)state;
	bufcache_trim();
	a = bufcache_malloc(64 * 1024);
	assert_non_null(a);
	memset(a, 0x5a, 64 * 1024);
	bufcache_free(a);
	assert_int_equal(bufcache_count(), 1);
	assert_true(bufcache_bytes() >= 64 * 1024);
	/* The same size, and a smaller one that wastes under half: the block
	 * comes back. */
	b = bufcache_malloc(64 * 1024);
	assert_ptr_equal(a, b);
	assert_int_equal(bufcache_count(), 0);
	assert_int_equal(bufcache_bytes(), 0);
	bufcache_free(b);
	b = bufcache_malloc(40 * 1024);
	assert_ptr_equal(a, b);
	bufcache_free(b);
	/* Too small for it (it would waste more than half): not used. */
	b = bufcache_malloc(8 * 1024);
	assert_ptr_not_equal(a, b);
	assert_int_equal(bufcache_count(), 1);
	bufcache_free(b);
	/* Larger than any cached block: glibc's. */
	b = bufcache_malloc(128 * 1024);
	assert_non_null(b);
	assert_int_equal(bufcache_count(), 2);
	bufcache_free(b);
	assert_int_equal(bufcache_count(), 3);
	bufcache_trim();
	assert_int_equal(bufcache_count(), 0);
	assert_int_equal(bufcache_bytes(), 0);
}

static void test_small_and_caps(void **state)
{
	void *p[BUFCACHE_SLOTS + 4];

	(void)state;
	bufcache_trim();
	/* Small blocks are never kept. */
	bufcache_free(bufcache_malloc(BUFCACHE_MIN / 2));
	assert_int_equal(bufcache_count(), 0);
	bufcache_free(NULL);
	/* At most BUFCACHE_SLOTS blocks: the newest stay. */
	for (size_t i = 0; i < BUFCACHE_SLOTS + 4; i++)
		assert_non_null(p[i] = bufcache_malloc(BUFCACHE_MIN));
	for (size_t i = 0; i < BUFCACHE_SLOTS + 4; i++)
		bufcache_free(p[i]);
	assert_int_equal(bufcache_count(), BUFCACHE_SLOTS);
	assert_ptr_equal(bufcache_malloc(BUFCACHE_MIN), p[BUFCACHE_SLOTS + 3]);
	bufcache_free(p[BUFCACHE_SLOTS + 3]);
	bufcache_trim();
	/* ... and at most BUFCACHE_MAX_BYTES. */
	for (size_t i = 0; i < 4; i++)
		assert_non_null(
			p[i] = bufcache_malloc(BUFCACHE_MAX_BYTES / 3 + 1024));
	for (size_t i = 0; i < 4; i++)
		bufcache_free(p[i]);
	assert_int_equal(bufcache_count(), 2);
	assert_true(bufcache_bytes() <= BUFCACHE_MAX_BYTES);
	bufcache_trim();
}

/* A full cache makes room for a freed block by giving back its oldest: the
 * slots held by blocks of a size nobody asks for any more (a burst of small
 * ones) do not keep out the block in use now.  The block then comes back,
 * newest first. */
static void test_oldest_go(void **state)
{
	void *p[BUFCACHE_SLOTS], *big, *again;

	(void)state;
	bufcache_trim();
	for (size_t i = 0; i < BUFCACHE_SLOTS; i++)
		assert_non_null(p[i] = bufcache_malloc(BUFCACHE_MIN));
	assert_non_null(big = bufcache_malloc(128 * 1024));
	for (size_t i = 0; i < BUFCACHE_SLOTS; i++)
		bufcache_free(p[i]);
	assert_int_equal(bufcache_count(), BUFCACHE_SLOTS);
	bufcache_free(big);
	assert_int_equal(bufcache_count(), BUFCACHE_SLOTS);
	assert_true(bufcache_bytes() >= 128 * 1024); /* big is kept */
	again = bufcache_malloc(128 * 1024);
	assert_ptr_equal(again, big);
	assert_int_equal(bufcache_count(), BUFCACHE_SLOTS - 1);
	assert_true(bufcache_bytes() < 128 * 1024);
	/* A small request still gets the newest small block (big would
	 * waste more than half of itself). */
	bufcache_free(again);
	assert_ptr_equal(bufcache_malloc(BUFCACHE_MIN), p[BUFCACHE_SLOTS - 1]);
	bufcache_free(p[BUFCACHE_SLOTS - 1]);
	bufcache_trim();
}

static void test_grow(void **state)
{
	unsigned char *p;

	(void)state;
	p = bufcache_malloc(16 * 1024);
	assert_non_null(p);
	memset(p, 7, 16 * 1024);
	p = bufcache_realloc(p, 96 * 1024);
	assert_non_null(p);
	assert_int_equal(p[16 * 1024 - 1], 7);
	bufcache_free(p);
	bufcache_trim();
}

static void *thread_main(void *arg)
{
	void **blk = arg;

	/* A thread's cache is its own: the main thread's block is not
	 * here, and what this thread keeps is freed when it exits. */
	if (bufcache_count() != 0)
		return NULL;
	*blk = bufcache_malloc(32 * 1024);
	bufcache_free(*blk);
	return bufcache_count() == 1 ? blk : NULL;
}

static void test_threads(void **state)
{
	pthread_t t;
	void *blk = NULL, *ret = NULL;

	(void)state;
	bufcache_trim();
	bufcache_free(bufcache_malloc(32 * 1024));
	assert_int_equal(bufcache_count(), 1);
	assert_int_equal(pthread_create(&t, NULL, thread_main, &blk), 0);
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_ptr_equal(ret, &blk);
	assert_int_equal(bufcache_count(), 1);
	bufcache_trim();
}

static void test_install(void **state)
{
	(void)state;
#if defined(__SANITIZE_ADDRESS__)
	assert_false(bufcache_install());
#else
	/* Nothing has allocated through OpenSSL yet in this process: it
	 * installs, and allocations through the libraries go through it. */
	assert_true(bufcache_install());
	bufcache_trim();
	void *p = OPENSSL_malloc(20000);
	assert_non_null(p);
	OPENSSL_free(p);
	assert_int_equal(bufcache_count(), 1);
	bufcache_trim();
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_small_and_caps),
		cmocka_unit_test(test_oldest_go),
		cmocka_unit_test(test_grow),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_install),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
