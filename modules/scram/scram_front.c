/*
 * scram_front.c — the "scram" module's frontend authentication: pgsluice
 * as a SCRAM-SHA-256(-PLUS) server towards its clients, as PostgreSQL 15
 * does it (the protocol itself is in scram_server.c):
 *
 *   us:     R 10 "SCRAM-SHA-256-PLUS\0" (TLS only) "SCRAM-SHA-256\0\0"
 *   client: p SASLInitialResponse       (mechanism, client-first-message)
 *   us:     R 11 server-first-message
 *   client: p SASLResponse              (client-final-message with proof)
 *   us:     R 12 server-final-message   -> DONE (the host sends R 0)
 *
 * The StoredKey and ServerKey come from the user's stored secret:
 *  - "scram-sha-256": a verifier, used as it is; after a good proof the
 *    recovered ClientKey goes to the pass-through cache (scram_int.h);
 *  - "plain": a password; the verifier is derived with a salt that is
 *    stable per user and module instance (HMAC of the user name under a
 *    random instance key) and `iterations` rounds.  PBKDF2 runs on the host's
 *    work pool (host->defer), never in the calling worker, and the keys are
 *    cached; the first login of a user after a start therefore answers its
 *    client-first-message a little later than the others;
 *  - anything else ("md5", no such user, a malformed verifier): a mock
 *    exchange, like PostgreSQL's — salt SHA256(instance mock key || user),
 *    `iterations` rounds, random keys, the same messages — that fails at the
 *    end.  The reason goes to the log only.
 *
 * A client breaking the protocol ends the chain with PGS_STEP_PROTO_ERROR
 * and PostgreSQL's wording as the message; a wrong proof is a plain
 * failure, which the client reads as "password authentication failed".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <pgsluice/module.h>

#include "scram_int.h"
#include "scram_server.h"
#include "scram_verifier.h"

#define AUTH_SASL          10
#define AUTH_SASL_CONTINUE 11
#define AUTH_SASL_FINAL    12

#define FRONT_MAX_PASSWORD 4096 /* longest stored password we derive from */

/* What the exchange waits for, named after the protocol. */
enum front_state {
	FRONT_START = 0,         /* nothing sent yet */
	FRONT_WAIT_INITIAL,      /* AuthenticationSASL sent */
	FRONT_WAIT_CLIENT_FIRST, /* initial response had no data: empty R 11 sent */
	FRONT_DERIVING,          /* PBKDF2 on the work pool */
	FRONT_WAIT_CLIENT_FINAL, /* server-first sent */
	FRONT_DONE,
	FRONT_FAILED,
};

enum front_kind {
	KIND_MOCK = 0,
	KIND_VERIFIER,
	KIND_PLAIN,
};

/* PBKDF2 job: the only memory work() touches (host->alloc). */
struct derive_job {
	size_t size; /* of the whole allocation */
	int rc;
	uint32_t iterations;
	size_t salt_len;
	uint8_t salt[SCRAM_VERIFIER_MAX_SALT];
	uint8_t client_key[SCRAM_KEY_LEN];
	uint8_t server_key[SCRAM_KEY_LEN];
	size_t password_len;
	uint8_t password[]; /* the stored password, wiped with the job */
};

struct front_conn {
	enum front_state state;
	enum front_kind kind;
	bool fp_ok;                 /* fp is a valid cache fingerprint */
	uint8_t fp[SCRAM_KEY_LEN];  /* derived-key cache, KIND_PLAIN */
	struct scram_verifier keys; /* salt, iterations, StoredKey, ServerKey */
	scram_server *ss;           /* host->alloc, during the exchange */
	struct derive_job *job;     /* host->alloc, KIND_PLAIN on a cache miss */
	char mock_reason[160];      /* why a mock exchange must fail */
	char detail[SCRAM_DETAIL_LEN];
};

static const char *front_state_name(enum front_state state)
{
	switch (state) {
	case FRONT_START:
		return "START";
	case FRONT_WAIT_INITIAL:
		return "WAIT_INITIAL";
	case FRONT_WAIT_CLIENT_FIRST:
		return "WAIT_CLIENT_FIRST";
	case FRONT_DERIVING:
		return "DERIVING";
	case FRONT_WAIT_CLIENT_FINAL:
		return "WAIT_CLIENT_FINAL";
	case FRONT_DONE:
		return "DONE";
	case FRONT_FAILED:
		return "FAILED";
	}
	return "?";
}

