/*
 * admin_util.c — pgsluice-admin: messages and the password sources shared
 * by the commands.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "admin_util.h"

/* A --password-file is read whole (bounded), then its first line taken. */
#define PASSWORD_FILE_MAX (64u << 10)

void admin_msg(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, ADMIN_PROG ": %s\n", line);
}

/* A library error text, or strerror when it left none. */
static const char *err_or(const char *err, int rc)
{
	return err[0] != '\0' ? err : strerror(rc < 0 ? -rc : rc);
}

/* ------------------------------------------------------------ passwords */

/* Refuse an empty or overlong password, or one holding a NUL byte; what
 * names its source in the message. */
static int password_ok(const char *what, const char *pw, size_t len)
{
	if (len == 0) {
		admin_msg("%s: the password is empty", what);
		return ADMIN_ERROR;
	}
	if (len > VAULT_MAX_SECRET) {
		admin_msg("%s: the password is longer than %d bytes", what, VAULT_MAX_SECRET);
		return ADMIN_ERROR;
	}
	if (memchr(pw, '\0', len) != NULL) {
		admin_msg("%s: the password contains a NUL byte", what);
		return ADMIN_ERROR;
	}
	return ADMIN_OK;
}

/* ADMIN_GENERATED_LEN characters from [A-Za-z0-9]: random bytes of 248 or
 * more are dropped, so that each of the 62 characters is equally likely
 * (248 = 4 * 62). */
static int password_generate(char *buf, size_t *len)
{
	static const char alphabet[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	const unsigned n = sizeof alphabet - 1, limit = 256 - 256 % n;
	unsigned char rnd[64];
	size_t got = 0;
	int tries = 0;

	while (got < ADMIN_GENERATED_LEN) {
		if (++tries > 100 || RAND_bytes(rnd, sizeof rnd) != 1) {
			admin_msg("--generate: the random number generator failed");
			OPENSSL_cleanse(rnd, sizeof rnd);
			OPENSSL_cleanse(buf, ADMIN_PASSWORD_BUF);
			return ADMIN_ERROR;
		}
		for (size_t i = 0; i < sizeof rnd && got < ADMIN_GENERATED_LEN; i++)
			if (rnd[i] < limit)
				buf[got++] = alphabet[rnd[i] % n];
	}
	OPENSSL_cleanse(rnd, sizeof rnd);
	buf[got] = '\0';
	*len = got;
	return ADMIN_OK;
}

/* The first line of a private file, without "\n" or "\r\n". */
static int password_from_file(const char *path, char *buf, size_t *len)
{
	char err[512] = "", *text = NULL, *nl;
	size_t text_len = 0, line;
	int rc;

	rc = vault_read_private(path, PASSWORD_FILE_MAX, &text, &text_len, err, sizeof err);
	if (rc == -EFBIG) {
		admin_msg("%s: larger than %u bytes", path, PASSWORD_FILE_MAX);
		return ADMIN_ERROR;
	}
	if (rc < 0) {
		admin_msg("%s", err_or(err, rc));
		return ADMIN_ERROR;
	}
	nl = memchr(text, '\n', text_len);
	line = nl != NULL ? (size_t)(nl - text) : text_len;
	if (line > 0 && text[line - 1] == '\r')
		line--;
	rc = password_ok(path, text, line);
	if (rc == ADMIN_OK) {
		memcpy(buf, text, line);
		buf[line] = '\0';
		*len = line;
	}
	vault_buf_free(text, text_len);
	return rc;
}

/* Asked twice on /dev/tty; both answers must match. */
static int password_from_tty(const char *user, char *buf, size_t *len)
{
	char again[ADMIN_PASSWORD_BUF], prompt[128], err[512] = "";
	size_t again_len = 0;
	int rc, ret;

	snprintf(prompt, sizeof prompt, "Password for user \"%s\": ", user);
	rc = vault_tty_read(prompt, buf, ADMIN_PASSWORD_BUF, len, err, sizeof err);
	if (rc == -ENXIO) {
		admin_msg("no password: give --password-file, set %s, run on a terminal or "
		          "use --generate",
		          ADMIN_ENV_PASSWORD);
		return ADMIN_ERROR;
	}
	if (rc < 0) {
		admin_msg("password: %s", err_or(err, rc));
		return ADMIN_ERROR;
	}
	ret = password_ok("terminal", buf, *len);
	if (ret != ADMIN_OK)
		return ret;
	rc = vault_tty_read("Repeat the password: ", again, sizeof again, &again_len, err,
	                    sizeof err);
	if (rc < 0) {
		admin_msg("password: %s", err_or(err, rc));
		ret = ADMIN_ERROR;
	} else if (again_len != *len || CRYPTO_memcmp(again, buf, again_len) != 0) {
		admin_msg("the two passwords differ");
		ret = ADMIN_ERROR;
	}
	OPENSSL_cleanse(again, sizeof again);
	return ret;
}

int admin_password(const struct admin_opts *o, const char *user, char *buf, size_t *len)
{
	const char *env;
	size_t env_len;
	int rc;

	*len = 0;
	if (o->generate)
		return password_generate(buf, len);
	if (o->password_file != NULL)
		return password_from_file(o->password_file, buf, len);
	env = getenv(ADMIN_ENV_PASSWORD);
	if (env != NULL) {
		env_len = strlen(env);
		rc = password_ok(ADMIN_ENV_PASSWORD, env, env_len);
		if (rc != ADMIN_OK)
			return rc;
		memcpy(buf, env, env_len + 1);
		*len = env_len;
		return ADMIN_OK;
	}
	return password_from_tty(user, buf, len);
}
