/* dedupe_similar: the revision fingerprint (revision.h). */
#include "revision.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "sketch.h"

enum kind {
	K_WORD,
	K_QTY,     /* a count before a unit: digits, "a", "an", "few", "several" */
	K_UNIT,    /* second(s), min(s), minute(s), hour(s), hr(s), day(s), week(s), ... */
	K_QTYUNIT, /* both in one: "5m", "2h", "10min", "3d" */
	K_JUST,
};

struct word {
	uint64_t h;
	char w[8];   /* its first bytes, for its kind, which is only asked before "ago"/"now" */
	uint8_t n;   /* its length, 9 for any longer */
	bool digits;
};

/* The words not yet folded in: a relative time is only known as one at its "ago". */
struct ring {
	struct word w[2];
	int n;
	uint64_t acc;
	uint64_t count;
};

/* Time units, by length (a table per length keeps the test to a few compares a word). */
static bool is_unit(const char *w, size_t n)
{
	static const char *const by_len[8] = {
		"",
		"smhdwy",
		"hrmoyrwk",
		"secminhrsdayyrswks",
		"secsminshourdaysweekyear",
		"hoursweeksmonthyears",
		"secondminutemonths",
		"secondsminutes",
	};
	if (n == 0 || n > 7)
		return false;
	for (const char *u = by_len[n]; *u; u += n)
		if (memcmp(u, w, n) == 0)
			return true;
	return false;
}

/* Only short words can be a count, a unit or "just"; digits of any length are a count. */
static enum kind classify(const char *w, size_t n, bool digits)
{
	if (digits)
		return K_QTY;
	if (n > 7)
		return K_WORD;
	size_t d = 0;
	while (d < n && w[d] >= '0' && w[d] <= '9')
		d++;
	if (d > 0)
		return is_unit(w + d, n - d) ? K_QTYUNIT : K_WORD;
	if ((n == 1 && w[0] == 'a') || (n == 2 && !memcmp(w, "an", 2)) ||
	    (n == 3 && !memcmp(w, "few", 3)) || (n == 7 && !memcmp(w, "several", 7)))
		return K_QTY;
	if (n == 4 && !memcmp(w, "just", 4))
		return K_JUST;
	/* a single letter is a unit only after a number ("5m ago"); "a m" is not one */
	return n > 1 && is_unit(w, n) ? K_UNIT : K_WORD;
}

static void fold(struct ring *r, uint64_t h)
{
	r->acc = dd_mix64(r->acc ^ h) + ++r->count;
}

/* Fold the oldest pending word when the ring is full. */
static void push(struct ring *r, struct word w)
{
	if (r->n == 2) {
		fold(r, r->w[0].h);
		r->w[0] = r->w[1];
		r->n = 1;
	}
	r->w[r->n++] = w;
}

static enum kind kind_of(const struct word *w)
{
	return classify(w->w, w->n, w->digits);
}

/* One word (w: its first bytes, lower case; n: its length, 9 for a longer one; h: the hash of
 * all of it). */
static void take_word(struct ring *r, const char *w, size_t n, uint64_t h, bool digits)
{
	if (n == 3 && ((w[0] == 'a' && w[1] == 'g' && w[2] == 'o') ||
	               (w[0] == 'n' && w[1] == 'o' && w[2] == 'w'))) {
		bool ago = w[0] == 'a';
		if (ago && r->n == 2 && kind_of(&r->w[0]) == K_QTY && kind_of(&r->w[1]) == K_UNIT) {
			r->n = 0; /* "5 minutes ago", "a few hours ago" (the "a" before stays) */
			return;
		}
		if (ago && r->n >= 1 && kind_of(&r->w[r->n - 1]) == K_QTYUNIT) {
			r->n--; /* "5m ago" */
			return;
		}
		if (!ago && r->n >= 1 && kind_of(&r->w[r->n - 1]) == K_JUST) {
			r->n--; /* "just now" */
			return;
		}
	}
	struct word x = {.h = h, .n = (uint8_t)n, .digits = digits};
	memcpy(x.w, w, n < sizeof(x.w) ? n : sizeof(x.w));
	push(r, x);
}

/* Byte classes: 0 a separator, else the byte as it counts in a word (ASCII lower-cased). */
static unsigned char word_class[256];
static pthread_once_t class_once = PTHREAD_ONCE_INIT;

static void class_init(void)
{
	for (int c = 0; c < 256; c++) {
		if (c >= 'A' && c <= 'Z')
			word_class[c] = (unsigned char)(c + 32);
		else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80)
			word_class[c] = (unsigned char)c;
	}
}

#define FNV_OFF 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL

static void take_text(struct ring *r, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	for (;;) {
		while (p < end && !word_class[*p])
			p++;
		if (p == end)
			return;
		char w[8];
		size_t n = 0;
		uint64_t h = FNV_OFF;
		bool digits = true;
		for (; p < end && word_class[*p]; p++, n++) {
			unsigned char c = word_class[*p];
			if (n < sizeof(w))
				w[n] = (char)c;
			digits &= c >= '0' && c <= '9';
			h = (h ^ c) * FNV_PRIME;
		}
		take_word(r, w, n <= sizeof(w) ? n : sizeof(w) + 1, h, digits);
	}
}

static uint64_t words_of(const char *title, size_t tlen, const char *text, size_t xlen)
{
	pthread_once(&class_once, class_init);
	struct ring r = {.acc = 0x9e3779b97f4a7c15ULL};
	if (title)
		take_text(&r, title, tlen);
	/* the title's end: "A B" + "C" is not "A" + "B C" */
	push(&r, (struct word){.h = 0x5449544c45454e44ULL, .n = 9});
	if (text)
		take_text(&r, text, xlen);
	for (int i = 0; i < r.n; i++)
		fold(&r, r.w[i].h);
	return r.acc;
}

/* The sketch's hashes of the words a relative time is told by (sketch.h: words[] are the
 * mixed hashes of the lower-cased words). */
static uint64_t h_ago, h_just, h_now;
static pthread_once_t special_once = PTHREAD_ONCE_INIT;

static uint64_t sketch_word(const char *w)
{
	struct dd_sketch sk = {0};
	uint64_t h = dd_sketch_text(&sk, w, strlen(w), 0) == 0 && sk.nwords == 1 ? sk.words[0] : 0;
	dd_sketch_free(&sk);
	return h;
}

static void special_init(void)
{
	h_ago = sketch_word("ago");
	h_just = sketch_word("just");
	h_now = sketch_word("now");
}

uint64_t dd_revision_fp(const char *title, size_t tlen, const uint64_t *words, uint32_t n)
{
	pthread_once(&special_once, special_init);
	uint64_t acc = words_of(title, tlen, NULL, 0);
	/* the text's words, less relative times: "ago" and the two words before it ("5
	 * minutes ago", "an hour ago", "updated 2h ago"), "just now". The two words before are
	 * dropped whatever they are, so that the same text always gives the same number. */
	uint64_t pend[2];
	int np = 0;
	uint64_t count = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t w = words[i];
		if (h_ago && w == h_ago) {
			np = 0;
			continue;
		}
		if (h_now && w == h_now && np > 0 && pend[np - 1] == h_just) {
			np--;
			continue;
		}
		if (np == 2) {
			acc = dd_mix64(acc ^ pend[0]) + ++count;
			pend[0] = pend[1];
			np = 1;
		}
		pend[np++] = w;
	}
	for (int i = 0; i < np; i++)
		acc = dd_mix64(acc ^ pend[i]) + ++count;
	return acc ? acc : 1;
}
