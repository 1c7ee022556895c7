/*
 * audit_writer.h — the audit module's writer: one per file path per
 * process, shared (refcounted) by the module instances writing that file.
 *
 * Workers hand finished events to audit_writer_submit(), which only queues
 * them; the writer's thread numbers them, chains their MACs and appends
 * them to the file, applying the fsync and on_error policies.
 */
#ifndef PGS_AUDIT_WRITER_H
#define PGS_AUDIT_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <pgsluice/module.h>

#include "audit_json.h"

struct audit_writer;

/* One queued event: its time and its body (audit_json_body()). */
struct audit_item {
	struct audit_item *next;
	char ts[AUDIT_TS_SIZE];
	size_t body_len;
	char body[]; /* body_len bytes and a NUL */
};

/* An instance's settings, as the writer takes them over. */
struct audit_writer_cfg {
	const char *path; /* the file (absolute after host->cfg_path) */
	uint8_t key[AUDIT_KEY_LEN];
	bool fsync;  /* fdatasync after each batch */
	bool refuse; /* on_error = refuse (else continue) */
	bool syslog; /* also send each line to syslog */
	size_t queue_max;
};

/**
 * audit_file_open() - open (creating it 0600 when missing) the audit file
 * for appending, and check that it is a regular file without group or
 * other permission bits.  Returns the descriptor, or a negative errno with
 * a message (naming the path) in err.
 */
int audit_file_open(const char *path, char *err, size_t err_size);

/* (audit_file.c) Open and check path; *why: a reason when the file is
 * refused, else NULL.  The descriptor, or a negative errno. */
int audit_file_open_why(const char *path, const char **why, struct stat *st);

/* (audit_file.c) Write all of p (EINTR retried): the bytes written; *err
 * the errno when it stopped short. */
ssize_t audit_write_all(int fd, const char *p, size_t len, int *err);

/**
 * audit_writer_acquire() - the writer of cfg->path, with a new reference.
 * A new writer reads the file's last line to continue its chain (or starts
 * one) and starts its thread; an existing one takes over cfg's settings
 * and reopens its file.  0, or a negative errno (logged via host->log).
 */
int audit_writer_acquire(const pgs_host *host, const struct audit_writer_cfg *cfg,
                         struct audit_writer **out);

/**
 * audit_writer_release() - drop a reference.  The last one writes what is
 * queued (giving up after 5 s), stops the thread, closes the file and
 * wipes the key.
 */
void audit_writer_release(struct audit_writer *w);

/**
 * audit_item_new() - an item for body_len bytes of body (malloc), or NULL.
 */
struct audit_item *audit_item_new(size_t body_len);

/**
 * audit_writer_submit() - queue item (the writer owns it from here).
 * Never blocks on I/O: when the queue is full the item is dropped and
 * counted (a "gap" event records the count later).
 */
void audit_writer_submit(struct audit_writer *w, struct audit_item *item);

/**
 * audit_writer_submit_lost() - count an event that could not be queued
 * (no memory for it); a "gap" event records it later.
 */
void audit_writer_submit_lost(struct audit_writer *w);

/**
 * audit_writer_healthy() - 0, or a negative errno while on_error = refuse
 * and the file cannot be written or the queue is full.  Lock-free.
 */
int audit_writer_healthy(const struct audit_writer *w);

/**
 * audit_writer_reopen() - ask the thread to reopen the file (rotation);
 * the chain continues.
 */
void audit_writer_reopen(struct audit_writer *w);

#endif /* PGS_AUDIT_WRITER_H */
