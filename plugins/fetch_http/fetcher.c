/* fetch_http: many GETs at once on a curl multi handle (fetcher.h). */
#include "fetcher.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "host_gate.h"
#include "http_xfer.h"

struct job;

/* A host's queue here; its slots and last start are the gate's (host_gate.h). */
struct host {
	char *key;            /* host name, lower case */
	int active;           /* transfers of this fetcher to it */
	bool blocked;         /* the gate said it is full: wait for a wake-up */
	struct job *wait_head, *wait_tail;
	struct host *hnext;   /* hash chain */
	struct host *rprev, *rnext; /* the ring of hosts with requests waiting */
	bool in_ring;
};

struct job {
	struct fm_fetcher *f;
	struct host *host;
	struct fm_http_xfer t;
	const struct fm_http_limits *lim;
	struct fm_http_request req;
	struct fm_http_response *resp;
	int64_t gap_ms;
	fm_fetch_done done;
	void (*started_cb)(void *arg);
	void *arg;
	CURL *easy;
	bool started;         /* holds a gate slot */
	int rc;               /* the result, once over */
	struct job *next;     /* its host's queue, or the list of ended jobs */
	struct job *aprev, *anext; /* the running ones */
};

struct fm_fetcher {
	CURLM *multi;
	int epfd;
	struct fm_gate_waiter *gate;
	int gate_fd;
	bool closing;
	bool all_full; /* the gate is full: wait for a wake-up */
	int64_t next_ready; /* monotonic ms when a gap ends for a waiting request; -1: none */
	int64_t curl_deadline; /* monotonic ms; -1: none */
	struct fm_fetcher_limits lim;
	int active;
	size_t pending;
	struct host **buckets;
	size_t nbuckets, nhosts;
	struct host *ring;
	struct job *running;
	struct job *ended, *ended_tail; /* over without a transfer (could not start) */
	CURL **pool;
	size_t npool, cap_pool;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- hosts ---------------------------------------------------------------------------- */

static size_t hash_str(const char *s)
{
	size_t h = 14695981039346656037ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int grow_hosts(struct fm_fetcher *f)
{
	size_t n = f->nbuckets ? f->nbuckets * 2 : 256;
	struct host **b = calloc(n, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < f->nbuckets; i++) {
		for (struct host *h = f->buckets[i], *next; h; h = next) {
			next = h->hnext;
			size_t j = hash_str(h->key) & (n - 1);
			h->hnext = b[j];
			b[j] = h;
		}
	}
	free(f->buckets);
	f->buckets = b;
	f->nbuckets = n;
	return 0;
}

static struct host *host_of(struct fm_fetcher *f, const char *url)
{
	char key[512];
	fm_gate_host(url, key, sizeof(key));
	if (f->nhosts >= f->nbuckets && grow_hosts(f) < 0 && !f->nbuckets)
		return NULL;
	size_t j = hash_str(key) & (f->nbuckets - 1);
	for (struct host *h = f->buckets[j]; h; h = h->hnext)
		if (strcmp(h->key, key) == 0)
			return h;
	struct host *h = calloc(1, sizeof(*h));
	if (!h || !(h->key = strdup(key))) {
		free(h);
		return NULL;
	}
	h->hnext = f->buckets[j];
	f->buckets[j] = h;
	f->nhosts++;
	return h;
}

static void ring_add(struct fm_fetcher *f, struct host *h)
{
	if (h->in_ring)
		return;
	h->in_ring = true;
	if (!f->ring) {
		h->rprev = h->rnext = h;
		f->ring = h;
		return;
	}
	h->rnext = f->ring;
	h->rprev = f->ring->rprev;
	f->ring->rprev->rnext = h;
	f->ring->rprev = h;
}

static void ring_remove(struct fm_fetcher *f, struct host *h)
{
	if (!h->in_ring)
		return;
	h->in_ring = false;
	if (h->rnext == h) {
		f->ring = NULL;
	} else {
		h->rprev->rnext = h->rnext;
		h->rnext->rprev = h->rprev;
		if (f->ring == h)
			f->ring = h->rnext;
	}
	h->rprev = h->rnext = NULL;
}

/* The gap the host's next waiting request asks for. */
static int64_t gap_of(const struct fm_fetcher *f, const struct host *h)
{
	const struct job *j = h->wait_head;
	return j && j->gap_ms > f->lim.host_delay_ms ? j->gap_ms : f->lim.host_delay_ms;
}

/* A host with nothing waiting and nothing running here is forgotten (the gate keeps its
 * last start), so the table follows the hosts in use. */
static void host_drop_if_idle(struct fm_fetcher *f, struct host *h)
{
	if (h->active || h->wait_head || h->in_ring)
		return;
	size_t j = hash_str(h->key) & (f->nbuckets - 1);
	for (struct host **pp = &f->buckets[j]; *pp; pp = &(*pp)->hnext) {
		if (*pp == h) {
			*pp = h->hnext;
			f->nhosts--;
			free(h->key);
			free(h);
			return;
		}
	}
}

/* ---- transfers ------------------------------------------------------------------------ */

static CURL *easy_get(struct fm_fetcher *f)
{
	return f->npool ? f->pool[--f->npool] : curl_easy_init();
}

static void easy_put(struct fm_fetcher *f, CURL *e)
{
	if (f->npool == f->cap_pool) {
		size_t cap = f->cap_pool ? f->cap_pool * 2 : 16;
		CURL **p = realloc(f->pool, cap * sizeof(*p));
		if (!p) {
			curl_easy_cleanup(e);
			return;
		}
		f->pool = p;
		f->cap_pool = cap;
	}
	f->pool[f->npool++] = e;
}

static void ended_push(struct fm_fetcher *f, struct job *j)
{
	j->next = NULL;
	if (f->ended_tail)
		f->ended_tail->next = j;
	else
		f->ended = j;
	f->ended_tail = j;
}

/* Start j now (the gate gave it a slot). */
static void start(struct fm_fetcher *f, struct job *j)
{
	struct host *h = j->host;
	h->active++;
	f->active++;
	j->started = true;
	if (j->started_cb)
		j->started_cb(j->arg);
	j->easy = easy_get(f);
	if (!j->easy) {
		j->rc = -ENOMEM;
		snprintf(j->resp->error, sizeof(j->resp->error), "out of memory");
		ended_push(f, j);
		return;
	}
	int rc = fm_http_xfer_start(&j->t, j->easy, j->lim, &j->req, j->resp);
	if (rc == 0) {
		curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
		if (curl_multi_add_handle(f->multi, j->easy) == CURLM_OK) {
			j->anext = f->running;
			if (f->running)
				f->running->aprev = j;
			f->running = j;
			return;
		}
		snprintf(j->resp->error, sizeof(j->resp->error), "cannot start the transfer");
		rc = -ENOMEM;
	}
	j->rc = rc; /* over before it began: answered from the next step */
	ended_push(f, j);
}

/* Start what the gate lets start, hosts taking turns. */
static void dispatch(struct fm_fetcher *f)
{
	int64_t now = now_ms();
	f->next_ready = -1;
	bool progress = true;
	while (progress && f->ring && !f->all_full) {
		progress = false;
		struct host *h = f->ring;
		struct host *last = f->ring->rprev;
		for (;;) {
			struct host *next = h->rnext;
			bool at_end = h == last;
			if (!h->blocked) {
				struct fm_gate_ask ask = {.host = h->key, .per_host = f->lim.per_host,
				                          .max_total = f->lim.max_transfers,
				                          .gap_ms = gap_of(f, h), .now = now};
				int64_t retry_at;
				switch (fm_gate_acquire(f->gate, &ask, &retry_at)) {
				case FM_GATE_TAKEN: {
					struct job *j = h->wait_head;
					h->wait_head = j->next;
					if (!h->wait_head) {
						h->wait_tail = NULL;
						ring_remove(f, h);
					} else {
						f->ring = next; /* the next host goes first next time */
					}
					start(f, j);
					progress = true;
					break;
				}
				case FM_GATE_GAP:
					if (f->next_ready < 0 || retry_at < f->next_ready)
						f->next_ready = retry_at;
					break;
				case FM_GATE_HOST_FULL:
					h->blocked = true; /* the gate wakes us */
					break;
				case FM_GATE_ALL_FULL:
					f->all_full = true; /* likewise; nothing else can start */
					return;
				}
			}
			if (at_end || !f->ring)
				break;
			h = next;
		}
	}
}

/* j is over: its slot and its handle go back, its callback is called. */
static void finish(struct fm_fetcher *f, struct job *j)
{
	struct host *h = j->host;
	if (j->easy) {
		fm_http_xfer_end(&j->t);
		easy_put(f, j->easy);
	}
	if (j->started) {
		fm_gate_release(h->key);
		h->active--;
		f->active--;
		h->blocked = false; /* a slot of its own came free */
		f->all_full = false;
	}
	f->pending--;
	j->done(j->arg, j->rc, j->resp);
	free(j);
	host_drop_if_idle(f, h);
}

static void running_remove(struct fm_fetcher *f, struct job *j)
{
	if (j->aprev)
		j->aprev->anext = j->anext;
	else
		f->running = j->anext;
	if (j->anext)
		j->anext->aprev = j->aprev;
	j->aprev = j->anext = NULL;
}

/* Transfers that ended: the next hop of a redirect, or the end of the GET. */
static void read_ended(struct fm_fetcher *f)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(f->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *e = msg->easy_handle;
		CURLcode result = msg->data.result;
		struct job *j = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&j);
		curl_multi_remove_handle(f->multi, e);
		if (!j)
			continue;
		if (fm_http_xfer_next(&j->t, result, &j->rc)) {
			/* the next hop (setting it up reset the handle, CURLOPT_PRIVATE with it) */
			curl_easy_setopt(e, CURLOPT_PRIVATE, j);
			if (curl_multi_add_handle(f->multi, e) == CURLM_OK)
				continue;
			j->rc = -ENOMEM;
		}
		running_remove(f, j);
		finish(f, j);
	}
}

