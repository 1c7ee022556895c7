/*
 * scram_int.h — what the two halves of the scram module share: the module
 * instance (config, per-instance keys) and its two caches.
 *
 *  - The derived-key cache holds {ClientKey, ServerKey} per (password,
 *    salt, iterations), indexed by a keyed fingerprint so it never holds
 *    the password.  The backend login (scram.c) fills it for pool
 *    passwords, the frontend (scram_front.c) for verifiers derived from
 *    stored cleartext passwords: PBKDF2 runs once per password and salt.
 *  - The pass-through cache holds, per user name, the ClientKey a client
 *    proved it knows during a frontend login against a stored SCRAM
 *    verifier, with that verifier's StoredKey, ServerKey, salt and
 *    iteration count.  The backend login uses it to log into PostgreSQL
 *    with the same verifier although pgsluice never knew the password.
 *
 * Both caches are bounded, guarded by one mutex (workers share the
 * instance) and wiped when an entry is replaced and at fini().
 */
#ifndef PGS_SCRAM_INT_H
#define PGS_SCRAM_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include <pgsluice/module.h>

#include "scram_client.h"
#include "scram_verifier.h"

#define SCRAM_DETAIL_LEN   256 /* log details kept with a connection */
#define SCRAM_PT_MAX_USER  128 /* longest user name kept for pass-through */
#define SCRAM_INSTANCE_KEY 32  /* random per-instance keys */
#define SCRAM_DEFAULT_ITER 4096

struct scram_cached_keys {
	bool used;
	uint8_t fingerprint[SCRAM_KEY_LEN];
	uint8_t client_key[SCRAM_KEY_LEN];
	uint8_t server_key[SCRAM_KEY_LEN];
};

struct scram_passthrough {
	bool used;
	uint64_t last_use; /* for least-recently-used replacement */
	char user[SCRAM_PT_MAX_USER + 1];
	struct scram_verifier keys; /* salt, iterations, StoredKey, ServerKey */
	uint8_t client_key[SCRAM_KEY_LEN];
};

struct scram_module {
	const pgs_host *host;
	uint32_t max_iterations; /* backend: refuse servers asking for more */
	uint32_t iterations;     /* frontend: derived and mock verifiers */
	EVP_MAC *hmac;           /* for fingerprints */
	/* Random per start: so the mock salts change across restarts. */
	uint8_t fingerprint_key[SCRAM_INSTANCE_KEY];
	uint8_t plain_salt_key[SCRAM_INSTANCE_KEY];
	uint8_t mock_key[SCRAM_INSTANCE_KEY];
	pthread_mutex_t cache_lock; /* guards everything below */
	struct scram_cached_keys *cache;
	size_t cache_size;
	size_t cache_next; /* round-robin replacement */
	struct scram_passthrough *pt;
	size_t pt_size;
	uint64_t pt_clock;
};

/* fingerprint = HMAC(instance key, be32(iterations) be32(salt_len) salt pw).
 * False when the cache is off or on a crypto failure. */
bool scram_keys_fingerprint(const struct scram_module *m, const uint8_t *pw, size_t pw_len,
                            const uint8_t *salt, size_t salt_len, uint32_t iterations,
                            uint8_t fp[SCRAM_KEY_LEN]);

/* Cached keys for a fingerprint: true and the keys copied out, or false. */
bool scram_keys_get(struct scram_module *m, const uint8_t fp[SCRAM_KEY_LEN],
                    uint8_t client_key[SCRAM_KEY_LEN], uint8_t server_key[SCRAM_KEY_LEN]);

/* Remember keys under a fingerprint (round-robin replacement, wiped). */
void scram_keys_put(struct scram_module *m, const uint8_t fp[SCRAM_KEY_LEN],
                    const uint8_t client_key[SCRAM_KEY_LEN],
                    const uint8_t server_key[SCRAM_KEY_LEN]);

/* Remember what a verified frontend login proved for `user` (replacing an
 * older entry of the same user, else the least recently used one). */
void scram_passthrough_put(struct scram_module *m, const char *user,
                           const struct scram_verifier *keys,
                           const uint8_t client_key[SCRAM_KEY_LEN]);

/* The ClientKey cached for `user` whose StoredKey, salt and iteration
 * count match v: true and copied out, or false. */
bool scram_passthrough_get(struct scram_module *m, const char *user, const struct scram_verifier *v,
                           uint8_t client_key[SCRAM_KEY_LEN]);

/* The frontend half (scram_front.c). */
extern const pgs_auth_ops scram_front_ops;

#endif /* PGS_SCRAM_INT_H */
