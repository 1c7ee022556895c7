/*
 * audit.c — the "audit" module: a tamper-evident audit trail of the events
 * the core and the auth modules report (connections, TLS and GSS
 * encryption, chain steps, logins, disconnections, reloads, server
 * failures, admin commands), as JSON Lines chained by HMAC-SHA256.
 *
 * Config (instance group):
 *   file = "/var/log/pgsluice/audit.jsonl";  required; created 0600 when missing
 *   key_file = "audit.key";                  64 hex digits, mode 0600/0400; or
 *   key_vault = "vault";                     the HMAC key derived from the master key of
 *                                            this vault instance (listed before the audit
 *                                            instance in modules); exactly one of the two
 *   syslog = false;                          also send each line to syslog (authpriv.info)
 *   fsync = "batch";                         "batch" (fdatasync per batch) or "off"
 *   on_error = "refuse";                     "refuse" (new logins wait) or "continue"
 *   queue_max = 10000;                       events waiting for the writer (1..1000000)
 *
 * key_vault asks host->cred_derive_key (ABI 1.5) for AUDIT_VAULT_LABEL: the
 * vault derives it with HKDF-SHA256 (modules/vault/vault_crypto.h) and
 * `pgsluice-admin audit-verify -m master.key` derives the same bytes.
 *
 * This file reads the settings and the key, and turns each event into a
 * queued item on the worker that reports it (no I/O there).  The writer
 * (audit_writer.c) is shared by every instance writing the same file, so
 * that a reload, which builds the new instance before dropping the old
 * one, keeps one chain.  The line format is audit_json.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <pgsluice/module.h>

#include "audit_json.h"
#include "audit_writer.h"

#define AUDIT_PATH_MAX      4096
#define AUDIT_KEY_FILE_MAX  (2 * AUDIT_KEY_LEN + 1) /* 64 hex digits and "\n" */
#define AUDIT_QUEUE_DEFAULT 10000
#define AUDIT_QUEUE_MAX     1000000
#define AUDIT_VAULT_LABEL   "audit-hmac" /* never change: old trails would not verify */
#define AUDIT_INSTANCE_MAX  256          /* bytes of a key_vault instance name */

struct audit_module {
	const pgs_host *host;
	struct audit_writer *writer;
};

/* ------------------------------------------------------------ settings */

static const char *where(const pgs_host *host, const pgs_cfg *cfg, const char *key)
{
	const char *w = cfg != NULL && host->cfg_where != NULL ? host->cfg_where(cfg, key) : NULL;

	return w != NULL ? w : "?";
}

/* A required path setting into out. */
static int cfg_file(const pgs_host *host, const pgs_cfg *cfg, const char *key, const char *what,
                    char *out, size_t size)
{
	int rc = cfg != NULL ? host->cfg_path(cfg, key, out, size) : -ENOENT;

	if (rc < 0) {
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: audit: \"%s\" (%s) is required and must be a non-empty path%s",
		          where(host, cfg, rc == -ENOENT ? NULL : key), key, what,
		          rc == -ENAMETOOLONG ? " (path too long)" : "");
		return -EINVAL;
	}
	return 0;
}

/* An optional string setting that must be one of two words: 0 for the
 * first (also when absent), 1 for the second, -EINVAL (logged). */
static int cfg_choice(const pgs_host *host, const pgs_cfg *cfg, const char *key, const char *a,
                      const char *b)
{
	const char *v = NULL;
	int rc = host->cfg_str(cfg, key, &v);

	if (rc == -ENOENT)
		return 0;
	if (rc == 0 && v != NULL && strcmp(v, a) == 0)
		return 0;
	if (rc == 0 && v != NULL && strcmp(v, b) == 0)
		return 1;
	host->log(PGS_LOG_ERROR, NULL, "%s: audit: \"%s\" must be \"%s\" or \"%s\"",
	          where(host, cfg, key), key, a, b);
	return -EINVAL;
}

/* Read and check the key file (a private regular file holding 64 hex
 * digits); the checks run on the descriptor that is read. */
static int key_load(const pgs_host *host, const pgs_cfg *cfg, const char *path,
                    uint8_t key[AUDIT_KEY_LEN])
{
	char text[AUDIT_KEY_FILE_MAX + 1];
	const char *why = NULL;
	size_t len = 0;
	struct stat st;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		why = strerror(errno);
	} else if (fstat(fd, &st) < 0) {
		rc = -errno;
		why = strerror(errno);
	} else if (!S_ISREG(st.st_mode)) {
		rc = -EPERM;
		why = "not a regular file";
	} else if (st.st_uid != geteuid() && st.st_uid != 0) {
		rc = -EPERM;
		why = "owned by neither this process's user nor root";
	} else if ((st.st_mode & 077) != 0) {
		rc = -EPERM;
		why = "permissions allow group or other access (chmod 600 it)";
	}
	while (rc == 0 && len < sizeof text) {
		ssize_t r = read(fd, text + len, sizeof text - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			why = strerror(errno);
		}
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	if (fd >= 0)
		close(fd);
	if (rc == 0 && (len > AUDIT_KEY_FILE_MAX || audit_key_parse(text, len, key) < 0)) {
		rc = -EINVAL;
		why = "must hold exactly 64 hexadecimal digits (a 32-byte key), optionally "
		      "followed by a newline (make one with: pgsluice-admin audit-key -k FILE)";
	}
	OPENSSL_cleanse(text, sizeof text);
	if (rc < 0)
		host->log(PGS_LOG_ERROR, NULL, "%s: audit: key_file %s: %s",
		          where(host, cfg, "key_file"), path, why);
	return rc;
}

