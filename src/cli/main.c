/* main.c — the edge443 command line: argv, the start-up order, exit codes.
 *
 * Each sub-command parses its own options, calls the modules that do the work
 * (config.c, rules.c, report.c, ...) and maps the outcome to the exit codes:
 * 0 success (warnings allowed), 1 the plan or probe found an error, 2 usage or
 * config syntax error, 3 runtime failure (cannot bind, cannot read a file).
 * Nothing here knows a rule; it only sequences and reports.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/opensslv.h>

#include "edge443/base/bufcache.h"
#include "edge443/cert/ticket_file.h"
#include "edge443/cli/acme_order.h"
#include "edge443/cli/renew.h"
#include "edge443/config/config.h"
#include "edge443/order/csr.h"
#include "edge443/order/order.h"
#include "edge443/rules/rules.h"
#include "edge443/cli/probe.h"
#include "edge443/cli/report.h"
#include "edge443/rules/validate.h"
#include "edge443/serve/server.h"

#define MAIN_EXIT_OK 0
#define MAIN_EXIT_FINDINGS 1
#define MAIN_EXIT_USAGE 2
#define MAIN_EXIT_RUNTIME 3

/* The exit statuses (see `edge443 --help`), chosen here from the modules'
 * own results. */
static int main_csr_exit(enum csr_status st)
{
	switch (st) {
	case CSR_OK:
		return MAIN_EXIT_OK;
	case CSR_ERR_VERIFY:
		return MAIN_EXIT_FINDINGS;
	case CSR_ERR_INPUT:
		return MAIN_EXIT_USAGE;
	case CSR_ERR_IO:
		break;
	}
	return MAIN_EXIT_RUNTIME;
}

static int main_server_exit(enum server_result r)
{
	switch (r) {
	case SERVER_OK:
		return MAIN_EXIT_OK;
	case SERVER_PLAN_ERRORS:
		return MAIN_EXIT_FINDINGS;
	case SERVER_CONFIG_ERROR:
		return MAIN_EXIT_USAGE;
	case SERVER_RUNTIME_ERROR:
		break;
	}
	return MAIN_EXIT_RUNTIME;
}

#define MAIN_ERRLEN 65536

/* The global usage and each command's own help are made from one table
 * (main_helps, below the commands), so that they cannot disagree. */
static void main_usage(FILE *out);
static void main_help(const char *cmd, FILE *out);
static void main_usage_error(const char *cmd);

/* Parse "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS[Z]" as UTC.  0 / -1. */
static int main_parse_date(const char *s, time_t *out)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
	}
	if (!end || (*end != '\0' && strcmp(end, "Z") != 0))
		return -1;
	*out = timegm(&tm);
	return *out == (time_t)-1 ? -1 : 0;
}

/* Print config_load's messages, one finding-shaped line each. */
static void main_print_config_errors(const char *err)
{
	const char *p = err;

	while (*p) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		if (len > 0)
			fprintf(stderr, "error config %.*s\n", len, p);
		p += len + (nl ? 1 : 0);
	}
}

/* Load the configuration or say why not; *exit_code is set on failure. */
static struct config *main_load_config(const char *path, int *exit_code)
{
	enum config_status st = CONFIG_OK;
	char *err = calloc(1, MAIN_ERRLEN);
	struct config *cfg;

	if (!err) {
		*exit_code = MAIN_EXIT_RUNTIME;
		return NULL;
	}
	cfg = config_load(path, &st, err, MAIN_ERRLEN);
	if (!cfg) {
		main_print_config_errors(err[0] ? err
						: "cannot load the "
						  "configuration\n");
		*exit_code = st == CONFIG_ERR_READ ? MAIN_EXIT_RUNTIME
						   : MAIN_EXIT_USAGE;
	}
	free(err);
	return cfg;
}

enum main_format { MAIN_FORMAT_TEXT, MAIN_FORMAT_JSON };

static int main_parse_format(const char *s, enum main_format *fmt)
{
	if (strcmp(s, "text") == 0)
		*fmt = MAIN_FORMAT_TEXT;
	else if (strcmp(s, "json") == 0)
		*fmt = MAIN_FORMAT_JSON;
	else
		return -1;
	return 0;
}

/* What every command's option loop shares: -c, --format, -h and the
 * answer to an unknown option.  Returns MAIN_OPT_MINE when C is one of the
 * command's own options, MAIN_OPT_NEXT when it was handled here, or the exit
 * code to return at once. */
#define MAIN_OPT_MINE (-1)
#define MAIN_OPT_NEXT (-2)

struct main_args {
	const char *cmd;	 /* "check", ... (for messages) */
	const char *config;	 /* -c FILE */
	enum main_format format; /* --format */
};

