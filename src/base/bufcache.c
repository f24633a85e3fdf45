/* bufcache.c — a per-thread cache of large freed blocks under libevent's
 * and OpenSSL's allocations (see bufcache.h for why).
 *
 * Each thread keeps up to BUFCACHE_SLOTS blocks of at least BUFCACHE_MIN
 * bytes (BUFCACHE_MAX_BYTES in all) that it freed, oldest first; an
 * allocation takes one whose usable size fits without wasting more than
 * half of it, newest first (the one most likely still in the CPU's cache).
 * A free that finds the cache full makes room by handing the oldest blocks
 * back to glibc, so blocks of a size nobody asks for any more (a
 * handshake's, a burst's) age out instead of holding the slots while every
 * block in use goes past the cache.  Everything else is glibc's malloc.
 * Blocks are ordinary glibc blocks, so realloc and a free on another thread
 * need nothing special.  A thread's blocks go back to glibc when it exits (a
 * pthread key's destructor).
 */
#include "edge443/base/bufcache.h"

#include <event2/event.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct bufcache {
	void *blk[BUFCACHE_SLOTS];
	size_t size[BUFCACHE_SLOTS]; /* malloc_usable_size of each */
	size_t n;
	size_t bytes;
	bool registered; /* the exit destructor knows this thread */
};

static _Thread_local struct bufcache bufcache_tls;
static pthread_key_t bufcache_key;
static pthread_once_t bufcache_once = PTHREAD_ONCE_INIT;
static bool bufcache_key_ok;

static void bufcache_exit(void *arg)
{
	struct bufcache *c = arg;

	for (size_t i = 0; i < c->n; i++)
		free(c->blk[i]);
	c->n = 0;
	c->bytes = 0;
}

static void bufcache_key_init(void)
{
	bufcache_key_ok = pthread_key_create(&bufcache_key, bufcache_exit) == 0;
}

/* Take slot I out, keeping the others in their order (oldest first). */
static void bufcache_drop(struct bufcache *c, size_t i)
{
	c->n--;
	memmove(&c->blk[i], &c->blk[i + 1], (c->n - i) * sizeof(c->blk[0]));
	memmove(&c->size[i], &c->size[i + 1], (c->n - i) * sizeof(c->size[0]));
}

void *bufcache_malloc(size_t n)
{
	struct bufcache *c = &bufcache_tls;

	if (n >= BUFCACHE_MIN) {
		for (size_t i = c->n; i-- > 0;) {
			if (c->size[i] < n || c->size[i] / 2 > n)
				continue;
			void *p = c->blk[i];
			c->bytes -= c->size[i];
			bufcache_drop(c, i);
			return p;
		}
	}
	return malloc(n);
}

void *bufcache_realloc(void *p, size_t n)
{
	return realloc(p, n);
}

void bufcache_free(void *p)
{
	struct bufcache *c = &bufcache_tls;
	size_t u;

	if (!p)
		return;
	u = malloc_usable_size(p);
	if (u < BUFCACHE_MIN || u > BUFCACHE_MAX_BYTES) {
		free(p);
		return;
	}
	while (c->n > 0 &&
	       (c->n == BUFCACHE_SLOTS || c->bytes + u > BUFCACHE_MAX_BYTES)) {
		free(c->blk[0]);
		c->bytes -= c->size[0];
		bufcache_drop(c, 0);
	}
	if (!c->registered) {
		/* The first block this thread keeps: have it returned when
		 * the thread exits (no key: keep nothing). */
		pthread_once(&bufcache_once, bufcache_key_init);
		if (!bufcache_key_ok || pthread_setspecific(bufcache_key, c)) {
			free(p);
			return;
		}
		c->registered = true;
	}
	c->blk[c->n] = p;
	c->size[c->n] = u;
	c->n++;
	c->bytes += u;
}

size_t bufcache_count(void)
{
	return bufcache_tls.n;
}

size_t bufcache_bytes(void)
{
	return bufcache_tls.bytes;
}

void bufcache_trim(void)
{
	bufcache_exit(&bufcache_tls);
}

#if !defined(__SANITIZE_ADDRESS__)
/* OpenSSL's allocation hooks (they also get the caller's file and line). */
static void *bufcache_ossl_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return bufcache_malloc(n);
}

static void *bufcache_ossl_realloc(void *p, size_t n, const char *file,
				   int line)
{
	(void)file;
	(void)line;
	return bufcache_realloc(p, n);
}

static void bufcache_ossl_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	bufcache_free(p);
}
#endif

bool bufcache_install(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return false;
#else
	if (CRYPTO_set_mem_functions(bufcache_ossl_malloc,
				     bufcache_ossl_realloc,
				     bufcache_ossl_free) != 1)
		return false;
	event_set_mem_functions(bufcache_malloc, bufcache_realloc,
				bufcache_free);
	return true;
#endif
}
