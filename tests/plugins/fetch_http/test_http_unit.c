/*
 * Unit tests of the fetch_http HTTP side, compiled from its sources: the libcurl client against
 * the loopback test server, autodiscovery, HTML charset decoding, Retry-After, how long a
 * response stays fresh by its caching headers, URL redaction, the public-address guard.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "check.h"
#include "discover.h"
#include "http.h"
#include "http_cache.h"
#include "http_charset.h"
#include "httpd_ctl.h"


static void test_redact(void)
{
	char *s = fm_http_redact("https://alice:s3cret@news.example/feed?x=1");
	CHECK_STR(s, "https://***@news.example/feed?x=1");
	free(s);
	s = fm_http_redact("http://news.example/a@b");
	CHECK_STR(s, "http://news.example/a@b"); /* '@' in the path is not userinfo */
	free(s);
	s = fm_http_redact("http://tok@en:pw@h.example/");
	CHECK_STR(s, "http://***@h.example/");
	free(s);
}

static void test_retry_after(void)
{
	CHECK(fm_http_retry_after("120", 1000) == 120);
	CHECK(fm_http_retry_after(" 7 ", 1000) == 7);
	/* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 */
	CHECK(fm_http_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 90) == 90);
	CHECK(fm_http_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 90) == 0);
	CHECK(fm_http_retry_after("soon", 1000) == -1);
	CHECK(fm_http_retry_after(NULL, 1000) == -1);
	CHECK(fm_http_retry_after("99999999999999999999", 0) == 30 * 86400);
}

/* Header lines as the header callback hands them over, raw ("Name: value\r\n"). */
static struct fm_http_cache cache_of(const char *const *lines)
{
	struct fm_http_cache c = {0};
	for (size_t i = 0; lines[i]; i++) {
		const char *colon = strchr(lines[i], ':');
		size_t klen = (size_t)(colon - lines[i]);
		fm_http_cache_header(&c, lines[i], klen, colon + 1, strlen(colon + 1));
	}
	return c;
}

static int64_t fresh(int64_t now, const char *const *lines)
{
	struct fm_http_cache c = cache_of(lines);
	return fm_http_fresh_for(&c, now);
}

/* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 */
#define T94 784111777LL

