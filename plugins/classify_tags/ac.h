/*
 * Aho–Corasick multi-pattern matcher over bytes.
 *
 * A. V. Aho and M. J. Corasick, "Efficient string matching: an aid to bibliographic search",
 * Communications of the ACM 18(6), 1975. One pass over the text finds every occurrence of every
 * pattern, whatever the number of patterns, so a rules file with thousands of keywords costs
 * about what one costs.
 *
 * The trie's edges live in one open-addressing hash table keyed by (node, byte) rather than a
 * 256-entry array per node: memory stays proportional to the patterns' total length. The root
 * keeps a full 256-entry table since most bytes of a text are read from it.
 */
#ifndef FM_CLASSIFY_AC_H
#define FM_CLASSIFY_AC_H

#include <stddef.h>
#include <stdint.h>

struct fm_ac;

/* Called for each occurrence: pattern id (as given to fm_ac_add) and the offset one past its
 * last byte in the text. Return non-zero to stop the scan. */
typedef int (*fm_ac_hit_fn)(void *arg, uint32_t pattern, size_t end);

/* An empty matcher, or NULL on OOM. */
struct fm_ac *fm_ac_new(void);
/* Add pattern bytes s[0..n) with the caller's id (n > 0). Before fm_ac_build only.
 * Returns 0 or -ENOMEM. */
int fm_ac_add(struct fm_ac *ac, const char *s, size_t n, uint32_t id);
/* Compute failure links; after this, fm_ac_add is refused. Returns 0 or -ENOMEM. */
int fm_ac_build(struct fm_ac *ac);
/* Report every occurrence in text[0..n). Returns the callback's non-zero value, else 0. */
int fm_ac_scan(const struct fm_ac *ac, const char *text, size_t n, fm_ac_hit_fn hit, void *arg);
size_t fm_ac_patterns(const struct fm_ac *ac);
void fm_ac_free(struct fm_ac *ac);

#endif
