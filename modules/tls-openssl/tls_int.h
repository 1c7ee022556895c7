/*
 * tls_int.h — what the parts of the tls-openssl module share: the module
 * instance built by tls.c (one server SSL_CTX per configuration, plus the
 * cache of client SSL_CTXs of tls_client.c), the key loading of tls.c and
 * the per-connection operations of tls_conn.c.
 *
 * Lifetime: a connection's SSL object holds its own reference on the
 * SSL_CTX it was made from (SSL_new up-refs it), and the per-connection
 * code never touches the module instance after conn_new().  So after a
 * reload the old instance may be finished while its connections live on:
 * their read/write/shutdown/conn_free stay safe.  The same is why the
 * callbacks installed on the SSL_CTX take no pointer to the instance.
 */
#ifndef PGS_TLS_INT_H
#define PGS_TLS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <pgsluice/module.h>

#define TLS_DETAIL_LEN     256 /* log detail buffer of a connection */
#define TLS_DEFAULT_CIPHER "HIGH:!aNULL:!MD5"
#define TLS_CLIENT_CTX_MAX 32 /* cached client SSL_CTXs per instance */

/* client_cert setting. */
enum tls_client_cert {
	TLS_CLIENT_CERT_NONE = 0, /* never ask */
	TLS_CLIENT_CERT_OPTIONAL, /* ask; verify when given */
	TLS_CLIENT_CERT_VERIFY_CA,
	TLS_CLIENT_CERT_VERIFY_FULL, /* the name check is the cert module's */
};

/* One cached client SSL_CTX (tls_client.c): `key` encodes its settings. */
struct tls_client_ctx {
	char *key; /* host->alloc */
	size_t key_len;
	SSL_CTX *ctx;
};

/* One module instance: the configuration turned into an SSL_CTX. */
struct tls_module {
	const pgs_host *host;
	SSL_CTX *ctx; /* server role (towards clients) */
	enum tls_client_cert client_cert;
	/* client role (towards PostgreSQL): one SSL_CTX per settings tuple */
	pthread_mutex_t client_lock;
	struct tls_client_ctx client_ctx[TLS_CLIENT_CTX_MAX];
	unsigned int n_client_ctx;
	bool client_full_logged; /* "cache full" warned once */
};

/*
 * tls_err_drain - empty this thread's OpenSSL error queue into buf as
 * "reason; reason" (library reasons only, no key material); "unknown
 * error" when the queue is empty.  Returns buf.
 */
const char *tls_err_drain(char *buf, size_t len);

/*
 * tls_key_load - read an unencrypted PEM private key file into *pkey after
 * PostgreSQL's permission check (regular file owned by the daemon's user
 * with no group/other access, or by root with at most group read).  Errors
 * are logged on conn (may be NULL) as "<where>: tls-openssl: ...", never
 * with key material.  0, -ENOENT, -EACCES, -EINVAL, -EIO or -ENOMEM.
 */
int tls_key_load(const pgs_host *host, const pgs_conn *conn, const char *where, const char *path,
                 EVP_PKEY **pkey) __attribute__((warn_unused_result));

/*
 * tls_client_ssl_new - an SSL object for a server connection (pgsluice is
 * the TLS client of PostgreSQL), set up from the connection's settings
 * (conn_param sslmode, sslrootcert, sslcert, sslkey, sslcrl, server_host)
 * on a cached SSL_CTX.  Errors are logged on conn.  0 (*ssl set, in
 * connect state, fd not yet attached), -EINVAL (bad settings or files),
 * -ENOMEM.
 */
int tls_client_ssl_new(struct tls_module *m, pgs_conn *conn, SSL **ssl)
        __attribute__((warn_unused_result));

/* tls_client_fini - drop the instance's cached client SSL_CTXs. */
void tls_client_fini(struct tls_module *m);

/* The per-connection operations (tls_conn.c), wired into the descriptor. */
int tls_conn_new(void *mod, pgs_conn *conn, int fd, void **state);
enum pgs_io tls_conn_handshake(void *mod, void *state, const char **logdetail);
enum pgs_io tls_conn_read(void *mod, void *state, void *buf, size_t len, size_t *done);
enum pgs_io tls_conn_write(void *mod, void *state, const void *buf, size_t len, size_t *done);
enum pgs_io tls_conn_shutdown(void *mod, void *state);
void tls_conn_free(void *mod, void *state);
const char *tls_conn_fact(void *mod, void *state, const char *name);
int tls_conn_peer_cert(void *mod, void *state, const uint8_t **der, size_t *len);
int tls_conn_cb_hash(void *mod, void *state, uint8_t *out, size_t *len);
size_t tls_conn_pending(void *mod, void *state);

#endif /* PGS_TLS_INT_H */
