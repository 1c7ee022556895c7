/*
 * peer.c — the "peer" module: PostgreSQL's peer authentication.  On a Unix
 * socket the kernel tells who the client process runs as (SO_PEERCRED, the
 * host's "peer_uid"); that operating system user name must equal the
 * requested role, or, when the step has a "map" option, the ident map must
 * let it connect as that role (host->ident_match, pg_ident.conf semantics).
 *
 * Non-interactive: nothing is sent to the client.  The uid is turned into a
 * name with getpwuid_r() on the host's work pool, since a name service
 * (LDAP, sssd) may block.  On success the system user name is recorded as
 * the authenticated identity, as PostgreSQL does.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pgsluice/module.h>

#include "conn_detail.h"

#define PEER_PWBUF_MAX (1u << 20) /* largest getpwuid_r buffer tried */

struct peer_module {
	const pgs_host *host;
};

enum peer_state {
	PEER_START,
	PEER_LOOKUP, /* getpwuid_r running on the work pool */
	PEER_FINISHED,
};

struct peer_conn {
	enum peer_state state;
	/* Shared with the work function, which touches nothing else. */
	const pgs_host *host;
	uid_t uid;
	int lookup_err; /* 0: sysuser set; ENOENT: no such uid; else errno */
	char *sysuser;  /* host->alloc */
};

static int peer_init(const pgs_host *host, const pgs_cfg *cfg, void **mod)
{
	struct peer_module *m;

	(void)cfg;
	m = host->alloc(sizeof *m);
	if (m == NULL)
		return -ENOMEM;
	m->host = host;
	if (!PGS_HAS_FIELD(host, pgs_host, ident_match) || host->ident_match == NULL)
		host->log(PGS_LOG_WARN, NULL,
		          "peer: this host has no ident maps (ABI < 1.1): a peer step with a "
		          "\"map\" option will fail");
	*mod = m;
	return 0;
}

static void peer_fini(void *mod)
{
	struct peer_module *m = mod;

	if (m != NULL)
		m->host->free(m);
}

static int peer_conn_new(void *mod, pgs_conn *conn, void **state)
{
	const struct peer_module *m = mod;
	struct peer_conn *pc;

	(void)conn;
	pc = m->host->alloc(sizeof *pc);
	if (pc == NULL)
		return -ENOMEM;
	memset(pc, 0, sizeof *pc);
	pc->state = PEER_START;
	pc->host = m->host;
	*state = pc;
	return 0;
}

static void peer_conn_free(void *mod, pgs_conn *conn, void *state)
{
	const struct peer_module *m = mod;
	struct peer_conn *pc = state;

	(void)conn;
	if (pc == NULL)
		return;
	if (pc->sysuser != NULL)
		m->host->free(pc->sysuser);
	m->host->free(pc);
}

/* Work pool: the name of pc->uid, into pc->sysuser. */
static void peer_lookup_work(void *arg)
{
	struct peer_conn *pc = arg;
	long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t size = hint > 0 && hint <= (long)PEER_PWBUF_MAX ? (size_t)hint : 4096;
	struct passwd pwd, *res;

	for (;;) {
		char *buf = pc->host->alloc(size);
		int rc;

		if (buf == NULL) {
			pc->lookup_err = ENOMEM;
			return;
		}
		res = NULL;
		rc = getpwuid_r(pc->uid, &pwd, buf, size, &res);
		if (rc == ERANGE && size < PEER_PWBUF_MAX) {
			pc->host->free(buf);
			size *= 2;
			continue;
		}
		if (rc == 0 && res != NULL && res->pw_name != NULL && res->pw_name[0] != '\0') {
			size_t len = strlen(res->pw_name);

			pc->sysuser = pc->host->alloc(len + 1);
			if (pc->sysuser != NULL)
				memcpy(pc->sysuser, res->pw_name, len + 1);
			pc->lookup_err = pc->sysuser != NULL ? 0 : ENOMEM;
		} else {
			/* No entry: POSIX lets getpwuid_r say so with 0 or an errno. */
			pc->lookup_err = (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF ||
			                  rc == EPERM)
			                         ? ENOENT
			                         : rc;
		}
		pc->host->free(buf);
		return;
	}
}

