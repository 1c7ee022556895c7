/*
 * config_validate.c — checking settings and completing the snapshot.
 *
 * Typed getters that report a wrong type or range at the setting's
 * file:line, unknown keys, the bounds on strings and nesting, the parsers
 * of one pool and one chain, and, once every file is merged, the cross
 * references (pool -> server, chain step -> module) and module paths.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"

#ifndef PGS_MODULE_DIR
#define PGS_MODULE_DIR "/usr/local/lib/pgsluice"
#endif

/* --------------------------------------------------------- host and port */

int config_parse_host_port(const char *s, char *host, size_t hostlen, int *port, char *why,
                           size_t whylen)
{
	const char *colon, *h = s, *p;
	size_t hl;
	unsigned char addr[16];
	long v = 0;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':') {
			snprintf(why, whylen, "expected [IPv6]:port");
			return -EINVAL;
		}
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL) {
			snprintf(why, whylen, "expected host:port");
			return -EINVAL;
		}
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostlen || hl >= INET6_ADDRSTRLEN) {
		snprintf(why, whylen, "the host is empty or too long");
		return -EINVAL;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (s[0] == '[' ? inet_pton(AF_INET6, host, addr) != 1
	                : strcmp(host, "*") != 0 && inet_pton(AF_INET, host, addr) != 1) {
		snprintf(why, whylen,
		         s[0] == '[' ? "the host is not an IPv6 address"
		                     : "the host is not an IPv4 address, [IPv6] or \"*\"");
		return -EINVAL;
	}
	p = colon + 1;
	if (*p == '\0' || strlen(p) > 5) {
		snprintf(why, whylen, "the port must be 1 to 65535");
		return -EINVAL;
	}
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			snprintf(why, whylen, "the port must be 1 to 65535");
			return -EINVAL;
		}
		v = v * 10 + (*p - '0');
	}
	if (v < 1 || v > 65535) {
		snprintf(why, whylen, "the port must be 1 to 65535");
		return -EINVAL;
	}
	*port = (int)v;
	return 0;
}

/* ------------------------------------------------------------ typed getters */

bool cfg_get_string(struct loader *ld, const config_setting_t *s, const char *path,
                    const char **out)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		cfg_err_at(ld, s, "%s: expected a string, got %s", path, cfg_type_name(s));
		return false;
	}
	v = config_setting_get_string(s);
	if (v == NULL)
		v = "";
	if (strlen(v) > PGS_CONFIG_MAX_STRING)
		return false; /* reported by cfg_check_strings() */
	*out = v;
	return true;
}

bool cfg_get_nonempty(struct loader *ld, const config_setting_t *s, const char *path,
                      const char **out)
{
	if (!cfg_get_string(ld, s, path, out))
		return false;
	if (**out == '\0') {
		cfg_err_at(ld, s, "%s: must not be empty", path);
		return false;
	}
	return true;
}

static bool get_integer(struct loader *ld, const config_setting_t *s, const char *path,
                        long long min, long long max, long long *out)
{
	long long v;

	if (config_setting_type(s) == CONFIG_TYPE_INT)
		v = config_setting_get_int(s);
	else if (config_setting_type(s) == CONFIG_TYPE_INT64)
		v = config_setting_get_int64(s);
	else {
		cfg_err_at(ld, s, "%s: expected an integer, got %s", path, cfg_type_name(s));
		return false;
	}
	if (v < min || v > max) {
		if (max == INT_MAX)
			cfg_err_at(ld, s, "%s: %lld is out of range (must be >= %lld)", path, v,
			           min);
		else
			cfg_err_at(ld, s, "%s: %lld is out of range (%lld..%lld)", path, v, min,
			           max);
		return false;
	}
	*out = v;
	return true;
}

bool cfg_get_int(struct loader *ld, const config_setting_t *s, const char *path, int min, int max,
                 int *out)
{
	long long v;

	if (!get_integer(ld, s, path, min, max, &v))
		return false;
	*out = (int)v;
	return true;
}

bool cfg_get_bool(struct loader *ld, const config_setting_t *s, const char *path, bool *out)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		cfg_err_at(ld, s, "%s: expected true or false, got %s", path, cfg_type_name(s));
		return false;
	}
	*out = config_setting_get_bool(s) != 0;
	return true;
}

