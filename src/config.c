/* config.c — read the edge443 configuration file into plain structs.
 *
 * This is the only file that knows libconfuse.  It reads the file itself
 * (so that a missing file, a directory or a binary file get a clear message),
 * runs a small pre-scan over the text, lets libconfuse parse it against the
 * schema below, and then walks the parsed tree once to validate every value
 * and build `struct config`.  It does not open certificates, resolve names or
 * judge the certificate plan: references between sections (a service naming
 * a certificate that does not exist) are plan.c's business.
 *
 * Lines.  libconfuse keeps no line per option, so every option has a parse
 * callback that records (option, line) while the value is read; a hidden
 * option with a parsed default in every section records the line of the
 * section's "{" when libconfuse creates the section.  The pre-scan blanks out
 * comments before libconfuse sees the text, because libconfuse 3.3 counts the
 * lines of "#" and C-style comments wrongly (a "# x" line counts three).
 * The pre-scan also finds what libconfuse reports badly or not at all: NUL
 * bytes, an unterminated string or comment, and a section whose "}" is
 * missing at the end of the file (libconfuse treats end of file as "}").
 *
 * Values.  Every scalar option is read as a string and converted here, after
 * parsing, so that all value errors are reported at once, each as
 * "FILE:LINE: what is wrong — what is expected".
 *
 * Not reentrant: libconfuse's lexer is global state, so config_load must not
 * run in two threads at once; the parse callbacks reach the current parse
 * through config_current for the same reason.
 */
#include "edge443/config.h"

#include <arpa/inet.h>
#include <confuse.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/prov_ssl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Larger than any sane configuration; keeps a wrong -c (a disk image, a log)
 * from being read into memory. */
#define CONFIG_MAX_FILE_SIZE (16 * 1024 * 1024)

/* The hidden per-section option that records the line of the section's "{".
 * Its name starts with a space so that it can only be written quoted; its
 * parse callback refuses any value but its own default. */
#define CONFIG_OPEN_LINE_OPT " edge443-open-line"
#define CONFIG_OPEN_LINE_MAGIC "edge443-open-line"

#define CONFIG_ADDR_EXPECTED "expected IP:port with a port from 1 to 65535"

/* One value read by libconfuse: which option (per section instance) and on
 * which line.  Sorted by (opt, seq) after parsing. */
