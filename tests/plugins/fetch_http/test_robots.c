/*
 * Unit tests of robots.txt for full-article pages (plugins/fetch_http/robots.c): the rules of
 * RFC 9309 on robots.txt files written for these tests, the edges of the format, the bounds,
 * and the per-origin cache (fetch outcomes, expiry, PENDING, LRU and byte eviction).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "robots.h"

#define DAY ((int64_t)24 * 3600 * 1000)
#define HOUR ((int64_t)3600 * 1000)

struct want {
	const char *target;
	bool allow;
};

struct table_case {
	const char *name;
	const char *agent;
	const char *body;
	struct want wants[16]; /* up to the first NULL target */
};

/* Groups: ours wins over "*" wholesale, matching is by product token, case-insensitively. */
static const char groups_txt[] =
	"# the newsroom's robots.txt\n"
	"User-agent: *\n"
	"Disallow: /drafts/\n"
	"Allow: /drafts/public/\n"
	"\n"
	"User-agent: feedmill\n"
	"Disallow: /archive\n"
	"Allow: /archive/today\n";

static const struct table_case cases[] = {
	{"our group replaces the star group", "feedmill", groups_txt,
	 {{"/drafts/x.html", true}, {"/archive/2020/a", false}, {"/archive", false},
	  {"/archived", false}, {"/archive/today/a", true}, {"/", true}, {NULL, false}}},
	{"product token of a User-Agent, any case", "FeedMill/2.0 (+https://x.example)", groups_txt,
	 {{"/archive/1", false}, {"/drafts/x", true}, {NULL, false}}},
	{"another agent gets the star group", "otherbot", groups_txt,
	 {{"/drafts/x", false}, {"/drafts/public/y", true}, {"/archive/1", true}, {NULL, false}}},
	{"no agent at all gets the star group", NULL, groups_txt,
	 {{"/drafts/x", false}, {"/archive/1", true}, {NULL, false}}},
	{"a longer token is another agent", "feedmill-beta", groups_txt,
	 {{"/drafts/x", false}, {"/archive/1", true}, {NULL, false}}},

	{"longest match wins, allow wins a tie", "feedmill",
	 "User-agent: *\n"
	 "Disallow: /page\n"
	 "Allow: /page\n"
	 "Disallow: /shop/\n"
	 "Allow: /shop\n"
	 "Allow: /lists/\n"
	 "Disallow: /lists/private\n",
	 {{"/page", true}, {"/pages/2", true}, {"/shop/cart", false}, {"/shop", true},
	  {"/lists/a", true}, {"/lists/private/b", false}, {NULL, false}}},

	{"wildcards and the end anchor", "feedmill",
	 "User-agent: *\n"
	 "Allow: /folder/*.html\n"
	 "Disallow: /folder/\n"
	 "Disallow: /*.pdf$\n"
	 "Allow: /folder/keep.pdf$\n"
	 "Disallow: /tmp*\n"
	 "Disallow: /a$b\n",
	 {{"/folder/a.html", true}, {"/folder/a.htm", false}, {"/folder/sub/b.html?x=1", true},
	  {"/doc.pdf", false}, {"/x/doc.pdf", false}, {"/doc.pdf?x=1", true}, {"/doc.pdfx", true},
	  {"/folder/keep.pdf", true}, {"/folder/keep.pdfs", false}, {"/tmpfile", false},
	  {"/a$b/c", false}, {"/ab", true}, {NULL, false}}},

	{"a lone star pattern, and a star group in the middle", "feedmill",
	 "User-agent: *\n"
	 "Disallow: *\n"
	 "Allow: /*/open/*$\n",
	 {{"/", false}, {"/x/open/y", true}, {"/open/y", false}, {NULL, false}}},

	{"field names in any case, spaces, comments, unknown lines", "feedmill",
	 "USER-AGENT :   FEEDMILL   # that is us\n"
	 "  DisAllow:/private   # comment after a rule\n"
	 "\tALLOW\t:\t/private/ok\n"
	 "Sitemap: https://news.example/sitemap.xml\n"
	 "unknown-field: /public\n"
	 "Disallow /nocolon\n"
	 "Noindex: /public\n",
	 {{"/private/x", false}, {"/private/ok", true}, {"/public", true}, {"/nocolon", true},
	  {NULL, false}}},

	{"empty file allows everything", "feedmill", "",
	 {{"/", true}, {"/anything", true}, {NULL, false}}},
	{"comments only allow everything", "feedmill", "# nothing here\n#Disallow: /\n",
	 {{"/", true}, {NULL, false}}},
	{"rules outside any group are ignored", "feedmill", "Disallow: /\nAllow: /x\n",
	 {{"/", true}, {"/y", true}, {NULL, false}}},
	{"no group for us nor star", "feedmill", "User-agent: otherbot\nDisallow: /\n",
	 {{"/", true}, {"/a", true}, {NULL, false}}},
	{"an empty disallow disallows nothing", "feedmill", "User-agent: *\nDisallow:\n",
	 {{"/", true}, {"/a", true}, {NULL, false}}},

	{"groups for us are merged", "feedmill",
	 "User-agent: feedmill\n"
	 "Disallow: /one\n"
	 "\n"
	 "User-agent: otherbot\n"
	 "Disallow: /two\n"
	 "\n"
	 "User-agent: FEEDMILL\n"
	 "Disallow: /three\n",
	 {{"/one", false}, {"/two", true}, {"/three", false}, {NULL, false}}},
	{"user-agent lines in a row, blank lines between, make one group", "feedmill",
	 "User-agent: feedmill\n"
	 "\n"
	 "User-agent: alpha\n"
	 "Disallow: /shared\n"
	 "User-agent: beta\n"
	 "Disallow: /beta-only\n",
	 {{"/shared/a", false}, {"/beta-only", true}, {NULL, false}}},
	{"one group for us and star", "otherbot",
	 "User-agent: feedmill\n"
	 "User-agent: *\n"
	 "Disallow: /both\n",
	 {{"/both", false}, {"/other", true}, {NULL, false}}},
	{"our group without rules allows everything, whatever star says", "feedmill",
	 "User-agent: *\n"
	 "Disallow: /\n"
	 "\n"
	 "User-agent: feedmill\n",
	 {{"/", true}, {"/a", true}, {NULL, false}}},
	{"a crawl-delay ends the user-agent lines of its group", "feedmill",
	 "User-agent: feedmill\n"
	 "Crawl-delay: 5\n"
	 "User-agent: alpha\n"
	 "Disallow: /alpha\n"
	 "User-agent: feedmill\n"
	 "Disallow: /x\n",
	 {{"/x", false}, {"/alpha", true}, {NULL, false}}},

	{"percent-encoding: unreserved decoded, reserved kept, hex case", "feedmill",
	 "User-agent: *\n"
	 "Disallow: /caf%c3%a9\n"
	 "Disallow: /%7Euser\n"
	 "Disallow: /~admin\n"
	 "Disallow: /a%2Fb\n"
	 "Disallow: /\xC3\xBC" "ber\n"
	 "Disallow: /file-%2A.html\n"
	 "Disallow: /price%24\n"
	 "Disallow: /100%\n",
	 {{"/caf\xC3\xA9/x", false}, {"/caf%C3%A9", false}, {"/~user/p", false},
	  {"/%7eadmin", false}, {"/a%2fb", false}, {"/a/b", true}, {"/%C3%BCber", false},
	  {"/file-*.html", false}, {"/file-x.html", true}, {"/price$", false},
	  {"/100%25", false}, {NULL, false}}},
	{"a pattern without its slash", "feedmill", "User-agent: *\nDisallow: private/\n",
	 {{"/private/a", false}, {"/public", true}, {NULL, false}}},

	{"query strings are part of the target", "feedmill",
	 "User-agent: *\n"
	 "Disallow: /search?\n"
	 "Disallow: /*?sessionid=\n"
	 "Disallow: /*&print=1$\n"
	 "Disallow: /?\n",
	 {{"/search?q=1", false}, {"/search/x", true}, {"/a/b?sessionid=3", false},
	  {"/a/b?s=1&sessionid=3", true}, {"/a?x=2&print=1", false}, {"/a?x=2&print=10", true},
	  {"?q", false}, {"", true}, {NULL, false}}},

	{"robots.txt is always allowed", "feedmill", "User-agent: *\nDisallow: /\n",
	 {{"/robots.txt", true}, {"/robots.txt.bak", false}, {"/", false}, {NULL, false}}},
};

