/*
 * scram_verifier.c — parse, build and check SCRAM-SHA-256 verifiers in
 * PostgreSQL's text form (see scram_verifier.h).
 *
 * Parsing is strict and bounded: the whole text is at most
 * SCRAM_VERIFIER_MAX_TEXT bytes, the iteration count is plain decimal in
 * 1..SCRAM_VERIFIER_MAX_ITER, the salt decodes to 1..SCRAM_VERIFIER_MAX_SALT
 * bytes and each key to exactly 32.  Error texts never carry key material.
 * Intermediate secrets (SaltedPassword, the SASLprep'ed password, derived
 * keys) are wiped with OPENSSL_cleanse() before returning.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "saslprep.h"
#include "scram_verifier.h"
#include "errbuf.h"

#define VERIFIER_PREFIX "SCRAM-SHA-256$"

static const char b64_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ------------------------------------------------------------ base64 */

int scram_verifier_b64_encode(const uint8_t *in, size_t len, char *out, size_t out_size)
{
	size_t need, o = 0;

	if (len > (INT_MAX / 4) * 3 - 3)
		return -ENOSPC;
	need = (len + 2) / 3 * 4;
	if (out == NULL || out_size < need + 1)
		return -ENOSPC;
	for (size_t i = 0; i < len; i += 3) {
		size_t rest = len - i;
		uint32_t v = (uint32_t)in[i] << 16;

		if (rest > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (rest > 2)
			v |= in[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 0x3f];
		out[o++] = b64_alphabet[(v >> 12) & 0x3f];
		out[o++] = rest > 1 ? b64_alphabet[(v >> 6) & 0x3f] : '=';
		out[o++] = rest > 2 ? b64_alphabet[v & 0x3f] : '=';
	}
	out[o] = '\0';
	return (int)o;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int scram_verifier_b64_decode(const char *in, size_t len, uint8_t *out, size_t out_size)
{
	size_t o = 0;

	if (len % 4 != 0 || len / 4 * 3 > (size_t)INT_MAX || (in == NULL && len > 0))
		return -EBADMSG;
	for (size_t i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		int pad = 0, d[4];
		uint32_t v;

		for (int k = 0; k < 4; k++) {
			char c = in[i + k];

			if (c == '=' && last && k >= 2) {
				/* "x=" must be followed by '=' */
				if (k == 2 && in[i + 3] != '=')
					return -EBADMSG;
				d[k] = 0;
				pad++;
				continue;
			}
			d[k] = b64_value(c);
			if (d[k] < 0)
				return -EBADMSG;
		}
		v = (uint32_t)d[0] << 18 | (uint32_t)d[1] << 12 | (uint32_t)d[2] << 6 |
		    (uint32_t)d[3];
		/* canonical only: the bits a padded group leaves over are zero */
		if ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0))
			return -EBADMSG;
		if (o + (size_t)(3 - pad) > out_size)
			return -ENOSPC;
		out[o++] = (uint8_t)(v >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(v >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)v;
	}
	return (int)o;
}

/* ------------------------------------------------------------ parsing */

bool scram_verifier_looks_like(const uint8_t *text, size_t len)
{
	return text != NULL && len >= strlen(VERIFIER_PREFIX) &&
	       memcmp(text, VERIFIER_PREFIX, strlen(VERIFIER_PREFIX)) == 0;
}

/* Take the field at *p up to `stop` (or the end when stop is '\0'). */
static bool take_field(const char **p, const char *end, char stop, const char **val,
                       size_t *val_len)
{
	const char *s = *p, *e;

	e = stop != '\0' ? memchr(s, stop, (size_t)(end - s)) : end;
	if (e == NULL)
		return false;
	*val = s;
	*val_len = (size_t)(e - s);
	*p = e == end ? end : e + 1;
	return true;
}

/* Decode base64 key `name` into exactly SCRAM_VERIFIER_KEY_LEN bytes. */
static int decode_key(const char *val, size_t len, uint8_t out[SCRAM_VERIFIER_KEY_LEN],
                      const char *name, char *err, size_t err_size)
{
	uint8_t buf[SCRAM_VERIFIER_KEY_LEN + 3];
	int n = scram_verifier_b64_decode(val, len, buf, sizeof buf);

	if (n == -EBADMSG) {
		errbuf_set(err, err_size, "%s is not valid base64", name);
		return -EINVAL;
	}
	if (n != SCRAM_VERIFIER_KEY_LEN) {
		OPENSSL_cleanse(buf, sizeof buf);
		errbuf_set(err, err_size, "%s is not %d bytes long", name, SCRAM_VERIFIER_KEY_LEN);
		return -EINVAL;
	}
	memcpy(out, buf, SCRAM_VERIFIER_KEY_LEN);
	OPENSSL_cleanse(buf, sizeof buf);
	return 0;
}

int scram_verifier_parse(const uint8_t *text, size_t len, struct scram_verifier *out, char *err,
                         size_t err_size)
{
	const char *p, *end, *val;
	size_t val_len;
	uint64_t iter = 0;
	int n;

	if (out == NULL) {
		errbuf_set(err, err_size, "no output");
		return -EINVAL;
	}
	memset(out, 0, sizeof *out);
	if (text == NULL || !scram_verifier_looks_like(text, len)) {
		errbuf_set(err, err_size, "not a SCRAM-SHA-256 verifier");
		return -EINVAL;
	}
	if (len > SCRAM_VERIFIER_MAX_TEXT) {
		errbuf_set(err, err_size, "SCRAM verifier longer than %d bytes",
		           SCRAM_VERIFIER_MAX_TEXT);
		return -EINVAL;
	}
	if (memchr(text, '\0', len) != NULL) {
		errbuf_set(err, err_size, "SCRAM verifier contains a NUL byte");
		return -EINVAL;
	}
	p = (const char *)text + strlen(VERIFIER_PREFIX);
	end = (const char *)text + len;

	/* <iterations>: */
	if (!take_field(&p, end, ':', &val, &val_len) || val_len == 0 || val_len > 10 ||
	    (val_len > 1 && val[0] == '0')) {
		errbuf_set(err, err_size, "SCRAM verifier: iteration count missing or malformed");
		goto bad;
	}
	for (size_t i = 0; i < val_len; i++) {
		if (val[i] < '0' || val[i] > '9') {
			errbuf_set(err, err_size,
			           "SCRAM verifier: iteration count is not a number");
			goto bad;
		}
		iter = iter * 10 + (uint64_t)(val[i] - '0');
	}
	if (iter < 1 || iter > SCRAM_VERIFIER_MAX_ITER) {
		errbuf_set(err, err_size, "SCRAM verifier: iteration count not in 1..%u",
		           SCRAM_VERIFIER_MAX_ITER);
		goto bad;
	}
	out->iterations = (uint32_t)iter;

	/* <salt>$ */
	if (!take_field(&p, end, '$', &val, &val_len) || val_len == 0) {
		errbuf_set(err, err_size, "SCRAM verifier: salt missing");
		goto bad;
	}
	n = scram_verifier_b64_decode(val, val_len, out->salt, sizeof out->salt);
	if (n == -EBADMSG) {
		errbuf_set(err, err_size, "SCRAM verifier: salt is not valid base64");
		goto bad;
	}
	if (n <= 0) {
		errbuf_set(err, err_size, "SCRAM verifier: salt empty or longer than %d bytes",
		           SCRAM_VERIFIER_MAX_SALT);
		goto bad;
	}
	out->salt_len = (size_t)n;

	/* <StoredKey>:<ServerKey> */
	if (!take_field(&p, end, ':', &val, &val_len)) {
		errbuf_set(err, err_size, "SCRAM verifier: StoredKey:ServerKey missing");
		goto bad;
	}
	if (decode_key(val, val_len, out->stored_key, "SCRAM verifier: StoredKey", err, err_size) <
	    0)
		goto bad;
	take_field(&p, end, '\0', &val, &val_len);
	if (decode_key(val, val_len, out->server_key, "SCRAM verifier: ServerKey", err, err_size) <
	    0)
		goto bad;
	return 0;
bad:
	scram_verifier_clear(out);
	return -EINVAL;
}

int scram_verifier_format(const struct scram_verifier *v, char *out, size_t out_size)
{
	char salt[(SCRAM_VERIFIER_MAX_SALT + 2) / 3 * 4 + 1];
	char sk[(SCRAM_VERIFIER_KEY_LEN + 2) / 3 * 4 + 1], svk[sizeof sk];
	int n;

	if (v == NULL || out == NULL || v->salt_len == 0 || v->salt_len > SCRAM_VERIFIER_MAX_SALT)
		return -EINVAL;
	if (scram_verifier_b64_encode(v->salt, v->salt_len, salt, sizeof salt) < 0 ||
	    scram_verifier_b64_encode(v->stored_key, SCRAM_VERIFIER_KEY_LEN, sk, sizeof sk) < 0 ||
	    scram_verifier_b64_encode(v->server_key, SCRAM_VERIFIER_KEY_LEN, svk, sizeof svk) < 0)
		return -EINVAL;
	n = snprintf(out, out_size, VERIFIER_PREFIX "%u:%s$%s:%s", v->iterations, salt, sk, svk);
	OPENSSL_cleanse(sk, sizeof sk);
	OPENSSL_cleanse(svk, sizeof svk);
	if (n < 0 || (size_t)n >= out_size) {
		if (out_size > 0)
			OPENSSL_cleanse(out, out_size);
		return -ENOSPC;
	}
	return n;
}

/* ------------------------------------------------------------ derivation */

bool scram_verifier_hmac(const uint8_t *key, size_t key_len, const void *data, size_t len,
                         uint8_t out[SCRAM_VERIFIER_KEY_LEN])
{
	unsigned int out_len = 0;

	if (key_len > INT_MAX)
		return false;
	return HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len) != NULL &&
	       out_len == SCRAM_VERIFIER_KEY_LEN;
}

