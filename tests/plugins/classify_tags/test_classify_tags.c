/* classify_tags through the host API: rules-file errors, tags, blocking. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <feedmill/plugin.h>

#include "harness.h"

static char *data_path(const char *rel)
{
	const char *dir = getenv("FM_TEST_DATA_DIR");
	char *p = NULL;
	if (asprintf(&p, "%s/%s", dir ? dir : "tests/data", rel) < 0)
		abort();
	return p;
}

/* stderr into a temporary file from capture_start() to capture_end(), which returns what was
 * written (caller frees). */
struct capture {
	int fd, saved;
};

static struct capture capture_start(void)
{
	char tmpl[] = "/tmp/fmt-classify-log-XXXXXX";
	struct capture c = {mkstemp(tmpl), -1};
	if (c.fd < 0)
		abort();
	unlink(tmpl);
	fflush(stderr);
	c.saved = dup(2);
	dup2(c.fd, 2);
	return c;
}

static char *capture_end(struct capture c)
{
	fflush(stderr);
	dup2(c.saved, 2);
	close(c.saved);
	off_t n = lseek(c.fd, 0, SEEK_END);
	char *log = calloc(1, (size_t)n + 1);
	if (pread(c.fd, log, (size_t)n, 0) < 0)
		log[0] = '\0';
	close(c.fd);
	return log;
}

/* Open a stage with stderr captured into *log (caller frees). */
static fmt_stage *open_captured(const char *const *settings, char **log)
{
	struct capture c = capture_start();
	fmt_stage *s = fmt_stage_open("classify_tags", settings, NULL);
	*log = capture_end(c);
	return s;
}

static size_t occurrences(const char *s, const char *what)
{
	size_t n = 0;
	for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

/* Run one document; return its tags as a comma-joined string ("" when none) or "DROPPED". */
static char *run(fmt_stage *s, const char *json)
{
	json_t *out = NULL;
	int rc = fmt_stage_process_str(s, json, &out, NULL);
	char *res;
	if (rc == FM_DROP) {
		CHECK(json_array_size(out) == 0);
		res = strdup("DROPPED");
	} else {
		CHECK(rc == FM_PASS);
		CHECK(json_array_size(out) == 1);
		json_t *tags = json_object_get(json_array_get(out, 0), "tags");
		size_t len = 1, i;
		json_t *t;
		json_array_foreach(tags, i, t)
			len += strlen(json_string_value(t)) + 1;
		res = calloc(1, len);
		json_array_foreach(tags, i, t) {
			if (i)
				strcat(res, ",");
			strcat(res, json_string_value(t));
		}
	}
	json_decref(out);
	return res;
}

#define CHECK_TAGS(s, json, expected)                                                            \
	do {                                                                                     \
		char *got_ = run(s, json);                                                       \
		CHECK_STR(got_, expected);                                                       \
		free(got_);                                                                      \
	} while (0)

static void test_broken_rules(void)
{
	char *path = data_path("classify/broken.rules");
	char *setting = NULL;
	if (asprintf(&setting, "rules=%s", path) < 0)
		abort();
	const char *settings[] = {setting, NULL};
	char *log;
	fmt_stage *s = open_captured(settings, &log);
	CHECK(s == NULL); /* init must fail */
	fmt_stage_close(s);
	/* Each bad line is reported as FILE:LINE, the good ones are not. */
	static const int bad[] = {3, 4, 5, 6, 7, 9, 10, 11};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[64];
		snprintf(want, sizeof(want), "broken.rules:%d: ", bad[i]);
		if (!strstr(log, want)) {
			fprintf(stderr, "missing report for line %d\n", bad[i]);
			CHECK(strstr(log, want) != NULL);
		}
	}
	CHECK(strstr(log, "broken.rules:2: ") == NULL);
	CHECK(strstr(log, "broken.rules:8: ") == NULL);
	CHECK(strstr(log, "unknown field 'headline'") != NULL);
	free(log);

	/* A missing file fails init with its name in the message. */
	const char *missing[] = {"rules=/nonexistent/feedmill.rules", NULL};
	s = open_captured(missing, &log);
	CHECK(s == NULL);
	CHECK(strstr(log, "/nonexistent/feedmill.rules") != NULL);
	fmt_stage_close(s);
	free(log);
	free(setting);
	free(path);
}

/* A FIFO given as the rules or the model fails init at once, naming it (open() blocked on it
 * until something wrote to it). */
