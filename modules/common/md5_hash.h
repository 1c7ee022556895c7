/*
 * md5_hash.h — PostgreSQL's MD5 password hashing, as pure functions.
 *
 * PostgreSQL stores an MD5 password as "md5" + hex(MD5(password || user))
 * and, for AuthenticationMD5Password with a 4-byte salt, expects the answer
 * "md5" + hex(MD5(hex(MD5(password || user)) || salt)).  Kept apart from
 * the module so the unit tests can link it.
 */
#ifndef PGS_MD5_HASH_H
#define PGS_MD5_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MD5_HASH_HEX_LEN    32 /* lowercase hex of a 16-byte digest */
#define MD5_HASH_STORED_LEN 35 /* "md5" + 32 hex */
#define MD5_HASH_SALT_LEN   4

/* out = lowercase hex(MD5(a || b)), NUL-terminated.  0 or -EIO (e.g. MD5
 * unavailable in a FIPS-only OpenSSL). */
int md5_hash_hex(const void *a, size_t a_len, const void *b, size_t b_len,
                 char out[MD5_HASH_HEX_LEN + 1]) __attribute__((warn_unused_result));

/* out = "md5" + hex(MD5(password || user)), NUL-terminated: the form
 * PostgreSQL stores in pg_authid.rolpassword. */
int md5_hash_password(const uint8_t *password, size_t password_len, const char *user,
                      char out[MD5_HASH_STORED_LEN + 1]) __attribute__((warn_unused_result));

/* out = "md5" + hex(MD5(inner_hex || salt)), NUL-terminated, where inner_hex
 * is the 32 hex characters of the stored hash (without "md5"). */
int md5_hash_salted(const char inner_hex[MD5_HASH_HEX_LEN], const uint8_t salt[MD5_HASH_SALT_LEN],
                    char out[MD5_HASH_STORED_LEN + 1]) __attribute__((warn_unused_result));

/* True when s (len bytes, not NUL-terminated) is "md5" + 32 hex digits. */
bool md5_hash_is_stored(const uint8_t *s, size_t len);

#endif /* PGS_MD5_HASH_H */
