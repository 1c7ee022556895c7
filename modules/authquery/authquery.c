/*
 * authquery.c — the "authquery" module: a credential source that fetches
 * a user's password verifier from PostgreSQL, as PgBouncer's auth_query
 * does, over a few dedicated connections logged in as auth_user:
 *
 *   SELECT p_password FROM public.pgsluice_get_password($1)
 *
 * with the user name bound as $1, never written into the SQL.  The
 * function (SECURITY DEFINER over pg_shadow) is contrib/
 * pgsluice_get_password.sql.  With a SCRAM verifier the scram module
 * authenticates the client itself and then logs into PostgreSQL with the
 * ClientKey the client proved (pass-through): pgsluice never learns the
 * password.
 *
 * The host calls fetch() on its work pool once per client login of a pool
 * with security = "authquery", before the chain starts: a cached answer
 * younger than cache_ttl (a "no such user" younger than negative_ttl) is
 * used as it is, else the query runs, bounded by timeout (aq_pg.c).
 * lookup() runs on workers and never blocks: it answers from the cache
 * whatever the age (the backend pass-through login needs the verifier's
 * salt and iteration count), -ENOENT when the user is not cached.  The
 * cache (aq_cache.c) is bounded by cache_size, least recently used first
 * out, so a user evicted between the client login and a new server login
 * cannot get a server connection until its next client login.
 *
 * Config (the instance group):
 *   host = "127.0.0.1";        required: IP address, host name or Unix socket
 *                              directory (a host name is resolved by libpq
 *                              with a blocking DNS lookup: prefer an IP)
 *   port = 5432;
 *   dbname = "postgres";       where pgsluice_get_password() was loaded
 *   auth_user = "pgsluice_auth";  required: the role the connections log in as
 *   password_from = "vault";   optional: the credential instance holding
 *                              auth_user's password (a "plain" secret), read
 *                              each time a connection is opened; without it
 *                              no password is given (trust or peer on the
 *                              PostgreSQL side; libpq's own PGPASSWORD and
 *                              ~/.pgpass still apply)
 *   query = "SELECT p_password FROM public.pgsluice_get_password($1)";
 *                              must contain $1 (the user name, as text) and
 *                              return at most one row of one column
 *   cache_ttl = 60;            seconds a found secret is reused by fetch
 *                              without asking (0: always ask)
 *   negative_ttl = 5;          seconds an unknown user is remembered (0: never)
 *   cache_size = 10000;        users kept (1 .. 1000000)
 *   timeout = 5;               seconds (1 .. 300) a fetch may take in all:
 *                              waiting for a free connection, connecting,
 *                              and the query
 *   connections = 2;           dedicated connections at most (1 .. 64)
 *   sslmode = "prefer";        libpq's sslmode for those connections
 *   sslrootcert = "ca.crt";    optional; relative to the config file's directory
 * The connections pin search_path to pg_catalog, pg_temp and use
 * application_name "pgsluice-authquery".
 *
 * There is no reload op: the host builds a new instance from a new config
 * (the cache starts empty again).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include <pgsluice/module.h>

#include "aq_cache.h"
#include "aq_pg.h"

#define AQ_DEFAULT_QUERY        "SELECT p_password FROM public.pgsluice_get_password($1)"
#define AQ_MAX_NAME             63 /* PostgreSQL's longest role and database name */
#define AQ_MAX_INSTANCE         128
#define AQ_MAX_HOST             1024
#define AQ_MAX_PATH             4096
#define AQ_MAX_TTL              (30 * 86400)
#define AQ_MAX_NEGATIVE_TTL     86400
#define AQ_MAX_TIMEOUT          300
#define AQ_DEFAULT_CACHE_TTL    60
#define AQ_DEFAULT_NEGATIVE_TTL 5
#define AQ_DEFAULT_CACHE_SIZE   10000
#define AQ_DEFAULT_TIMEOUT      5
#define AQ_DEFAULT_CONNECTIONS  2

struct aq_module {
	const pgs_host *host;
	struct aq_cache *cache;
	struct aq_pg *pg;
	uint64_t cache_ttl_ms;
	uint64_t negative_ttl_ms;
	char auth_user[AQ_MAX_NAME + 1];
	char password_from[AQ_MAX_INSTANCE + 1]; /* "": none */
};

/* ------------------------------------------------------------ settings */

static const char *where(const pgs_host *host, const pgs_cfg *cfg, const char *key)
{
	const char *w = cfg != NULL && host->cfg_where != NULL ? host->cfg_where(cfg, key) : NULL;

	return w != NULL ? w : "?";
}

