/*
 * client.c — the client side of the proxy.
 *
 * States: CL_STARTUP -> CL_AUTH -> (CL_LOGIN_WAIT) -> CL_IDLE <-> CL_WAITING
 * -> CL_LINKED.  In transaction mode a client is linked to a server only
 * while a transaction runs; in session mode from login to the end.
 *
 * Forwarding looks only at message headers: it counts the messages that
 * will be answered by a ReadyForQuery (Query, Sync, FunctionCall) so the
 * server side knows when a transaction ended, and it intercepts Terminate.
 * Everything else passes through as runs of bytes, with one send per read.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "audit.h"
#include "auth.h"
#include "cancel.h"
#include "client.h"
#include "client_int.h"
#include "console.h"
#include "cred.h"
#include "modload.h"
#include "transport.h"
#include "io.h"
#include "log.h"
#include "pool.h"
#include "pool_ctl.h"
#include "proto.h"
#include "runtime.h"
#include "server.h"
#include "stats.h"
#include "worker.h"

static void client_drain(struct client *cl);

const char *client_log_prefix(const struct client *cl, char *buf, size_t len)
{
	snprintf(buf, len, "C-%llu %s@%s %s%s%s: ", (unsigned long long)cl->c.id,
	         cl->sp.user ? cl->sp.user : "?", cl->sp.database ? cl->sp.database : "?",
	         cl->remote_addr, cl->is_unix ? "" : ":", cl->is_unix ? "" : cl->remote_port);
	return buf;
}

static void cl_log(enum pgs_log level, const struct client *cl, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void cl_log(enum pgs_log level, const struct client *cl, const char *fmt, ...)
{
	char prefix[256];
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_vmsg(level, client_log_prefix(cl, prefix, sizeof prefix), fmt, ap);
	va_end(ap);
}

/* How the metrics count a client in state st (-1: not counted). */
static int stats_state(enum client_state st)
{
	switch (st) {
	case CL_LINKED:
		return STATS_CL_ACTIVE;
	case CL_WAITING:
	case CL_LOGIN_WAIT:
		return STATS_CL_WAITING;
	case CL_IDLE:
		return STATS_CL_IDLE;
	default:
		return -1;
	}
}

void client_set_state(struct client *cl, enum client_state st)
{
	/* a closed client was taken out of the counts by client_close() */
	if (cl->pool != NULL && !cl->c.dead)
		stats_client_move(pool_counters(cl->pool, cl->c.w->index), stats_state(cl->state),
		                  stats_state(st));
	cl->state = st;
	cl->state_since = cl->c.w->now;
}

