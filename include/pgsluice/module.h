/*
 * pgsluice/module.h — the module ABI, version 1.5.
 *
 * This is the only header a pgsluice module includes.  A module never links
 * against the daemon: it exports one entry function returning a descriptor,
 * and reaches the host only through the services table handed to init().
 *
 * Compatibility rules:
 *  - every struct that crosses the ABI begins with (or carries) its own size
 *    and is append-only; a reader uses a field only if the other side's size
 *    covers it (PGS_HAS_FIELD);
 *  - PGS_ABI_MAJOR changes on any incompatible change; PGS_ABI_MINOR changes
 *    when something is appended.  The host refuses a module whose magic
 *    differs, whose major differs, whose minor is newer than the host's, or
 *    whose descriptor is smaller than the v1.0 descriptor;
 *  - memory crossing the ABI belongs to the host, except strings a module
 *    returns from its own static or module-lifetime storage.
 *
 * Build a module out of tree with:
 *   cc -shared -fPIC -fvisibility=hidden $(pkg-config --cflags pgsluice) \
 *      -o mymod.so mymod.c
 */
#ifndef PGSLUICE_MODULE_H
#define PGSLUICE_MODULE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PGS_ABI_MAJOR    1
#define PGS_ABI_MINOR    5
#define PGS_MODULE_MAGIC 0x70674d31u /* "pgM1" */
#define PGS_ENTRY_SYMBOL "pgs_module_entry_v1"

/* True when a struct whose first member is its size covers `field`. */
#define PGS_HAS_FIELD(ptr, type, field) \
	((ptr) != NULL && (ptr)->size >= offsetof(type, field) + sizeof(((type *)0)->field))

typedef struct pgs_conn pgs_conn; /* opaque: a client or a server connection */
typedef struct pgs_cfg pgs_cfg;   /* opaque: a module instance's config group */
typedef struct pgs_wbuf pgs_wbuf; /* opaque: host-owned output buffer */

/* Which end of the proxy a connection is. */
enum pgs_side {
	PGS_SIDE_CLIENT = 1, /* client -> pgsluice (frontend) */
	PGS_SIDE_SERVER = 2, /* pgsluice -> PostgreSQL (backend) */
};

/* A secret handed out by the host (for example by secret_lookup).  The host
 * owns `data`; the module gives it back with secret_release(), which wipes it. */
typedef struct pgs_secret {
	uint32_t size;       /* sizeof(pgs_secret) of whoever filled it */
	const char *kind;    /* "plain", "md5", "scram-sha-256" */
	const uint8_t *data; /* not NUL-terminated in general */
	size_t len;
	void *opaque; /* host bookkeeping; do not touch */
} pgs_secret;

enum pgs_log {
	PGS_LOG_DEBUG = 0,
	PGS_LOG_INFO = 1,
	PGS_LOG_WARN = 2,
	PGS_LOG_ERROR = 3,
};

/* Return codes of host services: 0, or a negative errno value
 * (-ENOENT: not found / not available, -EINVAL: wrong type or argument,
 * -ENOMEM, -EAGAIN: try again later). */

/*
 * Host services, handed to init().  Valid until fini() returns.
 * All functions may be called from any worker thread; a pgs_conn may only be
 * used from the thread that called the module with it.
 */
