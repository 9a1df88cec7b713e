/*
 * dedupe_similar: the index on disk, so that a restart still knows the stories of the window.
 *
 * File "index.fmdd" in the stage's state directory, written whole to a temporary file in the
 * same directory, fsync'd, then renamed over the old one (a crash leaves the old or the new
 * file, never half of one). Format version 2, little-endian:
 *
 *   "FMDEDUP\n" u32 version u32 revfp_version u64 next_seq i64 newest_ms u32 nclusters
 *   u32 nslots
 *   nclusters x { str key; u64 seq; u32 nsources; nsources x str }          str = u32 len + bytes
 *   nslots x { u64 seq; i64 time_ms; u32 cluster; u64 idkey; u64 urlkey; u64 fp;
 *              u32 nsamples; u32 nanchors; u32 rate; u64 srckey; u64 revfp; u32 rev; u32 flags;
 *              (nsamples + nanchors) x u32 }                                      oldest first
 *   u64 checksum (FNV-1a, mixed, of all the bytes before it)
 *
 * The posting lists are not stored: they are rebuilt from the slots on load. flags keeps
 * DD_ACKED and DD_DUP (index.h): a document whose delivery was in flight is saved tentative,
 * so that, passed again after a crash, it is a replay and not "already seen". Version 1 (no
 * srckey, revfp, rev, flags) is read as settled documents of revision 1 from an unknown source.
 */
#ifndef DD_STATE_H
#define DD_STATE_H

#include <stddef.h>

#include "index.h"

#define DD_STATE_FILE "index.fmdd"
#define DD_STATE_VERSION 2u /* 1 is still read */
/* How revfp is computed (revision.h). A file of another one keeps its documents, but their
 * fingerprints are forgotten (the next copy of each is recorded, not taken for a revision):
 * else an upgrade would publish every re-polled item again. */
#define DD_REVFP_VERSION 1u

/* Write ix to dir/DD_STATE_FILE atomically. Returns 0 or a negative errno (err says why). */
int dd_state_save(const struct dd_index *ix, const char *dir, char *err, size_t errlen);

/* Load dir/DD_STATE_FILE into the empty ix. Returns 0 (also when there is no file: *found is
 * then 0), or -EINVAL for a corrupt or foreign file (ix is left empty, err says why), or
 * another negative errno. */
int dd_state_load(struct dd_index *ix, const char *dir, int *found, char *err, size_t errlen);

#endif
