/*
 * check_proto.c — unit tests of protocol framing (the message builders)
 * and startup packet parsing.
 */
#include "autoconf.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "startup.h"
#include "util.h"

/* Build a startup packet from "name\0value\0..." (n bytes, without the
 * final terminator) for protocol `version`. */
static size_t make_startup(uint8_t *out, uint32_t version, const char *kv, size_t n)
{
	size_t len = 8 + n + 1;

	put_u32(out, (uint32_t)len);
	put_u32(out + 4, version);
	memcpy(out + 8, kv, n);
	out[8 + n] = 0;
	return len;
}

static int parse(const uint8_t *p, size_t len, struct startup_packet *sp, const char **code,
                 char *msg)
{
	return startup_parse(p, len, sp, code, msg, 256);
}

START_TEST(test_startup_ok)
{
	static const char kv[] = "user\0alice\0database\0db1\0application_name\0psql\0";
	uint8_t pkt[256];
	size_t len = make_startup(pkt, PROTO_V3, kv, sizeof kv - 1);
	struct startup_packet sp;
	const char *code = NULL;
	char msg[256];

	ck_assert_int_eq(parse(pkt, len, &sp, &code, msg), 0);
	ck_assert_int_eq(sp.kind, STARTUP_MESSAGE);
	ck_assert_str_eq(sp.user, "alice");
	ck_assert_str_eq(sp.database, "db1");
	ck_assert_str_eq(startup_param(&sp, "application_name"), "psql");
	ck_assert_ptr_null(startup_param(&sp, "nope"));
	startup_free(&sp);
}
END_TEST

START_TEST(test_startup_database_defaults_to_user)
{
	static const char kv[] = "user\0bob\0";
	uint8_t pkt[64];
	size_t len = make_startup(pkt, PROTO_V3, kv, sizeof kv - 1);
	struct startup_packet sp;
	const char *code;
	char msg[256];

	ck_assert_int_eq(parse(pkt, len, &sp, &code, msg), 0);
	ck_assert_str_eq(sp.database, "bob");
	startup_free(&sp);
}
END_TEST

START_TEST(test_startup_no_user)
{
	static const char kv[] = "database\0x\0";
	uint8_t pkt[64];
	size_t len = make_startup(pkt, PROTO_V3, kv, sizeof kv - 1);
	struct startup_packet sp;
	const char *code;
	char msg[256];

	ck_assert_int_eq(parse(pkt, len, &sp, &code, msg), -1);
	ck_assert_str_eq(code, "28000");
	ck_assert_str_eq(msg, "no PostgreSQL user name specified in startup packet");
}
END_TEST

START_TEST(test_startup_missing_terminator)
{
	static const char kv[] = "user\0alice\0";
	uint8_t pkt[64];
	size_t len = make_startup(pkt, PROTO_V3, kv, sizeof kv - 1);
	struct startup_packet sp;
	const char *code;
	char msg[256];

	pkt[len - 1] = 'x'; /* no final NUL */
	ck_assert_int_eq(parse(pkt, len, &sp, &code, msg), -1);
	ck_assert_str_eq(code, "08P01");
	ck_assert_ptr_nonnull(strstr(msg, "invalid startup packet layout"));
}
END_TEST

/* "user\0alice\0" with no extra terminator: the value's NUL is not it. */
START_TEST(test_startup_value_nul_is_not_terminator)
{
	static const char kv[] = "user\0alice";
	uint8_t pkt[64];
	size_t len = make_startup(pkt, PROTO_V3, kv, sizeof kv - 1);
	struct startup_packet sp;
	const char *code;
	char msg[256];

	ck_assert_int_eq(parse(pkt, len, &sp, &code, msg), -1);
	ck_assert_str_eq(code, "08P01");
	ck_assert_str_eq(msg, "invalid startup packet layout: expected terminator as last byte");
}
END_TEST

START_TEST(test_startup_name_without_value)
{
	static const char kv[] = "user\0alice\0dangling";
	uint8_t pkt[64];
	size_t len = make_startup(pkt, PROTO_V3, kv, sizeof kv - 1);
	struct startup_packet sp;
	const char *code;
	char msg[256];

	ck_assert_int_eq(parse(pkt, len, &sp, &code, msg), -1);
	ck_assert_str_eq(code, "08P01");
}
END_TEST

START_TEST(test_startup_lengths)
{
	uint8_t pkt[16];
	struct startup_packet sp;
	const char *code;
	char msg[256];

	ck_assert_int_eq(startup_check_length(7), -1);
	ck_assert_int_eq(startup_check_length(8), 0);
	ck_assert_int_eq(startup_check_length(PROTO_STARTUP_MAX), 0);
	ck_assert_int_eq(startup_check_length(PROTO_STARTUP_MAX + 1), -1);
	/* The length word must match the bytes given. */
	put_u32(pkt, 12);
	put_u32(pkt + 4, PROTO_V3);
	ck_assert_int_eq(parse(pkt, 8, &sp, &code, msg), -1);
	ck_assert_str_eq(msg, "invalid length of startup packet");
}
END_TEST

