/*
 * console.c — the admin console.
 *
 * A client whose startup database is the admin database runs the normal
 * access rules and chain; then, instead of a pool, it gets this console:
 * only simple Query and Terminate messages, one command per query, every
 * answer built here (RowDescription with text columns, DataRows,
 * CommandComplete, ReadyForQuery).  The numbers come from the same
 * snapshot as the metrics endpoint (pool_snapshot_all()).
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "audit.h"
#include "client.h"
#include "client_int.h"
#include "conn.h"
#include "console.h"
#include "cred.h"
#include "host.h"
#include "io.h"
#include "log.h"
#include "modload.h"
#include "pool.h"
#include "proto.h"
#include "runtime.h"
#include "stats.h"
#include "transport.h"
#include "worker.h"

#define TEXT_OID   25u
#define CELL_MAX   512 /* bytes in one formatted cell */
#define CONFIG_MAX 32  /* rows of SHOW CONFIG */

/* ------------------------------------------------------------- results */

/* A result set being written to a client's output. */
struct rset {
	struct bytebuf *out;
	struct bytebuf row; /* payload being built */
	size_t ncols, nrows;
	int rc;
};

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

/* RowDescription: every column text. */
static void rset_begin(struct rset *r, struct bytebuf *out, const char *const *cols, size_t n)
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

/* One DataRow of r->ncols values (NULL: SQL NULL). */
static void rset_row(struct rset *r, const char *const *vals)
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

/* CommandComplete with tag; returns the first error of the set. */
static int rset_end(struct rset *r, const char *tag)
{
	put_bytes(r, tag, strlen(tag) + 1);
	end_msg(r, 'C');
	return r->rc;
}

/* Format one integer cell. */
static const char *i64(char *buf, int64_t v)
{
	snprintf(buf, 24, "%" PRId64, v);
	return buf;
}

static const char *u64(char *buf, uint64_t v)
{
	snprintf(buf, 24, "%" PRIu64, v);
	return buf;
}

/* ------------------------------------------------------------ commands */

static int show_version(struct bytebuf *out)
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

static int show_pools(struct bytebuf *out, const struct gen *g, bool stats)
{
	static const char *const pool_cols[] = {"database", "user",       "cl_active", "cl_waiting",
	                                        "cl_idle",  "sv_active",  "sv_idle",   "sv_login",
	                                        "maxwait",  "maxwait_us", "pool_mode"};
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
			rset_row(&r,
			         (const char *[]){p->database, p->user, u64(c[0], p->transactions),
			                          u64(c[1], p->queries), u64(c[2], p->bytes_in),
			                          u64(c[3], p->bytes_out)});
			continue;
		}
		rset_row(&r,
		         (const char *[]){
		                 p->database, p->user, i64(c[0], p->clients[STATS_CL_ACTIVE]),
		                 i64(c[1], p->clients[STATS_CL_WAITING]),
		                 i64(c[2], p->clients[STATS_CL_IDLE]), i64(c[3], p->servers_active),
		                 i64(c[4], p->servers_idle), i64(c[5], p->servers_connecting),
		                 i64(c[6], p->wait_max_ms / 1000),
		                 i64(c[7], (p->wait_max_ms % 1000) * 1000), mode_name(g, p)});
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
static int show_config(struct bytebuf *out, const struct gen *g)
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

static int show_modules(struct bytebuf *out, const struct gen *g)
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

/* A command with no rows: only the CommandComplete. */
static int command_done(struct bytebuf *out, const char *tag)
{
	return proto_msg(out, 'C', tag, strlen(tag) + 1);
}

/* ------------------------------------------------------------- session */

