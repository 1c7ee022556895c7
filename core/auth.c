/*
 * auth.c — frontend authentication: access decision, then the chain.
 *
 * Failure details go to the log only; the client sees PostgreSQL's generic
 * messages (28000 for a refused connection, 28P01 style wording for a
 * failed authentication).
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "client.h"
#include "cred.h"
#include "io.h"
#include "log.h"
#include "modload.h"
#include "runtime.h"
#include "stats.h"
#include "transport.h"

/* PostgreSQL 15's words for the connection's encryption in hba refusals. */
/* PostgreSQL's wording at the end of pg_hba.conf messages. */
static const char *encryption_state(const struct client *cl)
{
	const char *kind = transport_kind_name(&cl->c);

	return strcmp(kind, "gss") == 0   ? "GSS encryption"
	       : strcmp(kind, "tls") == 0 ? "SSL encryption"
	                                  : "no encryption";
}

/*
 * Ask the access modules (in config order) which chain applies.  0 with
 * *chain set; -EACCES when a rule rejects the connection; -EPERM when no
 * rule matches (or nothing decides and there is no default chain); -EINVAL
 * when the rule names something that is neither a chain nor a module.
 */
static int choose_chain(struct client *cl, const struct chainset_chain **chain)
{
	struct mod_set *ms = cl->gen->mods;
	const struct chainset *cs = cl->gen->chains;

	for (size_t i = 0; i < ms->nmods; i++) {
		const pgs_access_ops *ops = ms->mods[i].desc->access;
		pgs_access_result res = {.size = sizeof res};
		const char *logdetail = NULL;
		int rc;

		if (ops == NULL || ops->decide == NULL)
			continue;
		rc = ops->decide(ms->mods[i].state, (const pgs_conn *)&cl->c, &res, &logdetail);
		if (rc == -ENOENT)
			continue;
		if (rc < 0) {
			log_info("connection refused by %s for host \"%s\", user \"%s\", database "
			         "\"%s\": %s",
			         ms->mods[i].name, cl->remote_addr, cl->sp.user, cl->sp.database,
			         logdetail ? logdetail : "no detail");
			return rc == -EACCES ? -EACCES : -EPERM;
		}
		*chain = res.chain ? chainset_find(cs, res.chain) : NULL;
		cl->auth_rule = res.rule;
		cl->auth_options = res.options;
		if (*chain == NULL) {
			log_error("access rule %s names \"%s\", which is neither a chain nor an "
			          "auth module",
			          res.rule ? res.rule : "?", res.chain ? res.chain : "(null)");
			return -EINVAL;
		}
		return 0;
	}
	*chain = chainset_default(cs);
	if (*chain == NULL) {
		log_warn("no access module decided and no auth.default_chain is configured: "
		         "refusing");
		return -EPERM;
	}
	return 0;
}

/* Count a login result for the metrics and the audit trail, by the chain
 * that decided it ("hba" when none ran); reason: why it failed. */
static void count_auth(struct client *cl, const struct chainset_chain *chain, bool ok,
                       const char *reason)
{
	stats_auth(&rt->stats, chain ? chain->name : "hba", ok);
	audit_auth(cl, ok, reason);
}

static void auth_failed(struct client *cl, const char *logdetail)
{
	const pgs_auth_ops *ops = cl->auth.failed;
	char prefix[256];

	count_auth(cl, cl->auth.chain, false, logdetail ? logdetail : "no detail");
	log_info("%sauthentication failed (chain \"%s\"%s%s): %s",
	         client_log_prefix(cl, prefix, sizeof prefix),
	         cl->auth.chain ? cl->auth.chain->name : "?", cl->auth_rule ? ", rule " : "",
	         cl->auth_rule ? cl->auth_rule : "", logdetail ? logdetail : "no detail");
	/* PostgreSQL's wording for the method that failed (same for an
	 * unknown user and a wrong password). */
	if (PGS_HAS_FIELD(ops, pgs_auth_ops, fail_sqlstate) && ops->method != NULL)
		client_fail(cl, ops->fail_sqlstate ? ops->fail_sqlstate : "28000",
		            "%s authentication failed for user \"%s\"", ops->method, cl->sp.user);
	else
		client_fail(cl, "28000", "authentication failed for user \"%s\"", cl->sp.user);
}

