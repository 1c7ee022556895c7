/*
 * tls_conn.c — one TLS connection of the tls-openssl module: an SSL object
 * on the host's non-blocking socket.  OpenSSL's "want read/write" become
 * PGS_IO_WANT_READ/WRITE, a close_notify PGS_IO_CLOSED, anything else
 * PGS_IO_ERROR with a detail made from the OpenSSL error queue.
 *
 * Two roles: towards a client pgsluice is the TLS server (SSL_CTX of
 * tls.c); on a server connection it is the TLS client of PostgreSQL (SSL
 * object from tls_client.c).  Once the handshake is done the state keeps
 * what the host and other modules ask for: as server, the verified client
 * certificate (DER), its subject (RFC 2253) and CN; as client, the
 * server's certificate (DER), for peer_cert and channel binding.  The state is OpenSSL memory, not host memory, and
 * nothing here reaches the module instance after conn_new() (see
 * tls_int.h): an old connection outlives a reload safely.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <pgsluice/module.h>

#include "tls_int.h"

#define TLS_MAX_SUBJECT 1024 /* RFC 2253 subject of a client certificate */
#define TLS_MAX_CN      256

enum tls_conn_state {
	TLS_HANDSHAKING = 0,
	TLS_OPEN,
	TLS_FAILED, /* a fatal error: no more I/O */
};

struct tls_conn {
	SSL *ssl; /* holds a reference on its SSL_CTX */
	enum tls_conn_state state;
	bool client_role;  /* pgsluice -> PostgreSQL */
	uint8_t *peer_der; /* verified client certificate or the server's; OPENSSL_malloc */
	size_t peer_der_len;
	char *peer_subject; /* NULL without a verified client certificate */
	char *peer_cn;
	char detail[TLS_DETAIL_LEN];
};

/* detail = "<what>: [<client|server> certificate: <verify error>: ]<OpenSSL reasons>". */
static void set_detail(struct tls_conn *tc, const char *what)
{
	long verify = SSL_get_verify_result(tc->ssl);
	size_t used;

	/* without verification the result is not a reason for anything */
	if (verify != X509_V_OK && (SSL_get_verify_mode(tc->ssl) & SSL_VERIFY_PEER) != 0)
		snprintf(tc->detail, sizeof tc->detail, "%s: %s certificate: %s: ", what,
		         tc->client_role ? "server" : "client",
		         X509_verify_cert_error_string(verify));
	else
		snprintf(tc->detail, sizeof tc->detail, "%s: ", what);
	used = strlen(tc->detail);
	tls_err_drain(tc->detail + used, sizeof tc->detail - used);
}

/* Map an SSL_*_ex() failure to enum pgs_io; `what` names the call. */
static enum pgs_io io_error(struct tls_conn *tc, int ret, const char *what)
{
	int saved = errno;
	enum pgs_io io;

	switch (SSL_get_error(tc->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		return PGS_IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return PGS_IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		return PGS_IO_CLOSED;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			if (saved == 0) /* EOF without close_notify */
				snprintf(tc->detail, sizeof tc->detail,
				         "%s: the peer closed the connection", what);
			else
				snprintf(tc->detail, sizeof tc->detail, "%s: %s", what,
				         strerror(saved));
			io = saved == 0 && tc->state == TLS_OPEN ? PGS_IO_CLOSED : PGS_IO_ERROR;
			tc->state = TLS_FAILED;
			return io;
		}
		break;
	default:
		break;
	}
	/* OpenSSL 3 reports an EOF without close_notify as an SSL error. */
	if (ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		bool open = tc->state == TLS_OPEN;

		ERR_clear_error();
		snprintf(tc->detail, sizeof tc->detail, "%s: the peer closed the connection%s",
		         what, open ? "" : " during the handshake");
		tc->state = TLS_FAILED;
		return open ? PGS_IO_CLOSED : PGS_IO_ERROR;
	}
	set_detail(tc, what);
	tc->state = TLS_FAILED;
	return PGS_IO_ERROR;
}

int tls_conn_new(void *mod, pgs_conn *conn, int fd, void **state)
{
	struct tls_module *m = mod;
	struct tls_conn *tc;
	int rc;

	tc = OPENSSL_zalloc(sizeof *tc);
	if (tc == NULL)
		return -ENOMEM;
	if (m->host->conn_side(conn) == PGS_SIDE_SERVER) {
		tc->client_role = true;
		rc = tls_client_ssl_new(m, conn, &tc->ssl); /* logs why on failure */
		if (rc < 0) {
			OPENSSL_free(tc);
			return rc;
		}
	}
	ERR_clear_error();
	if (tc->ssl == NULL)
		tc->ssl = SSL_new(m->ctx);
	if (tc->ssl == NULL || SSL_set_fd(tc->ssl, fd) != 1) {
		char err[TLS_DETAIL_LEN];

		m->host->log(PGS_LOG_ERROR, conn, "tls-openssl: cannot set up the connection: %s",
		             tls_err_drain(err, sizeof err));
		SSL_free(tc->ssl);
		OPENSSL_free(tc);
		return -ENOMEM;
	}
	if (!tc->client_role)
		SSL_set_accept_state(tc->ssl);
	*state = tc;
	return 0;
}

