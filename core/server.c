/*
 * server.c — the server side of the proxy.
 *
 * States: SV_CONNECTING -> SV_LOGIN -> SV_IDLE <-> SV_LINKED, with SV_RESET
 * between a session-mode client and the idle list.  The login answers the
 * server's AuthenticationRequests through the backend operations of a
 * loaded module (SCRAM, MD5, cleartext); the core knows none of them.
 *
 * Forwarding to the client looks at ReadyForQuery (transaction status, end
 * of a transaction) and ParameterStatus (kept per server, replayed to
 * clients that get another server); everything else streams through.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "audit.h"
#include "client.h"
#include "host.h"
#include "io.h"
#include "log.h"
#include "modload.h"
#include "pool.h"
#include "proto.h"
#include "runtime.h"
#include "server.h"
#include "server_nego.h"
#include "stats.h"
#include "transport.h"
#include "worker.h"

/* Limit on one message pgsluice must hold whole (login, ParameterStatus). */
#define SERVER_WHOLE_MSG_MAX (IOBUF_SIZE - PROTO_MSG_HDR)

static void server_drain(struct server *sv);

static void slog(enum pgs_log level, const struct server *sv, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void slog(enum pgs_log level, const struct server *sv, const char *fmt, ...)
{
	char prefix[200];
	va_list ap;

	if (!log_enabled(level))
		return;
	snprintf(prefix, sizeof prefix, "S-%llu %s@%s: ", (unsigned long long)sv->c.id,
	         sv->login_user, sv->login_db);
	va_start(ap, fmt);
	log_vmsg(level, prefix, fmt, ap);
	va_end(ap);
}

static const struct server_addr *server_addr_of(const struct server *sv)
{
	return &sv->gen->addrs[sv->pcfg->server_index];
}

void server_connect(struct pool *p, struct worker *w)
{
	struct server *sv = calloc(1, sizeof *sv);
	const struct server_addr *addr;

	if (sv == NULL) {
		pool_connect_failed(p, w, NULL, "out of memory");
		return;
	}
	sv->c.kind = EV_SERVER;
	sv->c.side = PGS_SIDE_SERVER;
	sv->c.id = runtime_next_id();
	sv->c.w = w;
	sv->c.fd = -1;
	sv->pool = p;
	list_init(&sv->pool_link);
	pthread_mutex_lock(&p->lock);
	sv->gen = p->gen;
	sv->pcfg = p->pcfg;
	gen_ref(sv->gen);
	pthread_mutex_unlock(&p->lock);
	snprintf(sv->login_user, sizeof sv->login_user, "%s",
	         sv->pcfg->server_user ? sv->pcfg->server_user : p->user);
	snprintf(sv->login_db, sizeof sv->login_db, "%s",
	         sv->pcfg->server_database ? sv->pcfg->server_database : p->database);
	sv->created = sv->last_used = w->now;
	sv->tx_status = 'I';
	sv->state = SV_CONNECTING;
	list_add_tail(&w->servers, &sv->c.wlink);

	addr = server_addr_of(sv);
	if (!addr->ok) {
		sv->connect_errno = EHOSTUNREACH;
	} else {
		sv->c.fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		                  0);
		if (sv->c.fd < 0) {
			sv->connect_errno = errno;
		} else if (connect(sv->c.fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 &&
		           errno != EINPROGRESS) {
			sv->connect_errno = errno;
		}
	}
	if (sv->c.fd < 0 || worker_watch(w, &sv->c, EPOLLOUT | EPOLLIN) < 0) {
		/* Report through the same path as an asynchronous failure, but
		 * not from inside the caller's stack: it may hold state. */
		char msg[256];

		stats_add_own(&pool_counters(p, w->index)->connect_errors, 1);
		snprintf(msg, sizeof msg, "could not connect to server \"%s\" (%s): %s",
		         sv->gen->cfg->servers[sv->pcfg->server_index].name, addr->desc,
		         strerror(sv->connect_errno ? sv->connect_errno : errno));
		server_close(sv, msg);
	}
}

/* The failure message a waiting client gets when a connect/login fails. */
void server_login_failed(struct server *sv, const char *msg)
{
	slog(PGS_LOG_WARN, sv, "server login failed: %s", msg);
	stats_add_own(&pool_counters(sv->pool, sv->c.w->index)->connect_errors, 1);
	audit_server_fail(sv, msg);
	server_close(sv, msg);
}

static void backend_auth_free(struct server *sv)
{
	if (sv->auth_active && sv->auth_mod->desc->backend->conn_free)
		sv->auth_mod->desc->backend->conn_free(sv->auth_mod->state, (pgs_conn *)&sv->c,
		                                       sv->auth_state);
	sv->auth_active = false;
	sv->auth_mod = NULL;
	sv->auth_state = NULL;
}

void server_close(struct server *sv, const char *reason)
{
	struct worker *w = sv->c.w;
	struct client *cl = sv->client;
	enum server_state st = sv->state;

	if (sv->c.dead)
		return;
	sv->c.dead = true;
	if (reason)
		slog(st == SV_LINKED ? PGS_LOG_WARN : PGS_LOG_DEBUG, sv,
		     "closing server connection: %s", reason);
	if (cl != NULL) {
		sv->client = NULL;
		cl->server = NULL;
		client_fail(cl, "08006", "server closed the connection unexpectedly");
	}
	if (sv->c.fd >= 0)
		worker_unwatch(w, &sv->c);
	list_del(&sv->c.wlink);
	if (sv->defer_inflight) {
		/* The module's job may still use its state: conn_free waits for
		 * the job (server_defer_done). */
		list_add_tail(&w->sv_zombies, &sv->c.wlink);
	} else {
		backend_auth_free(sv);
		transport_close(&sv->c);
		list_add_tail(&w->dead, &sv->c.wlink);
	}
	if (sv->c.fd >= 0) {
		close(sv->c.fd);
		sv->c.fd = -1;
	}
	if (st == SV_CONNECTING || st == SV_LOGIN)
		pool_connect_failed(sv->pool, w, sv, reason ? reason : "server login failed");
	else
		pool_server_gone(sv->pool, w, sv);
}

void server_free_detached(struct server *sv)
{
	if (sv->c.fd >= 0)
		close(sv->c.fd);
	bytebuf_free(&sv->c.wbuf, true);
	params_clear(&sv->params);
	gen_unref(sv->gen);
	free(sv);
}

void server_free(struct server *sv)
{
	struct conn_mem *m = sv->c.mem;

	while (m != NULL) {
		struct conn_mem *next = m->next;

		OPENSSL_cleanse(m + 1, m->len);
		free(m);
		m = next;
	}
	if (sv->c.rbuf) {
		sv->c.rbuf->start = sv->c.rbuf->end = 0;
		worker_buf_put(sv->c.w, sv->c.rbuf);
		sv->c.rbuf = NULL;
	}
	server_free_detached(sv);
}

int server_send(struct server *sv, const void *data, size_t len)
{
	if (io_send(&sv->c, data, len) < 0) {
		server_close(sv, "could not write to the server");
		return -1;
	}
	return 0;
}

void server_link(struct server *sv, struct client *cl)
{
	sv->client = cl;
	sv->state = SV_LINKED;
	sv->last_used = sv->c.w->now;
	if (!(sv->c.events & EPOLLIN) && io_want_read(&sv->c, 1) < 0)
		server_close(sv, "epoll failure");
}

void server_detach(struct server *sv)
{
	worker_unwatch(sv->c.w, &sv->c);
	if (sv->c.rbuf) {
		worker_buf_put(sv->c.w, sv->c.rbuf);
		sv->c.rbuf = NULL;
	}
	list_del(&sv->c.wlink);
	sv->c.w = NULL;
}

int server_attach(struct server *sv, struct worker *w)
{
	sv->c.w = w;
	list_add_tail(&w->servers, &sv->c.wlink);
	return worker_watch(w, &sv->c, EPOLLIN);
}

/* Go back to the pool, through the reset query in session mode. */
static void server_done_with_client(struct server *sv, bool session_end)
{
	const char *reset = sv->pcfg->server_reset_query ? sv->pcfg->server_reset_query
	                                                 : sv->gen->cfg->server_reset_query;

	if (session_end && sv->pcfg->mode == POOL_SESSION && reset && reset[0]) {
		struct bytebuf q = {0};

		sv->state = SV_RESET;
		sv->pending = 1;
		if (proto_query(&q, reset) < 0) {
			bytebuf_free(&q, false);
			server_close(sv, "out of memory");
			return;
		}
		if (server_send(sv, bytebuf_head(&q), q.len) == 0)
			sv->last_used = sv->c.w->now;
		bytebuf_free(&q, false);
		return;
	}
	pool_release(sv->pool, sv->c.w, sv);
}

void server_client_gone(struct server *sv)
{
	bool clean = sv->pending == 0 && sv->tx_status == 'I' && sv->in_remain == 0 &&
	             (sv->c.rbuf == NULL || sv->c.rbuf->start == sv->c.rbuf->end) &&
	             sv->c.wbuf.len == 0;

	sv->client = NULL;
	if (!clean) {
		server_close(sv, "client disconnected in the middle of a transaction");
		return;
	}
	server_done_with_client(sv, true);
}

/* ---------------------------------------------------------------- login */

static struct mod_instance *find_backend_module(struct server *sv, uint32_t code)
{
	struct mod_set *ms = sv->gen->mods;

	if (code >= 32)
		return NULL;
	for (size_t i = 0; i < ms->nmods; i++) {
		const pgs_backend_ops *ops = ms->mods[i].desc->backend;

		if (ops && (ops->auth_codes & PGS_AUTH_CODE_BIT(code)))
			return &ms->mods[i];
	}
	return NULL;
}

static const char *auth_code_name(uint32_t code)
{
	switch (code) {
	case AUTH_CLEARTEXT:
		return "cleartext password";
	case AUTH_MD5:
		return "MD5";
	case AUTH_GSS:
		return "GSSAPI";
	case AUTH_SASL:
		return "SASL (SCRAM)";
	default:
		return "an unsupported method";
	}
}

/* Answer one AuthenticationRequest; false when the server was closed. */
static bool login_auth_request(struct server *sv, uint32_t code, const uint8_t *data, size_t len)
{
	const char *logdetail = NULL;
	enum pgs_step st;
	char msg[300];

	if (code == AUTH_OK) {
		backend_auth_free(sv);
		return true;
	}
	if (sv->auth_mod == NULL ||
	    !(sv->auth_mod->desc->backend->auth_codes & PGS_AUTH_CODE_BIT(code))) {
		backend_auth_free(sv);
		sv->auth_mod = find_backend_module(sv, code);
		if (sv->auth_mod == NULL) {
			snprintf(msg, sizeof msg,
			         "server requested %s authentication (code %u), but no loaded "
			         "module answers it",
			         auth_code_name(code), code);
			server_login_failed(sv, msg);
			return false;
		}
		if (sv->auth_mod->desc->backend->conn_new &&
		    sv->auth_mod->desc->backend->conn_new(sv->auth_mod->state, (pgs_conn *)&sv->c,
		                                          &sv->auth_state) < 0) {
			sv->auth_mod = NULL;
			server_login_failed(sv, "backend authentication module could not start");
			return false;
		}
		sv->auth_active = true;
	}
	do {
		st = sv->auth_mod->desc->backend->step(sv->auth_mod->state, (pgs_conn *)&sv->c,
		                                       sv->auth_state, code, data, len,
		                                       (pgs_wbuf *)&sv->c.wbuf, &logdetail);
		data = NULL;
		len = 0;
		if (io_flush(&sv->c) < 0) {
			server_login_failed(sv, "could not write to the server");
			return false;
		}
	} while (st == PGS_STEP_SEND);
	if (st == PGS_STEP_PENDING && sv->defer_inflight) {
		/* resumed by server_defer_done(); the server waits for our answer */
		sv->auth_code = code;
		worker_unwatch(sv->c.w, &sv->c);
		return true;
	}
	if (st == PGS_STEP_FAIL || st == PGS_STEP_IGNORE || st == PGS_STEP_PENDING) {
		/* the module's detail to the log only; clients read the short form */
		slog(PGS_LOG_WARN, sv, "backend %s login for user \"%s\" failed in module %s: %s",
		     auth_code_name(code), sv->login_user, sv->auth_mod->name,
		     logdetail ? logdetail : "no detail");
		snprintf(msg, sizeof msg, "backend %s login for user \"%s\" failed",
		         auth_code_name(code), sv->login_user);
		server_login_failed(sv, msg);
		return false;
	}
	return true;
}

static bool parse_param_status(struct param_set *ps, const uint8_t *body, size_t len)
{
	const uint8_t *nul1 = memchr(body, 0, len);
	const uint8_t *nul2;

	if (nul1 == NULL)
		return false;
	nul2 = memchr(nul1 + 1, 0, len - (size_t)(nul1 + 1 - body));
	if (nul2 == NULL)
		return false;
	return params_set(ps, (const char *)body, (const char *)nul1 + 1) == 0;
}

static void process_control(struct server *sv);

/* Process whole messages while logging in, resetting or idle. */
static void read_control(struct server *sv)
{
	ssize_t n = io_read(&sv->c);

	if (n == 0 || (n < 0 && n != -EAGAIN)) {
		if (sv->state == SV_LOGIN)
			server_login_failed(sv, "the server closed the connection during login");
		else
			server_close(sv, n == -ENOBUFS ? "message too long"
			                               : "the server closed the connection");
		return;
	}
	process_control(sv);
}

/* The messages in the read buffer; stops while a backend step's deferred
 * job runs (server_defer_done() goes on). */
static void process_control(struct server *sv)
{
	struct iobuf *b = sv->c.rbuf;

	while (b != NULL && !sv->c.dead && !sv->defer_inflight &&
	       b->end - b->start >= PROTO_MSG_HDR) {
		char type = (char)b->data[b->start];
		uint32_t len = get_u32(b->data + b->start + 1);
		const uint8_t *body;

		if (len < 4 || len > SERVER_WHOLE_MSG_MAX) {
			server_close(sv, "invalid message length from the server");
			return;
		}
		if (b->end - b->start < len + 1)
			break;
		body = b->data + b->start + PROTO_MSG_HDR;
		b->start += len + 1;
		len -= 4;
		switch (type) {
		case 'R':
			if (sv->state != SV_LOGIN || len < 4) {
				server_close(sv, "unexpected authentication request");
				return;
			}
			if (!login_auth_request(sv, get_u32(body), body + 4, len - 4))
				return;
			break;
		case 'S':
			if (!parse_param_status(&sv->params, body, len)) {
				server_close(sv, "invalid ParameterStatus");
				return;
			}
			break;
		case 'K':
			if (len == 8) {
				sv->be_pid = get_u32(body);
				sv->be_key = get_u32(body + 4);
			}
			break;
		case 'E': {
			char sev[16], code[8], msg[256], full[300];

			proto_error_fields(body, len, sev, sizeof sev, code, sizeof code, msg,
			                   sizeof msg);
			if (sv->state == SV_LOGIN) {
				snprintf(full, sizeof full, "%s", msg);
				server_login_failed(sv, full);
				return;
			}
			if (sv->state == SV_RESET && strcmp(sev, "FATAL") != 0 &&
			    strcmp(sev, "PANIC") != 0) {
				slog(PGS_LOG_WARN, sv, "server_reset_query failed: %s %s", code,
				     msg);
				sv->close_when_done = true;
				break;
			}
			snprintf(full, sizeof full, "server error %s: %s", code, msg);
			server_close(sv, full);
			return;
		}
		case 'Z':
			if (len < 1) {
				server_close(sv, "invalid ReadyForQuery");
				return;
			}
			sv->tx_status = (char)body[0];
			if (sv->state == SV_LOGIN) {
				backend_auth_free(sv);
				sv->pending = 0;
				slog(PGS_LOG_DEBUG, sv, "server login done (backend pid %u)",
				     sv->be_pid);
				pool_set_welcome(sv->pool, &sv->params);
				io_release_rbuf(&sv->c);
				pool_release(sv->pool, sv->c.w, sv);
				return;
			}
			if (sv->state == SV_RESET && --sv->pending <= 0) {
				sv->pending = 0;
				io_release_rbuf(&sv->c);
				pool_release(sv->pool, sv->c.w, sv);
				return;
			}
			break;
		case 'N': /* notices while nobody listens */
		case 'v': /* NegotiateProtocolVersion */
		case 'C':
		case 'T':
		case 'D':
		case 'I': /* reset query output */
			break;
		case 'A': /* NOTIFY for nobody */
			break;
		default:
			if (sv->state != SV_RESET) {
				server_close(sv, "unexpected message from an idle server");
				return;
			}
		}
	}
	if (!sv->c.dead && !sv->defer_inflight)
		io_release_rbuf(&sv->c);
}

/* A module's deferred job for server id finished (on its worker): call the
 * step or the handshake again, or finish closing a server that went away
 * meanwhile.  False when no server has that id. */
bool server_defer_done(struct worker *w, uint64_t id)
{
	struct list *n;

	for (n = w->servers.next; n != &w->servers; n = n->next) {
		struct server *sv = container_of(n, struct server, c.wlink);

		if (sv->c.id != id || !sv->defer_inflight)
			continue;
		sv->defer_inflight = false;
		if (sv->state == SV_CONNECTING && sv->nego_phase != 0) {
			server_nego_step(sv);
			return true;
		}
		if (sv->state == SV_LOGIN && sv->auth_active &&
		    worker_watch(w, &sv->c, EPOLLIN) == 0 &&
		    login_auth_request(sv, sv->auth_code, NULL, 0))
			process_control(sv);
		else if (!sv->c.dead)
			server_login_failed(sv, "lost track of a deferred backend login step");
		return true;
	}
	for (n = w->sv_zombies.next; n != &w->sv_zombies; n = n->next) {
		struct server *sv = container_of(n, struct server, c.wlink);

		if (sv->c.id != id)
			continue;
		sv->defer_inflight = false;
		backend_auth_free(sv);
		transport_discard(&sv->c); /* the socket is closed already */
		list_del(&sv->c.wlink);
		list_add_tail(&w->dead, &sv->c.wlink);
		return true;
	}
	return false;
}

/* ----------------------------------------------------------- forwarding */

/*
 * Forward what the server sent to its client, tracking ReadyForQuery and
 * ParameterStatus.  In transaction mode the server goes back to the pool
 * when a ReadyForQuery with status 'I' ends everything the client asked.
 */
static void server_drain(struct server *sv)
{
	struct iobuf *b = sv->c.rbuf;
	struct client *cl = sv->client;
	bool release_ok = false;
	uint32_t p, start, transactions = 0;

	if (b == NULL || cl == NULL)
		return;
	p = start = b->start;
	while (p < b->end) {
		uint32_t len;
		char type;

		if (sv->in_remain > 0) {
			uint32_t take = b->end - p < sv->in_remain ? b->end - p : sv->in_remain;

			p += take;
			sv->in_remain -= take;
			release_ok = false;
			continue;
		}
		if (b->end - p < PROTO_MSG_HDR)
			break;
		type = (char)b->data[p];
		len = get_u32(b->data + p + 1);
		if (len < 4) {
			server_close(sv, "invalid message length from the server");
			return;
		}
		if (type == 'Z' || type == 'S') {
			if (len > SERVER_WHOLE_MSG_MAX) {
				server_close(sv, "ParameterStatus too long");
				return;
			}
			if (b->end - p < len + 1)
				break; /* need it whole */
			if (type == 'Z') {
				sv->tx_status = len >= 5 ? (char)b->data[p + 5] : 'I';
				if (sv->pending > 0)
					sv->pending--;
				release_ok = sv->pending == 0 && sv->tx_status == 'I';
				if (sv->tx_status == 'I')
					transactions++;
			} else {
				if (!parse_param_status(&sv->params, b->data + p + 5, len - 4)) {
					server_close(sv, "invalid ParameterStatus");
					return;
				}
				release_ok = false;
			}
			p += len + 1;
			continue;
		}
		release_ok = false;
		p += PROTO_MSG_HDR;
		sv->in_remain = len - 4;
	}
	b->start = p;
	if (p > start) {
		struct pool_counters *pc = pool_counters(sv->pool, sv->c.w->index);

		stats_add_own(&pc->bytes_out, p - start);
		if (transactions > 0)
			stats_add_own(&pc->transactions, transactions);
	}
	if (p > start && io_send(&cl->c, b->data + start, p - start) < 0) {
		client_close(cl, "could not write to the client");
		/* client_close handed the server back or closed it. */
		return;
	}
	if (release_ok && b->start == b->end && sv->pcfg->mode == POOL_TRANSACTION) {
		sv->client = NULL;
		io_release_rbuf(&sv->c);
		client_server_released(cl, sv);
		pool_release(sv->pool, sv->c.w, sv);
		if (!cl->c.dead)
			client_resume_pending(cl);
		return;
	}
	if (cl->c.wbuf.len > 0 && io_want_read(&sv->c, 0) < 0)
		server_close(sv, "epoll failure");
	else
		io_release_rbuf(&sv->c);
}

void server_resume(struct server *sv)
{
	if (sv->c.dead || sv->state != SV_LINKED)
		return;
	if (io_want_read(&sv->c, 1) < 0) {
		server_close(sv, "epoll failure");
		return;
	}
	server_drain(sv);
}

static void connected(struct server *sv)
{
	int err = sv->connect_errno;
	socklen_t el = sizeof err;

	if (err == 0 && getsockopt(sv->c.fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		err = errno;
	if (err != 0) {
		char msg[256];
		const struct server_addr *addr = server_addr_of(sv);

		snprintf(msg, sizeof msg, "could not connect to server \"%s\" (%s): %s",
		         sv->gen->cfg->servers[sv->pcfg->server_index].name, addr->desc,
		         strerror(err));
		server_login_failed(sv, msg);
		return;
	}
	if (server_addr_of(sv)->ss.ss_family != AF_UNIX) {
		int one = 1;

		setsockopt(sv->c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	if (server_nego_begin(sv))
		return;
	if (!sv->c.dead)
		server_send_startup(sv);
}

/* The StartupMessage (through TLS or GSS when it was set up). */
void server_send_startup(struct server *sv)
{
	const char *kv[] = {"user", sv->login_user, "database", sv->login_db, NULL};
	struct bytebuf su = {0};

	sv->state = SV_LOGIN;
	sv->nego_phase = 0;
	if (proto_startup(&su, kv) < 0 || io_send(&sv->c, bytebuf_head(&su), su.len) < 0) {
		bytebuf_free(&su, false);
		server_login_failed(sv, "could not send the startup packet");
		return;
	}
	bytebuf_free(&su, false);
	if (sv->c.wbuf.len == 0 && worker_watch(sv->c.w, &sv->c, EPOLLIN) < 0)
		server_login_failed(sv, "epoll failure");
}

void server_on_event(struct server *sv, uint32_t events)
{
	if (sv->c.dead || sv->defer_inflight)
		return; /* unwatched while a module's job runs; server_defer_done() resumes */
	if (sv->state == SV_CONNECTING) {
		if (sv->nego_phase != 0)
			server_nego_step(sv);
		else if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			connected(sv);
		return;
	}
	if (sv->c.tp != NULL && sv->c.tp->read_wants_write && (events & EPOLLOUT))
		events |= EPOLLIN; /* the read waited for writability */
	if (events & EPOLLOUT) {
		int r = io_flush(&sv->c);

		if (r < 0) {
			server_close(sv, "could not write to the server");
			return;
		}
		if (r == 1 && sv->client != NULL)
			client_resume(sv->client);
		if (sv->c.dead)
			return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if (sv->state == SV_LINKED) {
		ssize_t n = io_read(&sv->c);

		if (n == 0 || (n < 0 && n != -EAGAIN && n != -ENOBUFS)) {
			server_close(sv, "the server closed the connection");
			return;
		}
		server_drain(sv);
		return;
	}
	read_control(sv);
}

void server_sweep(struct worker *w)
{
	struct list *n, *next;

	for (n = w->servers.next; n != &w->servers; n = next) {
		struct server *sv = container_of(n, struct server, c.wlink);
		int64_t limit = sv->gen->cfg->server_connect_timeout;

		next = n->next;
		if ((sv->state == SV_CONNECTING || sv->state == SV_LOGIN) && limit > 0 &&
		    w->now - sv->created > limit)
			server_login_failed(
			        sv, "server_connect_timeout: the server did not answer in time");
	}
}
