/*
 * check_gss.c — the gss module, loaded with dlopen behind a fake host,
 * against a real MIT KDC started by tests/lib/kdc-up.sh (realm EXAMPLE.TEST
 * on loopback, users alice, bob, pgsluice; services postgres/localhost and
 * HTTP/localhost): init refusals, the frontend GSSAPI exchange driven by a
 * real initiator context (alice's ticket), the principal checks
 * (include_realm, krb_realm, krb_caseins_users, map, role), bad tokens, the
 * GSS-encrypted shortcut, a ticket for another service, and the backend
 * login (pgsluice's client keytab, or a ccache) checked by a real acceptor,
 * including a KDC that is down.
 *
 * KRB5_CONFIG and KRB5CCNAME point into the throwaway realm before the first
 * GSSAPI call: /etc/krb5.conf is never read.
 */
#include "autoconf.h"

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

#include "pgsluice/module.h"

#define MODULE_PATH BUILD_MODULEDIR "/gss.so"
#define MAX_TOKEN   65536
#define REALM       "EXAMPLE.TEST"

static char dir[PATH_MAX];     /* mkdtemp base; the realm in dir/krb5 */
static char logbuf[16384];     /* everything the module logged */
static const char *cfg_kv[32]; /* key, value, ..., NULL; booleans "true"/"false" */
static int defer_runs;

/* ------------------------------------------------------------ fake host */

struct pgs_cfg {
	int unused;
};

struct pgs_conn {
	enum pgs_side side;
	const char *params[16]; /* name, value, ..., NULL */
	const char *opts[16];   /* step options */
	char authn_id[1100];
	void *mem[32]; /* conn_alloc */
	int nmem;
};

