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
#include <string.h>

#include "auth.h"
#include "client.h"
#include "cred.h"
#include "io.h"
#include "log.h"
#include "modload.h"
#include "runtime.h"

/* PostgreSQL 15's words for the connection's encryption in hba refusals. */
static const char *encryption_state(const struct client *cl)
{
	(void)cl; /* TLS and GSS transports come with their modules */
	return "no encryption";
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

static void auth_failed(struct client *cl, const char *logdetail)
{
	const pgs_auth_ops *ops = cl->auth.failed;
	char prefix[256];

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

/* Run the chain until it needs input, waits, or ends. */
static void drive(struct client *cl, const uint8_t *in, size_t len)
{
	for (;;) {
		const char *logdetail = NULL;
		enum chainset_status st = chainset_run_step(&cl->auth, (pgs_conn *)&cl->c, in, len,
		                                            (pgs_wbuf *)&cl->c.wbuf, &logdetail);

		in = NULL;
		len = 0;
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
		case CHAINSET_SUCCESS:
			client_auth_ok(cl);
			return;
		case CHAINSET_FAILURE:
			auth_failed(cl, logdetail);
			return;
		case CHAINSET_PROTO_ERROR: {
			char prefix[256];

			log_info("%sauthentication protocol violation: %s",
			         client_log_prefix(cl, prefix, sizeof prefix), logdetail);
			client_fail(cl, "08P01", "%s", logdetail);
			return;
		}
		}
	}
}

void auth_start(struct client *cl)
{
	const struct chainset_chain *chain = NULL;

	switch (choose_chain(cl, &chain)) {
	case 0:
		break;
	case -EACCES:
		client_fail(cl, "28000",
		            "pg_hba.conf rejects connection for host \"%s\", user \"%s\", database "
		            "\"%s\", %s",
		            cl->remote_addr, cl->sp.user, cl->sp.database, encryption_state(cl));
		return;
	case -EINVAL:
		client_fail(cl, "28000",
		            "authentication failed for user \"%s\": invalid "
		            "authentication method",
		            cl->sp.user);
		return;
	default:
		client_fail(
		        cl, "28000",
		        "no pg_hba.conf entry for host \"%s\", user \"%s\", database \"%s\", %s",
		        cl->remote_addr, cl->sp.user, cl->sp.database, encryption_state(cl));
		return;
	}
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
