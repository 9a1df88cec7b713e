/*
 * fetch_http: many GETs at once, for every fetch instance of the process, on one I/O thread
 * with libcurl's multi interface: one pool of connections kept and reused per host (HTTP/2
 * multiplexing where a server offers it), one DNS cache. A stage's workers are threads that
 * parse; the sockets are here, so the politeness holds for the whole stage:
 *   - at most max_transfers at once in all,
 *   - at most per_host at once to one host (its lower-case name: scheme and port do not make
 *     another server; a redirect elsewhere keeps its first host's slot), so a host never sees
 *     more than per_host connections from the process,
 *   - a least gap between two requests started to one host (the request's own, e.g.
 *     full_article_delay, or host_delay, whichever is longer).
 * What waits for a slot waits in its host's queue, first in first out; hosts take turns.
 *
 * Each instance has a client (struct fm_fetcher). Driving it from the instance's thread: wait
 * for fm_fetcher_fd() to be readable (or fm_fetcher_timeout() ms), then call
 * fm_fetcher_step(), which calls the callbacks of what happened meanwhile: a request left its
 * queue (started), a GET ended (done). Callbacks run on the instance's thread only, inside
 * fm_fetcher_step() or fm_fetcher_free(), and may start new GETs.
 *
 * Memory: a transfer holds its response (the body, up to the request's max_size) and about
 * 20 KB of libcurl's, so max_transfers bounds it; waiting requests hold their small record.
 */
#ifndef FM_FETCH_HTTP_FETCHER_H
#define FM_FETCH_HTTP_FETCHER_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

struct fm_fetcher;

/* A client's limits; its requests are held to them (two stages of one process may differ). */
struct fm_fetcher_limits {
	int max_transfers;     /* at once, in all (>= 1) */
	int per_host;          /* at once to one host (>= 1) */
	int64_t host_delay_ms; /* between two requests started to one host */
};

/* The end of one GET: rc and resp as fm_http_get() gives them (rc -ECANCELED when the client
 * is freed first). */
typedef void (*fm_fetch_done)(void *arg, int rc, struct fm_http_response *resp);

/* One GET to start. lim, req's strings and resp (reset) must live until done is called; the
 * I/O thread writes resp meanwhile. */
struct fm_fetch {
	const struct fm_http_limits *lim;
	const struct fm_http_request *req;
	struct fm_http_response *resp;
	int64_t gap_ms;              /* this request's own least gap after the last one started
	                              * to its host */
	fm_fetch_done done;
	void (*started)(void *arg);  /* optional: it left its queue, its transfer began */
	void *arg;                   /* for done and started */
};

/* A client of the process's I/O thread (started with the first client, stopped with the
 * last). NULL on OOM or when libcurl or the thread cannot be set up. */
struct fm_fetcher *fm_fetcher_new(const struct fm_fetcher_limits *lim);
/* Ends the client's GETs (their callbacks get -ECANCELED, unless they ended already) and
 * frees it. */
void fm_fetcher_free(struct fm_fetcher *f);

/* Queue a GET. Returns 0 (done will be called) or -ENOMEM, or -ECANCELED while the client is
 * being freed. */
int fm_fetcher_get(struct fm_fetcher *f, const struct fm_fetch *fx);

/* What to wait on: a descriptor, readable when callbacks are due, and the longest wait in
 * ms before fm_fetcher_step() must run anyway (-1: none; 0: at once). */
int fm_fetcher_fd(const struct fm_fetcher *f);
int64_t fm_fetcher_timeout(const struct fm_fetcher *f);
void fm_fetcher_step(struct fm_fetcher *f);

/* The client's GETs not yet answered (done not called); its transfers in progress now. */
size_t fm_fetcher_pending(const struct fm_fetcher *f);
int fm_fetcher_running(const struct fm_fetcher *f);

/* The lower-case host name of url (no scheme, port or userinfo) into buf: what per_host
 * counts by. */
void fm_fetcher_host(const char *url, char *buf, size_t n);

#endif
