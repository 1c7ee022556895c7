/*
 * scram_client.h — a SCRAM-SHA-256 client (RFC 5802, RFC 7677), as
 * PostgreSQL's backend login needs it.
 *
 * Pure protocol and crypto: no I/O, no allocation, no dependency on the
 * module ABI, so it is unit-tested directly and can be fuzzed.  The caller
 * owns the scram_client (embed it or allocate it) and moves it through:
 *
 *   scram_client_start()          -> client-first-message   (to the server)
 *   scram_client_server_first()   <- server-first-message
 *   scram_client_final_password() -> client-final-message   (to the server)
 *     or scram_client_final_keys() with ClientKey/ServerKey derived earlier
 *   scram_client_server_final()   <- server-final-message   (verified)
 *   scram_client_clear()          wipes everything; call it in any state.
 *
 * No channel binding yet: the gs2 header is always "n,," ("client does not
 * support channel binding"), which a server offering -PLUS still accepts.
 *
 * SASLprep is not applied here: scram_client_final_password() and
 * scram_verifier_derive_raw() (modules/common) use the password bytes as they are (right for ASCII
 * and for any password SASLprep refuses).  Callers that need libpq's exact
 * behaviour derive the keys with scram_verifier_derive() (modules/common,
 * SASLprep first) and pass them to scram_client_final_keys(), as the scram
 * module does.
 *
 * Every function returning int returns 0 or a negative errno value:
 *   -EINVAL   called in the wrong state or with bad arguments
 *   -EBADMSG  malformed server message
 *   -ERANGE   a value out of bounds (length, iteration count)
 *   -EACCES   the server reported an error ("e=") or its signature is wrong
 *   -ENOSPC   the output buffer is too small
 *   -EIO      a crypto library failure
 * and on failure writes a short, printable, secret-free reason into the
 * caller's err buffer (which may be NULL).  A start that fails leaves the
 * client unstarted; any other failure except -ENOSPC and -EINVAL leaves it
 * in the FAILED state, with its contents wiped.
 */
#ifndef PGS_SCRAM_CLIENT_H
#define PGS_SCRAM_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#define SCRAM_KEY_LEN               32   /* SHA-256 output: keys, proofs, signatures */
#define SCRAM_NONCE_RAW_LEN         18   /* random bytes in our nonce (24 chars) */
#define SCRAM_MAX_NONCE_LEN         64   /* client nonce characters we accept */
#define SCRAM_MAX_USER_LEN          256  /* user name bytes, before escaping */
#define SCRAM_MAX_SERVER_MSG        1024 /* longest server message we accept */
#define SCRAM_MAX_SALT_LEN          256  /* decoded salt bytes */
#define SCRAM_MIN_ITERATIONS        1
#define SCRAM_MAX_ITERATIONS        100000000u
/* Big enough for any client-first or client-final message we build. */
#define SCRAM_CLIENT_MSG_MAX        1280
/* Longest client-first-message-bare: "n=" user*3 (escaped) ",r=" nonce. */
#define SCRAM_CLIENT_FIRST_BARE_MAX (2 + 3 * SCRAM_MAX_USER_LEN + 3 + SCRAM_MAX_NONCE_LEN)

/* States, named after what the client waits for next. */
enum scram_client_state {
	SCRAM_CLIENT_INIT = 0,          /* nothing sent yet */
	SCRAM_CLIENT_WAIT_SERVER_FIRST, /* client-first built */
	SCRAM_CLIENT_WAIT_CLIENT_FINAL, /* server-first parsed; keys needed */
	SCRAM_CLIENT_WAIT_SERVER_FINAL, /* client-final built */
	SCRAM_CLIENT_DONE,              /* server signature verified */
	SCRAM_CLIENT_FAILED,
};

/*
 * One exchange.  Treat the fields as private; use the accessors.  About
 * 2.3 KiB, so keep it only for the duration of a login.
 */
