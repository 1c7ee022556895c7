/*
 * audit_json.c — the audit trail's line format (see audit_json.h).
 *
 * Everything is built through a bounded "sink" that counts what it would
 * write and writes what fits, so one function serves to measure a body and
 * to fill it, and no input can make it write past its buffer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "audit_json.h"

struct audit_mac {
	EVP_MAC *mac;
	EVP_MAC_CTX *keyed; /* initialised with the key; duplicated per MAC */
};

/* A bounded output: len counts every byte offered, size bounds the copy. */
struct sink {
	char *out;
	size_t size;
	size_t len;
};

static void sink_put(struct sink *s, const char *p, size_t n)
{
	if (s->out != NULL && s->len < s->size) {
		size_t room = s->size - s->len;

		memcpy(s->out + s->len, p, n < room ? n : room);
	}
	s->len += n;
}

static void sink_str(struct sink *s, const char *p)
{
	sink_put(s, p, strlen(p));
}

/* NUL-terminate what was written (like snprintf) and return the length. */
static size_t sink_end(struct sink *s)
{
	if (s->out != NULL && s->size > 0)
		s->out[s->len < s->size ? s->len : s->size - 1] = '\0';
	return s->len;
}

/* Length of the valid UTF-8 sequence at p (1..4), 0 when invalid.  p is
 * NUL-terminated, and NUL is never a continuation byte, so the && chains
 * stop before reading past it. */
static size_t utf8_seq_len(const unsigned char *p)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (c == 0xe0)
			lo = 0xa0; /* no overlong forms */
		if (c == 0xed)
			hi = 0x9f; /* no surrogates */
		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (c == 0xf0)
			lo = 0x90;
		if (c == 0xf4)
			hi = 0x8f; /* nothing past U+10FFFF */
		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80
		               ? 4
		               : 0;
	}
	return 0;
}

static void escape_into(struct sink *s, const char *value)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *v = (const unsigned char *)value;
	size_t pos = 0;

	while (v[pos] != '\0') {
		unsigned char c = v[pos];
		size_t n = utf8_seq_len(v + pos);
		size_t take = n == 0 ? 1 : n;
		char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

		if (pos + take > AUDIT_VALUE_MAX)
			break; /* cut at a character boundary */
		if (n == 0)
			sink_str(s, "\\ufffd");
		else if (c == '"')
			sink_str(s, "\\\"");
		else if (c == '\\')
			sink_str(s, "\\\\");
		else if (c == '\n')
			sink_str(s, "\\n");
		else if (c == '\r')
			sink_str(s, "\\r");
		else if (c == '\t')
			sink_str(s, "\\t");
		else if (c < 0x20 || c == 0x7f)
			sink_put(s, u, sizeof u);
		else
			sink_put(s, value + pos, n);
		pos += take;
	}
	if (v[pos] != '\0')
		sink_str(s, "...");
}

size_t audit_json_escape(char *out, size_t out_size, const char *value)
{
	struct sink s = {out, out_size, 0};

	escape_into(&s, value);
	return sink_end(&s);
}

