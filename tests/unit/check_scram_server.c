/*
 * check_scram_server.c — unit tests of the SCRAM-SHA-256 server side
 * (scram_server.c), the verifier code and SASLprep (modules/common):
 * the RFC 7677 exchange with its fixed nonces, verifiers PostgreSQL 15
 * made itself (tests/unit/data/scram/pg15_verifiers.txt), our client
 * against our server, hostile client messages, channel binding, the mock
 * exchange and SASLprep.  Proofs the tests send are computed here with
 * OpenSSL directly, independently of the code under test.
 */
#include "autoconf.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "../../modules/common/saslprep.h"
#include "../../modules/common/scram_verifier.h"
#include "../../modules/scram/scram_client.h"
#include "../../modules/scram/scram_server.h"

#define VERIFIERS TEST_SRCDIR "/unit/data/scram/pg15_verifiers.txt"

/* RFC 7677 §3 */
#define RFC_PASSWORD     "pencil"
#define RFC_CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_OUR_NONCE    "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_NONCE        "rOprNGfwEbeRWgbNEkqO" RFC_OUR_NONCE
#define RFC_SALT_B64     "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_SERVER_FIRST "r=" RFC_NONCE ",s=" RFC_SALT_B64 ",i=4096"
#define RFC_PROOF        "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_CLIENT_FINAL "c=biws,r=" RFC_NONCE ",p=" RFC_PROOF
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static const uint8_t cb_hash[32] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
                                    0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00,
                                    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                    0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};

static const uint8_t *u8(const char *s)
{
	return (const uint8_t *)s;
}

/* ------------------------------------------------------------ helpers */

/* RFC salt and keys, derived here with OpenSSL only. */
struct keys {
	uint8_t salt[16];
	uint8_t client_key[32], stored_key[32], server_key[32];
};

static void hmac(const uint8_t *key, const void *data, size_t len, uint8_t out[32])
{
	unsigned int ol = 0;

	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), key, 32, data, len, out, &ol));
}

static void rfc_keys(struct keys *k)
{
	uint8_t salted[32], raw[24];
	unsigned int hl = 0;

	ck_assert_int_eq(EVP_DecodeBlock(raw, u8(RFC_SALT_B64), 24), 18);
	memcpy(k->salt, raw, 16);
	ck_assert_int_eq(
	        PKCS5_PBKDF2_HMAC(RFC_PASSWORD, 6, k->salt, 16, 4096, EVP_sha256(), 32, salted), 1);
	hmac(salted, "Client Key", 10, k->client_key);
	hmac(salted, "Server Key", 10, k->server_key);
	ck_assert(EVP_Digest(k->client_key, 32, k->stored_key, &hl, EVP_sha256(), NULL));
}

/* client-final "c=<cbind_b64>,r=<nonce>,p=<proof>" for ClientKey ck. */
static void make_final(const char *bare, const char *server_first, const char *cbind_b64,
                       const char *nonce, const uint8_t ck[32], char *out, size_t out_size)
{
	uint8_t stored[32], sig[32], proof[32];
	char am[4096], p64[64];
	unsigned int hl = 0;
	int n;

	n = snprintf(out, out_size, "c=%s,r=%s", cbind_b64, nonce);
	ck_assert(n > 0 && (size_t)n < out_size);
	snprintf(am, sizeof am, "%s,%s,%s", bare, server_first, out);
	ck_assert(EVP_Digest(ck, 32, stored, &hl, EVP_sha256(), NULL));
	hmac(stored, am, strlen(am), sig);
	for (int i = 0; i < 32; i++)
		proof[i] = ck[i] ^ sig[i];
	EVP_EncodeBlock((unsigned char *)p64, proof, 32);
	ck_assert((size_t)n + 3 + strlen(p64) < out_size);
	strcat(out, ",p=");
	strcat(out, p64);
}

static void b64(const void *in, size_t len, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

/* A server past client-first and server-first (RFC nonces and salt). */
static void rfc_server_until_final(scram_server *ss, const uint8_t *cb, size_t cb_len,
                                   const char *client_first)
{
	struct keys k;
	char out[SCRAM_SERVER_FIRST_MAX], err[256];
	size_t len = 0;

	rfc_keys(&k);
	ck_assert_int_eq(scram_server_begin(ss, cb, cb_len), 0);
	ck_assert_int_eq(scram_server_client_first(ss, u8(client_first), strlen(client_first), err,
	                                           sizeof err),
	                 0);
	ck_assert_int_eq(scram_server_server_first_with_nonce(ss, k.salt, 16, 4096, RFC_OUR_NONCE,
	                                                      out, sizeof out, &len, err,
	                                                      sizeof err),
	                 0);
}

/* ------------------------------------------------------------ RFC 7677 */

START_TEST(test_rfc7677_server)
{
	struct keys k;
	scram_server ss;
	uint8_t ck[32];
	char out[SCRAM_SERVER_FIRST_MAX], err[256];
	size_t len = 0;

	rfc_keys(&k);
	ck_assert_int_eq(scram_server_begin(&ss, NULL, 0), 0);
	ck_assert_int_eq(scram_server_client_first(&ss, u8(RFC_CLIENT_FIRST),
	                                           strlen(RFC_CLIENT_FIRST), err, sizeof err),
	                 0);
	ck_assert_int_eq(scram_server_server_first_with_nonce(&ss, k.salt, 16, 4096, RFC_OUR_NONCE,
	                                                      out, sizeof out, &len, err,
	                                                      sizeof err),
	                 0);
	ck_assert_uint_eq(len, strlen(RFC_SERVER_FIRST));
	ck_assert_mem_eq(out, RFC_SERVER_FIRST, len);
	ck_assert_int_eq(scram_server_client_final(&ss, u8(RFC_CLIENT_FINAL),
	                                           strlen(RFC_CLIENT_FINAL), err, sizeof err),
	                 0);
	ck_assert_int_eq(scram_server_verify(&ss, k.stored_key, k.server_key, ck, out, sizeof out,
	                                     &len, err, sizeof err),
	                 0);
	ck_assert_uint_eq(len, strlen(RFC_SERVER_FINAL));
	ck_assert_mem_eq(out, RFC_SERVER_FINAL, len);
	ck_assert_mem_eq(ck, k.client_key, 32); /* recovered for pass-through */
	ck_assert_int_eq(ss.state, SCRAM_SERVER_DONE);
	scram_server_clear(&ss);
}
END_TEST

/* The RFC exchange with a wrong StoredKey, then with a tampered proof. */
START_TEST(test_rfc7677_wrong_proof)
{
	static const char tampered[] = "c=biws,r=" RFC_NONCE
	                               ",p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
	struct keys k;
	scram_server ss;
	char out[128], err[256];
	size_t len = 0;

	rfc_keys(&k);
	rfc_server_until_final(&ss, NULL, 0, RFC_CLIENT_FIRST);
	ck_assert_int_eq(scram_server_client_final(&ss, u8(RFC_CLIENT_FINAL),
	                                           strlen(RFC_CLIENT_FINAL), err, sizeof err),
	                 0);
	k.stored_key[5] ^= 1;
	ck_assert_int_eq(scram_server_verify(&ss, k.stored_key, k.server_key, NULL, out, sizeof out,
	                                     &len, err, sizeof err),
	                 -EACCES);
	ck_assert_str_eq(err, "SCRAM proof did not match");
	ck_assert_int_eq(ss.state, SCRAM_SERVER_FAILED);

	k.stored_key[5] ^= 1;
	rfc_server_until_final(&ss, NULL, 0, RFC_CLIENT_FIRST);
	ck_assert_int_eq(
	        scram_server_client_final(&ss, u8(tampered), strlen(tampered), err, sizeof err), 0);
	ck_assert_int_eq(scram_server_verify(&ss, k.stored_key, k.server_key, NULL, out, sizeof out,
	                                     &len, err, sizeof err),
	                 -EACCES);
}
END_TEST

/* ------------------------------------------------------------ PostgreSQL's verifiers */

struct pg_case {
	char name[64];
	uint8_t password[128];
	size_t password_len;
	char verifier[300];
};

static int load_pg_cases(struct pg_case *c, int max)
{
	FILE *f = fopen(VERIFIERS, "r");
	char line[1024], hex[300];
	int n = 0;

	ck_assert_msg(f != NULL, "cannot open %s", VERIFIERS);
	while (fgets(line, sizeof line, f) != NULL && n < max) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		ck_assert_int_eq(sscanf(line, "%63s %299s %299s", c[n].name, hex, c[n].verifier),
		                 3);
		c[n].password_len = strlen(hex) / 2;
		for (size_t i = 0; i < c[n].password_len; i++) {
			unsigned int x;

			ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &x), 1);
			c[n].password[i] = (uint8_t)x;
		}
		n++;
	}
	fclose(f);
	return n;
}

