/*
 * pipeline.conf: good files whose parsed values are asserted, and broken files whose every
 * problem must be reported as the exact "FILE:LINE: message" lines an operator reads.
 * Plugin-related checks use the real bundled plugins ($FEEDMILL_PLUGIN_DIR).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <feedmill/plugin.h>

#include "config.h"
#include "instance.h"
#include "loader.h"
#include "log.h"
#include "options.h"
#include "unit.h"
#include "util.h"

#define MIN (60 * 1000)

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return strndup(path, slash ? (size_t)(slash - path) : 0);
}

/* Where option `key` of plugin p lands inside a filled config. */
static const void *slot(const struct fm_plugin *p, const void *config, const char *key)
{
	const struct fm_option *o = fm_option_find(p->options, key);
	if (!o) {
		fprintf(stderr, "plugin %s has no option %s\n", p->name, key);
		abort();
	}
	return (const char *)config + o->offset;
}

static bool strlist_is(const struct fm_strlist *l, const char *const *want)
{
	size_t n = 0;
	while (want[n])
		n++;
	if (l->n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(l->items[i], want[i]) != 0)
			return false;
	return true;
}

static bool json_strings_are(const json_t *arr, const char *const *want)
{
	size_t n = 0;
	while (want[n])
		n++;
	if (!json_is_array(arr) || json_array_size(arr) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!json_is_string(json_array_get(arr, i)) ||
		    strcmp(json_string_value(json_array_get(arr, i)), want[i]) != 0)
			return false;
	return true;
}

