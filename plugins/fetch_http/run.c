/*
 * fetch_http: one fetch request, from the GET of the source to the answer.
 *
 * process() holds the request (ABI 1.4) and queues its GET on the instance's fetcher; what
 * follows runs from step(), as the fetcher's callbacks:
 *
 *   GET the source (conditional) -> 304: report, answer
 *                                -> a feed: parse it into documents
 *                                -> an HTML page: its feed is fetched (autodiscovery), or
 *                                   the page is the document
 *   documents that carry only a summary -> their pages, fetched at once (full_article)
 *   all over -> the documents are emitted, in feed order, and the request answered FM_DONE
 *
 * What happened goes to the scheduler through host->report (status, validators, errors,
 * Retry-After, and what says when to come back: poll_hints.c). A failed fetch is not a document error: it is reported and answered FM_DONE.
 * A stop cancels what is left: the request is answered FM_RETRY and comes again next run.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fetcher.h"
#include "poll_hints.h"
#include "run.h"
#include "url.h"

const char *fh_run_source(const struct run *r)
{
	return r->source ? r->source : "?";
}

static void run_fail(struct run *r, const char *fmt, ...) FM_PRINTF(2, 3);
static void run_fail(struct run *r, const char *fmt, ...)
{
	const fm_host *h = r->fh->host;
	char cause[512], msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cause, sizeof(cause), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "%s: %s", r->safe_url ? r->safe_url : "(no url)", cause);
	fm_warn(h, r->fh->inst, "source %s: %s", fh_run_source(r), msg);
	h->report(r->out, FM_REPORT_ERROR, json_string(msg));
	h->count(r->fh->inst, "fetch_errors", 1);
	r->failed = true;
}

/* ---- life and end ---------------------------------------------------------------------- */

static void run_free(struct run *r)
{
	struct fh *fh = r->fh;
	if (r->prev)
		r->prev->next = r->next;
	else if (fh->runs == r)
		fh->runs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	fh->nruns--;
	for (size_t i = 0; i < r->narts; i++)
		fm_http_response_free(&r->arts[i].resp);
	free(r->arts);
	free(r->hosts);
	fh_feed_docs_free(&r->docs);
	fm_html_info_free(&r->info);
	fm_http_response_free(&r->resp);
	fh_settings_free(&r->st);
	free(r->safe_feed);
	free(r->safe_url);
	free(r);
}

/* Every GET of the run has ended: emit what it made and answer. */
void fh_run_end(struct run *r)
{
	struct fh *fh = r->fh;
	const fm_host *h = fh->host;
	if (r->pending)
		return;
	int status = FM_DONE;
	if (r->cancelled || fh->closing) {
		status = FM_RETRY; /* stopped in the middle: it comes again next run */
	} else if (r->docs.items) {
		int64_t emitted = 0;
		size_t n = json_array_size(r->docs.items);
		json_t *keys = json_array();
		for (size_t i = 0; i < n; i++) {
			json_t *doc = json_incref(json_array_get(r->docs.items, i));
			/* before emit(), which takes doc */
			uint32_t key = fm_hints_item_key(fm_doc_str(doc, FM_DOC_ID));
			if (h->emit(r->out, doc) == 0) {
				emitted++;
				fm_hints_add_key(keys, key);
			}
		}
		h->count(fh->inst, "items", emitted);
		h->report(r->out, FM_REPORT_ITEMS, json_integer(emitted));
		if (keys)
			h->report(r->out, FM_REPORT_ITEM_KEYS, keys);
	}
	if (!fh->closing)
		h->complete(r->out, status);
	run_free(r);
}

/* ---- GETs ------------------------------------------------------------------------------ */

static void on_started(void *arg)
{
	struct run *r = arg;
	/* it waited its turn in the fetcher's queue: the stage timeout counts from now */
	r->fh->host->progress(r->out);
}

/* GET for r (the source, its discovered feed): done(r, ...) when it ends. */
static int run_get(struct run *r, const struct fm_http_request *rq, struct fm_http_response *resp,
                   int64_t gap_ms, fm_fetch_done done, void *arg)
{
	if (!r->fh->fetcher)
		return -ECANCELED;
	struct fm_fetch fx = {.lim = &r->st.lim, .req = rq, .resp = resp, .gap_ms = gap_ms,
	                      .done = done, .started = on_started, .arg = arg};
	r->pending++;
	int rc = fm_fetcher_get(r->fh->fetcher, &fx);
	if (rc < 0)
		r->pending--;
	return rc;
}

/* ---- the source's response -------------------------------------------------------------- */

static void report_validators(struct run *r, const struct fm_http_response *resp)
{
	const fm_host *h = r->fh->host;
	if (resp->etag)
		h->report(r->out, FM_REPORT_ETAG, json_string(resp->etag));
	if (resp->last_modified)
		h->report(r->out, FM_REPORT_LAST_MODIFIED, json_string(resp->last_modified));
}

