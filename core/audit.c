/*
 * audit.c — audit events from the core to the audit modules.  The facts go
 * as text pairs (pgs_event.fields, ABI 1.4); a module built against an
 * older ABI gets the same call and never reads them.
 */
#include "autoconf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "chainset.h"
#include "conn.h"
#include "modload.h"
#include "runtime.h"
#include "transport.h"
#include "worker.h"

#define AUDIT_MAX_FIELDS 32

static bool any_sink(const struct mod_set *ms)
{
	for (size_t i = 0; ms != NULL && i < ms->nmods; i++)
		if (ms->mods[i].desc->audit != NULL && ms->mods[i].desc->audit->on_event != NULL)
			return true;
	return false;
}

/* fields: key, value, ..., NULL; pairs whose value is NULL are left out. */
static void emit(const struct mod_set *ms, const struct pgs_conn *c, enum pgs_event_type type,
                 const char *const *fields)
{
	const char *kv[2 * AUDIT_MAX_FIELDS + 1];
	char conn_id[32];
	size_t n = 0;
	pgs_event ev;

	if (c != NULL) {
		snprintf(conn_id, sizeof conn_id, "%c-%" PRIu64,
		         c->side == PGS_SIDE_CLIENT ? 'C' : 'S', c->id);
		kv[n++] = "conn";
		kv[n++] = conn_id;
	}
	for (size_t i = 0; fields[i] != NULL && n + 2 < sizeof kv / sizeof kv[0]; i += 2) {
		if (fields[i + 1] == NULL)
			continue;
		kv[n++] = fields[i];
		kv[n++] = fields[i + 1];
	}
	kv[n] = NULL;
	ev = (pgs_event){.size = sizeof ev, .type = type, .detail = NULL, .fields = kv};
	for (size_t i = 0; i < ms->nmods; i++) {
		const pgs_audit_ops *ops = ms->mods[i].desc->audit;

		if (ops != NULL && ops->on_event != NULL)
			ops->on_event(ms->mods[i].state, (const pgs_conn *)c, &ev);
	}
}

static const char *transport_name(const struct client *cl)
{
	return cl->is_unix ? "unix" : transport_kind_name(&cl->c);
}

void audit_connect(struct client *cl, const char *listener)
{
	if (!any_sink(cl->gen->mods))
		return;
	emit(cl->gen->mods, &cl->c, PGS_EV_CONNECT,
	     (const char *[]){"peer", cl->remote_addr, "port",
	                      cl->remote_port[0] ? cl->remote_port : NULL, "listener", listener,
	                      NULL});
}

void audit_transport(struct client *cl)
{
	const char *kind = transport_kind_name(&cl->c);

	if (!any_sink(cl->gen->mods))
		return;
	if (strcmp(kind, "gss") == 0)
		emit(cl->gen->mods, &cl->c, PGS_EV_GSS,
		     (const char *[]){"principal", transport_fact(&cl->c, "gss_principal"), NULL});
	else if (strcmp(kind, "tls") == 0)
		emit(cl->gen->mods, &cl->c, PGS_EV_TLS,
		     (const char *[]){"protocol", transport_fact(&cl->c, "protocol"), "cipher",
		                      transport_fact(&cl->c, "cipher"), "client_subject",
		                      transport_fact(&cl->c, "peer_subject"), NULL});
}

void audit_step(struct client *cl, const char *step, const char *module, const char *result,
                const char *reason)
{
	if (!any_sink(cl->gen->mods))
		return;
	emit(cl->gen->mods, &cl->c, PGS_EV_STEP,
	     (const char *[]){"chain", cl->auth.chain ? cl->auth.chain->name : NULL, "step", step,
	                      "module", module, "result", result, "rule", cl->auth_rule, "reason",
	                      reason, NULL});
}

void audit_auth(struct client *cl, bool ok, const char *reason)
{
	const char *method = cl->auth.chain ? cl->auth.chain->name : NULL;

	if (!any_sink(cl->gen->mods))
		return;
	if (ok)
		emit(cl->gen->mods, &cl->c, PGS_EV_AUTH_OK,
		     (const char *[]){"user", cl->sp.user, "database", cl->sp.database, "method",
		                      method, "identity", cl->authn_id, "rule", cl->auth_rule,
		                      "transport", transport_name(cl), NULL});
	else
		emit(cl->gen->mods, &cl->c, PGS_EV_AUTH_FAIL,
		     (const char *[]){"user", cl->sp.user, "database", cl->sp.database, "method",
		                      method, "reason", reason, "rule", cl->auth_rule, "transport",
		                      transport_name(cl), NULL});
}

void audit_disconnect(struct client *cl, const char *reason)
{
	char dur[32], in[32], out[32];

	if (!any_sink(cl->gen->mods))
		return;
	snprintf(dur, sizeof dur, "%" PRId64, cl->c.w->now - cl->connect_time);
	snprintf(in, sizeof in, "%" PRIu64, cl->c.bytes_in);
	snprintf(out, sizeof out, "%" PRIu64, cl->c.bytes_out);
	emit(cl->gen->mods, &cl->c, PGS_EV_DISCONNECT,
	     (const char *[]){"user", cl->sp.user, "database", cl->sp.database, "duration_ms", dur,
	                      "bytes_in", in, "bytes_out", out, "reason",
	                      reason ? reason : "client closed the connection", NULL});
}

void audit_server_fail(struct server *sv, const char *reason)
{
	if (!any_sink(sv->gen->mods))
		return;
	emit(sv->gen->mods, &sv->c, PGS_EV_SERVER_FAIL,
	     (const char *[]){"server", sv->gen->cfg->servers[sv->pcfg->server_index].name, "user",
	                      sv->login_user, "database", sv->login_db, "reason", reason, NULL});
}

void audit_admin(struct client *cl, const char *command, const char *result)
{
	if (!any_sink(cl->gen->mods))
		return;
	emit(cl->gen->mods, &cl->c, PGS_EV_ADMIN,
	     (const char *[]){"user", cl->sp.user, "command", command, "result", result, NULL});
}

void audit_reload(const struct mod_set *ms, bool ok, const char *config, const char *reason)
{
	if (!any_sink(ms))
		return;
	emit(ms, NULL, PGS_EV_RELOAD,
	     (const char *[]){"result", ok ? "ok" : "failed", "config", config, "reason", reason,
	                      NULL});
}

int audit_refusal(const struct mod_set *ms, const char **name)
{
	for (size_t i = 0; ms != NULL && i < ms->nmods; i++) {
		const pgs_audit_ops *ops = ms->mods[i].desc->audit;
		int rc;

		if (!PGS_HAS_FIELD(ops, pgs_audit_ops, healthy) || ops->healthy == NULL)
			continue;
		rc = ops->healthy(ms->mods[i].state);
		if (rc < 0) {
			*name = ms->mods[i].name;
			return rc;
		}
	}
	return 0;
}

void audit_reopen(const struct mod_set *ms)
{
	for (size_t i = 0; ms != NULL && i < ms->nmods; i++) {
		const pgs_audit_ops *ops = ms->mods[i].desc->audit;

		if (PGS_HAS_FIELD(ops, pgs_audit_ops, reopen) && ops->reopen != NULL)
			ops->reopen(ms->mods[i].state);
	}
}
