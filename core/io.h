/*
 * io.h — non-blocking socket I/O for connections: send with buffering of
 * what the socket did not take, flushing, and reading into the borrowed
 * read buffer.
 */
#ifndef PGS_IO_H
#define PGS_IO_H

#include <stddef.h>
#include <sys/types.h>

#include "conn.h"

/*
 * Send len bytes to c: written at once when possible, the rest kept in
 * c->wbuf with EPOLLOUT watched.  Returns 1 when everything went out, 0
 * when some is buffered, -1 on a socket error (the caller closes).
 */
int io_send(struct pgs_conn *c, const void *data, size_t len) __attribute__((warn_unused_result));

/* Send what c->wbuf holds: 1 when empty now, 0 when not yet, -1 on error. */
int io_flush(struct pgs_conn *c) __attribute__((warn_unused_result));

/*
 * Read once into c->rbuf (borrowed from the worker when absent; compacted
 * when needed).  Returns bytes read, 0 on orderly close by the peer,
 * -EAGAIN when nothing was there, -ENOBUFS when the buffer is full, or
 * another negative errno on error.
 */
ssize_t io_read(struct pgs_conn *c) __attribute__((warn_unused_result));

/* Give the read buffer back when it holds nothing. */
void io_release_rbuf(struct pgs_conn *c);

/* Watch EPOLLIN (reading) on or off, keeping EPOLLOUT as it is. */
int io_want_read(struct pgs_conn *c, int on) __attribute__((warn_unused_result));

#endif /* PGS_IO_H */
