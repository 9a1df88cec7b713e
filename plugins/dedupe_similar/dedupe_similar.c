/*
 * dedupe_similar: find documents that carry a story already seen.
 *
 * A document duplicates an earlier one when, in this order:
 *  1. identity: it has the same id (GUID) or the same canonical URL (canon.h: scheme, host
 *     case, www./m./amp. hosts, default ports, fragments, tracking and AMP parameters,
 *     /amp/ paths, index pages, trailing slashes, configurable rules);
 *  2. exact copy: the same normalised word sequence (sketch.h), whatever the layout;
 *  3. near copy: the candidates sharing sampled shingles with it (index.h's inverted index,
 *     answering without a scan) pass a check on the texts themselves (verify() below):
 *     containment, not resemblance, so that an excerpt matches its full text; shingles that
 *     several stories share (site templates, boilerplate) weigh nothing, so that two articles
 *     in one long template stay apart; and the part of the text that does not match must be
 *     scattered (edits, synonym spinning), not a block of other text.
 *     A copy spun hard enough to lose most shingles is still caught when it keeps the names and
 *     figures of the original (anchor pairs, sketch.h), the evidence spinners leave alone.
 *
 * Output. mode=drop: a duplicate returns FM_DROP. mode=mark: every document passes, and a
 * duplicate carries "duplicate_of": the id (else URL) of the story's FIRST document (the
 * root of its cluster, so that every copy of a story names the same document, even when it
 * was matched through another copy), and "also_reported_by": the sources that carried the
 * story so far other than the first document's own (its own included). The first document
 * has passed downstream before any copy is seen, so it is not changed; its list of sources
 * lives in the index (and the state file), and each later copy carries the list as it stands:
 * publish can update the story it already wrote from the copy's "duplicate_of" and
 * "also_reported_by". Counters: dedupe_unique, dedupe_duplicate, dedupe_by_{id,url,text,near}.
 *
 * Memory: about 2.8 KB per indexed document of 480 words (3.2 KB just after the postings
 * table doubles; index.h has the breakdown and how it was measured), so the default max_docs
 * of 100,000 is ~280-320 MB at most; the index is bounded by max_docs and by the window of
 * document time.
 *
 * Speed (the plugin's own CPU, bench dev corpus of ~3 KB texts): ~135,000 instructions a
 * document (callgrind), about 20-30 us depending on how warm the process is (the first touch
 * of the index's memory costs a page fault a page); half of the instructions are the
 * tokenizer (sketch.c), which keeps the hash values of saved indexes. That half is prepare()
 * (below): it needs the document alone, so the host runs it on another thread while process()
 * matches the previous document, and the stage uses two cores though it is one instance. The
 * postings look-ups
 * are bound by cache misses on the key table rather than by instructions. What made it fast: byte class tables instead
 * of Unicode look-ups per character, hash homes from the high bits of a Fibonacci product
 * (samples are 0 mod 4), unique-key postings with contiguous blocks that keep their count of
 * stories, dense scoring arrays, and no division per sample.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <feedmill/plugin.h>

#include "buf.h"
#include "date.h"
#include "canon.h"
#include "index.h"
#include "revision.h"
#include "sketch.h"
#include "state.h"

struct dd_config {
	char *mode;
	int64_t window_ms;
	int64_t max_docs;
	uint64_t max_text;
	double threshold;
	int64_t min_shared;
	double anchor_threshold;
	int64_t max_sources;
	struct fm_strlist strip_params;
	struct fm_strlist url_rules;
	bool persist;
};

static const struct fm_option dd_options[] = {
	{"mode", FM_OPT_ENUM, "drop", offsetof(struct dd_config, mode), 0, "drop|mark", 0, 0,
	 "drop: duplicates stop here; mark: they pass with \"duplicate_of\""},
	{"window", FM_OPT_DURATION, "7d", offsetof(struct dd_config, window_ms), 0, NULL, 0, 0,
	 "how far back (in document time) a story is remembered; 0: no time bound"},
	{"max_docs", FM_OPT_INT, "100000", offsetof(struct dd_config, max_docs), 0, NULL, 1,
	 50000000, "most documents indexed; the oldest leave first"},
	{"max_text", FM_OPT_SIZE, "64K", offsetof(struct dd_config, max_text), 0, NULL, 256,
	 16777216, "bytes of a document's text read for its sketch"},
	{"threshold", FM_OPT_DOUBLE, "0.45", offsetof(struct dd_config, threshold), 0, NULL, 0.05,
	 1, "share of a text's own (non-boilerplate) shingles found in the other to be a copy"},
	{"min_shared", FM_OPT_INT, "3", offsetof(struct dd_config, min_shared), 0, NULL, 1, 1000,
	 "fewest own sampled shingles (about 4 words each) two copies must share"},
	{"anchor_threshold", FM_OPT_DOUBLE, "0.7", offsetof(struct dd_config, anchor_threshold), 0,
	 NULL, 0, 1, "share of name/number pairs found in the other for a heavily spun copy"},
	{"max_sources", FM_OPT_INT, "32", offsetof(struct dd_config, max_sources), 0, NULL, 1,
	 4096, "sources remembered per story (also_reported_by)"},
	{"strip_params", FM_OPT_LIST, NULL, offsetof(struct dd_config, strip_params), 0, NULL, 0, 0,
	 "extra URL query parameters to ignore (name, or prefix*)"},
	{"url_rules", FM_OPT_LIST, NULL, offsetof(struct dd_config, url_rules), 0, NULL, 0, 0,
	 "rewrites of the canonical URL: 'REGEX => REPLACEMENT' (\\1 for groups)"},
	{"persist", FM_OPT_BOOL, "yes", offsetof(struct dd_config, persist), 0, NULL, 0, 0,
	 "keep the index in the state directory across restarts"},
	{NULL, 0, NULL, 0, 0, NULL, 0, 0, NULL},
};

/* Candidates verified per document, best first. */
#define DD_MAX_CANDIDATES 8
/* A shingle found in more stories than this is template or boilerplate: it proves nothing.
 * Two, not one: a copy missed once (and so a story of its own) must not make the text of its
 * story look like boilerplate to every later copy. */