/* Client role: keep the server's certificate DER (verified or not, as sslmode said). */
static int keep_server_cert(struct tls_conn *tc)
{
	X509 *cert = SSL_get0_peer_certificate(tc->ssl);
	unsigned char *p;
	int len;

	if (cert == NULL)
		return 0; /* an anonymous suite: not in our cipher list */
	len = i2d_X509(cert, NULL);
	if (len <= 0 || (tc->peer_der = OPENSSL_malloc((size_t)len)) == NULL) {
		snprintf(tc->detail, sizeof tc->detail, "cannot keep the server certificate");
		ERR_clear_error();
		return -ENOMEM;
	}
	p = tc->peer_der;
	tc->peer_der_len = (size_t)i2d_X509(cert, &p);
	return 0;
}

/* After the handshake: keep the verified client certificate's DER, subject, CN. */
static int keep_peer(struct tls_conn *tc)
{
	X509 *cert = SSL_get0_peer_certificate(tc->ssl);
	const X509_NAME *name;
	const ASN1_STRING *data;
	unsigned char *utf8 = NULL, *p;
	BIO *bio = NULL;
	char *text;
	long text_len;
	int len, idx;

	if (cert == NULL || SSL_get_verify_result(tc->ssl) != X509_V_OK)
		return 0; /* none, or not verified (client_cert = none) */
	len = i2d_X509(cert, NULL);
	if (len <= 0 || (tc->peer_der = OPENSSL_malloc((size_t)len)) == NULL)
		goto nomem;
	p = tc->peer_der;
	tc->peer_der_len = (size_t)i2d_X509(cert, &p);

	name = X509_get_subject_name(cert);
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0)
		goto nomem;
	text_len = BIO_get_mem_data(bio, &text);
	if (text_len < 0 || text_len > TLS_MAX_SUBJECT) {
		snprintf(tc->detail, sizeof tc->detail,
		         "client certificate subject longer than %d bytes", TLS_MAX_SUBJECT);
		goto fail;
	}
	tc->peer_subject = OPENSSL_strndup(text, (size_t)text_len);
	if (tc->peer_subject == NULL)
		goto nomem;
	BIO_free(bio);
	bio = NULL;

	idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (idx < 0)
		return 0; /* no CN: peer_cn stays NULL */
	data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
	len = ASN1_STRING_to_UTF8(&utf8, data);
	if (len < 0)
		goto nomem;
	if (len > TLS_MAX_CN || memchr(utf8, '\0', (size_t)len) != NULL) {
		/* PostgreSQL refuses a CN with an embedded NUL too. */
		snprintf(tc->detail, sizeof tc->detail,
		         "client certificate common name is longer than %d bytes or contains a "
		         "NUL byte",
		         TLS_MAX_CN);
		OPENSSL_free(utf8);
		goto fail;
	}
	tc->peer_cn = OPENSSL_strndup((const char *)utf8, (size_t)len);
	OPENSSL_free(utf8);
	return tc->peer_cn != NULL ? 0 : -ENOMEM;
nomem:
	snprintf(tc->detail, sizeof tc->detail, "cannot keep the client certificate");
fail:
	BIO_free(bio);
	ERR_clear_error();
	return -EINVAL;
}

enum pgs_io tls_conn_handshake(void *mod, void *state, const char **logdetail)
{
	struct tls_conn *tc = state;
	enum pgs_io io;
	int ret;

	(void)mod;
	*logdetail = tc->detail;
	if (tc->state == TLS_OPEN)
		return PGS_IO_OK;
	if (tc->state == TLS_FAILED)
		return PGS_IO_ERROR;
	ERR_clear_error();
	errno = 0;
	ret = SSL_do_handshake(tc->ssl);
	if (ret == 1) {
		if ((tc->client_role ? keep_server_cert(tc) : keep_peer(tc)) < 0) {
			tc->state = TLS_FAILED;
			return PGS_IO_ERROR;
		}
		tc->state = TLS_OPEN;
		return PGS_IO_OK;
	}
	io = io_error(tc, ret, "TLS handshake");
	if (io == PGS_IO_CLOSED) { /* a close during the handshake is a failure */
		tc->state = TLS_FAILED;
		io = PGS_IO_ERROR;
	}
	return io;
}

enum pgs_io tls_conn_read(void *mod, void *state, void *buf, size_t len, size_t *done)
{
	struct tls_conn *tc = state;
	int ret;

	(void)mod;
	*done = 0;
	if (tc->state != TLS_OPEN)
		return PGS_IO_ERROR;
	if (len == 0)
		return PGS_IO_OK;
	ERR_clear_error();
	errno = 0;
	ret = SSL_read_ex(tc->ssl, buf, len, done);
	if (ret == 1)
		return PGS_IO_OK;
	*done = 0;
	return io_error(tc, ret, "TLS read");
}