/* ---- curl's callbacks ----------------------------------------------------------------- */

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct fm_fetcher *f = userp;
	(void)e;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(f->epfd, EPOLL_CTL_DEL, s, NULL);
		curl_multi_assign(f->multi, s, NULL);
		return 0;
	}
	struct epoll_event ev = {.data.fd = s};
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	if (socketp) {
		epoll_ctl(f->epfd, EPOLL_CTL_MOD, s, &ev);
	} else if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, s, &ev) == 0 ||
	           (errno == EEXIST && epoll_ctl(f->epfd, EPOLL_CTL_MOD, s, &ev) == 0)) {
		curl_multi_assign(f->multi, s, (void *)1);
	}
	return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
	struct fm_fetcher *f = userp;
	(void)m;
	f->curl_deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	return 0;
}

/* ---- the API -------------------------------------------------------------------------- */

struct fm_fetcher *fm_fetcher_new(const struct fm_fetcher_limits *lim)
{
	struct fm_fetcher *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->lim = *lim;
	if (f->lim.max_transfers < 1)
		f->lim.max_transfers = 1;
	if (f->lim.per_host < 1)
		f->lim.per_host = 1;
	f->curl_deadline = -1;
	f->next_ready = -1;
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	f->multi = curl_multi_init();
	f->gate = fm_gate_join();
	if (f->epfd < 0 || !f->multi || !f->gate || grow_hosts(f) < 0) {
		fm_fetcher_free(f);
		return NULL;
	}
	f->gate_fd = fm_gate_fd(f->gate);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = f->gate_fd};
	if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->gate_fd, &ev) < 0) {
		fm_fetcher_free(f);
		return NULL;
	}
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
	/* requests to one host share its connections (and streams, over HTTP/2) */
	curl_multi_setopt(f->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	return f;
}

