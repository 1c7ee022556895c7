/*
 * worker.h — a worker thread: one epoll reactor with its own listeners,
 * clients and servers, a periodic sweep (timeouts, pool minimums) instead
 * of per-connection timers, and an inbox through which other threads hand
 * it servers, cancel requests and finished deferred work.
 */
#ifndef PGS_WORKER_H
#define PGS_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "util.h"

struct listener;

enum inbox_type {
	INBOX_SERVER = 1,   /* a server handed over by another worker */
	INBOX_WANT_SERVER,  /* a pool has waiters elsewhere: give idle servers */
	INBOX_CANCEL,       /* forward a cancel for one of our clients */
	INBOX_DEFER_DONE,   /* a deferred auth job finished */
	INBOX_WAKE,         /* just look at the stop/drain flags */
	INBOX_COLLECT,      /* add our connections' rows to a console listing */
	INBOX_COLLECT_DONE, /* a console listing of ours is complete */
	INBOX_KILL,         /* close the clients and servers of database `name` */
};

struct inbox_msg {
	struct list link;
	enum inbox_type type;
	struct server *server;
	struct pool *pool;
	uint32_t cancel_pid, cancel_key;
	uint64_t conn_id;
	void *job;  /* INBOX_COLLECT(_DONE): the listing (console_list.c) */
	char *name; /* INBOX_KILL: the database (malloc'ed, freed with the message) */
};

struct worker {
	int index;
	pthread_t thread;
	int epfd;
	enum ev_kind inbox_kind; /* EV_INBOX: epoll data for inbox_fd */
	int inbox_fd;            /* eventfd */
	pthread_mutex_t inbox_lock;
	struct list inbox;
	enum ev_kind timer_kind; /* EV_TIMER: epoll data for timer_fd */
	int timer_fd;
	struct listener **listeners;
	int nlisteners;
	struct list clients;       /* every live client of this worker */
	struct list servers;       /* every live server of this worker */
	struct list dead;          /* closed, freed at the end of the loop turn */
	struct list zombies;       /* closed clients whose deferred job still runs */
	struct list sv_zombies;    /* closed servers whose deferred job still runs */
	struct list ready;         /* transport conns with decrypted input epoll cannot see */
	struct list console_waits; /* console sessions waiting for a PAUSE to finish */
	struct iobuf *free_bufs;
	int nfree_bufs;
	int nclients;
	bool draining;
	int64_t now; /* cached at each loop turn */
};

/* Create worker `index` (epoll, eventfd, timer); listeners are added with
 * worker_add_listener before worker_start. */
struct worker *worker_create(int index, char *err, size_t errlen);
int worker_start(struct worker *w) __attribute__((warn_unused_result));
/* At exit: join every worker first, then free them (a worker may post to
 * another until it has stopped). */
void worker_join(struct worker *w);
void worker_free(struct worker *w);

/* c (with a transport) has input waiting inside its transport module:
 * handle it as readable at the end of this loop turn. */
void worker_mark_ready(struct worker *w, struct pgs_conn *c);
void worker_unmark_ready(struct pgs_conn *c);

/* Post a message to w's inbox (any thread).  Takes ownership of msg. */
void worker_post(struct worker *w, struct inbox_msg *msg);
/* Wake w (any thread) so it rereads the runtime flags. */
void worker_wake(struct worker *w);

/* Register / change / remove a connection's epoll interest (owner thread). */
int worker_watch(struct worker *w, struct pgs_conn *c, uint32_t events)
        __attribute__((warn_unused_result));
void worker_unwatch(struct worker *w, struct pgs_conn *c);
/* Add a listening socket's fd to this worker's epoll. */
int worker_watch_listener(struct worker *w, struct listener *l) __attribute__((warn_unused_result));

/* Borrow / return a read buffer. */
struct iobuf *worker_buf_get(struct worker *w);
void worker_buf_put(struct worker *w, struct iobuf *b);

#endif /* PGS_WORKER_H */
