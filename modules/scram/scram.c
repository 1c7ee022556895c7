/*
 * scram.c — the "scram" module: backend login to PostgreSQL with
 * SCRAM-SHA-256 (AuthenticationSASL 10, SASLContinue 11, SASLFinal 12).
 *
 *   server: R 10 "SCRAM-SHA-256\0...\0"  -> us: p SASLInitialResponse
 *   server: R 11 server-first-message    -> us: p SASLResponse (client-final)
 *   server: R 12 server-final-message    -> we verify it: DONE
 *   server: R 0 AuthenticationOk         (handled by the host)
 *
 * The protocol and crypto live in scram_client.c; this file holds the
 * per-connection state, the secret lookup and a small cache of derived
 * keys.  PostgreSQL sends the same salt and iteration count for a role on
 * every login, so ClientKey/ServerKey are cached per (password, salt,
 * iterations) and PBKDF2 runs once per role and password, not per server
 * connection.  A cache miss still runs PBKDF2 in the calling worker (a few
 * milliseconds at PostgreSQL's default 4096 iterations, ~0.75 s at a
 * million on a 2-core test machine), which is why the iteration count a
 * server may ask for is capped by max_iterations.  Once the host supports
 * PGS_STEP_PENDING for backend steps, a miss should go to host->defer().
 *
 * Config (all optional):
 *   key_cache_size = 32;       derived key pairs kept; 0 disables the cache
 *   max_iterations = 1000000;  refuse servers asking for more PBKDF2 rounds
 *
 * No channel binding (SCRAM-SHA-256-PLUS) yet, and no SASLprep: passwords
 * are used as raw bytes, as libpq does for strings SASLprep rejects.
 * Pass-through (ClientKey recovered from the client's proof) comes later and
 * will feed scram_client_final_keys().
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <pgsluice/module.h>

#include "scram_client.h"

#define SCRAM_MECHANISM        "SCRAM-SHA-256"
#define SCRAM_MECHANISM_PLUS   "SCRAM-SHA-256-PLUS"
#define SCRAM_DETAIL_LEN       256
#define SCRAM_MAX_MECHANISMS   16
#define SCRAM_DEFAULT_CACHE    32
#define SCRAM_MAX_CACHE        4096
#define SCRAM_DEFAULT_MAX_ITER 1000000

#define AUTH_SASL          10
#define AUTH_SASL_CONTINUE 11
#define AUTH_SASL_FINAL    12

/* One cached key pair; the fingerprint is a keyed HMAC of
 * (iterations, salt, password), so the cache never holds the password. */
struct scram_cached_keys {
	bool used;
	uint8_t fingerprint[SCRAM_KEY_LEN];
	uint8_t client_key[SCRAM_KEY_LEN];
	uint8_t server_key[SCRAM_KEY_LEN];
};

struct scram_module {
	const pgs_host *host;
	uint32_t max_iterations;
	EVP_MAC *hmac; /* for fingerprints */
	uint8_t fingerprint_key[SCRAM_KEY_LEN];
	pthread_mutex_t cache_lock; /* guards the fields below */
	struct scram_cached_keys *cache;
	size_t cache_size;
	size_t cache_next; /* round-robin replacement */
};

/* Per server connection: what we wait for from the server. */
enum scram_conn_state {
	SCRAM_WAIT_SASL = 0,     /* AuthenticationSASL (10) */
	SCRAM_WAIT_SERVER_FIRST, /* SASLContinue (11) */
	SCRAM_WAIT_SERVER_FINAL, /* SASLFinal (12) */
	SCRAM_DONE,
	SCRAM_FAILED,
};

struct scram_conn {
	enum scram_conn_state state;
	scram_client *client;          /* host->alloc, only during the login */
	char detail[SCRAM_DETAIL_LEN]; /* log detail; lives with the conn */
};

static const char *conn_state_name(enum scram_conn_state state)
{
	switch (state) {
	case SCRAM_WAIT_SASL:
		return "SCRAM_WAIT_SASL";
	case SCRAM_WAIT_SERVER_FIRST:
		return "SCRAM_WAIT_SERVER_FIRST";
	case SCRAM_WAIT_SERVER_FINAL:
		return "SCRAM_WAIT_SERVER_FINAL";
	case SCRAM_DONE:
		return "SCRAM_DONE";
	case SCRAM_FAILED:
		return "SCRAM_FAILED";
	}
	return "?";
}

/* ------------------------------------------------------------ module */

