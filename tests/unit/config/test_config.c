/* test_config.c — unit tests for config.c.
 *
 * The good configuration (tests/config/good.conf) is loaded from the file and
 * from a string and every field and line is checked; bad configurations are a
 * table of (text, exact expected message including "name:LINE:"), each run
 * from a string and from a file.  Then the file problems: missing, directory,
 * empty, binary, truncated, random bytes, 10,000 sections.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/prov_ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "edge443/config/config.h"

#define ERRLEN 8192

static char test_config_tmpdir[256];

/* ---- helpers ----------------------------------------------------------- */

static char *test_config_read(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_config_write(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static const char *test_config_src(void)
{
	const char *src = getenv("EDGE443_SRC");

	return src ? src : "../..";
}

static char *test_config_join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *out = malloc(n);

	assert_non_null(out);
	snprintf(out, n, "%s/%s", a, b);
	return out;
}

/* Loads TEXT from a string, expecting success. */
static struct config *test_config_ok(const char *text, const char *dir)
{
	char err[ERRLEN];
	enum config_status st = CONFIG_OK;
	struct config *cfg =
		config_load_string(text, "t.conf", dir, &st, err, sizeof(err));

	if (!cfg)
		fail_msg("expected success, got: %s", err);
	assert_int_equal(st, CONFIG_OK);
	return cfg;
}

/* ---- the good configuration -------------------------------------------- */

static void test_config_check_good(const struct config *cfg, const char *dir)
{
	const struct config_service *s;
	const struct config_backend *b;
	const struct config_cert *c;
	char *p;

	assert_string_equal(cfg->dir, dir);
	assert_string_equal(cfg->user, "edge443");
	assert_int_equal(cfg->workers, 4);
	p = test_config_join(dir, "pki/trust.pem");
	assert_string_equal(cfg->trust_file, p);
	free(p);
	assert_int_equal(cfg->trust_file_line, 5);
	assert_int_equal(cfg->warn_days, 45);
	assert_int_equal(cfg->warn_days_line, 6);
	assert_int_equal(cfg->handshake_timeout, 11);
	assert_int_equal(cfg->idle_timeout, 301);
	assert_int_equal(cfg->connect_timeout, 6);
	assert_int_equal(cfg->shutdown_timeout, 31);
	assert_int_equal(cfg->max_connections, 5000);
	/* after a two-line C comment: libconfuse alone would say 15 / 16 */
	assert_int_equal(cfg->tls_min, TLS1_2_VERSION);
	assert_int_equal(cfg->tls_min_line, 14);
	assert_int_equal(cfg->tls_max, TLS1_3_VERSION);
	assert_int_equal(cfg->tls_max_line, 15);
	assert_string_equal(cfg->ticket_key_file, "/etc/edge443/tickets.key");
	assert_int_equal(cfg->log_level, LOG_LEVEL_DEBUG);
	assert_string_equal(cfg->admin.text, "127.0.0.1:9443");
	assert_int_equal(cfg->admin.port, 9443);
	assert_int_equal(cfg->admin.sa.ss_family, AF_INET);
	assert_int_equal(cfg->platform, CONFIG_PLATFORM_LYNC2010);

	assert_int_equal(cfg->ncerts, 2);
	c = config_find_cert(cfg, "ssl1");
	assert_ptr_equal(c, &cfg->certs[0]);
	assert_string_equal(c->name, "ssl1");
	assert_int_equal(c->line, 21);
	p = test_config_join(dir, "certs/ssl1.crt");
	assert_string_equal(c->cert, p);
	free(p);
	assert_int_equal(c->cert_line, 22);
	p = test_config_join(dir, "certs/ssl1-chain.pem");
	assert_string_equal(c->chain, p);
	free(p);
	assert_int_equal(c->chain_line, 23);
	p = test_config_join(dir, "certs/ssl1.key");
	assert_string_equal(c->key, p);
	free(p);
	assert_int_equal(c->key_line, 24);
	c = config_find_cert(cfg, "ssl2");
	assert_non_null(c);
	assert_int_equal(c->line, 27);
	assert_string_equal(c->cert, "/abs/ssl2.crt"); /* absolute: unchanged */
	assert_null(c->chain);
	assert_null(c->key);
	assert_int_equal(c->chain_line, 0);
	assert_int_equal(c->key_line, 0);
	assert_null(config_find_cert(cfg, "ssl3"));

	assert_int_equal(cfg->nbackends, 2);
	b = config_find_backend(cfg, "edge");
	assert_ptr_equal(b, &cfg->backends[0]);
	assert_int_equal(b->line, 31);
	assert_int_equal(b->nservers, 2);
	assert_string_equal(b->servers[0].text, "10.0.0.5:443");
	assert_string_equal(b->servers[1].text, "10.0.0.6:443");
	assert_int_equal(b->servers[1].port, 443);
	assert_int_equal(b->servers_line, 32);
	assert_false(b->tls);
	assert_int_equal(b->tls_line, 33);
	p = test_config_join(dir, "certs/internal-ca.pem");
	assert_string_equal(b->trust_file, p);
	free(p);
	assert_int_equal(b->trust_file_line, 34);
	assert_string_equal(b->verify_name, "edge01.corp.example");
	assert_int_equal(b->verify_name_line, 35);
	assert_true(b->verify); /* default */
	assert_false(b->verify_set);
	assert_int_equal(b->verify_line, 0);
	assert_int_equal(b->proxy_protocol, CONFIG_PROXY_V2);
	assert_int_equal(b->proxy_protocol_line, 36);
	b = config_find_backend(cfg, "cwa");
	assert_non_null(b);
	assert_int_equal(b->line, 39);
	assert_int_equal(b->nservers, 2);
	assert_string_equal(b->servers[1].text, "[2001:db8::7]:8443");
	assert_int_equal(b->servers[1].sa.ss_family, AF_INET6);
	assert_int_equal(b->servers[1].port, 8443);
	assert_int_equal(b->servers[1].salen, sizeof(struct sockaddr_in6));
	assert_int_equal(ntohs(((const struct sockaddr_in6 *)&b->servers[1].sa)
				       ->sin6_port),
			 8443);
	assert_int_equal(b->servers_line, 40);
	assert_true(b->tls);
	assert_false(b->verify);
	assert_true(b->verify_set);
	assert_int_equal(b->verify_line, 43);
	assert_int_equal(b->proxy_protocol, CONFIG_PROXY_OFF);
	assert_int_equal(b->proxy_protocol_line, 0);
	assert_null(config_find_backend(cfg, "nope"));

	assert_int_equal(cfg->nservices, 3);
	s = &cfg->services[0];
	assert_string_equal(s->name, "access");
	assert_int_equal(s->line, 48);
	assert_int_equal(s->role, CONFIG_ROLE_ACCESS_EDGE);
	assert_int_equal(s->role_line, 49);
	assert_string_equal(s->fqdn, "sip.example.com");
	assert_int_equal(s->fqdn_line, 50);
	assert_int_equal(s->nlisten, 1);
	assert_string_equal(s->listen[0].text, "192.0.2.10:443");
	assert_int_equal(s->listen_line, 51);
	assert_string_equal(s->certificate, "ssl1");
	assert_int_equal(s->certificate_line, 52);
	assert_int_equal(s->mode, CONFIG_MODE_PASSTHROUGH);
	assert_int_equal(s->mode_line, 53);
	assert_string_equal(s->backend, "edge");
	assert_int_equal(s->backend_line, 54);
	assert_int_equal(s->nsip_domains, 2);
	assert_string_equal(s->sip_domains[0], "example.com");
	assert_string_equal(s->sip_domains[1], "example.org");
	assert_int_equal(s->sip_domains_line, 55);
	assert_true(s->federation);
	assert_int_equal(s->federation_line, 56);
	assert_true(s->sni_strict);
	assert_int_equal(s->sni_strict_line, 57);
	assert_int_equal(s->tls_min, 0);
	assert_int_equal(s->tls_max, 0);
	assert_false(s->http.present);
	assert_int_equal(config_service_tls_min(cfg, s), TLS1_2_VERSION);
	assert_int_equal(config_service_tls_max(cfg, s), TLS1_3_VERSION);

	s = &cfg->services[1];
	assert_string_equal(s->name, "cwa");
	assert_int_equal(s->line, 60);
	assert_int_equal(s->role, CONFIG_ROLE_CWA);
	assert_int_equal(s->role_line, 62);
	assert_int_equal(s->nlisten, 2);
	assert_string_equal(s->listen[1].text, "[2001:db8::13]:443");
	assert_int_equal(s->listen_line, 64);
	assert_int_equal(s->mode, CONFIG_MODE_REENCRYPT);
	assert_int_equal(s->tls_min, TLS1_3_VERSION);
	assert_int_equal(s->tls_min_line, 68);
	assert_int_equal(config_service_tls_min(cfg, s), TLS1_3_VERSION);
	assert_int_equal(config_service_tls_max(cfg, s), TLS1_3_VERSION);
	assert_false(s->federation);
	assert_int_equal(s->federation_line, 0);
	assert_true(s->http.present);
	assert_int_equal(s->http.line, 69);
	assert_int_equal(s->http.npaths, 2);
	assert_string_equal(s->http.paths[0], "/cwa/");
	assert_string_equal(s->http.paths[1], "/download/");
	assert_int_equal(s->http.paths_line, 70);
	assert_int_equal(s->http.host_header, CONFIG_HOST_BACKEND);
	assert_int_equal(s->http.host_header_line, 71);
	assert_string_equal(s->http.redirect_http.text, "192.0.2.13:80");
	assert_int_equal(s->http.redirect_http.port, 80);
	assert_int_equal(s->http.redirect_http_line, 72);

	s = &cfg->services[2];
	assert_string_equal(s->name, "webconf");
	assert_int_equal(s->line, 76);
	assert_null(s->certificate);
	assert_null(s->backend);
	assert_int_equal(s->mode, CONFIG_MODE_TERMINATE);
	assert_true(s->http.present); /* an empty block still counts */
	assert_int_equal(s->http.line, 81);
	assert_int_equal(s->http.npaths, 1); /* default {"/"} */
	assert_string_equal(s->http.paths[0], "/");
	assert_int_equal(s->http.paths_line, 0);
	assert_int_equal(s->http.host_header, CONFIG_HOST_ORIGINAL);
	assert_null(s->http.redirect_http.text);
}

static void test_config_good_file(void **state)
{
	char *path =
		test_config_join(test_config_src(), "tests/config/good.conf");
	char *dir = test_config_join(test_config_src(), "tests/config");
	char err[ERRLEN];
	enum config_status st = CONFIG_ERR_READ;
	struct config *cfg = config_load(path, &st, err, sizeof(err));

	(void)state;
	if (!cfg)
		fail_msg("%s", err);
	assert_int_equal(st, CONFIG_OK);
	assert_string_equal(cfg->file, path);
	test_config_check_good(cfg, dir);
	config_free(cfg);
	free(path);
	free(dir);
}

static void test_config_good_string(void **state)
{
	char *path =
		test_config_join(test_config_src(), "tests/config/good.conf");
	char *text = test_config_read(path);
	struct config *cfg = test_config_ok(text, "conf");

	(void)state;
	assert_string_equal(cfg->file, "t.conf");
	test_config_check_good(cfg, "conf");
	config_free(cfg);
	free(text);
	free(path);
}

/* A file named "conf/lab.conf" resolves "certs/a.crt" to "conf/certs/a.crt". */
static void test_config_relative_paths(void **state)
{
	char dir[512], sub[600], path[700], err[ERRLEN];
	char cwd[512];
	enum config_status st;
	struct config *cfg;
	const char *text =
		"trust_file = \"trust.pem\"\n"
		"ticket_key_file = \"keys/t.key\"\n"
		"certificate a { cert = \"certs/a.crt\" key = \"/k/a.key\" }\n"
		"backend b { servers = {\"10.0.0.1:1\"} trust_file = "
		"\"ca.pem\" }\n"
		"service s { fqdn = \"a.example\" listen = \"192.0.2.1:443\" "
		"mode = \"terminate\" }\n";

	(void)state;
	snprintf(dir, sizeof(dir), "%s/rel", test_config_tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(sub, sizeof(sub), "%s/conf", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/lab.conf", sub);
	test_config_write(path, text, strlen(text));
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	cfg = config_load("conf/lab.conf", &st, err, sizeof(err));
	assert_int_equal(chdir(cwd), 0);
	if (!cfg)
		fail_msg("%s", err);
	assert_string_equal(cfg->file, "conf/lab.conf");
	assert_string_equal(cfg->dir, "conf");
	assert_string_equal(cfg->trust_file, "conf/trust.pem");
	assert_string_equal(cfg->ticket_key_file, "conf/keys/t.key");
	assert_string_equal(cfg->certs[0].cert, "conf/certs/a.crt");
	assert_string_equal(cfg->certs[0].key, "/k/a.key");
	assert_string_equal(cfg->backends[0].trust_file, "conf/ca.pem");
	config_free(cfg);

	/* a bare file name: the folder is "." */
	assert_int_equal(chdir(sub), 0);
	cfg = config_load("lab.conf", &st, err, sizeof(err));
	assert_int_equal(chdir(cwd), 0);
	if (!cfg)
		fail_msg("%s", err);
	assert_string_equal(cfg->dir, ".");
	assert_string_equal(cfg->certs[0].cert, "./certs/a.crt");
	config_free(cfg);

	/* from a string: the given folder, "." when NULL, no double slash */
	cfg = test_config_ok(text, "/etc/edge443/");
	assert_string_equal(cfg->certs[0].cert, "/etc/edge443/certs/a.crt");
	config_free(cfg);
	cfg = config_load_string(text, NULL, NULL, &st, err, sizeof(err));
	assert_non_null(cfg);
	assert_string_equal(cfg->dir, ".");
	assert_string_equal(cfg->trust_file, "./trust.pem");
	config_free(cfg);
}

/* Every platform by its name, "lync" as lync2010, and the reverse-proxy
 * roles with their simple URLs. */
static void test_config_platforms(void **state)
{
	static const struct {
		const char *name;
		enum config_platform platform;
		const char *canonical;
	} names[] = {
		{"ocs2007r2", CONFIG_PLATFORM_OCS2007R2, "ocs2007r2"},
		{"lync", CONFIG_PLATFORM_LYNC2010, "lync2010"},
		{"lync2010", CONFIG_PLATFORM_LYNC2010, "lync2010"},
		{"lync2013", CONFIG_PLATFORM_LYNC2013, "lync2013"},
		{"sfb2015", CONFIG_PLATFORM_SFB2015, "sfb2015"},
		{"sfb2019", CONFIG_PLATFORM_SFB2019, "sfb2019"},
		{"sfbse", CONFIG_PLATFORM_SFBSE, "sfbse"},
	};
	char text[512];

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct config *cfg;

		snprintf(
			text, sizeof(text),
			"platform = \"%s\"\n"
			"service ws {\n  role = \"web-services\"\n"
			"  fqdn = \"webext.example.com\"\n"
			"  listen = \"192.0.2.1:443\"\n  mode = \"terminate\"\n"
			"  simple_urls = {\"meet.example.com\", "
			"\"dialin.example.com\"}\n"
			"  sip_domains = {\"example.com\"}\n}\n"
			"service owa {\n  role = \"office-web-apps\"\n"
			"  fqdn = \"oos.example.com\"\n"
			"  listen = \"192.0.2.2:443\"\n  mode = "
			"\"terminate\"\n}\n",
			names[i].name);
		cfg = test_config_ok(text, NULL);
		assert_int_equal(cfg->platform, names[i].platform);
		assert_string_equal(config_platform_name(cfg->platform),
				    names[i].canonical);
		assert_int_equal(cfg->services[0].role,
				 CONFIG_ROLE_WEB_SERVICES);
		assert_int_equal(cfg->services[0].nsimple_urls, 2);
		assert_string_equal(cfg->services[0].simple_urls[1],
				    "dialin.example.com");
		assert_int_equal(cfg->services[0].simple_urls_line, 7);
		assert_int_equal(cfg->services[0].nsip_domains, 1);
		assert_int_equal(cfg->services[1].role,
				 CONFIG_ROLE_OFFICE_WEB_APPS);
		assert_int_equal(cfg->services[1].nsimple_urls, 0);
		assert_string_equal(config_role_name(CONFIG_ROLE_WEB_SERVICES),
				    "web-services");
		config_free(cfg);
	}
}

static void test_config_defaults(void **state)
{
	struct config *cfg =
		test_config_ok("service s {\n"
			       "  fqdn = \"a.example.com\"\n"
			       "  listen = \"192.0.2.1:443\"\n"
			       "  mode = \"terminate\"\n"
			       "}\n"
			       "backend b { servers = \"10.0.0.1:80\" }\n",
			       NULL);
	const struct config_service *s = &cfg->services[0];
	const struct config_backend *b = &cfg->backends[0];

	(void)state;
	assert_null(cfg->user);
	assert_int_equal(cfg->workers, 0);
	assert_int_equal(cfg->worker_mode, CONFIG_WORKERS_THREADS);
	assert_int_equal(cfg->worker_mode_line, 0);
	assert_string_equal(cfg->trust_file,
			    "/etc/ssl/certs/ca-certificates.crt");
	assert_int_equal(cfg->trust_file_line, 0);
	assert_int_equal(cfg->warn_days, 30);
	assert_int_equal(cfg->warn_days_line, 0);
	assert_int_equal(cfg->handshake_timeout, 10);
	assert_int_equal(cfg->idle_timeout, 300);
	assert_int_equal(cfg->connect_timeout, 5);
	assert_int_equal(cfg->shutdown_timeout, 30);
	assert_int_equal(cfg->max_connections, 10000);
	assert_int_equal(cfg->backlog, 1024);
	assert_int_equal(cfg->tls_min, TLS1_2_VERSION);
	assert_int_equal(cfg->tls_max, TLS1_3_VERSION);
	assert_int_equal(cfg->tls_min_line, 0);
	assert_null(cfg->ticket_key_file);
	assert_int_equal(cfg->log_level, LOG_LEVEL_INFO);
	assert_null(cfg->admin.text);
	assert_int_equal(cfg->platform, CONFIG_PLATFORM_OCS2007R2);
	assert_int_equal(cfg->ncerts, 0);

	assert_int_equal(s->line, 1);
	assert_int_equal(s->role, CONFIG_ROLE_GENERIC);
	assert_int_equal(s->role_line, 0);
	assert_int_equal(s->fqdn_line, 2);
	assert_int_equal(s->listen_line, 3);
	assert_int_equal(s->mode_line, 4);
	assert_null(s->certificate);
	assert_null(s->backend);
	assert_int_equal(s->nsip_domains, 0);
	assert_null(s->sip_domains);
	assert_false(s->federation);
	assert_false(s->sni_strict);
	assert_false(s->http.present);
	assert_int_equal(s->http.npaths, 0);

	assert_int_equal(b->line, 6);
	assert_int_equal(b->nservers, 1); /* a single string for a list */
	assert_false(b->tls);
	assert_null(b->trust_file);
	assert_null(b->verify_name);
	assert_true(b->verify);
	assert_false(b->verify_set);
	assert_int_equal(b->proxy_protocol, CONFIG_PROXY_OFF);
	assert_int_equal(b->response_timeout, 60);
	assert_int_equal(b->response_timeout_line, 0);
	config_free(cfg);
}

/* Every enum value is accepted, and named back as written. */
static void test_config_names(void **state)
{
	static const char *roles[] = {
		"access-edge", "webconf-edge", "av-edge", "edge-internal",
		"cwa",	       "web",	       "generic"};
	static const char *modes[] = {"terminate", "reencrypt", "passthrough"};
	static const char *tls[] = {"1.0", "1.1", "1.2", "1.3"};
	static const int tlsv[] = {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION,
				   TLS1_3_VERSION};
	char text[512];

	(void)state;
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		struct config *cfg;

		snprintf(text, sizeof(text),
			 "service s { role = \"%s\" fqdn = \"a.b\" listen = "
			 "\"192.0.2.1:443\" mode = \"%s\" }",
			 roles[i], modes[i % 3]);
		cfg = test_config_ok(text, NULL);
		assert_string_equal(config_role_name(cfg->services[0].role),
				    roles[i]);
		assert_string_equal(config_mode_name(cfg->services[0].mode),
				    modes[i % 3]);
		config_free(cfg);
	}
	for (size_t i = 0; i < 4; i++) {
		struct config *cfg;

		snprintf(text, sizeof(text),
			 "tls_min = \"%s\"\nservice s { fqdn = \"a.b\" listen "
			 "= \"192.0.2.1:443\" mode = \"terminate\" tls_max = "
			 "\"%s\" }",
			 tls[i], tls[i]);
		cfg = test_config_ok(text, NULL);
		assert_int_equal(cfg->tls_min, tlsv[i]);
		assert_int_equal(cfg->services[0].tls_max, tlsv[i]);
		assert_string_equal(config_tls_name(tlsv[i]), tls[i]);
		config_free(cfg);
	}
	assert_string_equal(config_tls_name(0), "?");
	assert_string_equal(config_tls_name(0x0305), "?");
}

/* ---- config_addr_parse ------------------------------------------------- */

/* The host part for evhttp and libcurl: no brackets, no port; NULL when
 * the buffer is too small. */
static void test_config_addr_host(void **state)
{
	struct config_addr a = {0};
	char buf[64], tiny[4], err[256];

	(void)state;
	assert_int_equal(
		config_addr_parse("[2001:db8::10]:443", &a, err, sizeof(err)),
		0);
	assert_string_equal(config_addr_host(&a, buf, sizeof(buf)),
			    "2001:db8::10");
	free(a.text);
	assert_int_equal(
		config_addr_parse("192.0.2.10:9443", &a, err, sizeof(err)), 0);
	assert_string_equal(config_addr_host(&a, buf, sizeof(buf)),
			    "192.0.2.10");
	assert_null(config_addr_host(&a, tiny, sizeof(tiny)));
	free(a.text);
}

static void test_config_addr(void **state)
{
	static const struct {
		const char *text;
		int family, port;
	} good[] = {
		{"192.0.2.10:443", AF_INET, 443},
		{"0.0.0.0:1", AF_INET, 1},
		{"127.0.0.1:65535", AF_INET, 65535},
		{"[2001:db8::10]:443", AF_INET6, 443},
		{"[::1]:8443", AF_INET6, 8443},
		{"[::ffff:192.0.2.1]:80", AF_INET6, 80},
	};
	static const struct {
		const char *text, *why;
	} bad[] = {
		{"192.0.2.1:99999", "port 99999 is out of range"},
		{"192.0.2.1:0", "port 0 is out of range"},
		{"192.0.2.1:", "missing port"},
		{"192.0.2.1", "missing :port"},
		{"192.0.2.1:44x", "not a number"},
		{"192.0.2.1:-1", "not a number"},
		{"192.0.2.256:443", "\"192.0.2.256\" is not an IP address"},
		{"edge.example.com:443",
		 "is not an IP address (names are not resolved)"},
		{"2001:db8::1:443", "must be written in brackets"},
		{"[2001:db8::1]443", "missing :port"},
		{"[2001:db8::1:443", "missing \"]\""},
		{"[192.0.2.1]:443", "is not an IPv6 address"},
		{"", "empty"},
		{":443", "is not an IP address"},
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct config_addr a;

		if (config_addr_parse(good[i].text, &a, err, sizeof(err)) != 0)
			fail_msg("%s: %s", good[i].text, err);
		assert_string_equal(a.text, good[i].text);
		assert_int_equal(a.sa.ss_family, good[i].family);
		assert_int_equal(a.port, good[i].port);
		assert_int_equal(a.salen,
				 good[i].family == AF_INET
					 ? sizeof(struct sockaddr_in)
					 : sizeof(struct sockaddr_in6));
		if (good[i].family == AF_INET)
			assert_int_equal(
				ntohs(((struct sockaddr_in *)&a.sa)->sin_port),
				good[i].port);
		free(a.text);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct config_addr a;

		if (config_addr_parse(bad[i].text, &a, err, sizeof(err)) == 0)
			fail_msg("accepted %s", bad[i].text);
		assert_null(a.text);
		if (!strstr(err, bad[i].why))
			fail_msg("%s: got \"%s\", expected \"%s\"", bad[i].text,
				 err, bad[i].why);
	}
}

/* ---- bad configurations ------------------------------------------------ */

#define SVC                                                                    \
	"service s {\n  fqdn = \"a.example.com\"\n  listen = "                 \
	"\"192.0.2.1:443\"\n  mode = \"terminate\"\n"
/* SVC occupies lines 1-4; what follows starts on line 5. */

static const struct {
	const char *text;
	const char *expected; /* exact substring, "bad.conf:LINE: ..." */
} test_config_bad[] = {
	/* syntax, as reported through libconfuse */
	{"workers = 1\nbogus = 2\n" SVC "}\n",
	 "bad.conf:2: unknown option \"bogus\" in the global settings — "
	 "expected one of user, workers,"},
	{SVC "  bogus = 1\n}\n",
	 "bad.conf:5: unknown option \"bogus\" in service \"s\" — expected one "
	 "of role, fqdn, listen,"},
	{SVC "  http {\n    pathz = {\"/\"}\n  }\n}\n",
	 "bad.conf:6: unknown option \"pathz\" in the http block — expected "
	 "one of paths, host_header, redirect_http"},
	{"certificate c {\n  cert = \"a\"\n  cert_file = \"b\"\n}\n" SVC "}\n",
	 "bad.conf:3: unknown option \"cert_file\" in certificate \"c\""},
	{SVC "}\n" SVC "}\n",
	 "bad.conf:6: found duplicate title 's' — a section of this kind with "
	 "this name is already defined"},
	{"certificate c { cert = \"a\" }\n\ncertificate c { cert = \"b\" "
	 "}\n" SVC "}\n",
	 "bad.conf:3: found duplicate title 'c'"},
	{SVC "  fqdn =\n",
	 "bad.conf:6: unexpected end of file — an option is missing its value"},
	{SVC "}\n}\n",
	 "bad.conf:6: unexpected \"}\" — there is no open section to close"},
	{SVC "  fqdn \"x\"\n}\n", "bad.conf:5: missing equal sign after option "
				  "'fqdn' — expected NAME = VALUE"},
	{"service {\n}\n", "bad.conf:1: missing title for section 'service'"},
	{"workers += 3\n" SVC "}\n",
	 "bad.conf:1: attempt to append to non-list option 'workers'"},
	{"workers = = 3\n" SVC "}\n",
	 "bad.conf:1: unexpected token '=' in the global settings — expected "
	 "NAME = VALUE"},
	{"\" edge443-open-line\" = \"x\"\n" SVC "}\n",
	 "bad.conf:1: unknown option \" edge443-open-line\" in the global "
	 "settings"},
	{SVC "  \" edge443-open-line\" = \"7\"\n}\n",
	 "bad.conf:5: unknown option \" edge443-open-line\" in service \"s\""},
	/* found by the pre-scan */
	{SVC "}\nservice t {\n  fqdn = \"b.example.com\"\n",
	 "bad.conf:6: this \"{\" is never closed (end of file reached) — add "
	 "the missing \"}\""},
	{SVC, "bad.conf:1: this \"{\" is never closed"},
	{SVC "  http {\n}\n", "bad.conf:1: this \"{\" is never closed"},
	{SVC "  role = \"cwa\n}\n",
	 "bad.conf:5: unterminated string — expected a closing \" for the "
	 "string that starts on this line"},
	{SVC "  role = 'cwa\n}\n",
	 "bad.conf:5: unterminated string — expected a closing '"},
	{"/* a\n\n" SVC "}\n",
	 "bad.conf:1: unterminated comment — expected \"*/\""},
	/* platforms and the reverse-proxy roles */
	{"platform = \"lync2016\"\n" SVC "}\n",
	 "bad.conf:1: platform \"lync2016\": unknown platform — expected one "
	 "of ocs2007r2, lync2010, lync2013, sfb2015, sfb2019, sfbse, lync"},
	{SVC "  role = \"web\"\n  simple_urls = {\"meet.example.com\"}\n}\n",
	 "bad.conf:6: service \"s\": simple_urls belongs to role web-services"},
	{SVC "  role = \"web-services\"\n  simple_urls = "
	     "{\"https://meet.example.com/\"}\n}\n",
	 "bad.conf:6: "},
	{"workers = 1\n\nwork\0ers = 2\n",
	 "bad.conf:3: binary data (a NUL byte) — expected a text configuration "
	 "file"},
	/* values */
	{SVC "  listen = \"192.0.2.1:99999\"\n}\n",
	 "bad.conf:5: listen is set twice in service \"s\" (also on line 3) — "
	 "keep one, or add to it with +="},
	{"service s {\n  fqdn = \"a.example.com\"\n  listen = "
	 "\"192.0.2.1:99999\"\n  mode = \"terminate\"\n}\n",
	 "bad.conf:3: listen \"192.0.2.1:99999\": port 99999 is out of range — "
	 "expected IP:port with a port from 1 to 65535"},
	{"service s {\n  fqdn = \"a.example.com\"\n  listen = "
	 "{\"192.0.2.1:443\",\n    \"192.0.2.300:443\"}\n  mode = "
	 "\"terminate\"\n}\n",
	 "bad.conf:4: listen \"192.0.2.300:443\": \"192.0.2.300\" is not an IP "
	 "address (names are not resolved) — expected IP:port with a port from "
	 "1 to 65535"},
	{"service s {\n  fqdn = \"a.example.com\"\n  listen = "
	 "\"2001:db8::1:443\"\n  mode = \"terminate\"\n}\n",
	 "bad.conf:3: listen \"2001:db8::1:443\": an IPv6 address must be "
	 "written in brackets"},
	{"admin = \"localhost:9443\"\n" SVC "}\n",
	 "bad.conf:1: admin \"localhost:9443\": \"localhost\" is not an IP "
	 "address (names are not resolved) — expected IP:port"},
	{SVC "  role = \"edge\"\n}\n",
	 "bad.conf:5: role \"edge\": unknown role — expected one of "
	 "access-edge, webconf-edge, av-edge, edge-internal, cwa, web, "
	 "generic"},
	{"service s {\n  fqdn = \"a.example.com\"\n  listen = "
	 "\"192.0.2.1:443\"\n  mode = \"bridge\"\n}\n",
	 "bad.conf:4: mode \"bridge\": unknown mode — expected one of "
	 "terminate, reencrypt, passthrough"},
	/* numbers: a timeout of 0 or less is refused (0 would end every
	 * connection at once), except shutdown_timeout = 0 (no draining) */
	{"handshake_timeout = -1\n" SVC "}\n",
	 "bad.conf:1: handshake_timeout = -1: out of range — use a positive "
	 "number of seconds; the default is 10\n"},
	{"handshake_timeout = 0\n" SVC "}\n",
	 "bad.conf:1: handshake_timeout = 0: out of range — use a positive "
	 "number of seconds; the default is 10\n"},
	{"\nidle_timeout = -5\n" SVC "}\n",
	 "bad.conf:2: idle_timeout = -5: out of range — use a positive number "
	 "of seconds; the default is 300\n"},
	{"\nidle_timeout = 0\n" SVC "}\n",
	 "bad.conf:2: idle_timeout = 0: out of range — use a positive number "
	 "of seconds; the default is 300\n"},
	{"connect_timeout = -1\n" SVC "}\n",
	 "bad.conf:1: connect_timeout = -1: out of range — use a positive "
	 "number of seconds; the default is 5\n"},
	{"connect_timeout = 0\n" SVC "}\n",
	 "bad.conf:1: connect_timeout = 0: out of range — use a positive "
	 "number of seconds; the default is 5\n"},
	{"connect_timeout = 1.5\n" SVC "}\n",
	 "bad.conf:1: connect_timeout = \"1.5\": not a whole number — use a "
	 "positive number of seconds; the default is 5\n"},
	{"shutdown_timeout = -1\n" SVC "}\n",
	 "bad.conf:1: shutdown_timeout = -1: out of range — use a number of "
	 "seconds (0 = close open connections at once) >= 0; the default is "
	 "30\n"},
	{"backend b {\n  servers = \"10.0.0.1:443\"\n  response_timeout = "
	 "0\n}\n" SVC "}\n",
	 "bad.conf:3: response_timeout = 0: out of range — use a positive "
	 "number of seconds; the default is 60\n"},
	{"backend b {\n  servers = \"10.0.0.1:443\"\n  response_timeout = "
	 "-60\n}\n" SVC "}\n",
	 "bad.conf:3: response_timeout = -60: out of range — use a positive "
	 "number of seconds; the default is 60\n"},
	{"backend b {\n  servers = \"10.0.0.1:443\"\n  response_timeout = "
	 "\"soon\"\n}\n" SVC "}\n",
	 "bad.conf:3: response_timeout = \"soon\": not a whole number — use a "
	 "positive number of seconds; the default is 60\n"},
	{"backend b {\n  servers = \"10.0.0.1:443\"\n  response_timeout = "
	 "5\n  response_timeout = 6\n}\n" SVC "}\n",
	 "bad.conf:4: response_timeout is set twice in backend \"b\" (also on "
	 "line 3) — keep one"},
	{"backlog = 0\n" SVC "}\n",
	 "bad.conf:1: backlog = 0: out of range — use a number of pending "
	 "connections from 1 to 65535; the default is 1024\n"},
	{"backlog = -1\n" SVC "}\n",
	 "bad.conf:1: backlog = -1: out of range — use a number of pending "
	 "connections from 1 to 65535; the default is 1024\n"},
	{"backlog = 65536\n" SVC "}\n",
	 "bad.conf:1: backlog = 65536: out of range — use a number of pending "
	 "connections from 1 to 65535; the default is 1024\n"},
	{"backlog = 99999999999\n" SVC "}\n",
	 "bad.conf:1: backlog = 99999999999: too large — use a number of "
	 "pending connections from 1 to 65535, at most 65535; the default is "
	 "1024\n"},
	{"warn_days = -1\n" SVC "}\n",
	 "bad.conf:1: warn_days = -1: out of range — use a number of days >= "
	 "0; the default is 30\n"},
	{"workers = -2\n" SVC "}\n",
	 "bad.conf:1: workers = -2: out of range — use a number of worker "
	 "threads (0 = one per CPU) >= 0; the default is 0\n"},
	{"max_connections = 0\n" SVC "}\n",
	 "bad.conf:1: max_connections = 0: out of range — use a positive "
	 "number of connections; the default is 10000\n"},
	{"worker_mode = \"forks\"\n" SVC "}\n",
	 "bad.conf:1: worker_mode \"forks\": unknown worker mode — expected "
	 "one of threads, processes\n"},
	{"worker_mode = processes\nworker_mode = threads\n" SVC "}\n",
	 "bad.conf:2: worker_mode"},
	/* worker processes cannot answer the renewal's challenges */
	{"workers = 2\nworker_mode = \"processes\"\nacme {\n  directory = "
	 "\"https://ca.example/dir\"\n}\n" SVC "}\n",
	 "bad.conf:2: worker_mode = processes cannot be used with an acme { } "
	 "section (line 3): worker processes cannot answer the challenges of "
	 "the renewal in run — use worker_mode = threads, or order "
	 "certificates with `edge443 order`\n"},
	{"workers = 2x\n" SVC "}\n",
	 "bad.conf:1: workers = \"2x\": not a whole number"},
	{"workers = 99999999999\n" SVC "}\n",
	 "bad.conf:1: workers = 99999999999: too large"},
	{"tls_min = \"1.4\"\n" SVC "}\n",
	 "bad.conf:1: tls_min \"1.4\": unknown TLS version — expected one of "
	 "1.0, 1.1, 1.2, 1.3"},
	{"tls_min = \"1.3\"\ntls_max = \"1.2\"\n" SVC "}\n",
	 "bad.conf:1: tls_min 1.3 is above tls_max 1.2 — expected tls_min <= "
	 "tls_max"},
	{SVC "  tls_max = \"1.1\"\n}\n",
	 "bad.conf:5: service \"s\": tls_min 1.2 is above tls_max 1.1"},
	{"log_level = \"loud\"\n" SVC "}\n",
	 "bad.conf:1: log_level \"loud\": unknown log level — expected one of "
	 "error, warn, info, debug"},
	{"user = \"\"\n" SVC "}\n", "bad.conf:1: user = \"\": empty"},
	{"trust_file = \"\"\n" SVC "}\n",
	 "bad.conf:1: trust_file = \"\": empty path"},
	{"workers = 1\nworkers = 2\n" SVC "}\n",
	 "bad.conf:2: workers is set twice in the global settings (also on "
	 "line 1) — keep one"},
	{SVC "  federation = maybe\n}\n",
	 "bad.conf:5: federation = \"maybe\": expected true or false"},
	{SVC "  sni_strict = 2\n}\n",
	 "bad.conf:5: sni_strict = \"2\": expected true or false"},
	{SVC "  sip_domains = {\"example.com\", \"exa mple.org\"}\n}\n",
	 "bad.conf:5: sip_domains \"exa mple.org\": not a DNS domain"},
	{"service s {\n  fqdn = \"*.example.com\"\n  listen = "
	 "\"192.0.2.1:443\"\n  mode = \"terminate\"\n}\n",
	 "bad.conf:2: fqdn \"*.example.com\": a wildcard is not a service "
	 "FQDN"},
	{"service s {\n  fqdn = \"sip_x.example.com\"\n  listen = "
	 "\"192.0.2.1:443\"\n  mode = \"terminate\"\n}\n",
	 "bad.conf:2: fqdn \"sip_x.example.com\": not a DNS name — expected "
	 "letters, digits, hyphens and dots"},
	{"service s {\n  fqdn = \"-a.example.com\"\n  listen = "
	 "\"192.0.2.1:443\"\n  mode = \"terminate\"\n}\n",
	 "bad.conf:2: fqdn \"-a.example.com\": not a DNS name"},
	{"service s {\n  fqdn = \"a..example.com\"\n  listen = "
	 "\"192.0.2.1:443\"\n  mode = \"terminate\"\n}\n",
	 "bad.conf:2: fqdn \"a..example.com\": not a DNS name"},
	{"\nservice s {\n  listen = \"192.0.2.1:443\"\n  mode = "
	 "\"terminate\"\n}\n",
	 "bad.conf:2: service \"s\" has no fqdn — expected fqdn = "},
	{"service s {\n  fqdn = \"a.example.com\"\n  mode = \"terminate\"\n}\n",
	 "bad.conf:1: service \"s\" has no listen address"},
	{"service s {\n  fqdn = \"a.example.com\"\n  listen = {}\n  mode = "
	 "\"terminate\"\n}\n",
	 "bad.conf:1: service \"s\" has no listen address"},
	{"service s {\n  fqdn = \"a.example.com\"\n  listen = "
	 "\"192.0.2.1:443\"\n}\n",
	 "bad.conf:1: service \"s\" has no mode — expected mode = terminate, "
	 "reencrypt or passthrough"},
	{"service 'a/b' {\n  fqdn = \"a.example.com\"\n  listen = "
	 "\"192.0.2.1:443\"\n  mode = \"terminate\"\n}\n",
	 "bad.conf:1: service \"a/b\": bad section name"},
	{"certificate c {\n  key = \"k\"\n}\n" SVC "}\n",
	 "bad.conf:1: certificate \"c\" has no cert — expected cert = "},
	{"backend b {\n  tls = true\n}\n" SVC "}\n",
	 "bad.conf:1: backend \"b\" has no servers — expected servers = "},
	{"backend b {\n  servers = {}\n}\n" SVC "}\n",
	 "bad.conf:1: backend \"b\" has no servers"},
	{"backend b {\n  servers = {\"10.0.0.1:443\",\n\"10.0.0.2\"}\n}\n" SVC
	 "}\n",
	 "bad.conf:3: servers \"10.0.0.2\": missing :port after the address — "
	 "expected IP:port with a port from 1 to 65535"},
	{"backend b {\n  servers = \"10.0.0.1:443\"\n  tls = yes "
	 "please\n}\n" SVC "}\n",
	 "bad.conf:3: unknown option \"please\" in backend \"b\""},
	{"backend b {\n  servers = \"10.0.0.1:443\"\n  verify = "
	 "\"sometimes\"\n}\n" SVC "}\n",
	 "bad.conf:3: verify = \"sometimes\": expected true or false"},
	{"backend b {\n  servers = \"10.0.0.1:443\"\n  proxy_protocol = "
	 "\"v3\"\n}\n" SVC "}\n",
	 "bad.conf:3: proxy_protocol \"v3\": unknown proxy_protocol — expected "
	 "one of off, v1, v2"},
	{"backend b {\n  servers = \"10.0.0.1:443\"\n  verify_name = \"cwa "
	 "01\"\n}\n" SVC "}\n",
	 "bad.conf:3: verify_name \"cwa 01\": not a DNS name"},
	{"service s {\n  fqdn = \"a.example.com\"\n  listen = "
	 "\"192.0.2.1:443\"\n  mode = \"passthrough\"\n  http {\n  }\n}\n",
	 "bad.conf:5: service \"s\": an http block needs mode terminate or "
	 "reencrypt — mode is passthrough"},
	{SVC "  http {\n  }\n  http {\n  }\n}\n",
	 "bad.conf:7: service \"s\" has a second http block (the first is on "
	 "line 5) — merge them into one"},
	{SVC "  http {\n    paths = {\"/\", \"cwa\"}\n  }\n}\n",
	 "bad.conf:6: paths \"cwa\": not a path prefix — expected a path "
	 "starting with \"/\""},
	{SVC "  http {\n    host_header = \"rewrite\"\n  }\n}\n",
	 "bad.conf:6: host_header \"rewrite\": unknown host_header — expected "
	 "one of original, backend"},
	{SVC "  http {\n    redirect_http = \"192.0.2.1:70000\"\n  }\n}\n",
	 "bad.conf:6: redirect_http \"192.0.2.1:70000\": port 70000 is out of "
	 "range"},
	/* lines stay right after comments of every kind */
	{"# one\n# two\n/* three\n four */ // five\n#six\nbogus = 1\n",
	 "bad.conf:6: unknown option \"bogus\""},
	{"workers = 1 # trailing\nworkers = 2 /* c */\n" SVC "}\n",
	 "bad.conf:2: workers is set twice in the global settings (also on "
	 "line 1)"},
	/* empty */
	{"", "bad.conf: no service is defined — add at least one service "
	     "section (see conf/edge443.conf)"},
	{"# only a comment\n\n", "bad.conf: no service is defined"},
	{"certificate c { cert = \"a\" }\n", "bad.conf: no service is defined"},
	/* more certificates than one listener serves */
	{"service s {\n  fqdn = \"a.example.com\"\n  listen = "
	 "\"192.0.2.1:443\"\n"
	 "  certificate = {\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", "
	 "\"h\", \"i\", \"j\", \"k\", \"l\", \"m\", \"n\", \"o\", \"p\", "
	 "\"q\"}\n}\n",
	 "bad.conf:4: certificate names 17 sections; one listener serves at "
	 "most 16"},
	/* the acme section */
	{"acme {\n  contact = \"mailto:a@example.com\"\n}\n" SVC "}\n",
	 "bad.conf:1: the acme block has no directory — expected directory = "},
	{"acme {\n  directory = \"http://ca.example/dir\"\n}\n" SVC "}\n",
	 "bad.conf:2: directory \"http://ca.example/dir\": not an https URL"},
	{"acme {\n  directory = \"https://ca.example/dir\"\n  contact = "
	 "{\"mailto:a@example.com\", \"a@example.com\"}\n}\n" SVC "}\n",
	 "bad.conf:3: contact \"a@example.com\": not a mailto: address — "
	 "expected \"mailto:pki@example.com\""},
	{"acme {\n  directory = \"https://ca.example/dir\"\n  challenge = "
	 "\"dns-01\"\n}\n" SVC "}\n",
	 "bad.conf:3: challenge \"dns-01\": unknown challenge — expected one "
	 "of tls-alpn-01, http-01"},
	{"acme {\n  directory = \"https://ca.example/dir\"\n  renew_before = "
	 "-1\n}\n" SVC "}\n",
	 "bad.conf:3: renew_before = -1: out of range — use a number of days "
	 "(0 = a third of the lifetime) from 0 to 3650; the default is 0"},
	{"acme {\n  directory = \"https://ca.example/dir\"\n  eab_kid = "
	 "\"kid-1\"\n}\n" SVC "}\n",
	 "bad.conf:3: External Account Binding needs both eab_kid and "
	 "eab_hmac_key"},
	{"acme {\n  directory = \"https://ca.example/dir\"\n  eab_kid = "
	 "\"kid-1\"\n  eab_hmac_key = \"no+padding=\"\n}\n" SVC "}\n",
	 "bad.conf:4: eab_hmac_key: not base64url — expected the HMAC key "
	 "exactly as your CA gave it"},
	{"acme {\n  directory = \"https://ca.example/dir\"\n}\nacme {\n  "
	 "directory = \"https://ca.example/dir\"\n}\n" SVC "}\n",
	 "bad.conf:4: a second acme block (the first is on line 1) — merge "
	 "them into one"},
	{"acme {\n  directory = \"https://ca.example/dir\"\n  bogus = "
	 "1\n}\n" SVC "}\n",
	 "bad.conf:3: unknown option \"bogus\" in the acme block — expected "
	 "one of directory, contact, account_key,"},
	{"certificate c {\n  cert = \"c.crt\"\n  key = \"c.key\"\n  acme = "
	 "true\n}\n" SVC "}\n",
	 "bad.conf:4: certificate \"c\": acme = true, but there is no acme { } "
	 "section — add one"},
	{"acme {\n  directory = \"https://ca.example/dir\"\n}\ncertificate c "
	 "{\n  cert = \"c.crt\"\n  acme = true\n}\n" SVC "}\n",
	 "bad.conf:6: certificate \"c\": acme = true needs a key path"},
	{"acme {\n  directory = \"https://ca.example/dir\"\n}\ncertificate c "
	 "{\n  cert = \"c.crt\"\n  key = \"c.key\"\n  acme = yes "
	 "please\n}\n" SVC "}\n",
	 "bad.conf:7: "},
	/* a stray token: libconfuse says nothing itself; the line is ours */
	{"workers = 1\n\"\"\n", "bad.conf:2: syntax error — every line is"},
};

/* Several errors in one file are all reported, in order. */
static void test_config_all_errors(void **state)
{
	char err[ERRLEN];
	enum config_status st;
	struct config *cfg =
		config_load_string("workers = -1\n"
				   "service s {\n"
				   "  role = \"edge\"\n"
				   "  fqdn = \"a.example.com\"\n"
				   "  listen = \"192.0.2.1:0\"\n"
				   "  mode = \"terminate\"\n"
				   "}\n",
				   "multi.conf", NULL, &st, err, sizeof(err));

	(void)state;
	assert_null(cfg);
	assert_int_equal(st, CONFIG_ERR_SYNTAX);
	assert_non_null(strstr(err, "multi.conf:1: workers = -1"));
	assert_non_null(strstr(err, "\nmulti.conf:3: role \"edge\""));
	assert_non_null(strstr(err, "\nmulti.conf:5: listen \"192.0.2.1:0\": "
				    "port 0 is out of range"));
	assert_true(strstr(err, ":1: ") < strstr(err, ":3: "));
	assert_int_equal(err[strlen(err) - 1], '\n');
}

static void test_config_bad_table(void **state)
{
	char path[512];
	char err[ERRLEN];

	(void)state;
	snprintf(path, sizeof(path), "%s/bad.conf", test_config_tmpdir);
	for (size_t i = 0;
	     i < sizeof(test_config_bad) / sizeof(test_config_bad[0]); i++) {
		const char *text = test_config_bad[i].text;
		/* the NUL case: the text goes on after the NUL */
		size_t len = strlen(text);
		enum config_status st = CONFIG_OK;
		struct config *cfg;

		if (strstr(test_config_bad[i].expected, "NUL byte"))
			len += 1 + strlen(text + len + 1);

		/* from a string (a NUL ends a C string, so only from a file) */
		if (len == strlen(text)) {
			cfg = config_load_string(text, "bad.conf", NULL, &st,
						 err, sizeof(err));
			if (cfg)
				fail_msg("case %zu accepted:\n%s", i, text);
			assert_int_equal(st, CONFIG_ERR_SYNTAX);
			if (!strstr(err, test_config_bad[i].expected))
				fail_msg("case %zu (string): expected\n  "
					 "%s\ngot\n  %s",
					 i, test_config_bad[i].expected, err);
		}

		/* from a file: the message names the path as given */
		test_config_write(path, text, len);
		st = CONFIG_OK;
		cfg = config_load(path, &st, err, sizeof(err));
		if (cfg)
			fail_msg("case %zu accepted from a file", i);
		assert_int_equal(st, CONFIG_ERR_SYNTAX);
		if (!strstr(err, test_config_bad[i].expected))
			fail_msg("case %zu (file): expected\n  %s\ngot\n  %s",
				 i, test_config_bad[i].expected, err);
		assert_memory_equal(err, path, strlen(path));
	}
}

/* The numbers that are accepted, at the edges of their ranges: what is
 * written is what is used, and the line is recorded where the struct has
 * one.  The refusals (0 and negative timeouts, backlog out of range) are in
 * test_config_bad. */
static void test_config_numbers(void **state)
{
	static const struct {
		const char *text; /* written before SVC "}" */
		size_t field;	  /* offsetof(struct config, ...) */
		int value;
	} global[] = {
		{"handshake_timeout = 1\n",
		 offsetof(struct config, handshake_timeout), 1},
		{"idle_timeout = 1\n", offsetof(struct config, idle_timeout),
		 1},
		{"idle_timeout = 86400\n",
		 offsetof(struct config, idle_timeout), 86400},
		{"connect_timeout = 1\n",
		 offsetof(struct config, connect_timeout), 1},
		{"shutdown_timeout = 0\n",
		 offsetof(struct config, shutdown_timeout), 0},
		{"shutdown_timeout = 2147483647\n",
		 offsetof(struct config, shutdown_timeout), 2147483647},
		{"backlog = 1\n", offsetof(struct config, backlog), 1},
		{"backlog = 511\n", offsetof(struct config, backlog), 511},
		{"backlog = 65535\n", offsetof(struct config, backlog), 65535},
	};
	static const struct {
		const char *value;
		int want;
	} response[] = {{"1", 1}, {"60", 60}, {"3600", 3600}};
	char text[512];

	(void)state;
	for (size_t i = 0; i < sizeof(global) / sizeof(global[0]); i++) {
		struct config *cfg;

		snprintf(text, sizeof(text), "%s" SVC "}\n", global[i].text);
		cfg = test_config_ok(text, NULL);
		assert_int_equal(
			*(const int *)((const char *)cfg + global[i].field),
			global[i].value);
		config_free(cfg);
	}
	for (size_t i = 0; i < sizeof(response) / sizeof(response[0]); i++) {
		struct config *cfg;

		snprintf(text, sizeof(text),
			 "backend b {\n  servers = \"10.0.0.1:443\"\n\n  "
			 "response_timeout = %s\n}\n" SVC
			 "  backend = \"b\"\n}\n",
			 response[i].value);
		cfg = test_config_ok(text, NULL);
		assert_int_equal(cfg->backends[0].response_timeout,
				 response[i].want);
		assert_int_equal(cfg->backends[0].response_timeout_line, 4);
		config_free(cfg);
	}
}

/* ---- file problems ----------------------------------------------------- */

static void test_config_missing(void **state)
{
	char path[512], err[ERRLEN];
	enum config_status st = CONFIG_OK;

	(void)state;
	snprintf(path, sizeof(path), "%s/no-such.conf", test_config_tmpdir);
	assert_null(config_load(path, &st, err, sizeof(err)));
	assert_int_equal(st, CONFIG_ERR_READ);
	assert_memory_equal(err, path, strlen(path));
	assert_string_equal(err + strlen(path),
			    ": cannot read: No such file or directory\n");
}

static void test_config_directory(void **state)
{
	char err[ERRLEN];
	enum config_status st = CONFIG_OK;
	char expected[600];

	(void)state;
	assert_null(config_load(test_config_tmpdir, &st, err, sizeof(err)));
	assert_int_equal(st, CONFIG_ERR_READ);
	snprintf(expected, sizeof(expected),
		 "%s: cannot read: is a directory — expected a configuration "
		 "file\n",
		 test_config_tmpdir);
	assert_string_equal(err, expected);
}

static void test_config_unreadable(void **state)
{
	char path[512], err[ERRLEN];
	enum config_status st = CONFIG_OK;

	(void)state;
	/* a file used as a folder: a read error even for root */
	snprintf(path, sizeof(path), "%s/plain.conf", test_config_tmpdir);
	test_config_write(path, "x", 1);
	strcat(path, "/x.conf");
	assert_null(config_load(path, &st, err, sizeof(err)));
	assert_int_equal(st, CONFIG_ERR_READ);
	assert_non_null(strstr(
		err, "plain.conf/x.conf: cannot read: Not a directory\n"));
	/* A mode-000 file.  Root reads it anyway, so as root the check runs
	 * in a child that has become nobody (CI runs as root). */
	snprintf(path, sizeof(path), "%s/secret.conf", test_config_tmpdir);
	test_config_write(path, "x", 1);
	assert_int_equal(chmod(path, 0), 0);
	if (geteuid() == 0) {
		pid_t pid;
		int status = -1;

		assert_int_equal(chmod(test_config_tmpdir, 0711), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			if (setgroups(0, NULL) != 0 || setgid(65534) != 0 ||
			    setuid(65534) != 0)
				_exit(3);
			bool ok = !config_load(path, &st, err, sizeof(err)) &&
				  st == CONFIG_ERR_READ &&
				  strstr(err, ": cannot read: Permission "
					      "denied\n") != NULL;
			_exit(ok ? 0 : 1);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	} else {
		assert_null(config_load(path, &st, err, sizeof(err)));
		assert_int_equal(st, CONFIG_ERR_READ);
		assert_non_null(
			strstr(err, ": cannot read: Permission denied\n"));
	}
	unlink(path);
}

static void test_config_not_regular(void **state)
{
	char err[ERRLEN];
	enum config_status st = CONFIG_OK;

	(void)state;
	assert_null(config_load("/dev/null", &st, err, sizeof(err)));
	assert_int_equal(st, CONFIG_ERR_READ);
	assert_string_equal(err, "/dev/null: cannot read: not a regular file — "
				 "expected a configuration file\n");
}

static void test_config_empty_file(void **state)
{
	char path[512], err[ERRLEN];
	enum config_status st = CONFIG_OK;

	(void)state;
	snprintf(path, sizeof(path), "%s/empty.conf", test_config_tmpdir);
	test_config_write(path, "", 0);
	assert_null(config_load(path, &st, err, sizeof(err)));
	assert_int_equal(st, CONFIG_ERR_SYNTAX);
	assert_non_null(
		strstr(err, "empty.conf: no service is defined — add at least "
			    "one service section (see conf/edge443.conf)\n"));
}

/* Random bytes, with and without NULs, and every prefix of the good file:
 * an error naming the file or a config, never a crash or a sanitizer report. */
static void test_config_garbage(void **state)
{
	char path[512], err[ERRLEN];
	char *good_path =
		test_config_join(test_config_src(), "tests/config/good.conf");
	char *good = test_config_read(good_path);
	size_t good_len = strlen(good);
	unsigned seed = 443;
	unsigned char buf[4096];

	(void)state;
	snprintf(path, sizeof(path), "%s/garbage.conf", test_config_tmpdir);
	for (int round = 0; round < 300; round++) {
		size_t len = (size_t)(rand_r(&seed) % sizeof(buf));
		enum config_status st = CONFIG_OK;
		struct config *cfg;

		for (size_t i = 0; i < len; i++) {
			unsigned r = (unsigned)rand_r(&seed);

			/* half the rounds: printable text with config tokens */
			if (round % 2)
				buf[i] = (unsigned char)"{}=\"'#/*,+()\n ab1:.$"
					[r % 20];
			else
				buf[i] = (unsigned char)r;
		}
		test_config_write(path, (const char *)buf, len);
		cfg = config_load(path, &st, err, sizeof(err));
		if (!cfg) {
			assert_int_equal(st, CONFIG_ERR_SYNTAX);
			assert_memory_equal(err, path, strlen(path));
			assert_int_equal(err[strlen(path)], ':');
		}
		config_free(cfg);
	}
	/* a binary file with a NUL in the first line */
	memcpy(buf,
	       "\x7f"
	       "ELF\0\x01\x02",
	       7);
	test_config_write(path, (const char *)buf, 7);
	{
		enum config_status st = CONFIG_OK;

		assert_null(config_load(path, &st, err, sizeof(err)));
		assert_int_equal(st, CONFIG_ERR_SYNTAX);
		assert_non_null(strstr(
			err, "garbage.conf:1: binary data (a NUL byte)"));
	}
	/* truncated: every prefix */
	for (size_t n = 0; n < good_len; n++) {
		enum config_status st = CONFIG_OK;
		struct config *cfg;

		test_config_write(path, good, n);
		cfg = config_load(path, &st, err, sizeof(err));
		if (!cfg) {
			assert_int_equal(st, CONFIG_ERR_SYNTAX);
			assert_memory_equal(err, path, strlen(path));
		}
		config_free(cfg);
	}
	free(good);
	free(good_path);
}

/* 10,000 services load; duplicates among them are still found. */
static void test_config_many_sections(void **state)
{
	const size_t n = 10000;
	size_t cap = n * 120 + 64, used = 0;
	char *text = malloc(cap);
	char err[ERRLEN];
	enum config_status st;
	struct config *cfg;

	(void)state;
	assert_non_null(text);
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(
			text + used, cap - used,
			"service s%zu {\n fqdn = \"s%zu.example.com\"\n listen "
			"= \"10.%zu.%zu.1:443\"\n mode = \"terminate\"\n}\n",
			i, i, i / 256, i % 256);
	cfg = config_load_string(text, "many.conf", NULL, &st, err,
				 sizeof(err));
	if (!cfg)
		fail_msg("%s", err);
	assert_int_equal(cfg->nservices, n);
	assert_string_equal(cfg->services[n - 1].name, "s9999");
	assert_int_equal(cfg->services[n - 1].line, (int)(5 * (n - 1) + 1));
	assert_int_equal(cfg->services[n - 1].mode_line,
			 (int)(5 * (n - 1) + 4));
	config_free(cfg);

	/* the same name again at the end */
	used += (size_t)snprintf(text + used, cap - used, "service s17 {\n}\n");
	cfg = config_load_string(text, "many.conf", NULL, &st, err,
				 sizeof(err));
	assert_null(cfg);
	assert_non_null(
		strstr(err, "many.conf:50001: found duplicate title 's17'"));
	free(text);
}

/* The error buffer is always terminated, however small. */
static void test_config_errlen(void **state)
{
	char err[16];
	enum config_status st;

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_null(config_load_string("bogus = 1\n", "a-long-file-name.conf",
				       NULL, &st, err, sizeof(err)));
	assert_int_equal(st, CONFIG_ERR_SYNTAX);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_memory_equal(err, "a-long-file-nam", 15);
	assert_null(config_load_string("bogus = 1\n", "x", NULL, &st, err, 1));
	assert_int_equal(err[0], '\0');
	assert_null(config_load_string("bogus = 1\n", "x", NULL, &st, NULL, 0));
	assert_null(config_load("/nonexistent/x.conf", &st, NULL, 0));
	assert_int_equal(st, CONFIG_ERR_READ);
	config_free(NULL);
}

/* ---- setup ------------------------------------------------------------- */

static int test_config_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	(void)state;
	snprintf(test_config_tmpdir, sizeof(test_config_tmpdir),
		 "%s/test_config.XXXXXX", tmp ? tmp : "/tmp");
	return mkdtemp(test_config_tmpdir) ? 0 : -1;
}

static int test_config_teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_config_tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A huge value quoted in a message: the message keeps what is wrong and
 * what to do, and leaves out the middle of the value (saying how much). */
static void test_config_huge_value(void **state)
{
	size_t n = 1000000;
	char *text = malloc(n + 64);
	char err[65536];
	enum config_status st;
	struct config *cfg;

	(void)state;
	assert_non_null(text);
	strcpy(text, "platform = \"");
	memset(text + strlen(text), 'a', n);
	strcpy(text + 12 + n, "\"\n");
	cfg = config_load_string(text, "big.conf", NULL, &st, err, sizeof(err));
	assert_null(cfg);
	assert_non_null(strstr(err, "big.conf:1: platform \"aaaa"));
	assert_non_null(strstr(err, "bytes left out"));
	assert_non_null(strstr(err, "expected one of"));
	assert_true(strlen(err) < 4096);
	free(text);
}

/* Options whose errors are reported later (run) still have their line. */
static void test_config_late_lines(void **state)
{
	char err[4096];
	enum config_status st;
	struct config *cfg = config_load_string(
		"workers = 1\nticket_key_file = \"/nonexistent/k\"\n"
		"log_file = \"/nonexistent/log\"\nuser = \"nobody\"\n"
		"backend b { servers = {\"127.0.0.1:9\"} }\n"
		"service s {\n  fqdn = \"a.example.com\"\n"
		"  listen = \"127.0.0.1:1\"\n  mode = \"passthrough\"\n"
		"  backend = \"b\"\n}\n",
		"late.conf", NULL, &st, err, sizeof(err));

	(void)state;
	if (!cfg)
		fail_msg("%s", err);
	assert_int_equal(cfg->ticket_key_file_line, 2);
	assert_int_equal(cfg->log_file_line, 3);
	config_free(cfg);
}

/* The acme section: every option read, paths resolved, defaults filled. */
/* worker_mode: both names, with the line recorded; the default is in
 * test_config_defaults, bad values in the table. */
static void test_config_worker_mode(void **state)
{
	static const struct {
		const char *text;
		enum config_worker_mode want;
	} cases[] = {
		{"workers = 2\nworker_mode = \"processes\"\n",
		 CONFIG_WORKERS_PROCESSES},
		{"workers = 2\nworker_mode = threads\n",
		 CONFIG_WORKERS_THREADS},
	};
	char text[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "%s%s}\n", cases[i].text, SVC);
		struct config *cfg = test_config_ok(text, NULL);
		assert_int_equal(cfg->worker_mode, cases[i].want);
		assert_int_equal(cfg->worker_mode_line, 2);
		config_free(cfg);
	}
}

