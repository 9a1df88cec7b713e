/* classify_tags through the host API: rules-file errors, tags, blocking. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* Open a stage with stderr captured into *log (caller frees). */
static fmt_stage *open_captured(const char *const *settings, char **log)
{
	char tmpl[] = "/tmp/fmt-classify-log-XXXXXX";
	int fd = mkstemp(tmpl);
	if (fd < 0)
		abort();
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	fmt_stage *s = fmt_stage_open("classify_tags", settings, NULL);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	off_t n = lseek(fd, 0, SEEK_END);
	*log = calloc(1, (size_t)n + 1);
	if (pread(fd, *log, (size_t)n, 0) < 0)
		(*log)[0] = '\0';
	close(fd);
	unlink(tmpl);
	return s;
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
	test_tags_and_blocks();
	test_field_limit();
	test_no_rules();
	return fmt_done("classify_tags");
}
