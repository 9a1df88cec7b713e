/*
 * Per-source boilerplate learning.
 *
 * Blocks (paragraphs, list items, headings) that recur verbatim in many documents of the same
 * source are boilerplate: a scraper's banner and dateline, "Source link", a comment-form
 * footer, a fixed "Source: ... and news agencies" line. This is the site-level idea of
 * Bar-Yossef & Rajagopalan ("Template detection via data mining and its applications",
 * WWW 2002) and of Yi, Liu & Li ("Eliminating noisy information in web pages for data mining",
 * KDD 2003), applied to a stream: we count, per source, in how many documents each block's
 * fingerprint appeared; once it has been seen in `min_docs` documents it is stripped.
 *
 * Bounded: at most max_sources sources (least recently used evicted) and max_entries
 * fingerprints per source (when full, the least frequent and oldest half-quarter is evicted);
 * counts of fingerprints not seen for `window` documents of their source are forgotten.
 *
 * One learner belongs to one stage instance (single-threaded); the stage persists it to a file
 * per worker index, so several workers never write the same file.
 */
#ifndef FM_CLEAN_READABLE_BOILER_H
#define FM_CLEAN_READABLE_BOILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rd_boiler;

struct rd_boiler_opts {
	int max_sources;  /* sources remembered */
	int max_entries;  /* fingerprints per source */
	int min_docs;     /* a block seen in this many documents of a source is boilerplate */
	int window;       /* documents of a source after which an unseen fingerprint is dropped */
};

struct rd_boiler *rd_boiler_new(const struct rd_boiler_opts *o);
void rd_boiler_free(struct rd_boiler *b);

/* Fingerprint of a block's text: case-folded ASCII letters, numbers mapped to '0' (datelines
 * differ only by their numbers), everything else as one separator. */
uint64_t rd_boiler_hash(const char *s, size_t len);

/* The document the next rd_boiler_check_and_learn() reads (its id, else its URL; NULL: not
 * known). A document read again (re-polled, delivered again after a crash) counts once: its
 * own text never becomes boilerplate by coming often. */
void rd_boiler_set_document(struct rd_boiler *b, const char *key);

/* One document of `source`: is[i] is set true for each of the n fingerprints already learned
 * as boilerplate; then the document's distinct fingerprints are counted. Returns the number
 * of blocks flagged. source NULL or "": nothing is done (returns 0). */
int rd_boiler_check_and_learn(struct rd_boiler *b, const char *source, const uint64_t *fp,
                              size_t n, bool *is);

/* Number of sources / fingerprints held (for tests and counters). */
size_t rd_boiler_sources(const struct rd_boiler *b);
size_t rd_boiler_entries(const struct rd_boiler *b, const char *source);

/* Save to / load from a file (a small text format; written to a temporary file then
 * renamed, so a crash never leaves a half-written file). Return 0 or -errno. Loading a
 * missing file is not an error (returns -ENOENT, learner unchanged). A malformed line is
 * skipped. */
int rd_boiler_save(const struct rd_boiler *b, const char *path);
int rd_boiler_load(struct rd_boiler *b, const char *path);

#endif
