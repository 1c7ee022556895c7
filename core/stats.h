/*
 * stats.h — the counters behind the metrics endpoint (metrics.c), and the
 * Prometheus text formatter.
 *
 * Workers update counters with relaxed atomics and take no lock for it:
 * per pool, each worker has its own cache-line-aligned struct
 * pool_counters (pool.h), so workers never write the same line, and its
 * only writer updates it with a plain load and store (stats_add_own); the
 * global counters (struct stats, in the runtime) change at most once per
 * login or accept.  The scraper copies everything into a struct stats_snap and
 * formats that with no lock held.  This file knows nothing of the runtime:
 * the formatter can be tested from a hand-made snapshot.
 */
#ifndef PGS_STATS_H
#define PGS_STATS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Authentication methods (chain names) counted apart; more share the
 * "other" entry, so the label set stays bounded. */
#define STATS_METHODS_MAX     64
#define STATS_METHOD_NAME_MAX 64

/* Client states as the metrics show them (doc/operations.md). */
enum stats_client_state {
	STATS_CL_ACTIVE = 0, /* linked to a server (CL_LINKED) */
	STATS_CL_WAITING,    /* waiting for a server (CL_WAITING, CL_LOGIN_WAIT) */
	STATS_CL_IDLE,       /* logged in, between transactions (CL_IDLE) */
	STATS_CL_NSTATES,
};

/* One worker's counters for one pool (written by that worker only). */
struct pool_counters {
	atomic_uint_fast64_t transactions;   /* ReadyForQuery 'I' forwarded */
	atomic_uint_fast64_t queries;        /* Query and Execute messages forwarded */
	atomic_uint_fast64_t bytes_in;       /* read from clients after login */
	atomic_uint_fast64_t bytes_out;      /* server output forwarded to clients */
	atomic_uint_fast64_t connect_errors; /* server connects/logins that failed */
	atomic_int clients[STATS_CL_NSTATES];
} __attribute__((aligned(64)));

struct stats_method {
	char name[STATS_METHOD_NAME_MAX];
	atomic_uint_fast64_t ok, fail;
};

/* Process-wide counters (one, in struct runtime). */
struct stats {
	atomic_uint_fast64_t client_connections; /* accepted */
	atomic_uint_fast64_t tls_handshakes, gss_handshakes;
	atomic_uint_fast64_t reloads_ok, reloads_failed;
	pthread_mutex_t methods_lock; /* taken only to add a method */
	atomic_size_t nmethods;       /* entries [0, nmethods) are published */
	struct stats_method methods[STATS_METHODS_MAX];
	struct stats_method other;
};

/* What one scrape shows of one pool. */
struct stats_pool_snap {
	const char *database, *user;
	uint64_t transactions, queries, bytes_in, bytes_out, connect_errors;
	int64_t clients[STATS_CL_NSTATES];
	int64_t servers_active, servers_idle, servers_connecting;
	int64_t wait_max_ms; /* the oldest waiting client's wait; 0: none */
};

struct stats_method_snap {
	char name[STATS_METHOD_NAME_MAX];
	uint64_t ok, fail;
};

/* What one scrape shows. */
struct stats_snap {
	const char *version;
	uint64_t client_connections, tls_handshakes, gss_handshakes;
	uint64_t reloads_ok, reloads_failed;
	struct stats_method_snap methods[STATS_METHODS_MAX + 1];
	size_t nmethods;
	const struct stats_pool_snap *pools;
	size_t npools;
};

/* Add n to a counter (relaxed: nothing is ordered by it). */
static inline void stats_add(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/*
 * Add n to a counter only the calling worker writes (struct pool_counters):
 * a relaxed load and store, so the forwarding path pays no locked
 * instruction; a scrape on another thread reads the old or the new value.
 */
static inline void stats_add_own(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
	                      memory_order_relaxed);
}

static inline uint64_t stats_read(atomic_uint_fast64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/*
 * Move one client from state `from` to state `to` in its worker's pool
 * counters (written by that worker only, as stats_add_own); -1 stands for
 * "not counted" (before login, after close).
 */
static inline void stats_client_move(struct pool_counters *pc, int from, int to)
{
	if (from == to)
		return;
	if (from >= 0)
		atomic_store_explicit(
		        &pc->clients[from],
		        atomic_load_explicit(&pc->clients[from], memory_order_relaxed) - 1,
		        memory_order_relaxed);
	if (to >= 0)
		atomic_store_explicit(&pc->clients[to],
		                      atomic_load_explicit(&pc->clients[to], memory_order_relaxed) +
		                              1,
		                      memory_order_relaxed);
}

/* Zero the counters (before any thread uses them). */
void stats_init(struct stats *s);
void stats_fini(struct stats *s);

/*
 * Count one authentication result for `method` (a chain name; "hba" for a
 * refusal before any chain ran).  Names past STATS_METHODS_MAX, or longer
 * than STATS_METHOD_NAME_MAX - 1 bytes, count as "other".
 */
void stats_auth(struct stats *s, const char *method, bool ok);

/* Copy the process-wide counters into snap (pools are left alone). */
void stats_snapshot(struct stats *s, struct stats_snap *snap);

/*
 * Append snap to out in the Prometheus text format 0.0.4 (a # HELP and
 * # TYPE line per family, label values escaped).  0 or -ENOMEM.
 */
int stats_format(const struct stats_snap *snap, struct bytebuf *out)
        __attribute__((warn_unused_result));

/*
 * Append a label value, escaped for the text format: backslash, double
 * quote and newline get a backslash; other control characters and bytes
 * that are not UTF-8 become '?'.  0 or -ENOMEM.
 */
int stats_append_label(struct bytebuf *out, const char *value) __attribute__((warn_unused_result));

#endif /* PGS_STATS_H */
