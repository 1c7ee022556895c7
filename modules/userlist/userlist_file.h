/*
 * userlist_file.h — PgBouncer's auth_file (userlist.txt) as a read-only
 * lookup table.
 *
 * One entry per line: "user" "password", each field in double quotes, a
 * doubled "" inside a field standing for one quote; the rest of the line
 * is ignored (as PgBouncer does).  Blank lines and lines whose first
 * non-blank character is ';' or '#' are skipped.  A password is of kind
 * "md5" when it is "md5" + 32 lowercase hex digits, "scram-sha-256" when it
 * starts with "SCRAM-SHA-256$" (and must then parse as a verifier), else
 * "plain".  Broken lines are errors naming file:line, never skipped.
 *
 * Pure code (no pgs_host): the module glue and the unit tests link it.  A
 * loaded table is immutable, so lookups may run from several threads.
 */
#ifndef PGS_USERLIST_FILE_H
#define PGS_USERLIST_FILE_H

#include <stddef.h>
#include <stdint.h>

/* Limits applied while loading; userlist_default_limits when NULL. */
struct userlist_limits {
	size_t max_file_size;    /* bytes */
	size_t max_line_len;     /* bytes, without the newline */
	size_t max_user_len;     /* bytes, after unquoting */
	size_t max_password_len; /* bytes, after unquoting */
	size_t max_entries;
};

/* 256 MiB, 8192-byte lines, 1024-byte names, 2048-byte passwords (as
 * PgBouncer's own limit), 1,000,000 entries. */
extern const struct userlist_limits userlist_default_limits;

struct userlist_entry {
	const char *user;      /* NUL-terminated */
	const char *kind;      /* static: "plain", "md5" or "scram-sha-256" */
	const uint8_t *secret; /* secret_len bytes (also NUL-terminated) */
	size_t secret_len;
	unsigned int line; /* where it was defined */
};

struct userlist;

/*
 * Read and parse the file at path.  Refuses a file that is not a regular
 * file, that is group- or world-writable or world-readable, or that breaks
 * a limit.  0 and *out set, or a negative errno with a message naming the
 * file (and line) in err.  Free with userlist_free().
 */
int userlist_load(const char *path, const struct userlist_limits *lim, struct userlist **out,
                  char *err, size_t err_size) __attribute__((warn_unused_result));

/*
 * Parse len bytes of text (need not be NUL-terminated; a NUL byte is an
 * error); name is used in messages as the file name.  No permission check.
 * 0 and *out set, or -EINVAL / -E2BIG / -ENOMEM with a message in err.
 */
int userlist_parse(const char *name, const char *text, size_t len,
                   const struct userlist_limits *lim, struct userlist **out, char *err,
                   size_t err_size) __attribute__((warn_unused_result));

/* The entry of `user` (exact, case-sensitive match), or NULL.  O(log n). */
const struct userlist_entry *userlist_find(const struct userlist *ul, const char *user);

/* Number of entries. */
size_t userlist_count(const struct userlist *ul);

/* Entry i (0 <= i < userlist_count()), in name order; NULL past the end. */
const struct userlist_entry *userlist_entry_at(const struct userlist *ul, size_t i);

/* Wipe every byte of the table (names and secrets) and free it; NULL is
 * accepted. */
void userlist_free(struct userlist *ul);

#endif /* PGS_USERLIST_FILE_H */
