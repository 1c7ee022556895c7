/*
 * check_cert.c — unit tests of the cert module (modules/cert/cert.c),
 * dlopen'ed from the build and run behind a fake host: the host hands it a
 * certificate (DER) or none, the step options clientname= and map=, a small
 * ident map table, and records set_authn_id().  Most certificates are made at
 * test time by the openssl command line in a temporary directory; the ones
 * the command line refuses to make (a commonName holding a NUL byte, names
 * longer than X.520's 64-character bound) are built here with the OpenSSL
 * API.  The module never checks signatures (the TLS layer did), so all
 * certificates are self-signed with one throwaway key.
 */
#include "autoconf.h"

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pgsluice/module.h"

#define MAX_CONN_ALLOCS 64

/* ------------------------------------------------------------ the fake host */

static char conn_token;
#define THE_CONN ((pgs_conn *)&conn_token)

static char logbuf[8192];
static const uint8_t *fake_der; /* NULL: no peer certificate */
static size_t fake_der_len;
static const char *fake_user, *fake_clientname, *fake_map;
static char authn_id[4096];
static int authn_calls, ident_calls;
static int authn_fail; /* set_authn_id returns this when nonzero */
static void *conn_allocs[MAX_CONN_ALLOCS];
static int n_conn_allocs;

static void fake_log(enum pgs_log level, const pgs_conn *conn, const char *fmt, ...)
{
	size_t used = strlen(logbuf);
	va_list ap;

	(void)level;
	(void)conn;
	va_start(ap, fmt);
	vsnprintf(logbuf + used, sizeof logbuf - used, fmt, ap);
	va_end(ap);
	used = strlen(logbuf);
	if (used + 1 < sizeof logbuf)
		strcat(logbuf, "\n");
}

static void *fake_alloc(size_t len)
{
	return calloc(1, len);
}

static void fake_wipe_free(void *p, size_t len)
{
	if (p != NULL)
		memset(p, 0, len);
	free(p);
}

/* Freed at teardown, as the host frees connection memory when it closes. */
static void *fake_conn_alloc(pgs_conn *conn, size_t len)
{
	ck_assert_ptr_eq(conn, THE_CONN);
	ck_assert_int_lt(n_conn_allocs, MAX_CONN_ALLOCS);
	conn_allocs[n_conn_allocs] = calloc(1, len);
	return conn_allocs[n_conn_allocs++];
}

static const char *fake_conn_param(const pgs_conn *conn, const char *name)
{
	ck_assert_ptr_eq(conn, THE_CONN);
	if (strcmp(name, "user") == 0)
		return fake_user;
	if (strcmp(name, "transport") == 0)
		return "tls";
	return NULL;
}

static const char *fake_step_option(const pgs_conn *conn, const char *name)
{
	ck_assert_ptr_eq(conn, THE_CONN);
	if (strcmp(name, "clientname") == 0)
		return fake_clientname;
	if (strcmp(name, "map") == 0)
		return fake_map;
	return NULL;
}

static int fake_peer_cert(const pgs_conn *conn, const uint8_t **der, size_t *len)
{
	ck_assert_ptr_eq(conn, THE_CONN);
	if (fake_der == NULL)
		return -ENOENT;
	*der = fake_der;
	*len = fake_der_len;
	return 0;
}

static int fake_set_authn_id(pgs_conn *conn, const char *id)
{
	ck_assert_ptr_eq(conn, THE_CONN);
	authn_calls++;
	if (authn_fail != 0)
		return authn_fail;
	ck_assert_uint_lt(strlen(id), sizeof authn_id);
	strcpy(authn_id, id);
	return 0;
}

/* pg_ident.conf as a table: map, system user, role. */
static const char *const ident_table[][3] = {
        {"certmap", "bob", "robert"},
        {"certmap", "alice", "admin"},
        {"dnmap", "CN=bob,O=Org", "robert"},
};

static int fake_ident_match(const pgs_conn *conn, const char *map, const char *system_user,
                            const char *role)
{
	bool known = false;

	ck_assert_ptr_eq(conn, THE_CONN);
	ident_calls++;
	for (size_t i = 0; i < sizeof ident_table / sizeof ident_table[0]; i++) {
		if (strcmp(ident_table[i][0], map) != 0)
			continue;
		known = true;
		if (strcmp(ident_table[i][1], system_user) == 0 &&
		    strcmp(ident_table[i][2], role) == 0)
			return 0;
	}
	return known ? -EACCES : -ENOENT;
}

