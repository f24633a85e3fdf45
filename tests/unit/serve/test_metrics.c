/* test_metrics.c — the Prometheus text of /metrics (src/serve/metrics.c): the
 * summed counters with their HELP and TYPE lines, label values escaped, and
 * the series of a runtime (certificate expiry, backend health). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "edge443/serve/metrics.h"

static char *test_render(const struct metrics_totals *t,
			 const struct runtime *rt)
{
	struct evbuffer *out = evbuffer_new();
	size_t n;
	char *text;

	assert_non_null(out);
	metrics_render(out, t, rt, 1000);
	n = evbuffer_get_length(out);
	text = malloc(n + 1);
	assert_non_null(text);
	evbuffer_remove(out, text, n);
	text[n] = '\0';
	evbuffer_free(out);
	return text;
}

static void test_totals(void **state)
{
	struct proxy_stats a = {0}, b = {0};
	struct metrics_totals t = {0};
	char *text;

	(void)state;
	a.accepted = 3;
	b.accepted = 4;
	a.open = 1;
	a.handshake_failures[PROXY_HS_TIMEOUT] = 2;
	b.handshake_failures[PROXY_HS_ERROR] = 5;
	a.handshakes[0] = 4;
	b.handshakes[0] = 1;
	b.handshakes[1] = 6;
	a.bytes_in = 100;
	b.bytes_out = 200;
	a.http_responses[2] = 7;
	b.http_responses[3] = 1;
	metrics_add(&t, &a);
	metrics_add(&t, &b);
	t.workers = 2;
	t.reloads_ok = 1;
	t.reloads_failed = 9;
	text = test_render(&t, NULL);
	assert_non_null(strstr(text, "\nedge443_connections_total 7\n"));
	assert_non_null(strstr(text, "\nedge443_connections_open 1\n"));
	assert_non_null(strstr(
		text,
		"edge443_handshake_failures_total{reason=\"timeout\"} 2\n"));
	assert_non_null(strstr(
		text,
		"edge443_handshake_failures_total{reason=\"error\"} 5\n"));
	assert_non_null(strstr(
		text, "edge443_tls_handshakes_total{kind=\"full\"} 5\n"));
	assert_non_null(strstr(
		text, "edge443_tls_handshakes_total{kind=\"resumed\"} 6\n"));
	assert_non_null(
		strstr(text, "edge443_bytes_total{direction=\"in\"} 100\n"));
	assert_non_null(
		strstr(text, "edge443_bytes_total{direction=\"out\"} 200\n"));
	assert_non_null(
		strstr(text, "edge443_reloads_total{result=\"failed\"} 9\n"));
	assert_non_null(
		strstr(text, "edge443_http_responses_total{code=\"2xx\"} 7\n"));
	assert_non_null(
		strstr(text, "edge443_http_responses_total{code=\"3xx\"} 1\n"));
	assert_non_null(strstr(text, "\nedge443_workers 2\n"));
	/* Every series has its TYPE line before it. */
	assert_true(strstr(text, "# TYPE edge443_connections_total counter") <
		    strstr(text, "\nedge443_connections_total 7"));
	free(text);
}

/* Label values from the configuration are escaped as the format asks. */
static void test_label_escaping(void **state)
{
	struct config cfg = {0};
	struct config_cert cert = {0};
	time_t not_after = 1000 + 86400;
	struct runtime rt = {0};
	struct metrics_totals t = {0};
	char *text;

	(void)state;
	cert.name = "a\"b\\c\nd";
	cfg.certs = &cert;
	cfg.ncerts = 1;
	rt.cfg = &cfg;
	rt.cert_not_after = &not_after;
	text = test_render(&t, &rt);
	assert_non_null(strstr(text,
			       "edge443_certificate_expiry_seconds{"
			       "certificate=\"a\\\"b\\\\c\\nd\"} 86400\n"));
	free(text);
}

/* The ACME renewals: every result of every certificate, the next renewal
 * as seconds from now (0 once due), nothing at all without renewals. */
static void test_acme(void **state)
{
	struct metrics_totals t = {0};
	struct acme_stats_snapshot a = {0};
	char *text;

	(void)state;
	text = test_render(&t, NULL);
	assert_null(strstr(text, "edge443_acme_"));
	free(text);
	acme_stats_reset();
	acme_stats_count("ssl1", ACME_STATS_OK);
	acme_stats_count("ssl1", ACME_STATS_REFUSED);
	acme_stats_count("ssl1", ACME_STATS_REFUSED);
	acme_stats_set_next("ssl1", 1600);
	acme_stats_set_next("a\"b", 10); /* past: 0 */
	acme_stats_snapshot(&a);
	acme_stats_reset();
	assert_int_equal(a.n, 2);
	t.acme = &a;
	text = test_render(&t, NULL);
	assert_non_null(
		strstr(text, "# TYPE edge443_acme_renewals_total counter\n"));
	assert_non_null(strstr(text, "edge443_acme_renewals_total{certificate="
				     "\"ssl1\",result=\"ok\"} 1\n"));
	assert_non_null(strstr(text, "edge443_acme_renewals_total{certificate="
				     "\"ssl1\",result=\"failed\"} 0\n"));
	assert_non_null(strstr(text, "edge443_acme_renewals_total{certificate="
				     "\"ssl1\",result=\"refused\"} 2\n"));
	assert_non_null(strstr(text, "edge443_acme_next_renewal_seconds{"
				     "certificate=\"ssl1\"} 600\n"));
	assert_non_null(strstr(text, "edge443_acme_next_renewal_seconds{"
				     "certificate=\"a\\\"b\"} 0\n"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_totals),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_acme),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
