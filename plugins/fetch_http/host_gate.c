/* fetch_http: per-host politeness shared by the fetchers of a process (host_gate.h). */
#include "host_gate.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* How long a host's last start is remembered once nothing runs to it: longer than any gap
 * a stage is configured with in practice (host_delay, full_article_delay, crawl-delay). */
#define KEEP_IDLE_MS (10 * 60 * 1000)

struct entry {
	struct entry *next;
	int active;
	bool waiting;       /* a fetcher was refused for its fullness */
	int64_t last_start; /* monotonic ms; 0: none */
	char key[];
};

struct fm_gate_waiter {
	int fd;
	bool blocked; /* refused for fullness since its last wake-up */
};

static struct {
	pthread_mutex_t mu;
	struct entry **buckets;
	size_t nbuckets, n, swept_at;
	int total;
	bool total_waiting;
	struct fm_gate_waiter **waiters;
	size_t nwaiters, cap_waiters;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER};

static size_t hash_str(const char *s)
{
	size_t h = 14695981039346656037ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

void fm_gate_host(const char *url, char *buf, size_t n)
{
	if (!n)
		return;
	buf[0] = '\0';
	const char *s = url ? strstr(url, "://") : NULL;
	if (!s)
		return;
	const char *a = s + 3;
	size_t alen = strcspn(a, "/?#");
	for (const char *p = memchr(a, '@', alen); p; p = memchr(a, '@', alen)) {
		alen -= (size_t)(p + 1 - a);
		a = p + 1;
	}
	/* the port goes: after "]" for an IPv6 literal, else after the last ':' */
	const char *end = a + alen;
	if (alen && a[0] == '[') {
		const char *rb = memchr(a, ']', alen);
		if (rb)
			end = rb + 1;
	} else {
		const char *colon = memchr(a, ':', alen);
		if (colon)
			end = colon;
	}
	size_t k = 0;
	for (const char *p = a; p < end && k + 1 < n; p++)
		buf[k++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	buf[k] = '\0';
}

static int grow(void)
{
	size_t n = g.nbuckets ? g.nbuckets * 2 : 256;
	struct entry **b = calloc(n, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < g.nbuckets; i++) {
		for (struct entry *e = g.buckets[i], *next; e; e = next) {
			next = e->next;
			size_t j = hash_str(e->key) & (n - 1);
			e->next = b[j];
			b[j] = e;
		}
	}
	free(g.buckets);
	g.buckets = b;
	g.nbuckets = n;
	return 0;
}

/* Forget hosts idle for long, so the table follows the hosts in use, not all ever seen. */
static void sweep(int64_t now)
{
	for (size_t i = 0; i < g.nbuckets; i++) {
		struct entry **pp = &g.buckets[i];
		while (*pp) {
			struct entry *e = *pp;
			if (!e->active && !e->waiting && now - e->last_start > KEEP_IDLE_MS) {
				*pp = e->next;
				free(e);
				g.n--;
			} else {
				pp = &e->next;
			}
		}
	}
	g.swept_at = g.n;
}

static struct entry *lookup(const char *key, bool create, int64_t now)
{
	if (g.nbuckets) {
		struct entry *e = g.buckets[hash_str(key) & (g.nbuckets - 1)];
		for (; e; e = e->next)
			if (strcmp(e->key, key) == 0)
				return e;
	}
	if (!create)
		return NULL;
	if (g.n >= 1024 && g.n >= 2 * g.swept_at)
		sweep(now);
	if ((g.n >= g.nbuckets && grow() < 0 && !g.nbuckets))
		return NULL;
	size_t len = strlen(key);
	struct entry *e = calloc(1, sizeof(*e) + len + 1);
	if (!e)
		return NULL;
	memcpy(e->key, key, len + 1);
	size_t j = hash_str(key) & (g.nbuckets - 1);
	e->next = g.buckets[j];
	g.buckets[j] = e;
	g.n++;
	return e;
}

struct fm_gate_waiter *fm_gate_join(void)
{
	struct fm_gate_waiter *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->fd < 0) {
		free(w);
		return NULL;
	}
	pthread_mutex_lock(&g.mu);
	if (g.nwaiters == g.cap_waiters) {
		size_t cap = g.cap_waiters ? g.cap_waiters * 2 : 8;
		struct fm_gate_waiter **p = realloc(g.waiters, cap * sizeof(*p));
		if (!p) {
			pthread_mutex_unlock(&g.mu);
			close(w->fd);
			free(w);
			return NULL;
		}
		g.waiters = p;
		g.cap_waiters = cap;
	}
	g.waiters[g.nwaiters++] = w;
	pthread_mutex_unlock(&g.mu);
	return w;
}

void fm_gate_leave(struct fm_gate_waiter *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&g.mu);
	for (size_t i = 0; i < g.nwaiters; i++) {
		if (g.waiters[i] == w) {
			g.waiters[i] = g.waiters[--g.nwaiters];
			break;
		}
	}
	if (!g.nwaiters) {
		/* the last fetcher is gone: nothing runs, forget every host */
		for (size_t i = 0; i < g.nbuckets; i++)
			for (struct entry *e = g.buckets[i], *next; e; e = next) {
				next = e->next;
				free(e);
			}
		free(g.buckets);
		free(g.waiters);
		g.buckets = NULL;
		g.waiters = NULL;
		g.nbuckets = g.n = g.swept_at = g.cap_waiters = 0;
		g.total = 0;
		g.total_waiting = false;
	}
	pthread_mutex_unlock(&g.mu);
	close(w->fd);
	free(w);
}

