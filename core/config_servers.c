/*
 * config_servers.c — the `servers` list of one parsed file: name, host,
 * port, and the settings of pgsluice's own connections to each server
 * (sslmode and certificates, gssencmode, krbsrvname).  A later definition
 * of the same name replaces the earlier whole.
 */
#include "autoconf.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"

/* sslmode and the certificate paths of servers[idx] (relative paths are
 * relative to the file that sets them). */
static void server_tls(struct loader *ld, const config_setting_t *g, int idx,
                       struct cfg_server *srv)
{
	static const char *const modes[] = {"disable", "allow",     "prefer",
	                                    "require", "verify-ca", "verify-full"};
	static const char *const paths[] = {"sslrootcert", "sslcert", "sslkey", "sslcrl"};
	char **dst[] = {&srv->sslrootcert, &srv->sslcert, &srv->sslkey, &srv->sslcrl};
	const config_setting_t *m = config_setting_get_member(g, "sslmode");
	const char *v = "prefer";
	char sp[64], b[SHOW_MAX + 8];

	snprintf(sp, sizeof(sp), "servers[%d].sslmode", idx);
	if (m != NULL && cfg_get_nonempty(ld, m, sp, &v)) {
		size_t k = 0;

		while (k < sizeof modes / sizeof modes[0] && strcmp(v, modes[k]) != 0)
			k++;
		if (k == sizeof modes / sizeof modes[0]) {
			cfg_err_at(ld, m,
			           "%s: unknown sslmode %s (expected disable, allow, prefer, "
			           "require, verify-ca or verify-full)",
			           sp, cfg_show(b, sizeof(b), v));
			v = "prefer";
		}
	}
	srv->sslmode = cfg_dup_str(ld, v);
	for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++) {
		const config_setting_t *p = config_setting_get_member(g, paths[k]);
		const char *file = p != NULL ? config_setting_source_file(p) : NULL;

		snprintf(sp, sizeof(sp), "servers[%d].%s", idx, paths[k]);
		if (p == NULL || !cfg_get_nonempty(ld, p, sp, &v))
			continue;
		if (v[0] == '/' || file == NULL) {
			*dst[k] = cfg_dup_str(ld, v);
		} else {
			char *dir = cfg_dir_of(ld, file);

			*dst[k] = dir != NULL ? cfg_join_path(ld, dir, v) : NULL;
			free(dir);
		}
	}
	if (m != NULL && strncmp(srv->sslmode, "verify", 6) == 0 && srv->sslrootcert == NULL)
		cfg_err_at(ld, m, "servers[%d].sslmode: %s needs sslrootcert", idx, srv->sslmode);
}

/* gssencmode and krbsrvname of servers[idx] (libpq's meanings; the
 * default gssencmode is disable: GSS encryption costs CPU on every
 * message, so a pool asks for it explicitly). */
static void server_gss(struct loader *ld, const config_setting_t *g, int idx,
                       struct cfg_server *srv)
{
	const config_setting_t *m = config_setting_get_member(g, "gssencmode");
	const config_setting_t *k = config_setting_get_member(g, "krbsrvname");
	const char *v = "disable";
	char sp[64], b[SHOW_MAX + 8];

	snprintf(sp, sizeof(sp), "servers[%d].gssencmode", idx);
	if (m != NULL && cfg_get_nonempty(ld, m, sp, &v) && strcmp(v, "disable") != 0 &&
	    strcmp(v, "prefer") != 0 && strcmp(v, "require") != 0) {
		cfg_err_at(ld, m, "%s: unknown gssencmode %s (expected disable, prefer or require)",
		           sp, cfg_show(b, sizeof(b), v));
		v = "disable";
	}
	srv->gssencmode = cfg_dup_str(ld, v);
	v = "postgres";
	snprintf(sp, sizeof(sp), "servers[%d].krbsrvname", idx);
	if (k != NULL && cfg_get_nonempty(ld, k, sp, &v) &&
	    (strlen(v) > 63 || strpbrk(v, "/@") != NULL)) {
		cfg_err_at(ld, k,
		           "%s: invalid Kerberos service name %s (1 to 63 characters, no / or @)",
		           sp, cfg_show(b, sizeof(b), v));
		v = "postgres";
	}
	srv->krbsrvname = cfg_dup_str(ld, v);
}

