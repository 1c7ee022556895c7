/*
 * check_authquery.c — unit tests of the authquery module: its cache
 * (aq_cache.c: hits, TTLs with a fake clock, "absent" entries, LRU
 * eviction, wiping, limits, threads) and, only when PGSLUICE_TEST_PGPORT
 * is set, its PostgreSQL client (aq_pg.c) and the module itself (dlopen'ed
 * authquery.so behind a fake host) against a real PostgreSQL 15 such as
 * tests/lib/pg-up.sh starts:
 *
 *   PGSLUICE_TEST_PGPORT    the server's TCP port (on PGSLUICE_TEST_PGHOST,
 *                           default 127.0.0.1), where scramuser and md5user
 *                           log in with passwords
 *   PGSLUICE_TEST_PGSOCKET  its Unix socket directory, where the superuser
 *                           postgres logs in without a password (trust):
 *                           the tests load contrib/pgsluice_get_password.sql
 *                           and create their roles through it
 *
 * e.g.  . /tmp/x/pg/pg.env; PGSLUICE_TEST_PGPORT=$PGPORT \
 *       PGSLUICE_TEST_PGSOCKET=$PG_SOCKET_DIR tests/unit/check_authquery
 */
#include "autoconf.h"

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "pgsluice/module.h"

#include "../../modules/authquery/aq_cache.h"
#include "../../modules/authquery/aq_pg.h"

#define VERIFIER                                                                                   \
	"SCRAM-SHA-256$4096:AQIDBAUGBwgJCgsMDQ4PEA==$CnvBmCtH5guHF/5riSDtILlD9iBAYbJy10UwRk+Yolk=" \
	":Bzu3hfBLTt64NQb8FK3Nnsw/7zmY+HmsHw1uESFqsqM="
#define MD5_HASH      "md566d0ea9340e273eddb6aac0246425994"
#define AUTH_PASSWORD "aq pass 'quoted'"
#define INJECTION     "o'brien\"; drop table x; --"

static char err[AQ_PG_ERR_LEN];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ cache */

static uint64_t fake_now_ms;

static uint64_t fake_clock(void)
{
	return fake_now_ms;
}

static int released, released_dirty;

/* The release hook: memory must arrive wiped. */
static void check_wiped_release(void *p, size_t len)
{
	const unsigned char *b = p;

	released++;
	for (size_t i = 0; i < len; i++)
		if (b[i] != 0) {
			released_dirty++;
			break;
		}
	free(p);
}

static struct aq_cache *cache_new(size_t capacity)
{
	struct aq_cache_opts o = {
	        .capacity = capacity, .clock = fake_clock, .release = check_wiped_release};
	struct aq_cache *c = NULL;

	fake_now_ms = 1000;
	released = released_dirty = 0;
	ck_assert_int_eq(aq_cache_new(&o, &c), 0);
	return c;
}

static enum aq_cache_state get(struct aq_cache *c, const char *user, uint64_t found_age,
                               uint64_t absent_age, char *secret, const char **kind)
{
	static char scratch[AQ_CACHE_MAX_SECRET + 1];
	const char *k = NULL;
	size_t len = 0;
	enum aq_cache_state st;

	st = aq_cache_get(c, user, found_age, absent_age, secret ? secret : scratch, sizeof scratch,
	                  &len, &k);
	if (st == AQ_CACHE_FOUND) {
		ck_assert_uint_eq(len, strlen(secret ? secret : scratch));
		if (kind != NULL)
			*kind = k;
	}
	return st;
}

START_TEST(test_cache_hit)
{
	struct aq_cache *c = cache_new(10);
	char secret[AQ_CACHE_MAX_SECRET + 1];
	const char *kind = NULL;

	ck_assert_int_eq(aq_cache_put(c, "alice", VERIFIER, strlen(VERIFIER), "scram-sha-256"), 0);
	ck_assert_int_eq(aq_cache_put(c, "bob", MD5_HASH, strlen(MD5_HASH), "md5"), 0);
	ck_assert_int_eq(get(c, "alice", 60000, 5000, secret, &kind), AQ_CACHE_FOUND);
	ck_assert_str_eq(secret, VERIFIER);
	ck_assert_str_eq(kind, "scram-sha-256");
	ck_assert_int_eq(get(c, "bob", 60000, 5000, secret, &kind), AQ_CACHE_FOUND);
	ck_assert_str_eq(secret, MD5_HASH);
	ck_assert_str_eq(kind, "md5");
	/* exact, case-sensitive names */
	ck_assert_int_eq(get(c, "Alice", 60000, 5000, NULL, NULL), AQ_CACHE_MISS);
	ck_assert_int_eq(get(c, "alic", 60000, 5000, NULL, NULL), AQ_CACHE_MISS);
	ck_assert_int_eq(get(c, "", 60000, 5000, NULL, NULL), AQ_CACHE_MISS);
	ck_assert_uint_eq(aq_cache_count(c), 2);
	/* a new answer replaces the old one */
	ck_assert_int_eq(aq_cache_put(c, "alice", "pw", 2, "plain"), 0);
	ck_assert_int_eq(get(c, "alice", 60000, 5000, secret, &kind), AQ_CACHE_FOUND);
	ck_assert_str_eq(secret, "pw");
	ck_assert_str_eq(kind, "plain");
	ck_assert_uint_eq(aq_cache_count(c), 2);
	aq_cache_free(c);
}
END_TEST

