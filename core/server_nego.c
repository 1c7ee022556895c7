/*
 * server_nego.c — encryption towards a server before the StartupMessage,
 * in libpq's order: GSSENCRequest when the server's gssencmode wants it and
 * a transport of kind "gss" has credentials for the initiator role, then
 * SSLRequest when sslmode wants TLS and a transport of kind "ssl" is
 * loaded.  A 'N' to GSSENCRequest goes on to TLS on the same connection
 * (gssencmode=prefer), as libpq does.  The GSS handshake may wait on a KDC:
 * the module defers that work (PGS_IO_PENDING) and the server connection
 * sleeps, unwatched, until the work pool is done with it.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "conn.h"
#include "io.h"
#include "log.h"
#include "modload.h"
#include "runtime.h"
#include "server.h"
#include "server_nego.h"
#include "transport.h"
#include "worker.h"

enum {
	NEGO_SSL_SENT = 1, /* SSLRequest sent, waiting for 'S' / 'N' */
	NEGO_TLS,          /* TLS handshake */
	NEGO_GSS_SENT,     /* GSSENCRequest sent, waiting for 'G' / 'N' */
	NEGO_GSS,          /* GSS context establishment */
};

static const struct cfg_server *scfg(const struct server *sv)
{
	return &sv->gen->cfg->servers[sv->pcfg->server_index];
}

static bool is_unix(const struct server *sv)
{
	return sv->gen->addrs[sv->pcfg->server_index].ss.ss_family == AF_UNIX;
}

/* The server's sslmode asks for TLS first?  (libpq's "allow" tries plain
 * first: here it is plain.) */
static bool tls_wanted(const struct server *sv, bool *required)
{
	const char *mode = scfg(sv)->sslmode;

	*required = mode != NULL &&
	            (strcmp(mode, "require") == 0 || strncmp(mode, "verify", 6) == 0);
	if (is_unix(sv))
		return false; /* as libpq: no TLS over Unix sockets */
	return mode != NULL && (*required || strcmp(mode, "prefer") == 0);
}

static bool gss_required(const struct server *sv)
{
	return scfg(sv)->gssencmode != NULL && strcmp(scfg(sv)->gssencmode, "require") == 0;
}

/* A negotiation request on a fresh socket (the transport, when one is set
 * up already, must not see it). */
