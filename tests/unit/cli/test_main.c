/* test_main.c — the command line of main.c, in process: every command's
 * own --help and -h, -V and --version, usage errors, the global usage, and
 * probe's rule that --target stands for one service.
 *
 * main.c is compiled into this test with its main() renamed, so that the
 * command line tested is the program's own; every command
 * returns its exit code instead of exiting, and stdout and stderr are
 * captured into files around each call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

int main_program(int argc, char **argv);
#define main main_program
#include "../../../src/cli/main.c"
#undef main

#define T_MAX_ARGS 16
#define T_NCOMMANDS 8

/* Every command of the command line. */
static const char *const t_commands[T_NCOMMANDS] = {
	"check", "run", "plan", "csr", "probe", "tickets", "order", "version"};
#define T_CAP 65536

struct t_result {
	int rc;
	char out[T_CAP];
	char err[T_CAP];
};

static struct t_result t_res;
static char t_dir[] = "/tmp/test_main.XXXXXX";

static void t_slurp(FILE *f, char *buf, size_t cap)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Run `edge443 ARGS...` (NULL-terminated) in this process; the exit code,
 * stdout and stderr land in t_res. */
static struct t_result *t_run(const char *first, ...)
{
	char *argv[T_MAX_ARGS + 2];
	char copies[T_MAX_ARGS][256];
	int argc = 0, saved_out, saved_err;
	FILE *out = tmpfile(), *err = tmpfile();
	const char *a;
	va_list ap;

	assert_non_null(out);
	assert_non_null(err);
	argv[argc++] = "edge443";
	va_start(ap, first);
	for (a = first; a && argc <= T_MAX_ARGS; a = va_arg(ap, const char *)) {
		snprintf(copies[argc - 1], sizeof(copies[0]), "%s", a);
		argv[argc] = copies[argc - 1];
		argc++;
	}
	va_end(ap);
	argv[argc] = NULL;

	fflush(stdout);
	fflush(stderr);
	saved_out = dup(STDOUT_FILENO);
	saved_err = dup(STDERR_FILENO);
	assert_true(saved_out >= 0 && saved_err >= 0);
	dup2(fileno(out), STDOUT_FILENO);
	dup2(fileno(err), STDERR_FILENO);
	t_res.rc = main_program(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, STDOUT_FILENO);
	dup2(saved_err, STDERR_FILENO);
	close(saved_out);
	close(saved_err);
	t_slurp(out, t_res.out, sizeof(t_res.out));
	t_slurp(err, t_res.err, sizeof(t_res.err));
	return &t_res;
}

static void t_has(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("expected \"%s\" in:\n%s", needle, text);
}

static void t_lacks(const char *text, const char *needle)
{
	if (strstr(text, needle))
		fail_msg("did not expect \"%s\" in:\n%s", needle, text);
}

/* Every command answers --help and -h with its own usage on stdout and
 * exit 0 — not the global usage. */
static void test_help_every_command(void **state)
{
	static const char *const flags[] = {"--help", "-h"};

	(void)state;
	for (size_t i = 0; i < T_NCOMMANDS; i++) {
		const char *name = t_commands[i];
		char head[64];

		snprintf(head, sizeof(head), "usage: edge443 %s", name);
		for (size_t f = 0; f < 2; f++) {
			struct t_result *r = t_run(name, flags[f], NULL);

			assert_int_equal(r->rc, 0);
			assert_string_equal(r->err, "");
			assert_memory_equal(r->out, head, strlen(head));
			t_has(r->out, "\noptions:\n");
			t_has(r->out, "  -h, --help ");
			t_has(r->out, "\nexit status:\n  0  ");
			/* not the global usage: no other command's line */
			t_lacks(r->out, "usage:\n");
			t_lacks(r->out, strcmp(name, "plan") ? "edge443 plan"
							     : "edge443 check");
		}
	}
}

/* `edge443 help CMD` is CMD --help; --help after other options too. */
static void test_help_forms(void **state)
{
	char want[T_CAP];

	(void)state;
	t_run("probe", "--help", NULL);
	snprintf(want, sizeof(want), "%s", t_res.out);
	assert_string_equal(t_run("help", "probe", NULL)->out, want);
	assert_string_equal(t_run("--help", "probe", NULL)->out, want);
	assert_string_equal(
		t_run("probe", "-c", "/nonexistent.conf", "--help", NULL)->out,
		want);
	assert_int_equal(t_res.rc, 0);
	/* a csr without its FILE operand still has help */
	assert_int_equal(t_run("csr", "--help", NULL)->rc, 0);
	t_has(t_res.out, "usage: edge443 csr FILE [--out FILE]\n");
	/* run's help says what each signal does */
	t_run("run", "--help", NULL);
	t_has(t_res.out, "SIGHUP");
	t_has(t_res.out, "SIGUSR1");
	t_has(t_res.out, "SIGTERM");
	assert_int_equal(t_run("help", "nosuch", NULL)->rc, 2);
	t_has(t_res.err, "nosuch");
}

static void test_version_flags(void **state)
{
	static const char *const forms[] = {"version", "-V", "--version"};
	const char *want = "edge443 " EDGE443_VERSION " (";

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct t_result *r = t_run(forms[i], NULL);

		assert_int_equal(r->rc, 0);
		assert_memory_equal(r->out, want, strlen(want));
		assert_string_equal(r->err, "");
	}
	assert_int_equal(t_run("version", "extra", NULL)->rc, 2);
	assert_int_equal(t_run("-V", "--bogus", NULL)->rc, 2);
}

