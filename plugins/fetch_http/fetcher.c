/*
 * fetch_http: the process's I/O thread for GETs (fetcher.h).
 *
 * Threads and data. Clients (one per fetch instance) hand jobs to the engine through its
 * inbox and get them back through their own event queues, both under one mutex (mu); the
 * eventfds say that something came. Everything else (the curl multi handle, the sockets, the
 * hosts and their queues, the running transfers) belongs to the engine thread alone. A
 * response is written by the engine thread while its transfer runs and read by the client
 * after the job comes back; the mutex orders the two.
 */
#include "fetcher.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http_xfer.h"

struct job;

/* A host's queue and slots (engine thread). */
struct host {
	char *key;            /* host name, lower case */
	int active;           /* transfers to it now */
	int64_t last_start;   /* monotonic ms of the last request started; 0: none */
	struct job *wait_head, *wait_tail;
	struct host *hnext;   /* hash chain */
	struct host *rprev, *rnext; /* the ring of hosts with requests waiting */
	bool in_ring;
};

struct job {
	struct fm_fetcher *c;
	struct host *host;
	struct fm_http_xfer t;
	const struct fm_http_limits *lim;
	struct fm_http_request req;
	struct fm_http_response *resp;
	int64_t gap_ms;
	int per_host, max_transfers;
	fm_fetch_done done;
	void (*started_cb)(void *arg);
	void *arg;
	CURL *easy;
	bool slot;            /* holds a slot of its host */
	bool cancel;          /* its client is closing (read under mu) */
	int rc;               /* the result, once over */
	struct job *next;     /* inbox, its host's queue, the ended list, the client's done queue */
	struct job *snext;    /* the client's started queue */
	struct job *aprev, *anext; /* the running ones */
};

struct fm_fetcher {
	struct fm_fetcher_limits lim;
	int efd;
	atomic_int running;
	size_t pending; /* client thread */
	/* under mu: */
	struct job *started_head, *started_tail, *done_head, *done_tail;
	size_t in_engine; /* handed to the engine and not back yet */
	bool closing;
	struct fm_fetcher *cnext;
};

static struct {
	pthread_mutex_t life; /* start and stop of the engine */
	pthread_mutex_t mu;
	pthread_cond_t back;  /* a job came back to a client */
	int refs;
	pthread_t thread;
	int wake_fd, epfd;
	/* under mu: */
	struct job *inbox_head, *inbox_tail;
	bool cancels; /* a client is closing */
	bool quit;
	/* engine thread: */
	CURLM *multi;
	int64_t curl_deadline; /* monotonic ms; -1: none */
	int64_t next_ready;    /* when a gap ends for a waiting request; -1: none */
	int active;
	int most_transfers;    /* the highest max_transfers of the jobs seen */
	struct host **buckets;
	size_t nbuckets, nhosts;
	struct host *ring;
	struct job *running;
	struct job *ended, *ended_tail;
	CURL **pool;
	size_t npool, cap_pool;
} E = {.life = PTHREAD_MUTEX_INITIALIZER, .mu = PTHREAD_MUTEX_INITIALIZER,
       .back = PTHREAD_COND_INITIALIZER, .wake_fd = -1, .epfd = -1};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void signal_fd(int fd)
{
	uint64_t one = 1;
	ssize_t rc = write(fd, &one, sizeof(one));
	(void)rc; /* a full counter is as readable as a new one */
}

static void drain_fd(int fd)
{
	uint64_t v;
	while (read(fd, &v, sizeof(v)) > 0)
		;
}

/* ---- hosts (engine thread) ------------------------------------------------------------ */

void fm_fetcher_host(const char *url, char *buf, size_t n)
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
	/* the port goes: after "]" for an IPv6 literal, else after the ':' */
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

