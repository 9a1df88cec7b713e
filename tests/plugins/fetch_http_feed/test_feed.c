/*
 * Feed parser, sanitizer, date and URL helpers, tested on the fixtures in tests/data/feeds
 * (written for this project) and through `feedmill parse` when the binary is built.
 * `test_fetch_http_feed --rss-child` is the memory test's child (see test_memory_bound).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "check.h"
#include "date.h"
#include "feed.h"
#include "html_sanitize.h"
#include "text.h"
#include "url.h"


static char *read_fixture(const char *name, size_t *len)
{
	const char *dir = getenv("FM_TEST_DATA_DIR");
	char path[1024];
	snprintf(path, sizeof(path), "%s/feeds/%s", dir ? dir : "tests/data", name);
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		exit(1);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static json_t *parse_fixture(const char *name, const char *base)
{
	size_t len;
	char *data = read_fixture(name, &len);
	struct fm_feed_opts o = {.base_url = base};
	json_t *r = fm_feed_parse(data, len, &o);
	free(data);
	if (!r) {
		fprintf(stderr, "fm_feed_parse(%s) returned NULL\n", name);
		exit(1);
	}
	return r;
}

/* Value at a path like "items/0/title" (numbers index arrays). */
static json_t *at(json_t *v, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *tok = strtok(buf, "/"); tok && v; tok = strtok(NULL, "/")) {
		if (json_is_array(v))
			v = json_array_get(v, strtoul(tok, NULL, 10));
		else
			v = json_object_get(v, tok);
	}
	return v;
}

static const char *str_at(json_t *v, const char *path)
{
	return json_string_value(at(v, path));
}

static size_t nerrors(json_t *r)
{
	return json_array_size(json_object_get(r, "errors"));
}

static bool error_mentions(json_t *r, const char *needle)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(r, "errors"), i, e)
	{
		if (strstr(json_string_value(e), needle))
			return true;
	}
	return false;
}

static void test_rss20(void)
{
	json_t *r = parse_fixture("rss20_full.xml", "https://mirror.example/feeds/x.xml");
	CHECK_STR(str_at(r, "format"), "rss2.0");
	CHECK(nerrors(r) == 0);
	CHECK_STR(str_at(r, "feed/title"), "Harbour & Hill Gazette");
	CHECK_STR(str_at(r, "feed/subtitle"), "Weekly notes from the <b>harbour</b>");
	CHECK_STR(str_at(r, "feed/language"), "en-gb");
	CHECK_STR(str_at(r, "feed/image"), "https://mirror.example/logo.png");
	CHECK_STR(str_at(r, "feed/updated"), "2024-03-05T07:15:00Z");
	CHECK_STR(str_at(r, "feed/authors/0/name"), "Mara Quill");
	CHECK_STR(str_at(r, "feed/authors/0/email"), "editor@gazette.example");
	CHECK_STR(str_at(r, "feed/categories/0"), "Local");
	CHECK_STR(str_at(r, "feed/categories/1"), "News");
	CHECK_STR(str_at(r, "feed/categories/2"), "Daily News");
	CHECK(json_array_size(at(r, "items")) == 2);
	CHECK_STR(str_at(r, "items/0/id"), "gazette-2024-0311");
	/* relative link resolved against the document URL */
	CHECK_STR(str_at(r, "items/0/link"), "https://mirror.example/2024/03/ferry");
	/* two-digit year, no seconds, named zone */
	CHECK_STR(str_at(r, "items/0/published"), "2024-03-04T22:30:00Z");
	const char *summary = str_at(r, "items/0/summary");
	CHECK(summary && strstr(summary, "<em>spring</em>") && !strstr(summary, "script") &&
	      !strstr(summary, "alert"));
	const char *content = str_at(r, "items/0/content");
	CHECK(content && !strstr(content, "onclick") && !strstr(content, "javascript"));
	CHECK(content && strstr(content, "href=\"https://mirror.example/timetable.pdf\""));
	CHECK_STR(str_at(r, "items/0/authors/0/name"), "Ivo Brandt");
	CHECK_STR(str_at(r, "items/0/categories/1"), "Harbour");
	CHECK_STR(str_at(r, "items/0/comments"), "https://gazette.example/2024/03/ferry#talk");
	CHECK_STR(str_at(r, "items/0/enclosures/0/url"), "https://cdn.gazette.example/ferry.mp3");
	CHECK_STR(str_at(r, "items/0/enclosures/0/type"), "audio/mpeg");
	CHECK_STR(str_at(r, "items/0/enclosures/0/length"), "123456");
	/* a permalink guid is the link when there is no <link> */
	CHECK_STR(str_at(r, "items/1/link"), "https://gazette.example/2024/03/market");
	CHECK_STR(str_at(r, "items/1/title"), "Market day"); /* media:title only as a fallback */
	CHECK_STR(str_at(r, "items/1/summary"), "Stalls on the quay.");
	CHECK_STR(str_at(r, "items/1/updated"), "2024-03-02T14:00:00Z");
	json_decref(r);
}

