/* privs.h — dropping root after the listeners are bound (privs.c).
 *
 * Call from the main thread before any other thread exists: the workers
 * inherit the user, groups and capabilities.
 */
#ifndef EDGE443_PRIVS_H
#define EDGE443_PRIVS_H

#include <stdbool.h>
#include <stddef.h>

/* Become USER (NULL: stay as is) with its group, no supplementary groups
 * and only CAP_NET_BIND_SERVICE; PIDFILE (may be NULL) is handed to USER so
 * it can be emptied at exit.  Not root: nothing changes (a warning names a
 * USER that is not the current one).  0, or -1 with the reason in ERR. */
int privs_drop(const char *user, const char *pidfile, char *err, size_t errlen);

/* Permitted and effective capabilities: CAP_NET_BIND_SERVICE alone (BIND),
 * or none.  0 / -1 (errno). */
int privs_set_caps(bool bind);

#endif
