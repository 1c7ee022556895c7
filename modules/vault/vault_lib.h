/*
 * vault_lib.h — the vault format, shared by the vault module and
 * pgsluice-admin (libpgsvault).
 *
 * Master key (DESIGN.md section 6): passphrase -> PBKDF2-HMAC-SHA256,
 * VAULT_MASTER_ITERATIONS rounds, a random 16-byte salt kept in master.key
 * -> 32-byte master key.  master.key also keeps a check value,
 * HMAC-SHA256(master key, "pgsluice master key check v1"), so a wrong
 * passphrase is named as such before any entry is tried.  Text form:
 *
 *   # comment lines start with '#'
 *   pgsluice-master-key 1
 *   kdf pbkdf2-hmac-sha256 600000
 *   salt <base64 of 16 bytes>
 *   check <base64 of 32 bytes>
 *
 * Entry: random 16-byte salt -> PBKDF2-HMAC-SHA256 with 1 iteration over
 * the master key -> entry key; AES-256-GCM with a random 12-byte nonce and
 * additional authenticated data "pgsluice-vault" NUL, the format version
 * (one byte), the user name; stored as base64 of
 * salt(16) | nonce(12) | ciphertext | tag(16).
 *
 * Vault file: text, '#' comment lines and blank lines allowed anywhere;
 * the first other line is the header "pgsluice-vault 1"; then one
 * "user:entry" line per user (split at the last ':', so a user name may
 * contain ':').  User names: 1..VAULT_MAX_USER bytes, no control
 * characters, not starting with '#'.  Duplicate users are refused.
 * Secrets never contain a NUL byte (the wire protocol carries them as C
 * strings).
 *
 * Every function returns 0 or a negative errno; messages go to err (always
 * NUL-terminated when err_size > 0) and name the file, and the line (and
 * user) where there is one: "users.vault:7: user \"bob\": ...".
 * Secrets are wiped (OPENSSL_cleanse) before any memory holding them is
 * freed.
 */
#ifndef PGS_VAULT_LIB_H
#define PGS_VAULT_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VAULT_KEY_LEN           32
#define VAULT_SALT_LEN          16
#define VAULT_NONCE_LEN         12
#define VAULT_TAG_LEN           16
#define VAULT_HDR_LEN           (VAULT_SALT_LEN + VAULT_NONCE_LEN) /* 28 */
#define VAULT_CHECK_LEN         32
#define VAULT_MASTER_ITERATIONS 600000u
#define VAULT_FORMAT            1
#define VAULT_MAX_USER          63          /* PostgreSQL's NAMEDATALEN - 1 */
#define VAULT_MAX_SECRET        1024        /* bytes of a stored password or verifier */
#define VAULT_MAX_LINE          4096        /* bytes of a vault file line */
#define VAULT_MAX_ENTRIES       100000      /* entries of one vault file */
#define VAULT_MAX_FILE          (32u << 20) /* bytes of a vault file */
#define VAULT_MAX_PASSPHRASE    1024
#define VAULT_ENV_PASSPHRASE    "PGSLUICE_MASTER_PASSPHRASE"

/* ------------------------------------------------------------ private files */

/*
 * 0 when the open file fd (named path in messages) is a regular file owned
 * by the effective uid or by root, with no permission bits for group or
 * others (mode & 077 == 0).  Else -EPERM, err e.g.
 * "/etc/pgsluice/users.vault: permissions 0640 allow group or other access
 * (chmod 600 it)".
 */
int vault_check_private(int fd, const char *path, char *err, size_t err_size);

/* Read a private file (checked as above) of at most max bytes into a new
 * NUL-terminated buffer; free it with vault_buf_free(buf, len) (wipes).
 * -ENOENT when the file does not exist, -EFBIG when too large. */
int vault_read_private(const char *path, size_t max, char **buf, size_t *len, char *err,
                       size_t err_size);
void vault_buf_free(char *buf, size_t len);

/* Write data to path atomically with mode 0600: a temporary file in the
 * same directory, fsync, rename, fsync of the directory.  exclusive: fail
 * with -EEXIST when path exists (master-key without --force). */
int vault_write_private(const char *path, const void *data, size_t len, bool exclusive, char *err,
                        size_t err_size);

/* ------------------------------------------------------------ master key */

struct vault_master {
	uint32_t iterations;
	uint8_t salt[VAULT_SALT_LEN];
	uint8_t check[VAULT_CHECK_LEN];
};

/* PBKDF2-HMAC-SHA256 into a 32-byte key (the known-answer-tested step). */
int vault_kdf(const void *pass, size_t pass_len, const uint8_t *salt, size_t salt_len,
              uint32_t iterations, uint8_t key[VAULT_KEY_LEN]);

/* New installation: random salt, VAULT_MASTER_ITERATIONS, key and check. */
int vault_master_new(const void *pass, size_t pass_len, struct vault_master *m,
                     uint8_t key[VAULT_KEY_LEN]);

/* Derive the key from the passphrase; -EACCES when the check value says
 * the passphrase is wrong (key wiped then). */
int vault_master_unlock(const struct vault_master *m, const void *pass, size_t pass_len,
                        uint8_t key[VAULT_KEY_LEN]);

/* True when key is the key of m (constant-time check comparison). */
bool vault_master_matches(const struct vault_master *m, const uint8_t key[VAULT_KEY_LEN]);

