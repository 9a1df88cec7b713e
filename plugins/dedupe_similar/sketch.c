/* dedupe_similar: tokenizer and sketches (see sketch.h for what and why). */
#include "sketch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <unicase.h>
#include <unictype.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(DD_NO_AVX2)
#include <immintrin.h>
#define DD_AVX2 1 /* an AVX2 second pass, chosen at run time */
#endif

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
	A_ALNUM = 64, /* a letter or digit: part of a word (lower-cased by | 0x20) */
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
	68, 68, 68, 68, 68, 68, 68, 68, 68, 68,  8,  8,  0,  0,  0,  8,
	 0, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,  8,  0,  0,  0,  0,
	 0, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66,
	66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66,  0,  8,  0,  0,  0,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
};

/* For the run of a word, in one look-up: the lower-cased byte, then A_ALNUM >> 6 (1), A_LOWER
 * and A_DIGIT shifted left by 8. 0: not a letter or digit. */
static const uint16_t ascii_word[256] = {
	0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000,
	0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000,
	0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000,
	0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000,
	0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000,
	0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000,
	0x530, 0x531, 0x532, 0x533, 0x534, 0x535, 0x536, 0x537,
	0x538, 0x539, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000,
	0x000, 0x161, 0x162, 0x163, 0x164, 0x165, 0x166, 0x167,
	0x168, 0x169, 0x16a, 0x16b, 0x16c, 0x16d, 0x16e, 0x16f,
	0x170, 0x171, 0x172, 0x173, 0x174, 0x175, 0x176, 0x177,
	0x178, 0x179, 0x17a, 0x000, 0x000, 0x000, 0x000, 0x000,
	0x000, 0x361, 0x362, 0x363, 0x364, 0x365, 0x366, 0x367,
	0x368, 0x369, 0x36a, 0x36b, 0x36c, 0x36d, 0x36e, 0x36f,
	0x370, 0x371, 0x372, 0x373, 0x374, 0x375, 0x376, 0x377,
	0x378, 0x379, 0x37a, 0x000, 0x000, 0x000, 0x000, 0x000,
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

/*
 * Two passes. The tokenizer (first pass) only finds the words: it stores each word's FNV-1a
 * hash and notes which words are anchors; everything computed from the word hashes (the
 * fingerprint chain, the shingles, the anchor pairs) is done afterwards by tight loops over
 * the stored hashes (second pass). The per-word mixing then no longer competes with the
 * tokenizer for registers, and the sampling rate is known before a shingle is stored. The
 * values are those of a single pass: same hashes, same order.
 *
 * One exception: the fingerprint is a serial chain (each link a multiply-heavy mix of the
 * previous one, ~14 cycles a word) with little work to overlap it in the second pass, so the
 * tokenizer's fast path (below) takes it along, a link for each word it finds, and the
 * second pass only finishes it. Its latency then hides under the tokenizer's work.
 */

/* The tokenizer's state, a local the compiler keeps in registers (nothing takes its address
 * outside the inlined helpers below). */
struct tok {
	uint64_t *words;        /* FNV-1a hash of each word so far (room for every word) */
	uint32_t *aw;           /* indices of the first FM_DD_MAX_ANCHORS + 1 anchor words */
	uint32_t nwords, naw;
	bool sentence_start;
	/* the word in progress: FNV-1a over its lower-cased code points, and what its characters
	 * were (A_LOWER / A_DIGIT, the same bits as C_LOWER / C_DIGIT; W_CAP: it starts with a
	 * capital) */
	uint64_t h;
	uint32_t nchars;
	uint32_t seen;
	bool on;
	/* words[0..fpn) are mixed (dd_mix64, in place) and chained into the fingerprint fp: the
	 * fast path takes the chain along, a link a word (fp_link) */
	uint64_t fp;
	uint32_t fpn;
};

/* A link of the fingerprint chain: fp after the word of mixed hash h. */
static inline uint64_t fp_link(uint64_t fp, uint64_t h)
{
	return dd_mix64(fp ^ h) + 0x9e3779b97f4a7c15ULL;
}

#define W_CAP 0x100u

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE void end_word(struct tok *t)
{
	if (!t->on)
		return;
	t->on = false;
	t->words[t->nwords++] = t->h;
	/* an anchor: a word with a figure, or a capitalised one that does not start a sentence
	 * (unless all capitals: an acronym) */
	if (__builtin_expect((t->seen & (A_DIGIT | W_CAP)) != 0, 0)) {
		bool all_caps = !(t->seen & A_LOWER) && t->nchars > 1;
		if (((t->seen & A_DIGIT) || !t->sentence_start || all_caps) &&
		    t->naw <= FM_DD_MAX_ANCHORS)
			t->aw[t->naw++] = t->nwords - 1;
	}
	t->sentence_start = false;
}

/* A word of one character of an unspaced script (never an anchor). */
ALWAYS_INLINE void unspaced_word(struct tok *t, uint32_t cp)
{
	t->words[t->nwords++] = (FNV_OFF ^ cp) * FNV_PRIME;
	t->sentence_start = false;
}

ALWAYS_INLINE void start_word(struct tok *t, bool cap)
{
	t->on = true;
	t->h = FNV_OFF;
	t->nchars = 0;
	t->seen = cap ? W_CAP : 0;
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

/*
 * The fast path of the first pass (x86 with AVX2, chosen at run time). News text is mostly
 * short ASCII words between single spaces, and the byte-at-a-time loop below pays twice for
 * each: the FNV-1a chain of a word is serial (an xor and a multiply, ~4 cycles a letter) and
 * the branch that ends a word (or a run of separators) is mispredicted about once a word.
 * Here the bytes of 64-byte blocks are first classified at once into bit masks (letters,
 * digits, sentence breaks, and the bytes left to the general case), word boundaries are then
 * found with bit scans, and each word is hashed in whole 8-byte steps (one for a word of up
 * to 8 characters) with no branch on its length, so the out-of-order core overlaps the
 * chains of consecutive words.
 *
 * Only the plainest words are taken: ASCII letters and digits ended by an ASCII separator.
 * Anything that may change a word (an apostrophe, a byte beyond ASCII) or that is near an edge
 * (the end of the text, a word of 64 characters or more) is left to the general case, which
 * gives the same hashes and flags: the values do not depend on the path.
 */
#ifdef DD_AVX2
/* AVX2 (and POPCNT, which every CPU with AVX2 has), at run time */
static bool have_avx2(void)
{
	static int avx2 = -1; /* a benign race: every thread finds the same */
	if (avx2 < 0)
		avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
	return avx2;
}

struct dd_block {
	size_t base;    /* the masks are those of s[base..base + 64): bit k is byte base + k */
	uint64_t alnum; /* ASCII letters and digits */
	uint64_t brk;   /* ASCII sentence breaks (A_BREAK) */
	uint64_t stop;  /* left to the general case: bytes beyond ASCII, ', and past the end */
	/* at the byte after each word (as if it ended there): the word is an anchor (end_word)
	 * whatever, or if it does not start a sentence */
	uint64_t anchor, cap;
};

/* bytes whose value - lo is below n (unsigned), as 0xff: one signed compare after a shift of
 * the range to the bottom of the signed bytes */
__attribute__((target("avx2"))) static inline __m256i in_range(__m256i v, int lo, int n)
{
	return _mm256_cmpgt_epi8(_mm256_set1_epi8((char)(-128 + n)),
	                         _mm256_add_epi8(v, _mm256_set1_epi8((char)(128 - lo))));
}

/* The masks of 64 bytes at p. The breaks are looked up by nibbles (two pshufb, the "shufti"
 * scheme of Hyperscan: Wang et al., "Hyperscan: a fast multi-pattern regex matcher for modern
 * CPUs", NSDI 2019): each high nibble that has breaks gets a bit, and the low-nibble table
 * holds, for each low nibble, the bits of the high nibbles it makes a break with. */
__attribute__((target("avx2"), noinline)) static void classify_block_avx2(struct dd_block *bk,
                                                                          const unsigned char *p)
{
	/* breaks: \n (0x0a); ! " ( * . (0x21 0x22 0x28 0x2a 0x2e); : ; ? (0x3a 0x3b 0x3f);
	 * [ (0x5b); | (0x7c): high nibbles 0, 2, 3, 5, 7 get bits 1, 2, 4, 8, 16 */
	const __m256i hi_tab = _mm256_broadcastsi128_si256(_mm_setr_epi8(
		1, 0, 2, 4, 0, 8, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0));
	const __m256i lo_tab = _mm256_broadcastsi128_si256(_mm_setr_epi8(
		0, 2, 2, 0, 0, 0, 0, 0, 2, 0, 1 | 2 | 4, 4 | 8, 16, 0, 2, 4));
	const __m256i nib = _mm256_set1_epi8(0x0f), apos = _mm256_set1_epi8('\'');
	uint64_t upper = 0, lower = 0, digit = 0, nobrk = 0, stop = 0;
	for (int half = 0; half < 64; half += 32) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(p + half));
		__m256i b = _mm256_and_si256(_mm256_shuffle_epi8(lo_tab, _mm256_and_si256(v, nib)),
		                             _mm256_shuffle_epi8(hi_tab, _mm256_and_si256(
		                                     _mm256_srli_epi16(v, 4), nib)));
#define MASK(x) ((uint64_t)(uint32_t)_mm256_movemask_epi8(x) << half)
		upper |= MASK(in_range(v, 'A', 26));
		lower |= MASK(in_range(v, 'a', 26));
		digit |= MASK(in_range(v, '0', 10));
		nobrk |= MASK(_mm256_cmpeq_epi8(b, _mm256_setzero_si256()));
		stop |= MASK(_mm256_or_si256(v, _mm256_cmpeq_epi8(v, apos))); /* the top bits */
#undef MASK
	}
	uint64_t alnum = upper | lower | digit, start = alnum & ~(alnum << 1);
	/* What end_word needs of each word, moved to the byte after it by a carry: adding a
	 * word's start bit to its run of ones carries out just past its end (runs cut by the end
	 * of the block lose theirs, but the fast path leaves those words). Runs of letters without
	 * digits (without lower case) carry through all their length; the others stop short. */
	uint64_t y = alnum & ~digit;
	uint64_t no_digit = (y + (start & y)) & ~alnum;
	y = alnum & ~lower;
	uint64_t no_lower = (y + (start & y)) & ~alnum;
	uint64_t cap = (alnum + (start & upper)) & ~alnum;
	uint64_t single = (start & ~(alnum >> 1)) << 1; /* words of one character */
	bk->alnum = alnum;
	bk->brk = ~nobrk;
	bk->stop = stop;
	bk->anchor = ~no_digit | (cap & no_lower & ~single); /* a figure, or all capitals */
	bk->cap = cap;
}

