/*
 * vault_crypto.c — the vault's cryptography and the master.key text form
 * (see vault_lib.h): PBKDF2-HMAC-SHA256 for the master and entry keys,
 * HMAC-SHA256 for the passphrase check value, AES-256-GCM for entries,
 * HKDF-SHA256 for the keys other concerns derive from the master key
 * (vault_crypto.h).
 *
 * Every key, plaintext and intermediate buffer that held one is wiped with
 * OPENSSL_cleanse() before returning, on error paths too; check values are
 * compared with CRYPTO_memcmp() and GCM compares its tag in constant time.
 * Base64 is the strict codec of scram_verifier.h (alphabet, padding and
 * unused bits checked), so an entry has exactly one text form.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "scram_verifier.h"
#include "vault_crypto.h"
#include "vault_lib.h"
#include "errbuf.h"

#define CHECK_LABEL           "pgsluice master key check v1"
#define AAD_LABEL             "pgsluice-vault" /* then its NUL, the version byte, the user */
#define AAD_MAX               (sizeof AAD_LABEL + 1 + VAULT_MAX_USER)
#define MASTER_MAGIC          "pgsluice-master-key"
#define MASTER_KDF            "pbkdf2-hmac-sha256"
#define MASTER_MAX_ITERATIONS 100000000u /* beyond this an unlock takes minutes: a typo */
#define ENTRY_MIN_RAW         (VAULT_HDR_LEN + VAULT_TAG_LEN)
#define ENTRY_MAX_RAW         (ENTRY_MIN_RAW + VAULT_MAX_SECRET)
#define B64_LEN(n)            (((n) + 2) / 3 * 4)

/* ------------------------------------------------------------ keys */

int vault_kdf(const void *pass, size_t pass_len, const uint8_t *salt, size_t salt_len,
              uint32_t iterations, uint8_t key[VAULT_KEY_LEN])
{
	if (key == NULL)
		return -EINVAL;
	if ((pass == NULL && pass_len > 0) || pass_len > INT_MAX || salt == NULL || salt_len == 0 ||
	    salt_len > INT_MAX || iterations == 0 || iterations > INT_MAX)
		return -EINVAL;
	if (PKCS5_PBKDF2_HMAC(pass != NULL ? pass : "", (int)pass_len, salt, (int)salt_len,
	                      (int)iterations, EVP_sha256(), VAULT_KEY_LEN, key) != 1) {
		OPENSSL_cleanse(key, VAULT_KEY_LEN);
		return -EIO;
	}
	return 0;
}

int vault_derive(const uint8_t mk[VAULT_KEY_LEN], const char *label, uint8_t *out, size_t len)
{
	char digest[] = "SHA256", salt[] = VAULT_DERIVE_SALT;
	char info[sizeof VAULT_DERIVE_INFO - 1 + VAULT_DERIVE_LABEL_MAX];
	size_t label_len, info_len;
	OSSL_PARAM params[5];
	EVP_KDF_CTX *ctx;
	EVP_KDF *kdf;
	int ok;

	if (out == NULL || len == 0 || len > VAULT_DERIVE_MAX)
		return -EINVAL;
	OPENSSL_cleanse(out, len);
	if (mk == NULL || label == NULL)
		return -EINVAL;
	label_len = strnlen(label, VAULT_DERIVE_LABEL_MAX + 1);
	if (label_len == 0 || label_len > VAULT_DERIVE_LABEL_MAX)
		return -EINVAL;
	for (size_t i = 0; i < label_len; i++)
		if (label[i] < 0x21 || label[i] > 0x7e)
			return -EINVAL;
	info_len = sizeof VAULT_DERIVE_INFO - 1;
	memcpy(info, VAULT_DERIVE_INFO, info_len);
	memcpy(info + info_len, label, label_len);
	info_len += label_len;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
	/* OpenSSL copies the key into the context (and wipes it on free);
	 * the parameter only reads it */
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)mk,
	                                              VAULT_KEY_LEN);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, sizeof salt - 1);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, info_len);
	params[4] = OSSL_PARAM_construct_end();
	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
	EVP_KDF_free(kdf); /* the context keeps its own reference */
	ok = ctx != NULL && EVP_KDF_derive(ctx, out, len, params) == 1;
	EVP_KDF_CTX_free(ctx);
	if (!ok) {
		OPENSSL_cleanse(out, len);
		return -EIO;
	}
	return 0;
}

