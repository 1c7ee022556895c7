/*
 * secret_kind.h — what kind of stored secret a string is, the way
 * PgBouncer's auth_file and PostgreSQL's pg_authid tell them apart.
 */
#ifndef PGS_SECRET_KIND_H
#define PGS_SECRET_KIND_H

#include <stddef.h>
#include <stdint.h>

/*
 * "scram-sha-256" for a SCRAM-SHA-256 verifier, "md5" for "md5" followed by
 * 32 lowercase hex digits, else "plain" (a password).  NULL, with the
 * reason in why, for text that starts like a SCRAM verifier but does not
 * parse: a broken verifier must not silently become a password.
 */
const char *secret_kind(const uint8_t *s, size_t len, char *why, size_t why_size);

#endif /* PGS_SECRET_KIND_H */
