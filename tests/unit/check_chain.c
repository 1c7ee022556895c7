/*
 * check_chain.c — unit tests for the chain evaluator (chain.c), the
 * runtime chain set (chainset.c) and the trust/reject modules.
 *
 * The evaluator is driven with scripted fake steps: each step is a list of
 * what its module would return on successive calls (SEND, NEED_INPUT,
 * PENDING, then DONE/FAIL/IGNORE); the driver plays the host's part and
 * records which steps ran.  The chain set is tested with in-memory module
 * descriptors (no dlopen) and with the real trust, reject and fx_counting
 * modules loaded through the loader.
 */
#include "autoconf.h"

#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chain.h"
#include "chainset.h"
#include "config.h"
#include "modload.h"
#include "test_log.h"

#define MODDIR BUILD_MODULEDIR

/* ============================================================ evaluator */

#define MAX_STEPS  8
#define MAX_SCRIPT 6

struct fake_step {
	enum chain_control control;
	bool interactive;
	enum pgs_step script[MAX_SCRIPT]; /* successive returns; ends final */
};

struct drive_result {
	enum chain_next verdict;
	int calls[MAX_STEPS];      /* how often each step's module was called */
	char order[MAX_STEPS * 4]; /* steps run, as digits: "02" */
};

/* Run fake steps through chain_start/chain_feed, as the host would. */
static void drive(const struct fake_step *steps, size_t n, struct drive_result *out)
{
	struct chain_step_desc descs[MAX_STEPS];
	struct chain_run run;
	enum chain_next next;
	size_t olen = 0;

	ck_assert_uint_le(n, MAX_STEPS);
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < n; i++) {
		descs[i].control = steps[i].control;
		descs[i].interactive = steps[i].interactive;
	}
	next = chain_start(&run, n);
	while (next == CHAIN_RUN_STEP) {
		size_t i = run.cursor;
		enum chain_result result = CHAIN_STEP_FAIL;
		bool sent = false;
		size_t k;

		ck_assert_uint_lt(i, n);
		ck_assert_uint_lt(olen + 1, sizeof out->order);
		out->order[olen++] = (char)('0' + i);
		for (k = 0; k < MAX_SCRIPT; k++) {
			enum pgs_step r = steps[i].script[k];

			out->calls[i]++;
			if (r == PGS_STEP_SEND || r == PGS_STEP_NEED_INPUT) {
				sent = true;
				continue;
			}
			/* The module deferred work: the host calls it again
			 * later; the evaluator only sees the final result. */
			if (r == PGS_STEP_PENDING)
				continue;
			ck_assert_msg(r == PGS_STEP_DONE || r == PGS_STEP_FAIL ||
			                      r == PGS_STEP_IGNORE,
			              "step %zu: script has no final result", i);
			result = r == PGS_STEP_DONE   ? CHAIN_STEP_OK
			         : r == PGS_STEP_FAIL ? CHAIN_STEP_FAIL
			                              : CHAIN_STEP_IGNORE;
			break;
		}
		ck_assert_uint_lt(k, MAX_SCRIPT);
		next = chain_feed(&run, descs, result, sent);
	}
	out->verdict = next;
}

#define STEP(ctl, r)          \
	{                     \
		(ctl), false, \
		{             \
			(r)   \
		}             \
	}
#define ISTEP(ctl, ...)             \
	{                           \
		(ctl), true,        \
		{                   \
			__VA_ARGS__ \
		}                   \
	}
#define OK_   PGS_STEP_DONE
#define FAIL_ PGS_STEP_FAIL
#define IGN_  PGS_STEP_IGNORE
#define S     CHAIN_SUCCESS
#define F     CHAIN_FAILURE

#define DRIVE(res, ...)                                                 \
	do {                                                            \
		const struct fake_step steps_[] = {__VA_ARGS__};        \
		drive(steps_, sizeof steps_ / sizeof steps_[0], (res)); \
	} while (0)

/*
 * Every control x every result: alone, followed by a required step that
 * succeeds, and followed by a required step that fails.
 */
static const struct matrix_row {
	enum chain_control control;
	enum pgs_step result;
	enum chain_next alone;
	enum chain_next then_ok;
	const char *then_ok_order;
	enum chain_next then_fail;
	const char *then_fail_order;
} matrix[] = {
        {CTL_REQUIRED, OK_, S, S, "01", F, "01"},    {CTL_REQUIRED, FAIL_, F, F, "01", F, "01"},
        {CTL_REQUIRED, IGN_, F, S, "01", F, "01"},   {CTL_REQUISITE, OK_, S, S, "01", F, "01"},
        {CTL_REQUISITE, FAIL_, F, F, "0", F, "0"},   {CTL_REQUISITE, IGN_, F, S, "01", F, "01"},
        {CTL_SUFFICIENT, OK_, S, S, "0", S, "0"},    {CTL_SUFFICIENT, FAIL_, F, S, "01", F, "01"},
        {CTL_SUFFICIENT, IGN_, F, S, "01", F, "01"}, {CTL_OPTIONAL, OK_, S, S, "01", F, "01"},
        {CTL_OPTIONAL, FAIL_, F, S, "01", F, "01"},  {CTL_OPTIONAL, IGN_, F, S, "01", F, "01"},
};

START_TEST(test_matrix)
{
	const struct matrix_row *m = &matrix[_i];
	struct drive_result r;

	DRIVE(&r, STEP(m->control, m->result));
	ck_assert_msg(r.verdict == m->alone, "%s/%d alone", chain_control_name(m->control),
	              (int)m->result);
	ck_assert_str_eq(r.order, "0");

	DRIVE(&r, STEP(m->control, m->result), STEP(CTL_REQUIRED, OK_));
	ck_assert_msg(r.verdict == m->then_ok, "%s/%d then ok", chain_control_name(m->control),
	              (int)m->result);
	ck_assert_str_eq(r.order, m->then_ok_order);

	DRIVE(&r, STEP(m->control, m->result), STEP(CTL_REQUIRED, FAIL_));
	ck_assert_msg(r.verdict == m->then_fail, "%s/%d then fail", chain_control_name(m->control),
	              (int)m->result);
	ck_assert_str_eq(r.order, m->then_fail_order);
}
END_TEST

