/*
 * aq_pg.c — the authquery module's PostgreSQL client (see aq_pg.h).
 *
 * Each connection slot holds one PGconn (or none) and is borrowed by one
 * fetch at a time; a fetch waits on a condition variable, bounded by its
 * deadline, when all are busy.  Connections are opened lazily with the
 * keyword/value arrays (never a conninfo string: no quoting to get wrong),
 * with search_path pinned to pg_catalog, pg_temp and a server-side
 * statement_timeout of twice our timeout as a backstop should our cancel
 * not reach the server.
 *
 * What the deadline cannot cover: libpq resolves a host name with a
 * blocking getaddrinfo() inside PQconnectStartParams (use an IP address or
 * a socket directory to avoid it), and PQcancel() is a blocking call that
 * waits for the postmaster to close the cancel connection (immediate with
 * a live postmaster).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "aq_pg.h"
#include "secret_kind.h"
#include "errbuf.h"

#define AQ_PG_APPNAME               "pgsluice-authquery"
/* The server is asked to give up on its own after this many of our timeouts. */
#define AQ_PG_SERVER_TIMEOUT_FACTOR 2
/* SQLSTATE 22021: the name is not valid in the server's encoding. */
#define AQ_PG_BAD_ENCODING          "22021"

struct aq_slot {
	PGconn *conn; /* NULL: not connected */
	bool busy;    /* borrowed by a fetch */
};

struct aq_pg {
	pthread_mutex_t lock;
	pthread_cond_t freed; /* a slot was given back (CLOCK_MONOTONIC) */
	struct aq_slot *slots;
	unsigned int nslots;
	unsigned int timeout_ms;
	char *host, *port, *dbname, *user, *sslmode, *sslrootcert, *query;
	char options[96];         /* -c search_path=... -c statement_timeout=... */
	char connect_timeout[16]; /* seconds, for libpq */
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The first line of a libpq message, without its trailing newline. */
static const char *first_line(const char *msg, char *buf, size_t size)
{
	size_t n;

	if (msg == NULL || *msg == '\0')
		return "unknown error";
	n = strcspn(msg, "\r\n");
	if (n >= size)
		n = size - 1;
	memcpy(buf, msg, n);
	buf[n] = '\0';
	return buf;
}

static void notice_ignore(void *arg, const char *message)
{
	/* libpq's default prints server notices on stderr. */
	(void)arg, (void)message;
}

static char *dup_param(const char *s, bool *ok)
{
	char *d;

	if (s == NULL)
		return NULL;
	if (strnlen(s, AQ_PG_MAX_TEXT + 1) > AQ_PG_MAX_TEXT) {
		*ok = false;
		return NULL;
	}
	d = strdup(s);
	if (d == NULL)
		*ok = false;
	return d;
}

int aq_pg_new(const struct aq_pg_params *p, struct aq_pg **out, char *err, size_t err_size)
{
	pthread_condattr_t attr;
	struct aq_pg *pg;
	bool ok = true;

	if (p->host == NULL || p->port == NULL || p->dbname == NULL || p->user == NULL ||
	    p->sslmode == NULL || p->query == NULL) {
		errbuf_set(err, err_size,
		           "host, port, dbname, user, sslmode and query are required");
		return -EINVAL;
	}
	if (strstr(p->query, "$1") == NULL) {
		errbuf_set(err, err_size, "the query must take the user name as $1");
		return -EINVAL;
	}
	if (p->connections < 1 || p->connections > AQ_PG_MAX_CONNECTIONS || p->timeout_ms < 1 ||
	    p->timeout_ms > AQ_PG_MAX_TIMEOUT_MS) {
		errbuf_set(err, err_size,
		           "connections must be in 1..%d and the timeout in 1..%d ms",
		           AQ_PG_MAX_CONNECTIONS, AQ_PG_MAX_TIMEOUT_MS);
		return -EINVAL;
	}
	if (PQisthreadsafe() != 1) {
		errbuf_set(err, err_size, "libpq was built without thread safety");
		return -EINVAL;
	}
	pg = calloc(1, sizeof *pg);
	if (pg == NULL)
		return -ENOMEM;
	pg->slots = calloc(p->connections, sizeof *pg->slots);
	pg->nslots = p->connections;
	pg->timeout_ms = p->timeout_ms;
	pg->host = dup_param(p->host, &ok);
	pg->port = dup_param(p->port, &ok);
	pg->dbname = dup_param(p->dbname, &ok);
	pg->user = dup_param(p->user, &ok);
	pg->sslmode = dup_param(p->sslmode, &ok);
	pg->sslrootcert = dup_param(p->sslrootcert, &ok);
	pg->query = dup_param(p->query, &ok);
	if (!ok || pg->slots == NULL) {
		bool too_long = pg->slots != NULL;

		errbuf_set(err, err_size, "%s",
		           too_long ? "a connection parameter or the query is too long"
		                    : "out of memory");
		pg->nslots = 0; /* nothing to close, no lock to destroy yet */
		aq_pg_free(pg);
		return too_long ? -EINVAL : -ENOMEM;
	}
	snprintf(pg->options, sizeof pg->options,
	         "-c search_path=pg_catalog,pg_temp -c statement_timeout=%u",
	         p->timeout_ms * AQ_PG_SERVER_TIMEOUT_FACTOR);
	/* libpq counts whole seconds and takes less than 2 as 2; our own
	 * deadline is what bounds the connect anyway. */
	snprintf(pg->connect_timeout, sizeof pg->connect_timeout, "%u",
	         (p->timeout_ms + 999) / 1000);
	if (pthread_mutex_init(&pg->lock, NULL) != 0) {
		free(pg->slots);
		free(pg);
		return -ENOMEM;
	}
	if (pthread_condattr_init(&attr) != 0 ||
	    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&pg->freed, &attr) != 0) {
		pthread_mutex_destroy(&pg->lock);
		free(pg->slots);
		free(pg);
		return -ENOMEM;
	}
	pthread_condattr_destroy(&attr);
	*out = pg;
	return 0;
}

