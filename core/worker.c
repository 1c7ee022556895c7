/*
 * worker.c — the per-thread reactor: epoll loop, inbox, periodic sweep,
 * read-buffer cache and deferred frees.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "auth.h"
#include "cancel.h"
#include "client.h"
#include "console.h"
#include "listen.h"
#include "log.h"
#include "pool.h"
#include "pool_ctl.h"
#include "runtime.h"
#include "server.h"
#include "transport.h"
#include "worker.h"

#define SWEEP_INTERVAL_MS 250
#define MAX_FREE_BUFS     64

struct worker *worker_create(int index, char *err, size_t errlen)
{
	struct worker *w = calloc(1, sizeof *w);
	struct itimerspec its;
	struct epoll_event ev;

	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->index = index;
	w->inbox_kind = EV_INBOX;
	w->timer_kind = EV_TIMER;
	list_init(&w->inbox);
	list_init(&w->console_waits);
	list_init(&w->clients);
	list_init(&w->servers);
	list_init(&w->dead);
	list_init(&w->zombies);
	list_init(&w->sv_zombies);
	list_init(&w->ready);
	pthread_mutex_init(&w->inbox_lock, NULL);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->inbox_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (w->epfd < 0 || w->inbox_fd < 0 || w->timer_fd < 0) {
		snprintf(err, errlen, "worker %d: %s", index, strerror(errno));
		goto fail;
	}
	memset(&its, 0, sizeof its);
	its.it_interval.tv_nsec = SWEEP_INTERVAL_MS * 1000000L;
	its.it_value.tv_nsec = SWEEP_INTERVAL_MS * 1000000L;
	timerfd_settime(w->timer_fd, 0, &its, NULL);
	ev.events = EPOLLIN;
	ev.data.ptr = &w->inbox_kind;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->inbox_fd, &ev) < 0)
		goto fail_errno;
	ev.data.ptr = &w->timer_kind;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->timer_fd, &ev) < 0)
		goto fail_errno;
	w->now = now_ms();
	return w;
fail_errno:
	snprintf(err, errlen, "worker %d: epoll_ctl: %s", index, strerror(errno));
fail:
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->inbox_fd >= 0)
		close(w->inbox_fd);
	if (w->timer_fd >= 0)
		close(w->timer_fd);
	free(w);
	return NULL;
}

int worker_watch(struct worker *w, struct pgs_conn *c, uint32_t events)
{
	struct epoll_event ev;
	int op = c->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;

	if (events == 0) {
		worker_unwatch(w, c);
		return 0;
	}
	ev.events = events;
	ev.data.ptr = c;
	if (epoll_ctl(w->epfd, op, c->fd, &ev) < 0) {
		log_error("epoll_ctl(%s) fd %d: %s", op == EPOLL_CTL_ADD ? "add" : "mod", c->fd,
		          strerror(errno));
		return -1;
	}
	/* A registered fd with no interest keeps a marker bit so that MOD is
	 * used next time. */
	c->events = events;
	return 0;
}

void worker_unwatch(struct worker *w, struct pgs_conn *c)
{
	if (c->events != 0 && c->fd >= 0)
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	c->events = 0;
}

int worker_watch_listener(struct worker *w, struct listener *l)
{
	struct epoll_event ev;

	ev.events = EPOLLIN | (l->shared ? EPOLLEXCLUSIVE : 0);
	ev.data.ptr = l;
	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, l->fd, &ev);
}

struct iobuf *worker_buf_get(struct worker *w)
{
	struct iobuf *b = w->free_bufs;

	if (b != NULL) {
		w->free_bufs = b->next_free;
		w->nfree_bufs--;
	} else {
		b = malloc(sizeof *b);
		if (b == NULL)
			return NULL;
	}
	b->start = b->end = 0;
	b->next_free = NULL;
	return b;
}

