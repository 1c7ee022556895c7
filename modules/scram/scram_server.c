/*
 * scram_server.c — SCRAM-SHA-256 server side (RFC 5802, RFC 7677), as
 * PostgreSQL 15's auth-scram.c behaves towards its clients.
 *
 * Client messages are parsed strictly and with fixed bounds; whatever the
 * client sends, the result is 0 or an error with a message fit to show it,
 * never an overrun.  Secret intermediates (ClientSignature, ClientKey, its
 * hash) live on the stack only while needed and are wiped.  See
 * scram_server.h for the API.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "scram_server.h"
#include "errbuf.h"

#define MALFORMED  "malformed SCRAM message: "
#define B64_LEN(n) (((n) + 2) / 3 * 4)
/* Longest gs2 header: "p=tls-server-end-point,," */
#define GS2_MAX    (2 + sizeof SCRAM_SERVER_CB_TYPE - 1 + 2)

/* Fail the exchange: wipe it, keep only the FAILED state. */
static int fail(scram_server *ss, int rc)
{
	scram_server_clear(ss);
	ss->state = SCRAM_SERVER_FAILED;
	return rc;
}

const char *scram_server_state_name(enum scram_server_state state)
{
	switch (state) {
	case SCRAM_SERVER_INIT:
		return "INIT";
	case SCRAM_SERVER_WAIT_CLIENT_FIRST:
		return "WAIT_CLIENT_FIRST";
	case SCRAM_SERVER_GOT_CLIENT_FIRST:
		return "GOT_CLIENT_FIRST";
	case SCRAM_SERVER_WAIT_CLIENT_FINAL:
		return "WAIT_CLIENT_FINAL";
	case SCRAM_SERVER_GOT_CLIENT_FINAL:
		return "GOT_CLIENT_FINAL";
	case SCRAM_SERVER_DONE:
		return "DONE";
	case SCRAM_SERVER_FAILED:
		return "FAILED";
	}
	return "?";
}

static int wrong_state(const scram_server *ss, const char *what, char *err, size_t err_len)
{
	errbuf_set(err, err_len, "SCRAM %s in state %s", what, scram_server_state_name(ss->state));
	return -EINVAL;
}

void scram_server_clear(scram_server *ss)
{
	if (ss == NULL)
		return;
	OPENSSL_cleanse(ss, sizeof *ss);
	ss->state = SCRAM_SERVER_INIT;
}

/* ------------------------------------------------------------ parsing */

/* RFC 5802 "printable": %x21-2B / %x2D-7E (no ','). */
static bool printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x21 || c > 0x7e || c == ',')
			return false;
	}
	return true;
}

/* RFC 5802 saslname: any chars but ',' and '=', or "=2C" / "=3D". */
static bool saslname_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '=')
			continue;
		if (len - i < 3 ||
		    !((s[i + 1] == '2' && s[i + 2] == 'C') || (s[i + 1] == '3' && s[i + 2] == 'D')))
			return false;
		i += 2;
	}
	return true;
}

/* "<name>=<value>" at *p up to the next ',' or end; *p moves past it. */
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

/* Skip one ',' at *p. */
static bool take_comma(const char **p, const char *end)
{
	if (*p >= end || **p != ',')
		return false;
	(*p)++;
	return true;
}

/* A printable, bounded rendering of client text for an error message. */
static void shown(const char *s, size_t len, char *out, size_t out_size)
{
	size_t k;

	for (k = 0; k < len && k + 1 < out_size; k++)
		out[k] = s[k] >= 0x20 && s[k] < 0x7f && s[k] != '"' ? s[k] : '?';
	out[k] = '\0';
}

/* Common checks on a client message: bounded, no NUL byte. */
static int check_msg(scram_server *ss, const uint8_t *msg, size_t len, const char *what, char *err,
                     size_t err_len)
{
	if (len > SCRAM_SERVER_MAX_MSG) {
		errbuf_set(err, err_len, MALFORMED "%s longer than %d bytes", what,
		           SCRAM_SERVER_MAX_MSG);
		return fail(ss, -EBADMSG);
	}
	if (len > 0 && memchr(msg, '\0', len) != NULL) {
		errbuf_set(err, err_len, MALFORMED "%s contains a NUL byte", what);
		return fail(ss, -EBADMSG);
	}
	return 0;
}

/* ------------------------------------------------------------ crypto */