typedef struct pgs_host {
	uint32_t size; /* sizeof(pgs_host) of the host */
	uint16_t abi_major, abi_minor;
	const char *host_version; /* e.g. "pgsluice 0.1.0" */

	/* Logging; conn may be NULL.  Never log secrets. */
	void (*log)(enum pgs_log level, const pgs_conn *conn, const char *fmt, ...)
	        __attribute__((format(printf, 3, 4)));

	/* Module-lifetime memory. */
	void *(*alloc)(size_t len);
	void (*free)(void *p);
	/* Zeroed memory freed (and wiped) when the connection closes. */
	void *(*conn_alloc)(pgs_conn *conn, size_t len);
	/* Wipe len bytes then free (for memory from alloc()). */
	void (*wipe_free)(void *p, size_t len);

	/* Typed getters on the module instance's own config group.  Return 0
	 * and set *out, -ENOENT when the key is absent, -EINVAL on a wrong
	 * type.  Strings live as long as the config snapshot (until reload()
	 * or fini()). */
	int (*cfg_str)(const pgs_cfg *cfg, const char *key, const char **out);
	int (*cfg_int)(const pgs_cfg *cfg, const char *key, int64_t *out);
	int (*cfg_bool)(const pgs_cfg *cfg, const char *key, bool *out);
	/* "file:line" of a key (or of the group when key is NULL) for messages. */
	const char *(*cfg_where)(const pgs_cfg *cfg, const char *key);

	/* Connection facts.  Names: "user", "database", "application_name"
	 * and any other startup parameter; "remote_addr" (IP text or "[local]"),
	 * "remote_port", "transport" ("unix", "tcp", "tls", "gss"),
	 * "authn_id" once set; since 1.1 "peer_uid" (decimal uid of a Unix
	 * socket peer, from SO_PEERCRED); since 1.2 "security" (the security
	 * model of the connection's pool: "passthrough", "vault",
	 * "frontend-users" or "authquery"; NULL for a client whose database
	 * and user match no pool; since 1.5 "admin" for a client of the
	 * admin console's database when admin.vault names a credential
	 * instance: that instance answers from its admins table).  Since 1.3: "gss_principal" on a client
	 * connection that is GSS-encrypted (the principal the transport
	 * authenticated); on a server connection "server_host" (the host name
	 * or address of the server's config), "krbsrvname" (Kerberos service
	 * name, default "postgres") and "gssencmode".  NULL when unknown. */
	enum pgs_side (*conn_side)(const pgs_conn *conn);
	const char *(*conn_param)(const pgs_conn *conn, const char *name);
	/* Option of the current chain step (from the access rule or the
	 * chain's step config); NULL when absent. */
	const char *(*step_option)(const pgs_conn *conn, const char *name);
	/* Peer certificate (DER) when the transport has one; -ENOENT if not. */
	int (*conn_peer_cert)(const pgs_conn *conn, const uint8_t **der, size_t *len);
	/* tls-server-end-point channel binding data; -ENOENT if not TLS. */
	int (*conn_cb_hash)(const pgs_conn *conn, uint8_t *out, size_t *len);

	/* Secrets: for a client connection, the stored verifier/password of
	 * `user` from the credential modules; for a server connection, the
	 * pool's configured password, else (since 1.1) the credential modules'
	 * secret for the login user (any kind).  -ENOENT if none.
	 * Since 1.2 the pool's security model chooses the modules asked (see
	 * doc/module-abi.md); a source that fetched over the network answered
	 * before the chain started, and -EIO means that source failed.
	 * Always pair with secret_release(). */
	int (*secret_lookup)(pgs_conn *conn, const char *user, pgs_secret *out);
	void (*secret_release)(pgs_secret *secret);

	/* Record the authenticated identity (Kerberos principal, certificate
	 * subject, user name) for logs, audit and ident maps. */
	int (*set_authn_id)(pgs_conn *conn, const char *id);

	/* Output: an AuthenticationRequest ('R' with code and payload) to a
	 * client, or any message (type byte + payload) to either peer. */
	int (*wbuf_auth)(pgs_wbuf *out, uint32_t auth_code, const void *data, size_t len);
	int (*wbuf_msg)(pgs_wbuf *out, char type, const void *data, size_t len);

	/* Run work(arg) on the host's work pool; when it returns, the host
	 * calls the step again (the step returned PGS_STEP_PENDING).  The
	 * module must not touch conn from work().  One job per connection at
	 * a time (-EBUSY).  Frontend auth steps since 1.0; since 1.3 also a
	 * server connection's backend step and a transport's handshake()
	 * (PGS_IO_PENDING), for library calls that may wait on the network
	 * (a KDC).  conn_free() waits until the job has returned. */
	int (*defer)(pgs_conn *conn, void (*work)(void *arg), void *arg);

	/* Constant-time comparison: 0 when equal. */
	int (*ct_memcmp)(const void *a, const void *b, size_t len);

	void *reserved[8];

	/* --- ABI 1.1 (check with PGS_HAS_FIELD before use) --- */

	/* Ident map (pg_ident.conf semantics) kept by the access modules:
	 * 0 when map `map` lets `system_user` connect as `role`, -EACCES when
	 * it does not, -ENOENT when no module knows a map of that name. */
	int (*ident_match)(const pgs_conn *conn, const char *map, const char *system_user,
	                   const char *role);

	/* A file path setting: as written when absolute; a relative path is
	 * taken relative to the directory of the config file that sets it.
	 * Written NUL-terminated to out.  0, -ENOENT (absent), -EINVAL (not
	 * a string, or empty), -ENAMETOOLONG (does not fit out_size). */
	int (*cfg_path)(const pgs_cfg *cfg, const char *key, char *out, size_t out_size);

	/* --- ABI 1.2 --- */

	/* Ask one credential module instance, by its name in the `modules`
	 * group of conn's configuration, for `user`'s secret, whatever the
	 * pool's security model: for a module that needs a secret of its own
	 * (authquery's login password kept in the vault).  Safe to call from
	 * pgs_cred_ops.fetch() on the work pool.  0, -ENOENT (no such user),
	 * -ESRCH (no credential instance of that name).  Pair with
	 * secret_release(). */
	int (*cred_lookup)(const pgs_conn *conn, const char *instance, const char *user,
	                   pgs_secret *out);

	/* --- ABI 1.5 --- */

	/* From init(): ask credential module instance `instance` of the same
	 * configuration, listed before the caller in `modules` (so already
	 * initialised), for `len` bytes of key material derived from its
	 * master secret under `label` (pgs_cred_ops.derive_key), so that one
	 * protected secret can key several concerns without reuse.  0,
	 * -ESRCH (no instance of that name initialised before the caller),
	 * -ENOTSUP (the instance cannot derive keys), -EINVAL (bad args). */
	int (*cred_derive_key)(const pgs_cfg *cfg, const char *instance, const char *label,
	                       uint8_t *out, size_t len);
} pgs_host;

