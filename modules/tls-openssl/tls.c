/*
 * tls.c — the "tls-openssl" transport module: TLS towards clients (the
 * core answers SSLRequest with 'S', or takes PostgreSQL 17's direct TLS,
 * then hands the socket to tls_conn.c).  This file reads the settings and
 * builds one SSL_CTX per instance; a reload (SIGHUP) builds a new instance,
 * so a bad new key or certificate fails init() and the old one stays.
 *
 * Config (instance group; relative paths are relative to the config file):
 *   cert = "server.crt";        required: PEM certificate, chain allowed
 *   key = "server.key";         required: PEM private key, unencrypted.
 *                               Refused when group/others may read it, with
 *                               PostgreSQL's rule: owned by the daemon's user
 *                               -> mode 0600 or less; owned by root -> 0640
 *                               or less; any other owner is refused.  It
 *                               must match cert.
 *   ca = "root.crt";            PEM CA certificates for client certificates;
 *                               required unless client_cert = "none"
 *   crl = "root.crl";           optional CRL file and/or hashed CRL directory
 *   crl_dir = "crl.d";          (c_rehash layout); either turns on revocation
 *                               checks of the client's certificate
 *   min_protocol = "TLSv1.2";   "TLSv1.2" or "TLSv1.3"
 *   max_protocol = "TLSv1.3";   default: no upper bound
 *   ciphers = "HIGH:!aNULL:!MD5";  TLS 1.2 cipher list (server's order wins)
 *   ciphersuites = "...";       TLS 1.3 suites; OpenSSL's default when absent
 *   ecdh_curve = "prime256v1";  key exchange groups (SSL_CTX_set1_groups_list)
 *   client_cert = "none";       "none": never ask for a certificate;
 *                               "optional": ask, verify one when given;
 *                               "verify-ca" / "verify-full": a certificate
 *                               verified against ca is required (the name
 *                               check of verify-full is the cert module's)
 *
 * ALPN: a client offering "postgresql" gets it (PostgreSQL 17 direct TLS);
 * one offering ALPN without it is refused with a fatal alert, as
 * PostgreSQL 17 does; no ALPN at all is fine.  No session resumption, no
 * renegotiation, no compression.  Keys and passphrase prompts never touch
 * the log or the terminal.
 *
 * The same instance is also the TLS client of PostgreSQL on server
 * connections (tls_client.c): those take their settings from the server's
 * connection parameters, not from this group.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <pgsluice/module.h>

#include "tls_int.h"

#define TLS_MAX_KEY_FILE  (1024 * 1024) /* a PEM key is a few KiB */
#define TLS_ERR_LEN       512
#define TLS_DEFAULT_CURVE "prime256v1"
#define TLS_ALPN_PROTOCOL "postgresql"

const char *tls_err_drain(char *buf, size_t len)
{
	size_t used = 0;
	unsigned long e;

	buf[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		const char *reason = ERR_reason_error_string(e);
		char code[32];
		int n;

		if (reason == NULL) {
			snprintf(code, sizeof code, "error %08lx", e);
			reason = code;
		}
		if (used + 1 >= len)
			continue; /* keep draining */
		n = snprintf(buf + used, len - used, "%s%s", used > 0 ? "; " : "", reason);
		used = n < 0 ? used : used + (size_t)n < len ? used + (size_t)n : len - 1;
	}
	if (used == 0)
		snprintf(buf, len, "unknown error");
	return buf;
}

/* ------------------------------------------------------------ settings */

/* A path setting into out: 0, 1 when absent (and not required), -EINVAL. */
static int get_path(const pgs_host *host, const pgs_cfg *cfg, const char *key, bool required,
                    char *out, size_t out_size)
{
	int rc = host->cfg_path(cfg, key, out, out_size);

	if (rc == 0)
		return 0;
	if (rc == -ENOENT && !required)
		return 1;
	if (rc == -ENOENT)
		host->log(PGS_LOG_ERROR, NULL, "%s: tls-openssl: setting \"%s\" is required",
		          host->cfg_where(cfg, NULL), key);
	else
		host->log(PGS_LOG_ERROR, NULL, "%s: tls-openssl: %s must be a file path%s",
		          host->cfg_where(cfg, key), key,
		          rc == -ENAMETOOLONG ? " shorter than PATH_MAX" : "");
	return -EINVAL;
}

