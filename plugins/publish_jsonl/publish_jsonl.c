/*
 * publish:jsonl — each document as one JSON line appended to a file, once per revision.
 *
 * Delivery: process() takes a document (answer FM_PASS) by gathering its line in memory;
 * commit() (the host calls it soon after documents pause, and at least every commit_interval)
 * writes what was gathered with one write() and fdatasyncs the file, and only then does the
 * host acknowledge those documents upstream. So a crash loses nothing the pipeline counts as
 * published, and appending costs what is appended (jsonl_file.h). A document comes again after
 * a crash or a lost worker: the set of what was written (jsonl_seen.h) keeps it from being
 * written twice; its revision (the dedupe stage's "revision") is part of its key, so a real
 * correction is written once more, as a line with the same id and the new revision.
 *
 * Every URL field written is http(s) or absent (doc_urls.h): a javascript: link from a feed
 * never reaches a reader's tool through this file.
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

#include "buf.h"
#include "doc_urls.h"
#include "idset.h"
#include "jsonl_file.h"
#include "jsonl_seen.h"
#include "regfile.h"

struct jsonl_config {
	char *path;
	struct fm_strlist fields;
	uint64_t max_size;
	int64_t keep;
	int64_t dedupe_ids;
	bool fsync;
};

static const struct fm_option jsonl_options[] = {
	{"path", FM_OPT_PATH, NULL, offsetof(struct jsonl_config, path), FM_OPT_REQUIRED, NULL, 0, 0,
	 "the JSON Lines file written (lines are appended; committed with the core's "
	 "commit_interval)"},
	{"fields", FM_OPT_LIST, NULL, offsetof(struct jsonl_config, fields), 0, NULL, 0, 0,
	 "document fields written, in this order (default: all but page_html; revision is "
	 "always written when present)"},
	{"max_size", FM_OPT_SIZE, "64M", offsetof(struct jsonl_config, max_size), 0, NULL, 0, 0,
	 "rotate the file to PATH.1 (PATH.1 to PATH.2 ...) when it would grow past this "
	 "(0: never rotate)"},
	{"keep", FM_OPT_INT, "0", offsetof(struct jsonl_config, keep), 0, NULL, 0, 1000000,
	 "rotated files kept: N removes those past PATH.N, each with a notice (0: keep them all)"},
	{"dedupe_ids", FM_OPT_INT, "100000", offsetof(struct jsonl_config, dedupe_ids), 0, NULL, 1,
	 10000000, "documents remembered so that none is written twice (8 bytes each)"},
	{"fsync", FM_OPT_BOOL, "yes", offsetof(struct jsonl_config, fsync), 0, NULL, 0, 0,
	 "fdatasync the file at each commit (off: a power loss may lose the last second)"},
	{NULL, 0, NULL, 0, 0, NULL, 0, 0, NULL},
};

struct jsonl {
	const fm_host *host;
	fm_instance *inst;
	const struct jsonl_config *cfg;
	struct jf file;
	struct fm_idset *seen;
	char *checkpoint;
	bool rotated;       /* since the last checkpoint */
	struct fm_buf line;
	json_t *subset;     /* reused object for field selection */
};

/* ---- start-up ---- */

/* The output is appended to and read back at start-up: what stands at its path must be a
 * regular file, or nothing yet. A FIFO there blocked start-up. Logs why not; 0 or -errno. */
