/*
 * check_stats.c — the metrics counters and their Prometheus text format
 * (core/stats.c) from hand-made snapshots: label escaping, the bounded
 * method table, and a whole scrape checked line by line against the text
 * format's grammar (every sample's family has exactly one # HELP and one
 * # TYPE line before it).
 */
#include "autoconf.h"

#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "util.h"

static char *label(const char *v)
{
	struct bytebuf b = {0};
	char *s;

	ck_assert_int_eq(stats_append_label(&b, v), 0);
	s = calloc(1, b.len + 1);
	ck_assert_ptr_nonnull(s);
	if (b.len > 0)
		memcpy(s, bytebuf_head(&b), b.len);
	bytebuf_free(&b, false);
	return s;
}

START_TEST(test_label_escaping)
{
	const struct {
		const char *in, *want;
	} cases[] = {
	        {"testdb", "testdb"},
	        {"a\"b", "a\\\"b"},
	        {"back\\slash", "back\\\\slash"},
	        {"two\nlines", "two\\nlines"},
	        {"tab\there", "tab?here"},
	        {"bad\xff utf8", "bad? utf8"},
	        {"caf\xc3\xa9", "caf\xc3\xa9"},
	        {"", ""},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *got = label(cases[i].in);

		ck_assert_msg(strcmp(got, cases[i].want) == 0, "case %zu: got [%s] want [%s]", i,
		              got, cases[i].want);
		free(got);
	}
}
END_TEST

START_TEST(test_methods_bounded)
{
	static struct stats s;
	struct stats_snap snap;
	char name[32], longname[STATS_METHOD_NAME_MAX + 8];
	uint64_t other_ok = 0;

	stats_init(&s);
	stats_auth(&s, "scram", true);
	stats_auth(&s, "scram", true);
	stats_auth(&s, "scram", false);
	for (int i = 0; i < STATS_METHODS_MAX + 5; i++) {
		snprintf(name, sizeof name, "m%d", i);
		stats_auth(&s, name, true);
	}
	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	stats_auth(&s, longname, true);
	memset(&snap, 0, sizeof snap);
	stats_snapshot(&s, &snap);
	ck_assert_uint_le(snap.nmethods, STATS_METHODS_MAX + 1);
	ck_assert_str_eq(snap.methods[0].name, "scram");
	ck_assert_uint_eq(snap.methods[0].ok, 2);
	ck_assert_uint_eq(snap.methods[0].fail, 1);
	for (size_t i = 0; i < snap.nmethods; i++)
		if (strcmp(snap.methods[i].name, "other") == 0)
			other_ok = snap.methods[i].ok;
	/* 1 + 68 names for 64 slots: 6 names and the long one share "other" */
	ck_assert_uint_eq(other_ok, 6 + 1);
	stats_fini(&s);
}
END_TEST

/* Count `needle` lines in text. */
static int count_lines(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
		if (p == text || p[-1] == '\n')
			n++;
	return n;
}

START_TEST(test_format)
{
	static struct stats s;
	struct stats_pool_snap pools[2] = {
	        {.database = "testdb",
	         .user = "scram\"user",
	         .transactions = 402,
	         .queries = 410,
	         .bytes_in = 25289,
	         .bytes_out = 26583,
	         .connect_errors = 1,
	         .clients = {3, 1, 2},
	         .servers_active = 3,
	         .servers_idle = 2,
	         .servers_connecting = 1,
	         .wait_max_ms = 1500},
	        {.database = "other", .user = "u"},
	};
	struct stats_snap snap;
	struct bytebuf out = {0};
	regex_t sample;
	char *text, *line, *save = NULL;
	const char *families[] = {"pgsluice_transactions_total",
	                          "pgsluice_queries_total",
	                          "pgsluice_clients",
	                          "pgsluice_servers",
	                          "pgsluice_auth_total",
	                          "pgsluice_build_info"};

	stats_init(&s);
	stats_auth(&s, "scram", true);
	stats_auth(&s, "hba", false);
	memset(&snap, 0, sizeof snap);
	stats_snapshot(&s, &snap);
	snap.version = "9.9.9";
	snap.pools = pools;
	snap.npools = 2;
	ck_assert_int_eq(stats_format(&snap, &out), 0);
	text = calloc(1, out.len + 1);
	ck_assert_ptr_nonnull(text);
	memcpy(text, bytebuf_head(&out), out.len);
	bytebuf_free(&out, false);

	ck_assert_ptr_nonnull(strstr(
	        text,
	        "pgsluice_transactions_total{database=\"testdb\",user=\"scram\\\"user\"} 402\n"));
	ck_assert_ptr_nonnull(strstr(text, "pgsluice_build_info{version=\"9.9.9\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "state=\"waiting\"} 1\n"));
	ck_assert_ptr_nonnull(
	        strstr(text, "pgsluice_clients_waiting_max_seconds{database=\"testdb\""));
	ck_assert_ptr_nonnull(strstr(text, "method=\"hba\",result=\"fail\"} 1\n"));
	for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
		char help[128], type[128];

		snprintf(help, sizeof help, "# HELP %s ", families[i]);
		snprintf(type, sizeof type, "# TYPE %s ", families[i]);
		ck_assert_msg(count_lines(text, help) == 1, "HELP of %s", families[i]);
		ck_assert_msg(count_lines(text, type) == 1, "TYPE of %s", families[i]);
	}
	/* every other line is a sample: name{labels} value */
	ck_assert_int_eq(regcomp(&sample,
	                         "^[a-z_][a-z0-9_]*(\\{[a-z_]+=\"([^\"\\\\]|\\\\.)*\""
	                         "(,[a-z_]+=\"([^\"\\\\]|\\\\.)*\")*\\})? -?[0-9]+(\\.[0-9]+)?$",
	                         REG_EXTENDED | REG_NOSUB),
	                 0);
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		if (line[0] != '#')
			ck_assert_msg(regexec(&sample, line, 0, NULL, 0) == 0, "not a sample: [%s]",
			              line);
	regfree(&sample);
	free(text);
	stats_fini(&s);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("stats");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_label_escaping);
	tcase_add_test(tc, test_methods_bounded);
	tcase_add_test(tc, test_format);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
