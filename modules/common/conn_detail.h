/*
 * conn_detail.h — a formatted log detail in connection memory, for auth
 * steps: *logdetail is read after the step returns (and after conn_free),
 * so it must live in host->conn_alloc() memory, freed with the connection.
 * Header-only, so modules that link nothing else can use it.
 */
#ifndef PGS_CONN_DETAIL_H
#define PGS_CONN_DETAIL_H

#include <stdarg.h>
#include <stdio.h>

#include <pgsluice/module.h>

/* The formatted text, or the fixed `fallback` when no memory is available. */
static inline const char *conn_detail(const pgs_host *host, pgs_conn *conn, const char *fallback,
                                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static inline const char *conn_detail(const pgs_host *host, pgs_conn *conn, const char *fallback,
                                      const char *fmt, ...)
{
	va_list ap;
	char *buf;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return fallback;
	buf = host->conn_alloc(conn, (size_t)n + 1);
	if (buf == NULL)
		return fallback;
	va_start(ap, fmt);
	vsnprintf(buf, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return buf;
}

#endif /* PGS_CONN_DETAIL_H */
