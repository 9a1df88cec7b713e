/*
 * Which URLs may be published (plugins/common/url.c: fm_url_is_safe_http, fm_url_classify), the
 * document walk that removes the others (plugins/common/doc_urls.c), and the same rule for
 * links inside sanitized HTML (plugins/common/html_sanitize.c): a hostile link in any spelling
 * goes, a legitimate http(s) link stays whatever its path holds.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <feedmill/host.h>

#include "check.h"
#include "doc_urls.h"
#include "html_sanitize.h"
#include "url.h"

/* Links a feed can carry that a browser would run, or that are not http(s) at all. */
static const char *const hostile[] = {
	"javascript:alert(1)",
	"JaVaScRiPt:alert(1)",
	"JAVASCRIPT:alert(1)",
	"vbscript:msgbox(1)",
	"VBScript:msgbox(1)",
	"data:text/html,<script>alert(1)</script>",
	"DATA:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
	/* HTML/XML character references: a consumer that decodes them gets javascript: */
	"&#106;avascript:alert(1)",
	"&#x6A;avascript:alert(1)",
	"&#0000106;avascript:alert(1)",
	"java&#x09;script:alert(1)",
	"java&Tab;script:alert(1)",
	"javascript&colon;alert(1)",
	"javascript&#58;alert(1)",
	/* percent-encoding in the scheme */
	"%6Aavascript:alert(1)",
	"javascript%3Aalert(1)",
	"%68ttps://example.org/",
	/* controls and white space inside or before the scheme */
	"java\tscript:alert(1)",
	"java\nscript:alert(1)",
	"java\rscript:alert(1)",
	"\x01javascript:alert(1)",
	" javascript:alert(1)",
	"\x1f \tjavascript:alert(1)",
	"java\x01script:alert(1)",
	"javascript\x0b:alert(1)",
	/* other schemes */
	"file:///etc/passwd",
	"ftp://files.example.org/a",
	"mailto:editor@example.org",
	"feed:javascript:alert(1)",
	"livescript:alert(1)",
	"\xef\xbd\x8a" "avascript:alert(1)", /* fullwidth j */
	/* relative, or http(s) without a usable host */
	"",
	"   ",
	"/2024/11/story.html",
	"story.html",
	"//evil.example/x",
	"https:javascript:alert(1)",
	"https:/evil.example/",
	"https:\\\\evil.example/",
	"http:///evil.example/",
	"https://",
	"https:// ",
	"https://@/",
	"https://user:pw@/x",
	"https://:443/",
	"https://exa mple.org/",
	"https://example.org:http/",
	"https://example.org:99999/",
	"https://[::1/",
	"https://[]/",
	"https://[[::1]]/",
	"https://example.org]/",
	"ht\x01tps://example.org/",
	"https\x01://example.org/",
	"https\xc2\xa0://example.org/",
	NULL,
};

/* Links that must be kept, some of them with scheme-looking text after the host. */
static const char *const legit[] = {
	"https://example.org/",
	"http://example.org",
	"HTTPS://EXAMPLE.ORG/NEWS",
	"HtTp://example.org/a",
	"https://example.org/wiki/javascript:void(0)",
	"https://example.org/%6Aavascript:alert(1)",
	"https://example.org/%javascript:",
	"https://example.org/search?q=javascript:alert(1)#data:text/html,x",
	"https://example.org/&#106;avascript:",
	"https://user:pa%40ss@example.org:8443/x",
	"https://[2001:db8::1]:443/feed",
	"http://127.0.0.1:8080/feed.rss",
	"https://example.org:/",
	"https://xn--caf-dma.example/",
	"https://caf\xc3\xa9.example/",
	"https://example.org?x",
	"https://example.org#top",
	NULL,
};

/* Legitimate for a browser, which strips and removes these characters first; not what
 * libcurl should be handed. */