typedef struct scram_client {
	enum scram_client_state state;
	uint32_t iterations;
	size_t bare_len;  /* client-first-message-bare */
	size_t nonce_len; /* our nonce, at the end of bare */
	size_t server_first_len;
	size_t salt_len;
	size_t combined_nonce_off; /* r= value inside server_first */
	size_t combined_nonce_len;
	char bare[SCRAM_CLIENT_FIRST_BARE_MAX + 1];
	char server_first[SCRAM_MAX_SERVER_MSG + 1];
	uint8_t salt[SCRAM_MAX_SALT_LEN];
	uint8_t server_signature[SCRAM_KEY_LEN]; /* expected in server-final */
} scram_client;

/*
 * Begin an exchange with a fresh random nonce (SCRAM_NONCE_RAW_LEN bytes from
 * the OpenSSL CSPRNG, base64).  `user` is the SCRAM user name; PostgreSQL
 * ignores it in favour of the startup packet's user, so pass "" there
 * ("n=,").  Writes the client-first-message (gs2 header included, not
 * NUL-terminated) to out and its length to *out_len.  sc is reset first.
 */
int scram_client_start(scram_client *sc, const char *user, char *out, size_t out_size,
                       size_t *out_len, char *err, size_t err_len)
        __attribute__((warn_unused_result));

/*
 * As scram_client_start(), with the client nonce given: printable ASCII
 * other than ',' (RFC 5802 "printable"), 1..SCRAM_MAX_NONCE_LEN characters.
 * For tests (RFC vectors) and callers with their own randomness.
 */
int scram_client_start_with_nonce(scram_client *sc, const char *user, const char *nonce, char *out,
                                  size_t out_size, size_t *out_len, char *err, size_t err_len)
        __attribute__((warn_unused_result));

/*
 * Parse and check the server-first-message ("r=...,s=...,i=..."[,ext]):
 * the nonce must start with ours and add at least one character, the salt
 * must be non-empty valid base64 of at most SCRAM_MAX_SALT_LEN bytes, the
 * iteration count within SCRAM_MIN_ITERATIONS..SCRAM_MAX_ITERATIONS, and
 * no mandatory extension ("m=") is accepted.  msg need not be
 * NUL-terminated and must not contain NUL bytes.
 */
int scram_client_server_first(scram_client *sc, const uint8_t *msg, size_t len, char *err,
                              size_t err_len) __attribute__((warn_unused_result));

/* The salt and iteration count of the parsed server-first-message (valid
 * from WAIT_CLIENT_FINAL on), e.g. to look up cached keys. */
const uint8_t *scram_client_salt(const scram_client *sc, size_t *len);
uint32_t scram_client_iterations(const scram_client *sc);

/*
 * Build the client-final-message "c=biws,r=<nonce>,p=<proof>" from
 * ClientKey and ServerKey (derived with this exchange's salt and iteration
 * count; a mismatch just makes the server refuse), and remember the
 * ServerSignature expected in the server-final-message.
 */
int scram_client_final_keys(scram_client *sc, const uint8_t client_key[SCRAM_KEY_LEN],
                            const uint8_t server_key[SCRAM_KEY_LEN], char *out, size_t out_size,
                            size_t *out_len, char *err, size_t err_len)
        __attribute__((warn_unused_result));

/* scram_client_final_keys() with keys derived from `password` (raw bytes,
 * no SASLprep) by scram_verifier_derive_raw() (modules/common); the keys are wiped afterwards. */
int scram_client_final_password(scram_client *sc, const uint8_t *password, size_t password_len,
                                char *out, size_t out_size, size_t *out_len, char *err,
                                size_t err_len) __attribute__((warn_unused_result));

/*
 * Check the server-final-message: "v=<signature>"[,ext] must match the
 * expected ServerSignature (constant-time compare) -> 0 and state DONE;
 * "e=<error>" -> -EACCES with the (sanitised) server error in err; a
 * mismatch -> -EACCES "server signature mismatch"; garbage -> -EBADMSG.
 */
int scram_client_server_final(scram_client *sc, const uint8_t *msg, size_t len, char *err,
                              size_t err_len) __attribute__((warn_unused_result));

/* Wipe the whole exchange (state back to INIT).  Safe in any state. */
void scram_client_clear(scram_client *sc);

/* Human-readable state name, e.g. "WAIT_SERVER_FIRST", for log details. */
const char *scram_client_state_name(enum scram_client_state state);

#endif /* PGS_SCRAM_CLIENT_H */