static void check_case(const struct table_case *tc)
{
	struct fm_robots_limits lim = {.agent = tc->agent};
	struct fm_robots_rules *r = NULL;
	int rc = fm_robots_parse(tc->body, strlen(tc->body), &lim, &r, NULL);
	if (rc != 0) {
		fprintf(stderr, "%s: parse returned %d\n", tc->name, rc);
		fmt_failures++;
		return;
	}
	for (const struct want *w = tc->wants; w->target; w++) {
		bool got = fm_robots_rules_allow(r, w->target, strlen(w->target));
		if (got != w->allow) {
			fprintf(stderr, "%s: \"%s\" %s, expected %s\n", tc->name, w->target,
			        got ? "allowed" : "disallowed", w->allow ? "allowed" : "disallowed");
			fmt_failures++;
		}
	}
	fm_robots_rules_free(r);
}

static void test_table(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i]);
}

/* Parse body (len bytes) for feedmill; whether target is allowed. */
static bool allows(const char *body, size_t len, const char *target)
{
	struct fm_robots_limits lim = {.agent = "feedmill"};
	struct fm_robots_rules *r = NULL;
	if (fm_robots_parse(body, len, &lim, &r, NULL) != 0) {
		fmt_failures++;
		return false;
	}
	bool ok = fm_robots_rules_allow(r, target, strlen(target));
	fm_robots_rules_free(r);
	return ok;
}

