/*
 * dedupe_similar through the host API: what a reader of the output would notice. Copies of a
 * story (republished, syndicated, edited, cut to an excerpt, synonym-spun, reached by another
 * URL) are marked or dropped; different stories in one long site template, or on one topic,
 * are not; the same document again is a replay until the outputs have it, then seen, and a
 * revision when a reader would see a change; the index survives a restart, a damaged index
 * file does not stop the stage, and the index forgets at its bounds.
 *
 * The articles in tests/data/dedupe are invented for these tests.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"

static char *A, *SPUN_A, *B, *C, *D, *BRIEF1, *BRIEF2, *HEAD, *FOOT;

static char *cat3(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 8;
	char *s = malloc(n);
	snprintf(s, n, "%s\n\n%s\n\n%s", a, b, c);
	return s;
}

/* The text with `from` replaced by `to` once. */
static char *replace(const char *text, const char *from, const char *to)
{
	const char *p = strstr(text, from);
	if (!p) {
		fprintf(stderr, "fixture lacks '%s'\n", from);
		abort();
	}
	size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
	char *s = malloc(n);
	snprintf(s, n, "%.*s%s%s", (int)(p - text), text, to, p + strlen(from));
	return s;
}

/* The first `frac` of the text, cut after a sentence. */
static char *opening(const char *text, double frac)
{
	size_t want = (size_t)(strlen(text) * frac);
	const char *p = strstr(text + want, ". ");
	size_t n = p ? (size_t)(p - text) + 1 : strlen(text);
	char *s = malloc(n + 32);
	snprintf(s, n + 32, "%.*s\n\nRead more", (int)n, text);
	return s;
}

/* Run one document; returns the document that came out (new ref) or NULL when dropped. */
static json_t *run(fmt_stage *st, json_t *doc, int *status)
{
	json_t *out = NULL;
	int rc = fmt_stage_process(st, doc, &out, NULL);
	if (status)
		*status = rc;
	json_t *first = json_incref(json_array_get(out, 0));
	json_decref(out);
	return first;
}

static json_t *doc4(const char *id, const char *url, const char *source, const char *text)
{
	json_t *d = json_object();
	if (id)
		json_object_set_new(d, "id", json_string(id));
	if (url)
		json_object_set_new(d, "url", json_string(url));
	if (source)
		json_object_set_new(d, "source", json_string(source));
	if (text)
		json_object_set_new(d, "text", json_string(text));
	return d;
}

/* Mark mode: the id the document was marked a duplicate of ("" when it was not). */
static const char *dup_of(fmt_stage *st, json_t *doc, json_t **keep)
{
	json_t *out = run(st, doc, NULL);
	*keep = out;
	if (!out)
		return "(dropped)";
	const char *d = json_string_value(json_object_get(out, "duplicate_of"));
	return d ? d : "";
}

static bool has_source(json_t *doc, const char *source)
{
	json_t *arr = json_object_get(doc, "also_reported_by"), *v;
	size_t i;
	json_array_foreach(arr, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), source))
			return true;
	return false;
}

#define EXPECT_DUP(st, doc, want)                                                                \
	do {                                                                                     \
		json_t *k_;                                                                      \
		CHECK_STR(dup_of(st, doc, &k_), want);                                           \
		json_decref(k_);                                                                 \
	} while (0)

