/* test_log.c — log lines, levels, sanitising, reopen and threads
 * (src/base/log.c).
 *
 * Each test logs into a file in a fresh temporary folder and reads it back:
 * every line must match the documented format
 * "YYYY-MM-DDTHH:MM:SS.mmmZ edge443[PID] LEVEL message".  The stderr target
 * is checked by pointing fd 2 at a file for the duration of the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "edge443/base/log.h"

/* ---- helpers ---------------------------------------------------------- */

struct test_dir {
	char dir[64];
	char file[128];
	char rotated[128];
};

static int test_setup(void **state)
{
	struct test_dir *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_log.XXXXXX");
	if (mkdtemp(t->dir) == NULL) {
		free(t);
		return -1;
	}
	snprintf(t->file, sizeof(t->file), "%s/edge443.log", t->dir);
	snprintf(t->rotated, sizeof(t->rotated), "%s/edge443.log.1", t->dir);
	*state = t;
	return 0;
}

static int test_teardown(void **state)
{
	struct test_dir *t = *state;

	log_close();
	unlink(t->file);
	unlink(t->rotated);
	rmdir(t->dir);
	free(t);
	return 0;
}

/* The whole file as a NUL-terminated string (caller frees). */
static char *test_slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Split TEXT (ending in '\n') into lines in place; returns the count. */
static size_t test_lines(char *text, char **lines, size_t max)
{
	size_t n = 0;
	char *p = text;

	while (*p != '\0') {
		char *nl = strchr(p, '\n');

		assert_non_null(nl); /* every line is whole */
		*nl = '\0';
		if (n < max)
			lines[n] = p;
		n++;
		p = nl + 1;
	}
	return n;
}

/* LINE has the documented format with LEVEL and MESSAGE. */
static void test_assert_line(const char *line, const char *level,
			     const char *message)
{
	regex_t re;
	regmatch_t m[3];
	char want_pid[32];

	assert_int_equal(
		regcomp(&re,
			"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
			"[0-9]{2}\\.[0-9]{3}Z edge443\\[([0-9]+)\\] "
			"(ERROR|WARN|INFO|DEBUG) ",
			REG_EXTENDED),
		0);
	if (regexec(&re, line, 3, m, 0) != 0) {
		regfree(&re);
		fail_msg("bad log line: \"%s\"", line);
	}
	snprintf(want_pid, sizeof(want_pid), "%ld", (long)getpid());
	assert_int_equal(m[1].rm_eo - m[1].rm_so, strlen(want_pid));
	assert_memory_equal(line + m[1].rm_so, want_pid, strlen(want_pid));
	if (level != NULL) {
		assert_int_equal(m[2].rm_eo - m[2].rm_so, strlen(level));
		assert_memory_equal(line + m[2].rm_so, level, strlen(level));
	}
	if (message != NULL)
		assert_string_equal(line + m[0].rm_eo, message);
	regfree(&re);
}

/* ---- tests ------------------------------------------------------------ */

static void test_levels(void **state)
{
	struct test_dir *t = *state;
	char *text, *lines[8];

	assert_int_equal(log_open(LOG_TARGET_FILE, t->file, LOG_LEVEL_DEBUG),
			 0);
	assert_true(log_enabled(LOG_LEVEL_DEBUG));
	log_error("an error %d", 1);
	log_warn("a warning %s", "two");
	log_info("some info");
	log_debug("debug detail");

	log_set_level(LOG_LEVEL_WARN);
	assert_true(log_enabled(LOG_LEVEL_ERROR));
	assert_true(log_enabled(LOG_LEVEL_WARN));
	assert_false(log_enabled(LOG_LEVEL_INFO));
	assert_false(log_enabled(LOG_LEVEL_DEBUG));
	log_info("dropped info");
	log_debug("dropped debug");
	log_warn("kept warning");
	log_error("kept error");
	log_close();

	text = test_slurp(t->file);
	assert_int_equal(test_lines(text, lines, 8), 6);
	test_assert_line(lines[0], "ERROR", "an error 1");
	test_assert_line(lines[1], "WARN", "a warning two");
	test_assert_line(lines[2], "INFO", "some info");
	test_assert_line(lines[3], "DEBUG", "debug detail");
	test_assert_line(lines[4], "WARN", "kept warning");
	test_assert_line(lines[5], "ERROR", "kept error");
	free(text);
}

/* Attacker data (an SNI, a Host header) cannot forge or split a line. */
static void test_control_characters(void **state)
{
	struct test_dir *t = *state;
	char *text, *lines[4];
	const char *sni = "evil.example\r\n2026-01-01T00:00:00.000Z edge443[1] "
			  "ERROR forged\x1b[31m\x7f\tend";

	assert_int_equal(log_open(LOG_TARGET_FILE, t->file, LOG_LEVEL_INFO), 0);
	log_info("sni=%s", sni);
	log_close();
	text = test_slurp(t->file);
	assert_int_equal(test_lines(text, lines, 4), 1);
	test_assert_line(lines[0], "INFO",
			 "sni=evil.example??2026-01-01T00:00:00.000Z "
			 "edge443[1] ERROR forged?[31m??end");
	free(text);
}

