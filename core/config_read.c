/*
 * config_read.c — reading the configuration files safely.
 *
 * libconfig 1.5 calls exit() when its scanner is handed a directory, as the
 * main file or through @include: every file is opened and fstat'ed first
 * and anything not regular refused (O_NONBLOCK, so a FIFO cannot hang us
 * either).  Also here: listing conf.d, and parsing one file into its
 * config_t after the pre-scan (config_scan.c).
 */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_int.h"

/*
 * Read a file about to be given to libconfig.  Returns 1 with the text,
 * 0 when an @include target cannot be opened (libconfig reports that
 * itself), -1 after reporting an error.  Only regular files pass: opening
 * with O_NONBLOCK means a FIFO cannot hang us either.
 */
int cfg_read_text(struct loader *ld, const char *name, const char *open_path, const char *ctx_file,
                  int ctx_line, char **text, size_t *len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd;

#define READ_ERR(...)                                                                          \
	do {                                                                                   \
		char m_[512];                                                                  \
		snprintf(m_, sizeof(m_), __VA_ARGS__);                                         \
		if (ctx_file != NULL)                                                          \
			cfg_err_file(ld, ctx_file, ctx_line, "@include \"%s\": %s", name, m_); \
		else                                                                           \
			cfg_err_file(ld, name, 0, "%s", m_);                                   \
	} while (0)

	fd = open(open_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (ctx_file != NULL)
			return 0;
		READ_ERR("cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		READ_ERR("cannot stat: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		READ_ERR("not a regular file");
		close(fd);
		return -1;
	}
	if (st.st_size > PGS_CONFIG_MAX_FILE_SIZE) {
		READ_ERR("file too large (%lld bytes, the limit is %d)", (long long)st.st_size,
		         PGS_CONFIG_MAX_FILE_SIZE);
		close(fd);
		return -1;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		ld->oom = true;
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			READ_ERR("cannot read: %s", strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*text = buf;
	*len = got;
	return 1;
#undef READ_ERR
}

/* ------------------------------------------------------------ conf.d */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files conf.d/[!.]*.conf beside the main file, sorted with
 * strcmp, as paths "DIR/conf.d/NAME".  A missing conf.d is fine. */
char **cfg_list_confd(struct loader *ld, size_t *count)
{
	char *dirpath = cfg_join_path(ld, ld->dir, "conf.d");
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d;

	*count = 0;
	if (dirpath == NULL)
		return NULL;
	d = opendir(dirpath);
	if (d == NULL) {
		if (errno != ENOENT)
			cfg_err_file(ld, dirpath, 0, "cannot read the directory: %s",
			             strerror(errno));
		free(dirpath);
		return NULL;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		struct stat st;
		char *full;

		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		full = cfg_join_path(ld, dirpath, de->d_name);
		if (full == NULL)
			break;
		if (stat(full, &st) < 0) {
			cfg_err_file(ld, full, 0, "cannot stat: %s", strerror(errno));
			free(full);
			continue;
		}
		if (!S_ISREG(st.st_mode)) { /* e.g. a directory x.conf */
			free(full);
			continue;
		}
		if (n == cap) {
			char **nn;

			cap = cap ? cap * 2 : 16;
			nn = realloc(names, cap * sizeof(*names));
			if (nn == NULL) {
				ld->oom = true;
				free(full);
				break;
			}
			names = nn;
		}
		names[n++] = full;
	}
	closedir(d);
	free(dirpath);
	if (ld->oom) {
		for (i = 0; i < n; i++)
			free(names[i]);
		free(names);
		return NULL;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	*count = n;
	return names;
}

/* The main file: present, readable and regular (never hand libconfig a
 * directory). */
bool cfg_is_regular_file(struct loader *ld, const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		cfg_err_file(ld, path, 0, "cannot open: %s", strerror(errno));
		return false;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		cfg_err_file(ld, path, 0, "not a regular file");
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

/* Pre-scan, parse and check one file; true if it parsed. */
bool cfg_parse_one(struct loader *ld, config_t *c, const char *path)
{
	char keypath[PATH_MAX + 64];

	if (!cfg_scan_file(ld, path, path, NULL, 0, 0)) {
		ld->unparsed = true;
		return false;
	}
	config_set_include_dir(c, ld->dir);
	if (config_read_file(c, path) != CONFIG_TRUE) {
		const char *f = config_error_file(c);

		if (config_error_type(c) == CONFIG_ERR_FILE_IO && f == NULL)
			cfg_err_file(ld, path, 0, "cannot read: %s",
			             config_error_text(c) ? config_error_text(c) : "I/O error");
		else
			cfg_err_file(ld, f ? f : path, config_error_line(c), "%s",
			             config_error_text(c) ? config_error_text(c) : "parse error");
		ld->unparsed = true;
		return false;
	}
	keypath[0] = '\0';
	cfg_check_strings(ld, config_root_setting(c), keypath, 0, sizeof(keypath), 0);
	return true;
}
