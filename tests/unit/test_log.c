/*
 * test_log.c — log capture and allocation for the unit tests' host tables.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_log.h"

static char th_logbuf[16384];
static size_t th_loglen;

void th_log(enum pgs_log level, const pgs_conn *conn, const char *fmt, ...)
{
	va_list ap;
	int n;

	(void)level;
	(void)conn;
	if (th_loglen + 2 >= sizeof th_logbuf)
		return;
	va_start(ap, fmt);
	n = vsnprintf(th_logbuf + th_loglen, sizeof th_logbuf - th_loglen - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	th_loglen += (size_t)n;
	if (th_loglen > sizeof th_logbuf - 2)
		th_loglen = sizeof th_logbuf - 2;
	th_logbuf[th_loglen++] = '\n';
	th_logbuf[th_loglen] = '\0';
}

int th_log_count(const char *line)
{
	size_t len = strlen(line);
	int n = 0;

	for (const char *p = th_logbuf; (p = strstr(p, line)) != NULL; p++)
		if ((p == th_logbuf || p[-1] == '\n') && p[len] == '\n')
			n++;
	return n;
}

void th_log_reset(void)
{
	th_loglen = 0;
	th_logbuf[0] = '\0';
}

void *th_alloc(size_t len)
{
	return calloc(1, len);
}
