/*
 * check_tls.c — the tls-openssl transport module, loaded with dlopen and
 * driven as the TLS server over a socketpair against an OpenSSL client
 * written here (both sides non-blocking): handshakes, 100 KiB both ways
 * with partial writes, facts, channel binding data, pending bytes, ALPN,
 * protocol floor, client certificates (good, missing, revoked, expired,
 * other CA), init refusals, garbage and vanishing peers, conn_free in
 * every state and after the instance is gone.  Certificates are made at
 * start by tests/lib/certs.sh plus a few openssl commands.
 */
#include "autoconf.h"

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "pgsluice/module.h"

#define MODULE_PATH BUILD_MODULEDIR "/tls-openssl.so"
#define BIG         (100 * 1024)

static char dir[PATH_MAX]; /* tmp dir; certificates in dir/certs */
static char logbuf[16384]; /* everything the module logged */
static enum pgs_side side = PGS_SIDE_CLIENT;
static const char *cfg_kv[32]; /* key, value, ..., NULL */

/* ------------------------------------------------------------ fake host */

struct pgs_cfg {
	int unused;
};
struct pgs_conn {
	int unused;
};

static void h_log(enum pgs_log level, const pgs_conn *conn, const char *fmt, ...)
{
	size_t used = strlen(logbuf);
	va_list ap;

	(void)level, (void)conn;
	va_start(ap, fmt);
	vsnprintf(logbuf + used, sizeof logbuf - used, fmt, ap);
	va_end(ap);
	used = strlen(logbuf);
	snprintf(logbuf + used, sizeof logbuf - used, "\n");
}

static int h_cfg_str(const pgs_cfg *cfg, const char *key, const char **out)
{
	int rc = -ENOENT;

	(void)cfg;
	for (int i = 0; cfg_kv[i] != NULL; i += 2) {
		if (strcmp(cfg_kv[i], key) == 0) {
			*out = cfg_kv[i + 1];
			rc = 0;
		}
	}
	return rc;
}

static int h_cfg_path(const pgs_cfg *cfg, const char *key, char *out, size_t size)
{
	const char *v;

	if (h_cfg_str(cfg, key, &v) < 0)
		return -ENOENT;
	if (*v == '\0')
		return -EINVAL;
	return snprintf(out, size, "%s", v) < (int)size ? 0 : -ENAMETOOLONG;
}

static const char *h_cfg_where(const pgs_cfg *cfg, const char *key)
{
	(void)cfg, (void)key;
	return "test.conf:1";
}

static enum pgs_side h_conn_side(const pgs_conn *conn)
{
	(void)conn;
	return side;
}

/* No connection parameters (the client role is tested in check_tls_client.c). */
static const char *h_conn_param(const pgs_conn *conn, const char *name)
{
	(void)conn, (void)name;
	return NULL;
}

static const pgs_host host = {
        .size = sizeof(pgs_host),
        .abi_major = PGS_ABI_MAJOR,
        .abi_minor = PGS_ABI_MINOR,
        .host_version = "check_tls",
        .log = h_log,
        .alloc = malloc,
        .free = free,
        .cfg_str = h_cfg_str,
        .cfg_where = h_cfg_where,
        .conn_side = h_conn_side,
        .conn_param = h_conn_param,
        .cfg_path = h_cfg_path,
};

static struct pgs_cfg the_cfg;
static struct pgs_conn the_conn;

/* ------------------------------------------------------------ helpers */

static void *dl;
static const pgs_module *desc;
static const pgs_transport_ops *ops;

