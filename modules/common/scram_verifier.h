/*
 * scram_verifier.h — SCRAM-SHA-256 verifiers as PostgreSQL stores them
 * (pg_authid.rolpassword, PgBouncer's userlist.txt):
 *
 *   SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
 *
 * and the key derivation behind them (RFC 5802 / RFC 7677):
 *   SaltedPassword = PBKDF2-HMAC-SHA256(SASLprep(password), salt, iterations)
 *   ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = SHA256(ClientKey)
 *   ServerKey = HMAC(SaltedPassword, "Server Key")
 * Pure functions shared by the scram, password and userlist modules.
 */
#ifndef PGS_SCRAM_VERIFIER_H
#define PGS_SCRAM_VERIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCRAM_VERIFIER_KEY_LEN  32 /* SHA-256 */
#define SCRAM_VERIFIER_MAX_SALT 64 /* decoded salt bytes accepted */
#define SCRAM_VERIFIER_MAX_ITER 100000000u
#define SCRAM_VERIFIER_MAX_TEXT 256 /* longest verifier text accepted */

struct scram_verifier {
	uint32_t iterations;
	uint8_t salt[SCRAM_VERIFIER_MAX_SALT];
	size_t salt_len;
	uint8_t stored_key[SCRAM_VERIFIER_KEY_LEN];
	uint8_t server_key[SCRAM_VERIFIER_KEY_LEN];
};

/* True when text starts like a SCRAM verifier ("SCRAM-SHA-256$"). */
bool scram_verifier_looks_like(const uint8_t *text, size_t len);

/* Parse a verifier (len bytes, not NUL-terminated).  0, or -EINVAL with a
 * short reason in err (never containing key material). */
int scram_verifier_parse(const uint8_t *text, size_t len, struct scram_verifier *out, char *err,
                         size_t err_size);

/* Derive ClientKey and ServerKey (either out pointer may be NULL) from a
 * password.  The password is SASLprep'ed first (raw bytes when SASLprep
 * refuses it, as PostgreSQL does).  0, or -EINVAL / -EIO (-ENOMEM when
 * SASLprep runs out of memory). */
int scram_verifier_derive(const uint8_t *password, size_t password_len, const uint8_t *salt,
                          size_t salt_len, uint32_t iterations,
                          uint8_t client_key[SCRAM_VERIFIER_KEY_LEN],
                          uint8_t server_key[SCRAM_VERIFIER_KEY_LEN]);

/* scram_verifier_derive() without SASLprep: the password bytes as they are
 * (what a SCRAM client given raw bytes does).  0, or -EINVAL / -EIO. */
int scram_verifier_derive_raw(const uint8_t *password, size_t password_len, const uint8_t *salt,
                              size_t salt_len, uint32_t iterations,
                              uint8_t client_key[SCRAM_VERIFIER_KEY_LEN],
                              uint8_t server_key[SCRAM_VERIFIER_KEY_LEN]);

/* HMAC-SHA-256(key, data) into out: true on success. */
bool scram_verifier_hmac(const uint8_t *key, size_t key_len, const void *data, size_t len,
                         uint8_t out[SCRAM_VERIFIER_KEY_LEN]);

/* Build a full verifier from a password (derive + StoredKey = SHA256(ClientKey)). */
int scram_verifier_from_password(const uint8_t *password, size_t password_len, const uint8_t *salt,
                                 size_t salt_len, uint32_t iterations, struct scram_verifier *out);

/* Check a cleartext password against a verifier in constant time: true
 * when it matches.  Runs PBKDF2 (iterations rounds): call it off the
 * reactor (host->defer). */
bool scram_verifier_check_password(const struct scram_verifier *v, const uint8_t *password,
                                   size_t password_len);

/* Wipe a verifier. */
void scram_verifier_clear(struct scram_verifier *v);

/* Write the verifier as PostgreSQL stores it (NUL-terminated).  Returns
 * the text length, or -ENOSPC / -EINVAL. */
int scram_verifier_format(const struct scram_verifier *v, char *out, size_t out_size);

/*
 * Standard base64 (RFC 4648, with padding), as SCRAM uses it.  Encode
 * writes 4*ceil(len/3) characters plus a NUL and returns the number of
 * characters, or -ENOSPC.  Decode is strict (alphabet, length a multiple
 * of 4, '=' only as final padding, unused bits zero) and returns the number
 * of bytes, -EBADMSG or -ENOSPC.
 */
int scram_verifier_b64_encode(const uint8_t *in, size_t len, char *out, size_t out_size);
int scram_verifier_b64_decode(const char *in, size_t len, uint8_t *out, size_t out_size);

#endif /* PGS_SCRAM_VERIFIER_H */
