/* acme_issue.h — one ACME certificate ordered, judged with the plan rules,
 * and installed only when it passes.
 *
 * acme_issue.c is the work on one certificate that `edge443 order`
 * (acme_order.c) and the renewal in `run` (renew.c) share: key, request,
 * order (acme.h) through the caller's responder, NAME.new written, every
 * plan rule as of now and as of renew_before from now, then the rename.
 *
 * Ownership: everything is the caller's and borrowed; CFG is changed
 * during the call (the section's paths point at the .new files while they
 * are judged) and is as it was when the call returns.  One call at a time
 * per CFG.
 */
#ifndef EDGE443_CLI_ACME_ISSUE_H
#define EDGE443_CLI_ACME_ISSUE_H

#include <stdio.h>

#include "edge443/config/config.h"
#include "edge443/order/acme.h"
#include "edge443/order/acme_respond.h"
#include "edge443/order/csr.h"
#include "edge443/order/order.h"

enum acme_issue_result {
	ACME_ISSUE_OK,	    /* installed */
	ACME_ISSUE_FAILED,  /* the CA, the network, a key or a file failed */
	ACME_ISSUE_REFUSED, /* issued, but it breaks a plan rule: not
			       installed, the old files kept */
};

/* Order CC (planned as OC) with a new key of KIND through CLIENT, the
 * challenges answered by RSP (stopped when the CA has validated), write,
 * judge and install it.  Progress goes to OUT; every error, prefixed with
 * WHO ("edge443 order"), and every finding that refuses it (with its rule
 * id) to ERR. */
enum acme_issue_result
acme_issue_one(struct acme_client *client, struct config *cfg,
	       struct config_cert *cc, const struct order_cert *oc,
	       enum csr_key_kind kind, struct acme_responder *rsp,
	       const char *who, FILE *out, FILE *err);

#endif
