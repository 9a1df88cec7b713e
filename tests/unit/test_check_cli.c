/*
 * `feedmill check` end to end ($FEEDMILL_BIN): a broken configuration exits 3 with every
 * problem as FILE:LINE on stderr; a good one exits 0 and says OK.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include "log.h"
#include "unit.h"

static void test_broken(void)
{
	char *path = unit_config_path("bad/sections.conf");
	char *out, *err;
	CHECK(unit_run_feedmill((const char *[]){"check", "-c", path, NULL}, &out, &err) == 3);
	const char *tmpl =
		"{F}:2: [source] needs a name of letters, digits, '_', '-' or '.', not starting with "
		"'.' (got '')\n"
		"{F}:4: [source] needs a name of letters, digits, '_', '-' or '.', not starting with "
		"'.' (got 'two words')\n"
		"{F}:8: duplicate source 'alpha' (first defined at {F}:5)\n"
		"{F}:11: source 'no-url' has no url\n"
		"{F}:13: enabled: 'maybe' is not yes or no\n"
		"{F}:14: interval: '0.5s' is not a duration of at least 1s (like 15m)\n"
		"{F}:15: type: 'podcast' is not one of auto, feed, html\n"
		"{F}:16: source 'ftp' has no url\n"
		"{F}:17: url: 'ftp://files.example.com/feed' is not an http:// or https:// URL\n"
		"{F}:21: duplicate stage or output name 'fetch' (first defined at {F}:19)\n"
		"{F}:23: duplicate stage or output name 'fetch' (first defined at {F}:19)\n"
		"{F}:25: stage 'lonely' has no plugin\n"
		"{F}:27: [stage] needs a name of letters, digits, '_', '-' or '.', not starting with "
		"'.' (got '..')\n"
		"feedmill: 13 problems in the configuration\n";
	char *want = unit_replace(strdup(tmpl), "{F}", path);
	CHECK_STR(err, want);
	CHECK_STR(out, "");
	free(want);
	free(out);
	free(err);
	free(path);

	/* the plugin-level problems too, through the same command */
	path = unit_config_path("bad/plugins.conf");
	CHECK(unit_run_feedmill((const char *[]){"check", "-c", path, NULL}, &out, &err) == 3);
	char *line = NULL;
	if (asprintf(&line, "%s:22: threshold: 2 is out of range (allowed: 0.05 to 1)\n", path) < 0)
		abort();
	CHECK(err && strstr(err, line) != NULL);
	CHECK(err && strstr(err, "feedmill: 24 problems in the configuration\n") != NULL);
	free(line);
	free(out);
	free(err);
	free(path);

	/* --set is checked like the file */
	path = unit_config_path("minimal.conf");
	CHECK(unit_run_feedmill((const char *[]){"check", "-c", path, "--set", "dedupe.mode=erase",
	                                         NULL},
	                        &out, &err) == 3);
	CHECK_STR(err, "--set: mode: 'erase' is not one of drop|mark\n"
	               "feedmill: 1 problem in the configuration\n");
	free(out);
	free(err);
	free(path);

	/* a file that is not there */
	path = unit_config_path("bad/no-such-file.conf");
	CHECK(unit_run_feedmill((const char *[]){"check", "-c", path, NULL}, &out, &err) == 3);
	CHECK(err && strstr(err, "No such file or directory") != NULL);
	free(out);
	free(err);
	free(path);
}

/* An include cycle, and a FIFO given as the configuration: one line each, exit 3, at once
 * (the FIFO blocked `check` until something wrote to it). */
static void test_cycle_and_fifo(void)
{
	char *path = unit_config_path("bad/loop.conf");
	char *out, *err, *want = NULL;
	CHECK(unit_run_feedmill((const char *[]){"check", "-c", path, NULL}, &out, &err) == 3);
	if (asprintf(&want, "%s: no [stage NAME] sections: nothing to run\n"
	                    "%s:1: include cycle: %s -> %s\n"
	                    "feedmill: 2 problems in the configuration\n", path, path, path, path) < 0)
		abort();
	CHECK_STR(err, want);
	CHECK_STR(out, "");
	free(want);
	free(out);
	free(err);
	free(path);

	char dir[] = "/tmp/fm-test-check-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	if (asprintf(&path, "%s/pipeline.conf", dir) < 0)
		abort();
	CHECK(mkfifo(path, 0600) == 0);
	CHECK(unit_run_feedmill((const char *[]){"check", "-c", path, NULL}, &out, &err) == 3);
	if (asprintf(&want, "%s: not a regular file (a FIFO)\n"
	                    "feedmill: 1 problem in the configuration\n", path) < 0)
		abort();
	CHECK_STR(err, want);
	free(want);
	free(out);
	free(err);
	unlink(path);
	rmdir(dir);
	free(path);
}

/* The rules and model a configuration names are loaded by `check` (classify_tags' check(),
 * ABI 1.3): before, check said OK and `run` exited 1 at the stage's start. Each problem is
 * placed at the option that names the file. */
