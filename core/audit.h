/*
 * audit.h — the core's audit events, handed to every audit module of the
 * connection's generation (pgs_audit_ops.on_event) with their facts as
 * key/value text (doc/module-abi.md lists the keys).  Each call does
 * nothing, cheaply, when no audit module is loaded.
 */
#ifndef PGS_AUDIT_H
#define PGS_AUDIT_H

#include <stdbool.h>

struct client;
struct server;
struct mod_set;

void audit_connect(struct client *cl, const char *listener);
/* TLS or GSS encryption established (from the transport's facts). */
void audit_transport(struct client *cl);
void audit_step(struct client *cl, const char *step, const char *module, const char *result,
                const char *reason);
void audit_auth(struct client *cl, bool ok, const char *reason);
void audit_disconnect(struct client *cl, const char *reason);
void audit_server_fail(struct server *sv, const char *reason);
/* One admin console command (or login): user, command, result. */
void audit_admin(struct client *cl, const char *command, const char *result);
void audit_reload(const struct mod_set *ms, bool ok, const char *config, const char *reason);

/* 0 when new logins may go on; else the negative errno of the first audit
 * sink that refuses them (its module logged why) and *name its instance. */
int audit_refusal(const struct mod_set *ms, const char **name);

/* SIGUSR1: every audit module reopens its files. */
void audit_reopen(const struct mod_set *ms);

#endif /* PGS_AUDIT_H */
