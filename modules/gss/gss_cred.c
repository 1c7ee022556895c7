/*
 * gss_cred.c — credential handles from a credential store (keytab,
 * client_keytab, ccache): the acceptor's at init, and a new initiator handle
 * for each context towards a server.
 */
#include <stdio.h>
#include <string.h>

#include "gss_int.h"

/* gss_acquire_cred_from with a credential store; the status text in err. */
OM_uint32 gss_acquire_from(gss_name_t name, gss_cred_usage_t usage,
                           const gss_key_value_element_desc *elems, size_t n, gss_cred_id_t *out,
                           char *err, size_t errlen)
{
	gss_key_value_set_desc store = {.count = (OM_uint32)n,
	                                .elements = (gss_key_value_element_desc *)elems};
	OM_uint32 maj, min;

	maj = gss_acquire_cred_from(&min, name, GSS_C_INDEFINITE, GSS_C_NO_OID_SET, usage, &store,
	                            out, NULL, NULL);
	if (GSS_ERROR(maj))
		gss_status_text(maj, min, err, errlen);
	return maj;
}

int gss_initiator_cred(struct gss_mod *m, gss_cred_id_t *out, char *err, size_t errlen)
{
	gss_key_value_element_desc elems[2];
	gss_name_t name = GSS_C_NO_NAME;
	gss_buffer_desc buf;
	char st[GSS_ERR_LEN];
	OM_uint32 maj = GSS_S_COMPLETE, min;
	size_t n = 0;
	int rc = 0;

	if (!m->have_initiator) {
		snprintf(err, errlen, "no client_keytab or ccache is configured in module gss");
		return -1;
	}
	*out = GSS_C_NO_CREDENTIAL;
	if (m->client_keytab[0] != '\0')
		elems[n++] = (gss_key_value_element_desc){"client_keytab", m->client_keytab};
	elems[n++] = (gss_key_value_element_desc){"ccache", m->ccache};
	if (m->client_principal[0] != '\0') {
		buf.value = m->client_principal;
		buf.length = strlen(m->client_principal);
		maj = gss_import_name(&min, &buf, GSS_KRB5_NT_PRINCIPAL_NAME, &name);
		if (GSS_ERROR(maj))
			gss_status_text(maj, min, st, sizeof st);
	}
	if (!GSS_ERROR(maj))
		maj = gss_acquire_from(name, GSS_C_INITIATE, elems, n, out, st, sizeof st);
	if (GSS_ERROR(maj)) {
		*out = GSS_C_NO_CREDENTIAL;
		snprintf(err, errlen,
		         "could not acquire Kerberos credentials for %s from %s %s: %s",
		         m->client_principal[0] != '\0' ? m->client_principal : "pgsluice",
		         m->client_keytab[0] != '\0' ? "client_keytab" : "ccache",
		         m->client_keytab[0] != '\0' ? m->client_keytab : m->ccache, st);
		rc = -1;
	}
	if (name != GSS_C_NO_NAME)
		gss_release_name(&min, &name);
	return rc;
}