int scram_server_mock_salt(const uint8_t *key, size_t key_len, const char *user,
                           uint8_t salt[SCRAM_SERVER_SALT_LEN])
{
	uint8_t h[EVP_MAX_MD_SIZE];
	unsigned int h_len = 0;
	EVP_MD_CTX *ctx;
	bool ok;

	if (key == NULL || user == NULL || salt == NULL)
		return -EINVAL;
	ctx = EVP_MD_CTX_new();
	ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(ctx, key, key_len) && EVP_DigestUpdate(ctx, user, strlen(user)) &&
	     EVP_DigestFinal_ex(ctx, h, &h_len) && h_len >= SCRAM_SERVER_SALT_LEN;
	EVP_MD_CTX_free(ctx);
	if (ok)
		memcpy(salt, h, SCRAM_SERVER_SALT_LEN);
	OPENSSL_cleanse(h, sizeof h);
	return ok ? 0 : -EIO;
}

int scram_server_plain_salt(const uint8_t *key, size_t key_len, const char *user,
                            uint8_t salt[SCRAM_SERVER_SALT_LEN])
{
	uint8_t h[SCRAM_SERVER_KEY_LEN];
	bool ok;

	if (key == NULL || user == NULL || salt == NULL)
		return -EINVAL;
	ok = scram_verifier_hmac(key, key_len, user, strlen(user), h);
	if (ok)
		memcpy(salt, h, SCRAM_SERVER_SALT_LEN);
	OPENSSL_cleanse(h, sizeof h);
	return ok ? 0 : -EIO;
}

/* ------------------------------------------------------------ exchange */

int scram_server_begin(scram_server *ss, const uint8_t *cb_data, size_t cb_len)
{
	if (ss == NULL || (cb_data == NULL && cb_len > 0) || cb_len > SCRAM_SERVER_MAX_CB_DATA ||
	    (cb_data != NULL && cb_len == 0))
		return -EINVAL;
	scram_server_clear(ss);
	if (cb_data != NULL) {
		memcpy(ss->cb_data, cb_data, cb_len);
		ss->cb_len = cb_len;
		ss->plus_offered = true;
	}
	ss->state = SCRAM_SERVER_WAIT_CLIENT_FIRST;
	return 0;
}

int scram_server_mechanisms(const scram_server *ss, uint8_t *out, size_t out_size, size_t *out_len)
{
	size_t n = 0;

	if (ss == NULL || out == NULL || out_len == NULL)
		return -EINVAL;
	if (out_size < SCRAM_SERVER_MECH_LIST_MAX)
		return -ENOSPC;
	/* PostgreSQL lists them in decreasing order of preference. */
	if (ss->plus_offered) {
		memcpy(out, SCRAM_SERVER_MECH_PLUS, sizeof SCRAM_SERVER_MECH_PLUS);
		n = sizeof SCRAM_SERVER_MECH_PLUS;
	}
	memcpy(out + n, SCRAM_SERVER_MECH, sizeof SCRAM_SERVER_MECH);
	n += sizeof SCRAM_SERVER_MECH;
	out[n++] = '\0';
	*out_len = n;
	return 0;
}

int scram_server_initial(scram_server *ss, const uint8_t *msg, size_t len, const uint8_t **data,
                         size_t *data_len, char *err, size_t err_len)
{
	const uint8_t *nul;
	size_t mech_len, rest;
	int32_t n;

	if (ss == NULL || data == NULL || data_len == NULL || (msg == NULL && len > 0))
		return -EINVAL;
	if (ss->state != SCRAM_SERVER_WAIT_CLIENT_FIRST || ss->initial_seen)
		return wrong_state(ss, "SASLInitialResponse", err, err_len);
	ss->initial_seen = true;
	*data = NULL;
	*data_len = 0;
	nul = len > 0 ? memchr(msg, '\0', len < 64 ? len : 64) : NULL;
	if (nul == NULL || len - (size_t)(nul - msg) - 1 < 4) {
		errbuf_set(err, err_len, "malformed SASLInitialResponse message");
		return fail(ss, -EBADMSG);
	}
	mech_len = (size_t)(nul - msg);
	if (mech_len == strlen(SCRAM_SERVER_MECH_PLUS) &&
	    memcmp(msg, SCRAM_SERVER_MECH_PLUS, mech_len) == 0 && ss->plus_offered) {
		ss->plus_selected = true;
	} else if (!(mech_len == strlen(SCRAM_SERVER_MECH) &&
	             memcmp(msg, SCRAM_SERVER_MECH, mech_len) == 0)) {
		errbuf_set(err, err_len,
		           "client selected an invalid SASL authentication mechanism");
		return fail(ss, -EBADMSG);
	}
	msg = nul + 1;
	rest = len - mech_len - 1 - 4;
	n = (int32_t)((uint32_t)msg[0] << 24 | (uint32_t)msg[1] << 16 | (uint32_t)msg[2] << 8 |
	              msg[3]);
	msg += 4;
	if (n == -1 && rest == 0)
		return 0; /* no initial response */
	if (n < 0 || (size_t)n != rest) {
		errbuf_set(err, err_len,
		           "malformed SASLInitialResponse message: "
		           "length does not match the data");
		return fail(ss, -EBADMSG);
	}
	*data = msg;
	*data_len = rest;
	return 0;
}

