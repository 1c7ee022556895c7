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

#include "audit.h"
#include "client.h"
#include "client_int.h"
#include "conn.h"
#include "console.h"
#include "console_int.h"
#include "cred.h"
#include "host.h"
#include "io.h"
#include "log.h"
#include "modload.h"
#include "pool.h"
#include "pool_ctl.h"
#include "proto.h"
#include "runtime.h"
#include "stats.h"
#include "transport.h"
#include "worker.h"

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
	cl->console = calloc(1, sizeof *cl->console);
	if (cl->console == NULL) {
		client_fail(cl, "53200", "out of memory");
		return;
	}
	cl->console->cl = cl;
	random_bytes(&key, sizeof key);
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

/* PAUSE / RESUME / DISABLE / ENABLE / KILL.  Returns what run_query
 * returns; *wait set when the answer comes later (a PAUSE still
 * waiting for servers to go). */
static int run_ctl(struct client *cl, enum console_cmd cmd, const char *name, const char *arg,
                   const char **result, bool *wait)
{
	struct bytebuf *out = &cl->c.wbuf;
	const char *db = arg[0] != '\0' ? arg : NULL;
	const char *admin_db = cl->gen->cfg->admin.database;
	int rc;

	if (db != NULL && strcmp(db, admin_db) == 0 && cmd != CONSOLE_RESUME &&
	    cmd != CONSOLE_ENABLE) {
		*result = "refused: the admin database";
		return proto_error(out, "ERROR", "55000", NULL,
		                   "%s cannot be used on the admin console's database \"%s\"", name,
		                   db);
	}
	switch (cmd) {
	case CONSOLE_PAUSE:
		rc = pool_ctl_pause(db);
		break;
	case CONSOLE_RESUME:
		rc = pool_ctl_resume(db);
		break;
	case CONSOLE_DISABLE:
		rc = pool_ctl_disable(db);
		break;
	case CONSOLE_ENABLE:
		rc = pool_ctl_enable(db);
		break;
	default:
		rc = pool_ctl_kill(db);
		break;
	}
	if (rc == -ENOMEM) {
		*result = "failed: out of memory";
		return proto_error(out, "ERROR", "53200", NULL, "out of memory");
	}
	if (rc == -EALREADY || rc == -ENOENT || rc == -EBUSY) {
		char what[CONSOLE_NAME_MAX + 16];
		const char *state = cmd == CONSOLE_PAUSE     ? "already paused"
		                    : cmd == CONSOLE_RESUME  ? "not paused"
		                    : cmd == CONSOLE_DISABLE ? "already disabled"
		                                             : "not disabled";

		if (db != NULL)
			snprintf(what, sizeof what, "database \"%s\"", db);
		else
			snprintf(what, sizeof what, "%s",
			         cmd == CONSOLE_PAUSE ? "pgsluice" : "nothing");
		*result = "refused: no change";
		if (rc == -EBUSY)
			return proto_error(
			        out, "ERROR", "55000", NULL,
			        "%s is paused by a PAUSE of every database: RESUME without "
			        "a database ends it",
			        what);
		if (db == NULL && cmd == CONSOLE_RESUME)
			return proto_error(out, "ERROR", "55000", NULL, "nothing is paused");
		return proto_error(out, "ERROR", "55000", NULL, "%s is %s", what, state);
	}
	if (cmd == CONSOLE_PAUSE && !pool_ctl_pause_done(db)) {
		struct console *cs = cl->console;

		cs->wait = CS_PAUSE;
		cs->pause_all = db == NULL;
		snprintf(cs->db, sizeof cs->db, "%s", db ? db : "");
		list_add_tail(&cl->c.w->console_waits, &cs->wait_link);
		*wait = true;
		*result = "waiting for the servers to be released";
		return 0;
	}
	return command_done(out, name);
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
	bool hup = false, term = false, wait = false;

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
		rc = console_list_start(cl, cmd == CONSOLE_SHOW_SERVERS);
		if (rc == 0)
			wait = true;
		break;
	case CONSOLE_PAUSE:
	case CONSOLE_RESUME:
	case CONSOLE_DISABLE:
	case CONSOLE_ENABLE:
	case CONSOLE_KILL:
		rc = run_ctl(cl, cmd, name, arg, &result, &wait);
		break;
	case CONSOLE_SHOW_VERSION:
		rc = console_show_version(out);
		break;
	case CONSOLE_SHOW_POOLS:
		rc = console_show_pools(out, g, false);
		break;
	case CONSOLE_SHOW_STATS:
		rc = console_show_pools(out, g, true);
		break;
	case CONSOLE_SHOW_CONFIG:
		rc = console_show_config(out, g);
		break;
	case CONSOLE_SHOW_MODULES:
		rc = console_show_modules(out, g);
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
		char what[sizeof name + sizeof arg + 4];

		snprintf(what, sizeof what, "%s%s%s%s", cmd == CONSOLE_INVALID ? "(invalid)" : name,
		         arg[0] ? " \"" : "", arg, arg[0] ? "\"" : "");
		cs_log(cl, "admin command %s: %s", what, result);
		if (!wait || cmd != CONSOLE_PAUSE) /* a waiting PAUSE: when it ends */
			audit_admin(cl, what, result);
	}
	if (wait && rc == 0) {
		/* the answer and ReadyForQuery come later; read nothing more */
		if (io_flush(&cl->c) < 0 || io_want_read(&cl->c, 0) < 0)
			return -1;
		return 0;
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

	while (b != NULL && b->end - b->start >= PROTO_MSG_HDR && !cl->c.dead &&
	       cl->console->wait == CS_READY) {
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

void console_resume_session(struct client *cl)
{
	cl->console->wait = CS_READY;
	if (proto_ready(&cl->c.wbuf, 'I') < 0 || io_flush(&cl->c) < 0 ||
	    io_want_read(&cl->c, 1) < 0) {
		client_close(cl, "could not answer");
		return;
	}
	cl->last_active = cl->c.w->now;
	/* commands that came while it waited */
	handle_messages(cl);
	if (!cl->c.dead)
		io_release_rbuf(&cl->c);
}

void console_sweep(struct worker *w)
{
	struct list *n, *next;

	for (n = w->console_waits.next; n != &w->console_waits; n = next) {
		struct console *cs = container_of(n, struct console, wait_link);
		struct client *cl = cs->cl;
		const char *db = cs->pause_all ? NULL : cs->db;
		bool done, cancelled;
		char what[CONSOLE_NAME_MAX + 16];
		int rc;

		next = n->next;
		if (cl->c.dead)
			continue; /* closed: console_free unlinks it */
		cancelled = !pool_ctl_paused(db);
		done = !cancelled && pool_ctl_pause_done(db);
		if (!done && !cancelled)
			continue;
		list_del(&cs->wait_link);
		if (cancelled)
			rc = proto_error(&cl->c.wbuf, "ERROR", "57014", NULL,
			                 "PAUSE canceled: %s was resumed before its servers were "
			                 "released",
			                 db ? "the database" : "pgsluice");
		else
			rc = command_done(&cl->c.wbuf, "PAUSE");
		snprintf(what, sizeof what, "PAUSE%s%s%s", db ? " \"" : "", db ? db : "",
		         db ? "\"" : "");
		cs_log(cl, "admin command %s: %s", what, cancelled ? "canceled by RESUME" : "ok");
		audit_admin(cl, what, cancelled ? "canceled by RESUME" : "ok");
		if (rc < 0) {
			client_close(cl, "out of memory");
			continue;
		}
		console_resume_session(cl);
	}
}

void console_free(struct client *cl)
{
	struct console *cs = cl->console;

	if (cs == NULL)
		return;
	if (list_linked(&cs->wait_link))
		list_del(&cs->wait_link);
	/* a listing in flight is freed by console_collect_done(), which
	 * finds no session with this id */
	free(cs);
	cl->console = NULL;
}
