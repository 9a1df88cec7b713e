/*
 * fetch_http: what the parts of the fetch stage share. Private to the plugin.
 *
 *   plugin.c    the plugin: options, init/fini, process() holds each fetch request, wait()
 *               and step() drive the fetcher
 *   settings.c  the settings of one request: the stage's, overridden by source_options
 *   run.c       one fetch request from start to answer: GET, autodiscovery, the answer
 *   pages.c     its full-article pages, and robots.txt for them (robots.c)
 *   docs.c      what a response is, and the documents made of it
 *   fetcher.c   many GETs at once (libcurl multi), per-host limits through host_gate.c
 */
#ifndef FM_FETCH_HTTP_STAGE_H
#define FM_FETCH_HTTP_STAGE_H

#include <stdbool.h>
#include <stdint.h>

#include <feedmill/plugin.h>

#include "discover.h"
#include "http.h"
#include "http_charset.h"

struct art;
struct fm_fetcher;
struct fm_robots_cache;
struct run;

/* The plugin's options (plugin.c's table). */
struct fh_config {
	int64_t timeout;         /* ms */
	int64_t connect_timeout; /* ms */
	uint64_t max_size;
	int64_t max_redirects;
	int64_t max_items;
	char *user_agent;
	struct fm_strlist headers;
	char *source_type;
	uint64_t low_speed_limit;
	int64_t low_speed_time; /* ms */
	bool full_article;
	int64_t full_article_min_length;
	int64_t full_article_max;
	int64_t full_article_per_host;
	int64_t full_article_delay; /* ms */
	bool allow_private_links;
	int64_t max_transfers;
	int64_t per_host;
	int64_t host_delay; /* ms */
	bool robots;
	int64_t robots_cache;
	int64_t robots_max_age; /* ms */
	int64_t robots_retry;   /* ms */
	int64_t robots_max_delay; /* ms */
};

/* One instance of the stage. */
struct fh {
	const fm_host *host;
	fm_instance *inst;
	const struct fh_config *cfg;
	struct fm_fetcher *fetcher; /* NULL once stopped */
	struct run *runs;           /* requests being served */
	size_t nruns;
	bool closing; /* fini(): what ends now is not answered (the host frees the handles) */
	struct fm_robots_cache *robots; /* robots.txt per site, for full-article pages */
	struct art *parked;             /* pages waiting for their site's robots.txt */
	size_t robots_fetching;         /* robots.txt GETs under way */
};

/* ---- settings.c ---------------------------------------------------------------------- */

/* The settings in force for one request: the stage's, overridden by source_options. */
struct settings {
	struct fm_http_limits lim;
	int64_t max_items;
	const char *source_type;
	bool full_article;
	int64_t fa_min_length, fa_max, fa_per_host, fa_delay;
	bool allow_private_links;
	bool robots;
	const char **hdrs; /* the source's own headers (malloc'd array), or NULL */
};

/* A header line is sent as given: refuse line breaks (header injection) and a missing colon. */
bool fh_header_ok(const char *h);
/* Fill st for the request req. 0; -ENOMEM; or -EINVAL with *bad set to the 1-based index of
 * a source header that is not one "Name: value" line. */
int fh_settings_load(struct fh *fh, json_t *req, struct settings *st, size_t *bad);
void fh_settings_free(struct settings *st);

/* ---- docs.c -------------------------------------------------------------------------- */

enum body_kind { BODY_FEED, BODY_HTML, BODY_BINARY, BODY_OTHER };

/* What a body is, from its type and first bytes; source_type "html" takes any text as HTML. */
enum body_kind fh_classify(const struct fm_http_response *resp, const char *source_type);

/* What every document of a fetch carries. */
struct doc_common {
	const char *source;
	const char *fetched_at;
	json_t *tags; /* or NULL */
};

/* Decode a page body to UTF-8 and set it as page_html. 0 or -ENOMEM. */
int fh_set_page_html(json_t *doc, const struct fm_http_response *resp);
/* The document for an HTML page. decoded/known: the body already decoded and scanned, or
 * NULL. NULL on OOM. */
json_t *fh_page_doc(struct fh *fh, const struct doc_common *c,
                    const struct fm_http_response *resp, const struct fm_utf8 *decoded,
                    const struct fm_html_info *known);

/* A feed body parsed into documents. */
struct feed_docs {
	json_t *items;  /* array of article documents, in feed order */
	json_t *feed;   /* the parser's "feed" object (title, link, poll hints), or NULL */
	json_t *parsed; /* what holds feed */
	char error[512]; /* when items is NULL: why (not a feed, out of memory) */
};

/* Parse resp's body as a feed. 0, or -1 with out->error set. */
int fh_feed_docs(struct fh *fh, const struct doc_common *c, const struct fm_http_response *resp,
                 int64_t max_items, const char *source_name, const char *safe_url,
                 struct feed_docs *out);
void fh_feed_docs_free(struct feed_docs *d);

/* The document's URL fields keep only http(s) URLs (doc_urls.h); the removals are counted. */
void fh_strip_unsafe_urls(struct fh *fh, json_t *doc);

/* ---- run.c --------------------------------------------------------------------------- */

/* Serve the fetch request req (process()'s document) answered through out: FM_PENDING when
 * it holds it (answered later from step()), else the status to return now. */
int fh_run_start(struct fh *fh, json_t *req, fm_out *out);
/* Runs that could not start their GET are answered from step(), not inside process(). */
bool fh_runs_deferred(const struct fh *fh);
void fh_runs_answer_deferred(struct fh *fh);

#endif
