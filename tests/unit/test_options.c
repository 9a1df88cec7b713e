/*
 * Typed options: the value parsers (sizes, durations, booleans) and fm_options_fill against an
 * option table like a plugin's: defaults, enum choices, ranges, paths, lists built up over
 * repeated keys, required keys, and one message per problem with its place.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include <feedmill/plugin.h>

#include "log.h"
#include "options.h"
#include "unit.h"

/* ------------------------------------------------------------------ parsers */

static void test_sizes(void)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} good[] = {
		{"512", 512},          {"0", 0},
		{"64K", 64 << 10},     {"64k", 64 << 10},
		{"64KiB", 64 << 10},   {"10M", 10 << 20},
		{"10mb", 10 << 20},    {"1G", 1ull << 30},
		{"3GiB", 3ull << 30},  {"1.5K", 1536},
		{"2 M", 2 << 20},      {"100B", 100},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint64_t v = 1234567;
		int rc = fm_parse_size(good[i].text, &v);
		if (rc != 0 || v != good[i].bytes) {
			fprintf(stderr, "size '%s': rc %d, %llu bytes, expected %llu\n", good[i].text, rc,
			        (unsigned long long)v, (unsigned long long)good[i].bytes);
			fmt_failures++;
		}
	}
	static const char *const bad[] = {"", "K", "-1K", "12Q", "10MBs", "ten", "1T", "nan",
	                                  "99999999999G", "5 M B"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 7;
		if (fm_parse_size(bad[i], &v) != -EINVAL || v != 7) {
			fprintf(stderr, "size '%s' should be refused, untouched\n", bad[i]);
			fmt_failures++;
		}
	}
}

static void test_durations(void)
{
	static const struct {
		const char *text;
		int64_t ms;
	} good[] = {
		{"250ms", 250},        {"30s", 30000},        {"5m", 300000},
		{"2h", 7200000},       {"1d", 86400000},      {"90", 90000}, /* bare: seconds */
		{"1.5s", 1500},        {"0", 0},              {"10 min", 600000},
		{"2sec", 2000},        {"0.5", 500},          {"7d", 7 * 86400000LL},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int64_t v = -1;
		int rc = fm_parse_duration(good[i].text, &v);
		if (rc != 0 || v != good[i].ms) {
			fprintf(stderr, "duration '%s': rc %d, %lld ms, expected %lld\n", good[i].text,
			        rc, (long long)v, (long long)good[i].ms);
			fmt_failures++;
		}
	}
	static const char *const bad[] = {"", "soon", "-5s", "5 parsecs", "1w", "s", "ms5",
	                                  "30s ago", "inf"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t v = 7;
		if (fm_parse_duration(bad[i], &v) != -EINVAL || v != 7) {
			fprintf(stderr, "duration '%s' should be refused, untouched\n", bad[i]);
			fmt_failures++;
		}
	}
}

