/* findings.c — the findings of the plan rules, and the words they use.
 *
 * The list that every rule appends to (findings_add, with its error and warning
 * counts), its order (by line, errors first) and the small helpers that
 * every rule file uses to name what a finding is about: the config file and
 * line, a certificate or a service, a certificate's SAN list, a date.  The
 * rule files (rules.c, rules_cert.c, rules_issuer.c, rules_service.c,
 * rules_platform.c) and probe use it; it judges nothing, reads no file and
 * prints nothing (report.c formats the findings).
 */
#include "edge443/rules/findings.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- findings --------------------------------------------------------- */

const char *finding_severity_name(enum finding_severity sev)
{
	return sev == FINDING_ERROR ? "error" : "warn";
}

int findings_add(struct findings *out, enum finding_severity sev,
		 const char *rule, const char *file, int line,
		 const char *subject, const char *fmt, ...)
{
	struct finding *f;
	char *message = NULL, *subj = NULL;
	va_list ap;
	int len;

	if (out->n == out->cap) {
		size_t cap = out->cap ? out->cap * 2 : 16;
		struct finding *items =
			realloc(out->items, cap * sizeof(*items));
		if (!items)
			return -1;
		out->items = items;
		out->cap = cap;
	}

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0)
		return -1;
	message = malloc((size_t)len + 1);
	if (!message)
		goto fail;
	va_start(ap, fmt);
	vsnprintf(message, (size_t)len + 1, fmt, ap);
	va_end(ap);
	if (subject && !(subj = strdup(subject)))
		goto fail;

	f = &out->items[out->n++];
	f->severity = sev;
	f->rule = rule;
	f->file = file;
	f->line = line > 0 ? line : 0;
	f->subject = subj;
	f->message = message;
	if (sev == FINDING_ERROR)
		out->errors++;
	else
		out->warnings++;
	return 0;
fail:
	free(message);
	free(subj);
	return -1;
}

void findings_free(struct findings *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++) {
		free(f->items[i].subject);
		free(f->items[i].message);
	}
	free(f->items);
	f->items = NULL;
	f->n = f->cap = 0;
	f->errors = f->warnings = 0;
}

/* An insertion sort: plans hold tens of findings, and it is stable by
 * nature. */
void findings_sort(struct findings *out, size_t from)
{
	for (size_t i = from + 1; i < out->n; i++) {
		struct finding f = out->items[i];
		size_t j = i;

		while (j > from) {
			const struct finding *p = &out->items[j - 1];
			bool after = p->line > f.line ||
				     (p->line == f.line &&
				      p->severity == FINDING_WARN &&
				      f.severity == FINDING_ERROR);
			if (!after)
				break;
			out->items[j] = out->items[j - 1];
			j--;
		}
		out->items[j] = f;
	}
}

/* ---- the words findings use
 * ---------------------------------------------------- */

int finding_line(int line, int fallback)
{
	return line > 0 ? line : fallback;
}

const char *finding_file(const struct config *cfg)
{
	return cfg && cfg->file ? cfg->file : "(config)";
}

bool finding_name_eq(const char *a, const char *b)
{
	return a && b && strcasecmp(a, b) == 0;
}

void finding_cert_label(const struct config_cert *cc,
			const struct cert_info *ci, char *buf, size_t len)
{
	if (cc && cc->name)
		snprintf(buf, len, "certificate \"%s\"", cc->name);
	else if (ci && ci->subject[0])
		snprintf(buf, len, "the certificate served (%s)", ci->subject);
	else
		snprintf(buf, len, "the certificate served");
}

void finding_service_label(const struct config_service *svc, char *buf,
			   size_t len)
{
	snprintf(buf, len, "service \"%s\"", svc->name ? svc->name : "?");
}

void finding_date(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) ||
	    !strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm))
		snprintf(buf, len, "%lld (epoch)", (long long)t);
}

void finding_san_list(const struct cert_info *ci, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	if (!ci->nsans) {
		snprintf(buf, len, "(none)");
		return;
	}
	for (size_t i = 0; i < ci->nsans && used < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
				 ci->sans[i]);
		if (w < 0 || (size_t)w >= len - used) {
			if (len > 4)
				memcpy(buf + len - 4, "...", 4);
			return;
		}
		used += (size_t)w;
	}
}

const char *finding_format(const struct finding *f, char *buf, size_t len)
{
	if (f->line > 0)
		snprintf(buf, len, "%s %s %s:%d: %s",
			 finding_severity_name(f->severity), f->rule, f->file,
			 f->line, f->message);
	else
		snprintf(buf, len, "%s %s %s: %s",
			 finding_severity_name(f->severity), f->rule, f->file,
			 f->message);
	return buf;
}

void finding_print(FILE *out, const struct finding *f)
{
	char line[4096];

	fprintf(out, "%s\n", finding_format(f, line, sizeof(line)));
}
