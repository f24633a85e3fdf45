/* findings.h — the findings of the plan rules, and the words they use.
 *
 * A finding is one line a user can act on: severity, rule id, file:line,
 * what is wrong — what to do.  The rules of `edge443 check` (rules.c,
 * rules_cert.c, rules_service.c) and of probe append them to a
 * `struct findings` that the caller owns and zero-initialises; report.c
 * prints them.  Pure logic over plain structs: any thread that owns its
 * arguments.
 */
#ifndef EDGE443_RULES_FINDINGS_H
#define EDGE443_RULES_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "edge443/cert/cert.h"
#include "edge443/config/config.h"

enum finding_severity {
	FINDING_WARN,
	FINDING_ERROR,
};

struct finding {
	enum finding_severity severity;
	const char *rule; /* static rule id, e.g. "cn-is-fqdn" */
	const char *file; /* borrowed from the config (cfg->file) */
	int line;	  /* 0 when no line applies */
	char *subject; /* owned: "service \"webconf\"" / "certificate \"ssl1\""
			  / NULL */
	char *message; /* owned: what is wrong — what to do */
};

struct findings {
	struct finding *items;
	size_t n, cap;
	size_t errors, warnings;
};

/* Append one finding (printf-style message; SUBJECT copied, may be NULL).
 * Returns 0, -1 on allocation failure. */
int findings_add(struct findings *out, enum finding_severity sev,
		 const char *rule, const char *file, int line,
		 const char *subject, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

/* Free what the findings own and empty the list (F may be NULL). */
void findings_free(struct findings *f);

/* Stable sort of out->items[FROM..n) by line, errors before warnings on one
 * line. */
void findings_sort(struct findings *out, size_t from);

const char *finding_severity_name(enum finding_severity sev);

/* One finding as the one line every command prints it:
 * "error cn-shared edge.conf:66: what is wrong — what to do" (no ":LINE"
 * when the line is 0), cut to LEN.  Returns BUF. */
const char *finding_format(const struct finding *f, char *buf, size_t len);
/* The same line, with a newline, to OUT. */
void finding_print(FILE *out, const struct finding *f);

/* ---- the words findings use ------------------------------------------- */

/* LINE when an option was written (> 0), else FALLBACK (its section). */
int finding_line(int line, int fallback);

/* The config file name for findings; "(config)" when unknown. */
const char *finding_file(const struct config *cfg);

/* Case-insensitive equality; false when either is NULL. */
bool finding_name_eq(const char *a, const char *b);

/* "certificate \"ssl1\"", or for a chain as served (no section) "the
 * certificate served (CN=...)". */
void finding_cert_label(const struct config_cert *cc,
			const struct cert_info *ci, char *buf, size_t len);

/* "service \"NAME\"". */
void finding_service_label(const struct config_service *svc, char *buf,
			   size_t len);

/* "2026-01-31 12:00 UTC" (the epoch number when T cannot be shown). */
void finding_date(time_t t, char *buf, size_t len);

/* Comma-separated list of the DNS SANs, "(none)" when empty; cut with
 * "..." when BUF is too small. */
void finding_san_list(const struct cert_info *ci, char *buf, size_t len);

#endif
