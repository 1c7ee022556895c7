/*
 * vault_file.c — vault files as lines (for pgsluice-admin to edit without
 * losing comments) and decrypted into a sorted table (for the vault
 * module), see vault_lib.h.
 *
 * Parsing is strict and bounded: each line at most VAULT_MAX_LINE bytes,
 * at most VAULT_MAX_ENTRIES entries, user names checked by
 * vault_user_check(), entries strict base64 of a length an entry can have.
 * Every refusal names file:line, and the user when the line has one.  The
 * file form holds only ciphertext; the table holds plaintext secrets and
 * wipes them (and every decryption buffer) before freeing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "scram_verifier.h"
#include "secret_kind.h"
#include "vault_lib.h"
#include "errbuf.h"

#define VAULT_MAGIC    "pgsluice-vault"
#define B64_LEN(n)     (((n) + 2) / 3 * 4)
#define ENTRY_MIN_RAW  (VAULT_HDR_LEN + VAULT_TAG_LEN)
#define ENTRY_MAX_RAW  (ENTRY_MIN_RAW + VAULT_MAX_SECRET)
#define ENTRY_MIN_TEXT B64_LEN(ENTRY_MIN_RAW)
#define ENTRY_MAX_TEXT B64_LEN(ENTRY_MAX_RAW)

/* ------------------------------------------------------------ lines */

static void line_clear(struct vault_line *l)
{
	free(l->raw);
	free(l->user);
	free(l->entry);
	memset(l, 0, sizeof *l);
}

void vault_file_free(struct vault_file *vf)
{
	if (vf == NULL)
		return;
	for (size_t i = 0; i < vf->nlines; i++)
		line_clear(&vf->lines[i]);
	free(vf->lines);
	free(vf->name);
	free(vf);
}

/* Append a line: raw (a comment, blank or header line) or user + entry. */
static int add_line(struct vault_file *vf, unsigned lineno, const char *raw, size_t raw_len,
                    const char *user, size_t user_len, const char *entry, size_t entry_len)
{
	struct vault_line *l;

	if (vf->nlines == vf->cap) {
		size_t cap = vf->cap != 0 ? vf->cap * 2 : 16;
		struct vault_line *n = realloc(vf->lines, cap * sizeof *n);

		if (n == NULL)
			return -ENOMEM;
		vf->lines = n;
		vf->cap = cap;
	}
	l = &vf->lines[vf->nlines];
	memset(l, 0, sizeof *l);
	l->lineno = lineno;
	if (raw != NULL) {
		l->raw = strndup(raw, raw_len);
		if (l->raw == NULL)
			return -ENOMEM;
	} else {
		l->user = strndup(user, user_len);
		l->entry = strndup(entry, entry_len);
		if (l->user == NULL || l->entry == NULL) {
			line_clear(l);
			return -ENOMEM;
		}
		vf->nentries++;
	}
	vf->nlines++;
	return 0;
}

/* NULL when entry is strict base64 of a length an entry can have, else
 * what is wrong with it. */
static const char *entry_problem(const char *entry, size_t len)
{
	uint8_t raw[ENTRY_MAX_RAW];
	int n;

	if (len > ENTRY_MAX_TEXT)
		return "entry too long to be a vault entry";
	n = len < ENTRY_MIN_TEXT ? 0 : scram_verifier_b64_decode(entry, len, raw, sizeof raw);
	if (n < 0)
		return "entry is not base64";
	return n < ENTRY_MIN_RAW ? "entry too short to be a vault entry" : NULL;
}