START_TEST(test_combinations)
{
	struct drive_result r;

	/* required fails, then sufficient succeeds: still a failure, and the
	 * sufficient success ends the chain (Linux-PAM "done"). */
	DRIVE(&r, STEP(CTL_REQUIRED, FAIL_), STEP(CTL_SUFFICIENT, OK_), STEP(CTL_REQUIRED, OK_));
	ck_assert_int_eq(r.verdict, F);
	ck_assert_str_eq(r.order, "01");

	/* sufficient succeeds first: success, nothing later runs. */
	DRIVE(&r, STEP(CTL_SUFFICIENT, OK_), STEP(CTL_REQUIRED, FAIL_), STEP(CTL_REQUISITE, FAIL_));
	ck_assert_int_eq(r.verdict, S);
	ck_assert_str_eq(r.order, "0");

	/* required ok then sufficient ok: success at the sufficient step. */
	DRIVE(&r, STEP(CTL_REQUIRED, OK_), STEP(CTL_SUFFICIENT, OK_), STEP(CTL_REQUIRED, FAIL_));
	ck_assert_int_eq(r.verdict, S);
	ck_assert_str_eq(r.order, "01");

	/* requisite failure stops at once, even after successes. */
	DRIVE(&r, STEP(CTL_REQUIRED, OK_), STEP(CTL_REQUISITE, FAIL_), STEP(CTL_SUFFICIENT, OK_));
	ck_assert_int_eq(r.verdict, F);
	ck_assert_str_eq(r.order, "01");

	/* a required failure lets the rest run but the chain fails. */
	DRIVE(&r, STEP(CTL_REQUIRED, FAIL_), STEP(CTL_REQUIRED, OK_), STEP(CTL_OPTIONAL, OK_));
	ck_assert_int_eq(r.verdict, F);
	ck_assert_str_eq(r.order, "012");

	/* sufficient failures are ignored. */
	DRIVE(&r, STEP(CTL_SUFFICIENT, FAIL_), STEP(CTL_SUFFICIENT, OK_));
	ck_assert_int_eq(r.verdict, S);
	ck_assert_str_eq(r.order, "01");
}
END_TEST

START_TEST(test_optional_decides_alone)
{
	struct drive_result r;

	DRIVE(&r, STEP(CTL_OPTIONAL, OK_));
	ck_assert_int_eq(r.verdict, S);
	DRIVE(&r, STEP(CTL_SUFFICIENT, FAIL_), STEP(CTL_OPTIONAL, OK_));
	ck_assert_int_eq(r.verdict, S);
	DRIVE(&r, STEP(CTL_REQUIRED, IGN_), STEP(CTL_OPTIONAL, OK_));
	ck_assert_int_eq(r.verdict, S);
	/* ...but never against a required failure. */
	DRIVE(&r, STEP(CTL_OPTIONAL, OK_), STEP(CTL_REQUIRED, FAIL_));
	ck_assert_int_eq(r.verdict, F);
	/* an optional failure alone is no success: fail closed. */
	DRIVE(&r, STEP(CTL_OPTIONAL, FAIL_), STEP(CTL_OPTIONAL, IGN_));
	ck_assert_int_eq(r.verdict, F);
	ck_assert_str_eq(r.order, "01");
}
END_TEST

START_TEST(test_all_ignore_and_empty)
{
	struct drive_result r;
	struct chain_run run;
	struct chain_step_desc d = {CTL_REQUIRED, false, false};

	DRIVE(&r, STEP(CTL_REQUIRED, IGN_), STEP(CTL_REQUISITE, IGN_), STEP(CTL_SUFFICIENT, IGN_),
	      STEP(CTL_OPTIONAL, IGN_));
	ck_assert_int_eq(r.verdict, F);
	ck_assert_str_eq(r.order, "0123");

	ck_assert_int_eq(chain_start(&run, 0), F);
	ck_assert_int_eq(chain_feed(&run, &d, CHAIN_STEP_OK, false), F);

	/* Feeding past the end of a finished chain fails closed. */
	ck_assert_int_eq(chain_start(&run, 1), CHAIN_RUN_STEP);
	ck_assert_int_eq(chain_feed(&run, &d, CHAIN_STEP_OK, false), S);
	ck_assert_int_eq(chain_feed(&run, &d, CHAIN_STEP_OK, false), F);

	/* Garbage in (an unknown result or control): failure. */
	ck_assert_int_eq(chain_start(&run, 1), CHAIN_RUN_STEP);
	ck_assert_int_eq(chain_feed(&run, &d, (enum chain_result)7, false), F);
	d.control = (enum chain_control)9;
	ck_assert_int_eq(chain_start(&run, 1), CHAIN_RUN_STEP);
	ck_assert_int_eq(chain_feed(&run, &d, CHAIN_STEP_OK, false), F);
}
END_TEST

START_TEST(test_pending_then_done)
{
	struct drive_result r;

	DRIVE(&r, STEP(CTL_REQUIRED, OK_),
	      {CTL_REQUIRED, false, {PGS_STEP_PENDING, PGS_STEP_DONE}});
	ck_assert_int_eq(r.verdict, S);
	ck_assert_int_eq(r.calls[0], 1);
	ck_assert_int_eq(r.calls[1], 2);

	/* An interactive exchange with a deferred check in the middle. */
	DRIVE(&r, ISTEP(CTL_REQUIRED, PGS_STEP_SEND, PGS_STEP_NEED_INPUT, PGS_STEP_PENDING,
	                PGS_STEP_PENDING, PGS_STEP_DONE));
	ck_assert_int_eq(r.verdict, S);
	ck_assert_int_eq(r.calls[0], 5);

	DRIVE(&r, {CTL_REQUISITE, false, {PGS_STEP_PENDING, PGS_STEP_FAIL}},
	      STEP(CTL_REQUIRED, OK_));
	ck_assert_int_eq(r.verdict, F);
	ck_assert_str_eq(r.order, "0");
	ck_assert_int_eq(r.calls[0], 2);
}
END_TEST