void client_accepted(struct worker *w, int fd, const struct sockaddr_storage *ss, socklen_t sl,
                     bool is_unix, const char *listener)
{
	struct gen *g = runtime_gen_get();
	int max = g->cfg->max_client_conn;
	struct client *cl;

	(void)sl;
	stats_add(&rt->stats.client_connections, 1);
	if (atomic_fetch_add(&rt->nclients, 1) >= max) {
		struct bytebuf b = {0};

		atomic_fetch_sub(&rt->nclients, 1);
		gen_unref(g);
		/* Best effort: one non-blocking send, then close. */
		if (proto_error(&b, "FATAL", "53300", NULL,
		                "no more connections allowed (max_client_conn)") == 0 &&
		    send(fd, bytebuf_head(&b), b.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			/* the client is gone anyway */
		}
		bytebuf_free(&b, false);
		close(fd);
		log_warn("refused a connection: max_client_conn (%d) reached", max);
		return;
	}
	cl = calloc(1, sizeof *cl);
	if (cl == NULL) {
		atomic_fetch_sub(&rt->nclients, 1);
		gen_unref(g);
		close(fd);
		return;
	}
	cl->c.kind = EV_CLIENT;
	cl->c.side = PGS_SIDE_CLIENT;
	cl->c.fd = fd;
	cl->c.id = runtime_next_id();
	cl->c.w = w;
	cl->gen = g;
	list_init(&cl->wait_link);
	cl->connect_time = cl->last_active = w->now;
	client_set_state(cl, CL_STARTUP);
	cl->is_unix = is_unix;
	if (is_unix) {
		struct ucred cred;
		socklen_t clen = sizeof cred;

		snprintf(cl->remote_addr, sizeof cl->remote_addr, "[local]");
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 &&
		    clen == sizeof cred)
			snprintf(cl->peer_uid, sizeof cl->peer_uid, "%u", (unsigned)cred.uid);
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, cl->remote_addr, sizeof cl->remote_addr);
		snprintf(cl->remote_port, sizeof cl->remote_port, "%u", ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, cl->remote_addr, sizeof cl->remote_addr);
		snprintf(cl->remote_port, sizeof cl->remote_port, "%u", ntohs(in6->sin6_port));
	}
	list_add_tail(&w->clients, &cl->c.wlink);
	w->nclients++;
	if (worker_watch(w, &cl->c, EPOLLIN) < 0) {
		client_close(cl, "epoll registration failed");
		return;
	}
	if (g->cfg->log_connections)
		log_info("connection received: host=%s%s%s", cl->remote_addr,
		         is_unix ? "" : " port=", cl->remote_port);
	audit_connect(cl, listener);
}

/* Queue a FATAL error for the client and flush it (best effort). */
static void send_error(struct client *cl, const char *sqlstate, const char *msg)
{
	/* mid-handshake there is no channel to say it on */
	if (cl->c.dead || (cl->c.tp != NULL && cl->c.tp->handshaking))
		return;
	if (proto_error(&cl->c.wbuf, "FATAL", sqlstate, NULL, "%s", msg) == 0 &&
	    io_flush(&cl->c) < 0) {
		/* the client is gone; close anyway */
	}
}

void client_fail(struct client *cl, const char *sqlstate, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	send_error(cl, sqlstate, msg);
	client_close(cl, msg);
}

void client_close(struct client *cl, const char *reason)
{
	struct worker *w = cl->c.w;
	char prefix[256];

	if (cl->c.dead)
		return;
	cl->c.dead = true;
	audit_disconnect(cl, reason);
	if (cl->gen->cfg->log_disconnections && cl->state != CL_STARTUP)
		log_info("%sdisconnection: session time: %.3f s user=%s database=%s host=%s%s%s%s",
		         client_log_prefix(cl, prefix, sizeof prefix),
		         (double)(w->now - cl->connect_time) / 1000.0,
		         cl->sp.user ? cl->sp.user : "", cl->sp.database ? cl->sp.database : "",
		         cl->remote_addr, reason ? " (" : "", reason ? reason : "",
		         reason ? ")" : "");
	if (cl->state == CL_WAITING || cl->state == CL_LOGIN_WAIT)
		pool_cancel_wait(cl->pool, cl);
	if (cl->pool != NULL)
		stats_client_move(pool_counters(cl->pool, w->index), stats_state(cl->state), -1);
	if (cl->server != NULL) {
		struct server *sv = cl->server;

		cl->server = NULL;
		sv->client = NULL;
		server_client_gone(sv);
	}
	if (cl->cancel_registered)
		cancel_unregister(cl);
	worker_unwatch(w, &cl->c);
	transport_close(&cl->c);
	close(cl->c.fd);
	cl->c.fd = -1;
	list_del(&cl->c.wlink);
	if (cl->defer_inflight) {
		/* The module's job may still use its state: conn_free and the
		 * free wait for the job (client_defer_done). */
		list_add_tail(&w->zombies, &cl->c.wlink);
	} else {
		auth_conn_free(cl);
		list_add_tail(&w->dead, &cl->c.wlink);
	}
	w->nclients--;
}

