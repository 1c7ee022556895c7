/*
 * server.h — server connections: connect, backend login through the
 * modules' backend operations, reset, idle, and forwarding server messages
 * to the linked client.
 */
#ifndef PGS_SERVER_H
#define PGS_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"

struct worker;
struct pool;

/* Start a connection for pool p on worker w (the pool counted it already).
 * Failure is reported asynchronously through pool_connect_failed(). */
void server_connect(struct pool *p, struct worker *w);

void server_on_event(struct server *sv, uint32_t events);

/* Close; the pool's slot is freed and a linked client is told. */
void server_close(struct server *sv, const char *reason);
void server_free(struct server *sv);
/* Free a server that belongs to no worker (in flight between workers). */
void server_free_detached(struct server *sv);

/* Link to a client: the server forwards to it from now on. */
void server_link(struct server *sv, struct client *cl);

/* The linked client went away.  The server is reset and pooled when it is
 * between transactions, closed otherwise. */
void server_client_gone(struct server *sv);

/* Forward client bytes to the server; -1 when the server is broken. */
int server_send(struct server *sv, const void *data, size_t len)
        __attribute__((warn_unused_result));

/* Move between workers (idle servers only). */
void server_detach(struct server *sv);
int server_attach(struct server *sv, struct worker *w) __attribute__((warn_unused_result));

/* Resume reading after the client's output backlog drained. */
void server_resume(struct server *sv);

/* A module's deferred job for server connection id finished: resume it (or
 * finish closing it).  False when no server of w has that id. */
bool server_defer_done(struct worker *w, uint64_t id);

/* Timeouts of worker w's servers (connect/login). */
void server_sweep(struct worker *w);

#endif /* PGS_SERVER_H */