/* Parse resp as the feed; its pages are fetched next. The caller frees resp. */
static void take_feed(struct run *r, struct fm_http_response *resp)
{
	if (fh_feed_docs(r->fh, &r->common, resp, r->st.max_items, fh_run_source(r), r->safe_url,
	                 &r->docs) < 0) {
		run_fail(r, "%s", r->docs.error);
		return;
	}
	fm_hints_report_feed(r->fh->host, r->out, r->docs.feed);
	fh_pages_start(r);
}

static void on_discovered(void *arg, int rc, struct fm_http_response *resp)
{
	struct run *r = arg;
	r->pending--;
	r->fh->host->count(r->fh->inst, "connections", resp->connects);
	const char *sf = r->safe_feed ? r->safe_feed : "?";
	if (rc == -ECANCELED)
		r->cancelled = true;
	else if (rc < 0)
		run_fail(r, "autodiscovered feed %s: %s", sf, resp->error);
	else if (resp->status < 200 || resp->status > 299)
		run_fail(r, "autodiscovered feed %s: HTTP %ld", sf, resp->status);
	else if (fh_classify(resp, "feed") != BODY_FEED)
		run_fail(r, "autodiscovered feed %s is not a feed (%s)", sf,
		         resp->content_type ? resp->content_type : "no Content-Type");
	else
		take_feed(r, resp);
	if (rc == 0 && !r->failed) {
		/* the feed's validators and freshness, kept by the scheduler for the feed URL
		 * it polls from now on; the page's are not the feed's */
		report_validators(r, resp);
		fm_hints_report_fresh(r->fh->host, r->out, resp, true);
	}
	fm_http_response_free(resp); /* parsed: its body is no longer needed */
	fh_run_end(r);
}

static void emit_page(struct run *r, const struct fm_http_response *resp,
                      const struct fm_utf8 *decoded, const struct fm_html_info *known)
{
	const fm_host *h = r->fh->host;
	json_t *doc = fh_page_doc(r->fh, &r->common, resp, decoded, known);
	if (!doc) {
		run_fail(r, "out of memory");
		return;
	}
	if (h->emit(r->out, doc) == 0)
		h->count(r->fh->inst, "pages", 1);
	h->report(r->out, FM_REPORT_ITEMS, json_integer(1));
}

/* The source answered with an HTML page: find its feed, or take the page itself. */
static void take_html(struct run *r, struct fm_http_response *resp)
{
	struct fh *fh = r->fh;
	const fm_host *h = fh->host;
	struct fm_utf8 u = {0};

	if (strcmp(r->st.source_type, "html") == 0) {
		report_validators(r, resp);
		emit_page(r, resp, NULL, NULL);
		return;
	}
	if (fm_http_to_utf8(fm_buf_str(&resp->body), resp->body.len, resp->charset, &u) < 0 ||
	    fm_html_scan(u.s, u.len, resp->url, &r->info) < 0) {
		run_fail(r, "out of memory");
		goto out;
	}
	if (!r->info.feed_url) {
		if (strcmp(r->st.source_type, "feed") == 0) {
			run_fail(r, "not a feed: an HTML page (%s) without a <link rel=\"alternate\"> "
			            "to a feed", resp->content_type ? resp->content_type : "no type");
			goto out;
		}
		report_validators(r, resp);
		emit_page(r, resp, &u, &r->info);
		goto out;
	}

	/* Autodiscovery. The validators of the page do not tell whether the feed changed: report
	 * the feed's, with feed_url, so the scheduler keeps them for the feed URL and fetches the
	 * feed directly, conditionally, next time. */
	r->safe_feed = fm_http_redact(r->info.feed_url);
	fm_info(h, fh->inst, "source %s: %s links to feed %s", fh_run_source(r), r->safe_url,
	        r->safe_feed ? r->safe_feed : "?");
	h->report(r->out, FM_REPORT_FEED_URL, json_string(r->info.feed_url));
	r->rq = (struct fm_http_request){.url = r->info.feed_url,
	                                 .accept = ACCEPT_FEED,
	                                 .trusted_url = r->st.allow_private_links ? NULL : r->home};
	fm_http_response_reset(resp);
	int rc = run_get(r, &r->rq, resp, 0, on_discovered, r);
	if (rc == -ECANCELED)
		r->cancelled = true;
	else if (rc < 0)
		run_fail(r, "out of memory");
out:
	free(u.owned);
}

static void take_response(struct run *r, struct fm_http_response *resp)
{
	const char *ct = resp->content_type ? resp->content_type : "no Content-Type";
	switch (fh_classify(resp, r->st.source_type)) {
	case BODY_FEED:
		report_validators(r, resp);
		take_feed(r, resp);
		fm_http_response_free(resp); /* parsed: its body is no longer needed */
		break;
	case BODY_HTML:
		take_html(r, resp);
		break;
	case BODY_BINARY:
		run_fail(r, "not a feed or a page: binary content (%s)", ct);
		break;
	case BODY_OTHER:
		run_fail(r, "not a feed (%s)", ct);
		break;
	}
}

