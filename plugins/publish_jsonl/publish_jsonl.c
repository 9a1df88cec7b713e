/*
 * publish:jsonl — appends each document as one JSON line to a file, atomically.
 *
 * Durability without rewriting the file per document: process() appends the line with one
 * write() to a journal in the stage's state directory (so a write error is seen at once and the
 * document is handed back with FM_RETRY), and at most every flush_interval the output is
 * rebuilt as (current output + journal) in a temporary file that is fsync'ed and renamed over
 * the output; then the journal is emptied. A reader of the output never sees a partial line. A
 * crash between the two steps is repaired at start-up: journal lines whose id is already in the
 * output are skipped, the rest are merged.
 *
 * Bounded: when output + journal would pass max_size the output is rotated (PATH.1 ... PATH.keep,
 * the oldest removed), and the set of ids already written holds at most dedupe_ids entries.
 * Each flush copies the current output (in the kernel, copy_file_range), so max_size also bounds
 * the cost of one flush; that is why its default is modest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <feedmill/doc.h>
#include <feedmill/host.h>
#include <feedmill/plugin.h>

#include "atomic.h"
#include "buf.h"
#include "idset.h"
#include "regfile.h"

struct jsonl_config {
	char *path;
	struct fm_strlist fields;
	int64_t flush_interval; /* ms */
	uint64_t max_size;
	int64_t keep;
	int64_t dedupe_ids;
	bool fsync;
};

static const struct fm_option jsonl_options[] = {
	{"path", FM_OPT_PATH, NULL, offsetof(struct jsonl_config, path), FM_OPT_REQUIRED, NULL, 0, 0,
	 "the JSON Lines file written (replaced atomically on each flush)"},
	{"fields", FM_OPT_LIST, NULL, offsetof(struct jsonl_config, fields), 0, NULL, 0, 0,
	 "document fields written, in this order (default: all but page_html)"},
	{"flush_interval", FM_OPT_DURATION, "1s", offsetof(struct jsonl_config, flush_interval), 0,
	 NULL, 0, 86400000, "longest time a document waits in the journal before the file is updated"},
	{"max_size", FM_OPT_SIZE, "16M", offsetof(struct jsonl_config, max_size), 0, NULL, 0, 0,
	 "rotate the file to PATH.1 when it would grow past this (0: never rotate)"},
	{"keep", FM_OPT_INT, "5", offsetof(struct jsonl_config, keep), 0, NULL, 0, 1000,
	 "rotated files kept (PATH.1 is the newest; 0: rotation discards the old lines)"},
	{"dedupe_ids", FM_OPT_INT, "100000", offsetof(struct jsonl_config, dedupe_ids), 0, NULL, 1,
	 10000000, "ids remembered so that no document is written twice (8-32 bytes each)"},
	{"fsync", FM_OPT_BOOL, "yes", offsetof(struct jsonl_config, fsync), 0, NULL, 0, 0,
	 "fsync the file and its folder on each update (off: faster, less safe on power loss)"},
	{NULL, 0, NULL, 0, 0, NULL, 0, 0, NULL},
};

/* Flush at once when the journal grows past this, whatever the interval, to bound its size
 * and the cost of one flush. */
#define JOURNAL_FLUSH_BYTES (8u << 20)

struct jsonl {
	const fm_host *host;
	fm_instance *inst;
	const struct jsonl_config *cfg;
	struct fm_idset *ids;
	int journal;          /* fd, O_APPEND */
	char *journal_path;
	size_t jsize;         /* bytes of complete lines in the journal */
	int64_t last_flush;   /* monotonic ms */
	bool failing;         /* the last flush failed: log recovery */
	struct fm_buf line;
	json_t *subset;       /* reused object for field selection */
};

/* ---- helpers ------------------------------------------------------------------------------- */

/* The id used for de-duplication: "id", else "url". */
static const char *doc_key(json_t *doc, size_t *len)
{
	json_t *v = json_object_get(doc, FM_DOC_ID);
	if (!json_is_string(v) || json_string_length(v) == 0)
		v = json_object_get(doc, FM_DOC_URL);
	if (!json_is_string(v) || json_string_length(v) == 0)
		return NULL;
	*len = json_string_length(v);
	return json_string_value(v);
}