/* The key derived by the credential instance `name` (key_vault). */
static int key_derive(const pgs_host *host, const pgs_cfg *cfg, const char *name,
                      uint8_t key[AUDIT_KEY_LEN])
{
	const char *w = where(host, cfg, "key_vault");
	int rc;

	if (!PGS_HAS_FIELD(host, pgs_host, cred_derive_key) || host->cred_derive_key == NULL) {
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: audit: key_vault needs a pgsluice with module ABI 1.5 or later", w);
		return -ENOTSUP;
	}
	rc = host->cred_derive_key(cfg, name, AUDIT_VAULT_LABEL, key, AUDIT_KEY_LEN);
	if (rc == 0)
		return 0;
	OPENSSL_cleanse(key, AUDIT_KEY_LEN);
	if (rc == -ESRCH)
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: audit: key_vault = \"%s\": no vault instance of that name is listed "
		          "before this audit instance in modules (it must be listed before the "
		          "audit instance in modules)",
		          w, name);
	else if (rc == -ENOTSUP)
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: audit: key_vault = \"%s\": that module instance cannot derive keys "
		          "(it is not a vault instance)",
		          w, name);
	else
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: audit: key_vault = \"%s\": the key cannot be derived: %s", w, name,
		          strerror(-rc));
	/* a wrong instance is a configuration error, whatever the host said */
	return rc == -ESRCH || rc == -ENOTSUP ? -EINVAL : rc;
}

/* The key: from key_file or key_vault, exactly one of them (logged). */
static int key_get(const pgs_host *host, const pgs_cfg *cfg, uint8_t key[AUDIT_KEY_LEN],
                   char *vault, size_t vault_size)
{
	char key_path[AUDIT_PATH_MAX];
	const char *name = NULL;
	int file_rc, vault_rc;

	vault[0] = '\0';
	file_rc = host->cfg_path(cfg, "key_file", key_path, sizeof key_path);
	vault_rc = host->cfg_str(cfg, "key_vault", &name);
	if (file_rc != -ENOENT && vault_rc != -ENOENT) {
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: audit: \"key_file\" and \"key_vault\" exclude each other: set "
		          "exactly one",
		          where(host, cfg, "key_vault"));
		return -EINVAL;
	}
	if (file_rc == -ENOENT && vault_rc == -ENOENT) {
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: audit: the HMAC key is required: set \"key_file\" (a key file's "
		          "path) or \"key_vault\" (the name of a vault instance)",
		          where(host, cfg, NULL));
		return -EINVAL;
	}
	if (file_rc != -ENOENT)
		return file_rc == 0 ? key_load(host, cfg, key_path, key)
		                    : cfg_file(host, cfg, "key_file", "the HMAC key's path",
		                               key_path, sizeof key_path);
	if (vault_rc < 0 || name == NULL || name[0] == '\0' ||
	    strnlen(name, AUDIT_INSTANCE_MAX) >= AUDIT_INSTANCE_MAX ||
	    (size_t)snprintf(vault, vault_size, "%s", name) >= vault_size) {
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: audit: \"key_vault\" must be the name of a vault instance (a "
		          "non-empty string of at most %d bytes)",
		          where(host, cfg, "key_vault"), AUDIT_INSTANCE_MAX - 1);
		vault[0] = '\0';
		return -EINVAL;
	}
	return key_derive(host, cfg, name, key);
}

/* All settings into *wc (path in path_buf); -EINVAL (logged). */
static int settings(const pgs_host *host, const pgs_cfg *cfg, char *path_buf, size_t path_size,
                    struct audit_writer_cfg *wc, char *vault, size_t vault_size)
{
	int64_t queue_max = AUDIT_QUEUE_DEFAULT;
	bool use_syslog = false;
	int fsync_off, cont, rc;

	if (cfg_file(host, cfg, "file", "the audit trail's path", path_buf, path_size) < 0)
		return -EINVAL;
	rc = host->cfg_bool(cfg, "syslog", &use_syslog);
	if (rc < 0 && rc != -ENOENT) {
		host->log(PGS_LOG_ERROR, NULL, "%s: audit: \"syslog\" must be true or false",
		          where(host, cfg, "syslog"));
		return -EINVAL;
	}
	rc = host->cfg_int(cfg, "queue_max", &queue_max);
	if ((rc < 0 && rc != -ENOENT) || queue_max < 1 || queue_max > AUDIT_QUEUE_MAX) {
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: audit: \"queue_max\" must be an integer in 1..%d",
		          where(host, cfg, "queue_max"), AUDIT_QUEUE_MAX);
		return -EINVAL;
	}
	fsync_off = cfg_choice(host, cfg, "fsync", "batch", "off");
	cont = cfg_choice(host, cfg, "on_error", "refuse", "continue");
	if (fsync_off < 0 || cont < 0)
		return -EINVAL;
	wc->path = path_buf;
	wc->fsync = fsync_off == 0;
	wc->refuse = cont == 0;
	wc->syslog = use_syslog;
	wc->queue_max = (size_t)queue_max;
	return key_get(host, cfg, wc->key, vault, vault_size);
}

