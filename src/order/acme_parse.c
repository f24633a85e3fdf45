/* acme_parse.c — the ACME server's JSON documents read into plain structs.
 *
 * The directory, an order, an authorization with its challenges and a
 * problem document (RFC 8555 section 7.1, RFC 7807), read with jansson; a
 * status word; the wait before the next poll, from Retry-After or a
 * doubling default; and the renewal window of renew_before.  Pure functions of
 * their text: no I/O, any thread. What to do with the result is acme.c's
 * business.
 */
#include "edge443/order/acme_parse.h"
#include "edge443/base/ossl_err.h"
#include "edge443/order/acme_http.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACME_ERR_PREFIX "urn:ietf:params:acme:error:"

enum acme_status acme_status_parse(const char *s)
{
	static const struct {
		const char *name;
		enum acme_status st;
	} names[] = {
		{"pending", ACME_STATUS_PENDING},
		{"ready", ACME_STATUS_READY},
		{"processing", ACME_STATUS_PROCESSING},
		{"valid", ACME_STATUS_VALID},
		{"invalid", ACME_STATUS_INVALID},
	};

	for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].st;
	return ACME_STATUS_UNKNOWN;
}

static json_t *acme_load(const char *text, const char *what, char *err,
			 size_t errlen)
{
	json_error_t je;
	json_t *j = text ? json_loads(text, 0, &je) : NULL;

	if (!j || !json_is_object(j)) {
		ossl_err_printf(err, errlen,
				"the CA's %s is not a JSON object%s%s", what,
				j ? "" : ": ", j ? "" : (text ? je.text : ""));
		json_decref(j);
		return NULL;
	}
	return j;
}

/* A copy of string member KEY of O, or NULL when absent. */
static char *acme_strdup_member(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? strdup(s) : NULL;
}

/* "type: detail" of a problem object. */
static char *acme_problem_of(json_t *p)
{
	const char *type = json_string_value(json_object_get(p, "type"));
	const char *detail = json_string_value(json_object_get(p, "detail"));
	const char *head = "";
	char *out;
	size_t n;

	if (!type && !detail)
		return NULL;
	if (!type)
		type = "?";
	if (strncmp(type, ACME_ERR_PREFIX, strlen(ACME_ERR_PREFIX)) == 0) {
		type += strlen(ACME_ERR_PREFIX);
		head = "acme:";
	}
	n = strlen(head) + strlen(type) + 2 + (detail ? strlen(detail) : 0) + 1;
	out = malloc(n);
	if (out)
		snprintf(out, n, "%s%s: %s", head, type, detail ? detail : "");
	return out;
}

char *acme_problem_text(const char *text)
{
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;
	char *out = json_is_object(j) ? acme_problem_of(j) : NULL;

	json_decref(j);
	return out;
}

void acme_directory_clear(struct acme_directory *d)
{
	free(d->new_nonce);
	free(d->new_account);
	free(d->new_order);
	free(d->renewal_info);
	free(d->terms);
	memset(d, 0, sizeof(*d));
}

int acme_directory_parse(const char *text, struct acme_directory *d, char *err,
			 size_t errlen)
{
	json_t *j = acme_load(text, "directory", err, errlen), *meta;

	memset(d, 0, sizeof(*d));
	if (!j)
		return -1;
	d->new_nonce = acme_strdup_member(j, "newNonce");
	d->new_account = acme_strdup_member(j, "newAccount");
	d->new_order = acme_strdup_member(j, "newOrder");
	d->renewal_info = acme_strdup_member(j, "renewalInfo");
	meta = json_object_get(j, "meta");
	d->terms = acme_strdup_member(meta, "termsOfService");
	d->eab_required =
		json_is_true(json_object_get(meta, "externalAccountRequired"));
	json_decref(j);
	if (!d->new_nonce || !d->new_account || !d->new_order) {
		ossl_err_printf(err, errlen,
				"the CA's directory lacks newNonce, newAccount "
				"or newOrder — is directory the URL of an ACME "
				"directory?");
		acme_directory_clear(d);
		return -1;
	}
	return 0;
}

void acme_order_clear(struct acme_order *o)
{
	for (size_t i = 0; i < o->nauthorizations; i++)
		free(o->authorizations[i]);
	free(o->authorizations);
	free(o->finalize);
	free(o->certificate);
	free(o->error);
	memset(o, 0, sizeof(*o));
}

