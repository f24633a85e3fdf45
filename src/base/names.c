/* names.c — what a host name may be: the one check of a DNS name.
 *
 * The configuration (an fqdn, a sip domain, a backend's verify_name) and the
 * certificate planner (the names it puts in a request) judge host names with
 * this one function, so a name that `check` accepts is one that `plan` can
 * order.  The syntax is RFC 1123 §2.1's host name ("LDH": letters, digits,
 * hyphen) with RFC 1035 §2.3.4's lengths, in ASCII whatever the locale.  It
 * decides nothing about wildcards or IP literals beyond saying what they are:
 * what a caller refuses, and in which words, is the caller's.
 */
#include "edge443/base/names.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>

#define NAMES_MAX 253	   /* RFC 1035 §2.3.4, without the trailing dot */
#define NAMES_LABEL_MAX 63 /* RFC 1035 §2.3.4 */

static bool names_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-';
}

const char *names_dns_why(const char *name)
{
	size_t len, label = 0;

	if (name == NULL || name[0] == '\0')
		return "is empty";
	if (strchr(name, '*') != NULL)
		return "is a wildcard, not a host name";
	len = strlen(name);
	if (len > NAMES_MAX)
		return "is longer than 253 characters";
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || label > NAMES_LABEL_MAX)
				return "has an empty label or one longer than "
				       "63 characters";
			if (name[i - 1] == '-' || name[i - label] == '-')
				return "has a label that starts or ends with "
				       "'-'";
			label = 0;
			continue;
		}
		if (!names_ldh(c))
			return "holds a character that a host name cannot "
			       "(letters, digits, '-' and '.' only)";
		label++;
	}
	return NULL;
}

bool names_dns_ok(const char *name)
{
	return names_dns_why(name) == NULL;
}

bool names_ip_literal(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return s != NULL && (inet_pton(AF_INET, s, buf) == 1 ||
			     inet_pton(AF_INET6, s, buf) == 1);
}
