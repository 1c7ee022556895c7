/*
 * saslprep.c — SASLprep (RFC 4013) of a password through libidn's
 * stringprep_profile(), with PostgreSQL's rules for what happens when it
 * cannot be applied (see pg_saslprep() in PostgreSQL's src/common):
 *
 *  - the input must be valid UTF-8 (checked here first, strictly: no
 *    overlong forms, no surrogates, nothing past U+10FFFF) and hold no NUL;
 *  - unassigned code points (Unicode 3.2, RFC 3454 table A.1) are
 *    prohibited, as PostgreSQL prohibits them, hence
 *    STRINGPREP_NO_UNASSIGNED;
 *  - a password that maps to the empty string is refused (PostgreSQL:
 *    "don't allow empty password"), so it too is used raw.
 *
 * Whenever SASLprep refuses, the caller uses the raw bytes: PostgreSQL and
 * libpq do the same, so the verifier they computed still matches.
 *
 * libidn allocates its result with malloc() and its intermediate buffers
 * internally; the result is wiped before free() here, the intermediates
 * are freed by libidn without wiping (nothing can be done about those).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <stringprep.h>

#include "saslprep.h"

/*
 * Strict UTF-8 check (RFC 3629): well-formed sequences only, no NUL byte,
 * no overlong encodings, no UTF-16 surrogates, nothing above U+10FFFF.
 */
static bool utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t n;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false; /* continuation byte, 0xc0/0xc1 or 0xf5.. */
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

enum saslprep_result saslprep(const uint8_t *in, size_t len, char **out, size_t *out_len)
{
	char *copy, *prepped = NULL;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (in == NULL && len > 0)
		return SASLPREP_RAW;
	/* ASCII goes through libidn too: PostgreSQL passes it unchanged,
	 * libidn refuses control characters (RAW), the bytes are the same. */
	if (len > SASLPREP_MAX_INPUT || !utf8_valid(in, len))
		return SASLPREP_RAW;

	copy = malloc(len + 1);
	if (copy == NULL)
		return SASLPREP_NOMEM;
	if (len > 0)
		memcpy(copy, in, len);
	copy[len] = '\0';
	rc = stringprep_profile(copy, &prepped, "SASLprep", STRINGPREP_NO_UNASSIGNED);
	OPENSSL_cleanse(copy, len + 1);
	free(copy);
	if (rc == STRINGPREP_MALLOC_ERROR)
		return SASLPREP_NOMEM;
	if (rc != STRINGPREP_OK || prepped == NULL) {
		free(prepped); /* NULL on every libidn error path; harmless */
		return SASLPREP_RAW;
	}
	*out_len = strlen(prepped);
	if (*out_len == 0 && len > 0) {
		/* everything mapped to nothing: PostgreSQL uses the raw bytes */
		free(prepped);
		*out_len = 0;
		return SASLPREP_RAW;
	}
	*out = prepped;
	return SASLPREP_OK;
}

void saslprep_free(char *s, size_t len)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, len);
	free(s);
}
