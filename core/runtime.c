/*
 * runtime.c — configuration generations and the runtime struct.
 */
#include "autoconf.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "chainset.h"
#include "cred.h"
#include "host.h"
#include "log.h"
#include "modload.h"
#include "runtime.h"

struct runtime *rt;

/* Resolve a server address once, here and not in a worker.  A host that
 * starts with '/' is a Unix socket directory. */
static void resolve_server(const struct cfg_server *s, struct server_addr *a)
{
	struct addrinfo hints, *res = NULL;
	char port[16];
	int rc;

	memset(a, 0, sizeof *a);
	if (s->host[0] == '/') {
		struct sockaddr_un *sun = (struct sockaddr_un *)&a->ss;

		sun->sun_family = AF_UNIX;
		if ((size_t)snprintf(sun->sun_path, sizeof sun->sun_path, "%s/.s.PGSQL.%d", s->host,
		                     s->port) >= sizeof sun->sun_path) {
			log_warn("server \"%s\": socket path too long", s->name);
			return;
		}
		a->len = sizeof *sun;
		a->ok = true;
		snprintf(a->desc, sizeof a->desc, "%s", sun->sun_path);
		return;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof port, "%d", s->port);
	rc = getaddrinfo(s->host, port, &hints, &res);
	if (rc != 0 || res == NULL) {
		log_warn("server \"%s\": could not resolve \"%s\": %s", s->name, s->host,
		         gai_strerror(rc));
		snprintf(a->desc, sizeof a->desc, "%s:%d", s->host, s->port);
		return;
	}
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	a->ok = true;
	snprintf(a->desc, sizeof a->desc, "%s:%d", s->host, s->port);
	freeaddrinfo(res);
}

struct gen *gen_build(const char *config_path, uint64_t number, char *err, size_t errlen)
{
	struct gen *g = calloc(1, sizeof *g);

	if (g == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	atomic_init(&g->refs, 1);
	g->number = number;
	g->cfg = config_load(config_path, err, errlen);
	if (g->cfg == NULL)
		goto fail;
	g->mods = modload_set_create(g->cfg, host_services(), err, errlen);
	if (g->mods == NULL)
		goto fail;
	if (cred_check_pools(g, err, errlen) < 0)
		goto fail;
	g->chains = chainset_build(g->cfg, g->mods, err, errlen);
	if (g->chains == NULL)
		goto fail;
	g->addrs = calloc(g->cfg->nservers ? g->cfg->nservers : 1, sizeof *g->addrs);
	if (g->addrs == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < g->cfg->nservers; i++)
		resolve_server(&g->cfg->servers[i], &g->addrs[i]);
	return g;
fail:
	atomic_store(&g->refs, 1);
	gen_unref(g);
	return NULL;
}

void gen_ref(struct gen *g)
{
	atomic_fetch_add(&g->refs, 1);
}

void gen_unref(struct gen *g)
{
	if (g == NULL || atomic_fetch_sub(&g->refs, 1) != 1)
		return;
	if (g->chains)
		chainset_unref(g->chains);
	if (g->mods)
		modload_set_unref(g->mods);
	config_free(g->cfg);
	free(g->addrs);
	free(g);
}

struct gen *runtime_gen_get(void)
{
	struct gen *g;

	pthread_mutex_lock(&rt->gen_lock);
	g = rt->gen;
	gen_ref(g);
	pthread_mutex_unlock(&rt->gen_lock);
	return g;
}

void runtime_gen_set(struct gen *g)
{
	struct gen *old;

	pthread_mutex_lock(&rt->gen_lock);
	old = rt->gen;
	rt->gen = g;
	pthread_mutex_unlock(&rt->gen_lock);
	gen_unref(old);
}

uint64_t runtime_next_id(void)
{
	return atomic_fetch_add(&rt->next_conn_id, 1) + 1;
}
