/*
 * publish:jsonl — what was written: a bounded set of keys (a document's id, else its url,
 * with its revision), so that a document delivered again (after a crash, a worker lost) is
 * not written twice, and a real revision of it is written once.
 *
 * At start the set is rebuilt from what is on disk: a checkpoint in the state folder (the
 * keys, and which file and how many bytes of it they cover), written at each rotation and at
 * a clean stop, then the lines written after it. So a start reads at most the lines of one
 * file, not the whole output; without a usable checkpoint (the first start, a file moved
 * away) the files are read newest first until the set is full. The outputs stay the truth:
 * a checkpoint only saves reading them.
 */
#ifndef JSONL_SEEN_H
#define JSONL_SEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <feedmill/host.h>
#include <jansson.h>

#include "jsonl_file.h"

/* The key of a document: its id (else its url) with its revision; 0 when it has neither. */
uint64_t jsonl_doc_key(const json_t *doc);
/* The same of a written line; 0 when it has neither or is not JSON. */
uint64_t jsonl_line_key(const char *s, size_t n);

struct fm_idset;

/* Rebuild set from checkpoint (a path, may not exist) and the files of f (opened). Returns
 * 0 or -errno (logged). */
int jsonl_seen_load(struct fm_idset *set, const char *checkpoint, const struct jf *f,
                    long keep);
/* Save set as the checkpoint of f as it stands (atomically). 0 or -errno (logged). */
int jsonl_seen_save(const struct fm_idset *set, const char *checkpoint, const struct jf *f);

#endif