static int cfg_int_in(const pgs_host *host, const pgs_cfg *cfg, const char *key, int64_t lo,
                      int64_t hi, int64_t *val)
{
	int64_t v;
	int rc;

	if (cfg == NULL || host->cfg_int == NULL)
		return 0;
	rc = host->cfg_int(cfg, key, &v);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0 || v < lo || v > hi) {
		host->log(PGS_LOG_ERROR, NULL, "%s: scram: %s must be an integer in %lld..%lld",
		          host->cfg_where ? host->cfg_where(cfg, key) : "?", key, (long long)lo,
		          (long long)hi);
		return -EINVAL;
	}
	*val = v;
	return 0;
}

static void scram_fini(void *mod)
{
	struct scram_module *m = mod;

	if (m == NULL)
		return;
	if (m->cache != NULL)
		m->host->wipe_free(m->cache, m->cache_size * sizeof *m->cache);
	pthread_mutex_destroy(&m->cache_lock);
	EVP_MAC_free(m->hmac);
	m->host->wipe_free(m, sizeof *m);
}

static int scram_init(const pgs_host *host, const pgs_cfg *cfg, void **mod)
{
	int64_t cache_size = SCRAM_DEFAULT_CACHE;
	int64_t max_iter = SCRAM_DEFAULT_MAX_ITER;
	struct scram_module *m;

	if (cfg_int_in(host, cfg, "key_cache_size", 0, SCRAM_MAX_CACHE, &cache_size) < 0 ||
	    cfg_int_in(host, cfg, "max_iterations", 4096, SCRAM_MAX_ITERATIONS, &max_iter) < 0)
		return -EINVAL;

	m = host->alloc(sizeof *m);
	if (m == NULL)
		return -ENOMEM;
	memset(m, 0, sizeof *m);
	m->host = host;
	m->max_iterations = (uint32_t)max_iter;
	if (pthread_mutex_init(&m->cache_lock, NULL) != 0) {
		host->free(m);
		return -ENOMEM;
	}
	if (cache_size > 0) {
		m->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		m->cache = host->alloc((size_t)cache_size * sizeof *m->cache);
		if (m->hmac == NULL || m->cache == NULL ||
		    RAND_bytes(m->fingerprint_key, sizeof m->fingerprint_key) != 1) {
			host->log(PGS_LOG_ERROR, NULL, "scram: cannot set up the key cache");
			if (m->cache != NULL)
				host->free(m->cache);
			m->cache = NULL;
			scram_fini(m);
			return -ENOMEM;
		}
		memset(m->cache, 0, (size_t)cache_size * sizeof *m->cache);
		m->cache_size = (size_t)cache_size;
	}
	*mod = m;
	return 0;
}

/* ------------------------------------------------------------ key cache */

/* fingerprint = HMAC(module key, be32(iterations) be32(salt_len) salt pw) */
static bool fingerprint(const struct scram_module *m, const uint8_t *pw, size_t pw_len,
                        const uint8_t *salt, size_t salt_len, uint32_t iterations,
                        uint8_t out[SCRAM_KEY_LEN])
{
	OSSL_PARAM params[2];
	uint8_t head[8];
	EVP_MAC_CTX *ctx;
	size_t out_len = 0;
	bool ok;

	head[0] = (uint8_t)(iterations >> 24);
	head[1] = (uint8_t)(iterations >> 16);
	head[2] = (uint8_t)(iterations >> 8);
	head[3] = (uint8_t)iterations;
	head[4] = (uint8_t)(salt_len >> 24);
	head[5] = (uint8_t)(salt_len >> 16);
	head[6] = (uint8_t)(salt_len >> 8);
	head[7] = (uint8_t)salt_len;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	ctx = EVP_MAC_CTX_new(m->hmac);
	if (ctx == NULL)
		return false;
	ok = EVP_MAC_init(ctx, m->fingerprint_key, sizeof m->fingerprint_key, params) &&
	     EVP_MAC_update(ctx, head, sizeof head) && EVP_MAC_update(ctx, salt, salt_len) &&
	     EVP_MAC_update(ctx, pw, pw_len) && EVP_MAC_final(ctx, out, &out_len, SCRAM_KEY_LEN) &&
	     out_len == SCRAM_KEY_LEN;
	EVP_MAC_CTX_free(ctx);
	return ok;
}

