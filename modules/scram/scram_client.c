/*
 * scram_client.c — SCRAM-SHA-256 client side (RFC 5802, RFC 7677).
 *
 * Messages are parsed strictly and with fixed bounds: a hostile or broken
 * server gets -EBADMSG/-ERANGE, never an overrun.  Secret intermediates
 * (SaltedPassword, ClientKey, StoredKey, ClientSignature, the proof) live
 * on the stack only while needed and are wiped with OPENSSL_cleanse().
 * See scram_client.h for the API and the note on SASLprep.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "scram_client.h"
#include "scram_verifier.h"
#include "errbuf.h"

/* base64("n,,"): the gs2 header of a client without channel binding. */
#define GS2_HEADER     "n,,"
#define GS2_HEADER_B64 "biws"

/* Fail the exchange: wipe what it holds, keep only the FAILED state. */
static int fail(scram_client *sc, int rc)
{
	scram_client_clear(sc);
	sc->state = SCRAM_CLIENT_FAILED;
	return rc;
}

const char *scram_client_state_name(enum scram_client_state state)
{
	switch (state) {
	case SCRAM_CLIENT_INIT:
		return "INIT";
	case SCRAM_CLIENT_WAIT_SERVER_FIRST:
		return "WAIT_SERVER_FIRST";
	case SCRAM_CLIENT_WAIT_CLIENT_FINAL:
		return "WAIT_CLIENT_FINAL";
	case SCRAM_CLIENT_WAIT_SERVER_FINAL:
		return "WAIT_SERVER_FINAL";
	case SCRAM_CLIENT_DONE:
		return "DONE";
	case SCRAM_CLIENT_FAILED:
		return "FAILED";
	}
	return "?";
}

static int wrong_state(const scram_client *sc, const char *what, char *err, size_t err_len)
{
	errbuf_set(err, err_len, "SCRAM %s in state %s", what, scram_client_state_name(sc->state));
	return -EINVAL;
}

/* ------------------------------------------------------------ parsing */

/* RFC 5802 "printable": %x21-2B / %x2D-7E (no ','). */
static bool printable_attr(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x21 || c > 0x7e || c == ',')
			return false;
	}
	return true;
}

/*
 * Take attribute `name` at *p: "<name>=<value>" up to the next ',' or end.
 * On success *p points past the value (at ',' or end).
 */
static bool take_attr(const char **p, const char *end, char name, const char **val, size_t *val_len)
{
	const char *s = *p, *comma;

	if (end - s < 2 || s[0] != name || s[1] != '=')
		return false;
	s += 2;
	comma = memchr(s, ',', (size_t)(end - s));
	*val = s;
	*val_len = (size_t)((comma ? comma : end) - s);
	*p = s + *val_len;
	return true;
}

/* Optional trailing extensions: *("," ALPHA "=" value); false if garbage. */
static bool extensions_ok(const char *p, const char *end)
{
	while (p < end) {
		const char *comma;

		if (*p != ',' || end - p < 3)
			return false;
		p++;
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) || p[1] != '=')
			return false;
		comma = memchr(p, ',', (size_t)(end - p));
		p = comma ? comma : end;
	}
	return true;
}

/* Parse a decimal iteration count: digits only, no sign, no leading zeros;
 * values past SCRAM_MAX_ITERATIONS saturate (the caller range-checks). */
