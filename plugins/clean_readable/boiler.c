/* Per-source boilerplate learner (see boiler.h). */
#include "boiler.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 16 bytes: a source's table has 2 x learn_entries of them, for each of learn_sources. */
struct fpent {
	uint64_t fp;       /* 0 = empty slot */
	uint32_t last;     /* the source's document number when last seen */
	uint16_t count;    /* documents it appeared in (it stops at 65535) */
	uint16_t doc;      /* the document that counted it last (rd_boiler_set_document), a
	                    * 16-bit hash: 0 none; a clash only delays a count */
};

struct source {
	char *name;
	uint64_t used;     /* learner clock at last use, for LRU */
	uint32_t docs;     /* documents seen */
	uint32_t n, cap;   /* entries, slots (power of two) */
	struct fpent *tab;
};

struct rd_boiler {
	struct rd_boiler_opts o;
	uint16_t cur_doc;  /* the document being read, or 0 */
	struct source *src;
	size_t n, cap;
	uint64_t clock;
};

uint64_t rd_boiler_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a 64 */
	bool sep = true;
	size_t emitted = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isalpha(c))
			c = (unsigned char)tolower(c);
		else if (isdigit(c)) {
			if (i && isdigit((unsigned char)s[i - 1]))
				continue; /* a number of any length is one '0' */
			c = '0';
		}
		else if (c < 0x80)
			c = ' ';
		if (c == ' ') {
			if (sep)
				continue;
			sep = true;
		} else {
			sep = false;
		}
		h = (h ^ c) * 1099511628211ull;
		emitted++;
	}
	return emitted ? (h ? h : 1) : 0;
}

struct rd_boiler *rd_boiler_new(const struct rd_boiler_opts *o)
{
	struct rd_boiler *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->o = *o;
	if (b->o.max_sources < 1)
		b->o.max_sources = 1;
	if (b->o.max_entries < 16)
		b->o.max_entries = 16;
	if (b->o.min_docs < 2)
		b->o.min_docs = 2;
	if (b->o.window < 1)
		b->o.window = 1;
	return b;
}

static void source_free(struct source *s)
{
	free(s->name);
	free(s->tab);
}

void rd_boiler_free(struct rd_boiler *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		source_free(&b->src[i]);
	free(b->src);
	free(b);
}

static struct fpent *slot(struct source *s, uint64_t fp)
{
	uint32_t mask = s->cap - 1;
	uint32_t i = (uint32_t)(fp ^ (fp >> 29)) & mask;
	while (s->tab[i].fp && s->tab[i].fp != fp)
		i = (i + 1) & mask;
	return &s->tab[i];
}

static int cmp_keep(const void *a, const void *b)
{
	const struct fpent *x = a, *y = b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (x->last != y->last)
		return x->last > y->last ? -1 : 1;
	return 0;
}

/* Rebuild the table into `cap` slots keeping at most `keep` entries: the most frequent, then
 * the most recent; entries unseen for a whole window are forgotten. */
static int rebuild(struct source *s, uint32_t cap, uint32_t keep, uint32_t window)
{
	struct fpent *old = s->tab;
	uint32_t n = 0;
	for (uint32_t i = 0; i < s->cap; i++)
		if (old[i].fp && s->docs - old[i].last <= window)
			old[n++] = old[i];
	if (n > keep) {
		qsort(old, n, sizeof(*old), cmp_keep);
		n = keep;
	}
	struct fpent *nt = calloc(cap, sizeof(*nt));
	if (!nt) {
		free(old); /* forget this source's entries rather than keep a broken table */
		s->tab = NULL;
		s->cap = 0;
		s->n = 0;
		return -ENOMEM;
	}
	s->tab = nt;
	s->cap = cap;
	s->n = 0;
	for (uint32_t i = 0; i < n; i++) {
		*slot(s, old[i].fp) = old[i];
		s->n++;
	}
	free(old);
	return 0;
}

/* A source's table starts this small and doubles as it fills (a load of at most 1/2), up
 * to table_cap(max_entries): most sources show a few dozen blocks, and the table of every
 * remembered source was allocated whole (64 MB at the defaults for 1,000 sources). */
#define TABLE_MIN 32u

static uint32_t table_cap(int max_entries)
{
	uint32_t c = 16;
	while (c < (uint32_t)max_entries * 2)
		c <<= 1;
	return c;
}

/* Room for one more entry at a load of at most 1/2 (while under the largest size). */
static int grow(const struct rd_boiler *b, struct source *s)
{
	if (!s->tab)
		return -ENOMEM;
	if ((s->n + 1) * 2 <= s->cap || s->cap >= table_cap(b->o.max_entries))
		return 0;
	return rebuild(s, s->cap * 2, (uint32_t)b->o.max_entries, (uint32_t)b->o.window);
}

static struct source *find_source(struct rd_boiler *b, const char *name, bool create)
{
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->src[i].name, name))
			return &b->src[i];
	if (!create)
		return NULL;
	if (b->n >= (size_t)b->o.max_sources) {
		/* evict the least recently used source */
		size_t lru = 0;
		for (size_t i = 1; i < b->n; i++)
			if (b->src[i].used < b->src[lru].used)
				lru = i;
		source_free(&b->src[lru]);
		b->src[lru] = b->src[--b->n];
	}
	if (b->n >= b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 16;
		struct source *ns = realloc(b->src, nc * sizeof(*ns));
		if (!ns)
			return NULL;
		b->src = ns;
		b->cap = nc;
	}
	struct source *s = &b->src[b->n];
	memset(s, 0, sizeof(*s));
	s->name = strdup(name);
	s->cap = TABLE_MIN;
	s->tab = calloc(s->cap, sizeof(*s->tab));
	if (!s->name || !s->tab) {
		source_free(s);
		return NULL;
	}
	b->n++;
	return s;
}