START_TEST(test_cache_ttl)
{
	struct aq_cache *c = cache_new(10);

	ck_assert_int_eq(aq_cache_put(c, "alice", VERIFIER, strlen(VERIFIER), "scram-sha-256"), 0);
	fake_now_ms += 59999;
	ck_assert_int_eq(get(c, "alice", 60000, 5000, NULL, NULL), AQ_CACHE_FOUND);
	fake_now_ms += 1;
	ck_assert_int_eq(get(c, "alice", 60000, 5000, NULL, NULL), AQ_CACHE_MISS);
	/* stale for fetch, still there for lookup (any age) */
	ck_assert_int_eq(get(c, "alice", AQ_CACHE_ANY_AGE, 0, NULL, NULL), AQ_CACHE_FOUND);
	fake_now_ms += 86400000;
	ck_assert_int_eq(get(c, "alice", AQ_CACHE_ANY_AGE, 0, NULL, NULL), AQ_CACHE_FOUND);
	/* cache_ttl = 0: never fresh */
	ck_assert_int_eq(aq_cache_put(c, "alice", VERIFIER, strlen(VERIFIER), "scram-sha-256"), 0);
	ck_assert_int_eq(get(c, "alice", 0, 0, NULL, NULL), AQ_CACHE_MISS);
	ck_assert_int_eq(get(c, "alice", 1, 0, NULL, NULL), AQ_CACHE_FOUND);
	/* a clock that stood still (or a value from the past) is age 0 */
	fake_now_ms -= 10;
	ck_assert_int_eq(get(c, "alice", 1, 0, NULL, NULL), AQ_CACHE_FOUND);
	aq_cache_free(c);
}
END_TEST

START_TEST(test_cache_negative)
{
	struct aq_cache *c = cache_new(10);

	ck_assert_int_eq(aq_cache_put(c, "ghost", "ignored", 7, NULL), 0);
	ck_assert_uint_eq(aq_cache_count(c), 1);
	fake_now_ms += 4999;
	ck_assert_int_eq(get(c, "ghost", 60000, 5000, NULL, NULL), AQ_CACHE_ABSENT);
	/* lookup (absent age 0) never trusts it; nor does negative_ttl = 0 */
	ck_assert_int_eq(get(c, "ghost", AQ_CACHE_ANY_AGE, 0, NULL, NULL), AQ_CACHE_MISS);
	fake_now_ms += 1;
	ck_assert_int_eq(get(c, "ghost", 60000, 5000, NULL, NULL), AQ_CACHE_MISS);
	/* the role appears: the secret replaces "absent" */
	ck_assert_int_eq(aq_cache_put(c, "ghost", VERIFIER, strlen(VERIFIER), "scram-sha-256"), 0);
	ck_assert_int_eq(get(c, "ghost", 60000, 5000, NULL, NULL), AQ_CACHE_FOUND);
	/* and goes away again */
	ck_assert_int_eq(aq_cache_put(c, "ghost", NULL, 0, NULL), 0);
	ck_assert_int_eq(get(c, "ghost", AQ_CACHE_ANY_AGE, 0, NULL, NULL), AQ_CACHE_MISS);
	ck_assert_int_eq(get(c, "ghost", 60000, 5000, NULL, NULL), AQ_CACHE_ABSENT);
	ck_assert(aq_cache_remove(c, "ghost"));
	ck_assert(!aq_cache_remove(c, "ghost"));
	ck_assert_int_eq(get(c, "ghost", 60000, 5000, NULL, NULL), AQ_CACHE_MISS);
	ck_assert_uint_eq(aq_cache_count(c), 0);
	aq_cache_free(c);
}
END_TEST

START_TEST(test_cache_eviction)
{
	struct aq_cache *c = cache_new(3);

	ck_assert_int_eq(aq_cache_put(c, "a", "1", 1, "plain"), 0);
	fake_now_ms++;
	ck_assert_int_eq(aq_cache_put(c, "b", "2", 1, "plain"), 0);
	fake_now_ms++;
	ck_assert_int_eq(aq_cache_put(c, "c", NULL, 0, NULL), 0);
	/* using "a" makes "b" the least recently used */
	ck_assert_int_eq(get(c, "a", 60000, 5000, NULL, NULL), AQ_CACHE_FOUND);
	ck_assert_int_eq(aq_cache_put(c, "d", "4", 1, "plain"), 0);
	ck_assert_uint_eq(aq_cache_count(c), 3);
	ck_assert_int_eq(get(c, "b", AQ_CACHE_ANY_AGE, 0, NULL, NULL), AQ_CACHE_MISS);
	ck_assert_int_eq(get(c, "a", AQ_CACHE_ANY_AGE, 0, NULL, NULL), AQ_CACHE_FOUND);
	ck_assert_int_eq(get(c, "d", AQ_CACHE_ANY_AGE, 0, NULL, NULL), AQ_CACHE_FOUND);
	/* "c" (absent) is now the oldest: replacing "a" evicts nothing */
	ck_assert_int_eq(aq_cache_put(c, "a", "one", 3, "plain"), 0);
	ck_assert_uint_eq(aq_cache_count(c), 3);
	ck_assert_int_eq(get(c, "c", 60000, 5000, NULL, NULL), AQ_CACHE_ABSENT);
	ck_assert_int_eq(aq_cache_put(c, "e", "5", 1, "plain"), 0);
	ck_assert_int_eq(get(c, "d", AQ_CACHE_ANY_AGE, 0, NULL, NULL), AQ_CACHE_MISS);
	ck_assert_int_eq(get(c, "c", 60000, 5000, NULL, NULL), AQ_CACHE_ABSENT);
	ck_assert_uint_eq(aq_cache_count(c), 3);
	aq_cache_free(c);
}
END_TEST

