/*
 * config.c — load, merge and validate the configuration snapshot.
 *
 * The main file and every conf.d/[!.]*.conf beside it are parsed, each into
 * its own libconfig config_t (kept in cfg->files, because module groups and
 * chain steps are handed on as config_setting_t pointers into them), then
 * folded into one snapshot file by file: scalars — the later file wins;
 * modules/chains/servers/pools — replaced by key; listen and metrics —
 * replaced whole; log/auth — key by key.  Cross references (pool -> server,
 * chain step -> module) are checked once everything is merged.
 *
 * Every problem is collected, not just the first, as "FILE:LINE: message"
 * (or "FILE: message" when there is no line), so that --check-config shows
 * the whole list at once.
 *
 * The work is split by concern (see config_int.h): the raw-text pre-scan in
 * config_scan.c, reading files in config_read.c, merging in config_merge.c,
 * checks and cross references in config_validate.c, shared helpers in
 * config_util.c.  This file holds config_load() itself, the snapshot's
 * life cycle and the lookups.
 */
#include "autoconf.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_int.h"
#include "pgsluice/module.h" /* PGS_LOG_* */

/* ------------------------------------------------------------ snapshot */

void cfg_free_server(struct cfg_server *s)
{
	free(s->name);
	free(s->host);
	free(s->sslmode);
	free(s->sslrootcert);
	free(s->sslcert);
	free(s->sslkey);
	free(s->sslcrl);
	free(s->gssencmode);
	free(s->krbsrvname);
	free(s->where);
}

void cfg_free_pool(struct cfg_pool *p)
{
	free(p->database);
	free(p->user);
	free(p->server);
	if (p->password != NULL) {
		explicit_bzero(p->password, strlen(p->password));
		free(p->password);
	}
	free(p->server_user);
	free(p->server_database);
	free(p->server_reset_query);
	free(p->cred_instance);
	free(p->where);
}

const char *pool_security_name(enum pool_security s)
{
	switch (s) {
	case SEC_PASSTHROUGH:
		return "passthrough";
	case SEC_VAULT:
		return "vault";
	case SEC_FRONTEND_USERS:
		return "frontend-users";
	case SEC_AUTHQUERY:
		return "authquery";
	}
	return "?";
}

void cfg_free_module(struct cfg_module *m)
{
	free(m->name);
	free(m->path);
	free(m->where);
	free(m->full_path);
}

void cfg_free_chain(struct cfg_chain *c)
{
	size_t i;

	for (i = 0; i < c->nsteps; i++) {
		free(c->steps[i].use);
		free(c->steps[i].where);
	}
	free(c->steps);
	free(c->name);
	free(c->where);
	memset(c, 0, sizeof(*c));
}

void cfg_free_listen(struct cfg_listen *l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(l[i].host);
		free(l[i].where);
	}
	free(l);
}

/**
 * config_free() - free a snapshot and the parsed files behind it.
 * @cfg: the snapshot (NULL is fine).
 */
void config_free(struct pgs_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	free(cfg->path);
	cfg_free_listen(cfg->listen, cfg->nlisten);
	free(cfg->metrics.host);
	free(cfg->metrics.path);
	free(cfg->metrics.where);
	free(cfg->unix_socket_dir);
	free(cfg->module_path);
	for (i = 0; i < cfg->nmodules; i++)
		cfg_free_module(&cfg->modules[i]);
	free(cfg->modules);
	for (i = 0; i < cfg->nservers; i++)
		cfg_free_server(&cfg->servers[i]);
	free(cfg->servers);
	for (i = 0; i < cfg->npools; i++)
		cfg_free_pool(&cfg->pools[i]);
	free(cfg->pools);
	for (i = 0; i < cfg->nchains; i++)
		cfg_free_chain(&cfg->chains[i]);
	free(cfg->chains);
	cfg_free_chain(&cfg->default_chain);
	free(cfg->server_reset_query);
	for (i = 0; i < cfg->nfiles; i++)
		config_destroy(&cfg->files[i]);
	free(cfg->files);
	free(cfg);
}

static struct pgs_config *config_new(void)
{
	struct pgs_config *cfg = calloc(1, sizeof(*cfg));

	if (cfg == NULL)
		return NULL;
	cfg->unix_socket_mode = PGS_DEFAULT_UNIX_SOCKET_MODE;
	cfg->workers = 0;
	cfg->max_client_conn = PGS_DEFAULT_MAX_CLIENT_CONN;
	cfg->log_level = PGS_LOG_INFO;
	cfg->query_wait_timeout = PGS_DEFAULT_QUERY_WAIT_TIMEOUT_MS;
	cfg->server_idle_timeout = PGS_DEFAULT_SERVER_IDLE_TIMEOUT_MS;
	cfg->server_lifetime = PGS_DEFAULT_SERVER_LIFETIME_MS;
	cfg->client_idle_timeout = PGS_DEFAULT_CLIENT_IDLE_TIMEOUT_MS;
	cfg->server_connect_timeout = PGS_DEFAULT_SERVER_CONNECT_TIMEOUT_MS;
	cfg->client_login_timeout = PGS_DEFAULT_CLIENT_LOGIN_TIMEOUT_MS;
	cfg->shutdown_timeout = PGS_DEFAULT_SHUTDOWN_TIMEOUT_MS;
	cfg->server_reset_query = strdup(PGS_DEFAULT_SERVER_RESET_QUERY);
	cfg->default_chain.name = strdup("default");
	cfg->default_chain.where = strdup("(built-in)");
	if (cfg->server_reset_query == NULL || cfg->default_chain.name == NULL ||
	    cfg->default_chain.where == NULL) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* An absolute version of path (symbolic links are kept: conf.d is looked
 * for beside the name the operator gave, not beside a link target). */
static char *absolute_path(struct loader *ld, const char *path)
{
	char cwd[PATH_MAX];
	const char *rel = path;

	if (path[0] == '/')
		return cfg_dup_str(ld, path);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return cfg_dup_str(ld, path);
	while (rel[0] == '.' && rel[1] == '/')
		rel += 2;
	return cfg_join_path(ld, cwd, rel);
}

/**
 * config_load() - read the main file and its conf.d/, merge and validate.
 * @path:   the main configuration file.
 * @err:    receives every error, one per line ("FILE:LINE: message" or
 *          "FILE: message"), '\n'-separated, no trailing newline; when it
 *          does not fit, whole lines are kept and the last line says how
 *          many were left out.
 * @errlen: size of err.
 *
 * Returns a new snapshot, or NULL on any error.  Never exits the process
 * and never prints a pool password.
 */
struct pgs_config *config_load(const char *path, char *err, size_t errlen)
{
	struct pgs_config *result = NULL;
	struct loader ld;
	char **confd = NULL;
	size_t nconfd = 0, i;

