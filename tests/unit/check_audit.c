/*
 * check_audit.c — unit tests of the audit module (modules/audit/),
 * dlopen'ed from the build and run behind a fake host whose config is a
 * key/value list.  Every file the module writes is checked here
 * independently of the module's code: a small JSON parser reads each line
 * (and decodes its strings), and the MAC chain is recomputed with
 * OpenSSL's EVP_Q_mac over the raw bytes.
 *
 * The full-disk cases mount a 64 KiB tmpfs (root only); when mount is
 * refused (or CHECK_AUDIT_NO_MOUNT is set) they use RLIMIT_FSIZE in the
 * test's own forked process, with SIGXFSZ ignored, instead.
 */
#include "autoconf.h"

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "pgsluice/module.h"
#include "audit_json.h"

#define KEY1  "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define KEY2  "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"

/* Check's ck_assert*() report every passed assertion to the parent (a
 * write each); the helpers run per line of 40 000-line files use these. */
#define CHECK(cond, ...)                           \
	do {                                       \
		if (!(cond))                       \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)
#define CHECK1(cond) CHECK(cond, "failed: %s", #cond)
#define CHECK_STR(a, b)                                                               \
	do {                                                                          \
		const char *a_ = (a), *b_ = (b);                                      \
		if (strcmp(a_, b_) != 0)                                              \
			ck_abort_msg("%s is \"%.200s\", not \"%.200s\"", #a, a_, b_); \
	} while (0)

/* ------------------------------------------------------------ fake host */

struct pgs_cfg {
	const char *kv[32]; /* key, value, ..., NULL */
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char logbuf[65536];

static void fake_log(enum pgs_log level, const pgs_conn *conn, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void fake_log(enum pgs_log level, const pgs_conn *conn, const char *fmt, ...)
{
	static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
	size_t n;
	va_list ap;

	(void)conn;
	pthread_mutex_lock(&log_lock);
	n = strlen(logbuf);
	if (n + 256 < sizeof logbuf) {
		n += (size_t)snprintf(logbuf + n, sizeof logbuf - n, "%s: ", names[level & 3]);
		va_start(ap, fmt);
		vsnprintf(logbuf + n, sizeof logbuf - n, fmt, ap);
		va_end(ap);
		n = strlen(logbuf);
		if (n + 1 < sizeof logbuf)
			strcpy(logbuf + n, "\n");
	}
	pthread_mutex_unlock(&log_lock);
}

static int log_count(const char *text)
{
	int count = 0;

	pthread_mutex_lock(&log_lock);
	for (const char *p = logbuf; (p = strstr(p, text)) != NULL; p += strlen(text))
		count++;
	pthread_mutex_unlock(&log_lock);
	return count;
}

static void *fake_alloc(size_t len)
{
	return calloc(1, len);
}

static void fake_wipe_free(void *p, size_t len)
{
	if (p != NULL)
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

static int fake_cfg_bool(const pgs_cfg *cfg, const char *key, bool *out)
{
	const char *v = cfg_find(cfg, key);

	if (v == NULL)
		return -ENOENT;
	if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
		return -EINVAL;
	*out = strcmp(v, "true") == 0;
	return 0;
}

static const char *fake_cfg_where(const pgs_cfg *cfg, const char *key)
{
	(void)cfg, (void)key;
	return "audit.conf:7";
}

static int fake_cfg_path(const pgs_cfg *cfg, const char *key, char *out, size_t size)
{
	const char *v = cfg_find(cfg, key);

	if (v == NULL)
		return -ENOENT;
	if (*v == '\0')
		return -EINVAL;
	if (strlen(v) >= size)
		return -ENAMETOOLONG;
	strcpy(out, v);
	return 0;
}

/* host->cred_derive_key: "vault" derives KEY1 for the audit label, "later"
 * is listed after the caller (or unknown), "userlist" cannot derive. */
static int fake_derive_key(const pgs_cfg *cfg, const char *instance, const char *label,
                           uint8_t *out, size_t len)
{
	(void)cfg;
	if (strcmp(instance, "later") == 0)
		return -ESRCH;
	if (strcmp(instance, "userlist") == 0)
		return -ENOTSUP;
	if (strcmp(label, "audit-hmac") != 0 || len != 32)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		ck_assert_int_eq(sscanf(KEY1 + 2 * i, "%2hhx", &out[i]), 1);
	return 0;
}

static const pgs_host fake_host = {
        .size = sizeof(pgs_host),
        .abi_major = PGS_ABI_MAJOR,
        .abi_minor = PGS_ABI_MINOR,
        .host_version = "check_audit",
        .log = fake_log,
        .alloc = fake_alloc,
        .free = free,
        .wipe_free = fake_wipe_free,
        .cfg_str = fake_cfg_str,
        .cfg_int = fake_cfg_int,
        .cfg_bool = fake_cfg_bool,
        .cfg_where = fake_cfg_where,
        .cfg_path = fake_cfg_path,
        .cred_derive_key = fake_derive_key,
};

/* ------------------------------------------------------------ fixture */

static void *dl;
static const pgs_module *desc;
static char base[64]; /* made by the parent; each test's dir is inside */
static char dir[96];
static char logpath[256], keypath[128], key2path[128];

static void setup(void)
{
	const pgs_module *(*entry)(void);

	logbuf[0] = '\0';
	dl = dlopen(BUILD_MODULEDIR "/audit.so", RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(dl != NULL, "%s", dlerror());
	*(void **)&entry = dlsym(dl, PGS_ENTRY_SYMBOL);
	ck_assert_ptr_nonnull(entry);
	desc = entry();
	snprintf(dir, sizeof dir, "%s/t.XXXXXX", base);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(logpath, sizeof logpath, "%s/audit.jsonl", dir);
	snprintf(keypath, sizeof keypath, "%s/audit.key", dir);
	snprintf(key2path, sizeof key2path, "%s/audit2.key", dir);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "check_audit: could not remove %s\n", dir);
}

static void base_make(void)
{
	strcpy(base, "/tmp/check_audit.XXXXXX");
	if (mkdtemp(base) == NULL) {
		perror("check_audit: mkdtemp");
		exit(EXIT_FAILURE);
	}
}

/* In the parent after all tests: a failed test skips its teardown, so
 * unmount what it left mounted under base, then remove base. */
static void base_remove(void)
{
	char line[1024], mnt_point[512], cmd[128];
	FILE *f = fopen("/proc/self/mounts", "r");

	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "%*s %511s", mnt_point) == 1 &&
		    strncmp(mnt_point, base, strlen(base)) == 0 &&
		    umount2(mnt_point, MNT_DETACH) != 0)
			fprintf(stderr, "check_audit: umount %s: %s\n", mnt_point, strerror(errno));
	if (f != NULL)
		fclose(f);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	if (system(cmd) != 0)
		fprintf(stderr, "check_audit: could not remove %s\n", base);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

/* init with file = logpath and the given extra settings (key, value, ...). */
static int init_with(pgs_cfg *cfg, void **mod, const char *key_file, ...)
{
	const char *k;
	size_t n = 0;
	va_list ap;

	memset(cfg, 0, sizeof *cfg);
	cfg->kv[n++] = "file";
	cfg->kv[n++] = logpath;
	cfg->kv[n++] = "key_file";
	cfg->kv[n++] = key_file;
	va_start(ap, key_file);
	while ((k = va_arg(ap, const char *)) != NULL && n + 3 < 32) {
		cfg->kv[n++] = k;
		cfg->kv[n++] = va_arg(ap, const char *);
	}
	va_end(ap);
	*mod = NULL;
	return desc->init(&fake_host, cfg, mod);
}

static void *start(const char *key_file)
{
	static pgs_cfg cfgs[8];
	static int next;
	void *mod;

	ck_assert_int_eq(init_with(&cfgs[next++ % 8], &mod, key_file, NULL), 0);
	return mod;
}

static void emit(void *mod, enum pgs_event_type type, const char *const *fields)
{
	pgs_event ev = {.size = sizeof ev, .type = type, .fields = fields};

	desc->audit->on_event(mod, NULL, &ev);
}

/* An event with fields "conn" = C-<n>. */
static void emit_n(void *mod, long n)
{
	char num[32];
	const char *fields[] = {"conn", num, NULL};

	snprintf(num, sizeof num, "C-%ld", n);
	emit(mod, PGS_EV_CONNECT, fields);
}

/* ------------------------------------------------------------ reading files */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static size_t count_lines(const char *path)
{
	size_t len, n = 0;
	char *buf;

	if (access(path, F_OK) != 0)
		return 0;
	buf = slurp(path, &len);
	for (const char *p = buf; (p = memchr(p, '\n', len - (size_t)(p - buf))) != NULL; p++)
		n++;
	free(buf);
	return n;
}

/* Wait (up to secs) until path holds at least n lines. */
static void wait_lines(const char *path, size_t n, int secs)
{
	for (int i = 0; i < secs * 20 && count_lines(path) < n; i++)
		usleep(50000);
	ck_assert_uint_ge(count_lines(path), n);
}

/* One line as the independent parser saw it. */
#define MAXF 24
struct tline {
	char *raw; /* without "\n" */
	size_t len;
	uint64_t seq;
	char prev[65], mac[65];
	int nf;
	char *key[MAXF], *val[MAXF]; /* decoded */
	size_t val_len[MAXF];
};

struct tfile {
	char *data;
	size_t n;
	struct tline *l;
};

/* ---- a tiny strict JSON reader for one line: an object of strings and one number */

static int utf8_len(const unsigned char *p, const unsigned char *end)
{
	int n = p[0] < 0x80                    ? 1
	        : p[0] >= 0xc2 && p[0] <= 0xdf ? 2
	        : p[0] >= 0xe0 && p[0] <= 0xef ? 3
	        : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4
	                                       : 0;

	if (n == 0 || p + n > end)
		return 0;
	for (int i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
		return 0;
	return n;
}

/* Parse a JSON string at *pp; the decoded bytes into a malloc'ed buffer. */
static char *json_string(const char **pp, const char *end, size_t *out_len)
{
	const unsigned char *p = (const unsigned char *)*pp, *e = (const unsigned char *)end;
	char *out = malloc((size_t)(e - p) * 3 + 1);
	size_t n = 0;

	CHECK(p < e && *p == '"', "string expected: %.40s", *pp);
	p++;
	while (p < e && *p != '"') {
		if (*p == '\\') {
			unsigned v;

			CHECK1(p + 1 < e);
			switch (p[1]) {
			case '"':
			case '\\':
			case '/':
				out[n++] = (char)p[1];
				break;
			case 'n':
				out[n++] = '\n';
				break;
			case 'r':
				out[n++] = '\r';
				break;
			case 't':
				out[n++] = '\t';
				break;
			case 'b':
				out[n++] = '\b';
				break;
			case 'f':
				out[n++] = '\f';
				break;
			case 'u':
				CHECK1(p + 5 < e && sscanf((const char *)p + 2, "%4x", &v) == 1);
				if (v < 0x80) {
					out[n++] = (char)v;
				} else {
					ck_assert_uint_eq(
					        v, 0xfffd); /* the only one the module writes */
					memcpy(out + n, "\xef\xbf\xbd", 3);
					n += 3;
				}
				p += 4;
				break;
			default:
				ck_abort_msg("bad escape \\%c", p[1]);
			}
			p += 2;
			continue;
		}
		CHECK(*p >= 0x20, "raw control byte 0x%02x in a string", *p);
		int k = utf8_len(p, e);

		CHECK(k > 0, "invalid UTF-8 in the line at byte 0x%02x", *p);
		memcpy(out + n, p, (size_t)k);
		n += (size_t)k;
		p += k;
	}
	CHECK(p < e, "unterminated string");
	out[n] = '\0';
	*out_len = n;
	*pp = (const char *)p + 1;
	return out;
}

/* Parse one line into t: {"seq":N,"k":"v",...}. */
static void json_line(struct tline *t)
{
	const char *p = t->raw, *end = t->raw + t->len;
	bool first = true;

	CHECK1(*p == '{');
	p++;
	while (p < end && *p != '}') {
		size_t klen;

		if (!first) {
			CHECK(*p == ',', "',' expected: %.40s", p);
			p++;
		}
		CHECK1(t->nf < MAXF);
		t->key[t->nf] = json_string(&p, end, &klen);
		CHECK1(p < end && *p == ':');
		p++;
		if (first) { /* seq: a number */
			char *num_end;

			CHECK_STR(t->key[0], "seq");
			t->seq = strtoull(p, &num_end, 10);
			CHECK1(num_end > p);
			t->val[t->nf] = strndup(p, (size_t)(num_end - p));
			t->val_len[t->nf] = (size_t)(num_end - p);
			p = num_end;
		} else {
			t->val[t->nf] = json_string(&p, end, &t->val_len[t->nf]);
		}
		t->nf++;
		first = false;
	}
	CHECK(p + 1 == end && *p == '}', "junk after the object");
}

static const char *field(const struct tline *t, const char *key)
{
	for (int i = 0; i < t->nf; i++)
		if (strcmp(t->key[i], key) == 0)
			return t->val[i];
	return NULL;
}

static void tfile_free(struct tfile *f)
{
	for (size_t i = 0; i < f->n; i++)
		for (int k = 0; k < f->l[i].nf; k++) {
			free(f->l[i].key[k]);
			free(f->l[i].val[k]);
		}
	free(f->l);
	free(f->data);
	memset(f, 0, sizeof *f);
}

/* Read every line of path (each must end in "\n") and parse it. */
static void tfile_load(const char *path, struct tfile *f)
{
	size_t len, cap = 0;
	char *p;

	memset(f, 0, sizeof *f);
	f->data = slurp(path, &len);
	CHECK(len == 0 || f->data[len - 1] == '\n', "%s: incomplete last line", path);
	for (p = f->data; p < f->data + len;) {
		char *nl = memchr(p, '\n', (size_t)(f->data + len - p));
		struct tline *t;

		if (f->n == cap) {
			cap = cap * 2 + 64;
			f->l = realloc(f->l, cap * sizeof *f->l);
		}
		t = &f->l[f->n++];
		memset(t, 0, sizeof *t);
		t->raw = p;
		t->len = (size_t)(nl - p);
		CHECK1(t->len + 1 <= 65536);
		*nl = '\0';
		json_line(t);
		CHECK_STR(t->key[1], "ts");
		CHECK_STR(t->key[2], "event");
		CHECK_STR(t->key[t->nf - 2], "prev");
		CHECK_STR(t->key[t->nf - 1], "mac");
		CHECK1(strlen(t->val[t->nf - 2]) == 64);
		CHECK1(strlen(t->val[t->nf - 1]) == 64);
		strcpy(t->prev, t->val[t->nf - 2]);
		strcpy(t->mac, t->val[t->nf - 1]);
		p = nl + 1;
	}
}

static void hexkey(const char *hex, unsigned char key[32])
{
	for (int i = 0; i < 32; i++) {
		unsigned v;

		CHECK1(sscanf(hex + 2 * i, "%2x", &v) == 1);
		key[i] = (unsigned char)v;
	}
}

/* Check lines [from, to) of f: MAC (over the raw bytes before ,"mac":"),
 * and, after `from`, prev = previous mac and seq = previous + 1, except at
 * a chain_start (prev zeros, seq 1 or previous + 1). */
static void check_chain(const struct tfile *f, size_t from, size_t to, const char *key_hex)
{
	unsigned char key[32], md[64];
	char hex[65];
	size_t md_len;

	hexkey(key_hex, key);
	ck_assert_uint_le(to, f->n);
	for (size_t i = from; i < to; i++) {
		const struct tline *t = &f->l[i];
		const char *tag = t->raw + t->len - 74;
		bool start = strcmp(field(t, "event"), "chain_start") == 0;

		CHECK(memcmp(tag, ",\"mac\":\"", 8) == 0, "line %zu: no mac tag", i + 1);
		CHECK1(memcmp(tag - 74, ",\"prev\":\"", 9) == 0);
		CHECK1(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, 32,
		                 (const unsigned char *)t->raw, (size_t)(tag - t->raw), md,
		                 sizeof md, &md_len) != NULL);
		ck_assert_uint_eq(md_len, 32);
		for (size_t k = 0; k < 32; k++)
			sprintf(hex + 2 * k, "%02x", md[k]);
		CHECK(strcmp(hex, t->mac) == 0, "line %zu: MAC does not match", i + 1);
		if (start)
			CHECK_STR(t->prev, ZEROS);
		if (i == from)
			continue;
		if (start) {
			CHECK(t->seq == 1 || t->seq == f->l[i - 1].seq + 1,
			      "line %zu: seq %" PRIu64, i + 1, t->seq);
		} else {
			CHECK(strcmp(t->prev, f->l[i - 1].mac) == 0, "line %zu: chain broken",
			      i + 1);
			CHECK(t->seq == f->l[i - 1].seq + 1,
			      "line %zu: seq %" PRIu64 " after %" PRIu64, i + 1, t->seq,
			      f->l[i - 1].seq);
		}
	}
}

static int count_events(const struct tfile *f, const char *name)
{
	int n = 0;

	for (size_t i = 0; i < f->n; i++)
		n += strcmp(field(&f->l[i], "event"), name) == 0;
	return n;
}

/* ------------------------------------------------------------ format */

START_TEST(test_descriptor)
{
	ck_assert_str_eq(desc->name, "audit");
	ck_assert_ptr_nonnull(desc->audit);
	ck_assert_uint_ge(desc->audit->size, sizeof(pgs_audit_ops));
	ck_assert_ptr_nonnull(desc->audit->on_event);
	ck_assert_ptr_nonnull(desc->audit->healthy);
	ck_assert_ptr_nonnull(desc->audit->reopen);
	ck_assert_ptr_null(desc->auth);
}
END_TEST

/* The pure functions, compiled into this test. */
START_TEST(test_json_unit)
{
	char out[8192], big[2100];
	uint8_t key[AUDIT_KEY_LEN];
	struct audit_line_info info;

	ck_assert_uint_eq(audit_json_escape(out, sizeof out, "a\"b\\c\nd\re\tf\x01\x7fg"), 29);
	ck_assert_str_eq(out, "a\\\"b\\\\c\\nd\\re\\tf\\u0001\\u007fg");
	audit_json_escape(out, sizeof out, "\x08\x0c\x1f");
	ck_assert_str_eq(out, "\\u0008\\u000c\\u001f");
	audit_json_escape(out, sizeof out, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	ck_assert_str_eq(out, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	/* overlong, surrogate, past U+10FFFF, lone continuation, truncated */
	audit_json_escape(out, sizeof out, "\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\x80|\xe2\x82");
	ck_assert_str_eq(out, "\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd\\ufffd|"
	                      "\\ufffd|\\ufffd\\ufffd");
	/* cut at 1024 bytes, not inside a character */
	memset(big, 'a', sizeof big);
	big[1024] = '\0';
	ck_assert_uint_eq(audit_json_escape(NULL, 0, big), 1024); /* exactly 1024: kept */
	memcpy(big + 1023, "\xc3\xa9xyz", 6);
	ck_assert_uint_eq(audit_json_escape(out, sizeof out, big), 1026);
	ck_assert_str_eq(out + 1020, "aaa...");
	/* snprintf convention: a short buffer is cut and terminated */
	ck_assert_uint_eq(audit_json_escape(out, 4, "abcdef"), 6);
	ck_assert_str_eq(out, "abc");

	ck_assert_int_eq(audit_key_parse(KEY1, 64, key), 0);
	ck_assert_uint_eq(key[0], 0x00);
	ck_assert_uint_eq(key[31], 0xff);
	ck_assert_int_eq(audit_key_parse(KEY1 "\n", 65, key), 0);
	ck_assert_int_eq(audit_key_parse(KEY1 "\n\n", 66, key), -EINVAL);
	ck_assert_int_eq(audit_key_parse(KEY1 " ", 65, key), -EINVAL);
	ck_assert_int_eq(audit_key_parse(KEY1, 62, key), -EINVAL);

	static const char ok[] = "{\"seq\":12,\"ts\":\"x\",\"event\":\"a\",\"prev\":\"" ZEROS
	                         "\",\"mac\":\"" ZEROS "\"}";
	ck_assert_int_eq(audit_json_parse(ok, strlen(ok), &info), 0);
	ck_assert_uint_eq(info.seq, 12);
	ck_assert_uint_eq(info.content_len, strlen(ok) - 74);
	static const char *const bad[] = {
	        "{\"seq\":x,\"prev\":\"" ZEROS "\",\"mac\":\"" ZEROS "\"}",
	        "{\"seq\":1,\"prev\":\"" ZEROS "\",\"mac\":\"" ZEROS "\"",
	        "{\"seq\":1,\"prev\":\"" ZEROS "\",\"mac\":\"" ZEROS "A\"}",
	        "{\"seq\":1,\"prv\":\"" ZEROS "\",\"mac\":\"" ZEROS "\"}",
	        "{\"seq\":1",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(audit_json_parse(bad[i], strlen(bad[i]), &info) == -EINVAL, "%zu", i);
}
END_TEST

static void check_ts(const char *ts)
{
	struct tm tm = {0};
	time_t now = time(NULL), t;

	ck_assert_uint_eq(strlen(ts), 27);
	ck_assert_msg(ts[4] == '-' && ts[7] == '-' && ts[10] == 'T' && ts[13] == ':' &&
	                      ts[16] == ':' && ts[19] == '.' && ts[26] == 'Z',
	              "ts %s", ts);
	ck_assert_ptr_nonnull(strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm));
	t = timegm(&tm);
	ck_assert_msg(t > now - 120 && t <= now + 1, "ts %s is not now (UTC)", ts);
}

START_TEST(test_event_lines)
{
	static const char *const names[] = {"connect", "auth_ok",    "auth_fail", "disconnect",
	                                    "reload",  "admin",      "tls",       "gss",
	                                    "step",    "server_fail"};
	const char *awk = "q\"b\\s\nn\rr\tt\x01\x1f\x7f end";
	const char *utf = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
	const char *bad = "a\xff"
	                  "b\xc3("
	                  "c\xed\xa0\x80"
	                  "d\xe2\x82";
	static char big[5001], edge[1100];
	struct tfile f;
	void *m;

	memset(big, 'x', 5000);
	memset(edge, 'a', 1023);
	strcpy(edge + 1023, "\xc3\xa9zzz");
	write_file(keypath, KEY1 "\n", 0600);
	m = start(keypath);
	for (int t = PGS_EV_CONNECT; t <= PGS_EV_SERVER_FAIL; t++) {
		const char *fields[] = {"conn", "C-1", "value", awk, NULL};

		emit(m, (enum pgs_event_type)t, fields);
	}
	{
		const char *fields[] = {"utf",  utf,  "bad",     bad, "big", big,
		                        "edge", edge, "Bad-Key", "x", "a b", "y",
		                        "",     "z",  "ok_key9", "v", NULL};

		emit(m, PGS_EV_ADMIN, fields);
	}
	{ /* a host older than 1.4: no fields, only detail */
		pgs_event old = {.size = offsetof(pgs_event, fields),
		                 .type = PGS_EV_RELOAD,
		                 .detail = "old \"host\""};

		desc->audit->on_event(m, NULL, &old);
	}
	emit(m, (enum pgs_event_type)99, NULL);
	desc->fini(m);

	tfile_load(logpath, &f);
	ck_assert_uint_eq(f.n, 1 + 10 + 3);
	check_chain(&f, 0, f.n, KEY1);
	ck_assert_str_eq(field(&f.l[0], "event"), "chain_start");
	ck_assert_str_eq(field(&f.l[0], "reason"), "new file");
	ck_assert_str_eq(f.l[0].prev, ZEROS);
	ck_assert_uint_eq(f.l[0].seq, 1);
	for (int i = 0; i < 10; i++) {
		const struct tline *t = &f.l[1 + i];

		ck_assert_str_eq(field(t, "event"), names[i]);
		check_ts(field(t, "ts"));
		ck_assert_int_eq(t->nf, 7);
		ck_assert_str_eq(t->key[3], "conn");
		ck_assert_str_eq(t->key[4], "value");
		ck_assert_str_eq(field(t, "value"), awk); /* decodes back to the same bytes */
		ck_assert_ptr_nonnull(strstr(
		        t->raw, "\"value\":\"q\\\"b\\\\s\\nn\\rr\\tt\\u0001\\u001f\\u007f end\""));
	}
	{
		const struct tline *t = &f.l[11];

		ck_assert_str_eq(field(t, "event"), "admin");
		ck_assert_str_eq(field(t, "utf"), utf);
		ck_assert_ptr_nonnull(strstr(t->raw, utf)); /* kept as is, not escaped */
		ck_assert_ptr_nonnull(strstr(t->raw, "\"bad\":\"a\\ufffdb\\ufffd(c\\ufffd\\ufffd"
		                                     "\\ufffdd\\ufffd\\ufffd\""));
		ck_assert_uint_eq(strlen(field(t, "big")), 1027);
		ck_assert_str_eq(field(t, "big") + 1020, "xxxx...");
		ck_assert_uint_eq(strlen(field(t, "edge")), 1026);
		ck_assert_str_eq(field(t, "edge") + 1020, "aaa...");
		ck_assert_ptr_null(field(t, "Bad-Key"));
		ck_assert_ptr_null(field(t, "a b"));
		ck_assert_ptr_null(field(t, ""));
		ck_assert_str_eq(field(t, "ok_key9"), "v");
	}
	ck_assert_str_eq(field(&f.l[12], "event"), "reload");
	ck_assert_str_eq(field(&f.l[12], "detail"), "old \"host\"");
	ck_assert_str_eq(field(&f.l[13], "event"), "unknown");
	tfile_free(&f);
	ck_assert_int_eq(log_count("0011223344556677"), 0); /* the key is never logged */
}
END_TEST

/* Many large fields: the line stays under 64 KiB and says what it cut. */
START_TEST(test_line_limit)
{
	static char huge[5000];
	const char *fields[2 * 40 + 1];
	static char keys[40][16];
	struct tfile f;
	void *m;

	memset(huge, '\x01', sizeof huge - 1); /* each byte escapes to 6 */
	for (int i = 0; i < 40; i++) {
		snprintf(keys[i], sizeof keys[i], "k%d", i);
		fields[2 * i] = keys[i];
		fields[2 * i + 1] = huge;
	}
	fields[80] = NULL;
	write_file(keypath, KEY1, 0400);
	m = start(keypath);
	emit(m, PGS_EV_ADMIN, fields);
	desc->fini(m);
	tfile_load(logpath, &f);
	ck_assert_uint_eq(f.n, 2);
	check_chain(&f, 0, 2, KEY1);
	ck_assert_uint_le(f.l[1].len + 1, 65536);
	ck_assert_uint_gt(f.l[1].len, 60000);
	ck_assert_str_eq(field(&f.l[1], "k0"), field(&f.l[1], "k9"));
	ck_assert_ptr_nonnull(field(&f.l[1], "fields_cut"));
	ck_assert_int_eq(atoi(field(&f.l[1], "fields_cut")) + f.l[1].nf - 6, 40);
	tfile_free(&f);
}
END_TEST

/* ------------------------------------------------------------ chain */

/* "conn" of lines [from, to) of f are C-<first>, C-<first+1>, ... */
static void check_conns(const struct tfile *f, size_t from, size_t to, long first)
{
	for (size_t i = from; i < to; i++) {
		char want[32];

		snprintf(want, sizeof want, "C-%ld", first + (long)(i - from));
		CHECK_STR(field(&f->l[i], "conn"), want);
	}
}

START_TEST(test_reload_same_file)
{
	static pgs_cfg cfg;
	struct tfile f;
	void *m1, *m2;

	write_file(keypath, KEY1 "\n", 0600);
	m1 = start(keypath);
	for (long i = 1; i <= 10; i++)
		emit_n(m1, i);
	/* the reload's new instance, made before the old one goes */
	ck_assert_int_eq(init_with(&cfg, &m2, keypath, "syslog", "true", "fsync", "off", NULL), 0);
	for (long i = 11; i <= 20; i++)
		emit_n(m1, i);
	for (long i = 21; i <= 30; i++)
		emit_n(m2, i);
	desc->fini(m1);
	for (long i = 31; i <= 40; i++)
		emit_n(m2, i);
	ck_assert_int_eq(desc->audit->healthy(m2), 0);
	desc->fini(m2);

	tfile_load(logpath, &f);
	ck_assert_uint_eq(f.n, 41);
	check_chain(&f, 0, f.n, KEY1);
	ck_assert_int_eq(count_events(&f, "chain_start"), 1);
	ck_assert_uint_eq(f.l[40].seq, 41);
	check_conns(&f, 1, 41, 1);
	tfile_free(&f);
}
END_TEST

START_TEST(test_restart_continues)
{
	struct tfile f;
	void *m;

	write_file(keypath, KEY1 "\n", 0600);
	m = start(keypath);
	for (long i = 1; i <= 5; i++)
		emit_n(m, i);
	desc->fini(m);
	m = start(keypath);
	for (long i = 6; i <= 10; i++)
		emit_n(m, i);
	desc->fini(m);
	tfile_load(logpath, &f);
	ck_assert_uint_eq(f.n, 11);
	check_chain(&f, 0, f.n, KEY1);
	ck_assert_int_eq(count_events(&f, "chain_start"), 1);
	check_conns(&f, 1, 11, 1);
	ck_assert_int_eq(log_count("new chain"), 0);
	tfile_free(&f);
}
END_TEST

START_TEST(test_corrupt_last_line)
{
	char *data, *p, reason[512];
	struct tfile f;
	size_t len;
	FILE *out;
	void *m;

	write_file(keypath, KEY1 "\n", 0600);
	m = start(keypath);
	for (long i = 1; i <= 3; i++)
		emit_n(m, i);
	desc->fini(m);
	/* change one byte of the last line: C-3 -> C-4 */
	data = slurp(logpath, &len);
	p = strstr(data, "\"C-3\"");
	ck_assert_ptr_nonnull(p);
	p[3] = '4';
	out = fopen(logpath, "wb");
	fwrite(data, 1, len, out);
	fclose(out);
	free(data);

	m = start(keypath);
	emit_n(m, 7);
	desc->fini(m);
	tfile_load(logpath, &f);
	ck_assert_uint_eq(f.n, 6);
	snprintf(reason, sizeof reason, "the last line of %s does not verify", logpath);
	ck_assert_str_eq(field(&f.l[4], "event"), "chain_start");
	ck_assert_str_eq(field(&f.l[4], "reason"), reason);
	ck_assert_uint_eq(f.l[4].seq, 1);
	check_chain(&f, 4, 6, KEY1);
	ck_assert_uint_eq(f.l[5].seq, 2);
	ck_assert_int_eq(log_count("starting a new chain"), 1);
	tfile_free(&f);
}
END_TEST

/* A crash mid-line: the fragment is ended with "\n" and a new chain starts. */
START_TEST(test_incomplete_last_line)
{
	char tail[300], reason[512], *data;
	size_t len, cut;
	struct tfile f;
	FILE *out;
	void *m;

	write_file(keypath, KEY1 "\n", 0600);
	m = start(keypath);
	emit_n(m, 1);
	emit_n(m, 2);
	desc->fini(m);
	data = slurp(logpath, &len);
	free(data);
	cut = len - 10;
	ck_assert_int_eq(truncate(logpath, (off_t)cut), 0);

	m = start(keypath);
	emit_n(m, 3);
	desc->fini(m);
	data = slurp(logpath, &len);
	ck_assert_int_eq(data[cut], '\n');
	snprintf(tail, sizeof tail, "%s.tail", logpath);
	out = fopen(tail, "wb");
	fwrite(data + cut + 1, 1, len - cut - 1, out);
	fclose(out);
	free(data);
	tfile_load(tail, &f);
	ck_assert_uint_eq(f.n, 2);
	check_chain(&f, 0, 2, KEY1);
	snprintf(reason, sizeof reason, "incomplete last line in %s", logpath);
	ck_assert_str_eq(field(&f.l[0], "reason"), reason);
	ck_assert_str_eq(field(&f.l[1], "conn"), "C-3");
	tfile_free(&f);
}
END_TEST

START_TEST(test_rotation)
{
	char old[300];
	struct tfile f, g;
	struct stat st;
	void *m;

	write_file(keypath, KEY1 "\n", 0600);
	m = start(keypath);
	for (long i = 1; i <= 5; i++)
		emit_n(m, i);
	wait_lines(logpath, 6, 10);
	snprintf(old, sizeof old, "%s.1", logpath);
	ck_assert_int_eq(rename(logpath, old), 0);
	desc->audit->reopen(m);
	for (long i = 6; i <= 8; i++)
		emit_n(m, i);
	desc->fini(m);

	tfile_load(old, &f);
	tfile_load(logpath, &g);
	ck_assert_uint_eq(f.n, 6);
	ck_assert_uint_eq(g.n, 3);
	check_chain(&f, 0, f.n, KEY1);
	check_chain(&g, 0, g.n, KEY1);
	ck_assert_str_eq(g.l[0].prev, f.l[5].mac); /* continues the rotated file */
	ck_assert_uint_eq(g.l[0].seq, 7);
	ck_assert_int_eq(count_events(&g, "chain_start"), 0);
	check_conns(&g, 0, 3, 6);
	ck_assert_int_eq(stat(logpath, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	tfile_free(&f);
	tfile_free(&g);
}
END_TEST

START_TEST(test_key_changed)
{
	struct tfile f;
	void *m1, *m2;

	write_file(keypath, KEY1 "\n", 0600);
	write_file(key2path, KEY2 "\n", 0600);
	m1 = start(keypath);
	for (long i = 1; i <= 3; i++)
		emit_n(m1, i);
	wait_lines(logpath, 4, 10);
	m2 = start(key2path);
	desc->fini(m1);
	for (long i = 4; i <= 6; i++)
		emit_n(m2, i);
	desc->fini(m2);
	tfile_load(logpath, &f);
	ck_assert_uint_eq(f.n, 8);
	check_chain(&f, 0, 4, KEY1);
	check_chain(&f, 4, 8, KEY2);
	ck_assert_str_eq(field(&f.l[4], "event"), "chain_start");
	ck_assert_str_eq(field(&f.l[4], "reason"), "key changed");
	ck_assert_uint_eq(f.l[4].seq, 5);
	check_conns(&f, 5, 8, 4);
	tfile_free(&f);
}
END_TEST

/* ------------------------------------------------------------ refusals */

static void expect_refused(const char *key_file, const char *what, ...)
{
	static pgs_cfg cfg;
	const char *kv[8] = {NULL};
	void *m;
	va_list ap;
	int n = 0, rc;

	va_start(ap, what);
	while (n < 6 && (kv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	logbuf[0] = '\0';
	rc = init_with(&cfg, &m, key_file, kv[0], kv[1], kv[2], kv[3], NULL);
	ck_assert_msg(rc < 0, "accepted: %s", what);
	ck_assert_ptr_null(m);
	ck_assert_msg(log_count(what) == 1, "log lacks \"%s\": %s", what, logbuf);
}

START_TEST(test_key_refusals)
{
	char keydir[300];

	write_file(keypath, "abcd\n", 0600);
	expect_refused(keypath, "exactly 64 hexadecimal digits", NULL);
	ck_assert_int_eq(log_count(keypath), 1);
	ck_assert_int_eq(log_count("audit.conf:7"), 1);
	write_file(keypath, "0011223344556677889900aabbccddeeff00112233445566778899aabbccddeeg",
	           0600);
	expect_refused(keypath, "exactly 64 hexadecimal digits", NULL);
	write_file(keypath, KEY1 "\n\n", 0600);
	expect_refused(keypath, "exactly 64 hexadecimal digits", NULL);
	write_file(keypath, KEY1 "00", 0600);
	expect_refused(keypath, "exactly 64 hexadecimal digits", NULL);
	write_file(keypath, "", 0600);
	expect_refused(keypath, "exactly 64 hexadecimal digits", NULL);
	write_file(keypath, KEY1 "\n", 0644);
	expect_refused(keypath, "group or other access", NULL);
	write_file(keypath, KEY1 "\n", 0640);
	expect_refused(keypath, "group or other access", NULL);
	snprintf(keydir, sizeof keydir, "%s/keydir", dir);
	ck_assert_int_eq(mkdir(keydir, 0700), 0);
	expect_refused(keydir, "not a regular file", NULL);
	expect_refused("/nonexistent/audit.key", "No such file or directory", NULL);
	ck_assert_int_ne(access(logpath, F_OK), 0); /* nothing created */
	ck_assert_int_eq(log_count("0011223344556677"), 0);

	/* accepted: upper case, no newline */
	write_file(keypath, "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF",
	           0400);
	desc->fini(start(keypath));
}
END_TEST

/* key_vault: the key from host->cred_derive_key, the same chain as with a
 * key_file holding the same key; exactly one of the two. */
START_TEST(test_key_vault)
{
	static pgs_cfg cfg;
	const char *vault_only[] = {"file", logpath, "key_vault", "vault", NULL};
	struct tfile f;
	void *m;

	write_file(keypath, KEY1 "\n", 0600);
	m = start(keypath);
	emit_n(m, 1);
	desc->fini(m);
	memset(&cfg, 0, sizeof cfg);
	memcpy(cfg.kv, vault_only, sizeof vault_only);
	logbuf[0] = '\0';
	ck_assert_int_eq(desc->init(&fake_host, &cfg, &m), 0);
	ck_assert_int_eq(log_count("key from the master key of vault \"vault\""), 1);
	emit_n(m, 2);
	desc->fini(m);
	tfile_load(logpath, &f);
	ck_assert_uint_eq(f.n, 3);
	check_chain(&f, 0, f.n, KEY1);
	ck_assert_int_eq(count_events(&f, "chain_start"), 1); /* same key: the chain goes on */
	check_conns(&f, 1, 3, 1);
	tfile_free(&f);

	expect_refused(keypath, "\"key_file\" and \"key_vault\" exclude each other", "key_vault",
	               "vault", NULL);
	expect_refused(keypath, "\"key_file\" and \"key_vault\" exclude each other", "key_vault",
	               "", NULL);
	vault_only[3] = "later";
	memcpy(cfg.kv, vault_only, sizeof vault_only);
	logbuf[0] = '\0';
	ck_assert_int_lt(desc->init(&fake_host, &cfg, &m), 0);
	ck_assert_int_eq(log_count("audit.conf:7: audit: key_vault = \"later\": no vault instance "
	                           "of that name is listed before this audit instance"),
	                 1);
	ck_assert_int_eq(log_count("must be listed before the audit instance in modules"), 1);
	vault_only[3] = "userlist";
	memcpy(cfg.kv, vault_only, sizeof vault_only);
	logbuf[0] = '\0';
	ck_assert_int_lt(desc->init(&fake_host, &cfg, &m), 0);
	ck_assert_int_eq(log_count("\"userlist\": that module instance cannot derive keys (it is "
	                           "not a vault instance)"),
	                 1);
	vault_only[3] = "";
	memcpy(cfg.kv, vault_only, sizeof vault_only);
	logbuf[0] = '\0';
	ck_assert_int_lt(desc->init(&fake_host, &cfg, &m), 0);
	ck_assert_int_eq(log_count("\"key_vault\" must be the name of a vault instance"), 1);
	vault_only[2] = NULL; /* neither */
	memcpy(cfg.kv, vault_only, sizeof vault_only);
	logbuf[0] = '\0';
	ck_assert_int_lt(desc->init(&fake_host, &cfg, &m), 0);
	ck_assert_int_eq(log_count("audit.conf:7: audit: the HMAC key is required: set "
	                           "\"key_file\" (a key file's path) or \"key_vault\""),
	                 1);
	ck_assert_int_eq(log_count("0011223344556677"), 0);
}
END_TEST

START_TEST(test_setting_refusals)
{
	static pgs_cfg cfg;
	const char *only_key[] = {"key_file", keypath, NULL};
	void *m;

	write_file(keypath, KEY1 "\n", 0600);
	expect_refused(keypath, "\"fsync\" must be \"batch\" or \"off\"", "fsync", "always", NULL);
	expect_refused(keypath, "\"on_error\" must be", "on_error", "ignore", NULL);
	expect_refused(keypath, "\"queue_max\" must be an integer in 1..1000000", "queue_max", "0",
	               NULL);
	expect_refused(keypath, "\"queue_max\"", "queue_max", "1000001", NULL);
	expect_refused(keypath, "\"syslog\" must be true or false", "syslog", "yes", NULL);
	memset(&cfg, 0, sizeof cfg);
	memcpy(cfg.kv, only_key, sizeof only_key);
	logbuf[0] = '\0';
	ck_assert_int_lt(desc->init(&fake_host, &cfg, &m), 0);
	ck_assert_int_eq(log_count("\"file\" (the audit trail's path) is required"), 1);
}
END_TEST

START_TEST(test_file_refusals)
{
	write_file(keypath, KEY1 "\n", 0600);
	write_file(logpath, "", 0644);
	expect_refused(keypath, "group or other access", NULL);
	ck_assert_int_eq(log_count(logpath), 1);
	ck_assert_int_eq(log_count("audit.conf:7"), 1);
	unlink(logpath);
	ck_assert_int_eq(mkdir(logpath, 0700), 0);
	expect_refused(keypath, "Is a directory", NULL);
	rmdir(logpath);
	ck_assert_int_eq(mkfifo(logpath, 0600), 0);
	expect_refused(keypath, "not a regular file", NULL);
	unlink(logpath);
}
END_TEST

/* ------------------------------------------------------------ threads */

#define THREADS    8
#define PER_THREAD 5000

struct worker_arg {
	void *mod;
	int id;
};

static void *worker(void *p)
{
	const struct worker_arg *a = p;
	char id[16], num[16];
	const char *fields[] = {"t", id, "n", num, NULL};

	snprintf(id, sizeof id, "%d", a->id);
	for (int i = 0; i < PER_THREAD; i++) {
		snprintf(num, sizeof num, "%d", i);
		emit(a->mod, PGS_EV_STEP, fields);
	}
	return NULL;
}

START_TEST(test_threads)
{
	static pgs_cfg cfg;
	struct worker_arg args[THREADS];
	pthread_t th[THREADS];
	int next[THREADS] = {0};
	struct timespec t0, t1, t2;
	struct tfile f;
	void *m;

	write_file(keypath, KEY1 "\n", 0600);
	ck_assert_int_eq(init_with(&cfg, &m, keypath, "queue_max", "1000000", NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct worker_arg){m, i};
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker, &args[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	wait_lines(logpath, 1 + THREADS * PER_THREAD, 60);
	desc->fini(m);
	clock_gettime(CLOCK_MONOTONIC, &t2);
	printf("check_audit: %d events queued by %d threads in %.2f s, all written after %.2f s\n",
	       THREADS * PER_THREAD, THREADS,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       (double)(t2.tv_sec - t0.tv_sec) + (double)(t2.tv_nsec - t0.tv_nsec) / 1e9);
	tfile_load(logpath, &f);
	ck_assert_uint_eq(f.n, 1 + THREADS * PER_THREAD);
	check_chain(&f, 0, f.n, KEY1);
	for (size_t i = 0; i < f.n; i++)
		CHECK1(f.l[i].seq == i + 1);
	for (size_t i = 1; i < f.n; i++) {
		int t = atoi(field(&f.l[i], "t"));

		CHECK1(t >= 0 && t < THREADS);
		CHECK1(atoi(field(&f.l[i], "n")) == next[t]); /* each thread in order */
		next[t]++;
	}
	for (int t = 0; t < THREADS; t++)
		ck_assert_int_eq(next[t], PER_THREAD);
	tfile_free(&f);
}
END_TEST

/* ------------------------------------------------------------ a full disk */

static char mnt[160], filler[192];
static bool mounted, used_rlimit;
static struct rlimit saved_fsize;

/* Put the audit file on a 64 KiB tmpfs, or prepare RLIMIT_FSIZE. */
static void full_setup(void)
{
	snprintf(mnt, sizeof mnt, "%s/fs", dir);
	ck_assert_int_eq(mkdir(mnt, 0700), 0);
	mounted = getenv("CHECK_AUDIT_NO_MOUNT") == NULL &&
	          mount("tmpfs", mnt, "tmpfs", 0, "size=64k,mode=0700") == 0;
	used_rlimit = !mounted;
	if (!mounted) {
		printf("check_audit: no tmpfs mount (%s): using RLIMIT_FSIZE instead\n",
		       getenv("CHECK_AUDIT_NO_MOUNT") != NULL ? "CHECK_AUDIT_NO_MOUNT"
		                                              : strerror(errno));
		signal(SIGXFSZ, SIG_IGN);
		getrlimit(RLIMIT_FSIZE, &saved_fsize);
	}
	snprintf(logpath, sizeof logpath, "%s/audit.jsonl", mnt);
	snprintf(filler, sizeof filler, "%s/filler", mnt);
}

static void full_teardown(void)
{
	if (mounted && umount2(mnt, MNT_DETACH) != 0)
		fprintf(stderr, "check_audit: umount %s: %s\n", mnt, strerror(errno));
	mounted = false;
}

static void fs_fill(void)
{
	if (mounted) {
		static char block[4096];
		int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		ck_assert_int_ge(fd, 0);
		while (write(fd, block, sizeof block) > 0)
			;
		while (write(fd, block, 1) > 0)
			;
		close(fd);
	} else {
		struct stat st;
		struct rlimit rl = saved_fsize;

		ck_assert_int_eq(stat(logpath, &st), 0);
		rl.rlim_cur = (rlim_t)st.st_size + 100; /* half a line more fits */
		ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	}
}

static void fs_free(void)
{
	if (mounted)
		ck_assert_int_eq(unlink(filler), 0);
	else
		ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &saved_fsize), 0);
}

static const char *full_errstr(void)
{
	return used_rlimit ? strerror(EFBIG) : strerror(ENOSPC);
}

/* Wait (up to secs) until healthy() is (or is not, want_ok false) 0. */
static int wait_health(void *m, bool want_ok, int secs)
{
	int h = desc->audit->healthy(m);

	for (int i = 0; i < secs * 100 && (h == 0) != want_ok; i++) {
		usleep(10000);
		h = desc->audit->healthy(m);
	}
	return h;
}

START_TEST(test_full_refuse)
{
	char msg[1024];
	struct tfile f;
	void *m;

	full_setup();
	write_file(keypath, KEY1 "\n", 0600);
	m = start(keypath);
	for (long i = 1; i <= 3; i++)
		emit_n(m, i);
	wait_lines(logpath, 4, 10);
	fs_fill();
	for (long i = 4; i <= 60; i++)
		emit_n(m, i);
	ck_assert_int_lt(wait_health(m, false, 5), 0);
	snprintf(msg, sizeof msg,
	         "ERROR: audit: cannot write %s: %s: refusing new logins (on_error = refuse)",
	         logpath, full_errstr());
	ck_assert_msg(log_count(msg) == 1, "log: %s", logbuf);
	usleep(2500000); /* two retries: still failing, logged once */
	ck_assert_int_lt(desc->audit->healthy(m), 0);
	ck_assert_int_eq(log_count("cannot write"), 1);
	fs_free();
	ck_assert_int_eq(wait_health(m, true, 5), 0);
	snprintf(msg, sizeof msg, "audit: writing %s again", logpath);
	ck_assert_int_eq(log_count(msg), 1);
	wait_lines(logpath, 61, 10);
	desc->fini(m);
	tfile_load(logpath, &f);
	full_teardown();
	ck_assert_uint_eq(f.n, 61); /* nothing lost, nothing twice */
	check_chain(&f, 0, f.n, KEY1);
	ck_assert_int_eq(count_events(&f, "gap"), 0);
	check_conns(&f, 1, 61, 1);
	tfile_free(&f);
}
END_TEST

START_TEST(test_full_continue)
{
	static pgs_cfg cfg;
	char msg[1024];
	struct tfile f;
	size_t gap = 0;
	long dropped, connects = 0;
	void *m;

	full_setup();
	write_file(keypath, KEY1 "\n", 0600);
	ck_assert_int_eq(init_with(&cfg, &m, keypath, "on_error", "continue", NULL), 0);
	for (long i = 1; i <= 3; i++)
		emit_n(m, i);
	wait_lines(logpath, 4, 10);
	fs_fill();
	for (long i = 4; i <= 60; i++)
		emit_n(m, i);
	snprintf(msg, sizeof msg,
	         "WARN: audit: cannot write %s: %s: continuing without an audit trail "
	         "(on_error = continue)",
	         logpath, full_errstr());
	for (int i = 0; i < 300 && log_count(msg) == 0; i++) {
		ck_assert_int_eq(desc->audit->healthy(m), 0);
		usleep(10000);
	}
	ck_assert_msg(log_count(msg) == 1, "log: %s", logbuf);
	ck_assert_int_eq(desc->audit->healthy(m), 0);
	fs_free();
	emit_n(m, 61);
	for (int i = 0; i < 500 && log_count("again") == 0; i++)
		usleep(10000);
	desc->fini(m);
	tfile_load(logpath, &f);
	full_teardown();
	check_chain(&f, 0, f.n, KEY1);
	ck_assert_int_eq(count_events(&f, "gap"), 1);
	for (size_t i = 0; i < f.n; i++) {
		if (strcmp(field(&f.l[i], "event"), "gap") == 0)
			gap = i;
		connects += strcmp(field(&f.l[i], "event"), "connect") == 0;
	}
	dropped = atol(field(&f.l[gap], "dropped"));
	ck_assert_int_gt(dropped, 0);
	ck_assert_int_eq(connects + dropped, 61);
	ck_assert_msg(strstr(field(&f.l[gap], "reason"), full_errstr()) != NULL, "gap reason: %s",
	              field(&f.l[gap], "reason"));
	ck_assert_str_eq(field(&f.l[f.n - 1], "conn"), "C-61"); /* after the gap */
	ck_assert_uint_lt(gap, f.n - 1);
	tfile_free(&f);
}
END_TEST

/* on_error = refuse with a tiny queue: the overflow is counted in a gap. */
START_TEST(test_queue_full)
{
	static pgs_cfg cfg;
	struct tfile f;
	long connects = 0, total = 0;
	void *m;

	full_setup();
	write_file(keypath, KEY1 "\n", 0600);
	ck_assert_int_eq(init_with(&cfg, &m, keypath, "queue_max", "5", NULL), 0);
	wait_lines(logpath, 1, 10);
	fs_fill();
	/* a few at a time (none lost) until the file's last page is full */
	for (int r = 0; r < 200 && desc->audit->healthy(m) == 0; r++) {
		for (int i = 0; i < 4; i++)
			emit_n(m, ++total);
		usleep(50000);
	}
	ck_assert_int_lt(desc->audit->healthy(m), 0);
	for (int i = 0; i < 40; i++) /* the queue takes 5 at most */
		emit_n(m, ++total);
	ck_assert_int_lt(desc->audit->healthy(m), 0);
	fs_free();
	ck_assert_int_eq(wait_health(m, true, 5), 0);
	desc->fini(m);
	tfile_load(logpath, &f);
	full_teardown();
	check_chain(&f, 0, f.n, KEY1);
	ck_assert_int_eq(count_events(&f, "gap"), 1);
	for (size_t i = 0; i < f.n; i++) {
		const struct tline *t = &f.l[i];

		connects += strcmp(field(t, "event"), "connect") == 0;
		if (strcmp(field(t, "event"), "gap") == 0) {
			connects += atol(field(t, "dropped"));
			ck_assert_str_eq(field(t, "reason"), "the queue was full (queue_max = 5)");
		}
	}
	ck_assert_int_eq(connects, total);
	tfile_free(&f);
}
END_TEST

/* ------------------------------------------------------------ main */

static Suite *audit_suite(void)
{
	Suite *s = suite_create("audit");
	TCase *tc[5];
	static const char *const names[] = {"format", "chain", "refusals", "threads", "full"};

	for (int i = 0; i < 5; i++) {
		tc[i] = tcase_create(names[i]);
		tcase_add_unchecked_fixture(tc[i], base_make, base_remove);
		tcase_add_checked_fixture(tc[i], setup, teardown);
		tcase_set_timeout(tc[i], 120);
		suite_add_tcase(s, tc[i]);
	}
	tcase_add_test(tc[0], test_descriptor);
	tcase_add_test(tc[0], test_json_unit);
	tcase_add_test(tc[0], test_event_lines);
	tcase_add_test(tc[0], test_line_limit);
	tcase_add_test(tc[1], test_reload_same_file);
	tcase_add_test(tc[1], test_restart_continues);
	tcase_add_test(tc[1], test_corrupt_last_line);
	tcase_add_test(tc[1], test_incomplete_last_line);
	tcase_add_test(tc[1], test_rotation);
	tcase_add_test(tc[1], test_key_changed);
	tcase_add_test(tc[2], test_key_refusals);
	tcase_add_test(tc[2], test_key_vault);
	tcase_add_test(tc[2], test_setting_refusals);
	tcase_add_test(tc[2], test_file_refusals);
	tcase_add_test(tc[3], test_threads);
	tcase_add_test(tc[4], test_full_refuse);
	tcase_add_test(tc[4], test_full_continue);
	tcase_add_test(tc[4], test_queue_full);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(audit_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