static int main_shared_opt(struct main_args *a, int c)
{
	switch (c) {
	case 'c':
		a->config = optarg;
		return MAIN_OPT_NEXT;
	case 'f':
		if (main_parse_format(optarg, &a->format) < 0) {
			fprintf(stderr,
				"edge443 %s: --format %s: expected text or "
				"json\n",
				a->cmd, optarg);
			return MAIN_EXIT_USAGE;
		}
		return MAIN_OPT_NEXT;
	case 'h':
		main_help(a->cmd, stdout);
		return MAIN_EXIT_OK;
	case '?':
	case ':':
		main_usage_error(a->cmd);
		return MAIN_EXIT_USAGE;
	default:
		return MAIN_OPT_MINE;
	}
}

/* Arguments left after the options are a usage error. */
static int main_no_operands(const struct main_args *a, int argc, char **argv)
{
	if (optind >= argc)
		return MAIN_OPT_NEXT;
	fprintf(stderr, "edge443 %s: unexpected argument \"%s\"\n", a->cmd,
		argv[optind]);
	main_usage_error(a->cmd);
	return MAIN_EXIT_USAGE;
}

/* edge443 check: load, validate, report.  Returns the exit code. */
static int main_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"format", required_argument, NULL, 'f'},
		{"at", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct main_args a = {"check", CONFIG_DEFAULT_PATH, MAIN_FORMAT_TEXT};
	time_t now = time(NULL);
	struct validated *v = NULL;
	int c, code = MAIN_EXIT_RUNTIME;

	optind = 0;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		int r = main_shared_opt(&a, c);
		if (r == MAIN_OPT_NEXT)
			continue;
		if (r != MAIN_OPT_MINE)
			return r;
		switch (c) {
		case 'a':
			if (main_parse_date(optarg, &now) < 0) {
				fprintf(stderr,
					"edge443 check: --at %s: expected an "
					"ISO date such as 2027-01-31 or "
					"2027-01-31T12:00:00Z\n",
					optarg);
				return MAIN_EXIT_USAGE;
			}
			break;
		}
	}
	if ((c = main_no_operands(&a, argc, argv)) != MAIN_OPT_NEXT)
		return c;

	/* The same pipeline as run and reload (validate.h). */
	v = validate(a.config, now);
	if (!v || v->result == VALIDATE_NOMEM) {
		fprintf(stderr, "edge443 check: out of memory\n");
		code = MAIN_EXIT_RUNTIME;
		goto done;
	}
	if (!v->cfg) {
		main_print_config_errors(v->config_errors);
		code = v->result == VALIDATE_UNREADABLE ? MAIN_EXIT_RUNTIME
							: MAIN_EXIT_USAGE;
		goto done;
	}
	if (a.format == MAIN_FORMAT_JSON) {
		if (report_check_json(stdout, v->cfg, v->certs, &v->findings) <
		    0) {
			fprintf(stderr, "edge443 check: cannot write JSON\n");
			code = MAIN_EXIT_RUNTIME;
			goto done;
		}
	} else {
		report_check_text(stdout, v->cfg, v->certs, &v->findings);
	}
	code = v->findings.errors ? MAIN_EXIT_FINDINGS : MAIN_EXIT_OK;
done:
	validate_free(v);
	return code;
}

/* edge443 plan: compute the smallest certificate set; with --out write a key
 * and a request per certificate, with --lab issue them from a throw-away CA.
 * Returns the exit code. */
