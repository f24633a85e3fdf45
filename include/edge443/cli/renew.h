/* renew.h — the ACME renewal inside `edge443 run`.
 *
 * renew.c is the server's companion (server.h, struct server_companion):
 * started once the workers serve, it keeps one timer per acme = true
 * certificate and, in a thread of its own, renews each when due through
 * the running listeners (serve/challenges.h), judges the new certificate
 * with every plan rule and installs it only when it passes
 * (acme_issue.h), then reloads (SIGHUP: everything validated again, new
 * connections on the new certificate, open ones finish on the old).
 * Results and due times go to serve/acme_stats.h for /metrics.
 *
 * Ownership: the companion struct is static; the handle start returns is
 * renew.c's, ended by stop.
 */
#ifndef EDGE443_CLI_RENEW_H
#define EDGE443_CLI_RENEW_H

#include "edge443/serve/server.h"

/* The companion main.c hands to server_run. */
const struct server_companion *renew_companion(void);

#endif
