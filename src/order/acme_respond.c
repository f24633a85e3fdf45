/* acme_respond.c — a temporary listener that answers ACME challenges.
 *
 * `edge443 order` (edge443 not running) binds each address the challenge is
 * answered on before it asks the CA anything, then answers in a thread of
 * its own while the CA validates: tls-alpn-01 through the SSL_CTX of
 * acme_alpn.c, http-01 as plain HTTP/1.x, "GET
 * /.well-known/acme-challenge/TOKEN" answered with the key authorization
 * (200, text/plain) and anything else with 404.  One connection at a time,
 * each bounded by ACME_RESPOND_IO_TIMEOUT; the thread ends when stopped, or
 * after ACME_RESPOND_LIFETIME whatever happens.  It logs nothing.  A sink
 * responder (the renewal in `run`, whose listeners already hold the
 * addresses) binds nothing and starts no thread: each challenge goes to the
 * sink when added (for tls-alpn-01 with a context serving its certificate)
 * and is taken back when the responder stops.
 */
#include "edge443/order/acme_respond.h"
#include "edge443/base/ossl_err.h"
#include "edge443/order/acme_alpn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#define ACME_RESPOND_MAX_ADDRS 64
#define ACME_RESPOND_IO_TIMEOUT 5 /* seconds per connection */
#define ACME_RESPOND_LIFETIME 900 /* seconds, at most */
#define ACME_RESPOND_PREFIX "/.well-known/acme-challenge/"

struct acme_respond_entry {
	char *name, *token, *key_auth;
};

struct acme_responder {
	enum config_acme_challenge type;
	int fds[ACME_RESPOND_MAX_ADDRS];
	char *addrs[ACME_RESPOND_MAX_ADDRS]; /* as written, to skip repeats */
	size_t nfds;
	struct acme_respond_entry *entries;
	size_t nentries;
	struct acme_alpn_table table; /* tls-alpn-01: one per entry */
	EVP_PKEY *key;		      /* of every challenge certificate */
	SSL_CTX *ctx;
	int stop[2]; /* the thread's wake-up pipe */
	pthread_t thread;
	bool running;
	const struct acme_responder_sink *sink; /* NULL: answer here */
	size_t nsunk;				/* entries given to the sink */
};

