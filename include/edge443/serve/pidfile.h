/* pidfile.h — the --pidfile of `edge443 run` (pidfile.c). */
#ifndef EDGE443_PIDFILE_H
#define EDGE443_PIDFILE_H

#include <stddef.h>

/* Write this process's id and a newline to PATH.  0, or -1 with the reason
 * in ERR. */
int pidfile_write(const char *path, char *err, size_t errlen);

/* Remove PATH (a missing file is fine), or empty it when its folder cannot
 * be written (after the privilege drop).  0, or -1 with the reason in ERR. */
int pidfile_remove(const char *path, char *err, size_t errlen);

#endif
