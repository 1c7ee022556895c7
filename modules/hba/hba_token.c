/*
 * hba_token.c — arena, regex helper and tokenizer for pg_hba.conf and
 * pg_ident.conf (see hba_token.h).
 *
 * The tokenizer follows PostgreSQL 15's next_token()/next_field_expand():
 * leading blanks and commas are skipped, a token ends at an unquoted blank
 * or comma, `#` outside quotes starts a comment, "" inside quotes is a
 * literal quote, and a token counts as quoted (never a keyword) when it
 * begins with a quote.  Two deliberate differences: an unterminated quote
 * is an error instead of silently running to the end of the line, and an
 * @file that holds no names leaves an empty list in its column (matching
 * nothing) instead of shifting the following columns left.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hba_token.h"

#define CHUNK_SIZE 16384
#define ALIGN      (sizeof(max_align_t))

struct hba_chunk {
	struct hba_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct hba_regex_node {
	struct hba_regex_node *next;
	regex_t re;
};

struct hba_arena {
	struct hba_chunk *chunks;
	struct hba_regex_node *regexes;
};

/* ------------------------------------------------------------ arena */

struct hba_arena *hba_arena_new(void)
{
	return calloc(1, sizeof(struct hba_arena));
}

void hba_arena_free(struct hba_arena *arena)
{
	struct hba_chunk *c, *cn;
	struct hba_regex_node *r;

	if (arena == NULL)
		return;
	for (r = arena->regexes; r != NULL; r = r->next)
		regfree(&r->re);
	for (c = arena->chunks; c != NULL; c = cn) {
		cn = c->next;
		free(c);
	}
	free(arena);
}

void *hba_arena_alloc(struct hba_arena *arena, size_t len)
{
	struct hba_chunk *c = arena->chunks;
	size_t cap;
	void *p;

	if (len > SIZE_MAX / 2)
		return NULL;
	len = (len + ALIGN - 1) & ~(ALIGN - 1);
	if (len == 0)
		len = ALIGN;
	if (c == NULL || c->cap - c->used < len) {
		cap = len > CHUNK_SIZE / 4 ? len : CHUNK_SIZE;
		c = calloc(1, sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->cap = cap;
		if (cap == len && arena->chunks != NULL) {
			/* A big block gets its own chunk, behind the current
			 * one, which keeps serving small requests. */
			c->next = arena->chunks->next;
			arena->chunks->next = c;
		} else {
			c->next = arena->chunks;
			arena->chunks = c;
		}
	}
	p = (char *)c->data + c->used;
	c->used += len;
	return p;
}

void *hba_arena_grow(struct hba_arena *arena, void *arr, size_t n, size_t *cap, size_t elsize)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return arr;
	ncap = *cap ? *cap * 2 : 4;
	if (ncap > SIZE_MAX / 4 / elsize)
		return NULL;
	p = hba_arena_alloc(arena, ncap * elsize);
	if (p == NULL)
		return NULL;
	if (n > 0)
		memcpy(p, arr, n * elsize);
	*cap = ncap;
	return p;
}