#define DD_OWN_STORIES 2
/* Containment that alone proves a copy (edits and boilerplate aside, the whole text). */
#define DD_STRONG 0.8
/* Fewest words for the exact-copy fingerprint to speak: "Read more" is not a story. */
#define DD_MIN_FP_WORDS 8

/* A u32 hash set rebuilt per use (samples of one document). Sized to each use (a load of at
 * most 1/2), so that clearing it costs what the document needs, not the largest one seen. */
struct u32set {
	uint32_t *slots;
	uint8_t *aux; /* a byte per slot for the user (qset: stories holding the shingle) */
	uint32_t *mark; /* qset: per slot, the verify() stamp of the last candidate holding it */
	size_t cap;   /* slots in use now (a power of two) */
	size_t alloc; /* slots allocated */
	unsigned shift; /* 64 - log2(cap): the home is the top bits of a Fibonacci product */
};

struct side {
	uint32_t n;      /* samples */
	uint32_t tot;    /* samples that are this story's own (not shared with other stories) */
	uint32_t mat;    /* own samples found in the other text */
	uint32_t run;    /* longest run of own samples not found */
	uint32_t inner;  /* longest run of samples not found between the first and last found */
	double c;        /* mat / tot */
};

struct dd_ctx {
	const fm_host *host;
	fm_instance *inst;
	const struct dd_config *cfg;
	bool mark;
	struct dd_canon canon;
	struct dd_index ix;
	struct dd_sketch sk;
	struct fm_buf url;
	struct fm_buf key;
	struct u32set qset, cset;
	uint8_t *qncl;                /* per query sample: stories holding it (255: too many) */
	uint32_t *qpos;               /* per query sample: its slot in qset */
	uint32_t vstamp;              /* verify() calls: qset.mark of the current candidate */
	size_t scratch_cap;
	/* candidate scoring, per slot: dense arrays (a score is touched per posting, and slots
	 * are large). A score is 0 but while a look-up uses it; touched lists those in use (room
	 * for every slot, so no check per new candidate) */
	float *slot_score;
	uint32_t *touched;
	size_t slot_cap;
	bool dirty;
	const char *state_dir;
	bool acks;             /* the host acknowledges deliveries (ABI 1.3) */
	struct dd_map by_token; /* delivery in flight -> its slot */
	uint64_t revw;         /* the document's words (revision.h), with its sketch */
};

/* --- small helpers --- */

static int set_reset(struct u32set *s, size_t n)
{
	size_t want = 16;
	while (want < n * 2)
		want <<= 1;
	if (want > s->alloc) {
		uint32_t *p = realloc(s->slots, want * sizeof(*p));
		if (!p)
			return -ENOMEM;
		s->slots = p;
		uint8_t *a = realloc(s->aux, want);
		if (!a)
			return -ENOMEM;
		s->aux = a;
		/* marks are stamps: zero (never a stamp) when the slots are new, then left as they
		 * are */
		free(s->mark);
		s->mark = calloc(want, sizeof(*s->mark));
		if (!s->mark) {
			s->alloc = 0;
			return -ENOMEM;
		}
		s->alloc = want;
	}
	s->cap = want;
	s->shift = 64u - (unsigned)__builtin_ctzll(want);
	memset(s->slots, 0, want * sizeof(*s->slots));
	return 0;
}

/* Samples are 0 mod their rate: their low bits say little, so the home takes the high bits
 * of the product (Fibonacci hashing). */
static inline size_t set_home(const struct u32set *s, uint32_t v)
{
	return (size_t)(((uint64_t)v * 0x9e3779b97f4a7c15ULL) >> s->shift);
}

/* true when v was not in the set yet; *at: where it is */
static bool set_insert(struct u32set *s, uint32_t v, size_t *at)
{
	size_t mask = s->cap - 1, j = set_home(s, v);
	while (s->slots[j]) {
		if (s->slots[j] == v) {
			*at = j;
			return false;
		}
		j = (j + 1) & mask;
	}
	s->slots[j] = v;
	s->aux[j] = 0;
	*at = j;
	return true;
}

/* true when v was not in the set yet */
static bool set_add(struct u32set *s, uint32_t v)
{
	size_t mask = s->cap - 1, j = set_home(s, v);
	while (s->slots[j]) {
		if (s->slots[j] == v)
			return false;
		j = (j + 1) & mask;
	}
	s->slots[j] = v;
	return true;
}

/* Where v sits in the set, or SIZE_MAX. */
static size_t set_index(const struct u32set *s, uint32_t v)
{
	size_t mask = s->cap - 1, j = set_home(s, v);
	while (s->slots[j]) {
		if (s->slots[j] == v)
			return j;
		j = (j + 1) & mask;
	}
	return SIZE_MAX;
}

static bool set_has(const struct u32set *s, uint32_t v)
{
	return set_index(s, v) != SIZE_MAX;
}