START_TEST(test_cache_wipe)
{
	struct aq_cache *c = cache_new(2);

	ck_assert_int_eq(aq_cache_put(c, "a", VERIFIER, strlen(VERIFIER), "scram-sha-256"), 0);
	ck_assert_int_eq(aq_cache_put(c, "a", MD5_HASH, strlen(MD5_HASH), "md5"), 0); /* replace */
	ck_assert_int_eq(released, 1);
	ck_assert_int_eq(aq_cache_put(c, "b", "secret-b", 8, "plain"), 0);
	ck_assert_int_eq(aq_cache_put(c, "c", "secret-c", 8, "plain"), 0); /* evicts a */
	ck_assert_int_eq(released, 2);
	ck_assert(aq_cache_remove(c, "b"));
	ck_assert_int_eq(released, 3);
	aq_cache_free(c); /* c */
	ck_assert_int_eq(released, 4);
	ck_assert_int_eq(released_dirty, 0);
}
END_TEST

START_TEST(test_cache_limits)
{
	char name[AQ_CACHE_MAX_USER + 2], secret[AQ_CACHE_MAX_SECRET + 2];
	struct aq_cache_opts o = {.capacity = 0};
	struct aq_cache *c = NULL;
	char small[8];
	const char *kind;
	size_t len;

	ck_assert_int_eq(aq_cache_new(&o, &c), -EINVAL);
	o.capacity = AQ_CACHE_MAX_CAPACITY + 1;
	ck_assert_int_eq(aq_cache_new(&o, &c), -EINVAL);
	c = cache_new(4);
	memset(name, 'n', sizeof name);
	name[AQ_CACHE_MAX_USER + 1] = '\0';
	memset(secret, 's', sizeof secret);
	ck_assert_int_eq(aq_cache_put(c, name, "x", 1, "plain"), -EINVAL);
	ck_assert_int_eq(get(c, name, AQ_CACHE_ANY_AGE, 0, NULL, NULL), AQ_CACHE_MISS);
	ck_assert(!aq_cache_remove(c, name));
	name[AQ_CACHE_MAX_USER] = '\0';
	ck_assert_int_eq(aq_cache_put(c, name, "x", 1, "plain"), 0);
	ck_assert_int_eq(aq_cache_put(c, "", "x", 1, "plain"), -EINVAL);
	ck_assert_int_eq(aq_cache_put(c, "big", secret, AQ_CACHE_MAX_SECRET + 1, "plain"), -EINVAL);
	ck_assert_int_eq(aq_cache_put(c, "big", secret, AQ_CACHE_MAX_SECRET, "plain"), 0);
	ck_assert_int_eq(get(c, "big", AQ_CACHE_ANY_AGE, 0, NULL, NULL), AQ_CACHE_FOUND);
	/* a buffer too small for the secret is a miss, never an overflow */
	ck_assert_int_eq(
	        aq_cache_get(c, "big", AQ_CACHE_ANY_AGE, 0, small, sizeof small, &len, &kind),
	        AQ_CACHE_MISS);
	ck_assert_uint_eq(aq_cache_count(c), 2);
	aq_cache_free(c);
}
END_TEST

START_TEST(test_cache_many)
{
	struct aq_cache_opts o = {.capacity = 10000};
	struct aq_cache *c = NULL;
	char name[32];

	ck_assert_int_eq(aq_cache_new(&o, &c), 0); /* the real clock and free() */
	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof name, "user%d", i);
		ck_assert_int_eq(aq_cache_put(c, name, name, strlen(name), "plain"), 0);
	}
	ck_assert_uint_eq(aq_cache_count(c), 10000);
	for (int i = 0; i < 20000; i++) {
		char secret[AQ_CACHE_MAX_SECRET + 1];
		const char *kind;
		size_t len;

		snprintf(name, sizeof name, "user%d", i);
		ck_assert_int_eq(
		        aq_cache_get(c, name, 60000, 0, secret, sizeof secret, &len, &kind),
		        i < 10000 ? AQ_CACHE_MISS : AQ_CACHE_FOUND);
		if (i >= 10000)
			ck_assert_str_eq(secret, name);
	}
	{
		uint64_t t1 = aq_cache_clock_ms(), t2 = aq_cache_clock_ms();

		ck_assert_uint_ge(t2, t1);
	}
	aq_cache_free(c);
}
END_TEST

static void *cache_worker(void *arg)
{
	struct aq_cache *c = arg;
	char name[32], secret[AQ_CACHE_MAX_SECRET + 1];
	const char *kind;
	size_t len;

	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof name, "u%d", i % 300);
		if (i % 3 == 0) {
			if (aq_cache_put(c, name, name, strlen(name), i % 2 ? "plain" : NULL) != 0)
				return (void *)1;
		} else if (aq_cache_get(c, name, 60000, 5000, secret, sizeof secret, &len, &kind) ==
		                   AQ_CACHE_FOUND &&
		           strcmp(secret, name) != 0) {
			return (void *)1;
		}
	}
	return NULL;
}

START_TEST(test_cache_threads)
{
	struct aq_cache_opts o = {.capacity = 100};
	struct aq_cache *c = NULL;
	pthread_t t[4];
	void *ret;

	ck_assert_int_eq(aq_cache_new(&o, &c), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, cache_worker, c), 0);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(t[i], &ret), 0);
		ck_assert_ptr_null(ret);
	}
	ck_assert_uint_eq(aq_cache_count(c), 100);
	aq_cache_free(c);
}
END_TEST

/* ------------------------------------------------------------ fake host */

struct pgs_cfg {
	const char *const *kv; /* key, value, ..., NULL */
};

static char logbuf[16384];
static atomic_int cred_calls;

