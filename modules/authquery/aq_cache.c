/*
 * aq_cache.c — the authquery module's TTL cache (see aq_cache.h).
 *
 * A hash table of chained entries plus one doubly linked list in order of
 * use (newest first) for least-recently-used eviction.  Each entry is one
 * allocation: the header, the user name, then the secret, so wiping an
 * entry is one OPENSSL_cleanse over alloc_len bytes.  Secrets are copied in
 * and out under the mutex; no pointer into the table ever leaves it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "aq_cache.h"

#define AQ_HASH_KEY_LEN 16 /* SipHash key */
#define AQ_HASH_OUT_LEN 16 /* SipHash-128 output, folded to 64 bits */

struct aq_entry {
	struct aq_entry *chain;         /* next entry in the same bucket */
	struct aq_entry *newer, *older; /* use order */
	uint64_t hash;
	uint64_t stored_ms; /* when the answer was learned */
	const char *kind;   /* static; NULL: "no such user" */
	size_t alloc_len;   /* bytes allocated, header included */
	size_t user_len;
	size_t secret_len;
	char *secret; /* inside the allocation, after user */
	char user[];  /* NUL-terminated, then the secret, NUL-terminated */
};

struct aq_cache {
	pthread_mutex_t lock;
	struct aq_entry **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;
	size_t capacity;
	struct aq_entry *newest, *oldest;
	aq_clock_fn clock;
	void (*release)(void *p, size_t len);
	EVP_MAC_CTX *hash_key; /* SipHash keyed with a random key; duplicated per use */
};

uint64_t aq_cache_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void release_default(void *p, size_t len)
{
	(void)len;
	free(p);
}

