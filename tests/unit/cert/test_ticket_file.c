/* test_ticket_file.c — the session-ticket key file (src/cert/ticket_file.c):
 * reading it, the role of each key, and the atomic rotation of `edge443
 * tickets rotate` (a fresh key appended, the oldest dropped, mode 0600, the
 * old file untouched when it cannot be read).
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

static char test_dir[256];

static const char *test_path(const char *name)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s/%s", test_dir, name);
	return buf;
}

static char *test_slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = calloc(1, 8192);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, 8191, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Line I (0-based) of TEXT, copied to OUT. */
static void test_line(const char *text, int i, char *out, size_t len)
{
	const char *p = text;

	for (; i > 0 && p; i--) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (p == NULL)
		fail_msg("fewer lines than expected");
	else
		snprintf(out, len, "%.*s", (int)strcspn(p, "\n"), p);
}

static void test_roles(void **state)
{
	(void)state;
	assert_int_equal(ticket_file_encrypting(1), 0);
	assert_int_equal(ticket_file_encrypting(2), 0);
	assert_int_equal(ticket_file_encrypting(3), 1); /* the second newest */
	assert_int_equal(ticket_file_encrypting(8), 6);
}

static void test_rotate(void **state)
{
	const char *path = test_path("t.keys");
	struct ticket_key keys[TICKET_FILE_MAX_KEYS],
		again[TICKET_FILE_MAX_KEYS];
	size_t n = 0, before = 9, after = 0;
	char err[512] = "", a[600], b[600];
	char *first, *second;
	struct stat st;

	(void)state;
	unlink(path);
	/* A missing file is created with three keys, mode 0600. */
	assert_int_equal(
		ticket_file_rotate(path, 3, &before, &after, err, sizeof(err)),
		0);
	assert_int_equal(before, 0);
	assert_int_equal(after, 3);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(ticket_file_read(path, keys, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_memory_not_equal(&keys[0], &keys[1], sizeof(keys[0]));
	first = test_slurp(path);

	/* A rotation appends one and drops the oldest: the old lines 2 and 3
	 * are the new lines 1 and 2. */
	assert_int_equal(
		ticket_file_rotate(path, 3, &before, &after, err, sizeof(err)),
		0);
	assert_int_equal(before, 3);
	assert_int_equal(after, 3);
	second = test_slurp(path);
	test_line(first, 1, a, sizeof(a));
	test_line(second, 0, b, sizeof(b));
	assert_string_equal(a, b);
	test_line(first, 2, a, sizeof(a));
	test_line(second, 1, b, sizeof(b));
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), 108); /* base64 of 80 bytes */
	assert_int_equal(ticket_file_read(path, again, &n, err, sizeof(err)),
			 0);
	assert_memory_equal(&again[0], &keys[1], sizeof(keys[0]));
	assert_memory_equal(&again[1], &keys[2], sizeof(keys[0]));
	/* No temporary file is left behind. */
	snprintf(a, sizeof(a), "%s.tmp.%ld", path, (long)getpid());
	assert_int_not_equal(access(a, F_OK), 0);

	/* keep = 5 grows the file to five keys. */
	assert_int_equal(
		ticket_file_rotate(path, 5, &before, &after, err, sizeof(err)),
		0);
	assert_int_equal(after, 4);
	free(first);
	free(second);
}

static void test_rotate_bad(void **state)
{
	const char *path = test_path("bad.keys");
	char err[512] = "";
	char *text;
	FILE *f;

	(void)state;
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("not base64!\n", f);
	fclose(f);
	assert_int_equal(
		ticket_file_rotate(path, 3, NULL, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad.keys"));
	text = test_slurp(path);
	assert_string_equal(text, "not base64!\n"); /* untouched */
	free(text);

	/* A folder that does not exist. */
	assert_int_equal(ticket_file_rotate(test_path("nope/t.keys"), 3, NULL,
					    NULL, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "nope/t.keys"));
}

static void test_too_many(void **state)
{
	const char *path = test_path("many.keys");
	struct ticket_key keys[TICKET_FILE_MAX_KEYS];
	size_t n;
	char err[512] = "";

	(void)state;
	unlink(path);
	FILE *f;

	/* A new file gets KEEP = 8 keys; each rotation keeps 8. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(ticket_file_rotate(path, 8, NULL, NULL, err,
						    sizeof(err)),
				 0);
	assert_int_equal(ticket_file_read(path, keys, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 8);
	/* A ninth key added by hand: refused with the limit and what to do. */
	f = fopen(path, "a");
	assert_non_null(f);
	fputs("MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3"
	      "ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkw\n",
	      f);
	fclose(f);
	assert_int_equal(ticket_file_read(path, keys, &n, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "more than 8 ticket keys"));
}

static int test_setup(void **state)
{
	(void)state;
	snprintf(test_dir, sizeof(test_dir), "/tmp/edge443-ticket-XXXXXX");
	return mkdtemp(test_dir) ? 0 : -1;
}

static int test_teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_rotate),
		cmocka_unit_test(test_rotate_bad),
		cmocka_unit_test(test_too_many),
	};
	return cmocka_run_group_tests(tests, test_setup, test_teardown);
}
