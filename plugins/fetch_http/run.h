/*
 * fetch_http: one fetch request being served (run.c), and its full-article pages (pages.c).
 * Private to the plugin.
 */
#ifndef FM_FETCH_HTTP_RUN_H
#define FM_FETCH_HTTP_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stage.h"

#define ACCEPT_FEED                                                                              \
	"application/rss+xml,application/atom+xml,application/feed+json,application/rdf+xml,"    \
	"application/xml;q=0.9,text/xml;q=0.9,application/json;q=0.8,text/html;q=0.7,"           \
	"*/*;q=0.5"
#define ACCEPT_HTML "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"

/* Full-article pages of one run, per host: its own limit and its failures' log lines. */
struct page_host {
	char host[256];
	int64_t count;
	bool warned;      /* full_article_per_host was logged */
	bool fail_logged; /* a failed page was logged: further ones go to debug */
	bool robots_logged; /* a page robots.txt disallows was logged */
};

/* A full-article page being fetched. */
struct art {
	struct run *r;
	size_t index; /* its document in r->docs.items */
	struct page_host *ph;
	struct fm_http_limits lim; /* the request's, without its headers on another host */
	struct fm_http_request rq;
	struct fm_http_response resp;
	struct art *parked_next; /* fh->parked: waiting for its site's robots.txt */
};

struct run {
	struct fh *fh;
	fm_out *out;  /* the held answer */
	json_t *req;  /* the request: the host's, readable until complete() */
	const char *source, *url;
	const char *home; /* the source's own URL, whose host is trusted: url, or the page a
	                   * feed fetched directly was found on (FM_DOC_SOURCE_URL) */
	char *safe_url; /* url without userinfo, for logs and reports */
	struct settings st;
	char fetched_at[32];
	struct doc_common common;
	struct fm_http_request rq;   /* the source's GET, then its discovered feed's */
	struct fm_http_response resp;
	struct fm_html_info info;    /* the page whose feed is fetched (feed_url lives here) */
	char *safe_feed;
	struct feed_docs docs;
	struct art *arts;
	size_t narts;
	struct page_host *hosts;
	size_t nhosts;
	size_t pending;              /* GETs not ended, pages waiting for robots.txt included */
	int deferred;                /* answered from the next step: this status; 0: not */
	bool failed, cancelled;
	struct run *prev, *next;     /* fh->runs */
};

const char *fh_run_source(const struct run *r);
/* Every GET of the run has ended: emit what it made and answer (frees r). Nothing happens
 * while r->pending. */
void fh_run_end(struct run *r);

/* ---- pages.c ---- */

/* Fetch the pages of r's documents that carry only a summary (full_article), all at once: the
 * fetcher spaces the requests to one host and keeps to its per-host limit; robots.txt decides
 * which may be fetched. Each page counts in r->pending until it ends. */
void fh_pages_start(struct run *r);
/* Pages waiting for a robots.txt end cancelled (a stop: the fetcher is gone). */
void fh_pages_cancel_parked(struct fh *fh);

#endif
