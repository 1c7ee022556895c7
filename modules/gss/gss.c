/*
 * gss.c — the "gss" module (MIT Kerberos through GSSAPI): descriptor,
 * settings and credentials.  One instance serves three roles:
 *   - frontend authentication of clients (gss_auth.c, PostgreSQL's "gss"
 *     method) and the acceptor side of GSS encryption (gss_tp.c): both take
 *     the acceptor credentials of `keytab`;
 *   - backend authentication, pgsluice's own GSSAPI login to PostgreSQL
 *     (gss_backend.c) and the initiator side of GSS encryption: both take the
 *     initiator credentials of `client_keytab` / `ccache`.
 *
 * Config (instance group; relative paths are relative to the config file):
 *   keytab = "pgsluice.keytab";   acceptor keytab (optional).  A regular file
 *                                 with PostgreSQL's key file rule: owned by
 *                                 the daemon's user -> mode 0600 or less;
 *                                 owned by root -> 0640 or less; any other
 *                                 owner is refused.  It must hold a key of
 *                                 service krb_srvname (e.g. postgres/host).
 *                                 Without it, clients cannot use GSSAPI.
 *   krb_srvname = "postgres";     the service clients ask a ticket for
 *                                 (libpq's krbsrvname); 1..63 bytes, no '/',
 *                                 '@', blank or control character.  A ticket
 *                                 for another service of the keytab is refused.
 *   include_realm = true;         defaults of the gss auth step, overridden by
 *   krb_realm = "EXAMPLE.TEST";   the step's options include_realm ("0"/"1"),
 *   map = "krb";                  krb_realm and map, as in pg_hba.conf
 *   krb_caseins_users = false;    realm and user name compared ignoring case
 *                                 (PostgreSQL's GUC of that name)
 *   client_keytab = "pgsluice-client.keytab";
 *                                 initiator keytab for pgsluice's own logins
 *                                 to servers that ask for GSSAPI (same file
 *                                 rule as keytab).  MIT Kerberos gets and
 *                                 renews tickets from it by itself.
 *   client_principal = "pgsluice@EXAMPLE.TEST";
 *                                 default: the client keytab's first
 *                                 principal, or the ccache's
 *   ccache = "FILE:/var/lib/pgsluice/krb5cc";
 *                                 credential cache of the initiator; default
 *                                 with client_keytab: a private in-memory
 *                                 cache per instance ("MEMORY:pgsluice-gss-...")
 *
 * Nothing here contacts a KDC: init() only reads files (the keytabs); the
 * initiator credentials are acquired on the work pool for each new server
 * connection (gss_initiator_cred): a handle of its own per context, because
 * MIT locks a credential handle for the whole of a context's first step, KDC
 * round trip included, so a shared handle would let one login that waits
 * on a KDC hold up every other.  The tickets themselves are shared through
 * the ccache, so only the first login asks the KDC for them.  The environment (KRB5_KTNAME,
 * KRB5CCNAME) is never changed: the credential store names the files.
 * Keys of the group the module does not know cannot be seen through the ABI
 * (the host has no key listing), as with the other modules.
 *
 * There is no reload op: a reload (SIGHUP) builds a new instance, so a bad
 * new keytab fails init() and the running instance stays.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gss_int.h"

#define GSS_KEYTAB_MAX (1024 * 1024) /* a keytab holds a few keys: KiB, not MiB */
#define GSS_REALM_MAX  256
#define GSS_MAP_MAX    256

/* ------------------------------------------------------------ settings */

/* A path setting: 0, 1 when absent, -EINVAL (logged). */
static int get_path(const pgs_host *host, const pgs_cfg *cfg, const char *key, char *out,
                    size_t size)
{
	int rc = host->cfg_path(cfg, key, out, size);

	if (rc == 0)
		return 0;
	out[0] = '\0';
	if (rc == -ENOENT)
		return 1;
	host->log(PGS_LOG_ERROR, NULL, "%s: gss: %s must be a file path%s",
	          host->cfg_where(cfg, key), key,
	          rc == -ENAMETOOLONG ? " shorter than PATH_MAX" : " (a non-empty string)");
	return -EINVAL;
}

