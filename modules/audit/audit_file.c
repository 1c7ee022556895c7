/*
 * audit_file.c — the audit file itself: opening it with its checks (a
 * regular file, no group or other permissions, created 0600) and writing
 * a buffer out whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit_writer.h"

/* Open and check; *why: a reason when the file is refused, else NULL. */
int audit_file_open_why(const char *path, const char **why, struct stat *st)
{
	int fd, rc;

	*why = NULL;
	/* O_NONBLOCK: a FIFO planted at the path must not hang the open. */
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (!S_ISREG(st->st_mode)) {
		*why = "not a regular file";
		close(fd);
		return -EPERM;
	}
	if ((st->st_mode & 077) != 0) {
		*why = "permissions allow group or other access (chmod 600 it)";
		close(fd);
		return -EPERM;
	}
	fcntl(fd, F_SETFL, O_APPEND); /* blocking again; O_NONBLOCK means nothing for a file */
	return fd;
}

int audit_file_open(const char *path, char *err, size_t err_size)
{
	const char *why;
	struct stat st;
	int fd = audit_file_open_why(path, &why, &st);

	if (fd < 0)
		snprintf(err, err_size, "%s: %s", path, why != NULL ? why : strerror(-fd));
	return fd;
}

ssize_t audit_write_all(int fd, const char *p, size_t len, int *err)
{
	size_t done = 0;

	*err = 0;
	while (done < len) {
		ssize_t r = write(fd, p + done, len - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			*err = r < 0 ? errno : EIO;
			break;
		}
		done += (size_t)r;
	}
	return (ssize_t)done;
}