static void fake_log(enum pgs_log level, const pgs_conn *conn, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void fake_log(enum pgs_log level, const pgs_conn *conn, const char *fmt, ...)
{
	size_t n = strlen(logbuf);
	va_list ap;

	(void)conn;
	if (n + 16 >= sizeof logbuf)
		return;
	static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

	n += (size_t)snprintf(logbuf + n, sizeof logbuf - n, "%s: ", names[level & 3]);
	va_start(ap, fmt);
	vsnprintf(logbuf + n, sizeof logbuf - n, fmt, ap);
	va_end(ap);
	n = strlen(logbuf);
	if (n + 1 < sizeof logbuf)
		strcpy(logbuf + n, "\n");
}

/* How many logged lines contain text. */
static int log_count(const char *text)
{
	int count = 0;

	for (const char *p = logbuf; (p = strstr(p, text)) != NULL; p += strlen(text))
		count++;
	return count;
}

static void *fake_alloc(size_t len)
{
	return calloc(1, len);
}

static void fake_wipe_free(void *p, size_t len)
{
	memset(p, 0, len);
	free(p);
}

static const char *cfg_find(const pgs_cfg *cfg, const char *key)
{
	for (const char *const *kv = cfg->kv; *kv != NULL; kv += 2)
		if (strcmp(kv[0], key) == 0)
			return kv[1];
	return NULL;
}

static int fake_cfg_str(const pgs_cfg *cfg, const char *key, const char **out)
{
	const char *v = cfg_find(cfg, key);

	if (v == NULL)
		return -ENOENT;
	*out = v;
	return 0;
}

static int fake_cfg_int(const pgs_cfg *cfg, const char *key, int64_t *out)
{
	const char *v = cfg_find(cfg, key);
	char *end;

	if (v == NULL)
		return -ENOENT;
	*out = strtoll(v, &end, 10);
	return *v != '\0' && *end == '\0' ? 0 : -EINVAL;
}

static const char *fake_cfg_where(const pgs_cfg *cfg, const char *key)
{
	(void)cfg, (void)key;
	return "test.conf:1";
}

static int fake_cfg_path(const pgs_cfg *cfg, const char *key, char *out, size_t size)
{
	const char *v = cfg_find(cfg, key);

	if (v == NULL)
		return -ENOENT;
	if (strlen(v) >= size)
		return -ENAMETOOLONG;
	strcpy(out, v);
	return 0;
}

/* The "vault" instance knows pgsluice_auth's password; nothing else exists. */
static int fake_cred_lookup(const pgs_conn *conn, const char *instance, const char *user,
                            pgs_secret *out)
{
	(void)conn;
	cred_calls++;
	if (strcmp(instance, "vault") != 0)
		return -ESRCH;
	if (strcmp(user, "pgsluice_auth") != 0)
		return -ENOENT;
	out->kind = "plain";
	out->data = (const uint8_t *)strdup(AUTH_PASSWORD);
	out->len = strlen(AUTH_PASSWORD);
	return 0;
}

static void fake_secret_release(pgs_secret *s)
{
	free((void *)s->data);
	s->data = NULL;
}

static const pgs_host fake_host = {
        .size = sizeof(pgs_host),
        .abi_major = PGS_ABI_MAJOR,
        .abi_minor = PGS_ABI_MINOR,
        .log = fake_log,
        .alloc = fake_alloc,
        .free = free,
        .wipe_free = fake_wipe_free,
        .cfg_str = fake_cfg_str,
        .cfg_int = fake_cfg_int,
        .cfg_where = fake_cfg_where,
        .cfg_path = fake_cfg_path,
        .cred_lookup = fake_cred_lookup,
        .secret_release = fake_secret_release,
};

static const pgs_module *module_load(void **handle)
{
	const pgs_module *(*entry)(void);

	*handle = dlopen(BUILD_MODULEDIR "/authquery.so", RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(*handle != NULL, "%s", dlerror());
	*(void **)&entry = dlsym(*handle, PGS_ENTRY_SYMBOL);
	ck_assert_ptr_nonnull(entry);
	return entry();
}

/* init with the given settings: its return code; *mod set on success. */
static int module_init(const pgs_module *desc, const char *const *kv, void **mod)
{
	static pgs_cfg cfg;

	cfg.kv = kv;
	logbuf[0] = '\0';
	*mod = NULL;
	return desc->init(&fake_host, &cfg, mod);
}

START_TEST(test_module_config)
{
	static const char *const none[] = {NULL};
	static const char *const no_user[] = {"host", "127.0.0.1", NULL};
	static const char *const no_param[] = {"host",  "/tmp",     "auth_user", "a",
	                                       "query", "SELECT 1", NULL};
	static const char *const bad_ssl[] = {"host",    "/tmp",  "auth_user", "a",
	                                      "sslmode", "maybe", NULL};
	static const char *const bad_size[] = {"host",       "/tmp", "auth_user", "a",
	                                       "cache_size", "0",    NULL};
	static const char *const bad_timeout[] = {"host",    "/tmp", "auth_user", "a",
	                                          "timeout", "soon", NULL};
	static const char *const long_user[] = {
	        "host", "/tmp", "auth_user",
	        "a234567890123456789012345678901234567890123456789012345678901234", NULL};
	static const char *const good[] = {"host",        "/tmp",           "auth_user",
	                                   "a",           "password_from",  "vault",
	                                   "sslrootcert", "/etc/ssl/x.crt", NULL};
	const pgs_module *desc;
	void *handle, *mod;

	desc = module_load(&handle);
	ck_assert_str_eq(desc->name, "authquery");
	ck_assert_ptr_nonnull(desc->cred);
	ck_assert_ptr_nonnull(desc->cred->fetch);
	ck_assert_int_eq(module_init(desc, none, &mod), -EINVAL);
	ck_assert_int_eq(log_count("test.conf:1: authquery: \"host\" is required"), 1);
	ck_assert_int_eq(module_init(desc, no_user, &mod), -EINVAL);
	ck_assert_int_eq(log_count("\"auth_user\" is required"), 1);
	ck_assert_int_eq(module_init(desc, no_param, &mod), -EINVAL);
	ck_assert_int_eq(log_count("\"query\" must take the user name as $1"), 1);
	ck_assert_int_eq(module_init(desc, bad_ssl, &mod), -EINVAL);
	ck_assert_int_eq(log_count("\"sslmode\" must be"), 1);
	ck_assert_int_eq(module_init(desc, bad_size, &mod), -EINVAL);
	ck_assert_int_eq(log_count("\"cache_size\" must be an integer in 1..1000000"), 1);
	ck_assert_int_eq(module_init(desc, bad_timeout, &mod), -EINVAL);
	ck_assert_int_eq(log_count("\"timeout\" must be an integer"), 1);
	ck_assert_int_eq(module_init(desc, long_user, &mod), -EINVAL);
	ck_assert_int_eq(log_count("\"auth_user\" must be a non-empty string of at most 63"), 1);
	ck_assert_int_eq(module_init(desc, good, &mod), 0);
	ck_assert_int_eq(log_count("authquery: /tmp port 5432 database postgres as a "
	                           "(password from vault), 2 connections"),
	                 1);
	desc->fini(mod);
	dlclose(handle);
}
END_TEST

/* aq_pg_new() refuses what could never work, before connecting. */
START_TEST(test_pg_params)
{
	static char long_query[AQ_PG_MAX_TEXT + 2];
	struct aq_pg_params p = {.host = "/tmp",
	                         .port = "5432",
	                         .dbname = "postgres",
	                         .user = "a",
	                         .sslmode = "prefer",
	                         .query = "SELECT $1",
	                         .connections = 1,
	                         .timeout_ms = 1000};
	struct aq_pg *pg = NULL;

	ck_assert_int_eq(aq_pg_new(&p, &pg, err, sizeof err), 0);
	aq_pg_free(pg);
	p.query = "SELECT 1";
	ck_assert_int_eq(aq_pg_new(&p, &pg, err, sizeof err), -EINVAL);
	ck_assert_str_eq(err, "the query must take the user name as $1");
	memset(long_query, ' ', sizeof long_query - 1);
	memcpy(long_query, "SELECT $1", 9);
	p.query = long_query;
	ck_assert_int_eq(aq_pg_new(&p, &pg, err, sizeof err), -EINVAL);
	p.query = "SELECT $1";
	p.connections = 0;
	ck_assert_int_eq(aq_pg_new(&p, &pg, err, sizeof err), -EINVAL);
	p.connections = AQ_PG_MAX_CONNECTIONS + 1;
	ck_assert_int_eq(aq_pg_new(&p, &pg, err, sizeof err), -EINVAL);
	p.connections = 1;
	p.timeout_ms = 0;
	ck_assert_int_eq(aq_pg_new(&p, &pg, err, sizeof err), -EINVAL);
	p.timeout_ms = 1000;
	p.host = NULL;
	ck_assert_int_eq(aq_pg_new(&p, &pg, err, sizeof err), -EINVAL);
}
END_TEST

/* ------------------------------------------------------------ PostgreSQL */

static const char *pg_host, *pg_port, *pg_socket;

/* The superuser, over the Unix socket. */
static PGconn *su_connect(void)
{
	const char *keys[] = {"host", "port", "dbname", "user", NULL};
	const char *values[] = {pg_socket, pg_port, "postgres", "postgres", NULL};
	PGconn *c = PQconnectdbParams(keys, values, 0);

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "superuser: %s", PQerrorMessage(c));
	return c;
}

/* Run sql as the superuser; the first value of the last result (malloc'd;
 * NULL for none). */
static char *su_exec(const char *sql)
{
	PGconn *c = su_connect();
	PGresult *r = PQexec(c, sql);
	char *v = NULL;

	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
	              "%s: %s", sql, PQerrorMessage(c));
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return v;
}

