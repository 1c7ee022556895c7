/*
 * proto.c — builders for the protocol messages pgsluice writes itself.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"

int proto_msg(struct bytebuf *b, char type, const void *data, size_t len)
{
	uint8_t hdr[PROTO_MSG_HDR];

	if (len > 0x3fffffff)
		return -EINVAL;
	hdr[0] = (uint8_t)type;
	put_u32(hdr + 1, (uint32_t)(len + 4));
	if (bytebuf_append(b, hdr, sizeof hdr) < 0)
		return -ENOMEM;
	if (len && bytebuf_append(b, data, len) < 0)
		return -ENOMEM;
	return 0;
}

/* Append one NUL-terminated field (code + text) to a flat buffer. */
static size_t put_field(uint8_t *out, size_t off, size_t cap, char code, const char *text)
{
	size_t n = strlen(text);

	if (off + n + 2 > cap)
		n = off + 2 < cap ? cap - off - 2 : 0;
	if (off + n + 2 > cap)
		return off;
	out[off++] = (uint8_t)code;
	memcpy(out + off, text, n);
	off += n;
	out[off++] = 0;
	return off;
}

int proto_error(struct bytebuf *b, const char *severity, const char *sqlstate, const char *detail,
                const char *fmt, ...)
{
	char msg[1024];
	uint8_t body[2048];
	size_t off = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	off = put_field(body, off, sizeof body - 1, 'S', severity);
	off = put_field(body, off, sizeof body - 1, 'V', severity);
	off = put_field(body, off, sizeof body - 1, 'C', sqlstate);
	off = put_field(body, off, sizeof body - 1, 'M', msg);
	if (detail)
		off = put_field(body, off, sizeof body - 1, 'D', detail);
	body[off++] = 0;
	return proto_msg(b, 'E', body, off);
}

int proto_auth(struct bytebuf *b, uint32_t code, const void *data, size_t len)
{
	uint8_t hdr[9];

	if (len > 0x3fffffff)
		return -EINVAL;
	hdr[0] = 'R';
	put_u32(hdr + 1, (uint32_t)(len + 8));
	put_u32(hdr + 5, code);
	if (bytebuf_append(b, hdr, sizeof hdr) < 0)
		return -ENOMEM;
	if (len && bytebuf_append(b, data, len) < 0)
		return -ENOMEM;
	return 0;
}

int proto_param_status(struct bytebuf *b, const char *name, const char *value)
{
	size_t nl = strlen(name) + 1, vl = strlen(value) + 1;
	uint8_t hdr[PROTO_MSG_HDR];

	hdr[0] = 'S';
	put_u32(hdr + 1, (uint32_t)(4 + nl + vl));
	if (bytebuf_append(b, hdr, sizeof hdr) < 0 || bytebuf_append(b, name, nl) < 0 ||
	    bytebuf_append(b, value, vl) < 0)
		return -ENOMEM;
	return 0;
}

int proto_backend_key(struct bytebuf *b, uint32_t pid, uint32_t key)
{
	uint8_t body[8];

	put_u32(body, pid);
	put_u32(body + 4, key);
	return proto_msg(b, 'K', body, sizeof body);
}

int proto_ready(struct bytebuf *b, char status)
{
	return proto_msg(b, 'Z', &status, 1);
}

int proto_query(struct bytebuf *b, const char *sql)
{
	return proto_msg(b, 'Q', sql, strlen(sql) + 1);
}

int proto_startup(struct bytebuf *b, const char *const *kv)
{
	uint8_t hdr[8];
	size_t len = 8 + 1;
	uint8_t zero = 0;

	for (size_t i = 0; kv[i] != NULL; i++)
		len += strlen(kv[i]) + 1;
	put_u32(hdr, (uint32_t)len);
	put_u32(hdr + 4, PROTO_V3);
	if (bytebuf_append(b, hdr, sizeof hdr) < 0)
		return -ENOMEM;
	for (size_t i = 0; kv[i] != NULL; i++)
		if (bytebuf_append(b, kv[i], strlen(kv[i]) + 1) < 0)
			return -ENOMEM;
	return bytebuf_append(b, &zero, 1);
}

void proto_cancel_request(uint8_t out[16], uint32_t pid, uint32_t key)
{
	put_u32(out, 16);
	put_u32(out + 4, PROTO_CANCEL_CODE);
	put_u32(out + 8, pid);
	put_u32(out + 12, key);
}

static void copy_field(char *dst, size_t dstlen, const uint8_t *s, size_t n)
{
	if (dstlen == 0)
		return;
	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, s, n);
	dst[n] = 0;
}

void proto_error_fields(const uint8_t *data, size_t len, char *sev, size_t sevlen, char *code,
                        size_t codelen, char *msg, size_t msglen)
{
	size_t i = 0;

	if (sevlen)
		sev[0] = 0;
	if (codelen)
		code[0] = 0;
	if (msglen)
		msg[0] = 0;
	while (i < len && data[i] != 0) {
		char type = (char)data[i++];
		const uint8_t *start = data + i;
		const uint8_t *end = memchr(start, 0, len - i);
		size_t n;

		if (end == NULL)
			return;
		n = (size_t)(end - start);
		if (type == 'V' || (type == 'S' && sev[0] == 0))
			copy_field(sev, sevlen, start, n);
		else if (type == 'C')
			copy_field(code, codelen, start, n);
		else if (type == 'M')
			copy_field(msg, msglen, start, n);
		i += n + 1;
	}
}
