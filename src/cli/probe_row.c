/* probe_row.c — the rows of a probe report: adding one, recording in it
 * what one connection attempt saw, and the names of its states.
 *
 * A row is one connection attempt (a listener with or without SNI, a
 * re-encrypting backend's server, a pool member).  This file also says
 * where a finding about a service points (file, line, subject), so that
 * every probe step writes it the same way as rules.c.  It connects to
 * nothing and judges nothing.
 */
#include "edge443/cli/probe_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *probe_state_name(enum probe_state st)
{
	switch (st) {
	case PROBE_STATE_TLS:
		return "tls";
	case PROBE_STATE_UNREACHABLE:
		return "unreachable";
	case PROBE_STATE_NOT_TLS:
		return "not-tls";
	case PROBE_STATE_SKIPPED:
		return "skipped";
	}
	return "?";
}

const char *probe_match_name(enum probe_match m)
{
	switch (m) {
	case PROBE_MATCH_YES:
		return "yes";
	case PROBE_MATCH_NO:
		return "no";
	case PROBE_MATCH_NA:
		break;
	}
	return "-";
}

const char *probe_chain_name(enum probe_chain c)
{
	switch (c) {
	case PROBE_CHAIN_OK:
		return "ok";
	case PROBE_CHAIN_INCOMPLETE:
		return "incomplete";
	case PROBE_CHAIN_FAILED:
		return "failed";
	case PROBE_CHAIN_UNCHECKED:
		break;
	}
	return "-";
}

void probe_report_free(struct probe_report *out)
{
	if (!out)
		return;
	for (size_t i = 0; i < out->n; i++)
		free(out->rows[i].sni);
	free(out->rows);
	out->rows = NULL;
	out->n = out->cap = 0;
	findings_free(&out->findings);
}

long probe_row_add(struct probe_report *out, const char *service,
		   const char *backend, const char *target, const char *sni)
{
	struct probe_row *row;

	if (out->n == out->cap) {
		size_t cap = out->cap ? out->cap * 2 : 8;
		struct probe_row *rows =
			realloc(out->rows, cap * sizeof(*rows));
		if (!rows)
			return -1;
		out->rows = rows;
		out->cap = cap;
	}
	row = &out->rows[out->n];
	memset(row, 0, sizeof(*row));
	if (sni && !(row->sni = strdup(sni)))
		return -1;
	row->service = service;
	row->backend = backend;
	snprintf(row->target, sizeof(row->target), "%s", target);
	return (long)out->n++;
}

void probe_row_cert(struct probe_row *row, const struct cert_info *ci,
		    const struct config_cert *cc,
		    const struct cert_info *planned)
{
	row->state = PROBE_STATE_TLS;
	snprintf(row->served_cn, sizeof(row->served_cn), "%s",
		 ci->cn ? ci->cn : "");
	snprintf(row->subject, sizeof(row->subject), "%s", ci->subject);
	snprintf(row->fingerprint, sizeof(row->fingerprint), "%s",
		 ci->fingerprint);
	if (planned)
		row->match = strcmp(planned->fingerprint, ci->fingerprint) == 0
				     ? PROBE_MATCH_YES
				     : PROBE_MATCH_NO;
	else
		row->match = PROBE_MATCH_NA;
	if (cc && !planned)
		snprintf(row->note, sizeof(row->note),
			 "certificate \"%s\" of the plan is unreadable; not "
			 "compared",
			 cc->name);
}

bool probe_row_failed(const struct config_service *svc, struct probe_row *row,
		      enum probe_io io, const char *reason)
{
	bool not_tls = io == PROBE_IO_TLS && svc->role == CONFIG_ROLE_AV_EDGE &&
		       !svc->certificate;

	row->state = not_tls ? PROBE_STATE_NOT_TLS : PROBE_STATE_UNREACHABLE;
	snprintf(row->note, sizeof(row->note), "%s%.200s",
		 not_tls ? "not TLS (fine: av-edge without certificate): "
		 : io == PROBE_IO_TCP ? "unreachable: "
				      : "no TLS: ",
		 reason);
	return not_tls;
}

/* ---- where a finding points --------------------------------------------- */

const char *probe_file(const struct config *cfg)
{
	return cfg->file ? cfg->file : "(config)";
}

int probe_line(int line, int fallback)
{
	return line > 0 ? line : fallback;
}

const char *probe_subject(const struct config_service *svc, char *buf,
			  size_t len)
{
	snprintf(buf, len, "service \"%s\"", svc->name ? svc->name : "?");
	return buf;
}

/* See probe_internal.h: the plan's loaded certificate, for every step. */
const struct cert_info *probe_planned(const struct probe_ctx *pctx,
				      const struct config_cert *cc)
{
	if (!cc || !pctx->pc)
		return NULL;
	for (size_t i = 0; i < pctx->cfg->ncerts && i < pctx->pc->n; i++)
		if (&pctx->cfg->certs[i] == cc)
			return pctx->pc->certs[i] && pctx->pc->certs[i]->leaf
				       ? pctx->pc->certs[i]
				       : NULL;
	return NULL;
}
