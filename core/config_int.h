/*
 * config_int.h — internals shared by the configuration loader's files.
 *
 * config_load() (config.c) is built from a few files, one concern each:
 *   config_scan.c     the raw-text pre-scan of each file and its @includes
 *   config_read.c     reading files safely, listing conf.d, parsing with
 *                     libconfig
 *   config_merge.c    folding one parsed file into the snapshot
 *   config_validate.c typed getters, bounds, pool and chain entries, and the
 *                     checks made once every file is merged
 *   config_util.c     collecting errors, small string and path helpers
 * They share the state of one load, struct loader, and the functions below.
 * Private to those files: nothing else includes this header.
 *
 * Problems are not returned but recorded in the loader (cfg_err_*(), or
 * ld->oom for an allocation failure) and the load goes on, so that one run
 * reports every error; a false or NULL return only tells the caller to
 * skip what it was building.
 */
#ifndef PGS_CONFIG_INT_H
#define PGS_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* A value shown in an error message is cut to this many bytes. */
#define SHOW_MAX 64

/* A literal with a leading zero (0777), remembered by the pre-scan so that
 * unix_socket_mode can be read as octal.  `line` is the line of the setting
 * name the literal belongs to, as libconfig records it. */
struct octal_hint {
	char *file;
	unsigned line;
	long long as_decimal; /* what libconfig made of it */
	long long as_octal;   /* -1: not a valid octal number (0778) */
};

/* The state of one config_load() call. */
struct loader {
	struct pgs_config *cfg;
	char *dir;  /* directory of the main file, as given */
	char *errs; /* error lines, '\n'-separated */
	size_t errs_len, errs_cap;
	unsigned nerrs;
	bool oom;
	struct octal_hint *hints;
	size_t nhints;
	const config_setting_t *listen_setting; /* last `listen` merged */
	bool unparsed;      /* a file could not be parsed: its settings are unknown */
	unsigned nincludes; /* @include directives followed, all files */
};

/* ---------------------------------------------------------- config_util.c */

/**
 * cfg_err_file() - record an error with no setting to point at.
 * @ld:   the loader.
 * @file: the file it is about (NULL: "(unknown file)").
 * @line: its line, or 0 for none.
 * @fmt:  printf format of the message.
 *
 * Recorded as "FILE:LINE: message" or "FILE: message", on one line.
 */
