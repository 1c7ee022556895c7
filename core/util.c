/*
 * util.c — small helpers shared by the core.
 */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "util.h"

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int bytebuf_append(struct bytebuf *b, const void *p, size_t n)
{
	if (b->off > 0 && b->len == 0)
		b->off = 0;
	if (b->off + b->len + n > b->cap) {
		size_t need = b->len + n, cap = b->cap ? b->cap : 256;
		uint8_t *nd;

		if (b->off > 0 && need <= b->cap) {
			memmove(b->data, b->data + b->off, b->len);
			b->off = 0;
		} else {
			while (cap < need)
				cap *= 2;
			nd = malloc(cap);
			if (nd == NULL)
				return -ENOMEM;
			if (b->len)
				memcpy(nd, b->data + b->off, b->len);
			free(b->data);
			b->data = nd;
			b->cap = cap;
			b->off = 0;
		}
	}
	memcpy(b->data + b->off + b->len, p, n);
	b->len += n;
	return 0;
}

void bytebuf_consume(struct bytebuf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		b->off = 0;
	} else {
		b->off += n;
		b->len -= n;
	}
}

void bytebuf_free(struct bytebuf *b, bool wipe)
{
	if (b->data && wipe)
		OPENSSL_cleanse(b->data, b->cap);
	free(b->data);
	memset(b, 0, sizeof *b);
}

void random_bytes(void *out, size_t n)
{
	/* OpenSSL's DRBG: a CSPRNG seeded by the OS, without a system call
	 * per request (one cancel key per client login). */
	if (n > INT_MAX || RAND_bytes(out, (int)n) != 1) {
		fprintf(stderr, "pgsluice: the random generator failed\n");
		abort();
	}
}

char *xstrdup(const char *s)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL) {
		fprintf(stderr, "pgsluice: out of memory\n");
		abort();
	}
	return d;
}