static size_t hash_str(const char *s)
{
	size_t h = 14695981039346656037ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int grow_hosts(void)
{
	size_t n = E.nbuckets ? E.nbuckets * 2 : 256;
	struct host **b = calloc(n, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < E.nbuckets; i++) {
		for (struct host *h = E.buckets[i], *next; h; h = next) {
			next = h->hnext;
			size_t j = hash_str(h->key) & (n - 1);
			h->hnext = b[j];
			b[j] = h;
		}
	}
	free(E.buckets);
	E.buckets = b;
	E.nbuckets = n;
	return 0;
}

static struct host *host_of(const char *url)
{
	char key[512];
	fm_fetcher_host(url, key, sizeof(key));
	if (E.nhosts >= E.nbuckets && grow_hosts() < 0 && !E.nbuckets)
		return NULL;
	size_t j = hash_str(key) & (E.nbuckets - 1);
	for (struct host *h = E.buckets[j]; h; h = h->hnext)
		if (strcmp(h->key, key) == 0)
			return h;
	struct host *h = calloc(1, sizeof(*h));
	if (!h || !(h->key = strdup(key))) {
		free(h);
		return NULL;
	}
	h->hnext = E.buckets[j];
	E.buckets[j] = h;
	E.nhosts++;
	return h;
}

/* How long a host's last start is remembered once nothing waits or runs: longer than any
 * gap a stage is configured with in practice (host_delay, full_article_delay). */
#define KEEP_IDLE_MS (10 * 60 * 1000)

/* Forget hosts idle for long, so the table follows the hosts in use, not all ever seen. */
static void sweep_hosts(int64_t now)
{
	for (size_t i = 0; i < E.nbuckets; i++) {
		struct host **pp = &E.buckets[i];
		while (*pp) {
			struct host *h = *pp;
			if (!h->active && !h->wait_head && !h->in_ring &&
			    now - h->last_start > KEEP_IDLE_MS) {
				*pp = h->hnext;
				E.nhosts--;
				free(h->key);
				free(h);
			} else {
				pp = &h->hnext;
			}
		}
	}
}

static void ring_add(struct host *h)
{
	if (h->in_ring)
		return;
	h->in_ring = true;
	if (!E.ring) {
		h->rprev = h->rnext = h;
		E.ring = h;
		return;
	}
	h->rnext = E.ring;
	h->rprev = E.ring->rprev;
	E.ring->rprev->rnext = h;
	E.ring->rprev = h;
}

static void ring_remove(struct host *h)
{
	if (!h->in_ring)
		return;
	h->in_ring = false;
	if (h->rnext == h) {
		E.ring = NULL;
	} else {
		h->rprev->rnext = h->rnext;
		h->rnext->rprev = h->rprev;
		if (E.ring == h)
			E.ring = h->rnext;
	}
	h->rprev = h->rnext = NULL;
}

static void host_push(struct host *h, struct job *j)
{
	j->next = NULL;
	if (h->wait_tail)
		h->wait_tail->next = j;
	else
		h->wait_head = j;
	h->wait_tail = j;
	ring_add(h);
}

/* ---- jobs back to their clients --------------------------------------------------------- */

/* Under mu. */
static void post_done_locked(struct job *j)
{
	struct fm_fetcher *c = j->c;
	j->next = NULL;
	if (c->done_tail)
		c->done_tail->next = j;
	else
		c->done_head = j;
	c->done_tail = j;
	c->in_engine--;
	signal_fd(c->efd);
}

static void post_started(struct job *j)
{
	if (!j->started_cb)
		return;
	struct fm_fetcher *c = j->c;
	pthread_mutex_lock(&E.mu);
	j->snext = NULL;
	if (c->started_tail)
		c->started_tail->snext = j;
	else
		c->started_head = j;
	c->started_tail = j;
	signal_fd(c->efd);
	pthread_mutex_unlock(&E.mu);
}

static void ended_push(struct job *j)
{
	j->next = NULL;
	if (E.ended_tail)
		E.ended_tail->next = j;
	else
		E.ended = j;
	E.ended_tail = j;
}

static void post_ended(void)
{
	if (!E.ended)
		return;
	pthread_mutex_lock(&E.mu);
	while (E.ended) {
		struct job *j = E.ended;
		E.ended = j->next;
		post_done_locked(j);
	}
	E.ended_tail = NULL;
	pthread_cond_broadcast(&E.back);
	pthread_mutex_unlock(&E.mu);
}

/* ---- transfers (engine thread) ---------------------------------------------------------- */

static CURL *easy_get(void)
{
	return E.npool ? E.pool[--E.npool] : curl_easy_init();
}

static void easy_put(CURL *e)
{
	if (E.npool == E.cap_pool) {
		size_t cap = E.cap_pool ? E.cap_pool * 2 : 16;
		CURL **p = realloc(E.pool, cap * sizeof(*p));
		if (!p) {
			curl_easy_cleanup(e);
			return;
		}
		E.pool = p;
		E.cap_pool = cap;
	}
	E.pool[E.npool++] = e;
}

static void running_remove(struct job *j)
{
	if (j->aprev)
		j->aprev->anext = j->anext;
	else
		E.running = j->anext;
	if (j->anext)
		j->anext->aprev = j->aprev;
	j->aprev = j->anext = NULL;
}

/* j's transfer is over: its handle and its slot go back. */
static void release(struct job *j)
{
	if (j->easy) {
		fm_http_xfer_end(&j->t);
		easy_put(j->easy);
		j->easy = NULL;
	}
	if (j->slot) {
		j->slot = false;
		j->host->active--;
		E.active--;
		atomic_fetch_sub(&j->c->running, 1);
	}
}

/* Start j now: its host and the engine have room. */
static void start(struct job *j, int64_t now)
{
	struct host *h = j->host;
	h->last_start = now ? now : 1;
	h->active++;
	E.active++;
	j->slot = true;
	atomic_fetch_add(&j->c->running, 1);
	post_started(j);
	j->easy = easy_get();
	if (!j->easy) {
		j->rc = -ENOMEM;
		snprintf(j->resp->error, sizeof(j->resp->error), "out of memory");
		release(j);
		ended_push(j);
		return;
	}
	int rc = fm_http_xfer_start(&j->t, j->easy, j->lim, &j->req, j->resp);
	if (rc == 0) {
		curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
		if (curl_multi_add_handle(E.multi, j->easy) == CURLM_OK) {
			j->anext = E.running;
			if (E.running)
				E.running->aprev = j;
			E.running = j;
			return;
		}
		snprintf(j->resp->error, sizeof(j->resp->error), "cannot start the transfer");
		rc = -ENOMEM;
	}
	j->rc = rc; /* over before it began */
	release(j);
	ended_push(j);
}

/* When the host's next request may start as far as its gap goes. */
static int64_t gap_ready(const struct host *h)
{
	const struct job *j = h->wait_head;
	return h->last_start && j->gap_ms > 0 ? h->last_start + j->gap_ms : 0;
}

/* Start what may start, hosts taking turns. */
static void dispatch(void)
{
	int64_t now = now_ms();
	E.next_ready = -1;
	bool progress = true;
	while (progress && E.ring && E.active < E.most_transfers) {
		progress = false;
		struct host *h = E.ring;
		struct host *last = E.ring->rprev;
		for (;;) {
			struct host *next = h->rnext;
			bool at_end = h == last;
			struct job *j = h->wait_head;
			if (h->active < j->per_host && E.active < j->max_transfers) {
				int64_t at = gap_ready(h);
				if (at <= now) {
					h->wait_head = j->next;
					if (!h->wait_head) {
						h->wait_tail = NULL;
						ring_remove(h);
					} else {
						E.ring = next; /* the next host goes first next time */
					}
					start(j, now);
					progress = true;
				} else if (E.next_ready < 0 || at < E.next_ready) {
					E.next_ready = at;
				}
			}
			if (at_end || !E.ring)
				break;
			h = next;
		}
	}
}

/* Transfers that ended: the next hop of a redirect, or the end of the GET. */
static void read_ended(void)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(E.multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *e = msg->easy_handle;
		CURLcode result = msg->data.result;
		struct job *j = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&j);
		curl_multi_remove_handle(E.multi, e);
		if (!j)
			continue;
		if (fm_http_xfer_next(&j->t, result, &j->rc)) {
			/* the next hop (setting it up reset the handle, CURLOPT_PRIVATE with it) */
			curl_easy_setopt(e, CURLOPT_PRIVATE, j);
			if (curl_multi_add_handle(E.multi, e) == CURLM_OK)
				continue;
			j->rc = -ENOMEM;
		}
		running_remove(j);
		release(j);
		ended_push(j);
	}
}

