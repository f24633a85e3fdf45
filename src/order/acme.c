/* acme.c — the ACME protocol (RFC 8555): account, order, challenge,
 * finalize, download.
 *
 * One client talks to the acme section's CA: it reads the directory, keeps
 * the nonce each answer brings (a HEAD to newNonce when it has none), signs
 * every POST with the account key (acme_jws.c) and sends it (acme_http.c).
 * A badNonce answer is retried with the fresh nonce, a 429 or 503 whose
 * Retry-After is short is waited out, both a bounded number of times; a CA
 * that does not answer the directory is tried ACME_CONNECT_TRIES times with
 * a growing wait; the polls of an authorization or an order are bounded
 * too (ACME_POLL_MAX) and honour Retry-After.  The JSON objects are read by
 * acme_parse.c.  The names to order and the request come from the caller
 * (the plan and csr.h), the challenge
 * is answered by the caller's acme_responder, and what comes back — the PEM
 * chain — is handed back, not installed.  Keys never reach a message.
 */
#include "edge443/order/acme.h"
#include "edge443/order/acme_ari.h"
#include "edge443/base/ossl_err.h"
#include "edge443/order/acme_http.h"
#include "edge443/order/acme_jws.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/x509.h>

#define ACME_HTTP_TIMEOUT 30
/* Tries of the directory before the CA is called down. */
#define ACME_CONNECT_TRIES 3

struct acme_client {
	const struct config_acme *cfg;
	struct acme_http *http;
	EVP_PKEY *key;
	struct acme_directory dir;
	char *nonce;
	char *kid;	  /* the account URL, once known */
	long retry_after; /* the last 429/503's Retry-After not waited out
			     (seconds), or -1 */
	char *replaces;	  /* ARI certID of the certificate the next order
			     replaces (RFC 9773 section 5), or NULL */
};

/* ---- the client --------------------------------------------------------- */

static void acme_sleep(long seconds)
{
	struct timespec ts = {.tv_sec = seconds};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Create FOLDER (0700) when missing; refuse one others may write. */
static int acme_state_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		ossl_err_printf(err, errlen,
				"cannot create state_dir %s: %s — create it "
				"(mode 0700), or set state_dir",
				dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		ossl_err_printf(err, errlen, "state_dir %s is not a folder",
				dir);
		return -1;
	}
	if (st.st_mode & 022) {
		ossl_err_printf(err, errlen,
				"state_dir %s is writable by others — chmod "
				"700 %s",
				dir, dir);
		return -1;
	}
	return 0;
}

struct acme_client *acme_client_new(const struct config_acme *cfg, char *err,
				    size_t errlen)
{
	struct acme_client *c = calloc(1, sizeof(*c));

	if (!c) {
		ossl_err_printf(err, errlen, "out of memory");
		return NULL;
	}
	c->cfg = cfg;
	c->retry_after = -1;
	if (!cfg || !cfg->present || !cfg->directory) {
		ossl_err_printf(err, errlen,
				"no acme { } section with a directory");
		goto fail;
	}
	if (acme_state_dir(cfg->state_dir, err, errlen) != 0)
		goto fail;
	c->key = acme_account_key_load(cfg->account_key, err, errlen);
	if (!c->key)
		goto fail;
	c->http =
		acme_http_new(cfg->trust_file, ACME_HTTP_TIMEOUT, err, errlen);
	if (!c->http)
		goto fail;
	return c;
fail:
	acme_client_free(c);
	return NULL;
}

void acme_client_free(struct acme_client *c)
{
	if (!c)
		return;
	free(c->replaces);
	acme_http_free(c->http);
	EVP_PKEY_free(c->key);
	acme_directory_clear(&c->dir);
	free(c->nonce);
	free(c->kid);
	free(c);
}

EVP_PKEY *acme_client_key(const struct acme_client *c)
{
	return c->key;
}

/* "the CA refused WHAT (HTTP 400): acme:malformed: detail". */
static void acme_refused(const struct acme_resp *resp, const char *what,
			 char *err, size_t errlen)
{
	char *p = acme_problem_text(resp->body);

	ossl_err_printf(err, errlen, "the CA refused %s (HTTP %ld)%s%s", what,
			resp->status, p ? ": " : "", p ? p : "");
	free(p);
}

