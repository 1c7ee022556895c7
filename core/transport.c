/*
 * transport.c — a connection's encryption layer, provided by a transport
 * module.  The module owns the protocol (OpenSSL, GSS wrap/unwrap); the
 * host owns the socket and epoll interest: what a module waits on
 * (PGS_IO_WANT_READ/WRITE) becomes EPOLLIN/EPOLLOUT here.  Data the module
 * already decrypted (pending()) is invisible to epoll, so io.c puts such
 * connections on the worker's ready list (worker.c).
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "conn.h"
#include "modload.h"
#include "transport.h"
#include "worker.h"

struct mod_instance *transport_find(const struct mod_set *ms, const char *kind)
{
	for (size_t i = 0; ms != NULL && i < ms->nmods; i++) {
		const pgs_transport_ops *ops = ms->mods[i].desc->transport;

		if (ops != NULL && ops->kind != NULL && strcmp(ops->kind, kind) == 0 &&
		    ops->conn_new != NULL && ops->handshake != NULL && ops->read != NULL &&
		    ops->write != NULL && ops->conn_free != NULL)
			return &ms->mods[i];
	}
	return NULL;
}

int transport_start(struct pgs_conn *c, const struct mod_instance *mi, char *err, size_t errlen)
{
	struct transport *t = calloc(1, sizeof *t);
	int rc;

	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	t->ops = mi->desc->transport;
	t->mod = mi->state;
	rc = t->ops->conn_new(t->mod, (pgs_conn *)c, c->fd, &t->state);
	if (rc < 0) {
		snprintf(err, errlen, "transport %s: %s", mi->name, strerror(-rc));
		free(t);
		return rc;
	}
	t->handshaking = true;
	c->tp = t;
	return 0;
}

/* Ask epoll for what the module waits on (and keep the other direction
 * only when output is queued). */
static int want(struct pgs_conn *c, enum pgs_io io)
{
	uint32_t ev = c->events | EPOLLIN;

	if (io == PGS_IO_WANT_WRITE)
		ev |= EPOLLOUT;
	else if (c->tp->handshaking && c->wbuf.len == 0)
		ev &= ~(uint32_t)EPOLLOUT; /* a writable socket would wake us for nothing */
	return c->events == ev ? 0 : worker_watch(c->w, c, ev);
}

int transport_handshake(struct pgs_conn *c, const char **detail)
{
	struct transport *t = c->tp;
	enum pgs_io io;

	*detail = NULL;
	io = t->ops->handshake(t->mod, t->state, detail);
	switch (io) {
	case PGS_IO_OK:
		t->handshaking = false;
		/* back to reading only (io_flush adds EPOLLOUT when needed) */
		if (worker_watch(c->w, c, (c->events | EPOLLIN) & ~(uint32_t)EPOLLOUT) < 0)
			return -1;
		return 1;
	case PGS_IO_WANT_READ:
	case PGS_IO_WANT_WRITE:
		return want(c, io) < 0 ? -1 : 0;
	case PGS_IO_PENDING:
		/* the module's deferred work runs: nothing to wait for on the
		 * socket until it is done and the handshake is called again */
		worker_unwatch(c->w, c);
		return 2;
	case PGS_IO_CLOSED:
		if (*detail == NULL)
			*detail = "the peer closed the connection during the handshake";
		return -1;
	case PGS_IO_ERROR:
		break;
	}
	if (*detail == NULL)
		*detail = "handshake failed";
	return -1;
}

ssize_t transport_read(struct pgs_conn *c, void *buf, size_t len)
{
	struct transport *t = c->tp;
	size_t done = 0;
	enum pgs_io io = t->ops->read(t->mod, t->state, buf, len, &done);

	t->read_wants_write = false;
	switch (io) {
	case PGS_IO_OK:
		return done > 0 ? (ssize_t)done : -EAGAIN;
	case PGS_IO_WANT_WRITE:
		t->read_wants_write = true;
		/* fall through */
	case PGS_IO_WANT_READ:
		return want(c, io) < 0 ? -EIO : -EAGAIN;
	case PGS_IO_CLOSED:
		return 0;
	case PGS_IO_ERROR:
	case PGS_IO_PENDING: /* handshake only */
		break;
	}
	return -EIO;
}

ssize_t transport_write(struct pgs_conn *c, const void *buf, size_t len)
{
	struct transport *t = c->tp;
	size_t done = 0;
	enum pgs_io io = t->ops->write(t->mod, t->state, buf, len, &done);

	switch (io) {
	case PGS_IO_OK:
		return done > 0 ? (ssize_t)done : -EAGAIN;
	case PGS_IO_WANT_READ:
		/* resumed when readable: EPOLLIN stays on for transport conns */
		return want(c, io) < 0 ? -EIO : -EAGAIN;
	case PGS_IO_WANT_WRITE:
		return -EAGAIN; /* the caller asks for EPOLLOUT */
	case PGS_IO_CLOSED:
	case PGS_IO_ERROR:
	case PGS_IO_PENDING: /* handshake only */
		break;
	}
	return -EPIPE;
}

size_t transport_pending(const struct pgs_conn *c)
{
	const struct transport *t = c->tp;

	if (t == NULL || t->handshaking || !PGS_HAS_FIELD(t->ops, pgs_transport_ops, pending) ||
	    t->ops->pending == NULL)
		return 0;
	return t->ops->pending(t->mod, t->state);
}

void transport_discard(struct pgs_conn *c)
{
	struct transport *t = c->tp;

	if (t == NULL)
		return;
	worker_unmark_ready(c);
	t->ops->conn_free(t->mod, t->state);
	free(t);
	c->tp = NULL;
}

void transport_close(struct pgs_conn *c)
{
	struct transport *t = c->tp;

	if (t == NULL)
		return;
	if (!t->handshaking && t->ops->shutdown != NULL)
		(void)t->ops->shutdown(t->mod, t->state); /* one try; never waits */
	transport_discard(c);
}

const char *transport_kind_name(const struct pgs_conn *c)
{
	const struct transport *t = c->tp;

	if (t == NULL || t->handshaking)
		return "tcp";
	return strcmp(t->ops->kind, "gss") == 0 ? "gss" : "tls";
}

const char *transport_fact(const struct pgs_conn *c, const char *name)
{
	const struct transport *t = c->tp;

	if (t == NULL || t->handshaking || t->ops->fact == NULL)
		return NULL;
	return t->ops->fact(t->mod, t->state, name);
}

int transport_peer_cert(const struct pgs_conn *c, const uint8_t **der, size_t *len)
{
	const struct transport *t = c->tp;

	if (t == NULL || t->handshaking || t->ops->peer_cert == NULL)
		return -ENOENT;
	return t->ops->peer_cert(t->mod, t->state, der, len);
}

int transport_cb_hash(const struct pgs_conn *c, uint8_t *out, size_t *len)
{
	const struct transport *t = c->tp;

	if (t == NULL || t->handshaking || t->ops->cb_hash == NULL)
		return -ENOENT;
	return t->ops->cb_hash(t->mod, t->state, out, len);
}