struct config_rec {
	const cfg_opt_t *opt;
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

static struct config_parse *config_current;

/* ---- messages ---------------------------------------------------------- */

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

static void config_report(struct config_parse *p, int line, const char *fmt,
			  ...) __attribute__((format(printf, 3, 4)));

static void config_report(struct config_parse *p, int line, const char *fmt,
			  ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_vreport(p, line, fmt, ap);
	va_end(ap);
}

/* "service "cwa"", "the http block of service "cwa"", "the global settings". */
static void config_section_desc(cfg_t *sec, char *buf, size_t len)
{
	if (!sec || !sec->name || strcmp(sec->name, "root") == 0)
		snprintf(buf, len, "the global settings");
	else if (sec->title)
		snprintf(buf, len, "%s \"%s\"", sec->name, sec->title);
	else
		snprintf(buf, len, "the %s block", sec->name);
}

/* libconfuse's own messages, with what to do added.  libconfuse passes the
 * section being parsed, whose line is current. */
static void config_error_cb(cfg_t *cfg, const char *fmt, va_list ap)
{
	struct config_parse *p = config_current;
	int line = cfg ? cfg->line : 0;
	char desc[160];
	char msg[512];
	char names[512];
	va_list aq;

	if (!p)
		return;
	config_section_desc(cfg, desc, sizeof(desc));
	va_copy(aq, ap);
	vsnprintf(msg, sizeof(msg), fmt, aq);
	va_end(aq);
	if (strcmp(fmt, "no such option '%s'") == 0) {
		const char *opt = va_arg(ap, const char *);
		size_t used = 0;

		names[0] = '\0';
		for (int i = 0; cfg && cfg->opts && cfg->opts[i].name; i++) {
			const char *n = cfg->opts[i].name;
			int w;

			if (n[0] == ' ')
				continue;
			w = snprintf(names + used, sizeof(names) - used, "%s%s",
				     used ? ", " : "", n);
			if (w < 0 || (size_t)w >= sizeof(names) - used)
				break;
			used += (size_t)w;
		}
		config_report(
			p, line,
			"unknown option \"%s\" in %s — expected one of %s", opt,
			desc, names);
	} else if (strcmp(fmt, "found duplicate title '%s'") == 0) {
		config_report(p, line,
			      "%s — a section of this kind with this name is "
			      "already defined; give each section its own name",
			      msg);
	} else if (strcmp(fmt, "premature end of file") == 0) {
		config_report(p, line,
			      "unexpected end of file — an option is missing "
			      "its value");
	} else if (strcmp(fmt, "unexpected closing brace") == 0) {
		config_report(
			p, line,
			"unexpected \"}\" — there is no open section to close");
	} else if (strcmp(fmt, "unexpected token '%s'") == 0) {
		config_report(p, line,
			      "%s in %s — expected NAME = VALUE, or a section "
			      "KIND NAME { ... }",
			      msg, desc);
	} else if (strcmp(fmt, "missing equal sign after option '%s'") == 0) {
		config_report(p, line, "%s — expected NAME = VALUE", msg);
	} else if (strcmp(fmt, "missing title for section '%s'") == 0 ||
		   strcmp(fmt, "missing opening brace for section '%s'") == 0) {
		config_report(
			p, line,
			"%s — expected certificate NAME { ... }, backend NAME "
			"{ ... }, service NAME { ... } or http { ... }",
			msg);
	} else if (strcmp(fmt, "attempt to append to non-list option '%s'") ==
		   0) {
		config_report(
			p, line,
			"%s — \"+=\" works on lists only; use NAME = VALUE",
			msg);
	} else {
		config_report(p, line, "%s — check the syntax on this line",
			      msg);
	}
}

/* ---- parse callbacks: record lines ------------------------------------ */

static int config_record(cfg_t *cfg, const cfg_opt_t *opt)
{
	struct config_parse *p = config_current;

	if (!p)
		return 0;
	if (p->nrecs == p->caprecs) {
		size_t cap = p->caprecs ? p->caprecs * 2 : 256;
		struct config_rec *r = realloc(p->recs, cap * sizeof(*r));

		if (!r) {
			p->oom = true;
			cfg_error(cfg, "out of memory");
			return -1;
		}
		p->recs = r;
		p->caprecs = cap;
	}
	p->recs[p->nrecs].opt = opt;
	p->recs[p->nrecs].line = cfg->line;
	p->recs[p->nrecs].seq = p->nrecs;
	p->recs[p->nrecs].fresh = cfg_opt_size((cfg_opt_t *)opt) == 1;
	p->nrecs++;
	return 0;
}

/* Every string option: keep the value as written, record its line. */
static int config_value_cb(cfg_t *cfg, cfg_opt_t *opt, const char *value,
			   void *result)
{
	if (config_record(cfg, opt) != 0)
		return -1;
	*(const char **)result = value;
	return 0;
}

/* The hidden option: called while libconfuse creates a section, when the
 * section's line is the line of its "{". */
static int config_open_line_cb(cfg_t *cfg, cfg_opt_t *opt, const char *value,
			       void *result)
{
	if (!value || strcmp(value, CONFIG_OPEN_LINE_MAGIC) != 0) {
		cfg_error(cfg, "no such option '%s'", opt->name);
		return -1;
	}
	*(long *)result = cfg->line;
	return 0;
}

/* ---- schema ------------------------------------------------------------ */

#define CONFIG_OPT_OPEN_LINE                                                   \
	{                                                                      \
		.name = CONFIG_OPEN_LINE_OPT, .type = CFGT_INT,                \
		.flags = CFGF_NONE, .def = {.parsed = CONFIG_OPEN_LINE_MAGIC}, \
		.parsecb = config_open_line_cb                                 \
	}
#define CONFIG_OPT_STR(n) CFG_STR_CB(n, NULL, CFGF_NODEFAULT, config_value_cb)
#define CONFIG_OPT_LIST(n)                                                     \
	CFG_STR_LIST_CB(n, NULL, CFGF_NODEFAULT, config_value_cb)

static cfg_opt_t config_cert_opts[] = {
	CONFIG_OPT_OPEN_LINE,
	CONFIG_OPT_STR("cert"),
	CONFIG_OPT_STR("chain"),
	CONFIG_OPT_STR("key"),
	CFG_END(),
};

static cfg_opt_t config_backend_opts[] = {
	CONFIG_OPT_OPEN_LINE,
	CONFIG_OPT_LIST("servers"),
	CONFIG_OPT_STR("tls"),
	CONFIG_OPT_STR("trust_file"),
	CONFIG_OPT_STR("verify_name"),
	CONFIG_OPT_STR("verify"),
	CONFIG_OPT_STR("proxy_protocol"),
	CFG_END(),
};

static cfg_opt_t config_http_opts[] = {
	CONFIG_OPT_OPEN_LINE,
	CONFIG_OPT_LIST("paths"),
	CONFIG_OPT_STR("host_header"),
	CONFIG_OPT_STR("redirect_http"),
	CFG_END(),
};

/* http is MULTI (without a title) so that libconfuse creates it only when it
 * is written, and a second http block is visible (and refused). */
static cfg_opt_t config_service_opts[] = {
	CONFIG_OPT_OPEN_LINE,
	CONFIG_OPT_STR("role"),
	CONFIG_OPT_STR("fqdn"),
	CONFIG_OPT_LIST("listen"),
	CONFIG_OPT_STR("certificate"),
	CONFIG_OPT_STR("mode"),
	CONFIG_OPT_STR("backend"),
	CONFIG_OPT_LIST("sip_domains"),
	CONFIG_OPT_STR("federation"),
	CONFIG_OPT_STR("sni_strict"),
	CONFIG_OPT_STR("tls_min"),
	CONFIG_OPT_STR("tls_max"),
	CFG_SEC("http", config_http_opts, CFGF_MULTI),
	CFG_END(),
};

#define CONFIG_SECTION_FLAGS (CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES)

static cfg_opt_t config_root_opts[] = {
	CONFIG_OPT_STR("user"),
	CONFIG_OPT_STR("workers"),
	CONFIG_OPT_STR("trust_file"),
	CONFIG_OPT_STR("warn_days"),
	CONFIG_OPT_STR("handshake_timeout"),
	CONFIG_OPT_STR("idle_timeout"),
	CONFIG_OPT_STR("connect_timeout"),
	CONFIG_OPT_STR("shutdown_timeout"),
	CONFIG_OPT_STR("max_connections"),
	CONFIG_OPT_STR("tls_min"),
	CONFIG_OPT_STR("tls_max"),
	CONFIG_OPT_STR("ticket_key_file"),
	CONFIG_OPT_STR("log_level"),
	CONFIG_OPT_STR("admin"),
	CONFIG_OPT_STR("platform"),
	CFG_SEC("certificate", config_cert_opts, CONFIG_SECTION_FLAGS),
	CFG_SEC("backend", config_backend_opts, CONFIG_SECTION_FLAGS),
	CFG_SEC("service", config_service_opts, CONFIG_SECTION_FLAGS),
	CFG_END(),
};

/* ---- enums ------------------------------------------------------------- */

struct config_name {
	const char *name;
	int value;
};

static const struct config_name config_roles[] = {
	{"access-edge", CONFIG_ROLE_ACCESS_EDGE},
	{"webconf-edge", CONFIG_ROLE_WEBCONF_EDGE},
	{"av-edge", CONFIG_ROLE_AV_EDGE},
	{"edge-internal", CONFIG_ROLE_EDGE_INTERNAL},
	{"cwa", CONFIG_ROLE_CWA},
	{"web", CONFIG_ROLE_WEB},
	{"generic", CONFIG_ROLE_GENERIC},
	{NULL, 0},
};

static const struct config_name config_modes[] = {
	{"terminate", CONFIG_MODE_TERMINATE},
	{"reencrypt", CONFIG_MODE_REENCRYPT},
	{"passthrough", CONFIG_MODE_PASSTHROUGH},
	{NULL, 0},
};

static const struct config_name config_proxy_names[] = {
	{"off", CONFIG_PROXY_OFF},
	{"v1", CONFIG_PROXY_V1},
	{"v2", CONFIG_PROXY_V2},
	{NULL, 0},
};

static const struct config_name config_host_names[] = {
	{"original", CONFIG_HOST_ORIGINAL},
	{"backend", CONFIG_HOST_BACKEND},
	{NULL, 0},
};

static const struct config_name config_platforms[] = {
	{"ocs2007r2", CONFIG_PLATFORM_OCS2007R2},
	{"lync", CONFIG_PLATFORM_LYNC},
	{NULL, 0},
};

static const struct config_name config_log_levels[] = {
	{"error", CONFIG_LOG_ERROR},
	{"warn", CONFIG_LOG_WARN},
	{"info", CONFIG_LOG_INFO},
	{"debug", CONFIG_LOG_DEBUG},
	{NULL, 0},
};

static const struct config_name config_tls_versions[] = {
	{"1.0", TLS1_VERSION},
	{"1.1", TLS1_1_VERSION},
	{"1.2", TLS1_2_VERSION},
	{"1.3", TLS1_3_VERSION},
	{NULL, 0},
};

static const char *config_name_of(const struct config_name *t, int value)
{
	for (; t->name; t++)
		if (t->value == value)
			return t->name;
	return "?";
}

const char *config_role_name(enum config_role role)
{
	return config_name_of(config_roles, (int)role);
}

const char *config_mode_name(enum config_mode mode)
{
	return config_name_of(config_modes, (int)mode);
}

const char *config_tls_name(int version)
{
	return config_name_of(config_tls_versions, version);
}

/* ---- addresses, names, paths ------------------------------------------- */

int config_addr_parse(const char *text, struct config_addr *addr, char *err,
		      size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_text;
	size_t hostlen;
	bool v6 = false;
	char *end = NULL;
	long port;

	if (err && errlen)
		err[0] = '\0';
	memset(addr, 0, sizeof(*addr));
	if (!text || !*text) {
		snprintf(err, errlen, "the address is empty");
		return -1;
	}
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close) {
			snprintf(err, errlen,
				 "missing \"]\" after the IPv6 address");
			return -1;
		}
		hostlen = (size_t)(close - text - 1);
		if (close[1] != ':') {
			snprintf(err, errlen,
				 "missing :port after the address");
			return -1;
		}
		port_text = close + 2;
		v6 = true;
		if (hostlen >= sizeof(host)) {
			snprintf(err, errlen, "not an IPv6 address");
			return -1;
		}
		memcpy(host, text + 1, hostlen);
	} else {
		const char *colon = strrchr(text, ':');

		if (!colon) {
			snprintf(err, errlen,
				 "missing :port after the address");
			return -1;
		}
		if (memchr(text, ':', (size_t)(colon - text))) {
			snprintf(err, errlen,
				 "an IPv6 address must be written in brackets, "
				 "e.g. [2001:db8::1]:443");
			return -1;
		}
		hostlen = (size_t)(colon - text);
		port_text = colon + 1;
		if (hostlen >= sizeof(host)) {
			snprintf(err, errlen,
				 "not an IP address (names are not resolved)");
			return -1;
		}
		memcpy(host, text, hostlen);
	}
	host[hostlen] = '\0';
	if (!*port_text) {
		snprintf(err, errlen, "missing port after \":\"");
		return -1;
	}
	for (const char *c = port_text; *c; c++) {
		if (*c < '0' || *c > '9') {
			snprintf(err, errlen, "the port is not a number");
			return -1;
		}
	}
	errno = 0;
	port = strtol(port_text, &end, 10);
	if (errno != 0 || port < 1 || port > 65535) {
		snprintf(err, errlen, "port %.20s is out of range", port_text);
		return -1;
	}
	if (v6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&addr->sa;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
			snprintf(err, errlen, "\"%s\" is not an IPv6 address",
				 host);
			return -1;
		}
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		addr->salen = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&addr->sa;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
			snprintf(err, errlen,
				 "\"%s\" is not an IP address (names are not "
				 "resolved)",
				 host);
			return -1;
		}
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		addr->salen = sizeof(*sin);
	}
	addr->port = (int)port;
	addr->text = strdup(text);
	if (!addr->text) {
		memset(addr, 0, sizeof(*addr));
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* A plausible host name: dot-separated labels of letters, digits and inner
 * hyphens, 1-63 characters each, 253 in all.  No wildcard. */
static bool config_dns_name_ok(const char *s)
{
	size_t label = 0, total = strlen(s);

	if (total == 0 || total > 253)
		return false;
	for (size_t i = 0; i <= total; i++) {
		char c = s[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (label == 0 && c == '-')
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-'))
			return false;
		label++;
	}
	return true;
}

static bool config_ip_ok(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 ||
	       inet_pton(AF_INET6, s, buf) == 1;
}

/* Section names end up in file names (plan --out writes NAME.key). */
static bool config_section_name_ok(const char *s)
{
	if (!s || !*s || s[0] == '.' || strlen(s) > 64)
		return false;
	for (; *s; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.'))
			return false;
	}
	return true;
}

static char *config_resolve(const char *dir, const char *path)
{
	size_t dl, pl;
	char *out;

	if (path[0] == '/' || !dir || !*dir)
		return strdup(path);
	dl = strlen(dir);
	pl = strlen(path);
	out = malloc(dl + pl + 2);
	if (!out)
		return NULL;
	memcpy(out, dir, dl);
	if (dir[dl - 1] != '/')
		out[dl++] = '/';
	memcpy(out + dl, path, pl + 1);
	return out;
}

/* ---- reading values after the parse ------------------------------------ */

static int config_rec_cmp(const void *a, const void *b)
{
	const struct config_rec *x = a, *y = b;

	if ((uintptr_t)x->opt != (uintptr_t)y->opt)
		return (uintptr_t)x->opt < (uintptr_t)y->opt ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq ? 1 : 0);
}

/* The records of OPT (sorted), in file order; *n = how many. */
static const struct config_rec *config_recs_of(struct config_parse *p,
					       const cfg_opt_t *opt, size_t *n)
{
	size_t lo = 0, hi = p->nrecs, first;

	*n = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if ((uintptr_t)p->recs[mid].opt < (uintptr_t)opt)
			lo = mid + 1;
		else
			hi = mid;
	}
	first = lo;
	while (lo < p->nrecs && p->recs[lo].opt == opt)
		lo++;
	*n = lo - first;
	return *n ? &p->recs[first] : NULL;
}

