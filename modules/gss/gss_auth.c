/*
 * gss_auth.c — frontend GSSAPI authentication (client -> pgsluice), as
 * PostgreSQL 15's pg_GSS_recvauth() and pg_GSS_checkauth() do it:
 *
 *   pgsluice                          client
 *   AuthenticationGSS (R 7)    ->
 *                              <-     GSSResponse (p, token)
 *   AuthenticationGSSContinue  ->     (R 8, token; repeated while the
 *                              <-      context needs more)
 *   ... checks, then AuthenticationOk from the host
 *
 * A client whose connection is already GSS-encrypted (transport "gss") has
 * proved its principal during the encryption handshake: no exchange, only
 * the checks, as PostgreSQL does for hostgssenc lines.
 *
 * The checks, in PostgreSQL's order: the principal is recorded as the
 * authenticated identity first (even when a check then fails), then the
 * realm against krb_realm, include_realm strips "@REALM", then the ident map
 * (or, without one, the role must equal the name).  Options of the chain
 * step (pg_hba.conf's include_realm, krb_realm, map) override the module's
 * settings.  Every detail goes to the log; the client reads only
 * `GSSAPI authentication failed for user "x"` (28000).
 *
 * The acceptor side is local (keytab only, no KDC), so no step is deferred.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gss_int.h"
#include "../common/conn_detail.h"

#define AUTH_REQ_GSS      7
#define AUTH_REQ_GSS_CONT 8

enum gss_auth_state {
	GSS_AUTH_START,      /* nothing sent yet */
	GSS_AUTH_WAIT_TOKEN, /* AuthenticationGSS(Continue) sent, waiting for GSSResponse */
	GSS_AUTH_FINISHED,   /* decided; any further call is out of turn */
};

struct gss_auth_conn {
	enum gss_auth_state state;
	struct gss_ctx c;
	char name[GSS_NAME_MAX]; /* the principal, realm stripped when asked */
};

/* A step option that is a boolean "0"/"1" (pg_hba.conf style): 0 or -EINVAL. */
static int opt_bool(const char *v, bool *out)
{
	if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0) {
		*out = true;
		return 0;
	}
	if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

static int name_cmp(const struct gss_mod *m, const char *a, const char *b)
{
	return m->caseins ? strcasecmp(a, b) : strcmp(a, b);
}

/* The role check once the system user name is final (pg_GSS_checkauth's
 * check_usermap call). */
static enum pgs_step gss_auth_role(const struct gss_mod *m, pgs_conn *conn, const char *name,
                                   const char **logdetail)
{
	const pgs_host *host = m->host;
	const char *role = host->conn_param(conn, "user");
	const char *map = host->step_option(conn, "map");
	int rc;

	if (map == NULL || map[0] == '\0')
		map = m->map;
	if (role == NULL || role[0] == '\0') {
		*logdetail = "gss: the client sent no user name";
		return PGS_STEP_FAIL;
	}
	if (map == NULL) {
		if (name_cmp(m, role, name) == 0)
			return PGS_STEP_DONE;
		*logdetail = conn_detail(host, conn, "provided and authenticated user names differ",
		                         "provided user name (%s) and authenticated user name (%s) "
		                         "do not match",
		                         role, name);
		return PGS_STEP_FAIL;
	}
	if (!PGS_HAS_FIELD(host, pgs_host, ident_match) || host->ident_match == NULL) {
		*logdetail = "gss: a map is set but this host has no ident maps";
		return PGS_STEP_FAIL;
	}
	rc = host->ident_match(conn, map, name, role);
	if (rc == 0)
		return PGS_STEP_DONE;
	if (rc == -ENOENT)
		*logdetail = conn_detail(host, conn, "ident map does not exist",
		                         "ident map \"%s\" does not exist", map);
	else
		*logdetail = conn_detail(
		        host, conn, "no match in ident map",
		        "no match in ident map \"%s\" for user \"%s\" authenticated "
		        "as \"%s\"",
		        map, role, name);
	return PGS_STEP_FAIL;
}

/* pg_GSS_checkauth: identity, realm, include_realm, role. */
static enum pgs_step gss_auth_check(const struct gss_mod *m, pgs_conn *conn,
                                    struct gss_auth_conn *st, const char *principal,
                                    const char **logdetail)
{
	const pgs_host *host = m->host;
	const char *krb_realm = host->step_option(conn, "krb_realm");
	const char *opt = host->step_option(conn, "include_realm");
	bool include_realm = m->include_realm;
	size_t len = strlen(principal);
	char *at, *realm;

	st->state = GSS_AUTH_FINISHED;
	if (len == 0 || len >= sizeof st->name) {
		*logdetail = "gss: the client's principal name is empty or too long";
		return PGS_STEP_FAIL;
	}
	if (host->set_authn_id(conn, principal) < 0) {
		*logdetail = "gss: could not record the authenticated identity";
		return PGS_STEP_FAIL;
	}
	if (opt != NULL && opt_bool(opt, &include_realm) < 0) {
		*logdetail = conn_detail(host, conn, "bad include_realm option",
		                         "gss: include_realm option \"%.32s\" is not 0 or 1", opt);
		return PGS_STEP_FAIL;
	}
	if (krb_realm == NULL || krb_realm[0] == '\0')
		krb_realm = m->krb_realm;
	memcpy(st->name, principal, len + 1);
	/* The realm follows the last '@' (an '@' inside a component is escaped). */
	at = strrchr(st->name, '@');
	realm = at != NULL ? at + 1 : NULL;
	if (krb_realm != NULL) {
		if (realm == NULL || realm[0] == '\0') {
			*logdetail = "GSSAPI did not return realm but realm matching was requested";
			return PGS_STEP_FAIL;
		}
		if (name_cmp(m, realm, krb_realm) != 0) {
			*logdetail = conn_detail(host, conn,
			                         "GSSAPI realm does not match krb_realm",
			                         "GSSAPI realm (%s) does not match krb_realm (%s)",
			                         realm, krb_realm);
			return PGS_STEP_FAIL;
		}
	}
	if (!include_realm && at != NULL)
		*at = '\0';
	return gss_auth_role(m, conn, st->name, logdetail);
}

