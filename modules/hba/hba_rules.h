/*
 * hba_rules.h — pg_hba.conf rules (PostgreSQL 15 syntax): parse once, then
 * match connections against them, first matching rule wins.
 *
 * Pure functions: no daemon services, errors returned as text naming
 * file:line.  A parsed rule set is read-only, so any number of threads may
 * match against it at once.
 */
#ifndef PGS_HBA_RULES_H
#define PGS_HBA_RULES_H

#include <stdbool.h>
#include <stddef.h>

struct hba_rules;

/* The facts of a connection a rule looks at. */
struct hba_conn {
	const char *transport;   /* "unix", "tcp", "tls" or "gss" */
	const char *remote_addr; /* "[local]", or IPv4/IPv6 text as from inet_ntop() */
	const char *user;
	const char *database;
};

/* The rule that matched.  Strings live as long as the rule set. */
struct hba_result {
	const char *method;         /* METHOD column: the chain (or module) name */
	const char *const *options; /* "name", "value", ..., NULL (never NULL itself) */
	const char *where;          /* "file:line" */
	unsigned line;
	size_t index; /* position in the rule set, 0 first */
	bool reject;  /* METHOD is "reject" */
};

/*
 * Load the pg_hba file at `path` (@file references allowed, relative ones
 * resolved against the directory of the file that holds them).  0 with
 * *out set, or a negative errno with "file:line: reason" in err.
 */
int hba_rules_load(const char *path, struct hba_rules **out, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/*
 * Parse pg_hba text buf[0..len); `name` stands for the file in messages and
 * as the base of relative @file paths.  flags: HBA_NO_INCLUDE (hba_token.h)
 * refuses @file.  0 with *out set, or a negative errno with the reason in err.
 */
int hba_rules_parse(const char *name, const char *buf, size_t len, unsigned flags,
                    struct hba_rules **out, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* Free a rule set (NULL allowed). */
void hba_rules_free(struct hba_rules *rules);

/* Number of rules. */
size_t hba_rules_count(const struct hba_rules *rules);

/* Rule number i (0 <= i < hba_rules_count) into *res. */
void hba_rules_get(const struct hba_rules *rules, size_t i, struct hba_result *res);

/*
 * The first rule matching conn: true with *res filled, false when none
 * does.  An unknown transport or an address that does not parse matches no
 * rule (fail closed).  samehost/samenet rules read the interface list
 * (getifaddrs) when they are reached.
 */
bool hba_rules_match(const struct hba_rules *rules, const struct hba_conn *conn,
                     struct hba_result *res);

#endif /* PGS_HBA_RULES_H */
