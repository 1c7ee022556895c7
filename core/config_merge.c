/*
 * config_merge.c — folding one parsed file into the snapshot.
 *
 * Files are merged in order (the main file, then conf.d/ in lexical order).
 * Scalars: the later file wins; modules, chains, servers and pools: a later
 * definition with the same key (name, or database+user for a pool) replaces
 * the earlier whole (servers: config_servers.c); listen, metrics, admin: replaced whole; log and auth: key by
 * key.  The same key twice in one file is an error, not an override.  Each
 * setting is checked as it is merged; cross references wait for
 * cfg_finish().
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"
#include "pgsluice/module.h" /* PGS_LOG_* */

static void merge_listen(struct loader *ld, const config_setting_t *s)
{
	static const char *const keys[] = {"host", "port", NULL};
	struct cfg_listen *arr = NULL;
	size_t na = 0;
	int i, n;

	if (!cfg_is_list_like(s)) {
		cfg_err_at(ld, s,
		           "listen: expected a list of groups "
		           "( { host = ...; port = ...; } ), got %s",
		           cfg_type_name(s));
		return;
	}
	n = config_setting_length(s);
	if (n > 0) {
		arr = calloc((size_t)n, sizeof(*arr));
		if (arr == NULL) {
			ld->oom = true;
			return;
		}
	}
	for (i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
		const config_setting_t *m;
		const char *host = PGS_DEFAULT_LISTEN_HOST;
		unsigned char addr[16];
		char path[64], b[SHOW_MAX + 8];
		int port;

		snprintf(path, sizeof(path), "listen[%d]", i);
		if (!config_setting_is_group(g)) {
			cfg_err_at(ld, g,
			           "%s: expected a group { host = ...; "
			           "port = ...; }, got %s",
			           path, cfg_type_name(g));
			continue;
		}
		cfg_check_keys(ld, g, path, keys);
		m = config_setting_get_member(g, "host");
		if (m != NULL) {
			snprintf(path, sizeof(path), "listen[%d].host", i);
			if (!cfg_get_string(ld, m, path, &host))
				continue;
			if (strcmp(host, "*") != 0 && inet_pton(AF_INET, host, addr) != 1 &&
			    inet_pton(AF_INET6, host, addr) != 1) {
				cfg_err_at(ld, m,
				           "%s: %s is not an IPv4 or IPv6 address "
				           "(or \"*\" for all)",
				           path, cfg_show(b, sizeof(b), host));
				continue;
			}
		}
		m = config_setting_get_member(g, "port");
		snprintf(path, sizeof(path), "listen[%d]", i);
		if (m == NULL) {
			cfg_err_at(ld, g, "%s: missing required setting \"port\"", path);
			continue;
		}
		snprintf(path, sizeof(path), "listen[%d].port", i);
		if (!cfg_get_int(ld, m, path, 1, 65535, &port))
			continue;
		arr[na].host = cfg_dup_str(ld, host);
		arr[na].port = port;
		arr[na].where = cfg_where_of(ld, g);
		na++;
	}
	cfg_free_listen(ld->cfg->listen, ld->cfg->nlisten);
	ld->cfg->listen = arr;
	ld->cfg->nlisten = na;
	ld->listen_setting = s;
}

