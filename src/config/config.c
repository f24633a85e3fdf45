/* config.c — read the edge443 configuration file into plain structs.
 *
 * This file, config_build.c and config_diag.c (a section's name in a
 * message) are the only code that knows libconfuse.  It
 * reads the file itself (so that a missing file, a directory or a binary file
 * get a clear message), runs the pre-scan of config_scan.c over the text, lets
 * libconfuse parse it against the schema below, and then has config_build.c
 * walk the parsed tree once to validate every value and build `struct config`
 * (with the value helpers of config_value.c).  Messages are formatted by
 * config_diag.c, lookups over the result are config_model.c's.  It does not
 * open certificates, resolve names or judge the certificate plan: references
 * between sections (a service naming a certificate that does not exist) are
 * rules.c's business.
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
 * Values.  Every scalar option is read as a string and converted in
 * config_build.c, after parsing, so that all value errors are reported at
 * once, each as "FILE:LINE: what is wrong — what is expected".
 *
 * Not reentrant: libconfuse's lexer is global state, so config_load must not
 * run in two threads at once; the parse callbacks reach the current parse
 * through config_current for the same reason.
 */
#include "edge443/config/config.h"
#include "edge443/config/config_internal.h"

#include <confuse.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Larger than any sane configuration; keeps a wrong -c (a disk image, a log)
 * from being read into memory. */
#define CONFIG_MAX_FILE_SIZE (16 * 1024 * 1024)

static struct config_parse *config_current;

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
			"{ ... }, service NAME { ... }, http { ... } or acme "
			"{ ... }",
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
	CONFIG_OPT_OPEN_LINE,  CONFIG_OPT_STR("cert"), CONFIG_OPT_STR("chain"),
	CONFIG_OPT_STR("key"), CONFIG_OPT_STR("acme"), CFG_END(),
};

static cfg_opt_t config_acme_opts[] = {
	CONFIG_OPT_OPEN_LINE,
	CONFIG_OPT_STR("directory"),
	CONFIG_OPT_LIST("contact"),
	CONFIG_OPT_STR("account_key"),
	CONFIG_OPT_STR("state_dir"),
	CONFIG_OPT_STR("eab_kid"),
	CONFIG_OPT_STR("eab_hmac_key"),
	CONFIG_OPT_STR("trust_file"),
	CONFIG_OPT_STR("challenge"),
	CONFIG_OPT_STR("renew_before"),
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
	CONFIG_OPT_STR("response_timeout"),
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
	CONFIG_OPT_LIST("certificate"),
	CONFIG_OPT_STR("mode"),
	CONFIG_OPT_STR("backend"),
	CONFIG_OPT_LIST("sip_domains"),
	CONFIG_OPT_LIST("simple_urls"),
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
	CONFIG_OPT_STR("worker_mode"),
	CONFIG_OPT_STR("trust_file"),
	CONFIG_OPT_STR("warn_days"),
	CONFIG_OPT_STR("handshake_timeout"),
	CONFIG_OPT_STR("idle_timeout"),
	CONFIG_OPT_STR("connect_timeout"),
	CONFIG_OPT_STR("shutdown_timeout"),
	CONFIG_OPT_STR("max_connections"),
	CONFIG_OPT_STR("backlog"),
	CONFIG_OPT_STR("freebind"),
	CONFIG_OPT_STR("tls_min"),
	CONFIG_OPT_STR("tls_max"),
	CONFIG_OPT_STR("ticket_key_file"),
	CONFIG_OPT_STR("log_level"),
	CONFIG_OPT_STR("log_file"),
	CONFIG_OPT_STR("syslog"),
	CONFIG_OPT_STR("admin"),
	CONFIG_OPT_STR("platform"),
	CFG_SEC("certificate", config_cert_opts, CONFIG_SECTION_FLAGS),
	CFG_SEC("backend", config_backend_opts, CONFIG_SECTION_FLAGS),
	CFG_SEC("service", config_service_opts, CONFIG_SECTION_FLAGS),
	/* MULTI without a title, like http: a second acme block is refused */
	CFG_SEC("acme", config_acme_opts, CFGF_MULTI),
	CFG_END(),
};
/* ---- load -------------------------------------------------------------- */

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
	if (config_scan_text(&p, clean, len, &unclosed) != 0)
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
			config_report(
				&p, root->line,
				"syntax error — every line is `option = "
				"value` or `section NAME { ... }` (a "
				"value without an option name, or a stray "
				"token, is not); check the file against "
				"conf/edge443.conf");
		goto fail;
	}
	if (unclosed) {
		config_report(&p, unclosed,
			      "this \"{\" is never closed (end of file "
			      "reached) — add the missing \"}\"");
		goto fail;
	}
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