START_TEST(test_runtime_fail_closed)
{
	struct drive_result r;

	/* An interactive step talks, fails; the next interactive step must
	 * not run (chain_check would have refused this chain). */
	DRIVE(&r, ISTEP(CTL_REQUIRED, PGS_STEP_NEED_INPUT, FAIL_), ISTEP(CTL_SUFFICIENT, OK_));
	ck_assert_int_eq(r.verdict, F);
	ck_assert_str_eq(r.order, "0");

	/* Non-interactive steps in between may run; the interactive one
	 * after them still may not. */
	DRIVE(&r, ISTEP(CTL_SUFFICIENT, PGS_STEP_NEED_INPUT, FAIL_), STEP(CTL_REQUIRED, OK_),
	      ISTEP(CTL_OPTIONAL, OK_));
	ck_assert_int_eq(r.verdict, F);
	ck_assert_str_eq(r.order, "01");

	/* Failing before sending anything leaves the client free: go on. */
	DRIVE(&r, ISTEP(CTL_SUFFICIENT, FAIL_), ISTEP(CTL_REQUIRED, OK_));
	ck_assert_int_eq(r.verdict, S);
	ck_assert_str_eq(r.order, "01");

	/* IGNORE after talking to the client is illegal: failure. */
	DRIVE(&r, ISTEP(CTL_OPTIONAL, PGS_STEP_NEED_INPUT, IGN_), STEP(CTL_REQUIRED, OK_));
	ck_assert_int_eq(r.verdict, F);
	ck_assert_str_eq(r.order, "0");
}
END_TEST

static const enum chain_control continuing[] = {
        CTL_REQUIRED,
        CTL_SUFFICIENT,
        CTL_OPTIONAL,
};

START_TEST(test_check_refuses)
{
	enum chain_control c = continuing[_i];
	struct chain_step_desc d[3] = {
	        {c, true, false},
	        {CTL_REQUIRED, false, false},
	        {CTL_OPTIONAL, true, false},
	};
	char err[512], want[512];

	ck_assert_int_eq(chain_check("x", d, 3, err, sizeof err), -1);
	snprintf(want, sizeof want,
	         "chain \"x\": step 1 (interactive, %s) "
	         "may fail after talking to the client and lead to step 3 "
	         "(interactive): the protocol cannot switch mechanisms; make "
	         "step 1 requisite or reorder the chain",
	         chain_control_name(c));
	ck_assert_str_eq(err, want);

	/* Directly adjacent, too. */
	ck_assert_int_eq(chain_check("x", &d[0], 1, err, sizeof err), 0);
	d[1].interactive = true;
	ck_assert_int_eq(chain_check("x", d, 2, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "lead to step 2 ") != NULL, "%s", err);
}
END_TEST

START_TEST(test_check_accepts)
{
	struct chain_step_desc d[4];
	char err[512];

	/* requisite stops on failure: another mechanism can follow it. */
	d[0] = (struct chain_step_desc){CTL_REQUISITE, true, false};
	d[1] = (struct chain_step_desc){CTL_REQUIRED, true, false};
	ck_assert_int_eq(chain_check("x", d, 2, err, sizeof err), 0);

	/* non-interactive steps around one interactive step. */
	d[0] = (struct chain_step_desc){CTL_SUFFICIENT, false, false};
	d[1] = (struct chain_step_desc){CTL_REQUIRED, true, false};
	d[2] = (struct chain_step_desc){CTL_REQUIRED, false, false};
	d[3] = (struct chain_step_desc){CTL_OPTIONAL, false, false};
	ck_assert_int_eq(chain_check("x", d, 4, err, sizeof err), 0);
	ck_assert_int_eq(chain_check("x", d, 0, err, sizeof err), 0);

	/* requisite, requisite, then anything. */
	d[0] = (struct chain_step_desc){CTL_REQUISITE, true, false};
	d[1] = (struct chain_step_desc){CTL_REQUISITE, true, false};
	d[2] = (struct chain_step_desc){CTL_SUFFICIENT, true, false};
	ck_assert_int_eq(chain_check("x", d, 3, err, sizeof err), 0);
	/* ...but not two continuing interactive steps after them. */
	d[3] = (struct chain_step_desc){CTL_REQUIRED, true, false};
	ck_assert_int_eq(chain_check("x", d, 4, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "step 3 (interactive, sufficient)") != NULL &&
	                      strstr(err, "lead to step 4 ") != NULL,
	              "%s", err);

	/* A step whose failure after talking is final (a password method) may
	 * precede another mechanism: "legacy" = (md5 sufficient, scram
	 * required).  Without the flag the same chain is refused. */
	d[0] = (struct chain_step_desc){CTL_SUFFICIENT, true, true};
	d[1] = (struct chain_step_desc){CTL_REQUIRED, true, true};
	ck_assert_int_eq(chain_check("legacy", d, 2, err, sizeof err), 0);
	d[0].final_fail = false;
	ck_assert_int_eq(chain_check("legacy", d, 2, err, sizeof err), -1);

	d[0].control = (enum chain_control)42;
	ck_assert_int_eq(chain_check("x", d, 1, err, sizeof err), -1);
	ck_assert_str_eq(err, "chain \"x\": step 1 has an invalid control");
}
END_TEST

START_TEST(test_control_names)
{
	ck_assert_int_eq(chain_control_parse("required"), CTL_REQUIRED);
	ck_assert_int_eq(chain_control_parse("Requisite"), CTL_REQUISITE);
	ck_assert_int_eq(chain_control_parse("sufficient"), CTL_SUFFICIENT);
	ck_assert_int_eq(chain_control_parse("optional"), CTL_OPTIONAL);
	ck_assert_int_eq(chain_control_parse("include"), -1);
	ck_assert_int_eq(chain_control_parse(NULL), -1);
	for (int c = CTL_REQUIRED; c <= CTL_OPTIONAL; c++)
		ck_assert_int_eq(chain_control_parse(chain_control_name((enum chain_control)c)), c);
	ck_assert_str_eq(chain_control_name((enum chain_control)17), "?");
}
END_TEST

