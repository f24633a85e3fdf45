/* probe.c — connect to the listeners as a client and judge what they serve.
 *
 * For each selected service and each of its listen addresses (or the one
 * --target address) probe makes a client connection (probe_io.c: connect
 * and handshake bounded by the connect timeout): once with the service FQDN
 * as SNI and once without.  The leaf and chain served become a cert_info
 * (cert_from_x509); the chain is verified to trust_file with only the
 * intermediates that came over the wire, and the per-certificate and
 * per-service rules of rules.c are applied to it, their findings prefixed
 * with the address probed.  On top come the probe rules:
 * unreachable, served-differs (fingerprint against the configured
 * certificate), served-chain-incomplete (the per-certificate chain rule on
 * the chain as served) and served-no-sni.  For re-encrypting services every
 * backend server is also reached the way edge443 reaches it
 * (tls_client_ctx_new / tls_client_ssl_new) and a verification failure is a
 * backend-verify error with OpenSSL's verify reason.  With --pool, the pool
 * backends of the services are handed to probe_pool.c.
 *
 * The judging functions (probe_judge, probe_differs, probe_no_sni_judge)
 * work on certificate facts only and are declared in probe_internal.h for
 * the unit test.  It does not resolve names, retry, or print: report.c
 * formats the rows and findings.  Writes to a peer that has gone may raise
 * SIGPIPE; the caller ignores it (main.c does).
 */
#include "edge443/cli/probe.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edge443/cert/cert.h"
#include "edge443/cli/probe_internal.h"
#include "edge443/serve/tls.h"

#define PROBE_DEFAULT_TIMEOUT 5
#define PROBE_ERRLEN 512

int probe_timeout(const struct config *cfg)
{
	return cfg && cfg->connect_timeout > 0 ? cfg->connect_timeout
					       : PROBE_DEFAULT_TIMEOUT;
}

/* ---- helpers ------------------------------------------------------------ */

/* See probe_internal.h. */
int probe_verify(struct probe_ctx *pctx, struct cert_info *ci,
		 struct probe_row *row)
{
	const struct config *cfg = pctx->cfg;
	char err[PROBE_ERRLEN] = "";

	row->chain = PROBE_CHAIN_UNCHECKED;
	if (cfg->trust_file &&
	    cert_verify_chain(ci, cfg->trust_file, err, sizeof(err)) == 0) {
		row->chain = ci->chain_status == CERT_CHAIN_OK
				     ? PROBE_CHAIN_OK
				     : PROBE_CHAIN_INCOMPLETE;
		return 0;
	}
	if (pctx->trust_reported)
		return 0;
	pctx->trust_reported = true;
	return findings_add(
		&pctx->out->findings, FINDING_ERROR, "file-unreadable",
		probe_file(cfg), cfg->trust_file_line, "trust_file",
		"trust_file %s cannot be used (%s), so no chain as "
		"served was verified — point trust_file at a readable "
		"PEM bundle of the roots that clients trust",
		cfg->trust_file ? cfg->trust_file : "(unset)",
		err[0] ? err : "no trust_file is set");
}

/* "127.0.2.11:443 with SNI sip.example.com" for messages. */
static void probe_where(const struct probe_ctx *pctx, const char *target,
			const char *sni, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s %s%s", target,
		 pctx->opt && pctx->opt->target ? " (--target)" : "",
		 sni ? "with SNI " : "without SNI", sni ? sni : "");
}

/* ---- judging a chain as served ---------------------------------------- */

/* What to do about a chain served without its intermediate. */
static void probe_chain_fix(const struct config_service *svc,
			    const struct config_cert *cc, char *buf, size_t len)
{
	if (svc->mode == CONFIG_MODE_PASSTHROUGH)
		snprintf(buf, len,
			 "in passthrough mode the backend%s%s%s presents the "
			 "chain: configure its server to send the "
			 "intermediate(s) after the leaf",
			 svc->backend ? " \"" : "",
			 svc->backend ? svc->backend : "",
			 svc->backend ? "\"" : "");
	else
		snprintf(buf, len,
			 "add the intermediate(s) to chain in certificate "
			 "\"%s\" and reload edge443 (SIGHUP); if the file "
			 "already holds them, the process on this address is "
			 "not serving the current files",
			 cc ? cc->name : "?");
}