/* Seconds (int or float, >= 0) into milliseconds. */
bool cfg_get_seconds(struct loader *ld, const config_setting_t *s, const char *path, int64_t *ms)
{
	double v;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		v = config_setting_get_int(s);
		break;
	case CONFIG_TYPE_INT64:
		v = (double)config_setting_get_int64(s);
		break;
	case CONFIG_TYPE_FLOAT:
		v = config_setting_get_float(s);
		break;
	default:
		cfg_err_at(ld, s, "%s: expected a number of seconds, got %s", path,
		           cfg_type_name(s));
		return false;
	}
	/* written so that NaN fails too */
	if (!(v >= 0 && v <= (double)INT_MAX)) {
		cfg_err_at(ld, s, "%s: %g is out of range (0..%d seconds)", path, v, INT_MAX);
		return false;
	}
	*ms = (int64_t)(v * 1000.0 + 0.5);
	return true;
}

/* Complain about every member of group `g` not in `known`. */
void cfg_check_keys(struct loader *ld, const config_setting_t *g, const char *path,
                    const char *const *known)
{
	int i, n = config_setting_length(g);

	for (i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(m);

		if (name != NULL && !cfg_in_list(name, known))
			cfg_err_at(ld, m, "%s%s%s: unknown setting", path, *path ? "." : "", name);
	}
}

/* ------------------------------------------------------------ string bounds */

/* Every string and setting name, in every file, at most
 * PGS_CONFIG_MAX_STRING bytes; nesting at most PGS_CONFIG_MAX_DEPTH. */
void cfg_check_strings(struct loader *ld, const config_setting_t *s, char *path, size_t plen,
                       size_t cap, int depth)
{
	const char *name = config_setting_name(s);
	int i, n;

	if (name != NULL && strlen(name) > PGS_CONFIG_MAX_STRING) {
		cfg_err_at(ld, s, "setting name longer than %d bytes", PGS_CONFIG_MAX_STRING);
		return;
	}
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *v = config_setting_get_string(s);

		if (v != NULL && strlen(v) > PGS_CONFIG_MAX_STRING)
			cfg_err_at(ld, s, "%s: string longer than %d bytes",
			           *path ? path : "(value)", PGS_CONFIG_MAX_STRING);
		return;
	}
	if (!config_setting_is_aggregate(s))
		return;
	if (depth > PGS_CONFIG_MAX_DEPTH) {
		cfg_err_at(ld, s, "%s: nested deeper than %d levels", path, PGS_CONFIG_MAX_DEPTH);
		return;
	}
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
		const char *mn = config_setting_name(m);

		if (mn != NULL && strlen(mn) <= PGS_CONFIG_MAX_STRING)
			snprintf(path + plen, cap - plen, "%s%s", plen ? "." : "", mn);
		else
			snprintf(path + plen, cap - plen, "[%d]", i);
		cfg_check_strings(ld, m, path, strlen(path), cap, depth + 1);
		path[plen] = '\0';
	}
}

/* ------------------------------------------------------------ entries */