/* The masks of s[i..i + 64), the bytes past len as stops (a copy at the end of the text). */
static void load_block(struct dd_block *bk, const unsigned char *s, size_t len, size_t i)
{
	bk->base = i;
	if (len - i >= 64) {
		classify_block_avx2(bk, s + i);
	} else {
		unsigned char tail[64];
		memset(tail, 0x80, sizeof(tail));
		memcpy(tail, s + i, len - i);
		classify_block_avx2(bk, tail);
	}
	if (i < 8) /* hash_ascii_word reads up to 7 bytes before a word: none before the text */
		bk->stop |= (1ULL << (8 - i)) - 1;
}

/* FNV_OFF * FNV_PRIME^-k mod 2^64 (FNV_PRIME is odd, so invertible): k steps over zero bytes
 * from here give FNV_OFF, so a word padded in front with k zeros hashes as the word alone. */
static const uint64_t fnv_unpad[8] = {
	0xcbf29ce484222325ULL, 0x1d10331a6b696bc7ULL, 0x4a7306d1919b9b9dULL, 0x28a87db36334256fULL,
	0x48c53059dd819755ULL, 0x78cbf7f761062ed7ULL, 0x8014b05b32d5a44dULL, 0xa9099b2f4a44c1ffULL,
};

/* FNV-1a of the n ASCII letters and digits that end at end, lower-cased (| 0x20: digits have
 * that bit already), in whole 8-byte steps: the word is read with the bytes before it up to a
 * multiple of 8 (which must be in the text), those are zeroed and the start value undoes them. */
