/*
 * check_hba.c — unit tests of the hba module's parsers and matchers
 * (modules/hba/hba_token.c, hba_rules.c, hba_ident.c).
 *
 * The matching table runs connections against tests/unit/data/hba/
 * pg_hba.conf (with @file lists beside it) and asserts the line that wins.
 * The error cases parse small texts from memory, so each test shows the
 * line whose number it asserts; a name inside the data directory makes
 * their relative @file references resolve there.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "../../modules/hba/hba_ident.h"
#include "../../modules/hba/hba_rules.h"
#include "../../modules/hba/hba_token.h"

#define DATA TEST_SRCDIR "/unit/data/hba"

static char err[HBA_ERR_LEN];

/* ------------------------------------------------------------ helpers */

static struct hba_rules *load_table(void)
{
	struct hba_rules *rs = NULL;
	int rc = hba_rules_load(DATA "/pg_hba.conf", &rs, err, sizeof(err));

	ck_assert_msg(rc == 0, "load failed: %s", err);
	return rs;
}

static struct hba_rules *parse_ok(const char *text)
{
	struct hba_rules *rs = NULL;
	int rc = hba_rules_parse(DATA "/mem.conf", text, strlen(text), 0, &rs, err, sizeof(err));

	ck_assert_msg(rc == 0, "parse of [%s] failed: %s", text, err);
	return rs;
}

/* Line of the first matching rule, 0 when none. */
static unsigned match_line(const struct hba_rules *rs, const char *transport, const char *addr,
                           const char *user, const char *db)
{
	struct hba_conn c = {transport, addr, user, db};
	struct hba_result res;

	if (!hba_rules_match(rs, &c, &res))
		return 0;
	return res.line;
}

/* ------------------------------------------------------------ matching table */

static const struct {
	const char *transport, *addr, *user, *db;
	unsigned line;
} table[] = {
        /* local lines */
        {"unix", "[local]", "postgres", "anydb", 2},
        {"unix", "[local]", "bob", "all", 3},         /* "all" quoted: a database named all */
        {"unix", "[local]", "bob", "bob", 4},         /* sameuser */
        {"unix", "[local]", "bob", NULL, 4},          /* database defaults to the user */
        {"unix", "[local]", "bob", "other", 0},       /* replication never matches */
        {"unix", "[local]", "bob", "replication", 0}, /* not even a database so named */
        {"tcp", "[local]", "postgres", "anydb", 0},   /* tcp never matches local */
        /* first match wins: 10.1/16 reject before 10/8 */
        {"tcp", "10.1.2.3", "x", "y", 6},
        {"tcp", "10.1.255.255", "x", "y", 6},
        {"tcp", "10.2.0.1", "x", "y", 7},
        {"tcp", "10.0.0.0", "x", "y", 7},
        {"tcp", "10.255.255.255", "x", "y", 7},
        {"tcp", "11.0.0.0", "x", "y", 18},
        {"tcp", "9.255.255.255", "x", "y", 18},
        /* comma list of databases, quoted name with a space, /32 */
        {"tcp", "192.168.1.10", "app", "db1", 8},
        {"tcp", "192.168.1.10", "app", "db 2", 8},
        {"tcp", "192.168.1.10", "app", "db3", 8},
        {"tcp", "192.168.1.10", "app", "db4", 18},
        {"tcp", "192.168.1.11", "app", "db1", 18},
        {"tcp", "192.168.1.10", "App", "db1", 18}, /* names are case-sensitive */
        /* address + mask column, quoted "all" user */
        {"tcp", "192.168.1.77", "all", "x", 9},
        {"tcp", "192.168.1.255", "all", "x", 9},
        {"tcp", "192.168.1.77", "bob", "x", 18},
        {"tcp", "192.168.2.1", "all", "x", 18},
        /* regex user */
        {"tcp", "172.16.5.5", "svc_api", "x", 10},
        {"tcp", "172.31.255.255", "svc_b", "x", 10},
        {"tcp", "172.16.5.5", "svc_API", "x", 18},
        {"tcp", "172.16.5.5", "svc_", "x", 18},
        {"tcp", "172.32.0.1", "svc_api", "x", 18},
        /* hostssl + @file users (nested, relative to the including file) */
        {"tls", "8.8.8.8", "alice", "x", 11},
        {"tls", "8.8.8.8", "bob smith", "x", 11},
        {"tls", "8.8.8.8", "dave", "x", 11},
        {"tls", "8.8.8.8", "erin", "x", 11},
        {"tls", "8.8.8.8", "carol", "x", 18},
        {"tcp", "8.8.8.8", "alice", "x", 18}, /* hostssl: tls only */
        {"gss", "8.8.8.8", "alice", "x", 18},
        /* hostnossl + @file databases: tcp and gss, not tls */
        {"tcp", "8.8.8.8", "zed", "analytics", 12},
        {"tcp", "8.8.8.8", "zed", "reporting", 12},
        {"gss", "8.8.8.8", "zed", "analytics", 12},
        {"tls", "8.8.8.8", "zed", "analytics", 18},
        {"tcp", "8.8.8.8", "zed", "all", 12}, /* "all" quoted in the file */
        {"tcp", "8.8.8.8", "zed", "other", 18},
        /* IPv6: hostgssenc ::/0, hostnogssenc /32, /128, mask column */
        {"gss", "2001:db8::5", "x", "y", 13},
        {"gss", "::1", "x", "y", 13},
        {"tcp", "2001:db8::5", "x", "y", 14},
        {"tls", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "x", "y", 14},
        {"tcp", "2001:db9::1", "x", "y", 15},
        {"tcp", "2001:db9::2", "x", "y", 0}, /* the v4 0.0.0.0/0 does not take v6 */
        {"tcp", "fe80::1234", "x", "y", 16},
        {"tcp", "fe80::ffff:ffff:ffff:ffff", "x", "y", 16},
        {"tcp", "fe81::", "x", "y", 0},
        /* v4 /32 and /0; a v4-mapped v6 client is not a v4 client */
        {"tcp", "1.2.3.4", "x", "y", 17},
        {"tcp", "1.2.3.5", "x", "y", 18},
        {"tcp", "0.0.0.0", "x", "y", 18},
        {"tcp", "255.255.255.255", "x", "y", 18},
        {"tcp", "::ffff:1.2.3.4", "x", "y", 0},
        {"tcp", "::1", "x", "y", 0},
        /* fail closed on odd facts */
        {"pigeon", "1.2.3.4", "x", "y", 0},
        {NULL, "1.2.3.4", "x", "y", 0},
        {"tcp", "not-an-address", "x", "y", 0},
        {"tcp", NULL, "x", "y", 0},
        {"tcp", "1.2.3.4", NULL, "y", 0},
};