static int gss_auth_conn_new(void *mod, pgs_conn *conn, void **state)
{
	const struct gss_mod *m = mod;
	struct gss_auth_conn *st;

	(void)conn;
	st = m->host->alloc(sizeof *st);
	if (st == NULL)
		return -ENOMEM;
	memset(st, 0, sizeof *st);
	st->state = GSS_AUTH_START;
	st->c.ctx = GSS_C_NO_CONTEXT;
	st->c.target = GSS_C_NO_NAME;
	*state = st;
	return 0;
}

static void gss_auth_conn_free(void *mod, pgs_conn *conn, void *state)
{
	const struct gss_mod *m = mod;
	struct gss_auth_conn *st = state;

	(void)conn;
	if (st == NULL)
		return;
	gss_ctx_free(&st->c);
	m->host->wipe_free(st, sizeof *st);
}

/* The first call: the encrypted shortcut, or AuthenticationGSS. */
static enum pgs_step gss_auth_start(struct gss_mod *m, pgs_conn *conn, struct gss_auth_conn *st,
                                    pgs_wbuf *out, const char **logdetail)
{
	const pgs_host *host = m->host;
	const char *transport = host->conn_param(conn, "transport");
	const char *principal = host->conn_param(conn, "gss_principal");

	if (transport != NULL && strcmp(transport, "gss") == 0 && principal != NULL &&
	    principal[0] != '\0')
		return gss_auth_check(m, conn, st, principal, logdetail);
	if (!m->have_acceptor) {
		st->state = GSS_AUTH_FINISHED;
		*logdetail = "gss: GSSAPI authentication needs a keytab in module gss";
		return PGS_STEP_FAIL;
	}
	if (host->wbuf_auth(out, AUTH_REQ_GSS, NULL, 0) < 0) {
		st->state = GSS_AUTH_FINISHED;
		*logdetail = "gss: out of memory";
		return PGS_STEP_FAIL;
	}
	st->state = GSS_AUTH_WAIT_TOKEN;
	return PGS_STEP_NEED_INPUT;
}

/* One GSSResponse token. */
static enum pgs_step gss_auth_token(struct gss_mod *m, pgs_conn *conn, struct gss_auth_conn *st,
                                    const uint8_t *in, size_t in_len, pgs_wbuf *out,
                                    const char **logdetail)
{
	const pgs_host *host = m->host;
	int rc;

	if (in == NULL || in_len == 0 || in_len > GSS_MAX_TOKEN) {
		st->state = GSS_AUTH_FINISHED;
		*logdetail = conn_detail(host, conn, "bad GSSAPI token length",
		                         "gss: the client's GSSAPI token is %s (%zu bytes, at most "
		                         "%d allowed)",
		                         in_len == 0 ? "empty" : "too long", in_len, GSS_MAX_TOKEN);
		return PGS_STEP_FAIL;
	}
	rc = gss_ctx_accept_step(m, &st->c, in, in_len);
	if (rc < 0) {
		/* No error token to the client: it would read a GSSAPI error
		 * instead of the generic refusal that follows. */
		st->state = GSS_AUTH_FINISHED;
		*logdetail = conn_detail(host, conn, "accepting GSS security context failed", "%s",
		                         st->c.err);
		return PGS_STEP_FAIL;
	}
	if (st->c.out.length > 0 &&
	    host->wbuf_auth(out, AUTH_REQ_GSS_CONT, st->c.out.value, st->c.out.length) < 0) {
		st->state = GSS_AUTH_FINISHED;
		*logdetail = "gss: out of memory";
		return PGS_STEP_FAIL;
	}
	if (rc == 0)
		return PGS_STEP_NEED_INPUT;
	/* Complete: the last token (if any) is flushed with the outcome. */
	return gss_auth_check(m, conn, st, st->c.principal, logdetail);
}

static enum pgs_step gss_auth_step(void *mod, pgs_conn *conn, void *state, const uint8_t *in,
                                   size_t in_len, pgs_wbuf *out, const char **logdetail)
{
	struct gss_mod *m = mod;
	struct gss_auth_conn *st = state;

	switch (st->state) {
	case GSS_AUTH_START:
		if (in != NULL)
			break;
		return gss_auth_start(m, conn, st, out, logdetail);
	case GSS_AUTH_WAIT_TOKEN:
		return gss_auth_token(m, conn, st, in, in_len, out, logdetail);
	case GSS_AUTH_FINISHED:
		break;
	}
	st->state = GSS_AUTH_FINISHED;
	*logdetail = "gss: authentication message out of turn";
	return PGS_STEP_FAIL;
}

const pgs_auth_ops gss_auth_ops = {
        .size = sizeof(pgs_auth_ops),
        .flags = PGS_AUTH_INTERACTIVE | PGS_AUTH_FINAL_FAILURE,
        .conn_new = gss_auth_conn_new,
        .step = gss_auth_step,
        .conn_free = gss_auth_conn_free,
        .method = "GSSAPI",
        .fail_sqlstate = "28000",
};
