/*
 * vault_key.c — the process-wide cache of derived master keys (see
 * vault_key.h).
 *
 * This is the vault module's one piece of process-wide state, on purpose:
 * the point is to outlive an instance, so that the instance a reload
 * creates finds the key its predecessor derived.  A small table of slots
 * under a mutex; each slot is a page of its own from mmap(), locked in RAM
 * (mlock) and left out of core dumps (MADV_DONTDUMP), refcounted by the
 * instances using it.  The last release wipes, unlocks and unmaps it.
 *
 * The slow part (the passphrase, PBKDF2) runs without the mutex, into a
 * page not yet in the table: a fini() on a worker thread (the host may drop
 * the last reference to an old module set there) never waits behind it.
 *
 * The module is linked with -z nodelete (Makefile.am): "never ask on the
 * terminal after the first key" must hold even across a reload that drops
 * every vault instance, which would otherwise unload the module and forget
 * that a key was ever derived.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* MADV_DONTDUMP */
#endif
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "vault_key.h"

#define VAULT_KEY_PROMPT_MAX 4200 /* "pgsluice: passphrase for master key " + a path */

/* One slot: the whole of its own mmap()ed page. */
struct vault_key {
	uint8_t key[VAULT_KEY_LEN];
	struct vault_master master; /* the master.key contents it was derived for */
	unsigned refs;              /* under vault_key_lock */
	bool locked;                /* mlock() succeeded */
	size_t map_len;
	/* The passphrase while the key is derived, then wiped: kept here so
	 * that it too sits in locked memory rather than on the stack. */
	char pass[VAULT_MAX_PASSPHRASE + 1];
};

_Static_assert(sizeof(struct vault_key) <= 4096, "a key slot must fit in one page");

static pthread_mutex_t vault_key_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vault_key *vault_key_slots[VAULT_KEY_SLOTS];
/* A key was derived once in this process: the terminal is never asked
 * again (a reload must not wait for an operator). */
static bool vault_key_derived;

static long long vault_key_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A zeroed page for one key, locked when the limits allow it. */
static struct vault_key *vault_key_page_new(const pgs_host *host)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = page > 0 ? (size_t)page : 4096;
	struct vault_key *k;
	void *p;

	while (len < sizeof *k)
		len *= 2;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		host->log(PGS_LOG_ERROR, NULL, "vault: cannot map memory for the master key: %s",
		          strerror(errno));
		return NULL;
	}
	if (madvise(p, len, MADV_DONTDUMP) != 0)
		host->log(PGS_LOG_WARN, NULL,
		          "vault: could not keep the master key out of core dumps: %s",
		          strerror(errno));
	k = p;
	if (mlock(p, len) != 0)
		host->log(PGS_LOG_WARN, NULL,
		          "vault: could not lock the master key in memory: %s "
		          "(raise RLIMIT_MEMLOCK: ulimit -l, or LimitMEMLOCK= under systemd)",
		          strerror(errno));
	else
		k->locked = true;
	k->map_len = len;
	return k;
}

static void vault_key_page_free(struct vault_key *k)
{
	size_t len = k->map_len;
	bool locked = k->locked;

	OPENSSL_cleanse(k, len);
	if (locked)
		munlock(k, len);
	munmap(k, len);
}

/* Whether cached key k belongs to the master.key contents m. */
static bool vault_key_matches(const struct vault_key *k, const struct vault_master *m)
{
	return k->master.iterations == m->iterations &&
	       memcmp(k->master.salt, m->salt, sizeof m->salt) == 0 &&
	       CRYPTO_memcmp(k->master.check, m->check, sizeof m->check) == 0 &&
	       vault_master_matches(m, k->key);
}

/* The cached key for m with a new reference, or NULL; under the lock. */
static struct vault_key *vault_key_find_locked(const struct vault_master *m)
{
	for (size_t i = 0; i < VAULT_KEY_SLOTS; i++) {
		struct vault_key *k = vault_key_slots[i];

		if (k != NULL && vault_key_matches(k, m)) {
			k->refs++;
			return k;
		}
	}
	return NULL;
}

static int vault_key_free_slot_locked(void)
{
	for (size_t i = 0; i < VAULT_KEY_SLOTS; i++)
		if (vault_key_slots[i] == NULL)
			return (int)i;
	return -1;
}