static struct fm_source_cfg *source(struct fm_config *c, const char *name)
{
	for (struct fm_source_cfg *s = c->sources; s; s = s->next)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

/* ------------------------------------------------------------------ good files */

static void test_good_full(void)
{
	char *path = unit_config_path("good/pipeline.conf");
	char *dir = dir_of(path);
	struct fm_diag diag = {0};
	struct fm_loader l;
	struct fm_config *c = fm_config_load(path, &diag);
	CHECK(c != NULL);
	if (!c)
		goto out_nocfg;
	fm_loader_init(&l, NULL);
	CHECK(fm_config_validate(c, &l, &diag) == 0);
	CHECK(diag.n == 0);
	if (diag.n)
		fm_diag_print(&diag, stderr);

	/* globals */
	char *want = NULL;
	if (asprintf(&want, "%s/var/state", dir) < 0)
		abort();
	CHECK_STR(c->state_dir, want);
	free(want);
	CHECK(c->log_level == FM_LOG_INFO);
	CHECK(c->default_interval_ms == 20 * MIN);
	CHECK(fabs(c->jitter - 0.2) < 1e-9);
	CHECK(c->max_backoff_ms == 120 * MIN);
	CHECK(c->drain_timeout_ms == 45000);
	CHECK(c->max_attempts == 5);
	CHECK(c->max_doc_size == 8u << 20);
	CHECK(c->queue_limit == 500);

	/* sources: the included ones where the include line is, in glob order; a file the
	 * pattern does not match (30-ignored.conf.disabled) is not read */
	const char *order[] = {"mill-town", "river-board", "harbour-news", "quiet-valley"};
	size_t n = 0;
	for (struct fm_source_cfg *s = c->sources; s; s = s->next, n++)
		if (n < 4)
			CHECK_STR(s->name, order[n]);
	CHECK(n == 4);
	CHECK(source(c, "never-read") == NULL);

	struct fm_source_cfg *s = source(c, "harbour-news");
	CHECK(s != NULL);
	if (s) {
		CHECK_STR(s->url, "https://harbour.example.org/feed.xml");
		CHECK(s->bounds.interval_ms == 30 * MIN);
		CHECK_STR(s->type, "feed");
		CHECK(s->enabled);
		CHECK(s->line == 16);
		CHECK(json_strings_are(s->tags, (const char *[]){"local", "boats", "weather", NULL}));
		/* per-source overrides of fetch_http's options, typed */
		CHECK(json_integer_value(json_object_get(s->options, "max_redirects")) == 2);
		CHECK(json_integer_value(json_object_get(s->options, "max_size")) == 2 << 20);
		CHECK(json_is_true(json_object_get(s->options, "full_article")));
		/* a list repeated in a source section builds up, as in a stage section */
		CHECK(json_strings_are(json_object_get(s->options, "headers"),
		                       (const char *[]){"X-Token: abc", "X-Other: def", NULL}));
		CHECK(json_object_size(s->options) == 4);
	}
	s = source(c, "quiet-valley");
	CHECK(s != NULL);
	if (s) {
		/* quoted: '#' does not start a comment */
		CHECK_STR(s->url, "https://valley.example.net/news?a=1#top");
		CHECK(!s->enabled);
		CHECK(s->bounds.interval_ms == 20 * MIN); /* default_interval */
		CHECK_STR(s->type, "auto");
		CHECK(json_object_size(s->options) == 0);
	}
	s = source(c, "mill-town");
	CHECK(s != NULL);
	if (s) {
		CHECK_STR(s->url, "http://mill.example.com/atom");
		CHECK(s->bounds.interval_ms == 60 * MIN);
		CHECK(strstr(s->file, "/good/sources.d/10-mill.conf") != NULL);
		CHECK(s->line == 2);
	}
	s = source(c, "river-board");
	CHECK(s != NULL);
	if (s) {
		CHECK_STR(s->type, "html");
		CHECK(json_strings_are(s->tags, (const char *[]){"fish # chips", NULL}));
	}

	/* stages, in order, and the output */
	struct fm_stage_cfg *st = c->stages;
	CHECK(st && strcmp(st->name, "fetch") == 0);
	if (st) {
		CHECK_STR(st->plugin, "fetch_http");
		CHECK(st->mode == FM_MODE_PROCESS);
		CHECK(st->workers == 4);
		CHECK(!st->is_output);
		CHECK(st->timeout_ms == 5 * MIN);
		/* not set: the plugin's own window (fetch_http holds as many as it transfers) */
		CHECK(st->max_in_flight == 64 && !st->max_in_flight_set);
		CHECK(st->loaded != NULL);
		if (st->loaded) {
			const struct fm_plugin *p = &st->loaded->desc;
			struct fm_diag d2 = {0};
			void *cfg = fm_plugin_config_new(p, st->options, &d2);
			CHECK(cfg != NULL);
			if (cfg) {
				CHECK_STR(*(char *const *)slot(p, cfg, "user_agent"),
				          "feedmill \"test\"\tv1 # not a comment");
				CHECK(*(const int64_t *)slot(p, cfg, "max_items") == 250);
				fm_plugin_config_free(p, cfg);
			}
			fm_diag_free(&d2);
		}
		st = st->next;
	}
	CHECK(st && strcmp(st->name, "clean") == 0);
	if (st) {
		CHECK_STR(st->plugin, "clean_readable");
		CHECK(st->mode == FM_MODE_REMOTE);
		CHECK_STR(st->bind, "tcp://*:7100");
		CHECK_STR(st->connect, "tcp://clean-box.example.net:7100");
		CHECK(st->timeout_ms == 90000);
		CHECK(st->max_in_flight == 64);
		st = st->next;
	}
	CHECK(st && strcmp(st->name, "dedupe") == 0);
	if (st) {
		CHECK(st->mode == FM_MODE_THREAD);
		CHECK(st->max_in_flight == 256); /* neither set nor the plugin's: the core's */
		CHECK(st->workers == 1);
		CHECK(st->loaded != NULL);
		if (st->loaded) {
			const struct fm_plugin *p = &st->loaded->desc;
			CHECK(p->flags & FM_PLUGIN_SINGLETON);
			struct fm_diag d2 = {0};
			void *cfg = fm_plugin_config_new(p, st->options, &d2);
			CHECK(cfg != NULL);
			if (cfg) {
				/* the plugin's own "mode", distinct from the stage's run_as */
				CHECK_STR(*(char *const *)slot(p, cfg, "mode"), "mark");
				CHECK(*(const int64_t *)slot(p, cfg, "window") == 2 * 86400000LL);
				CHECK(*(const uint64_t *)slot(p, cfg, "max_text") == 32768);
				CHECK(fabs(*(const double *)slot(p, cfg, "threshold") - 0.6) < 1e-9);
				CHECK(strlist_is(slot(p, cfg, "strip_params"),
				                 (const char *[]){"utm_*", "fbclid", "ref", NULL}));
				fm_plugin_config_free(p, cfg);
			}
			fm_diag_free(&d2);
		}
		st = st->next;
	}
	CHECK(st == NULL);

	st = c->outputs;
	CHECK(st && strcmp(st->name, "archive") == 0 && st->is_output);
	if (st && st->loaded) {
		const struct fm_plugin *p = &st->loaded->desc;
		struct fm_diag d2 = {0};
		void *cfg = fm_plugin_config_new(p, st->options, &d2);
		CHECK(cfg != NULL);
		if (cfg) {
			/* a path option is resolved against the folder of the file that set it */
			char *want_path = NULL;
			if (asprintf(&want_path, "%s/out/docs.jsonl", dir) < 0)
				abort();
			CHECK_STR(*(char *const *)slot(p, cfg, "path"), want_path);
			free(want_path);
			CHECK(strlist_is(slot(p, cfg, "fields"),
			                 (const char *[]){"id", "title", "url", NULL}));
			CHECK(*(const bool *)slot(p, cfg, "fsync") == false);
			fm_plugin_config_free(p, cfg);
		}
		fm_diag_free(&d2);
	}
	CHECK(st && st->next == NULL);

	fm_loader_fini(&l);
	fm_config_free(c);
out_nocfg:
	fm_diag_free(&diag);
	free(dir);
	free(path);
}

static void test_defaults(void)
{
	char *path = unit_config_path("minimal.conf");
	char *dir = dir_of(path);
	struct fm_diag diag = {0};
	struct fm_loader l;
	struct fm_config *c = fm_config_load(path, &diag);
	CHECK(c != NULL);
	if (!c)
		goto out;
	fm_loader_init(&l, NULL);
	CHECK(fm_config_validate(c, &l, &diag) == 0);
	CHECK(diag.n == 0);
	char *want = NULL;
	if (asprintf(&want, "%s/state", dir) < 0)
		abort();
	CHECK_STR(c->state_dir, want); /* "state" beside the configuration */
	free(want);
	CHECK(c->log_level == FM_LOG_NOTICE);
	CHECK(c->default_interval_ms == 15 * MIN);
	CHECK(fabs(c->jitter - 0.1) < 1e-9);
	CHECK(c->max_backoff_ms == 6 * 60 * MIN);
	CHECK(c->max_attempts == 3);
	CHECK(c->max_doc_size == 16u << 20);
	CHECK(c->sources == NULL && c->outputs == NULL);
	struct fm_stage_cfg *st = c->stages;
	CHECK(st && st->mode == FM_MODE_THREAD && st->workers == 1 && !st->bind && !st->connect);
	if (st && st->loaded) {
		const struct fm_plugin *p = &st->loaded->desc;
		void *cfg = fm_plugin_config_new(p, st->options, &diag);
		CHECK(cfg != NULL);
		if (cfg) {
			CHECK_STR(*(char *const *)slot(p, cfg, "mode"), "drop");
			CHECK(((const struct fm_strlist *)slot(p, cfg, "strip_params"))->n == 0);
			fm_plugin_config_free(p, cfg);
		}
	}

	/* --set: the plugin's own key named like a core one goes to the plugin */
	CHECK(fm_config_set(c, "dedupe.mode=mark", &diag) == 0);
	CHECK(fm_config_set(c, "dedupe.run_as=process", &diag) == 0);
	CHECK(fm_config_set(c, "dedupe.workers=2", &diag) == 0);
	CHECK(st && st->mode == FM_MODE_PROCESS && st->workers == 2);
	CHECK(diag.n == 0);
	CHECK(fm_config_set(c, "nosuch.mode=mark", &diag) == -EINVAL);
	CHECK(fm_config_set(c, "dedupe-mode-mark", &diag) == -EINVAL);
	CHECK(fm_config_set(c, "dedupe.run_as=fibre", &diag) == -EINVAL);
	CHECK(fm_config_set(c, "dedupe.threshold=9", &diag) == 0); /* checked in validation */
	CHECK(fm_config_validate(c, &l, &diag) == -EINVAL);
	char *text = unit_diag_text(&diag);
	char *expect = NULL;
	/* printed by place: "--set" sorts before an absolute path */
	if (asprintf(&expect,
	             "--set: no stage named 'nosuch' in the configuration\n"
	             "--set: 'dedupe-mode-mark' is not STAGE.KEY=VALUE\n"
	             "--set: run_as: 'fibre' is not one of thread, process, remote\n"
	             "--set: plugin dedupe_similar keeps shared state and runs as one instance: "
	             "workers must be 1\n"
	             "--set: threshold: 9 is out of range (allowed: 0.05 to 1)\n") < 0)
		abort();
	CHECK_STR(text, expect);
	free(text);
	free(expect);
	fm_loader_fini(&l);
	fm_config_free(c);
out:
	fm_diag_free(&diag);
	free(dir);
	free(path);
}

/* A stage name with dots can still be addressed by --set: the key is after the last dot. */
static void test_dotted_stage(void)
{
	char *path = unit_config_path("good/dotted.conf");
	struct fm_diag diag = {0};
	struct fm_loader l;
	fm_loader_init(&l, NULL);
	struct fm_config *c = fm_config_load(path, &diag);
	CHECK(c != NULL && diag.n == 0);
	if (c) {
		CHECK(c->stages && strcmp(c->stages->name, "clean.v2") == 0);
		CHECK(fm_config_set(c, "clean.v2.workers=3", &diag) == 0);
		CHECK(fm_config_set(c, "clean.v2.min_words=20", &diag) == 0);
		CHECK(fm_config_validate(c, &l, &diag) == 0);
		CHECK(c->stages && c->stages->workers == 3);
		if (c->stages && c->stages->loaded) {
			const struct fm_plugin *p = &c->stages->loaded->desc;
			void *cfg = fm_plugin_config_new(p, c->stages->options, &diag);
			CHECK(cfg && *(const int64_t *)slot(p, cfg, "min_words") == 20);
			fm_plugin_config_free(p, cfg);
		}
		CHECK(fm_config_set(c, "clean.workers=3", &diag) == -EINVAL);
		CHECK(fm_config_set(c, ".workers=3", &diag) == -EINVAL);
		CHECK(fm_config_set(c, "clean.v2.=3", &diag) == -EINVAL);
		char *got = unit_diag_text(&diag);
		CHECK_STR(got, "--set: no stage named 'clean' in the configuration\n"
		               "--set: '.workers=3' is not STAGE.KEY=VALUE\n"
		               "--set: 'clean.v2.=3' is not STAGE.KEY=VALUE\n");
		free(got);
	}
	fm_config_free(c);
	fm_loader_fini(&l);
	fm_diag_free(&diag);
	free(path);
}

static void test_crlf(void)
{
	char *path = unit_config_path("good/crlf.conf");
	struct fm_diag diag = {0};
	struct fm_loader l;
	fm_loader_init(&l, NULL);
	struct fm_config *c = fm_config_load(path, &diag);
	CHECK(c != NULL);
	if (c) {
		CHECK(fm_config_validate(c, &l, &diag) == 0);
		CHECK(c->stages && c->stages->line == 2);
		CHECK(c->stages && c->stages->plugin && strcmp(c->stages->plugin, "dedupe_similar") == 0);
		if (c->stages && c->stages->loaded) {
			const struct fm_plugin *p = &c->stages->loaded->desc;
			void *cfg = fm_plugin_config_new(p, c->stages->options, &diag);
			CHECK(cfg != NULL);
			if (cfg) {
				CHECK_STR(*(char *const *)slot(p, cfg, "mode"), "mark");
				CHECK(*(const int64_t *)slot(p, cfg, "window") == 3 * 60 * MIN);
				fm_plugin_config_free(p, cfg);
			}
		}
	}
	CHECK(diag.n == 0);
	fm_config_free(c);
	fm_loader_fini(&l);
	fm_diag_free(&diag);
	free(path);
}

/* ------------------------------------------------------------------ broken files */

/*
 * Load and validate `rel`; what the core reports must be exactly `expected` (one line each, in
 * the order `feedmill check` prints them). In expected: {F} is the file's path, {D} its folder,
 * {P} the plugin directory.
 */
static void expect_problems(const char *rel, const char *const *expected)
{
	char *path = unit_config_path(rel);
	char *dir = dir_of(path);
	const char *plugins = getenv("FEEDMILL_PLUGIN_DIR");
	struct fm_diag diag = {0};
	struct fm_loader l;
	fm_loader_init(&l, NULL);
	struct fm_config *c = fm_config_load(path, &diag);
	CHECK(c != NULL);
	if (c)
		CHECK(fm_config_validate(c, &l, &diag) == -EINVAL || diag.n > 0);

	char *want = strdup("");
	for (size_t i = 0; expected[i]; i++) {
		char *line = NULL;
		if (asprintf(&line, "%s%s\n", want, expected[i]) < 0)
			abort();
		free(want);
		want = line;
	}
	want = unit_replace(want, "{F}", path);
	want = unit_replace(want, "{D}", dir);
	want = unit_replace(want, "{P}", plugins ? plugins : "");
	char *got = unit_diag_text(&diag);
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "%s: problems reported differ\n--- expected\n%s--- got\n%s---\n", rel,
		        want, got);
		fmt_failures++;
	}
	free(got);
	free(want);
	fm_config_free(c);
	fm_loader_fini(&l);
	fm_diag_free(&diag);
	free(dir);
	free(path);
}