static void test_files_the_settings_name(void)
{
	char dir[] = "/tmp/fm-test-check-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char *conf = NULL, *rules = NULL, *out, *err, *want = NULL;
	if (asprintf(&conf, "%s/pipeline.conf", dir) < 0 || asprintf(&rules, "%s/tags.rules", dir) < 0)
		abort();
	FILE *f = fopen(rules, "w");
	CHECK(f && fputs("tag ok keyword harbour\ntag broken regex /(unclosed/\n", f) >= 0 &&
	      fclose(f) == 0);
	f = fopen(conf, "w");
	CHECK(f && fputs("[stage classify]\nplugin = classify_tags\nrules = tags.rules\n"
	                 "model = topics.model\n", f) >= 0 && fclose(f) == 0);
	CHECK(unit_run_feedmill((const char *[]){"check", "-c", conf, NULL}, &out, &err) == 3);
	if (asprintf(&want, "%s:3: rules: %s:2: bad regex /(unclosed/: ", conf, rules) < 0)
		abort();
	CHECK(err && strstr(err, want) != NULL);
	free(want);
	if (asprintf(&want, "%s:4: model: %s/topics.model: No such file or directory\n"
	                    "feedmill: 2 problems in the configuration\n", conf, dir) < 0)
		abort();
	CHECK(err && strlen(err) > strlen(want) && strcmp(err + strlen(err) - strlen(want), want) == 0);
	CHECK_STR(out, "");
	free(want);
	free(out);
	free(err);

	/* with the rule mended and no model, the configuration is OK */
	f = fopen(rules, "w");
	CHECK(f && fputs("tag ok keyword harbour\n", f) >= 0 && fclose(f) == 0);
	/* a file that is not a model, named on the command line */
	char *set = NULL;
	if (asprintf(&set, "classify.model=%s", rules) < 0 ||
	    asprintf(&want, "--set: model: %s:1: not a feedmill topic model", rules) < 0)
		abort();
	CHECK(unit_run_feedmill((const char *[]){"check", "-c", conf, "--set", set, NULL}, &out,
	                        &err) == 3);
	CHECK(err && strstr(err, want) != NULL);
	free(set);
	free(want);
	free(out);
	free(err);
	f = fopen(conf, "w");
	CHECK(f && fputs("[stage classify]\nplugin = classify_tags\nrules = tags.rules\n", f) >= 0 &&
	      fclose(f) == 0);
	CHECK(unit_run_feedmill((const char *[]){"check", "-c", conf, NULL}, &out, &err) == 0);
	CHECK_STR(err, "");
	free(out);
	free(err);
	unlink(rules);
	unlink(conf);
	rmdir(dir);
	free(rules);
	free(conf);
}

/* The regex glibc compiled into 3.8 GB is refused by `check` at once, with the rule's line
 * and the reason, within 512 MB of address space (inherited by the feedmill it runs, so a
 * regression fails here instead of eating the machine; not under AddressSanitizer, whose
 * shadow memory needs terabytes of address space). */
static void test_pathological_regex(void)
{
	char dir[] = "/tmp/fm-test-check-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char *conf = NULL, *rules = NULL, *out, *err, *want = NULL;
	if (asprintf(&conf, "%s/pipeline.conf", dir) < 0 || asprintf(&rules, "%s/evil.rules", dir) < 0)
		abort();
	FILE *f = fopen(rules, "w");
	CHECK(f && fputs("tag markets regex /\\b(stocks?|b++++++++++++++++++++++++onds?)\\b/i\n",
	                 f) >= 0 && fclose(f) == 0);
	f = fopen(conf, "w");
	CHECK(f && fputs("[stage classify]\nplugin = classify_tags\nrules = evil.rules\n", f) >= 0 &&
	      fclose(f) == 0);
	struct rlimit saved;
	CHECK(getrlimit(RLIMIT_AS, &saved) == 0);
#ifndef __SANITIZE_ADDRESS__
	struct rlimit lim = {512u << 20, saved.rlim_max};
	CHECK(setrlimit(RLIMIT_AS, &lim) == 0);
#endif
	int rc = unit_run_feedmill((const char *[]){"check", "-c", conf, NULL}, &out, &err);
	CHECK(setrlimit(RLIMIT_AS, &saved) == 0);
	CHECK(rc == 3);
	if (asprintf(&want, "%s:3: rules: %s:1: bad regex /\\b(stocks?|b++++++++++++++++++++++++onds?)"
	                    "\\b/: quantifier does not follow a repeatable item (at offset 14): one "
	                    "quantifier at a time (x+? and x++ are lazy and possessive)\n"
	                    "feedmill: 1 problem in the configuration\n", conf, rules) < 0)
		abort();
	CHECK_STR(err, want);
	free(want);
	free(out);
	free(err);
	unlink(rules);
	unlink(conf);
	rmdir(dir);
	free(rules);
	free(conf);
}

static void test_good(void)
{
	char *path = unit_config_path("good/pipeline.conf");
	char *out, *err;
	CHECK(unit_run_feedmill((const char *[]){"check", "-c", path, NULL}, &out, &err) == 0);
	char *want = NULL;
	if (asprintf(&want, "%s: OK (4 sources, 3 stages, 1 outputs)\n", path) < 0)
		abort();
	CHECK_STR(out, want);
	CHECK_STR(err, "");
	free(want);
	free(out);
	free(err);

	/* --set applies on top and may fix nothing that is not broken */
	CHECK(unit_run_feedmill((const char *[]){"check", "--set", "dedupe.mode=drop", "-c", path, NULL}, &out,
	          &err) == 0);
	CHECK(out && strstr(out, ": OK (") != NULL);
	free(out);
	free(err);
	free(path);

	/* a usage error is not a configuration error */
	CHECK(unit_run_feedmill((const char *[]){"check", "--set", NULL}, &out, &err) == 2);
	free(out);
	free(err);
}

int main(void)
{
	fm_log_set_level(FM_LOG_ERR);
	test_broken();
	test_cycle_and_fifo();
	test_files_the_settings_name();
	test_pathological_regex();
	test_good();
	return fmt_done("test_check_cli");
}
