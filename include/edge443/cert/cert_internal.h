/* cert_internal.h — shared between cert.c and cert_file.c only.
 *
 * Not part of the cert API: other modules include cert.h.  cert_file.c reads
 * files into a `struct cert_info` and records load problems; cert.c computes
 * the facts from what was read.
 */
#ifndef EDGE443_CERT_INTERNAL_H
#define EDGE443_CERT_INTERNAL_H

#include <stddef.h>

#include "edge443/cert/cert.h"

/* Record a problem with PATH in ci->errors; the first problem per file wins
 * and problems beyond the size of ci->errors are dropped. */
void cert_add_error(struct cert_info *ci, enum cert_file_status st,
		    const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Read every CERTIFICATE block of PATH.  The first one goes to *LEAF when
 * LEAF is not NULL; all others (all of them when LEAF is NULL) are appended
 * to ci->chain.  Problems are recorded in ci->errors. */
void cert_load_certs(struct cert_info *ci, const char *path, X509 **leaf);

/* Read the private key in PATH into ci->key and its mode into ci->key_mode.
 * Problems go to ci->errors. */
void cert_load_key(struct cert_info *ci, const char *path);

#endif