/* gs2-header: cbind-flag "," [authzid] ","; sets ss->cbind_flag. */
static int parse_gs2(scram_server *ss, const char **p, const char *end, char *err, size_t err_len)
{
	const char *val = NULL;
	size_t val_len = 0;
	char show[40];

	switch (*p < end ? **p : '\0') {
	case 'n':
	case 'y':
		if (ss->plus_selected) {
			errbuf_set(err, err_len,
			           MALFORMED
			           "The client selected SCRAM-SHA-256-PLUS, but the SCRAM "
			           "message does not include channel binding data.");
			return -EBADMSG;
		}
		if (**p == 'y' && ss->plus_offered) {
			errbuf_set(
			        err, err_len,
			        "SCRAM channel binding negotiation error: The client supports "
			        "SCRAM channel binding but thinks the server does not.  However, "
			        "this server does support channel binding.");
			return -EBADMSG;
		}
		ss->cbind_flag = **p;
		(*p)++;
		break;
	case 'p':
		if (!ss->plus_selected) {
			errbuf_set(err, err_len,
			           MALFORMED
			           "The client selected SCRAM-SHA-256 without channel "
			           "binding, but the SCRAM message includes channel binding "
			           "data.");
			return -EBADMSG;
		}
		if (!take_attr(p, end, 'p', &val, &val_len)) {
			errbuf_set(err, err_len, MALFORMED "Expected attribute \"p\".");
			return -EBADMSG;
		}
		if (val_len != strlen(SCRAM_SERVER_CB_TYPE) ||
		    memcmp(val, SCRAM_SERVER_CB_TYPE, val_len) != 0) {
			shown(val, val_len, show, sizeof show);
			errbuf_set(err, err_len, "unsupported SCRAM channel-binding type \"%s\"",
			           show);
			return -EBADMSG;
		}
		ss->cbind_flag = 'p';
		break;
	default:
		shown(*p, *p < end ? 1 : 0, show, sizeof show);
		errbuf_set(err, err_len, MALFORMED "Unexpected channel-binding flag \"%s\".", show);
		return -EBADMSG;
	}
	if (!take_comma(p, end)) {
		errbuf_set(err, err_len,
		           MALFORMED "Comma expected after the channel-binding flag.");
		return -EBADMSG;
	}
	if (*p < end && **p == 'a') {
		errbuf_set(err, err_len,
		           "client uses authorization identity, but it is not supported");
		return -EBADMSG;
	}
	if (!take_comma(p, end)) {
		errbuf_set(err, err_len, MALFORMED "Unexpected attribute in client-first-message.");
		return -EBADMSG;
	}
	return 0;
}

