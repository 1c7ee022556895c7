/*
 * hba_ident.c — pg_ident.conf parsing and matching (see hba_ident.h).
 *
 * Regexes are compiled at load time; the \1 substitution is done by
 * comparing the role piecewise (prefix, capture, suffix), so a match
 * allocates nothing.  As in PostgreSQL 15 only the first "\1" of the
 * PG-USERNAME is replaced.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hba_ident.h"
#include "hba_token.h"

struct ident_line {
	const char *map;
	const char *system_user; /* the text, regex included */
	const regex_t *re;       /* when system_user starts with '/' */
	const char *role;
	size_t backref; /* offset of "\1" in role, or SIZE_MAX */
};

struct hba_ident {
	struct hba_arena *arena;
	struct ident_line *lines;
	size_t n;
};

static int line_error(char *err, size_t errlen, const struct hba_line *l, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int line_error(char *err, size_t errlen, const struct hba_line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(err, errlen, "%s:%u: ", l->file, l->lineno);
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int parse_line(struct hba_ctx *ctx, const struct hba_line *l, void *item, char *err,
                      size_t errlen)
{
	static const char *const what[] = {"map name", "system user name", "PostgreSQL user name"};
	struct ident_line *il = item;
	const char *s[3];
	char why[HBA_ERR_LEN];
	const char *br;

	if (l->nfields < 3)
		return line_error(err, errlen, l, "missing entry at end of line (expected %s)",
		                  what[l->nfields]);
	if (l->nfields > 3)
		return line_error(err, errlen, l,
		                  "extra field after the PostgreSQL user name: \"%s\"",
		                  l->fields[3].toks[0].str);
	for (int i = 0; i < 3; i++) {
		const struct hba_field *f = &l->fields[i];

		if (f->ntoks > 1)
			return line_error(err, errlen, l, "multiple values in ident field (%s)",
			                  what[i]);
		if (hba_token_is_include(&f->toks[0]))
			return line_error(err, errlen, l,
			                  "@file inclusion (\"%s\") is not supported in ident maps",
			                  f->toks[0].str);
		s[i] = f->toks[0].str;
	}
	il->map = s[0];
	il->system_user = s[1];
	il->role = s[2];
	il->re = NULL;
	il->backref = SIZE_MAX;
	br = strstr(il->role, "\\1");
	if (s[1][0] == '/') {
		regex_t *re;
		int rc;

		rc = hba_regex_compile(ctx->arena, s[1] + 1, 0, &re, why, sizeof(why));
		if (rc < 0) {
			line_error(err, errlen, l, "%s", why);
			return rc;
		}
		if (br != NULL && re->re_nsub == 0)
			return line_error(err, errlen, l,
			                  "regular expression \"%s\" has no subexpressions as "
			                  "requested by backreference in \"%s\"",
			                  s[1] + 1, il->role);
		il->re = re;
		if (br != NULL)
			il->backref = (size_t)(br - il->role);
	}
	return 0;
}

int hba_ident_parse(const char *name, const char *buf, size_t len, unsigned flags,
                    struct hba_ident **out, char *err, size_t errlen)
{
	struct hba_ident *id;
	struct hba_ctx ctx;
	void *items;
	int rc;

	*out = NULL;
	id = calloc(1, sizeof(*id));
	if (id == NULL || (id->arena = hba_arena_new()) == NULL) {
		free(id);
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	hba_ctx_init(&ctx, id->arena, flags | HBA_NO_INCLUDE);
	rc = hba_parse_lines(&ctx, name, buf, len, sizeof(*id->lines), parse_line, &items, &id->n,
	                     err, errlen);
	id->lines = items;
	if (rc < 0) {
		hba_ident_free(id);
		return rc;
	}
	*out = id;
	return 0;
}

int hba_ident_load(const char *path, struct hba_ident **out, char *err, size_t errlen)
{
	struct hba_ctx ctx;
	size_t len;
	char *buf;
	int rc;

	*out = NULL;
	hba_ctx_init(&ctx, NULL, 0);
	rc = hba_read_file(&ctx, path, &buf, &len, err, errlen);
	if (rc < 0)
		return rc;
	rc = hba_ident_parse(path, buf, len, 0, out, err, errlen);
	free(buf);
	return rc;
}

void hba_ident_free(struct hba_ident *ident)
{
	if (ident == NULL)
		return;
	hba_arena_free(ident->arena);
	free(ident);
}

size_t hba_ident_count(const struct hba_ident *ident)
{
	return ident->n;
}

static int ncmp(const char *a, const char *b, size_t n, bool ci)
{
	return ci ? strncasecmp(a, b, n) : strncmp(a, b, n);
}

/* Does role equal line's PG-USERNAME with "\1" replaced by cap[0..caplen)? */
static bool role_matches_subst(const struct ident_line *il, const char *role, const char *cap,
                               size_t caplen, bool ci)
{
	const char *suffix = il->role + il->backref + 2;
	size_t pre = il->backref, suf = strlen(suffix), rlen = strlen(role);

	if (rlen != pre + caplen + suf)
		return false;
	return ncmp(role, il->role, pre, ci) == 0 && ncmp(role + pre, cap, caplen, ci) == 0 &&
	       ncmp(role + pre + caplen, suffix, suf, ci) == 0;
}

static bool line_matches(const struct ident_line *il, const char *system_user, const char *role,
                         bool ci)
{
	regmatch_t m[2];

	if (il->re == NULL) {
		if (ci)
			return strcasecmp(il->system_user, system_user) == 0 &&
			       strcasecmp(il->role, role) == 0;
		return strcmp(il->system_user, system_user) == 0 && strcmp(il->role, role) == 0;
	}
	if (regexec(il->re, system_user, 2, m, 0) != 0)
		return false;
	if (il->backref == SIZE_MAX)
		return ci ? strcasecmp(il->role, role) == 0 : strcmp(il->role, role) == 0;
	if (m[1].rm_so < 0 || m[1].rm_eo < m[1].rm_so)
		return false; /* the group took no part in the match */
	return role_matches_subst(il, role, system_user + m[1].rm_so,
	                          (size_t)(m[1].rm_eo - m[1].rm_so), ci);
}

int hba_ident_match(const struct hba_ident *ident, const char *map, const char *system_user,
                    const char *role, bool case_insensitive)
{
	bool known = false;

	if (ident == NULL || map == NULL)
		return -ENOENT;
	for (size_t i = 0; i < ident->n; i++) {
		const struct ident_line *il = &ident->lines[i];

		if (strcmp(il->map, map) != 0)
			continue;
		known = true;
		if (system_user != NULL && role != NULL &&
		    line_matches(il, system_user, role, case_insensitive))
			return 0;
	}
	return known ? -EACCES : -ENOENT;
}
