/*
 * host.c — the host services modules reach the daemon through.
 *
 * A pgs_conn handed to a module is the struct pgs_conn at the start of a
 * struct client or struct server; `side` says which.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "chainset.h"
#include "client.h"
#include "cred.h"
#include "host.h"
#include "log.h"
#include "modload.h"
#include "proto.h"
#include "runtime.h"
#include "transport.h"
#include "workpool.h"

static void h_log(enum pgs_log level, const pgs_conn *conn, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void h_log(enum pgs_log level, const pgs_conn *conn, const char *fmt, ...)
{
	char prefix[256];
	const struct pgs_conn *c = (const struct pgs_conn *)conn;
	va_list ap;

	if (!log_enabled(level))
		return;
	prefix[0] = 0;
	if (c != NULL && c->side == PGS_SIDE_CLIENT) {
		client_log_prefix((const struct client *)c, prefix, sizeof prefix);
	} else if (c != NULL) {
		const struct server *sv = (const struct server *)c;

		snprintf(prefix, sizeof prefix, "S-%llu %s@%s: ", (unsigned long long)c->id,
		         sv->login_user, sv->login_db);
	}
	va_start(ap, fmt);
	log_vmsg(level, prefix, fmt, ap);
	va_end(ap);
}

static void *h_alloc(size_t len)
{
	return malloc(len);
}

static void h_free(void *p)
{
	free(p);
}

static void *h_conn_alloc(pgs_conn *conn, size_t len)
{
	struct pgs_conn *c = (struct pgs_conn *)conn;
	struct conn_mem *m;

	if (len > (1u << 24))
		return NULL;
	m = calloc(1, sizeof *m + len);
	if (m == NULL)
		return NULL;
	m->len = len;
	m->next = c->mem;
	c->mem = m;
	return m + 1;
}

static void h_wipe_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

static enum pgs_side h_conn_side(const pgs_conn *conn)
{
	return ((const struct pgs_conn *)conn)->side;
}

/* A server connection's TLS settings, from its server's config. */
static const char *server_tls_param(const struct server *sv, const char *name)
{
	const struct cfg_server *s = &sv->gen->cfg->servers[sv->pcfg->server_index];

	if (strcmp(name, "sslmode") == 0)
		return s->sslmode;
	if (strcmp(name, "sslrootcert") == 0)
		return s->sslrootcert;
	if (strcmp(name, "sslcert") == 0)
		return s->sslcert;
	if (strcmp(name, "sslkey") == 0)
		return s->sslkey;
	if (strcmp(name, "sslcrl") == 0)
		return s->sslcrl;
	if (strcmp(name, "server_host") == 0)
		return s->host;
	if (strcmp(name, "gssencmode") == 0)
		return s->gssencmode;
	if (strcmp(name, "krbsrvname") == 0)
		return s->krbsrvname;
	return NULL;
}

static const char *h_conn_param(const pgs_conn *conn, const char *name)
{
	const struct pgs_conn *c = (const struct pgs_conn *)conn;

	if (c->side == PGS_SIDE_CLIENT) {
		const struct client *cl = (const struct client *)c;

		if (strcmp(name, "user") == 0)
			return cl->sp.user;
		if (strcmp(name, "database") == 0)
			return cl->sp.database;
		if (strcmp(name, "remote_addr") == 0)
			return cl->remote_addr;
		if (strcmp(name, "remote_port") == 0)
			return cl->is_unix ? NULL : cl->remote_port;
		if (strcmp(name, "transport") == 0)
			return cl->is_unix ? "unix" : transport_kind_name(&cl->c);
		if (strcmp(name, "gss_principal") == 0)
			return strcmp(transport_kind_name(&cl->c), "gss") == 0
			               ? transport_fact(&cl->c, "gss_principal")
			               : NULL;
		if (strcmp(name, "authn_id") == 0)
			return cl->authn_id;
		if (strcmp(name, "peer_uid") == 0)
			return cl->peer_uid[0] ? cl->peer_uid : NULL;
		if (strcmp(name, "security") == 0)
			return cred_security(conn);
		return cl->sp.raw ? startup_param(&cl->sp, name) : NULL;
	} else {
		const struct server *sv = (const struct server *)c;

		if (strcmp(name, "user") == 0)
			return sv->login_user;
		if (strcmp(name, "database") == 0)
			return sv->login_db;
		if (strcmp(name, "remote_addr") == 0)
			return sv->gen->addrs[sv->pcfg->server_index].desc;
		if (strcmp(name, "transport") == 0)
			return sv->gen->addrs[sv->pcfg->server_index].ss.ss_family == AF_UNIX
			               ? "unix"
			               : transport_kind_name(&sv->c);
		if (strcmp(name, "security") == 0)
			return cred_security(conn);
		return server_tls_param(sv, name);
	}
}

static const char *h_step_option(const pgs_conn *conn, const char *name)
{
	const struct pgs_conn *c = (const struct pgs_conn *)conn;
	const struct client *cl;
	const char *v;

	if (c->side != PGS_SIDE_CLIENT)
		return NULL;
	cl = (const struct client *)c;
	v = auth_rule_option(cl, name);
	if (v != NULL)
		return v;
	if (chainset_run_current(&cl->auth) == NULL)
		return NULL;
	return chainset_step_option(chainset_run_current(&cl->auth), name);
}

