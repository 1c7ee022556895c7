/*
 * listen.h — listening sockets: TCP (IPv4/IPv6, one SO_REUSEPORT socket per
 * worker so the kernel spreads connections) and the Unix socket
 * DIR/.s.PGSQL.PORT (one socket shared by all workers, EPOLLEXCLUSIVE).
 */
#ifndef PGS_LISTEN_H
#define PGS_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

#include "conn.h"

struct worker;

struct listener {
	enum ev_kind kind; /* EV_LISTENER: must stay first */
	int fd;
	bool is_unix;
	bool shared; /* the same fd is watched by every worker */
	char desc[160];
	char path[128]; /* Unix socket path, to unlink at exit */
};

/* Open every TCP socket of one listen entry (host may be "*": IPv4 and
 * IPv6 wildcard).  `first`: the first worker's sockets, checked first to be
 * the only listener on the port.  Appends to *ls / *n.  0, or -1 with err. */
int listener_open_tcp(const char *host, int port, bool first, struct listener ***ls, int *n,
                      char *err, size_t errlen) __attribute__((warn_unused_result));

/* Open DIR/.s.PGSQL.PORT (a stale socket file is replaced; a live one is
 * an error).  0, or -1 with err. */
int listener_open_unix(const char *dir, int port, int mode, struct listener **out, char *err,
                       size_t errlen) __attribute__((warn_unused_result));

/* Accept what is pending on l (owner: worker w). */
void listener_accept(struct worker *w, struct listener *l);

/* Close (and unlink a Unix socket when `unlink_path`). */
void listener_close(struct listener *l, bool unlink_path);

#endif /* PGS_LISTEN_H */