void cfg_chain_parse(struct loader *ld, const config_setting_t *list, const char *path,
                     const char *name, struct cfg_chain *out)
{
	static const char *const controls[] = {"required", "requisite", "sufficient", "optional",
	                                       NULL};
	int i, n;

	memset(out, 0, sizeof(*out));
	out->name = cfg_dup_str(ld, name);
	out->where = cfg_where_of(ld, list);
	if (!cfg_is_list_like(list)) {
		cfg_err_at(ld, list,
		           "%s: expected a list of steps ( { use = ...; } ), "
		           "got %s",
		           path, cfg_type_name(list));
		return;
	}
	n = config_setting_length(list);
	if (n == 0)
		return;
	out->steps = calloc((size_t)n, sizeof(*out->steps));
	if (out->steps == NULL) {
		ld->oom = true;
		return;
	}
	for (i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct cfg_chain_step *st = &out->steps[out->nsteps];
		const config_setting_t *m;
		const char *v;
		char sp[256];
		int c;

		snprintf(sp, sizeof(sp), "%s[%d]", path, i);
		if (!config_setting_is_group(g)) {
			cfg_err_at(ld, g, "%s: expected a group { use = ...; }, got %s", sp,
			           cfg_type_name(g));
			continue;
		}
		st->control = CTL_REQUIRED;
		st->group = g;
		m = config_setting_get_member(g, "use");
		if (m == NULL) {
			cfg_err_at(ld, g, "%s: missing required setting \"use\"", sp);
			continue;
		}
		snprintf(sp, sizeof(sp), "%s[%d].use", path, i);
		if (!cfg_get_nonempty(ld, m, sp, &v))
			continue;
		m = config_setting_get_member(g, "control");
		if (m != NULL) {
			const char *cv;
			char b[SHOW_MAX + 8];

			/* a bad control is reported, and the step kept so that its
			 * `use` is still checked (the load fails either way) */
			snprintf(sp, sizeof(sp), "%s[%d].control", path, i);
			if (cfg_get_string(ld, m, sp, &cv)) {
				for (c = 0; controls[c] != NULL; c++)
					if (strcmp(cv, controls[c]) == 0)
						break;
				if (controls[c] != NULL)
					st->control = (enum chain_control)c;
				else
					cfg_err_at(ld, m,
					           "%s: unknown control %s (expected "
					           "required, requisite, sufficient or "
					           "optional)",
					           sp, cfg_show(b, sizeof(b), cv));
			}
		}
		st->use = cfg_dup_str(ld, v);
		st->where = cfg_where_of(ld, g);
		out->nsteps++;
	}
}

static void pool_security_parse(struct loader *ld, const config_setting_t *m, const char *sp,
                                const char *v, struct cfg_pool *p)
{
	static const enum pool_security all[] = {SEC_PASSTHROUGH, SEC_VAULT, SEC_FRONTEND_USERS,
	                                         SEC_AUTHQUERY};
	char b[SHOW_MAX + 8];

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		if (strcmp(v, pool_security_name(all[i])) == 0) {
			p->security = all[i];
			return;
		}
	}
	cfg_err_at(ld, m,
	           "%s: unknown security model %s (expected passthrough, vault, "
	           "frontend-users or authquery)",
	           sp, cfg_show(b, sizeof(b), v));
}

/* The instance setting that goes with the model, and what the model rules
 * out; the default instance name is the module's own name. */
static void pool_security_check(struct loader *ld, const config_setting_t *g, const char *sp,
                                struct cfg_pool *p)
{
	const char *want = NULL, *other = "vault";
	const config_setting_t *m;

	if (p->security == SEC_AUTHQUERY) {
		want = "authquery";
	} else if (p->security == SEC_VAULT || p->security == SEC_FRONTEND_USERS) {
		want = "vault";
		other = "authquery";
	}
	m = config_setting_get_member(g, other);
	if (want == NULL) {
		m = config_setting_get_member(g, "vault");
		if (m == NULL)
			m = config_setting_get_member(g, "authquery");
		if (m != NULL)
			cfg_err_at(ld, m,
			           "%s.%s: only used with security = %s (this pool's security "
			           "is passthrough)",
			           sp, config_setting_name(m),
			           strcmp(config_setting_name(m), "vault") == 0
			                   ? "vault or frontend-users"
			                   : "authquery");
		return;
	}
	if (m != NULL)
		cfg_err_at(ld, m, "%s.%s: not used with security = %s", sp, other,
		           pool_security_name(p->security));
	if (config_setting_get_member(g, want) == NULL) {
		free(p->cred_instance); /* from the other key, if any */
		p->cred_instance = cfg_dup_str(ld, want);
	}
	if (p->password != NULL && p->security != SEC_AUTHQUERY)
		cfg_err_at(ld, config_setting_get_member(g, "password"),
		           "%s.password: not allowed with security = %s: the server password "
		           "comes from the vault",
		           sp, pool_security_name(p->security));
}

