/* renew.c — the ACME renewal inside `edge443 run`.
 *
 * The companion of the server (server.h): at start it reads the
 * configuration and, for every certificate section with acme = true, the
 * installed certificate, and sets one timer per certificate at
 * renew_before before its notAfter (acme_schedule.h), or, when the CA's
 * directory offers renewalInfo (RFC 9773, acme_ari.h), at a random moment
 * of the window the CA suggests (asked at start, then every 6 hours or as
 * its Retry-After says).  One thread of its
 * own (every signal blocked: the main thread handles them) sleeps until
 * the earliest timer, so the ACME client's blocking calls never touch a
 * worker or the main loop.  A due certificate is renewed from a fresh read
 * of the configuration: a new key of the installed key's kind, the plan's
 * names, the challenges published in the running listeners' table
 * (challenges.h: tls-alpn-01 in the client-hello callback, http-01 on the
 * redirect_http listener), then acme_issue.c writes NAME.new, judges it
 * with every plan rule as of now and as of renew_before from now, and
 * renames it over the old files only when it passes.  Installed: SIGHUP to
 * the process, the reload path, which validates everything again and
 * swaps the runtime (open connections finish on the old certificate).
 * Refused or failed: the old certificate keeps serving, every line (the
 * findings with their rule ids) is logged, the result is counted
 * (acme_stats.h), and the next try backs off (1 minute doubling to a day,
 * never before the CA's Retry-After).
 */
#include "edge443/cli/renew.h"
#include "edge443/base/log.h"
#include "edge443/cli/acme_issue.h"
#include "edge443/config/config.h"
#include "edge443/order/acme.h"
#include "edge443/order/acme_ari.h"
#include "edge443/order/acme_respond.h"
#include "edge443/order/acme_schedule.h"
#include "edge443/order/csr.h"
#include "edge443/order/order.h"
#include "edge443/rules/rules.h"
#include "edge443/serve/acme_stats.h"
#include "edge443/serve/challenges.h"

#include <limits.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RENEW_MAX 64
#define RENEW_ERRLEN 4096
/* The thread looks at the clock at least this often (clock changes). */
#define RENEW_MAX_SLEEP 60
#define RENEW_WHO "acme renewal"
#define RENEW_NEVER ((time_t)LONG_MAX)
/* How often renewalInfo is asked when the CA sends no Retry-After, and the
 * bounds of what its Retry-After may ask (RFC 9773 section 4.3). */
#define RENEW_ARI_EVERY (6L * 3600L)
#define RENEW_ARI_MIN 3600L
#define RENEW_ARI_MAX (7L * 86400L)

struct renew_cert {
	char name[128];
	time_t next;	 /* when to renew */
	time_t ari_next; /* when to ask the CA's renewalInfo (RFC 9773) again;
			    RENEW_NEVER when it offers none */
	int failures;
};

struct renew {
	char *config_path;
	pthread_t thread;
	pthread_mutex_t lock; /* guards stop */
	pthread_cond_t wake;
	bool stop;
	struct renew_cert
		certs[RENEW_MAX]; /* the thread's alone once started */
	size_t n;
};

/* ---- the running listeners as the ACME responder ----------------------- */

static int renew_sink_add(void *arg, const char *name, const char *token,
			  const char *key_auth, SSL_CTX *alpn_ctx)
{
	(void)arg;
	return challenges_add(name, token, key_auth, alpn_ctx);
}

static void renew_sink_remove(void *arg, const char *name, const char *token)
{
	(void)arg;
	challenges_remove(name, token);
}

static const struct acme_responder_sink renew_sink = {renew_sink_add,
						      renew_sink_remove, NULL};

/* ---- one renewal -------------------------------------------------------- */

/* The key kind of the installed certificate, so a renewal keeps it. */
static enum csr_key_kind renew_key_kind(const struct cert_info *ci)
{
	if (ci && ci->key_type == CERT_KEY_EC)
		return CSR_KEY_EC_P256;
	if (ci && ci->key_type == CERT_KEY_RSA && ci->key_bits >= 3072)
		return CSR_KEY_RSA3072;
	return CSR_KEY_RSA2048;
}