enum pgs_io tls_conn_write(void *mod, void *state, const void *buf, size_t len, size_t *done)
{
	struct tls_conn *tc = state;
	int ret;

	(void)mod;
	*done = 0;
	if (tc->state != TLS_OPEN)
		return PGS_IO_ERROR;
	if (len == 0)
		return PGS_IO_OK;
	ERR_clear_error();
	errno = 0;
	ret = SSL_write_ex(tc->ssl, buf, len, done); /* partial writes are on */
	if (ret == 1)
		return PGS_IO_OK;
	*done = 0;
	return io_error(tc, ret, "TLS write");
}

/* One close_notify; never waits for the peer's. */
enum pgs_io tls_conn_shutdown(void *mod, void *state)
{
	struct tls_conn *tc = state;
	int ret;

	(void)mod;
	if (tc->state != TLS_OPEN)
		return PGS_IO_OK; /* nothing to say after a failure or mid-handshake */
	ERR_clear_error();
	errno = 0;
	ret = SSL_shutdown(tc->ssl);
	if (ret >= 0)
		return PGS_IO_OK;
	return io_error(tc, ret, "TLS shutdown");
}

void tls_conn_free(void *mod, void *state)
{
	struct tls_conn *tc = state;

	(void)mod; /* may be finished already after a reload */
	if (tc == NULL)
		return;
	SSL_free(tc->ssl); /* drops its SSL_CTX reference; the fd stays open */
	OPENSSL_free(tc->peer_der);
	OPENSSL_free(tc->peer_subject);
	OPENSSL_free(tc->peer_cn);
	ERR_clear_error();
	OPENSSL_clear_free(tc, sizeof *tc);
}

const char *tls_conn_fact(void *mod, void *state, const char *name)
{
	struct tls_conn *tc = state;
	const unsigned char *alpn = NULL;
	unsigned int alpn_len = 0;

	(void)mod;
	if (tc->state != TLS_OPEN || name == NULL)
		return NULL;
	if (strcmp(name, "protocol") == 0)
		return SSL_get_version(tc->ssl);
	if (strcmp(name, "cipher") == 0)
		return SSL_get_cipher_name(tc->ssl);
	if (strcmp(name, "peer_subject") == 0)
		return tc->peer_subject;
	if (strcmp(name, "peer_cn") == 0)
		return tc->peer_cn;
	if (strcmp(name, "alpn") == 0) {
		/* only ever "postgresql" (alpn_select), so a static string will do */
		SSL_get0_alpn_selected(tc->ssl, &alpn, &alpn_len);
		return alpn_len > 0 ? "postgresql" : NULL;
	}
	return NULL;
}

int tls_conn_peer_cert(void *mod, void *state, const uint8_t **der, size_t *len)
{
	struct tls_conn *tc = state;

	(void)mod;
	if (tc->state != TLS_OPEN || tc->peer_der == NULL)
		return -ENOENT;
	*der = tc->peer_der;
	*len = tc->peer_der_len;
	return 0;
}

/*
 * tls-server-end-point (RFC 5929 section 4.1): the hash of the TLS server's
 * certificate DER (ours towards a client, PostgreSQL's on a server
 * connection) with the hash of its signature algorithm, SHA-256 for MD5
 * and SHA-1 (as PostgreSQL's be_tls_get_certificate_hash and libpq's
 * pgtls_get_peer_certificate_hash).  *len: room in, length out.
 */
int tls_conn_cb_hash(void *mod, void *state, uint8_t *out, size_t *len)
{
	struct tls_conn *tc = state;
	X509 *cert;
	const EVP_MD *md;
	unsigned char hash[EVP_MAX_MD_SIZE];
	unsigned int hash_len = 0;
	int md_nid, pk_nid;

	(void)mod;
	if (tc->state != TLS_OPEN)
		return -ENOENT;
	cert = tc->client_role ? SSL_get0_peer_certificate(tc->ssl) : SSL_get_certificate(tc->ssl);
	if (cert == NULL)
		return -ENOENT;
	if (!OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md_nid, &pk_nid))
		return -ENOTSUP;
	if (md_nid == NID_md5 || md_nid == NID_sha1)
		md_nid = NID_sha256;
	md = EVP_get_digestbynid(md_nid);
	if (md == NULL) /* e.g. Ed25519 signatures: no hash defined */
		return -ENOTSUP;
	if (X509_digest(cert, md, hash, &hash_len) != 1) {
		ERR_clear_error();
		return -EINVAL;
	}
	if (hash_len > *len)
		return -ENOSPC;
	memcpy(out, hash, hash_len);
	*len = hash_len;
	return 0;
}

size_t tls_conn_pending(void *mod, void *state)
{
	struct tls_conn *tc = state;
	int n;

	(void)mod;
	if (tc->state != TLS_OPEN)
		return 0;
	n = SSL_pending(tc->ssl);
	return n > 0 ? (size_t)n : 0;
}