/* The bounds of the adaptive interval: what each level sets wins, the defaults make room. */
static void test_intervals(void)
{
	char *path = unit_config_path("intervals.conf");
	struct fm_diag diag = {0};
	struct fm_config *c = fm_config_load(path, &diag);
	CHECK(c != NULL && diag.n == 0);
	if (diag.n)
		fm_diag_print(&diag, stderr);
	if (!c)
		goto out;
	/* the global min_interval, the built-in max_interval and default_interval */
	CHECK(c->min_interval_ms == 2 * MIN && c->max_interval_ms == 240 * MIN);
	CHECK(c->default_interval_ms == 15 * MIN);
	static const struct {
		const char *name;
		int64_t iv, lo, hi, rediscover;
	} want[] = {
		{"defaults", 15 * MIN, 2 * MIN, 240 * MIN, 3 * 1440 * MIN},
		{"slow-and-steady", 720 * MIN, 2 * MIN, 720 * MIN, 3 * 1440 * MIN},
		{"every-minute", 1 * MIN, 1 * MIN, 240 * MIN, 3 * 1440 * MIN},
		{"bounded", 15 * MIN, 10 * MIN, 60 * MIN, 720 * MIN},
		{"capped", 90000, 90000, 90000, 3 * 1440 * MIN},
		{"fixed", 30 * MIN, 30 * MIN, 30 * MIN, 3 * 1440 * MIN},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct fm_source_cfg *s = source(c, want[i].name);
		CHECK(s != NULL);
		if (!s)
			continue;
		if (s->bounds.interval_ms != want[i].iv || s->bounds.min_ms != want[i].lo ||
		    s->bounds.max_ms != want[i].hi || s->rediscover_ms != want[i].rediscover) {
			fprintf(stderr, "source %s: interval %lld in [%lld, %lld], rediscover %lld\n",
			        want[i].name, (long long)s->bounds.interval_ms,
			        (long long)s->bounds.min_ms, (long long)s->bounds.max_ms,
			        (long long)s->rediscover_ms);
			fmt_failures++;
		}
	}
	fm_config_free(c);
out:
	fm_diag_free(&diag);
	free(path);

	/* a contradiction is reported at the line that makes it, with both values */
	expect_problems("bad/intervals.conf", (const char *[]){
		"{F}:3: min_interval (2h) is above max_interval (1h)",
		"{F}:8: min_interval (20m) is above max_interval (10m)",
		"{F}:13: min_interval (5m) is above interval (1m)",
		"{F}:18: interval (3h) is above max_interval (2h)",
		"{F}:22: min_interval: 'whenever' is not a duration of at least 1s (like 15m)",
		"{F}:23: rediscover_after: '0' is not a duration of at least 1s (like 15m)",
		NULL});
}