static const char *const legit_lenient_only[] = {
	"\x01\x02https://example.org/",
	"\x1fhttps://example.org/ \x1f",
	"ht\ttps://example.org/",
	"https:/\n/example.org/",
	"https://exa\r\nmple.org/",
	NULL,
};

static void test_tables(void)
{
	for (size_t i = 0; hostile[i]; i++) {
		if (fm_url_is_safe_http(hostile[i]) || fm_url_is_http(hostile[i]))
			fprintf(stderr, "  accepted: \"%s\"\n", hostile[i]);
		CHECK(!fm_url_is_safe_http(hostile[i]));
		CHECK(!fm_url_is_http(hostile[i]));
	}
	for (size_t i = 0; legit[i]; i++) {
		if (!fm_url_is_safe_http(legit[i]) || !fm_url_is_http(legit[i]))
			fprintf(stderr, "  refused: \"%s\"\n", legit[i]);
		CHECK(fm_url_is_safe_http(legit[i]));
		CHECK(fm_url_is_http(legit[i]));
	}
	for (size_t i = 0; legit_lenient_only[i]; i++) {
		CHECK(fm_url_is_safe_http(legit_lenient_only[i]));
		CHECK(!fm_url_is_http(legit_lenient_only[i]));
	}
	CHECK(!fm_url_is_safe_http(NULL));
	CHECK(!fm_url_is_http(NULL));
	/* fetching trims white space at the ends as it always did */
	CHECK(fm_url_is_http("  https://example.org/\n"));
}

static void check_kind(const char *s, enum fm_url_kind want, const char *want_scheme)
{
	char scheme[16];
	const char *rest = NULL;
	enum fm_url_kind k = fm_url_classify(s, scheme, sizeof(scheme), &rest);
	if (k != want)
		fprintf(stderr, "  \"%s\": kind %d, expected %d\n", s, (int)k, (int)want);
	CHECK(k == want);
	CHECK_STR(scheme, want_scheme);
	CHECK(rest != NULL);
}

static void test_classify(void)
{
	check_kind("", FM_URL_EMPTY, "");
	check_kind(" \x01\t", FM_URL_EMPTY, "");
	check_kind("#top", FM_URL_FRAGMENT, "");
	check_kind(" \t#top", FM_URL_FRAGMENT, "");
	check_kind("story.html", FM_URL_RELATIVE, "");
	check_kind("/a/b:c", FM_URL_RELATIVE, "");
	check_kind("?q=javascript:x", FM_URL_RELATIVE, "");
	check_kind("&#106;avascript:alert(1)", FM_URL_RELATIVE, ""); /* as an already decoded value */
	check_kind("%6Aavascript:alert(1)", FM_URL_RELATIVE, "");
	check_kind("https://example.org/x", FM_URL_HTTP, "https");
	check_kind("HTTP://example.org", FM_URL_HTTP, "http");
	check_kind("https:javascript:alert(1)", FM_URL_OTHER, "https");
	check_kind("https://", FM_URL_OTHER, "https");
	check_kind("JavaScript:alert(1)", FM_URL_OTHER, "javascript");
	check_kind("\x01 java\tscr\x01ipt:alert(1)", FM_URL_OTHER, "javascript");
	check_kind("mailto:a@example.org", FM_URL_OTHER, "mailto");
	check_kind("data:image/png;base64,AAAA", FM_URL_OTHER, "data");
	check_kind("averyveryverylongscheme:x", FM_URL_OTHER, "");
	const char *rest = NULL;
	char scheme[8];
	CHECK(fm_url_classify("feed:https://example.org/", scheme, sizeof(scheme), &rest) ==
	      FM_URL_OTHER);
	CHECK_STR(rest, "https://example.org/");
}

/* ---- the document walk ---- */

static char logged[4096];