/* The hba rule's option `name`, or NULL. */
const char *auth_rule_option(const struct client *cl, const char *name)
{
	for (size_t i = 0; cl->auth_options != NULL && cl->auth_options[i] != NULL &&
	                   cl->auth_options[i + 1] != NULL;
	     i += 2)
		if (strcmp(cl->auth_options[i], name) == 0)
			return cl->auth_options[i + 1];
	return NULL;
}

/* clientcert=verify-ca|verify-full (PostgreSQL): a client certificate the
 * TLS layer verified must be there before any method runs. */
static bool clientcert_present(struct client *cl, const struct chainset_chain *chain)
{
	const char *mode = auth_rule_option(cl, "clientcert");
	const uint8_t *der;
	size_t len;

	/* the cert method implies it, as in PostgreSQL */
	if (mode == NULL && chain != NULL && chain->nsteps > 0 &&
	    strcmp(chain->steps[0].inst->desc->name, "cert") == 0)
		mode = "verify-full";
	if (mode == NULL || transport_peer_cert(&cl->c, &der, &len) == 0)
		return true;
	log_info("%s:%s: %s: no verified client certificate", cl->remote_addr, cl->remote_port,
	         cl->auth_rule ? cl->auth_rule : "clientcert");
	count_auth(cl, chain, false, "no verified client certificate (clientcert)");
	client_fail(cl, "28000", "connection requires a valid client certificate");
	return false;
}

/*
 * clientcert=verify-full after the method succeeded: the certificate must
 * also name the role, as the cert module decides (same clientname= and
 * map= options).  NULL when it does; else why (for the log).
 */
static const char *clientcert_full_fails(struct client *cl)
{
	const char *mode = auth_rule_option(cl, "clientcert");
	const struct mod_set *ms = cl->gen->mods;
	const char *detail = NULL;
	enum pgs_step st;
	void *state = NULL;

	if (mode == NULL || strcmp(mode, "verify-full") != 0)
		return NULL;
	for (size_t i = 0; i < ms->nmods; i++) {
		const pgs_auth_ops *ops = ms->mods[i].desc->auth;

		if (strcmp(ms->mods[i].desc->name, "cert") != 0 || ops == NULL || ops->step == NULL)
			continue;
		if (ops->conn_new != NULL &&
		    ops->conn_new(ms->mods[i].state, (pgs_conn *)&cl->c, &state) < 0)
			return "clientcert=verify-full: the cert module could not start";
		/* the identity stays the method's (PostgreSQL sets none here) */
		char *authn_id = cl->authn_id;

		cl->authn_id = NULL;
		st = ops->step(ms->mods[i].state, (pgs_conn *)&cl->c, state, NULL, 0,
		               (pgs_wbuf *)&cl->c.wbuf, &detail);
		if (ops->conn_free != NULL)
			ops->conn_free(ms->mods[i].state, (pgs_conn *)&cl->c, state);
		free(cl->authn_id);
		cl->authn_id = authn_id;
		if (st == PGS_STEP_DONE)
			return NULL;
		return detail != NULL ? detail : "the certificate does not match the user";
	}
	return "clientcert=verify-full needs the cert module (modules { cert = { path = "
	       "\"cert.so\"; }; })";
}

/* The audit event of the chain step that just finished. */
static void step_event(struct client *cl, const char *logdetail)
{
	const struct chainset_chain *c = cl->auth.chain;
	const struct mod_instance *inst;
	const char *res;

	if (c == NULL || cl->auth.last >= c->nsteps)
		return;
	inst = c->steps[cl->auth.last].inst;
	switch (cl->auth.last_result) {
	case PGS_STEP_DONE:
		res = "ok";
		break;
	case PGS_STEP_IGNORE:
		res = "ignore";
		break;
	case PGS_STEP_PROTO_ERROR:
		res = "protocol_error";
		break;
	default:
		res = "fail";
		break;
	}
	audit_step(cl, inst->name, inst->desc->name, res, strcmp(res, "ok") ? logdetail : NULL);
}

