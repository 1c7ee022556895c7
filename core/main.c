/*
 * main.c — command line, start-up, signals (SIGHUP reload, SIGTERM drain,
 * SIGINT fast stop) and shutdown.  Owns the runtime struct.
 */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ltdl.h>

#include "cancel.h"
#include "listen.h"
#include "audit.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "pool_ctl.h"
#include "runtime.h"
#include "util.h"
#include "worker.h"
#include "workpool.h"

#define ERRBUF 16384

static void usage(FILE *f)
{
	fprintf(f, "Usage: pgsluice -c FILE            run in the foreground\n"
	           "       pgsluice --check-config -c FILE\n"
	           "       pgsluice --version\n"
	           "\n"
	           "FILE is read first, then every conf.d/*.conf beside it, in name order.\n");
}

/* Print each line of an error buffer. */
static void print_errors(const char *what, const char *err)
{
	fprintf(stderr, "pgsluice: %s:\n%s%s", what, err,
	        err[0] && err[strlen(err) - 1] == '\n' ? "" : "\n");
}

static int check_config(const char *path)
{
	char *err = calloc(1, ERRBUF);
	struct runtime local = {0};
	struct gen *g;

	if (err == NULL)
		return 1;
	rt = &local;
	g = gen_build(path, 1, err, ERRBUF);
	if (g == NULL) {
		print_errors("configuration is not valid", err);
		free(err);
		return 1;
	}
	printf("configuration file %s is valid (%zu modules, %zu pools, %zu servers)\n", path,
	       g->cfg->nmodules, g->cfg->npools, g->cfg->nservers);
	gen_unref(g);
	free(err);
	return 0;
}

/* Open the listeners of every worker; 0 or -1 with err. */
static int open_listeners(const struct pgs_config *cfg, struct listener **unix_out, char *err,
                          size_t errlen)
{
	for (int i = 0; i < rt->nworkers; i++) {
		struct worker *w = rt->workers[i];

		for (size_t j = 0; j < cfg->nlisten; j++)
			if (listener_open_tcp(cfg->listen[j].host, cfg->listen[j].port, i == 0,
			                      &w->listeners, &w->nlisteners, err, errlen) < 0)
				return -1;
		for (int k = 0; k < w->nlisteners; k++)
			if (worker_watch_listener(w, w->listeners[k]) < 0) {
				snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
				return -1;
			}
	}
	if (cfg->unix_socket_dir != NULL) {
		int port = cfg->nlisten > 0 ? cfg->listen[0].port : 6432;

		if (listener_open_unix(cfg->unix_socket_dir, port, cfg->unix_socket_mode, unix_out,
		                       err, errlen) < 0)
			return -1;
		for (int i = 0; i < rt->nworkers; i++) {
			struct worker *w = rt->workers[i];
			struct listener **nl = realloc(w->listeners,
			                               sizeof *nl * (size_t)(w->nlisteners + 1));

			if (nl == NULL || worker_watch_listener(w, *unix_out) < 0) {
				if (nl)
					w->listeners = nl;
				snprintf(err, errlen, "could not watch the Unix socket");
				return -1;
			}
			w->listeners = nl;
			w->listeners[w->nlisteners++] = *unix_out;
		}
	}
	return 0;
}

static void reload(uint64_t *number, const struct metrics *metrics)
{
	char *err = calloc(1, ERRBUF);
	struct gen *g;

	if (err == NULL)
		return;
	g = gen_build(rt->config_path, ++*number, err, ERRBUF);
	if (g == NULL) {
		char *line, *save = NULL;

		/* One log line per error line (the log shows no control
		 * characters). */
		stats_add(&rt->stats.reloads_failed, 1);
		log_error("reload of %s failed; the previous configuration stays in force:",
		          rt->config_path);
		{
			struct gen *cur = runtime_gen_get();

			audit_reload(cur->mods, false, rt->config_path,
			             "the new configuration is invalid");
			gen_unref(cur);
		}
		for (line = strtok_r(err, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save))
			log_error("  %s", line);
		free(err);
		return;
	}
	free(err);
	stats_add(&rt->stats.reloads_ok, 1);
	/* The endpoint keeps the address it started with. */
	if (!metrics_matches(metrics, &g->cfg->metrics))
		log_warn("metrics settings changed (%s): they take effect at the next restart; "
		         "the endpoint stays at %s",
		         g->cfg->metrics.where ? g->cfg->metrics.where : "group removed",
		         metrics_describe(metrics));
	log_set_level(g->cfg->log_level);
	pool_reconfigure_all(g);
	runtime_gen_set(g);
	log_info("configuration reloaded (generation %llu)", (unsigned long long)*number);
	audit_reload(g->mods, true, rt->config_path, NULL);
}

static void wake_all(void)
{
	for (int i = 0; i < rt->nworkers; i++)
		worker_wake(rt->workers[i]);
}