/* ============================================================ test host */

struct pgs_conn {
	const char *user;
	char authn_id[64];
};

struct pgs_wbuf {
	int nauth;
	uint32_t last_code;
};

static const char *th_conn_param(const pgs_conn *conn, const char *name)
{
	if (strcmp(name, "user") == 0)
		return conn->user;
	if (strcmp(name, "authn_id") == 0)
		return conn->authn_id[0] ? conn->authn_id : NULL;
	return NULL;
}

static int th_set_authn_id(pgs_conn *conn, const char *id)
{
	snprintf(conn->authn_id, sizeof conn->authn_id, "%s", id);
	return 0;
}

static int th_wbuf_auth(pgs_wbuf *out, uint32_t code, const void *data, size_t len)
{
	(void)data;
	(void)len;
	out->nauth++;
	out->last_code = code;
	return 0;
}

static const pgs_host test_host = {
        .size = sizeof(pgs_host),
        .abi_major = PGS_ABI_MAJOR,
        .abi_minor = PGS_ABI_MINOR,
        .host_version = PACKAGE_STRING,
        .log = th_log,
        .alloc = th_alloc,
        .free = free,
        .cfg_str = modcfg_str,
        .cfg_int = modcfg_int,
        .cfg_bool = modcfg_bool,
        .cfg_where = modcfg_where,
        .conn_param = th_conn_param,
        .set_authn_id = th_set_authn_id,
        .wbuf_auth = th_wbuf_auth,
};

/* ============================================================ config */

/* A config file on disk, turned into a pgs_config the way config.c does
 * (modules, chains, default_chain), for real file:line messages. */
struct tconf {
	char path[64];
	config_t lc;
	struct pgs_config cfg;
	struct cfg_module mods[8];
	struct cfg_chain chains[8];
	struct cfg_chain_step steps[9][8];
	char where[64][128];
	int nwhere;
};

static char *tconf_where(struct tconf *t, const config_setting_t *s)
{
	char buf[sizeof t->where[0]];
	char *w;

	ck_assert_int_lt(t->nwhere, 64);
	snprintf(buf, sizeof buf, "%s:%d", t->path, config_setting_source_line(s));
	w = t->where[t->nwhere++];
	memcpy(w, buf, sizeof buf);
	return w;
}

static void tconf_chain(struct tconf *t, struct cfg_chain *c, struct cfg_chain_step *steps,
                        config_setting_t *list, const char *name)
{
	int n = config_setting_length(list);

	ck_assert_int_le(n, 8);
	c->name = (char *)name;
	c->where = tconf_where(t, list);
	c->steps = steps;
	c->nsteps = (size_t)n;
	for (int i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		const char *use = NULL, *ctl = "required";

		ck_assert(config_setting_lookup_string(g, "use", &use));
		config_setting_lookup_string(g, "control", &ctl);
		ck_assert_int_ge(chain_control_parse(ctl), 0);
		steps[i].use = (char *)use;
		steps[i].control = (enum chain_control)chain_control_parse(ctl);
		steps[i].group = g;
		steps[i].where = tconf_where(t, g);
	}
}

