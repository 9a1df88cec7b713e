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

static inline bool is_word_cp(uint32_t cp)
{
	if (cp < 0x80)
		return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
	if (cp == 0xfffd)
		return false;
	return uc_is_general_category(cp, UC_CATEGORY_L) || uc_is_general_category(cp, UC_CATEGORY_N) ||
	       uc_is_general_category(cp, UC_CATEGORY_M);
}

static bool is_upper_cp(uint32_t cp)
{
	if (cp < 0x80)
		return cp >= 'A' && cp <= 'Z';
	return uc_is_upper(cp);
}

static bool is_digit_cp(uint32_t cp)
{
	if (cp < 0x80)
		return cp >= '0' && cp <= '9';
	return uc_is_general_category(cp, UC_CATEGORY_Nd);
}

static uint32_t lower_cp(uint32_t cp)
{
	if (cp < 0x80)
		return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
	return uc_tolower(cp);
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

static int take_word(struct dd_sketch *sk, struct tok_state *st, uint64_t h, bool cap,
                     bool all_caps, bool digit)
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

int dd_sketch_text(struct dd_sketch *sk, const char *text, size_t len, size_t max_text)
{
	sk->fp = 0;
	sk->nwords = sk->nsamples = sk->nanchors = 0;
	if (!text)
		return 0;
	if (max_text && len > max_text)
		len = max_text; /* a cut inside a sequence decodes as U+FFFD: a separator */
	const unsigned char *s = (const unsigned char *)text;
	struct tok_state st = {0, 0, 0, false, true};
	size_t i = 0;
	bool in_word = false, cap = false, all_caps = true, digit = false;
	uint64_t h = FNV_OFF;
	uint32_t nchars = 0;
	while (i < len) {
		uint32_t cp;
		size_t k;
		unsigned char b = s[i];
		/* ASCII letters and digits: the common case, without the Unicode tables */
		if (b < 0x80 && in_word &&
		    ((unsigned)((b | 0x20) - 'a') < 26u || (unsigned)(b - '0') < 10u)) {
			if ((unsigned)(b - 'A') < 26u)
				b |= 0x20;
			else if ((unsigned)(b - '0') < 10u)
				digit = true;
			else
				all_caps = false;
			h = (h ^ b) * FNV_PRIME;
			nchars++;
			i++;
			continue;
		}
		k = utf8_next(s + i, len - i, &cp);
		bool wc = is_word_cp(cp);
		if (wc && is_unspaced(cp)) {
			if (in_word && take_word(sk, &st, h, cap, all_caps && nchars > 1, digit) < 0)
				return -ENOMEM;
			in_word = false;
			uint64_t hh = (FNV_OFF ^ cp) * FNV_PRIME;
			if (take_word(sk, &st, hh, false, false, false) < 0)
				return -ENOMEM;
			i += k;
			continue;
		}
		if (wc) {
			if (!in_word) {
				in_word = true;
				h = FNV_OFF;
				nchars = 0;
				cap = is_upper_cp(cp);
				all_caps = true;
				digit = false;
			}
			if (!is_upper_cp(cp) && !is_digit_cp(cp))
				all_caps = false;
			if (is_digit_cp(cp))
				digit = true;
			h = (h ^ lower_cp(cp)) * FNV_PRIME;
			nchars++;
			i += k;
			continue;
		}
		if (in_word && (cp == '\'' || cp == 0x2019) && i + k < len) {
			uint32_t nx;
			utf8_next(s + i + k, len - i - k, &nx);
			if (is_word_cp(nx) && !is_unspaced(nx)) {
				h = (h ^ '\'') * FNV_PRIME;
				i += k;
				continue;
			}
		}
		if (in_word) {
			if (take_word(sk, &st, h, cap, all_caps && nchars > 1, digit) < 0)
				return -ENOMEM;
			in_word = false;
		}
		if (is_sentence_break(cp))
			st.sentence_start = true;
		i += k;
	}
	if (in_word && take_word(sk, &st, h, cap, all_caps && nchars > 1, digit) < 0)
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
	memset(sk, 0, sizeof(*sk));
}
