/*
 * audit_json.h — the audit trail's line format: JSON escaping, line
 * building, parsing a line's seq/prev/mac and the HMAC-SHA256 chain.
 *
 * Pure code (no I/O, no global state), shared by the audit module's writer,
 * its unit test, and usable by the admin tool's verifier.  The format is
 * fixed (doc: "The audit trail format"):
 *
 *   {"seq":N,"ts":"YYYY-MM-DDTHH:MM:SS.uuuuuuZ","event":"name",
 *    "key":"value",...,"prev":"<64 hex>","mac":"<64 hex>"}\n
 *
 * on one line, where mac = HMAC-SHA256(key, everything before ,"mac":").
 */
#ifndef PGS_AUDIT_JSON_H
#define PGS_AUDIT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define AUDIT_LINE_MAX     65536u /* bytes of a line, "\n" included */
#define AUDIT_VALUE_MAX    1024u  /* bytes of a field value before it is cut */
#define AUDIT_KEY_NAME_MAX 64u    /* bytes of a field key; longer keys are skipped */
#define AUDIT_KEY_LEN      32u    /* bytes of the HMAC key */
#define AUDIT_MAC_HEX      64u    /* hex digits of a MAC */
#define AUDIT_TS_SIZE      28u    /* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" + NUL */
/* The body (the event name and its fields) leaves room for the rest of the
 * line: seq, ts, prev, mac and the punctuation take at most 200 bytes. */
#define AUDIT_BODY_MAX     (AUDIT_LINE_MAX - 256u)

struct audit_mac;

/**
 * audit_json_ts() - format ts as "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (UTC).
 */
void audit_json_ts(const struct timespec *ts, char out[AUDIT_TS_SIZE]);

/**
 * audit_json_body() - the part of a line after "event": the quoted event
 * name, then ,"key":"value" for each pair of fields (key, value, ...,
 * NULL; may be NULL; a NULL value also ends it).  Keys that are not
 * [a-z0-9_]{1,64} are skipped; values are escaped and cut to AUDIT_VALUE_MAX bytes
 * (with "..." appended).  Fields that would take the body past
 * AUDIT_BODY_MAX are left out, and a last field "fields_cut" says how many.
 * Like snprintf: writes at most out_size - 1 bytes and a NUL (out may be
 * NULL when out_size is 0) and returns the full length, at most
 * AUDIT_BODY_MAX.  The result is the same for the same input, so a first
 * call measures and a second one fills.
 */
size_t audit_json_body(char *out, size_t out_size, const char *event, const char *const *fields);

/**
 * audit_json_escape() - escape value as a JSON string's contents (no
 * quotes), cut as audit_json_body() does.  Same return convention.
 */
size_t audit_json_escape(char *out, size_t out_size, const char *value);

/**
 * audit_json_line() - build a whole line, "\n" included, into out
 * (out_size >= AUDIT_LINE_MAX): seq, ts, body (from audit_json_body()),
 * prev (64 hex, or 64 '0' to start a chain), then the MAC computed with
 * mac, which is also copied to mac_hex.  Returns the line's length, or 0
 * when it does not fit or the MAC failed.
 */
size_t audit_json_line(char *out, size_t out_size, uint64_t seq, const char *ts, const char *body,
                       size_t body_len, const char *prev, const struct audit_mac *mac,
                       char mac_hex[AUDIT_MAC_HEX + 1]);

/* What audit_json_parse() finds in a line. */
struct audit_line_info {
	uint64_t seq;
	size_t content_len; /* bytes covered by the MAC */
	char prev[AUDIT_MAC_HEX + 1];
	char mac[AUDIT_MAC_HEX + 1];
};

/**
 * audit_json_parse() - check the frame of one line (len bytes, without its
 * "\n"): starts with {"seq":<digits>, ends with ,"prev":"<hex>","mac":"<hex>"}.
 * Returns 0 and fills *info, or -EINVAL.  Does not check the MAC.
 */
int audit_json_parse(const char *line, size_t len, struct audit_line_info *info);

/**
 * audit_json_verify() - whether the line (len bytes, without "\n") is well
 * framed and its MAC is right under mac (constant-time compare).  Fills
 * *info when well framed.  0, -EINVAL (bad frame) or -EBADMSG (bad MAC).
 */
int audit_json_verify(const char *line, size_t len, const struct audit_mac *mac,
                      struct audit_line_info *info);

/**
 * audit_key_parse() - the key file's contents: exactly 64 hex digits,
 * optionally followed by one "\n".  0 and key filled, or -EINVAL.
 */
int audit_key_parse(const char *text, size_t len, uint8_t key[AUDIT_KEY_LEN]);

/**
 * audit_mac_new() - an HMAC-SHA256 context keyed with key (OpenSSL EVP_MAC).
 * 0, -ENOMEM or -EIO.  Free with audit_mac_free().
 */
int audit_mac_new(const uint8_t *key, size_t key_len, struct audit_mac **out);
void audit_mac_free(struct audit_mac *mac);

/**
 * audit_mac_hex() - HMAC-SHA256 of data as 64 lowercase hex digits and a
 * NUL.  0 or -EIO.  Safe to call from several threads on the same mac.
 */
int audit_mac_hex(const struct audit_mac *mac, const void *data, size_t len,
                  char hex[AUDIT_MAC_HEX + 1]);

#endif /* PGS_AUDIT_JSON_H */
