/*
 * cert.c — the "cert" module: PostgreSQL's certificate authentication.  The
 * TLS transport has already verified the client's certificate against the
 * configured CA and CRL; this step only decides whether the holder of that
 * certificate may log in as the requested role: the subject's commonName
 * (clientname=CN, the default) or its whole subject DN in RFC 2253 form
 * (clientname=DN) must equal the role, or, with a "map" option, the ident map
 * must let that name connect as the role (host->ident_match, pg_ident.conf
 * semantics).
 *
 * Non-interactive: nothing is sent to the client.  The decision is a pure
 * function of (certificate, clientname, map, role), so the core can run the
 * same step for clientcert=verify-full on any access rule.  As PostgreSQL 15
 * does, the authenticated identity recorded on success is the subject DN,
 * whichever name was compared.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <pgsluice/module.h>

#include "../common/conn_detail.h"

#define CERT_DER_MAX  (64u * 1024u) /* largest certificate accepted, DER bytes */
#define CERT_NAME_MAX 1024u         /* longest CN or DN, bytes */

struct cert_module {
	const pgs_host *host;
};

enum cert_state {
	CERT_START,
	CERT_FINISHED, /* decided; any further call is out of turn */
};

struct cert_conn {
	enum cert_state state;
};

static int cert_init(const pgs_host *host, const pgs_cfg *cfg, void **mod)
{
	struct cert_module *m;

	(void)cfg; /* no settings */
	m = host->alloc(sizeof *m);
	if (m == NULL)
		return -ENOMEM;
	m->host = host;
	if (!PGS_HAS_FIELD(host, pgs_host, ident_match) || host->ident_match == NULL)
		host->log(PGS_LOG_WARN, NULL,
		          "cert: this host has no ident maps (ABI < 1.1): a cert step with a "
		          "\"map\" option will fail");
	*mod = m;
	return 0;
}

static void cert_fini(void *mod)
{
	struct cert_module *m = mod;

	if (m != NULL)
		m->host->free(m);
}

static int cert_conn_new(void *mod, pgs_conn *conn, void **state)
{
	const struct cert_module *m = mod;
	struct cert_conn *cc;

	(void)conn;
	cc = m->host->alloc(sizeof *cc);
	if (cc == NULL)
		return -ENOMEM;
	cc->state = CERT_START;
	*state = cc;
	return 0;
}

static void cert_conn_free(void *mod, pgs_conn *conn, void *state)
{
	const struct cert_module *m = mod;

	(void)conn;
	if (state != NULL)
		m->host->free(state);
}

/* Copy a name of len bytes into out (CERT_NAME_MAX + 1 bytes), refusing what
 * is too long or holds a NUL byte (CVE-2009-4034: "alice\0.evil" must not
 * read as "alice"). */
static int cert_copy_name(const void *name, size_t len, char *out, bool is_dn, const char **why)
{
	if (len > CERT_NAME_MAX) {
		*why = is_dn ? "certificate's subject DN is longer than 1024 bytes"
		             : "certificate's common name is longer than 1024 bytes";
		return -ENAMETOOLONG;
	}
	if (memchr(name, '\0', len) != NULL) {
		*why = is_dn ? "certificate's distinguished name contains embedded null"
		             : "certificate's common name contains embedded null";
		return -EINVAL;
	}
	memcpy(out, name, len);
	out[len] = '\0';
	return 0;
}

/* The subject's single commonName, as UTF-8, into out. */
static int cert_common_name(const X509_NAME *subject, char *out, const char **why)
{
	const ASN1_STRING *data;
	unsigned char *utf8 = NULL;
	int idx, len, rc;

	idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
	if (idx < 0) {
		*why = "certificate has no common name";
		return -ENOENT;
	}
	/* PostgreSQL takes the first; two would make the identity ambiguous. */
	if (X509_NAME_get_index_by_NID(subject, NID_commonName, idx) >= 0) {
		*why = "certificate has more than one common name (ambiguous)";
		return -EINVAL;
	}
	data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
	len = data != NULL ? ASN1_STRING_to_UTF8(&utf8, data) : -1;
	if (len < 0) {
		*why = "certificate's common name cannot be read as UTF-8";
		return -EINVAL;
	}
	rc = cert_copy_name(utf8, (size_t)len, out, false, why);
	OPENSSL_free(utf8);
	return rc;
}

/* The subject DN in RFC 2253 form (PostgreSQL's clientname=DN), into out. */
static int cert_subject_dn(const X509_NAME *subject, char *out, const char **why)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;
	int rc;

	if (bio == NULL) {
		*why = "cert: out of memory";
		return -ENOMEM;
	}
	if (X509_NAME_print_ex(bio, subject, 0, XN_FLAG_RFC2253) < 0 ||
	    (len = BIO_get_mem_data(bio, &data)) < 0 || (len > 0 && data == NULL)) {
		*why = "certificate's subject DN cannot be printed";
		rc = -EINVAL;
	} else {
		rc = cert_copy_name(data, (size_t)len, out, true, why);
	}
	BIO_free(bio);
	return rc;
}