static int read_file(const char *path, char **data, size_t *len)
{
	*data = NULL;
	*len = 0;
	/* O_NONBLOCK: a FIFO must not block the open (then only st_size, 0, is read of it). */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	size_t size = (size_t)st.st_size, got = 0;
	if (!(*data = malloc(size + 1))) {
		rc = -ENOMEM;
		goto out;
	}
	while (got < size) {
		ssize_t n = read(fd, *data + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	(*data)[got] = '\0';
	*len = got;
out:
	close(fd);
	if (rc < 0) {
		free(*data);
		*data = NULL;
	}
	return rc;
}

/* Fast path for the common line shape {"id":"...",...} with no escapes in the id: the start-up
 * scan of a large output then costs a memchr per line instead of a JSON parse. */
static uint64_t line_key_fast(const char *s, size_t n)
{
	static const char pre[] = "{\"id\":\"";
	size_t pl = sizeof(pre) - 1;
	if (n <= pl || memcmp(s, pre, pl) != 0)
		return 0;
	const char *q = memchr(s + pl, '"', n - pl);
	if (!q || q == s + pl || memchr(s + pl, '\\', (size_t)(q - (s + pl))))
		return 0;
	return fm_id_hash(s + pl, (size_t)(q - (s + pl)));
}

/* Hash of the de-duplication key of one JSON line; 0 when it has none or is not JSON. */
static uint64_t line_key(const char *s, size_t n)
{
	uint64_t fast = line_key_fast(s, n);
	if (fast)
		return fast;
	json_t *doc = json_loadb(s, n, JSON_DISABLE_EOF_CHECK, NULL);
	uint64_t h = 0;
	size_t len;
	const char *k = doc ? doc_key(doc, &len) : NULL;
	if (k)
		h = fm_id_hash(k, len);
	json_decref(doc);
	return h;
}

static char *rotated_name(const char *path, long i)
{
	char *s = NULL;
	return asprintf(&s, "%s.%ld", path, i) < 0 ? NULL : s;
}

/* Remember the ids of the newest files first until the set is full, then add them oldest
 * first so the oldest are the ones evicted later. */
static int load_ids(struct jsonl *j)
{
	size_t cap = (size_t)j->cfg->dedupe_ids, n = 0, alloc = 0;
	uint64_t *hs = NULL;
	int rc = 0;
	for (long f = 0; f <= j->cfg->keep && n < cap; f++) {
		char *name = f ? rotated_name(j->cfg->path, f) : strdup(j->cfg->path);
		if (!name) {
			rc = -ENOMEM;
			break;
		}
		char *data;
		size_t len;
		rc = read_file(name, &data, &len);
		free(name);
		if (rc == -ENOENT) {
			rc = 0;
			if (f > 0)
				break; /* no older ones either */
			continue;
		}
		if (rc < 0)
			break;
		/* Lines of this file, newest (last) first. */
		size_t end = len;
		while (end > 0 && n < cap) {
			size_t start = end - 1;
			while (start > 0 && data[start - 1] != '\n')
				start--;
			uint64_t h = end - start > 1 ? line_key(data + start, end - start) : 0;
			if (h) {
				if (n == alloc) {
					alloc = alloc ? alloc * 2 : 1024;
					uint64_t *nh = realloc(hs, alloc * sizeof(*nh));
					if (!nh) {
						free(data);
						free(hs);
						return -ENOMEM;
					}
					hs = nh;
				}
				hs[n++] = h;
			}
			end = start;
		}
		free(data);
	}
	for (size_t i = n; i > 0; i--)
		fm_idset_add(j->ids, hs[i - 1]);
	free(hs);
	return rc;
}

/* Shift PATH.k to PATH.k+1, drop the oldest, and hard-link the current output as PATH.1, so
 * the rename of the new output that follows never leaves PATH missing. */
static int rotate(struct jsonl *j)
{
	const char *path = j->cfg->path;
	long keep = (long)j->cfg->keep;
	if (keep == 0)
		return 0; /* the new output simply replaces the old one */
	int rc = 0;
	char *a = NULL, *b = NULL;
	a = rotated_name(path, keep);
	if (!a)
		return -ENOMEM;
	unlink(a);
	for (long k = keep - 1; k >= 1; k--) {
		b = rotated_name(path, k);
		if (!b) {
			rc = -ENOMEM;
			goto out;
		}
		if (rename(b, a) < 0 && errno != ENOENT) {
			rc = -errno;
			goto out;
		}
		free(a);
		a = b;
		b = NULL;
	}
	/* a is now PATH.1, free. */
	if (link(path, a) < 0 && errno != ENOENT)
		rc = -errno;
	if (rc == 0)
		j->host->count(j->inst, "rotated", 1);
out:
	free(a);
	free(b);
	return rc;
}

/* Copy in[off..off+n) to out (kernel-side when possible). */
static int copy_range(int in, off_t off, int out, size_t n)
{
	while (n > 0) {
		ssize_t c = copy_file_range(in, &off, out, NULL, n, 0);
		if (c < 0 && errno == EINTR)
			continue;
		if (c <= 0)
			break;
		n -= (size_t)c;
	}
	/* Fallback when copy_file_range is not supported between these files. */
	char buf[65536];
	while (n > 0) {
		ssize_t r = pread(in, buf, n < sizeof(buf) ? n : sizeof(buf), off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO; /* the file shrank under us */
		int rc = fm_write_all(out, buf, (size_t)r);
		if (rc < 0)
			return rc;
		off += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Merge the journal into the output. Returns 0 or -errno (the journal is then kept). */
static int flush_output(struct jsonl *j)
{
	if (j->jsize == 0)
		return 0;
	const char *path = j->cfg->path;
	char *tmp = NULL;
	int out = -1, old = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	int rc = 0;
	size_t osize = 0;
	const char *what = "open";
	if (old < 0 && errno != ENOENT) {
		rc = -errno;
		goto fail;
	}
	if (old >= 0) {
		struct stat st;
		what = "stat";
		if (fstat(old, &st) < 0) {
			rc = -errno;
			goto fail;
		}
		osize = (size_t)st.st_size;
		if (j->cfg->max_size && osize > 0 && osize + j->jsize > j->cfg->max_size) {
			what = "rotate";
			if ((rc = rotate(j)) < 0)
				goto fail;
			osize = 0;
		}
	}
	what = "create temporary file for";
	if ((out = fm_atomic_open(path, &tmp)) < 0) {
		rc = out;
		goto fail;
	}
	what = "write";
	if (osize) {
		char last;
		if ((rc = copy_range(old, 0, out, osize)) < 0)
			goto fail;
		/* Someone cut the file mid-line: keep our lines whole. */
		if (pread(old, &last, 1, (off_t)osize - 1) == 1 && last != '\n' &&
		    (rc = fm_write_all(out, "\n", 1)) < 0)
			goto fail;
	}
	if ((rc = copy_range(j->journal, 0, out, j->jsize)) < 0)
		goto fail;
	what = "replace";
	rc = fm_atomic_commit(out, tmp, path, j->cfg->fsync);
	out = -1;
	tmp = NULL;
	if (rc < 0)
		goto fail;
	if (old >= 0)
		close(old);
	if (ftruncate(j->journal, 0) < 0)
		fm_warn(j->host, j->inst, "cannot empty journal %s: %s (lines already written will be "
		        "skipped at restart)", j->journal_path, strerror(errno));
	j->jsize = 0;
	if (j->failing)
		fm_notice(j->host, j->inst, "writing %s works again", path);
	j->failing = false;
	return 0;
fail:
	fm_atomic_abort(out, tmp);
	if (old >= 0)
		close(old);
	fm_err(j->host, j->inst, "cannot %s %s: %s; %zu bytes of documents kept in %s, retrying",
	       what, path, strerror(-rc), j->jsize, j->journal_path);
	j->host->count(j->inst, "write_errors", 1);
	j->failing = true;
	return rc;
}

/* Start-up: keep the complete journal lines not already in the output, then merge them. */
static int recover_journal(struct jsonl *j)
{
	char *data;
	size_t len;
	int rc = read_file(j->journal_path, &data, &len);
	if (rc < 0)
		return rc;
	struct fm_buf keep = FM_BUF_INIT;
	size_t pos = 0, skipped = 0, kept = 0;
	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		if (!nl)
			break; /* a torn last line: its document was answered FM_RETRY */
		size_t n = (size_t)(nl - (data + pos)) + 1;
		uint64_t h = line_key(data + pos, n);
		if (h && fm_idset_has(j->ids, h)) {
			skipped++;
		} else {
			fm_buf_append(&keep, data + pos, n);
			if (h)
				fm_idset_add(j->ids, h);
			kept++;
		}
		pos += n;
	}
	free(data);
	if (len == 0)
		return 0; /* nothing to recover: leave the journal alone */
	if (keep.oom) {
		fm_buf_free(&keep);
		return -ENOMEM;
	}
	if (ftruncate(j->journal, 0) < 0 || (keep.len && fm_write_all(j->journal, keep.data,
	                                                               keep.len) < 0)) {
		rc = -errno;
		fm_buf_free(&keep);
		return rc ? rc : -EIO;
	}
	j->jsize = keep.len;
	fm_buf_free(&keep);
	if (kept || skipped)
		fm_notice(j->host, j->inst, "journal: %zu documents to merge, %zu already written",
		          kept, skipped);
	return 0;
}

/* ---- plugin -------------------------------------------------------------------------------- */

static void jsonl_fini(void *ctx)
{
	struct jsonl *j = ctx;
	if (!j)
		return;
	if (j->journal >= 0) {
		if (flush_output(j) < 0)
			fm_err(j->host, j->inst, "%zu bytes of documents not yet in %s stay in %s and "
			       "are written at the next start", j->jsize, j->cfg->path, j->journal_path);
		close(j->journal);
	}
	fm_idset_free(j->ids);
	free(j->journal_path);
	fm_buf_free(&j->line);
	json_decref(j->subset);
	free(j);
}

/* The output is read back at start-up and replaced by a rename on each flush: what stands at
 * its path must be a regular file, or nothing yet. A FIFO there blocked start-up; a folder
 * could never be replaced. Logs why not; 0 or -EINVAL. */
static int check_output_path(const fm_host *host, fm_instance *inst, const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		/* Missing folders are made at the first flush. */
		if (errno == ENOENT)
			return 0;
		int rc = -errno;
		fm_err(host, inst, "cannot use %s: %s", path, strerror(-rc));
		return rc;
	}
	if (S_ISREG(st.st_mode))
		return 0;
	fm_err(host, inst, "%s: not a regular file (%s): it cannot be the output", path,
	       fm_file_kind(&st));
	return -EINVAL;
}

/* ABI 1.3: what init() reads of the output, without creating the journal or writing. */
static int jsonl_check(const fm_host *host, fm_instance *inst, const void *config)
{
	const struct jsonl_config *cfg = config;
	int rc = check_output_path(host, inst, cfg->path);
	if (rc < 0)
		return rc;
	int fd = open(cfg->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0) {
		close(fd);
	} else if (errno != ENOENT) {
		rc = -errno;
		fm_err(host, inst, "cannot read %s: %s", cfg->path, strerror(-rc));
	}
	return rc;
}

static int jsonl_init(void **ctx, const fm_host *host, fm_instance *inst, const void *config)
{
	const struct jsonl_config *cfg = config;
	struct jsonl *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->host = host;
	j->inst = inst;
	j->cfg = cfg;
	j->journal = -1;
	int rc = check_output_path(host, inst, cfg->path);
	if (rc < 0)
		goto fail;
	rc = -ENOMEM;
	const char *dir = host->state_dir(inst);
	if (!dir) {
		fm_err(host, inst, "no state directory for the journal");
		rc = -EIO;
		goto fail;
	}
	if (asprintf(&j->journal_path, "%s/journal.jsonl", dir) < 0) {
		j->journal_path = NULL;
		goto fail;
	}
	if (cfg->fields.n) {
		bool keyed = false;
		for (size_t i = 0; i < cfg->fields.n; i++)
			keyed |= !strcmp(cfg->fields.items[i], FM_DOC_ID) ||
			         !strcmp(cfg->fields.items[i], FM_DOC_URL);
		if (!keyed)
			fm_warn(host, inst, "fields has neither id nor url: after a restart, documents "
			        "already written cannot be recognised and may be written again");
	}
	if (!(j->ids = fm_idset_new((size_t)cfg->dedupe_ids)) || !(j->subset = json_object()))
		goto fail;
	j->journal = open(j->journal_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (j->journal < 0) {
		rc = -errno;
		fm_err(host, inst, "cannot open journal %s: %s", j->journal_path, strerror(-rc));
		goto fail;
	}
	if ((rc = load_ids(j)) < 0) {
		fm_err(host, inst, "cannot read %s (or a rotated copy): %s", cfg->path, strerror(-rc));
		goto fail;
	}
	if ((rc = recover_journal(j)) < 0) {
		fm_err(host, inst, "cannot recover journal %s: %s", j->journal_path, strerror(-rc));
		goto fail;
	}
	/* A failure here is logged and retried on the next tick; the journal keeps the lines. */
	flush_output(j);
	j->last_flush = host->monotonic_ms();
	fm_info(host, inst, "writing %s (%zu ids remembered)", cfg->path, fm_idset_size(j->ids));
	*ctx = j;
	return 0;
fail:
	if (j->journal >= 0)
		close(j->journal);
	j->journal = -1;
	jsonl_fini(j);
	return rc;
}

/* The object to write: the document itself, or the configured fields of it. */
static json_t *select_fields(struct jsonl *j, json_t *doc)
{
	json_object_clear(j->subset);
	if (j->cfg->fields.n) {
		for (size_t i = 0; i < j->cfg->fields.n; i++) {
			json_t *v = json_object_get(doc, j->cfg->fields.items[i]);
			if (v)
				json_object_set(j->subset, j->cfg->fields.items[i], v);
		}
		return j->subset;
	}
	if (!json_object_get(doc, FM_DOC_PAGE_HTML))
		return doc;
	const char *k;
	json_t *v;
	json_object_foreach(doc, k, v) {
		if (strcmp(k, FM_DOC_PAGE_HTML) != 0)
			json_object_set(j->subset, k, v);
	}
	return j->subset;
}

static int jsonl_process(void *ctx, json_t *doc, fm_out *out)
{
	struct jsonl *j = ctx;
	(void)out;
	size_t klen;
	const char *key = doc_key(doc, &klen);
	uint64_t h = key ? fm_id_hash(key, klen) : 0;
	if (h && fm_idset_has(j->ids, h)) {
		j->host->count(j->inst, "duplicates", 1);
		return FM_PASS;
	}
	json_t *obj = select_fields(j, doc);
	/* json_dumpb into the reused buffer; grow and redo when it did not fit. */
	size_t need = json_dumpb(obj, j->line.data, j->line.cap ? j->line.cap - 1 : 0, JSON_COMPACT);
	if (need == 0) {
		fm_err(j->host, j->inst, "cannot serialise document %s", key ? key : "(no id)");
		json_object_clear(j->subset);
		return FM_ERROR;
	}
	if (need + 1 >= j->line.cap) {
		fm_buf_truncate(&j->line, 0);
		if (!fm_buf_reserve(&j->line, need + 1)) {
			fm_buf_free(&j->line);
			json_object_clear(j->subset);
			return FM_RETRY;
		}
		json_dumpb(obj, j->line.data, need, JSON_COMPACT);
	}
	json_object_clear(j->subset);
	j->line.data[need] = '\n';

	int rc = fm_write_all(j->journal, j->line.data, need + 1);
	if (rc < 0) {
		/* Cut a partial line so the journal stays whole lines; the core redelivers. */
		if (ftruncate(j->journal, (off_t)j->jsize) < 0)
			fm_err(j->host, j->inst, "cannot repair journal %s: %s", j->journal_path,
			       strerror(errno));
		fm_err(j->host, j->inst, "cannot append to journal %s: %s; document %s will be retried",
		       j->journal_path, strerror(-rc), key ? key : "(no id)");
		j->host->count(j->inst, "write_errors", 1);
		return FM_RETRY;
	}
	j->jsize += need + 1;
	if (h)
		fm_idset_add(j->ids, h);
	j->host->count(j->inst, "written", 1);
	if (j->jsize >= JOURNAL_FLUSH_BYTES) {
		flush_output(j);
		j->last_flush = j->host->monotonic_ms();
	}
	return FM_PASS;
}

static void jsonl_tick(void *ctx, int64_t now_ms)
{
	struct jsonl *j = ctx;
	(void)now_ms;
	int64_t now = j->host->monotonic_ms();
	if (j->jsize && now - j->last_flush >= j->cfg->flush_interval) {
		flush_output(j);
		j->last_flush = now;
	}
}

static void jsonl_flush(void *ctx)
{
	struct jsonl *j = ctx;
	flush_output(j);
	j->last_flush = j->host->monotonic_ms();
}

static const struct fm_plugin jsonl_plugin = {
	.abi_major = FM_ABI_MAJOR,
	.abi_minor = FM_ABI_MINOR,
	.struct_size = sizeof(struct fm_plugin),
	.name = "jsonl",
	.kind = "publish",
	.version = "0.1.0",
	.summary = "write documents as JSON Lines, atomically, never twice",
	.flags = FM_PLUGIN_SINGLETON,
	.options = jsonl_options,
	.config_size = sizeof(struct jsonl_config),
	.init = jsonl_init,
	.process = jsonl_process,
	.tick = jsonl_tick,
	.flush = jsonl_flush,
	.fini = jsonl_fini,
	.check = jsonl_check,
};

FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void);
FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void)
{
	return &jsonl_plugin;
}