/* A string setting of 1..max-1 bytes: 0 (*out set, or NULL when absent), -EINVAL. */
static int get_str(const pgs_host *host, const pgs_cfg *cfg, const char *key, size_t max,
                   const char **out)
{
	int rc = host->cfg_str(cfg, key, out);

	if (rc == -ENOENT) {
		*out = NULL;
		return 0;
	}
	if (rc == 0 && (*out)[0] != '\0' && strlen(*out) < max)
		return 0;
	host->log(PGS_LOG_ERROR, NULL,
	          "%s: gss: %s must be a non-empty string of at most %zu bytes",
	          host->cfg_where(cfg, key), key, max - 1);
	return -EINVAL;
}

static int get_bool(const pgs_host *host, const pgs_cfg *cfg, const char *key, bool *out)
{
	int rc = host->cfg_bool(cfg, key, out);

	if (rc == 0 || rc == -ENOENT)
		return 0;
	host->log(PGS_LOG_ERROR, NULL, "%s: gss: %s must be a boolean (true or false)",
	          host->cfg_where(cfg, key), key);
	return -EINVAL;
}

static char *dup_str(const pgs_host *host, const char *s)
{
	size_t len = strlen(s) + 1;
	char *p = host->alloc(len);

	if (p != NULL)
		memcpy(p, s, len);
	return p;
}

/* krb_srvname: a plain service name, so that "srvname/host" is a principal. */
static int get_srvname(struct gss_mod *m, const pgs_cfg *cfg)
{
	const pgs_host *host = m->host;
	const char *v = NULL;

	snprintf(m->srvname, sizeof m->srvname, "postgres");
	if (get_str(host, cfg, "krb_srvname", sizeof m->srvname, &v) < 0)
		return -EINVAL;
	if (v == NULL)
		return 0;
	for (const char *p = v; *p != '\0'; p++) {
		if (*p == '/' || *p == '@' || (unsigned char)*p <= ' ' || *p == 0x7f) {
			host->log(
			        PGS_LOG_ERROR, NULL,
			        "%s: gss: krb_srvname \"%.64s\" must not contain '/', '@', blanks "
			        "or control characters",
			        host->cfg_where(cfg, "krb_srvname"), v);
			return -EINVAL;
		}
	}
	snprintf(m->srvname, sizeof m->srvname, "%s", v);
	return 0;
}

/* ------------------------------------------------------------ keytab files */

/*
 * PostgreSQL's rule for its private key file, applied to keytabs: a regular
 * file owned by us or root; ours -> no group/other bits, root's -> at most
 * group read.  Checked on an open descriptor (a FIFO must not block).
 */
static int keytab_check(const pgs_host *host, const char *where, const char *key, const char *path)
{
	struct stat st;
	int fd, rc = -EACCES;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		host->log(PGS_LOG_ERROR, NULL, "%s: gss: cannot open %s \"%s\": %s", where, key,
		          path, strerror(errno));
		return -ENOENT;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		host->log(PGS_LOG_ERROR, NULL, "%s: gss: %s \"%s\" is not a regular file", where,
		          key, path);
		rc = -EINVAL;
	} else if (st.st_uid != geteuid() && st.st_uid != 0) {
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: gss: %s \"%s\" must be owned by the daemon's user or root", where,
		          key, path);
	} else if ((st.st_uid == geteuid() && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) ||
	           (st.st_uid == 0 && (st.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO)) != 0)) {
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: gss: %s \"%s\" has group or world access (mode %04o): it must be "
		          "u=rw (0600) or less if owned by the daemon's user, u=rw,g=r (0640) or "
		          "less if owned by root",
		          where, key, path, (unsigned int)(st.st_mode & 07777));
	} else if (st.st_size <= 0 || st.st_size > GSS_KEYTAB_MAX) {
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: gss: %s \"%s\" is empty or larger than %d bytes", where, key, path,
		          GSS_KEYTAB_MAX);
		rc = -EINVAL;
	} else {
		rc = 0;
	}
	close(fd);
	return rc;
}

