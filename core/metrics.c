/*
 * metrics.c — the HTTP endpoint serving the Prometheus text format.
 *
 * The thread waits in poll() on the listening socket and a wake pipe
 * (metrics_stop() writes to it).  Each connection gets one request: the
 * request line and headers (at most METRICS_REQUEST_MAX bytes, within
 * METRICS_REQUEST_MS), one answer with Content-Length and
 * "Connection: close", then the socket is shut down and closed.  A scrape
 * snapshots the counters (pool_snapshot_all(), stats_snapshot()) and
 * formats them with no lock held.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "runtime.h"
#include "stats.h"
#include "util.h"

#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_TEXT    "text/plain; charset=utf-8"

struct metrics {
	int fd;      /* listening socket */
	int wake[2]; /* pipe: a byte in wake[0] means stop */
	pthread_t thread;
	char *host, *path;
	int port;
	char desc[INET6_ADDRSTRLEN + 300];
};

/* --------------------------------------------------------------- socket */

static int open_socket(const char *host, int port, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	int fd = -1, one = 1, zero = 0;

	memset(&ss, 0, sizeof ss);
	if (strcmp(host, "*") == 0 || strchr(host, ':') != NULL) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		if (strcmp(host, "*") == 0)
			in6->sin6_addr = in6addr_any;
		else if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			goto bad_host;
		sl = sizeof *in6;
		fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && strcmp(host, "*") == 0)
			/* "*": IPv4 too, through the one dual-stack socket */
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
	}
	if (fd < 0 && strcmp(host, "*") == 0 && errno == EAFNOSUPPORT) {
		memset(&ss, 0, sizeof ss);
		host = "0.0.0.0"; /* no IPv6 on this host */
	}
	if (strchr(host, ':') == NULL && strcmp(host, "*") != 0) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			goto bad_host;
		sl = sizeof *in;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	}
	if (fd < 0) {
		snprintf(err, errlen, "metrics: could not create a socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0) {
		snprintf(err, errlen, "metrics: could not listen on %s port %d: %s", host, port,
		         strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
bad_host:
	snprintf(err, errlen, "metrics: %s is not an IP address", host);
	return -1;
}

/* ------------------------------------------------------------- requests */

/* Wait until fd is ready for `events` or the deadline passes; false on
 * timeout, error or a stop request. */
static bool wait_fd(struct metrics *m, int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p[2] = {{.fd = fd, .events = events},
		                      {.fd = m->wake[0], .events = POLLIN}};
		int64_t left = deadline - now_ms();
		int r;

		if (left <= 0)
			return false;
		r = poll(p, 2, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || p[1].revents != 0)
			return false;
		return (p[0].revents & (events | POLLHUP | POLLERR)) != 0;
	}
}

static void send_all(struct metrics *m, int fd, const void *data, size_t len, int64_t deadline)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			return;
		} else if (!wait_fd(m, fd, POLLOUT, deadline)) {
			return;
		}
	}
}

/* Send one whole answer; body may be NULL (HEAD). */
static void respond(struct metrics *m, int fd, int status, const char *reason, const char *ctype,
                    const char *extra, const void *body, size_t body_len, bool head_only,
                    int64_t deadline)
{
	char hdr[512];
	int n = snprintf(hdr, sizeof hdr,
	                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
	                 "Connection: close\r\n\r\n",
	                 status, reason, ctype, body_len, extra ? extra : "");

	if (n < 0 || (size_t)n >= sizeof hdr)
		return;
	send_all(m, fd, hdr, (size_t)n, deadline);
	if (!head_only && body != NULL)
		send_all(m, fd, body, body_len, deadline);
}

static void respond_text(struct metrics *m, int fd, int status, const char *reason,
                         const char *extra, bool head_only, int64_t deadline)
{
	char body[64];
	int n = snprintf(body, sizeof body, "%d %s\n", status, reason);

	respond(m, fd, status, reason, CONTENT_TYPE_TEXT, extra, body, (size_t)n, head_only,
	        deadline);
}

/* The metrics, formatted into out; 0 or -ENOMEM. */
static int scrape(struct bytebuf *out)
{
	struct stats_snap *snap = calloc(1, sizeof *snap);
	struct stats_pool_snap *pools = NULL;
	int n, rc;

	if (snap == NULL)
		return -ENOMEM;
	n = pool_snapshot_all(&pools);
	if (n < 0) {
		free(snap);
		return n;
	}
	stats_snapshot(&rt->stats, snap);
	snap->version = PACKAGE_VERSION;
	snap->pools = pools;
	snap->npools = (size_t)n;
	rc = stats_format(snap, out);
	free(pools);
	free(snap);
	return rc;
}