static void cs_log(const struct client *cl, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void cs_log(const struct client *cl, const char *fmt, ...)
{
	char prefix[256];
	va_list ap;

	if (!log_enabled(PGS_LOG_INFO))
		return;
	va_start(ap, fmt);
	log_vmsg(PGS_LOG_INFO, client_log_prefix(cl, prefix, sizeof prefix), fmt, ap);
	va_end(ap);
}

bool console_wanted(const struct client *cl)
{
	const char *db = cl->gen->cfg->admin.database;

	return db != NULL && cl->sp.database != NULL && strcmp(cl->sp.database, db) == 0;
}

/* In admin.users, or in the admins table of the admin.vault instance. */
static bool is_admin(const struct client *cl)
{
	const struct cfg_admin *a = &cl->gen->cfg->admin;
	pgs_secret s;

	if (cl->sp.user == NULL)
		return false;
	for (size_t i = 0; i < a->nusers; i++)
		if (strcmp(a->users[i], cl->sp.user) == 0)
			return true;
	if (a->vault == NULL || cred_secret_lookup((pgs_conn *)&cl->c, cl->sp.user, &s) != 0)
		return false;
	host_services()->secret_release(&s);
	return true;
}

void console_start(struct client *cl)
{
	struct bytebuf *b = &cl->c.wbuf;
	char version[64];
	const char *cipher;
	uint32_t key = 0;
	int rc = 0;

	if (!cl->is_unix && cl->c.tp == NULL) {
		audit_admin(cl, "login", "refused: clear text");
		client_fail(cl, "28000",
		            "the admin console requires an encrypted connection (TLS or GSS) "
		            "over TCP");
		return;
	}
	if (!cl->is_unix && strcmp(transport_kind_name(&cl->c), "tls") == 0 &&
	    (cipher = transport_fact(&cl->c, "cipher")) != NULL && strstr(cipher, "GCM") == NULL) {
		audit_admin(cl, "login", "refused: cipher");
		client_fail(cl, "28000",
		            "the admin console requires an AES-GCM cipher suite over TCP "
		            "(negotiated: %s)",
		            cipher);
		return;
	}
	if (!is_admin(cl)) {
		audit_admin(cl, "login", "refused: not an admin user");
		client_fail(cl, "42501",
		            "permission denied for the admin console: \"%s\" is not an admin user",
		            cl->sp.user ? cl->sp.user : "");
		return;
	}
	if (RAND_bytes((unsigned char *)&key, sizeof key) != 1)
		key = (uint32_t)cl->c.id;
	snprintf(version, sizeof version, "15.0 (pgsluice %s)", PACKAGE_VERSION);
	const char *const params[] = {"server_version",
	                              version,
	                              "server_encoding",
	                              "UTF8",
	                              "client_encoding",
	                              "UTF8",
	                              "DateStyle",
	                              "ISO, MDY",
	                              "integer_datetimes",
	                              "on",
	                              "standard_conforming_strings",
	                              "on",
	                              "application_name",
	                              "pgsluice",
	                              NULL};
	for (size_t i = 0; params[i] != NULL && rc == 0; i += 2)
		rc = proto_param_status(b, params[i], params[i + 1]);
	if (rc == 0)
		rc = proto_backend_key(b, (uint32_t)getpid(), key);
	if (rc == 0)
		rc = proto_ready(b, 'I');
	if (rc < 0 || io_flush(&cl->c) < 0) {
		client_close(cl, "could not send the welcome");
		return;
	}
	audit_admin(cl, "login", "ok");
	cs_log(cl, "admin console session started");
	client_set_state(cl, CL_CONSOLE);
	/* input that came with the last authentication message */
	if (cl->c.rbuf != NULL && cl->c.rbuf->start < cl->c.rbuf->end)
		console_on_input(cl);
}

/* Run one query; 0, or -1 when the client must be closed. */
static int run_query(struct client *cl, const char *q, size_t len)
{
	struct bytebuf *out = &cl->c.wbuf;
	char name[32], arg[CONSOLE_NAME_MAX + 1];
	enum console_cmd cmd = console_parse(q, len, name, sizeof name, arg, sizeof arg);
	struct gen *g;
	const char *result = "ok";
	int rc = 0;
	bool hup = false, term = false;

	g = runtime_gen_get();
	switch (cmd) {
	case CONSOLE_EMPTY:
		rc = proto_msg(out, 'I', NULL, 0);
		break;
	case CONSOLE_INVALID:
		result = "invalid command";
		rc = proto_error(out, "ERROR", "42601", NULL, "invalid command");
		break;
	case CONSOLE_SHOW_CLIENTS:
	case CONSOLE_SHOW_SERVERS:
	case CONSOLE_PAUSE:
	case CONSOLE_RESUME:
	case CONSOLE_DISABLE:
	case CONSOLE_ENABLE:
	case CONSOLE_KILL:
		result = "not supported";
		rc = proto_error(out, "ERROR", "0A000", NULL, "%s is not supported yet", name);
		break;
	case CONSOLE_SHOW_VERSION:
		rc = show_version(out);
		break;
	case CONSOLE_SHOW_POOLS:
		rc = show_pools(out, g, false);
		break;
	case CONSOLE_SHOW_STATS:
		rc = show_pools(out, g, true);
		break;
	case CONSOLE_SHOW_CONFIG:
		rc = show_config(out, g);
		break;
	case CONSOLE_SHOW_MODULES:
		rc = show_modules(out, g);
		break;
	case CONSOLE_RELOAD:
		hup = true;
		rc = command_done(out, "RELOAD");
		break;
	case CONSOLE_SHUTDOWN:
		term = true;
		rc = command_done(out, "SHUTDOWN");
		break;
	}
	gen_unref(g);
	if (hup && kill(getpid(), SIGHUP) < 0)
		result = "failed: could not signal";
	if (rc < 0)
		result = "failed: out of memory";
	if (cmd != CONSOLE_EMPTY) {
		/* the text of an invalid command is not logged: it could be anything */
		cs_log(cl, "admin command %s: %s", cmd == CONSOLE_INVALID ? "(invalid)" : name,
		       result);
		audit_admin(cl, cmd == CONSOLE_INVALID ? "invalid" : name, result);
	}
	if (rc == 0)
		rc = proto_ready(out, 'I');
	if (rc < 0 || io_flush(&cl->c) < 0)
		return -1;
	if (term && kill(getpid(), SIGTERM) < 0)
		cs_log(cl, "SHUTDOWN: could not signal: %s", strerror(errno));
	return 0;
}

/* Handle the complete messages in the read buffer. */
static void handle_messages(struct client *cl)
{
	struct iobuf *b = cl->c.rbuf;

	while (b != NULL && b->end - b->start >= PROTO_MSG_HDR && !cl->c.dead) {
		char type = (char)b->data[b->start];
		uint32_t len = get_u32(b->data + b->start + 1);

		if (len < 4 || (type == 'Q' && len - 4 > CONSOLE_QUERY_MAX + 1) ||
		    (type == 'X' && len != 4)) {
			client_fail(cl, "08P01", "invalid message length");
			return;
		}
		if (type != 'Q' && type != 'X') {
			audit_admin(cl, "protocol", "refused: unsupported message");
			client_fail(cl, "08P01",
			            "the admin console accepts only simple queries (message type "
			            "0x%02x)",
			            (unsigned char)type);
			return;
		}
		if (b->end - b->start < 1 + len)
			return; /* wait for the rest */
		if (type == 'X') {
			b->start = b->end;
			client_close(cl, NULL);
			return;
		}
		if (run_query(cl, (const char *)b->data + b->start + PROTO_MSG_HDR, len - 4) < 0) {
			client_close(cl, "could not answer");
			return;
		}
		b->start += 1 + len;
	}
}

void console_on_input(struct client *cl)
{
	ssize_t n = io_read(&cl->c);

	if (n == 0 || (n < 0 && n != -EAGAIN && n != -ENOBUFS)) {
		client_close(cl, n == 0 ? NULL : "read error");
		return;
	}
	cl->last_active = cl->c.w->now;
	handle_messages(cl);
	if (!cl->c.dead)
		io_release_rbuf(&cl->c);
}
