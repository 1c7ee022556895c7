/*
 * chain.c — the PAM-style chain evaluator: pure logic, no I/O.
 *
 * Each control is expanded to a row of an action table, one action per
 * step result, the way Linux-PAM expands `required` into
 * [success=ok ignore=ignore default=bad].  chain_feed() applies the action
 * and decides whether to run the next step or stop.  The protocol rule
 * (no second interactive mechanism after a failed one) is enforced twice:
 * statically by chain_check() when the config is read, and again at run
 * time so that a chain that slipped through still fails closed.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "chain.h"

/* What a (control, result) pair does to the chain. */
enum chain_action {
	ACT_IGNORE = 0, /* no effect; go on */
	ACT_OK,         /* counts as a success; go on */
	ACT_OPT_OK,     /* optional success: counts only if nothing else did */
	ACT_BAD,        /* the chain will fail; go on */
	ACT_DIE,        /* the chain fails now */
	ACT_DONE,       /* stop now: success unless a step already failed */
};

#define CHAIN_NCONTROLS (CTL_OPTIONAL + 1)
#define CHAIN_NRESULTS  (CHAIN_STEP_IGNORE + 1)

static const enum chain_action chain_actions[CHAIN_NCONTROLS][CHAIN_NRESULTS] = {
        [CTL_REQUIRED] =
                {
                        [CHAIN_STEP_OK] = ACT_OK,
                        [CHAIN_STEP_FAIL] = ACT_BAD,
                        [CHAIN_STEP_IGNORE] = ACT_IGNORE,
                },
        [CTL_REQUISITE] =
                {
                        [CHAIN_STEP_OK] = ACT_OK,
                        [CHAIN_STEP_FAIL] = ACT_DIE,
                        [CHAIN_STEP_IGNORE] = ACT_IGNORE,
                },
        [CTL_SUFFICIENT] =
                {
                        [CHAIN_STEP_OK] = ACT_DONE,
                        [CHAIN_STEP_FAIL] = ACT_IGNORE,
                        [CHAIN_STEP_IGNORE] = ACT_IGNORE,
                },
        [CTL_OPTIONAL] =
                {
                        [CHAIN_STEP_OK] = ACT_OPT_OK,
                        [CHAIN_STEP_FAIL] = ACT_IGNORE,
                        [CHAIN_STEP_IGNORE] = ACT_IGNORE,
                },
};

static const char *const chain_control_names[CHAIN_NCONTROLS] = {
        [CTL_REQUIRED] = "required",
        [CTL_REQUISITE] = "requisite",
        [CTL_SUFFICIENT] = "sufficient",
        [CTL_OPTIONAL] = "optional",
};

/* The verdict once every step that was going to run has run. */
static enum chain_next chain_verdict(const struct chain_run *run)
{
	if (run->required_failed)
		return CHAIN_FAILURE;
	if (run->any_success || run->optional_success)
		return CHAIN_SUCCESS;
	/* Nothing decided (all IGNORE, or only ignored failures): fail closed. */
	return CHAIN_FAILURE;
}

/**
 * chain_start() - reset `run` for a chain of nsteps steps.  Returns
 * CHAIN_RUN_STEP (run step 0), or CHAIN_FAILURE when the chain is empty.
 */
enum chain_next chain_start(struct chain_run *run, size_t nsteps)
{
	memset(run, 0, sizeof *run);
	run->nsteps = nsteps;
	return nsteps == 0 ? CHAIN_FAILURE : CHAIN_RUN_STEP;
}

/**
 * chain_feed() - apply the result of step run->cursor, whose module did or
 * did not send something to the client (`sent`), and say what to do next.
 * On CHAIN_RUN_STEP, run->cursor is the next step to run.  Anything
 * inconsistent (cursor past the end, an unknown control or result, IGNORE
 * after sending, an interactive step after a failed interactive exchange)
 * ends in CHAIN_FAILURE.
 */
