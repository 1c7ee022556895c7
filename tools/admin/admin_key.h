/*
 * admin_key.h — pgsluice-admin: the master key (admin_key.c).
 */
#ifndef PGS_ADMIN_KEY_H
#define PGS_ADMIN_KEY_H

#include <stdint.h>

#include "admin_util.h"

/* The master-key command. */
int admin_cmd_master_key(const struct admin_opts *o) __attribute__((warn_unused_result));

/*
 * Load the master key file (-k, else master.key in the directory of the
 * vault), get the passphrase (--passphrase-file, else
 * PGSLUICE_MASTER_PASSPHRASE, else the terminal) and derive the key,
 * checked against the file's check value.  key is wiped on failure; the
 * caller wipes it after use.  Returns ADMIN_BADKEY for a wrong passphrase,
 * else an exit code.
 */
int admin_unlock(const struct admin_opts *o, uint8_t key[VAULT_KEY_LEN])
        __attribute__((warn_unused_result));

#endif /* PGS_ADMIN_KEY_H */
