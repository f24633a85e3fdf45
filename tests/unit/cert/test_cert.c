/* test_cert.c — unit tests for cert.c over the test PKI of tests/pki/mkpki.sh.
 *
 * The PKI folder is $EDGE443_PKI (the "pki" ctest fixture).  Each test loads
 * one or a few files and checks the one fact that tells that file apart;
 * files that the PKI does not hold (bare PKCS#1/SEC1 keys, an encrypted key,
 * a partial-wildcard certificate, an oversized file) are made here in a
 * temporary folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "edge443/cert/cert.h"

#define TEST_CERT_DAY 86400

static const char *test_cert_pki;
static char test_cert_tmp[] = "/tmp/test_cert.XXXXXX";

/* Path of NAME in the PKI folder; a ring of buffers so that a call may use
 * several at once. */
static const char *pki(const char *name)
{
	static char bufs[6][PATH_MAX];
	static unsigned next;
	char *b = bufs[next++ % 6];

	snprintf(b, PATH_MAX, "%s/%s", test_cert_pki, name);
	return b;
}

/* Path of NAME in this run's temporary folder. */
static const char *tmp(const char *name)
{
	static char bufs[4][PATH_MAX];
	static unsigned next;
	char *b = bufs[next++ % 4];

	snprintf(b, PATH_MAX, "%s/%s", test_cert_tmp, name);
	return b;
}

static void test_cert_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Concatenate the PKI files NAMES into the temporary file OUT. */
static void test_cert_cat(const char *out, const char *const *names)
{
	FILE *o = fopen(out, "wb");
	char buf[4096];
	size_t n;

	assert_non_null(o);
	for (; *names != NULL; names++) {
		FILE *i = fopen(pki(*names), "rb");

		assert_non_null(i);
		while ((n = fread(buf, 1, sizeof(buf), i)) > 0)
			assert_int_equal(fwrite(buf, 1, n, o), n);
		fclose(i);
	}
	assert_int_equal(fclose(o), 0);
}

static int test_cert_setup(void **state)
{
	(void)state;
	test_cert_pki = getenv("EDGE443_PKI");
	if (test_cert_pki == NULL || test_cert_pki[0] == '\0') {
		fprintf(stderr,
			"EDGE443_PKI is not set (run tests/pki/mkpki.sh)\n");
		return -1;
	}
	if (access(pki("ssl1.crt"), R_OK) != 0) {
		fprintf(stderr, "%s: no test PKI there\n", test_cert_pki);
		return -1;
	}
	if (mkdtemp(test_cert_tmp) == NULL)
		return -1;
	return 0;
}

static int test_cert_teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_cert_tmp);
	return system(cmd) == 0 ? 0 : -1;
}

/* Load a certificate without chain or key that must load cleanly. */
static struct cert_info *load_ok(const char *name)
{
	struct cert_info *ci = cert_load(pki(name), NULL, NULL);

	assert_non_null(ci);
	if (ci->nerrors != 0)
		fail_msg("%s: %s", ci->errors[0].path, ci->errors[0].detail);
	assert_non_null(ci->leaf);
	assert_non_null(ci->chain);
	return ci;
}

static time_t test_cert_utc(int y, int m, int d)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	return timegm(&tm);
}

/* ---- facts of good certificates ------------------------------------- */

static void test_ssl1_facts(void **state)
{
	static const char *const want[] = {
		"sip.example.com",    "cwa.example.com",
		"as.cwa.example.com", "download.cwa.example.com",
		"sip.example.org",
	};
	struct cert_info *ci;
	time_t now = time(NULL);
	char desc[32];
	size_t i;

	(void)state;
	ci = cert_load(pki("ssl1.crt"), pki("chain.pem"), pki("ssl1.key"));
	assert_non_null(ci);
	assert_int_equal(ci->nerrors, 0);
	assert_non_null(ci->leaf);
	assert_non_null(ci->key);
	assert_int_equal(sk_X509_num(ci->chain), 1);
	assert_string_equal(ci->cn, "sip.example.com");
	assert_true(ci->has_san_ext);
	assert_int_equal(ci->nsans, 5);
	for (i = 0; i < 5; i++)
		assert_string_equal(ci->sans[i], want[i]);
	assert_true(ci->has_eku);
	assert_int_equal(ci->eku, CERT_EKU_SERVER | CERT_EKU_CLIENT);
	assert_true(ci->has_ku);
	assert_int_equal(ci->ku,
			 CERT_KU_DIGITAL_SIGNATURE | CERT_KU_KEY_ENCIPHERMENT);
	assert_int_equal(ci->key_type, CERT_KEY_RSA);
	assert_int_equal(ci->key_bits, 2048);
	assert_string_equal(ci->key_curve, "");
	assert_string_equal(cert_key_desc(ci, desc, sizeof(desc)), "RSA-2048");
	assert_string_equal(ci->sig_alg, "sha256WithRSAEncryption");
	assert_false(ci->sig_weak);
	assert_string_equal(ci->subject, "CN=sip.example.com");
	assert_string_equal(ci->issuer, "CN=edge443 Test Public Intermediate");
	assert_false(ci->self_signed);
	assert_false(ci->chain_has_root);
	assert_true(ci->key_matches);
	assert_int_equal(ci->key_mode, 0600);
	/* Valid from yesterday for 90 days. */
	assert_true(ci->not_before <= now);
	assert_true(ci->not_before > now - 2 * TEST_CERT_DAY);
	assert_int_equal(ci->not_after - ci->not_before, 90 * TEST_CERT_DAY);
	assert_int_equal(ci->chain_status, CERT_CHAIN_UNCHECKED);
	cert_free(ci);
}

