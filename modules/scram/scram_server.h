/*
 * scram_server.h — the server side of SCRAM-SHA-256 (RFC 5802, RFC 7677)
 * as PostgreSQL 15 speaks it to its clients, with channel binding
 * (SCRAM-SHA-256-PLUS, tls-server-end-point).
 *
 * Pure protocol and crypto: no I/O, no pgs_host, no allocation, so unit
 * tests and the fuzzer link it directly.  The caller owns the scram_server
 * (about 2.7 KiB: allocate it for the length of a login) and moves it
 * through:
 *
 *   scram_server_begin()           channel binding data (or none)
 *   scram_server_mechanisms()      -> AuthenticationSASL payload
 *   scram_server_initial()         <- SASLInitialResponse (mechanism, data)
 *   scram_server_client_first()    <- client-first-message
 *   scram_server_server_first()    -> server-first-message (salt, iterations)
 *   scram_server_client_final()    <- client-final-message (parsed, checked)
 *   scram_server_verify()          proof against StoredKey -> server-final
 *   scram_server_clear()           wipes everything; call it in any state.
 *
 * Every function returning int returns 0 or a negative errno value:
 *   -EBADMSG  the client broke the protocol: err holds the message to show
 *             it, in PostgreSQL's words ("malformed SCRAM message: ...")
 *   -EACCES   the proof does not match (err: "SCRAM proof did not match")
 *   -EINVAL   wrong state or bad arguments
 *   -ENOSPC   output buffer too small
 *   -EIO      crypto library failure
 * err (may be NULL) never holds secrets; the only client text it can carry
 * is a bounded, printable-only copy of an unknown channel-binding type.
 * Any failure except -EINVAL and -ENOSPC wipes the exchange and leaves it
 * in the FAILED state.
 */
#ifndef PGS_SCRAM_SERVER_H
#define PGS_SCRAM_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scram_verifier.h"

#define SCRAM_SERVER_MECH          "SCRAM-SHA-256"
#define SCRAM_SERVER_MECH_PLUS     "SCRAM-SHA-256-PLUS"
#define SCRAM_SERVER_CB_TYPE       "tls-server-end-point"
#define SCRAM_SERVER_KEY_LEN       SCRAM_VERIFIER_KEY_LEN
#define SCRAM_SERVER_MAX_MSG       1024 /* longest client message accepted */
#define SCRAM_SERVER_MAX_NONCE     256  /* client nonce characters accepted */
#define SCRAM_SERVER_MAX_OUR_NONCE 64   /* server nonce characters (with_nonce) */
#define SCRAM_SERVER_NONCE_RAW_LEN 18   /* random bytes in our nonce (24 chars) */
#define SCRAM_SERVER_MAX_CB_DATA   64   /* tls-server-end-point hash: SHA-512 at most */
#define SCRAM_SERVER_SALT_LEN      16   /* salts made by scram_server_*_salt() */
#define SCRAM_SERVER_FIRST_MAX     512  /* longest server-first-message we build */
/* AuthenticationSASL payload with both mechanisms. */
#define SCRAM_SERVER_MECH_LIST_MAX (sizeof SCRAM_SERVER_MECH_PLUS + sizeof SCRAM_SERVER_MECH + 1)
/* server-final-message: "v=" base64(32 bytes) */
#define SCRAM_SERVER_FINAL_LEN     (2 + (SCRAM_SERVER_KEY_LEN + 2) / 3 * 4)

/* States, named after what the server expects next. */
enum scram_server_state {
	SCRAM_SERVER_INIT = 0,          /* not begun */
	SCRAM_SERVER_WAIT_CLIENT_FIRST, /* begun: initial response / client-first */
	SCRAM_SERVER_GOT_CLIENT_FIRST,  /* parsed: server-first to build */
	SCRAM_SERVER_WAIT_CLIENT_FINAL, /* server-first built */
	SCRAM_SERVER_GOT_CLIENT_FINAL,  /* parsed: proof to verify */
	SCRAM_SERVER_DONE,              /* proof verified, server-final built */
	SCRAM_SERVER_FAILED,
};

/* One exchange.  Treat the fields as private. */
typedef struct scram_server {
	enum scram_server_state state;
	bool plus_offered;  /* channel binding data known: -PLUS advertised */
	bool plus_selected; /* the client chose SCRAM-SHA-256-PLUS */
	bool initial_seen;  /* SASLInitialResponse parsed */
	char cbind_flag;    /* gs2 flag the client sent: 'n', 'y' or 'p' */
	size_t cb_len;
	size_t bare_len;   /* client-first-message-bare */
	size_t cnonce_off; /* client nonce inside bare */
	size_t cnonce_len;
	size_t server_first_len;
	size_t nonce_len; /* combined nonce, at server_first + 2 */
	size_t final_len; /* client-final-message-without-proof */
	uint8_t cb_data[SCRAM_SERVER_MAX_CB_DATA];
	char bare[SCRAM_SERVER_MAX_MSG + 1];
	char server_first[SCRAM_SERVER_FIRST_MAX + 1];
	char final_wo_proof[SCRAM_SERVER_MAX_MSG + 1];
	uint8_t proof[SCRAM_SERVER_KEY_LEN];
} scram_server;

/*
 * Start an exchange.  cb_data/cb_len: the connection's tls-server-end-point
 * hash (1..SCRAM_SERVER_MAX_CB_DATA bytes) when it has one, which makes the
 * server offer SCRAM-SHA-256-PLUS; NULL/0 when not (no TLS).  ss is reset
 * first.
 */