int fm_gate_fd(const struct fm_gate_waiter *w)
{
	return w->fd;
}

void fm_gate_woken(struct fm_gate_waiter *w)
{
	uint64_t v;
	while (read(w->fd, &v, sizeof(v)) > 0)
		;
}

enum fm_gate_answer fm_gate_acquire(struct fm_gate_waiter *w, const struct fm_gate_ask *a,
                                    int64_t *retry_at)
{
	enum fm_gate_answer ok;
	*retry_at = -1;
	pthread_mutex_lock(&g.mu);
	struct entry *e = lookup(a->host, true, a->now);
	if (!e) {
		/* out of memory: let it run rather than stall; it is released by name, and a
		 * release of an unknown host is ignored */
		ok = FM_GATE_TAKEN;
		g.total++;
	} else if (a->max_total > 0 && g.total >= a->max_total) {
		g.total_waiting = true;
		w->blocked = true;
		ok = FM_GATE_ALL_FULL;
	} else if (e->active >= (a->per_host > 0 ? a->per_host : 1)) {
		e->waiting = true;
		w->blocked = true;
		ok = FM_GATE_HOST_FULL;
	} else if (e->last_start && a->gap_ms > 0 && a->now < e->last_start + a->gap_ms) {
		*retry_at = e->last_start + a->gap_ms;
		ok = FM_GATE_GAP;
	} else {
		e->active++;
		e->last_start = a->now ? a->now : 1;
		g.total++;
		ok = FM_GATE_TAKEN;
	}
	pthread_mutex_unlock(&g.mu);
	return ok;
}

void fm_gate_release(const char *host)
{
	pthread_mutex_lock(&g.mu);
	struct entry *e = lookup(host, false, 0);
	if (g.total > 0)
		g.total--;
	bool wake = g.total_waiting;
	if (e) {
		if (e->active > 0)
			e->active--;
		wake = wake || e->waiting;
		e->waiting = false;
	}
	if (wake) {
		g.total_waiting = false;
		uint64_t one = 1;
		for (size_t i = 0; i < g.nwaiters; i++) {
			struct fm_gate_waiter *w = g.waiters[i];
			if (w->blocked) {
				w->blocked = false;
				ssize_t rc = write(w->fd, &one, sizeof(one));
				(void)rc; /* a full counter is as readable as a new one */
			}
		}
	}
	pthread_mutex_unlock(&g.mu);
}

int fm_gate_active(const char *host)
{
	pthread_mutex_lock(&g.mu);
	struct entry *e = lookup(host, false, 0);
	int n = e ? e->active : 0;
	pthread_mutex_unlock(&g.mu);
	return n;
}
