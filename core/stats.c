/*
 * stats.c — process-wide counters (the authentication method table) and
 * the Prometheus text format 0.0.4 of a snapshot.
 *
 * The method table is append-only: a name, once published (nmethods
 * stored with release order), never changes, so a login finds its entry
 * without a lock; only adding a name takes methods_lock.
 */
#include "autoconf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

void stats_init(struct stats *s)
{
	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->methods_lock, NULL);
	snprintf(s->other.name, sizeof s->other.name, "other");
}

void stats_fini(struct stats *s)
{
	pthread_mutex_destroy(&s->methods_lock);
}

/* The published entry named `name`, or NULL. */
static struct stats_method *find_method(struct stats *s, const char *name, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->methods[i].name, name) == 0)
			return &s->methods[i];
	return NULL;
}

void stats_auth(struct stats *s, const char *method, bool ok)
{
	size_t n = atomic_load_explicit(&s->nmethods, memory_order_acquire);
	struct stats_method *m;

	if (method == NULL || method[0] == '\0' || strlen(method) >= STATS_METHOD_NAME_MAX) {
		m = &s->other;
	} else if ((m = find_method(s, method, n)) == NULL) {
		pthread_mutex_lock(&s->methods_lock);
		n = atomic_load_explicit(&s->nmethods, memory_order_relaxed);
		m = find_method(s, method, n);
		if (m == NULL && n < STATS_METHODS_MAX) {
			m = &s->methods[n];
			snprintf(m->name, sizeof m->name, "%s", method);
			atomic_store_explicit(&s->nmethods, n + 1, memory_order_release);
		} else if (m == NULL) {
			m = &s->other;
		}
		pthread_mutex_unlock(&s->methods_lock);
	}
	stats_add(ok ? &m->ok : &m->fail, 1);
}

void stats_snapshot(struct stats *s, struct stats_snap *snap)
{
	size_t n = atomic_load_explicit(&s->nmethods, memory_order_acquire);

	snap->client_connections = stats_read(&s->client_connections);
	snap->tls_handshakes = stats_read(&s->tls_handshakes);
	snap->gss_handshakes = stats_read(&s->gss_handshakes);
	snap->reloads_ok = stats_read(&s->reloads_ok);
	snap->reloads_failed = stats_read(&s->reloads_failed);
	snap->nmethods = 0;
	for (size_t i = 0; i <= n; i++) {
		struct stats_method *m = i < n ? &s->methods[i] : &s->other;
		struct stats_method_snap *o = &snap->methods[snap->nmethods];

		o->ok = stats_read(&m->ok);
		o->fail = stats_read(&m->fail);
		if (m == &s->other && o->ok == 0 && o->fail == 0)
			break; /* "other" only once something landed there */
		memcpy(o->name, m->name, sizeof o->name);
		snap->nmethods++;
	}
}

/* ------------------------------------------------------------ formatting */

/* An output buffer that remembers the first failure, so the formatter can
 * write on and check once. */
struct out {
	struct bytebuf *b;
	int rc;
};

