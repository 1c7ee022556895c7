/*
 * pool.c — server pools per (database, user): the global size limit, the
 * per-worker idle lists and waiter queues, handover between workers.
 *
 * Locking: one mutex per pool guards its counters and lists; nothing that
 * can call back into a client or a server runs while it is held.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "client.h"
#include "io.h"
#include "log.h"
#include "pool.h"
#include "pool_ctl.h"
#include "runtime.h"
#include "server.h"
#include "worker.h"

static void post_kick(struct pool *p, int target);

/* Which workers have waiters, noted under the pool's lock and told
 * (INBOX_WANT_SERVER) after it is released. */
struct kicks {
	bool worker[PGS_CONFIG_MAX_WORKERS];
};

static void note_waiters(struct pool *p, struct kicks *k)
{
	for (int i = 0; i < p->nworkers && i < PGS_CONFIG_MAX_WORKERS; i++)
		k->worker[i] = !list_empty(&p->waiters[i]);
}

static void post_kicks(struct pool *p, const struct kicks *k)
{
	for (int i = 0; i < p->nworkers && i < PGS_CONFIG_MAX_WORKERS; i++)
		if (k->worker[i])
			post_kick(p, i);
}

static struct pool *pool_new(struct gen *g, const struct cfg_pool *pc, const char *database,
                             const char *user)
{
	struct pool *p = calloc(1, sizeof *p);
	int nw = rt->nworkers;

	if (p == NULL)
		return NULL;
	p->nworkers = nw;
	p->idle = calloc((size_t)nw, sizeof *p->idle);
	p->nidle = calloc((size_t)nw, sizeof *p->nidle);
	p->waiters = calloc((size_t)nw, sizeof *p->waiters);
	p->nconnecting = calloc((size_t)nw, sizeof *p->nconnecting);
	p->database = strdup(database);
	p->user = strdup(user);
	p->counters = aligned_alloc(_Alignof(struct pool_counters),
	                            (size_t)nw * sizeof *p->counters);
	if (!p->idle || !p->nidle || !p->waiters || !p->nconnecting || !p->database || !p->user ||
	    !p->counters) {
		free(p->counters);
		free(p->idle);
		free(p->nidle);
		free(p->waiters);
		free(p->nconnecting);
		free(p->database);
		free(p->user);
		free(p);
		return NULL;
	}
	memset(p->counters, 0, (size_t)nw * sizeof *p->counters);
	for (int i = 0; i < nw; i++) {
		list_init(&p->idle[i]);
		list_init(&p->waiters[i]);
	}
	pthread_mutex_init(&p->lock, NULL);
	p->gen = g;
	gen_ref(g);
	p->pcfg = pc;
	p->scfg = &g->cfg->servers[pc->server_index];
	p->initial_target = pc->initial_size;
	p->paused = pool_ctl_paused(database); /* pools_lock, then the ctl lock */
	return p;
}

struct pool *pool_lookup(struct gen *g, const char *database, const char *user)
{
	struct list *n;
	struct pool *p = NULL;
	const struct cfg_pool *pc;

	pthread_mutex_lock(&rt->pools_lock);
	for (n = rt->pools.next; n != &rt->pools; n = n->next) {
		struct pool *q = container_of(n, struct pool, reg_link);

		if (strcmp(q->database, database) == 0 && strcmp(q->user, user) == 0) {
			p = q;
			break;
		}
	}
	if (p != NULL && p->retired) {
		/* Its config went away at a reload; a new entry may apply now. */
		pc = config_find_pool(g->cfg, database, user);
		if (pc != NULL) {
			pthread_mutex_lock(&p->lock);
			gen_ref(g);
			gen_unref(p->gen);
			p->gen = g;
			p->pcfg = pc;
			p->scfg = &g->cfg->servers[pc->server_index];
			p->retired = false;
			pthread_mutex_unlock(&p->lock);
		} else {
			p = NULL;
		}
	} else if (p == NULL) {
		pc = config_find_pool(g->cfg, database, user);
		if (pc != NULL) {
			p = pool_new(g, pc, database, user);
			if (p != NULL)
				list_add_tail(&rt->pools, &p->reg_link);
		}
	}
	pthread_mutex_unlock(&rt->pools_lock);
	return p;
}

