/*
 * secret_kind.c — classify a stored secret (see secret_kind.h).
 */
#include "secret_kind.h"

#include "md5_hash.h"
#include "scram_verifier.h"

const char *secret_kind(const uint8_t *s, size_t len, char *why, size_t why_size)
{
	if (scram_verifier_looks_like(s, len)) {
		struct scram_verifier v;
		int rc = scram_verifier_parse(s, len, &v, why, why_size);

		scram_verifier_clear(&v);
		return rc == 0 ? "scram-sha-256" : NULL;
	}
	if (md5_hash_is_stored(s, len))
		return "md5";
	return "plain";
}