/* Open PATH for reading, refusing what is no configuration file (a folder,
 * a FIFO, a disk image).  The fd, or -1 with the reason reported. */
static int config_open_file(struct config_parse *p, const char *path,
			    size_t *size)
{
	struct stat st;
	/* O_NONBLOCK: a FIFO given by mistake must not hang the open */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) != 0) {
		config_report(p, 0, "cannot read: %s", strerror(errno));
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		config_report(p, 0,
			      "cannot read: is a directory — expected a "
			      "configuration file");
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		config_report(p, 0,
			      "cannot read: not a regular file — expected a "
			      "configuration file");
		goto fail;
	}
	if (st.st_size > CONFIG_MAX_FILE_SIZE) {
		config_report(p, 0,
			      "cannot read: the file is %lld bytes — expected "
			      "a configuration file under %d MiB",
			      (long long)st.st_size,
			      CONFIG_MAX_FILE_SIZE / (1024 * 1024));
		goto fail;
	}
	*size = (size_t)st.st_size;
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Read FD whole (it may grow while read, up to CONFIG_MAX_FILE_SIZE).  A
 * new buffer with *LEN bytes, or NULL with the reason reported. */
static char *config_read_file(struct config_parse *p, int fd, size_t size,
			      size_t *len)
{
	size_t cap = size + 1;
	char *buf = malloc(cap);

	*len = 0;
	if (!buf) {
		config_report(p, 0, "cannot read: out of memory");
		return NULL;
	}
	for (;;) {
		ssize_t n;

		if (*len == cap) {
			char *nb;

			if (cap > CONFIG_MAX_FILE_SIZE) {
				config_report(
					p, 0,
					"cannot read: the file grows past %d "
					"MiB — expected a configuration file",
					CONFIG_MAX_FILE_SIZE / (1024 * 1024));
				goto fail;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				config_report(p, 0,
					      "cannot read: out of memory");
				goto fail;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			config_report(p, 0, "cannot read: %s", strerror(errno));
			goto fail;
		}
		if (n == 0)
			return buf;
		*len += (size_t)n;
	}
fail:
	free(buf);
	return NULL;
}

struct config *config_load(const char *path, enum config_status *status,
			   char *err, size_t errlen)
{
	struct config_parse p = {0};
	enum config_status dummy;
	struct config *cfg = NULL;
	char *buf = NULL, *dir = NULL;
	size_t size = 0, len = 0;
	int fd;

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
	fd = config_open_file(&p, path, &size);
	if (fd < 0)
		return NULL;
	buf = config_read_file(&p, fd, size, &len);
	close(fd);
	if (!buf)
		return NULL;
	dir = config_value_dirname(path);
	if (!dir)
		config_report(&p, 0, "cannot read: out of memory");
	else
		cfg = config_parse_text(buf, len, path, dir, status, err,
					errlen);
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
		config_free_strv(s->simple_urls, s->nsimple_urls);
		config_free_strv(s->extra_certificates, s->nextra_certificates);
		config_free_strv(s->http.paths, s->http.npaths);
		free(s->http.redirect_http.text);
	}
	free(cfg->services);
	free(cfg->file);
	free(cfg->dir);
	free(cfg->user);
	free(cfg->trust_file);
	free(cfg->ticket_key_file);
	free(cfg->log_file);
	free(cfg->admin.text);
	free(cfg->acme.directory);
	config_free_strv(cfg->acme.contact, cfg->acme.ncontact);
	free(cfg->acme.account_key);
	free(cfg->acme.state_dir);
	free(cfg->acme.eab_kid);
	free(cfg->acme.eab_hmac_key);
	free(cfg->acme.trust_file);
	free(cfg);
}