static void tconf_load(struct tconf *t, const char *text)
{
	config_setting_t *mods, *chains, *def;
	FILE *f;
	int fd;

	memset(t, 0, sizeof *t);
	snprintf(t->path, sizeof t->path, "/tmp/check_chain.XXXXXX");
	fd = mkstemp(t->path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	config_init(&t->lc);
	ck_assert_msg(config_read_file(&t->lc, t->path) == CONFIG_TRUE, "%s:%d: %s", t->path,
	              config_error_line(&t->lc), config_error_text(&t->lc));

	t->cfg.module_path = MODDIR;
	mods = config_lookup(&t->lc, "modules");
	for (int i = 0; mods && i < config_setting_length(mods); i++) {
		config_setting_t *g = config_setting_get_elem(mods, (unsigned)i);
		const char *path = NULL;

		ck_assert_int_lt(i, 8);
		ck_assert(config_setting_lookup_string(g, "path", &path));
		t->mods[i].name = config_setting_name(g);
		t->mods[i].path = (char *)path;
		t->mods[i].group = g;
		t->mods[i].where = tconf_where(t, g);
		t->cfg.nmodules++;
	}
	t->cfg.modules = t->mods;

	chains = config_lookup(&t->lc, "chains");
	for (int i = 0; chains && i < config_setting_length(chains); i++) {
		config_setting_t *l = config_setting_get_elem(chains, (unsigned)i);

		ck_assert_int_lt(i, 8);
		tconf_chain(t, &t->chains[i], t->steps[i], l, config_setting_name(l));
		t->cfg.nchains++;
	}
	t->cfg.chains = t->chains;

	def = config_lookup(&t->lc, "default_chain");
	if (def != NULL)
		tconf_chain(t, &t->cfg.default_chain, t->steps[8], def, "default");
}

static void tconf_free(struct tconf *t)
{
	config_destroy(&t->lc);
	unlink(t->path);
}

/* ============================================================ in-memory modules */

static int mem_conn_new_calls, mem_conn_free_calls;

static int mem_conn_new(void *mod, pgs_conn *conn, void **state)
{
	(void)mod;
	(void)conn;
	mem_conn_new_calls++;
	*state = &mem_conn_new_calls;
	return 0;
}

static int mem_conn_new_fails(void *mod, pgs_conn *conn, void **state)
{
	(void)mod;
	(void)conn;
	(void)state;
	return -ENOMEM;
}

static void mem_conn_free(void *mod, pgs_conn *conn, void *state)
{
	(void)mod;
	(void)conn;
	ck_assert_ptr_eq(state, &mem_conn_new_calls);
	mem_conn_free_calls++;
}

static enum pgs_step mem_step_done(void *mod, pgs_conn *conn, void *state, const uint8_t *in,
                                   size_t in_len, pgs_wbuf *out, const char **logdetail)
{
	(void)mod;
	(void)conn;
	(void)state;
	(void)in;
	(void)in_len;
	(void)out;
	(void)logdetail;
	return PGS_STEP_DONE;
}

static const pgs_auth_ops mem_plain_auth = {
        .size = sizeof(pgs_auth_ops),
        .conn_new = mem_conn_new,
        .step = mem_step_done,
        .conn_free = mem_conn_free,
};

static const pgs_auth_ops mem_inter_auth = {
        .size = sizeof(pgs_auth_ops),
        .flags = PGS_AUTH_INTERACTIVE,
        .step = mem_step_done,
};

static const pgs_auth_ops mem_old_auth = {
        .size = 8,
        .step = mem_step_done,
};

static const pgs_auth_ops mem_newfail_auth = {
        .size = sizeof(pgs_auth_ops),
        .conn_new = mem_conn_new_fails,
        .step = mem_step_done,
        .conn_free = mem_conn_free,
};

static const pgs_cred_ops mem_cred = {.size = sizeof(pgs_cred_ops)};

static const pgs_module mem_plain = {PGS_MODULE_INIT("plain", "0"), .auth = &mem_plain_auth};
static const pgs_module mem_inter = {PGS_MODULE_INIT("inter", "0"), .auth = &mem_inter_auth};
static const pgs_module mem_noauth = {PGS_MODULE_INIT("noauth", "0"), .cred = &mem_cred};
static const pgs_module mem_old = {PGS_MODULE_INIT("old", "0"), .auth = &mem_old_auth};
static const pgs_module mem_newfail = {PGS_MODULE_INIT("newfail", "0"), .auth = &mem_newfail_auth};

/* A module set built in memory, one instance per descriptor, each named
 * after its descriptor; released by modload_set_unref() like a real one.
 * with_old adds "old", whose auth ops predate ABI 1.0 (refused). */
static struct mod_set *mem_set(bool with_old)
{
	static const pgs_module *const descs[] = {
	        &mem_plain, &mem_inter, &mem_noauth, &mem_newfail, &mem_old,
	};
	size_t n = sizeof descs / sizeof descs[0] - (with_old ? 0 : 1);
	struct mod_set *set = calloc(1, sizeof *set);

	ck_assert_ptr_nonnull(set);
	set->mods = calloc(n, sizeof *set->mods);
	ck_assert_ptr_nonnull(set->mods);
	for (size_t i = 0; i < n; i++) {
		set->mods[i].name = strdup(descs[i]->name);
		set->mods[i].file = strdup("(memory)");
		set->mods[i].cfg = calloc(1, sizeof *set->mods[i].cfg);
		set->mods[i].desc = descs[i];
	}
	set->nmods = n;
	atomic_init(&set->refs, 1);
	return set;
}

/* ============================================================ chain set */

START_TEST(test_chainset_resolve)
{
	struct tconf t;
	struct mod_set *mods = mem_set(false);
	struct chainset *cs;
	const struct chainset_chain *c;
	char err[2048];

	/* "inter" is both a chain and an instance: the chain wins. */
	tconf_load(&t, "chains = {\n"
	               "  c1 = ( { use = \"plain\"; control = \"sufficient\";\n"
	               "           realm = \"EXAMPLE\"; n = 3; },\n"
	               "         { use = \"inter\"; control = \"required\"; } );\n"
	               "  inter = ( { use = \"plain\"; } );\n"
	               "};\n"
	               "default_chain = ( { use = \"inter\"; control = \"requisite\"; },\n"
	               "                  { use = \"plain\"; } );\n");
	cs = chainset_build(&t.cfg, mods, err, sizeof err);
	ck_assert_msg(cs != NULL, "%s", err);
	ck_assert_int_eq(atomic_load(&mods->refs), 2);

	c = chainset_find(cs, "c1");
	ck_assert_ptr_nonnull(c);
	ck_assert(!c->synthesised);
	ck_assert_uint_eq(c->nsteps, 2);
	ck_assert_str_eq(c->steps[0].inst->name, "plain");
	ck_assert_ptr_eq(c->steps[0].auth, &mem_plain_auth);
	ck_assert_ptr_eq(c->steps[0].group, t.steps[0][0].group);
	ck_assert_ptr_eq(c->steps[1].group, t.steps[0][1].group);
	ck_assert_int_eq(c->descs[0].control, CTL_SUFFICIENT);
	ck_assert(!c->descs[0].interactive);
	ck_assert_int_eq(c->descs[1].control, CTL_REQUIRED);
	ck_assert(c->descs[1].interactive);
	ck_assert_str_eq(c->steps[1].where, t.steps[0][1].where);
	/* Step options come from the step's own group. */
	ck_assert_str_eq(chainset_step_option(&c->steps[0], "realm"), "EXAMPLE");
	ck_assert_ptr_null(chainset_step_option(&c->steps[0], "n"));
	ck_assert_ptr_null(chainset_step_option(&c->steps[0], "absent"));
	ck_assert_ptr_null(chainset_step_option(&c->steps[1], "realm"));

	c = chainset_find(cs, "inter");
	ck_assert_ptr_nonnull(c);
	ck_assert(!c->synthesised);
	ck_assert_str_eq(c->steps[0].inst->name, "plain");

	/* An instance name: a synthesised one-step required chain. */
	c = chainset_find(cs, "plain");
	ck_assert_ptr_nonnull(c);
	ck_assert(c->synthesised);
	ck_assert_uint_eq(c->nsteps, 1);
	ck_assert_int_eq(c->descs[0].control, CTL_REQUIRED);
	ck_assert_ptr_null(c->steps[0].group);
	ck_assert_ptr_null(chainset_step_option(&c->steps[0], "realm"));
	c = chainset_find(cs, "newfail");
	ck_assert_ptr_nonnull(c);
	ck_assert(c->synthesised);

	/* No auth ops: not a chain.  Unknown: NULL. */
	ck_assert_ptr_null(chainset_find(cs, "noauth"));
	ck_assert_ptr_null(chainset_find(cs, "nothing"));
	ck_assert_ptr_null(chainset_find(cs, NULL));

	c = chainset_default(cs);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->name, "default");
	ck_assert_uint_eq(c->nsteps, 2);
	ck_assert_int_eq(c->descs[0].control, CTL_REQUISITE);
	ck_assert(c->descs[0].interactive);

	chainset_ref(cs);
	chainset_unref(cs);
	ck_assert_int_eq(atomic_load(&mods->refs), 2);
	chainset_unref(cs);
	ck_assert_int_eq(atomic_load(&mods->refs), 1);
	modload_set_unref(mods);
	tconf_free(&t);
}
END_TEST

