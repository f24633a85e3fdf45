/* limits.h — the process limits `edge443 run` needs (limits.c). */
#ifndef EDGE443_LIMITS_H
#define EDGE443_LIMITS_H

#include <stddef.h>

/* Descriptors MAX_CONNECTIONS per worker over NWORKERS workers need. */
unsigned long long limits_nofile_needed(int max_connections, size_t nworkers);

/* Raise RLIMIT_NOFILE to that (the hard limit too, when allowed).  0, or -1
 * with what was reached in ERR (the process can still run). */
int limits_raise_nofile(int max_connections, size_t nworkers, char *err,
			size_t errlen);

#endif
