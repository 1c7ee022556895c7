/*
 * vault.c — the "vault" module: a credential source reading AES-256-GCM
 * vault files (DESIGN.md section 6; the format is vault_lib.h), behind
 * host->secret_lookup.
 *
 * Config (a relative path is relative to the config file that sets it):
 *   master_key = "../master.key";                         required
 *   master_key_passphrase_file = "../master.passphrase";  optional, a private
 *           file; else PGSLUICE_MASTER_PASSPHRASE; else the terminal, at the
 *           first start only
 *   users = "../users.vault";                    required: pgsluice -> PostgreSQL
 *   frontend_users = "../frontend_users.vault";  optional: client -> pgsluice
 *   admins = "../admins.vault";                  optional: admin console users
 *
 * Every file is read and decrypted once per instance, in init(): on SIGHUP
 * the host creates a new instance from the new config (which re-reads the
 * files; the master key comes from vault_key.c's cache, so no passphrase is
 * asked), so there is no reload op.  The tables are immutable after init,
 * so lookups from several worker threads need no lock.
 *
 * derive_key (ABI 1.5, host->cred_derive_key): other modules' keys are
 * derived from the master key with HKDF-SHA256 under a label of their own
 * (vault_crypto.h), e.g. the audit module's HMAC key under "audit-hmac";
 * pgsluice-admin derives the same bytes from master.key.
 *
 * Which table answers: server connections (and conn == NULL) take the
 * users table; a client connection whose pool's security model is
 * "frontend-users" takes frontend_users, any other the users table; a client
 * of the admin console whose config names this instance in admin.vault
 * (security "admin") takes the admins table.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <pgsluice/module.h>

#include "vault_crypto.h"
#include "vault_key.h"
#include "vault_lib.h"

#define VAULT_PATH_MAX       4096
#define VAULT_WHERE_MAX      256 /* "file:line" of the instance, for messages */
#define VAULT_MISSING_LISTED 20  /* frontend users named in the error */

struct vault_module {
	const pgs_host *host;
	struct vault_key *key;
	struct vault_table *users;
	struct vault_table *frontend_users; /* NULL when not configured */
	struct vault_table *admins;         /* NULL when not configured; loaded, checked */
	atomic_bool warned_no_frontend;
	char where[VAULT_WHERE_MAX];
};

/* The configured paths of one instance. */
struct vault_paths {
	char master_key[VAULT_PATH_MAX];
	char passphrase_file[VAULT_PATH_MAX];
	char users[VAULT_PATH_MAX];
	char frontend_users[VAULT_PATH_MAX];
	char admins[VAULT_PATH_MAX];
	bool has_passphrase_file, has_frontend_users, has_admins;
};

static long long vault_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Path setting `key` into out: 0 when set, 1 when absent and optional,
 * else a negative errno, logged. */
static int vault_cfg_path(const pgs_host *host, const pgs_cfg *cfg, const char *key, bool required,
                          char *out, size_t out_size)
{
	int rc = host->cfg_path(cfg, key, out, out_size);

	if (rc == 0)
		return 0;
	if (rc == -ENOENT && !required)
		return 1;
	host->log(PGS_LOG_ERROR, NULL, "%s: vault: \"%s\" %s", host->cfg_where(cfg, key), key,
	          rc == -ENOENT         ? "(a file path) is required"
	          : rc == -ENAMETOOLONG ? "is too long a path"
	                                : "must be a non-empty string (a file path)");
	return rc == -ENOENT ? -EINVAL : rc;
}

static int vault_read_paths(const pgs_host *host, const pgs_cfg *cfg, struct vault_paths *p)
{
	int rc;

	if ((rc = vault_cfg_path(host, cfg, "master_key", true, p->master_key,
	                         sizeof p->master_key)) < 0 ||
	    (rc = vault_cfg_path(host, cfg, "users", true, p->users, sizeof p->users)) < 0)
		return rc;
	rc = vault_cfg_path(host, cfg, "master_key_passphrase_file", false, p->passphrase_file,
	                    sizeof p->passphrase_file);
	if (rc < 0)
		return rc;
	p->has_passphrase_file = rc == 0;
	rc = vault_cfg_path(host, cfg, "frontend_users", false, p->frontend_users,
	                    sizeof p->frontend_users);
	if (rc < 0)
		return rc;
	p->has_frontend_users = rc == 0;
	rc = vault_cfg_path(host, cfg, "admins", false, p->admins, sizeof p->admins);
	if (rc < 0)
		return rc;
	p->has_admins = rc == 0;
	return 0;
}

