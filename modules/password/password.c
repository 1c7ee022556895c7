/*
 * password.c — the "password" module: backend login with cleartext
 * password authentication (AuthenticationCleartextPassword, code 3).
 *
 * The pool's password goes to the server as it is, so only a secret of kind
 * "plain" can answer.  The password crosses the wire readable by anyone
 * on the path unless the server connection uses TLS or GSS encryption; a
 * debug line says when it does not.  The frontend (clients sending their
 * password in cleartext to pgsluice) is password_front.c.
 *
 * Config:  allow_unencrypted = true   let the frontend accept a cleartext
 *          password on a connection that is neither TLS nor GSS encrypted
 *          (default false).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <pgsluice/module.h>

#include "conn_detail.h"

#include "password_int.h"

static int password_init(const pgs_host *host, const pgs_cfg *cfg, void **mod)
{
	struct password_module *m;
	bool allow = false;
	int rc;

	rc = cfg != NULL ? host->cfg_bool(cfg, "allow_unencrypted", &allow) : -ENOENT;
	if (rc == -ENOENT) {
		allow = false;
	} else if (rc < 0) {
		host->log(PGS_LOG_ERROR, NULL, "%s: password: allow_unencrypted must be a boolean",
		          host->cfg_where ? host->cfg_where(cfg, "allow_unencrypted") : "?");
		return -EINVAL;
	}
	m = host->alloc(sizeof *m);
	if (m == NULL)
		return -ENOMEM;
	m->host = host;
	m->allow_unencrypted = allow;
	if (allow)
		host->log(PGS_LOG_WARN, NULL,
		          "password: allow_unencrypted = true: clients may send their password "
		          "in cleartext over connections that are neither TLS nor GSS "
		          "encrypted, readable by anyone on the network path");
	*mod = m;
	return 0;
}

static void password_fini(void *mod)
{
	struct password_module *m = mod;

	if (m != NULL)
		m->host->free(m);
}

static int password_conn_new(void *mod, pgs_conn *conn, void **state)
{
	(void)mod;
	(void)conn;
	*state = NULL; /* one round, nothing to keep */
	return 0;
}

static void password_conn_free(void *mod, pgs_conn *conn, void *state)
{
	(void)mod;
	(void)conn;
	(void)state;
}

static enum pgs_step password_step(void *mod, pgs_conn *conn, void *state, uint32_t auth_code,
                                   const uint8_t *in, size_t in_len, pgs_wbuf *out,
                                   const char **logdetail)
{
	const struct password_module *m = mod;
	const pgs_host *host = m->host;
	pgs_secret secret = {.size = sizeof secret};
	const char *user, *transport;
	uint8_t *msg;
	size_t msg_len;
	int rc;

	(void)state;
	(void)in;
	if (auth_code != 3) {
		*logdetail = "password: unexpected authentication request";
		return PGS_STEP_FAIL;
	}
	if (in_len != 0) {
		*logdetail = "password: AuthenticationCleartextPassword "
		             "with a payload";
		return PGS_STEP_FAIL;
	}
	user = host->conn_param(conn, "user");
	if (user == NULL || user[0] == '\0') {
		*logdetail = "password: server connection has no user";
		return PGS_STEP_FAIL;
	}
	rc = host->secret_lookup(conn, user, &secret);
	if (rc < 0) {
		*logdetail = conn_detail(m->host, conn,
		                         "password: no password configured "
		                         "for backend login",
		                         "no password configured for backend login "
		                         "of user \"%s\"",
		                         user);
		return PGS_STEP_FAIL;
	}
	if (secret.kind == NULL || strcmp(secret.kind, "plain") != 0) {
		*logdetail = conn_detail(m->host, conn,
		                         "password: stored secret is not "
		                         "a plain password",
		                         "stored secret of kind %s cannot be used "
		                         "for cleartext password login",
		                         secret.kind ? secret.kind : "(none)");
		host->secret_release(&secret);
		return PGS_STEP_FAIL;
	}
	if (secret.len == 0 || memchr(secret.data, '\0', secret.len) != NULL) {
		host->secret_release(&secret);
		*logdetail = conn_detail(m->host, conn, "password: password cannot be sent",
		                         "password of user \"%s\" is empty or has "
		                         "a NUL byte: cannot be sent as cleartext",
		                         user);
		return PGS_STEP_FAIL;
	}

	/* PasswordMessage: the password as a NUL-terminated string. */
	msg_len = secret.len + 1;
	msg = host->alloc(msg_len);
	if (msg == NULL) {
		host->secret_release(&secret);
		*logdetail = "password: out of memory";
		return PGS_STEP_FAIL;
	}
	memcpy(msg, secret.data, secret.len);
	msg[secret.len] = '\0';
	host->secret_release(&secret);
	rc = host->wbuf_msg(out, 'p', msg, msg_len);
	host->wipe_free(msg, msg_len);
	if (rc < 0) {
		*logdetail = "password: cannot queue the password message";
		return PGS_STEP_FAIL;
	}
	transport = host->conn_param(conn, "transport");
	if (transport == NULL || (strcmp(transport, "tls") != 0 && strcmp(transport, "gss") != 0))
		host->log(PGS_LOG_DEBUG, conn,
		          "password: cleartext password sent to the server "
		          "over an unencrypted connection");
	/* Our side is done; the host waits for AuthenticationOk. */
	return PGS_STEP_DONE;
}

static const pgs_backend_ops password_backend = {
        .size = sizeof(pgs_backend_ops),
        .auth_codes = PGS_AUTH_CODE_BIT(3),
        .conn_new = password_conn_new,
        .step = password_step,
        .conn_free = password_conn_free,
};

static const pgs_module password_desc = {
        PGS_MODULE_INIT("password", "0.1.0"), .init = password_init,        .fini = password_fini,
        .auth = &password_front_ops,          .backend = &password_backend,
};

PGS_MODULE_EXPORT(password_desc)