static void drop_job(const struct scram_module *m, struct front_conn *fc)
{
	if (fc->job != NULL) {
		m->host->wipe_free(fc->job, fc->job->size);
		fc->job = NULL;
	}
}

static void drop_exchange(const struct scram_module *m, struct front_conn *fc)
{
	if (fc->ss != NULL) {
		scram_server_clear(fc->ss);
		m->host->wipe_free(fc->ss, sizeof *fc->ss);
		fc->ss = NULL;
	}
	drop_job(m, fc);
	scram_verifier_clear(&fc->keys);
	OPENSSL_cleanse(fc->fp, sizeof fc->fp);
}

/* End the exchange with `rc` (FAIL or PROTO_ERROR); fc->detail says why. */
static enum pgs_step give_up(const struct scram_module *m, struct front_conn *fc, enum pgs_step rc,
                             const char **logdetail)
{
	drop_exchange(m, fc);
	fc->state = FRONT_FAILED;
	*logdetail = fc->detail;
	return rc;
}

/* ------------------------------------------------------------ secrets */

/* StoredKey = SHA256(ClientKey) */
static bool stored_key(const uint8_t client_key[SCRAM_KEY_LEN], uint8_t out[SCRAM_KEY_LEN])
{
	unsigned int len = 0;

	return EVP_Digest(client_key, SCRAM_KEY_LEN, out, &len, EVP_sha256(), NULL) &&
	       len == SCRAM_KEY_LEN;
}

/* A mock verifier for an exchange that must fail: keys random. */
static int set_mock(const struct scram_module *m, struct front_conn *fc, const char *user,
                    const char *reason)
{
	fc->kind = KIND_MOCK;
	snprintf(fc->mock_reason, sizeof fc->mock_reason, "%s", reason);
	scram_verifier_clear(&fc->keys);
	fc->keys.iterations = m->iterations;
	fc->keys.salt_len = SCRAM_SERVER_SALT_LEN;
	if (scram_server_mock_salt(m->mock_key, sizeof m->mock_key, user, fc->keys.salt) < 0 ||
	    RAND_bytes(fc->keys.stored_key, SCRAM_KEY_LEN) != 1 ||
	    RAND_bytes(fc->keys.server_key, SCRAM_KEY_LEN) != 1)
		return -EIO;
	return 0;
}

/* A stored password: salt per user, keys from the cache or a PBKDF2 job. */
static int set_plain(struct scram_module *m, struct front_conn *fc, const char *user,
                     const pgs_secret *secret)
{
	uint8_t ck[SCRAM_KEY_LEN];
	struct derive_job *job;

	fc->kind = KIND_PLAIN;
	fc->keys.iterations = m->iterations;
	fc->keys.salt_len = SCRAM_SERVER_SALT_LEN;
	if (scram_server_plain_salt(m->plain_salt_key, sizeof m->plain_salt_key, user,
	                            fc->keys.salt) < 0)
		return -EIO;
	fc->fp_ok = scram_keys_fingerprint(m, secret->data, secret->len, fc->keys.salt,
	                                   fc->keys.salt_len, fc->keys.iterations, fc->fp);
	if (fc->fp_ok && scram_keys_get(m, fc->fp, ck, fc->keys.server_key)) {
		bool ok = stored_key(ck, fc->keys.stored_key);

		OPENSSL_cleanse(ck, sizeof ck);
		return ok ? 0 : -EIO;
	}
	job = m->host->alloc(sizeof *job + secret->len);
	if (job == NULL)
		return -ENOMEM;
	memset(job, 0, sizeof *job);
	job->size = sizeof *job + secret->len;
	job->iterations = fc->keys.iterations;
	job->salt_len = fc->keys.salt_len;
	memcpy(job->salt, fc->keys.salt, fc->keys.salt_len);
	job->password_len = secret->len;
	if (secret->len > 0)
		memcpy(job->password, secret->data, secret->len);
	fc->job = job;
	return 0;
}

