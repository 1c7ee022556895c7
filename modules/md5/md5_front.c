/*
 * md5_front.c — frontend MD5 password authentication: pgsluice asks the
 * client for AuthenticationMD5Password (code 5) with a random 4-byte salt
 * and checks the answer "md5" + hex(MD5(hex(MD5(password || user)) || salt))
 * against the stored secret, as PostgreSQL's "md5" method does.
 *
 * The stored secret may be the plain password or PostgreSQL's MD5 hash.
 * When it is a SCRAM verifier the step returns IGNORE before sending
 * anything: PostgreSQL's md5 method then runs SCRAM instead, which a chain
 * gets with a scram step after this one.  An unknown user, or a user whose
 * secret cannot serve MD5, goes through the same exchange with a random
 * salt and fails only at the end, so that absence does not show.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <pgsluice/module.h>

#include "md5_hash.h"
#include "md5_int.h"

enum md5_front_state {
	MD5_START,         /* nothing sent yet */
	MD5_WAIT_RESPONSE, /* challenge sent, waiting for the client's 'p' */
	MD5_FINISHED,
};

struct md5_front {
	enum md5_front_state state;
	const char *refusal; /* static; non-NULL: fail whatever the answer */
	char expected[MD5_HASH_STORED_LEN + 1];
};

static int md5_front_new(void *mod, pgs_conn *conn, void **state)
{
	const struct md5_module *m = mod;
	struct md5_front *st;

	(void)conn;
	st = m->host->alloc(sizeof *st);
	if (st == NULL)
		return -ENOMEM;
	memset(st, 0, sizeof *st);
	st->state = MD5_START;
	*state = st;
	return 0;
}

static void md5_front_free(void *mod, pgs_conn *conn, void *state)
{
	const struct md5_module *m = mod;

	(void)conn;
	m->host->wipe_free(state, sizeof(struct md5_front));
}

/*
 * The inner hash hex(MD5(password || user)) from a stored secret.  0 and
 * inner set; 1 when the secret cannot serve MD5 (*why says why); -EIO when
 * MD5 is unavailable.
 */
static int inner_from_secret(const pgs_secret *s, const char *user,
                             char inner[MD5_HASH_HEX_LEN + 1], const char **why)
{
	if (s->kind != NULL && strcmp(s->kind, "plain") == 0) {
		char stored[MD5_HASH_STORED_LEN + 1];
		int rc;

		if (s->len == 0) {
			*why = "user has no password assigned";
			return 1;
		}
		rc = md5_hash_password(s->data, s->len, user, stored);
		memcpy(inner, stored + 3, MD5_HASH_HEX_LEN);
		inner[MD5_HASH_HEX_LEN] = '\0';
		OPENSSL_cleanse(stored, sizeof stored);
		return rc < 0 ? -EIO : 0;
	}
	if (s->kind != NULL && strcmp(s->kind, "md5") == 0) {
		if (!md5_hash_is_stored(s->data, s->len)) {
			*why = "stored md5 secret is not \"md5\" followed by 32 hex digits";
			return 1;
		}
		/* PostgreSQL hashes its stored text, which is lowercase. */
		for (size_t i = 0; i < MD5_HASH_HEX_LEN; i++) {
			char c = (char)s->data[3 + i];

			inner[i] = (c >= 'A' && c <= 'F') ? (char)(c + 32) : c;
		}
		inner[MD5_HASH_HEX_LEN] = '\0';
		return 0;
	}
	*why = "stored secret kind cannot be used for MD5 authentication";
	return 1;
}