int scram_server_client_first(scram_server *ss, const uint8_t *msg, size_t len, char *err,
                              size_t err_len)
{
	const char *p, *end, *bare, *val;
	size_t val_len;
	int rc;

	if (ss == NULL || (msg == NULL && len > 0))
		return -EINVAL;
	if (ss->state != SCRAM_SERVER_WAIT_CLIENT_FIRST)
		return wrong_state(ss, "client-first-message", err, err_len);
	rc = check_msg(ss, msg, len, "client-first-message", err, err_len);
	if (rc < 0)
		return rc;
	p = (const char *)msg;
	end = p + len;
	rc = parse_gs2(ss, &p, end, err, err_len);
	if (rc < 0)
		return fail(ss, rc);

	bare = p;
	if (p < end && *p == 'm') {
		errbuf_set(err, err_len, "client requires an unsupported SCRAM extension");
		return fail(ss, -EBADMSG);
	}
	/* n=<saslname>: PostgreSQL ignores it and uses the startup user. */
	if (!take_attr(&p, end, 'n', &val, &val_len) || !saslname_ok(val, val_len)) {
		errbuf_set(err, err_len, MALFORMED "Expected a user name attribute (n=).");
		return fail(ss, -EBADMSG);
	}
	if (!take_comma(&p, end) || !take_attr(&p, end, 'r', &val, &val_len) || val_len == 0) {
		errbuf_set(err, err_len, MALFORMED "Expected a nonce attribute (r=).");
		return fail(ss, -EBADMSG);
	}
	if (!printable(val, val_len)) {
		errbuf_set(err, err_len, MALFORMED "non-printable characters in SCRAM nonce");
		return fail(ss, -EBADMSG);
	}
	if (val_len > SCRAM_SERVER_MAX_NONCE) {
		errbuf_set(err, err_len, MALFORMED "SCRAM nonce longer than %d characters",
		           SCRAM_SERVER_MAX_NONCE);
		return fail(ss, -EBADMSG);
	}
	if (p != end) {
		errbuf_set(err, err_len,
		           MALFORMED "Unsupported attribute after the nonce in "
		                     "client-first-message.");
		return fail(ss, -EBADMSG);
	}
	ss->bare_len = (size_t)(end - bare);
	memcpy(ss->bare, bare, ss->bare_len);
	ss->bare[ss->bare_len] = '\0';
	ss->cnonce_off = (size_t)(val - bare);
	ss->cnonce_len = val_len;
	ss->state = SCRAM_SERVER_GOT_CLIENT_FIRST;
	return 0;
}

int scram_server_server_first_with_nonce(scram_server *ss, const uint8_t *salt, size_t salt_len,
                                         uint32_t iterations, const char *nonce, char *out,
                                         size_t out_size, size_t *out_len, char *err,
                                         size_t err_len)
{
	char salt64[B64_LEN(SCRAM_VERIFIER_MAX_SALT) + 1];
	size_t nonce_len;
	int n;

	if (ss == NULL || salt == NULL || nonce == NULL || out == NULL || out_len == NULL)
		return -EINVAL;
	if (ss->state != SCRAM_SERVER_GOT_CLIENT_FIRST)
		return wrong_state(ss, "server-first-message", err, err_len);
	nonce_len = strlen(nonce);
	if (salt_len == 0 || salt_len > SCRAM_VERIFIER_MAX_SALT || iterations < 1 ||
	    iterations > SCRAM_VERIFIER_MAX_ITER || nonce_len == 0 ||
	    nonce_len > SCRAM_SERVER_MAX_OUR_NONCE || !printable(nonce, nonce_len)) {
		errbuf_set(err, err_len,
		           "SCRAM server-first: salt, iterations or nonce out of range");
		return -EINVAL;
	}
	if (scram_verifier_b64_encode(salt, salt_len, salt64, sizeof salt64) < 0) {
		errbuf_set(err, err_len, "SCRAM: cannot encode the salt");
		return fail(ss, -EIO);
	}
	/* Fits: 2 + 256 + 64 + 3 + 88 + 3 + 9 < SCRAM_SERVER_FIRST_MAX */
	n = snprintf(ss->server_first, sizeof ss->server_first, "r=%.*s%s,s=%s,i=%u",
	             (int)ss->cnonce_len, ss->bare + ss->cnonce_off, nonce, salt64, iterations);
	if (n < 0 || (size_t)n >= sizeof ss->server_first) {
		errbuf_set(err, err_len, "SCRAM server-first: message too long");
		return fail(ss, -EIO);
	}
	if (out_size < (size_t)n) {
		errbuf_set(err, err_len, "SCRAM server-first: buffer too small");
		return -ENOSPC;
	}
	ss->server_first_len = (size_t)n;
	ss->nonce_len = ss->cnonce_len + nonce_len;
	memcpy(out, ss->server_first, (size_t)n);
	*out_len = (size_t)n;
	ss->state = SCRAM_SERVER_WAIT_CLIENT_FINAL;
	return 0;
}

int scram_server_server_first(scram_server *ss, const uint8_t *salt, size_t salt_len,
                              uint32_t iterations, char *out, size_t out_size, size_t *out_len,
                              char *err, size_t err_len)
{
	uint8_t raw[SCRAM_SERVER_NONCE_RAW_LEN];
	char nonce[B64_LEN(SCRAM_SERVER_NONCE_RAW_LEN) + 1];
	int rc;

	if (RAND_bytes(raw, sizeof raw) != 1 ||
	    scram_verifier_b64_encode(raw, sizeof raw, nonce, sizeof nonce) < 0) {
		OPENSSL_cleanse(raw, sizeof raw);
		errbuf_set(err, err_len, "SCRAM: no random bytes for the nonce");
		return ss != NULL ? fail(ss, -EIO) : -EINVAL;
	}
	OPENSSL_cleanse(raw, sizeof raw);
	rc = scram_server_server_first_with_nonce(ss, salt, salt_len, iterations, nonce, out,
	                                          out_size, out_len, err, err_len);
	OPENSSL_cleanse(nonce, sizeof nonce);
	return rc;
}