enum chain_next chain_feed(struct chain_run *run, const struct chain_step_desc *steps,
                           enum chain_result result, bool sent)
{
	const struct chain_step_desc *step;
	enum chain_action action;

	if (run->cursor >= run->nsteps)
		return CHAIN_FAILURE;
	step = &steps[run->cursor];
	if ((unsigned)step->control >= CHAIN_NCONTROLS || (unsigned)result >= CHAIN_NRESULTS)
		return CHAIN_FAILURE;
	/* IGNORE is only legal before the step talked to the client: once it
	 * did, the client is mid-exchange and cannot be taken elsewhere. */
	if (result == CHAIN_STEP_IGNORE && sent)
		return CHAIN_FAILURE;
	if (result == CHAIN_STEP_FAIL && sent && step->interactive)
		run->interactive_failed = true;

	action = chain_actions[step->control][result];
	switch (action) {
	case ACT_IGNORE:
		break;
	case ACT_OK:
		run->any_success = true;
		break;
	case ACT_OPT_OK:
		run->optional_success = true;
		break;
	case ACT_BAD:
		run->required_failed = true;
		break;
	case ACT_DIE:
		run->cursor = run->nsteps;
		return CHAIN_FAILURE;
	case ACT_DONE:
		/* Linux-PAM "done": the chain stops here; an earlier required
		 * failure still makes it fail. */
		run->any_success = true;
		run->cursor = run->nsteps;
		return chain_verdict(run);
	}

	run->cursor++;
	if (run->cursor >= run->nsteps)
		return chain_verdict(run);
	if (run->interactive_failed && steps[run->cursor].interactive) {
		/* chain_check() refuses such chains; fail closed anyway. */
		run->cursor = run->nsteps;
		return CHAIN_FAILURE;
	}
	return CHAIN_RUN_STEP;
}

/**
 * chain_check() - refuse a chain in which an interactive step may fail
 * after talking to the client and the chain then goes on to another
 * interactive step.  Only `requisite` stops the chain on failure, so an
 * interactive step with any other control must not be followed by another
 * interactive step.  Returns 0, or -1 with err naming the chain and both
 * steps (numbered from 1).
 */
int chain_check(const char *chain_name, const struct chain_step_desc *steps, size_t nsteps,
                char *err, size_t errlen)
{
	for (size_t i = 0; i < nsteps; i++) {
		if ((unsigned)steps[i].control >= CHAIN_NCONTROLS) {
			if (err != NULL && errlen > 0)
				snprintf(err, errlen,
				         "chain \"%s\": step %zu "
				         "has an invalid control",
				         chain_name, i + 1);
			return -1;
		}
	}
	for (size_t i = 0; i < nsteps; i++) {
		if (!steps[i].interactive || steps[i].final_fail ||
		    chain_actions[steps[i].control][CHAIN_STEP_FAIL] == ACT_DIE)
			continue;
		for (size_t j = i + 1; j < nsteps; j++) {
			if (!steps[j].interactive)
				continue;
			if (err != NULL && errlen > 0)
				snprintf(err, errlen,
				         "chain \"%s\": step %zu (interactive, "
				         "%s) may fail after talking to the "
				         "client and lead to step %zu "
				         "(interactive): the protocol cannot "
				         "switch mechanisms; make step %zu "
				         "requisite or reorder the chain",
				         chain_name, i + 1, chain_control_name(steps[i].control),
				         j + 1, i + 1);
			return -1;
		}
	}
	return 0;
}

/** chain_control_parse() - "required" etc. (any case) to its enum; -1. */
int chain_control_parse(const char *s)
{
	if (s == NULL)
		return -1;
	for (int c = 0; c < CHAIN_NCONTROLS; c++)
		if (strcasecmp(s, chain_control_names[c]) == 0)
			return c;
	return -1;
}

/** chain_control_name() - the config word of a control ("?" if invalid). */
const char *chain_control_name(enum chain_control c)
{
	if ((unsigned)c >= CHAIN_NCONTROLS)
		return "?";
	return chain_control_names[c];
}
