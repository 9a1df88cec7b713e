#include "idset.h"

#include <stdlib.h>

struct fm_idset {
	uint64_t *slots; /* linear probing; 0 = empty (hashes are never 0) */
	size_t mask;
	uint64_t *ring; /* insertion order, for eviction */
	size_t cap, head, n;
};

uint64_t fm_id_hash(const char *id, size_t len)
{
	/* FNV-1a, then the splitmix64 finaliser to spread FNV's weak high bits. */
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)id[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return h ? h : 1;
}

struct fm_idset *fm_idset_new(size_t cap)
{
	if (cap == 0)
		cap = 1;
	struct fm_idset *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	size_t n = 16;
	while (n < cap * 2)
		n *= 2;
	s->slots = calloc(n, sizeof(*s->slots));
	s->ring = malloc(cap * sizeof(*s->ring));
	if (!s->slots || !s->ring) {
		fm_idset_free(s);
		return NULL;
	}
	s->mask = n - 1;
	s->cap = cap;
	return s;
}

void fm_idset_free(struct fm_idset *s)
{
	if (!s)
		return;
	free(s->slots);
	free(s->ring);
	free(s);
}

bool fm_idset_has(const struct fm_idset *s, uint64_t h)
{
	for (size_t i = h & s->mask; s->slots[i]; i = (i + 1) & s->mask)
		if (s->slots[i] == h)
			return true;
	return false;
}

/* Remove h, shifting later members of its probe run back (no tombstones needed). */
static void slot_remove(struct fm_idset *s, uint64_t h)
{
	size_t i = h & s->mask;
	while (s->slots[i] != h) {
		if (!s->slots[i])
			return;
		i = (i + 1) & s->mask;
	}
	size_t j = i;
	for (;;) {
		s->slots[i] = 0;
		for (;;) {
			j = (j + 1) & s->mask;
			if (!s->slots[j])
				return;
			size_t k = s->slots[j] & s->mask; /* home slot of the member at j */
			/* Move it to i unless its home lies cyclically in (i, j]. */
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			break;
		}
		s->slots[i] = s->slots[j];
		i = j;
	}
}

void fm_idset_add(struct fm_idset *s, uint64_t h)
{
	if (fm_idset_has(s, h))
		return;
	if (s->n == s->cap) {
		slot_remove(s, s->ring[s->head]);
		s->n--;
		s->ring[s->head] = h;
		s->head = (s->head + 1) % s->cap;
	} else {
		s->ring[(s->head + s->n) % s->cap] = h;
	}
	s->n++;
	size_t i = h & s->mask;
	while (s->slots[i])
		i = (i + 1) & s->mask;
	s->slots[i] = h;
}

size_t fm_idset_size(const struct fm_idset *s)
{
	return s->n;
}

size_t fm_idset_export(const struct fm_idset *s, uint64_t *out)
{
	for (size_t i = 0; i < s->n; i++)
		out[i] = s->ring[(s->head + i) % s->cap];
	return s->n;
}

size_t fm_idset_capacity(const struct fm_idset *s)
{
	return s->cap;
}
