/*
 * dedupe_similar: the text sketch of one document.
 *
 * The tokenizer here is specific to the sketches (it is not a general word splitter): words are
 * maximal runs of letters and digits, lower-cased, with an inner apostrophe kept (typographic
 * quotes folded to '), and every CJK / kana / hangul character a word of its own so that
 * unspaced scripts still give shingles.
 *
 * From the word sequence we take:
 *  - fp:       a 64-bit fingerprint of the whole normalised word sequence (exact copies,
 *              whatever the layout, quotes or blank lines);
 *  - samples:  the hashes of word 3-shingles that are 0 mod `rate`, in text order: rate is
 *              FM_DD_SAMPLE_MOD (4) for long texts, 2 or 1 for short ones, which would
 *              otherwise give too few samples to judge. Two sketches compare at the larger of
 *              their rates (a sample at rate 4 is one at rate 1 too). This is Broder's MOD_m sampling ("On the resemblance and
 *              containment of documents", 1997): unlike a fixed-size min-hash sketch it samples
 *              every document with the same rule, so the sample of an excerpt is a subset of the
 *              sample of the full text and containment is estimated without bias;
 *  - anchors:  hashes of consecutive pairs of "anchor" words (numbers and capitalised words
 *              that do not start a sentence: names). Synonym spinners replace common words and
 *              leave names and figures alone, the observation behind SpotSigs' choice of robust
 *              signatures (Theobald, Siddharth, Paepcke, "SpotSigs: robust and efficient near
 *              duplicate detection in large web collections", SIGIR 2008).
 */
#ifndef DD_SKETCH_H
#define DD_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#define FM_DD_SAMPLE_MOD 4u /* keep one shingle in 4 (by hash) */
#define FM_DD_DENSE_WORDS 240u /* below: one in 2; below half of it: every shingle */
#define FM_DD_MAX_ANCHORS 64u

#define DD_CP_CACHE 512u /* code points beyond ASCII whose classes are cached (a power of 2) */

struct dd_cpinfo {
	uint32_t cp;    /* the code point this entry holds */
	uint32_t lower; /* its lower case (word characters) */
	uint32_t flags; /* classes (sketch.c) */
};

struct dd_sketch {
	uint64_t fp;        /* fingerprint of the word sequence; 0 when there are no words */
	uint32_t nwords;    /* words read (within the max_text bound) */
	uint32_t nsamples;
	uint32_t nanchors;
	uint32_t rate;      /* 1, 2 or FM_DD_SAMPLE_MOD: samples are the shingles 0 mod rate */
	uint32_t *samples;  /* nsamples shingle hashes, text order (never 0) */
	uint32_t *anchors;  /* nanchors anchor-pair hashes, text order */
	uint64_t *words;    /* scratch: the word hashes of the last text */
	uint32_t samples_cap, anchors_cap, words_cap; /* the arrays are reused between documents */
	struct dd_cpinfo *cpcache; /* DD_CP_CACHE entries, allocated on first use */
};

/* Fill sk from text[0..len) (only the first max_text bytes are read; a cut inside a UTF-8
 * sequence is handled). text[len] must be readable: a NUL there (a C or jansson string)
 * spares the tokenizer a bound check a character. Buffers are reused. Returns 0 or -ENOMEM. */
int dd_sketch_text(struct dd_sketch *sk, const char *text, size_t len, size_t max_text);

void dd_sketch_free(struct dd_sketch *sk);

/* 64-bit mixer (the splitmix64 finaliser), exposed for the index's own hashing. */
static inline uint64_t dd_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* FNV-1a over bytes, then mixed: for ids, URLs, sources. */
uint64_t dd_hash_bytes(const void *p, size_t n, uint64_t seed);

#endif