/* The fingerprint is "AA:BB:..." and equals what the openssl CLI says. */
static void test_ssl1_fingerprint(void **state)
{
	struct cert_info *ci = load_ok("ssl1.crt");
	char cmd[PATH_MAX + 64], line[256], *eq;
	FILE *p;
	size_t i;

	(void)state;
	assert_int_equal(strlen(ci->fingerprint), 32 * 3 - 1);
	for (i = 0; i < 95; i++) {
		char c = ci->fingerprint[i];

		if (i % 3 == 2)
			assert_int_equal(c, ':');
		else
			assert_true((c >= '0' && c <= '9') ||
				    (c >= 'A' && c <= 'F'));
	}
	snprintf(cmd, sizeof(cmd),
		 "openssl x509 -in '%s' -noout -fingerprint -sha256",
		 pki("ssl1.crt"));
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(line, sizeof(line), p));
	assert_int_equal(pclose(p), 0);
	line[strcspn(line, "\r\n")] = '\0';
	eq = strchr(line, '=');
	assert_non_null(eq);
	assert_string_equal(ci->fingerprint, eq + 1);
	cert_free(ci);
}

static void test_ecdsa_facts(void **state)
{
	struct cert_info *ci;
	char desc[32];

	(void)state;
	ci = cert_load(pki("ecdsa.crt"), NULL, pki("ecdsa.key"));
	assert_int_equal(ci->nerrors, 0);
	assert_int_equal(ci->key_type, CERT_KEY_EC);
	assert_int_equal(ci->key_bits, 256);
	assert_string_equal(ci->key_curve, "prime256v1");
	assert_string_equal(cert_key_desc(ci, desc, sizeof(desc)), "EC-P-256");
	assert_int_equal(ci->ku, CERT_KU_DIGITAL_SIGNATURE);
	assert_true(ci->key_matches);
	assert_string_equal(ci->cn, "www.example.com");
	cert_free(ci);
}

static void test_san_order(void **state)
{
	struct cert_info *ci = load_ok("badorder.crt");

	(void)state;
	assert_int_equal(ci->nsans, 3);
	assert_string_equal(ci->sans[0], "*.example.com");
	assert_string_equal(ci->sans[1], "www.example.com");
	assert_string_equal(ci->sans[2], "sip.example.com");
	cert_free(ci);

	ci = load_ok("cn-not-san.crt");
	assert_string_equal(ci->cn, "sip.example.com");
	assert_int_equal(ci->nsans, 1);
	assert_string_equal(ci->sans[0], "www.example.com");
	cert_free(ci);

	ci = load_ok("wildcard.crt");
	assert_string_equal(ci->cn, "*.example.com");
	assert_true(cert_name_is_wildcard(ci->cn));
	cert_free(ci);
}

/* ---- the broken variants, one distinguishing fact each --------------- */

static void test_dates(void **state)
{
	struct cert_info *ci;
	time_t now = time(NULL);

	(void)state;
	ci = load_ok("expired.crt");
	assert_int_equal(ci->not_before, test_cert_utc(2020, 1, 1));
	assert_int_equal(ci->not_after, test_cert_utc(2021, 1, 1));
	cert_free(ci);

	ci = load_ok("notyet.crt");
	assert_int_equal(ci->not_before, test_cert_utc(2099, 1, 1));
	assert_int_equal(ci->not_after, test_cert_utc(2099, 3, 1));
	cert_free(ci);

	ci = load_ok("soon.crt");
	assert_true(ci->not_after > now + 9 * TEST_CERT_DAY);
	assert_true(ci->not_after <= now + 10 * TEST_CERT_DAY);
	cert_free(ci);

	ci = load_ok("longlife.crt");
	assert_int_equal(ci->not_after - ci->not_before, 825 * TEST_CERT_DAY);
	cert_free(ci);
}

static void test_nosan(void **state)
{
	struct cert_info *ci = load_ok("nosan.crt");

	(void)state;
	assert_false(ci->has_san_ext);
	assert_int_equal(ci->nsans, 0);
	assert_string_equal(ci->cn, "sip.example.com");
	/* Clients never fall back to the CN. */
	assert_false(cert_covers(ci, "sip.example.com"));
	cert_free(ci);
}

