/*
 * conn.h — the connection objects of the core: struct pgs_conn (the part
 * shared by both ends, opaque to modules), struct client and struct server,
 * and their explicit states.
 *
 * Each connection lives on one worker for its whole life (a server may be
 * handed from one worker to another while idle).  Each state has one owning
 * list, and transitions go through client_set_state()/server_set_state().
 */
#ifndef PGS_CONN_H
#define PGS_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "chain.h"
#include "chainset.h"
#include "config.h"
#include "pgsluice/module.h"
#include "startup.h"
#include "util.h"

struct worker;
struct pool;
struct gen;
struct console;

/* What an epoll event's data.ptr points at: the first member says what. */
enum ev_kind {
	EV_LISTENER = 1,
	EV_CLIENT,
	EV_SERVER,
	EV_CANCEL,
	EV_INBOX,
	EV_TIMER,
};

#define IOBUF_SIZE 16384u

/* A read buffer, borrowed from the worker while a connection has unread or
 * unsent input, given back when it is empty (idle is cheap). */
struct iobuf {
	uint32_t start, end; /* unprocessed bytes are data[start, end) */
	struct iobuf *next_free;
	uint8_t data[IOBUF_SIZE];
};

/* Memory handed to modules with conn_alloc: wiped and freed at close. */
struct conn_mem {
	struct conn_mem *next;
	size_t len;
	/* payload follows, max_align_t aligned */
} __attribute__((aligned(16)));

/* A small set of ParameterStatus values with an order-independent hash, so
 * "same parameters?" costs one comparison in the common case. */
#define PARAMS_MAX 48
struct param_set {
	uint32_t n;
	uint64_t hash;
	char *names[PARAMS_MAX];
	char *values[PARAMS_MAX];
};

struct pgs_conn {
	enum ev_kind kind; /* EV_CLIENT or EV_SERVER: must stay first */
	enum pgs_side side;
	int fd;
	uint32_t events; /* what is registered with epoll now */
	uint64_t id;
	struct worker *w;
	struct iobuf *rbuf;
	struct bytebuf wbuf; /* output the socket did not take yet */
	struct conn_mem *mem;
	bool dead;                    /* closed; freed at the end of the loop turn */
	struct list wlink;            /* worker's list of live clients / servers */
	struct transport *tp;         /* TLS/GSS layer (transport.c); NULL: plain */
	struct list ready_link;       /* in the worker's ready list while tp->ready_listed */
	uint64_t bytes_in, bytes_out; /* through the socket (or transport), for audit */
};

enum client_state {
	CL_STARTUP = 1, /* reading the startup packet */
	CL_AUTH,        /* running the frontend chain */
	CL_LOGIN_WAIT,  /* authenticated; waiting for a server to learn params */
	CL_IDLE,        /* transaction mode: between transactions, no server */
	CL_WAITING,     /* has a request, waiting for a server */
	CL_LINKED,      /* has a server */
	CL_CONSOLE,     /* in the admin console (console.c): no pool, no server */
};

struct client {
	struct pgs_conn c;
	enum client_state state;
	struct startup_packet sp;
	struct gen *gen; /* config generation it started with */
	struct pool *pool;
	struct server *server;           /* when CL_LINKED */
	uint32_t cancel_pid, cancel_key; /* the BackendKeyData we issued */
	bool cancel_registered;
	int64_t connect_time, state_since, last_active;
	char remote_addr[64];
	char remote_port[8];
	char peer_uid[12]; /* Unix socket peer's uid (SO_PEERCRED), decimal; "" if unknown */
	bool is_unix;
	bool negotiated_ssl, negotiated_gss;
	bool direct_tls; /* TLS without SSLRequest (PostgreSQL 17) */

	/* authentication */
	struct chainset_run auth;
	bool defer_inflight;             /* a deferred job runs for this client */
	struct cred_fetch *fetch;        /* security = authquery: what the source said */
	const char *auth_rule;           /* access rule that chose the chain, for logs */
	const char *const *auth_options; /* the rule's key, value, ... NULL */
	char *authn_id;
	struct console *console; /* CL_CONSOLE: the session (console_int.h) */

	uint64_t params_hash;    /* hash of the ParameterStatus set it was told */
	uint32_t in_remain;      /* bytes of the current message still to come */
	struct list wait_link;   /* in the pool's waiters while CL_WAITING/CL_LOGIN_WAIT */
	struct list cancel_link; /* in the cancel key registry */
};

enum server_state {
	SV_CONNECTING = 1, /* TCP/Unix connect in progress */
	SV_LOGIN,          /* StartupMessage sent; authenticating */
	SV_RESET,          /* running server_reset_query */
	SV_IDLE,           /* in the pool's idle list */
	SV_LINKED,         /* lent to a client */
};

struct server {
	struct pgs_conn c;
	enum server_state state;
	struct pool *pool;
	struct gen *gen;             /* generation it was created under */
	const struct cfg_pool *pcfg; /* its pool's settings, from gen */
	struct client *client;       /* when SV_LINKED */
	uint32_t be_pid, be_key;     /* the server's real BackendKeyData */
	struct param_set params;
	int64_t created, last_used;
	int pending;          /* Query/Sync/FunctionCall sent, RFQ not yet seen */
	char tx_status;       /* from the last ReadyForQuery */
	bool close_when_done; /* drop instead of returning it to the pool */
	uint32_t in_remain;   /* bytes of the current message still to come */
	int connect_errno;    /* a connect() that failed at once */
	uint8_t nego_phase;   /* in SV_CONNECTING: GSS/TLS negotiation (server_nego.c) */
	bool defer_inflight;  /* a module's deferred job runs for this server */
	uint32_t auth_code;   /* the request a deferred backend step answers */
	struct mod_instance *auth_mod;
	void *auth_state;
	bool auth_active;
	char login_user[64], login_db[64];
	struct list pool_link; /* idle list */
};

/* Read facts out of a param set. */
const char *params_get(const struct param_set *ps, const char *name);
/* Set name=value; 0 or -ENOMEM.  Keeps the hash current. */
int params_set(struct param_set *ps, const char *name, const char *value)
        __attribute__((warn_unused_result));
void params_clear(struct param_set *ps);
int params_copy(struct param_set *dst, const struct param_set *src)
        __attribute__((warn_unused_result));

#endif /* PGS_CONN_H */
