/*
 * reject.c — the `reject` module: refuses every client, like PostgreSQL's
 * reject method.
 *
 * Non-interactive.  Typical uses: the last rule of an access list, or a
 * `requisite` first step that closes a chain while it is being worked on.
 */
#include <stddef.h>

#include <pgsluice/module.h>

static int reject_init(const pgs_host *host, const pgs_cfg *cfg, void **mod)
{
	(void)host;
	(void)cfg;
	*mod = NULL;
	return 0;
}

static void reject_fini(void *mod)
{
	(void)mod;
}

static enum pgs_step reject_step(void *mod, pgs_conn *conn, void *state, const uint8_t *in,
                                 size_t in_len, pgs_wbuf *out, const char **logdetail)
{
	(void)mod;
	(void)conn;
	(void)state;
	(void)in;
	(void)in_len;
	(void)out;
	*logdetail = "rejected by module reject";
	return PGS_STEP_FAIL;
}

static const pgs_auth_ops reject_auth = {
        .size = sizeof(pgs_auth_ops),
        .flags = 0,
        .step = reject_step,
};

static const pgs_module reject_desc = {
        PGS_MODULE_INIT("reject", "1.0"),
        .init = reject_init,
        .fini = reject_fini,
        .auth = &reject_auth,
};

PGS_MODULE_EXPORT(reject_desc)