static int main_plan(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"format", required_argument, NULL, 'f'},
		{"out", required_argument, NULL, 'o'},
		{"lab", required_argument, NULL, 'l'},
		{"key", required_argument, NULL, 'k'},
		{"force", no_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct main_args a = {"plan", CONFIG_DEFAULT_PATH, MAIN_FORMAT_TEXT};
	const char *out_dir = NULL, *lab_dir = NULL;
	enum csr_key_kind kind = CSR_KEY_RSA2048;
	enum csr_status st;
	bool force = false;
	struct config *cfg = NULL;
	struct order_plan *plan = NULL;
	char err[4096];
	int c, code = MAIN_EXIT_RUNTIME;

	optind = 0;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		int r = main_shared_opt(&a, c);
		if (r == MAIN_OPT_NEXT)
			continue;
		if (r != MAIN_OPT_MINE)
			return r;
		switch (c) {
		case 'o':
			out_dir = optarg;
			break;
		case 'l':
			lab_dir = optarg;
			break;
		case 'k':
			if (csr_key_kind_parse(optarg, &kind) < 0) {
				fprintf(stderr,
					"edge443 plan: --key %s: expected "
					"rsa:2048, rsa:3072 or ec:p256\n",
					optarg);
				return MAIN_EXIT_USAGE;
			}
			break;
		case 'F':
			force = true;
			break;
		}
	}
	if ((c = main_no_operands(&a, argc, argv)) != MAIN_OPT_NEXT)
		return c;
	if ((out_dir && !*out_dir) || (lab_dir && !*lab_dir)) {
		fprintf(stderr,
			"edge443 plan: --out and --lab need a folder\n");
		return MAIN_EXIT_USAGE;
	}

	cfg = main_load_config(a.config, &code);
	if (!cfg)
		return code;
	plan = order_plan_new(cfg, err, sizeof(err));
	if (!plan) {
		fprintf(stderr, "error plan %s\n", err);
		code = MAIN_EXIT_FINDINGS;
		goto done;
	}
	if (out_dir || lab_dir) {
		st = csr_write_plan(cfg, plan, out_dir, lab_dir, kind, force, 0,
				    err, sizeof(err));
		if (st != CSR_OK) {
			fprintf(stderr, "edge443 plan: %s\n", err);
			code = main_csr_exit(st);
			goto done;
		}
	}
	if (a.format == MAIN_FORMAT_JSON) {
		if (report_plan_json(stdout, cfg, plan, out_dir, lab_dir) < 0) {
			fprintf(stderr, "edge443 plan: cannot write JSON\n");
			code = MAIN_EXIT_RUNTIME;
			goto done;
		}
	} else {
		report_plan_text(stdout, cfg, plan);
		if (out_dir || lab_dir) {
			fputc('\n', stdout);
			report_plan_files(stdout, plan, out_dir, lab_dir);
		}
	}
	code = MAIN_EXIT_OK;
done:
	order_plan_free(plan);
	config_free(cfg);
	return code;
}

/* edge443 csr FILE [--out FILE]: read a request in any armour, verify it,
 * describe it and write it correctly armoured.  The description goes to
 * stdout when the request goes to --out, else to stderr, so that stdout
 * carries exactly the PEM.  Returns the exit code. */
static int main_csr(int argc, char **argv)
{
	static const struct option opts[] = {
		{"out", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *out_path = NULL, *in_path;
	enum csr_status st = CSR_ERR_IO;
	struct csr_info *info = NULL;
	char *pem = NULL;
	char err[4096];
	int c, code;

	optind = 0;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out_path = optarg;
			break;
		case 'h':
			main_help("csr", stdout);
			return MAIN_EXIT_OK;
		default:
			main_usage_error("csr");
			return MAIN_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr,
			"edge443 csr: expected one request file, e.g. "
			"\"edge443 csr request.txt --out request.csr\"\n");
		return MAIN_EXIT_USAGE;
	}
	in_path = argv[optind];
	info = csr_read(in_path, &st, err, sizeof(err));
	if (!info) {
		fprintf(stderr, "edge443 csr: %s\n", err);
		return main_csr_exit(st);
	}
	report_csr_text(out_path ? stdout : stderr, in_path, info);
	if (st != CSR_OK) {
		fprintf(stderr, "edge443 csr: %s\n", err);
		code = main_csr_exit(st);
		goto done;
	}
	pem = csr_req_pem(info->req);
	if (!pem) {
		fprintf(stderr, "edge443 csr: %s: cannot encode the request\n",
			in_path);
		code = MAIN_EXIT_RUNTIME;
		goto done;
	}
	if (out_path) {
		if (csr_write_text(out_path, pem, 0644, err, sizeof(err)) < 0) {
			fprintf(stderr, "edge443 csr: %s\n", err);
			code = MAIN_EXIT_RUNTIME;
			goto done;
		}
		printf("wrote %s (PEM, -----BEGIN CERTIFICATE REQUEST-----)\n",
		       out_path);
	} else if (fputs(pem, stdout) == EOF || fflush(stdout) != 0) {
		fprintf(stderr, "edge443 csr: cannot write the request\n");
		code = MAIN_EXIT_RUNTIME;
		goto done;
	}
	code = MAIN_EXIT_OK;
done:
	free(pem);
	csr_info_free(info);
	return code;
}

/* edge443 run: validate, bind, serve until signalled. */
static int main_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"daemon", no_argument, NULL, 'd'},
		{"pidfile", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct main_args a = {"run", CONFIG_DEFAULT_PATH, MAIN_FORMAT_TEXT};
	struct server_options so = {CONFIG_DEFAULT_PATH, false, NULL, NULL};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		int r = main_shared_opt(&a, c);
		if (r == MAIN_OPT_NEXT)
			continue;
		if (r != MAIN_OPT_MINE)
			return r;
		switch (c) {
		case 'd':
			so.daemon = true;
			break;
		case 'p':
			so.pidfile = optarg;
			break;
		}
	}
	if ((c = main_no_operands(&a, argc, argv)) != MAIN_OPT_NEXT)
		return c;
	so.config_path = a.config;
	so.companion = renew_companion();
	return main_server_exit(server_run(&so));
}