ALWAYS_INLINE uint64_t hash_ascii_word(const unsigned char *end, uint32_t n)
{
	uint32_t pad = -n & 7;
	const unsigned char *p = end - n - pad;
	uint64_t h = fnv_unpad[pad], x;
	memcpy(&x, p, 8); /* little-endian: the first byte is the low one */
	x = (x | 0x2020202020202020ULL) & (~0ULL << (8 * pad));
	for (;;) {
#pragma GCC unroll 8
		for (int k = 0; k < 8; k++) {
			h = (h ^ (x & 0xff)) * FNV_PRIME;
			x >>= 8;
		}
		p += 8;
		if (p == end)
			return h;
		memcpy(&x, p, 8);
		x |= 0x2020202020202020ULL;
	}
}

/* From s[i] (no word in progress), the words the fast path takes, into t. Returns where the
 * general case goes on: len, a stop byte, or the start of a word it leaves (one that a stop
 * byte follows, or of 64 characters or more). */
ALWAYS_INLINE size_t fast_words(struct tok *t, struct dd_block *bk, const unsigned char *s,
                                size_t len, size_t i)
{
	uint64_t *wp = t->words + t->nwords, fp = t->fp;
	uint32_t fpn = t->fpn;
	bool ss = t->sentence_start;
	for (;;) {
		if (i - bk->base >= 64) {
			if (i >= len)
				break;
			load_block(bk, s, len, i);
		}
		/* the words of this block, its masks in registers */
		const unsigned char *p = s + bk->base;
		const uint64_t alnum = bk->alnum, stop = bk->stop, brk = bk->brk;
		unsigned off = (unsigned)(i - bk->base);
		bool leave = false;
		for (;;) {
			uint64_t next = (alnum | stop) >> off;
			if (!next) {
				/* separators to the end of the block (never in the last: its padding
				 * stops) */
				ss |= (brk >> off) != 0;
				off = 64;
				break;
			}
			unsigned k = (unsigned)__builtin_ctzll(next);
			ss |= ((brk >> off) & ((1ULL << k) - 1)) != 0;
			off += k;
			if (stop >> off & 1) {
				leave = true;
				break;
			}
			uint64_t rest = ~alnum >> off;
			if (!rest) {
				/* the word runs past the block: again from its start, unless it is
				 * that long */
				leave = off == 0;
				break;
			}
			unsigned n = (unsigned)__builtin_ctzll(rest), e = off + n;
			if (stop >> e & 1) {
				leave = true;
				break;
			}
			*wp++ = hash_ascii_word(p + e, n);
			/* a link of the fingerprint chain (for the oldest word not in it): a serial
			 * chain of ~14 cycles a word, overlapped here with the tokenizer's work */
			uint64_t mixed = dd_mix64(t->words[fpn]);
			t->words[fpn++] = mixed;
			fp = fp_link(fp, mixed);
			/* an anchor, without a branch: the array has room for one more */
			bool anchor = (bk->anchor >> e | (bk->cap >> e & !ss)) & 1;
			t->aw[t->naw] = (uint32_t)(wp - t->words) - 1;
			t->naw += anchor && t->naw <= FM_DD_MAX_ANCHORS;
			ss = false;
			off = e;
		}
		i = bk->base + off;
		if (leave)
			break;
		if (off < 64) /* a word across the end of the block: the block from its start */
			load_block(bk, s, len, i);
	}
	t->nwords = (uint32_t)(wp - t->words);
	t->fp = fp;
	t->fpn = fpn;
	t->sentence_start = ss;
	return i;
}
#else
struct dd_block {
	char unused;
};