/* A string setting of at most max bytes; def when absent (NULL: required). */
static int cfg_text(const pgs_host *host, const pgs_cfg *cfg, const char *key, const char *def,
                    size_t max, const char **out)
{
	const char *v = NULL;
	int rc = cfg != NULL ? host->cfg_str(cfg, key, &v) : -ENOENT;

	if (rc == -ENOENT && def != NULL) {
		*out = def;
		return 0;
	}
	if (rc == -ENOENT) {
		host->log(PGS_LOG_ERROR, NULL, "%s: authquery: \"%s\" is required",
		          where(host, cfg, NULL), key);
		return -EINVAL;
	}
	if (rc < 0 || v == NULL || *v == '\0' || strnlen(v, max + 1) > max) {
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: authquery: \"%s\" must be a non-empty string of at most %zu bytes",
		          where(host, cfg, key), key, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int cfg_int_in(const pgs_host *host, const pgs_cfg *cfg, const char *key, int64_t lo,
                      int64_t hi, int64_t *val)
{
	int64_t v;
	int rc;

	if (cfg == NULL)
		return 0;
	rc = host->cfg_int(cfg, key, &v);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0 || v < lo || v > hi) {
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: authquery: \"%s\" must be an integer in %lld..%lld",
		          where(host, cfg, key), key, (long long)lo, (long long)hi);
		return -EINVAL;
	}
	*val = v;
	return 0;
}

static bool sslmode_known(const char *mode)
{
	static const char *const modes[] = {"disable", "allow",     "prefer",
	                                    "require", "verify-ca", "verify-full"};

	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
		if (strcmp(mode, modes[i]) == 0)
			return true;
	return false;
}

/* The optional sslrootcert path into buf: 0 (buf[0] == '\0' when absent)
 * or -EINVAL (logged). */
