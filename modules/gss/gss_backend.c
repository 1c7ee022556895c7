/*
 * gss_backend.c — pgsluice's own GSSAPI login to PostgreSQL (auth codes 7
 * AuthenticationGSS and 8 AuthenticationGSSContinue), as libpq's
 * pg_GSS_startup() / pg_GSS_continue() do it, with the initiator
 * credentials of the instance (client_keytab / ccache, see gss.c).
 *
 *   PostgreSQL                        pgsluice
 *   AuthenticationGSS (R 7)    ->     first gss_init_sec_context on the work
 *                                     pool (it may ask the KDC for a TGT and
 *                                     a service ticket)
 *                              <-     GSSResponse (p, token)
 *   AuthenticationGSSContinue  ->     gss_init_sec_context inline (local:
 *   (R 8, token)                      it checks the server's reply)
 *   AuthenticationOk           ->
 *
 * The target is "krbsrvname@server_host" (connection parameters of the
 * server's config).  A Unix socket directory is refused: PostgreSQL has no
 * GSSAPI on local sockets ("gssapi authentication is not supported on local
 * sockets" in pg_hba.conf), and libpq would only build a principal from the
 * directory path.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gss_int.h"
#include "../common/conn_detail.h"

#define AUTH_REQ_GSS      7
#define AUTH_REQ_GSS_CONT 8

enum gss_be_state {
	GSS_BE_START,       /* nothing done yet */
	GSS_BE_PENDING,     /* the first step runs on the work pool */
	GSS_BE_WAIT_SERVER, /* our token sent, waiting for AuthenticationGSSContinue */
	GSS_BE_FINISHED,    /* decided; any further call is out of turn */
};

struct gss_be_conn {
	enum gss_be_state state;
	struct gss_mod *m; /* for the deferred job, which must not touch conn */
	int first_rc;      /* gss_ctx_init_step's result in the job */
	struct gss_ctx c;
};

static int gss_be_conn_new(void *mod, pgs_conn *conn, void **state)
{
	struct gss_mod *m = mod;
	struct gss_be_conn *st;

	(void)conn;
	st = m->host->alloc(sizeof *st);
	if (st == NULL)
		return -ENOMEM;
	memset(st, 0, sizeof *st);
	st->state = GSS_BE_START;
	st->m = m;
	st->c.ctx = GSS_C_NO_CONTEXT;
	st->c.target = GSS_C_NO_NAME;
	*state = st;
	return 0;
}

/* The host waits for a running job before it calls this. */
static void gss_be_conn_free(void *mod, pgs_conn *conn, void *state)
{
	const struct gss_mod *m = mod;
	struct gss_be_conn *st = state;

	(void)conn;
	if (st == NULL)
		return;
	gss_ctx_free(&st->c);
	m->host->wipe_free(st, sizeof *st);
}

/* On the work pool: the first context step, which may wait on the KDC. */
static void gss_be_first_step(void *arg)
{
	struct gss_be_conn *st = arg;

	st->first_rc = gss_ctx_init_step(st->m, &st->c, NULL, 0);
}

static enum pgs_step gss_be_fail(const struct gss_mod *m, pgs_conn *conn, struct gss_be_conn *st,
                                 const char *what, const char **logdetail)
{
	st->state = GSS_BE_FINISHED;
	*logdetail = conn_detail(m->host, conn, "GSSAPI login failed", "%s", what);
	return PGS_STEP_FAIL;
}

/* After a context step with result rc: send our token, then go on or finish. */
static enum pgs_step gss_be_answer(const struct gss_mod *m, pgs_conn *conn, struct gss_be_conn *st,
                                   int rc, pgs_wbuf *out, const char **logdetail)
{
	if (rc < 0)
		return gss_be_fail(m, conn, st, st->c.err, logdetail);
	if (st->c.out.length > 0 &&
	    m->host->wbuf_msg(out, 'p', st->c.out.value, st->c.out.length) < 0)
		return gss_be_fail(m, conn, st, "gss: out of memory", logdetail);
	if (rc == 1) {
		st->state = GSS_BE_FINISHED;
		return PGS_STEP_DONE;
	}
	st->state = GSS_BE_WAIT_SERVER;
	return PGS_STEP_NEED_INPUT;
}