/* edge443 probe: connect to the listeners (or --target) as a client and
 * judge the chains they serve.  Returns the exit code. */
static int main_probe(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"service", required_argument, NULL, 's'},
		{"target", required_argument, NULL, 't'},
		/* --pool takes no argument: without a list it means the
		 * servers of the pool backends, so a later list of nodes
		 * (operands after it) cannot change what it means today. */
		{"pool", no_argument, NULL, 'p'},
		{"format", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct main_args a = {"probe", CONFIG_DEFAULT_PATH, MAIN_FORMAT_TEXT};
	const char *target_text = NULL;
	struct probe_options po = {.service = NULL, .target = NULL};
	struct config_addr target = {0};
	struct config_addr *nodes = NULL;
	struct config *cfg = NULL;
	struct rules_certs *pc = NULL;
	struct probe_report rep = {0};
	char err[256];
	bool found = false;
	int c, code = MAIN_EXIT_RUNTIME;

	optind = 0;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		int r = main_shared_opt(&a, c);
		if (r == MAIN_OPT_NEXT)
			continue;
		if (r != MAIN_OPT_MINE)
			return r;
		switch (c) {
		case 's':
			po.service = optarg;
			break;
		case 't':
			target_text = optarg;
			break;
		case 'p':
			po.pool = true;
			break;
		}
	}
	/* --pool NODE...: the operands are the nodes' admin endpoints. */
	if (po.pool && optind < argc) {
		po.nnodes = (size_t)(argc - optind);
		nodes = calloc(po.nnodes, sizeof(*nodes));
		if (!nodes)
			return MAIN_EXIT_RUNTIME;
		for (size_t i = 0; i < po.nnodes; i++) {
			if (config_addr_parse(argv[optind + (int)i], &nodes[i],
					      err, sizeof(err)) < 0) {
				fprintf(stderr,
					"edge443 probe: --pool %s: %s — give "
					"each node's admin endpoint as "
					"IP:PORT, e.g. 192.0.2.1:9443\n",
					argv[optind + (int)i], err);
				code = MAIN_EXIT_USAGE;
				goto done;
			}
		}
		po.nodes = nodes;
		optind = argc;
	}
	if ((c = main_no_operands(&a, argc, argv)) != MAIN_OPT_NEXT)
		return c;
	if (target_text && po.pool) {
		fprintf(stderr,
			"edge443 probe: --target and --pool: --target probes "
			"one address in place of a listener, --pool every "
			"server of the pool backends — give one of them\n");
		main_usage_error(a.cmd);
		code = MAIN_EXIT_USAGE;
		goto done;
	}
	if (target_text) {
		if (config_addr_parse(target_text, &target, err, sizeof(err)) <
		    0) {
			fprintf(stderr,
				"edge443 probe: --target %s: %s — give "
				"IP:PORT, e.g. 192.0.2.10:443 or "
				"[2001:db8::10]:443 (names are not resolved)\n",
				target_text, err);
			free(target.text);
			return MAIN_EXIT_USAGE;
		}
		po.target = &target;
	}

	cfg = main_load_config(a.config, &code);
	if (!cfg)
		goto done;
	/* One address stands for one service: checking every service's plan
	 * against it would report the others' certificates as wrong. */
	if (po.target && !po.service && cfg->nservices == 1)
		po.service = cfg->services[0].name;
	if (po.target && !po.service) {
		fprintf(stderr,
			"edge443 probe: --target %s: which service answers "
			"there? add --service NAME; %s defines:",
			target_text, cfg->file);
		for (size_t i = 0; i < cfg->nservices; i++)
			fprintf(stderr, " %s", cfg->services[i].name);
		fputc('\n', stderr);
		code = MAIN_EXIT_USAGE;
		goto done;
	}
	for (size_t i = 0; po.service && i < cfg->nservices; i++)
		found = found || strcmp(cfg->services[i].name, po.service) == 0;
	if (po.service && !found) {
		fprintf(stderr,
			"edge443 probe: --service %s: %s defines no "
			"such service; it defines:",
			po.service, cfg->file);
		for (size_t i = 0; i < cfg->nservices; i++)
			fprintf(stderr, " %s", cfg->services[i].name);
		fputc('\n', stderr);
		code = MAIN_EXIT_USAGE;
		goto done;
	}
	/* A peer that closes mid-handshake must not kill the probe. */
	signal(SIGPIPE, SIG_IGN);
	pc = rules_load_certs(cfg);
	if (!pc || probe_run(cfg, pc, &po, &rep) < 0) {
		fprintf(stderr, "edge443 probe: out of memory\n");
		code = MAIN_EXIT_RUNTIME;
		goto done;
	}
	if (a.format == MAIN_FORMAT_JSON) {
		if (report_probe_json(stdout, cfg, &rep) < 0) {
			fprintf(stderr, "edge443 probe: cannot write JSON\n");
			code = MAIN_EXIT_RUNTIME;
			goto done;
		}
	} else {
		report_probe_text(stdout, cfg, &rep);
	}
	code = rep.findings.errors ? MAIN_EXIT_FINDINGS : MAIN_EXIT_OK;
