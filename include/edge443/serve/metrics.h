/* metrics.h — the Prometheus text of /metrics (metrics.c).
 *
 * The caller sums the workers' counters into a metrics_totals (plain
 * numbers, read from the workers' atomics) and renders them with the
 * runtime it serves; nothing here is shared or kept.
 */
#ifndef EDGE443_METRICS_H
#define EDGE443_METRICS_H

#include <event2/buffer.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "edge443/serve/acme_stats.h"
#include "edge443/serve/proxy.h"
#include "edge443/serve/runtime.h"

struct metrics_totals {
	uint64_t accepted, open, backend_failures, bytes_in, bytes_out;
	uint64_t handshake_failures[PROXY_HS_NREASONS];
	uint64_t handshakes[2];		      /* full, resumed */
	unsigned long long http_responses[6]; /* [0] other, [1] 1xx ... */
	size_t workers;
	unsigned long long reloads_ok, reloads_failed;
	/* The ACME renewals of `run` (borrowed; NULL or empty: no series). */
	const struct acme_stats_snapshot *acme;
};

/* Add one worker's counters to T. */
void metrics_add(struct metrics_totals *t, const struct proxy_stats *st);

/* Append the whole /metrics text for T and RT (may be NULL: no
 * certificate or backend series) as of NOW to OUT. */
void metrics_render(struct evbuffer *out, const struct metrics_totals *t,
		    const struct runtime *rt, time_t now);

#endif
