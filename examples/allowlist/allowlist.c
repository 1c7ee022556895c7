/*
 * allowlist.c — an example out-of-tree pgsluice module.
 *
 * A frontend auth step that lets in only the users named in its `users`
 * setting (a comma-separated list) and refuses everyone else.  It shows
 * the whole ABI surface a simple module needs: the entry symbol, the
 * descriptor, init/fini, typed config, connection facts, the auth step and
 * logging through the host.  It is built outside the source tree, against
 * the installed header only:
 *
 *   cc -shared -fPIC -fvisibility=hidden $(pkg-config --cflags pgsluice) \
 *      -o allowlist.so allowlist.c
 *
 * and loaded by path:
 *
 *   modules = { allow = { path = "/path/to/allowlist.so"; users = "alice,bob"; }; };
 *   auth = { default_chain = ( { use = "allow"; } ); };
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pgsluice/module.h>

struct allowlist {
	const pgs_host *host;
	char *users; /* ",alice,bob," for a simple substring test */
};

static int allow_init(const pgs_host *host, const pgs_cfg *cfg, void **mod)
{
	struct allowlist *a;
	const char *users = NULL;
	size_t n;

	if (host->cfg_str(cfg, "users", &users) != 0) {
		host->log(PGS_LOG_ERROR, NULL,
		          "allowlist (%s): a string setting \"users\" is required",
		          host->cfg_where(cfg, NULL));
		return -EINVAL;
	}
	a = host->alloc(sizeof *a);
	if (a == NULL)
		return -ENOMEM;
	n = strlen(users);
	a->host = host;
	a->users = host->alloc(n + 3);
	if (a->users == NULL) {
		host->free(a);
		return -ENOMEM;
	}
	a->users[0] = ',';
	memcpy(a->users + 1, users, n);
	a->users[n + 1] = ',';
	a->users[n + 2] = 0;
	*mod = a;
	return 0;
}

static void allow_fini(void *mod)
{
	struct allowlist *a = mod;

	a->host->free(a->users);
	a->host->free(a);
}

static enum pgs_step allow_step(void *mod, pgs_conn *conn, void *state, const uint8_t *in,
                                size_t in_len, pgs_wbuf *out, const char **logdetail)
{
	struct allowlist *a = mod;
	const char *user = a->host->conn_param(conn, "user");
	char needle[130];
	size_t n;

	(void)state;
	(void)in;
	(void)in_len;
	(void)out;
	if (user == NULL || (n = strlen(user)) == 0 || n > 120 || strchr(user, ',')) {
		*logdetail = "allowlist: unusable user name";
		return PGS_STEP_FAIL;
	}
	needle[0] = ',';
	memcpy(needle + 1, user, n);
	needle[n + 1] = ',';
	needle[n + 2] = 0;
	if (strstr(a->users, needle) == NULL) {
		*logdetail = "allowlist: user is not on the list";
		return PGS_STEP_FAIL;
	}
	a->host->set_authn_id(conn, user);
	return PGS_STEP_DONE;
}

static const pgs_auth_ops allow_auth = {
        .size = sizeof(pgs_auth_ops),
        .flags = 0, /* sends nothing to the client */
        .step = allow_step,
};

static const pgs_module allow_desc = {
        PGS_MODULE_INIT("allowlist", "1.0.0"),
        .init = allow_init,
        .fini = allow_fini,
        .auth = &allow_auth,
};

PGS_MODULE_EXPORT(allow_desc)
