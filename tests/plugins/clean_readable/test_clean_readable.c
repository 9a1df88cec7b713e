/*
 * clean_readable through the host API: what a user of the pipeline sees in the documents.
 * Fixture pages are written for this project (tests/data/clean).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"

static json_t *run1(fmt_stage *s, json_t *doc, int *status)
{
	json_t *out = NULL;
	int st = fmt_stage_process(s, doc, &out, NULL);
	if (status)
		*status = st;
	json_t *d = json_incref(json_array_get(out, 0));
	json_decref(out);
	return d;
}

static json_t *page_doc(const char *html, const char *url, const char *source)
{
	json_t *d = json_object();
	json_object_set_new(d, "id", json_string(url));
	json_object_set_new(d, "url", json_string(url));
	if (source)
		json_object_set_new(d, "source", json_string(source));
	json_object_set_new(d, "page_html", json_string(html));
	return d;
}

static bool has(const json_t *d, const char *key, const char *needle)
{
	const char *v = json_string_value(json_object_get(d, key));
	return v && strstr(v, needle);
}

static void test_article_page(void)
{
	fmt_stage *s = fmt_stage_open("clean_readable", NULL, NULL);
	CHECK(s != NULL);
	if (!s)
		return;
	char *html = fmt_read_data("clean/article.html", NULL);
	int st = -1;
	json_t *d = run1(s, page_doc(html, "https://ledger.example/news/tidal.html", "ledger"), &st);
	CHECK(st == 0); /* FM_PASS */
	CHECK(d != NULL);
	CHECK(!json_object_get(d, "page_html"));
	/* the article body, in order, paragraphs separated by blank lines */
	CHECK(has(d, "text", "switched on its first tidal power station"));
	CHECK(has(d, "text", "which came in under budget."));
	CHECK(has(d, "text", "washed the foundations away.\n\nEngineers say"));
	CHECK(has(d, "text", "What the town gets"));
	CHECK(has(d, "text", "Monitoring buoys for seals"));
	/* the clutter around it is gone */
	CHECK(!has(d, "text", "cookies"));
	CHECK(!has(d, "text", "Weather"));
	CHECK(!has(d, "text", "Share on"));
	CHECK(!has(d, "text", "Advertisement"));
	CHECK(!has(d, "text", "morning briefing"));
	CHECK(!has(d, "text", "Ferry timetable"));
	CHECK(!has(d, "text", "wonderful thing for the town"));
	CHECK(!has(d, "text", "Storm warning"));
	CHECK(!has(d, "text", "All rights reserved"));
	CHECK(!has(d, "text", "not text"));
	CHECK(!has(d, "text", "By Mira"));
	/* structure in html: heading, list, quote, table, one figure with one caption */
	CHECK(has(d, "html", "<h2>What the town gets</h2>"));
	CHECK(has(d, "html", "<ul><li>Four turbines"));
	CHECK(has(d, "html", "<blockquote>"));
	CHECK(has(d, "html", "<td>January</td>"));
	CHECK(has(d, "html", "https://ledger.example/media/turbines-large.jpg"));
	const char *h = json_string_value(json_object_get(d, "html"));
	const char *cap = h ? strstr(h, "The turbines before installation.") : NULL;
	CHECK(cap && !strstr(cap + 1, "The turbines before installation."));
	/* links absolute, tracking parameters gone, no script */
	CHECK(has(d, "html", "href=\"https://ledger.example/reports/tidal-plan.pdf?ref=7\""));
	CHECK(!has(d, "html", "utm_"));
	CHECK(!has(d, "html", "<script"));
	/* metadata */
	CHECK_STR(json_string_value(json_object_get(d, "title")),
	          "Harbour town opens its first tidal power station");
	CHECK_STR(json_string_value(json_object_get(d, "published")), "2023-04-05T07:15:00Z");
	CHECK_STR(json_string_value(json_object_get(d, "lang")), "en");
	json_t *au = json_object_get(d, "authors");
	CHECK(json_array_size(au) == 2);
	CHECK_STR(json_string_value(json_object_get(json_array_get(au, 0), "name")),
	          "Mira Velasquez");
	json_decref(d);

	/* a feed title cut short is replaced, a good one kept; a feed date is kept */
	json_t *doc = page_doc(html, "https://ledger.example/news/tidal.html", "ledger");
	json_object_set_new(doc, "title", json_string("Harbour town opens its first..."));
	json_object_set_new(doc, "published", json_string("2023-04-06T00:00:00Z"));
	d = run1(s, doc, NULL);
	CHECK_STR(json_string_value(json_object_get(d, "title")),
	          "Harbour town opens its first tidal power station");
	CHECK_STR(json_string_value(json_object_get(d, "published")), "2023-04-06T00:00:00Z");
	json_decref(d);
	doc = page_doc(html, "https://ledger.example/news/tidal.html", "ledger");
	json_object_set_new(doc, "title", json_string("Tidal power arrives"));
	d = run1(s, doc, NULL);
	CHECK_STR(json_string_value(json_object_get(d, "title")), "Tidal power arrives");
	json_decref(d);
	free(html);
	fmt_stage_close(s);
}

