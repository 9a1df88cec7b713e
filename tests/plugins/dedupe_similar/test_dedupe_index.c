/*
 * dedupe_similar internals, compiled from the plugin's sources: the postings of the index
 * against a plain model of what they must answer (through arrivals, evictions, shared and
 * boilerplate shingles, stories merged), and tokenizer invariants that the sketches rely on.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index.h"
#include "sketch.h"
#include "state.h"

static int failures;

#define CHECK(cond, ...)                                                                      \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                  \
			fprintf(stderr, __VA_ARGS__);                                          \
			fputc('\n', stderr);                                                   \
			failures++;                                                            \
		}                                                                              \
	} while (0)

/* --- the model: per shingle, the documents holding it in arrival order, and a stop flag --- */

#define NKEYS 240
#define HOT 4 /* shingles every document has: they must stop at DD_POSTING_CAP */

struct mkey {
	uint32_t slots[DD_POSTING_CAP];
	uint32_t n;
	bool stop;
};

static struct mkey model[NKEYS];

static uint32_t key_of(uint32_t k)
{
	return (k + 1) * 4; /* samples are 0 mod their rate */
}

static void model_add(uint32_t k, uint32_t slot)
{
	struct mkey *m = &model[k];
	if (m->stop)
		return;
	for (uint32_t i = 0; i < m->n; i++)
		if (m->slots[i] == slot)
			return;
	if (m->n >= DD_POSTING_CAP) {
		m->stop = true;
		return;
	}
	m->slots[m->n++] = slot;
}

static void model_remove(uint32_t k, uint32_t slot)
{
	struct mkey *m = &model[k];
	for (uint32_t i = 0; i < m->n; i++) {
		if (m->slots[i] != slot)
			continue;
		memmove(m->slots + i, m->slots + i + 1, (m->n - i - 1) * sizeof(uint32_t));
		if (--m->n == 0)
			m->stop = false;
		return;
	}
}

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

struct mdoc {
	uint32_t slot;
	uint32_t keys[40];
	uint32_t n;
};

static int stopped_seen; /* comparisons where a hot shingle was stopped */
static int merges;

static void compare_all(struct dd_index *ix, int step)
{
	for (uint32_t k = 0; k < NKEYS; k++) {
		uint32_t ids[DD_POSTING_CAP];
		bool stop;
		uint32_t n = dd_index_postings(ix, key_of(k), ids, &stop);
		const struct mkey *m = &model[k];
		CHECK(stop == m->stop, "step %d key %u: stop %d, model %d", step, k, stop, m->stop);
		if (k == 0 && stop)
			stopped_seen++;
		CHECK(n == m->n, "step %d key %u: %u postings, model %u", step, k, n, m->n);
		if (n == m->n)
			CHECK(!memcmp(ids, m->slots, n * sizeof(uint32_t)),
			      "step %d key %u: postings differ from the model (or their order)", step, k);
		/* the stories holding it, counted from the documents' stories as they are now */
		uint32_t stories = 0;
		for (uint32_t i = 0; i < m->n; i++) {
			uint32_t u = 0;
			while (u < i && ix->slots[m->slots[u]].cl != ix->slots[m->slots[i]].cl)
				u++;
			stories += u == i;
		}
		struct dd_post p;
		dd_index_get(ix, key_of(k), &p);
		CHECK(p.stories == (m->stop ? DD_STOPPED : stories),
		      "step %d key %u: %u stories, model %u (stop %d)", step, k, p.stories, stories,
		      m->stop);
		bool few = dd_index_few_stories(ix, key_of(k), 2);
		CHECK(few == (!m->stop && stories <= 2), "step %d key %u: few_stories %d with %u stories",
		      step, k, few, stories);
	}
}