static int cfg_rootcert(const pgs_host *host, const pgs_cfg *cfg, char *buf, size_t size)
{
	int rc;

	buf[0] = '\0';
	if (cfg == NULL)
		return 0;
	rc = host->cfg_path(cfg, "sslrootcert", buf, size);
	if (rc == -ENOENT) {
		buf[0] = '\0';
		return 0;
	}
	if (rc < 0) {
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: authquery: \"sslrootcert\" must be a non-empty path%s",
		          where(host, cfg, "sslrootcert"),
		          rc == -ENAMETOOLONG ? " (path too long)" : "");
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------ module */

static void aq_fini(void *mod)
{
	struct aq_module *m = mod;

	if (m == NULL)
		return;
	aq_pg_free(m->pg);
	aq_cache_free(m->cache); /* wipes every secret */
	m->host->wipe_free(m, sizeof *m);
}

static int aq_init(const pgs_host *host, const pgs_cfg *cfg, void **mod)
{
	const char *pg_host, *dbname, *auth_user, *password_from = NULL, *probe, *query, *sslmode;
	int64_t port = 5432, cache_ttl = AQ_DEFAULT_CACHE_TTL,
	        negative_ttl = AQ_DEFAULT_NEGATIVE_TTL;
	int64_t cache_size = AQ_DEFAULT_CACHE_SIZE, timeout = AQ_DEFAULT_TIMEOUT;
	int64_t connections = AQ_DEFAULT_CONNECTIONS;
	char rootcert[AQ_MAX_PATH], port_text[8], err[AQ_PG_ERR_LEN];
	struct aq_pg_params params;
	struct aq_module *m;
	int rc;

	if (!PGS_HAS_FIELD(host, pgs_host, cred_lookup))
		return -ENOTSUP;
	if (cfg_text(host, cfg, "host", NULL, AQ_MAX_HOST, &pg_host) < 0 ||
	    cfg_text(host, cfg, "dbname", "postgres", AQ_MAX_NAME, &dbname) < 0 ||
	    cfg_text(host, cfg, "auth_user", NULL, AQ_MAX_NAME, &auth_user) < 0 ||
	    cfg_text(host, cfg, "query", AQ_DEFAULT_QUERY, AQ_PG_MAX_TEXT, &query) < 0 ||
	    cfg_text(host, cfg, "sslmode", "prefer", 16, &sslmode) < 0 ||
	    cfg_int_in(host, cfg, "port", 1, 65535, &port) < 0 ||
	    cfg_int_in(host, cfg, "cache_ttl", 0, AQ_MAX_TTL, &cache_ttl) < 0 ||
	    cfg_int_in(host, cfg, "negative_ttl", 0, AQ_MAX_NEGATIVE_TTL, &negative_ttl) < 0 ||
	    cfg_int_in(host, cfg, "cache_size", 1, AQ_CACHE_MAX_CAPACITY, &cache_size) < 0 ||
	    cfg_int_in(host, cfg, "timeout", 1, AQ_MAX_TIMEOUT, &timeout) < 0 ||
	    cfg_int_in(host, cfg, "connections", 1, AQ_PG_MAX_CONNECTIONS, &connections) < 0 ||
	    cfg_rootcert(host, cfg, rootcert, sizeof rootcert) < 0)
		return -EINVAL;
	if (cfg != NULL && host->cfg_str(cfg, "password_from", &probe) != -ENOENT &&
	    cfg_text(host, cfg, "password_from", NULL, AQ_MAX_INSTANCE, &password_from) < 0)
		return -EINVAL;
	if (strstr(query, "$1") == NULL) {
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: authquery: \"query\" must take the user name as $1",
		          where(host, cfg, "query"));
		return -EINVAL;
	}
	if (!sslmode_known(sslmode)) {
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: authquery: \"sslmode\" must be disable, allow, prefer, require, "
		          "verify-ca or verify-full",
		          where(host, cfg, "sslmode"));
		return -EINVAL;
	}

	m = host->alloc(sizeof *m);
	if (m == NULL)
		return -ENOMEM;
	memset(m, 0, sizeof *m);
	m->host = host;
	m->cache_ttl_ms = (uint64_t)cache_ttl * 1000u;
	m->negative_ttl_ms = (uint64_t)negative_ttl * 1000u;
	memcpy(m->auth_user, auth_user, strlen(auth_user) + 1);
	if (password_from != NULL)
		memcpy(m->password_from, password_from, strlen(password_from) + 1);

	rc = aq_cache_new(&(struct aq_cache_opts){.capacity = (size_t)cache_size}, &m->cache);
	if (rc < 0) {
		host->log(PGS_LOG_ERROR, NULL, "authquery: cannot create a cache of %lld users",
		          (long long)cache_size);
		aq_fini(m);
		return rc;
	}
	snprintf(port_text, sizeof port_text, "%u", (unsigned int)port);
	params = (struct aq_pg_params){
	        .host = pg_host,
	        .port = port_text,
	        .dbname = dbname,
	        .user = auth_user,
	        .sslmode = sslmode,
	        .sslrootcert = rootcert[0] != '\0' ? rootcert : NULL,
	        .query = query,
	        .connections = (unsigned int)connections,
	        .timeout_ms = (unsigned int)timeout * 1000u,
	};
	rc = aq_pg_new(&params, &m->pg, err, sizeof err);
	if (rc < 0) {
		host->log(PGS_LOG_ERROR, NULL, "%s: authquery: %s", where(host, cfg, NULL), err);
		aq_fini(m);
		return rc;
	}
	host->log(PGS_LOG_INFO, NULL,
	          "authquery: %s port %u database %s as %s (password %s%s), %lld connections, "
	          "timeout %lld s, cache %lld users (ttl %lld s, negative %lld s)",
	          pg_host, (unsigned int)port, dbname, auth_user,
	          password_from != NULL ? "from " : "none",
	          password_from != NULL ? password_from : "", (long long)connections,
	          (long long)timeout, (long long)cache_size, (long long)cache_ttl,
	          (long long)negative_ttl);
	*mod = m;
	return 0;
}

/* ------------------------------------------------------------ lookups */

/* Hand a secret to the host (host memory: it wipes and frees it). */
static int answer(const struct aq_module *m, const char *secret, size_t len, const char *kind,
                  pgs_secret *out)
{
	uint8_t *copy = m->host->alloc(len + 1);

	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, secret, len);
	copy[len] = '\0';
	out->kind = kind;
	out->data = copy;
	out->len = len;
	return 0;
}

/* A name that can be a role: non-empty and no longer than a role name. */
static bool user_name_ok(const char *user)
{
	return user != NULL && *user != '\0' && strnlen(user, AQ_MAX_NAME + 1) <= AQ_MAX_NAME;
}

static int aq_lookup(void *mod, const pgs_conn *conn, const char *user, pgs_secret *out)
{
	const struct aq_module *m = mod;
	char secret[AQ_CACHE_MAX_SECRET + 1];
	const char *kind = NULL;
	size_t len = 0;
	int rc = -ENOENT;

	(void)conn;
	if (!user_name_ok(user))
		return -ENOENT;
	if (aq_cache_get(m->cache, user, AQ_CACHE_ANY_AGE, 0, secret, sizeof secret, &len, &kind) ==
	    AQ_CACHE_FOUND) {
		rc = answer(m, secret, len, kind, out);
		OPENSSL_cleanse(secret, len);
	}
	return rc;
}

