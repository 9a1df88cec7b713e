/*
 * fetch_http: the fetch stage. Turns a fetch request from the scheduler into article documents:
 * GET the source URL (conditional, bounded, http/https only), then
 *   - a feed: one document per item (optionally with the item's page fetched into page_html);
 *   - an HTML page: autodiscover its feed, or (source_type auto/html) one page document.
 * What happened goes back to the scheduler through host->report (status, validators, errors,
 * Retry-After, and what says when to come back: poll_hints.c). A failed fetch is not a
 * document error: it is reported and FM_DONE returned.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <feedmill/plugin.h>
#include <libxml/parser.h>

#include "discover.h"
#include "doc_urls.h"
#include "feed.h"
#include "http.h"
#include "http_charset.h"
#include "poll_hints.h"
#include "url.h"

#define FH_VERSION "0.1.0"

#include "parse_cmd.h" /* the `feedmill parse` command */

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
};

#define PS FM_OPT_PER_SOURCE
#define OFF(f) offsetof(struct fh_config, f)
static const struct fm_option fh_options[] = {
	/* not "timeout": in a [stage] section that key is the core's delivery timeout */
	{"http_timeout", FM_OPT_DURATION, "30s", OFF(timeout), PS, NULL, 0, 0,
	 "Time limit for one HTTP fetch, redirects included (keep the stage's timeout above "
	 "it, and above what full_article adds)"},
	{"connect_timeout", FM_OPT_DURATION, "10s", OFF(connect_timeout), PS, NULL, 0, 0,
	 "Time limit for the TCP/TLS connection"},
	{"max_size", FM_OPT_SIZE, "10M", OFF(max_size), PS, NULL, 0, 0,
	 "Largest body accepted, after decompression; larger transfers are aborted"},
	{"max_redirects", FM_OPT_INT, "5", OFF(max_redirects), PS, NULL, 0, 50,
	 "Redirect hops followed (http/https only)"},
	{"max_items", FM_OPT_INT, "1000", OFF(max_items), PS, NULL, 1, 1000000,
	 "Items taken from one feed fetch"},
	{"user_agent", FM_OPT_STR, "feedmill/0.1", OFF(user_agent), PS, NULL, 0, 0,
	 "User-Agent header"},
	{"headers", FM_OPT_LIST, NULL, OFF(headers), PS | FM_OPT_SECRET, NULL, 0, 0,
	 "Extra request headers, \"Name: value\" (values are never logged)"},
	{"source_type", FM_OPT_ENUM, "auto", OFF(source_type), PS, "auto|feed|html", 0, 0,
	 "What a source URL is: a feed, an HTML page, or auto (feed if it is one, else "
	 "the page's autodiscovered feed, else the page)"},
	{"low_speed_limit", FM_OPT_SIZE, "100", OFF(low_speed_limit), 0, NULL, 0, 0,
	 "Bytes per second below which, for low_speed_time, a transfer is aborted"},
	{"low_speed_time", FM_OPT_DURATION, "20s", OFF(low_speed_time), PS, NULL, 0, 0,
	 "How long a transfer may stay under low_speed_limit; 0 disables the check"},
	{"full_article", FM_OPT_BOOL, "no", OFF(full_article), PS, NULL, 0, 0,
	 "Fetch the linked page of items that carry only a summary into page_html"},
	{"full_article_min_length", FM_OPT_INT, "500", OFF(full_article_min_length), PS, NULL, 0,
	 100000000, "Items whose content is shorter than this (bytes of HTML) get their page"},
	{"full_article_max", FM_OPT_INT, "20", OFF(full_article_max), PS, NULL, 0, 10000,
	 "Pages fetched for full articles in one fetch of a source"},
	{"full_article_per_host", FM_OPT_INT, "10", OFF(full_article_per_host), PS, NULL, 0,
	 10000, "Pages fetched from one host in one fetch of a source"},
	{"full_article_delay", FM_OPT_DURATION, "1s", OFF(full_article_delay), PS, NULL, 0, 0,
	 "Pause between two page requests to the same host"},
	{"allow_private_links", FM_OPT_BOOL, "no", OFF(allow_private_links), PS, NULL, 0, 0,
	 "Let redirects, discovered feeds and article links reach loopback, private and link-local "
	 "addresses on hosts other than the source's own"},
	{NULL, 0, NULL, 0, 0, NULL, 0, 0, NULL},
};
#undef OFF
#undef PS

/* The settings in force for one request: the stage's, overridden by source_options. */
struct settings {
	struct fm_http_limits lim;
	int64_t max_items;
	const char *source_type;
	bool full_article;
	int64_t fa_min_length, fa_max, fa_per_host, fa_delay;
	bool allow_private_links;
};