static int check_output_path(const fm_host *host, fm_instance *inst, const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0; /* created at start */
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

/* ABI 1.3: what init() reads of the output, without creating or writing anything. */
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

/* The journal of the release before this one (state/journal.jsonl): its lines not yet in
 * the output are written now, then it goes. */
static int adopt_old_journal(struct jsonl *j, const char *dir)
{
	char *path = NULL, *data = NULL;
	if (asprintf(&path, "%s/journal.jsonl", dir) < 0)
		return -ENOMEM;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	int rc = 0;
	if (fd < 0) {
		free(path);
		return 0;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (data = malloc((size_t)st.st_size)) &&
	    read(fd, data, (size_t)st.st_size) == (ssize_t)st.st_size) {
		size_t kept = 0;
		for (size_t pos = 0; pos < (size_t)st.st_size;) {
			char *nl = memchr(data + pos, '\n', (size_t)st.st_size - pos);
			if (!nl)
				break;
			size_t n = (size_t)(nl - (data + pos)) + 1;
			uint64_t h = jsonl_line_key(data + pos, n - 1);
			if (!h || !fm_idset_has(j->seen, h)) {
				if ((rc = jf_take(&j->file, data + pos, n)) < 0)
					break;
				if (h)
					fm_idset_add(j->seen, h);
				kept++;
			}
			pos += n;
		}
		bool rotated;
		if (rc == 0)
			rc = jf_commit(&j->file, &rotated);
		if (rc == 0)
			fm_notice(j->host, j->inst, "journal of an earlier version: %zu documents "
			          "written to %s", kept, j->cfg->path);
	}
	close(fd);
	if (rc == 0)
		unlink(path);
	free(data);
	free(path);
	return rc;
}

static void jsonl_fini(void *ctx)
{
	struct jsonl *j = ctx;
	if (!j)
		return;
	bool rotated;
	if (j->file.fd >= 0 || j->file.pending.len) {
		if (jf_commit(&j->file, &rotated) == 0 && j->checkpoint)
			jsonl_seen_save(j->seen, j->checkpoint, &j->file);
		else if (j->file.pending.len)
			fm_err(j->host, j->inst, "%zu bytes of documents could not be written to %s; "
			       "they were not acknowledged and come again", j->file.pending.len,
			       j->cfg->path);
	}
	jf_close(&j->file);
	fm_idset_free(j->seen);
	free(j->checkpoint);
	fm_buf_free(&j->line);
	json_decref(j->subset);
	free(j);
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
	j->file = (struct jf){.host = host, .inst = inst, .path = cfg->path, .fsync = cfg->fsync,
	                      .max_size = cfg->max_size, .keep = (long)cfg->keep, .fd = -1};
	int rc = check_output_path(host, inst, cfg->path);
	if (rc < 0)
		goto fail;
	rc = -ENOMEM;
	if (!(j->seen = fm_idset_new((size_t)cfg->dedupe_ids)) || !(j->subset = json_object()))
		goto fail;
	const char *dir = host->state_dir(inst);
	if (dir && asprintf(&j->checkpoint, "%s/written.ids", dir) < 0) {
		j->checkpoint = NULL;
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
	if ((rc = jf_open(&j->file)) < 0)
		goto fail;
	if ((rc = jsonl_seen_load(j->seen, j->checkpoint ? j->checkpoint : "", &j->file,
	                          (long)cfg->keep)) < 0)
		goto fail;
	if (dir && (rc = adopt_old_journal(j, dir)) < 0)
		goto fail;
	fm_info(host, inst, "writing %s (%zu documents remembered)", cfg->path,
	        fm_idset_size(j->seen));
	*ctx = j;
	return 0;
fail:
	jsonl_fini(j);
	return rc;
}

/* ---- documents ---- */

/* The object to write: the document itself, or the configured fields of it (and its
 * revision, which says what the line is). */
static json_t *select_fields(struct jsonl *j, json_t *doc)
{
	json_object_clear(j->subset);
	if (j->cfg->fields.n) {
		for (size_t i = 0; i < j->cfg->fields.n; i++) {
			json_t *v = json_object_get(doc, j->cfg->fields.items[i]);
			if (v)
				json_object_set(j->subset, j->cfg->fields.items[i], v);
		}
		json_t *rev = json_object_get(doc, FM_DOC_REVISION);
		if (rev && !json_object_get(j->subset, FM_DOC_REVISION))
			json_object_set(j->subset, FM_DOC_REVISION, rev);
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

/* The line of obj in j->line (with its newline). Its length, or 0 when it cannot be written. */
static size_t format_line(struct jsonl *j, json_t *obj)
{
	size_t need = json_dumpb(obj, j->line.data, j->line.cap ? j->line.cap - 1 : 0,
	                         JSON_COMPACT);
	if (need == 0)
		return 0;
	if (need + 1 >= j->line.cap) {
		fm_buf_truncate(&j->line, 0);
		if (!fm_buf_reserve(&j->line, need + 1)) {
			fm_buf_free(&j->line);
			return 0;
		}
		json_dumpb(obj, j->line.data, need, JSON_COMPACT);
	}
	j->line.data[need] = '\n';
	return need + 1;
}

/* The line as the core already has it, when the document is written whole and unchanged:
 * its text and a newline in j->line. 0 when it must be serialized. */
static size_t text_line(struct jsonl *j, json_t *doc, fm_out *out, bool changed)
{
	const fm_host *h = j->host;
	if (changed || j->cfg->fields.n || json_object_get(doc, FM_DOC_PAGE_HTML) ||
	    h->struct_size < offsetof(fm_host, doc_text) + sizeof(h->doc_text) || !h->doc_text)
		return 0;
	size_t len;
	const char *text = h->doc_text(out, &len);
	if (!text || !len || memchr(text, '\n', len))
		return 0;
	fm_buf_truncate(&j->line, 0);
	fm_buf_append(&j->line, text, len);
	fm_buf_putc(&j->line, '\n');
	if (j->line.oom) {
		fm_buf_free(&j->line);
		return 0;
	}
	return len + 1;
}

static int jsonl_process(void *ctx, json_t *doc, fm_out *out)
{
	struct jsonl *j = ctx;
	bool changed = fm_doc_strip_unsafe_urls(doc, j->host, j->inst) > 0;
	uint64_t h = jsonl_doc_key(doc);
	if (h && fm_idset_has(j->seen, h)) {
		j->host->count(j->inst, "duplicates", 1);
		return FM_PASS;
	}
	size_t n = text_line(j, doc, out, changed);
	if (n == 0) {
		n = format_line(j, select_fields(j, doc));
		json_object_clear(j->subset);
	}
	if (n == 0) {
		const char *id = fm_doc_str(doc, FM_DOC_ID);
		fm_err(j->host, j->inst, "cannot serialise document %s", id ? id : "(no id)");
		return FM_ERROR;
	}
	int rc = jf_take(&j->file, j->line.data, n);
	if (rc < 0)
		return FM_RETRY; /* out of memory, or the file fails and too much waits */
	if (h)
		fm_idset_add(j->seen, h);
	j->host->count(j->inst, "written", 1);
	if (fm_doc_int(doc, FM_DOC_REVISION, 1) > 1)
		j->host->count(j->inst, "revisions", 1);
	return FM_PASS;
}

/* Everything taken, written and synced; after a rotation, a checkpoint of what was written,
 * so that the next start reads only the lines after it. */
static int jsonl_commit(void *ctx)
{
	struct jsonl *j = ctx;
	bool rotated = false;
	int rc = jf_commit(&j->file, &rotated);
	j->rotated |= rotated;
	if (rc == 0 && j->rotated && j->checkpoint &&
	    jsonl_seen_save(j->seen, j->checkpoint, &j->file) == 0)
		j->rotated = false;
	return rc;
}

static void jsonl_flush(void *ctx)
{
	jsonl_commit(ctx);
}

static const struct fm_plugin jsonl_plugin = {
	.abi_major = FM_ABI_MAJOR,
	.abi_minor = FM_ABI_MINOR,
	.struct_size = sizeof(struct fm_plugin),
	.name = "jsonl",
	.kind = "publish",
	.version = "0.2.0",
	.summary = "append documents as JSON Lines, durably, each revision once",
	.flags = FM_PLUGIN_SINGLETON,
	.options = jsonl_options,
	.config_size = sizeof(struct jsonl_config),
	.init = jsonl_init,
	.process = jsonl_process,
	.flush = jsonl_flush,
	.fini = jsonl_fini,
	.check = jsonl_check,
	.commit = jsonl_commit,
};

FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void);
FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void)
{
	return &jsonl_plugin;
}
