/* probe_pool.c — probe --pool: every member of a pool backend, reached
 * directly, and the pool-consistent verdict.
 *
 * Through a listener a probe sees one pool member at a time: whichever the
 * round robin picks.  An Edge pool is the backend of a passthrough service,
 * whose servers each terminate TLS themselves; the reverse proxy's
 * front-end pool is the TLS backend of a web-services service.  Here each
 * member is connected to directly (probe_io.c, bounded by the connect
 * timeout), with the SNI a client's handshake carries to it — the service
 * FQDN through a passthrough listener, the backend's verify_name when
 * edge443 re-encrypts — and with the listener client context, which
 * verifies nothing, so that a member that would fail verification still
 * shows what it serves.  The reached members must all present the same
 * leaf (by SHA-256 fingerprint) and the same intermediates in the same
 * order: every pool member needs the same certificate and private key.
 *
 * A member that does not answer is an unreachable error (once: a
 * re-encrypting backend's servers were already reported by probe.c).  It
 * does not call back into probe.c, and prints nothing.
 */
#include "edge443/cli/probe_internal.h"

#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_POOL_ERRLEN 512

bool probe_pool_applies(const struct config_service *svc,
			const struct config_backend *be)
{
	if (!svc || !be || be->nservers == 0)
		return false;
	return svc->mode == CONFIG_MODE_PASSTHROUGH ||
	       (svc->role == CONFIG_ROLE_WEB_SERVICES && be->tls);
}

bool probe_pool_same(const struct cert_info *a, const struct cert_info *b)
{
	int n;

	if (!a || !b || !a->leaf || !b->leaf ||
	    strcmp(a->fingerprint, b->fingerprint) != 0)
		return false;
	n = sk_X509_num(a->chain);
	if (n != sk_X509_num(b->chain))
		return false;
	for (int i = 0; i < n; i++)
		if (X509_cmp(sk_X509_value(a->chain, i),
			     sk_X509_value(b->chain, i)) != 0)
			return false;
	return true;
}

/* "with 1 intermediate" / "with no intermediate". */
static void probe_pool_chain_text(const struct cert_info *ci, char *buf,
				  size_t len)
{
	int n = sk_X509_num(ci->chain);

	if (n <= 0)
		snprintf(buf, len, "with no intermediate");
	else
		snprintf(buf, len, "with %d intermediate%s", n,
			 n == 1 ? "" : "s");
}

/* What to do, into BUF. */
static void probe_pool_fix(const struct config_backend *be,
			   const struct config_cert *cc, char *buf, size_t len)
{
	if (cc)
		snprintf(buf, len,
			 "install certificate \"%s\" (%s), its private key "
			 "and its chain on every server of backend \"%s\", the "
			 "same files on each (export the certificate with its "
			 "key from one member and import it on the others), "
			 "then probe again",
			 cc->name, cc->cert ? cc->cert : "?", be->name);
	else
		snprintf(buf, len,
			 "install one certificate, its private key and its "
			 "chain on every server of backend \"%s\", the same "
			 "files on each (export the certificate with its key "
			 "from one member and import it on the others), then "
			 "probe again",
			 be->name);
}

int probe_pool_judge(struct findings *out, const struct config *cfg,
		     const struct config_service *svc,
		     const struct config_backend *be,
		     const struct config_cert *cc,
		     const struct cert_info *planned,
		     const struct probe_member *m, size_t n)
{
	const struct cert_info *ref = NULL;
	char subj[300], fix[600], chain[64];
	bool differ = false;
	char *list = NULL;
	size_t listlen = 0;
	FILE *f;
	int rc;

	for (size_t i = 0; i < n; i++) {
		if (!m[i].ci || !m[i].ci->leaf)
			continue;
		if (!ref)
			ref = m[i].ci;
		else if (!probe_pool_same(ref, m[i].ci))
			differ = true;
	}
	if (!differ)
		return 0;
	f = open_memstream(&list, &listlen);
	if (!f)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct cert_info *ci = m[i].ci;
		const char *how = "";
		bool is_plan;

		if (!ci || !ci->leaf)
			continue;
		if (ci != ref && probe_pool_same(ref, ci))
			how = ", the same";
		else if (ci != ref &&
			 strcmp(ref->fingerprint, ci->fingerprint) == 0)
			how = ", the same leaf but another chain";
		else if (ci != ref)
			how = ", another leaf";
		is_plan = cc && planned &&
			  strcmp(planned->fingerprint, ci->fingerprint) == 0;
		probe_pool_chain_text(ci, chain, sizeof(chain));
		fprintf(f, "%s%s serves %s (SHA-256 %s) %s%s%s%s%s",
			ci == ref ? "" : "; ", m[i].target, ci->subject,
			ci->fingerprint, chain, how,
			is_plan ? " (certificate \"" : "",
			is_plan ? cc->name : "",
			is_plan ? "\" of the plan)" : "");
	}
	if (fclose(f) != 0 || !list) {
		free(list);
		return -1;
	}
	probe_pool_fix(be, cc, fix, sizeof(fix));
	snprintf(subj, sizeof(subj), "backend \"%s\"", be->name);
	rc = findings_add(out, FINDING_ERROR, "pool-consistent",
			  probe_file(cfg),
			  probe_line(be->servers_line, be->line), subj,
			  "backend \"%s\" (the pool of %s service \"%s\", "
			  "%s): its servers do not all present the same "
			  "certificate and chain: %s; clients reach "
			  "whichever member the connection lands on, so "
			  "some see another certificate than others — "
			  "every pool member needs the same certificate and "
			  "private key: %s",
			  be->name, config_mode_name(svc->mode), svc->name,
			  config_role_name(svc->role), list, fix);
	free(list);
	return rc;
}

