/*
 * runtime.h — the one runtime struct owned by main(), and configuration
 * generations.
 *
 * A generation is a config snapshot plus the modules loaded for it and the
 * chains built from both.  Connections hold a reference to the generation
 * they started with; SIGHUP builds a new one and swaps it in, and the old
 * one is released (modules finied, files closed) with its last reference.
 */
#ifndef PGS_RUNTIME_H
#define PGS_RUNTIME_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util.h"

#include "config.h"
#include "stats.h"

struct mod_set;
struct chainset;
struct worker;
struct workpool;

/* A server's address, resolved when the generation is built (never in a
 * worker). */
struct server_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	bool ok;
	char desc[160]; /* "127.0.0.1:5432" or the socket path */
};

struct gen {
	atomic_int refs;
	struct server_addr *addrs; /* [cfg->nservers] */
	uint64_t number;
	struct pgs_config *cfg;
	struct mod_set *mods;
	struct chainset *chains;
};

struct runtime {
	pthread_mutex_t gen_lock;
	struct gen *gen; /* current; take with runtime_gen_get() */
	struct worker **workers;
	int nworkers;
	atomic_int nclients; /* for max_client_conn */
	atomic_uint_fast64_t next_conn_id;
	atomic_bool draining; /* SIGTERM: no new clients */
	atomic_bool stopping; /* workers must exit */
	const char *config_path;
	struct workpool *workpool; /* pgs_host.defer */
	pthread_mutex_t pools_lock;
	struct list pools; /* every pool */
	pthread_mutex_t cancel_lock;
	struct list *cancel_buckets; /* cancel key registry */
	size_t ncancel_buckets;
	struct stats stats; /* process-wide counters (per pool: struct pool) */
};

/* The runtime of this process (set up by main). */
extern struct runtime *rt;

/*
 * Build a generation from the config file: load the config, the modules and
 * the chains.  NULL with every error in err when anything fails.
 */
struct gen *gen_build(const char *config_path, uint64_t number, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* The current generation, with a reference taken. */
struct gen *runtime_gen_get(void);
/* Swap in a new current generation (its reference moves to the runtime). */
void runtime_gen_set(struct gen *g);
void gen_ref(struct gen *g);
void gen_unref(struct gen *g);

/* Next unique connection id. */
uint64_t runtime_next_id(void);

#endif /* PGS_RUNTIME_H */