/* Once per run: the function, auth_user's password, roles the function
 * must refuse, and a table auth_user could drop if injection worked. */
static void pg_setup(void)
{
	static char sql[16384];
	char *lit, *alter;
	FILE *f = fopen(TEST_SRCDIR "/../contrib/pgsluice_get_password.sql", "r");
	PGconn *c;
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(sql, 1, sizeof sql - 1, f);
	fclose(f);
	sql[n] = '\0';
	free(su_exec(sql));
	c = su_connect();
	lit = PQescapeLiteral(c, AUTH_PASSWORD, strlen(AUTH_PASSWORD));
	ck_assert_ptr_nonnull(lit);
	ck_assert_int_gt(asprintf(&alter, "ALTER ROLE pgsluice_auth PASSWORD %s", lit), 0);
	PQfreemem(lit);
	PQfinish(c);
	free(su_exec(alter));
	free(alter);
	free(su_exec("SET client_min_messages = warning;"
	             "DROP ROLE IF EXISTS aq_nologin, aq_expired, aq_super;"
	             "CREATE ROLE aq_nologin NOLOGIN PASSWORD 'x';"
	             "CREATE ROLE aq_expired LOGIN PASSWORD 'x' VALID UNTIL '2000-01-01';"
	             "CREATE ROLE aq_super SUPERUSER LOGIN PASSWORD 'x';"
	             "DROP TABLE IF EXISTS public.x;"
	             "CREATE TABLE public.x (); ALTER TABLE public.x OWNER TO pgsluice_auth;"));
}

struct password_src {
	const char *password; /* NULL: give none */
	atomic_int calls;
};

