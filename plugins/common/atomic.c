#include "atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p */
static int make_dirs(char *dir)
{
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int rc = mkdir(dir, 0755);
		*p = '/';
		if (rc != 0 && errno != EEXIST)
			return -errno;
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int fm_make_parent_dirs(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash || slash == path)
		return 0;
	char *dir = strndup(path, (size_t)(slash - path));
	int rc = dir ? make_dirs(dir) : -ENOMEM;
	free(dir);
	return rc;
}

int fm_atomic_open(const char *path, char **tmp)
{
	/* ".NAME.tmp" beside NAME: hidden, so a web server listing the folder skips it. */
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
	char *name = NULL;
	if (asprintf(&name, "%.*s.%s.tmp", (int)dirlen, path, path + dirlen) < 0)
		return -ENOMEM;
	int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ENOENT && dirlen > 1) {
		/* An output folder that does not exist yet is made, as an operator expects. */
		char *dir = strndup(path, dirlen - 1);
		if (dir && make_dirs(dir) == 0)
			fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		free(dir);
	}
	if (fd < 0) {
		int e = -errno;
		free(name);
		return e;
	}
	*tmp = name;
	return fd;
}

int fm_fsync_dir(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	int rc = 0;
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	return rc;
}

int fm_atomic_commit(int fd, char *tmp, const char *path, bool sync)
{
	int rc = 0;
	if (sync && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno; /* NFS reports write errors at close */
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	else if (sync)
		rc = fm_fsync_dir(path);
	free(tmp);
	return rc;
}

void fm_atomic_abort(int fd, char *tmp)
{
	if (fd >= 0)
		close(fd);
	if (tmp)
		unlink(tmp);
	free(tmp);
}

int fm_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int fm_atomic_write(const char *path, const void *buf, size_t len, bool sync)
{
	char *tmp;
	int fd = fm_atomic_open(path, &tmp);
	if (fd < 0)
		return fd;
	int rc = fm_write_all(fd, buf, len);
	if (rc < 0) {
		fm_atomic_abort(fd, tmp);
		return rc;
	}
	return fm_atomic_commit(fd, tmp, path, sync);
}
