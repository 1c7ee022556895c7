/*
 * pool_ctl.h — what the admin console's PAUSE, RESUME, DISABLE, ENABLE
 * and KILL change: a small registry of database states, kept for the
 * life of the process (a reload keeps them), and the pools' paused flag.
 *
 * Paused: a pool gives no server to anyone and opens none; each server is
 * closed when released (idle ones by the next sweep), so PAUSE is done
 * once the pools hold no server.  Waiting clients stay queued (their
 * query_wait_timeout still runs) until RESUME.  Disabled: new logins to
 * the database are refused (55000).  KILL: paused, and every client and
 * server of the database closed on its own worker.
 */
#ifndef PGS_POOL_CTL_H
#define PGS_POOL_CTL_H

#include <stdbool.h>

struct worker;

/* db NULL: every database.  0; -EALREADY (already paused / disabled);
 * -ENOENT (RESUME / ENABLE of one that is not); -EBUSY (RESUME db when
 * only a PAUSE of everything holds it); -ENOMEM. */
int pool_ctl_pause(const char *db) __attribute__((warn_unused_result));
int pool_ctl_resume(const char *db) __attribute__((warn_unused_result));
int pool_ctl_disable(const char *db) __attribute__((warn_unused_result));
int pool_ctl_enable(const char *db) __attribute__((warn_unused_result));
/* Pause db (if it is not) and ask every worker to close db's clients and
 * servers.  0 or -ENOMEM. */
int pool_ctl_kill(const char *db) __attribute__((warn_unused_result));

/* Is db paused (by its name or by a PAUSE of everything)? Disabled? */
bool pool_ctl_paused(const char *db);
bool pool_ctl_disabled(const char *db);

/* No pool of db (every pool when NULL) holds a server any more. */
bool pool_ctl_pause_done(const char *db);

/* On worker w (INBOX_KILL): close the clients and servers of db. */
void pool_ctl_kill_worker(struct worker *w, const char *db);

/* Forget everything (at exit). */
void pool_ctl_free(void);

#endif /* PGS_POOL_CTL_H */
