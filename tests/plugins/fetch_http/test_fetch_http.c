/*
 * The fetch_http stage through the harness, against tests/integration/httpd.py on loopback:
 * what a user of feedmill sees from a fetch (documents, and what the scheduler is told).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "harness.h"
#include "httpd_ctl.h"
#include "url.h"

static struct httpd d;

/* A fetch request as the scheduler sends it. options: a JSON object text or NULL. */
static json_t *request(const char *path, const char *source_type, const char *options)
{
	json_t *r = json_pack("{s:s, s:s, s:s, s:[s]}", "type", "fetch", "source", "gazette",
	                      "url", path[0] == '/' ? httpd_url(&d, path) : path, "source_tags",
	                      "local-news");
	if (source_type)
		json_object_set_new(r, "source_type", json_string(source_type));
	if (options) {
		json_t *o = json_loads(options, 0, NULL);
		if (!o) {
			fprintf(stderr, "bad options JSON in test: %s\n", options);
			abort();
		}
		json_object_set_new(r, "source_options", o);
	}
	return r;
}

struct result {
	int status;
	json_t *out;
	json_t *rep;
};

static struct result run(fmt_stage *s, json_t *req)
{
	struct result r = {0};
	r.status = fmt_stage_process(s, req, &r.out, &r.rep);
	return r;
}

static void result_free(struct result *r)
{
	json_decref(r->out);
	json_decref(r->rep);
}

static const char *rep_str(const struct result *r, const char *key)
{
	return json_string_value(json_object_get(r->rep, key));
}

