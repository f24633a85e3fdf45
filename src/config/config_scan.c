/* config_scan.c — the pre-scan of the raw configuration text.
 *
 * Before libconfuse sees the text, this blanks out every comment (keeping the
 * newlines), because libconfuse 3.3 counts the lines of "#" and C-style
 * comments wrongly (a "# x" line counts three), and it finds what libconfuse
 * reports badly or not at all: NUL bytes, an unterminated string or comment,
 * and a section whose "}" is missing at the end of the file (libconfuse
 * treats end of file as "}").  It follows the token rules of libconfuse's
 * lexer.l but contains no libconfuse code and parses nothing else: options,
 * sections and values are config.c's and config_build.c's business.
 */
#include "edge443/config/config.h"
#include "edge443/config/config_internal.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Characters that end an unquoted libconfuse token (lexer.l). */
static bool config_scan_is_stop(char c)
{
	return strchr(" #\"'\t\n\r={}()+,*", c) != NULL;
}

/* Where the scan is: the text (blanked in place), the position, the line,
 * and the lines of the "{" still open. */
struct config_scan {
	struct config_parse *p;
	char *text;
	size_t len, i;
	int line;
	int *open; /* lines of the open "{", innermost last */
	size_t depth, cap;
};

/* A NUL byte anywhere: not a text file.  0, or -1 (reported). */
static int config_scan_nul(struct config_scan *s)
{
	for (size_t k = 0, l = 1; k < s->len; k++) {
		if (s->text[k] == '\0') {
			config_report(s->p, (int)l,
				      "binary data (a NUL byte) — expected a "
				      "text configuration file");
			return -1;
		}
		if (s->text[k] == '\n')
			l++;
	}
	return 0;
}

/* Skip from s->i to the "}" of a ${VAR} (one lexer token, even across a
 * quote) that E points at, counting lines. */
static void config_scan_env(struct config_scan *s, const char *e)
{
	for (; s->text + s->i < e; s->i++)
		if (s->text[s->i] == '\n')
			s->line++;
	s->i++;
}

/* At "#" or a run of "/": blank a line comment up to the newline, unless
 * the slashes start an unquoted string ("//x"), which is skipped. */
static void config_scan_line_comment(struct config_scan *s)
{
	char *t = s->text;
	size_t j = s->i;

	if (t[j] == '/') {
		while (j < s->len && t[j] == '/')
			j++;
		if (j < s->len && !config_scan_is_stop(t[j])) {
			while (j < s->len && !config_scan_is_stop(t[j]))
				j++;
			s->i = j;
			return;
		}
	}
	while (s->i < s->len && t[s->i] != '\n')
		t[s->i++] = ' ';
}

/* At "/" "*": blank the comment to its "*" "/", keeping newlines.  0, or -1
 * when it never ends (reported at the line where it starts). */
static int config_scan_block_comment(struct config_scan *s)
{
	char *t = s->text;
	int start = s->line;

	t[s->i++] = ' ';
	t[s->i++] = ' ';
	while (s->i < s->len) {
		if (t[s->i] == '*' && s->i + 1 < s->len && t[s->i + 1] == '/') {
			t[s->i++] = ' ';
			t[s->i++] = ' ';
			return 0;
		}
		if (t[s->i] == '\n')
			s->line++;
		else
			t[s->i] = ' ';
		s->i++;
	}
	config_report(s->p, start,
		      "unterminated comment — expected \"*/\" to close the "
		      "\"/*\" on this line");
	return -1;
}

/* At a quote: skip the string to its closing quote (backslash escapes, and
 * ${VAR} inside double quotes).  0, or -1 when it never ends (reported at
 * the line where it starts). */
static int config_scan_string(struct config_scan *s)
{
	char *t = s->text;
	char q = t[s->i];
	int start = s->line;

	s->i++;
	while (s->i < s->len) {
		char c = t[s->i];

		if (c == '\\' && s->i + 1 < s->len) {
			if (t[s->i + 1] == '\n')
				s->line++;
			s->i += 2;
			continue;
		}
		if (q == '"' && c == '$' && s->i + 1 < s->len &&
		    t[s->i + 1] == '{') {
			const char *e = memchr(t + s->i, '}', s->len - s->i);

			if (e) {
				config_scan_env(s, e);
				continue;
			}
		}
		s->i++;
		if (c == q)
			return 0;
		if (c == '\n')
			s->line++;
	}
	config_report(s->p, start,
		      "unterminated string — expected a closing %c for the "
		      "string that starts on this line",
		      q);
	return -1;
}

/* A "{": remember its line.  0, or -1 when out of memory. */
static int config_scan_open(struct config_scan *s)
{
	if (s->depth == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 16;
		int *ns = realloc(s->open, nc * sizeof(*ns));

		if (!ns) {
			s->p->oom = true;
			return -1;
		}
		s->open = ns;
		s->cap = nc;
	}
	s->open[s->depth++] = s->line;
	s->i++;
	return 0;
}

/* One token (or one character) at s->i.  0, or -1 on a fatal finding. */
static int config_scan_step(struct config_scan *s)
{
	const char *t = s->text;
	char c = t[s->i];
	bool next_is = s->i + 1 < s->len;

	if (c == '\n') {
		s->line++;
		s->i++;
	} else if (c == '#' || (c == '/' && next_is && t[s->i + 1] == '/')) {
		config_scan_line_comment(s);
	} else if (c == '/' && next_is && t[s->i + 1] == '*') {
		return config_scan_block_comment(s);
	} else if (c == '"' || c == '\'') {
		return config_scan_string(s);
	} else if (c == '$' && next_is && t[s->i + 1] == '{' &&
		   memchr(t + s->i, '}', s->len - s->i)) {
		config_scan_env(s, memchr(t + s->i, '}', s->len - s->i));
	} else if (c == '{') {
		return config_scan_open(s);
	} else if (c == '}') {
		if (s->depth > 0)
			s->depth--;
		s->i++;
	} else if (config_scan_is_stop(c)) {
		s->i++;
	} else {
		while (s->i < s->len && !config_scan_is_stop(t[s->i]))
			s->i++;
	}
	return 0;
}

/* Blank out the comments in TEXT (keeping newlines, so lines stay), and find
 * what libconfuse reports badly: NUL bytes, an unterminated string or
 * comment (fatal, returns -1), and the line of an unclosed "{" at the end of
 * the file (*unclosed, 0 if none).  Follows lexer.l's rules: "#" starts a
 * comment anywhere outside strings; "/" "*" and a run of "/" followed by a
 * stop character start one only at the start of a token. */
int config_scan_text(struct config_parse *p, char *text, size_t len,
		     int *unclosed)
{
	struct config_scan s = {.p = p, .text = text, .len = len, .line = 1};
	int rc = 0;

	*unclosed = 0;
	if (config_scan_nul(&s) < 0)
		return -1;
	while (rc == 0 && s.i < s.len)
		rc = config_scan_step(&s);
	if (rc == 0 && s.depth > 0)
		*unclosed = s.open[s.depth - 1];
	free(s.open);
	return rc;
}