static int64_t doc_time(const struct dd_ctx *c, const json_t *doc)
{
	static const char *const keys[] = {FM_DOC_PUBLISHED, FM_DOC_UPDATED, FM_DOC_FETCHED_AT};
	int64_t now = c->host->now_ms(), t;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = fm_doc_str(doc, keys[i]);
		time_t secs = v ? fm_date_parse(v) : (time_t)-1;
		/* a date far in the future is a feed's mistake: it would empty the window */
		if (secs != (time_t)-1 && (t = (int64_t)secs * 1000) <= now + 86400000LL)
			return t;
	}
	return now;
}

static int ensure_scratch(struct dd_ctx *c, size_t n)
{
	if (n <= c->scratch_cap)
		return 0;
	size_t nc = c->scratch_cap ? c->scratch_cap : 256;
	while (nc < n)
		nc *= 2;
	uint8_t *a = realloc(c->qncl, nc);
	if (!a)
		return -ENOMEM;
	c->qncl = a;
	uint32_t *q = realloc(c->qpos, nc * sizeof(*q));
	if (!q)
		return -ENOMEM;
	c->qpos = q;
	c->scratch_cap = nc;
	return 0;
}

/* --- near-duplicate search --- */

/* One step of a side's walk: sample found in the other text or not, own to the candidate's
 * story or not. */
struct walk_state {
	uint32_t run, inner, best_inner;
	bool seen_found;
};

static inline void side_step(struct side *s, struct walk_state *ws, bool f, bool own)
{
	s->n++;
	if (f) {
		if (ws->seen_found && ws->inner > ws->best_inner)
			ws->best_inner = ws->inner;
		ws->inner = 0;
		ws->seen_found = true;
	} else {
		ws->inner++;
	}
	if (!own)
		return;
	s->tot++;
	if (f) {
		s->mat++;
		ws->run = 0;
	} else if (++ws->run > s->run) {
		s->run = ws->run;
	}
}

static inline void side_end(struct side *s, const struct walk_state *ws)
{
	s->inner = ws->best_inner;
	s->c = s->tot ? (double)s->mat / s->tot : 0.0;
}

/* Walk the new text's samples (those 0 mod rate) against the candidate's: a sample weighs
 * when few stories hold it (counted when the candidates were sought). The candidate's samples
 * 0 mod rate were marked in qset by walk_cand() (run first): a sample 0 mod rate that the
 * candidate has is among them. */
static void walk_query(struct side *s, struct dd_ctx *c, uint32_t rate)
{
	memset(s, 0, sizeof(*s));
	struct walk_state ws = {0, 0, 0, false};
	const uint32_t *v = c->sk.samples;
	const uint32_t *mark = c->qset.mark, *pos = c->qpos, stamp = c->vstamp;
	for (uint32_t i = 0; i < c->sk.nsamples; i++) {
		if (v[i] & (rate - 1)) /* rate: 1, 2 or 4 (a division here costs more) */
			continue;
		side_step(s, &ws, mark[pos[i]] == stamp, c->qncl[i] <= DD_OWN_STORIES);
	}
	side_end(s, &ws);
}

/* Walk the candidate's samples against the new text's (in qset), marking those found there
 * for walk_query(). A shingle the new text has too was counted when the candidates were
 * sought; another one is looked up. */
static void walk_cand(struct side *s, struct dd_ctx *c, const struct dd_slot *cand,
                      uint32_t rate)
{
	memset(s, 0, sizeof(*s));
	struct walk_state ws = {0, 0, 0, false};
	const uint32_t *v = cand->samples;
	for (uint32_t i = 0; i < cand->nsamples; i++) {
		if (i + DD_PREFETCH < cand->nsamples)
			dd_index_prefetch(&c->ix, v[i + DD_PREFETCH]);
		if (v[i] & (rate - 1)) /* rate: 1, 2 or 4 (a division here costs more) */
			continue;
		size_t at = set_index(&c->qset, v[i]);
		bool f = at != SIZE_MAX;
		if (f)
			c->qset.mark[at] = c->vstamp;
		bool own = f ? c->qset.aux[at] <= DD_OWN_STORIES
		             : dd_index_few_stories(&c->ix, v[i], DD_OWN_STORIES);
		side_step(s, &ws, f, own);
	}
	side_end(s, &ws);
}

/* Share of one anchor list found in the other (the smaller list's view). */
static double anchor_containment(struct dd_ctx *c, const struct dd_slot *cand, uint32_t *shared)
{
	const uint32_t *qa = c->sk.anchors, *ca = cand->samples + cand->nsamples;
	uint32_t qn = c->sk.nanchors, cn = cand->nanchors;
	*shared = 0;
	if (!qn || !cn)
		return 0.0;
	/* the candidate's anchors into cset (it is rebuilt per candidate anyway) */
	if (set_reset(&c->cset, cn) < 0)
		return 0.0;
	for (uint32_t i = 0; i < cn; i++)
		set_add(&c->cset, ca[i]);
	uint32_t hit = 0;
	for (uint32_t i = 0; i < qn; i++)
		hit += set_has(&c->cset, qa[i]);
	*shared = hit;
	uint32_t small = qn < cn ? qn : cn;
	double r = (double)hit / small;
	return r > 1.0 ? 1.0 : r;
}

/*
 * The check on the texts themselves, before anything is called a copy. Let X be the text more
 * contained in the other (an excerpt, the original of a republished copy) and count only
 * samples that are the candidate story's own (a shingle other stories also have is template
 * or boilerplate and proves nothing):
 *  - X shares at least min_shared own samples, and at least `threshold` of them;
 *  - what X does not share is scattered: no run of unshared own samples longer than a third of
 *    X (one block of other text is another article: two passages in one template, a shared
 *    paragraph in two different stories);
 *  - not both texts have a block of unshared text in their middle (two articles in one
 *    template whose template lines are not known yet as such);
 * or, for a copy spun so hard that few shingles survive, X still shares a fair part of them
 * and the names and numbers of the two agree (anchor pairs).
 */