static void test_line_ends_bom_nul(void)
{
	static const char crlf[] = "User-agent: *\r\nDisallow: /crlf\r\nAllow: /crlf/ok\r\n";
	CHECK(!allows(crlf, strlen(crlf), "/crlf/a"));
	CHECK(allows(crlf, strlen(crlf), "/crlf/ok"));
	static const char cr[] = "User-agent: *\rDisallow: /cr\rAllow: /cr/ok";
	CHECK(!allows(cr, strlen(cr), "/cr/a"));
	CHECK(allows(cr, strlen(cr), "/cr/ok")); /* the last line has no end */
	static const char bom[] = "\xEF\xBB\xBFUser-agent: *\nDisallow: /bom\n";
	CHECK(!allows(bom, strlen(bom), "/bom"));
	/* a NUL is a byte like another: the line holding it is not a rule we know */
	static const char nul[] = "User-agent: *\nDis\0allow: /a\nDisallow: /b\n";
	CHECK(allows(nul, sizeof(nul) - 1, "/a"));
	CHECK(!allows(nul, sizeof(nul) - 1, "/b"));
	/* no body at all */
	struct fm_robots_rules *r = NULL;
	CHECK(fm_robots_parse(NULL, 0, NULL, &r, NULL) == 0 && r);
	if (r)
		CHECK(fm_robots_rules_allow(r, "/x", 2));
	fm_robots_rules_free(r);
	CHECK(fm_robots_parse(NULL, 5, NULL, &r, NULL) == -EINVAL);
}