/*
 * The acceptor: first with the name "srvname@" (a host-based name without a
 * host matches srvname/<any host> in the keytab), only to prove that the
 * keytab holds such a key; then with no name, kept, so that any host's key
 * of the keytab serves (gss_ctx.c checks the service of each ticket).
 */
static int acceptor_load(struct gss_mod *m, const pgs_cfg *cfg)
{
	const pgs_host *host = m->host;
	const char *where = host->cfg_where(cfg, "keytab");
	gss_key_value_element_desc kt = {.key = "keytab", .value = m->keytab};
	char name[GSS_SRVNAME_MAX + 1], err[GSS_ERR_LEN];
	gss_buffer_desc buf;
	gss_name_t srv = GSS_C_NO_NAME;
	gss_cred_id_t probe = GSS_C_NO_CREDENTIAL;
	OM_uint32 maj, min;

	if (keytab_check(host, where, "keytab", m->keytab) < 0)
		return -EINVAL;
	buf.length = (size_t)snprintf(name, sizeof name, "%s@", m->srvname);
	buf.value = name;
	maj = gss_import_name(&min, &buf, GSS_C_NT_HOSTBASED_SERVICE, &srv);
	if (GSS_ERROR(maj)) {
		gss_status_text(maj, min, err, sizeof err);
		host->log(PGS_LOG_ERROR, NULL, "%s: gss: bad krb_srvname \"%s\": %s", where,
		          m->srvname, err);
		return -EINVAL;
	}
	maj = gss_acquire_from(srv, GSS_C_ACCEPT, &kt, 1, &probe, err, sizeof err);
	gss_release_name(&min, &srv);
	if (GSS_ERROR(maj)) {
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: gss: keytab \"%s\" has no usable key for service \"%s\" "
		          "(a principal %s/<host>@REALM): %s",
		          where, m->keytab, m->srvname, m->srvname, err);
		return -EINVAL;
	}
	gss_release_cred(&min, &probe);
	maj = gss_acquire_from(GSS_C_NO_NAME, GSS_C_ACCEPT, &kt, 1, &m->acceptor, err, sizeof err);
	if (GSS_ERROR(maj)) {
		m->acceptor = GSS_C_NO_CREDENTIAL;
		host->log(PGS_LOG_ERROR, NULL, "%s: gss: cannot use keytab \"%s\": %s", where,
		          m->keytab, err);
		return -EINVAL;
	}
	m->have_acceptor = true;
	return 0;
}

/* client_keytab, client_principal, ccache: checked, nothing acquired yet. */
static int initiator_settings(struct gss_mod *m, const pgs_cfg *cfg)
{
	const pgs_host *host = m->host;
	const char *principal = NULL, *ccache = NULL;
	unsigned char rnd[8];
	int has_kt;

	has_kt = get_path(host, cfg, "client_keytab", m->client_keytab, sizeof m->client_keytab);
	if (has_kt < 0 ||
	    get_str(host, cfg, "client_principal", sizeof m->client_principal, &principal) < 0 ||
	    get_str(host, cfg, "ccache", sizeof m->ccache, &ccache) < 0)
		return -EINVAL;
	if (has_kt == 0 && keytab_check(host, host->cfg_where(cfg, "client_keytab"),
	                                "client_keytab", m->client_keytab) < 0)
		return -EINVAL;
	if (principal != NULL)
		snprintf(m->client_principal, sizeof m->client_principal, "%s", principal);
	if (ccache != NULL) {
		snprintf(m->ccache, sizeof m->ccache, "%s", ccache);
	} else if (has_kt == 0) {
		/* Private to this instance: a reload starts from a fresh cache. */
		if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
			host->log(PGS_LOG_ERROR, NULL, "gss: getrandom failed: %s",
			          strerror(errno));
			return -EIO;
		}
		snprintf(m->ccache, sizeof m->ccache,
		         "MEMORY:pgsluice-gss-%ld-%02x%02x%02x%02x%02x%02x%02x%02x", (long)getpid(),
		         rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	}
	if (principal != NULL && has_kt != 0 && ccache == NULL) {
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: gss: client_principal needs client_keytab or ccache",
		          host->cfg_where(cfg, "client_principal"));
		return -EINVAL;
	}
	m->have_initiator = m->ccache[0] != '\0';
	return 0;
}