/* The unreachable error for member ADDR of BE. */
static int probe_pool_unreachable(struct probe_ctx *pctx,
				  const struct config_service *svc,
				  const struct config_backend *be,
				  const struct config_addr *addr,
				  enum probe_io io, const char *err)
{
	char subj[300];

	return findings_add(
		&pctx->out->findings, FINDING_ERROR, "unreachable",
		probe_file(pctx->cfg), probe_line(be->servers_line, be->line),
		probe_subject(svc, subj, sizeof(subj)),
		"backend \"%s\" server %s (a pool member of %s service "
		"\"%s\", probed directly with --pool): %s%s — start the "
		"server, check that it speaks TLS, or remove it from servers",
		be->name, addr->text, config_mode_name(svc->mode), svc->name,
		io == PROBE_IO_TCP ? "no TCP connection: "
				   : "TCP connected but no TLS: ",
		err);
}

/* True when probe.c already probed BE's servers (a re-encrypting backend). */
static bool probe_pool_probed(const struct probe_ctx *pctx,
			      const struct config_backend *be)
{
	for (size_t i = 0; i < pctx->nprobed; i++)
		if (pctx->probed[i] == be)
			return true;
	return false;
}

/* Connect to member ADDR of BE with SNI: one row; *ci is what it served
 * (NULL when not reached).  0, -1 out of memory. */
static int probe_pool_member(struct probe_ctx *pctx,
			     const struct config_service *svc,
			     const struct config_backend *be,
			     const struct config_addr *addr, const char *sni,
			     const struct config_cert *cc,
			     const struct cert_info *planned,
			     struct cert_info **ci)
{
	/* The chain is judged against the roots the members' clients trust:
	 * the public trust_file through a passthrough listener, the backend's
	 * own when edge443 re-encrypts. */
	const char *trust = svc->mode == CONFIG_MODE_PASSTHROUGH
				    ? pctx->cfg->trust_file
				    : be->trust_file;
	long idx =
		probe_row_add(pctx->out, svc->name, be->name, addr->text, sni);
	char err[PROBE_POOL_ERRLEN] = "";
	struct probe_row *row;
	enum probe_io io;

	*ci = NULL;
	if (idx < 0)
		return -1;
	row = &pctx->out->rows[idx];
	row->pool = true;
	if (probe_io_fetch(pctx->ctx, addr, sni, pctx->timeout, row, &io, ci,
			   err, sizeof(err)) < 0)
		return -1;
	if (!*ci) {
		if (probe_row_failed(svc, row, io, err) ||
		    probe_pool_probed(pctx, be))
			return 0;
		return probe_pool_unreachable(pctx, svc, be, addr, io, err);
	}
	probe_row_cert(row, *ci, cc, planned);
	if (trust && cert_verify_chain(*ci, trust, err, sizeof(err)) == 0)
		row->chain = (*ci)->chain_status == CERT_CHAIN_OK
				     ? PROBE_CHAIN_OK
				     : PROBE_CHAIN_INCOMPLETE;
	if (!row->note[0])
		snprintf(row->note, sizeof(row->note),
			 "%s, pool member of backend \"%s\" (--pool)",
			 row->version, be->name);
	return 0;
}

int probe_pool(struct probe_ctx *pctx, const struct config_service *svc,
	       const struct config_cert *cc, const struct cert_info *planned)
{
	const struct config_backend *be =
		svc->backend ? config_find_backend(pctx->cfg, svc->backend)
			     : NULL;
	struct probe_member *members = NULL;
	struct cert_info **cis = NULL;
	const char *sni;
	int rc = 0;

	if (!probe_pool_applies(svc, be))
		return 0;
	for (size_t i = 0; i < pctx->npooled; i++)
		if (pctx->pooled[i] == be)
			return 0;
	pctx->pooled[pctx->npooled++] = be;
	if (svc->mode == CONFIG_MODE_PASSTHROUGH) {
		sni = probe_io_sni(svc->fqdn);
	} else {
		/* The plan's certificate is the reverse proxy's own, not
		 * the front-end pool's: nothing to compare it with. */
		sni = probe_io_sni(be->verify_name);
		cc = NULL;
		planned = NULL;
	}
	members = calloc(be->nservers, sizeof(*members));
	cis = calloc(be->nservers, sizeof(*cis));
	if (!members || !cis) {
		rc = -1;
		goto done;
	}
	for (size_t s = 0; s < be->nservers && rc >= 0; s++) {
		rc |= probe_pool_member(pctx, svc, be, &be->servers[s], sni, cc,
					planned, &cis[s]);
		members[s].target = be->servers[s].text;
		members[s].ci = cis[s];
	}
	if (rc >= 0)
		rc = probe_pool_judge(&pctx->out->findings, pctx->cfg, svc, be,
				      cc, planned, members, be->nservers);
done:
	for (size_t s = 0; cis && s < be->nservers; s++)
		cert_free(cis[s]);
	free(cis);
	free(members);
	return rc;
}
