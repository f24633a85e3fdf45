/* csr_write.c — the files of `edge443 plan --out/--lab` and `edge443 csr`.
 *
 * Turns a plan into files: per planned certificate a private key (PKCS#8
 * PEM, mode 0600, never replacing an existing key unless forced) and a
 * request, and for a lab the issued certificates, the lab CA certificates
 * and a config snippet pointing at them (absolute paths).  Folders are made
 * 0700; file names are checked before anything is written.  The keys,
 * requests and certificates themselves come from csr_issue.c; nothing here
 * decides the plan or prints.
 */
#include "edge443/order/csr_internal.h"
#include "edge443/base/ossl_err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

/* ---- files ------------------------------------------------------------ */

/* Write LEN bytes to PATH with exactly MODE.  REPLACE: remove an existing
 * file first (never follow a symlink); otherwise fail when it exists. */
static int csr_write_bytes(const char *path, const void *data, size_t len,
			   int mode, bool replace, char *err, size_t errlen)
{
	const char *p = data;
	int fd;

	if (replace && unlink(path) < 0 && errno != ENOENT) {
		ossl_err_printf(err, errlen, "%s: cannot replace it: %s", path,
				strerror(errno));
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  (mode_t)mode);
	if (fd < 0) {
		ossl_err_printf(err, errlen, "%s: cannot create it: %s", path,
				strerror(errno));
		return -1;
	}
	if (fchmod(fd, (mode_t)mode) < 0)
		goto fail;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	ossl_err_printf(err, errlen, "%s: cannot write it: %s", path,
			strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(path);
	return -1;
}

int csr_write_text(const char *path, const char *text, int mode, char *err,
		   size_t errlen)
{
	return csr_write_bytes(path, text, strlen(text), mode, true, err,
			       errlen);
}

static char *csr_key_pem(EVP_PKEY *key)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (b && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL))
		s = csr_bio_text(b);
	BIO_free(b);
	return s;
}

static char *csr_cert_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (b && PEM_write_bio_X509(b, x))
		s = csr_bio_text(b);
	BIO_free(b);
	return s;
}

/* "DIR/NAME.EXT" into BUF.  0 / -1 when it does not fit. */
static int csr_path(char *buf, size_t len, const char *dir, const char *name,
		    const char *ext)
{
	int n = snprintf(buf, len, "%s/%s%s", dir, name, ext);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* A certificate name is used as a file name: letters, digits, '.', '_',
 * '-', not starting with '.'. */
static bool csr_name_safe(const char *name)
{
	if (!name || !*name || name[0] == '.' || strlen(name) > 64)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
		      *p == '-'))
			return false;
	return true;
}

/* Create DIR (0700) when missing; fail when it is not a folder. */
static int csr_mkdir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	ossl_err_printf(err, errlen, "%s: cannot create the folder: %s", dir,
			errno == EEXIST ? "a file of that name exists"
					: strerror(errno));
	return -1;
}

/* Append S to a growing string *BUF (length *LEN); -1 on allocation failure. */
static int csr_cat(char **buf, size_t *len, const char *s)
{
	size_t sl = strlen(s);
	char *grown = realloc(*buf, *len + sl + 1);

	if (!grown)
		return -1;
	memcpy(grown + *len, s, sl + 1);
	*buf = grown;
	*len += sl;
	return 0;
}

/* S as a libconfuse double-quoted string (backslash and quote escaped). */
static int csr_cat_quoted(char **buf, size_t *len, const char *s)
{
	char one[3];

	if (csr_cat(buf, len, "\"") < 0)
		return -1;
	for (; *s; s++) {
		one[0] = (*s == '"' || *s == '\\') ? '\\' : *s;
		one[1] = (*s == '"' || *s == '\\') ? *s : '\0';
		one[2] = '\0';
		if (csr_cat(buf, len, one) < 0)
			return -1;
	}
	return csr_cat(buf, len, "\"");
}

