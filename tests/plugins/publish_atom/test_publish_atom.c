/* publish_atom through the host API: the feed parses as XML (libxml2), holds the latest N in
 * order, escapes hostile text, survives a restart, and replaces redelivered documents. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <feedmill/plugin.h>

#include "harness.h"

static char dir[] = "/tmp/fmt-atom-XXXXXX";
static char *feed_path, *state_path;

static fmt_stage *open_stage(const char *extra)
{
	char *ps = NULL;
	if (asprintf(&ps, "path=%s", feed_path) < 0)
		abort();
	const char *settings[] = {ps, "max_entries=3", "fsync=no", "title=Test & <feed>", extra,
	                          NULL};
	fmt_stage *s = fmt_stage_open("publish_atom", settings, state_path);
	free(ps);
	CHECK(s != NULL);
	return s;
}

static void process(fmt_stage *s, json_t *doc)
{
	json_t *out = NULL;
	CHECK(fmt_stage_process(s, doc, &out, NULL) == FM_PASS);
	CHECK(json_array_size(out) == 1);
	json_decref(out);
}

/* Parse the feed; NULL (and a failed check) when it is not well-formed. No network, no
 * entity substitution. */
static xmlDocPtr parse_feed(void)
{
	xmlDocPtr d = xmlReadFile(feed_path, NULL, XML_PARSE_NONET);
	CHECK(d != NULL);
	return d;
}

/* Text of the XPath expression's first node (caller frees), NULL when absent. */
static char *xp_text(xmlDocPtr d, const char *expr)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(d);
	xmlXPathRegisterNs(ctx, BAD_CAST "a", BAD_CAST "http://www.w3.org/2005/Atom");
	xmlXPathObjectPtr r = xmlXPathEvalExpression(BAD_CAST expr, ctx);
	char *s = NULL;
	if (r && r->nodesetval && r->nodesetval->nodeNr > 0)
		s = (char *)xmlNodeGetContent(r->nodesetval->nodeTab[0]);
	xmlXPathFreeObject(r);
	xmlXPathFreeContext(ctx);
	return s;
}

static int xp_count(xmlDocPtr d, const char *expr)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(d);
	xmlXPathRegisterNs(ctx, BAD_CAST "a", BAD_CAST "http://www.w3.org/2005/Atom");
	xmlXPathObjectPtr r = xmlXPathEvalExpression(BAD_CAST expr, ctx);
	int n = r && r->nodesetval ? r->nodesetval->nodeNr : -1;
	xmlXPathFreeObject(r);
	xmlXPathFreeContext(ctx);
	return n;
}

#define CHECK_XP(d, expr, expected)                                                              \
	do {                                                                                     \
		char *got_ = xp_text(d, expr);                                                   \
		CHECK_STR(got_, expected);                                                       \
		xmlFree(got_);                                                                   \
	} while (0)

static json_t *doc_n(int n)
{
	char id[64], title[64];
	snprintf(id, sizeof(id), "https://news.example.net/story/%d", n);
	snprintf(title, sizeof(title), "Story number %d", n);
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "url", id, "title", title,
	                 "published", "2025-03-01T10:00:00Z", "text", "Body text.");
}

static const char hostile_title[] = "<script>alert(1)</script> & \"quotes\" ]]> \x01\x1f end";
static const char hostile_html[] = "<p>Fish &amp; chips</p><![CDATA[x]]><!-- c -->\x0b";

