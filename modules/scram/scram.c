/*
 * scram.c — the "scram" module: module glue, the two key caches shared
 * with the frontend half (scram_front.c, SCRAM-SHA-256 server towards
 * clients) and the backend login to PostgreSQL with SCRAM-SHA-256
 * (AuthenticationSASL 10, SASLContinue 11, SASLFinal 12):
 *
 *   server: R 10 "SCRAM-SHA-256\0...\0"  -> us: p SASLInitialResponse
 *   server: R 11 server-first-message    -> us: p SASLResponse (client-final)
 *   server: R 12 server-final-message    -> we verify it: DONE
 *   server: R 0 AuthenticationOk         (handled by the host)
 *
 * The protocol and crypto live in scram_client.c.  The server-side secret
 * (host->secret_lookup on the server connection) is either
 *  - "plain": a password.  PostgreSQL sends the same salt and iteration
 *    count for a role on every login, so ClientKey/ServerKey are cached per
 *    (password, salt, iterations) and PBKDF2 runs once per role and
 *    password, not per server connection.  A cache miss still runs PBKDF2
 *    in the calling worker (a few milliseconds at PostgreSQL's default 4096
 *    iterations), which is why the iteration count a server may ask for is
 *    capped by max_iterations.  Once the host supports PGS_STEP_PENDING for
 *    backend steps, a miss should go to host->defer().  The password is
 *    SASLprep'ed like libpq does (raw bytes when SASLprep refuses it).
 *  - "scram-sha-256": a verifier (pass-through).  pgsluice cannot compute a
 *    proof from it alone; it uses the ClientKey a client proved during its
 *    own SCRAM login against the same verifier (see scram_int.h).  The
 *    server must send the verifier's salt and iteration count.
 *
 * Config (all optional):
 *   iterations = 4096;            frontend: PBKDF2 rounds of verifiers derived
 *                                 from stored passwords, and of mock exchanges
 *   key_cache_size = 32;          derived key pairs kept; 0 disables the cache
 *   max_iterations = 1000000;     refuse servers asking for more PBKDF2 rounds
 *   passthrough_cache_size = 128; users whose ClientKey is kept for
 *                                 pass-through; 0 disables pass-through
 * The keys behind mock salts (unknown users) and derived salts are random
 * per start: the mock salt of an unknown user changes across restarts.
 *
 * No channel binding on the backend login yet (the gs2 header is "n,,").
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
#include "scram_int.h"
#include "scram_verifier.h"

#define SCRAM_MECHANISM        "SCRAM-SHA-256"
#define SCRAM_MECHANISM_PLUS   "SCRAM-SHA-256-PLUS"
#define SCRAM_MAX_MECHANISMS   16
#define SCRAM_DEFAULT_CACHE    32
#define SCRAM_MAX_CACHE        4096
#define SCRAM_DEFAULT_PT_CACHE 128
#define SCRAM_MAX_PT_CACHE     65536
#define SCRAM_DEFAULT_MAX_ITER 1000000

#define AUTH_SASL          10
#define AUTH_SASL_CONTINUE 11
#define AUTH_SASL_FINAL    12

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

/* The server-side secret: a password, or a verifier for pass-through. */
struct backend_secret {
	pgs_secret secret; /* "plain": the password; released by put_secret() */
	bool is_verifier;
	struct scram_verifier v;
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
	if (m->pt != NULL)
		m->host->wipe_free(m->pt, m->pt_size * sizeof *m->pt);
	pthread_mutex_destroy(&m->cache_lock);
	EVP_MAC_free(m->hmac);
	m->host->wipe_free(m, sizeof *m);
}