ALWAYS_INLINE size_t fast_words(struct tok *t, struct dd_block *bk, const unsigned char *s,
                                size_t len, size_t i)
{
	(void)t, (void)bk, (void)s, (void)len;
	return i;
}
#endif

/* The words of s[0..len) into t. nul_end: s[len] is a NUL, which ends a run of letters by
 * itself (so the tight loop needs no bound check). bk: the fast path's block (NULL: none);
 * it is taken after ASCII separators, where no word is in progress. */
ALWAYS_INLINE void tokenize(struct dd_sketch *sk, struct tok *t, const unsigned char *s,
                            size_t len, bool nul_end, struct dd_block *bk)
{
	size_t i = 0;
	while (i < len) {
		unsigned b = s[i];
		unsigned f = ascii_class[b];
		if (f & A_ALNUM) {
		word:
			/* the common case: a run of ASCII letters and digits, in one tight loop */
			if (!t->on)
				start_word(t, !(f & (A_LOWER | A_DIGIT)));
			uint64_t h = t->h;
			uint32_t x = ascii_word[b], acc = 0;
			const unsigned char *p = s + i, *q = p, *last = s + len - 1;
			do {
				acc |= x;
				h = (h ^ (x & 0xff)) * FNV_PRIME;
				if (!nul_end && q == last) {
					q++;
					break;
				}
				x = ascii_word[*++q];
			} while (x);
			t->h = h;
			t->seen |= acc >> 8;
			t->nchars += (uint32_t)(q - p);
			i += (size_t)(q - p);
			if (i == len)
				break;
			b = s[i];
			f = ascii_class[b];
			if (f & (A_HIGH | A_APOS))
				continue; /* a letter beyond ASCII or an apostrophe may go on with the word */
			/* plain ASCII separators (spaces, punctuation): the word ends, and the next one
			 * starts here without going round the general case */
			end_word(t);
			if (bk) {
			fast:
				i = fast_words(t, bk, s, len, i);
				if (i == len)
					goto done;
				b = s[i];
				f = ascii_class[b];
				if (f & A_ALNUM)
					goto word;
				continue; /* a stop byte */
			}
			do {
				if (f & A_BREAK)
					t->sentence_start = true;
				if (++i == len)
					goto done;
				b = s[i];
				f = ascii_class[b];
			} while (!(f & (A_ALNUM | A_HIGH)));
			if (f & A_ALNUM)
				goto word;
			continue;
		}
		if (!(f & A_HIGH)) {
			if ((f & A_APOS) && t->on && i + 1 < len && word_follows(sk, s + i + 1, len - i - 1)) {
				t->h = (t->h ^ '\'') * FNV_PRIME;
				i++;
				continue;
			}
			end_word(t);
			if (f & A_BREAK)
				t->sentence_start = true;
			i++;
			if (bk)
				goto fast;
			continue;
		}
		uint32_t cp;
		size_t k = utf8_next(s + i, len - i, &cp);
		const struct dd_cpinfo *ci = cp_info(sk, cp);
		unsigned cf = ci->flags;
		if ((cf & (C_WORD | C_UNSPACED)) == (C_WORD | C_UNSPACED)) {
			end_word(t);
			unspaced_word(t, cp);
			i += k;
			continue;
		}
		if (cf & C_WORD) {
			if (!t->on)
				start_word(t, (cf & C_UPPER) != 0);
			t->seen |= cf & (C_LOWER | C_DIGIT);
			t->h = (t->h ^ ci->lower) * FNV_PRIME;
			t->nchars++;
			i += k;
			continue;
		}
		if (cp == 0x2019 && t->on && i + k < len && word_follows(sk, s + i + k, len - i - k)) {
			t->h = (t->h ^ '\'') * FNV_PRIME;
			i += k;
			continue;
		}
		end_word(t);
		if (cf & C_BREAK)
			t->sentence_start = true;
		i += k;
	}
done:
	end_word(t);
}

