/* pidfile.c — the --pidfile of `edge443 run`.
 *
 * Writes the process id at start and removes the file at a clean exit; after
 * the privilege drop a root-owned folder cannot be written, so the file
 * (handed to the service user at start) is then emptied instead, leaving no
 * stale pid.
 */
#include "edge443/serve/pidfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int pidfile_write(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");

	if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
		snprintf(err, errlen, "%s: cannot write the pid file: %s", path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

int pidfile_remove(const char *path, char *err, size_t errlen)
{
	if (unlink(path) == 0 || errno == ENOENT)
		return 0;
	if (truncate(path, 0) == 0)
		return 0;
	snprintf(err, errlen, "cannot remove the pid file %s: %s", path,
		 strerror(errno));
	return -1;
}