struct host_slot {
	char *host;
	int64_t count;
	int64_t last_ms; /* monotonic ms of the last request; 0: none */
	bool warned;      /* the per-host limit was logged */
	bool fail_logged; /* a failed page was logged: further ones go to debug */
};

struct fh {
	const fm_host *host;
	fm_instance *inst;
	const struct fh_config *cfg;
	struct fm_http *http;
	struct fm_http_response main, disc, art; /* reused: their body buffers stay allocated */
	const char **hdrs;                       /* per-request header pointers */
	size_t hdrs_cap;
	struct host_slot *hosts; /* per request, for the full-article politeness */
	size_t n_hosts, cap_hosts;
};

/* fm_http_limits.cancelled: the host stops this stage (host->stopping). */
static int stopping(void *arg)
{
	const struct fh *fh = arg;
	return fh->host->stopping(fh->inst);
}

/* One fetch request being served. */
struct run {
	struct fh *fh;
	fm_out *out;
	const char *source;
	const char *url;
	const char *home; /* the source's own URL, whose host is trusted: url, or the page a
	                   * feed fetched directly was found on (FM_DOC_SOURCE_URL) */
	char *safe_url; /* url without userinfo, for logs and reports */
	struct settings st;
	char fetched_at[32];
	json_t *tags;   /* borrowed from the request; NULL if none */
	int64_t fa_done;
	bool failed;
};

/* ------------------------------------------------------------------------------------------ */

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
	fm_warn(h, r->fh->inst, "source %s: %s", r->source ? r->source : "?", msg);
	h->report(r->out, FM_REPORT_ERROR, json_string(msg));
	h->count(r->fh->inst, "fetch_errors", 1);
	r->failed = true;
}

static bool opt_int(json_t *so, const char *key, int64_t *dst)
{
	json_t *v = json_object_get(so, key);
	if (json_is_integer(v))
		*dst = json_integer_value(v);
	else if (json_is_real(v))
		*dst = (int64_t)json_real_value(v);
	else
		return false;
	return true;
}

static void opt_size(json_t *so, const char *key, uint64_t *dst)
{
	int64_t v;
	if (opt_int(so, key, &v) && v >= 0)
		*dst = (uint64_t)v;
}

static void opt_bool(json_t *so, const char *key, bool *dst)
{
	json_t *v = json_object_get(so, key);
	if (json_is_boolean(v))
		*dst = json_is_true(v);
}

static void opt_str(json_t *so, const char *key, const char **dst)
{
	const char *s = json_string_value(json_object_get(so, key));
	if (s)
		*dst = s;
}

/* A header line is sent as given: refuse line breaks (header injection) and a missing colon. */
static bool header_ok(const char *h)
{
	return h && strchr(h, ':') && !strpbrk(h, "\r\n") && h[0] != ':';
}

