/*
 * config.h — the configuration snapshot.
 *
 * `pgsluice -c FILE` reads FILE (libconfig syntax), then every regular file
 * matching conf.d/[!.]*.conf beside it in lexical order.  Merge rules:
 * scalar settings — the later file wins; `modules`, `chains` (named groups)
 * and `servers` (list of groups keyed by name) and `pools` (keyed by
 * database+user) — merged by key, the later definition replacing the earlier
 * whole.  Every error message names file and line.
 *
 * A snapshot is immutable once built: workers hold a reference to the one
 * they started with; SIGHUP builds a new one and swaps it in.
 */
#ifndef PGS_CONFIG_H
#define PGS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

/* Limits and defaults (documented in doc/configuration.md). */
#define PGS_CONFIG_MAX_STRING                 4096 /* bytes in any string or name */
#define PGS_CONFIG_MAX_FILE_SIZE              (16 * 1024 * 1024)
#define PGS_CONFIG_MAX_DEPTH                  32 /* nesting of groups/lists */
#define PGS_CONFIG_MAX_WORKERS                256
#define PGS_DEFAULT_LISTEN_HOST               "127.0.0.1"
#define PGS_DEFAULT_SERVER_PORT               5432
#define PGS_DEFAULT_UNIX_SOCKET_MODE          0777
#define PGS_DEFAULT_MAX_CLIENT_CONN           5000
#define PGS_DEFAULT_POOL_MAX_SIZE             20
#define PGS_DEFAULT_SERVER_RESET_QUERY        "DISCARD ALL"
#define PGS_DEFAULT_QUERY_WAIT_TIMEOUT_MS     120000
#define PGS_DEFAULT_SERVER_IDLE_TIMEOUT_MS    600000
#define PGS_DEFAULT_SERVER_LIFETIME_MS        3600000
#define PGS_DEFAULT_CLIENT_IDLE_TIMEOUT_MS    0
#define PGS_DEFAULT_SERVER_CONNECT_TIMEOUT_MS 15000
#define PGS_DEFAULT_CLIENT_LOGIN_TIMEOUT_MS   60000
#define PGS_DEFAULT_SHUTDOWN_TIMEOUT_MS       30000

enum pool_mode { POOL_SESSION = 0, POOL_TRANSACTION = 1 };

/* Where a pool's secrets come from (doc/security-models.md). */
enum pool_security {
	SEC_PASSTHROUGH = 0, /* every credential module without fetch; the same
	                      * password (or recovered SCRAM key) on both sides */
	SEC_VAULT,           /* one vault instance for both sides */
	SEC_FRONTEND_USERS,  /* the vault's frontend users for clients, its users
	                      * for servers */
	SEC_AUTHQUERY,       /* a fetching instance (authquery) for clients;
	                      * servers: password, else its cached verifier */
};

enum chain_control {
	CTL_REQUIRED = 0,
	CTL_REQUISITE,
	CTL_SUFFICIENT,
	CTL_OPTIONAL,
};

struct cfg_listen {
	char *host; /* IPv4/IPv6 literal or "*" */
	int port;
	char *where; /* "file:line" */
};

/* The metrics endpoint (`metrics = { listen = "127.0.0.1:9187"; }`). */
#define PGS_DEFAULT_METRICS_PATH "/metrics"
#define PGS_METRICS_PATH_MAX     256 /* bytes in metrics.path */

struct cfg_metrics {
	char *host; /* IPv4/IPv6 literal or "*"; NULL: no endpoint */
	int port;
	char *path;  /* "/metrics" by default */
	char *where; /* "file:line" of the group */
};

/* The admin console (`admin = { database = "pgsluice"; users = ( "ops" ); };`).
 * The strings point into the parsed files (pgs_config.files): nothing to
 * free. */
#define PGS_ADMIN_NAME_MAX  63  /* bytes in the database name and each user */
#define PGS_ADMIN_MAX_USERS 256 /* entries in admin.users */

struct cfg_admin {
	const char *database; /* NULL: no console */
	const char *users[PGS_ADMIN_MAX_USERS];
	size_t nusers;
	const char *vault; /* credential instance whose admins table lists admins; NULL: none */
	const config_setting_t *group; /* for "file:line" */
};

struct cfg_server {
	char *name;
	char *host; /* IP literal, host name, or a directory (Unix socket) */
	int port;
	/* TLS towards this server (libpq's meanings); paths absolute */
	char *sslmode; /* disable, allow, prefer (default), require, verify-ca, verify-full */
	char *sslrootcert, *sslcert, *sslkey, *sslcrl;
	/* GSS encryption towards this server: disable (default), prefer, require;
	 * krbsrvname: the server's Kerberos service name (default "postgres") */
	char *gssencmode, *krbsrvname;
	char *where;
};