/* The text form, NUL-terminated; -ENOSPC when it does not fit. */
int vault_master_format(const struct vault_master *m, char *out, size_t out_size);

/* Parse the text form; name is used in "name:line: ..." messages.
 * Refuses fewer than VAULT_MASTER_ITERATIONS rounds and unknown versions. */
int vault_master_parse(const char *text, size_t len, const char *name, struct vault_master *m,
                       char *err, size_t err_size);

/* vault_read_private + vault_master_parse. */
int vault_master_load(const char *path, struct vault_master *m, char *err, size_t err_size);

/* ------------------------------------------------------------ passphrase */

/*
 * The passphrase, in order: from file when non-NULL (a private file; its
 * first line, without the trailing "\n" or "\r\n"), else from the
 * environment variable VAULT_ENV_PASSPHRASE, else, when prompt is non-NULL
 * and /dev/tty can be opened, read from the terminal without echo.
 * -ENOENT when there is no source, -EINVAL when empty or longer than
 * VAULT_MAX_PASSPHRASE.  buf must hold VAULT_MAX_PASSPHRASE + 1 bytes;
 * the caller wipes it.
 */
int vault_passphrase(const char *file, const char *prompt, char *buf, size_t buf_size, size_t *len,
                     char *err, size_t err_size);

/* Read one line from /dev/tty without echo (prompt written to the tty).
 * -ENXIO when there is no terminal. */
int vault_tty_read(const char *prompt, char *buf, size_t buf_size, size_t *len, char *err,
                   size_t err_size);

/* ------------------------------------------------------------ entries */

/* 0 when user is a valid vault user name. */
int vault_user_check(const char *user, char *err, size_t err_size);

/* Length of the base64 text of an entry holding secret_len bytes (without
 * the NUL). */
size_t vault_entry_text_len(size_t secret_len);

/* Encrypt secret for user under the master key; out gets the base64 text,
 * NUL-terminated.  Secrets longer than VAULT_MAX_SECRET: -E2BIG. */
int vault_entry_seal(const uint8_t mk[VAULT_KEY_LEN], const char *user, const void *secret,
                     size_t secret_len, char *out, size_t out_size);

/* Decrypt.  -EINVAL: not base64, or too short or long to be an entry;
 * -EBADMSG: authentication failed (wrong master key, a modified entry, or
 * an entry moved from another user). */
int vault_entry_open(const uint8_t mk[VAULT_KEY_LEN], const char *user, const char *text,
                     size_t text_len, uint8_t *out, size_t out_size, size_t *out_len);

/* ------------------------------------------------------------ vault files */

struct vault_line {
	unsigned lineno;
	char *raw;   /* comment, blank or header line as read; NULL for an entry */
	char *user;  /* entry lines */
	char *entry; /* base64 text */
};

struct vault_file {
	char *name; /* for messages */
	struct vault_line *lines;
	size_t nlines, cap;
	size_t nentries;
};

/* Parse text (need not be NUL-terminated).  Checks the header, user
 * names, duplicates, line and entry limits, and that each entry is base64
 * of a plausible length (decryption is vault_table_load's job). */
int vault_file_parse(const char *text, size_t len, const char *name, struct vault_file **out,
                     char *err, size_t err_size);

/* vault_read_private + vault_file_parse; -ENOENT when missing. */
int vault_file_load(const char *path, struct vault_file **out, char *err, size_t err_size);

/* An empty vault: a comment line saying what the file is and the header. */
struct vault_file *vault_file_new(const char *name);

const struct vault_line *vault_file_find(const struct vault_file *vf, const char *user);

/* Replace the entry of user in place, or append it. */
int vault_file_set(struct vault_file *vf, const char *user, const char *entry);

/* Remove the line of user; -ENOENT when absent. */
int vault_file_del(struct vault_file *vf, const char *user);

/* The text of the file (comments kept, in order); free() the result. */
int vault_file_format(const struct vault_file *vf, char **out, size_t *len);

/* vault_file_format + vault_write_private(exclusive = false). */
int vault_file_save(const struct vault_file *vf, const char *path, char *err, size_t err_size);

void vault_file_free(struct vault_file *vf);

/* ------------------------------------------------------------ decrypted table */

struct vault_secret {
	char *user;
	const char *kind; /* "plain", "md5" or "scram-sha-256" (secret_kind()) */
	uint8_t *secret;  /* NUL-terminated for convenience; len excludes it */
	size_t len;
};

struct vault_table {
	struct vault_secret *e; /* sorted by user (strcmp) */
	size_t n;
};

/* Load and decrypt every entry of a vault file.  The first entry that does
 * not decrypt fails the whole load with "path:line: user \"x\": ..." (a
 * wrong master key, a flipped bit and a swapped entry all read as "does
 * not decrypt").  -ENOENT when the file is missing. */
int vault_table_load(const char *path, const uint8_t mk[VAULT_KEY_LEN], struct vault_table **out,
                     char *err, size_t err_size);

/* Same from text already read (the unit and fuzz tests). */
int vault_table_from_text(const char *text, size_t len, const char *name,
                          const uint8_t mk[VAULT_KEY_LEN], struct vault_table **out, char *err,
                          size_t err_size);

const struct vault_secret *vault_table_find(const struct vault_table *t, const char *user);

/* Wipes every secret. */
void vault_table_free(struct vault_table *t);

#endif /* PGS_VAULT_LIB_H */
