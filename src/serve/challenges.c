/* challenges.c — the table of ACME challenges the running listeners answer.
 *
 * A fixed array of entries under one mutex, with an atomic count that lets
 * the workers skip the lock while nothing is pending (every connection but
 * the CA's few validations).  Written by the renewal thread of `run`, read
 * by the workers' client-hello callback (tls-alpn-01) and the port-80
 * listener (http-01).  Key authorizations are wiped when removed.  No
 * sockets, no logging.
 */
#include "edge443/serve/challenges.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

struct challenges_entry {
	char *name, *token, *key_auth;
	SSL_CTX *alpn; /* one reference, or NULL */
};

static pthread_mutex_t challenges_lock = PTHREAD_MUTEX_INITIALIZER;
static struct challenges_entry challenges_tab[CHALLENGES_MAX];
static size_t challenges_n; /* under the lock */
static atomic_size_t challenges_hint;

static void challenges_entry_free(struct challenges_entry *e)
{
	free(e->name);
	free(e->token);
	if (e->key_auth) {
		OPENSSL_cleanse(e->key_auth, strlen(e->key_auth));
		free(e->key_auth);
	}
	SSL_CTX_free(e->alpn);
	memset(e, 0, sizeof(*e));
}

/* Under the lock: the index of NAME + TOKEN, or -1. */
static long challenges_find(const char *name, const char *token)
{
	for (size_t i = 0; i < challenges_n; i++)
		if (strcasecmp(challenges_tab[i].name, name) == 0 &&
		    strcmp(challenges_tab[i].token, token) == 0)
			return (long)i;
	return -1;
}

/* Under the lock: remove entry I (the last one moves into its place). */
static void challenges_drop(size_t i)
{
	challenges_entry_free(&challenges_tab[i]);
	challenges_n--;
	if (i != challenges_n) {
		challenges_tab[i] = challenges_tab[challenges_n];
		memset(&challenges_tab[challenges_n], 0,
		       sizeof(challenges_tab[0]));
	}
	atomic_store(&challenges_hint, challenges_n);
}

int challenges_add(const char *name, const char *token, const char *key_auth,
		   SSL_CTX *alpn_ctx)
{
	struct challenges_entry e = {0};
	long at;
	int rc = -1;

	if (!name || !token || !key_auth)
		return -1;
	e.name = strdup(name);
	e.token = strdup(token);
	e.key_auth = strdup(key_auth);
	if (!e.name || !e.token || !e.key_auth ||
	    (alpn_ctx && SSL_CTX_up_ref(alpn_ctx) != 1)) {
		challenges_entry_free(&e);
		return -1;
	}
	e.alpn = alpn_ctx;
	pthread_mutex_lock(&challenges_lock);
	at = challenges_find(name, token);
	if (at >= 0) {
		challenges_entry_free(&challenges_tab[at]);
		challenges_tab[at] = e;
		rc = 0;
	} else if (challenges_n < CHALLENGES_MAX) {
		challenges_tab[challenges_n++] = e;
		atomic_store(&challenges_hint, challenges_n);
		rc = 0;
	}
	pthread_mutex_unlock(&challenges_lock);
	if (rc != 0)
		challenges_entry_free(&e);
	return rc;
}

void challenges_remove(const char *name, const char *token)
{
	long at;

	pthread_mutex_lock(&challenges_lock);
	at = challenges_find(name, token);
	if (at >= 0)
		challenges_drop((size_t)at);
	pthread_mutex_unlock(&challenges_lock);
}

void challenges_clear(void)
{
	pthread_mutex_lock(&challenges_lock);
	while (challenges_n > 0)
		challenges_drop(challenges_n - 1);
	pthread_mutex_unlock(&challenges_lock);
}

size_t challenges_count(void)
{
	return atomic_load(&challenges_hint);
}

SSL_CTX *challenges_alpn_ctx(const char *name)
{
	SSL_CTX *ctx = NULL;

	if (!name || challenges_count() == 0)
		return NULL;
	pthread_mutex_lock(&challenges_lock);
	for (size_t i = 0; i < challenges_n && !ctx; i++)
		if (challenges_tab[i].alpn &&
		    strcasecmp(challenges_tab[i].name, name) == 0 &&
		    SSL_CTX_up_ref(challenges_tab[i].alpn) == 1)
			ctx = challenges_tab[i].alpn;
	pthread_mutex_unlock(&challenges_lock);
	return ctx;
}

char *challenges_http(const char *token)
{
	char *ka = NULL;

	if (!token || challenges_count() == 0)
		return NULL;
	pthread_mutex_lock(&challenges_lock);
	for (size_t i = 0; i < challenges_n && !ka; i++)
		if (strcmp(challenges_tab[i].token, token) == 0) {
			ka = strdup(challenges_tab[i].key_auth);
			break;
		}
	pthread_mutex_unlock(&challenges_lock);
	return ka;
}

bool challenges_alpn_offered(const unsigned char *p, size_t len)
{
	size_t proto = sizeof(CHALLENGES_ALPN) - 1;

	if (!p || len < 2 || (((size_t)p[0] << 8) | p[1]) + 2 != len)
		return false;
	for (size_t i = 2; i < len;) {
		size_t n = p[i];

		if (n == 0 || i + 1 + n > len)
			return false;
		if (n == proto && memcmp(p + i + 1, CHALLENGES_ALPN, n) == 0)
			return true;
		i += 1 + n;
	}
	return false;
}
