/*
 * check_tls_client.c — the client role of the tls-openssl transport module
 * (pgsluice -> PostgreSQL), loaded with dlopen and driven on a server
 * connection over a socketpair against an OpenSSL *server* written here
 * (both sides non-blocking): sslmode require / verify-ca / verify-full
 * (names and addresses), wrong CA, hostname mismatch, SNI, client
 * certificate, CRL, key file permissions, refused settings, facts, peer
 * certificate and channel binding data of the server's certificate, the
 * per-instance SSL_CTX cache (and its limit), and connections outliving
 * their instance.  Certificates are made at start by tests/lib/certs.sh
 * plus a few openssl commands.
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
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "pgsluice/module.h"

#define MODULE_PATH BUILD_MODULEDIR "/tls-openssl.so"

static char dir[PATH_MAX];       /* tmp dir; certificates in dir/certs */
static char logbuf[65536];       /* everything the module logged */
static const char *cfg_kv[8];    /* the instance's group: cert, key */
static const char *param_kv[32]; /* the server connection's parameters */

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

static const char *lookup(const char *const *kv, const char *key)
{
	for (int i = 0; kv[i] != NULL; i += 2)
		if (strcmp(kv[i], key) == 0)
			return kv[i + 1];
	return NULL;
}

static int h_cfg_str(const pgs_cfg *cfg, const char *key, const char **out)
{
	const char *v = lookup(cfg_kv, key);

	(void)cfg;
	if (v == NULL)
		return -ENOENT; /* *out untouched, as the host does */
	*out = v;
	return 0;
}

static int h_cfg_path(const pgs_cfg *cfg, const char *key, char *out, size_t size)
{
	const char *v;

	if (h_cfg_str(cfg, key, &v) < 0)
		return -ENOENT;
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
	return PGS_SIDE_SERVER;
}

static const char *h_conn_param(const pgs_conn *conn, const char *name)
{
	(void)conn;
	return lookup(param_kv, name);
}

