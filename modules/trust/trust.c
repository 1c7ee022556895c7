/*
 * trust.c — the `trust` module: accepts the client as the user it claims
 * to be, like PostgreSQL's trust method.
 *
 * Non-interactive: it sends nothing to the client.  Useful alone only on
 * trusted networks, and as the last step of a chain whose earlier steps
 * (for example a requisite certificate check) already did the real work.
 */
#include <errno.h>
#include <stddef.h>

#include <pgsluice/module.h>

struct trust_mod {
	const pgs_host *host;
};

static int trust_init(const pgs_host *host, const pgs_cfg *cfg, void **mod)
{
	struct trust_mod *tm;

	(void)cfg;
	tm = host->alloc(sizeof *tm);
	if (tm == NULL)
		return -ENOMEM;
	tm->host = host;
	*mod = tm;
	return 0;
}

static void trust_fini(void *mod)
{
	struct trust_mod *tm = mod;

	if (tm != NULL)
		tm->host->free(tm);
}

static enum pgs_step trust_step(void *mod, pgs_conn *conn, void *state, const uint8_t *in,
                                size_t in_len, pgs_wbuf *out, const char **logdetail)
{
	const struct trust_mod *tm = mod;
	const char *user;

	(void)state;
	(void)in;
	(void)in_len;
	(void)out;
	user = tm->host->conn_param(conn, "user");
	if (user == NULL || *user == '\0') {
		*logdetail = "trust: no user name in the startup packet";
		return PGS_STEP_FAIL;
	}
	if (tm->host->set_authn_id(conn, user) < 0) {
		*logdetail = "trust: cannot record the authenticated identity";
		return PGS_STEP_FAIL;
	}
	return PGS_STEP_DONE;
}

static const pgs_auth_ops trust_auth = {
        .size = sizeof(pgs_auth_ops),
        .flags = 0,
        .conn_new = NULL,
        .step = trust_step,
        .conn_free = NULL,
};

static const pgs_module trust_desc = {
        PGS_MODULE_INIT("trust", "1.0"),
        .init = trust_init,
        .fini = trust_fini,
        .auth = &trust_auth,
};

PGS_MODULE_EXPORT(trust_desc)