static int ensure_hdrs(struct fh *fh, size_t n)
{
	if (n <= fh->hdrs_cap)
		return 0;
	const char **p = realloc(fh->hdrs, n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	fh->hdrs = p;
	fh->hdrs_cap = n;
	return 0;
}

static int load_settings(struct run *r, json_t *req)
{
	struct fh *fh = r->fh;
	const struct fh_config *c = fh->cfg;
	struct settings *st = &r->st;
	json_t *so = json_object_get(req, FM_DOC_SOURCE_OPTIONS);
	int64_t redirects = c->max_redirects;

	*st = (struct settings){
		.lim =
			{
				.timeout_ms = c->timeout,
				.connect_timeout_ms = c->connect_timeout,
				.max_size = c->max_size,
				.low_speed_limit = c->low_speed_limit,
				.low_speed_time_ms = c->low_speed_time,
				.user_agent = c->user_agent,
				.headers = (const char *const *)c->headers.items,
				.n_headers = c->headers.n,
			},
		.max_items = c->max_items,
		.source_type = c->source_type ? c->source_type : "auto",
		.full_article = c->full_article,
		.fa_min_length = c->full_article_min_length,
		.fa_max = c->full_article_max,
		.fa_per_host = c->full_article_per_host,
		.fa_delay = c->full_article_delay,
		.allow_private_links = c->allow_private_links,
	};
	/* the request's own source_type (from the [source] section) beats the stage default */
	opt_str(req, FM_DOC_SOURCE_TYPE, &st->source_type);
	if (json_is_object(so)) {
		opt_int(so, "http_timeout", &st->lim.timeout_ms);
		opt_int(so, "connect_timeout", &st->lim.connect_timeout_ms);
		opt_size(so, "max_size", &st->lim.max_size);
		opt_int(so, "max_redirects", &redirects);
		opt_int(so, "max_items", &st->max_items);
		opt_str(so, "user_agent", &st->lim.user_agent);
		opt_str(so, "source_type", &st->source_type);
		opt_int(so, "low_speed_time", &st->lim.low_speed_time_ms);
		opt_bool(so, "full_article", &st->full_article);
		opt_int(so, "full_article_min_length", &st->fa_min_length);
		opt_int(so, "full_article_max", &st->fa_max);
		opt_int(so, "full_article_per_host", &st->fa_per_host);
		opt_int(so, "full_article_delay", &st->fa_delay);
		opt_bool(so, "allow_private_links", &st->allow_private_links);

		json_t *hv = json_object_get(so, "headers");
		if (json_is_string(hv) || json_is_array(hv)) {
			size_t n = json_is_array(hv) ? json_array_size(hv) : 1;
			if (ensure_hdrs(fh, n) < 0)
				return -ENOMEM;
			for (size_t i = 0; i < n; i++) {
				const char *s = json_string_value(json_is_array(hv) ? json_array_get(hv, i)
				                                                     : hv);
				if (!header_ok(s)) {
					/* say which one without its value: values may be secrets */
					run_fail(r, "source option headers: entry %zu is not a single "
					            "\"Name: value\" line", i + 1);
					return -EINVAL;
				}
				fh->hdrs[i] = s;
			}
			st->lim.headers = fh->hdrs;
			st->lim.n_headers = n;
		}
	}
	if (st->lim.timeout_ms < 0)
		st->lim.timeout_ms = 0;
	/* a stop cuts transfers short (host->stopping, ABI 1.3) */
	if (fh->host->struct_size >= offsetof(fm_host, stopping) + sizeof(void *) &&
	    fh->host->stopping) {
		st->lim.cancelled = stopping;
		st->lim.cancel_arg = fh;
	}
	st->lim.max_redirects = redirects < 0 ? 0 : (long)redirects;
	if (st->max_items < 1)
		st->max_items = 1;
	if (strcmp(st->source_type, "feed") != 0 && strcmp(st->source_type, "html") != 0)
		st->source_type = "auto";
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* What a body is */

enum body_kind { BODY_FEED, BODY_HTML, BODY_BINARY, BODY_OTHER };

static bool type_is(const char *ct, const char *prefix)
{
	return ct && strncmp(ct, prefix, strlen(prefix)) == 0;
}

static bool binary_type(const char *ct)
{
	static const char *const bin[] = {
		"image/", "audio/", "video/", "font/", "model/", "application/pdf",
		"application/zip", "application/gzip", "application/x-gzip", "application/x-tar",
		"application/x-bzip2", "application/x-xz", "application/zstd", "application/msword",
		"application/vnd.", "application/x-shockwave-flash", "application/wasm",
		"application/x-executable", "application/java-archive", NULL,
	};
	for (size_t i = 0; bin[i]; i++)
		if (type_is(ct, bin[i]))
			return true;
	return false;
}

static bool html_type(const char *ct)
{
	return ct && (strcmp(ct, "text/html") == 0 || strcmp(ct, "application/xhtml+xml") == 0);
}

/* Types only feeds use: the parser gets the body even when the sniff does not recognise it
 * (junk before the root, a broken prolog), so the error names what is wrong in it. */
static bool feed_type(const char *ct)
{
	return ct && (strcmp(ct, "application/rss+xml") == 0 ||
	              strcmp(ct, "application/atom+xml") == 0 ||
	              strcmp(ct, "application/rdf+xml") == 0 ||
	              strcmp(ct, "application/feed+json") == 0 ||
	              strcmp(ct, "application/x-rss+xml") == 0);
}

static bool looks_binary(const char *s, size_t len)
{
	size_t n = len < 1024 ? len : 1024;
	/* UTF-16 text has NULs too, but starts with a BOM */
	if (n >= 2 && ((unsigned char)s[0] == 0xFF || (unsigned char)s[0] == 0xFE))
		return false;
	return memchr(s, '\0', n) != NULL;
}

static bool looks_html(const char *s, size_t len)
{
	size_t n = len < 1024 ? len : 1024;
	static const char *const marks[] = {"<!doctype html", "<html", "<head", "<body", NULL};
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '<')
			continue;
		for (size_t k = 0; marks[k]; k++) {
			size_t ml = strlen(marks[k]);
			if (i + ml <= len && strncasecmp(s + i, marks[k], ml) == 0)
				return true;
		}
	}
	return false;
}

static enum body_kind classify(const struct fm_http_response *resp, const char *source_type)
{
	const char *ct = resp->content_type;
	const char *b = fm_buf_str(&resp->body);
	size_t len = resp->body.len;

	if (binary_type(ct) || looks_binary(b, len))
		return BODY_BINARY;
	if (strcmp(source_type, "html") == 0)
		return BODY_HTML;
	if (fm_feed_sniff(b, len) || feed_type(ct))
		return BODY_FEED;
	if (html_type(ct) || looks_html(b, len))
		return BODY_HTML;
	return BODY_OTHER;
}

