/*
 * io.c — non-blocking socket I/O for connections.
 */
#include "autoconf.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io.h"
#include "transport.h"
#include "worker.h"

/* One send through the transport or the socket: bytes, or -errno. */
static ssize_t out(struct pgs_conn *c, const void *p, size_t len)
{
	ssize_t n;

	if (c->tp != NULL)
		n = transport_write(c, p, len);
	else {
		do
			n = send(c->fd, p, len, MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			n = -errno;
	}
	if (n > 0)
		c->bytes_out += (uint64_t)n;
	return n;
}

/* Decrypted bytes the socket will not announce: read them this turn. */
static void note_pending(struct pgs_conn *c)
{
	if (c->tp != NULL && !c->tp->ready_listed && transport_pending(c) > 0)
		worker_mark_ready(c->w, c);
}

static int set_events(struct pgs_conn *c, uint32_t events)
{
	if (c->events == events)
		return 0;
	return worker_watch(c->w, c, events);
}

int io_want_read(struct pgs_conn *c, int on)
{
	uint32_t ev = on ? (c->events | EPOLLIN) : (c->events & ~(uint32_t)EPOLLIN);

	if (on)
		note_pending(c);
	return set_events(c, ev);
}

int io_send(struct pgs_conn *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t done = 0;

	if (c->dead)
		return -1;
	if (c->wbuf.len == 0) {
		while (done < len) {
			ssize_t n = out(c, p + done, len - done);

			if (n > 0) {
				done += (size_t)n;
				continue;
			}
			if (n == -EAGAIN || n == -EWOULDBLOCK)
				break;
			return -1;
		}
		if (done == len)
			return 1;
	}
	if (bytebuf_append(&c->wbuf, p + done, len - done) < 0)
		return -1;
	if (set_events(c, c->events | EPOLLOUT) < 0)
		return -1;
	return 0;
}

int io_flush(struct pgs_conn *c)
{
	while (c->wbuf.len > 0) {
		ssize_t n = out(c, bytebuf_head(&c->wbuf), c->wbuf.len);

		if (n > 0) {
			bytebuf_consume(&c->wbuf, (size_t)n);
			continue;
		}
		if (n == -EAGAIN || n == -EWOULDBLOCK) {
			if (set_events(c, c->events | EPOLLOUT) < 0)
				return -1;
			return 0;
		}
		return -1;
	}
	/* An idle connection keeps no buffer.  The forwarding path fills this
	 * one only when a send was short, so freeing it costs nothing there;
	 * it is wiped because authentication messages pass through it. */
	if (c->wbuf.data != NULL)
		bytebuf_free(&c->wbuf, true);
	if (set_events(c, c->events & ~(uint32_t)EPOLLOUT) < 0)
		return -1;
	return 1;
}

/* Read what the transport has, up to a full buffer (its records may hold
 * more than one socket read); what stays inside is read next turn. */
static ssize_t read_transport(struct pgs_conn *c, struct iobuf *b)
{
	ssize_t total = 0;

	while (b->end < IOBUF_SIZE) {
		ssize_t n = transport_read(c, b->data + b->end, IOBUF_SIZE - b->end);

		if (n > 0) {
			b->end += (uint32_t)n;
			c->bytes_in += (uint64_t)n;
			total += n;
			continue;
		}
		if (n == -EAGAIN)
			break;
		if (total > 0)
			break; /* hand over what came; the error shows on the next read */
		return n;
	}
	note_pending(c);
	return total > 0 ? total : -EAGAIN;
}

ssize_t io_read(struct pgs_conn *c)
{
	struct iobuf *b = c->rbuf;
	ssize_t n;

	if (b == NULL) {
		b = c->rbuf = worker_buf_get(c->w);
		if (b == NULL)
			return -ENOMEM;
	}
	if (b->start == b->end) {
		b->start = b->end = 0;
	} else if (b->end == IOBUF_SIZE && b->start > 0) {
		memmove(b->data, b->data + b->start, b->end - b->start);
		b->end -= b->start;
		b->start = 0;
	}
	if (b->end == IOBUF_SIZE)
		return -ENOBUFS;
	if (c->tp != NULL)
		return read_transport(c, b);
	for (;;) {
		n = recv(c->fd, b->data + b->end, IOBUF_SIZE - b->end, 0);
		if (n > 0) {
			b->end += (uint32_t)n;
			c->bytes_in += (uint64_t)n;
			return n;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -EAGAIN;
		return -errno;
	}
}

void io_release_rbuf(struct pgs_conn *c)
{
	if (c->rbuf && c->rbuf->start == c->rbuf->end) {
		worker_buf_put(c->w, c->rbuf);
		c->rbuf = NULL;
	}
}
