/* test_ossl_err.c — the error-text helpers (src/base/ossl_err.c).
 *
 * Errors are put on the thread's OpenSSL queue by hand (ERR_raise_data),
 * so every case knows exactly what the formatter must say: the order of the
 * reasons, a reason's extra text, a repeated code, a system error, a full
 * buffer, and that the queue is always left empty.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "edge443/base/ossl_err.h"

static void test_printf(void **state)
{
	char err[16] = "untouched";

	(void)state;
	ossl_err_printf(err, sizeof(err), "%s:%d", "a.conf", 12);
	assert_string_equal(err, "a.conf:12");
	ossl_err_printf(err, sizeof(err), "%s", "a message longer than 16");
	assert_string_equal(err, "a message longe");
	ossl_err_printf(NULL, 0, "%s", "nowhere"); /* no crash */
	ossl_err_printf(err, 0, "%s", "nothing");
	assert_string_equal(err, "a message longe");
}

static void test_reason(void **state)
{
	char buf[128], tiny[4];

	(void)state;
	assert_string_equal(
		ossl_err_reason(ERR_PACK(ERR_LIB_PEM, 0, PEM_R_NO_START_LINE),
				buf, sizeof(buf)),
		"no start line");
	ERR_raise(ERR_LIB_SYS, ENOENT);
	assert_string_equal(ossl_err_reason(ERR_get_error(), buf, sizeof(buf)),
			    strerror(ENOENT));
	/* A code without a reason string: OpenSSL's own text. */
	assert_non_null(strstr(ossl_err_reason(ERR_PACK(ERR_LIB_SSL, 0, 4095),
					       buf, sizeof(buf)),
			       "error:"));
	assert_ptr_equal(
		ossl_err_reason(ERR_PACK(ERR_LIB_PEM, 0, PEM_R_NO_START_LINE),
				tiny, sizeof(tiny)),
		tiny);
	assert_string_equal(tiny, "no ");
}

static void test_drainf(void **state)
{
	char err[256];

	(void)state;
	ERR_clear_error();
	ERR_raise_data(ERR_LIB_PEM, PEM_R_NO_START_LINE, "Expecting: %s",
		       "CERTIFICATE");
	ERR_raise(ERR_LIB_SSL, ERR_R_PEM_LIB);
	ERR_raise(ERR_LIB_SSL, ERR_R_PEM_LIB); /* repeated: said once */
	ossl_err_drainf(err, sizeof(err), "loading %s", "ssl1.crt");
	assert_string_equal(
		err,
		"loading ssl1.crt: no start line (Expecting: CERTIFICATE); "
		"PEM lib");
	assert_int_equal(ERR_peek_error(), 0);

	/* An empty queue: the prefix alone. */
	ossl_err_drainf(err, sizeof(err), "nothing");
	assert_string_equal(err, "nothing");
}

static void test_drainf_small(void **state)
{
	char small[8];

	(void)state;
	ERR_raise(ERR_LIB_PEM, PEM_R_NO_START_LINE);
	ERR_raise(ERR_LIB_PEM, PEM_R_BAD_END_LINE);
	ossl_err_drainf(small, sizeof(small), "loading");
	assert_string_equal(small, "loading");
	assert_int_equal(ERR_peek_error(), 0); /* drained all the same */

	ERR_raise(ERR_LIB_PEM, PEM_R_NO_START_LINE);
	ossl_err_drainf(NULL, 0, "nowhere");
	assert_int_equal(ERR_peek_error(), 0);
}

static void test_drain(void **state)
{
	char buf[128] = "stale";

	(void)state;
	ossl_err_drain(buf, sizeof(buf));
	assert_string_equal(buf, "");
	ERR_raise(ERR_LIB_ASN1, ASN1_R_WRONG_TAG);
	ERR_raise(ERR_LIB_ASN1, ASN1_R_HEADER_TOO_LONG);
	ossl_err_drain(buf, sizeof(buf));
	assert_string_equal(buf, "wrong tag; header too long");
	assert_int_equal(ERR_peek_error(), 0);
	ERR_raise(ERR_LIB_ASN1, ASN1_R_WRONG_TAG);
	ossl_err_drain(NULL, 0);
	assert_int_equal(ERR_peek_error(), 0);
}

/* What a real OpenSSL failure leaves reads the same way. */
static void test_real_failure(void **state)
{
	BIO *b = BIO_new_mem_buf("not PEM at all\n", -1);
	char err[256];

	(void)state;
	assert_non_null(b);
	assert_null(PEM_read_bio_X509(b, NULL, NULL, NULL));
	ossl_err_drainf(err, sizeof(err), "reading %s", "x.pem");
	assert_true(strncmp(err, "reading x.pem: no start line", 28) == 0);
	assert_int_equal(ERR_peek_error(), 0);
	BIO_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_reason),
		cmocka_unit_test(test_drainf),
		cmocka_unit_test(test_drainf_small),
		cmocka_unit_test(test_drain),
		cmocka_unit_test(test_real_failure),
	};

	/* As every OpenSSL call of the program does before an error can be
	 * queued: load the reason strings. */
	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS |
				 OPENSSL_INIT_LOAD_CRYPTO_STRINGS,
			 NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
