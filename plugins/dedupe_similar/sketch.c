/* dedupe_similar: tokenizer and sketches (see sketch.h for what and why). */
#include "sketch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <unicase.h>
#include <unictype.h>

#define FNV_OFF 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

uint64_t dd_hash_bytes(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *s = p;
	uint64_t h = FNV_OFF ^ seed;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= FNV_PRIME;
	}
	return dd_mix64(h);
}

/* Decode one UTF-8 sequence at s[0..n); returns its length (>= 1) and the code point, or
 * U+FFFD with length 1 for a malformed byte. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	size_t len;
	uint32_t v;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		v = c & 0x07;
	} else {
		*cp = 0xfffd;
		return 1;
	}
	if (len > n) {
		*cp = 0xfffd;
		return 1;
	}
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*cp = 0xfffd;
			return 1;
		}
		v = (v << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10ffff)) ||
	    (v >= 0xd800 && v <= 0xdfff)) {
		*cp = 0xfffd;
		return 1;
	}
	*cp = v;
	return len;
}

/* Scripts written without spaces: each character is a word of its own. */
static bool is_unspaced(uint32_t cp)
{
	return (cp >= 0x3040 && cp <= 0x30ff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
	       (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xac00 && cp <= 0xd7af) ||
	       (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x20000 && cp <= 0x2ffff);
}

/* Characters after which the next word starts a sentence (so its capital says nothing). */
static bool is_sentence_break(uint32_t cp)
{
	switch (cp) {
	case '.': case '!': case '?': case ':': case ';': case '\n': case '"': case '(':
	case '[': case 0x201c: case 0x2018: case 0x00ab: case 0x2026: case 0x2014:
	case 0x2022: case '*': case '|': case 0xbb:
		return true;
	default:
		return false;
	}
}

/* Byte classes for ASCII (the common case, decided without decoding): */
enum {
	A_ALNUM = 1,  /* a letter or digit: part of a word (lower-cased by | 0x20) */
	A_LOWER = 2,  /* not a capital nor a digit: the word is not all capitals */
	A_DIGIT = 4,  /* the word has a figure */
	A_BREAK = 8,  /* is_sentence_break() */
	A_HIGH = 16,  /* a UTF-8 lead or continuation byte: decode */
	A_APOS = 32,  /* ' (kept inside a word) */
};

static const uint8_t ascii_class[256] = {
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  8,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  8,  8,  0,  0,  0,  0, 32,  8,  0,  8,  0,  0,  0,  8,  0,
	 5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  8,  8,  0,  0,  0,  8,
	 0,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,
	 1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  8,  0,  0,  0,  0,
	 0,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,
	 3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  0,  8,  0,  0,  0,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
};

/* The same classes for a decoded code point (beyond ASCII), from the Unicode tables. Letters,
 * numbers and marks are word characters. */
enum {
	C_WORD = 1, C_LOWER = 2, C_DIGIT = 4, C_BREAK = 8, C_UNSPACED = 16, C_UPPER = 32,
};

static struct dd_cpinfo cp_classify(uint32_t cp)
{
	struct dd_cpinfo ci = {cp, cp, 0};
	bool word = cp != 0xfffd && (uc_is_general_category(cp, UC_CATEGORY_L) ||
	                             uc_is_general_category(cp, UC_CATEGORY_N) ||
	                             uc_is_general_category(cp, UC_CATEGORY_M));
	if (word) {
		bool digit = uc_is_general_category(cp, UC_CATEGORY_Nd);
		ci.flags |= C_WORD;
		bool upper = uc_is_upper(cp);
		if (upper)
			ci.flags |= C_UPPER;
		if (digit)
			ci.flags |= C_DIGIT;
		else if (!upper)
			ci.flags |= C_LOWER;
		if (is_unspaced(cp))
			ci.flags |= C_UNSPACED;
		ci.lower = uc_tolower(cp);
	}
	if (is_sentence_break(cp))
		ci.flags |= C_BREAK;
	return ci;
}

/* Classes of code points beyond ASCII (never 0: an empty entry), through a small direct-mapped
 * cache: a text uses few
 * distinct ones (quotes, dashes, one alphabet), and the Unicode tables cost ~100 instructions
 * a look-up. */
static inline const struct dd_cpinfo *cp_info(struct dd_sketch *sk, uint32_t cp)
{
	struct dd_cpinfo *e = &sk->cpcache[cp & (DD_CP_CACHE - 1)];
	if (e->cp != cp)
		*e = cp_classify(cp);
	return e;
}

static int push_u32(uint32_t **arr, uint32_t *n, uint32_t *cap, uint32_t v)
{
	if (*n == *cap) {
		uint32_t nc = *cap ? *cap * 2 : 256;
		uint32_t *p = realloc(*arr, (size_t)nc * sizeof(**arr));
		if (!p)
			return -ENOMEM;
		*arr = p;
		*cap = nc;
	}
	(*arr)[(*n)++] = v;
	return 0;
}

struct tok_state {
	uint64_t w1, w2;        /* the two previous word hashes */
	uint64_t prev_anchor;
	bool have_anchor;
	bool sentence_start;
};

/* Inlined into its few callers: it runs once a word, and a call would spill the state. */
static inline __attribute__((always_inline)) int
take_word(struct dd_sketch *sk, struct tok_state *st, uint64_t h, bool cap, bool all_caps,
          bool digit)
{
	h = dd_mix64(h);
	sk->fp = dd_mix64(sk->fp ^ h) + 0x9e3779b97f4a7c15ULL;
	sk->nwords++;
	if (sk->nwords >= 3) {
		uint64_t s = dd_mix64(st->w2 * 0x9e3779b97f4a7c15ULL ^ (st->w1 << 1 | st->w1 >> 63) ^
		                      (h * 0xc2b2ae3d27d4eb4fULL));
		uint32_t v = (uint32_t)(s >> 32);
		if (v % FM_DD_SAMPLE_MOD == 0 || sk->nwords < FM_DD_DENSE_WORDS) {
			/* every shingle until it is clear the text is long; thinned in finish() */
			if (push_u32(&sk->samples, &sk->nsamples, &sk->samples_cap, v ? v : 1) < 0)
				return -ENOMEM;
		}
	}
	st->w2 = st->w1;
	st->w1 = h;
	bool anchor = digit || (cap && (!st->sentence_start || all_caps));
	if (anchor) {
		if (st->have_anchor && sk->nanchors < FM_DD_MAX_ANCHORS) {
			uint64_t a = dd_mix64(st->prev_anchor * 0xff51afd7ed558ccdULL ^ h);
			uint32_t v = (uint32_t)(a >> 32);
			if (push_u32(&sk->anchors, &sk->nanchors, &sk->anchors_cap, v ? v : 1) < 0)
				return -ENOMEM;
		}
		st->prev_anchor = h;
		st->have_anchor = true;
	}
	st->sentence_start = false;
	return 0;
}

/* The word in progress: its FNV-1a hash over lower-cased code points, and what its characters
 * were (A_LOWER / A_DIGIT, the same bits as C_LOWER / C_DIGIT). */
struct word {
	uint64_t h;
	uint32_t nchars;
	uint32_t seen;
	bool cap;
	bool on;
};

static inline __attribute__((always_inline)) int end_word(struct dd_sketch *sk, struct tok_state *st, struct word *w)
{
	if (!w->on)
		return 0;
	w->on = false;
	return take_word(sk, st, w->h, w->cap, !(w->seen & A_LOWER) && w->nchars > 1,
	                 (w->seen & A_DIGIT) != 0);
}

/* Whether the code point at s[0..n) continues a word after an apostrophe. */
static bool word_follows(struct dd_sketch *sk, const unsigned char *s, size_t n)
{
	if (s[0] < 0x80)
		return ascii_class[s[0]] & A_ALNUM;
	uint32_t cp;
	utf8_next(s, n, &cp);
	const struct dd_cpinfo *ci = cp_info(sk, cp);
	return (ci->flags & (C_WORD | C_UNSPACED)) == C_WORD;
}

int dd_sketch_text(struct dd_sketch *sk, const char *text, size_t len, size_t max_text)
{
	sk->fp = 0;
	sk->nwords = sk->nsamples = sk->nanchors = 0;
	if (!text)
		return 0;
	if (!sk->cpcache) {
		sk->cpcache = calloc(DD_CP_CACHE, sizeof(*sk->cpcache));
		if (!sk->cpcache)
			return -ENOMEM;
	}
	if (max_text && len > max_text)
		len = max_text; /* a cut inside a sequence decodes as U+FFFD: a separator */
	const unsigned char *s = (const unsigned char *)text;
	struct tok_state st = {0, 0, 0, false, true};
	struct word w = {FNV_OFF, 0, 0, false, false};
	size_t i = 0;
	while (i < len) {
		unsigned b = s[i];
		unsigned f = ascii_class[b];
		if (f & A_ALNUM) {
			/* the common case: a run of ASCII letters and digits, in one tight loop */
			if (!w.on) {
				w.on = true;
				w.h = FNV_OFF;
				w.nchars = 0;
				w.seen = 0;
				w.cap = !(f & (A_LOWER | A_DIGIT));
			}
			uint64_t h = w.h;
			uint32_t seen = w.seen;
			size_t start = i;
			do {
				seen |= f;
				h = (h ^ (b | 0x20)) * FNV_PRIME;
				if (++i == len)
					break;
				b = s[i];
				f = ascii_class[b];
			} while (f & A_ALNUM);
			w.h = h;
			w.seen = seen;
			w.nchars += (uint32_t)(i - start);
			continue;
		}
		if (!(f & A_HIGH)) {
			if ((f & A_APOS) && w.on && i + 1 < len && word_follows(sk, s + i + 1, len - i - 1)) {
				w.h = (w.h ^ '\'') * FNV_PRIME;
				i++;
				continue;
			}
			if (end_word(sk, &st, &w) < 0)
				return -ENOMEM;
			if (f & A_BREAK)
				st.sentence_start = true;
			i++;
			continue;
		}
		uint32_t cp;
		size_t k = utf8_next(s + i, len - i, &cp);
		const struct dd_cpinfo *ci = cp_info(sk, cp);
		unsigned cf = ci->flags;
		if ((cf & (C_WORD | C_UNSPACED)) == (C_WORD | C_UNSPACED)) {
			if (end_word(sk, &st, &w) < 0)
				return -ENOMEM;
			uint64_t hh = (FNV_OFF ^ cp) * FNV_PRIME;
			if (take_word(sk, &st, hh, false, false, false) < 0)
				return -ENOMEM;
			i += k;
			continue;
		}
		if (cf & C_WORD) {
			if (!w.on) {
				w.on = true;
				w.h = FNV_OFF;
				w.nchars = 0;
				w.seen = 0;
				w.cap = (cf & C_UPPER) != 0;
			}
			w.seen |= cf & (C_LOWER | C_DIGIT);
			w.h = (w.h ^ ci->lower) * FNV_PRIME;
			w.nchars++;
			i += k;
			continue;
		}
		if (cp == 0x2019 && w.on && i + k < len && word_follows(sk, s + i + k, len - i - k)) {
			w.h = (w.h ^ '\'') * FNV_PRIME;
			i += k;
			continue;
		}
		if (end_word(sk, &st, &w) < 0)
			return -ENOMEM;
		if (cf & C_BREAK)
			st.sentence_start = true;
		i += k;
	}
	if (end_word(sk, &st, &w) < 0)
		return -ENOMEM;
	/* short texts keep a denser sample: one in 4 shingles of 60 words is too little evidence */
	sk->rate = sk->nwords < FM_DD_DENSE_WORDS / 2 ? 1 : sk->nwords < FM_DD_DENSE_WORDS ? 2 : 4;
	uint32_t k = 0;
	for (uint32_t j = 0; j < sk->nsamples; j++)
		if (sk->samples[j] % sk->rate == 0)
			sk->samples[k++] = sk->samples[j];
	sk->nsamples = k;
	if (sk->nwords == 0)
		sk->fp = 0;
	else if (sk->fp == 0)
		sk->fp = 1;
	return 0;
}

void dd_sketch_free(struct dd_sketch *sk)
{
	free(sk->samples);
	free(sk->anchors);
	free(sk->cpcache);
	memset(sk, 0, sizeof(*sk));
}
