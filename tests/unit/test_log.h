/*
 * test_log.h — what unit tests hand modules as host->log and host->alloc:
 * every logged line is kept in one buffer (each test runs in its own fork)
 * so the test can count it.
 */
#ifndef PGS_TEST_LOG_H
#define PGS_TEST_LOG_H

#include <stddef.h>

#include "pgsluice/module.h"

/* host->log: appends one line to the buffer. */
void th_log(enum pgs_log level, const pgs_conn *conn, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* How many times `line` was logged (whole lines only). */
int th_log_count(const char *line);

/* Forget what was logged. */
void th_log_reset(void);

/* host->alloc: zeroed memory. */
void *th_alloc(size_t len);

#endif /* PGS_TEST_LOG_H */
