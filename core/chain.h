/*
 * chain.h — PAM-style evaluation of an authentication chain.
 *
 * Pure logic with no I/O: the caller runs the current step's module and
 * feeds its result to chain_feed(), which says whether to run the next step,
 * stop with success, or stop with failure.  This keeps the evaluator
 * unit-testable with scripted fake steps.
 *
 * Controls (Linux-PAM semantics):
 *   required   failure makes the chain fail, but the rest still runs
 *   requisite  failure ends the chain at once with failure
 *   sufficient success ends the chain at once with success, unless an
 *              earlier required step failed; failure is ignored
 *   optional   its result counts only if it is the only step that decided
 * A chain where no step succeeded (all IGNORE) fails: fail closed.
 *
 * Protocol constraint: after an interactive step has sent an authentication
 * request to the client, the chain may not go on to another interactive
 * step after that step failed (PostgreSQL has no "try another mechanism"
 * message).  chain_check() refuses such chains when the config is read;
 * chain_feed() also fails closed if it happens at run time.
 */
#ifndef PGS_CHAIN_H
#define PGS_CHAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* Outcome of one step, as the evaluator sees it. */
enum chain_result {
	CHAIN_STEP_OK = 0,
	CHAIN_STEP_FAIL,
	CHAIN_STEP_IGNORE,
};

/* What the caller should do next. */
enum chain_next {
	CHAIN_RUN_STEP = 0, /* run step chain_run.cursor */
	CHAIN_SUCCESS,
	CHAIN_FAILURE,
};

/* Static description of a step for the evaluator. */
struct chain_step_desc {
	enum chain_control control;
	bool interactive; /* the step's module is PGS_AUTH_INTERACTIVE */
	bool final_fail;  /* ...and PGS_AUTH_FINAL_FAILURE: once it talked, its
	                     failure means the credential is wrong */
};

/* Running state of one chain for one connection (a few bytes: lives in the
 * client connection). */
struct chain_run {
	size_t cursor; /* index of the step to run */
	size_t nsteps;
	bool required_failed;
	bool any_success;        /* a required/requisite/sufficient step OK */
	bool optional_success;   /* an optional step OK */
	bool interactive_failed; /* an interactive step sent and then failed */
};

/* Start evaluating a chain of nsteps steps (cursor = 0).  Returns
 * CHAIN_RUN_STEP, or CHAIN_FAILURE for an empty chain. */
enum chain_next chain_start(struct chain_run *run, size_t nsteps);

/*
 * Feed the result of step run->cursor.  `sent` says whether that step sent
 * anything to the client.  Advances the cursor and returns what to do next.
 */
enum chain_next chain_feed(struct chain_run *run, const struct chain_step_desc *steps,
                           enum chain_result result, bool sent);

/*
 * Check a chain for paths the protocol cannot honour: a failure of an
 * interactive step that could lead to another interactive step.  A step
 * whose failure after talking is final (final_fail: the password checked
 * was wrong, so no later step could accept it) may precede another
 * interactive step: at run time its failure then ends the chain, which is
 * the verdict the later step would have reached.  Returns 0 or -1 with a
 * message naming the chain and both steps in err.
 */
int chain_check(const char *chain_name, const struct chain_step_desc *steps, size_t nsteps,
                char *err, size_t errlen) __attribute__((warn_unused_result));

/* Parse "required" etc.; -1 if unknown. */
int chain_control_parse(const char *s);
const char *chain_control_name(enum chain_control c);

#endif /* PGS_CHAIN_H */
