/*
 * password_front.c — frontend cleartext password authentication: pgsluice
 * sends AuthenticationCleartextPassword (code 3), the client answers with
 * its password, which is checked against the stored secret, as
 * PostgreSQL's "password" method does.
 *
 * The password crosses the wire as it is, so the step refuses to run,
 * before sending anything, unless the client connection is TLS or GSS
 * encrypted or the instance sets allow_unencrypted.  The stored secret may
 * be the plain password (compared in constant time), PostgreSQL's MD5 hash
 * (the password is hashed then compared) or a SCRAM verifier (PBKDF2, run
 * on the host's work pool with defer()).  An unknown user is asked for the
 * password anyway and fails only then.  The received password is wiped as
 * soon as it has been checked.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include <pgsluice/module.h>

#include "md5_hash.h"
#include "password_int.h"
#include "scram_verifier.h"

/* Longest PasswordMessage payload accepted, with its NUL (PostgreSQL read
 * passwords with a 1000-byte limit for years). */
#define PASSWORD_MAX_PACKET 1000

enum password_front_state {
	PW_START,         /* nothing sent yet */
	PW_WAIT_PASSWORD, /* request sent, waiting for the client's 'p' */
	PW_CHECKING,      /* SCRAM check running on the work pool */
	PW_FINISHED,
};

struct password_front {
	enum password_front_state state;
	/* For the deferred SCRAM check: the work function reads and writes
	 * only these, never the connection. */
	struct scram_verifier verifier;
	uint8_t *password; /* host->alloc, password_len bytes */
	size_t password_len;
	bool match;
};

static int password_front_new(void *mod, pgs_conn *conn, void **state)
{
	const struct password_module *m = mod;
	struct password_front *st;

	(void)conn;
	st = m->host->alloc(sizeof *st);
	if (st == NULL)
		return -ENOMEM;
	memset(st, 0, sizeof *st);
	st->state = PW_START;
	*state = st;
	return 0;
}

/* Wipe and free the copy of the password and the verifier. */
static void forget_password(const pgs_host *host, struct password_front *st)
{
	if (st->password != NULL)
		host->wipe_free(st->password, st->password_len);
	st->password = NULL;
	st->password_len = 0;
	scram_verifier_clear(&st->verifier);
}

static void password_front_free(void *mod, pgs_conn *conn, void *state)
{
	const struct password_module *m = mod;

	(void)conn;
	if (state == NULL)
		return;
	/* The host calls this only after a deferred job has returned. */
	forget_password(m->host, state);
	m->host->wipe_free(state, sizeof(struct password_front));
}

/* Work pool: PBKDF2 of the password against the verifier. */
static void scram_check_work(void *arg)
{
	struct password_front *st = arg;

	st->match = scram_verifier_check_password(&st->verifier, st->password, st->password_len);
}

/* The password hashed as PostgreSQL stores MD5, compared with the stored
 * hash (upper- or lowercase hex) in constant time. */
static enum pgs_step check_md5(const pgs_host *host, const pgs_secret *s, const char *user,
                               const uint8_t *pw, size_t pw_len, const char **logdetail)
{
	char stored[MD5_HASH_STORED_LEN], computed[MD5_HASH_STORED_LEN + 1];
	int diff, rc;

	if (!md5_hash_is_stored(s->data, s->len)) {
		*logdetail = "stored md5 secret is not \"md5\" followed by 32 hex digits";
		return PGS_STEP_FAIL;
	}
	for (size_t i = 0; i < MD5_HASH_STORED_LEN; i++) {
		char c = (char)s->data[i];

		stored[i] = (i >= 3 && c >= 'A' && c <= 'F') ? (char)(c + 32) : c;
	}
	rc = md5_hash_password(pw, pw_len, user, computed);
	diff = host->ct_memcmp(stored, computed, MD5_HASH_STORED_LEN);
	OPENSSL_cleanse(stored, sizeof stored);
	OPENSSL_cleanse(computed, sizeof computed);
	if (rc < 0) {
		*logdetail = "password: MD5 is not available from the crypto library";
		return PGS_STEP_FAIL;
	}
	if (diff != 0) {
		*logdetail = "password does not match";
		return PGS_STEP_FAIL;
	}
	return PGS_STEP_DONE;
}

/* Parse the verifier and hand the PBKDF2 to the work pool. */
static enum pgs_step start_scram(const pgs_host *host, pgs_conn *conn, struct password_front *st,
                                 const pgs_secret *s, const uint8_t *pw, size_t pw_len,
                                 const char **logdetail)
{
	char why[128];

	if (scram_verifier_parse(s->data, s->len, &st->verifier, why, sizeof why) < 0) {
		host->log(PGS_LOG_WARN, conn, "password: stored SCRAM verifier is invalid: %s",
		          why);
		*logdetail = "stored SCRAM verifier is invalid";
		return PGS_STEP_FAIL;
	}
	st->password = host->alloc(pw_len);
	if (st->password == NULL) {
		*logdetail = "password: out of memory";
		return PGS_STEP_FAIL;
	}
	memcpy(st->password, pw, pw_len);
	st->password_len = pw_len;
	st->match = false;
	if (host->defer == NULL || host->defer(conn, scram_check_work, st) < 0) {
		*logdetail = "password: cannot run the SCRAM check on the work pool";
		return PGS_STEP_FAIL;
	}
	st->state = PW_CHECKING;
	return PGS_STEP_PENDING;
}