void cfg_merge_servers(struct loader *ld, const config_setting_t *s)
{
	static const char *const keys[] = {"name",        "host",       "port",   "sslmode",
	                                   "sslrootcert", "sslcert",    "sslkey", "sslcrl",
	                                   "gssencmode",  "krbsrvname", NULL};
	struct pgs_config *cfg = ld->cfg;
	int i, j, n;

	if (!cfg_is_list_like(s)) {
		cfg_err_at(ld, s,
		           "servers: expected a list of groups "
		           "( { name = ...; host = ...; } ), got %s",
		           cfg_type_name(s));
		return;
	}
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
		const config_setting_t *mn, *mh, *mp;
		const char *name = NULL, *host = NULL;
		struct cfg_server srv, *slot = NULL;
		char sp[64], b[SHOW_MAX + 8], w[PATH_MAX + 32];
		int port = PGS_DEFAULT_SERVER_PORT;
		bool dup = false;
		size_t k;

		snprintf(sp, sizeof(sp), "servers[%d]", i);
		if (!config_setting_is_group(g)) {
			cfg_err_at(ld, g,
			           "%s: expected a group { name = ...; "
			           "host = ...; }, got %s",
			           sp, cfg_type_name(g));
			continue;
		}
		cfg_check_keys(ld, g, sp, keys);
		mn = config_setting_get_member(g, "name");
		mh = config_setting_get_member(g, "host");
		mp = config_setting_get_member(g, "port");
		if (mn == NULL)
			cfg_err_at(ld, g, "%s: missing required setting \"name\"", sp);
		if (mh == NULL)
			cfg_err_at(ld, g, "%s: missing required setting \"host\"", sp);
		snprintf(sp, sizeof(sp), "servers[%d].name", i);
		if (mn != NULL && !cfg_get_nonempty(ld, mn, sp, &name))
			name = NULL;
		snprintf(sp, sizeof(sp), "servers[%d].host", i);
		if (mh != NULL && cfg_get_nonempty(ld, mh, sp, &host) && host[0] == '/' &&
		    strlen(host) > MAX_SOCKET_DIR)
			cfg_err_at(ld, mh, "%s: socket directory longer than %d bytes", sp,
			           MAX_SOCKET_DIR);
		snprintf(sp, sizeof(sp), "servers[%d].port", i);
		if (mp != NULL)
			(void)cfg_get_int(ld, mp, sp, 1, 65535, &port);
		/* Two definitions of one name in one file is a mistake; across
		 * files it is an override. */
		for (j = 0; name != NULL && j < i; j++) {
			const config_setting_t *og;
			const char *on = NULL;

			og = config_setting_get_elem(s, (unsigned)j);
			if (config_setting_is_group(og) &&
			    config_setting_lookup_string(og, "name", &on) && cfg_streq(on, name)) {
				snprintf(sp, sizeof(sp), "servers[%d].name", i);
				cfg_err_at(ld, mn,
				           "%s: duplicate server name %s (first "
				           "defined at %s)",
				           sp, cfg_show(b, sizeof(b), name),
				           config_where(og, w, sizeof(w)));
				dup = true;
				break;
			}
		}
		/* A server with a bad host or port is still entered under its
		 * name, so that pools naming it do not get a second, false
		 * "no server named" error (the load fails anyway). */
		if (name == NULL || dup)
			continue;
		memset(&srv, 0, sizeof(srv));
		srv.name = cfg_dup_str(ld, name);
		srv.host = cfg_dup_str(ld, host);
		srv.port = port;
		server_tls(ld, g, i, &srv);
		server_gss(ld, g, i, &srv);
		srv.where = cfg_where_of(ld, g);
		for (k = 0; k < cfg->nservers; k++)
			if (cfg_streq(cfg->servers[k].name, name))
				slot = &cfg->servers[k];
		if (slot != NULL) {
			cfg_free_server(slot);
		} else {
			slot = realloc(cfg->servers, (cfg->nservers + 1) * sizeof(*slot));
			if (slot == NULL) {
				ld->oom = true;
				cfg_free_server(&srv);
				return;
			}
			cfg->servers = slot;
			slot = &cfg->servers[cfg->nservers++];
		}
		*slot = srv;
	}
}
