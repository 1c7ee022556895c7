/*
 * metrics.h — the Prometheus endpoint: one thread of its own (not a
 * worker, not the work pool) answering `GET <metrics.path>` on the
 * `metrics.listen` address with the counters of stats.h.
 *
 * One request per connection, served one connection at a time with
 * blocking sockets and poll() deadlines (2 s per request), so a slow or
 * hostile client holds the endpoint for at most that long and never
 * touches a worker.  The settings are read at start; a reload that
 * changes them is logged as needing a restart (metrics_matches()).
 */
#ifndef PGS_METRICS_H
#define PGS_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* Bytes of request line and headers read at most. */
#define METRICS_REQUEST_MAX 8192
/* Time one request may take, from accept to the last byte sent. */
#define METRICS_REQUEST_MS  2000

struct metrics;

/*
 * Listen on cfg's address and start the endpoint's thread.  Returns 0 with
 * *out set (NULL when cfg has no endpoint), or -1 with the reason in err
 * (for example the port is in use).
 */
int metrics_start(const struct cfg_metrics *cfg, struct metrics **out, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* Stop the thread (it finishes or drops the request in hand), join it and
 * close the socket.  NULL is fine. */
void metrics_stop(struct metrics *m);

/* Whether the running endpoint m (NULL: none) has the settings of cfg. */
bool metrics_matches(const struct metrics *m, const struct cfg_metrics *cfg);

/* "127.0.0.1:9187", "[::1]:9187" or "*:9187", the path appended. */
const char *metrics_describe(const struct metrics *m);

#endif /* PGS_METRICS_H */
