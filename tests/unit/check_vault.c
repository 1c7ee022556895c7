/*
 * check_vault.c — unit tests of the vault format library (libpgsvault):
 * PBKDF2 and whole-chain known answers computed with Python
 * (data/vault/mkkat.py), seal/open round trips, tampering with every bit
 * of an entry and every byte of its user name, refusals of broken files
 * with file:line, permissions, atomic writes, the passphrase sources
 * (a pseudo-terminal for the prompt), a 10,000-entry vault, and the keys
 * derived from the master key (HKDF known answers from Python's hmac and
 * `openssl kdf`, and the vault module's derive_key, dlopen'ed behind a
 * small fake host).
 */
#include "autoconf.h"

#include <check.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <pgsluice/module.h>

#include "scram_verifier.h"
#include "vault_crypto.h"
#include "vault_lib.h"

#define DATA      TEST_SRCDIR "/unit/data/vault"
#define KAT_PASS  "correct horse battery staple"
/* mkkat.py's master key: PBKDF2-HMAC-SHA256(KAT_PASS, 00..0f, 600000) */
#define KAT_MK    "ef177144eec9420cbc1093d2a8b344a92bc506d0d4ec9c028dd19f8324d8c1e6"
#define KAT_ALICE "oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u8ZPo6BuUXB2O77xk3+Mtx5tPKsVmOPO1TPQO0JN6icC"
/* HKDF-SHA256(KAT_MK, salt "pgsluice-derive-v1", info "pgsluice audit-hmac"), 64 bytes:
 * Python's hmac and `openssl kdf ... HKDF` agree */
#define KAT_AUDIT                                                          \
	"4e4cea88aa6f5c5a76762ba85d16dfb7fc666860c9b3994857f201be5ce1318a" \
	"b639e6567a4e3ca3d23844da20793f7e6c73a071933746c849c80139ec00a2e8"
/* the same with info "pgsluice other", 32 bytes */
#define KAT_OTHER "3f5686de81742fd7cc5f64a5c5e485d23fd03b387842e69b7be9854c8237682e"

static char tmpdir[PATH_MAX], err[1024];