static void test_postings(void)
{
	struct dd_index ix;
	dd_index_init(&ix);
	const uint32_t max_docs = 150;
	struct mdoc docs[150 + 1];
	uint32_t head = 0, ndocs = 0;
	for (int step = 0; step < 3000; step++) {
		/* leave first, as the stage does: the oldest goes when the index is full */
		if (ndocs == max_docs) {
			struct mdoc *old = &docs[head];
			for (uint32_t i = 0; i < old->n; i++)
				model_remove(old->keys[i], old->slot);
			head = (head + 1) % (max_docs + 1);
			ndocs--;
		}
		CHECK(dd_index_evict(&ix, max_docs - 1, 0) == (ndocs < max_docs - 1 ? 0u : 1u) ||
		      ix.fifo_len <= max_docs - 1, "step %d: eviction", step);
		struct mdoc *d = &docs[(head + ndocs) % (max_docs + 1)];
		d->n = 0;
		for (uint32_t k = 0; k < HOT; k++)
			d->keys[d->n++] = k;
		uint32_t extra = 10 + rnd(25);
		for (uint32_t i = 0; i < extra; i++)
			d->keys[d->n++] = HOT + rnd(NKEYS - HOT); /* repeats within a document too */
		uint32_t samples[40];
		for (uint32_t i = 0; i < d->n; i++)
			samples[i] = key_of(d->keys[i]);
		/* a copy of a recent document's story, or a story of its own */
		struct dd_cluster *cl;
		if (ndocs && rnd(3)) {
			const struct mdoc *o = &docs[(head + rnd(ndocs)) % (max_docs + 1)];
			cl = ix.slots[o->slot].cl;
			cl->refs++;
		} else {
			cl = dd_cluster_new(&ix, "story", "src");
		}
		uint32_t slot = dd_index_add(&ix, ix.next_seq, step, cl, (uint64_t)step + 1, 0, 0,
		                             samples, d->n, 4, NULL, 0);
		dd_cluster_unref(&ix, cl);
		/* now and then a document shows two stories are one */
		if (ndocs > 2 && step % 13 == 0) {
			struct dd_cluster *a = ix.slots[docs[(head + rnd(ndocs)) % (max_docs + 1)].slot].cl;
			struct dd_cluster *b = ix.slots[docs[(head + rnd(ndocs)) % (max_docs + 1)].slot].cl;
			if (a != b)
				merges++;
			dd_index_merge(&ix, a, b, 8);
		}
		CHECK(slot != DD_NONE, "step %d: add failed", step);
		d->slot = slot;
		for (uint32_t i = 0; i < d->n; i++)
			model_add(d->keys[i], slot);
		ndocs++;
		if (step % 97 == 0 || step > 2950)
			compare_all(&ix, step);
	}
	/* a shingle of every document is boilerplate: it stopped (until the documents that held
	 * it had all left) */
	CHECK(stopped_seen > 0, "a shingle of every document never stopped");
	CHECK(merges > 20, "only %d stories merged", merges);
	/* everything leaves: nothing is left indexed */
	dd_index_evict(&ix, 0, 0);
	memset(model, 0, sizeof(model));
	compare_all(&ix, -1);
	CHECK(ix.pk_n == 0, "%zu postings keys left after every document left", ix.pk_n);
	dd_index_fini(&ix);
}

/* --- tokenizer --- */

static struct dd_sketch sketch_of(const char *text, size_t len, size_t max_text)
{
	struct dd_sketch sk = {0};
	if (dd_sketch_text(&sk, text, len, max_text) < 0)
		abort();
	return sk;
}

static bool same_sketch(const struct dd_sketch *a, const struct dd_sketch *b)
{
	return a->fp == b->fp && a->nwords == b->nwords && a->nsamples == b->nsamples &&
	       a->nanchors == b->nanchors &&
	       !memcmp(a->samples, b->samples, a->nsamples * sizeof(uint32_t)) &&
	       !memcmp(a->anchors, b->anchors, a->nanchors * sizeof(uint32_t));
}