static long long rep_int(const struct result *r, const char *key)
{
	json_t *v = json_object_get(r->rep, key);
	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static json_t *out_doc(const struct result *r, size_t i)
{
	return json_array_get(r->out, i);
}

static const char *doc_str(json_t *doc, const char *key)
{
	return json_string_value(json_object_get(doc, key));
}

static bool contains(const char *s, const char *needle)
{
	return s && strstr(s, needle);
}

/* Failure: an error naming the URL, nothing emitted, FM_DONE (the scheduler does backoff). */
static void check_failed(const struct result *r, const char *needle)
{
	CHECK(r->status == 1 /* FM_DONE */);
	CHECK(json_array_size(r->out) == 0);
	const char *e = rep_str(r, "error");
	CHECK(contains(e, "http://127.0.0.1:"));
	if (!contains(e, needle))
		fprintf(stderr, "  error was: %s (expected to mention '%s')\n", e ? e : "(none)",
		        needle);
	CHECK(contains(e, needle));
}

static void test_feed_and_304(fmt_stage *s)
{
	struct result r = run(s, request("/feed.rss", NULL, NULL));
	CHECK(r.status == 1);
	CHECK(json_array_size(r.out) == 3);
	CHECK(rep_int(&r, "http_status") == 200);
	CHECK(rep_int(&r, "items") == 3);
	CHECK(rep_str(&r, "error") == NULL);
	const char *etag = rep_str(&r, "etag");
	const char *lm = rep_str(&r, "last_modified");
	CHECK(etag && etag[0] == '"');
	CHECK(lm != NULL);

	json_t *a = out_doc(&r, 0);
	CHECK_STR(doc_str(a, "id"), "gazette-2024-001");
	CHECK_STR(doc_str(a, "source"), "gazette");
	CHECK_STR(doc_str(a, "title"), "Ferry timetable changes for the winter");
	CHECK_STR(doc_str(a, "url"), httpd_url(&d, "/article1.html")); /* resolved */
	CHECK_STR(doc_str(a, "published"), "2024-11-04T08:15:00Z");
	CHECK(contains(doc_str(a, "summary"), "morning ferry"));
	CHECK_STR(doc_str(json_object_get(a, "feed"), "title"), "Harbour Town Gazette");
	CHECK(doc_str(a, "fetched_at") && strlen(doc_str(a, "fetched_at")) == 20);
	CHECK_STR(json_string_value(json_array_get(json_object_get(a, "tags"), 0)), "local-news");
	CHECK(json_object_get(a, "type") == NULL);     /* not a request any more */
	CHECK(json_object_get(a, "page_html") == NULL); /* full_article is off by default */
	/* an item without guid gets its link as id */
	CHECK_STR(doc_str(out_doc(&r, 2), "id"), httpd_url(&d, "/article3.html"));

	/* the same request with the validators: 304, nothing emitted */
	json_t *req = request("/feed.rss", NULL, NULL);
	json_object_set_new(req, "etag", json_string(etag));
	json_object_set_new(req, "last_modified", json_string(lm));
	struct result r2 = run(s, req);
	CHECK(r2.status == 1);
	CHECK(json_array_size(r2.out) == 0);
	CHECK(json_is_true(json_object_get(r2.rep, "not_modified")));
	CHECK(rep_int(&r2, "http_status") == 304);
	CHECK(rep_str(&r2, "error") == NULL);
	CHECK_STR(rep_str(&r2, "etag"), etag);
	CHECK(httpd_count(&d, "GET /feed.rss 304") == 1);
	CHECK(httpd_count(&d, "GET /feed.rss 200") == 1);

	/* Last-Modified alone is enough too */
	req = request("/feed.rss", NULL, NULL);
	json_object_set_new(req, "last_modified", json_string(lm));
	struct result r3 = run(s, req);
	CHECK(json_is_true(json_object_get(r3.rep, "not_modified")));
	CHECK(json_array_size(r3.out) == 0);
	CHECK(httpd_count(&d, "GET /feed.rss 304") == 2);
	result_free(&r);
	result_free(&r2);
	result_free(&r3);
}

static void test_gzip_and_atom(fmt_stage *s)
{
	struct result r = run(s, request("/gzip/feed.rss", NULL, NULL));
	CHECK(json_array_size(r.out) == 3);
	CHECK(rep_str(&r, "error") == NULL);
	result_free(&r);

	r = run(s, request("/redirect/2/feed.atom", NULL, NULL));
	CHECK(json_array_size(r.out) == 2);
	CHECK_STR(doc_str(out_doc(&r, 0), "id"), "urn:example:valley-cycling:hill-climb-2024");
	CHECK_STR(doc_str(out_doc(&r, 0), "url"), "http://cycling.example/2024/hill-climb");
	result_free(&r);
}

static void test_redirects(fmt_stage *s)
{
	struct result r = run(s, request("/redirect/6/feed.rss", NULL, NULL));
	check_failed(&r, "redirect");
	result_free(&r);

	/* per-source override of the limit */
	r = run(s, request("/redirect/2/feed.rss", NULL, "{\"max_redirects\": 1}"));
	check_failed(&r, "too many redirects");
	result_free(&r);

	r = run(s, request("/redirect-to?url=file:///etc/passwd", NULL, NULL));
	check_failed(&r, "only http and https");
	result_free(&r);
	r = run(s, request("/redirect-to?url=ftp://127.0.0.1/feed.rss", NULL, NULL));
	check_failed(&r, "only http and https");
	result_free(&r);
}

static void test_limits(fmt_stage *s)
{
	struct result r = run(s, request("/huge", NULL, "{\"max_size\": 200000}"));
	check_failed(&r, "max_size");
	result_free(&r);
	/* a gzip bomb: 16 MiB inside, 1 MiB allowed */
	r = run(s, request("/bomb?mb=16", NULL, "{\"max_size\": 1048576}"));
	check_failed(&r, "max_size");
	result_free(&r);
	r = run(s, request("/truncated/feed.rss", NULL, NULL));
	check_failed(&r, "truncated");
	result_free(&r);

	/* the timeout option bounds a server that does not answer: it fails well before the
	 * server's 8 s (a generous margin; this checks the limit is applied, not speed) */
	time_t t0 = time(NULL);
	r = run(s, request("/slow/8/feed.rss", NULL, "{\"http_timeout\": 1000}"));
	check_failed(&r, "timed out");
	CHECK(time(NULL) - t0 < 6);
	result_free(&r);

	/* an endless trickle is cut by the low-speed limit */
	r = run(s, request("/trickle/feed.rss", NULL, "{\"low_speed_time\": 2000}"));
	check_failed(&r, "timed out");
	result_free(&r);
}

static void test_statuses(fmt_stage *s)
{
	struct result r = run(s, request("/status/429/feed.rss", NULL, NULL));
	check_failed(&r, "HTTP 429");
	CHECK(rep_int(&r, "http_status") == 429);
	CHECK(rep_int(&r, "retry_after") == 2);
	result_free(&r);

	r = run(s, request("/status/503/feed.rss?retry_after_date=120", NULL, NULL));
	check_failed(&r, "HTTP 503");
	long long ra = rep_int(&r, "retry_after");
	CHECK(ra >= 100 && ra <= 121);
	result_free(&r);

	r = run(s, request("/status/404/nothing.rss", NULL, NULL));
	check_failed(&r, "HTTP 404");
	CHECK(json_object_get(r.rep, "retry_after") == NULL);
	result_free(&r);

	r = run(s, request("/status/500/feed.rss", NULL, NULL));
	check_failed(&r, "HTTP 500");
	result_free(&r);

	char url[96];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/feed.rss", httpd_dead_port());
	r = run(s, request(url, NULL, NULL));
	check_failed(&r, "cannot connect");
	result_free(&r);

	/* credentials in the URL never reach the report */
	snprintf(url, sizeof(url), "http://reader:hunter2@127.0.0.1:%d/status/404/x", d.port);
	r = run(s, request(url, NULL, NULL));
	CHECK(contains(rep_str(&r, "error"), "***@127.0.0.1"));
	CHECK(!contains(rep_str(&r, "error"), "hunter2"));
	result_free(&r);
}

static void test_content_types(fmt_stage *s)
{
	struct result r = run(s, request("/image.png", NULL, NULL));
	check_failed(&r, "binary");
	result_free(&r);
	r = run(s, request("/notfeed.xml", "feed", NULL));
	check_failed(&r, "not a feed");
	result_free(&r);
	/* a feed served with a wrong Content-Type is still a feed */
	r = run(s, request("/type/text/plain/feed.rss", NULL, NULL));
	CHECK(json_array_size(r.out) == 3);
	result_free(&r);
}

static void test_feed_validity(fmt_stage *s)
{
	/* a valid feed without items is not an error */
	struct result r = run(s, request("/empty.rss", NULL, NULL));
	CHECK(json_array_size(r.out) == 0);
	CHECK(rep_str(&r, "error") == NULL);
	CHECK(rep_int(&r, "items") == 0);
	result_free(&r);
	/* a feed cut off before any item is */
	r = run(s, request("/broken.rss", NULL, NULL));
	check_failed(&r, "invalid feed");
	result_free(&r);
}

static void test_request_headers(fmt_stage *s)
{
	/* per-source user_agent and headers reach the server (/headers echoes them; as an
	 * html source the echo comes back as the page) */
	struct result r = run(s, request("/headers", "html",
	                                 "{\"user_agent\": \"HarbourBot/2\", "
	                                 "\"headers\": [\"X-Token: t-77\"]}"));
	CHECK(json_array_size(r.out) == 1);
	const char *echo = doc_str(out_doc(&r, 0), "page_html");
	CHECK(contains(echo, "\"user-agent\": \"HarbourBot/2\""));
	CHECK(contains(echo, "\"x-token\": \"t-77\""));
	result_free(&r);
	/* the stage default otherwise */
	r = run(s, request("/headers", "html", NULL));
	CHECK(contains(doc_str(out_doc(&r, 0), "page_html"), "\"user-agent\": \"feedmill/0.1\""));
	result_free(&r);
	/* a header smuggling a second line is refused, and its value is not repeated */
	r = run(s, request("/headers", "html",
	                   "{\"headers\": [\"X-Ok: 1\", \"X-Bad: a\\r\\nX-Injected: 1\"]}"));
	CHECK(json_array_size(r.out) == 0);
	CHECK(contains(rep_str(&r, "error"), "headers: entry 2"));
	CHECK(!contains(rep_str(&r, "error"), "X-Injected"));
	result_free(&r);
}

static void test_html(fmt_stage *s)
{
	/* a page linking to its feed: the feed's items, and feed_url told */
	struct result r = run(s, request("/page.html", "feed", NULL));
	CHECK(rep_str(&r, "error") == NULL);
	CHECK(json_array_size(r.out) == 2);
	CHECK_STR(rep_str(&r, "feed_url"), httpd_url(&d, "/feed.atom"));
	CHECK_STR(doc_str(out_doc(&r, 0), "title"), "Autumn hill climb results");
	CHECK_STR(doc_str(json_object_get(out_doc(&r, 0), "feed"), "title"), "Valley Cycling Club");
	result_free(&r);

	/* a page without a feed, source_type auto: the page itself, decoded to UTF-8 */
	r = run(s, request("/plain.htm", NULL, NULL));
	CHECK(rep_str(&r, "error") == NULL);
	CHECK(json_array_size(r.out) == 1);
	json_t *p = out_doc(&r, 0);
	CHECK_STR(doc_str(p, "id"), httpd_url(&d, "/plain.htm"));
	CHECK_STR(doc_str(p, "url"), httpd_url(&d, "/plain.htm"));
	CHECK_STR(doc_str(p, "title"), "Caf\xc3\xa9 opening hours");
	CHECK(contains(doc_str(p, "page_html"), "cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e"));
	CHECK_STR(doc_str(p, "source"), "gazette");
	CHECK(doc_str(p, "fetched_at") != NULL);
	CHECK(rep_int(&r, "items") == 1);
	result_free(&r);

	/* source_type html: the page even when it links to a feed; no discovery request */
	int atom_before = httpd_count(&d, "GET /feed.atom 200");
	r = run(s, request("/page.html", "html", NULL));
	CHECK(json_array_size(r.out) == 1);
	CHECK(contains(doc_str(out_doc(&r, 0), "page_html"), "Welcome to the Valley"));
	CHECK_STR(doc_str(out_doc(&r, 0), "title"), "Valley Cycling Club & Friends");
	CHECK(json_object_get(r.rep, "feed_url") == NULL);
	CHECK(httpd_count(&d, "GET /feed.atom 200") == atom_before);
	result_free(&r);

	/* a feed source answering with a page that has no feed */
	r = run(s, request("/plain.htm", "feed", NULL));
	check_failed(&r, "not a feed");
	result_free(&r);
}

/* The key the scheduler gets for an item id: 32-bit FNV-1a. */
static long long key_of(const char *id)
{
	uint32_t h = 2166136261u;
	for (; *id; id++) {
		h ^= (unsigned char)*id;
		h *= 16777619u;
	}
	return h;
}

static bool has_key(const struct result *r, const char *id)
{
	json_t *keys = json_object_get(r->rep, "item_keys"), *k;
	size_t i;
	json_array_foreach(keys, i, k)
		if (json_integer_value(k) == key_of(id))
			return true;
	return false;
}

/* What the scheduler is told about when to come back: the response's freshness (a 304's too),
 * the feed's own schedule, and one key per item so that it can count what is new. */
static void test_poll_hints(fmt_stage *s)
{
	struct result r = run(s, request("/cache/max-age%3D900/tides.rss", NULL, NULL));
	CHECK(rep_str(&r, "error") == NULL);
	CHECK(json_array_size(r.out) == 2);
	CHECK(rep_int(&r, "max_age") >= 890 && rep_int(&r, "max_age") <= 900);
	CHECK(rep_int(&r, "feed_ttl") == 45 * 60);
	CHECK(rep_int(&r, "update_period") == 30 * 60);
	CHECK(rep_int(&r, "update_base") == 1704067200);
	CHECK(json_array_size(json_object_get(r.rep, "item_keys")) == 2);
	CHECK(has_key(&r, "kelpie-2024-05-14-am") && has_key(&r, "kelpie-2024-05-14-pm"));
	json_t *req = request("/expires/600/tides.rss", NULL, NULL);
	json_object_set_new(req, "etag", json_string(rep_str(&r, "etag")));
	result_free(&r);

	/* a 304: freshness, no feed parsed (so no keys and no feed hints) */
	r = run(s, req);
	CHECK(json_is_true(json_object_get(r.rep, "not_modified")));
	CHECK(rep_int(&r, "max_age") >= 590 && rep_int(&r, "max_age") <= 600);
	CHECK(json_object_get(r.rep, "item_keys") == NULL);
	CHECK(json_object_get(r.rep, "feed_ttl") == NULL);
	result_free(&r);

	/* a feed that says nothing about its schedule; an empty one still has (no) keys */
	r = run(s, request("/feed.rss", NULL, NULL));
	CHECK(json_object_get(r.rep, "max_age") == NULL);
	CHECK(json_object_get(r.rep, "feed_ttl") == NULL);
	CHECK(json_object_get(r.rep, "update_period") == NULL);
	CHECK(json_array_size(json_object_get(r.rep, "item_keys")) == 3);
	CHECK(has_key(&r, "gazette-2024-001"));
	result_free(&r);
	r = run(s, request("/empty.rss", NULL, NULL));
	CHECK(json_is_array(json_object_get(r.rep, "item_keys")));
	CHECK(json_array_size(json_object_get(r.rep, "item_keys")) == 0);
	result_free(&r);
	/* a page is not a feed: no keys */
	r = run(s, request("/plain.htm", NULL, NULL));
	CHECK(json_array_size(r.out) == 1);
	CHECK(json_object_get(r.rep, "item_keys") == NULL);
	result_free(&r);
}

/* A feed found on a page, and the same feed fetched directly next time (as the scheduler
 * does): the feed's validators come with feed_url, and the page's host is still the only one
 * trusted with a private address. */
static void test_discovered_feed(fmt_stage *s)
{
	struct result r = run(s, request("/page.html", NULL, NULL));
	CHECK(rep_str(&r, "error") == NULL);
	CHECK_STR(rep_str(&r, "feed_url"), httpd_url(&d, "/feed.atom"));
	CHECK(json_array_size(json_object_get(r.rep, "item_keys")) == 2);
	const char *etag = rep_str(&r, "etag");
	CHECK(etag && etag[0] == '"');

	/* the feed's validators make the direct request conditional: 304 */
	json_t *req = request("/feed.atom", "feed", NULL);
	json_object_set_new(req, "etag", json_string(etag));
	json_object_set_new(req, "source_url", json_string(httpd_url(&d, "/page.html")));
	int before = httpd_count(&d, "GET /feed.atom 304");
	struct result r2 = run(s, req);
	CHECK(json_is_true(json_object_get(r2.rep, "not_modified")));
	CHECK(httpd_count(&d, "GET /feed.atom 304") == before + 1);
	result_free(&r2);
	result_free(&r);

	/* the page's freshness is not the feed's: a page cached for a day, its feed not */
	r = run(s, request("/cache/max-age%3D86400/linked.html", NULL, NULL));
	CHECK(rep_str(&r, "error") == NULL);
	CHECK_STR(rep_str(&r, "feed_url"), httpd_url(&d, "/feed.atom"));
	CHECK(!json_is_integer(json_object_get(r.rep, "max_age")));
	result_free(&r);
	r = run(s, request("/linked.html", NULL, NULL)); /* and the other way round */
	CHECK(!json_is_integer(json_object_get(r.rep, "max_age")));
	result_free(&r);
	/* page.html links feed.atom relatively: the feed is served under the same prefix */
	r = run(s, request("/cache/max-age%3D86400/page.html", NULL, NULL));
	CHECK(rep_int(&r, "max_age") >= 86390);
	result_free(&r);

	/* a feed on another host (localhost, a loopback address) is not trusted because it is
	 * fetched directly: only the page's host is the source's own */
	char feed[96];
	snprintf(feed, sizeof(feed), "http://localhost:%d/feed.atom", d.port);
	req = request(feed, "feed", NULL);
	json_object_set_new(req, "source_url", json_string(httpd_url(&d, "/page.html")));
	r = run(s, req);
	CHECK(json_array_size(r.out) == 0);
	CHECK(contains(rep_str(&r, "error"), "not a public address"));
	result_free(&r);
	req = request(feed, "feed", "{\"allow_private_links\": true}");
	json_object_set_new(req, "source_url", json_string(httpd_url(&d, "/page.html")));
	r = run(s, req);
	CHECK(rep_str(&r, "error") == NULL);
	CHECK(json_array_size(r.out) == 2);
	result_free(&r);
}

/* Does any string anywhere in v (a document) start, as a browser reads it, with one of the
 * schemes a link can run code or carry a page with? */
static bool has_hostile_link(json_t *v)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		/* summary, content and titles are text, not links: only whole values count */
		char scheme[16];
		if (fm_url_classify(s, scheme, sizeof(scheme), NULL) != FM_URL_OTHER)
			return false;
		return !strcmp(scheme, "javascript") || !strcmp(scheme, "vbscript") ||
		       !strcmp(scheme, "data");
	}
	const char *k;
	json_t *x;
	size_t i;
	if (json_is_object(v)) {
		json_object_foreach(v, k, x)
			if (has_hostile_link(x))
				return true;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			if (has_hostile_link(x))
				return true;
	}
	return false;
}