static bool cache_get(struct scram_module *m, const uint8_t fp[SCRAM_KEY_LEN],
                      uint8_t client_key[SCRAM_KEY_LEN], uint8_t server_key[SCRAM_KEY_LEN])
{
	bool found = false;

	pthread_mutex_lock(&m->cache_lock);
	for (size_t i = 0; i < m->cache_size && !found; i++) {
		struct scram_cached_keys *e = &m->cache[i];

		if (e->used && CRYPTO_memcmp(e->fingerprint, fp, SCRAM_KEY_LEN) == 0) {
			memcpy(client_key, e->client_key, SCRAM_KEY_LEN);
			memcpy(server_key, e->server_key, SCRAM_KEY_LEN);
			found = true;
		}
	}
	pthread_mutex_unlock(&m->cache_lock);
	return found;
}

static void cache_put(struct scram_module *m, const uint8_t fp[SCRAM_KEY_LEN],
                      const uint8_t client_key[SCRAM_KEY_LEN],
                      const uint8_t server_key[SCRAM_KEY_LEN])
{
	struct scram_cached_keys *e;

	pthread_mutex_lock(&m->cache_lock);
	/* Another worker may have derived the same keys meanwhile. */
	for (size_t i = 0; i < m->cache_size; i++)
		if (m->cache[i].used && memcmp(m->cache[i].fingerprint, fp, SCRAM_KEY_LEN) == 0)
			goto out;
	e = &m->cache[m->cache_next];
	m->cache_next = (m->cache_next + 1) % m->cache_size;
	OPENSSL_cleanse(e, sizeof *e);
	e->used = true;
	memcpy(e->fingerprint, fp, SCRAM_KEY_LEN);
	memcpy(e->client_key, client_key, SCRAM_KEY_LEN);
	memcpy(e->server_key, server_key, SCRAM_KEY_LEN);
out:
	pthread_mutex_unlock(&m->cache_lock);
}

/* ClientKey and ServerKey for this exchange: from the cache or PBKDF2. */
static int get_keys(struct scram_module *m, const scram_client *sc, const uint8_t *pw,
                    size_t pw_len, uint8_t client_key[SCRAM_KEY_LEN],
                    uint8_t server_key[SCRAM_KEY_LEN])
{
	uint8_t fp[SCRAM_KEY_LEN];
	const uint8_t *salt;
	size_t salt_len;
	uint32_t iterations = scram_client_iterations(sc);
	bool cached;
	int rc;

	salt = scram_client_salt(sc, &salt_len);
	cached = m->cache_size > 0 && fingerprint(m, pw, pw_len, salt, salt_len, iterations, fp);
	if (cached && cache_get(m, fp, client_key, server_key)) {
		OPENSSL_cleanse(fp, sizeof fp);
		return 0;
	}
	rc = scram_derive_keys(pw, pw_len, salt, salt_len, iterations, client_key, server_key);
	if (rc == 0 && cached)
		cache_put(m, fp, client_key, server_key);
	OPENSSL_cleanse(fp, sizeof fp);
	return rc;
}

/* ------------------------------------------------------------ steps */

static enum pgs_step fail(const struct scram_module *m, struct scram_conn *st,
                          const char **logdetail)
{
	if (st->client != NULL) {
		scram_client_clear(st->client);
		m->host->wipe_free(st->client, sizeof *st->client);
		st->client = NULL;
	}
	st->state = SCRAM_FAILED;
	*logdetail = st->detail;
	return PGS_STEP_FAIL;
}

/*
 * Look up the pool's password for the connection's user.  0 with *secret
 * filled (a "plain" secret; release it), or -1 with st->detail set.
 */
static int get_password(const struct scram_module *m, pgs_conn *conn, struct scram_conn *st,
                        pgs_secret *secret)
{
	const pgs_host *host = m->host;
	const char *user = host->conn_param(conn, "user");

	if (user == NULL || user[0] == '\0') {
		snprintf(st->detail, sizeof st->detail, "scram: server connection has no user");
		return -1;
	}
	memset(secret, 0, sizeof *secret);
	secret->size = sizeof *secret;
	if (host->secret_lookup(conn, user, secret) < 0) {
		snprintf(st->detail, sizeof st->detail,
		         "no password configured for backend login of user "
		         "\"%s\"",
		         user);
		return -1;
	}
	if (secret->kind != NULL && strcmp(secret->kind, "plain") == 0)
		return 0;
	if (secret->kind != NULL && strcmp(secret->kind, "scram-sha-256") == 0)
		snprintf(st->detail, sizeof st->detail,
		         "stored secret of kind scram-sha-256 cannot be used "
		         "for SCRAM client login (pass-through comes later)");
	else
		snprintf(st->detail, sizeof st->detail,
		         "stored secret of kind %s cannot be used for SCRAM "
		         "client login of user \"%s\" (a password is needed)",
		         secret->kind ? secret->kind : "(none)", user);
	host->secret_release(secret);
	return -1;
}

