/*
 * clean_readable internals: dates, the boilerplate learner, charsets and pages built to hurt
 * (50 MB, 100,000 nested elements, binary, NUL bytes). Compiled from the plugin's sources.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "boiler.h"
#include "extract.h"
#include "text.h"


static const char *fmt(time_t t)
{
	static char b[32];
	if (t == -1)
		return "-1";
	rd_format_date(t, b);
	return b;
}

#define CHECK_DATE(s, want) CHECK(!strcmp(fmt(rd_parse_date(s)), want))

static void test_dates(void)
{
	CHECK_DATE("2019-11-19T10:30:00Z", "2019-11-19T10:30:00Z");
	CHECK_DATE("2019-11-19T10:30:00.123+01:00", "2019-11-19T09:30:00Z");
	CHECK_DATE("2019-11-19 10:30:00", "2019-11-19T10:30:00Z");
	CHECK_DATE("2019-11-19", "2019-11-19T00:00:00Z");
	CHECK_DATE("Tue, 19 Nov 2019 10:30:00 GMT", "2019-11-19T10:30:00Z");
	CHECK_DATE("November 19, 2019 3:05 PM EST", "2019-11-19T20:05:00Z");
	CHECK_DATE("Nov. 19th, 2019", "2019-11-19T00:00:00Z");
	CHECK_DATE("19.11.2019", "2019-11-19T00:00:00Z");
	CHECK_DATE("19 novembre 2019", "2019-11-19T00:00:00Z");
	CHECK_DATE("1574159400", "2019-11-19T10:30:00Z");
	CHECK_DATE("By Mark Smith", "-1");
	CHECK_DATE("2019-02-30", "-1");
	CHECK_DATE("", "-1");
	CHECK(!strcmp(fmt(rd_url_date("https://x.example/2019/11/19/story")), "2019-11-19T00:00:00Z"));
	CHECK(!strcmp(fmt(rd_url_date("https://x.example/news/20191119-story")), "2019-11-19T00:00:00Z"));
	CHECK(rd_url_date("https://x.example/story-12345678901") == -1);
}

static void test_learner(void)
{
	struct rd_boiler_opts o = {.max_sources = 2, .max_entries = 16, .min_docs = 2, .window = 100};
	struct rd_boiler *b = rd_boiler_new(&o);
	uint64_t banner = rd_boiler_hash("Filed 3 March 2024", 18);
	CHECK(banner == rd_boiler_hash("filed 27 march 2024", 19)); /* numbers and case ignored */
	uint64_t fp[2] = {banner, 0};
	bool is[2];
	for (int doc = 0; doc < 3; doc++) {
		fp[1] = 1000 + (uint64_t)doc; /* each document's own text */
		int n = rd_boiler_check_and_learn(b, "s1", fp, 2, is);
		CHECK(n == (doc >= 2));
		CHECK(is[0] == (doc >= 2));
		CHECK(!is[1]);
	}
	/* entries per source stay bounded */
	for (uint64_t k = 0; k < 200; k++) {
		uint64_t one = 5000 + k;
		rd_boiler_check_and_learn(b, "s1", &one, 1, is);
	}
	CHECK(rd_boiler_entries(b, "s1") <= 16);
	/* save, load */
	char path[] = "/tmp/fm-boiler-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	fp[0] = banner;
	rd_boiler_check_and_learn(b, "s2", fp, 1, is);
	rd_boiler_check_and_learn(b, "s2", fp, 1, is);
	CHECK(rd_boiler_save(b, path) == 0);
	struct rd_boiler *c = rd_boiler_new(&o);
	CHECK(rd_boiler_load(c, path) == 0);
	CHECK(rd_boiler_sources(c) == 2);
	CHECK(rd_boiler_check_and_learn(c, "s2", fp, 1, is) == 1);
	/* sources bounded: a third evicts one */
	rd_boiler_check_and_learn(c, "s3", fp, 1, is);
	CHECK(rd_boiler_sources(c) == 2);
	CHECK(rd_boiler_load(c, "/nonexistent/boiler") < 0);
	unlink(path);
	rd_boiler_free(b);
	rd_boiler_free(c);

	/* a source's table grows as it fills (it starts small): 3,000 blocks with room for
	 * 2,000, learned, saved and loaded, the recurring one still known after all that */
	struct rd_boiler_opts big = {.max_sources = 4, .max_entries = 2000, .min_docs = 2,
	                             .window = 100000};
	b = rd_boiler_new(&big);
	fp[0] = banner;
	for (uint64_t k = 0; k < 3000; k++) {
		fp[1] = 90000 + k;
		rd_boiler_check_and_learn(b, "grows", fp, 2, is);
	}
	CHECK(rd_boiler_entries(b, "grows") <= 2000 && rd_boiler_entries(b, "grows") > 100);
	char path2[] = "/tmp/fm-boiler-XXXXXX";
	fd = mkstemp(path2);
	CHECK(fd >= 0);
	close(fd);
	CHECK(rd_boiler_save(b, path2) == 0);
	c = rd_boiler_new(&big);
	CHECK(rd_boiler_load(c, path2) == 0);
	CHECK(rd_boiler_entries(c, "grows") == rd_boiler_entries(b, "grows"));
	fp[1] = 123456789;
	CHECK(rd_boiler_check_and_learn(c, "grows", fp, 2, is) == 1 && is[0] && !is[1]);
	unlink(path2);
	rd_boiler_free(b);
	rd_boiler_free(c);
}

