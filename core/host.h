/*
 * host.h — the services table the daemon hands to every module (pgs_host,
 * see pgsluice/module.h).
 */
#ifndef PGS_HOST_H
#define PGS_HOST_H

#include "pgsluice/module.h"

/* The process's host services table. */
const pgs_host *host_services(void);

#endif /* PGS_HOST_H */