done:
	probe_report_free(&rep);
	rules_certs_free(pc);
	config_free(cfg);
	free(target.text);
	for (size_t i = 0; nodes && i < po.nnodes; i++)
		free(nodes[i].text);
	free(nodes);
	return code;
}

/* edge443 version (also -V, --version): the version and the OpenSSL it
 * runs with. */
/* edge443 tickets rotate FILE [--keep N]: one fresh ticket key appended,
 * the oldest dropped, written atomically. */
static int main_tickets(int argc, char **argv)
{
	static const struct option opts[] = {
		{"keep", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	char err[1024], *end;
	size_t before = 0, after = 0;
	long keep = TICKET_FILE_KEEP;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "k:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			errno = 0;
			keep = strtol(optarg, &end, 10);
			if (errno || *end || keep < 2 ||
			    keep > TICKET_FILE_MAX_KEYS) {
				fprintf(stderr,
					"edge443 tickets: --keep %s: expected "
					"2 to %d (keys kept in the file)\n",
					optarg, TICKET_FILE_MAX_KEYS);
				return MAIN_EXIT_USAGE;
			}
			break;
		case 'h':
			main_help("tickets", stdout);
			return MAIN_EXIT_OK;
		default:
			main_usage_error("tickets");
			return MAIN_EXIT_USAGE;
		}
	}
	if (argc - optind != 2 || strcmp(argv[optind], "rotate") != 0) {
		fprintf(stderr, "edge443 tickets: expected \"edge443 tickets "
				"rotate FILE\"\n");
		main_usage_error("tickets");
		return MAIN_EXIT_USAGE;
	}
	if (ticket_file_rotate(argv[optind + 1], (size_t)keep, &before, &after,
			       err, sizeof(err)) != 0) {
		fprintf(stderr, "edge443 tickets: %s\n", err);
		return MAIN_EXIT_RUNTIME;
	}
	printf("%s: %s, %zu keys (oldest first; the second newest encrypts, "
	       "the newest only decrypts)\n"
	       "next: copy it to every node, then reload each (SIGHUP or "
	       "systemctl reload edge443)\n",
	       argv[optind + 1], before ? "rotated" : "created", after);
	return MAIN_EXIT_OK;
}

/* edge443 order: order the acme = true certificates of the plan from the
 * acme section's CA, check them with the plan rules, install them
 * (acme_order.c).  Returns the exit code. */
static int main_order(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"certificate", required_argument, NULL, 'C'},
		{"dry-run", no_argument, NULL, 'n'},
		{"key", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct main_args a = {"order", CONFIG_DEFAULT_PATH, MAIN_FORMAT_TEXT};
	struct acme_order_opts o = {NULL, false, CSR_KEY_RSA2048};
	struct config *cfg;
	int c, code = MAIN_EXIT_RUNTIME;

	optind = 0;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		int r = main_shared_opt(&a, c);
		if (r == MAIN_OPT_NEXT)
			continue;
		if (r != MAIN_OPT_MINE)
			return r;
		switch (c) {
		case 'C':
			o.certificate = optarg;
			break;
		case 'n':
			o.dry_run = true;
			break;
		case 'k':
			if (csr_key_kind_parse(optarg, &o.key) < 0) {
				fprintf(stderr,
					"edge443 order: --key %s: expected "
					"rsa:2048, rsa:3072 or ec:p256\n",
					optarg);
				return MAIN_EXIT_USAGE;
			}
			break;
		}
	}
	if ((c = main_no_operands(&a, argc, argv)) != MAIN_OPT_NEXT)
		return c;
	cfg = main_load_config(a.config, &code);
	if (!cfg)
		return code;
	code = acme_order_run(cfg, &o, stdout, stderr);
	config_free(cfg);
	return code;
}

static int main_version(int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			main_help("version", stdout);
			return MAIN_EXIT_OK;
		}
		main_usage_error("version");
		return MAIN_EXIT_USAGE;
	}
	if (optind < argc) {
		fprintf(stderr, "edge443 version: unexpected argument \"%s\"\n",
			argv[optind]);
		main_usage_error("version");
		return MAIN_EXIT_USAGE;
	}
	printf("edge443 %s (%s)\n", EDGE443_VERSION,
	       OpenSSL_version(OPENSSL_VERSION));
	return MAIN_EXIT_OK;
}