void pool_reconfigure_all(struct gen *g)
{
	struct list *n;

	pthread_mutex_lock(&rt->pools_lock);
	for (n = rt->pools.next; n != &rt->pools; n = n->next) {
		struct pool *p = container_of(n, struct pool, reg_link);
		const struct cfg_pool *pc = config_find_pool(g->cfg, p->database, p->user);
		struct gen *old;

		struct kicks k = {0};

		pthread_mutex_lock(&p->lock);
		old = p->gen;
		if (pc != NULL) {
			p->gen = g;
			gen_ref(g);
			p->pcfg = pc;
			p->scfg = &g->cfg->servers[pc->server_index];
			p->retired = false;
			p->have_welcome = false; /* the server may have changed */
			gen_unref(old);
			/* a larger max_size: the waiters may get servers now */
			note_waiters(p, &k);
		} else {
			p->retired = true;
		}
		pthread_mutex_unlock(&p->lock);
		post_kicks(p, &k);
	}
	pthread_mutex_unlock(&rt->pools_lock);
}

void pool_free_all(void)
{
	struct list *n;

	while ((n = list_pop(&rt->pools)) != NULL) {
		struct pool *p = container_of(n, struct pool, reg_link);

		for (int i = 0; i < p->nworkers; i++) {
			struct list *m;

			while ((m = list_pop(&p->idle[i])) != NULL)
				; /* the servers were freed with their workers */
		}
		params_clear(&p->welcome);
		gen_unref(p->gen);
		pthread_mutex_destroy(&p->lock);
		free(p->idle);
		free(p->nidle);
		free(p->waiters);
		free(p->nconnecting);
		free(p->counters);
		free(p->database);
		free(p->user);
		free(p);
	}
}

static bool str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Does a server made under an older generation still log in the way the
 * pool's current settings say? */
static bool same_backend(const struct server *sv, const struct pool *p)
{
	const struct cfg_server *a = &sv->gen->cfg->servers[sv->pcfg->server_index];
	const struct cfg_server *b = p->scfg;

	return a->port == b->port && str_eq(a->host, b->host) && str_eq(a->sslmode, b->sslmode) &&
	       str_eq(a->sslrootcert, b->sslrootcert) && str_eq(a->sslcert, b->sslcert) &&
	       str_eq(a->sslkey, b->sslkey) && str_eq(a->sslcrl, b->sslcrl) &&
	       str_eq(a->gssencmode, b->gssencmode) && str_eq(a->krbsrvname, b->krbsrvname) &&
	       str_eq(sv->pcfg->password, p->pcfg->password) &&
	       str_eq(sv->pcfg->server_user, p->pcfg->server_user) &&
	       str_eq(sv->pcfg->server_database, p->pcfg->server_database) &&
	       sv->pcfg->mode == p->pcfg->mode;
}

/* Is a server too old to be reused?  (caller holds p->lock) */
static bool expired(struct pool *p, struct server *sv, int64_t now)
{
	const struct pgs_config *cfg = p->gen->cfg;

	return p->retired || (sv->gen != p->gen && !same_backend(sv, p)) ||
	       (cfg->server_lifetime > 0 && now - sv->created > cfg->server_lifetime);
}

/* Worker that has waiters, other than `self`; -1 if none (lock held). */
static int worker_with_waiters(struct pool *p, int self)
{
	for (int i = 0; i < p->nworkers; i++)
		if (i != self && !list_empty(&p->waiters[i]))
			return i;
	return -1;
}

static int worker_with_idle(struct pool *p, int self)
{
	for (int i = 0; i < p->nworkers; i++)
		if (i != self && p->nidle[i] > 0)
			return i;
	return -1;
}

/* Take a server slot for a connection opened by worker widx, if the pool
 * has one left (lock held). */
static bool reserve_slot(struct pool *p, int widx)
{
	if (p->retired || p->paused || p->nservers >= p->pcfg->max_size)
		return false;
	p->nservers++;
	p->nconnecting[widx]++;
	return true;
}

static void post_kick(struct pool *p, int target)
{
	struct inbox_msg *m = calloc(1, sizeof *m);

	if (m == NULL)
		return;
	m->type = INBOX_WANT_SERVER;
	m->pool = p;
	worker_post(rt->workers[target], m);
}

