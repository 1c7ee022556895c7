/*
 * cancel.c — the cancel key registry and outgoing CancelRequests.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cancel.h"
#include "client.h"
#include "log.h"
#include "proto.h"
#include "runtime.h"
#include "server.h"
#include "worker.h"

#define CANCEL_BUCKETS 4096u

struct cancel_conn {
	enum ev_kind kind; /* EV_CANCEL: must stay first */
	int fd;
	uint8_t pkt[16];
};

int cancel_init(void)
{
	rt->ncancel_buckets = CANCEL_BUCKETS;
	rt->cancel_buckets = calloc(CANCEL_BUCKETS, sizeof *rt->cancel_buckets);
	if (rt->cancel_buckets == NULL)
		return -1;
	for (size_t i = 0; i < CANCEL_BUCKETS; i++)
		list_init(&rt->cancel_buckets[i]);
	pthread_mutex_init(&rt->cancel_lock, NULL);
	return 0;
}

void cancel_fini(void)
{
	free(rt->cancel_buckets);
	rt->cancel_buckets = NULL;
	pthread_mutex_destroy(&rt->cancel_lock);
}

static struct list *bucket(uint32_t pid)
{
	return &rt->cancel_buckets[pid % rt->ncancel_buckets];
}

/* A registered client with this key; the caller holds cancel_lock. */
static struct client *lookup(uint32_t pid, uint32_t key)
{
	struct list *b = bucket(pid), *n;

	for (n = b->next; n != b; n = n->next) {
		struct client *cl = container_of(n, struct client, cancel_link);

		if (cl->cancel_pid == pid && CRYPTO_memcmp(&cl->cancel_key, &key, sizeof key) == 0)
			return cl;
	}
	return NULL;
}

void cancel_register(struct client *cl)
{
	uint32_t r[2];

	pthread_mutex_lock(&rt->cancel_lock);
	do {
		random_bytes(r, sizeof r);
		r[0] &= 0x7fffffff; /* looks like a PID to tools that print it */
	} while (r[0] == 0 || lookup(r[0], r[1]) != NULL);
	cl->cancel_pid = r[0];
	cl->cancel_key = r[1];
	list_add_tail(bucket(cl->cancel_pid), &cl->cancel_link);
	cl->cancel_registered = true;
	pthread_mutex_unlock(&rt->cancel_lock);
}

void cancel_unregister(struct client *cl)
{
	pthread_mutex_lock(&rt->cancel_lock);
	list_del(&cl->cancel_link);
	cl->cancel_registered = false;
	pthread_mutex_unlock(&rt->cancel_lock);
}

void cancel_request(struct worker *w, uint32_t pid, uint32_t key)
{
	struct client *cl;
	int target = -1;

	pthread_mutex_lock(&rt->cancel_lock);
	cl = lookup(pid, key);
	if (cl != NULL)
		target = cl->c.w->index; /* a client never changes worker */
	pthread_mutex_unlock(&rt->cancel_lock);
	if (target < 0) {
		log_info("cancel request for an unknown key ignored");
		return;
	}
	if (target == w->index) {
		cancel_forward(w, pid, key);
	} else {
		struct inbox_msg *m = calloc(1, sizeof *m);

		if (m == NULL)
			return;
		m->type = INBOX_CANCEL;
		m->cancel_pid = pid;
		m->cancel_key = key;
		worker_post(rt->workers[target], m);
	}
}

void cancel_forward(struct worker *w, uint32_t pid, uint32_t key)
{
	struct client *cl = client_find_by_cancel_key(w, pid, key);

	if (cl == NULL || cl->server == NULL)
		return; /* nothing running: PostgreSQL would ignore it too */
	cancel_server(w, cl->server);
}

void cancel_server(struct worker *w, struct server *sv)
{
	const struct server_addr *addr;
	struct cancel_conn *cc;
	struct epoll_event ev;

	if (sv->be_pid == 0)
		return;
	addr = &sv->gen->addrs[sv->pcfg->server_index];
	cc = calloc(1, sizeof *cc);
	if (cc == NULL)
		return;
	cc->kind = EV_CANCEL;
	proto_cancel_request(cc->pkt, sv->be_pid, sv->be_key);
	cc->fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (cc->fd < 0 || (connect(cc->fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 &&
	                   errno != EINPROGRESS)) {
		log_warn("could not forward a cancel request to %s: %s", addr->desc,
		         strerror(errno));
		goto fail;
	}
	ev.events = EPOLLOUT;
	ev.data.ptr = cc;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, cc->fd, &ev) < 0)
		goto fail;
	log_info("forwarding cancel request to backend %u", sv->be_pid);
	return;
fail:
	if (cc->fd >= 0)
		close(cc->fd);
	free(cc);
}

void cancel_on_event(struct worker *w, struct cancel_conn *cc, uint32_t events)
{
	(void)events;
	/* The server reads 16 bytes and closes; one send is all it needs. */
	if (send(cc->fd, cc->pkt, sizeof cc->pkt, MSG_NOSIGNAL) != (ssize_t)sizeof cc->pkt)
		log_warn("could not send a cancel request: %s", strerror(errno));
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, cc->fd, NULL);
	close(cc->fd);
	free(cc);
}