char *hba_arena_strndup(struct hba_arena *arena, const char *s, size_t len)
{
	char *p = hba_arena_alloc(arena, len + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *hba_arena_printf(struct hba_arena *arena, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	p = hba_arena_alloc(arena, (size_t)n + 1);
	if (p == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

/* ------------------------------------------------------------ regex */

/*
 * Guarding glibc's regcomp()/regexec(): back-references are refused (they
 * make matching exponential), and so are patterns whose compiled size
 * explodes.  glibc copies the tree of X for X+ (XX*) and X{m,n} (up to n
 * copies), so stacked repetitions like ((a{99}){99}){99} or a++++++++...
 * multiply; optional parts (X?, X*, the n-m optional copies of X{m,n})
 * nested in repetitions make its epsilon-closure pass explode as well
 * (((a?){1,30}){1,30} takes a quarter of a second), so they count double.
 * The scan below walks the ERE grammar (alternation, concatenation, groups,
 * brackets, escapes), estimates the node count with those rules and limits
 * how deeply repetitions nest (adjacent operators as in X+*, which POSIX
 * leaves undefined, count as nested).
 */
#define REGEX_MAX_NEST   32
#define REGEX_MAX_HEIGHT 3 /* a repetition of a repetition of a repetition */

struct regex_scan {
	const char *p;
	const char *why; /* set on refusal */
};

static unsigned long cap_size(unsigned long n)
{
	return n > HBA_MAX_REGEX_SIZE ? HBA_MAX_REGEX_SIZE + 1 : n;
}

/* Skip a bracket expression; p is just past '['. */
static const char *skip_bracket(const char *p)
{
	if (*p == '^')
		p++;
	if (*p == ']')
		p++; /* a leading ']' is literal */
	while (*p != '\0' && *p != ']') {
		if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
			const char *e = strchr(p + 2, ']');

			p = e != NULL ? e : p + strlen(p) - 1;
		}
		p++;
	}
	return *p == ']' ? p + 1 : p;
}

/* The copies a bound {m}, {m,} or {m,n} makes; p at '{', moved past it.
 * 0 when it is no valid bound (glibc then takes '{' literally or fails). */
static unsigned long bound_copies(const char **pp)
{
	const char *p = *pp + 1;
	unsigned long m = 0, n = 0;
	bool comma = false, digits = false;

	for (; *p >= '0' && *p <= '9'; p++, digits = true)
		m = m < 100000 ? m * 10 + (unsigned long)(*p - '0') : m;
	if (*p == ',') {
		comma = true;
		for (p++; *p >= '0' && *p <= '9'; p++, digits = true)
			n = n < 100000 ? n * 10 + (unsigned long)(*p - '0') : n;
	}
	if (*p != '}' || !digits)
		return 0;
	*pp = p + 1;
	if (!comma || n < m)
		n = m;
	return n > 0 ? n + 1 : 1; /* n copies, +1 for the star of {m,} */
}

static unsigned long regex_alt(struct regex_scan *s, int depth, int *height);

/* One branch: atoms with their repetition operators, until '|' or ')'.
 * *height: the deepest nesting of repetitions in it. */
static unsigned long regex_branch(struct regex_scan *s, int depth, int *height)
{
	unsigned long total = 0;

	*height = 0;
	while (*s->p != '\0' && *s->p != '|' && !(*s->p == ')' && depth > 0)) {
		unsigned long size = 1;
		int h = 0;

		if (*s->p == '(') {
			if (depth >= REGEX_MAX_NEST) {
				s->why = "parentheses nested too deeply";
				return HBA_MAX_REGEX_SIZE + 1;
			}
			s->p++;
			size = regex_alt(s, depth + 1, &h) + 1;
			if (*s->p == ')')
				s->p++;
		} else if (*s->p == '[') {
			s->p = skip_bracket(s->p + 1);
		} else if (*s->p == '\\') {
			if (s->p[1] >= '1' && s->p[1] <= '9') {
				s->why = "back-references are not supported";
				return HBA_MAX_REGEX_SIZE + 1;
			}
			s->p += s->p[1] != '\0' ? 2 : 1;
		} else {
			s->p++;
		}
		for (;;) {
			unsigned long copies;

			if (*s->p == '*' || *s->p == '?' || *s->p == '+') {
				s->p++;
				size = cap_size(size * 2);
			} else if (*s->p == '{' && (copies = bound_copies(&s->p)) > 0) {
				size = cap_size(size * copies);
			} else {
				break;
			}
			if (++h > REGEX_MAX_HEIGHT) {
				s->why = "repetitions nested too deeply";
				return HBA_MAX_REGEX_SIZE + 1;
			}
		}
		if (h > *height)
			*height = h;
		total = cap_size(total + size);
		if (total > HBA_MAX_REGEX_SIZE)
			return total;
	}
	return total;
}

static unsigned long regex_alt(struct regex_scan *s, int depth, int *height)
{
	unsigned long total = regex_branch(s, depth, height);

	while (*s->p == '|' && total <= HBA_MAX_REGEX_SIZE && s->why == NULL) {
		int h;

		s->p++;
		total = cap_size(total + regex_branch(s, depth, &h) + 1);
		if (h > *height)
			*height = h;
	}
	return total;
}

static int regex_check(const char *pattern, char *err, size_t errlen)
{
	struct regex_scan s = {pattern, NULL};
	unsigned long size = 0;
	int height;

	/* an unmatched ')' at the top is taken literally by glibc */
	while (*s.p != '\0' && s.why == NULL && size <= HBA_MAX_REGEX_SIZE) {
		size = cap_size(size + regex_alt(&s, 0, &height));
		if (*s.p == ')' || *s.p == '|')
			s.p++;
	}
	if (s.why != NULL) {
		snprintf(err, errlen, "%s", s.why);
		return -EINVAL;
	}
	if (size > HBA_MAX_REGEX_SIZE) {
		snprintf(err, errlen, "too complex (repetitions multiply past %d nodes)",
		         HBA_MAX_REGEX_SIZE);
		return -EINVAL;
	}
	return 0;
}

int hba_regex_compile(struct hba_arena *arena, const char *pattern, int cflags, regex_t **out,
                      char *err, size_t errlen)
{
	struct hba_regex_node *node;
	char why[256];
	int rc;

	rc = regex_check(pattern, why, sizeof(why));
	if (rc < 0) {
		snprintf(err, errlen, "invalid regular expression \"%s\": %s", pattern, why);
		return rc;
	}
	node = hba_arena_alloc(arena, sizeof(*node));
	if (node == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = regcomp(&node->re, pattern, REG_EXTENDED | cflags);
	if (rc != 0) {
		regerror(rc, &node->re, why, sizeof(why));
		snprintf(err, errlen, "invalid regular expression \"%s\": %s", pattern, why);
		return rc == REG_ESPACE ? -ENOMEM : -EINVAL;
	}
	node->next = arena->regexes;
	arena->regexes = node;
	*out = &node->re;
	return 0;
}

/* ------------------------------------------------------------ tokenizer */

void hba_ctx_init(struct hba_ctx *ctx, struct hba_arena *arena, unsigned flags)
{
	ctx->arena = arena;
	ctx->flags = flags;
	ctx->tokens_left = HBA_MAX_TOKENS;
	ctx->bytes_left = HBA_MAX_READ;
}

bool hba_token_is_include(const struct hba_token *tok)
{
	return !tok->quoted && tok->str[0] == '@' && tok->str[1] != '\0';
}

bool hba_token_is_keyword(const struct hba_token *tok, const char *kw)
{
	return !tok->quoted && strcmp(tok->str, kw) == 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * Next token of a record at *pos into tok (a buffer as long as the record).
 * 1 with a token, 0 at the end of the record (or a comment), -EINVAL for an
 * unterminated quote.  *comma tells whether an unquoted comma ended it.
 */
static int next_token(const char *rec, size_t *pos, char *tok, size_t *toklen, bool *quoted,
                      bool *comma)
{
	const char *p = rec + *pos;
	bool in_quote = false, was_quote = false, saw_quote = false;
	size_t n = 0;

	*quoted = false;
	*comma = false;
	while (*p != '\0' && (is_blank(*p) || *p == ','))
		p++;
	while (*p != '\0' && (!is_blank(*p) || in_quote)) {
		if (*p == '#' && !in_quote) {
			p += strlen(p);
			break;
		}
		if (*p == ',' && !in_quote) {
			*comma = true;
			p++;
			break;
		}
		if (*p != '"' || was_quote)
			tok[n++] = *p;
		/* "" inside quotes is one literal quote */
		if (in_quote && *p == '"')
			was_quote = !was_quote;
		else
			was_quote = false;
		if (*p == '"') {
			in_quote = !in_quote;
			saw_quote = true;
			if (n == 0)
				*quoted = true;
		}
		p++;
	}
	*pos = (size_t)(p - rec);
	tok[n] = '\0';
	*toklen = n;
	if (in_quote)
		return -EINVAL;
	return saw_quote || n > 0;
}

/* Split one record (NUL-terminated) into fields. */
static int tokenize_record(struct hba_ctx *ctx, const char *file, unsigned lineno, const char *rec,
                           char *tokbuf, struct hba_line *line, char *err, size_t errlen)
{
	size_t pos = 0, fcap = 0;

	line->file = file;
	line->lineno = lineno;
	line->fields = NULL;
	line->nfields = 0;
	while (rec[pos] != '\0') {
		struct hba_field field = {NULL, 0};
		size_t tcap = 0;
		bool comma;

		do {
			size_t toklen;
			bool quoted;
			int rc;

			rc = next_token(rec, &pos, tokbuf, &toklen, &quoted, &comma);
			if (rc < 0) {
				snprintf(err, errlen, "%s:%u: unterminated quoted string", file,
				         lineno);
				return rc;
			}
			if (rc == 0)
				break;
			if (ctx->tokens_left == 0) {
				snprintf(err, errlen, "%s:%u: too many tokens (limit %d in all)",
				         file, lineno, HBA_MAX_TOKENS);
				return -E2BIG;
			}
			ctx->tokens_left--;
			field.toks = hba_arena_grow(ctx->arena, field.toks, field.ntoks, &tcap,
			                            sizeof(*field.toks));
			if (field.toks == NULL)
				goto nomem;
			field.toks[field.ntoks].str = hba_arena_strndup(ctx->arena, tokbuf, toklen);
			if (field.toks[field.ntoks].str == NULL)
				goto nomem;
			field.toks[field.ntoks].quoted = quoted;
			field.ntoks++;
		} while (comma);
		if (field.ntoks == 0)
			continue;
		line->fields = hba_arena_grow(ctx->arena, line->fields, line->nfields, &fcap,
		                              sizeof(*line->fields));
		if (line->fields == NULL)
			goto nomem;
		line->fields[line->nfields++] = field;
	}
	return 0;
nomem:
	snprintf(err, errlen, "%s:%u: out of memory", file, lineno);
	return -ENOMEM;
}

int hba_tokenize(struct hba_ctx *ctx, const char *file, const char *buf, size_t len,
                 struct hba_line **lines, size_t *nlines, char *err, size_t errlen)
{
	char *rec = malloc(HBA_MAX_LINE + 1), *tokbuf = malloc(HBA_MAX_LINE + 1);
	size_t pos = 0, cap = 0;
	unsigned phys = 0;
	int rc = 0;

	*lines = NULL;
	*nlines = 0;
	if (rec == NULL || tokbuf == NULL) {
		snprintf(err, errlen, "%s: out of memory", file);
		rc = -ENOMEM;
		goto out;
	}
	while (pos < len) {
		unsigned first = phys + 1;
		size_t rlen = 0;
		bool more = true;
		struct hba_line line;

		/* one record: physical lines joined while they end in '\' */
		while (more && pos < len) {
			const char *nl = memchr(buf + pos, '\n', len - pos);
			size_t end = nl != NULL ? (size_t)(nl - buf) : len, e = end;

			phys++;
			while (e > pos && buf[e - 1] == '\r')
				e--;
			more = e > pos && buf[e - 1] == '\\';
			if (more)
				e--;
			if (memchr(buf + pos, '\0', e - pos) != NULL) {
				snprintf(err, errlen, "%s:%u: line contains a NUL byte", file,
				         phys);
				rc = -EINVAL;
				goto out;
			}
			if (e - pos > HBA_MAX_LINE - rlen) {
				snprintf(err, errlen, "%s:%u: line too long (limit %d bytes)", file,
				         first, HBA_MAX_LINE);
				rc = -E2BIG;
				goto out;
			}
			memcpy(rec + rlen, buf + pos, e - pos);
			rlen += e - pos;
			pos = nl != NULL ? end + 1 : len;
		}
		rec[rlen] = '\0';
		rc = tokenize_record(ctx, file, first, rec, tokbuf, &line, err, errlen);
		if (rc < 0)
			goto out;
		if (line.nfields == 0)
			continue;
		if (*nlines >= HBA_MAX_ENTRIES) {
			snprintf(err, errlen, "%s:%u: too many entries (limit %d)", file, first,
			         HBA_MAX_ENTRIES);
			rc = -E2BIG;
			goto out;
		}
		*lines = hba_arena_grow(ctx->arena, *lines, *nlines, &cap, sizeof(**lines));
		if (*lines == NULL) {
			snprintf(err, errlen, "%s:%u: out of memory", file, first);
			rc = -ENOMEM;
			goto out;
		}
		(*lines)[(*nlines)++] = line;
	}
out:
	free(rec);
	free(tokbuf);
	return rc;
}

int hba_parse_lines(struct hba_ctx *ctx, const char *name, const char *buf, size_t len,
                    size_t elsize,
                    int (*parse)(struct hba_ctx *ctx, const struct hba_line *l, void *item,
                                 char *err, size_t errlen),
                    void **items, size_t *nitems, char *err, size_t errlen)
{
	struct hba_line *lines;
	const char *file;
	size_t nlines;
	char *arr;
	int rc;

	*items = NULL;
	*nitems = 0;
	file = hba_arena_strndup(ctx->arena, name, strlen(name));
	if (file == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	rc = hba_tokenize(ctx, file, buf, len, &lines, &nlines, err, errlen);
	if (rc < 0)
		return rc;
	arr = hba_arena_alloc(ctx->arena, (nlines ? nlines : 1) * elsize);
	if (arr == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	*items = arr;
	for (size_t i = 0; i < nlines; i++) {
		rc = parse(ctx, &lines[i], arr + *nitems * elsize, err, errlen);
		if (rc < 0)
			return rc;
		(*nitems)++;
	}
	return 0;
}

/* ------------------------------------------------------------ files */

int hba_read_file(struct hba_ctx *ctx, const char *path, char **buf, size_t *len, char *err,
                  size_t errlen)
{
	size_t cap, n = 0;
	struct stat st;
	char *b = NULL;
	int fd, rc = 0;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: cannot read: is a directory", path);
		rc = -EISDIR;
		goto out;
	}
	if (S_ISREG(st.st_mode) && st.st_size > HBA_MAX_FILE_SIZE)
		goto too_large;
	cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096;
	for (;;) {
		ssize_t got;

		if (n == cap) {
			char *nb;

			if (cap > HBA_MAX_FILE_SIZE)
				goto too_large;
			cap = cap * 2 > HBA_MAX_FILE_SIZE + 1 ? HBA_MAX_FILE_SIZE + 1 : cap * 2;
			nb = realloc(b, cap);
			if (nb == NULL)
				goto nomem;
			b = nb;
		} else if (b == NULL) {
			b = malloc(cap);
			if (b == NULL)
				goto nomem;
		}
		got = read(fd, b + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	if (n > HBA_MAX_FILE_SIZE)
		goto too_large;
	if (n > ctx->bytes_left) {
		snprintf(err, errlen,
		         "%s: too much data read through @file inclusions (limit %d bytes in all)",
		         path, HBA_MAX_READ);
		rc = -E2BIG;
		goto out;
	}
	ctx->bytes_left -= n;
	*buf = b;
	*len = n;
	b = NULL;
	goto out;
too_large:
	snprintf(err, errlen, "%s: file too large (limit %d bytes)", path, HBA_MAX_FILE_SIZE);
	rc = -EFBIG;
	goto out;
nomem:
	snprintf(err, errlen, "%s: out of memory", path);
	rc = -ENOMEM;
out:
	free(b);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The path an @file names: relative to the directory of the file holding
 * the reference (as PostgreSQL does). */
static const char *include_path(struct hba_arena *arena, const char *outer, const char *ref)
{
	const char *slash = strrchr(outer, '/');

	if (ref[0] == '/' || slash == NULL)
		return hba_arena_strndup(arena, ref, strlen(ref));
	return hba_arena_printf(arena, "%.*s/%s", (int)(slash - outer), outer, ref);
}

static void add_included_from(char *err, size_t errlen, const char *file, unsigned lineno)
{
	size_t n = strlen(err);

	if (n < errlen)
		snprintf(err + n, errlen - n, " (included from %s:%u)", file, lineno);
}

static int expand(struct hba_ctx *ctx, const char *file, unsigned lineno,
                  const struct hba_field *in, struct hba_field *out, size_t *cap, int depth,
                  char *err, size_t errlen);

/* Append the tokens of the file `ref` names (all its fields) to out. */
static int expand_file(struct hba_ctx *ctx, const char *file, unsigned lineno, const char *ref,
                       struct hba_field *out, size_t *cap, int depth, char *err, size_t errlen)
{
	struct hba_line *lines;
	const char *path;
	size_t nlines, len;
	char *buf;
	int rc;

	if (ctx->flags & HBA_NO_INCLUDE) {
		snprintf(err, errlen, "%s:%u: @file inclusion is disabled here (\"@%s\")", file,
		         lineno, ref);
		return -EINVAL;
	}
	if (depth >= HBA_MAX_DEPTH) {
		snprintf(err, errlen,
		         "%s:%u: @file inclusions nested too deeply (limit %d) at \"@%s\"", file,
		         lineno, HBA_MAX_DEPTH, ref);
		return -ELOOP;
	}
	path = include_path(ctx->arena, file, ref);
	if (path == NULL) {
		snprintf(err, errlen, "%s:%u: out of memory", file, lineno);
		return -ENOMEM;
	}
	rc = hba_read_file(ctx, path, &buf, &len, err, errlen);
	if (rc < 0)
		goto fail;
	rc = hba_tokenize(ctx, path, buf, len, &lines, &nlines, err, errlen);
	free(buf);
	if (rc < 0)
		goto fail;
	for (size_t i = 0; i < nlines; i++) {
		for (size_t f = 0; f < lines[i].nfields; f++) {
			rc = expand(ctx, path, lines[i].lineno, &lines[i].fields[f], out, cap,
			            depth + 1, err, errlen);
			if (rc < 0)
				goto fail;
		}
	}
	return 0;
fail:
	/* name the rule's own line once, not every file of a nested chain */
	if (depth == 0)
		add_included_from(err, errlen, file, lineno);
	return rc;
}

static int expand(struct hba_ctx *ctx, const char *file, unsigned lineno,
                  const struct hba_field *in, struct hba_field *out, size_t *cap, int depth,
                  char *err, size_t errlen)
{
	for (size_t i = 0; i < in->ntoks; i++) {
		int rc;

		if (hba_token_is_include(&in->toks[i])) {
			rc = expand_file(ctx, file, lineno, in->toks[i].str + 1, out, cap, depth,
			                 err, errlen);
			if (rc < 0)
				return rc;
			continue;
		}
		out->toks = hba_arena_grow(ctx->arena, out->toks, out->ntoks, cap,
		                           sizeof(*out->toks));
		if (out->toks == NULL) {
			snprintf(err, errlen, "%s:%u: out of memory", file, lineno);
			return -ENOMEM;
		}
		out->toks[out->ntoks++] = in->toks[i];
	}
	return 0;
}

int hba_expand_field(struct hba_ctx *ctx, const struct hba_line *line, const struct hba_field *in,
                     struct hba_field *out, char *err, size_t errlen)
{
	size_t cap = 0;
	bool any = false;

	for (size_t i = 0; i < in->ntoks; i++)
		any |= hba_token_is_include(&in->toks[i]);
	if (!any) {
		*out = *in;
		return 0;
	}
	out->toks = NULL;
	out->ntoks = 0;
	return expand(ctx, line->file, line->lineno, in, out, &cap, 0, err, errlen);
}