/* See probe_internal.h. */
int probe_differs(struct probe_ctx *pctx, const struct config_service *svc,
		  const struct config_cert *cc, const struct cert_info *planned,
		  const struct probe_row *row, const char *where)
{
	char subj[300];
	const struct config *cfg = pctx->cfg;
	char fix[400];

	if (svc->mode == CONFIG_MODE_PASSTHROUGH)
		snprintf(fix, sizeof(fix),
			 "in passthrough mode the backend \"%s\" presents the "
			 "certificate: install certificate \"%s\" (%s) and its "
			 "chain on its servers, or name the certificate they "
			 "really serve",
			 svc->backend ? svc->backend : "?", cc->name,
			 cc->cert ? cc->cert : "?");
	else
		snprintf(fix, sizeof(fix),
			 "edge443 serves certificate \"%s\" on this address: "
			 "another process (or an edge443 not reloaded since "
			 "the certificate changed) answers here — check what "
			 "listens on %s and reload edge443 (SIGHUP)%s",
			 cc->name, row->target,
			 pctx->opt && pctx->opt->target
				 ? ", and whether --target is the right "
				   "address"
				 : "");
	return findings_add(
		&pctx->out->findings, FINDING_ERROR, "served-differs",
		probe_file(cfg), probe_line(svc->certificate_line, svc->line),
		probe_subject(svc, subj, sizeof(subj)),
		"service \"%s\" (%s) at %s serves %s (SHA-256 %s) but "
		"the plan names certificate \"%s\" (%s, SHA-256 %s) — "
		"%s",
		svc->name, config_role_name(svc->role), where,
		row->subject[0] ? row->subject : "a certificate",
		row->fingerprint, cc->name, planned->subject,
		planned->fingerprint, fix);
}

/* See probe_internal.h. */
int probe_judge(struct probe_ctx *pctx, const struct config_service *svc,
		const struct config_cert *cc, const struct cert_info *planned,
		const struct cert_info *ci, const struct probe_row *row,
		const char *where)
{
	char subj[300];
	const struct config *cfg = pctx->cfg;
	struct findings tmp = {0};
	struct findings *out = &pctx->out->findings;
	/* Name the section only when it really is what was served. */
	const struct config_cert *label =
		row->match == PROBE_MATCH_YES ? cc : NULL;
	char fix[400];
	int rc = 0;

	if (row->match == PROBE_MATCH_NO && planned)
		rc |= probe_differs(pctx, svc, cc, planned, row, where);
	if (rules_check_cert(cfg, label, ci, pctx->now, &tmp) < 0 ||
	    rules_check_service_cert(cfg, svc, label, ci, &tmp) < 0)
		rc = -1;
	for (size_t i = 0; i < tmp.n; i++) {
		const struct finding *f = &tmp.items[i];

		if (strcmp(f->rule, "chain-incomplete") == 0) {
			/* The same judgement (and severity: an internal
			 * role only warns), said about the wire. */
			probe_chain_fix(svc, cc, fix, sizeof(fix));
			rc |= findings_add(
				out, f->severity, "served-chain-incomplete",
				f->file,
				probe_line(svc->listen_line, svc->line),
				probe_subject(svc, subj, sizeof(subj)),
				"service \"%s\" (%s) at %s: the chain as "
				"served does not verify to trust_file %s "
				"(%s); the intermediate is missing on the "
				"wire, even if it is on disk, and clients that "
				"do not already hold it refuse the connection "
				"— %s",
				svc->name, config_role_name(svc->role), where,
				cfg->trust_file ? cfg->trust_file : "?",
				ci->chain_detail, fix);
			continue;
		}
		rc |= findings_add(out, f->severity, f->rule, f->file, f->line,
				   f->subject, "as served at %s: %s", where,
				   f->message);
	}
	findings_free(&tmp);
	return rc;
}

