/* Topic model: features, training, file format, prediction. See model.h for the method. */
#include "model.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fold.h"
#include "regfile.h"

#define MODEL_MAGIC "feedmill-topic-model 1"
#define MAX_LABELS 10000u
#define MAX_FEATURES 20000000u

/* ---- a string -> index table ----------------------------------------------------------- */

struct term {
	uint64_t h;
	uint32_t off, len;
};

/* A table slot carries 32 bits of the hash, so a probe that will not match is rejected
 * without touching the term array (most lookups at prediction time are misses: unseen
 * bigrams). */
struct slot {
	uint32_t idx; /* index + 1; 0 = empty */
	uint32_t tag; /* high half of the hash */
};

struct vocab {
	struct fm_buf arena; /* the terms' bytes, each NUL-terminated */
	struct term *terms;
	size_t n, cap;
	struct slot *slots;
	size_t mask;
};

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 32);
}

static const char *vocab_str(const struct vocab *v, size_t i)
{
	return v->arena.data + v->terms[i].off;
}

static long vocab_find(const struct vocab *v, const char *s, size_t n, uint64_t h)
{
	if (!v->slots)
		return -1;
	uint32_t tag = (uint32_t)(h >> 32);
	for (size_t i = h & v->mask; v->slots[i].idx; i = (i + 1) & v->mask) {
		if (v->slots[i].tag != tag)
			continue;
		const struct term *t = &v->terms[v->slots[i].idx - 1];
		if (t->len == n && memcmp(v->arena.data + t->off, s, n) == 0)
			return (long)v->slots[i].idx - 1;
	}
	return -1;
}

static int vocab_rehash(struct vocab *v, size_t ns)
{
	struct slot *slots = calloc(ns, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < v->n; i++) {
		size_t j = v->terms[i].h & (ns - 1);
		while (slots[j].idx)
			j = (j + 1) & (ns - 1);
		slots[j] = (struct slot){(uint32_t)i + 1, (uint32_t)(v->terms[i].h >> 32)};
	}
	free(v->slots);
	v->slots = slots;
	v->mask = ns - 1;
	return 0;
}

static int vocab_grow(struct vocab *v)
{
	return vocab_rehash(v, v->slots ? (v->mask + 1) * 2 : 1024);
}

/* Size the table for n terms of about `bytes` in all (a model being loaded), so it is never
 * rehashed nor moved while loading. */
static int vocab_reserve(struct vocab *v, size_t n, size_t bytes)
{
	size_t ns = 1024;
	while (ns < n * 4) /* load <= 1/4: short probe runs for the many misses */
		ns *= 2;
	if ((!v->slots || v->mask + 1 < ns) && vocab_rehash(v, ns) < 0)
		return -ENOMEM;
	if (v->cap < n) {
		struct term *t = realloc(v->terms, n * sizeof(*t));
		if (!t)
			return -ENOMEM;
		v->terms = t;
		v->cap = n;
	}
	return fm_buf_reserve(&v->arena, bytes) ? 0 : -ENOMEM;
}

/* Index of s, added when absent; -1 on OOM. */
static long vocab_add(struct vocab *v, const char *s, size_t n, uint64_t h)
{
	long i = vocab_find(v, s, n, h);
	if (i >= 0)
		return i;
	if (v->n >= UINT32_MAX - 1)
		return -1;
	if ((v->n + 1) * 2 > (v->slots ? v->mask + 1 : 0) && vocab_grow(v) < 0)
		return -1;
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 1024;
		struct term *t = realloc(v->terms, cap * sizeof(*t));
		if (!t)
			return -1;
		v->terms = t;
		v->cap = cap;
	}
	size_t off = v->arena.len;
	fm_buf_append(&v->arena, s, n);
	fm_buf_putc(&v->arena, '\0');
	if (v->arena.oom)
		return -1;
	v->terms[v->n] = (struct term){h, (uint32_t)off, (uint32_t)n};
	size_t j = h & v->mask;
	while (v->slots[j].idx)
		j = (j + 1) & v->mask;
	v->slots[j] = (struct slot){(uint32_t)v->n + 1, (uint32_t)(h >> 32)};
	return (long)v->n++;
}

