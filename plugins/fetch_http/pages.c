/*
 * fetch_http: the full-article pages of a fetch (full_article = yes): the page behind each item
 * that carries only a summary goes into its document's page_html.
 *
 * Pages are what crawlers fetch, so they follow the site's robots.txt (RFC 9309; robots.c), as
 * the crawlers that fetch article pages do (news-please, Fundus); feeds do not, a source
 * publishes its feed to be polled. Each site's robots.txt is fetched once and kept (robots_cache
 * sites, robots_max_age); a page waits ("parked") while its site's robots.txt is on its way.
 * A disallowed page keeps the summary. A Crawl-delay spaces the requests to the site, up to
 * robots_max_delay; a site asking more keeps its summaries.
 *
 * The per-source headers (which may hold credentials) go only to the source's own host: a page
 * on another host is fetched without them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetcher.h"
#include "robots.h"
#include "run.h"
#include "url.h"

/* A robots.txt body is parsed up to 500 KiB (robots.h); a larger one is read up to this and
 * cut, rather than refused whole. */
#define ROBOTS_MAX_SIZE (1u << 20)

static bool wants_full_article(const struct run *r, json_t *doc, const char *link)
{
	if (!r->st.full_article || !link || !fm_url_is_http(link))
		return false;
	const char *content = fm_doc_str(doc, FM_DOC_CONTENT);
	return !content || (int64_t)strlen(content) < r->st.fa_min_length;
}

static struct page_host *page_host(struct run *r, const char *link)
{
	char host[256];
	fm_fetcher_host(link, host, sizeof(host));
	for (size_t i = 0; i < r->nhosts; i++)
		if (strcmp(r->hosts[i].host, host) == 0)
			return &r->hosts[i];
	/* r->hosts has room for one per page (arts' count) */
	struct page_host *ph = &r->hosts[r->nhosts++];
	*ph = (struct page_host){0};
	memcpy(ph->host, host, sizeof(host));
	return ph;
}

/* A page that will not be fetched, or was: it leaves the run's count. */
static void page_over(struct art *a)
{
	a->r->pending--;
}

/* A page kept its summary: say why, once per host and fetch at notice (a site refusing every
 * page would otherwise log full_article_max lines each poll). */
static void page_failed(struct art *a, const char *why)
{
	struct run *r = a->r;
	const fm_host *h = r->fh->host;
	int lvl = a->ph->fail_logged ? FM_LOG_DEBUG : FM_LOG_NOTICE;
	if (h->log_level() >= lvl) {
		char *safe = fm_http_redact(a->rq.url);
		h->log(r->fh->inst, lvl, "source %s: full article %s: %s; keeping the summary%s",
		       fh_run_source(r), safe ? safe : "?", why,
		       a->ph->fail_logged ? "" : " (further failures on this host: debug)");
		free(safe);
	}
	a->ph->fail_logged = true;
	h->count(r->fh->inst, "full_article_errors", 1);
}

static void on_page(void *arg, int rc, struct fm_http_response *resp)
{
	struct art *a = arg;
	struct run *r = a->r;
	struct fh *fh = r->fh;
	const fm_host *h = fh->host;
	page_over(a);
	h->count(fh->inst, "connections", resp->connects);
	if (rc == -ECANCELED) {
		r->cancelled = true;
		fh_run_end(r);
		return;
	}
	const char *why = NULL;
	char whybuf[64];
	json_t *doc = json_array_get(r->docs.items, a->index);
	if (rc < 0) {
		why = resp->error;
	} else if (resp->status < 200 || resp->status > 299) {
		snprintf(whybuf, sizeof(whybuf), "HTTP %ld", resp->status);
		why = whybuf;
	} else if (fh_classify(resp, "html") != BODY_HTML) {
		why = "not an HTML page";
	} else if (fh_set_page_html(doc, resp) < 0) {
		why = "out of memory";
	}
	if (why)
		page_failed(a, why);
	else
		h->count(fh->inst, "full_articles", 1);
	fm_http_response_free(resp); /* the page is in the document now */
	fh_run_end(r);
}

