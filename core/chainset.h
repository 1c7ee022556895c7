/*
 * chainset.h — the runtime authentication chains of one config snapshot.
 *
 * chainset_build() resolves every step of the config's chains
 * (cfg->chains, cfg->default_chain) to a loaded module instance with
 * frontend auth operations, checks each chain with chain_check(), and
 * synthesises a one-step `required` chain for every module instance that
 * has auth operations, so that an access rule may name a module directly.
 *
 * chainset_run_*() drive one chain for one client connection: they call
 * the modules' conn_new/step/conn_free and feed the results to the
 * evaluator (chain.c).  They do no I/O: the caller flushes the output
 * buffer and reads the client's messages.  The guarantee they give the
 * modules: conn_free() is called exactly once for every successful
 * conn_new(), when the step finishes, or from chainset_run_abort() when
 * the client goes away mid-chain.
 *
 * Lifetime: a chainset holds a reference on its mod_set and points into the
 * config snapshot (step option groups, "file:line" strings): it must not
 * outlive that snapshot.  It is immutable after chainset_build() and may be
 * shared by every worker.
 */
#ifndef PGS_CHAINSET_H
#define PGS_CHAINSET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

#include "chain.h"
#include "config.h"
#include "modload.h"
#include "pgsluice/module.h"

/* One resolved step of a runtime chain. */
struct chainset_step {
	struct mod_instance *inst;     /* the module instance (in the mod_set) */
	const pgs_auth_ops *auth;      /* inst->desc->auth, never NULL */
	const config_setting_t *group; /* the step's config group: what the
	                                  host's step_option() reads; NULL for
	                                  a synthesised one-step chain */
	const char *where;             /* "file:line" of the step */
};

/* A runtime chain: resolved steps plus the evaluator's view of them. */
struct chainset_chain {
	const char *name;  /* chain name, or the instance name */
	const char *where; /* "file:line" of the chain */
	bool synthesised;  /* one-step chain made from an instance */
	size_t nsteps;
	struct chainset_step *steps;
	struct chain_step_desc *descs; /* parallel to steps, for chain_feed() */
};

/* Every runtime chain of one config snapshot. */
struct chainset {
	struct mod_set *mods;          /* referenced */
	struct chainset_chain *chains; /* named chains, config order */
	size_t nchains;
	struct chainset_chain *instance_chains; /* one per auth instance */
	size_t ninstance_chains;
	struct chainset_chain *default_chain; /* NULL when not configured */
	atomic_int refs;
};

/*
 * Build the runtime chains of cfg over the loaded module set `mods` (which
 * gains a reference).  Refuses, one error per line in err, each starting
 * with the config's "file:line": an empty named chain, a step naming no
 * loaded instance, an instance with no frontend auth operations (or auth
 * operations too old to have step/conn_free), and chains chain_check()
 * refuses.  Returns the set holding one reference, or NULL.
 */
struct chainset *chainset_build(const struct pgs_config *cfg, struct mod_set *mods, char *err,
                                size_t errlen) __attribute__((warn_unused_result));

/* Take / drop a reference; the last drop frees the set and releases its
 * reference on the mod_set. */
void chainset_ref(struct chainset *set);
void chainset_unref(struct chainset *set);

/*
 * The chain an access rule's METHOD names: a named chain first, else the
 * one-step `required` chain of the module instance of that name (only for
 * instances with auth operations), else NULL.
 */
const struct chainset_chain *chainset_find(const struct chainset *set, const char *name);

/* The default chain (auth.default_chain), NULL when not configured. */
const struct chainset_chain *chainset_default(const struct chainset *set);

/* The string option `name` of a step's config group (what step_option()
 * answers after the access rule's own options); NULL when absent or not a
 * string. */
const char *chainset_step_option(const struct chainset_step *step, const char *name);

/* ------------------------------------------------------------ running */

/* What the caller does after chainset_run_step(). */
enum chainset_status {
	CHAINSET_SEND = 1,    /* flush out, call again with in == NULL */
	CHAINSET_NEED_INPUT,  /* flush out, call again with the client's next
	                        auth message */
	CHAINSET_PENDING,     /* the module deferred work; call again with
	                        in == NULL when it completed */
	CHAINSET_NEXT,        /* a step finished and the chain goes on: log
	                        *logdetail if set, call again with in == NULL */
	CHAINSET_SUCCESS,     /* the chain succeeded: flush out, AuthenticationOk */
	CHAINSET_FAILURE,     /* the chain failed: generic error to the client,
	                        *logdetail (if set) to the log */
	CHAINSET_PROTO_ERROR, /* the client broke the auth protocol: the chain
	                         ended; *logdetail is the client-visible message */
};

/* One connection's progress through a chain (lives in the client
 * connection; a few words). */
struct chainset_run {
	const struct chainset_chain *chain;
	struct chain_run eval;
	void *state;                /* the current step's module state */
	bool live;                  /* conn_new() succeeded, conn_free() still owed */
	bool sent;                  /* the current step has sent something to the client */
	bool finished;              /* SUCCESS or FAILURE was returned */
	size_t last;                /* index of the step that returned the last result */
	enum pgs_step last_result;  /* what that step returned (DONE, FAIL, IGNORE, ...) */
	const pgs_auth_ops *failed; /* the first step that failed, for the wording */
};

/* Start running `chain` (NULL fails).  Calls no module; the first
 * chainset_run_step() does.  Returns CHAINSET_NEXT, or CHAINSET_FAILURE
 * for a NULL or empty chain. */
enum chainset_status chainset_run_start(struct chainset_run *run,
                                        const struct chainset_chain *chain);

/*
 * Run the current step: conn_new() when the step starts, then step() with
 * the client's message (in == NULL when there is none).  When the step
 * finishes its conn_free() is called, the result is fed to the evaluator
 * and the status says whether to go on.  *logdetail is set (or NULL) on
 * NEXT, SUCCESS and FAILURE: the finished step's failure detail, for the
 * log only; run->last is that step's index.  A conn_new() failure counts
 * as a FAIL of that step; run->failed remembers the first failing step's
 * operations (their `method` words the client's error).  A step's
 * PGS_STEP_PROTO_ERROR ends the run at once with CHAINSET_PROTO_ERROR.
 * The detail is read after the step's conn_free(), so a module must point
 * it at static or conn_alloc() memory,
 * never at its per-connection state.
 */
enum chainset_status chainset_run_step(struct chainset_run *run, pgs_conn *conn, const uint8_t *in,
                                       size_t in_len, pgs_wbuf *out, const char **logdetail);

/* The step that is running (the one step_option() is about), or NULL. */
const struct chainset_step *chainset_run_current(const struct chainset_run *run);

/*
 * The client went away (or the login timed out) mid-chain: call the
 * current step's conn_free() if it is still owed, and end the run.  Safe to
 * call in any state and more than once.  Must not be called while the
 * step's deferred work is still running on the work pool: wait for it to
 * complete first (the module's work() may use its state).
 */
void chainset_run_abort(struct chainset_run *run, pgs_conn *conn);

#endif /* PGS_CHAINSET_H */
