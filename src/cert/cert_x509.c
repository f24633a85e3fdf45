/* cert_x509.c — read single X509 objects for the facts of cert.c.
 *
 * This part of the cert module answers small questions about one
 * certificate, with OpenSSL's decoders only: a name or an ASN.1 time as
 * text, whether the certificate is self-signed, where the leaf tells clients
 * to find revocation and its issuer (cRLDistributionPoints and
 * authorityInfoAccess, RFC 5280 §4.2.1.13 and §4.2.2.1), and which chain
 * certificates are on the leaf's issuer path, with their notAfter (the
 * intermediates a client is given).  cert.c calls it to fill a
 * `struct cert_info`; it never calls back into cert.c, judges nothing (the
 * rules do) and prints nothing.  Every function leaves the OpenSSL error
 * queue empty.
 */
#include "edge443/cert/cert.h"
#include "edge443/cert/cert_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

void cert_name_line(const X509_NAME *name, char *buf, size_t len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int n;

	buf[0] = '\0';
	if (bio == NULL)
		goto out;
	if (X509_NAME_print_ex(bio, name, 0,
			       XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
		goto out;
	n = BIO_read(bio, buf, (int)(len - 1));
	if (n > 0)
		buf[n] = '\0';
out:
	BIO_free(bio);
	ERR_clear_error();
}

time_t cert_asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		ERR_clear_error();
		return 0;
	}
	return timegm(&tm);
}

bool cert_is_self_signed(X509 *x)
{
	int r = X509_self_signed(x, 1);

	ERR_clear_error();
	return r == 1;
}

/* A URI general name as a C string (embedded NULs become '?', so that a URI
 * cannot hide a tail); NULL when G is not a URI or on allocation failure. */
static char *cert_uri_dup(const GENERAL_NAME *g)
{
	const unsigned char *data;
	char *s;
	int len;

	if (g == NULL || g->type != GEN_URI)
		return NULL;
	data = ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
	len = ASN1_STRING_length(g->d.uniformResourceIdentifier);
	if (data == NULL || len < 0)
		return NULL;
	s = malloc((size_t)len + 1);
	if (s == NULL)
		return NULL;
	for (int i = 0; i < len; i++)
		s[i] = data[i] == '\0' ? '?' : (char)data[i];
	s[len] = '\0';
	return s;
}

/* The first URI of a distribution point's full name, NULL when none. */
static char *cert_dp_uri(const DIST_POINT *dp)
{
	const GENERAL_NAMES *names;

	if (dp->distpoint == NULL || dp->distpoint->type != 0)
		return NULL;
	names = dp->distpoint->name.fullname;
	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		char *uri = cert_uri_dup(sk_GENERAL_NAME_value(names, i));

		if (uri != NULL)
			return uri;
	}
	return NULL;
}

void cert_facts_revocation(struct cert_info *ci)
{
	CRL_DIST_POINTS *dps;
	AUTHORITY_INFO_ACCESS *aia;

	dps = X509_get_ext_d2i(ci->leaf, NID_crl_distribution_points, NULL,
			       NULL);
	ci->has_crl_dp = dps != NULL && sk_DIST_POINT_num(dps) > 0;
	for (int i = 0; dps != NULL && i < sk_DIST_POINT_num(dps) &&
			ci->crl_dp_uri == NULL;
	     i++)
		ci->crl_dp_uri = cert_dp_uri(sk_DIST_POINT_value(dps, i));
	CRL_DIST_POINTS_free(dps);

	aia = X509_get_ext_d2i(ci->leaf, NID_info_access, NULL, NULL);
	for (int i = 0; aia != NULL && i < sk_ACCESS_DESCRIPTION_num(aia);
	     i++) {
		const ACCESS_DESCRIPTION *ad =
			sk_ACCESS_DESCRIPTION_value(aia, i);
		int nid = OBJ_obj2nid(ad->method);

		if (nid == NID_ad_ca_issuers) {
			ci->has_aia_ca_issuers = true;
			if (ci->aia_ca_issuers == NULL)
				ci->aia_ca_issuers = cert_uri_dup(ad->location);
		} else if (nid == NID_ad_OCSP) {
			ci->has_aia_ocsp = true;
			if (ci->aia_ocsp == NULL)
				ci->aia_ocsp = cert_uri_dup(ad->location);
		}
	}
	AUTHORITY_INFO_ACCESS_free(aia);
	ERR_clear_error();
}

void cert_facts_intermediates(struct cert_info *ci)
{
	int n = sk_X509_num(ci->chain);
	bool *used;
	X509 *cur = ci->leaf;
	bool found = true;

	if (n <= 0)
		return;
	used = calloc((size_t)n, sizeof(*used));
	ci->intermediates = calloc((size_t)n, sizeof(*ci->intermediates));
	if (used == NULL || ci->intermediates == NULL) {
		free(ci->intermediates);
		ci->intermediates = NULL;
		goto out;
	}
	/* Each step takes one unused certificate, so the walk ends after at
	 * most n steps, at a root, or where no chain certificate issued the
	 * current one. */
	while (found && !cert_is_self_signed(cur)) {
		found = false;
		for (int i = 0; i < n && !found; i++) {
			X509 *x = sk_X509_value(ci->chain, i);
			struct cert_intermediate *im;

			if (used[i] || X509_check_issued(x, cur) != X509_V_OK)
				continue;
			used[i] = true;
			found = true;
			cur = x;
			if (cert_is_self_signed(x))
				break; /* a root: clients bring their own */
			im = &ci->intermediates[ci->nintermediates++];
			cert_name_line(X509_get_subject_name(x), im->subject,
				       sizeof(im->subject));
			im->not_after = cert_asn1_time(X509_get0_notAfter(x));
		}
	}
	if (ci->nintermediates == 0) {
		free(ci->intermediates);
		ci->intermediates = NULL;
	}
out:
	free(used);
	ERR_clear_error();
}

void cert_facts_x509_free(struct cert_info *ci)
{
	free(ci->crl_dp_uri);
	free(ci->aia_ca_issuers);
	free(ci->aia_ocsp);
	free(ci->intermediates);
}