void worker_buf_put(struct worker *w, struct iobuf *b)
{
	if (w->nfree_bufs >= MAX_FREE_BUFS) {
		free(b);
		return;
	}
	b->next_free = w->free_bufs;
	w->free_bufs = b;
	w->nfree_bufs++;
}

void worker_post(struct worker *w, struct inbox_msg *msg)
{
	uint64_t one = 1;

	pthread_mutex_lock(&w->inbox_lock);
	list_add_tail(&w->inbox, &msg->link);
	pthread_mutex_unlock(&w->inbox_lock);
	if (write(w->inbox_fd, &one, sizeof one) < 0) {
		/* the counter cannot overflow in practice; the loop drains anyway */
	}
}

void worker_wake(struct worker *w)
{
	uint64_t one = 1;

	if (write(w->inbox_fd, &one, sizeof one) < 0) {
		/* see worker_post */
	}
}

static void drain_inbox(struct worker *w)
{
	struct list batch, *n;
	uint64_t cnt;

	if (read(w->inbox_fd, &cnt, sizeof cnt) < 0) {
		/* EAGAIN: nothing counted; the list is still checked */
	}
	list_init(&batch);
	pthread_mutex_lock(&w->inbox_lock);
	if (!list_empty(&w->inbox)) {
		batch.next = w->inbox.next;
		batch.prev = w->inbox.prev;
		batch.next->prev = &batch;
		batch.prev->next = &batch;
		list_init(&w->inbox);
	}
	pthread_mutex_unlock(&w->inbox_lock);
	while ((n = list_pop(&batch)) != NULL) {
		struct inbox_msg *m = container_of(n, struct inbox_msg, link);

		switch (m->type) {
		case INBOX_SERVER:
			pool_adopt_server(w, m->server);
			break;
		case INBOX_WANT_SERVER:
			pool_handover_idle(m->pool, w);
			break;
		case INBOX_CANCEL:
			cancel_forward(w, m->cancel_pid, m->cancel_key);
			break;
		case INBOX_DEFER_DONE:
			if (!client_defer_done(w, m->conn_id))
				(void)server_defer_done(w, m->conn_id);
			break;
		case INBOX_WAKE:
			break;
		case INBOX_COLLECT:
			console_collect_run(w, m->job);
			break;
		case INBOX_COLLECT_DONE:
			console_collect_done(w, m->job, m->conn_id);
			break;
		case INBOX_KILL:
			pool_ctl_kill_worker(w, m->name);
			break;
		}
		free(m->name);
		free(m);
	}
}

void worker_mark_ready(struct worker *w, struct pgs_conn *c)
{
	if (c->tp == NULL || c->tp->ready_listed)
		return;
	c->tp->ready_listed = true;
	list_add_tail(&w->ready, &c->ready_link);
}

void worker_unmark_ready(struct pgs_conn *c)
{
	if (c->tp == NULL || !c->tp->ready_listed)
		return;
	c->tp->ready_listed = false;
	list_del(&c->ready_link);
}

/* Input decrypted by a transport module, which epoll does not announce:
 * each such connection once per turn, if it still wants input. */
static void run_ready(struct worker *w)
{
	struct list batch;
	struct list *n;

	if (list_empty(&w->ready))
		return;
	/* take the list: handlers may mark connections again */
	batch = w->ready;
	batch.next->prev = &batch;
	batch.prev->next = &batch;
	list_init(&w->ready);
	while ((n = list_pop(&batch)) != NULL) {
		struct pgs_conn *c = container_of(n, struct pgs_conn, ready_link);

		c->tp->ready_listed = false;
		if (c->dead || !(c->events & EPOLLIN))
			continue; /* io_want_read() marks it again when it wants input */
		if (c->kind == EV_CLIENT)
			client_on_event((struct client *)c, EPOLLIN);
		else
			server_on_event((struct server *)c, EPOLLIN);
	}
}

static void free_dead(struct worker *w)
{
	struct list *n;

	while ((n = list_pop(&w->dead)) != NULL) {
		struct pgs_conn *c = container_of(n, struct pgs_conn, wlink);

		if (c->kind == EV_CLIENT)
			client_free((struct client *)c);
		else
			server_free((struct server *)c);
	}
}