static void vocab_free(struct vocab *v)
{
	fm_buf_free(&v->arena);
	free(v->terms);
	free(v->slots);
	memset(v, 0, sizeof(*v));
}

/* ---- features ------------------------------------------------------------------------------ */

struct span {
	uint32_t off, len;
};

struct fm_model_scratch {
	struct fm_buf folded, gram;
	struct span *words;
	size_t nwords, capwords;
	uint32_t *ids; /* term ids of the current document (with repeats) */
	size_t nids, capids;
	float *vals;
	uint32_t *uniq;
	size_t capuniq;
	uint32_t *seen;  /* per term id: 1 + position in uniq in the current document, or 0 */
	size_t capseen;
	double *scores;
	size_t capscores;
};

struct fm_model_scratch *fm_model_scratch_new(void)
{
	return calloc(1, sizeof(struct fm_model_scratch));
}

void fm_model_scratch_free(struct fm_model_scratch *s)
{
	if (!s)
		return;
	fm_buf_free(&s->folded);
	fm_buf_free(&s->gram);
	free(s->words);
	free(s->ids);
	free(s->vals);
	free(s->uniq);
	free(s->seen);
	free(s->scores);
	free(s);
}

static int push_id(struct fm_model_scratch *s, uint32_t id)
{
	if (s->nids == s->capids) {
		size_t cap = s->capids ? s->capids * 2 : 256;
		uint32_t *n = realloc(s->ids, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->ids = n;
		s->capids = cap;
	}
	s->ids[s->nids++] = id;
	return 0;
}

/* Find the term; with add, insert it (training). Returns the id, -1 when unknown, -2 on OOM. */
typedef long (*term_fn)(void *arg, const char *s, size_t n);

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Split the folded text into words (runs of letters/digits/marks) of 2+ bytes that are not
 * bare numbers, then look up every word and every pair of neighbouring words. */
static int add_terms(struct fm_model_scratch *s, const char *text, size_t len, size_t limit,
                     term_fn fn, void *arg)
{
	if (!text || !len)
		return 0;
	if (limit)
		len = fm_utf8_cut(text, len, limit);
	if (fm_fold(&s->folded, text, len) < 0)
		return -ENOMEM;
	const char *f = fm_buf_str(&s->folded);
	size_t n = s->folded.len, i = 0;
	s->nwords = 0;
	while (i < n) {
		while (i < n && !fm_word_char_at(f, n, i))
			i++;
		size_t start = i;
		while (i < n && fm_word_char_at(f, n, i)) {
			i++;
			while (i < n && ((unsigned char)f[i] & 0xC0) == 0x80)
				i++;
		}
		size_t wl = i - start;
		if (wl < 2 || all_digits(f + start, wl))
			continue;
		if (s->nwords == s->capwords) {
			size_t cap = s->capwords ? s->capwords * 2 : 256;
			struct span *w = realloc(s->words, cap * sizeof(*w));
			if (!w)
				return -ENOMEM;
			s->words = w;
			s->capwords = cap;
		}
		s->words[s->nwords++] = (struct span){(uint32_t)start, (uint32_t)wl};
	}
	for (size_t w = 0; w < s->nwords; w++) {
		long id = fn(arg, f + s->words[w].off, s->words[w].len);
		if (id == -2 || (id >= 0 && push_id(s, (uint32_t)id) < 0))
			return -ENOMEM;
		if (w == 0)
			continue;
		fm_buf_truncate(&s->gram, 0);
		fm_buf_append(&s->gram, f + s->words[w - 1].off, s->words[w - 1].len);
		fm_buf_putc(&s->gram, ' ');
		fm_buf_append(&s->gram, f + s->words[w].off, s->words[w].len);
		if (s->gram.oom)
			return -ENOMEM;
		id = fn(arg, s->gram.data, s->gram.len);
		if (id == -2 || (id >= 0 && push_id(s, (uint32_t)id) < 0))
			return -ENOMEM;
	}
	return 0;
}

/* Term ids of a document: the title counts twice (headlines say what a story is about). */
static int doc_terms(struct fm_model_scratch *s, const char *title, const char *text,
                     size_t limit, term_fn fn, void *arg)
{
	s->nids = 0;
	int rc = 0;
	if (title) {
		size_t tl = strlen(title);
		if ((rc = add_terms(s, title, tl, limit, fn, arg)) < 0 ||
		    (rc = add_terms(s, title, tl, limit, fn, arg)) < 0)
			return rc;
	}
	if (text)
		rc = add_terms(s, text, strlen(text), limit, fn, arg);
	return rc;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Collapse repeated ids: uniq[0..k) in first-seen order with counts in vals. nterms bounds the
 * ids. One pass with a position table instead of a sort. Returns k or -ENOMEM. */
static long count_ids(struct fm_model_scratch *s, size_t nterms)
{
	if (s->capuniq < s->nids) {
		size_t cap = s->nids;
		uint32_t *u = realloc(s->uniq, cap * sizeof(*u));
		if (!u)
			return -ENOMEM;
		s->uniq = u;
		float *v = realloc(s->vals, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->vals = v;
		s->capuniq = cap;
	}
	if (s->capseen < nterms) {
		size_t cap = nterms + nterms / 2 + 1024;
		uint32_t *n = realloc(s->seen, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		memset(n + s->capseen, 0, (cap - s->capseen) * sizeof(*n));
		s->seen = n;
		s->capseen = cap;
	}
	long k = 0;
	for (size_t i = 0; i < s->nids; i++) {
		uint32_t id = s->ids[i];
		if (s->seen[id]) {
			s->vals[s->seen[id] - 1] += 1.0f;
		} else {
			s->uniq[k] = id;
			s->vals[k++] = 1.0f;
			s->seen[id] = (uint32_t)k;
		}
	}
	for (long i = 0; i < k; i++)
		s->seen[s->uniq[i]] = 0; /* clean for the next document */
	return k;
}

/* Counts in vals -> sublinear tf * idf, L2-normalised. */
static void tfidf(const uint32_t *ids, float *vals, long k, const float *idf)
{
	double norm = 0;
	for (long i = 0; i < k; i++) {
		vals[i] = (float)((1.0 + log(vals[i])) * idf[ids[i]]);
		norm += (double)vals[i] * vals[i];
	}
	if (norm > 0) {
		float inv = (float)(1.0 / sqrt(norm));
		for (long i = 0; i < k; i++)
			vals[i] *= inv;
	}
}

/* ---- the model ----------------------------------------------------------------------------- */

struct fm_model {
	char **labels;
	size_t k;
	double *bias;     /* k */
	struct vocab vocab;
	float *idf;       /* per feature */
	float *w;         /* features x k, row-major */
};

void fm_model_free(struct fm_model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->k; i++)
		free(m->labels[i]);
	free(m->labels);
	free(m->bias);
	vocab_free(&m->vocab);
	free(m->idf);
	free(m->w);
	free(m);
}

size_t fm_model_labels(const struct fm_model *m)
{
	return m->k;
}

size_t fm_model_features(const struct fm_model *m)
{
	return m->vocab.n;
}

static long lookup_term(void *arg, const char *s, size_t n)
{
	const struct fm_model *m = arg;
	return vocab_find(&m->vocab, s, n, hash_bytes(s, n));
}

/* Softmax of scores[0..k) in place. */
static void softmax(double *scores, size_t k)
{
	double max = scores[0], sum = 0;
	for (size_t i = 1; i < k; i++)
		if (scores[i] > max)
			max = scores[i];
	for (size_t i = 0; i < k; i++)
		sum += (scores[i] = exp(scores[i] - max));
	for (size_t i = 0; i < k; i++)
		scores[i] /= sum;
}

const char *fm_model_predict(const struct fm_model *m, struct fm_model_scratch *s,
                             const char *title, const char *text, size_t field_limit,
                             double *score)
{
	if (s->capscores < m->k) {
		double *d = realloc(s->scores, m->k * sizeof(*d));
		if (!d)
			return NULL;
		s->scores = d;
		s->capscores = m->k;
	}
	if (doc_terms(s, title, text, field_limit, lookup_term, (void *)m) < 0)
		return NULL;
	long n = count_ids(s, m->vocab.n);
	if (n < 0)
		return NULL;
	tfidf(s->uniq, s->vals, n, m->idf);
	double *sc = s->scores;
	for (size_t c = 0; c < m->k; c++)
		sc[c] = m->bias[c];
	for (long i = 0; i < n; i++) {
		const float *row = m->w + (size_t)s->uniq[i] * m->k;
		for (size_t c = 0; c < m->k; c++)
			sc[c] += (double)s->vals[i] * row[c];
	}
	softmax(sc, m->k);
	size_t best = 0;
	for (size_t c = 1; c < m->k; c++)
		if (sc[c] > sc[best])
			best = c;
	*score = sc[best];
	return m->labels[best];
}

/* ---- training ------------------------------------------------------------------------------ */

struct tdoc {
	uint32_t label;
	uint32_t n;    /* distinct terms */
	uint32_t *ids; /* term ids (vocabulary ids, later feature ids) */
	float *vals;   /* counts, later tf-idf */
};

struct fm_trainer {
	struct fm_train_params p;
	struct vocab vocab;
	uint32_t *df;
	size_t capdf;
	struct vocab labels;
	struct tdoc *docs;
	size_t ndocs, capdocs;
	struct fm_model_scratch *s;
};

struct fm_trainer *fm_trainer_new(const struct fm_train_params *p)
{
	struct fm_trainer *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->p = *p;
	if (!(t->s = fm_model_scratch_new())) {
		free(t);
		return NULL;
	}
	return t;
}

size_t fm_trainer_docs(const struct fm_trainer *t)
{
	return t->ndocs;
}

static long add_term(void *arg, const char *s, size_t n)
{
	struct fm_trainer *t = arg;
	long id = vocab_add(&t->vocab, s, n, hash_bytes(s, n));
	return id < 0 ? -2 : id;
}

int fm_trainer_add(struct fm_trainer *t, const char *title, const char *text, const char *label)
{
	long li = vocab_add(&t->labels, label, strlen(label), hash_bytes(label, strlen(label)));
	if (li < 0)
		return -ENOMEM;
	if (doc_terms(t->s, title, text, t->p.field_limit, add_term, t) < 0)
		return -ENOMEM;
	long n = count_ids(t->s, t->vocab.n);
	if (n < 0)
		return -ENOMEM;
	if (t->vocab.n > t->capdf) {
		size_t cap = t->vocab.cap;
		uint32_t *df = realloc(t->df, cap * sizeof(*df));
		if (!df)
			return -ENOMEM;
		memset(df + t->capdf, 0, (cap - t->capdf) * sizeof(*df));
		t->df = df;
		t->capdf = cap;
	}
	if (t->ndocs == t->capdocs) {
		size_t cap = t->capdocs ? t->capdocs * 2 : 256;
		struct tdoc *d = realloc(t->docs, cap * sizeof(*d));
		if (!d)
			return -ENOMEM;
		t->docs = d;
		t->capdocs = cap;
	}
	struct tdoc *d = &t->docs[t->ndocs];
	d->label = (uint32_t)li;
	d->n = (uint32_t)n;
	d->ids = malloc(((size_t)n + 1) * sizeof(*d->ids));
	d->vals = malloc(((size_t)n + 1) * sizeof(*d->vals));
	if (!d->ids || !d->vals) {
		free(d->ids);
		free(d->vals);
		return -ENOMEM;
	}
	memcpy(d->ids, t->s->uniq, (size_t)n * sizeof(*d->ids));
	memcpy(d->vals, t->s->vals, (size_t)n * sizeof(*d->vals));
	for (long i = 0; i < n; i++)
		t->df[d->ids[i]]++;
	t->ndocs++;
	return 0;
}

void fm_trainer_free(struct fm_trainer *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->ndocs; i++) {
		free(t->docs[i].ids);
		free(t->docs[i].vals);
	}
	free(t->docs);
	free(t->df);
	vocab_free(&t->vocab);
	vocab_free(&t->labels);
	fm_model_scratch_free(t->s);
	free(t);
}

static const uint32_t *sort_df; /* qsort has no context argument */
static int cmp_by_df(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	if (sort_df[x] != sort_df[y])
		return sort_df[x] > sort_df[y] ? -1 : 1;
	return x < y ? -1 : x > y; /* ties: first seen first, for reproducible models */
}

/* Choose the features (df >= min_df, the max_features most frequent) into m->vocab and m->idf;
 * fill map[vocab id] = feature id or UINT32_MAX. */
static int select_features(struct fm_trainer *t, struct fm_model *m, uint32_t *map)
{
	size_t nv = t->vocab.n, nsel = 0;
	uint32_t *order = malloc((nv ? nv : 1) * sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < nv; i++) {
		map[i] = UINT32_MAX;
		if (t->df[i] >= (uint32_t)t->p.min_df)
			order[nsel++] = (uint32_t)i;
	}
	if (nsel > t->p.max_features) {
		sort_df = t->df;
		qsort(order, nsel, sizeof(*order), cmp_by_df);
		nsel = t->p.max_features;
		qsort(order, nsel, sizeof(*order), cmp_u32); /* back to first-seen order */
	}
	m->idf = malloc((nsel ? nsel : 1) * sizeof(*m->idf));
	if (!m->idf) {
		free(order);
		return -ENOMEM;
	}
	double n = (double)t->ndocs;
	for (size_t f = 0; f < nsel; f++) {
		uint32_t v = order[f];
		const char *s = vocab_str(&t->vocab, v);
		size_t len = t->vocab.terms[v].len;
		if (vocab_add(&m->vocab, s, len, t->vocab.terms[v].h) < 0) {
			free(order);
			return -ENOMEM;
		}
		m->idf[f] = (float)(log((1.0 + n) / (1.0 + t->df[v])) + 1.0);
		map[v] = (uint32_t)f;
	}
	free(order);
	return 0;
}

/* xorshift64*: a small, seedable generator for the shuffles (S. Vigna, 2016). */
static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545F4914F6CDD1Dull;
}

static void sgd(struct fm_trainer *t, struct fm_model *m)
{
	size_t k = m->k, nd = t->ndocs;
	double *g = calloc(k, sizeof(*g));
	size_t *order = malloc(nd * sizeof(*order));
	if (!g || !order)
		goto out;
	for (size_t i = 0; i < nd; i++)
		order[i] = i;
	uint64_t rng = 0x9E3779B97F4A7C15ull ^ t->p.seed;
	double scale = 1.0, lambda = t->p.l2, eta0 = t->p.eta0;
	float *w = m->w;
	size_t nf = m->vocab.n;
	uint64_t step = 0;
	for (int e = 0; e < t->p.epochs; e++) {
		for (size_t i = nd; i > 1; i--) { /* Fisher–Yates */
			size_t j = (size_t)(rng_next(&rng) % i);
			size_t tmp = order[i - 1];
			order[i - 1] = order[j];
			order[j] = tmp;
		}
		for (size_t oi = 0; oi < nd; oi++) {
			const struct tdoc *d = &t->docs[order[oi]];
			double eta = eta0 / (1.0 + eta0 * lambda * (double)step++);
			for (size_t c = 0; c < k; c++)
				g[c] = m->bias[c];
			for (uint32_t i = 0; i < d->n; i++) {
				const float *row = w + (size_t)d->ids[i] * k;
				for (size_t c = 0; c < k; c++)
					g[c] += scale * d->vals[i] * row[c];
			}
			softmax(g, k);
			g[d->label] -= 1.0; /* gradient of the cross-entropy w.r.t. the scores */
			/* L2 shrink of every weight at once through the scale (Bottou 2010, 5.1). */
			scale *= 1.0 - eta * lambda;
			if (scale < 1e-9) {
				for (size_t i = 0; i < nf * k; i++)
					w[i] = (float)(w[i] * scale);
				scale = 1.0;
			}
			for (uint32_t i = 0; i < d->n; i++) {
				float *row = w + (size_t)d->ids[i] * k;
				double step_x = eta * d->vals[i] / scale;
				for (size_t c = 0; c < k; c++)
					row[c] -= (float)(step_x * g[c]);
			}
			for (size_t c = 0; c < k; c++)
				m->bias[c] -= eta * g[c];
		}
	}
	for (size_t i = 0; i < nf * k; i++)
		w[i] = (float)(w[i] * scale);
out:
	free(g);
	free(order);
}

struct fm_model *fm_trainer_finish(struct fm_trainer *t, char *err, size_t errlen)
{
	struct fm_model *m = NULL;
	uint32_t *map = NULL;
	if (t->labels.n < 2) {
		snprintf(err, errlen, "need documents of at least 2 labels (got %zu)", t->labels.n);
		return NULL;
	}
	if (!(m = calloc(1, sizeof(*m))))
		goto oom;
	m->k = t->labels.n;
	m->labels = calloc(m->k, sizeof(*m->labels));
	m->bias = calloc(m->k, sizeof(*m->bias));
	map = malloc((t->vocab.n ? t->vocab.n : 1) * sizeof(*map));
	if (!m->labels || !m->bias || !map)
		goto oom;
	for (size_t i = 0; i < m->k; i++)
		if (!(m->labels[i] = strdup(vocab_str(&t->labels, i))))
			goto oom;
	if (select_features(t, m, map) < 0)
		goto oom;
	if (!(m->w = calloc(m->vocab.n * m->k + 1, sizeof(*m->w))))
		goto oom;
	/* Re-express every document in feature ids, as tf-idf. */
	for (size_t i = 0; i < t->ndocs; i++) {
		struct tdoc *d = &t->docs[i];
		uint32_t n = 0;
		for (uint32_t j = 0; j < d->n; j++) {
			if (map[d->ids[j]] == UINT32_MAX)
				continue;
			d->ids[n] = map[d->ids[j]];
			d->vals[n++] = d->vals[j];
		}
		d->n = n;
		tfidf(d->ids, d->vals, n, m->idf);
	}
	free(map);
	map = NULL;
	sgd(t, m);
	return m;
oom:
	snprintf(err, errlen, "out of memory");
	free(map);
	fm_model_free(m);
	return NULL;
}

/* ---- file format --------------------------------------------------------------------------- */

int fm_model_save(const struct fm_model *m, const char *path)
{
	char *tmp = NULL;
	if (asprintf(&tmp, "%s.tmp%ld", path, (long)getpid()) < 0)
		return -ENOMEM;
	FILE *f = fopen(tmp, "wx");
	if (!f) {
		int e = -errno;
		free(tmp);
		return e;
	}
	fprintf(f, "%s\nlabels %zu\n", MODEL_MAGIC, m->k);
	for (size_t c = 0; c < m->k; c++)
		fprintf(f, "%s\n", m->labels[c]);
	fputs("bias", f);
	for (size_t c = 0; c < m->k; c++)
		fprintf(f, " %.9g", m->bias[c]);
	fprintf(f, "\nfeatures %zu\n", m->vocab.n);
	for (size_t i = 0; i < m->vocab.n; i++) {
		fprintf(f, "%s\t%.6g\t", vocab_str(&m->vocab, i), (double)m->idf[i]);
		for (size_t c = 0; c < m->k; c++)
			fprintf(f, c ? " %.6g" : "%.6g", (double)m->w[i * m->k + c]);
		fputc('\n', f);
	}
	int rc = 0;
	if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) < 0)
		rc = -errno ? -errno : -EIO;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	/* link() refuses to replace an existing model: the path must be new. */
	if (rc == 0 && link(tmp, path) < 0)
		rc = -errno;
	unlink(tmp);
	free(tmp);
	return rc;
}

