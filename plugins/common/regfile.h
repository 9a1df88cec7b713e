/*
 * Opening the files a plugin's options name (rules, models, outputs read back at start-up)
 * without being fooled by what is not a file: a FIFO named by mistake blocks open() and
 * read() until something writes to it (for ever, in `feedmill check`), a device may never end.
 */
#ifndef FM_KIT_REGFILE_H
#define FM_KIT_REGFILE_H

#include <sys/stat.h>

/* Open path read-only when it is a regular file: O_NONBLOCK, so that the open itself cannot
 * block, then fstat() of what was opened (no race with a file swapped in after a stat()).
 * Returns the descriptor, the caller's to close (O_NONBLOCK changes nothing for a regular
 * file), and fills *st when not NULL; or -errno, and -EINVAL when the file is not regular:
 * fm_file_kind(st) says what it is then. */
int fm_open_regular(const char *path, struct stat *st);

/* "a FIFO", "a directory", "a socket", "a device", "not a regular file": for messages. */
const char *fm_file_kind(const struct stat *st);

#endif
