/*
 * gss_ctx.c — one step of a GSSAPI security context, for either role.
 * Shared by the auth steps and the transport.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gss_int.h"

static void set_err(struct gss_ctx *c, const char *what, OM_uint32 maj, OM_uint32 min)
{
	char st[GSS_ERR_LEN - 128];

	gss_status_text(maj, min, st, sizeof st);
	snprintf(c->err, sizeof c->err, "%.120s: %s", what, st);
}

static void release_out(struct gss_ctx *c)
{
	OM_uint32 min;

	if (c->out.value != NULL)
		gss_release_buffer(&min, &c->out);
	c->out.value = NULL;
	c->out.length = 0;
}

int gss_ctx_target(struct gss_ctx *c, const char *srvname, const char *host)
{
	char name[GSS_SRVNAME_MAX + 256 + 2];
	gss_buffer_desc buf;
	OM_uint32 maj, min;
	int n;

	if (srvname == NULL || srvname[0] == '\0' || host == NULL || host[0] == '\0') {
		snprintf(c->err, sizeof c->err, "no Kerberos service name or server host");
		return -1;
	}
	n = snprintf(name, sizeof name, "%s@%s", srvname, host);
	if (n < 0 || (size_t)n >= sizeof name) {
		snprintf(c->err, sizeof c->err, "Kerberos service name too long");
		return -1;
	}
	buf.value = name;
	buf.length = (size_t)n;
	maj = gss_import_name(&min, &buf, GSS_C_NT_HOSTBASED_SERVICE, &c->target);
	if (GSS_ERROR(maj)) {
		set_err(c, "could not import the server's principal name", maj, min);
		return -1;
	}
	return 0;
}

int gss_ctx_init_step(struct gss_mod *m, struct gss_ctx *c, const void *in, size_t len)
{
	gss_buffer_desc input = {.length = len, .value = (void *)(uintptr_t)in};
	OM_uint32 ret_flags = 0;

	release_out(c);
	if (c->target == GSS_C_NO_NAME) {
		snprintf(c->err, sizeof c->err, "no target name");
		return -1;
	}
	if (c->cred == GSS_C_NO_CREDENTIAL &&
	    gss_initiator_cred(m, &c->cred, c->err, sizeof c->err) < 0)
		return -1;
	/* libpq's flags for GSS encryption */
	c->maj = gss_init_sec_context(&c->min, c->cred, &c->ctx, c->target, GSS_C_NO_OID,
	                              GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG |
	                                      GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG,
	                              0, GSS_C_NO_CHANNEL_BINDINGS,
	                              in != NULL ? &input : GSS_C_NO_BUFFER, NULL, &c->out,
	                              &ret_flags, NULL);
	if (GSS_ERROR(c->maj)) {
		set_err(c, "GSSAPI context initiation failed", c->maj, c->min);
		return -1;
	}
	if (c->maj & GSS_S_CONTINUE_NEEDED)
		return 0;
	c->complete = true;
	c->flags = ret_flags;
	return 1;
}

/* The service part of the principal the client asked for must be ours
 * (the keytab may hold other services' keys). */
static int check_service(struct gss_mod *m, struct gss_ctx *c)
{
	gss_name_t target = GSS_C_NO_NAME;
	gss_buffer_desc disp = GSS_C_EMPTY_BUFFER;
	OM_uint32 maj, min;
	size_t sl = strlen(m->srvname);
	int rc = -1;

	maj = gss_inquire_context(&min, c->ctx, NULL, &target, NULL, NULL, NULL, NULL, NULL);
	if (GSS_ERROR(maj)) {
		set_err(c, "could not inquire the GSSAPI context", maj, min);
		return -1;
	}
	maj = gss_display_name(&min, target, &disp, NULL);
	if (GSS_ERROR(maj)) {
		set_err(c, "could not display the service principal", maj, min);
	} else if (disp.length > sl && memcmp(disp.value, m->srvname, sl) == 0 &&
	           ((const char *)disp.value)[sl] == '/') {
		rc = 0;
	} else {
		snprintf(c->err, sizeof c->err,
		         "the client asked for service principal \"%.*s\", not for service \"%s\"",
		         (int)(disp.length > 256 ? 256 : disp.length), (const char *)disp.value,
		         m->srvname);
	}
	gss_release_buffer(&min, &disp);
	gss_release_name(&min, &target);
	return rc;
}

int gss_ctx_accept_step(struct gss_mod *m, struct gss_ctx *c, const void *in, size_t len)
{
	gss_buffer_desc input = {.length = len, .value = (void *)(uintptr_t)in};
	gss_buffer_desc disp = GSS_C_EMPTY_BUFFER;
	gss_name_t src = GSS_C_NO_NAME;
	OM_uint32 ret_flags = 0, min;
	int rc = -1;

	release_out(c);
	if (!m->have_acceptor) {
		snprintf(c->err, sizeof c->err, "no keytab configured for GSSAPI");
		return -1;
	}
	c->maj = gss_accept_sec_context(&c->min, &c->ctx, m->acceptor, &input,
	                                GSS_C_NO_CHANNEL_BINDINGS, &src, NULL, &c->out, &ret_flags,
	                                NULL, NULL);
	if (GSS_ERROR(c->maj)) {
		set_err(c, "accepting GSS security context failed", c->maj, c->min);
		goto out;
	}
	if (c->maj & GSS_S_CONTINUE_NEEDED) {
		rc = 0;
		goto out;
	}
	if (check_service(m, c) < 0)
		goto out;
	c->maj = gss_display_name(&c->min, src, &disp, NULL);
	if (GSS_ERROR(c->maj)) {
		set_err(c, "retrieving GSS user name failed", c->maj, c->min);
		goto out;
	}
	if (disp.length == 0 || disp.length >= sizeof c->principal ||
	    memchr(disp.value, '\0', disp.length) != NULL) {
		snprintf(c->err, sizeof c->err, "the client's principal name is empty or too long");
		goto out;
	}
	memcpy(c->principal, disp.value, disp.length);
	c->principal[disp.length] = '\0';
	c->complete = true;
	c->flags = ret_flags;
	rc = 1;
out:
	gss_release_buffer(&min, &disp);
	if (src != GSS_C_NO_NAME)
		gss_release_name(&min, &src);
	return rc;
}

void gss_ctx_free(struct gss_ctx *c)
{
	OM_uint32 min;

	release_out(c);
	if (c->ctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&min, &c->ctx, GSS_C_NO_BUFFER);
	if (c->target != GSS_C_NO_NAME)
		gss_release_name(&min, &c->target);
	if (c->cred != GSS_C_NO_CREDENTIAL)
		gss_release_cred(&min, &c->cred);
	c->ctx = GSS_C_NO_CONTEXT;
	c->target = GSS_C_NO_NAME;
	c->complete = false;
	c->principal[0] = '\0';
}
