/* probe_internal.h — shared between the files of probe, and its unit test.
 *
 * Not part of the probe API: other modules include probe.h.  The files
 * depend one way: probe.c (what to probe, and the judging of what a
 * listener or a re-encrypting backend served) uses probe_pool.c (--pool:
 * every member of a pool backend, and the pool-consistent verdict) and
 * probe_nodes.c (--pool NODE...: the nodes' /served documents), and all
 * use probe_row.c (the rows of the report) and probe_io.c (one client
 * connection: a non-blocking TCP connect and an OpenSSL client handshake,
 * both bounded by one deadline).  The judging functions take certificate
 * facts (struct cert_info) and never touch the network, so
 * tests/unit/cli/test_probe.c calls them directly.
 */
#ifndef EDGE443_PROBE_INTERNAL_H
#define EDGE443_PROBE_INTERNAL_H

#include <jansson.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "edge443/cert/cert.h"
#include "edge443/cli/probe.h"
#include "edge443/config/config.h"
#include "edge443/rules/rules.h"

/* What one probe run shares between its steps (probe_run fills it; a test
 * may fill it by hand: cfg, pc, out and now are what judging reads). */
struct probe_ctx {
	const struct config *cfg;
	const struct rules_certs *pc;	 /* may be NULL: nothing is compared */
	const struct probe_options *opt; /* may be NULL */
	struct probe_report *out;
	SSL_CTX *ctx; /* the listener client context: sees everything, verifies
			 nothing */
	int timeout;  /* seconds, > 0 */
	time_t now;
	bool trust_reported; /* the trust_file failure was reported once */
	const struct config_backend **probed; /* re-encrypting backends already
						 probed (cfg->nbackends) */
	size_t nprobed;
	const struct config_backend **pooled; /* backends whose pool was
						 probed (cfg->nbackends) */
	size_t npooled;
};

/* ---- probe_io.c: one connection ---------------------------------------- */

/* How one connect + handshake ended. */
enum probe_io {
	PROBE_IO_OK,  /* handshake complete */
	PROBE_IO_TCP, /* no TCP connection */
	PROBE_IO_TLS, /* TCP connected, the handshake failed or timed out */
};

/* Connect to ADDR and run the client handshake of SSL (connect state and
 * SNI already set by the caller, who keeps ownership and may read the peer
 * certificate afterwards), connect and handshake together within TIMEOUT
 * seconds (> 0).  Fills ROW's version, cipher and seconds; on failure the
 * reason ("Connection refused", "no TLS handshake within 1 s ...", the
 * OpenSSL reason or, when SSL verifies its peer, the verify reason) goes to
 * err.  The socket is closed before returning.  Drains the OpenSSL error
 * queue. */
enum probe_io probe_io_attempt(const struct config_addr *addr, SSL *ssl,
			       int timeout, struct probe_row *row, char *err,
			       size_t errlen);

/* One handshake from CTX to ADDR with SNI (NULL: none), as probe_io_attempt.
 * On success *ci is the chain served (leaf first; the caller frees it); a
 * handshake without a server certificate is PROBE_IO_TLS.  *io says how it
 * ended.  0, -1 out of memory. */
int probe_io_fetch(SSL_CTX *ctx, const struct config_addr *addr,
		   const char *sni, int timeout, struct probe_row *row,
		   enum probe_io *io, struct cert_info **ci, char *err,
		   size_t errlen);

/* NAME as SNI: NULL for NULL, "" or an IP literal (never sent as SNI,
 * RFC 6066). */
const char *probe_io_sni(const char *name);

/* The client context for listeners: any protocol version and key size (the
 * rules judge what is served, so the handshake must not refuse it first)
 * and no verification (probe verifies the chain itself, against
 * trust_file).  NULL on allocation failure. */
SSL_CTX *probe_io_client_ctx_new(void);

/* ---- probe_row.c: the rows of the report -------------------------------- */

/* A new zeroed row at the end of OUT (SNI copied, the others borrowed): its
 * index, or -1 (out of memory).  Rows may move: keep the index, not a
 * pointer, across a call. */
long probe_row_add(struct probe_report *out, const char *service,
		   const char *backend, const char *target, const char *sni);

/* Record the leaf facts of CI in ROW (state tls) and compare it with
 * PLANNED, the loaded certificate CC of the plan (either may be NULL). */
void probe_row_cert(struct probe_row *row, const struct cert_info *ci,
		    const struct config_cert *cc,
		    const struct cert_info *planned);

/* Fill a failed row: state and note.  True (state not-tls, no finding due)
 * for an av-edge service without a certificate, whose TCP 443 need not be
 * TLS at all. */
bool probe_row_failed(const struct config_service *svc, struct probe_row *row,
		      enum probe_io io, const char *reason);

