/*
 * errbuf.h — write a message into a caller's error buffer, the way the
 * parsers and protocol code of the modules report what went wrong.
 */
#ifndef PGS_ERRBUF_H
#define PGS_ERRBUF_H

#include <stddef.h>

/* printf into err (always NUL-terminated); nothing when err is NULL or
 * err_size is 0. */
void errbuf_set(char *err, size_t err_size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif /* PGS_ERRBUF_H */
