/* Small helpers the core modules share: clocks, paths, files. */
#ifndef FM_CORE_UTIL_H
#define FM_CORE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int64_t fm_now_ms(void);       /* wall clock, ms since the epoch */
int64_t fm_monotonic_ms(void); /* monotonic clock, ms */

/* Have the heap hold at least `bytes` more, mapped now in one call instead of a page fault a
 * page as it first fills, and keep what it grows to (util.c says why). No-op where the C
 * library or the kernel cannot. */
void fm_heap_prefault(size_t bytes);

/* mkdir -p; 0 or -errno. */
int fm_mkdirs(const char *path, unsigned mode);
/* rm -rf of a directory the project created (temporary state); 0 or -errno. */
int fm_remove_tree(const char *path);
/* Join dir and name ("a" + "b" -> "a/b"; an absolute name is returned as is). Caller frees. */
char *fm_path_join(const char *dir, const char *name);
/* path with "." and "dir/.." parts folded away, lexically ("a/b/../../c" -> "c"); leading
 * ".." of a relative path stay. For messages: symbolic links are not resolved. Caller frees. */
char *fm_path_tidy(const char *path);
/* Directory part of path ("." when none). Caller frees. */
char *fm_path_dirname(const char *path);
/* Read a whole file (NUL-terminated), at most max bytes; -EFBIG past that. Caller frees. */
int fm_read_file(const char *path, size_t max, char **data, size_t *len);
/* The same from an open descriptor, read to its end; fd stays open (the caller closes it). */
int fm_read_fd(int fd, size_t max, char **data, size_t *len);
/* Write a file atomically: temp file in the same directory, fsync, rename. 0 or -errno. */
int fm_write_file_atomic(const char *path, const void *data, size_t len);
/* The directory holding the running executable (from /proc/self/exe). Caller frees. */
char *fm_exe_dir(void);
/* Format an RFC 3339 UTC timestamp from ms since the epoch into buf (>= 25 bytes). */
void fm_format_time(int64_t ms, char *buf, size_t size);
/* "tcp://host:PORT" -> "tcp://host:PORT+1": a remote stage's results endpoint. Caller frees;
 * NULL when ep has no port. */
char *fm_endpoint_next_port(const char *ep);
/* Take an exclusive lock on dir/name (flock; the file is created), waiting up to wait_ms for
 * whoever holds it, logging once that it waits for `what`. Returns the descriptor holding the
 * lock (close it to release; it is not inherited across exec), -EWOULDBLOCK when still held
 * after wait_ms, or another -errno. */
int fm_lock_file(const char *dir, const char *name, int64_t wait_ms, const char *what);

/* Copy a URL for logs with any user:password@ removed. Caller frees. */
char *fm_redact_url(const char *url);

#endif