static int give_password(void *arg, char *buf, size_t size, char *e, size_t e_size)
{
	struct password_src *p = arg;

	p->calls++;
	if (p->password == NULL) {
		snprintf(e, e_size, "test: no password today");
		return -EIO;
	}
	ck_assert_uint_lt(strlen(p->password), size);
	strcpy(buf, p->password);
	return 0;
}

static struct aq_pg *pg_new_on(const char *host, const char *port, const char *query,
                               unsigned int connections, unsigned int timeout_ms)
{
	struct aq_pg_params p = {
	        .host = host,
	        .port = port,
	        .dbname = "postgres",
	        .user = "pgsluice_auth",
	        .sslmode = "prefer",
	        .query = query != NULL ? query
	                               : "SELECT p_password FROM "
	                                 "public.pgsluice_get_password($1)",
	        .connections = connections,
	        .timeout_ms = timeout_ms,
	};
	struct aq_pg *pg = NULL;

	ck_assert_msg(aq_pg_new(&p, &pg, err, sizeof err) == 0, "%s", err);
	return pg;
}

static struct aq_pg *pg_new(const char *query, unsigned int connections)
{
	return pg_new_on(pg_host, pg_port, query, connections, 3000);
}

/* fetch with the right password; the answer's value in ans. */
static int fetch(struct aq_pg *pg, const char *user, struct aq_pg_answer *ans)
{
	static struct password_src right = {.password = AUTH_PASSWORD};

	err[0] = '\0';
	return aq_pg_fetch(pg, user, give_password, &right, ans, err, sizeof err);
}

START_TEST(test_pg_verifiers)
{
	struct aq_pg *pg = pg_new(NULL, 2);
	char *scram = su_exec("SELECT rolpassword FROM pg_authid WHERE rolname = 'scramuser'");
	char *md5 = su_exec("SELECT rolpassword FROM pg_authid WHERE rolname = 'md5user'");
	struct aq_pg_answer ans;

	ck_assert_msg(fetch(pg, "scramuser", &ans) == 0, "%s", err);
	ck_assert_str_eq(ans.kind, "scram-sha-256");
	ck_assert_str_eq(ans.value, scram);
	ck_assert_uint_eq(ans.len, strlen(scram));
	ck_assert_uint_gt(ans.duration_us, 0);
	aq_pg_answer_clear(&ans);
	ck_assert_uint_eq(ans.value[0], 0);
	ck_assert_msg(fetch(pg, "md5user", &ans) == 0, "%s", err);
	ck_assert_str_eq(ans.kind, "md5");
	ck_assert_str_eq(ans.value, md5);
	free(scram);
	free(md5);
	aq_pg_free(pg);
}
END_TEST

START_TEST(test_pg_absent)
{
	static const char *const absent[] = {
	        "nosuchuser",         "aq_nologin", "aq_expired", "aq_super",
	        "postgres",           "",           INJECTION,    "x'); DROP TABLE public.x; --",
	        "\xff\xfe not UTF-8", "scramuser ", "SCRAMUSER",  NULL};
	struct aq_pg *pg = pg_new(NULL, 1);
	struct aq_pg_answer ans;
	char *v;

	for (const char *const *u = absent; *u != NULL; u++)
		ck_assert_msg(fetch(pg, *u, &ans) == -ENOENT, "%s: %s", *u, err);
	/* nothing ran: auth_user's own table is still there */
	v = su_exec("SELECT to_regclass('public.x') IS NOT NULL");
	ck_assert_str_eq(v, "t");
	free(v);
	ck_assert_msg(fetch(pg, "scramuser", &ans) == 0, "%s", err); /* still connected fine */
	aq_pg_free(pg);
}
END_TEST

START_TEST(test_pg_auth_failures)
{
	struct password_src wrong = {.password = "wrong"}, none = {.password = NULL};
	struct aq_pg *pg = pg_new(NULL, 1);
	struct aq_pg_answer ans;

	ck_assert_int_eq(aq_pg_fetch(pg, "scramuser", give_password, &wrong, &ans, err, sizeof err),
	                 -EIO);
	ck_assert_msg(strstr(err, "password authentication failed") != NULL, "%s", err);
	ck_assert_ptr_null(strstr(err, "\n"));
	ck_assert_int_eq(aq_pg_fetch(pg, "scramuser", give_password, &none, &ans, err, sizeof err),
	                 -EIO);
	ck_assert_str_eq(err, "test: no password today");
	/* the failed connects left nothing behind: the right password works */
	ck_assert_msg(fetch(pg, "scramuser", &ans) == 0, "%s", err);
	ck_assert_int_eq(wrong.calls, 1);
	aq_pg_free(pg);
}
END_TEST

/* Answers the query must not be taken as a secret: -EIO, never the value. */
START_TEST(test_pg_bad_answers)
{
	static const struct {
		const char *query, *why;
	} bad[] = {
	        {"SELECT 'md5' || md5($1) UNION ALL SELECT 'x'", "2 rows"},
	        {"SELECT $1::text, 'b'::text", "2 columns"},
	        {"SELECT repeat('y', 1025) WHERE $1::text IS NOT NULL", "1025 bytes"},
	        {"SELECT 'SCRAM-SHA-256$4096:c2FsdA==$zzz' WHERE $1::text IS NOT NULL",
	         "broken SCRAM verifier"},
	        {"SELECT no_such_function($1)", "does not exist"},
	};
	struct aq_pg_answer ans;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct aq_pg *pg = pg_new(bad[i].query, 1);

		ck_assert_int_eq(fetch(pg, "scramuser", &ans), -EIO);
		ck_assert_msg(strstr(err, bad[i].why) != NULL, "%s: %s", bad[i].query, err);
		ck_assert_ptr_null(strstr(err, "yyyy"));
		ck_assert_ptr_null(strstr(err, "c2FsdA"));
		ck_assert_uint_eq(ans.len, 0);
		aq_pg_free(pg);
	}
}
END_TEST

