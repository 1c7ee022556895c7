/*
 * saslprep.h — SASLprep (RFC 4013) of a password, as PostgreSQL applies it
 * before SCRAM: when the input is valid UTF-8 and SASLprep accepts it, the
 * normalized string; otherwise the raw bytes unchanged (PostgreSQL and
 * libpq do the same, so such passwords still work byte for byte).
 */
#ifndef PGS_SASLPREP_H
#define PGS_SASLPREP_H

#include <stddef.h>
#include <stdint.h>

#define SASLPREP_MAX_INPUT 1024 /* longer passwords are used raw */

enum saslprep_result {
	SASLPREP_OK = 0,      /* *out holds the prepared string */
	SASLPREP_RAW = 1,     /* not UTF-8 or refused by SASLprep: use the input as is */
	SASLPREP_NOMEM = -12, /* -ENOMEM */
};

/* On SASLPREP_OK, *out is a NUL-terminated malloc()ed string (*out_len
 * bytes) the caller wipes and frees with saslprep_free(). */
enum saslprep_result saslprep(const uint8_t *in, size_t len, char **out, size_t *out_len);
void saslprep_free(char *s, size_t len);

#endif /* PGS_SASLPREP_H */