static void merge_log(struct loader *ld, const config_setting_t *s)
{
	static const char *const keys[] = {"level", "connections", "disconnections", NULL};
	struct pgs_config *cfg = ld->cfg;
	const config_setting_t *m;

	if (!config_setting_is_group(s)) {
		cfg_err_at(ld, s, "log: expected a group, got %s", cfg_type_name(s));
		return;
	}
	cfg_check_keys(ld, s, "log", keys);
	m = config_setting_get_member(s, "level");
	if (m != NULL) {
		const char *v;
		char b[SHOW_MAX + 8];

		if (cfg_get_string(ld, m, "log.level", &v)) {
			if (strcmp(v, "debug") == 0)
				cfg->log_level = PGS_LOG_DEBUG;
			else if (strcmp(v, "info") == 0)
				cfg->log_level = PGS_LOG_INFO;
			else if (strcmp(v, "warning") == 0 || strcmp(v, "warn") == 0)
				cfg->log_level = PGS_LOG_WARN;
			else if (strcmp(v, "error") == 0)
				cfg->log_level = PGS_LOG_ERROR;
			else
				cfg_err_at(ld, m,
				           "log.level: unknown level %s (expected "
				           "debug, info, warning or error)",
				           cfg_show(b, sizeof(b), v));
		}
	}
	m = config_setting_get_member(s, "connections");
	if (m != NULL)
		(void)cfg_get_bool(ld, m, "log.connections", &cfg->log_connections);
	m = config_setting_get_member(s, "disconnections");
	if (m != NULL)
		(void)cfg_get_bool(ld, m, "log.disconnections", &cfg->log_disconnections);
}

/* A path the endpoint answers: "/" then printable ASCII, no query part. */
static bool metrics_path_ok(const char *v)
{
	if (v[0] != '/' || strlen(v) > PGS_METRICS_PATH_MAX)
		return false;
	for (; *v != '\0'; v++)
		if (*v <= ' ' || *v >= 0x7f || *v == '?' || *v == '#')
			return false;
	return true;
}

static void merge_metrics(struct loader *ld, const config_setting_t *s)
{
	static const char *const keys[] = {"listen", "path", NULL};
	struct cfg_metrics *mc = &ld->cfg->metrics;
	const config_setting_t *m;
	const char *listen, *path = PGS_DEFAULT_METRICS_PATH;
	char host[64], why[96], b[SHOW_MAX + 8];
	int port;

	if (!config_setting_is_group(s)) {
		cfg_err_at(ld, s,
		           "metrics: expected a group { listen = \"127.0.0.1:9187\"; }, got %s",
		           cfg_type_name(s));
		return;
	}
	cfg_check_keys(ld, s, "metrics", keys);
	m = config_setting_get_member(s, "listen");
	if (m == NULL) {
		cfg_err_at(ld, s, "metrics: missing required setting \"listen\"");
		return;
	}
	if (!cfg_get_string(ld, m, "metrics.listen", &listen))
		return;
	if (config_parse_host_port(listen, host, sizeof host, &port, why, sizeof why) < 0) {
		cfg_err_at(ld, m, "metrics.listen: %s: %s", cfg_show(b, sizeof b, listen), why);
		return;
	}
	m = config_setting_get_member(s, "path");
	if (m != NULL) {
		if (!cfg_get_string(ld, m, "metrics.path", &path))
			return;
		if (!metrics_path_ok(path)) {
			cfg_err_at(ld, m,
			           "metrics.path: %s must start with \"/\" and hold at most %d "
			           "printable characters, without spaces, \"?\" or \"#\"",
			           cfg_show(b, sizeof b, path), PGS_METRICS_PATH_MAX);
			return;
		}
	}
	free(mc->host);
	free(mc->path);
	free(mc->where);
	mc->host = cfg_dup_str(ld, host);
	mc->port = port;
	mc->path = cfg_dup_str(ld, path);
	mc->where = cfg_where_of(ld, s);
}

/* An admin database or user name: 1..PGS_ADMIN_NAME_MAX bytes, no control
 * characters. */
static bool admin_name_ok(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > PGS_ADMIN_NAME_MAX)
		return false;
	for (; *v != '\0'; v++)
		if ((unsigned char)*v < ' ' || *v == 0x7f)
			return false;
	return true;
}