/* The role check proper, once the compared name is known. */
static enum pgs_step cert_match(const pgs_host *host, pgs_conn *conn, const char *name,
                                const char *map, const char *role, const char **logdetail)
{
	int rc;

	if (name[0] == '\0') {
		*logdetail = conn_detail(host, conn, "client certificate contains no user name",
		                         "certificate authentication failed for user \"%s\": "
		                         "client certificate contains no user name",
		                         role);
		return PGS_STEP_FAIL;
	}
	if (map == NULL) {
		/* Case-sensitive, as PostgreSQL compares without a map. */
		if (strcmp(name, role) == 0)
			return PGS_STEP_DONE;
		*logdetail = conn_detail(host, conn, "certificate name and role differ",
		                         "provided user name (%s) and authenticated user name (%s) "
		                         "do not match",
		                         role, name);
		return PGS_STEP_FAIL;
	}
	if (!PGS_HAS_FIELD(host, pgs_host, ident_match) || host->ident_match == NULL) {
		*logdetail = "cert: a map is set but this host has no ident maps";
		return PGS_STEP_FAIL;
	}
	rc = host->ident_match(conn, map, name, role);
	if (rc == 0)
		return PGS_STEP_DONE;
	if (rc == -ENOENT)
		*logdetail = conn_detail(host, conn, "usermap does not exist",
		                         "usermap \"%s\" does not exist", map);
	else
		*logdetail = conn_detail(host, conn, "no match in usermap",
		                         "no match in usermap \"%s\" for user \"%s\" "
		                         "authenticated as \"%s\"",
		                         map, role, name);
	return PGS_STEP_FAIL;
}

/*
 * The decision, shared by the cert method and clientcert=verify-full: may the
 * holder of certificate der (NULL: none was presented) log in as role,
 * comparing clientname ("CN", "DN"; NULL means "CN") directly or through
 * ident map `map` (NULL: none)?  DONE after recording the subject DN as the
 * authenticated identity, else FAIL with *logdetail saying why.
 */
static enum pgs_step cert_decide(const pgs_host *host, pgs_conn *conn, const uint8_t *der,
                                 size_t der_len, const char *clientname, const char *map,
                                 const char *role, const char **logdetail)
{
	char cn[CERT_NAME_MAX + 1], dn[CERT_NAME_MAX + 1];
	const unsigned char *p = der;
	enum pgs_step res = PGS_STEP_FAIL;
	bool by_dn;
	X509 *x509;

	if (clientname == NULL || strcmp(clientname, "CN") == 0) {
		by_dn = false;
	} else if (strcmp(clientname, "DN") == 0) {
		by_dn = true;
	} else {
		*logdetail = conn_detail(host, conn, "cert: invalid value for clientname",
		                         "cert: invalid value for clientname: \"%.64s\" "
		                         "(must be CN or DN)",
		                         clientname);
		return PGS_STEP_FAIL;
	}
	if (der == NULL) {
		*logdetail = "connection requires a valid client certificate";
		return PGS_STEP_FAIL;
	}
	if (der_len > CERT_DER_MAX) {
		*logdetail = "client certificate is larger than 65536 bytes";
		return PGS_STEP_FAIL;
	}
	if (role == NULL || role[0] == '\0') {
		*logdetail = "cert: no user name in the startup packet";
		return PGS_STEP_FAIL;
	}
	x509 = d2i_X509(NULL, &p, (long)der_len);
	if (x509 == NULL || p != der + der_len) {
		*logdetail = "client certificate is not a valid DER certificate";
		X509_free(x509);
		return PGS_STEP_FAIL;
	}
	if (!by_dn && cert_common_name(X509_get_subject_name(x509), cn, logdetail) < 0)
		goto out;
	/* Needed in both modes: it is the identity recorded on success. */
	if (cert_subject_dn(X509_get_subject_name(x509), dn, logdetail) < 0)
		goto out;
	res = cert_match(host, conn, by_dn ? dn : cn, map, role, logdetail);
	if (res == PGS_STEP_DONE && host->set_authn_id(conn, dn) < 0) {
		*logdetail = "cert: cannot record the authenticated identity";
		res = PGS_STEP_FAIL;
	}
out:
	X509_free(x509);
	return res;
}

static enum pgs_step cert_step(void *mod, pgs_conn *conn, void *state, const uint8_t *in,
                               size_t in_len, pgs_wbuf *out, const char **logdetail)
{
	const struct cert_module *m = mod;
	const pgs_host *host = m->host;
	struct cert_conn *cc = state;
	const uint8_t *der = NULL;
	const char *clientname, *map;
	size_t der_len = 0;

	(void)in_len;
	(void)out;
	if (in != NULL || cc->state != CERT_START) {
		*logdetail = "cert: step called out of turn";
		return PGS_STEP_FAIL;
	}
	cc->state = CERT_FINISHED;
	clientname = host->step_option != NULL ? host->step_option(conn, "clientname") : NULL;
	map = host->step_option != NULL ? host->step_option(conn, "map") : NULL;
	if (map != NULL && map[0] == '\0')
		map = NULL; /* map= with no name: none, as in pg_hba.conf */
	if (host->conn_peer_cert == NULL || host->conn_peer_cert(conn, &der, &der_len) < 0 ||
	    der == NULL)
		der = NULL;
	return cert_decide(host, conn, der, der_len, clientname, map,
	                   host->conn_param(conn, "user"), logdetail);
}

static const pgs_auth_ops cert_auth = {
        .size = sizeof(pgs_auth_ops),
        .flags = PGS_AUTH_FINAL_FAILURE,
        .conn_new = cert_conn_new,
        .step = cert_step,
        .conn_free = cert_conn_free,
        .method = "certificate",
        .fail_sqlstate = "28000",
};

static const pgs_module cert_desc = {
        PGS_MODULE_INIT("cert", "0.1.0"),
        .init = cert_init,
        .fini = cert_fini,
        .auth = &cert_auth,
};

PGS_MODULE_EXPORT(cert_desc)
