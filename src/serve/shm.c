/* shm.c — anonymous shared mappings and process-shared locks.
 *
 * MAP_SHARED | MAP_ANONYMOUS memory made before a fork stays shared between
 * the parent and its children (a private mapping would be copied on the
 * first write).  Locks in it must be PTHREAD_PROCESS_SHARED.  Nothing else
 * here: what lives in the memory is the callers' (tls_tickets.c,
 * stats_shared.c).
 */
#include "edge443/serve/shm.h"

#include <sys/mman.h>

void *shm_new(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p; /* anonymous: zero-filled */
}

void shm_free(void *p, size_t len)
{
	if (p)
		munmap(p, len);
}

int shm_rwlock_init(pthread_rwlock_t *lock)
{
	pthread_rwlockattr_t attr;
	int rc;

	if (pthread_rwlockattr_init(&attr) != 0)
		return -1;
	rc = pthread_rwlockattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	if (rc == 0)
		rc = pthread_rwlock_init(lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	return rc == 0 ? 0 : -1;
}