void client_free(struct client *cl)
{
	struct conn_mem *m = cl->c.mem;

	while (m != NULL) {
		struct conn_mem *next = m->next;

		OPENSSL_cleanse(m + 1, m->len);
		free(m);
		m = next;
	}
	if (cl->c.rbuf) {
		cl->c.rbuf->start = cl->c.rbuf->end = 0;
		worker_buf_put(cl->c.w, cl->c.rbuf);
	}
	bytebuf_free(&cl->c.wbuf, true);
	cred_fetch_free(cl);
	console_free(cl);
	startup_free(&cl->sp);
	if (cl->authn_id)
		free(cl->authn_id);
	gen_unref(cl->gen);
	atomic_fetch_sub(&rt->nclients, 1);
	free(cl);
}

/* ------------------------------------------------------------ startup */

static void send_welcome(struct client *cl, const struct param_set *ps)
{
	struct bytebuf *b = &cl->c.wbuf;
	int rc = 0;

	for (uint32_t i = 0; i < ps->n && rc == 0; i++)
		rc = proto_param_status(b, ps->names[i], ps->values[i]);
	cl->params_hash = ps->hash;
	if (rc == 0)
		rc = proto_backend_key(b, cl->cancel_pid, cl->cancel_key);
	if (rc == 0)
		rc = proto_ready(b, 'I');
	if (rc < 0 || io_flush(&cl->c) < 0) {
		client_close(cl, "could not send the welcome");
		return;
	}
	if (cl->gen->cfg->log_connections && cl->c.tp != NULL &&
	    strcmp(transport_kind_name(&cl->c), "gss") == 0) {
		const char *p = transport_fact(&cl->c, "gss_principal");

		/* PostgreSQL's wording; authenticated: the gss method accepted it */
		cl_log(PGS_LOG_INFO, cl,
		       "connection authorized: user=%s database=%s worker=%d GSS "
		       "(authenticated=%s, encrypted=yes, principal=%s)",
		       cl->sp.user, cl->sp.database, cl->c.w->index,
		       p && cl->authn_id && strcmp(p, cl->authn_id) == 0 ? "yes" : "no",
		       p ? p : "?");
	} else if (cl->gen->cfg->log_connections && cl->c.tp != NULL)
		cl_log(PGS_LOG_INFO, cl,
		       "connection authorized: user=%s database=%s worker=%d SSL enabled "
		       "(protocol=%s, cipher=%s)",
		       cl->sp.user, cl->sp.database, cl->c.w->index,
		       transport_fact(&cl->c, "protocol") ? transport_fact(&cl->c, "protocol")
		                                          : "?",
		       transport_fact(&cl->c, "cipher") ? transport_fact(&cl->c, "cipher") : "?");
	else if (cl->gen->cfg->log_connections)
		cl_log(PGS_LOG_INFO, cl, "connection authorized: user=%s database=%s worker=%d",
		       cl->sp.user, cl->sp.database, cl->c.w->index);
}

void client_auth_ok(struct client *cl)
{
	struct server *sv;
	struct param_set welcome = {0};

	if (proto_auth(&cl->c.wbuf, AUTH_OK, NULL, 0) < 0) {
		client_close(cl, "out of memory");
		return;
	}
	if (console_wanted(cl)) {
		console_start(cl);
		return;
	}
	if (pool_ctl_disabled(cl->sp.database)) {
		/* the disconnect event and log line carry the reason */
		client_fail(cl, "55000", "database \"%s\" is not currently accepting connections",
		            cl->sp.database);
		return;
	}
	cl->pool = pool_lookup(cl->gen, cl->sp.database, cl->sp.user);
	if (cl->pool == NULL) {
		client_fail(cl, "3D000",
		            "no pool is configured for database \"%s\" and user \"%s\"",
		            cl->sp.database, cl->sp.user);
		return;
	}
	cancel_register(cl);
	if (pool_mode(cl->pool) == POOL_TRANSACTION && pool_get_welcome(cl->pool, &welcome)) {
		send_welcome(cl, &welcome);
		params_clear(&welcome);
		if (!cl->c.dead) {
			client_set_state(cl, CL_IDLE);
			client_drain(cl);
		}
		return;
	}
	/* Learn the parameters from a real server (and keep it in session
	 * mode): the client waits until one is available. */
	client_set_state(cl, CL_LOGIN_WAIT);
	if (io_flush(&cl->c) < 0) {
		client_close(cl, "client went away");
		return;
	}
	sv = pool_acquire(cl->pool, cl->c.w, cl);
	if (sv != NULL)
		client_got_server(cl, sv);
}