static void test_rsa1024(void **state)
{
	struct cert_info *ci = load_ok("rsa1024.crt");
	char desc[32];

	(void)state;
	assert_int_equal(ci->key_type, CERT_KEY_RSA);
	assert_int_equal(ci->key_bits, 1024);
	assert_string_equal(cert_key_desc(ci, desc, sizeof(desc)), "RSA-1024");
	cert_free(ci);
}

static void test_sha1(void **state)
{
	struct cert_info *ci = load_ok("sha1.crt");

	(void)state;
	assert_true(ci->sig_weak);
	assert_string_equal(ci->sig_alg, "sha1WithRSAEncryption");
	assert_string_equal(ci->sig_weak_subject, "CN=sip.example.com");
	cert_free(ci);
}

/* A SHA-1 intermediate makes the chain weak; a SHA-1 root would not. */
static void test_sha1_in_chain(void **state)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	struct cert_info *ci = load_ok("ssl1.crt");
	struct cert_info *weak = load_ok("sha1.crt");
	struct cert_info *got;

	(void)state;
	assert_non_null(chain);
	/* sha1.crt is not self-signed: as a "chain certificate" it counts. */
	assert_int_equal(sk_X509_push(chain, weak->leaf), 1);
	got = cert_from_x509(ci->leaf, chain);
	assert_non_null(got);
	assert_true(got->sig_weak);
	assert_string_equal(got->sig_weak_subject, "CN=sip.example.com");
	assert_string_equal(got->sig_alg, "sha256WithRSAEncryption");
	cert_free(got);
	sk_X509_free(chain);
	cert_free(weak);
	cert_free(ci);
}

static void test_eku_ku(void **state)
{
	struct cert_info *ci;

	(void)state;
	ci = load_ok("clientonly.crt");
	assert_true(ci->has_eku);
	assert_int_equal(ci->eku, CERT_EKU_CLIENT);
	cert_free(ci);

	ci = load_ok("serveronly.crt");
	assert_int_equal(ci->eku, CERT_EKU_SERVER);
	cert_free(ci);

	ci = load_ok("nodigsig.crt");
	assert_true(ci->has_ku);
	assert_int_equal(ci->ku, CERT_KU_KEY_ENCIPHERMENT);
	cert_free(ci);
}

static void test_key_mismatch(void **state)
{
	struct cert_info *ci;

	(void)state;
	ci = cert_load(pki("ssl1.crt"), NULL, pki("mismatch.key"));
	assert_int_equal(ci->nerrors, 0);
	assert_non_null(ci->key);
	assert_false(ci->key_matches);
	cert_free(ci);
}

static void test_key_world_readable(void **state)
{
	struct cert_info *ci;

	(void)state;
	ci = cert_load(pki("ssl1.crt"), NULL, pki("world.key"));
	assert_int_equal(ci->nerrors, 0);
	assert_true(ci->key_matches);
	assert_int_equal(ci->key_mode, 0644);
	cert_free(ci);
}

static void test_self_signed(void **state)
{
	struct cert_info *ci;

	(void)state;
	ci = load_ok("selfsigned.crt");
	assert_true(ci->self_signed);
	assert_string_equal(ci->subject, ci->issuer);
	cert_free(ci);

	ci = load_ok("root.crt");
	assert_true(ci->self_signed);
	cert_free(ci);

	ci = load_ok("int.crt");
	assert_false(ci->self_signed);
	cert_free(ci);
}

/* ---- chains ---------------------------------------------------------- */

static void test_chain_ok(void **state)
{
	struct cert_info *ci;
	char err[256] = "";

	(void)state;
	ci = cert_load(pki("ssl1.crt"), pki("chain.pem"), NULL);
	assert_int_equal(
		cert_verify_chain(ci, pki("trust.pem"), err, sizeof(err)), 0);
	assert_int_equal(ci->chain_status, CERT_CHAIN_OK);
	assert_false(ci->chain_has_root);
	assert_int_equal(ci->chain_extra, 0);
	cert_free(ci);

	/* Expiry does not make a chain incomplete. */
	ci = cert_load(pki("expired.crt"), pki("chain.pem"), NULL);
	assert_int_equal(
		cert_verify_chain(ci, pki("trust.pem"), err, sizeof(err)), 0);
	assert_int_equal(ci->chain_status, CERT_CHAIN_OK);
	cert_free(ci);

	ci = cert_load(pki("notyet.crt"), pki("chain.pem"), NULL);
	assert_int_equal(
		cert_verify_chain(ci, pki("trust.pem"), err, sizeof(err)), 0);
	assert_int_equal(ci->chain_status, CERT_CHAIN_OK);
	cert_free(ci);
}

/* Intermediates after the leaf in the cert file count as chain; a key block
 * in a combined file is skipped. */
static void test_chain_in_cert_file(void **state)
{
	static const char *const names[] = {"ssl1.key", "ssl1.crt", "int.crt",
					    NULL};
	struct cert_info *ci;
	char err[256] = "";

	(void)state;
	test_cert_cat(tmp("combined.pem"), names);
	ci = cert_load(tmp("combined.pem"), NULL, NULL);
	assert_int_equal(ci->nerrors, 0);
	assert_string_equal(ci->cn, "sip.example.com");
	assert_int_equal(sk_X509_num(ci->chain), 1);
	assert_int_equal(
		cert_verify_chain(ci, pki("trust.pem"), err, sizeof(err)), 0);
	assert_int_equal(ci->chain_status, CERT_CHAIN_OK);
	cert_free(ci);
}

