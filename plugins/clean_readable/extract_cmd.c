/*
 * `feedmill extract [--url URL] FILE...`: one JSON object per file on stdout, in input order,
 * {"file","title","text","html","published","authors","lang"} (plus "error" when the page had
 * no usable content). Runs rd_extract_page(), exactly what the stage runs on "page_html".
 *
 * Files are independent, so several threads extract them (option `threads`, default: the
 * number of CPUs, at most 8); each file has its own parser state (libxml2 is thread-safe once
 * initialised). Output stays in input order; workers run at most WINDOW files ahead of the
 * writer so memory stays bounded however many files are given.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <libxml/parser.h>
#include <zlib.h>

#include "readable.h"

#define WINDOW 64

struct job {
	const fm_host *host;
	fm_instance *inst;
	struct rd_limits lim;
	const char *url;
	char **files;
	int nfiles;
	char **out; /* one JSON line per file, NULL until done */
	int next;   /* next file to take */
	int printed;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

/* Read a whole file, gunzipping it when it starts with the gzip magic. At most `max` bytes
 * of content are kept (the rest is dropped, *cut set). */
static char *read_input(const char *path, size_t max, size_t *len, bool *cut, const char **err)
{
	*cut = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*err = strerror(errno);
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		*err = "not a regular file";
		close(fd);
		return NULL;
	}
	size_t fsz = (size_t)st.st_size;
	size_t cap = fsz + 1;
	char *raw = malloc(cap);
	if (!raw) {
		*err = "out of memory";
		close(fd);
		return NULL;
	}
	size_t n = 0;
	for (;;) {
		if (n + 1 >= cap) { /* the file grew while we read it */
			char *nr = realloc(raw, cap * 2);
			if (!nr)
				break;
			raw = nr;
			cap *= 2;
		}
		ssize_t r = read(fd, raw + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	raw[n] = 0;
	if (n < 2 || (unsigned char)raw[0] != 0x1f || (unsigned char)raw[1] != 0x8b) {
		if (n > max) {
			n = max;
			*cut = true;
			raw[n] = 0;
		}
		*len = n;
		return raw;
	}
	/* gzip: inflate up to max bytes (a bomb stops there) */
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 15 + 32) != Z_OK) {
		free(raw);
		*err = "cannot initialise zlib";
		return NULL;
	}
	size_t ocap = n * 4 + 4096, olen = 0;
	if (ocap > max + 1)
		ocap = max + 1;
	char *out = malloc(ocap);
	if (!out) {
		inflateEnd(&zs);
		free(raw);
		*err = "out of memory";
		return NULL;
	}
	zs.next_in = (Bytef *)raw;
	zs.avail_in = (uInt)n;
	int zr = Z_OK;
	while (zr == Z_OK) {
		if (olen + 1 >= ocap) {
			if (ocap > max) {
				*cut = true;
				break;
			}
			size_t nc = ocap * 2 > max + 1 ? max + 1 : ocap * 2;
			char *no = realloc(out, nc);
			if (!no)
				break;
			out = no;
			ocap = nc;
		}
		zs.next_out = (Bytef *)out + olen;
		zs.avail_out = (uInt)(ocap - 1 - olen);
		zr = inflate(&zs, Z_NO_FLUSH);
		olen = (size_t)((char *)zs.next_out - out);
		if (zr == Z_STREAM_END && zs.avail_in > 0) {
			/* concatenated gzip members */
			if (inflateReset(&zs) == Z_OK)
				zr = Z_OK;
		}
	}
	inflateEnd(&zs);
	free(raw);
	if (zr != Z_STREAM_END && zr != Z_OK && zr != Z_BUF_ERROR && !olen) {
		free(out);
		*err = "corrupt gzip data";
		return NULL;
	}
	if (olen > max) {
		olen = max;
		*cut = true;
	}
	out[olen] = 0;
	*len = olen;
	return out;
}

