/*
 * md5_int.h — what the md5 module's two halves share: the module instance
 * (md5.c: init, fini, backend login) and the frontend ops (md5_front.c).
 */
#ifndef PGS_MD5_INT_H
#define PGS_MD5_INT_H

#include <pgsluice/module.h>

struct md5_module {
	const pgs_host *host;
};

/* Frontend MD5 password authentication (AuthenticationMD5Password). */
extern const pgs_auth_ops md5_front_ops;

#endif /* PGS_MD5_INT_H */