static int acme_new_nonce(struct acme_client *c, char *err, size_t errlen)
{
	struct acme_resp resp = {0};

	if (acme_http_get(c->http, c->dir.new_nonce, 1, &resp, err, errlen) !=
	    0)
		return -1;
	if (!resp.nonce) {
		ossl_err_printf(err, errlen,
				"the CA's newNonce answered HTTP %ld without "
				"a Replay-Nonce",
				resp.status);
		acme_resp_clear(&resp);
		return -1;
	}
	free(c->nonce);
	c->nonce = resp.nonce;
	resp.nonce = NULL;
	acme_resp_clear(&resp);
	return 0;
}

/* Is this answer the problem TYPE ("badNonce", "rateLimited")? */
static int acme_is_problem(const struct acme_resp *resp, const char *type)
{
	char *p = acme_problem_text(resp->body);
	char want[64];
	int yes;

	snprintf(want, sizeof(want), "acme:%s:", type);
	yes = p && strncmp(p, want, strlen(want)) == 0;
	free(p);
	return yes;
}

/* POST PAYLOAD (NULL: POST-as-GET) signed to URL, with nonces handled.
 * On 0 RESP holds the last answer, whatever its status. */
static int acme_post(struct acme_client *c, const char *url,
		     const char *payload, const char *accept,
		     struct acme_resp *resp, char *err, size_t errlen)
{
	int busy = 0, stale = 0;

	while (busy < ACME_POST_TRIES && stale < ACME_BADNONCE_TRIES) {
		char *body;
		long wait;

		if (!c->nonce && acme_new_nonce(c, err, errlen) != 0)
			return -1;
		body = acme_jws_sign(c->key, c->kid, c->nonce, url, payload,
				     err, errlen);
		free(c->nonce);
		c->nonce = NULL;
		if (!body)
			return -1;
		if (acme_http_post(c->http, url, body, accept, resp, err,
				   errlen) != 0) {
			free(body);
			return -1;
		}
		free(body);
		c->nonce = resp->nonce;
		resp->nonce = NULL;
		if (resp->status == 400 && acme_is_problem(resp, "badNonce")) {
			stale++;
			continue;
		}
		if (resp->status == 429 || resp->status == 503) {
			wait = acme_retry_after(resp->retry_after, time(NULL));
			if (wait >= 0 && wait <= ACME_POLL_MAX_WAIT &&
			    ++busy < ACME_POST_TRIES) {
				acme_sleep(wait < 1 ? 1 : wait);
				continue;
			}
			if (wait >= 0)
				c->retry_after = wait;
		}
		return 0;
	}
	/* the last answer (badNonce, or busy) is the caller's to report */
	return 0;
}

static int acme_write_account_url(struct acme_client *c, char *err,
				  size_t errlen)
{
	char path[4096], *text;
	size_t n;
	int rc;

	if (snprintf(path, sizeof(path), "%s/account.url", c->cfg->state_dir) >=
	    (int)sizeof(path))
		return 0;
	n = strlen(c->kid) + 2;
	text = malloc(n);
	if (!text)
		return -1;
	snprintf(text, n, "%s\n", c->kid);
	rc = acme_write_atomic(path, text, strlen(text), 0600, err, errlen);
	free(text);
	return rc;
}

int acme_client_replaces(struct acme_client *c, const X509 *cert)
{
	free(c->replaces);
	c->replaces = cert ? acme_ari_cert_id(cert) : NULL;
	return c->replaces || !cert ? 0 : -1;
}