void aq_pg_free(struct aq_pg *pg)
{
	if (pg == NULL)
		return;
	for (unsigned int i = 0; i < pg->nslots; i++)
		if (pg->slots[i].conn != NULL)
			PQfinish(pg->slots[i].conn);
	if (pg->slots != NULL && pg->nslots > 0) {
		pthread_cond_destroy(&pg->freed);
		pthread_mutex_destroy(&pg->lock);
	}
	free(pg->slots);
	free(pg->host);
	free(pg->port);
	free(pg->dbname);
	free(pg->user);
	free(pg->sslmode);
	free(pg->sslrootcert);
	free(pg->query);
	free(pg);
}

void aq_pg_answer_clear(struct aq_pg_answer *ans)
{
	OPENSSL_cleanse(ans, sizeof *ans);
}

/* ------------------------------------------------------------ waiting */

/* Wait until fd is ready for events (POLLIN and/or POLLOUT) or the
 * deadline passes: 0, -ETIMEDOUT, or -EIO (bad socket). */
static int wait_fd(int fd, short events, uint64_t deadline_us)
{
	struct pollfd p = {.fd = fd, .events = events};

	if (fd < 0)
		return -EIO;
	for (;;) {
		uint64_t now = now_us();
		uint64_t left_ms;
		int r;

		if (now >= deadline_us)
			return -ETIMEDOUT;
		left_ms = (deadline_us - now + 999) / 1000;
		r = poll(&p, 1, left_ms > INT_MAX ? INT_MAX : (int)left_ms);
		if (r > 0)
			return (p.revents & POLLNVAL) ? -EIO : 0;
		if (r < 0 && errno != EINTR)
			return -EIO;
	}
}

/* Borrow a slot, waiting for one until the deadline: 0 or -ETIMEDOUT.
 * Slots with an open connection are preferred. */