static void begin_drain(struct worker *w)
{
	w->draining = true;
	for (int i = 0; i < w->nlisteners; i++)
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->listeners[i]->fd, NULL);
}

static void close_everything(struct worker *w)
{
	struct list *n;

	while (!list_empty(&w->clients)) {
		n = w->clients.next;
		client_close(container_of(n, struct client, c.wlink), "pgsluice is shutting down");
	}
	while (!list_empty(&w->servers)) {
		n = w->servers.next;
		server_close(container_of(n, struct server, c.wlink), "pgsluice is shutting down");
	}
	free_dead(w);
	/* The work pool was stopped before the workers: no job runs now. */
	while ((n = list_pop(&w->zombies)) != NULL) {
		struct client *cl = container_of(n, struct client, c.wlink);

		cl->defer_inflight = false;
		auth_conn_free(cl);
		client_free(cl);
	}
	while (!list_empty(&w->sv_zombies)) {
		struct server *sv = container_of(w->sv_zombies.next, struct server, c.wlink);

		(void)server_defer_done(w, sv->c.id); /* moves it to the dead list */
	}
	free_dead(w);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[256];

	for (;;) {
		int n = epoll_wait(w->epfd, evs, 256, list_empty(&w->ready) ? -1 : 0);

		if (n < 0 && errno != EINTR) {
			log_error("worker %d: epoll_wait: %s", w->index, strerror(errno));
			break;
		}
		w->now = now_ms();
		for (int i = 0; i < n; i++) {
			enum ev_kind *kind = evs[i].data.ptr;

			switch (*kind) {
			case EV_LISTENER:
				if (!w->draining)
					listener_accept(w, evs[i].data.ptr);
				break;
			case EV_CLIENT:
				client_on_event(evs[i].data.ptr, evs[i].events);
				break;
			case EV_SERVER:
				server_on_event(evs[i].data.ptr, evs[i].events);
				break;
			case EV_CANCEL:
				cancel_on_event(w, evs[i].data.ptr, evs[i].events);
				break;
			case EV_INBOX:
				drain_inbox(w);
				break;
			case EV_TIMER: {
				uint64_t ticks;

				if (read(w->timer_fd, &ticks, sizeof ticks) < 0) {
					/* spurious wakeup */
				}
				client_sweep(w);
				pool_sweep_worker(w);
				console_sweep(w);
				break;
			}
			}
		}
		run_ready(w);
		free_dead(w);
		if (atomic_load(&rt->stopping))
			break;
		if (!w->draining && atomic_load(&rt->draining))
			begin_drain(w);
	}
	close_everything(w);
	return NULL;
}

int worker_start(struct worker *w)
{
	return pthread_create(&w->thread, NULL, worker_main, w) == 0 ? 0 : -1;
}

void worker_join(struct worker *w)
{
	pthread_join(w->thread, NULL);
}

void worker_free(struct worker *w)
{
	struct list *n;

	while ((n = list_pop(&w->inbox)) != NULL) {
		struct inbox_msg *m = container_of(n, struct inbox_msg, link);

		if (m->type == INBOX_SERVER && m->server)
			server_free_detached(m->server);
		if (m->type == INBOX_COLLECT || m->type == INBOX_COLLECT_DONE)
			console_collect_abandon(m->job);
		free(m->name);
		free(m);
	}
	while (w->free_bufs) {
		struct iobuf *b = w->free_bufs;

		w->free_bufs = b->next_free;
		free(b);
	}
	for (int i = 0; i < w->nlisteners; i++)
		if (!w->listeners[i]->shared) /* shared ones belong to main */
			listener_close(w->listeners[i], false);
	free(w->listeners);
	close(w->epfd);
	close(w->inbox_fd);
	close(w->timer_fd);
	pthread_mutex_destroy(&w->inbox_lock);
	free(w);
}
