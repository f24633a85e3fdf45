/* main.c — the edge443 command line: argv, the start-up order, exit codes.
 *
 * Each sub-command parses its own options, calls the modules that do the work
 * (config.c, plan.c, report.c, ...) and maps the outcome to SPEC's exit codes:
 * 0 success (warnings allowed), 1 the plan or probe found an error, 2 usage or
 * config syntax error, 3 runtime failure (cannot bind, cannot read a file).
 * Nothing here knows a rule; it only sequences and reports.
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/opensslv.h>

#include "edge443/config.h"
#include "edge443/csr.h"
#include "edge443/order.h"
#include "edge443/plan.h"
#include "edge443/probe.h"
#include "edge443/report.h"
#include "edge443/validate.h"
#include "edge443/server.h"

#define MAIN_EXIT_OK 0
#define MAIN_EXIT_FINDINGS 1
#define MAIN_EXIT_USAGE 2
#define MAIN_EXIT_RUNTIME 3

/* The exit statuses of SPEC, chosen here from the modules' own results. */
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

static void main_usage(FILE *out)
{
	fputs("usage:\n"
	      "  edge443 check [-c FILE] [--format text|json] [--at ISO-DATE]\n"
	      "  edge443 run   [-c FILE] [--daemon] [--pidfile FILE]\n"
	      "  edge443 plan  [-c FILE] [--out DIR] [--key "
	      "rsa:2048|rsa:3072|ec:p256] [--lab DIR] [--force] "
	      "[--format text|json]\n"
	      "  edge443 csr   FILE [--out FILE]\n"
	      "  edge443 probe [-c FILE] [--service NAME] [--target HOST:PORT] "
	      "[--format text|json]\n"
	      "  edge443 version\n"
	      "-c defaults to " CONFIG_DEFAULT_PATH ".\n"
	      "exit status: 0 ok (warnings allowed), 1 the plan or probe found "
	      "an error, 2 usage or config syntax error, 3 runtime failure.\n",
	      out);
}

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
		main_usage(stdout);
		return MAIN_EXIT_OK;
	case '?':
	case ':':
		main_usage(stderr);
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
	main_usage(stderr);
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

	optind = 1;
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

	optind = 1;
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

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out_path = optarg;
			break;
		case 'h':
			main_usage(stdout);
			return MAIN_EXIT_OK;
		default:
			main_usage(stderr);
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
	struct server_options so = {CONFIG_DEFAULT_PATH, false, NULL};
	int c;

	optind = 1;
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
		{"format", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct main_args a = {"probe", CONFIG_DEFAULT_PATH, MAIN_FORMAT_TEXT};
	const char *target_text = NULL;
	struct probe_options po = {NULL, NULL, 0};
	struct config_addr target = {0};
	struct config *cfg = NULL;
	struct plan_certs *pc = NULL;
	struct probe_report rep = {0};
	char err[256];
	bool found = false;
	int c, code = MAIN_EXIT_RUNTIME;

	optind = 1;
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
		}
	}
	if ((c = main_no_operands(&a, argc, argv)) != MAIN_OPT_NEXT)
		return c;
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
	pc = plan_load_certs(cfg);
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
	plan_certs_free(pc);
	config_free(cfg);
	free(target.text);
	return code;
}

static int main_version(int argc, char **argv)
{
	printf("edge443 %s (%s)\n", EDGE443_VERSION,
	       OpenSSL_version(OPENSSL_VERSION));
	return MAIN_EXIT_OK;
}

struct main_command {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static const struct main_command main_commands[] = {
	{"check", main_check}, {"run", main_run},     {"plan", main_plan},
	{"csr", main_csr},     {"probe", main_probe}, {"version", main_version},
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		main_usage(stderr);
		return MAIN_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		main_usage(stdout);
		return MAIN_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0)
		return main_version(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(main_commands) / sizeof(main_commands[0]);
	     i++)
		if (strcmp(argv[1], main_commands[i].name) == 0)
			return main_commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "edge443: unknown command \"%s\"\n", argv[1]);
	main_usage(stderr);
	return MAIN_EXIT_USAGE;
}