static int slot_acquire(struct aq_pg *pg, uint64_t deadline_us, struct aq_slot **out)
{
	struct timespec until = {
	        .tv_sec = (time_t)(deadline_us / 1000000u),
	        .tv_nsec = (long)(deadline_us % 1000000u) * 1000,
	};
	struct aq_slot *pick = NULL;
	int rc = 0;

	pthread_mutex_lock(&pg->lock);
	while (pick == NULL) {
		for (unsigned int i = 0; i < pg->nslots; i++) {
			struct aq_slot *s = &pg->slots[i];

			if (!s->busy && (pick == NULL || (pick->conn == NULL && s->conn != NULL)))
				pick = s;
		}
		if (pick != NULL)
			break;
		rc = pthread_cond_timedwait(&pg->freed, &pg->lock, &until);
		if (rc == ETIMEDOUT) {
			rc = -ETIMEDOUT;
			break;
		}
		rc = 0;
	}
	if (pick != NULL)
		pick->busy = true;
	pthread_mutex_unlock(&pg->lock);
	*out = pick;
	return rc;
}

static void slot_release(struct aq_pg *pg, struct aq_slot *s)
{
	pthread_mutex_lock(&pg->lock);
	s->busy = false;
	pthread_cond_signal(&pg->freed);
	pthread_mutex_unlock(&pg->lock);
}

/* Close the slot's connection; a query still running is cancelled first
 * so that the server stops working for nobody. */
static void slot_drop(struct aq_slot *s)
{
	if (s->conn == NULL)
		return;
	if (PQtransactionStatus(s->conn) == PQTRANS_ACTIVE) {
		PGcancel *cancel = PQgetCancel(s->conn);
		char buf[256];

		if (cancel != NULL) {
			(void)PQcancel(cancel, buf, sizeof buf);
			PQfreeCancel(cancel);
		}
	}
	PQfinish(s->conn);
	s->conn = NULL;
}

/* An idle connection the server may have closed meanwhile (restart,
 * idle_session_timeout, pg_terminate_backend): read what is pending
 * without waiting and say whether it still looks usable. */
static bool conn_usable(PGconn *c)
{
	struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
	PGnotify *n;

	if (PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE || p.fd < 0)
		return false;
	if (poll(&p, 1, 0) > 0) {
		if (PQconsumeInput(c) != 1 || PQstatus(c) != CONNECTION_OK)
			return false;
		while ((n = PQnotifies(c)) != NULL)
			PQfreemem(n);
	}
	return PQstatus(c) == CONNECTION_OK;
}

/* ------------------------------------------------------------ connect */

#define AQ_PG_NPARAMS 10 /* param_add() calls in conn_open() */

/* Append one keyword/value pair (skipped when value is NULL). */
static void param_add(const char **keys, const char **values, unsigned int *n, const char *key,
                      const char *value)
{
	if (value == NULL || *n >= AQ_PG_NPARAMS)
		return;
	keys[*n] = key;
	values[*n] = value;
	(*n)++;
}