static const pgs_host fake_host = {
        .size = sizeof(pgs_host),
        .abi_major = PGS_ABI_MAJOR,
        .abi_minor = PGS_ABI_MINOR,
        .host_version = "check_cert",
        .log = fake_log,
        .alloc = fake_alloc,
        .free = free,
        .conn_alloc = fake_conn_alloc,
        .wipe_free = fake_wipe_free,
        .conn_param = fake_conn_param,
        .step_option = fake_step_option,
        .conn_peer_cert = fake_peer_cert,
        .set_authn_id = fake_set_authn_id,
        .ident_match = fake_ident_match,
};

/* ------------------------------------------------------------ certificates */

static char certdir[] = "/tmp/check_cert.XXXXXX";

/* Made by the openssl command line: file name and -subj. */
static const char *const cli_certs[][2] = {
        {"alice", "/CN=alice"},
        {"bob", "/O=Org/CN=bob"},
        {"twocn", "/CN=one/CN=two"},
        {"nocn", "/O=Org/OU=Unit"},
        {"comma", "/O=Org/CN=a,b"},
        /* 20 OUs of 60 characters: a DN over 1024 bytes with a short CN. */
        {"longdn", "/OU="
                   "ou01aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "/OU=ou02aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "/OU=ou03aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "/OU=ou04aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "/OU=ou05aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "/OU=ou06aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "/OU=ou07aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "/OU=ou08aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "/OU=ou09aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "/OU=ou10aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "/OU=ou11aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "/OU=ou12aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "/OU=ou13aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "/OU=ou14aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "/OU=ou15aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "/OU=ou16aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "/OU=ou17aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "/OU=ou18aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "/OU=ou19aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "/OU=ou20aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "/CN=carol"},
};

/* Unchecked fixture (runs once, in the parent): the openssl CLI certificates. */
static void certs_make(void)
{
	char cmd[4096];
	int n;

	ck_assert_ptr_nonnull(mkdtemp(certdir));
	n = snprintf(cmd, sizeof cmd,
	             "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
	             "-out %s/key.pem 2>/dev/null",
	             certdir);
	ck_assert(n > 0 && (size_t)n < sizeof cmd);
	ck_assert_int_eq(system(cmd), 0);
	for (size_t i = 0; i < sizeof cli_certs / sizeof cli_certs[0]; i++) {
		n = snprintf(cmd, sizeof cmd,
		             "openssl req -new -x509 -key %s/key.pem -days 2 -subj '%s' "
		             "-outform DER -out %s/%s.der 2>/dev/null",
		             certdir, cli_certs[i][1], certdir, cli_certs[i][0]);
		ck_assert(n > 0 && (size_t)n < sizeof cmd);
		ck_assert_msg(system(cmd) == 0, "openssl failed: %s", cmd);
	}
}

static void certs_remove(void)
{
	char cmd[256];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", certdir);
	if (system(cmd) != 0)
		fprintf(stderr, "check_cert: could not remove %s\n", certdir);
}

/* The DER of one CLI certificate, malloc'ed. */
static uint8_t *cert_load(const char *name, size_t *len)
{
	char path[256];
	uint8_t *buf;
	FILE *f;
	long size;

	snprintf(path, sizeof path, "%s/%s.der", certdir, name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	ck_assert(size > 0 && size < 65536);
	rewind(f);
	buf = malloc((size_t)size + 1); /* + 1: room for the trailing-byte test */
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	*len = (size_t)size;
	return buf;
}

/* A self-signed certificate whose subject is one commonName of cn_len raw
 * bytes (NULs and any length allowed: no X.520 bounds on this path). */
static uint8_t *cert_craft(const char *cn, size_t cn_len, size_t *len)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	uint8_t *der = NULL, *copy;
	int n;

	ck_assert_ptr_nonnull(key);
	ck_assert_ptr_nonnull(x);
	name = X509_get_subject_name(x);
	ck_assert_int_eq(X509_set_version(x, 2), 1);
	ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	ck_assert_int_eq(X509_NAME_add_entry_by_NID(name, NID_commonName, V_ASN1_UTF8STRING,
	                                            (const unsigned char *)cn, (int)cn_len, -1, 0),
	                 1);
	ck_assert_int_eq(X509_set_issuer_name(x, name), 1);
	ck_assert_int_eq(X509_set_pubkey(x, key), 1);
	ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
	n = i2d_X509(x, &der);
	ck_assert_int_gt(n, 0);
	copy = malloc((size_t)n);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, der, (size_t)n);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(key);
	*len = (size_t)n;
	return copy;
}

/* ------------------------------------------------------------ the module */

static void *dl;
static const pgs_module *desc;
static void *mod;
static uint8_t *owned_der; /* what the current test loaded, freed at teardown */

