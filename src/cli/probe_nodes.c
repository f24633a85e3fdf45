/* probe_nodes.c — `probe --pool NODE...`: do all nodes of a pool serve the
 * same plan?
 *
 * The nodes of a keepalived pair (or an ECMP pool) share the service
 * addresses, so a client reaches only the node that holds them: the others
 * cannot be probed on the wire.  Each node's admin endpoint says instead
 * what it serves (/served, serve/served.c: built from the validated model
 * its SSL contexts were built from).  This file fetches that document from
 * every NODE (libevent's HTTP client, bounded by the probe's timeout),
 * compares it with the plan of the configuration given to probe — the same
 * services (FQDN, mode, listen), the same leaf and chain on each (by
 * SHA-256), and the same findings of `check` — and reports every difference
 * as pool-consistent, a node that does not answer as unreachable.  One row
 * per node and service.  jansson reads the JSON.
 */
#include "edge443/cli/probe_internal.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_NODES_MAX_BODY (1 << 20)

/* One GET /served. */
struct probe_fetch {
	struct event_base *base;
	int status; /* HTTP status, 0 when no answer */
	char *body; /* owned, NUL-terminated */
};

static void probe_nodes_done(struct evhttp_request *req, void *arg)
{
	struct probe_fetch *f = arg;

	if (req) {
		struct evbuffer *b = evhttp_request_get_input_buffer(req);
		size_t len = evbuffer_get_length(b);

		f->status = evhttp_request_get_response_code(req);
		f->body = malloc(len + 1);
		if (f->body) {
			evbuffer_remove(b, f->body, len);
			f->body[len] = '\0';
		}
	}
	event_base_loopexit(f->base, NULL);
}

/* GET http://NODE/served within TIMEOUT seconds: the parsed document, or
 * NULL with the reason in err. */
static json_t *probe_nodes_fetch(const struct config_addr *node, int timeout,
				 char *err, size_t errlen)
{
	struct probe_fetch f = {0};
	struct evhttp_connection *conn = NULL;
	struct evhttp_request *req;
	char host[64];
	json_t *doc = NULL;
	json_error_t jerr;
	snprintf(err, errlen, "no answer");
	if (!config_addr_host(node, host, sizeof(host)))
		return NULL;
	f.base = event_base_new();
	if (f.base)
		conn = evhttp_connection_base_new(f.base, NULL, host,
						  (ev_uint16_t)node->port);
	if (!conn)
		goto out;
	evhttp_connection_set_timeout(conn, timeout);
	evhttp_connection_set_retries(conn, 0);
	evhttp_connection_set_max_body_size(conn, PROBE_NODES_MAX_BODY);
	req = evhttp_request_new(probe_nodes_done, &f);
	if (!req)
		goto out;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", host);
	if (evhttp_make_request(conn, req, EVHTTP_REQ_GET, "/served") != 0)
		goto out;
	event_base_dispatch(f.base);
	if (f.status == 0) {
		snprintf(err, errlen,
			 "no answer from its admin endpoint within %d s",
			 timeout);
		goto out;
	}
	if (f.status != 200 || !f.body) {
		snprintf(err, errlen,
			 "its admin endpoint answered %d to GET /served (an "
			 "edge443 without /served is older than this one)",
			 f.status);
		goto out;
	}
	doc = json_loads(f.body, 0, &jerr);
	if (!doc || !json_is_object(doc)) {
		snprintf(err, errlen, "/served is not a JSON object: %s",
			 jerr.text);
		json_decref(doc);
		doc = NULL;
	}
out:
	if (conn)
		evhttp_connection_free(conn);
	if (f.base)
		event_base_free(f.base);
	free(f.body);
	return doc;
}

/* The service NAME of the node's document, or NULL. */
static const json_t *probe_nodes_service(const json_t *doc, const char *name)
{
	const json_t *services = json_object_get(doc, "services"), *s;
	size_t i;

	json_array_foreach(services, i, s)
	{
		const char *n = json_string_value(json_object_get(s, "name"));
		if (n && strcmp(n, name) == 0)
			return s;
	}
	return NULL;
}

static const char *probe_nodes_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* The listen addresses of a node's service, ", "-joined. */
static void probe_nodes_listen(const json_t *s, char *buf, size_t len)
{
	const json_t *l = json_object_get(s, "listen"), *a;
	size_t i, off = 0;

	buf[0] = '\0';
	json_array_foreach(l, i, a)
	{
		int n = snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
				 json_string_value(a) ? json_string_value(a)
						      : "?");
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
}

static void probe_config_listen(const struct config_service *svc, char *buf,
				size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < svc->nlisten; i++) {
		int n = snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
				 svc->listen[i].text);
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
}