START_TEST(test_startup_bad_version)
{
	static const char kv[] = "user\0alice\0";
	uint8_t pkt[64];
	size_t len = make_startup(pkt, 0x00020000u, kv, sizeof kv - 1);
	struct startup_packet sp;
	const char *code;
	char msg[256];

	ck_assert_int_eq(parse(pkt, len, &sp, &code, msg), -1);
	ck_assert_str_eq(code, "0A000");
	ck_assert_str_eq(msg, "unsupported frontend protocol 2.0: server supports 3.0 to 3.0");
}
END_TEST

START_TEST(test_startup_minor_and_pq_options)
{
	static const char kv[] = "user\0alice\0_pq_.feature\0on\0";
	uint8_t pkt[64];
	size_t len = make_startup(pkt, PROTO_V3 | 2, kv, sizeof kv - 1);
	struct startup_packet sp;
	const char *code;
	char msg[256];

	ck_assert_int_eq(parse(pkt, len, &sp, &code, msg), 0);
	ck_assert_uint_eq(sp.version & 0xffff, 2);
	ck_assert_uint_eq(sp.nunknown_pq, 1);
	ck_assert_ptr_null(startup_param(&sp, "_pq_.feature"));
	startup_free(&sp);
}
END_TEST

START_TEST(test_special_requests)
{
	uint8_t pkt[16];
	struct startup_packet sp;
	const char *code;
	char msg[256];

	put_u32(pkt, 8);
	put_u32(pkt + 4, PROTO_SSL_CODE);
	ck_assert_int_eq(parse(pkt, 8, &sp, &code, msg), 0);
	ck_assert_int_eq(sp.kind, STARTUP_SSL_REQUEST);
	put_u32(pkt + 4, PROTO_GSSENC_CODE);
	ck_assert_int_eq(parse(pkt, 8, &sp, &code, msg), 0);
	ck_assert_int_eq(sp.kind, STARTUP_GSSENC_REQUEST);
	proto_cancel_request(pkt, 1234, 0xdeadbeef);
	ck_assert_int_eq(parse(pkt, 16, &sp, &code, msg), 0);
	ck_assert_int_eq(sp.kind, STARTUP_CANCEL_REQUEST);
	ck_assert_uint_eq(sp.cancel_pid, 1234);
	ck_assert_uint_eq(sp.cancel_key, 0xdeadbeef);
	/* A cancel request of the wrong size is refused. */
	put_u32(pkt, 12);
	ck_assert_int_eq(parse(pkt, 12, &sp, &code, msg), -1);
}
END_TEST

START_TEST(test_too_many_params)
{
	uint8_t pkt[PROTO_STARTUP_MAX];
	char kv[4000];
	size_t n = 0, len;
	struct startup_packet sp;
	const char *code;
	char msg[256];

	n += (size_t)sprintf(kv + n, "user") + 1;
	n += (size_t)sprintf(kv + n, "u") + 1;
	for (int i = 0; i < STARTUP_MAX_PARAMS + 5; i++) {
		n += (size_t)sprintf(kv + n, "p%d", i) + 1;
		n += (size_t)sprintf(kv + n, "v") + 1;
	}
	len = make_startup(pkt, PROTO_V3, kv, n);
	ck_assert_int_eq(parse(pkt, len, &sp, &code, msg), -1);
	ck_assert_str_eq(code, "08P01");
}
END_TEST

/* Random bytes never crash the parser and never read past the packet
 * (ASan would report it). */
START_TEST(test_startup_fuzz)
{
	unsigned seed = 12345;

	for (int iter = 0; iter < 20000; iter++) {
		size_t len = 8 + (size_t)(rand_r(&seed) % 200);
		uint8_t *pkt = malloc(len);
		struct startup_packet sp;
		const char *code;
		char msg[256];

		for (size_t i = 0; i < len; i++)
			pkt[i] = (uint8_t)(rand_r(&seed) % 4 == 0 ? 0 : rand_r(&seed));
		put_u32(pkt, (uint32_t)len);
		if (iter % 2)
			put_u32(pkt + 4, PROTO_V3);
		if (parse(pkt, len, &sp, &code, msg) == 0)
			startup_free(&sp);
		free(pkt);
	}
}
END_TEST