static void not_modified(struct run *r, const struct fm_http_response *resp)
{
	const fm_host *h = r->fh->host;
	h->report(r->out, FM_REPORT_NOT_MODIFIED, json_true());
	fm_hints_report_fresh(h, r->out, resp, false);
	/* a 304 may omit the validators: the ones sent stay valid */
	const char *etag = resp->etag ? resp->etag : r->rq.etag;
	const char *lm = resp->last_modified ? resp->last_modified : r->rq.last_modified;
	if (etag)
		h->report(r->out, FM_REPORT_ETAG, json_string(etag));
	if (lm)
		h->report(r->out, FM_REPORT_LAST_MODIFIED, json_string(lm));
	h->report(r->out, FM_REPORT_ITEMS, json_integer(0));
	h->count(r->fh->inst, "not_modified", 1);
}

static void on_source(void *arg, int rc, struct fm_http_response *resp)
{
	struct run *r = arg;
	const fm_host *h = r->fh->host;
	r->pending--;
	h->count(r->fh->inst, "connections", resp->connects);
	if (resp->status && rc != -ECANCELED)
		h->report(r->out, FM_REPORT_HTTP_STATUS, json_integer(resp->status));
	if (rc == -ECANCELED) {
		r->cancelled = true;
	} else if (rc < 0) {
		run_fail(r, "%s", resp->error);
	} else if (resp->status == 304) {
		not_modified(r, resp);
	} else if (resp->status < 200 || resp->status > 299) {
		if (resp->status == 429 || resp->status == 503) {
			int64_t ra = fm_http_retry_after(resp->retry_after, h->now_ms() / 1000);
			if (ra >= 0)
				h->report(r->out, FM_REPORT_RETRY_AFTER, json_integer(ra));
		}
		run_fail(r, "HTTP %ld%s", resp->status,
		         resp->status >= 300 && resp->status < 400 ? " (redirect without Location)"
		                                                   : "");
	} else {
		fm_hints_report_fresh(h, r->out, resp, false);
		take_response(r, resp);
	}
	fh_run_end(r);
}

/* ---- start ----------------------------------------------------------------------------- */

static void format_now(const fm_host *h, char out[32])
{
	int64_t ms = h->now_ms();
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int fh_run_start(struct fh *fh, json_t *req, fm_out *out)
{
	const fm_host *h = fh->host;
	struct run *r = calloc(1, sizeof(*r));
	if (!r)
		return FM_RETRY;
	r->fh = fh;
	r->out = out;
	r->req = req;
	r->source = fm_doc_str(req, FM_DOC_SOURCE);
	r->url = fm_doc_str(req, FM_DOC_URL);
	r->home = fm_doc_str(req, FM_DOC_SOURCE_URL) ? fm_doc_str(req, FM_DOC_SOURCE_URL) : r->url;
	r->common.source = r->source;
	r->common.fetched_at = r->fetched_at;
	r->common.tags = json_object_get(req, FM_DOC_SOURCE_TAGS);
	if (!json_is_array(r->common.tags))
		r->common.tags = NULL;
	fh->nruns++; /* run_free() counts it out */
	if (!r->url || !*r->url) {
		run_fail(r, "fetch request without a url");
		run_free(r);
		return FM_ERROR;
	}
	r->safe_url = fm_http_redact(r->url);
	if (!r->safe_url) {
		run_free(r);
		return FM_RETRY;
	}
	size_t bad = 0;
	int rc = fh_settings_load(fh, req, &r->st, &bad);
	if (rc < 0) {
		/* say which header without its value: values may be secrets */
		if (rc == -EINVAL)
			run_fail(r, "source option headers: entry %zu is not a single \"Name: value\" "
			            "line", bad);
		run_free(r);
		return rc == -EINVAL ? FM_DONE : FM_RETRY;
	}
	format_now(h, r->fetched_at);
	r->rq = (struct fm_http_request){
		.url = r->url,
		.etag = fm_doc_str(req, FM_DOC_ETAG),
		.last_modified = fm_doc_str(req, FM_DOC_LAST_MODIFIED),
		.accept = strcmp(r->st.source_type, "html") == 0 ? ACCEPT_HTML : ACCEPT_FEED,
		.trusted_url = r->st.allow_private_links ? NULL : r->home,
	};
	fm_out *held = h->hold(out);
	if (!held) {
		run_free(r);
		return FM_RETRY;
	}
	r->out = held;
	r->next = fh->runs;
	if (fh->runs)
		fh->runs->prev = r;
	fh->runs = r;
	h->count(fh->inst, "fetches", 1);
	rc = run_get(r, &r->rq, &r->resp, 0, on_source, r);
	if (rc < 0) {
		/* not answered inside process(): from the next step */
		r->deferred = FM_RETRY;
	}
	return FM_PENDING;
}

bool fh_runs_deferred(const struct fh *fh)
{
	for (const struct run *r = fh->runs; r; r = r->next)
		if (r->deferred)
			return true;
	return false;
}

void fh_runs_answer_deferred(struct fh *fh)
{
	struct run *r = fh->runs;
	while (r) {
		struct run *next = r->next;
		if (r->deferred && !r->pending) {
			if (!fh->closing)
				fh->host->complete(r->out, r->deferred);
			run_free(r);
		}
		r = next;
	}
}