/* Load and decrypt one vault file; logs the outcome either way. */
static int vault_load(const pgs_host *host, const char *path, const char *master_path,
                      const struct vault_key *key, struct vault_table **out)
{
	size_t kinds[3] = {0, 0, 0};
	char err[1024];
	long long t0 = vault_now_ms();
	int rc;

	rc = vault_table_load(path, vault_key_bytes(key), out, err, sizeof err);
	if (rc == -ENOENT) {
		host->log(PGS_LOG_ERROR, NULL,
		          "vault: %s does not exist: create it with "
		          "`pgsluice-admin user add -f %s -k %s -U USER`",
		          path, path, master_path);
		return rc;
	}
	if (rc < 0) {
		host->log(PGS_LOG_ERROR, NULL, "vault: %s", err);
		return rc;
	}
	for (size_t i = 0; i < (*out)->n; i++) {
		const char *kind = (*out)->e[i].kind;

		kinds[strcmp(kind, "plain") == 0 ? 0 : strcmp(kind, "md5") == 0 ? 1 : 2]++;
	}
	host->log(PGS_LOG_INFO, NULL,
	          "vault: %s: %zu users (%zu plain, %zu md5, %zu scram-sha-256) loaded in %lld ms",
	          path, (*out)->n, kinds[0], kinds[1], kinds[2], vault_now_ms() - t0);
	if ((*out)->n == 0)
		host->log(PGS_LOG_WARN, NULL, "vault: %s defines no user", path);
	return 0;
}

/* Every frontend user must have a PostgreSQL password in users: the pool
 * logs into PostgreSQL with it.  -EINVAL, with the first missing names
 * logged, when some do not. */
static int vault_check_frontend(const struct vault_module *m, const struct vault_paths *p)
{
	char list[VAULT_MISSING_LISTED * (VAULT_MAX_USER + 4) + 64];
	size_t missing = 0, used = 0;

	list[0] = '\0';
	for (size_t i = 0; i < m->frontend_users->n; i++) {
		const char *user = m->frontend_users->e[i].user;
		int n;

		if (vault_table_find(m->users, user) != NULL)
			continue;
		if (missing++ >= VAULT_MISSING_LISTED)
			continue;
		n = snprintf(list + used, sizeof list - used, "%s\"%s\"", used > 0 ? ", " : "",
		             user);
		if (n > 0 && (size_t)n < sizeof list - used)
			used += (size_t)n;
	}
	if (missing == 0)
		return 0;
	if (missing > VAULT_MISSING_LISTED)
		snprintf(list + used, sizeof list - used, " and %zu more",
		         missing - VAULT_MISSING_LISTED);
	m->host->log(PGS_LOG_ERROR, NULL,
	             "vault: %zu frontend user%s of %s %s no password in %s (every frontend "
	             "user needs the password pgsluice logs into PostgreSQL with): %s",
	             missing, missing == 1 ? "" : "s", p->frontend_users,
	             missing == 1 ? "has" : "have", p->users, list);
	return -EINVAL;
}

static void vault_fini(void *mod)
{
	struct vault_module *m = mod;

	if (m == NULL)
		return;
	/* vault_table_free wipes every secret */
	if (m->users != NULL)
		vault_table_free(m->users);
	if (m->frontend_users != NULL)
		vault_table_free(m->frontend_users);
	if (m->admins != NULL)
		vault_table_free(m->admins);
	vault_key_release(m->key);
	m->host->free(m);
}