/* GET the page, gap_ms after the last request to its host at the least. */
static void page_get(struct art *a, int64_t gap_ms)
{
	struct run *r = a->r;
	struct fm_fetch fx = {.lim = &a->lim, .req = &a->rq, .resp = &a->resp, .gap_ms = gap_ms,
	                      .done = on_page, .arg = a};
	int rc = r->fh->fetcher ? fm_fetcher_get(r->fh->fetcher, &fx) : -ECANCELED;
	if (rc < 0) {
		page_over(a);
		if (rc == -ECANCELED)
			r->cancelled = true;
		else
			page_failed(a, "out of memory");
	}
}

/* ---- robots.txt ----------------------------------------------------------------------- */

struct robots_get {
	struct fh *fh;
	char *url;     /* the robots.txt */
	char *trusted; /* the source's own URL (a private address is allowed there), or NULL */
	struct fm_http_limits lim;
	struct fm_http_request rq;
	struct fm_http_response resp;
};

static void page_go(struct art *a);

/* The robots.txt of a site came (or failed): its pages waiting go on. */
static void on_robots(void *arg, int rc, struct fm_http_response *resp)
{
	struct robots_get *g = arg;
	struct fh *fh = g->fh;
	const fm_host *h = fh->host;
	fh->robots_fetching--;
	h->count(fh->inst, "connections", resp->connects);
	if (rc != -ECANCELED && fh->robots) {
		struct fm_robots_info info = {0};
		long status = rc < 0 ? rc : resp->status;
		if (fm_robots_store(fh->robots, g->url, status, fm_buf_str(&resp->body),
		                    resp->body.len, h->monotonic_ms(), &info) == 0) {
			h->count(fh->inst, "robots_fetches", 1);
			if (info.truncated)
				fm_notice(h, fh->inst, "%s: longer than 500 KiB: the rest is ignored",
				          g->url);
			if (info.dropped)
				fm_notice(h, fh->inst, "%s: %zu rules over the limit of 1000 ignored",
				          g->url, info.dropped);
			if (rc < 0 || resp->status >= 500 || resp->status == 429 || resp->status == 0) {
				char why[64];
				snprintf(why, sizeof(why), "HTTP %ld", resp->status);
				/* once per site and robots_retry: a notice */
				fm_notice(h, fh->inst, "%s: %s; the site's pages keep their summary until "
				          "it is asked again (robots_retry)", g->url,
				          rc < 0 ? resp->error : why);
			}
		}
	}
	fm_http_response_free(resp);
	free(g->url);
	free(g->trusted);
	free(g);

	/* every parked page asks again: its own site's may have come */
	struct art *list = fh->parked;
	fh->parked = NULL;
	while (list) {
		struct art *a = list;
		list = a->parked_next;
		a->parked_next = NULL;
		struct run *r = a->r;
		if (rc == -ECANCELED) {
			page_over(a);
			r->cancelled = true;
		} else {
			page_go(a);
		}
		fh_run_end(r); /* nothing while pages remain */
	}
}

/* Start fetching the robots.txt of a's site. */
static int robots_fetch(struct art *a)
{
	struct run *r = a->r;
	struct fh *fh = r->fh;
	struct robots_get *g = calloc(1, sizeof(*g));
	if (!g || fm_robots_url(a->rq.url, &g->url) < 0 || !fh->fetcher)
		goto fail;
	if (!r->st.allow_private_links && !(g->trusted = strdup(r->home)))
		goto fail;
	g->fh = fh;
	g->lim = a->lim;
	g->lim.max_size = ROBOTS_MAX_SIZE;
	g->lim.max_redirects = 5; /* RFC 9309 section 2.3.1.2 */
	g->rq = (struct fm_http_request){.url = g->url, .accept = "text/plain,*/*;q=0.5",
	                                 .trusted_url = g->trusted};
	struct fm_fetch fx = {.lim = &g->lim, .req = &g->rq, .resp = &g->resp, .done = on_robots,
	                      .arg = g};
	if (fm_fetcher_get(fh->fetcher, &fx) < 0)
		goto fail;
	fh->robots_fetching++;
	return 0;
fail:
	if (g) {
		free(g->url);
		free(g->trusted);
		free(g);
	}
	return -ENOMEM;
}

static void park(struct art *a)
{
	a->parked_next = a->r->fh->parked;
	a->r->fh->parked = a;
}

/* What robots.txt says of a's page: fetch it (with the site's Crawl-delay), keep the
 * summary, or wait for the robots.txt. */
