/* publish_jsonl through the host API: whole lines, no duplicates across restarts (clean or
 * killed at any point), each revision once, a torn line cut, field selection, rotation that
 * loses and doubles nothing and removes files only under a retention, commits that fail while
 * the file cannot be written and nothing lost once it can, links that are http(s) or gone. */
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <feedmill/plugin.h>

#include "harness.h"

static char dir[] = "/tmp/fmt-jsonl-XXXXXX";

static char *pathf(const char *a)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", dir, a) < 0)
		abort();
	return p;
}

/* The file's lines parsed; aborts the check (returns an empty array) on a line that is not a
 * JSON object. */
static json_t *read_lines(const char *path)
{
	json_t *arr = json_array();
	FILE *f = fopen(path, "r");
	if (!f)
		return arr;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		CHECK(line[n - 1] == '\n'); /* whole lines only */
		json_error_t e;
		json_t *doc = json_loads(line, 0, &e);
		CHECK(json_is_object(doc));
		if (doc)
			json_array_append_new(arr, doc);
	}
	free(line);
	fclose(f);
	return arr;
}

static int process(fmt_stage *s, const char *json)
{
	json_t *out = NULL;
	int rc = fmt_stage_process_str(s, json, &out, NULL);
	if (rc == FM_PASS)
		CHECK(json_array_size(out) == 1);
	json_decref(out);
	return rc;
}

static const char *id_at(json_t *lines, size_t i)
{
	return json_string_value(json_object_get(json_array_get(lines, i), "id"));
}

/* No temporary file may be left beside the output. */
static void check_no_temp(const char *sub)
{
	char *d = pathf(sub);
	DIR *dh = opendir(d);
	struct dirent *de;
	while (dh && (de = readdir(dh))) {
		if (strstr(de->d_name, ".tmp")) {
			fprintf(stderr, "left over: %s\n", de->d_name);
			CHECK(strstr(de->d_name, ".tmp") == NULL);
		}
	}
	if (dh)
		closedir(dh);
	free(d);
}

static fmt_stage *open_stage(const char *out, const char *state, const char *extra)
{
	char *ps = NULL;
	if (asprintf(&ps, "path=%s", out) < 0)
		abort();
	const char *settings[] = {ps, "fsync=no", extra, NULL};
	fmt_stage *s = fmt_stage_open("publish_jsonl", settings, state);
	free(ps);
	CHECK(s != NULL);
	return s;
}

static void test_write_restart(void)
{
	char *out = pathf("a/out.jsonl"), *state = pathf("a-state");
	char *sub = pathf("a");
	mkdir(sub, 0755);
	fmt_stage *s = open_stage(out, state, NULL);
	if (!s)
		return;
	CHECK(process(s, "{\"id\":\"d1\",\"title\":\"One\",\"text\":\"line\\nbreak\"}") == FM_PASS);
	CHECK(process(s, "{\"id\":\"d2\",\"title\":\"Two\",\"page_html\":\"<html>raw</html>\"}") ==
	      FM_PASS);
	CHECK(process(s, "{\"id\":\"d1\",\"title\":\"One again\"}") == FM_PASS); /* duplicate */
	CHECK(process(s, "{\"url\":\"https://example.net/3\",\"title\":\"Three\"}") == FM_PASS);
	fmt_stage_close(s);

	json_t *lines = read_lines(out);
	CHECK(json_array_size(lines) == 3);
	CHECK_STR(id_at(lines, 0), "d1");
	CHECK_STR(json_string_value(json_object_get(json_array_get(lines, 0), "title")), "One");
	CHECK_STR(json_string_value(json_object_get(json_array_get(lines, 0), "text")),
	          "line\nbreak");
	CHECK_STR(id_at(lines, 1), "d2");
	CHECK(json_object_get(json_array_get(lines, 1), "page_html") == NULL); /* internal field */
	CHECK_STR(json_string_value(json_object_get(json_array_get(lines, 2), "url")),
	          "https://example.net/3");
	json_decref(lines);
	check_no_temp("a");

	/* Restart: what was written is remembered from the file itself. */
	s = open_stage(out, state, NULL);
	if (!s)
		return;
	CHECK(process(s, "{\"id\":\"d2\",\"title\":\"Two, redelivered\"}") == FM_PASS);
	CHECK(process(s, "{\"url\":\"https://example.net/3\"}") == FM_PASS);
	CHECK(process(s, "{\"id\":\"d4\",\"title\":\"Four\"}") == FM_PASS);
	fmt_stage_close(s);
	lines = read_lines(out);
	CHECK(json_array_size(lines) == 4);
	CHECK_STR(id_at(lines, 3), "d4");
	json_decref(lines);

	/* Even with a fresh state directory, the output's ids are not written again. */
	char *state2 = pathf("a-state2");
	s = open_stage(out, state2, NULL);
	if (s) {
		CHECK(process(s, "{\"id\":\"d4\",\"title\":\"Four again\"}") == FM_PASS);
		fmt_stage_close(s);
	}
	lines = read_lines(out);
	CHECK(json_array_size(lines) == 4);
	json_decref(lines);
	free(state2);
	free(out);
	free(state);
	free(sub);
}

