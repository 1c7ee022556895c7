/*
 * admin_key.c — the master key: where its file is, where its passphrase
 * comes from; "pgsluice-admin master-key" creates the file from a
 * passphrase; admin_unlock() turns the passphrase back into the key for
 * the user commands, checked against the file's check value so that a
 * wrong passphrase is named as such.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "admin_key.h"
#include "admin_util.h"

/* The text form of a master key file is a few short lines. */
#define MASTER_TEXT_MAX 1024

/* The master key file: -k, else master.key in the directory of the vault
 * (no vault: ./master.key). */
static int key_path(const struct admin_opts *o, char *out, size_t out_size)
{
	const char *slash;
	int n;

	if (o->key_file != NULL)
		n = snprintf(out, out_size, "%s", o->key_file);
	else if (o->vault == NULL || (slash = strrchr(o->vault, '/')) == NULL)
		n = snprintf(out, out_size, "%s", ADMIN_KEY_NAME);
	else if (slash == o->vault)
		n = snprintf(out, out_size, "/%s", ADMIN_KEY_NAME);
	else
		n = snprintf(out, out_size, "%.*s/%s", (int)(slash - o->vault), o->vault,
		             ADMIN_KEY_NAME);
	if (n < 0 || (size_t)n >= out_size) {
		admin_msg("master key file path longer than %zu bytes", out_size - 1);
		return ADMIN_ERROR;
	}
	return ADMIN_OK;
}

/* The master key passphrase (vault_passphrase()).  confirm: when it comes
 * from the terminal, ask a second time and require the same text (a new
 * master key).  buf holds ADMIN_PASSPHRASE_BUF bytes; the caller wipes it
 * on every path. */
static int passphrase_get(const struct admin_opts *o, bool confirm, char *buf, size_t *len)
{
	/* vault_passphrase() asks the terminal only when neither the file nor
	 * the environment gives one. */
	bool from_tty = o->passphrase_file == NULL && getenv(VAULT_ENV_PASSPHRASE) == NULL;
	char again[ADMIN_PASSPHRASE_BUF];
	size_t again_len = 0;
	char err[512] = "";
	int rc, ret = ADMIN_OK;

	rc = vault_passphrase(o->passphrase_file, "Master key passphrase: ", buf,
	                      ADMIN_PASSPHRASE_BUF, len, err, sizeof err);
	if (rc == -ENOENT && from_tty) {
		admin_msg("no master key passphrase: give --passphrase-file, set "
		          "%s or run on a terminal",
		          VAULT_ENV_PASSPHRASE);
		return ADMIN_ERROR;
	}
	if (rc < 0) {
		admin_msg("master key passphrase: %s", err[0] ? err : strerror(-rc));
		return ADMIN_ERROR;
	}
	if (!confirm || !from_tty)
		return ADMIN_OK;
	rc = vault_tty_read("Repeat the passphrase: ", again, sizeof again, &again_len, err,
	                    sizeof err);
	if (rc < 0) {
		admin_msg("master key passphrase: %s", err[0] ? err : strerror(-rc));
		ret = ADMIN_ERROR;
	} else if (again_len != *len || CRYPTO_memcmp(again, buf, again_len) != 0) {
		admin_msg("the two passphrases differ");
		ret = ADMIN_ERROR;
	}
	OPENSSL_cleanse(again, sizeof again);
	return ret;
}

/* master-key: refuse an existing file without --force. */
static int key_file_exists(const char *path, bool force, bool *exists)
{
	struct stat st;

	*exists = false;
	if (lstat(path, &st) == 0) {
		*exists = true;
		if (!force) {
			admin_msg("%s exists: refusing to replace it (with --force, every vault "
			          "made with the old key becomes unreadable)",
			          path);
			return ADMIN_KEYEXISTS;
		}
		if (!S_ISREG(st.st_mode)) {
			admin_msg("%s exists and is not a regular file", path);
			return ADMIN_ERROR;
		}
		return ADMIN_OK;
	}
	if (errno != ENOENT) {
		admin_msg("%s: %s", path, strerror(errno));
		return ADMIN_ERROR;
	}
	return ADMIN_OK;
}

