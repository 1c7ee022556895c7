/*
 * check_config.c — unit tests of the configuration loader (core/config.c).
 *
 * Fixtures that are whole configurations (the issue's example, the merge
 * tree, the shipped pgsluice.conf + conf.d) live in the source tree; the
 * error cases write small files into a temporary directory, so each test
 * shows the text whose line numbers it asserts.
 */
#include "autoconf.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "config.h"
#include "pgsluice/module.h"

#define DATA TEST_SRCDIR "/unit/data"

/* A listener, so that "nothing to listen on" stays out of the way. */
#define BASE "listen = ( { port = 6432; } );\n"

static char tmpdir[PATH_MAX];
static char errbuf[65536];

/* ------------------------------------------------------------ helpers */

static void tmp_setup(void)
{
	const char *t = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/pgs-check-config-XXXXXX", t && *t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	errbuf[0] = '\0';
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void tmp_teardown(void)
{
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* tmpdir/rel, in one of a few rotating buffers. */
static const char *tpath(const char *rel)
{
	static char bufs[4][PATH_MAX + 64];
	static int next;
	char *b = bufs[next++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", tmpdir, rel);
	return b;
}

/* Write tmpdir/rel (creating conf.d/ as needed). */
static void put(const char *rel, const char *text)
{
	FILE *f;

	if (strncmp(rel, "conf.d/", 7) == 0)
		(void)mkdir(tpath("conf.d"), 0755);
	f = fopen(tpath(rel), "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq((int)fwrite(text, 1, strlen(text), f), (int)strlen(text));
	ck_assert_int_eq(fclose(f), 0);
}

static struct pgs_config *load(const char *rel)
{
	return config_load(tpath(rel), errbuf, sizeof(errbuf));
}

/* Is there an error line "<tmpdir>/<rel>:<line>: ...msg..." (or without
 * ":<line>" when line is 0)? */
static bool has_err(const char *rel, int line, const char *msg)
{
	char prefix[PATH_MAX + 128];
	const char *p = errbuf;
	size_t plen;

	if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s/%s:%d: ", tmpdir, rel, line);
	else
		snprintf(prefix, sizeof(prefix), "%s/%s: ", tmpdir, rel);
	plen = strlen(prefix);
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (len >= plen && memcmp(p, prefix, plen) == 0) {
			char lbuf[2048];

			snprintf(lbuf, sizeof(lbuf), "%.*s", (int)len, p);
			if (strstr(lbuf + plen, msg) != NULL)
				return true;
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return false;
}

#define assert_err(rel, line, msg)                                                                \
	ck_assert_msg(has_err(rel, line, msg), "expected \"%s:%d: ...%s...\" in:\n%s", rel, line, \
	              msg, errbuf)

static int count_lines(const char *s)
{
	int n = 0;

	if (*s == '\0')
		return 0;
	for (n = 1; *s != '\0'; s++)
		if (*s == '\n')
			n++;
	return n;
}

#define assert_nerr(n)                                                                    \
	ck_assert_msg(count_lines(errbuf) == (n), "expected %d errors, got %d:\n%s", (n), \
	              count_lines(errbuf), errbuf)

/* Load tmpdir/main.conf expecting failure. */
static void load_bad(void)
{
	struct pgs_config *cfg = load("main.conf");

	if (cfg != NULL)
		config_free(cfg);
	ck_assert_msg(cfg == NULL, "config loaded but should not have");
	ck_assert_msg(errbuf[0] != '\0', "no error message");
}

static struct pgs_config *load_good(const char *path)
{
	struct pgs_config *cfg = config_load(path, errbuf, sizeof(errbuf));

	ck_assert_msg(cfg != NULL, "load failed:\n%s", errbuf);
	ck_assert_str_eq(errbuf, "");
	return cfg;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* ------------------------------------------------------------ whole configs */

START_TEST(test_issue_config)
{
	struct pgs_config *cfg = load_good(DATA "/issue/pgsluice.conf");
	const struct cfg_pool *p;

	ck_assert_str_eq(cfg->path, DATA "/issue/pgsluice.conf");
	ck_assert_uint_eq(cfg->nfiles, 1);

	ck_assert_uint_eq(cfg->nlisten, 2);
	ck_assert_str_eq(cfg->listen[0].host, "127.0.0.1");
	ck_assert_int_eq(cfg->listen[0].port, 6432);
	ck_assert_str_eq(cfg->listen[1].host, "::1");
	ck_assert_int_eq(cfg->listen[1].port, 6432);
	ck_assert(ends_with(cfg->listen[1].where, "issue/pgsluice.conf:1"));

	ck_assert_str_eq(cfg->unix_socket_dir, "/tmp/pgsluice");
	ck_assert_int_eq(cfg->unix_socket_mode, 0777);
	ck_assert_int_eq(cfg->workers, 2);
	ck_assert_int_eq(cfg->max_client_conn, 5000);
	ck_assert_int_eq(cfg->log_level, PGS_LOG_INFO);
	ck_assert(cfg->log_connections);
	ck_assert(cfg->log_disconnections);
	ck_assert_str_eq(cfg->module_path, "/usr/local/lib/pgsluice");

	ck_assert_uint_eq(cfg->nmodules, 1);
	ck_assert_str_eq(cfg->modules[0].name, "trust");
	ck_assert_str_eq(cfg->modules[0].path, "trust.so");
	ck_assert_str_eq(cfg->modules[0].full_path, "/usr/local/lib/pgsluice/trust.so");
	ck_assert_ptr_nonnull(cfg->modules[0].group);
	ck_assert(ends_with(cfg->modules[0].where, "issue/pgsluice.conf:7"));

	ck_assert_uint_eq(cfg->nservers, 1);
	ck_assert_str_eq(cfg->servers[0].name, "main");
	ck_assert_str_eq(cfg->servers[0].host, "127.0.0.1");
	ck_assert_int_eq(cfg->servers[0].port, 5432);

	ck_assert_uint_eq(cfg->npools, 1);
	p = &cfg->pools[0];
	ck_assert_str_eq(p->database, "*");
	ck_assert_str_eq(p->user, "*");
	ck_assert_str_eq(p->server, "main");
	ck_assert_int_eq(p->server_index, 0);
	ck_assert_int_eq(p->mode, POOL_TRANSACTION);
	ck_assert_int_eq(p->max_size, 20);
	ck_assert_int_eq(p->min_size, 0);
	ck_assert_int_eq(p->initial_size, 0);
	ck_assert_str_eq(p->password, "secret");
	ck_assert_ptr_null(p->server_user);
	ck_assert_ptr_null(p->server_database);
	ck_assert_ptr_null(p->server_reset_query);
	ck_assert(ends_with(p->where, "issue/pgsluice.conf:10"));
	ck_assert_ptr_eq(config_find_pool(cfg, "any", "one"), p);

	ck_assert_uint_eq(cfg->nchains, 0);
	ck_assert_str_eq(cfg->default_chain.name, "default");
	ck_assert_uint_eq(cfg->default_chain.nsteps, 1);
	ck_assert_str_eq(cfg->default_chain.steps[0].use, "trust");
	ck_assert_int_eq(cfg->default_chain.steps[0].control, CTL_REQUIRED);
	ck_assert(ends_with(cfg->default_chain.steps[0].where, "issue/pgsluice.conf:13"));

	/* not in the file: defaults */
	ck_assert_int_eq(cfg->query_wait_timeout, 120000);
	ck_assert_int_eq(cfg->server_idle_timeout, 600000);
	ck_assert_int_eq(cfg->server_lifetime, 3600000);
	ck_assert_int_eq(cfg->client_idle_timeout, 0);
	ck_assert_int_eq(cfg->server_connect_timeout, 15000);
	ck_assert_int_eq(cfg->client_login_timeout, 60000);
	ck_assert_int_eq(cfg->shutdown_timeout, 30000);
	ck_assert_str_eq(cfg->server_reset_query, "DISCARD ALL");
	config_free(cfg);
}
END_TEST

START_TEST(test_merge_confd)
{
	struct pgs_config *cfg = load_good(DATA "/merge/pgsluice.conf");
	const struct cfg_module *m;
	const struct cfg_pool *p;
	const struct cfg_chain *c;
	const config_setting_t *opt;
	size_t i;

	/* main + 10-first + 20-second + 9-last; not .hidden.conf, notes.txt,
	 * 15-old.conf.bak or the directory x.conf */
	ck_assert_uint_eq(cfg->nfiles, 4);

	/* scalars: the last file in strcmp order wins ("9-" > "20-") */
	ck_assert_int_eq(cfg->workers, 3);
	ck_assert_int_eq(cfg->max_client_conn, 77);
	ck_assert_int_eq(cfg->server_idle_timeout, 1500);

	/* listen: replaced whole by 20-second.conf; host defaults */
	ck_assert_uint_eq(cfg->nlisten, 1);
	ck_assert_str_eq(cfg->listen[0].host, "127.0.0.1");
	ck_assert_int_eq(cfg->listen[0].port, 7000);
	ck_assert(ends_with(cfg->listen[0].where, "conf.d/20-second.conf:9"));

	/* log: key by key */
	ck_assert_int_eq(cfg->log_level, PGS_LOG_DEBUG);
	ck_assert(cfg->log_connections);
	ck_assert(cfg->log_disconnections);

	/* modules: merged by name; trust replaced whole (no `opt` left) */
	ck_assert_uint_eq(cfg->nmodules, 3);
	ck_assert(ends_with(cfg->module_path, "/unit/data/merge/mods"));
	ck_assert_int_eq(cfg->module_path[0], '/');
	for (i = 0, m = NULL; i < cfg->nmodules; i++)
		if (strcmp(cfg->modules[i].name, "trust") == 0)
			m = &cfg->modules[i];
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->path, "/opt/trust2.so");
	ck_assert_str_eq(m->full_path, "/opt/trust2.so");
	ck_assert_ptr_null(config_setting_get_member(m->group, "opt"));
	ck_assert(ends_with(m->where, "conf.d/20-second.conf:2"));
	for (i = 0, m = NULL; i < cfg->nmodules; i++)
		if (strcmp(cfg->modules[i].name, "reject") == 0)
			m = &cfg->modules[i];
	ck_assert_ptr_nonnull(m);
	ck_assert(ends_with(m->full_path, "/unit/data/merge/mods/reject.so"));

	/* servers: by name */
	ck_assert_uint_eq(cfg->nservers, 2);
	ck_assert_str_eq(cfg->servers[0].name, "main");
	ck_assert_str_eq(cfg->servers[0].host, "/var/run/postgresql");
	ck_assert_int_eq(cfg->servers[0].port, 5432);
	ck_assert_str_eq(cfg->servers[1].name, "replica");
	ck_assert_str_eq(cfg->servers[1].host, "10.0.0.2");
	ck_assert_int_eq(cfg->servers[1].port, 5432);

	/* pools: by (database, user) */
	ck_assert_uint_eq(cfg->npools, 2);
	p = config_find_pool(cfg, "x", "y");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->server, "replica");
	ck_assert_int_eq(p->server_index, 1);
	ck_assert_int_eq(p->max_size, 30);
	ck_assert_int_eq(p->mode, POOL_TRANSACTION);
	ck_assert(ends_with(p->where, "conf.d/20-second.conf:5"));
	p = config_find_pool(cfg, "app", "y");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->database, "app");
	ck_assert_int_eq(p->mode, POOL_SESSION);

	/* chains, with step options reachable through the group */
	ck_assert_uint_eq(cfg->nchains, 1);
	c = config_find_chain(cfg, "strong");
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(config_find_chain(cfg, "weak"));
	ck_assert_uint_eq(c->nsteps, 1);
	ck_assert_str_eq(c->steps[0].use, "scram");
	ck_assert_int_eq(c->steps[0].control, CTL_REQUISITE);
	opt = config_setting_get_member(c->steps[0].group, "rounds");
	ck_assert_ptr_nonnull(opt);
	ck_assert_int_eq(config_setting_get_int(opt), 3);

	/* auth from the main file survives */
	ck_assert_uint_eq(cfg->default_chain.nsteps, 1);
	ck_assert_str_eq(cfg->default_chain.steps[0].use, "trust");
	config_free(cfg);
}
END_TEST

START_TEST(test_shipped_config)
{
	struct pgs_config *cfg = load_good(TEST_SRCDIR "/../pgsluice.conf");
	const char *want[] = {"hba", "userlist", "trust", "reject", "scram", "peer", "password"};
	const char *where[] = {"10-modules.conf:11", "10-modules.conf:17", "10-modules.conf:19",
	                       "10-modules.conf:20", "10-modules.conf:21", "10-modules.conf:22",
	                       "10-modules.conf:23"};
	size_t i, k;

	ck_assert_uint_eq(cfg->nfiles, 5);
	ck_assert_uint_eq(cfg->nlisten, 2);
	ck_assert_str_eq(cfg->listen[0].host, "127.0.0.1");
	ck_assert_int_eq(cfg->listen[0].port, 6432);
	ck_assert_str_eq(cfg->listen[1].host, "::1");
	ck_assert_int_eq(cfg->listen[1].port, 6432);
	ck_assert_str_eq(cfg->unix_socket_dir, "/tmp");
	ck_assert_int_eq(cfg->unix_socket_mode, 0777);
	ck_assert_int_eq(cfg->workers, 0);
	ck_assert(cfg->log_connections);
	ck_assert(cfg->log_disconnections);
	ck_assert_int_eq(cfg->log_level, PGS_LOG_INFO);
	ck_assert_str_eq(cfg->module_path, PGS_MODULE_DIR);

	ck_assert_uint_eq(cfg->nmodules, 7); /* md5 is commented out */
	for (k = 0; k < 7; k++) {
		char so[32];

		snprintf(so, sizeof(so), "%s.so", want[k]);
		for (i = 0; i < cfg->nmodules; i++)
			if (strcmp(cfg->modules[i].name, want[k]) == 0)
				break;
		ck_assert_msg(i < cfg->nmodules, "no module %s", want[k]);
		ck_assert_str_eq(cfg->modules[i].path, so);
		ck_assert_msg(ends_with(cfg->modules[i].where, where[k]), "%s: %s", want[k],
		              cfg->modules[i].where);
	}

	ck_assert_uint_eq(cfg->nservers, 1);
	ck_assert_str_eq(cfg->servers[0].name, "main");
	ck_assert_str_eq(cfg->servers[0].host, "127.0.0.1");
	ck_assert_int_eq(cfg->servers[0].port, 5432);

	ck_assert_uint_eq(cfg->npools, 1);
	ck_assert_str_eq(cfg->pools[0].database, "*");
	ck_assert_str_eq(cfg->pools[0].user, "*");
	ck_assert_str_eq(cfg->pools[0].server, "main");
	ck_assert_int_eq(cfg->pools[0].server_index, 0);
	ck_assert_int_eq(cfg->pools[0].mode, POOL_TRANSACTION);
	ck_assert_int_eq(cfg->pools[0].max_size, 20);

	/* hba decides; the chains carry PostgreSQL's method names */
	ck_assert_uint_eq(cfg->default_chain.nsteps, 0);
	ck_assert_uint_eq(cfg->nchains, 1);
	ck_assert_str_eq(cfg->chains[0].name, "scram-sha-256");
	ck_assert_uint_eq(cfg->chains[0].nsteps, 1);
	ck_assert_str_eq(cfg->chains[0].steps[0].use, "scram");
	ck_assert_int_eq(cfg->chains[0].steps[0].control, CTL_REQUIRED);
	ck_assert_int_eq(cfg->client_login_timeout, 60000); /* auth_timeout = 60 */
	config_free(cfg);
}
END_TEST

/* ------------------------------------------------------------ errors */

START_TEST(test_parse_error)
{
	put("main.conf", BASE "workers = ;\n");
	load_bad();
	assert_err("main.conf", 2, "syntax error");
	assert_nerr(1);
}
END_TEST

START_TEST(test_confd_errors_all_reported)
{
	put("main.conf", BASE);
	put("conf.d/10-a.conf", "workers = 1;\nmodules = { x = ; };\n");
	put("conf.d/20-b.conf", "wokers = 2;\n");
	put("conf.d/.30-c.conf", "garbage garbage\n");
	put("conf.d/40-d.txt", "garbage garbage\n");
	load_bad();
	assert_err("conf.d/10-a.conf", 2, "syntax error");
	assert_err("conf.d/20-b.conf", 1, "wokers: unknown setting");
	assert_nerr(2);
}
END_TEST

START_TEST(test_unknown_keys)
{
	put("main.conf",
	    "listen = ( { port = 6432; hots = \"x\"; } );\n"
	    "lisen = 5;\n"
	    "log = { levle = \"info\"; };\n"
	    "servers = ( { name = \"a\"; host = \"h\"; hostname = \"x\"; } );\n"
	    "pools = ( { database = \"d\"; user = \"u\"; server = \"a\"; max_szie = 3; } );\n"
	    "auth = { default = 1; };\n"
	    "modules = { m = { path = \"m.so\"; anything = 1; nested = { x = 1; }; }; };\n"
	    "chains = { c = ( { use = \"m\"; some_option = \"x\"; } ); };\n");
	load_bad();
	assert_err("main.conf", 1, "listen[0].hots: unknown setting");
	assert_err("main.conf", 2, "lisen: unknown setting");
	assert_err("main.conf", 3, "log.levle: unknown setting");
	assert_err("main.conf", 4, "servers[0].hostname: unknown setting");
	assert_err("main.conf", 5, "pools[0].max_szie: unknown setting");
	assert_err("main.conf", 6, "auth.default: unknown setting");
	/* module keys and step options are not ours to refuse */
	assert_nerr(6);
}
END_TEST

START_TEST(test_wrong_types)
{
	put("main.conf", "listen = ( { host = 1; port = 6432; } );\n"
	                 "workers = \"2\";\n"
	                 "log = { connections = 1; level = 3; };\n"
	                 "servers = { name = \"a\"; };\n"
	                 "pools = ( { database = \"d\"; user = \"u\"; server = \"a\"; max_size = "
	                 "2.5; mode = 1; } );\n"
	                 "server_idle_timeout = \"10\";\n"
	                 "modules = { m = \"x.so\"; };\n"
	                 "chains = { c = { use = \"m\"; }; };\n"
	                 "unix_socket_dir = 5;\n"
	                 "auth = ( 1 );\n"
	                 "listen2 = 1;\n");
	load_bad();
	assert_err("main.conf", 1, "listen[0].host: expected a string, got an integer");
	assert_err("main.conf", 2, "workers: expected an integer, got a string");
	assert_err("main.conf", 3, "log.connections: expected true or false, got an integer");
	assert_err("main.conf", 3, "log.level: expected a string, got an integer");
	assert_err("main.conf", 4, "servers: expected a list of groups");
	assert_err("main.conf", 5, "pools[0].max_size: expected an integer, got a float");
	assert_err("main.conf", 5, "pools[0].mode: expected a string, got an integer");
	assert_err("main.conf", 6,
	           "server_idle_timeout: expected a number of seconds, got a string");
	assert_err("main.conf", 7, "modules.m: expected a group");
	assert_err("main.conf", 8, "chains.c: expected a list of steps");
	assert_err("main.conf", 9, "unix_socket_dir: expected a string, got an integer");
	assert_err("main.conf", 10, "auth: expected a group, got a list");
	assert_err("main.conf", 11, "listen2: unknown setting");
}
END_TEST

START_TEST(test_out_of_range)
{
	put("main.conf",
	    "listen = ( { port = 0; }, { port = 70000; }, { host = \"localhost\"; port = 1; } );\n"
	    "workers = 257;\n"
	    "max_client_conn = 0;\n"
	    "query_wait_timeout = -1;\n"
	    "servers = ( { name = \"a\"; host = \"h\"; port = 65536; } );\n"
	    "pools = ( { database = \"d\"; user = \"u\"; server = \"a\"; max_size = 0; } );\n"
	    "unix_socket_mode = 01000;\n"
	    "log = { level = \"verbose\"; };\n"
	    "shutdown_timeout = -0.5;\n"
	    "pools2 = 1;\n");
	load_bad();
	assert_err("main.conf", 1, "listen[0].port: 0 is out of range (1..65535)");
	assert_err("main.conf", 1, "listen[1].port: 70000 is out of range (1..65535)");
	assert_err("main.conf", 1, "listen[2].host: \"localhost\" is not an IPv4 or IPv6 address");
	assert_err("main.conf", 2, "workers: 257 is out of range (0..256)");
	assert_err("main.conf", 3, "max_client_conn: 0 is out of range (must be >= 1)");
	assert_err("main.conf", 4, "query_wait_timeout: -1 is out of range");
	assert_err("main.conf", 5, "servers[0].port: 65536 is out of range (1..65535)");
	assert_err("main.conf", 6, "pools[0].max_size: 0 is out of range (must be >= 1)");
	assert_err("main.conf", 7, "unix_socket_mode: 512 is out of range");
	assert_err("main.conf", 8, "log.level: unknown level \"verbose\"");
	assert_err("main.conf", 9, "shutdown_timeout: -0.5 is out of range");
	assert_err("main.conf", 10, "pools2: unknown setting");
	/* every listener was bad, so there is also nothing to listen on */
	assert_err("main.conf", 1, "nothing to listen on");
	assert_nerr(13);
}
END_TEST

START_TEST(test_pool_sizes)
{
	put("main.conf",
	    BASE "servers = ( { name = \"a\"; host = \"h\"; } );\n"
	         "pools = ( { database = \"d1\"; user = \"u\"; server = \"a\"; min_size = 5; "
	         "max_size = 2; },\n"
	         "  { database = \"d2\"; user = \"u\"; server = \"a\"; initial_size = 21; },\n"
	         "  { database = \"d3\"; user = \"u\"; server = \"a\"; max_size = 1; min_size = 1; "
	         "initial_size = 1; } );\n");
	load_bad();
	assert_err("main.conf", 3, "pools[0]: min_size (5) is greater than max_size (2)");
	assert_err("main.conf", 4, "pools[1]: initial_size (21) is greater than max_size (20)");
	assert_nerr(2);
}
END_TEST

START_TEST(test_pool_unknown_server)
{
	put("main.conf", BASE "servers = ( { name = \"a\"; host = \"h\"; } );\n"
	                      "pools = ( { database = \"d\"; user = \"u\";\n"
	                      "            server = \"b\"; } );\n");
	load_bad();
	assert_err("main.conf", 4, "pools[0].server: no server named \"b\"");
	assert_nerr(1);
}
END_TEST

START_TEST(test_server_gss)
{
	struct pgs_config *c;

	put("main.conf", BASE "servers = ( { name = \"a\"; host = \"h\"; },\n"
	                      "  { name = \"b\"; host = \"h\"; gssencmode = \"require\";\n"
	                      "    krbsrvname = \"pg\"; } );\n");
	c = load_good(tpath("main.conf"));
	ck_assert_str_eq(c->servers[0].gssencmode, "disable");
	ck_assert_str_eq(c->servers[0].krbsrvname, "postgres");
	ck_assert_str_eq(c->servers[1].gssencmode, "require");
	ck_assert_str_eq(c->servers[1].krbsrvname, "pg");
	config_free(c);
	put("main.conf", BASE "servers = ( { name = \"a\"; host = \"h\";\n"
	                      "  gssencmode = \"allow\";\n"
	                      "  krbsrvname = \"postgres/x\"; } );\n");
	load_bad();
	assert_err("main.conf", 3,
	           "servers[0].gssencmode: unknown gssencmode \"allow\" (expected disable, "
	           "prefer or require)");
	assert_err("main.conf", 4, "servers[0].krbsrvname: invalid Kerberos service name");
	assert_nerr(2);
}
END_TEST

START_TEST(test_pool_security)
{
	struct pgs_config *cfg;

	put("main.conf",
	    BASE "modules = { vault = { path = \"vault.so\"; }; aq = { path = \"a.so\"; }; };\n"
	         "servers = ( { name = \"a\"; host = \"h\"; } );\n"
	         "pools = ( { database = \"d1\"; user = \"*\"; server = \"a\"; },\n"
	         "  { database = \"d2\"; user = \"*\"; server = \"a\"; security = \"vault\"; },\n"
	         "  { database = \"d3\"; user = \"*\"; server = \"a\";\n"
	         "    security = \"frontend-users\"; vault = \"vault\"; },\n"
	         "  { database = \"d4\"; user = \"*\"; server = \"a\"; security = \"authquery\";\n"
	         "    authquery = \"aq\"; password = \"pw\"; } );\n");
	cfg = load_good(tpath("main.conf"));
	ck_assert_int_eq(cfg->pools[0].security, SEC_PASSTHROUGH);
	ck_assert_ptr_null(cfg->pools[0].cred_instance);
	ck_assert_int_eq(cfg->pools[1].security, SEC_VAULT);
	ck_assert_str_eq(cfg->pools[1].cred_instance, "vault");
	ck_assert_int_eq(cfg->pools[2].security, SEC_FRONTEND_USERS);
	ck_assert_str_eq(cfg->pools[2].cred_instance, "vault");
	ck_assert_int_eq(cfg->pools[3].security, SEC_AUTHQUERY);
	ck_assert_str_eq(cfg->pools[3].cred_instance, "aq");
	ck_assert_str_eq(pool_security_name(cfg->pools[3].security), "authquery");
	config_free(cfg);

	put("main.conf", BASE
	    "modules = { vault = { path = \"vault.so\"; }; };\n"
	    "servers = ( { name = \"a\"; host = \"h\"; } );\n"
	    "pools = ( { database = \"d1\"; user = \"*\"; server = \"a\"; security = \"vaults\"; "
	    "},\n"
	    "  { database = \"d2\"; user = \"*\"; server = \"a\"; security = \"vault\";\n"
	    "    password = \"pw\"; },\n"
	    "  { database = \"d3\"; user = \"*\"; server = \"a\"; vault = \"vault\"; },\n"
	    "  { database = \"d4\"; user = \"*\"; server = \"a\"; security = \"authquery\"; },\n"
	    "  { database = \"d5\"; user = \"*\"; server = \"a\"; security = \"vault\";\n"
	    "    authquery = \"x\"; } );\n");
	load_bad();
	assert_err("main.conf", 4, "pools[0].security: unknown security model \"vaults\"");
	assert_err("main.conf", 6, "pools[1].password: not allowed with security = vault");
	assert_err("main.conf", 7,
	           "pools[2].vault: only used with security = vault or frontend-users");
	assert_err("main.conf", 8,
	           "pools[3]: security = authquery needs a credential module instance "
	           "named \"authquery\"");
	assert_err("main.conf", 10, "pools[4].authquery: not used with security = vault");
	assert_nerr(5);
}
END_TEST

START_TEST(test_pool_server_in_later_file)
{
	struct pgs_config *cfg;

	put("main.conf",
	    BASE "pools = ( { database = \"d\"; user = \"u\"; server = \"late\"; } );\n");
	put("conf.d/50-servers.conf",
	    "servers = ( { name = \"early\"; host = \"h1\"; },\n"
	    "            { name = \"late\"; host = \"h2\"; port = 5555; } );\n");
	cfg = load_good(tpath("main.conf"));
	ck_assert_int_eq(cfg->pools[0].server_index, 1);
	ck_assert_int_eq(cfg->servers[cfg->pools[0].server_index].port, 5555);
	config_free(cfg);
}
END_TEST

START_TEST(test_chain_errors)
{
	put("main.conf", BASE "modules = { m = { path = \"m.so\"; }; };\n"
	                      "chains = { c = ( { use = \"m\"; control = \"sufficient\"; },\n"
	                      "               { use = \"nope\"; },\n"
	                      "               { use = \"m\"; control = \"maybe\"; },\n"
	                      "               { control = \"optional\"; } ); };\n"
	                      "auth = { default_chain = ( { use = \"ghost\"; } ); };\n");
	load_bad();
	assert_err("main.conf", 4, "chains.c[1].use: no module instance named \"nope\"");
	assert_err("main.conf", 5, "chains.c[2].control: unknown control \"maybe\"");
	assert_err("main.conf", 6, "chains.c[3]: missing required setting \"use\"");
	assert_err("main.conf", 7, "auth.default_chain[0].use: no module instance named \"ghost\"");
	assert_nerr(4);
}
END_TEST

START_TEST(test_duplicates_in_one_file)
{
	char first[PATH_MAX + 64];

	put("main.conf", BASE "servers = ( { name = \"a\"; host = \"h1\"; },\n"
	                      "            { name = \"b\"; host = \"h2\"; },\n"
	                      "            { name = \"a\"; host = \"h3\"; } );\n"
	                      "pools = ( { database = \"d\"; user = \"u\"; server = \"a\"; },\n"
	                      "          { database = \"d\"; user = \"u\"; server = \"b\"; } );\n");
	load_bad();
	snprintf(first, sizeof(first), "(first defined at %s/main.conf:2)", tmpdir);
	assert_err("main.conf", 4, "servers[2].name: duplicate server name \"a\"");
	assert_err("main.conf", 4, first);
	assert_err("main.conf", 6, "pools[1]: duplicate pool for database \"d\", user \"u\"");
	assert_nerr(2);
}
END_TEST

START_TEST(test_missing_required)
{
	put("main.conf", "listen = ( { host = \"::1\"; } );\n"
	                 "servers = ( { name = \"a\"; }, { host = \"h\"; } );\n"
	                 "pools = ( { database = \"d\"; server = \"a\"; } );\n"
	                 "modules = { m = { opt = 1; }; };\n"
	                 "auth = { default_chain = ( { control = \"required\"; } ); };\n"
	                 "unix_socket_dir = \"/tmp\";\n");
	load_bad();
	assert_err("main.conf", 1, "listen[0]: missing required setting \"port\"");
	assert_err("main.conf", 2, "servers[0]: missing required setting \"host\"");
	assert_err("main.conf", 2, "servers[1]: missing required setting \"name\"");
	assert_err("main.conf", 3, "pools[0]: missing required setting \"user\"");
	assert_err("main.conf", 4, "modules.m: missing required setting \"path\"");
	assert_err("main.conf", 5, "auth.default_chain[0]: missing required setting \"use\"");
	assert_nerr(6);
}
END_TEST

START_TEST(test_nothing_to_listen_on)
{
	struct pgs_config *cfg;

	put("main.conf", "workers = 1;\n");
	load_bad();
	assert_err("main.conf", 0, "nothing to listen on");
	assert_nerr(1);

	put("main.conf", "workers = 1;\nlisten = ();\n");
	load_bad();
	assert_err("main.conf", 2, "nothing to listen on");

	/* "" turns off a Unix socket set by an earlier file */
	put("main.conf", "listen = ();\nunix_socket_dir = \"/tmp\";\n");
	put("conf.d/10-nosock.conf", "unix_socket_dir = \"\";\n");
	load_bad();
	assert_err("main.conf", 1, "nothing to listen on");

	/* a Unix socket alone is enough */
	ck_assert_int_eq(unlink(tpath("conf.d/10-nosock.conf")), 0);
	cfg = load_good(tpath("main.conf"));
	ck_assert_uint_eq(cfg->nlisten, 0);
	ck_assert_str_eq(cfg->unix_socket_dir, "/tmp");
	ck_assert_uint_eq(cfg->npools, 0);
	ck_assert_uint_eq(cfg->nservers, 0);
	ck_assert_uint_eq(cfg->default_chain.nsteps, 0);
	config_free(cfg);
}
END_TEST

START_TEST(test_several_errors_one_file)
{
	put("main.conf", BASE "workers = -1;\n"
	                      "max_client_conn = \"many\";\n"
	                      "log = { level = \"loud\"; };\n"
	                      "bogus = 1;\n"
	                      "servers = ( { name = \"a\"; host = \"h\"; port = 0; } );\n");
	load_bad();
	assert_nerr(5);
	assert_err("main.conf", 2, "workers:");
	assert_err("main.conf", 3, "max_client_conn:");
	assert_err("main.conf", 4, "log.level:");
	assert_err("main.conf", 5, "bogus:");
	assert_err("main.conf", 6, "servers[0].port:");
	/* in file order */
	ck_assert(strstr(errbuf, "workers:") < strstr(errbuf, "bogus:"));
}
END_TEST

START_TEST(test_main_is_directory)
{
	struct pgs_config *cfg;

	ck_assert_int_eq(mkdir(tpath("dir.conf"), 0755), 0);
	cfg = load("dir.conf");
	ck_assert_ptr_null(cfg);
	assert_err("dir.conf", 0, "not a regular file");
	assert_nerr(1);

	cfg = config_load(tmpdir, errbuf, sizeof(errbuf));
	ck_assert_ptr_null(cfg);
	ck_assert_ptr_nonnull(strstr(errbuf, "not a regular file"));

	/* a FIFO must not hang the loader either */
	ck_assert_int_eq(mkfifo(tpath("fifo.conf"), 0600), 0);
	cfg = load("fifo.conf");
	ck_assert_ptr_null(cfg);
	assert_err("fifo.conf", 0, "not a regular file");
}
END_TEST

START_TEST(test_missing_file)
{
	struct pgs_config *cfg = load("nope.conf");

	ck_assert_ptr_null(cfg);
	assert_err("nope.conf", 0, "cannot open: No such file or directory");
	assert_nerr(1);

	cfg = config_load(NULL, errbuf, sizeof(errbuf));
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(errbuf, "no configuration file given");
	cfg = config_load("", NULL, 0);
	ck_assert_ptr_null(cfg);
}
END_TEST

START_TEST(test_confd_oddities)
{
	struct pgs_config *cfg;

	/* a dangling symlink is an error (fail closed), a directory is not */
	put("main.conf", BASE);
	ck_assert_int_eq(mkdir(tpath("conf.d"), 0755), 0);
	ck_assert_int_eq(mkdir(tpath("conf.d/sub.conf"), 0755), 0);
	ck_assert_int_eq(symlink("/nonexistent/x", tpath("conf.d/50-link.conf")), 0);
	load_bad();
	assert_err("conf.d/50-link.conf", 0, "cannot stat");
	assert_nerr(1);

	/* conf.d that is a file */
	tmp_teardown();
	tmp_setup();
	put("main.conf", BASE);
	put("conf.d", "x");
	load_bad();
	assert_err("conf.d", 0, "cannot read the directory");

	/* an empty conf.d is fine */
	ck_assert_int_eq(unlink(tpath("conf.d")), 0);
	ck_assert_int_eq(mkdir(tpath("conf.d"), 0755), 0);
	cfg = load_good(tpath("main.conf"));
	ck_assert_uint_eq(cfg->nfiles, 1);
	config_free(cfg);
}
END_TEST

START_TEST(test_find_pool_precedence)
{
	struct pgs_config *cfg;
	const struct cfg_pool *p;

	put("main.conf",
	    BASE "servers = ( { name = \"s\"; host = \"h\"; } );\n"
	         "pools = (\n"
	         "  { database = \"*\"; user = \"*\"; server = \"s\"; max_size = 1; },\n"
	         "  { database = \"app\"; user = \"*\"; server = \"s\"; max_size = 2; },\n"
	         "  { database = \"*\"; user = \"bob\"; server = \"s\"; max_size = 3; },\n"
	         "  { database = \"app\"; user = \"bob\"; server = \"s\"; max_size = 4; },\n"
	         "  { database = \"other\"; user = \"alice\"; server = \"s\"; max_size = 5; }\n"
	         ");\n");
	cfg = load_good(tpath("main.conf"));
	ck_assert_int_eq(config_find_pool(cfg, "app", "bob")->max_size, 4);
	ck_assert_int_eq(config_find_pool(cfg, "app", "carol")->max_size, 2);
	ck_assert_int_eq(config_find_pool(cfg, "x", "bob")->max_size, 3);
	ck_assert_int_eq(config_find_pool(cfg, "x", "y")->max_size, 1);
	ck_assert_int_eq(config_find_pool(cfg, "other", "alice")->max_size, 5);
	ck_assert_int_eq(config_find_pool(cfg, "other", "bob")->max_size, 3);
	ck_assert_ptr_null(config_find_pool(cfg, NULL, "bob"));
	ck_assert_ptr_null(config_find_pool(NULL, "a", "b"));
	config_free(cfg);

	/* without a "*"/"*" pool, an unmatched pair has no pool */
	put("main.conf",
	    BASE "servers = ( { name = \"s\"; host = \"h\"; } );\n"
	         "pools = ( { database = \"app\"; user = \"*\"; server = \"s\"; } );\n");
	cfg = load_good(tpath("main.conf"));
	p = config_find_pool(cfg, "other", "bob");
	ck_assert_ptr_null(p);
	ck_assert_ptr_nonnull(config_find_pool(cfg, "app", "bob"));
	config_free(cfg);
}
END_TEST

START_TEST(test_timeouts)
{
	struct pgs_config *cfg;

	put("main.conf", BASE "query_wait_timeout = 5;\n"
	                      "server_idle_timeout = 0.25;\n"
	                      "server_lifetime = 10L;\n"
	                      "client_idle_timeout = 0;\n"
	                      "server_connect_timeout = 1.5;\n"
	                      "client_login_timeout = 0.001;\n"
	                      "shutdown_timeout = 1e1;\n"
	                      "server_reset_query = \"\";\n");
	cfg = load_good(tpath("main.conf"));
	ck_assert_int_eq(cfg->query_wait_timeout, 5000);
	ck_assert_int_eq(cfg->server_idle_timeout, 250);
	ck_assert_int_eq(cfg->server_lifetime, 10000);
	ck_assert_int_eq(cfg->client_idle_timeout, 0);
	ck_assert_int_eq(cfg->server_connect_timeout, 1500);
	ck_assert_int_eq(cfg->client_login_timeout, 1);
	ck_assert_int_eq(cfg->shutdown_timeout, 10000);
	ck_assert_str_eq(cfg->server_reset_query, "");
	config_free(cfg);

	put("main.conf", BASE "query_wait_timeout = true;\n"
	                      "server_lifetime = 3000000000L;\n");
	load_bad();
	assert_err("main.conf", 2,
	           "query_wait_timeout: expected a number of seconds, got a boolean");
	assert_err("main.conf", 3, "server_lifetime: 3e+09 is out of range");
}
END_TEST

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

START_TEST(test_long_strings)
{
	char *big = repeat('a', PGS_CONFIG_MAX_STRING + 1);
	char *ok = repeat('b', PGS_CONFIG_MAX_STRING);
	char *name = repeat('k', PGS_CONFIG_MAX_STRING + 10);
	size_t len = 3 * PGS_CONFIG_MAX_STRING + 1024;
	char *text = malloc(len);
	struct pgs_config *cfg;

	ck_assert_ptr_nonnull(text);
	snprintf(text, len,
	         BASE "servers = ( { name = \"s\"; host = \"%s\"; } );\n"
	              "modules = { m = { path = \"m.so\"; opt = \"%s\"; }; };\n",
	         big, big);
	put("main.conf", text);
	load_bad();
	assert_err("main.conf", 2, "servers[0].host: string longer than 4096 bytes");
	assert_err("main.conf", 3, "modules.m.opt: string longer than 4096 bytes");
	assert_nerr(2);

	snprintf(text, len, BASE "modules = { m = { path = \"m.so\"; %s = 1; }; };\n", name);
	put("main.conf", text);
	load_bad();
	assert_err("main.conf", 2, "setting name longer than 4096 bytes");

	/* exactly the limit is fine */
	snprintf(text, len, BASE "servers = ( { name = \"s\"; host = \"%s\"; } );\n", ok);
	put("main.conf", text);
	cfg = load_good(tpath("main.conf"));
	ck_assert_uint_eq(strlen(cfg->servers[0].host), PGS_CONFIG_MAX_STRING);
	config_free(cfg);

	/* a Unix socket directory must fit in sun_path */
	snprintf(text, len, "unix_socket_dir = \"/%.100s\";\n", ok);
	put("main.conf", text);
	load_bad();
	assert_err("main.conf", 1, "unix_socket_dir: longer than 92 bytes");
	put("main.conf", "unix_socket_dir = \"tmp\";\n");
	load_bad();
	assert_err("main.conf", 1, "unix_socket_dir: \"tmp\" is not an absolute path");

	/* nesting is bounded too */
	{
		size_t off = 0;
		int i;

		off += (size_t)snprintf(text + off, len - off,
		                        BASE "modules = { m = { path = \"m.so\"; o = ");
		for (i = 0; i < 40; i++)
			off += (size_t)snprintf(text + off, len - off, "{ a = ");
		off += (size_t)snprintf(text + off, len - off, "1;");
		for (i = 0; i < 40; i++)
			off += (size_t)snprintf(text + off, len - off, " };");
		snprintf(text + off, len - off, " }; };\n");
		put("main.conf", text);
		load_bad();
		assert_err("main.conf", 2, "nested deeper than 32 levels");
		assert_nerr(1);
	}

	/* and so is the file size (a sparse file: nothing is written) */
	put("main.conf", BASE);
	ck_assert_int_eq(truncate(tpath("main.conf"), PGS_CONFIG_MAX_FILE_SIZE + 1), 0);
	load_bad();
	assert_err("main.conf", 0, "file too large");
	free(text);
	free(name);
	free(ok);
	free(big);
}
END_TEST

START_TEST(test_secret_never_printed)
{
	char *big = repeat('S', PGS_CONFIG_MAX_STRING + 1);
	size_t len = 2 * PGS_CONFIG_MAX_STRING;
	char *text = malloc(len);

	ck_assert_ptr_nonnull(text);
	snprintf(text, len,
	         BASE "servers = ( { name = \"s\"; host = \"h\"; } );\n"
	              "pools = ( { database = \"d\"; user = \"u\"; server = \"nope\";\n"
	              "            password = \"hunter2-secret\"; mode = \"bogus\"; },\n"
	              "          { database = \"d2\"; user = \"u\"; server = \"s\";\n"
	              "            password = \"%sSSSS\"; min_size = 50; } );\n",
	         big);
	put("main.conf", text);
	load_bad();
	assert_err("main.conf", 4, "pools[0].mode: unknown pool mode \"bogus\"");
	assert_err("main.conf", 6, "pools[1].password: string longer than 4096 bytes");
	assert_err("main.conf", 5, "pools[1]: min_size (50) is greater than max_size (20)");
	ck_assert_ptr_null(strstr(errbuf, "hunter2"));
	ck_assert_ptr_null(strstr(errbuf, "SSSS"));
	free(text);
	free(big);
}
END_TEST

START_TEST(test_integer_literals)
{
	struct pgs_config *cfg;

	/* libconfig 1.5 would read these as 2 and 6536 */
	put("main.conf", "listen = ( { port = 4294973832; } );\n"
	                 "workers = 4294967298;\n"
	                 "max_client_conn = 0x100001388;\n");
	load_bad();
	assert_err("main.conf", 1, "integer 4294973832 is out of range");
	assert_err("main.conf", 2, "integer 4294967298 is out of range");
	assert_err("main.conf", 3, "integer 0x100001388 is out of range");
	assert_nerr(3);

	/* big digits in comments, strings, names, floats and L literals are
	 * left alone */
	put("main.conf", BASE "# workers = 99999999999;\n"
	                      "/* 99999999999\n"
	                      "   99999999999 */\n"
	                      "// 99999999999\n"
	                      "modules = { m = { path = \"m99999999999.so\"; k99999999999 = 5;\n"
	                      "  f = 99999999999.5; g = 1e20; h = 99999999999L; i = -2147483648;\n"
	                      "  j = 0xFFFFFFFF; k = \"\\\"99999999999\"; }; };\n"
	                      "workers = 4;\n");
	cfg = load_good(tpath("main.conf"));
	ck_assert_int_eq(cfg->workers, 4);
	config_free(cfg);
}
END_TEST

START_TEST(test_unix_socket_mode)
{
	struct pgs_config *cfg;

	put("main.conf", BASE "unix_socket_mode = 0770;\n");
	cfg = load_good(tpath("main.conf"));
	ck_assert_int_eq(cfg->unix_socket_mode, 0770);
	config_free(cfg);

	put("main.conf", BASE "unix_socket_mode =\n  0500;\n");
	cfg = load_good(tpath("main.conf"));
	ck_assert_int_eq(cfg->unix_socket_mode, 0500);
	config_free(cfg);

	put("main.conf", BASE "unix_socket_mode = \"0750\";\n");
	cfg = load_good(tpath("main.conf"));
	ck_assert_int_eq(cfg->unix_socket_mode, 0750);
	config_free(cfg);

	put("main.conf", BASE "unix_socket_mode = 511;\n");
	cfg = load_good(tpath("main.conf"));
	ck_assert_int_eq(cfg->unix_socket_mode, 0777);
	config_free(cfg);

	put("main.conf", BASE "unix_socket_mode = 0;\n");
	cfg = load_good(tpath("main.conf"));
	ck_assert_int_eq(cfg->unix_socket_mode, 0);
	config_free(cfg);

	put("main.conf", BASE "unix_socket_mode = 0778;\n");
	load_bad();
	assert_err("main.conf", 2, "unix_socket_mode: 0778 is not an octal number");
	put("main.conf", BASE "unix_socket_mode = 777;\n");
	load_bad();
	assert_err("main.conf", 2, "unix_socket_mode: 777 is out of range");
	put("main.conf", BASE "unix_socket_mode = \"rwx\";\n");
	load_bad();
	assert_err("main.conf", 2, "unix_socket_mode: \"rwx\" is not an octal mode");
}
END_TEST

START_TEST(test_include)
{
	struct pgs_config *cfg;

	/* @include of a directory: libconfig's scanner would exit() */
	ck_assert_int_eq(mkdir(tpath("sub"), 0755), 0);
	put("main.conf", BASE "@include \"sub\"\nworkers = 1;\n");
	load_bad();
	assert_err("main.conf", 2, "@include \"sub\": not a regular file");
	assert_nerr(1);

	/* ... also one level down */
	put("inc1.conf", "workers = 1;\n  @include \"sub\"\n");
	put("main.conf", BASE "@include \"inc1.conf\"\n");
	load_bad();
	ck_assert_msg(strstr(errbuf, "inc1.conf:2: @include \"sub\": not a regular file"), "%s",
	              errbuf);

	/* a commented-out include is not an include */
	put("main.conf", BASE "# @include \"sub\"\n/*\n@include \"sub\"\n*/\n");
	cfg = load_good(tpath("main.conf"));
	config_free(cfg);

	/* a regular include works and its settings name their own file */
	put("inc2.conf", "workers = 7;\nbad_key = 1;\n");
	put("main.conf", BASE "@include \"inc2.conf\"\n");
	load_bad();
	ck_assert_msg(strstr(errbuf, "inc2.conf:2: bad_key: unknown setting"), "%s", errbuf);
	put("inc2.conf", "workers = 7;\n");
	cfg = load_good(tpath("main.conf"));
	ck_assert_int_eq(cfg->workers, 7);
	config_free(cfg);

	/* a file including itself: libconfig's depth limit */
	put("loop.conf", "@include \"loop.conf\"\n");
	put("main.conf", BASE "@include \"loop.conf\"\n");
	load_bad();
	ck_assert_msg(strstr(errbuf, "loop.conf:1: include file nesting too deep"), "%s", errbuf);
	assert_nerr(1);

	/* ... four times per level: bounded work, one error */
	put("main.conf", BASE "@include \"main.conf\"\n@include \"main.conf\"\n"
	                      "@include \"main.conf\"\n@include \"main.conf\"\n");
	load_bad();
	ck_assert_msg(strstr(errbuf, "more than 256 @include directives"), "%s", errbuf);
	assert_nerr(1);
}
END_TEST

START_TEST(test_error_truncation)
{
	char text[4096], small[300];
	size_t off = 0;
	struct pgs_config *cfg;
	int i;
	char *nl, *last;

	off += (size_t)snprintf(text + off, sizeof(text) - off, BASE);
	for (i = 0; i < 50; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "unknown_%d = 1;\n", i);
	put("main.conf", text);
	cfg = config_load(tpath("main.conf"), small, sizeof(small));
	ck_assert_ptr_null(cfg);
	last = strrchr(small, '\n');
	ck_assert_ptr_nonnull(last);
	ck_assert_msg(strncmp(last + 1, "... and ", 8) == 0 && strstr(last, "more errors") != NULL,
	              "%s", small);
	/* every line before it is whole */
	for (nl = small; nl < last; nl = strchr(nl, '\n') + 1)
		ck_assert_msg(strncmp(nl, tmpdir, strlen(tmpdir)) == 0, "%s", small);
	ck_assert_uint_lt(strlen(small), sizeof(small));

	cfg = config_load(tpath("main.conf"), NULL, 0);
	ck_assert_ptr_null(cfg);
}
END_TEST

START_TEST(test_relative_paths)
{
	struct pgs_config *cfg;
	char cwd[PATH_MAX], want[PATH_MAX + 64];

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	put("main.conf",
	    BASE "module_path = \"lib/mods\";\n"
	         "modules = { a = { path = \"a.so\"; }; b = { path = \"/x/b.so\"; }; };\n");
	put("conf.d/10-x.conf", "nonsense = 1;\n");
	ck_assert_int_eq(chdir(tmpdir), 0);
	cfg = config_load("main.conf", errbuf, sizeof(errbuf));
	ck_assert_ptr_null(cfg);
	/* errors name files as the operator wrote them */
	ck_assert_msg(strstr(errbuf, "./conf.d/10-x.conf:1: nonsense: unknown setting"), "%s",
	              errbuf);

	ck_assert_int_eq(unlink("conf.d/10-x.conf"), 0);
	cfg = config_load("./main.conf", errbuf, sizeof(errbuf));
	ck_assert_msg(cfg != NULL, "%s", errbuf);
	snprintf(want, sizeof(want), "%s/main.conf", tmpdir);
	ck_assert_str_eq(cfg->path, want);
	snprintf(want, sizeof(want), "%s/lib/mods", tmpdir);
	ck_assert_str_eq(cfg->module_path, want);
	snprintf(want, sizeof(want), "%s/lib/mods/a.so", tmpdir);
	ck_assert_str_eq(cfg->modules[0].full_path, want);
	ck_assert_str_eq(cfg->modules[1].full_path, "/x/b.so");
	config_free(cfg);
	ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

START_TEST(test_auth_merge_and_empty_groups)
{
	struct pgs_config *cfg;

	put("main.conf",
	    BASE "modules = { t = { path = \"t.so\"; }; r = { path = \"r.so\"; }; };\n"
	         "auth = { default_chain = ( { use = \"t\"; control = \"sufficient\"; },\n"
	         "                           { use = \"r\"; control = \"optional\"; } ); };\n"
	         "chains = { a = ( { use = \"t\"; } ); b = (); };\n");
	put("conf.d/10-empty.conf",
	    "auth = {};\nchains = { a = ( { use = \"r\"; control = \"requisite\"; } ); };\n");
	cfg = load_good(tpath("main.conf"));
	ck_assert_uint_eq(cfg->default_chain.nsteps, 2);
	ck_assert_int_eq(cfg->default_chain.steps[0].control, CTL_SUFFICIENT);
	ck_assert_int_eq(cfg->default_chain.steps[1].control, CTL_OPTIONAL);
	ck_assert_uint_eq(cfg->nchains, 2);
	ck_assert_str_eq(config_find_chain(cfg, "a")->steps[0].use, "r");
	ck_assert_int_eq(config_find_chain(cfg, "a")->steps[0].control, CTL_REQUISITE);
	ck_assert_uint_eq(config_find_chain(cfg, "b")->nsteps, 0);
	config_free(cfg);
}
END_TEST

START_TEST(test_metrics)
{
	struct pgs_config *cfg;
	char host[64], why[96];
	int port = 0;

	/* absent: no endpoint */
	put("main.conf", BASE);
	cfg = load_good(tpath("main.conf"));
	ck_assert_ptr_null(cfg->metrics.host);
	config_free(cfg);

	put("main.conf", BASE "metrics = { listen = \"127.0.0.1:9187\"; };\n");
	cfg = load_good(tpath("main.conf"));
	ck_assert_str_eq(cfg->metrics.host, "127.0.0.1");
	ck_assert_int_eq(cfg->metrics.port, 9187);
	ck_assert_str_eq(cfg->metrics.path, "/metrics");
	ck_assert(ends_with(cfg->metrics.where, "main.conf:2"));
	config_free(cfg);

	/* a later file replaces the group whole */
	put("main.conf", BASE "metrics = { listen = \"[::1]:9100\"; path = \"/m\"; };\n");
	put("conf.d/10-metrics.conf", "metrics = { listen = \"*:9200\"; };\n");
	cfg = load_good(tpath("main.conf"));
	ck_assert_str_eq(cfg->metrics.host, "*");
	ck_assert_int_eq(cfg->metrics.port, 9200);
	ck_assert_str_eq(cfg->metrics.path, "/metrics");
	config_free(cfg);
	ck_assert_int_eq(remove(tpath("conf.d/10-metrics.conf")), 0);

	put("main.conf", BASE "metrics = { listen = \"localhost:9187\"; };\n"
	                      "#\n");
	load_bad();
	assert_err("main.conf", 2, "metrics.listen: \"localhost:9187\": the host is not an IPv4");
	put("main.conf", BASE "metrics = {\n"
	                      "  listen = \"127.0.0.1:70000\";\n"
	                      "};\n");
	load_bad();
	assert_err("main.conf", 3, "the port must be 1 to 65535");
	put("main.conf", BASE "metrics = { path = \"/x\"; };\n");
	load_bad();
	assert_err("main.conf", 2, "metrics: missing required setting \"listen\"");
	put("main.conf", BASE "metrics = { listen = \"127.0.0.1:1\";\n"
	                      "  path = \"metrics\"; colour = 1; };\n");
	load_bad();
	assert_err("main.conf", 3, "metrics.path: \"metrics\" must start with \"/\"");
	assert_err("main.conf", 3, "colour");
	put("main.conf", BASE "metrics = \"127.0.0.1:9187\";\n");
	load_bad();
	assert_err("main.conf", 2, "metrics: expected a group");

	/* the host:port parser itself */
	ck_assert_int_eq(
	        config_parse_host_port("[::1]:80", host, sizeof host, &port, why, sizeof why), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_int_eq(port, 80);
	ck_assert_int_eq(
	        config_parse_host_port("*:65535", host, sizeof host, &port, why, sizeof why), 0);
	ck_assert_str_eq(host, "*");
	ck_assert_int_eq(port, 65535);
	ck_assert_int_lt(
	        config_parse_host_port("::1:80", host, sizeof host, &port, why, sizeof why), 0);
	ck_assert_int_lt(
	        config_parse_host_port("[127.0.0.1]:80", host, sizeof host, &port, why, sizeof why),
	        0);
	ck_assert_int_lt(
	        config_parse_host_port("1.2.3.4:", host, sizeof host, &port, why, sizeof why), 0);
	ck_assert_int_lt(
	        config_parse_host_port("1.2.3.4:0", host, sizeof host, &port, why, sizeof why), 0);
	ck_assert_int_lt(
	        config_parse_host_port("1.2.3.4:+80", host, sizeof host, &port, why, sizeof why),
	        0);
	ck_assert_int_lt(
	        config_parse_host_port("[::1]80", host, sizeof host, &port, why, sizeof why), 0);
	ck_assert_int_lt(config_parse_host_port(":80", host, sizeof host, &port, why, sizeof why),
	                 0);
}
END_TEST

START_TEST(test_config_where)
{
	char buf[64];

	ck_assert_str_eq(config_where(NULL, buf, sizeof(buf)), "(unknown)");
	ck_assert_str_eq(config_where(NULL, NULL, 0), "");
}
END_TEST

/* ------------------------------------------------------------ runner */

START_TEST(test_admin)
{
	struct pgs_config *cfg;
	char users[PGS_ADMIN_MAX_USERS * 8 + 64];
	size_t off = 0;

	/* absent: no console */
	put("main.conf", BASE);
	cfg = load_good(tpath("main.conf"));
	ck_assert_ptr_null(cfg->admin.database);
	ck_assert_uint_eq(cfg->admin.nusers, 0);
	config_free(cfg);

	put("main.conf", BASE "admin = { users = ( \"ops\", \"alice\" ); };\n");
	cfg = load_good(tpath("main.conf"));
	ck_assert_str_eq(cfg->admin.database, "pgsluice");
	ck_assert_uint_eq(cfg->admin.nusers, 2);
	ck_assert_str_eq(cfg->admin.users[0], "ops");
	ck_assert_str_eq(cfg->admin.users[1], "alice");
	config_free(cfg);

	/* a later file replaces the group whole */
	put("main.conf", BASE "admin = { database = \"adm\"; users = ( \"ops\", \"x\" ); };\n");
	put("conf.d/10-admin.conf", "admin = { users = [ \"root\" ]; };\n");
	cfg = load_good(tpath("main.conf"));
	ck_assert_str_eq(cfg->admin.database, "pgsluice");
	ck_assert_uint_eq(cfg->admin.nusers, 1);
	ck_assert_str_eq(cfg->admin.users[0], "root");
	config_free(cfg);
	ck_assert_int_eq(remove(tpath("conf.d/10-admin.conf")), 0);

	/* an empty list is allowed: nobody may use the console */
	put("main.conf", BASE "admin = { users = [ ]; };\n");
	cfg = load_good(tpath("main.conf"));
	ck_assert_uint_eq(cfg->admin.nusers, 0);
	config_free(cfg);

	put("main.conf", BASE "admin = {\n  database = \"\";\n  users = ( \"ops\" ); };\n");
	load_bad();
	assert_err("main.conf", 3, "admin.database: \"\" must be 1 to 63 bytes");
	put("main.conf",
	    BASE "admin = { database = "
	         "\"0123456789012345678901234567890123456789012345678901234567890123\"; "
	         "users = ( \"ops\" ); };\n");
	load_bad();
	assert_err("main.conf", 2, "admin.database:");
	put("main.conf", BASE "admin = { database = \"pgsluice\"; };\n");
	load_bad();
	assert_err("main.conf", 2, "admin: missing required setting \"users\"");
	put("main.conf", BASE "admin = { users = \"ops\"; };\n");
	load_bad();
	assert_err("main.conf", 2, "admin.users: expected a list of user names");
	put("main.conf", BASE "admin = { users = ( \"ops\",\n 7 ); colour = 1; };\n");
	load_bad();
	assert_err("main.conf", 3, "admin.users[1]: expected a string");
	assert_err("main.conf", 3, "admin.colour: unknown setting");
	put("main.conf", BASE "admin = { users = ( \"\" ); };\n");
	load_bad();
	assert_err("main.conf", 2, "admin.users[0]: \"\" must be 1 to 63 bytes");
	put("main.conf", BASE "admin = \"pgsluice\";\n");
	load_bad();
	assert_err("main.conf", 2, "admin: expected a group");

	/* at most PGS_ADMIN_MAX_USERS names */
	for (int i = 0; i <= PGS_ADMIN_MAX_USERS; i++)
		off += (size_t)snprintf(users + off, sizeof users - off, "%s\"u%d\"", i ? "," : "",
		                        i);
	{
		char *text = malloc(strlen(BASE) + off + 64);

		ck_assert_ptr_nonnull(text);
		sprintf(text, "%sadmin = { users = ( %s ); };\n", BASE, users);
		put("main.conf", text);
		free(text);
	}
	load_bad();
	assert_err("main.conf", 2, "admin.users: 257 entries, at most 256 are allowed");
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("load");

	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, test_issue_config);
	tcase_add_test(tc, test_merge_confd);
	tcase_add_test(tc, test_shipped_config);
	tcase_add_test(tc, test_parse_error);
	tcase_add_test(tc, test_confd_errors_all_reported);
	tcase_add_test(tc, test_unknown_keys);
	tcase_add_test(tc, test_wrong_types);
	tcase_add_test(tc, test_out_of_range);
	tcase_add_test(tc, test_pool_sizes);
	tcase_add_test(tc, test_server_gss);
	tcase_add_test(tc, test_pool_unknown_server);
	tcase_add_test(tc, test_pool_server_in_later_file);
	tcase_add_test(tc, test_pool_security);
	tcase_add_test(tc, test_chain_errors);
	tcase_add_test(tc, test_duplicates_in_one_file);
	tcase_add_test(tc, test_missing_required);
	tcase_add_test(tc, test_nothing_to_listen_on);
	tcase_add_test(tc, test_several_errors_one_file);
	tcase_add_test(tc, test_main_is_directory);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_confd_oddities);
	tcase_add_test(tc, test_find_pool_precedence);
	tcase_add_test(tc, test_timeouts);
	tcase_add_test(tc, test_long_strings);
	tcase_add_test(tc, test_secret_never_printed);
	tcase_add_test(tc, test_integer_literals);
	tcase_add_test(tc, test_unix_socket_mode);
	tcase_add_test(tc, test_include);
	tcase_add_test(tc, test_error_truncation);
	tcase_add_test(tc, test_relative_paths);
	tcase_add_test(tc, test_auth_merge_and_empty_groups);
	tcase_add_test(tc, test_config_where);
	tcase_add_test(tc, test_metrics);
	tcase_add_test(tc, test_admin);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
