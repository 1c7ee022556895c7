/*
 * console_list.c — SHOW CLIENTS and SHOW SERVERS.
 *
 * Each worker owns its connections: no other thread may read them.  So a
 * listing is a job posted to every worker's inbox; each worker formats
 * the DataRows of its own clients or servers and appends them to the job
 * under the job's lock; the last one posts the job back to the session's
 * worker, which sends RowDescription + rows + CommandComplete.  A session
 * that left meanwhile is looked up by connection id and not found: the
 * job is then simply freed.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "client.h"
#include "console_int.h"
#include "log.h"
#include "pool.h"
#include "proto.h"
#include "runtime.h"
#include "server.h"
#include "startup.h"
#include "transport.h"
#include "worker.h"

struct listing {
	pthread_mutex_t lock;
	int pending; /* workers that have not added their rows yet */
	bool servers;
	struct worker *home;
	uint64_t conn_id; /* the session */
	struct bytebuf rows;
	int rc; /* first error */
};

static const char *const client_cols[] = {
        "type",         "user",       "database",     "state",        "addr", "port",
        "local_addr",   "local_port", "connect_time", "request_time", "wait", "wait_us",
        "close_needed", "ptr",        "link",         "remote_pid",   "tls",  "application_name",
        "id",           "identity",   "method",       "worker"};
static const char *const server_cols[] = {
        "type",       "user",       "database",         "state",        "addr",
        "port",       "local_addr", "local_port",       "connect_time", "request_time",
        "wait",       "wait_us",    "close_needed",     "ptr",          "link",
        "remote_pid", "tls",        "application_name", "id",           "worker"};
#define NCLIENT_COLS (sizeof client_cols / sizeof client_cols[0])
#define NSERVER_COLS (sizeof server_cols / sizeof server_cols[0])

static void listing_free(struct listing *job)
{
	pthread_mutex_destroy(&job->lock);
	bytebuf_free(&job->rows, false);
	free(job);
}

int console_list_start(struct client *cl, bool servers)
{
	int nw = rt->nworkers;
	struct inbox_msg **msgs = calloc((size_t)nw, sizeof *msgs);
	struct listing *job = calloc(1, sizeof *job);

	for (int i = 0; msgs != NULL && job != NULL && i < nw; i++) {
		msgs[i] = calloc(1, sizeof *msgs[i]);
		if (msgs[i] == NULL) {
			for (int j = 0; j < i; j++)
				free(msgs[j]);
			free(msgs);
			msgs = NULL;
		}
	}
	if (msgs == NULL || job == NULL) {
		free(msgs);
		free(job);
		return -ENOMEM;
	}
	pthread_mutex_init(&job->lock, NULL);
	job->pending = nw;
	job->servers = servers;
	job->home = cl->c.w;
	job->conn_id = cl->c.id;
	cl->console->wait = CS_COLLECT;
	cl->console->job = job;
	for (int i = 0; i < nw; i++) {
		msgs[i]->type = INBOX_COLLECT;
		msgs[i]->job = job;
		worker_post(rt->workers[i], msgs[i]);
	}
	free(msgs);
	return 0;
}

/* ------------------------------------------------------------ one row */

/* Monotonic milliseconds (now_ms) as wall-clock text. */
static const char *wall(char *buf, size_t len, int64_t mono_ms, int64_t offset_ms)
{
	time_t t = (time_t)((mono_ms + offset_ms) / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "?");
	return buf;
}

/* The pgsluice side of a socket: address and port, "unix" and 0. */
static void local_end(int fd, char *addr, size_t alen, char *port, size_t plen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	unsigned p = 0;

	snprintf(addr, alen, "unix");
	snprintf(port, plen, "0");
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, addr, (socklen_t)alen);
		p = ntohs(in->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, addr, (socklen_t)alen);
		p = ntohs(in6->sin6_port);
	}
	snprintf(port, plen, "%u", p);
}