static bool verify(struct dd_ctx *c, const struct dd_slot *cand)
{
	const struct dd_config *cfg = c->cfg;
	if (++c->vstamp == 0) { /* marks older than the wrap could pass for current ones */
		memset(c->qset.mark, 0, c->qset.alloc * sizeof(*c->qset.mark));
		c->vstamp = 1;
	}
	/* compare at the coarser sampling of the two; counts below are then scaled to words
	 * (a sample stands for `rate` shingles) */
	uint32_t rate = c->sk.rate > cand->rate ? c->sk.rate : cand->rate;
	struct side q, k;
	walk_cand(&k, c, cand, rate); /* first: it marks what walk_query() finds */
	walk_query(&q, c, rate);
	const struct side *x = q.c >= k.c ? &q : &k;
	uint32_t ashared = 0;
	double a = anchor_containment(c, cand, &ashared);
	if (c->host->log_level() >= FM_LOG_DEBUG)
		c->host->log(c->inst, FM_LOG_DEBUG,
		             "candidate %s: new n=%u own=%u shared=%u run=%u inner=%u; "
		             "old n=%u own=%u shared=%u run=%u inner=%u; anchors %u/%u/%u %.2f",
		             cand->cl->key, q.n, q.tot, q.mat, q.run, q.inner, k.n, k.tot, k.mat,
		             k.run, k.inner, ashared, c->sk.nanchors, cand->nanchors, a);

	/* thresholds in shingles (about words): a sample stands for `rate` of them */
	bool both_inner = q.inner * rate >= 24 && k.inner * rate >= 24 && q.inner >= 0.15 * q.n &&
	                  k.inner >= 0.15 * k.n;
	if (both_inner)
		return false;
	bool block = x->run * rate >= 16 && x->run * 3 > x->tot;
	uint32_t min_shared = (uint32_t)cfg->min_shared * FM_DD_SAMPLE_MOD;
	uint32_t mat = x->mat * rate;
	if (block || mat < min_shared)
		return false;
	/* near-total containment: an excerpt, a republished or lightly edited copy */
	if (x->c >= DD_STRONG)
		return true;
	/* partial containment (edits, spinning) needs more: enough shared text, or names and
	 * figures that agree */
	bool names_agree = ashared >= 4 && a >= cfg->anchor_threshold;
	uint32_t enough = 2 * min_shared + 2 * FM_DD_SAMPLE_MOD;
	if (x->c >= cfg->threshold && (mat >= enough || names_agree))
		return true;
	/* heavily spun: a lower share of shingles, backed by both */
	if (x->c >= cfg->threshold * 0.5 && mat >= enough && ashared >= 6 &&
	    names_agree)
		return true;
	return false;
}

static uint32_t find_near(struct dd_ctx *c)
{
	struct dd_sketch *sk = &c->sk;
	struct dd_index *ix = &c->ix;
	uint32_t n = sk->nsamples;
	if (!n || !ix->fifo_len)
		return DD_NONE;
	if (ensure_scratch(c, n) < 0 || set_reset(&c->qset, n) < 0)
		return DD_NONE;
	uint32_t ntouched = 0;
	if (ix->nslots > c->slot_cap) {
		size_t nc = c->slot_cap ? c->slot_cap * 2 : 1024;
		while (nc < ix->nslots)
			nc *= 2;
		uint32_t *t = realloc(c->touched, nc * sizeof(*t));
		if (!t)
			return DD_NONE;
		c->touched = t;
		float *sc = realloc(c->slot_score, nc * sizeof(*sc));
		if (!sc)
			return DD_NONE;
		memset(sc + c->slot_cap, 0, (nc - c->slot_cap) * sizeof(*sc));
		c->slot_score = sc;
		c->slot_cap = nc;
	}
	float *score = c->slot_score;
	uint32_t *touched = c->touched;
	for (uint32_t i = 0; i < n; i++) {
		if (i + DD_PREFETCH < n)
			dd_index_prefetch(ix, sk->samples[i + DD_PREFETCH]);
		size_t at;
		bool fresh = set_insert(&c->qset, sk->samples[i], &at);
		struct dd_post p;
		dd_index_get(ix, sk->samples[i], &p);
		/* distinct stories holding this shingle: a shingle of many stories counts little */
		uint32_t ncl = p.stories > 254 ? 254 : p.stories;
		if (p.stories == DD_STOPPED)
			ncl = 255;
		c->qncl[i] = (uint8_t)ncl;
		c->qset.aux[at] = (uint8_t)ncl;
		c->qpos[i] = (uint32_t)at;
		if (ncl == 255)
			continue;
		const uint32_t *ids = p.slots;
		uint32_t np = p.n < DD_POSTING_CAP ? p.n : DD_POSTING_CAP;
		/* candidates come from the samples every sketch has (0 mod 4), so that a dense short
		 * text and a long one score alike */
		if (!fresh || !ncl || sk->samples[i] % FM_DD_SAMPLE_MOD)
			continue;
		float wgt = 1.0f / (float)ncl;
		for (uint32_t k = 0; k < np; k++) {
			uint32_t si = ids[k];
			float sc = score[si];
			if (sc == 0.0f) /* a weight is > 0: 0 is a slot not touched yet */
				touched[ntouched++] = si;
			score[si] = sc + wgt;
		}
	}
	/* the best few by score; a weak score cannot pass verify() anyway */
	uint32_t best[DD_MAX_CANDIDATES];
	uint32_t nbest = 0;
	float floor_score = (float)c->cfg->min_shared * 0.5f;
	for (uint32_t i = 0; i < ntouched; i++) {
		uint32_t si = touched[i];
		float sc = score[si];
		if (sc < floor_score)
			continue;
		uint32_t pos = nbest;
		while (pos > 0 && score[best[pos - 1]] < sc)
			pos--;
		if (pos >= DD_MAX_CANDIDATES)
			continue;
		uint32_t end = nbest < DD_MAX_CANDIDATES ? nbest : DD_MAX_CANDIDATES - 1;
		memmove(&best[pos + 1], &best[pos], (end - pos) * sizeof(best[0]));
		best[pos] = si;
		if (nbest < DD_MAX_CANDIDATES)
			nbest++;
	}
	for (uint32_t i = 0; i < ntouched; i++)
		score[touched[i]] = 0.0f;
	/* every story the text is verified against: it shows they are one (an excerpt seen first
	 * and a spun copy seen next each started a story before the original came) */
	uint32_t found = DD_NONE;
	for (uint32_t i = 0; i < nbest; i++) {
		struct dd_slot *s = &ix->slots[best[i]];
		if (found != DD_NONE && s->cl == ix->slots[found].cl)
			continue;
		if (!verify(c, s))
			continue;
		if (found == DD_NONE) {
			found = best[i];
			continue;
		}
		struct dd_cluster *a = ix->slots[found].cl, *b = s->cl;
		if (b->seq < a->seq) {
			struct dd_cluster *t = a;
			a = b;
			b = t;
			found = best[i];
		}
		c->host->count(c->inst, "dedupe_merged", 1);
		dd_index_merge(ix, a, b, (uint32_t)c->cfg->max_sources);
	}
	return found;
}

