/* publish_atom through the host API: the feed parses as XML (libxml2), holds the latest N in
 * order, escapes hostile text, survives a restart, shows a document once per revision (a
 * document delivered again, even after it left the window, changes nothing; a revision moves
 * to the top with its new <updated>), and acknowledges nothing it could not write. */
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
#include "url.h"

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

/* Every value of the XPath expression's nodes passes fm_url_is_safe_http; returns how many. */
static int all_safe(xmlDocPtr d, const char *expr)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(d);
	xmlXPathRegisterNs(ctx, BAD_CAST "a", BAD_CAST "http://www.w3.org/2005/Atom");
	xmlXPathObjectPtr r = xmlXPathEvalExpression(BAD_CAST expr, ctx);
	int n = r && r->nodesetval ? r->nodesetval->nodeNr : 0;
	for (int i = 0; i < n; i++) {
		char *v = (char *)xmlNodeGetContent(r->nodesetval->nodeTab[i]);
		if (!fm_url_is_safe_http(v))
			fprintf(stderr, "  unsafe %s: %s\n", expr, v ? v : "(null)");
		CHECK(fm_url_is_safe_http(v));
		xmlFree(v);
	}
	xmlXPathFreeObject(r);
	xmlXPathFreeContext(ctx);
	return n;
}

/* Hostile links in any spelling never become an href or a uri of the feed, nor an id a
 * reader could take for a link; an https link that mentions javascript: in its path does. */
static void test_hostile_links(void)
{
	static const char *const links[] = {
		"javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)",
		"\x01javascript:alert(1)", "java\tscript:alert(1)", "&#106;avascript:alert(1)",
		"java&#x09;script:alert(1)", "%6Aavascript:alert(1)", "vbscript:msgbox(1)",
		"data:text/html,<script>alert(1)</script>", "https:javascript:alert(1)",
		"//evil.example/", NULL,
	};
	char *p = NULL, *ps = NULL, *st = NULL, *sf = NULL;
	if (asprintf(&p, "%s/hostile.xml", dir) < 0 || asprintf(&ps, "path=%s", p) < 0 ||
	    asprintf(&st, "%s/state-hostile", dir) < 0 || asprintf(&sf, "%s/atom-entries.json", st) < 0)
		abort();
	/* an entry list saved by an older feedmill, holding links this one refuses */
	mkdir(st, 0700);
	FILE *f = fopen(sf, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("{\"version\": 1, \"updated\": \"2025-01-01T00:00:00Z\", \"entries\": ["
		      "{\"key\": \"old-1\", \"updated\": \"2025-01-01T00:00:00Z\", \"title\": \"Old\", "
		      "\"url\": \"javascript:alert(0)\", \"authors\": [{\"name\": \"Old\", "
		      "\"uri\": \"vbscript:msgbox(0)\"}]}]}", f);
		fclose(f);
	}
	const char *settings[] = {ps, "fsync=no", "max_entries=50", NULL};
	fmt_stage *s = fmt_stage_open("publish_atom", settings, st);
	CHECK(s != NULL);
	if (!s)
		goto out;
	for (int i = 0; links[i]; i++) {
		char id[32];
		snprintf(id, sizeof(id), "hostile-%d", i);
		process(s, json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}]}", "id", id, "title", "Bad link",
		                     "url", links[i], "authors", "name", "Mallory", "uri", links[i]));
	}
	/* no id: the key must not fall back to the javascript: url */
	process(s, json_pack("{s:s, s:s, s:s}", "title", "No id", "text", "Some text.", "url",
	                     "javascript:alert(2)"));
	/* an id that is itself a javascript: URL, on an entry without a usable link */
	process(s, json_pack("{s:s, s:s}", "id", "javascript:alert(3)", "title", "Bad id"));
	process(s, json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}]}", "id", "tag:example.org,2025:good",
	                     "title", "Good", "url", "https://example.org/wiki/javascript:void(0)",
	                     "authors", "name", "Ann", "uri", "https://example.org/%6aavascript"));
	fmt_stage_close(s);

	xmlDocPtr d = xmlReadFile(p, NULL, XML_PARSE_NONET);
	CHECK(d != NULL);
	if (!d)
		goto out;
	int n_links = (int)(sizeof(links) / sizeof(links[0])) - 1;
	CHECK(xp_count(d, "/a:feed/a:entry") == n_links + 3 + 1); /* + the old one */
	CHECK(all_safe(d, "//@href") == 1);
	CHECK(all_safe(d, "//a:uri") == 1);
	CHECK_XP(d, "/a:feed/a:entry[a:title='Good']/a:link[@rel='alternate']/@href",
	         "https://example.org/wiki/javascript:void(0)");
	CHECK_XP(d, "/a:feed/a:entry[a:title='Good']/a:author/a:uri",
	         "https://example.org/%6aavascript");
	CHECK_XP(d, "/a:feed/a:entry[a:title='Good']/a:id", "tag:example.org,2025:good");
	CHECK_XP(d, "/a:feed/a:entry[a:title='Bad id']/a:id",
	         "urn:feedmill:entry:javascript%3Aalert%283%29");
	CHECK(xp_count(d, "//a:id[contains(., 'javascript:')]") == 0);
	/* an entry without a link carries its content instead (RFC 4287 4.1.2) */
	CHECK(xp_count(d, "/a:feed/a:entry[a:title='Old']/a:content") == 1);
	xmlFreeDoc(d);

	/* the feed's own links are held to the same rule: a bad one is a configuration error */
	const char *bad[] = {ps, "fsync=no", "link=javascript:alert(1)", NULL};
	s = fmt_stage_open("publish_atom", bad, st);
	CHECK(s == NULL);
	if (s)
		fmt_stage_close(s);
	const char *bad_self[] = {ps, "fsync=no", "self_link=data:text/html,x", NULL};
	s = fmt_stage_open("publish_atom", bad_self, st);
	CHECK(s == NULL);
	if (s)
		fmt_stage_close(s);
