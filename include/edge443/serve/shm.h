/* shm.h — memory shared with the worker processes (worker_mode = processes).
 *
 * shm.c maps anonymous shared memory before the main process forks its
 * workers, so that a write by one process is seen by all, and makes
 * process-shared read-write locks for what lives in it.  The caller owns
 * a mapping (shm_free); a child inherits it at fork and needs no call.
 * Used by tls_tickets.c (the session-ticket keys) and stats_shared.c (the
 * workers' counters).
 */
#ifndef EDGE443_SERVE_SHM_H
#define EDGE443_SERVE_SHM_H

#include <pthread.h>
#include <stddef.h>

/* LEN zeroed bytes shared with every process forked afterwards, or NULL
 * (errno set). */
void *shm_new(size_t len);
/* Unmap what shm_new returned (LEN as given to it) in this process only;
 * the others keep their view.  Accepts NULL. */
void shm_free(void *p, size_t len);
/* Initialise LOCK (which must lie in shm_new memory) as a rwlock shared
 * between processes.  0 / -1. */
int shm_rwlock_init(pthread_rwlock_t *lock);

#endif