int acme_client_renewal_info(struct acme_client *c, const X509 *cert,
			     time_t *start, time_t *end, long *retry_after,
			     char *err, size_t errlen)
{
	struct acme_resp resp = {0};
	char *id, *url;
	int rc = -1;

	*retry_after = -1;
	if (!c->dir.renewal_info)
		return 0;
	id = acme_ari_cert_id(cert);
	if (!id)
		return 0;
	url = malloc(strlen(c->dir.renewal_info) + strlen(id) + 2);
	if (!url) {
		free(id);
		ossl_err_printf(err, errlen, "out of memory");
		return -1;
	}
	sprintf(url, "%s%s%s", c->dir.renewal_info,
		c->dir.renewal_info[strlen(c->dir.renewal_info) - 1] == '/'
			? ""
			: "/",
		id);
	if (acme_http_get(c->http, url, 0, &resp, err, errlen) != 0)
		goto done;
	if (resp.status != 200) {
		ossl_err_printf(err, errlen, "renewalInfo %s answered HTTP %ld",
				url, resp.status);
		goto done;
	}
	if (acme_ari_parse(resp.body, start, end, err, errlen) != 0)
		goto done;
	if (resp.retry_after)
		*retry_after = acme_retry_after(resp.retry_after, time(NULL));
	rc = 1;
done:
	acme_resp_clear(&resp);
	free(url);
	free(id);
	return rc;
}

int acme_client_account(struct acme_client *c, char *err, size_t errlen)
{
	const struct config_acme *cfg = c->cfg;
	struct acme_resp resp = {0};
	json_t *payload = NULL, *contact = NULL;
	char *text = NULL;
	int ret = -1;

	/* the first contact: a CA that is down (or busy) is tried again,
	 * ACME_CONNECT_TRIES times with waits of 1, 2, 4 ... seconds */
	for (int i = 0;; i++) {
		int rc = acme_http_get(c->http, cfg->directory, 0, &resp, err,
				       errlen);

		if (rc == 0 && resp.status != 429 && resp.status != 503)
			break;
		if (i + 1 == ACME_CONNECT_TRIES) {
			if (rc != 0) {
				size_t used = strlen(err);

				snprintf(
					err + used, errlen - used,
					" (tried %d times) — is the CA up, and "
					"is directory right?",
					ACME_CONNECT_TRIES);
				goto done;
			}
			break;
		}
		acme_sleep(acme_poll_delay(resp.retry_after, time(NULL), i));
	}
	if (resp.status != 200) {
		ossl_err_printf(err, errlen,
				"the directory %s answered HTTP %ld — check "
				"directory in the acme section",
				cfg->directory, resp.status);
		goto done;
	}
	acme_directory_clear(&c->dir);
	if (acme_directory_parse(resp.body, &c->dir, err, errlen) != 0)
		goto done;
	if (c->dir.eab_required && !cfg->eab_kid) {
		ossl_err_printf(err, errlen,
				"the CA requires External Account Binding — "
				"set eab_kid and eab_hmac_key in the acme "
				"section to what the CA gave you");
		goto done;
	}
	payload = json_object();
	contact = json_array();
	if (!payload || !contact)
		goto oom;
	for (size_t i = 0; i < cfg->ncontact; i++)
		if (json_array_append_new(contact,
					  json_string(cfg->contact[i])))
			goto oom;
	if (json_object_set_new(payload, "termsOfServiceAgreed", json_true()))
		goto oom;
	if (cfg->ncontact && json_object_set(payload, "contact", contact))
		goto oom;
	if (cfg->eab_kid) {
		json_t *eab =
			acme_eab_jws(cfg->eab_kid, cfg->eab_hmac_key, c->key,
				     c->dir.new_account, err, errlen);
		if (!eab)
			goto done;
		if (json_object_set_new(payload, "externalAccountBinding", eab))
			goto oom;
	}
	text = json_dumps(payload, JSON_COMPACT);
	if (!text)
		goto oom;
	free(c->kid);
	c->kid = NULL; /* newAccount is signed with the JWK */
	if (acme_post(c, c->dir.new_account, text, NULL, &resp, err, errlen) !=
	    0)
		goto done;
	if (resp.status != 200 && resp.status != 201) {
		acme_refused(&resp, "the account (newAccount)", err, errlen);
		goto done;
	}
	if (!resp.location) {
		ossl_err_printf(err, errlen,
				"the CA's newAccount answer has no Location");
		goto done;
	}
	c->kid = resp.location;
	resp.location = NULL;
	ret = acme_write_account_url(c, err, errlen);
	goto done;
oom:
	ossl_err_printf(err, errlen, "out of memory");
done:
	acme_resp_clear(&resp);
	json_decref(payload);
	json_decref(contact);
	free(text);
	return ret;
}

