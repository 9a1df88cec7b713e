/*
 * Replays a fuzz target's corpus without libFuzzer, so `meson test` runs every target on every
 * corpus file in every build (and under ASan/UBSan in CI). A target signals a broken invariant
 * by aborting; this driver fails when any input crashes, aborts or trips a sanitizer.
 *
 *   replay DIR...    every regular file below each DIR, in name order
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: cannot open %s\n", path);
		return 1;
	}
	size_t cap = 1 << 16, len = 0;
	uint8_t *buf = malloc(cap);
	size_t got;
	while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
		len += got;
		if (len == cap) {
			uint8_t *p = realloc(buf, cap * 2);
			if (!p) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = p;
			cap *= 2;
		}
	}
	fclose(f);
	if (!buf)
		return 1;
	/* An exact-size copy, so reads past the end are caught by ASan. */
	uint8_t *exact = malloc(len ? len : 1);
	memcpy(exact, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

static int run_dir(const char *dir, int *count)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, NULL);
	if (n < 0) {
		fprintf(stderr, "replay: cannot read %s\n", dir);
		return 1;
	}
	char **paths = calloc((size_t)n, sizeof(*paths));
	int np = 0, bad = 0;
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.' && asprintf(&paths[np], "%s/%s", dir, names[i]->d_name) >= 0)
			np++;
		free(names[i]);
	}
	free(names);
	qsort(paths, (size_t)np, sizeof(*paths), by_name);
	for (int i = 0; i < np; i++) {
		struct stat st;
		if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode))
			bad |= run_dir(paths[i], count);
		else if (stat(paths[i], &st) == 0 && S_ISREG(st.st_mode)) {
			bad |= run_file(paths[i]);
			(*count)++;
		}
		free(paths[i]);
	}
	free(paths);
	return bad;
}

int main(int argc, char **argv)
{
	int bad = 0, count = 0;
	for (int i = 1; i < argc; i++)
		bad |= run_dir(argv[i], &count);
	fprintf(stderr, "replay: %d inputs\n", count);
	if (count == 0) {
		fprintf(stderr, "replay: no corpus files found\n");
		return 1;
	}
	return bad;
}
