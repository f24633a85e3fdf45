/* metrics.c — the Prometheus text of the admin endpoint's /metrics.
 *
 * Renders the workers' summed counters, the reloads, the certificates'
 * expiry, the ACME renewals (when `run` renews any) and the backends'
 * passive health of one runtime in the Prometheus
 * text exposition format (HELP and TYPE lines, label values escaped).  It
 * reads what it is given and keeps nothing; the admin endpoint (admin.c)
 * serves the text, the server (server.c) sums the workers' atomics.
 */
#include "edge443/serve/metrics.h"

#include <stdio.h>

void metrics_add(struct metrics_totals *t, const struct proxy_stats *st)
{
	t->accepted += st->accepted;
	t->open += st->open;
	t->backend_failures += st->backend_failures;
	t->bytes_in += st->bytes_in;
	t->bytes_out += st->bytes_out;
	for (int r = 0; r < PROXY_HS_NREASONS; r++)
		t->handshake_failures[r] += st->handshake_failures[r];
	for (int k = 0; k < 2; k++)
		t->handshakes[k] += st->handshakes[k];
	for (int k = 0; k < 6; k++)
		t->http_responses[k] += st->http_responses[k];
}

/* A Prometheus label value: backslash, double quote and newline escaped. */
static void metrics_label(struct evbuffer *out, const char *v)
{
	for (; v && *v; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(out, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, v, 1);
	}
}

/* Passive health of every backend server of the current runtime. */
static void metrics_backends(struct evbuffer *out, const struct runtime *rt)
{
	static const char *const names[2] = {"edge443_backend_server_up",
					     "edge443_backend_server_failures_"
					     "total"};

	evbuffer_add_printf(
		out,
		"# HELP edge443_backend_server_up 1 unless a connect to the "
		"server failed in the last %d s (it is then tried after the "
		"others).\n"
		"# TYPE edge443_backend_server_up gauge\n"
		"# HELP edge443_backend_server_failures_total Connects to the "
		"server that failed (since start or the last reload).\n"
		"# TYPE edge443_backend_server_failures_total counter\n",
		BACKEND_FAIL_TIMEOUT);
	for (size_t b = 0; b < rt->cfg->nbackends; b++) {
		const struct backend_pool *pool = &rt->backends[b].pool;
		const struct config_backend *be = pool->be;

		for (size_t i = 0; i < be->nservers; i++)
			for (int m = 0; m < 2; m++) {
				evbuffer_add_printf(out, "%s{backend=\"",
						    names[m]);
				metrics_label(out, be->name);
				evbuffer_add_printf(out, "\",server=\"");
				metrics_label(out, be->servers[i].text);
				evbuffer_add_printf(
					out, "\"} %llu\n",
					m == 0 ? (unsigned long long)
							 backend_server_up(pool,
									   i)
					       : backend_server_failures(pool,
									 i));
			}
	}
}

/* The renewals by certificate and result, and when each is next due. */
static void metrics_acme(struct evbuffer *out,
			 const struct acme_stats_snapshot *a, time_t now)
{
	evbuffer_add_printf(
		out, "# HELP edge443_acme_renewals_total ACME renewals in run "
		     "by result (refused: the new certificate broke a plan "
		     "rule and the old one keeps serving).\n"
		     "# TYPE edge443_acme_renewals_total counter\n");
	for (size_t i = 0; i < a->n; i++)
		for (int r = 0; r < ACME_STATS_NRESULTS; r++) {
			evbuffer_add_printf(out, "edge443_acme_renewals_total{"
						 "certificate=\"");
			metrics_label(out, a->rows[i].name);
			evbuffer_add_printf(
				out, "\",result=\"%s\"} %llu\n",
				acme_stats_result_name(
					(enum acme_stats_result)r),
				(unsigned long long)a->rows[i].count[r]);
		}
	evbuffer_add_printf(
		out, "# HELP edge443_acme_next_renewal_seconds Seconds until "
		     "the next ACME renewal of the certificate (0: due now).\n"
		     "# TYPE edge443_acme_next_renewal_seconds gauge\n");
	for (size_t i = 0; i < a->n; i++) {
		long long s = a->rows[i].next
				      ? (long long)(a->rows[i].next - now)
				      : 0;
		if (!a->rows[i].next)
			continue;
		evbuffer_add_printf(out, "edge443_acme_next_renewal_seconds{"
					 "certificate=\"");
		metrics_label(out, a->rows[i].name);
		evbuffer_add_printf(out, "\"} %lld\n", s < 0 ? 0 : s);
	}
}