/* When section I of CFG (loaded as PC) is due; NOW when its certificate
 * cannot be read. */
static time_t renew_due(const struct config *cfg, const struct rules_certs *pc,
			size_t i, time_t now)
{
	const struct cert_info *ci = pc && i < pc->n ? pc->certs[i] : NULL;

	if (!ci || !ci->leaf)
		return now;
	return acme_renew_at(ci->not_before, ci->not_after,
			     cfg->acme.renew_before);
}

/* Log every line of TEXT at LEVEL, after PREFIX. */
static void renew_log_lines(enum log_level level, const char *prefix,
			    char *text)
{
	for (char *line = text, *nl; line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		if (*line)
			log_msg(level, "%s%s", prefix, line);
	}
}

/* Renew certificate RC now: the result, and in *RETRY_AFTER the CA's
 * Retry-After (-1: none); in *NEXT its new due time when installed. */
static enum acme_issue_result renew_one(const struct renew *r,
					const struct renew_cert *rc,
					long *retry_after, time_t *next)
{
	char err[RENEW_ERRLEN], prefix[192];
	enum config_status st;
	enum acme_issue_result res = ACME_ISSUE_FAILED;
	struct config *cfg = NULL;
	struct order_plan *plan = NULL;
	struct rules_certs *pc = NULL;
	struct acme_client *client = NULL;
	struct acme_responder *rsp = NULL;
	struct config_cert *cc = NULL;
	const struct order_cert *oc = NULL;
	char *outbuf = NULL, *errbuf = NULL;
	size_t outlen = 0, errlen = 0;
	FILE *out = NULL, *errf = NULL;

	*retry_after = -1;
	snprintf(prefix, sizeof(prefix), RENEW_WHO " of %s: ", rc->name);
	cfg = config_load(r->config_path, &st, err, sizeof(err));
	if (!cfg) {
		log_error("%s%s is not valid: %s", prefix, r->config_path, err);
		goto done;
	}
	for (size_t i = 0; i < cfg->ncerts; i++)
		if (cfg->certs[i].acme &&
		    strcmp(cfg->certs[i].name, rc->name) == 0)
			cc = &cfg->certs[i];
	plan = cc ? order_plan_new(cfg, err, sizeof(err)) : NULL;
	for (size_t k = 0; plan && k < plan->n; k++)
		if (strcmp(plan->certs[k].name, rc->name) == 0)
			oc = &plan->certs[k];
	if (!cc || !oc) {
		log_error("%sthe configuration no longer plans it with acme = "
			  "true; not renewed",
			  prefix);
		goto done;
	}
	pc = rules_load_certs(cfg);
	client = acme_client_new(&cfg->acme, err, sizeof(err));
	if (!client || acme_client_account(client, err, sizeof(err)) != 0) {
		log_error("%s%s", prefix, err);
		goto done;
	}
	rsp = acme_responder_new_sink(cfg->acme.challenge, &renew_sink, err,
				      sizeof(err));
	out = open_memstream(&outbuf, &outlen);
	errf = open_memstream(&errbuf, &errlen);
	if (!rsp || !out || !errf) {
		log_error("%s%s", prefix, rsp ? "out of memory" : err);
		goto done;
	}
	/* RFC 9773: the order says which certificate it replaces. */
	if (pc && pc->certs[cc - cfg->certs] &&
	    pc->certs[cc - cfg->certs]->leaf)
		(void)acme_client_replaces(client,
					   pc->certs[cc - cfg->certs]->leaf);
	log_info("%sordering %zu names with %s", prefix, oc->nsans,
		 config_acme_challenge_name(cfg->acme.challenge));
	res = acme_issue_one(
		client, cfg, cc, oc,
		renew_key_kind(pc ? pc->certs[cc - cfg->certs] : NULL), rsp,
		RENEW_WHO, out, errf);
	*retry_after = acme_client_retry_after(client);
	fclose(out);
	fclose(errf);
	out = errf = NULL;
	renew_log_lines(LOG_LEVEL_INFO, prefix, outbuf);
	renew_log_lines(res == ACME_ISSUE_OK ? LOG_LEVEL_WARN : LOG_LEVEL_ERROR,
			prefix, errbuf);
	if (res == ACME_ISSUE_OK) {
		rules_certs_free(pc);
		pc = rules_load_certs(cfg);
		*next = renew_due(cfg, pc, (size_t)(cc - cfg->certs),
				  time(NULL));
	}
done:
	if (out)
		fclose(out);
	if (errf)
		fclose(errf);
	free(outbuf);
	free(errbuf);
	acme_responder_free(rsp);
	acme_client_free(client);
	rules_certs_free(pc);
	order_plan_free(plan);
	config_free(cfg);
	return res;
}

