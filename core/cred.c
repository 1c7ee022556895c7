/*
 * cred.c — where secrets come from.
 *
 * A pool's `security` setting (config.h, enum pool_security) says which
 * credential module instances answer host->secret_lookup:
 *
 *   model           client connection           server connection
 *   passthrough     every credential module     pool password, else the
 *                   without fetch, in order     same modules (login user)
 *   vault           the vault instance          the vault instance
 *   frontend-users  the vault instance (which   the vault instance (its
 *                   reads conn_param            users)
 *                   "security": frontend users)
 *   authquery       what fetch() returned       pool password, else the
 *                   before the chain started    instance's lookup (cache)
 *
 * A fetch runs on the work pool (workpool.c) like a module's defer(): the
 * client waits in CL_AUTH with defer_inflight set, and a client that
 * leaves meanwhile stays a zombie until the job is done, so the job may
 * read the client (conn_param, cred_named_lookup) throughout.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "conn.h"
#include "cred.h"
#include "log.h"
#include "modload.h"
#include "runtime.h"
#include "workpool.h"

struct cred_fetch {
	bool running;
	struct mod_instance *inst;
	const pgs_conn *conn;
	const char *user; /* the client's startup user (lives as long as the client) */
	pgs_secret secret;
	int rc;
};

static const struct cfg_pool *conn_pool(const struct pgs_conn *c)
{
	if (c->side == PGS_SIDE_SERVER)
		return ((const struct server *)c)->pcfg;
	const struct client *cl = (const struct client *)c;

	if (cl->sp.database == NULL || cl->sp.user == NULL)
		return NULL;
	return config_find_pool(cl->gen->cfg, cl->sp.database, cl->sp.user);
}

static struct mod_set *conn_mods(const struct pgs_conn *c)
{
	return c->side == PGS_SIDE_CLIENT ? ((const struct client *)c)->gen->mods
	                                  : ((const struct server *)c)->gen->mods;
}

static bool fetches(const pgs_cred_ops *ops)
{
	return PGS_HAS_FIELD(ops, pgs_cred_ops, fetch) && ops->fetch != NULL;
}

/* Bookkeeping for a secret a module filled (data from host->alloc). */
static void adopt(pgs_secret *out)
{
	out->opaque = (void *)out->data;
	out->size = sizeof *out;
}

static int ask(struct mod_instance *mi, const pgs_conn *conn, const char *user, pgs_secret *out)
{
	int rc = mi->desc->cred->lookup(mi->state, conn, user, out);

	if (rc == 0)
		adopt(out);
	return rc;
}

/* Passthrough: the credential modules without fetch, in config order. */
static int ask_all(struct mod_set *ms, const pgs_conn *conn, const char *user, pgs_secret *out)
{
	for (size_t i = 0; i < ms->nmods; i++) {
		const pgs_cred_ops *ops = ms->mods[i].desc->cred;
		int rc;

		if (ops == NULL || ops->lookup == NULL || fetches(ops))
			continue;
		rc = ask(&ms->mods[i], conn, user, out);
		if (rc != -ENOENT)
			return rc;
	}
	return -ENOENT;
}

static int ask_named(struct mod_set *ms, const char *name, const pgs_conn *conn, const char *user,
                     pgs_secret *out)
{
	struct mod_instance *mi = modload_find(ms, name);

	if (mi == NULL || mi->desc->cred == NULL || mi->desc->cred->lookup == NULL)
		return -ESRCH;
	return ask(mi, conn, user, out);
}

static int copy_secret(const pgs_secret *from, pgs_secret *out)
{
	char *copy = malloc(from->len + 1);

	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, from->data, from->len);
	copy[from->len] = '\0';
	out->kind = from->kind;
	out->data = (const uint8_t *)copy;
	out->len = from->len;
	out->opaque = copy;
	return 0;
}

/* A client of the admin console's database whose admins come from a
 * credential instance (admin.vault). */
