/*
 * gss_int.h — inside the "gss" module (MIT Kerberos through GSSAPI):
 *   gss.c          descriptor, settings, credentials (acceptor keytab,
 *                  initiator client keytab / ccache)
 *   gss_cred.c     credential handles from keytab / client_keytab / ccache
 *   gss_ctx.c      one security-context step for either role
 *   gss_status.c   GSSAPI status as text
 *   gss_auth.c     frontend authentication (AuthenticationGSS/GSSContinue)
 *                  and the principal checks (include_realm, krb_realm,
 *                  krb_caseins_users, map)
 *   gss_backend.c  backend authentication: pgsluice's own login to
 *                  PostgreSQL (auth codes 7 and 8)
 *   gss_tp.c       the transport of kind "gss": GSSENCRequest encryption,
 *                  acceptor towards clients, initiator towards servers
 */
#ifndef PGS_GSS_INT_H
#define PGS_GSS_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

#include <pgsluice/module.h>

#define GSS_ERR_LEN       512
#define GSS_NAME_MAX      1024 /* a displayed principal name */
#define GSS_SRVNAME_MAX   64
#define GSS_MAX_TOKEN     65536 /* largest auth token accepted (PostgreSQL's limit) */
/* PostgreSQL 15's GSS encryption packets: 4-byte length + token, 16 KiB in
 * all (PQ_GSS_SEND_BUFFER_SIZE / PQ_GSS_RECV_BUFFER_SIZE). */
#define GSS_ENC_PACKET    16384
#define GSS_ENC_MAX_TOKEN (GSS_ENC_PACKET - 4)

/* One instance (module state, shared by every worker thread). */
struct gss_mod {
	const pgs_host *host;
	/* acceptor (clients' GSS auth and GSSENCRequest) */
	bool have_acceptor;            /* keytab set and loaded */
	char keytab[PATH_MAX];         /* absolute path */
	gss_cred_id_t acceptor;        /* GSS_C_NO_CREDENTIAL without a keytab */
	char srvname[GSS_SRVNAME_MAX]; /* krb_srvname: the service clients ask for */
	/* defaults of the gss auth step (hba options override) */
	bool include_realm; /* default true */
	bool caseins;       /* krb_caseins_users, default false */
	char *krb_realm;    /* NULL: any realm */
	char *map;          /* NULL: no ident map */
	/* initiator (pgsluice's own logins to PostgreSQL) */
	bool have_initiator;                 /* client_keytab and/or ccache set */
	char client_keytab[PATH_MAX];        /* "" when unset */
	char ccache[PATH_MAX + 16];          /* e.g. "MEMORY:pgsluice-gss-N" */
	char client_principal[GSS_NAME_MAX]; /* "" : the keytab's / cache's */
};

/* GSSAPI status as text ("major: minor"), for logs (gss_status.c). */
void gss_status_text(OM_uint32 maj, OM_uint32 min, char *buf, size_t len);

/* gss_acquire_cred_from with a credential store; the status text in err on
 * failure (gss_cred.c). */
OM_uint32 gss_acquire_from(gss_name_t name, gss_cred_usage_t usage,
                           const gss_key_value_element_desc *elems, size_t n, gss_cred_id_t *out,
                           char *err, size_t errlen);

/* (gss_cred.c) A new handle on the initiator credentials (may contact the KDC: call only
 * from work run by host->defer); the caller releases it.  One per context:
 * MIT holds a handle's lock through a context's first step, KDC round trip
 * included.  0 or -1 with err set. */
int gss_initiator_cred(struct gss_mod *m, gss_cred_id_t *out, char *err, size_t errlen);

/* A context being established, either role. */
struct gss_ctx {
	gss_ctx_id_t ctx;
	gss_name_t target;            /* initiator: srvname@host */
	gss_cred_id_t cred;           /* initiator: its own handle (gss_initiator_cred) */
	gss_buffer_desc out;          /* token to send after a step; released by the next step */
	OM_uint32 maj, min;           /* status of the last step */
	bool complete;                /* GSS_S_COMPLETE seen */
	OM_uint32 flags;              /* ret_flags once complete */
	char principal[GSS_NAME_MAX]; /* acceptor: the client's, once complete */
	char err[GSS_ERR_LEN];
};

/* Initiator: the target name "srvname@host" (GSS_C_NT_HOSTBASED_SERVICE),
 * no network.  0 or -1 with c->err set. */
int gss_ctx_target(struct gss_ctx *c, const char *srvname, const char *host);

/* Initiator: one gss_init_sec_context call (in == NULL the first time),
 * mutual + sequence + confidentiality + integrity wanted.  The first call
 * may contact the KDC (run it through host->defer).  Returns 1 complete,
 * 0 continue (send c->out, then feed the peer's token), -1 failed
 * (c->err says why; c->out may hold an error token to send). */
int gss_ctx_init_step(struct gss_mod *m, struct gss_ctx *c, const void *in, size_t len);

/* Acceptor: one gss_accept_sec_context call with m->acceptor.  On
 * completion c->principal holds the initiator's name and the service the
 * client asked for is checked against m->srvname.  Local only (keytab, no
 * KDC).  Returns 1 complete, 0 continue, -1 failed (c->err). */
int gss_ctx_accept_step(struct gss_mod *m, struct gss_ctx *c, const void *in, size_t len);

/* Release everything (context, names, buffers); c stays usable as empty. */
void gss_ctx_free(struct gss_ctx *c);

extern const pgs_auth_ops gss_auth_ops;
extern const pgs_backend_ops gss_backend_ops;
extern const pgs_transport_ops gss_transport_ops;

#endif /* PGS_GSS_INT_H */
