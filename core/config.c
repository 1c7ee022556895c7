/*
 * config.c — load, merge and validate the configuration snapshot.
 *
 * The main file and every conf.d/[!.]*.conf beside it are parsed, each into
 * its own libconfig config_t (kept in cfg->files, because module groups and
 * chain steps are handed on as config_setting_t pointers into them), then
 * folded into one snapshot file by file: scalars — the later file wins;
 * modules/chains/servers/pools — replaced by key; listen — replaced whole;
 * log/auth — key by key.  Cross references (pool -> server, chain step ->
 * module) are checked once everything is merged.
 *
 * Every problem is collected, not just the first, as "FILE:LINE: message"
 * (or "FILE: message" when there is no line), so that --check-config shows
 * the whole list at once.
 *
 * libconfig 1.5 (Debian 12) has traps this file works around:
 *  - handing its scanner a directory (as the main file or through
 *    @include) makes it call exit(): we open and fstat every file first,
 *    including @include targets, and refuse anything not regular;
 *  - integer literals are read with atoi(): 4294973832 silently becomes
 *    6536 and 0777 becomes decimal 777.  A light pre-scan of each file's
 *    text finds out-of-range literals (reported as errors) and leading-zero
 *    literals (so unix_socket_mode = 0777 means what it says).
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "pgsluice/module.h" /* PGS_LOG_* */

#ifndef PGS_MODULE_DIR
#define PGS_MODULE_DIR "/usr/local/lib/pgsluice"
#endif

/* libconfig 1.5 refuses @include nesting deeper than this. */
#define LIBCONFIG_MAX_INCLUDE_DEPTH 10

/* Longest Unix socket directory: sun_path holds 108 bytes including the
 * NUL, and "/.s.PGSQL.65535" is appended. */
#define MAX_SOCKET_DIR (108 - 1 - 15)

/* @include directives followed in one load, all files together. */
#define MAX_INCLUDES 256

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

struct loader {
	struct pgs_config *cfg;
	char *dir;      /* directory of the main file, as given */
	char *errs;     /* error lines, '\n'-separated */
	size_t errs_len, errs_cap;
	unsigned nerrs;
	bool oom;
	struct octal_hint *hints;
	size_t nhints;
	const config_setting_t *listen_setting; /* last `listen` merged */
	bool unparsed; /* a file could not be parsed: its settings are unknown */
	unsigned nincludes; /* @include directives followed, all files */
};

/* ------------------------------------------------------------ errors */

static void add_error_v(struct loader *ld, const char *file, int line,
                        const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

static void add_error_v(struct loader *ld, const char *file, int line,
                        const char *fmt, va_list ap)
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
		n = snprintf(ld->errs + start, ld->errs_cap - start, "%s:%d: %s",
		             file, line, msg);
	else
		n = snprintf(ld->errs + start, ld->errs_cap - start, "%s: %s",
		             file, msg);
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
static void err_file(struct loader *ld, const char *file, int line,
                     const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void err_file(struct loader *ld, const char *file, int line,
                     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_error_v(ld, file, line, fmt, ap);
	va_end(ap);
}

/* An error about setting s, located at its file and line. */
static void err_at(struct loader *ld, const config_setting_t *s,
                   const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void err_at(struct loader *ld, const config_setting_t *s,
                   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_error_v(ld, config_setting_source_file(s),
	            (int)config_setting_source_line(s), fmt, ap);
	va_end(ap);
}

/* Copy the collected errors into the caller's buffer, keeping whole lines
 * and saying how many did not fit. */
static void emit_errors(const struct loader *ld, char *err, size_t errlen)
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
	snprintf(err + keep, errlen - keep, "\n... and %u more error%s",
	         ld->nerrs - kept, ld->nerrs - kept == 1 ? "" : "s");
}

/* A value for an error message, quoted and cut short (buf holds at least
 * SHOW_MAX + 8 bytes).  Never used for secrets. */
static const char *show(char *buf, size_t len, const char *s)
{
	snprintf(buf, len, "\"%.*s%s\"", SHOW_MAX, s,
	         strlen(s) > SHOW_MAX ? "..." : "");
	return buf;
}

/* ------------------------------------------------------------ small helpers */

static char *dup_str(struct loader *ld, const char *s)
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
static char *join_path(struct loader *ld, const char *a, const char *b)
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
static char *dir_of(struct loader *ld, const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d;

	if (slash == NULL)
		return dup_str(ld, ".");
	while (slash > path && slash[-1] == '/')
		slash--;
	if (slash == path)
		return dup_str(ld, "/");
	d = strndup(path, (size_t)(slash - path));
	if (d == NULL)
		ld->oom = true;
	return d;
}

/* An absolute version of path (symbolic links are kept: conf.d is looked
 * for beside the name the operator gave, not beside a link target). */
static char *absolute_path(struct loader *ld, const char *path)
{
	char cwd[PATH_MAX];
	const char *rel = path;

	if (path[0] == '/')
		return dup_str(ld, path);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return dup_str(ld, path);
	while (rel[0] == '.' && rel[1] == '/')
		rel += 2;
	return join_path(ld, cwd, rel);
}

static char *where_of(struct loader *ld, const config_setting_t *s)
{
	char buf[PATH_MAX + 32];

	return dup_str(ld, config_where(s, buf, sizeof(buf)));
}

static bool streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static bool in_list(const char *name, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(name, *list) == 0)
			return true;
	return false;
}

static const char *type_name(const config_setting_t *s)
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
static bool is_list_like(const config_setting_t *s)
{
	return config_setting_is_list(s) ||
	       (config_setting_is_array(s) && config_setting_length(s) == 0);
}

/* ------------------------------------------------------------ typed getters */

static bool get_string(struct loader *ld, const config_setting_t *s,
                       const char *path, const char **out)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		err_at(ld, s, "%s: expected a string, got %s", path, type_name(s));
		return false;
	}
	v = config_setting_get_string(s);
	if (v == NULL)
		v = "";
	if (strlen(v) > PGS_CONFIG_MAX_STRING)
		return false; /* reported by check_strings() */
	*out = v;
	return true;
}

static bool get_nonempty(struct loader *ld, const config_setting_t *s,
                         const char *path, const char **out)
{
	if (!get_string(ld, s, path, out))
		return false;
	if (**out == '\0') {
		err_at(ld, s, "%s: must not be empty", path);
		return false;
	}
	return true;
}

static bool get_integer(struct loader *ld, const config_setting_t *s,
                        const char *path, long long min, long long max,
                        long long *out)
{
	long long v;

	if (config_setting_type(s) == CONFIG_TYPE_INT)
		v = config_setting_get_int(s);
	else if (config_setting_type(s) == CONFIG_TYPE_INT64)
		v = config_setting_get_int64(s);
	else {
		err_at(ld, s, "%s: expected an integer, got %s", path,
		       type_name(s));
		return false;
	}
	if (v < min || v > max) {
		if (max == INT_MAX)
			err_at(ld, s, "%s: %lld is out of range (must be >= %lld)",
			       path, v, min);
		else
			err_at(ld, s, "%s: %lld is out of range (%lld..%lld)", path,
			       v, min, max);
		return false;
	}
	*out = v;
	return true;
}

