/*
 * md5.c — the "md5" module: backend login with PostgreSQL's legacy MD5
 * password authentication (AuthenticationMD5Password, code 5).
 *
 * The answer is "md5" + hex(MD5(hex(MD5(password || user)) || salt)).  The
 * pool's secret is either the plain password (kind "plain") or the hash
 * PostgreSQL itself stores (kind "md5": "md5" + 32 hex), whose hex part is
 * the inner hash as it is.  MD5 is deprecated in PostgreSQL; the module says
 * so when it loads.  The frontend (clients logging in to pgsluice with MD5)
 * is md5_front.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include <pgsluice/module.h>

#include "conn_detail.h"

#include "md5_hash.h"
#include "md5_int.h"

static int md5_init(const pgs_host *host, const pgs_cfg *cfg, void **mod)
{
	struct md5_module *m;

	(void)cfg;
	m = host->alloc(sizeof *m);
	if (m == NULL)
		return -ENOMEM;
	m->host = host;
	host->log(PGS_LOG_WARN, NULL,
	          "MD5 authentication is deprecated; PostgreSQL plans to "
	          "remove it: move roles to SCRAM-SHA-256 "
	          "(password_encryption = 'scram-sha-256', then reset "
	          "their passwords)");
	*mod = m;
	return 0;
}

static void md5_fini(void *mod)
{
	struct md5_module *m = mod;

	if (m != NULL)
		m->host->free(m);
}

static int md5_conn_new(void *mod, pgs_conn *conn, void **state)
{
	(void)mod;
	(void)conn;
	*state = NULL; /* one round, nothing to keep */
	return 0;
}

static void md5_conn_free(void *mod, pgs_conn *conn, void *state)
{
	(void)mod;
	(void)conn;
	(void)state;
}

static enum pgs_step md5_step(void *mod, pgs_conn *conn, void *state, uint32_t auth_code,
                              const uint8_t *in, size_t in_len, pgs_wbuf *out,
                              const char **logdetail)
{
	const struct md5_module *m = mod;
	const pgs_host *host = m->host;
	char inner[MD5_HASH_HEX_LEN + 1];
	char answer[MD5_HASH_STORED_LEN + 1];
	pgs_secret secret = {.size = sizeof secret};
	const char *user;
	int rc;

	(void)state;
	if (auth_code != 5) {
		*logdetail = "md5: unexpected authentication request";
		return PGS_STEP_FAIL;
	}
	if (in == NULL || in_len != MD5_HASH_SALT_LEN) {
		*logdetail = "md5: AuthenticationMD5Password without a "
		             "4-byte salt";
		return PGS_STEP_FAIL;
	}
	user = host->conn_param(conn, "user");
	if (user == NULL || user[0] == '\0') {
		*logdetail = "md5: server connection has no user";
		return PGS_STEP_FAIL;
	}
	rc = host->secret_lookup(conn, user, &secret);
	if (rc < 0) {
		*logdetail = conn_detail(m->host, conn,
		                         "md5: no password configured for "
		                         "backend login",
		                         "no password configured for backend login "
		                         "of user \"%s\"",
		                         user);
		return PGS_STEP_FAIL;
	}

	if (secret.kind != NULL && strcmp(secret.kind, "plain") == 0) {
		char stored[MD5_HASH_STORED_LEN + 1];

		rc = md5_hash_password(secret.data, secret.len, user, stored);
		memcpy(inner, stored + 3, MD5_HASH_HEX_LEN);
		OPENSSL_cleanse(stored, sizeof stored);
	} else if (secret.kind != NULL && strcmp(secret.kind, "md5") == 0) {
		if (!md5_hash_is_stored(secret.data, secret.len)) {
			host->secret_release(&secret);
			*logdetail = conn_detail(m->host, conn,
			                         "md5: stored md5 secret "
			                         "is malformed",
			                         "stored md5 secret of user \"%s\" "
			                         "is not \"md5\" followed by 32 "
			                         "hex digits",
			                         user);
			return PGS_STEP_FAIL;
		}
		/* PostgreSQL hashes its stored text, which is lowercase. */
		for (size_t i = 0; i < MD5_HASH_HEX_LEN; i++) {
			char c = (char)secret.data[3 + i];

			inner[i] = (c >= 'A' && c <= 'F') ? (char)(c + 32) : c;
		}
		rc = 0;
	} else {
		*logdetail = conn_detail(m->host, conn,
		                         "md5: stored secret kind cannot "
		                         "be used for MD5 login",
		                         "stored secret of kind %s cannot be used "
		                         "for MD5 login",
		                         secret.kind ? secret.kind : "(none)");
		host->secret_release(&secret);
		return PGS_STEP_FAIL;
	}
	host->secret_release(&secret);
	inner[MD5_HASH_HEX_LEN] = '\0';

	if (rc == 0)
		rc = md5_hash_salted(inner, in, answer);
	OPENSSL_cleanse(inner, sizeof inner);
	if (rc < 0) {
		OPENSSL_cleanse(answer, sizeof answer);
		*logdetail = "md5: MD5 is not available from the crypto "
		             "library";
		return PGS_STEP_FAIL;
	}
	/* PasswordMessage: the answer as a NUL-terminated string. */
	rc = host->wbuf_msg(out, 'p', answer, sizeof answer);
	OPENSSL_cleanse(answer, sizeof answer);
	if (rc < 0) {
		*logdetail = "md5: cannot queue the password message";
		return PGS_STEP_FAIL;
	}
	/* Our side is done; the host waits for AuthenticationOk. */
	return PGS_STEP_DONE;
}

static const pgs_backend_ops md5_backend = {
        .size = sizeof(pgs_backend_ops),
        .auth_codes = PGS_AUTH_CODE_BIT(5),
        .conn_new = md5_conn_new,
        .step = md5_step,
        .conn_free = md5_conn_free,
};

static const pgs_module md5_desc = {
        PGS_MODULE_INIT("md5", "0.1.0"), .init = md5_init,        .fini = md5_fini,
        .auth = &md5_front_ops,          .backend = &md5_backend,
};

PGS_MODULE_EXPORT(md5_desc)
