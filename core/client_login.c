/*
 * client_login.c — a client's way in, before it is authenticated: startup
 * packets, SSLRequest / GSSENCRequest / CancelRequest, the TLS handshake
 * (SSLRequest or PostgreSQL 17's direct TLS), and the authentication
 * messages handed to the chain (auth.c).  client.c dispatches here while
 * the client is in CL_STARTUP or CL_AUTH.
 */
#include "autoconf.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "audit.h"
#include "auth.h"
#include "cancel.h"
#include "client.h"
#include "client_int.h"
#include "io.h"
#include "log.h"
#include "modload.h"
#include "proto.h"
#include "runtime.h"
#include "startup.h"
#include "stats.h"
#include "transport.h"
#include "util.h"
#include "worker.h"

/* Largest authentication message a client may send (SASL, password, a
 * GSSAPI token: Kerberos tickets with a large PAC need more than 8 KiB):
 * what fits one read buffer with its type byte. */
#define CLIENT_AUTH_MSG_MAX (IOBUF_SIZE - 1u)

/* SSLRequest: 'S' and the handshake when a transport module of kind "ssl"
 * is loaded, else 'N' (the client may go on unencrypted). */
static void start_tls(struct client *cl)
{
	const struct mod_instance *mi = transport_find(cl->gen->mods, "ssl");
	char err[256];

	if (mi == NULL) {
		if (io_send(&cl->c, "N", 1) < 0)
			client_close(cl, "client went away");
		return;
	}
	/* Bytes after the request would be taken as sent over TLS
	 * (PostgreSQL refuses them too: CVE-2021-23214). */
	if (cl->c.rbuf != NULL && cl->c.rbuf->end != cl->c.rbuf->start) {
		client_fail(cl, "08P01", "received unencrypted data after SSL request");
		return;
	}
	if (io_send(&cl->c, "S", 1) != 1) {
		client_close(cl, "could not answer the SSL request");
		return;
	}
	if (transport_start(&cl->c, mi, err, sizeof err) < 0) {
		log_warn("%s: %s", cl->remote_addr, err);
		client_close(cl, err);
	}
}

/* GSSENCRequest: 'G' and GSS context establishment when a transport
 * module of kind "gss" is loaded and has an acceptor keytab (its conn_new
 * says -ENOENT otherwise), else 'N'.  The transport is set up before the
 * answer, so a 'G' is never taken back. */
static void start_gss(struct client *cl)
{
	const struct mod_instance *mi = transport_find(cl->gen->mods, "gss");
	char err[256];
	int rc;

	if (mi == NULL || cl->is_unix) {
		if (io_send(&cl->c, "N", 1) < 0)
			client_close(cl, "client went away");
		return;
	}
	if (cl->c.rbuf != NULL && cl->c.rbuf->end != cl->c.rbuf->start) {
		client_fail(cl, "08P01",
		            "received unencrypted data after GSSAPI encryption request");
		return;
	}
	rc = transport_start(&cl->c, mi, err, sizeof err);
	if (rc < 0) {
		if (rc != -ENOENT)
			log_warn("%s: %s", cl->remote_addr, err);
		if (io_send(&cl->c, "N", 1) < 0)
			client_close(cl, "client went away");
		return;
	}
	/* the transport is on: this byte must go around it */
	if (send(cl->c.fd, "G", 1, MSG_NOSIGNAL) != 1)
		client_close(cl, "could not answer the GSSAPI encryption request");
}

/* The TLS or GSS handshake in CL_STARTUP: true when done (read on). */
static bool handshake(struct client *cl)
{
	const char *detail = NULL;
	int rc = transport_handshake(&cl->c, &detail);

	if (rc < 0 || rc == 2) {
		log_info("%s handshake with %s:%s failed: %s",
		         cl->negotiated_gss && !cl->negotiated_ssl ? "GSSAPI encryption" : "TLS",
		         cl->remote_addr, cl->remote_port,
		         rc == 2  ? "the module deferred work, which clients do not support"
		         : detail ? detail
		                  : "?");
		client_close(cl, NULL);
		return false;
	}
	return rc == 1;
}

static void handle_startup_packet(struct client *cl, const uint8_t *pkt, uint32_t len)
{
	const char *sqlstate;
	char msg[256];
	struct startup_packet sp;

	if (startup_parse(pkt, len, &sp, &sqlstate, msg, sizeof msg) < 0) {
		log_info("startup packet from %s refused: %s", cl->remote_addr, msg);
		client_fail(cl, sqlstate, "%s", msg);
		return;
	}
	switch (sp.kind) {
	case STARTUP_SSL_REQUEST:
	case STARTUP_GSSENC_REQUEST: {
		bool *tried = sp.kind == STARTUP_SSL_REQUEST ? &cl->negotiated_ssl
		                                             : &cl->negotiated_gss;

		if (*tried || cl->c.tp != NULL) {
			/* a second request, or any request inside an encrypted
			 * channel (PostgreSQL refuses both) */
			client_fail(cl, "08P01", "invalid startup packet layout: repeated %s",
			            sp.kind == STARTUP_SSL_REQUEST ? "SSLRequest"
			                                           : "GSSENCRequest");
			return;
		}
		*tried = true;
		if (sp.kind == STARTUP_SSL_REQUEST)
			start_tls(cl);
		else
			start_gss(cl);
		return;
	}
	case STARTUP_CANCEL_REQUEST:
		cancel_request(cl->c.w, sp.cancel_pid, sp.cancel_key);
		client_close(cl, NULL);
		return;
	case STARTUP_MESSAGE:
		break;
	}
	cl->sp = sp;
	if (startup_param(&cl->sp, "replication") != NULL &&
	    strcmp(startup_param(&cl->sp, "replication"), "false") != 0) {
		client_fail(cl, "08P01", "replication connections are not supported by pgsluice");
		return;
	}
	if (startup_param(&cl->sp, "options") != NULL && startup_param(&cl->sp, "options")[0]) {
		client_fail(cl, "08P01", "unsupported startup parameter: options");
		return;
	}
	if ((sp.version & 0xffff) > 0 || sp.nunknown_pq > 0) {
		/* NegotiateProtocolVersion: we speak 3.0 and no extensions. */
		uint8_t body[8];

		put_u32(body, 0);
		put_u32(body + 4, 0);
		if (proto_msg(&cl->c.wbuf, 'v', body, sizeof body) < 0) {
			client_close(cl, "out of memory");
			return;
		}
	}
	client_set_state(cl, CL_AUTH);
	auth_start(cl);
}