START_TEST(test_chainset_no_default)
{
	struct tconf t;
	struct mod_set *mods = mem_set(false);
	struct chainset *cs;
	char err[512];

	tconf_load(&t, "x = 1;\n");
	cs = chainset_build(&t.cfg, mods, err, sizeof err);
	ck_assert_msg(cs != NULL, "%s", err);
	ck_assert_ptr_null(chainset_default(cs));
	ck_assert_ptr_nonnull(chainset_find(cs, "inter"));
	chainset_unref(cs);
	modload_set_unref(mods);
	tconf_free(&t);
}
END_TEST

START_TEST(test_chainset_errors)
{
	struct tconf t;
	struct mod_set *mods = mem_set(true);
	struct chainset *cs;
	char err[4096], want[4096];

	tconf_load(&t, "chains = {\n"
	               "  a = ( { use = \"plain\"; },\n"
	               "        { use = \"ghost\"; } );\n"
	               "  b = ( { use = \"plain\"; },\n"
	               "        { use = \"noauth\"; } );\n"
	               "  c = ( { use = \"old\"; } );\n"
	               "  d = ( { use = \"inter\"; control = \"optional\"; },\n"
	               "        { use = \"plain\"; },\n"
	               "        { use = \"inter\"; control = \"required\"; } );\n"
	               "  e = ( );\n"
	               "};\n");
	cs = chainset_build(&t.cfg, mods, err, sizeof err);
	ck_assert_ptr_null(cs);
	snprintf(want, sizeof want,
	         "%1$s:3: chain \"a\" step 2: no module instance named "
	         "\"ghost\"\n"
	         "%1$s:5: chain \"b\" step 2: module instance \"noauth\" "
	         "provides no frontend authentication\n"
	         "%1$s:6: chain \"c\" step 1: module instance \"old\" has "
	         "frontend auth operations older than ABI 1.0 (field 'size' "
	         "too small)\n"
	         "%1$s:7: chain \"d\": step 1 (interactive, optional) may fail "
	         "after talking to the client and lead to step 3 "
	         "(interactive): the protocol cannot switch mechanisms; make "
	         "step 1 requisite or reorder the chain\n"
	         "%1$s:10: chain \"e\" has no steps\n"
	         "(config): module instance \"old\" has frontend auth "
	         "operations older than ABI 1.0 (field 'size' too small)",
	         t.path);
	ck_assert_str_eq(err, want);
	/* Nothing kept a reference on the module set. */
	ck_assert_int_eq(atomic_load(&mods->refs), 1);
	modload_set_unref(mods);
	tconf_free(&t);
}
END_TEST

/* Drive a runtime chain like the daemon: answers[] are the client's
 * replies to NEED_INPUT; details collects "step:detail;" per step. */
static enum chainset_status run_chain(struct chainset_run *run, const struct chainset_chain *c,
                                      pgs_conn *conn, pgs_wbuf *out, const char *const *answers,
                                      char *details, size_t dlen)
{
	enum chainset_status st = chainset_run_start(run, c);
	const uint8_t *in = NULL;
	size_t in_len = 0;
	int guard = 0;

	details[0] = '\0';
	while (st != CHAINSET_SUCCESS && st != CHAINSET_FAILURE) {
		const char *detail = NULL;

		ck_assert_int_lt(guard++, 64);
		st = chainset_run_step(run, conn, in, in_len, out, &detail);
		in = NULL;
		in_len = 0;
		if (detail != NULL) {
			size_t l = strlen(details);

			snprintf(details + l, dlen - l, "%zu:%s;", run->last, detail);
		}
		if (st == CHAINSET_NEED_INPUT) {
			if (answers == NULL || *answers == NULL)
				return st; /* the client went quiet */
			in = (const uint8_t *)*answers;
			in_len = strlen(*answers) + 1;
			answers++;
		}
	}
	return st;
}

START_TEST(test_run_conn_new_fails)
{
	struct tconf t;
	struct mod_set *mods = mem_set(false);
	struct chainset *cs;
	struct chainset_run run;
	struct pgs_conn conn = {.user = "bob"};
	struct pgs_wbuf out = {0};
	char err[512], details[256];

	tconf_load(&t, "chains = {\n"
	               "  c = ( { use = \"newfail\"; control = \"sufficient\"; },\n"
	               "        { use = \"plain\"; } );\n"
	               "};\n");
	cs = chainset_build(&t.cfg, mods, err, sizeof err);
	ck_assert_msg(cs != NULL, "%s", err);
	ck_assert_int_eq(
	        run_chain(&run, chainset_find(cs, "c"), &conn, &out, NULL, details, sizeof details),
	        CHAINSET_SUCCESS);
	ck_assert_str_eq(details, "0:module could not set up the connection;");
	/* conn_free only follows a successful conn_new. */
	ck_assert_int_eq(mem_conn_new_calls, 1);
	ck_assert_int_eq(mem_conn_free_calls, 1);

	/* A client message when no step asked for one: failure. */
	ck_assert_int_eq(chainset_run_start(&run, chainset_find(cs, "plain")), CHAINSET_NEXT);
	{
		const char *detail = NULL;

		ck_assert_int_eq(
		        chainset_run_step(&run, &conn, (const uint8_t *)"x", 2, &out, &detail),
		        CHAINSET_FAILURE);
		ck_assert_str_eq(detail, "unexpected authentication message");
	}
	ck_assert_int_eq(mem_conn_new_calls, 1);

	ck_assert_int_eq(chainset_run_start(&run, NULL), CHAINSET_FAILURE);
	chainset_unref(cs);
	modload_set_unref(mods);
	tconf_free(&t);
}
END_TEST

