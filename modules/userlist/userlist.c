/*
 * userlist.c — the "userlist" module: a credential source reading
 * PgBouncer's auth_file format (userlist.txt), behind host->secret_lookup.
 *
 * Config:  file = "/etc/pgsluice/userlist.txt"   (required; a relative path
 *          is relative to the directory of the config file that sets it)
 *
 * The file is read once per instance: on SIGHUP the host creates a new
 * instance from the new config, which reads the file again, so there is no
 * reload op.  The table is immutable after init, so lookups from several
 * worker threads need no lock.  Parsing and the table are userlist_file.c.
 */
#include <errno.h>
#include <string.h>

#include <pgsluice/module.h>

#include "userlist_file.h"

struct userlist_module {
	const pgs_host *host;
	struct userlist *list;
};

static int userlist_init(const pgs_host *host, const pgs_cfg *cfg, void **mod)
{
	struct userlist_module *m;
	char path[4096];
	size_t kinds[3] = {0, 0, 0};
	char err[512];
	int rc;

	if (!PGS_HAS_FIELD(host, pgs_host, cfg_path))
		return -ENOTSUP;
	rc = cfg != NULL ? host->cfg_path(cfg, "file", path, sizeof path) : -ENOENT;
	if (rc < 0) {
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: userlist: \"file\" (the path of a userlist.txt) is required "
		          "and must be a non-empty string%s",
		          cfg != NULL && host->cfg_where ? host->cfg_where(cfg, NULL) : "?",
		          rc == -ENAMETOOLONG ? " (path too long)" : "");
		return -EINVAL;
	}
	m = host->alloc(sizeof *m);
	if (m == NULL)
		return -ENOMEM;
	m->host = host;
	rc = userlist_load(path, NULL, &m->list, err, sizeof err);
	if (rc < 0) {
		host->log(PGS_LOG_ERROR, NULL, "userlist: %s", err);
		host->free(m);
		return rc;
	}
	for (size_t i = 0; i < userlist_count(m->list); i++) {
		const char *kind = userlist_entry_at(m->list, i)->kind;

		kinds[strcmp(kind, "plain") == 0 ? 0 : strcmp(kind, "md5") == 0 ? 1 : 2]++;
	}
	host->log(PGS_LOG_INFO, NULL,
	          "userlist: %s: %zu users (%zu plain, %zu md5, %zu scram-sha-256)", path,
	          userlist_count(m->list), kinds[0], kinds[1], kinds[2]);
	if (userlist_count(m->list) == 0)
		host->log(PGS_LOG_WARN, NULL, "userlist: %s defines no user", path);
	*mod = m;
	return 0;
}

static void userlist_fini(void *mod)
{
	struct userlist_module *m = mod;

	if (m == NULL)
		return;
	userlist_free(m->list); /* wipes names and secrets */
	m->host->free(m);
}

/* Copy the secret of `user` into host memory (the host wipes and frees
 * it in secret_release). */
static int userlist_lookup(void *mod, const pgs_conn *conn, const char *user, pgs_secret *out)
{
	const struct userlist_module *m = mod;
	const struct userlist_entry *e;
	uint8_t *copy;

	(void)conn;
	e = userlist_find(m->list, user);
	if (e == NULL)
		return -ENOENT;
	copy = m->host->alloc(e->secret_len + 1);
	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, e->secret, e->secret_len);
	copy[e->secret_len] = '\0';
	out->kind = e->kind;
	out->data = copy;
	out->len = e->secret_len;
	return 0;
}

static const pgs_cred_ops userlist_cred = {
        .size = sizeof(pgs_cred_ops),
        .lookup = userlist_lookup,
};

static const pgs_module userlist_desc = {
        PGS_MODULE_INIT("userlist", "0.1.0"),
        .init = userlist_init,
        .fini = userlist_fini,
        .cred = &userlist_cred,
};

PGS_MODULE_EXPORT(userlist_desc)
