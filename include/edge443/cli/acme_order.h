/* acme_order.h — `edge443 order`: the plan's ACME certificates, ordered,
 * checked against the plan and installed.
 *
 * acme_order.c is the sequence behind the command: the configuration, the
 * plan (order.h: the names of each certificate), the key and request
 * (csr.h), the ACME client (acme.h) with a temporary responder on each
 * service's address (acme_respond.h), then the plan rules (rules.h) on the
 * new files before they replace the old ones.  main.c parses the options
 * and maps nothing else.
 *
 * Ownership: the options are the caller's; nothing is kept after the call.
 */
#ifndef EDGE443_CLI_ACME_ORDER_H
#define EDGE443_CLI_ACME_ORDER_H

#include <stdbool.h>
#include <stdio.h>

#include "edge443/config/config.h"
#include "edge443/order/csr.h"

struct acme_order_opts {
	const char *certificate; /* --certificate NAME, NULL = every acme one */
	bool dry_run;		 /* print what would be ordered; contact nothing
				  */
	enum csr_key_kind key;	 /* --key */
};

/* Order, check and install the certificates of CFG (loaded by the caller;
 * borrowed, and unchanged when this returns); progress and the --dry-run
 * listing go to OUT, errors to ERR.  Returns the exit status: 0 every
 * certificate installed (or listed), 1 a new certificate broke a plan rule (its
 * old files kept), 2 usage or configuration error (no acme certificate, an
 * unknown
 * --certificate, no redirect_http for http-01), 3 runtime failure (the CA
 * unreachable or refusing, an address busy, a file not written). */
int acme_order_run(struct config *cfg, const struct acme_order_opts *opts,
		   FILE *out, FILE *err);

#endif
