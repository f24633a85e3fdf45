/* acme_ari.c — ACME Renewal Information (RFC 9773): a certificate's ARI
 * identifier, the suggested window, and the moment picked inside it.
 *
 * OpenSSL reads the Authority Key Identifier and the serial number (its
 * DER, of which the content octets are the identifier's second half);
 * jansson reads the renewalInfo document; glibc's strptime and timegm read
 * its RFC 3339 times.  No I/O.
 */
#include "edge443/order/acme_ari.h"

#include <jansson.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge443/order/acme_jws.h"

char *acme_ari_cert_id(const X509 *cert)
{
	AUTHORITY_KEYID *akid;
	const ASN1_INTEGER *serial;
	unsigned char *der = NULL;
	char *a = NULL, *b = NULL, *id = NULL;
	int len, hdr;

	akid = X509_get_ext_d2i(cert, NID_authority_key_identifier, NULL, NULL);
	serial = X509_get0_serialNumber(cert);
	if (!akid || !akid->keyid || !serial)
		goto out;
	len = i2d_ASN1_INTEGER(serial, &der);
	/* DER of an INTEGER: tag 0x02, a length (short or long form), then
	 * the content octets that the identifier wants. */
	if (len < 3 || der[0] != 0x02)
		goto out;
	hdr = (der[1] & 0x80) ? 2 + (der[1] & 0x7f) : 2;
	if (hdr >= len)
		goto out;
	a = acme_b64url(ASN1_STRING_get0_data(akid->keyid),
			(size_t)ASN1_STRING_length(akid->keyid));
	b = acme_b64url(der + hdr, (size_t)(len - hdr));
	if (a && b && (id = malloc(strlen(a) + strlen(b) + 2)) != NULL)
		sprintf(id, "%s.%s", a, b);
out:
	AUTHORITY_KEYID_free(akid);
	OPENSSL_free(der);
	free(a);
	free(b);
	return id;
}

/* RFC 3339 ("2027-03-01T12:00:00Z", "...T12:00:00.5+02:00") to time_t;
 * -1 when it is not one. */
static time_t acme_ari_time(const char *s)
{
	struct tm tm;
	const char *p;
	time_t t;

	if (!s)
		return -1;
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	t = timegm(&tm);
	if (*p == 'Z' || *p == 'z')
		return p[1] ? -1 : t;
	if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int h = (p[1] - '0') * 10 + (p[2] - '0');
		int m = (p[4] - '0') * 10 + (p[5] - '0');
		long off = (long)h * 3600 + (long)m * 60;

		return *p == '+' ? t - off : t + off;
	}
	return -1;
}

int acme_ari_parse(const char *text, time_t *start, time_t *end, char *err,
		   size_t errlen)
{
	json_error_t jerr;
	json_t *doc = json_loads(text ? text : "", 0, &jerr), *w;
	int rc = -1;

	if (!doc || !json_is_object(doc)) {
		snprintf(err, errlen, "renewalInfo is not a JSON object: %s",
			 doc ? "" : jerr.text);
		goto out;
	}
	w = json_object_get(doc, "suggestedWindow");
	*start = acme_ari_time(json_string_value(json_object_get(w, "start")));
	*end = acme_ari_time(json_string_value(json_object_get(w, "end")));
	if (*start == (time_t)-1 || *end == (time_t)-1) {
		snprintf(err, errlen,
			 "renewalInfo has no suggestedWindow with RFC 3339 "
			 "start and end");
		goto out;
	}
	if (*end <= *start) {
		snprintf(err, errlen,
			 "renewalInfo's suggestedWindow ends before it starts");
		goto out;
	}
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

time_t acme_ari_pick(time_t start, time_t end, time_t now, unsigned long rnd)
{
	time_t t;

	if (end <= start)
		return now;
	t = start + (time_t)(rnd % (unsigned long)(end - start));
	return t < now ? now : t;
}