static void test_chain_incomplete(void **state)
{
	struct cert_info *ci;
	char err[256] = "";

	(void)state;
	ci = load_ok("ssl1.crt");
	assert_int_equal(
		cert_verify_chain(ci, pki("trust.pem"), err, sizeof(err)), 0);
	assert_int_equal(ci->chain_status, CERT_CHAIN_INCOMPLETE);
	assert_string_equal(ci->chain_detail,
			    "unable to get local issuer certificate at depth 0 "
			    "(CN=sip.example.com)");
	assert_int_equal(ci->chain_extra, 0);
	cert_free(ci);
}

static void test_chain_extra(void **state)
{
	struct cert_info *ci;
	char err[256] = "";

	(void)state;
	ci = cert_load(pki("ssl1.crt"), pki("chain-extra.pem"), NULL);
	assert_int_equal(ci->nerrors, 0);
	assert_int_equal(sk_X509_num(ci->chain), 3);
	assert_true(ci->chain_has_root);
	assert_int_equal(
		cert_verify_chain(ci, pki("trust.pem"), err, sizeof(err)), 0);
	assert_int_equal(ci->chain_status, CERT_CHAIN_OK);
	/* root.crt is on the path (and flagged by chain_has_root);
	 * internal-ca.crt is not. */
	assert_int_equal(ci->chain_extra, 1);
	cert_free(ci);

	/* Without a verified path the issuer walk still finds the stranger. */
	ci = cert_load(pki("ssl1.crt"), pki("chain-extra.pem"), NULL);
	assert_int_equal(
		cert_verify_chain(ci, pki("internal-ca.crt"), err, sizeof(err)),
		0);
	assert_int_equal(ci->chain_status, CERT_CHAIN_INCOMPLETE);
	assert_int_equal(ci->chain_extra, 1);
	cert_free(ci);
}

static void test_chain_internal(void **state)
{
	struct cert_info *ci;
	char err[256] = "";

	(void)state;
	ci = load_ok("edge-int.crt");
	assert_int_equal(
		cert_verify_chain(ci, pki("trust.pem"), err, sizeof(err)), 0);
	assert_int_equal(ci->chain_status, CERT_CHAIN_INCOMPLETE);
	assert_non_null(strstr(ci->chain_detail, "CN=edge01.corp.example"));
	assert_int_equal(
		cert_verify_chain(ci, pki("internal-ca.crt"), err, sizeof(err)),
		0);
	assert_int_equal(ci->chain_status, CERT_CHAIN_OK);
	assert_string_equal(ci->issuer, "CN=edge443 Test Internal Root");
	cert_free(ci);
}

static void test_chain_trust_unreadable(void **state)
{
	struct cert_info *ci = load_ok("ssl1.crt");
	char err[256] = "";

	(void)state;
	assert_int_equal(cert_verify_chain(ci, pki("no-such-trust.pem"), err,
					   sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "no-such-trust.pem"));
	assert_non_null(strstr(err, "No such file or directory"));
	assert_int_equal(ci->chain_status, CERT_CHAIN_UNCHECKED);

	err[0] = '\0';
	assert_int_equal(
		cert_verify_chain(ci, pki("garbage.pem"), err, sizeof(err)),
		-1);
	assert_non_null(strstr(err, "garbage.pem"));

	err[0] = '\0';
	assert_int_equal(cert_verify_chain(ci, test_cert_pki, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "is a directory"));
	cert_free(ci);
}

/* ---- file errors ----------------------------------------------------- */

/* Load PATH as the certificate and expect exactly one error of status ST
 * whose detail contains WANT. */
static void expect_cert_error(const char *path, enum cert_file_status st,
			      const char *want)
{
	struct cert_info *ci = cert_load(path, NULL, NULL);

	assert_non_null(ci);
	assert_null(ci->leaf);
	assert_non_null(ci->chain);
	assert_int_equal(ci->nerrors, 1);
	assert_string_equal(ci->errors[0].path, path);
	if (ci->errors[0].status != st ||
	    strstr(ci->errors[0].detail, want) == NULL)
		fail_msg("%s: got %s \"%s\", want %s containing \"%s\"", path,
			 cert_file_status_name(ci->errors[0].status),
			 ci->errors[0].detail, cert_file_status_name(st), want);
	cert_free(ci);
}

/* The same for a key file next to ssl1.crt. */
static void expect_key_error(const char *path, enum cert_file_status st,
			     const char *want)
{
	struct cert_info *ci = cert_load(pki("ssl1.crt"), NULL, path);

	assert_non_null(ci);
	assert_non_null(ci->leaf);
	assert_null(ci->key);
	assert_false(ci->key_matches);
	assert_int_equal(ci->nerrors, 1);
	assert_string_equal(ci->errors[0].path, path);
	if (ci->errors[0].status != st ||
	    strstr(ci->errors[0].detail, want) == NULL)
		fail_msg("%s: got %s \"%s\", want %s containing \"%s\"", path,
			 cert_file_status_name(ci->errors[0].status),
			 ci->errors[0].detail, cert_file_status_name(st), want);
	cert_free(ci);
}