static int conn_open(struct aq_pg *pg, struct aq_slot *s, aq_pg_password_fn password, void *arg,
                     uint64_t deadline_us, char *err, size_t err_size)
{
	char secret[AQ_PG_MAX_PASSWORD + 1];
	const char *keys[AQ_PG_NPARAMS + 1], *values[AQ_PG_NPARAMS + 1];
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	char line[AQ_PG_ERR_LEN];
	bool with_password = false;
	unsigned int n = 0;
	PGconn *c;
	int rc;

	if (password != NULL) {
		rc = password(arg, secret, sizeof secret, err, err_size);
		if (rc == 0) {
			with_password = true;
		} else if (rc != -ENOENT) {
			OPENSSL_cleanse(secret, sizeof secret);
			return -EIO;
		}
	}
	param_add(keys, values, &n, "host", pg->host);
	param_add(keys, values, &n, "port", pg->port);
	param_add(keys, values, &n, "dbname", pg->dbname);
	param_add(keys, values, &n, "user", pg->user);
	param_add(keys, values, &n, "password", with_password ? secret : NULL);
	param_add(keys, values, &n, "sslmode", pg->sslmode);
	param_add(keys, values, &n, "sslrootcert", pg->sslrootcert);
	param_add(keys, values, &n, "connect_timeout", pg->connect_timeout);
	param_add(keys, values, &n, "application_name", AQ_PG_APPNAME);
	param_add(keys, values, &n, "options", pg->options);
	keys[n] = NULL;
	values[n] = NULL;

	c = PQconnectStartParams(keys, values, 0);
	/* libpq keeps its own copy of the password in the PGconn (it may need
	 * it again during the exchange) until PQfinish(); ours goes now. */
	OPENSSL_cleanse(secret, sizeof secret);
	if (c == NULL) {
		errbuf_set(err, err_size, "cannot connect to %s: out of memory", pg->host);
		return -EIO;
	}
	while (PQstatus(c) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
	       st != PGRES_POLLING_FAILED) {
		rc = wait_fd(PQsocket(c), st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
		             deadline_us);
		if (rc == -ETIMEDOUT) {
			errbuf_set(err, err_size, "connecting to %s port %s timed out after %u ms",
			           pg->host, pg->port, pg->timeout_ms);
			PQfinish(c);
			return -EIO;
		}
		if (rc < 0)
			break;
		st = PQconnectPoll(c);
	}
	if (PQstatus(c) != CONNECTION_OK) {
		errbuf_set(err, err_size, "%s", first_line(PQerrorMessage(c), line, sizeof line));
		PQfinish(c);
		return -EIO;
	}
	PQsetNoticeProcessor(c, notice_ignore, NULL);
	if (PQsetnonblocking(c, 1) != 0) {
		errbuf_set(err, err_size, "%s", first_line(PQerrorMessage(c), line, sizeof line));
		PQfinish(c);
		return -EIO;
	}
	s->conn = c;
	return 0;
}

/* ------------------------------------------------------------ query */

/* Check the one result and copy the value: 0, -ENOENT or -EIO. */
static int read_answer(const PGresult *res, struct aq_pg_answer *ans, char *err, size_t err_size)
{
	char line[AQ_PG_ERR_LEN], why[128];
	const char *value;
	size_t len;

	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
		break;
	case PGRES_FATAL_ERROR: {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		if (state != NULL && strcmp(state, AQ_PG_BAD_ENCODING) == 0)
			return -ENOENT; /* a name the server cannot even spell is no role */
		errbuf_set(err, err_size, "the query failed: %s",
		           first_line(PQresultErrorMessage(res), line, sizeof line));
		return -EIO;
	}
	default:
		errbuf_set(err, err_size, "the query returned no rows (%s)",
		           PQresStatus(PQresultStatus(res)));
		return -EIO;
	}
	if (PQnfields(res) != 1) {
		errbuf_set(err, err_size, "the query returned %d columns, expected 1",
		           PQnfields(res));
		return -EIO;
	}
	if (PQntuples(res) > 1) {
		errbuf_set(err, err_size, "the query returned %d rows, expected at most 1",
		           PQntuples(res));
		return -EIO;
	}
	if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0) || PQgetlength(res, 0, 0) <= 0)
		return -ENOENT;
	len = (size_t)PQgetlength(res, 0, 0);
	if (len > AQ_PG_MAX_VALUE) {
		errbuf_set(err, err_size, "the query returned a value of %zu bytes (at most %d)",
		           len, AQ_PG_MAX_VALUE);
		return -EIO;
	}
	value = PQgetvalue(res, 0, 0);
	if (PQfformat(res, 0) != 0 || memchr(value, '\0', len) != NULL) {
		errbuf_set(err, err_size, "the query returned a binary value");
		return -EIO;
	}
	why[0] = '\0';
	ans->kind = secret_kind((const uint8_t *)value, len, why, sizeof why);
	if (ans->kind == NULL) {
		errbuf_set(err, err_size, "the query returned a broken SCRAM verifier (%s)", why);
		return -EIO;
	}
	memcpy(ans->value, value, len);
	ans->value[len] = '\0';
	ans->len = len;
	return 0;
}

/*
 * Send the query and wait for its result.  *lost is set when the
 * connection broke before any answer came back (so a retry on a new
 * connection is safe).  0, -ENOENT, -ETIMEDOUT or -EIO.
 */