struct cfg_pool {
	char *database;   /* "*" matches any */
	char *user;       /* "*" matches any */
	char *server;     /* name of a cfg_server */
	int server_index; /* resolved index into servers[] */
	enum pool_mode mode;
	int max_size, min_size, initial_size;
	char *password;           /* backend login password, may be NULL */
	char *server_user;        /* NULL: the client's user */
	char *server_database;    /* NULL: the client's database */
	char *server_reset_query; /* NULL: the global one */
	enum pool_security security;
	char *cred_instance; /* vault or authquery instance; NULL for passthrough */
	char *where;
	const config_setting_t *group; /* the pool's group in its file */
};

/* "passthrough", "vault", "frontend-users", "authquery". */
const char *pool_security_name(enum pool_security s);

struct cfg_module {
	char *name;                    /* instance name (the key in `modules`) */
	char *path;                    /* as written; relative paths resolve against module_path */
	const config_setting_t *group; /* the instance's group: module config */
	char *where;
	char *full_path; /* path resolved against module_path (absolute when
	                  * module_path is) */
};

struct cfg_chain_step {
	char *use; /* module instance name */
	enum chain_control control;
	const config_setting_t *group; /* the step's group (step options) */
	char *where;
};

struct cfg_chain {
	char *name;
	struct cfg_chain_step *steps;
	size_t nsteps;
	char *where;
};

struct pgs_config {
	char *path; /* main file, absolute */

	struct cfg_listen *listen;
	size_t nlisten;
	char *unix_socket_dir; /* NULL: no Unix socket */
	int unix_socket_mode;  /* default 0777 */
	int workers;           /* 0: one per CPU (resolved at start) */
	int max_client_conn;   /* default 5000 */

	struct cfg_metrics metrics; /* metrics group; host NULL when absent */
	struct cfg_admin admin;     /* admin group; database NULL when absent */

	/* log group */
	int log_level; /* enum pgs_log */
	bool log_connections, log_disconnections;

	char *module_path;
	struct cfg_module *modules;
	size_t nmodules;

	struct cfg_server *servers;
	size_t nservers;
	struct cfg_pool *pools;
	size_t npools;

	struct cfg_chain *chains; /* named chains (`chains` group) */
	size_t nchains;
	struct cfg_chain default_chain; /* auth.default_chain; name "default" */

	/* Timeouts in milliseconds; 0 disables. */
	int64_t query_wait_timeout;     /* default 120000 */
	int64_t server_idle_timeout;    /* default 600000 */
	int64_t server_lifetime;        /* default 3600000 */
	int64_t client_idle_timeout;    /* default 0 */
	int64_t server_connect_timeout; /* default 15000 */
	int64_t client_login_timeout;   /* default 60000 */
	char *server_reset_query;       /* default "DISCARD ALL"; "" disables */
	int64_t shutdown_timeout;       /* SIGTERM drain limit, default 30000 */

	/* The parsed files, kept alive because config_setting_t pointers above
	 * point into them. */
	config_t *files;
	size_t nfiles;
};

/*
 * Read `path` and its conf.d/, validate, and build a snapshot.
 * On failure returns NULL and writes every error (one per line, each naming
 * file:line) into err.  Never exits the process.
 */
struct pgs_config *config_load(const char *path, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* Free a snapshot (NULL is fine). */
void config_free(struct pgs_config *cfg);

/* The pool definition that applies to (database, user): an exact match
 * first, then database with user "*", then "*" with user, then "*"/"*".
 * NULL when none applies. */
const struct cfg_pool *config_find_pool(const struct pgs_config *cfg, const char *database,
                                        const char *user);

/* A named chain, NULL if absent. */
const struct cfg_chain *config_find_chain(const struct pgs_config *cfg, const char *name);

/*
 * Split "HOST:PORT" (an IPv4 literal, "[IPv6]" or "*", then a port
 * 1..65535) into host (without brackets) and port.  0, or -EINVAL with
 * the reason in why.
 */
int config_parse_host_port(const char *s, char *host, size_t hostlen, int *port, char *why,
                           size_t whylen) __attribute__((warn_unused_result));

/* "file:line" of a setting, into buf. */
const char *config_where(const config_setting_t *s, char *buf, size_t len);

#endif /* PGS_CONFIG_H */
