/*
 * md5_hash.c — PostgreSQL's MD5 password hashing with OpenSSL's EVP MD5.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "md5_hash.h"

int md5_hash_hex(const void *a, size_t a_len, const void *b, size_t b_len,
                 char out[MD5_HASH_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;
	EVP_MD_CTX *ctx;
	int ok;

	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return -EIO;
	ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) && EVP_DigestUpdate(ctx, a, a_len) &&
	     EVP_DigestUpdate(ctx, b, b_len) && EVP_DigestFinal_ex(ctx, digest, &digest_len) &&
	     digest_len * 2 == MD5_HASH_HEX_LEN;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		OPENSSL_cleanse(digest, sizeof digest);
		return -EIO;
	}
	for (unsigned int i = 0; i < digest_len; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 0xf];
	}
	out[MD5_HASH_HEX_LEN] = '\0';
	OPENSSL_cleanse(digest, sizeof digest);
	return 0;
}

int md5_hash_password(const uint8_t *password, size_t password_len, const char *user,
                      char out[MD5_HASH_STORED_LEN + 1])
{
	memcpy(out, "md5", 3);
	return md5_hash_hex(password, password_len, user, strlen(user), out + 3);
}

int md5_hash_salted(const char inner_hex[MD5_HASH_HEX_LEN], const uint8_t salt[MD5_HASH_SALT_LEN],
                    char out[MD5_HASH_STORED_LEN + 1])
{
	memcpy(out, "md5", 3);
	return md5_hash_hex(inner_hex, MD5_HASH_HEX_LEN, salt, MD5_HASH_SALT_LEN, out + 3);
}

bool md5_hash_is_stored(const uint8_t *s, size_t len)
{
	if (len != MD5_HASH_STORED_LEN || memcmp(s, "md5", 3) != 0)
		return false;
	for (size_t i = 3; i < len; i++) {
		uint8_t c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}