/* Where a finding points: the configuration's file name, LINE or FALLBACK
 * when LINE is unknown, and the subject "service \"NAME\"" into BUF. */
const char *probe_file(const struct config *cfg);
int probe_line(int line, int fallback);
const char *probe_subject(const struct config_service *svc, char *buf,
			  size_t len);

/* The loaded certificate of the plan for CC, or NULL (none, unreadable). */
const struct cert_info *probe_planned(const struct probe_ctx *pctx,
				      const struct config_cert *cc);

/* ---- probe.c: judging what a listener served ---------------------------- */

/* Verify the chain CI served to cfg->trust_file; sets row->chain.  A trust
 * file that cannot be used is a file-unreadable finding, once per run.  0,
 * -1 out of memory. */
int probe_verify(struct probe_ctx *pctx, struct cert_info *ci,
		 struct probe_row *row);

/* The served-differs error for ROW of SVC at WHERE: the leaf served
 * (row->subject, row->fingerprint) is not PLANNED, certificate CC of the
 * plan.  0, -1 out of memory. */
int probe_differs(struct probe_ctx *pctx, const struct config_service *svc,
		  const struct config_cert *cc, const struct cert_info *planned,
		  const struct probe_row *row, const char *where);

/* Apply the per-certificate and per-service rules to the chain CI served at
 * WHERE (after probe_verify), plus served-differs (row->match no) and
 * served-chain-incomplete (chain-incomplete said about the wire).  0, -1 out
 * of memory. */
int probe_judge(struct probe_ctx *pctx, const struct config_service *svc,
		const struct config_cert *cc, const struct cert_info *planned,
		const struct cert_info *ci, const struct probe_row *row,
		const char *where);

/* The served-no-sni warning, if due: the handshake without SNI at WHERE
 * failed (CI NULL, REASON why) or served CI, while the one with SNI served
 * the leaf of fingerprint WITH_SNI_FP.  0, -1 out of memory. */
int probe_no_sni_judge(struct probe_ctx *pctx, const struct config_service *svc,
		       const char *where, const char *with_sni_fp,
		       const struct cert_info *ci, const char *reason);

/* ---- probe_pool.c: --pool ---------------------------------------------- */

/* What one pool member served. */
struct probe_member {
	const char *target;	    /* borrowed: "127.0.2.21:5061" */
	const struct cert_info *ci; /* borrowed: leaf and chain served; NULL
				       when the member was not reached */
};

/* True when A and B present the same leaf (by SHA-256 fingerprint) and the
 * same intermediates in the same order. */
bool probe_pool_same(const struct cert_info *a, const struct cert_info *b);

/* The pool-consistent error when the reached members M[0..N) of backend BE
 * (the pool of service SVC) do not all present what the first reached one
 * does.  CC is the certificate the plan names for the members and PLANNED
 * its loaded facts (either may be NULL): the message says which members
 * serve it.  Members not reached are left out (they are unreachable
 * findings).  0, -1 out of memory. */
int probe_pool_judge(struct findings *out, const struct config *cfg,
		     const struct config_service *svc,
		     const struct config_backend *be,
		     const struct config_cert *cc,
		     const struct cert_info *planned,
		     const struct probe_member *m, size_t n);

/* Whether probe --pool connects to the servers of SVC's backend BE: a
 * passthrough service (each member terminates TLS itself), or a
 * web-services service whose backend speaks TLS (the front-end pool). */
bool probe_pool_applies(const struct config_service *svc,
			const struct config_backend *be);

/* --pool for SVC: connect to every server of its backend directly (once per
 * backend per run), add a row for each, an unreachable error for a server
 * that does not answer (unless probe.c already probed that re-encrypting
 * backend), and probe_pool_judge.  CC and PLANNED are the plan's certificate
 * for SVC, for the MATCHES PLAN column.  0, -1 out of memory. */
int probe_pool(struct probe_ctx *pctx, const struct config_service *svc,
	       const struct config_cert *cc, const struct cert_info *planned);

/* ---- probe_nodes.c: --pool NODE... ----------------------------------------
 */

/* Fetch every node's /served (pctx->opt->nodes) and judge it: a row per node
 * and service, pool-consistent for every difference from the plan, and
 * unreachable for a node that does not answer.  0, -1 out of memory. */
int probe_nodes(struct probe_ctx *pctx);

/* Judge one node's /served document DOC against the plan of pctx->cfg and
 * pctx->pc: the same services (FQDN, mode, listen), the same leaf and chain
 * on each, and (MINE not NULL: this configuration's check) the same
 * findings.  Rows and findings go to pctx->out.  0, -1 out of memory. */
int probe_nodes_judge(struct probe_ctx *pctx, const char *node,
		      const json_t *doc, const struct findings *mine);

#endif
