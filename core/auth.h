/*
 * auth.h — frontend authentication of a client: choose the chain (access
 * modules, else the default chain) and drive it without blocking.
 */
#ifndef PGS_AUTH_H
#define PGS_AUTH_H

#include <stddef.h>
#include <stdint.h>

struct client;

/* The startup packet was accepted: pick the chain and run it. */
void auth_start(struct client *cl);

/* The client sent an authentication message ('p') payload. */
void auth_on_input(struct client *cl, const uint8_t *data, size_t len);

/* Deferred work of the current step finished: run the step again. */
void auth_resume(struct client *cl);

/* The client is closing: release the chain's module state. */
void auth_conn_free(struct client *cl);

#endif /* PGS_AUTH_H */