struct loader {
	FILE *f;
	const char *path;
	int line;
	char *buf;
	size_t cap;
	char *err;
	size_t errlen;
};

static void lerr(struct loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lerr(struct loader *l, const char *fmt, ...)
{
	int off = snprintf(l->err, l->errlen, "%s:%d: ", l->path, l->line);
	if (off < 0 || (size_t)off >= l->errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->err + off, l->errlen - (size_t)off, fmt, ap);
	va_end(ap);
}

/* Next line without its newline; NULL at end of file. */
static char *next_line(struct loader *l)
{
	ssize_t n = getline(&l->buf, &l->cap, l->f);
	if (n < 0)
		return NULL;
	l->line++;
	if (n > 0 && l->buf[n - 1] == '\n')
		l->buf[n - 1] = '\0';
	return l->buf;
}

/* A decimal number as fm_model_save writes it ("%.6g"/"%.9g": sign, up to 17 significant
 * digits, optional fraction and exponent) in a fraction of strtod's time; anything else falls
 * back to strtod. Loading a model is start-up time that the classify stage pays each run. */
static double parse_number(const char *s, char **end)
{
	static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,
	                               1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
	                               1e18, 1e19, 1e20, 1e21, 1e22};
	const char *p = s;
	bool neg = *p == '-';
	if (*p == '-' || *p == '+')
		p++;
	uint64_t mant = 0;
	int digits = 0, scale = 0;
	const char *d0 = p;
	while (*p >= '0' && *p <= '9' && digits < 18)
		mant = mant * 10 + (uint64_t)(*p++ - '0'), digits += mant > 0;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9' && digits < 18) {
			mant = mant * 10 + (uint64_t)(*p++ - '0');
			digits += mant > 0;
			scale--;
		}
	}
	if (p == d0 || (*p >= '0' && *p <= '9'))
		return strtod(s, end); /* empty or too many digits */
	if (*p == 'e' || *p == 'E') {
		const char *e = p + 1;
		bool eneg = *e == '-';
		if (*e == '-' || *e == '+')
			e++;
		if (!(*e >= '0' && *e <= '9'))
			return strtod(s, end);
		int ex = 0;
		while (*e >= '0' && *e <= '9' && ex < 1000)
			ex = ex * 10 + (*e++ - '0');
		scale += eneg ? -ex : ex;
		p = e;
	}
	if (scale < -22 || scale > 22)
		return strtod(s, end);
	double v = (double)mant;
	v = scale < 0 ? v / pow10[-scale] : v * pow10[scale];
	*end = (char *)p;
	return neg ? -v : v;
}