/* "pgsluice-vault <version>" with blanks around the words. */
static int parse_header(const char *p, const char *end, const char *name, unsigned lineno,
                        char *err, size_t err_size)
{
	size_t magic_len = sizeof VAULT_MAGIC - 1;
	unsigned long version = 0;
	const char *d;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if ((size_t)(end - p) < magic_len + 2 || memcmp(p, VAULT_MAGIC, magic_len) != 0)
		goto bad;
	p += magic_len;
	if (*p != ' ' && *p != '\t')
		goto bad;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	for (d = p; p < end && *p >= '0' && *p <= '9' && p - d < 9; p++)
		version = version * 10 + (unsigned long)(*p - '0');
	if (p == d || p != end)
		goto bad;
	if (version > VAULT_FORMAT) {
		errbuf_set(err, err_size,
		           "%s:%u: vault format version %lu is newer than this build reads (%d)",
		           name, lineno, version, VAULT_FORMAT);
		return -EINVAL;
	}
	if (version != VAULT_FORMAT) {
		errbuf_set(err, err_size,
		           "%s:%u: vault format version %lu is not supported (this build reads %d)",
		           name, lineno, version, VAULT_FORMAT);
		return -EINVAL;
	}
	return 0;
bad:
	errbuf_set(err, err_size, "%s:%u: expected \"%s %d\" (is this a vault file?)", name, lineno,
	           VAULT_MAGIC, VAULT_FORMAT);
	return -EINVAL;
}

/* A "user:entry" line, split at the last ':'. */
static int parse_entry(struct vault_file *vf, const char *p, const char *end, unsigned lineno,
                       char *err, size_t err_size)
{
	char user[VAULT_MAX_USER + 1], why[128];
	const char *colon = NULL, *reason;
	size_t user_len;
	int rc;

	for (const char *q = end; q > p; q--) {
		if (q[-1] == ':') {
			colon = q - 1;
			break;
		}
	}
	if (colon == NULL) {
		errbuf_set(err, err_size, "%s:%u: expected \"user:entry\"", vf->name, lineno);
		return -EINVAL;
	}
	user_len = (size_t)(colon - p);
	if (user_len > VAULT_MAX_USER) {
		errbuf_set(err, err_size, "%s:%u: user name longer than %d bytes", vf->name, lineno,
		           VAULT_MAX_USER);
		return -E2BIG;
	}
	memcpy(user, p, user_len);
	user[user_len] = '\0';
	rc = vault_user_check(user, why, sizeof why);
	if (rc < 0) {
		errbuf_set(err, err_size, "%s:%u: %s", vf->name, lineno, why);
		return rc;
	}
	if (vf->nentries >= VAULT_MAX_ENTRIES) {
		errbuf_set(err, err_size, "%s:%u: more than %d entries", vf->name, lineno,
		           VAULT_MAX_ENTRIES);
		return -E2BIG;
	}
	reason = entry_problem(colon + 1, (size_t)(end - colon - 1));
	if (reason != NULL) {
		errbuf_set(err, err_size, "%s:%u: user \"%s\": %s", vf->name, lineno, user, reason);
		return -EINVAL;
	}
	return add_line(vf, lineno, NULL, 0, user, user_len, colon + 1, (size_t)(end - colon - 1));
}

static int cmp_line_user(const void *a, const void *b)
{
	const struct vault_line *x = *(const struct vault_line *const *)a;
	const struct vault_line *y = *(const struct vault_line *const *)b;
	int c = strcmp(x->user, y->user);

	return c != 0 ? c : (x->lineno > y->lineno) - (x->lineno < y->lineno);
}

/* Refuse a user defined twice, naming the earliest repeated line. */
static int check_duplicates(const struct vault_file *vf, char *err, size_t err_size)
{
	const struct vault_line **v, *dup = NULL, *first = NULL;
	size_t n = 0;

	if (vf->nentries < 2)
		return 0;
	v = malloc(vf->nentries * sizeof *v);
	if (v == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < vf->nlines; i++)
		if (vf->lines[i].user != NULL)
			v[n++] = &vf->lines[i];
	qsort(v, n, sizeof *v, cmp_line_user);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(v[i - 1]->user, v[i]->user) == 0 &&
		    (dup == NULL || v[i]->lineno < dup->lineno)) {
			size_t k = i - 1;

			while (k > 0 && strcmp(v[k - 1]->user, v[i]->user) == 0)
				k--;
			dup = v[i];
			first = v[k];
		}
	}
	free(v);
	if (dup == NULL)
		return 0;
	errbuf_set(err, err_size, "%s:%u: user \"%s\" is already defined at line %u", vf->name,
	           dup->lineno, dup->user, first->lineno);
	return -EINVAL;
}