static bool get_int(struct loader *ld, const config_setting_t *s,
                    const char *path, int min, int max, int *out)
{
	long long v;

	if (!get_integer(ld, s, path, min, max, &v))
		return false;
	*out = (int)v;
	return true;
}

static bool get_bool(struct loader *ld, const config_setting_t *s,
                     const char *path, bool *out)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		err_at(ld, s, "%s: expected true or false, got %s", path,
		       type_name(s));
		return false;
	}
	*out = config_setting_get_bool(s) != 0;
	return true;
}

/* Seconds (int or float, >= 0) into milliseconds. */
static bool get_seconds(struct loader *ld, const config_setting_t *s,
                        const char *path, int64_t *ms)
{
	double v;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		v = config_setting_get_int(s);
		break;
	case CONFIG_TYPE_INT64:
		v = (double)config_setting_get_int64(s);
		break;
	case CONFIG_TYPE_FLOAT:
		v = config_setting_get_float(s);
		break;
	default:
		err_at(ld, s, "%s: expected a number of seconds, got %s", path,
		       type_name(s));
		return false;
	}
	/* written so that NaN fails too */
	if (!(v >= 0 && v <= (double)INT_MAX)) {
		err_at(ld, s, "%s: %g is out of range (0..%d seconds)", path, v,
		       INT_MAX);
		return false;
	}
	*ms = (int64_t)(v * 1000.0 + 0.5);
	return true;
}

/* Complain about every member of group `g` not in `known`. */
static void check_keys(struct loader *ld, const config_setting_t *g,
                       const char *path, const char *const *known)
{
	int i, n = config_setting_length(g);

	for (i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(m);

		if (name != NULL && !in_list(name, known))
			err_at(ld, m, "%s%s%s: unknown setting", path,
			       *path ? "." : "", name);
	}
}

/* ------------------------------------------------------------ snapshot */

static void free_server(struct cfg_server *s)
{
	free(s->name);
	free(s->host);
	free(s->where);
}

static void free_pool(struct cfg_pool *p)
{
	free(p->database);
	free(p->user);
	free(p->server);
	if (p->password != NULL) {
		explicit_bzero(p->password, strlen(p->password));
		free(p->password);
	}
	free(p->server_user);
	free(p->server_database);
	free(p->server_reset_query);
	free(p->where);
}

static void free_module(struct cfg_module *m)
{
	free(m->name);
	free(m->path);
	free(m->where);
	free(m->full_path);
}

static void free_chain(struct cfg_chain *c)
{
	size_t i;

	for (i = 0; i < c->nsteps; i++) {
		free(c->steps[i].use);
		free(c->steps[i].where);
	}
	free(c->steps);
	free(c->name);
	free(c->where);
	memset(c, 0, sizeof(*c));
}

static void free_listen(struct cfg_listen *l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(l[i].host);
		free(l[i].where);
	}
	free(l);
}

/**
 * config_free() - free a snapshot and the parsed files behind it.
 * @cfg: the snapshot (NULL is fine).
 */
void config_free(struct pgs_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	free(cfg->path);
	free_listen(cfg->listen, cfg->nlisten);
	free(cfg->unix_socket_dir);
	free(cfg->module_path);
	for (i = 0; i < cfg->nmodules; i++)
		free_module(&cfg->modules[i]);
	free(cfg->modules);
	for (i = 0; i < cfg->nservers; i++)
		free_server(&cfg->servers[i]);
	free(cfg->servers);
	for (i = 0; i < cfg->npools; i++)
		free_pool(&cfg->pools[i]);
	free(cfg->pools);
	for (i = 0; i < cfg->nchains; i++)
		free_chain(&cfg->chains[i]);
	free(cfg->chains);
	free_chain(&cfg->default_chain);
	free(cfg->server_reset_query);
	for (i = 0; i < cfg->nfiles; i++)
		config_destroy(&cfg->files[i]);
	free(cfg->files);
	free(cfg);
}

static struct pgs_config *config_new(void)
{
	struct pgs_config *cfg = calloc(1, sizeof(*cfg));