static int config_open_line(cfg_t *sec)
{
	return (int)cfg_getint(sec, CONFIG_OPEN_LINE_OPT);
}

/* A scalar option as written, or NULL.  *line = its line (0 if absent).
 * Writing a scalar twice in one section is an error. */
static const char *config_str(struct config_parse *p, cfg_t *sec,
			      const char *name, int *line)
{
	cfg_opt_t *opt = cfg_getopt(sec, name);
	const struct config_rec *r;
	size_t n;
	char desc[160];

	*line = 0;
	if (!opt || cfg_opt_size(opt) == 0)
		return NULL;
	r = config_recs_of(p, opt, &n);
	if (!r)
		return NULL;
	*line = r[0].line;
	if (n > 1) {
		config_section_desc(sec, desc, sizeof(desc));
		config_report(
			p, r[1].line,
			"%s is set twice in %s (also on line %d) — keep one",
			name, desc, r[0].line);
	}
	return cfg_opt_getnstr(opt, 0);
}

/* A list option, or NULL when not written; *line = line of its first value.
 * "+=" appends; a second "=" is an error like a repeated scalar. */
static cfg_opt_t *config_list(struct config_parse *p, cfg_t *sec,
			      const char *name, int *line)
{
	cfg_opt_t *opt = cfg_getopt(sec, name);
	const struct config_rec *r;
	size_t n, first = SIZE_MAX;
	char desc[160];

	*line = 0;
	if (!opt || cfg_opt_size(opt) == 0)
		return NULL;
	r = config_recs_of(p, opt, &n);
	for (size_t i = 0; r && i < n; i++) {
		if (!r[i].fresh)
			continue;
		if (first == SIZE_MAX) {
			first = i;
			continue;
		}
		config_section_desc(sec, desc, sizeof(desc));
		config_report(p, r[i].line,
			      "%s is set twice in %s (also on line %d) — keep "
			      "one, or add to it with +=",
			      name, desc, r[first].line);
		break;
	}
	if (r)
		*line = r[n >= cfg_opt_size(opt) ? n - cfg_opt_size(opt) : 0]
				.line;
	return opt;
}