START_TEST(test_pg15_verifiers)
{
	struct pg_case c[32];
	int n = load_pg_cases(c, 32), sasl_changed = 0;

	ck_assert_int_ge(n, 10);
	for (int i = 0; i < n; i++) {
		struct scram_verifier v, again;
		char text[SCRAM_VERIFIER_MAX_TEXT + 1], err[128];
		uint8_t wrong[130];
		char *prepped = NULL;
		size_t plen = 0;

		ck_assert_msg(scram_verifier_parse(u8(c[i].verifier), strlen(c[i].verifier), &v,
		                                   err, sizeof err) == 0,
		              "%s: %s", c[i].name, err);
		ck_assert_uint_eq(v.iterations, 4096);
		ck_assert_uint_eq(v.salt_len, 16);
		ck_assert_msg(scram_verifier_check_password(&v, c[i].password, c[i].password_len),
		              "%s: password does not match PostgreSQL's verifier", c[i].name);
		memcpy(wrong, c[i].password, c[i].password_len);
		wrong[c[i].password_len] = 'x';
		ck_assert(!scram_verifier_check_password(&v, wrong, c[i].password_len + 1));

		/* the same text back from the same salt */
		ck_assert_int_eq(scram_verifier_from_password(c[i].password, c[i].password_len,
		                                              v.salt, v.salt_len, 4096, &again),
		                 0);
		ck_assert_int_eq(scram_verifier_format(&again, text, sizeof text),
		                 (int)strlen(c[i].verifier));
		ck_assert_str_eq(text, c[i].verifier);
		if (saslprep(c[i].password, c[i].password_len, &prepped, &plen) == SASLPREP_OK) {
			if (plen != c[i].password_len || memcmp(prepped, c[i].password, plen) != 0)
				sasl_changed++;
			saslprep_free(prepped, plen);
		}
	}
	/* softhyphen, roman9, nbsp, ligature: SASLprep changed them */
	ck_assert_int_eq(sasl_changed, 4);
}
END_TEST

/* ------------------------------------------------------------ client against server */

/* One exchange: our client (password pw) against our server (verifier v).
 * Returns the server's verify result. */
static int client_vs_server(const struct scram_verifier *v, const char *pw, bool use_keys)
{
	scram_client sc;
	scram_server ss;
	char c1[SCRAM_CLIENT_MSG_MAX], s1[SCRAM_SERVER_FIRST_MAX], c2[SCRAM_CLIENT_MSG_MAX];
	char s2[128], err[256];
	uint8_t ck[32], sk[32], recovered[32];
	size_t c1_len = 0, s1_len = 0, c2_len = 0, s2_len = 0, salt_len = 0;
	int rc;

	ck_assert_int_eq(scram_client_start(&sc, "", c1, sizeof c1, &c1_len, err, sizeof err), 0);
	ck_assert_int_eq(scram_server_begin(&ss, NULL, 0), 0);
	ck_assert_int_eq(scram_server_client_first(&ss, u8(c1), c1_len, err, sizeof err), 0);
	ck_assert_int_eq(scram_server_server_first(&ss, v->salt, v->salt_len, v->iterations, s1,
	                                           sizeof s1, &s1_len, err, sizeof err),
	                 0);
	ck_assert_int_eq(scram_client_server_first(&sc, u8(s1), s1_len, err, sizeof err), 0);
	if (use_keys) {
		/* keys with SASLprep, as libpq computes them */
		const uint8_t *salt = scram_client_salt(&sc, &salt_len);

		ck_assert_int_eq(scram_verifier_derive(u8(pw), strlen(pw), salt, salt_len,
		                                       scram_client_iterations(&sc), ck, sk),
		                 0);
		ck_assert_int_eq(scram_client_final_keys(&sc, ck, sk, c2, sizeof c2, &c2_len, err,
		                                         sizeof err),
		                 0);
	} else {
		ck_assert_int_eq(scram_client_final_password(&sc, u8(pw), strlen(pw), c2, sizeof c2,
		                                             &c2_len, err, sizeof err),
		                 0);
	}
	ck_assert_int_eq(scram_server_client_final(&ss, u8(c2), c2_len, err, sizeof err), 0);
	rc = scram_server_verify(&ss, v->stored_key, v->server_key, recovered, s2, sizeof s2,
	                         &s2_len, err, sizeof err);
	if (rc == 0) {
		ck_assert_int_eq(scram_client_server_final(&sc, u8(s2), s2_len, err, sizeof err),
		                 0);
		ck_assert_int_eq(sc.state, SCRAM_CLIENT_DONE);
	} else {
		ck_assert_str_eq(err, "SCRAM proof did not match");
	}
	scram_client_clear(&sc);
	scram_server_clear(&ss);
	return rc;
}

