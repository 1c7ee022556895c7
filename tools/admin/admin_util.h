/*
 * admin_util.h — pgsluice-admin, the operator's tool for master keys and vault
 * files (vault_lib.h): what its command files share.
 *
 * admin.c holds main, option parsing and the usage text; admin_util.c the
 * messages and the password sources; admin_key.c the master-key command,
 * the passphrase and the unlocking of a master key; admin_user.c the user
 * commands; admin_audit.c audit-key and audit-verify (the audit trail's
 * HMAC chain, doc/operations.md).
 * Every command returns one of the exit codes below; secrets live in
 * caller-owned buffers that are wiped (OPENSSL_cleanse) on every path.
 */
#ifndef PGS_ADMIN_UTIL_H
#define PGS_ADMIN_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vault_lib.h"

/* Exit codes (also in the --help text). */
enum admin_exit {
	ADMIN_OK = 0,
	ADMIN_ERROR = 1,    /* I/O, permissions, corrupt file, no terminal, bad password... */
	ADMIN_USAGE = 2,    /* bad command line */
	ADMIN_BADKEY = 3,   /* wrong passphrase, or entries that do not decrypt */
	ADMIN_USER = 4,     /* user exists (add) / does not exist (edit, del) */
	ADMIN_KEYEXISTS = 5 /* master key file exists (master-key without --force) */
};

#define ADMIN_PROG           "pgsluice-admin"
#define ADMIN_ENV_PASSWORD   "PGSLUICE_PASSWORD"
#define ADMIN_KEY_NAME       "master.key"
#define ADMIN_PATH_MAX       4096
#define ADMIN_GENERATED_LEN  24   /* characters of a --generate password */
#define ADMIN_SCRAM_SALT_LEN 16   /* bytes of a --scram verifier's salt */
#define ADMIN_SCRAM_ITER     4096 /* PostgreSQL's scram_iterations default */
/* A password buffer: VAULT_MAX_SECRET bytes, one more to see an overlong
 * one, and the NUL. */
#define ADMIN_PASSWORD_BUF   (VAULT_MAX_SECRET + 2)
#define ADMIN_PASSPHRASE_BUF (VAULT_MAX_PASSPHRASE + 1)

/* The parsed command line.  Unset strings are NULL. */
struct admin_opts {
	const char *vault;           /* -f */
	const char *user;            /* -U */
	const char *key_file;        /* -k */
	const char *master_key;      /* -m (audit-verify: the vault's master key file) */
	const char *passphrase_file; /* --passphrase-file */
	const char *password_file;   /* --password-file */
	bool generate;               /* --generate */
	bool scram;                  /* --scram */
	bool force;                  /* --force */
	bool check;                  /* --check */
};

/* ------------------------------------------------------------ admin_util.c */

/* One line on stderr: "pgsluice-admin: " fmt "\n".  Never pass a secret. */
void admin_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The password to store for user (add, edit): --generate, else
 * --password-file (its first line; the file must be private), else
 * PGSLUICE_PASSWORD, else asked twice on /dev/tty.  1..VAULT_MAX_SECRET
 * bytes, no NUL byte.  buf holds ADMIN_PASSWORD_BUF bytes and is
 * NUL-terminated; the caller wipes it on every path.  Returns an exit code,
 * having said why.
 */
int admin_password(const struct admin_opts *o, const char *user, char *buf, size_t *len)
        __attribute__((warn_unused_result));

#endif /* PGS_ADMIN_UTIL_H */