static int scram_init(const pgs_host *host, const pgs_cfg *cfg, void **mod)
{
	int64_t cache_size = SCRAM_DEFAULT_CACHE, pt_size = SCRAM_DEFAULT_PT_CACHE;
	int64_t max_iter = SCRAM_DEFAULT_MAX_ITER, iter = SCRAM_DEFAULT_ITER;
	struct scram_module *m;

	if (cfg_int_in(host, cfg, "key_cache_size", 0, SCRAM_MAX_CACHE, &cache_size) < 0 ||
	    cfg_int_in(host, cfg, "max_iterations", 4096, SCRAM_MAX_ITERATIONS, &max_iter) < 0 ||
	    cfg_int_in(host, cfg, "iterations", 1, max_iter, &iter) < 0 ||
	    cfg_int_in(host, cfg, "passthrough_cache_size", 0, SCRAM_MAX_PT_CACHE, &pt_size) < 0)
		return -EINVAL;

	m = host->alloc(sizeof *m);
	if (m == NULL)
		return -ENOMEM;
	memset(m, 0, sizeof *m);
	m->host = host;
	m->max_iterations = (uint32_t)max_iter;
	m->iterations = (uint32_t)iter;
	if (pthread_mutex_init(&m->cache_lock, NULL) != 0) {
		host->free(m);
		return -ENOMEM;
	}
	m->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (cache_size > 0)
		m->cache = host->alloc((size_t)cache_size * sizeof *m->cache);
	if (pt_size > 0)
		m->pt = host->alloc((size_t)pt_size * sizeof *m->pt);
	if (m->hmac == NULL || (cache_size > 0 && m->cache == NULL) ||
	    (pt_size > 0 && m->pt == NULL) ||
	    RAND_bytes(m->fingerprint_key, sizeof m->fingerprint_key) != 1 ||
	    RAND_bytes(m->plain_salt_key, sizeof m->plain_salt_key) != 1 ||
	    RAND_bytes(m->mock_key, sizeof m->mock_key) != 1) {
		host->log(PGS_LOG_ERROR, NULL, "scram: cannot set up keys and caches");
		m->cache_size = m->cache != NULL ? (size_t)cache_size : 0;
		m->pt_size = m->pt != NULL ? (size_t)pt_size : 0;
		scram_fini(m);
		return -ENOMEM;
	}
	if (m->cache != NULL)
		memset(m->cache, 0, (size_t)cache_size * sizeof *m->cache);
	if (m->pt != NULL)
		memset(m->pt, 0, (size_t)pt_size * sizeof *m->pt);
	m->cache_size = (size_t)cache_size;
	m->pt_size = (size_t)pt_size;
	*mod = m;
	return 0;
}

/* ------------------------------------------------------------ key cache */

bool scram_keys_fingerprint(const struct scram_module *m, const uint8_t *pw, size_t pw_len,
                            const uint8_t *salt, size_t salt_len, uint32_t iterations,
                            uint8_t fp[SCRAM_KEY_LEN])
{
	OSSL_PARAM params[2];
	uint8_t head[8];
	EVP_MAC_CTX *ctx;
	size_t out_len = 0;
	bool ok;

	if (m->cache_size == 0)
		return false;
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
	     EVP_MAC_update(ctx, pw, pw_len) && EVP_MAC_final(ctx, fp, &out_len, SCRAM_KEY_LEN) &&
	     out_len == SCRAM_KEY_LEN;
	EVP_MAC_CTX_free(ctx);
	return ok;
}