static void test_bad_globals(void)
{
	expect_problems("bad/globals.conf", (const char *[]){
		"{F}:2: unknown global setting 'colour' (known: state_dir, plugin_dir, log_level, "
		"include, default_interval, min_interval, max_interval, rediscover_after, jitter, "
		"max_backoff, drain_timeout, commit_interval, max_attempts, max_doc_size, queue_limit)",
		"{F}:3: default_interval: '5 parsecs' is not a positive duration (like 30s, 15m, 6h)",
		"{F}:4: max_doc_size: '12Q' is not a size of at least 1K (like 16M)",
		"{F}:5: log_level: 'loud' is not a log level (err, warn, notice, info, debug)",
		"{F}:6: jitter: '0.9' is not a fraction from 0 to 0.5",
		"{F}:7: max_attempts: '0' is not a positive integer",
		"{F}:8: expected 'key = value'",
		"{F}:9: missing key before '='",
		"{F}:10: drain_timeout: unterminated quoted value",
		"{F}:11: state_dir: unknown escape in quoted value (use \\\" \\\\ \\n \\t)",
		"{F}:12: queue_limit: text after the closing quote",
		"{F}:13: max_backoff: '0s' is not a positive duration (like 30s, 15m, 6h)",
		"{F}:14: malformed section header (expected [kind NAME])",
		"{F}:16: unknown section [sink]: expected [source NAME], [stage NAME] or [output NAME]",
		NULL});
}