static void test_long_lines(void)
{
	/* a 100 KiB comment line, then a 20 KiB pattern that must still match */
	size_t plen = 20000;
	char *pat = malloc(plen + 1);
	for (size_t i = 0; i < plen; i++)
		pat[i] = (char)('a' + i % 26);
	pat[0] = '/';
	pat[plen] = '\0';
	size_t cap = 200000;
	char *body = malloc(cap);
	size_t n = (size_t)snprintf(body, cap, "User-agent: *\n#");
	memset(body + n, 'c', 100000);
	n += 100000;
	n += (size_t)snprintf(body + n, cap - n, "\nDisallow: %s$\n", pat);
	CHECK(!allows(body, n, pat));
	pat[plen - 1] = '!';
	CHECK(allows(body, n, pat));
	free(body);
	free(pat);
}

/* RFC 9309 section 2.5: at least 500 KiB are parsed; past the limit nothing is, and a line
 * cut by the limit is not read as the shorter rule it would look like. */
static void test_parse_limit(void)
{
	size_t max = FM_ROBOTS_MIN_PARSE, cap = max + 4096;
	char *body = malloc(cap);
	size_t n = (size_t)snprintf(body, cap, "User-agent: *\nDisallow: /early\n#");
	/* pad with a comment so that the limit falls inside "Disallow: /cut/deeper" */
	const char *cut = "\nDisallow: /cut/deeper\nDisallow: /late\n";
	size_t pad = max - n - 15; /* the first max bytes end with "\nDisallow: /cut" */
	memset(body + n, 'p', pad);
	n += pad;
	memcpy(body + n, cut, strlen(cut));
	n += strlen(cut);
	struct fm_robots_limits lim = {.agent = "feedmill"};
	struct fm_robots_rules *r = NULL;
	struct fm_robots_info info;
	CHECK(fm_robots_parse(body, n, &lim, &r, &info) == 0);
	if (r) {
		CHECK(info.truncated);
		CHECK(info.rules == 1);
		CHECK(!fm_robots_rules_allow(r, "/early", 6));
		CHECK(fm_robots_rules_allow(r, "/cut/x", 6)); /* "Disallow: /cut" was never read */
		CHECK(fm_robots_rules_allow(r, "/late", 5));
	}
	fm_robots_rules_free(r);
	/* the same body within the limit: every rule */
	lim.max_parse = cap;
	r = NULL;
	CHECK(fm_robots_parse(body, n, &lim, &r, &info) == 0);
	if (r) {
		CHECK(!info.truncated && info.rules == 3);
		CHECK(!fm_robots_rules_allow(r, "/late", 5));
	}
	fm_robots_rules_free(r);
	lim.max_parse = max - 1;
	CHECK(fm_robots_parse(body, n, &lim, &r, &info) == -EINVAL);
	free(body);
}

static void test_rule_cap_and_info(void)
{
	static const char body[] =
		"User-agent: *\nDisallow: /star\n"
		"User-agent: feedmill\n"
		"Crawl-delay: 2.5\n"
		"Disallow: /a\nDisallow: /a\nDisallow: /b\nDisallow: /c\nDisallow: /d\n";
	struct fm_robots_limits lim = {.agent = "feedmill", .max_rules = 3};
	struct fm_robots_rules *r = NULL;
	struct fm_robots_info info;
	CHECK(fm_robots_parse(body, strlen(body), &lim, &r, &info) == 0);
	if (!r)
		return;
	CHECK(info.group == FM_ROBOTS_GROUP_AGENT);
	CHECK(info.rules == 2);   /* /a twice (one kept), /b; */
	CHECK(info.dropped == 2); /* /c and /d were over the cap */
	CHECK(info.crawl_delay_ms == 2500);
	CHECK(fm_robots_rules_crawl_delay_ms(r) == 2500);
	CHECK(!fm_robots_rules_allow(r, "/b", 2));
	CHECK(fm_robots_rules_allow(r, "/c", 2));
	CHECK(fm_robots_rules_allow(r, "/star", 5));
	fm_robots_rules_free(r);

	lim.agent = "otherbot";
	CHECK(fm_robots_parse(body, strlen(body), &lim, &r, &info) == 0);
	CHECK(info.group == FM_ROBOTS_GROUP_STAR && info.rules == 1 && info.crawl_delay_ms == 0);
	fm_robots_rules_free(r);
	CHECK(fm_robots_parse("User-agent: x\nDisallow: /\n", 25, &lim, &r, &info) == 0);
	CHECK(info.group == FM_ROBOTS_GROUP_NONE && info.rules == 0);
	fm_robots_rules_free(r);
}