/* `admin = { database = "pgsluice"; users = ( "ops" ); };`, replaced whole. */
static void merge_admin(struct loader *ld, const config_setting_t *s)
{
	static const char *const keys[] = {"database", "users", "vault", NULL};
	struct cfg_admin *ac = &ld->cfg->admin;
	const config_setting_t *m, *u;
	const char *db = "pgsluice", *v, *vault = NULL;
	char b[SHOW_MAX + 8];
	int i, n = 0;

	if (!config_setting_is_group(s)) {
		cfg_err_at(ld, s, "admin: expected a group { users = ( \"ops\" ); }, got %s",
		           cfg_type_name(s));
		return;
	}
	cfg_check_keys(ld, s, "admin", keys);
	m = config_setting_get_member(s, "database");
	if (m != NULL) {
		if (!cfg_get_string(ld, m, "admin.database", &db))
			return;
		if (!admin_name_ok(db)) {
			cfg_err_at(ld, m,
			           "admin.database: %s must be 1 to %d bytes without control "
			           "characters",
			           cfg_show(b, sizeof b, db), PGS_ADMIN_NAME_MAX);
			return;
		}
	}
	m = config_setting_get_member(s, "vault");
	if (m != NULL) {
		if (!cfg_get_string(ld, m, "admin.vault", &vault))
			return;
		if (!admin_name_ok(vault)) {
			cfg_err_at(ld, m,
			           "admin.vault: %s must name a module instance (1 to %d bytes "
			           "without control characters)",
			           cfg_show(b, sizeof b, vault), PGS_ADMIN_NAME_MAX);
			return;
		}
	}
	u = config_setting_get_member(s, "users");
	if (u == NULL && vault == NULL) {
		cfg_err_at(ld, s, "admin: missing required setting \"users\" (or \"vault\")");
		return;
	}
	if (u == NULL)
		goto done;
	if (!cfg_is_list_like(u) && !config_setting_is_array(u)) {
		cfg_err_at(ld, u, "admin.users: expected a list of user names, got %s",
		           cfg_type_name(u));
		return;
	}
	n = config_setting_length(u);
	if (n > PGS_ADMIN_MAX_USERS) {
		cfg_err_at(ld, u, "admin.users: %d entries, at most %d are allowed", n,
		           PGS_ADMIN_MAX_USERS);
		return;
	}
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(u, (unsigned)i);
		char path[32];

		snprintf(path, sizeof path, "admin.users[%d]", i);
		if (!cfg_get_string(ld, e, path, &v))
			return;
		if (!admin_name_ok(v)) {
			cfg_err_at(ld, e, "%s: %s must be 1 to %d bytes without control characters",
			           path, cfg_show(b, sizeof b, v), PGS_ADMIN_NAME_MAX);
			return;
		}
	}
done:
	memset(ac, 0, sizeof *ac);
	ac->database = db;
	ac->vault = vault;
	for (i = 0; u != NULL && i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(u, (unsigned)i);

		ac->users[ac->nusers++] = config_setting_get_string(e);
	}
	ac->group = s;
}

static void merge_modules(struct loader *ld, const config_setting_t *s)
{
	struct pgs_config *cfg = ld->cfg;
	int i, n;

	if (!config_setting_is_group(s)) {
		cfg_err_at(ld, s,
		           "modules: expected a group of named groups "
		           "( name = { path = \"x.so\"; }; ), got %s",
		           cfg_type_name(s));
		return;
	}
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(g), *path = NULL;
		const config_setting_t *m;
		struct cfg_module mod, *slot = NULL;
		char sp[128];
		size_t k;

		if (name == NULL || strlen(name) > PGS_CONFIG_MAX_STRING)
			continue;
		snprintf(sp, sizeof(sp), "modules.%.100s", name);
		if (!config_setting_is_group(g)) {
			cfg_err_at(ld, g,
			           "%s: expected a group { path = \"x.so\"; ... }, "
			           "got %s",
			           sp, cfg_type_name(g));
			continue;
		}
		/* Without a valid path the instance is still entered, so that
		 * chains using it get no second, false error. */
		m = config_setting_get_member(g, "path");
		snprintf(sp, sizeof(sp), "modules.%.100s", name);
		if (m == NULL)
			cfg_err_at(ld, g, "%s: missing required setting \"path\"", sp);
		snprintf(sp, sizeof(sp), "modules.%.100s.path", name);
		if (m != NULL && !cfg_get_nonempty(ld, m, sp, &path))
			path = NULL;
		memset(&mod, 0, sizeof(mod));
		mod.name = cfg_dup_str(ld, name);
		mod.path = cfg_dup_str(ld, path);
		mod.group = g;
		mod.where = cfg_where_of(ld, g);
		for (k = 0; k < cfg->nmodules; k++)
			if (cfg_streq(cfg->modules[k].name, name))
				slot = &cfg->modules[k];
		if (slot != NULL) {
			cfg_free_module(slot);
		} else {
			slot = realloc(cfg->modules, (cfg->nmodules + 1) * sizeof(*slot));
			if (slot == NULL) {
				ld->oom = true;
				cfg_free_module(&mod);
				return;
			}
			cfg->modules = slot;
			slot = &cfg->modules[cfg->nmodules++];
		}
		*slot = mod;
	}
}

