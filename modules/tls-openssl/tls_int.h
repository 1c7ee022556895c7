/*
 * tls_int.h — what the two halves of the tls-openssl module share: the
 * module instance built by tls.c (one SSL_CTX per configuration) and the
 * per-connection operations of tls_conn.c.
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

#include <stddef.h>

#include <openssl/ssl.h>

#include <pgsluice/module.h>

#define TLS_DETAIL_LEN 256 /* log detail buffer of a connection */

/* client_cert setting. */
enum tls_client_cert {
	TLS_CLIENT_CERT_NONE = 0, /* never ask */
	TLS_CLIENT_CERT_OPTIONAL, /* ask; verify when given */
	TLS_CLIENT_CERT_VERIFY_CA,
	TLS_CLIENT_CERT_VERIFY_FULL, /* the name check is the cert module's */
};

/* One module instance: the configuration turned into an SSL_CTX. */
struct tls_module {
	const pgs_host *host;
	SSL_CTX *ctx;
	enum tls_client_cert client_cert;
};

/*
 * tls_err_drain - empty this thread's OpenSSL error queue into buf as
 * "reason; reason" (library reasons only, no key material); "unknown
 * error" when the queue is empty.  Returns buf.
 */
const char *tls_err_drain(char *buf, size_t len);

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