static int64_t delay_of(const char *body)
{
	struct fm_robots_limits lim = {.agent = "feedmill"};
	struct fm_robots_rules *r = NULL;
	if (fm_robots_parse(body, strlen(body), &lim, &r, NULL) != 0)
		return -99;
	int64_t d = fm_robots_rules_crawl_delay_ms(r);
	fm_robots_rules_free(r);
	return d;
}

static void test_crawl_delay(void)
{
	CHECK(delay_of("User-agent: *\nCrawl-delay: 4\n") == 4000);
	CHECK(delay_of("User-agent: *\ncrawl-DELAY:0.25 # fast\n") == 250);
	CHECK(delay_of("User-agent: *\nCrawl-delay: soon\n") == 0);
	CHECK(delay_of("User-agent: *\nCrawl-delay: -3\n") == 0);
	CHECK(delay_of("User-agent: *\nCrawl-delay: 5s\n") == 0);
	CHECK(delay_of("User-agent: *\nCrawl-delay: 99999999999999999999\n") == DAY);
	/* our groups: the largest; star's does not count once a group names us */
	CHECK(delay_of("User-agent: *\nCrawl-delay: 30\n\nUser-agent: feedmill\nCrawl-delay: 2\n"
	               "User-agent: x\nUser-agent: feedmill\nCrawl-delay: 7\n") == 7000);
	CHECK(delay_of("Crawl-delay: 9\nUser-agent: *\nDisallow: /x\n") == 0);
}

/* ---- The cache ---- */

static enum fm_robots_verdict look(struct fm_robots_cache *c, const char *url, int64_t now)
{
	enum fm_robots_verdict v = (enum fm_robots_verdict)-1;
	int rc = fm_robots_lookup(c, url, now, &v);
	if (rc != 0) {
		fprintf(stderr, "lookup %s: %d\n", url, rc);
		fmt_failures++;
	}
	return v;
}

static struct fm_robots_cache *new_cache(size_t max_entries)
{
	struct fm_robots_limits lim = {.agent = "feedmill/0.1", .max_entries = max_entries};
	struct fm_robots_cache *c = NULL;
	CHECK(fm_robots_cache_new(&lim, &c) == 0 && c);
	return c;
}

static const char news_txt[] = "User-agent: feedmill\nDisallow: /private/\nCrawl-delay: 3\n";