static void test_rss10_091(void)
{
	json_t *r = parse_fixture("rss10.xml", NULL);
	CHECK_STR(str_at(r, "format"), "rss1.0");
	CHECK(nerrors(r) == 0);
	CHECK_STR(str_at(r, "items/0/id"), "http://orchard.example/entries/7");
	CHECK_STR(str_at(r, "items/0/updated"), "2003-11-09T06:05:00Z");
	CHECK_STR(str_at(r, "items/0/categories/0"), "trees");
	CHECK_STR(str_at(r, "feed/language"), "nl");
	json_decref(r);

	r = parse_fixture("rss091.xml", NULL);
	CHECK_STR(str_at(r, "format"), "rss0.9x");
	CHECK(nerrors(r) == 0);
	CHECK_STR(str_at(r, "feed/title"), "Caf\xc3\xa9 notes");
	CHECK_STR(str_at(r, "items/0/title"), "Cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e");
	json_decref(r);
}

static void test_atom(void)
{
	json_t *r = parse_fixture("atom10.xml", NULL);
	CHECK_STR(str_at(r, "format"), "atom1.0");
	CHECK(nerrors(r) == 0);
	CHECK_STR(str_at(r, "feed/title"), "Lab notes"); /* type="html": markup stripped */
	CHECK_STR(str_at(r, "feed/language"), "de");
	CHECK_STR(str_at(r, "feed/link"), "https://lab.example/notes/");
	CHECK_STR(str_at(r, "feed/icon"), "https://lab.example/favicon.ico");
	CHECK_STR(str_at(r, "feed/image"), "https://lab.example/notes/logo.svg");
	CHECK_STR(str_at(r, "feed/updated"), "2024-02-29T21:59:59Z");
	CHECK_STR(str_at(r, "feed/authors/0/uri"), "https://lab.example/people/ada");
	/* alternate link wins over the enclosure listed first */
	CHECK_STR(str_at(r, "items/0/link"), "https://lab.example/notes/2024/scale");
	CHECK_STR(str_at(r, "items/0/enclosures/0/url"), "https://lab.example/notes/scale.png");
	CHECK_STR(str_at(r, "items/0/enclosures/0/length"), "2048");
	CHECK_STR(str_at(r, "items/0/comments"), "https://lab.example/notes/2024/scale#comments");
	CHECK_STR(str_at(r, "items/0/updated"), "2024-02-29T10:30:00Z");
	/* type="text": markup-looking text is escaped, not interpreted */
	CHECK_STR(str_at(r, "items/0/summary"), "Weights &lt;under&gt; 5 g drift.");
	/* XHTML: wrapper div dropped, xml:base of the content element applied, script removed */
	CHECK_STR(str_at(r, "items/0/content"),
	          "<p>See <a href=\"https://lab.example/notes/2024/plot.html\">the plot</a>.</p>");
	CHECK_STR(str_at(r, "items/1/title"), "Second entry");
	CHECK_STR(str_at(r, "items/1/content"), "raw bytes as text");
	json_decref(r);

	r = parse_fixture("atom03.xml", NULL);
	CHECK_STR(str_at(r, "format"), "atom0.3");
	CHECK(nerrors(r) == 0);
	CHECK_STR(str_at(r, "feed/title"), "Old <b>Atom</b>");
	CHECK_STR(str_at(r, "feed/subtitle"), "Still here");
	CHECK_STR(str_at(r, "items/0/content"), "<p>decoded <b>html</b></p>");
	CHECK_STR(str_at(r, "items/0/published"), "2004-01-01T08:00:00Z");
	CHECK_STR(str_at(r, "items/0/authors/0/uri"), "http://old.example/cy");
	json_decref(r);
}

static long long int_at(json_t *v, const char *path)
{
	json_t *x = at(v, path);
	return json_is_integer(x) ? (long long)json_integer_value(x) : -1;
}

/* What a channel says about how often it changes, for the scheduler: RSS 2.0 <ttl> (minutes)
 * and the syndication module, under any prefix; what is not a count or a known period is left
 * out rather than guessed at. */