static void test_cache_headers(void)
{
	/* nothing said: the scheduler is not told anything */
	CHECK(fresh(T94, (const char *const[]){"Content-Type: text/xml\r\n", NULL}) == -1);
	CHECK(fresh(T94, (const char *const[]){"Cache-Control: public\r\n", NULL}) == -1);
	CHECK(fresh(T94, (const char *const[]){"Cache-Control: max-age=600\r\n", NULL}) == 600);
	/* any case, spaces, quotes, other directives around it, a second line */
	CHECK(fresh(T94, (const char *const[]){"cache-control:  Public ,MAX-AGE = \"300\" \r\n",
	                                       NULL}) == 300);
	CHECK(fresh(T94, (const char *const[]){"Cache-Control: private\r\n",
	                                       "Cache-Control: max-age=90, must-revalidate\r\n",
	                                       NULL}) == 90);
	/* a quoted argument with a comma does not end the list early */
	CHECK(fresh(T94, (const char *const[]){"Cache-Control: community=\"a, max-age=5\", "
	                                       "max-age=70\r\n", NULL}) == 70);
	/* s-maxage is for shared caches (a CDN purged on publication): not a reason to wait */
	CHECK(fresh(T94, (const char *const[]){"Cache-Control: s-maxage=86400, max-age=60\r\n",
	                                       NULL}) == 60);
	CHECK(fresh(T94, (const char *const[]){"Cache-Control: s-maxage=86400\r\n", NULL}) == -1);
	/* revalidate every time: no freshness at all, whatever else is said */
	CHECK(fresh(T94, (const char *const[]){"Cache-Control: no-cache, max-age=600\r\n",
	                                       NULL}) == 0);
	CHECK(fresh(T94, (const char *const[]){"Cache-Control: no-store\r\n", NULL}) == 0);
	/* ... but no-cache naming a header field concerns that field only */
	CHECK(fresh(T94, (const char *const[]){"Cache-Control: no-cache=\"Set-Cookie\", "
	                                       "max-age=120\r\n", NULL}) == 120);
	/* the first max-age counts; an invalid one makes the response stale */
	CHECK(fresh(T94, (const char *const[]){"Cache-Control: max-age=30, max-age=9000\r\n",
	                                       NULL}) == 30);
	CHECK(fresh(T94, (const char *const[]){"Cache-Control: max-age=soon\r\n", NULL}) == 0);
	/* Expires counts from the server's Date, so a skewed clock here does not matter... */
	CHECK(fresh(T94, (const char *const[]){"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n",
	                                       "Expires: Sun, 06 Nov 1994 09:04:37 GMT\r\n",
	                                       NULL}) == 900);
	/* ... less the time since that Date, and never below zero */
	CHECK(fresh(T94 + 100, (const char *const[]){"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n",
	                                             "Expires: Sun, 06 Nov 1994 09:04:37 GMT\r\n",
	                                             NULL}) == 800);
	CHECK(fresh(T94 + 5000, (const char *const[]){"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n",
	                                              "Expires: Sun, 06 Nov 1994 09:04:37 GMT\r\n",
	                                              NULL}) == 0);
	/* without Date, from our clock */
	CHECK(fresh(T94 - 60, (const char *const[]){"Expires: Sun, 06 Nov 1994 08:49:37 GMT\r\n",
	                                            NULL}) == 60);
	/* max-age beats Expires; "Expires: 0" is a date in the past */
	CHECK(fresh(T94, (const char *const[]){"Expires: Sun, 06 Nov 1994 09:49:37 GMT\r\n",
	                                       "Cache-Control: max-age=45\r\n", NULL}) == 45);
	CHECK(fresh(T94, (const char *const[]){"Expires: 0\r\n", NULL}) == 0);
	/* a cache on the way already held it for Age seconds */
	CHECK(fresh(T94, (const char *const[]){"Cache-Control: max-age=600\r\n", "Age: 250\r\n",
	                                       NULL}) == 350);
	/* absurd values are bounded (a year), not overflowed */
	CHECK(fresh(T94, (const char *const[]){"Cache-Control: max-age=99999999999999999999\r\n",
	                                       NULL}) == 365LL * 86400);
}

/* Whether an address literal passes the guard on links found in fetched content. */
static bool public_addr(const char *text)
{
	struct sockaddr_in v4 = {.sin_family = AF_INET};
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
	if (inet_pton(AF_INET, text, &v4.sin_addr) == 1)
		return fm_http_public_address((struct sockaddr *)&v4);
	if (inet_pton(AF_INET6, text, &v6.sin6_addr) == 1)
		return fm_http_public_address((struct sockaddr *)&v6);
	fprintf(stderr, "not an address: %s\n", text);
	fmt_failures++;
	return false;
}

/* Every IPv6 form that embeds an IPv4 address is judged as that IPv4 address: a public one
 * passes, a private one is refused, whichever form carries it. */
