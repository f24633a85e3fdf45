/* stats_shared.h — the counters of worker processes (worker_mode =
 * processes).
 *
 * stats_shared.c keeps an array of struct proxy_stats in shared memory
 * (shm.h), made by the main process before it forks: each worker process
 * gets one slot and counts into it (its proxy_owner's stats points there),
 * the main process sums the slots in use for /metrics.  When a worker
 * process ends, the main process folds its slot into the totals of the
 * workers that ended (kept in its own memory) and frees the slot, so that
 * no counter ever goes backwards.
 *
 * Ownership: the main process owns the struct (stats_shared_new /
 * stats_shared_free); a child only writes its own slot, through the
 * pointer stats_shared_slot gave before the fork.  Everything else is for
 * the main process's main thread.
 */
#ifndef EDGE443_SERVE_STATS_SHARED_H
#define EDGE443_SERVE_STATS_SHARED_H

#include <stddef.h>

#include "edge443/serve/metrics.h"
#include "edge443/serve/proxy.h"

struct stats_shared;

/* NSLOTS slots (>= 1), all free.  NULL when out of memory. */
struct stats_shared *stats_shared_new(size_t nslots);
/* Accepts NULL. */
void stats_shared_free(struct stats_shared *s);

/* Take a free slot (zeroed) for a process about to be forked: its index,
 * or -1 when every slot is in use. */
int stats_shared_take(struct stats_shared *s);
/* Slot I's counters (shared memory). */
struct proxy_stats *stats_shared_slot(struct stats_shared *s, size_t i);
/* The process of slot I has ended (or was never forked): add its counters
 * to the totals of the ended ones, except `open` (its connections are gone
 * with it), and free the slot. */
void stats_shared_retire(struct stats_shared *s, size_t i);
/* Add the slots in use and the totals of the ended ones to T. */
void stats_shared_sum(const struct stats_shared *s, struct metrics_totals *t);
/* How many slots are in use. */
size_t stats_shared_used(const struct stats_shared *s);

#endif