static int run(const char *path)
{
	static struct runtime runtime; /* the one runtime struct, owned here */
	char *err = calloc(1, ERRBUF);
	struct listener *unix_listener = NULL;
	struct metrics *metrics = NULL;
	uint64_t number = 1;
	sigset_t sigs;
	struct gen *g;
	int rc = 0;
	int64_t drain_deadline = 0;

	if (err == NULL)
		return 1;
	rt = &runtime;
	pthread_mutex_init(&rt->gen_lock, NULL);
	pthread_mutex_init(&rt->pools_lock, NULL);
	list_init(&rt->pools);
	stats_init(&rt->stats);
	rt->config_path = path;
	if (cancel_init() < 0) {
		fprintf(stderr, "pgsluice: out of memory\n");
		return 1;
	}
	g = gen_build(path, number, err, ERRBUF);
	if (g == NULL) {
		print_errors("could not start", err);
		free(err);
		return 1;
	}
	rt->gen = g;
	log_set_level(g->cfg->log_level);
	rt->nworkers = g->cfg->workers > 0 ? g->cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (rt->nworkers < 1)
		rt->nworkers = 1;

	/* Workers inherit this mask: only the main thread takes signals. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	rt->workers = calloc((size_t)rt->nworkers, sizeof *rt->workers);
	if (rt->workers == NULL) {
		fprintf(stderr, "pgsluice: out of memory\n");
		return 1;
	}
	for (int i = 0; i < rt->nworkers; i++) {
		rt->workers[i] = worker_create(i, err, ERRBUF);
		if (rt->workers[i] == NULL) {
			print_errors("could not start", err);
			return 1;
		}
	}
	if (open_listeners(g->cfg, &unix_listener, err, ERRBUF) < 0) {
		print_errors("could not start", err);
		return 1;
	}
	if (metrics_start(&g->cfg->metrics, &metrics, err, ERRBUF) < 0) {
		size_t n = strlen(err);

		snprintf(err + n, ERRBUF - n, " (%s)", g->cfg->metrics.where);
		print_errors("could not start", err);
		return 1;
	}
	/* Pools named exactly (no "*") exist from the start, so that
	 * initial_size and min_size servers are opened before any client. */
	for (size_t i = 0; i < g->cfg->npools; i++) {
		const struct cfg_pool *pc = &g->cfg->pools[i];

		if (strcmp(pc->database, "*") != 0 && strcmp(pc->user, "*") != 0)
			(void)pool_lookup(g, pc->database, pc->user);
	}
	if (workpool_start(2) < 0) {
		fprintf(stderr, "pgsluice: could not start the work pool\n");
		return 1;
	}
	for (int i = 0; i < rt->nworkers; i++)
		if (worker_start(rt->workers[i]) < 0) {
			fprintf(stderr, "pgsluice: could not start worker %d\n", i);
			return 1;
		}
	log_info("%s started: %d worker%s, %zu listen address%s%s%s, config %s", PACKAGE_STRING,
	         rt->nworkers, rt->nworkers == 1 ? "" : "s", g->cfg->nlisten,
	         g->cfg->nlisten == 1 ? "" : "es", unix_listener ? ", Unix socket " : "",
	         unix_listener ? unix_listener->desc : "", path);
	if (metrics != NULL)
		log_info("metrics endpoint on http://%s", metrics_describe(metrics));

	for (;;) {
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 200 * 1000000L};
		int sig = sigtimedwait(&sigs, NULL, &ts);

		if (sig == SIGHUP) {
			log_info("received SIGHUP: reloading %s", path);
			reload(&number, metrics);
		} else if (sig == SIGUSR1) {
			struct gen *cur = runtime_gen_get();

			log_info("received SIGUSR1: reopening audit files");
			audit_reopen(cur->mods);
			gen_unref(cur);
		} else if (sig == SIGINT) {
			log_info("received SIGINT: fast shutdown");
			break;
		} else if (sig == SIGTERM && !atomic_load(&rt->draining)) {
			struct gen *cur = runtime_gen_get();

			log_info("received SIGTERM: no new connections; waiting for clients to "
			         "finish");
			drain_deadline = now_ms() + cur->cfg->shutdown_timeout;
			gen_unref(cur);
			atomic_store(&rt->draining, true);
			wake_all();
		} else if (sig == SIGTERM) {
			log_info("received a second SIGTERM: fast shutdown");
			break;
		}
		if (atomic_load(&rt->draining)) {
			if (atomic_load(&rt->nclients) == 0) {
				log_info("all clients are gone: shutting down");
				break;
			}
			if (drain_deadline > 0 && now_ms() > drain_deadline) {
				log_warn("shutdown_timeout reached with %d clients left: closing "
				         "them",
				         atomic_load(&rt->nclients));
				break;
			}
		}
	}
	/* The endpoint reads the pools and counters: it goes first. */
	metrics_stop(metrics);
	/* Jobs finish first: they report to workers that must still exist. */
	workpool_stop();
	atomic_store(&rt->stopping, true);
	wake_all();
	for (int i = 0; i < rt->nworkers; i++)
		worker_join(rt->workers[i]);
	for (int i = 0; i < rt->nworkers; i++)
		worker_free(rt->workers[i]);
	free(rt->workers);
	listener_close(unix_listener, true);
	pool_free_all();
	pool_ctl_free();
	runtime_gen_set(NULL);
	cancel_fini();
	stats_fini(&rt->stats);
	lt_dlexit();
	free(err);
	log_info("pgsluice stopped");
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"check-config", no_argument, NULL, 'C'},
	        {"version", no_argument, NULL, 'V'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	bool check = false;
	int c;

	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			check = true;
			break;
		case 'V':
			printf("%s\n", PACKAGE_STRING);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (path == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (check)
		return check_config(path);
	return run(path);
}