static void test_tokenizer(void)
{
	const char *text =
	    "The harbour board of Port Elsworth voted 7-2 on Tuesday to rebuild the north pier. "
	    "“It’s overdue,” said chair Miriam Okafor; the pier’s pilings date from 1931. "
	    "Работы начнутся весной. 港の工事は来年始まる。 Ünal Çelik, DÉJÀ VU, naïve café.";
	size_t len = strlen(text);
	struct dd_sketch a = sketch_of(text, len, 0);
	CHECK(a.nwords > 40, "%u words", a.nwords);
	CHECK(a.nanchors >= 4, "%u anchor pairs (names and figures)", a.nanchors);

	/* a text cut by max_text reads like the same text ending there */
	for (size_t cut = 1; cut < len; cut += 7) {
		char *copy = strndup(text, cut);
		struct dd_sketch b = sketch_of(text, len, cut);
		struct dd_sketch c = sketch_of(copy, cut, 0);
		CHECK(same_sketch(&b, &c), "a cut at %zu bytes differs from the text ending there", cut);
		dd_sketch_free(&b);
		dd_sketch_free(&c);
		free(copy);
	}

	/* layout, case and quote style say nothing about the words */
	const char *xs = "Hello, World!  It's  here.\n", *ys = "HELLO world -- it’s HERE";
	struct dd_sketch x = sketch_of(xs, strlen(xs), 0);
	struct dd_sketch y = sketch_of(ys, strlen(ys), 0);
	CHECK(x.fp == y.fp && x.nwords == 4, "the same words: fp %llx vs %llx, %u words",
	      (unsigned long long)x.fp, (unsigned long long)y.fp, x.nwords);
	/* an apostrophe inside a word is part of it; around a word it is not */
	struct dd_sketch p = sketch_of("its here", 8, 0);
	CHECK(p.fp != x.fp, "it's and its are different words");
	struct dd_sketch q = sketch_of("'hello' world it's here", 23, 0);
	CHECK(q.fp == x.fp, "quotes around a word are not part of it");
	/* each character of an unspaced script is a word */
	struct dd_sketch r = sketch_of("港の工事", strlen("港の工事"), 0);
	CHECK(r.nwords == 4, "%u words in four CJK characters", r.nwords);
	/* malformed UTF-8 separates words and does not stop the text */
	struct dd_sketch m = sketch_of("abc\xff" "def\xc3", 8, 0);
	CHECK(m.nwords == 2, "%u words around malformed bytes", m.nwords);
	struct dd_sketch *all[] = {&a, &x, &y, &p, &q, &r, &m};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		dd_sketch_free(all[i]);
}

/* The tokenizer's fast path (plain ASCII words between ASCII separators, where the CPU has
 * it) and its general case agree: words between EN SPACEs (U+2002: neither a word character
 * nor a sentence break) all go the general way, the same words between spaces mostly the
 * fast one, at every offset of its 64-byte blocks. */
