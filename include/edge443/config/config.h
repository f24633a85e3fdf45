/* config.h — the edge443 configuration as plain structs.
 *
 * config.c is the only code that knows libconfuse: it parses the file,
 * validates every value (with file and line), resolves relative paths against
 * the config file's folder and hands back a `struct config` that owns all of
 * its strings and arrays.  Nothing here does certificate work; the plan rules
 * (rules.c) and the runtime (tls.c, listener.c, ...) read these structs only.
 *
 * Every section and option records the line it was written on (0 when the
 * option was not written and its default applies), so that findings can say
 * `file:line`.
 */
#ifndef EDGE443_CONFIG_H
#define EDGE443_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "edge443/base/log.h"

#define CONFIG_DEFAULT_PATH "/etc/edge443/edge443.conf"

/* Certificate sections one service (one listener) may serve: the limit is
 * checked here, once, and the runtime and the SSL contexts rely on it. */
#define CONFIG_MAX_LISTENER_CERTS 16

enum config_role {
	CONFIG_ROLE_ACCESS_EDGE,   /* "access-edge" */
	CONFIG_ROLE_WEBCONF_EDGE,  /* "webconf-edge" */
	CONFIG_ROLE_AV_EDGE,	   /* "av-edge" */
	CONFIG_ROLE_EDGE_INTERNAL, /* "edge-internal" */
	CONFIG_ROLE_CWA,	   /* "cwa" */
	CONFIG_ROLE_WEB,	   /* "web" */
	CONFIG_ROLE_GENERIC,	   /* "generic" (the default) */
	/* The reverse proxy of Lync 2010 and later: */
	CONFIG_ROLE_WEB_SERVICES,    /* "web-services": a front-end pool's
					external web services, simple URLs,
					lyncdiscover */
	CONFIG_ROLE_OFFICE_WEB_APPS, /* "office-web-apps": Office Web Apps /
					Office Online Server */
};

enum config_mode {
	CONFIG_MODE_TERMINATE,	 /* "terminate" */
	CONFIG_MODE_REENCRYPT,	 /* "reencrypt" */
	CONFIG_MODE_PASSTHROUGH, /* "passthrough" */
};

enum config_proxy_protocol {
	CONFIG_PROXY_OFF, /* "off" */
	CONFIG_PROXY_V1,  /* "v1" */
	CONFIG_PROXY_V2,  /* "v2" */
};

enum config_host_header {
	CONFIG_HOST_ORIGINAL, /* "original" */
	CONFIG_HOST_BACKEND,  /* "backend" */
};

/* In release order, so that "Lync 2013 and later" is p >= LYNC2013. */
/* How the workers run (worker_mode). */
enum config_worker_mode {
	CONFIG_WORKERS_THREADS,	  /* "threads" (the default): one process */
	CONFIG_WORKERS_PROCESSES, /* "processes": one child process each */
};

enum config_platform {
	CONFIG_PLATFORM_OCS2007R2, /* "ocs2007r2" (the default) */
	CONFIG_PLATFORM_LYNC2010,  /* "lync2010" ("lync" is accepted as this) */
	CONFIG_PLATFORM_LYNC2013,  /* "lync2013" */
	CONFIG_PLATFORM_SFB2015,   /* "sfb2015" */
	CONFIG_PLATFORM_SFB2019,   /* "sfb2019" */
	CONFIG_PLATFORM_SFBSE,	   /* "sfbse": Subscription Edition */
};
#define CONFIG_PLATFORM_COUNT (CONFIG_PLATFORM_SFBSE + 1)

/* TLS protocol versions as OpenSSL numbers (TLS1_2_VERSION, ...), 0 = unset. */

/* An "IP:port" or "[IPv6]:port" string, parsed. */
struct config_addr {
	char *text; /* as written, e.g. "192.0.2.10:443" */
	struct sockaddr_storage sa;
	socklen_t salen;
	int port;
};