static int reserve(void **arr, uint32_t *cap, size_t n, size_t size)
{
	if (n <= *cap)
		return 0;
	if (n > UINT32_MAX)
		return -ENOMEM;
	void *p = realloc(*arr, n * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = (uint32_t)n;
	return 0;
}

/* The sample of the shingle of mixed words w2 w1 h (never 0), and the one loop that keeps
 * those 0 mod the rate: stored always and counted when kept, no branch to mispredict on a
 * random hash. The AVX2 loop below computes the same four at a time. */
static inline uint32_t shingle_sample(uint64_t w2, uint64_t w1, uint64_t h)
{
	uint64_t s = dd_mix64(w2 * 0x9e3779b97f4a7c15ULL ^ (w1 << 1 | w1 >> 63) ^
	                      (h * 0xc2b2ae3d27d4eb4fULL));
	uint32_t v = (uint32_t)(s >> 32);
	return v ? v : 1;
}

static inline uint32_t keep_samples(const uint64_t *w, uint32_t from, uint32_t ns,
                                    uint32_t *samples, uint32_t k, uint32_t mask)
{
	for (uint32_t j = from; j < ns; j++) {
		uint32_t v = shingle_sample(w[j], w[j + 1], w[j + 2]);
		samples[k] = v;
		k += (v & mask) == 0;
	}
	return k;
}

/* The second pass: the word hashes are mixed (in place: the anchors need them), chained into
 * the fingerprint, and their 3-shingles kept when 0 mod the rate. w[0..from) are mixed and
 * chained into fp already (the tokenizer's fast path). Returns the fingerprint. */
static uint64_t shingle_words_scalar(uint64_t *w, uint32_t n, uint32_t from, uint64_t fp,
                                     uint32_t *samples, uint32_t rate, uint32_t *nsamples)
{
	for (uint32_t j = from; j < n; j++) {
		w[j] = dd_mix64(w[j]);
		fp = fp_link(fp, w[j]);
	}
	*nsamples = keep_samples(w, 0, n >= 2 ? n - 2 : 0, samples, 0, rate - 1);
	return fp;
}

#ifdef DD_AVX2
/*
 * The same with AVX2, four words at a time (the mixing of words and shingles is independent
 * from word to word; only the fingerprint is a chain, kept scalar). AVX2 has no 64-bit
 * multiply: x * c mod 2^64 is lo(x)lo(c) + ((hi(x)lo(c) + lo(x)hi(c)) << 32). The results
 * are those of the scalar code, bit for bit (the unit test and the bench sets compare them).
 */
#define AVX2_FN __attribute__((target("avx2,popcnt"))) static inline

AVX2_FN __m256i mul64c(__m256i x, uint64_t c)
{
	__m256i cl = _mm256_set1_epi64x((long long)(c & 0xffffffffu));
	__m256i ch = _mm256_set1_epi64x((long long)(c >> 32));
	__m256i lo = _mm256_mul_epu32(x, cl);
	__m256i mid = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(x, 32), cl),
	                               _mm256_mul_epu32(x, ch));
	return _mm256_add_epi64(lo, _mm256_slli_epi64(mid, 32));
}

