/*
 * startup.h — parsing of the first packet a client sends: StartupMessage,
 * SSLRequest, GSSENCRequest or CancelRequest.  Pure functions, no I/O.
 */
#ifndef PGS_STARTUP_H
#define PGS_STARTUP_H

#include <stddef.h>
#include <stdint.h>

#define STARTUP_MAX_PARAMS 64

enum startup_kind {
	STARTUP_MESSAGE = 1,
	STARTUP_SSL_REQUEST,
	STARTUP_GSSENC_REQUEST,
	STARTUP_CANCEL_REQUEST,
};

struct startup_packet {
	enum startup_kind kind;
	uint32_t version;                /* protocol of a StartupMessage */
	uint32_t cancel_pid, cancel_key; /* of a CancelRequest */
	char *raw;                       /* owned copy: name\0value\0...\0 */
	uint32_t rawlen;
	uint16_t nparams;
	size_t nunknown_pq;          /* "_pq_." options (protocol extensions) */
	const char *user, *database; /* database defaults to user */
};

/*
 * Check the int32 length that starts every startup packet (it counts
 * itself).  Returns 0 if 8 <= len <= PROTO_STARTUP_MAX, else -1.
 */
int startup_check_length(uint32_t len);

/*
 * Parse a complete packet (len bytes, starting with its length word).
 * Returns 0, or -1 with *sqlstate and msg set to what PostgreSQL would tell
 * the client (e.g. 08P01 "invalid startup packet layout: ...").
 */
int startup_parse(const uint8_t *pkt, size_t len, struct startup_packet *out, const char **sqlstate,
                  char *msg, size_t msglen) __attribute__((warn_unused_result));

/* Value of a startup parameter, NULL if absent. */
const char *startup_param(const struct startup_packet *sp, const char *name);

/* Release what startup_parse allocated. */
void startup_free(struct startup_packet *sp);

#endif /* PGS_STARTUP_H */