struct config_cert {
	char *name;  /* section title */
	char *cert;  /* absolute or relative-to-cwd path after resolution; NULL
			if absent */
	char *chain; /* NULL if absent */
	char *key;   /* NULL if absent */
	int line;    /* line of "certificate NAME {" */
	int cert_line, chain_line, key_line;
	bool acme; /* acme = true: `edge443 order` orders it from the acme
		      section's CA (its names come from the plan) */
	int acme_line;
};

struct config_backend {
	char *name;
	struct config_addr *servers;
	size_t nservers;
	bool tls;
	char *trust_file;  /* NULL if absent (resolved path) */
	char *verify_name; /* NULL if absent */
	bool verify;	   /* default true; false must be explicit */
	bool verify_set;   /* "verify" was written in the file */
	enum config_proxy_protocol proxy_protocol;
	int response_timeout; /* seconds from the request's last byte to the
			       * response head (http services: 504); > 0,
			       * default 60 */
	int line;
	int servers_line, tls_line, trust_file_line, verify_name_line,
		verify_line, proxy_protocol_line, response_timeout_line;
};

struct config_http {
	bool present; /* an http { } block was written */
	char **paths; /* allowed path prefixes; default {"/"} */
	size_t npaths;
	enum config_host_header host_header;
	struct config_addr redirect_http; /* .text == NULL when absent */
	int line;
	int paths_line, host_header_line, redirect_http_line;
};

/* How the ACME CA validates the names: RFC 8737 on the service's own
 * listen address, or RFC 8555 section 8.3 on its redirect_http address. */
enum config_acme_challenge {
	CONFIG_ACME_TLS_ALPN_01, /* "tls-alpn-01" (the default) */
	CONFIG_ACME_HTTP_01,	 /* "http-01" */
};

/* The acme { } section (at most one); owned by struct config like the rest.
 * present is false when it was not written, and every pointer is NULL. */
struct config_acme {
	bool present;
	char *directory; /* the CA's directory URL (https://...); required */
	char **contact;	 /* "mailto:..." each */
	size_t ncontact;
	char *account_key; /* resolved path; default STATE_DIR/account.key;
			      created (0600) when missing */
	char *state_dir;   /* resolved path; default /var/lib/edge443/acme;
			      created (0700) when missing */
	char *eab_kid;	   /* External Account Binding key id; NULL if absent */
	char *eab_hmac_key; /* its HMAC key, base64url as the CA gives it */
	char *trust_file;   /* CAs for the ACME server's own HTTPS; NULL: the
			       system's */
	enum config_acme_challenge challenge;
	int renew_before; /* days before expiry; 0 = a third of the lifetime */
	int line;
	int directory_line, contact_line, account_key_line, state_dir_line,
		eab_kid_line, eab_hmac_key_line, trust_file_line,
		challenge_line, renew_before_line;
};

struct config_service {
	char *name;
	enum config_role role;
	char *fqdn;
	struct config_addr *listen; /* at least one */
	size_t nlisten;
	char *certificate; /* certificate section name; NULL if absent */
	char **extra_certificates; /* further sections served by the same
				    * listener (certificate = {"rsa", "ecdsa"}):
				    * one per key type, OpenSSL picks by the
				    * client's signature algorithms */
	size_t nextra_certificates;
	enum config_mode mode;
	char *backend; /* backend section name; NULL if absent */
	char **sip_domains;
	size_t nsip_domains;
	char **simple_urls; /* web-services: host names of the simple URLs
			       (meet, dialin, admin) the certificate covers */
	size_t nsimple_urls;
	bool federation;
	bool sni_strict;
	int tls_min, tls_max; /* 0 = use the global setting */
	struct config_http http;
	int line;
	int role_line, fqdn_line, listen_line, certificate_line, mode_line,
		backend_line, sip_domains_line, simple_urls_line,
		federation_line, sni_strict_line, tls_min_line, tls_max_line;
};

struct config {
	char *file; /* the path as given */
	char *dir;  /* folder of the file, for relative paths */

