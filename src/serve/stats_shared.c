/* stats_shared.c — the worker processes' counters in shared memory.
 *
 * One struct proxy_stats per slot in one shm_new mapping (the children
 * write them with atomic operations, the main process reads them), a
 * private "in use" flag per slot and the private totals of the slots whose
 * process ended.  It forks nothing and knows no process: server_procs.c
 * takes a slot before each fork and retires it when it reaps the child.
 */
#include "edge443/serve/stats_shared.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "edge443/serve/shm.h"

struct stats_shared {
	struct proxy_stats *slots; /* shm_new: nslots of them */
	bool *used;		   /* private */
	size_t nslots;
	struct proxy_stats retired; /* private: the ended processes' sums */
};

struct stats_shared *stats_shared_new(size_t nslots)
{
	struct stats_shared *s = calloc(1, sizeof(*s));

	if (!s || nslots == 0)
		goto fail;
	s->nslots = nslots;
	s->used = calloc(nslots, sizeof(*s->used));
	s->slots = shm_new(nslots * sizeof(*s->slots));
	if (!s->used || !s->slots)
		goto fail;
	return s;
fail:
	stats_shared_free(s);
	return NULL;
}

void stats_shared_free(struct stats_shared *s)
{
	if (!s)
		return;
	if (s->slots)
		shm_free(s->slots, s->nslots * sizeof(*s->slots));
	free(s->used);
	free(s);
}

int stats_shared_take(struct stats_shared *s)
{
	for (size_t i = 0; i < s->nslots; i++)
		if (!s->used[i]) {
			s->used[i] = true;
			/* No process writes a free slot. */
			memset(&s->slots[i], 0, sizeof(s->slots[i]));
			return (int)i;
		}
	return -1;
}

struct proxy_stats *stats_shared_slot(struct stats_shared *s, size_t i)
{
	return &s->slots[i];
}

/* DST += SRC, every counter but `open` (the fields of metrics_add, and the
 * bytes discarded). */
static void stats_shared_fold(struct proxy_stats *dst,
			      const struct proxy_stats *src)
{
	dst->accepted += src->accepted;
	dst->backend_failures += src->backend_failures;
	dst->bytes_in += src->bytes_in;
	dst->bytes_out += src->bytes_out;
	dst->client_bytes_discarded += src->client_bytes_discarded;
	for (int r = 0; r < PROXY_HS_NREASONS; r++)
		dst->handshake_failures[r] += src->handshake_failures[r];
	for (int k = 0; k < 2; k++)
		dst->handshakes[k] += src->handshakes[k];
	for (int k = 0; k < 6; k++)
		dst->http_responses[k] += src->http_responses[k];
}

void stats_shared_retire(struct stats_shared *s, size_t i)
{
	if (i >= s->nslots || !s->used[i])
		return;
	stats_shared_fold(&s->retired, &s->slots[i]);
	s->used[i] = false;
}

void stats_shared_sum(const struct stats_shared *s, struct metrics_totals *t)
{
	metrics_add(t, &s->retired); /* its `open` stays 0 */
	for (size_t i = 0; i < s->nslots; i++)
		if (s->used[i])
			metrics_add(t, &s->slots[i]);
}

size_t stats_shared_used(const struct stats_shared *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nslots; i++)
		n += s->used[i];
	return n;
}