void cfg_err_file(struct loader *ld, const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/**
 * cfg_err_at() - record an error about setting s, at its file and line.
 * @ld:  the loader.
 * @s:   the setting.
 * @fmt: printf format of the message.
 */
void cfg_err_at(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/**
 * cfg_emit_errors() - copy the recorded errors into the caller's buffer.
 * @ld:     the loader.
 * @err:    the buffer (NULL is fine).
 * @errlen: its size.
 *
 * Whole lines are kept; when they do not all fit, the last line says how
 * many were left out.
 */
void cfg_emit_errors(const struct loader *ld, char *err, size_t errlen);

/**
 * cfg_show() - a value for an error message, quoted and cut short.
 * @buf: where to write, at least SHOW_MAX + 8 bytes.
 * @len: size of buf.
 * @s:   the value; never a secret.
 *
 * Returns buf.
 */
const char *cfg_show(char *buf, size_t len, const char *s);

/**
 * cfg_dup_str() - strdup() that records an allocation failure in ld.
 * @ld: the loader.
 * @s:  the string; NULL gives NULL.
 */
char *cfg_dup_str(struct loader *ld, const char *s);

/**
 * cfg_join_path() - "a" + "/" + "b", without a doubled slash.
 * @ld: the loader (an allocation failure is recorded in it).
 * @a:  the directory.
 * @b:  the name inside it.
 *
 * Returns a new string, or NULL.
 */
char *cfg_join_path(struct loader *ld, const char *a, const char *b);

/**
 * cfg_dir_of() - the directory part of a path.
 * @ld:   the loader (an allocation failure is recorded in it).
 * @path: "a/b.conf" gives "a", "b.conf" gives ".", "/b.conf" gives "/".
 *
 * Returns a new string, or NULL.
 */
char *cfg_dir_of(struct loader *ld, const char *path);

/**
 * cfg_where_of() - "file:line" of setting s, as a new string.
 * @ld: the loader (an allocation failure is recorded in it).
 * @s:  the setting.
 */
char *cfg_where_of(struct loader *ld, const config_setting_t *s);

/**
 * cfg_streq() - whether two strings are equal; NULL equals nothing.
 * @a: a string or NULL.
 * @b: a string or NULL.
 */
bool cfg_streq(const char *a, const char *b);

/**
 * cfg_in_list() - whether name is in a NULL-terminated list of names.
 * @name: the name.
 * @list: the list.
 */
bool cfg_in_list(const char *name, const char *const *list);

/**
 * cfg_type_name() - the type of a setting, for an error message.
 * @s: the setting.
 *
 * Returns "a group", "an integer", "a string" and so on.
 */
const char *cfg_type_name(const config_setting_t *s);

/**
 * cfg_is_list_like() - whether s is a list, or an empty array.
 * @s: the setting.
 *
 * libconfig reads "[]" as an array; an empty list is written that way.
 */
bool cfg_is_list_like(const config_setting_t *s);

/* ---------------------------------------------------------- config_scan.c */

/**
 * cfg_scan_file() - pre-scan one file and what it @includes.
 * @ld:        the loader.
 * @name:      the file's name as libconfig will record it.
 * @open_path: the path to open.
 * @ctx_file:  for an @include target, the file holding the directive;
 *             NULL for a top-level file.
 * @ctx_line:  the line of that directive.
 * @depth:     @include nesting (0 for a top-level file).
 *
 * Reports integer literals libconfig 1.5 would silently change, remembers
 * leading-zero literals of unix_socket_mode in ld->hints, and checks every
 * @include target as cfg_read_text() does.  Returns false when the file
 * must not be handed to libconfig.
 */
bool cfg_scan_file(struct loader *ld, const char *name, const char *open_path, const char *ctx_file,
                   int ctx_line, int depth);

/* ---------------------------------------------------------- config_read.c */

/**
 * cfg_read_text() - read a file about to be given to libconfig.
 * @ld:        the loader.
 * @name:      the file's name, for messages.
 * @open_path: the path to open.
 * @ctx_file:  the file holding the @include directive, or NULL.
 * @ctx_line:  the line of that directive.
 * @text:      receives the text, NUL-terminated (the caller frees it).
 * @len:       receives its length.
 *
 * Only regular files of at most PGS_CONFIG_MAX_FILE_SIZE bytes pass.
 * Returns 1 with the text; 0 when an @include target cannot be opened
 * (libconfig reports that itself); -1 after recording an error.
 */
int cfg_read_text(struct loader *ld, const char *name, const char *open_path, const char *ctx_file,
                  int ctx_line, char **text, size_t *len);

/**
 * cfg_list_confd() - the files conf.d/[!.]*.conf beside the main file.
 * @ld:    the loader.
 * @count: receives how many.
 *
 * Returns the regular files as "DIR/conf.d/NAME", sorted with strcmp (the
 * caller frees each and the array), or NULL when there are none; a missing
 * conf.d is not an error.
 */
char **cfg_list_confd(struct loader *ld, size_t *count);

/**
 * cfg_is_regular_file() - whether the main file can be opened and is a
 * regular file (libconfig must never be handed a directory).
 * @ld:   the loader; the reason is recorded when not.
 * @path: the main file.
 */
bool cfg_is_regular_file(struct loader *ld, const char *path);

/**
 * cfg_parse_one() - pre-scan, parse and bound-check one file.
 * @ld:   the loader.
 * @c:    an initialised config_t to parse into.
 * @path: the file.
 *
 * Returns true if the file parsed; otherwise the error is recorded and
 * ld->unparsed set.
 */
bool cfg_parse_one(struct loader *ld, config_t *c, const char *path);

/* ---------------------------------------------------------- config_merge.c */

/* Longest Unix socket directory: sun_path holds 108 bytes including the
 * NUL, and "/.s.PGSQL.65535" is appended. */
#define MAX_SOCKET_DIR (108 - 1 - 15)

/**
 * cfg_merge_file() - fold one parsed file into ld->cfg.
 * @ld:   the loader.
 * @file: the parsed file.
 *
 * Scalars: the later file wins; modules, servers, pools, chains: replaced
 * by key; listen: replaced whole; log, auth: key by key.  Every setting is
 * checked as it is merged.
 */
void cfg_merge_file(struct loader *ld, const config_t *file);

/* (config_servers.c) Fold a file's `servers` list into the snapshot. */
void cfg_merge_servers(struct loader *ld, const config_setting_t *s);

/* ------------------------------------------------------- config_validate.c */

/**
 * cfg_get_string() - the string value of s.
 * @ld:   the loader; a wrong type is recorded as an error.
 * @s:    the setting.
 * @path: its name in messages ("listen[0].host").
 * @out:  receives the string (valid as long as the parsed file).
 *
 * Returns false when s is not a string, or is longer than
 * PGS_CONFIG_MAX_STRING (reported by cfg_check_strings()).
 */
bool cfg_get_string(struct loader *ld, const config_setting_t *s, const char *path,
                    const char **out);

/**
 * cfg_get_nonempty() - cfg_get_string(), and the string must not be "".
 * @ld:   the loader.
 * @s:    the setting.
 * @path: its name in messages.
 * @out:  receives the string.
 */
bool cfg_get_nonempty(struct loader *ld, const config_setting_t *s, const char *path,
                      const char **out);

/**
 * cfg_get_int() - an integer setting within min..max.
 * @ld:   the loader; a wrong type or range is recorded as an error.
 * @s:    the setting.
 * @path: its name in messages.
 * @min:  the least value allowed.
 * @max:  the greatest value allowed (INT_MAX: no upper bound worth saying).
 * @out:  receives the value; untouched on failure.
 */
bool cfg_get_int(struct loader *ld, const config_setting_t *s, const char *path, int min, int max,
                 int *out);

/**
 * cfg_get_bool() - a boolean setting (true or false, not 0 or 1).
 * @ld:   the loader.
 * @s:    the setting.
 * @path: its name in messages.
 * @out:  receives the value; untouched on failure.
 */
bool cfg_get_bool(struct loader *ld, const config_setting_t *s, const char *path, bool *out);

/**
 * cfg_get_seconds() - a number of seconds (int or float, >= 0).
 * @ld:   the loader.
 * @s:    the setting.
 * @path: its name in messages.
 * @ms:   receives the value in milliseconds; untouched on failure.
 */
bool cfg_get_seconds(struct loader *ld, const config_setting_t *s, const char *path, int64_t *ms);

/**
 * cfg_check_keys() - report every member of group g not in known.
 * @ld:    the loader.
 * @g:     the group.
 * @path:  the group's name in messages ("" for the root).
 * @known: the names allowed, NULL-terminated.
 */
void cfg_check_keys(struct loader *ld, const config_setting_t *g, const char *path,
                    const char *const *known);

/**
 * cfg_check_strings() - bound the strings, names and nesting of a file.
 * @ld:    the loader.
 * @s:     the setting to check, with everything inside it.
 * @path:  a buffer holding s's name, extended while descending.
 * @plen:  the length of the name in path.
 * @cap:   size of path.
 * @depth: nesting of s.
 *
 * Strings and names at most PGS_CONFIG_MAX_STRING bytes, nesting at most
 * PGS_CONFIG_MAX_DEPTH levels.
 */
void cfg_check_strings(struct loader *ld, const config_setting_t *s, char *path, size_t plen,
                       size_t cap, int depth);

/**
 * cfg_chain_parse() - parse a list of chain steps.
 * @ld:   the loader.
 * @list: the list ( { use = ...; control = ...; }, ... ).
 * @path: its name in messages ("chains.NAME", "auth.default_chain").
 * @name: the chain's name.
 * @out:  receives the chain (freed with cfg_free_chain()), holding the
 *        valid steps even when some are not.
 */
void cfg_chain_parse(struct loader *ld, const config_setting_t *list, const char *path,
                     const char *name, struct cfg_chain *out);

/**
 * cfg_pool_parse() - parse one pool group.
 * @ld:  the loader.
 * @g:   the group.
 * @idx: its index in `pools`, for messages.
 * @p:   receives the pool (freed with cfg_free_pool()), as far as it is
 *       valid.
 */
void cfg_pool_parse(struct loader *ld, const config_setting_t *g, int idx, struct cfg_pool *p);

/**
 * cfg_finish() - complete the snapshot once every file is merged.
 * @ld: the loader.
 *
 * Checks the cross references (pool -> server, chain step -> module) and
 * that there is something to listen on, unless a file was unparsed; then
 * resolves module_path and each module's full path.
 */
void cfg_finish(struct loader *ld);

/* --------------------------------------------------------------- config.c */

/* Free what a server entry holds (not the entry itself). */
void cfg_free_server(struct cfg_server *s);

/* Free what a pool entry holds, wiping the password first. */
void cfg_free_pool(struct cfg_pool *p);

/* Free what a module entry holds. */
void cfg_free_module(struct cfg_module *m);

/* Free what a chain holds, then zero it (so it can be freed again). */
void cfg_free_chain(struct cfg_chain *c);

/* Free n listeners and the array itself. */
void cfg_free_listen(struct cfg_listen *l, size_t n);

#endif /* PGS_CONFIG_INT_H */
