/*
 * config_scan.c — a light pre-scan of each file's raw text before libconfig
 * parses it.
 *
 * libconfig 1.5 (Debian 12) reads integer literals with atoi():
 * 4294973832 silently becomes 6536 and 0777 becomes decimal 777.  The scan
 * finds out-of-range literals (reported as errors) and leading-zero literals
 * (so that unix_socket_mode = 0777 means what it says).  It also follows
 * every @include, as libconfig's scanner would, so that each target is
 * checked (cfg_read_text()) before libconfig opens it: handed a directory,
 * libconfig calls exit().
 */
#include "autoconf.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"

/* libconfig 1.5 refuses @include nesting deeper than this. */
#define LIBCONFIG_MAX_INCLUDE_DEPTH 10

/* @include directives followed in one load, all files together. */
#define MAX_INCLUDES 256

struct scan {
	struct loader *ld;
	const char *name; /* the file's name as libconfig records it */
	const char *text;
	size_t len, pos;
	unsigned line;
	int depth;
	bool safe; /* false: do not hand this file to libconfig */
	const char *last_name;
	size_t last_name_len;
	unsigned last_name_line;
};

static void add_hint(struct scan *sc, long long dec, long long oct)
{
	struct loader *ld = sc->ld;
	struct octal_hint *h;

	h = realloc(ld->hints, (ld->nhints + 1) * sizeof(*h));
	if (h == NULL) {
		ld->oom = true;
		return;
	}
	ld->hints = h;
	h = &ld->hints[ld->nhints];
	h->file = cfg_dup_str(ld, sc->name);
	if (h->file == NULL)
		return;
	h->line = sc->last_name_line;
	h->as_decimal = dec;
	h->as_octal = oct;
	ld->nhints++;
}

/* `@include "path"`: sc->pos is just after the opening quote. */
static void scan_include(struct scan *sc)
{
	struct loader *ld = sc->ld;
	unsigned line = sc->line;
	char *path, *full;
	size_t n = 0;

	path = malloc(PGS_CONFIG_MAX_STRING + 1);
	if (path == NULL) {
		ld->oom = true;
		sc->safe = false;
		return;
	}
	while (sc->pos < sc->len && sc->text[sc->pos] != '"') {
		char c = sc->text[sc->pos];

		/* libconfig 1.5 knows only \\ and \" in an @include path;
		 * anything else falls to its default rule. */
		if (c == '\\') {
			char next = sc->pos + 1 < sc->len ? sc->text[sc->pos + 1] : 0;

			if (next != '\\' && next != '"') {
				cfg_err_file(ld, sc->name, (int)line,
				             "@include: unsupported escape in the file name");
				sc->safe = false;
				free(path);
				return;
			}
			c = next;
			sc->pos++;
		}
		if (c == '\n')
			sc->line++;
		if (n == PGS_CONFIG_MAX_STRING) {
			cfg_err_file(ld, sc->name, (int)line,
			             "@include: file name longer than %d bytes",
			             PGS_CONFIG_MAX_STRING);
			sc->safe = false;
			free(path);
			return;
		}
		path[n++] = c;
		sc->pos++;
	}
	if (sc->pos >= sc->len) {
		cfg_err_file(ld, sc->name, (int)line, "@include: unterminated file name");
		sc->safe = false;
		free(path);
		return;
	}
	sc->pos++; /* closing quote */
	path[n] = '\0';
	if (strlen(path) != n) {
		cfg_err_file(ld, sc->name, (int)line, "@include: NUL in the file name");
		sc->safe = false;
		free(path);
		return;
	}
	/* A file including itself ten levels deep, twice per level, would
	 * cost us 2^10 scans while libconfig stops at its first error. */
	if (++ld->nincludes > MAX_INCLUDES) {
		if (ld->nincludes == MAX_INCLUDES + 1)
			cfg_err_file(ld, sc->name, (int)line,
			             "more than %d @include "
			             "directives",
			             MAX_INCLUDES);
		sc->safe = false;
		free(path);
		return;
	}
	/* Resolved as libconfig does: relative to the include directory. */
	full = path[0] == '/' ? cfg_dup_str(ld, path) : cfg_join_path(ld, ld->dir, path);
	if (full == NULL) {
		sc->safe = false;
		free(path);
		return;
	}
	if (!cfg_scan_file(ld, path, full, sc->name, (int)line, sc->depth + 1))
		sc->safe = false;
	free(full);
	free(path);
}

/* A number token at sc->pos: report literals libconfig 1.5 would wrap, and
 * remember leading-zero literals. */
