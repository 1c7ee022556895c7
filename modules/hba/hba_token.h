/*
 * hba_token.h — the tokenizer shared by the pg_hba.conf and pg_ident.conf
 * parsers, with PostgreSQL 15's rules: whitespace-separated fields, `#`
 * comments, double quotes ("" is a literal quote inside them), comma lists
 * inside a field, backslash line continuation and `@file` inclusion.
 *
 * Pure functions: no daemon services.  Everything a parse produces lives in
 * one arena, freed at once; errors come back as text naming file:line.
 */
#ifndef PGS_HBA_TOKEN_H
#define PGS_HBA_TOKEN_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

/* Limits, each reported with a clear error when exceeded. */
#define HBA_MAX_LINE       8192               /* bytes in a record, continuations joined */
#define HBA_MAX_FILE_SIZE  (1024 * 1024)      /* bytes in one file */
#define HBA_MAX_ENTRIES    10000              /* records (rules, map lines) in one file */
#define HBA_MAX_DEPTH      10                 /* nesting of @file inclusions */
#define HBA_MAX_TOKENS     100000             /* tokens in one parse, inclusions counted */
#define HBA_MAX_READ       (16 * 1024 * 1024) /* bytes read in one parse, inclusions counted */
#define HBA_MAX_REGEX_SIZE 1000               /* estimated nodes of a compiled regex */

/* Parse flags. */
#define HBA_NO_INCLUDE 0x1u /* refuse @file (parsing from memory, fuzzing) */

/* Error text: "file:line: what" (plus "(included from file:line)"). */
#define HBA_ERR_LEN 1024

/* A one-shot allocator: everything a parse keeps, freed by hba_arena_free(). */
struct hba_arena;

/* One token; `quoted` when it began with a double quote (it is then never a
 * keyword and never an @file reference). */
struct hba_token {
	const char *str;
	bool quoted;
};

/* One whitespace-separated field: a comma list of tokens. */
struct hba_field {
	struct hba_token *toks;
	size_t ntoks;
};

/* One record (a logical line). */
struct hba_line {
	const char *file; /* name as given, for messages and relative @file */
	unsigned lineno;  /* first physical line of the record */
	struct hba_field *fields;
	size_t nfields;
};

/* State of one parse: the arena and the budgets shared by all inclusions. */
struct hba_ctx {
	struct hba_arena *arena;
	unsigned flags;
	size_t tokens_left;
	size_t bytes_left;
};

/* A new, empty arena, or NULL when out of memory. */
struct hba_arena *hba_arena_new(void);

/* Free the arena, everything allocated from it and its compiled regexes.
 * NULL is allowed. */
void hba_arena_free(struct hba_arena *arena);

/* len bytes (zeroed, aligned for any type) that live as long as the arena;
 * NULL when out of memory. */
void *hba_arena_alloc(struct hba_arena *arena, size_t len);

/* A NUL-terminated copy of s[0..len) in the arena; NULL when out of memory. */
char *hba_arena_strndup(struct hba_arena *arena, const char *s, size_t len);

/*
 * Room for element n of a growing array of elsize-byte elements in the
 * arena: returns arr itself when n < *cap, else a copy with twice the room
 * (old room is only given back with the arena; the waste stays below the
 * final size).  NULL when out of memory.
 */
void *hba_arena_grow(struct hba_arena *arena, void *arr, size_t n, size_t *cap, size_t elsize);

/* printf into the arena; NULL when out of memory. */
char *hba_arena_printf(struct hba_arena *arena, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/*
 * Compile the POSIX extended regular expression `pattern` (cflags added to
 * REG_EXTENDED) into a regex_t owned by the arena.  Refuses back-references
 * and patterns whose stacked repetitions (X+, X{m,n}) would compile to more
 * than about HBA_MAX_REGEX_SIZE nodes (both can make matching or compiling
 * explode).  0, or -EINVAL / -ENOMEM with the reason in err (without
 * file:line: the caller adds it).
 */
int hba_regex_compile(struct hba_arena *arena, const char *pattern, int cflags, regex_t **out,
                      char *err, size_t errlen) __attribute__((warn_unused_result));

/* Start a parse: ctx gets the arena, flags and full budgets. */
void hba_ctx_init(struct hba_ctx *ctx, struct hba_arena *arena, unsigned flags);

/*
 * Split buf[0..len) (the contents of `file`) into records.  Records without
 * fields (blank lines, comments) are left out.  @file references are NOT
 * expanded here (see hba_expand_field).  0, or a negative errno with
 * "file:line: reason" in err.
 */
int hba_tokenize(struct hba_ctx *ctx, const char *file, const char *buf, size_t len,
                 struct hba_line **lines, size_t *nlines, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/*
 * Read `path` (at most HBA_MAX_FILE_SIZE bytes, charged to the parse's read
 * budget) into a malloc()ed buffer the caller frees.  0, or a negative
 * errno with "path: reason" in err.
 */
int hba_read_file(struct hba_ctx *ctx, const char *path, char **buf, size_t *len, char *err,
                  size_t errlen) __attribute__((warn_unused_result));

/*
 * Tokenize buf (the file `name`) in ctx's arena and parse each line with
 * parse(ctx, line, item, err, errlen) into an arena array of elsize-byte
 * items: *items and *nitems hold the lines parsed.  0, or the first
 * error (-ENOMEM or parse()'s), named in err.
 */
int hba_parse_lines(struct hba_ctx *ctx, const char *name, const char *buf, size_t len,
                    size_t elsize,
                    int (*parse)(struct hba_ctx *ctx, const struct hba_line *l, void *item,
                                 char *err, size_t errlen),
                    void **items, size_t *nitems, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* True when tok is an @file reference: unquoted, '@' and at least one more
 * character (a lone "@" is a name, as in PostgreSQL). */
bool hba_token_is_include(const struct hba_token *tok);

/*
 * Field `in` of `line` with every @file reference replaced by the tokens of
 * that file (all fields of all its records, nested references expanded up
 * to HBA_MAX_DEPTH).  A relative path resolves against the directory of the
 * file holding the reference.  0, or a negative errno with the reason in
 * err (naming the included file's line and where it was included from).
 */
int hba_expand_field(struct hba_ctx *ctx, const struct hba_line *line, const struct hba_field *in,
                     struct hba_field *out, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* True when tok is the unquoted keyword kw. */
bool hba_token_is_keyword(const struct hba_token *tok, const char *kw);

#endif /* PGS_HBA_TOKEN_H */
