/*
 * A bounded set of document ids, remembered as 64-bit hashes (a collision among 10^6 ids has a
 * probability near 3e-8), evicting the oldest first once full. Used so a redelivered or
 * re-fetched document is not written twice.
 */
#ifndef FM_PUBLISH_IDSET_H
#define FM_PUBLISH_IDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fm_idset;

/* A set remembering at most cap ids (cap >= 1). NULL on OOM. */
struct fm_idset *fm_idset_new(size_t cap);
void fm_idset_free(struct fm_idset *s);
uint64_t fm_id_hash(const char *id, size_t len);
bool fm_idset_has(const struct fm_idset *s, uint64_t h);
/* Add (no-op when present); evicts the oldest when full. */
void fm_idset_add(struct fm_idset *s, uint64_t h);
size_t fm_idset_size(const struct fm_idset *s);
/* How many it holds at most. */
size_t fm_idset_capacity(const struct fm_idset *s);
/* The members, oldest first, into out (room for fm_idset_size()). Returns how many. */
size_t fm_idset_export(const struct fm_idset *s, uint64_t *out);

#endif