/* "TLSv1.3/TLS_AES_256_GCM_SHA384", "GSS", or "". */
static const char *tls_text(const struct pgs_conn *c, char *buf, size_t len)
{
	const char *kind = transport_kind_name(c);

	buf[0] = '\0';
	if (strcmp(kind, "gss") == 0) {
		snprintf(buf, len, "GSS");
	} else if (strcmp(kind, "tls") == 0) {
		const char *proto = transport_fact(c, "protocol");
		const char *cipher = transport_fact(c, "cipher");

		snprintf(buf, len, "%s/%s", proto ? proto : "?", cipher ? cipher : "?");
	}
	return buf;
}

static const char *client_state_name(enum client_state st)
{
	switch (st) {
	case CL_STARTUP:
	case CL_AUTH:
		return "login";
	case CL_LOGIN_WAIT:
	case CL_WAITING:
		return "waiting";
	case CL_IDLE:
		return "idle";
	case CL_LINKED:
		return "active";
	case CL_CONSOLE:
		return "console";
	}
	return "?";
}

static const char *server_state_name(enum server_state st)
{
	switch (st) {
	case SV_CONNECTING:
		return "connecting";
	case SV_LOGIN:
		return "login";
	case SV_RESET:
		return "reset";
	case SV_IDLE:
		return "idle";
	case SV_LINKED:
		return "active";
	}
	return "?";
}

/* Cells shared by both listings. */
struct cells {
	char laddr[64], lport[8], ctime[40], rtime[40], wait[24], wait_us[24], ptr[32], link[32],
	        pid[24], tls[160], id[24], worker[24], port[24];
};

static void client_row(struct rset *r, const struct client *cl, int64_t now, int64_t offset)
{
	struct cells c;
	int64_t waited = 0;
	const char *app = startup_param(&cl->sp, "application_name");

	if (cl->state == CL_WAITING || cl->state == CL_LOGIN_WAIT)
		waited = now - cl->state_since;
	local_end(cl->c.fd, c.laddr, sizeof c.laddr, c.lport, sizeof c.lport);
	snprintf(c.ptr, sizeof c.ptr, "C-%llu", (unsigned long long)cl->c.id);
	c.link[0] = '\0';
	if (cl->server != NULL)
		snprintf(c.link, sizeof c.link, "S-%llu", (unsigned long long)cl->server->c.id);
	snprintf(c.port, sizeof c.port, "%s",
	         cl->is_unix || !cl->remote_port[0] ? "0" : cl->remote_port);
	rset_row(r, (const char *[]){
	                    "C",
	                    cl->sp.user ? cl->sp.user : "",
	                    cl->sp.database ? cl->sp.database : "",
	                    client_state_name(cl->state),
	                    cl->is_unix ? "unix" : cl->remote_addr,
	                    c.port,
	                    c.laddr,
	                    c.lport,
	                    wall(c.ctime, sizeof c.ctime, cl->connect_time, offset),
	                    wall(c.rtime, sizeof c.rtime, cl->last_active, offset),
	                    cell_i64(c.wait, waited / 1000),
	                    cell_i64(c.wait_us, (waited % 1000) * 1000),
	                    "0",
	                    c.ptr,
	                    c.link,
	                    "0",
	                    tls_text(&cl->c, c.tls, sizeof c.tls),
	                    app ? app : "",
	                    cell_u64(c.id, cl->c.id),
	                    cl->authn_id ? cl->authn_id : "",
	                    cl->auth.chain ? cl->auth.chain->name : "",
	                    cell_i64(c.worker, cl->c.w->index),
	            });
}