static void test_config_acme(void **state)
{
	char err[ERRLEN];
	enum config_status st;
	struct config *cfg = config_load_string(
		"acme {\n"
		"  directory = \"https://ca.example/dir\"\n"
		"  contact = {\"mailto:a@example.com\", "
		"\"mailto:b@example.com\"}\n"
		"  state_dir = \"acme\"\n"
		"  eab_kid = \"kid-1\"\n"
		"  eab_hmac_key = "
		"\"zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG\"\n"
		"  trust_file = \"/etc/ca.pem\"\n"
		"  challenge = \"http-01\"\n"
		"  renew_before = 20\n"
		"}\n"
		"certificate c {\n  cert = \"c.crt\"\n  key = \"c.key\"\n"
		"  acme = true\n}\n"
		"certificate d {\n  cert = \"d.crt\"\n}\n" SVC "}\n",
		"acme.conf", "/etc/e", &st, err, sizeof(err));

	(void)state;
	if (!cfg)
		fail_msg("%s", err);
	assert_true(cfg->acme.present);
	assert_int_equal(cfg->acme.line, 1);
	assert_string_equal(cfg->acme.directory, "https://ca.example/dir");
	assert_int_equal(cfg->acme.ncontact, 2);
	assert_string_equal(cfg->acme.contact[1], "mailto:b@example.com");
	assert_string_equal(cfg->acme.state_dir, "/etc/e/acme");
	assert_string_equal(cfg->acme.account_key, "/etc/e/acme/account.key");
	assert_string_equal(cfg->acme.eab_kid, "kid-1");
	assert_int_equal(cfg->acme.eab_hmac_key_line, 6);
	assert_string_equal(cfg->acme.trust_file, "/etc/ca.pem");
	assert_int_equal(cfg->acme.challenge, CONFIG_ACME_HTTP_01);
	assert_string_equal(config_acme_challenge_name(cfg->acme.challenge),
			    "http-01");
	assert_int_equal(cfg->acme.renew_before, 20);
	assert_true(cfg->certs[0].acme);
	assert_int_equal(cfg->certs[0].acme_line, 14);
	assert_false(cfg->certs[1].acme);
	config_free(cfg);

	cfg = config_load_string(
		"acme {\n  directory = \"https://x/d\"\n}\n" SVC "}\n",
		"acme.conf", "/etc/e", &st, err, sizeof(err));
	if (!cfg)
		fail_msg("%s", err);
	assert_string_equal(cfg->acme.state_dir, "/var/lib/edge443/acme");
	assert_string_equal(cfg->acme.account_key,
			    "/var/lib/edge443/acme/account.key");
	assert_int_equal(cfg->acme.challenge, CONFIG_ACME_TLS_ALPN_01);
	assert_int_equal(cfg->acme.renew_before, 0);
	assert_null(cfg->acme.eab_kid);
	assert_null(cfg->acme.trust_file);
	config_free(cfg);

	cfg = config_load_string(SVC "}\n", "acme.conf", NULL, &st, err,
				 sizeof(err));
	if (!cfg)
		fail_msg("%s", err);
	assert_false(cfg->acme.present);
	assert_null(cfg->acme.directory);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_huge_value),
		cmocka_unit_test(test_config_late_lines),
		cmocka_unit_test(test_config_good_file),
		cmocka_unit_test(test_config_good_string),
		cmocka_unit_test(test_config_relative_paths),
		cmocka_unit_test(test_config_platforms),
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_numbers),
		cmocka_unit_test(test_config_names),
		cmocka_unit_test(test_config_addr),
		cmocka_unit_test(test_config_addr_host),
		cmocka_unit_test(test_config_bad_table),
		cmocka_unit_test(test_config_acme),
		cmocka_unit_test(test_config_worker_mode),
		cmocka_unit_test(test_config_all_errors),
		cmocka_unit_test(test_config_missing),
		cmocka_unit_test(test_config_directory),
		cmocka_unit_test(test_config_unreadable),
		cmocka_unit_test(test_config_not_regular),
		cmocka_unit_test(test_config_empty_file),
		cmocka_unit_test(test_config_garbage),
		cmocka_unit_test(test_config_many_sections),
		cmocka_unit_test(test_config_errlen),
	};

	return cmocka_run_group_tests(tests, test_config_setup,
				      test_config_teardown);
}
