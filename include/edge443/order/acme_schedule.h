/* acme_schedule.h — when the renewal in `run` tries next.
 *
 * acme_schedule.c is arithmetic only, on seconds since the epoch: when a
 * certificate is due (renew_before before notAfter, by default a third of
 * its lifetime), the back-off after failures (1 minute, doubling, at most
 * a day), and the next try after a failure, which never comes before the
 * CA's Retry-After.  No clock is read: NOW is always given.
 */
#ifndef EDGE443_ORDER_ACME_SCHEDULE_H
#define EDGE443_ORDER_ACME_SCHEDULE_H

#include <time.h>

#define ACME_BACKOFF_FIRST 60L	/* seconds after the first failure */
#define ACME_BACKOFF_MAX 86400L /* at most a day */

/* When a certificate valid NOT_BEFORE..NOT_AFTER is due for renewal:
 * NOT_AFTER minus renew_before (RENEW_BEFORE_DAYS; 0 = a third of the
 * lifetime, acme_renew_window). */
time_t acme_renew_at(time_t not_before, time_t not_after,
		     int renew_before_days);

/* The wait after FAILURES consecutive failures (>= 1): 60 s doubling,
 * capped at ACME_BACKOFF_MAX.  0 for FAILURES <= 0. */
long acme_backoff(int failures);

/* The next try after a failure at NOW, the FAILURES-th in a row: NOW plus
 * the back-off, or plus RETRY_AFTER seconds (-1: none) when that is later
 * (capped at a week, so a CA's typo cannot stop renewals for good). */
time_t acme_next_try(time_t now, int failures, long retry_after);

#endif