START_TEST(test_client_vs_server)
{
	struct pg_case c[32];
	int n = load_pg_cases(c, 32);
	struct scram_verifier v;
	char err[128];

	ck_assert_int_ge(n, 4);
	/* v_ascii: "pencil" */
	ck_assert_str_eq(c[0].name, "v_ascii");
	ck_assert_int_eq(
	        scram_verifier_parse(u8(c[0].verifier), strlen(c[0].verifier), &v, err, sizeof err),
	        0);
	ck_assert_int_eq(client_vs_server(&v, "pencil", false), 0);
	ck_assert_int_eq(client_vs_server(&v, "pencil2", false), -EACCES);
	ck_assert_int_eq(client_vs_server(&v, "", false), -EACCES);
	/* v_roman9: U+2168, prepared to "IX" on both sides */
	ck_assert_str_eq(c[3].name, "v_roman9");
	ck_assert_int_eq(
	        scram_verifier_parse(u8(c[3].verifier), strlen(c[3].verifier), &v, err, sizeof err),
	        0);
	ck_assert_int_eq(client_vs_server(&v, "\xE2\x85\xA8", true), 0);
	ck_assert_int_eq(client_vs_server(&v, "IX", true), 0);
	ck_assert_int_eq(client_vs_server(&v, "IX", false), 0);
	ck_assert_int_eq(client_vs_server(&v, "\xE2\x85\xA8", false), -EACCES); /* raw bytes */
	ck_assert_int_eq(client_vs_server(&v, "iX", true), -EACCES);
}
END_TEST

/* ------------------------------------------------------------ hostile client-first */

static const struct {
	const char *msg;
	size_t len; /* 0: strlen */
	const char *reason;
} bad_first[] = {
        {"", 0, "Unexpected channel-binding flag"},
        {"x,,n=,r=abc", 0, "Unexpected channel-binding flag \"x\""},
        {"n", 0, "Comma expected"},
        {"n;,n=,r=abc", 0, "Comma expected"},
        {"n,a=user,n=,r=abc", 0, "authorization identity"},
        {"n,x,n=,r=abc", 0, "Unexpected attribute"},
        {"n,,m=ext,n=,r=abc", 0, "unsupported SCRAM extension"},
        {"n,,r=abc", 0, "user name attribute"},
        {"n,,n=a=b,r=abc", 0, "user name attribute"},
        {"n,,n=a=2D,r=abc", 0, "user name attribute"},
        {"n,,n=a=3", 0, "user name attribute"},
        {"n,,n=", 0, "nonce attribute"},
        {"n,,n=,r=", 0, "nonce attribute"},
        {"n,,n=,x=abc", 0, "nonce attribute"},
        {"n,,n=,r=a b", 0, "non-printable"},
        {"n,,n=,r=ab\x01", 0, "non-printable"},
        {"n,,n=,r=ab\xc3\xa9", 0, "non-printable"},
        {"n,,n=,r=abc,x=1", 0, "Unsupported attribute"},
        {"n,,n=,r=abc,", 0, "Unsupported attribute"},
        {"n,,n=,r=abc\0", 13, "NUL byte"},
        {"p=tls-server-end-point,,n=,r=abc", 0, "without channel binding, but"},
        {"p,,n=,r=abc", 0, "without channel binding, but"},
};

START_TEST(test_client_first_malformed)
{
	scram_server ss;
	char err[256];
	size_t len = bad_first[_i].len ? bad_first[_i].len : strlen(bad_first[_i].msg);
	int rc;

	ck_assert_int_eq(scram_server_begin(&ss, NULL, 0), 0);
	err[0] = '\0';
	rc = scram_server_client_first(&ss, u8(bad_first[_i].msg), len, err, sizeof err);
	ck_assert_msg(rc == -EBADMSG, "case %d: rc %d", _i, rc);
	ck_assert_msg(strstr(err, bad_first[_i].reason) != NULL, "case %d: err \"%s\"", _i, err);
	ck_assert_int_eq(ss.state, SCRAM_SERVER_FAILED);
}
END_TEST

START_TEST(test_client_first_limits)
{
	char msg[2048], err[256];
	scram_server ss;
	int n;

	/* accepted forms: escaped names, a 256-character nonce, "y" without TLS */
	ck_assert_int_eq(scram_server_begin(&ss, NULL, 0), 0);
	ck_assert_int_eq(
	        scram_server_client_first(&ss, u8("n,,n=a=2Cb=3D,r=x"), 17, err, sizeof err), 0);
	n = snprintf(msg, sizeof msg, "y,,n=,r=");
	memset(msg + n, 'q', SCRAM_SERVER_MAX_NONCE);
	ck_assert_int_eq(scram_server_begin(&ss, NULL, 0), 0);
	ck_assert_int_eq(scram_server_client_first(&ss, u8(msg), (size_t)n + SCRAM_SERVER_MAX_NONCE,
	                                           err, sizeof err),
	                 0);
	/* one more nonce character */
	msg[n + SCRAM_SERVER_MAX_NONCE] = 'q';
	ck_assert_int_eq(scram_server_begin(&ss, NULL, 0), 0);
	ck_assert_int_eq(scram_server_client_first(&ss, u8(msg),
	                                           (size_t)n + SCRAM_SERVER_MAX_NONCE + 1, err,
	                                           sizeof err),
	                 -EBADMSG);
	ck_assert(strstr(err, "nonce longer than") != NULL);
	/* a message over the limit */
	memset(msg, 'n', sizeof msg);
	ck_assert_int_eq(scram_server_begin(&ss, NULL, 0), 0);
	ck_assert_int_eq(
	        scram_server_client_first(&ss, u8(msg), SCRAM_SERVER_MAX_MSG + 1, err, sizeof err),
	        -EBADMSG);
	ck_assert(strstr(err, "longer than 1024 bytes") != NULL);
	/* wrong state: twice */
	ck_assert_int_eq(scram_server_begin(&ss, NULL, 0), 0);
	ck_assert_int_eq(scram_server_client_first(&ss, u8("n,,n=,r=x"), 9, err, sizeof err), 0);
	ck_assert_int_eq(scram_server_client_first(&ss, u8("n,,n=,r=x"), 9, err, sizeof err),
	                 -EINVAL);
}
END_TEST

/* ------------------------------------------------------------ hostile client-final */

static const struct {
	const char *msg;
	const char *reason;
} bad_final[] = {
        {"", "channel-binding attribute (c=)"},
        {"r=" RFC_NONCE ",p=" RFC_PROOF, "channel-binding attribute (c=)"},
        {"c=eSws,r=" RFC_NONCE ",p=" RFC_PROOF, "unexpected SCRAM channel-binding attribute"},
        {"c=biwsx,r=" RFC_NONCE ",p=" RFC_PROOF, "unexpected SCRAM channel-binding attribute"},
        {"c=biws", "nonce attribute (r=)"},
        {"c=biws,p=" RFC_PROOF, "nonce attribute (r=)"},
        {"c=biws,r=rOprNGfwEbeRWgbNEkqO,p=" RFC_PROOF, "Nonce does not match"},
        {"c=biws,r=" RFC_NONCE "x,p=" RFC_PROOF, "Nonce does not match"},
        {"c=biws,r=" RFC_NONCE, "proof attribute (p=)"},
        {"c=biws,r=" RFC_NONCE ",x=1,p=" RFC_PROOF, "proof attribute (p=)"},
        {"c=biws,r=" RFC_NONCE ",p=AAAA", "Malformed proof"},
        {"c=biws,r=" RFC_NONCE ",p=", "Malformed proof"},
        {"c=biws,r=" RFC_NONCE ",p=" RFC_PROOF "AAAA", "Malformed proof"},
        {"c=biws,r=" RFC_NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndV!=",
         "Malformed proof"},
        {"c=biws,r=" RFC_NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVR=",
         "Malformed proof"}, /* non-canonical base64 */
        {"c=biws,r=" RFC_NONCE ",p=" RFC_PROOF ",x=1", "Garbage found at the end"},
        {"c=biws,r=" RFC_NONCE ",p=" RFC_PROOF ",", "Garbage found at the end"},
};

