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

/* Blank out the comments in TEXT (keeping newlines, so lines stay), and find
 * what libconfuse reports badly: NUL bytes, an unterminated string or
 * comment (fatal, returns -1), and the line of an unclosed "{" at the end of
 * the file (*unclosed, 0 if none).  Follows lexer.l's rules: "#" starts a
 * comment anywhere outside strings; "/" "*" and a run of "/" followed by a
 * stop character start one only at the start of a token. */
int config_scan_text(struct config_parse *p, char *text, size_t len,
		     int *unclosed)
{
	int line = 1;
	int *stack = NULL;
	size_t depth = 0, cap = 0;
	size_t i = 0;
	int rc = 0;

	*unclosed = 0;
	for (size_t k = 0, l = 1; k < len; k++) {
		if (text[k] == '\0') {
			config_report(p, (int)l,
				      "binary data (a NUL byte) — expected a "
				      "text configuration file");
			return -1;
		}
		if (text[k] == '\n')
			l++;
	}
	while (i < len) {
		char c = text[i];

		if (c == '\n') {
			line++;
			i++;
		} else if (c == '#' ||
			   (c == '/' && i + 1 < len && text[i + 1] == '/')) {
			size_t j = i;

			if (c == '/') {
				while (j < len && text[j] == '/')
					j++;
				if (j < len && !config_scan_is_stop(text[j])) {
					/* "//x" is an unquoted string */
					while (j < len &&
					       !config_scan_is_stop(text[j]))
						j++;
					i = j;
					continue;
				}
			}
			while (i < len && text[i] != '\n')
				text[i++] = ' ';
		} else if (c == '/' && i + 1 < len && text[i + 1] == '*') {
			int start = line;
			bool closed = false;

			text[i++] = ' ';
			text[i++] = ' ';
			while (i < len) {
				if (text[i] == '*' && i + 1 < len &&
				    text[i + 1] == '/') {
					text[i++] = ' ';
					text[i++] = ' ';
					closed = true;
					break;
				}
				if (text[i] == '\n')
					line++;
				else
					text[i] = ' ';
				i++;
			}
			if (!closed) {
				config_report(p, start,
					      "unterminated comment — expected "
					      "\"*/\" to close the \"/*\" on "
					      "this line");
				rc = -1;
				goto out;
			}
		} else if (c == '"' || c == '\'') {
			int start = line;
			bool closed = false;

			i++;
			while (i < len) {
				if (text[i] == '\\' && i + 1 < len) {
					if (text[i + 1] == '\n')
						line++;
					i += 2;
					continue;
				}
				if (c == '"' && text[i] == '$' && i + 1 < len &&
				    text[i + 1] == '{') {
					/* ${VAR} is one lexer token, even
					 * across a quote */
					const char *e =
						memchr(text + i, '}', len - i);

					if (e) {
						for (; text + i < e; i++)
							if (text[i] == '\n')
								line++;
						i++;
						continue;
					}
				}
				if (text[i] == c) {
					closed = true;
					i++;
					break;
				}
				if (text[i] == '\n')
					line++;
				i++;
			}
			if (!closed) {
				config_report(p, start,
					      "unterminated string — expected "
					      "a closing %c for the string "
					      "that starts on this line",
					      c);
				rc = -1;
				goto out;
			}
		} else if (c == '$' && i + 1 < len && text[i + 1] == '{' &&
			   memchr(text + i, '}', len - i)) {
			const char *e = memchr(text + i, '}', len - i);

			for (; text + i < e; i++)
				if (text[i] == '\n')
					line++;
			i++;
		} else if (c == '{') {
			if (depth == cap) {
				size_t nc = cap ? cap * 2 : 16;
				int *ns = realloc(stack, nc * sizeof(*ns));

				if (!ns) {
					p->oom = true;
					rc = -1;
					goto out;
				}
				stack = ns;
				cap = nc;
			}
			stack[depth++] = line;
			i++;
		} else if (c == '}') {
			if (depth > 0)
				depth--;
			i++;
		} else if (config_scan_is_stop(c)) {
			i++;
		} else {
			while (i < len && !config_scan_is_stop(text[i]))
				i++;
		}
	}
	if (depth > 0)
		*unclosed = stack[depth - 1];
out:
	free(stack);
	return rc;
}
