/*
 * log.c — thread-safe line logging to stderr.
 */
#include "autoconf.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static atomic_int log_level = PGS_LOG_INFO;
static atomic_int log_pid; /* the daemon never forks: read once */

void log_set_level(int level)
{
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

int log_get_level(void)
{
	return atomic_load_explicit(&log_level, memory_order_relaxed);
}

int log_level_parse(const char *s)
{
	if (strcasecmp(s, "debug") == 0)
		return PGS_LOG_DEBUG;
	if (strcasecmp(s, "info") == 0)
		return PGS_LOG_INFO;
	if (strcasecmp(s, "warning") == 0 || strcasecmp(s, "warn") == 0)
		return PGS_LOG_WARN;
	if (strcasecmp(s, "error") == 0)
		return PGS_LOG_ERROR;
	return -1;
}

static const char *level_name(enum pgs_log level)
{
	switch (level) {
	case PGS_LOG_DEBUG:
		return "DEBUG";
	case PGS_LOG_INFO:
		return "LOG";
	case PGS_LOG_WARN:
		return "WARNING";
	case PGS_LOG_ERROR:
		return "ERROR";
	}
	return "LOG";
}

void log_vmsg(enum pgs_log level, const char *prefix, const char *fmt, va_list ap)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	size_t n;
	int r;

	if ((int)level < log_get_level())
		return;
	if (atomic_load_explicit(&log_pid, memory_order_relaxed) == 0)
		atomic_store_explicit(&log_pid, (int)getpid(), memory_order_relaxed);
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S", &tm);
	r = snprintf(line + n, sizeof line - n, ".%03d UTC [%d] %s: %s", (int)(tv.tv_usec / 1000),
	             atomic_load_explicit(&log_pid, memory_order_relaxed), level_name(level),
	             prefix ? prefix : "");
	if (r > 0)
		n = n + (size_t)r < sizeof line ? n + (size_t)r : sizeof line - 1;
	r = vsnprintf(line + n, sizeof line - n, fmt, ap);
	if (r > 0)
		n = n + (size_t)r < sizeof line ? n + (size_t)r : sizeof line - 1;
	/* Control characters from peers (user names, …) never reach the log raw. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	if (n >= sizeof line - 1)
		n = sizeof line - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report it */
	}
}

void log_msg(enum pgs_log level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, NULL, fmt, ap);
	va_end(ap);
}