START_TEST(test_client_final_malformed)
{
	scram_server ss;
	char err[256];
	int rc;

	rfc_server_until_final(&ss, NULL, 0, RFC_CLIENT_FIRST);
	err[0] = '\0';
	rc = scram_server_client_final(&ss, u8(bad_final[_i].msg), strlen(bad_final[_i].msg), err,
	                               sizeof err);
	ck_assert_msg(rc == -EBADMSG, "case %d: rc %d", _i, rc);
	ck_assert_msg(strstr(err, bad_final[_i].reason) != NULL, "case %d: err \"%s\"", _i, err);
	ck_assert_int_eq(ss.state, SCRAM_SERVER_FAILED);
}
END_TEST

START_TEST(test_client_final_limits)
{
	char msg[2048], out[64], err[256];
	uint8_t k[32] = {0};
	scram_server ss;
	size_t len;

	/* NUL byte, over-long message */
	rfc_server_until_final(&ss, NULL, 0, RFC_CLIENT_FIRST);
	ck_assert_int_eq(scram_server_client_final(&ss, u8("c=biws\0"), 7, err, sizeof err),
	                 -EBADMSG);
	ck_assert(strstr(err, "NUL byte") != NULL);
	rfc_server_until_final(&ss, NULL, 0, RFC_CLIENT_FIRST);
	memset(msg, 'c', sizeof msg);
	ck_assert_int_eq(
	        scram_server_client_final(&ss, u8(msg), SCRAM_SERVER_MAX_MSG + 1, err, sizeof err),
	        -EBADMSG);
	/* wrong states */
	ck_assert_int_eq(scram_server_begin(&ss, NULL, 0), 0);
	ck_assert_int_eq(scram_server_client_final(&ss, u8(RFC_CLIENT_FINAL),
	                                           strlen(RFC_CLIENT_FINAL), err, sizeof err),
	                 -EINVAL);
	ck_assert_int_eq(
	        scram_server_verify(&ss, k, k, NULL, out, sizeof out, &len, err, sizeof err),
	        -EINVAL);
	ck_assert_int_eq(scram_server_server_first_with_nonce(&ss, k, 16, 1, "x", out, sizeof out,
	                                                      &len, err, sizeof err),
	                 -EINVAL);
	/* server-first arguments out of range */
	ck_assert_int_eq(scram_server_client_first(&ss, u8("n,,n=,r=x"), 9, err, sizeof err), 0);
	ck_assert_int_eq(scram_server_server_first_with_nonce(&ss, k, 0, 4096, "x", msg, sizeof msg,
	                                                      &len, err, sizeof err),
	                 -EINVAL);
	ck_assert_int_eq(scram_server_server_first_with_nonce(&ss, k, 16, 0, "x", msg, sizeof msg,
	                                                      &len, err, sizeof err),
	                 -EINVAL);
	ck_assert_int_eq(scram_server_server_first_with_nonce(&ss, k, 16, 4096, "a,b", msg,
	                                                      sizeof msg, &len, err, sizeof err),
	                 -EINVAL);
	ck_assert_int_eq(scram_server_server_first_with_nonce(&ss, k, 16, 4096, "x", msg, 10, &len,
	                                                      err, sizeof err),
	                 -ENOSPC);
	ck_assert_int_eq(
	        scram_server_server_first(&ss, k, 16, 4096, msg, sizeof msg, &len, err, sizeof err),
	        0);
	/* "r=x" + 24 random base64 characters */
	ck_assert_mem_eq(msg, "r=x", 3);
	ck_assert_ptr_eq(memchr(msg, ',', len), msg + 3 + 24);
}
END_TEST

/* ------------------------------------------------------------ SASLInitialResponse */

/* mechanism "\0" be32(n) data */
static size_t initial(char *out, const char *mech, int32_t n, const char *data)
{
	size_t ml = strlen(mech) + 1, dl = data ? strlen(data) : 0;

	memcpy(out, mech, ml);
	out[ml] = (char)((uint32_t)n >> 24);
	out[ml + 1] = (char)((uint32_t)n >> 16);
	out[ml + 2] = (char)((uint32_t)n >> 8);
	out[ml + 3] = (char)n;
	if (dl > 0)
		memcpy(out + ml + 4, data, dl);
	return ml + 4 + dl;
}

START_TEST(test_initial_response)
{
	const uint8_t *data;
	uint8_t list[64];
	char msg[256], err[256];
	scram_server ss;
	size_t len, dl;

	/* without TLS: only SCRAM-SHA-256 on offer */
	ck_assert_int_eq(scram_server_begin(&ss, NULL, 0), 0);
	ck_assert_int_eq(scram_server_mechanisms(&ss, list, sizeof list, &len), 0);
	ck_assert_uint_eq(len, 15);
	ck_assert_mem_eq(list, "SCRAM-SHA-256\0\0", 15);
	ck_assert_int_eq(scram_server_mechanisms(&ss, list, 10, &len), -ENOSPC);
	len = initial(msg, "SCRAM-SHA-256", 9, "n,,n=,r=x");
	ck_assert_int_eq(scram_server_initial(&ss, u8(msg), len, &data, &dl, err, sizeof err), 0);
	ck_assert_uint_eq(dl, 9);
	ck_assert_mem_eq(data, "n,,n=,r=x", 9);
	ck_assert_int_eq(scram_server_initial(&ss, u8(msg), len, &data, &dl, err, sizeof err),
	                 -EINVAL); /* twice */
	ck_assert_int_eq(scram_server_client_first(&ss, data, dl, err, sizeof err), 0);

	/* no initial data (-1): the client-first comes later */
	ck_assert_int_eq(scram_server_begin(&ss, NULL, 0), 0);
	len = initial(msg, "SCRAM-SHA-256", -1, NULL);
	ck_assert_int_eq(scram_server_initial(&ss, u8(msg), len, &data, &dl, err, sizeof err), 0);
	ck_assert_ptr_null(data);
	ck_assert_int_eq(scram_server_client_first(&ss, u8("n,,n=,r=x"), 9, err, sizeof err), 0);

	/* refusals */
	ck_assert_int_eq(scram_server_begin(&ss, NULL, 0), 0);
	len = initial(msg, "SCRAM-SHA-256-PLUS", 9, "p=tls-server-end-point,,n=,r=x");
	ck_assert_int_eq(scram_server_initial(&ss, u8(msg), len, &data, &dl, err, sizeof err),
	                 -EBADMSG);
	ck_assert_str_eq(err, "client selected an invalid SASL authentication mechanism");
	ck_assert_int_eq(scram_server_begin(&ss, NULL, 0), 0);
	len = initial(msg, "SCRAM-SHA-1", 9, "n,,n=,r=x");
	ck_assert_int_eq(scram_server_initial(&ss, u8(msg), len, &data, &dl, err, sizeof err),
	                 -EBADMSG);
	ck_assert_int_eq(scram_server_begin(&ss, NULL, 0), 0);
	len = initial(msg, "SCRAM-SHA-256", 10, "n,,n=,r=x");
	ck_assert_int_eq(scram_server_initial(&ss, u8(msg), len, &data, &dl, err, sizeof err),
	                 -EBADMSG);
	ck_assert(strstr(err, "length does not match") != NULL);
	ck_assert_int_eq(scram_server_begin(&ss, NULL, 0), 0);
	len = initial(msg, "SCRAM-SHA-256", -1, "n,,n=,r=x");
	ck_assert_int_eq(scram_server_initial(&ss, u8(msg), len, &data, &dl, err, sizeof err),
	                 -EBADMSG);
	ck_assert_int_eq(scram_server_begin(&ss, NULL, 0), 0);
	len = initial(msg, "SCRAM-SHA-256", -2, NULL);
	ck_assert_int_eq(scram_server_initial(&ss, u8(msg), len, &data, &dl, err, sizeof err),
	                 -EBADMSG);
	ck_assert_int_eq(scram_server_begin(&ss, NULL, 0), 0);
	ck_assert_int_eq(scram_server_initial(&ss, u8("SCRAM-SHA-256\0\0\0"), 16, &data, &dl, err,
	                                      sizeof err),
	                 -EBADMSG); /* length cut short */
	ck_assert_int_eq(scram_server_begin(&ss, NULL, 0), 0);
	ck_assert_int_eq(
	        scram_server_initial(&ss, u8("SCRAM-SHA-256"), 13, &data, &dl, err, sizeof err),
	        -EBADMSG); /* no NUL */
	ck_assert_int_eq(scram_server_begin(&ss, NULL, 0), 0);
	ck_assert_int_eq(scram_server_initial(&ss, NULL, 0, &data, &dl, err, sizeof err), -EBADMSG);
}
END_TEST

