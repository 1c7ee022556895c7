/*
 * chainset.c — resolving the config's chains to loaded module instances,
 * and driving one chain for one connection.
 *
 * Building is where the config's chains meet the loaded modules: every
 * step must name an instance that really does frontend authentication, and
 * every chain must pass chain_check().  Any problem refuses the whole set
 * (fail closed: a step is never skipped), with every error listed.
 *
 * Running keeps one promise to the modules: conn_free() follows every
 * successful conn_new() exactly once, whether the step finished, the chain
 * ended, or the client vanished (chainset_run_abort()).
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainset.h"

/* Size of the v1.0 pgs_auth_ops: anything smaller predates the ABI. */
#define CHAINSET_AUTH_V1_0_SIZE (offsetof(pgs_auth_ops, reserved) + 4 * sizeof(void *))

/* Errors collected while building, one per line. */
struct chainset_errs {
	char *buf;
	size_t len;
	size_t used;
	unsigned count;
};

static void __attribute__((format(printf, 2, 3)))
chainset_error(struct chainset_errs *e, const char *fmt, ...)
{
	va_list ap;
	int n;

	e->count++;
	if (e->buf == NULL || e->len == 0 || e->used + 1 >= e->len)
		return;
	if (e->used > 0) {
		e->buf[e->used++] = '\n';
		e->buf[e->used] = '\0';
	}
	va_start(ap, fmt);
	n = vsnprintf(e->buf + e->used, e->len - e->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		e->used = e->used + (size_t)n < e->len ? e->used + (size_t)n : e->len - 1;
}

/* NULL when inst's auth operations are usable, else why not. */
static const char *chainset_auth_problem(const struct mod_instance *inst)
{
	const pgs_auth_ops *auth = inst->desc->auth;

	if (auth == NULL)
		return "provides no frontend authentication";
	if (auth->size < CHAINSET_AUTH_V1_0_SIZE)
		return "has frontend auth operations older than ABI 1.0 "
		       "(field 'size' too small)";
	if (auth->step == NULL)
		return "has frontend auth operations without step()";
	return NULL;
}

static void chainset_chain_free(struct chainset_chain *c)
{
	if (c == NULL)
		return;
	free(c->steps);
	free(c->descs);
	c->steps = NULL;
	c->descs = NULL;
}

static int chainset_chain_alloc(struct chainset_chain *c, size_t nsteps)
{
	c->nsteps = nsteps;
	c->steps = calloc(nsteps, sizeof *c->steps);
	c->descs = calloc(nsteps, sizeof *c->descs);
	if (c->steps == NULL || c->descs == NULL) {
		chainset_chain_free(c);
		return -1;
	}
	return 0;
}

/* Resolve one configured chain into c; errors go to e. */
static int chainset_chain_build(struct chainset_chain *c, const struct cfg_chain *cc,
                                struct mod_set *mods, struct chainset_errs *e)
{
	const char *name = cc->name ? cc->name : "default";
	const char *where = cc->where ? cc->where : "(config)";
	char why[1024];
	int bad = 0;

	c->name = name;
	c->where = where;
	if (cc->nsteps == 0) {
		chainset_error(e, "%s: chain \"%s\" has no steps", where, name);
		return -1;
	}
	if (chainset_chain_alloc(c, cc->nsteps) < 0) {
		chainset_error(e, "%s: chain \"%s\": out of memory", where, name);
		return -1;
	}
	for (size_t i = 0; i < cc->nsteps; i++) {
		const struct cfg_chain_step *cs = &cc->steps[i];
		const char *sw = cs->where ? cs->where : where;
		struct mod_instance *inst = modload_find(mods, cs->use);
		const char *problem;

		if (inst == NULL) {
			chainset_error(e,
			               "%s: chain \"%s\" step %zu: no module "
			               "instance named \"%s\"",
			               sw, name, i + 1, cs->use ? cs->use : "");
			bad = 1;
			continue;
		}
		problem = chainset_auth_problem(inst);
		if (problem != NULL) {
			chainset_error(e,
			               "%s: chain \"%s\" step %zu: module "
			               "instance \"%s\" %s",
			               sw, name, i + 1, inst->name, problem);
			bad = 1;
			continue;
		}
		c->steps[i].inst = inst;
		c->steps[i].auth = inst->desc->auth;
		c->steps[i].group = cs->group;
		c->steps[i].where = sw;
		c->descs[i].control = cs->control;
		c->descs[i].interactive = (inst->desc->auth->flags & PGS_AUTH_INTERACTIVE) != 0;
		c->descs[i].final_fail = (inst->desc->auth->flags & PGS_AUTH_FINAL_FAILURE) != 0;
	}
	if (bad)
		return -1;
	if (chain_check(name, c->descs, c->nsteps, why, sizeof why) < 0) {
		chainset_error(e, "%s: %s", where, why);
		return -1;
	}
	return 0;
}

/* "file:line" of the configured instance called name. */
static const char *chainset_module_where(const struct pgs_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nmodules; i++)
		if (cfg->modules[i].name != NULL && strcmp(cfg->modules[i].name, name) == 0 &&
		    cfg->modules[i].where != NULL)
			return cfg->modules[i].where;
	return "(config)";
}