/* --- the stage --- */

static uint64_t id_key(const char *id, const char *source)
{
	if (!id || !*id)
		return 0;
	/* a GUID that is a URL or URN names one thing everywhere; a bare "1234" only within its
	 * source */
	uint64_t seed = strchr(id, ':') ? 0 : dd_hash_bytes(source ? source : "", source ? strlen(source) : 0, 7);
	uint64_t k = dd_hash_bytes(id, strlen(id), seed ^ 0x1d);
	return k ? k : 1;
}

static int set_sources(json_t *doc, const struct dd_cluster *cl)
{
	json_t *arr = json_array();
	if (!arr)
		return -ENOMEM;
	for (uint32_t i = 1; i < cl->nsources; i++)
		json_array_append_new(arr, json_string(cl->sources[i]));
	return json_object_set_new(doc, FM_DOC_ALSO_REPORTED_BY, arr) ? -ENOMEM : 0;
}

/* --- prepare: the sketch, on whichever thread the host runs it (plugin.h) --- */

/* A document's sketch, compact: what process() needs of it. */
struct dd_prep {
	uint64_t fp;
	uint64_t revw;
	uint32_t nwords, nsamples, nanchors, rate;
	uint32_t v[]; /* nsamples samples, then nanchors anchor pairs */
};

/* prepare() may run on several threads at once: each call borrows a scratch sketch (its
 * word buffer and code point cache) from this list, under the lock, and gives it back. The
 * list holds as many as ever ran at once; they are freed when the plugin is unloaded. */
struct scratch {
	struct dd_sketch sk;
	struct scratch *next;
};
static pthread_mutex_t scratch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct scratch *scratch_list;

static struct scratch *scratch_take(void)
{
	pthread_mutex_lock(&scratch_lock);
	struct scratch *s = scratch_list;
	if (s)
		scratch_list = s->next;
	pthread_mutex_unlock(&scratch_lock);
	return s ? s : calloc(1, sizeof(*s));
}

static void scratch_give(struct scratch *s)
{
	pthread_mutex_lock(&scratch_lock);
	s->next = scratch_list;
	scratch_list = s;
	pthread_mutex_unlock(&scratch_lock);
}

__attribute__((destructor)) static void scratch_free_all(void)
{
	while (scratch_list) {
		struct scratch *s = scratch_list;
		scratch_list = s->next;
		dd_sketch_free(&s->sk);
		free(s);
	}
}

/* What a reader sees of doc (revision.h), from the sketch just made of its text. */
static uint64_t doc_words(const json_t *doc, const struct dd_sketch *sk)
{
	json_t *jh = json_object_get(doc, FM_DOC_TITLE);
	const char *title = json_string_value(jh);
	return dd_revision_fp(title, title ? json_string_length(jh) : 0, sk->words, sk->nwords);
}

static void *dd_prepare(const void *config, const json_t *doc)
{
	const struct dd_config *cfg = config;
	json_t *jt = json_object_get(doc, FM_DOC_TEXT);
	const char *text = json_string_value(jt);
	size_t tlen = text ? json_string_length(jt) : 0;
	struct scratch *s = scratch_take();
	if (!s)
		return NULL;
	struct dd_prep *p = NULL;
	if (dd_sketch_text(&s->sk, text, tlen, cfg->max_text) == 0) {
		const struct dd_sketch *sk = &s->sk;
		p = malloc(sizeof(*p) + ((size_t)sk->nsamples + sk->nanchors) * sizeof(uint32_t));
		if (p) {
			p->fp = sk->fp;
			p->revw = doc_words(doc, sk);
			p->nwords = sk->nwords;
			p->nsamples = sk->nsamples;
			p->nanchors = sk->nanchors;
			p->rate = sk->rate;
			if (sk->nsamples)
				memcpy(p->v, sk->samples, sk->nsamples * sizeof(uint32_t));
			if (sk->nanchors)
				memcpy(p->v + sk->nsamples, sk->anchors,
				       sk->nanchors * sizeof(uint32_t));
		}
	}
	scratch_give(s);
	return p;
}

