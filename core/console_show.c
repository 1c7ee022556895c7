/*
 * console_show.c — the admin console's result sets and the SHOW commands
 * answered from shared state: SHOW VERSION, POOLS, STATS (the same
 * snapshot as the metrics endpoint), CONFIG (never a secret) and MODULES.
 */
#include "autoconf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "console_int.h"
#include "log.h"
#include "modload.h"
#include "pool.h"
#include "pool_ctl.h"
#include "proto.h"
#include "runtime.h"
#include "stats.h"

#define TEXT_OID   25u
#define CELL_MAX   512 /* bytes in one formatted cell */
#define CONFIG_MAX 32  /* rows of SHOW CONFIG */

/* ------------------------------------------------------------- results */

static void put16(struct rset *r, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	if (r->rc == 0)
		r->rc = bytebuf_append(&r->row, b, 2);
}

static void put32(struct rset *r, uint32_t v)
{
	uint8_t b[4];

	put_u32(b, v);
	if (r->rc == 0)
		r->rc = bytebuf_append(&r->row, b, 4);
}

static void put_bytes(struct rset *r, const void *p, size_t n)
{
	if (r->rc == 0 && n > 0)
		r->rc = bytebuf_append(&r->row, p, n);
}

static void end_msg(struct rset *r, char type)
{
	if (r->rc == 0)
		r->rc = proto_msg(r->out, type, bytebuf_head(&r->row), r->row.len);
	bytebuf_free(&r->row, false);
	r->row = (struct bytebuf){0};
}

void rset_begin(struct rset *r, struct bytebuf *out, const char *const *cols, size_t n)
{
	*r = (struct rset){.out = out, .ncols = n};
	put16(r, (uint16_t)n);
	for (size_t i = 0; i < n; i++) {
		put_bytes(r, cols[i], strlen(cols[i]) + 1);
		put32(r, 0);            /* table oid */
		put16(r, 0);            /* column number */
		put32(r, TEXT_OID);     /* type */
		put16(r, (uint16_t)-1); /* typlen: varlena */
		put32(r, (uint32_t)-1); /* typmod */
		put16(r, 0);            /* format: text */
	}
	end_msg(r, 'T');
}

void rset_rows(struct rset *r, struct bytebuf *out, size_t ncols)
{
	*r = (struct rset){.out = out, .ncols = ncols};
}

void rset_row(struct rset *r, const char *const *vals)
{
	put16(r, (uint16_t)r->ncols);
	for (size_t i = 0; i < r->ncols; i++) {
		if (vals[i] == NULL) {
			put32(r, (uint32_t)-1);
			continue;
		}
		put32(r, (uint32_t)strlen(vals[i]));
		put_bytes(r, vals[i], strlen(vals[i]));
	}
	end_msg(r, 'D');
	r->nrows++;
}

int rset_end(struct rset *r, const char *tag)
{
	put_bytes(r, tag, strlen(tag) + 1);
	end_msg(r, 'C');
	return r->rc;
}

const char *cell_i64(char *buf, int64_t v)
{
	snprintf(buf, 24, "%" PRId64, v);
	return buf;
}

const char *cell_u64(char *buf, uint64_t v)
{
	snprintf(buf, 24, "%" PRIu64, v);
	return buf;
}

/* ------------------------------------------------------------ commands */

int console_show_version(struct bytebuf *out)
{
	static const char *const cols[] = {"version"};
	struct rset r;

	rset_begin(&r, out, cols, 1);
	rset_row(&r, (const char *[]){"pgsluice " PACKAGE_VERSION});
	return rset_end(&r, "SHOW");
}

static const char *mode_name(const struct gen *g, const struct stats_pool_snap *p)
{
	const struct cfg_pool *pc = config_find_pool(g->cfg, p->database, p->user);

	if (pc == NULL)
		return NULL;
	return pc->mode == POOL_SESSION ? "session" : "transaction";
}