static void test_poll_hints(void)
{
	json_t *r = parse_fixture("poll_rss20_ttl.xml", NULL);
	CHECK(nerrors(r) == 0);
	CHECK(int_at(r, "feed/ttl") == 45);
	CHECK_STR(str_at(r, "feed/update_period"), "hourly");
	CHECK(int_at(r, "feed/update_frequency") == 2);
	CHECK_STR(str_at(r, "feed/update_base"), "2024-01-01T00:00:00Z");
	CHECK(at(r, "items/0/ttl") == NULL); /* an item's ttl is nobody's */
	CHECK_STR(str_at(r, "items/0/title"), "High water 06:42, 4.1 m");
	json_decref(r);

	r = parse_fixture("poll_rss10_sy.xml", NULL);
	CHECK_STR(str_at(r, "format"), "rss1.0");
	CHECK(at(r, "feed/ttl") == NULL);
	CHECK_STR(str_at(r, "feed/update_period"), "daily");
	CHECK(int_at(r, "feed/update_frequency") == 4);
	CHECK_STR(str_at(r, "feed/update_base"), "2003-06-01T05:00:00Z");
	CHECK(json_array_size(at(r, "items")) == 1);
	json_decref(r);

	/* junk, and a second element of the same kind: the first sensible value only */
	static const char junk[] =
		"<rss version=\"2.0\" xmlns:sy=\"http://purl.org/rss/1.0/modules/syndication/\">"
		"<channel><title>Quarry bulletin</title>"
		"<ttl>sixty</ttl><ttl>0</ttl><ttl>-5</ttl><ttl>1.5</ttl><ttl>20</ttl><ttl>90</ttl>"
		"<sy:updatePeriod>fortnightly</sy:updatePeriod><sy:updatePeriod>weekly</sy:updatePeriod>"
		"<sy:updatePeriod>daily</sy:updatePeriod>"
		"<sy:updateFrequency>often</sy:updateFrequency><sy:updateBase>soon</sy:updateBase>"
		"</channel></rss>";
	r = fm_feed_parse(junk, sizeof(junk) - 1, NULL);
	CHECK(int_at(r, "feed/ttl") == 20);
	CHECK_STR(str_at(r, "feed/update_period"), "weekly");
	CHECK(at(r, "feed/update_frequency") == NULL);
	CHECK(json_is_null(at(r, "feed/update_base")));
	json_decref(r);

	/* an Atom feed may carry the module too; a feed saying nothing has none of the fields */
	static const char atom[] =
		"<feed xmlns=\"http://www.w3.org/2005/Atom\" "
		"xmlns:sy=\"http://purl.org/rss/1.0/modules/syndication/\"><title>Ferry log</title>"
		"<sy:updatePeriod>HOURLY</sy:updatePeriod><ttl>30</ttl></feed>";
	r = fm_feed_parse(atom, sizeof(atom) - 1, NULL);
	CHECK_STR(str_at(r, "feed/update_period"), "hourly");
	CHECK(at(r, "feed/ttl") == NULL); /* <ttl> is RSS's, not Atom's */
	json_decref(r);
	r = parse_fixture("rss20_full.xml", NULL);
	CHECK(at(r, "feed/ttl") == NULL && at(r, "feed/update_period") == NULL &&
	      at(r, "feed/update_frequency") == NULL && at(r, "feed/update_base") == NULL);
	json_decref(r);
}

static void test_jsonfeed(void)
{
	json_t *r = parse_fixture("jsonfeed.json", NULL);
	CHECK_STR(str_at(r, "format"), "jsonfeed");
	CHECK(nerrors(r) == 0);
	CHECK_STR(str_at(r, "feed/title"), "Kitchen JSON");
	CHECK_STR(str_at(r, "items/0/title"), "Bread at dawn");
	CHECK_STR(str_at(r, "items/0/content"), "<p>Knead <b>well</b></p>");
	CHECK_STR(str_at(r, "items/0/published"), "2024-01-05T05:00:00Z");
	CHECK_STR(str_at(r, "items/0/categories/1"), "morning");
	CHECK_STR(str_at(r, "items/0/enclosures/0/length"), "999");
	CHECK_STR(str_at(r, "items/1/id"), "2");
	CHECK_STR(str_at(r, "items/1/content"), "plain &lt;text&gt;");
	CHECK(json_is_null(at(r, "items/1/updated")));
	json_decref(r);
}