/* The journal of the version before: its lines not in the output are written, once. */
static void test_old_journal_adopted(void)
{
	char *sub = pathf("b"), *out = pathf("b/out.jsonl");
	char *state = pathf("b-state"), *journal = pathf("b-state/journal.jsonl");
	mkdir(sub, 0755);
	mkdir(state, 0755);
	FILE *f = fopen(out, "w");
	fputs("{\"id\":\"old\",\"title\":\"Already out\"}\n", f);
	fclose(f);
	f = fopen(journal, "w");
	fputs("{\"id\":\"old\",\"title\":\"Already out\"}\n"
	      "{\"id\":\"new\",\"title\":\"Only in the journal\"}\n"
	      "{\"id\":\"torn\",\"title\":\"cut",
	      f);
	fclose(f);
	fmt_stage *s = open_stage(out, state, NULL);
	if (!s)
		return;
	fmt_stage_close(s);
	json_t *lines = read_lines(out);
	CHECK(json_array_size(lines) == 2);
	CHECK_STR(id_at(lines, 0), "old");
	CHECK_STR(id_at(lines, 1), "new");
	json_decref(lines);
	CHECK(access(journal, F_OK) != 0);
	free(sub);
	free(out);
	free(state);
	free(journal);
}

/* A crash in the middle of a write leaves a torn last line: it is cut at the next start, and
 * its document, delivered again, is written whole. */
static void test_torn_line(void)
{
	char *sub = pathf("t"), *out = pathf("t/out.jsonl"), *state = pathf("t-state");
	mkdir(sub, 0755);
	FILE *f = fopen(out, "w");
	fputs("{\"id\":\"whole\",\"title\":\"Fine\"}\n{\"id\":\"torn\",\"title\":\"Half", f);
	fclose(f);
	fmt_stage *s = open_stage(out, state, NULL);
	if (!s)
		return;
	CHECK(process(s, "{\"id\":\"torn\",\"title\":\"Half a line no more\"}") == FM_PASS);
	CHECK(process(s, "{\"id\":\"whole\",\"title\":\"Fine\"}") == FM_PASS);
	fmt_stage_close(s);
	json_t *lines = read_lines(out);
	CHECK(json_array_size(lines) == 2);
	CHECK_STR(id_at(lines, 0), "whole");
	CHECK_STR(id_at(lines, 1), "torn");
	json_decref(lines);
	free(sub);
	free(out);
	free(state);
}

/* A document whose dedupe stage says it is a new revision is written again, once. */
static void test_revisions(void)
{
	char *sub = pathf("v"), *out = pathf("v/out.jsonl"), *state = pathf("v-state");
	mkdir(sub, 0755);
	for (int run = 0; run < 2; run++) {
		fmt_stage *s = open_stage(out, state, NULL);
		if (!s)
			return;
		CHECK(process(s, "{\"id\":\"n1\",\"title\":\"Bridge closed\"}") == FM_PASS);
		CHECK(process(s, "{\"id\":\"n1\",\"title\":\"Bridge closed for a year\","
		                 "\"revision\":2}") == FM_PASS);
		CHECK(process(s, "{\"id\":\"n1\",\"title\":\"Bridge closed for a year\","
		                 "\"revision\":2}") == FM_PASS);
		fmt_stage_close(s);
	}
	json_t *lines = read_lines(out);
	CHECK(json_array_size(lines) == 2);
	CHECK(json_object_get(json_array_get(lines, 0), "revision") == NULL);
	CHECK(json_integer_value(json_object_get(json_array_get(lines, 1), "revision")) == 2);
	json_decref(lines);
	free(sub);
	free(out);
	free(state);
}