/* ---- help: one entry per command ---------------------------------------
 * ARGS follow the name in the global usage and in the command's own usage
 * line; TEXT is what `edge443 COMMAND --help` adds: what it does, its
 * options, its exit statuses. */
struct main_help {
	const char *name;
	const char *args;
	const char *text;
};

static const struct main_help main_helps[] = {
	{"check", "[-c FILE] [--format text|json] [--at ISO-DATE]",
	 "Validate the certificate plan of the configuration without binding\n"
	 "or connecting anything: print the service map, then one line per\n"
	 "finding (severity, rule id, file:line, what is wrong, what to do).\n"
	 "\n"
	 "options:\n"
	 "  -c, --config FILE   the configuration file\n"
	 "                      (default " CONFIG_DEFAULT_PATH ")\n"
	 "  --format text|json  text (default), or one JSON document with\n"
	 "                      the services, certificates and findings\n"
	 "  --at ISO-DATE       judge validity as of that date (2027-06-01\n"
	 "                      or 2027-06-01T12:00:00Z) instead of now\n"
	 "  -h, --help          print this help and exit 0\n"
	 "\n"
	 "exit status:\n"
	 "  0  the plan is valid (warnings allowed)\n"
	 "  1  the plan has an error\n"
	 "  2  usage or configuration syntax error\n"
	 "  3  the configuration cannot be read\n"},
	{"run", "[-c FILE] [--daemon] [--pidfile FILE]",
	 "Check the plan exactly as check does (on an error: print it, bind\n"
	 "nothing, exit 1), bind every listener, drop privileges to the\n"
	 "configured user and serve in the foreground, logging to stderr (or\n"
	 "log_file, or syslog).\n"
	 "\n"
	 "options:\n"
	 "  -c, --config FILE   the configuration file\n"
	 "                      (default " CONFIG_DEFAULT_PATH ")\n"
	 "  --daemon            detach from the terminal (logs go to syslog\n"
	 "                      unless log_file is set)\n"
	 "  --pidfile FILE      write the process id to FILE; removed at\n"
	 "                      exit\n"
	 "  -h, --help          print this help and exit 0\n"
	 "\n"
	 "signals:\n"
	 "SIGTERM or SIGINT stop accepting and drain for at most\n"
	 "shutdown_timeout, then exit 0; SIGHUP re-reads and re-validates\n"
	 "the configuration and certificates (a bad one is logged and the\n"
	 "old one keeps serving); SIGUSR1 reopens log_file.\n"
	 "\n"
	 "exit status:\n"
	 "  0  stopped by a signal, after draining\n"
	 "  1  the plan has an error (nothing was bound)\n"
	 "  2  usage or configuration syntax error\n"
	 "  3  runtime failure: a listener cannot be bound, a file cannot be\n"
	 "     read\n"},
	{"plan",
	 "[-c FILE] [--out DIR] [--key rsa:2048|rsa:3072|ec:p256] [--lab "
	 "DIR] [--force] [--format text|json]",
	 "Compute the smallest set of certificates that the configured\n"
	 "services need (which CN, which SANs, which service rides on which\n"
	 "certificate) and print it; optionally write the keys and requests\n"
	 "to order them, or lab copies issued by a throw-away CA.\n"
	 "\n"
	 "options:\n"
	 "  -c, --config FILE   the configuration file\n"
	 "                      (default " CONFIG_DEFAULT_PATH ")\n"
	 "  --out DIR           write NAME.key (mode 0600) and NAME.csr per\n"
	 "                      certificate\n"
	 "  --key KIND          rsa:2048 (default), rsa:3072 or ec:p256\n"
	 "  --lab DIR           also issue every certificate from a\n"
	 "                      throw-away root and intermediate in DIR,\n"
	 "                      with an edge443.conf.snippet that points at\n"
	 "                      them\n"
	 "  --force             replace keys that exist (they are kept\n"
	 "                      otherwise)\n"
	 "  --format text|json  text (default) or one JSON document\n"
	 "  -h, --help          print this help and exit 0\n"
	 "\n"
	 "exit status:\n"
	 "  0  planned (and written)\n"
	 "  1  the services cannot be planned\n"
	 "  2  usage or configuration syntax error, or a key exists without\n"
	 "     --force\n"
	 "  3  a file cannot be read or written\n"},
	{"csr", "FILE [--out FILE]",
	 "Read a certificate request that is PEM-armoured, bare base64 (the\n"
	 "BEGIN/END lines lost in an e-mail), DER, or Microsoft's NEW\n"
	 "CERTIFICATE REQUEST; verify its signature, describe it (subject,\n"
	 "SANs, key) and write it correctly armoured: to --out (the\n"
	 "description goes to stdout), else to stdout (the description goes\n"
	 "to stderr).\n"
	 "\n"
	 "options:\n"
	 "  -o, --out FILE      write the request here instead of stdout\n"
	 "  -h, --help          print this help and exit 0\n"
	 "\n"
	 "exit status:\n"
	 "  0  the request is sound and written\n"
	 "  1  its signature does not verify\n"
	 "  2  usage error, or input that is no request\n"
	 "  3  a file cannot be read or written\n"},
	{"probe",
	 "[-c FILE] [--service NAME] [--target IP:PORT] [--pool [NODE...]] "
	 "[--format text|json]",
	 "Connect to every listen address of each service as a client, with\n"
	 "the service FQDN as SNI and without SNI, and judge the chain\n"
	 "actually served with the plan's rules, plus unreachable,\n"
	 "served-differs, served-chain-incomplete and served-no-sni; the\n"
	 "servers of re-encrypting backends are checked against their\n"
	 "trust_file and verify_name. Every connection is bounded by\n"
	 "connect_timeout.\n"
	 "\n"
	 "options:\n"
	 "  -c, --config FILE   the configuration file\n"
	 "                      (default " CONFIG_DEFAULT_PATH ")\n"
	 "  --service NAME      probe this service only\n"
	 "  --target IP:PORT    probe this address instead of the service's\n"
	 "                      own (a load balancer, one pool member);\n"
	 "                      names are not resolved. The address stands\n"
	 "                      for one service: give --service NAME too,\n"
	 "                      unless the configuration has only one\n"
	 "                      service\n"
	 "  --pool              also connect to every server of each\n"
	 "                      passthrough backend (an Edge pool) and of\n"
	 "                      each web-services TLS backend directly:\n"
	 "                      pool-consistent if they do not all\n"
	 "                      present the same certificate and chain\n"
	 "  --pool NODE...      also fetch what each node of an edge443\n"
	 "                      pool serves from its admin endpoint\n"
	 "                      (NODE = IP:PORT of its admin, GET /served):\n"
	 "                      pool-consistent unless every node serves\n"
	 "                      this configuration's services with the same\n"
	 "                      leaf and chain and passes the same check\n"
	 "  --format text|json  text (default) or one JSON document\n"
	 "  -h, --help          print this help and exit 0\n"
	 "\n"
	 "exit status:\n"
	 "  0  what is served matches the plan (warnings allowed)\n"
	 "  1  an error was found (unreachable, served-differs, ...)\n"
	 "  2  usage or configuration syntax error\n"
	 "  3  the configuration cannot be read\n"},
	{"order",
	 "[-c FILE] [--certificate NAME] [--dry-run] [--key "
	 "rsa:2048|rsa:3072|ec:p256]",
	 "Order the certificates whose section says acme = true from the CA\n"
	 "of the acme section (RFC 8555), with the names the plan gives them\n"
	 "(as the plan command prints them). The challenge is answered on a\n"
	 "temporary listener (edge443 must not be running): tls-alpn-01 on\n"
	 "each service's listen address, http-01 on its redirect_http\n"
	 "address. The new certificate is checked with every plan rule, as\n"
	 "of now and as of renew_before from now, before it replaces the old\n"
	 "files; key (mode 0600), cert and chain are written atomically.\n"
	 "\n"
	 "options:\n"
	 "  -c, --config FILE   the configuration file\n"
	 "                      (default " CONFIG_DEFAULT_PATH ")\n"
	 "  --certificate NAME  order this certificate section only\n"
	 "  --dry-run           print what would be ordered (names, "
	 "challenge,\n"
	 "                      where it is answered, the files); contact\n"
	 "                      nothing\n"
	 "  --key KIND          rsa:2048 (default), rsa:3072 or ec:p256\n"
	 "  -h, --help          print this help and exit 0\n"
	 "\n"
	 "exit status:\n"
	 "  0  every certificate ordered and installed (or listed)\n"
	 "  1  a new certificate breaks a plan rule (not installed, the old\n"
	 "     files are kept), or the services cannot be planned\n"
	 "  2  usage or configuration error\n"
	 "  3  the CA cannot be reached or refuses, an address is busy, a\n"
	 "     file cannot be written\n"},
	{"version", "",
	 "Print edge443's version and the OpenSSL it runs with; -V and\n"
	 "--version do the same.\n"
	 "\n"
	 "options:\n"
	 "  -h, --help          print this help and exit 0\n"
	 "\n"
	 "exit status:\n"
	 "  0  the version was printed\n"},
	{"tickets", "rotate FILE [--keep N]",
	 "Rotate a session-ticket key file for a pool of nodes: append one\n"
	 "fresh random key and keep the newest N (default 3); a missing file\n"
	 "is created with N keys.  The file is written to a temporary file\n"
	 "beside it (mode 0600) and renamed over it.  Keys are base64, one\n"
	 "per line, oldest first: the second newest encrypts, the newest\n"
	 "only decrypts, all decrypt.  Copy the file to every node, then\n"
	 "reload each: every ticket any node issued before or during the\n"
	 "roll-out still resumes on every node.\n"
	 "\n"
	 "options:\n"
	 "  -k, --keep N        keys kept in the file, 2 to 8 (default 3)\n"
	 "  -h, --help          print this help and exit 0\n"
	 "\n"
	 "exit status:\n"
	 "  0  rotated (or created)\n"
	 "  2  usage error\n"
	 "  3  the file cannot be read or written (it is left as it was)\n"},
};

