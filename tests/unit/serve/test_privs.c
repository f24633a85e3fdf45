/* test_privs.c — the privilege drop (src/serve/privs.c) and the pid file
 * (src/serve/pidfile.c).  The drop runs in a child process (it cannot be
 * undone): as root, the child must end up as nobody with no supplementary
 * groups and CAP_NET_BIND_SERVICE as its only capability; not as root, nothing
 * changes.  The pid file is written, removed, and emptied when its folder
 * cannot be written (as nobody, in a child). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "edge443/serve/pidfile.h"
#include "edge443/serve/privs.h"

/* The value of FIELD ("CapEff:") in /proc/self/status, or ~0. */
static unsigned long long test_status_hex(const char *field)
{
	char line[256];
	unsigned long long v = ~0ULL;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return v;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0)
			v = strtoull(line + strlen(field), NULL, 16);
	fclose(f);
	return v;
}

/* Run FN in a child; its exit status (0 = every check held). */
static int test_in_child(int (*fn)(void))
{
	int status = -1;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static int test_drop_child(void)
{
	struct passwd *pw = getpwnam("nobody");
	char err[256] = "";
	uid_t before = getuid();

	if (!pw)
		return 10;
	if (privs_drop("nobody", NULL, err, sizeof(err)) != 0)
		return 11;
	if (before != 0)
		return getuid() == before ? 0 : 12; /* nothing to drop */
	if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid)
		return 13;
	if (getgid() != pw->pw_gid || getegid() != pw->pw_gid)
		return 14;
	if (getgroups(0, NULL) != 0)
		return 15;
	/* Bit 10: CAP_NET_BIND_SERVICE, and nothing else. */
	if (test_status_hex("CapEff:") != (1ULL << 10) ||
	    test_status_hex("CapPrm:") != (1ULL << 10))
		return 16;
	return 0;
}

static void test_drop(void **state)
{
	(void)state;
	assert_int_equal(test_in_child(test_drop_child), 0);
}

static int test_drop_unknown_child(void)
{
	char err[256] = "";

	if (getuid() != 0)
		return 0; /* not root: the user option does not apply */
	if (privs_drop("edge443-no-such-user", NULL, err, sizeof(err)) == 0)
		return 20;
	return strstr(err, "does not exist") ? 0 : 21;
}

static void test_drop_unknown_user(void **state)
{
	(void)state;
	assert_int_equal(test_in_child(test_drop_unknown_child), 0);
}

static char test_dir[128];

static void test_pidfile_roundtrip(void **state)
{
	char path[256], buf[64] = "", err[256];
	FILE *f;

	(void)state;
	snprintf(test_dir, sizeof(test_dir), "/tmp/edge443-test-pid.XXXXXX");
	assert_non_null(mkdtemp(test_dir));
	snprintf(path, sizeof(path), "%s/edge443.pid", test_dir);
	assert_int_equal(pidfile_write(path, err, sizeof(err)), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_int_equal(atol(buf), (long)getpid());
	assert_int_equal(pidfile_remove(path, err, sizeof(err)), 0);
	assert_int_equal(access(path, F_OK), -1);
	/* Already gone is fine. */
	assert_int_equal(pidfile_remove(path, err, sizeof(err)), 0);
	/* A folder that cannot be created in: the reason says where. */
	assert_int_equal(
		pidfile_write("/nonexistent/edge443.pid", err, sizeof(err)),
		-1);
	assert_non_null(strstr(err, "/nonexistent/edge443.pid"));
}

/* After the drop the folder (root's) cannot be written: the file, handed to
 * the service user, is emptied instead of left with a stale pid. */
static int test_pidfile_empty_child(void)
{
	struct passwd *pw = getpwnam("nobody");
	char path[256], err[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/edge443.pid", test_dir);
	if (!pw || setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0)
		return 30;
	if (pidfile_remove(path, err, sizeof(err)) != 0)
		return 31;
	if (stat(path, &st) != 0 || st.st_size != 0)
		return 32;
	return 0;
}

static void test_pidfile_emptied(void **state)
{
	struct passwd *pw = getpwnam("nobody");
	char path[256], err[256];

	(void)state;
	if (geteuid() != 0 || !pw) {
		rmdir(test_dir);
		skip(); /* needs root to hand the file to nobody */
	}
	snprintf(path, sizeof(path), "%s/edge443.pid", test_dir);
	assert_int_equal(pidfile_write(path, err, sizeof(err)), 0);
	assert_int_equal(chown(path, pw->pw_uid, pw->pw_gid), 0);
	assert_int_equal(chmod(test_dir, 0755), 0); /* nobody: no write */
	assert_int_equal(test_in_child(test_pidfile_empty_child), 0);
	unlink(path);
	rmdir(test_dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drop),
		cmocka_unit_test(test_drop_unknown_user),
		cmocka_unit_test(test_pidfile_roundtrip),
		cmocka_unit_test(test_pidfile_emptied),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
