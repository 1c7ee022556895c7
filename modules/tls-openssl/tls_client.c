/*
 * tls_client.c — the client role of the tls-openssl module: on a server
 * connection pgsluice is the TLS client of PostgreSQL (the core has sent
 * SSLRequest and read 'S').  The settings come per server, from the server
 * connection's parameters, with libpq's meanings:
 *
 *   sslmode      "prefer", "require" (and "allow"; unset means "prefer"):
 *                encrypt without checking the certificate, unless
 *                sslrootcert is given: then the chain is checked as for
 *                verify-ca, as libpq does;
 *                "verify-ca": the chain must verify against sslrootcert;
 *                "verify-full": also server_host against the certificate's
 *                subjectAltName (DNS names, or IP addresses for an address)
 *                or, with no DNS name in it, its CN; wildcards only as a
 *                whole leftmost label, as libpq
 *   sslrootcert  PEM CA file; verify-ca and verify-full need it
 *   sslcert, sslkey  our client certificate (chain allowed) and its key,
 *                both or neither; the key has the server key's permission
 *                rule (tls_key_load)
 *   sslcrl       CRL file checked with the chain (CRL_CHECK_ALL, as libpq);
 *                ignored when nothing is verified
 *   server_host  the host name or IP address connected to: the name that
 *                verify-full checks, and the SNI (names only, as libpq)
 *
 * One SSL_CTX per distinct (verification, files) tuple, built on the first
 * connection that needs it and cached in the instance, so files are read
 * once per instance (a reload builds a new instance and re-reads them).
 * server_host is set on each SSL object, not on the SSL_CTX.  Past
 * TLS_CLIENT_CTX_MAX tuples a connection gets an SSL_CTX of its own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <pgsluice/module.h>

#include "tls_int.h"

#define TLS_CLIENT_ERR_LEN 512
#define TLS_MAX_HOST       255 /* a DNS name is at most 253 bytes */

enum tls_verify {
	TLS_VERIFY_NONE = 0, /* prefer, require, allow */
	TLS_VERIFY_CA,
	TLS_VERIFY_FULL,
};

/* One server connection's settings; the strings are the host's. */
struct client_settings {
	enum tls_verify mode; /* as asked by sslmode */
	bool verify;          /* the chain is checked (mode, or a given rootcert) */
	const char *rootcert, *cert, *key, *crl, *host;
	bool host_is_ip;
};