static void page_go(struct art *a)
{
	struct run *r = a->r;
	struct fh *fh = r->fh;
	const fm_host *h = fh->host;
	if (!r->st.robots || !fh->robots) {
		page_get(a, r->st.fa_delay);
		return;
	}
	enum fm_robots_verdict v;
	if (fm_robots_lookup(fh->robots, a->rq.url, h->monotonic_ms(), &v) < 0) {
		page_over(a);
		page_failed(a, "cannot check robots.txt (out of memory, or not an http(s) URL)");
		return;
	}
	switch (v) {
	case FM_ROBOTS_ALLOWED: {
		int64_t delay = fm_robots_crawl_delay_ms(fh->robots, a->rq.url);
		if (delay > fh->cfg->robots_max_delay) {
			page_over(a);
			char why[128];
			snprintf(why, sizeof(why), "robots.txt asks for a Crawl-delay of %" PRId64
			         " s, over robots_max_delay", delay / 1000);
			page_failed(a, why);
			return;
		}
		page_get(a, delay > r->st.fa_delay ? delay : r->st.fa_delay);
		return;
	}
	case FM_ROBOTS_DISALLOWED:
		page_over(a);
		h->count(fh->inst, "robots_disallowed", 1);
		if (!a->ph->robots_logged)
			fm_info(h, fh->inst, "source %s: robots.txt of %s disallows some of its pages; "
			        "those items keep their summary", fh_run_source(r), a->ph->host);
		a->ph->robots_logged = true;
		return;
	case FM_ROBOTS_UNKNOWN:
		if (robots_fetch(a) < 0) {
			page_over(a);
			page_failed(a, "out of memory");
			return;
		}
		park(a);
		return;
	case FM_ROBOTS_PENDING:
		park(a);
		return;
	}
}

void fh_pages_cancel_parked(struct fh *fh)
{
	while (fh->parked) {
		struct art *a = fh->parked;
		fh->parked = a->parked_next;
		a->parked_next = NULL;
		page_over(a);
		a->r->cancelled = true;
		fh_run_end(a->r);
	}
}

/* ---- the pages of a run --------------------------------------------------------------- */

/* The limits for a's page: the request's, without the source's own headers on another host. */
static void page_limits(struct art *a)
{
	struct run *r = a->r;
	char page[256], home[256];
	a->lim = r->st.lim;
	fm_fetcher_host(a->rq.url, page, sizeof(page));
	fm_fetcher_host(r->url, home, sizeof(home));
	if (strcmp(page, home) != 0) {
		a->lim.headers = NULL;
		a->lim.n_headers = 0;
	}
}

void fh_pages_start(struct run *r)
{
	const fm_host *h = r->fh->host;
	size_t n = json_array_size(r->docs.items);
	size_t want = 0;
	if (!r->st.full_article || r->st.fa_max <= 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (wants_full_article(r, json_array_get(r->docs.items, i),
		                       fm_doc_str(json_array_get(r->docs.items, i), FM_DOC_URL)))
			want++;
	if (want > (size_t)r->st.fa_max)
		want = (size_t)r->st.fa_max;
	if (!want)
		return;
	r->arts = calloc(want, sizeof(*r->arts));
	r->hosts = calloc(want, sizeof(*r->hosts));
	if (!r->arts || !r->hosts) {
		fm_warn(h, r->fh->inst, "source %s: out of memory for full articles; items keep "
		        "their summary", fh_run_source(r));
		return;
	}
	for (size_t i = 0; i < n && r->narts < want; i++) {
		json_t *doc = json_array_get(r->docs.items, i);
		const char *link = fm_doc_str(doc, FM_DOC_URL);
		if (!wants_full_article(r, doc, link))
			continue;
		struct page_host *ph = page_host(r, link);
		if (ph->count >= r->st.fa_per_host) {
			if (!ph->warned)
				fm_info(h, r->fh->inst, "source %s: full_article_per_host (%" PRId64 ") "
				        "reached for %s; further items keep their summary",
				        fh_run_source(r), r->st.fa_per_host, ph->host);
			ph->warned = true;
			continue;
		}
		ph->count++;
		struct art *a = &r->arts[r->narts++];
		a->r = r;
		a->index = i;
		a->ph = ph;
		a->rq = (struct fm_http_request){
			.url = link, /* the document's: it lives until the run ends */
			.accept = ACCEPT_HTML,
			.trusted_url = r->st.allow_private_links ? NULL : r->home,
		};
		page_limits(a);
		r->pending++;
		page_go(a);
	}
}