static void test_file_errors(void **state)
{
	(void)state;
	expect_cert_error(pki("no-such.crt"), CERT_FILE_MISSING,
			  "No such file or directory");
	expect_cert_error(test_cert_pki, CERT_FILE_UNREADABLE,
			  "is a directory");
	expect_cert_error(pki("empty.pem"), CERT_FILE_NO_PEM, "empty");
	expect_cert_error(pki("garbage.pem"), CERT_FILE_NO_PEM,
			  "holds no PEM certificate");
	expect_cert_error(pki("truncated.crt"), CERT_FILE_BAD_PEM,
			  "holds no PEM certificate that decodes: ");
	/* A key is not a certificate, and says what it found. */
	expect_cert_error(pki("ssl1.key"), CERT_FILE_NO_PEM, "\"PRIVATE KEY\"");
	expect_key_error(pki("ssl1.crt"), CERT_FILE_NO_PEM, "\"CERTIFICATE\"");
	expect_key_error(pki("no-such.key"), CERT_FILE_MISSING,
			 "No such file or directory");
	expect_key_error(pki("empty.pem"), CERT_FILE_NO_PEM, "empty");
	expect_key_error(pki("garbage.pem"), CERT_FILE_NO_PEM,
			 "holds no PEM private key");
}

static void test_unreadable_file(void **state)
{
	const char *path = tmp("secret.crt");

	(void)state;
	test_cert_cat(path, (const char *const[]){"ssl1.crt", NULL});
	assert_int_equal(chmod(path, 0), 0);
	if (geteuid() != 0) {
		expect_cert_error(path, CERT_FILE_UNREADABLE,
				  "Permission denied");
		return;
	}
	/* Root reads mode-0000 files: the check runs in a child that has
	 * become nobody (CI runs as root). */
	int status = -1;
	assert_int_equal(chmod(test_cert_tmp, 0711), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 || setgid(65534) != 0 ||
		    setuid(65534) != 0)
			_exit(3);
		struct cert_info *ci = cert_load(path, NULL, NULL);
		bool ok = ci && !ci->leaf && ci->nerrors == 1 &&
			  ci->errors[0].status == CERT_FILE_UNREADABLE &&
			  ci->errors[0].detail &&
			  strstr(ci->errors[0].detail, "Permission denied");
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_huge_file(void **state)
{
	const char *path = tmp("huge.pem");
	FILE *f = fopen(path, "wb");

	(void)state;
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), 4 * 1024 * 1024), 0);
	assert_int_equal(fclose(f), 0);
	expect_cert_error(path, CERT_FILE_NO_PEM, "bytes");
	assert_int_equal(unlink(path), 0);
}

/* Errors of several files are recorded separately, each with its path. */
static void test_errors_per_file(void **state)
{
	struct cert_info *ci;

	(void)state;
	ci = cert_load(pki("ssl1.crt"), pki("no-such-chain.pem"),
		       pki("empty.pem"));
	assert_non_null(ci->leaf);
	assert_int_equal(ci->nerrors, 2);
	assert_int_equal(ci->errors[0].status, CERT_FILE_MISSING);
	assert_string_equal(ci->errors[0].path, pki("no-such-chain.pem"));
	assert_int_equal(ci->errors[1].status, CERT_FILE_NO_PEM);
	assert_string_equal(ci->errors[1].path, pki("empty.pem"));
	assert_string_equal(ci->cn, "sip.example.com");
	cert_free(ci);

	ci = cert_load(pki("no-such.crt"), pki("chain.pem"), pki("ssl1.key"));
	assert_null(ci->leaf);
	assert_non_null(ci->key);
	assert_false(ci->key_matches);
	assert_int_equal(ci->nerrors, 1);
	assert_int_equal(sk_X509_num(ci->chain), 1);
	cert_free(ci);
}

static void test_bare_cert(void **state)
{
	struct cert_info *ci;

	(void)state;
	expect_cert_error(
		pki("bare.crt"), CERT_FILE_BARE_BASE64,
		"add the line \"-----BEGIN CERTIFICATE-----\" before it "
		"and \"-----END CERTIFICATE-----\" after it");
	/* As a chain file too. */
	ci = cert_load(pki("ssl1.crt"), pki("bare.crt"), NULL);
	assert_int_equal(ci->nerrors, 1);
	assert_int_equal(ci->errors[0].status, CERT_FILE_BARE_BASE64);
	cert_free(ci);
	/* A bare key is not a bare certificate. */
	expect_cert_error(pki("bare.key"), CERT_FILE_NO_PEM,
			  "not a certificate");
}

