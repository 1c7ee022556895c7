/*
 * log.h — the daemon's log: one line per message to stderr, written with a
 * single write(2) so lines from different workers never interleave.
 */
#ifndef PGS_LOG_H
#define PGS_LOG_H

#include <stdarg.h>

#include "pgsluice/module.h"

/* Messages below `level` (enum pgs_log) are dropped. */
void log_set_level(int level);
int log_get_level(void);

/* Parse "debug", "info", "warning"/"warn", "error"; -1 if unknown. */
int log_level_parse(const char *s);

/* Log one line; `prefix` (may be NULL) is put before the message, e.g. a
 * connection's "C-12 user@db 127.0.0.1:5555: ". */
void log_vmsg(enum pgs_log level, const char *prefix, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));
void log_msg(enum pgs_log level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(PGS_LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(PGS_LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(PGS_LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(PGS_LOG_ERROR, __VA_ARGS__)

/* True when a message of `level` would be written (skip costly formatting). */
#define log_enabled(level) ((int)(level) >= log_get_level())

#endif /* PGS_LOG_H */