static bool key_ok(const char *key)
{
	size_t n = 0;

	for (; key[n] != '\0'; n++) {
		char c = key[n];

		if (n >= AUDIT_KEY_NAME_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return n > 0;
}

/* Bytes of ,"key":"<escaped value>". */
static size_t field_len(const char *key, const char *value)
{
	return strlen(key) + 6 + audit_json_escape(NULL, 0, value);
}

size_t audit_json_body(char *out, size_t out_size, const char *event, const char *const *fields)
{
	/* Room kept for ,"fields_cut":"<count>" at the end. */
	const size_t budget = AUDIT_BODY_MAX - 40;
	struct sink s = {out, out_size, 0};
	unsigned long cut = 0;

	sink_str(&s, "\"");
	escape_into(&s, event);
	sink_str(&s, "\"");
	for (size_t i = 0; fields != NULL && fields[i] != NULL; i += 2) {
		const char *key = fields[i], *value = fields[i + 1];

		if (value == NULL)
			break; /* an odd list: its end, not a value */
		if (!key_ok(key))
			continue;
		if (s.len + field_len(key, value) > budget) {
			cut++;
			continue;
		}
		sink_str(&s, ",\"");
		sink_str(&s, key);
		sink_str(&s, "\":\"");
		escape_into(&s, value);
		sink_str(&s, "\"");
	}
	if (cut > 0) {
		char num[48];

		snprintf(num, sizeof num, ",\"fields_cut\":\"%lu\"", cut);
		sink_str(&s, num);
	}
	return sink_end(&s);
}

void audit_json_ts(const struct timespec *ts, char out[AUDIT_TS_SIZE])
{
	struct tm tm;
	time_t t = ts->tv_sec;
	long usec = ts->tv_nsec / 1000;
	char buf[96];

	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
		memset(&tm, 0, sizeof tm); /* 1900-01-00: never for a real clock */
	if (usec < 0 || usec > 999999)
		usec = 0;
	/* Through a roomy buffer: the compiler cannot see that the year has
	 * four digits and the other fields two. */
	snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
	memcpy(out, buf, AUDIT_TS_SIZE - 1);
	out[AUDIT_TS_SIZE - 1] = '\0';
}

size_t audit_json_line(char *out, size_t out_size, uint64_t seq, const char *ts, const char *body,
                       size_t body_len, const char *prev, const struct audit_mac *mac,
                       char mac_hex[AUDIT_MAC_HEX + 1])
{
	char head[80];
	size_t content, need;
	int n;

	n = snprintf(head, sizeof head, "{\"seq\":%" PRIu64 ",\"ts\":\"%.27s\",\"event\":", seq,
	             ts);
	if (n < 0 || (size_t)n >= sizeof head)
		return 0;
	content = (size_t)n + body_len + 9 + AUDIT_MAC_HEX + 1; /* ...,"prev":"<hex>" */
	need = content + 8 + AUDIT_MAC_HEX + 3;                 /* ,"mac":"<hex>"}\n */
	if (need > out_size || need > AUDIT_LINE_MAX || strlen(prev) != AUDIT_MAC_HEX)
		return 0;
	memcpy(out, head, (size_t)n);
	memcpy(out + n, body, body_len);
	memcpy(out + n + body_len, ",\"prev\":\"", 9);
	memcpy(out + n + body_len + 9, prev, AUDIT_MAC_HEX);
	out[content - 1] = '"';
	if (audit_mac_hex(mac, out, content, mac_hex) < 0)
		return 0;
	memcpy(out + content, ",\"mac\":\"", 8);
	memcpy(out + content + 8, mac_hex, AUDIT_MAC_HEX);
	memcpy(out + content + 8 + AUDIT_MAC_HEX, "\"}\n", 3);
	return content + 8 + AUDIT_MAC_HEX + 3;
}

static bool lower_hex(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

int audit_json_parse(const char *line, size_t len, struct audit_line_info *info)
{
	static const char start[] = "{\"seq\":", mac_tag[] = ",\"mac\":\"",
	                  prev_tag[] = ",\"prev\":\"";
	const size_t tail = sizeof mac_tag - 1 + AUDIT_MAC_HEX + 2;
	const size_t prev_part = sizeof prev_tag - 1 + AUDIT_MAC_HEX + 1;
	const char *p, *mac_at, *prev_at;
	uint64_t seq = 0;

	if (len < sizeof start - 1 + 1 + prev_part + tail || len > AUDIT_LINE_MAX ||
	    memcmp(line, start, sizeof start - 1) != 0)
		return -EINVAL;
	p = line + sizeof start - 1;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (seq > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		seq = seq * 10 + (uint64_t)(*p - '0');
	}
	if (*p != ',')
		return -EINVAL;
	mac_at = line + len - tail;
	if (memcmp(mac_at, mac_tag, sizeof mac_tag - 1) != 0 ||
	    !lower_hex(mac_at + sizeof mac_tag - 1, AUDIT_MAC_HEX) ||
	    memcmp(line + len - 2, "\"}", 2) != 0)
		return -EINVAL;
	prev_at = mac_at - prev_part;
	if (prev_at < p || memcmp(prev_at, prev_tag, sizeof prev_tag - 1) != 0 ||
	    !lower_hex(prev_at + sizeof prev_tag - 1, AUDIT_MAC_HEX) || mac_at[-1] != '"')
		return -EINVAL;
	info->seq = seq;
	info->content_len = (size_t)(mac_at - line);
	memcpy(info->prev, prev_at + sizeof prev_tag - 1, AUDIT_MAC_HEX);
	info->prev[AUDIT_MAC_HEX] = '\0';
	memcpy(info->mac, mac_at + sizeof mac_tag - 1, AUDIT_MAC_HEX);
	info->mac[AUDIT_MAC_HEX] = '\0';
	return 0;
}

int audit_json_verify(const char *line, size_t len, const struct audit_mac *mac,
                      struct audit_line_info *info)
{
	char hex[AUDIT_MAC_HEX + 1];
	int rc = audit_json_parse(line, len, info);

	if (rc < 0)
		return rc;
	if (audit_mac_hex(mac, line, info->content_len, hex) < 0)
		return -EIO;
	rc = CRYPTO_memcmp(hex, info->mac, AUDIT_MAC_HEX) == 0 ? 0 : -EBADMSG;
	OPENSSL_cleanse(hex, sizeof hex);
	return rc;
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int audit_key_parse(const char *text, size_t len, uint8_t key[AUDIT_KEY_LEN])
{
	if (len == 2 * AUDIT_KEY_LEN + 1 && text[len - 1] == '\n')
		len--;
	if (len != 2 * AUDIT_KEY_LEN)
		return -EINVAL;
	for (size_t i = 0; i < AUDIT_KEY_LEN; i++) {
		int hi = hex_val(text[2 * i]), lo = hex_val(text[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			OPENSSL_cleanse(key, AUDIT_KEY_LEN);
			return -EINVAL;
		}
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int audit_mac_new(const uint8_t *key, size_t key_len, struct audit_mac **out)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
	        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
	        OSSL_PARAM_construct_end(),
	};
	struct audit_mac *m;

	*out = NULL;
	m = OPENSSL_zalloc(sizeof *m);
	if (m == NULL)
		return -ENOMEM;
	m->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	m->keyed = m->mac != NULL ? EVP_MAC_CTX_new(m->mac) : NULL;
	if (m->keyed == NULL || EVP_MAC_init(m->keyed, key, key_len, params) != 1) {
		audit_mac_free(m);
		return -EIO;
	}
	*out = m;
	return 0;
}

void audit_mac_free(struct audit_mac *mac)
{
	if (mac == NULL)
		return;
	EVP_MAC_CTX_free(mac->keyed); /* clears the key it holds */
	EVP_MAC_free(mac->mac);
	OPENSSL_free(mac);
}

int audit_mac_hex(const struct audit_mac *mac, const void *data, size_t len,
                  char hex[AUDIT_MAC_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	size_t md_len = 0;
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(mac->keyed);
	int ok;

	hex[0] = '\0';
	if (ctx == NULL)
		return -EIO;
	ok = EVP_MAC_update(ctx, data, len) == 1 &&
	     EVP_MAC_final(ctx, md, &md_len, sizeof md) == 1 && md_len * 2 == AUDIT_MAC_HEX;
	EVP_MAC_CTX_free(ctx);
	if (!ok)
		return -EIO;
	for (size_t i = 0; i < md_len; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[AUDIT_MAC_HEX] = '\0';
	return 0;
}