/* The transport's peer certificate and channel binding data. */
static int h_peer_cert(const pgs_conn *conn, const uint8_t **der, size_t *len)
{
	return transport_peer_cert((const struct pgs_conn *)conn, der, len);
}

static int h_cb_hash(const pgs_conn *conn, uint8_t *out, size_t *len)
{
	return transport_cb_hash((const struct pgs_conn *)conn, out, len);
}

static void h_secret_release(pgs_secret *s)
{
	if (s == NULL || s->opaque == NULL)
		return;
	OPENSSL_cleanse(s->opaque, s->len);
	free(s->opaque);
	s->opaque = NULL;
	s->data = NULL;
	s->len = 0;
}

static int h_set_authn_id(pgs_conn *conn, const char *id)
{
	struct pgs_conn *c = (struct pgs_conn *)conn;
	struct client *cl;
	char *copy;

	if (c->side != PGS_SIDE_CLIENT || id == NULL || strlen(id) > 1024)
		return -EINVAL;
	cl = (struct client *)c;
	copy = strdup(id);
	if (copy == NULL)
		return -ENOMEM;
	free(cl->authn_id);
	cl->authn_id = copy;
	return 0;
}

static int h_wbuf_auth(pgs_wbuf *out, uint32_t code, const void *data, size_t len)
{
	return proto_auth((struct bytebuf *)out, code, data, len);
}

static int h_wbuf_msg(pgs_wbuf *out, char type, const void *data, size_t len)
{
	return proto_msg((struct bytebuf *)out, type, data, len);
}

static int h_defer(pgs_conn *conn, void (*work)(void *arg), void *arg)
{
	struct pgs_conn *c = (struct pgs_conn *)conn;
	struct client *cl;
	int rc;

	if (c == NULL || work == NULL)
		return -EINVAL;
	if (c->side == PGS_SIDE_SERVER) {
		/* 1.3: a backend step (SV_LOGIN) or a transport handshake
		 * (SV_CONNECTING); server_defer_done() resumes either */
		struct server *sv = (struct server *)c;

		if (sv->defer_inflight || c->dead ||
		    (sv->state != SV_LOGIN && sv->state != SV_CONNECTING))
			return -EBUSY;
		rc = workpool_submit(c->w, c->id, work, arg);
		if (rc == 0)
			sv->defer_inflight = true;
		return rc;
	}
	/* Frontend auth steps: the host resumes the chain. */
	cl = (struct client *)c;
	if (cl->defer_inflight || cl->state != CL_AUTH)
		return -EBUSY;
	rc = workpool_submit(c->w, c->id, work, arg);
	if (rc == 0)
		cl->defer_inflight = true;
	return rc;
}

static int h_ct_memcmp(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0 ? 0 : 1;
}

static struct mod_set *conn_mods(const struct pgs_conn *c)
{
	return c->side == PGS_SIDE_CLIENT ? ((const struct client *)c)->gen->mods
	                                  : ((const struct server *)c)->gen->mods;
}

/* The ident maps live in the access modules (hba's ident_file). */
static int h_ident_match(const pgs_conn *conn, const char *map, const char *system_user,
                         const char *role)
{
	struct mod_set *ms;

	if (conn == NULL || map == NULL || system_user == NULL || role == NULL)
		return -EINVAL;
	ms = conn_mods((const struct pgs_conn *)conn);
	for (size_t i = 0; i < ms->nmods; i++) {
		const pgs_access_ops *ops = ms->mods[i].desc->access;
		int rc;

		if (!PGS_HAS_FIELD(ops, pgs_access_ops, ident) || ops->ident == NULL)
			continue;
		rc = ops->ident(ms->mods[i].state, map, system_user, role);
		if (rc != -ENOENT)
			return rc;
	}
	return -ENOENT;
}

static const pgs_host host_table = {
        .size = sizeof(pgs_host),
        .abi_major = PGS_ABI_MAJOR,
        .abi_minor = PGS_ABI_MINOR,
        .host_version = PACKAGE_STRING,
        .log = h_log,
        .alloc = h_alloc,
        .free = h_free,
        .conn_alloc = h_conn_alloc,
        .wipe_free = h_wipe_free,
        .cfg_str = modcfg_str,
        .cfg_int = modcfg_int,
        .cfg_bool = modcfg_bool,
        .cfg_where = modcfg_where,
        .conn_side = h_conn_side,
        .conn_param = h_conn_param,
        .step_option = h_step_option,
        .conn_peer_cert = h_peer_cert,
        .conn_cb_hash = h_cb_hash,
        .secret_lookup = cred_secret_lookup,
        .secret_release = h_secret_release,
        .set_authn_id = h_set_authn_id,
        .wbuf_auth = h_wbuf_auth,
        .wbuf_msg = h_wbuf_msg,
        .defer = h_defer,
        .ct_memcmp = h_ct_memcmp,
        .ident_match = h_ident_match,
        .cfg_path = modcfg_path,
        .cred_lookup = cred_named_lookup,
        .cred_derive_key = cred_derive_key,
};

const pgs_host *host_services(void)
{
	return &host_table;
}
