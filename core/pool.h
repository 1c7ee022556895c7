/*
 * pool.h — server pools, one per (database, user).
 *
 * The size limit is global to the process (all workers share one counter
 * under the pool's lock), so max_size means what the config says whatever
 * the number of workers.  Idle servers and waiting clients are kept per
 * worker; when a worker has waiters and another has idle servers, the idle
 * server is handed over (detached from one reactor, attached to the other)
 * rather than a new one opened.
 */
#ifndef PGS_POOL_H
#define PGS_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "conn.h"
#include "stats.h"

struct pool {
	pthread_mutex_t lock;
	char *database, *user; /* the key */
	struct gen *gen;       /* settings come from this generation */
	const struct cfg_pool *pcfg;
	const struct cfg_server *scfg;
	int nservers;       /* connecting + login + linked + idle */
	int initial_target; /* initial_size still to open (exact pools at start) */
	int *nconnecting;   /* [nworkers] connects in flight */
	int nwaiting;       /* over all workers */
	int nworkers;
	struct list *idle;        /* [nworkers] */
	int *nidle;               /* [nworkers] */
	struct list *waiters;     /* [nworkers] clients */
	struct param_set welcome; /* ParameterStatus values for new logins */
	bool have_welcome;
	bool retired; /* its config disappeared on reload */
	bool paused;  /* PAUSE/KILL (pool_ctl.h): no server given, opened or kept */
	struct list reg_link;
	struct pool_counters *counters; /* [nworkers], each written by its worker */
};

/*
 * The pool for (database, user) under generation g, created when the config
 * has a matching entry.  NULL when no pool entry applies.
 */
struct pool *pool_lookup(struct gen *g, const char *database, const char *user);

/* Re-read every pool's settings from a new generation (on reload). */
void pool_reconfigure_all(struct gen *g);

/* Free every pool (at exit, after the workers stopped). */
void pool_free_all(void);

/*
 * A client of worker w needs a server.  Returns an idle server of the same
 * worker (now SV_LINKED to nobody yet: the caller links it), or NULL when
 * the client was queued as a waiter; in that case a connection may have
 * been started or another worker asked for a handover, and the client will
 * get a server through client_got_server() later.
 */
struct server *pool_acquire(struct pool *p, struct worker *w, struct client *cl);

/* Remove a waiting client (it left, or timed out). */
void pool_cancel_wait(struct pool *p, struct client *cl);

/*
 * A server of worker w is free (login finished, reset done, or released at
 * the end of a transaction).  Gives it to a waiter of this worker, hands it
 * to a worker that has waiters, or puts it in the idle list.
 */
void pool_release(struct pool *p, struct worker *w, struct server *sv);

/* A server is gone (closed): its slot is freed; waiters may get a new one. */
void pool_server_gone(struct pool *p, struct worker *w, struct server *sv);

/* A connection attempt (sv, NULL if it never started) failed: the first
 * waiter of w gets `message`. */
void pool_connect_failed(struct pool *p, struct worker *w, struct server *sv, const char *message);

/* Worker sweep: close idle servers past server_idle_timeout/server_lifetime,
 * open servers up to min_size, time out waiters. */
void pool_sweep_worker(struct worker *w);

/* Handle INBOX_WANT_SERVER on worker w: serve w's waiters (open servers
 * when slots are free) and hand w's idle servers to workers with waiters. */
void pool_handover_idle(struct pool *p, struct worker *w);

/* Handle INBOX_SERVER: a server arriving at worker w from another worker. */
void pool_adopt_server(struct worker *w, struct server *sv);

/* Set the paused flag (pool_ctl.c); a resumed pool serves its waiters. */
void pool_set_paused(struct pool *p, bool paused);

/* The pool's current mode (read under its lock: a reload may swap the
 * settings). */
enum pool_mode pool_mode(struct pool *p);

/* Remember the welcome parameters of the pool (first successful login). */
void pool_set_welcome(struct pool *p, const struct param_set *params);
/* Copy the welcome parameters; false when not known yet. */
bool pool_get_welcome(struct pool *p, struct param_set *out);

/* Worker widx's counters of pool p (no lock: relaxed atomics). */
static inline struct pool_counters *pool_counters(struct pool *p, int widx)
{
	return &p->counters[widx];
}

/*
 * Snapshot every pool for the metrics endpoint (any thread): the registry
 * lock is held only to copy the pool pointers, each pool's lock only to
 * copy its server counts and its oldest waiter's wait.  Pools live until
 * exit, so the database and user pointers stay valid.  Returns the number
 * of pools with *out a malloc'ed array (the caller frees it; NULL when
 * there are none), or -ENOMEM.
 */
int pool_snapshot_all(struct stats_pool_snap **out) __attribute__((warn_unused_result));

#endif /* PGS_POOL_H */