static void fake_vlog(fm_instance *inst, int level, const char *fmt, va_list ap)
{
	(void)inst;
	size_t n = strlen(logged);
	if (level != FM_LOG_DEBUG || n + 2 >= sizeof(logged))
		return;
	vsnprintf(logged + n, sizeof(logged) - n - 1, fmt, ap);
	strcat(logged, "\n");
}

static void fake_log(fm_instance *inst, int level, const char *fmt, ...) FM_PRINTF(3, 4);
static void fake_log(fm_instance *inst, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fake_vlog(inst, level, fmt, ap);
	va_end(ap);
}

static int level_debug(void)
{
	return FM_LOG_DEBUG;
}

static const fm_host fake_host = {
	.abi_major = 1,
	.struct_size = sizeof(fm_host),
	.log = fake_log,
	.vlog = fake_vlog,
	.log_level = level_debug,
};

static json_t *parse(const char *text)
{
	json_error_t err;
	json_t *v = json_loads(text, JSON_ALLOW_NUL, &err);
	if (!v) {
		fprintf(stderr, "bad JSON in test: %s\n", err.text);
		abort();
	}
	return v;
}

static void test_strip(void)
{
	json_t *doc = parse(
		"{\"id\": \"https://alice:secret@news.example/1\","
		" \"title\": \"javascript:alert(1) in a title stays text\","
		" \"url\": \"java\\tscript:alert(1)\","
		" \"comments\": \"&#106;avascript:alert(1)\","
		" \"image\": \"data:text/html,x\","
		" \"live_of\": \"https://news.example/live\","
		" \"feed\": {\"title\": \"F\", \"link\": \"vbscript:x\"},"
		" \"authors\": [{\"name\": \"A\", \"uri\": \"\\u0001javascript:alert(1)\"},"
		"               {\"name\": \"B\", \"uri\": \"https://b.example/\"}, \"C\"],"
		" \"enclosures\": [{\"url\": \"javascript:alert(1)\", \"type\": \"audio/mpeg\"},"
		"                  {\"url\": \"https://cdn.example/a.mp3\", \"type\": \"audio/mpeg\"},"
		"                  {\"url\": 12}],"
		" \"summary\": \"<p>kept as it is</p>\"}");
	logged[0] = '\0';
	CHECK(fm_doc_strip_unsafe_urls(doc, &fake_host, NULL) == 7);
	CHECK(json_object_get(doc, "url") == NULL);
	CHECK(json_object_get(doc, "comments") == NULL);
	CHECK(json_object_get(doc, "image") == NULL);
	CHECK_STR(json_string_value(json_object_get(doc, "live_of")), "https://news.example/live");
	CHECK_STR(json_string_value(json_object_get(doc, "title")),
	          "javascript:alert(1) in a title stays text");
	json_t *feed = json_object_get(doc, "feed");
	CHECK(json_object_get(feed, "link") == NULL);
	CHECK_STR(json_string_value(json_object_get(feed, "title")), "F");
	json_t *authors = json_object_get(doc, "authors");
	CHECK(json_array_size(authors) == 3);
	CHECK(json_object_get(json_array_get(authors, 0), "uri") == NULL);
	CHECK_STR(json_string_value(json_object_get(json_array_get(authors, 0), "name")), "A");
	CHECK_STR(json_string_value(json_object_get(json_array_get(authors, 1), "uri")),
	          "https://b.example/");
	json_t *encl = json_object_get(doc, "enclosures");
	CHECK(json_array_size(encl) == 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(encl, 0), "url")),
	          "https://cdn.example/a.mp3");

	/* one debug line per removal: the id without its password, the field, the scheme; never
	 * the URL */
	CHECK(strstr(logged, "https://***@news.example/1: removed url: not an http(s) URL "
	                     "(scheme javascript)") != NULL);
	CHECK(strstr(logged, "removed comments: not an http(s) URL (not an absolute URL)"));
	CHECK(strstr(logged, "removed feed.link"));
	CHECK(strstr(logged, "removed authors[0].uri"));
	CHECK(strstr(logged, "removed enclosures[0].url"));
	CHECK(strstr(logged, "removed enclosures[2].url: not an http(s) URL (not a string)"));
	CHECK(strstr(logged, "secret") == NULL);
	CHECK(strstr(logged, "alert") == NULL);

	/* a second walk finds nothing more */
	CHECK(fm_doc_strip_unsafe_urls(doc, &fake_host, NULL) == 0);
	json_decref(doc);

	/* null means absent and stays; a NUL byte hides the rest from C readers: removed */
	doc = parse("{\"url\": null, \"comments\": \"https://x.example/\\u0000javascript:x\"}");
	CHECK(fm_doc_strip_unsafe_urls(doc, NULL, NULL) == 1);
	CHECK(json_is_null(json_object_get(doc, "url")));
	CHECK(json_object_get(doc, "comments") == NULL);
	json_decref(doc);

	/* every legitimate URL stays, in every field */
	for (size_t i = 0; legit[i]; i++) {
		doc = json_pack("{s:s, s:s, s:{s:s}, s:[{s:s}], s:[{s:s}]}", "url", legit[i],
		                "comments", legit[i], "feed", "link", legit[i], "authors", "uri",
		                legit[i], "enclosures", "url", legit[i]);
		CHECK(fm_doc_strip_unsafe_urls(doc, NULL, NULL) == 0);
		json_decref(doc);
	}
	/* and every hostile one goes, from every field */
	for (size_t i = 0; hostile[i]; i++) {
		doc = json_pack("{s:s, s:s, s:{s:s}, s:[{s:s}], s:[{s:s}]}", "url", hostile[i],
		                "comments", hostile[i], "feed", "link", hostile[i], "authors", "uri",
		                hostile[i], "enclosures", "url", hostile[i]);
		if (!doc) /* not UTF-8: jansson refuses it, so no document can hold it */
			continue;
		CHECK(fm_doc_strip_unsafe_urls(doc, NULL, NULL) == 5);
		json_decref(doc);
	}
	CHECK(fm_doc_strip_unsafe_urls(NULL, NULL, NULL) == 0);
}

