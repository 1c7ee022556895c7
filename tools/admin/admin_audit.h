/*
 * admin_audit.h — pgsluice-admin: the audit trail's key and the check of
 * audit files (admin_audit.c).
 */
#ifndef PGS_ADMIN_AUDIT_H
#define PGS_ADMIN_AUDIT_H

#include "admin_util.h"

/* audit-verify's own meaning of two exit codes (also in the --help text). */
enum audit_exit {
	AUDIT_EXIT_BROKEN = ADMIN_ERROR,     /* a file fails the check */
	AUDIT_EXIT_UNREADABLE = ADMIN_BADKEY /* a key or audit file that cannot be used */
};

/*
 * "audit-key -k FILE [--force]": a new random 32-byte key, written as 64
 * lowercase hex digits and "\n" to FILE, mode 0600, atomically.  An
 * existing FILE is refused (ADMIN_KEYEXISTS) unless o->force.
 */
int admin_cmd_audit_key(const struct admin_opts *o) __attribute__((warn_unused_result));

/*
 * "audit-verify -k KEYFILE FILE..." or "audit-verify -m MASTERKEY FILE...":
 * check each of the nfiles files in turn against the key in o->key_file,
 * or the key derived from the vault master key o->master_key as the audit
 * module's key_vault does, stopping at the first that fails.
 * Prints one "OK: ..." line per good file (after a "note: ..." line per
 * chain_start or gap it holds), or the first problem of a broken one, on
 * stdout.  Returns ADMIN_OK, AUDIT_EXIT_BROKEN, or AUDIT_EXIT_UNREADABLE
 * when the check could not be made (a missing, loose or malformed key
 * file, an unreadable audit file, a failing crypto library: said on
 * stderr).
 */
int admin_cmd_audit_verify(const struct admin_opts *o, int nfiles, char *const *files)
        __attribute__((warn_unused_result));

#endif /* PGS_ADMIN_AUDIT_H */