/* ---- one listener ------------------------------------------------------ */

/* One handshake with SNI (or none) to ADDR: appends a row; on success *ci is
 * the chain served (caller frees).  *io says how it ended.  0, -1 out of
 * memory. */
static int probe_one(struct probe_ctx *pctx, const struct config_service *svc,
		     const struct config_addr *addr, const char *sni,
		     long *row_index, enum probe_io *io, struct cert_info **ci,
		     char *err, size_t errlen)
{
	long idx = probe_row_add(pctx->out, svc->name, NULL, addr->text, sni);

	*ci = NULL;
	*row_index = idx;
	if (idx < 0)
		return -1;
	return probe_io_fetch(pctx->ctx, addr, sni, pctx->timeout,
			      &pctx->out->rows[idx], io, ci, err, errlen);
}

/* The unreachable finding for a listener. */
static int probe_unreachable(struct probe_ctx *pctx,
			     const struct config_service *svc, enum probe_io io,
			     const char *where, const char *reason)
{
	char subj[300];
	const char *fix;

	if (io == PROBE_IO_TCP)
		fix = pctx->opt && pctx->opt->target
			      ? "check the address given with --target, and "
				"that the service runs there"
			      : "start edge443 (edge443 run), or fix listen if "
				"the service lives on another address; a "
				"firewall may also drop the connection";
	else if (svc->mode == CONFIG_MODE_PASSTHROUGH)
		fix = "in passthrough mode the backend answers the TLS "
		      "handshake: check that its servers run and speak TLS, "
		      "and edge443's log for the connection";
	else
		fix = "check edge443's log for the handshake failure, and "
		      "that edge443 (not another process) holds this address";
	return findings_add(&pctx->out->findings, FINDING_ERROR, "unreachable",
			    probe_file(pctx->cfg),
			    probe_line(svc->listen_line, svc->line),
			    probe_subject(svc, subj, sizeof(subj)),
			    "service \"%s\" (%s) at %s: %s%s — %s", svc->name,
			    config_role_name(svc->role), where,
			    io == PROBE_IO_TCP ? "no TCP connection: "
					       : "TCP connected but no TLS: ",
			    reason, fix);
}

/* See probe_internal.h. */
int probe_no_sni_judge(struct probe_ctx *pctx, const struct config_service *svc,
		       const char *where, const char *with_sni_fp,
		       const struct cert_info *ci, const char *reason)
{
	char subj[300];

	if (ci && strcmp(with_sni_fp, ci->fingerprint) == 0)
		return 0;
	if (!ci)
		return findings_add(
			&pctx->out->findings, FINDING_WARN, "served-no-sni",
			probe_file(pctx->cfg),
			probe_line(svc->listen_line, svc->line),
			probe_subject(svc, subj, sizeof(subj)),
			"service \"%s\" (%s) at %s: the handshake "
			"without SNI fails (%s) while it succeeds with "
			"SNI %s; old clients send no SNI — serve the "
			"service certificate as the default of this "
			"listener",
			svc->name, config_role_name(svc->role), where,
			reason ? reason : "?", svc->fqdn);
	return findings_add(
		&pctx->out->findings, FINDING_WARN, "served-no-sni",
		probe_file(pctx->cfg), probe_line(svc->listen_line, svc->line),
		probe_subject(svc, subj, sizeof(subj)),
		"service \"%s\" (%s) at %s serves %s (SHA-256 "
		"%s), not the certificate it serves with SNI "
		"%s (SHA-256 %s); old clients send no SNI and "
		"see the wrong certificate — make the service "
		"certificate the default of this listener (one "
		"service per IP address)",
		svc->name, config_role_name(svc->role), where, ci->subject,
		ci->fingerprint, svc->fqdn, with_sni_fp);
}