/* The c= value we expect: base64(gs2 header [|| channel binding data]). */
static int expected_cbind(const scram_server *ss, char *out, size_t out_size)
{
	uint8_t input[GS2_MAX + SCRAM_SERVER_MAX_CB_DATA];
	size_t n;

	if (ss->cbind_flag == 'p') {
		n = strlen("p=" SCRAM_SERVER_CB_TYPE ",,");
		memcpy(input, "p=" SCRAM_SERVER_CB_TYPE ",,", n);
		memcpy(input + n, ss->cb_data, ss->cb_len);
		n += ss->cb_len;
	} else {
		input[0] = (uint8_t)ss->cbind_flag;
		input[1] = ',';
		input[2] = ',';
		n = 3;
	}
	return scram_verifier_b64_encode(input, n, out, out_size);
}

int scram_server_client_final(scram_server *ss, const uint8_t *msg, size_t len, char *err,
                              size_t err_len)
{
	char expect[B64_LEN(GS2_MAX + SCRAM_SERVER_MAX_CB_DATA) + 1];
	const char *p, *end, *val;
	uint8_t proof[SCRAM_SERVER_KEY_LEN + 3];
	size_t val_len, without_proof;
	int rc, n;

	if (ss == NULL || (msg == NULL && len > 0))
		return -EINVAL;
	if (ss->state != SCRAM_SERVER_WAIT_CLIENT_FINAL)
		return wrong_state(ss, "client-final-message", err, err_len);
	rc = check_msg(ss, msg, len, "client-final-message", err, err_len);
	if (rc < 0)
		return rc;
	p = (const char *)msg;
	end = p + len;

	/* c=<base64 of gs2 header and channel binding data> */
	if (!take_attr(&p, end, 'c', &val, &val_len)) {
		errbuf_set(err, err_len, MALFORMED "Expected a channel-binding attribute (c=).");
		return fail(ss, -EBADMSG);
	}
	n = expected_cbind(ss, expect, sizeof expect);
	if (n < 0) {
		errbuf_set(err, err_len, "SCRAM: cannot encode the channel binding");
		return fail(ss, -EIO);
	}
	if (val_len != (size_t)n || memcmp(val, expect, val_len) != 0) {
		errbuf_set(err, err_len, "%s",
		           ss->cbind_flag == 'p' ? "SCRAM channel binding check failed"
		                                 : "unexpected SCRAM channel-binding attribute in "
		                                   "client-final-message");
		return fail(ss, -EBADMSG);
	}
	/* r=<combined nonce> */
	if (!take_comma(&p, end) || !take_attr(&p, end, 'r', &val, &val_len)) {
		errbuf_set(err, err_len, MALFORMED "Expected a nonce attribute (r=).");
		return fail(ss, -EBADMSG);
	}
	if (val_len != ss->nonce_len || memcmp(val, ss->server_first + 2, val_len) != 0) {
		errbuf_set(err, err_len, "invalid SCRAM response: Nonce does not match.");
		return fail(ss, -EBADMSG);
	}
	without_proof = (size_t)(p - (const char *)msg);
	/* p=<proof>: no extension may come before it */
	if (!take_comma(&p, end) || !take_attr(&p, end, 'p', &val, &val_len)) {
		errbuf_set(err, err_len,
		           MALFORMED "Expected the proof attribute (p=) after the nonce; "
		                     "extensions are not supported.");
		return fail(ss, -EBADMSG);
	}
	if (p != end) {
		errbuf_set(err, err_len,
		           MALFORMED "Garbage found at the end of client-final-message.");
		return fail(ss, -EBADMSG);
	}
	n = scram_verifier_b64_decode(val, val_len, proof, sizeof proof);
	if (n != SCRAM_SERVER_KEY_LEN) {
		OPENSSL_cleanse(proof, sizeof proof);
		errbuf_set(err, err_len, MALFORMED "Malformed proof in client-final-message.");
		return fail(ss, -EBADMSG);
	}
	memcpy(ss->proof, proof, SCRAM_SERVER_KEY_LEN);
	OPENSSL_cleanse(proof, sizeof proof);
	memcpy(ss->final_wo_proof, msg, without_proof);
	ss->final_wo_proof[without_proof] = '\0';
	ss->final_len = without_proof;
	ss->state = SCRAM_SERVER_GOT_CLIENT_FINAL;
	return 0;
}