static const char *admin_vault(const struct pgs_conn *c)
{
	const struct client *cl = (const struct client *)c;
	const struct cfg_admin *a;

	if (c->side != PGS_SIDE_CLIENT)
		return NULL;
	a = &cl->gen->cfg->admin;
	if (a->vault == NULL || a->database == NULL || cl->sp.database == NULL ||
	    strcmp(cl->sp.database, a->database) != 0)
		return NULL;
	return a->vault;
}

static int client_lookup(struct client *cl, const char *user, pgs_secret *out)
{
	const struct cfg_pool *pc = conn_pool(&cl->c);
	const struct cred_fetch *f = cl->fetch;
	const char *admins = admin_vault(&cl->c);

	if (admins != NULL) /* the admins table of that instance only */
		return ask_named(cl->gen->mods, admins, (pgs_conn *)&cl->c, user, out);

	if (pc == NULL || pc->security == SEC_PASSTHROUGH)
		return ask_all(cl->gen->mods, (pgs_conn *)&cl->c, user, out);
	if (pc->security != SEC_AUTHQUERY)
		return ask_named(cl->gen->mods, pc->cred_instance, (pgs_conn *)&cl->c, user, out);
	/* What the fetch said, for the startup user only. */
	if (f == NULL || f->running || strcmp(user, cl->sp.user) != 0)
		return -EIO;
	if (f->rc < 0)
		return f->rc == -ENOENT ? -ENOENT : -EIO;
	return copy_secret(&f->secret, out);
}

static int server_lookup(struct server *sv, pgs_secret *out)
{
	const struct cfg_pool *pc = sv->pcfg;
	const pgs_conn *conn = (const pgs_conn *)&sv->c;

	if (pc->password != NULL) {
		pgs_secret pw = {
		        .kind = "plain",
		        .data = (const uint8_t *)pc->password,
		        .len = strlen(pc->password),
		};

		return copy_secret(&pw, out);
	}
	/* Without a pool password: the login user's secret (PgBouncer's
	 * auth_file serves both sides the same way). */
	if (pc->security == SEC_PASSTHROUGH)
		return ask_all(sv->gen->mods, conn, sv->login_user, out);
	return ask_named(sv->gen->mods, pc->cred_instance, conn, sv->login_user, out);
}

int cred_secret_lookup(pgs_conn *conn, const char *user, pgs_secret *out)
{
	struct pgs_conn *c = (struct pgs_conn *)conn;
	int rc;

	memset(out, 0, sizeof *out);
	out->size = sizeof *out;
	if (user == NULL)
		return -EINVAL;
	if (c->side == PGS_SIDE_SERVER)
		rc = server_lookup((struct server *)c, out);
	else
		rc = client_lookup((struct client *)c, user, out);
	return rc == -ESRCH ? -EIO : rc;
}

int cred_named_lookup(const pgs_conn *conn, const char *instance, const char *user, pgs_secret *out)
{
	if (out == NULL)
		return -EINVAL;
	memset(out, 0, sizeof *out);
	out->size = sizeof *out;
	if (conn == NULL || instance == NULL || user == NULL)
		return -EINVAL;
	return ask_named(conn_mods((const struct pgs_conn *)conn), instance, conn, user, out);
}

int cred_derive_key(const pgs_cfg *cfg, const char *instance, const char *label, uint8_t *out,
                    size_t len)
{
	struct mod_instance *mi;
	const pgs_cred_ops *ops;

	if (cfg == NULL || instance == NULL || label == NULL || out == NULL || len == 0 || len > 64)
		return -EINVAL;
	mi = modload_find(cfg->set, instance); /* only those initialised so far */
	if (mi == NULL || (ops = mi->desc->cred) == NULL)
		return -ESRCH;
	if (!PGS_HAS_FIELD(ops, pgs_cred_ops, derive_key) || ops->derive_key == NULL)
		return -ENOTSUP;
	return ops->derive_key(mi->state, label, out, len);
}

const char *cred_security(const pgs_conn *conn)
{
	const struct cfg_pool *pc;

	if (admin_vault((const struct pgs_conn *)conn) != NULL)
		return "admin";
	pc = conn_pool((const struct pgs_conn *)conn);

	return pc != NULL ? pool_security_name(pc->security) : NULL;
}