static void test_copies_marked(void)
{
	const char *set[] = {"mode=mark", NULL};
	fmt_stage *st = fmt_stage_open("dedupe_similar", set, NULL);
	CHECK(st != NULL);
	if (!st)
		return;
	const char *url = "https://www.marrowbypost.example/news/2024/bridge-closed/";
	EXPECT_DUP(st, doc4("a1", url, "Marrowby Post", A), "");

	/* republished by a scraper with its banner and comment form */
	char *rep = cat3("Posted by admin | November 3\nTop Stories", A,
	                 "Source link\n\nLeave a Reply\nYour email address will not be published.");
	json_t *out;
	CHECK_STR(dup_of(st, doc4("r1", "https://copycat.example/?p=311", "Copycat Daily", rep),
	                 &out), "a1");
	CHECK(has_source(out, "Copycat Daily"));
	CHECK(!has_source(out, "Marrowby Post"));
	json_decref(out);

	/* the same article through an AMP, mobile, tracking-laden link, with a feed's snippet */
	EXPECT_DUP(st, doc4("a1-amp", "HTTP://m.MarrowbyPost.example:80/news/2024/bridge-closed/amp/"
	                    "?utm_source=rss&utm_medium=feed#comments", "Marrowby Post mobile",
	                    "A short snippet from the feed."), "a1");
	EXPECT_DUP(st, doc4("a1-idx", "https://marrowbypost.example/news/2024/bridge-closed/index.html"
	                    "?outputType=amp", "Index", "Another snippet."), "a1");

	/* syndicated: same words, other layout (single newlines, straight quotes) */
	char *synd = strdup(A);
	for (char *p = synd; (p = strstr(p, "\n\n")); )
		memmove(p, p + 1, strlen(p));
	EXPECT_DUP(st, doc4("s1", "https://partner.example/story/9", "Valley Partner", synd), "a1");

	/* lightly edited: a sentence gone, a figure updated, a typo */
	char *e1 = replace(A, " Repairs are expected to cost at least 3.2 million pounds and to take "
	                   "eighteen months.", "");
	char *e2 = replace(e1, "6,400", "6,450");
	char *e3 = replace(e2, "engineers found", "enginers found");
	EXPECT_DUP(st, doc4("e1", "https://other.example/bridge", "Other Paper", e3), "a1");

	/* an excerpt: the opening 45% */
	char *ex = opening(A, 0.45);
	EXPECT_DUP(st, doc4("x1", "https://reader.example/item/77", "Reader", ex), "a1");

	/* spun: synonyms everywhere, names and figures kept */
	json_t *sp;
	CHECK_STR(dup_of(st, doc4("sp1", "https://spinner.example/town-authority-shuts-crossing/",
	                          "Spin Farm", SPUN_A), &sp), "a1");
	CHECK(has_source(sp, "Spin Farm"));
	CHECK(has_source(sp, "Copycat Daily")); /* the story's list as it stands */
	json_decref(sp);
	char *spx = opening(SPUN_A, 0.5);
	EXPECT_DUP(st, doc4("sp2", "https://spinner2.example/x/", "Spin Two", spx), "a1");

	/* no id, no url, no source: still recognised, and still named by the first id */
	EXPECT_DUP(st, doc4(NULL, NULL, NULL, A), "a1");

	/* the same GUID again, from the same source, while its first delivery is in flight: a
	 * re-fetch of what is on its way out */
	EXPECT_DUP(st, doc4("a1", url, "Marrowby Post", A), "a1");

	/* documents with nothing to compare pass untouched */
	EXPECT_DUP(st, doc4("empty", NULL, NULL, NULL), "");
	EXPECT_DUP(st, doc4(NULL, NULL, NULL, ""), "");

	free(rep);
	free(synd);
	free(e1);
	free(e2);
	free(e3);
	free(ex);
	free(spx);
	fmt_stage_close(st);
}