/* HMAC-SHA256(key, CHECK_LABEL): names a wrong passphrase as such. */
static bool check_value(const uint8_t key[VAULT_KEY_LEN], uint8_t out[VAULT_CHECK_LEN])
{
	return scram_verifier_hmac(key, VAULT_KEY_LEN, CHECK_LABEL, sizeof CHECK_LABEL - 1, out);
}

int vault_master_new(const void *pass, size_t pass_len, struct vault_master *m,
                     uint8_t key[VAULT_KEY_LEN])
{
	int rc;

	if (m == NULL || key == NULL)
		return -EINVAL;
	memset(m, 0, sizeof *m);
	if (pass == NULL || pass_len == 0 || pass_len > VAULT_MAX_PASSPHRASE)
		return -EINVAL;
	m->iterations = VAULT_MASTER_ITERATIONS;
	if (RAND_bytes(m->salt, sizeof m->salt) != 1)
		return -EIO;
	rc = vault_kdf(pass, pass_len, m->salt, sizeof m->salt, m->iterations, key);
	if (rc == 0 && !check_value(key, m->check))
		rc = -EIO;
	if (rc < 0) {
		OPENSSL_cleanse(key, VAULT_KEY_LEN);
		memset(m, 0, sizeof *m);
	}
	return rc;
}

bool vault_master_matches(const struct vault_master *m, const uint8_t key[VAULT_KEY_LEN])
{
	uint8_t check[VAULT_CHECK_LEN];
	bool ok;

	if (m == NULL || key == NULL)
		return false;
	ok = check_value(key, check) && CRYPTO_memcmp(check, m->check, sizeof check) == 0;
	OPENSSL_cleanse(check, sizeof check);
	return ok;
}

int vault_master_unlock(const struct vault_master *m, const void *pass, size_t pass_len,
                        uint8_t key[VAULT_KEY_LEN])
{
	int rc;

	if (m == NULL || key == NULL)
		return -EINVAL;
	/* never derive with fewer rounds than a parsed master.key may have */
	if (m->iterations < VAULT_MASTER_ITERATIONS || m->iterations > MASTER_MAX_ITERATIONS)
		return -EINVAL;
	rc = vault_kdf(pass, pass_len, m->salt, sizeof m->salt, m->iterations, key);
	if (rc < 0)
		return rc;
	if (!vault_master_matches(m, key)) {
		OPENSSL_cleanse(key, VAULT_KEY_LEN);
		return -EACCES;
	}
	return 0;
}

/* ------------------------------------------------------------ master.key text */

int vault_master_format(const struct vault_master *m, char *out, size_t out_size)
{
	char salt[B64_LEN(VAULT_SALT_LEN) + 1], check[B64_LEN(VAULT_CHECK_LEN) + 1];
	int n;

	if (out == NULL || out_size == 0)
		return -ENOSPC;
	out[0] = '\0';
	if (m == NULL)
		return -EINVAL;
	if (scram_verifier_b64_encode(m->salt, sizeof m->salt, salt, sizeof salt) < 0 ||
	    scram_verifier_b64_encode(m->check, sizeof m->check, check, sizeof check) < 0)
		return -EINVAL;
	n = snprintf(out, out_size,
	             "# pgsluice master key: salt and check value of the passphrase (the\n"
	             "# passphrase itself is not stored).  Without it no vault opens.\n"
	             "%s %d\n"
	             "kdf %s %u\n"
	             "salt %s\n"
	             "check %s\n",
	             MASTER_MAGIC, VAULT_FORMAT, MASTER_KDF, m->iterations, salt, check);
	if (n < 0 || (size_t)n >= out_size) {
		out[0] = '\0';
		return -ENOSPC;
	}
	return 0;
}

/* Split [p, end) at runs of blanks into at most max words; returns the
 * number of words, max + 1 when there are more. */
static size_t split_words(const char *p, const char *end, const char **w, size_t *wl, size_t max)
{
	size_t n = 0;

	for (;;) {
		const char *s;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			return n;
		if (n == max)
			return max + 1;
		for (s = p; p < end && *p != ' ' && *p != '\t'; p++)
			;
		w[n] = s;
		wl[n++] = (size_t)(p - s);
	}
}

static bool word_is(const char *w, size_t wl, const char *lit)
{
	return wl == strlen(lit) && memcmp(w, lit, wl) == 0;
}