int scram_server_begin(scram_server *ss, const uint8_t *cb_data, size_t cb_len)
        __attribute__((warn_unused_result));

/* The AuthenticationSASL (10) payload: "SCRAM-SHA-256-PLUS\0" when offered,
 * "SCRAM-SHA-256\0", then "\0". */
int scram_server_mechanisms(const scram_server *ss, uint8_t *out, size_t out_size, size_t *out_len)
        __attribute__((warn_unused_result));

/*
 * Parse a SASLInitialResponse payload: mechanism name "\0", int32 length
 * (-1: no initial data), data.  The mechanism must be one offered.  On
 * success *data points into msg with *data_len bytes, or is NULL when the
 * client sent no initial data (then the client-first-message comes in the
 * next SASLResponse, after an empty SASLContinue, as PostgreSQL does).
 */
int scram_server_initial(scram_server *ss, const uint8_t *msg, size_t len, const uint8_t **data,
                         size_t *data_len, char *err, size_t err_len)
        __attribute__((warn_unused_result));

/*
 * Parse and check the client-first-message:
 *   gs2-cbind-flag ("n" | "y" | "p=tls-server-end-point") "," [authzid] ","
 *   "n=" saslname "," "r=" c-nonce
 * The flag must fit the mechanism chosen ("p" only with -PLUS, "n"/"y"
 * only without; "y" is a downgrade when -PLUS was offered), an authzid and
 * any extension are refused, the user name (ignored: PostgreSQL uses the
 * startup packet's) must be a valid saslname, the nonce
 * 1..SCRAM_SERVER_MAX_NONCE printable characters.
 */
int scram_server_client_first(scram_server *ss, const uint8_t *msg, size_t len, char *err,
                              size_t err_len) __attribute__((warn_unused_result));

/*
 * Build the server-first-message "r=<client nonce><our nonce>,s=<salt>,
 * i=<iterations>" with a fresh nonce (SCRAM_SERVER_NONCE_RAW_LEN random
 * bytes, base64).  salt: 1..SCRAM_VERIFIER_MAX_SALT bytes; iterations:
 * 1..SCRAM_VERIFIER_MAX_ITER.  out is not NUL-terminated.
 */
int scram_server_server_first(scram_server *ss, const uint8_t *salt, size_t salt_len,
                              uint32_t iterations, char *out, size_t out_size, size_t *out_len,
                              char *err, size_t err_len) __attribute__((warn_unused_result));

/* As scram_server_server_first() with our nonce part given (printable,
 * 1..SCRAM_SERVER_MAX_OUR_NONCE characters): for tests (RFC vectors). */
int scram_server_server_first_with_nonce(scram_server *ss, const uint8_t *salt, size_t salt_len,
                                         uint32_t iterations, const char *nonce, char *out,
                                         size_t out_size, size_t *out_len, char *err,
                                         size_t err_len) __attribute__((warn_unused_result));

/*
 * Parse and check the client-final-message "c=<cbind>,r=<nonce>,p=<proof>":
 * c= must be base64(gs2 header) — plus the channel binding data for "p" —,
 * r= the combined nonce, p= base64 of 32 bytes; nothing may follow.
 */
int scram_server_client_final(scram_server *ss, const uint8_t *msg, size_t len, char *err,
                              size_t err_len) __attribute__((warn_unused_result));

/*
 * Check the proof: ClientKey = proof XOR HMAC(StoredKey, AuthMessage) must
 * hash to StoredKey (constant-time compare).  On success writes the
 * server-final-message "v=<base64 HMAC(ServerKey, AuthMessage)>" to out
 * (SCRAM_SERVER_FINAL_LEN bytes, not NUL-terminated), the recovered
 * ClientKey to client_key when not NULL, and moves to DONE.  A mismatch is
 * -EACCES.
 */
int scram_server_verify(scram_server *ss, const uint8_t stored_key[SCRAM_SERVER_KEY_LEN],
                        const uint8_t server_key[SCRAM_SERVER_KEY_LEN],
                        uint8_t client_key[SCRAM_SERVER_KEY_LEN], char *out, size_t out_size,
                        size_t *out_len, char *err, size_t err_len)
        __attribute__((warn_unused_result));

/* Wipe the exchange (state back to INIT).  Safe in any state. */
void scram_server_clear(scram_server *ss);

/* Human-readable state name, e.g. "WAIT_CLIENT_FINAL". */
const char *scram_server_state_name(enum scram_server_state state);

/* Salt of the mock exchange for an unknown user: the first
 * SCRAM_SERVER_SALT_LEN bytes of SHA256(key || user).  0 or -EIO. */
int scram_server_mock_salt(const uint8_t *key, size_t key_len, const char *user,
                           uint8_t salt[SCRAM_SERVER_SALT_LEN]) __attribute__((warn_unused_result));

/* Salt for a verifier derived from a stored cleartext password: the first
 * SCRAM_SERVER_SALT_LEN bytes of HMAC-SHA256(key, user), stable for a key,
 * so derived keys can be cached.  0 or -EIO. */
int scram_server_plain_salt(const uint8_t *key, size_t key_len, const char *user,
                            uint8_t salt[SCRAM_SERVER_SALT_LEN])
        __attribute__((warn_unused_result));

#endif /* PGS_SCRAM_SERVER_H */