static void test_public_address(void)
{
	static const struct {
		const char *addr;
		bool public;
	} cases[] = {
		{"8.8.8.8", true},
		{"127.0.0.2", false},
		{"10.1.2.3", false},
		{"169.254.169.254", false},
		/* IPv4-mapped ::ffff:a.b.c.d */
		{"::ffff:8.8.8.8", true},
		{"::ffff:127.0.0.2", false},
		{"::ffff:169.254.169.254", false},
		/* IPv4-compatible ::a.b.c.d (and :: and ::1 with them) */
		{"::8.8.8.8", true},
		{"::127.0.0.2", false},
		{"::172.16.0.9", false},
		{"::1", false},
		{"::", false},
		/* IPv4-translated ::ffff:0:a.b.c.d */
		{"::ffff:0:8.8.8.8", true},
		{"::ffff:0:192.168.1.1", false},
		/* NAT64 well-known prefix 64:ff9b::/96 */
		{"64:ff9b::808:808", true},
		{"64:ff9b::7f00:2", false},
		{"64:ff9b::a9fe:a9fe", false},
		/* local-use NAT64 64:ff9b:1::/48: the embedding is the operator's, refused */
		{"64:ff9b:1::808:808", false},
		/* 6to4 2002:AABB:CCDD::/48 */
		{"2002:808:808::1", true},
		{"2002:7f00:2::1", false},
		{"2002:c0a8:101:5::1", false},
		/* Teredo 2001:0::/32: server 65.54.227.120, client last 32 bits inverted */
		{"2001:0:4136:e378:8000:63bf:f7f7:f7f7", true},   /* client 8.8.8.8 */
		{"2001:0:4136:e378:8000:63bf:80ff:fffd", false},  /* client 127.0.0.2 */
		{"2001:0:4136:e378:8000:63bf:f5ff:fffe", false},  /* client 10.0.0.1 */
		{"2001:0:a00:1:8000:63bf:f7f7:f7f7", false},      /* server 10.0.0.1 */
		/* ISATAP interface identifiers, behind a prefix that must pass too */
		{"2001:4860:0:1:0:5efe:808:808", true},
		{"2001:4860:0:1:200:5efe:a00:1", false},
		{"2001:4860:0:1:0:5efe:c0a8:101", false},
		{"fc00::5efe:808:808", false},
		/* IPv6 without IPv4 inside */
		{"2606:4700::1111", true},
		{"fe80::1", false},
		{"fd12:3456::1", false},
		{"ff02::1", false},
		{"2001:db8::1", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (public_addr(cases[i].addr) != cases[i].public) {
			fprintf(stderr, "%s: expected %s\n", cases[i].addr,
			        cases[i].public ? "public" : "refused");
			fmt_failures++;
		}
	}
}

static void test_charset(void)
{
	struct fm_utf8 u;
	const char latin[] = "<html><head><meta charset=\"ISO-8859-1\"></head><p>caf\xe9</p>";
	CHECK(fm_http_to_utf8(latin, sizeof(latin) - 1, NULL, &u) == 0);
	CHECK(u.owned && strstr(u.s, "caf\xc3\xa9"));
	free(u.owned);

	/* the HTTP charset beats the <meta> */
	const char koi[] = "<meta charset=utf-8><p>\xf0\xd2\xc9\xd7\xc5\xd4</p>";
	CHECK(fm_http_to_utf8(koi, sizeof(koi) - 1, "KOI8-R", &u) == 0);
	CHECK(u.s && strstr(u.s, "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82")); /* Привет */
	free(u.owned);

	/* valid UTF-8 without declaration: used as is, no copy */
	const char plain[] = "<p>na\xc3\xafve</p>";
	CHECK(fm_http_to_utf8(plain, sizeof(plain) - 1, NULL, &u) == 0);
	CHECK(u.owned == NULL && u.s == plain && u.len == sizeof(plain) - 1);

	/* undeclared and not UTF-8: windows-1252 (0x93/0x94 are curly quotes there) */
	const char w[] = "<p>\x93quoted\x94</p>";
	CHECK(fm_http_to_utf8(w, sizeof(w) - 1, NULL, &u) == 0);
	CHECK(u.s && strstr(u.s, "\xe2\x80\x9cquoted\xe2\x80\x9d"));
	free(u.owned);

	/* undeclared UTF-8 with a few damaged bytes: not re-read as windows-1252 (which would make
	 * "Café" "CafÃ©"), each ill-formed sequence one U+FFFD, every valid character kept */
	const char damaged[] = "<p>Caf\xc3\xa9 in Z\xc3\xbcrich, na\xc3\xafve \xc3\xa9t\xc3\xa9 "
	                       "\xe9t\xe9 \xe2\x82!</p>";
	CHECK(fm_http_to_utf8(damaged, sizeof(damaged) - 1, NULL, &u) == 0);
	CHECK_STR(u.s, "<p>Caf\xc3\xa9 in Z\xc3\xbcrich, na\xc3\xafve \xc3\xa9t\xc3\xa9 "
	               "\xef\xbf\xbdt\xef\xbf\xbd \xef\xbf\xbd!</p>");
	CHECK_STR(u.charset, "UTF-8");
	free(u.owned);

	/* declared UTF-8 (HTTP): a cut-off sequence is one U+FFFD, an overlong two */
	const char cut[] = "<p>4\xe2\x82 / \xc0\xaf \xe2\x82\xac</p>";
	CHECK(fm_http_to_utf8(cut, sizeof(cut) - 1, "utf-8", &u) == 0);
	CHECK_STR(u.s, "<p>4\xef\xbf\xbd / \xef\xbf\xbd\xef\xbf\xbd \xe2\x82\xac</p>");
	free(u.owned);

	/* an unknown label on bytes that are clearly not UTF-8: windows-1252 */
	const char legacy[] = "<p>caf\xe9 cr\xe8me</p>";
	CHECK(fm_http_to_utf8(legacy, sizeof(legacy) - 1, "x-no-such-charset", &u) == 0);
	CHECK_STR(u.s, "<p>caf\xc3\xa9 cr\xc3\xa8me</p>");
	free(u.owned);

	/* declared UTF-8 but broken, with a NUL: repaired, NUL gone, valid for JSON */
	const char bad[] = "<p>a\xff" "b\0c</p>";
	CHECK(fm_http_to_utf8(bad, sizeof(bad) - 1, "utf-8", &u) == 0);
	CHECK(u.s && memchr(u.s, '\0', u.len) == NULL);
	json_t *js = json_stringn(u.s, u.len);
	CHECK(js != NULL);
	json_decref(js);
	free(u.owned);

	/* UTF-16 with a BOM */
	const char u16[] = "\xff\xfe<\0p\0>\0\xe9\0";
	CHECK(fm_http_to_utf8(u16, sizeof(u16) - 1, NULL, &u) == 0);
	CHECK(u.s && u.len == 5 && memcmp(u.s, "<p>\xc3\xa9", 5) == 0);
	free(u.owned);

	/* an unknown label: read as UTF-8 */
	CHECK(fm_http_to_utf8(plain, sizeof(plain) - 1, "x-no-such-charset", &u) == 0);
	CHECK(u.s && strstr(u.s, "na\xc3\xafve"));
	free(u.owned);
}

static void test_discover(void)
{
	struct fm_html_info info;
	const char *page =
		"<!doctype html><html><head><title>  News &amp;\n  Views </title>"
		"<link rel=stylesheet href=s.css>"
		"<link rel=\"Alternate\" type=\"text/html\" href=\"/mobile\">"
		"<link rel=\"alternate\" type=\"application/json\" href=\"/wp-json/\">"
		"<link rel=\"alternate home\" type=\"Application/RSS+XML; charset=utf-8\" "
		"href=\"../feeds/main.xml\">"
		"<link rel=alternate type=application/atom+xml href=/second.atom>"
		"</head><body><link rel=alternate type=application/atom+xml href=/late.atom>"
		"</body></html>";
	CHECK(fm_html_scan(page, strlen(page), "http://site.example/a/b/page.html", &info) == 0);
	CHECK_STR(info.feed_url, "http://site.example/a/feeds/main.xml");
	CHECK_STR(info.title, "News & Views");
	fm_html_info_free(&info);

	const char *based = "<html><head><base href=\"https://cdn.example/x/\">"
	                    "<link rel=alternate type=application/feed+json href=feed.json>"
	                    "</head></html>";
	CHECK(fm_html_scan(based, strlen(based), "http://site.example/", &info) == 0);
	CHECK_STR(info.feed_url, "https://cdn.example/x/feed.json");
	CHECK(info.title == NULL);
	fm_html_info_free(&info);

	/* only http(s) feeds; links in the body are not looked at */
	const char *none = "<html><head><link rel=alternate type=application/rss+xml "
	                   "href=\"javascript:alert(1)\"></head><body><p>x</p>"
	                   "<link rel=alternate type=application/rss+xml href=/f.rss></body>";
	CHECK(fm_html_scan(none, strlen(none), "http://site.example/", &info) == 0);
	CHECK(info.feed_url == NULL);
	fm_html_info_free(&info);

	/* the text is UTF-8 already: a <meta> naming another charset must not re-decode it */
	const char *latin = "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; "
	                    "charset=iso-8859-1\"><title>Caf\xc3\xa9</title></head></html>";
	CHECK(fm_html_scan(latin, strlen(latin), "http://site.example/", &info) == 0);
	CHECK_STR(info.title, "Caf\xc3\xa9");
	fm_html_info_free(&info);

	/* garbage does not crash and finds nothing */
	const char junk[] = "<<<>>><link rel=alternate <title><title>\x01\x02</ti";
	CHECK(fm_html_scan(junk, sizeof(junk) - 1, "http://site.example/", &info) == 0);
	CHECK(info.feed_url == NULL);
	fm_html_info_free(&info);
}

static struct fm_http_limits lim(void)
{
	return (struct fm_http_limits){
		.timeout_ms = 10000,
		.connect_timeout_ms = 5000,
		.max_size = 1 << 20,
		.max_redirects = 3,
		.low_speed_limit = 10,
		.low_speed_time_ms = 3000,
		.user_agent = "feedmill-test/1",
	};
}

static void test_client(struct httpd *d)
{
	struct fm_http *h = fm_http_new();
	struct fm_http_response r = {0};
	struct fm_http_limits l = lim();
	const char *hdrs[] = {"X-Api-Key: k-123", "Accept-Language: nl"};
	l.headers = hdrs;
	l.n_headers = 2;

	/* what we send: user agent, extra headers, validators, Accept, gzip offered */
	struct fm_http_request rq = {.url = httpd_url(d, "/headers"), .etag = "\"abc\"",
	                             .last_modified = "Sun, 06 Nov 1994 08:49:37 GMT",
	                             .accept = "application/rss+xml"};
	CHECK(fm_http_get(h, &l, &rq, &r) == 0);
	CHECK(r.status == 200);
	CHECK_STR(r.content_type, "application/json");
	json_t *j = json_loads(fm_buf_str(&r.body), 0, NULL);
	CHECK(j != NULL);
	CHECK_STR(json_string_value(json_object_get(j, "user-agent")), "feedmill-test/1");
	CHECK_STR(json_string_value(json_object_get(j, "x-api-key")), "k-123");
	CHECK_STR(json_string_value(json_object_get(j, "if-none-match")), "\"abc\"");
	CHECK_STR(json_string_value(json_object_get(j, "if-modified-since")),
	          "Sun, 06 Nov 1994 08:49:37 GMT");
	CHECK_STR(json_string_value(json_object_get(j, "accept")), "application/rss+xml");
	const char *ae = json_string_value(json_object_get(j, "accept-encoding"));
	CHECK(ae && strstr(ae, "gzip"));
	json_decref(j);

	/* configured headers follow a redirect on the same origin, not one to another host */
	fm_http_response_reset(&r);
	rq = (struct fm_http_request){.url = httpd_url(d, "/redirect/1/headers")};
	CHECK(fm_http_get(h, &l, &rq, &r) == 0);
	CHECK(strstr(fm_buf_str(&r.body), "k-123") != NULL);
	char away[200];
	snprintf(away, sizeof(away), "/redirect-to?url=http://localhost:%d/headers", d->port);
	fm_http_response_reset(&r);
	rq = (struct fm_http_request){.url = httpd_url(d, away)};
	CHECK(fm_http_get(h, &l, &rq, &r) == 0);
	CHECK(r.status == 200 && r.redirects == 1);
	CHECK(strstr(fm_buf_str(&r.body), "feedmill-test/1") != NULL);
	CHECK(strstr(fm_buf_str(&r.body), "k-123") == NULL);

	/* the connection is kept between requests to the same server */
	fm_http_response_reset(&r);
	rq = (struct fm_http_request){.url = httpd_url(d, "/feed.atom")};
	CHECK(fm_http_get(h, &l, &rq, &r) == 0);
	fm_http_response_reset(&r);
	CHECK(fm_http_get(h, &l, &rq, &r) == 0);
	CHECK(r.status == 200 && r.connects == 0);

	/* validators and charset of a file */
	fm_http_response_reset(&r);
	rq = (struct fm_http_request){.url = httpd_url(d, "/type/text/html%3B%20charset%3D%22KOI8-R%22/page.html")};
	CHECK(fm_http_get(h, &l, &rq, &r) == 0);
	CHECK(r.status == 200);
	CHECK_STR(r.content_type, "text/html");
	CHECK_STR(r.charset, "KOI8-R");
	CHECK(r.etag && r.etag[0] == '"');
	CHECK(r.last_modified != NULL);

	/* conditional GET answered 304 */
	char *etag = strdup(r.etag);
	fm_http_response_reset(&r);
	rq = (struct fm_http_request){.url = httpd_url(d, "/page.html"), .etag = etag};
	CHECK(fm_http_get(h, &l, &rq, &r) == 0);
	CHECK(r.status == 304);
	CHECK(r.body.len == 0);
	free(etag);
	CHECK(httpd_count(d, "GET /page.html 304") == 1);

	/* redirects: followed up to the limit, final URL known */
	fm_http_response_reset(&r);
	rq = (struct fm_http_request){.url = httpd_url(d, "/redirect/3/feed.rss")};
	CHECK(fm_http_get(h, &l, &rq, &r) == 0);
	CHECK(r.status == 200 && r.redirects == 3);
	CHECK_STR(r.url, httpd_url(d, "/feed.rss"));
	fm_http_response_reset(&r);
	rq = (struct fm_http_request){.url = httpd_url(d, "/redirect/4/feed.rss")};
	CHECK(fm_http_get(h, &l, &rq, &r) == -ELOOP);
	CHECK(strstr(r.error, "too many redirects") != NULL);
	CHECK(httpd_count(d, "GET /feed.rss 200") == 1); /* the 4th hop was not taken */

	/* schemes other than http(s): refused at the start and on redirect */
	static const char *const bad[] = {"/redirect-to?url=file:///etc/passwd",
	                                  "/redirect-to?url=ftp://127.0.0.1/x",
	                                  "/redirect-to?url=gopher://127.0.0.1/x&code=307"};
	for (size_t i = 0; i < 3; i++) {
		fm_http_response_reset(&r);
		rq = (struct fm_http_request){.url = httpd_url(d, bad[i])};
		CHECK(fm_http_get(h, &l, &rq, &r) == -EPROTONOSUPPORT);
		CHECK(strstr(r.error, "only http and https") != NULL);
		CHECK(r.body.len == 0 || strstr(fm_buf_str(&r.body), "root:") == NULL);
	}
	fm_http_response_reset(&r);
	rq = (struct fm_http_request){.url = "file:///etc/passwd"};
	CHECK(fm_http_get(h, &l, &rq, &r) == -EPROTONOSUPPORT);

	/* size limits: announced, endless, and decompressed */
	l.max_size = 64 * 1024;
	static const char *const big[] = {"/huge", "/huge?declare=1", "/bomb?mb=16"};
	for (size_t i = 0; i < 3; i++) {
		fm_http_response_reset(&r);
		rq = (struct fm_http_request){.url = httpd_url(d, big[i])};
		CHECK(fm_http_get(h, &l, &rq, &r) == -EFBIG);
		CHECK(strstr(r.error, "max_size") != NULL);
		CHECK(r.body.len <= l.max_size);
	}
	l.max_size = 1 << 20;

	/* gzip is decoded */
	fm_http_response_reset(&r);
	rq = (struct fm_http_request){.url = httpd_url(d, "/gzip/feed.rss")};
	CHECK(fm_http_get(h, &l, &rq, &r) == 0);
	CHECK(r.status == 200 && strstr(fm_buf_str(&r.body), "Harbour Town Gazette"));

	/* truncated body */
	fm_http_response_reset(&r);
	rq = (struct fm_http_request){.url = httpd_url(d, "/truncated/feed.rss")};
	CHECK(fm_http_get(h, &l, &rq, &r) == -EIO);
	CHECK(strstr(r.error, "truncated") != NULL);

	/* timeouts: a slow answer, and a body that trickles */
	l.timeout_ms = 1000;
	fm_http_response_reset(&r);
	rq = (struct fm_http_request){.url = httpd_url(d, "/slow/6/feed.rss")};
	CHECK(fm_http_get(h, &l, &rq, &r) == -ETIMEDOUT);
	CHECK(strstr(r.error, "timed out") != NULL);
	l.timeout_ms = 60000;
	l.low_speed_limit = 100;
	l.low_speed_time_ms = 2000;
	fm_http_response_reset(&r);
	rq = (struct fm_http_request){.url = httpd_url(d, "/trickle/feed.rss")};
	CHECK(fm_http_get(h, &l, &rq, &r) == -ETIMEDOUT);
	CHECK(strstr(r.error, "slow") != NULL);

	/* nobody listening */
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/feed.rss", httpd_dead_port());
	fm_http_response_reset(&r);
	rq = (struct fm_http_request){.url = url};
	CHECK(fm_http_get(h, &l, &rq, &r) == -ECONNREFUSED);
	CHECK(strstr(r.error, "cannot connect") != NULL);

	/* statuses come back as responses, with Retry-After */
	fm_http_response_reset(&r);
	rq = (struct fm_http_request){.url = httpd_url(d, "/status/429/feed.rss")};
	CHECK(fm_http_get(h, &l, &rq, &r) == 0);
	CHECK(r.status == 429);
	CHECK_STR(r.retry_after, "2");

	/* a host that is not the source's own is refused when connecting, before any socket is
	 * opened, also when its literal hides the loopback server in an IPv4-compatible or
	 * NAT64 address (connecting would otherwise be attempted) */
	static const char *const hidden[] = {"[::ffff:127.0.0.1]", "[::127.0.0.1]",
	                                     "[64:ff9b::7f00:1]"};
	for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
		char hurl[128];
		snprintf(hurl, sizeof(hurl), "http://%s:%d/feed.rss", hidden[i], d->port);
		rq = (struct fm_http_request){.url = hurl, .trusted_url = "https://news.example/"};
		fm_http_response_reset(&r);
		CHECK(fm_http_get(h, &l, &rq, &r) == -EACCES);
	}

	/* the caching headers of the answer, a 304 included, are read as they arrive */
	fm_http_response_reset(&r);
	rq = (struct fm_http_request){.url = httpd_url(d, "/cache/public%2C%20max-age%3D600/feed.rss")};
	CHECK(fm_http_get(h, &l, &rq, &r) == 0);
	int64_t now = (int64_t)time(NULL);
	CHECK(r.status == 200);
	int64_t f = fm_http_fresh_for(&r.cache, now);
	CHECK(f >= 590 && f <= 600);
	char *tag = r.etag ? strdup(r.etag) : NULL;
	fm_http_response_reset(&r);
	rq = (struct fm_http_request){.url = httpd_url(d, "/expires/1800/feed.rss"), .etag = tag};
	CHECK(fm_http_get(h, &l, &rq, &r) == 0);
	CHECK(r.status == 304);
	f = fm_http_fresh_for(&r.cache, now);
	CHECK(f >= 1790 && f <= 1800);
	free(tag);
	/* a redirect's own caching headers are not the answer's */
	fm_http_response_reset(&r);
	snprintf(away, sizeof(away), "/cache/max-age%%3D5/redirect-to?url=%s",
	         httpd_url(d, "/feed.rss"));
	rq = (struct fm_http_request){.url = httpd_url(d, away)};
	CHECK(fm_http_get(h, &l, &rq, &r) == 0);
	CHECK(r.status == 200 && r.redirects == 1);
	CHECK(fm_http_fresh_for(&r.cache, now) == -1);

	fm_http_response_free(&r);
	fm_http_free(h);
}

int main(void)
{
	struct httpd d;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_redact();
	test_retry_after();
	test_cache_headers();
	test_public_address();
	test_charset();
	test_discover();
	if (httpd_start(&d, httpd_fixtures()) == 0) {
		test_client(&d);
		httpd_stop(&d);
	} else {
		fmt_failures++;
	}
	curl_global_cleanup();
	return fmt_done("fetch_http_client");
}
