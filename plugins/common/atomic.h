/*
 * Atomic file replacement for the publishers: write a temporary file beside the target
 * (".NAME.tmp" in the same directory, so rename() cannot cross file systems), optionally fsync
 * it, rename it over the target, then fsync the directory so the rename itself survives a
 * crash. Readers see the old file or the new one, never a partial one.
 */
#ifndef FM_PUBLISH_ATOMIC_H
#define FM_PUBLISH_ATOMIC_H

#include <stdbool.h>
#include <stddef.h>

/* Create (truncate) the temporary file for path. Returns an fd and sets *tmp (malloc'd name,
 * freed by commit/abort), or -errno. One writer per target is assumed (the publishers are
 * singletons). */
int fm_atomic_open(const char *path, char **tmp);
/* fsync (when sync), close, rename over path, fsync the directory (when sync). Frees tmp.
 * Returns 0 or -errno; on failure the temporary file is removed and path is untouched. */
int fm_atomic_commit(int fd, char *tmp, const char *path, bool sync);
/* Give up: close and remove the temporary file; frees tmp. */
void fm_atomic_abort(int fd, char *tmp);
/* write() all of buf, retrying on EINTR and short writes. Returns 0 or -errno (-EIO when the
 * device accepts nothing). */
int fm_write_all(int fd, const void *buf, size_t n);
/* The whole sequence for a buffer. Returns 0 or -errno. */
int fm_atomic_write(const char *path, const void *buf, size_t len, bool sync);
/* mkdir -p of the folder holding path (an output folder that does not exist yet is made,
 * as an operator expects). Returns 0 or -errno. */
int fm_make_parent_dirs(const char *path);
/* fsync the directory holding path. Returns 0 or -errno. */
int fm_fsync_dir(const char *path);

#endif