/* AuthenticationGSS: build the target, then run the first step deferred. */
static enum pgs_step gss_be_start(struct gss_mod *m, pgs_conn *conn, struct gss_be_conn *st,
                                  const char **logdetail)
{
	const pgs_host *host = m->host;
	const char *srvname = host->conn_param(conn, "krbsrvname");
	const char *server = host->conn_param(conn, "server_host");
	char msg[GSS_ERR_LEN];
	int rc;

	if (!m->have_initiator)
		return gss_be_fail(m, conn, st,
		                   "the server asks for GSSAPI, but no client_keytab or ccache is "
		                   "configured in module gss",
		                   logdetail);
	if (srvname == NULL || srvname[0] == '\0')
		srvname = "postgres";
	if (server == NULL || server[0] == '\0')
		return gss_be_fail(m, conn, st,
		                   "the server asks for GSSAPI, but its host name is unknown",
		                   logdetail);
	if (server[0] == '/') {
		snprintf(msg, sizeof msg,
		         "the server asks for GSSAPI over the Unix socket in \"%.200s\": GSSAPI "
		         "needs a host name (connect over TCP)",
		         server);
		return gss_be_fail(m, conn, st, msg, logdetail);
	}
	if (gss_ctx_target(&st->c, srvname, server) < 0)
		return gss_be_fail(m, conn, st, st->c.err, logdetail);
	st->state = GSS_BE_PENDING;
	rc = host->defer(conn, gss_be_first_step, st);
	if (rc < 0) {
		snprintf(msg, sizeof msg, "gss: could not queue the GSSAPI login (%s)",
		         strerror(-rc));
		return gss_be_fail(m, conn, st, msg, logdetail);
	}
	return PGS_STEP_PENDING;
}

static enum pgs_step gss_be_step(void *mod, pgs_conn *conn, void *state, uint32_t auth_code,
                                 const uint8_t *in, size_t in_len, pgs_wbuf *out,
                                 const char **logdetail)
{
	struct gss_mod *m = mod;
	struct gss_be_conn *st = state;
	char msg[128];
	int rc;

	switch (st->state) {
	case GSS_BE_START:
		if (auth_code != AUTH_REQ_GSS)
			break;
		return gss_be_start(m, conn, st, logdetail);
	case GSS_BE_PENDING:
		if (auth_code != AUTH_REQ_GSS || in != NULL)
			break;
		return gss_be_answer(m, conn, st, st->first_rc, out, logdetail);
	case GSS_BE_WAIT_SERVER:
		if (auth_code != AUTH_REQ_GSS_CONT)
			break;
		if (in == NULL || in_len == 0 || in_len > GSS_MAX_TOKEN) {
			snprintf(msg, sizeof msg,
			         "the server's GSSAPI token is empty or too long (%zu bytes)",
			         in_len);
			return gss_be_fail(m, conn, st, msg, logdetail);
		}
		rc = gss_ctx_init_step(m, &st->c, in, in_len);
		return gss_be_answer(m, conn, st, rc, out, logdetail);
	case GSS_BE_FINISHED:
		break;
	}
	snprintf(msg, sizeof msg, "the server sent authentication code %u out of turn",
	         (unsigned int)auth_code);
	return gss_be_fail(m, conn, st, msg, logdetail);
}

const pgs_backend_ops gss_backend_ops = {
        .size = sizeof(pgs_backend_ops),
        .auth_codes = PGS_AUTH_CODE_BIT(AUTH_REQ_GSS) | PGS_AUTH_CODE_BIT(AUTH_REQ_GSS_CONT),
        .conn_new = gss_be_conn_new,
        .step = gss_be_step,
        .conn_free = gss_be_conn_free,
};
