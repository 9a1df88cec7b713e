/*
 * Text normalisation for keyword matching.
 *
 * Both the keywords of a rules file and the document fields go through fm_fold, so matching is
 * a plain byte comparison afterwards: full Unicode case folding (libunistring u8_casefold, NFC
 * output, so "STRASSE" matches "straße" and a decomposed "é" matches a precomposed one), and
 * every run of Unicode white space becomes one ASCII space, so a phrase matches across line
 * breaks and double spaces. Pure-ASCII input takes a fast path with the same result.
 */
#ifndef FM_CLASSIFY_FOLD_H
#define FM_CLASSIFY_FOLD_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Replace the contents of out with the folded form of s[0..n) (UTF-8). Invalid UTF-8 is folded
 * byte by byte as ASCII (never fails on bad input). Returns 0, or -ENOMEM. */
int fm_fold(struct fm_buf *out, const char *s, size_t n);

/* Is the character starting at s[i] (i < n) / ending just before s[i] (i > 0) a word character
 * (Unicode letter or digit, or '_')? Used for whole-word boundaries. */
bool fm_word_char_at(const char *s, size_t n, size_t i);
bool fm_word_char_before(const char *s, size_t i);

/* The largest prefix length <= limit of s[0..n) that does not cut a UTF-8 sequence. */
size_t fm_utf8_cut(const char *s, size_t n, size_t limit);

#endif