static void test_metadata_sources(void)
{
	fmt_stage *s = fmt_stage_open("clean_readable", NULL, NULL);
	if (!s) {
		CHECK(s != NULL);
		return;
	}
	static const char body[] =
		"<p>Volunteers counted more than four hundred migrating cranes over the marsh this "
		"weekend, the highest number since records began, according to the reserve wardens.</p>"
		"<p>The wardens asked visitors to keep to the boardwalks, since the birds are easily "
		"disturbed while they rest and feed before the next leg of their journey south.</p>";
	char page[4096];
	/* meta tag date, meta author, <title> with a site suffix */
	snprintf(page, sizeof(page),
	         "<html><head><title>Record crane count on the marsh - Fenland Post</title>"
	         "<meta property=\"article:published_time\" content=\"2022-10-09T18:30:00-05:00\">"
	         "<meta name=\"author\" content=\"Ada Fenwick\"></head><body><h1>Record crane "
	         "count on the marsh</h1>%s</body></html>", body);
	json_t *d = run1(s, page_doc(page, "https://fenland.example/nature/cranes", NULL), NULL);
	CHECK_STR(json_string_value(json_object_get(d, "title")), "Record crane count on the marsh");
	CHECK_STR(json_string_value(json_object_get(d, "published")), "2022-10-09T23:30:00Z");
	CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(d, "authors"), 0),
	                                            "name")), "Ada Fenwick");
	CHECK_STR(json_string_value(json_object_get(d, "lang")), "en"); /* detected from text */
	json_decref(d);
	/* <time datetime> */
	snprintf(page, sizeof(page), "<html><body><time datetime=\"2021-03-02\">2 March</time>%s"
	         "</body></html>", body);
	d = run1(s, page_doc(page, "https://fenland.example/x", NULL), NULL);
	CHECK_STR(json_string_value(json_object_get(d, "published")), "2021-03-02T00:00:00Z");
	json_decref(d);
	/* only the URL tells */
	snprintf(page, sizeof(page), "<html><body>%s</body></html>", body);
	d = run1(s, page_doc(page, "https://fenland.example/2020/07/14/cranes/", NULL), NULL);
	CHECK_STR(json_string_value(json_object_get(d, "published")), "2020-07-14T00:00:00Z");
	json_decref(d);
	/* German text, no markup language: detected */
	static const char de[] =
		"<html><body><p>Die Freiwilligen haben am Wochenende mehr als vierhundert Kraniche "
		"über dem Moor gezählt, und das ist die höchste Zahl, seit es die Aufzeichnungen "
		"gibt.</p><p>Die Besucher werden gebeten, auf den Stegen zu bleiben, da die Vögel "
		"sich leicht stören lassen, wenn sie sich ausruhen.</p></body></html>";
	d = run1(s, page_doc(de, "https://moor.example/k", NULL), NULL);
	CHECK_STR(json_string_value(json_object_get(d, "lang")), "de");
	json_decref(d);
	fmt_stage_close(s);
}

static void test_feed_content_and_text(void)
{
	fmt_stage *s = fmt_stage_open("clean_readable", NULL, NULL);
	if (!s) {
		CHECK(s != NULL);
		return;
	}
	json_t *doc = json_object();
	json_object_set_new(doc, "id", json_string("f1"));
	json_object_set_new(doc, "url", json_string("https://blog.example/posts/1"));
	json_object_set_new(doc, "summary", json_string("<p>Short summary.</p>"));
	json_object_set_new(doc, "content",
	                    json_string("<p>Full  content\xC2\xAD with a <a href=\"/more?fbclid=zz\">"
	                                "link</a>.</p><p>Second\xE2\x80\x8B paragraph.</p>"));
	json_t *d = run1(s, doc, NULL);
	CHECK_STR(json_string_value(json_object_get(d, "text")),
	          "Full content with a link.\n\nSecond paragraph.");
	CHECK(has(d, "html", "href=\"https://blog.example/more\""));
	json_decref(d);
	/* text only: normalised (NFC, spaces, blank lines) */
	doc = json_object();
	json_object_set_new(doc, "id", json_string("t1"));
	json_object_set_new(doc, "text", json_string("  Cafe\xCC\x81   au lait\n\n\n\nNext\t line  "));
	d = run1(s, doc, NULL);
	CHECK_STR(json_string_value(json_object_get(d, "text")), "Caf\xC3\xA9 au lait\n\nNext line");
	json_decref(d);
	fmt_stage_close(s);
}