/* What the host does after an auth step. */
enum pgs_step {
	PGS_STEP_SEND = 1,    /* flush out, then call step() again with in == NULL */
	PGS_STEP_NEED_INPUT,  /* flush out, wait for the peer's next auth message */
	PGS_STEP_PENDING,     /* defer() in flight; step() is called when done */
	PGS_STEP_DONE,        /* success; flush out (e.g. SASL final) */
	PGS_STEP_FAIL,        /* refusal: the client sees a generic error;
	                        *logdetail goes to the log only */
	PGS_STEP_IGNORE,      /* does not apply; legal only before anything was sent */
	PGS_STEP_PROTO_ERROR, /* 1.1: the peer broke the auth protocol: the chain
	                         ends, the client gets FATAL 08P01 with *logdetail
	                         as the message (so it must be fit to show, never
	                         a secret) and the connection is closed */
};

/* Frontend authentication (client -> pgsluice).  step() is first called
 * with in == NULL; later with the payload of each client auth message
 * ('p': password, SASLInitialResponse, SASLResponse, GSSResponse). */
typedef struct pgs_auth_ops {
	uint32_t size;
	uint32_t flags; /* PGS_AUTH_INTERACTIVE when it sends auth requests */
	int (*conn_new)(void *mod, pgs_conn *conn, void **state);
	enum pgs_step (*step)(void *mod, pgs_conn *conn, void *state, const uint8_t *in,
	                      size_t in_len, pgs_wbuf *out, const char **logdetail);
	/* Always called once conn_new() succeeded, in every state, including a
	 * client that vanished mid-exchange. */
	void (*conn_free)(void *mod, pgs_conn *conn, void *state);
	void *reserved[4];

	/* --- ABI 1.1 --- */
	/* How a failure of this step reads to the client, as PostgreSQL words
	 * it: "<method> authentication failed for user \"x\"" (method e.g.
	 * "password", "Peer", "certificate", "GSSAPI") with SQLSTATE
	 * fail_sqlstate ("28P01" for password methods).  NULL: the host says
	 * "authentication failed for user \"x\"" with 28000. */
	const char *method;
	const char *fail_sqlstate;
} pgs_auth_ops;