/* One-step `required` chains for every instance doing frontend auth. */
static int chainset_instance_chains(struct chainset *set, const struct pgs_config *cfg,
                                    struct mod_set *mods, struct chainset_errs *e)
{
	size_t n = 0;

	if (mods == NULL)
		return 0;
	for (size_t i = 0; i < mods->nmods; i++)
		if (mods->mods[i].desc->auth != NULL)
			n++;
	if (n == 0)
		return 0;
	set->instance_chains = calloc(n, sizeof *set->instance_chains);
	if (set->instance_chains == NULL) {
		chainset_error(e, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < mods->nmods; i++) {
		struct mod_instance *inst = &mods->mods[i];
		struct chainset_chain *c;
		const char *where, *problem;

		if (inst->desc->auth == NULL)
			continue;
		where = chainset_module_where(cfg, inst->name);
		problem = chainset_auth_problem(inst);
		if (problem != NULL) {
			chainset_error(e, "%s: module instance \"%s\" %s", where, inst->name,
			               problem);
			return -1;
		}
		c = &set->instance_chains[set->ninstance_chains++];
		c->name = inst->name;
		c->where = where;
		c->synthesised = true;
		if (chainset_chain_alloc(c, 1) < 0) {
			chainset_error(e, "out of memory");
			return -1;
		}
		c->steps[0].inst = inst;
		c->steps[0].auth = inst->desc->auth;
		c->steps[0].group = NULL;
		c->steps[0].where = where;
		c->descs[0].control = CTL_REQUIRED;
		c->descs[0].interactive = (inst->desc->auth->flags & PGS_AUTH_INTERACTIVE) != 0;
	}
	return 0;
}

static void chainset_destroy(struct chainset *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->nchains; i++)
		chainset_chain_free(&set->chains[i]);
	free(set->chains);
	for (size_t i = 0; i < set->ninstance_chains; i++)
		chainset_chain_free(&set->instance_chains[i]);
	free(set->instance_chains);
	chainset_chain_free(set->default_chain);
	free(set->default_chain);
	modload_set_unref(set->mods);
	free(set);
}

/**
 * chainset_build() - resolve cfg's chains against the loaded set `mods`.
 * Returns a chainset holding one reference (and a reference on mods), or
 * NULL with every error, one per line, in err.
 */