/* Pages of one source share a banner, a dateline and a "Source link" footer. */
static char *source_page(int i)
{
	static const char *const topics[] = {"bridge repairs", "school meals", "bus routes",
	                                     "library hours", "park benches", "flood defences"};
	char *p = malloc(4096);
	snprintf(p, 4096,
	         "<html><body><div><p>Scraped by Aggregator Nine for its members, who may share it freely.</p>"
	         "<p>Filed %d March 2024</p>"
	         "<p>The district council discussed %s at length on the evening of meeting number "
	         "%d, and members agreed to return to the question with costed options next month.</p>"
	         "<p>Residents who spoke at meeting %d asked for the %s to be treated as urgent, "
	         "citing problems that have lasted for several winters in a row now.</p>"
	         "<p>This report comes from Aggregator Nine and partner news agencies.</p>"
	         "<p>Source link</p></div></body></html>",
	         i % 28 + 1, topics[i % 6], i, i, topics[i % 6]);
	return p;
}

static int learned_lines(const json_t *d)
{
	return has(d, "text", "who may share it freely") + has(d, "text", "partner news agencies");
}

static void test_boilerplate_learning(void)
{
	char dir[] = "/tmp/fm-clean-test-XXXXXX";
	if (!mkdtemp(dir)) {
		CHECK(0);
		return;
	}
	const char *settings[] = {"learn_min_docs=3", "learn_sources=2", NULL};
	fmt_stage *s = fmt_stage_open("clean_readable", settings, dir);
	if (!s) {
		CHECK(s != NULL);
		return;
	}
	int seen_first = 0, seen_late = 0;
	for (int i = 0; i < 8; i++) {
		char *p = source_page(i), url[64];
		snprintf(url, sizeof(url), "https://agg.example/item-%d", i);
		json_t *d = run1(s, page_doc(p, url, "agg"), NULL);
		CHECK(has(d, "text", "district council discussed"));
		if (i == 0)
			seen_first = learned_lines(d);
		if (i >= 4)
			seen_late += learned_lines(d);
		json_decref(d);
		free(p);
	}
	CHECK(seen_first == 2); /* not learned yet: kept */
	CHECK(seen_late == 0);  /* learned: stripped */

	/* one article polled again and again is no evidence: its own text is never learned as
	 * its source's boilerplate (nor emptied) */
	static const char polled[] =
		"<html><body><div><p>Scraped by Aggregator Nine for its members, who may share it "
		"freely.</p><p>The lighthouse keepers' guild voted to repaint the northern tower in "
		"its original red and white bands before the autumn storms arrive.</p><p>Volunteers "
		"will sand the railings first, and the guild hopes to open the gallery to visitors "
		"again on the last weekend of the season.</p><p>Source link</p></div></body></html>";
	for (int i = 0; i < 8; i++) {
		json_t *d = run1(s, page_doc(polled, "https://agg.example/lighthouse", "agg"), NULL);
		CHECK(has(d, "text", "repaint the northern tower"));
		CHECK(has(d, "text", "sand the railings first"));
		CHECK(learned_lines(d) == 0); /* while the source's boilerplate still goes */
		json_decref(d);
	}
	fmt_stage_close(s);     /* persists */

	/* a restart remembers */
	s = fmt_stage_open("clean_readable", settings, dir);
	char *p = source_page(40);
	json_t *d = run1(s, page_doc(p, "https://agg.example/item", "agg"), NULL);
	CHECK(learned_lines(d) == 0);
	CHECK(has(d, "text", "district council discussed"));
	json_decref(d);
	/* another source has its own set */
	d = run1(s, page_doc(p, "https://other.example/item", "other"), NULL);
	CHECK(learned_lines(d) == 2);
	json_decref(d);
	/* bounded: with two sources remembered, a third evicts the least recently used ("agg") */
	d = run1(s, page_doc(p, "https://third.example/item", "third"), NULL);
	json_decref(d);
	d = run1(s, page_doc(p, "https://other.example/item", "other"), NULL);
	json_decref(d);
	d = run1(s, page_doc(p, "https://fourth.example/item", "fourth"), NULL);
	json_decref(d);
	d = run1(s, page_doc(p, "https://agg.example/item", "agg"), NULL);
	CHECK(learned_lines(d) == 2); /* forgotten */
	json_decref(d);
	free(p);
	fmt_stage_close(s);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static void test_bad_pages(void)
{
	fmt_stage *s = fmt_stage_open("clean_readable", NULL, NULL);
	if (!s) {
		CHECK(s != NULL);
		return;
	}
	/* binary data served as HTML: a clear outcome, the document still passes */
	char bin[600];
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (char)(i % 7 == 0 ? 1 : 'A' + i % 26);
	json_t *doc = page_doc("x", "https://b.example/", NULL);
	json_object_set_new(doc, "page_html", json_stringn(bin, sizeof(bin)));
	int st = -1;
	json_t *d = run1(s, doc, &st);
	CHECK(st == 0);
	CHECK(d && !json_object_get(d, "page_html"));
	json_decref(d);
	/* truncated in the middle of a tag */
	d = run1(s, page_doc("<html><body><p>The report on the harbour walls was finished late on "
	                     "Friday, and the engineers recommend a second survey before winter.</p>"
	                     "<p>Repairs will start in", "https://t.example/", NULL), &st);
	CHECK(st == 0);
	CHECK(has(d, "text", "harbour walls"));
	json_decref(d);
	fmt_stage_close(s);
}

/* A document whose links are hostile (from `feedmill pipe`, or a third-party fetch stage)
 * leaves clean with only http(s) links, and its javascript: url is not used as the base of
 * the page's relative links. */
static void test_hostile_links(void)
{
	fmt_stage *s = fmt_stage_open("clean_readable", NULL, NULL);
	if (!s) {
		CHECK(s != NULL);
		return;
	}
	json_t *doc = page_doc("<html><body><article><p>The ferry company has published its winter "
	                       "timetable, with the first crossing an hour later than in summer "
	                       "and the last one at six.</p><p>Read <a href=\"/timetable\">the "
	                       "timetable</a> or <a href=\"https://ferry.example/fares\">the fares"
	                       "</a> before you travel, as both change on the first of November."
	                       "</p></article></body></html>",
	                       "javascript:alert(1)//ferry.example/", NULL);
	json_object_set_new(doc, "id", json_string("ferry-1"));
	json_object_set_new(doc, "comments", json_string("JAVA\tSCRIPT:alert(2)"));
	json_object_set_new(doc, "authors", json_pack("[{s:s, s:s}, {s:s, s:s}]", "name", "Ann",
	                                              "uri", "data:text/html,x", "name", "Bo",
	                                              "uri", "https://ferry.example/bo"));
	json_object_set_new(doc, "enclosures", json_pack("[{s:s}]", "url", "vbscript:msgbox(1)"));
	json_object_set_new(doc, "feed", json_pack("{s:s, s:s}", "title", "Ferry news", "link",
	                                           "&#106;avascript:alert(3)"));
	int st = -1;
	json_t *d = run1(s, doc, &st);
	CHECK(st == 0);
	CHECK(d != NULL);
	if (!d) {
		fmt_stage_close(s);
		return;
	}
	CHECK(json_object_get(d, "url") == NULL);
	CHECK(json_object_get(d, "comments") == NULL);
	CHECK(json_object_get(json_array_get(json_object_get(d, "authors"), 0), "uri") == NULL);
	CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(d, "authors"), 1),
	                                            "uri")),
	          "https://ferry.example/bo");
	CHECK(json_array_size(json_object_get(d, "enclosures")) == 0);
	CHECK(json_object_get(json_object_get(d, "feed"), "link") == NULL);
	CHECK(has(d, "text", "winter timetable"));
	CHECK(has(d, "html", "href=\"https://ferry.example/fares\""));
	CHECK(!has(d, "html", "javascript"));
	json_decref(d);
	fmt_stage_close(s);
}

int main(void)
{
	test_article_page();
	test_metadata_sources();
	test_feed_content_and_text();
	test_boilerplate_learning();
	test_bad_pages();
	test_hostile_links();
	return fmt_done("clean_readable");
}
