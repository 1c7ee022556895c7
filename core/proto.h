/*
 * proto.h — PostgreSQL v3 wire protocol: constants and builders for the
 * messages pgsluice writes itself.  Everything else is forwarded as bytes.
 */
#ifndef PGS_PROTO_H
#define PGS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define PROTO_V3          0x00030000u
#define PROTO_CANCEL_CODE 80877102u
#define PROTO_SSL_CODE    80877103u
#define PROTO_GSSENC_CODE 80877104u
#define PROTO_STARTUP_MAX 10000u /* bytes, as PostgreSQL's MAX_STARTUP_PACKET_LENGTH */
#define PROTO_MSG_HDR     5u     /* type byte + int32 length */

/* Authentication request codes ('R'). */
#define AUTH_OK            0u
#define AUTH_CLEARTEXT     3u
#define AUTH_MD5           5u
#define AUTH_GSS           7u
#define AUTH_GSS_CONTINUE  8u
#define AUTH_SASL          10u
#define AUTH_SASL_CONTINUE 11u
#define AUTH_SASL_FINAL    12u

/* Append a message: type, int32 length, payload.  0 or -ENOMEM. */
int proto_msg(struct bytebuf *b, char type, const void *data, size_t len)
        __attribute__((warn_unused_result));

/* Append an ErrorResponse with fields S, V, C, M (and D when detail is not
 * NULL).  severity is "FATAL" or "ERROR". */
int proto_error(struct bytebuf *b, const char *severity, const char *sqlstate, const char *detail,
                const char *fmt, ...) __attribute__((format(printf, 5, 6), warn_unused_result));

/* AuthenticationRequest with code and payload. */
int proto_auth(struct bytebuf *b, uint32_t code, const void *data, size_t len)
        __attribute__((warn_unused_result));

int proto_param_status(struct bytebuf *b, const char *name, const char *value)
        __attribute__((warn_unused_result));
int proto_backend_key(struct bytebuf *b, uint32_t pid, uint32_t key)
        __attribute__((warn_unused_result));
int proto_ready(struct bytebuf *b, char status) __attribute__((warn_unused_result));
int proto_query(struct bytebuf *b, const char *sql) __attribute__((warn_unused_result));

/* StartupMessage v3.0 from a NULL-terminated list name, value, name, ... */
int proto_startup(struct bytebuf *b, const char *const *kv) __attribute__((warn_unused_result));

/* CancelRequest: 16 bytes. */
void proto_cancel_request(uint8_t out[16], uint32_t pid, uint32_t key);

/*
 * Pull the severity, SQLSTATE and message out of an ErrorResponse or
 * NoticeResponse payload (for logs).  Missing fields become "".  Never
 * reads past len.
 */
void proto_error_fields(const uint8_t *data, size_t len, char *sev, size_t sevlen, char *code,
                        size_t codelen, char *msg, size_t msglen);

#endif /* PGS_PROTO_H */