	if (cfg == NULL)
		return NULL;
	cfg->unix_socket_mode = PGS_DEFAULT_UNIX_SOCKET_MODE;
	cfg->workers = 0;
	cfg->max_client_conn = PGS_DEFAULT_MAX_CLIENT_CONN;
	cfg->log_level = PGS_LOG_INFO;
	cfg->query_wait_timeout = PGS_DEFAULT_QUERY_WAIT_TIMEOUT_MS;
	cfg->server_idle_timeout = PGS_DEFAULT_SERVER_IDLE_TIMEOUT_MS;
	cfg->server_lifetime = PGS_DEFAULT_SERVER_LIFETIME_MS;
	cfg->client_idle_timeout = PGS_DEFAULT_CLIENT_IDLE_TIMEOUT_MS;
	cfg->server_connect_timeout = PGS_DEFAULT_SERVER_CONNECT_TIMEOUT_MS;
	cfg->client_login_timeout = PGS_DEFAULT_CLIENT_LOGIN_TIMEOUT_MS;
	cfg->shutdown_timeout = PGS_DEFAULT_SHUTDOWN_TIMEOUT_MS;
	cfg->server_reset_query = strdup(PGS_DEFAULT_SERVER_RESET_QUERY);
	cfg->default_chain.name = strdup("default");
	cfg->default_chain.where = strdup("(built-in)");
	if (cfg->server_reset_query == NULL || cfg->default_chain.name == NULL ||
	    cfg->default_chain.where == NULL) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* ------------------------------------------------------------ pre-scan */

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

static bool scan_file(struct loader *ld, const char *name,
                      const char *open_path, const char *ctx_file,
                      int ctx_line, int depth);

/*
 * Read a file about to be given to libconfig.  Returns 1 with the text,
 * 0 when an @include target cannot be opened (libconfig reports that
 * itself), -1 after reporting an error.  Only regular files pass: opening
 * with O_NONBLOCK means a FIFO cannot hang us either.
 */
static int read_text(struct loader *ld, const char *name,
                     const char *open_path, const char *ctx_file,
                     int ctx_line, char **text, size_t *len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd;

#define READ_ERR(...)                                                       \
	do {                                                                \
		char m_[512];                                               \
		snprintf(m_, sizeof(m_), __VA_ARGS__);                      \
		if (ctx_file != NULL)                                       \
			err_file(ld, ctx_file, ctx_line,                    \
			         "@include \"%s\": %s", name, m_);          \
		else                                                        \
			err_file(ld, name, 0, "%s", m_);                    \
	} while (0)

	fd = open(open_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (ctx_file != NULL)
			return 0;
		READ_ERR("cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		READ_ERR("cannot stat: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		READ_ERR("not a regular file");
		close(fd);
		return -1;
	}
	if (st.st_size > PGS_CONFIG_MAX_FILE_SIZE) {
		READ_ERR("file too large (%lld bytes, the limit is %d)",
		         (long long)st.st_size, PGS_CONFIG_MAX_FILE_SIZE);
		close(fd);
		return -1;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		ld->oom = true;
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			READ_ERR("cannot read: %s", strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*text = buf;
	*len = got;
	return 1;
#undef READ_ERR
}

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
	h->file = dup_str(ld, sc->name);
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
				err_file(ld, sc->name, (int)line,
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
			err_file(ld, sc->name, (int)line,
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
		err_file(ld, sc->name, (int)line, "@include: unterminated file name");
		sc->safe = false;
		free(path);
		return;
	}
	sc->pos++; /* closing quote */
	path[n] = '\0';
	if (strlen(path) != n) {
		err_file(ld, sc->name, (int)line, "@include: NUL in the file name");
		sc->safe = false;
		free(path);
		return;
	}
	/* A file including itself ten levels deep, twice per level, would
	 * cost us 2^10 scans while libconfig stops at its first error. */
	if (++ld->nincludes > MAX_INCLUDES) {
		if (ld->nincludes == MAX_INCLUDES + 1)
			err_file(ld, sc->name, (int)line, "more than %d @include "
			         "directives", MAX_INCLUDES);
		sc->safe = false;
		free(path);
		return;
	}
	/* Resolved as libconfig does: relative to the include directory. */
	full = path[0] == '/' ? dup_str(ld, path) : join_path(ld, ld->dir, path);
	if (full == NULL) {
		sc->safe = false;
		free(path);
		return;
	}
	if (!scan_file(ld, path, full, sc->name, (int)line, sc->depth + 1))
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
		overflow = overflow ||
		           v > (neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX);
		i++;
		if (i < sc->len && t[i] == 'L')
			i++;
	} else {
		overflow = overflow ||
		           v > (neg ? (unsigned long long)INT_MAX + 1 : INT_MAX);
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
		err_file(sc->ld, sc->name, (int)sc->line,
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
			while (sc->pos < sc->len &&
			       !(t[sc->pos] == '*' && t[sc->pos + 1] == '/')) {
				if (t[sc->pos] == '\n')
					sc->line++;
				sc->pos++;
			}
			sc->pos += sc->pos < sc->len ? 2 : 0;
		} else if (c == '"') {
			for (sc->pos++; sc->pos < sc->len && t[sc->pos] != '"';
			     sc->pos++) {
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
		             (t[sc->pos + 1] == '.' &&
		              isdigit((unsigned char)t[sc->pos + 2]))))) {
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
static bool scan_file(struct loader *ld, const char *name,
                      const char *open_path, const char *ctx_file,
                      int ctx_line, int depth)
{
	struct scan sc;
	char *text;
	size_t len;
	int r;

	r = read_text(ld, name, open_path, ctx_file, ctx_line, &text, &len);
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

/* ------------------------------------------------------------ string bounds */

/* Every string and setting name, in every file, at most
 * PGS_CONFIG_MAX_STRING bytes; nesting at most PGS_CONFIG_MAX_DEPTH. */
static void check_strings(struct loader *ld, const config_setting_t *s,
                          char *path, size_t plen, size_t cap, int depth)
{
	const char *name = config_setting_name(s);
	int i, n;

	if (name != NULL && strlen(name) > PGS_CONFIG_MAX_STRING) {
		err_at(ld, s, "setting name longer than %d bytes",
		       PGS_CONFIG_MAX_STRING);
		return;
	}
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *v = config_setting_get_string(s);

		if (v != NULL && strlen(v) > PGS_CONFIG_MAX_STRING)
			err_at(ld, s, "%s: string longer than %d bytes",
			       *path ? path : "(value)", PGS_CONFIG_MAX_STRING);
		return;
	}
	if (!config_setting_is_aggregate(s))
		return;
	if (depth > PGS_CONFIG_MAX_DEPTH) {
		err_at(ld, s, "%s: nested deeper than %d levels", path,
		       PGS_CONFIG_MAX_DEPTH);
		return;
	}
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
		const char *mn = config_setting_name(m);

		if (mn != NULL && strlen(mn) <= PGS_CONFIG_MAX_STRING)
			snprintf(path + plen, cap - plen, "%s%s", plen ? "." : "", mn);
		else
			snprintf(path + plen, cap - plen, "[%d]", i);
		check_strings(ld, m, path, strlen(path), cap, depth + 1);
		path[plen] = '\0';
	}
}

/* ------------------------------------------------------------ sections */

static void chain_parse(struct loader *ld, const config_setting_t *list,
                        const char *path, const char *name,
                        struct cfg_chain *out)
{
	static const char *const controls[] = { "required", "requisite",
		                                "sufficient", "optional", NULL };
	int i, n;

	memset(out, 0, sizeof(*out));
	out->name = dup_str(ld, name);
	out->where = where_of(ld, list);
	if (!is_list_like(list)) {
		err_at(ld, list, "%s: expected a list of steps ( { use = ...; } ), "
		       "got %s", path, type_name(list));
		return;
	}
	n = config_setting_length(list);
	if (n == 0)
		return;
	out->steps = calloc((size_t)n, sizeof(*out->steps));
	if (out->steps == NULL) {
		ld->oom = true;
		return;
	}
	for (i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct cfg_chain_step *st = &out->steps[out->nsteps];
		const config_setting_t *m;
		const char *v;
		char sp[256];
		int c;

		snprintf(sp, sizeof(sp), "%s[%d]", path, i);
		if (!config_setting_is_group(g)) {
			err_at(ld, g, "%s: expected a group { use = ...; }, got %s",
			       sp, type_name(g));
			continue;
		}
		st->control = CTL_REQUIRED;
		st->group = g;
		m = config_setting_get_member(g, "use");
		if (m == NULL) {
			err_at(ld, g, "%s: missing required setting \"use\"", sp);
			continue;
		}
		snprintf(sp, sizeof(sp), "%s[%d].use", path, i);
		if (!get_nonempty(ld, m, sp, &v))
			continue;
		m = config_setting_get_member(g, "control");
		if (m != NULL) {
			const char *cv;
			char b[SHOW_MAX + 8];

			/* a bad control is reported, and the step kept so that its
			 * `use` is still checked (the load fails either way) */
			snprintf(sp, sizeof(sp), "%s[%d].control", path, i);
			if (get_string(ld, m, sp, &cv)) {
				for (c = 0; controls[c] != NULL; c++)
					if (strcmp(cv, controls[c]) == 0)
						break;
				if (controls[c] != NULL)
					st->control = (enum chain_control)c;
				else
					err_at(ld, m, "%s: unknown control %s (expected "
					       "required, requisite, sufficient or "
					       "optional)", sp, show(b, sizeof(b), cv));
			}
		}
		st->use = dup_str(ld, v);
		st->where = where_of(ld, g);
		out->nsteps++;
	}
}

static void merge_listen(struct loader *ld, const config_setting_t *s)
{
	static const char *const keys[] = { "host", "port", NULL };
	struct cfg_listen *arr = NULL;
	size_t na = 0;
	int i, n;

	if (!is_list_like(s)) {
		err_at(ld, s, "listen: expected a list of groups "
		       "( { host = ...; port = ...; } ), got %s", type_name(s));
		return;
	}
	n = config_setting_length(s);
	if (n > 0) {
		arr = calloc((size_t)n, sizeof(*arr));
		if (arr == NULL) {
			ld->oom = true;
			return;
		}
	}
	for (i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
		const config_setting_t *m;
		const char *host = PGS_DEFAULT_LISTEN_HOST;
		unsigned char addr[16];
		char path[64], b[SHOW_MAX + 8];
		int port;

		snprintf(path, sizeof(path), "listen[%d]", i);
		if (!config_setting_is_group(g)) {
			err_at(ld, g, "%s: expected a group { host = ...; port = ...; }, "
			       "got %s", path, type_name(g));
			continue;
		}
		check_keys(ld, g, path, keys);
		m = config_setting_get_member(g, "host");
		if (m != NULL) {
			snprintf(path, sizeof(path), "listen[%d].host", i);
			if (!get_string(ld, m, path, &host))
				continue;
			if (strcmp(host, "*") != 0 && inet_pton(AF_INET, host, addr) != 1 &&
			    inet_pton(AF_INET6, host, addr) != 1) {
				err_at(ld, m, "%s: %s is not an IPv4 or IPv6 address "
				       "(or \"*\" for all)", path, show(b, sizeof(b), host));
				continue;
			}
		}
		m = config_setting_get_member(g, "port");
		snprintf(path, sizeof(path), "listen[%d]", i);
		if (m == NULL) {
			err_at(ld, g, "%s: missing required setting \"port\"", path);
			continue;
		}
		snprintf(path, sizeof(path), "listen[%d].port", i);
		if (!get_int(ld, m, path, 1, 65535, &port))
			continue;
		arr[na].host = dup_str(ld, host);
		arr[na].port = port;
		arr[na].where = where_of(ld, g);
		na++;
	}
	free_listen(ld->cfg->listen, ld->cfg->nlisten);
	ld->cfg->listen = arr;
	ld->cfg->nlisten = na;
	ld->listen_setting = s;
}

static void merge_log(struct loader *ld, const config_setting_t *s)
{
	static const char *const keys[] = { "level", "connections",
		                            "disconnections", NULL };
	struct pgs_config *cfg = ld->cfg;
	const config_setting_t *m;

	if (!config_setting_is_group(s)) {
		err_at(ld, s, "log: expected a group, got %s", type_name(s));
		return;
	}
	check_keys(ld, s, "log", keys);
	m = config_setting_get_member(s, "level");
	if (m != NULL) {
		const char *v;
		char b[SHOW_MAX + 8];

		if (get_string(ld, m, "log.level", &v)) {
			if (strcmp(v, "debug") == 0)
				cfg->log_level = PGS_LOG_DEBUG;
			else if (strcmp(v, "info") == 0)
				cfg->log_level = PGS_LOG_INFO;
			else if (strcmp(v, "warning") == 0 || strcmp(v, "warn") == 0)
				cfg->log_level = PGS_LOG_WARN;
			else if (strcmp(v, "error") == 0)
				cfg->log_level = PGS_LOG_ERROR;
			else
				err_at(ld, m, "log.level: unknown level %s (expected "
				       "debug, info, warning or error)",
				       show(b, sizeof(b), v));
		}
	}
	m = config_setting_get_member(s, "connections");
	if (m != NULL)
		(void)get_bool(ld, m, "log.connections", &cfg->log_connections);
	m = config_setting_get_member(s, "disconnections");
	if (m != NULL)
		(void)get_bool(ld, m, "log.disconnections",
		               &cfg->log_disconnections);
}

static void merge_modules(struct loader *ld, const config_setting_t *s)
{
	struct pgs_config *cfg = ld->cfg;
	int i, n;

	if (!config_setting_is_group(s)) {
		err_at(ld, s, "modules: expected a group of named groups "
		       "( name = { path = \"x.so\"; }; ), got %s", type_name(s));
		return;
	}
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(g), *path = NULL;
		const config_setting_t *m;
		struct cfg_module mod, *slot = NULL;
		char sp[128];
		size_t k;

		if (name == NULL || strlen(name) > PGS_CONFIG_MAX_STRING)
			continue;
		snprintf(sp, sizeof(sp), "modules.%.100s", name);
		if (!config_setting_is_group(g)) {
			err_at(ld, g, "%s: expected a group { path = \"x.so\"; ... }, "
			       "got %s", sp, type_name(g));
			continue;
		}
		/* Without a valid path the instance is still entered, so that
		 * chains using it get no second, false error. */
		m = config_setting_get_member(g, "path");
		snprintf(sp, sizeof(sp), "modules.%.100s", name);
		if (m == NULL)
			err_at(ld, g, "%s: missing required setting \"path\"", sp);
		snprintf(sp, sizeof(sp), "modules.%.100s.path", name);
		if (m != NULL && !get_nonempty(ld, m, sp, &path))
			path = NULL;
		memset(&mod, 0, sizeof(mod));
		mod.name = dup_str(ld, name);
		mod.path = dup_str(ld, path);
		mod.group = g;
		mod.where = where_of(ld, g);
		for (k = 0; k < cfg->nmodules; k++)
			if (streq(cfg->modules[k].name, name))
				slot = &cfg->modules[k];
		if (slot != NULL) {
			free_module(slot);
		} else {
			slot = realloc(cfg->modules,
			               (cfg->nmodules + 1) * sizeof(*slot));
			if (slot == NULL) {
				ld->oom = true;
				free_module(&mod);
				return;
			}
			cfg->modules = slot;
			slot = &cfg->modules[cfg->nmodules++];
		}
		*slot = mod;
	}
}

static void merge_servers(struct loader *ld, const config_setting_t *s)
{
	static const char *const keys[] = { "name", "host", "port", NULL };
	struct pgs_config *cfg = ld->cfg;
	int i, j, n;

	if (!is_list_like(s)) {
		err_at(ld, s, "servers: expected a list of groups "
		       "( { name = ...; host = ...; } ), got %s", type_name(s));
		return;
	}
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
		const config_setting_t *mn, *mh, *mp;
		const char *name = NULL, *host = NULL;
		struct cfg_server srv, *slot = NULL;
		char sp[64], b[SHOW_MAX + 8], w[PATH_MAX + 32];
		int port = PGS_DEFAULT_SERVER_PORT;
		bool dup = false;
		size_t k;

		snprintf(sp, sizeof(sp), "servers[%d]", i);
		if (!config_setting_is_group(g)) {
			err_at(ld, g, "%s: expected a group { name = ...; host = ...; }, "
			       "got %s", sp, type_name(g));
			continue;
		}
		check_keys(ld, g, sp, keys);
		mn = config_setting_get_member(g, "name");
		mh = config_setting_get_member(g, "host");
		mp = config_setting_get_member(g, "port");
		if (mn == NULL)
			err_at(ld, g, "%s: missing required setting \"name\"", sp);
		if (mh == NULL)
			err_at(ld, g, "%s: missing required setting \"host\"", sp);
		snprintf(sp, sizeof(sp), "servers[%d].name", i);
		if (mn != NULL && !get_nonempty(ld, mn, sp, &name))
			name = NULL;
		snprintf(sp, sizeof(sp), "servers[%d].host", i);
		if (mh != NULL && get_nonempty(ld, mh, sp, &host) &&
		    host[0] == '/' && strlen(host) > MAX_SOCKET_DIR)
			err_at(ld, mh, "%s: socket directory longer than %d bytes",
			       sp, MAX_SOCKET_DIR);
		snprintf(sp, sizeof(sp), "servers[%d].port", i);
		if (mp != NULL)
			(void)get_int(ld, mp, sp, 1, 65535, &port);
		/* Two definitions of one name in one file is a mistake; across
		 * files it is an override. */
		for (j = 0; name != NULL && j < i; j++) {
			const config_setting_t *og = config_setting_get_elem(s, (unsigned)j);
			const char *on = NULL;

			if (config_setting_is_group(og) &&
			    config_setting_lookup_string(og, "name", &on) && streq(on, name)) {
				snprintf(sp, sizeof(sp), "servers[%d].name", i);
				err_at(ld, mn, "%s: duplicate server name %s (first defined "
				       "at %s)", sp, show(b, sizeof(b), name),
				       config_where(og, w, sizeof(w)));
				dup = true;
				break;
			}
		}
		/* A server with a bad host or port is still entered under its
		 * name, so that pools naming it do not get a second, false
		 * "no server named" error (the load fails anyway). */
		if (name == NULL || dup)
			continue;
		memset(&srv, 0, sizeof(srv));
		srv.name = dup_str(ld, name);
		srv.host = dup_str(ld, host);
		srv.port = port;
		srv.where = where_of(ld, g);
		for (k = 0; k < cfg->nservers; k++)
			if (streq(cfg->servers[k].name, name))
				slot = &cfg->servers[k];
		if (slot != NULL) {
			free_server(slot);
		} else {
			slot = realloc(cfg->servers,
			               (cfg->nservers + 1) * sizeof(*slot));
			if (slot == NULL) {
				ld->oom = true;
				free_server(&srv);
				return;
			}
			cfg->servers = slot;
			slot = &cfg->servers[cfg->nservers++];
		}
		*slot = srv;
	}
}

/* Parse one pool group into p, reporting what is wrong with it. */
static void pool_parse(struct loader *ld, const config_setting_t *g,
                       int idx, struct cfg_pool *p)
{
	static const char *const keys[] = {
		"database", "user", "server", "mode", "max_size", "min_size",
		"initial_size", "password", "server_user", "server_database",
		"server_reset_query", NULL
	};
	static const char *const required[] = { "database", "user", "server",
		                                NULL };
	bool sizes_ok = true;
	const char *const *r;
	char sp[64], b[SHOW_MAX + 8];
	int i, n;

	memset(p, 0, sizeof(*p));
	p->mode = POOL_SESSION;
	p->max_size = PGS_DEFAULT_POOL_MAX_SIZE;
	p->server_index = -1;
	p->group = g;
	snprintf(sp, sizeof(sp), "pools[%d]", idx);
	if (!config_setting_is_group(g)) {
		err_at(ld, g, "%s: expected a group { database = ...; user = ...; "
		       "server = ...; }, got %s", sp, type_name(g));
		return;
	}
	check_keys(ld, g, sp, keys);
	for (r = required; *r != NULL; r++)
		if (config_setting_get_member(g, *r) == NULL)
			err_at(ld, g, "%s: missing required setting \"%s\"", sp, *r);
	n = config_setting_length(g);
	for (i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		const char *key = config_setting_name(m), *v;
		char **dst = NULL;
		bool nonempty = true;

		snprintf(sp, sizeof(sp), "pools[%d].%s", idx,
		         key != NULL && strlen(key) < 32 ? key : "?");
		if (key == NULL || !in_list(key, keys))
			continue;
		if (strcmp(key, "max_size") == 0) {
			sizes_ok &= get_int(ld, m, sp, 1, INT_MAX, &p->max_size);
			continue;
		}
		if (strcmp(key, "min_size") == 0) {
			sizes_ok &= get_int(ld, m, sp, 0, INT_MAX, &p->min_size);
			continue;
		}
		if (strcmp(key, "initial_size") == 0) {
			sizes_ok &= get_int(ld, m, sp, 0, INT_MAX, &p->initial_size);
			continue;
		}
		if (strcmp(key, "database") == 0)
			dst = &p->database;
		else if (strcmp(key, "user") == 0)
			dst = &p->user;
		else if (strcmp(key, "server") == 0)
			dst = &p->server;
		else if (strcmp(key, "password") == 0)
			dst = &p->password, nonempty = false;
		else if (strcmp(key, "server_user") == 0)
			dst = &p->server_user;
		else if (strcmp(key, "server_database") == 0)
			dst = &p->server_database;
		else if (strcmp(key, "server_reset_query") == 0)
			dst = &p->server_reset_query, nonempty = false;
		if (!(nonempty ? get_nonempty(ld, m, sp, &v) :
		                 get_string(ld, m, sp, &v)))
			continue;
		if (strcmp(key, "mode") == 0) {
			if (strcmp(v, "session") == 0)
				p->mode = POOL_SESSION;
			else if (strcmp(v, "transaction") == 0)
				p->mode = POOL_TRANSACTION;
			else
				err_at(ld, m, "%s: unknown pool mode %s (expected session "
				       "or transaction)", sp, show(b, sizeof(b), v));
			continue;
		}
		*dst = dup_str(ld, v);
	}
	snprintf(sp, sizeof(sp), "pools[%d]", idx);
	if (sizes_ok && p->min_size > p->max_size)
		err_at(ld, g, "%s: min_size (%d) is greater than max_size (%d)", sp,
		       p->min_size, p->max_size);
	if (sizes_ok && p->initial_size > p->max_size)
		err_at(ld, g, "%s: initial_size (%d) is greater than max_size (%d)",
		       sp, p->initial_size, p->max_size);
	p->where = where_of(ld, g);
}

static void merge_pools(struct loader *ld, const config_setting_t *s)
{
	struct pgs_config *cfg = ld->cfg;
	size_t *mine = NULL, nmine = 0; /* slots this file filled */
	int i, n;

	if (!is_list_like(s)) {
		err_at(ld, s, "pools: expected a list of groups ( { database = ...; "
		       "user = ...; server = ...; } ), got %s", type_name(s));
		return;
	}
	n = config_setting_length(s);
	if (n > 0) {
		mine = calloc((size_t)n, sizeof(*mine));
		if (mine == NULL) {
			ld->oom = true;
			return;
		}
	}
	for (i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
		struct cfg_pool pool, *slot = NULL;
		size_t k, idx = 0;
		bool dup = false;

		/* An invalid pool is still entered under its key (when it has
		 * one) so that its server is checked too; the load fails. */
		pool_parse(ld, g, i, &pool);
		if (pool.database == NULL || pool.user == NULL) {
			free_pool(&pool);
			continue;
		}
		for (k = 0; k < cfg->npools; k++)
			if (streq(cfg->pools[k].database, pool.database) &&
			    streq(cfg->pools[k].user, pool.user)) {
				slot = &cfg->pools[k];
				idx = k;
			}
		/* the same key twice in one file is a mistake */
		for (k = 0; slot != NULL && k < nmine; k++)
			if (mine[k] == idx) {
				char b1[SHOW_MAX + 8], b2[SHOW_MAX + 8];

				err_at(ld, g, "pools[%d]: duplicate pool for database %s, "
				       "user %s (first defined at %s)", i,
				       show(b1, sizeof(b1), pool.database),
				       show(b2, sizeof(b2), pool.user),
				       slot->where ? slot->where : "?");
				dup = true;
			}
		if (dup) {
			free_pool(&pool);
			continue;
		}
		if (slot != NULL) {
			free_pool(slot);
		} else {
			slot = realloc(cfg->pools, (cfg->npools + 1) * sizeof(*slot));
			if (slot == NULL) {
				ld->oom = true;
				free_pool(&pool);
				break;
			}
			cfg->pools = slot;
			idx = cfg->npools++;
			slot = &cfg->pools[idx];
		}
		*slot = pool;
		mine[nmine++] = idx;
	}
	free(mine);
}

static void merge_chains(struct loader *ld, const config_setting_t *s)
{
	struct pgs_config *cfg = ld->cfg;
	int i, n;

	if (!config_setting_is_group(s)) {
		err_at(ld, s, "chains: expected a group of named lists "
		       "( name = ( { use = ...; } ); ), got %s", type_name(s));
		return;
	}
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		const config_setting_t *l = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(l);
		struct cfg_chain ch, *slot = NULL;
		char sp[128];
		size_t k;

		if (name == NULL || strlen(name) > PGS_CONFIG_MAX_STRING)
			continue;
		snprintf(sp, sizeof(sp), "chains.%.100s", name);
		chain_parse(ld, l, sp, name, &ch);
		for (k = 0; k < cfg->nchains; k++)
			if (streq(cfg->chains[k].name, name))
				slot = &cfg->chains[k];
		if (slot != NULL) {
			free_chain(slot);
		} else {
			slot = realloc(cfg->chains, (cfg->nchains + 1) * sizeof(*slot));
			if (slot == NULL) {
				ld->oom = true;
				free_chain(&ch);
				return;
			}
			cfg->chains = slot;
			slot = &cfg->chains[cfg->nchains++];
		}
		*slot = ch;
	}
}

static void merge_auth(struct loader *ld, const config_setting_t *s)
{
	static const char *const keys[] = { "default_chain", NULL };
	const config_setting_t *m;

	if (!config_setting_is_group(s)) {
		err_at(ld, s, "auth: expected a group, got %s", type_name(s));
		return;
	}
	check_keys(ld, s, "auth", keys);
	m = config_setting_get_member(s, "default_chain");
	if (m != NULL) {
		struct cfg_chain ch;

		chain_parse(ld, m, "auth.default_chain", "default", &ch);
		free_chain(&ld->cfg->default_chain);
		ld->cfg->default_chain = ch;
	}
}

/* unix_socket_mode: an int (0777 read as octal, see the pre-scan) or a
 * string of octal digits ("0770"). */
static void merge_socket_mode(struct loader *ld, const config_setting_t *s)
{
	const char *path = "unix_socket_mode";
	long long v;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *str = config_setting_get_string(s), *c;
		char b[SHOW_MAX + 8];

		v = 0;
		for (c = str; *c >= '0' && *c <= '7' && v <= 07777; c++)
			v = v * 8 + (*c - '0');
		if (*str == '\0' || *c != '\0' || v > 0777) {
			err_at(ld, s, "%s: %s is not an octal mode (0..0777)", path,
			       show(b, sizeof(b), str));
			return;
		}
		ld->cfg->unix_socket_mode = (int)v;
		return;
	}
	if (config_setting_type(s) == CONFIG_TYPE_INT) {
		const char *file = config_setting_source_file(s);
		unsigned line = config_setting_source_line(s);
		size_t i;

		v = config_setting_get_int(s);
		for (i = 0; i < ld->nhints; i++) {
			const struct octal_hint *h = &ld->hints[i];

			/* libconfig keeps line numbers in 16 bits */
			if ((h->line & 0xffff) == line && h->as_decimal == v &&
			    streq(h->file, file)) {
				if (h->as_octal < 0) {
					err_at(ld, s, "%s: 0%lld is not an octal number", path,
					       v);
					return;
				}
				v = h->as_octal;
				break;
			}
		}
		if (v < 0 || v > 0777) {
			err_at(ld, s, "%s: %lld is out of range (0..0777; write an "
			       "octal mode with a leading zero, e.g. 0770)", path, v);
			return;
		}
		ld->cfg->unix_socket_mode = (int)v;
		return;
	}
	err_at(ld, s, "%s: expected an octal integer such as 0770, got %s", path,
	       type_name(s));
}