static void server_row(struct rset *r, const struct server *sv, int64_t offset)
{
	const struct cfg_server *scfg = &sv->gen->cfg->servers[sv->pcfg->server_index];
	struct cells c;

	local_end(sv->c.fd, c.laddr, sizeof c.laddr, c.lport, sizeof c.lport);
	snprintf(c.ptr, sizeof c.ptr, "S-%llu", (unsigned long long)sv->c.id);
	c.link[0] = '\0';
	if (sv->client != NULL)
		snprintf(c.link, sizeof c.link, "C-%llu", (unsigned long long)sv->client->c.id);
	rset_row(r, (const char *[]){
	                    "S",
	                    sv->pool->user,
	                    sv->pool->database,
	                    server_state_name(sv->state),
	                    scfg->host ? scfg->host : "",
	                    cell_i64(c.port, scfg->port),
	                    c.laddr,
	                    c.lport,
	                    wall(c.ctime, sizeof c.ctime, sv->created, offset),
	                    wall(c.rtime, sizeof c.rtime,
	                         sv->last_used ? sv->last_used : sv->created, offset),
	                    "0",
	                    "0",
	                    sv->close_when_done ? "1" : "0",
	                    c.ptr,
	                    c.link,
	                    cell_u64(c.pid, sv->be_pid),
	                    tls_text(&sv->c, c.tls, sizeof c.tls),
	                    "",
	                    cell_u64(c.id, sv->c.id),
	                    cell_i64(c.worker, sv->c.w->index),
	            });
}

/* ------------------------------------------------------------ the job */

void console_collect_run(struct worker *w, void *arg)
{
	struct listing *job = arg;
	struct bytebuf local = {0};
	struct rset r;
	struct timespec rt_now;
	int64_t now = now_ms(), offset;
	bool last;

	clock_gettime(CLOCK_REALTIME, &rt_now);
	offset = (int64_t)rt_now.tv_sec * 1000 + rt_now.tv_nsec / 1000000 - now;
	rset_rows(&r, &local, job->servers ? NSERVER_COLS : NCLIENT_COLS);
	if (job->servers) {
		for (struct list *n = w->servers.next; n != &w->servers && r.rc == 0; n = n->next)
			server_row(&r, container_of(n, struct server, c.wlink), offset);
	} else {
		for (struct list *n = w->clients.next; n != &w->clients && r.rc == 0; n = n->next)
			client_row(&r, container_of(n, struct client, c.wlink), now, offset);
	}
	pthread_mutex_lock(&job->lock);
	if (job->rc == 0)
		job->rc = r.rc;
	if (job->rc == 0 && local.len > 0)
		job->rc = bytebuf_append(&job->rows, bytebuf_head(&local), local.len);
	last = --job->pending == 0;
	pthread_mutex_unlock(&job->lock);
	bytebuf_free(&local, false);
	if (last) {
		struct inbox_msg *m = calloc(1, sizeof *m);

		if (m == NULL) {
			/* the session waits until it leaves; say why */
			log_error("admin console: out of memory answering a listing");
			listing_free(job);
			return;
		}
		m->type = INBOX_COLLECT_DONE;
		m->job = job;
		m->conn_id = job->conn_id;
		worker_post(job->home, m);
	}
}

void console_collect_done(struct worker *w, void *arg, uint64_t conn_id)
{
	struct listing *job = arg;
	struct client *cl = client_find(w, conn_id);
	struct rset r;
	int rc;

	if (cl == NULL || cl->console == NULL || cl->console->job != job) {
		listing_free(job); /* the session left */
		return;
	}
	cl->console->job = NULL;
	if (job->rc == 0) {
		if (job->servers)
			rset_begin(&r, &cl->c.wbuf, server_cols, NSERVER_COLS);
		else
			rset_begin(&r, &cl->c.wbuf, client_cols, NCLIENT_COLS);
		if (r.rc == 0 && job->rows.len > 0)
			r.rc = bytebuf_append(&cl->c.wbuf, bytebuf_head(&job->rows), job->rows.len);
		rc = rset_end(&r, "SHOW");
	} else {
		rc = proto_error(&cl->c.wbuf, "ERROR", "53200", NULL, "out of memory");
	}
	listing_free(job);
	if (rc < 0) {
		client_close(cl, "out of memory");
		return;
	}
	console_resume_session(cl);
}

void console_collect_abandon(void *arg)
{
	struct listing *job = arg;
	bool last;

	pthread_mutex_lock(&job->lock);
	if (job->pending > 0)
		job->pending--;
	last = job->pending == 0;
	pthread_mutex_unlock(&job->lock);
	if (last)
		listing_free(job);
}
