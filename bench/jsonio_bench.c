/*
 * jsonio_bench: core/jsonio.c against jansson on a JSON Lines file (one document a line), the
 * way a stage worker meets documents: parse each line, serialize each document compactly.
 *
 *   jsonio_bench FILE.jsonl [ROUNDS]
 *
 * Prints, per codec, the best of ROUNDS (default 7) wall times for parsing all lines and for
 * dumping all documents, and checks on the way that both codecs agree (same values, same
 * bytes), so a fast but wrong codec cannot post a figure. E.g. on the dedupe benchmark corpus:
 *   python3 ../shared/bench/dedupe/make.py dev /tmp/dd.jsonl && build/bench/jsonio_bench /tmp/dd.jsonl
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "jsonio.h"

struct line {
	const char *text;
	size_t len;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 20, n = 0, got;
	char *buf = malloc(cap + 1);
	while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			char *b = realloc(buf, cap * 2 + 1);
			if (!b) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = b;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf)
		buf[n] = '\0';
	*len = n;
	return buf;
}

static size_t split_lines(char *buf, size_t len, struct line **out)
{
	size_t n = 0, cap = 1024;
	struct line *l = malloc(cap * sizeof *l);
	for (char *p = buf, *end = buf + len; l && p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *stop = nl ? nl : end;
		if (stop > p) {
			if (n == cap) {
				cap *= 2;
				struct line *m = realloc(l, cap * sizeof *l);
				if (!m) {
					free(l);
					return 0;
				}
				l = m;
			}
			l[n].text = p;
			l[n].len = (size_t)(stop - p);
			n++;
		}
		p = stop + 1;
	}
	*out = l;
	return n;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE.jsonl [ROUNDS]\n", argv[0]);
		return 2;
	}
	int rounds = argc > 2 ? atoi(argv[2]) : 7;
	if (rounds < 1)
		rounds = 1;
	size_t len;
	char *buf = slurp(argv[1], &len);
	if (!buf) {
		perror(argv[1]);
		return 1;
	}
	struct line *lines = NULL;
	size_t n = split_lines(buf, len, &lines);
	if (!n) {
		fprintf(stderr, "%s: no lines\n", argv[1]);
		return 1;
	}
	json_t **docs = calloc(n, sizeof *docs);
	struct fm_jbuf out = FM_JBUF_INIT;
	double best[4] = {1e300, 1e300, 1e300, 1e300}; /* jansson parse, fm parse, jansson dump, fm dump */
	size_t dumped = 0;

	for (int r = 0; r < rounds; r++) {
		double t = now_ms();
		for (size_t i = 0; i < n; i++) {
			json_t *d = json_loadb(lines[i].text, lines[i].len, 0, NULL);
			if (!d) {
				fprintf(stderr, "line %zu: jansson refuses it\n", i + 1);
				return 1;
			}
			json_decref(d);
		}
		double e = now_ms() - t;
		best[0] = e < best[0] ? e : best[0];

		t = now_ms();
		for (size_t i = 0; i < n; i++) {
			json_decref(docs[i]);
			docs[i] = fm_json_parse(lines[i].text, lines[i].len, NULL);
		}
		e = now_ms() - t;
		best[1] = e < best[1] ? e : best[1];

		t = now_ms();
		dumped = 0;
		for (size_t i = 0; i < n; i++) {
			char *s = json_dumps(docs[i], JSON_COMPACT);
			dumped += strlen(s);
			free(s);
		}
		e = now_ms() - t;
		best[2] = e < best[2] ? e : best[2];

		/* as a worker would: one buffer reused for every document */
		t = now_ms();
		for (size_t i = 0; i < n; i++) {
			fm_jbuf_reset(&out);
			if (fm_json_dump(docs[i], &out) < 0) {
				fprintf(stderr, "line %zu: fm_json_dump failed\n", i + 1);
				return 1;
			}
		}
		e = now_ms() - t;
		best[3] = e < best[3] ? e : best[3];
	}

	/* agreement, outside the timed loops */
	for (size_t i = 0; i < n; i++) {
		json_t *j = json_loadb(lines[i].text, lines[i].len, 0, NULL);
		char *s = json_dumps(j, JSON_COMPACT);
		fm_jbuf_reset(&out);
		if (!docs[i] || !json_equal(j, docs[i]) || fm_json_dump(docs[i], &out) < 0 ||
		    strcmp(out.data, s) != 0) {
			fprintf(stderr, "line %zu: the codecs disagree\n", i + 1);
			return 1;
		}
		free(s);
		json_decref(j);
	}

	printf("%zu documents, %.2f MB in, %.2f MB out, best of %d rounds\n", n, (double)len / 1e6,
	       (double)dumped / 1e6, rounds);
	printf("parse  jansson %8.2f ms   fm_json %8.2f ms   x%.2f\n", best[0], best[1],
	       best[0] / best[1]);
	printf("dump   jansson %8.2f ms   fm_json %8.2f ms   x%.2f\n", best[2], best[3],
	       best[2] / best[3]);
	printf("docs/s (parse+dump): jansson %.0f, fm_json %.0f\n", (double)n * 1e3 / (best[0] + best[2]),
	       (double)n * 1e3 / (best[1] + best[3]));

	for (size_t i = 0; i < n; i++)
		json_decref(docs[i]);
	free(docs);
	free(lines);
	free(buf);
	fm_jbuf_free(&out);
	return 0;
}
