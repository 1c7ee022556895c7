/*
 * console_int.h — what the admin console's files share: a session's
 * state, result sets (RowDescription + DataRows + CommandComplete, every
 * column text) and the SHOW commands answered from shared state.
 */
#ifndef PGS_CONSOLE_INT_H
#define PGS_CONSOLE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "console.h"
#include "util.h"

struct gen;

/* A console session (client->console while CL_CONSOLE). */
enum console_wait {
	CS_READY = 0, /* reading commands */
	CS_PAUSE,     /* PAUSE sent; answered by console_sweep when done */
	CS_COLLECT,   /* SHOW CLIENTS/SERVERS: rows being gathered from the workers */
};

struct console {
	struct client *cl; /* the session's client (which owns this) */
	enum console_wait wait;
	bool pause_all;                /* CS_PAUSE: PAUSE without a database */
	char db[CONSOLE_NAME_MAX + 1]; /* CS_PAUSE: its database */
	void *job;                     /* CS_COLLECT: the listing (console_list.c) */
	struct list wait_link;         /* in the worker's console_waits during CS_PAUSE */
};

/* A result set being written to a client's output. */
struct rset {
	struct bytebuf *out;
	struct bytebuf row; /* payload being built */
	size_t ncols, nrows;
	int rc;
};

/* RowDescription of n text columns, then rows, then CommandComplete. */
void rset_begin(struct rset *r, struct bytebuf *out, const char *const *cols, size_t n);
/* Rows only (no RowDescription): for rows gathered elsewhere. */
void rset_rows(struct rset *r, struct bytebuf *out, size_t ncols);
/* One DataRow of r->ncols values (NULL: SQL NULL). */
void rset_row(struct rset *r, const char *const *vals);
/* CommandComplete with tag; returns the first error of the set. */
int rset_end(struct rset *r, const char *tag);

/* Integer cells (buf: 24 bytes). */
const char *cell_i64(char *buf, int64_t v);
const char *cell_u64(char *buf, uint64_t v);

/* The SHOW commands answered from shared state (console_show.c); 0 or
 * -ENOMEM. */
int console_show_version(struct bytebuf *out);
int console_show_pools(struct bytebuf *out, const struct gen *g, bool stats);
int console_show_config(struct bytebuf *out, const struct gen *g);
int console_show_modules(struct bytebuf *out, const struct gen *g);

/* SHOW CLIENTS / SHOW SERVERS (console_list.c): post the collection to
 * every worker.  0 (the answer comes through console_collect_done), or
 * -ENOMEM. */
int console_list_start(struct client *cl, bool servers);

/* Send the answer the session waited for, then ReadyForQuery, and read
 * its next commands (console.c). */
void console_resume_session(struct client *cl);

#endif /* PGS_CONSOLE_INT_H */
