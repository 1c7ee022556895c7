/*
 * aq_cache.h — the authquery module's cache: user name -> the secret the
 * auth query returned (with its kind and when it was learned), or "absent"
 * (the query said there is no such user).
 *
 * Bounded: at most `capacity` entries; adding one to a full cache evicts
 * the least recently used entry (a lookup or a store counts as a use).
 * Ages are measured on a monotonic clock (CLOCK_MONOTONIC by default; the
 * unit tests hand in a fake one).  Every secret and user name is wiped
 * before its memory is freed.  Thread-safe: one mutex guards the table.
 * User names are hashed with a keyed hash (SipHash with a random key), so
 * names chosen by clients cannot pile up in one bucket.
 *
 * Pure code (no pgs_host): the module glue and the unit tests link it.
 */
#ifndef PGS_AQ_CACHE_H
#define PGS_AQ_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AQ_CACHE_MAX_USER     128     /* longest user name kept, in bytes */
#define AQ_CACHE_MAX_SECRET   1024    /* longest secret kept, in bytes */
#define AQ_CACHE_MAX_CAPACITY 1000000 /* largest capacity accepted */
#define AQ_CACHE_ANY_AGE      UINT64_MAX

/* A clock in milliseconds that never goes backwards. */
typedef uint64_t (*aq_clock_fn)(void);

/* How a cache is built. */
struct aq_cache_opts {
	size_t capacity;   /* 1 .. AQ_CACHE_MAX_CAPACITY entries */
	aq_clock_fn clock; /* NULL: aq_cache_clock_ms */
	/* Frees an entry's memory, which the cache has already wiped (len
	 * bytes); NULL: free().  The unit tests check the wiping with it. */
	void (*release)(void *p, size_t len);
};

/* What aq_cache_get() found. */
enum aq_cache_state {
	AQ_CACHE_MISS = 0, /* nothing, or an entry older than allowed */
	AQ_CACHE_FOUND,    /* a secret, copied out */
	AQ_CACHE_ABSENT,   /* a remembered "no such user" */
};

struct aq_cache;

/* CLOCK_MONOTONIC in milliseconds (the default clock). */
uint64_t aq_cache_clock_ms(void);

/*
 * A cache as opts says.  0 and *out set, -EINVAL (capacity out of range)
 * or -ENOMEM.  Free with aq_cache_free().
 */
int aq_cache_new(const struct aq_cache_opts *opts, struct aq_cache **out)
        __attribute__((warn_unused_result));

/* Wipe and free every entry, then the cache; NULL is accepted. */
void aq_cache_free(struct aq_cache *c);

/*
 * Look up user.  A secret younger than found_max_age_ms (a "no such user"
 * younger than absent_max_age_ms) is a hit: AQ_CACHE_ANY_AGE accepts any
 * age, 0 accepts none.  On AQ_CACHE_FOUND the secret is copied into
 * secret (NUL-terminated; secret_size must be above AQ_CACHE_MAX_SECRET),
 * its length into *secret_len and its kind (static string) into *kind; the
 * caller wipes secret after use.  A hit marks the entry recently used.
 */
enum aq_cache_state aq_cache_get(struct aq_cache *c, const char *user, uint64_t found_max_age_ms,
                                 uint64_t absent_max_age_ms, char *secret, size_t secret_size,
                                 size_t *secret_len, const char **kind);

/*
 * Remember user's secret (len bytes, at most AQ_CACHE_MAX_SECRET; kind a
 * static string such as "scram-sha-256"), or with kind == NULL that there
 * is no such user (secret is then ignored).  Replaces any entry of user,
 * stamps it with the current time.  0, -EINVAL (name or secret too long,
 * empty name) or -ENOMEM.
 */
int aq_cache_put(struct aq_cache *c, const char *user, const void *secret, size_t len,
                 const char *kind) __attribute__((warn_unused_result));

/* Forget user (wiping its entry).  True when there was an entry. */
bool aq_cache_remove(struct aq_cache *c, const char *user);

/* Number of entries (secrets and "absent" ones). */
size_t aq_cache_count(struct aq_cache *c);

#endif /* PGS_AQ_CACHE_H */