/*
 * Choose the keys of this exchange from the user's stored secret.  Every
 * path that cannot succeed becomes a mock exchange; only an internal
 * failure (no randomness, no memory) returns an error.
 */
static int choose_keys(struct scram_module *m, pgs_conn *conn, struct front_conn *fc)
{
	const pgs_host *host = m->host;
	const char *user = host->conn_param(conn, "user");
	pgs_secret secret = {.size = sizeof secret};
	char err[96], why[160];
	int rc;

	if (user == NULL || user[0] == '\0')
		return set_mock(m, fc, "", "no user name in the startup packet");
	rc = host->secret_lookup(conn, user, &secret);
	if (rc == -ENOENT)
		return set_mock(m, fc, user, "user does not exist");
	if (rc < 0)
		return set_mock(m, fc, user, "secret lookup failed");

	if (secret.kind != NULL && strcmp(secret.kind, "scram-sha-256") == 0) {
		rc = scram_verifier_parse(secret.data, secret.len, &fc->keys, err, sizeof err);
		if (rc == 0) {
			fc->kind = KIND_VERIFIER;
		} else {
			snprintf(why, sizeof why, "stored SCRAM secret is unusable: %s", err);
			rc = set_mock(m, fc, user, why);
		}
	} else if (secret.kind != NULL && strcmp(secret.kind, "plain") == 0) {
		if (secret.len > FRONT_MAX_PASSWORD)
			rc = set_mock(m, fc, user, "stored password is too long");
		else
			rc = set_plain(m, fc, user, &secret);
	} else if (secret.kind != NULL && strcmp(secret.kind, "md5") == 0) {
		rc = set_mock(m, fc, user, "stored secret is an MD5 hash: SCRAM cannot check it");
	} else {
		snprintf(why, sizeof why, "stored secret of kind %.32s: SCRAM cannot check it",
		         secret.kind != NULL ? secret.kind : "(none)");
		rc = set_mock(m, fc, user, why);
	}
	host->secret_release(&secret);
	return rc;
}

/* ------------------------------------------------------------ PBKDF2 job */

/* On the work pool: touches only the job. */
static void derive_work(void *arg)
{
	struct derive_job *job = arg;

	job->rc = scram_verifier_derive(job->password, job->password_len, job->salt, job->salt_len,
	                                job->iterations, job->client_key, job->server_key);
	OPENSSL_cleanse(job->password, job->password_len);
}

/* Back on the worker: keys into the exchange and the cache. */
static int job_done(struct scram_module *m, struct front_conn *fc)
{
	struct derive_job *job = fc->job;
	bool ok = job->rc == 0 && stored_key(job->client_key, fc->keys.stored_key);

	if (ok) {
		memcpy(fc->keys.server_key, job->server_key, SCRAM_KEY_LEN);
		if (fc->fp_ok)
			scram_keys_put(m, fc->fp, job->client_key, job->server_key);
	}
	drop_job(m, fc);
	return ok ? 0 : -EIO;
}

/* ------------------------------------------------------------ steps */

static enum pgs_step start(struct scram_module *m, pgs_conn *conn, struct front_conn *fc,
                           pgs_wbuf *out, const char **logdetail)
{
	const pgs_host *host = m->host;
	uint8_t cb[SCRAM_SERVER_MAX_CB_DATA], list[SCRAM_SERVER_MECH_LIST_MAX];
	size_t cb_len = sizeof cb, list_len = 0;
	bool have_cb;

	if (choose_keys(m, conn, fc) < 0) {
		snprintf(fc->detail, sizeof fc->detail, "scram: cannot set up the exchange");
		return give_up(m, fc, PGS_STEP_FAIL, logdetail);
	}
	/* -PLUS only when the transport gives tls-server-end-point data. */
	have_cb = host->conn_cb_hash != NULL && host->conn_cb_hash(conn, cb, &cb_len) == 0 &&
	          cb_len > 0 && cb_len <= sizeof cb;
	fc->ss = host->alloc(sizeof *fc->ss);
	if (fc->ss == NULL ||
	    scram_server_begin(fc->ss, have_cb ? cb : NULL, have_cb ? cb_len : 0) < 0 ||
	    scram_server_mechanisms(fc->ss, list, sizeof list, &list_len) < 0 ||
	    host->wbuf_auth(out, AUTH_SASL, list, list_len) < 0) {
		snprintf(fc->detail, sizeof fc->detail, "scram: cannot start the exchange");
		return give_up(m, fc, PGS_STEP_FAIL, logdetail);
	}
	fc->state = FRONT_WAIT_INITIAL;
	return PGS_STEP_NEED_INPUT;
}