/* The line of value I of a list (a list re-assigned with "=" keeps only the
 * values of its last assignment, which are the last records). */
static int config_list_line(struct config_parse *p, cfg_opt_t *opt, unsigned i)
{
	size_t n, nv = cfg_opt_size(opt);
	const struct config_rec *r = config_recs_of(p, opt, &n);

	if (!r || n < nv)
		return r ? r[0].line : 0;
	return r[n - nv + i].line;
}

static void config_int(struct config_parse *p, cfg_t *sec, const char *name,
		       int min, const char *unit, int *out, int *line)
{
	int l;
	const char *v = config_str(p, sec, name, &l);
	char *end = NULL;
	long n;

	if (line)
		*line = l;
	if (!v)
		return;
	errno = 0;
	n = strtol(v, &end, 10);
	if (!*v || *end != '\0') {
		config_report(p, l,
			      "%s = \"%s\": not a whole number — expected a "
			      "number of %s >= %d",
			      name, v, unit, min);
		return;
	}
	if (n < min) {
		config_report(p, l, "%s = %s: expected a number of %s >= %d",
			      name, v, unit, min);
		return;
	}
	if (errno == ERANGE || n > INT_MAX) {
		config_report(p, l,
			      "%s = %s: too large — expected a number of %s "
			      "from %d to %d",
			      name, v, unit, min, INT_MAX);
		return;
	}
	*out = (int)n;
}

static void config_bool(struct config_parse *p, cfg_t *sec, const char *name,
			bool *out, int *line, bool *set)
{
	int l, b;
	const char *v = config_str(p, sec, name, &l);

	if (line)
		*line = l;
	if (!v)
		return;
	b = cfg_parse_boolean(v);
	if (b < 0) {
		config_report(p, l, "%s = \"%s\": expected true or false", name,
			      v);
		return;
	}
	*out = b != 0;
	if (set)
		*set = true;
}

/* An enum option.  WHAT names the kind in the message ("role"). */
static void config_enum(struct config_parse *p, cfg_t *sec, const char *name,
			const struct config_name *table, const char *what,
			int *out, int *line)
{
	int l;
	const char *v = config_str(p, sec, name, &l);
	char expected[256];
	size_t used = 0;

	if (line)
		*line = l;
	if (!v)
		return;
	for (const struct config_name *t = table; t->name; t++) {
		if (strcmp(t->name, v) == 0) {
			*out = t->value;
			return;
		}
	}
	expected[0] = '\0';
	for (const struct config_name *t = table; t->name; t++) {
		int w = snprintf(expected + used, sizeof(expected) - used,
				 "%s%s", used ? ", " : "", t->name);

		if (w < 0 || (size_t)w >= sizeof(expected) - used)
			break;
		used += (size_t)w;
	}
	config_report(p, l, "%s \"%s\": unknown %s — expected one of %s", name,
		      v, what, expected);
}

