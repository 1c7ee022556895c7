/*
 * vault_key.h — the process-wide cache of derived master keys, in locked
 * memory, shared by every instance of the vault module.
 *
 * Deriving a master key costs VAULT_MASTER_ITERATIONS rounds of PBKDF2 and
 * may need the operator at the terminal, so a key is derived once and kept
 * while an instance uses it: on SIGHUP the host creates the new instance
 * before it frees the old one, and the new one finds the key here, which
 * is what lets a reload re-read the vault files without the passphrase.
 */
#ifndef PGS_VAULT_KEY_H
#define PGS_VAULT_KEY_H

#include <stdint.h>

#include <pgsluice/module.h>

#include "vault_lib.h"

#define VAULT_KEY_SLOTS 4 /* distinct master keys held at once */

struct vault_key; /* one cached key: opaque */

/*
 * vault_key_acquire() - a reference on the master key of the master.key
 * file at master_path.  The file is read and checked (private, well
 * formed) every time; a cached key that matches it is reused.  Otherwise
 * the passphrase is read (vault_passphrase(): pass_file when non-NULL,
 * else the environment, else the terminal, the last only while no key has
 * ever been derived in this process) and the key derived and checked.
 * Must run where blocking is allowed (init, on the host's main thread).
 * Every failure is logged at ERROR through host; returns 0 or a negative
 * errno (-EACCES: wrong passphrase, -ENOSPC: every slot is taken).
 */
int vault_key_acquire(const pgs_host *host, const char *master_path, const char *pass_file,
                      struct vault_key **out) __attribute__((warn_unused_result));

/* The 32 key bytes; valid until the reference is released. */
const uint8_t *vault_key_bytes(const struct vault_key *key);

/* Drop a reference; the last one wipes, unlocks and unmaps the key.  NULL
 * is ignored.  Callable from any thread. */
void vault_key_release(struct vault_key *key);

#endif /* PGS_VAULT_KEY_H */
