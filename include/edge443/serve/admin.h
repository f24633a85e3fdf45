/* admin.h — the optional admin endpoint: /metrics, /health and /served.
 *
 * admin.c serves plain HTTP with libevent's evhttp on the `admin` address
 * (keep it on loopback): /metrics in the Prometheus text format, /health for
 * load balancers, keepalived and service managers (200 "ok" while serving,
 * 503 "draining" once the shutdown drain began), /served (JSON: what this
 * node serves, for `edge443 probe --pool NODE...`).  It runs on the main
 * thread's event base; the numbers come from a callback of the server,
 * which reads the workers' atomic counters.
 */
#ifndef EDGE443_ADMIN_H
#define EDGE443_ADMIN_H

#include <event2/buffer.h>
#include <event2/event.h>
#include <stddef.h>

#include "edge443/config/config.h"

/* Append the Prometheus text exposition to OUT. */
typedef void (*admin_metrics_cb)(struct evbuffer *out, void *arg);
/* Append the /served JSON document (serve/served.h) to OUT. */
typedef void (*admin_served_cb)(struct evbuffer *out, void *arg);

struct admin;

/* Listen on ADDR (bound now: call before dropping privileges).  NULL with
 * the reason in err. */
struct admin *admin_new(struct event_base *base, const struct config_addr *addr,
			admin_metrics_cb metrics, admin_served_cb served,
			void *arg, char *err, size_t errlen);
/* From now on /health answers 503 "draining" (the SIGTERM/SIGINT drain
 * began; it never goes back).  Main thread; A may be NULL (no admin). */
void admin_set_draining(struct admin *a);
/* The listening socket (still A's), or -1 (A NULL).  A forked worker
 * process closes its copy, so that the port is free once the main
 * process is gone. */
int admin_fd(const struct admin *a);
void admin_free(struct admin *a);

#endif