static void test_bare_key(void **state)
{
	(void)state;
	expect_key_error(
		pki("bare.key"), CERT_FILE_BARE_BASE64,
		"add the line \"-----BEGIN PRIVATE KEY-----\" before it "
		"and \"-----END PRIVATE KEY-----\" after it");
	expect_key_error(pki("bare.crt"), CERT_FILE_NO_PEM,
			 "not a private key");
}

/* Write the type-specific DER of the key in the PKI file NAME (PKCS#1 for
 * RSA, SEC1 for EC) as bare base64 into the temporary file OUT. */
static void test_cert_bare_legacy(const char *name, const char *out)
{
	FILE *f = fopen(pki(name), "rb");
	EVP_PKEY *pk;
	unsigned char *der = NULL, *b64;
	int len;

	assert_non_null(f);
	pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(pk);
	len = i2d_PrivateKey(pk, &der);
	assert_true(len > 0);
	b64 = malloc((size_t)len * 2 + 4);
	assert_non_null(b64);
	len = EVP_EncodeBlock(b64, der, len);
	test_cert_write(out, b64, (size_t)len);
	free(b64);
	OPENSSL_free(der);
	EVP_PKEY_free(pk);
}

static void test_bare_key_legacy(void **state)
{
	(void)state;
	test_cert_bare_legacy("ssl1.key", tmp("pkcs1.key"));
	expect_key_error(tmp("pkcs1.key"), CERT_FILE_BARE_BASE64,
			 "\"-----BEGIN RSA PRIVATE KEY-----\" before it and "
			 "\"-----END RSA PRIVATE KEY-----\" after it");
	test_cert_bare_legacy("ecdsa.key", tmp("sec1.key"));
	expect_key_error(tmp("sec1.key"), CERT_FILE_BARE_BASE64,
			 "\"-----BEGIN EC PRIVATE KEY-----\" before it and "
			 "\"-----END EC PRIVATE KEY-----\" after it");
}

/* An encrypted key is refused without prompting for a passphrase. */
static void test_encrypted_key(void **state)
{
	static char pass[] = "secret";
	const char *path = tmp("encrypted.key");
	FILE *in = fopen(pki("ssl1.key"), "rb"), *out;
	EVP_PKEY *pk;

	(void)state;
	assert_non_null(in);
	pk = PEM_read_PrivateKey(in, NULL, NULL, NULL);
	fclose(in);
	assert_non_null(pk);
	out = fopen(path, "wb");
	assert_non_null(out);
	assert_int_equal(PEM_write_PKCS8PrivateKey(out, pk, EVP_aes_256_cbc(),
						   pass, (int)strlen(pass),
						   NULL, NULL),
			 1);
	assert_int_equal(fclose(out), 0);
	EVP_PKEY_free(pk);
	expect_key_error(path, CERT_FILE_BAD_PEM,
			 "encrypted with a passphrase");
}

/* ---- names ----------------------------------------------------------- */

static void test_covers(void **state)
{
	struct cert_info *ci;

	(void)state;
	ci = load_ok("web.crt");
	assert_true(cert_covers(ci, "www.example.com"));
	assert_true(cert_covers(ci, "foo.example.com"));
	assert_true(cert_covers(ci, "WWW.Example.COM"));
	assert_false(cert_covers(ci, "a.b.example.com"));
	assert_false(cert_covers(ci, "example.com"));
	assert_false(cert_covers(ci, "www.example.org"));
	assert_false(cert_covers(ci, ""));
	assert_false(cert_covers(ci, NULL));
	cert_free(ci);

	ci = load_ok("ssl1.crt");
	assert_true(cert_covers(ci, "download.cwa.example.com"));
	assert_true(cert_covers(ci, "sip.example.org"));
	assert_false(cert_covers(ci, "webconf.example.com"));
	cert_free(ci);

	assert_false(cert_covers(NULL, "www.example.com"));
}

/* Make a certificate for www.example.com's key with the single DNS SAN
 * SAN, self-signed in memory. */
static X509 *test_cert_make(const char *san)
{
	FILE *f = fopen(pki("web.key"), "rb");
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	EVP_PKEY *pk;
	X509 *x;

	assert_non_null(f);
	pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(pk);
	x = X509_new();
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_int_equal(X509_NAME_add_entry_by_txt(
				 X509_get_subject_name(x), "CN", MBSTRING_ASC,
				 (const unsigned char *)"test", -1, -1, 0),
			 1);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)), 1);
	assert_int_equal(X509_set_pubkey(x, pk), 1);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
	EVP_PKEY_free(pk);
	return x;
}

static void test_covers_partial_wildcard(void **state)
{
	X509 *x = test_cert_make("DNS:w*.example.com");
	struct cert_info *ci;

	(void)state;
	/* OpenSSL alone would match it; the flag must be in effect. */
	assert_int_equal(X509_check_host(x, "www.example.com", 0,
					 X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
					 NULL),
			 1);
	ci = cert_from_x509(x, NULL);
	assert_non_null(ci);
	assert_int_equal(ci->nsans, 1);
	assert_string_equal(ci->sans[0], "w*.example.com");
	assert_true(cert_name_is_wildcard(ci->sans[0]));
	assert_false(cert_covers(ci, "www.example.com"));
	assert_true(ci->self_signed);
	cert_free(ci);
	X509_free(x);
}