/* ------------------------------------------------------------ channel binding */

START_TEST(test_channel_binding)
{
	static const char plus_first[] = "p=tls-server-end-point,,n=,r="
	                                 "rOprNGfwEbeRWgbNEkqO";
	uint8_t cbind[64], list[64], ck[32];
	char cb64[128], final[512], out[128], err[256], msg[256];
	const uint8_t *data;
	struct keys k;
	scram_server ss;
	size_t len, dl;

	rfc_keys(&k);
	/* TLS: -PLUS offered first */
	ck_assert_int_eq(scram_server_begin(&ss, cb_hash, sizeof cb_hash), 0);
	ck_assert_int_eq(scram_server_mechanisms(&ss, list, sizeof list, &len), 0);
	ck_assert_uint_eq(len, 34);
	ck_assert_mem_eq(list, "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0", 34);

	/* "y" although the server offered -PLUS: a downgrade */
	len = initial(msg, "SCRAM-SHA-256", 9, "y,,n=,r=x");
	ck_assert_int_eq(scram_server_initial(&ss, u8(msg), len, &data, &dl, err, sizeof err), 0);
	ck_assert_int_eq(scram_server_client_first(&ss, data, dl, err, sizeof err), -EBADMSG);
	ck_assert(strstr(err, "SCRAM channel binding negotiation error") != NULL);
	/* -PLUS chosen, but "n" */
	ck_assert_int_eq(scram_server_begin(&ss, cb_hash, sizeof cb_hash), 0);
	len = initial(msg, "SCRAM-SHA-256-PLUS", 9, "n,,n=,r=x");
	ck_assert_int_eq(scram_server_initial(&ss, u8(msg), len, &data, &dl, err, sizeof err), 0);
	ck_assert_int_eq(scram_server_client_first(&ss, data, dl, err, sizeof err), -EBADMSG);
	ck_assert(strstr(err, "does not include channel binding data") != NULL);
	/* -PLUS with another binding type */
	ck_assert_int_eq(scram_server_begin(&ss, cb_hash, sizeof cb_hash), 0);
	len = initial(msg, "SCRAM-SHA-256-PLUS", 21, "p=tls-unique\x1b,,n=,r=x");
	ck_assert_int_eq(scram_server_initial(&ss, u8(msg), len, &data, &dl, err, sizeof err), 0);
	ck_assert_int_eq(scram_server_client_first(&ss, data, dl, err, sizeof err), -EBADMSG);
	ck_assert_str_eq(err, "unsupported SCRAM channel-binding type \"tls-unique?\"");
	/* -PLUS with "p" but no "=" (the attribute parser must refuse it) */
	ck_assert_int_eq(scram_server_begin(&ss, cb_hash, sizeof cb_hash), 0);
	len = initial(msg, "SCRAM-SHA-256-PLUS", 9, "px,,n=,r=");
	ck_assert_int_eq(scram_server_initial(&ss, u8(msg), len, &data, &dl, err, sizeof err), 0);
	ck_assert_int_eq(scram_server_client_first(&ss, data, dl, err, sizeof err), -EBADMSG);
	ck_assert_msg(strstr(err, "Expected attribute \"p\"") != NULL, "%s", err);
	/* plain SCRAM-SHA-256 with "n" is fine over TLS */
	ck_assert_int_eq(scram_server_begin(&ss, cb_hash, sizeof cb_hash), 0);
	ck_assert_int_eq(scram_server_client_first(&ss, u8("n,,n=,r=x"), 9, err, sizeof err), 0);

	/* a full -PLUS exchange: c= carries the gs2 header and the hash */
	memcpy(cbind, "p=tls-server-end-point,,", 24);
	memcpy(cbind + 24, cb_hash, sizeof cb_hash);
	b64(cbind, 24 + sizeof cb_hash, cb64);
	ck_assert_int_eq(scram_server_begin(&ss, cb_hash, sizeof cb_hash), 0);
	len = initial(msg, "SCRAM-SHA-256-PLUS", (int32_t)strlen(plus_first), plus_first);
	ck_assert_int_eq(scram_server_initial(&ss, u8(msg), len, &data, &dl, err, sizeof err), 0);
	ck_assert_int_eq(scram_server_client_first(&ss, data, dl, err, sizeof err), 0);
	ck_assert_int_eq(scram_server_server_first_with_nonce(&ss, k.salt, 16, 4096, RFC_OUR_NONCE,
	                                                      msg, sizeof msg, &len, err,
	                                                      sizeof err),
	                 0);
	msg[len] = '\0';
	make_final("n=,r=rOprNGfwEbeRWgbNEkqO", msg, cb64, RFC_NONCE, k.client_key, final,
	           sizeof final);
	ck_assert_int_eq(scram_server_client_final(&ss, u8(final), strlen(final), err, sizeof err),
	                 0);
	ck_assert_int_eq(scram_server_verify(&ss, k.stored_key, k.server_key, ck, out, sizeof out,
	                                     &len, err, sizeof err),
	                 0);
	ck_assert_mem_eq(ck, k.client_key, 32);

	/* the same with another certificate hash, or with c=biws: refused */
	for (int round = 0; round < 2; round++) {
		char bad64[128];

		cbind[24] ^= 1;
		b64(cbind, 24 + sizeof cb_hash, bad64);
		cbind[24] ^= 1;
		ck_assert_int_eq(scram_server_begin(&ss, cb_hash, sizeof cb_hash), 0);
		len = initial(msg, "SCRAM-SHA-256-PLUS", (int32_t)strlen(plus_first), plus_first);
		ck_assert_int_eq(
		        scram_server_initial(&ss, u8(msg), len, &data, &dl, err, sizeof err), 0);
		ck_assert_int_eq(scram_server_client_first(&ss, data, dl, err, sizeof err), 0);
		ck_assert_int_eq(scram_server_server_first_with_nonce(
		                         &ss, k.salt, 16, 4096, RFC_OUR_NONCE, msg, sizeof msg,
		                         &len, err, sizeof err),
		                 0);
		msg[len] = '\0';
		make_final("n=,r=rOprNGfwEbeRWgbNEkqO", msg, round == 0 ? bad64 : "biws", RFC_NONCE,
		           k.client_key, final, sizeof final);
		ck_assert_int_eq(
		        scram_server_client_final(&ss, u8(final), strlen(final), err, sizeof err),
		        -EBADMSG);
		ck_assert_str_eq(err, "SCRAM channel binding check failed");
	}

	/* "y" without TLS is accepted, and c= must then be "eSws" */
	ck_assert_int_eq(scram_server_begin(&ss, NULL, 0), 0);
	ck_assert_int_eq(scram_server_client_first(&ss, u8("y,,n=,r=rOprNGfwEbeRWgbNEkqO"), 28, err,
	                                           sizeof err),
	                 0);
	ck_assert_int_eq(scram_server_server_first_with_nonce(&ss, k.salt, 16, 4096, RFC_OUR_NONCE,
	                                                      msg, sizeof msg, &len, err,
	                                                      sizeof err),
	                 0);
	msg[len] = '\0';
	make_final("n=,r=rOprNGfwEbeRWgbNEkqO", msg, "eSws", RFC_NONCE, k.client_key, final,
	           sizeof final);
	ck_assert_int_eq(scram_server_client_final(&ss, u8(final), strlen(final), err, sizeof err),
	                 0);
	ck_assert_int_eq(scram_server_verify(&ss, k.stored_key, k.server_key, NULL, out, sizeof out,
	                                     &len, err, sizeof err),
	                 0);
	/* begin() refuses bad binding data */
	ck_assert_int_eq(scram_server_begin(&ss, cb_hash, 0), -EINVAL);
	ck_assert_int_eq(scram_server_begin(&ss, cb_hash, SCRAM_SERVER_MAX_CB_DATA + 1), -EINVAL);
}
END_TEST