/* ------------------------------------------------------------------------------------------ */
/* Documents */

static void set_common(struct run *r, json_t *doc)
{
	json_object_set_new(doc, FM_DOC_SOURCE, r->source ? json_string(r->source) : json_null());
	json_object_set_new(doc, FM_DOC_FETCHED_AT, json_string(r->fetched_at));
	if (r->tags && json_array_size(r->tags))
		json_object_set_new(doc, FM_DOC_TAGS, json_deep_copy(r->tags));
}

/* The document's URL fields keep only http(s) URLs (doc_urls.h); the removals are counted. */
static void strip_unsafe_urls(struct fh *fh, json_t *doc)
{
	int n = fm_doc_strip_unsafe_urls(doc, fh->host, fh->inst);
	if (n > 0)
		fh->host->count(fh->inst, "unsafe_urls", n);
}

/* Decode a page body to UTF-8 and set it as page_html. Returns 0 or -ENOMEM. */
static int set_page_html(json_t *doc, const struct fm_http_response *resp,
                         struct fm_utf8 *u)
{
	json_t *v;
	if (fm_http_to_utf8(fm_buf_str(&resp->body), resp->body.len, resp->charset, u) < 0)
		return -ENOMEM;
	v = json_stringn_nocheck(u->s, u->len); /* fm_http_to_utf8 guarantees valid UTF-8 */
	if (!v)
		return -ENOMEM;
	return json_object_set_new(doc, FM_DOC_PAGE_HTML, v) ? -ENOMEM : 0;
}

/* One document for an HTML page. decoded/known: the body already decoded and scanned, or
 * NULL. */
static void emit_page(struct run *r, const struct fm_http_response *resp,
                      const struct fm_utf8 *decoded, const struct fm_html_info *known)
{
	const fm_host *h = r->fh->host;
	struct fm_utf8 u = {0};
	struct fm_html_info info = {0};
	json_t *doc = json_object();

	if (!doc)
		goto oom;
	if (decoded) {
		json_t *v = json_stringn_nocheck(decoded->s, decoded->len);
		if (!v || json_object_set_new(doc, FM_DOC_PAGE_HTML, v))
			goto oom;
		u.s = decoded->s;
		u.len = decoded->len;
	} else if (set_page_html(doc, resp, &u) < 0) {
		goto oom;
	}
	if (!known) {
		if (fm_html_scan(u.s, u.len, resp->url, &info) < 0)
			goto oom;
		known = &info;
	}
	json_object_set_new(doc, FM_DOC_ID, json_string(resp->url));
	json_object_set_new(doc, FM_DOC_URL, json_string(resp->url));
	if (known->title)
		json_object_set_new(doc, FM_DOC_TITLE, json_string(known->title));
	set_common(r, doc);
	strip_unsafe_urls(r->fh, doc); /* only http(s) is fetched: a safeguard */
	free(u.owned);
	fm_html_info_free(&info);
	if (h->emit(r->out, doc) == 0)
		h->count(r->fh->inst, "pages", 1);
	h->report(r->out, FM_REPORT_ITEMS, json_integer(1));
	return;
oom:
	free(u.owned);
	fm_html_info_free(&info);
	json_decref(doc);
	run_fail(r, "out of memory");
}

static const char *url_host(const char *url, char *out, size_t n)
{
	const char *p = strstr(url, "://");
	if (!p || n == 0)
		return NULL;
	p += 3;
	size_t alen = strcspn(p, "/?#");
	const char *at = memchr(p, '@', alen);
	while (at) { /* the last '@' ends the userinfo */
		alen -= (size_t)(at + 1 - p);
		p = at + 1;
		at = memchr(p, '@', alen);
	}
	if (alen >= n)
		alen = n - 1;
	for (size_t i = 0; i < alen; i++)
		out[i] = (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i]);
	out[alen] = '\0';
	return out;
}

static struct host_slot *host_slot(struct fh *fh, const char *host)
{
	for (size_t i = 0; i < fh->n_hosts; i++)
		if (strcmp(fh->hosts[i].host, host) == 0)
			return &fh->hosts[i];
	if (fh->n_hosts == fh->cap_hosts) {
		size_t cap = fh->cap_hosts ? fh->cap_hosts * 2 : 8;
		struct host_slot *p = realloc(fh->hosts, cap * sizeof(*p));
		if (!p)
			return NULL;
		fh->hosts = p;
		fh->cap_hosts = cap;
	}
	struct host_slot *s = &fh->hosts[fh->n_hosts];
	*s = (struct host_slot){.host = strdup(host)};
	if (!s->host)
		return NULL;
	fh->n_hosts++;
	return s;
}

static void hosts_reset(struct fh *fh)
{
	for (size_t i = 0; i < fh->n_hosts; i++)
		free(fh->hosts[i].host);
	fh->n_hosts = 0;
}