static void cancel_job(struct job *j)
{
	j->rc = -ECANCELED;
	snprintf(j->resp->error, sizeof(j->resp->error), "cancelled: the fetcher stopped");
	post_done_locked(j);
}

/* Under mu: the jobs of closing clients end, cancelled. */
static void cancel_closing(void)
{
	for (struct job *j = E.running, *next; j; j = next) {
		next = j->anext;
		if (!j->c->closing)
			continue;
		running_remove(j);
		curl_multi_remove_handle(E.multi, j->easy);
		release(j);
		cancel_job(j);
	}
	struct host *h = E.ring;
	size_t n = 0;
	for (struct host *p = E.ring; p && (n == 0 || p != E.ring); p = p->rnext)
		n++;
	for (size_t i = 0; i < n && h; i++) {
		struct host *next = h->rnext;
		struct job *keep = NULL, *keep_tail = NULL;
		for (struct job *j = h->wait_head, *jn; j; j = jn) {
			jn = j->next;
			if (j->c->closing) {
				cancel_job(j);
				continue;
			}
			j->next = NULL;
			if (keep_tail)
				keep_tail->next = j;
			else
				keep = j;
			keep_tail = j;
		}
		h->wait_head = keep;
		h->wait_tail = keep_tail;
		if (!keep)
			ring_remove(h);
		h = E.ring ? next : NULL;
	}
	pthread_cond_broadcast(&E.back);
}