AVX2_FN __m256i mix64x4(__m256i x)
{
	x = _mm256_xor_si256(x, _mm256_srli_epi64(x, 30));
	x = mul64c(x, 0xbf58476d1ce4e5b9ULL);
	x = _mm256_xor_si256(x, _mm256_srli_epi64(x, 27));
	x = mul64c(x, 0x94d049bb133111ebULL);
	return _mm256_xor_si256(x, _mm256_srli_epi64(x, 31));
}

/* pshufb masks that move the 32-bit lanes set in a 4-bit mask to the front */
static const uint8_t left_pack[16][16] = {
#define L(a, b, c, d) {4*a, 4*a+1, 4*a+2, 4*a+3, 4*b, 4*b+1, 4*b+2, 4*b+3, \
                       4*c, 4*c+1, 4*c+2, 4*c+3, 4*d, 4*d+1, 4*d+2, 4*d+3}
	L(0, 0, 0, 0), L(0, 0, 0, 0), L(1, 0, 0, 0), L(0, 1, 0, 0),
	L(2, 0, 0, 0), L(0, 2, 0, 0), L(1, 2, 0, 0), L(0, 1, 2, 0),
	L(3, 0, 0, 0), L(0, 3, 0, 0), L(1, 3, 0, 0), L(0, 1, 3, 0),
	L(2, 3, 0, 0), L(0, 2, 3, 0), L(1, 2, 3, 0), L(0, 1, 2, 3),
#undef L
};

__attribute__((target("avx2,popcnt"))) static uint64_t
shingle_words_avx2(uint64_t *w, uint32_t n, uint32_t from, uint64_t fp, uint32_t *samples,
                   uint32_t rate, uint32_t *nsamples)
{
	uint32_t j = from;
	for (; j + 4 <= n; j += 4) {
		__m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(w + j));
		_mm256_storeu_si256((__m256i *)(void *)(w + j), mix64x4(x));
	}
	for (; j < n; j++)
		w[j] = dd_mix64(w[j]);
	/* shingle j: words j, j+1, j+2. The rest of the fingerprint chain (serial, ~14 cycles a
	 * word, with little work) goes along, 4 words an iteration, so that the shingles are
	 * computed in its shadow rather than after it. */
	uint32_t jf = from, k = 0, mask = rate - 1, ns = n >= 2 ? n - 2 : 0;
	const __m128i vmask = _mm_set1_epi32((int)mask), zero = _mm_setzero_si128();
	const __m256i odd = _mm256_setr_epi32(1, 3, 5, 7, 0, 2, 4, 6);
	for (j = 0; j + 4 <= ns; j += 4) {
		for (uint32_t end = jf + 4 < n ? jf + 4 : n; jf < end; jf++)
			fp = fp_link(fp, w[jf]);
		__m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(w + j));
		__m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(w + j + 1));
		__m256i c = _mm256_loadu_si256((const __m256i *)(const void *)(w + j + 2));
		__m256i rb = _mm256_or_si256(_mm256_slli_epi64(b, 1), _mm256_srli_epi64(b, 63));
		__m256i x = _mm256_xor_si256(_mm256_xor_si256(mul64c(a, 0x9e3779b97f4a7c15ULL), rb),
		                             mul64c(c, 0xc2b2ae3d27d4eb4fULL));
		x = mix64x4(x);
		/* the high halves, in order, then 0 -> 1 (cmpeq gives -1 where 0) */
		__m128i v = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(x, odd));
		v = _mm_sub_epi32(v, _mm_cmpeq_epi32(v, zero));
		unsigned keep = (unsigned)_mm_movemask_ps(
			_mm_castsi128_ps(_mm_cmpeq_epi32(_mm_and_si128(v, vmask), zero)));
		v = _mm_shuffle_epi8(v, _mm_loadu_si128((const __m128i *)(const void *)left_pack[keep]));
		_mm_storeu_si128((__m128i *)(void *)(samples + k), v); /* room: k + 4 <= j + 4 <= n */
		k += (uint32_t)__builtin_popcount(keep);
	}
	for (; jf < n; jf++)
		fp = fp_link(fp, w[jf]);
	*nsamples = keep_samples(w, j, ns, samples, k, mask);
	return fp;
}
#endif