/* Replace a string field of the snapshot. */
static void set_string(struct loader *ld, char **field, const char *v)
{
	char *d = dup_str(ld, v);

	if (d == NULL)
		return;
	free(*field);
	*field = d;
}

static void merge_timeout(struct loader *ld, const config_setting_t *s,
                          int64_t *field)
{
	int64_t ms;

	if (get_seconds(ld, s, config_setting_name(s), &ms))
		*field = ms;
}

/* Fold one parsed file into the snapshot. */
static void merge_file(struct loader *ld, const config_t *file)
{
	struct pgs_config *cfg = ld->cfg;
	const config_setting_t *root = config_root_setting(file);
	int i, n = config_setting_length(root);

	for (i = 0; i < n && !ld->oom; i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *key = config_setting_name(s), *v;
		char b[SHOW_MAX + 8];

		if (key == NULL || strlen(key) > PGS_CONFIG_MAX_STRING)
			continue;
		if (strcmp(key, "listen") == 0) {
			merge_listen(ld, s);
		} else if (strcmp(key, "unix_socket_dir") == 0) {
			if (!get_string(ld, s, key, &v))
				continue;
			if (*v == '\0') { /* "" turns the Unix socket off */
				free(cfg->unix_socket_dir);
				cfg->unix_socket_dir = NULL;
			} else if (v[0] != '/') {
				err_at(ld, s, "%s: %s is not an absolute path", key,
				       show(b, sizeof(b), v));
			} else if (strlen(v) > MAX_SOCKET_DIR) {
				err_at(ld, s, "%s: longer than %d bytes (a Unix socket "
				       "path is limited to 107)", key, MAX_SOCKET_DIR);
			} else {
				set_string(ld, &cfg->unix_socket_dir, v);
			}
		} else if (strcmp(key, "unix_socket_mode") == 0) {
			merge_socket_mode(ld, s);
		} else if (strcmp(key, "workers") == 0) {
			(void)get_int(ld, s, key, 0, PGS_CONFIG_MAX_WORKERS,
			              &cfg->workers);
		} else if (strcmp(key, "max_client_conn") == 0) {
			(void)get_int(ld, s, key, 1, INT_MAX, &cfg->max_client_conn);
		} else if (strcmp(key, "log") == 0) {
			merge_log(ld, s);
		} else if (strcmp(key, "module_path") == 0) {
			if (get_nonempty(ld, s, key, &v))
				set_string(ld, &cfg->module_path, v);
		} else if (strcmp(key, "modules") == 0) {
			merge_modules(ld, s);
		} else if (strcmp(key, "servers") == 0) {
			merge_servers(ld, s);
		} else if (strcmp(key, "pools") == 0) {
			merge_pools(ld, s);
		} else if (strcmp(key, "chains") == 0) {
			merge_chains(ld, s);
		} else if (strcmp(key, "auth") == 0) {
			merge_auth(ld, s);
		} else if (strcmp(key, "server_reset_query") == 0) {
			if (get_string(ld, s, key, &v))
				set_string(ld, &cfg->server_reset_query, v);
		} else if (strcmp(key, "query_wait_timeout") == 0) {
			merge_timeout(ld, s, &cfg->query_wait_timeout);
		} else if (strcmp(key, "server_idle_timeout") == 0) {
			merge_timeout(ld, s, &cfg->server_idle_timeout);
		} else if (strcmp(key, "server_lifetime") == 0) {
			merge_timeout(ld, s, &cfg->server_lifetime);
		} else if (strcmp(key, "client_idle_timeout") == 0) {
			merge_timeout(ld, s, &cfg->client_idle_timeout);
		} else if (strcmp(key, "server_connect_timeout") == 0) {
			merge_timeout(ld, s, &cfg->server_connect_timeout);
		} else if (strcmp(key, "client_login_timeout") == 0) {
			merge_timeout(ld, s, &cfg->client_login_timeout);
		} else if (strcmp(key, "shutdown_timeout") == 0) {
			merge_timeout(ld, s, &cfg->shutdown_timeout);
		} else {
			err_at(ld, s, "%s: unknown setting", key);
		}
	}
}

