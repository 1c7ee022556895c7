/*
 * util.h — small helpers shared by the core: monotonic time, growable byte
 * buffers, intrusive doubly linked lists.
 */
#ifndef PGS_UTIL_H
#define PGS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Milliseconds from CLOCK_MONOTONIC. */
int64_t now_ms(void);

/* ---- intrusive list (circular, with a head node) ---- */
struct list {
	struct list *next, *prev;
};

static inline void list_init(struct list *l)
{
	l->next = l->prev = l;
}
static inline bool list_empty(const struct list *l)
{
	return l->next == l;
}
static inline bool list_linked(const struct list *n)
{
	return n->next != NULL && n->next != n;
}

static inline void list_add_tail(struct list *head, struct list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static inline void list_del(struct list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

static inline struct list *list_pop(struct list *head)
{
	struct list *n;

	if (list_empty(head))
		return NULL;
	n = head->next;
	list_del(n);
	return n;
}

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---- growable byte buffer ---- */
struct bytebuf {
	uint8_t *data;
	size_t len; /* bytes in use, from data[off] */
	size_t off; /* bytes already consumed at the front */
	size_t cap;
};

/* Append; returns 0 or -ENOMEM. */
int bytebuf_append(struct bytebuf *b, const void *p, size_t n) __attribute__((warn_unused_result));
/* Consume n bytes from the front. */
void bytebuf_consume(struct bytebuf *b, size_t n);
/* Free the storage (wiping it first when `wipe`). */
void bytebuf_free(struct bytebuf *b, bool wipe);
static inline const uint8_t *bytebuf_head(const struct bytebuf *b)
{
	return b->data + b->off;
}

/* Big-endian helpers. */
static inline uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Random bytes from the OS (getrandom); aborts only if the kernel fails. */
void random_bytes(void *out, size_t n);

/* strdup that never returns NULL for non-NULL input (aborts on OOM at
 * startup paths only); NULL stays NULL. */
char *xstrdup(const char *s);

#endif /* PGS_UTIL_H */