/* ------------------------------------------------------------ mock exchange */

START_TEST(test_mock_exchange)
{
	static const uint8_t key[32] = {1, 2, 3};
	uint8_t salt[16], salt2[16], expect[32], stored[32], server[32];
	char c1[SCRAM_CLIENT_MSG_MAX], s1[SCRAM_SERVER_FIRST_MAX], c2[SCRAM_CLIENT_MSG_MAX];
	char out[128], err[256], salt64[32];
	size_t c1_len, s1_len, c2_len, len, salt_len;
	unsigned int hl = 0;
	scram_client sc;
	scram_server ss;
	EVP_MD_CTX *ctx;

	/* salt = first 16 bytes of SHA256(key || user) */
	ck_assert_int_eq(scram_server_mock_salt(key, sizeof key, "ghost", salt), 0);
	ctx = EVP_MD_CTX_new();
	ck_assert(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	          EVP_DigestUpdate(ctx, key, sizeof key) && EVP_DigestUpdate(ctx, "ghost", 5) &&
	          EVP_DigestFinal_ex(ctx, expect, &hl));
	EVP_MD_CTX_free(ctx);
	ck_assert_mem_eq(salt, expect, 16);
	ck_assert_int_eq(scram_server_mock_salt(key, sizeof key, "ghost2", salt2), 0);
	ck_assert(memcmp(salt, salt2, 16) != 0);
	ck_assert_int_eq(scram_server_plain_salt(key, sizeof key, "ghost", salt2), 0);
	hmac(key, "ghost", 5, expect);
	ck_assert_mem_eq(salt2, expect, 16);

	/* a client cannot tell: well-formed server-first, then a failed proof */
	memset(stored, 0x5a, sizeof stored);
	memset(server, 0xa5, sizeof server);
	ck_assert_int_eq(scram_client_start(&sc, "", c1, sizeof c1, &c1_len, err, sizeof err), 0);
	ck_assert_int_eq(scram_server_begin(&ss, NULL, 0), 0);
	ck_assert_int_eq(scram_server_client_first(&ss, u8(c1), c1_len, err, sizeof err), 0);
	ck_assert_int_eq(scram_server_server_first(&ss, salt, 16, 4096, s1, sizeof s1, &s1_len, err,
	                                           sizeof err),
	                 0);
	b64(salt, 16, salt64);
	s1[s1_len] = '\0';
	ck_assert(strstr(s1, salt64) != NULL);
	ck_assert(strstr(s1, ",i=4096") != NULL);
	ck_assert_int_eq(scram_client_server_first(&sc, u8(s1), s1_len, err, sizeof err), 0);
	ck_assert_int_eq(scram_client_iterations(&sc), 4096);
	ck_assert_mem_eq(scram_client_salt(&sc, &salt_len), salt, 16);
	ck_assert_int_eq(scram_client_final_password(&sc, u8("guess"), 5, c2, sizeof c2, &c2_len,
	                                             err, sizeof err),
	                 0);
	ck_assert_int_eq(scram_server_client_final(&ss, u8(c2), c2_len, err, sizeof err), 0);
	ck_assert_int_eq(scram_server_verify(&ss, stored, server, NULL, out, sizeof out, &len, err,
	                                     sizeof err),
	                 -EACCES);
	ck_assert_int_eq(ss.state, SCRAM_SERVER_FAILED);
	scram_client_clear(&sc);
}
END_TEST

/* ------------------------------------------------------------ SASLprep */

