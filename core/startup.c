/*
 * startup.c — parsing of StartupMessage, SSLRequest, GSSENCRequest and
 * CancelRequest packets, with PostgreSQL's own error codes and messages.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "startup.h"

int startup_check_length(uint32_t len)
{
	return len < 8 || len > PROTO_STARTUP_MAX ? -1 : 0;
}

static int fail(const char **sqlstate, char *msg, size_t msglen, const char *code, const char *text)
{
	*sqlstate = code;
	snprintf(msg, msglen, "%s", text);
	return -1;
}

int startup_parse(const uint8_t *pkt, size_t len, struct startup_packet *out, const char **sqlstate,
                  char *msg, size_t msglen)
{
	uint32_t code;
	size_t off, rawlen;
	char *p, *end;

	memset(out, 0, sizeof *out);
	if (len < 8 || len > PROTO_STARTUP_MAX || get_u32(pkt) != len)
		return fail(sqlstate, msg, msglen, "08P01", "invalid length of startup packet");
	code = get_u32(pkt + 4);
	switch (code) {
	case PROTO_SSL_CODE:
	case PROTO_GSSENC_CODE:
		if (len != 8)
			return fail(sqlstate, msg, msglen, "08P01",
			            "invalid length of startup packet");
		out->kind = code == PROTO_SSL_CODE ? STARTUP_SSL_REQUEST : STARTUP_GSSENC_REQUEST;
		return 0;
	case PROTO_CANCEL_CODE:
		if (len != 16)
			return fail(sqlstate, msg, msglen, "08P01",
			            "invalid length of startup packet");
		out->kind = STARTUP_CANCEL_REQUEST;
		out->cancel_pid = get_u32(pkt + 8);
		out->cancel_key = get_u32(pkt + 12);
		return 0;
	}
	if (code >> 16 != 3) {
		*sqlstate = "0A000";
		snprintf(msg, msglen,
		         "unsupported frontend protocol %u.%u: server supports 3.0 to 3.0",
		         code >> 16, code & 0xffff);
		return -1;
	}
	out->kind = STARTUP_MESSAGE;
	out->version = code;

	/* name\0value\0 ... \0 — the packet must end with the terminator. */
	off = 8;
	rawlen = len - off;
	if (rawlen == 0 || pkt[len - 1] != 0)
		return fail(sqlstate, msg, msglen, "08P01",
		            "invalid startup packet layout: expected terminator as last byte");
	out->raw = malloc(rawlen);
	if (out->raw == NULL)
		return fail(sqlstate, msg, msglen, "53200", "out of memory");
	memcpy(out->raw, pkt + off, rawlen);
	out->rawlen = (uint32_t)rawlen;
	p = out->raw;
	end = out->raw + rawlen - 1; /* the final terminator */
	while (p < end) {
		char *name = p, *value;

		p += strlen(p) + 1;
		if (p >= end) {
			startup_free(out);
			return fail(
			        sqlstate, msg, msglen, "08P01",
			        "invalid startup packet layout: expected terminator as last byte");
		}
		value = p;
		p += strlen(p) + 1;
		if (p > end) {
			/* The value's NUL was the last byte: no terminator. */
			startup_free(out);
			return fail(
			        sqlstate, msg, msglen, "08P01",
			        "invalid startup packet layout: expected terminator as last byte");
		}
		if (strncmp(name, "_pq_.", 5) == 0) {
			out->nunknown_pq++;
			continue;
		}
		if (out->nparams == STARTUP_MAX_PARAMS) {
			startup_free(out);
			return fail(sqlstate, msg, msglen, "08P01",
			            "invalid startup packet layout: too many parameters");
		}
		out->nparams++;
		if (strcmp(name, "user") == 0)
			out->user = value;
		else if (strcmp(name, "database") == 0)
			out->database = value;
	}
	if (out->user == NULL || out->user[0] == 0) {
		startup_free(out);
		return fail(sqlstate, msg, msglen, "28000",
		            "no PostgreSQL user name specified in startup packet");
	}
	if (out->database == NULL || out->database[0] == 0)
		out->database = out->user;
	if (strlen(out->user) > 63 || strlen(out->database) > 63) {
		startup_free(out);
		return fail(sqlstate, msg, msglen, "42622",
		            "user or database name too long (over 63 bytes)");
	}
	return 0;
}

const char *startup_param(const struct startup_packet *sp, const char *name)
{
	const char *p = sp->raw, *end;

	/* Scanned, not indexed: an idle client keeps only the raw copy. */
	if (p == NULL)
		return NULL;
	end = sp->raw + sp->rawlen - 1;
	while (p < end) {
		const char *n = p, *v = p + strlen(p) + 1;

		p = v + strlen(v) + 1;
		if (strcmp(n, name) == 0 && strncmp(n, "_pq_.", 5) != 0)
			return v;
	}
	return NULL;
}

void startup_free(struct startup_packet *sp)
{
	free(sp->raw);
	sp->raw = NULL;
	sp->nparams = 0;
	sp->user = sp->database = NULL;
}
