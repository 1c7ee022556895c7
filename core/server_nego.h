/*
 * server_nego.h — a new server connection's encryption negotiation, before
 * the StartupMessage: GSSENCRequest (gssencmode) then SSLRequest (sslmode),
 * as libpq does it, through the transport modules.  server.c calls in here
 * and provides the two ways out.
 */
#ifndef PGS_SERVER_NEGO_H
#define PGS_SERVER_NEGO_H

#include <stdbool.h>

struct server;

/* After connect(): start GSS or TLS negotiation when the server's settings
 * ask for it.  True when it started (or failed: sv is closed then); false to
 * go on in clear text. */
bool server_nego_begin(struct server *sv);

/* SV_CONNECTING with nego_phase set: the server's answer or the handshake
 * made progress (also called when the transport's deferred work is done). */
void server_nego_step(struct server *sv);

/* Provided by server.c. */
void server_login_failed(struct server *sv, const char *msg);
void server_send_startup(struct server *sv);

#endif /* PGS_SERVER_NEGO_H */