/* Under mu: what clients handed in goes to its hosts' queues. */
static void take_inbox(void)
{
	while (E.inbox_head) {
		struct job *j = E.inbox_head;
		E.inbox_head = j->next;
		if (j->c->closing) {
			cancel_job(j);
			continue;
		}
		j->host = host_of(j->req.url ? j->req.url : "");
		if (!j->host) {
			j->rc = -ENOMEM;
			snprintf(j->resp->error, sizeof(j->resp->error), "out of memory");
			post_done_locked(j);
			continue;
		}
		if (j->max_transfers > E.most_transfers)
			E.most_transfers = j->max_transfers;
		host_push(j->host, j);
	}
	E.inbox_tail = NULL;
	pthread_cond_broadcast(&E.back);
}

/* ---- curl's callbacks (engine thread) --------------------------------------------------- */

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	(void)e;
	(void)userp;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(E.epfd, EPOLL_CTL_DEL, s, NULL);
		curl_multi_assign(E.multi, s, NULL);
		return 0;
	}
	struct epoll_event ev = {.data.fd = s};
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	if (socketp) {
		epoll_ctl(E.epfd, EPOLL_CTL_MOD, s, &ev);
	} else if (epoll_ctl(E.epfd, EPOLL_CTL_ADD, s, &ev) == 0 ||
	           (errno == EEXIST && epoll_ctl(E.epfd, EPOLL_CTL_MOD, s, &ev) == 0)) {
		curl_multi_assign(E.multi, s, (void *)1);
	}
	return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
	(void)m;
	(void)userp;
	E.curl_deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	return 0;
}

/* ---- the engine thread ------------------------------------------------------------------ */

static int engine_timeout(void)
{
	int64_t now = now_ms(), best = -1;
	if (E.curl_deadline >= 0)
		best = E.curl_deadline > now ? E.curl_deadline - now : 0;
	if (E.next_ready >= 0) {
		int64_t wait = E.next_ready > now ? E.next_ready - now : 0;
		if (best < 0 || wait < best)
			best = wait;
	}
	/* now and then anyway: idle hosts are swept */
	if (best < 0 || best > 60000)
		best = 60000;
	return (int)best;
}

static void *engine_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "fetch-io");
	int running;
	struct epoll_event evs[64];
	int64_t swept = now_ms();
	for (;;) {
		int n = epoll_wait(E.epfd, evs, 64, engine_timeout());
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == E.wake_fd) {
				drain_fd(E.wake_fd);
				continue;
			}
			int flags = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
			            (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
			            (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
			curl_multi_socket_action(E.multi, evs[i].data.fd, flags, &running);
		}
		if (E.curl_deadline >= 0 && now_ms() >= E.curl_deadline) {
			E.curl_deadline = -1;
			curl_multi_socket_action(E.multi, CURL_SOCKET_TIMEOUT, 0, &running);
		}
		read_ended();
		post_ended();

		pthread_mutex_lock(&E.mu);
		take_inbox();
		if (E.cancels) {
			E.cancels = false;
			cancel_closing();
		}
		bool quit = E.quit;
		pthread_mutex_unlock(&E.mu);
		if (quit)
			break;
		dispatch();
		post_ended(); /* what could not start */
		int64_t now = now_ms();
		if (now - swept > 60000 && E.nhosts > 1024) {
			sweep_hosts(now);
			swept = now;
		}
	}
	return NULL;
}

static void engine_cleanup(void)
{
	for (size_t i = 0; i < E.npool; i++)
		curl_easy_cleanup(E.pool[i]);
	free(E.pool);
	E.pool = NULL;
	E.npool = E.cap_pool = 0;
	for (size_t i = 0; i < E.nbuckets; i++)
		for (struct host *h = E.buckets[i], *next; h; h = next) {
			next = h->hnext;
			free(h->key);
			free(h);
		}
	free(E.buckets);
	E.buckets = NULL;
	E.nbuckets = E.nhosts = 0;
	E.ring = NULL;
	if (E.multi)
		curl_multi_cleanup(E.multi);
	E.multi = NULL;
	if (E.epfd >= 0)
		close(E.epfd);
	if (E.wake_fd >= 0)
		close(E.wake_fd);
	E.epfd = E.wake_fd = -1;
	E.active = E.most_transfers = 0;
	E.quit = E.cancels = false;
}

