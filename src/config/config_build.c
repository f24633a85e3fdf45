/* config_build.c — turn the parsed libconfuse tree into `struct config`.
 *
 * After config.c has parsed the text against its schema, this walks the tree
 * once: it reads every scalar option as the string written and converts it
 * here (numbers, booleans, enum names, addresses, paths resolved against the
 * config file's folder), so that all value errors are reported at once, each
 * as "FILE:LINE: what is wrong — what is expected", with the line recorded
 * by config.c's parse callbacks.  It also checks what one section needs
 * (a certificate has a cert, a service an fqdn, a listen address and a mode)
 * and fills in the defaults, in one place.  Together with config.c it is the
 * only code that knows libconfuse.  It does not judge references between
 * sections or anything about certificates: that is rules.c.
 */
#include "edge443/config/config.h"
#include "edge443/config/config_internal.h"

#include <confuse.h>
#include <errno.h>
#include <limits.h>
#include <openssl/prov_ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_ADDR_EXPECTED "expected IP:port with a port from 1 to 65535"

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

/* An integer option from MIN to MAX (INT_MAX: no upper bound).  *OUT holds
 * the option's default when this runs (config_defaults comes first), so that
 * a refusal says what to write and what leaving the option out gives. */
static void config_int(struct config_parse *p, cfg_t *sec, const char *name,
		       int min, int max, const char *unit, int *out, int *line)
{
	int l;
	const char *v = config_str(p, sec, name, &l);
	char range[160];
	char *end = NULL;
	long n;

	if (line)
		*line = l;
	if (!v)
		return;
	if (min == 1 && max == INT_MAX)
		snprintf(range, sizeof(range), "a positive number of %s", unit);
	else if (max == INT_MAX)
		snprintf(range, sizeof(range), "a number of %s >= %d", unit,
			 min);
	else
		snprintf(range, sizeof(range), "a number of %s from %d to %d",
			 unit, min, max);
	errno = 0;
	n = strtol(v, &end, 10);
	if (!*v || *end != '\0')
		config_report(p, l,
			      "%s = \"%s\": not a whole number — use %s; the "
			      "default is %d",
			      name, v, range, *out);
	else if (errno == ERANGE || n > INT_MAX)
		config_report(p, l,
			      "%s = %s: too large — use %s, at most %d; the "
			      "default is %d",
			      name, v, range, max, *out);
	else if (n < min || n > max)
		config_report(p, l,
			      "%s = %s: out of range — use %s; the default is "
			      "%d",
			      name, v, range, *out);
	else
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
			const struct config_value_name *table, const char *what,
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
	for (const struct config_value_name *t = table; t->name; t++) {
		if (strcmp(t->name, v) == 0) {
			*out = t->value;
			return;
		}
	}
	expected[0] = '\0';
	for (const struct config_value_name *t = table; t->name; t++) {
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
	*out = config_value_resolve(p->dir, v);
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
	config_enum(p, sec, name, config_value_tls_versions, "TLS version", out,
		    line);
}

/* ---- sections ---------------------------------------------------------- */

static bool config_check_name(struct config_parse *p, cfg_t *sec)
{
	if (config_value_section_name_ok(sec->title))
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
	config_bool(p, sec, "acme", &c->acme, &c->acme_line, NULL);
	if (c->acme && c->key_line == 0)
		config_report(p, c->acme_line,
			      "certificate \"%s\": acme = true needs a key "
			      "path, where edge443 order writes the new key — "
			      "add key = \"path/to/%s.key\"",
			      sec->title, sec->title);
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
	/* A backend's defaults (the global ones are in config_defaults). */
	b->verify = true;
	b->response_timeout = 60;
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
	if (name && !config_value_dns_name_ok(name) &&
	    !config_value_ip_ok(name))
		config_report(p, b->verify_name_line,
			      "verify_name \"%s\": not a DNS name — expected "
			      "the host name on the backend's certificate, "
			      "e.g. cwa01.corp.example",
			      name);
	else
		config_copy(p, name, &b->verify_name);
	config_bool(p, sec, "verify", &b->verify, &b->verify_line,
		    &b->verify_set);
	config_enum(p, sec, "proxy_protocol", config_value_proxy_names,
		    "proxy_protocol", &v, &b->proxy_protocol_line);
	b->proxy_protocol = (enum config_proxy_protocol)v;
	config_int(p, sec, "response_timeout", 1, INT_MAX, "seconds",
		   &b->response_timeout, &b->response_timeout_line);
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
	config_str_list(p, sec, "paths", config_value_path_prefix_ok,
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
	config_enum(p, sec, "host_header", config_value_host_names,
		    "host_header", &v, &h->host_header_line);
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
	config_enum(p, sec, "role", config_value_roles, "role", &role,
		    &s->role_line);
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
	else if (!config_value_dns_name_ok(fqdn))
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

	/* certificate = "a" or {"a", "b"}: the first is the service's
	 * certificate, the others are twins of other key types. */
	char **certs = NULL;
	size_t ncerts = 0;
	config_str_list(p, sec, "certificate", config_value_section_name_ok,
			"not a certificate section name", &certs, &ncerts,
			&s->certificate_line);
	if (ncerts > CONFIG_MAX_LISTENER_CERTS)
		config_report(p, s->certificate_line,
			      "certificate names %zu sections; one listener "
			      "serves at most %d — split the service, or drop "
			      "the certificates no client is offered",
			      ncerts, CONFIG_MAX_LISTENER_CERTS);
	if (ncerts > 0)
		s->certificate = certs[0];
	if (ncerts > 1) {
		s->extra_certificates =
			calloc(ncerts - 1, sizeof(*s->extra_certificates));
		if (!s->extra_certificates) {
			p->oom = true;
			for (size_t i = 1; i < ncerts; i++)
				free(certs[i]);
		} else {
			for (size_t i = 1; i < ncerts; i++)
				s->extra_certificates[i - 1] = certs[i];
			s->nextra_certificates = ncerts - 1;
		}
	}
	free(certs);
	config_enum(p, sec, "mode", config_value_modes, "mode", &mode,
		    &s->mode_line);
	s->mode = (enum config_mode)mode;
	if (s->mode_line == 0)
		config_report(p, s->line,
			      "service \"%s\" has no mode — expected mode = "
			      "terminate, reencrypt or passthrough",
			      sec->title);
	config_copy(p, config_str(p, sec, "backend", &s->backend_line),
		    &s->backend);
	config_str_list(
		p, sec, "sip_domains", config_value_dns_name_ok,
		"not a DNS domain — expected a SIP domain such as example.com",
		&s->sip_domains, &s->nsip_domains, &s->sip_domains_line);
	config_str_list(p, sec, "simple_urls", config_value_dns_name_ok,
			"not a host name — expected the host of a simple URL "
			"such as meet.example.com (no https://, no path)",
			&s->simple_urls, &s->nsimple_urls,
			&s->simple_urls_line);
	if (s->nsimple_urls > 0 && s->role_line > 0 &&
	    s->role != CONFIG_ROLE_WEB_SERVICES)
		config_report(p, s->simple_urls_line,
			      "service \"%s\": simple_urls belongs to role "
			      "web-services (the reverse proxy's external web "
			      "services) — move it there, or remove it",
			      sec->title);
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
	cfg->user_line = line;
	if (cfg->user && !*cfg->user)
		config_report(p, line,
			      "user = \"\": empty — expected a user name, or "
			      "leave user out to keep the current user");
	config_int(p, root, "workers", 0, INT_MAX,
		   "worker threads (0 = one per CPU)", &cfg->workers, NULL);
	v = (int)cfg->worker_mode;
	config_enum(p, root, "worker_mode", config_value_worker_modes,
		    "worker mode", &v, &cfg->worker_mode_line);
	cfg->worker_mode = (enum config_worker_mode)v;
	config_path(p, root, "trust_file", &cfg->trust_file,
		    &cfg->trust_file_line);
	config_int(p, root, "warn_days", 0, INT_MAX, "days", &cfg->warn_days,
		   &cfg->warn_days_line);
	/* A timeout of 0 would end every connection (or connect) at once:
	 * refused.  shutdown_timeout = 0 has a meaning: no draining. */
	config_int(p, root, "handshake_timeout", 1, INT_MAX, "seconds",
		   &cfg->handshake_timeout, NULL);
	config_int(p, root, "idle_timeout", 1, INT_MAX, "seconds",
		   &cfg->idle_timeout, NULL);
	config_int(p, root, "connect_timeout", 1, INT_MAX, "seconds",
		   &cfg->connect_timeout, NULL);
	config_int(p, root, "shutdown_timeout", 0, INT_MAX,
		   "seconds (0 = close open connections at once)",
		   &cfg->shutdown_timeout, NULL);
	config_int(p, root, "max_connections", 1, INT_MAX, "connections",
		   &cfg->max_connections, NULL);
	config_int(p, root, "backlog", 1, 65535, "pending connections",
		   &cfg->backlog, NULL);
	config_tls(p, root, "tls_min", &cfg->tls_min, &cfg->tls_min_line);
	config_tls(p, root, "tls_max", &cfg->tls_max, &cfg->tls_max_line);
	config_path(p, root, "ticket_key_file", &cfg->ticket_key_file,
		    &cfg->ticket_key_file_line);
	config_path(p, root, "log_file", &cfg->log_file, &cfg->log_file_line);
	config_bool(p, root, "syslog", &cfg->log_syslog, NULL, NULL);
	config_bool(p, root, "freebind", &cfg->freebind, NULL, NULL);
	v = (int)cfg->log_level;
	config_enum(p, root, "log_level", config_value_log_levels, "log level",
		    &v, NULL);
	cfg->log_level = (enum log_level)v;
	config_addr_opt(p, root, "admin", &cfg->admin, NULL);
	v = (int)cfg->platform;
	config_enum(p, root, "platform", config_value_platforms, "platform", &v,
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

static bool config_acme_contact_ok(const char *s)
{
	return strncmp(s, "mailto:", 7) == 0 && s[7] != '\0' &&
	       strchr(s + 7, '@') != NULL && !strpbrk(s, " \t,");
}

/* A base64url string (RFC 4648 section 5, no padding), as CAs hand out
 * EAB keys. */
static bool config_acme_b64url_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return false;
	return true;
}

/* The acme { } section: at most one, a directory URL, the rest defaulted. */
static void config_build_acme(struct config_parse *p, cfg_t *root,
			      struct config_acme *a)
{
	unsigned n = cfg_size(root, "acme");
	cfg_t *sec;
	const char *v;
	int ch = CONFIG_ACME_TLS_ALPN_01;

	if (n == 0)
		return;
	sec = cfg_getnsec(root, "acme", 0);
	a->present = true;
	a->line = config_open_line(sec);
	for (unsigned i = 1; i < n; i++)
		config_report(p, config_open_line(cfg_getnsec(root, "acme", i)),
			      "a second acme block (the first is on line %d) "
			      "— merge them into one",
			      a->line);
	v = config_str(p, sec, "directory", &a->directory_line);
	if (!v)
		config_report(p, a->line,
			      "the acme block has no directory — expected "
			      "directory = \"https://acme-v02.api.letsencrypt."
			      "org/directory\" (the CA's directory URL)");
	else if (strncmp(v, "https://", 8) != 0 || !v[8] ||
		 strpbrk(v, " \t\"<>"))
		config_report(p, a->directory_line,
			      "directory \"%s\": not an https URL — expected "
			      "the CA's directory URL, e.g. \"https://"
			      "acme-v02.api.letsencrypt.org/directory\"",
			      v);
	else
		config_copy(p, v, &a->directory);
	config_str_list(p, sec, "contact", config_acme_contact_ok,
			"not a mailto: address — expected \"mailto:"
			"pki@example.com\"",
			&a->contact, &a->ncontact, &a->contact_line);
	config_path(p, sec, "state_dir", &a->state_dir, &a->state_dir_line);
	if (!a->state_dir)
		config_copy(p, "/var/lib/edge443/acme", &a->state_dir);
	config_path(p, sec, "account_key", &a->account_key,
		    &a->account_key_line);
	if (!a->account_key && a->state_dir) {
		a->account_key =
			config_value_resolve(a->state_dir, "account.key");
		if (!a->account_key)
			p->oom = true;
	}
	v = config_str(p, sec, "eab_kid", &a->eab_kid_line);
	if (v && !*v)
		config_report(p, a->eab_kid_line,
			      "eab_kid = \"\": empty — expected the key id "
			      "your CA gave for External Account Binding");
	else
		config_copy(p, v, &a->eab_kid);
	v = config_str(p, sec, "eab_hmac_key", &a->eab_hmac_key_line);
	/* never quote the secret in a message */
	if (v && !config_acme_b64url_ok(v))
		config_report(
			p, a->eab_hmac_key_line,
			"eab_hmac_key: not base64url — expected the HMAC "
			"key exactly as your CA gave it (letters, digits, "
			"\"-\" and \"_\", no padding)");
	else
		config_copy(p, v, &a->eab_hmac_key);
	if ((a->eab_kid_line != 0) != (a->eab_hmac_key_line != 0))
		config_report(p,
			      a->eab_kid_line ? a->eab_kid_line
					      : a->eab_hmac_key_line,
			      "External Account Binding needs both eab_kid and "
			      "eab_hmac_key — add the missing one, or remove "
			      "both");
	config_path(p, sec, "trust_file", &a->trust_file, &a->trust_file_line);
	config_enum(p, sec, "challenge", config_value_acme_challenges,
		    "challenge", &ch, &a->challenge_line);
	a->challenge = (enum config_acme_challenge)ch;
	config_int(p, sec, "renew_before", 0, 3650,
		   "days (0 = a third of the lifetime)", &a->renew_before,
		   &a->renew_before_line);
}

/* Defaults, in one place. */
static void config_defaults(struct config_parse *p, struct config *cfg)
{
	cfg->workers = 0;
	cfg->worker_mode = CONFIG_WORKERS_THREADS;
	cfg->trust_file = strdup("/etc/ssl/certs/ca-certificates.crt");
	if (!cfg->trust_file)
		p->oom = true;
	cfg->warn_days = 30;
	cfg->handshake_timeout = 10;
	cfg->idle_timeout = 300;
	cfg->connect_timeout = 5;
	cfg->shutdown_timeout = 30;
	cfg->max_connections = 10000;
	cfg->backlog = 1024;
	cfg->tls_min = TLS1_2_VERSION;
	cfg->tls_max = TLS1_3_VERSION;
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->platform = CONFIG_PLATFORM_OCS2007R2;
}

void config_build(struct config_parse *p, cfg_t *root, struct config *cfg)
{
	unsigned n;

	if (p->nrecs)
		qsort(p->recs, p->nrecs, sizeof(*p->recs), config_rec_cmp);
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

	config_build_acme(p, root, &cfg->acme);
	for (size_t i = 0; i < cfg->ncerts; i++)
		if (cfg->certs[i].acme && !cfg->acme.present)
			config_report(p, cfg->certs[i].acme_line,
				      "certificate \"%s\": acme = true, but "
				      "there is no acme { } section — add one "
				      "with the CA's directory URL, or remove "
				      "acme = true",
				      cfg->certs[i].name ? cfg->certs[i].name
							 : "");
	/* The renewal of `run` answers its challenges through a table in the
	 * main process, which worker processes cannot read. */
	if (cfg->worker_mode == CONFIG_WORKERS_PROCESSES && cfg->acme.present)
		config_report(p, cfg->worker_mode_line,
			      "worker_mode = processes cannot be used with an "
			      "acme { } section (line %d): worker processes "
			      "cannot answer the challenges of the renewal in "
			      "run — use worker_mode = threads, or order "
			      "certificates with `edge443 order`",
			      cfg->acme.line);
}
