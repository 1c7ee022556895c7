/*
 * admin_user.c — "pgsluice-admin user add|edit|del|ls": the entries of a
 * vault file.
 *
 * add and edit unlock the master key (a wrong passphrase is refused before
 * anything is written), check that every other entry of the vault
 * decrypts with that key (so a vault never mixes entries of two master
 * keys), seal the new entry and save the whole file atomically
 * (vault_file_save).  del and ls need no key: they never decrypt, except
 * ls --check, which decrypts every entry and names those that fail.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "admin_key.h"
#include "admin_user.h"
#include "admin_util.h"
#include "scram_verifier.h"
#include "secret_kind.h"

/* A valid user name, or a usage error. */
static int user_valid(const char *user)
{
	char err[256] = "";

	if (vault_user_check(user, err, sizeof err) < 0) {
		admin_msg("-U: %s", err[0] ? err : "not a valid user name");
		return ADMIN_USAGE;
	}
	return ADMIN_OK;
}

/* Load the vault at path; create: an empty one (not yet written) when
 * the file does not exist. */
static int vault_open(const char *path, bool create, struct vault_file **vf)
{
	char err[512] = "";
	int rc;

	*vf = NULL;
	rc = vault_file_load(path, vf, err, sizeof err);
	if (rc == -ENOENT && create) {
		*vf = vault_file_new(path);
		if (*vf == NULL) {
			admin_msg("%s: out of memory", path);
			return ADMIN_ERROR;
		}
		return ADMIN_OK;
	}
	if (rc == -ENOENT) {
		admin_msg("%s: no such vault file", path);
		return ADMIN_ERROR;
	}
	if (rc < 0) {
		admin_msg("%s", err[0] ? err : strerror(-rc));
		return ADMIN_ERROR;
	}
	return ADMIN_OK;
}

/* Decrypt every entry but skip's (NULL: all) under key, naming each one
 * that fails; returns how many failed. */
static unsigned entries_failing(const struct vault_file *vf, const char *path,
                                const uint8_t key[VAULT_KEY_LEN], const char *skip)
{
	uint8_t plain[VAULT_MAX_SECRET + 1];
	unsigned bad = 0;

	for (size_t i = 0; i < vf->nlines; i++) {
		const struct vault_line *l = &vf->lines[i];
		size_t len = 0;
		int rc;

		if (l->user == NULL || (skip != NULL && strcmp(l->user, skip) == 0))
			continue;
		rc = vault_entry_open(key, l->user, l->entry, strlen(l->entry), plain, sizeof plain,
		                      &len);
		OPENSSL_cleanse(plain, sizeof plain);
		if (rc < 0) {
			admin_msg("%s:%u: user \"%s\": %s", path, l->lineno, l->user,
			          rc == -EBADMSG ? "does not decrypt" : "is not a valid entry");
			bad++;
		}
	}
	return bad;
}

/* A SCRAM-SHA-256 verifier of pw (SASLprep'ed by scram_verifier_derive, as
 * PostgreSQL does) with a random salt, into out (NUL-terminated). */
static int scram_make(const char *pw, size_t pw_len, char *out, size_t out_size, size_t *len)
{
	uint8_t salt[ADMIN_SCRAM_SALT_LEN];
	struct scram_verifier v;
	int rc, ret = ADMIN_OK;

	if (RAND_bytes(salt, sizeof salt) != 1) {
		admin_msg("--scram: the random number generator failed");
		return ADMIN_ERROR;
	}
	rc = scram_verifier_from_password((const uint8_t *)pw, pw_len, salt, sizeof salt,
	                                  ADMIN_SCRAM_ITER, &v);
	if (rc == 0)
		rc = scram_verifier_format(&v, out, out_size);
	if (rc < 0) {
		admin_msg("--scram: could not make a SCRAM verifier: %s", strerror(-rc));
		ret = ADMIN_ERROR;
	} else {
		*len = (size_t)rc;
	}
	scram_verifier_clear(&v);
	OPENSSL_cleanse(salt, sizeof salt);
	return ret;
}

/* What is stored for a password: a verifier of it with --scram, else the
 * password itself (which may be a hash: see secret_kind()). */
static int secret_for(const struct admin_opts *o, const char *pw, size_t pw_len, char *verifier,
                      size_t verifier_size, const char **secret, size_t *secret_len)
{
	char why[256] = "";
	const char *kind = secret_kind((const uint8_t *)pw, pw_len, why, sizeof why);

	if (kind == NULL) {
		admin_msg("the password starts like a SCRAM verifier but is not one: %s", why);
		return ADMIN_ERROR;
	}
	if (!o->scram) {
		*secret = pw;
		*secret_len = pw_len;
		return ADMIN_OK;
	}
	if (strcmp(kind, "plain") != 0) {
		admin_msg("--scram: the password already is a stored %s secret", kind);
		return ADMIN_ERROR;
	}
	*secret = verifier;
	return scram_make(pw, pw_len, verifier, verifier_size, secret_len);
}

/* Seal secret for user under key and put it in vf. */
static int entry_store(struct vault_file *vf, const char *path, const uint8_t key[VAULT_KEY_LEN],
                       const char *user, const char *secret, size_t secret_len)
{
	size_t size = vault_entry_text_len(secret_len) + 1;
	char *entry = malloc(size);
	int rc;

	if (entry == NULL) {
		admin_msg("%s: out of memory", path);
		return ADMIN_ERROR;
	}
	rc = vault_entry_seal(key, user, secret, secret_len, entry, size);
	if (rc < 0)
		admin_msg("%s: user \"%s\": could not encrypt the entry: %s", path, user,
		          strerror(-rc));
	else if ((rc = vault_file_set(vf, user, entry)) < 0)
		admin_msg("%s: user \"%s\": %s", path, user, strerror(-rc));
	free(entry);
	return rc < 0 ? ADMIN_ERROR : ADMIN_OK;
}