/* POST-as-GET URL until its status is no longer pending/processing (or
 * READY_TOO and ready); PARSE reads the answer into OBJ.  The last status
 * or ACME_STATUS_UNKNOWN on failure (reason in err). */
static enum acme_status acme_poll_authz(struct acme_client *c, const char *url,
					struct acme_authz *a, char *err,
					size_t errlen)
{
	struct acme_resp resp = {0};

	for (int i = 0; i < ACME_POLL_MAX; i++) {
		acme_authz_clear(a);
		if (acme_post(c, url, NULL, NULL, &resp, err, errlen) != 0)
			break;
		if (resp.status != 200) {
			acme_refused(&resp, "an authorization", err, errlen);
			break;
		}
		if (acme_authz_parse(resp.body, a, err, errlen) != 0)
			break;
		if (a->status != ACME_STATUS_PENDING &&
		    a->status != ACME_STATUS_PROCESSING) {
			acme_resp_clear(&resp);
			return a->status;
		}
		acme_sleep(acme_poll_delay(resp.retry_after, time(NULL), i));
	}
	if (a->status == ACME_STATUS_PENDING)
		ossl_err_printf(err, errlen,
				"the authorization of %s is still pending "
				"after %d polls",
				a->identifier ? a->identifier : "?",
				ACME_POLL_MAX);
	acme_resp_clear(&resp);
	return ACME_STATUS_UNKNOWN;
}

static enum acme_status acme_poll_order(struct acme_client *c, const char *url,
					struct acme_order *o,
					enum acme_status until, char *err,
					size_t errlen)
{
	struct acme_resp resp = {0};

	for (int i = 0; i < ACME_POLL_MAX; i++) {
		acme_order_clear(o);
		if (acme_post(c, url, NULL, NULL, &resp, err, errlen) != 0)
			break;
		if (resp.status != 200) {
			acme_refused(&resp, "the order", err, errlen);
			break;
		}
		if (acme_order_parse(resp.body, o, err, errlen) != 0)
			break;
		if (o->status == until || o->status == ACME_STATUS_INVALID ||
		    o->status == ACME_STATUS_VALID) {
			acme_resp_clear(&resp);
			return o->status;
		}
		acme_sleep(acme_poll_delay(resp.retry_after, time(NULL), i));
		if (i + 1 == ACME_POLL_MAX)
			ossl_err_printf(err, errlen,
					"the order is still not %s after %d "
					"polls",
					until == ACME_STATUS_READY ? "ready"
								   : "valid",
					ACME_POLL_MAX);
	}
	acme_resp_clear(&resp);
	return ACME_STATUS_UNKNOWN;
}

/* newOrder for NAMES: the order (its URL in *URL). */
static int acme_new_order(struct acme_client *c, const char *const *names,
			  size_t n, struct acme_order *o, char **url, char *err,
			  size_t errlen)
{
	struct acme_resp resp = {0};
	json_t *ids = json_array(), *payload = NULL;
	char *text = NULL;
	int ret = -1;

	for (size_t i = 0; ids && i < n; i++)
		if (json_array_append_new(ids,
					  json_pack("{s:s, s:s}", "type", "dns",
						    "value", names[i])))
			goto oom;
	payload = json_pack("{s:O}", "identifiers", ids);
	/* RFC 9773 section 5: say which certificate this order replaces,
	 * only to a CA that offers renewalInfo. */
	if (payload && c->replaces && c->dir.renewal_info &&
	    json_object_set_new(payload, "replaces",
				json_string(c->replaces)) != 0)
		goto oom;
	text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
	if (!text)
		goto oom;
	if (acme_post(c, c->dir.new_order, text, NULL, &resp, err, errlen) != 0)
		goto done;
	if (resp.status != 201 && resp.status != 200) {
		acme_refused(&resp, "the order (newOrder)", err, errlen);
		goto done;
	}
	if (!resp.location) {
		ossl_err_printf(err, errlen,
				"the CA's newOrder answer has no Location");
		goto done;
	}
	if (acme_order_parse(resp.body, o, err, errlen) != 0)
		goto done;
	*url = resp.location;
	resp.location = NULL;
	ret = 0;
	goto done;
oom:
	ossl_err_printf(err, errlen, "out of memory");
done:
	acme_resp_clear(&resp);
	json_decref(ids);
	json_decref(payload);
	free(text);
	return ret;
}