/* A string setting: 0 (*out set, or left alone when absent), -EINVAL. */
static int get_str(const pgs_host *host, const pgs_cfg *cfg, const char *key, const char **out)
{
	int rc = host->cfg_str(cfg, key, out);

	if (rc == 0 && **out != '\0')
		return 0;
	if (rc == -ENOENT)
		return 0;
	host->log(PGS_LOG_ERROR, NULL, "%s: tls-openssl: %s must be a non-empty string",
	          host->cfg_where(cfg, key), key);
	return -EINVAL;
}

/* min_protocol / max_protocol: *version 0 when absent. */
static int get_protocol(const pgs_host *host, const pgs_cfg *cfg, const char *key, int *version)
{
	const char *v = NULL;

	if (get_str(host, cfg, key, &v) < 0)
		return -EINVAL;
	if (v == NULL)
		return 0;
	if (strcmp(v, "TLSv1.2") == 0) {
		*version = TLS1_2_VERSION;
	} else if (strcmp(v, "TLSv1.3") == 0) {
		*version = TLS1_3_VERSION;
	} else {
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: tls-openssl: %s \"%s\" is not supported (use \"TLSv1.2\" or "
		          "\"TLSv1.3\")",
		          host->cfg_where(cfg, key), key, v);
		return -EINVAL;
	}
	return 0;
}

static int get_client_cert(const pgs_host *host, const pgs_cfg *cfg, enum tls_client_cert *mode)
{
	static const char *const names[] = {"none", "optional", "verify-ca", "verify-full"};
	const char *v = NULL;

	*mode = TLS_CLIENT_CERT_NONE;
	if (get_str(host, cfg, "client_cert", &v) < 0)
		return -EINVAL;
	if (v == NULL)
		return 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(v, names[i]) == 0) {
			*mode = (enum tls_client_cert)i;
			return 0;
		}
	}
	host->log(PGS_LOG_ERROR, NULL,
	          "%s: tls-openssl: client_cert \"%s\" is not one of none, optional, "
	          "verify-ca, verify-full",
	          host->cfg_where(cfg, "client_cert"), v);
	return -EINVAL;
}

/* ------------------------------------------------------------ key file */

/* Never prompt for a passphrase: an encrypted key is refused. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

/*
 * PostgreSQL's check_ssl_key_file_permissions(): the key must be a regular
 * file owned by us or root; ours -> no group/other bits, root's -> at most
 * group read.  Checked on the open descriptor that is then read.
 */
static int key_file_check(const pgs_host *host, const pgs_conn *conn, const char *where,
                          const char *path, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		host->log(PGS_LOG_ERROR, conn,
		          "%s: tls-openssl: private key file \"%s\" is not a regular file", where,
		          path);
		return -EINVAL;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		host->log(PGS_LOG_ERROR, conn,
		          "%s: tls-openssl: private key file \"%s\" must be owned by the daemon's "
		          "user "
		          "or root",
		          where, path);
		return -EACCES;
	}
	if ((st.st_uid == geteuid() && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) ||
	    (st.st_uid == 0 && (st.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO)) != 0)) {
		host->log(
		        PGS_LOG_ERROR, conn,
		        "%s: tls-openssl: private key file \"%s\" has group or world access (mode "
		        "%04o): it must be u=rw (0600) or less if owned by the daemon's user, "
		        "u=rw,g=r (0640) or less if owned by root",
		        where, path, (unsigned int)(st.st_mode & 07777));
		return -EACCES;
	}
	if (st.st_size <= 0 || st.st_size > TLS_MAX_KEY_FILE) {
		host->log(
		        PGS_LOG_ERROR, conn,
		        "%s: tls-openssl: private key file \"%s\" is empty or larger than %d bytes",
		        where, path, TLS_MAX_KEY_FILE);
		return -EINVAL;
	}
	return 0;
}