static void test_bools(void)
{
	static const char *const yes[] = {"yes", "true", "on", "1", "YES", "True", "On"};
	static const char *const no[] = {"no", "false", "off", "0", "No", "FALSE", "OFF"};
	static const char *const bad[] = {"", "maybe", "2", "y", "n", "yes please", "enabled"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		bool v = false;
		CHECK(fm_parse_bool(yes[i], &v) == 0 && v);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		bool v = true;
		CHECK(fm_parse_bool(no[i], &v) == 0 && !v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool v = true;
		if (fm_parse_bool(bad[i], &v) != -EINVAL || !v) {
			fprintf(stderr, "bool '%s' should be refused\n", bad[i]);
			fmt_failures++;
		}
	}
	int64_t n;
	CHECK(fm_parse_int("-42", &n) == 0 && n == -42);
	CHECK(fm_parse_int("42x", &n) == -EINVAL);
	CHECK(fm_parse_int("", &n) == -EINVAL);
	CHECK(fm_parse_int("99999999999999999999", &n) == -EINVAL);
}

/* ------------------------------------------------------------------ a plugin's table */

struct demo_config {
	char *label;
	int64_t count;
	bool verbose;
	double ratio;
	char *mode;
	uint64_t buffer;
	int64_t wait;
	char *rules;
	struct fm_strlist words;
	struct fm_strlist extra;
	char *secret;
};

#define OFF(f) offsetof(struct demo_config, f)
static const struct fm_option demo_options[] = {
	{"label", FM_OPT_STR, "plain", OFF(label), 0, NULL, 0, 0, "a label"},
	{"count", FM_OPT_INT, "5", OFF(count), 0, NULL, 1, 10, "between 1 and 10"},
	{"verbose", FM_OPT_BOOL, "no", OFF(verbose), 0, NULL, 0, 0, "say more"},
	{"ratio", FM_OPT_DOUBLE, "0.25", OFF(ratio), 0, NULL, 0, 1, "a fraction"},
	{"mode", FM_OPT_ENUM, "drop", OFF(mode), 0, "drop|mark|keep", 0, 0, "what to do"},
	{"buffer", FM_OPT_SIZE, "64K", OFF(buffer), 0, NULL, 1024, 1 << 30, "bytes held"},
	{"wait", FM_OPT_DURATION, "30s", OFF(wait), 0, NULL, 1, 3600, "seconds, 1s to 1h"},
	{"rules", FM_OPT_PATH, NULL, OFF(rules), 0, NULL, 0, 0, "a rules file"},
	{"words", FM_OPT_LIST, "alpha, beta", OFF(words), 0, NULL, 0, 0, "a list with a default"},
	{"extra", FM_OPT_LIST, NULL, OFF(extra), 0, NULL, 0, 0, "a list without one"},
	{"secret", FM_OPT_STR, NULL, OFF(secret), FM_OPT_REQUIRED | FM_OPT_SECRET, NULL, 0, 0,
	 "must be set"},
	{NULL, 0, NULL, 0, 0, NULL, 0, 0, NULL},
};
#undef OFF

static const struct fm_plugin demo = {
	.abi_major = FM_ABI_MAJOR,
	.abi_minor = FM_ABI_MINOR,
	.struct_size = sizeof(struct fm_plugin),
	.name = "demo",
	.kind = "test",
	.options = demo_options,
	.config_size = sizeof(struct demo_config),
};

/* Settings as pipeline.conf lines: "key=value" at FILE:LINE (file NULL: --set). */
static struct fm_setting *settings(const char *file, int first_line, const char *const *kv)
{
	struct fm_setting *list = NULL;
	for (size_t i = 0; kv[i]; i++) {
		const char *eq = strchr(kv[i], '=');
		char *key = strndup(kv[i], (size_t)(eq - kv[i]));
		fm_setting_append(&list, fm_setting_new(key, eq + 1, file, file ? first_line + (int)i : 0));
		free(key);
	}
	return list;
}

static bool list_is(const struct fm_strlist *l, const char *const *want)
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

static void test_defaults(void)
{
	struct demo_config c;
	memset(&c, 0, sizeof(c));
	struct fm_diag diag = {0};
	struct fm_setting *s = settings("/etc/feedmill/p.conf", 10,
	                                (const char *[]){"secret=hunter2", NULL});
	CHECK(fm_options_fill(&demo, &c, s, &diag) == 0);
	CHECK(diag.n == 0);
	CHECK_STR(c.label, "plain");
	CHECK(c.count == 5);
	CHECK(!c.verbose);
	CHECK(fabs(c.ratio - 0.25) < 1e-12);
	CHECK_STR(c.mode, "drop");
	CHECK(c.buffer == 65536);
	CHECK(c.wait == 30000);
	CHECK(c.rules == NULL);
	CHECK(list_is(&c.words, (const char *[]){"alpha", "beta", NULL}));
	CHECK(c.extra.n == 0 && c.extra.items == NULL);
	CHECK_STR(c.secret, "hunter2");
	fm_options_release(&demo, &c);
	CHECK(c.label == NULL && c.words.n == 0);
	fm_settings_free(s);
	fm_diag_free(&diag);
}

static void test_values(void)
{
	struct demo_config c;
	memset(&c, 0, sizeof(c));
	struct fm_diag diag = {0};
	struct fm_setting *s = settings("/etc/feedmill/conf.d/p.conf", 1, (const char *[]){
		"secret=x",
		"label=first",
		"label=second",         /* a key set again replaces the earlier value */
		"count=10",             /* the top of the range is allowed */
		"verbose=On",
		"ratio=1",
		"mode=mark",
		"buffer=10M",
		"wait=250ms",           /* below 1s: refused (checked below separately) */
		"rules=rules/tags.txt", /* relative to the folder of the file that set it */
		"words=gamma",          /* the first line replaces the default list */
		"words= delta , ,epsilon,",
		"extra=one",
		NULL});
	/* drop the out-of-range wait to get a clean fill first */
	struct fm_setting **pp = &s;
	while (*pp && strcmp((*pp)->key, "wait") != 0)
		pp = &(*pp)->next;
	struct fm_setting *wait = *pp;
	*pp = wait->next;
	wait->next = NULL;
	fm_settings_free(wait);

	CHECK(fm_options_fill(&demo, &c, s, &diag) == 0);
	if (diag.n)
		fm_diag_print(&diag, stderr);
	CHECK_STR(c.label, "second");
	CHECK(c.count == 10);
	CHECK(c.verbose);
	CHECK(c.ratio == 1.0);
	CHECK_STR(c.mode, "mark");
	CHECK(c.buffer == 10u << 20);
	CHECK(c.wait == 30000);
	CHECK_STR(c.rules, "/etc/feedmill/conf.d/rules/tags.txt");
	CHECK(list_is(&c.words, (const char *[]){"gamma", "delta", "epsilon", NULL}));
	CHECK(list_is(&c.extra, (const char *[]){"one", NULL}));
	fm_options_release(&demo, &c);
	fm_settings_free(s);
	fm_diag_free(&diag);

	/* an absolute path stays as written; a --set path is taken as given */
	memset(&c, 0, sizeof(c));
	s = settings("/srv/p.conf", 1, (const char *[]){"secret=x", "rules=/var/lib/r.txt", NULL});
	CHECK(fm_options_fill(&demo, &c, s, &diag) == 0);
	CHECK_STR(c.rules, "/var/lib/r.txt");
	fm_options_release(&demo, &c);
	fm_settings_free(s);
	memset(&c, 0, sizeof(c));
	s = settings(NULL, 0, (const char *[]){"secret=x", "rules=r.txt", "count=1", NULL});
	CHECK(fm_options_fill(&demo, &c, s, &diag) == 0);
	CHECK_STR(c.rules, "r.txt");
	CHECK(c.count == 1); /* the bottom of the range too */
	fm_options_release(&demo, &c);
	fm_settings_free(s);
	CHECK(diag.n == 0);
	fm_diag_free(&diag);
}

static void test_problems(void)
{
	struct demo_config c;
	memset(&c, 0, sizeof(c));
	struct fm_diag diag = {0};
	struct fm_setting *s = settings("p.conf", 20, (const char *[]){
		"count=11",       /* 20 */
		"count=three",    /* 21 */
		"verbose=maybe",  /* 22 */
		"ratio=1.5",      /* 23 */
		"mode=erase",     /* 24 */
		"mode=dro",       /* 25: not a prefix match */
		"buffer=512",     /* 26: below 1024 */
		"buffer=lots",    /* 27 */
		"wait=250ms",     /* 28: below 1s */
		"wait=2h",        /* 29: above 1h */
		"wait=later",     /* 30 */
		"rules=",         /* 31 */
		"colour=red",     /* 32 */
		NULL});
	fm_setting_append(&s, fm_setting_new("count", "0", NULL, 0)); /* --set */
	CHECK(fm_options_fill(&demo, &c, s, &diag) == -EINVAL);
	char *got = unit_diag_text(&diag);
	CHECK_STR(got,
	          "--set: count: 0 is out of range (allowed: 1 to 10)\n"
	          "p.conf:20: count: 11 is out of range (allowed: 1 to 10)\n"
	          "p.conf:21: count: 'three' is not an integer\n"
	          "p.conf:22: verbose: 'maybe' is not yes or no\n"
	          "p.conf:23: ratio: 1.5 is out of range (allowed: 0 to 1)\n"
	          "p.conf:24: mode: 'erase' is not one of drop|mark|keep\n"
	          "p.conf:25: mode: 'dro' is not one of drop|mark|keep\n"
	          "p.conf:26: buffer: 512 is out of range (allowed: 1024 to 1.07374e+09)\n"
	          "p.conf:27: buffer: 'lots' is not a size (like 512K, 10M, 1G)\n"
	          "p.conf:28: wait: 250ms is out of range (allowed: 1s to 3600s)\n"
	          "p.conf:29: wait: 2h is out of range (allowed: 1s to 3600s)\n"
	          "p.conf:30: wait: 'later' is not a duration (like 500ms, 30s, 5m, 2h, 1d)\n"
	          "p.conf:31: rules: empty path\n"
	          "p.conf:32: unknown option 'colour' for plugin test_demo\n"
	          "plugin test_demo needs option 'secret' (must be set)\n");
	free(got);
	fm_options_release(&demo, &c);
	fm_settings_free(s);
	fm_diag_free(&diag);
}

/* The typed JSON form carried in fetch requests as per-source overrides. */
static void test_value_json(void)
{
	char err[256];
	const struct fm_option *o;
	json_t *v;

	o = fm_option_find(demo_options, "wait");
	v = fm_option_value_json(o, "5m", NULL, err, sizeof(err));
	CHECK(json_is_integer(v) && json_integer_value(v) == 300000);
	json_decref(v);
	CHECK(fm_option_value_json(o, "2h", NULL, err, sizeof(err)) == NULL);
	CHECK_STR(err, "2h is out of range (allowed: 1s to 3600s)");

	o = fm_option_find(demo_options, "buffer");
	v = fm_option_value_json(o, "2M", NULL, err, sizeof(err));
	CHECK(json_is_integer(v) && json_integer_value(v) == 2 << 20);
	json_decref(v);

	o = fm_option_find(demo_options, "verbose");
	v = fm_option_value_json(o, "off", NULL, err, sizeof(err));
	CHECK(json_is_false(v));
	json_decref(v);

	o = fm_option_find(demo_options, "extra");
	v = fm_option_value_json(o, "a, b,,c", NULL, err, sizeof(err));
	CHECK(json_is_array(v) && json_array_size(v) == 3);
	CHECK_STR(json_string_value(json_array_get(v, 2)), "c");
	json_decref(v);

	o = fm_option_find(demo_options, "rules");
	v = fm_option_value_json(o, "r.txt", "/etc/fm", err, sizeof(err));
	CHECK_STR(json_string_value(v), "/etc/fm/r.txt");
	json_decref(v);

	o = fm_option_find(demo_options, "mode");
	CHECK(fm_option_value_json(o, "explode", NULL, err, sizeof(err)) == NULL);
	CHECK_STR(err, "'explode' is not one of drop|mark|keep");

	CHECK(fm_option_find(demo_options, "nope") == NULL);
	CHECK(fm_option_find(NULL, "label") == NULL);
}

int main(void)
{
	fm_log_set_level(FM_LOG_ERR);
	test_sizes();
	test_durations();
	test_bools();
	test_defaults();
	test_values();
	test_problems();
	test_value_json();
	return fmt_done("test_options");
}
