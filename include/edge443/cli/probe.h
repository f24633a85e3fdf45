/* probe.h — what a client really sees: connect to each listener and judge
 * the chain it serves.
 *
 * probe.c connects to each service's listen address (or an address given on
 * the command line) as a TLS client, once with the service FQDN as SNI and
 * once without, records the chain as served and applies the per-certificate
 * and per-service rules of rules.c to it, plus the probe rules
 * (unreachable, served-differs, served-chain-incomplete, served-no-sni).  For
 * re-encrypting services it also connects to every backend server the way
 * edge443 would (tls_client_ctx_new) and reports a backend that fails
 * verification.  With --pool (probe_pool.c) it also connects to every
 * server of each pool backend directly — passthrough backends, whose
 * members terminate TLS themselves, and web-services backends that speak
 * TLS — and reports pool-consistent when they do not all present the same
 * leaf and chain.  With --pool NODE... (probe_nodes.c) it also fetches
 * each node's /served document from its admin endpoint and compares it
 * with the plan.  Every connect and handshake is bounded by the configured
 * connect_timeout: a probe never hangs.  Nothing here prints: report.c
 * formats the rows and findings.
 */
#ifndef EDGE443_PROBE_H
#define EDGE443_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "edge443/config/config.h"
#include "edge443/rules/rules.h"

/* How one connection attempt ended. */
enum probe_state {
	PROBE_STATE_TLS,	 /* handshake done, a certificate was served */
	PROBE_STATE_UNREACHABLE, /* no TCP connection, or no TLS handshake
				    within the timeout */
	PROBE_STATE_NOT_TLS,	 /* TCP accepted but no TLS; fine for an av-edge
				    service without a certificate */
	PROBE_STATE_SKIPPED,	 /* not attempted (see note) */
};

/* Does the leaf served equal the certificate that the plan names? */
enum probe_match {
	PROBE_MATCH_NA, /* nothing to compare (no certificate named, not served,
			   unreadable) */
	PROBE_MATCH_YES,
	PROBE_MATCH_NO,
};

/* The chain as served, verified to trust_file (listeners) or to the
 * backend's trust_file (backend rows). */
enum probe_chain {
	PROBE_CHAIN_UNCHECKED, /* not verified (no certificate, trust file
				  unreadable, verify = false) */
	PROBE_CHAIN_OK,
	PROBE_CHAIN_INCOMPLETE, /* the chain as served does not verify to
				   trust_file */
	PROBE_CHAIN_FAILED, /* a backend failed edge443's verification (name,
			       chain, validity) */
};

/* One connection attempt: one table row. */
struct probe_row {
	const char *service; /* borrowed from the config: the service name */
	const char *backend; /* borrowed: the backend name for a backend row,
				else NULL */
	bool pool;	     /* a pool member probed directly (--pool) */
	bool node;	 /* what a node of the pool reports (--pool NODE...) */
	char target[80]; /* "127.0.2.11:443" as connected to */
	char *sni;	 /* owned; NULL when no SNI was sent */
	enum probe_state state;
	char served_cn[256];  /* CN of the leaf served, "" when none */
	char subject[256];    /* one-line subject of the leaf served */
	char fingerprint[96]; /* SHA-256 of the leaf served, "AA:BB:...", ""
				 when none */
	enum probe_match match;
	enum probe_chain chain;
	char version[16]; /* "TLSv1.3", "" when no handshake */
	char cipher[64];
	char note[256]; /* short human text: why it failed, what it is */
	double seconds; /* how long the attempt took */
};

/* Everything one probe run found.  Zero-initialise before probe_run; free
 * with probe_report_free. */
struct probe_report {
	struct probe_row *rows;
	size_t n, cap;
	struct findings findings;
};

struct probe_options {
	const char *service; /* NULL: every service (with a target: the only
				service of the configuration) */
	const struct config_addr
		*target; /* NULL: each service's listen addresses; else connect
			    here instead, for SERVICE only (backends are then
			    not probed) */
	time_t now;	 /* validity as of this time; 0 = now */
	bool pool;	 /* --pool: also connect to every server of each
			    passthrough backend and each TLS backend of a
			    web-services service directly; ignored with a target */
	/* --pool NODE...: the admin endpoints of the pool's nodes, whose
	 * /served documents are compared with this configuration's plan
	 * (probe_nodes.c); borrowed */
	const struct config_addr *nodes;
	size_t nnodes;
};

/* The connect timeout that probe uses for CFG: cfg->connect_timeout, or 5 s
 * when it is 0 (a probe never waits without a bound). */
int probe_timeout(const struct config *cfg);

/* Probe the services of CFG selected by OPT (NULL: all, at their listen
 * addresses).  PC is rules_load_certs(cfg): the configured certificates that
 * the served leaves are compared with.  Appends rows and findings to OUT.
 * Returns 0 (whatever was found), -1 on allocation failure, when
 * opt->service names no service, or when opt->target is given without
 * opt->service and CFG has more than one service (OUT then holds what was
 * done so far). */
int probe_run(const struct config *cfg, const struct rules_certs *pc,
	      const struct probe_options *opt, struct probe_report *out);

/* Frees what OUT holds (not OUT itself); NULL is accepted. */
void probe_report_free(struct probe_report *out);

/* Human text for a row's state / match / chain ("tls", "unreachable", ...). */
const char *probe_state_name(enum probe_state st);
const char *probe_match_name(enum probe_match m);
const char *probe_chain_name(enum probe_chain c);

#endif