static int vault_init(const pgs_host *host, const pgs_cfg *cfg, void **mod)
{
	struct vault_module *m;
	struct vault_paths *p;
	const char *where;
	int rc;

	if (!PGS_HAS_FIELD(host, pgs_host, cfg_path))
		return -ENOTSUP;
	if (cfg == NULL) {
		host->log(PGS_LOG_ERROR, NULL, "vault: \"master_key\" and \"users\" are required");
		return -EINVAL;
	}
	p = host->alloc(sizeof *p);
	m = host->alloc(sizeof *m);
	if (p == NULL || m == NULL) {
		if (p != NULL)
			host->free(p);
		if (m != NULL)
			host->free(m);
		return -ENOMEM;
	}
	memset(p, 0, sizeof *p);
	memset(m, 0, sizeof *m);
	m->host = host;
	atomic_init(&m->warned_no_frontend, false);
	where = host->cfg_where(cfg, NULL);
	snprintf(m->where, sizeof m->where, "%s", where != NULL ? where : "?");

	rc = vault_read_paths(host, cfg, p);
	if (rc == 0)
		rc = vault_key_acquire(host, p->master_key,
		                       p->has_passphrase_file ? p->passphrase_file : NULL, &m->key);
	if (rc == 0)
		rc = vault_load(host, p->users, p->master_key, m->key, &m->users);
	if (rc == 0 && p->has_frontend_users)
		rc = vault_load(host, p->frontend_users, p->master_key, m->key, &m->frontend_users);
	if (rc == 0 && p->has_admins)
		rc = vault_load(host, p->admins, p->master_key, m->key, &m->admins);
	if (rc == 0 && m->frontend_users != NULL)
		rc = vault_check_frontend(m, p);
	host->free(p);
	if (rc < 0) {
		vault_fini(m);
		return rc;
	}
	*mod = m;
	return 0;
}

/* The table answering for conn (see the file comment); NULL, with a
 * warning once per instance, for a frontend-users pool when this instance
 * has no frontend_users file. */
static const struct vault_table *vault_table_for(struct vault_module *m, const pgs_conn *conn)
{
	const char *security;

	if (conn == NULL || m->host->conn_side(conn) == PGS_SIDE_SERVER)
		return m->users;
	security = m->host->conn_param(conn, "security");
	if (security != NULL && strcmp(security, "admin") == 0)
		return m->admins; /* the admin console (admin.vault): NULL = nobody */
	if (security == NULL || strcmp(security, "frontend-users") != 0)
		return m->users;
	if (m->frontend_users == NULL &&
	    !atomic_exchange_explicit(&m->warned_no_frontend, true, memory_order_relaxed))
		m->host->log(PGS_LOG_WARN, conn,
		             "vault: a pool uses the frontend-users security model, but the vault "
		             "instance of %s has no frontend_users file: its clients are refused",
		             m->where);
	return m->frontend_users;
}

/* Copy the secret of `user` into host memory (the host wipes and frees
 * it in secret_release).  Never blocks: the tables are in memory. */
static int vault_lookup(void *mod, const pgs_conn *conn, const char *user, pgs_secret *out)
{
	struct vault_module *m = mod;
	const struct vault_table *t = vault_table_for(m, conn);
	const struct vault_secret *e;
	uint8_t *copy;

	if (t == NULL || user == NULL)
		return -ENOENT;
	e = vault_table_find(t, user);
	if (e == NULL)
		return -ENOENT;
	copy = m->host->alloc(e->len + 1);
	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, e->secret, e->len);
	copy[e->len] = '\0';
	out->kind = e->kind;
	out->data = copy;
	out->len = e->len;
	return 0;
}

/* Key material for another concern (see the file comment).  Called from
 * the other module's init(), on the main thread; the master key stays in
 * vault_key.c's locked page, out stays the caller's to wipe. */
static int vault_derive_key(void *mod, const char *label, uint8_t *out, size_t len)
{
	struct vault_module *m = mod;
	int rc;

	if (m == NULL || m->key == NULL)
		return -EINVAL;
	rc = vault_derive(vault_key_bytes(m->key), label, out, len);
	if (rc == 0)
		m->host->log(PGS_LOG_INFO, NULL,
		             "vault: a %zu-byte key derived from the master key for \"%s\"", len,
		             label);
	else
		m->host->log(PGS_LOG_ERROR, NULL,
		             "vault: cannot derive a key for \"%.*s\" (%zu bytes): %s",
		             VAULT_DERIVE_LABEL_MAX, label != NULL ? label : "(null)", len,
		             rc == -EINVAL ? "a label is 1 to 64 printable characters without "
		                             "blanks, a length 1 to 64 bytes"
		                           : strerror(-rc));
	return rc;
}

static const pgs_cred_ops vault_cred = {
        .size = sizeof(pgs_cred_ops),
        .lookup = vault_lookup,
        .derive_key = vault_derive_key,
};

static const pgs_module vault_desc = {
        PGS_MODULE_INIT("vault", "0.1.0"),
        .init = vault_init,
        .fini = vault_fini,
        .cred = &vault_cred,
};

PGS_MODULE_EXPORT(vault_desc)