static void test_not_duplicates(void)
{
	const char *set[] = {"mode=mark", NULL};
	fmt_stage *st = fmt_stage_open("dedupe_similar", set, NULL);
	CHECK(st != NULL);
	if (!st)
		return;
	/* different articles in one long template: the template is most of the short ones */
	const char *texts[] = {B, C, D, BRIEF1, BRIEF2};
	const char *ids[] = {"t-b", "t-c", "t-d", "t-b1", "t-b2"};
	for (size_t i = 0; i < 5; i++) {
		char *t = cat3(HEAD, texts[i], FOOT);
		char url[96];
		snprintf(url, sizeof(url), "https://civiclantern.example/local/%s/", ids[i]);
		EXPECT_DUP(st, doc4(ids[i], url, "Civic Lantern", t), "");
		free(t);
	}
	/* one topic (a flood in one town), different reports, another site */
	EXPECT_DUP(st, doc4("f1", "https://briefs.example/flood-1", "Briefs", BRIEF1), "t-b1");
	EXPECT_DUP(st, doc4("f2", "https://briefs.example/flood-2", "Briefs", BRIEF2), "t-b2");
	/* ... and the two briefs are not each other: a third report on the topic is new */
	char *third = replace(BRIEF2, "Marrowby's weekend flooding has prompted calls for a new "
	                      "drainage plan.", "The mayor of Marrowby visited the canal district.");
	json_t *k;
	const char *d = dup_of(st, doc4("f3", "https://briefs.example/flood-3", "Briefs", third), &k);
	CHECK(strcmp(d, "t-b1") != 0);
	json_decref(k);
	free(third);
	/* a republished copy in another site's template IS a copy of the templated original */
	char *t2 = cat3("Breaking News\nNorth Valley Wire", C, "Source link");
	EXPECT_DUP(st, doc4("w-c", "https://nvwire.example/birds/", "North Valley Wire", t2), "t-c");
	free(t2);
	fmt_stage_close(st);
}

/* Run doc as delivery `token` (the host's). Returns what came out (new ref) or NULL. */
static json_t *run_as(fmt_stage *st, json_t *doc, uint64_t token, int *status)
{
	json_t *out = NULL;
	int rc = fmt_stage_process_as(st, doc, token, &out, NULL);
	if (status)
		*status = rc;
	json_t *first = json_incref(json_array_get(out, 0));
	json_decref(out);
	return first;
}

static json_t *with(json_t *doc, const char *key, const char *value)
{
	json_object_set_new(doc, key, json_string(value));
	return doc;
}

/* The same document (id and source) again: what the stage does depends on whether its first
 * delivery is known to be published (plugin.h, ack), and on whether a reader would see a
 * change. Drop mode: what passes is what the outputs get. */
