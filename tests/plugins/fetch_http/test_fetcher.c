/*
 * The event-driven fetcher (fetcher.h) against the loopback test server: every GET ends with
 * the result fm_http_get would give (a body, a 304, a 404, a redirect followed, a refused
 * connection), many run at once, no more than per_host to one host (the server counts the
 * requests and connections it sees at once), requests to one host are spaced by its gap, two
 * clients (two workers) share those limits and connections, and freeing a client ends what is
 * left of it with -ECANCELED.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "check.h"
#include "fetcher.h"
#include "http.h"
#include "httpd_ctl.h"

struct got {
	int rc;
	int calls;
	struct fm_http_response resp;
	struct fm_fetcher *f;
};

static void done(void *arg, int rc, struct fm_http_response *resp)
{
	struct got *g = arg;
	(void)resp;
	g->rc = rc;
	g->calls++;
}

static int get(struct fm_fetcher *f, const struct fm_http_limits *lim,
               const struct fm_http_request *rq, struct got *g, int64_t gap)
{
	return fm_fetcher_get(f, &(struct fm_fetch){.lim = lim, .req = rq, .resp = &g->resp,
	                                            .gap_ms = gap, .done = done, .arg = g});
}

static int64_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Drive f until nothing is pending (or 30 s). */
static void drive(struct fm_fetcher *f)
{
	int64_t deadline = mono() + 30000;
	while (fm_fetcher_pending(f) && mono() < deadline) {
		struct pollfd p = {.fd = fm_fetcher_fd(f), .events = POLLIN};
		int64_t t = fm_fetcher_timeout(f);
		poll(&p, 1, t < 0 || t > 100 ? 100 : (int)t);
		fm_fetcher_step(f);
	}
	CHECK(fm_fetcher_pending(f) == 0);
}

static void test_results(struct httpd *d)
{
	struct fm_fetcher_limits fl = {.max_transfers = 16, .per_host = 8};
	struct fm_fetcher *f = fm_fetcher_new(&fl);
	struct fm_http_limits lim = {.timeout_ms = 10000, .max_redirects = 5, .max_size = 1 << 20};
	const char *paths[] = {"/feed.rss", "/nosuch.xml", "/redirect/2/feed.rss", NULL};
	struct got g[5] = {{0}};
	struct fm_http_request rq[5];
	for (int i = 0; paths[i]; i++) {
		g[i].f = f;
		rq[i] = (struct fm_http_request){.url = strdup(httpd_url(d, paths[i]))};
		CHECK(get(f, &lim, &rq[i], &g[i], 0) == 0);
	}
	char dead[64];
	snprintf(dead, sizeof(dead), "http://127.0.0.1:%d/feed.rss", httpd_dead_port());
	rq[3] = (struct fm_http_request){.url = strdup(dead)};
	g[3].f = f;
	CHECK(get(f, &lim, &rq[3], &g[3], 0) == 0);
	drive(f);
	CHECK(g[0].calls == 1 && g[0].rc == 0 && g[0].resp.status == 200);
	CHECK(g[0].resp.body.len > 100 && strstr(fm_buf_str(&g[0].resp.body), "<rss"));
	CHECK(g[0].resp.etag != NULL);
	CHECK(g[1].calls == 1 && g[1].rc == 0 && g[1].resp.status == 404);
	CHECK(g[2].calls == 1 && g[2].rc == 0 && g[2].resp.status == 200 &&
	      g[2].resp.redirects == 2);
	CHECK(g[3].calls == 1 && g[3].rc == -ECONNREFUSED && g[3].resp.error[0]);

	/* the same with its validator: a 304 */
	struct fm_http_request cond = {.url = rq[0].url, .etag = g[0].resp.etag};
	CHECK(get(f, &lim, &cond, &g[4], 0) == 0);
	g[4].f = f;
	drive(f);
	CHECK(g[4].calls == 1 && g[4].resp.status == 304);
	for (int i = 0; i < 5; i++) {
		if (i < 4)
			free((char *)rq[i].url);
		fm_http_response_free(&g[i].resp);
	}
	fm_fetcher_free(f);
}

/* What the server saw since the last call: connections open at once, connections in all,
 * requests answered at once. */
struct seen {
	int conns_max, conns, reqs_max;
};

static struct seen server_seen(struct httpd *d)
{
	struct fm_http *h = fm_http_new();
	struct fm_http_limits lim = {.timeout_ms = 5000};
	struct fm_http_response resp = {0};
	struct seen s = {-1, -1, -1};
	struct fm_http_request rq = {.url = httpd_url(d, "/_stats")};
	if (fm_http_get(h, &lim, &rq, &resp) == 0) {
		json_t *o = json_loads(fm_buf_str(&resp.body), 0, NULL);
		s.conns_max = (int)json_integer_value(json_object_get(o, "connections_max"));
		s.conns = (int)json_integer_value(json_object_get(o, "connections"));
		s.reqs_max = (int)json_integer_value(json_object_get(o, "requests_max"));
		json_decref(o);
	}
	fm_http_response_reset(&resp);
	rq.url = httpd_url(d, "/_stats/reset");
	CHECK(fm_http_get(h, &lim, &rq, &resp) == 0 && resp.status == 200);
	fm_http_response_free(&resp);
	fm_http_free(h);
	return s;
}