static void dd_release(void *prepared)
{
	free(prepared);
}

/* The document's sketch into c->sk: the prepared one when the host ran prepare(), else made
 * here. 0 or -ENOMEM. */
static int sketch_doc(struct dd_ctx *c, json_t *doc, fm_out *out)
{
	const struct dd_prep *p = c->host->prepared(out); /* lent: the host releases it */
	if (!p) {
		json_t *jt = json_object_get(doc, FM_DOC_TEXT);
		const char *text = json_string_value(jt);
		int rc = dd_sketch_text(&c->sk, text, text ? json_string_length(jt) : 0,
		                        c->cfg->max_text);
		c->revw = doc_words(doc, &c->sk);
		return rc;
	}
	struct dd_sketch *sk = &c->sk;
	uint32_t *smp, *anc;
	if (p->nsamples > sk->samples_cap) {
		smp = realloc(sk->samples, p->nsamples * sizeof(uint32_t));
		if (!smp)
			return -ENOMEM;
		sk->samples = smp;
		sk->samples_cap = p->nsamples;
	}
	if (p->nanchors > sk->anchors_cap) {
		anc = realloc(sk->anchors, p->nanchors * sizeof(uint32_t));
		if (!anc)
			return -ENOMEM;
		sk->anchors = anc;
		sk->anchors_cap = p->nanchors;
	}
	if (p->nsamples)
		memcpy(sk->samples, p->v, p->nsamples * sizeof(uint32_t));
	if (p->nanchors)
		memcpy(sk->anchors, p->v + p->nsamples, p->nanchors * sizeof(uint32_t));
	sk->fp = p->fp;
	c->revw = p->revw;
	sk->nwords = p->nwords;
	sk->nsamples = p->nsamples;
	sk->nanchors = p->nanchors;
	sk->rate = p->rate;
	return 0;
}

/* What process() knows of the document at hand. */
struct newdoc {
	const char *id, *url, *source;
	uint64_t idk, srck, urlk, fp, revfp, token;
	int64_t time_ms;
};

/* The delivery of slot si is in flight (token), or, from a host that acknowledges nothing,
 * settled at once. */
static void pend(struct dd_ctx *c, uint32_t si, uint64_t token)
{
	struct dd_slot *s = &c->ix.slots[si];
	c->dirty = true;
	if (!token) {
		s->flags |= DD_ACKED;
		return;
	}
	if ((s->flags & DD_PENDING) && s->token != token)
		dd_map_del(&c->by_token, s->token, si);
	s->flags = (s->flags & ~DD_ACKED) | DD_PENDING;
	s->token = token;
	if (dd_map_put(&c->by_token, token, si) < 0)
		s->flags &= ~DD_PENDING; /* no acknowledgement then: it stays tentative */
}

/* Index the document in story cl. Returns its slot, or DD_NONE (out of memory: logged). */
static uint32_t index_doc(struct dd_ctx *c, const struct newdoc *d, struct dd_cluster *cl,
                          bool dup, uint32_t rev)
{
	dd_index_evict(&c->ix, (uint32_t)c->cfg->max_docs - 1, c->cfg->window_ms);
	uint32_t si = dd_index_add(&c->ix, c->ix.next_seq, d->time_ms, cl, d->idk, d->urlk, d->fp,
	                           c->sk.samples, c->sk.nsamples, c->sk.rate, c->sk.anchors,
	                           c->sk.nanchors);
	c->dirty = true;
	if (si == DD_NONE) {
		fm_warn(c->host, c->inst, "out of memory: a document was not indexed");
		return DD_NONE;
	}
	struct dd_slot *s = &c->ix.slots[si];
	s->srckey = d->srck;
	s->revfp = d->revfp;
	s->rev = rev;
	s->flags = dup ? DD_DUP : 0;
	pend(c, si, d->token);
	return si;
}

/* A revision carries its number, and an "updated" time a reader sees move. */
static void mark_revision(struct dd_ctx *c, json_t *doc, uint32_t rev)
{
	json_object_set_new(doc, FM_DOC_REVISION, json_integer(rev));
	const char *upd = fm_doc_str(doc, FM_DOC_UPDATED), *pub = fm_doc_str(doc, FM_DOC_PUBLISHED);
	time_t tu = upd ? fm_date_parse(upd) : (time_t)-1;
	time_t tp = pub ? fm_date_parse(pub) : (time_t)-1;
	if (tu != (time_t)-1 && tu > tp)
		return; /* the source says when it changed */
	char now[21];
	fm_date_format((time_t)(c->host->now_ms() / 1000), now);
	fm_doc_set_str(doc, FM_DOC_UPDATED, now);
}

/* The document passes as it is, or, a copy of story cl, is dropped or marked. */
static int verdict(struct dd_ctx *c, json_t *doc, const struct dd_cluster *cl, bool dup,
                   uint32_t rev)
{
	if (rev > 1)
		mark_revision(c, doc, rev);
	if (!dup)
		return FM_PASS;
	if (!c->mark)
		return FM_DROP;
	if (fm_doc_set_str(doc, FM_DOC_DUPLICATE_OF, cl->key) < 0 || set_sources(doc, cl) < 0)
		fm_warn(c->host, c->inst, "out of memory marking a duplicate");
	return FM_PASS;
}