static void test_bad_sections(void)
{
	expect_problems("bad/sections.conf", (const char *[]){
		"{F}:2: [source] needs a name of letters, digits, '_', '-' or '.', not starting with "
		"'.' (got '')",
		"{F}:4: [source] needs a name of letters, digits, '_', '-' or '.', not starting with "
		"'.' (got 'two words')",
		"{F}:8: duplicate source 'alpha' (first defined at {F}:5)",
		"{F}:11: source 'no-url' has no url",
		"{F}:13: enabled: 'maybe' is not yes or no",
		"{F}:14: interval: '0.5s' is not a duration of at least 1s (like 15m)",
		"{F}:15: type: 'podcast' is not one of auto, feed, html",
		"{F}:16: source 'ftp' has no url",
		"{F}:17: url: 'ftp://files.example.com/feed' is not an http:// or https:// URL",
		"{F}:21: duplicate stage or output name 'fetch' (first defined at {F}:19)",
		"{F}:23: duplicate stage or output name 'fetch' (first defined at {F}:19)",
		"{F}:25: stage 'lonely' has no plugin",
		"{F}:27: [stage] needs a name of letters, digits, '_', '-' or '.', not starting with "
		"'.' (got '..')",
		NULL});
}

static void test_bad_plugins(void)
{
	expect_problems("bad/plugins.conf", (const char *[]){
		"{F}:2: include: {D}/missing.d/nothing-here.conf: no such file",
		"{F}:7: unknown source setting 'colour' (known: url, interval, min_interval, "
		"max_interval, rediscover_after, type, enabled, tags, and the per-source options of "
		"the fetch plugin)",
		"{F}:8: max_redirects: 'lots' is not an integer",
		"{F}:10: unknown source setting 'low_speed_limit' (known: url, interval, min_interval, "
		"max_interval, rediscover_after, type, enabled, tags, and the per-source options of "
		"the fetch plugin)",
		"{F}:14: workers: '0' is not a number from 1 to 256",
		"{F}:15: run_as: 'fibre' is not one of thread, process, remote",
		"{F}:16: unknown option 'retries' for plugin fetch_http",
		"{F}:20: plugin dedupe_similar keeps shared state and runs as one instance: "
		"workers must be 1",
		"{F}:21: mode: 'erase' is not one of drop|mark",
		"{F}:22: threshold: 2 is out of range (allowed: 0.05 to 1)",
		"{F}:23: window: 'soon' is not a duration (like 500ms, 30s, 5m, 2h, 1d)",
		"{F}:24: max_text: '12 parsecs' is not a size (like 512K, 10M, 1G)",
		"{F}:25: persist: 'perhaps' is not yes or no",
		"{F}:27: unknown plugin 'classify_tagz': no classify_tagz.so in {P}",
		"{F}:30: run_as = remote needs bind = tcp://*:PORT (the core's side) and connect = "
		"tcp://HOST:PORT (the remote stage's side)",
		"{F}:35: 'Classify.Tags' is not a plugin name (lower-case letters, digits, _ and -)",
		"{F}:38: output 'archive': plugin publish_jsonl needs option 'path' (the JSON Lines "
		"file written (lines are appended; committed with the core's commit_interval))",
		"{F}:41: keep: 'many' is not an integer",
		"{F}:42: connect: 'udp://x:1' is not tcp://HOST:PORT",
		"{F}:44: run_as = remote needs bind = tcp://*:PORT (the core's side) and connect = "
		"tcp://HOST:PORT (the remote stage's side)",
		"{F}:47: bind: 'tcp://*:' is not tcp://HOST:PORT",
		"{F}:48: connect: 'tcp://box.example.net:65535' is not tcp://HOST:PORT",
		"{D}/sources-bad/extra.conf:3: unknown source setting 'proxy' (known: url, interval, "
		"min_interval, max_interval, rediscover_after, type, enabled, tags, and the per-source "
		"options of the fetch plugin)",
		"{D}/sources-bad/extra.conf:4: interval: '1 fortnight' is not a duration of at least "
		"1s (like 15m)",
		NULL});
}

