/* http.h — HTTP/1.1 publishing rules on one client connection.
 *
 * http.c sits between the client's decrypted bytes and the backend for a
 * service with an `http { }` block (ISA Server / TMG web publishing): it
 * parses requests with Debian's http-parser (no hand-written parser),
 * rejects request smuggling (framing that two parsers could read
 * differently: RFC 9112 §6.1, §6.3 and §11.2; answering 400 and
 * closing), normalises the path (RFC 3986; ambiguous paths are a 400) and
 * enforces the publishing rule on it (Host must be the service FQDN or a
 * name of its certificate: else 421; path prefixes: else 404 without touching
 * the backend), re-serialises every request head with that path (never
 * forwards it raw), drops header fields with '_' in their name, overwrites
 * X-Forwarded-For/-Proto/-Host, rewrites Host when host_header = backend,
 * strips every upgrade but WebSocket, streams bodies (Content-Length and
 * chunked, re-framed) without buffering them whole, follows the backend's
 * responses (to know when a response ends, 100-continue, and 101 Switching
 * Protocols to a WebSocket request, after which the connection is a plain
 * tunnel), and writes one access-log line per request.
 *
 * It knows nothing about sockets, TLS or libevent events: the caller (proxy.c)
 * hands it evbuffers and acts on the returned action.  One http_conn per
 * client connection; the backend connection it feeds is pinned to that client
 * connection for its whole life (NTLM/Negotiate authenticate the TCP
 * connection), so nothing here pools or shares backend connections.
 *
 * The code: http.c (connection state, request and response flow),
 * http_check.c (strict byte checks, Host/target/path rules), http_reply.c
 * (our own responses, the redirect listener, the access log), and the data
 * of a connection that the three share, http_conn.h.
 */
#ifndef EDGE443_HTTP_H
#define EDGE443_HTTP_H

#include <event2/buffer.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "edge443/config/config.h"

/* Limits (RFC 9112 leaves them to the server; HAProxy's defaults are close). */
#define HTTP_MAX_HEAD (16 * 1024) /* bytes of one request head: else 431 */
#define HTTP_MAX_HEADERS 100	  /* header fields in one head: else 431 */

/* What the caller must do after a feed call. */
enum http_action {
	HTTP_CONTINUE, /* keep relaying (TO may have grown; may be empty) */
	HTTP_CLOSE,    /* an error response (or nothing) is in the client's
			* output: stop reading, flush it, then close */
	HTTP_TUNNEL,   /* 101 seen: from now on relay raw bytes both ways
			* (what remained in FROM is still there) */
};

/* Facts about the connection for the access log and X-Forwarded-*; all
 * strings are borrowed and must outlive the http_conn (proxy.c keeps them in
 * its connection struct).  BACKEND may change (it is read when logging). */
struct http_peer {
	const char *client_ip;	 /* "192.0.2.7" (no port) */
	const char *client_addr; /* "192.0.2.7:51234" for the log */
	const char *tls_version; /* "TLSv1.3" */
	const char *backend;	 /* "10.0.0.7:443", or "-" before connecting */
	/* Responses counted by class when not NULL: [0] other, [1] 1xx ...
	 * [5] 5xx (edge443_http_responses_total). */
	_Atomic unsigned long long *responses;
};

struct http_conn;

/* NAMES / NNAMES: the DNS names the listener's certificate covers (its SANs),
 * also accepted as Host besides svc->fqdn; may be NULL/0.  BACKEND_NAME: the
 * backend's verify_name (for host_header = backend; NULL = svc->fqdn).
 * Returns NULL on allocation failure. */
struct http_conn *http_conn_new(const struct config_service *svc,
				const char *const *names, size_t nnames,
				const char *backend_name,
				const struct http_peer *peer);
void http_conn_free(struct http_conn *h);

/* Client -> backend.  Consumes what it can from FROM (client input) and
 * appends the re-serialised requests and their bodies to TO (the backend's
 * output, or a staging buffer while the backend is not connected yet).  An
 * error response goes to CLIENT (the client's output) with HTTP_CLOSE.
 * *NEED_BACKEND is set true once a request has been accepted for the
 * backend (the caller then connects if it has not yet). */