START_TEST(test_pg_good_answers)
{
	struct aq_pg *pg = pg_new("SELECT repeat('y', 1024) WHERE $1::text IS NOT NULL", 1);
	struct aq_pg_answer ans;

	ck_assert_msg(fetch(pg, "u", &ans) == 0, "%s", err);
	ck_assert_uint_eq(ans.len, 1024);
	ck_assert_str_eq(ans.kind, "plain");
	aq_pg_free(pg);
	pg = pg_new("SELECT current_setting('search_path') || ' ' || "
	            "current_setting('application_name') WHERE $1::text IS NOT NULL",
	            1);
	ck_assert_msg(fetch(pg, "u", &ans) == 0, "%s", err);
	ck_assert_str_eq(ans.value, "pg_catalog,pg_temp pgsluice-authquery");
	aq_pg_free(pg);
	pg = pg_new("SELECT NULL::text WHERE $1::text IS NOT NULL", 1);
	ck_assert_int_eq(fetch(pg, "u", &ans), -ENOENT);
	aq_pg_free(pg);
}
END_TEST

/* A server that takes the TCP connection but never says a word. */
START_TEST(test_pg_silent_server)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct aq_pg_answer ans;
	struct aq_pg *pg;
	char port[16];
	double t0, dt;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(port, sizeof port, "%u", ntohs(sa.sin_port));
	pg = pg_new_on("127.0.0.1", port, NULL, 1, 1000);
	for (int i = 0; i < 2; i++) {
		t0 = now_s();
		ck_assert_int_eq(fetch(pg, "scramuser", &ans), -EIO);
		dt = now_s() - t0;
		ck_assert_msg(dt >= 0.95 && dt < 1.3, "took %.3f s", dt);
		ck_assert_msg(strstr(err, "timed out after 1000 ms") != NULL, "%s", err);
	}
	aq_pg_free(pg);
	close(fd);
}
END_TEST

/* A query that hangs: -EIO at the deadline, and the server stops it. */
START_TEST(test_pg_slow_query)
{
	struct aq_pg *pg = pg_new_on(pg_host, pg_port, "SELECT 'md5' || md5($1) FROM pg_sleep(30)",
	                             1, 1000);
	struct aq_pg_answer ans;
	char *v = NULL;
	double t0, dt;

	t0 = now_s();
	ck_assert_int_eq(fetch(pg, "scramuser", &ans), -EIO);
	dt = now_s() - t0;
	ck_assert_msg(dt >= 0.95 && dt < 1.3, "took %.3f s", dt);
	ck_assert_msg(strstr(err, "no answer from") != NULL, "%s", err);
	for (int i = 0; i < 25; i++) { /* 0.5 s: well before the server's own 2 s limit */
		free(v);
		v = su_exec(
		        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' "
		        "AND application_name = 'pgsluice-authquery'");
		if (strcmp(v, "0") == 0)
			break;
		usleep(20000);
	}
	ck_assert_str_eq(v, "0");
	free(v);
	aq_pg_free(pg);
}
END_TEST

/* A connection the server closed while idle is replaced transparently. */
START_TEST(test_pg_reconnect)
{
	struct password_src right = {.password = AUTH_PASSWORD};
	struct aq_pg *pg = pg_new(NULL, 1);
	struct aq_pg_answer ans;

	for (int i = 0; i < 3; i++)
		ck_assert_msg(aq_pg_fetch(pg, "scramuser", give_password, &right, &ans, err,
		                          sizeof err) == 0,
		              "%s", err);
	ck_assert_int_eq(right.calls, 1); /* one connection, reused */
	free(su_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
	             "WHERE application_name = 'pgsluice-authquery'"));
	usleep(100000);
	ck_assert_msg(aq_pg_fetch(pg, "scramuser", give_password, &right, &ans, err, sizeof err) ==
	                      0,
	              "%s", err);
	ck_assert_int_eq(right.calls, 2);
	aq_pg_free(pg);
}
END_TEST

static void *pg_worker(void *arg)
{
	struct aq_pg_answer ans;
	char e[AQ_PG_ERR_LEN];
	static struct password_src right = {.password = AUTH_PASSWORD};

	for (int i = 0; i < 25; i++)
		if (aq_pg_fetch(arg, i % 2 ? "scramuser" : "md5user", give_password, &right, &ans,
		                e, sizeof e) != 0)
			return (void *)1;
	return NULL;
}

START_TEST(test_pg_threads)
{
	struct aq_pg *pg = pg_new(NULL, 2);
	pthread_t t[6];
	void *ret;
	char *v;

	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, pg_worker, pg), 0);
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(pthread_join(t[i], &ret), 0);
		ck_assert_ptr_null(ret);
	}
	v = su_exec("SELECT count(*) FROM pg_stat_activity "
	            "WHERE application_name = 'pgsluice-authquery'");
	ck_assert_str_eq(v, "2");
	free(v);
	aq_pg_free(pg);
}
END_TEST