/* ============================================================ real modules */

struct loaded {
	struct tconf t;
	struct mod_set *mods;
	struct chainset *cs;
};

static void load_all(struct loaded *l, const char *text)
{
	char err[2048];

	tconf_load(&l->t, text);
	l->mods = modload_set_create(&l->t.cfg, &test_host, err, sizeof err);
	ck_assert_msg(l->mods != NULL, "%s", err);
	l->cs = chainset_build(&l->t.cfg, l->mods, err, sizeof err);
	ck_assert_msg(l->cs != NULL, "%s", err);
}

static void unload_all(struct loaded *l)
{
	chainset_unref(l->cs);
	modload_set_unref(l->mods);
	tconf_free(&l->t);
}

static const char trust_reject_conf[] =
        "modules = {\n"
        "  trust = { path = \"trust\"; };\n"
        "  reject = { path = \"reject\"; };\n"
        "};\n"
        "chains = {\n"
        "  lenient = ( { use = \"reject\"; control = \"sufficient\"; },\n"
        "              { use = \"trust\"; control = \"required\"; } );\n"
        "  strict = ( { use = \"trust\"; control = \"requisite\"; },\n"
        "             { use = \"reject\"; control = \"required\"; } );\n"
        "};\n";

START_TEST(test_trust_reject)
{
	struct loaded l;
	struct chainset_run run;
	struct pgs_conn conn = {.user = "alice"};
	struct pgs_wbuf out = {0};
	char details[256];

	load_all(&l, trust_reject_conf);

	/* reject (sufficient) fails, trust (required) succeeds. */
	ck_assert_int_eq(run_chain(&run, chainset_find(l.cs, "lenient"), &conn, &out, NULL, details,
	                           sizeof details),
	                 CHAINSET_SUCCESS);
	ck_assert_str_eq(details, "0:rejected by module reject;");
	ck_assert_str_eq(conn.authn_id, "alice");

	/* trust (requisite) succeeds, reject (required) fails. */
	memset(conn.authn_id, 0, sizeof conn.authn_id);
	ck_assert_int_eq(run_chain(&run, chainset_find(l.cs, "strict"), &conn, &out, NULL, details,
	                           sizeof details),
	                 CHAINSET_FAILURE);
	ck_assert_str_eq(details, "1:rejected by module reject;");
	ck_assert_uint_eq(run.last, 1);

	/* The modules alone, through their synthesised chains. */
	ck_assert_int_eq(run_chain(&run, chainset_find(l.cs, "trust"), &conn, &out, NULL, details,
	                           sizeof details),
	                 CHAINSET_SUCCESS);
	ck_assert_int_eq(run_chain(&run, chainset_find(l.cs, "reject"), &conn, &out, NULL, details,
	                           sizeof details),
	                 CHAINSET_FAILURE);

	/* trust without a user name fails closed. */
	conn.user = NULL;
	ck_assert_int_eq(run_chain(&run, chainset_find(l.cs, "trust"), &conn, &out, NULL, details,
	                           sizeof details),
	                 CHAINSET_FAILURE);
	ck_assert_str_eq(details, "0:trust: no user name in the startup packet;");
	/* Neither module ever talked to the client. */
	ck_assert_int_eq(out.nauth, 0);
	unload_all(&l);
}
END_TEST

static const char counting_conf[] = "modules = {\n"
                                    "  cnt = { path = \"fx_counting\"; };\n"
                                    "  slow = { path = \"fx_counting\"; mode = \"pending\"; };\n"
                                    "  trust = { path = \"trust\"; };\n"
                                    "};\n"
                                    "chains = {\n"
                                    "  c = ( { use = \"cnt\"; control = \"requisite\"; },\n"
                                    "        { use = \"trust\"; control = \"required\"; } );\n"
                                    "};\n";

START_TEST(test_disconnect_mid_chain)
{
	struct loaded l;
	struct chainset_run run;
	struct pgs_conn conn = {.user = "carol"};
	struct pgs_wbuf out = {0};
	const char *detail = NULL;
	char details[256];

	load_all(&l, counting_conf);
	/* The module asks for a password; the client never answers. */
	ck_assert_int_eq(run_chain(&run, chainset_find(l.cs, "c"), &conn, &out, NULL, details,
	                           sizeof details),
	                 CHAINSET_NEED_INPUT);
	ck_assert_int_eq(out.nauth, 1);
	ck_assert_uint_eq(out.last_code, 3);
	ck_assert_int_eq(th_log_count("fx_counting conn_new"), 1);
	ck_assert_int_eq(th_log_count("fx_counting conn_free"), 0);
	ck_assert_ptr_eq(chainset_run_current(&run), &chainset_find(l.cs, "c")->steps[0]);

	/* The client vanishes: the daemon aborts the run. */
	chainset_run_abort(&run, &conn);
	ck_assert_int_eq(th_log_count("fx_counting conn_free"), 1);
	chainset_run_abort(&run, &conn);
	ck_assert_int_eq(th_log_count("fx_counting conn_free"), 1);
	ck_assert_ptr_null(chainset_run_current(&run));
	/* A finished run calls no module anymore. */
	ck_assert_int_eq(chainset_run_step(&run, &conn, NULL, 0, &out, &detail), CHAINSET_FAILURE);
	ck_assert_int_eq(th_log_count("fx_counting conn_new"), 1);
	ck_assert_str_eq(conn.authn_id, "");
	unload_all(&l);
}
END_TEST

