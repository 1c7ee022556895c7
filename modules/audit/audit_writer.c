/*
 * audit_writer.c — the audit module's writer (see audit_writer.h).
 *
 * This is the module's one piece of process-wide state, on purpose: a
 * reload creates the new instance before the old one goes, and both must
 * feed one writer so that the file keeps one chain (one sequence, one
 * thread appending).  Writers sit in a small registry keyed by path under
 * a mutex, refcounted by instances.  The module is linked with
 * -z nodelete (Makefile.am) so that the registry survives a reload that
 * unloads every instance.
 *
 * Workers only append to a queue under the writer's mutex; the thread takes
 * the whole queue at once and, without the mutex, numbers the events,
 * chains their MACs and appends the lines in batches (write(2) loop,
 * O_APPEND), then fdatasync()s per policy.  A write that fails part-way
 * is cut back (ftruncate) to the last whole line, so the file never holds
 * half a line followed by a good one; lines not written are kept for a
 * retry (on_error = refuse) or dropped and counted for a "gap" event
 * (on_error = continue).  In the failing state the thread retries once a
 * second, reopening the file first.
 *
 * The thread keeps the chain (seq, prev) in memory: after a rotation the
 * new file's first line continues it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "audit_writer.h"

#define RETRY_MS    1000
#define FLUSH_MS    5000
#define BATCH_BYTES (256u * 1024u)
#define BATCH_LINES 512
#define REASON_MAX  4400 /* a path and some words */
#define ZERO_MAC    "0000000000000000000000000000000000000000000000000000000000000000"

enum wline_kind { WL_NEWLINE, WL_CHAIN_START, WL_GAP, WL_ITEM };

/* A line of the batch being written. */
struct wline {
	enum wline_kind kind;
	size_t end; /* offset in the batch after this line */
	uint64_t seq;
	char mac[AUDIT_MAC_HEX + 1];
};

struct audit_writer {
	struct audit_writer *next; /* registry, under registry_lock */
	unsigned refs;             /* under registry_lock */
	char *path;
	dev_t dev; /* of the file when the writer was made */
	ino_t ino;
	pthread_t thread;

	pthread_mutex_t lock;
	pthread_cond_t wake;
	/* Under lock. */
	const pgs_host *host;
	struct audit_item *head, *tail;
	size_t queued, queue_max;
	uint64_t lost_full; /* dropped by submit (queue full), not yet seen by the thread */
	uint64_t lost_mem;  /* dropped by on_event (no memory), likewise */
	bool stop, reopen_req, cfg_new;
	struct audit_writer_cfg cfg_next; /* path unused */

	/* Read by healthy() without the lock. */
	atomic_int write_err; /* -errno while failing under on_error = refuse */
	atomic_bool queue_full;
	atomic_bool refuse_policy;

