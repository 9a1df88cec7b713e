/*
 * `feedmill parse [--base URL] FILE...`: one JSON object per file, in order, on stdout as JSON
 * Lines, "file" first. Results are written as soon as each file is parsed and freed before the
 * next, so memory does not grow with the number of files.
 */
#include "parse_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "feed.h"

/* Larger files are refused rather than read: a feed is rarely over a few MiB. */
#define PARSE_MAX_FILE (256u << 20)

static int read_file(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		close(fd);
		return -1;
	}
	if ((uint64_t)st.st_size > PARSE_MAX_FILE) {
		snprintf(err, errlen, "file too large (%lld bytes; limit %u)", (long long)st.st_size,
		         PARSE_MAX_FILE);
		close(fd);
		return -1;
	}
	size_t cap = (size_t)st.st_size + 1, n = 0;
	char *buf = malloc(cap);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return -1;
	}
	for (;;) {
		if (n + 1 >= cap) {
			/* the file grew while we read it: stop at the limit */
			if (cap > PARSE_MAX_FILE)
				break;
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "read error: %s", strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
	return fwrite(buffer, 1, size, (FILE *)data) == size ? 0 : -1;
}

static void emit(const char *path, json_t *result)
{
	json_t *out = json_object();
	json_object_set_new(out, "file", json_string(path) ? json_string(path)
	                                                   : json_string("(file name not UTF-8)"));
	if (result)
		json_object_update(out, result);
	json_dump_callback(out, dump_cb, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	json_decref(out);
}

static json_t *failed(const char *why)
{
	json_t *r = json_object();
	json_object_set_new(r, "format", json_string("unknown"));
	json_t *errs = json_array();
	json_array_append_new(errs, json_string(why));
	json_object_set_new(r, "errors", errs);
	json_object_set_new(r, "feed", json_object());
	json_object_set_new(r, "items", json_array());
	return r;
}

int fm_fetch_http_parse_run(const fm_host *host, fm_instance *inst, const void *config, int argc,
                            char **argv)
{
	const char *base = NULL;
	int i = 1;
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--base") && i + 1 < argc) {
			base = argv[++i];
		} else if (!strncmp(argv[i], "--base=", 7)) {
			base = argv[i] + 7;
		} else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: feedmill %s\n", FM_FETCH_HTTP_PARSE_USAGE);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "feedmill parse: unknown option %s\nusage: feedmill %s\n", argv[i],
			        FM_FETCH_HTTP_PARSE_USAGE);
			return 2;
		} else {
			break;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "usage: feedmill %s\n", FM_FETCH_HTTP_PARSE_USAGE);
		return 2;
	}
	static char obuf[1 << 16];
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	int status = 0;
	for (; i < argc; i++) {
		const char *path = argv[i];
		char *data = NULL;
		size_t len = 0;
		char err[300];
		json_t *r;
		if (read_file(path, &data, &len, err, sizeof(err)) < 0) {
			r = failed(err);
			status = 1;
		} else {
			struct fm_feed_opts o = {.base_url = base};
			r = fm_feed_parse(data, len, &o);
			free(data);
			if (!r)
				r = failed("out of memory");
		}
		emit(path, r);
		json_decref(r);
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "feedmill parse: writing output: %s\n", strerror(errno));
		status = 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	return status;
}

const struct fm_command fm_fetch_http_parse_cmd = {
	.name = "parse",
	.usage = FM_FETCH_HTTP_PARSE_USAGE,
	.summary = FM_FETCH_HTTP_PARSE_SUMMARY,
	.run = fm_fetch_http_parse_run,
};