int console_show_pools(struct bytebuf *out, const struct gen *g, bool stats)
{
	static const char *const pool_cols[] = {"database", "user",       "cl_active", "cl_waiting",
	                                        "cl_idle",  "sv_active",  "sv_idle",   "sv_login",
	                                        "maxwait",  "maxwait_us", "pool_mode", "paused",
	                                        "disabled"};
	static const char *const stat_cols[] = {"database",         "user",
	                                        "total_xact_count", "total_query_count",
	                                        "total_received",   "total_sent"};
	struct stats_pool_snap *pools = NULL;
	struct rset r;
	int n = pool_snapshot_all(&pools);

	if (n < 0)
		return n;
	if (stats)
		rset_begin(&r, out, stat_cols, sizeof stat_cols / sizeof stat_cols[0]);
	else
		rset_begin(&r, out, pool_cols, sizeof pool_cols / sizeof pool_cols[0]);
	for (int i = 0; i < n && r.rc == 0; i++) {
		const struct stats_pool_snap *p = &pools[i];
		char c[9][24];

		if (stats) {
			rset_row(&r, (const char *[]){p->database, p->user,
			                              cell_u64(c[0], p->transactions),
			                              cell_u64(c[1], p->queries),
			                              cell_u64(c[2], p->bytes_in),
			                              cell_u64(c[3], p->bytes_out)});
			continue;
		}
		rset_row(&r,
		         (const char *[]){
		                 p->database, p->user, cell_i64(c[0], p->clients[STATS_CL_ACTIVE]),
		                 cell_i64(c[1], p->clients[STATS_CL_WAITING]),
		                 cell_i64(c[2], p->clients[STATS_CL_IDLE]),
		                 cell_i64(c[3], p->servers_active), cell_i64(c[4], p->servers_idle),
		                 cell_i64(c[5], p->servers_connecting),
		                 cell_i64(c[6], p->wait_max_ms / 1000),
		                 cell_i64(c[7], (p->wait_max_ms % 1000) * 1000), mode_name(g, p),
		                 pool_ctl_paused(p->database) ? "1" : "0",
		                 pool_ctl_disabled(p->database) ? "1" : "0"});
	}
	free(pools);
	return rset_end(&r, "SHOW");
}

static const char *level_name(int level)
{
	switch (level) {
	case PGS_LOG_DEBUG:
		return "debug";
	case PGS_LOG_INFO:
		return "info";
	case PGS_LOG_WARN:
		return "warning";
	default:
		return "error";
	}
}