/* cert_from_x509 takes its own references and skips the leaf when the
 * served chain starts with it. */
static void test_from_x509(void **state)
{
	struct cert_info *src =
		cert_load(pki("ssl1.crt"), pki("chain.pem"), NULL);
	STACK_OF(X509) *served = sk_X509_new_null();
	struct cert_info *ci;
	char err[256] = "";

	(void)state;
	assert_non_null(served);
	assert_int_equal(sk_X509_push(served, src->leaf), 1);
	assert_int_equal(sk_X509_push(served, sk_X509_value(src->chain, 0)), 2);
	ci = cert_from_x509(src->leaf, served);
	sk_X509_free(served);
	cert_free(src); /* ci must hold its own references */
	assert_non_null(ci);
	assert_int_equal(ci->nerrors, 0);
	assert_null(ci->key);
	assert_int_equal(sk_X509_num(ci->chain), 1);
	assert_string_equal(ci->cn, "sip.example.com");
	assert_int_equal(ci->nsans, 5);
	assert_int_equal(ci->key_bits, 2048);
	assert_int_equal(strlen(ci->fingerprint), 95);
	assert_int_equal(
		cert_verify_chain(ci, pki("trust.pem"), err, sizeof(err)), 0);
	assert_int_equal(ci->chain_status, CERT_CHAIN_OK);
	assert_int_equal(ci->chain_extra, 0);
	cert_free(ci);

	assert_null(cert_from_x509(NULL, NULL));
}

/* ---- revocation pointers and intermediates ---------------------------- */

/* The URIs of cRLDistributionPoints and authorityInfoAccess, as mkpki.sh
 * wrote them (v3_leaf_pub, v3_leaf_cdp), and none on a leaf without. */
static void test_revocation_pointers(void **state)
{
	struct cert_info *ci;

	(void)state;
	ci = load_ok("cdp-aia.crt");
	assert_true(ci->has_crl_dp);
	assert_string_equal(ci->crl_dp_uri,
			    "http://crl.example.com/edge443-test.crl");
	assert_true(ci->has_aia_ca_issuers);
	assert_string_equal(ci->aia_ca_issuers,
			    "http://pki.example.com/edge443-test-int.crt");
	assert_true(ci->has_aia_ocsp);
	assert_string_equal(ci->aia_ocsp, "http://ocsp.example.com/");
	cert_free(ci);

	ci = load_ok("cdp-only.crt");
	assert_true(ci->has_crl_dp);
	assert_non_null(ci->crl_dp_uri);
	assert_false(ci->has_aia_ca_issuers);
	assert_false(ci->has_aia_ocsp);
	assert_null(ci->aia_ca_issuers);
	assert_null(ci->aia_ocsp);
	cert_free(ci);

	ci = load_ok("nocdp.crt");
	assert_false(ci->has_crl_dp);
	assert_null(ci->crl_dp_uri);
	assert_false(ci->has_aia_ca_issuers);
	assert_false(ci->has_aia_ocsp);
	cert_free(ci);

	/* The good public leaves carry them, as a public CA's do. */
	ci = load_ok("ssl1.crt");
	assert_true(ci->has_crl_dp);
	assert_true(ci->has_aia_ca_issuers);
	cert_free(ci);
}

/* The notAfter of the certificate in PKI file NAME. */
static time_t test_cert_not_after(const char *name)
{
	struct cert_info *ci = load_ok(name);
	time_t t = ci->not_after;

	cert_free(ci);
	return t;
}

/* The intermediates on the leaf's path, leaf side first, without roots or
 * unrelated certificates, whatever the order of the chain file. */