#define MAIN_NHELPS (sizeof(main_helps) / sizeof(main_helps[0]))

/* The commands, in the order of the global usage. */
struct main_command {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static const struct main_command main_commands[] = {
	{"check", main_check}, {"run", main_run},
	{"plan", main_plan},   {"csr", main_csr},
	{"probe", main_probe}, {"tickets", main_tickets},
	{"order", main_order}, {"version", main_version},
};

#define MAIN_NCOMMANDS (sizeof(main_commands) / sizeof(main_commands[0]))

static const struct main_command *main_find_command(const char *name)
{
	for (size_t i = 0; i < MAIN_NCOMMANDS; i++)
		if (strcmp(name, main_commands[i].name) == 0)
			return &main_commands[i];
	return NULL;
}

static const struct main_help *main_find_help(const char *name)
{
	for (size_t i = 0; i < MAIN_NHELPS; i++)
		if (strcmp(name, main_helps[i].name) == 0)
			return &main_helps[i];
	return NULL;
}

static void main_usage(FILE *out)
{
	fputs("usage:\n", out);
	for (size_t i = 0; i < MAIN_NCOMMANDS; i++) {
		const struct main_help *mh =
			main_find_help(main_commands[i].name);
		if (mh && mh->args[0])
			fprintf(out, "  edge443 %-5s %s\n", mh->name, mh->args);
		else
			fprintf(out, "  edge443 %s\n", main_commands[i].name);
	}
	fputs("  edge443 COMMAND --help\n"
	      "  edge443 -V | --version\n"
	      "COMMAND --help (or -h) says what COMMAND does, its options and "
	      "its exit\nstatuses.  -c defaults to " CONFIG_DEFAULT_PATH ".\n"
	      "exit status: 0 ok (warnings allowed), 1 the plan or probe found "
	      "an error,\n2 usage or config syntax error, 3 runtime failure.\n",
	      out);
}

/* `edge443 CMD --help`: the command's usage line and text. */
static void main_help(const char *cmd, FILE *out)
{
	const struct main_help *mh = main_find_help(cmd);

	if (!mh) {
		main_usage(out);
		return;
	}
	fprintf(out, "usage: edge443 %s%s%s\n\n%s", mh->name,
		mh->args[0] ? " " : "", mh->args, mh->text);
}

/* After a usage error of CMD (getopt has said what was wrong): the
 * command's usage line and where its help is, on stderr. */
static void main_usage_error(const char *cmd)
{
	const struct main_help *mh = main_find_help(cmd);

	if (!mh) {
		main_usage(stderr);
		return;
	}
	fprintf(stderr,
		"usage: edge443 %s%s%s\n"
		"Run \"edge443 %s --help\" for what it does and its options.\n",
		mh->name, mh->args[0] ? " " : "", mh->args, mh->name);
}

/* edge443 help [COMMAND] */
static int main_help_command(int argc, char **argv)
{
	if (argc < 3) {
		main_usage(stdout);
		return MAIN_EXIT_OK;
	}
	if (argc > 3 || !main_find_command(argv[2])) {
		fprintf(stderr, "edge443 help: no command \"%s\"\n", argv[2]);
		main_usage(stderr);
		return MAIN_EXIT_USAGE;
	}
	main_help(argv[2], stdout);
	return MAIN_EXIT_OK;
}

int main(int argc, char **argv)
{
	static char prog[32];
	const struct main_command *mc;

	/* Before OpenSSL or libevent allocates anything (a no-op in
	 * sanitizer builds). */
	(void)bufcache_install();
	if (argc < 2) {
		main_usage(stderr);
		return MAIN_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return main_help_command(argc, argv);
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
		return main_version(argc - 1, argv + 1);
	mc = main_find_command(argv[1]);
	if (!mc) {
		fprintf(stderr, "edge443: unknown command \"%s\"\n", argv[1]);
		main_usage(stderr);
		return MAIN_EXIT_USAGE;
	}
	/* getopt names argv[0] in its messages: "edge443 check: unrecognized
	 * option '--bogus'". */
	snprintf(prog, sizeof(prog), "edge443 %s", mc->name);
	argv[1] = prog;
	return mc->fn(argc - 1, argv + 1);
}