int aq_cache_new(const struct aq_cache_opts *opts, struct aq_cache **out)
{
	uint8_t key[AQ_HASH_KEY_LEN];
	struct aq_cache *c;
	EVP_MAC *mac;
	int ok;

	if (opts == NULL || opts->capacity < 1 || opts->capacity > AQ_CACHE_MAX_CAPACITY)
		return -EINVAL;
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return -ENOMEM;
	c->capacity = opts->capacity;
	c->clock = opts->clock != NULL ? opts->clock : aq_cache_clock_ms;
	c->release = opts->release != NULL ? opts->release : release_default;
	/* About two buckets per entry at capacity: short chains. */
	c->nbuckets = 16;
	while (c->nbuckets < 2 * c->capacity)
		c->nbuckets *= 2;
	c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
	if (c->buckets == NULL) {
		free(c);
		return -ENOMEM;
	}
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c->buckets);
		free(c);
		return -ENOMEM;
	}
	mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
	c->hash_key = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
	EVP_MAC_free(mac); /* the context keeps its own reference */
	ok = c->hash_key != NULL && RAND_bytes(key, sizeof key) == 1 &&
	     EVP_MAC_init(c->hash_key, key, sizeof key, NULL) == 1;
	OPENSSL_cleanse(key, sizeof key);
	if (!ok) {
		aq_cache_free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

/* Wipe an entry and give its memory back. */
static void entry_drop(struct aq_cache *c, struct aq_entry *e)
{
	size_t len = e->alloc_len;

	OPENSSL_cleanse(e, len);
	c->release(e, len);
}

void aq_cache_free(struct aq_cache *c)
{
	struct aq_entry *e, *next;

	if (c == NULL)
		return;
	for (e = c->newest; e != NULL; e = next) {
		next = e->older;
		entry_drop(c, e);
	}
	EVP_MAC_CTX_free(c->hash_key);
	free(c->buckets);
	pthread_mutex_destroy(&c->lock);
	OPENSSL_cleanse(c, sizeof *c);
	free(c);
}

/* The keyed hash of a name: true on success.  Called with the lock held
 * (the keyed template context is shared). */
static bool name_hash(struct aq_cache *c, const char *user, size_t len, uint64_t *hash)
{
	uint8_t out[AQ_HASH_OUT_LEN];
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(c->hash_key);
	size_t out_len = 0;
	bool ok;

	if (ctx == NULL)
		return false;
	ok = EVP_MAC_update(ctx, (const unsigned char *)user, len) == 1 &&
	     EVP_MAC_final(ctx, out, &out_len, sizeof out) == 1 && out_len >= 8;
	EVP_MAC_CTX_free(ctx);
	if (!ok)
		return false;
	*hash = 0;
	for (size_t i = 0; i < out_len; i++)
		*hash = (*hash << 8 | *hash >> 56) ^ out[i];
	return true;
}

static struct aq_entry *find(const struct aq_cache *c, const char *user, size_t len, uint64_t hash)
{
	struct aq_entry *e = c->buckets[hash & (c->nbuckets - 1)];

	for (; e != NULL; e = e->chain)
		if (e->hash == hash && e->user_len == len && memcmp(e->user, user, len) == 0)
			return e;
	return NULL;
}

static void list_unlink(struct aq_cache *c, struct aq_entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void list_push_newest(struct aq_cache *c, struct aq_entry *e)
{
	e->newer = NULL;
	e->older = c->newest;
	if (c->newest != NULL)
		c->newest->newer = e;
	c->newest = e;
	if (c->oldest == NULL)
		c->oldest = e;
}

/* Take e out of the table and the list (the caller drops it). */
static void unlink_entry(struct aq_cache *c, struct aq_entry *e)
{
	struct aq_entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->chain;
	*pp = e->chain;
	e->chain = NULL;
	list_unlink(c, e);
	c->count--;
}

enum aq_cache_state aq_cache_get(struct aq_cache *c, const char *user, uint64_t found_max_age_ms,
                                 uint64_t absent_max_age_ms, char *secret, size_t secret_size,
                                 size_t *secret_len, const char **kind)
{
	enum aq_cache_state state = AQ_CACHE_MISS;
	size_t len = strnlen(user, AQ_CACHE_MAX_USER + 1);
	struct aq_entry *e;
	uint64_t hash, now, age;

	if (len == 0 || len > AQ_CACHE_MAX_USER)
		return AQ_CACHE_MISS;
	pthread_mutex_lock(&c->lock);
	if (!name_hash(c, user, len, &hash) || (e = find(c, user, len, hash)) == NULL)
		goto out;
	now = c->clock();
	age = now > e->stored_ms ? now - e->stored_ms : 0;
	if (e->kind != NULL) {
		if (age >= found_max_age_ms || e->secret_len >= secret_size)
			goto out;
		memcpy(secret, e->secret, e->secret_len + 1);
		*secret_len = e->secret_len;
		*kind = e->kind;
		state = AQ_CACHE_FOUND;
	} else {
		if (age >= absent_max_age_ms)
			goto out;
		state = AQ_CACHE_ABSENT;
	}
	list_unlink(c, e);
	list_push_newest(c, e);
out:
	pthread_mutex_unlock(&c->lock);
	return state;
}

int aq_cache_put(struct aq_cache *c, const char *user, const void *secret, size_t len,
                 const char *kind)
{
	size_t user_len = strnlen(user, AQ_CACHE_MAX_USER + 1);
	struct aq_entry *e, *old = NULL, *evicted = NULL;
	size_t alloc_len;
	int rc = 0;

	if (user_len == 0 || user_len > AQ_CACHE_MAX_USER)
		return -EINVAL;
	if (kind == NULL)
		len = 0;
	else if (len > AQ_CACHE_MAX_SECRET)
		return -EINVAL;
	alloc_len = sizeof *e + user_len + 1 + len + 1;
	e = calloc(1, alloc_len);
	if (e == NULL)
		return -ENOMEM;
	e->alloc_len = alloc_len;
	e->kind = kind;
	e->user_len = user_len;
	memcpy(e->user, user, user_len);
	e->secret = e->user + user_len + 1;
	e->secret_len = len;
	if (len > 0)
		memcpy(e->secret, secret, len);

	pthread_mutex_lock(&c->lock);
	if (!name_hash(c, user, user_len, &e->hash)) {
		rc = -ENOMEM;
		goto out;
	}
	old = find(c, user, user_len, e->hash);
	if (old != NULL)
		unlink_entry(c, old);
	else if (c->count >= c->capacity && c->oldest != NULL)
		unlink_entry(c, evicted = c->oldest);
	e->stored_ms = c->clock();
	e->chain = c->buckets[e->hash & (c->nbuckets - 1)];
	c->buckets[e->hash & (c->nbuckets - 1)] = e;
	list_push_newest(c, e);
	c->count++;
	e = NULL;
out:
	pthread_mutex_unlock(&c->lock);
	if (e != NULL)
		entry_drop(c, e);
	if (old != NULL)
		entry_drop(c, old);
	if (evicted != NULL)
		entry_drop(c, evicted);
	return rc;
}

bool aq_cache_remove(struct aq_cache *c, const char *user)
{
	size_t len = strnlen(user, AQ_CACHE_MAX_USER + 1);
	struct aq_entry *e = NULL;
	uint64_t hash;

	if (len == 0 || len > AQ_CACHE_MAX_USER)
		return false;
	pthread_mutex_lock(&c->lock);
	if (name_hash(c, user, len, &hash)) {
		e = find(c, user, len, hash);
		if (e != NULL)
			unlink_entry(c, e);
	}
	pthread_mutex_unlock(&c->lock);
	if (e == NULL)
		return false;
	entry_drop(c, e);
	return true;
}

size_t aq_cache_count(struct aq_cache *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->count;
	pthread_mutex_unlock(&c->lock);
	return n;
}