static int csr_catf(char **buf, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int csr_catf(char **buf, size_t *len, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return csr_cat(buf, len, line);
}

/* "    cert  = "/abs/DIR/FILE"\n" */
static int csr_cat_path(char **buf, size_t *len, const char *option,
			const char *dir, const char *file)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (csr_catf(buf, len, "  %-5s = ", option) < 0 ||
	    csr_cat_quoted(buf, len, path) < 0)
		return -1;
	return csr_cat(buf, len, "\n");
}

/* The text of DIR/edge443.conf.snippet (DIR absolute). */
static char *csr_snippet(const struct config *cfg,
			 const struct order_plan *plan, const char *dir,
			 time_t now)
{
	char *s = NULL;
	size_t len = 0;
	char stamp[32] = "";
	struct tm tm;
	int bad = 0;

	if (gmtime_r(&now, &tm))
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	bad |= csr_catf(&s, &len,
			"# edge443.conf.snippet — made by `edge443 plan --lab` "
			"at %s from %s.\n",
			stamp, cfg && cfg->file ? cfg->file : "(config)");
	bad |= csr_cat(&s, &len,
		       "# LAB CERTIFICATES from a throw-away CA: for testing "
		       "only, never for production.\n"
		       "# All paths below are ABSOLUTE, so this snippet works "
		       "from any folder.\n"
		       "#\n"
		       "# Public certificates are issued by the lab root "
		       "(root.pem) through the lab\n"
		       "# intermediate (chain.pem).  Internal certificates are "
		       "issued directly by a\n"
		       "# separate lab internal root (internal-root.pem), as "
		       "an internal CA would.\n"
		       "# The CA private keys were not kept.\n"
		       "#\n"
		       "# Use the lab root as the global trust file:\n"
		       "#   trust_file = ");
	{
		char root[PATH_MAX + 16];
		snprintf(root, sizeof(root), "%s/root.pem", dir);
		bad |= csr_cat_quoted(&s, &len, root);
	}
	bad |= csr_cat(&s, &len,
		       "\n# and give each service its certificate:\n");
	for (size_t i = 0; cfg && i < cfg->nservices; i++) {
		const struct order_cert *oc = order_plan_find_service(plan, i);
		const char *fqdn = cfg->services[i].fqdn;
		/* The A/V Edge on lync2010+ rides without its FQDN (order.h):
		 * naming the certificate would make fqdn-covered fail. */
		bool named = !fqdn;
		for (size_t j = 0; oc && fqdn && j < oc->nsans; j++)
			named |= strcasecmp(oc->sans[j], fqdn) == 0;
		if (oc && named)
			bad |= csr_catf(
				&s, &len,
				"#   service %s: certificate = \"%s\"\n",
				cfg->services[i].name, oc->name);
		else if (oc)
			bad |= csr_catf(&s, &len,
					"#   service %s: no certificate (it "
					"rides on \"%s\" without its FQDN)\n",
					cfg->services[i].name, oc->name);
	}
	for (size_t i = 0; i < plan->n; i++) {
		const struct order_cert *oc = &plan->certs[i];
		char file[128];
		bad |= csr_catf(&s, &len, "\n# CN %s; %s CA (%s)\n", oc->cn,
				oc->internal ? "internal" : "public",
				oc->internal ? "internal-root.pem"
					     : "root.pem via chain.pem");
		bad |= csr_catf(&s, &len, "certificate %s {\n", oc->name);
		snprintf(file, sizeof(file), "%s.crt", oc->name);
		bad |= csr_cat_path(&s, &len, "cert", dir, file);
		if (!oc->internal)
			bad |= csr_cat_path(&s, &len, "chain", dir,
					    "chain.pem");
		snprintf(file, sizeof(file), "%s.key", oc->name);
		bad |= csr_cat_path(&s, &len, "key", dir, file);
		bad |= csr_cat(&s, &len, "}\n");
	}
	if (bad) {
		free(s);
		return NULL;
	}
	return s;
}