int vault_file_parse(const char *text, size_t len, const char *name, struct vault_file **out,
                     char *err, size_t err_size)
{
	const char *p = text, *end = text + len;
	struct vault_file *vf;
	bool header = false;
	unsigned lineno = 0;
	int rc = 0;

	errbuf_set(err, err_size, "%s", "");
	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (text == NULL && len > 0)
		return -EINVAL;
	if (name == NULL)
		name = "vault";
	if (len > VAULT_MAX_FILE) {
		errbuf_set(err, err_size, "%s: larger than %u bytes", name, VAULT_MAX_FILE);
		return -EFBIG;
	}
	vf = calloc(1, sizeof *vf);
	if (vf != NULL)
		vf->name = strdup(name);
	if (vf == NULL || vf->name == NULL) {
		free(vf);
		errbuf_set(err, err_size, "%s: out of memory", name);
		return -ENOMEM;
	}
	while (p < end && rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line = p, *eol = nl != NULL ? nl : end, *q;

		p = nl != NULL ? nl + 1 : end;
		lineno++;
		if (eol - line > VAULT_MAX_LINE) {
			errbuf_set(err, err_size, "%s:%u: line longer than %d bytes", name, lineno,
			           VAULT_MAX_LINE);
			rc = -E2BIG;
			break;
		}
		/* CRLF line ends; all trailing CRs, or a comment would not survive a
		 * round trip through vault_file_format() */
		while (eol > line && eol[-1] == '\r')
			eol--;
		if (memchr(line, '\0', (size_t)(eol - line)) != NULL) {
			errbuf_set(err, err_size, "%s:%u: NUL byte in the line", name, lineno);
			rc = -EINVAL;
			break;
		}
		for (q = line; q < eol && (*q == ' ' || *q == '\t'); q++)
			;
		if (q == eol || *line == '#') {
			rc = add_line(vf, lineno, line, (size_t)(eol - line), NULL, 0, NULL, 0);
		} else if (!header) {
			rc = parse_header(line, eol, name, lineno, err, err_size);
			if (rc == 0)
				rc = add_line(vf, lineno, line, (size_t)(eol - line), NULL, 0, NULL,
				              0);
			header = true;
		} else {
			rc = parse_entry(vf, line, eol, lineno, err, err_size);
		}
	}
	if (rc == 0 && !header) {
		errbuf_set(err, err_size, "%s: no \"%s %d\" line (is this a vault file?)", name,
		           VAULT_MAGIC, VAULT_FORMAT);
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = check_duplicates(vf, err, err_size);
	if (rc == -ENOMEM)
		errbuf_set(err, err_size, "%s: out of memory", name);
	if (rc < 0) {
		vault_file_free(vf);
		return rc;
	}
	*out = vf;
	return 0;
}

int vault_file_load(const char *path, struct vault_file **out, char *err, size_t err_size)
{
	char *buf;
	size_t len;
	int rc;

	if (out != NULL)
		*out = NULL;
	rc = vault_read_private(path, VAULT_MAX_FILE, &buf, &len, err, err_size);
	if (rc < 0)
		return rc;
	rc = vault_file_parse(buf, len, path, out, err, err_size);
	vault_buf_free(buf, len);
	return rc;
}

struct vault_file *vault_file_new(const char *name)
{
	static const char comment[] = "# pgsluice vault: one \"user:entry\" line per user, "
	                              "sealed under the master key (pgsluice-admin edits it)";
	static const char header[] = VAULT_MAGIC " 1";
	struct vault_file *vf = calloc(1, sizeof *vf);

	if (vf == NULL)
		return NULL;
	vf->name = strdup(name != NULL ? name : "vault");
	if (vf->name == NULL ||
	    add_line(vf, 1, comment, sizeof comment - 1, NULL, 0, NULL, 0) < 0 ||
	    add_line(vf, 2, header, sizeof header - 1, NULL, 0, NULL, 0) < 0) {
		vault_file_free(vf);
		return NULL;
	}
	return vf;
}

/* The index of the line of user, or vf->nlines. */
static size_t find_index(const struct vault_file *vf, const char *user)
{
	size_t i;

	for (i = 0; i < vf->nlines; i++)
		if (vf->lines[i].user != NULL && strcmp(vf->lines[i].user, user) == 0)
			break;
	return i;
}

const struct vault_line *vault_file_find(const struct vault_file *vf, const char *user)
{
	size_t i;

	if (vf == NULL || user == NULL)
		return NULL;
	i = find_index(vf, user);
	return i < vf->nlines ? &vf->lines[i] : NULL;
}

int vault_file_set(struct vault_file *vf, const char *user, const char *entry)
{
	size_t entry_len, i;
	unsigned lineno;

	if (vf == NULL || entry == NULL)
		return -EINVAL;
	if (vault_user_check(user, NULL, 0) < 0)
		return -EINVAL;
	entry_len = strnlen(entry, ENTRY_MAX_TEXT + 1);
	if (entry_problem(entry, entry_len) != NULL)
		return -EINVAL;
	i = find_index(vf, user);
	if (i < vf->nlines) {
		char *copy = strdup(entry);

		if (copy == NULL)
			return -ENOMEM;
		free(vf->lines[i].entry);
		vf->lines[i].entry = copy;
		return 0;
	}
	if (vf->nentries >= VAULT_MAX_ENTRIES)
		return -E2BIG;
	lineno = vf->nlines > 0 ? vf->lines[vf->nlines - 1].lineno + 1 : 1;
	return add_line(vf, lineno, NULL, 0, user, strlen(user), entry, entry_len);
}

int vault_file_del(struct vault_file *vf, const char *user)
{
	size_t i;

	if (vf == NULL || user == NULL)
		return -EINVAL;
	i = find_index(vf, user);
	if (i == vf->nlines)
		return -ENOENT;
	line_clear(&vf->lines[i]);
	memmove(&vf->lines[i], &vf->lines[i + 1], (vf->nlines - i - 1) * sizeof *vf->lines);
	vf->nlines--;
	vf->nentries--;
	return 0;
}

int vault_file_format(const struct vault_file *vf, char **out, size_t *len)
{
	size_t total = 0, o = 0;
	char *buf;

	if (out == NULL || len == NULL)
		return -EINVAL;
	*out = NULL;
	*len = 0;
	if (vf == NULL)
		return -EINVAL;
	for (size_t i = 0; i < vf->nlines; i++) {
		const struct vault_line *l = &vf->lines[i];

		total += l->raw != NULL ? strlen(l->raw) + 1
		                        : strlen(l->user) + 1 + strlen(l->entry) + 1;
	}
	buf = malloc(total + 1);
	if (buf == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < vf->nlines; i++) { /* fits: counted above */
		const struct vault_line *l = &vf->lines[i];

		o += (size_t)(l->raw != NULL ? sprintf(buf + o, "%s\n", l->raw)
		                             : sprintf(buf + o, "%s:%s\n", l->user, l->entry));
	}
	buf[o] = '\0';
	*out = buf;
	*len = o;
	return 0;
}

int vault_file_save(const struct vault_file *vf, const char *path, char *err, size_t err_size)
{
	char *text;
	size_t len;
	int rc = vault_file_format(vf, &text, &len);

	if (rc < 0) {
		errbuf_set(err, err_size, "%s: cannot format the vault: %s", path, strerror(-rc));
		return rc;
	}
	rc = vault_write_private(path, text, len, false, err, err_size);
	free(text);
	return rc;
}

/* ------------------------------------------------------------ decrypted table */

void vault_table_free(struct vault_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		struct vault_secret *e = &t->e[i];

		if (e->secret != NULL)
			OPENSSL_cleanse(e->secret, e->len + 1);
		free(e->secret);
		free(e->user);
	}
	free(t->e);
	free(t);
}