static void config_addr_opt(struct config_parse *p, cfg_t *sec,
			    const char *name, struct config_addr *addr,
			    int *line)
{
	int l;
	const char *v = config_str(p, sec, name, &l);
	char why[160];

	if (line)
		*line = l;
	if (!v)
		return;
	if (config_addr_parse(v, addr, why, sizeof(why)) != 0)
		config_report(p, l, "%s \"%s\": %s — " CONFIG_ADDR_EXPECTED,
			      name, v, why);
}

/* A list of addresses; at least one required when REQUIRED. */
static void config_addr_list(struct config_parse *p, cfg_t *sec,
			     const char *name, struct config_addr **out,
			     size_t *nout, int *line)
{
	cfg_opt_t *opt = config_list(p, sec, name, line);
	unsigned n = opt ? cfg_opt_size(opt) : 0;
	char why[160];

	if (n == 0)
		return;
	*out = calloc(n, sizeof(**out));
	if (!*out) {
		p->oom = true;
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		const char *v = cfg_opt_getnstr(opt, i);

		if (config_addr_parse(v ? v : "", &(*out)[*nout], why,
				      sizeof(why)) != 0) {
			config_report(p, config_list_line(p, opt, i),
				      "%s \"%s\": %s — " CONFIG_ADDR_EXPECTED,
				      name, v ? v : "", why);
			continue;
		}
		(*nout)++;
	}
}

/* A list of strings (copied), each checked with OK when given. */
static void config_str_list(struct config_parse *p, cfg_t *sec,
			    const char *name, bool (*ok)(const char *),
			    const char *expected, char ***out, size_t *nout,
			    int *line)
{
	cfg_opt_t *opt = config_list(p, sec, name, line);
	unsigned n = opt ? cfg_opt_size(opt) : 0;

	if (n == 0)
		return;
	*out = calloc(n, sizeof(**out));
	if (!*out) {
		p->oom = true;
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		const char *v = cfg_opt_getnstr(opt, i);

		if (!v)
			v = "";
		if (ok && !ok(v)) {
			config_report(p, config_list_line(p, opt, i),
				      "%s \"%s\": %s", name, v, expected);
			continue;
		}
		(*out)[*nout] = strdup(v);
		if (!(*out)[*nout]) {
			p->oom = true;
			return;
		}
		(*nout)++;
	}
}

/* A file path, resolved against the config file's folder. */
static void config_path(struct config_parse *p, cfg_t *sec, const char *name,
			char **out, int *line)
{
	int l;
	const char *v = config_str(p, sec, name, &l);

	if (line)
		*line = l;
	if (!v)
		return;
	if (!*v) {
		config_report(p, l,
			      "%s = \"\": empty path — expected a file path, "
			      "relative to the folder of %s or absolute",
			      name, p->name);
		return;
	}
	free(*out);
	*out = config_resolve(p->dir, v);
	if (!*out)
		p->oom = true;
}

static void config_copy(struct config_parse *p, const char *v, char **out)
{
	if (!v)
		return;
	*out = strdup(v);
	if (!*out)
		p->oom = true;
}

static void config_tls(struct config_parse *p, cfg_t *sec, const char *name,
		       int *out, int *line)
{
	config_enum(p, sec, name, config_tls_versions, "TLS version", out,
		    line);
}

static bool config_path_prefix_ok(const char *s)
{
	return s[0] == '/';
}

/* ---- sections ---------------------------------------------------------- */

static bool config_check_name(struct config_parse *p, cfg_t *sec)
{
	if (config_section_name_ok(sec->title))
		return true;
	config_report(
		p, config_open_line(sec),
		"%s \"%s\": bad section name — expected letters, digits, "
		"\".\", \"_\" and \"-\" (at most 64, not starting with \".\")",
		sec->name, sec->title ? sec->title : "");
	return false;
}

static void config_build_cert(struct config_parse *p, cfg_t *sec,
			      struct config_cert *c)
{
	c->line = config_open_line(sec);
	config_check_name(p, sec);
	config_copy(p, sec->title, &c->name);
	config_path(p, sec, "cert", &c->cert, &c->cert_line);
	config_path(p, sec, "chain", &c->chain, &c->chain_line);
	config_path(p, sec, "key", &c->key, &c->key_line);
	if (c->cert_line == 0)
		config_report(p, c->line,
			      "certificate \"%s\" has no cert — expected cert "
			      "= \"path/to/leaf.crt\"",
			      sec->title);
}

static void config_build_backend(struct config_parse *p, cfg_t *sec,
				 struct config_backend *b)
{
	int v = CONFIG_PROXY_OFF;
	const char *name;

	b->line = config_open_line(sec);
	b->verify = true;
	config_check_name(p, sec);
	config_copy(p, sec->title, &b->name);
	config_addr_list(p, sec, "servers", &b->servers, &b->nservers,
			 &b->servers_line);
	if (b->servers_line == 0)
		config_report(p, b->line,
			      "backend \"%s\" has no servers — expected "
			      "servers = {\"IP:port\", ...}",
			      sec->title);
	config_bool(p, sec, "tls", &b->tls, &b->tls_line, NULL);
	config_path(p, sec, "trust_file", &b->trust_file, &b->trust_file_line);
	name = config_str(p, sec, "verify_name", &b->verify_name_line);
	if (name && !config_dns_name_ok(name) && !config_ip_ok(name))
		config_report(p, b->verify_name_line,
			      "verify_name \"%s\": not a DNS name — expected "
			      "the host name on the backend's certificate, "
			      "e.g. cwa01.corp.example",
			      name);
	else
		config_copy(p, name, &b->verify_name);
	config_bool(p, sec, "verify", &b->verify, &b->verify_line,
		    &b->verify_set);
	config_enum(p, sec, "proxy_protocol", config_proxy_names,
		    "proxy_protocol", &v, &b->proxy_protocol_line);
	b->proxy_protocol = (enum config_proxy_protocol)v;
}

