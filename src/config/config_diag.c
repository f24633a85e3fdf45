/* config_diag.c — the messages of a configuration parse.
 *
 * One place formats what is wrong with a configuration file: every message
 * is "FILE:LINE: what is wrong — what to do" appended to the caller's
 * buffer (struct config_parse), with control bytes from the file replaced
 * and a huge quoted value shortened in its middle.  config.c, config_scan.c
 * and config_build.c all report through it; it calls none of them.
 */
#include "edge443/config/config_internal.h"

#include <confuse.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest message kept whole; a longer one loses its middle. */
#define CONFIG_MSG_MAX 1024

/* Append "NAME:LINE: message\n" (or "NAME: message\n" when line is 0) to the
 * caller's buffer, truncating safely.  Control characters from the file are
 * replaced so that a binary file cannot put escape sequences on a terminal. */
static void config_vreport(struct config_parse *p, int line, const char *fmt,
			   va_list ap)
{
	char head[64];
	char *msg = NULL;
	va_list aq;
	int n;

	p->nerrors++;
	if (!p->err || p->errlen == 0 || p->used + 1 >= p->errlen)
		return;
	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return;
	msg = malloc((size_t)n + 1);
	if (!msg)
		return;
	vsnprintf(msg, (size_t)n + 1, fmt, ap);
	for (char *c = msg; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	/* A message that quotes a huge value keeps its start (what is wrong)
	 * and its end (what to do), never a cut in the middle of the value. */
	if ((size_t)n > CONFIG_MSG_MAX) {
		size_t keep = CONFIG_MSG_MAX / 2;
		char mid[64];
		int m = snprintf(mid, sizeof(mid),
				 " [... %zu bytes left out ...] ",
				 (size_t)n - 2 * keep);
		memmove(msg + keep + (size_t)m, msg + (size_t)n - keep,
			keep + 1);
		memcpy(msg + keep, mid, (size_t)m);
	}
	if (line > 0)
		snprintf(head, sizeof(head), ":%d: ", line);
	else
		snprintf(head, sizeof(head), ": ");
	n = snprintf(p->err + p->used, p->errlen - p->used, "%s%s%s\n", p->name,
		     head, msg);
	if (n > 0)
		p->used += (size_t)n;
	if (p->used >= p->errlen)
		p->used = p->errlen - 1;
	free(msg);
}

void config_report(struct config_parse *p, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_vreport(p, line, fmt, ap);
	va_end(ap);
}

/* "service "cwa"", "the http block of service "cwa"", "the global settings". */
void config_section_desc(cfg_t *sec, char *buf, size_t len)
{
	if (!sec || !sec->name || strcmp(sec->name, "root") == 0)
		snprintf(buf, len, "the global settings");
	else if (sec->title)
		snprintf(buf, len, "%s \"%s\"", sec->name, sec->title);
	else
		snprintf(buf, len, "the %s block", sec->name);
}