int admin_cmd_master_key(const struct admin_opts *o)
{
	char path[ADMIN_PATH_MAX], pass[ADMIN_PASSPHRASE_BUF], text[MASTER_TEXT_MAX];
	char err[512] = "";
	uint8_t key[VAULT_KEY_LEN];
	struct vault_master m;
	size_t pass_len = 0;
	bool exists;
	int rc;

	rc = key_path(o, path, sizeof path);
	if (rc == ADMIN_OK)
		rc = key_file_exists(path, o->force, &exists);
	if (rc != ADMIN_OK)
		return rc;
	if (exists)
		admin_msg("%s exists: --force replaces it; every vault made with the old key "
		          "becomes unreadable",
		          path);

	rc = passphrase_get(o, true, pass, &pass_len);
	if (rc == ADMIN_OK && vault_master_new(pass, pass_len, &m, key) < 0) {
		admin_msg("%s: could not derive a master key", path);
		rc = ADMIN_ERROR;
	}
	OPENSSL_cleanse(pass, sizeof pass);
	OPENSSL_cleanse(key, sizeof key); /* only the salt and check value are kept */
	if (rc != ADMIN_OK)
		return rc;

	if (vault_master_format(&m, text, sizeof text) < 0) {
		admin_msg("%s: could not format the master key file", path);
		return ADMIN_ERROR;
	}
	/* Exclusive unless --force: a file created meanwhile is not replaced. */
	rc = vault_write_private(path, text, strlen(text), !o->force, err, sizeof err);
	if (rc == -EEXIST) {
		admin_msg("%s exists: refusing to replace it (with --force, every vault made "
		          "with the old key becomes unreadable)",
		          path);
		return ADMIN_KEYEXISTS;
	}
	if (rc < 0) {
		admin_msg("%s", err[0] ? err : strerror(-rc));
		return ADMIN_ERROR;
	}
	return ADMIN_OK;
}

int admin_unlock(const struct admin_opts *o, uint8_t key[VAULT_KEY_LEN])
{
	char path[ADMIN_PATH_MAX], pass[ADMIN_PASSPHRASE_BUF], err[512] = "";
	struct vault_master m;
	size_t pass_len = 0;
	int rc;

	OPENSSL_cleanse(key, VAULT_KEY_LEN);
	rc = key_path(o, path, sizeof path);
	if (rc != ADMIN_OK)
		return rc;
	rc = vault_master_load(path, &m, err, sizeof err);
	if (rc == -ENOENT) {
		admin_msg("%s: no such master key file (give -k, or create it with "
		          "pgsluice-admin master-key)",
		          path);
		return ADMIN_ERROR;
	}
	if (rc < 0) {
		admin_msg("%s", err[0] ? err : strerror(-rc));
		return ADMIN_ERROR;
	}
	rc = passphrase_get(o, false, pass, &pass_len);
	if (rc != ADMIN_OK) {
		OPENSSL_cleanse(pass, sizeof pass);
		return rc;
	}
	rc = vault_master_unlock(&m, pass, pass_len, key);
	OPENSSL_cleanse(pass, sizeof pass);
	if (rc == -EACCES) {
		admin_msg("%s: wrong passphrase (it does not match the key's check value)", path);
		OPENSSL_cleanse(key, VAULT_KEY_LEN);
		return ADMIN_BADKEY;
	}
	if (rc < 0) {
		admin_msg("%s: could not derive the master key: %s", path, strerror(-rc));
		OPENSSL_cleanse(key, VAULT_KEY_LEN);
		return ADMIN_ERROR;
	}
	return ADMIN_OK;
}