struct chainset *chainset_build(const struct pgs_config *cfg, struct mod_set *mods, char *err,
                                size_t errlen)
{
	struct chainset_errs e = {err, errlen, 0, 0};
	struct chainset *set;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	set = calloc(1, sizeof *set);
	if (set == NULL) {
		chainset_error(&e, "out of memory");
		return NULL;
	}
	atomic_init(&set->refs, 1);
	if (cfg->nchains > 0) {
		set->chains = calloc(cfg->nchains, sizeof *set->chains);
		if (set->chains == NULL) {
			chainset_error(&e, "out of memory");
			goto fail;
		}
		set->nchains = cfg->nchains;
	}
	for (size_t i = 0; i < cfg->nchains; i++)
		(void)chainset_chain_build(&set->chains[i], &cfg->chains[i], mods, &e);
	if (cfg->default_chain.nsteps > 0) {
		set->default_chain = calloc(1, sizeof *set->default_chain);
		if (set->default_chain == NULL)
			chainset_error(&e, "out of memory");
		else
			(void)chainset_chain_build(set->default_chain, &cfg->default_chain, mods,
			                           &e);
	}
	(void)chainset_instance_chains(set, cfg, mods, &e);
	if (e.count > 0)
		goto fail;
	if (mods != NULL)
		modload_set_ref(mods);
	set->mods = mods;
	return set;

fail:
	chainset_destroy(set);
	return NULL;
}

/** chainset_ref() - take a reference on a chainset. */
void chainset_ref(struct chainset *set)
{
	atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
}

/**
 * chainset_unref() - drop a reference; the last one frees the chainset and
 * drops its reference on the module set (which may unload the modules).
 */
void chainset_unref(struct chainset *set)
{
	if (set == NULL)
		return;
	if (atomic_fetch_sub_explicit(&set->refs, 1, memory_order_acq_rel) != 1)
		return;
	chainset_destroy(set);
}

/**
 * chainset_find() - a named chain, else the one-step chain of the module
 * instance called `name`, else NULL.
 */
const struct chainset_chain *chainset_find(const struct chainset *set, const char *name)
{
	if (set == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < set->nchains; i++)
		if (strcmp(set->chains[i].name, name) == 0)
			return &set->chains[i];
	for (size_t i = 0; i < set->ninstance_chains; i++)
		if (strcmp(set->instance_chains[i].name, name) == 0)
			return &set->instance_chains[i];
	return NULL;
}

/** chainset_default() - the default chain, NULL when not configured. */
const struct chainset_chain *chainset_default(const struct chainset *set)
{
	return set ? set->default_chain : NULL;
}

/**
 * chainset_step_option() - the string setting `name` of a step's config
 * group, NULL when the step has no group or the setting is absent or not a
 * string.  Lives as long as the config snapshot.
 */
const char *chainset_step_option(const struct chainset_step *step, const char *name)
{
	const config_setting_t *s;

	if (step == NULL || step->group == NULL || name == NULL ||
	    !config_setting_is_group(step->group))
		return NULL;
	s = config_setting_get_member(step->group, name);
	if (s == NULL || config_setting_type(s) != CONFIG_TYPE_STRING)
		return NULL;
	return config_setting_get_string(s);
}

/* ------------------------------------------------------------ running */

/**
 * chainset_run_start() - begin running `chain` for one connection.
 * Returns CHAINSET_NEXT (call chainset_run_step() with in == NULL), or
 * CHAINSET_FAILURE for a NULL or empty chain.
 */
enum chainset_status chainset_run_start(struct chainset_run *run,
                                        const struct chainset_chain *chain)
{
	memset(run, 0, sizeof *run);
	run->chain = chain;
	if (chain == NULL || chain_start(&run->eval, chain->nsteps) != CHAIN_RUN_STEP) {
		run->finished = true;
		return CHAINSET_FAILURE;
	}
	return CHAINSET_NEXT;
}

/* Call the current step's conn_free() if it is owed. */
static void chainset_run_release(struct chainset_run *run, pgs_conn *conn)
{
	const struct chainset_step *step;

	if (!run->live)
		return;
	step = &run->chain->steps[run->eval.cursor];
	run->live = false;
	if (step->auth->conn_free != NULL)
		step->auth->conn_free(step->inst->state, conn, run->state);
	run->state = NULL;
}

