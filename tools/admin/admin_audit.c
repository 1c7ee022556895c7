/*
 * admin_audit.c — "pgsluice-admin audit-key" and "audit-verify": the key of
 * the audit trail's HMAC chain, and the check of the files the audit module
 * (modules/audit/) writes.
 *
 * An audit file is JSON Lines, one event per line:
 *
 *   {"seq":N,"ts":"YYYY-MM-DDTHH:MM:SS.uuuuuuZ","event":"name"<,"k":"v"...>,
 *    "prev":"<64 hex>","mac":"<64 hex>"}\n          (one line)
 *
 * mac is HMAC-SHA256(key, the bytes from '{' up to ,"mac":"); prev is the
 * mac of the line before, 64 zeros where a chain starts (a chain_start
 * event).  The check stops at the FIRST problem and names its line: a
 * modified line fails its own MAC; a deleted, inserted, duplicated or
 * moved line breaks the prev link of the line after it.  The first line
 * of a file may have any prev: a rotated file continues the one before.
 * tests/integration/auditverify.py implements the same rules separately,
 * and the integration test 31 holds both to the same output.
 *
 * Audit files are not secret and may be pipes ("audit-verify -k K
 * <(zcat old.gz)"); they are read as a stream, one bounded line at a
 * time.  The key file is private and checked as the vault's files are
 * (vault_read_private); the key lives only in a stack buffer, wiped as
 * soon as the MAC context holds it, and in that context, freed at the end.
 * The key format and the HMAC are the audit module's own (audit_json.c,
 * compiled in); the line checks here are stricter and name what is wrong,
 * as auditverify.py does.
 *
 * With -m MASTERKEY the key is not read but derived, as the audit module's
 * key_vault setting has the vault derive it: the master key is unlocked
 * (admin_unlock(): the passphrase from --passphrase-file, the environment
 * or the terminal) and HKDF-SHA256 gives the audit key under the label
 * AUDIT_VAULT_LABEL (vault_derive(), modules/vault/vault_crypto.h).  The
 * derived key is never printed or written anywhere.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "admin_audit.h"
#include "admin_key.h"
#include "admin_util.h"
#include "audit_json.h" /* the module's key format and HMAC (modules/audit/) */
#include "vault_crypto.h"

#define AUDIT_HEX_LEN     AUDIT_MAC_HEX /* a key, a prev or a mac in hex */
#define AUDIT_NAME_MAX    64            /* bytes of an event name */
/* The audit module's label (modules/audit/audit.c): the same bytes as its
 * key_vault setting, or no trail verifies. */
#define AUDIT_VAULT_LABEL "audit-hmac"

#define SEQ_OPEN   "{\"seq\":"
#define TS_OPEN    ",\"ts\":\""
#define EVENT_OPEN "\",\"event\":\""
#define PREV_OPEN  ",\"prev\":\""
#define MAC_OPEN   ",\"mac\":\""
#define TS_FORM    "0000-00-00T00:00:00.000000Z" /* '0': any digit */

#define LIT_LEN(s) (sizeof(s) - 1)
/* ,"prev":"<hex>" and ,"mac":"<hex>"} at the end of a line */
#define PREV_PART  (LIT_LEN(PREV_OPEN) + AUDIT_HEX_LEN + 1)
#define MAC_PART   (LIT_LEN(MAC_OPEN) + AUDIT_HEX_LEN + 2)

static const char zero_mac[AUDIT_HEX_LEN + 1] =
        "0000000000000000000000000000000000000000000000000000000000000000";

/* ------------------------------------------------------------ hex */

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* n hex digits, lowercase only unless any_case. */
static bool is_hex(const char *s, size_t n, bool any_case)
{
	for (size_t i = 0; i < n; i++) {
		int v = hex_value((unsigned char)s[i]);

		if (v < 0 || (!any_case && s[i] >= 'A' && s[i] <= 'F'))
			return false;
	}
	return true;
}

static void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
}

/* ------------------------------------------------------------ audit-key */

