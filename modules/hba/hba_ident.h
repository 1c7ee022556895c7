/*
 * hba_ident.h — pg_ident.conf user name maps (PostgreSQL 15 syntax):
 * MAPNAME SYSTEM-USERNAME PG-USERNAME per line, the same tokenizer as
 * pg_hba.conf.  A SYSTEM-USERNAME starting with '/' is a POSIX extended
 * regex; PG-USERNAME may then hold \1, replaced by the first capture.
 *
 * Pure functions; a parsed map set is read-only and safe to match from any
 * number of threads at once.
 */
#ifndef PGS_HBA_IDENT_H
#define PGS_HBA_IDENT_H

#include <stdbool.h>
#include <stddef.h>

struct hba_ident;

/*
 * Load the pg_ident file at `path`.  0 with *out set, or a negative errno
 * with "file:line: reason" in err.
 */
int hba_ident_load(const char *path, struct hba_ident **out, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/*
 * Parse pg_ident text buf[0..len); `name` stands for the file in messages.
 * flags as for hba_rules_parse (@file is refused in pg_ident files in any
 * case).  0 with *out set, or a negative errno with the reason in err.
 */
int hba_ident_parse(const char *name, const char *buf, size_t len, unsigned flags,
                    struct hba_ident **out, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* Free a map set (NULL allowed). */
void hba_ident_free(struct hba_ident *ident);

/* Number of map lines. */
size_t hba_ident_count(const struct hba_ident *ident);

/*
 * May `system_user` connect as `role` under map `map`?  0 when a line of
 * the map allows it, -EACCES when none does, -ENOENT when no line names the
 * map.  Comparisons are exact; with case_insensitive (Kerberos'
 * krb_caseins_users) user names compare ignoring ASCII case, as PostgreSQL
 * does (a regex still matches the system user as written).
 */
int hba_ident_match(const struct hba_ident *ident, const char *map, const char *system_user,
                    const char *role, bool case_insensitive);

#endif /* PGS_HBA_IDENT_H */