/* Every URL field is http(s) or absent in what is written. */
static void test_unsafe_links(void)
{
	char *sub = pathf("u"), *out = pathf("u/out.jsonl");
	mkdir(sub, 0755);
	fmt_stage *s = open_stage(out, NULL, NULL);
	if (!s)
		return;
	CHECK(process(s, "{\"id\":\"u1\",\"url\":\"jaVa\\tscript:alert(1)\","
	                 "\"comments\":\"https://ok.example/c\",\"authors\":[{\"name\":\"A\","
	                 "\"uri\":\"data:text/html,x\"}]}") == FM_PASS);
	fmt_stage_close(s);
	json_t *lines = read_lines(out);
	json_t *d = json_array_get(lines, 0);
	CHECK(d && json_object_get(d, "url") == NULL);
	CHECK_STR(json_string_value(json_object_get(d, "comments")), "https://ok.example/c");
	CHECK(json_object_get(json_array_get(json_object_get(d, "authors"), 0), "uri") == NULL);
	json_decref(lines);
	free(sub);
	free(out);
}

static void test_fields(void)
{
	char *sub = pathf("c"), *out = pathf("c/out.jsonl");
	mkdir(sub, 0755);
	fmt_stage *s = open_stage(out, NULL, "fields=title,id");
	if (!s)
		return;
	CHECK(process(s, "{\"id\":\"x\",\"title\":\"T\",\"text\":\"long\",\"tags\":[\"a\"]}") ==
	      FM_PASS);
	fmt_stage_close(s);
	json_t *lines = read_lines(out);
	CHECK(json_array_size(lines) == 1);
	json_t *d = json_array_get(lines, 0);
	CHECK(json_object_size(d) == 2);
	CHECK_STR(json_string_value(json_object_get(d, "title")), "T");
	CHECK(json_object_get(d, "text") == NULL);
	json_decref(lines);
	free(sub);
	free(out);
}

static void doc_line(char *buf, size_t n, int i)
{
	snprintf(buf, n, "{\"id\":\"r%d\",\"title\":\"rotation test line %d\"}", i, i);
}

/* Which of ids r0..r(n-1) the files out, out.1 ... hold, and how often. Checks that no file
 * is larger than max (0: any). Returns the number of files. */
static int count_ids(const char *out, int *seen, int n, long max)
{
	int files = 0;
	memset(seen, 0, (size_t)n * sizeof(*seen));
	for (int f = 0; f <= 64; f++) {
		char *name = NULL;
		if (f == 0)
			name = strdup(out);
		else if (asprintf(&name, "%s.%d", out, f) < 0)
			abort();
		struct stat st;
		if (stat(name, &st) != 0) {
			free(name);
			if (f > 0)
				break;
			continue;
		}
		files++;
		if (max)
			CHECK(st.st_size <= max);
		json_t *lines = read_lines(name);
		size_t i;
		json_t *d;
		json_array_foreach(lines, i, d) {
			int k = atoi(json_string_value(json_object_get(d, "id")) + 1);
			if (k >= 0 && k < n)
				seen[k]++;
		}
		json_decref(lines);
		free(name);
	}
	return files;
}

static void test_rotation(void)
{
	char *sub = pathf("d"), *out = pathf("d/out.jsonl");
	char *state = pathf("d-state");
	mkdir(sub, 0755);
	/* Each line is 43-45 bytes: at most 4 fit in 200. */
	for (int batch = 0; batch < 4; batch++) {
		fmt_stage *s = open_stage(out, state, "max_size=200");
		if (!s)
			return;
		for (int i = 0; i < 3; i++) {
			char doc[128];
			doc_line(doc, sizeof(doc), batch * 3 + i);
			CHECK(process(s, doc) == FM_PASS);
			CHECK(fmt_stage_commit(s) == 0);
		}
		fmt_stage_close(s);
	}
	/* All 12 documents, each once, in files within max_size; none removed (keep = 0) */
	int seen[12];
	int files = count_ids(out, seen, 12, 200);
	CHECK(files >= 3);
	for (int i = 0; i < 12; i++)
		CHECK(seen[i] == 1);
	json_t *lines = read_lines(out);
	CHECK_STR(id_at(lines, json_array_size(lines) - 1), "r11");
	json_decref(lines);

	/* keep = 2: the files past out.jsonl.2 are removed at the next rotation */
	const char *set2[] = {NULL, "fsync=no", "max_size=200", "keep=2", NULL};
	char *ps = NULL;
	if (asprintf(&ps, "path=%s", out) < 0)
		abort();
	set2[0] = ps;
	fmt_stage *s = fmt_stage_open("publish_jsonl", set2, state);
	CHECK(s != NULL);
	for (int i = 12; s && i < 20; i++) {
		char doc[128];
		doc_line(doc, sizeof(doc), i);
		CHECK(process(s, doc) == FM_PASS);
		CHECK(fmt_stage_commit(s) == 0);
	}
	fmt_stage_close(s);
	free(ps);
	int seen2[20];
	CHECK(count_ids(out, seen2, 20, 200) == 3);
	for (int i = 0; i < 20; i++)
		CHECK(seen2[i] <= 1);
	CHECK(seen2[19] == 1);
	free(sub);
	free(out);
	free(state);
}