int admin_cmd_audit_key(const struct admin_opts *o)
{
	char text[AUDIT_HEX_LEN + 1], err[512] = "";
	uint8_t key[AUDIT_KEY_LEN];
	struct stat st;
	bool existed;
	int rc;

	existed = lstat(o->key_file, &st) == 0;
	if (existed && !o->force) {
		admin_msg("%s exists: refusing to replace it (with --force, the audit files "
		          "chained with the old key no longer verify with the new one)",
		          o->key_file);
		return ADMIN_KEYEXISTS;
	}
	if (RAND_priv_bytes(key, sizeof key) != 1) {
		OPENSSL_cleanse(key, sizeof key);
		admin_msg("%s: the random number generator failed", o->key_file);
		return ADMIN_ERROR;
	}
	hex_encode(key, sizeof key, text);
	OPENSSL_cleanse(key, sizeof key);
	text[AUDIT_HEX_LEN] = '\n';
	/* Exclusive unless --force: a file created meanwhile is not replaced. */
	rc = vault_write_private(o->key_file, text, sizeof text, !o->force, err, sizeof err);
	OPENSSL_cleanse(text, sizeof text);
	if (rc == -EEXIST) {
		admin_msg("%s exists: refusing to replace it (with --force, the audit files "
		          "chained with the old key no longer verify with the new one)",
		          o->key_file);
		return ADMIN_KEYEXISTS;
	}
	if (rc < 0) {
		admin_msg("%s", err[0] != '\0' ? err : strerror(-rc));
		return ADMIN_ERROR;
	}
	if (existed)
		admin_msg("%s replaced: the audit files written before verify only with the old "
		          "key",
		          o->key_file);
	return ADMIN_OK;
}

/* ------------------------------------------------------------ the key */

/* The key file: exactly 64 hex digits, optionally one "\n"; private. */
static int key_load(const char *path, uint8_t key[AUDIT_KEY_LEN])
{
	char err[512] = "", *text = NULL;
	size_t len = 0;
	int rc;

	rc = vault_read_private(path, AUDIT_HEX_LEN + 1, &text, &len, err, sizeof err);
	if (rc == -ENOENT) {
		admin_msg("%s: no such key file (create one with pgsluice-admin audit-key)", path);
		return AUDIT_EXIT_UNREADABLE;
	}
	if (rc < 0 && rc != -EFBIG) {
		admin_msg("%s", err[0] != '\0' ? err : strerror(-rc));
		return AUDIT_EXIT_UNREADABLE;
	}
	if (rc == -EFBIG || audit_key_parse(text, len, key) < 0) {
		vault_buf_free(text, len);
		admin_msg("%s: not an audit key: the file must hold exactly %u hexadecimal "
		          "digits, optionally followed by a newline",
		          path, AUDIT_HEX_LEN);
		return AUDIT_EXIT_UNREADABLE;
	}
	vault_buf_free(text, len);
	return ADMIN_OK;
}

/* -m: the audit key derived from the vault's master key (see the file
 * comment).  Every failure is AUDIT_EXIT_UNREADABLE, said on stderr. */
static int key_from_master(const struct admin_opts *o, uint8_t key[AUDIT_KEY_LEN])
{
	struct admin_opts unlock = *o;
	uint8_t mk[VAULT_KEY_LEN];
	struct stat st;
	int rc;

	/* admin_unlock's own message for a missing file names -k */
	if (stat(o->master_key, &st) != 0 && errno == ENOENT) {
		admin_msg("%s: no such master key file (-m names the vault's master.key)",
		          o->master_key);
		return AUDIT_EXIT_UNREADABLE;
	}
	unlock.key_file = o->master_key;
	rc = admin_unlock(&unlock, mk);
	if (rc != ADMIN_OK) {
		OPENSSL_cleanse(mk, sizeof mk);
		return AUDIT_EXIT_UNREADABLE;
	}
	rc = vault_derive(mk, AUDIT_VAULT_LABEL, key, AUDIT_KEY_LEN);
	OPENSSL_cleanse(mk, sizeof mk);
	if (rc < 0) {
		admin_msg("%s: cannot derive the audit key: %s", o->master_key, strerror(-rc));
		return AUDIT_EXIT_UNREADABLE;
	}
	return ADMIN_OK;
}

/* ------------------------------------------------------------ reading lines */

enum read_result { READ_LINE, READ_EOF, READ_TOO_LONG, READ_INCOMPLETE, READ_ERROR };

/* A line at a time from a file or pipe, without unbounded buffering. */
struct line_reader {
	int fd;
	bool eof;
	size_t pos, end; /* the unread bytes are buf[pos..end) */
	char buf[AUDIT_LINE_MAX];
};

/* The next line, without its "\n" (pointing into r->buf, valid until the
 * next call).  READ_TOO_LONG when AUDIT_LINE_MAX bytes come without a
 * "\n" (the audit module never writes a longer line); READ_INCOMPLETE when
 * the file ends in a line without one;
 * READ_ERROR with errno set. */
static enum read_result reader_next(struct line_reader *r, const char **line, size_t *len)
{
	size_t scanned = 0;
	ssize_t n;
	char *nl;