static int run_query(struct aq_pg *pg, PGconn *c, const char *user, uint64_t deadline_us,
                     struct aq_pg_answer *ans, bool *lost, char *err, size_t err_size)
{
	const char *values[1] = {user};
	PGresult *res, *first = NULL;
	char line[AQ_PG_ERR_LEN];
	int nresults = 0, flushed, rc;
	uint64_t t0 = now_us();

	*lost = false;
	/* Text parameter, type left to the server (text for $1 of the
	 * function): the name is never part of the SQL. */
	if (PQsendQueryParams(c, pg->query, 1, NULL, values, NULL, NULL, 0) != 1)
		goto conn_error;
	while ((flushed = PQflush(c)) == 1) {
		rc = wait_fd(PQsocket(c), POLLOUT | POLLIN, deadline_us);
		if (rc == -ETIMEDOUT)
			goto timeout;
		if (rc < 0 || PQconsumeInput(c) != 1)
			goto conn_error;
	}
	if (flushed < 0)
		goto conn_error;
	for (;;) {
		while (PQisBusy(c)) {
			rc = wait_fd(PQsocket(c), POLLIN, deadline_us);
			if (rc == -ETIMEDOUT)
				goto timeout;
			if (rc < 0 || PQconsumeInput(c) != 1)
				goto conn_error;
		}
		res = PQgetResult(c);
		if (res == NULL)
			break;
		if (first == NULL)
			first = res;
		else
			PQclear(res);
		nresults++;
	}
	ans->duration_us = now_us() - t0;
	if (first == NULL)
		goto conn_error;
	if (nresults > 1) {
		errbuf_set(err, err_size, "the query returned %d results, expected 1", nresults);
		PQclear(first);
		return -EIO;
	}
	rc = read_answer(first, ans, err, err_size);
	PQclear(first);
	if (rc != -EIO && PQtransactionStatus(c) != PQTRANS_IDLE) {
		errbuf_set(err, err_size, "the query left the connection inside a transaction");
		rc = -EIO;
	}
	return rc;

timeout:
	errbuf_set(err, err_size, "no answer from %s port %s within %u ms", pg->host, pg->port,
	           pg->timeout_ms);
	return -ETIMEDOUT;
conn_error:
	*lost = first == NULL && PQstatus(c) == CONNECTION_BAD;
	errbuf_set(err, err_size, "%s", first_line(PQerrorMessage(c), line, sizeof line));
	if (first != NULL)
		PQclear(first);
	return -EIO;
}

int aq_pg_fetch(struct aq_pg *pg, const char *user, aq_pg_password_fn password, void *arg,
                struct aq_pg_answer *ans, char *err, size_t err_size)
{
	uint64_t deadline_us = now_us() + (uint64_t)pg->timeout_ms * 1000u;
	struct aq_slot *s;
	bool reused, lost;
	int rc;

	ans->kind = NULL;
	ans->len = 0;
	ans->duration_us = 0;
	if (user == NULL || *user == '\0')
		return -ENOENT;
	if (slot_acquire(pg, deadline_us, &s) < 0) {
		errbuf_set(err, err_size, "all %u connections stayed busy for %u ms", pg->nslots,
		           pg->timeout_ms);
		return -EIO;
	}
	for (int attempt = 0;; attempt++) {
		reused = s->conn != NULL;
		if (reused && !conn_usable(s->conn)) {
			slot_drop(s);
			reused = false;
		}
		if (s->conn == NULL) {
			rc = conn_open(pg, s, password, arg, deadline_us, err, err_size);
			if (rc < 0)
				break;
		}
		rc = run_query(pg, s->conn, user, deadline_us, ans, &lost, err, err_size);
		/* A reused connection that turns out dead before answering
		 * (the server went away while it was idle): one more try on a
		 * new connection, within the same deadline. */
		if (rc == -EIO && lost && reused && attempt == 0) {
			slot_drop(s);
			continue;
		}
		if (rc == -ETIMEDOUT || rc == -EIO) {
			slot_drop(s);
			rc = -EIO;
		}
		break;
	}
	if (rc != 0) {
		uint64_t duration_us = ans->duration_us;

		aq_pg_answer_clear(ans);
		ans->duration_us = duration_us;
	}
	slot_release(pg, s);
	return rc;
}
