/* bufcache.h — a per-thread cache of large freed blocks under libevent's
 * and OpenSSL's allocations.
 *
 * A relayed request allocates and frees the same few large buffers every
 * time: libevent's evbuffer chains (up to 128 KiB, one per read) and
 * OpenSSL's record buffers (about 17 KiB each, released after every record
 * with SSL_MODE_RELEASE_BUFFERS, so that an idle connection holds none).
 * glibc serves blocks that large outside its fast per-thread caches; this
 * keeps a few of them per thread instead, so an idle connection still holds
 * no buffer and a busy one does not pay malloc and free for each.
 *
 * Ownership: the cached blocks belong to the thread that freed them and are
 * returned to glibc when it exits (or by bufcache_trim); a block handed out
 * is the caller's, to be freed with bufcache_free (any thread).
 */
#ifndef EDGE443_BASE_BUFCACHE_H
#define EDGE443_BASE_BUFCACHE_H

#include <stdbool.h>
#include <stddef.h>

/* Blocks smaller than this go straight to glibc (its own per-thread caches
 * are fast for them). */
#define BUFCACHE_MIN (4 * 1024)
/* At most this many blocks, and this many bytes, cached per thread. */
#define BUFCACHE_SLOTS 16
#define BUFCACHE_MAX_BYTES (1024 * 1024)

/* Make libevent and OpenSSL allocate through the cache.  Call first thing
 * in main, before either library allocates.  False when it was not
 * installed: too late for one of the libraries (nothing is changed then),
 * or a sanitizer build, where every free must reach the sanitizer. */
bool bufcache_install(void);

/* malloc / realloc / free through this thread's cache. */
void *bufcache_malloc(size_t n);
void *bufcache_realloc(void *p, size_t n);
void bufcache_free(void *p);

/* Blocks and bytes cached by the calling thread now. */
size_t bufcache_count(void);
size_t bufcache_bytes(void);
/* Return the calling thread's cached blocks to glibc. */
void bufcache_trim(void);

#endif