static void test_include_loop(void)
{
	/* A file that names itself is a cycle, reported once at the line that closes it. */
	expect_problems("bad/loop.conf", (const char *[]){
		"{F}:1: include cycle: {F} -> {F}",
		NULL});
}

/* ------------------------------------------------------------------ includes in a scratch folder */

static char *scratch_dir(void)
{
	char *d = strdup("/tmp/fm-test-include-XXXXXX");
	if (!d || !mkdtemp(d))
		abort();
	return d;
}

/* Write dir/name with text; returns the path (caller frees). */
static char *put(const char *dir, const char *name, const char *text)
{
	char *path = NULL;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		abort();
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
	return path;
}

static void remove_scratch(char *dir)
{
	fm_remove_tree(dir);
	free(dir);
}

/* What loading dir/main reports, with dir written as {D}; *cfg gets the configuration when
 * asked for (else it is freed). Caller frees the text. */
static char *load_problems(const char *dir, const char *main, struct fm_config **cfg)
{
	char *path = NULL;
	if (asprintf(&path, "%s/%s", dir, main) < 0)
		abort();
	struct fm_diag diag = {0};
	struct fm_config *c = fm_config_load(path, &diag);
	char *got = unit_replace(unit_diag_text(&diag), dir, "{D}");
	if (cfg)
		*cfg = c;
	else
		fm_config_free(c);
	fm_diag_free(&diag);
	free(path);
	return got;
}

static size_t count_sources(const struct fm_config *c)
{
	size_t n = 0;
	for (const struct fm_source_cfg *s = c ? c->sources : NULL; s; s = s->next)
		n++;
	return n;
}

/*
 * `include = *.conf` in each of six files of one folder: before, `check` read 6^8 files (44 s,
 * 1.7 million messages). Now each file is read once, and every include line that meets a file
 * again says so once: a cycle when the file is being read, "already included" when it was.
 * The glob passes over the file it stands in without a word.
 */