static void merge_pools(struct loader *ld, const config_setting_t *s)
{
	struct pgs_config *cfg = ld->cfg;
	size_t *mine = NULL, nmine = 0; /* slots this file filled */
	int i, n;

	if (!cfg_is_list_like(s)) {
		cfg_err_at(ld, s,
		           "pools: expected a list of groups ( { database = "
		           "...; user = ...; server = ...; } ), got %s",
		           cfg_type_name(s));
		return;
	}
	n = config_setting_length(s);
	if (n > 0) {
		mine = calloc((size_t)n, sizeof(*mine));
		if (mine == NULL) {
			ld->oom = true;
			return;
		}
	}
	for (i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
		struct cfg_pool pool, *slot = NULL;
		size_t k, idx = 0;
		bool dup = false;

		/* An invalid pool is still entered under its key (when it has
		 * one) so that its server is checked too; the load fails. */
		cfg_pool_parse(ld, g, i, &pool);
		if (pool.database == NULL || pool.user == NULL) {
			cfg_free_pool(&pool);
			continue;
		}
		for (k = 0; k < cfg->npools; k++)
			if (cfg_streq(cfg->pools[k].database, pool.database) &&
			    cfg_streq(cfg->pools[k].user, pool.user)) {
				slot = &cfg->pools[k];
				idx = k;
			}
		/* the same key twice in one file is a mistake */
		for (k = 0; slot != NULL && k < nmine; k++)
			if (mine[k] == idx) {
				char b1[SHOW_MAX + 8], b2[SHOW_MAX + 8];

				cfg_err_at(ld, g,
				           "pools[%d]: duplicate pool for database %s, "
				           "user %s (first defined at %s)",
				           i, cfg_show(b1, sizeof(b1), pool.database),
				           cfg_show(b2, sizeof(b2), pool.user),
				           slot->where ? slot->where : "?");
				dup = true;
			}
		if (dup) {
			cfg_free_pool(&pool);
			continue;
		}
		if (slot != NULL) {
			cfg_free_pool(slot);
		} else {
			slot = realloc(cfg->pools, (cfg->npools + 1) * sizeof(*slot));
			if (slot == NULL) {
				ld->oom = true;
				cfg_free_pool(&pool);
				break;
			}
			cfg->pools = slot;
			idx = cfg->npools++;
			slot = &cfg->pools[idx];
		}
		*slot = pool;
		mine[nmine++] = idx;
	}
	free(mine);
}