bool scram_keys_get(struct scram_module *m, const uint8_t fp[SCRAM_KEY_LEN],
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

void scram_keys_put(struct scram_module *m, const uint8_t fp[SCRAM_KEY_LEN],
                    const uint8_t client_key[SCRAM_KEY_LEN],
                    const uint8_t server_key[SCRAM_KEY_LEN])
{
	struct scram_cached_keys *e;

	if (m->cache_size == 0)
		return;
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

/* ClientKey and ServerKey for this exchange: from the cache or PBKDF2
 * (of the SASLprep'ed password, as libpq does). */
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
	cached = scram_keys_fingerprint(m, pw, pw_len, salt, salt_len, iterations, fp);
	if (cached && scram_keys_get(m, fp, client_key, server_key)) {
		OPENSSL_cleanse(fp, sizeof fp);
		return 0;
	}
	rc = scram_verifier_derive(pw, pw_len, salt, salt_len, iterations, client_key, server_key);
	if (rc == 0 && cached)
		scram_keys_put(m, fp, client_key, server_key);
	OPENSSL_cleanse(fp, sizeof fp);
	return rc;
}

/* ------------------------------------------------------------ pass-through */

void scram_passthrough_put(struct scram_module *m, const char *user,
                           const struct scram_verifier *keys,
                           const uint8_t client_key[SCRAM_KEY_LEN])
{
	struct scram_passthrough *e = NULL;
	size_t user_len = strlen(user);

	if (m->pt_size == 0 || user_len > SCRAM_PT_MAX_USER)
		return;
	pthread_mutex_lock(&m->cache_lock);
	for (size_t i = 0; i < m->pt_size; i++) {
		struct scram_passthrough *c = &m->pt[i];

		if (c->used && strcmp(c->user, user) == 0) {
			e = c; /* the same user again: replace */
			break;
		}
		if (e == NULL || (e->used && (!c->used || c->last_use < e->last_use)))
			e = c;
	}
	OPENSSL_cleanse(e, sizeof *e);
	e->used = true;
	e->last_use = ++m->pt_clock;
	memcpy(e->user, user, user_len + 1);
	e->keys = *keys;
	memcpy(e->client_key, client_key, SCRAM_KEY_LEN);
	pthread_mutex_unlock(&m->cache_lock);
}

bool scram_passthrough_get(struct scram_module *m, const char *user, const struct scram_verifier *v,
                           uint8_t client_key[SCRAM_KEY_LEN])
{
	bool found = false;

	pthread_mutex_lock(&m->cache_lock);
	for (size_t i = 0; i < m->pt_size && !found; i++) {
		struct scram_passthrough *e = &m->pt[i];

		if (!e->used || strcmp(e->user, user) != 0)
			continue;
		if (e->keys.iterations == v->iterations && e->keys.salt_len == v->salt_len &&
		    memcmp(e->keys.salt, v->salt, v->salt_len) == 0 &&
		    CRYPTO_memcmp(e->keys.stored_key, v->stored_key, SCRAM_KEY_LEN) == 0) {
			memcpy(client_key, e->client_key, SCRAM_KEY_LEN);
			e->last_use = ++m->pt_clock;
			found = true;
		}
	}
	pthread_mutex_unlock(&m->cache_lock);
	return found;
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
 * Look up the server-side secret for the connection's user: a "plain"
 * password (kept in bs->secret until put_secret()) or a "scram-sha-256"
 * verifier (parsed into bs->v, for pass-through).  0, or -1 with
 * st->detail set.
 */
static int get_secret(const struct scram_module *m, pgs_conn *conn, struct scram_conn *st,
                      struct backend_secret *bs)
{
	const pgs_host *host = m->host;
	const char *user = host->conn_param(conn, "user");
	char err[128];

	memset(bs, 0, sizeof *bs);
	if (user == NULL || user[0] == '\0') {
		snprintf(st->detail, sizeof st->detail, "scram: server connection has no user");
		return -1;
	}
	bs->secret.size = sizeof bs->secret;
	if (host->secret_lookup(conn, user, &bs->secret) < 0) {
		snprintf(st->detail, sizeof st->detail,
		         "no password configured for backend login of user \"%s\"", user);
		return -1;
	}
	if (bs->secret.kind != NULL && strcmp(bs->secret.kind, "plain") == 0)
		return 0;
	if (bs->secret.kind != NULL && strcmp(bs->secret.kind, "scram-sha-256") == 0) {
		int rc = scram_verifier_parse(bs->secret.data, bs->secret.len, &bs->v, err,
		                              sizeof err);

		host->secret_release(&bs->secret);
		if (rc < 0) {
			snprintf(st->detail, sizeof st->detail,
			         "stored SCRAM verifier for backend login of user \"%s\" is "
			         "unusable: %s",
			         user, err);
			return -1;
		}
		bs->is_verifier = true;
		return 0;
	}
	snprintf(st->detail, sizeof st->detail,
	         "stored secret of kind %s cannot be used for SCRAM "
	         "client login of user \"%s\" (a password or a SCRAM verifier is needed)",
	         bs->secret.kind ? bs->secret.kind : "(none)", user);
	host->secret_release(&bs->secret);
	return -1;
}

static void put_secret(const struct scram_module *m, struct backend_secret *bs)
{
	if (!bs->is_verifier)
		m->host->secret_release(&bs->secret);
	scram_verifier_clear(&bs->v);
}

/*
 * Pass-through: the ClientKey a client proved for this user and verifier.
 * 0, or -1 with st->detail set.
 */
static int passthrough_key(struct scram_module *m, pgs_conn *conn, struct scram_conn *st,
                           const struct scram_verifier *v, uint8_t client_key[SCRAM_KEY_LEN])
{
	const char *user = m->host->conn_param(conn, "user");

	if (scram_passthrough_get(m, user, v, client_key))
		return 0;
	snprintf(st->detail, sizeof st->detail,
	         "no SCRAM key of user \"%s\" to log into the server: the stored secret is a "
	         "SCRAM verifier, so a client must log in with SCRAM first (pass-through)",
	         user);
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
	uint8_t client_key[SCRAM_KEY_LEN];
	bool have_scram = false, have_plus = false, ended = false;
	size_t pos = 0, first_len = 0, mech_len = sizeof SCRAM_MECHANISM;
	struct backend_secret bs;
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

	/* Fail early, before starting the exchange, if we have no password
	 * (or no pass-through key). */
	if (get_secret(m, conn, st, &bs) < 0)
		return fail(m, st, logdetail);
	rc = bs.is_verifier ? passthrough_key(m, conn, st, &bs.v, client_key) : 0;
	OPENSSL_cleanse(client_key, sizeof client_key);
	put_secret(m, &bs);
	if (rc < 0)
		return fail(m, st, logdetail);

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

/* The keys for a verifier (pass-through): the server must use its salt and
 * iteration count; ServerKey is the verifier's. */
static int verifier_keys(struct scram_module *m, pgs_conn *conn, struct scram_conn *st,
                         const struct scram_verifier *v, uint8_t client_key[SCRAM_KEY_LEN],
                         uint8_t server_key[SCRAM_KEY_LEN])
{
	size_t salt_len;
	const uint8_t *salt = scram_client_salt(st->client, &salt_len);

	if (scram_client_iterations(st->client) != v->iterations || salt_len != v->salt_len ||
	    memcmp(salt, v->salt, salt_len) != 0) {
		snprintf(st->detail, sizeof st->detail,
		         "the server's SCRAM salt or iteration count (%u) differ from the stored "
		         "verifier's (%u): they must be the same for pass-through",
		         scram_client_iterations(st->client), v->iterations);
		return -1;
	}
	if (passthrough_key(m, conn, st, v, client_key) < 0)
		return -1;
	memcpy(server_key, v->server_key, SCRAM_KEY_LEN);
	return 0;
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
	struct backend_secret bs;
	int rc;

	if (scram_client_server_first(st->client, in, in_len, err, sizeof err) < 0) {
		snprintf(st->detail, sizeof st->detail, "%s", err);
		return fail(m, st, logdetail);
	}
	if (get_secret(m, conn, st, &bs) < 0)
		return fail(m, st, logdetail);
	if (bs.is_verifier) {
		rc = verifier_keys(m, conn, st, &bs.v, client_key, server_key);
	} else if (scram_client_iterations(st->client) > m->max_iterations) {
		snprintf(st->detail, sizeof st->detail,
		         "server asks for %u SCRAM iterations, more than "
		         "max_iterations (%u)",
		         scram_client_iterations(st->client), m->max_iterations);
		rc = -1;
	} else {
		rc = get_keys(m, st->client, bs.secret.data, bs.secret.len, client_key, server_key);
		if (rc < 0)
			snprintf(st->detail, sizeof st->detail,
			         "scram: cannot derive keys from the password");
	}
	put_secret(m, &bs);
	if (rc < 0) {
		OPENSSL_cleanse(client_key, sizeof client_key);
		OPENSSL_cleanse(server_key, sizeof server_key);
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
        PGS_MODULE_INIT("scram", "0.1.0"), .init = scram_init,        .fini = scram_fini,
        .auth = &scram_front_ops,          .backend = &scram_backend,
};

PGS_MODULE_EXPORT(scram_desc)