int scram_server_verify(scram_server *ss, const uint8_t stored_key[SCRAM_SERVER_KEY_LEN],
                        const uint8_t server_key[SCRAM_SERVER_KEY_LEN],
                        uint8_t client_key[SCRAM_SERVER_KEY_LEN], char *out, size_t out_size,
                        size_t *out_len, char *err, size_t err_len)
{
	char auth_msg[SCRAM_SERVER_MAX_MSG + 1 + SCRAM_SERVER_FIRST_MAX + 1 + SCRAM_SERVER_MAX_MSG];
	uint8_t sig[SCRAM_SERVER_KEY_LEN], ck[SCRAM_SERVER_KEY_LEN], h[SCRAM_SERVER_KEY_LEN];
	char v[B64_LEN(SCRAM_SERVER_KEY_LEN) + 1];
	unsigned int h_len = 0;
	size_t am_len = 0;
	bool ok, match = false;

	if (ss == NULL || stored_key == NULL || server_key == NULL || out == NULL ||
	    out_len == NULL)
		return -EINVAL;
	if (ss->state != SCRAM_SERVER_GOT_CLIENT_FINAL)
		return wrong_state(ss, "proof check", err, err_len);
	if (out_size < SCRAM_SERVER_FINAL_LEN) {
		errbuf_set(err, err_len, "SCRAM server-final: buffer too small");
		return -ENOSPC;
	}

	/* AuthMessage = client-first-message-bare "," server-first-message ","
	 *               client-final-message-without-proof */
	memcpy(auth_msg, ss->bare, ss->bare_len);
	am_len = ss->bare_len;
	auth_msg[am_len++] = ',';
	memcpy(auth_msg + am_len, ss->server_first, ss->server_first_len);
	am_len += ss->server_first_len;
	auth_msg[am_len++] = ',';
	memcpy(auth_msg + am_len, ss->final_wo_proof, ss->final_len);
	am_len += ss->final_len;

	/* ClientKey = proof XOR HMAC(StoredKey, AuthMessage); H(ClientKey) must
	 * be StoredKey.  Then ServerSignature = HMAC(ServerKey, AuthMessage). */
	ok = scram_verifier_hmac(stored_key, SCRAM_SERVER_KEY_LEN, auth_msg, am_len, sig);
	if (ok) {
		for (size_t i = 0; i < SCRAM_SERVER_KEY_LEN; i++)
			ck[i] = ss->proof[i] ^ sig[i];
		ok = EVP_Digest(ck, sizeof ck, h, &h_len, EVP_sha256(), NULL) &&
		     h_len == SCRAM_SERVER_KEY_LEN;
		match = ok && CRYPTO_memcmp(h, stored_key, SCRAM_SERVER_KEY_LEN) == 0;
	}
	if (match)
		ok = scram_verifier_hmac(server_key, SCRAM_SERVER_KEY_LEN, auth_msg, am_len, sig) &&
		     scram_verifier_b64_encode(sig, sizeof sig, v, sizeof v) > 0;
	OPENSSL_cleanse(sig, sizeof sig);
	OPENSSL_cleanse(h, sizeof h);
	if (!ok || !match) {
		OPENSSL_cleanse(ck, sizeof ck);
		OPENSSL_cleanse(v, sizeof v);
		errbuf_set(err, err_len, "%s",
		           ok ? "SCRAM proof did not match" : "SCRAM: crypto library failure");
		return fail(ss, ok ? -EACCES : -EIO);
	}
	if (client_key != NULL)
		memcpy(client_key, ck, SCRAM_SERVER_KEY_LEN);
	OPENSSL_cleanse(ck, sizeof ck);
	memcpy(out, "v=", 2);
	memcpy(out + 2, v, SCRAM_SERVER_FINAL_LEN - 2);
	OPENSSL_cleanse(v, sizeof v);
	*out_len = SCRAM_SERVER_FINAL_LEN;
	/* Nothing of the exchange is needed any more. */
	scram_server_clear(ss);
	ss->state = SCRAM_SERVER_DONE;
	return 0;
}