static void test_include_mesh(void)
{
	static const char names[] = "abcdef";
	const int n = 6;
	char *dir = scratch_dir();
	for (int i = 0; i < n; i++) {
		char name[8], text[128];
		snprintf(name, sizeof(name), "%c.conf", names[i]);
		snprintf(text, sizeof(text), "include = *.conf\n[source src-%c]\nurl = https://%c.example/\n",
		         names[i], names[i]);
		free(put(dir, name, text));
	}
	/* a.conf reads b, which reads c ... down to f: file j closes a cycle to each i < j, then
	 * finds the files after j+1 already read by the one before them */
	char *want = strdup("");
	for (int j = 1; j < n; j++) {
		for (int i = 0; i < j; i++) {
			char *chain = strdup("");
			for (int k = i; k <= j; k++) {
				char *next = NULL;
				if (asprintf(&next, "%s{D}/%c.conf -> ", chain, names[k]) < 0)
					abort();
				free(chain);
				chain = next;
			}
			char *line = NULL;
			if (asprintf(&line, "%s{D}/%c.conf:1: include cycle: %s{D}/%c.conf\n", want,
			             names[j], chain, names[i]) < 0)
				abort();
			free(chain);
			free(want);
			want = line;
		}
	}
	for (int j = 0; j < n; j++)
		for (int k = j + 2; k < n; k++) {
			char *line = NULL;
			if (asprintf(&line, "%s{D}/%c.conf:1: include: {D}/%c.conf is already included "
			             "(by {D}/%c.conf:1)\n", want, names[j], names[k], names[k - 1]) < 0)
				abort();
			free(want);
			want = line;
		}
	struct fm_diag sorted = {0};
	/* expected lines in the order check prints them: by file, then as found */
	for (char *p = want, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
		*nl = '\0';
		char *colon = strstr(p, ":1: ");
		*colon = '\0';
		fm_diag_add(&sorted, p, 1, "%s", colon + 4);
	}
	char *want_sorted = unit_diag_text(&sorted);
	struct fm_config *c = NULL;
	char *got = load_problems(dir, "a.conf", &c);
	CHECK_STR(got, want_sorted);
	CHECK(count_sources(c) == (size_t)n);
	fm_config_free(c);
	free(got);
	free(want_sorted);
	free(want);
	fm_diag_free(&sorted);
	remove_scratch(dir);
}

/* One file under three names (another spelling, a symbolic link) is read once; each later
 * include names the line that read it. A glob matching its own file is no problem at all. */
static void test_include_twice(void)
{
	char *dir = scratch_dir();
	free(put(dir, "main.conf", "include = extra.conf\n"
	                           "include = ./extra.conf\n"
	                           "include = alias.conf\n"
	                           "include = self.conf\n"));
	free(put(dir, "extra.conf", "[source extra]\nurl = https://extra.example/\n"));
	free(put(dir, "self.conf", "include = s*.conf\n[source self]\nurl = https://self.example/\n"));
	char *target = NULL, *link_path = NULL;
	if (asprintf(&target, "%s/extra.conf", dir) < 0 || asprintf(&link_path, "%s/alias.conf", dir) < 0)
		abort();
	CHECK(symlink(target, link_path) == 0);
	struct fm_config *c = NULL;
	char *got = load_problems(dir, "main.conf", &c);
	CHECK_STR(got, "{D}/main.conf:2: include: {D}/./extra.conf is already included "
	               "(by {D}/main.conf:1)\n"
	               "{D}/main.conf:3: include: {D}/alias.conf is already included "
	               "(by {D}/main.conf:1)\n");
	CHECK(count_sources(c) == 2);
	fm_config_free(c);
	free(got);
	free(target);
	free(link_path);
	remove_scratch(dir);
}

/* Ten files in a chain (no cycle): the depth limit still stops at 8, once. */
static void test_include_depth(void)
{
	char *dir = scratch_dir();
	for (int i = 0; i < 10; i++) {
		char name[16], text[64];
		snprintf(name, sizeof(name), "%d.conf", i);
		snprintf(text, sizeof(text), "include = %d.conf\n", i + 1);
		free(put(dir, name, i < 9 ? text : "# the end\n"));
	}
	char *got = load_problems(dir, "0.conf", NULL);
	CHECK_STR(got, "{D}/8.conf:1: include: nested more than 8 deep\n");
	free(got);
	remove_scratch(dir);
}

/* A FIFO as the configuration or as an include, and a folder a glob matches, are refused by
 * name, at once: reading a FIFO blocked `feedmill check` until something wrote to it. */