/* The challenge of AUTHZ of the responder's type, or NULL (reason in err). */
static const struct acme_challenge *
acme_pick_challenge(const struct acme_authz *a, const char *type, char *err,
		    size_t errlen)
{
	for (size_t i = 0; i < a->nchallenges; i++)
		if (strcmp(a->challenges[i].type, type) == 0 &&
		    a->challenges[i].token)
			return &a->challenges[i];
	ossl_err_printf(err, errlen,
			"the CA offers no %s challenge for %s — set challenge "
			"in the acme section to one it offers",
			type, a->identifier);
	return NULL;
}

/* Fetch every authorization; add the pending ones to RESP, start it, tell
 * the CA, and wait for each to be valid. */
static int acme_authorize(struct acme_client *c, const struct acme_order *o,
			  struct acme_responder *rsp, char *err, size_t errlen)
{
	const char *type = config_acme_challenge_name(acme_responder_type(rsp));
	struct acme_authz *az = calloc(o->nauthorizations + 1, sizeof(*az));
	const struct acme_challenge **ch =
		calloc(o->nauthorizations + 1, sizeof(*ch));
	struct acme_resp resp = {0};
	int ret = -1;

	if (!az || !ch)
		goto oom;
	for (size_t i = 0; i < o->nauthorizations; i++) {
		char *ka;

		if (acme_post(c, o->authorizations[i], NULL, NULL, &resp, err,
			      errlen) != 0)
			goto done;
		if (resp.status != 200) {
			acme_refused(&resp, "an authorization", err, errlen);
			goto done;
		}
		if (acme_authz_parse(resp.body, &az[i], err, errlen) != 0)
			goto done;
		if (az[i].status == ACME_STATUS_VALID)
			continue;
		if (az[i].status != ACME_STATUS_PENDING) {
			ossl_err_printf(err, errlen,
					"the authorization of %s is %s%s%s",
					az[i].identifier, "not pending",
					az[i].error ? ": " : "",
					az[i].error ? az[i].error : "");
			goto done;
		}
		ch[i] = acme_pick_challenge(&az[i], type, err, errlen);
		if (!ch[i])
			goto done;
		ka = acme_key_authorization(ch[i]->token, c->key);
		if (!ka)
			goto oom;
		if (acme_responder_add(rsp, az[i].identifier, ch[i]->token, ka,
				       err, errlen) != 0) {
			free(ka);
			goto done;
		}
		free(ka);
	}
	if (acme_responder_start(rsp, err, errlen) != 0)
		goto done;
	for (size_t i = 0; i < o->nauthorizations; i++) {
		if (!ch[i])
			continue;
		/* "{}": the server may validate now (section 7.5.1) */
		if (acme_post(c, ch[i]->url, "{}", NULL, &resp, err, errlen) !=
		    0)
			goto done;
		if (resp.status != 200) {
			acme_refused(&resp, "the challenge", err, errlen);
			goto done;
		}
	}
	for (size_t i = 0; i < o->nauthorizations; i++) {
		struct acme_authz now = {0};
		enum acme_status st;

		if (!ch[i])
			continue;
		st = acme_poll_authz(c, o->authorizations[i], &now, err,
				     errlen);
		if (st != ACME_STATUS_VALID) {
			if (st != ACME_STATUS_UNKNOWN)
				ossl_err_printf(err, errlen,
						"the CA could not validate %s "
						"with %s%s%s",
						az[i].identifier, type,
						now.error ? ": " : "",
						now.error ? now.error : "");
			acme_authz_clear(&now);
			goto done;
		}
		acme_authz_clear(&now);
	}
	ret = 0;
	goto done;
oom:
	ossl_err_printf(err, errlen, "out of memory");
done:
	acme_responder_stop(rsp);
	acme_resp_clear(&resp);
	for (size_t i = 0; az && i < o->nauthorizations; i++)
		acme_authz_clear(&az[i]);
	free(az);
	free(ch);
	return ret;
}