static void test_intermediates(void **state)
{
	static const char *const reversed[] = {"internal-int1.crt",
					       "internal-int2.crt", NULL};
	struct cert_info *ci;
	time_t now = time(NULL);

	(void)state;
	ci = cert_load(pki("ssl1.crt"), pki("chain.pem"), NULL);
	assert_int_equal(ci->nintermediates, 1);
	assert_string_equal(ci->intermediates[0].subject,
			    "CN=edge443 Test Public Intermediate");
	assert_int_equal(ci->intermediates[0].not_after,
			 test_cert_not_after("int.crt"));
	assert_true(ci->intermediates[0].not_after > ci->not_after);
	cert_free(ci);

	/* No chain: no intermediates. */
	ci = load_ok("ssl1.crt");
	assert_int_equal(ci->nintermediates, 0);
	assert_null(ci->intermediates);
	cert_free(ci);

	/* A root and an unrelated CA in the chain file are left out. */
	ci = cert_load(pki("ssl1.crt"), pki("chain-extra.pem"), NULL);
	assert_int_equal(ci->nintermediates, 1);
	assert_string_equal(ci->intermediates[0].subject,
			    "CN=edge443 Test Public Intermediate");
	cert_free(ci);

	/* Two levels, in the cert file after the leaf ... */
	ci = load_ok("cwa-deep-full.pem");
	assert_int_equal(ci->nintermediates, 2);
	assert_string_equal(ci->intermediates[0].subject,
			    "CN=edge443 Test Internal Issuing CA");
	assert_string_equal(ci->intermediates[1].subject,
			    "CN=edge443 Test Internal Policy CA");
	cert_free(ci);

	/* ... and in a chain file in the wrong order. */
	test_cert_cat(tmp("reversed.pem"), reversed);
	ci = cert_load(pki("cwa-deep.crt"), tmp("reversed.pem"), NULL);
	assert_int_equal(ci->nintermediates, 2);
	assert_string_equal(ci->intermediates[0].subject,
			    "CN=edge443 Test Internal Issuing CA");
	cert_free(ci);

	/* A chain file whose intermediate did not issue the leaf. */
	ci = cert_load(pki("edge-int.crt"), pki("chain.pem"), NULL);
	assert_int_equal(ci->nintermediates, 0);
	cert_free(ci);

	/* The short-lived intermediate expires before its leaf. */
	ci = cert_load(pki("short-int.crt"), pki("short-int-chain.pem"), NULL);
	assert_int_equal(ci->nintermediates, 1);
	assert_string_equal(ci->intermediates[0].subject,
			    "CN=edge443 Test Short-lived Intermediate");
	assert_true(ci->intermediates[0].not_after > now);
	assert_true(ci->intermediates[0].not_after < ci->not_after);
	cert_free(ci);

	/* The expired intermediate expired in 2021. */
	ci = cert_load(pki("expired-int.crt"), pki("expired-int-chain.pem"),
		       NULL);
	assert_int_equal(ci->nintermediates, 1);
	assert_string_equal(ci->intermediates[0].subject,
			    "CN=edge443 Test Expired Intermediate");
	assert_int_equal(ci->intermediates[0].not_after,
			 test_cert_utc(2021, 1, 1));
	cert_free(ci);
}

/* A chain as served (probe) has the same facts. */
static void test_from_x509_facts(void **state)
{
	struct cert_info *file, *ci;

	(void)state;
	file = cert_load(pki("cdp-aia.crt"), pki("chain.pem"), NULL);
	assert_non_null(file);
	ci = cert_from_x509(file->leaf, file->chain);
	assert_non_null(ci);
	assert_true(ci->has_crl_dp);
	assert_string_equal(ci->crl_dp_uri, file->crl_dp_uri);
	assert_string_equal(ci->aia_ocsp, "http://ocsp.example.com/");
	assert_int_equal(ci->nintermediates, 1);
	cert_free(ci);
	cert_free(file);
}

static void test_small_helpers(void **state)
{
	char desc[32];

	(void)state;
	assert_true(cert_name_is_wildcard("*.example.com"));
	assert_true(cert_name_is_wildcard("w*.example.com"));
	assert_false(cert_name_is_wildcard("www.example.com"));
	assert_false(cert_name_is_wildcard(NULL));
	assert_string_equal(cert_file_status_name(CERT_FILE_MISSING),
			    "missing");
	assert_string_equal(cert_file_status_name(CERT_FILE_UNREADABLE),
			    "unreadable");
	assert_string_equal(cert_key_desc(NULL, desc, sizeof(desc)), "none");
	cert_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ssl1_facts),
		cmocka_unit_test(test_ssl1_fingerprint),
		cmocka_unit_test(test_ecdsa_facts),
		cmocka_unit_test(test_san_order),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_nosan),
		cmocka_unit_test(test_rsa1024),
		cmocka_unit_test(test_sha1),
		cmocka_unit_test(test_sha1_in_chain),
		cmocka_unit_test(test_eku_ku),
		cmocka_unit_test(test_key_mismatch),
		cmocka_unit_test(test_key_world_readable),
		cmocka_unit_test(test_self_signed),
		cmocka_unit_test(test_chain_ok),
		cmocka_unit_test(test_chain_in_cert_file),
		cmocka_unit_test(test_chain_incomplete),
		cmocka_unit_test(test_chain_extra),
		cmocka_unit_test(test_chain_internal),
		cmocka_unit_test(test_chain_trust_unreadable),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_unreadable_file),
		cmocka_unit_test(test_huge_file),
		cmocka_unit_test(test_errors_per_file),
		cmocka_unit_test(test_bare_cert),
		cmocka_unit_test(test_bare_key),
		cmocka_unit_test(test_bare_key_legacy),
		cmocka_unit_test(test_encrypted_key),
		cmocka_unit_test(test_covers),
		cmocka_unit_test(test_covers_partial_wildcard),
		cmocka_unit_test(test_from_x509),
		cmocka_unit_test(test_revocation_pointers),
		cmocka_unit_test(test_intermediates),
		cmocka_unit_test(test_from_x509_facts),
		cmocka_unit_test(test_small_helpers),
	};

	return cmocka_run_group_tests(tests, test_cert_setup,
				      test_cert_teardown);
}