/* A random inner hash, for the mock exchange. */
static int random_inner(char inner[MD5_HASH_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[MD5_HASH_HEX_LEN / 2];

	if (RAND_bytes(r, sizeof r) != 1)
		return -EIO;
	for (size_t i = 0; i < sizeof r; i++) {
		inner[2 * i] = hex[r[i] >> 4];
		inner[2 * i + 1] = hex[r[i] & 0xf];
	}
	inner[MD5_HASH_HEX_LEN] = '\0';
	OPENSSL_cleanse(r, sizeof r);
	return 0;
}

/* Look up the secret, compute the expected answer and send the challenge. */
static enum pgs_step md5_front_start(const pgs_host *host, pgs_conn *conn, struct md5_front *st,
                                     pgs_wbuf *out, const char **logdetail)
{
	pgs_secret secret = {.size = sizeof secret};
	char inner[MD5_HASH_HEX_LEN + 1];
	uint8_t salt[MD5_HASH_SALT_LEN];
	const char *user;
	int rc;

	user = host->conn_param(conn, "user");
	if (user == NULL || user[0] == '\0') {
		*logdetail = "md5: no user name in the startup packet";
		return PGS_STEP_FAIL;
	}
	rc = host->secret_lookup(conn, user, &secret);
	if (rc == 0) {
		if (secret.kind != NULL && strcmp(secret.kind, "scram-sha-256") == 0) {
			host->secret_release(&secret);
			*logdetail = "stored secret is a SCRAM verifier; md5 steps aside";
			return PGS_STEP_IGNORE;
		}
		rc = inner_from_secret(&secret, user, inner, &st->refusal);
		host->secret_release(&secret);
		if (rc < 0)
			goto no_md5;
	} else if (rc == -ENOENT) {
		st->refusal = "user does not exist";
	} else {
		*logdetail = "md5: cannot look up the user's secret";
		return PGS_STEP_FAIL;
	}
	if (st->refusal != NULL && random_inner(inner) < 0) {
		*logdetail = "md5: no random bytes from the crypto library";
		return PGS_STEP_FAIL;
	}

	if (RAND_bytes(salt, sizeof salt) != 1) {
		OPENSSL_cleanse(inner, sizeof inner);
		*logdetail = "md5: no random bytes for the salt";
		return PGS_STEP_FAIL;
	}
	rc = md5_hash_salted(inner, salt, st->expected);
	OPENSSL_cleanse(inner, sizeof inner);
	if (rc < 0)
		goto no_md5;
	if (host->wbuf_auth(out, 5, salt, sizeof salt) < 0) {
		*logdetail = "md5: cannot queue AuthenticationMD5Password";
		return PGS_STEP_FAIL;
	}
	st->state = MD5_WAIT_RESPONSE;
	return PGS_STEP_NEED_INPUT;

no_md5:
	OPENSSL_cleanse(inner, sizeof inner);
	*logdetail = "md5: MD5 is not available from the crypto library";
	return PGS_STEP_FAIL;
}

/* Check the client's PasswordMessage: "md5" + 32 hex digits + NUL. */
static enum pgs_step md5_front_check(const pgs_host *host, pgs_conn *conn, struct md5_front *st,
                                     const uint8_t *in, size_t in_len, const char **logdetail)
{
	bool match;

	st->state = MD5_FINISHED;
	/* PostgreSQL: the payload must be exactly one NUL-terminated string. */
	if (in_len == 0 || in[in_len - 1] != '\0' || memchr(in, '\0', in_len - 1) != NULL) {
		OPENSSL_cleanse(st->expected, sizeof st->expected);
		*logdetail = "invalid password packet size";
		return PGS_STEP_PROTO_ERROR;
	}
	match = in_len == sizeof st->expected &&
	        host->ct_memcmp(in, st->expected, MD5_HASH_STORED_LEN) == 0;
	OPENSSL_cleanse(st->expected, sizeof st->expected);
	if (in_len == 1) {
		*logdetail = "empty password returned by client";
		return PGS_STEP_FAIL;
	}
	if (st->refusal != NULL) {
		*logdetail = st->refusal;
		return PGS_STEP_FAIL;
	}
	if (!match) {
		*logdetail = "password does not match";
		return PGS_STEP_FAIL;
	}
	if (host->set_authn_id(conn, host->conn_param(conn, "user")) < 0) {
		*logdetail = "md5: cannot record the authenticated identity";
		return PGS_STEP_FAIL;
	}
	return PGS_STEP_DONE;
}

static enum pgs_step md5_front_step(void *mod, pgs_conn *conn, void *state, const uint8_t *in,
                                    size_t in_len, pgs_wbuf *out, const char **logdetail)
{
	const struct md5_module *m = mod;
	struct md5_front *st = state;

	switch (st->state) {
	case MD5_START:
		if (in != NULL)
			break;
		return md5_front_start(m->host, conn, st, out, logdetail);
	case MD5_WAIT_RESPONSE:
		if (in == NULL)
			break;
		return md5_front_check(m->host, conn, st, in, in_len, logdetail);
	case MD5_FINISHED:
		break;
	}
	*logdetail = "md5: step called out of turn";
	return PGS_STEP_FAIL;
}

const pgs_auth_ops md5_front_ops = {
        .size = sizeof(pgs_auth_ops),
        .flags = PGS_AUTH_INTERACTIVE | PGS_AUTH_FINAL_FAILURE,
        .conn_new = md5_front_new,
        .step = md5_front_step,
        .conn_free = md5_front_free,
        .method = "password",
        .fail_sqlstate = "28P01",
};
