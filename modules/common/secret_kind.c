/*
 * secret_kind.c — classify a stored secret (see secret_kind.h).
 */
#include "secret_kind.h"

#include <stdbool.h>
#include <string.h>

#include "scram_verifier.h"

/* PostgreSQL's test: "md5" and 32 lowercase hex digits (uppercase is a
 * password that happens to start with "md5"). */
static bool is_md5_hash(const uint8_t *s, size_t len)
{
	if (len != 35 || memcmp(s, "md5", 3) != 0)
		return false;
	for (size_t i = 3; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

const char *secret_kind(const uint8_t *s, size_t len, char *why, size_t why_size)
{
	if (scram_verifier_looks_like(s, len)) {
		struct scram_verifier v;
		int rc = scram_verifier_parse(s, len, &v, why, why_size);

		scram_verifier_clear(&v);
		return rc == 0 ? "scram-sha-256" : NULL;
	}
	if (is_md5_hash(s, len))
		return "md5";
	return "plain";
}