#define PGS_AUTH_INTERACTIVE   0x1u
/* 1.1: a failure after talking to the client is final: the module checked
 * the client's credential and it is wrong (password methods), so no later
 * step could accept the same client.  Lets a chain such as
 * (md5 sufficient, scram required) pass the loader's protocol check: md5
 * steps aside with IGNORE before talking when it cannot check the secret,
 * and a wrong md5 password ends the chain. */
#define PGS_AUTH_FINAL_FAILURE 0x2u

/* Backend authentication (pgsluice -> PostgreSQL): answers the server's
 * AuthenticationRequest codes listed in auth_codes (bit 1u << code, e.g.
 * 3 cleartext, 5 MD5, 7/8 GSS, 10 SASL).  step() is called with the code
 * and the request payload after the code (for SASL: the mechanism list; for
 * 8, 11, 12: the GSS or SASL data); it writes the answer with
 * wbuf_msg(out, 'p', ...).  Since 1.3 it may return PGS_STEP_PENDING after
 * host->defer(); it is then called again with the same code, in == NULL. */
typedef struct pgs_backend_ops {
	uint32_t size;
	uint32_t auth_codes;
	int (*conn_new)(void *mod, pgs_conn *conn, void **state);
	enum pgs_step (*step)(void *mod, pgs_conn *conn, void *state, uint32_t auth_code,
	                      const uint8_t *in, size_t in_len, pgs_wbuf *out,
	                      const char **logdetail);
	void (*conn_free)(void *mod, pgs_conn *conn, void *state);
	void *reserved[4];
} pgs_backend_ops;

#define PGS_AUTH_CODE_BIT(code) (1u << (code))

/* Credential source: backs host->secret_lookup.  lookup() fills out
 * (data allocated with host->alloc; the host wipes and frees it) and
 * returns 0, or -ENOENT when the user is unknown.  lookup() runs on a
 * worker and must never block. */
typedef struct pgs_cred_ops {
	uint32_t size;
	int (*lookup)(void *mod, const pgs_conn *conn, const char *user, pgs_secret *out);
	void *reserved[4];

	/* --- ABI 1.2 --- */
	/* For a source that must ask over the network (authquery).  The host
	 * calls fetch() on its work pool, never on a worker, once per client
	 * login whose pool takes client secrets from this instance, before the
	 * chain starts; what it returns is kept on the connection and is what
	 * secret_lookup() gives the chain's steps.  It may block, bounded by
	 * the module's own timeouts.  conn may only be read with conn_param()
	 * and passed to cred_lookup().  0 (out filled as by lookup()),
	 * -ENOENT (no such user), or another negative errno when the source
	 * failed (the module logs why).  lookup() still answers from memory
	 * (server logins, pools that do not fetch). */
	int (*fetch)(void *mod, const pgs_conn *conn, const char *user, pgs_secret *out);

	/* --- ABI 1.5 --- */
	/* Optional: fill out[0..len) (len <= 64) with key material derived
	 * from the source's master secret for purpose `label` (a fixed,
	 * documented string); the same label and master secret give the same
	 * bytes in every process.  Behind host->cred_derive_key.  0, or a
	 * negative errno. */
	int (*derive_key)(void *mod, const char *label, uint8_t *out, size_t len);
} pgs_cred_ops;

/* Access decision (e.g. pg_hba rules). */
typedef struct pgs_access_result {
	uint32_t size;
	const char *chain;          /* chain (or module instance) to run */
	const char *const *options; /* key, value, key, value, ..., NULL */
	const char *rule;           /* "file:line" for logs; may be NULL */
} pgs_access_result;