/* Refuse when DIR/NAME.key exists for any planned certificate. */
static enum csr_status csr_check_keys(const struct order_plan *plan,
				      const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;

	for (size_t i = 0; i < plan->n; i++) {
		if (csr_path(path, sizeof(path), dir, plan->certs[i].name,
			     ".key") < 0) {
			ossl_err_printf(err, errlen, "%s: folder name too long",
					dir);
			return CSR_ERR_INPUT;
		}
		if (lstat(path, &st) == 0) {
			ossl_err_printf(
				err, errlen,
				"%s already exists; edge443 plan never "
				"overwrites a private key — use --force to "
				"replace it, or choose another folder",
				path);
			return CSR_ERR_INPUT;
		}
	}
	return CSR_OK;
}

/* Write the PEM TEXT as DIR/NAME+EXT. */
static int csr_put(const char *dir, const char *name, const char *ext,
		   const char *text, int mode, bool replace, char *err,
		   size_t errlen)
{
	char path[PATH_MAX];

	if (!text) {
		ossl_err_printf(err, errlen, "out of memory encoding %s%s",
				name, ext);
		return -1;
	}
	if (csr_path(path, sizeof(path), dir, name, ext) < 0) {
		ossl_err_printf(err, errlen, "%s: folder name too long", dir);
		return -1;
	}
	return csr_write_bytes(path, text, strlen(text), mode, replace, err,
			       errlen);
}

/* Key, request and (lab) certificate of one planned certificate. */
static enum csr_status csr_write_one(const struct order_cert *oc,
				     const char *out_dir, const char *lab_dir,
				     const struct csr_lab *lab,
				     enum csr_key_kind kind, time_t now,
				     char *err, size_t errlen)
{
	EVP_PKEY *key = csr_key_new(kind, err, errlen);
	X509_REQ *req = NULL;
	X509 *crt = NULL;
	char *key_pem = NULL, *req_pem = NULL, *crt_pem = NULL;
	enum csr_status st = CSR_ERR_IO;

	if (!key)
		goto done;
	req = csr_req_new(oc, key, err, errlen);
	if (!req)
		goto done;
	key_pem = csr_key_pem(key);
	req_pem = csr_req_pem(req);
	/* replace = true: a key that existed was vetted by csr_check_keys
	 * (it only gets here with --force). */
	if (out_dir && (csr_put(out_dir, oc->name, ".key", key_pem, 0600, true,
				err, errlen) < 0 ||
			csr_put(out_dir, oc->name, ".csr", req_pem, 0644, true,
				err, errlen) < 0))
		goto done;
	if (lab_dir) {
		crt = oc->internal
			      ? csr_cert_new(CSR_CERT_LEAF,
					     X509_REQ_get_subject_name(req),
					     key, lab->iroot, lab->iroot_key,
					     CSR_LAB_CA_IROOT, oc, now,
					     CSR_LEAF_DAYS)
			      : csr_cert_new(CSR_CERT_LEAF,
					     X509_REQ_get_subject_name(req),
					     key, lab->inter, lab->int_key,
					     CSR_LAB_CA_INT, oc, now,
					     CSR_LEAF_DAYS);
		if (!crt) {
			ossl_err_drainf(
				err, errlen,
				"cannot issue the lab certificate \"%s\"",
				oc->name);
			goto done;
		}
		crt_pem = csr_cert_pem(crt);
		if (csr_put(lab_dir, oc->name, ".key", key_pem, 0600, true, err,
			    errlen) < 0 ||
		    csr_put(lab_dir, oc->name, ".csr", req_pem, 0644, true, err,
			    errlen) < 0 ||
		    csr_put(lab_dir, oc->name, ".crt", crt_pem, 0644, true, err,
			    errlen) < 0)
			goto done;
	}
	st = CSR_OK;
done:
	if (key_pem)
		OPENSSL_cleanse(key_pem, strlen(key_pem));
	free(key_pem);
	free(req_pem);
	free(crt_pem);
	X509_free(crt);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return st;
}