/* n slow GETs with a per-host limit: how long all took (ms). */
static int64_t slow_batch(struct httpd *d, int n, int per_host, int64_t gap)
{
	struct fm_fetcher_limits fl = {.max_transfers = 64, .per_host = per_host};
	struct fm_fetcher *f = fm_fetcher_new(&fl);
	struct fm_http_limits lim = {.timeout_ms = 20000, .max_redirects = 5};
	struct got *g = calloc((size_t)n, sizeof(*g));
	struct fm_http_request *rq = calloc((size_t)n, sizeof(*rq));
	char path[64];
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/slow/0.4/feed.rss?n=%d", i);
		g[i].f = f;
		rq[i] = (struct fm_http_request){.url = strdup(httpd_url(d, path))};
		CHECK(get(f, &lim, &rq[i], &g[i], gap) == 0);
	}
	int64_t t0 = mono();
	drive(f);
	int64_t took = mono() - t0;
	for (int i = 0; i < n; i++) {
		CHECK(g[i].calls == 1 && g[i].rc == 0 && g[i].resp.status == 200);
		free((char *)rq[i].url);
		fm_http_response_free(&g[i].resp);
	}
	free(g);
	free(rq);
	fm_fetcher_free(f);
	return took;
}

static void test_concurrency_and_politeness(struct httpd *d)
{
	server_seen(d); /* from here */
	/* many at once: all 12 start together */
	int64_t took = slow_batch(d, 12, 12, 0);
	struct seen s = server_seen(d);
	CHECK(s.reqs_max == 12);
	CHECK(took < 1500);
	/* per_host = 3: never more than 3 at once, on 3 connections kept alive; 12 of 0.4 s
	 * each take 4 waves at least */
	took = slow_batch(d, 12, 3, 0);
	s = server_seen(d);
	CHECK(s.reqs_max >= 2 && s.reqs_max <= 3);
	CHECK(s.conns_max <= 3 && s.conns <= 3);
	CHECK(took >= 1500);
	/* one at a time, 300 ms apart at least after each start: 4 take 3 gaps and 4 answers */
	took = slow_batch(d, 4, 1, 300);
	s = server_seen(d);
	CHECK(s.reqs_max == 1 && s.conns_max == 1);
	CHECK(took >= 1600);
}

/* Two clients (two workers of a stage, two threads) share the per-host limit and gap, and the
 * connections: the host sees at most per_host of them, from both together. */
struct twin {
	struct httpd *d;
	int n, per_host;
	int64_t gap;
};

static void *twin_run(void *arg)
{
	struct twin *t = arg;
	int64_t unused = slow_batch(t->d, t->n, t->per_host, t->gap);
	(void)unused;
	return NULL;
}

static int64_t twins(struct httpd *d, int n, int per_host, int64_t gap)
{
	struct twin a = {d, n, per_host, gap}, b = a;
	pthread_t ta, tb;
	int64_t t0 = mono();
	CHECK(pthread_create(&ta, NULL, twin_run, &a) == 0);
	CHECK(pthread_create(&tb, NULL, twin_run, &b) == 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	return mono() - t0;
}

static void test_limits_across_clients(struct httpd *d)
{
	server_seen(d); /* from here */
	/* 2 x 6 slow GETs, per_host = 3 in all: 4 waves of 0.4 s at least, on 3 connections
	 * kept alive */
	int64_t took = twins(d, 6, 3, 0);
	struct seen s = server_seen(d);
	CHECK(s.reqs_max >= 2 && s.reqs_max <= 3);
	CHECK(s.conns_max <= 3);
	CHECK(s.conns <= 3);
	CHECK(took >= 1500);
	/* 2 x 2, one at a time and 300 ms apart across both: 3 gaps and 4 answers */
	took = twins(d, 2, 1, 300);
	s = server_seen(d);
	CHECK(s.reqs_max == 1 && s.conns_max == 1);
	CHECK(took >= 1600);
}

static void test_free_cancels(struct httpd *d)
{
	struct fm_fetcher_limits fl = {.max_transfers = 2, .per_host = 2};
	struct fm_fetcher *f = fm_fetcher_new(&fl);
	struct fm_http_limits lim = {.timeout_ms = 20000};
	struct got g[4] = {{0}};
	char *url = strdup(httpd_url(d, "/slow/10/feed.rss"));
	struct fm_http_request rq = {.url = url};
	for (int i = 0; i < 4; i++) {
		g[i].f = f;
		CHECK(get(f, &lim, &rq, &g[i], 0) == 0);
	}
	for (int i = 0; i < 5; i++) { /* two running, two waiting */
		struct pollfd p = {.fd = fm_fetcher_fd(f), .events = POLLIN};
		poll(&p, 1, 50);
		fm_fetcher_step(f);
	}
	CHECK(fm_fetcher_running(f) == 2 && fm_fetcher_pending(f) == 4);
	g[0].f = g[1].f = g[2].f = g[3].f = f;
	fm_fetcher_free(f);
	for (int i = 0; i < 4; i++) {
		CHECK(g[i].calls == 1 && g[i].rc == -ECANCELED);
		fm_http_response_free(&g[i].resp);
	}
	free(url);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct httpd d;
	if (httpd_start(&d, httpd_fixtures()) != 0)
		return 1;
	test_results(&d);
	test_concurrency_and_politeness(&d);
	test_limits_across_clients(&d);
	test_free_cancels(&d);
	httpd_stop(&d);
	curl_global_cleanup();
	return fmt_done("fetcher");
}
