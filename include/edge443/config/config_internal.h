/* config_internal.h — shared by the files of the config module only.
 *
 * Not part of the config API: other modules include config.h.  The module is
 * config.c (the libconfuse schema and parse, reading the file, freeing),
 * config_build.c (walking the parsed tree: typed values, validation, building
 * `struct config`), config_scan.c (the pre-scan of the raw text) and
 * config_value.c (names of enum values, addresses, DNS names, paths).  Only
 * config.c and config_build.c include <confuse.h>; this header names the
 * libconfuse types by their struct tags so that the other two need not.
 *
 * Not reentrant, like config_load: a parse keeps its state in one
 * `struct config_parse` that the libconfuse callbacks reach through a global.
 */
#ifndef EDGE443_CONFIG_INTERNAL_H
#define EDGE443_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "edge443/config/config.h"

struct cfg_t;	  /* cfg_t of <confuse.h> */
struct cfg_opt_t; /* cfg_opt_t of <confuse.h> */

/* The hidden per-section option that records the line of the section's "{".
 * Its name starts with a space so that it can only be written quoted; its
 * parse callback refuses any value but its own default. */
#define CONFIG_OPEN_LINE_OPT " edge443-open-line"
#define CONFIG_OPEN_LINE_MAGIC "edge443-open-line"

/* One value read by libconfuse: which option (per section instance) and on
 * which line.  Sorted by (opt, seq) after parsing. */
struct config_rec {
	const struct cfg_opt_t *opt;
	int line;
	size_t seq;
	bool fresh; /* first value of an "=" (not a "+=" to a non-empty list) */
};

/* State of one config_load call. */
struct config_parse {
	const char *name; /* file name for messages, as given */
	const char *dir;
	char *err;
	size_t errlen, used;
	int nerrors;
	struct config_rec *recs;
	size_t nrecs, caprecs;
	bool oom;
};

/* A value name as written in the file and its enum value; tables end with
 * {NULL, 0}. */
struct config_value_name {
	const char *name;
	int value;
};

/* ---- config.c --------------------------------------------------------- */

/* Append "NAME:LINE: message\n" (or "NAME: message\n" when line is 0) to the
 * caller's error buffer of P and count the error. */
void config_report(struct config_parse *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "service "cwa"", "the http block of service "cwa"", "the global settings". */
void config_section_desc(struct cfg_t *sec, char *buf, size_t len);

/* ---- config_build.c --------------------------------------------------- */

/* Walk the parsed tree ROOT once: read every option as its type, validate
 * it (errors through config_report) and fill CFG.  Sorts p->recs first.
 * Sets p->oom on allocation failure. */
void config_build(struct config_parse *p, struct cfg_t *root,
		  struct config *cfg);

/* ---- config_scan.c ---------------------------------------------------- */

/* Blank out the comments in TEXT (keeping newlines, so lines stay), and find
 * what libconfuse reports badly: NUL bytes, an unterminated string or
 * comment (reported, returns -1), and the line of an unclosed "{" at the end
 * of the file (*unclosed, 0 if none).  Returns 0 otherwise. */
int config_scan_text(struct config_parse *p, char *text, size_t len,
		     int *unclosed);

/* ---- config_value.c --------------------------------------------------- */

extern const struct config_value_name config_value_roles[];
extern const struct config_value_name config_value_modes[];
extern const struct config_value_name config_value_proxy_names[];
extern const struct config_value_name config_value_host_names[];
extern const struct config_value_name config_value_platforms[];
extern const struct config_value_name config_value_log_levels[];
extern const struct config_value_name config_value_worker_modes[];
extern const struct config_value_name config_value_tls_versions[];
extern const struct config_value_name config_value_acme_challenges[];

/* A plausible host name: dot-separated labels of letters, digits and inner
 * hyphens, 1-63 characters each, 253 in all.  No wildcard. */
bool config_value_dns_name_ok(const char *s);

/* An IPv4 or IPv6 literal. */
bool config_value_ip_ok(const char *s);

/* A section name that is safe in a file name (plan --out writes NAME.key). */
bool config_value_section_name_ok(const char *s);

/* An http path prefix: starts with "/". */
bool config_value_path_prefix_ok(const char *s);

/* PATH, or DIR/PATH when PATH is relative and DIR is set; new string, NULL
 * on allocation failure. */
char *config_value_resolve(const char *dir, const char *path);

/* The folder of PATH ("." when it has none); new string, NULL on allocation
 * failure. */
char *config_value_dirname(const char *path);

#endif