/* Read and dispatch startup packets (SSLRequest/GSSENCRequest may come
 * first, each answered before the next packet). */
/*
 * PostgreSQL 17's direct TLS: the first byte of a connection is a TLS
 * handshake record (0x16) instead of a startup packet length.  True when
 * the handshake was started here (or the client was refused).
 */
static bool direct_tls(struct client *cl)
{
	const struct mod_instance *mi;
	char err[256];
	uint8_t first;

	if (cl->c.tp != NULL || cl->negotiated_ssl || cl->negotiated_gss || cl->is_unix ||
	    (cl->c.rbuf != NULL && cl->c.rbuf->end != cl->c.rbuf->start))
		return false;
	mi = transport_find(cl->gen->mods, "ssl");
	/* without a TLS module a handshake record is read as a startup packet
	 * and refused as one; with one, a peek costs one call per connection */
	if (mi == NULL || recv(cl->c.fd, &first, 1, MSG_PEEK) != 1 || first != 0x16)
		return false;
	cl->negotiated_ssl = true;
	cl->direct_tls = true;
	if (transport_start(&cl->c, mi, err, sizeof err) < 0) {
		log_warn("%s: %s", cl->remote_addr, err);
		client_close(cl, err);
	}
	return true;
}

void client_read_startup(struct client *cl)
{
	struct iobuf *b;
	ssize_t n;

	if (cl->c.tp == NULL && direct_tls(cl) && cl->c.dead)
		return;
	if (cl->c.tp != NULL && cl->c.tp->handshaking) {
		if (!handshake(cl))
			return;
		/* direct TLS must have negotiated ALPN "postgresql" (as PostgreSQL 17) */
		if (cl->direct_tls && (transport_fact(&cl->c, "alpn") == NULL ||
		                       strcmp(transport_fact(&cl->c, "alpn"), "postgresql") != 0)) {
			log_info(
			        "%s:%s: direct TLS connection without ALPN \"postgresql\": refused",
			        cl->remote_addr, cl->remote_port);
			client_fail(cl, "08P01",
			            "received direct SSL connection request without ALPN protocol "
			            "negotiation extension");
			return;
		}
		stats_add(strcmp(transport_kind_name(&cl->c), "gss") == 0
		                  ? &rt->stats.gss_handshakes
		                  : &rt->stats.tls_handshakes,
		          1);
		audit_transport(cl);
	}
	n = io_read(&cl->c);

	if (n == 0 || (n < 0 && n != -EAGAIN && n != -ENOBUFS)) {
		client_close(cl, NULL);
		return;
	}
	b = cl->c.rbuf;
	while (!cl->c.dead && cl->state == CL_STARTUP && b->end - b->start >= 4 &&
	       !(cl->c.tp != NULL && cl->c.tp->handshaking)) {
		uint32_t len = get_u32(b->data + b->start);

		if (startup_check_length(len) < 0) {
			log_info("startup packet from %s refused: invalid length %u",
			         cl->remote_addr, len);
			client_fail(cl, "08P01", "invalid length of startup packet");
			return;
		}
		if (b->end - b->start < len)
			break;
		b->start += len;
		handle_startup_packet(cl, b->data + b->start - len, len);
	}
	if (!cl->c.dead && cl->state == CL_STARTUP)
		io_release_rbuf(&cl->c);
	/* SSLRequest answered 'S': the client's ClientHello may be here */
	if (!cl->c.dead && cl->c.tp != NULL && cl->c.tp->handshaking && handshake(cl))
		worker_mark_ready(cl->c.w, &cl->c); /* input may wait inside it */
}

/* --------------------------------------------------------------- auth */

/* During CL_AUTH the client may only send whole authentication messages. */
void client_read_auth(struct client *cl)
{
	struct iobuf *b;
	ssize_t n = io_read(&cl->c);

	if (n == 0 || (n < 0 && n != -EAGAIN && n != -ENOBUFS)) {
		client_close(cl, "client disconnected during authentication");
		return;
	}
	b = cl->c.rbuf;
	while (!cl->c.dead && cl->state == CL_AUTH && b->end - b->start >= PROTO_MSG_HDR) {
		char type = (char)b->data[b->start];
		uint32_t len = get_u32(b->data + b->start + 1);

		if (len < 4 || len > CLIENT_AUTH_MSG_MAX) {
			client_fail(cl, "08P01", "invalid message length during authentication");
			return;
		}
		if (b->end - b->start < len + 1)
			break;
		b->start += len + 1;
		if (type == 'X') {
			client_close(cl, "client terminated during authentication");
			return;
		}
		if (type != 'p') {
			client_fail(cl, "08P01", "expected password response, got message type %d",
			            type);
			return;
		}
		auth_on_input(cl, b->data + b->start - len + 4, len - 4);
	}
	if (!cl->c.dead)
		io_release_rbuf(&cl->c);
}