/* ---- sanitized HTML ---- */

#define BASE "https://site.example/dir/page"

static void check_clean(const char *in, const char *base, const char *want)
{
	char *got = fm_html_sanitize(in, strlen(in), base);
	if (!got || strcmp(got, want))
		fprintf(stderr, "  sanitizing: %s (base %s)\n", in, base ? base : "none");
	CHECK_STR(got, want);
	free(got);
}

/* The link goes, without a base; with one it goes too, or became an https link into the base's
 * site (a value with no scheme is a relative reference, resolved). */
static void check_link_dropped(const char *value)
{
	char in[512];
	snprintf(in, sizeof(in), "<a href=\"%s\">x</a>", value);
	check_clean(in, NULL, "<a>x</a>");
	char *got = fm_html_sanitize(in, strlen(in), BASE);
	static const char kept[] = "<a href=\"https://site.example/";
	bool ok = got && (!strcmp(got, "<a>x</a>") || !strncmp(got, kept, strlen(kept)));
	if (!ok)
		fprintf(stderr, "  with a base: %s -> %s\n", in, got ? got : "(null)");
	CHECK(ok);
	free(got);
}

static void test_sanitize(void)
{
	/* entities, case, controls and white space in or before the scheme */
	static const char *const hostile_values[] = {
		"javascript:alert(1)",
		"JaVaScRiPt:alert(1)",
		" \tjavascript:alert(1)",
		"&#106;avascript:alert(1)",
		"&#x6A;avascript:alert(1)",
		"&#0000106;avascript:alert(1)",
		"&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A;alert(1)",
		"java&#x09;script:alert(1)",
		"java&#x0A;script:alert(1)",
		"java&#13;script:alert(1)",
		"&#x20;&#x09;javascript:alert(1)",
		"javascript&#58;alert(1)",
		"javascript&#x3a;alert(1)",
		"java\x01script:alert(1)",
		"\x01javascript:alert(1)",
		"vbscript:msgbox(1)",
		"VBScript:msgbox(1)",
		"data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;",
		"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
		"feed:javascript:alert(1)",
		"feed:&#x09;javascript:alert(1)",
		"livescript:alert(1)",
		"https:javascript:alert(1)",
		"http://",
		NULL,
	};
	for (size_t i = 0; hostile_values[i]; i++)
		check_link_dropped(hostile_values[i]);

	/* every URL attribute gets the same check */
	check_clean("<img src=\"&#106;avascript:alert(1)\" alt=\"a\">", BASE, "<img alt=\"a\" />");
	check_clean("<img src=\"data:image/svg+xml,x\" alt=\"a\">", BASE, "<img alt=\"a\" />");
	check_clean("<img srcset=\"https://i.example/a.png 1x, &#106;avascript:alert(1) 2x\">",
	            BASE, "<img />");
	check_clean("<blockquote cite=\"vbscript:x\">q</blockquote>", BASE, "<blockquote>q</blockquote>");
	check_clean("<table background=\"JAVASCRIPT:x\"><tr><td>t</td></tr></table>", BASE,
	            "<table><tr><td>t</td></tr></table>");
	check_clean("<video poster=\"&#x6A;avascript:x\"></video>", BASE, "<video></video>");
	check_clean("<command icon=\"javascript:alert(1)\">c</command>", BASE, "<command>c</command>");
	check_clean("<map><area href=\"java&#x0A;script:x\" alt=\"a\"></map>", BASE,
	            "<map><area alt=\"a\" /></map>");
	check_clean("<svg><a xlink:href=\"java&#x09;script:alert(1)\"><text>s</text></a></svg>", BASE,
	            "<svg xmlns=\"http://www.w3.org/2000/svg\"><a xmlns:xlink=\"http://www.w3.org/1999/xlink\">"
	            "<text>s</text></a></svg>");

	/* what stays: https links that mention javascript: after the host, and other harmless
	 * schemes */
	check_clean("<a href=\"https://x.example/wiki/javascript:void(0)\">w</a>", BASE,
	            "<a href=\"https://x.example/wiki/javascript:void(0)\">w</a>");
	check_clean("<a href=\"https://x.example/%6Aavascript:x\">p</a>", NULL,
	            "<a href=\"https://x.example/%6Aavascript:x\">p</a>");
	check_clean("<a href=\"HTTPS://X.EXAMPLE/\">u</a>", NULL, "<a href=\"HTTPS://X.EXAMPLE/\">u</a>");
	check_clean("<a href=\"mailto:desk@x.example\">m</a><a href=\"tel:+441234\">t</a>", BASE,
	            "<a href=\"mailto:desk@x.example\">m</a><a href=\"tel:+441234\">t</a>");
	check_clean("<a href=\"feed://x.example/rss\">f</a><a href=\"feed:https://x.example/rss\">g</a>",
	            BASE, "<a href=\"feed://x.example/rss\">f</a><a href=\"feed:https://x.example/rss\">g</a>");
	check_clean("<a href=\"#notes\">n</a>", NULL, "<a href=\"#notes\">n</a>");
	check_clean("<a href=\"notes.html\">r</a>", BASE,
	            "<a href=\"https://site.example/dir/notes.html\">r</a>");
	/* an entity the parser does not know is text in the URL, escaped again on the way out */
	check_clean("<a href=\"java&Tab;script&colon;alert(1)\">e</a>", NULL,
	            "<a href=\"java&amp;Tab;script&amp;colon;alert(1)\">e</a>");
}

int main(void)
{
	test_tables();
	test_classify();
	test_strip();
	test_sanitize();
	return fmt_done("url_safe");
}