static enum pgs_step send_server_first(struct scram_module *m, struct front_conn *fc, pgs_wbuf *out,
                                       const char **logdetail)
{
	char msg[SCRAM_SERVER_FIRST_MAX];
	size_t len = 0;

	if (scram_server_server_first(fc->ss, fc->keys.salt, fc->keys.salt_len, fc->keys.iterations,
	                              msg, sizeof msg, &len, fc->detail, sizeof fc->detail) < 0)
		return give_up(m, fc, PGS_STEP_FAIL, logdetail);
	if (m->host->wbuf_auth(out, AUTH_SASL_CONTINUE, msg, len) < 0) {
		snprintf(fc->detail, sizeof fc->detail, "scram: cannot queue SASLContinue");
		return give_up(m, fc, PGS_STEP_FAIL, logdetail);
	}
	fc->state = FRONT_WAIT_CLIENT_FINAL;
	return PGS_STEP_NEED_INPUT;
}

static enum pgs_step on_client_first(struct scram_module *m, pgs_conn *conn, struct front_conn *fc,
                                     const uint8_t *in, size_t in_len, pgs_wbuf *out,
                                     const char **logdetail)
{
	int rc = scram_server_client_first(fc->ss, in, in_len, fc->detail, sizeof fc->detail);

	if (rc == -EBADMSG)
		return give_up(m, fc, PGS_STEP_PROTO_ERROR, logdetail);
	if (rc < 0)
		return give_up(m, fc, PGS_STEP_FAIL, logdetail);
	if (fc->job == NULL)
		return send_server_first(m, fc, out, logdetail);
	/* PBKDF2 of a stored password: on the work pool, never here. */
	if (m->host->defer == NULL || m->host->defer(conn, derive_work, fc->job) < 0) {
		snprintf(fc->detail, sizeof fc->detail,
		         "scram: cannot hand key derivation to the work pool");
		return give_up(m, fc, PGS_STEP_FAIL, logdetail);
	}
	fc->state = FRONT_DERIVING;
	return PGS_STEP_PENDING;
}

static enum pgs_step on_initial(struct scram_module *m, pgs_conn *conn, struct front_conn *fc,
                                const uint8_t *in, size_t in_len, pgs_wbuf *out,
                                const char **logdetail)
{
	const uint8_t *data = NULL;
	size_t data_len = 0;
	int rc;

	rc = scram_server_initial(fc->ss, in, in_len, &data, &data_len, fc->detail,
	                          sizeof fc->detail);
	if (rc == -EBADMSG)
		return give_up(m, fc, PGS_STEP_PROTO_ERROR, logdetail);
	if (rc < 0)
		return give_up(m, fc, PGS_STEP_FAIL, logdetail);
	if (data != NULL)
		return on_client_first(m, conn, fc, data, data_len, out, logdetail);
	/* No initial response: ask for it with an empty challenge. */
	if (m->host->wbuf_auth(out, AUTH_SASL_CONTINUE, "", 0) < 0) {
		snprintf(fc->detail, sizeof fc->detail, "scram: cannot queue SASLContinue");
		return give_up(m, fc, PGS_STEP_FAIL, logdetail);
	}
	fc->state = FRONT_WAIT_CLIENT_FIRST;
	return PGS_STEP_NEED_INPUT;
}