struct acme_responder *acme_responder_new(enum config_acme_challenge type,
					  char *err, size_t errlen)
{
	struct acme_responder *r = calloc(1, sizeof(*r));

	if (!r) {
		ossl_err_printf(err, errlen, "out of memory");
		return NULL;
	}
	r->type = type;
	r->stop[0] = r->stop[1] = -1;
	if (pipe2(r->stop, O_CLOEXEC | O_NONBLOCK) != 0) {
		ossl_err_printf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	if (type == CONFIG_ACME_TLS_ALPN_01) {
		r->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		if (!r->key) {
			ossl_err_drainf(err, errlen,
					"the tls-alpn-01 certificate key");
			goto fail;
		}
		r->ctx = acme_alpn_ctx_new(&r->table, err, errlen);
		if (!r->ctx)
			goto fail;
	}
	return r;
fail:
	acme_responder_free(r);
	return NULL;
}

struct acme_responder *
acme_responder_new_sink(enum config_acme_challenge type,
			const struct acme_responder_sink *sink, char *err,
			size_t errlen)
{
	struct acme_responder *r = acme_responder_new(type, err, errlen);

	if (r) {
		r->sink = sink;
		SSL_CTX_free(r->ctx); /* the listeners' callback picks */
		r->ctx = NULL;
	}
	return r;
}

/* Hand the newest entry E (and, for tls-alpn-01, its certificate C) to the
 * sink.  0 / -1. */
static int acme_respond_sink_add(struct acme_responder *r,
				 const struct acme_respond_entry *e,
				 const struct acme_alpn_cert *c, char *err,
				 size_t errlen)
{
	SSL_CTX *ctx = NULL;
	int rc;

	if (c) {
		ctx = acme_alpn_cert_ctx_new(c->cert, c->key, err, errlen);
		if (!ctx)
			return -1;
	}
	rc = r->sink->add(r->sink->arg, e->name, e->token, e->key_auth, ctx);
	SSL_CTX_free(ctx);
	if (rc != 0) {
		ossl_err_printf(err, errlen,
				"cannot publish the challenge of %s to the "
				"listeners",
				e->name);
		return -1;
	}
	r->nsunk++;
	return 0;
}

enum config_acme_challenge acme_responder_type(const struct acme_responder *r)
{
	return r->type;
}

int acme_responder_listen(struct acme_responder *r,
			  const struct config_addr *addr, char *err,
			  size_t errlen)
{
	int fd, one = 1;

	for (size_t i = 0; i < r->nfds; i++)
		if (strcmp(r->addrs[i], addr->text) == 0)
			return 0;
	if (r->nfds == ACME_RESPOND_MAX_ADDRS) {
		ossl_err_printf(err, errlen,
				"more than %d addresses to answer "
				"challenges on",
				ACME_RESPOND_MAX_ADDRS);
		return -1;
	}
	fd = socket(addr->sa.ss_family,
		    SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (const struct sockaddr *)&addr->sa, addr->salen) != 0 ||
	    listen(fd, 64) != 0) {
		ossl_err_printf(err, errlen,
				"cannot listen on %s to answer %s: %s%s",
				addr->text, config_acme_challenge_name(r->type),
				strerror(errno),
				errno == EADDRINUSE
					? " — is edge443 running? stop it "
					  "for the order, or order from the "
					  "node that does not serve"
					: "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	r->addrs[r->nfds] = strdup(addr->text);
	if (!r->addrs[r->nfds]) {
		close(fd);
		ossl_err_printf(err, errlen, "out of memory");
		return -1;
	}
	r->fds[r->nfds++] = fd;
	return 0;
}

int acme_responder_add(struct acme_responder *r, const char *name,
		       const char *token, const char *key_auth, char *err,
		       size_t errlen)
{
	struct acme_respond_entry *e;
	struct acme_alpn_cert *c;

	e = realloc(r->entries, (r->nentries + 1) * sizeof(*e));
	if (!e)
		goto oom;
	r->entries = e;
	e = &r->entries[r->nentries];
	e->name = strdup(name);
	e->token = strdup(token);
	e->key_auth = strdup(key_auth);
	r->nentries++;
	if (!e->name || !e->token || !e->key_auth)
		goto oom;
	if (r->type != CONFIG_ACME_TLS_ALPN_01)
		return r->sink ? acme_respond_sink_add(r, e, NULL, err, errlen)
			       : 0;
	c = realloc(r->table.certs, (r->table.n + 1) * sizeof(*c));
	if (!c)
		goto oom;
	r->table.certs = c;
	c = &r->table.certs[r->table.n];
	c->cert = acme_alpn_cert_new(name, key_auth, r->key, err, errlen);
	if (!c->cert)
		return -1;
	c->name = strdup(name);
	if (!c->name) {
		X509_free(c->cert);
		goto oom;
	}
	c->key = r->key;
	r->table.n++;
	return r->sink ? acme_respond_sink_add(r, e, c, err, errlen) : 0;
oom:
	ossl_err_printf(err, errlen, "out of memory");
	return -1;
}

/* ---- the thread --------------------------------------------------------- */

static void acme_respond_timeouts(int fd)
{
	struct timeval tv = {.tv_sec = ACME_RESPOND_IO_TIMEOUT};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void acme_respond_tls(struct acme_responder *r, int fd)
{
	SSL *ssl = SSL_new(r->ctx);

	if (ssl && SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1)
		SSL_shutdown(ssl);
	SSL_free(ssl);
	ERR_clear_error();
}

static void acme_respond_write(int fd, const char *text)
{
	size_t len = strlen(text);

	while (len > 0) {
		ssize_t n = send(fd, text, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		text += n;
		len -= (size_t)n;
	}
}

/* One http-01 request: its head, at most 4 KiB, then one answer. */
static void acme_respond_http(struct acme_responder *r, int fd)
{
	char req[4096], path[1024], answer[2048];
	const char *body = NULL;
	size_t used = 0;

	while (used < sizeof(req) - 1) {
		ssize_t n = read(fd, req + used, sizeof(req) - 1 - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		used += (size_t)n;
		req[used] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	if (sscanf(req, "GET %1023s HTTP/1.", path) == 1 &&
	    strncmp(path, ACME_RESPOND_PREFIX, strlen(ACME_RESPOND_PREFIX)) ==
		    0) {
		const char *token = path + strlen(ACME_RESPOND_PREFIX);

		for (size_t i = 0; i < r->nentries; i++)
			if (strcmp(r->entries[i].token, token) == 0)
				body = r->entries[i].key_auth;
	}
	if (body)
		snprintf(answer, sizeof(answer),
			 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 strlen(body), body);
	else
		snprintf(answer, sizeof(answer),
			 "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
			 "Connection: close\r\n\r\n");
	acme_respond_write(fd, answer);
}

static void *acme_respond_thread(void *arg)
{
	struct acme_responder *r = arg;
	struct pollfd pfd[ACME_RESPOND_MAX_ADDRS + 1];
	time_t end = time(NULL) + ACME_RESPOND_LIFETIME;
	sigset_t pipe;

	/* A validator that hangs up mid-answer gives EPIPE, not a SIGPIPE
	 * that ends the process: OpenSSL writes without MSG_NOSIGNAL, and
	 * SIGPIPE goes to the thread that wrote. */
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);

	while (time(NULL) < end) {
		int n;

		pfd[0].fd = r->stop[0];
		pfd[0].events = POLLIN;
		for (size_t i = 0; i < r->nfds; i++) {
			pfd[i + 1].fd = r->fds[i];
			pfd[i + 1].events = POLLIN;
		}
		n = poll(pfd, r->nfds + 1, 1000);
		if (n < 0 && errno != EINTR)
			break;
		if (n <= 0)
			continue;
		if (pfd[0].revents)
			break;
		for (size_t i = 0; i < r->nfds; i++) {
			int c;

			if (!(pfd[i + 1].revents & POLLIN))
				continue;
			c = accept4(r->fds[i], NULL, NULL, SOCK_CLOEXEC);
			if (c < 0)
				continue;
			acme_respond_timeouts(c);
			if (r->type == CONFIG_ACME_TLS_ALPN_01)
				acme_respond_tls(r, c);
			else
				acme_respond_http(r, c);
			close(c);
		}
	}
	return NULL;
}

int acme_responder_start(struct acme_responder *r, char *err, size_t errlen)
{
	int rc;

	if (r->running || r->sink)
		return 0;
	rc = pthread_create(&r->thread, NULL, acme_respond_thread, r);
	if (rc != 0) {
		ossl_err_printf(err, errlen, "cannot start the responder: %s",
				strerror(rc));
		return -1;
	}
	r->running = true;
	return 0;
}

void acme_responder_stop(struct acme_responder *r)
{
	if (r && r->sink) {
		for (size_t i = 0; i < r->nsunk; i++)
			r->sink->remove(r->sink->arg, r->entries[i].name,
					r->entries[i].token);
		r->nsunk = 0;
		return;
	}
	if (!r || !r->running)
		return;
	(void)!write(r->stop[1], "x", 1);
	pthread_join(r->thread, NULL);
	r->running = false;
}

void acme_responder_free(struct acme_responder *r)
{
	if (!r)
		return;
	acme_responder_stop(r);
	for (size_t i = 0; i < r->nfds; i++) {
		close(r->fds[i]);
		free(r->addrs[i]);
	}
	for (size_t i = 0; i < r->nentries; i++) {
		free(r->entries[i].name);
		free(r->entries[i].token);
		if (r->entries[i].key_auth)
			OPENSSL_cleanse(r->entries[i].key_auth,
					strlen(r->entries[i].key_auth));
		free(r->entries[i].key_auth);
	}
	free(r->entries);
	for (size_t i = 0; i < r->table.n; i++) {
		free(r->table.certs[i].name);
		X509_free(r->table.certs[i].cert);
	}
	free(r->table.certs);
	SSL_CTX_free(r->ctx);
	EVP_PKEY_free(r->key);
	if (r->stop[0] >= 0)
		close(r->stop[0]);
	if (r->stop[1] >= 0)
		close(r->stop[1]);
	free(r);
}