static void config_build_http(struct config_parse *p, cfg_t *svc,
			      struct config_service *s)
{
	struct config_http *h = &s->http;
	unsigned n = cfg_size(svc, "http");
	cfg_t *sec;
	int v = CONFIG_HOST_ORIGINAL;

	if (n == 0)
		return;
	sec = cfg_getnsec(svc, "http", 0);
	h->present = true;
	h->line = config_open_line(sec);
	for (unsigned i = 1; i < n; i++)
		config_report(p, config_open_line(cfg_getnsec(svc, "http", i)),
			      "service \"%s\" has a second http block (the "
			      "first is on line %d) — merge them into one",
			      svc->title, h->line);
	if (s->mode_line && s->mode == CONFIG_MODE_PASSTHROUGH)
		config_report(p, h->line,
			      "service \"%s\": an http block needs mode "
			      "terminate or reencrypt — mode is passthrough, "
			      "so the traffic is never decrypted; remove the "
			      "http block or change the mode",
			      svc->title);
	config_str_list(p, sec, "paths", config_path_prefix_ok,
			"not a path prefix — expected a path starting with "
			"\"/\", e.g. \"/\" or \"/cwa/\"",
			&h->paths, &h->npaths, &h->paths_line);
	if (h->paths_line == 0 && h->npaths == 0) {
		h->paths = calloc(1, sizeof(*h->paths));
		if (!h->paths || !(h->paths[0] = strdup("/"))) {
			p->oom = true;
			return;
		}
		h->npaths = 1;
	}
	config_enum(p, sec, "host_header", config_host_names, "host_header", &v,
		    &h->host_header_line);
	h->host_header = (enum config_host_header)v;
	config_addr_opt(p, sec, "redirect_http", &h->redirect_http,
			&h->redirect_http_line);
}

static void config_build_service(struct config_parse *p, cfg_t *sec,
				 struct config_service *s)
{
	int role = CONFIG_ROLE_GENERIC, mode = CONFIG_MODE_TERMINATE;
	const char *fqdn;

	s->line = config_open_line(sec);
	config_check_name(p, sec);
	config_copy(p, sec->title, &s->name);
	config_enum(p, sec, "role", config_roles, "role", &role, &s->role_line);
	s->role = (enum config_role)role;

	fqdn = config_str(p, sec, "fqdn", &s->fqdn_line);
	if (!fqdn)
		config_report(
			p, s->line,
			"service \"%s\" has no fqdn — expected fqdn = \"the "
			"name clients connect to\", e.g. sip.example.com",
			sec->title);
	else if (fqdn[0] == '*')
		config_report(p, s->fqdn_line,
			      "fqdn \"%s\": a wildcard is not a service FQDN — "
			      "expected the exact name clients connect to",
			      fqdn);
	else if (!config_dns_name_ok(fqdn))
		config_report(p, s->fqdn_line,
			      "fqdn \"%s\": not a DNS name — expected letters, "
			      "digits, hyphens and dots, e.g. sip.example.com",
			      fqdn);
	else
		config_copy(p, fqdn, &s->fqdn);

	config_addr_list(p, sec, "listen", &s->listen, &s->nlisten,
			 &s->listen_line);
	if (s->listen_line == 0)
		config_report(p, s->line,
			      "service \"%s\" has no listen address — expected "
			      "listen = \"IP:port\", e.g. \"192.0.2.10:443\"",
			      sec->title);

	config_copy(p, config_str(p, sec, "certificate", &s->certificate_line),
		    &s->certificate);
	config_enum(p, sec, "mode", config_modes, "mode", &mode, &s->mode_line);
	s->mode = (enum config_mode)mode;
	if (s->mode_line == 0)
		config_report(p, s->line,
			      "service \"%s\" has no mode — expected mode = "
			      "terminate, reencrypt or passthrough",
			      sec->title);
	config_copy(p, config_str(p, sec, "backend", &s->backend_line),
		    &s->backend);
	config_str_list(
		p, sec, "sip_domains", config_dns_name_ok,
		"not a DNS domain — expected a SIP domain such as example.com",
		&s->sip_domains, &s->nsip_domains, &s->sip_domains_line);
	config_bool(p, sec, "federation", &s->federation, &s->federation_line,
		    NULL);
	config_bool(p, sec, "sni_strict", &s->sni_strict, &s->sni_strict_line,
		    NULL);
	config_tls(p, sec, "tls_min", &s->tls_min, &s->tls_min_line);
	config_tls(p, sec, "tls_max", &s->tls_max, &s->tls_max_line);
	config_build_http(p, sec, s);
}

static void config_build_global(struct config_parse *p, cfg_t *root,
				struct config *cfg)
{
	int v, line;

	config_copy(p, config_str(p, root, "user", &line), &cfg->user);
	if (cfg->user && !*cfg->user)
		config_report(p, line,
			      "user = \"\": empty — expected a user name, or "
			      "leave user out to keep the current user");
	config_int(p, root, "workers", 0, "worker threads (0 = one per CPU)",
		   &cfg->workers, NULL);
	config_path(p, root, "trust_file", &cfg->trust_file,
		    &cfg->trust_file_line);
	config_int(p, root, "warn_days", 0, "days", &cfg->warn_days,
		   &cfg->warn_days_line);
	config_int(p, root, "handshake_timeout", 0, "seconds",
		   &cfg->handshake_timeout, NULL);
	config_int(p, root, "idle_timeout", 0, "seconds", &cfg->idle_timeout,
		   NULL);
	config_int(p, root, "connect_timeout", 0, "seconds",
		   &cfg->connect_timeout, NULL);
	config_int(p, root, "shutdown_timeout", 0, "seconds",
		   &cfg->shutdown_timeout, NULL);
	config_int(p, root, "max_connections", 1, "connections",
		   &cfg->max_connections, NULL);
	config_tls(p, root, "tls_min", &cfg->tls_min, &cfg->tls_min_line);
	config_tls(p, root, "tls_max", &cfg->tls_max, &cfg->tls_max_line);
	config_path(p, root, "ticket_key_file", &cfg->ticket_key_file, NULL);
	v = (int)cfg->log_level;
	config_enum(p, root, "log_level", config_log_levels, "log level", &v,
		    NULL);
	cfg->log_level = (enum config_log_level)v;
	config_addr_opt(p, root, "admin", &cfg->admin, NULL);
	v = (int)cfg->platform;
	config_enum(p, root, "platform", config_platforms, "platform", &v,
		    NULL);
	cfg->platform = (enum config_platform)v;

