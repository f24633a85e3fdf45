/* runtime.c — build and reference-count the serving objects of a config.
 *
 * From a configuration that has passed the plan rules, build one server
 * SSL_CTX per terminating service, keep the leaf certificate of every
 * service that names one (the names a service answers to: sni_strict, for
 * passthrough too), and one client SSL_CTX and pool per backend.  A failure
 * anywhere (a key that cannot be read any more, say) fails the whole
 * runtime, so a reload either installs a complete new runtime or keeps the
 * old one.  It does not bind sockets (listener.c) or validate the plan
 * (rules.c).
 */
#include "edge443/serve/runtime.h"

#include "edge443/cert/cert.h"
#include "edge443/rules/validate.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* Remember the DNS names of CI (its SANs) for the Host check of an http
 * service. */
static int runtime_collect_names(struct runtime_service *rs,
				 const struct cert_info *ci, char *err,
				 size_t errlen)
{
	rs->names = calloc(ci->nsans ? ci->nsans : 1, sizeof(*rs->names));
	for (size_t i = 0; rs->names && i < ci->nsans; i++) {
		rs->names[i] = strdup(ci->sans[i]);
		if (!rs->names[i])
			break;
		rs->nnames++;
	}
	if (!rs->names || rs->nnames < ci->nsans) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* The loaded objects of section NAME, or NULL with the reason in ERR. */
static const struct cert_info *
runtime_cert(const struct config *cfg, const struct rules_certs *certs,
	     const struct config_service *svc, const char *name,
	     const struct config_cert **ccp, char *err, size_t errlen)
{
	const struct config_cert *cc = config_find_cert(cfg, name);
	const struct cert_info *ci = validate_cert(cfg, certs, cc);

	*ccp = cc;
	if (!cc)
		return NULL; /* ref-unknown: refused by the plan rules */
	if (!ci || !ci->leaf) {
		snprintf(err, errlen,
			 "%s:%d: service \"%s\": certificate \"%s\" was not "
			 "loaded (%s)",
			 cfg->file, svc->line, svc->name, cc->name,
			 cc->cert ? cc->cert : "no cert file");
		return NULL;
	}
	return ci;
}

/* Keep a reference to the leaf of each certificate section RS's service
 * names, in rs->leaves, and collect what the listener serves into TC. */
static int runtime_load_leaves(struct runtime_service *rs,
			       const struct config *cfg,
			       const struct rules_certs *certs,
			       struct tls_cert *tc, size_t *ntc, char *err,
			       size_t errlen)
{
	const struct config_service *svc = rs->svc;

	*ntc = 0;
	for (size_t k = 0; svc->certificate && k <= svc->nextra_certificates;
	     k++) {
		const char *name = k == 0 ? svc->certificate
					  : svc->extra_certificates[k - 1];
		const struct config_cert *cc = NULL;
		const struct cert_info *ci =
			runtime_cert(cfg, certs, svc, name, &cc, err, errlen);
		int pushed = 0;

		if (!cc)
			continue;
		if (!ci)
			return -1;
		if (*ntc == RUNTIME_MAX_CERTS) {
			snprintf(err, errlen,
				 "%s:%d: service \"%s\": more than %d "
				 "certificates on one listener",
				 cfg->file, svc->line, svc->name,
				 RUNTIME_MAX_CERTS);
			return -1;
		}
		tc[*ntc].cc = cc;
		tc[*ntc].ci = ci;
		(*ntc)++;
		if (!rs->leaves)
			rs->leaves = sk_X509_new_null();
		if (rs->leaves && X509_up_ref(ci->leaf) == 1) {
			pushed = sk_X509_push(rs->leaves, ci->leaf);
			if (pushed <= 0)
				X509_free(ci->leaf);
		}
		if (pushed <= 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

bool runtime_service_covers(const struct runtime_service *rs, const char *name)
{
	return rs && tls_name_covered(rs->svc->fqdn, rs->leaves, name);
}

struct runtime *runtime_new(struct config *cfg, const struct rules_certs *certs,
			    X509_STORE *const *trust,
			    struct tls_tickets *tickets, char *err,
			    size_t errlen)
{
	struct runtime *rt = calloc(1, sizeof(*rt));

	if (!rt) {
		snprintf(err, errlen, "out of memory");
		config_free(cfg);
		return NULL;
	}
	atomic_init(&rt->refs, 1);
	rt->cfg = cfg;
	rt->services = calloc(cfg->nservices ? cfg->nservices : 1,
			      sizeof(*rt->services));
	rt->backends = calloc(cfg->nbackends ? cfg->nbackends : 1,
			      sizeof(*rt->backends));
	rt->cert_not_after = calloc(cfg->ncerts ? cfg->ncerts : 1,
				    sizeof(*rt->cert_not_after));
	if (!rt->services || !rt->backends || !rt->cert_not_after) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < cfg->ncerts; i++) {
		const struct cert_info *ci =
			validate_cert(cfg, certs, &cfg->certs[i]);
		if (ci && ci->leaf)
			rt->cert_not_after[i] = ci->not_after;
	}
	for (size_t i = 0; i < cfg->nbackends; i++) {
		struct runtime_backend *rb = &rt->backends[i];
		const struct config_backend *be = &cfg->backends[i];
		if (backend_pool_init(&rb->pool, be) < 0) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		if (be->tls) {
			char why[512];
			rb->client_ctx = tls_client_ctx_new(
				cfg, be, trust ? trust[i] : NULL, why,
				sizeof(why));
			if (!rb->client_ctx) {
				snprintf(err, errlen,
					 "%s:%d: backend \"%s\": %s", cfg->file,
					 be->line, be->name, why);
				goto fail;
			}
		}
	}
	for (size_t i = 0; i < cfg->nservices; i++) {
		struct runtime_service *rs = &rt->services[i];
		const struct config_service *svc = &cfg->services[i];
		rs->svc = svc;
		if (svc->backend) {
			for (size_t b = 0; b < cfg->nbackends; b++)
				if (strcmp(cfg->backends[b].name,
					   svc->backend) == 0)
					rs->backend = &rt->backends[b];
		}
		struct tls_cert tc[RUNTIME_MAX_CERTS];
		size_t ntc = 0;
		if (runtime_load_leaves(rs, cfg, certs, tc, &ntc, err, errlen) <
		    0)
			goto fail;
		if (svc->mode == CONFIG_MODE_PASSTHROUGH)
			continue;
		if (ntc == 0) {
			snprintf(err, errlen,
				 "%s:%d: service \"%s\" terminates TLS but has "
				 "no certificate",
				 cfg->file, svc->line, svc->name);
			goto fail;
		}
		if (svc->http.present &&
		    runtime_collect_names(rs, tc[0].ci, err, errlen) < 0)
			goto fail;
		char why[512];
		rs->ctx = tls_server_ctx_new(cfg, svc, tc, ntc, tickets, why,
					     sizeof(why));
		if (!rs->ctx) {
			snprintf(err, errlen, "%s:%d: service \"%s\": %s",
				 cfg->file, svc->line, svc->name, why);
			goto fail;
		}
	}
	return rt;
fail:
	runtime_unref(rt);
	return NULL;
}

struct runtime *runtime_ref(struct runtime *rt)
{
	atomic_fetch_add(&rt->refs, 1);
	return rt;
}

void runtime_unref(struct runtime *rt)
{
	if (!rt || atomic_fetch_sub(&rt->refs, 1) != 1)
		return;
	if (rt->cfg) {
		for (size_t i = 0; rt->services && i < rt->cfg->nservices;
		     i++) {
			SSL_CTX_free(rt->services[i].ctx);
			for (size_t j = 0; j < rt->services[i].nnames; j++)
				free(rt->services[i].names[j]);
			free(rt->services[i].names);
			sk_X509_pop_free(rt->services[i].leaves, X509_free);
		}
		for (size_t i = 0; rt->backends && i < rt->cfg->nbackends;
		     i++) {
			SSL_CTX_free(rt->backends[i].client_ctx);
			backend_pool_free(&rt->backends[i].pool);
		}
	}
	free(rt->services);
	free(rt->backends);
	free(rt->cert_not_after);
	config_free(rt->cfg);
	free(rt);
}

/* 2 when SA is exactly LISTEN (family, address, port), 1 when LISTEN is the
 * wildcard address of SA's family on the same port, 0 otherwise. */
static int runtime_addr_match(const struct sockaddr_storage *listen,
			      const struct sockaddr *sa)
{
	if (listen->ss_family != sa->sa_family)
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *l = (const void *)listen;
		const struct sockaddr_in *s = (const void *)sa;
		if (l->sin_port != s->sin_port)
			return 0;
		if (l->sin_addr.s_addr == s->sin_addr.s_addr)
			return 2;
		return l->sin_addr.s_addr == htonl(INADDR_ANY);
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *l = (const void *)listen;
		const struct sockaddr_in6 *s = (const void *)sa;
		if (l->sin6_port != s->sin6_port)
			return 0;
		if (memcmp(&l->sin6_addr, &s->sin6_addr,
			   sizeof(s->sin6_addr)) == 0)
			return 2;
		return IN6_IS_ADDR_UNSPECIFIED(&l->sin6_addr);
	}
	return 0;
}

const struct runtime_service *runtime_service_for(const struct runtime *rt,
						  const struct sockaddr *sa)
{
	const struct runtime_service *wild = NULL;

	for (size_t i = 0; i < rt->cfg->nservices; i++) {
		const struct config_service *svc = rt->services[i].svc;
		for (size_t j = 0; j < svc->nlisten; j++) {
			int m = runtime_addr_match(&svc->listen[j].sa, sa);
			if (m == 2) /* an exact address wins over a wildcard */
				return &rt->services[i];
			if (m == 1)
				wild = &rt->services[i];
		}
	}
	return wild;
}

const struct runtime_service *runtime_redirect_for(const struct runtime *rt,
						   const struct sockaddr *sa)
{
	for (size_t i = 0; i < rt->cfg->nservices; i++) {
		const struct config_http *h = &rt->cfg->services[i].http;
		if (h->present && h->redirect_http.text &&
		    runtime_addr_match(&h->redirect_http.sa, sa) == 2)
			return &rt->services[i];
	}
	return NULL;
}
