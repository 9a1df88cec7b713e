/*
 * publish:jsonl — the output file: whole lines appended, made durable on commit, rotated by
 * renames, old files removed only when a retention says so.
 *
 * Appending costs what is appended: lines taken are gathered in memory and written with one
 * write() (when a megabyte is gathered, or at commit), and a commit is that write plus an
 * fdatasync. A crash can leave the last line torn: at start the file is cut back to its last
 * newline (that line's document was not committed, so it is delivered again and written whole).
 *
 * Rotation, when the next write would take the file past max_size: the file is synced, then
 * PATH.N -> PATH.N+1 (oldest first) and PATH -> PATH.1, each a rename, and a new PATH is
 * created. Every line lives under exactly one name at every moment, so a crash anywhere in
 * between neither loses nor doubles a line (at worst the numbering has a gap, closed by the
 * next rotation). With keep = N the files past PATH.N are removed, each with a notice;
 * keep = 0 keeps them all.
 */
#ifndef JSONL_FILE_H
#define JSONL_FILE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <feedmill/host.h>

#include "buf.h"

struct jf {
	const fm_host *host;
	fm_instance *inst;
	const char *path;
	bool fsync;
	uint64_t max_size; /* 0: never rotate */
	long keep;         /* rotated files kept; 0: all */
	int fd;            /* appending, or -1 */
	ino_t ino;         /* the file's identity, for checkpoints */
	uint64_t size;     /* bytes in it */
	struct fm_buf pending; /* lines taken, not yet written */
	uint64_t rotations;
	bool failing;      /* the last write or sync failed: say when it works again */
};

/* Open (creating) the output, cutting a torn last line. 0 or -errno (logged). */
int jf_open(struct jf *f);
/* Take a whole line (with its newline). Written out once a megabyte waits. 0, or -errno
 * when it cannot be kept (out of memory, or the file has been failing and too much waits:
 * the caller refuses the document, to be delivered again). */
int jf_take(struct jf *f, const char *line, size_t n);
/* Write what waits (rotating first when it would pass max_size). 0 or -errno (logged; what
 * waits is kept). *rotated: a rotation happened. */
int jf_write(struct jf *f, bool *rotated);
/* Write what waits, then fdatasync when fsync is set. 0 or -errno (logged). */
int jf_commit(struct jf *f, bool *rotated);
void jf_close(struct jf *f);

/* "PATH.i" (i >= 1), or PATH for 0. Caller frees; NULL on OOM. */
char *jf_name(const char *path, long i);

#endif
