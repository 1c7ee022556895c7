/*
 * check_scram.c — unit tests of the backend login math and modules:
 * the SCRAM-SHA-256 client (RFC 7677 vector, hostile server messages),
 * PostgreSQL's MD5 hashing, and the scram/md5/password modules driven
 * through a fake host against a SCRAM server written here independently
 * with OpenSSL primitives; the scram module's frontend (SCRAM server
 * towards clients: verifier, derived and mock exchanges) and its
 * pass-through of a client's proven ClientKey to the backend login.
 */
#include "autoconf.h"

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "pgsluice/module.h"

#include "md5_hash.h"
#include "scram_verifier.h"
#include "../../modules/scram/scram_client.h"

/* RFC 7677 §3 */
#define RFC_USER         "user"
#define RFC_PASSWORD     "pencil"
#define RFC_CNONCE       "rOprNGfwEbeRWgbNEkqO"
#define RFC_CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SNONCE       "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SERVER_FIRST "r=" RFC_SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_CLIENT_FINAL "c=biws,r=" RFC_SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static const uint8_t *u8(const char *s)
{
	return (const uint8_t *)s;
}

/* A client that has sent the RFC client-first-message. */
static void rfc_start(scram_client *sc)
{
	char out[SCRAM_CLIENT_MSG_MAX], err[128];
	size_t len = 0;

	ck_assert_int_eq(scram_client_start_with_nonce(sc, RFC_USER, RFC_CNONCE, out, sizeof out,
	                                               &len, err, sizeof err),
	                 0);
	ck_assert_uint_eq(len, strlen(RFC_CLIENT_FIRST));
	ck_assert_mem_eq(out, RFC_CLIENT_FIRST, len);
}

/* A client that has also sent the RFC client-final-message. */
static void rfc_until_final(scram_client *sc)
{
	char out[SCRAM_CLIENT_MSG_MAX], err[128];
	size_t len = 0;

	rfc_start(sc);
	ck_assert_int_eq(scram_client_server_first(sc, u8(RFC_SERVER_FIRST),
	                                           strlen(RFC_SERVER_FIRST), err, sizeof err),
	                 0);
	ck_assert_int_eq(scram_client_final_password(sc, u8(RFC_PASSWORD), strlen(RFC_PASSWORD),
	                                             out, sizeof out, &len, err, sizeof err),
	                 0);
	ck_assert_uint_eq(len, strlen(RFC_CLIENT_FINAL));
	ck_assert_mem_eq(out, RFC_CLIENT_FINAL, len);
}

/* ------------------------------------------------------------ SCRAM math */

START_TEST(test_rfc7677_vector)
{
	scram_client sc;
	char err[128];

	rfc_until_final(&sc);
	ck_assert_int_eq(scram_client_iterations(&sc), 4096);
	ck_assert_int_eq(scram_client_server_final(&sc, u8(RFC_SERVER_FINAL),
	                                           strlen(RFC_SERVER_FINAL), err, sizeof err),
	                 0);
	ck_assert_int_eq(sc.state, SCRAM_CLIENT_DONE);
	scram_client_clear(&sc);
	ck_assert_int_eq(sc.state, SCRAM_CLIENT_INIT);
}
END_TEST

START_TEST(test_rfc7677_precomputed_keys)
{
	uint8_t ck[SCRAM_KEY_LEN], sk[SCRAM_KEY_LEN];
	char out[SCRAM_CLIENT_MSG_MAX], err[128];
	const uint8_t *salt;
	size_t len = 0, salt_len = 0;
	scram_client sc;

	rfc_start(&sc);
	ck_assert_int_eq(scram_client_server_first(&sc, u8(RFC_SERVER_FIRST),
	                                           strlen(RFC_SERVER_FIRST), err, sizeof err),
	                 0);
	salt = scram_client_salt(&sc, &salt_len);
	ck_assert_uint_eq(salt_len, 16);
	ck_assert_int_eq(scram_verifier_derive_raw(u8(RFC_PASSWORD), strlen(RFC_PASSWORD), salt,
	                                           salt_len, 4096, ck, sk),
	                 0);
	ck_assert_int_eq(
	        scram_client_final_keys(&sc, ck, sk, out, sizeof out, &len, err, sizeof err), 0);
	ck_assert_uint_eq(len, strlen(RFC_CLIENT_FINAL));
	ck_assert_mem_eq(out, RFC_CLIENT_FINAL, len);
	ck_assert_int_eq(scram_client_server_final(&sc, u8(RFC_SERVER_FINAL),
	                                           strlen(RFC_SERVER_FINAL), err, sizeof err),
	                 0);
}
END_TEST

START_TEST(test_client_first_forms)
{
	char out[SCRAM_CLIENT_MSG_MAX], err[128], big[SCRAM_MAX_USER_LEN + 2];
	size_t len = 0;
	scram_client sc;

	/* PostgreSQL's form: empty user */
	ck_assert_int_eq(scram_client_start_with_nonce(&sc, "", "abc", out, sizeof out, &len, err,
	                                               sizeof err),
	                 0);
	ck_assert_uint_eq(len, strlen("n,,n=,r=abc"));
	ck_assert_mem_eq(out, "n,,n=,r=abc", len);
	/* saslname escaping */
	ck_assert_int_eq(scram_client_start_with_nonce(&sc, "a=b,c", "x", out, sizeof out, &len,
	                                               err, sizeof err),
	                 0);
	ck_assert_uint_eq(len, strlen("n,,n=a=3Db=2Cc,r=x"));
	ck_assert_mem_eq(out, "n,,n=a=3Db=2Cc,r=x", len);
	/* bad nonces, long user, small buffer */
	ck_assert_int_eq(
	        scram_client_start_with_nonce(&sc, "", "", out, sizeof out, &len, err, sizeof err),
	        -EINVAL);
	ck_assert_int_eq(scram_client_start_with_nonce(&sc, "", "a,b", out, sizeof out, &len, err,
	                                               sizeof err),
	                 -EINVAL);
	ck_assert_int_eq(scram_client_start_with_nonce(&sc, "", "a b", out, sizeof out, &len, err,
	                                               sizeof err),
	                 -EINVAL);
	memset(big, 'u', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert_int_eq(scram_client_start_with_nonce(&sc, big, "x", out, sizeof out, &len, err,
	                                               sizeof err),
	                 -ERANGE);
	ck_assert_int_eq(
	        scram_client_start_with_nonce(&sc, "", "abc", out, 5, &len, err, sizeof err),
	        -ENOSPC);
	/* the longest user, every byte escaped, still fits */
	memset(big, ',', SCRAM_MAX_USER_LEN);
	big[SCRAM_MAX_USER_LEN] = '\0';
	ck_assert_int_eq(scram_client_start_with_nonce(&sc, big, "x", out, sizeof out, &len, err,
	                                               sizeof err),
	                 0);
	ck_assert_uint_eq(len, 3 + 2 + 3 * SCRAM_MAX_USER_LEN + 3 + 1);
}
END_TEST

START_TEST(test_random_nonce)
{
	char a[SCRAM_CLIENT_MSG_MAX], b[SCRAM_CLIENT_MSG_MAX], err[128];
	size_t alen = 0, blen = 0;
	scram_client sc;

	ck_assert_int_eq(scram_client_start(&sc, "", a, sizeof a, &alen, err, sizeof err), 0);
	ck_assert_int_eq(sc.state, SCRAM_CLIENT_WAIT_SERVER_FIRST);
	ck_assert_int_eq(scram_client_start(&sc, "", b, sizeof b, &blen, err, sizeof err), 0);
	/* "n,,n=,r=" + 24 base64 characters of 18 random bytes */
	ck_assert_uint_eq(alen, 8 + 24);
	ck_assert_uint_eq(blen, 8 + 24);
	ck_assert_mem_eq(a, "n,,n=,r=", 8);
	ck_assert(memcmp(a + 8, b + 8, 24) != 0);
	for (size_t i = 8; i < alen; i++)
		ck_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
		                 "qrstuvwxyz0123456789+/",
		                 a[i]) != NULL);
}
END_TEST