static uint64_t shingle_words(uint64_t *w, uint32_t n, uint32_t from, uint64_t fp,
                              uint32_t *samples, uint32_t rate, uint32_t *nsamples)
{
#ifdef DD_AVX2
	if (have_avx2())
		return shingle_words_avx2(w, n, from, fp, samples, rate, nsamples);
#endif
	return shingle_words_scalar(w, n, from, fp, samples, rate, nsamples);
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
	bool nul_end = text[len] == '\0';
	if (max_text && len > max_text) {
		len = max_text; /* a cut inside a sequence decodes as U+FFFD: a separator */
		nul_end = false;
	}
	/* a word takes two bytes but the last (a letter and what ends it; a character of an
	 * unspaced script takes three): room for every word and its shingle, reserved once */
	size_t room = len / 2 + 2;
	if (reserve((void **)&sk->samples, &sk->samples_cap, room, sizeof(uint32_t)) < 0 ||
	    reserve((void **)&sk->words, &sk->words_cap, room, sizeof(uint64_t)) < 0 ||
	    reserve((void **)&sk->anchors, &sk->anchors_cap, FM_DD_MAX_ANCHORS + 2,
	            sizeof(uint32_t)) < 0)
		return -ENOMEM;
	const unsigned char *s = (const unsigned char *)text;
	struct tok t = {0};
	t.words = sk->words;
	t.aw = sk->anchors; /* anchor word indices first, anchor pairs in their place below */
	t.sentence_start = true;
#ifdef DD_AVX2
	if (have_avx2()) {
		/* nothing loaded yet: i - base wraps around (above 64) until len, all stops there */
		struct dd_block bk = {.base = len, .stop = ~0ULL};
		if (nul_end)
			tokenize(sk, &t, s, len, true, &bk);
		else
			tokenize(sk, &t, s, len, false, &bk);
	} else
#endif
	if (nul_end)
		tokenize(sk, &t, s, len, true, NULL);
	else
		tokenize(sk, &t, s, len, false, NULL);
	sk->nwords = t.nwords;
	/* short texts keep a denser sample: one in 4 shingles of 60 words is too little evidence
	 * (rate 4 keeps those 0 mod 4, the others are a dense sample of a short text) */
	sk->rate = t.nwords < FM_DD_DENSE_WORDS / 2 ? 1 : t.nwords < FM_DD_DENSE_WORDS ? 2 : 4;
	uint64_t fp = shingle_words(sk->words, t.nwords, t.fpn, t.fp, sk->samples, sk->rate,
	                            &sk->nsamples);
	/* anchor pairs: consecutive anchor words (their hashes now mixed) */
	uint32_t na = 0;
	for (uint32_t j = 1; j < t.naw; j++) {
		uint64_t a = dd_mix64(sk->words[sk->anchors[j - 1]] * 0xff51afd7ed558ccdULL ^
		                      sk->words[sk->anchors[j]]);
		uint32_t v = (uint32_t)(a >> 32);
		sk->anchors[na++] = v ? v : 1;
	}
	sk->nanchors = na;
	if (t.nwords == 0)
		fp = 0;
	else if (fp == 0)
		fp = 1;
	sk->fp = fp;
	return 0;
}

void dd_sketch_free(struct dd_sketch *sk)
{
	free(sk->samples);
	free(sk->anchors);
	free(sk->words);
	free(sk->cpcache);
	memset(sk, 0, sizeof(*sk));
}