static void test_fifo_files(void)
{
	char dir[] = "/tmp/fmt-classify-fifo-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char *fifo = NULL, *rules = NULL, *model = NULL;
	if (asprintf(&fifo, "%s/pipe", dir) < 0 || asprintf(&rules, "rules=%s", fifo) < 0 ||
	    asprintf(&model, "model=%s", fifo) < 0)
		abort();
	CHECK(mkfifo(fifo, 0600) == 0);
	for (int i = 0; i < 2; i++) {
		const char *settings[] = {i ? model : rules, NULL};
		char *log, *want = NULL;
		fmt_stage *s = open_captured(settings, &log);
		CHECK(s == NULL);
		fmt_stage_close(s);
		if (asprintf(&want, "%s: not a regular file (a FIFO)", fifo) < 0)
			abort();
		if (!strstr(log, want))
			fprintf(stderr, "log: %s\n", log);
		CHECK(strstr(log, want) != NULL);
		free(want);
		free(log);
	}
	unlink(fifo);
	rmdir(dir);
	free(fifo);
	free(rules);
	free(model);
}

/* Write text to a new file in a new folder; returns "rules=PATH" (caller frees both). */
static char *rules_setting(const char *text, char **path)
{
	char *dir = strdup("/tmp/fmt-classify-rules-XXXXXX");
	char *setting = NULL;
	if (!dir || !mkdtemp(dir) || asprintf(path, "%s/test.rules", dir) < 0 ||
	    asprintf(&setting, "rules=%s", *path) < 0)
		abort();
	FILE *f = fopen(*path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
	free(dir);
	return setting;
}

static void remove_rules(char *path)
{
	unlink(path);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	rmdir(path);
	free(path);
}

/* The regex syntax the rules file documents keeps its meaning on PCRE2: the GNU \< \> and
 * {,n}, '.' across lines and '$' only at the very end (as regcomp had them), POSIX classes;
 * and Unicode now counts for case and words, as for keywords. */
static void test_regex_syntax(void)
{
	char *path;
	char *setting = rules_setting(
		"tag starts  regex /\\<port/ in text\n"
		"tag ends    regex /ship\\>/ in text\n"
		"tag upto    regex /^x{,2}y$/ in title\n"
		"tag across  regex /Sport.Heavy/ in categories\n"
		"tag end     regex /one$/ in title\n"
		"tag digits  regex /^[[:digit:]]+$/ in title\n"
		"tag slash   regex /a\\/b/ in url\n"
		"tag city    regex /zürich/i in text\n"
		"tag cafe    regex /\\bcafé\\b/ in text\n", &path);
	const char *settings[] = {setting, NULL};
	fmt_stage *s = fmt_stage_open("classify_tags", settings, NULL);
	CHECK(s != NULL);
	if (s) {
		CHECK_TAGS(s, "{\"id\":\"1\",\"text\":\"the airport\"}", "");
		CHECK_TAGS(s, "{\"id\":\"2\",\"text\":\"a portal\"}", "starts");
		CHECK_TAGS(s, "{\"id\":\"3\",\"text\":\"shipping ship.\"}", "ends");
		CHECK_TAGS(s, "{\"id\":\"4\",\"text\":\"shipping\"}", "");
		CHECK_TAGS(s, "{\"id\":\"5\",\"title\":\"xxy\"}", "upto");
		CHECK_TAGS(s, "{\"id\":\"6\",\"title\":\"xxxy\"}", "");
		CHECK_TAGS(s, "{\"id\":\"7\",\"title\":\"y\"}", "upto");
		CHECK_TAGS(s, "{\"id\":\"8\",\"categories\":[\"Sport\",\"Heavy Rain\"]}", "across");
		CHECK_TAGS(s, "{\"id\":\"9\",\"title\":\"line one\\n\"}", "");
		CHECK_TAGS(s, "{\"id\":\"10\",\"title\":\"line one\"}", "end");
		CHECK_TAGS(s, "{\"id\":\"11\",\"title\":\"2024\"}", "digits");
		CHECK_TAGS(s, "{\"id\":\"12\",\"url\":\"https://x.example/a/b\"}", "slash");
		CHECK_TAGS(s, "{\"id\":\"13\",\"text\":\"ZÜRICH votes\"}", "city");
		CHECK_TAGS(s, "{\"id\":\"14\",\"text\":\"un café noir\"}", "cafe");
		CHECK_TAGS(s, "{\"id\":\"15\",\"text\":\"cafés\"}", "");
		fmt_stage_close(s);
	}
	free(setting);
	remove_rules(path);
}

/*
 * A rule whose regex glibc's regcomp() compiled into gigabytes (3.8 GB for 24 '+' in a row,
 * then "Memory exhausted") and one that nests counted repetitions are refused at init, at
 * once, with a message naming the line and the reason. In a child limited to 512 MB of
 * address space, so that a regression fails here instead of eating the machine (not under
 * AddressSanitizer, whose shadow memory needs terabytes of address space).
 */
static void test_pathological_regex(void)
{
	char *path;
	char *setting = rules_setting(
		"tag markets regex /\\b(stocks?|b++++++++++++++++++++++++onds?)\\b/i\n"
		"tag nested  regex /((((x{1000}){1000}){1000}){1000})/\n"
		"tag fine    keyword harbour\n", &path);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
#ifndef __SANITIZE_ADDRESS__
		struct rlimit lim = {512u << 20, 512u << 20};
		if (setrlimit(RLIMIT_AS, &lim) != 0)
			_exit(3);
#endif
		alarm(30);
		const char *settings[] = {setting, NULL};
		char *log;
		fmt_stage *st = open_captured(settings, &log);
		CHECK(st == NULL);
		CHECK(strstr(log, "test.rules:1: bad regex /\\b(stocks?|b++++++++++++++++++++++++onds?)"
		                  "\\b/: quantifier does not follow a repeatable item (at offset 14)") !=
		      NULL);
		CHECK(strstr(log, "test.rules:2: bad regex /((((x{1000}){1000}){1000}){1000})/: too "
		                  "large: a regex may take 1024 KiB compiled") != NULL);
		CHECK(strstr(log, "test.rules:3") == NULL);
		if (fmt_failures)
			fprintf(stderr, "log:\n%s", log);
		free(log);
		_exit(fmt_failures ? 1 : 0);
	}
	int status = -1;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free(setting);
	remove_rules(path);
}