void fm_fetcher_free(struct fm_fetcher *f)
{
	if (!f)
		return;
	f->closing = true; /* callbacks cannot start more */
	/* what runs, ended or waits ends, cancelled */
	while (f->running) {
		struct job *j = f->running;
		running_remove(f, j);
		curl_multi_remove_handle(f->multi, j->easy);
		j->rc = -ECANCELED;
		snprintf(j->resp->error, sizeof(j->resp->error), "cancelled: the fetcher stopped");
		finish(f, j);
	}
	while (f->ended) {
		struct job *j = f->ended;
		f->ended = j->next;
		finish(f, j);
	}
	for (size_t i = 0; i < f->nbuckets; i++) {
		for (struct host *h = f->buckets[i], *next; h; h = next) {
			next = h->hnext;
			while (h->wait_head) {
				struct job *j = h->wait_head;
				h->wait_head = j->next;
				snprintf(j->resp->error, sizeof(j->resp->error),
				         "cancelled: the fetcher stopped");
				f->pending--;
				j->done(j->arg, -ECANCELED, j->resp);
				free(j);
			}
			free(h->key);
			free(h);
		}
	}
	for (size_t i = 0; i < f->npool; i++)
		curl_easy_cleanup(f->pool[i]);
	free(f->pool);
	free(f->buckets);
	if (f->multi)
		curl_multi_cleanup(f->multi);
	if (f->epfd >= 0)
		close(f->epfd);
	fm_gate_leave(f->gate);
	free(f);
}