/* ------------------------------------------------------------ after merge */

static const struct cfg_module *find_module(const struct pgs_config *cfg,
                                            const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nmodules; i++)
		if (streq(cfg->modules[i].name, name))
			return &cfg->modules[i];
	return NULL;
}

static void check_chain_uses(struct loader *ld, const struct cfg_chain *c)
{
	bool is_default = c == &ld->cfg->default_chain;
	size_t i;

	for (i = 0; i < c->nsteps; i++) {
		const struct cfg_chain_step *st = &c->steps[i];
		const config_setting_t *u;
		char b[SHOW_MAX + 8];

		if (find_module(ld->cfg, st->use) != NULL)
			continue;
		u = config_setting_get_member(st->group, "use");
		err_at(ld, u ? u : st->group, "%s%.100s[%d].use: no module instance "
		       "named %s in modules", is_default ? "auth.default_chain" :
		       "chains.", is_default ? "" : c->name,
		       config_setting_index(st->group), show(b, sizeof(b), st->use));
	}
}

static void finish(struct loader *ld)
{
	struct pgs_config *cfg = ld->cfg;
	size_t i, k;

	/* With a file unparsed, a reference may point into it: checking would
	 * only add noise to the parse error. */
	if (ld->unparsed)
		goto paths;

	/* pools -> servers */
	for (i = 0; i < cfg->npools; i++) {
		struct cfg_pool *p = &cfg->pools[i];
		const config_setting_t *m;
		char b[SHOW_MAX + 8];

		for (k = 0; k < cfg->nservers; k++)
			if (streq(cfg->servers[k].name, p->server))
				p->server_index = (int)k;
		if (p->server_index >= 0 || p->server == NULL)
			continue;
		m = config_setting_get_member(p->group, "server");
		err_at(ld, m ? m : p->group, "pools[%d].server: no server named %s "
		       "in servers", config_setting_index(p->group),
		       show(b, sizeof(b), p->server));
	}

	/* chain steps -> modules */
	for (i = 0; i < cfg->nchains; i++)
		check_chain_uses(ld, &cfg->chains[i]);
	check_chain_uses(ld, &cfg->default_chain);

	if (cfg->nlisten == 0 && cfg->unix_socket_dir == NULL) {
		if (ld->listen_setting != NULL)
			err_at(ld, ld->listen_setting, "nothing to listen on: listen "
			       "is empty and unix_socket_dir is not set");
		else
			err_file(ld, cfg->path, 0, "nothing to listen on: set listen "
			         "or unix_socket_dir");
	}

paths:
	/* module_path: relative to the main file's directory */
	if (cfg->module_path == NULL) {
		cfg->module_path = dup_str(ld, PGS_MODULE_DIR);
	} else if (cfg->module_path[0] != '/') {
		char *dir = dir_of(ld, cfg->path), *abs = NULL;

		if (dir != NULL)
			abs = join_path(ld, dir, cfg->module_path);
		free(dir);
		if (abs != NULL) {
			free(cfg->module_path);
			cfg->module_path = abs;
		}
	}
	for (i = 0; i < cfg->nmodules && cfg->module_path != NULL; i++) {
		struct cfg_module *m = &cfg->modules[i];

		if (m->path == NULL)
			continue;
		m->full_path = m->path[0] == '/' ? dup_str(ld, m->path)
		                                 : join_path(ld, cfg->module_path,
		                                             m->path);
	}
}