/* Parse one pool group into p, reporting what is wrong with it. */
void cfg_pool_parse(struct loader *ld, const config_setting_t *g, int idx, struct cfg_pool *p)
{
	static const char *const keys[] = {
	        "database",           "user",         "server",   "mode",        "max_size",
	        "min_size",           "initial_size", "password", "server_user", "server_database",
	        "server_reset_query", "security",     "vault",    "authquery",   NULL};
	static const char *const required[] = {"database", "user", "server", NULL};
	bool sizes_ok = true;
	const char *const *r;
	char sp[64], b[SHOW_MAX + 8];
	int i, n;

	memset(p, 0, sizeof(*p));
	p->mode = POOL_SESSION;
	p->max_size = PGS_DEFAULT_POOL_MAX_SIZE;
	p->server_index = -1;
	p->group = g;
	snprintf(sp, sizeof(sp), "pools[%d]", idx);
	if (!config_setting_is_group(g)) {
		cfg_err_at(ld, g,
		           "%s: expected a group { database = ...; user = ...; "
		           "server = ...; }, got %s",
		           sp, cfg_type_name(g));
		return;
	}
	cfg_check_keys(ld, g, sp, keys);
	for (r = required; *r != NULL; r++)
		if (config_setting_get_member(g, *r) == NULL)
			cfg_err_at(ld, g, "%s: missing required setting \"%s\"", sp, *r);
	n = config_setting_length(g);
	for (i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		const char *key = config_setting_name(m), *v;
		char **dst = NULL;
		bool nonempty = true;

		snprintf(sp, sizeof(sp), "pools[%d].%s", idx,
		         key != NULL && strlen(key) < 32 ? key : "?");
		if (key == NULL || !cfg_in_list(key, keys))
			continue;
		if (strcmp(key, "max_size") == 0) {
			sizes_ok &= cfg_get_int(ld, m, sp, 1, INT_MAX, &p->max_size);
			continue;
		}
		if (strcmp(key, "min_size") == 0) {
			sizes_ok &= cfg_get_int(ld, m, sp, 0, INT_MAX, &p->min_size);
			continue;
		}
		if (strcmp(key, "initial_size") == 0) {
			sizes_ok &= cfg_get_int(ld, m, sp, 0, INT_MAX, &p->initial_size);
			continue;
		}
		if (strcmp(key, "database") == 0)
			dst = &p->database;
		else if (strcmp(key, "user") == 0)
			dst = &p->user;
		else if (strcmp(key, "server") == 0)
			dst = &p->server;
		else if (strcmp(key, "password") == 0)
			dst = &p->password, nonempty = false;
		else if (strcmp(key, "server_user") == 0)
			dst = &p->server_user;
		else if (strcmp(key, "server_database") == 0)
			dst = &p->server_database;
		else if (strcmp(key, "server_reset_query") == 0)
			dst = &p->server_reset_query, nonempty = false;
		else if (strcmp(key, "vault") == 0 || strcmp(key, "authquery") == 0)
			dst = &p->cred_instance;
		if (!(nonempty ? cfg_get_nonempty(ld, m, sp, &v) : cfg_get_string(ld, m, sp, &v)))
			continue;
		if (strcmp(key, "mode") == 0) {
			if (strcmp(v, "session") == 0)
				p->mode = POOL_SESSION;
			else if (strcmp(v, "transaction") == 0)
				p->mode = POOL_TRANSACTION;
			else
				cfg_err_at(ld, m,
				           "%s: unknown pool mode %s (expected session "
				           "or transaction)",
				           sp, cfg_show(b, sizeof(b), v));
			continue;
		}
		if (strcmp(key, "security") == 0) {
			pool_security_parse(ld, m, sp, v, p);
			continue;
		}
		*dst = cfg_dup_str(ld, v);
	}
	snprintf(sp, sizeof(sp), "pools[%d]", idx);
	pool_security_check(ld, g, sp, p);
	if (sizes_ok && p->min_size > p->max_size)
		cfg_err_at(ld, g, "%s: min_size (%d) is greater than max_size (%d)", sp,
		           p->min_size, p->max_size);
	if (sizes_ok && p->initial_size > p->max_size)
		cfg_err_at(ld, g, "%s: initial_size (%d) is greater than max_size (%d)", sp,
		           p->initial_size, p->max_size);
	p->where = cfg_where_of(ld, g);
}

/* ------------------------------------------------------------ after merge */

static const struct cfg_module *find_module(const struct pgs_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nmodules; i++)
		if (cfg_streq(cfg->modules[i].name, name))
			return &cfg->modules[i];
	return NULL;
}