static void merge_chains(struct loader *ld, const config_setting_t *s)
{
	struct pgs_config *cfg = ld->cfg;
	int i, n;

	if (!config_setting_is_group(s)) {
		cfg_err_at(ld, s,
		           "chains: expected a group of named lists "
		           "( name = ( { use = ...; } ); ), got %s",
		           cfg_type_name(s));
		return;
	}
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		const config_setting_t *l = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(l);
		struct cfg_chain ch, *slot = NULL;
		char sp[128];
		size_t k;

		if (name == NULL || strlen(name) > PGS_CONFIG_MAX_STRING)
			continue;
		snprintf(sp, sizeof(sp), "chains.%.100s", name);
		cfg_chain_parse(ld, l, sp, name, &ch);
		for (k = 0; k < cfg->nchains; k++)
			if (cfg_streq(cfg->chains[k].name, name))
				slot = &cfg->chains[k];
		if (slot != NULL) {
			cfg_free_chain(slot);
		} else {
			slot = realloc(cfg->chains, (cfg->nchains + 1) * sizeof(*slot));
			if (slot == NULL) {
				ld->oom = true;
				cfg_free_chain(&ch);
				return;
			}
			cfg->chains = slot;
			slot = &cfg->chains[cfg->nchains++];
		}
		*slot = ch;
	}
}

static void merge_auth(struct loader *ld, const config_setting_t *s)
{
	static const char *const keys[] = {"default_chain", NULL};
	const config_setting_t *m;

	if (!config_setting_is_group(s)) {
		cfg_err_at(ld, s, "auth: expected a group, got %s", cfg_type_name(s));
		return;
	}
	cfg_check_keys(ld, s, "auth", keys);
	m = config_setting_get_member(s, "default_chain");
	if (m != NULL) {
		struct cfg_chain ch;

		cfg_chain_parse(ld, m, "auth.default_chain", "default", &ch);
		cfg_free_chain(&ld->cfg->default_chain);
		ld->cfg->default_chain = ch;
	}
}

/* unix_socket_mode: an int (0777 read as octal, see the pre-scan) or a
 * string of octal digits ("0770"). */
static void merge_socket_mode(struct loader *ld, const config_setting_t *s)
{
	const char *path = "unix_socket_mode";
	long long v;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *str = config_setting_get_string(s), *c;
		char b[SHOW_MAX + 8];

		v = 0;
		for (c = str; *c >= '0' && *c <= '7' && v <= 07777; c++)
			v = v * 8 + (*c - '0');
		if (*str == '\0' || *c != '\0' || v > 0777) {
			cfg_err_at(ld, s, "%s: %s is not an octal mode (0..0777)", path,
			           cfg_show(b, sizeof(b), str));
			return;
		}
		ld->cfg->unix_socket_mode = (int)v;
		return;
	}
	if (config_setting_type(s) == CONFIG_TYPE_INT) {
		const char *file = config_setting_source_file(s);
		unsigned line = config_setting_source_line(s);
		size_t i;

		v = config_setting_get_int(s);
		for (i = 0; i < ld->nhints; i++) {
			const struct octal_hint *h = &ld->hints[i];

			/* libconfig keeps line numbers in 16 bits */
			if ((h->line & 0xffff) == line && h->as_decimal == v &&
			    cfg_streq(h->file, file)) {
				if (h->as_octal < 0) {
					cfg_err_at(ld, s, "%s: 0%lld is not an octal number", path,
					           v);
					return;
				}
				v = h->as_octal;
				break;
			}
		}
		if (v < 0 || v > 0777) {
			cfg_err_at(ld, s,
			           "%s: %lld is out of range (0..0777; write an "
			           "octal mode with a leading zero, e.g. 0770)",
			           path, v);
			return;
		}
		ld->cfg->unix_socket_mode = (int)v;
		return;
	}
	cfg_err_at(ld, s, "%s: expected an octal integer such as 0770, got %s", path,
	           cfg_type_name(s));
}

/* Replace a string field of the snapshot. */
static void set_string(struct loader *ld, char **field, const char *v)
{
	char *d = cfg_dup_str(ld, v);

	if (d == NULL)
		return;
	free(*field);
	*field = d;
}

static void merge_timeout(struct loader *ld, const config_setting_t *s, int64_t *field)
{
	int64_t ms;

	if (cfg_get_seconds(ld, s, config_setting_name(s), &ms))
		*field = ms;
}