typedef struct pgs_access_ops {
	uint32_t size;
	/* 0: allowed, *out filled (strings live until reload()/fini());
	 * -EACCES: refused by a rule (a pg_hba "reject" line: the client reads
	 * "pg_hba.conf rejects connection for host ..."); -EPERM (1.1): no rule
	 * matched ("no pg_hba.conf entry for host ..."); logdetail -> log only.
	 * -ENOENT: no opinion, ask the next access module. */
	int (*decide)(void *mod, const pgs_conn *conn, pgs_access_result *out,
	              const char **logdetail);
	void *reserved[4];

	/* --- ABI 1.1 --- */
	/* Ident map lookup behind host->ident_match: 0 match, -EACCES no
	 * match, -ENOENT when this module has no map named `map`. */
	int (*ident)(void *mod, const char *map, const char *system_user, const char *role);
} pgs_access_ops;

/* Audit events.  Since 1.4 every event carries `fields`: its facts as
 * text, key, value, ..., NULL, never a secret.  Keys by event (all text;
 * "conn" = "C-<id>" on every connection event):
 *   CONNECT      peer, port, listener
 *   TLS          protocol, cipher, client_subject (when a certificate came)
 *   GSS          principal
 *   STEP         chain, step (instance), module, result ("ok", "fail",
 *                "ignore", "protocol_error"), rule, reason (on fail)
 *   AUTH_OK      user, database, method (the chain), identity, rule,
 *                transport
 *   AUTH_FAIL    user, database, method, reason (as logged), rule,
 *                transport
 *   DISCONNECT   user, database, duration_ms, bytes_in, bytes_out, reason
 *   RELOAD       result ("ok", "failed"), config, reason (on failure)
 *   SERVER_FAIL  server, user, database, reason
 *   ADMIN        user, command, result
 * on_event() is called on the thread where the event happens (workers, the
 * main thread for RELOAD), often several at once: it must be thread-safe
 * and must not block (queue, and write elsewhere). */
enum pgs_event_type {
	PGS_EV_CONNECT = 1,
	PGS_EV_AUTH_OK,
	PGS_EV_AUTH_FAIL,
	PGS_EV_DISCONNECT,
	PGS_EV_RELOAD,
	PGS_EV_ADMIN,
	/* 1.4 */
	PGS_EV_TLS,         /* TLS established with a client */
	PGS_EV_GSS,         /* GSS encryption established with a client */
	PGS_EV_STEP,        /* one chain step's result */
	PGS_EV_SERVER_FAIL, /* a server connection or login failed */
};

typedef struct pgs_event {
	uint32_t size;
	enum pgs_event_type type;
	const char *detail; /* may be NULL; never a secret */
	/* --- ABI 1.4 --- */
	const char *const *fields; /* key, value, ..., NULL (see above) */
} pgs_event;

typedef struct pgs_audit_ops {
	uint32_t size;
	void (*on_event)(void *mod, const pgs_conn *conn, const pgs_event *ev);
	void *reserved[4];

	/* --- ABI 1.4 --- */
	/* 0 while the sink takes events; a negative errno when it cannot
	 * write and its policy says new logins must wait for it: the host
	 * then refuses each new login (SQLSTATE 58030) and logs why.  Called
	 * on workers for every login: must be cheap and never block. */
	int (*healthy)(void *mod);
	/* Reopen output files (SIGUSR1, after log rotation).  Main thread. */
	void (*reopen)(void *mod);
} pgs_audit_ops;

/* Transport (TLS, GSS encryption).  The host owns the socket; the module
 * drives its library over it without blocking. */
enum pgs_io {
	PGS_IO_OK = 0,     /* done (or bytes moved, for read/write) */
	PGS_IO_WANT_READ,  /* call again when the socket is readable */
	PGS_IO_WANT_WRITE, /* call again when the socket is writable */
	PGS_IO_CLOSED,     /* orderly close by the peer */
	PGS_IO_ERROR,      /* fatal; *logdetail says why */
	PGS_IO_PENDING,    /* 1.3, handshake() only: the module called
	                    * host->defer() with the conn it got in conn_new();
	                    * handshake() is called again once the work ran */
};

