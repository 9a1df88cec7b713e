/*
 * dedupe_similar: the index of recent documents.
 *
 * Every indexed document is a slot holding its identity keys (id, canonical URL, text
 * fingerprint), its sketch (sampled shingle hashes and anchor pairs, see sketch.h) and the story
 * (cluster) it belongs to. Three hash maps find a slot by key; an inverted index maps a sampled
 * shingle to the slots holding it (a posting list), which is what answers "which documents share
 * text with this one" without looking at every document: the work per query is the sum of the
 * posting lengths of its samples, and postings are capped (a shingle in more than
 * DD_POSTING_CAP documents is boilerplate and stops being indexed).
 *
 * Slots leave in arrival order (a FIFO) when the index exceeds max_docs or a document falls out
 * of the time window.
 *
 * Memory per indexed document, measured with dd_index_memory() on a stream of 30,000 distinct
 * documents of 480 words on average (64-bit): about 2.8 KB, of which 1.6 KB is postings
 * (138 samples x an 8-byte key-table entry at a load of at most 0.7; a shingle of one
 * document holds its slot in the entry, a shared one a block of 4-byte slots in the pool,
 * which costs less per document than an entry each), 0.8 KB the sketch itself (samples and
 * up to 64 anchor pairs, 4 bytes each), and the rest the slot (72 bytes then; 104 since it
 * keeps a standing and a revision), the three key maps (~100 bytes) and the share of the story record (id and sources, ~100 bytes); up to 3.3 KB
 * right after the postings table doubles. The stage adds 8 bytes a slot of scoring scratch
 * (which the slot record used to hold). Re-measured after the speed work on a synthetic stream
 * of 30,000 distinct documents of 487 words: 3,152 bytes a document, against 3,156 for the
 * code before it on the same stream (that stream sits just after a doubling). It grows with
 * text length up to the max_text bound (a sample per 4 words past 240 words). The state file
 * takes ~1.1 KB a document. An index starts at 4 MB (the postings table and pool, a 2 MB huge
 * page each; index.c), whatever its size, and the samples and anchors live in a log of 2 MB
 * chunks (index.c) from the first document on; the 0.8 KB a document above is their share
 * of it.
 */
#ifndef DD_INDEX_H
#define DD_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DD_NONE UINT32_MAX
#define DD_POSTING_CAP 64u
#define DD_PB_CLASSES 6u /* posting block sizes (index.c) */

/* A story: the first document's key and the sources that carried it. Shared by the slots of
 * its documents (refcounted); it outlives the first document's slot. */
struct dd_cluster {
	char *key;        /* id of the story's first document (else its URL) */
	char **sources;   /* sources[0]: the first document's source ("" if none) */
	uint32_t nsources;
	uint32_t refs;
	uint64_t seq;     /* arrival number of its first document: the older story wins a merge */
	uint32_t save_index;
};

struct dd_slot {
	uint64_t seq;
	int64_t time_ms;
	struct dd_cluster *cl; /* NULL: free slot */
	uint64_t idkey, urlkey, fp;
	uint32_t *samples;     /* nsamples shingle hashes then nanchors anchor hashes (in the
	                        * sample log, index.c) */
	uint32_t nsamples;
	uint32_t nanchors;
	uint32_t rate;         /* the sketch's sampling rate (sketch.h) */
	uint32_t chunk;        /* the log chunk holding samples */
	uint64_t srckey;       /* its source: the same id from another source is a copy */
	uint64_t revfp;        /* what a reader sees of it (revision.h); 0: not known */
	uint64_t token;        /* DD_PENDING: the delivery in flight (plugin.h, ack) */
	uint32_t rev;          /* its revision: 1, then one more for each change seen */
	uint32_t flags;        /* DD_ACKED, DD_DUP, DD_PENDING */
};

/* A document's standing (dd_slot.flags). Until acknowledged (plugin.h, ack), a document is
 * tentative: the same document coming again is a replay of it, and passes again. */