/* The module end to end behind the fake host. */
START_TEST(test_module_fetch)
{
	const char *const kv[] = {
	        "host",          pg_host, "port",    pg_port, "auth_user", "pgsluice_auth",
	        "password_from", "vault", "timeout", "2",     NULL};
	const char *const kv_ttl0[] = {"host",
	                               pg_host,
	                               "port",
	                               pg_port,
	                               "auth_user",
	                               "pgsluice_auth",
	                               "password_from",
	                               "vault",
	                               "cache_ttl",
	                               "0",
	                               "negative_ttl",
	                               "0",
	                               NULL};
	const char *const kv_nosrc[] = {"host",          pg_host,     "port",
	                                pg_port,         "auth_user", "pgsluice_auth",
	                                "password_from", "nosuch",    NULL};
	char *scram = su_exec("SELECT rolpassword FROM pg_authid WHERE rolname = 'scramuser'");
	pgs_secret s = {.size = sizeof s};
	const pgs_module *desc;
	void *handle, *mod;

	desc = module_load(&handle);
	ck_assert_int_eq(module_init(desc, kv, &mod), 0);
	ck_assert_int_eq(desc->cred->lookup(mod, NULL, "scramuser", &s), -ENOENT);
	ck_assert_int_eq(desc->cred->fetch(mod, NULL, "scramuser", &s), 0);
	ck_assert_str_eq(s.kind, "scram-sha-256");
	ck_assert_str_eq((const char *)s.data, scram);
	fake_secret_release(&s);
	ck_assert_int_eq(log_count("authquery: query for user \"scramuser\": "), 1);
	ck_assert_int_eq(desc->cred->fetch(mod, NULL, "scramuser", &s), 0); /* cached */
	fake_secret_release(&s);
	ck_assert_int_eq(log_count("authquery: query for user \"scramuser\": "), 1);
	ck_assert_int_eq(desc->cred->lookup(mod, NULL, "scramuser", &s), 0);
	ck_assert_str_eq((const char *)s.data, scram);
	fake_secret_release(&s);
	ck_assert_int_eq(desc->cred->fetch(mod, NULL, "nosuch", &s), -ENOENT);
	ck_assert_int_eq(desc->cred->fetch(mod, NULL, "nosuch", &s), -ENOENT); /* cached */
	ck_assert_int_eq(log_count("authquery: query for user \"nosuch\": "), 1);
	ck_assert_int_eq(desc->cred->lookup(mod, NULL, "nosuch", &s), -ENOENT);
	ck_assert_int_eq(desc->cred->fetch(mod, NULL, INJECTION, &s), -ENOENT);
	ck_assert_int_eq(cred_calls, 1);
	ck_assert_int_eq(log_count("WARN: "), 0);
	desc->fini(mod);

	ck_assert_int_eq(module_init(desc, kv_ttl0, &mod), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(desc->cred->fetch(mod, NULL, "scramuser", &s), 0);
		fake_secret_release(&s);
		ck_assert_int_eq(desc->cred->fetch(mod, NULL, "nosuch", &s), -ENOENT);
	}
	ck_assert_int_eq(log_count("authquery: query for user \"scramuser\": "), 2);
	ck_assert_int_eq(log_count("authquery: query for user \"nosuch\": "), 2);
	ck_assert_int_eq(desc->cred->lookup(mod, NULL, "scramuser", &s), 0);
	fake_secret_release(&s);
	desc->fini(mod);

	ck_assert_int_eq(module_init(desc, kv_nosrc, &mod), 0);
	ck_assert_int_eq(desc->cred->fetch(mod, NULL, "scramuser", &s), -EIO);
	ck_assert_int_eq(
	        log_count("WARN: authquery: cannot fetch the secret of user \"scramuser\": "
	                  "password_from: no credential instance named \"nosuch\""),
	        1);
	desc->fini(mod);
	dlclose(handle);
	free(scram);
}
END_TEST

static void add_pg_tests(Suite *s)
{
	TCase *tm = tcase_create("module");
	TCase *tc;

	tcase_add_test(tm, test_module_config);
	tcase_add_test(tm, test_pg_params);
	suite_add_tcase(s, tm);
	pg_port = getenv("PGSLUICE_TEST_PGPORT");
	if (pg_port == NULL || *pg_port == '\0') {
		fprintf(stderr, "check_authquery: PGSLUICE_TEST_PGPORT not set: "
		                "PostgreSQL tests skipped\n");
		return;
	}
	pg_host = getenv("PGSLUICE_TEST_PGHOST");
	if (pg_host == NULL || *pg_host == '\0')
		pg_host = "127.0.0.1";
	pg_socket = getenv("PGSLUICE_TEST_PGSOCKET");
	if (pg_socket == NULL || *pg_socket == '\0') {
		fprintf(stderr, "check_authquery: PGSLUICE_TEST_PGSOCKET (the superuser's socket "
		                "directory) is needed with PGSLUICE_TEST_PGPORT\n");
		exit(EXIT_FAILURE);
	}
	tc = tcase_create("postgresql");
	tcase_add_unchecked_fixture(tc, pg_setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pg_verifiers);
	tcase_add_test(tc, test_pg_absent);
	tcase_add_test(tc, test_pg_auth_failures);
	tcase_add_test(tc, test_pg_bad_answers);
	tcase_add_test(tc, test_pg_good_answers);
	tcase_add_test(tc, test_pg_silent_server);
	tcase_add_test(tc, test_pg_slow_query);
	tcase_add_test(tc, test_pg_reconnect);
	tcase_add_test(tc, test_pg_threads);
	tcase_add_test(tc, test_module_fetch);
	suite_add_tcase(s, tc);
}

static Suite *authquery_suite(void)
{
	Suite *s = suite_create("authquery");
	TCase *tc = tcase_create("cache");

	tcase_add_test(tc, test_cache_hit);
	tcase_add_test(tc, test_cache_ttl);
	tcase_add_test(tc, test_cache_negative);
	tcase_add_test(tc, test_cache_eviction);
	tcase_add_test(tc, test_cache_wipe);
	tcase_add_test(tc, test_cache_limits);
	tcase_add_test(tc, test_cache_many);
	tcase_add_test(tc, test_cache_threads);
	suite_add_tcase(s, tc);
	add_pg_tests(s);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(authquery_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
