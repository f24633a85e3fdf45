/* acme_parse.h — the ACME server's JSON documents as plain structs.
 *
 * acme_parse.c reads the directory, orders, authorizations and problem
 * documents of RFC 8555 with jansson, and says how long to wait before the
 * next poll.  Pure functions: any thread, no I/O.
 *
 * Ownership: each struct owns its strings; its _clear frees them and zeroes
 * it (a cleared or zeroed struct may be cleared again).  Strings returned
 * are the caller's to free().
 */
#ifndef EDGE443_ORDER_ACME_PARSE_H
#define EDGE443_ORDER_ACME_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Polls of one order or authorization before giving up, and the longest
 * wait between two of them (a longer Retry-After is cut to it). */
#define ACME_POLL_MAX 60
#define ACME_POLL_MAX_WAIT 30

/* The directory (RFC 8555 section 7.1.1).  Owns its strings. */
struct acme_directory {
	char *new_nonce, *new_account, *new_order;
	char *renewal_info; /* ARI (RFC 9773), NULL when not offered */
	char *terms;	    /* meta.termsOfService, NULL when absent */
	bool eab_required;  /* meta.externalAccountRequired */
};

enum acme_status {
	ACME_STATUS_UNKNOWN,
	ACME_STATUS_PENDING,
	ACME_STATUS_READY,
	ACME_STATUS_PROCESSING,
	ACME_STATUS_VALID,
	ACME_STATUS_INVALID,
};

/* An order object (section 7.1.3).  Owns its strings. */
struct acme_order {
	enum acme_status status;
	char **authorizations;
	size_t nauthorizations;
	char *finalize;
	char *certificate; /* NULL until valid */
	char *error;	   /* "type: detail" of its error, NULL when none */
};

struct acme_challenge {
	char *type, *url, *token;
	enum acme_status status;
};

/* An authorization (section 7.1.4).  Owns its strings. */
struct acme_authz {
	enum acme_status status;
	char *identifier; /* the dNSName */
	struct acme_challenge *challenges;
	size_t nchallenges;
	char *error; /* "type: detail" of the first failed challenge */
};

/* Parse TEXT into the struct (cleared first).  0, or -1 with the reason in
 * err when it is not JSON or lacks a required member. */
int acme_directory_parse(const char *text, struct acme_directory *d, char *err,
			 size_t errlen);
int acme_order_parse(const char *text, struct acme_order *o, char *err,
		     size_t errlen);
int acme_authz_parse(const char *text, struct acme_authz *a, char *err,
		     size_t errlen);
void acme_directory_clear(struct acme_directory *d);
void acme_order_clear(struct acme_order *o);
void acme_authz_clear(struct acme_authz *a);

enum acme_status acme_status_parse(const char *s);

/* "TYPE: DETAIL" of a problem document (RFC 7807), the "urn:ietf:params:
 * acme:error:" prefix shortened to "acme:"; NULL when TEXT is none. */
char *acme_problem_text(const char *text);

/* Seconds to wait before poll ATTEMPT (0 first) given the answer's
 * Retry-After (may be NULL) as of NOW: Retry-After when readable, cut to
 * 1..ACME_POLL_MAX_WAIT, else 1, 2, 4, ... up to 8. */
long acme_poll_delay(const char *retry_after, time_t now, int attempt);

/* How long before NOT_AFTER a certificate valid from NOT_BEFORE is renewed:
 * RENEW_BEFORE_DAYS days when > 0, else a third of its lifetime (the
 * acme section's default).  Seconds, never negative. */
long acme_renew_window(time_t not_before, time_t not_after,
		       int renew_before_days);

#endif