/* The kernel's uid of the peer, from the host's decimal text. */
static int parse_uid(const char *text, uid_t *uid)
{
	unsigned long long v;
	char *end;

	if (text == NULL || text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0' || v >= (unsigned long long)(uid_t)-1)
		return -EINVAL;
	*uid = (uid_t)v;
	return 0;
}

static enum pgs_step peer_start(const pgs_host *host, pgs_conn *conn, struct peer_conn *pc,
                                const char **logdetail)
{
	const char *transport = host->conn_param(conn, "transport");

	if (transport == NULL || strcmp(transport, "unix") != 0) {
		*logdetail = "peer authentication is only available on local sockets";
		return PGS_STEP_FAIL;
	}
	if (parse_uid(host->conn_param(conn, "peer_uid"), &pc->uid) < 0) {
		*logdetail = "peer: could not get peer credentials from the socket";
		return PGS_STEP_FAIL;
	}
	if (host->defer == NULL || host->defer(conn, peer_lookup_work, pc) < 0) {
		*logdetail = "peer: cannot run the user lookup on the work pool";
		return PGS_STEP_FAIL;
	}
	pc->state = PEER_LOOKUP;
	return PGS_STEP_PENDING;
}

/* The lookup is done: compare the system user with the role. */
static enum pgs_step peer_decide(const pgs_host *host, pgs_conn *conn, struct peer_conn *pc,
                                 const char **logdetail)
{
	const char *role = host->conn_param(conn, "user");
	const char *map = host->step_option ? host->step_option(conn, "map") : NULL;
	int rc;

	pc->state = PEER_FINISHED;
	if (pc->lookup_err != 0) {
		*logdetail = conn_detail(host, conn, "peer: could not look up local user ID",
		                         "could not look up local user ID %ld: %s", (long)pc->uid,
		                         pc->lookup_err == ENOENT ? "user does not exist"
		                                                  : strerror(pc->lookup_err));
		return PGS_STEP_FAIL;
	}
	if (role == NULL || role[0] == '\0') {
		*logdetail = "peer: no user name in the startup packet";
		return PGS_STEP_FAIL;
	}
	if (map != NULL) {
		if (!PGS_HAS_FIELD(host, pgs_host, ident_match) || host->ident_match == NULL) {
			*logdetail = "peer: a map is set but this host has no ident maps";
			return PGS_STEP_FAIL;
		}
		rc = host->ident_match(conn, map, pc->sysuser, role);
		if (rc == -ENOENT) {
			*logdetail = conn_detail(host, conn, "peer: unknown ident map",
			                         "ident map \"%s\" is not defined", map);
			return PGS_STEP_FAIL;
		}
		if (rc != 0) {
			*logdetail = conn_detail(host, conn, "peer: no match in the ident map",
			                         "no match in usermap \"%s\" for user \"%s\" "
			                         "authenticated as \"%s\"",
			                         map, role, pc->sysuser);
			return PGS_STEP_FAIL;
		}
	} else if (strcmp(pc->sysuser, role) != 0) {
		*logdetail = conn_detail(host, conn, "peer: system user and role differ",
		                         "provided user name (%s) and authenticated user name (%s) "
		                         "do not match",
		                         role, pc->sysuser);
		return PGS_STEP_FAIL;
	}
	if (host->set_authn_id(conn, pc->sysuser) < 0) {
		*logdetail = "peer: cannot record the authenticated identity";
		return PGS_STEP_FAIL;
	}
	return PGS_STEP_DONE;
}

static enum pgs_step peer_step(void *mod, pgs_conn *conn, void *state, const uint8_t *in,
                               size_t in_len, pgs_wbuf *out, const char **logdetail)
{
	const struct peer_module *m = mod;
	struct peer_conn *pc = state;

	(void)in_len;
	(void)out;
	if (in == NULL && pc->state == PEER_START)
		return peer_start(m->host, conn, pc, logdetail);
	if (in == NULL && pc->state == PEER_LOOKUP)
		return peer_decide(m->host, conn, pc, logdetail);
	*logdetail = "peer: step called out of turn";
	return PGS_STEP_FAIL;
}

static const pgs_auth_ops peer_auth = {
        .size = sizeof(pgs_auth_ops),
        .flags = 0,
        .conn_new = peer_conn_new,
        .step = peer_step,
        .conn_free = peer_conn_free,
        .method = "Peer",
        .fail_sqlstate = "28000",
};

static const pgs_module peer_desc = {
        PGS_MODULE_INIT("peer", "0.1.0"),
        .init = peer_init,
        .fini = peer_fini,
        .auth = &peer_auth,
};

PGS_MODULE_EXPORT(peer_desc)