/*
 * AuthenticationSASL: pick SCRAM-SHA-256 from the mechanism list (a series
 * of NUL-terminated names ended by an empty one) and send
 * SASLInitialResponse: mechanism "\0" int32 length, client-first-message.
 */
static enum pgs_step on_sasl(struct scram_module *m, pgs_conn *conn, struct scram_conn *st,
                             const uint8_t *in, size_t in_len, pgs_wbuf *out,
                             const char **logdetail)
{
	const pgs_host *host = m->host;
	char msg[sizeof SCRAM_MECHANISM + 4 + SCRAM_CLIENT_MSG_MAX];
	char err[SCRAM_DETAIL_LEN];
	bool have_scram = false, have_plus = false, ended = false;
	size_t pos = 0, first_len = 0, mech_len = sizeof SCRAM_MECHANISM;
	pgs_secret secret;
	int rc;

	for (int count = 0; pos < in_len && count <= SCRAM_MAX_MECHANISMS; count++) {
		const char *name = (const char *)in + pos;
		const char *nul = memchr(name, '\0', in_len - pos);

		if (nul == NULL)
			break;
		pos += (size_t)(nul - name) + 1;
		if (nul == name) {
			ended = true;
			break;
		}
		if (strcmp(name, SCRAM_MECHANISM) == 0)
			have_scram = true;
		else if (strcmp(name, SCRAM_MECHANISM_PLUS) == 0)
			have_plus = true;
	}
	if (!ended) {
		snprintf(st->detail, sizeof st->detail,
		         "malformed AuthenticationSASL mechanism list from "
		         "the server");
		return fail(m, st, logdetail);
	}
	if (!have_scram) {
		snprintf(st->detail, sizeof st->detail, "%s",
		         have_plus ? "server offers only SCRAM-SHA-256-PLUS (channel "
		                     "binding), which pgsluice does not support for "
		                     "backend login yet"
		                   : "server offers no SASL mechanism pgsluice supports "
		                     "(SCRAM-SHA-256)");
		return fail(m, st, logdetail);
	}

	/* Fail early, before starting the exchange, if we have no password. */
	if (get_password(m, conn, st, &secret) < 0)
		return fail(m, st, logdetail);
	host->secret_release(&secret);

	st->client = host->alloc(sizeof *st->client);
	if (st->client == NULL) {
		snprintf(st->detail, sizeof st->detail, "scram: out of memory");
		return fail(m, st, logdetail);
	}
	/* PostgreSQL ignores the SCRAM user name and uses the startup user;
	 * libpq sends it empty ("n=,"), and so do we. */
	memcpy(msg, SCRAM_MECHANISM, mech_len);
	rc = scram_client_start(st->client, "", msg + mech_len + 4, sizeof msg - mech_len - 4,
	                        &first_len, err, sizeof err);
	if (rc < 0) {
		snprintf(st->detail, sizeof st->detail, "%s", err);
		return fail(m, st, logdetail);
	}
	msg[mech_len] = (char)(first_len >> 24);
	msg[mech_len + 1] = (char)(first_len >> 16);
	msg[mech_len + 2] = (char)(first_len >> 8);
	msg[mech_len + 3] = (char)first_len;
	if (host->wbuf_msg(out, 'p', msg, mech_len + 4 + first_len) < 0) {
		snprintf(st->detail, sizeof st->detail, "scram: cannot queue SASLInitialResponse");
		return fail(m, st, logdetail);
	}
	st->state = SCRAM_WAIT_SERVER_FIRST;
	return PGS_STEP_NEED_INPUT;
}