/* A connection parameter; "" counts as unset.  -EINVAL when too long. */
static int param(const pgs_host *host, pgs_conn *conn, const char *name, size_t max,
                 const char **out)
{
	const char *v = host->conn_param(conn, name);

	*out = NULL;
	if (v == NULL || *v == '\0')
		return 0;
	if (strnlen(v, max + 1) > max) {
		host->log(PGS_LOG_ERROR, conn,
		          "tls-openssl: server connection: %s is longer than %zu bytes", name, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int get_mode(const pgs_host *host, pgs_conn *conn, enum tls_verify *mode)
{
	static const struct {
		const char *name;
		enum tls_verify mode;
	} modes[] = {
	        {"allow", TLS_VERIFY_NONE},       {"prefer", TLS_VERIFY_NONE},
	        {"require", TLS_VERIFY_NONE},     {"verify-ca", TLS_VERIFY_CA},
	        {"verify-full", TLS_VERIFY_FULL},
	};
	const char *v = NULL;

	*mode = TLS_VERIFY_NONE;
	if (param(host, conn, "sslmode", 32, &v) < 0)
		return -EINVAL;
	if (v == NULL)
		return 0; /* libpq's default: prefer */
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		if (strcmp(v, modes[i].name) == 0) {
			*mode = modes[i].mode;
			return 0;
		}
	}
	host->log(PGS_LOG_ERROR, conn,
	          "tls-openssl: server connection: sslmode \"%s\" is not one of allow, prefer, "
	          "require, verify-ca, verify-full",
	          v);
	return -EINVAL;
}

static int read_settings(const pgs_host *host, pgs_conn *conn, struct client_settings *s)
{
	unsigned char addr[16];

	memset(s, 0, sizeof *s);
	if (get_mode(host, conn, &s->mode) < 0 ||
	    param(host, conn, "sslrootcert", PATH_MAX - 1, &s->rootcert) < 0 ||
	    param(host, conn, "sslcert", PATH_MAX - 1, &s->cert) < 0 ||
	    param(host, conn, "sslkey", PATH_MAX - 1, &s->key) < 0 ||
	    param(host, conn, "sslcrl", PATH_MAX - 1, &s->crl) < 0 ||
	    param(host, conn, "server_host", TLS_MAX_HOST, &s->host) < 0)
		return -EINVAL;
	if (s->host != NULL && s->host[0] == '/')
		s->host = NULL; /* a Unix socket directory names no host */
	if (s->host != NULL)
		s->host_is_ip = inet_pton(AF_INET, s->host, addr) == 1 ||
		                inet_pton(AF_INET6, s->host, addr) == 1;
	if (s->mode != TLS_VERIFY_NONE && s->rootcert == NULL) {
		host->log(PGS_LOG_ERROR, conn,
		          "tls-openssl: server connection: sslmode %s needs sslrootcert (the CA "
		          "file that signed the server's certificate)",
		          s->mode == TLS_VERIFY_CA ? "verify-ca" : "verify-full");
		return -EINVAL;
	}
	if (s->mode == TLS_VERIFY_FULL && s->host == NULL) {
		host->log(PGS_LOG_ERROR, conn,
		          "tls-openssl: server connection: sslmode verify-full needs the server's "
		          "host name (server_host)");
		return -EINVAL;
	}
	if ((s->cert == NULL) != (s->key == NULL)) {
		host->log(PGS_LOG_ERROR, conn,
		          "tls-openssl: server connection: sslcert and sslkey go together (%s is "
		          "missing)",
		          s->cert == NULL ? "sslcert" : "sslkey");
		return -EINVAL;
	}
	s->verify = s->rootcert != NULL;
	if (!s->verify)
		s->crl = NULL;
	return 0;
}

/* ------------------------------------------------------------ SSL_CTX */

/* The cache key: verify flag, then each file as '-' (unset) or '+' path, NUL-separated. */
static char *settings_key(const pgs_host *host, const struct client_settings *s, size_t *len)
{
	const char *files[] = {s->rootcert, s->cert, s->key, s->crl};
	size_t need = 1, used = 0;
	char *key;

	for (size_t i = 0; i < 4; i++)
		need += 2 + (files[i] != NULL ? strlen(files[i]) : 0);
	key = host->alloc(need);
	if (key == NULL)
		return NULL;
	key[used++] = s->verify ? 'v' : 'n';
	for (size_t i = 0; i < 4; i++) {
		size_t n = files[i] != NULL ? strlen(files[i]) : 0;

		key[used++] = files[i] != NULL ? '+' : '-';
		memcpy(key + used, files[i] != NULL ? files[i] : "", n);
		used += n;
		key[used++] = '\0';
	}
	*len = used;
	return key;
}

/* Log "tls-openssl: server connection: <what> "<path>": <OpenSSL reasons>". */
static int ctx_fail(const pgs_host *host, pgs_conn *conn, const char *what, const char *path)
{
	char err[TLS_CLIENT_ERR_LEN];

	host->log(PGS_LOG_ERROR, conn, "tls-openssl: server connection: %s%s%s%s: %s", what,
	          path != NULL ? " \"" : "", path != NULL ? path : "", path != NULL ? "\"" : "",
	          tls_err_drain(err, sizeof err));
	return -EINVAL;
}

static int ctx_verify(const pgs_host *host, pgs_conn *conn, SSL_CTX *ctx,
                      const struct client_settings *s)
{
	X509_STORE *store;

	if (!s->verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	if (SSL_CTX_load_verify_locations(ctx, s->rootcert, NULL) != 1)
		return ctx_fail(host, conn, "cannot load sslrootcert", s->rootcert);
	if (s->crl != NULL) {
		store = SSL_CTX_get_cert_store(ctx);
		if (X509_STORE_load_file(store, s->crl) != 1)
			return ctx_fail(host, conn, "cannot load sslcrl", s->crl);
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return 0;
}

static int ctx_client_cert(const pgs_host *host, pgs_conn *conn, SSL_CTX *ctx,
                           const struct client_settings *s)
{
	EVP_PKEY *pkey = NULL;
	int rc;

	if (s->cert == NULL)
		return 0;
	if (SSL_CTX_use_certificate_chain_file(ctx, s->cert) != 1)
		return ctx_fail(host, conn, "cannot load sslcert", s->cert);
	rc = tls_key_load(host, conn, "server connection: sslkey", s->key, &pkey);
	if (rc < 0)
		return rc;
	rc = SSL_CTX_use_PrivateKey(ctx, pkey);
	EVP_PKEY_free(pkey);
	if (rc != 1)
		return ctx_fail(host, conn, "cannot use sslkey", s->key);
	if (SSL_CTX_check_private_key(ctx) != 1)
		return ctx_fail(host, conn, "sslkey does not match sslcert", s->cert);
	return 0;
}

static int ctx_build(const pgs_host *host, pgs_conn *conn, const struct client_settings *s,
                     SSL_CTX **out)
{
	static const unsigned char alpn[] = "\x0apostgresql"; /* as libpq 17 offers */
	SSL_CTX *ctx;
	int rc;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		return ctx_fail(host, conn, "cannot create a TLS context", NULL);
	SSL_CTX_set_options(ctx,
	                    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS_DEFAULT_CIPHER) != 1 ||
	    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1) != 0) { /* 0 is success */
		rc = ctx_fail(host, conn, "cannot set up the TLS context", NULL);
		goto fail;
	}
	if ((rc = ctx_verify(host, conn, ctx, s)) < 0 ||
	    (rc = ctx_client_cert(host, conn, ctx, s)) < 0)
		goto fail;
	*out = ctx;
	return 0;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return rc;
}

/* The SSL_CTX for s, with a reference the caller drops after SSL_new(). */
static int ctx_get(struct tls_module *m, pgs_conn *conn, const struct client_settings *s,
                   SSL_CTX **out)
{
	const pgs_host *host = m->host;
	struct tls_client_ctx *e;
	size_t key_len = 0;
	char *key;
	int rc;

	key = settings_key(host, s, &key_len);
	if (key == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&m->client_lock);
	for (unsigned int i = 0; i < m->n_client_ctx; i++) {
		e = &m->client_ctx[i];
		if (e->key_len == key_len && memcmp(e->key, key, key_len) == 0) {
			SSL_CTX_up_ref(e->ctx);
			*out = e->ctx;
			pthread_mutex_unlock(&m->client_lock);
			host->free(key);
			return 0;
		}
	}
	/* Built under the lock: files are read once, not once per racing connection. */
	rc = ctx_build(host, conn, s, out);
	if (rc == 0 && m->n_client_ctx < TLS_CLIENT_CTX_MAX) {
		e = &m->client_ctx[m->n_client_ctx++];
		e->key = key;
		e->key_len = key_len;
		e->ctx = *out;
		SSL_CTX_up_ref(e->ctx);
		key = NULL;
	} else if (rc == 0 && !m->client_full_logged) {
		m->client_full_logged = true;
		host->log(PGS_LOG_WARN, conn,
		          "tls-openssl: more than %d distinct server TLS settings: the others get "
		          "one TLS context per connection",
		          TLS_CLIENT_CTX_MAX);
	}
	pthread_mutex_unlock(&m->client_lock);
	host->free(key);
	return rc;
}

/* ------------------------------------------------------------ SSL */

/* verify-full's name check and the SNI, on this connection's SSL object. */
static int ssl_host(const pgs_host *host, pgs_conn *conn, SSL *ssl, const struct client_settings *s)
{
	X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);

	if (s->mode == TLS_VERIFY_FULL) {
		if (s->host_is_ip) {
			if (X509_VERIFY_PARAM_set1_ip_asc(vp, s->host) != 1)
				return ctx_fail(host, conn, "cannot check the server address",
				                s->host);
		} else {
			X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			if (X509_VERIFY_PARAM_set1_host(vp, s->host, 0) != 1)
				return ctx_fail(host, conn, "cannot check the server name",
				                s->host);
		}
	}
	if (s->host != NULL && !s->host_is_ip && SSL_set_tlsext_host_name(ssl, s->host) != 1)
		return ctx_fail(host, conn, "cannot send the server name (SNI)", s->host);
	return 0;
}

int tls_client_ssl_new(struct tls_module *m, pgs_conn *conn, SSL **ssl)
{
	const pgs_host *host = m->host;
	struct client_settings s;
	SSL_CTX *ctx = NULL;
	int rc;

	*ssl = NULL;
	if (read_settings(host, conn, &s) < 0)
		return -EINVAL;
	rc = ctx_get(m, conn, &s, &ctx);
	if (rc < 0)
		return rc;
	ERR_clear_error();
	*ssl = SSL_new(ctx);
	SSL_CTX_free(ctx); /* the SSL holds its own reference */
	if (*ssl == NULL) {
		(void)ctx_fail(host, conn, "cannot set up the connection", NULL);
		return -ENOMEM;
	}
	rc = ssl_host(host, conn, *ssl, &s);
	if (rc < 0) {
		ERR_clear_error();
		SSL_free(*ssl);
		*ssl = NULL;
		return rc;
	}
	SSL_set_connect_state(*ssl);
	return 0;
}

void tls_client_fini(struct tls_module *m)
{
	for (unsigned int i = 0; i < m->n_client_ctx; i++) {
		SSL_CTX_free(m->client_ctx[i].ctx); /* live connections keep their own */
		m->host->free(m->client_ctx[i].key);
	}
	m->n_client_ctx = 0;
}