/* A regex that backtracks without end on some text gives up after its steps: the document
 * goes on (the rule counts as not matching, the others apply), counted and said once. */
static void test_regex_gives_up(void)
{
	char *path;
	char *setting = rules_setting("tag slow regex /^(a|aa)+$/\ntag quick keyword quay\n",
	                              &path);
	const char *settings[] = {setting, NULL};
	fmt_stage *s = fmt_stage_open("classify_tags", settings, NULL);
	CHECK(s != NULL);
	if (s) {
		char doc[256];
		struct capture c = capture_start();
		for (int i = 1; i <= 2; i++) {
			snprintf(doc, sizeof(doc),
			         "{\"id\":\"d%d\",\"title\":\"quay\",\"text\":\"%s!\"}", i,
			         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
			CHECK_TAGS(s, doc, "quick");
		}
		CHECK_TAGS(s, "{\"id\":\"d3\",\"text\":\"aaaa\"}", "slow");
		char *log = capture_end(c);
		char *want = NULL;
		if (asprintf(&want, "%s:1: the regex gave up on d1 after 1000000 steps", path) < 0)
			abort();
		CHECK(strstr(log, want) != NULL);
		CHECK(occurrences(log, "gave up") == 1);
		free(want);
		free(log);
		fmt_stage_close(s);
	}
	free(setting);
	remove_rules(path);
}

static void test_tags_and_blocks(void)
{
	char *path = data_path("classify/tags.rules");
	char *setting = NULL;
	if (asprintf(&setting, "rules=%s", path) < 0)
		abort();
	const char *settings[] = {setting, NULL};
	fmt_stage *s = fmt_stage_open("classify_tags", settings, NULL);
	CHECK(s != NULL);
	if (!s)
		goto out;

	/* Case-insensitive, whole words, phrases across white space. */
	CHECK_TAGS(s, "{\"id\":\"1\",\"title\":\"Ferry delays at PORT ALDWYN\",\"text\":\"\"}",
	           "harbour");
	CHECK_TAGS(s, "{\"id\":\"2\",\"title\":\"Port Aldwynshire fair\",\"text\":\"quayside\"}", "");
	CHECK_TAGS(s, "{\"id\":\"3\",\"title\":\"Rates\",\"text\":\"The Central\\n  Bank said\"}",
	           "banking");
	CHECK_TAGS(s, "{\"id\":\"4\",\"title\":\"Bonds rally\",\"text\":\"\"}", "markets");
	CHECK_TAGS(s, "{\"id\":\"5\",\"title\":\"Bondsman\",\"text\":\"\"}", "");
	/* Unicode case folding: STRASSE matches straße, Zürich matches ZÜRICH. */
	CHECK_TAGS(s, "{\"id\":\"6\",\"title\":\"Die Hauptstraße\",\"text\":\"in der straße\"}",
	           "streets");
	CHECK_TAGS(s, "{\"id\":\"7\",\"title\":\"ZÜRICH votes\"}", "streets");
	/* A keyword next to a non-ASCII letter is not a whole word; next to punctuation it is. */
	CHECK_TAGS(s, "{\"id\":\"8\",\"text\":\"«Port Aldwyn» and quayé\"}", "harbour");
	CHECK_TAGS(s, "{\"id\":\"9\",\"text\":\"the quayé\"}", "");
	/* Existing tags are kept, none is added twice; rule order otherwise. */
	CHECK_TAGS(s,
	           "{\"id\":\"10\",\"title\":\"Stocks fall at the quay\",\"text\":\"lighthouse\","
	           "\"tags\":[\"local\",\"harbour\"]}",
	           "local,harbour,markets,two words");
	/* Field restrictions: url only; title or categories. */
	CHECK_TAGS(s, "{\"id\":\"11\",\"url\":\"https://news.example.org/a\",\"text\":\"example.org\"}",
	           "feedsite");
	CHECK_TAGS(s, "{\"id\":\"12\",\"text\":\"storm\",\"categories\":[\"Sport\",\"Heavy  Rain\"]}",
	           "weather");
	CHECK_TAGS(s, "{\"id\":\"13\",\"text\":\"a storm\"}", "");
	/* Keywords ending in punctuation still match at the end of a word. */
	CHECK_TAGS(s, "{\"id\":\"14\",\"text\":\"written in C++, fast\"}", "cplusplus");

	/* Blocks: the phrase in the title drops the document; in the text it does not. */
	CHECK_TAGS(s, "{\"id\":\"20\",\"title\":\"SPONSORED Content: buy bonds\",\"text\":\"\"}",
	           "DROPPED");
	CHECK_TAGS(s, "{\"id\":\"21\",\"title\":\"Ads\",\"text\":\"sponsored content\"}", "");
	CHECK_TAGS(s, "{\"id\":\"22\",\"title\":\"ADVERT: cheap quay\"}", "DROPPED");
	CHECK_TAGS(s, "{\"id\":\"23\",\"title\":\"advert: lowercase is fine\"}", "");
	/* Missing or odd fields do not break anything. */
	CHECK_TAGS(s, "{\"id\":\"30\"}", "");
	CHECK_TAGS(s, "{\"id\":\"31\",\"title\":42,\"tags\":\"not-an-array\",\"text\":\"quay\"}",
	           "harbour");
	fmt_stage_close(s);
out:
	free(setting);
	free(path);
}

static void test_field_limit(void)
{
	char *path = data_path("classify/tags.rules");
	char *setting = NULL;
	if (asprintf(&setting, "rules=%s", path) < 0)
		abort();
	const char *settings[] = {setting, "field_limit=20", NULL};
	fmt_stage *s = fmt_stage_open("classify_tags", settings, NULL);
	CHECK(s != NULL);
	if (s) {
		CHECK_TAGS(s, "{\"id\":\"1\",\"text\":\"quay at the start, and much later lighthouse\"}",
		           "harbour");
		fmt_stage_close(s);
	}
	free(setting);
	free(path);
}

static void test_no_rules(void)
{
	fmt_stage *s = fmt_stage_open("classify_tags", NULL, NULL);
	CHECK(s != NULL);
	if (!s)
		return;
	json_t *out = NULL;
	CHECK(fmt_stage_process_str(s, "{\"id\":\"1\",\"title\":\"sponsored content\"}", &out, NULL) ==
	      FM_PASS);
	CHECK(json_array_size(out) == 1);
	CHECK(json_object_get(json_array_get(out, 0), "tags") == NULL);
	json_decref(out);
	fmt_stage_close(s);
}

/* The shipped, documented example must load. */
static void test_example_rules(void)
{
	const char *root = getenv("FM_SOURCE_ROOT");
	char *setting = NULL;
	if (asprintf(&setting, "rules=%s/config/rules.example", root ? root : ".") < 0)
		abort();
	const char *settings[] = {setting, NULL};
	fmt_stage *s = fmt_stage_open("classify_tags", settings, NULL);
	CHECK(s != NULL);
	if (s) {
		CHECK_TAGS(s, "{\"id\":\"1\",\"title\":\"Nasdaq up\",\"text\":\"news from Kyiv\"}",
		           "ukraine,markets");
		CHECK_TAGS(s, "{\"id\":\"2\",\"title\":\"PROMOTED: a thing\"}", "DROPPED");
		fmt_stage_close(s);
	}
	free(setting);
}

int main(void)
{
	/* A FIFO opened by mistake blocks for ever: fail instead of waiting for the timeout. */
	alarm(60);
	test_example_rules();
	test_broken_rules();
	test_fifo_files();
	test_regex_syntax();
	test_pathological_regex();
	test_regex_gives_up();
	test_tags_and_blocks();
	test_field_limit();
	test_no_rules();
	return fmt_done("classify_tags");
}