static void test_cache_fetch_cycle(void)
{
	struct fm_robots_cache *c = new_cache(0);
	if (!c)
		return;
	const char *page = "https://news.example/private/a.html";
	CHECK(look(c, page, 0) == FM_ROBOTS_UNKNOWN);
	/* the fetch is under way: other pages of that origin wait for it */
	CHECK(look(c, "https://NEWS.example:443/b#frag", 10) == FM_ROBOTS_PENDING);
	/* robots.txt itself needs no robots.txt */
	CHECK(look(c, "https://other.example/robots.txt", 10) == FM_ROBOTS_ALLOWED);
	CHECK(fm_robots_cache_entries(c) == 1);
	struct fm_robots_info info;
	CHECK(fm_robots_store(c, "https://news.example/robots.txt", 200, news_txt,
	                      strlen(news_txt), 20, &info) == 0);
	CHECK(info.group == FM_ROBOTS_GROUP_AGENT && info.rules == 1);
	CHECK(look(c, page, 30) == FM_ROBOTS_DISALLOWED);
	CHECK(look(c, "https://news.example/public/a.html", 30) == FM_ROBOTS_ALLOWED);
	CHECK(look(c, "https://user:pw@News.Example/private/", 30) == FM_ROBOTS_DISALLOWED);
	/* another scheme or port is another origin */
	CHECK(look(c, "http://news.example/private/a.html", 30) == FM_ROBOTS_UNKNOWN);
	CHECK(look(c, "https://news.example:8443/private/a.html", 30) == FM_ROBOTS_UNKNOWN);
	CHECK(fm_robots_crawl_delay_ms(c, page) == 3000);
	CHECK(fm_robots_crawl_delay_ms(c, "https://unknown.example/") == 0);
	CHECK(fm_robots_crawl_delay_ms(c, "not a url") == 0);
	/* RFC 9309 section 2.4: not used past 24 hours; then fetched again */
	CHECK(look(c, page, 20 + DAY - 1) == FM_ROBOTS_DISALLOWED);
	CHECK(look(c, page, 20 + DAY) == FM_ROBOTS_UNKNOWN);
	CHECK(look(c, page, 20 + DAY + 1) == FM_ROBOTS_PENDING);
	/* a fetch that never stores: after fetch_timeout (2 min) someone asks again */
	CHECK(look(c, page, 20 + DAY + 120000 - 1) == FM_ROBOTS_PENDING);
	CHECK(look(c, page, 20 + DAY + 120000) == FM_ROBOTS_UNKNOWN);
	enum fm_robots_verdict v;
	CHECK(fm_robots_lookup(c, "ftp://news.example/x", 0, &v) == -EINVAL);
	CHECK(fm_robots_lookup(c, "/relative/x", 0, &v) == -EINVAL);
	CHECK(fm_robots_store(c, "mailto:x@y", 200, "", 0, 0, NULL) == -EINVAL);
	fm_robots_cache_free(c);
}

/* RFC 9309 section 2.3.1: what each fetch outcome means for the pages of the origin. */
static void test_cache_outcomes(void)
{
	static const struct {
		long status;
		enum fm_robots_verdict page;
	} outcomes[] = {
		{404, FM_ROBOTS_ALLOWED},     {410, FM_ROBOTS_ALLOWED},    {401, FM_ROBOTS_ALLOWED},
		{403, FM_ROBOTS_ALLOWED},     {302, FM_ROBOTS_ALLOWED},    {-ELOOP, FM_ROBOTS_ALLOWED},
		{500, FM_ROBOTS_DISALLOWED},  {503, FM_ROBOTS_DISALLOWED}, {429, FM_ROBOTS_DISALLOWED},
		{0, FM_ROBOTS_DISALLOWED},    {-ETIMEDOUT, FM_ROBOTS_DISALLOWED},
		{-ECONNREFUSED, FM_ROBOTS_DISALLOWED},
		{304, FM_ROBOTS_DISALLOWED}, /* not modified, but nothing is held: unreachable */
	};
	for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++) {
		struct fm_robots_cache *c = new_cache(0);
		if (!c)
			return;
		const char *page = "http://site.example/article/1";
		/* a body that would disallow everything, to show it is not read */
		const char *body = "User-agent: *\nDisallow: /\n";
		CHECK(fm_robots_store(c, page, outcomes[i].status, body, strlen(body), 0, NULL) == 0);
		if (look(c, page, 1) != outcomes[i].page) {
			fprintf(stderr, "status %ld: wrong verdict\n", outcomes[i].status);
			fmt_failures++;
		}
		/* unreachable stands for retry_ms (1 h); unavailable for max_age_ms (24 h) */
		int64_t until = outcomes[i].page == FM_ROBOTS_ALLOWED ? DAY : HOUR;
		CHECK(look(c, page, until - 1) == outcomes[i].page);
		CHECK(look(c, page, until) == FM_ROBOTS_UNKNOWN);
		fm_robots_cache_free(c);
	}
	/* a 2xx without a body allows everything */
	struct fm_robots_cache *c = new_cache(0);
	if (!c)
		return;
	CHECK(fm_robots_store(c, "http://e.example/", 204, NULL, 0, 0, NULL) == 0);
	CHECK(look(c, "http://e.example/a", 1) == FM_ROBOTS_ALLOWED);
	fm_robots_cache_free(c);
}