/* --------------------------------------------------------- forwarding */

/*
 * Tell the client the parameters of its new server when they are not the
 * set it was told before (transaction mode, another server).  The client
 * keeps only the hash of that set, so the whole set is sent: repeating an
 * unchanged value is harmless, and an idle client stays small.
 */
static int replay_params(struct client *cl, struct server *sv)
{
	if (cl->params_hash == sv->params.hash)
		return 0;
	for (uint32_t i = 0; i < sv->params.n; i++)
		if (proto_param_status(&cl->c.wbuf, sv->params.names[i], sv->params.values[i]) < 0)
			return -1;
	cl->params_hash = sv->params.hash;
	return io_flush(&cl->c) < 0 ? -1 : 0;
}

static void link_server(struct client *cl, struct server *sv)
{
	cl->server = sv;
	server_link(sv, cl);
	client_set_state(cl, CL_LINKED);
	if (replay_params(cl, sv) < 0)
		client_close(cl, "could not send parameters");
}

void client_got_server(struct client *cl, struct server *sv)
{
	if (cl->state == CL_LOGIN_WAIT) {
		pool_set_welcome(cl->pool, &sv->params);
		send_welcome(cl, &sv->params);
		if (cl->c.dead) {
			pool_release(sv->pool, sv->c.w, sv);
			return;
		}
		if (sv->pcfg->mode == POOL_SESSION) {
			cl->server = sv;
			server_link(sv, cl);
			client_set_state(cl, CL_LINKED);
		} else {
			client_set_state(cl, CL_IDLE);
			pool_release(sv->pool, sv->c.w, sv);
		}
		client_drain(cl);
		return;
	}
	link_server(cl, sv);
	if (!cl->c.dead)
		client_drain(cl);
}

void client_server_released(struct client *cl, const struct server *sv)
{
	/* It saw every ParameterStatus the server sent while linked. */
	cl->params_hash = sv->params.hash;
	cl->server = NULL;
	client_set_state(cl, CL_IDLE);
	cl->last_active = cl->c.w->now;
}

void client_resume_pending(struct client *cl)
{
	/* Pipelined input that arrived during the last transaction. */
	if (cl->c.rbuf && cl->c.rbuf->start < cl->c.rbuf->end)
		client_drain(cl);
}

/* Ask the pool for a server; true when linked now. */
static bool want_server(struct client *cl)
{
	struct server *sv;

	client_set_state(cl, CL_WAITING);
	sv = pool_acquire(cl->pool, cl->c.w, cl);
	if (sv == NULL)
		return false;
	link_server(cl, sv);
	return !cl->c.dead;
}

/*
 * Forward what the client's read buffer holds to its server, asking for a
 * server first when it has none.
 */