static void post_server(struct server *sv, int target)
{
	struct inbox_msg *m = calloc(1, sizeof *m);

	if (m == NULL) {
		server_close(sv, "out of memory");
		return;
	}
	server_detach(sv);
	m->type = INBOX_SERVER;
	m->server = sv;
	worker_post(rt->workers[target], m);
}

struct server *pool_acquire(struct pool *p, struct worker *w, struct client *cl)
{
	struct server *sv = NULL;
	bool connect = false;
	int kick = -1;

	pthread_mutex_lock(&p->lock);
	while (p->nidle[w->index] > 0 && !p->paused) {
		struct list *n = list_pop(&p->idle[w->index]);

		p->nidle[w->index]--;
		sv = container_of(n, struct server, pool_link);
		if (!expired(p, sv, w->now))
			break;
		/* Too old: drop it after the lock is released. */
		pthread_mutex_unlock(&p->lock);
		server_close(sv, "server_lifetime reached");
		pthread_mutex_lock(&p->lock);
		sv = NULL;
	}
	if (sv == NULL) {
		list_add_tail(&p->waiters[w->index], &cl->wait_link);
		p->nwaiting++;
		connect = reserve_slot(p, w->index);
		if (!connect && !p->paused)
			kick = worker_with_idle(p, w->index);
	}
	pthread_mutex_unlock(&p->lock);
	if (connect)
		server_connect(p, w);
	if (kick >= 0)
		post_kick(p, kick);
	return sv;
}

void pool_cancel_wait(struct pool *p, struct client *cl)
{
	pthread_mutex_lock(&p->lock);
	if (list_linked(&cl->wait_link)) {
		list_del(&cl->wait_link);
		p->nwaiting--;
	}
	pthread_mutex_unlock(&p->lock);
}

void pool_release(struct pool *p, struct worker *w, struct server *sv)
{
	struct client *cl = NULL;
	int target = -1;

	pthread_mutex_lock(&p->lock);
	if (sv->state == SV_LOGIN) {
		p->nconnecting[w->index]--;
		/* Out of "connecting" once: a LOGIN_WAIT client in transaction
		 * mode releases it again (client_got_server). */
		sv->state = SV_IDLE;
	}
	if (sv->close_when_done || p->paused || expired(p, sv, w->now)) {
		bool paused = p->paused;

		if (paused && !sv->close_when_done)
			sv->state = SV_IDLE; /* a normal end: logged as such */
		pthread_mutex_unlock(&p->lock);
		server_close(sv, sv->close_when_done ? "reset failed"
		                 : paused            ? "the pool is paused"
		                                     : "server_lifetime reached or config changed");
		return;
	}
	if (!list_empty(&p->waiters[w->index])) {
		struct list *n = list_pop(&p->waiters[w->index]);

		p->nwaiting--;
		cl = container_of(n, struct client, wait_link);
	} else if (p->nwaiting > 0) {
		target = worker_with_waiters(p, w->index);
	}
	if (cl == NULL && target < 0) {
		sv->state = SV_IDLE;
		sv->last_used = w->now;
		list_add_tail(&p->idle[w->index], &sv->pool_link);
		p->nidle[w->index]++;
	}
	pthread_mutex_unlock(&p->lock);
	if (cl != NULL) {
		client_got_server(cl, sv);
	} else if (target >= 0) {
		sv->state = SV_IDLE;
		post_server(sv, target);
	} else if (!(sv->c.events & EPOLLIN) && io_want_read(&sv->c, 1) < 0) {
		server_close(sv, "epoll failure");
	}
}

void pool_server_gone(struct pool *p, struct worker *w, struct server *sv)
{
	bool connect = false;
	int kick = -1;

	pthread_mutex_lock(&p->lock);
	if (list_linked(&sv->pool_link)) {
		list_del(&sv->pool_link);
		p->nidle[w->index]--;
	}
	p->nservers--;
	if (p->nwaiting > 0 && !p->retired && !p->paused) {
		if (!list_empty(&p->waiters[w->index]))
			connect = reserve_slot(p, w->index);
		else
			kick = worker_with_waiters(p, w->index);
	}
	pthread_mutex_unlock(&p->lock);
	if (connect)
		server_connect(p, w);
	if (kick >= 0)
		post_kick(p, kick);
}

