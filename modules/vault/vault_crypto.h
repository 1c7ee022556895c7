/*
 * vault_crypto.h — key derivation from the vault's master key, shared by
 * the vault module (pgs_cred_ops.derive_key) and pgsluice-admin
 * (audit-verify -m), which must derive the same bytes.
 *
 * HKDF-SHA256 (RFC 5869) with:
 *   IKM  = the 32-byte master key (vault_lib.h)
 *   salt = the 18 bytes "pgsluice-derive-v1" (fixed and public: it only
 *          separates these keys from any other use of the master key, and
 *          the "v1" lets a later scheme coexist)
 *   info = "pgsluice " followed by the label (no NUL)
 *   L    = the requested length, 1..VAULT_DERIVE_MAX bytes
 * A shorter output is a prefix of a longer one under the same label (as
 * HKDF is): callers give each purpose its own label, never a length.
 */
#ifndef PGS_VAULT_CRYPTO_H
#define PGS_VAULT_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "vault_lib.h"

#define VAULT_DERIVE_SALT      "pgsluice-derive-v1"
#define VAULT_DERIVE_INFO      "pgsluice " /* then the label */
#define VAULT_DERIVE_MAX       64          /* bytes of output (module.h's bound) */
#define VAULT_DERIVE_LABEL_MAX 64          /* bytes of a label */

/*
 * vault_derive() - len bytes of key material for purpose label from the
 * master key mk, as above.  label: 1..VAULT_DERIVE_LABEL_MAX printable
 * ASCII characters without blanks (0x21..0x7e).  0; -EINVAL for a bad
 * label, length or pointer; -EIO when the crypto library fails.  out is
 * wiped on failure; the caller wipes it after use.
 */
int vault_derive(const uint8_t mk[VAULT_KEY_LEN], const char *label, uint8_t *out, size_t len)
        __attribute__((warn_unused_result));

#endif /* PGS_VAULT_CRYPTO_H */