/* Run the chain until it needs input, waits, or ends. */
static void drive(struct client *cl, const uint8_t *in, size_t len)
{
	for (;;) {
		const char *logdetail = NULL;
		enum chainset_status st = chainset_run_step(&cl->auth, (pgs_conn *)&cl->c, in, len,
		                                            (pgs_wbuf *)&cl->c.wbuf, &logdetail);

		in = NULL;
		len = 0;
		if (st == CHAINSET_NEXT || st == CHAINSET_SUCCESS || st == CHAINSET_FAILURE ||
		    st == CHAINSET_PROTO_ERROR)
			step_event(cl, logdetail);
		switch (st) {
		case CHAINSET_SEND:
		case CHAINSET_NEXT:
			if (logdetail) {
				char prefix[256];

				log_info("%sauth step detail: %s",
				         client_log_prefix(cl, prefix, sizeof prefix), logdetail);
			}
			if (io_flush(&cl->c) < 0) {
				client_close(cl, "client went away during authentication");
				return;
			}
			continue;
		case CHAINSET_NEED_INPUT:
			if (io_flush(&cl->c) < 0)
				client_close(cl, "client went away during authentication");
			return;
		case CHAINSET_PENDING:
			if (!cl->defer_inflight) {
				/* Nothing would ever resume it. */
				auth_failed(cl, "module returned PENDING without deferring work");
			}
			return;
		case CHAINSET_SUCCESS: {
			const char *why = clientcert_full_fails(cl);

			if (why != NULL) {
				/* PostgreSQL words it as the method's failure */
				const struct chainset_chain *c = cl->auth.chain;

				if (cl->auth.failed == NULL && c != NULL &&
				    cl->auth.last < c->nsteps)
					cl->auth.failed = c->steps[cl->auth.last].auth;
				log_info("certificate validation (clientcert=verify-full) failed "
				         "for "
				         "user \"%s\": %s",
				         cl->sp.user, why);
				auth_failed(cl, why);
				return;
			}
			count_auth(cl, cl->auth.chain, true, NULL);
			client_auth_ok(cl);
			return;
		}
		case CHAINSET_FAILURE:
			auth_failed(cl, logdetail);
			return;
		case CHAINSET_PROTO_ERROR: {
			char prefix[256];

			log_info("%sauthentication protocol violation: %s",
			         client_log_prefix(cl, prefix, sizeof prefix), logdetail);
			count_auth(cl, cl->auth.chain, false, logdetail);
			client_fail(cl, "08P01", "%s", logdetail);
			return;
		}
		}
	}
}

void auth_start(struct client *cl)
{
	const struct chainset_chain *chain = NULL;
	const char *sink = NULL;
	int rc = audit_refusal(cl->gen->mods, &sink);

	if (rc < 0) {
		char prefix[256];

		log_warn("%slogin refused: audit module %s cannot write the audit trail (%s)",
		         client_log_prefix(cl, prefix, sizeof prefix), sink, strerror(-rc));
		client_fail(cl, "58030",
		            "could not write to the audit trail: new logins are refused");
		return;
	}
	switch (choose_chain(cl, &chain)) {
	case 0:
		break;
	case -EACCES:
		count_auth(cl, NULL, false, "pg_hba.conf rejects the connection");
		client_fail(cl, "28000",
		            "pg_hba.conf rejects connection for host \"%s\", user \"%s\", database "
		            "\"%s\", %s",
		            cl->remote_addr, cl->sp.user, cl->sp.database, encryption_state(cl));
		return;
	case -EINVAL:
		count_auth(cl, NULL, false, "invalid authentication method");
		client_fail(cl, "28000",
		            "authentication failed for user \"%s\": invalid "
		            "authentication method",
		            cl->sp.user);
		return;
	default:
		count_auth(cl, NULL, false, "no pg_hba.conf entry");
		client_fail(
		        cl, "28000",
		        "no pg_hba.conf entry for host \"%s\", user \"%s\", database \"%s\", %s",
		        cl->remote_addr, cl->sp.user, cl->sp.database, encryption_state(cl));
		return;
	}
	if (!clientcert_present(cl, chain))
		return;
	if (chainset_run_start(&cl->auth, chain) == CHAINSET_FAILURE) {
		auth_failed(cl, "empty chain");
		return;
	}
	/* A pool whose secrets come over the network: ask first, on the work
	 * pool; auth_resume() runs the chain. */
	switch (cred_fetch_start(cl)) {
	case 0:
		break;
	case 1:
		return;
	default:
		client_fail(cl, "53200", "out of memory");
		return;
	}
	drive(cl, NULL, 0);
}

void auth_on_input(struct client *cl, const uint8_t *data, size_t len)
{
	drive(cl, data, len);
}

void auth_resume(struct client *cl)
{
	if (cred_fetch_running(cl))
		cred_fetch_done(cl);
	if (cl->state == CL_AUTH && !cl->c.dead)
		drive(cl, NULL, 0);
}

void auth_conn_free(struct client *cl)
{
	chainset_run_abort(&cl->auth, (pgs_conn *)&cl->c);
}