	if (cfg->tls_min > cfg->tls_max)
		config_report(p,
			      cfg->tls_min_line ? cfg->tls_min_line
						: cfg->tls_max_line,
			      "tls_min %s is above tls_max %s — expected "
			      "tls_min <= tls_max",
			      config_tls_name(cfg->tls_min),
			      config_tls_name(cfg->tls_max));
}

/* Defaults, in one place. */
static void config_defaults(struct config_parse *p, struct config *cfg)
{
	cfg->workers = 0;
	cfg->trust_file = strdup("/etc/ssl/certs/ca-certificates.crt");
	if (!cfg->trust_file)
		p->oom = true;
	cfg->warn_days = 30;
	cfg->handshake_timeout = 10;
	cfg->idle_timeout = 300;
	cfg->connect_timeout = 5;
	cfg->shutdown_timeout = 30;
	cfg->max_connections = 10000;
	cfg->tls_min = TLS1_2_VERSION;
	cfg->tls_max = TLS1_3_VERSION;
	cfg->log_level = CONFIG_LOG_INFO;
	cfg->platform = CONFIG_PLATFORM_OCS2007R2;
}

static void config_build(struct config_parse *p, cfg_t *root,
			 struct config *cfg)
{
	unsigned n;

	config_defaults(p, cfg);
	config_build_global(p, root, cfg);

	n = cfg_size(root, "certificate");
	if (n && !(cfg->certs = calloc(n, sizeof(*cfg->certs)))) {
		p->oom = true;
		return;
	}
	for (unsigned i = 0; i < n; i++, cfg->ncerts++)
		config_build_cert(p, cfg_getnsec(root, "certificate", i),
				  &cfg->certs[i]);

	n = cfg_size(root, "backend");
	if (n && !(cfg->backends = calloc(n, sizeof(*cfg->backends)))) {
		p->oom = true;
		return;
	}
	for (unsigned i = 0; i < n; i++, cfg->nbackends++)
		config_build_backend(p, cfg_getnsec(root, "backend", i),
				     &cfg->backends[i]);

	n = cfg_size(root, "service");
	if (n && !(cfg->services = calloc(n, sizeof(*cfg->services)))) {
		p->oom = true;
		return;
	}
	for (unsigned i = 0; i < n; i++, cfg->nservices++) {
		struct config_service *s = &cfg->services[i];

		config_build_service(p, cfg_getnsec(root, "service", i), s);
		if (config_service_tls_min(cfg, s) >
		    config_service_tls_max(cfg, s))
			config_report(
				p,
				s->tls_min_line	  ? s->tls_min_line
				: s->tls_max_line ? s->tls_max_line
						  : s->line,
				"service \"%s\": tls_min %s is above tls_max "
				"%s — expected tls_min <= tls_max",
				s->name ? s->name : "",
				config_tls_name(config_service_tls_min(cfg, s)),
				config_tls_name(
					config_service_tls_max(cfg, s)));
	}
	if (n == 0)
		config_report(p, 0,
			      "no service is defined — add at least one "
			      "service section (see conf/edge443.conf)");
}

/* ---- pre-scan ---------------------------------------------------------- */

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
static int config_prescan(struct config_parse *p, char *text, size_t len,
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

/* ---- load -------------------------------------------------------------- */

static char *config_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n;
	char *out;

	if (!slash)
		return strdup(".");
	while (slash > path && slash[-1] == '/')
		slash--;
	n = slash == path ? 1 : (size_t)(slash - path);
	out = malloc(n + 1);
	if (!out)
		return NULL;
	memcpy(out, path, n);
	out[n] = '\0';
	return out;
}

/* Parse LEN bytes of TEXT (need not be NUL-terminated). */
static struct config *config_parse_text(const char *text, size_t len,
					const char *name, const char *dir,
					enum config_status *status, char *err,
					size_t errlen)
{
	struct config_parse p = {0};
	struct config *cfg = NULL;
	cfg_t *root = NULL;
	char *clean = NULL;
	int unclosed = 0;
	FILE *fp = NULL;
	int ret = 0;

	p.name = name;
	p.dir = dir;
	p.err = err;
	p.errlen = errlen;
	if (err && errlen)
		err[0] = '\0';
	*status = CONFIG_ERR_SYNTAX;

	cfg = calloc(1, sizeof(*cfg));
	clean = malloc(len + 1);
	if (!cfg || !clean)
		goto oom;
	cfg->file = strdup(name);
	cfg->dir = strdup(dir);
	if (!cfg->file || !cfg->dir)
		goto oom;
	memcpy(clean, text, len);
	clean[len] = '\0';
	if (config_prescan(&p, clean, len, &unclosed) != 0)
		goto fail;

	root = cfg_init(config_root_opts, CFGF_NONE);
	if (!root)
		goto oom;
	config_current = &p;
	cfg_set_error_function(root, config_error_cb);
	root->filename = strdup(name);
	if (!root->filename)
		goto oom;
	if (len > 0) {
		fp = fmemopen(clean, len, "r");
		if (!fp)
			goto oom;
		ret = cfg_parse_fp(root, fp);
		fclose(fp);
	}
	if (p.oom)
		goto oom;
	if (ret != CFG_SUCCESS) {
		if (p.nerrors == 0)
			config_report(&p, 0,
				      "syntax error — check the file against "
				      "conf/edge443.conf");
		goto fail;
	}
	if (unclosed) {
		config_report(&p, unclosed,
			      "this \"{\" is never closed (end of file "
			      "reached) — add the missing \"}\"");
		goto fail;
	}
	if (p.nrecs)
		qsort(p.recs, p.nrecs, sizeof(*p.recs), config_rec_cmp);
	config_build(&p, root, cfg);
	if (p.oom)
		goto oom;
	if (p.nerrors)
		goto fail;

	cfg_free(root);
	config_current = NULL;
	free(p.recs);
	free(clean);
	*status = CONFIG_OK;
	return cfg;

oom:
	config_report(&p, 0, "out of memory while reading the configuration");
fail:
	if (root)
		cfg_free(root);
	config_current = NULL;
	free(p.recs);
	free(clean);
	config_free(cfg);
	return NULL;
}

