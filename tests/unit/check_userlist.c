/*
 * check_userlist.c — unit tests of the userlist.txt parser (PgBouncer's
 * format, refusals with file:line, permissions, a 10,000-entry file), and
 * of the userlist, md5, password and peer modules driven through a fake
 * host whose secret_lookup is the userlist module itself.
 */
#include "autoconf.h"

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "pgsluice/module.h"

#include "md5_hash.h"
#include "../../modules/userlist/userlist_file.h"

#define SAMPLE TEST_SRCDIR "/unit/data/userlist/sample.txt"
#define DAVE_VERIFIER                                                                              \
	"SCRAM-SHA-256$4096:AQIDBAUGBwgJCgsMDQ4PEA==$CnvBmCtH5guHF/5riSDtILlD9iBAYbJy10UwRk+Yolk=" \
	":Bzu3hfBLTt64NQb8FK3Nnsw/7zmY+HmsHw1uESFqsqM="

static char tmpdir[PATH_MAX];
static char err[1024];

static void tmp_setup(void)
{
	const char *t = getenv("TMPDIR");

	snprintf(tmpdir, sizeof tmpdir, "%s/pgs-check-userlist-XXXXXX", t && *t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	err[0] = '\0';
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static void tmp_teardown(void)
{
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write tmpdir/name with `mode`; returns its path (static buffer). */
static const char *write_file(const char *name, const char *text, size_t len, mode_t mode)
{
	static char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
	return path;
}

/* The sample data file copied into tmpdir with mode 0600. */
static const char *sample_copy(void)
{
	static char text[8192];
	FILE *f = fopen(SAMPLE, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(text, 1, sizeof text, f);
	fclose(f);
	return write_file("userlist.txt", text, n, 0600);
}

static void assert_entry(const struct userlist *ul, const char *user, const char *kind,
                         const char *secret, unsigned int line)
{
	const struct userlist_entry *e = userlist_find(ul, user);

	ck_assert_msg(e != NULL, "user %s not found", user);
	ck_assert_str_eq(e->user, user);
	ck_assert_str_eq(e->kind, kind);
	ck_assert_uint_eq(e->secret_len, strlen(secret));
	ck_assert_mem_eq(e->secret, secret, e->secret_len);
	ck_assert_uint_eq(e->line, line);
}

/* ------------------------------------------------------------ parser */

START_TEST(test_sample)
{
	static const char *const misses[] = {"Alice", "alic", "alicex", "", "zzz", "aaa", NULL};
	struct userlist *ul = NULL;
	const char *path;

	tmp_setup();
	path = sample_copy();
	ck_assert_msg(userlist_load(path, NULL, &ul, err, sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(userlist_count(ul), 9);
	assert_entry(ul, "alice", "plain", "alicepass", 4);
	assert_entry(ul, "bob", "plain", "pa\"ss", 5);
	assert_entry(ul, "carol", "md5", "md566d0ea9340e273eddb6aac0246425994", 6);
	assert_entry(ul, "dave", "scram-sha-256", DAVE_VERIFIER, 7);
	assert_entry(ul, "say \"hi\"", "plain", "x", 8);
	/* PostgreSQL only takes "md5" + lowercase hex as a hash; else a password. */
	assert_entry(ul, "eve", "plain", "MD566D0EA9340E273EDDB6AAC0246425994", 9);
	assert_entry(ul, "frank", "plain", "", 10);
	assert_entry(ul, "grace", "plain", "md5short", 11);
	assert_entry(ul, "heidi", "plain", "md566D0EA9340E273EDDB6AAC0246425994", 12);
	/* misses: exact, case-sensitive names */
	for (const char *const *m = misses; *m != NULL; m++)
		ck_assert_ptr_null(userlist_find(ul, *m));
	/* in name order */
	for (size_t i = 1; i < userlist_count(ul); i++)
		ck_assert_int_lt(
		        strcmp(userlist_entry_at(ul, i - 1)->user, userlist_entry_at(ul, i)->user),
		        0);
	ck_assert_ptr_null(userlist_entry_at(ul, userlist_count(ul)));
	userlist_free(ul);
	tmp_teardown();
}
END_TEST

/* What PgBouncer accepts, and some more. */
START_TEST(test_tolerant)
{
	static const char text[] = "\xef\xbb\xbf\"a\" \"1\"\r\n"
	                           "\t \"b\"\t\t\"2\"\"\"\"\"\r\n"
	                           "   ; indented comment\n"
	                           "\r\n"
	                           "\"\"\"\" \"q\" \"third\" \"field\"\n"
	                           "\"c\" \"3\"";
	struct userlist *ul = NULL;

	ck_assert_msg(userlist_parse("t", text, sizeof text - 1, NULL, &ul, err, sizeof err) == 0,
	              "%s", err);
	ck_assert_uint_eq(userlist_count(ul), 4);
	assert_entry(ul, "a", "plain", "1", 1);
	assert_entry(ul, "b", "plain", "2\"\"", 2);
	assert_entry(ul, "\"", "plain", "q", 5);
	assert_entry(ul, "c", "plain", "3", 6); /* no final newline */
	userlist_free(ul);

	ck_assert_int_eq(userlist_parse("t", "", 0, NULL, &ul, err, sizeof err), 0);
	ck_assert_uint_eq(userlist_count(ul), 0);
	ck_assert_ptr_null(userlist_find(ul, "a"));
	userlist_free(ul);
}
END_TEST

static const struct {
	const char *text;
	const char *error; /* expected message */
} bad_files[] = {
        {"\"a\" \"1\"\nb \"2\"\n", "t:2: expected a quoted user name"},
        {"\"a\" \"1\"\n\"b \"2\n", "t:2: expected blanks then a quoted password after user \"b \""},
        {"\"abc\n\"x\"", "t:1: user name has no closing quote"},
        {"\"\" \"x\"\n", "t:1: empty user name"},
        {"\n\n\"a\"  \n", "t:3: no password after user \"a\""},
        {"\"a\", \"x\"\n", "t:1: expected blanks then a quoted password after user \"a\""},
        {"\"a\" \"x\n\"", "t:1: password of user \"a\" has no closing quote"},
        {"\"a\" \"x\"\"\n", "t:1: password of user \"a\" has no closing quote"},
        {"\"a\" \"SCRAM-SHA-256$4096:AAAA\"\n", "t:1: SCRAM verifier of user \"a\" is invalid: "},
        {"\"a\" \"1\"\n\"b\" \"2\"\n\"c\" \"3\"\n\"b\" \"4\"\n\"a\" \"5\"\n",
         "t:4: user \"b\" is already defined at line 2"},
        {"\"x\" \"1\"\n\"x\" \"2\"\n\"x\" \"3\"\n", "t:2: user \"x\" is already defined at line 1"},
};

START_TEST(test_bad_line)
{
	const char *text = bad_files[_i].text;
	size_t len = strlen(text);
	struct userlist *ul = (struct userlist *)&ul;

	ck_assert_int_lt(userlist_parse("t", text, len, NULL, &ul, err, sizeof err), 0);
	ck_assert_ptr_null(ul);
	ck_assert_msg(strncmp(err, bad_files[_i].error, strlen(bad_files[_i].error)) == 0,
	              "case %d: got \"%s\", want \"%s\"", _i, err, bad_files[_i].error);
}
END_TEST

START_TEST(test_limits)
{
	struct userlist_limits lim = {.max_file_size = 100,
	                              .max_line_len = 20,
	                              .max_user_len = 4,
	                              .max_password_len = 5,
	                              .max_entries = 2};
	struct userlist *ul = NULL;

#define PARSE(s) userlist_parse("t", s, strlen(s), &lim, &ul, err, sizeof err)
	ck_assert_int_eq(PARSE("\"abcd\" \"12345\"\n\"b\" \"2\"\n"), 0);
	ck_assert_uint_eq(userlist_count(ul), 2);
	userlist_free(ul);
	ck_assert_int_eq(PARSE("\"abcde\" \"1\"\n"), -E2BIG);
	ck_assert_str_eq(err, "t:1: user name longer than 4 bytes");
	ck_assert_int_eq(PARSE("\"a\" \"1\"\n\"ab\" \"123456\"\n"), -E2BIG);
	ck_assert_str_eq(err, "t:2: password of user \"ab\" longer than 5 bytes");
	ck_assert_int_eq(PARSE("\"a\" \"1\"  ; 21 bytes long\n"), -E2BIG);
	ck_assert_str_eq(err, "t:1: line longer than 20 bytes");
	ck_assert_int_eq(PARSE("\"a\" \"1\"\n\"b\" \"2\"\n\"c\" \"3\"\n"), -E2BIG);
	ck_assert_str_eq(err, "t:3: more than 2 entries");
	ck_assert_int_eq(userlist_parse("t", "\"a\" \"1\"\n\"b\" \"x\0y\"\n", 16, &lim, &ul, err,
	                                sizeof err),
	                 -EINVAL);
	ck_assert_str_eq(err, "t:2: NUL byte in the line");
	{
		char big[102];

		memset(big, ';', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		lim.max_line_len = 200;
		ck_assert_int_eq(PARSE(big), -E2BIG);
		ck_assert_str_eq(err, "t: file larger than 100 bytes");
		big[100] = '\0';
		ck_assert_int_eq(PARSE(big), 0);
		userlist_free(ul);
	}
#undef PARSE
}
END_TEST

START_TEST(test_permissions)
{
	static const char text[] = "\"a\" \"1\"\n";
	static const mode_t bad[] = {0644, 0604, 0660, 0620, 0602, 0666, 0606};
	struct userlist *ul = NULL;
	char want[PATH_MAX + 128];
	const char *path;

	tmp_setup();
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		path = write_file("ul.txt", text, sizeof text - 1, bad[i]);
		ck_assert_int_eq(userlist_load(path, NULL, &ul, err, sizeof err), -EACCES);
		ck_assert_ptr_null(ul);
		snprintf(want, sizeof want, "userlist file %s has mode %04o: ", path,
		         (unsigned int)bad[i]);
		ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
		ck_assert_ptr_nonnull(strstr(err, "chmod 600 or chmod 640"));
	}
	for (mode_t mode = 0400; mode <= 0640; mode += 0040) { /* 0400 0440 0500 .. 0640 */
		path = write_file("ul.txt", text, sizeof text - 1, mode);
		ck_assert_int_eq(userlist_load(path, NULL, &ul, err, sizeof err), 0);
		userlist_free(ul);
	}

	ck_assert_int_eq(userlist_load(tmpdir, NULL, &ul, err, sizeof err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "is not a regular file"));
	snprintf(want, sizeof want, "%s/none", tmpdir);
	ck_assert_int_eq(userlist_load(want, NULL, &ul, err, sizeof err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "cannot open userlist file"));
	/* a broken line names the path and the line */
	path = write_file("ul.txt", "\"a\" \"1\"\n\"a\" \"2\"\n", 16, 0600);
	ck_assert_int_eq(userlist_load(path, NULL, &ul, err, sizeof err), -EINVAL);
	snprintf(want, sizeof want, "%s:2: user \"a\" is already defined at line 1", path);
	ck_assert_str_eq(err, want);
	tmp_teardown();
}
END_TEST

START_TEST(test_ten_thousand)
{
	enum { N = 10000 };
	size_t cap = (size_t)N * 64, len = 0;
	char *text = malloc(cap);
	struct userlist *ul = NULL;
	struct timespec t0, t1;
	const char *path;
	char name[32];

	ck_assert_ptr_nonnull(text);
	for (int i = 0; i < N; i++) /* reverse order: the load sorts */
		len += (size_t)snprintf(text + len, cap - len,
		                        i % 2 ? "\"user%05d\" \"md5%032x\"\n"
		                              : "\"user%05d\" \"p%d\"\n",
		                        N - 1 - i, i);
	tmp_setup();
	path = write_file("big.txt", text, len, 0600);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_msg(userlist_load(path, NULL, &ul, err, sizeof err) == 0, "%s", err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("check_userlist: %d entries (%zu bytes) loaded in %.2f ms\n", N, len,
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	ck_assert_uint_eq(userlist_count(ul), N);
	for (int i = 0; i < N; i++) {
		const struct userlist_entry *e;

		snprintf(name, sizeof name, "user%05d", i);
		e = userlist_find(ul, name);
		ck_assert_ptr_nonnull(e);
		ck_assert_uint_eq(e->line, (unsigned int)(N - i));
		ck_assert_str_eq(e->kind, (N - 1 - i) % 2 ? "md5" : "plain");
	}
	ck_assert_ptr_null(userlist_find(ul, "user10000"));
	userlist_free(ul);
	free(text);
	tmp_teardown();
}
END_TEST

/* ------------------------------------------------------------ fake host */

struct pgs_cfg {
	const char *file;
	int allow_unencrypted; /* -1: absent */
};

struct pgs_conn {
	const char *user, *transport, *peer_uid, *map;
	char authn_id[256];
	void *mem[16];
	int nmem;
	void (*work)(void *);
	void *work_arg;
};

struct pgs_wbuf {
	uint32_t code;
	uint8_t data[64];
	size_t len;
	int count;
};

struct loaded {
	void *handle;
	const pgs_module *desc;
	void *mod;
};

static struct loaded cred; /* the userlist instance behind secret_lookup */
static int live_allocs, live_secrets, warnings;

static void fh_log(enum pgs_log level, const pgs_conn *conn, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void fh_log(enum pgs_log level, const pgs_conn *conn, const char *fmt, ...)
{
	va_list ap;

	(void)conn;
	if (level >= PGS_LOG_WARN)
		warnings++;
	va_start(ap, fmt);
	vsnprintf(err, sizeof err, fmt, ap);
	va_end(ap);
}

static void *fh_alloc(size_t len)
{
	live_allocs++;
	return malloc(len);
}

static void fh_free(void *p)
{
	live_allocs -= p != NULL;
	free(p);
}

static void fh_wipe_free(void *p, size_t len)
{
	if (p != NULL)
		OPENSSL_cleanse(p, len);
	fh_free(p);
}

static void *fh_conn_alloc(pgs_conn *conn, size_t len)
{
	return conn->nmem == 16 ? NULL : (conn->mem[conn->nmem++] = calloc(1, len));
}

static int fh_cfg_str(const pgs_cfg *cfg, const char *key, const char **out)
{
	if (strcmp(key, "file") != 0 || cfg->file == NULL)
		return -ENOENT;
	*out = cfg->file;
	return 0;
}

/* Test paths are absolute: written as they are. */
static int fh_cfg_path(const pgs_cfg *cfg, const char *key, char *out, size_t out_size)
{
	const char *v = NULL;
	int rc = fh_cfg_str(cfg, key, &v);

	if (rc < 0)
		return rc;
	if (strlen(v) >= out_size)
		return -ENAMETOOLONG;
	strcpy(out, v);
	return 0;
}

static int fh_cfg_bool(const pgs_cfg *cfg, const char *key, bool *out)
{
	if (strcmp(key, "allow_unencrypted") != 0 || cfg->allow_unencrypted < 0)
		return -ENOENT;
	*out = cfg->allow_unencrypted != 0;
	return 0;
}

static const char *fh_conn_param(const pgs_conn *conn, const char *name)
{
	if (strcmp(name, "user") == 0)
		return conn->user;
	if (strcmp(name, "transport") == 0)
		return conn->transport;
	if (strcmp(name, "peer_uid") == 0)
		return conn->peer_uid;
	return strcmp(name, "map") == 0 ? conn->map : NULL; /* also the step option */
}

static int fh_secret_lookup(pgs_conn *conn, const char *user, pgs_secret *out)
{
	int rc;

	memset(out, 0, sizeof *out);
	out->size = sizeof *out;
	rc = cred.desc->cred->lookup(cred.mod, conn, user, out);
	live_secrets += rc == 0;
	return rc;
}

static void fh_secret_release(pgs_secret *s)
{
	fh_wipe_free((void *)s->data, s->len + 1);
	s->data = NULL;
	live_secrets--;
}

static int fh_set_authn_id(pgs_conn *conn, const char *id)
{
	snprintf(conn->authn_id, sizeof conn->authn_id, "%s", id);
	return 0;
}

static int fh_wbuf_auth(pgs_wbuf *out, uint32_t code, const void *data, size_t len)
{
	ck_assert_uint_le(len, sizeof out->data);
	out->code = code;
	if (len > 0)
		memcpy(out->data, data, len);
	out->len = len;
	out->count++;
	return 0;
}

static int fh_defer(pgs_conn *conn, void (*work)(void *arg), void *arg)
{
	ck_assert_ptr_null(conn->work);
	conn->work = work;
	conn->work_arg = arg;
	return 0;
}

/* Map "m": any system user may connect as role "mapped"; no other map exists. */
static int fh_ident_match(const pgs_conn *conn, const char *map, const char *sysuser,
                          const char *role)
{
	(void)conn;
	if (strcmp(map, "m") != 0)
		return -ENOENT;
	return strcmp(role, "mapped") == 0 && sysuser[0] != '\0' ? 0 : -EACCES;
}

static const pgs_host fake_host = {
        .size = sizeof(pgs_host),
        .abi_major = PGS_ABI_MAJOR,
        .abi_minor = PGS_ABI_MINOR,
        .host_version = "check_userlist",
        .log = fh_log,
        .alloc = fh_alloc,
        .free = fh_free,
        .conn_alloc = fh_conn_alloc,
        .wipe_free = fh_wipe_free,
        .cfg_str = fh_cfg_str,
        .cfg_bool = fh_cfg_bool,
        .conn_param = fh_conn_param,
        .step_option = fh_conn_param,
        .secret_lookup = fh_secret_lookup,
        .secret_release = fh_secret_release,
        .set_authn_id = fh_set_authn_id,
        .wbuf_auth = fh_wbuf_auth,
        .defer = fh_defer,
        .ct_memcmp = CRYPTO_memcmp,
        .ident_match = fh_ident_match,
        .cfg_path = fh_cfg_path,
};

static int load(const char *name, const pgs_cfg *cfg, struct loaded *l)
{
	const pgs_module *(*entry)(void);
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/%s.so", BUILD_MODULEDIR, name);
	l->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(l->handle != NULL, "dlopen %s: %s", path, dlerror());
	*(void **)&entry = dlsym(l->handle, PGS_ENTRY_SYMBOL);
	ck_assert_ptr_nonnull(entry);
	l->desc = entry();
	ck_assert_str_eq(l->desc->name, name);
	return l->desc->init(&fake_host, cfg, &l->mod);
}

static void unload(struct loaded *l)
{
	l->desc->fini(l->mod);
	dlclose(l->handle);
}

/* The sample userlist loaded as the credential source. */
static void cred_setup(void)
{
	pgs_cfg cfg = {.allow_unencrypted = -1};

	tmp_setup();
	cfg.file = sample_copy();
	ck_assert_msg(load("userlist", &cfg, &cred) == 0, "%s", err);
	ck_assert_ptr_nonnull(cred.desc->cred);
}

static void cred_teardown(void)
{
	unload(&cred);
	ck_assert_int_eq(live_secrets, 0);
	ck_assert_int_eq(live_allocs, 0);
	tmp_teardown();
}

static char detail_copy[1024];

/* One step, running deferred work the way the host does. */
static enum pgs_step step(struct loaded *l, pgs_conn *c, void *st, const void *in, size_t len,
                          pgs_wbuf *out, const char **detail)
{
	enum pgs_step r;

	*detail = NULL;
	r = l->desc->auth->step(l->mod, c, st, in, len, out, detail);
	while (r == PGS_STEP_PENDING) {
		void (*work)(void *) = c->work;

		ck_assert_ptr_nonnull(work);
		c->work = NULL;
		work(c->work_arg);
		r = l->desc->auth->step(l->mod, c, st, NULL, 0, out, detail);
	}
	/* The detail may live in connection memory: keep a copy past it. */
	if (*detail != NULL) {
		snprintf(detail_copy, sizeof detail_copy, "%s", *detail);
		*detail = detail_copy;
	}
	return r;
}

static void conn_done(struct loaded *l, pgs_conn *c, void *st)
{
	if (l->desc->auth->conn_free != NULL)
		l->desc->auth->conn_free(l->mod, c, st);
	for (int i = 0; i < c->nmem; i++)
		free(c->mem[i]);
	c->nmem = 0;
}

/* ------------------------------------------------------------ modules */

START_TEST(test_module_userlist)
{
	pgs_cfg cfg = {.allow_unencrypted = -1};
	pgs_secret s = {.size = sizeof s};
	struct loaded l;

	tmp_setup();
	ck_assert_int_eq(load("userlist", &cfg, &l), -EINVAL); /* no file */
	ck_assert_ptr_nonnull(strstr(err, "\"file\""));
	cfg.file = write_file("open.txt", "\"a\" \"1\"\n", 8, 0644);
	ck_assert_int_eq(load("userlist", &cfg, &l), -EACCES);
	ck_assert_ptr_nonnull(strstr(err, "mode 0644"));
	ck_assert_int_eq(live_allocs, 0);
	tmp_teardown();

	cred_setup();
	ck_assert_int_eq(fh_secret_lookup(NULL, "dave", &s), 0);
	ck_assert_str_eq(s.kind, "scram-sha-256");
	ck_assert_uint_eq(s.len, strlen(DAVE_VERIFIER));
	ck_assert_mem_eq(s.data, DAVE_VERIFIER, s.len);
	fh_secret_release(&s);
	ck_assert_int_eq(fh_secret_lookup(NULL, "nobody", &s), -ENOENT);
	cred_teardown();
}
END_TEST

static uint8_t last_salt[4];
static const char *raw_answer; /* when set, login() sends it as it is */
static size_t raw_len;

struct login_case {
	const char *transport, *user, *password;
	enum pgs_step want;
	const char *detail; /* NULL: not checked */
};

/*
 * A full exchange with the md5 or password frontend: answers code 5 with
 * the MD5 hash (the salt goes to last_salt) and code 3 with the password.
 */
static enum pgs_step login(struct loaded *l, const char *transport, const char *user,
                           const char *password, const char **detail)
{
	pgs_conn c = {.user = user, .transport = transport};
	char stored[MD5_HASH_STORED_LEN + 1], answer[MD5_HASH_STORED_LEN + 1];
	pgs_wbuf out = {0};
	enum pgs_step r;
	void *st;

	ck_assert_int_eq(l->desc->auth->conn_new(l->mod, &c, &st), 0);
	r = step(l, &c, st, NULL, 0, &out, detail);
	if (r == PGS_STEP_NEED_INPUT && raw_answer != NULL) {
		r = step(l, &c, st, raw_answer, raw_len, &out, detail);
	} else if (r == PGS_STEP_NEED_INPUT && out.code == 5) {
		ck_assert_uint_eq(out.len, 4);
		memcpy(last_salt, out.data, 4);
		ck_assert_int_eq(md5_hash_password((const uint8_t *)password, strlen(password),
		                                   user, stored),
		                 0);
		ck_assert_int_eq(md5_hash_salted(stored + 3, out.data, answer), 0);
		r = step(l, &c, st, answer, sizeof answer, &out, detail);
	} else if (r == PGS_STEP_NEED_INPUT) {
		ck_assert_uint_eq(out.code, 3);
		ck_assert_uint_eq(out.len, 0);
		r = step(l, &c, st, password, strlen(password) + 1, &out, detail);
	} else {
		ck_assert_int_eq(out.count, 0); /* FAIL or IGNORE before sending */
	}
	ck_assert_str_eq(c.authn_id, r == PGS_STEP_DONE ? user : "");
	conn_done(l, &c, st);
	return r;
}

static void run_logins(struct loaded *l, const struct login_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *d;

		ck_assert_msg(login(l, cases[i].transport, cases[i].user, cases[i].password, &d) ==
		                      cases[i].want,
		              "case %zu (%s): %s", i, cases[i].user, d ? d : "");
		if (cases[i].detail != NULL)
			ck_assert_str_eq(d, cases[i].detail);
	}
}

/* Answers that break the PasswordMessage rules, for md5 and password. */
static void bad_packets(struct loaded *l, const char *transport)
{
	static const struct {
		const char *data;
		size_t len;
		enum pgs_step want;
		const char *detail;
	} cases[] = {
	        {"md5", 3, PGS_STEP_PROTO_ERROR, "invalid password packet size"},
	        {"md5\0x", 5, PGS_STEP_PROTO_ERROR, "invalid password packet size"},
	        {"", 0, PGS_STEP_PROTO_ERROR, "invalid password packet size"},
	        {"\0\0", 2, PGS_STEP_PROTO_ERROR, "invalid password packet size"},
	        {"", 1, PGS_STEP_FAIL, "empty password returned by client"},
	        {"md5abc", 7, PGS_STEP_FAIL, "password does not match"},
	};
	const char *d;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		raw_answer = cases[i].data;
		raw_len = cases[i].len;
		ck_assert_int_eq(login(l, transport, "alice", NULL, &d), cases[i].want);
		ck_assert_str_eq(d, cases[i].detail);
	}
	raw_answer = NULL;
}

static const struct login_case md5_logins[] = {
        {"tcp", "carol", "md5pass", PGS_STEP_DONE, NULL},
        {"tcp", "bob", "pa\"ss", PGS_STEP_DONE, NULL},
        {"tcp", "alice", "alicepasS", PGS_STEP_FAIL, "password does not match"},
        {"tcp", "carol", "md5pas", PGS_STEP_FAIL, "password does not match"},
        /* unknown user, empty stored password: the same exchange, then FAIL */
        {"tcp", "mallory", "x", PGS_STEP_FAIL, "user does not exist"},
        {"tcp", "frank", "", PGS_STEP_FAIL, "user has no password assigned"},
        /* a SCRAM verifier: steps aside before sending anything */
        {"tcp", "dave", "scrampass", PGS_STEP_IGNORE,
         "stored secret is a SCRAM verifier; md5 steps aside"},
};

START_TEST(test_module_md5)
{
	pgs_cfg cfg = {.allow_unencrypted = -1};
	uint8_t salt[4];
	const char *d;
	struct loaded l;

	cred_setup();
	warnings = 0;
	ck_assert_int_eq(load("md5", &cfg, &l), 0);
	ck_assert_int_eq(warnings, 1); /* deprecation */
	ck_assert_uint_eq(l.desc->auth->flags, PGS_AUTH_INTERACTIVE | PGS_AUTH_FINAL_FAILURE);
	ck_assert_str_eq(l.desc->auth->method, "password");
	ck_assert_str_eq(l.desc->auth->fail_sqlstate, "28P01");

	ck_assert_int_eq(login(&l, "tcp", "alice", "alicepass", &d), PGS_STEP_DONE);
	memcpy(salt, last_salt, 4);
	ck_assert_int_eq(login(&l, "tcp", "alice", "alicepass", &d), PGS_STEP_DONE);
	ck_assert_mem_ne(salt, last_salt, 4);
	run_logins(&l, md5_logins, sizeof md5_logins / sizeof md5_logins[0]);
	bad_packets(&l, "tcp");
	unload(&l);
	cred_teardown();
}
END_TEST

static const struct login_case password_logins[] = {
        /* unencrypted: refused before anything is sent */
        {"tcp", "alice", "alicepass", PGS_STEP_FAIL,
         "password: cleartext password refused on a connection that is neither TLS nor GSS "
         "encrypted (set allow_unencrypted = true to accept it)"},
        {"unix", "alice", "alicepass", PGS_STEP_FAIL, NULL},
        {NULL, "alice", "alicepass", PGS_STEP_FAIL, NULL},
        {"tls", "alice", "alicepass", PGS_STEP_DONE, NULL},
        {"gss", "bob", "pa\"ss", PGS_STEP_DONE, NULL},
        {"tls", "alice", "alicepas", PGS_STEP_FAIL, "password does not match"},
        {"tls", "alice", "alicepass2", PGS_STEP_FAIL, "password does not match"},
        {"tls", "carol", "md5pass", PGS_STEP_DONE, NULL},
        {"tls", "carol", "md5pasS", PGS_STEP_FAIL, "password does not match"},
        {"tls", "dave", "scrampass", PGS_STEP_DONE, NULL},
        {"tls", "dave", "scrampas", PGS_STEP_FAIL, "password does not match"},
        {"tls", "mallory", "x", PGS_STEP_FAIL, "user does not exist"},
        {"tls", "frank", "x", PGS_STEP_FAIL, "user has no password assigned"},
};

START_TEST(test_module_password)
{
	pgs_cfg cfg = {.allow_unencrypted = -1};
	char big[1001];
	const char *d;
	struct loaded l;

	cred_setup();
	warnings = 0;
	ck_assert_int_eq(load("password", &cfg, &l), 0);
	ck_assert_int_eq(warnings, 0);
	ck_assert_uint_eq(l.desc->auth->flags, PGS_AUTH_INTERACTIVE | PGS_AUTH_FINAL_FAILURE);
	ck_assert_str_eq(l.desc->auth->method, "password");
	ck_assert_str_eq(l.desc->auth->fail_sqlstate, "28P01");
	run_logins(&l, password_logins, sizeof password_logins / sizeof password_logins[0]);
	bad_packets(&l, "tls");
	/* 1000 bytes with the NUL pass the size check; 1001 do not */
	memset(big, 'x', sizeof big);
	big[999] = '\0';
	ck_assert_int_eq(login(&l, "tls", "alice", big, &d), PGS_STEP_FAIL);
	big[999] = 'x';
	big[1000] = '\0';
	ck_assert_int_eq(login(&l, "tls", "alice", big, &d), PGS_STEP_PROTO_ERROR);
	ck_assert_str_eq(d, "invalid password packet size");
	unload(&l);

	cfg.allow_unencrypted = 1;
	ck_assert_int_eq(load("password", &cfg, &l), 0);
	ck_assert_int_eq(warnings, 1);
	ck_assert_int_eq(login(&l, "tcp", "alice", "alicepass", &d), PGS_STEP_DONE);
	unload(&l);
	cred_teardown();
}
END_TEST

/* One peer step for role `user`; the detail (or authn_id when DONE) is
 * printed into got, with "%s" standing for the test's own system user. */
static enum pgs_step peer_login(struct loaded *l, const char *user, const char *transport,
                                const char *uid, const char *map, char *got, size_t got_size)
{
	pgs_conn c = {.user = user, .transport = transport, .peer_uid = uid, .map = map};
	pgs_wbuf out = {0};
	const char *d;
	enum pgs_step r;
	void *st;

	ck_assert_int_eq(l->desc->auth->conn_new(l->mod, &c, &st), 0);
	r = step(l, &c, st, NULL, 0, &out, &d);
	ck_assert_int_eq(out.count, 0);
	snprintf(got, got_size, "%s", r == PGS_STEP_DONE ? c.authn_id : d ? d : "(null)");
	if (r != PGS_STEP_DONE)
		ck_assert_str_eq(c.authn_id, "");
	conn_done(l, &c, st);
	return r;
}

START_TEST(test_module_peer)
{
	static const struct {
		const char *user, *transport, *uid, *map; /* "%s", "%u": the test's own */
		enum pgs_step want;
		const char *detail; /* or authn_id */
	} cases[] = {
	        {"%s", "unix", "%u", NULL, PGS_STEP_DONE, "%s"},
	        {"other", "unix", "%u", NULL, PGS_STEP_FAIL,
	         "provided user name (other) and authenticated user name (%s) do not match"},
	        {"%s", "tcp", "%u", NULL, PGS_STEP_FAIL,
	         "peer authentication is only available on local sockets"},
	        {"%s", "unix", "3999999999", NULL, PGS_STEP_FAIL,
	         "could not look up local user ID 3999999999: user does not exist"},
	        {"%s", "unix", "12x", NULL, PGS_STEP_FAIL,
	         "peer: could not get peer credentials from the socket"},
	        {"%s", "unix", NULL, NULL, PGS_STEP_FAIL,
	         "peer: could not get peer credentials from the socket"},
	        {"mapped", "unix", "%u", "m", PGS_STEP_DONE, "%s"},
	        {"%s", "unix", "%u", "m", PGS_STEP_FAIL,
	         "no match in usermap \"m\" for user \"%s\" authenticated as \"%s\""},
	        {"mapped", "unix", "%u", "x", PGS_STEP_FAIL, "ident map \"x\" is not defined"},
	};
	pgs_cfg cfg = {.allow_unencrypted = -1};
	struct passwd *pw = getpwuid(getuid());
	char uid[32], me[256], want[1024], got[1024];
	struct loaded l;

	ck_assert_ptr_nonnull(pw);
	snprintf(me, sizeof me, "%s", pw->pw_name);
	snprintf(uid, sizeof uid, "%u", (unsigned int)getuid());
	ck_assert_int_eq(load("peer", &cfg, &l), 0);
	ck_assert_uint_eq(l.desc->auth->flags, 0);
	ck_assert_str_eq(l.desc->auth->method, "Peer");
	ck_assert_str_eq(l.desc->auth->fail_sqlstate, "28000");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *user = strcmp(cases[i].user, "%s") == 0 ? me : cases[i].user;
		const char *id = cases[i].uid && strcmp(cases[i].uid, "%u") == 0 ? uid
		                                                                 : cases[i].uid;

		ck_assert_int_eq(
		        peer_login(&l, user, cases[i].transport, id, cases[i].map, got, sizeof got),
		        cases[i].want);
		snprintf(want, sizeof want, cases[i].detail, me, me);
		ck_assert_str_eq(got, want);
	}
	unload(&l);
	ck_assert_int_eq(live_allocs, 0);
}
END_TEST

static Suite *userlist_suite(void)
{
	Suite *s = suite_create("userlist");
	TCase *tp = tcase_create("parser");
	TCase *tm = tcase_create("modules");

	tcase_add_test(tp, test_sample);
	tcase_add_test(tp, test_tolerant);
	tcase_add_loop_test(tp, test_bad_line, 0, (int)(sizeof bad_files / sizeof bad_files[0]));
	tcase_add_test(tp, test_limits);
	tcase_add_test(tp, test_permissions);
	tcase_add_test(tp, test_ten_thousand);
	suite_add_tcase(s, tp);

	tcase_add_test(tm, test_module_userlist);
	tcase_add_test(tm, test_module_md5);
	tcase_add_test(tm, test_module_password);
	tcase_add_test(tm, test_module_peer);
	suite_add_tcase(s, tm);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(userlist_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