int scram_verifier_derive_raw(const uint8_t *password, size_t password_len, const uint8_t *salt,
                              size_t salt_len, uint32_t iterations,
                              uint8_t client_key[SCRAM_VERIFIER_KEY_LEN],
                              uint8_t server_key[SCRAM_VERIFIER_KEY_LEN])
{
	uint8_t salted[SCRAM_VERIFIER_KEY_LEN], ck[SCRAM_VERIFIER_KEY_LEN];
	uint8_t sk[SCRAM_VERIFIER_KEY_LEN];
	bool ok;

	if ((password == NULL && password_len > 0) || password_len > INT_MAX ||
	    (salt == NULL && salt_len > 0) || salt_len > INT_MAX || iterations < 1 ||
	    iterations > SCRAM_VERIFIER_MAX_ITER)
		return -EINVAL;
	if (password == NULL)
		password = (const uint8_t *)"";
	ok = PKCS5_PBKDF2_HMAC((const char *)password, (int)password_len, salt, (int)salt_len,
	                       (int)iterations, EVP_sha256(), SCRAM_VERIFIER_KEY_LEN,
	                       salted) == 1 &&
	     scram_verifier_hmac(salted, sizeof salted, "Client Key", 10, ck) &&
	     scram_verifier_hmac(salted, sizeof salted, "Server Key", 10, sk);
	OPENSSL_cleanse(salted, sizeof salted);
	if (ok) {
		if (client_key != NULL)
			memcpy(client_key, ck, sizeof ck);
		if (server_key != NULL)
			memcpy(server_key, sk, sizeof sk);
	}
	OPENSSL_cleanse(ck, sizeof ck);
	OPENSSL_cleanse(sk, sizeof sk);
	return ok ? 0 : -EIO;
}