/* A feed's javascript:, vbscript: and data: links, however spelled, never leave fetch; an
 * https link that merely mentions javascript: in its path does. */
static void test_hostile_links(fmt_stage *s)
{
	struct result r = run(s, request("/hostile.rss", NULL, NULL));
	CHECK(rep_str(&r, "error") == NULL);
	CHECK(json_array_size(r.out) == 5);
	for (size_t i = 0; i < json_array_size(r.out); i++) {
		json_t *doc = out_doc(&r, i);
		CHECK(!has_hostile_link(doc));
		const char *url = doc_str(doc, "url");
		CHECK(url == NULL || fm_url_is_safe_http(url));
		/* the feed's own link was javascript: too */
		CHECK(json_object_get(json_object_get(doc, "feed"), "link") == NULL ||
		      json_is_null(json_object_get(json_object_get(doc, "feed"), "link")));
		CHECK_STR(doc_str(json_object_get(doc, "feed"), "title"), "Mill Lane Notices");
	}
	json_t *a = out_doc(&r, 0);
	CHECK_STR(doc_str(a, "id"), "mill-lane-001");
	CHECK(json_object_get(a, "url") == NULL);      /* &#106;avascript: */
	CHECK(json_object_get(a, "comments") == NULL); /* "  VBScript:" */
	json_t *encl = json_object_get(a, "enclosures"); /* data:text/html went, the mp3 stayed */
	CHECK(json_array_size(encl) == 1);
	CHECK_STR(doc_str(json_array_get(encl, 0), "url"),
	          "https://audio.mill-lane.example/notice-001.mp3");
	CHECK_STR(doc_str(a, "title"), "Bin collection moves to Thursday");

	/* no guid: the id is not the javascript: link but one made from the item */
	json_t *b = out_doc(&r, 1);
	CHECK(json_object_get(b, "url") == NULL);
	CHECK(contains(doc_str(b, "id"), "/hostile.rss#item-"));

	/* a hostile xml:base makes the relative link javascript: too */
	CHECK(json_object_get(out_doc(&r, 2), "url") == NULL);

	json_t *c = out_doc(&r, 3);
	CHECK_STR(doc_str(c, "url"), "https://mill-lane.example/notes/javascript:void/%6aavascript");
	CHECK_STR(doc_str(c, "comments"), "https://mill-lane.example/notes/4#comments");

	/* "java<TAB>script:" has no scheme to the feed parser: a link relative to the feed, which
	 * is what a browser makes of it too */
	CHECK_STR(doc_str(out_doc(&r, 4), "url"), httpd_url(&d, "/java\tscript:alert(3)"));
	result_free(&r);

	r = run(s, request("/hostile.atom", NULL, NULL));
	CHECK(rep_str(&r, "error") == NULL);
	CHECK(json_array_size(r.out) == 1);
	a = out_doc(&r, 0);
	CHECK(!has_hostile_link(a));
	CHECK(json_object_get(a, "url") == NULL);
	CHECK(json_object_get(a, "comments") == NULL);
	CHECK(json_array_size(json_object_get(a, "enclosures")) == 0);
	json_t *authors = json_object_get(a, "authors");
	CHECK(json_array_size(authors) == 2);
	CHECK_STR(doc_str(json_array_get(authors, 0), "name"), "Site Office");
	CHECK(json_object_get(json_array_get(authors, 0), "uri") == NULL);
	CHECK_STR(doc_str(json_array_get(authors, 1), "uri"), "https://quarry-road.example/clerk");
	CHECK_STR(doc_str(a, "id"), "urn:example:quarry-road:blasting-october");
	result_free(&r);

	/* an article passing through the stage (`feedmill pipe`) is held to the same rule */
	json_t *doc = json_pack("{s:s, s:s, s:s}", "id", "passing-1", "url",
	                        "\x01javascript:alert(1)", "comments", "https://x.example/c");
	r = run(s, doc);
	CHECK(r.status == 0 /* FM_PASS */);
	CHECK(json_array_size(r.out) == 1);
	CHECK(json_object_get(out_doc(&r, 0), "url") == NULL);
	CHECK_STR(doc_str(out_doc(&r, 0), "comments"), "https://x.example/c");
	result_free(&r);
}