/* ------------------------------------------------------------ instance */

static void gss_fini(void *mod)
{
	struct gss_mod *m = mod;
	OM_uint32 min;

	if (m == NULL)
		return;
	if (m->acceptor != GSS_C_NO_CREDENTIAL)
		gss_release_cred(&min, &m->acceptor);
	if (m->krb_realm != NULL)
		m->host->free(m->krb_realm);
	if (m->map != NULL)
		m->host->free(m->map);
	m->host->free(m);
}

static int gss_settings(struct gss_mod *m, const pgs_cfg *cfg)
{
	const pgs_host *host = m->host;
	const char *realm = NULL, *map = NULL;
	int has_kt;

	m->include_realm = true;
	if (get_srvname(m, cfg) < 0 ||
	    get_bool(host, cfg, "include_realm", &m->include_realm) < 0 ||
	    get_bool(host, cfg, "krb_caseins_users", &m->caseins) < 0 ||
	    get_str(host, cfg, "krb_realm", GSS_REALM_MAX, &realm) < 0 ||
	    get_str(host, cfg, "map", GSS_MAP_MAX, &map) < 0)
		return -EINVAL;
	if ((realm != NULL && (m->krb_realm = dup_str(host, realm)) == NULL) ||
	    (map != NULL && (m->map = dup_str(host, map)) == NULL))
		return -ENOMEM;
	has_kt = get_path(host, cfg, "keytab", m->keytab, sizeof m->keytab);
	if (has_kt < 0 || (has_kt == 0 && acceptor_load(m, cfg) < 0))
		return -EINVAL;
	if (initiator_settings(m, cfg) < 0)
		return -EINVAL;
	if (!m->have_acceptor && !m->have_initiator) {
		host->log(PGS_LOG_ERROR, NULL,
		          "%s: gss: nothing to do: set keytab (clients' GSSAPI logins), "
		          "client_keytab or ccache (pgsluice's own logins), or both",
		          host->cfg_where(cfg, NULL));
		return -EINVAL;
	}
	return 0;
}

static int gss_init(const pgs_host *host, const pgs_cfg *cfg, void **mod)
{
	struct gss_mod *m;
	int rc;

	if (!PGS_HAS_FIELD(host, pgs_host, cfg_path) || host->abi_minor < 3) {
		host->log(PGS_LOG_ERROR, NULL, "gss: host too old (needs ABI 1.3)");
		return -ENOTSUP;
	}
	m = host->alloc(sizeof *m);
	if (m == NULL)
		return -ENOMEM;
	memset(m, 0, sizeof *m);
	m->host = host;
	m->acceptor = GSS_C_NO_CREDENTIAL;
	rc = gss_settings(m, cfg);
	if (rc < 0) {
		gss_fini(m);
		return rc;
	}
	*mod = m;
	return 0;
}

static const pgs_module gss_desc = {
        PGS_MODULE_INIT("gss", "1.0"),
        .init = gss_init,
        .fini = gss_fini,
        .auth = &gss_auth_ops,
        .backend = &gss_backend_ops,
        .transport = &gss_transport_ops,
};

PGS_MODULE_EXPORT(gss_desc)