static void test_text(void)
{
	size_t n;
	const char *in = "a\xC2\xAD" "b\xE2\x80\x8B" "c  d\n\n\n e\r\nf";
	char *t = fm_text_normalize(in, strlen(in), 0, &n);
	CHECK(t && !strcmp(t, "abc d\n\ne f"));
	free(t);
	const char *fr = "Le conseil municipal a voté pour la rénovation de la place, et les "
	                 "habitants sont invités à donner leur avis sur les plans avant la fin du mois.";
	CHECK(fm_text_detect_lang(fr, strlen(fr)) && !strcmp(fm_text_detect_lang(fr, strlen(fr)), "fr"));
	CHECK(fm_text_detect_lang("ok", 2) == NULL);
}

static void test_charsets(void)
{
	struct rd_limits lim = RD_LIMITS_DEFAULT;
	struct rd_result r;
	/* windows-1252 bytes without a declaration */
	const char cp[] = "<p>Caf\xe9 cr\xe8me and cr\xeape \x93quoted\x94 for the evening service in "
	                  "the old station building, with music.</p>";
	CHECK(rd_extract_page(cp, sizeof(cp) - 1, NULL, &lim, NULL, NULL, &r) == 0);
	CHECK(r.text && strstr(r.text, "Caf\xC3\xA9 cr\xC3\xA8me") && strstr(r.text, "\xE2\x80\x9Cquoted"));
	rd_result_free(&r);
	/* a declared legacy charset */
	const char koi[] = "<meta charset=\"koi8-r\"><p>\xf0\xd2\xc9\xd7\xc5\xd4, this is a greeting "
	                   "written in the old Russian encoding, and a sentence.</p>";
	CHECK(rd_extract_page(koi, sizeof(koi) - 1, NULL, &lim, NULL, NULL, &r) == 0);
	CHECK(r.text && strstr(r.text, "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82"));
	rd_result_free(&r);
	/* NUL bytes inside */
	const char nul[] = "<p>Before\0 after the nul byte the sentence goes on for a while, as usual.</p>";
	CHECK(rd_extract_page(nul, sizeof(nul) - 1, NULL, &lim, NULL, NULL, &r) == 0);
	CHECK(r.text && strstr(r.text, "after the nul byte"));
	rd_result_free(&r);
	/* binary */
	char bin[2048];
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (char)((i * 7919) & 0xff);
	CHECK(rd_extract_page(bin, sizeof(bin), NULL, &lim, NULL, NULL, &r) == 0);
	CHECK(r.error && r.text && !*r.text);
	rd_result_free(&r);
}

static void test_huge_and_deep(void)
{
	struct rd_limits lim = RD_LIMITS_DEFAULT;
	struct rd_result r;
	/* 50 MB: cut to max_html_size, still a result */
	size_t big = 50u << 20;
	char *p = malloc(big + 1);
	const char para[] = "<p>The committee met again to discuss the harbour, and agreed on a plan.</p>\n";
	size_t k = 0;
	memcpy(p, "<html><body>", 12);
	k = 12;
	while (k + sizeof(para) < big) {
		memcpy(p + k, para, sizeof(para) - 1);
		k += sizeof(para) - 1;
	}
	p[k] = 0;
	CHECK(rd_extract_page(p, k, NULL, &lim, NULL, NULL, &r) == 0);
	CHECK(r.truncated);
	CHECK(r.text && strstr(r.text, "agreed on a plan."));
	rd_result_free(&r);
	free(p);

	/* 100,000 nested elements around the text, then a paragraph after them */
	size_t depth = 100000;
	p = malloc(depth * 11 + 1024);
	k = 0;
	k += (size_t)sprintf(p + k, "<html><body><p>An opening paragraph that stands before the "
	                            "deep nesting, long enough to count as text, with a comma.</p>");
	for (size_t i = 0; i < depth; i++) {
		memcpy(p + k, "<div>", 5);
		k += 5;
	}
	k += (size_t)sprintf(p + k, "<p>Deep inside.</p>");
	for (size_t i = 0; i < depth; i++) {
		memcpy(p + k, "</div>", 6);
		k += 6;
	}
	p[k] = 0;
	CHECK(rd_extract_page(p, k, NULL, &lim, NULL, NULL, &r) == 0);
	CHECK(r.text && strstr(r.text, "opening paragraph"));
	rd_result_free(&r);
	/* the same with unclosed tags of many kinds */
	k = 0;
	for (size_t i = 0; i < depth; i++) {
		static const char *const t[] = {"<span>", "<b>", "<li>", "<table><tr><td>", "<a href=x>"};
		const char *s = t[i % 5];
		memcpy(p + k, s, strlen(s));
		k += strlen(s);
	}
	p[k] = 0;
	CHECK(rd_extract_page(p, k, NULL, &lim, NULL, NULL, &r) == 0);
	rd_result_free(&r);
	free(p);
}

int main(void)
{
	test_dates();
	test_learner();
	test_text();
	test_charsets();
	test_huge_and_deep();
	return fmt_done("clean_readable_unit");
}