/* The probe without SNI, after the one with SNI served FIRST. */
static int
probe_no_sni(struct probe_ctx *pctx, const struct config_service *svc,
	     const struct config_addr *addr, const struct config_cert *cc,
	     const struct cert_info *planned, const struct probe_row *first_row)
{
	char err[PROBE_ERRLEN] = "", where[300], first_fp[96];
	struct cert_info *ci = NULL;
	enum probe_io io = PROBE_IO_TCP;
	struct probe_row *row;
	long idx;
	int rc = 0;

	snprintf(first_fp, sizeof(first_fp), "%s", first_row->fingerprint);
	if (svc->sni_strict) {
		idx = probe_row_add(pctx->out, svc->name, NULL, addr->text,
				    NULL);
		if (idx < 0)
			return -1;
		row = &pctx->out->rows[idx];
		row->state = PROBE_STATE_SKIPPED;
		snprintf(row->note, sizeof(row->note),
			 "sni_strict = true refuses a ClientHello without SNI");
		return 0;
	}
	probe_where(pctx, addr->text, NULL, where, sizeof(where));
	if (probe_one(pctx, svc, addr, NULL, &idx, &io, &ci, err, sizeof(err)) <
	    0)
		return -1;
	row = &pctx->out->rows[idx];
	if (!ci) {
		probe_row_failed(svc, row, io, err);
		return probe_no_sni_judge(pctx, svc, where, first_fp, NULL,
					  err);
	}
	probe_row_cert(row, ci, cc, planned);
	if (probe_verify(pctx, ci, row) < 0)
		rc = -1;
	if (!row->note[0])
		snprintf(row->note, sizeof(row->note), "%s", row->version);
	rc |= probe_no_sni_judge(pctx, svc, where, first_fp, ci, NULL);
	cert_free(ci);
	return rc;
}

/* Probe one listen address of SVC (or the --target address). */
static int probe_listener(struct probe_ctx *pctx,
			  const struct config_service *svc,
			  const struct config_addr *addr)
{
	const struct config *cfg = pctx->cfg;
	const struct config_cert *cc =
		svc->certificate ? config_find_cert(cfg, svc->certificate)
				 : NULL;
	const struct cert_info *planned = probe_planned(pctx, cc);
	const char *sni = probe_io_sni(svc->fqdn);
	char err[PROBE_ERRLEN] = "", where[300];
	struct cert_info *ci = NULL;
	enum probe_io io = PROBE_IO_TCP;
	struct probe_row *row;
	long idx;
	int rc = 0;

	probe_where(pctx, addr->text, sni, where, sizeof(where));
	if (probe_one(pctx, svc, addr, sni, &idx, &io, &ci, err, sizeof(err)) <
	    0)
		return -1;
	row = &pctx->out->rows[idx];
	if (!ci) {
		if (probe_row_failed(svc, row, io, err))
			return 0;
		return probe_unreachable(pctx, svc, io, where, err);
	}
	probe_row_cert(row, ci, cc, planned);
	if (probe_verify(pctx, ci, row) < 0)
		rc = -1;
	if (!row->note[0])
		snprintf(row->note, sizeof(row->note), "%s%s", row->version,
			 svc->mode == CONFIG_MODE_PASSTHROUGH
				 ? ", served by the backend (passthrough)"
				 : "");
	rc |= probe_judge(pctx, svc, cc, planned, ci, row, where);
	cert_free(ci);
	/* probe_no_sni copies what it needs from the row before it adds
	 * rows (which may move them). */
	if (sni && probe_no_sni(pctx, svc, addr, cc, planned,
				&pctx->out->rows[idx]) < 0)
		rc = -1;
	return rc;
}

/* ---- re-encrypting backends -------------------------------------------- */

/* The finding for server ADDR of backend BE that did not complete the
 * verified handshake (IO, verify result VR, ERR), and ROW's note.  0, -1
 * out of memory. */
