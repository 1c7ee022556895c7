/*
 * vault_io.c — the vault's files and its passphrase (see vault_lib.h).
 *
 * Private files (master.key, vault files, passphrase files) are checked on
 * the descriptor that is then read, never by path, so a rename between the
 * check and the read changes nothing.  Writes go to a temporary file in
 * the same directory (O_EXCL, mode 0600), which is synced and then renamed
 * (or linked, when the target must not exist) over the target, and the
 * directory is synced: a crash leaves the old file or the new one, never a
 * mix.  Buffers that held file contents or a passphrase are wiped.
 *
 * A signal that kills the process while the terminal's echo is off leaves
 * it off: interactive shells restore the terminal of a job killed by a
 * signal, and installing handlers here would step on the caller's.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "vault_lib.h"
#include "errbuf.h"

#define MASTER_MAX_FILE   65536u /* bytes of a master.key (a few hundred in practice) */
#define PASSFILE_MAX_FILE 65536u /* bytes of a passphrase file; only line 1 is used */
#define TMP_TRIES         16

/* ------------------------------------------------------------ private files */

int vault_check_private(int fd, const char *path, char *err, size_t err_size)
{
	struct stat st;
	int rc;

	if (fstat(fd, &st) < 0) {
		rc = -errno;
		errbuf_set(err, err_size, "cannot stat %s: %s", path, strerror(-rc));
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		errbuf_set(err, err_size, "%s: not a regular file", path);
		return -EPERM;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		errbuf_set(err, err_size,
		           "%s: owned by uid %u, neither uid %u (this process) nor root", path,
		           (unsigned)st.st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	if ((st.st_mode & 077) != 0) {
		errbuf_set(err, err_size,
		           "%s: permissions %04o allow group or other access (chmod 600 it)", path,
		           (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* Move buf (len bytes used) into a new buffer of new_size bytes, wiping
 * and freeing the old one, so no stale copy of a secret is left behind. */
static char *grow(char *buf, size_t len, size_t new_size)
{
	char *n = malloc(new_size);

	if (n != NULL && len > 0)
		memcpy(n, buf, len);
	if (buf != NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	return n;
}

/* Read fd to its end: at most max bytes (-EFBIG beyond), NUL-terminated.
 * hint (<= max) is the size fstat gave. */
static int read_fd(int fd, size_t hint, size_t max, char **out, size_t *out_len)
{
	size_t cap = hint + 1, n = 0;
	char *buf = malloc(cap);
	int rc = 0;

	if (buf == NULL)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n == cap - 1) {
			char probe;

			if (n >= max) {
				/* full: only the end of the file may follow */
				do
					r = read(fd, &probe, 1);
				while (r < 0 && errno == EINTR);
				OPENSSL_cleanse(&probe, 1);
				rc = r < 0 ? -errno : r > 0 ? -EFBIG : 0;
				break;
			}
			cap = (n < max / 2 ? n * 2 + 4096 : max) + 1;
			if (cap - 1 > max)
				cap = max + 1;
			buf = grow(buf, n, cap);
			if (buf == NULL)
				return -ENOMEM;
		}
		r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (rc < 0) {
		OPENSSL_cleanse(buf, n);
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	return 0;
}

int vault_read_private(const char *path, size_t max, char **buf, size_t *len, char *err,
                       size_t err_size)
{
	struct stat st;
	int fd, rc;

	*buf = NULL;
	*len = 0;
	errbuf_set(err, err_size, "%s", "");
	if (path == NULL || max >= SIZE_MAX / 2) {
		errbuf_set(err, err_size, "vault_read_private: no path, or a limit of %zu bytes",
		           max);
		return -EINVAL;
	}
	/* O_NONBLOCK: a FIFO put in the file's place must not hang the open */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		errbuf_set(err, err_size, "cannot open %s: %s", path, strerror(-rc));
		return rc;
	}
	rc = vault_check_private(fd, path, err, err_size);
	if (rc < 0)
		goto out;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		errbuf_set(err, err_size, "cannot stat %s: %s", path, strerror(-rc));
		goto out;
	}
	if ((unsigned long long)st.st_size > max) {
		errbuf_set(err, err_size, "%s: larger than %zu bytes", path, max);
		rc = -EFBIG;
		goto out;
	}
	rc = read_fd(fd, (size_t)st.st_size, max, buf, len);
	if (rc == -EFBIG)
		errbuf_set(err, err_size, "%s: grew larger than %zu bytes while read", path, max);
	else if (rc < 0)
		errbuf_set(err, err_size, "cannot read %s: %s", path, strerror(-rc));
out:
	close(fd);
	return rc;
}

void vault_buf_free(char *buf, size_t len)
{
	if (buf == NULL)
		return;
	OPENSSL_cleanse(buf, len + 1);
	free(buf);
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t r = write(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* Run as root (sudo pgsluice-admin ...), a rewrite keeps the owner of the
 * file it replaces: a vault owned by the daemon's user must stay readable
 * by the daemon, which refuses files owned by anyone else but root. */
static int keep_owner(int fd, const char *path)
{
	struct stat st;

	if (geteuid() != 0 || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	return fchown(fd, st.st_uid, st.st_gid) < 0 ? -errno : 0;
}

/* Create dir/.base.XXXXXXXXXXXX with O_EXCL and mode 0600; its name goes to tmp. */
static int create_tmp(const char *path, size_t dir_len, const char *base, char *tmp,
                      size_t tmp_size)
{
	for (int i = 0; i < TMP_TRIES; i++) {
		uint8_t r[6];
		int n, fd;

		if (RAND_bytes(r, sizeof r) != 1)
			return -EIO;
		n = snprintf(tmp, tmp_size, "%.*s.%s.%02x%02x%02x%02x%02x%02x", (int)dir_len, path,
		             base, r[0], r[1], r[2], r[3], r[4], r[5]);
		if (n < 0 || (size_t)n >= tmp_size)
			return -ENAMETOOLONG;
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
		          0600);
		if (fd >= 0 || errno != EEXIST)
			return fd >= 0 ? fd : -errno;
	}
	return -EEXIST;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int vault_write_private(const char *path, const void *data, size_t len, bool exclusive, char *err,
                        size_t err_size)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *slash, *base;
	size_t dir_len;
	int fd, rc;

	errbuf_set(err, err_size, "%s", "");
	if (path == NULL || (data == NULL && len > 0)) {
		errbuf_set(err, err_size, "vault_write_private: no path or no data");
		return -EINVAL;
	}
	slash = strrchr(path, '/');
	base = slash != NULL ? slash + 1 : path;
	dir_len = (size_t)(base - path);
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		errbuf_set(err, err_size, "%s: not a file name", path);
		return -EINVAL;
	}
	if (strlen(path) + 16 >= sizeof tmp) {
		errbuf_set(err, err_size, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	if (dir_len == 0)
		snprintf(dir, sizeof dir, ".");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(dir_len > 1 ? dir_len - 1 : 1), path);

	fd = create_tmp(path, dir_len, base, tmp, sizeof tmp);
	if (fd < 0) {
		errbuf_set(err, err_size, "cannot create a temporary file in %s: %s", dir,
		           strerror(-fd));
		return fd;
	}
	/* fchmod: a umask cannot widen 0600, but be explicit about the mode */
	rc = fchmod(fd, 0600) < 0 ? -errno : keep_owner(fd, path);
	if (rc == 0)
		rc = write_all(fd, data, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		errbuf_set(err, err_size, "cannot write %s: %s", tmp, strerror(-rc));
		unlink(tmp);
		return rc;
	}
	if (exclusive) {
		/* link() fails when path exists, even as a dangling symlink */
		rc = link(tmp, path) < 0 ? -errno : 0;
		unlink(tmp);
	} else {
		rc = rename(tmp, path) < 0 ? -errno : 0;
		if (rc < 0)
			unlink(tmp);
	}
	if (rc == -EEXIST) {
		errbuf_set(err, err_size, "%s already exists", path);
		return rc;
	}
	if (rc < 0) {
		errbuf_set(err, err_size, "cannot create %s: %s", path, strerror(-rc));
		return rc;
	}
	rc = sync_dir(dir);
	if (rc < 0)
		errbuf_set(err, err_size, "%s written, but syncing directory %s failed: %s", path,
		           dir, strerror(-rc));
	return rc;
}

/* ------------------------------------------------------------ master key */

int vault_master_load(const char *path, struct vault_master *m, char *err, size_t err_size)
{
	char *buf;
	size_t len;
	int rc;

	if (m != NULL)
		memset(m, 0, sizeof *m);
	rc = vault_read_private(path, MASTER_MAX_FILE, &buf, &len, err, err_size);
	if (rc < 0)
		return rc;
	rc = vault_master_parse(buf, len, path, m, err, err_size);
	vault_buf_free(buf, len);
	return rc;
}

/* ------------------------------------------------------------ passphrase */

/* Copy a passphrase from src into buf after the checks every source gets. */
static int take_passphrase(const char *src, size_t n, const char *what, char *buf, size_t *len,
                           char *err, size_t err_size)
{
	if (n == 0) {
		errbuf_set(err, err_size, "%s: the passphrase is empty", what);
		return -EINVAL;
	}
	if (n > VAULT_MAX_PASSPHRASE) {
		errbuf_set(err, err_size, "%s: the passphrase is longer than %d bytes", what,
		           VAULT_MAX_PASSPHRASE);
		return -EINVAL;
	}
	if (memchr(src, '\0', n) != NULL) {
		errbuf_set(err, err_size, "%s: the passphrase contains a NUL byte", what);
		return -EINVAL;
	}
	if (src != buf)
		memcpy(buf, src, n);
	buf[n] = '\0';
	*len = n;
	return 0;
}

int vault_passphrase(const char *file, const char *prompt, char *buf, size_t buf_size, size_t *len,
                     char *err, size_t err_size)
{
	const char *env;
	char what[PATH_MAX + 32];
	int rc;

	errbuf_set(err, err_size, "%s", "");
	if (len == NULL)
		return -EINVAL;
	*len = 0;
	if (buf == NULL || buf_size < VAULT_MAX_PASSPHRASE + 1) {
		errbuf_set(err, err_size, "passphrase buffer smaller than %d bytes",
		           VAULT_MAX_PASSPHRASE + 1);
		return -EINVAL;
	}
	buf[0] = '\0';
	if (file != NULL) {
		char *text;
		size_t text_len, n;
		const char *nl;

		rc = vault_read_private(file, PASSFILE_MAX_FILE, &text, &text_len, err, err_size);
		if (rc < 0)
			return rc;
		nl = memchr(text, '\n', text_len);
		n = nl != NULL ? (size_t)(nl - text) : text_len;
		if (n > 0 && text[n - 1] == '\r')
			n--;
		snprintf(what, sizeof what, "passphrase file %s", file);
		rc = take_passphrase(text, n, what, buf, len, err, err_size);
		vault_buf_free(text, text_len);
		return rc;
	}
	env = getenv(VAULT_ENV_PASSPHRASE);
	if (env != NULL)
		return take_passphrase(env, strlen(env),
		                       "environment variable " VAULT_ENV_PASSPHRASE, buf, len, err,
		                       err_size);
	if (prompt == NULL) {
		errbuf_set(err, err_size, "no passphrase: give a passphrase file or set %s",
		           VAULT_ENV_PASSPHRASE);
		return -ENOENT;
	}
	rc = vault_tty_read(prompt, buf, buf_size, len, err, err_size);
	if (rc == -ENXIO) {
		errbuf_set(
		        err, err_size,
		        "no passphrase: no passphrase file, %s is not set and there is no terminal",
		        VAULT_ENV_PASSPHRASE);
		return -ENOENT;
	}
	if (rc == 0)
		rc = take_passphrase(buf, *len, "terminal", buf, len, err, err_size);
	if (rc < 0) {
		OPENSSL_cleanse(buf, buf_size);
		*len = 0;
	}
	return rc;
}

static void tty_restore(int fd, const struct termios *old)
{
	while (tcsetattr(fd, TCSAFLUSH, old) < 0 && errno == EINTR)
		;
}

int vault_tty_read(const char *prompt, char *buf, size_t buf_size, size_t *len, char *err,
                   size_t err_size)
{
	struct termios old, quiet;
	bool newline = false, too_long = false;
	size_t n = 0;
	int fd, rc = 0;

	errbuf_set(err, err_size, "%s", "");
	if (len == NULL || buf == NULL || buf_size < 2)
		return -EINVAL;
	*len = 0;
	buf[0] = '\0';
	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		errbuf_set(err, err_size, "no terminal: /dev/tty: %s", strerror(errno));
		return -ENXIO;
	}
	if (tcgetattr(fd, &old) < 0) {
		errbuf_set(err, err_size, "no terminal: /dev/tty: %s", strerror(errno));
		close(fd);
		return -ENXIO;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	quiet.c_lflag |= ICANON | ECHONL; /* the Enter is still echoed */
	/* echo off before the prompt shows: nothing typed after it is echoed */
	if (tcsetattr(fd, TCSAFLUSH, &quiet) < 0) {
		errbuf_set(err, err_size, "cannot turn off the terminal's echo: %s",
		           strerror(errno));
		tty_restore(fd, &old); /* tcsetattr may have applied part of it */
		close(fd);
		return -EIO;
	}
	rc = prompt != NULL ? write_all(fd, prompt, strlen(prompt)) : 0;
	if (rc < 0) {
		errbuf_set(err, err_size, "cannot write to the terminal: %s", strerror(-rc));
		tty_restore(fd, &old);
		close(fd);
		return -EIO;
	}
	/* Byte by byte: canonical mode hands over one line at a time anyway,
	 * and nothing past the newline is consumed. */
	while (!newline) {
		char c;
		ssize_t r = read(fd, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			break;
		}
		if (r == 0)
			break; /* end of input (^D) */
		if (c == '\n')
			newline = true;
		else if (n < buf_size - 1)
			buf[n++] = c;
		else
			too_long = true; /* keep reading: the rest of the line must not leak */
		OPENSSL_cleanse(&c, 1);
	}
	tty_restore(fd, &old);
	if (!newline)
		(void)write_all(fd, "\n", 1); /* ECHONL did not echo one */
	close(fd);
	if (rc == 0 && too_long) {
		errbuf_set(err, err_size, "the line typed is longer than %zu bytes", buf_size - 1);
		rc = -EINVAL;
	} else if (rc < 0) {
		errbuf_set(err, err_size, "cannot read from the terminal: %s", strerror(-rc));
	}
	if (rc < 0) {
		OPENSSL_cleanse(buf, buf_size);
		return rc;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	return 0;
}