/* Checked fixture: a fresh module and a fresh fake host for each test. */
static void module_setup(void)
{
	const pgs_module *(*entry)(void);

	logbuf[0] = '\0';
	authn_id[0] = '\0';
	authn_calls = ident_calls = authn_fail = 0;
	fake_der = owned_der = NULL;
	fake_der_len = 0;
	fake_user = "alice";
	fake_clientname = fake_map = NULL;
	n_conn_allocs = 0;
	dl = dlopen(BUILD_MODULEDIR "/cert.so", RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(dl != NULL, "%s", dlerror());
	*(void **)&entry = dlsym(dl, PGS_ENTRY_SYMBOL);
	ck_assert_ptr_nonnull(entry);
	desc = entry();
	ck_assert_int_eq(desc->init(&fake_host, NULL, &mod), 0); /* no settings */
}

static void module_teardown(void)
{
	desc->fini(mod);
	dlclose(dl);
	for (int i = 0; i < n_conn_allocs; i++)
		free(conn_allocs[i]);
	free(owned_der);
}

static void use_cert(const char *name)
{
	free(owned_der);
	owned_der = cert_load(name, &fake_der_len);
	fake_der = owned_der;
}

static void use_crafted(const char *cn, size_t cn_len)
{
	free(owned_der);
	owned_der = cert_craft(cn, cn_len, &fake_der_len);
	fake_der = owned_der;
}

/* One whole login: conn_new, the step, conn_free.  The detail is read after
 * conn_free, as the host does; it must survive in connection memory. */
static enum pgs_step login(const char **detail)
{
	void *state = NULL;
	enum pgs_step r;

	*detail = NULL;
	ck_assert_int_eq(desc->auth->conn_new(mod, THE_CONN, &state), 0);
	r = desc->auth->step(mod, THE_CONN, state, NULL, 0, NULL, detail);
	desc->auth->conn_free(mod, THE_CONN, state);
	if (r == PGS_STEP_FAIL)
		ck_assert_ptr_nonnull(*detail);
	return r;
}

/* A login that must fail with exactly `want`, recording no identity. */
static void login_fails(const char *want)
{
	const char *detail;

	authn_calls = 0;
	ck_assert_int_eq(login(&detail), PGS_STEP_FAIL);
	ck_assert_str_eq(detail, want);
	ck_assert_int_eq(authn_calls, 0);
}

/* A login that must succeed, recording the identity `id`. */
static void login_ok(const char *id)
{
	const char *detail;

	authn_calls = 0;
	ck_assert_int_eq(login(&detail), PGS_STEP_DONE);
	ck_assert_int_eq(authn_calls, 1);
	ck_assert_str_eq(authn_id, id);
}

/* ------------------------------------------------------------ tests */

START_TEST(test_descriptor)
{
	ck_assert_str_eq(desc->name, "cert");
	ck_assert_str_eq(desc->version, "0.1.0");
	ck_assert_ptr_nonnull(desc->auth);
	ck_assert_uint_eq(desc->auth->flags, PGS_AUTH_FINAL_FAILURE);
	ck_assert_str_eq(desc->auth->method, "certificate");
	ck_assert_str_eq(desc->auth->fail_sqlstate, "28000");
	ck_assert_str_eq(logbuf, ""); /* init said nothing: this host has ident maps */
}
END_TEST

START_TEST(test_no_cert)
{
	login_fails("connection requires a valid client certificate");
	fake_clientname = "DN";
	login_fails("connection requires a valid client certificate");
}
END_TEST

START_TEST(test_cn_match)
{
	use_cert("alice");
	login_ok("CN=alice");
	use_cert("bob");
	fake_user = "bob";
	login_ok("CN=bob,O=Org"); /* the identity is the DN, as in PostgreSQL 15 */
	fake_clientname = "CN";   /* the default, spelled out */
	login_ok("CN=bob,O=Org");
	ck_assert_int_eq(ident_calls, 0);
}
END_TEST

START_TEST(test_cn_mismatch)
{
	use_cert("alice");
	fake_user = "bob";
	login_fails("provided user name (bob) and authenticated user name (alice) do not match");
	fake_user = "Alice"; /* case-sensitive */
	login_fails("provided user name (Alice) and authenticated user name (alice) do not match");
	fake_user = "alic";
	login_fails("provided user name (alic) and authenticated user name (alice) do not match");
	fake_user = NULL;
	login_fails("cert: no user name in the startup packet");
}
END_TEST

START_TEST(test_dn_mode)
{
	fake_clientname = "DN";
	use_cert("bob");
	fake_user = "CN=bob,O=Org";
	login_ok("CN=bob,O=Org");
	fake_user = "bob";
	login_fails("provided user name (bob) and authenticated user name (CN=bob,O=Org) do not "
	            "match");
	fake_user = "O=Org,CN=bob"; /* RFC 2253 order is the reverse of the encoding */
	login_fails("provided user name (O=Org,CN=bob) and authenticated user name (CN=bob,O=Org) "
	            "do not match");
	use_cert("comma"); /* RFC 2253 escaping */
	fake_user = "CN=a\\,b,O=Org";
	login_ok("CN=a\\,b,O=Org");
}
END_TEST

START_TEST(test_map)
{
	use_cert("bob");
	fake_map = "certmap";
	fake_user = "robert";
	login_ok("CN=bob,O=Org");
	ck_assert_int_eq(ident_calls, 1);
	fake_user = "bob"; /* with a map, the name itself is not enough */
	login_fails("no match in usermap \"certmap\" for user \"bob\" authenticated as \"bob\"");
	fake_user = "admin";
	login_fails("no match in usermap \"certmap\" for user \"admin\" authenticated as \"bob\"");
	fake_map = "nomap";
	fake_user = "robert";
	login_fails("usermap \"nomap\" does not exist");
	fake_map = ""; /* map= without a name: none */
	fake_user = "bob";
	login_ok("CN=bob,O=Org");
	/* DN mode hands the map the DN. */
	fake_clientname = "DN";
	fake_map = "dnmap";
	fake_user = "robert";
	login_ok("CN=bob,O=Org");
	fake_map = "certmap";
	login_fails("no match in usermap \"certmap\" for user \"robert\" authenticated as "
	            "\"CN=bob,O=Org\"");
}
END_TEST

START_TEST(test_two_cn)
{
	use_cert("twocn");
	fake_user = "one";
	login_fails("certificate has more than one common name (ambiguous)");
	fake_user = "two";
	login_fails("certificate has more than one common name (ambiguous)");
	fake_clientname = "DN"; /* the DN is not ambiguous */
	fake_user = "CN=two,CN=one";
	login_ok("CN=two,CN=one");
}
END_TEST

START_TEST(test_no_cn)
{
	use_cert("nocn");
	fake_user = "Unit";
	login_fails("certificate has no common name");
	fake_map = "certmap";
	login_fails("certificate has no common name");
	fake_map = NULL;
	fake_clientname = "DN";
	fake_user = "OU=Unit,O=Org";
	login_ok("OU=Unit,O=Org");
	ck_assert_int_eq(ident_calls, 0);
}
END_TEST

START_TEST(test_nul_in_cn)
{
	use_crafted("alice\0.evil", 11);
	fake_user = "alice";
	login_fails("certificate's common name contains embedded null");
	fake_map = "certmap";
	fake_user = "admin";
	login_fails("certificate's common name contains embedded null");
	ck_assert_int_eq(ident_calls, 0);
	/* RFC 2253 escapes the NUL, so the DN holds none. */
	fake_map = NULL;
	fake_clientname = "DN";
	fake_user = "CN=alice\\00.evil";
	login_ok("CN=alice\\00.evil");
}
END_TEST

START_TEST(test_empty_cn)
{
	use_crafted("", 0);
	fake_user = "alice";
	login_fails("certificate authentication failed for user \"alice\": client certificate "
	            "contains no user name");
}
END_TEST

START_TEST(test_name_limits)
{
	static char cn[1100], dn[1110];

	/* 1021 bytes: the DN "CN=..." is exactly 1024, the longest accepted. */
	memset(cn, 'a', 1021);
	cn[1021] = '\0';
	use_crafted(cn, 1021);
	fake_user = cn;
	snprintf(dn, sizeof dn, "CN=%s", cn);
	login_ok(dn);
	fake_clientname = "DN";
	fake_user = dn;
	login_ok(dn);
	fake_clientname = NULL;

	memset(cn, 'a', 1022); /* CN fits, the recorded DN would not */
	cn[1022] = '\0';
	use_crafted(cn, 1022);
	fake_user = cn;
	login_fails("certificate's subject DN is longer than 1024 bytes");

	memset(cn, 'a', 1025);
	cn[1025] = '\0';
	use_crafted(cn, 1025);
	login_fails("certificate's common name is longer than 1024 bytes");

	use_cert("longdn");
	fake_user = "carol";
	login_fails("certificate's subject DN is longer than 1024 bytes");
	fake_clientname = "DN";
	login_fails("certificate's subject DN is longer than 1024 bytes");
}
END_TEST

START_TEST(test_bad_der)
{
	static uint8_t big[64 * 1024 + 1];
	static const uint8_t garbage[] = "this is not a certificate";

	use_cert("alice");
	fake_der_len--; /* truncated */
	login_fails("client certificate is not a valid DER certificate");
	fake_der_len++;
	owned_der[fake_der_len++] = 0; /* one byte too many */
	login_fails("client certificate is not a valid DER certificate");
	fake_der = garbage;
	fake_der_len = sizeof garbage;
	login_fails("client certificate is not a valid DER certificate");
	fake_der_len = 0;
	login_fails("client certificate is not a valid DER certificate");
	fake_der = big;
	fake_der_len = sizeof big;
	login_fails("client certificate is larger than 65536 bytes");
}
END_TEST

START_TEST(test_bad_clientname)
{
	use_cert("alice");
	fake_clientname = "cn";
	login_fails("cert: invalid value for clientname: \"cn\" (must be CN or DN)");
	fake_clientname = "UPN";
	login_fails("cert: invalid value for clientname: \"UPN\" (must be CN or DN)");
	fake_clientname = "";
	login_fails("cert: invalid value for clientname: \"\" (must be CN or DN)");
}
END_TEST

START_TEST(test_authn_id_refused)
{
	use_cert("alice");
	authn_fail = -ENOMEM;
	ck_assert_int_eq(login(&(const char *){NULL}), PGS_STEP_FAIL);
	ck_assert_int_eq(authn_calls, 1);
}
END_TEST

/* Non-interactive: one decision, then any call is out of turn. */
START_TEST(test_out_of_turn)
{
	static const uint8_t junk[] = "p";
	const char *detail = NULL;
	void *state = NULL;

	use_cert("alice");
	ck_assert_int_eq(desc->auth->conn_new(mod, THE_CONN, &state), 0);
	ck_assert_int_eq(desc->auth->step(mod, THE_CONN, state, NULL, 0, NULL, &detail),
	                 PGS_STEP_DONE);
	ck_assert_int_eq(desc->auth->step(mod, THE_CONN, state, NULL, 0, NULL, &detail),
	                 PGS_STEP_FAIL);
	ck_assert_str_eq(detail, "cert: step called out of turn");
	desc->auth->conn_free(mod, THE_CONN, state);

	ck_assert_int_eq(desc->auth->conn_new(mod, THE_CONN, &state), 0);
	ck_assert_int_eq(desc->auth->step(mod, THE_CONN, state, junk, 1, NULL, &detail),
	                 PGS_STEP_FAIL);
	ck_assert_str_eq(detail, "cert: step called out of turn");
	desc->auth->conn_free(mod, THE_CONN, state);
	ck_assert_int_eq(authn_calls, 1);
}
END_TEST

/* A host without ident maps (ABI 1.0 size): init warns, map= fails. */
START_TEST(test_old_host)
{
	static pgs_host old;
	void *m2;

	old = fake_host;
	old.size = offsetof(pgs_host, ident_match);
	ck_assert_int_eq(desc->init(&old, NULL, &m2), 0);
	ck_assert_ptr_nonnull(strstr(logbuf, "has no ident maps"));
	desc->fini(m2);
	use_cert("bob");
	fake_user = "robert";
	fake_map = "certmap";
	desc->fini(mod);
	ck_assert_int_eq(desc->init(&old, NULL, &mod), 0);
	login_fails("cert: a map is set but this host has no ident maps");
	fake_map = NULL;
	fake_user = "bob";
	login_ok("CN=bob,O=Org");
}
END_TEST

static Suite *cert_suite(void)
{
	Suite *s = suite_create("cert");
	TCase *tc = tcase_create("module");

	tcase_add_unchecked_fixture(tc, certs_make, certs_remove);
	tcase_add_checked_fixture(tc, module_setup, module_teardown);
	tcase_add_test(tc, test_descriptor);
	tcase_add_test(tc, test_no_cert);
	tcase_add_test(tc, test_cn_match);
	tcase_add_test(tc, test_cn_mismatch);
	tcase_add_test(tc, test_dn_mode);
	tcase_add_test(tc, test_map);
	tcase_add_test(tc, test_two_cn);
	tcase_add_test(tc, test_no_cn);
	tcase_add_test(tc, test_nul_in_cn);
	tcase_add_test(tc, test_empty_cn);
	tcase_add_test(tc, test_name_limits);
	tcase_add_test(tc, test_bad_der);
	tcase_add_test(tc, test_bad_clientname);
	tcase_add_test(tc, test_authn_id_refused);
	tcase_add_test(tc, test_out_of_turn);
	tcase_add_test(tc, test_old_host);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cert_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
