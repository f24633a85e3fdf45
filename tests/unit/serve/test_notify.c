/* test_notify.c — the service manager's messages (src/serve/notify.c).
 *
 * notify_message is checked as a table of states and statuses, byte for
 * byte: every STATUS= must come out as one line of valid UTF-8, cut on a
 * character boundary.  notify_send is checked against a real datagram
 * socket made here (a path, then an abstract name) standing in for
 * systemd's: the datagram that arrives is compared with what
 * notify_message builds; without NOTIFY_SOCKET nothing is sent, and a
 * socket that is not there is an error the caller can see.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "edge443/serve/notify.h"

/* ---- notify_message ----------------------------------------------------- */

struct notify_case {
	enum notify_state state;
	const char *status;
	const char *want;
};

static const struct notify_case notify_good[] = {
	{NOTIFY_READY, NULL, "READY=1"},
	{NOTIFY_READY, "serving 4 services on 5 addresses",
	 "READY=1\nSTATUS=serving 4 services on 5 addresses"},
	{NOTIFY_RELOADING, NULL, "RELOADING=1\nMONOTONIC_USEC=1234567"},
	{NOTIFY_RELOADING, "reloading /etc/edge443/edge443.conf",
	 "RELOADING=1\nMONOTONIC_USEC=1234567\n"
	 "STATUS=reloading /etc/edge443/edge443.conf"},
	{NOTIFY_STOPPING, "draining", "STOPPING=1\nSTATUS=draining"},
	{NOTIFY_STOPPING, NULL, "STOPPING=1"},
	{NOTIFY_STATUS, "reload refused: x", "STATUS=reload refused: x"},
	{NOTIFY_STATUS, NULL, "STATUS="}, /* clears the status */
	{NOTIFY_READY, "", "READY=1\nSTATUS="},
	/* A newline must not start another assignment. */
	{NOTIFY_READY, "bad\nREADY=1\r\nSTOPPING=1",
	 "READY=1\nSTATUS=bad READY=1  STOPPING=1"},
	{NOTIFY_STATUS, "tab\there\x7f\x01", "STATUS=tab here  "},
	/* Valid UTF-8 is kept... */
	{NOTIFY_STATUS, "a \xe2\x80\x94 b \xc3\xa9 \xf0\x9f\x94\x92",
	 "STATUS=a \xe2\x80\x94 b \xc3\xa9 \xf0\x9f\x94\x92"},
	/* ...anything else becomes '?', byte by byte: a stray continuation
	 * byte, 0xff, an overlong '/', a surrogate, a cut character, a code
	 * point above U+10FFFF. */
	{NOTIFY_STATUS,
	 "\x80|\xff|\xc0\xaf|\xed\xa0\x80|\xe2\x82|\xf4\x90\x80\x80",
	 "STATUS=?|?|??|???|??|????"},
	{NOTIFY_STATUS, "end\xe2", "STATUS=end?"},
};

static void test_message_table(void **state)
{
	char buf[1024];

	for (size_t i = 0; i < sizeof(notify_good) / sizeof(notify_good[0]);
	     i++) {
		const struct notify_case *c = &notify_good[i];
		int n = notify_message(buf, sizeof(buf), c->state, c->status,
				       1234567);

		if (n < 0 || strcmp(buf, c->want) != 0)
			print_error("case %zu: got \"%s\", want \"%s\"\n", i,
				    buf, c->want);
		assert_int_equal(n, (int)strlen(c->want));
		assert_string_equal(buf, c->want);
	}
	(void)state;
}

/* A status longer than NOTIFY_STATUS_MAX is cut there; one whose cut would
 * fall inside a UTF-8 character is cut before that character. */
static void test_message_cut(void **state)
{
	char status[NOTIFY_STATUS_MAX + 64];
	char buf[NOTIFY_STATUS_MAX + 128];
	const char *text;
	int n;

	memset(status, 'x', sizeof(status) - 1);
	status[sizeof(status) - 1] = '\0';
	n = notify_message(buf, sizeof(buf), NOTIFY_STATUS, status, 0);
	assert_int_equal(n, (int)strlen("STATUS=") + NOTIFY_STATUS_MAX);
	text = buf + strlen("STATUS=");
	assert_int_equal(strspn(text, "x"), NOTIFY_STATUS_MAX);

	/* "—" (3 bytes) across the limit: cut before it. */
	memset(status, 'x', NOTIFY_STATUS_MAX - 1);
	memcpy(status + NOTIFY_STATUS_MAX - 1, "\xe2\x80\x94zz", 6);
	n = notify_message(buf, sizeof(buf), NOTIFY_STATUS, status, 0);
	assert_int_equal(n, (int)strlen("STATUS=") + NOTIFY_STATUS_MAX - 1);
	assert_int_equal(buf[n - 1], 'x');
}

/* A small buffer: the status is cut where the buffer ends (on a character
 * boundary), and a buffer that cannot hold the assignment is an error. */