enum http_action http_from_client(struct http_conn *h, struct evbuffer *from,
				  struct evbuffer *to, struct evbuffer *client,
				  bool *need_backend);

/* Backend -> client.  Consumes FROM (backend input), appends to TO (client
 * output).  A malformed response: 502 to TO if no byte of that response was
 * sent yet, then HTTP_CLOSE.
 *
 * Requests are served one at a time: the next request head (a pipelined
 * request, or what follows an upgrade request the backend refused) is left in
 * the client's input until the current response ended.  So after this returns
 * HTTP_CONTINUE, the caller calls http_from_client again when the client's
 * input is not empty (no new read event will come for those bytes). */
enum http_action http_from_backend(struct http_conn *h, struct evbuffer *from,
				   struct evbuffer *to);

/* The backend could not be reached / verified / timed out (connecting, or
 * answering: see http_response_pending): write an error response for the
 * pending request to CLIENT (502, or 504 when TIMEOUT) with a short text
 * body when no byte of its (final) response was sent yet, and log the
 * request with REASON either way.  The caller closes. */
void http_backend_failed(struct http_conn *h, bool timeout, const char *reason,
			 struct evbuffer *client);

/* The request head did not arrive in time: 408 to CLIENT (only when the
 * client started a request or none was answered yet on this connection;
 * else nothing).  The caller closes. */
void http_head_timeout(struct http_conn *h, struct evbuffer *client);

/* True while a request head is partly read or awaited (the caller runs the
 * header read timeout then), false while a body streams or a response is
 * outstanding, and after http_client_eof. */
bool http_awaiting_head(const struct http_conn *h);

/* True while a forwarded request awaits its response or the rest of it
 * (from the moment its head went to TO until the final response ended, or
 * http.c gave up on it).  The caller runs a response timeout then, and when
 * it fires calls http_backend_failed(h, true, "response timeout", client):
 * a 504 if nothing of the response reached the client yet. */
bool http_response_pending(const struct http_conn *h);

/* The client ended its side (close_notify, FIN or RST).  The caller has fed
 * FROM (the client's input) through http_from_client already; this discards
 * what is left there (a pipelined request waiting behind a pending
 * response, an incomplete head, body bytes of a request that can no longer
 * complete) and returns how many bytes it discarded.  From then on
 * http_from_client parses and forwards nothing: it drops what it is given
 * and returns HTTP_CONTINUE while a response is pending (relay it; its end
 * is an HTTP_CLOSE from http_from_backend, a 101 included), HTTP_CLOSE once
 * none is.  A request whose body was streaming is logged as aborted by the
 * client, and http_request_incomplete then says so: the caller must close
 * the backend connection (it waits for a body that will never end) and
 * never reuse it.  In a tunnel (HTTP_TUNNEL) it does nothing and returns 0:
 * raw bytes are the caller's.  May be called once or more. */
size_t http_client_eof(struct http_conn *h, struct evbuffer *from);

/* True while the request forwarded last has not reached the backend whole:
 * its body is still streaming, or will never end (the client ended, its
 * body was refused mid-way, or the connection is closing with it).  After
 * http_client_eof, true means: close the backend connection. */
bool http_request_incomplete(const struct http_conn *h);

/* The backend ended its side cleanly (FIN, or close_notify for TLS): a
 * response delimited by the close completes here (and is logged).  True
 * when no response is pending after it; false when one was cut short. */
bool http_backend_eof(struct http_conn *h);

/* True once a response was ended after part of it had gone to the client
 * (a malformed rest, a broken request body while it streamed): the caller
 * must end the connection uncleanly, never with a clean close after a cut
 * response. */
bool http_response_cut(const struct http_conn *h);

/* The plain-HTTP redirect listener (redirect_http): read one request head
 * from FROM; when complete, write "301 Moved Permanently" to
 * https://FQDN/same-path?same-query to TO and return HTTP_CLOSE;
 * HTTP_CONTINUE while incomplete; 400 (431 when too large) + HTTP_CLOSE on
 * a malformed head.  *STATUS is set to the status written (for metrics),
 * 0 while incomplete. */
enum http_action http_redirect(const struct config_service *svc,
			       struct evbuffer *from, struct evbuffer *to,
			       int *status);

#endif