static void test_tokenizer_paths(void)
{
	static const char *seps[] = {" ", " ", " ", " ", ", ", ". ", "\n", " (", ") ", "; ", " \"", "*"};
	size_t cap = 3000 * 100 + 100, alen = 0, blen = 0; /* words of up to 90 bytes */
	char *a = malloc(cap), *b = malloc(cap);
	uint32_t r = 12345;
	if (!a || !b)
		abort();
	memset(a, ' ', 70); /* room for the offsets below */
	alen = 70;
	for (int w = 0; w < 3000; w++) {
		r = r * 1103515245u + 12345u;
		size_t n = 1 + (r >> 16) % (r % 29 == 0 ? 90 : 11);
		for (size_t k = 0; k < n; k++) {
			r = r * 1103515245u + 12345u;
			unsigned c = (r >> 16) % 80;
			/* mostly lower case, some capitals (names, acronyms) and figures */
			char ch = c < 60 ? (char)('a' + c % 26) : c < 72 ? (char)('A' + c % 26) :
			                                                    (char)('0' + c % 10);
			a[alen++] = b[blen++] = ch;
		}
		const char *sep = seps[(r >> 8) % (sizeof(seps) / sizeof(seps[0]))];
		size_t sl = strlen(sep);
		memcpy(a + alen, sep, sl);
		alen += sl;
		/* the same separator with EN SPACE for spaces */
		for (size_t k = 0; k < sl; k++) {
			if (sep[k] == ' ') {
				memcpy(b + blen, "\xe2\x80\x82", 3);
				blen += 3;
			} else {
				b[blen++] = sep[k];
			}
		}
	}
	a[alen] = b[blen] = '\0';
	struct dd_sketch y = sketch_of(b, blen, 0);
	CHECK(y.nwords == 3000 && y.nanchors > 10, "%u words, %u anchor pairs", y.nwords,
	      y.nanchors);
	for (size_t off = 0; off <= 70; off++) {
		struct dd_sketch x = sketch_of(a + off, alen - off, 0);
		CHECK(same_sketch(&x, &y), "offset %zu: %u vs %u words, %u vs %u anchor pairs, "
		      "fp %llx vs %llx", off, x.nwords, y.nwords, x.nanchors, y.nanchors,
		      (unsigned long long)x.fp, (unsigned long long)y.fp);
		dd_sketch_free(&x);
	}
	dd_sketch_free(&y);
	free(a);
	free(b);
}

/* --- the saved index: a file of another format version is reported and ignored --- */