static void check_chain_uses(struct loader *ld, const struct cfg_chain *c)
{
	bool is_default = c == &ld->cfg->default_chain;
	size_t i;

	for (i = 0; i < c->nsteps; i++) {
		const struct cfg_chain_step *st = &c->steps[i];
		const config_setting_t *u;
		char b[SHOW_MAX + 8];

		if (find_module(ld->cfg, st->use) != NULL)
			continue;
		u = config_setting_get_member(st->group, "use");
		cfg_err_at(ld, u ? u : st->group,
		           "%s%.100s[%d].use: no module "
		           "instance named %s in modules",
		           is_default ? "auth.default_chain" : "chains.", is_default ? "" : c->name,
		           config_setting_index(st->group), cfg_show(b, sizeof(b), st->use));
	}
}

void cfg_finish(struct loader *ld)
{
	struct pgs_config *cfg = ld->cfg;
	size_t i, k;

	/* With a file unparsed, a reference may point into it: checking would
	 * only add noise to the parse error. */
	if (ld->unparsed)
		goto paths;

	/* pools -> servers */
	for (i = 0; i < cfg->npools; i++) {
		struct cfg_pool *p = &cfg->pools[i];
		const config_setting_t *m;
		char b[SHOW_MAX + 8];

		for (k = 0; k < cfg->nservers; k++)
			if (cfg_streq(cfg->servers[k].name, p->server))
				p->server_index = (int)k;
		if (p->server_index >= 0 || p->server == NULL)
			continue;
		m = config_setting_get_member(p->group, "server");
		cfg_err_at(ld, m ? m : p->group,
		           "pools[%d].server: no server named %s "
		           "in servers",
		           config_setting_index(p->group), cfg_show(b, sizeof(b), p->server));
	}

	/* the admin database is the console's, never a pool's */
	for (i = 0; cfg->admin.database != NULL && i < cfg->npools; i++) {
		const struct cfg_pool *p = &cfg->pools[i];
		char b[SHOW_MAX + 8], w[256];

		if (cfg_streq(p->database, cfg->admin.database))
			cfg_err_at(ld, p->group,
			           "pools[%d].database: %s is the admin console's database "
			           "(admin at %s)",
			           config_setting_index(p->group),
			           cfg_show(b, sizeof(b), p->database),
			           config_where(cfg->admin.group, w, sizeof w));
	}

	/* pools -> credential instances */
	for (i = 0; i < cfg->npools; i++) {
		struct cfg_pool *p = &cfg->pools[i];
		const config_setting_t *m;
		char b[SHOW_MAX + 8];

		if (p->cred_instance == NULL || find_module(cfg, p->cred_instance) != NULL)
			continue;
		m = config_setting_get_member(p->group,
		                              p->security == SEC_AUTHQUERY ? "authquery" : "vault");
		cfg_err_at(ld, m ? m : p->group,
		           "pools[%d]: security = %s needs a credential module instance named "
		           "%s in modules",
		           config_setting_index(p->group), pool_security_name(p->security),
		           cfg_show(b, sizeof(b), p->cred_instance));
	}

	/* chain steps -> modules */
	for (i = 0; i < cfg->nchains; i++)
		check_chain_uses(ld, &cfg->chains[i]);
	check_chain_uses(ld, &cfg->default_chain);

	if (cfg->nlisten == 0 && cfg->unix_socket_dir == NULL) {
		if (ld->listen_setting != NULL)
			cfg_err_at(ld, ld->listen_setting,
			           "nothing to listen on: listen "
			           "is empty and unix_socket_dir is not set");
		else
			cfg_err_file(ld, cfg->path, 0,
			             "nothing to listen on: set listen "
			             "or unix_socket_dir");
	}

paths:
	/* module_path: relative to the main file's directory */
	if (cfg->module_path == NULL) {
		cfg->module_path = cfg_dup_str(ld, PGS_MODULE_DIR);
	} else if (cfg->module_path[0] != '/') {
		char *dir = cfg_dir_of(ld, cfg->path), *abs = NULL;

		if (dir != NULL)
			abs = cfg_join_path(ld, dir, cfg->module_path);
		free(dir);
		if (abs != NULL) {
			free(cfg->module_path);
			cfg->module_path = abs;
		}
	}
	for (i = 0; i < cfg->nmodules && cfg->module_path != NULL; i++) {
		struct cfg_module *m = &cfg->modules[i];

		if (m->path == NULL)
			continue;
		m->full_path = m->path[0] == '/' ? cfg_dup_str(ld, m->path)
		                                 : cfg_join_path(ld, cfg->module_path, m->path);
	}
}