static int64_t mono_ms(const fm_host *h)
{
	return h->monotonic_ms();
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool wants_full_article(const struct run *r, json_t *doc, const char *link)
{
	if (!r->st.full_article || !link || !fm_url_is_http(link))
		return false;
	const char *content = fm_doc_str(doc, FM_DOC_CONTENT);
	return !content || (int64_t)strlen(content) < r->st.fa_min_length;
}

/* Fetch an item's page into page_html. Failures keep the item as it is (its summary). */
static void full_article(struct run *r, json_t *doc, const char *link)
{
	struct fh *fh = r->fh;
	const fm_host *h = fh->host;
	char hostbuf[256];
	struct fm_utf8 u = {0};

	if (r->fa_done >= r->st.fa_max)
		return;
	if (!url_host(link, hostbuf, sizeof(hostbuf)))
		return;
	struct host_slot *slot = host_slot(fh, hostbuf);
	if (!slot)
		return;
	if (slot->count >= r->st.fa_per_host) {
		if (!slot->warned)
			fm_info(h, fh->inst, "source %s: full_article_per_host (%" PRId64 ") reached "
			        "for %s; further items keep their summary", r->source ? r->source : "?",
			        r->st.fa_per_host, hostbuf);
		slot->warned = true;
		return;
	}
	if (slot->last_ms && r->st.fa_delay > 0) {
		int64_t wait = slot->last_ms + r->st.fa_delay - mono_ms(h);
		if (wait > 0)
			sleep_ms(wait);
	}
	slot->count++;
	r->fa_done++;

	struct fm_http_request rq = {.url = link,
	                             .accept = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
	                             .trusted_url = r->st.allow_private_links ? NULL : r->home};
	fm_http_response_reset(&fh->art);
	int rc = fm_http_get(fh->http, &r->st.lim, &rq, &fh->art);
	h->count(fh->inst, "connections", fh->art.connects);
	slot->last_ms = mono_ms(h);
	const char *why = NULL;
	char whybuf[64];
	if (rc < 0) {
		why = fh->art.error;
	} else if (fh->art.status < 200 || fh->art.status > 299) {
		snprintf(whybuf, sizeof(whybuf), "HTTP %ld", fh->art.status);
		why = whybuf;
	} else if (classify(&fh->art, "html") != BODY_HTML) {
		why = "not an HTML page";
	} else if (set_page_html(doc, &fh->art, &u) < 0) {
		why = "out of memory";
	}
	free(u.owned);
	if (why) {
		/* one line per host and fetch at notice: a site refusing every page would
		 * otherwise log full_article_max lines each poll */
		int lvl = slot->fail_logged ? FM_LOG_DEBUG : FM_LOG_NOTICE;
		if (h->log_level() >= lvl) {
			char *safe = fm_http_redact(link);
			h->log(fh->inst, lvl, "source %s: full article %s: %s; keeping the summary%s",
			       r->source ? r->source : "?", safe ? safe : "?", why,
			       slot->fail_logged ? "" : " (further failures on this host: debug)");
			free(safe);
		}
		slot->fail_logged = true;
		h->count(fh->inst, "full_article_errors", 1);
		return;
	}
	h->count(fh->inst, "full_articles", 1);
}

/* A stable id for an item with neither id nor link: FNV-1a over its text fields. */
static char *fallback_id(const char *feed_url, json_t *item)
{
	static const char *const keys[] = {FM_DOC_TITLE, FM_DOC_SUMMARY, FM_DOC_CONTENT,
	                                   FM_DOC_PUBLISHED, NULL};
	uint64_t hsh = 1469598103934665603ull;
	for (size_t k = 0; keys[k]; k++) {
		const char *s = fm_doc_str(item, keys[k]);
		for (; s && *s; s++) {
			hsh ^= (unsigned char)*s;
			hsh *= 1099511628211ull;
		}
		hsh ^= 0xff;
		hsh *= 1099511628211ull;
	}
	char *out = NULL;
	if (asprintf(&out, "%s#item-%016" PRIx64, feed_url, hsh) < 0)
		return NULL;
	return out;
}

static void emit_feed(struct run *r, const struct fm_http_response *resp)
{
	struct fh *fh = r->fh;
	const fm_host *h = fh->host;
	struct fm_feed_opts o = {
		.base_url = resp->url,
		.http_charset = resp->charset,
		.max_items = (size_t)r->st.max_items,
	};
	json_t *res = fm_feed_parse(fm_buf_str(&resp->body), resp->body.len, &o);
	if (!res) {
		run_fail(r, "out of memory parsing the feed");
		return;
	}
	json_t *items = json_object_get(res, "items");
	json_t *errors = json_object_get(res, "errors");
	const char *format = fm_doc_str(res, "format");
	size_t n = json_array_size(items);
	if (n == 0 && (json_array_size(errors) || !format || strcmp(format, "unknown") == 0)) {
		const char *first = json_string_value(json_array_get(errors, 0));
		run_fail(r, "invalid feed (%s)%s%s", format ? format : "unknown",
		         first ? ": " : "", first ? first : "");
		json_decref(res);
		return;
	}
	if (json_array_size(errors))
		fm_info(h, fh->inst, "source %s: %s: feed not well-formed (%zu errors, first: %s); "
		        "kept %zu items", r->source ? r->source : "?", r->safe_url,
		        json_array_size(errors),
		        json_string_value(json_array_get(errors, 0)) ?: "?", n);

	json_t *feed = json_object_get(res, "feed");
	json_t *feed_ref = json_object();
	if (feed_ref) {
		json_t *t = json_object_get(feed, "title"), *l = json_object_get(feed, "link");
		if (l && !json_is_null(l) && !fm_url_is_safe_http(json_string_value(l))) {
			fm_debug(h, fh->inst, "source %s: the feed's link is not an http(s) URL; "
			         "left out", r->source ? r->source : "?");
			l = NULL;
		}
		json_object_set_new(feed_ref, "title", t ? json_incref(t) : json_null());
		json_object_set_new(feed_ref, "link", l ? json_incref(l) : json_null());
	}
	if (n > (size_t)r->st.max_items)
		n = (size_t)r->st.max_items;
	fm_hints_report_feed(h, r->out, feed);
	json_t *keys = json_array();

	int64_t emitted = 0;
	for (size_t i = 0; i < n; i++) {
		/* take the item out of the parse result: the document we emit owns it alone */
		json_t *doc = json_incref(json_array_get(items, i));
		json_array_set_new(items, i, json_null());
		if (!json_is_object(doc)) {
			json_decref(doc);
			continue;
		}
		json_t *link = json_incref(json_object_get(doc, "link"));
		json_object_del(doc, "link");
		const char *url = json_string_value(link);
		const char *id = fm_doc_str(doc, FM_DOC_ID);
		if (!id || !*id) {
			/* a link that is going to be removed must not live on as the id */
			if (fm_url_is_safe_http(url)) {
				json_object_set(doc, FM_DOC_ID, link);
			} else {
				char *fid = fallback_id(resp->url, doc);
				json_object_set_new(doc, FM_DOC_ID, fid ? json_string(fid) : json_null());
				free(fid);
			}
		}
		json_object_set_new(doc, FM_DOC_URL, link ? link : json_null());
		json_object_set_new(doc, FM_DOC_FEED, json_deep_copy(feed_ref));
		set_common(r, doc);
		strip_unsafe_urls(fh, doc);
		url = fm_doc_str(doc, FM_DOC_URL);
		if (wants_full_article(r, doc, url))
			full_article(r, doc, url);
		uint32_t key = fm_hints_item_key(fm_doc_str(doc, FM_DOC_ID)); /* emit() takes doc */
		if (h->emit(r->out, doc) == 0) {
			emitted++;
			fm_hints_add_key(keys, key);
		}
	}
	json_decref(feed_ref);
	json_decref(res);
	h->count(fh->inst, "items", emitted);
	h->report(r->out, FM_REPORT_ITEMS, json_integer(emitted));
	if (keys)
		h->report(r->out, FM_REPORT_ITEM_KEYS, keys);
}

/* ------------------------------------------------------------------------------------------ */
/* Fetching */

#define ACCEPT_FEED                                                                              \
	"application/rss+xml,application/atom+xml,application/feed+json,application/rdf+xml,"    \
	"application/xml;q=0.9,text/xml;q=0.9,application/json;q=0.8,text/html;q=0.7,"           \
	"*/*;q=0.5"
#define ACCEPT_HTML "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"

static void report_validators(struct run *r, const struct fm_http_response *resp)
{
	const fm_host *h = r->fh->host;
	if (resp->etag)
		h->report(r->out, FM_REPORT_ETAG, json_string(resp->etag));
	if (resp->last_modified)
		h->report(r->out, FM_REPORT_LAST_MODIFIED, json_string(resp->last_modified));
}

/* The source answered with an HTML page: find its feed, or take the page itself. */
static void handle_html(struct run *r, const struct fm_http_response *resp)
{
	struct fh *fh = r->fh;
	const fm_host *h = fh->host;
	struct fm_utf8 u = {0};
	struct fm_html_info info = {0};

	if (strcmp(r->st.source_type, "html") == 0) {
		report_validators(r, resp);
		emit_page(r, resp, NULL, NULL);
		return;
	}
	if (fm_http_to_utf8(fm_buf_str(&resp->body), resp->body.len, resp->charset, &u) < 0 ||
	    fm_html_scan(u.s, u.len, resp->url, &info) < 0) {
		run_fail(r, "out of memory");
		goto out;
	}
	if (!info.feed_url) {
		if (strcmp(r->st.source_type, "feed") == 0) {
			run_fail(r, "not a feed: an HTML page (%s) without a <link rel=\"alternate\"> "
			            "to a feed", resp->content_type ? resp->content_type : "no type");
			goto out;
		}
		report_validators(r, resp);
		emit_page(r, resp, &u, &info);
		goto out;
	}

	/* Autodiscovery. The validators of the page do not tell whether the feed changed: report
	 * the feed's, with feed_url, so the scheduler keeps them for the feed URL and fetches the
	 * feed directly, conditionally, next time. */
	char *safe_feed = fm_http_redact(info.feed_url);
	fm_info(h, fh->inst, "source %s: %s links to feed %s", r->source ? r->source : "?",
	        r->safe_url, safe_feed ? safe_feed : "?");
	h->report(r->out, FM_REPORT_FEED_URL, json_string(info.feed_url));
	struct fm_http_request rq = {.url = info.feed_url,
	                             .accept = ACCEPT_FEED,
	                             .trusted_url = r->st.allow_private_links ? NULL : r->home};
	fm_http_response_reset(&fh->disc);
	int rc = fm_http_get(fh->http, &r->st.lim, &rq, &fh->disc);
	if (rc < 0)
		run_fail(r, "autodiscovered feed %s: %s", safe_feed, fh->disc.error);
	else if (fh->disc.status < 200 || fh->disc.status > 299)
		run_fail(r, "autodiscovered feed %s: HTTP %ld", safe_feed, fh->disc.status);
	else if (classify(&fh->disc, "feed") != BODY_FEED)
		run_fail(r, "autodiscovered feed %s is not a feed (%s)", safe_feed,
		         fh->disc.content_type ? fh->disc.content_type : "no Content-Type");
	else
		emit_feed(r, &fh->disc);
	if (!r->failed) {
		report_validators(r, &fh->disc);
		fm_hints_report_fresh(h, r->out, &fh->disc, true);
	}
	free(safe_feed);
out:
	free(u.owned);
	fm_html_info_free(&info);
}

static void handle_response(struct run *r, const struct fm_http_response *resp)
{
	const fm_host *h = r->fh->host;
	const char *ct = resp->content_type ? resp->content_type : "no Content-Type";

	switch (classify(resp, r->st.source_type)) {
	case BODY_FEED:
		report_validators(r, resp);
		emit_feed(r, resp);
		break;
	case BODY_HTML:
		handle_html(r, resp);
		break;
	case BODY_BINARY:
		run_fail(r, "not a feed or a page: binary content (%s)", ct);
		break;
	case BODY_OTHER:
		run_fail(r, "not a feed (%s)", ct);
		break;
	}
	(void)h;
}

static void format_now(const fm_host *h, char out[32])
{
	int64_t ms = h->now_ms();
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int fh_process(void *ctx, json_t *doc, fm_out *out)
{
	struct fh *fh = ctx;
	const fm_host *h = fh->host;
	const char *type = fm_doc_str(doc, FM_DOC_TYPE);

	if (!type || strcmp(type, FM_DOC_TYPE_FETCH) != 0) {
		/* an article passing through (`feedmill pipe`): what leaves this stage holds only
		 * http(s) links, whoever made it */
		strip_unsafe_urls(fh, doc);
		return FM_PASS;
	}

	struct run r = {
		.fh = fh,
		.out = out,
		.source = fm_doc_str(doc, FM_DOC_SOURCE),
		.url = fm_doc_str(doc, FM_DOC_URL),
		.tags = json_object_get(doc, FM_DOC_SOURCE_TAGS),
	};
	if (!json_is_array(r.tags))
		r.tags = NULL;
	if (!r.url || !*r.url) {
		run_fail(&r, "fetch request without a url");
		return FM_ERROR;
	}
	r.home = fm_doc_str(doc, FM_DOC_SOURCE_URL) ? fm_doc_str(doc, FM_DOC_SOURCE_URL) : r.url;
	r.safe_url = fm_http_redact(r.url);
	if (!r.safe_url)
		return FM_RETRY;
	if (load_settings(&r, doc) < 0)
		goto done;
	format_now(h, r.fetched_at);
	hosts_reset(fh);

	struct fm_http_request rq = {
		.url = r.url,
		.etag = fm_doc_str(doc, FM_DOC_ETAG),
		.last_modified = fm_doc_str(doc, FM_DOC_LAST_MODIFIED),
		.accept = strcmp(r.st.source_type, "html") == 0 ? ACCEPT_HTML : ACCEPT_FEED,
		.trusted_url = r.st.allow_private_links ? NULL : r.home,
	};
	struct fm_http_response *resp = &fh->main;
	fm_http_response_reset(resp);
	h->count(fh->inst, "fetches", 1);
	int rc = fm_http_get(fh->http, &r.st.lim, &rq, resp);
	h->count(fh->inst, "connections", resp->connects);
	if (resp->status)
		h->report(out, FM_REPORT_HTTP_STATUS, json_integer(resp->status));
	if (rc == -ECANCELED)
		goto done;
	if (rc < 0) {
		run_fail(&r, "%s", resp->error);
		goto done;
	}
	if (resp->status == 304) {
		h->report(out, FM_REPORT_NOT_MODIFIED, json_true());
		fm_hints_report_fresh(h, out, resp, false);
		/* a 304 may omit the validators: the ones sent stay valid */
		const char *etag = resp->etag ? resp->etag : rq.etag;
		const char *lm = resp->last_modified ? resp->last_modified : rq.last_modified;
		if (etag)
			h->report(out, FM_REPORT_ETAG, json_string(etag));
		if (lm)
			h->report(out, FM_REPORT_LAST_MODIFIED, json_string(lm));
		h->report(out, FM_REPORT_ITEMS, json_integer(0));
		h->count(fh->inst, "not_modified", 1);
		goto done;
	}
	if (resp->status < 200 || resp->status > 299) {
		if (resp->status == 429 || resp->status == 503) {
			int64_t ra = fm_http_retry_after(resp->retry_after, h->now_ms() / 1000);
			if (ra >= 0)
				h->report(out, FM_REPORT_RETRY_AFTER, json_integer(ra));
		}
		run_fail(&r, "HTTP %ld%s", resp->status,
		         resp->status >= 300 && resp->status < 400 ? " (redirect without Location)"
		                                                   : "");
		goto done;
	}
	fm_hints_report_fresh(h, out, resp, false);
	handle_response(&r, resp);
done:
	/* keep big buffers from one huge fetch from pinning memory for the instance's life */
	if (fh->art.body.cap > (1u << 20))
		fm_buf_free(&fh->art.body);
	free(r.safe_url);
	/* stopped in the middle: nothing of it goes on; the request comes again next run */
	if (r.st.lim.cancelled && r.st.lim.cancelled(fh))
		return FM_RETRY;
	return FM_DONE;
}

/* ------------------------------------------------------------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	/* Process-wide and not thread-safe before curl 7.84: once, and never cleaned up (other
	 * libraries in the process may use curl too). libxml2 2.9 likewise wants its global
	 * state set up once before parsers run in several threads. */
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	xmlInitParser();
}

static int fh_init(void **ctx, const fm_host *host, fm_instance *inst, const void *config)
{
	const struct fh_config *cfg = config;
	struct fh *fh;

	for (size_t i = 0; i < cfg->headers.n; i++) {
		if (!header_ok(cfg->headers.items[i])) {
			fm_err(host, inst, "option headers: entry %zu is not a single \"Name: value\" "
			       "line", i + 1);
			return -EINVAL;
		}
	}
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		fm_err(host, inst, "libcurl initialisation failed: %s",
		       curl_easy_strerror(curl_init_rc));
		return -EIO;
	}
	fh = calloc(1, sizeof(*fh));
	if (!fh)
		return -ENOMEM;
	fh->host = host;
	fh->inst = inst;
	fh->cfg = cfg;
	fh->http = fm_http_new();
	if (!fh->http) {
		free(fh);
		fm_err(host, inst, "cannot create a libcurl handle");
		return -ENOMEM;
	}
	*ctx = fh;
	return 0;
}

