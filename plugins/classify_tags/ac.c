/* Aho–Corasick automaton: see ac.h for the reference and the layout. */
#include "ac.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

struct node {
	uint32_t fail;       /* longest proper suffix that is also a trie node */
	uint32_t out;        /* first pattern ending exactly here, NONE if none */
	uint32_t dict;       /* nearest node on the fail chain with an output, NONE if none */
	uint32_t child;      /* first child (for the breadth-first pass only) */
	uint32_t sibling;    /* next child of the same parent */
	uint8_t byte;        /* label of the edge into this node */
};

struct pattern {
	uint32_t id;
	uint32_t next; /* next pattern ending at the same node */
};

struct edge {
	uint64_t key; /* (node << 8 | byte) + 1; 0 marks an empty slot */
	uint32_t to;
};

struct fm_ac {
	struct node *nodes;
	size_t nnodes, capnodes;
	struct pattern *pats;
	size_t npats, cappats;
	struct edge *edges;
	size_t nedges, capedges; /* capedges: a power of two */
	uint32_t root_next[256];
	bool built;
};

static inline size_t edge_slot(uint64_t key, size_t cap)
{
	/* Fibonacci hashing spreads the consecutive node numbers. */
	return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

static inline uint32_t edge_get(const struct fm_ac *ac, uint32_t from, uint8_t c)
{
	uint64_t key = (((uint64_t)from << 8) | c) + 1;
	size_t mask = ac->capedges - 1;
	for (size_t i = edge_slot(key, ac->capedges);; i = (i + 1) & mask) {
		if (ac->edges[i].key == key)
			return ac->edges[i].to;
		if (ac->edges[i].key == 0)
			return NONE;
	}
}

static int edges_grow(struct fm_ac *ac)
{
	size_t cap = ac->capedges ? ac->capedges * 2 : 1024;
	struct edge *e = calloc(cap, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i < ac->capedges; i++) {
		if (!ac->edges[i].key)
			continue;
		size_t j = edge_slot(ac->edges[i].key, cap);
		while (e[j].key)
			j = (j + 1) & (cap - 1);
		e[j] = ac->edges[i];
	}
	free(ac->edges);
	ac->edges = e;
	ac->capedges = cap;
	return 0;
}

static int edge_put(struct fm_ac *ac, uint32_t from, uint8_t c, uint32_t to)
{
	/* Keep the load factor under one half so probes stay short. */
	if ((ac->nedges + 1) * 2 > ac->capedges && edges_grow(ac) < 0)
		return -ENOMEM;
	uint64_t key = (((uint64_t)from << 8) | c) + 1;
	size_t i = edge_slot(key, ac->capedges);
	while (ac->edges[i].key)
		i = (i + 1) & (ac->capedges - 1);
	ac->edges[i].key = key;
	ac->edges[i].to = to;
	ac->nedges++;
	return 0;
}

static uint32_t node_new(struct fm_ac *ac, uint8_t byte)
{
	if (ac->nnodes == ac->capnodes) {
		size_t cap = ac->capnodes * 2;
		if (cap >= NONE)
			return NONE;
		struct node *n = realloc(ac->nodes, cap * sizeof(*n));
		if (!n)
			return NONE;
		ac->nodes = n;
		ac->capnodes = cap;
	}
	struct node *n = &ac->nodes[ac->nnodes];
	*n = (struct node){0, NONE, NONE, NONE, NONE, byte};
	return (uint32_t)ac->nnodes++;
}

struct fm_ac *fm_ac_new(void)
{
	struct fm_ac *ac = calloc(1, sizeof(*ac));
	if (!ac)
		return NULL;
	ac->capnodes = 64;
	ac->nodes = malloc(ac->capnodes * sizeof(*ac->nodes));
	if (!ac->nodes || edges_grow(ac) < 0) {
		fm_ac_free(ac);
		return NULL;
	}
	node_new(ac, 0); /* the root, node 0 */
	return ac;
}

int fm_ac_add(struct fm_ac *ac, const char *s, size_t n, uint32_t id)
{
	if (ac->built || n == 0)
		return -EINVAL;
	uint32_t cur = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];
		uint32_t next = edge_get(ac, cur, c);
		if (next == NONE) {
			next = node_new(ac, c);
			if (next == NONE || edge_put(ac, cur, c, next) < 0)
				return -ENOMEM;
			ac->nodes[next].sibling = ac->nodes[cur].child;
			ac->nodes[cur].child = next;
		}
		cur = next;
	}
	if (ac->npats == ac->cappats) {
		size_t cap = ac->cappats ? ac->cappats * 2 : 16;
		struct pattern *p = realloc(ac->pats, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		ac->pats = p;
		ac->cappats = cap;
	}
	ac->pats[ac->npats] = (struct pattern){id, ac->nodes[cur].out};
	ac->nodes[cur].out = (uint32_t)ac->npats++;
	return 0;
}

int fm_ac_build(struct fm_ac *ac)
{
	/* Breadth-first, so a node's failure target (shallower) is final before the node. */
	uint32_t *queue = malloc(ac->nnodes * sizeof(*queue));
	if (!queue)
		return -ENOMEM;
	size_t head = 0, tail = 0;
	for (int c = 0; c < 256; c++)
		ac->root_next[c] = 0;
	for (uint32_t ch = ac->nodes[0].child; ch != NONE; ch = ac->nodes[ch].sibling) {
		ac->root_next[ac->nodes[ch].byte] = ch;
		ac->nodes[ch].fail = 0;
		queue[tail++] = ch;
	}
	while (head < tail) {
		uint32_t u = queue[head++];
		for (uint32_t v = ac->nodes[u].child; v != NONE; v = ac->nodes[v].sibling) {
			uint8_t c = ac->nodes[v].byte;
			uint32_t f = ac->nodes[u].fail, t;
			while (f != 0 && (t = edge_get(ac, f, c)) == NONE)
				f = ac->nodes[f].fail;
			if (f == 0)
				t = ac->root_next[c];
			ac->nodes[v].fail = t;
			uint32_t ft = ac->nodes[v].fail;
			ac->nodes[v].dict = ac->nodes[ft].out != NONE ? ft : ac->nodes[ft].dict;
			queue[tail++] = v;
		}
	}
	free(queue);
	ac->built = true;
	return 0;
}

static int report(const struct fm_ac *ac, uint32_t node, size_t end, fm_ac_hit_fn hit, void *arg)
{
	for (uint32_t n = node; n != NONE; n = ac->nodes[n].dict) {
		for (uint32_t p = ac->nodes[n].out; p != NONE; p = ac->pats[p].next) {
			int rc = hit(arg, ac->pats[p].id, end);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int fm_ac_scan(const struct fm_ac *ac, const char *text, size_t n, fm_ac_hit_fn hit, void *arg)
{
	if (!ac->built || ac->npats == 0)
		return 0;
	uint32_t s = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)text[i];
		uint32_t t = NONE;
		while (s != 0 && (t = edge_get(ac, s, c)) == NONE)
			s = ac->nodes[s].fail;
		s = s == 0 ? ac->root_next[c] : t;
		if (ac->nodes[s].out != NONE || ac->nodes[s].dict != NONE) {
			int rc = report(ac, s, i + 1, hit, arg);
			if (rc)
				return rc;
		}
	}
	return 0;
}

size_t fm_ac_patterns(const struct fm_ac *ac)
{
	return ac->npats;
}

void fm_ac_free(struct fm_ac *ac)
{
	if (!ac)
		return;
	free(ac->nodes);
	free(ac->pats);
	free(ac->edges);
	free(ac);
}
