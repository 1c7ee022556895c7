/*
 * workpool.h — a few threads for work that must not run in a reactor
 * (a module's blocking library call, a slow key derivation).  A finished
 * job is reported to the worker that submitted it through its inbox, with
 * the connection's id, so a connection that left meanwhile is recognised.
 */
#ifndef PGS_WORKPOOL_H
#define PGS_WORKPOOL_H

#include <stdint.h>

struct worker;

/* Start n threads (main, before the workers run).  0 or -1. */
int workpool_start(int nthreads) __attribute__((warn_unused_result));

/* Refuse new jobs, finish the queued ones, join the threads. */
void workpool_stop(void);

/* Run work(arg) on the pool; then post INBOX_DEFER_DONE(conn_id) to w.
 * 0, or -ESHUTDOWN / -ENOMEM. */
int workpool_submit(struct worker *w, uint64_t conn_id, void (*work)(void *), void *arg)
        __attribute__((warn_unused_result));

#endif /* PGS_WORKPOOL_H */
