/* proxy_acme.c — tls-alpn-01 answered on a passthrough listener.
 *
 * When a challenge is pending (challenges.h) and a passthrough
 * connection's ClientHello offers ALPN "acme-tls/1" for its name, the
 * handshake is completed here instead of at the backend: an SSL on memory
 * BIOs, first on a probe context whose client-hello callback checks the
 * offer and moves the SSL to the challenge's context (as tls_sni.c does on
 * terminating listeners), fed with the client's bytes as they come, its
 * output written to the client.  The validator only needs the handshake,
 * so the connection is closed after it (or after any failure).  Nothing
 * here runs when no challenge is pending.
 */
#include "edge443/serve/proxy_acme.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <openssl/err.h>
#include <pthread.h>
#include <stdlib.h>

#include "edge443/base/log.h"
#include "edge443/serve/challenges.h"
#include "edge443/serve/proxy_internal.h"
#include "edge443/serve/tls_name.h"

static SSL_CTX *proxy_acme_probe_ctx;
static pthread_once_t proxy_acme_once = PTHREAD_ONCE_INIT;

/* The probe context's client-hello callback: acme-tls/1 offered for a
 * pending name moves the SSL to the challenge context; anything else
 * aborts the handshake, and the connection passes through. */
static int proxy_acme_hello_cb(SSL *ssl, int *al, void *arg)
{
	const unsigned char *p;
	size_t len;
	char *name = NULL;
	SSL_CTX *ctx = NULL;

	(void)arg;
	*al = SSL_AD_INTERNAL_ERROR;
	if (SSL_client_hello_get0_ext(
		    ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &p,
		    &len) != 1 ||
	    !challenges_alpn_offered(p, len))
		return SSL_CLIENT_HELLO_ERROR;
	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) ==
		    1 &&
	    (name = tls_name_parse_sni(p, len)) != NULL)
		ctx = challenges_alpn_ctx(name);
	free(name);
	if (!ctx)
		return SSL_CLIENT_HELLO_ERROR;
	SSL_set_SSL_CTX(ssl, ctx); /* takes its own reference */
	SSL_CTX_free(ctx);
	return SSL_CLIENT_HELLO_SUCCESS;
}

static void proxy_acme_init(void)
{
	proxy_acme_probe_ctx = SSL_CTX_new(TLS_server_method());
	if (proxy_acme_probe_ctx)
		SSL_CTX_set_client_hello_cb(proxy_acme_probe_ctx,
					    proxy_acme_hello_cb, NULL);
}

/* Move what the SSL wrote to the client. */
static void proxy_acme_flush_out(struct proxy_conn *c)
{
	BIO *w = SSL_get_wbio(c->acme);
	char buf[4096];
	int n;

	while ((n = BIO_read(w, buf, sizeof(buf))) > 0)
		bufferevent_write(c->client.bev, buf, (size_t)n);
}

/* Feed the client's buffered bytes and step the handshake.  1 when the
 * handshake is done, 0 when it waits for more, -1 when it failed. */
static int proxy_acme_step(struct proxy_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->client.bev);
	size_t len = evbuffer_get_length(in);
	int rc;

	if (len > 0) {
		BIO_write(SSL_get_rbio(c->acme), evbuffer_pullup(in, -1),
			  (int)len);
		evbuffer_drain(in, len);
	}
	rc = SSL_do_handshake(c->acme);
	proxy_acme_flush_out(c);
	if (rc == 1)
		return 1;
	if (SSL_get_error(c->acme, rc) == SSL_ERROR_WANT_READ) {
		ERR_clear_error();
		return 0;
	}
	ERR_clear_error();
	return -1;
}

/* The outcome of a handshake step (1 done, 0 waiting, -1 failed). */
static enum proxy_acme proxy_acme_end(struct proxy_conn *c, int step,
				      const char **why)
{
	if (step == 1) {
		(void)SSL_shutdown(c->acme);
		proxy_acme_flush_out(c);
		ERR_clear_error();
		log_info("service %s: client %s: tls-alpn-01 answered for "
			 "%s",
			 c->rs->svc->name, c->peer, c->sni ? c->sni : "?");
		*why = "tls-alpn-01 answered";
		return PROXY_ACME_END;
	}
	if (step < 0 || c->client.eof) {
		*why = "tls-alpn-01 handshake failed";
		return PROXY_ACME_END;
	}
	return PROXY_ACME_WAIT;
}

enum proxy_acme proxy_acme_take(struct proxy_conn *c, const char **why)
{
	struct evbuffer *in = bufferevent_get_input(c->client.bev);
	size_t len = evbuffer_get_length(in);
	BIO *r, *w;
	SSL *ssl;
	int rc;

	if (challenges_count() == 0 || !c->sni)
		return PROXY_ACME_NO;
	pthread_once(&proxy_acme_once, proxy_acme_init);
	if (!proxy_acme_probe_ctx || !(ssl = SSL_new(proxy_acme_probe_ctx)))
		return PROXY_ACME_NO;
	r = BIO_new(BIO_s_mem());
	w = BIO_new(BIO_s_mem());
	if (!r || !w) {
		BIO_free(r);
		BIO_free(w);
		SSL_free(ssl);
		return PROXY_ACME_NO;
	}
	BIO_set_mem_eof_return(r, -1); /* empty means "wait", not EOF */
	SSL_set_bio(ssl, r, w);
	SSL_set_accept_state(ssl);
	/* Peek: the bytes stay buffered for passthrough until the hello
	 * callback said yes. */
	BIO_write(r, evbuffer_pullup(in, -1), (int)len);
	rc = SSL_do_handshake(ssl);
	if (rc != 1 && SSL_get_SSL_CTX(ssl) == proxy_acme_probe_ctx) {
		ERR_clear_error();
		SSL_free(ssl); /* not a pending challenge: pass it through */
		return PROXY_ACME_NO;
	}
	c->acme = ssl;
	evbuffer_drain(in, len);
	proxy_acme_flush_out(c);
	if (rc == 1)
		return proxy_acme_end(c, 1, why);
	rc = SSL_get_error(ssl, rc) == SSL_ERROR_WANT_READ ? 0 : -1;
	ERR_clear_error();
	return proxy_acme_end(c, rc, why);
}

enum proxy_acme proxy_acme_data(struct proxy_conn *c, const char **why)
{
	return proxy_acme_end(c, proxy_acme_step(c), why);
}

void proxy_acme_free(struct proxy_conn *c)
{
	SSL_free(c->acme);
	c->acme = NULL;
}
