/* acme_stats.h — the counters of the ACME renewal in `run`, for /metrics.
 *
 * acme_stats.c keeps, per certificate section that `run` renews, how many
 * renewals ended ok, failed (the CA, the network, a file) or were refused
 * (the new certificate broke a plan rule, so the old one kept serving), and
 * when the next one is due.  The renewal thread (cli/renew.c) writes them;
 * metrics.c reads a copy.  One mutex; nothing is logged.
 *
 * Ownership: the table is this module's; a snapshot is the caller's
 * (acme_stats_snapshot_free).
 */
#ifndef EDGE443_SERVE_ACME_STATS_H
#define EDGE443_SERVE_ACME_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define ACME_STATS_MAX 64

enum acme_stats_result {
	ACME_STATS_OK,
	ACME_STATS_FAILED,
	ACME_STATS_REFUSED,
	ACME_STATS_NRESULTS
};

struct acme_stats_row {
	char name[128];			     /* the certificate section */
	uint64_t count[ACME_STATS_NRESULTS]; /* by acme_stats_result */
	time_t next;			     /* next renewal; 0 = unknown */
};

struct acme_stats_snapshot {
	struct acme_stats_row rows[ACME_STATS_MAX];
	size_t n;
};

/* "ok" | "failed" | "refused" */
const char *acme_stats_result_name(enum acme_stats_result r);

/* Count one renewal of NAME with result R (adds NAME when new). */
void acme_stats_count(const char *name, enum acme_stats_result r);

/* NAME's next renewal is due at WHEN (adds NAME when new). */
void acme_stats_set_next(const char *name, time_t when);

/* A copy of every row, in the order they were added. */
void acme_stats_snapshot(struct acme_stats_snapshot *out);

/* Forget every row (tests). */
void acme_stats_reset(void);

#endif