static void tmp_setup(void)
{
	const char *t = getenv("TMPDIR");

	snprintf(tmpdir, sizeof tmpdir, "%s/pgs-check-vault-XXXXXX", t && *t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	err[0] = '\0';
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static void tmp_teardown(void)
{
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write tmpdir/name with mode; returns its path (static buffer). */
static const char *write_file(const char *name, const void *text, size_t len, mode_t mode)
{
	static char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
	return path;
}

/* data/vault/name copied into tmpdir with mode 0600 (git keeps 0644). */
static const char *data_copy(const char *name)
{
	static char text[8192];
	char src[PATH_MAX];
	size_t n;
	FILE *f;

	snprintf(src, sizeof src, "%s/%s", DATA, name);
	f = fopen(src, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(text, 1, sizeof text, f);
	fclose(f);
	return write_file(name, text, n, 0600);
}

static void unhex(const char *hex, uint8_t *out, size_t len)
{
	ck_assert_uint_eq(strlen(hex), 2 * len);
	for (size_t i = 0; i < len; i++)
		ck_assert_int_eq(sscanf(hex + 2 * i, "%2hhx", &out[i]), 1);
}

static void test_key(uint8_t mk[VAULT_KEY_LEN])
{
	for (int i = 0; i < VAULT_KEY_LEN; i++)
		mk[i] = (uint8_t)(i * 7 + 1);
}

static void assert_prefix(const char *got, const char *want)
{
	ck_assert_msg(strncmp(got, want, strlen(want)) == 0, "got \"%s\", want \"%s...\"", got,
	              want);
}

/* Shorthands over the locals out, len, buf and err of the tests. */
#define OPEN(k, u, t)       vault_entry_open(k, u, t, strlen(t), out, sizeof out, &len)
#define SEAL(k, u, s, n, t) vault_entry_seal(k, u, s, n, t, sizeof t)
#define READ(f, max)        vault_read_private(f, max, &buf, &len, err, sizeof err)
#define PASS(f)             vault_passphrase(f, NULL, buf, sizeof buf, &len, err, sizeof err)

/* ------------------------------------------------------------ known answers */

START_TEST(test_kdf_kat)
{
	uint8_t key[VAULT_KEY_LEN], want[VAULT_KEY_LEN], salt[VAULT_SALT_LEN], mk[VAULT_KEY_LEN];

	/* python3 hashlib.pbkdf2_hmac('sha256', KAT_PASS, 00..0f, 600000) */
	for (int i = 0; i < VAULT_SALT_LEN; i++)
		salt[i] = (uint8_t)i;
	ck_assert_int_eq(vault_kdf(KAT_PASS, strlen(KAT_PASS), salt, sizeof salt,
	                           VAULT_MASTER_ITERATIONS, key),
	                 0);
	unhex(KAT_MK, want, sizeof want);
	ck_assert_mem_eq(key, want, sizeof key);

	/* the entry key: one round over the master key 00..1f, salt f0..ff */
	for (int i = 0; i < VAULT_KEY_LEN; i++)
		mk[i] = (uint8_t)i;
	for (int i = 0; i < VAULT_SALT_LEN; i++)
		salt[i] = (uint8_t)(0xf0 + i);
	ck_assert_int_eq(vault_kdf(mk, sizeof mk, salt, sizeof salt, 1, key), 0);
	unhex("8c128e1b06116c965563a109d6688ff52edc4dbefd18fcefdf257fa135b013c2", want,
	      sizeof want);
	ck_assert_mem_eq(key, want, sizeof key);

	/* RFC 7914 section 11 ("pass\0word", "sa\0lt", 4096), extended to 32 bytes */
	ck_assert_int_eq(vault_kdf("pass\0word", 9, (const uint8_t *)"sa\0lt", 5, 4096, key), 0);
	unhex("89b69d0516f829893c696226650a86878c029ac13ee276509d5ae58b6466a724", want,
	      sizeof want);
	ck_assert_mem_eq(key, want, sizeof key);

	ck_assert_int_eq(vault_kdf("x", 1, salt, sizeof salt, 0, key), -EINVAL);
	ck_assert_int_eq(vault_kdf("x", 1, salt, 0, 1, key), -EINVAL);
}
END_TEST

/* master.key and kat.vault written by Python: load, unlock, decrypt. */
START_TEST(test_chain_kat)
{
	uint8_t key[VAULT_KEY_LEN], want[VAULT_KEY_LEN], out[VAULT_MAX_SECRET + 1];
	struct vault_master m;
	struct vault_table *t = NULL;
	const struct vault_secret *s;
	const char *path;
	size_t len;

	tmp_setup();
	path = data_copy("master.key");
	ck_assert_msg(vault_master_load(path, &m, err, sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(m.iterations, VAULT_MASTER_ITERATIONS);
	ck_assert_int_eq(vault_master_unlock(&m, KAT_PASS, strlen(KAT_PASS), key), 0);
	unhex(KAT_MK, want, sizeof want);
	ck_assert_mem_eq(key, want, sizeof key);

	ck_assert_int_eq(OPEN(key, "alice", KAT_ALICE), 0);
	ck_assert_str_eq((char *)out, "s3cret p\xc3\xa4ssword");
	ck_assert_int_eq(OPEN(key, "bob", KAT_ALICE), -EBADMSG);

	path = data_copy("kat.vault");
	ck_assert_msg(vault_table_load(path, key, &t, err, sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(t->n, 3);
	s = vault_table_find(t, "alice");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->kind, "plain");
	ck_assert_uint_eq(s->len, strlen("s3cret p\xc3\xa4ssword"));
	s = vault_table_find(t, "bob");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->kind, "md5");
	s = vault_table_find(t, "carol:ops"); /* split at the last ':' */
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->kind, "scram-sha-256");
	ck_assert_ptr_null(vault_table_find(t, "carol"));
	ck_assert_ptr_null(vault_table_find(t, "dave"));
	vault_table_free(t);
	tmp_teardown();
}
END_TEST

/* ------------------------------------------------------------ entries */

START_TEST(test_entry_roundtrip)
{
	static const size_t lens[] = {0, 1, 2, 3, 15, 16, 17, 100, 1023, VAULT_MAX_SECRET};
	char text[2048], text2[2048], secret[VAULT_MAX_SECRET + 2];
	uint8_t mk[VAULT_KEY_LEN], out[VAULT_MAX_SECRET + 1];
	size_t len;

	test_key(mk);
	for (size_t i = 0; i < sizeof secret; i++)
		secret[i] = (char)('!' + i % 90);
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		ck_assert_int_eq(SEAL(mk, "alice", secret, lens[i], text), 0);
		ck_assert_uint_eq(strlen(text), vault_entry_text_len(lens[i]));
		ck_assert_int_eq(OPEN(mk, "alice", text), 0);
		ck_assert_uint_eq(len, lens[i]);
		ck_assert_mem_eq(out, secret, len);
		/* fresh salt and nonce each time */
		ck_assert_int_eq(SEAL(mk, "alice", secret, lens[i], text2), 0);
		ck_assert_str_ne(text, text2);
	}
	ck_assert_int_eq(SEAL(mk, "alice", secret, VAULT_MAX_SECRET + 1, text), -E2BIG);
	ck_assert_int_eq(vault_entry_seal(mk, "alice", "pw", 2, text, vault_entry_text_len(2)),
	                 -ENOSPC);
	ck_assert_int_eq(SEAL(mk, "alice", "p\0w", 3, text), -EINVAL);
	ck_assert_int_eq(SEAL(mk, "", "pw", 2, text), -EINVAL);
	ck_assert_int_eq(SEAL(mk, "#x", "pw", 2, text), -EINVAL);
	ck_assert_int_eq(SEAL(mk, "a\nb", "pw", 2, text), -EINVAL);

	ck_assert_int_eq(SEAL(mk, "alice", "password", 8, text), 0);
	ck_assert_int_eq(vault_entry_open(mk, "alice", text, strlen(text), out, 7, &len), -ENOSPC);
	mk[31] ^= 1;
	ck_assert_int_eq(OPEN(mk, "alice", text), -EBADMSG);
	ck_assert_uint_eq(len, 0);

	ck_assert_int_eq(vault_user_check("x", err, sizeof err), 0);
	ck_assert_int_eq(vault_user_check("with space:and colon \xc3\xa9", err, sizeof err), 0);
	ck_assert_int_eq(vault_user_check("a\x7f", err, sizeof err), -EINVAL);
	ck_assert_str_eq(err, "user name contains a control character");
}
END_TEST

/* Flip every bit of the decoded entry and change every byte of the user
 * name: each must be refused as not authentic. */
START_TEST(test_tamper)
{
	uint8_t mk[VAULT_KEY_LEN], raw[128], bad[128], out[64];
	char text[256], vault[512], user[8] = "alice";
	struct vault_table *t = (struct vault_table *)1;
	size_t len;
	int n;

	test_key(mk);
	ck_assert_int_eq(SEAL(mk, user, "pw", 2, text), 0);
	n = scram_verifier_b64_decode(text, strlen(text), raw, sizeof raw);
	ck_assert_int_eq(n, VAULT_HDR_LEN + 2 + VAULT_TAG_LEN);
	for (int bit = 0; bit < n * 8; bit++) {
		memcpy(bad, raw, (size_t)n);
		bad[bit / 8] ^= (uint8_t)(1u << bit % 8);
		ck_assert_int_gt(scram_verifier_b64_encode(bad, (size_t)n, text, sizeof text), 0);
		ck_assert_msg(OPEN(mk, user, text) == -EBADMSG, "bit %d", bit);
		if (bit % 8 != 0)
			continue;
		/* once per byte through the file loader: it names file, line, user */
		snprintf(vault, sizeof vault, "# x\npgsluice-vault 1\nalice:%s\n", text);
		ck_assert_int_eq(vault_table_from_text(vault, strlen(vault), "t.vault", mk, &t, err,
		                                       sizeof err),
		                 -EBADMSG);
		ck_assert_ptr_null(t);
		assert_prefix(err, "t.vault:3: user \"alice\": entry does not decrypt");
	}
	ck_assert_int_gt(scram_verifier_b64_encode(raw, (size_t)n, text, sizeof text), 0);
	ck_assert_int_eq(OPEN(mk, user, text), 0);
	for (size_t i = 0; i < strlen(user); i++) {
		user[i] ^= 1;
		ck_assert_int_eq(OPEN(mk, user, text), -EBADMSG);
		user[i] ^= 1;
	}
	ck_assert_int_eq(OPEN(mk, "alic", text), -EBADMSG);
	ck_assert_int_eq(OPEN(mk, "alicex", text), -EBADMSG);
}
END_TEST

/* A secret that starts like a SCRAM verifier but does not parse is an
 * error naming file:line:user, never a password. */
START_TEST(test_broken_scram)
{
	static const char *const broken[] = {"SCRAM-SHA-256$4096:bad", "SCRAM-SHA-256$"};
	struct vault_table *t = (struct vault_table *)1;
	char entry[256], text[512];
	uint8_t mk[VAULT_KEY_LEN];

	test_key(mk);
	for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
		ck_assert_int_eq(SEAL(mk, "bob", broken[i], strlen(broken[i]), entry), 0);
		snprintf(text, sizeof text, "pgsluice-vault 1\n\nbob:%s\n", entry);
		ck_assert_int_eq(vault_table_from_text(text, strlen(text), "t.vault", mk, &t, err,
		                                       sizeof err),
		                 -EINVAL);
		ck_assert_ptr_null(t);
		assert_prefix(err, "t.vault:3: user \"bob\": broken secret: ");
	}
}
END_TEST

/* ------------------------------------------------------------ broken files */

static const struct bad_vault {
	const char *text; /* @A: a valid entry of alice; @T, @S, @1, @*, @=, @B: broken ones */
	int rc;
	const char *error;
} bad_vaults[] = {
        {"pgsluice-vault 1\nalice:@T\n", -EBADMSG,
         "t.vault:2: user \"alice\": entry does not decrypt"},
        {"pgsluice-vault 1\nalice:@S\n", -EINVAL, "t.vault:2: user \"alice\": entry too short"},
        {"pgsluice-vault 1\nalice:@1\n", -EINVAL, "t.vault:2: user \"alice\": entry is not base64"},
        {"pgsluice-vault 1\nalice:@*\n", -EINVAL, "t.vault:2: user \"alice\": entry is not base64"},
        {"pgsluice-vault 1\nalice:@=\n", -EINVAL, "t.vault:2: user \"alice\": entry is not base64"},
        {"pgsluice-vault 1\nalice:@B\n", -EINVAL, "t.vault:2: user \"alice\": entry is not base64"},
        {"pgsluice-vault 1\nalice:@A \n", -EINVAL,
         "t.vault:2: user \"alice\": entry is not base64"},
        {"# c\n\npgsluice-vaul 1\n", -EINVAL, "t.vault:3: expected \"pgsluice-vault 1\""},
        {"pgsluice-vault\n", -EINVAL, "t.vault:1: expected \"pgsluice-vault 1\""},
        {"pgsluice-vault one\n", -EINVAL, "t.vault:1: expected \"pgsluice-vault 1\""},
        {"alice:@A\n", -EINVAL, "t.vault:1: expected \"pgsluice-vault 1\""},
        {"pgsluice-vault 2\nalice:@A\n", -EINVAL,
         "t.vault:1: vault format version 2 is newer than this build reads (1)"},
        {"pgsluice-vault 0\n", -EINVAL,
         "t.vault:1: vault format version 0 is not supported (this build reads 1)"},
        {"", -EINVAL, "t.vault: no \"pgsluice-vault 1\" line"},
        {"# only a comment\n", -EINVAL, "t.vault: no \"pgsluice-vault 1\" line"},
        {"pgsluice-vault 1\nalice:@A\n# x\nalice:@A\n", -EINVAL,
         "t.vault:4: user \"alice\" is already defined at line 2"},
        {"pgsluice-vault 1\nalice:@A\nbob:@A\n", -EBADMSG,
         "t.vault:3: user \"bob\": entry does not decrypt"},
        {"pgsluice-vault 1\nalice\n", -EINVAL, "t.vault:2: expected \"user:entry\""},
        {"pgsluice-vault 1\nal\tice:@A\n", -EINVAL,
         "t.vault:2: user name contains a control character"},
        {"pgsluice-vault 1\n:@A\n", -EINVAL, "t.vault:2: empty user name"},
        {"pgsluice-vault 1\n uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu:@A\n",
         -E2BIG, "t.vault:2: user name longer than 63 bytes"},
        {"pgsluice-vault 1\r\n\r\nalice:@A\r\n", 0, ""},
        {"  pgsluice-vault\t1 \n# c\n\n  \nalice:@A", 0, ""},
};

/* Expand the @-tokens of a bad_vault text; entries are sealed under mk. */
static char *expand(const char *tmpl, const uint8_t mk[VAULT_KEY_LEN])
{
	static const struct {
		char token;
		size_t keep, at; /* characters of the entry kept; where put goes (0: nowhere) */
		char put;
	} edits[] = {
	        {'A', 64, 0, 0},    {'T', 60, 0, 0}, /* base64, a group short: the tag is wrong */
	        {'S', 56, 0, 0},                     /* too short for salt, nonce and tag */
	        {'1', 63, 0, 0},    {'*', 64, 10, '*'}, {'=', 64, 8, '='},
	        {'B', 64, 61, 'B'}, /* non-zero bits after the last byte: not canonical */
	};
	char entry[256], *out = malloc(8192), *o = out;

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(SEAL(mk, "alice", "pw", 2, entry), 0);
	ck_assert_uint_eq(strlen(entry), 64); /* 46 bytes: ends in "X==" */
	for (const char *p = tmpl; *p != '\0'; p++) {
		size_t k = 0;

		if (*p != '@') {
			*o++ = *p;
			continue;
		}
		for (p++; edits[k].token != *p; k++)
			ck_assert_uint_lt(k + 1, sizeof edits / sizeof edits[0]);
		memcpy(o, entry, edits[k].keep);
		if (edits[k].at != 0)
			o[edits[k].at] = edits[k].put;
		o += edits[k].keep;
	}
	*o = '\0';
	return out;
}

START_TEST(test_bad_vault)
{
	const struct bad_vault *c = &bad_vaults[_i];
	struct vault_table *t = (struct vault_table *)1;
	uint8_t mk[VAULT_KEY_LEN];
	char *text;
	int rc;

	test_key(mk);
	text = expand(c->text, mk);
	rc = vault_table_from_text(text, strlen(text), "t.vault", mk, &t, err, sizeof err);
	ck_assert_msg(rc == c->rc, "case %d: rc %d, want %d (%s)", _i, rc, c->rc, err);
	if (rc == 0) {
		ck_assert_uint_eq(t->n, 1);
		ck_assert_str_eq((char *)vault_table_find(t, "alice")->secret, "pw");
		vault_table_free(t);
	} else {
		ck_assert_ptr_null(t);
		assert_prefix(err, c->error);
	}
	free(text);
}
END_TEST

START_TEST(test_limits)
{
	size_t cap = (size_t)(VAULT_MAX_ENTRIES + 1) * 96 + 64, len = 0;
	char *text = malloc(cap), entry[256], user[VAULT_MAX_USER + 2];
	struct vault_file *vf = NULL;
	uint8_t mk[VAULT_KEY_LEN];

	ck_assert_ptr_nonnull(text);
	test_key(mk);
	ck_assert_int_eq(SEAL(mk, "x", "pw", 2, entry), 0);
#define PARSE(s, n) vault_file_parse(s, n, "t.vault", &vf, err, sizeof err)
	/* a line of VAULT_MAX_LINE bytes passes, one more does not */
	len = (size_t)snprintf(text, cap, "pgsluice-vault 1\n#");
	memset(text + len, 'c', VAULT_MAX_LINE - 1);
	len += VAULT_MAX_LINE - 1;
	ck_assert_int_eq(PARSE(text, len), 0);
	vault_file_free(vf);
	text[len++] = 'c';
	ck_assert_int_eq(PARSE(text, len), -E2BIG);
	ck_assert_ptr_null(vf);
	ck_assert_str_eq(err, "t.vault:2: line longer than 4096 bytes");
	/* user names of 63 bytes pass */
	memset(user, 'u', VAULT_MAX_USER);
	user[VAULT_MAX_USER] = '\0';
	len = (size_t)snprintf(text, cap, "pgsluice-vault 1\n%s:%s\n", user, entry);
	ck_assert_int_eq(PARSE(text, len), 0);
	ck_assert_ptr_nonnull(vault_file_find(vf, user));
	vault_file_free(vf);
	ck_assert_int_eq(vault_user_check(user, err, sizeof err), 0);
	strcat(user, "u");
	ck_assert_int_eq(vault_user_check(user, err, sizeof err), -E2BIG);
	/* NUL bytes */
	len = (size_t)snprintf(text, cap, "pgsluice-vault 1\nx:%s\n", entry);
	text[18] = '\0';
	ck_assert_int_eq(PARSE(text, len), -EINVAL);
	ck_assert_str_eq(err, "t.vault:2: NUL byte in the line");
	/* VAULT_MAX_ENTRIES entries pass, one more does not */
	len = (size_t)snprintf(text, cap, "pgsluice-vault 1\n");
	for (int i = 0; i < VAULT_MAX_ENTRIES; i++)
		len += (size_t)snprintf(text + len, cap - len, "u%d:%s\n", i, entry);
	ck_assert_msg(PARSE(text, len) == 0, "%s", err);
	ck_assert_uint_eq(vf->nentries, VAULT_MAX_ENTRIES);
	vault_file_free(vf);
	len += (size_t)snprintf(text + len, cap - len, "one-more:%s\n", entry);
	ck_assert_int_eq(PARSE(text, len), -E2BIG);
	ck_assert_str_eq(err, "t.vault:100002: more than 100000 entries");
	free(text);
	/* the file size */
	text = malloc(VAULT_MAX_FILE + 1);
	ck_assert_ptr_nonnull(text);
	memset(text, '\n', VAULT_MAX_FILE + 1);
	ck_assert_int_eq(PARSE(text, VAULT_MAX_FILE + 1), -EFBIG);
	ck_assert_str_eq(err, "t.vault: larger than 33554432 bytes");
#undef PARSE
	free(text);
}
END_TEST

/* ------------------------------------------------------------ master key */

START_TEST(test_master)
{
	uint8_t key[VAULT_KEY_LEN], key2[VAULT_KEY_LEN], zero[VAULT_KEY_LEN] = {0};
	struct vault_master m, m2;
	char text[512];

	ck_assert_int_eq(vault_master_new("open sesame", 11, &m, key), 0);
	ck_assert_uint_eq(m.iterations, VAULT_MASTER_ITERATIONS);
	ck_assert_int_eq(vault_master_format(&m, text, sizeof text), 0);
	ck_assert_ptr_nonnull(
	        strstr(text, "\npgsluice-master-key 1\nkdf pbkdf2-hmac-sha256 600000\n"));
	ck_assert_int_eq(vault_master_format(&m, text, 100), -ENOSPC);
	ck_assert_int_eq(vault_master_format(&m, text, sizeof text), 0);
	ck_assert_msg(vault_master_parse(text, strlen(text), "m.key", &m2, err, sizeof err) == 0,
	              "%s", err);
	ck_assert_mem_eq(&m, &m2, sizeof m);
	ck_assert_int_eq(vault_master_unlock(&m2, "open sesame", 11, key2), 0);
	ck_assert_mem_eq(key, key2, sizeof key);
	ck_assert(vault_master_matches(&m2, key));
	ck_assert_int_eq(vault_master_unlock(&m2, "open sesamE", 11, key2), -EACCES);
	ck_assert_mem_eq(key2, zero, sizeof key2); /* wiped */
	key[0] ^= 0x80;
	ck_assert(!vault_master_matches(&m2, key));
	ck_assert_int_eq(vault_master_new("", 0, &m, key), -EINVAL);
}
END_TEST

static const struct bad_master {
	const char *text;
	const char *error;
} bad_masters[] = {
#define SALT  "salt AAECAwQFBgcICQoLDA0ODw==\n"
#define CHECK "check rEsIBBdItcu/wxEe87ZBT1Malw07frd2f6oJZMrQWgk=\n"
#define KDF   "kdf pbkdf2-hmac-sha256 600000\n"
        {"pgsluice-master-key 1\nkdf pbkdf2-hmac-sha256 599999\n" SALT CHECK,
         "m.key:2: 599999 iterations are fewer than the 600000 required"},
        {"pgsluice-master-key 2\n" KDF SALT CHECK,
         "m.key:1: master key format version 2 is not supported (this build reads 1)"},
        {"# x\n" KDF SALT CHECK, "m.key:2: expected \"pgsluice-master-key 1\""},
        {"", "m.key: no \"pgsluice-master-key 1\" line"},
        {"pgsluice-master-key 1\n" KDF "salt AAECAwQFBgcICQoLDA0O\n" CHECK,
         "m.key:3: salt is not base64 of 16 bytes"},
        {"pgsluice-master-key 1\n" KDF "salt AAECAwQFBgcICQoLDA0ODx==\n" CHECK,
         "m.key:3: salt is not base64 of 16 bytes"},
        {"pgsluice-master-key 1\n" KDF SALT "check rEsIBBdItcu/wxEe87ZBT1Malw07frd2f6oJZMrQWgk\n",
         "m.key:4: check is not base64 of 32 bytes"},
        {"pgsluice-master-key 1\n" KDF SALT, "m.key: no check line"},
        {"pgsluice-master-key 1\n" SALT CHECK, "m.key: no kdf line"},
        {"pgsluice-master-key 1\n" KDF KDF SALT CHECK, "m.key:3: second kdf line"},
        {"pgsluice-master-key 1\n" KDF SALT CHECK "mode fast\n",
         "m.key:5: unknown line (expected kdf, salt or check)"},
        {"pgsluice-master-key 1\nkdf scrypt 600000\n" SALT CHECK,
         "m.key:2: expected \"kdf pbkdf2-hmac-sha256 <iterations>\""},
        {"pgsluice-master-key 1\nkdf pbkdf2-hmac-sha256 4294967296\n" SALT CHECK,
         "m.key:2: iteration count is not a number"},
        {"pgsluice-master-key 1\n" KDF SALT CHECK "a b c d\n", "m.key:5: too many words"},
#undef SALT
#undef CHECK
#undef KDF
};

START_TEST(test_bad_master)
{
	struct vault_master m;
	const char *text = bad_masters[_i].text;

	memset(&m, 0xaa, sizeof m);
	ck_assert_int_eq(vault_master_parse(text, strlen(text), "m.key", &m, err, sizeof err),
	                 -EINVAL);
	assert_prefix(err, bad_masters[_i].error);
	ck_assert_uint_eq(m.iterations, 0);
}
END_TEST

/* ------------------------------------------------------------ derived keys */

START_TEST(test_derive_kat)
{
	uint8_t mk[VAULT_KEY_LEN], want[64], out[VAULT_DERIVE_MAX + 1], zero[sizeof out] = {0};
	char label[VAULT_DERIVE_LABEL_MAX + 2];

	unhex(KAT_MK, mk, sizeof mk);
	unhex(KAT_AUDIT, want, 64);
	ck_assert_int_eq(vault_derive(mk, "audit-hmac", out, 32), 0);
	ck_assert_mem_eq(out, want, 32);
	ck_assert_int_eq(vault_derive(mk, "audit-hmac", out, VAULT_DERIVE_MAX), 0);
	ck_assert_mem_eq(out, want, 64); /* HKDF: the 32 bytes are a prefix */
	ck_assert_int_eq(vault_derive(mk, "audit-hmac", out, 1), 0);
	ck_assert_uint_eq(out[0], want[0]);
	unhex(KAT_OTHER, want, 32);
	ck_assert_int_eq(vault_derive(mk, "other", out, 32), 0);
	ck_assert_mem_eq(out, want, 32);
	/* another master key, other bytes */
	mk[31] ^= 1;
	ck_assert_int_eq(vault_derive(mk, "other", out, 32), 0);
	ck_assert_mem_ne(out, want, 32);

	/* bounds; out is wiped whenever len is usable */
	ck_assert_int_eq(vault_derive(mk, "x", out, 0), -EINVAL);
	ck_assert_int_eq(vault_derive(mk, "x", out, VAULT_DERIVE_MAX + 1), -EINVAL);
	ck_assert_int_eq(vault_derive(mk, "x", NULL, 32), -EINVAL);
	memset(label, 'a', sizeof label);
	label[VAULT_DERIVE_LABEL_MAX] = '\0';
	ck_assert_int_eq(vault_derive(mk, label, out, 32), 0);
	label[VAULT_DERIVE_LABEL_MAX] = 'a';
	label[VAULT_DERIVE_LABEL_MAX + 1] = '\0';
	memset(out, 0xaa, sizeof out);
	ck_assert_int_eq(vault_derive(mk, label, out, 32), -EINVAL);
	ck_assert_mem_eq(out, zero, 32);
	ck_assert_int_eq(vault_derive(mk, "", out, 32), -EINVAL);
	ck_assert_int_eq(vault_derive(mk, "audit hmac", out, 32), -EINVAL);
	ck_assert_int_eq(vault_derive(mk, "audit\nhmac", out, 32), -EINVAL);
	ck_assert_int_eq(vault_derive(mk, "audit-h\xc3\xa4", out, 32), -EINVAL);
	ck_assert_int_eq(vault_derive(mk, NULL, out, 32), -EINVAL);
	ck_assert_int_eq(vault_derive(NULL, "x", out, 32), -EINVAL);
}
END_TEST

/* The vault module behind a fake host whose config is a key/value list. */
struct pgs_cfg {
	const char *kv[8];
};

static void fake_log(enum pgs_log level, const pgs_conn *conn, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void fake_log(enum pgs_log level, const pgs_conn *conn, const char *fmt, ...)
{
	va_list ap;

	(void)level, (void)conn;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void *fake_alloc(size_t len)
{
	return calloc(1, len);
}

static const char *fake_cfg_where(const pgs_cfg *cfg, const char *key)
{
	(void)cfg, (void)key;
	return "vault.conf:3";
}

static int fake_cfg_path(const pgs_cfg *cfg, const char *key, char *out, size_t size)
{
	for (const char *const *kv = cfg->kv; *kv != NULL; kv += 2)
		if (strcmp(kv[0], key) == 0)
			return snprintf(out, size, "%s", kv[1]) < (int)size ? 0 : -ENAMETOOLONG;
	return -ENOENT;
}

static const pgs_host fake_host = {
        .size = sizeof(pgs_host),
        .abi_major = PGS_ABI_MAJOR,
        .abi_minor = PGS_ABI_MINOR,
        .host_version = "check_vault",
        .log = fake_log,
        .alloc = fake_alloc,
        .free = free,
        .cfg_where = fake_cfg_where,
        .cfg_path = fake_cfg_path,
};

START_TEST(test_derive_module)
{
	uint8_t want[64], a[VAULT_DERIVE_MAX + 1], b[32];
	const pgs_module *(*entry)(void);
	const pgs_module *desc;
	char master[PATH_MAX + 64], users[PATH_MAX + 64];
	pgs_cfg cfg = {{NULL}};
	void *dl, *one = NULL, *two = NULL;

	tmp_setup();
	snprintf(master, sizeof master, "%s", data_copy("master.key"));
	snprintf(users, sizeof users, "%s", data_copy("kat.vault"));
	cfg = (pgs_cfg){{"master_key", master, "users", users, "master_key_passphrase_file",
	                 write_file("pass", KAT_PASS "\n", strlen(KAT_PASS) + 1, 0600), NULL}};
	dl = dlopen(BUILD_MODULEDIR "/vault.so", RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(dl != NULL, "%s", dlerror());
	*(void **)&entry = dlsym(dl, PGS_ENTRY_SYMBOL);
	ck_assert_ptr_nonnull(entry);
	desc = entry();
	ck_assert_ptr_nonnull(desc->cred);
	ck_assert(PGS_HAS_FIELD(desc->cred, pgs_cred_ops, derive_key));
	ck_assert_ptr_nonnull(desc->cred->derive_key);

	/* two instances on the same files (the second finds the key cached) */
	ck_assert_int_eq(desc->init(&fake_host, &cfg, &one), 0);
	ck_assert_int_eq(desc->init(&fake_host, &cfg, &two), 0);
	ck_assert_int_eq(desc->cred->derive_key(one, "audit-hmac", a, 32), 0);
	ck_assert_int_eq(desc->cred->derive_key(two, "audit-hmac", b, 32), 0);
	ck_assert_mem_eq(a, b, 32);
	unhex(KAT_AUDIT, want, sizeof want);
	ck_assert_mem_eq(a, want, 32);
	ck_assert_int_eq(desc->cred->derive_key(two, "other", b, 32), 0);
	ck_assert_mem_ne(a, b, 32);
	ck_assert_int_eq(desc->cred->derive_key(one, "audit-hmac", a, VAULT_DERIVE_MAX), 0);
	ck_assert_mem_eq(a, want, 64);
	ck_assert_int_eq(desc->cred->derive_key(one, "audit-hmac", a, VAULT_DERIVE_MAX + 1),
	                 -EINVAL);
	ck_assert_int_eq(desc->cred->derive_key(one, "audit-hmac", a, 0), -EINVAL);
	ck_assert_int_eq(desc->cred->derive_key(one, "bad label", a, 32), -EINVAL);
	desc->fini(one);
	/* the key outlives the first instance */
	ck_assert_int_eq(desc->cred->derive_key(two, "audit-hmac", b, 32), 0);
	ck_assert_mem_eq(b, want, 32);
	desc->fini(two);
	dlclose(dl);
	tmp_teardown();
}
END_TEST

/* ------------------------------------------------------------ files */

START_TEST(test_permissions)
{
	static const mode_t bad[] = {0640, 0604, 0620, 0644, 0660, 0602, 0610, 0601, 0700 | 0040};
	static const mode_t good[] = {0600, 0400, 0200 | 0400};
	char want[PATH_MAX + 128], *buf;
	struct vault_master m;
	struct vault_file *vf;
	const char *path;
	size_t len;

	tmp_setup();
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		path = write_file("f", "x\n", 2, bad[i]);
		ck_assert_int_eq(READ(path, 100), -EPERM);
		ck_assert_ptr_null(buf);
		snprintf(want, sizeof want,
		         "%s: permissions %04o allow group or other access (chmod 600 it)", path,
		         (unsigned)bad[i]);
		ck_assert_str_eq(err, want);
	}
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		path = write_file("f", "x\n", 2, good[i]);
		ck_assert_msg(READ(path, 100) == 0, "%s", err);
		ck_assert_uint_eq(len, 2);
		ck_assert_str_eq(buf, "x\n");
		vault_buf_free(buf, len);
	}
	ck_assert_int_eq(READ(path, 1), -EFBIG);
	ck_assert_int_eq(READ(tmpdir, 100), -EPERM);
	snprintf(want, sizeof want, "%s: not a regular file", tmpdir);
	ck_assert_str_eq(err, want);
	snprintf(want, sizeof want, "%s/none", tmpdir);
	ck_assert_int_eq(READ(want, 100), -ENOENT);
	ck_assert_int_eq(vault_file_load(want, &vf, err, sizeof err), -ENOENT);
	/* the loaders check too */
	path = data_copy("master.key");
	ck_assert_int_eq(chmod(path, 0640), 0);
	ck_assert_int_eq(vault_master_load(path, &m, err, sizeof err), -EPERM);
	path = data_copy("kat.vault");
	ck_assert_int_eq(chmod(path, 0604), 0);
	ck_assert_int_eq(vault_file_load(path, &vf, err, sizeof err), -EPERM);
	if (geteuid() == 0) { /* a file of another user, when we can make one */
		ck_assert_int_eq(chmod(path, 0600), 0);
		ck_assert_int_eq(chown(path, 12345, 12345), 0);
		ck_assert_int_eq(vault_file_load(path, &vf, err, sizeof err), -EPERM);
		ck_assert_ptr_nonnull(strstr(err, ": owned by uid 12345"));
	}
	tmp_teardown();
}
END_TEST

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
	closedir(d);
	return n;
}

START_TEST(test_write_private)
{
	char path[PATH_MAX + 16], *buf;
	struct vault_file *vf, *vf2;
	uint8_t mk[VAULT_KEY_LEN];
	char entry[256], *text;
	struct stat st;
	size_t len;

	tmp_setup();
	umask(022);
	snprintf(path, sizeof path, "%s/master.key", tmpdir);
	ck_assert_msg(vault_write_private(path, "one\n", 4, true, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(vault_write_private(path, "two\n", 4, true, err, sizeof err), -EEXIST);
	ck_assert_ptr_nonnull(strstr(err, "already exists"));
	ck_assert_int_eq(READ(path, 100), 0);
	ck_assert_str_eq(buf, "one\n");
	vault_buf_free(buf, len);
	ck_assert_int_eq(vault_write_private(path, "three\n", 6, false, err, sizeof err), 0);
	ck_assert_int_eq(READ(path, 100), 0);
	ck_assert_str_eq(buf, "three\n");
	vault_buf_free(buf, len);
	ck_assert_int_eq(count_files(tmpdir), 1); /* no temporary file left */
	if (geteuid() == 0) {
		/* run as root, a rewrite keeps the replaced file's owner */
		ck_assert_int_eq(chown(path, 12345, 12346), 0);
		ck_assert_int_eq(vault_write_private(path, "four\n", 5, false, err, sizeof err), 0);
		ck_assert_int_eq(stat(path, &st), 0);
		ck_assert_uint_eq(st.st_uid, 12345);
		ck_assert_uint_eq(st.st_gid, 12346);
		ck_assert_uint_eq(st.st_mode & 07777, 0600);
	}
	snprintf(path, sizeof path, "%s/no/such", tmpdir);
	ck_assert_int_eq(vault_write_private(path, "x", 1, false, err, sizeof err), -ENOENT);

	/* edit a vault: new, set, replace, delete, save, load; comments kept */
	test_key(mk);
	vf = vault_file_new("t.vault");
	ck_assert_ptr_nonnull(vf);
	ck_assert_int_eq(SEAL(mk, "alice", "pw", 2, entry), 0);
	ck_assert_int_eq(vault_file_set(vf, "alice", entry), 0);
	ck_assert_int_eq(vault_file_set(vf, "bob", entry), 0);
	ck_assert_int_eq(vault_file_set(vf, "carol", entry), 0);
	ck_assert_int_eq(SEAL(mk, "bob", "pw2", 3, entry), 0);
	ck_assert_int_eq(vault_file_set(vf, "bob", entry), 0);
	ck_assert_uint_eq(vf->nentries, 3);
	ck_assert_int_eq(vault_file_del(vf, "carol"), 0);
	ck_assert_int_eq(vault_file_del(vf, "carol"), -ENOENT);
	ck_assert_int_eq(vault_file_set(vf, "#x", entry), -EINVAL);
	ck_assert_int_eq(vault_file_set(vf, "x", "not an entry"), -EINVAL);
	snprintf(path, sizeof path, "%s/t.vault", tmpdir);
	ck_assert_int_eq(vault_file_save(vf, path, err, sizeof err), 0);
	ck_assert_int_eq(vault_file_load(path, &vf2, err, sizeof err), 0);
	ck_assert_uint_eq(vf2->nentries, 2);
	ck_assert_str_eq(vault_file_find(vf2, "bob")->entry, entry);
	ck_assert_ptr_nonnull(vf2->lines[0].raw);
	ck_assert_int_eq(vf2->lines[0].raw[0], '#');
	ck_assert_int_eq(vault_file_format(vf2, &text, &len), 0);
	ck_assert_int_eq(READ(path, 4096), 0);
	ck_assert_str_eq(text, buf); /* parse + format is the identity */
	vault_buf_free(buf, len);
	free(text);
	vault_file_free(vf);
	vault_file_free(vf2);
	tmp_teardown();
}
END_TEST

START_TEST(test_ten_thousand)
{
	enum { N = 10000 };
	size_t cap = (size_t)N * 160, len;
	char *text = malloc(cap), name[32], secret[64], entry[256];
	struct vault_table *t = NULL;
	uint8_t mk[VAULT_KEY_LEN];
	struct timespec t0, t1;

	ck_assert_ptr_nonnull(text);
	test_key(mk);
	len = (size_t)snprintf(text, cap, "# 10,000 users\npgsluice-vault 1\n");
	for (int i = N - 1; i >= 0; i--) { /* reverse order: the table sorts */
		snprintf(name, sizeof name, "user%05d", i);
		snprintf(secret, sizeof secret, i % 2 ? "md5%032x" : "password-%d", i);
		ck_assert_int_eq(SEAL(mk, name, secret, strlen(secret), entry), 0);
		len += (size_t)snprintf(text + len, cap - len, "%s:%s\n", name, entry);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_msg(vault_table_from_text(text, len, "big.vault", mk, &t, err, sizeof err) == 0,
	              "%s", err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("check_vault: %d entries (%zu bytes) decrypted in %.1f ms\n", N, len,
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	ck_assert_uint_eq(t->n, N);
	for (int i = 0; i < N; i++) {
		const struct vault_secret *s;

		snprintf(name, sizeof name, "user%05d", i);
		s = vault_table_find(t, name);
		ck_assert_ptr_nonnull(s);
		ck_assert_str_eq(s->user, name);
		ck_assert_str_eq(s->kind, i % 2 ? "md5" : "plain");
		if (i % 2 == 0) {
			snprintf(secret, sizeof secret, "password-%d", i);
			ck_assert_str_eq((char *)s->secret, secret);
		}
	}
	ck_assert_ptr_null(vault_table_find(t, "user10000"));
	vault_table_free(t);
	free(text);
}
END_TEST

/* ------------------------------------------------------------ passphrase */

START_TEST(test_passphrase)
{
	char buf[VAULT_MAX_PASSPHRASE + 1], big[VAULT_MAX_PASSPHRASE + 3];
	const char *path;
	size_t len;

	tmp_setup();
	setenv(VAULT_ENV_PASSPHRASE, "from env", 1);
	path = write_file("pass", "from file\r\nline 2\n", 18, 0600);
	ck_assert_int_eq(PASS(path), 0);
	ck_assert_str_eq(buf, "from file");
	ck_assert_uint_eq(len, 9);
	path = write_file("pass", "no newline", 10, 0400);
	ck_assert_int_eq(PASS(path), 0);
	ck_assert_str_eq(buf, "no newline");
	path = write_file("pass", "\nx\n", 3, 0600);
	ck_assert_int_eq(PASS(path), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "the passphrase is empty"));
	memset(big, 'p', sizeof big);
	path = write_file("pass", big, VAULT_MAX_PASSPHRASE, 0600);
	ck_assert_int_eq(PASS(path), 0);
	ck_assert_uint_eq(len, VAULT_MAX_PASSPHRASE);
	path = write_file("pass", big, VAULT_MAX_PASSPHRASE + 1, 0600);
	ck_assert_int_eq(PASS(path), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "longer than 1024 bytes"));
	path = write_file("pass", "x\n", 2, 0644);
	ck_assert_int_eq(PASS(path), -EPERM);
	ck_assert_int_eq(PASS(NULL), 0);
	ck_assert_str_eq(buf, "from env");
	ck_assert_int_eq(vault_passphrase(NULL, NULL, buf, 100, &len, err, sizeof err), -EINVAL);
	setenv(VAULT_ENV_PASSPHRASE, "", 1);
	ck_assert_int_eq(PASS(NULL), -EINVAL);
	unsetenv(VAULT_ENV_PASSPHRASE);
	ck_assert_int_eq(PASS(NULL), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "no passphrase"));
	tmp_teardown();
}
END_TEST

/* In a child with a new session whose controlling terminal is the pty
 * slave: one line too long for an 8-byte buffer, then "ok".  Exit status
 * 0 when everything went as expected, else the step that failed. */
static int tty_child(const char *slave)
{
	char buf[8], e[256];
	struct termios tio;
	size_t len;
	int fd;

	if (setsid() < 0 || (fd = open(slave, O_RDWR)) < 0) /* becomes the ctty */
		return 10;
	if (vault_tty_read("Passphrase: ", buf, sizeof buf, &len, e, sizeof e) != -EINVAL)
		return 11;
	if (vault_tty_read("Again: ", buf, sizeof buf, &len, e, sizeof e) != 0)
		return 12;
	if (len != 2 || strcmp(buf, "ok") != 0)
		return 13;
	if (tcgetattr(fd, &tio) < 0 || !(tio.c_lflag & ECHO))
		return 14; /* echo restored */
	return 0;
}

START_TEST(test_tty)
{
	char seen[512], buf[VAULT_MAX_PASSPHRASE + 1];
	size_t n = 0, len;
	int master, status;
	pid_t pid;

	master = posix_openpt(O_RDWR | O_NOCTTY);
	ck_assert_int_ge(master, 0);
	ck_assert_int_eq(grantpt(master), 0);
	ck_assert_int_eq(unlockpt(master), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(tty_child(ptsname(master)));
	/* answer each prompt once it shows: echo is off by then */
	for (int step = 0; step < 2 && n < sizeof seen - 1;) {
		ssize_t r = read(master, seen + n, sizeof seen - 1 - n);

		ck_assert_int_gt(r, 0);
		n += (size_t)r;
		seen[n] = '\0';
		if (step == 0 && strstr(seen, "Passphrase: ") != NULL) {
			ck_assert_int_eq(write(master, "0123456789abc\n", 14), 14);
			step++;
		} else if (step == 1 && strstr(seen, "Again: ") != NULL) {
			ck_assert_int_eq(write(master, "ok\n", 3), 3);
			step++;
		}
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child step %d",
	              WEXITSTATUS(status));
	while (n < sizeof seen - 1) { /* what the child left on the terminal */
		ssize_t r = read(master, seen + n, sizeof seen - 1 - n);

		if (r <= 0)
			break;
		n += (size_t)r;
	}
	seen[n] = '\0';
	ck_assert_msg(strstr(seen, "0123") == NULL && strstr(seen, "ok") == NULL, "echoed: \"%s\"",
	              seen);
	close(master);

	/* no terminal at all: the passphrase has no source */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		unsetenv(VAULT_ENV_PASSPHRASE);
		_exit(setsid() < 0 ||
		      vault_tty_read("x", buf, sizeof buf, &len, err, sizeof err) != -ENXIO ||
		      vault_passphrase(NULL, "x", buf, sizeof buf, &len, err, sizeof err) !=
		              -ENOENT);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

static Suite *vault_suite(void)
{
	Suite *s = suite_create("vault");
	TCase *tc = tcase_create("format");
	TCase *tf = tcase_create("files");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_kdf_kat);
	tcase_add_test(tc, test_chain_kat);
	tcase_add_test(tc, test_entry_roundtrip);
	tcase_add_test(tc, test_tamper);
	tcase_add_test(tc, test_broken_scram);
	tcase_add_loop_test(tc, test_bad_vault, 0, (int)(sizeof bad_vaults / sizeof bad_vaults[0]));
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_master);
	tcase_add_loop_test(tc, test_bad_master, 0,
	                    (int)(sizeof bad_masters / sizeof bad_masters[0]));
	tcase_add_test(tc, test_ten_thousand);
	tcase_add_test(tc, test_derive_kat);
	tcase_add_test(tc, test_derive_module);
	suite_add_tcase(s, tc);

	tcase_set_timeout(tf, 60);
	tcase_add_test(tf, test_permissions);
	tcase_add_test(tf, test_write_private);
	tcase_add_test(tf, test_passphrase);
	tcase_add_test(tf, test_tty);
	suite_add_tcase(s, tf);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(vault_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