static void client_drain(struct client *cl)
{
	struct iobuf *b = cl->c.rbuf;

	while (b != NULL && b->start < b->end && !cl->c.dead) {
		struct server *sv;
		uint32_t p, start, queries = 0;

		if (cl->state == CL_IDLE) {
			if (cl->in_remain == 0 && b->data[b->start] == 'X') {
				client_close(cl, NULL);
				return;
			}
			if (!want_server(cl))
				return;
		}
		if (cl->state != CL_LINKED)
			return;
		sv = cl->server;
		p = start = b->start;
		while (p < b->end) {
			uint32_t len;
			char type;

			if (cl->in_remain > 0) {
				uint32_t take = b->end - p < cl->in_remain ? b->end - p
				                                           : cl->in_remain;

				p += take;
				cl->in_remain -= take;
				continue;
			}
			if (b->end - p < PROTO_MSG_HDR)
				break;
			type = (char)b->data[p];
			len = get_u32(b->data + p + 1);
			if (len < 4) {
				client_fail(cl, "08P01", "invalid message length");
				return;
			}
			if (type == 'X') {
				/* Terminate is ours: the server stays open. */
				if (queries > 0)
					stats_add_own(
					        &pool_counters(cl->pool, cl->c.w->index)->queries,
					        queries);
				if (p > start && server_send(sv, b->data + start, p - start) < 0)
					return;
				b->start = b->end;
				client_close(cl, NULL);
				return;
			}
			if (type == 'Q' || type == 'S' || type == 'F')
				sv->pending++;
			if (type == 'Q' || type == 'E')
				queries++;
			p += PROTO_MSG_HDR;
			cl->in_remain = len - 4;
		}
		if (queries > 0)
			stats_add_own(&pool_counters(cl->pool, cl->c.w->index)->queries, queries);
		if (p == start)
			break; /* only a partial header: wait for more */
		b->start = p;
		if (server_send(sv, b->data + start, p - start) < 0)
			return; /* the server closed, and with it this client */
		if (sv->c.wbuf.len > 0) {
			/* Backpressure: stop reading until the server drained. */
			if (io_want_read(&cl->c, 0) < 0)
				client_close(cl, "epoll failure");
			return;
		}
	}
	if (cl->c.dead)
		return;
	io_release_rbuf(&cl->c);
	/* Reading may have stopped while the buffer was full (waiting for a
	 * server, or backpressure): there is room again. */
	if (!(cl->c.events & EPOLLIN) && cl->state != CL_WAITING && io_want_read(&cl->c, 1) < 0)
		client_close(cl, "epoll failure");
}

void client_resume(struct client *cl)
{
	if (cl->c.dead)
		return;
	if (io_want_read(&cl->c, 1) < 0) {
		client_close(cl, "epoll failure");
		return;
	}
	client_drain(cl);
}

static void read_and_forward(struct client *cl)
{
	ssize_t n = io_read(&cl->c);

	if (n == 0 || (n < 0 && n != -EAGAIN && n != -ENOBUFS)) {
		client_close(cl, n == 0 ? NULL : "read error");
		return;
	}
	if (n == -ENOBUFS) {
		/* Full while waiting for a server: stop reading until linked. */
		if (io_want_read(&cl->c, 0) < 0)
			client_close(cl, "epoll failure");
		return;
	}
	cl->last_active = cl->c.w->now;
	if (cl->pool != NULL && n > 0)
		stats_add_own(&pool_counters(cl->pool, cl->c.w->index)->bytes_in, (uint64_t)n);
	if (cl->state == CL_WAITING || cl->state == CL_LOGIN_WAIT)
		return; /* kept until a server arrives */
	client_drain(cl);
}