/* Fold one parsed file into the snapshot. */
void cfg_merge_file(struct loader *ld, const config_t *file)
{
	struct pgs_config *cfg = ld->cfg;
	const config_setting_t *root = config_root_setting(file);
	int i, n = config_setting_length(root);

	for (i = 0; i < n && !ld->oom; i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *key = config_setting_name(s), *v;
		char b[SHOW_MAX + 8];

		if (key == NULL || strlen(key) > PGS_CONFIG_MAX_STRING)
			continue;
		if (strcmp(key, "listen") == 0) {
			merge_listen(ld, s);
		} else if (strcmp(key, "unix_socket_dir") == 0) {
			if (!cfg_get_string(ld, s, key, &v))
				continue;
			if (*v == '\0') { /* "" turns the Unix socket off */
				free(cfg->unix_socket_dir);
				cfg->unix_socket_dir = NULL;
			} else if (v[0] != '/') {
				cfg_err_at(ld, s, "%s: %s is not an absolute path", key,
				           cfg_show(b, sizeof(b), v));
			} else if (strlen(v) > MAX_SOCKET_DIR) {
				cfg_err_at(ld, s,
				           "%s: longer than %d bytes (a Unix socket "
				           "path is limited to 107)",
				           key, MAX_SOCKET_DIR);
			} else {
				set_string(ld, &cfg->unix_socket_dir, v);
			}
		} else if (strcmp(key, "unix_socket_mode") == 0) {
			merge_socket_mode(ld, s);
		} else if (strcmp(key, "workers") == 0) {
			(void)cfg_get_int(ld, s, key, 0, PGS_CONFIG_MAX_WORKERS, &cfg->workers);
		} else if (strcmp(key, "max_client_conn") == 0) {
			(void)cfg_get_int(ld, s, key, 1, INT_MAX, &cfg->max_client_conn);
		} else if (strcmp(key, "log") == 0) {
			merge_log(ld, s);
		} else if (strcmp(key, "metrics") == 0) {
			merge_metrics(ld, s);
		} else if (strcmp(key, "admin") == 0) {
			merge_admin(ld, s);
		} else if (strcmp(key, "module_path") == 0) {
			if (cfg_get_nonempty(ld, s, key, &v))
				set_string(ld, &cfg->module_path, v);
		} else if (strcmp(key, "modules") == 0) {
			merge_modules(ld, s);
		} else if (strcmp(key, "servers") == 0) {
			cfg_merge_servers(ld, s);
		} else if (strcmp(key, "pools") == 0) {
			merge_pools(ld, s);
		} else if (strcmp(key, "chains") == 0) {
			merge_chains(ld, s);
		} else if (strcmp(key, "auth") == 0) {
			merge_auth(ld, s);
		} else if (strcmp(key, "server_reset_query") == 0) {
			if (cfg_get_string(ld, s, key, &v))
				set_string(ld, &cfg->server_reset_query, v);
		} else if (strcmp(key, "query_wait_timeout") == 0) {
			merge_timeout(ld, s, &cfg->query_wait_timeout);
		} else if (strcmp(key, "server_idle_timeout") == 0) {
			merge_timeout(ld, s, &cfg->server_idle_timeout);
		} else if (strcmp(key, "server_lifetime") == 0) {
			merge_timeout(ld, s, &cfg->server_lifetime);
		} else if (strcmp(key, "client_idle_timeout") == 0) {
			merge_timeout(ld, s, &cfg->client_idle_timeout);
		} else if (strcmp(key, "server_connect_timeout") == 0) {
			merge_timeout(ld, s, &cfg->server_connect_timeout);
		} else if (strcmp(key, "auth_timeout") == 0 ||
		           strcmp(key, "client_login_timeout") == 0) {
			/* auth_timeout; client_login_timeout is PgBouncer's name */
			merge_timeout(ld, s, &cfg->client_login_timeout);
		} else if (strcmp(key, "shutdown_timeout") == 0) {
			merge_timeout(ld, s, &cfg->shutdown_timeout);
		} else {
			cfg_err_at(ld, s, "%s: unknown setting", key);
		}
	}
}