/* Ask the CA's renewalInfo (RFC 9773) when RC should be renewed: when it
 * offers a window, RC is renewed at a random moment inside it (which may be
 * earlier than renew_before, after a revocation, or later); when it offers
 * none, renew_before stays and the CA is not asked again. */
static void renew_ari(const struct renew *r, struct renew_cert *rc)
{
	char err[RENEW_ERRLEN], when[32];
	enum config_status st;
	struct config *cfg = config_load(r->config_path, &st, err, sizeof(err));
	struct rules_certs *pc = NULL;
	struct acme_client *client = NULL;
	const struct cert_info *ci = NULL;
	time_t start, end, now = time(NULL);
	long retry_after = -1;
	unsigned long rnd = 0;
	int got = -1;
	struct tm tm;

	rc->ari_next = now + RENEW_ARI_EVERY;
	if (!cfg)
		goto out;
	pc = rules_load_certs(cfg);
	for (size_t i = 0; pc && i < cfg->ncerts && i < pc->n; i++)
		if (strcmp(cfg->certs[i].name, rc->name) == 0)
			ci = pc->certs[i];
	if (!ci || !ci->leaf)
		goto out;
	client = acme_client_new(&cfg->acme, err, sizeof(err));
	if (client && acme_client_account(client, err, sizeof(err)) == 0)
		got = acme_client_renewal_info(client, ci->leaf, &start, &end,
					       &retry_after, err, sizeof(err));
	if (got == 0) {
		rc->ari_next = RENEW_NEVER;
		goto out;
	}
	if (got < 0) {
		log_warn(RENEW_WHO " of %s: renewalInfo: %s; asked again in "
				   "%ld s",
			 rc->name, err, RENEW_ARI_EVERY);
		goto out;
	}
	if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1)
		rnd = (unsigned long)now;
	rc->next = acme_ari_pick(start, end, now, rnd);
	acme_stats_set_next(rc->name, rc->next);
	if (retry_after > 0)
		rc->ari_next =
			now + (retry_after < RENEW_ARI_MIN   ? RENEW_ARI_MIN
			       : retry_after > RENEW_ARI_MAX ? RENEW_ARI_MAX
							     : retry_after);
	gmtime_r(&rc->next, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	log_info(RENEW_WHO " of %s: the CA's renewal window (RFC 9773) says "
			   "%s",
		 rc->name, when);
out:
	acme_client_free(client);
	rules_certs_free(pc);
	config_free(cfg);
}

