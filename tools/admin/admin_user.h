/*
 * admin_user.h — pgsluice-admin: the user commands (admin_user.c).
 */
#ifndef PGS_ADMIN_USER_H
#define PGS_ADMIN_USER_H

#include "admin_util.h"

/* "user add|edit|del|ls" (sub is the word after "user"). */
int admin_cmd_user(const char *sub, const struct admin_opts *o) __attribute__((warn_unused_result));

#endif /* PGS_ADMIN_USER_H */
