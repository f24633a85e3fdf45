/* limits.c — the process limits `edge443 run` needs.
 *
 * Raises the open-files limit so that every connection's two sockets fit
 * (max_connections per worker, two descriptors each, plus some for
 * listeners, logs and the admin endpoint), as far as the hard limit allows.
 */
#include "edge443/serve/limits.h"

#include <stdio.h>
#include <sys/resource.h>

unsigned long long limits_nofile_needed(int max_connections, size_t nworkers)
{
	return (unsigned long long)(max_connections > 0 ? max_connections : 0) *
		       nworkers * 2 +
	       256;
}

int limits_raise_nofile(int max_connections, size_t nworkers, char *err,
			size_t errlen)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)limits_nofile_needed(max_connections, nworkers);

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return 0;
	if (rl.rlim_max < want) {
		struct rlimit up = {want, want};
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return 0;
	}
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur >= want)
		return 0;
	snprintf(err, errlen,
		 "open-files limit is %llu, below the %llu that "
		 "max_connections needs",
		 (unsigned long long)rl.rlim_cur, (unsigned long long)want);
	return -1;
}