static int cmp_secret(const void *a, const void *b)
{
	return strcmp(((const struct vault_secret *)a)->user,
	              ((const struct vault_secret *)b)->user);
}

/* Decrypt the entry of line l into the next slot of t. */
static int table_add(struct vault_table *t, const char *name, const struct vault_line *l,
                     const uint8_t mk[VAULT_KEY_LEN], char *err, size_t err_size)
{
	uint8_t secret[VAULT_MAX_SECRET + 1];
	struct vault_secret *e = &t->e[t->n];
	char why[128];
	size_t len = 0;
	int rc;

	rc = vault_entry_open(mk, l->user, l->entry, strlen(l->entry), secret, sizeof secret, &len);
	if (rc == -EBADMSG) {
		errbuf_set(err, err_size,
		           "%s:%u: user \"%s\": entry does not decrypt (wrong master key, or an "
		           "entry changed or moved from another user)",
		           name, l->lineno, l->user);
		goto out;
	}
	if (rc < 0) {
		errbuf_set(err, err_size, "%s:%u: user \"%s\": cannot decrypt: %s", name, l->lineno,
		           l->user, strerror(-rc));
		goto out;
	}
	if (memchr(secret, '\0', len) != NULL) {
		errbuf_set(err, err_size, "%s:%u: user \"%s\": secret contains a NUL byte", name,
		           l->lineno, l->user);
		rc = -EINVAL;
		goto out;
	}
	e->kind = secret_kind(secret, len, why, sizeof why);
	if (e->kind == NULL) {
		errbuf_set(err, err_size, "%s:%u: user \"%s\": broken secret: %s", name, l->lineno,
		           l->user, why);
		rc = -EINVAL;
		goto out;
	}
	e->user = strdup(l->user);
	e->secret = malloc(len + 1);
	if (e->user == NULL || e->secret == NULL) {
		free(e->user);
		free(e->secret);
		memset(e, 0, sizeof *e);
		errbuf_set(err, err_size, "%s: out of memory", name);
		rc = -ENOMEM;
		goto out;
	}
	memcpy(e->secret, secret, len);
	e->secret[len] = '\0';
	e->len = len;
	t->n++;
out:
	OPENSSL_cleanse(secret, sizeof secret);
	return rc;
}