static bool send_request(struct server *sv, const uint8_t req[8])
{
	ssize_t n;

	do
		n = send(sv->c.fd, req, 8, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == 8 && worker_watch(sv->c.w, &sv->c, EPOLLIN) == 0;
}

static bool tls_begin(struct server *sv)
{
	static const uint8_t ssl_request[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
	bool required;

	if (!tls_wanted(sv, &required))
		return false;
	if (transport_find(sv->gen->mods, "ssl") == NULL) {
		if (required) {
			server_login_failed(sv, "sslmode requires TLS, but no transport module of "
			                        "kind \"ssl\" (tls-openssl) is loaded");
			return true;
		}
		return false;
	}
	if (!send_request(sv, ssl_request)) {
		server_login_failed(sv, "could not send the SSL request");
		return true;
	}
	sv->nego_phase = NEGO_SSL_SENT;
	return true;
}

/* GSSENCRequest when gssencmode is prefer/require.  The transport is set up
 * first: without initiator credentials it says -ENOENT, and prefer goes on
 * to TLS without asking the server. */
static bool gss_begin(struct server *sv)
{
	static const uint8_t gssenc_request[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30};
	const char *mode = scfg(sv)->gssencmode;
	const struct mod_instance *mi;
	char err[256];
	int rc;

	if (mode == NULL || strcmp(mode, "disable") == 0)
		return false;
	if (is_unix(sv)) {
		if (!gss_required(sv))
			return false;
		server_login_failed(sv, "gssencmode=require, but GSS encryption is not used over "
		                        "Unix sockets");
		return true;
	}
	mi = transport_find(sv->gen->mods, "gss");
	if (mi == NULL) {
		if (!gss_required(sv))
			return false;
		server_login_failed(sv, "gssencmode requires GSS encryption, but no transport "
		                        "module of kind \"gss\" is loaded");
		return true;
	}
	rc = transport_start(&sv->c, mi, err, sizeof err);
	if (rc == -ENOENT && !gss_required(sv))
		return false;
	if (rc < 0) {
		server_login_failed(sv, rc == -ENOENT
		                                ? "gssencmode requires GSS encryption, but the "
		                                  "gss module has no client_keytab or ccache"
		                                : err);
		return true;
	}
	if (!send_request(sv, gssenc_request)) {
		server_login_failed(sv, "could not send the GSSAPI encryption request");
		return true;
	}
	sv->nego_phase = NEGO_GSS_SENT;
	return true;
}

bool server_nego_begin(struct server *sv)
{
	return gss_begin(sv) || tls_begin(sv);
}

/* One byte answer to a request: 1 read, 0 not yet, -1 failed (sv closed). */
static int read_answer(struct server *sv, char *answer, const char *what)
{
	char msg[128];
	ssize_t n = recv(sv->c.fd, answer, 1, 0);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n == 1)
		return 1;
	snprintf(msg, sizeof msg, "the server closed the connection after the %s", what);
	server_login_failed(sv, msg);
	return -1;
}

static void after_gss_refused(struct server *sv, const char *why)
{
	char msg[200];

	transport_close(&sv->c);
	sv->nego_phase = 0;
	if (gss_required(sv)) {
		snprintf(msg, sizeof msg, "%s, but GSS encryption was required", why);
		server_login_failed(sv, msg);
		return;
	}
	if (!tls_begin(sv) && !sv->c.dead)
		server_send_startup(sv);
}

static void handshake(struct server *sv, const char *what)
{
	const char *detail = NULL;
	char err[300];
	int rc = transport_handshake(&sv->c, &detail);

	if (rc < 0) {
		/* the module's detail (paths, library messages) goes to the log
		 * only; waiting clients read the short form */
		log_warn("S-%llu %s@%s: %s handshake with the server failed: %s",
		         (unsigned long long)sv->c.id, sv->login_user, sv->login_db, what,
		         detail ? detail : "?");
		snprintf(err, sizeof err, "%s handshake with the server failed", what);
		server_login_failed(sv, err);
	} else if (rc == 1) {
		sv->nego_phase = 0;
		server_send_startup(sv);
	} else if (rc == 2 && !sv->defer_inflight) {
		server_login_failed(sv,
		                    "the transport module returned PENDING without deferring work");
	}
}

void server_nego_step(struct server *sv)
{
	bool required;
	char answer;
	char err[256];

	switch (sv->nego_phase) {
	case NEGO_GSS_SENT:
		if (read_answer(sv, &answer, "GSSAPI encryption request") <= 0)
			return;
		if (answer == 'N') {
			after_gss_refused(sv, "the server does not support GSS encryption");
			return;
		}
		if (answer != 'G') {
			/* an ErrorResponse ('E') from a server that does not know the
			 * request leaves nothing to go on with on this connection */
			server_login_failed(sv,
			                    "unexpected answer to the GSSAPI encryption request");
			return;
		}
		sv->nego_phase = NEGO_GSS;
		/* fall through */
	case NEGO_GSS:
		handshake(sv, "GSSAPI encryption");
		return;
	case NEGO_SSL_SENT:
		if (read_answer(sv, &answer, "SSL request") <= 0)
			return;
		(void)tls_wanted(sv, &required);
		if (answer == 'N') {
			if (required)
				server_login_failed(
				        sv, "server does not support SSL, but SSL was required");
			else
				server_send_startup(sv);
			return;
		}
		if (answer != 'S') {
			server_login_failed(sv, "unexpected answer to the SSL request");
			return;
		}
		if (transport_start(&sv->c, transport_find(sv->gen->mods, "ssl"), err, sizeof err) <
		    0) {
			server_login_failed(sv, err);
			return;
		}
		sv->nego_phase = NEGO_TLS;
		/* fall through */
	case NEGO_TLS:
		handshake(sv, "TLS");
		return;
	}
}