static int probe_backend_failed(struct probe_ctx *pctx,
				const struct config_service *svc,
				const struct config_backend *be,
				const struct config_addr *addr,
				struct probe_row *row, enum probe_io io,
				long vr, const char *err)
{
	char subj[300];
	const struct config *cfg = pctx->cfg;
	struct findings *out = &pctx->out->findings;

	if (io == PROBE_IO_TLS && be->verify && vr != X509_V_OK) {
		row->chain = PROBE_CHAIN_FAILED;
		snprintf(row->note, sizeof(row->note),
			 "backend \"%s\": verify failed: %s", be->name,
			 X509_verify_cert_error_string(vr));
		return findings_add(
			out, FINDING_ERROR, "backend-verify", probe_file(cfg),
			probe_line(be->servers_line, be->line),
			probe_subject(svc, subj, sizeof(subj)),
			"backend \"%s\" server %s (re-encrypting "
			"service \"%s\") fails verification against "
			"trust_file %s for verify_name %s: %s — "
			"edge443 refuses to re-encrypt to it; install "
			"a certificate for %s issued by the CA in "
			"trust_file on the server, or correct "
			"trust_file / verify_name",
			be->name, addr->text, svc->name,
			be->trust_file ? be->trust_file : "?",
			be->verify_name ? be->verify_name : "?",
			X509_verify_cert_error_string(vr),
			be->verify_name ? be->verify_name : "?");
	}
	snprintf(row->note, sizeof(row->note), "backend \"%s\": %s%.200s",
		 be->name,
		 io == PROBE_IO_TCP ? "unreachable: " : "no TLS: ", err);
	return findings_add(out, FINDING_ERROR, "unreachable", probe_file(cfg),
			    probe_line(be->servers_line, be->line),
			    probe_subject(svc, subj, sizeof(subj)),
			    "backend \"%s\" server %s (re-encrypting "
			    "service \"%s\"): %s%s — start the server, "
			    "check that it speaks TLS, or fix servers",
			    be->name, addr->text, svc->name,
			    io == PROBE_IO_TCP ? "no TCP connection: "
					       : "TCP connected but no TLS: ",
			    err);
}

/* Reach server ADDR of backend BE the way edge443 does (CTX from
 * tls_client_ctx_new): one row, and a finding when it fails.  0, -1 out of
 * memory. */
static int probe_backend_server(struct probe_ctx *pctx,
				const struct config_service *svc,
				const struct config_backend *be, SSL_CTX *ctx,
				const struct config_addr *addr)
{
	long idx = probe_row_add(pctx->out, svc->name, be->name, addr->text,
				 probe_io_sni(be->verify_name));
	char err[PROBE_ERRLEN] = "";
	struct probe_row *row;
	enum probe_io io;
	SSL *ssl;
	X509 *leaf;
	long vr;
	int rc = 0;

	if (idx < 0 || !(ssl = tls_client_ssl_new(ctx, be)))
		return -1;
	row = &pctx->out->rows[idx];
	io = probe_io_attempt(addr, ssl, pctx->timeout, row, err, sizeof(err));
	leaf = SSL_get0_peer_certificate(ssl);
	vr = SSL_get_verify_result(ssl);
	if (leaf) {
		struct cert_info *ci = cert_from_x509(leaf, NULL);
		if (ci) {
			probe_row_cert(row, ci, NULL, NULL);
			cert_free(ci);
		}
	}
	row->state =
		io == PROBE_IO_OK ? PROBE_STATE_TLS : PROBE_STATE_UNREACHABLE;
	row->chain = be->verify && io == PROBE_IO_OK ? PROBE_CHAIN_OK
						     : PROBE_CHAIN_UNCHECKED;
	if (io == PROBE_IO_OK)
		snprintf(row->note, sizeof(row->note), "%s, backend \"%s\"%s",
			 row->version, be->name,
			 be->verify ? ", verified" : ", verify = false");
	else
		rc = probe_backend_failed(pctx, svc, be, addr, row, io, vr,
					  err);
	SSL_free(ssl);
	ERR_clear_error();
	return rc;
}

/* Probe every server of the backend of the re-encrypting service SVC, once
 * per backend per run. */
