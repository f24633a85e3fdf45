/* names.h — what a host name may be: the one check of a DNS name.
 *
 * Pure functions of their arguments (no I/O, no resolving, no locale): any
 * thread.  A name is judged as a certificate's dNSName and a TLS server_name
 * would carry it, RFC 1123 §2.1 host-name syntax ("LDH" labels) within the
 * lengths of RFC 1035 §2.3.4.
 */
#ifndef EDGE443_NAMES_H
#define EDGE443_NAMES_H

#include <stdbool.h>

/* Why NAME is not a host name, or NULL when it is one: dot-separated labels
 * of ASCII letters, digits and inner hyphens, 1-63 characters each, at most
 * 253 in all, no trailing dot.  A wildcard ('*') is no host name.  An IPv4
 * literal ("192.0.2.1") has the syntax and passes; callers that want no IP
 * literal ask names_ip_literal too.  The reason is a static phrase that
 * reads after the name ("fqdn \"x\" has an empty label ..."). */
const char *names_dns_why(const char *name);

/* names_dns_why(NAME) == NULL, as a predicate (NULL NAME: false). */
bool names_dns_ok(const char *name);

/* True when S is an IPv4 or IPv6 literal (inet_pton's forms; NULL: false). */
bool names_ip_literal(const char *s);

#endif