struct config *config_load_string(const char *text, const char *name,
				  const char *dir, enum config_status *status,
				  char *err, size_t errlen)
{
	enum config_status dummy;

	if (!status)
		status = &dummy;
	return config_parse_text(text ? text : "", text ? strlen(text) : 0,
				 name ? name : "(string)", dir ? dir : ".",
				 status, err, errlen);
}

struct config *config_load(const char *path, enum config_status *status,
			   char *err, size_t errlen)
{
	struct config_parse p = {0};
	enum config_status dummy;
	struct config *cfg = NULL;
	struct stat st;
	char *buf = NULL, *dir = NULL;
	size_t len = 0, cap;
	int fd = -1;

	if (!status)
		status = &dummy;
	if (!path)
		path = CONFIG_DEFAULT_PATH;
	p.name = path;
	p.err = err;
	p.errlen = errlen;
	if (err && errlen)
		err[0] = '\0';
	*status = CONFIG_ERR_READ;

	/* O_NONBLOCK: a FIFO given by mistake must not hang the open */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		config_report(&p, 0, "cannot read: %s", strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		config_report(&p, 0, "cannot read: %s", strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		config_report(&p, 0,
			      "cannot read: is a directory — expected a "
			      "configuration file");
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		config_report(&p, 0,
			      "cannot read: not a regular file — expected a "
			      "configuration file");
		goto out;
	}
	if (st.st_size > CONFIG_MAX_FILE_SIZE) {
		config_report(&p, 0,
			      "cannot read: the file is %lld bytes — expected "
			      "a configuration file under %d MiB",
			      (long long)st.st_size,
			      CONFIG_MAX_FILE_SIZE / (1024 * 1024));
		goto out;
	}
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap);
	if (!buf) {
		config_report(&p, 0, "cannot read: out of memory");
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;

			if (cap > CONFIG_MAX_FILE_SIZE) {
				config_report(
					&p, 0,
					"cannot read: the file grows past %d "
					"MiB — expected a configuration file",
					CONFIG_MAX_FILE_SIZE / (1024 * 1024));
				goto out;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				config_report(&p, 0,
					      "cannot read: out of memory");
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			config_report(&p, 0, "cannot read: %s",
				      strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	dir = config_dirname(path);
	if (!dir) {
		config_report(&p, 0, "cannot read: out of memory");
		goto out;
	}
	cfg = config_parse_text(buf, len, path, dir, status, err, errlen);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(dir);
	return cfg;
}

/* ---- free and lookups -------------------------------------------------- */

static void config_free_strv(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static void config_free_addrs(struct config_addr *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++)
		free(a[i].text);
	free(a);
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; cfg->certs && i < cfg->ncerts; i++) {
		free(cfg->certs[i].name);
		free(cfg->certs[i].cert);
		free(cfg->certs[i].chain);
		free(cfg->certs[i].key);
	}
	free(cfg->certs);
	for (size_t i = 0; cfg->backends && i < cfg->nbackends; i++) {
		struct config_backend *b = &cfg->backends[i];

		free(b->name);
		config_free_addrs(b->servers, b->nservers);
		free(b->trust_file);
		free(b->verify_name);
	}
	free(cfg->backends);
	for (size_t i = 0; cfg->services && i < cfg->nservices; i++) {
		struct config_service *s = &cfg->services[i];

		free(s->name);
		free(s->fqdn);
		config_free_addrs(s->listen, s->nlisten);
		free(s->certificate);
		free(s->backend);
		config_free_strv(s->sip_domains, s->nsip_domains);
		config_free_strv(s->http.paths, s->http.npaths);
		free(s->http.redirect_http.text);
	}
	free(cfg->services);
	free(cfg->file);
	free(cfg->dir);
	free(cfg->user);
	free(cfg->trust_file);
	free(cfg->ticket_key_file);
	free(cfg->admin.text);
	free(cfg);
}

const struct config_cert *config_find_cert(const struct config *cfg,
					   const char *name)
{
	for (size_t i = 0; cfg && name && i < cfg->ncerts; i++)
		if (cfg->certs[i].name && strcmp(cfg->certs[i].name, name) == 0)
			return &cfg->certs[i];
	return NULL;
}

const struct config_backend *config_find_backend(const struct config *cfg,
						 const char *name)
{
	for (size_t i = 0; cfg && name && i < cfg->nbackends; i++)
		if (cfg->backends[i].name &&
		    strcmp(cfg->backends[i].name, name) == 0)
			return &cfg->backends[i];
	return NULL;
}

int config_service_tls_min(const struct config *cfg,
			   const struct config_service *svc)
{
	return svc && svc->tls_min ? svc->tls_min : cfg->tls_min;
}

int config_service_tls_max(const struct config *cfg,
			   const struct config_service *svc)
{
	return svc && svc->tls_max ? svc->tls_max : cfg->tls_max;
}