static void scan_number(struct scan *sc)
{
	const char *t = sc->text;
	size_t start = sc->pos, i = sc->pos, digits;
	unsigned long long v = 0;
	bool neg = false, overflow = false;

	if (t[i] == '+' || t[i] == '-')
		neg = t[i++] == '-';
	if (t[i] == '0' && (t[i + 1] == 'x' || t[i + 1] == 'X') &&
	    isxdigit((unsigned char)t[i + 2])) {
		size_t sig = 0;

		for (i += 2; i < sc->len && isxdigit((unsigned char)t[i]); i++) {
			if (sig > 0 || t[i] != '0')
				sig++;
		}
		if (i < sc->len && t[i] == 'L') {
			overflow = sig > 16;
			i++;
			if (i < sc->len && t[i] == 'L')
				i++;
		} else {
			overflow = sig > 8;
		}
		goto done;
	}
	digits = i;
	while (i < sc->len && isdigit((unsigned char)t[i])) {
		if (v > (ULLONG_MAX - 9) / 10)
			overflow = true;
		else
			v = v * 10 + (unsigned long long)(t[i] - '0');
		i++;
	}
	digits = i - digits;
	if (i < sc->len && (t[i] == '.' || t[i] == 'e' || t[i] == 'E')) {
		/* a float: libconfig reads it with strtod, nothing to check */
		if (t[i] == '.')
			for (i++; i < sc->len && isdigit((unsigned char)t[i]); i++)
				;
		if (i < sc->len && (t[i] == 'e' || t[i] == 'E')) {
			i++;
			if (i < sc->len && (t[i] == '+' || t[i] == '-'))
				i++;
			while (i < sc->len && isdigit((unsigned char)t[i]))
				i++;
		}
		sc->pos = i;
		return;
	}
	if (digits == 0) {
		sc->pos = start + 1;
		return;
	}
	if (i < sc->len && t[i] == 'L') {
		overflow = overflow || v > (neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX);
		i++;
		if (i < sc->len && t[i] == 'L')
			i++;
	} else {
		overflow = overflow || v > (neg ? (unsigned long long)INT_MAX + 1 : INT_MAX);
		if (!overflow && digits > 1 && t[i - digits] == '0') {
			long long oct = 0;
			size_t k;

			for (k = i - digits; k < i && oct >= 0; k++)
				oct = t[k] <= '7' ? oct * 8 + (t[k] - '0') : -1;
			if (oct >= 0 && neg)
				oct = -oct;
			/* only unix_socket_mode is read as octal */
			if (sc->last_name_len == 16 &&
			    memcmp(sc->last_name, "unix_socket_mode", 16) == 0)
				add_hint(sc, neg ? -(long long)v : (long long)v, oct);
		}
	}
done:
	if (overflow)
		cfg_err_file(sc->ld, sc->name, (int)sc->line,
		             "integer %.*s is out of range (libconfig would silently "
		             "change its value)",
		             (int)(i - start > 40 ? 40 : i - start), t + start);
	sc->pos = i;
}

static void scan_text(struct scan *sc)
{
	const char *t = sc->text;
	bool bol = true;

	while (sc->pos < sc->len) {
		char c = t[sc->pos];

		if (c == '\n') {
			sc->line++;
			sc->pos++;
			bol = true;
			continue;
		}
		if (bol) {
			/* the scanner's rule: ^[ \t]*@include[ \t]+\" */
			size_t j = sc->pos;

			bol = false;
			while (j < sc->len && (t[j] == ' ' || t[j] == '\t'))
				j++;
			if (sc->len - j > 8 && memcmp(t + j, "@include", 8) == 0 &&
			    (t[j + 8] == ' ' || t[j + 8] == '\t')) {
				j += 8;
				while (j < sc->len && (t[j] == ' ' || t[j] == '\t'))
					j++;
				if (j < sc->len && t[j] == '"') {
					sc->pos = j + 1;
					scan_include(sc);
					continue;
				}
			}
		}
		if (c == '#' || (c == '/' && t[sc->pos + 1] == '/')) {
			while (sc->pos < sc->len && t[sc->pos] != '\n')
				sc->pos++;
		} else if (c == '/' && t[sc->pos + 1] == '*') {
			sc->pos += 2;
			while (sc->pos < sc->len && !(t[sc->pos] == '*' && t[sc->pos + 1] == '/')) {
				if (t[sc->pos] == '\n')
					sc->line++;
				sc->pos++;
			}
			sc->pos += sc->pos < sc->len ? 2 : 0;
		} else if (c == '"') {
			for (sc->pos++; sc->pos < sc->len && t[sc->pos] != '"'; sc->pos++) {
				if (t[sc->pos] == '\\' && sc->pos + 1 < sc->len)
					sc->pos++;
				if (t[sc->pos] == '\n')
					sc->line++;
			}
			sc->pos++;
		} else if (isalpha((unsigned char)c) || c == '*') {
			sc->last_name = t + sc->pos;
			sc->last_name_line = sc->line;
			while (sc->pos < sc->len &&
			       (isalnum((unsigned char)t[sc->pos]) ||
			        strchr("-_*", t[sc->pos]) != NULL) &&
			       t[sc->pos] != '\0')
				sc->pos++;
			sc->last_name_len = (size_t)(t + sc->pos - sc->last_name);
		} else if (isdigit((unsigned char)c) ||
		           (c == '.' && isdigit((unsigned char)t[sc->pos + 1])) ||
		           ((c == '-' || c == '+') &&
		            (isdigit((unsigned char)t[sc->pos + 1]) ||
		             (t[sc->pos + 1] == '.' && isdigit((unsigned char)t[sc->pos + 2]))))) {
			scan_number(sc);
		} else {
			sc->pos++;
		}
	}
}

/*
 * Check one file (and what it @includes) before libconfig sees it.
 * Returns false when it must not be handed to libconfig.
 */
bool cfg_scan_file(struct loader *ld, const char *name, const char *open_path, const char *ctx_file,
                   int ctx_line, int depth)
{
	struct scan sc;
	char *text;
	size_t len;
	int r;

	r = cfg_read_text(ld, name, open_path, ctx_file, ctx_line, &text, &len);
	if (r <= 0)
		return r == 0;
	if (depth > LIBCONFIG_MAX_INCLUDE_DEPTH) {
		/* libconfig refuses this include before opening it */
		free(text);
		return true;
	}
	memset(&sc, 0, sizeof(sc));
	sc.ld = ld;
	sc.name = name;
	sc.text = text;
	sc.len = len;
	sc.line = 1;
	sc.depth = depth;
	sc.safe = true;
	scan_text(&sc);
	free(text);
	return sc.safe;
}