static int acme_finalize(struct acme_client *c, const struct acme_order *o,
			 X509_REQ *csr, char *err, size_t errlen)
{
	struct acme_resp resp = {0};
	unsigned char *der = NULL;
	char *csr64 = NULL, *text = NULL;
	json_t *payload = NULL;
	int n, ret = -1;

	n = i2d_X509_REQ(csr, &der);
	if (n <= 0) {
		ossl_err_drainf(err, errlen, "encoding the request");
		return -1;
	}
	csr64 = acme_b64url(der, (size_t)n);
	payload = csr64 ? json_pack("{s:s}", "csr", csr64) : NULL;
	text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
	if (!text) {
		ossl_err_printf(err, errlen, "out of memory");
		goto done;
	}
	if (acme_post(c, o->finalize, text, NULL, &resp, err, errlen) != 0)
		goto done;
	if (resp.status != 200) {
		acme_refused(&resp, "the request (finalize)", err, errlen);
		goto done;
	}
	ret = 0;
done:
	acme_resp_clear(&resp);
	OPENSSL_free(der);
	free(csr64);
	free(text);
	json_decref(payload);
	return ret;
}

char *acme_client_order(struct acme_client *c, const char *const *names,
			size_t nnames, X509_REQ *csr,
			struct acme_responder *rsp, char *err, size_t errlen)
{
	struct acme_order o = {0};
	struct acme_resp resp = {0};
	char *url = NULL, *pem = NULL;

	c->retry_after = -1;
	if (!c->kid && acme_client_account(c, err, errlen) != 0)
		return NULL;
	if (acme_new_order(c, names, nnames, &o, &url, err, errlen) != 0)
		goto done;
	if (o.status == ACME_STATUS_PENDING &&
	    acme_authorize(c, &o, rsp, err, errlen) != 0)
		goto done;
	if (acme_poll_order(c, url, &o, ACME_STATUS_READY, err, errlen) !=
	    ACME_STATUS_READY) {
		if (o.status == ACME_STATUS_INVALID)
			ossl_err_printf(err, errlen, "the order is invalid%s%s",
					o.error ? ": " : "",
					o.error ? o.error : "");
		if (o.status != ACME_STATUS_VALID)
			goto done;
	}
	if (o.status == ACME_STATUS_READY) {
		if (acme_finalize(c, &o, csr, err, errlen) != 0)
			goto done;
		if (acme_poll_order(c, url, &o, ACME_STATUS_VALID, err,
				    errlen) != ACME_STATUS_VALID) {
			if (o.status == ACME_STATUS_INVALID)
				ossl_err_printf(
					err, errlen,
					"the CA did not issue: the order is "
					"invalid%s%s",
					o.error ? ": " : "",
					o.error ? o.error : "");
			goto done;
		}
	}
	if (!o.certificate) {
		ossl_err_printf(err, errlen,
				"the order is valid but names no certificate");
		goto done;
	}
	if (acme_post(c, o.certificate, NULL,
		      "application/pem-certificate-chain", &resp, err,
		      errlen) != 0)
		goto done;
	if (resp.status != 200 || !resp.body ||
	    !strstr(resp.body, "-----BEGIN CERTIFICATE-----")) {
		acme_refused(&resp, "the download of the certificate", err,
			     errlen);
		goto done;
	}
	pem = resp.body;
	resp.body = NULL;
done:
	acme_resp_clear(&resp);
	acme_order_clear(&o);
	free(url);
	return pem;
}

long acme_client_retry_after(const struct acme_client *c)
{
	return c->retry_after;
}
