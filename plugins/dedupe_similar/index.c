/* dedupe_similar: the index of recent documents (see index.h). */
#include "index.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sketch.h"

/* --- large tables ---
 * The postings key table and block pool are the index's large arrays read at random (the
 * table is 160-270 MB for 100,000 documents of 480 words). From 2 MB up they are anonymous
 * mappings aligned to 2 MB and marked for transparent huge pages, so that they fault in and
 * are addressed (TLB) by 2 MB instead of 4 KB (the kernel may decline; then they are ordinary
 * pages): ~2.5 us a document less on the bench once the process is warm. Smaller tables use
 * malloc. Either way the memory comes zeroed. The key table and the pool start at 2 MB each:
 * starting smaller cost ~400 page faults and three rehashes in the first 1,500 documents
 * (~3 ms of a 80 ms bench run), for 4 MB that a stage holding 100,000 documents needs anyway. */

#define BIG_TABLE ((size_t)2 << 20)

static void *table_alloc(size_t bytes)
{
	if (bytes < BIG_TABLE)
		return calloc(1, bytes);
	size_t len = (bytes + BIG_TABLE - 1) & ~(BIG_TABLE - 1);
	char *m = mmap(NULL, len + BIG_TABLE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	               -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	char *p = (char *)(((uintptr_t)m + BIG_TABLE - 1) & ~(uintptr_t)(BIG_TABLE - 1));
	if (p > m)
		munmap(m, (size_t)(p - m));
	if (m + len + BIG_TABLE > p + len)
		munmap(p + len, (size_t)(m + len + BIG_TABLE - (p + len)));
#ifdef MADV_HUGEPAGE
	(void)madvise(p, len, MADV_HUGEPAGE);
#endif
	return p;
}

/* bytes: as given to table_alloc */
static void table_free(void *p, size_t bytes)
{
	if (!p)
		return;
	if (bytes < BIG_TABLE)
		free(p);
	else
		munmap(p, (bytes + BIG_TABLE - 1) & ~(BIG_TABLE - 1));
}

/* --- u64 -> u32 map: open addressing, linear probing, backward-shift deletion --- */

static int map_grow(struct dd_map *m)
{
	size_t nc = m->cap ? m->cap * 2 : 1024;
	uint64_t *k = calloc(nc, sizeof(*k));
	uint32_t *v = malloc(nc * sizeof(*v));
	if (!k || !v) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		size_t j = dd_mix64(m->keys[i]) & (nc - 1);
		while (k[j])
			j = (j + 1) & (nc - 1);
		k[j] = m->keys[i];
		v[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = k;
	m->vals = v;
	m->cap = nc;
	return 0;
}

uint32_t dd_map_get(const struct dd_map *m, uint64_t key)
{
	if (!key || !m->cap)
		return DD_NONE;
	size_t j = dd_mix64(key) & (m->cap - 1);
	while (m->keys[j]) {
		if (m->keys[j] == key)
			return m->vals[j];
		j = (j + 1) & (m->cap - 1);
	}
	return DD_NONE;
}

/* Insert or overwrite (the newer document keeps the key: it stays longer). */
int dd_map_put(struct dd_map *m, uint64_t key, uint32_t val)
{
	if (!key)
		return 0;
	if ((m->n + 1) * 2 > m->cap && map_grow(m) < 0)
		return -ENOMEM;
	size_t j = dd_mix64(key) & (m->cap - 1);
	while (m->keys[j]) {
		if (m->keys[j] == key) {
			m->vals[j] = val;
			return 0;
		}
		j = (j + 1) & (m->cap - 1);
	}
	m->keys[j] = key;
	m->vals[j] = val;
	m->n++;
	return 0;
}

/* Remove key only while it still points at val. */
void dd_map_del(struct dd_map *m, uint64_t key, uint32_t val)
{
	if (!key || !m->cap)
		return;
	size_t mask = m->cap - 1, j = dd_mix64(key) & mask;
	while (m->keys[j] && m->keys[j] != key)
		j = (j + 1) & mask;
	if (!m->keys[j] || m->vals[j] != val)
		return;
	size_t hole = j;
	for (size_t i = (hole + 1) & mask; m->keys[i]; i = (i + 1) & mask) {
		size_t home = dd_mix64(m->keys[i]) & mask;
		/* move i into the hole when its home is not within (hole, i] cyclically */
		bool between = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
		if (!between) {
			m->keys[hole] = m->keys[i];
			m->vals[hole] = m->vals[i];
			hole = i;
		}
	}
	m->keys[hole] = 0;
	m->n--;
}

void dd_map_free(struct dd_map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

/* --- postings: shingle -> the slots holding it ---
 * Most shingles of a stream belong to one document, so a list per shingle (a malloc each)
 * would cost far more than the posting itself. A key table (open addressing, linear probing,
 * backward-shift deletion, each shingle once) holds the one slot of a shingle inline; a shingle
 * of several documents points instead at a block in one pool of u32 words (no malloc per
 * list): a header word (count, size class) then the slots in arrival order, contiguous so that
 * reading a list touches one or two cache lines. A full block moves to the next size class
 * (4, 8, ... 128 words); freed blocks go to a free list of their class. Keys being unique keeps
 * probe runs short even when many copies of a story share all their shingles (a table of
 * (shingle, slot) pairs puts all of them in one run).
 * A shingle reaching DD_POSTING_CAP documents is flagged stopped and takes no more postings;
 * the flag goes with its last document. */

/* PK_LIST, PK_STOP, PK_NODE: index.h (the look-ups are inline there) */
#define PB_CLASSES DD_PB_CLASSES /* block sizes 4 << class words; the last holds 127 */
/* Header word of a block: count of slots (bits 0-7), distinct stories among them (bits 8-15,
 * kept current on every add, removal and merge, so that a look-up need not visit the slots),
 * size class (bits 16-). */
/* PB_COUNT, PB_STORIES: index.h */
#define PB_STORY 0x100u

static inline uint32_t pb_cap(uint32_t cls)
{
	return (4u << cls) - 1u;
}

static int pk_grow(struct dd_index *ix)
{
	size_t nc = ix->pk_cap ? ix->pk_cap * 2 : BIG_TABLE / sizeof(struct dd_pkey);
	struct dd_pkey *p = table_alloc(nc * sizeof(*p));
	if (!p)
		return -ENOMEM;
	unsigned shift = 64u - (unsigned)__builtin_ctzll(nc);
	for (size_t i = 0; i < ix->pk_cap; i++) {
		if (!ix->pk[i].key)
			continue;
		size_t j = dd_pk_home(ix->pk[i].key, shift);
		while (p[j].key)
			j = (j + 1) & (nc - 1);
		p[j] = ix->pk[i];
	}
	table_free(ix->pk, ix->pk_cap * sizeof(*p));
	ix->pk = p;
	ix->pk_cap = nc;
	ix->pk_shift = shift;
	return 0;
}

#define pk_find dd_pk_find

static void pk_delete_at(struct dd_index *ix, size_t j)
{
	size_t mask = ix->pk_cap - 1, hole = j;
	for (size_t i = (hole + 1) & mask; ix->pk[i].key; i = (i + 1) & mask) {
		size_t home = dd_pk_home(ix->pk[i].key, ix->pk_shift);
		bool between = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
		if (!between) {
			ix->pk[hole] = ix->pk[i];
			hole = i;
		}
	}
	ix->pk[hole].key = 0;
	ix->pk[hole].val = 0;
	ix->pk_n--;
}

/* A block of class cls (header set to count 0), or DD_NONE. */
static uint32_t pb_alloc(struct dd_index *ix, uint32_t cls)
{
	uint32_t b = ix->pb_free[cls];
	if (b != DD_NONE) {
		ix->pb_free[cls] = ix->pb[b];
	} else {
		size_t words = 4u << cls;
		if (ix->pb_n + words > ix->pb_cap) {
			size_t nc = ix->pb_cap ? ix->pb_cap * 2 : BIG_TABLE / sizeof(uint32_t);
			while (nc < ix->pb_n + words)
				nc *= 2;
			if (nc > (size_t)PK_NODE + 1)
				return DD_NONE;
			uint32_t *p;
			if (nc * sizeof(*p) < BIG_TABLE) {
				/* realloc: a large malloc block grows by mremap, without touching
				 * its pages again (first touches are the dear part: a fault a page) */
				p = realloc(ix->pb, nc * sizeof(*p));
				if (!p)
					return DD_NONE;
			} else {
				p = table_alloc(nc * sizeof(*p));
				if (!p)
					return DD_NONE;
				if (ix->pb_n)
					memcpy(p, ix->pb, ix->pb_n * sizeof(*p));
				table_free(ix->pb, ix->pb_cap * sizeof(*p));
			}
			ix->pb = p;
			ix->pb_cap = nc;
		}
		b = (uint32_t)ix->pb_n;
		ix->pb_n += words;
	}
	ix->pb[b] = cls << 16;
	return b;
}

static void pb_release(struct dd_index *ix, uint32_t b)
{
	uint32_t cls = ix->pb[b] >> 16;
	ix->pb[b] = ix->pb_free[cls];
	ix->pb_free[cls] = b;
}

uint32_t dd_index_postings(const struct dd_index *ix, uint32_t key, uint32_t *out, bool *stop)
{
	struct dd_post p;
	dd_index_get(ix, key, &p);
	*stop = p.stories == DD_STOPPED;
	uint32_t n = p.n < DD_POSTING_CAP ? p.n : DD_POSTING_CAP;
	memcpy(out, p.slots, n * sizeof(*out));
	return n;
}

/* Count the distinct stories of block b again (after a merge). */
static void pb_recount(struct dd_index *ix, uint32_t b)
{
	const uint32_t *v = ix->pb + b + 1;
	uint32_t cnt = ix->pb[b] & PB_COUNT, n = 0;
	for (uint32_t t = 0; t < cnt; t++) {
		const struct dd_cluster *cl = ix->slots[v[t]].cl;
		uint32_t u = 0;
		while (u < t && ix->slots[v[u]].cl != cl)
			u++;
		n += u == t;
	}
	ix->pb[b] = (ix->pb[b] & ~(0xffu << 8)) | n << 8;
}

/* Whether a slot of block b other than `except` (an index into its slots) is of story cl. */
static bool pb_has_story(const struct dd_index *ix, uint32_t b, const struct dd_cluster *cl,
                         uint32_t except)
{
	const uint32_t *v = ix->pb + b + 1;
	uint32_t cnt = ix->pb[b] & PB_COUNT;
	for (uint32_t t = 0; t < cnt; t++)
		if (t != except && ix->slots[v[t]].cl == cl)
			return true;
	return false;
}

static int post_add(struct dd_index *ix, uint32_t key, uint32_t slot)
{
	if ((ix->pk_n + 1) * 10 > ix->pk_cap * 7 && pk_grow(ix) < 0)
		return -ENOMEM;
	size_t j = pk_find(ix, key);
	struct dd_pkey *e = &ix->pk[j];
	if (!e->key) {
		e->key = key;
		e->val = slot;
		ix->pk_n++;
		return 0;
	}
	if (!(e->val & PK_LIST)) {
		if (e->val == slot)
			return 0; /* the same shingle twice in one document */
		uint32_t b = pb_alloc(ix, 0);
		if (b == DD_NONE)
			return -ENOMEM;
		ix->pb[b] |= 2 | (ix->slots[e->val].cl == ix->slots[slot].cl ? 1 : 2) * PB_STORY;
		ix->pb[b + 1] = e->val;
		ix->pb[b + 2] = slot;
		e->val = PK_LIST | b;
		return 0;
	}
	if (e->val & PK_STOP)
		return 0;
	uint32_t b = e->val & PK_NODE, hdr = ix->pb[b], cnt = hdr & PB_COUNT, cls = hdr >> 16;
	/* a document's postings go in together, and a slot leaves every list before it is
	 * reused: the same shingle twice in one document finds its slot last */
	if (ix->pb[b + cnt] == slot)
		return 0;
	if (cnt >= DD_POSTING_CAP) {
		e->val |= PK_STOP;
		return 0;
	}
	if (cnt == pb_cap(cls)) {
		if (cls + 1 >= PB_CLASSES)
			return -ENOMEM; /* cannot happen: the largest class holds DD_POSTING_CAP */
		uint32_t nb = pb_alloc(ix, cls + 1);
		if (nb == DD_NONE)
			return -ENOMEM;
		memcpy(ix->pb + nb + 1, ix->pb + b + 1, cnt * sizeof(uint32_t));
		ix->pb[nb] |= hdr & (PB_COUNT | (0xffu << 8));
		pb_release(ix, b);
		b = nb;
		e->val = (e->val & ~PK_NODE) | b;
	}
	/* a copy of a story in the list is found first, mostly at once */
	if (!pb_has_story(ix, b, ix->slots[slot].cl, UINT32_MAX))
		ix->pb[b] += PB_STORY;
	ix->pb[b + 1 + cnt] = slot;
	ix->pb[b]++;
	return 0;
}

static void post_remove(struct dd_index *ix, uint32_t key, uint32_t slot)
{
	if (!ix->pk_cap)
		return;
	size_t j = pk_find(ix, key);
	struct dd_pkey *e = &ix->pk[j];
	if (!e->key)
		return;
	if (!(e->val & PK_LIST)) {
		if (e->val == slot)
			pk_delete_at(ix, j);
		return;
	}
	uint32_t b = e->val & PK_NODE, cnt = ix->pb[b] & PB_COUNT;
	uint32_t *v = ix->pb + b + 1;
	uint32_t t = 0;
	while (t < cnt && v[t] != slot)
		t++;
	if (t == cnt)
		return;
	if (!pb_has_story(ix, b, ix->slots[slot].cl, t))
		ix->pb[b] -= PB_STORY;
	memmove(v + t, v + t + 1, (cnt - t - 1) * sizeof(*v));
	cnt--;
	ix->pb[b]--;
	if (cnt == 0) {
		/* a stopped shingle is forgotten with its last indexed document */
		pb_release(ix, b);
		pk_delete_at(ix, j);
	} else if (cnt == 1 && !(e->val & PK_STOP)) {
		e->val = v[0]; /* one document again: inline */
		pb_release(ix, b);
	}
}

/* --- clusters --- */

struct dd_cluster *dd_cluster_new(struct dd_index *ix, const char *key, const char *source)
{
	struct dd_cluster *cl = calloc(1, sizeof(*cl));
	if (!cl)
		return NULL;
	cl->key = strdup(key ? key : "");
	cl->sources = calloc(1, sizeof(char *));
	if (cl->sources)
		cl->sources[0] = strdup(source ? source : "");
	if (!cl->key || !cl->sources || !cl->sources[0]) {
		if (cl->sources)
			free(cl->sources[0]);
		free(cl->sources);
		free(cl->key);
		free(cl);
		return NULL;
	}
	cl->nsources = 1;
	cl->refs = 1;
	cl->seq = ix->next_seq;
	ix->nclusters++;
	ix->cluster_bytes += sizeof(*cl) + strlen(cl->key) + 1 + sizeof(char *) +
	                     strlen(cl->sources[0]) + 1;
	return cl;
}

void dd_cluster_unref(struct dd_index *ix, struct dd_cluster *cl)
{
	if (!cl || --cl->refs)
		return;
	ix->cluster_bytes -= sizeof(*cl) + strlen(cl->key) + 1;
	for (uint32_t i = 0; i < cl->nsources; i++) {
		ix->cluster_bytes -= sizeof(char *) + strlen(cl->sources[i]) + 1;
		free(cl->sources[i]);
	}
	free(cl->sources);
	free(cl->key);
	free(cl);
	ix->nclusters--;
}

int dd_cluster_add_source(struct dd_index *ix, struct dd_cluster *cl, const char *source,
                          uint32_t max)
{
	if (!source || !*source || cl->nsources >= max)
		return 0;
	for (uint32_t i = 0; i < cl->nsources; i++)
		if (!strcmp(cl->sources[i], source))
			return 0;
	char **ns = realloc(cl->sources, (cl->nsources + 1) * sizeof(char *));
	if (!ns)
		return -ENOMEM;
	cl->sources = ns;
	ns[cl->nsources] = strdup(source);
	if (!ns[cl->nsources])
		return -ENOMEM;
	cl->nsources++;
	ix->cluster_bytes += sizeof(char *) + strlen(source) + 1;
	return 0;
}

/* --- slots --- */

void dd_index_init(struct dd_index *ix)
{
	memset(ix, 0, sizeof(*ix));
	ix->next_seq = 1;
	for (uint32_t i = 0; i < PB_CLASSES; i++)
		ix->pb_free[i] = DD_NONE;
}

/* --- the sample log ---
 * Every slot holds its samples and anchors (0.3-1 KB) until it leaves, and slots leave in
 * arrival order: a log of 2 MB chunks (huge pages, like the tables above) takes them at its
 * end, and a chunk is free again once the last of its slots has left. Against a malloc a
 * slot this saves ~1,000 instructions of allocator work a document and, more, the page
 * fault of every 4 KB the index grows by (~300 faults in the first 1,500 documents, ~10 us
 * each on a virtual machine). One empty chunk is kept for reuse; others are returned. */

#define LOG_CHUNK_WORDS (BIG_TABLE / sizeof(uint32_t))

static size_t chunk_bytes(const struct dd_chunk *ch)
{
	return ch->cap * sizeof(uint32_t);
}

/* Room for n words; *chunk says where. NULL on OOM. */
static uint32_t *log_alloc(struct dd_index *ix, size_t n, uint32_t *chunk)
{
	struct dd_chunk *ch = ix->nchunks ? &ix->chunks[ix->cur_chunk] : NULL;
	if (!ch || ch->cap - ch->used < n) {
		/* an empty chunk that is large enough, else a new one */
		uint32_t k, empty = UINT32_MAX;
		for (k = 0; k < ix->nchunks; k++) {
			if (ix->chunks[k].live || k == ix->cur_chunk)
				continue;
			if (ix->chunks[k].cap >= n)
				break;
			if (!ix->chunks[k].words)
				empty = k;
		}
		if (k == ix->nchunks) {
			if (empty == UINT32_MAX) {
				struct dd_chunk *nc =
					realloc(ix->chunks, (ix->nchunks + 1) * sizeof(*nc));
				if (!nc)
					return NULL;
				ix->chunks = nc;
				empty = ix->nchunks++;
				memset(&nc[empty], 0, sizeof(*nc));
			}
			k = empty;
			size_t cap = n > LOG_CHUNK_WORDS ? n : LOG_CHUNK_WORDS;
			uint32_t *w = table_alloc(cap * sizeof(uint32_t));
			if (!w)
				return NULL;
			ix->chunks[k].words = w;
			ix->chunks[k].cap = cap;
		}
		ix->cur_chunk = k;
		ch = &ix->chunks[k];
		ch->used = 0;
	}
	uint32_t *p = ch->words + ch->used;
	ch->used += n;
	ch->live++;
	*chunk = ix->cur_chunk;
	return p;
}

static size_t log_bytes(const struct dd_index *ix)
{
	size_t b = ix->nchunks * sizeof(struct dd_chunk);
	for (uint32_t k = 0; k < ix->nchunks; k++)
		b += chunk_bytes(&ix->chunks[k]);
	return b;
}

static void log_free(struct dd_index *ix, uint32_t chunk)
{
	struct dd_chunk *ch = &ix->chunks[chunk];
	if (--ch->live || chunk == ix->cur_chunk)
		return;
	ch->used = 0;
	/* keep one empty chunk (the next to be filled) and return the others */
	for (uint32_t k = 0; k < ix->nchunks; k++) {
		if (k != chunk && k != ix->cur_chunk && ix->chunks[k].words && !ix->chunks[k].live) {
			table_free(ch->words, chunk_bytes(ch));
			ch->words = NULL;
			ch->cap = 0;
			return;
		}
	}
}

static int fifo_push(struct dd_index *ix, uint32_t slot)
{
	if (ix->fifo_len == ix->fifo_cap) {
		uint32_t nc = ix->fifo_cap ? ix->fifo_cap * 2 : 1024;
		uint32_t *f = malloc((size_t)nc * sizeof(*f));
		if (!f)
			return -ENOMEM;
		for (uint32_t i = 0; i < ix->fifo_len; i++)
			f[i] = ix->fifo[(ix->fifo_head + i) % ix->fifo_cap];
		free(ix->fifo);
		ix->fifo = f;
		ix->fifo_cap = nc;
		ix->fifo_head = 0;
	}
	ix->fifo[(ix->fifo_head + ix->fifo_len) & (ix->fifo_cap - 1)] = slot;
	ix->fifo_len++;
	return 0;
}

static uint32_t slot_alloc(struct dd_index *ix)
{
	if (ix->nfree)
		return ix->freelist[--ix->nfree];
	if (ix->nslots == ix->slots_cap) {
		uint32_t nc = ix->slots_cap ? ix->slots_cap * 2 : 1024;
		struct dd_slot *s = realloc(ix->slots, (size_t)nc * sizeof(*s));
		if (!s)
			return DD_NONE;
		ix->slots = s;
		ix->slots_cap = nc;
	}
	return ix->nslots++;
}

static int ensure_free_room(struct dd_index *ix)
{
	if (ix->nfree < ix->free_cap)
		return 0;
	uint32_t nc = ix->free_cap ? ix->free_cap * 2 : 1024;
	uint32_t *f = realloc(ix->freelist, (size_t)nc * sizeof(*f));
	if (!f)
		return -ENOMEM;
	ix->freelist = f;
	ix->free_cap = nc;
	return 0;
}

uint32_t dd_index_add(struct dd_index *ix, uint64_t seq, int64_t time_ms, struct dd_cluster *cl,
                      uint64_t idkey, uint64_t urlkey, uint64_t fp, const uint32_t *samples,
                      uint32_t nsamples, uint32_t rate, const uint32_t *anchors,
                      uint32_t nanchors)
{
	uint32_t si = slot_alloc(ix);
	if (si == DD_NONE)
		return DD_NONE;
	struct dd_slot *s = &ix->slots[si];
	memset(s, 0, sizeof(*s));
	size_t n = (size_t)nsamples + nanchors;
	s->samples = log_alloc(ix, n ? n : 1, &s->chunk);
	if (!s->samples || fifo_push(ix, si) < 0) {
		if (s->samples) { /* the log's last words: give them back */
			ix->chunks[s->chunk].used -= n ? n : 1;
			ix->chunks[s->chunk].live--;
			s->samples = NULL;
		}
		if (ensure_free_room(ix) == 0)
			ix->freelist[ix->nfree++] = si;
		return DD_NONE;
	}
	if (nsamples)
		memcpy(s->samples, samples, nsamples * sizeof(uint32_t));
	if (nanchors)
		memcpy(s->samples + nsamples, anchors, nanchors * sizeof(uint32_t));
	s->nsamples = nsamples;
	s->rate = rate ? rate : 1;
	s->nanchors = nanchors;
	s->seq = seq;
	s->time_ms = time_ms;
	s->cl = cl;
	cl->refs++;
	s->idkey = idkey;
	s->urlkey = urlkey;
	s->fp = fp;
	ix->sketch_bytes += n * sizeof(uint32_t);
	if (time_ms > ix->newest_ms)
		ix->newest_ms = time_ms;
	if (seq >= ix->next_seq)
		ix->next_seq = seq + 1;
	/* map failures only lose a way to find this document; it stays consistent */
	(void)dd_map_put(&ix->by_id, idkey, si);
	(void)dd_map_put(&ix->by_url, urlkey, si);
	(void)dd_map_put(&ix->by_fp, fp, si);
	for (uint32_t i = 0; i < nsamples; i++) {
		if (i + DD_PREFETCH < nsamples)
			dd_index_prefetch(ix, samples[i + DD_PREFETCH]);
		(void)post_add(ix, samples[i], si);
	}
	return si;
}

static void evict_one(struct dd_index *ix)
{
	uint32_t si = ix->fifo[ix->fifo_head];
	ix->fifo_head = (ix->fifo_head + 1) & (ix->fifo_cap - 1); /* a power of two */
	ix->fifo_len--;
	struct dd_slot *s = &ix->slots[si];
	dd_map_del(&ix->by_id, s->idkey, si);
	dd_map_del(&ix->by_url, s->urlkey, si);
	dd_map_del(&ix->by_fp, s->fp, si);
	for (uint32_t i = 0; i < s->nsamples; i++)
		post_remove(ix, s->samples[i], si);
	ix->sketch_bytes -= ((size_t)s->nsamples + s->nanchors) * sizeof(uint32_t);
	log_free(ix, s->chunk);
	dd_cluster_unref(ix, s->cl);
	memset(s, 0, sizeof(*s));
	if (ensure_free_room(ix) == 0)
		ix->freelist[ix->nfree++] = si;
}

size_t dd_index_evict(struct dd_index *ix, uint32_t max_docs, int64_t window_ms)
{
	size_t n = 0;
	while (ix->fifo_len && (ix->fifo_len > max_docs ||
	                        (window_ms > 0 && ix->slots[ix->fifo[ix->fifo_head]].time_ms <
	                                              ix->newest_ms - window_ms))) {
		evict_one(ix);
		n++;
	}
	return n;
}

void dd_index_fini(struct dd_index *ix)
{
	/* no need to unlink each document from the postings: everything goes */
	for (uint32_t i = 0; i < ix->fifo_len; i++) {
		struct dd_slot *s = &ix->slots[dd_index_fifo_at(ix, i)];
		dd_cluster_unref(ix, s->cl);
	}
	for (uint32_t k = 0; k < ix->nchunks; k++)
		table_free(ix->chunks[k].words, chunk_bytes(&ix->chunks[k]));
	free(ix->chunks);
	table_free(ix->pk, ix->pk_cap * sizeof(struct dd_pkey));
	table_free(ix->pb, ix->pb_cap * sizeof(uint32_t));
	free(ix->slots);
	free(ix->freelist);
	free(ix->fifo);
	dd_map_free(&ix->by_id);
	dd_map_free(&ix->by_url);
	dd_map_free(&ix->by_fp);
	memset(ix, 0, sizeof(*ix));
}

size_t dd_index_memory(const struct dd_index *ix)
{
	return (size_t)ix->slots_cap * sizeof(struct dd_slot) + (size_t)ix->free_cap * 4 +
	       (size_t)ix->fifo_cap * 4 + (ix->by_id.cap + ix->by_url.cap + ix->by_fp.cap) * 12 +
	       ix->pk_cap * sizeof(struct dd_pkey) + ix->pb_cap * sizeof(uint32_t) + log_bytes(ix) +
	       ix->cluster_bytes;
}

void dd_index_merge(struct dd_index *ix, struct dd_cluster *into, struct dd_cluster *from,
                    uint32_t max)
{
	if (into == from)
		return;
	from->refs++; /* keep it alive while its documents move */
	for (uint32_t k = 1; k < from->nsources; k++)
		(void)dd_cluster_add_source(ix, into, from->sources[k], max);
	(void)dd_cluster_add_source(ix, into, from->sources[0], max);
	/* the documents that move (when there is no memory to list them: every document of
	 * the joined story is looked at below) */
	uint32_t *moved = malloc((size_t)(from->refs ? from->refs : 1) * sizeof(*moved));
	uint32_t nmoved = 0;
	for (uint32_t i = 0; i < ix->fifo_len; i++) {
		uint32_t si = dd_index_fifo_at(ix, i);
		struct dd_slot *s = &ix->slots[si];
		if (s->cl == from) {
			s->cl = into;
			into->refs++;
			dd_cluster_unref(ix, from);
			if (moved)
				moved[nmoved++] = si;
		}
	}
	/* a list that held both stories now holds one fewer */
	uint32_t nscan = moved ? nmoved : ix->fifo_len;
	for (uint32_t i = 0; i < nscan; i++) {
		const struct dd_slot *s = &ix->slots[moved ? moved[i] : dd_index_fifo_at(ix, i)];
		if (s->cl != into)
			continue;
		for (uint32_t k = 0; k < s->nsamples; k++) {
			size_t j = pk_find(ix, s->samples[k]);
			if (ix->pk[j].key && (ix->pk[j].val & PK_LIST))
				pb_recount(ix, ix->pk[j].val & PK_NODE);
		}
	}
	free(moved);
	dd_cluster_unref(ix, from);
}