static void test_full_article(fmt_stage *s)
{
	struct result r = run(s, request("/feed.rss", NULL,
	                                 "{\"full_article\": true, \"full_article_delay\": 0}"));
	CHECK(json_array_size(r.out) == 3);
	json_t *a1 = out_doc(&r, 0), *a2 = out_doc(&r, 1), *a3 = out_doc(&r, 2);
	CHECK(contains(doc_str(a1, "page_html"), "half past seven"));
	CHECK(contains(doc_str(a2, "page_html"), "hundred and twelve steps"));
	CHECK(contains(doc_str(a1, "summary"), "morning ferry")); /* the summary stays */
	/* the third item carries its full content: its page is not fetched */
	CHECK(json_object_get(a3, "page_html") == NULL);
	CHECK(httpd_count_prefix(&d, "GET /article3.html") == 0);
	CHECK(httpd_count(&d, "GET /article1.html 200") == 1);
	result_free(&r);

	/* politeness: at most one page per host per fetch */
	r = run(s, request("/feed.rss", NULL,
	                   "{\"full_article\": true, \"full_article_per_host\": 1, "
	                   "\"full_article_delay\": 0}"));
	CHECK(json_array_size(r.out) == 3);
	CHECK(json_object_get(out_doc(&r, 0), "page_html") != NULL);
	CHECK(json_object_get(out_doc(&r, 1), "page_html") == NULL);
	CHECK(httpd_count(&d, "GET /article2.html 200") == 1);
	result_free(&r);
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_full_article_politeness(fmt_stage *s)
{
	/* a page that is gone: the item keeps its summary, the next item still gets its page;
	 * and the two requests to the same host are spaced by full_article_delay (a lower
	 * bound: sleeping can only make it longer) */
	double t0 = mono_s();
	struct result r = run(s, request("/partial.rss", NULL,
	                                 "{\"full_article\": true, \"full_article_delay\": 700}"));
	double took = mono_s() - t0;
	CHECK(rep_str(&r, "error") == NULL);
	CHECK(json_array_size(r.out) == 2);
	json_t *gone = out_doc(&r, 0), *ok = out_doc(&r, 1);
	CHECK(json_object_get(gone, "page_html") == NULL);
	CHECK(contains(doc_str(gone, "summary"), "new date"));
	CHECK(contains(doc_str(ok, "page_html"), "half past seven"));
	CHECK(httpd_count(&d, "GET /removed-story.html 404") == 1);
	CHECK(took >= 0.7);
	result_free(&r);

	/* full_article_max bounds the pages of one fetch */
	r = run(s, request("/partial.rss", NULL,
	                   "{\"full_article\": true, \"full_article_delay\": 0, "
	                   "\"full_article_max\": 1}"));
	CHECK(json_array_size(r.out) == 2);
	CHECK(json_object_get(out_doc(&r, 1), "page_html") == NULL);
	CHECK(httpd_count(&d, "GET /removed-story.html 404") == 2);
	result_free(&r);
}

/* robots.txt for full-article pages: a site of its own (tests/data/http-robots), whose
 * robots.txt gives feedmill a group of its own (so "*"'s Disallow does not apply to it),
 * disallows /members/ but for /members/free-*, and asks for a Crawl-delay of 1 s. */
static void test_full_article_robots(fmt_stage *s)
{
	struct httpd site;
	char root[512];
	const char *data = getenv("FM_TEST_DATA_DIR");
	snprintf(root, sizeof(root), "%s/http-robots", data ? data : "tests/data");
	if (httpd_start(&site, root) != 0) {
		CHECK(!"the robots site's server starts");
		return;
	}
	const char *opts = "{\"full_article\": true, \"full_article_delay\": 0}";
	json_t *req = request(httpd_url(&site, "/feed.rss"), NULL, opts);
	double t0 = mono_s();
	struct result r = run(s, req);
	double took = mono_s() - t0;
	CHECK(rep_str(&r, "error") == NULL);
	CHECK(json_array_size(r.out) == 4);
	CHECK(contains(doc_str(out_doc(&r, 0), "page_html"), "standpipe by the gate"));
	CHECK(contains(doc_str(out_doc(&r, 1), "page_html"), "shed roof")); /* "*" is not ours */
	CHECK(json_object_get(out_doc(&r, 2), "page_html") == NULL);        /* disallowed */
	CHECK(contains(doc_str(out_doc(&r, 2), "summary"), "Forty varieties"));
	CHECK(contains(doc_str(out_doc(&r, 3), "page_html"), "four canes")); /* the longer Allow */
	CHECK(httpd_count_prefix(&site, "GET /members/seed-catalogue.html") == 0);
	CHECK(httpd_count(&site, "GET /robots.txt 200") == 1);
	/* three pages, one a second after the other at the least (Crawl-delay: 1) */
	CHECK(took >= 2.0);
	result_free(&r);

	/* the next fetch asks the cache, not the site */
	r = run(s, request(httpd_url(&site, "/feed.rss"), NULL, opts));
	CHECK(json_object_get(out_doc(&r, 2), "page_html") == NULL);
	CHECK(httpd_count(&site, "GET /robots.txt 200") == 1);
	result_free(&r);

	/* robots = no for a source: every page is fetched */
	r = run(s, request(httpd_url(&site, "/feed.rss"), NULL,
	                   "{\"full_article\": true, \"full_article_delay\": 0, \"robots\": false}"));
	CHECK(contains(doc_str(out_doc(&r, 2), "page_html"), "six packets"));
	CHECK(httpd_count(&site, "GET /members/seed-catalogue.html 200") == 1);
	result_free(&r);
	httpd_stop(&site);
}

static void test_passthrough(fmt_stage *s)
{
	json_t *out = NULL;
	int st = fmt_stage_process_str(s, "{\"id\":\"x\",\"text\":\"an article\"}", &out, NULL);
	CHECK(st == 0 /* FM_PASS */);
	CHECK(json_array_size(out) == 1);
	CHECK_STR(doc_str(json_array_get(out, 0), "text"), "an article");
	json_decref(out);
}

int main(void)
{
	static const char *const settings[] = {"low_speed_limit=100", NULL};
	fmt_stage *s = fmt_stage_open("fetch_http", settings, NULL);
	if (!s)
		return 1;
	if (httpd_start(&d, httpd_fixtures()) != 0) {
		fmt_stage_close(s);
		return 1;
	}
	test_passthrough(s);
	test_feed_and_304(s);
	test_gzip_and_atom(s);
	test_redirects(s);
	test_limits(s);
	test_statuses(s);
	test_content_types(s);
	test_feed_validity(s);
	test_request_headers(s);
	test_html(s);
	test_poll_hints(s);
	test_discovered_feed(s);
	test_hostile_links(s);
	test_full_article(s);
	test_full_article_politeness(s);
	test_full_article_robots(s);
	fmt_stage_close(s);
	httpd_stop(&d);
	return fmt_done("fetch_http");
}