START_TEST(test_counting_complete)
{
	static const char *const good[] = {"ok", NULL};
	static const char *const bad[] = {"nope", NULL};
	struct loaded l;
	struct chainset_run run;
	struct pgs_conn conn = {.user = "dave"};
	struct pgs_wbuf out = {0};
	char details[256];

	load_all(&l, counting_conf);
	ck_assert_int_eq(run_chain(&run, chainset_find(l.cs, "c"), &conn, &out, good, details,
	                           sizeof details),
	                 CHAINSET_SUCCESS);
	ck_assert_str_eq(details, "");
	ck_assert_str_eq(conn.authn_id, "dave");
	ck_assert_int_eq(th_log_count("fx_counting conn_new"), 1);
	ck_assert_int_eq(th_log_count("fx_counting conn_free"), 1);
	/* Aborting a finished run owes nothing. */
	chainset_run_abort(&run, &conn);
	ck_assert_int_eq(th_log_count("fx_counting conn_free"), 1);

	/* Wrong answer: the requisite step stops the chain. */
	ck_assert_int_eq(run_chain(&run, chainset_find(l.cs, "c"), &conn, &out, bad, details,
	                           sizeof details),
	                 CHAINSET_FAILURE);
	ck_assert_str_eq(details, "0:fx_counting: wrong answer;");
	ck_assert_int_eq(th_log_count("fx_counting conn_new"), 2);
	ck_assert_int_eq(th_log_count("fx_counting conn_free"), 2);

	/* PENDING then DONE through the real driver. */
	{
		const char *detail = NULL;

		ck_assert_int_eq(chainset_run_start(&run, chainset_find(l.cs, "slow")),
		                 CHAINSET_NEXT);
		ck_assert_int_eq(chainset_run_step(&run, &conn, NULL, 0, &out, &detail),
		                 CHAINSET_PENDING);
		ck_assert_int_eq(th_log_count("fx_counting conn_free"), 2);
		ck_assert_int_eq(chainset_run_step(&run, &conn, NULL, 0, &out, &detail),
		                 CHAINSET_SUCCESS);
		ck_assert_ptr_null(detail);
		ck_assert_int_eq(th_log_count("fx_counting conn_new"), 3);
		ck_assert_int_eq(th_log_count("fx_counting conn_free"), 3);
	}

	/* Disconnect while the deferred work was pending (and is done). */
	{
		const char *detail = NULL;

		ck_assert_int_eq(chainset_run_start(&run, chainset_find(l.cs, "slow")),
		                 CHAINSET_NEXT);
		ck_assert_int_eq(chainset_run_step(&run, &conn, NULL, 0, &out, &detail),
		                 CHAINSET_PENDING);
		chainset_run_abort(&run, &conn);
		ck_assert_int_eq(th_log_count("fx_counting conn_new"), 4);
		ck_assert_int_eq(th_log_count("fx_counting conn_free"), 4);
	}
	unload_all(&l);
}
END_TEST

START_TEST(test_real_interactive_refused)
{
	struct tconf t;
	struct mod_set *mods;
	struct chainset *cs;
	char err[2048], want[2048];

	tconf_load(&t, "modules = {\n"
	               "  one = { path = \"fx_counting\"; };\n"
	               "  two = { path = \"fx_counting.so\"; };\n"
	               "};\n"
	               "chains = {\n"
	               "  ok = ( { use = \"one\"; control = \"requisite\"; },\n"
	               "         { use = \"two\"; } );\n"
	               "  twice = ( { use = \"one\"; control = \"sufficient\"; },\n"
	               "            { use = \"two\"; } );\n"
	               "};\n");
	mods = modload_set_create(&t.cfg, &test_host, err, sizeof err);
	ck_assert_msg(mods != NULL, "%s", err);
	cs = chainset_build(&t.cfg, mods, err, sizeof err);
	ck_assert_ptr_null(cs);
	snprintf(want, sizeof want,
	         "%s:8: chain \"twice\": step 1 "
	         "(interactive, sufficient) may fail after talking to the "
	         "client and lead to step 2 (interactive): the protocol cannot "
	         "switch mechanisms; make step 1 requisite or reorder the "
	         "chain",
	         t.path);
	ck_assert_str_eq(err, want);
	modload_set_unref(mods);
	tconf_free(&t);
}
END_TEST

/* Each test starts with an empty log and zero counters, forked or not. */
static void reset_state(void)
{
	th_log_reset();
	mem_conn_new_calls = 0;
	mem_conn_free_calls = 0;
}

static Suite *chain_suite(void)
{
	Suite *s = suite_create("chain");
	TCase *tc;

	tc = tcase_create("evaluator");
	tcase_add_loop_test(tc, test_matrix, 0, (int)(sizeof matrix / sizeof matrix[0]));
	tcase_add_test(tc, test_combinations);
	tcase_add_test(tc, test_optional_decides_alone);
	tcase_add_test(tc, test_all_ignore_and_empty);
	tcase_add_test(tc, test_pending_then_done);
	tcase_add_test(tc, test_runtime_fail_closed);
	tcase_add_loop_test(tc, test_check_refuses, 0,
	                    (int)(sizeof continuing / sizeof continuing[0]));
	tcase_add_test(tc, test_check_accepts);
	tcase_add_test(tc, test_control_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("chainset");
	tcase_add_checked_fixture(tc, reset_state, NULL);
	tcase_add_test(tc, test_chainset_resolve);
	tcase_add_test(tc, test_chainset_no_default);
	tcase_add_test(tc, test_chainset_errors);
	tcase_add_test(tc, test_run_conn_new_fails);
	suite_add_tcase(s, tc);

	tc = tcase_create("modules");
	tcase_add_checked_fixture(tc, reset_state, NULL);
	tcase_add_test(tc, test_trust_reject);
	tcase_add_test(tc, test_disconnect_mid_chain);
	tcase_add_test(tc, test_counting_complete);
	tcase_add_test(tc, test_real_interactive_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(chain_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