START_TEST(test_match_table)
{
	struct hba_rules *rs = load_table();

	ck_assert_uint_eq(hba_rules_count(rs), 17);
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		unsigned got = match_line(rs, table[i].transport, table[i].addr, table[i].user,
		                          table[i].db);

		ck_assert_msg(got == table[i].line,
		              "row %zu (%s %s user=%s db=%s): expected line %u, got %u", i,
		              table[i].transport ? table[i].transport : "(null)",
		              table[i].addr ? table[i].addr : "(null)",
		              table[i].user ? table[i].user : "(null)",
		              table[i].db ? table[i].db : "(null)", table[i].line, got);
	}
	hba_rules_free(rs);
}
END_TEST

START_TEST(test_match_result)
{
	struct hba_rules *rs = load_table();
	struct hba_conn c = {"tcp", "172.16.0.1", "svc_x", "d"};
	struct hba_result res;
	const char *want10[] = {"opt", "1", "quoted", "a b", "x", "", NULL};
	size_t i;

	ck_assert(hba_rules_match(rs, &c, &res));
	ck_assert_str_eq(res.method, "cert-chain");
	ck_assert_str_eq(res.where, DATA "/pg_hba.conf:10");
	ck_assert(!res.reject);
	ck_assert_uint_eq(res.index, 8);
	for (i = 0; want10[i] != NULL; i++) {
		ck_assert_ptr_nonnull(res.options[i]);
		ck_assert_str_eq(res.options[i], want10[i]);
	}
	ck_assert_ptr_null(res.options[i]);

	c = (struct hba_conn){"unix", "[local]", "postgres", "d"};
	ck_assert(hba_rules_match(rs, &c, &res));
	ck_assert_str_eq(res.method, "peer");
	ck_assert_str_eq(res.options[0], "map");
	ck_assert_str_eq(res.options[1], "osmap");
	ck_assert_ptr_null(res.options[2]);

	c = (struct hba_conn){"tcp", "10.1.0.1", "u", "d"};
	ck_assert(hba_rules_match(rs, &c, &res));
	ck_assert(res.reject);
	ck_assert_str_eq(res.where, DATA "/pg_hba.conf:6");

	c = (struct hba_conn){"tls", "8.8.4.4", "alice", "d"};
	ck_assert(hba_rules_match(rs, &c, &res));
	ck_assert_str_eq(res.method, "cert");
	ck_assert_str_eq(res.options[0], "clientcert");
	ck_assert_str_eq(res.options[1], "verify-full");

	/* no options: an empty list, never NULL */
	c = (struct hba_conn){"tcp", "1.2.3.4", "u", "d"};
	ck_assert(hba_rules_match(rs, &c, &res));
	ck_assert_str_eq(res.method, "trust");
	ck_assert_ptr_nonnull(res.options);
	ck_assert_ptr_null(res.options[0]);
	hba_rules_free(rs);
}
END_TEST