int cred_check_pools(const struct gen *g, char *err, size_t errlen)
{
	const struct cfg_admin *a = &g->cfg->admin;

	if (a->vault != NULL) {
		const struct mod_instance *mi = modload_find(g->mods, a->vault);
		char where[256];

		if (mi == NULL || mi->desc->cred == NULL || mi->desc->cred->lookup == NULL ||
		    fetches(mi->desc->cred)) {
			snprintf(err, errlen, "%s: admin.vault: module instance \"%s\" %s",
			         config_where(a->group, where, sizeof where), a->vault,
			         mi == NULL ? "is not defined in modules"
			                    : "is not a credential source that keeps its secrets "
			                      "(use a vault instance)");
			return -1;
		}
	}
	for (size_t i = 0; i < g->cfg->npools; i++) {
		const struct cfg_pool *p = &g->cfg->pools[i];
		const struct mod_instance *mi;

		if (p->cred_instance == NULL)
			continue;
		mi = modload_find(g->mods, p->cred_instance);
		if (mi == NULL || mi->desc->cred == NULL || mi->desc->cred->lookup == NULL) {
			snprintf(err, errlen,
			         "%s: security = %s: module instance \"%s\" (module %s) is not a "
			         "credential source",
			         p->where ? p->where : "pools", pool_security_name(p->security),
			         p->cred_instance, mi ? mi->desc->name : "?");
			return -1;
		}
		if ((p->security == SEC_AUTHQUERY) != fetches(mi->desc->cred)) {
			snprintf(err, errlen,
			         "%s: security = %s: module instance \"%s\" (module %s) %s",
			         p->where ? p->where : "pools", pool_security_name(p->security),
			         p->cred_instance, mi->desc->name,
			         p->security == SEC_AUTHQUERY
			                 ? "does not fetch secrets (use security = vault?)"
			                 : "fetches secrets over the network (use security = "
			                   "authquery)");
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ fetch */

/* On the work pool: only the job, the module and read-only client facts. */
static void fetch_work(void *arg)
{
	struct cred_fetch *f = arg;

	memset(&f->secret, 0, sizeof f->secret);
	f->secret.size = sizeof f->secret;
	f->rc = f->inst->desc->cred->fetch(f->inst->state, f->conn, f->user, &f->secret);
	if (f->rc == 0)
		adopt(&f->secret);
}

int cred_fetch_start(struct client *cl)
{
	const struct cfg_pool *pc = conn_pool(&cl->c);
	struct mod_instance *mi;
	struct cred_fetch *f;

	if (pc == NULL || pc->security != SEC_AUTHQUERY || cl->fetch != NULL)
		return 0;
	mi = modload_find(cl->gen->mods, pc->cred_instance);
	if (mi == NULL || mi->desc->cred == NULL || !fetches(mi->desc->cred))
		return -1; /* cred_check_pools() rules this out */
	f = calloc(1, sizeof *f);
	if (f == NULL)
		return -1;
	f->running = true;
	f->inst = mi;
	f->conn = (const pgs_conn *)&cl->c;
	f->user = cl->sp.user;
	cl->fetch = f;
	if (workpool_submit(cl->c.w, cl->c.id, fetch_work, f) < 0) {
		f->running = false;
		f->rc = -EIO;
		return -1;
	}
	cl->defer_inflight = true;
	return 1;
}

bool cred_fetch_running(const struct client *cl)
{
	return cl->fetch != NULL && cl->fetch->running;
}

void cred_fetch_done(struct client *cl)
{
	if (cl->fetch != NULL)
		cl->fetch->running = false;
}

void cred_fetch_free(struct client *cl)
{
	struct cred_fetch *f = cl->fetch;

	if (f == NULL)
		return;
	if (f->secret.opaque != NULL) {
		OPENSSL_cleanse(f->secret.opaque, f->secret.len);
		free(f->secret.opaque);
	}
	free(f);
	cl->fetch = NULL;
}
