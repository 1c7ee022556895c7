/*
 * workpool.c — the work pool behind pgs_host.defer.
 */
#include "autoconf.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "runtime.h"
#include "util.h"
#include "worker.h"
#include "workpool.h"

struct job {
	struct list link;
	struct worker *w;
	uint64_t conn_id;
	void (*work)(void *);
	void *arg;
};

struct workpool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct list queue;
	bool stopping;
	int nthreads;
	pthread_t *threads;
};

static void *workpool_main(void *arg)
{
	struct workpool *wp = arg;

	for (;;) {
		struct list *n;
		struct job *j;
		struct inbox_msg *m;

		pthread_mutex_lock(&wp->lock);
		while (list_empty(&wp->queue) && !wp->stopping)
			pthread_cond_wait(&wp->cond, &wp->lock);
		n = list_pop(&wp->queue);
		pthread_mutex_unlock(&wp->lock);
		if (n == NULL)
			return NULL; /* stopping and nothing left */
		j = container_of(n, struct job, link);
		j->work(j->arg);
		m = calloc(1, sizeof *m);
		if (m != NULL) {
			m->type = INBOX_DEFER_DONE;
			m->conn_id = j->conn_id;
			worker_post(j->w, m);
		}
		free(j);
	}
}

int workpool_start(int nthreads)
{
	struct workpool *wp = calloc(1, sizeof *wp);

	if (wp == NULL)
		return -1;
	pthread_mutex_init(&wp->lock, NULL);
	pthread_cond_init(&wp->cond, NULL);
	list_init(&wp->queue);
	wp->threads = calloc((size_t)nthreads, sizeof *wp->threads);
	if (wp->threads == NULL) {
		free(wp);
		return -1;
	}
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&wp->threads[i], NULL, workpool_main, wp) != 0)
			break;
		wp->nthreads++;
	}
	rt->workpool = wp;
	return wp->nthreads > 0 ? 0 : -1;
}

void workpool_stop(void)
{
	struct workpool *wp = rt->workpool;

	if (wp == NULL)
		return;
	pthread_mutex_lock(&wp->lock);
	wp->stopping = true;
	pthread_cond_broadcast(&wp->cond);
	pthread_mutex_unlock(&wp->lock);
	for (int i = 0; i < wp->nthreads; i++)
		pthread_join(wp->threads[i], NULL);
	free(wp->threads);
	pthread_cond_destroy(&wp->cond);
	pthread_mutex_destroy(&wp->lock);
	free(wp);
	rt->workpool = NULL;
}

int workpool_submit(struct worker *w, uint64_t conn_id, void (*work)(void *), void *arg)
{
	struct workpool *wp = rt->workpool;
	struct job *j;

	if (wp == NULL)
		return -ESHUTDOWN;
	j = calloc(1, sizeof *j);
	if (j == NULL)
		return -ENOMEM;
	j->w = w;
	j->conn_id = conn_id;
	j->work = work;
	j->arg = arg;
	pthread_mutex_lock(&wp->lock);
	if (wp->stopping) {
		pthread_mutex_unlock(&wp->lock);
		free(j);
		return -ESHUTDOWN;
	}
	list_add_tail(&wp->queue, &j->link);
	pthread_cond_signal(&wp->cond);
	pthread_mutex_unlock(&wp->lock);
	return 0;
}