/* Where the header block ends (after the empty line), or 0; the bytes
 * before `from` were searched already. */
static size_t headers_end(const char *buf, size_t len, size_t from)
{
	for (size_t i = from > 3 ? from - 3 : 0; i + 1 < len; i++) {
		if (buf[i] == '\n' && buf[i + 1] == '\n')
			return i + 2;
		if (i + 3 < len && memcmp(buf + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	}
	return 0;
}

/*
 * Split "METHOD SP TARGET SP HTTP/1.x" (line without its end).  The
 * method is upper-case letters, the target starts with '/' and holds only
 * visible ASCII.  False for anything else.
 */
static bool parse_request_line(char *line, const char **method, char **target)
{
	char *sp1 = strchr(line, ' '), *sp2, *version;

	if (sp1 == NULL || sp1 == line || sp1 - line > 16)
		return false;
	for (char *p = line; p < sp1; p++)
		if (*p < 'A' || *p > 'Z')
			return false;
	*sp1 = '\0';
	*target = sp1 + 1;
	sp2 = strchr(*target, ' ');
	if (sp2 == NULL || **target != '/')
		return false;
	*sp2 = '\0';
	for (char *p = *target; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return false;
	version = sp2 + 1;
	*method = line;
	return strcmp(version, "HTTP/1.0") == 0 || strcmp(version, "HTTP/1.1") == 0;
}

/* Whether bytes can be part of a request's head: no NUL or other control
 * character but CR, LF and TAB.  Binary garbage is answered at once. */
static bool plausible(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

/*
 * Read the request head into req (NUL-terminated, at most
 * METRICS_REQUEST_MAX bytes) until the empty line that ends it.  Returns
 * 0; or an HTTP status to answer with (400 for garbage, seen as soon as
 * it arrives; 408; 431); or -1 when the client left or a stop came.
 */
static int read_head(struct metrics *m, int fd, char *req, int64_t deadline)
{
	size_t len = 0;
	bool line_checked = false;

	for (;;) {
		size_t before = len;
		ssize_t n;

		if (len == METRICS_REQUEST_MAX)
			return 431;
		if (!wait_fd(m, fd, POLLIN, deadline))
			return now_ms() >= deadline ? 408 : -1;
		n = recv(fd, req + len, METRICS_REQUEST_MAX - len, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return -1; /* gone before asking anything */
		if (n < 0)
			continue;
		len += (size_t)n;
		req[len] = '\0';
		if (!plausible(req + before, len - before))
			return 400;
		if (!line_checked && memchr(req, '\n', len) != NULL) {
			/* the request line alone tells garbage: no need to wait */
			char line[METRICS_REQUEST_MAX + 1];
			const char *method;
			char *target;

			memcpy(line, req, len + 1);
			*strchr(line, '\n') = '\0';
			if (strchr(line, '\r') != NULL)
				*strchr(line, '\r') = '\0';
			if (!parse_request_line(line, &method, &target))
				return 400;
			line_checked = true;
		}
		if (headers_end(req, len, before) != 0)
			return 0;
	}
}

/* Read the request (within the deadline) and answer it. */
static void serve(struct metrics *m, int fd)
{
	int64_t start = now_ms(), deadline = start + METRICS_REQUEST_MS;
	char *req = malloc(METRICS_REQUEST_MAX + 1);
	const char *method;
	char *target, *query;
	struct bytebuf body = {0};
	bool head;
	int st;

	if (req == NULL)
		return;
	st = read_head(m, fd, req, deadline);
	if (st == 400)
		respond_text(m, fd, 400, "Bad Request", NULL, false, deadline);
	else if (st == 408)
		respond_text(m, fd, 408, "Request Timeout", NULL, false, now_ms() + 200);
	else if (st == 431)
		respond_text(m, fd, 431, "Request Header Fields Too Large", NULL, false, deadline);
	if (st != 0)
		goto out;
	*strchr(req, '\n') = '\0';
	if (strchr(req, '\r') != NULL)
		*strchr(req, '\r') = '\0';
	if (!parse_request_line(req, &method, &target)) {
		respond_text(m, fd, 400, "Bad Request", NULL, false, deadline);
		goto out;
	}
	head = strcmp(method, "HEAD") == 0;
	if (!head && strcmp(method, "GET") != 0) {
		respond_text(m, fd, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n", false,
		             deadline);
		goto out;
	}
	query = strchr(target, '?');
	if (query != NULL)
		*query = '\0';
	if (strcmp(target, m->path) != 0) {
		respond_text(m, fd, 404, "Not Found", NULL, head, deadline);
	} else if (scrape(&body) < 0) {
		respond_text(m, fd, 500, "Internal Server Error", NULL, head, deadline);
	} else {
		respond(m, fd, 200, "OK", CONTENT_TYPE_METRICS, NULL, bytebuf_head(&body), body.len,
		        head, deadline);
		log_debug("metrics: %zu bytes in %lld ms", body.len, (long long)(now_ms() - start));
	}
	bytebuf_free(&body, false);
out:
	free(req);
}

/* After the answer: let the client read it before the close (unread input
 * at close() would reset the connection), briefly. */
static void linger_close(struct metrics *m, int fd)
{
	int64_t deadline = now_ms() + 200;
	char sink[1024];
	size_t total = 0;

	shutdown(fd, SHUT_WR);
	while (total < 65536 && wait_fd(m, fd, POLLIN, deadline)) {
		ssize_t n = recv(fd, sink, sizeof sink, MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			break;
		if (n > 0)
			total += (size_t)n;
	}
	close(fd);
}

static void *metrics_main(void *arg)
{
	struct metrics *m = arg;

	for (;;) {
		struct pollfd p[2] = {{.fd = m->fd, .events = POLLIN},
		                      {.fd = m->wake[0], .events = POLLIN}};
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("metrics: poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents != 0)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		fd = accept4(m->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				log_warn("metrics: accept: %s", strerror(errno));
				poll(NULL, 0, 100); /* do not spin on it */
			}
			continue;
		}
		serve(m, fd);
		linger_close(m, fd);
	}
	return NULL;
}

/* ------------------------------------------------------------ lifecycle */

static void metrics_free(struct metrics *m)
{
	if (m->fd >= 0)
		close(m->fd);
	if (m->wake[0] >= 0)
		close(m->wake[0]);
	if (m->wake[1] >= 0)
		close(m->wake[1]);
	free(m->host);
	free(m->path);
	free(m);
}

int metrics_start(const struct cfg_metrics *cfg, struct metrics **out, char *err, size_t errlen)
{
	struct metrics *m;
	int rc;

	*out = NULL;
	if (cfg->host == NULL)
		return 0;
	m = calloc(1, sizeof *m);
	if (m == NULL) {
		snprintf(err, errlen, "metrics: out of memory");
		return -1;
	}
	m->fd = m->wake[0] = m->wake[1] = -1;
	m->host = strdup(cfg->host);
	m->path = strdup(cfg->path ? cfg->path : PGS_DEFAULT_METRICS_PATH);
	m->port = cfg->port;
	if (m->host == NULL || m->path == NULL) {
		snprintf(err, errlen, "metrics: out of memory");
		metrics_free(m);
		return -1;
	}
	snprintf(m->desc, sizeof m->desc, "%s%s%s:%d%s", strchr(m->host, ':') ? "[" : "", m->host,
	         strchr(m->host, ':') ? "]" : "", m->port, m->path);
	m->fd = open_socket(m->host, m->port, err, errlen);
	if (m->fd < 0) {
		metrics_free(m);
		return -1;
	}
	if (pipe2(m->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "metrics: pipe: %s", strerror(errno));
		metrics_free(m);
		return -1;
	}
	rc = pthread_create(&m->thread, NULL, metrics_main, m);
	if (rc != 0) {
		snprintf(err, errlen, "metrics: could not start its thread: %s", strerror(rc));
		metrics_free(m);
		return -1;
	}
	*out = m;
	return 0;
}

void metrics_stop(struct metrics *m)
{
	char one = 1;

	if (m == NULL)
		return;
	if (write(m->wake[1], &one, 1) < 0) {
		/* the pipe is empty and ours: it cannot fail */
	}
	pthread_join(m->thread, NULL);
	metrics_free(m);
}

bool metrics_matches(const struct metrics *m, const struct cfg_metrics *cfg)
{
	if (m == NULL || cfg->host == NULL)
		return m == NULL && cfg->host == NULL;
	return strcmp(m->host, cfg->host) == 0 && m->port == cfg->port &&
	       strcmp(m->path, cfg->path ? cfg->path : PGS_DEFAULT_METRICS_PATH) == 0;
}

const char *metrics_describe(const struct metrics *m)
{
	return m ? m->desc : "(none)";
}