static const pgs_host host = {
        .size = sizeof(pgs_host),
        .abi_major = PGS_ABI_MAJOR,
        .abi_minor = PGS_ABI_MINOR,
        .host_version = "check_tls_client",
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
static void *mod;

static const char *cert_path(const char *name)
{
	static char paths[16][PATH_MAX + 128];
	static int next;
	char *p = paths[next++ % 16];

	snprintf(p, PATH_MAX + 128, "%s/certs/%s", dir, name);
	return p;
}

/* Load the module and make an instance (its own server cert/key are required). */
static void setup(void)
{
	const pgs_module *(*entry)(void);

	dl = dlopen(MODULE_PATH, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(dl != NULL, "%s", dlerror());
	*(void **)&entry = dlsym(dl, PGS_ENTRY_SYMBOL);
	ck_assert_ptr_nonnull(entry);
	desc = entry();
	ops = desc->transport;
	logbuf[0] = '\0';
	cfg_kv[0] = "cert";
	cfg_kv[1] = cert_path("server.crt");
	cfg_kv[2] = "key";
	cfg_kv[3] = cert_path("server.key");
	cfg_kv[4] = NULL;
	param_kv[0] = NULL;
	mod = NULL;
	ck_assert_msg(desc->init(&host, &the_cfg, &mod) == 0, "init: %s", logbuf);
}

static void teardown(void)
{
	if (mod != NULL)
		desc->fini(mod);
	dlclose(dl);
}

/* param_kv = the given pairs; "@name" is certs/name. */
static void set_params(const char *const *pairs)
{
	int n = 0;

	for (; pairs != NULL && *pairs != NULL && n < 30; pairs++, n++)
		param_kv[n] = (n % 2 == 1 && (*pairs)[0] == '@') ? cert_path(*pairs + 1) : *pairs;
	param_kv[n] = NULL;
}

#define PARAMS(...) set_params((const char *const[]){__VA_ARGS__, NULL})

/* The test's PostgreSQL stand-in. */
struct server_opts {
	const char *cert; /* name under certs/, without .crt/.key; default "server" */
	bool want_client_cert;
	int max_version;
};

struct pair {
	int mfd, sfd; /* module's end, test server's end */
	void *st;
	SSL_CTX *sctx;
	SSL *s;
	enum pgs_io io;
	int server_ok;
	const char *detail;
};

static void pair_open(struct pair *p, const struct server_opts *o)
{
	const char *name = o != NULL && o->cert != NULL ? o->cert : "server";
	char crt[64], key[64];
	int sv[2];

	memset(p, 0, sizeof *p);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(fcntl(sv[i], F_SETFL, O_NONBLOCK), 0);
	p->mfd = sv[0];
	p->sfd = sv[1];
	ck_assert_msg(ops->conn_new(mod, &the_conn, p->mfd, &p->st) == 0, "conn_new: %s", logbuf);
	p->sctx = SSL_CTX_new(TLS_server_method());
	ck_assert_ptr_nonnull(p->sctx);
	snprintf(crt, sizeof crt, "%s.crt", name);
	snprintf(key, sizeof key, "%s.key", name);
	ck_assert(SSL_CTX_use_certificate_chain_file(p->sctx, cert_path(crt)) == 1 &&
	          SSL_CTX_use_PrivateKey_file(p->sctx, cert_path(key), SSL_FILETYPE_PEM) == 1);
	if (o != NULL && o->max_version != 0)
		SSL_CTX_set_max_proto_version(p->sctx, o->max_version);
	if (o != NULL && o->want_client_cert) {
		ck_assert_int_eq(SSL_CTX_load_verify_locations(p->sctx, cert_path("ca.crt"), NULL),
		                 1);
		SSL_CTX_set_verify(p->sctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
		                   NULL);
	}
	p->s = SSL_new(p->sctx);
	ck_assert_ptr_nonnull(p->s);
	SSL_set_fd(p->s, p->sfd);
	SSL_set_accept_state(p->s);
}

/* Alternate both handshakes until both are done or one side failed. */
static void pair_handshake(struct pair *p)
{
	bool mdone = false, sdone = false;
	int r = 0, e;

	for (int i = 0; i < 200 && !(mdone && sdone); i++) {
		if (!mdone) {
			p->io = ops->handshake(mod, p->st, &p->detail);
			mdone = p->io != PGS_IO_WANT_READ && p->io != PGS_IO_WANT_WRITE;
		}
		if (!sdone && ((r = SSL_do_handshake(p->s)) == 1 ||
		               ((e = SSL_get_error(p->s, r)) != SSL_ERROR_WANT_READ &&
		                e != SSL_ERROR_WANT_WRITE))) {
			sdone = true;
			p->server_ok = r == 1;
		}
	}
	ck_assert_ptr_nonnull(p->detail);
	ERR_clear_error();
}

static void pair_close(struct pair *p)
{
	SSL_free(p->s);
	SSL_CTX_free(p->sctx);
	if (p->st != NULL)
		ops->conn_free(mod, p->st);
	close(p->mfd);
	close(p->sfd);
}

/* Bytes both ways through the open connection. */
static void exchange(struct pair *p)
{
	char buf[64];
	size_t done = 0;
	enum pgs_io io = PGS_IO_WANT_READ;

	ck_assert_int_eq(ops->write(mod, p->st, "startup", 7, &done), PGS_IO_OK);
	ck_assert_uint_eq(done, 7);
	ck_assert_int_eq(SSL_read_ex(p->s, buf, sizeof buf, &done), 1);
	ck_assert_uint_eq(done, 7);
	ck_assert_mem_eq(buf, "startup", 7);
	ck_assert_int_eq(SSL_write_ex(p->s, "R\0\0\0\10", 5, &done), 1);
	for (int i = 0; i < 20 && io == PGS_IO_WANT_READ; i++)
		io = ops->read(mod, p->st, buf, sizeof buf, &done);
	ck_assert_msg(io == PGS_IO_OK, "read io %d: %s", io, p->detail);
	ck_assert_uint_eq(done, 5);
}

static void handshake_ok(struct pair *p, const struct server_opts *o)
{
	pair_open(p, o);
	pair_handshake(p);
	ck_assert_msg(p->io == PGS_IO_OK, "module io %d: %s", p->io, p->detail);
	ck_assert_int_eq(p->server_ok, 1);
	exchange(p);
}

static void handshake_refused(const struct server_opts *o, const char *want)
{
	struct pair p;

	pair_open(&p, o);
	pair_handshake(&p);
	ck_assert_msg(p.io == PGS_IO_ERROR, "module io %d", p.io);
	ck_assert_msg(strstr(p.detail, want) != NULL, "want \"%s\" in \"%s\"", want, p.detail);
	ck_assert_int_eq(p.server_ok, 0);
	ck_assert_ptr_null(ops->fact(mod, p.st, "protocol"));
	pair_close(&p);
}

/* conn_new must fail and log `want`. */
static void conn_refused(const char *want)
{
	void *st = NULL;

	logbuf[0] = '\0';
	ck_assert_int_lt(ops->conn_new(mod, &the_conn, -1, &st), 0);
	ck_assert_ptr_null(st);
	ck_assert_msg(strstr(logbuf, want) != NULL, "want \"%s\" in log: %s", want, logbuf);
	ck_assert_ptr_null(strstr(logbuf, "PRIVATE KEY")); /* never key material */
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

/* peer_cert() is file's DER, cb_hash() its SHA-256 (tls-server-end-point). */
static void assert_peer(struct pair *p, const char *file)
{
	unsigned char *der, want[EVP_MAX_MD_SIZE], cb[EVP_MAX_MD_SIZE];
	const uint8_t *peer;
	size_t peer_len, cb_len = sizeof cb;
	unsigned int want_len;
	int der_len = file_der(file, &der);

	ck_assert_int_eq(ops->peer_cert(mod, p->st, &peer, &peer_len), 0);
	ck_assert_uint_eq(peer_len, (size_t)der_len);
	ck_assert_mem_eq(peer, der, peer_len);
	ck_assert_int_eq(EVP_Digest(der, (size_t)der_len, want, &want_len, EVP_sha256(), NULL), 1);
	OPENSSL_free(der);
	ck_assert_int_eq(ops->cb_hash(mod, p->st, cb, &cb_len), 0);
	ck_assert_uint_eq(cb_len, want_len);
	ck_assert_mem_eq(cb, want, want_len);
}

/* ------------------------------------------------------------ tests */

START_TEST(test_require)
{
	struct server_opts other = {.cert = "other-srv"}, v12 = {.max_version = TLS1_2_VERSION};
	struct pair p;

	PARAMS("sslmode", "require", "server_host", "localhost");
	handshake_ok(&p, NULL);
	ck_assert_str_eq(ops->fact(mod, p.st, "protocol"), "TLSv1.3");
	ck_assert_str_eq(ops->fact(mod, p.st, "cipher"), SSL_get_cipher_name(p.s));
	ck_assert_str_eq(SSL_get_servername(p.s, TLSEXT_NAMETYPE_host_name), "localhost");
	ck_assert_ptr_null(ops->fact(mod, p.st, "peer_subject"));
	assert_peer(&p, "server.crt");
	ck_assert_int_eq(ops->handshake(mod, p.st, &p.detail), PGS_IO_OK); /* no-op */
	ck_assert_int_eq(ops->shutdown(mod, p.st), PGS_IO_OK);
	pair_close(&p);

	/* nothing verified: a certificate from an unknown CA is fine */
	handshake_ok(&p, &other);
	assert_peer(&p, "other-srv.crt");
	pair_close(&p);

	/* TLS 1.2 server */
	handshake_ok(&p, &v12);
	ck_assert_str_eq(ops->fact(mod, p.st, "protocol"), "TLSv1.2");
	ck_assert_str_eq(ops->fact(mod, p.st, "cipher"), SSL_get_cipher_name(p.s));
	assert_peer(&p, "server.crt");
	pair_close(&p);

	/* sslmode unset = prefer; no server_host: no SNI */
	PARAMS("user", "x");
	handshake_ok(&p, &other);
	ck_assert_ptr_null(SSL_get_servername(p.s, TLSEXT_NAMETYPE_host_name));
	pair_close(&p);

	/* require with sslrootcert verifies, as libpq */
	PARAMS("sslmode", "require", "sslrootcert", "@ca.crt");
	handshake_ok(&p, NULL);
	pair_close(&p);
	handshake_refused(&other, "server certificate: unable to get local issuer certificate");
}
END_TEST

/* A TLS 1.1 server is refused (TLSv1.2 minimum). */
START_TEST(test_min_protocol)
{
	struct pair p;

	PARAMS("sslmode", "require");
	pair_open(&p, NULL);
	SSL_CTX_set_security_level(p.sctx, 0);
	SSL_set_security_level(p.s, 0);
	SSL_set_min_proto_version(p.s, TLS1_VERSION);
	SSL_set_max_proto_version(p.s, TLS1_1_VERSION);
	SSL_set_cipher_list(p.s, "DEFAULT:@SECLEVEL=0");
	pair_handshake(&p);
	ck_assert_int_eq(p.io, PGS_IO_ERROR);
	ck_assert_int_eq(p.server_ok, 0);
	ck_assert_msg(strstr(p.detail, "TLS handshake: ") == p.detail, "%s", p.detail);
	fprintf(stderr, "check_tls_client: TLS 1.1 server: %s\n", p.detail);
	pair_close(&p);
}
END_TEST

START_TEST(test_verify_ca)
{
	struct server_opts other = {.cert = "other-srv"};
	struct pair p;

	PARAMS("sslmode", "verify-ca", "sslrootcert", "@ca.crt", "server_host", "wrong.example");
	handshake_ok(&p, NULL); /* the name is not checked */
	assert_peer(&p, "server.crt");
	pair_close(&p);
	handshake_refused(&other, "server certificate: unable to get local issuer certificate");

	PARAMS("sslmode", "verify-ca", "sslrootcert", "@other-ca.crt");
	handshake_refused(NULL, "server certificate: unable to get local issuer certificate");
	handshake_refused(NULL, "certificate verify failed");
	handshake_ok(&p, &other);
	pair_close(&p);
}
END_TEST

static const struct {
	const char *host, *want; /* want NULL: accepted */
	bool sni;
} full_cases[] = {
        {"localhost", NULL, true},
        {"127.0.0.1", NULL, false},
        {"::1", NULL, false},
        {"wrong.example", "server certificate: hostname mismatch", true},
        {"10.0.0.1", "server certificate: IP address mismatch", false},
        {"LOCALHOST", NULL, true},
};

START_TEST(test_verify_full)
{
	const char *name;
	struct pair p;

	PARAMS("sslmode", "verify-full", "sslrootcert", "@ca.crt", "server_host",
	       full_cases[_i].host);
	if (full_cases[_i].want != NULL) {
		handshake_refused(NULL, full_cases[_i].want);
		return;
	}
	handshake_ok(&p, NULL);
	name = SSL_get_servername(p.s, TLSEXT_NAMETYPE_host_name);
	if (full_cases[_i].sni)
		ck_assert_str_eq(name, full_cases[_i].host);
	else
		ck_assert_ptr_null(name);
	assert_peer(&p, "server.crt");
	pair_close(&p);
}
END_TEST

START_TEST(test_client_cert)
{
	struct server_opts want = {.want_client_cert = true};
	char buf[16];
	size_t done;
	struct pair p;
	X509 *peer;
	char cn[64];

	/* none configured: the server refuses (after the client's side of the
	 * TLS 1.3 handshake is done: the alert comes with the first read) */
	PARAMS("sslmode", "verify-full", "sslrootcert", "@ca.crt", "server_host", "localhost");
	pair_open(&p, &want);
	pair_handshake(&p);
	ck_assert_int_eq(p.server_ok, 0);
	if (p.io == PGS_IO_OK) {
		enum pgs_io io = PGS_IO_WANT_READ;

		for (int i = 0; i < 20 && io == PGS_IO_WANT_READ; i++)
			io = ops->read(mod, p.st, buf, sizeof buf, &done);
		ck_assert_int_eq(io, PGS_IO_ERROR);
	}
	ck_assert_msg(strstr(p.detail, "certificate required") != NULL, "%s", p.detail);
	pair_close(&p);

	PARAMS("sslmode", "verify-full", "sslrootcert", "@ca.crt", "server_host", "localhost",
	       "sslcert", "@client-certuser.crt", "sslkey", "@client-certuser.key");
	handshake_ok(&p, &want);
	peer = SSL_get0_peer_certificate(p.s);
	ck_assert_ptr_nonnull(peer);
	ck_assert_int_eq(SSL_get_verify_result(p.s), X509_V_OK);
	ck_assert_int_gt(X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn,
	                                           sizeof cn),
	                 0);
	ck_assert_str_eq(cn, "certuser");
	pair_close(&p);

	/* require + a client certificate: also fine */
	PARAMS("sslmode", "require", "sslcert", "@client-certuser.crt", "sslkey",
	       "@client-certuser.key");
	handshake_ok(&p, &want);
	pair_close(&p);
}
END_TEST

START_TEST(test_crl)
{
	struct server_opts revoked = {.cert = "srv-revoked"};
	struct pair p;

	PARAMS("sslmode", "verify-ca", "sslrootcert", "@ca.crt", "sslcrl", "@ca.crl");
	handshake_ok(&p, NULL);
	pair_close(&p);
	handshake_refused(&revoked, "server certificate: certificate revoked");
	PARAMS("sslmode", "verify-ca", "sslrootcert", "@ca.crt");
	handshake_ok(&p, &revoked); /* no CRL: fine */
	pair_close(&p);
}
END_TEST

/* Settings conn_new refuses, each with a clear log line. */
static const struct {
	const char *kv[12];
	const char *want;
} refusals[] = {
        {{"sslmode", "verify-full", "server_host", "localhost"},
         "sslmode verify-full needs sslrootcert"},
        {{"sslmode", "verify-ca"}, "sslmode verify-ca needs sslrootcert"},
        {{"sslmode", "verify-full", "sslrootcert", "@ca.crt"},
         "verify-full needs the server's host name (server_host)"},
        {{"sslmode", "verify-full", "sslrootcert", "@ca.crt", "server_host", "/tmp"},
         "verify-full needs the server's host name"},
        {{"sslmode", "sometimes"}, "sslmode \"sometimes\" is not one of"},
        {{"sslmode", "require", "sslcert", "@open.crt", "sslkey", "@open.key"},
         "sslkey: tls-openssl: private key file"},
        {{"sslmode", "require", "sslcert", "@open.crt", "sslkey", "@open.key"},
         "has group or world access (mode 0644)"},
        {{"sslmode", "require", "sslcert", "@client-certuser.crt"},
         "sslcert and sslkey go together (sslkey is missing)"},
        {{"sslmode", "require", "sslkey", "@client-certuser.key"},
         "sslcert and sslkey go together (sslcert is missing)"},
        {{"sslmode", "require", "sslcert", "@none.crt", "sslkey", "@client-certuser.key"},
         "cannot load sslcert \""},
        {{"sslmode", "require", "sslcert", "@client-certuser.crt", "sslkey", "@server.key"},
         "cannot use sslkey \""},
        {{"sslmode", "require", "sslcert", "@client-certuser.crt", "sslkey", "@server.key"},
         "key values mismatch"},
        {{"sslmode", "verify-ca", "sslrootcert", "@none.crt"}, "cannot load sslrootcert \""},
        {{"sslmode", "verify-ca", "sslrootcert", "@ca.crt", "sslcrl", "@none.crl"},
         "cannot load sslcrl \""},
};

START_TEST(test_refusals)
{
	const char *kv[13] = {NULL};

	for (int i = 0; i < 12 && refusals[_i].kv[i] != NULL; i++)
		kv[i] = refusals[_i].kv[i];
	set_params(kv);
	conn_refused(refusals[_i].want);
}
END_TEST

START_TEST(test_long_host)
{
	char name[300];

	memset(name, 'a', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	PARAMS("sslmode", "require", "server_host", name);
	conn_refused("server_host is longer than 255 bytes");
}
END_TEST

/* Files are read once per settings tuple; the cache is bounded; fini is safe. */
START_TEST(test_cache)
{
	static char path[40][PATH_MAX + 128];
	struct pair p, live;
	void *st;
	int n = 0;

	snprintf(path[0], sizeof path[0], "%s/certs/ca-copy.crt", dir);
	ck_assert_int_eq(link(cert_path("ca.crt"), path[0]), 0);
	PARAMS("sslmode", "verify-full", "sslrootcert", path[0], "server_host", "localhost");
	handshake_ok(&live, NULL);
	ck_assert_int_eq(unlink(path[0]), 0);
	/* the same tuple again: cached, the file is not read */
	handshake_ok(&p, NULL);
	pair_close(&p);
	/* verify-ca shares the SSL_CTX of verify-full */
	PARAMS("sslmode", "verify-ca", "sslrootcert", path[0]);
	handshake_ok(&p, NULL);
	pair_close(&p);
	/* a new tuple reads its files */
	PARAMS("sslmode", "verify-ca", "sslrootcert", path[0], "sslcrl", "@ca.crl");
	conn_refused("cannot load sslrootcert");

	/* 40 distinct tuples (same file, other spellings): all work, one warning */
	logbuf[0] = '\0';
	for (int i = 1; i < 40; i++) {
		snprintf(
		        path[i], sizeof path[i], "%s/certs/%.*sca.crt", dir, 2 * i,
		        "./././././././././././././././././././././././././././././././././././././"
		        "./././././././");
		PARAMS("sslmode", "verify-ca", "sslrootcert", path[i]);
		st = NULL;
		ck_assert_msg(ops->conn_new(mod, &the_conn, -1, &st) == 0, "%d: %s", i, logbuf);
		ops->conn_free(mod, st);
	}
	for (const char *s = logbuf; (s = strstr(s, "distinct server TLS settings")) != NULL; s++)
		n++;
	ck_assert_int_eq(n, 1);
	PARAMS("sslmode", "verify-ca", "sslrootcert", path[39]);
	handshake_ok(&p, NULL); /* an uncached SSL_CTX works too */
	pair_close(&p);

	/* the live connection outlives its instance and the cache */
	desc->fini(mod);
	mod = NULL;
	{
		char buf[8];
		size_t done;
		enum pgs_io io = PGS_IO_WANT_READ;

		ck_assert_int_eq(ops->write(NULL, live.st, "x", 1, &done), PGS_IO_OK);
		ck_assert_int_eq(SSL_read_ex(live.s, buf, sizeof buf, &done), 1);
		ck_assert_int_eq(SSL_write_ex(live.s, "y", 1, &done), 1);
		for (int i = 0; i < 20 && io == PGS_IO_WANT_READ; i++)
			io = ops->read(NULL, live.st, buf, sizeof buf, &done);
		ck_assert_int_eq(io, PGS_IO_OK);
		ck_assert_str_eq(ops->fact(NULL, live.st, "protocol"), "TLSv1.3");
	}
	SSL_free(live.s);
	SSL_CTX_free(live.sctx);
	ops->conn_free(NULL, live.st);
	close(live.mfd);
	close(live.sfd);
}
END_TEST

/* The server vanishes mid-handshake, or sends garbage. */
START_TEST(test_bad_server)
{
	static const char garbage[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
	struct pair p;

	PARAMS("sslmode", "require");
	pair_open(&p, NULL);
	ck_assert_int_eq(ops->handshake(mod, p.st, &p.detail), PGS_IO_WANT_READ);
	shutdown(p.sfd, SHUT_RDWR);
	ck_assert_int_eq(ops->handshake(mod, p.st, &p.detail), PGS_IO_ERROR);
	ck_assert_msg(strstr(p.detail, "closed") != NULL, "%s", p.detail);
	pair_close(&p);

	pair_open(&p, NULL);
	ck_assert_int_eq(ops->handshake(mod, p.st, &p.detail), PGS_IO_WANT_READ);
	ck_assert_int_eq(write(p.sfd, garbage, sizeof garbage - 1), (ssize_t)sizeof garbage - 1);
	ck_assert_int_eq(ops->handshake(mod, p.st, &p.detail), PGS_IO_ERROR);
	ck_assert_msg(strstr(p.detail, "TLS handshake: ") == p.detail, "%s", p.detail);
	pair_close(&p);
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

/* certs.sh, then: a server cert from another CA, a revoked server cert + CRL,
 * a 0644 copy of the client key. */
static int make_certs(void)
{
	if (run("bash %s/lib/certs.sh %s certuser >/dev/null", TEST_SRCDIR, dir) != 0)
		return -1;
	if (run("(cd %s && umask 077 && touch index.txt && echo 1000 > crlnumber && "
	        "openssl rand -hex 16 > db.srl && cp client-certuser.key open.key && "
	        "chmod 644 open.key && cp client-certuser.crt open.crt && "
	        "cat > ca.cnf <<'EOF'\n"
	        "[ca]\ndefault_ca = d\n[d]\ndir = .\ndatabase = index.txt\n"
	        "crlnumber = crlnumber\nnew_certs_dir = .\nserial = db.srl\n"
	        "certificate = ca.crt\nprivate_key = ca.key\ndefault_md = sha256\n"
	        "default_crl_days = 30\npolicy = p\nunique_subject = no\n"
	        "[p]\ncommonName = supplied\n"
	        "EOF\n"
	        "EC='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes' && "
	        "openssl req -new $EC -keyout srv-revoked.key -subj /CN=localhost "
	        "-out srv-revoked.csr && "
	        "openssl ca -batch -config ca.cnf -in srv-revoked.csr -out srv-revoked.crt "
	        "-days 30 -extfile server.ext && "
	        "openssl ca -config ca.cnf -revoke srv-revoked.crt && "
	        "openssl ca -config ca.cnf -gencrl -out ca.crl && "
	        "openssl req -x509 $EC -keyout other-ca.key -subj '/CN=Other CA' -days 30 "
	        "-addext basicConstraints=critical,CA:TRUE -out other-ca.crt && "
	        "openssl req -new $EC -keyout other-srv.key -subj /CN=localhost "
	        "-out other-srv.csr && "
	        "openssl x509 -req -in other-srv.csr -CA other-ca.crt -CAkey other-ca.key "
	        "-CAcreateserial -days 30 -extfile server.ext -out other-srv.crt) "
	        ">/dev/null 2>&1",
	        cert_path("")) != 0)
		return -1;
	return 0;
}

static Suite *tls_client_suite(void)
{
	Suite *s = suite_create("tls-openssl client role");
	TCase *tc = tcase_create("client");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_require);
	tcase_add_test(tc, test_min_protocol);
	tcase_add_test(tc, test_verify_ca);
	tcase_add_loop_test(tc, test_verify_full, 0, sizeof full_cases / sizeof full_cases[0]);
	tcase_add_test(tc, test_client_cert);
	tcase_add_test(tc, test_crl);
	tcase_add_loop_test(tc, test_refusals, 0, sizeof refusals / sizeof refusals[0]);
	tcase_add_test(tc, test_long_host);
	tcase_add_test(tc, test_cache);
	tcase_add_test(tc, test_bad_server);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof dir, "%s/pgs-check-tls-client-XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(dir) == NULL || make_certs() < 0) {
		fprintf(stderr, "check_tls_client: cannot make test certificates in %s\n", dir);
		return EXIT_FAILURE;
	}
	sr = srunner_create(tls_client_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (getenv("CHECK_TLS_KEEP") == NULL)
		run("rm -rf '%s'", dir);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