/* root.pem, chain.pem, internal-root.pem and the snippet. */
static enum csr_status csr_write_lab_files(const struct config *cfg,
					   const struct order_plan *plan,
					   const char *dir,
					   const struct csr_lab *lab,
					   time_t now, char *err, size_t errlen)
{
	char *root = csr_cert_pem(lab->root);
	char *inter = csr_cert_pem(lab->inter);
	char *iroot = csr_cert_pem(lab->iroot);
	char *snippet = csr_snippet(cfg, plan, dir, now);
	enum csr_status st = CSR_ERR_IO;

	if (csr_put(dir, "root", ".pem", root, 0644, true, err, errlen) < 0 ||
	    csr_put(dir, "chain", ".pem", inter, 0644, true, err, errlen) < 0 ||
	    csr_put(dir, "internal-root", ".pem", iroot, 0644, true, err,
		    errlen) < 0 ||
	    csr_put(dir, "edge443.conf", ".snippet", snippet, 0644, true, err,
		    errlen) < 0)
		goto done;
	st = CSR_OK;
done:
	free(root);
	free(inter);
	free(iroot);
	free(snippet);
	return st;
}

enum csr_status csr_write_plan(const struct config *cfg,
			       const struct order_plan *plan,
			       const char *out_dir, const char *lab_dir,
			       enum csr_key_kind kind, bool force, time_t now,
			       char *err, size_t errlen)
{
	char out_abs[PATH_MAX], lab_abs[PATH_MAX];
	struct csr_lab lab;
	enum csr_status st = CSR_OK;

	memset(&lab, 0, sizeof(lab));
	if (err && errlen)
		err[0] = '\0';
	if (!plan)
		return CSR_ERR_INPUT;
	if (now == 0)
		now = time(NULL);
	for (size_t i = 0; i < plan->n; i++)
		if (!csr_name_safe(plan->certs[i].name)) {
			ossl_err_printf(
				err, errlen,
				"certificate name \"%s\" cannot be a file name "
				"(letters, digits, '.', '_' and '-' only, not "
				"starting with '.') — rename the certificate "
				"section",
				plan->certs[i].name);
			return CSR_ERR_INPUT;
		}
	/* Resolve both folders; the same folder twice is written once. */
	if (out_dir) {
		if (csr_mkdir(out_dir, err, errlen) < 0 ||
		    !realpath(out_dir, out_abs)) {
			if (err && !err[0])
				ossl_err_printf(err, errlen, "%s: %s", out_dir,
						strerror(errno));
			return CSR_ERR_IO;
		}
		out_dir = out_abs;
	}
	if (lab_dir) {
		if (csr_mkdir(lab_dir, err, errlen) < 0 ||
		    !realpath(lab_dir, lab_abs)) {
			if (err && !err[0])
				ossl_err_printf(err, errlen, "%s: %s", lab_dir,
						strerror(errno));
			return CSR_ERR_IO;
		}
		lab_dir = lab_abs;
		if (out_dir && strcmp(out_dir, lab_dir) == 0)
			out_dir = NULL;
	}
	if (!force) {
		if (out_dir &&
		    (st = csr_check_keys(plan, out_dir, err, errlen)) != CSR_OK)
			return st;
		if (lab_dir &&
		    (st = csr_check_keys(plan, lab_dir, err, errlen)) != CSR_OK)
			return st;
	}
	if (lab_dir && csr_lab_new(&lab, now, err, errlen) < 0)
		return CSR_ERR_IO;
	for (size_t i = 0; i < plan->n && st == CSR_OK; i++)
		st = csr_write_one(&plan->certs[i], out_dir, lab_dir, &lab,
				   kind, now, err, errlen);
	if (st == CSR_OK && lab_dir)
		st = csr_write_lab_files(cfg, plan, lab_dir, &lab, now, err,
					 errlen);
	csr_lab_clear(&lab);
	return st;
}