/* Plain decimal, 1 to 10 digits, fitting a uint32_t. */
static bool parse_u32(const char *w, size_t wl, uint32_t *out)
{
	uint64_t v = 0;

	if (wl == 0 || wl > 10)
		return false;
	for (size_t i = 0; i < wl; i++) {
		if (w[i] < '0' || w[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(w[i] - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Decode base64 of exactly want bytes into out. */
static bool decode_exact(const char *w, size_t wl, uint8_t *out, size_t want)
{
	uint8_t tmp[VAULT_CHECK_LEN];
	int n;

	if (want > sizeof tmp || wl != B64_LEN(want))
		return false;
	n = scram_verifier_b64_decode(w, wl, tmp, sizeof tmp);
	if (n != (int)want)
		return false;
	memcpy(out, tmp, want);
	return true;
}

/* One line after the header: "kdf ...", "salt ..." or "check ...". */
static int master_line(const char *name, unsigned lineno, const char **w, size_t *wl, size_t nw,
                       struct vault_master *m, unsigned *seen, char *err, size_t err_size)
{
	static const char *const keys[] = {"kdf", "salt", "check"};
	unsigned k;

	for (k = 0; k < 3 && !word_is(w[0], wl[0], keys[k]); k++)
		;
	if (k == 3) {
		errbuf_set(err, err_size, "%s:%u: unknown line (expected kdf, salt or check)", name,
		           lineno);
		return -EINVAL;
	}
	if (*seen & (1u << k)) {
		errbuf_set(err, err_size, "%s:%u: second %s line", name, lineno, keys[k]);
		return -EINVAL;
	}
	*seen |= 1u << k;
	switch (k) {
	case 0:
		if (nw != 3 || !word_is(w[1], wl[1], MASTER_KDF)) {
			errbuf_set(err, err_size, "%s:%u: expected \"kdf %s <iterations>\"", name,
			           lineno, MASTER_KDF);
			return -EINVAL;
		}
		if (!parse_u32(w[2], wl[2], &m->iterations) ||
		    m->iterations > MASTER_MAX_ITERATIONS) {
			errbuf_set(err, err_size, "%s:%u: iteration count is not a number up to %u",
			           name, lineno, MASTER_MAX_ITERATIONS);
			return -EINVAL;
		}
		if (m->iterations < VAULT_MASTER_ITERATIONS) {
			errbuf_set(err, err_size,
			           "%s:%u: %u iterations are fewer than the %u required", name,
			           lineno, m->iterations, VAULT_MASTER_ITERATIONS);
			return -EINVAL;
		}
		return 0;
	case 1:
		if (nw != 2 || !decode_exact(w[1], wl[1], m->salt, VAULT_SALT_LEN)) {
			errbuf_set(err, err_size, "%s:%u: salt is not base64 of %d bytes", name,
			           lineno, VAULT_SALT_LEN);
			return -EINVAL;
		}
		return 0;
	default:
		if (nw != 2 || !decode_exact(w[1], wl[1], m->check, VAULT_CHECK_LEN)) {
			errbuf_set(err, err_size, "%s:%u: check is not base64 of %d bytes", name,
			           lineno, VAULT_CHECK_LEN);
			return -EINVAL;
		}
		return 0;
	}
}

/* The header line "pgsluice-master-key 1". */
static int master_header(const char *name, unsigned lineno, const char **w, size_t *wl, size_t nw,
                         char *err, size_t err_size)
{
	uint32_t version;

	if (nw != 2 || !word_is(w[0], wl[0], MASTER_MAGIC) || !parse_u32(w[1], wl[1], &version)) {
		errbuf_set(err, err_size, "%s:%u: expected \"%s %d\" (is this a master key file?)",
		           name, lineno, MASTER_MAGIC, VAULT_FORMAT);
		return -EINVAL;
	}
	if (version != VAULT_FORMAT) {
		errbuf_set(err, err_size,
		           "%s:%u: master key format version %u is not supported (this build reads "
		           "%d)",
		           name, lineno, version, VAULT_FORMAT);
		return -EINVAL;
	}
	return 0;
}

int vault_master_parse(const char *text, size_t len, const char *name, struct vault_master *m,
                       char *err, size_t err_size)
{
	const char *p = text, *end = text + len;
	unsigned lineno = 0, seen = 0;
	bool header = false;
	int rc = 0;

	errbuf_set(err, err_size, "%s", "");
	if (m == NULL || (text == NULL && len > 0))
		return -EINVAL;
	memset(m, 0, sizeof *m);
	if (name == NULL)
		name = "master.key";
	if (len > VAULT_MAX_FILE) {
		errbuf_set(err, err_size, "%s: larger than %u bytes", name, VAULT_MAX_FILE);
		return -EFBIG;
	}
	while (p < end && rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line = p, *eol = nl != NULL ? nl : end;
		const char *w[3];
		size_t wl[3], nw;

		p = nl != NULL ? nl + 1 : end;
		lineno++;
		if (eol - line > VAULT_MAX_LINE) {
			errbuf_set(err, err_size, "%s:%u: line longer than %d bytes", name, lineno,
			           VAULT_MAX_LINE);
			rc = -E2BIG;
			break;
		}
		while (eol > line && eol[-1] == '\r') /* CRLF line ends */
			eol--;
		if (memchr(line, '\0', (size_t)(eol - line)) != NULL) {
			errbuf_set(err, err_size, "%s:%u: NUL byte in the line", name, lineno);
			rc = -EINVAL;
			break;
		}
		if (line < eol && *line == '#')
			continue;
		nw = split_words(line, eol, w, wl, 3);
		if (nw == 0)
			continue;
		if (nw > 3) {
			errbuf_set(err, err_size, "%s:%u: too many words", name, lineno);
			rc = -EINVAL;
		} else if (!header) {
			rc = master_header(name, lineno, w, wl, nw, err, err_size);
			header = true;
		} else {
			rc = master_line(name, lineno, w, wl, nw, m, &seen, err, err_size);
		}
	}
	if (rc == 0 && !header) {
		errbuf_set(err, err_size, "%s: no \"%s %d\" line (is this a master key file?)",
		           name, MASTER_MAGIC, VAULT_FORMAT);
		rc = -EINVAL;
	} else if (rc == 0 && seen != 7) {
		errbuf_set(err, err_size, "%s: no %s line", name,
		           !(seen & 1)   ? "kdf"
		           : !(seen & 2) ? "salt"
		                         : "check");
		rc = -EINVAL;
	}
	if (rc < 0)
		memset(m, 0, sizeof *m);
	return rc;
}

/* ------------------------------------------------------------ entries */

int vault_user_check(const char *user, char *err, size_t err_size)
{
	size_t len;

	if (user == NULL || user[0] == '\0') {
		errbuf_set(err, err_size, "empty user name");
		return -EINVAL;
	}
	len = strnlen(user, VAULT_MAX_USER + 1);
	if (len > VAULT_MAX_USER) {
		errbuf_set(err, err_size, "user name longer than %d bytes", VAULT_MAX_USER);
		return -E2BIG;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)user[i];

		if (c < 0x20 || c == 0x7f) {
			errbuf_set(err, err_size, "user name contains a control character");
			return -EINVAL;
		}
	}
	/* the file format would read such a line as a comment */
	if (user[0] == '#') {
		errbuf_set(err, err_size, "user name begins with '#'");
		return -EINVAL;
	}
	return 0;
}

size_t vault_entry_text_len(size_t secret_len)
{
	if (secret_len > SIZE_MAX / 2)
		return SIZE_MAX;
	return B64_LEN(ENTRY_MIN_RAW + secret_len);
}

/* "pgsluice-vault" NUL, the version byte, the user: binds an entry to its
 * user and to the format. */
static size_t build_aad(const char *user, uint8_t aad[AAD_MAX])
{
	size_t ulen = strlen(user); /* checked: at most VAULT_MAX_USER */

	memcpy(aad, AAD_LABEL, sizeof AAD_LABEL);
	aad[sizeof AAD_LABEL] = VAULT_FORMAT;
	memcpy(aad + sizeof AAD_LABEL + 1, user, ulen);
	return sizeof AAD_LABEL + 1 + ulen;
}

/* The entry key: PBKDF2 with one round over the master key and the
 * entry's salt (a fresh key per entry, so nonces never repeat under one). */
static int entry_key(const uint8_t mk[VAULT_KEY_LEN], const uint8_t salt[VAULT_SALT_LEN],
                     uint8_t key[VAULT_KEY_LEN])
{
	return vault_kdf(mk, VAULT_KEY_LEN, salt, VAULT_SALT_LEN, 1, key);
}

/*
 * AES-256-GCM over len bytes of in into out (len bytes).  Encrypting
 * writes tag; decrypting checks it: -EBADMSG when it does not match.
 */
static int gcm(bool encrypt, const uint8_t key[VAULT_KEY_LEN], const uint8_t nonce[VAULT_NONCE_LEN],
               const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
               uint8_t tag[VAULT_TAG_LEN])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t none[1];
	int n, rc = -EIO;

	if (ctx == NULL)
		return -ENOMEM;
	if (out == NULL)
		out = none; /* len is 0 then */
	if (EVP_CipherInit_ex2(ctx, EVP_aes_256_gcm(), NULL, NULL, encrypt, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, VAULT_NONCE_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex2(ctx, NULL, key, nonce, encrypt, NULL) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
		goto out;
	if (len > 0 && (EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1 || (size_t)n != len))
		goto out;
	if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, VAULT_TAG_LEN, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1) {
		rc = encrypt ? -EIO : -EBADMSG;
		goto out;
	}
	if (encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, VAULT_TAG_LEN, tag) != 1)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx); /* wipes the key schedule */
	return rc;
}

int vault_entry_seal(const uint8_t mk[VAULT_KEY_LEN], const char *user, const void *secret,
                     size_t secret_len, char *out, size_t out_size)
{
	uint8_t raw[ENTRY_MAX_RAW], key[VAULT_KEY_LEN], aad[AAD_MAX];
	size_t aad_len, raw_len = ENTRY_MIN_RAW + secret_len;
	int rc;

	if (out != NULL && out_size > 0)
		out[0] = '\0';
	if (mk == NULL || vault_user_check(user, NULL, 0) < 0 || (secret == NULL && secret_len > 0))
		return -EINVAL;
	if (secret_len > VAULT_MAX_SECRET)
		return -E2BIG;
	/* the wire protocol carries secrets as C strings: one with a NUL
	 * would be cut short by whoever reads it back */
	if (secret_len > 0 && memchr(secret, '\0', secret_len) != NULL)
		return -EINVAL;
	if (out == NULL || out_size <= vault_entry_text_len(secret_len))
		return -ENOSPC;
	if (RAND_bytes(raw, VAULT_HDR_LEN) != 1)
		return -EIO;
	aad_len = build_aad(user, aad);
	rc = entry_key(mk, raw, key);
	if (rc == 0)
		rc = gcm(true, key, raw + VAULT_SALT_LEN, aad, aad_len, secret, secret_len,
		         raw + VAULT_HDR_LEN, raw + VAULT_HDR_LEN + secret_len);
	if (rc == 0 && scram_verifier_b64_encode(raw, raw_len, out, out_size) < 0)
		rc = -ENOSPC;
	OPENSSL_cleanse(key, sizeof key);
	OPENSSL_cleanse(raw, sizeof raw);
	return rc;
}

int vault_entry_open(const uint8_t mk[VAULT_KEY_LEN], const char *user, const char *text,
                     size_t text_len, uint8_t *out, size_t out_size, size_t *out_len)
{
	uint8_t raw[ENTRY_MAX_RAW], key[VAULT_KEY_LEN], aad[AAD_MAX];
	size_t aad_len, ct_len;
	int n, rc;

	if (out_len != NULL)
		*out_len = 0;
	if (mk == NULL || out_len == NULL || vault_user_check(user, NULL, 0) < 0)
		return -EINVAL;
	if (text == NULL || text_len % 4 != 0 || text_len < B64_LEN(ENTRY_MIN_RAW) ||
	    text_len > B64_LEN(ENTRY_MAX_RAW))
		return -EINVAL;
	n = scram_verifier_b64_decode(text, text_len, raw, sizeof raw);
	if (n < ENTRY_MIN_RAW) {
		OPENSSL_cleanse(raw, sizeof raw);
		return -EINVAL;
	}
	ct_len = (size_t)n - ENTRY_MIN_RAW;
	if (ct_len > out_size || (out == NULL && ct_len > 0)) {
		OPENSSL_cleanse(raw, sizeof raw);
		return -ENOSPC;
	}
	aad_len = build_aad(user, aad);
	rc = entry_key(mk, raw, key);
	if (rc == 0)
		rc = gcm(false, key, raw + VAULT_SALT_LEN, aad, aad_len, raw + VAULT_HDR_LEN,
		         ct_len, out, raw + VAULT_HDR_LEN + ct_len);
	if (rc == 0) {
		*out_len = ct_len;
		if (out_size > ct_len)
			out[ct_len] = '\0';
	} else if (out != NULL) {
		OPENSSL_cleanse(out, ct_len); /* never hand out unauthenticated plaintext */
	}
	OPENSSL_cleanse(key, sizeof key);
	OPENSSL_cleanse(raw, sizeof raw);
	return rc;
}