struct pgs_wbuf {
	int n;         /* messages written */
	char type;     /* last message: 'R' or the wbuf_msg type */
	uint32_t code; /* last 'R' code */
	uint8_t data[MAX_TOKEN + 16];
	size_t len;
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

static void h_wipe_free(void *p, size_t len)
{
	if (p != NULL)
		memset(p, 0, len);
	free(p);
}

static void *h_conn_alloc(pgs_conn *conn, size_t len)
{
	void *p;

	if (conn->nmem >= 32)
		return NULL;
	p = calloc(1, len);
	conn->mem[conn->nmem++] = p;
	return p;
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
		return -ENOENT;
	if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
		return -EINVAL;
	*out = v;
	return 0;
}

static int h_cfg_bool(const pgs_cfg *cfg, const char *key, bool *out)
{
	const char *v = lookup(cfg_kv, key);

	(void)cfg;
	if (v == NULL)
		return -ENOENT;
	if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
		return -EINVAL;
	*out = strcmp(v, "true") == 0;
	return 0;
}

static int h_cfg_path(const pgs_cfg *cfg, const char *key, char *out, size_t size)
{
	const char *v;
	int rc = h_cfg_str(cfg, key, &v);

	if (rc < 0)
		return rc;
	if (*v == '\0')
		return -EINVAL;
	return snprintf(out, size, "%s", v) < (int)size ? 0 : -ENAMETOOLONG;
}

/* "gss.conf:N": N = 10 + the key's position, 1 for the group. */
static const char *h_cfg_where(const pgs_cfg *cfg, const char *key)
{
	static char bufs[4][32];
	static int next;
	char *b = bufs[next++ % 4];
	int line = 1;

	(void)cfg;
	for (int i = 0; key != NULL && cfg_kv[i] != NULL; i += 2)
		if (strcmp(cfg_kv[i], key) == 0)
			line = 10 + i / 2;
	snprintf(b, sizeof bufs[0], "gss.conf:%d", line);
	return b;
}

static enum pgs_side h_conn_side(const pgs_conn *conn)
{
	return conn->side;
}

static const char *h_conn_param(const pgs_conn *conn, const char *name)
{
	if (strcmp(name, "authn_id") == 0)
		return conn->authn_id[0] != '\0' ? conn->authn_id : NULL;
	return lookup(conn->params, name);
}

static const char *h_step_option(const pgs_conn *conn, const char *name)
{
	return lookup(conn->opts, name);
}

static int h_set_authn_id(pgs_conn *conn, const char *id)
{
	snprintf(conn->authn_id, sizeof conn->authn_id, "%s", id);
	return 0;
}

static int h_wbuf_auth(pgs_wbuf *out, uint32_t code, const void *data, size_t len)
{
	ck_assert_uint_le(len, MAX_TOKEN);
	out->n++;
	out->type = 'R';
	out->code = code;
	out->len = len;
	if (len > 0)
		memcpy(out->data, data, len);
	return 0;
}

static int h_wbuf_msg(pgs_wbuf *out, char type, const void *data, size_t len)
{
	ck_assert_uint_le(len, MAX_TOKEN);
	out->n++;
	out->type = type;
	out->code = 0;
	out->len = len;
	if (len > 0)
		memcpy(out->data, data, len);
	return 0;
}

/* Synchronous: the test calls the step again, as the host would. */
static int h_defer(pgs_conn *conn, void (*work)(void *arg), void *arg)
{
	(void)conn;
	defer_runs++;
	work(arg);
	return 0;
}

static int h_ct_memcmp(const void *a, const void *b, size_t len)
{
	return memcmp(a, b, len);
}

/* Map "krb": alice (with or without realm) may be "analyst". */
static int h_ident_match(const pgs_conn *conn, const char *map, const char *system_user,
                         const char *role)
{
	(void)conn;
	if (strcmp(map, "krb") != 0)
		return -ENOENT;
	if ((strcmp(system_user, "alice@" REALM) == 0 || strcmp(system_user, "alice") == 0) &&
	    strcmp(role, "analyst") == 0)
		return 0;
	return -EACCES;
}

static const pgs_host host = {
        .size = sizeof(pgs_host),
        .abi_major = PGS_ABI_MAJOR,
        .abi_minor = PGS_ABI_MINOR,
        .host_version = "check_gss",
        .log = h_log,
        .alloc = malloc,
        .free = free,
        .conn_alloc = h_conn_alloc,
        .wipe_free = h_wipe_free,
        .cfg_str = h_cfg_str,
        .cfg_bool = h_cfg_bool,
        .cfg_where = h_cfg_where,
        .conn_side = h_conn_side,
        .conn_param = h_conn_param,
        .step_option = h_step_option,
        .set_authn_id = h_set_authn_id,
        .wbuf_auth = h_wbuf_auth,
        .wbuf_msg = h_wbuf_msg,
        .defer = h_defer,
        .ct_memcmp = h_ct_memcmp,
        .ident_match = h_ident_match,
        .cfg_path = h_cfg_path,
};

static struct pgs_cfg the_cfg;
static struct pgs_wbuf wb;

static void conn_reset(pgs_conn *conn)
{
	for (int i = 0; i < conn->nmem; i++)
		free(conn->mem[i]);
	memset(conn, 0, sizeof *conn);
}

/* ------------------------------------------------------------ helpers */

static void *dl;
static const pgs_module *desc;

static void load(void)
{
	const pgs_module *(*entry)(void);
	const char *path = getenv("CHECK_GSS_MODULE");

	dl = dlopen(path != NULL ? path : MODULE_PATH, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(dl != NULL, "%s", dlerror());
	*(void **)&entry = dlsym(dl, PGS_ENTRY_SYMBOL);
	ck_assert_ptr_nonnull(entry);
	desc = entry();
	ck_assert_str_eq(desc->name, "gss");
	ck_assert_ptr_nonnull(desc->auth);
	ck_assert_ptr_nonnull(desc->backend);
	ck_assert_str_eq(desc->auth->method, "GSSAPI");
	ck_assert_str_eq(desc->auth->fail_sqlstate, "28000");
	ck_assert_uint_eq(desc->auth->flags, PGS_AUTH_INTERACTIVE | PGS_AUTH_FINAL_FAILURE);
	ck_assert_uint_eq(desc->backend->auth_codes, (1u << 7) | (1u << 8));
	logbuf[0] = '\0';
	defer_runs = 0;
	memset(&wb, 0, sizeof wb);
}

static void unload(void)
{
	dlclose(dl);
}

static const char *kpath(const char *name)
{
	static char paths[8][PATH_MAX + 32];
	static int next;
	char *p = paths[next++ % 8];

	snprintf(p, PATH_MAX + 32, "%s/krb5/%s", dir, name);
	return p;
}

static void set_cfg(const char *const *pairs)
{
	int n = 0;

	for (; pairs != NULL && *pairs != NULL && n < 30; pairs++)
		cfg_kv[n++] = *pairs;
	cfg_kv[n] = NULL;
}

static void *init_ok(const char *const *pairs)
{
	void *mod = NULL;

	set_cfg(pairs);
	logbuf[0] = '\0';
	ck_assert_msg(desc->init(&host, &the_cfg, &mod) == 0, "init: %s", logbuf);
	ck_assert_ptr_nonnull(mod);
	return mod;
}

/* The usual acceptor instance (+ extra pairs). */
static void *init_acceptor(const char *k1, const char *v1, const char *k2, const char *v2)
{
	const char *kv[] = {"keytab", kpath("postgres.keytab"), k1, v1, k2, v2, NULL};

	return init_ok(kv);
}

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

/* ------------------------------------------------------------ GSSAPI peers */

/* A client context (alice's ticket from KRB5CCNAME) for "service@localhost". */
struct peer {
	gss_ctx_id_t ctx;
	gss_name_t target;
	gss_buffer_desc tok;
	OM_uint32 maj;
};

static void peer_init(struct peer *p, const char *service, const void *in, size_t len)
{
	gss_buffer_desc input = {.length = len, .value = (void *)in}, name;
	OM_uint32 min;

	if (p->target == GSS_C_NO_NAME) {
		name.value = (void *)service;
		name.length = strlen(service);
		ck_assert_int_eq(
		        gss_import_name(&min, &name, GSS_C_NT_HOSTBASED_SERVICE, &p->target),
		        GSS_S_COMPLETE);
	}
	if (p->tok.value != NULL)
		gss_release_buffer(&min, &p->tok);
	p->maj = gss_init_sec_context(&min, GSS_C_NO_CREDENTIAL, &p->ctx, p->target, GSS_C_NO_OID,
	                              GSS_C_MUTUAL_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_CONF_FLAG |
	                                      GSS_C_INTEG_FLAG,
	                              0, GSS_C_NO_CHANNEL_BINDINGS, in ? &input : GSS_C_NO_BUFFER,
	                              NULL, &p->tok, NULL, NULL);
	ck_assert_msg(!GSS_ERROR(p->maj), "client gss_init_sec_context: %u/%u", p->maj, min);
}

static void peer_free(struct peer *p)
{
	OM_uint32 min;

	if (p->tok.value != NULL)
		gss_release_buffer(&min, &p->tok);
	if (p->ctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&min, &p->ctx, GSS_C_NO_BUFFER);
	if (p->target != GSS_C_NO_NAME)
		gss_release_name(&min, &p->target);
	memset(p, 0, sizeof *p);
}

/* A server (acceptor) context from a keytab, as PostgreSQL would run it. */
struct acceptor {
	gss_cred_id_t cred;
	gss_ctx_id_t ctx;
	gss_buffer_desc tok;
	char principal[256];
};

static void acceptor_step(struct acceptor *a, const char *keytab, const void *in, size_t len)
{
	gss_key_value_element_desc kt = {"keytab", keytab};
	gss_key_value_set_desc store = {1, &kt};
	gss_buffer_desc input = {.length = len, .value = (void *)in}, disp;
	gss_name_t src = GSS_C_NO_NAME;
	OM_uint32 maj, min;

	if (a->cred == GSS_C_NO_CREDENTIAL)
		ck_assert_int_eq(gss_acquire_cred_from(&min, GSS_C_NO_NAME, GSS_C_INDEFINITE,
		                                       GSS_C_NO_OID_SET, GSS_C_ACCEPT, &store,
		                                       &a->cred, NULL, NULL),
		                 GSS_S_COMPLETE);
	maj = gss_accept_sec_context(&min, &a->ctx, a->cred, &input, GSS_C_NO_CHANNEL_BINDINGS,
	                             &src, NULL, &a->tok, NULL, NULL, NULL);
	ck_assert_msg(maj == GSS_S_COMPLETE, "test acceptor: %u/%u", maj, min);
	ck_assert_int_eq(gss_display_name(&min, src, &disp, NULL), GSS_S_COMPLETE);
	snprintf(a->principal, sizeof a->principal, "%.*s", (int)disp.length,
	         (const char *)disp.value);
	gss_release_buffer(&min, &disp);
	gss_release_name(&min, &src);
}

static void acceptor_free(struct acceptor *a)
{
	OM_uint32 min;

	if (a->tok.value != NULL)
		gss_release_buffer(&min, &a->tok);
	if (a->ctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&min, &a->ctx, GSS_C_NO_BUFFER);
	if (a->cred != GSS_C_NO_CREDENTIAL)
		gss_release_cred(&min, &a->cred);
	memset(a, 0, sizeof *a);
}

/* ------------------------------------------------------------ frontend runs */

/* A client connection as user `user` with step options (name, value, ..., NULL). */
static void client_conn(pgs_conn *conn, const char *user, const char *const *opts)
{
	int n = 0;

	conn_reset(conn);
	conn->side = PGS_SIDE_CLIENT;
	conn->params[0] = "user";
	conn->params[1] = user;
	conn->params[2] = "transport";
	conn->params[3] = "tcp";
	for (; opts != NULL && *opts != NULL && n < 14; opts++)
		conn->opts[n++] = *opts;
}

/*
 * The whole exchange: AuthenticationGSS, alice's token for `service`, the
 * module's answer; on DONE the client must accept the final token.
 */
static enum pgs_step fe_run(void *mod, pgs_conn *conn, const char *service, const char **detail)
{
	const pgs_auth_ops *ops = desc->auth;
	struct peer p = {0};
	enum pgs_step r;
	void *st = NULL;

	*detail = NULL;
	memset(&wb, 0, sizeof wb);
	ck_assert_int_eq(ops->conn_new(mod, conn, &st), 0);
	ck_assert_int_eq(ops->step(mod, conn, st, NULL, 0, &wb, detail), PGS_STEP_NEED_INPUT);
	ck_assert_int_eq(wb.n, 1);
	ck_assert_int_eq(wb.type, 'R');
	ck_assert_uint_eq(wb.code, 7);
	ck_assert_uint_eq(wb.len, 0);
	peer_init(&p, service, NULL, 0);
	ck_assert_int_eq(p.maj, GSS_S_CONTINUE_NEEDED);
	r = ops->step(mod, conn, st, p.tok.value, p.tok.length, &wb, detail);
	if (r == PGS_STEP_DONE) {
		/* mutual authentication: the AP-REP went out as GSSContinue */
		ck_assert_int_eq(wb.n, 2);
		ck_assert_uint_eq(wb.code, 8);
		peer_init(&p, service, wb.data, wb.len);
		ck_assert_int_eq(p.maj, GSS_S_COMPLETE);
	}
	ops->conn_free(mod, conn, st);
	peer_free(&p);
	return r;
}

/* fe_run as `user` with options; expect `want`, and (on FAIL) `detail_has`. */
static void fe_expect(void *mod, const char *user, const char *const *opts, enum pgs_step want,
                      const char *detail_has)
{
	pgs_conn conn = {0};
	const char *detail;
	enum pgs_step r;

	client_conn(&conn, user, opts);
	r = fe_run(mod, &conn, "postgres@localhost", &detail);
	ck_assert_msg(r == want, "user %s: step %d, want %d (%s)", user, r, want,
	              detail ? detail : "no detail");
	/* the identity is recorded whether or not the role check passes */
	ck_assert_str_eq(conn.authn_id, "alice@" REALM);
	if (detail_has != NULL)
		ck_assert_msg(detail != NULL && strstr(detail, detail_has) != NULL,
		              "detail \"%s\" lacks \"%s\"", detail ? detail : "(null)", detail_has);
	conn_reset(&conn);
}

/* ------------------------------------------------------------ init */

struct refusal {
	const char *kv[8];
	const char *want;  /* in the log */
	const char *where; /* file:line named */
};

static struct refusal refusals[] = {
        {{"keytab", "@krb5/missing.keytab", NULL}, "cannot open keytab", "gss.conf:10"},
        {{"keytab", "@open.keytab", NULL}, "group or world access (mode 0644)", "gss.conf:10"},
        {{"keytab", "@HTTP.keytab", NULL}, "no usable key for service \"postgres\"", "gss.conf:10"},
        {{"keytab", "@garbage.keytab", NULL}, "has no usable key", "gss.conf:10"},
        {{"keytab", "@", NULL}, "is not a regular file", "gss.conf:10"},
        {{"keytab", "@postgres.keytab", "krb_srvname", "post/gres", NULL},
         "must not contain '/'",
         "gss.conf:11"},
        {{"keytab", "@postgres.keytab", "krb_srvname", "a@b", NULL},
         "must not contain",
         "gss.conf:11"},
        {{"keytab", "@postgres.keytab", "krb_srvname",
          "s234567890123456789012345678901234567890123456789012345678901234", NULL},
         "at most 63 bytes",
         "gss.conf:11"},
        {{"keytab", "@postgres.keytab", "krb_srvname", "", NULL},
         "non-empty string",
         "gss.conf:11"},
        {{"keytab", "@postgres.keytab", "include_realm", "yes", NULL},
         "must be a boolean",
         "gss.conf:11"},
        {{"client_keytab", "@open.keytab", NULL}, "client_keytab", "gss.conf:10"},
        {{"client_principal", "pgsluice", NULL}, "needs client_keytab or ccache", "gss.conf:10"},
        {{"map", "krb", NULL}, "nothing to do", "gss.conf:1"},
        {{"keytab", "@postgres.keytab", "krb_srvname", "HTTPS", NULL},
         "no usable key for service \"HTTPS\"",
         "gss.conf:10"},
};

/* Values "@name" are files in the realm directory ("@" alone: the directory). */
START_TEST(test_init_refusals)
{
	const struct refusal *t = &refusals[_i];
	static char paths[8][PATH_MAX + 32];
	const char *kv[8];
	void *mod = NULL;

	for (int i = 0; i < 8; i++) {
		kv[i] = t->kv[i];
		if (kv[i] != NULL && kv[i][0] == '@') {
			snprintf(paths[i], sizeof paths[i], "%s/krb5/%s", dir, kv[i] + 1);
			kv[i] = paths[i];
		}
		if (kv[i] == NULL)
			break;
	}
	set_cfg(kv);
	logbuf[0] = '\0';
	ck_assert_int_lt(desc->init(&host, &the_cfg, &mod), 0);
	ck_assert_msg(strstr(logbuf, t->want) != NULL, "case %d: log lacks \"%s\": %s", _i, t->want,
	              logbuf);
	ck_assert_msg(strstr(logbuf, t->where) != NULL, "case %d: log lacks %s: %s", _i, t->where,
	              logbuf);
}
END_TEST

START_TEST(test_init_ok)
{
	const char *both[] = {"keytab",
	                      kpath("postgres.keytab"),
	                      "client_keytab",
	                      kpath("pgsluice.keytab"),
	                      "krb_realm",
	                      REALM,
	                      "map",
	                      "krb",
	                      "include_realm",
	                      "false",
	                      NULL};
	const char *ccache_only[] = {"ccache", "MEMORY:check-gss", NULL};
	const char *srv[] = {"keytab", kpath("HTTP.keytab"), "krb_srvname", "HTTP", NULL};

	desc->fini(init_ok(both));
	desc->fini(init_ok(ccache_only));
	desc->fini(init_ok(srv));
	ck_assert_int_eq(defer_runs, 0); /* nothing ran on the "work pool" */
}
END_TEST

/* ------------------------------------------------------------ frontend */

/* Default settings: include_realm on, no map: the role must be the principal. */
START_TEST(test_fe_default_and_role_mismatch)
{
	void *mod = init_acceptor(NULL, NULL, NULL, NULL);

	fe_expect(mod, "alice@" REALM, NULL, PGS_STEP_DONE, NULL);
	fe_expect(mod, "alice", NULL, PGS_STEP_FAIL,
	          "provided user name (alice) and authenticated user name (alice@" REALM
	          ") do not match");
	fe_expect(mod, "bob", (const char *[]){"include_realm", "0", NULL}, PGS_STEP_FAIL,
	          "provided user name (bob) and authenticated user name (alice) do not match");
	desc->fini(mod);
}
END_TEST

START_TEST(test_fe_include_realm)
{
	void *mod = init_acceptor("include_realm", "false", NULL, NULL);

	fe_expect(mod, "alice", NULL, PGS_STEP_DONE, NULL);
	fe_expect(mod, "alice", (const char *[]){"include_realm", "1", NULL}, PGS_STEP_FAIL,
	          "do not match");
	fe_expect(mod, "alice@" REALM, (const char *[]){"include_realm", "1", NULL}, PGS_STEP_DONE,
	          NULL);
	fe_expect(mod, "alice", (const char *[]){"include_realm", "maybe", NULL}, PGS_STEP_FAIL,
	          "include_realm option");
	desc->fini(mod);
	mod = init_acceptor(NULL, NULL, NULL, NULL);
	fe_expect(mod, "alice", (const char *[]){"include_realm", "0", NULL}, PGS_STEP_DONE, NULL);
	desc->fini(mod);
}
END_TEST

START_TEST(test_fe_krb_realm)
{
	const char *const noreal[] = {"include_realm", "0", NULL};
	void *mod = init_acceptor("krb_realm", REALM, "include_realm", "false");

	fe_expect(mod, "alice", NULL, PGS_STEP_DONE, NULL);
	fe_expect(mod, "alice", (const char *[]){"krb_realm", "OTHER.TEST", NULL}, PGS_STEP_FAIL,
	          "GSSAPI realm (" REALM ") does not match krb_realm (OTHER.TEST)");
	fe_expect(mod, "alice", (const char *[]){"krb_realm", "example.test", NULL}, PGS_STEP_FAIL,
	          "does not match krb_realm (example.test)");
	desc->fini(mod);
	mod = init_acceptor("krb_realm", "OTHER.TEST", NULL, NULL);
	fe_expect(mod, "alice", noreal, PGS_STEP_FAIL, "does not match krb_realm (OTHER.TEST)");
	fe_expect(mod, "alice", (const char *[]){"include_realm", "0", "krb_realm", REALM, NULL},
	          PGS_STEP_DONE, NULL);
	desc->fini(mod);
}
END_TEST

START_TEST(test_fe_caseins)
{
	void *mod = init_acceptor("krb_caseins_users", "true", "include_realm", "false");

	fe_expect(mod, "ALICE", NULL, PGS_STEP_DONE, NULL);
	fe_expect(mod, "Alice", (const char *[]){"krb_realm", "example.test", NULL}, PGS_STEP_DONE,
	          NULL);
	desc->fini(mod);
	mod = init_acceptor("krb_caseins_users", "false", "include_realm", "false");
	fe_expect(mod, "ALICE", NULL, PGS_STEP_FAIL,
	          "provided user name (ALICE) and authenticated user name (alice) do not match");
	desc->fini(mod);
}
END_TEST

START_TEST(test_fe_map)
{
	void *mod = init_acceptor("map", "krb", NULL, NULL);

	fe_expect(mod, "analyst", NULL, PGS_STEP_DONE, NULL);
	fe_expect(mod, "boss", NULL, PGS_STEP_FAIL,
	          "no match in ident map \"krb\" for user \"boss\" authenticated as \"alice@" REALM
	          "\"");
	fe_expect(mod, "analyst", (const char *[]){"map", "nomap", NULL}, PGS_STEP_FAIL,
	          "ident map \"nomap\" does not exist");
	fe_expect(mod, "analyst", (const char *[]){"include_realm", "0", NULL}, PGS_STEP_DONE,
	          NULL);
	desc->fini(mod);
	mod = init_acceptor(NULL, NULL, NULL, NULL);
	fe_expect(mod, "analyst", (const char *[]){"map", "krb", NULL}, PGS_STEP_DONE, NULL);
	fe_expect(mod, "analyst", NULL, PGS_STEP_FAIL, "do not match");
	desc->fini(mod);
}
END_TEST

/* Garbage, empty and oversize tokens; calls out of turn. */
START_TEST(test_fe_bad_tokens)
{
	const pgs_auth_ops *ops = desc->auth;
	void *mod = init_acceptor(NULL, NULL, NULL, NULL), *st;
	static uint8_t big[MAX_TOKEN + 1];
	const char *detail;
	pgs_conn conn = {0};
	struct {
		const void *tok;
		size_t len;
		const char *want;
	} cases[] = {
	        {"\x60\x10garbage-token-xyz", 18, "accepting GSS security context failed"},
	        {"x", 1, "accepting GSS security context failed"},
	        {"", 0, "empty"},
	        {big, sizeof big, "too long"},
	        {NULL, 0, "empty"},
	};

	memset(big, 0x60, sizeof big);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		client_conn(&conn, "alice@" REALM, NULL);
		memset(&wb, 0, sizeof wb);
		ck_assert_int_eq(ops->conn_new(mod, &conn, &st), 0);
		ck_assert_int_eq(ops->step(mod, &conn, st, NULL, 0, &wb, &detail),
		                 PGS_STEP_NEED_INPUT);
		detail = NULL;
		ck_assert_int_eq(
		        ops->step(mod, &conn, st, cases[i].tok, cases[i].len, &wb, &detail),
		        PGS_STEP_FAIL);
		ck_assert_msg(detail != NULL && strstr(detail, cases[i].want) != NULL,
		              "case %zu: %s", i, detail ? detail : "(null)");
		ck_assert_int_eq(wb.n, 1); /* only AuthenticationGSS went out */
		ck_assert_str_eq(conn.authn_id, "");
		/* anything after the refusal is out of turn */
		ck_assert_int_eq(ops->step(mod, &conn, st, (const uint8_t *)"x", 1, &wb, &detail),
		                 PGS_STEP_FAIL);
		ops->conn_free(mod, &conn, st);
		conn_reset(&conn);
	}
	/* a client message before the first step; conn_free right after conn_new */
	client_conn(&conn, "alice", NULL);
	ck_assert_int_eq(ops->conn_new(mod, &conn, &st), 0);
	ck_assert_int_eq(ops->step(mod, &conn, st, (const uint8_t *)"x", 1, &wb, &detail),
	                 PGS_STEP_FAIL);
	ck_assert_ptr_nonnull(strstr(detail, "out of turn"));
	ops->conn_free(mod, &conn, st);
	ck_assert_int_eq(ops->conn_new(mod, &conn, &st), 0);
	ops->conn_free(mod, &conn, st);
	conn_reset(&conn);
	desc->fini(mod);
}
END_TEST

/* A GSS-encrypted connection: the transport authenticated the principal. */
START_TEST(test_fe_encrypted_shortcut)
{
	const char *no_acceptor[] = {"client_keytab", kpath("pgsluice.keytab"), NULL};
	const pgs_auth_ops *ops = desc->auth;
	const char *opts[] = {"include_realm", "0", NULL};
	void *mod = init_ok(no_acceptor), *st;
	const char *detail = NULL;
	pgs_conn conn = {0};

	client_conn(&conn, "bob", opts);
	conn.params[3] = "gss";
	conn.params[4] = "gss_principal";
	conn.params[5] = "bob@" REALM;
	memset(&wb, 0, sizeof wb);
	ck_assert_int_eq(ops->conn_new(mod, &conn, &st), 0);
	ck_assert_int_eq(ops->step(mod, &conn, st, NULL, 0, &wb, &detail), PGS_STEP_DONE);
	ck_assert_int_eq(wb.n, 0); /* no AuthenticationGSS */
	ck_assert_str_eq(conn.authn_id, "bob@" REALM);
	ops->conn_free(mod, &conn, st);

	/* the checks still apply */
	client_conn(&conn, "alice", opts);
	conn.params[3] = "gss";
	conn.params[4] = "gss_principal";
	conn.params[5] = "bob@" REALM;
	ck_assert_int_eq(ops->conn_new(mod, &conn, &st), 0);
	ck_assert_int_eq(ops->step(mod, &conn, st, NULL, 0, &wb, &detail), PGS_STEP_FAIL);
	ck_assert_ptr_nonnull(strstr(detail, "(alice) and authenticated user name (bob)"));
	ck_assert_int_eq(wb.n, 0);
	ops->conn_free(mod, &conn, st);

	/* not encrypted, and no keytab: GSSAPI auth is impossible */
	client_conn(&conn, "bob", opts);
	ck_assert_int_eq(ops->conn_new(mod, &conn, &st), 0);
	ck_assert_int_eq(ops->step(mod, &conn, st, NULL, 0, &wb, &detail), PGS_STEP_FAIL);
	ck_assert_ptr_nonnull(strstr(detail, "needs a keytab"));
	ck_assert_int_eq(wb.n, 0);
	ops->conn_free(mod, &conn, st);
	conn_reset(&conn);
	desc->fini(mod);
}
END_TEST

/* A ticket for HTTP/localhost, accepted by a keytab holding both keys. */
START_TEST(test_fe_other_service)
{
	const char *kv[] = {"keytab", kpath("both.keytab"), NULL};
	void *mod = init_ok(kv);
	pgs_conn conn = {0};
	const char *detail;

	client_conn(&conn, "alice@" REALM, NULL);
	ck_assert_int_eq(fe_run(mod, &conn, "HTTP@localhost", &detail), PGS_STEP_FAIL);
	ck_assert_msg(strstr(detail, "HTTP/localhost@" REALM) != NULL &&
	                      strstr(detail, "not for service \"postgres\"") != NULL,
	              "%s", detail);
	ck_assert_str_eq(conn.authn_id, "");
	conn_reset(&conn);
	/* the same keytab serves postgres/localhost */
	fe_expect(mod, "alice@" REALM, NULL, PGS_STEP_DONE, NULL);
	desc->fini(mod);
}
END_TEST

/* A ticket that expired before the client's token reached pgsluice: the
 * test realm's krb5.conf has clockskew = 1 (see kdc_setup). */
START_TEST(test_fe_expired_ticket)
{
	const pgs_auth_ops *ops = desc->auth;
	void *mod = init_acceptor(NULL, NULL, NULL, NULL), *st;
	const char *detail = NULL, *old = NULL;
	char cc[PATH_MAX + 32];
	struct peer p = {0};
	pgs_conn conn = {0};
	OM_uint32 min;

	snprintf(cc, sizeof cc, "FILE:%s/krb5/cc-short", dir);
	ck_assert_int_eq(run("echo alicepass | KRB5CCNAME=%s kinit -l 2s alice@" REALM
	                     " > /dev/null 2>&1",
	                     cc),
	                 0);
	ck_assert_int_eq(gss_krb5_ccache_name(&min, cc, &old), GSS_S_COMPLETE);
	peer_init(&p, "postgres@localhost", NULL, 0); /* a token while the ticket is valid */
	ck_assert_int_eq(gss_krb5_ccache_name(&min, getenv("KRB5CCNAME"), NULL), GSS_S_COMPLETE);
	sleep(4); /* 2 s of lifetime + 1 s of clock skew, and a margin */
	client_conn(&conn, "alice@" REALM, NULL);
	memset(&wb, 0, sizeof wb);
	ck_assert_int_eq(ops->conn_new(mod, &conn, &st), 0);
	ck_assert_int_eq(ops->step(mod, &conn, st, NULL, 0, &wb, &detail), PGS_STEP_NEED_INPUT);
	ck_assert_int_eq(ops->step(mod, &conn, st, p.tok.value, p.tok.length, &wb, &detail),
	                 PGS_STEP_FAIL);
	ck_assert_msg(detail != NULL && strstr(detail, "expired") != NULL, "%s",
	              detail ? detail : "(null)");
	ck_assert_str_eq(conn.authn_id, "");
	ops->conn_free(mod, &conn, st);
	peer_free(&p);
	conn_reset(&conn);
	desc->fini(mod);
}
END_TEST

/* ------------------------------------------------------------ backend */

static void server_conn(pgs_conn *conn, const char *host_name, const char *srvname)
{
	conn_reset(conn);
	conn->side = PGS_SIDE_SERVER;
	conn->params[0] = "server_host";
	conn->params[1] = host_name;
	conn->params[2] = srvname != NULL ? "krbsrvname" : NULL;
	conn->params[3] = srvname;
}

/* The login against a test acceptor using `keytab`; returns who it saw. */
static void be_login(void *mod, const char *srvname, const char *keytab, const char *want)
{
	const pgs_backend_ops *ops = desc->backend;
	struct acceptor a = {0};
	const char *detail = NULL;
	pgs_conn conn = {0};
	void *st;
	int runs = defer_runs;

	server_conn(&conn, "localhost", srvname);
	memset(&wb, 0, sizeof wb);
	ck_assert_int_eq(ops->conn_new(mod, &conn, &st), 0);
	ck_assert_int_eq(ops->step(mod, &conn, st, 7, (const uint8_t *)"", 0, &wb, &detail),
	                 PGS_STEP_PENDING);
	ck_assert_int_eq(defer_runs, runs + 1);
	ck_assert_int_eq(wb.n, 0);
	ck_assert_int_eq(ops->step(mod, &conn, st, 7, NULL, 0, &wb, &detail), PGS_STEP_NEED_INPUT);
	ck_assert_int_eq(wb.n, 1);
	ck_assert_int_eq(wb.type, 'p');
	acceptor_step(&a, keytab, wb.data, wb.len);
	ck_assert_str_eq(a.principal, want);
	ck_assert_uint_gt(a.tok.length, 0);
	ck_assert_int_eq(ops->step(mod, &conn, st, 8, a.tok.value, a.tok.length, &wb, &detail),
	                 PGS_STEP_DONE);
	ck_assert_int_eq(wb.n, 1); /* nothing more to send */
	ck_assert_int_eq(defer_runs, runs + 1);
	ops->conn_free(mod, &conn, st);
	acceptor_free(&a);
	conn_reset(&conn);
}

START_TEST(test_be_client_keytab)
{
	const char *kv[] = {"client_keytab", kpath("pgsluice.keytab"), NULL};
	void *mod = init_ok(kv);

	be_login(mod, NULL, kpath("postgres.keytab"), "pgsluice@" REALM);
	be_login(mod, NULL, kpath("postgres.keytab"), "pgsluice@" REALM); /* cached cred */
	be_login(mod, "HTTP", kpath("HTTP.keytab"), "pgsluice@" REALM);
	desc->fini(mod);
}
END_TEST

/* ccache alone: the ticket kdc-up.sh got for alice. */
START_TEST(test_be_ccache)
{
	const char *kv[] = {"ccache", getenv("KRB5CCNAME"), "client_principal", "alice@" REALM,
	                    NULL};
	void *mod = init_ok(kv);

	be_login(mod, NULL, kpath("postgres.keytab"), "alice@" REALM);
	desc->fini(mod);
}
END_TEST

/* Refusals: no initiator, a Unix socket, no host, a garbage server token,
 * codes out of turn. */
START_TEST(test_be_refusals)
{
	const char *kt_only[] = {"keytab", kpath("postgres.keytab"), NULL};
	const char *ckt[] = {"client_keytab", kpath("pgsluice.keytab"), NULL};
	const pgs_backend_ops *ops = desc->backend;
	const char *detail = NULL;
	pgs_conn conn = {0};
	void *mod, *st;

	mod = init_ok(kt_only);
	server_conn(&conn, "localhost", NULL);
	ck_assert_int_eq(ops->conn_new(mod, &conn, &st), 0);
	ck_assert_int_eq(ops->step(mod, &conn, st, 7, NULL, 0, &wb, &detail), PGS_STEP_FAIL);
	ck_assert_str_eq(detail, "the server asks for GSSAPI, but no client_keytab or ccache is "
	                         "configured in module gss");
	ops->conn_free(mod, &conn, st);
	desc->fini(mod);

	mod = init_ok(ckt);
	server_conn(&conn, "/var/run/postgresql", NULL);
	ck_assert_int_eq(ops->conn_new(mod, &conn, &st), 0);
	ck_assert_int_eq(ops->step(mod, &conn, st, 7, NULL, 0, &wb, &detail), PGS_STEP_FAIL);
	ck_assert_msg(strstr(detail, "Unix socket") != NULL, "%s", detail);
	ops->conn_free(mod, &conn, st);

	server_conn(&conn, NULL, NULL);
	ck_assert_int_eq(ops->conn_new(mod, &conn, &st), 0);
	ck_assert_int_eq(ops->step(mod, &conn, st, 7, NULL, 0, &wb, &detail), PGS_STEP_FAIL);
	ck_assert_ptr_nonnull(strstr(detail, "host name is unknown"));
	ops->conn_free(mod, &conn, st);

	/* GSSContinue first */
	server_conn(&conn, "localhost", NULL);
	ck_assert_int_eq(ops->conn_new(mod, &conn, &st), 0);
	ck_assert_int_eq(ops->step(mod, &conn, st, 8, (const uint8_t *)"x", 1, &wb, &detail),
	                 PGS_STEP_FAIL);
	ck_assert_ptr_nonnull(strstr(detail, "code 8 out of turn"));
	ops->conn_free(mod, &conn, st);

	/* a garbage answer from the server, then an empty one */
	for (int i = 0; i < 2; i++) {
		memset(&wb, 0, sizeof wb);
		ck_assert_int_eq(ops->conn_new(mod, &conn, &st), 0);
		ck_assert_int_eq(ops->step(mod, &conn, st, 7, NULL, 0, &wb, &detail),
		                 PGS_STEP_PENDING);
		ck_assert_int_eq(ops->step(mod, &conn, st, 7, NULL, 0, &wb, &detail),
		                 PGS_STEP_NEED_INPUT);
		ck_assert_int_eq(ops->step(mod, &conn, st, 8, (const uint8_t *)"\x6f\x03zzz",
		                           i == 0 ? 5 : 0, &wb, &detail),
		                 PGS_STEP_FAIL);
		ck_assert_msg(strstr(detail, i == 0 ? "GSSAPI context initiation failed"
		                                    : "empty or too long") != NULL,
		              "%s", detail);
		ck_assert_int_eq(wb.n, 1);
		ops->conn_free(mod, &conn, st);
	}
	/* conn_free while the first step is "pending" (job done, not collected) */
	ck_assert_int_eq(ops->conn_new(mod, &conn, &st), 0);
	ck_assert_int_eq(ops->step(mod, &conn, st, 7, NULL, 0, &wb, &detail), PGS_STEP_PENDING);
	ops->conn_free(mod, &conn, st);
	conn_reset(&conn);
	desc->fini(mod);
}
END_TEST

/* Credentials that cannot be had: the deferred first step says which. */
START_TEST(test_be_bad_creds)
{
	const pgs_backend_ops *ops = desc->backend;
	const char *detail = NULL;
	char cc[PATH_MAX + 32];
	pgs_conn conn = {0};
	void *mod, *st;
	const char *kv[] = {"ccache", cc, NULL};
	const char *other[] = {"client_keytab", kpath("pgsluice.keytab"), "client_principal",
	                       "bob@" REALM, NULL};

	snprintf(cc, sizeof cc, "FILE:%s/krb5/no-such-ccache", dir);
	mod = init_ok(kv);
	server_conn(&conn, "localhost", NULL);
	for (int i = 0; i < 2; i++) { /* a failure is not cached: the same again */
		ck_assert_int_eq(ops->conn_new(mod, &conn, &st), 0);
		ck_assert_int_eq(ops->step(mod, &conn, st, 7, NULL, 0, &wb, &detail),
		                 PGS_STEP_PENDING);
		ck_assert_int_eq(ops->step(mod, &conn, st, 7, NULL, 0, &wb, &detail),
		                 PGS_STEP_FAIL);
		ck_assert_msg(strstr(detail, "could not acquire Kerberos credentials for pgsluice "
		                             "from ccache FILE:") != NULL,
		              "%s", detail);
		ops->conn_free(mod, &conn, st);
	}
	desc->fini(mod);

	/* a principal the client keytab has no key for */
	mod = init_ok(other);
	ck_assert_int_eq(ops->conn_new(mod, &conn, &st), 0);
	ck_assert_int_eq(ops->step(mod, &conn, st, 7, NULL, 0, &wb, &detail), PGS_STEP_PENDING);
	ck_assert_int_eq(ops->step(mod, &conn, st, 7, NULL, 0, &wb, &detail), PGS_STEP_FAIL);
	ck_assert_msg(strstr(detail, "bob@" REALM) != NULL, "%s", detail);
	ops->conn_free(mod, &conn, st);
	conn_reset(&conn);
	desc->fini(mod);
}
END_TEST

/* The KDC is down: the deferred first step fails and says why. */
START_TEST(test_be_kdc_down)
{
	const char *kv[] = {"client_keytab", kpath("pgsluice.keytab"), NULL};
	const pgs_backend_ops *ops = desc->backend;
	const char *detail = NULL;
	pgs_conn conn = {0};
	void *mod, *st;

	ck_assert_int_eq(run("kill -TERM $(cat %s/krb5/krb5kdc.pid) && sleep 0.3", dir), 0);
	mod = init_ok(kv); /* init never asks the KDC */
	server_conn(&conn, "localhost", NULL);
	ck_assert_int_eq(ops->conn_new(mod, &conn, &st), 0);
	ck_assert_int_eq(ops->step(mod, &conn, st, 7, NULL, 0, &wb, &detail), PGS_STEP_PENDING);
	ck_assert_int_eq(ops->step(mod, &conn, st, 7, NULL, 0, &wb, &detail), PGS_STEP_FAIL);
	ck_assert_msg(strstr(detail, "Cannot contact any KDC") != NULL, "%s", detail);
	ops->conn_free(mod, &conn, st);
	conn_reset(&conn);
	desc->fini(mod);
}
END_TEST

/* ------------------------------------------------------------ realm */

static void kdc_setup(void)
{
	const char *t = getenv("TMPDIR");
	char buf[PATH_MAX + 64];

	snprintf(dir, sizeof dir, "%s/pgs-check-gss-XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(dir) == NULL ||
	    run("KDC_PORT_BASE=18200 KRB_USERS='alice:alicepass bob:bobpass pgsluice:pgsluicepass' "
	        "KRB_SERVICES='postgres/localhost HTTP/localhost' KRB_KEYTAB_OWNER=$(id -un) "
	        "bash %s/lib/kdc-up.sh %s > %s/kdc-up.log 2>&1",
	        TEST_SRCDIR, dir, dir) != 0 ||
	    run("cd %s/krb5 && export KRB5_CONFIG=$PWD/krb5.conf && "
	        "printf 'rkt postgres.keytab\\nrkt HTTP.keytab\\nwkt both.keytab\\nq\\n' | "
	        "ktutil > /dev/null 2>&1 && chmod 600 both.keytab && "
	        "cp postgres.keytab open.keytab && chmod 644 open.keytab && "
	        "head -c 300 /dev/urandom > garbage.keytab && chmod 600 garbage.keytab && "
	        "sed -i 's/^\\[libdefaults\\]$/&\\n    clockskew = 1/' krb5.conf",
	        dir) != 0) {
		fprintf(stderr, "check_gss: cannot start the test realm in %s (see kdc-up.log)\n",
		        dir);
		exit(EXIT_FAILURE);
	}
	/* Before any GSSAPI call: never /etc/krb5.conf, never the user's tickets. */
	snprintf(buf, sizeof buf, "%s/krb5/krb5.conf", dir);
	setenv("KRB5_CONFIG", buf, 1);
	snprintf(buf, sizeof buf, "FILE:%s/krb5/ccache", dir);
	setenv("KRB5CCNAME", buf, 1);
	unsetenv("KRB5_KTNAME");
	unsetenv("KRB5_CLIENT_KTNAME");
	unsetenv("KRB5_TRACE");
}

static void kdc_teardown(void)
{
	run("bash %s/lib/kdc-down.sh %s > /dev/null 2>&1", TEST_SRCDIR, dir);
	if (getenv("CHECK_GSS_KEEP") == NULL)
		run("rm -rf '%s'", dir);
}

static Suite *gss_suite(void)
{
	Suite *s = suite_create("gss");
	TCase *tc = tcase_create("module");

	tcase_add_unchecked_fixture(tc, kdc_setup, kdc_teardown);
	tcase_add_checked_fixture(tc, load, unload);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_init_refusals, 0, sizeof refusals / sizeof refusals[0]);
	tcase_add_test(tc, test_init_ok);
	tcase_add_test(tc, test_fe_default_and_role_mismatch);
	tcase_add_test(tc, test_fe_include_realm);
	tcase_add_test(tc, test_fe_krb_realm);
	tcase_add_test(tc, test_fe_caseins);
	tcase_add_test(tc, test_fe_map);
	tcase_add_test(tc, test_fe_bad_tokens);
	tcase_add_test(tc, test_fe_encrypted_shortcut);
	tcase_add_test(tc, test_fe_other_service);
	tcase_add_test(tc, test_fe_expired_ticket);
	tcase_add_test(tc, test_be_client_keytab);
	tcase_add_test(tc, test_be_ccache);
	tcase_add_test(tc, test_be_refusals);
	tcase_add_test(tc, test_be_bad_creds);
	tcase_add_test(tc, test_be_kdc_down); /* last: it stops the KDC */
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	sr = srunner_create(gss_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