/* Under life: the first client starts the engine. */
static int engine_start(void)
{
	E.curl_deadline = E.next_ready = -1;
	E.epfd = epoll_create1(EPOLL_CLOEXEC);
	E.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	E.multi = curl_multi_init();
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = E.wake_fd};
	if (E.epfd < 0 || E.wake_fd < 0 || !E.multi || grow_hosts() < 0 ||
	    epoll_ctl(E.epfd, EPOLL_CTL_ADD, E.wake_fd, &ev) < 0)
		goto fail;
	curl_multi_setopt(E.multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(E.multi, CURLMOPT_TIMERFUNCTION, on_timer);
	/* requests to one host share its connections (and streams, over HTTP/2) */
	curl_multi_setopt(E.multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	if (pthread_create(&E.thread, NULL, engine_main, NULL) != 0)
		goto fail;
	return 0;
fail:
	engine_cleanup();
	return -ENOMEM;
}

/* ---- clients ---------------------------------------------------------------------------- */

struct fm_fetcher *fm_fetcher_new(const struct fm_fetcher_limits *lim)
{
	struct fm_fetcher *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->lim = *lim;
	if (c->lim.max_transfers < 1)
		c->lim.max_transfers = 1;
	if (c->lim.per_host < 1)
		c->lim.per_host = 1;
	if (c->lim.host_delay_ms < 0)
		c->lim.host_delay_ms = 0;
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->efd < 0) {
		free(c);
		return NULL;
	}
	pthread_mutex_lock(&E.life);
	int rc = E.refs ? 0 : engine_start();
	if (rc == 0)
		E.refs++;
	pthread_mutex_unlock(&E.life);
	if (rc < 0) {
		close(c->efd);
		free(c);
		return NULL;
	}
	return c;
}

/* The callbacks of what came back. */
static void deliver(struct fm_fetcher *c, bool started_too)
{
	pthread_mutex_lock(&E.mu);
	struct job *s = c->started_head, *d = c->done_head;
	c->started_head = c->started_tail = NULL;
	c->done_head = c->done_tail = NULL;
	pthread_mutex_unlock(&E.mu);
	drain_fd(c->efd);
	for (; s && started_too; s = s->snext)
		s->started_cb(s->arg);
	while (d) {
		struct job *j = d;
		d = j->next;
		c->pending--;
		j->done(j->arg, j->rc, j->resp);
		free(j);
	}
}

void fm_fetcher_free(struct fm_fetcher *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&E.mu);
	c->closing = true; /* from now on nothing starts for it, and fm_fetcher_get refuses */
	E.cancels = true;
	signal_fd(E.wake_fd);
	while (c->in_engine > 0)
		pthread_cond_wait(&E.back, &E.mu);
	pthread_mutex_unlock(&E.mu);
	deliver(c, false);

	pthread_mutex_lock(&E.life);
	if (--E.refs == 0) {
		pthread_mutex_lock(&E.mu);
		E.quit = true;
		signal_fd(E.wake_fd);
		pthread_mutex_unlock(&E.mu);
		pthread_join(E.thread, NULL);
		engine_cleanup();
	}
	pthread_mutex_unlock(&E.life);
	close(c->efd);
	free(c);
}

int fm_fetcher_get(struct fm_fetcher *c, const struct fm_fetch *fx)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	int64_t gap = fx->gap_ms > c->lim.host_delay_ms ? fx->gap_ms : c->lim.host_delay_ms;
	*j = (struct job){.c = c, .lim = fx->lim, .req = *fx->req, .resp = fx->resp, .gap_ms = gap,
	                  .per_host = c->lim.per_host, .max_transfers = c->lim.max_transfers,
	                  .done = fx->done, .started_cb = fx->started, .arg = fx->arg};
	pthread_mutex_lock(&E.mu);
	if (c->closing) {
		pthread_mutex_unlock(&E.mu);
		free(j);
		return -ECANCELED;
	}
	if (E.inbox_tail)
		E.inbox_tail->next = j;
	else
		E.inbox_head = j;
	E.inbox_tail = j;
	c->in_engine++;
	signal_fd(E.wake_fd);
	pthread_mutex_unlock(&E.mu);
	c->pending++;
	return 0;
}

int fm_fetcher_fd(const struct fm_fetcher *c)
{
	return c->efd;
}

int64_t fm_fetcher_timeout(const struct fm_fetcher *c)
{
	(void)c;
	return -1; /* the engine keeps the time; the descriptor says when something came */
}

void fm_fetcher_step(struct fm_fetcher *c)
{
	deliver(c, true);
}

size_t fm_fetcher_pending(const struct fm_fetcher *c)
{
	return c->pending;
}

int fm_fetcher_running(const struct fm_fetcher *c)
{
	return atomic_load(&((struct fm_fetcher *)c)->running);
}
