/*
 * console.h — the admin console: a client that logs into the configured
 * admin database (`admin = { database = "pgsluice"; users = (...); }`)
 * gets, after the normal authentication, a small SQL-like command set
 * answered by pgsluice itself (doc/operations.md, "Admin console").
 */
#ifndef PGS_CONSOLE_H
#define PGS_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;
struct worker;

/* Longest query text accepted, in bytes. */
#define CONSOLE_QUERY_MAX 1024

/* Longest argument (a database name), in bytes: PostgreSQL's NAMEDATALEN - 1. */
#define CONSOLE_NAME_MAX 63

enum console_cmd {
	CONSOLE_EMPTY = 0, /* nothing but blanks and ';' */
	CONSOLE_INVALID,   /* not a command */
	CONSOLE_SHOW_VERSION,
	CONSOLE_SHOW_POOLS,
	CONSOLE_SHOW_STATS,
	CONSOLE_SHOW_CONFIG,
	CONSOLE_SHOW_MODULES,
	CONSOLE_SHOW_CLIENTS,
	CONSOLE_SHOW_SERVERS,
	CONSOLE_RELOAD,
	CONSOLE_SHUTDOWN,
	CONSOLE_PAUSE,   /* [db] */
	CONSOLE_RESUME,  /* [db] */
	CONSOLE_DISABLE, /* db */
	CONSOLE_ENABLE,  /* db */
	CONSOLE_KILL,    /* db */
};

/*
 * Parse one query: blanks around it and one trailing ';' are ignored,
 * keywords are case-insensitive, words are separated by blanks, one
 * command per query.  PAUSE and RESUME take an optional database name,
 * DISABLE, ENABLE and KILL a required one: bare (kept as written) or
 * double-quoted ("" is a quote), 1 to CONSOLE_NAME_MAX bytes, copied to
 * arg ("" when absent).  name receives the command's canonical name for
 * logs ("SHOW POOLS"; "" for CONSOLE_EMPTY, "?" for CONSOLE_INVALID).
 */
enum console_cmd console_parse(const char *q, size_t len, char *name, size_t namelen, char *arg,
                               size_t arglen);

/* Whether the client asked for the admin database of its generation. */
bool console_wanted(const struct client *cl);

/*
 * Authentication succeeded for a console client: refuse clear-text TCP
 * (28000) and non-admin users (42501), else send the welcome and enter
 * CL_CONSOLE.
 */
void console_start(struct client *cl);

/* Input is readable on a CL_CONSOLE client. */
void console_on_input(struct client *cl);

/* Release a console session's state (client_free). */
void console_free(struct client *cl);

/* Worker sweep: answer the PAUSEs of w's console sessions that are done. */
void console_sweep(struct worker *w);

/* SHOW CLIENTS / SHOW SERVERS across workers (console_list.c): on worker
 * w, add its rows to job (INBOX_COLLECT); the last worker posts
 * INBOX_COLLECT_DONE to the session's worker, which answers the session
 * (when it is still there) and frees job.  console_collect_abandon()
 * drops a message of either kind left in an inbox at exit. */
void console_collect_run(struct worker *w, void *job);
void console_collect_done(struct worker *w, void *job, uint64_t conn_id);
void console_collect_abandon(void *job);

#endif /* PGS_CONSOLE_H */