static void test_feed(void)
{
	fmt_stage *s = open_stage(NULL);
	if (!s)
		return;
	/* Before any document the feed exists and is valid, with no entries. */
	xmlDocPtr d = parse_feed();
	if (d) {
		CHECK(xp_count(d, "/a:feed/a:entry") == 0);
		CHECK_XP(d, "/a:feed/a:title", "Test & <feed>");
		xmlFreeDoc(d);
	}
	for (int i = 1; i <= 3; i++)
		process(s, doc_n(i));
	json_t *h = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[s,s], s:[{s:s, s:s}], s:s, s:s}", "id",
	                      "business/001.txt", "title", hostile_title, "html", hostile_html,
	                      "text", "A summary with < and & in it.", "updated", "not a date",
	                      "tags", "fish & chips", "<b>", "authors", "name", "Ann O'Nymous",
	                      "email", "ann@example.net", "url", "javascript:alert(1)", "lang", "en-GB");
	process(s, h);
	fmt_stage_close(s);

	d = parse_feed();
	if (!d)
		return;
	/* Latest 3, newest first. */
	CHECK(xp_count(d, "/a:feed/a:entry") == 3);
	CHECK_XP(d, "/a:feed/a:entry[2]/a:title", "Story number 3");
	CHECK_XP(d, "/a:feed/a:entry[3]/a:title", "Story number 2");
	CHECK(xp_count(d, "/a:feed/a:entry[a:title='Story number 1']") == 0);
	/* Hostile text comes back as text, minus the characters XML cannot hold. */
	CHECK_XP(d, "/a:feed/a:entry[1]/a:title",
	         "<script>alert(1)</script> & \"quotes\" ]]>  end");
	CHECK_XP(d, "/a:feed/a:entry[1]/a:content[@type='html']",
	         "<p>Fish &amp; chips</p><![CDATA[x]]><!-- c -->");
	CHECK_XP(d, "/a:feed/a:entry[1]/a:summary", "A summary with < and & in it.");
	CHECK_XP(d, "/a:feed/a:entry[1]/a:category[1]/@term", "fish & chips");
	CHECK_XP(d, "/a:feed/a:entry[1]/a:category[2]/@term", "<b>");
	CHECK_XP(d, "/a:feed/a:entry[1]/a:author/a:name", "Ann O'Nymous");
	CHECK_XP(d, "/a:feed/a:entry[1]/@xml:lang", "en-GB");
	/* A non-IRI id becomes a urn; a javascript: URL is never a link. */
	CHECK_XP(d, "/a:feed/a:entry[1]/a:id", "urn:feedmill:entry:business%2F001.txt");
	CHECK(xp_count(d, "/a:feed/a:entry[1]/a:link") == 0);
	/* An unusable date falls back to a valid one; required elements are all there. */
	char *upd = xp_text(d, "/a:feed/a:entry[1]/a:updated");
	CHECK(upd && strlen(upd) == 20 && upd[10] == 'T' && upd[19] == 'Z');
	xmlFree(upd);
	CHECK_XP(d, "/a:feed/a:entry[2]/a:id", "https://news.example.net/story/3");
	CHECK_XP(d, "/a:feed/a:entry[2]/a:link[@rel='alternate']/@href",
	         "https://news.example.net/story/3");
	CHECK_XP(d, "/a:feed/a:entry[2]/a:updated", "2025-03-01T10:00:00Z");
	CHECK_XP(d, "/a:feed/a:entry[2]/a:published", "2025-03-01T10:00:00Z");
	CHECK(xp_count(d, "/a:feed/a:id") == 1);
	CHECK(xp_count(d, "/a:feed/a:updated") == 1);
	CHECK(xp_count(d, "/a:feed/a:author/a:name") == 1);
	xmlFreeDoc(d);

	/* Restart with the same state: the entries survive; one new document pushes the oldest
	 * out; a redelivered document is not listed twice. */
	s = open_stage(NULL);
	if (!s)
		return;
	process(s, doc_n(4));
	process(s, doc_n(3));
	fmt_stage_close(s);
	d = parse_feed();
	if (!d)
		return;
	CHECK(xp_count(d, "/a:feed/a:entry") == 3);
	CHECK_XP(d, "/a:feed/a:entry[1]/a:title", "Story number 4");
	CHECK_XP(d, "/a:feed/a:entry[2]/a:id", "urn:feedmill:entry:business%2F001.txt");
	CHECK_XP(d, "/a:feed/a:entry[3]/a:title", "Story number 3");
	xmlFreeDoc(d);

	/* A smaller max_entries after a restart trims the feed at once. */
	char *ps = NULL;
	if (asprintf(&ps, "path=%s", feed_path) < 0)
		abort();
	const char *settings[] = {ps, "max_entries=1", "fsync=no", NULL};
	s = fmt_stage_open("publish_atom", settings, state_path);
	CHECK(s != NULL);
	fmt_stage_close(s);
	free(ps);
	d = parse_feed();
	if (d) {
		CHECK(xp_count(d, "/a:feed/a:entry") == 1);
		xmlFreeDoc(d);
	}
	/* No temporary file is left beside the feed. */
	char *tmp = NULL;
	if (asprintf(&tmp, "%s/.feed.xml.tmp", dir) >= 0)
		CHECK(access(tmp, F_OK) != 0);
	free(tmp);
}

/* A feed in a folder that does not exist yet: the folder is made. */
static void test_new_folder(void)
{
	char *p = NULL, *ps = NULL, *st = NULL;
	if (asprintf(&p, "%s/new/sub/feed.xml", dir) < 0 || asprintf(&ps, "path=%s", p) < 0 ||
	    asprintf(&st, "%s/state-new", dir) < 0)
		abort();
	const char *settings[] = {ps, "fsync=no", NULL};
	fmt_stage *s = fmt_stage_open("publish_atom", settings, st);
	CHECK(s != NULL);
	if (s) {
		process(s, doc_n(7));
		fmt_stage_close(s);
	}
	xmlDocPtr d = xmlReadFile(p, NULL, XML_PARSE_NONET);
	CHECK(d != NULL);
	xmlFreeDoc(d);
	free(p);
	free(ps);
	free(st);
}

/* A feed that cannot be written: documents are handed back (FM_RETRY), not lost. */
static void test_write_error(void)
{
	char *ro = NULL, *ps = NULL, *st = NULL;
	/* A folder that is really a file: the feed cannot be written there. (A folder that does
	 * not exist is created.) */
	if (asprintf(&ro, "%s/plain-file", dir) < 0)
		abort();
	FILE *f = fopen(ro, "w");
	if (f)
		fclose(f);
	free(ro);
	if (asprintf(&ro, "%s/plain-file/feed.xml", dir) < 0 || asprintf(&ps, "path=%s", ro) < 0 ||
	    asprintf(&st, "%s/state-err", dir) < 0)
		abort();
	const char *settings[] = {ps, "fsync=no", "flush_interval=0", NULL};
	fmt_stage *s = fmt_stage_open("publish_atom", settings, st);
	CHECK(s != NULL);
	if (s) {
		json_t *out = NULL;
		CHECK(fmt_stage_process(s, doc_n(9), &out, NULL) == FM_RETRY);
		json_decref(out);
		fmt_stage_close(s);
	}
	free(ro);
	free(ps);
	free(st);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	if (asprintf(&feed_path, "%s/feed.xml", dir) < 0 || asprintf(&state_path, "%s/state", dir) < 0)
		return 1;
	test_feed();
	test_new_folder();
	test_write_error();
	char *cmd = NULL;
	if (fmt_failures == 0 && asprintf(&cmd, "rm -rf '%s'", dir) >= 0)
		(void)system(cmd);
	free(cmd);
	free(feed_path);
	free(state_path);
	xmlCleanupParser();
	return fmt_done("publish_atom");
}