static int probe_backend(struct probe_ctx *pctx,
			 const struct config_service *svc)
{
	char subj[300];
	const struct config *cfg = pctx->cfg;
	const struct config_backend *be =
		svc->backend ? config_find_backend(cfg, svc->backend) : NULL;
	char err[PROBE_ERRLEN] = "";
	SSL_CTX *ctx = NULL;
	int rc = 0;

	if (!be || !be->tls || svc->mode != CONFIG_MODE_REENCRYPT)
		return 0;
	for (size_t i = 0; i < pctx->nprobed; i++)
		if (pctx->probed[i] == be)
			return 0;
	pctx->probed[pctx->nprobed++] = be;

	/* The trust store as run loads it (the validation's cert_trust_load),
	 * so the probe verifies exactly as edge443 would. */
	X509_STORE *trust =
		be->verify && be->trust_file
			? cert_trust_load(be->trust_file, err, sizeof(err))
			: NULL;
	if (!be->verify || trust)
		ctx = tls_client_ctx_new(cfg, be, trust, err, sizeof(err));
	X509_STORE_free(trust);
	if (!ctx)
		return findings_add(
			&pctx->out->findings, FINDING_ERROR, "backend-verify",
			probe_file(cfg), be->line,
			probe_subject(svc, subj, sizeof(subj)),
			"backend \"%s\" of re-encrypting service \"%s\": "
			"%s — its servers were not probed",
			be->name, svc->name, err);
	for (size_t s = 0; s < be->nservers && rc >= 0; s++)
		rc |= probe_backend_server(pctx, svc, be, ctx, &be->servers[s]);
	SSL_CTX_free(ctx);
	return rc;
}

/* ---- the run ----------------------------------------------------------- */

/* Everything probe does for SVC: its listeners (or the target), its
 * re-encrypting backend, and with --pool its pool. */
static int probe_service(struct probe_ctx *pctx,
			 const struct config_service *svc)
{
	const struct probe_options *opt = pctx->opt;
	const struct config_cert *cc = NULL;
	int rc = 0;

	if (opt && opt->target)
		return probe_listener(pctx, svc, opt->target);
	for (size_t j = 0; j < svc->nlisten; j++)
		rc |= probe_listener(pctx, svc, &svc->listen[j]);
	rc |= probe_backend(pctx, svc);
	if (opt && opt->pool) {
		if (svc->certificate)
			cc = config_find_cert(pctx->cfg, svc->certificate);
		rc |= probe_pool(pctx, svc, cc, probe_planned(pctx, cc));
	}
	return rc;
}

int probe_run(const struct config *cfg, const struct rules_certs *pc,
	      const struct probe_options *opt, struct probe_report *out)
{
	struct probe_ctx pctx;
	const struct config_service *only = NULL;
	size_t nb = cfg->nbackends ? cfg->nbackends : 1;
	int rc = 0;

	memset(&pctx, 0, sizeof(pctx));
	pctx.cfg = cfg;
	pctx.pc = pc;
	pctx.opt = opt;
	pctx.out = out;
	pctx.timeout = probe_timeout(cfg);
	pctx.now = opt && opt->now ? opt->now : time(NULL);
	if (opt && opt->service) {
		for (size_t i = 0; i < cfg->nservices && !only; i++)
			if (strcmp(cfg->services[i].name, opt->service) == 0)
				only = &cfg->services[i];
		if (!only)
			return -1;
	} else if (opt && opt->target) {
		/* The target is one service's address, never every one's. */
		if (cfg->nservices != 1)
			return -1;
		only = &cfg->services[0];
	}
	pctx.ctx = probe_io_client_ctx_new();
	pctx.probed = calloc(nb, sizeof(*pctx.probed));
	pctx.pooled = calloc(nb, sizeof(*pctx.pooled));
	if (!pctx.ctx || !pctx.probed || !pctx.pooled) {
		rc = -1;
		goto done;
	}
	for (size_t i = 0; i < cfg->nservices && rc >= 0; i++)
		if (!only || &cfg->services[i] == only)
			rc |= probe_service(&pctx, &cfg->services[i]);
	if (rc >= 0 && opt && opt->nnodes > 0 && !opt->target)
		rc |= probe_nodes(&pctx);
done:
	SSL_CTX_free(pctx.ctx);
	free(pctx.probed);
	free(pctx.pooled);
	ERR_clear_error();
	return rc < 0 ? -1 : 0;
}