/* Read the passphrase into k->pass and derive k->key; logs failures. */
static int vault_key_derive(const pgs_host *host, const char *master_path, const char *pass_file,
                            bool prompt_ok, struct vault_key *k)
{
	char prompt[VAULT_KEY_PROMPT_MAX];
	char err[1024];
	long long t0;
	size_t len = 0;
	int rc;

	if (prompt_ok)
		snprintf(prompt, sizeof prompt,
		         "pgsluice: passphrase for master key %s: ", master_path);
	rc = vault_passphrase(pass_file, prompt_ok ? prompt : NULL, k->pass, sizeof k->pass, &len,
	                      err, sizeof err);
	if (rc == -ENOENT && pass_file == NULL) {
		host->log(PGS_LOG_ERROR, NULL,
		          "vault: no passphrase for the master key %s: set "
		          "master_key_passphrase_file or %s%s",
		          master_path, VAULT_ENV_PASSPHRASE,
		          prompt_ok ? ", or start pgsluice on a terminal"
		                    : " (only the first start of pgsluice asks on the terminal)");
	} else if (rc < 0) {
		host->log(PGS_LOG_ERROR, NULL, "vault: passphrase for the master key %s: %s",
		          master_path, err);
	}
	if (rc < 0) {
		OPENSSL_cleanse(k->pass, sizeof k->pass);
		return rc;
	}
	t0 = vault_key_now_ms();
	rc = vault_master_unlock(&k->master, k->pass, len, k->key);
	OPENSSL_cleanse(k->pass, sizeof k->pass);
	if (rc == -EACCES) {
		host->log(PGS_LOG_ERROR, NULL, "vault: %s: wrong passphrase for the master key",
		          master_path);
		return rc;
	}
	if (rc < 0) {
		host->log(PGS_LOG_ERROR, NULL, "vault: %s: cannot derive the master key: %s",
		          master_path, strerror(-rc));
		return rc;
	}
	host->log(PGS_LOG_INFO, NULL, "vault: master key %s unlocked in %lld ms", master_path,
	          vault_key_now_ms() - t0);
	return 0;
}

int vault_key_acquire(const pgs_host *host, const char *master_path, const char *pass_file,
                      struct vault_key **out)
{
	struct vault_master m;
	struct vault_key *k, *found;
	char err[1024];
	bool prompt_ok;
	int rc, slot;

	*out = NULL;
	rc = vault_master_load(master_path, &m, err, sizeof err);
	if (rc < 0) {
		host->log(PGS_LOG_ERROR, NULL, "vault: master key: %s", err);
		return rc;
	}

	pthread_mutex_lock(&vault_key_lock);
	found = vault_key_find_locked(&m);
	slot = vault_key_free_slot_locked();
	prompt_ok = !vault_key_derived;
	pthread_mutex_unlock(&vault_key_lock);
	if (found != NULL) {
		*out = found;
		return 0;
	}
	if (slot < 0)
		goto full;

	k = vault_key_page_new(host);
	if (k == NULL)
		return -ENOMEM;
	k->master = m;
	rc = vault_key_derive(host, master_path, pass_file, prompt_ok, k);
	if (rc < 0) {
		vault_key_page_free(k);
		return rc;
	}

	/* Install it, unless the same key arrived meanwhile (init runs on
	 * the host's main thread, but nothing here relies on that). */
	pthread_mutex_lock(&vault_key_lock);
	vault_key_derived = true;
	found = vault_key_find_locked(&m);
	slot = found == NULL ? vault_key_free_slot_locked() : -1;
	if (slot >= 0) {
		k->refs = 1;
		vault_key_slots[slot] = k;
	}
	pthread_mutex_unlock(&vault_key_lock);
	if (found != NULL) {
		vault_key_page_free(k);
		*out = found;
		return 0;
	}
	if (slot < 0) {
		vault_key_page_free(k);
		goto full;
	}
	*out = k;
	return 0;

full:
	host->log(PGS_LOG_ERROR, NULL,
	          "vault: %s: more than %d different master keys in use at once: "
	          "use fewer master key files",
	          master_path, VAULT_KEY_SLOTS);
	return -ENOSPC;
}

const uint8_t *vault_key_bytes(const struct vault_key *key)
{
	return key->key;
}

void vault_key_release(struct vault_key *key)
{
	bool last = false;

	if (key == NULL)
		return;
	pthread_mutex_lock(&vault_key_lock);
	if (--key->refs == 0) {
		for (size_t i = 0; i < VAULT_KEY_SLOTS; i++)
			if (vault_key_slots[i] == key)
				vault_key_slots[i] = NULL;
		last = true;
	}
	pthread_mutex_unlock(&vault_key_lock);
	if (last)
		vault_key_page_free(key);
}