	char *user; /* NULL: do not drop privileges */
	int workers;
	enum config_worker_mode worker_mode;
	int worker_mode_line; /* 0 when absent */
	char *trust_file;     /* default /etc/ssl/certs/ca-certificates.crt */
	int warn_days;
	/* seconds, all > 0 except shutdown_timeout (0 = close open connections
	 * at once, without draining) */
	int handshake_timeout, idle_timeout, connect_timeout, shutdown_timeout;
	int max_connections;
	int backlog;   /* listen backlog of every listener, 1-65535; default
			* 1024 (the kernel caps it at net.core.somaxconn) */
	bool freebind; /* bind service addresses this machine does not hold
			* (yet): the backup of a keepalived pair */
	int tls_min, tls_max;  /* default TLS 1.2 / 1.3 */
	char *ticket_key_file; /* NULL if absent */
	char *log_file;	       /* NULL: stderr (syslog with --daemon) */
	bool log_syslog;       /* syslog = true: log to syslog */
	enum log_level log_level;
	struct config_addr admin; /* .text == NULL when absent */
	enum config_platform platform;
	int trust_file_line, tls_min_line, tls_max_line, warn_days_line;
	int user_line, ticket_key_file_line, log_file_line;

	struct config_cert *certs;
	size_t ncerts;
	struct config_backend *backends;
	size_t nbackends;
	struct config_service *services;
	size_t nservices;
	struct config_acme acme;
};

/* Result of config_load (the command line chooses the exit status). */
enum config_status {
	CONFIG_OK,
	CONFIG_ERR_SYNTAX, /* a syntax or value error */
	CONFIG_ERR_READ,   /* the file is missing, unreadable, not a file */
};

/* Parse and validate PATH.  On success returns a new config (free with
 * config_free) and sets *status to CONFIG_OK.  On failure returns NULL, sets
 * *status, and writes every error message, one per line, each starting with
 * "FILE:LINE: " (or "FILE: " when no line applies), into err (truncated to
 * errlen).  Never prints. */
struct config *config_load(const char *path, enum config_status *status,
			   char *err, size_t errlen);

/* Same as config_load, but parses TEXT; NAME is used as the file name in
 * messages and relative paths resolve against DIR (may be NULL = "."). */
struct config *config_load_string(const char *text, const char *name,
				  const char *dir, enum config_status *status,
				  char *err, size_t errlen);

void config_free(struct config *cfg);

/* Lookups by section name; NULL when absent. */
const struct config_cert *config_find_cert(const struct config *cfg,
					   const char *name);
const struct config_backend *config_find_backend(const struct config *cfg,
						 const char *name);

/* Names as written in the file ("access-edge", "reencrypt", ...). */
const char *config_role_name(enum config_role role);
const char *config_mode_name(enum config_mode mode);
/* The host part of ADDR as written, without brackets ("192.0.2.10",
 * "2001:db8::10"), into BUF (LEN bytes): what evhttp and libcurl want.
 * NULL when it does not fit. */
const char *config_addr_host(const struct config_addr *addr, char *buf,
			     size_t len);
/* "ocs2007r2", "lync2010", ..., "sfbse". */
const char *config_platform_name(enum config_platform platform);
/* "tls-alpn-01" or "http-01". */
const char *config_acme_challenge_name(enum config_acme_challenge c);
/* "1.2" for TLS1_2_VERSION etc.; "?" for anything else. */
const char *config_tls_name(int version);

/* True when SVC serves certificate section NAME (first or extra). */
bool config_service_uses_cert(const struct config_service *svc,
			      const char *name);

/* The effective min/max TLS version of a service (service overrides global). */
int config_service_tls_min(const struct config *cfg,
			   const struct config_service *svc);
int config_service_tls_max(const struct config *cfg,
			   const struct config_service *svc);

/* Parse "IP:port" / "[IPv6]:port" into ADDR (text is duplicated).  Returns 0,
 * or -1 with a reason ("port 70000 is out of range 1-65535", ...) in err. */
int config_addr_parse(const char *text, struct config_addr *addr, char *err,
		      size_t errlen);

#endif