static const struct {
	const char *in;
	size_t len; /* 0: strlen */
	enum saslprep_result rc;
	const char *out;
} sasl_cases[] = {
        {"pencil", 0, SASLPREP_OK, "pencil"},
        {"p,a=s$s w0rd", 0, SASLPREP_OK, "p,a=s$s w0rd"},
        {"", 0, SASLPREP_OK, ""},
        {"I\xC2\xADX", 0, SASLPREP_OK, "IX"}, /* soft hyphen removed */
        {"a\xC2\xA0"
         "b",
         0, SASLPREP_OK, "a b"}, /* NBSP -> space */
        {"a\xE2\x80\x83"
         "b",
         0, SASLPREP_OK, "a b"},                   /* EM SPACE -> space */
        {"\xE2\x85\xA8", 0, SASLPREP_OK, "IX"},    /* U+2168 NFKC */
        {"\xEF\xAC\x81", 0, SASLPREP_OK, "fi"},    /* U+FB01 NFKC */
        {"\xC3\xA9", 0, SASLPREP_OK, "\xC3\xA9"},  /* precomposed stays */
        {"e\xCC\x81", 0, SASLPREP_OK, "\xC3\xA9"}, /* NFKC composes */
        {"\xC3\xA9\x01", 0, SASLPREP_RAW, NULL},   /* control char */
        {"\x01"
         "abc",
         0, SASLPREP_RAW, NULL},              /* ASCII control char */
        {"abc\x7f", 0, SASLPREP_RAW, NULL},   /* DEL */
        {"\xC2\xAD", 0, SASLPREP_RAW, NULL},  /* maps to nothing */
        {"\xC8\xA1x", 0, SASLPREP_RAW, NULL}, /* unassigned in 3.2 */
        {"\xD7\x90"
         "a",
         0, SASLPREP_RAW, NULL},         /* bidi: RandAL + L */
        {"\xC3", 0, SASLPREP_RAW, NULL}, /* truncated */
        {"\x80"
         "abc",
         0, SASLPREP_RAW, NULL},                     /* lone continuation */
        {"\xC0\xAF", 0, SASLPREP_RAW, NULL},         /* overlong */
        {"\xE0\x80\xAF", 0, SASLPREP_RAW, NULL},     /* overlong */
        {"\xED\xA0\x80", 0, SASLPREP_RAW, NULL},     /* surrogate */
        {"\xF4\x90\x80\x80", 0, SASLPREP_RAW, NULL}, /* > U+10FFFF */
        {"\xFF", 0, SASLPREP_RAW, NULL},
        {"ab\0cd", 5, SASLPREP_RAW, NULL}, /* NUL byte */
};

START_TEST(test_saslprep)
{
	size_t len = sasl_cases[_i].len ? sasl_cases[_i].len : strlen(sasl_cases[_i].in);
	char *out = (char *)1;
	size_t out_len = 99;
	enum saslprep_result rc = saslprep(u8(sasl_cases[_i].in), len, &out, &out_len);

	ck_assert_msg(rc == sasl_cases[_i].rc, "case %d: rc %d", _i, rc);
	if (rc == SASLPREP_OK) {
		ck_assert_uint_eq(out_len, strlen(sasl_cases[_i].out));
		ck_assert_str_eq(out, sasl_cases[_i].out);
		saslprep_free(out, out_len);
	} else {
		ck_assert_ptr_null(out);
		ck_assert_uint_eq(out_len, 0);
	}
}
END_TEST

START_TEST(test_saslprep_long)
{
	uint8_t big[SASLPREP_MAX_INPUT + 1];
	char *out = NULL;
	size_t out_len = 0;

	memset(big, 'a', sizeof big);
	ck_assert_int_eq(saslprep(big, SASLPREP_MAX_INPUT, &out, &out_len), SASLPREP_OK);
	ck_assert_uint_eq(out_len, SASLPREP_MAX_INPUT);
	saslprep_free(out, out_len);
	ck_assert_int_eq(saslprep(big, sizeof big, &out, &out_len), SASLPREP_RAW);
	saslprep_free(NULL, 0);
}
END_TEST

/* ------------------------------------------------------------ verifier parsing */

#define K32           "AQrgDDsw640mvRXaGXikBoqn2biybAaZb60yoFwcNNc="
#define K33           "AQrgDDsw640mvRXaGXikBoqn2biybAaZb60yoFwcNNcA" /* 33 bytes */
#define GOOD_VERIFIER "SCRAM-SHA-256$4096:3JVE9DESi+zWAEb3ok4aZQ==$" K32 ":" K32

static const struct {
	const char *text;
	const char *reason;
} bad_verifiers[] = {
        {"", "not a SCRAM-SHA-256 verifier"},
        {"md5abcdef", "not a SCRAM-SHA-256 verifier"},
        {"SCRAM-SHA-1$4096:c2FsdA==$" K32 ":" K32, "not a SCRAM-SHA-256 verifier"},
        {"SCRAM-SHA-256$0:c2FsdA==$" K32 ":" K32, "not in 1..100000000"},
        {"SCRAM-SHA-256$100000001:c2FsdA==$" K32 ":" K32, "not in 1..100000000"},
        {"SCRAM-SHA-256$99999999999:c2FsdA==$" K32 ":" K32, "missing or malformed"},
        {"SCRAM-SHA-256$04096:c2FsdA==$" K32 ":" K32, "missing or malformed"},
        {"SCRAM-SHA-256$:c2FsdA==$" K32 ":" K32, "missing or malformed"},
        {"SCRAM-SHA-256$-1:c2FsdA==$" K32 ":" K32, "not a number"},
        {"SCRAM-SHA-256$4x96:c2FsdA==$" K32 ":" K32, "not a number"},
        {"SCRAM-SHA-256$4096$c2FsdA==$" K32 ":" K32, "missing or malformed"},
        {"SCRAM-SHA-256$4096:c2Fsd!==$" K32 ":" K32, "salt is not valid base64"},
        {"SCRAM-SHA-256$4096:c2FsdA=$" K32 ":" K32, "salt is not valid base64"},
        {"SCRAM-SHA-256$4096:$" K32 ":" K32, "salt missing"},
        {"SCRAM-SHA-256$4096:c2FsdA==", "salt missing"},
        {"SCRAM-SHA-256$4096:c2FsdA==$" K32, "StoredKey:ServerKey missing"},
        {"SCRAM-SHA-256$4096:c2FsdA==$AQrg:" K32, "StoredKey is not 32 bytes"},
        {"SCRAM-SHA-256$4096:c2FsdA==$" K33 ":" K32, "StoredKey is not 32 bytes"},
        {"SCRAM-SHA-256$4096:c2FsdA==$" K32 ":" K33, "ServerKey is not 32 bytes"},
        {"SCRAM-SHA-256$4096:c2FsdA==$" K32 ":" K32 "AA==", "ServerKey is not valid base64"},
        {"SCRAM-SHA-256$4096:c2FsdA==$" K32 ":", "ServerKey is not 32 bytes"},
        {"SCRAM-SHA-256$4096:c2FsdA==$" K32 ":AQrgDDsw640mvRXaGXikBoqn2biybAaZb60yoFwcNN=",
         "ServerKey is not valid base64"},
        {"SCRAM-SHA-256$4096:c2FsdA==$" K32 ":" K32 ":x", "ServerKey is not valid base64"},
        {"SCRAM-SHA-256$4096:c2FsdA==$" K32 "$" K32, "StoredKey:ServerKey missing"},
};

START_TEST(test_verifier_parse_refusals)
{
	struct scram_verifier v;
	char err[128];

	err[0] = '\0';
	ck_assert_int_eq(scram_verifier_parse(u8(bad_verifiers[_i].text),
	                                      strlen(bad_verifiers[_i].text), &v, err, sizeof err),
	                 -EINVAL);
	ck_assert_msg(strstr(err, bad_verifiers[_i].reason) != NULL, "case %d: \"%s\"", _i, err);
	ck_assert_uint_eq(v.iterations, 0);
	ck_assert_uint_eq(v.salt_len, 0);
}
END_TEST