/* SASLContinue: check server-first, answer with client-final. */
static enum pgs_step on_server_first(struct scram_module *m, pgs_conn *conn, struct scram_conn *st,
                                     const uint8_t *in, size_t in_len, pgs_wbuf *out,
                                     const char **logdetail)
{
	const pgs_host *host = m->host;
	uint8_t client_key[SCRAM_KEY_LEN], server_key[SCRAM_KEY_LEN];
	char msg[SCRAM_CLIENT_MSG_MAX];
	char err[SCRAM_DETAIL_LEN];
	size_t msg_len = 0;
	pgs_secret secret;
	int rc;

	if (scram_client_server_first(st->client, in, in_len, err, sizeof err) < 0) {
		snprintf(st->detail, sizeof st->detail, "%s", err);
		return fail(m, st, logdetail);
	}
	if (scram_client_iterations(st->client) > m->max_iterations) {
		snprintf(st->detail, sizeof st->detail,
		         "server asks for %u SCRAM iterations, more than "
		         "max_iterations (%u)",
		         scram_client_iterations(st->client), m->max_iterations);
		return fail(m, st, logdetail);
	}
	if (get_password(m, conn, st, &secret) < 0)
		return fail(m, st, logdetail);
	rc = get_keys(m, st->client, secret.data, secret.len, client_key, server_key);
	host->secret_release(&secret);
	if (rc < 0) {
		snprintf(st->detail, sizeof st->detail,
		         "scram: cannot derive keys from the password");
		return fail(m, st, logdetail);
	}
	rc = scram_client_final_keys(st->client, client_key, server_key, msg, sizeof msg, &msg_len,
	                             err, sizeof err);
	OPENSSL_cleanse(client_key, sizeof client_key);
	OPENSSL_cleanse(server_key, sizeof server_key);
	if (rc < 0) {
		snprintf(st->detail, sizeof st->detail, "%s", err);
		return fail(m, st, logdetail);
	}
	rc = host->wbuf_msg(out, 'p', msg, msg_len);
	OPENSSL_cleanse(msg, sizeof msg);
	if (rc < 0) {
		snprintf(st->detail, sizeof st->detail, "scram: cannot queue SASLResponse");
		return fail(m, st, logdetail);
	}
	st->state = SCRAM_WAIT_SERVER_FINAL;
	return PGS_STEP_NEED_INPUT;
}

/* SASLFinal: the server proves it knew the verifier. */
static enum pgs_step on_server_final(struct scram_module *m, struct scram_conn *st,
                                     const uint8_t *in, size_t in_len, const char **logdetail)
{
	char err[SCRAM_DETAIL_LEN];

	if (scram_client_server_final(st->client, in, in_len, err, sizeof err) < 0) {
		snprintf(st->detail, sizeof st->detail, "%s", err);
		return fail(m, st, logdetail);
	}
	scram_client_clear(st->client);
	m->host->wipe_free(st->client, sizeof *st->client);
	st->client = NULL;
	st->state = SCRAM_DONE;
	return PGS_STEP_DONE;
}

static int scram_conn_new(void *mod, pgs_conn *conn, void **state)
{
	struct scram_module *m = mod;
	struct scram_conn *st;

	st = m->host->conn_alloc(conn, sizeof *st);
	if (st == NULL)
		return -ENOMEM;
	st->state = SCRAM_WAIT_SASL;
	*state = st;
	return 0;
}

static void scram_conn_free(void *mod, pgs_conn *conn, void *state)
{
	struct scram_module *m = mod;
	struct scram_conn *st = state;

	(void)conn;
	if (st == NULL)
		return;
	if (st->client != NULL) {
		scram_client_clear(st->client);
		m->host->wipe_free(st->client, sizeof *st->client);
		st->client = NULL;
	}
	/* st itself is connection memory: the host frees it. */
}

static enum pgs_step scram_step(void *mod, pgs_conn *conn, void *state, uint32_t auth_code,
                                const uint8_t *in, size_t in_len, pgs_wbuf *out,
                                const char **logdetail)
{
	struct scram_module *m = mod;
	struct scram_conn *st = state;

	if (in == NULL)
		in_len = 0;
	if (auth_code == AUTH_SASL && st->state == SCRAM_WAIT_SASL)
		return on_sasl(m, conn, st, in, in_len, out, logdetail);
	if (auth_code == AUTH_SASL_CONTINUE && st->state == SCRAM_WAIT_SERVER_FIRST)
		return on_server_first(m, conn, st, in, in_len, out, logdetail);
	if (auth_code == AUTH_SASL_FINAL && st->state == SCRAM_WAIT_SERVER_FINAL)
		return on_server_final(m, st, in, in_len, logdetail);
	snprintf(st->detail, sizeof st->detail,
	         "unexpected authentication request %u from the server in "
	         "state %s",
	         auth_code, conn_state_name(st->state));
	return fail(m, st, logdetail);
}

static const pgs_backend_ops scram_backend = {
        .size = sizeof(pgs_backend_ops),
        .auth_codes = PGS_AUTH_CODE_BIT(AUTH_SASL) | PGS_AUTH_CODE_BIT(AUTH_SASL_CONTINUE) |
                      PGS_AUTH_CODE_BIT(AUTH_SASL_FINAL),
        .conn_new = scram_conn_new,
        .step = scram_step,
        .conn_free = scram_conn_free,
};

static const pgs_module scram_desc = {
        PGS_MODULE_INIT("scram", "0.1.0"),
        .init = scram_init,
        .fini = scram_fini,
        .backend = &scram_backend,
};

PGS_MODULE_EXPORT(scram_desc)