/* The same document (id and source) again, as slot si had it: revised, a replay of a delivery
 * not known to be published (the same verdict again), or seen (a re-poll). */
static int again(struct dd_ctx *c, json_t *doc, uint32_t si, const struct newdoc *d)
{
	struct dd_slot *s = &c->ix.slots[si];
	const fm_host *h = c->host;
	bool dup = s->flags & DD_DUP;
	if (!s->revfp) /* saved by a version that did not keep it */
		s->revfp = d->revfp;
	if (s->revfp != d->revfp) {
		struct dd_cluster *cl = s->cl;
		uint32_t rev = s->rev + 1;
		cl->refs++; /* eviction must not free it under us */
		index_doc(c, d, cl, dup, rev);
		h->count(c->inst, "dedupe_revised", 1);
		int st = verdict(c, doc, cl, dup, rev);
		dd_cluster_unref(&c->ix, cl);
		return st;
	}
	bool replay = d->token && ((s->flags & DD_PENDING) ? s->token == d->token
	                                                   : !(s->flags & DD_ACKED));
	if (replay) {
		pend(c, si, d->token);
		h->count(c->inst, "dedupe_replayed", 1);
		return verdict(c, doc, s->cl, dup, s->rev);
	}
	h->count(c->inst, "dedupe_by_id", 1);
	h->count(c->inst, "dedupe_duplicate", 1);
	return verdict(c, doc, s->cl, true, 1);
}

static int dd_process(void *ctx, json_t *doc, fm_out *out)
{
	struct dd_ctx *c = ctx;
	const fm_host *h = c->host;
	if (!json_is_object(doc))
		return FM_ERROR;
	struct newdoc d = {.id = fm_doc_str(doc, FM_DOC_ID), .url = fm_doc_str(doc, FM_DOC_URL),
	                   .source = fm_doc_str(doc, FM_DOC_SOURCE)};
	if (sketch_doc(c, doc, out) < 0) {
		fm_err(h, c->inst, "out of memory sketching a document");
		return FM_RETRY;
	}
	d.idk = id_key(d.id, d.source);
	d.srck = dd_hash_bytes(d.source ? d.source : "", d.source ? strlen(d.source) : 0, 0x73) | 1;
	if (d.url && dd_canon_url(&c->canon, d.url, &c->url))
		d.urlk = dd_hash_bytes(c->url.data, c->url.len, 0x75726c) | 1;
	d.fp = c->sk.nwords >= DD_MIN_FP_WORDS ? c->sk.fp : 0;
	d.revfp = dd_mix64(c->revw ^ d.urlk) | 1;
	d.token = c->acks ? h->delivery(out) : 0;
	d.time_ms = doc_time(c, doc);
	/* forget what this document's time puts out of the window before looking */
	if (d.time_ms > c->ix.newest_ms)
		c->ix.newest_ms = d.time_ms;
	dd_index_evict(&c->ix, (uint32_t)c->cfg->max_docs, c->cfg->window_ms);

	uint32_t match = dd_map_get(&c->ix.by_id, d.idk);
	/* srckey 0: saved by a version that did not keep it */
	if (match != DD_NONE && (c->ix.slots[match].srckey == d.srck || !c->ix.slots[match].srckey))
		return again(c, doc, match, &d);
	const char *how = NULL;
	if (match != DD_NONE)
		how = "dedupe_by_id"; /* the same GUID (a URL or URN) from another source */
	else if ((match = dd_map_get(&c->ix.by_url, d.urlk)) != DD_NONE)
		how = "dedupe_by_url";
	else if ((match = dd_map_get(&c->ix.by_fp, d.fp)) != DD_NONE)
		how = "dedupe_by_text";
	else if ((match = find_near(c)) != DD_NONE)
		how = "dedupe_by_near";

	struct dd_cluster *cl;
	if (match != DD_NONE) {
		cl = c->ix.slots[match].cl;
		cl->refs++; /* eviction below must not free it under us */
		if (dd_cluster_add_source(&c->ix, cl, d.source, (uint32_t)c->cfg->max_sources) < 0)
			fm_warn(h, c->inst, "out of memory recording a source");
		h->count(c->inst, how, 1);
		h->count(c->inst, "dedupe_duplicate", 1);
	} else {
		const char *key = d.id && *d.id ? d.id : d.url;
		if (!key || !*key) {
			fm_buf_truncate(&c->key, 0);
			fm_buf_printf(&c->key, "text:%016" PRIx64, c->sk.fp);
			key = fm_buf_str(&c->key);
		}
		cl = dd_cluster_new(&c->ix, key, d.source);
		if (!cl) {
			fm_err(h, c->inst, "out of memory indexing a document");
			return FM_RETRY;
		}
		h->count(c->inst, "dedupe_unique", 1);
	}
	index_doc(c, &d, cl, match != DD_NONE, 1);
	int st = verdict(c, doc, cl, match != DD_NONE, 1);
	dd_cluster_unref(&c->ix, cl);
	return st;
}

/* Deliveries settled (or failed) downstream: their documents' standing. */
static void dd_ack(void *ctx, const uint64_t *tokens, size_t n, int failed)
{
	struct dd_ctx *c = ctx;
	for (size_t i = 0; i < n; i++) {
		uint32_t si = dd_map_get(&c->by_token, tokens[i]);
		if (si == DD_NONE)
			continue;
		dd_map_del(&c->by_token, tokens[i], si);
		struct dd_slot *s = &c->ix.slots[si];
		if (!s->cl || !(s->flags & DD_PENDING) || s->token != tokens[i])
			continue; /* evicted since, or delivered again under another token */
		s->flags &= ~DD_PENDING;
		if (!failed)
			s->flags |= DD_ACKED;
		s->token = 0;
		c->dirty = true;
	}
}