static char *one_file(struct job *j, const char *path)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "file", json_string(path));
	size_t len = 0;
	bool cut = false;
	const char *err = NULL;
	char *data = read_input(path, (size_t)j->lim.max_html_size, &len, &cut, &err);
	struct rd_result r;
	memset(&r, 0, sizeof(r));
	r.published = -1;
	int rc = -1;
	if (data) {
		rc = rd_extract_page(data, len, j->url, &j->lim, NULL, NULL, &r);
		free(data);
		if (rc < 0)
			err = strerror(-rc);
		else if (r.error)
			err = r.error;
		if (cut || r.truncated)
			j->host->log(j->inst, FM_LOG_WARN, "%s: larger than max_html_size, cut", path);
	}
	json_object_set_new(o, "title", r.title ? json_string(r.title) : json_null());
	json_object_set_new(o, "text", json_string(rc == 0 && r.text ? r.text : ""));
	json_object_set_new(o, "html", json_string(rc == 0 && r.html ? r.html : ""));
	if (rc == 0 && r.published != -1) {
		char d[32];
		rd_format_date(r.published, d);
		json_object_set_new(o, "published", json_string(d));
	} else {
		json_object_set_new(o, "published", json_null());
	}
	json_t *au = json_array();
	for (int i = 0; rc == 0 && i < r.n_authors; i++)
		json_array_append_new(au, json_string(r.authors[i]));
	json_object_set_new(o, "authors", au);
	json_object_set_new(o, "lang", rc == 0 && r.lang[0] ? json_string(r.lang) : json_null());
	if (err) {
		json_object_set_new(o, "error", json_string(err));
		j->host->log(j->inst, FM_LOG_WARN, "%s: %s", path, err);
	}
	rd_result_free(&r);
	char *line = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return line;
}

static void *worker(void *arg)
{
	struct job *j = arg;
	for (;;) {
		pthread_mutex_lock(&j->mu);
		while (j->next < j->nfiles && j->next >= j->printed + WINDOW)
			pthread_cond_wait(&j->cv, &j->mu);
		int i = j->next < j->nfiles ? j->next++ : -1;
		pthread_mutex_unlock(&j->mu);
		if (i < 0)
			return NULL;
		char *line = one_file(j, j->files[i]);
		pthread_mutex_lock(&j->mu);
		j->out[i] = line ? line : strdup("{\"error\":\"out of memory\"}");
		pthread_cond_broadcast(&j->cv);
		pthread_mutex_unlock(&j->mu);
	}
}

static int usage(FILE *f)
{
	fprintf(f, "usage: feedmill extract [--url URL] FILE...\n"
	           "Extract the main content of HTML pages (plain or gzip-compressed); one JSON\n"
	           "object per file on stdout: file, title, text, html, published, authors, lang.\n");
	return f == stdout ? 0 : 2;
}

int rd_extract_run(const fm_host *host, fm_instance *inst, const void *config, int argc,
                       char **argv)
{
	const struct rd_config *cfg = config;
	struct job j;
	memset(&j, 0, sizeof(j));
	j.host = host;
	j.inst = inst;
	rd_limits_from_config(cfg, &j.lim);
	int first = 1;
	for (; first < argc; first++) {
		const char *a = argv[first];
		if (!strcmp(a, "--url") && first + 1 < argc) {
			j.url = argv[++first];
		} else if (!strncmp(a, "--url=", 6)) {
			j.url = a + 6;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			return usage(stdout);
		} else if (!strcmp(a, "--")) {
			first++;
			break;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "feedmill extract: unknown option '%s'\n", a);
			return usage(stderr);
		} else {
			break;
		}
	}
	j.files = argv + first;
	j.nfiles = argc - first;
	if (j.nfiles <= 0)
		return usage(stderr);
	j.out = calloc((size_t)j.nfiles, sizeof(*j.out));
	if (!j.out)
		return 1;
	xmlInitParser();
	pthread_mutex_init(&j.mu, NULL);
	pthread_cond_init(&j.cv, NULL);

	long nth = cfg->threads > 0 ? (long)cfg->threads : sysconf(_SC_NPROCESSORS_ONLN);
	if (nth < 1)
		nth = 1;
	if (nth > 8)
		nth = 8;
	if (nth > j.nfiles)
		nth = j.nfiles;
	pthread_t th[8];
	int started = 0;
	for (long t = 0; t < nth; t++)
		if (pthread_create(&th[started], NULL, worker, &j) == 0)
			started++;
	int status = 0;
	for (int i = 0; !started && i < j.nfiles; i++) {
		/* no thread could start: do the work here, in order */
		j.out[i] = one_file(&j, j.files[i]);
		if (!j.out[i])
			j.out[i] = strdup("{\"error\":\"out of memory\"}");
	}
	for (int i = 0; i < j.nfiles; i++) {
		pthread_mutex_lock(&j.mu);
		while (!j.out[i])
			pthread_cond_wait(&j.cv, &j.mu);
		char *line = j.out[i];
		j.out[i] = NULL;
		j.printed = i + 1;
		pthread_cond_broadcast(&j.cv);
		pthread_mutex_unlock(&j.mu);
		if (fputs(line, stdout) == EOF || fputc('\n', stdout) == EOF)
			status = 1;
		free(line);
	}
	for (int t = 0; t < started; t++)
		pthread_join(th[t], NULL);
	if (fflush(stdout) != 0)
		status = 1;
	pthread_cond_destroy(&j.cv);
	pthread_mutex_destroy(&j.mu);
	free(j.out);
	return status;
}