/* Tokenizer details PostgreSQL has: "" inside quotes, a blank after a
 * comma, continuation lines, CRLF, comments after a backslash. */
START_TEST(test_tokenizer)
{
	struct hba_rules *rs;
	struct hba_result res;
	struct hba_conn c = {"unix", "[local]", "u", NULL};

	rs = parse_ok("local \"a\"\"b\",c all trust\n");
	ck_assert_uint_eq(match_line(rs, "unix", "[local]", "u", "a\"b"), 1);
	ck_assert_uint_eq(match_line(rs, "unix", "[local]", "u", "c"), 1);
	ck_assert_uint_eq(match_line(rs, "unix", "[local]", "u", "ab"), 0);
	hba_rules_free(rs);

	/* PostgreSQL skips blanks after a comma: still one list */
	rs = parse_ok("local db1, db2 all trust\n");
	ck_assert_uint_eq(match_line(rs, "unix", "[local]", "u", "db2"), 1);
	hba_rules_free(rs);

	/* continuation: the record keeps its first line number */
	rs = parse_ok("# x\r\nlocal all \\\r\n   all \\\ntrust\r\nlocal all all md5 # c \\\n"
	              "more comment\n\n   \t\nhost all all ::1/128 trust");
	ck_assert_uint_eq(hba_rules_count(rs), 3);
	c.database = "d";
	ck_assert(hba_rules_match(rs, &c, &res));
	ck_assert_uint_eq(res.line, 2);
	ck_assert_str_eq(res.method, "trust");
	ck_assert_uint_eq(match_line(rs, "tcp", "::1", "u", "d"), 9);
	hba_rules_free(rs);

	/* a quoted keyword is a name; a quote later in the token is not */
	rs = parse_ok("local \"sameuser\" all trust\nlocal sa\"meuser\" all md5\n");
	ck_assert_uint_eq(match_line(rs, "unix", "[local]", "u", "u"), 2);
	ck_assert_uint_eq(match_line(rs, "unix", "[local]", "u", "sameuser"), 1);
	hba_rules_free(rs);

	/* empty file, comments only */
	rs = parse_ok("# nothing\n\n");
	ck_assert_uint_eq(hba_rules_count(rs), 0);
	ck_assert_uint_eq(match_line(rs, "unix", "[local]", "u", "d"), 0);
	hba_rules_free(rs);

	/* ordinary regexes stay well inside the complexity guard */
	/* (a comma splits a list, so such a regex is quoted, as in PostgreSQL) */
	rs = parse_ok("local all \"/^[a-w]{1,63}$\" a\n"
	              "local all \"/^(svc|app)_[a-z0-9]+(_[0-9]{2,4})?$\" b\n"
	              "local all \"/^x{10,}y+z*$\" c\nlocal all /^[{]x$ d\n"
	              "local all /^((a+)*_)+x?$ e\n");
	ck_assert_uint_eq(match_line(rs, "unix", "[local]", "aa_a_x", "d"), 5);
	ck_assert_uint_eq(match_line(rs, "unix", "[local]", "abc", "d"), 1);
	ck_assert_uint_eq(match_line(rs, "unix", "[local]", "app_x_123", "d"), 2);
	ck_assert_uint_eq(match_line(rs, "unix", "[local]", "xxxxxxxxxxyy", "d"), 3);
	ck_assert_uint_eq(match_line(rs, "unix", "[local]", "{x", "d"), 4);
	hba_rules_free(rs);

	/* regex database (PostgreSQL 16), "/" inside a quoted token too */
	rs = parse_ok("local /^t[0-9]+$ all trust\nlocal \"/^x\" all md5\n");
	ck_assert_uint_eq(match_line(rs, "unix", "[local]", "u", "t42"), 1);
	ck_assert_uint_eq(match_line(rs, "unix", "[local]", "u", "t4x"), 0);
	ck_assert_uint_eq(match_line(rs, "unix", "[local]", "u", "xyz"), 2);
	hba_rules_free(rs);
}
END_TEST

