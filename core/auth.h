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

/* Option `name` of the access rule that chose the client's chain (e.g.
 * pg_hba's clientcert=, map=), or NULL. */
const char *auth_rule_option(const struct client *cl, const char *name);

#endif /* PGS_AUTH_H */
