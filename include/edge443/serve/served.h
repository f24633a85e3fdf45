/* served.h — what this node serves, as one JSON document for /served.
 *
 * served.c turns a validated model (the one the running SSL contexts were
 * built from) into the document that `edge443 probe --pool NODE...` reads
 * from each node's admin endpoint to compare the nodes of a pool: the
 * platform, every service (name, role, FQDN, mode, listen addresses) with
 * the SHA-256 fingerprints of the leaf and chain of each certificate it
 * serves, and the findings of the check that let it serve (warnings only:
 * a model with an error never serves).  The caller owns the string (free).
 */
#ifndef EDGE443_SERVED_H
#define EDGE443_SERVED_H

#include "edge443/rules/validate.h"

/* The document for V, compact JSON ending in a newline; NULL when out of
 * memory.
 *   {"edge443": VERSION, "config": FILE, "platform": NAME,
 *    "services": [{"name", "role", "fqdn", "mode", "listen": [...],
 *                  "certificates": [{"name", "leaf_sha256",
 *                                    "chain_sha256": [...]}]}],
 *    "findings": [{"severity", "rule", "subject"}]} */
char *served_json(const struct validated *v);

#endif