/* The main top-level settings; never a secret. */
int console_show_config(struct bytebuf *out, const struct gen *g)
{
	static const char *const cols[] = {"key", "value", "changeable"};
	const struct pgs_config *cfg = g->cfg;
	char v[CONFIG_MAX][CELL_MAX];
	const char *keys[CONFIG_MAX], *chg[CONFIG_MAX];
	size_t n = 0, off = 0;
	struct rset r;

#define ROW(k, c, ...)                                    \
	do {                                              \
		keys[n] = (k);                            \
		chg[n] = (c);                             \
		snprintf(v[n], sizeof v[n], __VA_ARGS__); \
		n++;                                      \
	} while (0)

	ROW("config_file", "no", "%s", cfg->path ? cfg->path : "");
	for (size_t i = 0; i < cfg->nlisten && off < sizeof v[0] - 1; i++) {
		int w = snprintf(v[n] + off, sizeof v[n] - off, "%s%s%s%s:%d", i ? ", " : "",
		                 strchr(cfg->listen[i].host, ':') ? "[" : "", cfg->listen[i].host,
		                 strchr(cfg->listen[i].host, ':') ? "]" : "", cfg->listen[i].port);

		off += w > 0 ? (size_t)w : 0;
	}
	v[n][sizeof v[n] - 1] = '\0';
	if (cfg->nlisten == 0)
		v[n][0] = '\0';
	keys[n] = "listen";
	chg[n++] = "no";
	ROW("unix_socket_dir", "no", "%s", cfg->unix_socket_dir ? cfg->unix_socket_dir : "");
	ROW("unix_socket_mode", "no", "%04o", (unsigned)cfg->unix_socket_mode);
	ROW("workers", "no", "%d", rt->nworkers);
	ROW("max_client_conn", "yes", "%d", cfg->max_client_conn);
	ROW("log_level", "yes", "%s", level_name(cfg->log_level));
	ROW("log_connections", "yes", "%s", cfg->log_connections ? "on" : "off");
	ROW("log_disconnections", "yes", "%s", cfg->log_disconnections ? "on" : "off");
	if (cfg->metrics.host != NULL)
		ROW("metrics_listen", "no", "%s%s%s:%d", strchr(cfg->metrics.host, ':') ? "[" : "",
		    cfg->metrics.host, strchr(cfg->metrics.host, ':') ? "]" : "",
		    cfg->metrics.port);
	else
		ROW("metrics_listen", "no", "%s", "");
	ROW("module_path", "no", "%s", cfg->module_path ? cfg->module_path : "");
	ROW("query_wait_timeout", "yes", "%" PRId64, cfg->query_wait_timeout);
	ROW("server_idle_timeout", "yes", "%" PRId64, cfg->server_idle_timeout);
	ROW("server_lifetime", "yes", "%" PRId64, cfg->server_lifetime);
	ROW("client_idle_timeout", "yes", "%" PRId64, cfg->client_idle_timeout);
	ROW("server_connect_timeout", "yes", "%" PRId64, cfg->server_connect_timeout);
	ROW("client_login_timeout", "yes", "%" PRId64, cfg->client_login_timeout);
	ROW("shutdown_timeout", "yes", "%" PRId64, cfg->shutdown_timeout);
	ROW("server_reset_query", "yes", "%s",
	    cfg->server_reset_query ? cfg->server_reset_query : "");
	ROW("admin_database", "yes", "%s", cfg->admin.database ? cfg->admin.database : "");
	ROW("admin_users", "yes", "%zu", cfg->admin.nusers);
	ROW("pools", "yes", "%zu", cfg->npools);
#undef ROW
	rset_begin(&r, out, cols, 3);
	for (size_t i = 0; i < n; i++)
		rset_row(&r, (const char *[]){keys[i], v[i], chg[i]});
	return rset_end(&r, "SHOW");
}

int console_show_modules(struct bytebuf *out, const struct gen *g)
{
	static const char *const cols[] = {"name", "module", "version", "abi", "kinds"};
	const struct mod_set *ms = g->mods;
	struct rset r;

	rset_begin(&r, out, cols, 5);
	for (size_t i = 0; ms != NULL && i < ms->nmods; i++) {
		const pgs_module *d = ms->mods[i].desc;
		char abi[16], kinds[64] = "";
		const struct {
			bool on;
			const char *name;
		} k[] = {
		        {d->auth != NULL, "auth"},
		        {d->backend != NULL, "backend"},
		        {d->cred != NULL, "cred"},
		        {d->access != NULL, "access"},
		        {d->audit != NULL, "audit"},
		        {PGS_HAS_FIELD(d, pgs_module, transport) && d->transport != NULL,
		         "transport"},
		};

		snprintf(abi, sizeof abi, "%u.%u", (unsigned)d->abi_major, (unsigned)d->abi_minor);
		for (size_t j = 0; j < sizeof k / sizeof k[0]; j++) {
			if (!k[j].on)
				continue;
			if (kinds[0] != '\0')
				strcat(kinds, ",");
			strcat(kinds, k[j].name); /* 40 bytes at most in all */
		}
		rset_row(&r, (const char *[]){ms->mods[i].name, d->name, d->version, abi, kinds});
	}
	return rset_end(&r, "SHOW");
}
