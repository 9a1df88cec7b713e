/*
 * Text helpers shared by the bundled plugins (clean, dedupe, classify): normalisation of
 * extracted text, UTF-8 repair, case folding, word iteration and a small language guesser.
 *
 * All strings are UTF-8. Functions returning char * return malloc'd memory the caller frees
 * (NULL only on OOM or NULL input).
 */
#ifndef FMKIT_TEXT_H
#define FMKIT_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Normalise text for the "text" field of a document:
 * - invalid UTF-8 sequences become U+FFFD; NUL and C0/C1 controls other than \t \n dropped;
 * - soft hyphen, zero-width space/joiners, word joiner, BOM and bidi marks removed;
 * - Unicode NFC;
 * - runs of horizontal whitespace (including NBSP and other Unicode spaces) become one space;
 *   a single line break becomes a space (FM_TEXT_KEEP_LINES keeps it as "\n");
 *   two or more line breaks (possibly with blanks between) become exactly one blank line
 *   ("\n\n"), i.e. the paragraph separator;
 * - leading and trailing whitespace of the text and of each line trimmed.
 * *out_len (may be NULL) receives the length. */
enum fm_text_flags {
	FM_TEXT_KEEP_LINES = 1u << 0, /* single '\n' kept as a line break */
	FM_TEXT_NO_NFC = 1u << 1,     /* skip NFC (input known to be normalised) */
	FM_TEXT_ONE_LINE = 1u << 2,   /* every line break becomes a space (titles, names) */
};
char *fm_text_normalize(const char *s, size_t len, unsigned flags, size_t *out_len);

/* true when s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool fm_text_utf8_valid(const char *s, size_t len);

/* A copy of s[0..len) with each invalid UTF-8 sequence replaced by U+FFFD and NUL bytes
 * dropped. */
char *fm_text_utf8_repair(const char *s, size_t len, size_t *out_len);

/* How well s[0..len) reads as UTF-8, to choose between it and a legacy charset:
 * FM_UTF8_VALID  every sequence is well-formed;
 * FM_UTF8_MOSTLY some are not, but no more of them than well-formed multi-byte sequences (a
 *                UTF-8 text with a few damaged bytes: keep it, replace the damage);
 * FM_UTF8_NOT    ill-formed sequences outnumber the well-formed multi-byte ones (a legacy
 *                charset's bytes, where a valid multi-byte sequence is a rare accident).
 * *invalid (may be NULL) receives the number of ill-formed subsequences, counted as
 * fm_text_utf8_replace replaces them. */
enum fm_utf8_fit { FM_UTF8_VALID, FM_UTF8_MOSTLY, FM_UTF8_NOT };
enum fm_utf8_fit fm_text_utf8_fit(const char *s, size_t len, size_t *invalid);

/* A copy of s[0..len) with each maximal subpart of an ill-formed UTF-8 subsequence replaced
 * by one U+FFFD: the Unicode Standard's recommended practice (chapter 3, "U+FFFD Substitution
 * of Maximal Subparts"), which is also what the WHATWG Encoding Standard's decoder does. So
 * "\xE2\x82" before an ASCII byte is one U+FFFD, "\xC0\xAF" two. Well-formed text is copied
 * unchanged; NUL bytes are dropped when drop_nul. *out_len and *replaced (either may be NULL)
 * receive the length and the number of replacements. Returns malloc'd text, NUL-terminated,
 * or NULL on OOM. (fm_text_utf8_repair, older, replaces each bad byte and always drops NUL.) */
char *fm_text_utf8_replace(const char *s, size_t len, bool drop_nul, size_t *out_len,
                           size_t *replaced);

/* Convert s[0..len) from the encoding iconv calls `from` to UTF-8 (NUL-terminated, malloc'd
 * into *out, *out_len bytes). A byte that does not decode (or a sequence cut at the end)
 * becomes U+FFFD and is counted in *bad (may be NULL). 0, -EINVAL when iconv does not know
 * the encoding, -ENOMEM. */
int fm_text_iconv_to_utf8(const char *from, const char *s, size_t len, char **out,
                          size_t *out_len, size_t *bad);

/* Decode one UTF-8 code point at s (n bytes available). Returns its length (1..4) and sets *cp;
 * on an invalid sequence returns 1 and sets *cp = 0xFFFD. n must be > 0. */
int fm_text_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Lower-cased (Unicode full case folding via libunistring u8_casefold, NFC) copy. */
char *fm_text_casefold(const char *s, size_t len, size_t *out_len);

/* Word iteration: a word is a maximal run of letters, digits and combining marks (Unicode
 * general categories L, N, M), the same notion as the \w+ of most regex engines. Call with
 * *pos = 0 first; returns true and sets [*start, *end) to the next word's byte range, advancing
 * *pos; false at the end. Does not allocate. */
bool fm_text_next_word(const char *s, size_t len, size_t *pos, size_t *start, size_t *end);

/* Count words (as fm_text_next_word) in s[0..len). */
size_t fm_text_count_words(const char *s, size_t len);

/* Guess the language of a text from its stopwords (en, de, fr, es, it, pt, nl, sv, da, no, fi,
 * pl, cs, ro, hu, tr, ru, uk) and, for non-Latin scripts, from the script (ru/uk by letters,
 * el, ar, he, zh, ja, ko, hi, th). Returns a static BCP 47 primary tag ("en"), or NULL when the
 * text is too short or no language is clearly ahead. Reads at most the first ~16 KB. */
const char *fm_text_detect_lang(const char *s, size_t len);

#endif