typedef struct pgs_transport_ops {
	uint32_t size;
	/* Which negotiation this transport answers: "ssl" (SSLRequest, and
	 * sslmode on server connections) or "gss" (GSSENCRequest). */
	const char *kind;
	int (*conn_new)(void *mod, pgs_conn *conn, int fd, void **state);
	enum pgs_io (*handshake)(void *mod, void *state, const char **logdetail);
	enum pgs_io (*read)(void *mod, void *state, void *buf, size_t len, size_t *done);
	enum pgs_io (*write)(void *mod, void *state, const void *buf, size_t len, size_t *done);
	enum pgs_io (*shutdown)(void *mod, void *state);
	void (*conn_free)(void *mod, void *state);
	/* Facts: "protocol", "cipher", "peer_subject", "gss_principal".  A
	 * transport of kind "gss" learns its role from host->conn_side(conn):
	 * the acceptor on client connections, the initiator on server ones.
	 * For kind "gss" the host calls conn_new() before it answers 'G' to a
	 * client's GSSENCRequest, or before it sends one to a server; -ENOENT
	 * there means "no credentials for this role": the host answers 'N'
	 * (or, towards a server, goes on as gssencmode allows). */
	const char *(*fact)(void *mod, void *state, const char *name);
	int (*peer_cert)(void *mod, void *state, const uint8_t **der, size_t *len);
	int (*cb_hash)(void *mod, void *state, uint8_t *out, size_t *len);
	void *reserved[8];

	/* --- ABI 1.2 --- */
	/* Bytes already decrypted and held inside the module, which read()
	 * returns without the socket becoming readable again (OpenSSL's
	 * SSL_pending): the host reads them before waiting for the socket. */
	size_t (*pending)(void *mod, void *state);
} pgs_transport_ops;

/* The descriptor returned by the entry function. */
typedef struct pgs_module {
	uint32_t magic;                /* PGS_MODULE_MAGIC */
	uint16_t abi_major, abi_minor; /* the header it was built against */
	uint32_t size;                 /* sizeof(pgs_module) at build time */
	const char *name;              /* e.g. "trust" */
	const char *version;           /* the module's own version */
	const char *build_id;          /* non-NULL: load only into the same host build */
	/* init: 0, or a negative errno with a message logged via host->log. */
	int (*init)(const pgs_host *host, const pgs_cfg *cfg, void **mod);
	int (*reload)(void *mod, const pgs_cfg *cfg); /* optional */
	void (*fini)(void *mod);
	const pgs_auth_ops *auth; /* NULL when not provided */
	const pgs_backend_ops *backend;
	const pgs_cred_ops *cred;
	const pgs_access_ops *access;
	const pgs_audit_ops *audit;
	const pgs_transport_ops *transport;
	void *reserved[8];
} pgs_module;

/* Size of the v1.0 descriptor: the host refuses anything smaller. */
#define PGS_MODULE_V1_0_SIZE (offsetof(pgs_module, reserved) + 8 * sizeof(void *))

#define PGS_MODULE_INIT(namestr, versionstr)                                               \
	.magic = PGS_MODULE_MAGIC, .abi_major = PGS_ABI_MAJOR, .abi_minor = PGS_ABI_MINOR, \
	.size = sizeof(pgs_module), .name = (namestr), .version = (versionstr)

/* Define the entry symbol for descriptor `desc`. */
#define PGS_MODULE_EXPORT(desc)                                                             \
	__attribute__((visibility("default"))) const pgs_module *pgs_module_entry_v1(void); \
	__attribute__((visibility("default"))) const pgs_module *pgs_module_entry_v1(void)  \
	{                                                                                   \
		return &(desc);                                                             \
	}

#ifdef __cplusplus
}
#endif
#endif /* PGSLUICE_MODULE_H */