/* Does the node's certificate object NC carry PLANNED's leaf and chain? */
static bool probe_nodes_same_cert(const json_t *nc,
				  const struct cert_info *planned)
{
	const json_t *chain = json_object_get(nc, "chain_sha256");
	char fp[96];

	if (strcmp(probe_nodes_str(nc, "leaf_sha256"), planned->fingerprint))
		return false;
	if ((int)json_array_size(chain) != sk_X509_num(planned->chain))
		return false;
	for (int i = 0; i < sk_X509_num(planned->chain); i++) {
		const char *got =
			json_string_value(json_array_get(chain, (size_t)i));
		cert_fingerprint(sk_X509_value(planned->chain, i), fp,
				 sizeof(fp));
		if (!got || strcmp(got, fp) != 0)
			return false;
	}
	return true;
}

/* The node's certificate object named NAME in service object S, or NULL. */
static const json_t *probe_nodes_cert(const json_t *s, const char *name)
{
	const json_t *certs = json_object_get(s, "certificates"), *c;
	size_t i;

	json_array_foreach(certs, i, c)
	{
		if (strcmp(probe_nodes_str(c, "name"), name) == 0)
			return c;
	}
	return NULL;
}

static int probe_nodes_differs(struct probe_ctx *pctx,
			       const struct config_service *svc,
			       const char *node, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A pool-consistent error about SVC (NULL: the configuration) on NODE. */
static int probe_nodes_differs(struct probe_ctx *pctx,
			       const struct config_service *svc,
			       const char *node, const char *fmt, ...)
{
	char what[1024], subject[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (svc)
		probe_subject(svc, subject, sizeof(subject));
	return findings_add(
		&pctx->out->findings, FINDING_ERROR, "pool-consistent",
		probe_file(pctx->cfg), svc ? probe_line(svc->line, 0) : 0,
		svc ? subject : NULL,
		"node %s %s — every node of a pool must serve the same "
		"configuration and certificates: copy %s and the certificate, "
		"chain and key files to that node, reload it (systemctl reload "
		"edge443), then probe again",
		node, what, probe_file(pctx->cfg));
}

/* One certificate section CC of SVC on the node: a row, and a finding when
 * the node serves another leaf or chain. */
static int probe_nodes_one_cert(struct probe_ctx *pctx,
				const struct config_service *svc,
				const char *name, const json_t *s,
				const char *node, const char *target)
{
	const struct config_cert *cc = config_find_cert(pctx->cfg, name);
	const struct cert_info *planned = probe_planned(pctx, cc);
	const json_t *nc = probe_nodes_cert(s, name);
	long idx = probe_row_add(pctx->out, svc->name, NULL, target, NULL);
	struct probe_row *row;

	if (idx < 0)
		return -1;
	row = &pctx->out->rows[idx];
	row->node = true;
	row->state = PROBE_STATE_TLS;
	snprintf(row->fingerprint, sizeof(row->fingerprint), "%s",
		 nc ? probe_nodes_str(nc, "leaf_sha256") : "");
	if (!nc) {
		row->match = PROBE_MATCH_NO;
		snprintf(row->note, sizeof(row->note),
			 "reported by the node: certificate \"%s\" not served",
			 name);
		return probe_nodes_differs(pctx, svc, node,
					   "does not serve certificate \"%s\"",
					   name);
	}
	if (!planned) {
		row->match = PROBE_MATCH_NA;
		snprintf(row->note, sizeof(row->note),
			 "reported by the node; certificate \"%s\" of the plan "
			 "is unreadable here: not compared",
			 name);
		return 0;
	}
	if (probe_nodes_same_cert(nc, planned)) {
		row->match = PROBE_MATCH_YES;
		snprintf(row->note, sizeof(row->note),
			 "reported by the node (/served)");
		return 0;
	}
	row->match = PROBE_MATCH_NO;
	snprintf(row->note, sizeof(row->note),
		 "reported by the node: another leaf or chain");
	return probe_nodes_differs(
		pctx, svc, node,
		"serves certificate \"%s\" as leaf %s with %zu chain "
		"certificate(s); the plan's is %s with %d",
		name, probe_nodes_str(nc, "leaf_sha256"),
		json_array_size(json_object_get(nc, "chain_sha256")),
		planned->fingerprint, sk_X509_num(planned->chain));
}

/* Does the node's findings list hold (SEVERITY, RULE, SUBJECT)? */
static bool probe_nodes_has_finding(const json_t *list, const char *sev,
				    const char *rule, const char *subject)
{
	const json_t *f;
	size_t i;

	json_array_foreach(list, i, f)
	{
		if (strcmp(probe_nodes_str(f, "severity"), sev) == 0 &&
		    strcmp(probe_nodes_str(f, "rule"), rule) == 0 &&
		    strcmp(probe_nodes_str(f, "subject"),
			   subject ? subject : "") == 0)
			return true;
	}
	return false;
}

/* The node's check against the local one: the same findings, both ways. */
static int probe_nodes_findings(struct probe_ctx *pctx, const json_t *doc,
				const struct findings *mine, const char *node)
{
	const json_t *theirs = json_object_get(doc, "findings"), *f;
	int rc = 0;
	size_t i;

	for (size_t k = 0; k < mine->n; k++) {
		const struct finding *m = &mine->items[k];
		const char *sev = finding_severity_name(m->severity);

		if (!probe_nodes_has_finding(theirs, sev, m->rule, m->subject))
			rc |= probe_nodes_differs(
				pctx, NULL, node,
				"passes another check: this configuration "
				"gives %s %s for %s, the node's does not",
				sev, m->rule, m->subject ? m->subject : "it");
	}
	json_array_foreach(theirs, i, f)
	{
		bool found = false;
		for (size_t k = 0; k < mine->n && !found; k++) {
			const struct finding *m = &mine->items[k];
			found = strcmp(probe_nodes_str(f, "rule"), m->rule) ==
					0 &&
				strcmp(probe_nodes_str(f, "subject"),
				       m->subject ? m->subject : "") == 0;
		}
		if (!found)
			rc |= probe_nodes_differs(
				pctx, NULL, node,
				"passes another check: its configuration "
				"gives %s %s for %s, this one does not",
				probe_nodes_str(f, "severity"),
				probe_nodes_str(f, "rule"),
				probe_nodes_str(f, "subject"));
	}
	return rc;
}

int probe_nodes_judge(struct probe_ctx *pctx, const char *node,
		      const json_t *doc, const struct findings *mine)
{
	const struct config *cfg = pctx->cfg;
	const json_t *services = json_object_get(doc, "services"), *s;
	char target[96], a[512], b[512];
	int rc = 0;
	size_t i;

	snprintf(target, sizeof(target), "node %s", node);
	for (size_t k = 0; k < cfg->nservices; k++) {
		const struct config_service *svc = &cfg->services[k];

		s = probe_nodes_service(doc, svc->name);
		if (!s) {
			rc |= probe_nodes_differs(pctx, svc, node,
						  "does not serve service "
						  "\"%s\"",
						  svc->name);
			continue;
		}
		probe_nodes_listen(s, a, sizeof(a));
		probe_config_listen(svc, b, sizeof(b));
		if (strcmp(probe_nodes_str(s, "fqdn"),
			   svc->fqdn ? svc->fqdn : "") != 0 ||
		    strcmp(probe_nodes_str(s, "mode"),
			   config_mode_name(svc->mode)) != 0 ||
		    strcmp(a, b) != 0)
			rc |= probe_nodes_differs(
				pctx, svc, node,
				"serves service \"%s\" as %s, %s on %s; this "
				"configuration says %s, %s on %s",
				svc->name, probe_nodes_str(s, "fqdn"),
				probe_nodes_str(s, "mode"), a,
				svc->fqdn ? svc->fqdn : "-",
				config_mode_name(svc->mode), b);
		if (svc->certificate)
			rc |= probe_nodes_one_cert(pctx, svc, svc->certificate,
						   s, node, target);
		for (size_t e = 0; e < svc->nextra_certificates; e++)
			rc |= probe_nodes_one_cert(pctx, svc,
						   svc->extra_certificates[e],
						   s, node, target);
	}
	json_array_foreach(services, i, s)
	{
		const char *name = probe_nodes_str(s, "name");
		bool known = false;

		for (size_t k = 0; k < cfg->nservices && !known; k++)
			known = strcmp(cfg->services[k].name, name) == 0;
		if (!known)
			rc |= probe_nodes_differs(
				pctx, NULL, node,
				"serves service \"%s\", which this "
				"configuration does not have",
				name);
	}
	if (mine)
		rc |= probe_nodes_findings(pctx, doc, mine, node);
	return rc < 0 ? -1 : 0;
}

int probe_nodes(struct probe_ctx *pctx)
{
	const struct probe_options *opt = pctx->opt;
	struct findings mine = {0};
	int rc = 0;

	if (!opt || opt->nnodes == 0)
		return 0;
	if (pctx->pc &&
	    rules_check(pctx->cfg, pctx->pc, pctx->now, &mine) < 0) {
		findings_free(&mine);
		return -1;
	}
	for (size_t n = 0; n < opt->nnodes; n++) {
		const struct config_addr *node = &opt->nodes[n];
		char err[512], target[96];
		json_t *doc = probe_nodes_fetch(node, pctx->timeout, err,
						sizeof(err));

		if (!doc) {
			long idx;

			snprintf(target, sizeof(target), "node %s", node->text);
			idx = probe_row_add(pctx->out, "(node)", NULL, target,
					    NULL);
			if (idx < 0)
				rc = -1;
			else {
				pctx->out->rows[idx].node = true;
				pctx->out->rows[idx].state =
					PROBE_STATE_UNREACHABLE;
				snprintf(pctx->out->rows[idx].note,
					 sizeof(pctx->out->rows[idx].note),
					 "unreachable: %.200s", err);
			}
			rc |= findings_add(
				&pctx->out->findings, FINDING_ERROR,
				"unreachable", probe_file(pctx->cfg), 0, NULL,
				"node %s: %s — give the address of the node's "
				"admin endpoint (its admin = \"IP:PORT\"), "
				"reachable from here, or check that edge443 "
				"runs there",
				node->text, err);
			continue;
		}
		rc |= probe_nodes_judge(pctx, node->text, doc,
					pctx->pc ? &mine : NULL);
		json_decref(doc);
	}
	findings_free(&mine);
	return rc < 0 ? -1 : 0;
}
