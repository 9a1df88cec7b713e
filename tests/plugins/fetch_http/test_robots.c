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
	struct want wants[12]; /* up to the first NULL target */
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
	  {"/folder/keep.pdf", true}, {"/tmpfile", false}, {"/a$b/c", false}, {"/ab", true},
	  {NULL, false}}},

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

int main(void)
{
	test_table();
	test_line_ends_bom_nul();
	test_long_lines();
	return fmt_done("fetch_http_robots");
}
