/*
 * fetch_http: many GETs at once on one thread, with libcurl's multi interface (connections
 * kept and reused per host, HTTP/2 multiplexing where a server offers it, one DNS cache), and
 * politeness: at most max_transfers at once in all, at most per_host at once to one host
 * (scheme, host and port of the request's URL; a redirect elsewhere keeps its first host's
 * slot), and a minimum gap between two requests started to one host (the request's own, e.g.
 * full_article_delay, or the fetcher's host_delay, whichever is longer). What waits for a
 * slot waits in its host's queue, first in first out; hosts take turns.
 *
 * Driving it: wait on fm_fetcher_fd() (an epoll set of the transfers' sockets; readable when
 * one is ready) for at most fm_fetcher_timeout() ms, then call fm_fetcher_step(), which moves
 * the transfers on and calls the callbacks of those that ended. One fetcher belongs to one
 * thread (a plugin instance); callbacks run inside fm_fetcher_step() or fm_fetcher_free() and
 * may start new GETs.
 *
 * Memory: what a transfer holds is its response (the body, up to the request's max_size) and
 * about 20 KB of libcurl's, so max_transfers bounds it; waiting requests hold nothing but
 * their small record.
 */
#ifndef FM_FETCH_HTTP_FETCHER_H
#define FM_FETCH_HTTP_FETCHER_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

struct fm_fetcher;

struct fm_fetcher_limits {
	int max_transfers;     /* at once, in all (>= 1) */
	int per_host;          /* at once to one host (>= 1) */
	int64_t host_delay_ms; /* between two requests started to one host */
};

/* The end of one GET: rc and resp as fm_http_get() gives them (rc -ECANCELED when the
 * fetcher is freed first). */
typedef void (*fm_fetch_done)(void *arg, int rc, struct fm_http_response *resp);

/* NULL on OOM or when libcurl cannot make a multi handle. */
struct fm_fetcher *fm_fetcher_new(const struct fm_fetcher_limits *lim);
/* Ends every GET (their callbacks get -ECANCELED) and frees the fetcher. */
void fm_fetcher_free(struct fm_fetcher *f);

/* One GET to start. lim, req's strings and resp (reset) must live until done is called. */
struct fm_fetch {
	const struct fm_http_limits *lim;
	const struct fm_http_request *req;
	struct fm_http_response *resp;
	int64_t gap_ms;              /* this request's own minimum gap after the last one started
	                              * to its host */
	fm_fetch_done done;
	void (*started)(void *arg);  /* optional: it leaves its queue, its transfer begins */
	void *arg;                   /* for done and started */
};

/* Start (or queue) a GET. Returns 0 (done will be called, from fm_fetcher_step() or
 * fm_fetcher_free(); started may be called before this returns) or -ENOMEM, or -ECANCELED
 * while the fetcher is being freed. */
int fm_fetcher_get(struct fm_fetcher *f, const struct fm_fetch *fx);

/* What to wait on: a descriptor (readable when a transfer can move) and the longest wait in
 * ms before fm_fetcher_step() must run anyway (-1: none; 0: at once). */
int fm_fetcher_fd(const struct fm_fetcher *f);
int64_t fm_fetcher_timeout(const struct fm_fetcher *f);
void fm_fetcher_step(struct fm_fetcher *f);

/* GETs started or waiting; GETs started (transfers in progress). */
size_t fm_fetcher_pending(const struct fm_fetcher *f);
int fm_fetcher_running(const struct fm_fetcher *f);

#endif
