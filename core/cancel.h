/*
 * cancel.h — CancelRequest handling.
 *
 * Clients get a BackendKeyData issued by pgsluice.  A CancelRequest (which
 * arrives on a new connection, possibly on another worker) is looked up in
 * a process-wide registry, passed to the client's worker, mapped to the
 * server the client is linked to now, and forwarded to PostgreSQL with that
 * server's real key.
 */
#ifndef PGS_CANCEL_H
#define PGS_CANCEL_H

#include <stdint.h>

struct client;
struct worker;

/* Set up the registry (main, before the workers start). */
int cancel_init(void) __attribute__((warn_unused_result));
void cancel_fini(void);

/* Give cl a unique random key and register it. */
void cancel_register(struct client *cl);
void cancel_unregister(struct client *cl);

/* A CancelRequest arrived on worker w. */
void cancel_request(struct worker *w, uint32_t pid, uint32_t key);

/* On the client's own worker: forward to its server, if linked. */
void cancel_forward(struct worker *w, uint32_t pid, uint32_t key);

/* Ask PostgreSQL to cancel what server sv (of worker w) runs now. */
struct server;
void cancel_server(struct worker *w, struct server *sv);

/* epoll readiness of an outgoing cancel connection. */
struct cancel_conn;
void cancel_on_event(struct worker *w, struct cancel_conn *cc, uint32_t events);

#endif /* PGS_CANCEL_H */