static void load(void)
{
	const pgs_module *(*entry)(void);

	dl = dlopen(MODULE_PATH, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(dl != NULL, "%s", dlerror());
	*(void **)&entry = dlsym(dl, PGS_ENTRY_SYMBOL);
	ck_assert_ptr_nonnull(entry);
	desc = entry();
	ck_assert_str_eq(desc->name, "tls-openssl");
	ops = desc->transport;
	ck_assert_ptr_nonnull(ops);
	ck_assert_str_eq(ops->kind, "ssl");
	ck_assert_uint_eq(ops->size, sizeof(pgs_transport_ops));
	ck_assert_ptr_nonnull(ops->pending);
	logbuf[0] = '\0';
	side = PGS_SIDE_CLIENT;
}

static void unload(void)
{
	dlclose(dl);
}

static const char *cert_path(const char *name)
{
	static char paths[8][PATH_MAX + 32];
	static int next;
	char *p = paths[next++ % 8];

	snprintf(p, PATH_MAX + 32, "%s/certs/%s", dir, name);
	return p;
}

/* cfg_kv = cert, key, then the given pairs. */
static void set_cfg(const char *const *pairs)
{
	int n = 0;

	cfg_kv[n++] = "cert";
	cfg_kv[n++] = cert_path("server.crt");
	cfg_kv[n++] = "key";
	cfg_kv[n++] = cert_path("server.key");
	for (; pairs != NULL && *pairs != NULL && n < 30; pairs++)
		cfg_kv[n++] = *pairs;
	cfg_kv[n] = NULL;
}

/* init with the current cfg_kv must succeed. */
static void *init_cur(void)
{
	void *mod = NULL;

	ck_assert_msg(desc->init(&host, &the_cfg, &mod) == 0, "init: %s", logbuf);
	ck_assert_ptr_nonnull(mod);
	return mod;
}

static void *init_ok(const char *const *pairs)
{
	set_cfg(pairs);
	return init_cur();
}

/* init must fail and log `want` (a substring). */
static void init_refused(const char *want)
{
	void *mod = NULL;

	logbuf[0] = '\0';
	ck_assert_int_lt(desc->init(&host, &the_cfg, &mod), 0);
	ck_assert_msg(strstr(logbuf, want) != NULL, "want \"%s\" in log: %s", want, logbuf);
}

/* One test connection: the module's state on one end, a client SSL on the other. */
struct pair {
	int sfd, cfd;
	void *mod, *st;
	SSL_CTX *cctx;
	SSL *c;
	enum pgs_io server_io;
	int client_ok;
	const char *detail;
};

struct client_opts {
	const char *cert, *key; /* names under certs/ */
	int max_version;
	const char *alpn; /* wire format */
	unsigned int alpn_len;
};

#define CLIENT(name)                                    \
	{                                               \
		.cert = name ".crt", .key = name ".key" \
	}

static void pair_open(struct pair *p, void *mod, const struct client_opts *o)
{
	int sv[2], small = 32768;

	memset(p, 0, sizeof *p);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(fcntl(sv[i], F_SETFL, O_NONBLOCK), 0);
		setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
	}
	p->sfd = sv[0];
	p->cfd = sv[1];
	p->mod = mod;
	ck_assert_int_eq(ops->conn_new(mod, &the_conn, p->sfd, &p->st), 0);
	p->cctx = SSL_CTX_new(TLS_client_method());
	ck_assert_ptr_nonnull(p->cctx);
	ck_assert_int_eq(SSL_CTX_load_verify_locations(p->cctx, cert_path("ca.crt"), NULL), 1);
	SSL_CTX_set_verify(p->cctx, SSL_VERIFY_PEER, NULL);
	if (o != NULL && o->max_version != 0)
		SSL_CTX_set_max_proto_version(p->cctx, o->max_version);
	if (o != NULL && o->cert != NULL)
		ck_assert(SSL_CTX_use_certificate_file(p->cctx, cert_path(o->cert), 1) == 1 &&
		          SSL_CTX_use_PrivateKey_file(p->cctx, cert_path(o->key), 1) == 1);
	p->c = SSL_new(p->cctx);
	ck_assert_ptr_nonnull(p->c);
	SSL_set_fd(p->c, p->cfd);
	SSL_set1_host(p->c, "localhost");
	if (o != NULL && o->alpn != NULL)
		ck_assert_int_eq(
		        SSL_set_alpn_protos(p->c, (const unsigned char *)o->alpn, o->alpn_len), 0);
	SSL_set_connect_state(p->c);
}

/* Alternate both handshakes until both are done or one side failed. */
static void pair_handshake(struct pair *p)
{
	bool cdone = false, sdone = false;
	int r, e;

	for (int i = 0; i < 200 && !(cdone && sdone); i++) {
		if (!cdone && ((r = SSL_do_handshake(p->c)) == 1 ||
		               ((e = SSL_get_error(p->c, r)) != SSL_ERROR_WANT_READ &&
		                e != SSL_ERROR_WANT_WRITE))) {
			cdone = true;
			p->client_ok = r == 1;
		}
		if (!sdone) {
			p->server_io = ops->handshake(p->mod, p->st, &p->detail);
			sdone = p->server_io != PGS_IO_WANT_READ &&
			        p->server_io != PGS_IO_WANT_WRITE;
		}
	}
	ck_assert_ptr_nonnull(p->detail);
	ERR_clear_error();
}

