/*
 * client.h — client connections: startup, authentication hand-off, waiting
 * for a server, and forwarding client messages to the linked server.
 */
#ifndef PGS_CLIENT_H
#define PGS_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conn.h"

struct worker;

/* A new socket from a listener of worker w. */
void client_accepted(struct worker *w, int fd, const struct sockaddr_storage *ss, socklen_t sl,
                     bool is_unix, const char *listener);

/* epoll readiness on the client socket. */
void client_on_event(struct client *cl, uint32_t events);

/* Send a FATAL ErrorResponse (best effort) and close. */
void client_fail(struct client *cl, const char *sqlstate, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Close: unregister, give back or drop its server, free at the end of the
 * loop turn.  reason (may be NULL) is logged with log_disconnections. */
void client_close(struct client *cl, const char *reason);
void client_free(struct client *cl);

/* Authentication finished successfully (from auth.c). */
void client_auth_ok(struct client *cl);

/* The pool hands a server to a waiting client (same worker). */
void client_got_server(struct client *cl, struct server *sv);

/* The linked server sv was released at the end of a transaction. */
void client_server_released(struct client *cl, const struct server *sv);

/* After the release: forward input the client sent meanwhile (it may need
 * a server again). */
void client_resume_pending(struct client *cl);

/* Resume forwarding after the server's output backlog drained. */
void client_resume(struct client *cl);

/* Periodic timeouts of worker w's clients. */
void client_sweep(struct worker *w);

/* A deferred auth job of connection conn_id finished (on its worker). */
bool client_defer_done(struct worker *w, uint64_t conn_id);

/* Cancel requests: the client with our key (pid, key) on worker w. */
/* The live client of worker w with connection id `id`, or NULL. */
struct client *client_find(struct worker *w, uint64_t id);

struct client *client_find_by_cancel_key(struct worker *w, uint32_t pid, uint32_t key);

/* "user@database host:port" style prefix for logs. */
const char *client_log_prefix(const struct client *cl, char *buf, size_t len);

#endif /* PGS_CLIENT_H */