START_TEST(test_builders)
{
	struct bytebuf b = {0};
	const uint8_t *p;
	char sev[16], code[8], msg[64];

	ck_assert_int_eq(proto_ready(&b, 'I'), 0);
	p = bytebuf_head(&b);
	ck_assert_uint_eq(b.len, 6);
	ck_assert_int_eq(p[0], 'Z');
	ck_assert_uint_eq(get_u32(p + 1), 5);
	ck_assert_int_eq(p[5], 'I');
	bytebuf_consume(&b, b.len);

	ck_assert_int_eq(proto_auth(&b, AUTH_OK, NULL, 0), 0);
	p = bytebuf_head(&b);
	ck_assert_uint_eq(b.len, 9);
	ck_assert_int_eq(p[0], 'R');
	ck_assert_uint_eq(get_u32(p + 1), 8);
	ck_assert_uint_eq(get_u32(p + 5), 0);
	bytebuf_consume(&b, b.len);

	ck_assert_int_eq(proto_param_status(&b, "TimeZone", "UTC"), 0);
	p = bytebuf_head(&b);
	ck_assert_int_eq(p[0], 'S');
	ck_assert_uint_eq(get_u32(p + 1), 4 + 9 + 4);
	ck_assert_str_eq((const char *)p + 5, "TimeZone");
	ck_assert_str_eq((const char *)p + 14, "UTC");
	bytebuf_consume(&b, b.len);

	ck_assert_int_eq(proto_backend_key(&b, 7, 9), 0);
	p = bytebuf_head(&b);
	ck_assert_uint_eq(b.len, 13);
	ck_assert_uint_eq(get_u32(p + 5), 7);
	ck_assert_uint_eq(get_u32(p + 9), 9);
	bytebuf_consume(&b, b.len);

	ck_assert_int_eq(proto_error(&b, "FATAL", "08P01", NULL, "bad %s", "thing"), 0);
	p = bytebuf_head(&b);
	ck_assert_int_eq(p[0], 'E');
	ck_assert_uint_eq(get_u32(p + 1), b.len - 1);
	ck_assert_int_eq(p[b.len - 1], 0);
	proto_error_fields(p + 5, b.len - 5, sev, sizeof sev, code, sizeof code, msg, sizeof msg);
	ck_assert_str_eq(sev, "FATAL");
	ck_assert_str_eq(code, "08P01");
	ck_assert_str_eq(msg, "bad thing");
	bytebuf_free(&b, false);
}
END_TEST

START_TEST(test_startup_builder_roundtrip)
{
	const char *kv[] = {"user", "u1", "database", "d1", NULL};
	struct bytebuf b = {0};
	struct startup_packet sp;
	const char *code;
	char msg[256];

	ck_assert_int_eq(proto_startup(&b, kv), 0);
	ck_assert_int_eq(parse(bytebuf_head(&b), b.len, &sp, &code, msg), 0);
	ck_assert_str_eq(sp.user, "u1");
	ck_assert_str_eq(sp.database, "d1");
	startup_free(&sp);
	bytebuf_free(&b, false);
}
END_TEST

START_TEST(test_error_fields_truncated)
{
	/* Fields without their terminator are ignored, never over-read. */
	static const uint8_t body[] = {'S', 'E', 'R', 'R', 'O', 'R', 0, 'C', '4', '2'};
	char sev[16], code[8], msg[64];

	proto_error_fields(body, sizeof body, sev, sizeof sev, code, sizeof code, msg, sizeof msg);
	ck_assert_str_eq(sev, "ERROR");
	ck_assert_str_eq(code, "");
}
END_TEST

START_TEST(test_bytebuf)
{
	struct bytebuf b = {0};
	uint8_t big[5000];

	memset(big, 'x', sizeof big);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(bytebuf_append(&b, big, sizeof big), 0);
	ck_assert_uint_eq(b.len, 50000);
	bytebuf_consume(&b, 49999);
	ck_assert_uint_eq(b.len, 1);
	ck_assert_int_eq(bytebuf_append(&b, "yz", 2), 0);
	ck_assert_int_eq(memcmp(bytebuf_head(&b), "xyz", 3), 0);
	bytebuf_free(&b, true);
	ck_assert_ptr_null(b.data);
}
END_TEST

static Suite *proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("startup");

	tcase_add_test(tc, test_startup_ok);
	tcase_add_test(tc, test_startup_database_defaults_to_user);
	tcase_add_test(tc, test_startup_no_user);
	tcase_add_test(tc, test_startup_missing_terminator);
	tcase_add_test(tc, test_startup_name_without_value);
	tcase_add_test(tc, test_startup_value_nul_is_not_terminator);
	tcase_add_test(tc, test_startup_lengths);
	tcase_add_test(tc, test_startup_bad_version);
	tcase_add_test(tc, test_startup_minor_and_pq_options);
	tcase_add_test(tc, test_special_requests);
	tcase_add_test(tc, test_too_many_params);
	tcase_add_test(tc, test_startup_fuzz);
	suite_add_tcase(s, tc);
	tc = tcase_create("framing");
	tcase_add_test(tc, test_builders);
	tcase_add_test(tc, test_startup_builder_roundtrip);
	tcase_add_test(tc, test_error_fields_truncated);
	tcase_add_test(tc, test_bytebuf);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(proto_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
