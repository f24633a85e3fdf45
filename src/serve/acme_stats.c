/* acme_stats.c — the counters of the ACME renewal in `run`.
 *
 * A fixed table of rows, one per certificate section, under one mutex:
 * written by the renewal thread, copied by /metrics on the main thread.
 * A name beyond ACME_STATS_MAX rows is not counted (the configuration has
 * far fewer certificate sections).
 */
#include "edge443/serve/acme_stats.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t acme_stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct acme_stats_snapshot acme_stats_tab;

const char *acme_stats_result_name(enum acme_stats_result r)
{
	switch (r) {
	case ACME_STATS_OK:
		return "ok";
	case ACME_STATS_FAILED:
		return "failed";
	case ACME_STATS_REFUSED:
		return "refused";
	default:
		return "?";
	}
}

/* Under the lock: NAME's row, added when new; NULL when the table is full. */
static struct acme_stats_row *acme_stats_row(const char *name)
{
	struct acme_stats_row *row;

	for (size_t i = 0; i < acme_stats_tab.n; i++)
		if (strcmp(acme_stats_tab.rows[i].name, name) == 0)
			return &acme_stats_tab.rows[i];
	if (acme_stats_tab.n == ACME_STATS_MAX)
		return NULL;
	row = &acme_stats_tab.rows[acme_stats_tab.n++];
	memset(row, 0, sizeof(*row));
	snprintf(row->name, sizeof(row->name), "%s", name);
	return row;
}

void acme_stats_count(const char *name, enum acme_stats_result r)
{
	struct acme_stats_row *row;

	if ((unsigned)r >= ACME_STATS_NRESULTS)
		return;
	pthread_mutex_lock(&acme_stats_lock);
	row = acme_stats_row(name);
	if (row)
		row->count[r]++;
	pthread_mutex_unlock(&acme_stats_lock);
}

void acme_stats_set_next(const char *name, time_t when)
{
	struct acme_stats_row *row;

	pthread_mutex_lock(&acme_stats_lock);
	row = acme_stats_row(name);
	if (row)
		row->next = when;
	pthread_mutex_unlock(&acme_stats_lock);
}

void acme_stats_snapshot(struct acme_stats_snapshot *out)
{
	pthread_mutex_lock(&acme_stats_lock);
	*out = acme_stats_tab;
	pthread_mutex_unlock(&acme_stats_lock);
}

void acme_stats_reset(void)
{
	pthread_mutex_lock(&acme_stats_lock);
	memset(&acme_stats_tab, 0, sizeof(acme_stats_tab));
	pthread_mutex_unlock(&acme_stats_lock);
}