static void test_same_document_again(void)
{
	const char *set[] = {"mode=drop", NULL};
	fmt_stage *st = fmt_stage_open("dedupe_similar", set, NULL);
	CHECK(st != NULL);
	if (!st)
		return;
	const char *url = "https://marrowbypost.example/news/bridge?utm_source=rss";
	int status;
	json_t *o = run(st, with(doc4("a1", url, "P", A), "title", "Bridge closed"), &status);
	CHECK(o != NULL && status == 0);
	json_decref(o);
	uint64_t t1 = fmt_stage_last_delivery(st);

	/* the host lost the answer and delivers it again with the same token: same verdict */
	o = run_as(st, with(doc4("a1", url, "P", A), "title", "Bridge closed"), t1, &status);
	CHECK(o != NULL && status == 0);
	CHECK(json_object_get(o, "revision") == NULL);
	json_decref(o);
	/* a second fetch while the first is on its way out: seen */
	o = run(st, with(doc4("a1", url, "P", A), "title", "Bridge closed"), &status);
	CHECK(o == NULL && status == 2);

	/* the first delivery failed downstream: nothing says it was published, so it passes */
	fmt_stage_ack(st, t1, true);
	o = run(st, with(doc4("a1", url, "P", A), "title", "Bridge closed"), &status);
	CHECK(o != NULL && status == 0);
	json_decref(o);
	uint64_t t2 = fmt_stage_last_delivery(st);
	/* settled: every output has it; from now on a re-fetch is dropped */
	fmt_stage_ack(st, t2, false);
	o = run(st, with(doc4("a1", url, "P", A), "title", "Bridge closed"), &status);
	CHECK(o == NULL && status == 2);

	/* what a reader does not see is not a change: whitespace and punctuation, a relative
	 * time the page re-renders, a tracking parameter */
	char *relayout = replace(A, "\n\n", "\n  \n");
	char *with_time = cat3("Updated 5 minutes ago", relayout, "Posted 2h ago, just now");
	char *later = replace(with_time, "5 minutes ago", "17 minutes ago");
	o = run(st, with(doc4("a1", "https://marrowbypost.example/news/bridge?utm_medium=feed",
	                      "P", with_time), "title", "Bridge  closed!"), &status);
	CHECK(o != NULL); /* the "Updated" line is new words */
	json_decref(o);
	fmt_stage_ack(st, fmt_stage_last_delivery(st), false);
	o = run(st, with(doc4("a1", url, "P", later), "title", "Bridge closed."), &status);
	CHECK(o == NULL && status == 2);

	/* a correction: it passes again, as revision 2, with an updated time that moved */
	char *fixed = replace(A, "6,400", "6,900");
	json_t *d = with(doc4("a1", url, "P", fixed), "title", "Bridge closed");
	json_object_set_new(d, "published", json_string("2024-11-03T08:00:00Z"));
	json_object_set_new(d, "updated", json_string("2024-11-03T08:00:00Z"));
	o = run(st, d, &status);
	CHECK(o != NULL && status == 0);
	CHECK(json_integer_value(json_object_get(o, "revision")) == 3);
	const char *upd = json_string_value(json_object_get(o, "updated"));
	CHECK(upd && strcmp(upd, "2024-11-03T08:00:00Z") > 0);
	json_decref(o);
	/* the same revision delivered again while in flight, with its token: the same again */
	uint64_t t3 = fmt_stage_last_delivery(st);
	o = run_as(st, with(doc4("a1", url, "P", fixed), "title", "Bridge closed"), t3, &status);
	CHECK(o != NULL && json_integer_value(json_object_get(o, "revision")) == 3);
	json_decref(o);
	fmt_stage_ack(st, t3, false);
	o = run(st, with(doc4("a1", url, "P", fixed), "title", "Bridge closed"), &status);
	CHECK(o == NULL);
	/* a new headline is a change too */
	o = run(st, with(doc4("a1", url, "P", fixed), "title", "Bridge to stay closed"), &status);
	CHECK(o != NULL && json_integer_value(json_object_get(o, "revision")) == 4);
	json_decref(o);

	/* the same GUID (a URL) from another source is a copy, not a revision */
	o = run(st, doc4("https://wire.example/story/1", NULL, "Wire", B), &status);
	CHECK(o != NULL);
	json_decref(o);
	o = run(st, doc4("https://wire.example/story/1", NULL, "Reprinter", "A short other text "
	                 "about the museum horse, nothing like it."), &status);
	CHECK(o == NULL && status == 2);
	free(relayout);
	free(with_time);
	free(later);
	free(fixed);
	fmt_stage_close(st);
}

static void test_drop_mode(void)
{
	fmt_stage *st = fmt_stage_open("dedupe_similar", NULL, NULL);
	CHECK(st != NULL);
	if (!st)
		return;
	int status;
	json_t *o = run(st, doc4("a1", "https://marrowbypost.example/a", "P", A), &status);
	CHECK(o != NULL && status == 0);
	json_decref(o);
	o = run(st, doc4("sp", "https://spin.example/a", "S", SPUN_A), &status);
	CHECK(o == NULL);
	CHECK(status == 2); /* FM_DROP */
	json_decref(o);
	o = run(st, doc4("b1", "https://museum.example/horse", "M", B), &status);
	CHECK(o != NULL && status == 0);
	CHECK(json_object_get(o, "duplicate_of") == NULL);
	json_decref(o);
	fmt_stage_close(st);
}

static char *make_dir(void)
{
	char tmpl[] = "/tmp/fm-dedupe-test-XXXXXX";
	char *d = mkdtemp(tmpl);
	return d ? strdup(d) : NULL;
}