/* Free both ends (not the module instance). */
static void pair_close(struct pair *p)
{
	SSL_free(p->c);
	SSL_CTX_free(p->cctx);
	if (p->st != NULL)
		ops->conn_free(p->mod, p->st);
	close(p->sfd);
	close(p->cfd);
}

static void handshake_ok(struct pair *p, void *mod, const struct client_opts *o)
{
	pair_open(p, mod, o);
	pair_handshake(p);
	ck_assert_msg(p->server_io == PGS_IO_OK, "server io %d: %s", p->server_io, p->detail);
	ck_assert_int_eq(p->client_ok, 1);
}

static void handshake_refused(void *mod, const struct client_opts *o, const char *want)
{
	struct pair p;

	pair_open(&p, mod, o);
	pair_handshake(&p);
	ck_assert_msg(p.server_io == PGS_IO_ERROR, "server io %d", p.server_io);
	ck_assert_msg(strstr(p.detail, want) != NULL, "want \"%s\" in \"%s\"", want, p.detail);
	ck_assert_ptr_null(ops->fact(mod, p.st, "protocol"));
	pair_close(&p);
}

/* DER of a PEM certificate file (OPENSSL_malloc'ed). */
static int file_der(const char *name, unsigned char **der)
{
	FILE *f = fopen(cert_path(name), "r");
	X509 *x;
	int len;

	ck_assert_ptr_nonnull(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(x);
	*der = NULL;
	len = i2d_X509(x, der);
	X509_free(x);
	ck_assert_int_gt(len, 0);
	return len;
}

/* cb_hash() must be the `md` hash of file's DER. */
static void assert_cb(void *mod, void *st, const char *file, const EVP_MD *md)
{
	unsigned char *der, want[EVP_MAX_MD_SIZE], cb[EVP_MAX_MD_SIZE];
	size_t cb_len = sizeof cb;
	unsigned int want_len;
	int der_len = file_der(file, &der);

	ck_assert_int_eq(EVP_Digest(der, (size_t)der_len, want, &want_len, md, NULL), 1);
	OPENSSL_free(der);
	ck_assert_int_eq(ops->cb_hash(mod, st, cb, &cb_len), 0);
	ck_assert_uint_eq(cb_len, want_len);
	ck_assert_mem_eq(cb, want, want_len);
	cb_len = want_len - 1;
	ck_assert_int_eq(ops->cb_hash(mod, st, cb, &cb_len), -ENOSPC);
}

/* ------------------------------------------------------------ tests */

START_TEST(test_handshake_facts_cb)
{
	void *mod = init_ok(NULL);
	struct client_opts good = CLIENT("client-certuser");
	const uint8_t *peer;
	size_t peer_len;
	struct pair p;

	handshake_ok(&p, mod, &good); /* client_cert = none: not asked for */
	ck_assert_str_eq(ops->fact(mod, p.st, "protocol"), "TLSv1.3");
	ck_assert_str_eq(ops->fact(mod, p.st, "protocol"), SSL_get_version(p.c));
	ck_assert_str_eq(ops->fact(mod, p.st, "cipher"), SSL_get_cipher_name(p.c));
	ck_assert_ptr_null(ops->fact(mod, p.st, "peer_subject"));
	ck_assert_ptr_null(ops->fact(mod, p.st, "peer_cn"));
	ck_assert_ptr_null(ops->fact(mod, p.st, "alpn"));
	ck_assert_ptr_null(ops->fact(mod, p.st, "nonsense"));
	ck_assert_int_eq(ops->peer_cert(mod, p.st, &peer, &peer_len), -ENOENT);
	/* tls-server-end-point: SHA-256 (the signature's hash) of our DER */
	assert_cb(mod, p.st, "server.crt", EVP_sha256());
	/* a handshake() after success is a no-op */
	ck_assert_int_eq(ops->handshake(mod, p.st, &p.detail), PGS_IO_OK);
	pair_close(&p);

	/* TLS 1.2 too (the cipher fact follows) */
	{
		struct client_opts o = {.max_version = TLS1_2_VERSION};

		handshake_ok(&p, mod, &o);
		ck_assert_str_eq(ops->fact(mod, p.st, "protocol"), "TLSv1.2");
		ck_assert_str_eq(ops->fact(mod, p.st, "cipher"), SSL_get_cipher_name(p.c));
		pair_close(&p);
	}
	desc->fini(mod);

	/* a certificate signed with SHA-384: the end-point hash is SHA-384 */
	set_cfg(NULL);
	cfg_kv[1] = cert_path("srv384.crt");
	cfg_kv[3] = cert_path("srv384.key");
	mod = init_cur();
	handshake_ok(&p, mod, NULL);
	assert_cb(mod, p.st, "srv384.crt", EVP_sha384());
	pair_close(&p);
	desc->fini(mod);
}
END_TEST

/* Move BIG bytes each way through the module; partial writes must occur. */
START_TEST(test_round_trip)
{
	void *mod = init_ok(NULL);
	unsigned char *out = malloc(BIG), *in = malloc(BIG);
	size_t sent = 0, got = 0, done;
	int partial = 0, want_write = 0;
	bool blocked = false;
	struct pair p;

	ck_assert_int_eq(RAND_bytes(out, BIG), 1);
	handshake_ok(&p, mod, NULL);
	/* server -> client */
	for (int i = 0; i < 100000 && got < BIG; i++) {
		if (sent < BIG) {
			enum pgs_io io = ops->write(mod, p.st, out + sent, BIG - sent, &done);

			ck_assert_msg(io == PGS_IO_OK || io == PGS_IO_WANT_WRITE, "io %d", io);
			if (io == PGS_IO_OK && done < BIG - sent)
				partial++;
			if (io == PGS_IO_WANT_WRITE) {
				want_write++;
				ck_assert_uint_eq(done, 0);
			}
			blocked = io == PGS_IO_WANT_WRITE;
			sent += done;
		}
		/* drain only once the server is blocked: both outcomes happen */
		if ((blocked || sent == BIG) && SSL_read_ex(p.c, in + got, BIG - got, &done) == 1)
			got += done;
	}
	ck_assert_uint_eq(got, BIG);
	ck_assert_mem_eq(in, out, BIG);
	fprintf(stderr, "check_tls: server->client 100 KiB: %d partial writes, %d WANT_WRITE\n",
	        partial, want_write);
	ck_assert_int_gt(partial, 0);
	ck_assert_int_gt(want_write, 0);

	/* client -> server */
	ck_assert_int_eq(RAND_bytes(out, BIG), 1);
	sent = got = 0;
	for (int i = 0; i < 100000 && got < BIG; i++) {
		enum pgs_io io;

		if (sent < BIG && SSL_write_ex(p.c, out + sent, BIG - sent, &done) == 1)
			sent += done;
		io = ops->read(mod, p.st, in + got, BIG - got, &done);
		ck_assert_msg(io == PGS_IO_OK || io == PGS_IO_WANT_READ, "io %d", io);
		got += done;
	}
	ck_assert_uint_eq(got, BIG);
	ck_assert_mem_eq(in, out, BIG);
	ck_assert_int_eq(ops->read(mod, p.st, in, BIG, &done), PGS_IO_WANT_READ);

	/* orderly close both ways */
	ck_assert_int_eq(ops->shutdown(mod, p.st), PGS_IO_OK);
	ck_assert_int_eq(SSL_read_ex(p.c, in, 1, &done), 0);
	ck_assert_int_eq(SSL_get_error(p.c, 0), SSL_ERROR_ZERO_RETURN);
	ck_assert_int_ge(SSL_shutdown(p.c), 0);
	ck_assert_int_eq(ops->read(mod, p.st, in, BIG, &done), PGS_IO_CLOSED);
	pair_close(&p);
	desc->fini(mod);
	free(out);
	free(in);
}
END_TEST

/* After a large record, read() leaves bytes in the module: pending() says so. */
START_TEST(test_pending)
{
	void *mod = init_ok(NULL);
	unsigned char buf[20000], in[20000];
	size_t done, got;
	struct pair p;

	memset(buf, 'x', sizeof buf);
	handshake_ok(&p, mod, NULL);
	setsockopt(p.cfd, SOL_SOCKET, SO_SNDBUF, &(int){1 << 20}, sizeof(int));
	ck_assert_uint_eq(ops->pending(mod, p.st), 0);
	ck_assert_int_eq(SSL_write_ex(p.c, buf, sizeof buf, &done), 1);
	ck_assert_uint_eq(done, sizeof buf);
	for (int i = 0; i < 100; i++)
		if (ops->read(mod, p.st, in, 100, &done) == PGS_IO_OK)
			break;
	ck_assert_uint_eq(done, 100);
	ck_assert_uint_eq(ops->pending(mod, p.st), 16384 - 100); /* rest of the record */
	got = 100;
	while (ops->pending(mod, p.st) > 0) {
		ck_assert_int_eq(ops->read(mod, p.st, in + got, sizeof in - got, &done), PGS_IO_OK);
		got += done;
	}
	ck_assert_uint_eq(got, 16384);
	pair_close(&p);
	desc->fini(mod);
}
END_TEST

START_TEST(test_alpn)
{
	static const char pg[] = "\x08http/1.1\x0apostgresql", http[] = "\x08http/1.1";
	void *mod = init_ok(NULL);
	struct client_opts o = {.alpn = pg, .alpn_len = sizeof pg - 1};
	const unsigned char *sel;
	unsigned int sel_len;
	struct pair p;

	handshake_ok(&p, mod, &o);
	SSL_get0_alpn_selected(p.c, &sel, &sel_len);
	ck_assert_uint_eq(sel_len, 10);
	ck_assert_mem_eq(sel, "postgresql", 10);
	ck_assert_str_eq(ops->fact(mod, p.st, "alpn"), "postgresql");
	pair_close(&p);

	o.alpn = http;
	o.alpn_len = sizeof http - 1;
	handshake_refused(mod, &o, "no application protocol");
	desc->fini(mod);
}
END_TEST

START_TEST(test_min_protocol)
{
	static const char *const v13[] = {"min_protocol", "TLSv1.3", NULL};
	static const char *const v12[] = {"max_protocol", "TLSv1.2", NULL};
	struct client_opts o = {.max_version = TLS1_2_VERSION};
	void *mod = init_ok(v13);
	struct pair p;

	handshake_refused(mod, &o, "unsupported protocol");
	handshake_ok(&p, mod, NULL);
	ck_assert_str_eq(ops->fact(mod, p.st, "protocol"), "TLSv1.3");
	pair_close(&p);
	desc->fini(mod);

	mod = init_ok(v12);
	handshake_ok(&p, mod, NULL);
	ck_assert_str_eq(ops->fact(mod, p.st, "protocol"), "TLSv1.2");
	pair_close(&p);
	desc->fini(mod);
}
END_TEST

static void *init_verify(const char *mode, bool crl)
{
	return init_ok((const char *[]){"client_cert", mode, "ca", cert_path("ca.crt"),
	                                crl ? "crl" : NULL, cert_path("ca.crl"), NULL});
}

START_TEST(test_client_cert)
{
	struct client_opts good = CLIENT("client-certuser"), revoked = CLIENT("revoked");
	struct client_opts expired = CLIENT("expired"), other = CLIENT("other");
	unsigned char *der;
	const uint8_t *peer;
	size_t peer_len;
	struct pair p;
	int der_len;
	void *mod;

	for (int crl = 0; crl < 2; crl++) {
		mod = init_verify(_i == 0 ? "verify-ca" : "verify-full", crl);
		handshake_refused(mod, NULL, "peer did not return a certificate");
		handshake_ok(&p, mod, &good);
		der_len = file_der("client-certuser.crt", &der);
		ck_assert_int_eq(ops->peer_cert(mod, p.st, &peer, &peer_len), 0);
		ck_assert_uint_eq(peer_len, (size_t)der_len);
		ck_assert_mem_eq(peer, der, peer_len);
		OPENSSL_free(der);
		ck_assert_str_eq(ops->fact(mod, p.st, "peer_subject"), "CN=certuser");
		ck_assert_str_eq(ops->fact(mod, p.st, "peer_cn"), "certuser");
		pair_close(&p);
		if (crl) {
			handshake_refused(mod, &revoked, "certificate revoked");
		} else {
			handshake_ok(&p, mod, &revoked); /* no CRL: fine */
			ck_assert_str_eq(ops->fact(mod, p.st, "peer_cn"), "revoked");
			pair_close(&p);
		}
		handshake_refused(mod, &expired, "certificate has expired");
		handshake_refused(mod, &other, "unable to get local issuer certificate");
		desc->fini(mod);
	}
}
END_TEST

START_TEST(test_client_cert_optional)
{
	struct client_opts good = CLIENT("client-certuser"), other = CLIENT("other");
	void *mod = init_verify("optional", false);
	const uint8_t *peer;
	size_t peer_len;
	struct pair p;

	handshake_ok(&p, mod, NULL);
	ck_assert_int_eq(ops->peer_cert(mod, p.st, &peer, &peer_len), -ENOENT);
	ck_assert_ptr_null(ops->fact(mod, p.st, "peer_subject"));
	ck_assert_ptr_null(ops->fact(mod, p.st, "peer_cn"));
	pair_close(&p);
	handshake_ok(&p, mod, &good);
	ck_assert_str_eq(ops->fact(mod, p.st, "peer_cn"), "certuser");
	pair_close(&p);
	handshake_refused(mod, &other, "unable to get local issuer certificate");
	desc->fini(mod);
}
END_TEST

/* init refusals: settings appended after cert/key (the last one wins);
 * "@name" is certs/name.  Each logs "test.conf:1: tls-openssl: " + want
 * and also want2. */
static const struct {
	const char *kv[6];
	const char *want, *want2;
} refusals[] = {
        {{"key", "@open.key"}, "private key file", "group or world access (mode 0644)"},
        {{"key", "@client-certuser.key"}, "cannot use private key", "key values mismatch"},
        {{"cert", "@none.crt"}, "cannot load certificate file", "none.crt"},
        {{"key", "@none.key"}, "cannot open private key file", "none.key\": No such file"},
        {{"key", ""}, "key must be a file path", ""},
        {{"key", "@enc.key"}, "cannot load private key file", "unencrypted PEM expected"},
        {{"min_protocol", "TLSv1.1"}, "min_protocol \"TLSv1.1\" is not supported", ""},
        {{"min_protocol", "SSLv3"}, "min_protocol \"SSLv3\" is not supported", ""},
        {{"max_protocol", "TLSv1"}, "max_protocol \"TLSv1\" is not supported", ""},
        {{"min_protocol", "TLSv1.3", "max_protocol", "TLSv1.2"}, "max_protocol is lower", ""},
        {{"client_cert", "verify-ca"}, "client_cert needs a ca file", ""},
        {{"client_cert", "maybe"}, "client_cert \"maybe\" is not one of", ""},
        {{"ecdh_curve", "nosuchcurve"}, "unknown ecdh_curve", ""},
        {{"ciphers", "NOSUCHCIPHER"}, "no usable cipher", ""},
        {{"client_cert", "optional", "ca", "@ca.crt", "crl", "@no.crl"},
         "cannot load CRL",
         "no.crl"},
        {{"ca", "@none.crt"}, "cannot load CA file", "none.crt"},
        {{"key", "@"}, "private key file", "is not a regular file"},
        {{"key", "@fifo.key"}, "private key file", "is not a regular file"}, /* no hang */
};

START_TEST(test_init_refusals)
{
	const char *kv[7] = {NULL};
	char want[256];

	for (int i = 0; i < 6 && refusals[_i].kv[i] != NULL; i++)
		kv[i] = refusals[_i].kv[i][0] == '@' ? cert_path(refusals[_i].kv[i] + 1)
		                                     : refusals[_i].kv[i];
	set_cfg(kv);
	snprintf(want, sizeof want, "test.conf:1: tls-openssl: %s", refusals[_i].want);
	init_refused(want);
	ck_assert_msg(strstr(logbuf, refusals[_i].want2) != NULL, "%s", logbuf);
	ck_assert_ptr_null(strstr(logbuf, "PRIVATE KEY")); /* never key material */
}
END_TEST

START_TEST(test_init_misc)
{
	void *mod, *st = NULL;

	set_cfg(NULL);
	cfg_kv[2] = NULL; /* no key at all */
	init_refused("test.conf:1: tls-openssl: setting \"key\" is required");
	/* a 0600 copy of the key is fine */
	ck_assert_int_eq(chmod(cert_path("open.key"), 0600), 0);
	set_cfg((const char *[]){"key", cert_path("open.key"), NULL});
	desc->fini(init_cur());
	ck_assert_int_eq(chmod(cert_path("open.key"), 0644), 0);
	/* a server-side connection: the client role, sslmode unset = prefer */
	mod = init_ok(NULL);
	side = PGS_SIDE_SERVER;
	ck_assert_msg(ops->conn_new(mod, &the_conn, -1, &st) == 0, "%s", logbuf);
	ops->conn_free(mod, st);
	desc->fini(mod);
}
END_TEST

START_TEST(test_bad_peers)
{
	static const char garbage[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	void *mod = init_ok(NULL);
	const char *detail;
	unsigned char buf[64];
	struct pair p;
	size_t done;

	/* garbage instead of a ClientHello */
	pair_open(&p, mod, NULL);
	ck_assert_int_eq(write(p.cfd, garbage, sizeof garbage - 1), (ssize_t)sizeof garbage - 1);
	ck_assert_int_eq(ops->handshake(mod, p.st, &detail), PGS_IO_ERROR);
	ck_assert_msg(strstr(detail, "TLS handshake: ") == detail, "%s", detail);
	ck_assert_int_eq(ops->handshake(mod, p.st, &detail), PGS_IO_ERROR); /* stays failed */
	ck_assert_int_eq(ops->read(mod, p.st, buf, sizeof buf, &done), PGS_IO_ERROR);
	ck_assert_int_eq(ops->write(mod, p.st, buf, sizeof buf, &done), PGS_IO_ERROR);
	ck_assert_int_eq(ops->shutdown(mod, p.st), PGS_IO_OK);
	ck_assert_uint_eq(ops->pending(mod, p.st), 0);
	pair_close(&p);

	/* closed before anything; a truncated ClientHello then EOF */
	for (int i = 0; i < 2; i++) {
		pair_open(&p, mod, NULL);
		ck_assert_int_eq(write(p.cfd, "\x16\x03\x01\x02\x00\x01", i * 6), i * 6);
		ck_assert_int_eq(ops->handshake(mod, p.st, &detail), PGS_IO_WANT_READ);
		shutdown(p.cfd, SHUT_WR);
		ck_assert_int_eq(ops->handshake(mod, p.st, &detail), PGS_IO_ERROR);
		ck_assert_msg(strstr(detail, "closed") != NULL, "%s", detail);
		pair_close(&p);
	}

	/* closed after the ClientHello, while the server waits for Finished */
	pair_open(&p, mod, NULL);
	ck_assert_int_eq(SSL_do_handshake(p.c), -1); /* sends the ClientHello */
	ck_assert_int_eq(ops->handshake(mod, p.st, &detail), PGS_IO_WANT_READ);
	shutdown(p.cfd, SHUT_RDWR);
	ck_assert_int_eq(ops->handshake(mod, p.st, &detail), PGS_IO_ERROR);
	ck_assert_ptr_nonnull(strstr(detail, "closed"));
	pair_close(&p);

	/* an open connection whose peer vanishes without close_notify */
	handshake_ok(&p, mod, NULL);
	shutdown(p.cfd, SHUT_RDWR);
	ck_assert_int_eq(ops->read(mod, p.st, buf, sizeof buf, &done), PGS_IO_CLOSED);
	pair_close(&p);
	desc->fini(mod);
}
END_TEST

/* conn_free in each state, and after the instance was finished (reload). */
START_TEST(test_conn_free)
{
	void *mod = init_ok(NULL), *st = NULL;
	unsigned char buf[32];
	struct pair p;
	size_t done;

	ck_assert_int_eq(ops->conn_new(mod, &the_conn, -1, &st), 0); /* never used */
	ops->conn_free(mod, st);
	pair_open(&p, mod, NULL); /* mid-handshake */
	ck_assert_int_eq(SSL_do_handshake(p.c), -1);
	ck_assert_int_eq(ops->handshake(mod, p.st, &p.detail), PGS_IO_WANT_READ);
	pair_close(&p);

	/* a live connection outlives its instance */
	handshake_ok(&p, mod, NULL);
	desc->fini(mod);
	mod = init_ok(NULL); /* the "reloaded" instance */
	ck_assert_int_eq(SSL_write_ex(p.c, "hello", 5, &done), 1);
	for (int i = 0; i < 10; i++)
		if (ops->read(p.mod, p.st, buf, sizeof buf, &done) == PGS_IO_OK)
			break;
	ck_assert_uint_eq(done, 5);
	ck_assert_int_eq(ops->write(p.mod, p.st, "world", 5, &done), PGS_IO_OK);
	ck_assert_str_eq(ops->fact(p.mod, p.st, "protocol"), "TLSv1.3");
	pair_close(&p);
	desc->fini(mod);
}
END_TEST

/* ------------------------------------------------------------ certificates */

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* certs.sh, then: a revoked client cert + CRL, an expired one, one from another CA. */
static int make_certs(void)
{
	const char *d = cert_path("");

	if (run("bash %s/lib/certs.sh %s certuser >/dev/null", TEST_SRCDIR, dir) != 0)
		return -1;
	if (run("(cd %s && umask 077 && touch index.txt && echo 1000 > crlnumber && "
	        "openssl rand -hex 16 > db.srl && cp server.key open.key && chmod 644 open.key && "
	        "mkfifo fifo.key && "
	        "openssl pkey -in server.key -aes256 -passout pass:x -out enc.key && "
	        "cat > ca.cnf <<'EOF'\n"
	        "[ca]\ndefault_ca = d\n[d]\ndir = .\ndatabase = index.txt\n"
	        "crlnumber = crlnumber\nnew_certs_dir = .\nserial = db.srl\n"
	        "certificate = ca.crt\nprivate_key = ca.key\ndefault_md = sha256\n"
	        "default_crl_days = 30\npolicy = p\nunique_subject = no\n"
	        "[p]\ncommonName = supplied\n"
	        "EOF\n"
	        "EC='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes' && "
	        "for n in revoked expired; do openssl req -new $EC -keyout $n.key "
	        "-subj /CN=$n -out $n.csr || exit 1; done && "
	        "openssl ca -batch -config ca.cnf -in revoked.csr -out revoked.crt -days 30 "
	        "-extfile client.ext && "
	        "openssl ca -batch -config ca.cnf -in expired.csr -out expired.crt "
	        "-startdate 20200101000000Z -enddate 20210101000000Z -extfile client.ext && "
	        "openssl ca -config ca.cnf -revoke revoked.crt && "
	        "openssl ca -config ca.cnf -gencrl -out ca.crl && "
	        "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes "
	        "-keyout srv384.key -subj /CN=localhost -out srv384.csr && "
	        "openssl x509 -req -in srv384.csr -CA ca.crt -CAkey ca.key -CAserial db.srl "
	        "-sha384 -days 30 -extfile server.ext -out srv384.crt && "
	        "openssl req -x509 $EC -keyout other-ca.key -subj '/CN=Other CA' -days 30 "
	        "-out other-ca.crt && "
	        "openssl req -new $EC -keyout other.key -subj /CN=certuser -out other.csr && "
	        "openssl x509 -req -in other.csr -CA other-ca.crt -CAkey other-ca.key "
	        "-CAcreateserial -days 30 -out other.crt) >/dev/null 2>&1",
	        d) != 0)
		return -1;
	return 0;
}

static Suite *tls_suite(void)
{
	Suite *s = suite_create("tls-openssl");
	TCase *tc = tcase_create("module");

	tcase_add_checked_fixture(tc, load, unload);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_handshake_facts_cb);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_pending);
	tcase_add_test(tc, test_alpn);
	tcase_add_test(tc, test_min_protocol);
	tcase_add_loop_test(tc, test_client_cert, 0, 2);
	tcase_add_test(tc, test_client_cert_optional);
	tcase_add_loop_test(tc, test_init_refusals, 0, sizeof refusals / sizeof refusals[0]);
	tcase_add_test(tc, test_init_misc);
	tcase_add_test(tc, test_bad_peers);
	tcase_add_test(tc, test_conn_free);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof dir, "%s/pgs-check-tls-XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(dir) == NULL || make_certs() < 0) {
		fprintf(stderr, "check_tls: cannot make test certificates in %s\n", dir);
		return EXIT_FAILURE;
	}
	sr = srunner_create(tls_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (getenv("CHECK_TLS_KEEP") == NULL)
		run("rm -rf '%s'", dir);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