/**
 * chainset_run_step() - run the current step once and report what to do
 * next (see enum chainset_status).  *logdetail is the finished step's
 * failure detail on NEXT, SUCCESS and FAILURE, else NULL.
 */
enum chainset_status chainset_run_step(struct chainset_run *run, pgs_conn *conn, const uint8_t *in,
                                       size_t in_len, pgs_wbuf *out, const char **logdetail)
{
	const struct chainset_step *step;
	const char *detail = NULL;
	enum chain_result result;
	enum chain_next next;
	enum pgs_step r;

	*logdetail = NULL;
	if (run->finished || run->chain == NULL || run->eval.cursor >= run->chain->nsteps) {
		run->finished = true;
		return CHAINSET_FAILURE;
	}
	step = &run->chain->steps[run->eval.cursor];
	run->last = run->eval.cursor;

	if (!run->live) {
		/* A step starts with in == NULL; a client message now is one
		 * nobody asked for. */
		if (in != NULL) {
			*logdetail = "unexpected authentication message";
			run->finished = true;
			return CHAINSET_FAILURE;
		}
		run->state = NULL;
		run->sent = false;
		if (step->auth->conn_new != NULL &&
		    step->auth->conn_new(step->inst->state, conn, &run->state) < 0) {
			run->state = NULL;
			detail = "module could not set up the connection";
			result = CHAIN_STEP_FAIL;
			goto feed;
		}
		run->live = true;
	}

	r = step->auth->step(step->inst->state, conn, run->state, in, in_len, out, &detail);
	run->last_result = r;
	switch (r) {
	case PGS_STEP_SEND:
		run->sent = true;
		return CHAINSET_SEND;
	case PGS_STEP_NEED_INPUT:
		run->sent = true;
		return CHAINSET_NEED_INPUT;
	case PGS_STEP_PENDING:
		return CHAINSET_PENDING;
	case PGS_STEP_DONE:
		result = CHAIN_STEP_OK;
		detail = NULL;
		break;
	case PGS_STEP_FAIL:
		result = CHAIN_STEP_FAIL;
		break;
	case PGS_STEP_PROTO_ERROR:
		chainset_run_release(run, conn);
		run->finished = true;
		*logdetail = detail ? detail : "invalid authentication message";
		return CHAINSET_PROTO_ERROR;
	case PGS_STEP_IGNORE:
		result = CHAIN_STEP_IGNORE;
		if (run->sent)
			detail = "module ignored the connection after talking "
			         "to the client";
		break;
	default:
		result = CHAIN_STEP_FAIL;
		detail = "module returned an invalid step result";
		break;
	}
	chainset_run_release(run, conn);

feed:
	if (result == CHAIN_STEP_FAIL && run->failed == NULL)
		run->failed = step->auth;
	next = chain_feed(&run->eval, run->chain->descs, result, run->sent);
	run->sent = false;
	*logdetail = detail;
	switch (next) {
	case CHAIN_RUN_STEP:
		return CHAINSET_NEXT;
	case CHAIN_SUCCESS:
		run->finished = true;
		return CHAINSET_SUCCESS;
	case CHAIN_FAILURE:
	default:
		run->finished = true;
		return CHAINSET_FAILURE;
	}
}

/** chainset_run_current() - the running step, NULL when none is. */
const struct chainset_step *chainset_run_current(const struct chainset_run *run)
{
	if (run == NULL || run->finished || run->chain == NULL ||
	    run->eval.cursor >= run->chain->nsteps)
		return NULL;
	return &run->chain->steps[run->eval.cursor];
}

/**
 * chainset_run_abort() - end a run early (client gone, login timeout):
 * conn_free() of the current step if owed.  Idempotent.
 */
void chainset_run_abort(struct chainset_run *run, pgs_conn *conn)
{
	if (run == NULL || run->chain == NULL)
		return;
	chainset_run_release(run, conn);
	run->finished = true;
}