static int vault_save(const struct vault_file *vf, const char *path)
{
	char err[512] = "";
	int rc = vault_file_save(vf, path, err, sizeof err);

	if (rc < 0) {
		admin_msg("%s", err[0] ? err : strerror(-rc));
		return ADMIN_ERROR;
	}
	return ADMIN_OK;
}

/* Write a generated password and a newline on stdout, bypassing stdio's
 * buffer (so that no copy stays there). */
static int print_secret(const char *s, size_t len)
{
	char line[ADMIN_PASSWORD_BUF];
	size_t done = 0;

	if (len + 1 > sizeof line)
		return ADMIN_ERROR;
	memcpy(line, s, len);
	line[len++] = '\n';
	fflush(stdout);
	while (done < len) {
		ssize_t n = write(STDOUT_FILENO, line + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			OPENSSL_cleanse(line, sizeof line);
			admin_msg("stdout: %s", n < 0 ? strerror(errno) : "short write");
			return ADMIN_ERROR;
		}
		done += (size_t)n;
	}
	OPENSSL_cleanse(line, sizeof line);
	return ADMIN_OK;
}

/* user add (add true) and user edit. */
static int cmd_set(const struct admin_opts *o, bool add)
{
	char pw[ADMIN_PASSWORD_BUF], verifier[SCRAM_VERIFIER_MAX_TEXT + 1];
	uint8_t key[VAULT_KEY_LEN];
	struct vault_file *vf = NULL;
	const char *secret = NULL;
	size_t pw_len = 0, secret_len = 0;
	unsigned bad;
	int rc;

	OPENSSL_cleanse(key, sizeof key);
	rc = user_valid(o->user);
	if (rc == ADMIN_OK)
		rc = vault_open(o->vault, add, &vf);
	if (rc != ADMIN_OK)
		return rc;
	if (add && vault_file_find(vf, o->user) != NULL) {
		admin_msg("%s: user \"%s\" already exists (user edit changes it)", o->vault,
		          o->user);
		rc = ADMIN_USER;
	} else if (!add && vault_file_find(vf, o->user) == NULL) {
		admin_msg("%s: no user \"%s\"", o->vault, o->user);
		rc = ADMIN_USER;
	}
	if (rc == ADMIN_OK)
		rc = admin_unlock(o, key);
	if (rc == ADMIN_OK && (bad = entries_failing(vf, o->vault, key, o->user)) > 0) {
		admin_msg("%s: %u entr%s do not decrypt with this master key: not writing",
		          o->vault, bad, bad == 1 ? "y" : "ies");
		rc = ADMIN_BADKEY;
	}
	if (rc == ADMIN_OK)
		rc = admin_password(o, o->user, pw, &pw_len);
	if (rc == ADMIN_OK)
		rc = secret_for(o, pw, pw_len, verifier, sizeof verifier, &secret, &secret_len);
	if (rc == ADMIN_OK)
		rc = entry_store(vf, o->vault, key, o->user, secret, secret_len);
	if (rc == ADMIN_OK)
		rc = vault_save(vf, o->vault);
	/* Printed only once it is stored: a password nobody can use is no use. */
	if (rc == ADMIN_OK && o->generate)
		rc = print_secret(pw, pw_len);
	OPENSSL_cleanse(pw, sizeof pw);
	OPENSSL_cleanse(verifier, sizeof verifier);
	OPENSSL_cleanse(key, sizeof key);
	if (vf != NULL)
		vault_file_free(vf);
	return rc;
}

static int cmd_del(const struct admin_opts *o)
{
	struct vault_file *vf = NULL;
	int rc;

	rc = user_valid(o->user);
	if (rc == ADMIN_OK)
		rc = vault_open(o->vault, false, &vf);
	if (rc != ADMIN_OK)
		return rc;
	if (vault_file_del(vf, o->user) < 0) {
		admin_msg("%s: no user \"%s\"", o->vault, o->user);
		rc = ADMIN_USER;
	} else {
		rc = vault_save(vf, o->vault);
	}
	vault_file_free(vf);
	return rc;
}

static int cmd_ls(const struct admin_opts *o)
{
	uint8_t key[VAULT_KEY_LEN];
	struct vault_file *vf = NULL;
	int rc;

	OPENSSL_cleanse(key, sizeof key);
	rc = vault_open(o->vault, false, &vf);
	if (rc == ADMIN_OK && o->check)
		rc = admin_unlock(o, key);
	if (rc != ADMIN_OK) {
		if (vf != NULL)
			vault_file_free(vf);
		return rc;
	}
	for (size_t i = 0; i < vf->nlines; i++)
		if (vf->lines[i].user != NULL)
			printf("%s\n", vf->lines[i].user);
	if (o->check && entries_failing(vf, o->vault, key, NULL) > 0)
		rc = ADMIN_BADKEY;
	OPENSSL_cleanse(key, sizeof key);
	vault_file_free(vf);
	return rc;
}

int admin_cmd_user(const char *sub, const struct admin_opts *o)
{
	if (strcmp(sub, "add") == 0)
		return cmd_set(o, true);
	if (strcmp(sub, "edit") == 0)
		return cmd_set(o, false);
	if (strcmp(sub, "del") == 0)
		return cmd_del(o);
	return cmd_ls(o);
}