#define DD_ACKED 1u   /* settled: every output has it (or it was dropped for good) */
#define DD_DUP 2u     /* it was a copy of an earlier story when it came: its verdict */
#define DD_PENDING 4u /* a delivery of this run is in flight (token) */
#define DD_SAVED_FLAGS (DD_ACKED | DD_DUP)

/* A chunk of the sample log (index.c). */
struct dd_chunk {
	uint32_t *words;
	size_t cap, used; /* in words */
	uint32_t live;    /* slots whose samples are here */
};

struct dd_map {
	uint64_t *keys; /* 0: empty */
	uint32_t *vals;
	size_t cap, n;
};

/* Postings (index.c): a key table entry. */
struct dd_pkey {
	uint32_t key; /* sampled shingle; 0: empty */
	uint32_t val; /* the one slot holding it, or a block of the pool (flags in index.c) */
};

struct dd_index {
	struct dd_slot *slots;
	uint32_t nslots, slots_cap;
	uint32_t *freelist;
	uint32_t nfree, free_cap;
	uint32_t *fifo; /* ring of slot indices, arrival order */
	uint32_t fifo_cap, fifo_head, fifo_len;
	struct dd_map by_id, by_url, by_fp;
	struct dd_pkey *pk; /* postings (index.c) */
	size_t pk_cap, pk_n;
	unsigned pk_shift;  /* 64 - log2(pk_cap) */
	uint32_t *pb;       /* pool of posting blocks */
	size_t pb_cap, pb_n;
	uint32_t pb_free[DD_PB_CLASSES]; /* free blocks of each size class */
	struct dd_chunk *chunks; /* the sample log */
	uint32_t nchunks, cur_chunk;
	uint64_t next_seq;
	int64_t newest_ms;
	size_t sketch_bytes, cluster_bytes;
	size_t nclusters;
};

void dd_index_init(struct dd_index *ix);
void dd_index_fini(struct dd_index *ix);

uint32_t dd_map_get(const struct dd_map *m, uint64_t key);
/* Insert or overwrite key (nonzero). 0 or -ENOMEM. */
int dd_map_put(struct dd_map *m, uint64_t key, uint32_t val);
/* Remove key only while it still points at val. */
void dd_map_del(struct dd_map *m, uint64_t key, uint32_t val);
void dd_map_free(struct dd_map *m);

/* The slots holding shingle key (at most DD_POSTING_CAP) into out; *stop tells that the
 * shingle is in too many documents to be indexed (boilerplate). Returns the count. */
uint32_t dd_index_postings(const struct dd_index *ix, uint32_t key, uint32_t *out, bool *stop);

/* Home of a sampled shingle in the postings key table. Fibonacci hashing, taking the HIGH bits
 * of the product: samples are all 0 mod their rate (sketch.h), so their low bits are zero and
 * a mask of the low bits would leave 3 of 4 homes unused and make long probe runs. */
static inline size_t dd_pk_home(uint32_t key, unsigned shift)
{
	return (size_t)(((uint64_t)key * 0x9e3779b97f4a7c15ULL) >> shift);
}

/* Start loading the postings entry of key: a document's samples are looked up in a row, and
 * the table is larger than the caches, so that the misses overlap instead of adding up. */
#define DD_PREFETCH 8 /* samples ahead */
static inline void dd_index_prefetch(const struct dd_index *ix, uint32_t key)
{
	if (ix->pk_cap)
		__builtin_prefetch(&ix->pk[dd_pk_home(key, ix->pk_shift)]);
}

#define DD_STOPPED 255u /* dd_post.stories of a boilerplate shingle */

/* The documents holding a shingle, read in place (valid until the index changes). */
struct dd_post {
	const uint32_t *slots; /* n slots in arrival order */
	uint32_t n;
	uint32_t stories;      /* distinct stories among them; DD_STOPPED: too many documents */
	uint32_t one;          /* the slot of a shingle of one document (slots points here) */
};

/* The postings key table's entry val (index.c has the layout): inline here, because a
 * document looks up every sample, and a candidate's too. */
