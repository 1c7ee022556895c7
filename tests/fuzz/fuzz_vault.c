/*
 * fuzz_vault.c — libFuzzer target for the vault format library.
 *
 * The input is parsed as a vault file and as a master.key, and decrypted
 * as a vault under a fixed master key (the seed corpus holds vaults sealed
 * under that key, so the paths behind a valid tag run too: secret kinds,
 * the sorted table).  What parses is formatted and parsed again, which
 * must give the same text; the input's first bytes are also sealed as a
 * secret and opened back.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Imodules/vault -Imodules/common \
 *     tests/fuzz/fuzz_vault.c modules/vault/vault_{crypto,file,io}.c \
 *     modules/common/{scram_verifier,saslprep,md5_hash,secret_kind}.c -lcrypto -lidn \
 *     -o fuzz_vault
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vault_lib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The corpus's vaults are sealed under this key: byte i is i * 7 + 1. */
static void fuzz_key(uint8_t mk[VAULT_KEY_LEN])
{
	for (int i = 0; i < VAULT_KEY_LEN; i++)
		mk[i] = (uint8_t)(i * 7 + 1);
}

/* parse -> format -> parse -> format: both texts must be equal. */
static void file_round_trip(const struct vault_file *vf)
{
	struct vault_file *again = NULL;
	char *t1, *t2, err[256];
	size_t l1, l2;

	if (vault_file_format(vf, &t1, &l1) != 0)
		return;
	if (vault_file_parse(t1, l1, "again", &again, err, sizeof err) != 0)
		abort(); /* we wrote something we cannot read */
	if (vault_file_format(again, &t2, &l2) != 0)
		abort();
	if (l1 != l2 || memcmp(t1, t2, l1) != 0)
		abort();
	free(t1);
	free(t2);
	vault_file_free(again);
}

static void edit(struct vault_file *vf)
{
	char user[VAULT_MAX_USER + 1], entry[VAULT_MAX_LINE + 1];
	const struct vault_line *l = NULL;

	for (size_t i = 0; i < vf->nlines && l == NULL; i++)
		if (vf->lines[i].user != NULL)
			l = &vf->lines[i];
	if (l == NULL)
		return;
	strcpy(user, l->user);
	strcpy(entry, l->entry);
	if (vault_file_del(vf, user) != 0 || vault_file_find(vf, user) != NULL)
		abort();
	if (vault_file_set(vf, user, entry) != 0 || vault_file_find(vf, user) == NULL)
		abort();
}

static void master(const uint8_t *data, size_t size)
{
	struct vault_master m, m2;
	char err[256], text[1024];

	if (vault_master_parse((const char *)data, size, "fuzz.key", &m, err, sizeof err) != 0)
		return;
	if (vault_master_format(&m, text, sizeof text) != 0 ||
	    vault_master_parse(text, strlen(text), "again", &m2, err, sizeof err) != 0 ||
	    memcmp(&m, &m2, sizeof m) != 0)
		abort();
}

static void seal_open(const uint8_t mk[VAULT_KEY_LEN], const uint8_t *data, size_t size)
{
	char text[2048];
	uint8_t out[VAULT_MAX_SECRET + 1];
	size_t n = size < VAULT_MAX_SECRET ? size : VAULT_MAX_SECRET, len;
	int rc = vault_entry_seal(mk, "fuzz user", data, n, text, sizeof text);

	if (rc == -EINVAL && n > 0 && memchr(data, '\0', n) != NULL)
		return; /* secrets with a NUL are refused */
	if (rc != 0 || strlen(text) != vault_entry_text_len(n))
		abort();
	if (vault_entry_open(mk, "fuzz user", text, strlen(text), out, sizeof out, &len) != 0 ||
	    len != n || memcmp(out, data, n) != 0)
		abort();
	/* the input as an entry, too */
	(void)vault_entry_open(mk, "fuzz user", (const char *)data, size, out, sizeof out, &len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct vault_file *vf = NULL;
	struct vault_table *t = NULL;
	uint8_t mk[VAULT_KEY_LEN];
	char err[512];

	fuzz_key(mk);
	if (vault_file_parse(text, size, "fuzz.vault", &vf, err, sizeof err) == 0) {
		file_round_trip(vf);
		edit(vf);
		vault_file_free(vf);
	}
	if (vault_table_from_text(text, size, "fuzz.vault", mk, &t, err, sizeof err) == 0) {
		for (size_t i = 0; i < t->n; i++) {
			if (vault_table_find(t, t->e[i].user) != &t->e[i] ||
			    t->e[i].secret[t->e[i].len] != '\0')
				abort();
		}
		vault_table_free(t);
	}
	master(data, size);
	seal_open(mk, data, size);
	return 0;
}
