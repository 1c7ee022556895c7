/*
 * transport.h — a connection's encryption layer (TLS, GSS) provided by a
 * transport module (pgs_transport_ops); io.c reads and writes through it.
 */
#ifndef PGS_TRANSPORT_H
#define PGS_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <pgsluice/module.h>

struct pgs_conn;
struct mod_set;
struct mod_instance;

struct transport {
	const pgs_transport_ops *ops;
	void *mod;   /* the instance's state (lives as long as the conn's gen) */
	void *state; /* conn_new()'s */
	bool handshaking;
	bool read_wants_write; /* the last read asked for writability */
	bool ready_listed;     /* on the worker's ready list (pending data) */
};

/* The transport instance of `kind` ("ssl", "gss") in ms, or NULL. */
struct mod_instance *transport_find(const struct mod_set *ms, const char *kind);

/* Put c on transport mi (the module's conn_new); the handshake starts with
 * the next transport_handshake().  0, or a negative errno (the module's, so
 * -ENOENT for "no credentials for this role") with err set. */
int transport_start(struct pgs_conn *c, const struct mod_instance *mi, char *err, size_t errlen);

/* Drive the handshake: 1 done, 0 in progress (epoll interest set for what
 * the module waits on), 2 waiting for the module's deferred work (the
 * socket is unwatched; call again when it is done), -1 failed (*detail
 * says why). */
int transport_handshake(struct pgs_conn *c, const char **detail);

/* Through the transport: > 0 bytes, 0 closed by the peer, -EAGAIN, or
 * another negative errno. */
ssize_t transport_read(struct pgs_conn *c, void *buf, size_t len);
ssize_t transport_write(struct pgs_conn *c, const void *buf, size_t len);

/* Bytes decrypted and waiting inside the module. */
size_t transport_pending(const struct pgs_conn *c);

/* Best-effort close_notify, then the module's conn_free.  Idempotent. */
void transport_close(struct pgs_conn *c);
/* The module's conn_free only (the socket may be closed already). */
void transport_discard(struct pgs_conn *c);

/* What conn_param("transport") says of a TCP connection: "tls" or "gss"
 * once the handshake is done, else "tcp". */
const char *transport_kind_name(const struct pgs_conn *c);

/* Facts and channel binding (NULL / -ENOENT without a transport). */
const char *transport_fact(const struct pgs_conn *c, const char *name);
int transport_peer_cert(const struct pgs_conn *c, const uint8_t **der, size_t *len);
int transport_cb_hash(const struct pgs_conn *c, uint8_t *out, size_t *len);

#endif /* PGS_TRANSPORT_H */
