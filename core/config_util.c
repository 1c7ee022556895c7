/*
 * config_util.c — what the configuration loader's files share: collecting
 * errors, and small string, path and setting helpers.
 *
 * Errors are recorded in the loader, one line each, and handed to the
 * caller all together at the end of config_load().
 */
#include "autoconf.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"

/* ------------------------------------------------------------ errors */

static void add_error_v(struct loader *ld, const char *file, int line, const char *fmt, va_list ap)
        __attribute__((format(printf, 4, 0)));

static void add_error_v(struct loader *ld, const char *file, int line, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t need, start, i;
	char *nbuf;
	int n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (file == NULL)
		file = "(unknown file)";
	need = ld->errs_len + strlen(file) + strlen(msg) + 32;
	if (need > ld->errs_cap) {
		size_t cap = ld->errs_cap ? ld->errs_cap : 1024;

		while (cap < need)
			cap *= 2;
		nbuf = realloc(ld->errs, cap);
		if (nbuf == NULL) {
			ld->oom = true;
			return;
		}
		ld->errs = nbuf;
		ld->errs_cap = cap;
	}
	if (ld->errs_len > 0)
		ld->errs[ld->errs_len++] = '\n';
	start = ld->errs_len;
	if (line > 0)
		n = snprintf(ld->errs + start, ld->errs_cap - start, "%s:%d: %s", file, line, msg);
	else
		n = snprintf(ld->errs + start, ld->errs_cap - start, "%s: %s", file, msg);
	if (n < 0)
		n = 0;
	ld->errs_len = start + (size_t)n;
	/* One error, one line: control characters from file names or values
	 * must not break the line apart. */
	for (i = start; i < ld->errs_len; i++)
		if ((unsigned char)ld->errs[i] < 0x20 || ld->errs[i] == 0x7f)
			ld->errs[i] = '?';
	ld->nerrs++;
}

/* An error with no setting to point at: "FILE:LINE: msg" or "FILE: msg". */
void cfg_err_file(struct loader *ld, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_error_v(ld, file, line, fmt, ap);
	va_end(ap);
}

/* An error about setting s, located at its file and line. */
void cfg_err_at(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_error_v(ld, config_setting_source_file(s), (int)config_setting_source_line(s), fmt, ap);
	va_end(ap);
}

/* Copy the collected errors into the caller's buffer, keeping whole lines
 * and saying how many did not fit. */
void cfg_emit_errors(const struct loader *ld, char *err, size_t errlen)
{
	size_t keep = 0, pos = 0;
	unsigned kept = 0;

	if (err == NULL || errlen == 0)
		return;
	if (ld->oom) {
		snprintf(err, errlen, "out of memory while loading the configuration");
		return;
	}
	if (ld->errs == NULL) {
		err[0] = '\0';
		return;
	}
	if (ld->errs_len < errlen) {
		memcpy(err, ld->errs, ld->errs_len + 1);
		return;
	}
	for (;;) {
		const char *nl = memchr(ld->errs + pos, '\n', ld->errs_len - pos);
		size_t end = nl ? (size_t)(nl - ld->errs) : ld->errs_len;
		char tail[64];
		int tlen = snprintf(tail, sizeof(tail), "\n... and %u more errors",
		                    ld->nerrs - kept - 1);

		if (end + (size_t)tlen >= errlen || nl == NULL)
			break;
		keep = end;
		kept++;
		pos = end + 1;
	}
	if (kept == 0) {
		memcpy(err, ld->errs, errlen - 1);
		err[errlen - 1] = '\0';
		return;
	}
	memcpy(err, ld->errs, keep);
	snprintf(err + keep, errlen - keep, "\n... and %u more error%s", ld->nerrs - kept,
	         ld->nerrs - kept == 1 ? "" : "s");
}

/* A value for an error message, quoted and cut short (buf holds at least
 * SHOW_MAX + 8 bytes).  Never used for secrets. */
const char *cfg_show(char *buf, size_t len, const char *s)
{
	snprintf(buf, len, "\"%.*s%s\"", SHOW_MAX, s, strlen(s) > SHOW_MAX ? "..." : "");
	return buf;
}

/* ------------------------------------------------------------ small helpers */

char *cfg_dup_str(struct loader *ld, const char *s)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		ld->oom = true;
	return d;
}

/* "a" + "/" + "b" (no doubled slash). */
char *cfg_join_path(struct loader *ld, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	bool slash = la > 0 && a[la - 1] == '/';
	char *p = malloc(la + lb + 2);

	if (p == NULL) {
		ld->oom = true;
		return NULL;
	}
	memcpy(p, a, la);
	if (!slash)
		p[la++] = '/';
	memcpy(p + la, b, lb + 1);
	return p;
}

/* The directory part of a path: "a/b.conf" -> "a", "b.conf" -> ".",
 * "/b.conf" -> "/". */
char *cfg_dir_of(struct loader *ld, const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d;

	if (slash == NULL)
		return cfg_dup_str(ld, ".");
	while (slash > path && slash[-1] == '/')
		slash--;
	if (slash == path)
		return cfg_dup_str(ld, "/");
	d = strndup(path, (size_t)(slash - path));
	if (d == NULL)
		ld->oom = true;
	return d;
}

char *cfg_where_of(struct loader *ld, const config_setting_t *s)
{
	char buf[PATH_MAX + 32];

	return cfg_dup_str(ld, config_where(s, buf, sizeof(buf)));
}

bool cfg_streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

bool cfg_in_list(const char *name, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(name, *list) == 0)
			return true;
	return false;
}

const char *cfg_type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP:
		return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a float";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array";
	case CONFIG_TYPE_LIST:
		return "a list";
	default:
		return "nothing";
	}
}

/* A list, or an empty array ("[]" reads as an array in libconfig). */
bool cfg_is_list_like(const config_setting_t *s)
{
	return config_setting_is_list(s) ||
	       (config_setting_is_array(s) && config_setting_length(s) == 0);
}
