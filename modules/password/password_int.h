/*
 * password_int.h — what the password module's two halves share: the module
 * instance (password.c: init, fini, backend login) and the frontend ops
 * (password_front.c).
 */
#ifndef PGS_PASSWORD_INT_H
#define PGS_PASSWORD_INT_H

#include <stdbool.h>

#include <pgsluice/module.h>

struct password_module {
	const pgs_host *host;
	/* Config allow_unencrypted: accept a cleartext password from a client
	 * whose connection is neither TLS nor GSS encrypted. */
	bool allow_unencrypted;
};

/* Frontend cleartext password authentication (AuthenticationCleartextPassword). */
extern const pgs_auth_ops password_front_ops;

#endif /* PGS_PASSWORD_INT_H */