void pool_connect_failed(struct pool *p, struct worker *w, struct server *sv, const char *message)
{
	struct client *cl = NULL;

	(void)sv;
	pthread_mutex_lock(&p->lock);
	p->nservers--;
	p->nconnecting[w->index]--;
	if (!list_empty(&p->waiters[w->index])) {
		struct list *n = list_pop(&p->waiters[w->index]);

		p->nwaiting--;
		cl = container_of(n, struct client, wait_link);
	}
	pthread_mutex_unlock(&p->lock);
	if (cl != NULL)
		client_fail(cl, "08006", "%s", message);
	/* Others still waiting on this worker get their own attempt, from the
	 * next loop turn: a connect that fails at once must not recurse here
	 * once per waiter. */
	post_kick(p, w->index);
}

void pool_handover_idle(struct pool *p, struct worker *w)
{
	int me = w->index;

	for (;;) {
		struct server *give = NULL;
		struct client *cl = NULL;
		bool connect = false;
		int target = -1;

		pthread_mutex_lock(&p->lock);
		if (p->paused) {
			/* nothing moves until RESUME */
		} else if (!list_empty(&p->waiters[me]) && p->nidle[me] > 0) {
			give = container_of(list_pop(&p->idle[me]), struct server, pool_link);
			p->nidle[me]--;
			cl = container_of(list_pop(&p->waiters[me]), struct client, wait_link);
			p->nwaiting--;
		} else if (!list_empty(&p->waiters[me])) {
			int nwait = 0;

			for (struct list *n = p->waiters[me].next; n != &p->waiters[me];
			     n = n->next)
				nwait++;
			if (p->nconnecting[me] < nwait)
				connect = reserve_slot(p, me);
		} else if (p->nidle[me] > 0 && (target = worker_with_waiters(p, me)) >= 0) {
			give = container_of(list_pop(&p->idle[me]), struct server, pool_link);
			p->nidle[me]--;
		}
		pthread_mutex_unlock(&p->lock);
		if (cl != NULL)
			client_got_server(cl, give);
		else if (give != NULL)
			post_server(give, target);
		else if (connect)
			server_connect(p, w);
		else
			return;
	}
}

void pool_adopt_server(struct worker *w, struct server *sv)
{
	if (server_attach(sv, w) < 0) {
		server_close(sv, "epoll failure");
		return;
	}
	pool_release(sv->pool, w, sv);
}

void pool_set_paused(struct pool *p, bool paused)
{
	struct kicks k = {0};

	pthread_mutex_lock(&p->lock);
	if (p->paused && !paused)
		note_waiters(p, &k);
	p->paused = paused;
	pthread_mutex_unlock(&p->lock);
	/* each worker with waiters serves them (idle servers, new ones) */
	post_kicks(p, &k);
}

enum pool_mode pool_mode(struct pool *p)
{
	enum pool_mode m;

	pthread_mutex_lock(&p->lock);
	m = p->pcfg->mode;
	pthread_mutex_unlock(&p->lock);
	return m;
}

void pool_set_welcome(struct pool *p, const struct param_set *params)
{
	pthread_mutex_lock(&p->lock);
	if (!p->have_welcome && params_copy(&p->welcome, params) == 0)
		p->have_welcome = true;
	pthread_mutex_unlock(&p->lock);
}

bool pool_get_welcome(struct pool *p, struct param_set *out)
{
	bool ok = false;

	pthread_mutex_lock(&p->lock);
	if (p->have_welcome)
		ok = params_copy(out, &p->welcome) == 0;
	pthread_mutex_unlock(&p->lock);
	return ok;
}