void client_on_event(struct client *cl, uint32_t events)
{
	if (cl->c.dead)
		return;
	if (cl->c.tp != NULL) {
		if (cl->c.tp->handshaking) {
			client_read_startup(cl);
			return;
		}
		if (cl->c.tp->read_wants_write && (events & EPOLLOUT))
			events |= EPOLLIN; /* the read waited for writability */
	}
	if (events & EPOLLOUT) {
		int r = io_flush(&cl->c);

		if (r < 0) {
			client_close(cl, "write error");
			return;
		}
		if (r == 1 && cl->server != NULL)
			server_resume(cl->server);
		if (cl->c.dead)
			return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	switch (cl->state) {
	case CL_STARTUP:
		client_read_startup(cl);
		break;
	case CL_AUTH:
		client_read_auth(cl);
		break;
	case CL_LOGIN_WAIT:
	case CL_IDLE:
	case CL_WAITING:
	case CL_LINKED:
		read_and_forward(cl);
		break;
	case CL_CONSOLE:
		console_on_input(cl);
		break;
	}
}

/* ------------------------------------------------------------- sweeps */

void client_sweep(struct worker *w)
{
	struct list *n, *next;

	for (n = w->clients.next; n != &w->clients; n = next) {
		struct client *cl = container_of(n, struct client, c.wlink);
		const struct pgs_config *cfg = cl->gen->cfg;
		int64_t age = w->now - cl->state_since;

		next = n->next;
		switch (cl->state) {
		case CL_STARTUP:
		case CL_AUTH:
			if (cfg->client_login_timeout <= 0 || age <= cfg->client_login_timeout)
				break;
			if (cl->state == CL_AUTH)
				client_fail(cl, "57014", "canceling authentication due to timeout");
			else
				client_fail(cl, "08006", "auth_timeout: no startup packet in time");
			break;
		case CL_WAITING:
		case CL_LOGIN_WAIT:
			if (cfg->query_wait_timeout > 0 && age > cfg->query_wait_timeout)
				client_fail(cl, "08006",
				            "query_wait_timeout: no server connection became "
				            "available within %lld ms",
				            (long long)cfg->query_wait_timeout);
			break;
		case CL_IDLE:
		case CL_LINKED:
		case CL_CONSOLE:
			if (cfg->client_idle_timeout > 0 &&
			    w->now - cl->last_active > cfg->client_idle_timeout &&
			    (cl->server == NULL || cl->server->pending == 0))
				client_fail(cl, "57P05",
				            "client_idle_timeout: terminating idle connection");
			break;
		}
	}
	if (w->draining) {
		/* SIGTERM: clients between transactions are let go. */
		for (n = w->clients.next; n != &w->clients; n = next) {
			struct client *cl = container_of(n, struct client, c.wlink);

			next = n->next;
			if (cl->state == CL_IDLE || cl->state == CL_STARTUP ||
			    cl->state == CL_CONSOLE ||
			    (cl->state == CL_LINKED && cl->server && cl->server->pending == 0 &&
			     cl->server->tx_status == 'I'))
				client_fail(cl, "57P01",
				            "terminating connection: pgsluice is shutting down");
		}
	}
}

struct client *client_find(struct worker *w, uint64_t id)
{
	for (struct list *n = w->clients.next; n != &w->clients; n = n->next) {
		struct client *cl = container_of(n, struct client, c.wlink);

		if (cl->c.id == id)
			return cl;
	}
	return NULL;
}

bool client_defer_done(struct worker *w, uint64_t conn_id)
{
	struct client *cl = client_find(w, conn_id);
	struct list *n;

	if (cl != NULL) {
		cl->defer_inflight = false;
		auth_resume(cl);
		return true;
	}
	/* The client left while its job ran: finish closing it now. */
	for (n = w->zombies.next; n != &w->zombies; n = n->next) {
		struct client *z = container_of(n, struct client, c.wlink);

		if (z->c.id == conn_id) {
			z->defer_inflight = false;
			auth_conn_free(z);
			list_del(&z->c.wlink);
			list_add_tail(&w->dead, &z->c.wlink);
			return true;
		}
	}
	return false;
}

struct client *client_find_by_cancel_key(struct worker *w, uint32_t pid, uint32_t key)
{
	struct list *n;

	for (n = w->clients.next; n != &w->clients; n = n->next) {
		struct client *cl = container_of(n, struct client, c.wlink);

		if (cl->cancel_registered && cl->cancel_pid == pid &&
		    CRYPTO_memcmp(&cl->cancel_key, &key, sizeof key) == 0)
			return cl;
	}
	return NULL;
}