	memset(&ld, 0, sizeof(ld));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (path == NULL || *path == '\0') {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "no configuration file given");
		return NULL;
	}
	ld.cfg = config_new();
	if (ld.cfg == NULL) {
		ld.oom = true;
		goto out;
	}
	ld.cfg->path = absolute_path(&ld, path);
	ld.dir = cfg_dir_of(&ld, path);
	if (ld.oom)
		goto out;

	/* The main file must exist and be a regular file; if it is not, the
	 * conf.d beside it would only add noise. */
	if (!cfg_is_regular_file(&ld, path))
		goto out;
	confd = cfg_list_confd(&ld, &nconfd);
	if (ld.oom)
		goto out;

	/* One config_t per file, allocated once: settings point back to their
	 * config_t, so the array must never move after a read. */
	ld.cfg->files = calloc(1 + nconfd, sizeof(config_t));
	if (ld.cfg->files == NULL) {
		ld.oom = true;
		goto out;
	}
	ld.cfg->nfiles = 1 + nconfd;
	for (i = 0; i < ld.cfg->nfiles; i++)
		config_init(&ld.cfg->files[i]);
	for (i = 0; i < ld.cfg->nfiles && !ld.oom; i++) {
		const char *file = i == 0 ? path : confd[i - 1];

		if (cfg_parse_one(&ld, &ld.cfg->files[i], file))
			cfg_merge_file(&ld, &ld.cfg->files[i]);
	}
	if (!ld.oom)
		cfg_finish(&ld);
	if (ld.nerrs == 0 && !ld.oom)
		result = ld.cfg;
out:
	if (result == NULL) {
		cfg_emit_errors(&ld, err, errlen);
		config_free(ld.cfg);
	}
	for (i = 0; i < nconfd; i++)
		free(confd[i]);
	free(confd);
	for (i = 0; i < ld.nhints; i++)
		free(ld.hints[i].file);
	free(ld.hints);
	free(ld.errs);
	free(ld.dir);
	return result;
}

/**
 * config_find_pool() - the pool definition that applies to (database, user).
 * @cfg:      the snapshot.
 * @database: the database the client asked for.
 * @user:     the client's user name.
 *
 * Precedence: an exact (database, user) pool; then (database, "*"); then
 * ("*", user); then ("*", "*").  Returns NULL when none applies.
 */
const struct cfg_pool *config_find_pool(const struct pgs_config *cfg, const char *database,
                                        const char *user)
{
	const struct cfg_pool *best = NULL;
	int best_rank = 4;
	size_t i;

	if (cfg == NULL || database == NULL || user == NULL)
		return NULL;
	for (i = 0; i < cfg->npools; i++) {
		const struct cfg_pool *p = &cfg->pools[i];
		bool db = cfg_streq(p->database, database);
		bool db_any = cfg_streq(p->database, "*");
		bool us = cfg_streq(p->user, user);
		bool us_any = cfg_streq(p->user, "*");
		int rank;

		if (db && us)
			return p;
		if (db && us_any)
			rank = 1;
		else if (db_any && us)
			rank = 2;
		else if (db_any && us_any)
			rank = 3;
		else
			continue;
		if (rank < best_rank) {
			best = p;
			best_rank = rank;
		}
	}
	return best;
}

/**
 * config_find_chain() - a chain of the `chains` group by name.
 * @cfg:  the snapshot.
 * @name: the chain's name.
 *
 * Returns NULL if there is no such chain.  auth.default_chain is
 * cfg->default_chain and is not found by this function.
 */
const struct cfg_chain *config_find_chain(const struct pgs_config *cfg, const char *name)
{
	size_t i;

	if (cfg == NULL || name == NULL)
		return NULL;
	for (i = 0; i < cfg->nchains; i++)
		if (cfg_streq(cfg->chains[i].name, name))
			return &cfg->chains[i];
	return NULL;
}

/**
 * config_where() - "file:line" of a setting.
 * @s:   the setting (NULL gives "(unknown)").
 * @buf: where to write.
 * @len: size of buf.
 *
 * Returns buf.
 */
const char *config_where(const config_setting_t *s, char *buf, size_t len)
{
	const char *file;

	if (buf == NULL || len == 0)
		return "";
	if (s == NULL) {
		snprintf(buf, len, "(unknown)");
		return buf;
	}
	file = config_setting_source_file(s);
	snprintf(buf, len, "%s:%u", file ? file : "(unknown file)",
	         (unsigned)config_setting_source_line(s));
	return buf;
}