/* Read the key file into memory (wiped after use) and parse it. */
int tls_key_load(const pgs_host *host, const pgs_conn *conn, const char *where, const char *path,
                 EVP_PKEY **pkey)
{
	char err[TLS_ERR_LEN];
	size_t len = 0, cap;
	unsigned char *text;
	ssize_t n;
	BIO *bio;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK); /* a FIFO must not block */
	if (fd < 0) {
		host->log(PGS_LOG_ERROR, conn,
		          "%s: tls-openssl: cannot open private key file \"%s\": %s", where, path,
		          strerror(errno));
		return -ENOENT;
	}
	rc = key_file_check(host, conn, where, path, fd);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	cap = TLS_MAX_KEY_FILE;
	text = OPENSSL_malloc(cap);
	if (text == NULL) {
		close(fd);
		return -ENOMEM;
	}
	while (len < cap && (n = read(fd, text + len, cap - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			host->log(PGS_LOG_ERROR, conn,
			          "%s: tls-openssl: cannot read private key file \"%s\": %s", where,
			          path, strerror(errno));
			close(fd);
			OPENSSL_clear_free(text, cap);
			return -EIO;
		}
		len += (size_t)n;
	}
	close(fd);
	ERR_clear_error();
	bio = BIO_new_mem_buf(text, (int)len);
	*pkey = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
	BIO_free(bio);
	OPENSSL_clear_free(text, cap);
	if (*pkey == NULL) {
		host->log(PGS_LOG_ERROR, conn,
		          "%s: tls-openssl: cannot load private key file \"%s\" (unencrypted PEM "
		          "expected): %s",
		          where, path, tls_err_drain(err, sizeof err));
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------ SSL_CTX */

/* ALPN: "postgresql" or a fatal alert (no pointer to the instance: see tls_int.h). */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
	static const char proto[] = TLS_ALPN_PROTOCOL;
	unsigned int i = 0;

	(void)ssl, (void)arg;
	while (i < inlen) {
		unsigned int n = in[i];

		if (n > inlen - i - 1)
			break; /* malformed list */
		if (n == sizeof proto - 1 && memcmp(in + i + 1, proto, n) == 0) {
			*out = in + i + 1;
			*outlen = (unsigned char)n;
			return SSL_TLSEXT_ERR_OK;
		}
		i += n + 1;
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* Log "<file:line of key>: tls-openssl: <what>: <OpenSSL reasons>". */
static int ctx_fail(const pgs_host *host, const pgs_cfg *cfg, const char *key, const char *what,
                    const char *path)
{
	char err[TLS_ERR_LEN];

	host->log(PGS_LOG_ERROR, NULL, "%s: tls-openssl: %s%s%s%s: %s", host->cfg_where(cfg, key),
	          what, path != NULL ? " \"" : "", path != NULL ? path : "",
	          path != NULL ? "\"" : "", tls_err_drain(err, sizeof err));
	return -EINVAL;
}

static int ctx_certs(struct tls_module *m, const pgs_cfg *cfg)
{
	const pgs_host *host = m->host;
	char cert[PATH_MAX], key[PATH_MAX];
	EVP_PKEY *pkey = NULL;
	int rc;

	if (get_path(host, cfg, "cert", true, cert, sizeof cert) != 0 ||
	    get_path(host, cfg, "key", true, key, sizeof key) != 0)
		return -EINVAL;
	if (SSL_CTX_use_certificate_chain_file(m->ctx, cert) != 1)
		return ctx_fail(host, cfg, "cert", "cannot load certificate file", cert);
	rc = tls_key_load(host, NULL, host->cfg_where(cfg, "key"), key, &pkey);
	if (rc < 0)
		return rc;
	rc = SSL_CTX_use_PrivateKey(m->ctx, pkey);
	EVP_PKEY_free(pkey);
	if (rc != 1)
		return ctx_fail(host, cfg, "key", "cannot use private key file", key);
	if (SSL_CTX_check_private_key(m->ctx) != 1)
		return ctx_fail(host, cfg, "key", "private key does not match certificate file",
		                cert);
	return 0;
}

static int ctx_client_certs(struct tls_module *m, const pgs_cfg *cfg)
{
	const pgs_host *host = m->host;
	char ca[PATH_MAX], crl[PATH_MAX], crl_dir[PATH_MAX];
	STACK_OF(X509_NAME) * names;
	X509_STORE *store;
	int has_ca, has_crl, has_dir;

	if ((has_ca = get_path(host, cfg, "ca", false, ca, sizeof ca)) < 0 ||
	    (has_crl = get_path(host, cfg, "crl", false, crl, sizeof crl)) < 0 ||
	    (has_dir = get_path(host, cfg, "crl_dir", false, crl_dir, sizeof crl_dir)) < 0)
		return -EINVAL;
	if (has_ca != 0) {
		if (m->client_cert != TLS_CLIENT_CERT_NONE) {
			host->log(PGS_LOG_ERROR, NULL,
			          "%s: tls-openssl: client_cert needs a ca file to verify client "
			          "certificates",
			          host->cfg_where(cfg, "client_cert"));
			return -EINVAL;
		}
		if (has_crl == 0 || has_dir == 0)
			host->log(PGS_LOG_WARN, NULL,
			          "%s: tls-openssl: crl/crl_dir ignored: no client certificates "
			          "without ca",
			          host->cfg_where(cfg, has_crl == 0 ? "crl" : "crl_dir"));
		return 0;
	}
	if (SSL_CTX_load_verify_locations(m->ctx, ca, NULL) != 1)
		return ctx_fail(host, cfg, "ca", "cannot load CA file", ca);
	/* The CA names a client sees in the CertificateRequest. */
	names = SSL_load_client_CA_file(ca);
	if (names == NULL)
		return ctx_fail(host, cfg, "ca", "no CA certificate in file", ca);
	SSL_CTX_set_client_CA_list(m->ctx, names);
	if (has_crl == 0 || has_dir == 0) {
		store = SSL_CTX_get_cert_store(m->ctx);
		if (has_crl == 0 && X509_STORE_load_file(store, crl) != 1)
			return ctx_fail(host, cfg, "crl", "cannot load CRL file", crl);
		if (has_dir == 0 && X509_STORE_load_path(store, crl_dir) != 1)
			return ctx_fail(host, cfg, "crl_dir", "cannot use CRL directory", crl_dir);
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	}
	if (m->client_cert != TLS_CLIENT_CERT_NONE)
		SSL_CTX_set_verify(m->ctx,
		                   SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE |
		                           (m->client_cert == TLS_CLIENT_CERT_OPTIONAL
		                                    ? 0
		                                    : SSL_VERIFY_FAIL_IF_NO_PEER_CERT),
		                   NULL);
	return 0;
}

static int ctx_protocols(struct tls_module *m, const pgs_cfg *cfg)
{
	const pgs_host *host = m->host;
	const char *ciphers = TLS_DEFAULT_CIPHER, *suites = NULL, *curve = TLS_DEFAULT_CURVE;
	int min = TLS1_2_VERSION, max = 0;

	if (get_protocol(host, cfg, "min_protocol", &min) < 0 ||
	    get_protocol(host, cfg, "max_protocol", &max) < 0 ||
	    get_str(host, cfg, "ciphers", &ciphers) < 0 ||
	    get_str(host, cfg, "ciphersuites", &suites) < 0 ||
	    get_str(host, cfg, "ecdh_curve", &curve) < 0)
		return -EINVAL;
	if (max != 0 && max < min) {
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: tls-openssl: max_protocol is lower than min_protocol",
		          host->cfg_where(cfg, "max_protocol"));
		return -EINVAL;
	}
	if (SSL_CTX_set_min_proto_version(m->ctx, min) != 1 ||
	    SSL_CTX_set_max_proto_version(m->ctx, max) != 1)
		return ctx_fail(host, cfg, "min_protocol", "cannot set protocol versions", NULL);
	if (SSL_CTX_set_cipher_list(m->ctx, ciphers) != 1)
		return ctx_fail(host, cfg, "ciphers", "no usable cipher in ciphers", NULL);
	if (suites != NULL && SSL_CTX_set_ciphersuites(m->ctx, suites) != 1)
		return ctx_fail(host, cfg, "ciphersuites", "bad ciphersuites", NULL);
	if (SSL_CTX_set1_groups_list(m->ctx, curve) != 1)
		return ctx_fail(host, cfg, "ecdh_curve", "unknown ecdh_curve", NULL);
	return 0;
}

static void tls_fini(void *mod)
{
	struct tls_module *m = mod;

	if (m == NULL)
		return;
	tls_client_fini(m);
	pthread_mutex_destroy(&m->client_lock);
	SSL_CTX_free(m->ctx); /* connections keep their own reference */
	m->host->free(m);
}

static int tls_init(const pgs_host *host, const pgs_cfg *cfg, void **mod)
{
	struct tls_module *m;
	int rc;

	if (!PGS_HAS_FIELD(host, pgs_host, cfg_path)) {
		host->log(PGS_LOG_ERROR, NULL, "tls-openssl: host too old (needs ABI 1.1)");
		return -ENOTSUP;
	}
	m = host->alloc(sizeof *m);
	if (m == NULL)
		return -ENOMEM;
	memset(m, 0, sizeof *m);
	m->host = host;
	if (pthread_mutex_init(&m->client_lock, NULL) != 0) {
		host->free(m);
		return -ENOMEM;
	}
	ERR_clear_error();
	m->ctx = SSL_CTX_new(TLS_server_method());
	if (m->ctx == NULL) {
		rc = ctx_fail(host, cfg, NULL, "cannot create the TLS context", NULL);
		goto fail;
	}
	SSL_CTX_set_options(m->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	                                    SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(m->ctx,
	                 SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(m->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(m->ctx, 0);
	SSL_CTX_set_dh_auto(m->ctx, 1);
	SSL_CTX_set_default_passwd_cb(m->ctx, no_passphrase);
	SSL_CTX_set_alpn_select_cb(m->ctx, alpn_select, NULL);
	if ((rc = get_client_cert(host, cfg, &m->client_cert)) < 0 ||
	    (rc = ctx_protocols(m, cfg)) < 0 || (rc = ctx_certs(m, cfg)) < 0 ||
	    (rc = ctx_client_certs(m, cfg)) < 0)
		goto fail;
	*mod = m;
	return 0;
fail:
	ERR_clear_error();
	tls_fini(m);
	return rc;
}

static const pgs_transport_ops tls_ops = {
        .size = sizeof(pgs_transport_ops),
        .kind = "ssl",
        .conn_new = tls_conn_new,
        .handshake = tls_conn_handshake,
        .read = tls_conn_read,
        .write = tls_conn_write,
        .shutdown = tls_conn_shutdown,
        .conn_free = tls_conn_free,
        .fact = tls_conn_fact,
        .peer_cert = tls_conn_peer_cert,
        .cb_hash = tls_conn_cb_hash,
        .pending = tls_conn_pending,
};

static const pgs_module tls_desc = {
        PGS_MODULE_INIT("tls-openssl", "1.0"),
        .init = tls_init,
        .fini = tls_fini,
        .transport = &tls_ops,
};

PGS_MODULE_EXPORT(tls_desc)