START_TEST(test_cidr_edges)
{
	struct hba_rules *rs = parse_ok("host all all 192.168.0.0/0 a\n"
	                                "host all all ::/0 b\n");

	ck_assert_uint_eq(match_line(rs, "tcp", "1.1.1.1", "u", "d"), 1);
	ck_assert_uint_eq(match_line(rs, "tcp", "2001::1", "u", "d"), 2);
	hba_rules_free(rs);

	rs = parse_ok("host all all 10.0.0.7/32 a\n"
	              "host all all 2001:db8::7/128 b\n"
	              "host all all 10.0.0.0/31 c\n"
	              "host all all 10.0.0.0 255.0.255.0 d\n"
	              "host all all 2001:db8:: ffff:ffff:: e\n");
	ck_assert_uint_eq(match_line(rs, "tcp", "10.0.0.7", "u", "d"), 1);
	ck_assert_uint_eq(match_line(rs, "tcp", "10.0.0.6", "u", "d"), 4);
	ck_assert_uint_eq(match_line(rs, "tcp", "10.0.0.1", "u", "d"), 3);
	ck_assert_uint_eq(match_line(rs, "tcp", "10.0.0.2", "u", "d"), 4);
	ck_assert_uint_eq(match_line(rs, "tcp", "2001:db8::7", "u", "d"), 2);
	ck_assert_uint_eq(match_line(rs, "tcp", "2001:db8::8", "u", "d"), 5);
	/* a non-contiguous mask is a bitwise compare, as in PostgreSQL */
	ck_assert_uint_eq(match_line(rs, "tcp", "10.77.0.99", "u", "d"), 4);
	ck_assert_uint_eq(match_line(rs, "tcp", "10.77.1.99", "u", "d"), 0);
	ck_assert_uint_eq(match_line(rs, "tcp", "2001:db9::", "u", "d"), 0);
	hba_rules_free(rs);
}
END_TEST

/* samehost / samenet: loopback is an interface on any test machine. */
START_TEST(test_samehost_samenet)
{
	struct hba_rules *rs = parse_ok("host all all samehost a\n"
	                                "host all all samenet b\n");

	ck_assert_uint_eq(match_line(rs, "tcp", "127.0.0.1", "u", "d"), 1);
	ck_assert_uint_eq(match_line(rs, "tcp", "127.0.0.2", "u", "d"), 2);
	ck_assert_uint_eq(match_line(rs, "tcp", "127.255.0.9", "u", "d"), 2);
	ck_assert_uint_eq(match_line(rs, "unix", "[local]", "u", "d"), 0);
	hba_rules_free(rs);
}
END_TEST

/* ------------------------------------------------------------ errors */

