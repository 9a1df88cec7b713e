/* publish:jsonl — the output file (jsonl_file.h). */
#include "jsonl_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"

/* Lines gathered before they are written without waiting for the commit. */
#define WRITE_AT (1u << 20)
/* While writing fails, at most this much waits in memory; then documents are refused. */
#define MAX_WAITING (64u << 20)

char *jf_name(const char *path, long i)
{
	char *s = NULL;
	if (i == 0)
		return strdup(path);
	return asprintf(&s, "%s.%ld", path, i) < 0 ? NULL : s;
}

/* Cut a torn last line (a crash in the middle of a write): what follows the last newline. */
static int cut_torn_tail(struct jf *f, struct stat *st)
{
	off_t size = st->st_size, end = size;
	char buf[4096];
	while (end > 0) {
		size_t n = end < (off_t)sizeof(buf) ? (size_t)end : sizeof(buf);
		ssize_t r = pread(f->fd, buf, n, end - (off_t)n);
		if (r != (ssize_t)n)
			return r < 0 ? -errno : -EIO;
		char *nl = memrchr(buf, '\n', n);
		if (nl) {
			end = end - (off_t)n + (nl - buf) + 1;
			break;
		}
		end -= (off_t)n;
	}
	if (end == size)
		return 0;
	if (ftruncate(f->fd, end) < 0)
		return -errno;
	fm_notice(f->host, f->inst, "%s: cut %lld bytes of a line torn by a crash (its document "
	          "is written again)", f->path, (long long)(size - end));
	st->st_size = end;
	return 0;
}

int jf_open(struct jf *f)
{
	f->fd = open(f->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
	if (f->fd < 0 && errno == ENOENT && fm_make_parent_dirs(f->path) == 0)
		f->fd = open(f->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
	if (f->fd < 0) {
		int rc = -errno;
		fm_err(f->host, f->inst, "cannot open %s: %s", f->path, strerror(-rc));
		return rc;
	}
	struct stat st;
	int rc = fstat(f->fd, &st) < 0 ? -errno : 0;
	if (rc == 0 && !S_ISREG(st.st_mode))
		rc = -EINVAL;
	if (rc == 0)
		rc = cut_torn_tail(f, &st);
	if (rc < 0) {
		fm_err(f->host, f->inst, "cannot use %s: %s", f->path,
		       rc == -EINVAL ? "not a regular file" : strerror(-rc));
		close(f->fd);
		f->fd = -1;
		return rc;
	}
	f->ino = st.st_ino;
	f->size = (uint64_t)st.st_size;
	return 0;
}

int jf_take(struct jf *f, const char *line, size_t n)
{
	if (f->failing && f->pending.len + n > MAX_WAITING)
		return -ENOSPC;
	size_t before = f->pending.len;
	fm_buf_append(&f->pending, line, n);
	if (f->pending.oom) {
		/* what waits already stays; this line is refused (delivered again) */
		f->pending.oom = false;
		fm_buf_truncate(&f->pending, before);
		return -ENOMEM;
	}
	if (f->pending.len >= WRITE_AT && !f->failing) {
		bool rotated;
		jf_write(f, &rotated);
	}
	return 0;
}

/* Oldest first, so that every file keeps one name at every moment. The numbers run from 1
 * to the first gap. */
static int shift_rotated(struct jf *f, long *count)
{
	long n = 0;
	for (;;) {
		char *name = jf_name(f->path, n + 1);
		if (!name)
			return -ENOMEM;
		bool there = access(name, F_OK) == 0;
		free(name);
		if (!there)
			break;
		n++;
	}
	for (long i = n; i >= 1; i--) {
		char *from = jf_name(f->path, i), *to = jf_name(f->path, i + 1);
		int rc = from && to ? (rename(from, to) == 0 ? 0 : -errno) : -ENOMEM;
		free(from);
		free(to);
		if (rc < 0)
			return rc;
	}
	*count = n + 1;
	return 0;
}

/* The retention: rotated files past PATH.keep go, each said at notice level. */
static void apply_retention(struct jf *f, long count)
{
	if (f->keep <= 0)
		return;
	for (long i = f->keep + 1; i <= count; i++) {
		char *name = jf_name(f->path, i);
		if (!name)
			return;
		if (unlink(name) == 0)
			fm_notice(f->host, f->inst, "removed %s: keep = %ld rotated files", name,
			          f->keep);
		else if (errno != ENOENT)
			fm_warn(f->host, f->inst, "cannot remove %s: %s", name, strerror(errno));
		free(name);
	}
}

static int rotate(struct jf *f)
{
	if (f->fsync && fdatasync(f->fd) < 0)
		return -errno;
	long count = 0;
	int rc = shift_rotated(f, &count);
	char *first = rc == 0 ? jf_name(f->path, 1) : NULL;
	if (rc == 0 && !first)
		rc = -ENOMEM;
	if (rc == 0 && rename(f->path, first) < 0)
		rc = -errno;
	free(first);
	if (rc < 0)
		return rc;
	close(f->fd);
	f->fd = -1;
	if ((rc = jf_open(f)) < 0)
		return rc;
	if (f->fsync)
		fm_fsync_dir(f->path);
	f->rotations++;
	f->host->count(f->inst, "rotated", 1);
	fm_info(f->host, f->inst, "rotated %s (%ld rotated files)", f->path, count);
	apply_retention(f, count);
	return 0;
}

static void failed(struct jf *f, const char *what, int rc)
{
	fm_err(f->host, f->inst, "cannot %s %s: %s; %zu bytes of documents wait, retrying", what,
	       f->path, strerror(-rc), f->pending.len);
	f->host->count(f->inst, "write_errors", 1);
	f->failing = true;
}

int jf_write(struct jf *f, bool *rotated)
{
	*rotated = false;
	if (!f->pending.len)
		return 0;
	if (f->fd < 0) {
		int rc = jf_open(f);
		if (rc < 0) {
			f->failing = true;
			return rc;
		}
	}
	int rc;
	if (f->max_size && f->size > 0 && f->size + f->pending.len > f->max_size) {
		if ((rc = rotate(f)) < 0) {
			failed(f, "rotate", rc);
			return rc;
		}
		*rotated = true;
	}
	rc = fm_write_all(f->fd, f->pending.data, f->pending.len);
	if (rc < 0) {
		/* keep the file whole lines: cut what part of it went out */
		if (ftruncate(f->fd, (off_t)f->size) < 0)
			fm_err(f->host, f->inst, "cannot cut a partial write of %s: %s", f->path,
			       strerror(errno));
		failed(f, "write", rc);
		return rc;
	}
	f->size += f->pending.len;
	fm_buf_truncate(&f->pending, 0);
	return 0;
}

int jf_commit(struct jf *f, bool *rotated)
{
	int rc = jf_write(f, rotated);
	if (rc < 0)
		return rc;
	if (f->fsync && f->fd >= 0 && fdatasync(f->fd) < 0) {
		rc = -errno;
		failed(f, "sync", rc);
		return rc;
	}
	if (f->failing)
		fm_notice(f->host, f->inst, "writing %s works again", f->path);
	f->failing = false;
	return 0;
}

void jf_close(struct jf *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	fm_buf_free(&f->pending);
}
