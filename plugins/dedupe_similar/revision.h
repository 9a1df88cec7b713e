/*
 * dedupe_similar: what a reader sees of a document, as one number, so that a document that
 * comes again under the same id can be told apart: unchanged (a re-poll, a replay) or revised
 * (a correction, an update: it passes again as a new revision).
 *
 * A real change is one a reader sees: the words of the title or the text (letters and digits,
 * case folded for ASCII), or the canonical link (the caller mixes in its hash: canon.h drops
 * tracking parameters). Not a change: markup, whitespace, punctuation, and relative times a
 * page re-renders at every visit ("5 minutes ago", "2h ago", "just now").
 */
#ifndef DD_REVISION_H
#define DD_REVISION_H

#include <stddef.h>
#include <stdint.h>

/* What a reader sees of a document: the words of its title, and of its text given as the
 * sketch's word hashes (words[0..n), sketch.h; the text's first max_text bytes), relative
 * times left out. Never 0. */
uint64_t dd_revision_fp(const char *title, size_t tlen, const uint64_t *words, uint32_t n);

#endif