static enum pgs_step on_client_final(struct scram_module *m, pgs_conn *conn, struct front_conn *fc,
                                     const uint8_t *in, size_t in_len, pgs_wbuf *out,
                                     const char **logdetail)
{
	const pgs_host *host = m->host;
	const char *user = host->conn_param(conn, "user");
	uint8_t ck[SCRAM_KEY_LEN];
	char final[SCRAM_SERVER_FINAL_LEN];
	size_t len = 0;
	int rc;

	rc = scram_server_client_final(fc->ss, in, in_len, fc->detail, sizeof fc->detail);
	if (rc == -EBADMSG)
		return give_up(m, fc, PGS_STEP_PROTO_ERROR, logdetail);
	if (rc < 0)
		return give_up(m, fc, PGS_STEP_FAIL, logdetail);
	/* A mock exchange checks its random keys too: same work, then fails. */
	rc = scram_server_verify(fc->ss, fc->keys.stored_key, fc->keys.server_key, ck, final,
	                         sizeof final, &len, fc->detail, sizeof fc->detail);
	if (fc->kind == KIND_MOCK) {
		OPENSSL_cleanse(ck, sizeof ck);
		snprintf(fc->detail, sizeof fc->detail, "%s", fc->mock_reason);
		return give_up(m, fc, PGS_STEP_FAIL, logdetail);
	}
	if (rc < 0)
		return give_up(m, fc, PGS_STEP_FAIL, logdetail);
	if (host->set_authn_id(conn, user) < 0) {
		OPENSSL_cleanse(ck, sizeof ck);
		snprintf(fc->detail, sizeof fc->detail, "scram: cannot record the identity");
		return give_up(m, fc, PGS_STEP_FAIL, logdetail);
	}
	if (fc->kind == KIND_VERIFIER)
		scram_passthrough_put(m, user, &fc->keys, ck);
	OPENSSL_cleanse(ck, sizeof ck);
	rc = host->wbuf_auth(out, AUTH_SASL_FINAL, final, len);
	drop_exchange(m, fc);
	if (rc < 0) {
		snprintf(fc->detail, sizeof fc->detail, "scram: cannot queue SASLFinal");
		return give_up(m, fc, PGS_STEP_FAIL, logdetail);
	}
	fc->state = FRONT_DONE;
	return PGS_STEP_DONE;
}

static enum pgs_step front_step(void *mod, pgs_conn *conn, void *state, const uint8_t *in,
                                size_t in_len, pgs_wbuf *out, const char **logdetail)
{
	struct scram_module *m = mod;
	struct front_conn *fc = state;
	enum front_state was = fc->state;

	if (in == NULL)
		in_len = 0;
	switch (fc->state) {
	case FRONT_START:
		return start(m, conn, fc, out, logdetail);
	case FRONT_DERIVING:
		if (in != NULL)
			break;
		if (job_done(m, fc) < 0) {
			snprintf(fc->detail, sizeof fc->detail,
			         "scram: cannot derive keys from the stored password");
			return give_up(m, fc, PGS_STEP_FAIL, logdetail);
		}
		return send_server_first(m, fc, out, logdetail);
	case FRONT_WAIT_INITIAL:
		if (in != NULL)
			return on_initial(m, conn, fc, in, in_len, out, logdetail);
		break;
	case FRONT_WAIT_CLIENT_FIRST:
		if (in != NULL)
			return on_client_first(m, conn, fc, in, in_len, out, logdetail);
		break;
	case FRONT_WAIT_CLIENT_FINAL:
		if (in != NULL)
			return on_client_final(m, conn, fc, in, in_len, out, logdetail);
		break;
	case FRONT_DONE:
	case FRONT_FAILED:
		break;
	}
	snprintf(fc->detail, sizeof fc->detail, "scram: step called %s input in state %s",
	         in != NULL ? "with" : "without", front_state_name(was));
	return give_up(m, fc, PGS_STEP_FAIL, logdetail);
}

static int front_conn_new(void *mod, pgs_conn *conn, void **state)
{
	struct scram_module *m = mod;
	struct front_conn *fc = m->host->conn_alloc(conn, sizeof *fc);

	if (fc == NULL)
		return -ENOMEM;
	fc->state = FRONT_START;
	*state = fc;
	return 0;
}

static void front_conn_free(void *mod, pgs_conn *conn, void *state)
{
	(void)conn;
	if (state != NULL)
		drop_exchange(mod, state);
	/* the state itself is connection memory, wiped and freed by the host */
}

const pgs_auth_ops scram_front_ops = {
        .size = sizeof(pgs_auth_ops),
        .flags = PGS_AUTH_INTERACTIVE,
        .conn_new = front_conn_new,
        .step = front_step,
        .conn_free = front_conn_free,
        .method = "password",
        .fail_sqlstate = "28P01",
};