int vault_table_from_text(const char *text, size_t len, const char *name,
                          const uint8_t mk[VAULT_KEY_LEN], struct vault_table **out, char *err,
                          size_t err_size)
{
	struct vault_file *vf;
	struct vault_table *t;
	int rc;

	if (out == NULL || mk == NULL)
		return -EINVAL;
	*out = NULL;
	if (name == NULL)
		name = "vault";
	rc = vault_file_parse(text, len, name, &vf, err, err_size);
	if (rc < 0)
		return rc;
	t = calloc(1, sizeof *t);
	if (t == NULL ||
	    (t->e = calloc(vf->nentries > 0 ? vf->nentries : 1, sizeof *t->e)) == NULL) {
		free(t);
		vault_file_free(vf);
		errbuf_set(err, err_size, "%s: out of memory", name);
		return -ENOMEM;
	}
	for (size_t i = 0; i < vf->nlines && rc == 0; i++)
		if (vf->lines[i].user != NULL)
			rc = table_add(t, name, &vf->lines[i], mk, err, err_size);
	vault_file_free(vf);
	if (rc < 0) {
		vault_table_free(t);
		return rc;
	}
	/* users are unique (vault_file_parse refused duplicates) */
	qsort(t->e, t->n, sizeof *t->e, cmp_secret);
	*out = t;
	return 0;
}

int vault_table_load(const char *path, const uint8_t mk[VAULT_KEY_LEN], struct vault_table **out,
                     char *err, size_t err_size)
{
	char *buf;
	size_t len;
	int rc;

	if (out != NULL)
		*out = NULL;
	rc = vault_read_private(path, VAULT_MAX_FILE, &buf, &len, err, err_size);
	if (rc < 0)
		return rc;
	rc = vault_table_from_text(buf, len, path, mk, out, err, err_size);
	vault_buf_free(buf, len);
	return rc;
}

const struct vault_secret *vault_table_find(const struct vault_table *t, const char *user)
{
	struct vault_secret key = {.user = (char *)user};

	if (t == NULL || user == NULL || t->n == 0)
		return NULL;
	return bsearch(&key, t->e, t->n, sizeof *t->e, cmp_secret);
}