static void test_message_small_buffer(void **state)
{
	char buf[32];
	int n;

	n = notify_message(buf, 16, NOTIFY_READY, "abcdefghijk", 0);
	assert_int_equal(n, 15);
	assert_string_equal(buf, "READY=1\nSTATUS=");
	n = notify_message(buf, 18, NOTIFY_READY, "a\xc3\xa9", 0);
	assert_int_equal(n, 16);
	assert_string_equal(buf, "READY=1\nSTATUS=a");
	assert_int_equal(notify_message(buf, 7, NOTIFY_READY, NULL, 0), -1);
	assert_string_equal(buf, "");
	assert_int_equal(
		notify_message(buf, 16, NOTIFY_RELOADING, NULL, 1234567), -1);
	assert_int_equal(notify_message(buf, 0, NOTIFY_READY, NULL, 0), -1);
	(void)state;
}

/* ---- notify_send -------------------------------------------------------- */

struct test_sock {
	char dir[64];
	char path[128];
	int fd;
};

static int test_sock_setup(void **state)
{
	struct test_sock *t = calloc(1, sizeof(*t));
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {5, 0};

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/edge443-notify.XXXXXX");
	if (!mkdtemp(t->dir))
		return -1;
	snprintf(t->path, sizeof(t->path), "%s/notify.sock", t->dir);
	if (strlen(t->path) >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, t->path, strlen(t->path) + 1);
	t->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (t->fd < 0 ||
	    bind(t->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -1;
	*state = t;
	return 0;
}

static int test_sock_teardown(void **state)
{
	struct test_sock *t = *state;

	unsetenv("NOTIFY_SOCKET");
	close(t->fd);
	unlink(t->path);
	rmdir(t->dir);
	free(t);
	return 0;
}

/* The next datagram on FD, NUL-terminated, or "" after the 5 s timeout. */
static void test_recv(int fd, char *buf, size_t len)
{
	ssize_t n = recv(fd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
}

static void test_send_path(void **state)
{
	struct test_sock *t = *state;
	char got[1024];

	assert_int_equal(setenv("NOTIFY_SOCKET", t->path, 1), 0);
	assert_int_equal(
		notify_send(NOTIFY_READY, "serving %d service%s", 1, ""), 1);
	test_recv(t->fd, got, sizeof(got));
	assert_string_equal(got, "READY=1\nSTATUS=serving 1 service");

	assert_int_equal(
		notify_send(NOTIFY_STOPPING, "draining\n%s", "READY=1"), 1);
	test_recv(t->fd, got, sizeof(got));
	assert_string_equal(got, "STOPPING=1\nSTATUS=draining READY=1");

	/* RELOADING=1 carries CLOCK_MONOTONIC in microseconds. */
	struct timespec before, after;
	unsigned long long usec = 0;
	clock_gettime(CLOCK_MONOTONIC, &before);
	assert_int_equal(notify_send(NOTIFY_RELOADING, NULL), 1);
	clock_gettime(CLOCK_MONOTONIC, &after);
	test_recv(t->fd, got, sizeof(got));
	assert_int_equal(sscanf(got, "RELOADING=1\nMONOTONIC_USEC=%llu", &usec),
			 1);
	assert_true(usec >= (unsigned long long)before.tv_sec * 1000000u +
				    (unsigned long long)before.tv_nsec / 1000u);
	assert_true(usec <= (unsigned long long)after.tv_sec * 1000000u +
				    (unsigned long long)after.tv_nsec / 1000u);
	/* The variable stays: later notifications need it. */
	assert_string_equal(getenv("NOTIFY_SOCKET"), t->path);
}

/* systemd may hand out an abstract socket ("@name"). */
static void test_send_abstract(void **state)
{
	struct test_sock *t = *state;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char name[64], got[256];
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct timeval tv = {5, 0};
	socklen_t len;

	assert_true(fd >= 0);
	snprintf(name, sizeof(name), "@edge443-test-notify-%ld",
		 (long)getpid());
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", name);
	sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
			  strlen(name));
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
	assert_int_equal(notify_send(NOTIFY_STATUS, "%s", "hello"), 1);
	test_recv(fd, got, sizeof(got));
	assert_string_equal(got, "STATUS=hello");
	close(fd);
	(void)t;
}

/* No NOTIFY_SOCKET: nothing is sent and 0 says so. */
static void test_send_unset(void **state)
{
	struct test_sock *t = *state;
	char got[256];
	ssize_t n;
	struct timeval tv = {0, 200000};

	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(notify_send(NOTIFY_READY, "serving"), 0);
	assert_int_equal(notify_send(NOTIFY_STOPPING, NULL), 0);
	setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = recv(t->fd, got, sizeof(got), 0);
	assert_int_equal(n, -1);
}

/* A socket that is not there: -1 with errno, for the caller to log. */
static void test_send_missing(void **state)
{
	struct test_sock *t = *state;
	char path[160];

	snprintf(path, sizeof(path), "%s/nobody-listens.sock", t->dir);
	assert_int_equal(setenv("NOTIFY_SOCKET", path, 1), 0);
	errno = 0;
	assert_int_equal(notify_send(NOTIFY_READY, "serving"), -1);
	assert_int_equal(errno, ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_table),
		cmocka_unit_test(test_message_cut),
		cmocka_unit_test(test_message_small_buffer),
		cmocka_unit_test_setup_teardown(test_send_path, test_sock_setup,
						test_sock_teardown),
		cmocka_unit_test_setup_teardown(test_send_abstract,
						test_sock_setup,
						test_sock_teardown),
		cmocka_unit_test_setup_teardown(
			test_send_unset, test_sock_setup, test_sock_teardown),
		cmocka_unit_test_setup_teardown(
			test_send_missing, test_sock_setup, test_sock_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