/* An origin whose robots.txt becomes unreachable keeps its last copy for retry_ms (RFC 9309
 * section 2.4); with no copy, everything is disallowed. */
static void test_cache_unreachable_keeps_copy(void)
{
	struct fm_robots_cache *c = new_cache(0);
	if (!c)
		return;
	const char *priv = "https://news.example/private/x", *pub = "https://news.example/pub/x";
	CHECK(fm_robots_store(c, priv, 200, news_txt, strlen(news_txt), 0, NULL) == 0);
	CHECK(look(c, pub, DAY) == FM_ROBOTS_UNKNOWN);
	CHECK(fm_robots_store(c, priv, 503, NULL, 0, DAY, NULL) == 0);
	CHECK(look(c, pub, DAY + 1) == FM_ROBOTS_ALLOWED);
	CHECK(look(c, priv, DAY + 1) == FM_ROBOTS_DISALLOWED);
	CHECK(fm_robots_crawl_delay_ms(c, pub) == 3000);
	CHECK(look(c, pub, DAY + HOUR) == FM_ROBOTS_UNKNOWN);
	/* reachable again, now with a 404: everything allowed, the old rules gone */
	CHECK(fm_robots_store(c, priv, 404, NULL, 0, DAY + HOUR, NULL) == 0);
	CHECK(look(c, priv, DAY + HOUR + 1) == FM_ROBOTS_ALLOWED);
	CHECK(fm_robots_crawl_delay_ms(c, pub) == 0);
	fm_robots_cache_free(c);
}

/* A 304 to a conditional GET renews the copy held for another max_age. */
static void test_cache_not_modified(void)
{
	struct fm_robots_cache *c = new_cache(0);
	if (!c)
		return;
	const char *priv = "https://news.example/private/x", *pub = "https://news.example/pub/x";
	CHECK(fm_robots_store(c, priv, 200, news_txt, strlen(news_txt), 0, NULL) == 0);
	CHECK(look(c, priv, DAY) == FM_ROBOTS_UNKNOWN);
	CHECK(fm_robots_store(c, priv, 304, NULL, 0, DAY, NULL) == 0);
	CHECK(look(c, priv, DAY + 1) == FM_ROBOTS_DISALLOWED);
	CHECK(look(c, pub, 2 * DAY - 1) == FM_ROBOTS_ALLOWED);
	CHECK(look(c, pub, 2 * DAY) == FM_ROBOTS_UNKNOWN);
	fm_robots_cache_free(c);
}

static void test_cache_lru(void)
{
	struct fm_robots_cache *c = new_cache(3);
	if (!c)
		return;
	const char *body = "User-agent: *\nDisallow: /no\n";
	const char *hosts[] = {"http://a.example/no", "http://b.example/no", "http://c.example/no",
	                       "http://d.example/no"};
	for (int i = 0; i < 3; i++)
		CHECK(fm_robots_store(c, hosts[i], 200, body, strlen(body), 0, NULL) == 0);
	CHECK(look(c, hosts[0], 1) == FM_ROBOTS_DISALLOWED); /* a is now the most recent */
	CHECK(fm_robots_store(c, hosts[3], 200, body, strlen(body), 2, NULL) == 0);
	CHECK(fm_robots_cache_entries(c) == 3);
	CHECK(look(c, hosts[0], 3) == FM_ROBOTS_DISALLOWED);
	CHECK(look(c, hosts[2], 3) == FM_ROBOTS_DISALLOWED);
	CHECK(look(c, hosts[3], 3) == FM_ROBOTS_DISALLOWED);
	CHECK(look(c, hosts[1], 3) == FM_ROBOTS_UNKNOWN); /* b was the least recently used */
	CHECK(fm_robots_cache_entries(c) == 3);
	fm_robots_cache_free(c);
}