/* Parse k floats separated by spaces from s; returns false on a malformed list. */
static bool parse_floats(const char *s, size_t k, float *out, double *dout)
{
	char *end;
	for (size_t c = 0; c < k; c++) {
		while (*s == ' ')
			s++;
		errno = 0;
		double v = parse_number(s, &end);
		if (end == s || errno || !isfinite(v))
			return false;
		if (out)
			out[c] = (float)v;
		if (dout)
			dout[c] = v;
		s = end;
	}
	while (*s == ' ')
		s++;
	return *s == '\0';
}

struct fm_model *fm_model_load(const char *path, char *err, size_t errlen)
{
	struct loader l = {.path = path, .err = err, .errlen = errlen};
	struct fm_model *m = calloc(1, sizeof(*m));
	char *line;
	unsigned long long n;
	if (!m) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	struct stat st;
	int fd = fm_open_regular(path, &st);
	if (fd < 0 || !(l.f = fdopen(fd, "r"))) {
		if (fd == -EINVAL)
			snprintf(err, errlen, "%s: not a regular file (%s)", path, fm_file_kind(&st));
		else
			snprintf(err, errlen, "%s: %s", path, strerror(fd < 0 ? -fd : errno));
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	if (!(line = next_line(&l)) || strcmp(line, MODEL_MAGIC) != 0) {
		lerr(&l, "not a feedmill topic model (first line should be '%s')", MODEL_MAGIC);
		goto fail;
	}
	if (!(line = next_line(&l)) || sscanf(line, "labels %llu", &n) != 1 || n < 2 ||
	    n > MAX_LABELS) {
		lerr(&l, "expected 'labels K' with 2 <= K <= %u", MAX_LABELS);
		goto fail;
	}
	m->k = (size_t)n;
	if (!(m->labels = calloc(m->k, sizeof(*m->labels))) ||
	    !(m->bias = calloc(m->k, sizeof(*m->bias))))
		goto oom;
	for (size_t c = 0; c < m->k; c++) {
		if (!(line = next_line(&l))) {
			lerr(&l, "file ends inside the label list");
			goto fail;
		}
		if (!(m->labels[c] = strdup(line)))
			goto oom;
	}
	if (!(line = next_line(&l)) || strncmp(line, "bias ", 5) != 0 ||
	    !parse_floats(line + 5, m->k, NULL, m->bias)) {
		lerr(&l, "expected 'bias' and %zu numbers", m->k);
		goto fail;
	}
	if (!(line = next_line(&l)) || sscanf(line, "features %llu", &n) != 1 || n > MAX_FEATURES) {
		lerr(&l, "expected 'features N' with N <= %u", MAX_FEATURES);
		goto fail;
	}
	/* A feature's line holds a term, a tab, an idf, a tab and k numbers with k-1 spaces: at
	 * least 2k + 3 bytes. A count the file cannot hold is refused before memory is taken
	 * for it (a 10-line file claiming 20 million features asked for half a gigabyte). */
	if (n > (unsigned long long)st.st_size / (2 * m->k + 3)) {
		lerr(&l, "declares %llu features, more than a file of %lld bytes can hold", n,
		     (long long)st.st_size);
		goto fail;
	}
	size_t nf = (size_t)n;
	/* Terms average well under 16 bytes; the arena grows if not. */
	if (vocab_reserve(&m->vocab, nf, nf * 16) < 0)
		goto oom;
	if (!(m->idf = malloc((nf ? nf : 1) * sizeof(*m->idf))) ||
	    !(m->w = malloc((nf ? nf : 1) * m->k * sizeof(*m->w))))
		goto oom;
	for (size_t i = 0; i < nf; i++) {
		if (!(line = next_line(&l))) {
			lerr(&l, "file ends after %zu of %zu features", i, nf);
			goto fail;
		}
		char *tab1 = strchr(line, '\t'), *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
		char *end;
		if (!tab2 || tab1 == line) {
			lerr(&l, "expected TERM<TAB>IDF<TAB>WEIGHTS");
			goto fail;
		}
		m->idf[i] = (float)parse_number(tab1 + 1, &end);
		if (end != tab2 || !parse_floats(tab2 + 1, m->k, m->w + i * m->k, NULL)) {
			lerr(&l, "bad numbers (expected an idf and %zu weights)", m->k);
			goto fail;
		}
		size_t len = (size_t)(tab1 - line), before = m->vocab.n;
		long id = vocab_add(&m->vocab, line, len, hash_bytes(line, len));
		if (id < 0)
			goto oom;
		if (m->vocab.n == before) {
			lerr(&l, "term '%.*s' listed twice", (int)(len > 40 ? 40 : len), line);
			goto fail;
		}
	}
	fclose(l.f);
	free(l.buf);
	return m;
oom:
	snprintf(err, errlen, "%s: out of memory", path);
fail:
	if (l.f)
		fclose(l.f);
	free(l.buf);
	fm_model_free(m);
	return NULL;
}