#define PK_LIST 0x80000000u /* val: a block (its word offset), not a slot */
#define PK_STOP 0x40000000u /* with PK_LIST: too many documents, boilerplate */
#define PK_NODE 0x3fffffffu /* with PK_LIST: the block */
#define PB_COUNT 0xffu      /* block header: slots in it */
#define PB_STORIES(h) (((h) >> 8) & 0xffu) /* block header: distinct stories */

/* The entry of key, or the empty entry where it would go (pk_cap > 0). */
static inline size_t dd_pk_find(const struct dd_index *ix, uint32_t key)
{
	size_t mask = ix->pk_cap - 1, j = dd_pk_home(key, ix->pk_shift);
	while (ix->pk[j].key && ix->pk[j].key != key)
		j = (j + 1) & mask;
	return j;
}

static inline void dd_index_get(const struct dd_index *ix, uint32_t key, struct dd_post *p)
{
	p->n = 0;
	p->stories = 0;
	p->slots = &p->one;
	if (!ix->pk_cap)
		return;
	size_t j = dd_pk_find(ix, key);
	if (!ix->pk[j].key)
		return;
	uint32_t val = ix->pk[j].val;
	if (!(val & PK_LIST)) {
		p->one = val;
		p->n = 1;
		p->stories = 1;
		return;
	}
	const uint32_t *blk = ix->pb + (val & PK_NODE);
	p->slots = blk + 1;
	p->n = blk[0] & PB_COUNT;
	p->stories = (val & PK_STOP) ? DD_STOPPED : PB_STORIES(blk[0]);
}

/* Whether at most max distinct stories hold shingle key: false for a stopped one. */
static inline bool dd_index_few_stories(const struct dd_index *ix, uint32_t key, uint32_t max)
{
	if (!ix->pk_cap)
		return true;
	size_t j = dd_pk_find(ix, key);
	if (!ix->pk[j].key)
		return true;
	uint32_t val = ix->pk[j].val;
	if (!(val & PK_LIST))
		return 1 <= max;
	if (val & PK_STOP)
		return DD_STOPPED <= max;
	return PB_STORIES(ix->pb[val & PK_NODE]) <= max;
}

/* New story with one reference held by the caller. */
struct dd_cluster *dd_cluster_new(struct dd_index *ix, const char *key, const char *source);
void dd_cluster_unref(struct dd_index *ix, struct dd_cluster *cl);
/* Add source when new; keeps at most max sources. Returns 0 or -ENOMEM. */
int dd_cluster_add_source(struct dd_index *ix, struct dd_cluster *cl, const char *source,
                          uint32_t max);

/* One document verified as a copy of two stories shows they are one: move every document of
 * `from` to `into` and join the sources (at most max). O(indexed documents); rare. */
void dd_index_merge(struct dd_index *ix, struct dd_cluster *into, struct dd_cluster *from,
                    uint32_t max);

/* Index a document. Takes a new reference on cl. Returns the slot index or DD_NONE (OOM). */
uint32_t dd_index_add(struct dd_index *ix, uint64_t seq, int64_t time_ms, struct dd_cluster *cl,
                      uint64_t idkey, uint64_t urlkey, uint64_t fp, const uint32_t *samples,
                      uint32_t nsamples, uint32_t rate, const uint32_t *anchors,
                      uint32_t nanchors);

/* Evict from the oldest while more than max_docs are indexed or the oldest is older than
 * newest - window_ms (window_ms <= 0: no time bound). Returns how many were evicted. */
size_t dd_index_evict(struct dd_index *ix, uint32_t max_docs, int64_t window_ms);

/* The slot at FIFO position i (0: oldest). */
static inline uint32_t dd_index_fifo_at(const struct dd_index *ix, uint32_t i)
{
	return ix->fifo[(ix->fifo_head + i) & (ix->fifo_cap - 1)]; /* fifo_cap: a power of two */
}

/* Bytes held by the index (structures and arrays, not malloc overhead). */
size_t dd_index_memory(const struct dd_index *ix);

#endif