static void test_long_message_truncated(void **state)
{
	struct test_dir *t = *state;
	char *big = malloc(10001), *text, *lines[4];
	size_t len;

	assert_non_null(big);
	memset(big, 'a', 10000);
	big[10000] = '\0';
	assert_int_equal(log_open(LOG_TARGET_FILE, t->file, LOG_LEVEL_INFO), 0);
	log_info("%s", big);
	log_info("after");
	log_close();
	text = test_slurp(t->file);
	assert_int_equal(test_lines(text, lines, 4), 2);
	len = strlen(lines[0]);
	assert_int_equal(len + 1, 4096); /* the newline makes 4096 */
	assert_memory_equal(lines[0] + len - 4, "a...", 4);
	test_assert_line(lines[0], "INFO", NULL);
	test_assert_line(lines[1], "INFO", "after");
	free(text);
	free(big);
}

/* logrotate: rename the file, SIGUSR1 -> log_reopen, a new file appears. */
static void test_reopen_after_rename(void **state)
{
	struct test_dir *t = *state;
	char *text, *lines[4];
	struct stat st;
	mode_t mask;

	assert_int_equal(log_open(LOG_TARGET_FILE, t->file, LOG_LEVEL_INFO), 0);
	log_info("before rotation");
	assert_int_equal(rename(t->file, t->rotated), 0);
	log_info("still to the old file");
	assert_int_equal(log_reopen(), 0);
	log_info("into the new file");
	log_close();

	text = test_slurp(t->rotated);
	assert_int_equal(test_lines(text, lines, 4), 2);
	test_assert_line(lines[0], "INFO", "before rotation");
	test_assert_line(lines[1], "INFO", "still to the old file");
	free(text);
	text = test_slurp(t->file);
	assert_int_equal(test_lines(text, lines, 4), 1);
	test_assert_line(lines[0], "INFO", "into the new file");
	free(text);
	/* created owner read-write, group read (less whatever umask hides) */
	mask = umask(0);
	umask(mask);
	assert_int_equal(stat(t->file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640 & ~mask);
}

/* A reopen that fails keeps the old file; stderr/syslog reopen is a no-op. */
static void test_reopen_failure_keeps_old(void **state)
{
	struct test_dir *t = *state;
	char *text, *lines[4];

	assert_int_equal(log_open(LOG_TARGET_FILE, t->file, LOG_LEVEL_INFO), 0);
	assert_int_equal(rename(t->file, t->rotated), 0);
	/* Make the folder unwritable so the new file cannot be created;
	 * root ignores the mode, so only check when it took effect. */
	assert_int_equal(chmod(t->dir, 0500), 0);
	if (log_reopen() == -1) {
		log_info("kept on the old file");
		assert_int_equal(chmod(t->dir, 0700), 0);
		log_close();
		text = test_slurp(t->rotated);
		assert_int_equal(test_lines(text, lines, 4), 1);
		test_assert_line(lines[0], "INFO", "kept on the old file");
		free(text);
	} else {
		assert_int_equal(chmod(t->dir, 0700), 0);
		log_close();
	}

	assert_int_equal(log_open(LOG_TARGET_STDERR, NULL, LOG_LEVEL_INFO), 0);
	assert_int_equal(log_reopen(), 0);
	log_close();
	assert_int_equal(log_reopen(), 0);
}

static void test_open_failure(void **state)
{
	errno = 0;
	assert_int_equal(log_open(LOG_TARGET_FILE, "/nonexistent/dir/x.log",
				  LOG_LEVEL_INFO),
			 -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(log_open(LOG_TARGET_FILE, NULL, LOG_LEVEL_INFO), -1);
	assert_int_equal(errno, EINVAL);
}

static void test_stderr_target(void **state)
{
	struct test_dir *t = *state;
	int saved = dup(STDERR_FILENO);
	int fd = open(t->file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	char *text, *lines[4];

	assert_true(saved >= 0);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	assert_int_equal(log_open(LOG_TARGET_STDERR, NULL, LOG_LEVEL_ERROR), 0);
	log_warn("not shown");
	log_error("to stderr");
	log_close();
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	text = test_slurp(t->file);
	assert_int_equal(test_lines(text, lines, 4), 1);
	test_assert_line(lines[0], "ERROR", "to stderr");
	free(text);
}

/* Syslog: only open and close (a unit test should not write to the
 * machine's log); a message below the level is dropped before syslog. */
static void test_syslog_target(void **state)
{
	assert_int_equal(log_open(LOG_TARGET_SYSLOG, NULL, LOG_LEVEL_ERROR), 0);
	assert_false(log_enabled(LOG_LEVEL_WARN));
	log_debug("never sent");
	assert_int_equal(log_reopen(), 0);
	log_close();
}

/* errno survives a log call, so "log, then report errno" works. */
/* log_quoted: a '"' inside a quoted field cannot end it; cut at CAP. */
static void test_quoted_field(void **state)
{
	char buf[16];

	(void)state;
	assert_string_equal(log_quoted(buf, sizeof(buf), "be \"b\" down"),
			    "be 'b' down");
	assert_string_equal(log_quoted(buf, sizeof(buf), "0123456789abcdefXYZ"),
			    "0123456789abcde");
	assert_string_equal(log_quoted(buf, 1, "x"), "");
	assert_string_equal(log_quoted(buf, 0, "x"), "");
}

static void test_errno_preserved(void **state)
{
	struct test_dir *t = *state;

	assert_int_equal(log_open(LOG_TARGET_FILE, t->file, LOG_LEVEL_INFO), 0);
	errno = EPIPE;
	log_info("x");
	assert_int_equal(errno, EPIPE);
	log_close();
}

#define TEST_THREADS 4
#define TEST_LINES_PER_THREAD 2000

struct test_writer {
	int id;
	int reopen; /* this thread also rotates the file now and then */
	const char *file, *rotated;
};

static void *test_writer_main(void *arg)
{
	struct test_writer *w = arg;
	char pad[600];

	for (int i = 0; i < TEST_LINES_PER_THREAD; i++) {
		size_t n = (size_t)((i * 37 + w->id * 101) % (int)sizeof(pad));

		memset(pad, 'a' + w->id, n);
		pad[n] = '\0';
		log_info("thread %d line %d len %zu %s", w->id, i, n, pad);
		if (w->reopen && i % 500 == 250)
			(void)log_reopen();
	}
	return NULL;
}

/* One line = one write: 4 threads never interleave, even across reopens. */
static void test_threads_whole_lines(void **state)
{
	struct test_dir *t = *state;
	struct test_writer w[TEST_THREADS];
	pthread_t th[TEST_THREADS];
	int seen[TEST_THREADS] = {0};
	char *text, **lines;
	size_t n;

	assert_int_equal(log_open(LOG_TARGET_FILE, t->file, LOG_LEVEL_INFO), 0);
	for (int i = 0; i < TEST_THREADS; i++) {
		w[i].id = i;
		w[i].reopen = i == 0;
		w[i].file = t->file;
		w[i].rotated = t->rotated;
		assert_int_equal(
			pthread_create(&th[i], NULL, test_writer_main, &w[i]),
			0);
	}
	for (int i = 0; i < TEST_THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	log_close();

	lines = calloc(TEST_THREADS * TEST_LINES_PER_THREAD, sizeof(*lines));
	assert_non_null(lines);
	text = test_slurp(t->file);
	n = test_lines(text, lines, TEST_THREADS * TEST_LINES_PER_THREAD);
	assert_int_equal(n, TEST_THREADS * TEST_LINES_PER_THREAD);
	for (size_t i = 0; i < n; i++) {
		int id, no;
		size_t len;
		char *msg;

		test_assert_line(lines[i], "INFO", NULL);
		msg = strstr(lines[i], " INFO ") + 6;
		assert_int_equal(sscanf(msg, "thread %d line %d len %zu", &id,
					&no, &len),
				 3);
		assert_true(id >= 0 && id < TEST_THREADS);
		/* the padding is whole: exactly len letters of this thread */
		msg = strrchr(msg, ' ') + 1;
		if (len == 0) {
			assert_int_equal(msg[0], '\0');
		} else {
			assert_int_equal(strlen(msg), len);
			assert_int_equal(
				strspn(msg, (char[]){(char)('a' + id), '\0'}),
				len);
		}
		assert_int_equal(no, seen[id]); /* each thread in order */
		seen[id]++;
	}
	free(text);
	free(lines);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quoted_field),
		cmocka_unit_test_setup_teardown(test_levels, test_setup,
						test_teardown),
		cmocka_unit_test_setup_teardown(test_control_characters,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_long_message_truncated,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_reopen_after_rename,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_reopen_failure_keeps_old,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_open_failure, test_setup,
						test_teardown),
		cmocka_unit_test_setup_teardown(test_stderr_target, test_setup,
						test_teardown),
		cmocka_unit_test_setup_teardown(test_syslog_target, test_setup,
						test_teardown),
		cmocka_unit_test_setup_teardown(test_errno_preserved,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_threads_whole_lines,
						test_setup, test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