/* Large robots.txt files push older origins out so the cache stays within max_bytes. */
static void test_cache_bytes(void)
{
	struct fm_robots_limits lim = {.agent = "feedmill", .max_bytes = (size_t)1 << 20};
	struct fm_robots_cache *c = NULL;
	CHECK(fm_robots_cache_new(&lim, &c) == -EINVAL); /* cannot hold one 500 KiB file */
	lim.max_bytes = (size_t)2 << 20;
	CHECK(fm_robots_cache_new(&lim, &c) == 0 && c);
	if (!c)
		return;
	/* 400 KiB of patterns each, 3 bytes each in normal form: about 1.2 MB per origin */
	size_t cap = 420 * 1024;
	char *body = malloc(cap);
	size_t n = (size_t)snprintf(body, cap, "User-agent: *\nDisallow: /");
	memset(body + n, 0xE9, 400 * 1024); /* bytes outside ASCII: 3 bytes each */
	n += 400 * 1024;
	for (int i = 0; i < 4; i++) {
		char url[64];
		snprintf(url, sizeof(url), "https://big%d.example/", i);
		CHECK(fm_robots_store(c, url, 200, body, n, i, NULL) == 0);
		CHECK(fm_robots_cache_bytes(c) <= lim.max_bytes);
	}
	CHECK(fm_robots_cache_entries(c) == 1);
	CHECK(look(c, "https://big3.example/x", 5) == FM_ROBOTS_ALLOWED);
	CHECK(look(c, "https://big0.example/x", 5) == FM_ROBOTS_UNKNOWN);
	free(body);
	fm_robots_cache_free(c);
}

static void test_limits(void)
{
	struct fm_robots_cache *c = NULL;
	CHECK(fm_robots_cache_new(NULL, &c) == 0 && c);
	fm_robots_cache_free(c);
	struct fm_robots_limits lim = {.max_age_ms = DAY + 1};
	CHECK(fm_robots_cache_new(&lim, &c) == -EINVAL && !c);
	lim = (struct fm_robots_limits){.max_parse = 1000};
	CHECK(fm_robots_cache_new(&lim, &c) == -EINVAL && !c);
	lim = (struct fm_robots_limits){.retry_ms = -1};
	CHECK(fm_robots_cache_new(&lim, &c) == -EINVAL && !c);
}

static void check_robots_url(const char *url, const char *want)
{
	char *got = NULL;
	int rc = fm_robots_url(url, &got);
	if (!want) {
		CHECK(rc == -EINVAL && !got);
	} else {
		CHECK(rc == 0);
		CHECK_STR(got, want);
	}
	free(got);
}

static void test_robots_url(void)
{
	check_robots_url("https://User:pw@News.Example/a/b?c=d#e", "https://news.example/robots.txt");
	check_robots_url("HTTP://h.example:8080/x", "http://h.example:8080/robots.txt");
	check_robots_url("https://h.example:443", "https://h.example/robots.txt");
	check_robots_url("http://h.example:443/", "http://h.example:443/robots.txt");
	check_robots_url("http://[2001:DB8::1]:81/p", "http://[2001:db8::1]:81/robots.txt");
	check_robots_url("  http://h.example?q  ", "http://h.example/robots.txt");
	check_robots_url("http://h.example:/p", "http://h.example/robots.txt");
	check_robots_url("ftp://h.example/", NULL);
	check_robots_url("https:///path", NULL);
	check_robots_url("http://h.example:99999/", NULL);
	check_robots_url("http://h.example:8o/", NULL);
	check_robots_url("http://[::1/", NULL);
	check_robots_url("http://h ost/", NULL);
	check_robots_url(NULL, NULL);
}

int main(void)
{
	test_table();
	test_line_ends_bom_nul();
	test_long_lines();
	test_parse_limit();
	test_rule_cap_and_info();
	test_crawl_delay();
	test_cache_fetch_cycle();
	test_cache_outcomes();
	test_cache_unreachable_keeps_copy();
	test_cache_not_modified();
	test_cache_lru();
	test_cache_bytes();
	test_limits();
	test_robots_url();
	return fmt_done("fetch_http_robots");
}