static void test_encodings(void)
{
	static const struct {
		const char *file, *title;
		bool error;
	} cases[] = {
		{"enc_windows1252.xml", "\xe2\x80\x9cQuoted\xe2\x80\x9d \xe2\x80\x93 caf\xc3\xa9 \xe2\x82\xac" "5", false},
		{"enc_koi8r.xml", "\xd0\x9d\xd0\xbe\xd0\xb2\xd0\xbe\xd1\x81\xd1\x82\xd0\xb8", false},
		{"enc_shiftjis.xml", "\xe6\x97\xa5\xe6\x9c\xac\xe3\x81\xae\xe3\x83\x8b\xe3\x83\xa5\xe3\x83\xbc\xe3\x82\xb9", false},
		{"enc_big5.xml", "\xe5\x8f\xb0\xe7\x81\xa3\xe6\x96\xb0\xe8\x81\x9e", false},
		{"enc_euckr.xml", "\xed\x95\x9c\xea\xb5\xad \xeb\x89\xb4\xec\x8a\xa4", false},
		{"enc_gb2312.xml", "\xe4\xb8\xad\xe6\x96\x87\xe6\x96\xb0\xe9\x97\xbb", false},
		{"enc_utf16le_bom.xml", "Sixteen \xc3\xa9", false},
		{"enc_utf8_bom.xml", "BOM \xc3\xa9", false},
		/* declared UTF-8 but windows-1252 bytes: recovered, and reported */
		{"enc_lying_utf8.xml", "Na\xc3\xafve caf\xc3\xa9", true},
		{"enc_no_decl_latin1.xml", "Sm\xc3\xb8rrebr\xc3\xb8" "d", true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *r = parse_fixture(cases[i].file, NULL);
		CHECK_STR(str_at(r, "feed/title"), cases[i].title);
		CHECK((nerrors(r) > 0) == cases[i].error);
		json_decref(r);
	}
	/* declared UTF-8 with a few damaged bytes: every valid character kept, each ill-formed
	 * sequence one U+FFFD (a cut-off euro sign is one, an overlong slash two), reported */
	json_t *r = parse_fixture("enc_utf8_damaged.xml", NULL);
	CHECK_STR(str_at(r, "feed/title"), "Caf\xc3\xa9 M\xc3\xbcller \xe2\x80\x94 Gr\xc3\xbc\xc3\x9f" "e");
	CHECK_STR(str_at(r, "items/0/title"), "Cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e at the caf\xc3\xa9");
	CHECK_STR(str_at(r, "items/0/summary"), "Price: 4\xef\xbf\xbd each, was 5 \xe2\x82\xac");
	CHECK_STR(str_at(r, "items/1/title"), "Bad byte: na\xef\xbf\xbdve");
	CHECK_STR(str_at(r, "items/2/title"),
	          "Slash \xef\xbf\xbd\xef\xbf\xbd here, \xc3\xb1" "and\xc3\xba");
	CHECK(error_mentions(r, "line 6: 4 ill-formed UTF-8 sequence(s) replaced with U+FFFD"));
	json_decref(r);

	/* the HTTP charset outranks the XML declaration */
	const char body[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel>"
	                    "<title>\xe9t\xe9</title></channel></rss>";
	struct fm_feed_opts o = {.http_charset = "iso-8859-1"};
	r = fm_feed_parse(body, sizeof(body) - 1, &o);
	CHECK_STR(str_at(r, "feed/title"), "\xc3\xa9t\xc3\xa9");
	CHECK(nerrors(r) == 0);
	json_decref(r);
}

static void check_replace(const char *in, size_t len, const char *want, size_t nrep)
{
	size_t out_len = 0, got_rep = 99;
	char *got = fm_text_utf8_replace(in, len, false, &out_len, &got_rep);
	CHECK_STR(got, want);
	CHECK(got && out_len == strlen(want));
	CHECK(got_rep == nrep);
	free(got);
}

/* U+FFFD per maximal subpart (Unicode ch. 3, the WHATWG decoder): a truncated sequence is one,
 * bytes that can never start or continue a sequence one each. */
static void test_utf8_replace(void)
{
	check_replace("plain", 5, "plain", 0);
	check_replace("caf\xc3\xa9", 5, "caf\xc3\xa9", 0);
	check_replace("4\xe2\x82 z", 5, "4\xef\xbf\xbd z", 1);          /* E2 82: one */
	check_replace("x\xf0\x9f\x98y", 5, "x\xef\xbf\xbdy", 1);       /* 3 of 4 bytes: one */
	check_replace("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd", 2);   /* overlong: two */
	check_replace("\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 3); /* surrogate */
	check_replace("\xf4\x90\x80\x80!", 5,
	              "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!", 4); /* > U+10FFFF */
	check_replace("k\xe1\x80\xc3\xa9", 5, "k\xef\xbf\xbd\xc3\xa9", 1); /* the valid one after kept */
	check_replace("end\xe2", 4, "end\xef\xbf\xbd", 1);

	size_t bad = 0;
	CHECK(fm_text_utf8_fit("caf\xc3\xa9", 5, &bad) == FM_UTF8_VALID && bad == 0);
	CHECK(fm_text_utf8_fit("caf\xc3\xa9 na\xefve", 12, &bad) == FM_UTF8_MOSTLY && bad == 1);
	CHECK(fm_text_utf8_fit("caf\xe9 cr\xe8me", 11, &bad) == FM_UTF8_NOT && bad == 2);
}

static void test_illformed(void)
{
	json_t *r = parse_fixture("bad_stray_amp.xml", NULL);
	CHECK(nerrors(r) > 0);
	CHECK(error_mentions(r, "line 1"));
	CHECK_STR(str_at(r, "feed/title"), "Salt & pepper \xc2\xa0\xc2\xa9 2024");
	CHECK_STR(str_at(r, "items/0/title"), "Fish & chips");
	/* escaped markup after the error is still markup (libxml2 alone would drop it) */
	CHECK_STR(str_at(r, "items/0/summary"), "<p>kept <b>markup</b></p> AT&amp;T");
	json_decref(r);

	r = parse_fixture("bad_unclosed.xml", NULL);
	CHECK(nerrors(r) > 0);
	CHECK(json_array_size(at(r, "items")) >= 2);
	CHECK_STR(str_at(r, "items/0/summary"), "one");
	json_decref(r);

	r = parse_fixture("bad_garbage_after_root.xml", NULL);
	CHECK(error_mentions(r, "line 2"));
	CHECK_STR(str_at(r, "items/0/title"), "kept");
	json_decref(r);

	r = parse_fixture("bad_truncated.xml", NULL);
	CHECK(nerrors(r) > 0);
	CHECK_STR(str_at(r, "items/0/title"), "whole");
	json_decref(r);

	r = parse_fixture("bad_not_a_feed.xml", NULL);
	CHECK_STR(str_at(r, "format"), "unknown");
	CHECK(nerrors(r) > 0 && json_array_size(at(r, "items")) == 0);
	json_decref(r);

	r = parse_fixture("bad_empty.xml", NULL);
	CHECK(nerrors(r) > 0 && json_array_size(at(r, "items")) == 0);
	json_decref(r);

	r = parse_fixture("bad_undeclared_prefix.xml", NULL);
	CHECK(error_mentions(r, "dc"));
	CHECK_STR(str_at(r, "items/0/authors/0/name"), "Nobody Declared");
	json_decref(r);
}

static void test_safety(void)
{
	json_t *r = parse_fixture("safe_billion_laughs.xml", NULL);
	CHECK(error_mentions(r, "entity"));
	const char *t = str_at(r, "feed/title");
	CHECK(!t || strlen(t) < 100000);
	json_decref(r);

	r = parse_fixture("safe_xxe.xml", NULL);
	CHECK_STR(str_at(r, "feed/title"), "safe");
	CHECK(error_mentions(r, "not loaded"));
	json_decref(r);

	r = parse_fixture("safe_external_dtd.xml", NULL);
	CHECK_STR(str_at(r, "feed/title"), "dtd & friends");
	CHECK(nerrors(r) == 0);
	json_decref(r);

	r = parse_fixture("safe_deep.xml", NULL);
	CHECK(nerrors(r) > 0);
	CHECK_STR(str_at(r, "feed/title"), "deep");
	json_decref(r);

	size_t len;
	char *data = read_fixture("many_items.xml", &len);
	struct fm_feed_opts o = {.max_items = 10};
	r = fm_feed_parse(data, len, &o);
	free(data);
	CHECK(json_array_size(at(r, "items")) == 10);
	CHECK(error_mentions(r, "item limit"));
	json_decref(r);
}

static void test_sniff(void)
{
	size_t len;
	char *d = read_fixture("atom10.xml", &len);
	CHECK(fm_feed_sniff(d, len) == 1);
	free(d);
	d = read_fixture("jsonfeed.json", &len);
	CHECK(fm_feed_sniff(d, len) == 1);
	free(d);
	d = read_fixture("bad_not_a_feed.xml", &len);
	CHECK(fm_feed_sniff(d, len) == 0);
	free(d);
	d = read_fixture("rss10.xml", &len);
	CHECK(fm_feed_sniff(d, len) == 1);
	free(d);
}

static void check_date(const char *in, const char *want)
{
	time_t t = fm_date_parse(in);
	if (!want) {
		if (t != -1) {
			fprintf(stderr, "date %s: expected unparseable\n", in);
			fmt_failures++;
		}
		return;
	}
	char buf[21] = "(unparsed)";
	if (t != -1)
		fm_date_format(t, buf);
	if (strcmp(buf, want)) {
		fprintf(stderr, "date %s: got %s, expected %s\n", in, buf, want);
		fmt_failures++;
	}
}

static void test_dates(void)
{
	check_date("Thu, 01 Jan 2004 19:48:21 GMT", "2004-01-01T19:48:21Z");
	check_date("Thu, 1 Jan 04 19:48 EST", "2004-01-02T00:48:00Z");
	check_date("Wed, 02 Oct 2002 13:00:00 +0200", "2002-10-02T11:00:00Z");
	check_date("Sat, 3 Aug 2019 9:5:7 PDT", "2019-08-03T16:05:07Z");
	check_date("3 Aug 99 10:00 Z", "1999-08-03T10:00:00Z");
	check_date("Monday, 05-Jan-2004 10:00:00 CET extra words", "2004-01-05T09:00:00Z");
	check_date("Sun Jan  4 16:29:06 PST 2004", "2004-01-05T00:29:06Z");
	check_date("January 5, 2004 10:00 pm", "2004-01-05T22:00:00Z");
	check_date("2003-12-31T10:14:55Z", "2003-12-31T10:14:55Z");
	check_date("2003-12-31T10:14:55.25-08:00", "2003-12-31T18:14:55Z");
	check_date("2003-12-31T10:14-0530", "2003-12-31T15:44:00Z");
	check_date("2003-12-31 10:14:55", "2003-12-31T10:14:55Z");
	check_date("20031231T101455Z", "2003-12-31T10:14:55Z");
	check_date("2003-12", "2003-12-01T00:00:00Z");
	check_date("2003", "2003-01-01T00:00:00Z");
	check_date("2004-W01-1", "2003-12-29T00:00:00Z");
	check_date("2004-060", "2004-02-29T00:00:00Z");
	check_date("", NULL);
	check_date("yesterday", NULL);
	check_date("2003-02-30T00:00:00Z", NULL);
	check_date("Mon, 32 Jan 2004 00:00:00 GMT", NULL);
	check_date("Mon, 12 Jan 2004 25:00:00 GMT", NULL);
}

static void check_resolve(const char *base, const char *ref, const char *want)
{
	char *got = fm_url_resolve(base, ref);
	CHECK_STR(got, want);
	free(got);
}

static void test_urls(void)
{
	/* RFC 3986 section 5.4 examples */
	const char *b = "http://a/b/c/d;p?q";
	check_resolve(b, "g", "http://a/b/c/g");
	check_resolve(b, "./g", "http://a/b/c/g");
	check_resolve(b, "/g", "http://a/g");
	check_resolve(b, "//g", "http://g");
	check_resolve(b, "?y", "http://a/b/c/d;p?y");
	check_resolve(b, "#s", "http://a/b/c/d;p?q#s");
	check_resolve(b, "", "http://a/b/c/d;p?q");
	check_resolve(b, "..", "http://a/b/");
	check_resolve(b, "../../../g", "http://a/g");
	check_resolve(b, "g;x=1/../y", "http://a/b/c/y");
	check_resolve(b, "g#s/../x", "http://a/b/c/g#s/../x");
	check_resolve(b, "mailto:x@y", "mailto:x@y");
	check_resolve(NULL, "rel/x", "rel/x");
	CHECK(fm_url_is_http("https://example.com/x"));
	CHECK(!fm_url_is_http("javascript:alert(1)"));
	CHECK(!fm_url_is_http("file:///etc/passwd"));
	char *s = fm_url_strip_tracking("https://x.example/a?utm_source=rss&id=7&fbclid=abc#top");
	CHECK_STR(s, "https://x.example/a?id=7#top");
	free(s);
	s = fm_url_strip_tracking("https://x.example/a?utm_medium=feed&gclid=1");
	CHECK_STR(s, "https://x.example/a");
	free(s);
}

static void check_clean(const char *in, const char *want)
{
	char *got = fm_html_sanitize(in, strlen(in), "https://site.example/dir/page");
	CHECK_STR(got, want);
	free(got);
}

static void test_sanitize(void)
{
	check_clean("<p onclick=\"x()\">Hi <b>there</b></p>", "<p>Hi <b>there</b></p>");
	check_clean("a<script>evil()</script>b<style>p{}</style>c", "abc");
	check_clean("<a href=\"javascript:alert(1)\">x</a>", "<a>x</a>");
	check_clean("<a href=\" JaVa\tScRiPt:alert(1)\">x</a>", "<a>x</a>");
	check_clean("<a href=\"../up\">up</a>", "<a href=\"https://site.example/up\">up</a>");
	check_clean("<img src=\"data:image/png;base64,AAAA\" alt=\"p\">",
	            "<img src=\"data:image/png;base64,AAAA\" alt=\"p\" />");
	check_clean("<a href=\"data:text/html;base64,PHNjcmlwdD4=\">d</a>", "<a>d</a>");
	check_clean("<iframe src=\"https://evil.example\"></iframe>ok", "ok");
	check_clean("<form action=\"https://evil.example\"><input name=\"pw\"></form>",
	            "<input name=\"pw\" />");
	check_clean("<div style=\"position:absolute;top:0;color:red\">x</div>",
	            "<div style=\"color: red;\">x</div>");
	check_clean("<div style=\"display:none\">hidden spam</div>", "<div>hidden spam</div>");
	check_clean("<span style=\"background:url(javascript:x)\">x</span>", "<span>x</span>");
	check_clean("<table><tr><td colspan=\"2\">c</td></tr></table>",
	            "<table><tr><td colspan=\"2\">c</td></tr></table>");
	check_clean("<figure><img src=\"i.png\"><figcaption>cap</figcaption></figure>",
	            "<figure><img src=\"https://site.example/dir/i.png\" /><figcaption>cap</figcaption></figure>");
	check_clean("<svg><circle r=\"5\" onload=\"x()\"/><script>x()</script><foreignObject>f</foreignObject></svg>",
	            "<svg xmlns=\"http://www.w3.org/2000/svg\"><circle r=\"5\"></circle></svg>");
	check_clean("1 < 2 & 3 > 2", "1 &lt; 2 &amp; 3 &gt; 2");
	check_clean("<blockquote cite=\"q.html\">q</blockquote><pre><code>x &lt; y</code></pre>",
	            "<blockquote cite=\"https://site.example/dir/q.html\">q</blockquote><pre><code>x &lt; y</code></pre>");

	char *t = fm_html_to_text("<p>Caf&eacute;&nbsp;<b>au</b>\n\n lait</p><script>x</script>", 57);
	CHECK_STR(t, "Caf\xc3\xa9\xc2\xa0" "au lait");
	free(t);
}

/* `feedmill parse`: one object per file in order, "file" first, unreadable files included. */
static void test_command(void)
{
	const char *bin = getenv("FEEDMILL_BIN");
	const char *dir = getenv("FM_TEST_DATA_DIR");
	if (!bin || !dir)
		return;
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
	         "FEEDMILL_PARSE_JOBS=2 '%s' parse --base https://b.example/x/ '%s/feeds/rss10.xml' "
	         "'%s/feeds/does-not-exist.xml' '%s/feeds/atom10.xml' 2>/dev/null",
	         bin, dir, dir, dir);
	FILE *p = popen(cmd, "r");
	CHECK(p != NULL);
	if (!p)
		return;
	char *line = NULL;
	size_t cap = 0;
	int n = 0;
	const char *want[] = {"rss10.xml", "does-not-exist.xml", "atom10.xml"};
	while (getline(&line, &cap, p) > 0) {
		CHECK(!strncmp(line, "{\"file\":", 8));
		json_t *o = json_loads(line, 0, NULL);
		CHECK(o != NULL);
		if (o && n < 3) {
			const char *f = str_at(o, "file");
			CHECK(f && strstr(f, want[n]));
			if (n == 1)
				CHECK(nerrors(o) > 0 && json_array_size(at(o, "items")) == 0);
			else
				CHECK(nerrors(o) == 0);
		}
		json_decref(o);
		n++;
	}
	free(line);
	pclose(p);
	CHECK(n == 3);
}

/* xml:base and xml:lang on the document element and the channel, which are never built as
 * trees, still apply to the items read inside them. */
static void test_outer_base_lang(void)
{
	const char feed[] =
	        "<rss version=\"2.0\" xml:base=\"http://root.example/r/\" xml:lang=\"fr\">"
	        "<channel xml:base=\"c/\"><title>b</title><link>home</link>"
	        "<item xml:base=\"i/\"><title>x</title><link>page</link>"
	        "<description>&lt;a href=\"p2\"&gt;q&lt;/a&gt;</description></item>"
	        "</channel></rss>";
	json_t *r = fm_feed_parse(feed, sizeof(feed) - 1, NULL);
	CHECK(nerrors(r) == 0);
	CHECK_STR(str_at(r, "feed/link"), "http://root.example/r/c/home");
	CHECK_STR(str_at(r, "feed/language"), "fr");
	CHECK_STR(str_at(r, "items/0/link"), "http://root.example/r/c/i/page");
	CHECK_STR(str_at(r, "items/0/summary"), "<a href=\"http://root.example/r/c/i/p2\">q</a>");
	json_decref(r);
}

/* An item whose tree would pass the bound (8 MiB of nodes: here 40,000 tiny elements) stops
 * growing there: what came before is kept, the cut is reported, the next item is whole. */
static void test_item_bound(void)
{
	const char head[] = "<rss version=\"2.0\"><channel><title>t</title>"
	                    "<item><title>before</title><description>";
	const char tail[] = "</description><link>http://x.example/lost</link></item>"
	                    "<item><title>next</title><link>http://x.example/next</link></item>"
	                    "</channel></rss>";
	struct fm_buf b = FM_BUF_INIT;
	fm_buf_puts(&b, head);
	for (int i = 0; i < 40000; i++)
		fm_buf_puts(&b, "<b>1</b>");
	fm_buf_puts(&b, tail);
	json_t *r = fm_feed_parse(fm_buf_str(&b), b.len, NULL);
	fm_buf_free(&b);
	CHECK(error_mentions(r, "line 1: <item> is larger than 8 MiB; the rest of it is ignored"));
	CHECK_STR(str_at(r, "items/0/title"), "before");
	const char *summary = str_at(r, "items/0/summary");
	CHECK(summary && !strncmp(summary, "<b>1</b><b>1</b>", 16));
	CHECK(!at(r, "items/0/link"));
	CHECK_STR(str_at(r, "items/1/title"), "next");
	CHECK_STR(str_at(r, "items/1/link"), "http://x.example/next");
	json_decref(r);
}

/* ---- memory ---- */

/* Generous against what streaming takes for the feed below (under 1 MiB; 2.5 MiB under
 * ASan), far below what its whole-document tree took (146 MiB). */
#define PARSE_RSS_BOUND_KIB (24 * 1024)
#define BIG_FEED_MAX_ITEMS 500

static size_t put(char *out, size_t at, const char *s)
{
	size_t n = strlen(s);
	if (out)
		memcpy(out + at, s, n);
	return at + n;
}

/* About 7 MB: 100 items with multi-byte titles, 4 MB of tiny extension elements in the
 * channel (a whole-document tree stored each as two nodes of ~150 bytes; their 13 bytes put
 * the parser's 64 KiB chunk boundaries at every offset of an "\xc3\xa9" in turn), then 100,000
 * small items, most of them past max_items. Written twice: first to size the buffer, so the
 * body is allocated once at its size. */
static size_t write_big_feed(char *out)
{
	char tmp[160];
	size_t at = put(out, 0, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\" "
	                        "xmlns:x=\"urn:example:tiny\"><channel><title>big</title>\n");
	for (int i = 0; i < 100; i++) {
		snprintf(tmp, sizeof(tmp), "<item><title>Caf\xc3\xa9 n\xc2\xba%d \xe2\x80\x94 "
		                           "\xc3\xbcn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9</title></item>\n", i);
		at = put(out, at, tmp);
	}
	for (int i = 0; i < 4000000 / 13; i++)
		at = put(out, at, "<x:t>\xc3\xa9</x:t>");
	for (int i = 100; i < 100100; i++) {
		snprintf(tmp, sizeof(tmp), "<item><title>n%d</title></item>\n", i);
		at = put(out, at, tmp);
	}
	return put(out, at, "</channel></rss>\n");
}

/* The child: parse the big feed, print the growth of the peak RSS (KiB), the numbers of items
 * and errors, and the 100th item's title. */
static int rss_child(void)
{
	size_t len = write_big_feed(NULL);
	char *body = malloc(len + 1);
	if (!body)
		return 1;
	write_big_feed(body);
	body[len] = '\0';
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	long before = ru.ru_maxrss;
	struct fm_feed_opts o = {.max_items = BIG_FEED_MAX_ITEMS};
	json_t *r = fm_feed_parse(body, len, &o);
	getrusage(RUSAGE_SELF, &ru);
	const char *t = str_at(r, "items/99/title");
	printf("%ld %zu %zu %s\n", ru.ru_maxrss - before, json_array_size(at(r, "items")), nerrors(r),
	       t ? t : "-");
	if (nerrors(r))
		fprintf(stderr, "big feed: %s\n", json_string_value(at(r, "errors/0")));
	json_decref(r);
	free(body);
	return 0;
}

/* A feed of several MB parses in memory bounded by what is kept, not by the body: measured in
 * a fresh process (this binary again), so nothing earlier in this run counts. ASan's
 * quarantine, which keeps freed memory resident, is turned off there. */
static void test_memory_bound(void)
{
	char self[PATH_MAX], cmd[PATH_MAX + 512];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	CHECK(n > 0);
	if (n <= 0)
		return;
	self[n] = '\0';
	const char *asan = getenv("ASAN_OPTIONS");
	snprintf(cmd, sizeof(cmd), "ASAN_OPTIONS='%s%squarantine_size_mb=0' '%s' --rss-child",
	         asan ? asan : "", asan && *asan ? ":" : "", self);
	FILE *p = popen(cmd, "r");
	CHECK(p != NULL);
	if (!p)
		return;
	long kib = -1;
	size_t items = 0, errors = 0;
	char title[128] = "";
	int got = fscanf(p, "%ld %zu %zu %127[^\n]", &kib, &items, &errors, title);
	CHECK(pclose(p) == 0);
	CHECK(got == 4);
	fprintf(stderr, "memory: the big feed's parse grew the peak RSS by %ld KiB (bound %d)\n",
	        kib, PARSE_RSS_BOUND_KIB);
	CHECK(kib >= 0 && kib < PARSE_RSS_BOUND_KIB);
	CHECK(items == BIG_FEED_MAX_ITEMS);
	CHECK(errors == 1); /* "item limit (500) reached", and no parse error at a chunk boundary */
	CHECK_STR(title, "Caf\xc3\xa9 n\xc2\xba" "99 \xe2\x80\x94 \xc3\xbcn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9");
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--rss-child"))
		return rss_child();
	test_rss20();
	test_rss10_091();
	test_poll_hints();
	test_atom();
	test_jsonfeed();
	test_encodings();
	test_utf8_replace();
	test_illformed();
	test_safety();
	test_outer_base_lang();
	test_item_bound();
	test_memory_bound();
	test_sniff();
	test_dates();
	test_urls();
	test_sanitize();
	test_command();
	return fmt_done("fetch_http_feed");
}