	/* The thread's own (also set up by acquire before it starts). */
	int fd;
	off_t size; /* where the next line starts */
	uint64_t seq;
	char prev[AUDIT_MAC_HEX + 1];
	uint64_t chain_seq;    /* seq of the pending chain_start */
	const char *new_chain; /* pending chain_start reason, or NULL */
	char new_chain_buf[REASON_MAX];
	bool fragment; /* the file ends in a partial line: write "\n" first */
	uint64_t lost; /* events lost since the last gap line */
	char lost_reason[REASON_MAX];
	int err; /* errno of the failing state; 0 while writing works */
	struct timespec retry_at;
	struct audit_mac *mac;
	uint8_t key[AUDIT_KEY_LEN];
	bool fsync, refuse, syslog;
	char *buf; /* BATCH_BYTES + AUDIT_LINE_MAX */
	struct wline lines[BATCH_LINES];
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct audit_writer *registry;
static pthread_once_t syslog_once = PTHREAD_ONCE_INIT;

static void syslog_open(void)
{
	openlog("pgsluice", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
}

/* Read the end of the open file and decide how the chain goes on: the
 * last line verifies (continue it), or a new chain starts. */
static void writer_read_tail(struct audit_writer *w)
{
	size_t want = w->size > (off_t)AUDIT_LINE_MAX + 1 ? AUDIT_LINE_MAX + 1 : (size_t)w->size;
	off_t from = w->size - (off_t)want;
	struct audit_line_info info;
	size_t got = 0, start;
	int rc;

	w->chain_seq = 1;
	w->new_chain = w->new_chain_buf;
	if (w->size == 0) {
		snprintf(w->new_chain_buf, sizeof w->new_chain_buf, "new file");
		return;
	}
	while (got < want) {
		ssize_t r = pread(w->fd, w->buf + got, want - got, from + (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(w->new_chain_buf, sizeof w->new_chain_buf,
			         "cannot read the last line of %s: %s", w->path,
			         r < 0 ? strerror(errno) : "file shrank");
			w->fragment = true;
			return;
		}
		got += (size_t)r;
	}
	if (w->buf[want - 1] != '\n') {
		snprintf(w->new_chain_buf, sizeof w->new_chain_buf, "incomplete last line in %s",
		         w->path);
		w->fragment = true;
		return;
	}
	start = want - 1;
	while (start > 0 && w->buf[start - 1] != '\n')
		start--;
	rc = start == 0 && from > 0
	             ? -EINVAL /* longer than a line may be */
	             : audit_json_verify(w->buf + start, want - 1 - start, w->mac, &info);
	if (rc < 0) {
		snprintf(w->new_chain_buf, sizeof w->new_chain_buf,
		         "the last line of %s does not verify", w->path);
		return;
	}
	w->seq = info.seq;
	memcpy(w->prev, info.mac, sizeof w->prev);
	w->new_chain = NULL;
}

/* ------------------------------------------------------------ states */

static void time_after_ms(struct timespec *t, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

static bool time_reached(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

/* Enter (or stay in) the failing state; logs once per change of errno. */
static void writer_fail(struct audit_writer *w, const pgs_host *host, int err, const char *why)
{
	if (err != w->err)
		host->log(w->refuse ? PGS_LOG_ERROR : PGS_LOG_WARN, NULL,
		          "audit: cannot write %s: %s: %s", w->path,
		          why != NULL ? why : strerror(err),
		          w->refuse ? "refusing new logins (on_error = refuse)"
		                    : "continuing without an audit trail (on_error = continue)");
	w->err = err;
	atomic_store(&w->write_err, w->refuse ? -err : 0);
	time_after_ms(&w->retry_at, RETRY_MS);
}

static void writer_ok(struct audit_writer *w, const pgs_host *host)
{
	if (w->err != 0)
		host->log(PGS_LOG_WARN, NULL, "audit: writing %s again", w->path);
	w->err = 0;
	atomic_store(&w->write_err, 0);
}

/* Count n events as lost, for the next gap line. */
static void writer_lose(struct audit_writer *w, uint64_t n, const char *reason)
{
	if (n == 0)
		return;
	if (w->lost == 0)
		snprintf(w->lost_reason, sizeof w->lost_reason, "%s", reason);
	w->lost += n;
}

/* Close and reopen the file (rotation, or a retry after a failure). */
static int writer_reopen_file(struct audit_writer *w, const pgs_host *host)
{
	const char *why;
	struct stat st;
	char last;
	bool frag;
	int fd;

	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	fd = audit_file_open_why(w->path, &why, &st);
	if (fd < 0) {
		writer_fail(w, host, -fd, why);
		return fd;
	}
	w->fd = fd;
	w->size = st.st_size;
	/* A partial last line we left (a failed ftruncate) keeps the chain;
	 * one found in a file we did not write last starts a new one. */
	frag = w->size > 0 && (pread(fd, &last, 1, w->size - 1) != 1 || last != '\n');
	if (frag && !w->fragment) {
		w->chain_seq = 1;
		w->new_chain = w->new_chain_buf;
		snprintf(w->new_chain_buf, sizeof w->new_chain_buf, "incomplete last line in %s",
		         w->path);
	}
	w->fragment = frag;
	return 0;
}

/* ------------------------------------------------------------ writing */

/* Build the synthetic line kind (chain_start, gap) at buf; its length or 0. */
static size_t writer_own_line(struct audit_writer *w, enum wline_kind kind, char *buf,
                              struct wline *l, const char *prev)
{
	char count[24], ts[AUDIT_TS_SIZE], body[REASON_MAX * 2 + 128];
	const char *fields[5] = {"reason", w->new_chain, NULL, NULL, NULL};
	struct timespec now;
	size_t body_len;

	clock_gettime(CLOCK_REALTIME, &now);
	audit_json_ts(&now, ts);
	if (kind == WL_GAP) {
		snprintf(count, sizeof count, "%" PRIu64, w->lost);
		fields[0] = "dropped";
		fields[1] = count;
		fields[2] = "reason";
		fields[3] = w->lost_reason;
	}
	body_len = audit_json_body(body, sizeof body, kind == WL_GAP ? "gap" : "chain_start",
	                           fields);
	if (body_len >= sizeof body)
		return 0;
	return audit_json_line(buf, AUDIT_LINE_MAX, l->seq, ts, body, body_len, prev, w->mac,
	                       l->mac);
}

/* Write the pending lines: "\n" after a fragment, chain_start, gap, then
 * the items.  Returns the items not written; *err set when writing failed. */
static struct audit_item *writer_write(struct audit_writer *w, struct audit_item *items,
                                       const pgs_host *host, int *err)
{
	bool wrote = false;

	*err = 0;
	while (items != NULL || w->fragment || w->new_chain != NULL || w->lost > 0) {
		char prev[AUDIT_MAC_HEX + 1];
		uint64_t seq = w->seq;
		struct audit_item *it = items;
		size_t n = 0, len = 0, committed = 0;
		ssize_t done;

		memcpy(prev, w->prev, sizeof prev);
		if (w->fragment) {
			w->buf[len++] = '\n';
			w->lines[n++] = (struct wline){.kind = WL_NEWLINE, .end = len};
		}
		for (int k = 0; k < 2; k++) {
			enum wline_kind kind = k == 0 ? WL_CHAIN_START : WL_GAP;
			struct wline *l = &w->lines[n];
			size_t line_len;

			if (kind == WL_CHAIN_START ? w->new_chain == NULL : w->lost == 0)
				continue;
			l->kind = kind;
			l->seq = kind == WL_CHAIN_START ? w->chain_seq : seq + 1;
			line_len = writer_own_line(w, kind, w->buf + len, l,
			                           kind == WL_CHAIN_START ? ZERO_MAC : prev);
			if (line_len == 0) {
				*err = EIO;
				return items;
			}
			len += line_len;
			l->end = len;
			seq = l->seq;
			memcpy(prev, l->mac, sizeof prev);
			n++;
		}
		while (it != NULL && n < BATCH_LINES && len < BATCH_BYTES) {
			struct wline *l = &w->lines[n];
			size_t line_len = audit_json_line(w->buf + len, AUDIT_LINE_MAX, seq + 1,
			                                  it->ts, it->body, it->body_len, prev,
			                                  w->mac, l->mac);

			if (line_len == 0) /* only when OpenSSL fails */
				break;
			l->kind = WL_ITEM;
			l->seq = ++seq;
			len += line_len;
			l->end = len;
			memcpy(prev, l->mac, sizeof prev);
			n++;
			it = it->next;
		}
		if (n == 0 || (n == 1 && w->lines[0].kind == WL_NEWLINE && items != NULL)) {
			*err = EIO;
			break;
		}

		done = audit_write_all(w->fd, w->buf, len, err);
		for (size_t i = 0; i < n && w->lines[i].end <= (size_t)done; i++) {
			const struct wline *l = &w->lines[i];
			size_t from = i == 0 ? 0 : w->lines[i - 1].end;

			committed = l->end;
			if (l->kind == WL_NEWLINE) {
				w->fragment = false;
				continue;
			}
			if (l->kind == WL_CHAIN_START)
				w->new_chain = NULL;
			if (l->kind == WL_GAP)
				w->lost = 0;
			if (l->kind == WL_ITEM) {
				struct audit_item *next = items->next;

				free(items);
				items = next;
			}
			w->seq = l->seq;
			memcpy(w->prev, l->mac, sizeof w->prev);
			if (w->syslog)
				syslog(LOG_AUTHPRIV | LOG_INFO, "%.*s", (int)(l->end - from - 1),
				       w->buf + from);
		}
		if (committed > 0)
			wrote = true;
		if ((size_t)done > committed && ftruncate(w->fd, w->size + (off_t)committed) != 0)
			w->fragment = true; /* half a line stays: end it before the next one */
		w->size += (off_t)committed;
		if (*err != 0)
			break;
	}
	if (wrote && w->fsync && fdatasync(w->fd) != 0 && *err == 0)
		*err = errno;
	(void)host;
	return items;
}

/* ------------------------------------------------------------ the thread */

static void writer_apply_cfg(struct audit_writer *w, struct audit_writer_cfg *c,
                             const pgs_host *host)
{
	struct audit_mac *mac;

	w->fsync = c->fsync;
	w->refuse = c->refuse;
	w->syslog = c->syslog;
	if (w->syslog)
		pthread_once(&syslog_once, syslog_open);
	if (w->err != 0)
		atomic_store(&w->write_err, w->refuse ? -w->err : 0);
	if (CRYPTO_memcmp(c->key, w->key, sizeof w->key) != 0) {
		if (audit_mac_new(c->key, sizeof c->key, &mac) < 0) {
			host->log(PGS_LOG_ERROR, NULL,
			          "audit: %s: cannot set up the new key: keeping the old one",
			          w->path);
			return;
		}
		audit_mac_free(w->mac);
		w->mac = mac;
		memcpy(w->key, c->key, sizeof w->key);
		if (w->new_chain == NULL) { /* else the pending chain_start says why */
			w->chain_seq = w->seq + 1;
			w->new_chain = w->new_chain_buf;
			snprintf(w->new_chain_buf, sizeof w->new_chain_buf, "key changed");
		}
	}
}

static bool writer_idle_locked(const struct audit_writer *w)
{
	return w->head == NULL && w->lost_full == 0 && w->lost_mem == 0 && w->lost == 0 &&
	       w->new_chain == NULL;
}

static bool writer_ready_locked(const struct audit_writer *w)
{
	if (w->reopen_req || w->cfg_new)
		return true;
	if (w->err != 0)
		return time_reached(&w->retry_at);
	return !writer_idle_locked(w);
}

static uint64_t items_free(struct audit_item *items)
{
	uint64_t n = 0;

	while (items != NULL) {
		struct audit_item *next = items->next;

		free(items);
		items = next;
		n++;
	}
	return n;
}

static void *writer_main(void *arg)
{
	struct audit_writer *w = arg;
	struct timespec deadline = {0, 0};
	bool stopping = false;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct audit_writer_cfg c;
		struct audit_item *items, *rest;
		const pgs_host *host;
		bool reopen, cfg_new;
		uint64_t lost_full, lost_mem;
		size_t qmax;
		int err = 0;

		for (;;) {
			if (w->stop && !stopping) {
				stopping = true;
				time_after_ms(&deadline, FLUSH_MS);
			}
			if (stopping && (writer_idle_locked(w) || time_reached(&deadline)))
				goto out;
			if (writer_ready_locked(w))
				break;
			if (w->err != 0 || stopping)
				pthread_cond_timedwait(&w->wake, &w->lock,
				                       w->err != 0 ? &w->retry_at : &deadline);
			else
				pthread_cond_wait(&w->wake, &w->lock);
		}
		items = w->head;
		w->head = w->tail = NULL;
		w->queued = 0;
		atomic_store(&w->queue_full, false);
		lost_full = w->lost_full;
		w->lost_full = 0;
		lost_mem = w->lost_mem;
		w->lost_mem = 0;
		reopen = w->reopen_req;
		cfg_new = w->cfg_new;
		w->reopen_req = w->cfg_new = false;
		c = w->cfg_next;
		OPENSSL_cleanse(w->cfg_next.key, sizeof w->cfg_next.key);
		host = w->host;
		qmax = w->queue_max;
		pthread_mutex_unlock(&w->lock);

		if (cfg_new)
			writer_apply_cfg(w, &c, host);
		OPENSSL_cleanse(c.key, sizeof c.key);
		if (lost_full > 0) {
			char why[64];

			snprintf(why, sizeof why, "the queue was full (queue_max = %zu)", qmax);
			writer_lose(w, lost_full, why);
		}
		writer_lose(w, lost_mem, "out of memory");
		rest = items;
		if ((reopen || w->err != 0 || w->fd < 0) && writer_reopen_file(w, host) < 0)
			err = w->err;
		else
			rest = writer_write(w, items, host, &err);
		if (err == 0)
			writer_ok(w, host);
		else if (err != w->err)
			writer_fail(w, host, err, NULL);
		else
			time_after_ms(&w->retry_at, RETRY_MS);
		if (rest != NULL && !w->refuse) {
			char why[REASON_MAX];

			snprintf(why, sizeof why, "cannot write %s: %s", w->path, strerror(err));
			writer_lose(w, items_free(rest), why);
			rest = NULL;
		}

		pthread_mutex_lock(&w->lock);
		if (rest != NULL) { /* back at the head, in order */
			struct audit_item *last = rest;
			size_t n = 1;

			while (last->next != NULL) {
				last = last->next;
				n++;
			}
			last->next = w->head;
			if (w->head == NULL)
				w->tail = last;
			w->head = rest;
			w->queued += n;
			atomic_store(&w->queue_full, w->queued >= w->queue_max);
		}
	}
out:
	if (!writer_idle_locked(w)) {
		uint64_t n = items_free(w->head) + w->lost_full + w->lost_mem + w->lost;

		w->head = w->tail = NULL;
		w->host->log(PGS_LOG_ERROR, NULL,
		             "audit: %s: %" PRIu64 " events could not be written before shutdown",
		             w->path, n);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* ------------------------------------------------------------ registry */

static void writer_free(struct audit_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	items_free(w->head);
	audit_mac_free(w->mac);
	OPENSSL_cleanse(w->key, sizeof w->key);
	OPENSSL_cleanse(&w->cfg_next, sizeof w->cfg_next);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w->buf);
	free(w->path);
	free(w);
}

static int writer_new(const pgs_host *host, const struct audit_writer_cfg *cfg, int fd,
                      const struct stat *st, struct audit_writer **out)
{
	struct audit_writer *w = calloc(1, sizeof *w);
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc;

	if (w == NULL)
		return -ENOMEM;
	w->fd = -1; /* the caller's until the thread runs */
	w->size = st->st_size;
	w->dev = st->st_dev;
	w->ino = st->st_ino;
	w->host = host;
	w->queue_max = cfg->queue_max;
	w->fsync = cfg->fsync;
	w->refuse = cfg->refuse;
	w->syslog = cfg->syslog;
	atomic_init(&w->write_err, 0);
	atomic_init(&w->queue_full, false);
	atomic_init(&w->refuse_policy, cfg->refuse);
	memcpy(w->key, cfg->key, sizeof w->key);
	memcpy(w->prev, ZERO_MAC, sizeof w->prev);
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->wake, &ca);
	pthread_condattr_destroy(&ca);
	w->path = strdup(cfg->path);
	w->buf = malloc(BATCH_BYTES + AUDIT_LINE_MAX);
	if (w->path == NULL || w->buf == NULL) {
		writer_free(w);
		return -ENOMEM;
	}
	if (audit_mac_new(w->key, sizeof w->key, &w->mac) < 0) {
		host->log(PGS_LOG_ERROR, NULL, "audit: cannot set up HMAC-SHA256 (OpenSSL)");
		writer_free(w);
		return -EIO;
	}
	if (w->syslog)
		pthread_once(&syslog_once, syslog_open);
	w->fd = fd;
	writer_read_tail(w);
	if (w->new_chain != NULL && w->size > 0)
		host->log(PGS_LOG_WARN, NULL, "audit: %s: starting a new chain: %s", w->path,
		          w->new_chain);

	/* The thread takes no signal: the daemon's signals go to its own
	 * threads, and a blocked SIGXFSZ turns into EFBIG from write(). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&w->thread, NULL, writer_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		host->log(PGS_LOG_ERROR, NULL, "audit: cannot start the writer thread: %s",
		          strerror(rc));
		w->fd = -1; /* the caller closes it */
		writer_free(w);
		return -rc;
	}
	*out = w;
	return 0;
}

int audit_writer_acquire(const pgs_host *host, const struct audit_writer_cfg *cfg,
                         struct audit_writer **out)
{
	struct audit_writer *w;
	char err[REASON_MAX];
	struct stat st;
	int fd, rc;

	*out = NULL;
	fd = audit_file_open(cfg->path, err, sizeof err);
	if (fd < 0) {
		host->log(PGS_LOG_ERROR, NULL, "audit: cannot open the audit file %s", err);
		return fd;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	pthread_mutex_lock(&registry_lock);
	for (w = registry; w != NULL; w = w->next)
		if (strcmp(w->path, cfg->path) == 0 || (w->dev == st.st_dev && w->ino == st.st_ino))
			break;
	if (w != NULL && strcmp(w->path, cfg->path) != 0) {
		pthread_mutex_unlock(&registry_lock);
		close(fd);
		host->log(PGS_LOG_ERROR, NULL,
		          "audit: %s is the file %s that another audit instance writes: "
		          "name it the same way in both",
		          cfg->path, w->path);
		return -EEXIST;
	}
	if (w != NULL) {
		close(fd);
		w->refs++;
		pthread_mutex_lock(&w->lock);
		w->host = host;
		w->cfg_next = *cfg;
		w->cfg_next.path = NULL;
		w->cfg_new = w->reopen_req = true;
		w->queue_max = cfg->queue_max;
		atomic_store(&w->refuse_policy, cfg->refuse);
		pthread_cond_signal(&w->wake);
		pthread_mutex_unlock(&w->lock);
		pthread_mutex_unlock(&registry_lock);
		*out = w;
		return 0;
	}
	rc = writer_new(host, cfg, fd, &st, &w);
	if (rc < 0) {
		pthread_mutex_unlock(&registry_lock);
		close(fd);
		return rc;
	}
	w->refs = 1;
	w->next = registry;
	registry = w;
	pthread_mutex_unlock(&registry_lock);
	*out = w;
	return 0;
}

void audit_writer_release(struct audit_writer *w)
{
	struct audit_writer **pp;

	if (w == NULL)
		return;
	/* The registry lock is held until the thread is gone, so that an
	 * instance made meanwhile for the same path waits rather than
	 * starting a second writer on the file. */
	pthread_mutex_lock(&registry_lock);
	if (--w->refs > 0) {
		pthread_mutex_unlock(&registry_lock);
		return;
	}
	for (pp = &registry; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_mutex_unlock(&registry_lock);
	writer_free(w);
}

struct audit_item *audit_item_new(size_t body_len)
{
	struct audit_item *it = malloc(sizeof *it + body_len + 1);

	if (it != NULL) {
		it->next = NULL;
		it->body_len = body_len;
	}
	return it;
}

void audit_writer_submit(struct audit_writer *w, struct audit_item *item)
{
	item->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->queued >= w->queue_max) {
		w->lost_full++;
		atomic_store(&w->queue_full, true);
		pthread_mutex_unlock(&w->lock);
		free(item);
		return;
	}
	if (w->tail != NULL)
		w->tail->next = item;
	else
		w->head = item;
	w->tail = item;
	if (++w->queued >= w->queue_max)
		atomic_store(&w->queue_full, true);
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

void audit_writer_submit_lost(struct audit_writer *w)
{
	pthread_mutex_lock(&w->lock);
	w->lost_mem++;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

int audit_writer_healthy(const struct audit_writer *w)
{
	int err = atomic_load(&w->write_err);

	if (err != 0)
		return err;
	if (atomic_load(&w->refuse_policy) && atomic_load(&w->queue_full))
		return -ENOSPC;
	return 0;
}

void audit_writer_reopen(struct audit_writer *w)
{
	pthread_mutex_lock(&w->lock);
	w->reopen_req = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}