int fm_fetcher_get(struct fm_fetcher *f, const struct fm_fetch *fx)
{
	const struct fm_http_request *req = fx->req;
	if (f->closing)
		return -ECANCELED;
	struct job *j = calloc(1, sizeof(*j));
	struct host *h = j ? host_of(f, req->url ? req->url : "") : NULL;
	if (!h) {
		free(j);
		return -ENOMEM;
	}
	*j = (struct job){.f = f, .host = h, .lim = fx->lim, .req = *req, .resp = fx->resp,
	                  .gap_ms = fx->gap_ms, .done = fx->done, .started_cb = fx->started,
	                  .arg = fx->arg};
	f->pending++;
	if (h->wait_tail)
		h->wait_tail->next = j;
	else
		h->wait_head = j;
	h->wait_tail = j;
	ring_add(f, h);
	dispatch(f);
	return 0;
}

int fm_fetcher_fd(const struct fm_fetcher *f)
{
	return f->epfd;
}

int64_t fm_fetcher_timeout(const struct fm_fetcher *f)
{
	if (f->ended)
		return 0;
	int64_t now = now_ms(), best = -1;
	if (f->curl_deadline >= 0)
		best = f->curl_deadline > now ? f->curl_deadline - now : 0;
	/* a host whose next request waits for its gap */
	if (f->next_ready >= 0) {
		int64_t wait = f->next_ready > now ? f->next_ready - now : 0;
		if (best < 0 || wait < best)
			best = wait;
	}
	return best;
}

/* The gate released a slot we were refused: every blocked host asks again. */
static void unblock(struct fm_fetcher *f)
{
	fm_gate_woken(f->gate);
	f->all_full = false;
	const struct host *first = f->ring;
	struct host *h = f->ring;
	if (!h)
		return;
	do {
		h->blocked = false;
		h = h->rnext;
	} while (h != first);
}

void fm_fetcher_step(struct fm_fetcher *f)
{
	int running;
	struct epoll_event evs[64];
	int n;
	while ((n = epoll_wait(f->epfd, evs, 64, 0)) > 0) {
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == f->gate_fd) {
				unblock(f);
				continue;
			}
			int flags = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
			            (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
			            (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
			curl_multi_socket_action(f->multi, evs[i].data.fd, flags, &running);
		}
		read_ended(f);
		if (n < 64)
			break;
	}
	if (f->curl_deadline >= 0 && now_ms() >= f->curl_deadline) {
		f->curl_deadline = -1;
		curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	read_ended(f);
	while (f->ended) {
		struct job *j = f->ended;
		f->ended = j->next;
		if (!f->ended)
			f->ended_tail = NULL;
		finish(f, j);
	}
	dispatch(f);
}

size_t fm_fetcher_pending(const struct fm_fetcher *f)
{
	return f->pending;
}

int fm_fetcher_running(const struct fm_fetcher *f)
{
	return f->active;
}
