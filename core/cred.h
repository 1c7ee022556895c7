/*
 * cred.h — where secrets come from: a pool's security model routes
 * secret lookups to credential module instances (cred.c).
 */
#ifndef PGS_CRED_H
#define PGS_CRED_H

#include <stdbool.h>

#include <pgsluice/module.h>

struct client;
struct gen;

/* host->secret_lookup, host->cred_lookup, conn_param("security"). */
int cred_secret_lookup(pgs_conn *conn, const char *user, pgs_secret *out);
int cred_named_lookup(const pgs_conn *conn, const char *instance, const char *user,
                      pgs_secret *out);
const char *cred_security(const pgs_conn *conn);
/* host->cred_derive_key (module.h, ABI 1.5). */
int cred_derive_key(const pgs_cfg *cfg, const char *instance, const char *label, uint8_t *out,
                    size_t len);

/* Every pool's credential instance loaded as a credential source that
 * fits its model (authquery needs fetch).  0, or -1 with err set. */
int cred_check_pools(const struct gen *g, char *err, size_t errlen);

/*
 * Before a client's chain runs: when its pool takes client secrets from
 * an instance that fetches (security = authquery), run the fetch on the
 * work pool.  1: started, the chain waits for client_defer_done();
 * 0: nothing to fetch; -1: could not start (out of memory, work pool).
 */
int cred_fetch_start(struct client *cl);

/* True while a fetch runs; cred_fetch_done() marks it answered. */
bool cred_fetch_running(const struct client *cl);
void cred_fetch_done(struct client *cl);

/* Wipe and free what the fetch returned (client_free). */
void cred_fetch_free(struct client *cl);

#endif /* PGS_CRED_H */