static void fh_fini(void *ctx)
{
	struct fh *fh = ctx;
	if (!fh)
		return;
	fm_http_free(fh->http);
	fm_http_response_free(&fh->main);
	fm_http_response_free(&fh->disc);
	fm_http_response_free(&fh->art);
	hosts_reset(fh);
	free(fh->hosts);
	free(fh->hdrs);
	free(fh);
}

static const struct fm_command fh_commands[] = {
	{"parse", FM_FETCH_HTTP_PARSE_USAGE, FM_FETCH_HTTP_PARSE_SUMMARY, fm_fetch_http_parse_run},
	{NULL, NULL, NULL, NULL},
};

static const struct fm_plugin fh_plugin = {
	.abi_major = FM_ABI_MAJOR,
	.abi_minor = FM_ABI_MINOR,
	.struct_size = sizeof(struct fm_plugin),
	.name = "http",
	.kind = "fetch",
	.version = FH_VERSION,
	.summary = "Fetch feeds and pages over HTTP(S): conditional GET, autodiscovery, full "
	           "articles",
	.options = fh_options,
	.config_size = sizeof(struct fh_config),
	.init = fh_init,
	.process = fh_process,
	.fini = fh_fini,
	.commands = fh_commands,
};

FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void);
FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void)
{
	return &fh_plugin;
}