static void remove_dir(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static void test_restart(void)
{
	char *dir = make_dir();
	const char *set[] = {"mode=mark", NULL};
	fmt_stage *st = fmt_stage_open("dedupe_similar", set, dir);
	CHECK(st != NULL);
	if (!st)
		goto out;
	EXPECT_DUP(st, doc4("a1", "https://marrowbypost.example/a", "Marrowby Post", A), "");
	EXPECT_DUP(st, doc4("b1", "https://museum.example/horse", "Museum News", B), "");
	char *rep = cat3("Trending Now", A, "Originally published elsewhere.");
	EXPECT_DUP(st, doc4("r1", "https://copy.example/1", "Copycat", rep), "a1");
	free(rep);
	fmt_stage_close(st); /* flush + fini: the index is saved */

	char path[600];
	snprintf(path, sizeof(path), "%s/index.fmdd", dir);
	struct stat sb;
	CHECK(stat(path, &sb) == 0 && sb.st_size > 0);

	st = fmt_stage_open("dedupe_similar", set, dir);
	CHECK(st != NULL);
	if (!st)
		goto out;
	json_t *o;
	CHECK_STR(dup_of(st, doc4("sp", "https://spin.example/x", "Spin Farm", SPUN_A), &o), "a1");
	/* the sources seen before the restart are still the story's */
	CHECK(has_source(o, "Copycat"));
	CHECK(has_source(o, "Spin Farm"));
	json_decref(o);
	EXPECT_DUP(st, doc4("b2", "https://museum.example/horse?utm_campaign=x", "Again", "x"), "b1");
	EXPECT_DUP(st, doc4("c1", "https://birds.example/puffins", "Birds", C), "");
	/* nothing acknowledged a1 before the restart: passed again, it is a replay (the outputs
	 * write it if the crash came before they did), not "already seen" */
	EXPECT_DUP(st, doc4("a1", "https://marrowbypost.example/a", "Marrowby Post", A), "");
	fmt_stage_ack(st, fmt_stage_last_delivery(st), false);
	fmt_stage_close(st);

	/* acknowledged before this restart: seen */
	st = fmt_stage_open("dedupe_similar", set, dir);
	CHECK(st != NULL);
	if (!st)
		goto out;
	EXPECT_DUP(st, doc4("a1", "https://marrowbypost.example/a", "Marrowby Post", A), "a1");
	fmt_stage_close(st);

	/* a damaged index is reported and ignored: the stage runs, with an empty memory */
	FILE *f = fopen(path, "r+b");
	CHECK(f != NULL);
	if (f) {
		fseek(f, 40, SEEK_SET);
		fputs("garbage garbage garbage", f);
		fclose(f);
	}
	st = fmt_stage_open("dedupe_similar", set, dir);
	CHECK(st != NULL);
	if (!st)
		goto out;
	EXPECT_DUP(st, doc4("sp2", "https://spin.example/y", "Spin Farm", SPUN_A), "");
	fmt_stage_close(st);

	/* a file that is not ours at all */
	f = fopen(path, "wb");
	if (f) {
		fputs("{\"not\": \"an index\"}", f);
		fclose(f);
	}
	st = fmt_stage_open("dedupe_similar", set, dir);
	CHECK(st != NULL);
	if (st) {
		EXPECT_DUP(st, doc4("a9", "https://marrowbypost.example/a9", "P", A), "");
		fmt_stage_close(st);
	}
out:
	remove_dir(dir);
	free(dir);
}

static void test_bounds(void)
{
	/* max_docs: the oldest document leaves first */
	const char *set[] = {"mode=mark", "max_docs=2", "persist=no", NULL};
	fmt_stage *st = fmt_stage_open("dedupe_similar", set, NULL);
	CHECK(st != NULL);
	if (!st)
		return;
	EXPECT_DUP(st, doc4("a1", "https://p.example/a", "P", A), "");
	EXPECT_DUP(st, doc4("b1", "https://p.example/b", "P", B), "");
	EXPECT_DUP(st, doc4("c1", "https://p.example/c", "P", C), "");
	EXPECT_DUP(st, doc4("c2", "https://q.example/c", "Q", C), "c1");
	/* a1 was evicted when c1 came: its copy is new now */
	EXPECT_DUP(st, doc4("a2", "https://q.example/a", "Q", A), "");
	fmt_stage_close(st);

	/* window: by document time */
	const char *set2[] = {"mode=mark", "window=2d", "persist=no", NULL};
	st = fmt_stage_open("dedupe_similar", set2, NULL);
	CHECK(st != NULL);
	if (!st)
		return;
	json_t *d = doc4("a1", "https://p.example/a", "P", A);
	json_object_set_new(d, "published", json_string("2024-03-01T08:00:00Z"));
	EXPECT_DUP(st, d, "");
	d = doc4("b1", "https://p.example/b", "P", B);
	json_object_set_new(d, "published", json_string("2024-03-02T08:00:00+02:00"));
	EXPECT_DUP(st, d, "");
	d = doc4("a2", "https://q.example/a", "Q", A);
	json_object_set_new(d, "published", json_string("2024-03-02T12:00:00Z"));
	EXPECT_DUP(st, d, "a1"); /* within two days */
	d = doc4("d1", "https://p.example/d", "P", D);
	json_object_set_new(d, "published", json_string("2024-03-06T09:00:00Z"));
	EXPECT_DUP(st, d, "");
	d = doc4("b2", "https://q.example/b", "Q", B);
	json_object_set_new(d, "published", json_string("2024-03-06T10:00:00Z"));
	EXPECT_DUP(st, d, ""); /* b1 is four days older than the newest: forgotten */
	fmt_stage_close(st);
}

static void test_options(void)
{
	/* a bad rewrite rule stops the stage at start, with a reason */
	const char *bad[] = {"url_rules=no arrow here", NULL};
	fmt_stage *st = fmt_stage_open("dedupe_similar", bad, NULL);
	CHECK(st == NULL);
	if (st)
		fmt_stage_close(st);
	/* extra parameters to strip and a site's own rewrite */
	const char *set[] = {"mode=mark", "strip_params=sessionid,ref*",
	                     "url_rules=^//news\\.example/print/(.*)$ => //news.example/\\1", NULL};
	st = fmt_stage_open("dedupe_similar", set, NULL);
	CHECK(st != NULL);
	if (!st)
		return;
	EXPECT_DUP(st, doc4("n1", "https://news.example/story/42?id=7&sessionid=abc", "N", "one"), "");
	EXPECT_DUP(st, doc4("n2", "https://news.example/print/story/42?referrer=x&id=7", "N", "two"),
	           "n1");
	/* a different query value is a different article */
	EXPECT_DUP(st, doc4("n3", "https://news.example/story/42?id=8", "N", "three"), "");
	/* a home page link names no article */
	EXPECT_DUP(st, doc4("h1", "https://news.example/", "N", "four"), "");
	EXPECT_DUP(st, doc4("h2", "https://www.news.example/", "N", "five"), "");
	fmt_stage_close(st);
}

int main(void)
{
	A = fmt_read_data("dedupe/article_a.txt", NULL);
	SPUN_A = fmt_read_data("dedupe/spun_a.txt", NULL);
	B = fmt_read_data("dedupe/article_b.txt", NULL);
	C = fmt_read_data("dedupe/article_c.txt", NULL);
	D = fmt_read_data("dedupe/article_d.txt", NULL);
	BRIEF1 = fmt_read_data("dedupe/brief_1.txt", NULL);
	BRIEF2 = fmt_read_data("dedupe/brief_2.txt", NULL);
	HEAD = fmt_read_data("dedupe/template_header.txt", NULL);
	FOOT = fmt_read_data("dedupe/template_footer.txt", NULL);

	test_copies_marked();
	test_not_duplicates();
	test_same_document_again();
	test_drop_mode();
	test_restart();
	test_bounds();
	test_options();

	free(A);
	free(SPUN_A);
	free(B);
	free(C);
	free(D);
	free(BRIEF1);
	free(BRIEF2);
	free(HEAD);
	free(FOOT);
	return fmt_done("dedupe_similar");
}
