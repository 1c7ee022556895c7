/*
 * gss_status.c — GSSAPI status codes as text, for logs and error details.
 */
#include <stdio.h>
#include <string.h>

#include "gss_int.h"

static size_t append_status(char *buf, size_t len, size_t used, OM_uint32 code, int type)
{
	OM_uint32 mctx = 0, min;
	gss_buffer_desc msg;

	do {
		if (gss_display_status(&min, code, type, GSS_C_NO_OID, &mctx, &msg) !=
		    GSS_S_COMPLETE)
			break;
		if (used < len) {
			int n = snprintf(buf + used, len - used, "%s%.*s", used ? ": " : "",
			                 (int)msg.length, (const char *)msg.value);

			used += n > 0 ? (size_t)n : 0;
		}
		gss_release_buffer(&min, &msg);
	} while (mctx != 0);
	return used;
}

void gss_status_text(OM_uint32 maj, OM_uint32 min, char *buf, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	used = append_status(buf, len, used, maj, GSS_C_GSS_CODE);
	if (min != 0)
		(void)append_status(buf, len, used, min, GSS_C_MECH_CODE);
	if (buf[0] == '\0')
		snprintf(buf, len, "GSSAPI error %u/%u", (unsigned)maj, (unsigned)min);
}