static void test_not_regular(void)
{
	char *dir = scratch_dir();
	char *fifo = NULL, *sub = NULL;
	if (asprintf(&fifo, "%s/fifo.conf", dir) < 0 || asprintf(&sub, "%s/sub.conf", dir) < 0)
		abort();
	CHECK(mkfifo(fifo, 0600) == 0);
	CHECK(mkdir(sub, 0700) == 0);
	free(put(dir, "main.conf", "log_level = info\ninclude = fifo.conf\ninclude = s*.conf\n"));
	char *got = load_problems(dir, "main.conf", NULL);
	CHECK_STR(got, "{D}/main.conf:2: include: {D}/fifo.conf: not a regular file (a FIFO)\n"
	               "{D}/main.conf:3: include: {D}/sub.conf: not a regular file (a directory)\n");
	free(got);

	struct fm_config *c = (struct fm_config *)1;
	got = load_problems(dir, "fifo.conf", &c);
	CHECK(c == NULL);
	CHECK_STR(got, "{D}/fifo.conf: not a regular file (a FIFO)\n");
	free(got);
	free(fifo);
	free(sub);
	remove_scratch(dir);
}

static void test_unreadable(void)
{
	char *path = unit_config_path("bad/does-not-exist.conf");
	struct fm_diag diag = {0};
	struct fm_config *c = fm_config_load(path, &diag);
	CHECK(c == NULL);
	char *got = unit_diag_text(&diag);
	char *want = NULL;
	if (asprintf(&want, "%s: cannot read %s: No such file or directory\n", path, path) < 0)
		abort();
	CHECK_STR(got, want);
	free(got);
	free(want);
	fm_diag_free(&diag);
	free(path);
}

/* A binary file given as the configuration is refused as a whole, not read line by line. */
static void test_binary_file(void)
{
	char tmpl[] = "/tmp/fm-test-config-XXXXXX";
	int fd = mkstemp(tmpl);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	static const char bytes[] = "[stage x]\nplugin = dedupe_similar\n\0\x7f" "ELF";
	CHECK(write(fd, bytes, sizeof(bytes)) == (ssize_t)sizeof(bytes));
	close(fd);
	struct fm_diag diag = {0};
	CHECK(fm_config_load(tmpl, &diag) == NULL);
	char *got = unit_diag_text(&diag);
	char *want = NULL;
	if (asprintf(&want, "%s: not a text file (contains NUL bytes)\n", tmpl) < 0)
		abort();
	CHECK_STR(got, want);
	free(got);
	free(want);
	fm_diag_free(&diag);
	unlink(tmpl);
}

/* --set replaces what the file says, for a list option too; several --set make the list. */
static void test_set_replaces_a_list(void)
{
	char tmpl[] = "/tmp/fm-test-config-XXXXXX";
	int fd = mkstemp(tmpl);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	static const char text[] = "[stage dedupe]\nplugin = dedupe_similar\n"
	                           "strip_params = utm_*\nstrip_params = ref\n";
	CHECK(write(fd, text, sizeof(text) - 1) == (ssize_t)sizeof(text) - 1);
	close(fd);
	struct fm_diag diag = {0};
	struct fm_loader l;
	fm_loader_init(&l, NULL);
	struct fm_config *c = fm_config_load(tmpl, &diag);
	CHECK(c != NULL);
	if (c) {
		CHECK(fm_config_set(c, "dedupe.strip_params=sid", &diag) == 0);
		CHECK(fm_config_set(c, "dedupe.strip_params=gclid", &diag) == 0);
		CHECK(fm_config_validate(c, &l, &diag) == 0);
		struct fm_stage_cfg *st = c->stages;
		if (st && st->loaded) {
			const struct fm_plugin *p = &st->loaded->desc;
			void *cfg = fm_plugin_config_new(p, st->options, &diag);
			CHECK(cfg && strlist_is(slot(p, cfg, "strip_params"),
			                        (const char *[]){"sid", "gclid", NULL}));
			if (cfg)
				fm_plugin_config_free(p, cfg);
		}
		fm_config_free(c);
	}
	CHECK(diag.n == 0);
	fm_diag_free(&diag);
	fm_loader_fini(&l);
	unlink(tmpl);
}

int main(void)
{
	/* A FIFO read by mistake blocks for ever: fail instead of waiting for the suite's timeout. */
	alarm(60);
	fm_log_set_level(FM_LOG_ERR);
	test_good_full();
	test_defaults();
	test_crlf();
	test_dotted_stage();
	test_intervals();
	test_bad_globals();
	test_bad_sections();
	test_bad_plugins();
	test_include_loop();
	test_include_mesh();
	test_include_twice();
	test_include_depth();
	test_not_regular();
	test_unreadable();
	test_binary_file();
	test_set_replaces_a_list();
	return fmt_done("test_config");
}
