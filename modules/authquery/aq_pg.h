/*
 * aq_pg.h — the authquery module's PostgreSQL client: a few dedicated
 * libpq connections (logged in as auth_user) that run the auth query with
 * the user name as a bound parameter.
 *
 * Every fetch has one deadline (now + timeout) covering the wait for a
 * free connection, the connect (when one is needed) and the query: libpq
 * is driven without blocking (PQconnectStartParams + PQconnectPoll,
 * PQsendQueryParams + PQconsumeInput/PQisBusy) and waits in poll() for at
 * most the time left.  On a timeout or an error the connection is dropped
 * (a query still running is cancelled first) and the next fetch connects
 * again.  Fetches may come from several threads at once; each borrows one
 * connection for its whole duration.
 *
 * Pure code (no pgs_host): the module glue and the unit tests link it.
 */
#ifndef PGS_AQ_PG_H
#define PGS_AQ_PG_H

#include <stddef.h>
#include <stdint.h>

#define AQ_PG_MAX_VALUE       1024 /* longest secret the query may return, in bytes */
#define AQ_PG_MAX_PASSWORD    1024 /* longest auth_user password, in bytes */
#define AQ_PG_MAX_CONNECTIONS 64
#define AQ_PG_MAX_TIMEOUT_MS  (300 * 1000)
#define AQ_PG_ERR_LEN         512  /* room for an error message */
#define AQ_PG_MAX_TEXT        4096 /* longest connection parameter or query, in bytes */

/* Where and how to connect.  The strings are copied by aq_pg_new(). */
struct aq_pg_params {
	const char *host;         /* IP address, host name or Unix socket directory */
	const char *port;         /* decimal */
	const char *dbname;       /* database */
	const char *user;         /* auth_user */
	const char *sslmode;      /* libpq's sslmode */
	const char *sslrootcert;  /* NULL: libpq's default */
	const char *query;        /* with $1 for the user name */
	unsigned int connections; /* 1 .. AQ_PG_MAX_CONNECTIONS */
	unsigned int timeout_ms;  /* 1 .. AQ_PG_MAX_TIMEOUT_MS */
};

/*
 * Gives auth_user's password when a connection is being opened: writes it
 * NUL-terminated into buf (size bytes) and returns 0, returns -ENOENT to
 * connect without a password, or another negative errno (with a reason in
 * err) to give up.  aq_pg wipes buf as soon as libpq has taken its copy.
 */
typedef int (*aq_pg_password_fn)(void *arg, char *buf, size_t size, char *err, size_t err_size);

/* What a successful fetch returns.  Wipe it with aq_pg_answer_clear(). */
struct aq_pg_answer {
	char value[AQ_PG_MAX_VALUE + 1]; /* NUL-terminated */
	size_t len;
	const char *kind;     /* static: "plain", "md5" or "scram-sha-256" */
	uint64_t duration_us; /* the query's round trip */
};

struct aq_pg;

/* 0 and *out set (nothing connects yet), -EINVAL with a reason in err (a
 * missing parameter, a string over AQ_PG_MAX_TEXT, a query without $1), or
 * -ENOMEM.  Free with aq_pg_free(). */
int aq_pg_new(const struct aq_pg_params *params, struct aq_pg **out, char *err, size_t err_size)
        __attribute__((warn_unused_result));

/* Close every connection and free pg; no fetch may be running.  NULL is
 * accepted. */
void aq_pg_free(struct aq_pg *pg);

/*
 * Run the query for user, within the timeout.  password (may be NULL: no
 * password) is called only when a connection has to be opened.
 *   0        ans filled: exactly one row, one column, a non-empty value of
 *            at most AQ_PG_MAX_VALUE bytes that secret_kind() accepts
 *   -ENOENT  no row, or a NULL (or empty) value: no such user
 *   -EIO     anything else: timeout, connection or server error, or an
 *            answer of the wrong shape or a broken SCRAM verifier; err
 *            says which (never with the value)
 * Also sets ans->duration_us when the query ran.
 */
int aq_pg_fetch(struct aq_pg *pg, const char *user, aq_pg_password_fn password, void *arg,
                struct aq_pg_answer *ans, char *err, size_t err_size)
        __attribute__((warn_unused_result));

/* Wipe an answer. */
void aq_pg_answer_clear(struct aq_pg_answer *ans);

#endif /* PGS_AQ_PG_H */