void pool_sweep_worker(struct worker *w)
{
	struct list *n;
	int me = w->index;

	server_sweep(w);
	pthread_mutex_lock(&rt->pools_lock);
	for (n = rt->pools.next; n != &rt->pools; n = n->next) {
		struct pool *p = container_of(n, struct pool, reg_link);
		const struct pgs_config *cfg;
		struct server *victim;
		int connects = 0;

		do {
			victim = NULL;
			pthread_mutex_lock(&p->lock);
			cfg = p->gen->cfg;
			for (struct list *m = p->idle[me].next; m != &p->idle[me]; m = m->next) {
				struct server *sv = container_of(m, struct server, pool_link);
				bool idle_too_long = cfg->server_idle_timeout > 0 &&
				                     w->now - sv->last_used >
				                             cfg->server_idle_timeout &&
				                     p->nservers > p->pcfg->min_size &&
				                     p->initial_target == 0;

				if (idle_too_long || p->paused || expired(p, sv, w->now)) {
					list_del(&sv->pool_link);
					p->nidle[me]--;
					victim = sv;
					break;
				}
			}
			/* min_size (and initial_size once, at start): worker 0
			 * keeps the pool topped up. */
			if (p->nservers >= p->initial_target)
				p->initial_target = 0;
			if (victim == NULL && me == 0) {
				int target = p->pcfg->min_size > p->initial_target
				                     ? p->pcfg->min_size
				                     : p->initial_target;

				while (p->nservers < target && reserve_slot(p, me))
					connects++;
			}
			pthread_mutex_unlock(&p->lock);
			if (victim != NULL)
				server_close(victim, p->paused ? "the pool is paused"
				                               : "server_idle_timeout or "
				                                 "server_lifetime");
		} while (victim != NULL);
		pthread_mutex_unlock(&rt->pools_lock);
		while (connects-- > 0)
			server_connect(p, w);
		pthread_mutex_lock(&rt->pools_lock);
	}
	pthread_mutex_unlock(&rt->pools_lock);
}

/* One pool's snapshot: the counters without a lock, the rest under it. */
static void snapshot_one(struct pool *p, struct stats_pool_snap *o, int64_t now)
{
	int64_t oldest = now, idle = 0, connecting = 0, total;

	memset(o, 0, sizeof *o);
	o->database = p->database;
	o->user = p->user;
	for (int i = 0; i < p->nworkers; i++) {
		struct pool_counters *pc = &p->counters[i];

		o->transactions += stats_read(&pc->transactions);
		o->queries += stats_read(&pc->queries);
		o->bytes_in += stats_read(&pc->bytes_in);
		o->bytes_out += stats_read(&pc->bytes_out);
		o->connect_errors += stats_read(&pc->connect_errors);
		for (int st = 0; st < STATS_CL_NSTATES; st++)
			o->clients[st] += atomic_load_explicit(&pc->clients[st],
			                                       memory_order_relaxed);
	}
	pthread_mutex_lock(&p->lock);
	total = p->nservers;
	for (int i = 0; i < p->nworkers; i++) {
		idle += p->nidle[i];
		connecting += p->nconnecting[i];
		/* each worker's queue is in arrival order: its head waited longest */
		if (!list_empty(&p->waiters[i])) {
			const struct client *cl = container_of(p->waiters[i].next, struct client,
			                                       wait_link);

			if (cl->state_since < oldest)
				oldest = cl->state_since;
		}
	}
	pthread_mutex_unlock(&p->lock);
	o->servers_idle = idle;
	o->servers_connecting = connecting;
	o->servers_active = total - idle - connecting > 0 ? total - idle - connecting : 0;
	o->wait_max_ms = now - oldest;
}

int pool_snapshot_all(struct stats_pool_snap **out)
{
	struct pool **ptrs;
	struct stats_pool_snap *snaps;
	size_t n = 0, cap = 0;
	int64_t now = now_ms();
	struct list *l;

	*out = NULL;
	pthread_mutex_lock(&rt->pools_lock);
	for (l = rt->pools.next; l != &rt->pools; l = l->next)
		cap++;
	pthread_mutex_unlock(&rt->pools_lock);
	if (cap == 0)
		return 0;
	ptrs = calloc(cap, sizeof *ptrs);
	snaps = calloc(cap, sizeof *snaps);
	if (ptrs == NULL || snaps == NULL) {
		free(ptrs);
		free(snaps);
		return -ENOMEM;
	}
	/* Pools are only ever added (at the tail): the first cap are there. */
	pthread_mutex_lock(&rt->pools_lock);
	for (l = rt->pools.next; l != &rt->pools && n < cap; l = l->next)
		ptrs[n++] = container_of(l, struct pool, reg_link);
	pthread_mutex_unlock(&rt->pools_lock);
	for (size_t i = 0; i < n; i++)
		snapshot_one(ptrs[i], &snaps[i], now);
	free(ptrs);
	*out = snaps;
	return (int)n;
}