int scram_verifier_derive(const uint8_t *password, size_t password_len, const uint8_t *salt,
                          size_t salt_len, uint32_t iterations,
                          uint8_t client_key[SCRAM_VERIFIER_KEY_LEN],
                          uint8_t server_key[SCRAM_VERIFIER_KEY_LEN])
{
	char *prepped = NULL;
	size_t prepped_len = 0;
	int rc;

	if ((password == NULL && password_len > 0) || password_len > INT_MAX)
		return -EINVAL;
	switch (saslprep(password, password_len, &prepped, &prepped_len)) {
	case SASLPREP_OK:
		rc = scram_verifier_derive_raw((const uint8_t *)prepped, prepped_len, salt,
		                               salt_len, iterations, client_key, server_key);
		saslprep_free(prepped, prepped_len);
		return rc;
	case SASLPREP_RAW:
		return scram_verifier_derive_raw(password, password_len, salt, salt_len, iterations,
		                                 client_key, server_key);
	default:
		return -ENOMEM;
	}
}

int scram_verifier_from_password(const uint8_t *password, size_t password_len, const uint8_t *salt,
                                 size_t salt_len, uint32_t iterations, struct scram_verifier *out)
{
	uint8_t ck[SCRAM_VERIFIER_KEY_LEN];
	unsigned int len = 0;
	int rc;

	if (out == NULL || salt == NULL || salt_len == 0 || salt_len > SCRAM_VERIFIER_MAX_SALT)
		return -EINVAL;
	memset(out, 0, sizeof *out);
	rc = scram_verifier_derive(password, password_len, salt, salt_len, iterations, ck,
	                           out->server_key);
	if (rc == 0 && (!EVP_Digest(ck, sizeof ck, out->stored_key, &len, EVP_sha256(), NULL) ||
	                len != SCRAM_VERIFIER_KEY_LEN))
		rc = -EIO;
	OPENSSL_cleanse(ck, sizeof ck);
	if (rc < 0) {
		scram_verifier_clear(out);
		return rc;
	}
	out->iterations = iterations;
	memcpy(out->salt, salt, salt_len);
	out->salt_len = salt_len;
	return 0;
}

bool scram_verifier_check_password(const struct scram_verifier *v, const uint8_t *password,
                                   size_t password_len)
{
	struct scram_verifier mine;
	int diff;

	if (v == NULL || v->salt_len == 0 || v->salt_len > SCRAM_VERIFIER_MAX_SALT)
		return false;
	if (scram_verifier_from_password(password, password_len, v->salt, v->salt_len,
	                                 v->iterations, &mine) < 0)
		return false;
	/* Both keys must match; compare both without an early exit. */
	diff = CRYPTO_memcmp(mine.stored_key, v->stored_key, SCRAM_VERIFIER_KEY_LEN) |
	       CRYPTO_memcmp(mine.server_key, v->server_key, SCRAM_VERIFIER_KEY_LEN);
	scram_verifier_clear(&mine);
	return diff == 0;
}

void scram_verifier_clear(struct scram_verifier *v)
{
	if (v != NULL)
		OPENSSL_cleanse(v, sizeof *v);
}