out:
	free(p);
	free(ps);
	free(st);
	free(sf);
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

/* A feed that cannot be written: the commit fails, so nothing is acknowledged (the host
 * delivers it again); once it can be written, the entry is there, once. */
static void test_write_error(void)
{
	char *ro = NULL, *ps = NULL, *st = NULL, *blocker = NULL;
	/* A folder that is really a file: the feed cannot be written there. (A folder that does
	 * not exist is created.) */
	if (asprintf(&blocker, "%s/plain-file", dir) < 0)
		abort();
	FILE *f = fopen(blocker, "w");
	if (f)
		fclose(f);
	if (asprintf(&ro, "%s/plain-file/feed.xml", dir) < 0 || asprintf(&ps, "path=%s", ro) < 0 ||
	    asprintf(&st, "%s/state-err", dir) < 0)
		abort();
	const char *settings[] = {ps, "fsync=no", NULL};
	fmt_stage *s = fmt_stage_open("publish_atom", settings, st);
	CHECK(s != NULL);
	if (s) {
		json_t *out = NULL;
		CHECK(fmt_stage_process(s, doc_n(9), &out, NULL) == FM_PASS);
		json_decref(out);
		CHECK(fmt_stage_commit(s) < 0);
		/* delivered again while failing: one entry still */
		CHECK(fmt_stage_process(s, doc_n(9), &out, NULL) == FM_PASS);
		json_decref(out);
		unlink(blocker);
		CHECK(fmt_stage_commit(s) == 0);
		fmt_stage_close(s);
		xmlDocPtr d = xmlReadFile(ro, NULL, XML_PARSE_NONET);
		CHECK(d != NULL);
		int n = 0;
		for (xmlNodePtr e = d ? xmlDocGetRootElement(d)->children : NULL; e; e = e->next)
			n += e->type == XML_ELEMENT_NODE && !xmlStrcmp(e->name, BAD_CAST "entry");
		CHECK(n == 1);
		xmlFreeDoc(d);
	}
	free(blocker);
	free(ro);
	free(ps);
	free(st);
}

static void test_revisions_and_redelivery(void)
{
	char *saved = state_path;
	if (asprintf(&state_path, "%s/state-rev", dir) < 0)
		abort();
	fmt_stage *s = open_stage(NULL);
	if (!s)
		return;
	for (int i = 1; i <= 5; i++)
		process(s, doc_n(i));
	/* story 1 left the window (3 entries): delivered again after a crash, it stays out */
	process(s, doc_n(1));
	fmt_stage_close(s);
	xmlDocPtr d = parse_feed();
	if (d) {
		CHECK(xp_count(d, "/a:feed/a:entry") == 3);
		CHECK_XP(d, "/a:feed/a:entry[1]/a:title", "Story number 5");
		CHECK(xp_count(d, "/a:feed/a:entry[a:title='Story number 1']") == 0);
		xmlFreeDoc(d);
	}
	/* the same after a restart */
	s = open_stage(NULL);
	if (!s)
		return;
	process(s, doc_n(2));
	/* a correction of story 4: it moves to the top, with its new title and <updated> */
	json_t *rev = doc_n(4);
	json_object_set_new(rev, "title", json_string("Story number 4, corrected"));
	json_object_set_new(rev, "revision", json_integer(2));
	json_object_set_new(rev, "updated", json_string("2025-03-02T09:30:00Z"));
	process(s, json_deep_copy(rev));
	process(s, rev); /* and again: nothing changes */
	fmt_stage_close(s);
	d = parse_feed();
	if (d) {
		CHECK(xp_count(d, "/a:feed/a:entry") == 3);
		CHECK_XP(d, "/a:feed/a:entry[1]/a:title", "Story number 4, corrected");
		CHECK_XP(d, "/a:feed/a:entry[1]/a:updated", "2025-03-02T09:30:00Z");
		CHECK(xp_count(d, "/a:feed/a:entry[a:title='Story number 4']") == 0);
		CHECK(xp_count(d, "/a:feed/a:entry[a:title='Story number 2']") == 0);
		xmlFreeDoc(d);
	}
	free(state_path);
	state_path = saved;
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
	test_hostile_links();
	test_revisions_and_redelivery();
	char *cmd = NULL;
	if (fmt_failures == 0 && asprintf(&cmd, "rm -rf '%s'", dir) >= 0)
		(void)system(cmd);
	free(cmd);
	free(feed_path);
	free(state_path);
	xmlCleanupParser();
	return fmt_done("publish_atom");
}