int acme_order_parse(const char *text, struct acme_order *o, char *err,
		     size_t errlen)
{
	json_t *j = acme_load(text, "order", err, errlen), *authz;
	bool has_authz;
	size_t i;

	memset(o, 0, sizeof(*o));
	if (!j)
		return -1;
	o->status = acme_status_parse(
		json_string_value(json_object_get(j, "status")));
	o->finalize = acme_strdup_member(j, "finalize");
	o->certificate = acme_strdup_member(j, "certificate");
	o->error = acme_problem_of(json_object_get(j, "error"));
	authz = json_object_get(j, "authorizations");
	has_authz = json_is_array(authz);
	if (json_array_size(authz)) {
		o->authorizations =
			calloc(json_array_size(authz), sizeof(char *));
		if (!o->authorizations)
			goto bad;
	}
	for (i = 0; i < json_array_size(authz); i++) {
		const char *s = json_string_value(json_array_get(authz, i));

		if (!s || !(o->authorizations[i] = strdup(s)))
			goto bad;
		o->nauthorizations++;
	}
	json_decref(j);
	if (o->status == ACME_STATUS_UNKNOWN || !o->finalize || !has_authz) {
		ossl_err_printf(err, errlen,
				"the CA's order lacks a status, finalize or "
				"authorizations");
		acme_order_clear(o);
		return -1;
	}
	return 0;
bad:
	json_decref(j);
	acme_order_clear(o);
	ossl_err_printf(err, errlen, "the CA's order has a bad authorization");
	return -1;
}

void acme_authz_clear(struct acme_authz *a)
{
	for (size_t i = 0; i < a->nchallenges; i++) {
		free(a->challenges[i].type);
		free(a->challenges[i].url);
		free(a->challenges[i].token);
	}
	free(a->challenges);
	free(a->identifier);
	free(a->error);
	memset(a, 0, sizeof(*a));
}

int acme_authz_parse(const char *text, struct acme_authz *a, char *err,
		     size_t errlen)
{
	json_t *j = acme_load(text, "authorization", err, errlen), *ch;
	size_t n;

	memset(a, 0, sizeof(*a));
	if (!j)
		return -1;
	a->status = acme_status_parse(
		json_string_value(json_object_get(j, "status")));
	a->identifier =
		acme_strdup_member(json_object_get(j, "identifier"), "value");
	ch = json_object_get(j, "challenges");
	n = json_array_size(ch);
	if (n && !(a->challenges = calloc(n, sizeof(*a->challenges))))
		goto bad;
	for (size_t i = 0; i < n; i++) {
		json_t *c = json_array_get(ch, i);
		struct acme_challenge *out = &a->challenges[a->nchallenges];

		out->type = acme_strdup_member(c, "type");
		out->url = acme_strdup_member(c, "url");
		out->token = acme_strdup_member(c, "token");
		out->status = acme_status_parse(
			json_string_value(json_object_get(c, "status")));
		a->nchallenges++;
		if (!out->type || !out->url)
			goto bad;
		if (!a->error)
			a->error = acme_problem_of(json_object_get(c, "error"));
	}
	json_decref(j);
	if (a->status == ACME_STATUS_UNKNOWN || !a->identifier) {
		ossl_err_printf(err, errlen,
				"the CA's authorization lacks a status or an "
				"identifier");
		acme_authz_clear(a);
		return -1;
	}
	return 0;
bad:
	json_decref(j);
	acme_authz_clear(a);
	ossl_err_printf(err, errlen,
			"the CA's authorization has a bad "
			"challenge");
	return -1;
}

long acme_poll_delay(const char *retry_after, time_t now, int attempt)
{
	long s = acme_retry_after(retry_after, now);

	if (s >= 0)
		return s < 1			? 1
		       : s > ACME_POLL_MAX_WAIT ? ACME_POLL_MAX_WAIT
						: s;
	if (attempt < 0)
		attempt = 0;
	return attempt >= 3 ? 8 : 1L << attempt;
}

long acme_renew_window(time_t not_before, time_t not_after,
		       int renew_before_days)
{
	if (renew_before_days > 0)
		return (long)renew_before_days * 86400L;
	if (not_after <= not_before)
		return 0;
	return (long)((not_after - not_before) / 3);
}