static void test_state_version(void)
{
	char dir[] = "/tmp/dd-state-XXXXXX";
	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return;
	}
	struct dd_index ix;
	dd_index_init(&ix);
	uint32_t samples[3] = {4, 8, 12}, anchors[1] = {77};
	struct dd_cluster *cl = dd_cluster_new(&ix, "story", "src");
	uint32_t si = cl ? dd_index_add(&ix, ix.next_seq, 1000, cl, 11, 12, 13, samples, 3, 4,
	                                anchors, 1) : DD_NONE;
	CHECK(si != DD_NONE, "indexing one document");
	if (si != DD_NONE) {
		ix.slots[si].revfp = 0x1234;
		ix.slots[si].rev = 3;
		ix.slots[si].flags = DD_ACKED | DD_PENDING;
	}
	if (cl)
		dd_cluster_unref(&ix, cl);
	char err[512] = "";
	CHECK(dd_state_save(&ix, dir, err, sizeof(err)) == 0, "save: %s", err);
	dd_index_fini(&ix);

	/* the file as saved loads; a delivery in flight is not saved as one */
	int found = 0;
	dd_index_init(&ix);
	CHECK(dd_state_load(&ix, dir, &found, err, sizeof(err)) == 0 && found && ix.fifo_len == 1,
	      "load: %s (%u documents)", err, ix.fifo_len);
	const struct dd_slot *ls = ix.fifo_len ? &ix.slots[dd_index_fifo_at(&ix, 0)] : NULL;
	CHECK(ls && ls->revfp == 0x1234 && ls->rev == 3 && ls->flags == DD_ACKED,
	      "standing kept: revfp %llx rev %u flags %u", ls ? (unsigned long long)ls->revfp : 0ull,
	      ls ? ls->rev : 0, ls ? ls->flags : 0);
	dd_index_fini(&ix);

	/* the same file, well formed (checksum right) but of a version from before the hashes of
	 * today (0): refused, not misread */
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", dir, DD_STATE_FILE);
	FILE *f = fopen(path, "rb");
	unsigned char buf[4096];
	size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
	if (f)
		fclose(f);
	CHECK(n > 24 && n < sizeof(buf), "read back %zu bytes", n);
	if (n > 24 && n < sizeof(buf)) {
		uint32_t old = 0;
		for (int i = 0; i < 4; i++)
			buf[8 + i] = (unsigned char)(old >> (8 * i));
		uint64_t sum = dd_hash_bytes(buf, n - 8, 0);
		for (int i = 0; i < 8; i++)
			buf[n - 8 + i] = (unsigned char)(sum >> (8 * i));
		f = fopen(path, "wb");
		if (f) {
			fwrite(buf, 1, n, f);
			fclose(f);
		}
		dd_index_init(&ix);
		err[0] = 0;
		int rc = dd_state_load(&ix, dir, &found, err, sizeof(err));
		CHECK(rc == -EINVAL && ix.fifo_len == 0 && strstr(err, "format version"),
		      "an old version: rc %d, %u documents, \"%s\"", rc, ix.fifo_len, err);
		dd_index_fini(&ix);
	}
	/* fingerprints computed another way (another revfp version): the documents stay, their
	 * fingerprints are forgotten, so that none reads as a revision */
	if (n > 24 && n < sizeof(buf)) {
		uint32_t ver = DD_STATE_VERSION, other = DD_REVFP_VERSION + 1;
		for (int i = 0; i < 4; i++) {
			buf[8 + i] = (unsigned char)(ver >> (8 * i));
			buf[12 + i] = (unsigned char)(other >> (8 * i));
		}
		uint64_t sum = dd_hash_bytes(buf, n - 8, 0);
		for (int i = 0; i < 8; i++)
			buf[n - 8 + i] = (unsigned char)(sum >> (8 * i));
		f = fopen(path, "wb");
		if (f) {
			fwrite(buf, 1, n, f);
			fclose(f);
		}
		dd_index_init(&ix);
		int rc = dd_state_load(&ix, dir, &found, err, sizeof(err));
		ls = ix.fifo_len ? &ix.slots[dd_index_fifo_at(&ix, 0)] : NULL;
		CHECK(rc == 0 && ls && ls->revfp == 0 && ls->rev == 3 && ls->flags == DD_ACKED,
		      "another revfp version: rc %d, revfp %llx", rc,
		      ls ? (unsigned long long)ls->revfp : 0ull);
		dd_index_fini(&ix);
	}
	unlink(path);

	/* a file of version 1 (written by feedmill before documents had a standing; two
	 * documents of one source) is read: its documents taken as published, revision 1 */
	const char *data = getenv("FM_TEST_DATA_DIR");
	char v1[700];
	snprintf(v1, sizeof(v1), "%s/dedupe/index-v1.fmdd", data ? data : "tests/data");
	f = fopen(v1, "rb");
	n = f ? fread(buf, 1, sizeof(buf), f) : 0;
	if (f)
		fclose(f);
	CHECK(n > 24 && n < sizeof(buf), "read %s: %zu bytes", v1, n);
	f = fopen(path, "wb");
	if (f) {
		fwrite(buf, 1, n, f);
		fclose(f);
	}
	dd_index_init(&ix);
	err[0] = 0;
	int rc = dd_state_load(&ix, dir, &found, err, sizeof(err));
	CHECK(rc == 0 && ix.fifo_len == 2, "version 1: rc %d, %u documents, \"%s\"", rc,
	      ix.fifo_len, err);
	for (uint32_t i = 0; rc == 0 && i < ix.fifo_len; i++) {
		const struct dd_slot *sl = &ix.slots[dd_index_fifo_at(&ix, i)];
		CHECK(sl->flags == DD_ACKED && sl->rev == 1 && sl->revfp == 0 && sl->srckey == 0,
		      "version 1 document %u: flags %u rev %u", i, sl->flags, sl->rev);
	}
	dd_index_fini(&ix);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_postings();
	test_tokenizer();
	test_tokenizer_paths();
	test_state_version();
	if (failures) {
		fprintf(stderr, "%d checks failed\n", failures);
		return 1;
	}
	printf("dedupe_similar internals: all checks passed\n");
	return 0;
}