START_TEST(test_verifier_limits)
{
	char text[1024], err[128], out[SCRAM_VERIFIER_MAX_TEXT + 1];
	uint8_t salt[SCRAM_VERIFIER_MAX_SALT + 1];
	char salt64[128];
	struct scram_verifier v;
	int n;

	ck_assert(scram_verifier_looks_like(u8(GOOD_VERIFIER), strlen(GOOD_VERIFIER)));
	ck_assert(!scram_verifier_looks_like(u8("SCRAM-SHA-256"), 13));
	ck_assert_int_eq(
	        scram_verifier_parse(u8(GOOD_VERIFIER), strlen(GOOD_VERIFIER), &v, err, sizeof err),
	        0);
	ck_assert_int_eq(scram_verifier_format(&v, out, sizeof out), (int)strlen(GOOD_VERIFIER));
	ck_assert_str_eq(out, GOOD_VERIFIER);
	ck_assert_int_eq(scram_verifier_format(&v, out, 20), -ENOSPC);
	/* NUL inside */
	ck_assert_int_eq(scram_verifier_parse(u8(GOOD_VERIFIER), strlen(GOOD_VERIFIER) + 1, &v, err,
	                                      sizeof err),
	                 -EINVAL);
	ck_assert(strstr(err, "NUL byte") != NULL);
	/* the largest salt, then one byte more */
	memset(salt, 0x61, sizeof salt);
	b64(salt, SCRAM_VERIFIER_MAX_SALT, salt64);
	n = snprintf(text, sizeof text, "SCRAM-SHA-256$1:%s$" K32 ":" K32, salt64);
	ck_assert_int_eq(scram_verifier_parse(u8(text), (size_t)n, &v, err, sizeof err), 0);
	ck_assert_uint_eq(v.salt_len, SCRAM_VERIFIER_MAX_SALT);
	ck_assert_uint_eq(v.iterations, 1);
	b64(salt, SCRAM_VERIFIER_MAX_SALT + 1, salt64);
	n = snprintf(text, sizeof text, "SCRAM-SHA-256$1:%s$" K32 ":" K32, salt64);
	ck_assert_int_eq(scram_verifier_parse(u8(text), (size_t)n, &v, err, sizeof err), -EINVAL);
	ck_assert(strstr(err, "salt empty or longer than 64 bytes") != NULL);
	/* past the text limit */
	n = snprintf(text, sizeof text, "%s%0*d", GOOD_VERIFIER,
	             SCRAM_VERIFIER_MAX_TEXT + 1 - (int)strlen(GOOD_VERIFIER), 0);
	ck_assert_int_eq(n, SCRAM_VERIFIER_MAX_TEXT + 1);
	ck_assert_int_eq(scram_verifier_parse(u8(text), (size_t)n, &v, err, sizeof err), -EINVAL);
	ck_assert(strstr(err, "longer than 256 bytes") != NULL);
	/* derive refuses what it cannot do */
	ck_assert_int_eq(scram_verifier_derive(u8("x"), 1, salt, 16, 0, NULL, NULL), -EINVAL);
	ck_assert_int_eq(scram_verifier_derive(NULL, 1, salt, 16, 1, NULL, NULL), -EINVAL);
	ck_assert_int_eq(scram_verifier_from_password(u8("x"), 1, salt, 0, 1, &v), -EINVAL);
	ck_assert_int_eq(scram_verifier_from_password(u8("x"), 1, salt, sizeof salt, 1, &v),
	                 -EINVAL);
	v.salt_len = 0;
	ck_assert(!scram_verifier_check_password(&v, u8("x"), 1));
}
END_TEST

START_TEST(test_verifier_b64)
{
	static const struct {
		const char *raw, *b64;
	} v[] = {{"", ""},
	         {"f", "Zg=="},
	         {"fo", "Zm8="},
	         {"foo", "Zm9v"},
	         {"foob", "Zm9vYg=="},
	         {"fooba", "Zm9vYmE="},
	         {"foobar", "Zm9vYmFy"}}; /* RFC 4648 section 10 */
	char enc[16];
	uint8_t dec[16];

	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		size_t rl = strlen(v[i].raw), bl = strlen(v[i].b64);

		ck_assert_int_eq(scram_verifier_b64_encode(u8(v[i].raw), rl, enc, sizeof enc),
		                 (int)bl);
		ck_assert_str_eq(enc, v[i].b64);
		ck_assert_int_eq(scram_verifier_b64_decode(v[i].b64, bl, dec, sizeof dec), (int)rl);
		ck_assert_mem_eq(dec, v[i].raw, rl);
	}
	ck_assert_int_eq(scram_verifier_b64_encode(u8("foo"), 3, enc, 4), -ENOSPC);
	ck_assert_int_eq(scram_verifier_b64_decode("Zm9v", 4, dec, 2), -ENOSPC);
	ck_assert_int_eq(scram_verifier_b64_decode("Zm9", 3, dec, sizeof dec), -EBADMSG);
	ck_assert_int_eq(scram_verifier_b64_decode("Zg=a", 4, dec, sizeof dec), -EBADMSG);
	ck_assert_int_eq(scram_verifier_b64_decode("Z===", 4, dec, sizeof dec), -EBADMSG);
	ck_assert_int_eq(scram_verifier_b64_decode("Zg==Zg==", 8, dec, sizeof dec), -EBADMSG);
	ck_assert_int_eq(scram_verifier_b64_decode(" Zg=", 4, dec, sizeof dec), -EBADMSG);
	/* non-canonical: bits below the data must be zero */
	ck_assert_int_eq(scram_verifier_b64_decode("Zh==", 4, dec, sizeof dec), -EBADMSG);
	ck_assert_int_eq(scram_verifier_b64_decode("Zm9=", 4, dec, sizeof dec), -EBADMSG);
}
END_TEST

static Suite *scram_server_suite(void)
{
	Suite *s = suite_create("scram_server");
	TCase *tp = tcase_create("protocol");
	TCase *tv = tcase_create("verifier");

	tcase_add_test(tp, test_rfc7677_server);
	tcase_add_test(tp, test_rfc7677_wrong_proof);
	tcase_add_test(tp, test_client_vs_server);
	tcase_add_loop_test(tp, test_client_first_malformed, 0,
	                    (int)(sizeof bad_first / sizeof bad_first[0]));
	tcase_add_test(tp, test_client_first_limits);
	tcase_add_loop_test(tp, test_client_final_malformed, 0,
	                    (int)(sizeof bad_final / sizeof bad_final[0]));
	tcase_add_test(tp, test_client_final_limits);
	tcase_add_test(tp, test_initial_response);
	tcase_add_test(tp, test_channel_binding);
	tcase_add_test(tp, test_mock_exchange);
	suite_add_tcase(s, tp);

	tcase_add_test(tv, test_pg15_verifiers);
	tcase_add_loop_test(tv, test_saslprep, 0, (int)(sizeof sasl_cases / sizeof sasl_cases[0]));
	tcase_add_test(tv, test_saslprep_long);
	tcase_add_loop_test(tv, test_verifier_parse_refusals, 0,
	                    (int)(sizeof bad_verifiers / sizeof bad_verifiers[0]));
	tcase_add_test(tv, test_verifier_limits);
	tcase_add_test(tv, test_verifier_b64);
	suite_add_tcase(s, tv);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(scram_server_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