/* What the password callback of aq_pg needs. */
struct password_ctx {
	const struct aq_module *m;
	const pgs_conn *conn;
};

/* auth_user's password from the credential instance password_from. */
static int password_from_source(void *arg, char *buf, size_t size, char *err, size_t err_size)
{
	const struct password_ctx *ctx = arg;
	const struct aq_module *m = ctx->m;
	pgs_secret s = {.size = sizeof s};
	int rc;

	rc = m->host->cred_lookup(ctx->conn, m->password_from, m->auth_user, &s);
	if (rc == -ESRCH) {
		snprintf(err, err_size, "password_from: no credential instance named \"%s\"",
		         m->password_from);
		return -EIO;
	}
	if (rc < 0) {
		snprintf(err, err_size, "password_from: \"%s\" has no secret for auth_user \"%s\"",
		         m->password_from, m->auth_user);
		return -EIO;
	}
	if (s.kind == NULL || strcmp(s.kind, "plain") != 0 || s.len == 0 || s.len >= size ||
	    memchr(s.data, '\0', s.len) != NULL) {
		snprintf(err, err_size,
		         "password_from: the secret of \"%s\" in \"%s\" is not a usable password "
		         "(%s, 1 to %zu bytes)",
		         m->auth_user, m->password_from, s.kind != NULL ? s.kind : "?", size - 1);
		m->host->secret_release(&s);
		return -EIO;
	}
	memcpy(buf, s.data, s.len);
	buf[s.len] = '\0';
	m->host->secret_release(&s);
	return 0;
}

static int aq_fetch(void *mod, const pgs_conn *conn, const char *user, pgs_secret *out)
{
	struct aq_module *m = mod;
	struct password_ctx ctx = {.m = m, .conn = conn};
	struct aq_pg_answer ans;
	char err[AQ_PG_ERR_LEN];
	int rc;

	if (!user_name_ok(user)) {
		m->host->log(PGS_LOG_DEBUG, conn, "authquery: user name empty or over %d bytes",
		             AQ_MAX_NAME);
		return -ENOENT;
	}
	switch (aq_cache_get(m->cache, user, m->cache_ttl_ms, m->negative_ttl_ms, ans.value,
	                     sizeof ans.value, &ans.len, &ans.kind)) {
	case AQ_CACHE_FOUND:
		rc = answer(m, ans.value, ans.len, ans.kind, out);
		aq_pg_answer_clear(&ans);
		return rc;
	case AQ_CACHE_ABSENT:
		return -ENOENT;
	case AQ_CACHE_MISS:
		break;
	}

	err[0] = '\0';
	rc = aq_pg_fetch(m->pg, user, m->password_from[0] != '\0' ? password_from_source : NULL,
	                 &ctx, &ans, err, sizeof err);
	if (ans.duration_us > 0)
		m->host->log(PGS_LOG_DEBUG, conn,
		             "authquery: query for user \"%s\": %" PRIu64 ".%03u ms", user,
		             ans.duration_us / 1000u, (unsigned int)(ans.duration_us % 1000u));
	switch (rc) {
	case 0:
		if (aq_cache_put(m->cache, user, ans.value, ans.len, ans.kind) < 0)
			m->host->log(PGS_LOG_WARN, conn,
			             "authquery: cannot cache the secret of user \"%s\"", user);
		rc = answer(m, ans.value, ans.len, ans.kind, out);
		break;
	case -ENOENT:
		/* Also forgets a secret cached before the role went away, so
		 * that lookup() stops handing it to server logins. */
		if (m->negative_ttl_ms == 0 || aq_cache_put(m->cache, user, NULL, 0, NULL) < 0)
			aq_cache_remove(m->cache, user);
		break;
	default:
		m->host->log(PGS_LOG_WARN, conn,
		             "authquery: cannot fetch the secret of user \"%s\": %s", user,
		             err[0] != '\0' ? err : "unknown error");
		rc = -EIO;
		break;
	}
	aq_pg_answer_clear(&ans);
	return rc;
}

static const pgs_cred_ops aq_cred = {
        .size = sizeof(pgs_cred_ops),
        .lookup = aq_lookup,
        .fetch = aq_fetch,
};

static const pgs_module aq_desc = {
        PGS_MODULE_INIT("authquery", "0.1.0"),
        .init = aq_init,
        .fini = aq_fini,
        .cred = &aq_cred,
};

PGS_MODULE_EXPORT(aq_desc)