static bool parse_iterations(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || (len > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v <= SCRAM_MAX_ITERATIONS)
			v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* ------------------------------------------------------------ crypto */

static bool sha256(const uint8_t *data, size_t len, uint8_t out[SCRAM_KEY_LEN])
{
	unsigned int out_len = 0;

	if (!EVP_Digest(data, len, out, &out_len, EVP_sha256(), NULL))
		return false;
	return out_len == SCRAM_KEY_LEN;
}

/* ------------------------------------------------------------ exchange */

void scram_client_clear(scram_client *sc)
{
	if (sc == NULL)
		return;
	OPENSSL_cleanse(sc, sizeof *sc);
	sc->state = SCRAM_CLIENT_INIT;
}

int scram_client_start_with_nonce(scram_client *sc, const char *user, const char *nonce, char *out,
                                  size_t out_size, size_t *out_len, char *err, size_t err_len)
{
	size_t user_len, nonce_len, n = 0;

	if (sc == NULL || user == NULL || nonce == NULL || out == NULL || out_len == NULL) {
		errbuf_set(err, err_len, "SCRAM start: missing argument");
		return -EINVAL;
	}
	user_len = strlen(user);
	nonce_len = strlen(nonce);
	if (user_len > SCRAM_MAX_USER_LEN) {
		errbuf_set(err, err_len, "SCRAM user name longer than %d bytes",
		           SCRAM_MAX_USER_LEN);
		return -ERANGE;
	}
	if (nonce_len == 0 || nonce_len > SCRAM_MAX_NONCE_LEN ||
	    !printable_attr(nonce, nonce_len)) {
		errbuf_set(err, err_len,
		           "SCRAM client nonce is not 1..%d "
		           "printable characters",
		           SCRAM_MAX_NONCE_LEN);
		return -EINVAL;
	}
	scram_client_clear(sc);

	/* client-first-message-bare = "n=" saslname ",r=" c-nonce, where
	 * saslname escapes '=' as "=3D" and ',' as "=2C" (RFC 5802 §5.1). */
	memcpy(sc->bare, "n=", 2);
	n = 2;
	for (size_t i = 0; i < user_len; i++) {
		if (user[i] == '=') {
			memcpy(sc->bare + n, "=3D", 3);
			n += 3;
		} else if (user[i] == ',') {
			memcpy(sc->bare + n, "=2C", 3);
			n += 3;
		} else {
			sc->bare[n++] = user[i];
		}
	}
	memcpy(sc->bare + n, ",r=", 3);
	n += 3;
	memcpy(sc->bare + n, nonce, nonce_len);
	n += nonce_len;
	sc->bare[n] = '\0';
	sc->bare_len = n;
	sc->nonce_len = nonce_len;

	if (out_size < strlen(GS2_HEADER) + n) {
		errbuf_set(err, err_len, "SCRAM client-first: buffer too small");
		scram_client_clear(sc);
		return -ENOSPC;
	}
	memcpy(out, GS2_HEADER, strlen(GS2_HEADER));
	memcpy(out + strlen(GS2_HEADER), sc->bare, n);
	*out_len = strlen(GS2_HEADER) + n;
	sc->state = SCRAM_CLIENT_WAIT_SERVER_FIRST;
	return 0;
}

int scram_client_start(scram_client *sc, const char *user, char *out, size_t out_size,
                       size_t *out_len, char *err, size_t err_len)
{
	uint8_t raw[SCRAM_NONCE_RAW_LEN];
	char nonce[(SCRAM_NONCE_RAW_LEN + 2) / 3 * 4 + 1];
	int rc;

	if (RAND_bytes(raw, sizeof raw) != 1) {
		errbuf_set(err, err_len, "SCRAM: no random bytes for the nonce");
		return -EIO;
	}
	rc = scram_verifier_b64_encode(raw, sizeof raw, nonce, sizeof nonce);
	OPENSSL_cleanse(raw, sizeof raw);
	if (rc < 0) {
		errbuf_set(err, err_len, "SCRAM: cannot encode the nonce");
		return -EIO;
	}
	rc = scram_client_start_with_nonce(sc, user, nonce, out, out_size, out_len, err, err_len);
	OPENSSL_cleanse(nonce, sizeof nonce);
	return rc;
}

int scram_client_server_first(scram_client *sc, const uint8_t *msg, size_t len, char *err,
                              size_t err_len)
{
	const char *p, *end, *val, *our_nonce;
	size_t val_len;
	uint64_t iterations;
	int n;

	if (sc == NULL || (msg == NULL && len > 0))
		return -EINVAL;
	if (sc->state != SCRAM_CLIENT_WAIT_SERVER_FIRST)
		return wrong_state(sc, "server-first-message", err, err_len);
	if (len > SCRAM_MAX_SERVER_MSG) {
		errbuf_set(err, err_len,
		           "SCRAM server-first-message longer than "
		           "%d bytes",
		           SCRAM_MAX_SERVER_MSG);
		return fail(sc, -ERANGE);
	}
	if (len > 0 && memchr(msg, '\0', len) != NULL) {
		errbuf_set(err, err_len,
		           "SCRAM server-first-message contains "
		           "a NUL byte");
		return fail(sc, -EBADMSG);
	}
	if (len > 0)
		memcpy(sc->server_first, msg, len);
	sc->server_first[len] = '\0';
	sc->server_first_len = len;
	p = sc->server_first;
	end = p + len;

	if (len >= 2 && p[0] == 'm' && p[1] == '=') {
		errbuf_set(err, err_len,
		           "SCRAM server-first-message has a "
		           "mandatory extension (m=), which is not supported");
		return fail(sc, -EBADMSG);
	}

	/* r=<client nonce><server nonce> */
	our_nonce = sc->bare + sc->bare_len - sc->nonce_len;
	if (!take_attr(&p, end, 'r', &val, &val_len)) {
		errbuf_set(err, err_len,
		           "SCRAM server-first-message: "
		           "nonce (r=) missing");
		return fail(sc, -EBADMSG);
	}
	if (val_len <= sc->nonce_len || memcmp(val, our_nonce, sc->nonce_len) != 0) {
		errbuf_set(err, err_len,
		           "SCRAM server-first-message: nonce does "
		           "not extend the client nonce");
		return fail(sc, -EBADMSG);
	}
	if (!printable_attr(val, val_len)) {
		errbuf_set(err, err_len,
		           "SCRAM server-first-message: nonce has "
		           "non-printable characters");
		return fail(sc, -EBADMSG);
	}
	sc->combined_nonce_off = (size_t)(val - sc->server_first);
	sc->combined_nonce_len = val_len;

	/* ,s=<base64 salt> */
	if (p == end || *p++ != ',' || !take_attr(&p, end, 's', &val, &val_len)) {
		errbuf_set(err, err_len,
		           "SCRAM server-first-message: "
		           "salt (s=) missing");
		return fail(sc, -EBADMSG);
	}
	n = scram_verifier_b64_decode(val, val_len, sc->salt, sizeof sc->salt);
	if (n == -ENOSPC) {
		errbuf_set(err, err_len,
		           "SCRAM server-first-message: salt "
		           "longer than %d bytes",
		           SCRAM_MAX_SALT_LEN);
		return fail(sc, -ERANGE);
	}
	if (n <= 0) {
		errbuf_set(err, err_len,
		           "SCRAM server-first-message: salt is "
		           "not valid base64");
		return fail(sc, -EBADMSG);
	}
	sc->salt_len = (size_t)n;

	/* ,i=<iteration count> */
	if (p == end || *p++ != ',' || !take_attr(&p, end, 'i', &val, &val_len)) {
		errbuf_set(err, err_len,
		           "SCRAM server-first-message: "
		           "iteration count (i=) missing");
		return fail(sc, -EBADMSG);
	}
	if (!parse_iterations(val, val_len, &iterations)) {
		errbuf_set(err, err_len,
		           "SCRAM server-first-message: "
		           "iteration count is not a number");
		return fail(sc, -EBADMSG);
	}
	if (iterations < SCRAM_MIN_ITERATIONS || iterations > SCRAM_MAX_ITERATIONS) {
		errbuf_set(err, err_len,
		           "SCRAM server-first-message: iteration "
		           "count %llu outside %u..%u",
		           (unsigned long long)iterations, SCRAM_MIN_ITERATIONS,
		           SCRAM_MAX_ITERATIONS);
		return fail(sc, -ERANGE);
	}
	sc->iterations = (uint32_t)iterations;

	if (!extensions_ok(p, end)) {
		errbuf_set(err, err_len,
		           "SCRAM server-first-message: "
		           "garbage after the iteration count");
		return fail(sc, -EBADMSG);
	}
	sc->state = SCRAM_CLIENT_WAIT_CLIENT_FINAL;
	return 0;
}

const uint8_t *scram_client_salt(const scram_client *sc, size_t *len)
{
	*len = sc->salt_len;
	return sc->salt;
}

uint32_t scram_client_iterations(const scram_client *sc)
{
	return sc->iterations;
}

int scram_client_final_keys(scram_client *sc, const uint8_t client_key[SCRAM_KEY_LEN],
                            const uint8_t server_key[SCRAM_KEY_LEN], char *out, size_t out_size,
                            size_t *out_len, char *err, size_t err_len)
{
	/* AuthMessage = client-first-message-bare "," server-first-message
	 *               "," client-final-message-without-proof */
	char auth_msg[SCRAM_CLIENT_FIRST_BARE_MAX + 1 + SCRAM_MAX_SERVER_MSG + 1 +
	              SCRAM_CLIENT_MSG_MAX];
	uint8_t stored_key[SCRAM_KEY_LEN], client_sig[SCRAM_KEY_LEN];
	uint8_t proof[SCRAM_KEY_LEN];
	char proof_b64[(SCRAM_KEY_LEN + 2) / 3 * 4 + 1];
	size_t without_proof_len, am_len = 0, n;
	bool ok;

	if (sc == NULL || client_key == NULL || server_key == NULL || out == NULL ||
	    out_len == NULL)
		return -EINVAL;
	if (sc->state != SCRAM_CLIENT_WAIT_CLIENT_FINAL)
		return wrong_state(sc, "client-final-message", err, err_len);

	/* client-final-message-without-proof = "c=biws,r=" nonce */
	without_proof_len = strlen("c=" GS2_HEADER_B64 ",r=") + sc->combined_nonce_len;
	n = without_proof_len + strlen(",p=") + sizeof proof_b64 - 1;
	if (out_size < n) {
		errbuf_set(err, err_len, "SCRAM client-final: buffer too small");
		return -ENOSPC;
	}
	memcpy(out, "c=" GS2_HEADER_B64 ",r=", 9);
	memcpy(out + 9, sc->server_first + sc->combined_nonce_off, sc->combined_nonce_len);

	memcpy(auth_msg, sc->bare, sc->bare_len);
	am_len = sc->bare_len;
	auth_msg[am_len++] = ',';
	memcpy(auth_msg + am_len, sc->server_first, sc->server_first_len);
	am_len += sc->server_first_len;
	auth_msg[am_len++] = ',';
	memcpy(auth_msg + am_len, out, without_proof_len);
	am_len += without_proof_len;

	/* ClientProof = ClientKey XOR HMAC(H(ClientKey), AuthMessage);
	 * ServerSignature = HMAC(ServerKey, AuthMessage) */
	ok = sha256(client_key, SCRAM_KEY_LEN, stored_key) &&
	     scram_verifier_hmac(stored_key, sizeof stored_key, auth_msg, am_len, client_sig) &&
	     scram_verifier_hmac(server_key, SCRAM_KEY_LEN, auth_msg, am_len, sc->server_signature);
	if (ok) {
		for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
			proof[i] = client_key[i] ^ client_sig[i];
		ok = scram_verifier_b64_encode(proof, sizeof proof, proof_b64, sizeof proof_b64) >
		     0;
	}
	OPENSSL_cleanse(stored_key, sizeof stored_key);
	OPENSSL_cleanse(client_sig, sizeof client_sig);
	OPENSSL_cleanse(proof, sizeof proof);
	if (!ok) {
		OPENSSL_cleanse(proof_b64, sizeof proof_b64);
		OPENSSL_cleanse(out, out_size);
		errbuf_set(err, err_len, "SCRAM: crypto library failure");
		return fail(sc, -EIO);
	}
	memcpy(out + without_proof_len, ",p=", 3);
	memcpy(out + without_proof_len + 3, proof_b64, sizeof proof_b64 - 1);
	OPENSSL_cleanse(proof_b64, sizeof proof_b64);
	*out_len = n;
	sc->state = SCRAM_CLIENT_WAIT_SERVER_FINAL;
	return 0;
}

int scram_client_final_password(scram_client *sc, const uint8_t *password, size_t password_len,
                                char *out, size_t out_size, size_t *out_len, char *err,
                                size_t err_len)
{
	uint8_t client_key[SCRAM_KEY_LEN], server_key[SCRAM_KEY_LEN];
	int rc;

	if (sc == NULL)
		return -EINVAL;
	if (sc->state != SCRAM_CLIENT_WAIT_CLIENT_FINAL)
		return wrong_state(sc, "client-final-message", err, err_len);
	rc = scram_verifier_derive_raw(password, password_len, sc->salt, sc->salt_len,
	                               sc->iterations, client_key, server_key);
	if (rc < 0) {
		errbuf_set(err, err_len, "SCRAM: cannot derive keys");
		return fail(sc, rc == -EINVAL ? -EINVAL : -EIO);
	}
	rc = scram_client_final_keys(sc, client_key, server_key, out, out_size, out_len, err,
	                             err_len);
	OPENSSL_cleanse(client_key, sizeof client_key);
	OPENSSL_cleanse(server_key, sizeof server_key);
	return rc;
}

int scram_client_server_final(scram_client *sc, const uint8_t *msg, size_t len, char *err,
                              size_t err_len)
{
	const char *p = (const char *)msg, *end, *val;
	uint8_t sig[SCRAM_KEY_LEN + 3];
	size_t val_len;
	int n;

	if (sc == NULL || (msg == NULL && len > 0))
		return -EINVAL;
	if (sc->state != SCRAM_CLIENT_WAIT_SERVER_FINAL)
		return wrong_state(sc, "server-final-message", err, err_len);
	if (len > SCRAM_MAX_SERVER_MSG) {
		errbuf_set(err, err_len,
		           "SCRAM server-final-message longer than "
		           "%d bytes",
		           SCRAM_MAX_SERVER_MSG);
		return fail(sc, -ERANGE);
	}
	if (len > 0 && memchr(msg, '\0', len) != NULL) {
		errbuf_set(err, err_len,
		           "SCRAM server-final-message contains "
		           "a NUL byte");
		return fail(sc, -EBADMSG);
	}
	end = p + len;

	if (take_attr(&p, end, 'e', &val, &val_len)) {
		/* server-error: report it, printable and bounded */
		char shown[65];
		size_t k;

		for (k = 0; k < val_len && k < sizeof shown - 1; k++)
			shown[k] = printable_attr(val + k, 1) ? val[k] : '?';
		shown[k] = '\0';
		errbuf_set(err, err_len, "SCRAM server error: %s", shown);
		return fail(sc, -EACCES);
	}
	if (!take_attr(&p, end, 'v', &val, &val_len) || !extensions_ok(p, end)) {
		errbuf_set(err, err_len,
		           "SCRAM server-final-message: "
		           "verifier (v=) missing or malformed");
		return fail(sc, -EBADMSG);
	}
	n = scram_verifier_b64_decode(val, val_len, sig, sizeof sig);
	if (n != SCRAM_KEY_LEN) {
		errbuf_set(err, err_len,
		           "SCRAM server-final-message: "
		           "verifier is not a base64 SHA-256 value");
		return fail(sc, -EBADMSG);
	}
	if (CRYPTO_memcmp(sig, sc->server_signature, SCRAM_KEY_LEN) != 0) {
		errbuf_set(err, err_len, "server signature mismatch");
		return fail(sc, -EACCES);
	}
	scram_client_clear(sc);
	sc->state = SCRAM_CLIENT_DONE;
	return 0;
}