/* Malformed server-first-messages: each rejected, none crashes. */
static const struct {
	const char *msg;
	int rc;
} bad_server_first[] = {
        {"", -EBADMSG},
        {"r=", -EBADMSG},
        {"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", -EBADMSG},           /* no r */
        {"r=" RFC_SNONCE, -EBADMSG},                               /* no s */
        {"r=" RFC_SNONCE ",i=4096", -EBADMSG},                     /* no s */
        {"r=" RFC_SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==", -EBADMSG}, /* no i */
        {"r=" RFC_SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,", -EBADMSG},
        {"r=" RFC_SNONCE ",i=4096,s=W22ZaJ0SNY7soEsUEjb6gQ==", -EBADMSG},
        {"r=XOprNGfwEbeRWgbNEkqO%hvYD,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", -EBADMSG}, /* prefix */
        {"r=rOprNGfwEbeRWgbNEkq,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", -EBADMSG},       /* shorter */
        {"r=" RFC_CNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", -EBADMSG},       /* no server part */
        {"r=" RFC_CNONCE "ab\x01,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", -EBADMSG}, /* control char */
        {"r=" RFC_SNONCE ",s=,i=4096", -EBADMSG},                               /* empty */
        {"r=" RFC_SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096", -EBADMSG},
        {"r=" RFC_SNONCE ",s=W22Z*J0SNY7soEsUEjb6gQ==,i=4096", -EBADMSG},
        {"r=" RFC_SNONCE ",s=W2=ZaJ0SNY7soEsUEjb6gQ==,i=4096", -EBADMSG},
        {"r=" RFC_SNONCE ",s=====,i=4096", -EBADMSG},
        {"r=" RFC_SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0", -ERANGE},
        {"r=" RFC_SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1", -EBADMSG},
        {"r=" RFC_SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=+4096", -EBADMSG},
        {"r=" RFC_SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=04096", -EBADMSG},
        {"r=" RFC_SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4k", -EBADMSG},
        {"r=" RFC_SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=", -EBADMSG},
        {"r=" RFC_SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=100000001", -ERANGE},
        {"r=" RFC_SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,"
         "i=99999999999999999999999999",
         -ERANGE},
        {"r=" RFC_SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,", -EBADMSG},
        {"r=" RFC_SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,junk", -EBADMSG},
        {"m=ext,r=" RFC_SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", -EBADMSG},
        {"e=other-error", -EBADMSG},
};

START_TEST(test_server_first_malformed)
{
	char err[128];
	scram_client sc;
	int rc;

	rfc_start(&sc);
	err[0] = '\0';
	rc = scram_client_server_first(&sc, u8(bad_server_first[_i].msg),
	                               strlen(bad_server_first[_i].msg), err, sizeof err);
	ck_assert_msg(rc == bad_server_first[_i].rc, "case %d \"%s\": rc %d, expected %d (%s)", _i,
	              bad_server_first[_i].msg, rc, bad_server_first[_i].rc, err);
	ck_assert(err[0] != '\0');
	ck_assert_int_eq(sc.state, SCRAM_CLIENT_FAILED);
	/* a failed exchange refuses to go on */
	ck_assert_int_eq(scram_client_server_first(&sc, u8(RFC_SERVER_FIRST),
	                                           strlen(RFC_SERVER_FIRST), err, sizeof err),
	                 -EINVAL);
}
END_TEST

START_TEST(test_server_first_limits)
{
	char msg[SCRAM_MAX_SERVER_MSG * 2], err[128];
	uint8_t big_salt[SCRAM_MAX_SALT_LEN + 3];
	scram_client sc;
	int n;

	/* too long as a whole */
	memset(msg, 'x', sizeof msg);
	rfc_start(&sc);
	ck_assert_int_eq(scram_client_server_first(&sc, u8(msg), sizeof msg, err, sizeof err),
	                 -ERANGE);
	/* embedded NUL */
	rfc_start(&sc);
	ck_assert_int_eq(scram_client_server_first(&sc, u8("r=" RFC_SNONCE "\0,s=AAAA,i=1"),
	                                           strlen("r=" RFC_SNONCE) + 13, err, sizeof err),
	                 -EBADMSG);
	/* salt decoding to more than SCRAM_MAX_SALT_LEN bytes */
	memset(big_salt, 0x5a, sizeof big_salt);
	n = snprintf(msg, sizeof msg, "r=%s,s=", RFC_SNONCE);
	ck_assert_int_gt(scram_verifier_b64_encode(big_salt, sizeof big_salt, msg + n,
	                                           sizeof msg - (size_t)n),
	                 0);
	strcat(msg, ",i=4096");
	rfc_start(&sc);
	ck_assert_int_eq(scram_client_server_first(&sc, u8(msg), strlen(msg), err, sizeof err),
	                 -ERANGE);
	/* a salt of exactly SCRAM_MAX_SALT_LEN bytes is fine, as are
	 * extensions after the iteration count, and i=1 */
	n = snprintf(msg, sizeof msg, "r=%s,s=", RFC_SNONCE);
	ck_assert_int_gt(scram_verifier_b64_encode(big_salt, SCRAM_MAX_SALT_LEN, msg + n,
	                                           sizeof msg - (size_t)n),
	                 0);
	strcat(msg, ",i=1,x=ext,y=");
	rfc_start(&sc);
	ck_assert_int_eq(scram_client_server_first(&sc, u8(msg), strlen(msg), err, sizeof err), 0);
	ck_assert_int_eq(scram_client_iterations(&sc), 1);
}
END_TEST

START_TEST(test_server_final)
{
	char err[128];
	scram_client sc;
	char bad[] = RFC_SERVER_FINAL;

	/* flipped signature */
	rfc_until_final(&sc);
	bad[5] = bad[5] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(scram_client_server_final(&sc, u8(bad), strlen(bad), err, sizeof err),
	                 -EACCES);
	ck_assert_str_eq(err, "server signature mismatch");
	ck_assert_int_eq(sc.state, SCRAM_CLIENT_FAILED);

	/* server error, sanitised */
	rfc_until_final(&sc);
	ck_assert_int_eq(scram_client_server_final(&sc, u8("e=invalid-proof"), 15, err, sizeof err),
	                 -EACCES);
	ck_assert(strstr(err, "invalid-proof") != NULL);
	rfc_until_final(&sc);
	ck_assert_int_eq(scram_client_server_final(&sc, u8("e=bad\x1b[0m"), 9, err, sizeof err),
	                 -EACCES);
	ck_assert(strchr(err, '\x1b') == NULL);

	/* garbage and wrong lengths */
	rfc_until_final(&sc);
	ck_assert_int_eq(scram_client_server_final(&sc, u8("x=abc"), 5, err, sizeof err), -EBADMSG);
	rfc_until_final(&sc);
	ck_assert_int_eq(scram_client_server_final(&sc, u8(""), 0, err, sizeof err), -EBADMSG);
	rfc_until_final(&sc);
	ck_assert_int_eq(scram_client_server_final(&sc, u8("v=AAAA"), 6, err, sizeof err),
	                 -EBADMSG);
	rfc_until_final(&sc);
	ck_assert_int_eq(scram_client_server_final(&sc, u8(RFC_SERVER_FINAL "AAAA"),
	                                           strlen(RFC_SERVER_FINAL) + 4, err, sizeof err),
	                 -EBADMSG);
	rfc_until_final(&sc);
	ck_assert_int_eq(scram_client_server_final(&sc, u8(RFC_SERVER_FINAL ",junk"),
	                                           strlen(RFC_SERVER_FINAL) + 5, err, sizeof err),
	                 -EBADMSG);
	/* extensions after the verifier are allowed */
	rfc_until_final(&sc);
	ck_assert_int_eq(scram_client_server_final(&sc, u8(RFC_SERVER_FINAL ",x=1"),
	                                           strlen(RFC_SERVER_FINAL) + 4, err, sizeof err),
	                 0);
}
END_TEST

START_TEST(test_wrong_state)
{
	char out[SCRAM_CLIENT_MSG_MAX], err[128];
	uint8_t k[SCRAM_KEY_LEN] = {0};
	size_t len = 0;
	scram_client sc;

	scram_client_clear(&sc);
	ck_assert_int_eq(scram_client_server_first(&sc, u8(RFC_SERVER_FIRST),
	                                           strlen(RFC_SERVER_FIRST), err, sizeof err),
	                 -EINVAL);
	ck_assert_int_eq(scram_client_final_keys(&sc, k, k, out, sizeof out, &len, err, sizeof err),
	                 -EINVAL);
	ck_assert_int_eq(scram_client_server_final(&sc, u8(RFC_SERVER_FINAL),
	                                           strlen(RFC_SERVER_FINAL), err, sizeof err),
	                 -EINVAL);
	rfc_start(&sc);
	ck_assert_int_eq(scram_client_final_password(&sc, u8("x"), 1, out, sizeof out, &len, err,
	                                             sizeof err),
	                 -EINVAL);
	ck_assert_int_eq(scram_client_server_final(&sc, u8(RFC_SERVER_FINAL),
	                                           strlen(RFC_SERVER_FINAL), err, sizeof err),
	                 -EINVAL);
	/* too small an output buffer is not fatal */
	ck_assert_int_eq(scram_client_server_first(&sc, u8(RFC_SERVER_FIRST),
	                                           strlen(RFC_SERVER_FIRST), err, sizeof err),
	                 0);
	ck_assert_int_eq(scram_client_final_password(&sc, u8(RFC_PASSWORD), 6, out, 20, &len, err,
	                                             sizeof err),
	                 -ENOSPC);
	ck_assert_int_eq(scram_client_final_password(&sc, u8(RFC_PASSWORD), 6, out, sizeof out,
	                                             &len, err, sizeof err),
	                 0);
	/* wrong password: the server signature does not match */
	rfc_start(&sc);
	ck_assert_int_eq(scram_client_server_first(&sc, u8(RFC_SERVER_FIRST),
	                                           strlen(RFC_SERVER_FIRST), err, sizeof err),
	                 0);
	ck_assert_int_eq(scram_client_final_password(&sc, u8("pencil2"), 7, out, sizeof out, &len,
	                                             err, sizeof err),
	                 0);
	ck_assert_int_eq(scram_client_server_final(&sc, u8(RFC_SERVER_FINAL),
	                                           strlen(RFC_SERVER_FINAL), err, sizeof err),
	                 -EACCES);
}
END_TEST

/* ------------------------------------------------------------ MD5 */

/* printf '%s' md5passmd5user | md5sum */
#define MD5USER_STORED "md57541d4e65fae11bd07f18dc6fe2b02bc"

/* "md5" + hex(MD5(inner || salt)), computed here with EVP directly. */
static void md5_expected(const char *inner, const uint8_t salt[4], char out[36])
{
	unsigned char d[EVP_MAX_MD_SIZE], buf[36];
	unsigned int dl = 0;

	memcpy(buf, inner, 32);
	memcpy(buf + 32, salt, 4);
	ck_assert(EVP_Digest(buf, 36, d, &dl, EVP_md5(), NULL));
	ck_assert_uint_eq(dl, 16);
	memcpy(out, "md5", 3);
	for (unsigned int i = 0; i < dl; i++)
		snprintf(out + 3 + 2 * i, 3, "%02x", d[i]);
}

START_TEST(test_md5_hash)
{
	static const uint8_t salt[4] = {0x01, 0xfe, 0x00, 0x7f};
	char stored[MD5_HASH_STORED_LEN + 1], answer[MD5_HASH_STORED_LEN + 1];
	char expected[36];

	ck_assert_int_eq(md5_hash_password(u8("md5pass"), 7, "md5user", stored), 0);
	ck_assert_str_eq(stored, MD5USER_STORED);
	ck_assert_int_eq(md5_hash_salted(stored + 3, salt, answer), 0);
	md5_expected(MD5USER_STORED + 3, salt, expected);
	ck_assert_str_eq(answer, expected);

	ck_assert(md5_hash_is_stored(u8(MD5USER_STORED), 35));
	ck_assert(!md5_hash_is_stored(u8(MD5USER_STORED), 34));
	ck_assert(!md5_hash_is_stored(u8("md67541d4e65fae11bd07f18dc6fe2b02bc"), 35));
	ck_assert(!md5_hash_is_stored(u8("md5x541d4e65fae11bd07f18dc6fe2b02bc"), 35));
}
END_TEST

/* ------------------------------------------------------------ fake host */

struct pgs_wbuf {
	char type;
	uint32_t code; /* wbuf_auth */
	uint8_t data[4096];
	size_t len;
	int count;
};

struct pgs_conn {
	const char *user;
	const char *secret_kind; /* NULL: no secret */
	const char *secret;
	bool has_cb; /* TLS: tls-server-end-point data */
	char authn_id[64];
	void *mem[16]; /* conn_alloc'd */
	int nmem;
};

static int defers;

static int live_allocs;
static int live_secrets;
static int warnings;
static char last_log[512];

static void fh_log(enum pgs_log level, const pgs_conn *conn, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void fh_log(enum pgs_log level, const pgs_conn *conn, const char *fmt, ...)
{
	va_list ap;

	(void)conn;
	if (level == PGS_LOG_WARN)
		warnings++;
	va_start(ap, fmt);
	vsnprintf(last_log, sizeof last_log, fmt, ap);
	va_end(ap);
}

static void *fh_alloc(size_t len)
{
	live_allocs++;
	return malloc(len);
}

static void fh_free(void *p)
{
	if (p != NULL)
		live_allocs--;
	free(p);
}

static void fh_wipe_free(void *p, size_t len)
{
	if (p != NULL) {
		OPENSSL_cleanse(p, len);
		live_allocs--;
	}
	free(p);
}

static void *fh_conn_alloc(pgs_conn *conn, size_t len)
{
	if (conn->nmem == 16)
		return NULL;
	return conn->mem[conn->nmem++] = calloc(1, len);
}

static int fh_cfg_str(const pgs_cfg *cfg, const char *key, const char **out)
{
	(void)cfg, (void)key, (void)out;
	return -ENOENT;
}

static int fh_cfg_int(const pgs_cfg *cfg, const char *key, int64_t *out)
{
	(void)cfg, (void)key, (void)out;
	return -ENOENT;
}

static int fh_cfg_bool(const pgs_cfg *cfg, const char *key, bool *out)
{
	(void)cfg, (void)key, (void)out;
	return -ENOENT;
}

static const char *fh_conn_param(const pgs_conn *conn, const char *name)
{
	if (strcmp(name, "user") == 0)
		return conn->user;
	if (strcmp(name, "transport") == 0)
		return "tcp";
	return NULL;
}

static int fh_secret_lookup(pgs_conn *conn, const char *user, pgs_secret *out)
{
	ck_assert_str_eq(user, conn->user);
	if (conn->secret_kind == NULL)
		return -ENOENT;
	out->kind = conn->secret_kind;
	out->len = strlen(conn->secret);
	out->data = (const uint8_t *)strdup(conn->secret);
	live_secrets++;
	return 0;
}

static void fh_secret_release(pgs_secret *s)
{
	OPENSSL_cleanse((void *)s->data, s->len);
	free((void *)s->data);
	s->data = NULL;
	live_secrets--;
}

static int fh_wbuf_msg(pgs_wbuf *out, char type, const void *data, size_t len)
{
	if (len > sizeof out->data)
		return -ENOMEM;
	out->type = type;
	memcpy(out->data, data, len);
	out->len = len;
	out->count++;
	return 0;
}

static int fh_ct_memcmp(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len);
}

static int fh_wbuf_auth(pgs_wbuf *out, uint32_t code, const void *data, size_t len)
{
	if (fh_wbuf_msg(out, 'R', data, len) < 0)
		return -ENOMEM;
	out->code = code;
	return 0;
}

/* The work pool, run at once: the module still sees PENDING first. */
static int fh_defer(pgs_conn *conn, void (*work)(void *arg), void *arg)
{
	(void)conn;
	defers++;
	work(arg);
	return 0;
}

static int fh_conn_cb_hash(const pgs_conn *conn, uint8_t *out, size_t *len)
{
	if (!conn->has_cb)
		return -ENOENT;
	ck_assert_uint_ge(*len, 32);
	memset(out, 0xcb, 32);
	*len = 32;
	return 0;
}

static int fh_set_authn_id(pgs_conn *conn, const char *id)
{
	snprintf(conn->authn_id, sizeof conn->authn_id, "%s", id);
	return 0;
}

static const pgs_host fake_host = {
        .size = sizeof(pgs_host),
        .abi_major = PGS_ABI_MAJOR,
        .abi_minor = PGS_ABI_MINOR,
        .host_version = "check_scram",
        .log = fh_log,
        .alloc = fh_alloc,
        .free = fh_free,
        .conn_alloc = fh_conn_alloc,
        .wipe_free = fh_wipe_free,
        .cfg_str = fh_cfg_str,
        .cfg_int = fh_cfg_int,
        .cfg_bool = fh_cfg_bool,
        .conn_param = fh_conn_param,
        .secret_lookup = fh_secret_lookup,
        .secret_release = fh_secret_release,
        .wbuf_msg = fh_wbuf_msg,
        .wbuf_auth = fh_wbuf_auth,
        .defer = fh_defer,
        .conn_cb_hash = fh_conn_cb_hash,
        .set_authn_id = fh_set_authn_id,
        .ct_memcmp = fh_ct_memcmp,
};

static void conn_close(pgs_conn *conn)
{
	for (int i = 0; i < conn->nmem; i++)
		free(conn->mem[i]);
	conn->nmem = 0;
}

/* A loaded and initialised module. */
struct loaded {
	void *handle;
	const pgs_module *desc;
	void *mod;
};

static void load(const char *name, struct loaded *l)
{
	const pgs_module *(*entry)(void);
	char path[1024];

	snprintf(path, sizeof path, "%s/%s.so", BUILD_MODULEDIR, name);
	l->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(l->handle != NULL, "dlopen %s: %s", path, dlerror());
	*(void **)&entry = dlsym(l->handle, PGS_ENTRY_SYMBOL);
	ck_assert_ptr_nonnull(entry);
	l->desc = entry();
	ck_assert_uint_eq(l->desc->magic, PGS_MODULE_MAGIC);
	ck_assert_str_eq(l->desc->name, name);
	ck_assert_ptr_nonnull(l->desc->backend);
	ck_assert_int_eq(l->desc->init(&fake_host, NULL, &l->mod), 0);
}

static void unload(struct loaded *l)
{
	l->desc->fini(l->mod);
	ck_assert_int_eq(live_allocs, 0);
	ck_assert_int_eq(live_secrets, 0);
}

/* ------------------------------------------------------------ fake server */

/* A SCRAM-SHA-256 server for one exchange, written against the RFC with
 * OpenSSL directly (independent of scram_client.c). */
struct fake_server {
	const char *password;
	uint8_t salt[16];
	int iterations;
	char client_first_bare[512];
	char server_first[512];
	uint8_t stored_key[32], server_key[32];
	bool tamper_final;
};

static void b64(const uint8_t *in, size_t len, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

static void hmac(const uint8_t *key, const void *data, size_t len, uint8_t out[32])
{
	unsigned int ol = 0;

	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), key, 32, data, len, out, &ol));
}

/* SASLInitialResponse payload in -> server-first out. */
static void fs_first(struct fake_server *fs, const uint8_t *in, size_t len, char *out)
{
	size_t mech = strlen("SCRAM-SHA-256") + 1;
	uint32_t n;
	char salt64[64];

	ck_assert_uint_gt(len, mech + 4);
	ck_assert_str_eq((const char *)in, "SCRAM-SHA-256");
	n = (uint32_t)in[mech] << 24 | (uint32_t)in[mech + 1] << 16 | (uint32_t)in[mech + 2] << 8 |
	    in[mech + 3];
	ck_assert_uint_eq(n, len - mech - 4);
	ck_assert_mem_eq(in + mech + 4, "n,,n=,r=", 8);
	memcpy(fs->client_first_bare, in + mech + 7, n - 3);
	fs->client_first_bare[n - 3] = '\0';
	memset(fs->salt, 0x42, sizeof fs->salt);
	b64(fs->salt, sizeof fs->salt, salt64);
	snprintf(fs->server_first, sizeof fs->server_first, "r=%sSERVERNONCE,s=%s,i=%d",
	         fs->client_first_bare + 5, salt64, fs->iterations);
	strcpy(out, fs->server_first);
}

/* client-final in -> 0 and server-final out, or -1 if the proof is bad. */
static int fs_final(struct fake_server *fs, const uint8_t *in, size_t len, char *out)
{
	uint8_t salted[32], ck[32], sig[32], proof[36], h[32];
	char msg[1024], am[2048];
	const char *p;
	unsigned int hl = 0;

	ck_assert_uint_lt(len, sizeof msg);
	memcpy(msg, in, len);
	msg[len] = '\0';
	p = strstr(msg, ",p=");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(EVP_DecodeBlock(proof, (const unsigned char *)p + 3, (int)strlen(p + 3)),
	                 33);
	snprintf(am, sizeof am, "%s,%s,%.*s", fs->client_first_bare, fs->server_first,
	         (int)(p - msg), msg);
	ck_assert_mem_eq(msg, "c=biws,r=", 9);

	ck_assert_int_eq(PKCS5_PBKDF2_HMAC(fs->password, (int)strlen(fs->password), fs->salt,
	                                   sizeof fs->salt, fs->iterations, EVP_sha256(), 32,
	                                   salted),
	                 1);
	hmac(salted, "Client Key", 10, ck);
	ck_assert(EVP_Digest(ck, 32, fs->stored_key, &hl, EVP_sha256(), NULL));
	hmac(salted, "Server Key", 10, fs->server_key);

	hmac(fs->stored_key, am, strlen(am), sig);
	for (int i = 0; i < 32; i++)
		ck[i] = proof[i] ^ sig[i];
	ck_assert(EVP_Digest(ck, 32, h, &hl, EVP_sha256(), NULL));
	if (memcmp(h, fs->stored_key, 32) != 0)
		return -1;
	hmac(fs->server_key, am, strlen(am), sig);
	if (fs->tamper_final)
		sig[0] ^= 1;
	strcpy(out, "v=");
	b64(sig, 32, out + 2);
	return 0;
}

static const uint8_t sasl_list[] = "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0";

/* One SCRAM login through the module; returns the last step result. */
static enum pgs_step scram_login(struct loaded *l, pgs_conn *conn, struct fake_server *fs,
                                 const char **detail)
{
	const pgs_backend_ops *b = l->desc->backend;
	pgs_wbuf out = {0};
	char srv[512];
	void *st = NULL;
	enum pgs_step r;

	ck_assert_int_eq(b->conn_new(l->mod, conn, &st), 0);
	r = b->step(l->mod, conn, st, 10, sasl_list, sizeof sasl_list, &out, detail);
	if (r != PGS_STEP_NEED_INPUT)
		goto out;
	ck_assert_int_eq(out.type, 'p');
	fs_first(fs, out.data, out.len, srv);
	r = b->step(l->mod, conn, st, 11, u8(srv), strlen(srv), &out, detail);
	if (r != PGS_STEP_NEED_INPUT)
		goto out;
	ck_assert_int_eq(out.count, 2);
	if (fs_final(fs, out.data, out.len, srv) < 0) {
		*detail = "fake server: bad proof";
		r = PGS_STEP_FAIL;
		goto out;
	}
	r = b->step(l->mod, conn, st, 12, u8(srv), strlen(srv), &out, detail);
out:
	b->conn_free(l->mod, conn, st);
	/* the detail lives in connection memory: keep a copy past close */
	if (r == PGS_STEP_FAIL) {
		static char copy[512];

		snprintf(copy, sizeof copy, "%s", *detail);
		*detail = copy;
	}
	conn_close(conn);
	return r;
}

START_TEST(test_module_scram)
{
	struct fake_server fs = {.password = "scrampass", .iterations = 4096};
	pgs_conn conn = {.user = "scramuser", .secret_kind = "plain", .secret = "scrampass"};
	const char *detail = NULL;
	struct loaded l;

	load("scram", &l);
	ck_assert_uint_eq(l.desc->backend->auth_codes, (1u << 10) | (1u << 11) | (1u << 12));
	ck_assert_int_eq(scram_login(&l, &conn, &fs, &detail), PGS_STEP_DONE);
	/* again (keys from the cache) */
	ck_assert_int_eq(scram_login(&l, &conn, &fs, &detail), PGS_STEP_DONE);
	/* same salt, other password: not served from the cache */
	conn.secret = "wrong";
	ck_assert_int_eq(scram_login(&l, &conn, &fs, &detail), PGS_STEP_FAIL);
	ck_assert_str_eq(detail, "fake server: bad proof");
	conn.secret = "scrampass";
	fs.iterations = 4097;
	ck_assert_int_eq(scram_login(&l, &conn, &fs, &detail), PGS_STEP_DONE);
	/* forged server signature */
	fs.tamper_final = true;
	ck_assert_int_eq(scram_login(&l, &conn, &fs, &detail), PGS_STEP_FAIL);
	ck_assert_str_eq(detail, "server signature mismatch");
	unload(&l);
}
END_TEST

START_TEST(test_module_scram_refusals)
{
	struct fake_server fs = {.password = "p", .iterations = 4096};
	pgs_conn conn = {.user = "u"};
	const pgs_backend_ops *b;
	pgs_wbuf out = {0};
	const char *detail = NULL;
	struct loaded l;
	void *st = NULL;
	int base;

	load("scram", &l);
	b = l.desc->backend;
	base = live_allocs; /* the module and its key cache */

	ck_assert_int_eq(scram_login(&l, &conn, &fs, &detail), PGS_STEP_FAIL);
	ck_assert_str_eq(detail, "no password configured for backend login "
	                         "of user \"u\"");
	conn.secret_kind = "scram-sha-256";
	conn.secret = "SCRAM-SHA-256$4096:xx$yy:zz";
	ck_assert_int_eq(scram_login(&l, &conn, &fs, &detail), PGS_STEP_FAIL);
	ck_assert_str_eq(detail, "stored SCRAM verifier for backend login of user \"u\" is "
	                         "unusable: SCRAM verifier: salt is not valid base64");
	/* a good verifier, but no client logged in with it yet */
	conn.secret = "SCRAM-SHA-256$4096:3JVE9DESi+zWAEb3ok4aZQ==$"
	              "AQrgDDsw640mvRXaGXikBoqn2biybAaZb60yoFwcNNc=:"
	              "v7U85UwGp6VPKB5r2mmuIu927n1v40Teg05nL76AGSE=";
	ck_assert_int_eq(scram_login(&l, &conn, &fs, &detail), PGS_STEP_FAIL);
	ck_assert(strstr(detail, "a client must log in with SCRAM first") != NULL);
	conn.secret_kind = "md5";
	ck_assert_int_eq(scram_login(&l, &conn, &fs, &detail), PGS_STEP_FAIL);
	ck_assert(strstr(detail, "kind md5") != NULL);
	conn.secret_kind = "plain";
	conn.secret = "p";

	/* only -PLUS on offer */
	ck_assert_int_eq(b->conn_new(l.mod, &conn, &st), 0);
	ck_assert_int_eq(
	        b->step(l.mod, &conn, st, 10, u8("SCRAM-SHA-256-PLUS\0"), 20, &out, &detail),
	        PGS_STEP_FAIL);
	ck_assert(strstr(detail, "only SCRAM-SHA-256-PLUS") != NULL);
	b->conn_free(l.mod, &conn, st);
	conn_close(&conn);

	/* unterminated mechanism list */
	ck_assert_int_eq(b->conn_new(l.mod, &conn, &st), 0);
	ck_assert_int_eq(b->step(l.mod, &conn, st, 10, u8("SCRAM-SHA-256"), 13, &out, &detail),
	                 PGS_STEP_FAIL);
	b->conn_free(l.mod, &conn, st);
	conn_close(&conn);

	/* SASLFinal before anything */
	ck_assert_int_eq(b->conn_new(l.mod, &conn, &st), 0);
	ck_assert_int_eq(b->step(l.mod, &conn, st, 12, u8("v=x"), 3, &out, &detail), PGS_STEP_FAIL);
	ck_assert(strstr(detail, "unexpected") != NULL);
	b->conn_free(l.mod, &conn, st);
	conn_close(&conn);

	/* hostile server-first; then a connection that vanishes mid-way */
	ck_assert_int_eq(b->conn_new(l.mod, &conn, &st), 0);
	ck_assert_int_eq(b->step(l.mod, &conn, st, 10, sasl_list, sizeof sasl_list, &out, &detail),
	                 PGS_STEP_NEED_INPUT);
	ck_assert_int_eq(b->step(l.mod, &conn, st, 11, u8("r=x,s=AAAA,i=1"), 14, &out, &detail),
	                 PGS_STEP_FAIL);
	ck_assert(strstr(detail, "nonce") != NULL);
	b->conn_free(l.mod, &conn, st);
	conn_close(&conn);
	ck_assert_int_eq(b->conn_new(l.mod, &conn, &st), 0);
	ck_assert_int_eq(b->step(l.mod, &conn, st, 10, sasl_list, sizeof sasl_list, &out, &detail),
	                 PGS_STEP_NEED_INPUT);
	ck_assert_int_eq(live_allocs, base + 1); /* the exchange */
	b->conn_free(l.mod, &conn, st);
	conn_close(&conn);
	ck_assert_int_eq(live_allocs, base);

	/* more iterations than max_iterations (default 1000000) */
	fs.iterations = 1000001;
	ck_assert_int_eq(scram_login(&l, &conn, &fs, &detail), PGS_STEP_FAIL);
	ck_assert(strstr(detail, "max_iterations") != NULL);
	unload(&l);
}
END_TEST

START_TEST(test_module_md5)
{
	static const uint8_t salt[4] = {0xde, 0xad, 0xbe, 0xef};
	pgs_conn conn = {.user = "md5user", .secret_kind = "plain", .secret = "md5pass"};
	const char *detail = NULL;
	pgs_wbuf out = {0};
	char expected[36];
	struct loaded l;
	void *st = NULL;
	const pgs_backend_ops *b;

	warnings = 0;
	load("md5", &l);
	ck_assert_int_eq(warnings, 1);
	ck_assert(strstr(last_log, "MD5 authentication is deprecated") != NULL);
	b = l.desc->backend;
	ck_assert_uint_eq(b->auth_codes, 1u << 5);
	md5_expected(MD5USER_STORED + 3, salt, expected);

	ck_assert_int_eq(b->conn_new(l.mod, &conn, &st), 0);
	ck_assert_int_eq(b->step(l.mod, &conn, st, 5, salt, 4, &out, &detail), PGS_STEP_DONE);
	ck_assert_int_eq(out.type, 'p');
	ck_assert_uint_eq(out.len, 36);
	ck_assert_str_eq((const char *)out.data, expected);
	b->conn_free(l.mod, &conn, st);

	/* the stored hash (any case) gives the same answer */
	conn.secret_kind = "md5";
	conn.secret = "md57541D4E65FAE11BD07F18DC6FE2B02BC";
	memset(&out, 0, sizeof out);
	ck_assert_int_eq(b->step(l.mod, &conn, NULL, 5, salt, 4, &out, &detail), PGS_STEP_DONE);
	ck_assert_str_eq((const char *)out.data, expected);

	conn.secret = "md5nothex";
	ck_assert_int_eq(b->step(l.mod, &conn, NULL, 5, salt, 4, &out, &detail), PGS_STEP_FAIL);
	conn.secret_kind = "scram-sha-256";
	ck_assert_int_eq(b->step(l.mod, &conn, NULL, 5, salt, 4, &out, &detail), PGS_STEP_FAIL);
	ck_assert(strstr(detail, "scram-sha-256") != NULL);
	conn.secret_kind = NULL;
	ck_assert_int_eq(b->step(l.mod, &conn, NULL, 5, salt, 4, &out, &detail), PGS_STEP_FAIL);
	ck_assert_str_eq(detail, "no password configured for backend login "
	                         "of user \"md5user\"");
	conn.secret_kind = "plain";
	ck_assert_int_eq(b->step(l.mod, &conn, NULL, 5, salt, 3, &out, &detail), PGS_STEP_FAIL);
	conn_close(&conn);
	unload(&l);
}
END_TEST

START_TEST(test_module_password)
{
	pgs_conn conn = {.user = "u", .secret_kind = "plain", .secret = "s3cret"};
	const char *detail = NULL;
	pgs_wbuf out = {0};
	struct loaded l;
	const pgs_backend_ops *b;

	load("password", &l);
	b = l.desc->backend;
	ck_assert_uint_eq(b->auth_codes, 1u << 3);
	ck_assert_int_eq(b->step(l.mod, &conn, NULL, 3, NULL, 0, &out, &detail), PGS_STEP_DONE);
	ck_assert_int_eq(out.type, 'p');
	ck_assert_uint_eq(out.len, 7);
	ck_assert_mem_eq(out.data, "s3cret", 7);
	conn.secret_kind = "md5";
	ck_assert_int_eq(b->step(l.mod, &conn, NULL, 3, NULL, 0, &out, &detail), PGS_STEP_FAIL);
	ck_assert(strstr(detail, "kind md5") != NULL);
	conn.secret_kind = NULL;
	ck_assert_int_eq(b->step(l.mod, &conn, NULL, 3, NULL, 0, &out, &detail), PGS_STEP_FAIL);
	conn_close(&conn);
	unload(&l);
}
END_TEST

/* ------------------------------------------------------------ frontend */

/* A verifier in PostgreSQL's text form, computed here with OpenSSL. */
static void make_verifier(const char *pw, const uint8_t salt[16], int iter, char *out, size_t size)
{
	uint8_t salted[32], ck[32], sk[32], stored[32];
	char s64[32], st64[48], sv64[48];
	unsigned int hl = 0;

	ck_assert_int_eq(
	        PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, 16, iter, EVP_sha256(), 32, salted),
	        1);
	hmac(salted, "Client Key", 10, ck);
	hmac(salted, "Server Key", 10, sk);
	ck_assert(EVP_Digest(ck, 32, stored, &hl, EVP_sha256(), NULL));
	b64(salt, 16, s64);
	b64(stored, 32, st64);
	b64(sk, 32, sv64);
	snprintf(out, size, "SCRAM-SHA-256$%d:%s$%s:%s", iter, s64, st64, sv64);
}

/* SASLInitialResponse: mechanism "\0" be32(len) data (len -1: no data). */
static size_t sasl_initial(uint8_t *out, const char *mech, const char *data, int32_t len)
{
	size_t ml = strlen(mech) + 1;

	memcpy(out, mech, ml);
	out[ml] = (uint8_t)((uint32_t)len >> 24);
	out[ml + 1] = (uint8_t)((uint32_t)len >> 16);
	out[ml + 2] = (uint8_t)((uint32_t)len >> 8);
	out[ml + 3] = (uint8_t)len;
	if (len > 0)
		memcpy(out + ml + 4, data, (size_t)len);
	return ml + 4 + (len > 0 ? (size_t)len : 0);
}

/* What a frontend login showed the client. */
struct front_run {
	uint8_t mechs[64];
	size_t mechs_len;
	char server_first[512];
	bool pending; /* the step deferred PBKDF2 */
};

/* One frontend login: scram_client.c with password pw against the module. */
static enum pgs_step front_login(struct loaded *l, pgs_conn *conn, const char *pw,
                                 struct front_run *r, const char **detail)
{
	static char copy[512];
	const pgs_auth_ops *a = l->desc->auth;
	pgs_wbuf out = {0};
	scram_client sc;
	char c1[SCRAM_CLIENT_MSG_MAX], c2[SCRAM_CLIENT_MSG_MAX], err[256];
	uint8_t msg[2048];
	size_t c1_len = 0, c2_len = 0, n;
	void *st = NULL;
	enum pgs_step rc;

	memset(r, 0, sizeof *r);
	*detail = NULL;
	scram_client_clear(&sc);
	ck_assert_int_eq(a->conn_new(l->mod, conn, &st), 0);
	rc = a->step(l->mod, conn, st, NULL, 0, &out, detail);
	if (rc != PGS_STEP_NEED_INPUT)
		goto out;
	ck_assert_int_eq(out.type, 'R');
	ck_assert_uint_eq(out.code, 10);
	memcpy(r->mechs, out.data, out.len);
	r->mechs_len = out.len;
	ck_assert_int_eq(scram_client_start(&sc, "", c1, sizeof c1, &c1_len, err, sizeof err), 0);
	n = sasl_initial(msg, "SCRAM-SHA-256", c1, (int32_t)c1_len);
	rc = a->step(l->mod, conn, st, msg, n, &out, detail);
	if (rc == PGS_STEP_PENDING) {
		r->pending = true;
		rc = a->step(l->mod, conn, st, NULL, 0, &out, detail);
	}
	if (rc != PGS_STEP_NEED_INPUT)
		goto out;
	ck_assert_uint_eq(out.code, 11);
	ck_assert_uint_lt(out.len, sizeof r->server_first);
	memcpy(r->server_first, out.data, out.len);
	ck_assert_int_eq(scram_client_server_first(&sc, out.data, out.len, err, sizeof err), 0);
	ck_assert_int_eq(scram_client_final_password(&sc, u8(pw), strlen(pw), c2, sizeof c2,
	                                             &c2_len, err, sizeof err),
	                 0);
	rc = a->step(l->mod, conn, st, u8(c2), c2_len, &out, detail);
	if (rc == PGS_STEP_DONE) {
		ck_assert_uint_eq(out.code, 12);
		ck_assert_int_eq(scram_client_server_final(&sc, out.data, out.len, err, sizeof err),
		                 0);
	}
out:
	a->conn_free(l->mod, conn, st);
	if (*detail != NULL) {
		snprintf(copy, sizeof copy, "%s", *detail);
		*detail = copy;
	}
	conn_close(conn);
	scram_client_clear(&sc);
	return rc;
}

/* The s= value of a server-first-message. */
static void salt_of(const char *server_first, char out[64])
{
	const char *s = strstr(server_first, ",s="), *e;

	ck_assert_ptr_nonnull(s);
	e = strchr(s + 3, ',');
	ck_assert_ptr_nonnull(e);
	ck_assert_int_lt(e - s - 3, 64);
	snprintf(out, 64, "%.*s", (int)(e - s - 3), s + 3);
}

START_TEST(test_front_ops)
{
	struct loaded l;

	load("scram", &l);
	ck_assert_ptr_nonnull(l.desc->auth);
	ck_assert_uint_eq(l.desc->auth->flags & PGS_AUTH_INTERACTIVE, PGS_AUTH_INTERACTIVE);
	ck_assert_str_eq(l.desc->auth->method, "password");
	ck_assert_str_eq(l.desc->auth->fail_sqlstate, "28P01");
	unload(&l);
}
END_TEST

/* Frontend login against a stored verifier, then pass-through. */
START_TEST(test_front_verifier_passthrough)
{
	uint8_t salt[16];
	char v[256], v2[256];
	struct fake_server fs = {.password = "scrampass", .iterations = 4096};
	pgs_conn client = {.user = "scramuser", .secret_kind = "scram-sha-256", .secret = v};
	pgs_conn server = client;
	struct front_run r;
	const char *detail;
	struct loaded l;

	memset(salt, 0x42, sizeof salt); /* the fake server's salt */
	make_verifier("scrampass", salt, 4096, v, sizeof v);
	load("scram", &l);

	/* no client has logged in: the backend login cannot pass through */
	ck_assert_int_eq(scram_login(&l, &server, &fs, &detail), PGS_STEP_FAIL);
	ck_assert(strstr(detail, "a client must log in with SCRAM first") != NULL);
	/* a wrong password does not fill the cache */
	ck_assert_int_eq(front_login(&l, &client, "scrampas", &r, &detail), PGS_STEP_FAIL);
	ck_assert_str_eq(detail, "SCRAM proof did not match");
	ck_assert_int_eq(scram_login(&l, &server, &fs, &detail), PGS_STEP_FAIL);

	ck_assert_int_eq(front_login(&l, &client, "scrampass", &r, &detail), PGS_STEP_DONE);
	ck_assert_str_eq(client.authn_id, "scramuser");
	ck_assert_uint_eq(r.mechs_len, 15);
	ck_assert_mem_eq(r.mechs, "SCRAM-SHA-256\0\0", 15);
	ck_assert(!r.pending);
	ck_assert(strstr(r.server_first, ",s=QkJCQkJCQkJCQkJCQkJCQg==,i=4096") != NULL);

	/* pass-through: the backend login works from the client's key */
	ck_assert_int_eq(scram_login(&l, &server, &fs, &detail), PGS_STEP_DONE);
	ck_assert_int_eq(scram_login(&l, &server, &fs, &detail), PGS_STEP_DONE);
	fs.tamper_final = true;
	ck_assert_int_eq(scram_login(&l, &server, &fs, &detail), PGS_STEP_FAIL);
	ck_assert_str_eq(detail, "server signature mismatch");
	fs.tamper_final = false;
	/* the server must use the verifier's salt and iteration count */
	fs.iterations = 4097;
	ck_assert_int_eq(scram_login(&l, &server, &fs, &detail), PGS_STEP_FAIL);
	ck_assert(strstr(detail, "differ from the stored verifier") != NULL);
	fs.iterations = 4096;
	/* keys are per user */
	server.user = "other";
	ck_assert_int_eq(scram_login(&l, &server, &fs, &detail), PGS_STEP_FAIL);
	ck_assert(strstr(detail, "user \"other\"") != NULL);
	server.user = "scramuser";
	/* the client's verifier changes: the old key no longer matches */
	make_verifier("newpass", salt, 4096, v2, sizeof v2);
	client.secret = v2;
	ck_assert_int_eq(front_login(&l, &client, "newpass", &r, &detail), PGS_STEP_DONE);
	ck_assert_int_eq(scram_login(&l, &server, &fs, &detail), PGS_STEP_FAIL);
	ck_assert(strstr(detail, "must log in with SCRAM first") != NULL);
	server.secret = v2;
	fs.password = "newpass";
	ck_assert_int_eq(scram_login(&l, &server, &fs, &detail), PGS_STEP_DONE);
	unload(&l);
}
END_TEST

/* A stored cleartext password: PBKDF2 deferred once, then cached. */
START_TEST(test_front_plain)
{
	pgs_conn conn = {.user = "plainuser", .secret_kind = "plain", .secret = "pencil"};
	char salt1[64], salt2[64];
	struct front_run r;
	const char *detail;
	struct loaded l;

	load("scram", &l);
	defers = 0;
	ck_assert_int_eq(front_login(&l, &conn, "pencil", &r, &detail), PGS_STEP_DONE);
	ck_assert(r.pending);
	ck_assert_int_eq(defers, 1);
	ck_assert_str_eq(conn.authn_id, "plainuser");
	ck_assert(strstr(r.server_first, ",i=4096") != NULL);
	salt_of(r.server_first, salt1);
	ck_assert_uint_eq(strlen(salt1), 24); /* 16 bytes */

	/* again: keys from the cache, same salt, nothing deferred */
	ck_assert_int_eq(front_login(&l, &conn, "pencil", &r, &detail), PGS_STEP_DONE);
	ck_assert(!r.pending);
	ck_assert_int_eq(defers, 1);
	salt_of(r.server_first, salt2);
	ck_assert_str_eq(salt1, salt2);
	ck_assert_int_eq(front_login(&l, &conn, "pencil ", &r, &detail), PGS_STEP_FAIL);
	ck_assert_str_eq(detail, "SCRAM proof did not match");

	/* another user: another salt */
	conn.user = "plainuser2";
	ck_assert_int_eq(front_login(&l, &conn, "pencil", &r, &detail), PGS_STEP_DONE);
	ck_assert(r.pending);
	salt_of(r.server_first, salt2);
	ck_assert_str_ne(salt1, salt2);

	/* the stored password is SASLprep'ed: soft hyphen removed */
	conn.user = "sasluser";
	conn.secret = "I\xC2\xADX";
	ck_assert_int_eq(front_login(&l, &conn, "IX", &r, &detail), PGS_STEP_DONE);
	unload(&l);
}
END_TEST

/* Unknown user, MD5 hash, broken verifier: a full exchange that fails. */
START_TEST(test_front_mock)
{
	char v[256], salt1[64], salt2[64], real_first[512];
	uint8_t salt[16];
	pgs_conn real = {.user = "realuser", .secret_kind = "scram-sha-256", .secret = v};
	pgs_conn conn = {.user = "ghost"};
	struct front_run r;
	const char *detail;
	struct loaded l;

	memset(salt, 7, sizeof salt);
	make_verifier("pw", salt, 4096, v, sizeof v);
	load("scram", &l);
	ck_assert_int_eq(front_login(&l, &real, "pw", &r, &detail), PGS_STEP_DONE);
	snprintf(real_first, sizeof real_first, "%s", r.server_first);

	ck_assert_int_eq(front_login(&l, &conn, "pw", &r, &detail), PGS_STEP_FAIL);
	ck_assert_str_eq(detail, "user does not exist");
	/* the same shape on the wire */
	ck_assert_uint_eq(r.mechs_len, 15);
	ck_assert_mem_eq(r.mechs, "SCRAM-SHA-256\0\0", 15);
	ck_assert_uint_eq(strlen(r.server_first), strlen(real_first));
	ck_assert(strstr(r.server_first, ",i=4096") != NULL);
	ck_assert(!r.pending);
	salt_of(r.server_first, salt1);
	ck_assert_int_eq(front_login(&l, &conn, "pw", &r, &detail), PGS_STEP_FAIL);
	salt_of(r.server_first, salt2);
	ck_assert_str_eq(salt1, salt2); /* stable per user while running */
	conn.user = "ghost2";
	ck_assert_int_eq(front_login(&l, &conn, "pw", &r, &detail), PGS_STEP_FAIL);
	salt_of(r.server_first, salt2);
	ck_assert_str_ne(salt1, salt2);

	conn.secret_kind = "md5";
	conn.secret = "md57541d4e65fae11bd07f18dc6fe2b02bc";
	ck_assert_int_eq(front_login(&l, &conn, "pw", &r, &detail), PGS_STEP_FAIL);
	ck_assert_str_eq(detail, "stored secret is an MD5 hash: SCRAM cannot check it");
	conn.secret_kind = "scram-sha-256";
	conn.secret = "SCRAM-SHA-256$0:AAAA$AAAA:AAAA";
	ck_assert_int_eq(front_login(&l, &conn, "pw", &r, &detail), PGS_STEP_FAIL);
	ck_assert(strstr(detail, "stored SCRAM secret is unusable") != NULL);
	unload(&l);
}
END_TEST

#define FINAL_WRONG_NONCE "c=biws,r=abcX,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="

/* Clients breaking the protocol: PGS_STEP_PROTO_ERROR with PostgreSQL's words. */
START_TEST(test_front_protocol_errors)
{
	char v[256];
	uint8_t salt[16], msg[512];
	pgs_conn conn = {.user = "u", .secret_kind = "scram-sha-256", .secret = v};
	const pgs_auth_ops *a;
	pgs_wbuf out = {0};
	const char *detail = NULL;
	struct loaded l;
	void *st = NULL;
	size_t n;
	int base;

	memset(salt, 9, sizeof salt);
	make_verifier("pw", salt, 4096, v, sizeof v);
	load("scram", &l);
	a = l.desc->auth;
	base = live_allocs;

	/* unknown mechanism */
	ck_assert_int_eq(a->conn_new(l.mod, &conn, &st), 0);
	ck_assert_int_eq(a->step(l.mod, &conn, st, NULL, 0, &out, &detail), PGS_STEP_NEED_INPUT);
	n = sasl_initial(msg, "SCRAM-SHA-1", "n,,n=,r=x", 9);
	ck_assert_int_eq(a->step(l.mod, &conn, st, msg, n, &out, &detail), PGS_STEP_PROTO_ERROR);
	ck_assert_str_eq(detail, "client selected an invalid SASL authentication mechanism");
	/* anything after the end fails */
	ck_assert_int_eq(a->step(l.mod, &conn, st, msg, n, &out, &detail), PGS_STEP_FAIL);
	a->conn_free(l.mod, &conn, st);
	conn_close(&conn);
	ck_assert_int_eq(live_allocs, base);

	/* malformed client-first */
	ck_assert_int_eq(a->conn_new(l.mod, &conn, &st), 0);
	ck_assert_int_eq(a->step(l.mod, &conn, st, NULL, 0, &out, &detail), PGS_STEP_NEED_INPUT);
	n = sasl_initial(msg, "SCRAM-SHA-256", "n,,n=,r=a b", 11);
	ck_assert_int_eq(a->step(l.mod, &conn, st, msg, n, &out, &detail), PGS_STEP_PROTO_ERROR);
	ck_assert_str_eq(detail, "malformed SCRAM message: non-printable characters in SCRAM "
	                         "nonce");
	a->conn_free(l.mod, &conn, st);
	conn_close(&conn);

	/* no initial data: an empty SASLContinue, then the client-first */
	ck_assert_int_eq(a->conn_new(l.mod, &conn, &st), 0);
	ck_assert_int_eq(a->step(l.mod, &conn, st, NULL, 0, &out, &detail), PGS_STEP_NEED_INPUT);
	n = sasl_initial(msg, "SCRAM-SHA-256", NULL, -1);
	ck_assert_int_eq(a->step(l.mod, &conn, st, msg, n, &out, &detail), PGS_STEP_NEED_INPUT);
	ck_assert_uint_eq(out.code, 11);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_int_eq(a->step(l.mod, &conn, st, u8("n,,n=,r=abc"), 11, &out, &detail),
	                 PGS_STEP_NEED_INPUT);
	ck_assert_uint_eq(out.code, 11);
	ck_assert_mem_eq(out.data, "r=abc", 5);
	/* a client-final with another nonce */
	ck_assert_int_eq(a->step(l.mod, &conn, st, u8(FINAL_WRONG_NONCE), strlen(FINAL_WRONG_NONCE),
	                         &out, &detail),
	                 PGS_STEP_PROTO_ERROR);
	ck_assert_str_eq(detail, "invalid SCRAM response: Nonce does not match.");
	a->conn_free(l.mod, &conn, st);
	conn_close(&conn);

	/* over TLS: -PLUS offered, so "y" is a downgrade */
	conn.has_cb = true;
	ck_assert_int_eq(a->conn_new(l.mod, &conn, &st), 0);
	ck_assert_int_eq(a->step(l.mod, &conn, st, NULL, 0, &out, &detail), PGS_STEP_NEED_INPUT);
	ck_assert_uint_eq(out.len, 34);
	ck_assert_mem_eq(out.data, "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0", 34);
	n = sasl_initial(msg, "SCRAM-SHA-256", "y,,n=,r=x", 9);
	ck_assert_int_eq(a->step(l.mod, &conn, st, msg, n, &out, &detail), PGS_STEP_PROTO_ERROR);
	ck_assert(strstr(detail, "SCRAM channel binding negotiation error") != NULL);
	a->conn_free(l.mod, &conn, st);
	conn_close(&conn);
	conn.has_cb = false;

	/* a client that vanishes mid-exchange, and one before anything */
	ck_assert_int_eq(a->conn_new(l.mod, &conn, &st), 0);
	ck_assert_int_eq(a->step(l.mod, &conn, st, NULL, 0, &out, &detail), PGS_STEP_NEED_INPUT);
	ck_assert_int_eq(live_allocs, base + 1); /* the exchange */
	a->conn_free(l.mod, &conn, st);
	conn_close(&conn);
	ck_assert_int_eq(live_allocs, base);
	ck_assert_int_eq(a->conn_new(l.mod, &conn, &st), 0);
	a->conn_free(l.mod, &conn, st);
	conn_close(&conn);
	unload(&l);
}
END_TEST

static Suite *scram_suite(void)
{
	Suite *s = suite_create("scram");
	TCase *tc = tcase_create("client");
	TCase *tm = tcase_create("modules");
	TCase *tf = tcase_create("frontend");

	tcase_add_test(tc, test_rfc7677_vector);
	tcase_add_test(tc, test_rfc7677_precomputed_keys);
	tcase_add_test(tc, test_client_first_forms);
	tcase_add_test(tc, test_random_nonce);
	tcase_add_loop_test(tc, test_server_first_malformed, 0,
	                    (int)(sizeof bad_server_first / sizeof bad_server_first[0]));
	tcase_add_test(tc, test_server_first_limits);
	tcase_add_test(tc, test_server_final);
	tcase_add_test(tc, test_wrong_state);
	tcase_add_test(tc, test_md5_hash);
	suite_add_tcase(s, tc);

	tcase_add_test(tm, test_module_scram);
	tcase_add_test(tm, test_module_scram_refusals);
	tcase_add_test(tm, test_module_md5);
	tcase_add_test(tm, test_module_password);
	suite_add_tcase(s, tm);

	tcase_add_test(tf, test_front_ops);
	tcase_add_test(tf, test_front_verifier_passthrough);
	tcase_add_test(tf, test_front_plain);
	tcase_add_test(tf, test_front_mock);
	tcase_add_test(tf, test_front_protocol_errors);
	suite_add_tcase(s, tf);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(scram_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
