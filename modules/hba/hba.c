/*
 * hba.c — the `hba` module: access rules in PostgreSQL's pg_hba.conf syntax
 * and user name maps in pg_ident.conf syntax.
 *
 * Config keys: `file` (required) names the pg_hba file, `ident_file`
 * (optional) the pg_ident file.  A relative path is relative to the
 * directory of the config file that sets it (host->cfg_path).
 *
 * Both files are read once, in init().  A reload is a new instance (the core
 * re-inits the module), so a file with an error makes init() fail and the
 * core keeps the previous generation, old rules in force.  decide() and
 * ident() only read the parsed rules, so any number of worker threads may
 * call them at once.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <pgsluice/module.h>

#include "hba_ident.h"
#include "hba_rules.h"
#include "hba_token.h"

struct hba_mod {
	const pgs_host *host;
	struct hba_rules *rules;
	struct hba_ident *ident; /* NULL without ident_file */
	char *no_match;          /* "no rule matched in <file>" */
	char **reject_detail;    /* per rule: "rejected by pg_hba rule <file:line>" */
	size_t nrules;
};

static const char *const empty_options[] = {NULL};

/* prefix + text in module memory, or NULL. */
static char *concat(const pgs_host *host, const char *prefix, const char *text)
{
	size_t a = strlen(prefix), b = strlen(text);
	char *p = host->alloc(a + b + 1);

	if (p != NULL) {
		memcpy(p, prefix, a);
		memcpy(p + a, text, b + 1);
	}
	return p;
}

static const char *where(const pgs_host *host, const pgs_cfg *cfg, const char *key)
{
	const char *w = host->cfg_where(cfg, key);

	return w != NULL ? w : "hba";
}

static void hba_fini(void *mod)
{
	struct hba_mod *m = mod;

	if (m == NULL)
		return;
	if (m->reject_detail != NULL) {
		for (size_t i = 0; i < m->nrules; i++) {
			if (m->reject_detail[i] != NULL)
				m->host->free(m->reject_detail[i]);
		}
		m->host->free(m->reject_detail);
	}
	hba_rules_free(m->rules);
	hba_ident_free(m->ident);
	if (m->no_match != NULL)
		m->host->free(m->no_match);
	m->host->free(m);
}

static int hba_init(const pgs_host *host, const pgs_cfg *cfg, void **mod)
{
	char file[4096], ident_buf[4096];
	const char *ident_file = NULL;
	char err[HBA_ERR_LEN];
	struct hba_mod *m;
	int rc;

	if (!PGS_HAS_FIELD(host, pgs_host, cfg_path) || host->cfg_path == NULL)
		return -ENOTSUP;
	rc = host->cfg_path(cfg, "file", file, sizeof file);
	if (rc < 0) {
		host->log(PGS_LOG_ERROR, NULL, "%s: hba: `file` (the pg_hba.conf path) is %s",
		          where(host, cfg, rc == -ENOENT ? NULL : "file"),
		          rc == -ENOENT         ? "required"
		          : rc == -ENAMETOOLONG ? "too long"
		                                : "not a non-empty string");
		return -EINVAL;
	}
	rc = host->cfg_path(cfg, "ident_file", ident_buf, sizeof ident_buf);
	if (rc == 0) {
		ident_file = ident_buf;
	} else if (rc != -ENOENT) {
		host->log(PGS_LOG_ERROR, NULL, "%s: hba: `ident_file` is %s",
		          where(host, cfg, "ident_file"),
		          rc == -ENAMETOOLONG ? "too long" : "not a non-empty string");
		return -EINVAL;
	}

	m = host->alloc(sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	memset(m, 0, sizeof(*m));
	m->host = host;
	rc = hba_rules_load(file, &m->rules, err, sizeof(err));
	if (rc == 0 && ident_file != NULL)
		rc = hba_ident_load(ident_file, &m->ident, err, sizeof(err));
	if (rc < 0) {
		host->log(PGS_LOG_ERROR, NULL, "%s", err);
		hba_fini(m);
		return rc == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	/* log details made now: decide() has a const conn, so no conn_alloc */
	m->no_match = concat(host, "no rule matched in ", file);
	m->reject_detail = host->alloc((hba_rules_count(m->rules) + 1) * sizeof(char *));
	if (m->no_match == NULL || m->reject_detail == NULL) {
		hba_fini(m);
		return -ENOMEM;
	}
	for (size_t i = 0; i < hba_rules_count(m->rules); i++) {
		struct hba_result r;

		hba_rules_get(m->rules, i, &r);
		m->reject_detail[i] = NULL;
		m->nrules = i + 1;
		if (r.reject) {
			m->reject_detail[i] = concat(host, "rejected by pg_hba rule ", r.where);
			if (m->reject_detail[i] == NULL) {
				hba_fini(m);
				return -ENOMEM;
			}
		}
	}
	host->log(PGS_LOG_INFO, NULL, "hba: %zu rules from %s%s%s", hba_rules_count(m->rules), file,
	          ident_file ? ", ident maps from " : "", ident_file ? ident_file : "");
	*mod = m;
	return 0;
}

static int hba_decide(void *mod, const pgs_conn *conn, pgs_access_result *out,
                      const char **logdetail)
{
	const struct hba_mod *m = mod;
	const pgs_host *host = m->host;
	struct hba_result res;
	struct hba_conn c = {
	        .transport = host->conn_param(conn, "transport"),
	        .remote_addr = host->conn_param(conn, "remote_addr"),
	        .user = host->conn_param(conn, "user"),
	        .database = host->conn_param(conn, "database"),
	};

	if (!hba_rules_match(m->rules, &c, &res)) {
		*logdetail = m->no_match;
		return -EPERM;
	}
	if (res.reject) {
		*logdetail = m->reject_detail[res.index];
		out->rule = res.where;
		return -EACCES;
	}
	out->chain = res.method;
	out->options = res.options != NULL ? res.options : empty_options;
	out->rule = res.where;
	return 0;
}

static int hba_ident(void *mod, const char *map, const char *system_user, const char *role)
{
	const struct hba_mod *m = mod;

	if (m->ident == NULL)
		return -ENOENT;
	return hba_ident_match(m->ident, map, system_user, role, false);
}

static const pgs_access_ops hba_access = {
        .size = sizeof(pgs_access_ops),
        .decide = hba_decide,
        .ident = hba_ident,
};

static const pgs_module hba_desc = {
        PGS_MODULE_INIT("hba", "1.0"), .init = hba_init, .fini = hba_fini, .reload = NULL,
        .access = &hba_access,
};

PGS_MODULE_EXPORT(hba_desc)
