/*
 * listen.c — listening sockets and accept.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "listen.h"
#include "log.h"
#include "worker.h"

static struct listener *listener_new(int fd, bool is_unix)
{
	struct listener *l = calloc(1, sizeof *l);

	if (l == NULL)
		return NULL;
	l->kind = EV_LISTENER;
	l->fd = fd;
	l->is_unix = is_unix;
	return l;
}

static int open_one(const struct addrinfo *ai, int port, struct listener **out, char *err,
                    size_t errlen)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int one = 1, fd;

	if (ai->ai_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, host,
		          sizeof host);
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, host,
		          sizeof host);
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "could not create socket for %s:%d: %s", host, port,
		         strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
		snprintf(err, errlen, "SO_REUSEPORT on %s:%d: %s", host, port, strerror(errno));
		close(fd);
		return -1;
	}
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
		snprintf(err, errlen, "could not listen on %s port %d: %s", host, port,
		         strerror(errno));
		close(fd);
		return -1;
	}
	*out = listener_new(fd, false);
	if (*out == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf((*out)->desc, sizeof(*out)->desc, "%s%s%s:%d",
	         ai->ai_family == AF_INET6 ? "[" : "", host, ai->ai_family == AF_INET6 ? "]" : "",
	         port);
	return 0;
}

/*
 * SO_REUSEPORT would let a second pgsluice (or anything else with it set)
 * bind the same port silently and take half the connections.  A bind
 * without it fails while anyone listens there: do that first.
 */
static int probe_free(const struct addrinfo *ai, int port, char *err, size_t errlen)
{
	int one = 1, fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 0; /* the real socket() will report it */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno == EADDRINUSE) {
		snprintf(err, errlen,
		         "could not listen on port %d: Address already in use "
		         "(another server listens there)",
		         port);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int listener_open_tcp(const char *host, int port, bool first, struct listener ***ls, int *n,
                      char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[16];
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(portstr, sizeof portstr, "%d", port);
	rc = getaddrinfo(strcmp(host, "*") == 0 ? NULL : host, portstr, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "could not resolve listen address \"%s\": %s", host,
		         gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct listener *l, **nl;

		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		if (first && probe_free(ai, port, err, errlen) < 0) {
			freeaddrinfo(res);
			return -1;
		}
		if (open_one(ai, port, &l, err, errlen) < 0) {
			freeaddrinfo(res);
			return -1;
		}
		nl = realloc(*ls, sizeof **ls * (size_t)(*n + 1));
		if (nl == NULL) {
			listener_close(l, false);
			freeaddrinfo(res);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		*ls = nl;
		(*ls)[(*n)++] = l;
	}
	freeaddrinfo(res);
	return 0;
}

int listener_open_unix(const char *dir, int port, int mode, struct listener **out, char *err,
                       size_t errlen)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof sun.sun_path, "%s/.s.PGSQL.%d", dir, port) >=
	    sizeof sun.sun_path) {
		snprintf(err, errlen, "Unix socket path \"%s/.s.PGSQL.%d\" is too long", dir, port);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "could not create Unix socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		/* A live server answers a connect; a stale file does not. */
		int probe;

		if (errno != EADDRINUSE) {
			snprintf(err, errlen, "could not bind Unix socket \"%s\": %s", sun.sun_path,
			         strerror(errno));
			close(fd);
			return -1;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof sun) == 0) {
			close(probe);
			close(fd);
			snprintf(err, errlen, "Unix socket \"%s\" is in use by another server",
			         sun.sun_path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		unlink(sun.sun_path);
		if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
			snprintf(err, errlen, "could not bind Unix socket \"%s\": %s", sun.sun_path,
			         strerror(errno));
			close(fd);
			return -1;
		}
	}
	chmod(sun.sun_path, (mode_t)mode);
	if (listen(fd, 1024) < 0) {
		snprintf(err, errlen, "could not listen on \"%s\": %s", sun.sun_path,
		         strerror(errno));
		close(fd);
		return -1;
	}
	*out = listener_new(fd, true);
	if (*out == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	(*out)->shared = true;
	snprintf((*out)->desc, sizeof(*out)->desc, "%s", sun.sun_path);
	snprintf((*out)->path, sizeof(*out)->path, "%s", sun.sun_path);
	return 0;
}

void listener_accept(struct worker *w, struct listener *l)
{
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("accept on %s failed: %s", l->desc, strerror(errno));
			return;
		}
		if (!l->is_unix) {
			int one = 1;

			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		}
		client_accepted(w, fd, &ss, sl, l->is_unix, l->desc);
	}
}

void listener_close(struct listener *l, bool unlink_path)
{
	if (l == NULL)
		return;
	if (l->fd >= 0)
		close(l->fd);
	if (unlink_path && l->is_unix && l->path[0])
		unlink(l->path);
	free(l);
}