static const struct {
	const char *text;
	const char *want;
} bad[] = {
        {"local all all trust\nfoo all all trust\n",
         "pg_hba.conf:2: invalid connection type \"foo\""},
        {"host,local all all trust\n",
         "pg_hba.conf:1: multiple values specified for connection type"},
        {"\nlocal\n", "pg_hba.conf:2: end-of-line before database specification"},
        {"local all\n", "pg_hba.conf:1: end-of-line before role specification"},
        {"local all all\n", "pg_hba.conf:1: end-of-line before authentication method"},
        {"host all all\n", "pg_hba.conf:1: end-of-line before IP address specification"},
        {"host all all 1.2.3.4\n", "pg_hba.conf:1: end-of-line before netmask specification"},
        {"host all all 1.2.3.4 trust\n", "pg_hba.conf:1: invalid IP mask \"trust\""},
        {"host all all 300.1.2.3/32 trust\n", "pg_hba.conf:1: invalid IP address \"300.1.2.3/32\""},
        {"host all all 1.2.3.4/33 trust\n",
         "pg_hba.conf:1: invalid CIDR mask in address \"1.2.3.4/33\""},
        {"host all all ::1/129 trust\n", "pg_hba.conf:1: invalid CIDR mask in address \"::1/129\""},
        {"host all all 1.2.3.4/x trust\n", "pg_hba.conf:1: invalid CIDR mask in address"},
        {"host all all 1.2.3.4/ trust\n", "pg_hba.conf:1: invalid CIDR mask in address"},
        {"host all all 1.2.3.4,5.6.7.8/32 trust\n", "multiple values specified for host address"},
        {"#\n#\nhost all all 10.0.0.0 255.0.255.x trust\n",
         "pg_hba.conf:3: invalid IP mask \"255.0.255.x\""},
        {"host all all 10.0.0.0 ffff:: trust\n", "pg_hba.conf:1: IP address and mask do not match"},
        {"host all all db.example.com trust\n",
         "pg_hba.conf:1: host names in the address column are not supported by pgsluice; use an "
         "address"},
        {"host all all .example.com/24 trust\n",
         "host names in the address column are not supported"},
        {"host all all \"samehost\" trust\n", "host names in the address column are not supported"},
        {"host all +admins 1.2.3.4/32 trust\n",
         "pg_hba.conf:1: group names (\"+admins\") are not supported"},
        {"local samerole all trust\n", "pg_hba.conf:1: \"samerole\" is not supported by pgsluice"},
        {"local samegroup all trust\n",
         "pg_hba.conf:1: \"samegroup\" is not supported by pgsluice"},
        {"host all all 1.2.3.4/32 peer\n",
         "pg_hba.conf:1: peer authentication is only supported on local sockets"},
        {"local all all ident\n",
         "pg_hba.conf:1: ident authentication is not supported on local sockets; use peer"},
        {"local all all gss\n",
         "pg_hba.conf:1: gssapi authentication is not supported on local sockets"},
        {"host all all 1.2.3.4/32 cert\n",
         "pg_hba.conf:1: cert authentication is only supported on hostssl connections"},
        {"hostnossl all all 1.2.3.4/32 cert\n", "cert authentication is only supported on hostssl"},
        {"host all all 1.2.3.4/32 md5 clientcert=verify-ca\n",
         "pg_hba.conf:1: clientcert can only be configured for \"hostssl\" rows"},
        {"hostssl all all 1.2.3.4/32 md5 clientcert=1\n",
         "pg_hba.conf:1: invalid value for clientcert: \"1\""},
        {"hostssl all all 1.2.3.4/32 cert clientcert=verify-ca\n",
         "pg_hba.conf:1: clientcert only accepts \"verify-full\" when using \"cert\" "
         "authentication"},
        {"local all all trust foo\n",
         "pg_hba.conf:1: authentication option not in name=value format: foo"},
        {"local all all trust a=1,b\n",
         "pg_hba.conf:1: authentication option not in name=value format: b"},
        {"local all all trust =1\n",
         "pg_hba.conf:1: authentication option not in name=value format: =1"},
        {"local all all @methods\n", "pg_hba.conf:1: @file inclusion (\"@methods\") is only "
                                     "supported in the database and user columns"},
        {"local \"abc all trust\n", "pg_hba.conf:1: unterminated quoted string"},
        {"local all all \"\"\n", "pg_hba.conf:1: empty authentication method"},
        {"local all /(a all trust\n", "pg_hba.conf:1: invalid regular expression \"(a\""},
        {"local all /(a)\\1 trust\n", "back-references are not supported"},
        {"local all /((a{100}){100}){100} trust\n", "too complex"},
        {"local all /a++++++++++++++++++++ trust\n", "repetitions nested too deeply"},
        {"local all /(((a+)*_)+x)* trust\n", "repetitions nested too deeply"},
        {"local all \"/(a{1,99}b{1,99}c{1,99}){99}\" trust\n", "too complex"},
        {"local all /(((((((((((((((((((((((((((((((((((a))))))))))))))))))))))))))))))))))) "
         "trust\n",
         "parentheses nested too deeply"},
        {"local all all trust\nlocal \\\n all \\\n all\nlocal all all trust\n",
         "pg_hba.conf:2: end-of-line before authentication method"},
};