static void put(struct out *o, const char *s)
{
	if (o->rc == 0)
		o->rc = bytebuf_append(o->b, s, strlen(s));
}

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(struct out *o, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	if (o->rc != 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	/* callers format numbers and fixed names only */
	if (n < 0 || (size_t)n >= sizeof buf) {
		o->rc = -EINVAL;
		return;
	}
	o->rc = bytebuf_append(o->b, buf, (size_t)n);
}

/* Length of the UTF-8 sequence at p (1..4), or 0 when it is not valid. */
static size_t utf8_len(const unsigned char *p)
{
	size_t n, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, past U+10FFFF */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

int stats_append_label(struct bytebuf *out, const char *value)
{
	const unsigned char *p = (const unsigned char *)value;
	int rc = 0;

	while (*p != '\0' && rc == 0) {
		size_t n = utf8_len(p);

		if (*p == '\\' || *p == '"') {
			char esc[2] = {'\\', (char)*p};

			rc = bytebuf_append(out, esc, 2);
		} else if (*p == '\n') {
			rc = bytebuf_append(out, "\\n", 2);
		} else if (n == 0 || *p < 0x20 || *p == 0x7f) {
			rc = bytebuf_append(out, "?", 1);
			n = 1;
		} else {
			rc = bytebuf_append(out, p, n);
		}
		p += n ? n : 1;
	}
	return rc;
}

static void label(struct out *o, const char *value)
{
	if (o->rc == 0)
		o->rc = stats_append_label(o->b, value);
}

static void family(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP ");
	put(o, name);
	put(o, " ");
	put(o, help);
	put(o, "\n# TYPE ");
	put(o, name);
	put(o, " ");
	put(o, type);
	put(o, "\n");
}

/* name{database="..",user=".."[,state=".."]} */
static void pool_series(struct out *o, const char *name, const struct stats_pool_snap *p,
                        const char *state)
{
	put(o, name);
	put(o, "{database=\"");
	label(o, p->database);
	put(o, "\",user=\"");
	label(o, p->user);
	if (state != NULL) {
		put(o, "\",state=\"");
		put(o, state);
	}
	put(o, "\"} ");
}

static void pool_counter(struct out *o, const struct stats_snap *s, const char *name,
                         const char *help, size_t offset)
{
	family(o, name, "counter", help);
	for (size_t i = 0; i < s->npools; i++) {
		const struct stats_pool_snap *p = &s->pools[i];
		uint64_t v;

		memcpy(&v, (const char *)p + offset, sizeof v);
		pool_series(o, name, p, NULL);
		putf(o, "%" PRIu64 "\n", v);
	}
}

static const char *const client_state_names[STATS_CL_NSTATES] = {
        [STATS_CL_ACTIVE] = "active",
        [STATS_CL_WAITING] = "waiting",
        [STATS_CL_IDLE] = "idle",
};

static void format_pools(struct out *o, const struct stats_snap *s)
{
	family(o, "pgsluice_clients", "gauge",
	       "Logged-in clients per pool: active (linked to a server), waiting (for a "
	       "server), idle (between transactions).");
	for (size_t i = 0; i < s->npools; i++)
		for (int st = 0; st < STATS_CL_NSTATES; st++) {
			pool_series(o, "pgsluice_clients", &s->pools[i], client_state_names[st]);
			putf(o, "%" PRId64 "\n", s->pools[i].clients[st]);
		}
	family(o, "pgsluice_clients_waiting_max_seconds", "gauge",
	       "How long the pool's oldest waiting client has waited for a server.");
	for (size_t i = 0; i < s->npools; i++) {
		pool_series(o, "pgsluice_clients_waiting_max_seconds", &s->pools[i], NULL);
		putf(o, "%.3f\n", (double)s->pools[i].wait_max_ms / 1000.0);
	}
	family(o, "pgsluice_servers", "gauge",
	       "Server connections per pool: active (lent to a client, resetting or moving "
	       "between workers), idle (in the pool), connecting (connecting or logging in).");
	for (size_t i = 0; i < s->npools; i++) {
		const struct stats_pool_snap *p = &s->pools[i];

		pool_series(o, "pgsluice_servers", p, "active");
		putf(o, "%" PRId64 "\n", p->servers_active);
		pool_series(o, "pgsluice_servers", p, "idle");
		putf(o, "%" PRId64 "\n", p->servers_idle);
		pool_series(o, "pgsluice_servers", p, "connecting");
		putf(o, "%" PRId64 "\n", p->servers_connecting);
	}
	pool_counter(o, s, "pgsluice_transactions_total",
	             "Transactions ended (ReadyForQuery with status idle forwarded to a client).",
	             offsetof(struct stats_pool_snap, transactions));
	pool_counter(o, s, "pgsluice_queries_total",
	             "Query and Execute messages forwarded from clients.",
	             offsetof(struct stats_pool_snap, queries));
	pool_counter(o, s, "pgsluice_bytes_received_total",
	             "Protocol bytes received from logged-in clients.",
	             offsetof(struct stats_pool_snap, bytes_in));
	pool_counter(o, s, "pgsluice_bytes_sent_total",
	             "Protocol bytes of server output forwarded to clients.",
	             offsetof(struct stats_pool_snap, bytes_out));
	pool_counter(o, s, "pgsluice_server_connect_errors_total",
	             "Server connections that failed to connect or log in.",
	             offsetof(struct stats_pool_snap, connect_errors));
}

int stats_format(const struct stats_snap *s, struct bytebuf *b)
{
	struct out o = {.b = b, .rc = 0};

	family(&o, "pgsluice_build_info", "gauge", "The running pgsluice's version.");
	put(&o, "pgsluice_build_info{version=\"");
	label(&o, s->version ? s->version : "");
	put(&o, "\"} 1\n");
	family(&o, "pgsluice_up", "gauge", "1: pgsluice answers.");
	put(&o, "pgsluice_up 1\n");
	family(&o, "pgsluice_client_connections_total", "counter",
	       "Client connections accepted (before max_client_conn and authentication).");
	putf(&o, "pgsluice_client_connections_total %" PRIu64 "\n", s->client_connections);
	format_pools(&o, s);
	family(&o, "pgsluice_auth_total", "counter",
	       "Client authentications by method (the chain; hba: refused before any chain "
	       "ran) and result.");
	for (size_t i = 0; i < s->nmethods; i++) {
		const struct stats_method_snap *m = &s->methods[i];

		put(&o, "pgsluice_auth_total{method=\"");
		label(&o, m->name);
		putf(&o, "\",result=\"ok\"} %" PRIu64 "\n", m->ok);
		put(&o, "pgsluice_auth_total{method=\"");
		label(&o, m->name);
		putf(&o, "\",result=\"fail\"} %" PRIu64 "\n", m->fail);
	}
	family(&o, "pgsluice_tls_handshakes_total", "counter",
	       "TLS handshakes completed with clients.");
	putf(&o, "pgsluice_tls_handshakes_total %" PRIu64 "\n", s->tls_handshakes);
	family(&o, "pgsluice_gss_handshakes_total", "counter",
	       "GSSAPI encryption handshakes completed with clients.");
	putf(&o, "pgsluice_gss_handshakes_total %" PRIu64 "\n", s->gss_handshakes);
	family(&o, "pgsluice_reloads_total", "counter", "Configuration reloads by result.");
	putf(&o, "pgsluice_reloads_total{result=\"ok\"} %" PRIu64 "\n", s->reloads_ok);
	putf(&o, "pgsluice_reloads_total{result=\"failed\"} %" PRIu64 "\n", s->reloads_failed);
	return o.rc;
}