	for (;;) {
		nl = memchr(r->buf + r->pos + scanned, '\n', r->end - r->pos - scanned);
		if (nl != NULL) {
			*line = r->buf + r->pos;
			*len = (size_t)(nl - *line);
			r->pos += *len + 1;
			return READ_LINE;
		}
		scanned = r->end - r->pos;
		if (scanned == sizeof r->buf)
			return READ_TOO_LONG;
		if (r->eof)
			return scanned == 0 ? READ_EOF : READ_INCOMPLETE;
		if (r->pos > 0) {
			memmove(r->buf, r->buf + r->pos, scanned);
			r->pos = 0;
			r->end = scanned;
		}
		n = read(r->fd, r->buf + r->end, sizeof r->buf - r->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return READ_ERROR;
		if (n == 0)
			r->eof = true;
		r->end += (size_t)n;
	}
}

/* ------------------------------------------------------------ one line */

/* A line taken apart; the pointers are into the line. */
struct audit_line {
	unsigned long long seq;
	const char *event, *fields, *prev, *mac;
	size_t event_len, fields_len; /* fields: the ,"key":"value" pairs */
	size_t content_len;           /* the bytes under the MAC */
};

/* A JSON string value as the audit module writes it, from just after its
 * opening quote: no raw control byte or DEL, only the escapes \" \\ \n \r
 * \t \uXXXX.  Returns the end (after the closing quote), or NULL. */
static const char *json_string_end(const char *p, const char *end)
{
	while (p < end) {
		unsigned char c = (unsigned char)*p;

		if (c == '"')
			return p + 1;
		if (c < 0x20 || c == 0x7f)
			return NULL;
		if (c != '\\') {
			p++;
			continue;
		}
		if (end - p >= 2 && strchr("\"\\nrt", p[1]) != NULL && p[1] != '\0')
			p += 2;
		else if (end - p >= 6 && p[1] == 'u' && is_hex(p + 2, 4, true))
			p += 6;
		else
			return NULL;
	}
	return NULL;
}

/* The ,"key":"value" pairs between the event and prev: keys [a-z0-9_]+. */
static bool fields_valid(const char *p, const char *end)
{
	while (p < end) {
		const char *key;

		if (end - p < 2 || p[0] != ',' || p[1] != '"')
			return false;
		key = p += 2;
		while (p < end &&
		       ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			p++;
		if (p == key || end - p < 3 || memcmp(p, "\":\"", 3) != 0)
			return false;
		p = json_string_end(p + 3, end);
		if (p == NULL)
			return false;
	}
	return true;
}

/* Take a line apart; NULL, or what is wrong with it. */
static const char *line_parse(const char *line, size_t len, struct audit_line *al)
{
	const char *p, *end, *digits;
	size_t i;

	if (len < LIT_LEN(SEQ_OPEN) || memcmp(line, SEQ_OPEN, LIT_LEN(SEQ_OPEN)) != 0)
		return "it does not start with {\"seq\":";
	if (len < LIT_LEN(SEQ_OPEN) + PREV_PART + MAC_PART ||
	    memcmp(line + len - MAC_PART, MAC_OPEN, LIT_LEN(MAC_OPEN)) != 0 ||
	    !is_hex(line + len - AUDIT_HEX_LEN - 2, AUDIT_HEX_LEN, false) ||
	    memcmp(line + len - 2, "\"}", 2) != 0)
		return "it does not end with ,\"mac\":\"<64 lowercase hex digits>\"}";
	al->mac = line + len - AUDIT_HEX_LEN - 2;
	al->content_len = len - MAC_PART;
	end = line + al->content_len - PREV_PART; /* where ,"prev":" starts */
	if (memcmp(end, PREV_OPEN, LIT_LEN(PREV_OPEN)) != 0 ||
	    !is_hex(end + LIT_LEN(PREV_OPEN), AUDIT_HEX_LEN, false) ||
	    line[al->content_len - 1] != '"')
		return "no ,\"prev\":\"<64 lowercase hex digits>\" before the mac";
	al->prev = end + LIT_LEN(PREV_OPEN);

	/* seq: a decimal number without leading zeros, below 10^19 */
	digits = p = line + LIT_LEN(SEQ_OPEN);
	al->seq = 0;
	while (p < end && *p >= '0' && *p <= '9' && p - digits < 19)
		al->seq = al->seq * 10 + (unsigned long long)(*p++ - '0');
	if (p == digits || (*digits == '0' && p - digits > 1) || p >= end || *p != ',')
		return "seq is not a decimal number (at most 19 digits)";

	if ((size_t)(end - p) < LIT_LEN(TS_OPEN) + LIT_LEN(TS_FORM) + LIT_LEN(EVENT_OPEN) ||
	    memcmp(p, TS_OPEN, LIT_LEN(TS_OPEN)) != 0)
		return "no \"ts\" after the seq";
	p += LIT_LEN(TS_OPEN);
	for (i = 0; i < LIT_LEN(TS_FORM); i++)
		if (TS_FORM[i] == '0' ? p[i] < '0' || p[i] > '9' : p[i] != TS_FORM[i])
			return "ts is not YYYY-MM-DDTHH:MM:SS.uuuuuuZ";
	p += LIT_LEN(TS_FORM);
	if (memcmp(p, EVENT_OPEN, LIT_LEN(EVENT_OPEN)) != 0)
		return "no \"event\" after the ts";
	al->event = p += LIT_LEN(EVENT_OPEN);
	while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
		p++;
	al->event_len = (size_t)(p - al->event);
	if (al->event_len == 0 || al->event_len > AUDIT_NAME_MAX || p >= end || *p != '"')
		return "the event is not a name of 1 to 64 characters [a-z0-9_]";
	al->fields = ++p;
	al->fields_len = (size_t)(end - p);
	if (!fields_valid(p, end))
		return "the fields are not ,\"key\":\"value\" pairs of JSON strings";
	return NULL;
}

static bool event_is(const struct audit_line *al, const char *name)
{
	return al->event_len == strlen(name) && memcmp(al->event, name, al->event_len) == 0;
}

/* The raw (still escaped) value of field key, or "(none)". */
static void field_value(const struct audit_line *al, const char *key, const char **v, int *n)
{
	const char *end = al->fields + al->fields_len, *p = al->fields, *close;
	size_t klen = strlen(key);

	*v = "(none)";
	*n = 6;
	/* Inside a value every '"' is escaped, so ,"key":" only matches a key. */
	while ((p = memmem(p, (size_t)(end - p), ",\"", 2)) != NULL) {
		p += 2;
		if ((size_t)(end - p) > klen + 3 && memcmp(p, key, klen) == 0 &&
		    memcmp(p + klen, "\":\"", 3) == 0) {
			p += klen + 3;
			close = json_string_end(p, end);
			if (close == NULL) /* not after fields_valid() */
				return;
			*v = p;
			*n = (int)(close - 1 - p);
			return;
		}
	}
}

/* ------------------------------------------------------------ one file */

/* What the lines so far were. */
struct chain {
	unsigned long long lines, first_seq, seq;
	char mac[AUDIT_HEX_LEN]; /* of the last line */
	bool starts;             /* the first line's prev is zeros */
};

/* Check the next line against the chain so far; prints the problem, or a
 * note for a chain_start or gap.  ADMIN_OK when it passes, else
 * AUDIT_EXIT_BROKEN (or AUDIT_EXIT_UNREADABLE: the library failed). */
static int line_check(const struct audit_mac *mac, const char *file, const char *line, size_t len,
                      struct chain *ch)
{
	unsigned long long lineno = ch->lines + 1;
	char want[AUDIT_HEX_LEN + 1];
	struct audit_line al;
	const char *why, *v1, *v2;
	bool chain_start, zero_prev;
	int n1, n2;

	why = line_parse(line, len, &al);
	if (why != NULL) {
		printf("%s: line %llu: not an audit line: %s\n", file, lineno, why);
		return AUDIT_EXIT_BROKEN;
	}
	if (audit_mac_hex(mac, line, al.content_len, want) < 0) {
		admin_msg("%s: line %llu: HMAC-SHA256 failed", file, lineno);
		return AUDIT_EXIT_UNREADABLE;
	}
	if (CRYPTO_memcmp(want, al.mac, AUDIT_HEX_LEN) != 0) {
		printf("%s: line %llu (seq %llu): MAC does not match: the line was modified (or "
		       "the wrong key)\n",
		       file, lineno, al.seq);
		return AUDIT_EXIT_BROKEN;
	}
	chain_start = event_is(&al, "chain_start");
	zero_prev = memcmp(al.prev, zero_mac, AUDIT_HEX_LEN) == 0;
	if (ch->lines == 0) {
		ch->starts = zero_prev;
		ch->first_seq = al.seq;
	} else {
		if (!(chain_start && zero_prev) &&
		    CRYPTO_memcmp(al.prev, ch->mac, AUDIT_HEX_LEN) != 0) {
			printf("%s: line %llu (seq %llu): chain broken: prev does not match the "
			       "MAC "
			       "of line %llu: a line was deleted, inserted or reordered\n",
			       file, lineno, al.seq, lineno - 1);
			return AUDIT_EXIT_BROKEN;
		}
		if (al.seq != ch->seq + 1 && !(chain_start && al.seq == 1)) {
			printf("%s: line %llu: seq %llu after %llu: the sequence numbers are not "
			       "consecutive\n",
			       file, lineno, al.seq, ch->seq);
			return AUDIT_EXIT_BROKEN;
		}
	}
	if (chain_start) {
		field_value(&al, "reason", &v1, &n1);
		printf("note: %s: line %llu (seq %llu): chain_start: %s (reason: %.*s)\n", file,
		       lineno, al.seq,
		       zero_prev ? "a new chain begins" : "linked to the line before", n1, v1);
	} else if (event_is(&al, "gap")) {
		field_value(&al, "dropped", &v1, &n1);
		field_value(&al, "reason", &v2, &n2);
		printf("note: %s: line %llu (seq %llu): gap: %.*s events were lost (reason: "
		       "%.*s)\n",
		       file, lineno, al.seq, n1, v1, n2, v2);
	}
	ch->lines = lineno;
	ch->seq = al.seq;
	memcpy(ch->mac, al.mac, AUDIT_HEX_LEN);
	return ADMIN_OK;
}

/* Verify one file: ADMIN_OK, AUDIT_EXIT_BROKEN or AUDIT_EXIT_UNREADABLE. */
static int verify_file(const struct audit_mac *mac, const char *file, struct line_reader *r)
{
	struct chain ch = {0};
	enum read_result res;
	const char *line;
	struct stat st;
	size_t len;
	int rc = ADMIN_OK;

	r->fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (r->fd < 0) {
		admin_msg("%s: %s", file, strerror(errno));
		return AUDIT_EXIT_UNREADABLE;
	}
	if (fstat(r->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		admin_msg("%s: is a directory", file);
		close(r->fd);
		return AUDIT_EXIT_UNREADABLE;
	}
	r->eof = false;
	r->pos = r->end = 0;
	while ((res = reader_next(r, &line, &len)) == READ_LINE &&
	       (rc = line_check(mac, file, line, len, &ch)) == ADMIN_OK)
		;
	switch (res) {
	case READ_LINE: /* line_check said why */
		break;
	case READ_EOF:
		if (ch.lines == 0) {
			printf("%s: the file is empty: there is nothing to verify\n", file);
			rc = AUDIT_EXIT_BROKEN;
			break;
		}
		printf("OK: %s: %llu line%s, seq %llu..%llu, %s\n", file, ch.lines,
		       ch.lines == 1 ? "" : "s", ch.first_seq, ch.seq,
		       ch.starts ? "starts a new chain" : "continues an earlier file");
		break;
	case READ_TOO_LONG:
		printf("%s: line %llu: longer than %u bytes\n", file, ch.lines + 1, AUDIT_LINE_MAX);
		rc = AUDIT_EXIT_BROKEN;
		break;
	case READ_INCOMPLETE:
		printf("%s: line %llu: incomplete last line\n", file, ch.lines + 1);
		rc = AUDIT_EXIT_BROKEN;
		break;
	case READ_ERROR:
		admin_msg("%s: line %llu: %s", file, ch.lines + 1, strerror(errno));
		rc = AUDIT_EXIT_UNREADABLE;
		break;
	}
	close(r->fd);
	return rc;
}

int admin_cmd_audit_verify(const struct admin_opts *o, int nfiles, char *const *files)
{
	uint8_t key[AUDIT_KEY_LEN];
	struct line_reader *r;
	struct audit_mac *mac = NULL;
	int rc;

	rc = o->master_key != NULL ? key_from_master(o, key) : key_load(o->key_file, key);
	if (rc != ADMIN_OK) {
		OPENSSL_cleanse(key, sizeof key);
		return rc;
	}
	rc = audit_mac_new(key, sizeof key, &mac);
	OPENSSL_cleanse(key, sizeof key);
	if (rc < 0) {
		admin_msg("HMAC-SHA256 is not available from the crypto library");
		return AUDIT_EXIT_UNREADABLE;
	}
	r = malloc(sizeof *r);
	if (r == NULL) {
		admin_msg("out of memory");
		audit_mac_free(mac);
		return AUDIT_EXIT_UNREADABLE;
	}
	rc = ADMIN_OK;
	for (int i = 0; i < nfiles && rc == ADMIN_OK; i++) {
		rc = verify_file(mac, files[i], r);
		/* the order of the lines on stdout and of the messages on stderr */
		fflush(stdout);
	}
	free(r);
	audit_mac_free(mac); /* wipes the key it holds */
	return rc;
}