START_TEST(test_bad_lines)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hba_rules *rs = NULL;
		const char *t = bad[i].text;
		int rc = hba_rules_parse("/etc/pgsluice/pg_hba.conf", t, strlen(t), 0, &rs, err,
		                         sizeof(err));

		ck_assert_msg(rc < 0, "case %zu parsed but should fail: %s", i, t);
		ck_assert_ptr_null(rs);
		ck_assert_msg(strstr(err, bad[i].want) != NULL, "case %zu: want \"%s\", got \"%s\"",
		              i, bad[i].want, err);
		ck_assert_msg(strncmp(err, "/etc/pgsluice/pg_hba.conf:", 26) == 0,
		              "case %zu: error does not start with the file: %s", i, err);
	}
}
END_TEST

START_TEST(test_nul_byte)
{
	static const char text[] = "local all all trust\nlocal all all tr\0ust\n";
	struct hba_rules *rs = NULL;
	int rc = hba_rules_parse("pg_hba.conf", text, sizeof(text) - 1, 0, &rs, err, sizeof(err));

	ck_assert_int_lt(rc, 0);
	ck_assert_msg(strstr(err, "pg_hba.conf:2: line contains a NUL byte") == err, "%s", err);
}
END_TEST

START_TEST(test_line_too_long)
{
	size_t n = HBA_MAX_LINE + 100;
	char *text = malloc(n + 64);
	struct hba_rules *rs = NULL;
	int rc;

	ck_assert_ptr_nonnull(text);
	strcpy(text, "local all all trust\nlocal all all trust a=");
	memset(text + strlen(text), 'x', n);
	text[n] = '\n';
	text[n + 1] = '\0';
	rc = hba_rules_parse("pg_hba.conf", text, strlen(text), 0, &rs, err, sizeof(err));
	ck_assert_int_lt(rc, 0);
	ck_assert_msg(strstr(err, "pg_hba.conf:2: line too long (limit 8192 bytes)") != NULL, "%s",
	              err);

	/* exactly at the limit is fine */
	memset(text, ' ', HBA_MAX_LINE);
	memcpy(text, "local all all trust", 19);
	text[HBA_MAX_LINE] = '\0';
	rc = hba_rules_parse("pg_hba.conf", text, strlen(text), 0, &rs, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	hba_rules_free(rs);

	/* joined continuation lines count as one */
	memset(text, 'x', HBA_MAX_LINE);
	memcpy(text, "local all all trust a=", 22);
	memcpy(text + HBA_MAX_LINE / 2, "\\\n", 2);
	strcpy(text + HBA_MAX_LINE, "yyyyyy\n");
	rc = hba_rules_parse("pg_hba.conf", text, strlen(text), 0, &rs, err, sizeof(err));
	ck_assert_int_lt(rc, 0);
	ck_assert_msg(strstr(err, "pg_hba.conf:1: line too long") != NULL, "%s", err);
	free(text);
}
END_TEST

START_TEST(test_too_many_rules)
{
	const char *line = "local all all trust\n";
	size_t ll = strlen(line), n = HBA_MAX_ENTRIES + 1;
	char *text = malloc(n * ll + 1);
	struct hba_rules *rs = NULL;
	int rc;

	ck_assert_ptr_nonnull(text);
	for (size_t i = 0; i < n; i++)
		memcpy(text + i * ll, line, ll);
	rc = hba_rules_parse("pg_hba.conf", text, (n - 1) * ll, 0, &rs, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_uint_eq(hba_rules_count(rs), HBA_MAX_ENTRIES);
	hba_rules_free(rs);
	rc = hba_rules_parse("pg_hba.conf", text, n * ll, 0, &rs, err, sizeof(err));
	ck_assert_int_lt(rc, 0);
	ck_assert_msg(strstr(err, "pg_hba.conf:10001: too many entries (limit 10000)") != NULL,
	              "%s", err);
	free(text);
}
END_TEST

START_TEST(test_include_errors)
{
	struct hba_rules *rs = NULL;
	const char *t;
	int rc;

	/* a file that includes itself: the depth limit, naming both files */
	t = "local all all trust\nhost all @loop.txt 1.2.3.4/32 trust\n";
	rc = hba_rules_parse(DATA "/mem.conf", t, strlen(t), 0, &rs, err, sizeof(err));
	ck_assert_int_eq(rc, -ELOOP);
	ck_assert_msg(strstr(err, DATA
	                     "/loop.txt:2: @file inclusions nested too deeply (limit 10)") == err,
	              "%s", err);
	ck_assert_msg(strstr(err, "(included from " DATA "/mem.conf:2)") != NULL, "%s", err);

	/* a missing file */
	t = "local @nope.txt all trust\n";
	rc = hba_rules_parse(DATA "/mem.conf", t, strlen(t), 0, &rs, err, sizeof(err));
	ck_assert_int_eq(rc, -ENOENT);
	ck_assert_msg(strstr(err, DATA "/nope.txt: cannot open: ") == err, "%s", err);
	ck_assert_msg(strstr(err, "(included from " DATA "/mem.conf:1)") != NULL, "%s", err);

	/* inclusion disabled (parsing from memory for the fuzzer) */
	t = "local @users.txt all trust\n";
	rc = hba_rules_parse(DATA "/mem.conf", t, strlen(t), HBA_NO_INCLUDE, &rs, err, sizeof(err));
	ck_assert_int_lt(rc, 0);
	ck_assert_msg(strstr(err, DATA "/mem.conf:1: @file inclusion is disabled here") == err,
	              "%s", err);

	/* a lone "@" is a name, a quoted "@x" too */
	t = "local @ \"@users.txt\" trust\n";
	rc = hba_rules_parse(DATA "/mem.conf", t, strlen(t), HBA_NO_INCLUDE, &rs, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_uint_eq(match_line(rs, "unix", "[local]", "@users.txt", "@"), 1);
	hba_rules_free(rs);

	/* a missing pg_hba file */
	rc = hba_rules_load(DATA "/missing.conf", &rs, err, sizeof(err));
	ck_assert_int_eq(rc, -ENOENT);
	ck_assert_msg(strstr(err, DATA "/missing.conf: cannot open: No such file") == err, "%s",
	              err);
	rc = hba_rules_load(DATA, &rs, err, sizeof(err));
	ck_assert_int_lt(rc, 0);
	ck_assert_msg(strstr(err, "is a directory") != NULL, "%s", err);
}
END_TEST

/* ------------------------------------------------------------ ident */

static struct hba_ident *load_ident(void)
{
	struct hba_ident *id = NULL;
	int rc = hba_ident_load(DATA "/pg_ident.conf", &id, err, sizeof(err));

	ck_assert_msg(rc == 0, "%s", err);
	return id;
}

START_TEST(test_ident_match)
{
	struct hba_ident *id = load_ident();

	ck_assert_uint_eq(hba_ident_count(id), 5);
	/* exact */
	ck_assert_int_eq(hba_ident_match(id, "omicron", "bryanh", "bryanh", false), 0);
	ck_assert_int_eq(hba_ident_match(id, "omicron", "robert", "bob", false), 0);
	ck_assert_int_eq(hba_ident_match(id, "omicron", "robert", "robert", false), -EACCES);
	ck_assert_int_eq(hba_ident_match(id, "omicron", "bob", "bob", false), -EACCES);
	/* regex with \1 */
	ck_assert_int_eq(hba_ident_match(id, "krb", "alice@EXAMPLE.COM", "alice", false), 0);
	ck_assert_int_eq(hba_ident_match(id, "krb", "alice@EXAMPLE.COM", "bob", false), -EACCES);
	ck_assert_int_eq(hba_ident_match(id, "krb", "alice@EXAMPLExCOM", "alice", false), -EACCES);
	ck_assert_int_eq(hba_ident_match(id, "krb", "alice@OTHER.COM", "alice", false), -EACCES);
	ck_assert_int_eq(hba_ident_match(id, "krb", "@EXAMPLE.COM", "", false), 0);
	ck_assert_int_eq(hba_ident_match(id, "krb", "admin@anything", "postgres", false), 0);
	ck_assert_int_eq(hba_ident_match(id, "suffix", "jo.ops", "ops_jo_x", false), 0);
	ck_assert_int_eq(hba_ident_match(id, "suffix", "jo.ops", "ops_jo_", false), -EACCES);
	ck_assert_int_eq(hba_ident_match(id, "suffix", "jo.ops", "ops_jo_xx", false), -EACCES);
	/* unknown map, map names are case-sensitive */
	ck_assert_int_eq(hba_ident_match(id, "nomap", "robert", "bob", false), -ENOENT);
	ck_assert_int_eq(hba_ident_match(id, "OMICRON", "robert", "bob", false), -ENOENT);
	ck_assert_int_eq(hba_ident_match(NULL, "omicron", "robert", "bob", false), -ENOENT);
	/* case_insensitive (krb_caseins_users) */
	ck_assert_int_eq(hba_ident_match(id, "omicron", "ROBERT", "BOB", false), -EACCES);
	ck_assert_int_eq(hba_ident_match(id, "omicron", "ROBERT", "BOB", true), 0);
	ck_assert_int_eq(hba_ident_match(id, "krb", "alice@EXAMPLE.COM", "ALICE", false), -EACCES);
	ck_assert_int_eq(hba_ident_match(id, "krb", "alice@EXAMPLE.COM", "ALICE", true), 0);
	ck_assert_int_eq(hba_ident_match(id, "suffix", "jo.ops", "OPS_JO_X", true), 0);
	ck_assert_int_eq(hba_ident_match(id, "omicron", "ROBERT", "BOBBY", true), -EACCES);
	hba_ident_free(id);
}
END_TEST

static const struct {
	const char *text;
	const char *want;
} bad_ident[] = {
        {"m a\n", "pg_ident.conf:1: missing entry at end of line"},
        {"# c\nm\n", "pg_ident.conf:2: missing entry at end of line"},
        {"m a,b c\n", "pg_ident.conf:1: multiple values in ident field"},
        {"m a b c\n", "pg_ident.conf:1: extra field after the PostgreSQL user name: \"c\""},
        {"m /(a b\n", "pg_ident.conf:1: invalid regular expression \"(a\""},
        {"m /abc \\1\n", "pg_ident.conf:1: regular expression \"abc\" has no subexpressions"},
        {"m @users.txt b\n", "pg_ident.conf:1: @file inclusion (\"@users.txt\") is not supported"},
        {"m \"a b\n", "pg_ident.conf:1: unterminated quoted string"},
};

START_TEST(test_ident_errors)
{
	for (size_t i = 0; i < sizeof(bad_ident) / sizeof(bad_ident[0]); i++) {
		struct hba_ident *id = NULL;
		const char *t = bad_ident[i].text;
		int rc = hba_ident_parse("pg_ident.conf", t, strlen(t), 0, &id, err, sizeof(err));

		ck_assert_msg(rc < 0, "case %zu parsed but should fail: %s", i, t);
		ck_assert_ptr_null(id);
		ck_assert_msg(strstr(err, bad_ident[i].want) == err,
		              "case %zu: want \"%s\", got \"%s\"", i, bad_ident[i].want, err);
	}
}
END_TEST

START_TEST(test_ident_quoted)
{
	struct hba_ident *id = NULL;
	const char *t = "\"my map\" \"os user\" \"Pg User\"\nm /^(x)$ \"\\1 y\"\n";
	int rc = hba_ident_parse("pg_ident.conf", t, strlen(t), 0, &id, err, sizeof(err));

	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_int_eq(hba_ident_match(id, "my map", "os user", "Pg User", false), 0);
	ck_assert_int_eq(hba_ident_match(id, "m", "x", "x y", false), 0);
	ck_assert_int_eq(hba_ident_match(id, "m", "xx", "xx y", false), -EACCES);
	hba_ident_free(id);
}
END_TEST

static Suite *hba_suite(void)
{
	Suite *s = suite_create("hba");
	TCase *tc = tcase_create("rules");

	tcase_add_test(tc, test_match_table);
	tcase_add_test(tc, test_match_result);
	tcase_add_test(tc, test_tokenizer);
	tcase_add_test(tc, test_cidr_edges);
	tcase_add_test(tc, test_samehost_samenet);
	tcase_add_test(tc, test_bad_lines);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_line_too_long);
	tcase_add_test(tc, test_too_many_rules);
	tcase_add_test(tc, test_include_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("ident");
	tcase_add_test(tc, test_ident_match);
	tcase_add_test(tc, test_ident_errors);
	tcase_add_test(tc, test_ident_quoted);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hba_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