/* ------------------------------------------------------------ module */

static int audit_init(const pgs_host *host, const pgs_cfg *cfg, void **mod)
{
	struct audit_writer_cfg wc = {0};
	char path[AUDIT_PATH_MAX], vault[AUDIT_INSTANCE_MAX];
	struct audit_module *m;
	int rc;

	if (!PGS_HAS_FIELD(host, pgs_host, cfg_path) || cfg == NULL)
		return -ENOTSUP;
	rc = settings(host, cfg, path, sizeof path, &wc, vault, sizeof vault);
	if (rc < 0) {
		OPENSSL_cleanse(wc.key, sizeof wc.key);
		return rc;
	}
	m = host->alloc(sizeof *m);
	if (m == NULL) {
		OPENSSL_cleanse(wc.key, sizeof wc.key);
		return -ENOMEM;
	}
	m->host = host;
	rc = audit_writer_acquire(host, &wc, &m->writer);
	OPENSSL_cleanse(wc.key, sizeof wc.key);
	if (rc < 0) {
		host->log(PGS_LOG_ERROR, NULL, "%s: audit: the audit trail cannot be written",
		          where(host, cfg, "file"));
		host->free(m);
		return rc;
	}
	host->log(PGS_LOG_INFO, NULL, "audit: writing %s (fsync %s, on_error %s%s, key %s%s%s)",
	          path, wc.fsync ? "batch" : "off", wc.refuse ? "refuse" : "continue",
	          wc.syslog ? ", also to syslog" : "",
	          vault[0] != '\0' ? "from the master key of vault \"" : "from key_file", vault,
	          vault[0] != '\0' ? "\"" : "");
	*mod = m;
	return 0;
}

static void audit_fini(void *mod)
{
	struct audit_module *m = mod;

	if (m == NULL)
		return;
	audit_writer_release(m->writer);
	m->host->free(m);
}

static const char *event_name(enum pgs_event_type type)
{
	switch (type) {
	case PGS_EV_CONNECT:
		return "connect";
	case PGS_EV_AUTH_OK:
		return "auth_ok";
	case PGS_EV_AUTH_FAIL:
		return "auth_fail";
	case PGS_EV_DISCONNECT:
		return "disconnect";
	case PGS_EV_RELOAD:
		return "reload";
	case PGS_EV_ADMIN:
		return "admin";
	case PGS_EV_TLS:
		return "tls";
	case PGS_EV_GSS:
		return "gss";
	case PGS_EV_STEP:
		return "step";
	case PGS_EV_SERVER_FAIL:
		return "server_fail";
	}
	return "unknown"; /* a newer host's event */
}

/* Runs on any worker: formats into a heap item and queues it, no I/O. */
static void audit_on_event(void *mod, const pgs_conn *conn, const pgs_event *ev)
{
	struct audit_module *m = mod;
	const char *const *fields = NULL;
	const char *detail_only[3] = {"detail", NULL, NULL};
	struct audit_item *item;
	struct timespec now;
	const char *name;
	size_t len;

	(void)conn; /* the host puts what matters ("conn", "user"...) in fields */
	if (m == NULL || ev == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	name = event_name(ev->type);
	if (PGS_HAS_FIELD(ev, pgs_event, fields))
		fields = ev->fields;
	if (fields == NULL && ev->detail != NULL) { /* a host older than 1.4 */
		detail_only[1] = ev->detail;
		fields = detail_only;
	}
	len = audit_json_body(NULL, 0, name, fields);
	item = audit_item_new(len);
	if (item == NULL) {
		audit_writer_submit_lost(m->writer);
		return;
	}
	audit_json_body(item->body, len + 1, name, fields);
	audit_json_ts(&now, item->ts);
	audit_writer_submit(m->writer, item);
}

static int audit_healthy(void *mod)
{
	const struct audit_module *m = mod;

	return m != NULL ? audit_writer_healthy(m->writer) : 0;
}

static void audit_reopen(void *mod)
{
	struct audit_module *m = mod;

	if (m != NULL)
		audit_writer_reopen(m->writer);
}

static const pgs_audit_ops audit_ops = {
        .size = sizeof(pgs_audit_ops),
        .on_event = audit_on_event,
        .healthy = audit_healthy,
        .reopen = audit_reopen,
};

static const pgs_module audit_desc = {
        PGS_MODULE_INIT("audit", "0.1.0"),
        .init = audit_init,
        .fini = audit_fini,
        .audit = &audit_ops,
};

PGS_MODULE_EXPORT(audit_desc)
