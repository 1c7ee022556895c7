/*
 * client_int.h — what client.c and client_login.c share.
 */
#ifndef PGS_CLIENT_INT_H
#define PGS_CLIENT_INT_H

#include "conn.h"

/* Enter state st (and note when, for the timeouts of client_sweep). */
void client_set_state(struct client *cl, enum client_state st);

/* Input while CL_STARTUP (startup packets, TLS handshake) / CL_AUTH
 * (authentication messages) (client_login.c). */
void client_read_startup(struct client *cl);
void client_read_auth(struct client *cl);

#endif /* PGS_CLIENT_INT_H */
