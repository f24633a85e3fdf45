/* acme_schedule.c — when the renewal in `run` tries next: the due time of a
 * certificate, the back-off after failures and the CA's Retry-After.
 * Arithmetic only; the clock is the caller's.
 */
#include "edge443/order/acme_schedule.h"
#include "edge443/order/acme_parse.h"

#define ACME_RETRY_AFTER_MAX (7L * 86400L)

time_t acme_renew_at(time_t not_before, time_t not_after, int renew_before_days)
{
	return not_after - (time_t)acme_renew_window(not_before, not_after,
						     renew_before_days);
}

long acme_backoff(int failures)
{
	long wait = ACME_BACKOFF_FIRST;

	if (failures <= 0)
		return 0;
	for (int i = 1; i < failures && wait < ACME_BACKOFF_MAX; i++)
		wait *= 2;
	return wait > ACME_BACKOFF_MAX ? ACME_BACKOFF_MAX : wait;
}

time_t acme_next_try(time_t now, int failures, long retry_after)
{
	long wait = acme_backoff(failures < 1 ? 1 : failures);

	if (retry_after > ACME_RETRY_AFTER_MAX)
		retry_after = ACME_RETRY_AFTER_MAX;
	if (retry_after > wait)
		wait = retry_after;
	return now + (time_t)wait;
}