int rd_boiler_check_and_learn(struct rd_boiler *b, const char *source, const uint64_t *fp,
                              size_t n, bool *is)
{
	for (size_t i = 0; i < n; i++)
		is[i] = false;
	if (!b || !source || !*source)
		return 0;
	struct source *s = find_source(b, source, true);
	if (!s)
		return 0;
	if (!s->tab) {
		s->cap = TABLE_MIN;
		s->tab = calloc(s->cap, sizeof(*s->tab));
		if (!s->tab)
			return 0;
	}
	s->used = ++b->clock;
	s->docs++;
	/* aging: once a window, forget what this source has not shown for a whole window */
	if (s->docs % (uint32_t)b->o.window == 0 &&
	    rebuild(s, s->cap, (uint32_t)b->o.max_entries, (uint32_t)b->o.window) < 0)
		return 0;
	int flagged = 0;
	for (size_t i = 0; i < n; i++) {
		if (!fp[i])
			continue;
		struct fpent *e = slot(s, fp[i]);
		if (e->fp && e->count >= (uint32_t)b->o.min_docs) {
			is[i] = true;
			flagged++;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!fp[i])
			continue;
		/* count each fingerprint once per document */
		bool again = false;
		for (size_t j = 0; j < i && !again; j++)
			again = fp[j] == fp[i];
		if (again)
			continue;
		if (s->n >= (uint32_t)b->o.max_entries &&
		    rebuild(s, s->cap, (uint32_t)b->o.max_entries * 3 / 4, (uint32_t)b->o.window) < 0)
			return flagged;
		if (grow(b, s) < 0)
			return flagged;
		struct fpent *e = slot(s, fp[i]);
		if (!e->fp) {
			e->fp = fp[i];
			e->count = 0;
			s->n++;
		}
		e->last = s->docs;
		/* the same document fetched again (a re-poll, a replay) is no new evidence: an
		 * article's own text must not become its source's boilerplate by being polled */
		if (b->cur_doc && e->doc == b->cur_doc)
			continue;
		if (e->count < UINT16_MAX)
			e->count++;
		e->doc = b->cur_doc;
	}
	return flagged;
}

void rd_boiler_set_document(struct rd_boiler *b, const char *key)
{
	if (!b)
		return;
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const char *p = key; p && *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	uint16_t h16 = (uint16_t)(h ^ (h >> 16));
	b->cur_doc = key && *key ? (h16 ? h16 : 1) : 0;
}

size_t rd_boiler_sources(const struct rd_boiler *b)
{
	return b ? b->n : 0;
}

size_t rd_boiler_entries(const struct rd_boiler *b, const char *source)
{
	for (size_t i = 0; b && i < b->n; i++)
		if (!strcmp(b->src[i].name, source))
			return b->src[i].n;
	return 0;
}

/* File format, one record a line:
 *   S <docs> <name>           a source (name to the end of the line, no newlines in names)
 *   E <fp hex> <count> <last> <doc>   an entry of the preceding source (<doc> since the
 *                                      learner tells documents apart; read as 0 without) */
int rd_boiler_save(const struct rd_boiler *b, const char *path)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "feedmill-boilerplate 1\n");
	for (size_t i = 0; i < b->n; i++) {
		const struct source *s = &b->src[i];
		if (strchr(s->name, '\n'))
			continue;
		fprintf(f, "S %" PRIu32 " %s\n", s->docs, s->name);
		for (uint32_t k = 0; k < s->cap; k++)
			if (s->tab[k].fp)
				fprintf(f, "E %016" PRIx64 " %u %" PRIu32 " %u\n", s->tab[k].fp,
				        (unsigned)s->tab[k].count, s->tab[k].last, (unsigned)s->tab[k].doc);
	}
	int ret = 0;
	if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0)
		ret = -EIO;
	if (fclose(f) != 0 && !ret)
		ret = -EIO;
	if (!ret && rename(tmp, path) != 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

int rd_boiler_load(struct rd_boiler *b, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	char line[4096];
	struct source *cur = NULL;
	if (!fgets(line, sizeof(line), f) || strncmp(line, "feedmill-boilerplate 1", 22)) {
		fclose(f);
		return -EINVAL;
	}
	while (fgets(line, sizeof(line), f)) {
		size_t l = strlen(line);
		if (l && line[l - 1] == '\n')
			line[--l] = 0;
		if (line[0] == 'S' && line[1] == ' ') {
			char *end;
			unsigned long docs = strtoul(line + 2, &end, 10);
			if (*end != ' ' || !end[1]) {
				cur = NULL;
				continue;
			}
			cur = find_source(b, end + 1, true);
			if (cur) {
				cur->docs = (uint32_t)docs;
				cur->used = ++b->clock;
			}
		} else if (line[0] == 'E' && cur) {
			uint64_t fp;
			uint32_t count, last, doc = 0;
			if (sscanf(line + 1, " %" SCNx64 " %" SCNu32 " %" SCNu32 " %" SCNu32, &fp, &count,
			           &last, &doc) < 3 ||
			    !fp)
				continue;
			if (cur->n >= (uint32_t)b->o.max_entries || grow(b, cur) < 0 || !cur->tab)
				continue;
			struct fpent *e = slot(cur, fp);
			if (!e->fp)
				cur->n++;
			e->fp = fp;
			e->count = (uint16_t)(count > UINT16_MAX ? UINT16_MAX : count);
			e->doc = (uint16_t)doc;
			e->last = last > cur->docs ? cur->docs : last;
		}
	}
	fclose(f);
	return 0;
}