void metrics_render(struct evbuffer *out, const struct metrics_totals *t,
		    const struct runtime *rt, time_t now)
{
	static const char *const hs_names[PROXY_HS_NREASONS] = {
		"timeout", "closed", "error"};

	evbuffer_add_printf(
		out,
		"# HELP edge443_connections_total Client connections "
		"accepted.\n"
		"# TYPE edge443_connections_total counter\n"
		"edge443_connections_total %llu\n"
		"# HELP edge443_connections_open Client connections open now.\n"
		"# TYPE edge443_connections_open gauge\n"
		"edge443_connections_open %llu\n"
		"# HELP edge443_handshake_failures_total Client TLS handshakes "
		"that failed, by reason.\n"
		"# TYPE edge443_handshake_failures_total counter\n",
		(unsigned long long)t->accepted, (unsigned long long)t->open);
	for (int r = 0; r < PROXY_HS_NREASONS; r++)
		evbuffer_add_printf(
			out,
			"edge443_handshake_failures_total{reason="
			"\"%s\"} %llu\n",
			hs_names[r],
			(unsigned long long)t->handshake_failures[r]);
	evbuffer_add_printf(
		out,
		"# HELP edge443_tls_handshakes_total Client TLS handshakes "
		"completed, full or resumed (a session ticket, from any node "
		"that shares ticket_key_file).\n"
		"# TYPE edge443_tls_handshakes_total counter\n"
		"edge443_tls_handshakes_total{kind=\"full\"} %llu\n"
		"edge443_tls_handshakes_total{kind=\"resumed\"} %llu\n",
		(unsigned long long)t->handshakes[0],
		(unsigned long long)t->handshakes[1]);
	evbuffer_add_printf(
		out,
		"# HELP edge443_backend_failures_total Backend connections "
		"that "
		"failed (all servers down, TLS or verification failure).\n"
		"# TYPE edge443_backend_failures_total counter\n"
		"edge443_backend_failures_total %llu\n"
		"# HELP edge443_bytes_total Bytes relayed (in: client to "
		"backend) of closed connections.\n"
		"# TYPE edge443_bytes_total counter\n"
		"edge443_bytes_total{direction=\"in\"} %llu\n"
		"edge443_bytes_total{direction=\"out\"} %llu\n"
		"# HELP edge443_reloads_total SIGHUP reloads by result.\n"
		"# TYPE edge443_reloads_total counter\n"
		"edge443_reloads_total{result=\"ok\"} %llu\n"
		"edge443_reloads_total{result=\"failed\"} %llu\n"
		"# HELP edge443_certificate_expiry_seconds Seconds until the "
		"certificate expires (negative: expired).\n"
		"# TYPE edge443_certificate_expiry_seconds gauge\n",
		(unsigned long long)t->backend_failures,
		(unsigned long long)t->bytes_in,
		(unsigned long long)t->bytes_out, t->reloads_ok,
		t->reloads_failed);
	for (size_t i = 0; rt && i < rt->cfg->ncerts; i++)
		if (rt->cert_not_after[i]) {
			evbuffer_add_printf(
				out, "edge443_certificate_expiry_seconds{"
				     "certificate=\"");
			metrics_label(out, rt->cfg->certs[i].name);
			evbuffer_add_printf(
				out, "\"} %lld\n",
				(long long)(rt->cert_not_after[i] - now));
		}
	if (t->acme && t->acme->n)
		metrics_acme(out, t->acme, now);
	if (rt)
		metrics_backends(out, rt);
	evbuffer_add_printf(out,
			    "# HELP edge443_http_responses_total Responses of "
			    "http services (from backends and edge443's own) "
			    "by status class.\n"
			    "# TYPE edge443_http_responses_total counter\n");
	static const char *const classes[6] = {"other", "1xx", "2xx",
					       "3xx",	"4xx", "5xx"};
	for (int k = 0; k < 6; k++)
		evbuffer_add_printf(
			out, "edge443_http_responses_total{code=\"%s\"} %llu\n",
			classes[k], t->http_responses[k]);
	evbuffer_add_printf(out,
			    "# HELP edge443_workers Workers (threads or "
			    "processes, as worker_mode says).\n"
			    "# TYPE edge443_workers gauge\n"
			    "edge443_workers %zu\n",
			    t->workers);
}
