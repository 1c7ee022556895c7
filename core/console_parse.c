/*
 * console_parse.c — the admin console's command parser: words separated
 * by blanks, keywords case-insensitive, at most one argument (a database
 * name, bare or double-quoted with "" for a quote), blanks and one
 * trailing ';' around the whole ignored, one command per query.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "console.h"

enum arg_rule { NO_ARG, OPT_ARG, NEED_ARG };

static const struct {
	const char *text; /* keywords separated by one space, upper case */
	enum console_cmd cmd;
	enum arg_rule arg;
} commands[] = {
        {"SHOW VERSION", CONSOLE_SHOW_VERSION, NO_ARG},
        {"SHOW POOLS", CONSOLE_SHOW_POOLS, NO_ARG},
        {"SHOW STATS", CONSOLE_SHOW_STATS, NO_ARG},
        {"SHOW CONFIG", CONSOLE_SHOW_CONFIG, NO_ARG},
        {"SHOW MODULES", CONSOLE_SHOW_MODULES, NO_ARG},
        {"SHOW CLIENTS", CONSOLE_SHOW_CLIENTS, NO_ARG},
        {"SHOW SERVERS", CONSOLE_SHOW_SERVERS, NO_ARG},
        {"RELOAD", CONSOLE_RELOAD, NO_ARG},
        {"SHUTDOWN", CONSOLE_SHUTDOWN, NO_ARG},
        {"PAUSE", CONSOLE_PAUSE, OPT_ARG},
        {"RESUME", CONSOLE_RESUME, OPT_ARG},
        {"DISABLE", CONSOLE_DISABLE, NEED_ARG},
        {"ENABLE", CONSOLE_ENABLE, NEED_ARG},
        {"KILL", CONSOLE_KILL, NEED_ARG},
};

#define MAX_WORDS 4

struct word {
	const char *p; /* in the query */
	size_t len;
	bool quoted;
};

/* Split q[0..len) into words; -1 on a bad quote, a ';' or NUL inside, or
 * too many words. */
static int split(const char *q, size_t len, struct word *w, size_t *nw)
{
	size_t i = 0;

	*nw = 0;
	while (i < len) {
		unsigned char ch = (unsigned char)q[i];

		if (isspace(ch)) {
			i++;
			continue;
		}
		if (ch == '\0' || ch == ';' || *nw == MAX_WORDS)
			return -1;
		w[*nw] = (struct word){.p = q + i};
		if (ch == '"') {
			w[*nw].quoted = true;
			for (i++;; i++) {
				if (i >= len)
					return -1; /* unterminated */
				if (q[i] == '\0')
					return -1;
				if (q[i] == '"') {
					if (i + 1 < len && q[i + 1] == '"') {
						i++;
						continue;
					}
					break;
				}
			}
			i++;
			w[*nw].len = (size_t)(q + i - w[*nw].p);
			if (i < len && !isspace((unsigned char)q[i]))
				return -1; /* "a"b */
		} else {
			while (i < len && !isspace((unsigned char)q[i]) && q[i] != '"' &&
			       q[i] != ';' && q[i] != '\0')
				i++;
			w[*nw].len = (size_t)(q + i - w[*nw].p);
		}
		(*nw)++;
	}
	return 0;
}

/* The argument's text (quotes removed, "" -> "), or false when empty or
 * longer than CONSOLE_NAME_MAX. */
static bool take_arg(const struct word *w, char *arg, size_t arglen)
{
	size_t n = 0;

	if (arglen == 0)
		return false;
	if (!w->quoted) {
		if (w->len > CONSOLE_NAME_MAX || w->len + 1 > arglen)
			return false;
		memcpy(arg, w->p, w->len);
		arg[w->len] = '\0';
		return w->len > 0;
	}
	for (size_t i = 1; i + 1 < w->len; i++) {
		if (w->p[i] == '"')
			i++; /* the second of a "" pair */
		if (n >= CONSOLE_NAME_MAX || n + 1 >= arglen)
			return false;
		arg[n++] = w->p[i];
	}
	arg[n] = '\0';
	return n > 0;
}

static bool keyword_is(const struct word *w, const char *kw, size_t kwlen)
{
	return !w->quoted && w->len == kwlen && strncasecmp(w->p, kw, kwlen) == 0;
}

/* Does the command text (space-separated keywords) match the first words? */
static size_t match_keywords(const char *text, const struct word *w, size_t nw)
{
	size_t k = 0;

	while (*text != '\0') {
		const char *sp = strchr(text, ' ');
		size_t kl = sp ? (size_t)(sp - text) : strlen(text);

		if (k >= nw || !keyword_is(&w[k], text, kl))
			return 0;
		k++;
		text += kl + (sp ? 1 : 0);
	}
	return k;
}

enum console_cmd console_parse(const char *q, size_t len, char *name, size_t namelen, char *arg,
                               size_t arglen)
{
	struct word w[MAX_WORDS];
	size_t nw;

	snprintf(name, namelen, "?");
	if (arglen > 0)
		arg[0] = '\0';
	/* blanks, and one trailing ';' */
	while (len > 0 && (isspace((unsigned char)q[len - 1]) || q[len - 1] == '\0'))
		len--;
	if (len > 0 && q[len - 1] == ';')
		len--;
	if (len > CONSOLE_QUERY_MAX || split(q, len, w, &nw) < 0)
		return CONSOLE_INVALID;
	if (nw == 0) {
		snprintf(name, namelen, "%s", "");
		return CONSOLE_EMPTY;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		size_t k = match_keywords(commands[i].text, w, nw);
		size_t extra;

		if (k == 0)
			continue;
		extra = nw - k;
		if (extra > 1 || (extra == 0 && commands[i].arg == NEED_ARG) ||
		    (extra == 1 && commands[i].arg == NO_ARG))
			continue;
		if (extra == 1 && !take_arg(&w[k], arg, arglen)) {
			if (arglen > 0)
				arg[0] = '\0';
			return CONSOLE_INVALID;
		}
		snprintf(name, namelen, "%s", commands[i].text);
		return commands[i].cmd;
	}
	return CONSOLE_INVALID;
}