/* ------------------------------------------------------------ conf.d */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files conf.d/[!.]*.conf beside the main file, sorted with
 * strcmp, as paths "DIR/conf.d/NAME".  A missing conf.d is fine. */
static char **list_confd(struct loader *ld, size_t *count)
{
	char *dirpath = join_path(ld, ld->dir, "conf.d");
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d;

	*count = 0;
	if (dirpath == NULL)
		return NULL;
	d = opendir(dirpath);
	if (d == NULL) {
		if (errno != ENOENT)
			err_file(ld, dirpath, 0, "cannot read the directory: %s",
			         strerror(errno));
		free(dirpath);
		return NULL;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		struct stat st;
		char *full;

		if (de->d_name[0] == '.' || len < 6 ||
		    strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		full = join_path(ld, dirpath, de->d_name);
		if (full == NULL)
			break;
		if (stat(full, &st) < 0) {
			err_file(ld, full, 0, "cannot stat: %s", strerror(errno));
			free(full);
			continue;
		}
		if (!S_ISREG(st.st_mode)) { /* e.g. a directory x.conf */
			free(full);
			continue;
		}
		if (n == cap) {
			char **nn;

			cap = cap ? cap * 2 : 16;
			nn = realloc(names, cap * sizeof(*names));
			if (nn == NULL) {
				ld->oom = true;
				free(full);
				break;
			}
			names = nn;
		}
		names[n++] = full;
	}
	closedir(d);
	free(dirpath);
	if (ld->oom) {
		for (i = 0; i < n; i++)
			free(names[i]);
		free(names);
		return NULL;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	*count = n;
	return names;
}

/* The main file: present, readable and regular (never hand libconfig a
 * directory). */
static bool is_regular_file(struct loader *ld, const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		err_file(ld, path, 0, "cannot open: %s", strerror(errno));
		return false;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		err_file(ld, path, 0, "not a regular file");
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

/* Pre-scan, parse and check one file; true if it parsed. */
static bool parse_one(struct loader *ld, config_t *c, const char *path)
{
	char keypath[PATH_MAX + 64];

	if (!scan_file(ld, path, path, NULL, 0, 0)) {
		ld->unparsed = true;
		return false;
	}
	config_set_include_dir(c, ld->dir);
	if (config_read_file(c, path) != CONFIG_TRUE) {
		const char *f = config_error_file(c);

		if (config_error_type(c) == CONFIG_ERR_FILE_IO && f == NULL)
			err_file(ld, path, 0, "cannot read: %s",
			         config_error_text(c) ? config_error_text(c) : "I/O error");
		else
			err_file(ld, f ? f : path, config_error_line(c), "%s",
			         config_error_text(c) ? config_error_text(c)
			                              : "parse error");
		ld->unparsed = true;
		return false;
	}
	keypath[0] = '\0';
	check_strings(ld, config_root_setting(c), keypath, 0, sizeof(keypath), 0);
	return true;
}

/**
 * config_load() - read the main file and its conf.d/, merge and validate.
 * @path:   the main configuration file.
 * @err:    receives every error, one per line ("FILE:LINE: message" or
 *          "FILE: message"), '\n'-separated, no trailing newline; when it
 *          does not fit, whole lines are kept and the last line says how
 *          many were left out.
 * @errlen: size of err.
 *
 * Returns a new snapshot, or NULL on any error.  Never exits the process
 * and never prints a pool password.
 */
struct pgs_config *config_load(const char *path, char *err, size_t errlen)
{
	struct pgs_config *result = NULL;
	struct loader ld;
	char **confd = NULL;
	size_t nconfd = 0, i;

	memset(&ld, 0, sizeof(ld));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (path == NULL || *path == '\0') {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "no configuration file given");
		return NULL;
	}
	ld.cfg = config_new();
	if (ld.cfg == NULL) {
		ld.oom = true;
		goto out;
	}
	ld.cfg->path = absolute_path(&ld, path);
	ld.dir = dir_of(&ld, path);
	if (ld.oom)
		goto out;

	/* The main file must exist and be a regular file; if it is not, the
	 * conf.d beside it would only add noise. */
	if (!is_regular_file(&ld, path))
		goto out;
	confd = list_confd(&ld, &nconfd);
	if (ld.oom)
		goto out;

	/* One config_t per file, allocated once: settings point back to their
	 * config_t, so the array must never move after a read. */
	ld.cfg->files = calloc(1 + nconfd, sizeof(config_t));
	if (ld.cfg->files == NULL) {
		ld.oom = true;
		goto out;
	}
	ld.cfg->nfiles = 1 + nconfd;
	for (i = 0; i < ld.cfg->nfiles; i++)
		config_init(&ld.cfg->files[i]);
	for (i = 0; i < ld.cfg->nfiles && !ld.oom; i++) {
		const char *file = i == 0 ? path : confd[i - 1];

		if (parse_one(&ld, &ld.cfg->files[i], file))
			merge_file(&ld, &ld.cfg->files[i]);
	}
	if (!ld.oom)
		finish(&ld);
	if (ld.nerrs == 0 && !ld.oom)
		result = ld.cfg;
out:
	if (result == NULL) {
		emit_errors(&ld, err, errlen);
		config_free(ld.cfg);
	}
	for (i = 0; i < nconfd; i++)
		free(confd[i]);
	free(confd);
	for (i = 0; i < ld.nhints; i++)
		free(ld.hints[i].file);
	free(ld.hints);
	free(ld.errs);
	free(ld.dir);
	return result;
}

/**
 * config_find_pool() - the pool definition that applies to (database, user).
 * @cfg:      the snapshot.
 * @database: the database the client asked for.
 * @user:     the client's user name.
 *
 * Precedence: an exact (database, user) pool; then (database, "*"); then
 * ("*", user); then ("*", "*").  Returns NULL when none applies.
 */
const struct cfg_pool *config_find_pool(const struct pgs_config *cfg,
                                        const char *database,
                                        const char *user)
{
	const struct cfg_pool *best = NULL;
	int best_rank = 4;
	size_t i;

	if (cfg == NULL || database == NULL || user == NULL)
		return NULL;
	for (i = 0; i < cfg->npools; i++) {
		const struct cfg_pool *p = &cfg->pools[i];
		bool db = streq(p->database, database);
		bool db_any = streq(p->database, "*");
		bool us = streq(p->user, user);
		bool us_any = streq(p->user, "*");
		int rank;

		if (db && us)
			return p;
		if (db && us_any)
			rank = 1;
		else if (db_any && us)
			rank = 2;
		else if (db_any && us_any)
			rank = 3;
		else
			continue;
		if (rank < best_rank) {
			best = p;
			best_rank = rank;
		}
	}
	return best;
}

/**
 * config_find_chain() - a chain of the `chains` group by name.
 * @cfg:  the snapshot.
 * @name: the chain's name.
 *
 * Returns NULL if there is no such chain.  auth.default_chain is
 * cfg->default_chain and is not found by this function.
 */
const struct cfg_chain *config_find_chain(const struct pgs_config *cfg,
                                          const char *name)
{
	size_t i;

	if (cfg == NULL || name == NULL)
		return NULL;
	for (i = 0; i < cfg->nchains; i++)
		if (streq(cfg->chains[i].name, name))
			return &cfg->chains[i];
	return NULL;
}

/**
 * config_where() - "file:line" of a setting.
 * @s:   the setting (NULL gives "(unknown)").
 * @buf: where to write.
 * @len: size of buf.
 *
 * Returns buf.
 */
const char *config_where(const config_setting_t *s, char *buf, size_t len)
{
	const char *file;

	if (buf == NULL || len == 0)
		return "";
	if (s == NULL) {
		snprintf(buf, len, "(unknown)");
		return buf;
	}
	file = config_setting_source_file(s);
	snprintf(buf, len, "%s:%u", file ? file : "(unknown file)",
	         (unsigned)config_setting_source_line(s));
	return buf;
}