static void test_global_usage(void **state)
{
	(void)state;
	assert_int_equal(t_run("--help", NULL)->rc, 0);
	for (size_t i = 0; i < T_NCOMMANDS; i++) {
		char line[64];

		snprintf(line, sizeof(line), "\n  edge443 %s", t_commands[i]);
		t_has(t_res.out, line);
	}
	t_has(t_res.out, "edge443 probe [-c FILE] [--service NAME] "
			 "[--target IP:PORT]");
	t_lacks(t_res.out, "HOST:PORT");
	t_has(t_res.out, "edge443 COMMAND --help");
	t_has(t_res.out, "edge443 -V | --version");
	assert_int_equal(t_run(NULL)->rc, 2);
	assert_string_equal(t_res.out, "");
	t_has(t_res.err, "usage:\n");
}

/* A usage error: exit 2, getopt's message and the command's own usage
 * line on stderr, nothing on stdout. */
static void test_usage_errors(void **state)
{
	struct t_result *r;

	(void)state;
	r = t_run("check", "--bogus", NULL);
	assert_int_equal(r->rc, 2);
	assert_string_equal(r->out, "");
	t_has(r->err, "edge443 check: unrecognized option '--bogus'");
	t_has(r->err, "usage: edge443 check [-c FILE]");
	t_has(r->err, "\"edge443 check --help\"");
	r = t_run("plan", "--key", NULL);
	assert_int_equal(r->rc, 2);
	t_has(r->err, "usage: edge443 plan ");
	r = t_run("run", "-c", "x.conf", "extra", NULL);
	assert_int_equal(r->rc, 2);
	t_has(r->err, "unexpected argument \"extra\"");
	t_has(r->err, "usage: edge443 run ");
	assert_int_equal(t_run("csr", NULL)->rc, 2);
	r = t_run("tickets", NULL);
	assert_int_equal(r->rc, 2);
	t_has(r->err, "expected \"edge443 tickets rotate FILE\"");
	assert_int_equal(t_run("tickets", "rotat", "x", NULL)->rc, 2);
	r = t_run("tickets", "--keep", "1", "rotate", "x", NULL);
	assert_int_equal(r->rc, 2);
	t_has(r->err, "--keep 1: expected 2 to 8");
	r = t_run("tickets", "rotate", "/nonexistent-dir/t.keys", NULL);
	assert_int_equal(r->rc, 3);
	t_has(r->err, "/nonexistent-dir/t.keys");
	assert_int_equal(t_run("frobnicate", NULL)->rc, 2);
	t_has(t_res.err, "unknown command \"frobnicate\"");
}

static const char *t_conf(const char *name, int nservices)
{
	static char path[512];
	const char *pki = getenv("EDGE443_PKI");
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t_dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
		"trust_file = \"%s/trust.pem\"\n"
		"connect_timeout = 1\n"
		"backend b { servers = {\"127.0.0.1:2\"} }\n",
		pki ? pki : "/etc/ssl/certs");
	for (int i = 0; i < nservices; i++)
		fprintf(f,
			"service av%d {\n  role = \"av-edge\"\n"
			"  fqdn = \"av%d.example.com\"\n"
			"  listen = \"127.0.0.1:%d\"\n"
			"  mode = \"passthrough\"\n  backend = \"b\"\n}\n",
			i + 1, i + 1, 3 + i);
	fclose(f);
	return path;
}

/* --target stands for one service: with several configured and no
 * --service it is refused before anything is probed; with one configured
 * that one is probed; with --service that one only. */
static void test_probe_target_needs_service(void **state)
{
	struct t_result *r;
	const char *two = t_conf("two.conf", 2), *one;
	char two_path[512];

	(void)state;
	snprintf(two_path, sizeof(two_path), "%s", two);
	r = t_run("probe", "-c", two_path, "--target", "127.0.0.1:1", NULL);
	assert_int_equal(r->rc, 2);
	assert_string_equal(r->out, "");
	t_has(r->err, "--target 127.0.0.1:1");
	t_has(r->err, "add --service NAME");
	t_has(r->err, " av1 av2\n");

	/* 127.0.0.1:1 refuses at once: unreachable, exit 1, for av2 alone */
	r = t_run("probe", "-c", two_path, "--target", "127.0.0.1:1",
		  "--service", "av2", NULL);
	assert_int_equal(r->rc, 1);
	t_has(r->out, "127.0.0.1:1");
	t_has(r->out, "av2");
	t_lacks(r->out, "av1");

	one = t_conf("one.conf", 1);
	r = t_run("probe", "-c", one, "--target", "127.0.0.1:1", NULL);
	assert_int_equal(r->rc, 1);
	t_has(r->out, "av1");
	t_has(r->out, "127.0.0.1:1");
	assert_int_equal(
		t_run("probe", "--target", "host.example:443", NULL)->rc, 2);
	t_has(t_res.err, "names are not resolved");
}

static int t_setup(void **state)
{
	(void)state;
	return mkdtemp(t_dir) ? 0 : -1;
}

static int t_teardown(void **state)
{
	char path[600];

	(void)state;
	snprintf(path, sizeof(path), "%s/one.conf", t_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/two.conf", t_dir);
	unlink(path);
	return rmdir(t_dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_every_command),
		cmocka_unit_test(test_help_forms),
		cmocka_unit_test(test_version_flags),
		cmocka_unit_test(test_global_usage),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_probe_target_needs_service),
	};

	return cmocka_run_group_tests(tests, t_setup, t_teardown);
}
