/*
 * fuzz_scram.c — libFuzzer target for the SCRAM-SHA-256 server side
 * (modules/scram/scram_server.c) and the verifier parser.
 *
 * Each input is fed as:
 *   1. a SASLInitialResponse payload (and its data as client-first-message),
 *      with and without channel binding on offer;
 *   2. a client-first-message;
 *   3. a client-final-message after a valid client-first-message and
 *      server-first-message (RFC 7677 nonces), plain and with -PLUS,
 *      then checked against the RFC keys;
 *   4. a stored SCRAM verifier text.
 * Whatever comes in, the functions must return 0 or an error with a
 * NUL-terminated reason, never crash or read out of bounds.
 *
 * Build and run (from the source tree):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Imodules/scram \
 *     -Imodules/common tests/fuzz/fuzz_scram.c modules/scram/scram_server.c \
 *     modules/common/scram_verifier.c modules/common/saslprep.c \
 *     -lcrypto -lidn -o /tmp/fuzz_scram
 *   /tmp/fuzz_scram -max_total_time=60
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scram_server.h"
#include "scram_verifier.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RFC_FIRST  "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define PLUS_FIRST "p=tls-server-end-point,,n=,r=rOprNGfwEbeRWgbNEkqO"
#define OUR_NONCE  "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define ITERATIONS 4096

static const uint8_t cb_hash[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t salt[16] = {0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
                                 0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81};

static struct scram_verifier keys;
static int keys_ready;

static void check_err(const char *err)
{
	/* the reason must be a terminated string */
	if (memchr(err, '\0', 256) == NULL)
		abort();
}

static void as_initial(const uint8_t *data, size_t size, const uint8_t *cb, size_t cb_len)
{
	scram_server ss;
	const uint8_t *first = NULL;
	size_t first_len = 0;
	char err[256] = "";

	if (scram_server_begin(&ss, cb, cb_len) != 0)
		abort();
	if (scram_server_initial(&ss, data, size, &first, &first_len, err, sizeof err) == 0 &&
	    first != NULL) {
		if (first < data || first + first_len > data + size)
			abort();
		(void)!scram_server_client_first(&ss, first, first_len, err, sizeof err);
	}
	check_err(err);
	scram_server_clear(&ss);
}

static void as_client_first(const uint8_t *data, size_t size)
{
	scram_server ss;
	char err[256] = "", out[SCRAM_SERVER_FIRST_MAX];
	size_t len = 0;

	if (scram_server_begin(&ss, NULL, 0) != 0)
		abort();
	if (scram_server_client_first(&ss, data, size, err, sizeof err) == 0) {
		if (scram_server_server_first_with_nonce(&ss, salt, sizeof salt, ITERATIONS,
		                                         OUR_NONCE, out, sizeof out, &len, err,
		                                         sizeof err) != 0 ||
		    len > sizeof out)
			abort();
	}
	check_err(err);
	scram_server_clear(&ss);
}

static void as_client_final(const uint8_t *data, size_t size, bool plus)
{
	uint8_t plus_initial[sizeof SCRAM_SERVER_MECH_PLUS + 4 + sizeof PLUS_FIRST];
	size_t mech = sizeof SCRAM_SERVER_MECH_PLUS, plus_len = strlen(PLUS_FIRST);
	scram_server ss;
	const uint8_t *first = NULL;
	size_t first_len = 0, len = 0;
	char err[256] = "", out[SCRAM_SERVER_FIRST_MAX];
	int rc;

	if (plus) {
		/* SASLInitialResponse: mechanism "\0", be32 length, client-first */
		memcpy(plus_initial, SCRAM_SERVER_MECH_PLUS, mech);
		memset(plus_initial + mech, 0, 3);
		plus_initial[mech + 3] = (uint8_t)plus_len;
		memcpy(plus_initial + mech + 4, PLUS_FIRST, plus_len);
		if (scram_server_begin(&ss, cb_hash, sizeof cb_hash) != 0 ||
		    scram_server_initial(&ss, plus_initial, mech + 4 + plus_len, &first, &first_len,
		                         err, sizeof err) != 0 ||
		    first == NULL)
			abort();
	} else {
		if (scram_server_begin(&ss, NULL, 0) != 0)
			abort();
		first = (const uint8_t *)RFC_FIRST;
		first_len = strlen(RFC_FIRST);
	}
	if (scram_server_client_first(&ss, first, first_len, err, sizeof err) != 0 ||
	    scram_server_server_first_with_nonce(&ss, salt, sizeof salt, ITERATIONS, OUR_NONCE, out,
	                                         sizeof out, &len, err, sizeof err) != 0)
		abort();
	rc = scram_server_client_final(&ss, data, size, err, sizeof err);
	if (rc == 0) {
		uint8_t ck[SCRAM_SERVER_KEY_LEN];

		rc = scram_server_verify(&ss, keys.stored_key, keys.server_key, ck, out, sizeof out,
		                         &len, err, sizeof err);
		if (rc != 0 && rc != -EACCES)
			abort();
		if (rc == 0 && len != SCRAM_SERVER_FINAL_LEN)
			abort();
	} else if (rc != -EBADMSG) {
		abort();
	}
	check_err(err);
	scram_server_clear(&ss);
}

static void as_verifier(const uint8_t *data, size_t size)
{
	struct scram_verifier v;
	char err[128] = "", text[SCRAM_VERIFIER_MAX_TEXT + 1];
	int n;

	if (scram_verifier_parse(data, size, &v, err, sizeof err) == 0) {
		/* what parses formats back to a parseable text */
		n = scram_verifier_format(&v, text, sizeof text);
		if (n <= 0 || scram_verifier_parse((const uint8_t *)text, (size_t)n, &v, err,
		                                   sizeof err) != 0)
			abort();
	}
	if (memchr(err, '\0', sizeof err) == NULL)
		abort();
	scram_verifier_clear(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!keys_ready) {
		/* the RFC 7677 user's keys, with our salt */
		if (scram_verifier_from_password((const uint8_t *)"pencil", 6, salt, sizeof salt,
		                                 ITERATIONS, &keys) != 0)
			abort();
		keys_ready = 1;
	}
	as_initial(data, size, NULL, 0);
	as_initial(data, size, cb_hash, sizeof cb_hash);
	as_client_first(data, size);
	as_client_final(data, size, false);
	as_client_final(data, size, true);
	as_verifier(data, size);
	return 0;
}
