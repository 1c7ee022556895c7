/*
 * userlist_file.c — parse PgBouncer's userlist.txt into a sorted table.
 *
 * The file is read into one buffer and unquoted in place, so an entry's
 * name and secret point into that buffer; the entries are then sorted by
 * name for bsearch and checked for duplicates.  Everything is wiped when
 * the table is freed (and on every error path), since the buffer holds
 * passwords.
 *
 * Tolerance compared to PgBouncer 1.18: leading blanks, ';' comments and
 * anything after the password are accepted as PgBouncer accepts them; '#'
 * comments, CRLF line ends and a UTF-8 byte order mark are accepted too.
 * What PgBouncer would read in a surprising way (a quoted field running
 * over a line end, something other than blanks between the two fields, an
 * empty user name) is refused with file:line.  A user defined twice is an
 * error here, where PgBouncer silently keeps the last line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "secret_kind.h"
#include "userlist_file.h"
#include "errbuf.h"

const struct userlist_limits userlist_default_limits = {
        .max_file_size = 256u << 20,
        .max_line_len = 8192,
        .max_user_len = 1024,
        .max_password_len = 2048,
        .max_entries = 1000000,
};

struct userlist {
	char *text; /* the file, unquoted in place */
	size_t text_size;
	struct userlist_entry *entries; /* sorted by user, then line */
	size_t count;
	size_t capacity;
};

void userlist_free(struct userlist *ul)
{
	if (ul == NULL)
		return;
	if (ul->text != NULL) {
		OPENSSL_cleanse(ul->text, ul->text_size);
		free(ul->text);
	}
	if (ul->entries != NULL) {
		OPENSSL_cleanse(ul->entries, ul->capacity * sizeof *ul->entries);
		free(ul->entries);
	}
	OPENSSL_cleanse(ul, sizeof *ul);
	free(ul);
}

size_t userlist_count(const struct userlist *ul)
{
	return ul != NULL ? ul->count : 0;
}