/* Killed (no fini, no checkpoint) after commits, rotations among them: at the next start
 * every document delivered again is written only if it was not. */
static void test_killed_and_redelivered(void)
{
	char *sub = pathf("k"), *out = pathf("k/out.jsonl"), *state = pathf("k-state");
	mkdir(sub, 0755);
	enum { N = 40 };
	for (int kill_after = 5; kill_after < N; kill_after += 11) {
		pid_t pid = fork();
		if (pid == 0) {
			fmt_stage *s = open_stage(out, state, "max_size=300");
			for (int i = 0; s && i < N; i++) {
				char doc[128];
				doc_line(doc, sizeof(doc), i);
				process(s, doc);
				if (i % 3 == 2)
					fmt_stage_commit(s);
				if (i == kill_after)
					_exit(0); /* as a kill -9: no fini */
			}
			_exit(0);
		}
		int st;
		waitpid(pid, &st, 0);
	}
	/* the last run redelivers everything and ends cleanly */
	fmt_stage *s = open_stage(out, state, "max_size=300");
	for (int i = 0; s && i < N; i++) {
		char doc[128];
		doc_line(doc, sizeof(doc), i);
		CHECK(process(s, doc) == FM_PASS);
	}
	fmt_stage_close(s);
	int seen[N];
	count_ids(out, seen, N, 300);
	for (int i = 0; i < N; i++)
		if (seen[i] != 1) {
			fprintf(stderr, "r%d written %d times\n", i, seen[i]);
			CHECK(seen[i] == 1);
		}
	free(sub);
	free(out);
	free(state);
}

/* A file that cannot grow (here: the file size limit): the commit fails, so nothing is
 * acknowledged, and once it can, what waited is written, once. */
static void test_commit_fails_then_works(void)
{
	char *sub = pathf("e"), *out = pathf("e/out.jsonl"), *state = pathf("e-state");
	mkdir(sub, 0755);
	fmt_stage *s = open_stage(out, state, NULL);
	if (!s)
		return;
	CHECK(process(s, "{\"id\":\"first\",\"title\":\"fits\"}") == FM_PASS);
	CHECK(fmt_stage_commit(s) == 0);
	struct stat st;
	CHECK(stat(out, &st) == 0);
	struct rlimit old, lim;
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = (rlim_t)st.st_size + 10;
	signal(SIGXFSZ, SIG_IGN);
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	CHECK(process(s, "{\"id\":\"waits\",\"title\":\"does not fit yet\"}") == FM_PASS);
	CHECK(fmt_stage_commit(s) < 0);
	CHECK(fmt_stage_commit(s) < 0);
	/* delivered again meanwhile (the host redelivers what is not committed): kept once */
	CHECK(process(s, "{\"id\":\"waits\",\"title\":\"does not fit yet\"}") == FM_PASS);
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	CHECK(fmt_stage_commit(s) == 0);
	fmt_stage_close(s);
	json_t *lines = read_lines(out);
	CHECK(json_array_size(lines) == 2);
	CHECK_STR(id_at(lines, 1), "waits");
	json_decref(lines);
	free(sub);
	free(out);
	free(state);
}

/* A FIFO where the output should be fails init, naming it; opening it to read the ids back
 * blocked start-up until something wrote to it. */
static void test_fifo_output(void)
{
	char *sub = pathf("f"), *out = pathf("f/out.jsonl"), *ps = NULL;
	mkdir(sub, 0755);
	CHECK(mkfifo(out, 0600) == 0);
	if (asprintf(&ps, "path=%s", out) < 0)
		abort();
	const char *settings[] = {ps, NULL};
	CHECK(fmt_stage_open("publish_jsonl", settings, NULL) == NULL);
	free(ps);
	free(sub);
	free(out);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	/* A FIFO opened by mistake blocks for ever: fail instead of waiting for the timeout. */
	alarm(60);
	test_fifo_output();
	test_write_restart();
	test_old_journal_adopted();
	test_torn_line();
	test_revisions();
	test_unsafe_links();
	test_fields();
	test_rotation();
	test_killed_and_redelivered();
	test_commit_fails_then_works();
	char *cmd = NULL;
	if (asprintf(&cmd, "rm -rf '%s'", dir) >= 0 && fmt_failures == 0)
		(void)system(cmd);
	free(cmd);
	return fmt_done("publish_jsonl");
}
