/* publish_jsonl through the host API: whole lines, no duplicates across restarts, crash
 * recovery from the journal, field selection, rotation, FM_RETRY on write errors. */
#include <dirent.h>
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

/* A crash after the journal write but before the output was replaced: at the next start the
 * journal is merged, without duplicates and without a torn last line. */
static void test_journal_recovery(void)
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
	struct stat st;
	CHECK(stat(journal, &st) == 0 && st.st_size == 0);
	free(sub);
	free(out);
	free(state);
	free(journal);
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

static void test_rotation(void)
{
	char *sub = pathf("d"), *out = pathf("d/out.jsonl");
	char *state = pathf("d-state");
	mkdir(sub, 0755);
	/* Each line is about 60 bytes: at most 3 fit in 200. flush_interval=0 flushes per tick;
	 * a restart between batches forces a flush per batch. */
	for (int batch = 0; batch < 4; batch++) {
		fmt_stage *s = open_stage(out, state, "max_size=200");
		if (!s)
			return;
		for (int i = 0; i < 2; i++) {
			char doc[128];
			snprintf(doc, sizeof(doc), "{\"id\":\"r%d\",\"title\":\"rotation test line %d\"}",
			         batch * 2 + i, batch * 2 + i);
			CHECK(process(s, doc) == FM_PASS);
		}
		fmt_stage_close(s);
	}
	/* All 8 documents are in out.jsonl, .1, .2, .3, each once, newest in out.jsonl. */
	int seen[8] = {0};
	for (int f = 0; f <= 5; f++) {
		char *name = NULL;
		if (f == 0)
			name = strdup(out);
		else if (asprintf(&name, "%s.%d", out, f) < 0)
			abort();
		json_t *lines = read_lines(name);
		struct stat st;
		if (stat(name, &st) == 0)
			CHECK(st.st_size <= 200);
		size_t i;
		json_t *d;
		json_array_foreach(lines, i, d) {
			int n = atoi(json_string_value(json_object_get(d, "id")) + 1);
			if (n >= 0 && n < 8)
				seen[n]++;
		}
		if (f == 0)
			CHECK_STR(id_at(lines, json_array_size(lines) - 1), "r7");
		json_decref(lines);
		free(name);
	}
	for (int i = 0; i < 8; i++)
		CHECK(seen[i] == 1);
	free(sub);
	free(out);
	free(state);
}

/* A journal that cannot be written (a full device): the document is handed back. */
static void test_write_error(void)
{
	if (access("/dev/full", W_OK) != 0) {
		fprintf(stderr, "no /dev/full: write-error case not run\n");
		return;
	}
	char *sub = pathf("e"), *out = pathf("e/out.jsonl");
	char *state = pathf("e-state"), *journal = pathf("e-state/journal.jsonl");
	mkdir(sub, 0755);
	mkdir(state, 0755);
	CHECK(symlink("/dev/full", journal) == 0);
	fmt_stage *s = open_stage(out, state, NULL);
	if (!s)
		return;
	CHECK(process(s, "{\"id\":\"lost?\",\"title\":\"must come back\"}") == FM_RETRY);
	fmt_stage_close(s);
	json_t *lines = read_lines(out);
	CHECK(json_array_size(lines) == 0);
	json_decref(lines);
	/* Once the device works again the same document is written (it was not remembered). */
	unlink(journal);
	s = open_stage(out, state, NULL);
	if (s) {
		CHECK(process(s, "{\"id\":\"lost?\",\"title\":\"must come back\"}") == FM_PASS);
		fmt_stage_close(s);
	}
	lines = read_lines(out);
	CHECK(json_array_size(lines) == 1);
	json_decref(lines);
	free(sub);
	free(out);
	free(state);
	free(journal);
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
	test_journal_recovery();
	test_fields();
	test_rotation();
	test_write_error();
	char *cmd = NULL;
	if (asprintf(&cmd, "rm -rf '%s'", dir) >= 0 && fmt_failures == 0)
		(void)system(cmd);
	free(cmd);
	return fmt_done("publish_jsonl");
}