/* Renew RC, count the result and set its next timer. */
static void renew_run(struct renew *r, struct renew_cert *rc)
{
	long retry_after = -1;
	time_t next = 0, now;
	enum acme_issue_result res = renew_one(r, rc, &retry_after, &next);
	char when[32];
	struct tm tm;

	now = time(NULL);
	if (res == ACME_ISSUE_OK) {
		rc->failures = 0;
		rc->next = next > now ? next : now + ACME_BACKOFF_MAX;
		if (rc->ari_next != RENEW_NEVER)
			rc->ari_next = now + RENEW_ARI_EVERY;
		acme_stats_count(rc->name, ACME_STATS_OK);
		/* The reload path, exactly as SIGHUP: everything validated
		 * again, new connections on the new certificate. */
		kill(getpid(), SIGHUP);
	} else {
		rc->failures++;
		rc->next = acme_next_try(now, rc->failures, retry_after);
		acme_stats_count(rc->name, res == ACME_ISSUE_REFUSED
						   ? ACME_STATS_REFUSED
						   : ACME_STATS_FAILED);
	}
	acme_stats_set_next(rc->name, rc->next);
	gmtime_r(&rc->next, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (res == ACME_ISSUE_OK)
		log_info(RENEW_WHO " of %s: installed; the reload serves it to "
				   "new connections; next renewal %s",
			 rc->name, when);
	else
		log_error(RENEW_WHO " of %s: %s (failure %d in a row); the old "
				    "certificate keeps serving; next try %s",
			  rc->name,
			  res == ACME_ISSUE_REFUSED
				  ? "refused by the plan rules"
				  : "failed",
			  rc->failures, when);
}

/* ---- the thread ---------------------------------------------------------- */

static void *renew_thread(void *arg)
{
	struct renew *r = arg;

	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		time_t now = time(NULL), first = 0;
		struct renew_cert *due = NULL;
		bool ari = false;

		for (size_t i = 0; i < r->n; i++) {
			struct renew_cert *c = &r->certs[i];

			if (!due || c->ari_next < first) {
				due = c;
				first = c->ari_next;
				ari = true;
			}
			if (c->next < first) {
				due = c;
				first = c->next;
				ari = false;
			}
		}
		if (due && first <= now) {
			pthread_mutex_unlock(&r->lock);
			if (ari)
				renew_ari(r, due);
			else
				renew_run(r, due);
			pthread_mutex_lock(&r->lock);
			continue;
		}
		struct timespec until = {
			.tv_sec = now + (due && first - now < RENEW_MAX_SLEEP
						 ? first - now
						 : RENEW_MAX_SLEEP)};
		pthread_cond_timedwait(&r->wake, &r->lock, &until);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static void renew_free(struct renew *r)
{
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->wake);
	free(r->config_path);
	free(r);
}

static void *renew_start(const char *config_path, void *arg)
{
	char err[RENEW_ERRLEN], when[32];
	enum config_status st;
	struct config *cfg = config_load(config_path, &st, err, sizeof(err));
	struct rules_certs *pc = NULL;
	struct renew *r = NULL;
	sigset_t all, old;
	time_t now = time(NULL);

	(void)arg;
	if (!cfg || !cfg->acme.present)
		goto out;
	r = calloc(1, sizeof(*r));
	if (!r || !(r->config_path = strdup(config_path))) {
		log_error(RENEW_WHO ": out of memory; nothing is renewed");
		free(r);
		r = NULL;
		goto out;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	pc = rules_load_certs(cfg);
	for (size_t i = 0; i < cfg->ncerts && r->n < RENEW_MAX; i++) {
		struct renew_cert *rc = &r->certs[r->n];
		struct tm tm;

		if (!cfg->certs[i].acme)
			continue;
		snprintf(rc->name, sizeof(rc->name), "%s", cfg->certs[i].name);
		rc->next = renew_due(cfg, pc, i, now);
		rc->ari_next = now; /* ask the CA's window first */
		acme_stats_set_next(rc->name, rc->next);
		gmtime_r(&rc->next, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		log_info(RENEW_WHO " of %s: due %s%s", rc->name, when,
			 rc->next <= now ? " (now)" : "");
		r->n++;
	}
	if (r->n == 0) {
		renew_free(r);
		r = NULL;
		goto out;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(&r->thread, NULL, renew_thread, r);
	if (rc != 0) {
		log_error(RENEW_WHO ": cannot start its thread: %s; nothing is "
				    "renewed",
			  strerror(rc));
		renew_free(r);
		r = NULL;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
out:
	rules_certs_free(pc);
	config_free(cfg);
	return r;
}

/* Waits for a renewal in progress: its calls are bounded (timeouts and
 * tries of acme.c). */
static void renew_stop(void *handle)
{
	struct renew *r = handle;

	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_broadcast(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	challenges_clear();
	renew_free(r);
}

static const struct server_companion renew_comp = {renew_start, renew_stop,
						   NULL};

const struct server_companion *renew_companion(void)
{
	return &renew_comp;
}