static void save(struct dd_ctx *c)
{
	if (!c->cfg->persist || !c->dirty || !c->state_dir)
		return;
	char err[512];
	if (dd_state_save(&c->ix, c->state_dir, err, sizeof(err)) < 0) {
		fm_err(c->host, c->inst, "cannot save the dedupe index: %s", err);
		return;
	}
	c->dirty = false;
	fm_debug(c->host, c->inst, "saved %u documents (%zu bytes in memory, %zu a document)",
	         c->ix.fifo_len, dd_index_memory(&c->ix),
	         c->ix.fifo_len ? dd_index_memory(&c->ix) / c->ix.fifo_len : (size_t)0);
}

static void dd_tick(void *ctx, int64_t now_ms)
{
	struct dd_ctx *c = ctx;
	(void)now_ms;
	if (dd_index_evict(&c->ix, (uint32_t)c->cfg->max_docs, c->cfg->window_ms))
		c->dirty = true;
}

static void dd_flush(void *ctx)
{
	save(ctx);
}

static void dd_fini(void *ctx)
{
	struct dd_ctx *c = ctx;
	if (!c)
		return;
	save(c);
	dd_index_fini(&c->ix);
	dd_map_free(&c->by_token);
	dd_sketch_free(&c->sk);
	dd_canon_fini(&c->canon);
	fm_buf_free(&c->url);
	fm_buf_free(&c->key);
	free(c->qset.slots);
	free(c->qset.aux);
	free(c->qset.mark);
	free(c->cset.mark);
	free(c->qpos);
	free(c->cset.aux);
	free(c->cset.slots);
	free(c->qncl);
	free(c->touched);
	free(c->slot_score);
	free(c);
}

/* Move a damaged index aside, so that the next save does not destroy what someone may want
 * to look at. */
static void keep_bad_file(const char *dir)
{
	char *from = NULL, *to = NULL;
	if (asprintf(&from, "%s/%s", dir, DD_STATE_FILE) >= 0 &&
	    asprintf(&to, "%s/%s.bad", dir, DD_STATE_FILE) >= 0)
		(void)rename(from, to);
	free(from);
	free(to);
}

static int dd_init(void **ctxp, const fm_host *host, fm_instance *inst, const void *config)
{
	const struct dd_config *cfg = config;
	struct dd_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->host = host;
	c->inst = inst;
	c->cfg = cfg;
	c->mark = cfg->mode && !strcmp(cfg->mode, "mark");
	/* A host that acknowledges nothing (before ABI 1.3) gets the rule of then: a document is
	 * taken as published once it passed. */
	c->acks = host->struct_size >= offsetof(fm_host, delivery) + sizeof(void *) &&
	          host->delivery;
	dd_index_init(&c->ix);
	char err[512] = "";
	int rc = dd_canon_init(&c->canon, cfg->strip_params.items, cfg->strip_params.n,
	                       cfg->url_rules.items, cfg->url_rules.n, err, sizeof(err));
	if (rc < 0) {
		fm_err(host, inst, "%s", rc == -ENOMEM ? "out of memory" : err);
		goto fail;
	}
	/* A pipe's temporary state dies with it: saving the index there only costs time. */
	bool keep = host->struct_size > offsetof(fm_host, state_persistent) &&
	            host->state_persistent ? host->state_persistent(inst) : true;
	if (cfg->persist && keep) {
		c->state_dir = host->state_dir(inst);
		if (!c->state_dir) {
			fm_warn(host, inst, "no state directory: the index will not survive a restart");
		} else {
			int found = 0;
			rc = dd_state_load(&c->ix, c->state_dir, &found, err, sizeof(err));
			if (rc == -ENOMEM) {
				fm_err(host, inst, "out of memory loading the dedupe index");
				goto fail;
			}
			if (rc < 0) {
				/* a damaged index costs some missed duplicates, never the stage */
				fm_warn(host, inst, "ignoring the saved dedupe index: %s (kept as %s.bad)",
				        err, DD_STATE_FILE);
				keep_bad_file(c->state_dir);
				c->dirty = true;
			} else if (found) {
				dd_index_evict(&c->ix, (uint32_t)cfg->max_docs, cfg->window_ms);
				fm_info(host, inst, "loaded %u documents of %zu stories", c->ix.fifo_len,
				        c->ix.nclusters);
			}
		}
	}
	*ctxp = c;
	return 0;
fail:
	c->cfg = cfg;
	c->state_dir = NULL;
	dd_fini(c);
	return rc;
}

static const struct fm_plugin dd_plugin = {
	.abi_major = FM_ABI_MAJOR,
	.abi_minor = FM_ABI_MINOR,
	.struct_size = sizeof(struct fm_plugin),
	.name = "similar",
	.kind = "dedupe",
	.version = "1.0.0",
	.summary = "drops or marks copies of stories already seen: same id or URL, same text, "
	           "near copies, excerpts and synonym-spun copies",
	.flags = FM_PLUGIN_SINGLETON,
	.options = dd_options,
	.config_size = sizeof(struct dd_config),
	.init = dd_init,
	.process = dd_process,
	.tick = dd_tick,
	.flush = dd_flush,
	.fini = dd_fini,
	.commands = NULL,
	.prepare = dd_prepare,
	.release = dd_release,
	.ack = dd_ack,
};

FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void);
FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void)
{
	return &dd_plugin;
}