/* Check the client's PasswordMessage against the stored secret. */
static enum pgs_step check_password(const pgs_host *host, pgs_conn *conn, struct password_front *st,
                                    const uint8_t *in, size_t in_len, const char **logdetail)
{
	pgs_secret secret = {.size = sizeof secret};
	const char *user = host->conn_param(conn, "user");
	size_t pw_len;
	enum pgs_step ret;
	int rc;

	st->state = PW_FINISHED;
	/* PostgreSQL: the payload must be exactly one NUL-terminated string. */
	if (in_len == 0 || in_len > PASSWORD_MAX_PACKET || in[in_len - 1] != '\0' ||
	    memchr(in, '\0', in_len - 1) != NULL) {
		*logdetail = "invalid password packet size";
		return PGS_STEP_PROTO_ERROR;
	}
	pw_len = in_len - 1;
	if (pw_len == 0) {
		*logdetail = "empty password returned by client";
		return PGS_STEP_FAIL;
	}
	if (user == NULL || user[0] == '\0') {
		*logdetail = "password: no user name in the startup packet";
		return PGS_STEP_FAIL;
	}
	rc = host->secret_lookup(conn, user, &secret);
	if (rc == -ENOENT) {
		*logdetail = "user does not exist";
		return PGS_STEP_FAIL;
	}
	if (rc < 0) {
		*logdetail = "password: cannot look up the user's secret";
		return PGS_STEP_FAIL;
	}
	if (secret.kind != NULL && strcmp(secret.kind, "plain") == 0) {
		if (secret.len == 0) {
			*logdetail = "user has no password assigned";
			ret = PGS_STEP_FAIL;
		} else if (pw_len != secret.len || host->ct_memcmp(in, secret.data, pw_len) != 0) {
			*logdetail = "password does not match";
			ret = PGS_STEP_FAIL;
		} else {
			ret = PGS_STEP_DONE;
		}
	} else if (secret.kind != NULL && strcmp(secret.kind, "md5") == 0) {
		ret = check_md5(host, &secret, user, in, pw_len, logdetail);
	} else if (secret.kind != NULL && strcmp(secret.kind, "scram-sha-256") == 0) {
		ret = start_scram(host, conn, st, &secret, in, pw_len, logdetail);
		if (ret != PGS_STEP_PENDING)
			forget_password(host, st);
	} else {
		*logdetail = "stored secret kind cannot be used for password authentication";
		ret = PGS_STEP_FAIL;
	}
	host->secret_release(&secret);
	return ret;
}

/* The work pool is done: the SCRAM check's verdict. */
static enum pgs_step scram_verdict(const pgs_host *host, struct password_front *st,
                                   const char **logdetail)
{
	bool match = st->match;

	st->state = PW_FINISHED;
	forget_password(host, st);
	st->match = false;
	if (!match) {
		*logdetail = "password does not match";
		return PGS_STEP_FAIL;
	}
	return PGS_STEP_DONE;
}

static bool encrypted(const char *transport)
{
	return transport != NULL &&
	       (strcmp(transport, "tls") == 0 || strcmp(transport, "gss") == 0);
}

static enum pgs_step password_front_step(void *mod, pgs_conn *conn, void *state, const uint8_t *in,
                                         size_t in_len, pgs_wbuf *out, const char **logdetail)
{
	const struct password_module *m = mod;
	const pgs_host *host = m->host;
	struct password_front *st = state;
	enum pgs_step ret;

	switch (st->state) {
	case PW_START:
		if (in != NULL)
			break;
		if (!m->allow_unencrypted && !encrypted(host->conn_param(conn, "transport"))) {
			*logdetail = "password: cleartext password refused on a connection that is "
			             "neither TLS nor GSS encrypted (set allow_unencrypted = true "
			             "to accept it)";
			return PGS_STEP_FAIL;
		}
		if (host->wbuf_auth(out, 3, NULL, 0) < 0) {
			*logdetail = "password: cannot queue AuthenticationCleartextPassword";
			return PGS_STEP_FAIL;
		}
		st->state = PW_WAIT_PASSWORD;
		return PGS_STEP_NEED_INPUT;
	case PW_WAIT_PASSWORD:
		if (in == NULL)
			break;
		ret = check_password(host, conn, st, in, in_len, logdetail);
		goto verdict;
	case PW_CHECKING:
		if (in != NULL) {
			/* The job still owns the state: leave it alone. */
			*logdetail = "unexpected message during authentication";
			return PGS_STEP_PROTO_ERROR;
		}
		ret = scram_verdict(host, st, logdetail);
		goto verdict;
	case PW_FINISHED:
		break;
	}
	*logdetail = "password: step called out of turn";
	return PGS_STEP_FAIL;

verdict:
	if (ret == PGS_STEP_DONE && host->set_authn_id(conn, host->conn_param(conn, "user")) < 0) {
		*logdetail = "password: cannot record the authenticated identity";
		return PGS_STEP_FAIL;
	}
	return ret;
}

const pgs_auth_ops password_front_ops = {
        .size = sizeof(pgs_auth_ops),
        .flags = PGS_AUTH_INTERACTIVE | PGS_AUTH_FINAL_FAILURE,
        .conn_new = password_front_new,
        .step = password_front_step,
        .conn_free = password_front_free,
        .method = "password",
        .fail_sqlstate = "28P01",
};
