/*
 * pool_ctl.c — database states set from the admin console (pool_ctl.h).
 *
 * Locking: ctl_lock guards the registry; it is taken after rt->pools_lock
 * (pool_lookup asks pool_ctl_paused() for a new pool), never the other
 * way round: a change is made under ctl_lock alone, then applied to the
 * pools under rt->pools_lock.
 */
#include "autoconf.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cancel.h"
#include "client.h"
#include "pool.h"
#include "pool_ctl.h"
#include "runtime.h"
#include "server.h"
#include "worker.h"

struct db_state {
	struct db_state *next;
	bool paused, disabled;
	char name[]; /* NUL-terminated */
};

static pthread_mutex_t ctl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct db_state *dbs;
static bool all_paused;

/* The entry of db (ctl_lock held); created when `create`. */
static struct db_state *find(const char *db, bool create)
{
	struct db_state *d;
	size_t n;

	for (d = dbs; d != NULL; d = d->next)
		if (strcmp(d->name, db) == 0)
			return d;
	if (!create)
		return NULL;
	n = strlen(db);
	d = calloc(1, sizeof *d + n + 1);
	if (d == NULL)
		return NULL;
	memcpy(d->name, db, n + 1);
	d->next = dbs;
	dbs = d;
	return d;
}

bool pool_ctl_paused(const char *db)
{
	const struct db_state *d;
	bool on;

	pthread_mutex_lock(&ctl_lock);
	d = db != NULL ? find(db, false) : NULL;
	on = all_paused || (d != NULL && d->paused);
	pthread_mutex_unlock(&ctl_lock);
	return on;
}

bool pool_ctl_disabled(const char *db)
{
	const struct db_state *d;
	bool on;

	if (db == NULL)
		return false;
	pthread_mutex_lock(&ctl_lock);
	d = find(db, false);
	on = d != NULL && d->disabled;
	pthread_mutex_unlock(&ctl_lock);
	return on;
}

/* Give every pool of db (every pool: NULL) its paused flag from the
 * registry. */
static void apply(const char *db)
{
	pthread_mutex_lock(&rt->pools_lock);
	for (struct list *n = rt->pools.next; n != &rt->pools; n = n->next) {
		struct pool *p = container_of(n, struct pool, reg_link);

		if (db == NULL || strcmp(p->database, db) == 0)
			pool_set_paused(p, pool_ctl_paused(p->database));
	}
	pthread_mutex_unlock(&rt->pools_lock);
}

int pool_ctl_pause(const char *db)
{
	struct db_state *d = NULL;
	int rc = 0;

	pthread_mutex_lock(&ctl_lock);
	if (db != NULL && (d = find(db, true)) == NULL)
		rc = -ENOMEM;
	else if (all_paused || (d != NULL && d->paused))
		rc = -EALREADY;
	else if (d != NULL)
		d->paused = true;
	else
		all_paused = true;
	pthread_mutex_unlock(&ctl_lock);
	if (rc == 0)
		apply(db);
	return rc;
}

int pool_ctl_resume(const char *db)
{
	struct db_state *d;
	int rc = -ENOENT;

	pthread_mutex_lock(&ctl_lock);
	if (db == NULL) {
		rc = all_paused ? 0 : -ENOENT;
		all_paused = false;
		for (d = dbs; d != NULL; d = d->next) {
			if (d->paused)
				rc = 0;
			d->paused = false;
		}
	} else if ((d = find(db, false)) != NULL && d->paused) {
		d->paused = false; /* a PAUSE of everything still holds it */
		rc = 0;
	} else if (all_paused) {
		rc = -EBUSY;
	}
	pthread_mutex_unlock(&ctl_lock);
	if (rc == 0)
		apply(db);
	return rc;
}

static int set_disabled(const char *db, bool on)
{
	struct db_state *d;
	int rc = 0;

	pthread_mutex_lock(&ctl_lock);
	d = find(db, on);
	if (d == NULL)
		rc = on ? -ENOMEM : -ENOENT;
	else if (d->disabled == on)
		rc = on ? -EALREADY : -ENOENT;
	else
		d->disabled = on;
	pthread_mutex_unlock(&ctl_lock);
	return rc;
}

int pool_ctl_disable(const char *db)
{
	return set_disabled(db, true);
}

int pool_ctl_enable(const char *db)
{
	return set_disabled(db, false);
}

bool pool_ctl_pause_done(const char *db)
{
	bool done = true;

	pthread_mutex_lock(&rt->pools_lock);
	for (struct list *n = rt->pools.next; n != &rt->pools && done; n = n->next) {
		struct pool *p = container_of(n, struct pool, reg_link);

		if (db != NULL && strcmp(p->database, db) != 0)
			continue;
		pthread_mutex_lock(&p->lock);
		done = p->nservers == 0;
		pthread_mutex_unlock(&p->lock);
	}
	pthread_mutex_unlock(&rt->pools_lock);
	return done;
}

int pool_ctl_kill(const char *db)
{
	int rc = pool_ctl_pause(db);

	if (rc < 0 && rc != -EALREADY)
		return rc;
	for (int i = 0; i < rt->nworkers; i++) {
		struct inbox_msg *m = calloc(1, sizeof *m);

		if (m == NULL || (m->name = strdup(db)) == NULL) {
			free(m);
			return -ENOMEM;
		}
		m->type = INBOX_KILL;
		worker_post(rt->workers[i], m);
	}
	return 0;
}

/* The first live client of db on w (not a console session). */
static struct client *kill_next_client(struct worker *w, const char *db)
{
	for (struct list *n = w->clients.next; n != &w->clients; n = n->next) {
		struct client *cl = container_of(n, struct client, c.wlink);

		if (!cl->c.dead && cl->state != CL_CONSOLE && cl->sp.database != NULL &&
		    strcmp(cl->sp.database, db) == 0)
			return cl;
	}
	return NULL;
}

static struct server *kill_next_server(struct worker *w, const char *db)
{
	for (struct list *n = w->servers.next; n != &w->servers; n = n->next) {
		struct server *sv = container_of(n, struct server, c.wlink);

		if (!sv->c.dead && sv->pool != NULL && strcmp(sv->pool->database, db) == 0)
			return sv;
	}
	return NULL;
}

void pool_ctl_kill_worker(struct worker *w, const char *db)
{
	struct client *cl;
	struct server *sv;

	/* A query in progress would run on after its socket is closed:
	 * PostgreSQL is asked to cancel it first. */
	for (struct list *n = w->servers.next; n != &w->servers; n = n->next) {
		sv = container_of(n, struct server, c.wlink);
		if (!sv->c.dead && sv->pending > 0 && sv->pool != NULL &&
		    strcmp(sv->pool->database, db) == 0)
			cancel_server(w, sv);
	}
	/* One at a time from the head: closing one connection may close or
	 * release another (its server, its client), so no saved pointer is
	 * trusted across a close.  Closed ones leave the live lists. */
	while ((cl = kill_next_client(w, db)) != NULL)
		client_fail(cl, "57P01", "terminating connection due to administrator command");
	while ((sv = kill_next_server(w, db)) != NULL)
		server_close(sv, "KILL from the admin console");
}

void pool_ctl_free(void)
{
	pthread_mutex_lock(&ctl_lock);
	while (dbs != NULL) {
		struct db_state *d = dbs;

		dbs = d->next;
		free(d);
	}
	all_paused = false;
	pthread_mutex_unlock(&ctl_lock);
}