const struct userlist_entry *userlist_entry_at(const struct userlist *ul, size_t i)
{
	return ul != NULL && i < ul->count ? &ul->entries[i] : NULL;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* "md5" followed by exactly 32 lowercase hex digits, as PostgreSQL's
 * get_password_type() recognises a stored MD5 hash. */
/*
 * Unquote the field whose opening quote is at *pp, in place, stopping
 * before end.  On success *pp points just past the closing quote, the
 * field is NUL-terminated and its length is in *len.  False when no
 * closing quote comes before end.
 */
static bool unquote(char **pp, const char *end, char **field, size_t *len)
{
	char *p = *pp + 1, *dst = p;

	*field = p;
	while (p < end) {
		if (*p == '"') {
			if (p + 1 < end && p[1] == '"') {
				*dst++ = '"';
				p += 2;
				continue;
			}
			*len = (size_t)(dst - *field);
			*dst = '\0'; /* dst <= p: overwrites at most the quote */
			*pp = p + 1;
			return true;
		}
		*dst++ = *p++;
	}
	return false;
}

static int add_entry(struct userlist *ul, const struct userlist_entry *e)
{
	if (ul->count == ul->capacity) {
		size_t cap = ul->capacity ? ul->capacity * 2 : 64;
		struct userlist_entry *n = calloc(cap, sizeof *n);

		/* calloc + copy (not realloc) so no stale copy is left unwiped. */
		if (n == NULL)
			return -ENOMEM;
		if (ul->entries != NULL) {
			memcpy(n, ul->entries, ul->count * sizeof *n);
			OPENSSL_cleanse(ul->entries, ul->capacity * sizeof *n);
			free(ul->entries);
		}
		ul->entries = n;
		ul->capacity = cap;
	}
	ul->entries[ul->count++] = *e;
	return 0;
}

/* Parse one line [p, end) numbered lineno; may add an entry. */
static int parse_line(struct userlist *ul, const char *name, unsigned int lineno, char *p,
                      char *end, const struct userlist_limits *lim, char *err, size_t err_size)
{
	struct userlist_entry e = {.line = lineno};
	char *user, *password;
	size_t user_len, password_len;

	if ((size_t)(end - p) > lim->max_line_len) {
		errbuf_set(err, err_size, "%s:%u: line longer than %zu bytes", name, lineno,
		           lim->max_line_len);
		return -E2BIG;
	}
	if (memchr(p, '\0', (size_t)(end - p)) != NULL) {
		errbuf_set(err, err_size, "%s:%u: NUL byte in the line", name, lineno);
		return -EINVAL;
	}
	while (p < end && is_blank(*p))
		p++;
	if (p == end || *p == ';' || *p == '#')
		return 0;
	if (*p != '"') {
		errbuf_set(err, err_size,
		           "%s:%u: expected a quoted user name (\"user\" \"password\"; comments "
		           "start with ';' or '#')",
		           name, lineno);
		return -EINVAL;
	}
	if (!unquote(&p, end, &user, &user_len)) {
		errbuf_set(err, err_size, "%s:%u: user name has no closing quote", name, lineno);
		return -EINVAL;
	}
	if (user_len == 0) {
		errbuf_set(err, err_size, "%s:%u: empty user name", name, lineno);
		return -EINVAL;
	}
	if (user_len > lim->max_user_len) {
		errbuf_set(err, err_size, "%s:%u: user name longer than %zu bytes", name, lineno,
		           lim->max_user_len);
		return -E2BIG;
	}
	while (p < end && is_blank(*p))
		p++;
	if (p == end) {
		errbuf_set(err, err_size, "%s:%u: no password after user \"%s\"", name, lineno,
		           user);
		return -EINVAL;
	}
	if (*p != '"') {
		errbuf_set(err, err_size,
		           "%s:%u: expected blanks then a quoted password after user \"%s\"", name,
		           lineno, user);
		return -EINVAL;
	}
	if (!unquote(&p, end, &password, &password_len)) {
		errbuf_set(err, err_size, "%s:%u: password of user \"%s\" has no closing quote",
		           name, lineno, user);
		return -EINVAL;
	}
	if (password_len > lim->max_password_len) {
		errbuf_set(err, err_size, "%s:%u: password of user \"%s\" longer than %zu bytes",
		           name, lineno, user, lim->max_password_len);
		return -E2BIG;
	}
	/* Whatever follows the password is ignored, as PgBouncer does. */

	e.user = user;
	e.secret = (const uint8_t *)password;
	e.secret_len = password_len;
	{
		char why[128] = "";

		e.kind = secret_kind(e.secret, password_len, why, sizeof why);
		if (e.kind == NULL) {
			errbuf_set(err, err_size,
			           "%s:%u: SCRAM verifier of user \"%s\" is invalid: %s", name,
			           lineno, user, why);
			return -EINVAL;
		}
	}
	if (ul->count >= lim->max_entries) {
		errbuf_set(err, err_size, "%s:%u: more than %zu entries", name, lineno,
		           lim->max_entries);
		return -E2BIG;
	}
	return add_entry(ul, &e);
}

static int entry_cmp(const void *a, const void *b)
{
	const struct userlist_entry *x = a, *y = b;
	int c = strcmp(x->user, y->user);

	if (c != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* After sorting, equal names sit side by side, each run in file order:
 * report the repeat that comes first in the file, with the line it repeats.
 * Within a run the second entry has the smallest line of the repeats, so
 * only a run's first pair can be the answer. */
static int check_duplicates(const struct userlist *ul, const char *name, char *err, size_t err_size)
{
	const struct userlist_entry *dup = NULL, *first = NULL;

	for (size_t i = 1; i < ul->count; i++) {
		const struct userlist_entry *a = &ul->entries[i - 1], *b = &ul->entries[i];

		if ((dup == NULL || b->line < dup->line) && strcmp(a->user, b->user) == 0) {
			dup = b;
			first = a;
		}
	}
	if (dup == NULL)
		return 0;
	errbuf_set(err, err_size, "%s:%u: user \"%s\" is already defined at line %u", name,
	           dup->line, dup->user, first->line);
	return -EINVAL;
}

/*
 * Parse buf (len bytes of text in an allocation of buf_size > len bytes),
 * taking ownership of it: the table keeps it, or it is wiped and freed.
 */
static int parse_owned(const char *name, char *buf, size_t len, size_t buf_size,
                       const struct userlist_limits *lim, struct userlist **out, char *err,
                       size_t err_size)
{
	struct userlist *ul;
	char *p, *end;
	unsigned int lineno = 0;
	int rc = 0;

	if (len > lim->max_file_size) {
		errbuf_set(err, err_size, "%s: file larger than %zu bytes", name,
		           lim->max_file_size);
		OPENSSL_cleanse(buf, len);
		free(buf);
		return -E2BIG;
	}
	ul = calloc(1, sizeof *ul);
	if (ul == NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
		errbuf_set(err, err_size, "%s: out of memory", name);
		return -ENOMEM;
	}
	ul->text = buf;
	ul->text_size = buf_size;
	buf[len] = '\0';

	p = buf;
	end = buf + len;
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3; /* UTF-8 byte order mark */
	while (p < end) {
		char *eol = memchr(p, '\n', (size_t)(end - p));

		if (eol == NULL)
			eol = end;
		if (lineno == 0xffffffffu) {
			rc = -E2BIG;
			errbuf_set(err, err_size, "%s: too many lines", name);
			goto fail;
		}
		rc = parse_line(ul, name, ++lineno, p, eol, lim, err, err_size);
		if (rc == -ENOMEM)
			errbuf_set(err, err_size, "%s: out of memory", name);
		if (rc < 0)
			goto fail;
		p = eol + 1;
	}
	if (ul->count > 1)
		qsort(ul->entries, ul->count, sizeof *ul->entries, entry_cmp);
	rc = check_duplicates(ul, name, err, err_size);
	if (rc < 0)
		goto fail;
	*out = ul;
	return 0;

fail:
	userlist_free(ul);
	return rc;
}

int userlist_parse(const char *name, const char *text, size_t len,
                   const struct userlist_limits *lim, struct userlist **out, char *err,
                   size_t err_size)
{
	char *buf;

	*out = NULL;
	if (lim == NULL)
		lim = &userlist_default_limits;
	if (len > lim->max_file_size) {
		errbuf_set(err, err_size, "%s: file larger than %zu bytes", name,
		           lim->max_file_size);
		return -E2BIG;
	}
	buf = malloc(len + 1);
	if (buf == NULL) {
		errbuf_set(err, err_size, "%s: out of memory", name);
		return -ENOMEM;
	}
	if (len > 0)
		memcpy(buf, text, len);
	return parse_owned(name, buf, len, len + 1, lim, out, err, err_size);
}

/* Read the whole of fd (a regular file of about size_hint bytes) into
 * *buf, an allocation of *buf_size bytes that is always > *len. */
static int read_all(int fd, size_t size_hint, size_t max, char **buf, size_t *len, size_t *buf_size)
{
	size_t cap = size_hint + 1, used = 0;
	char *b = malloc(cap);

	if (b == NULL)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (used == cap) {
			/* The file grew while we read it. */
			size_t ncap = cap * 2;
			char *nb;

			if (cap > max + 1) {
				OPENSSL_cleanse(b, used);
				free(b);
				return -E2BIG;
			}
			nb = malloc(ncap);
			if (nb == NULL) {
				OPENSSL_cleanse(b, used);
				free(b);
				return -ENOMEM;
			}
			memcpy(nb, b, used);
			OPENSSL_cleanse(b, used);
			free(b);
			b = nb;
			cap = ncap;
		}
		n = read(fd, b + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			OPENSSL_cleanse(b, used);
			free(b);
			return -e;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	*buf = b;
	*len = used;
	*buf_size = cap; /* used < cap: the last read() had room and returned 0 */
	return 0;
}

int userlist_load(const char *path, const struct userlist_limits *lim, struct userlist **out,
                  char *err, size_t err_size)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, buf_size = 0;
	int fd, rc;

	*out = NULL;
	if (lim == NULL)
		lim = &userlist_default_limits;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		errbuf_set(err, err_size, "cannot open userlist file %s: %s", path, strerror(-rc));
		return rc;
	}
	/* Check the file we opened, not the path: no race with a rename. */
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		errbuf_set(err, err_size, "cannot stat userlist file %s: %s", path, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		errbuf_set(err, err_size, "userlist file %s is not a regular file", path);
		goto out;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH | S_IROTH)) != 0) {
		rc = -EACCES;
		errbuf_set(
		        err, err_size,
		        "userlist file %s has mode %04o: it holds passwords and must be neither "
		        "group- or world-writable nor world-readable (chmod 600 or chmod 640 it)",
		        path, (unsigned int)(st.st_mode & 07777));
		goto out;
	}
	if ((unsigned long long)st.st_size > lim->max_file_size) {
		rc = -E2BIG;
		errbuf_set(err, err_size, "userlist file %s is larger than %zu bytes", path,
		           lim->max_file_size);
		goto out;
	}
	rc = read_all(fd, (size_t)st.st_size, lim->max_file_size, &buf, &len, &buf_size);
	if (rc < 0) {
		errbuf_set(err, err_size, "cannot read userlist file %s: %s", path,
		           rc == -E2BIG ? "file grew too large" : strerror(-rc));
		goto out;
	}
	rc = parse_owned(path, buf, len, buf_size, lim, out, err, err_size);
out:
	close(fd);
	return rc;
}

static int find_cmp(const void *key, const void *elem)
{
	const struct userlist_entry *e = elem;

	return strcmp(key, e->user);
}

const struct userlist_entry *userlist_find(const struct userlist *ul, const char *user)
{
	if (ul == NULL || user == NULL || ul->count == 0)
		return NULL;
	return bsearch(user, ul->entries, ul->count, sizeof *ul->entries, find_cmp);
}
