/*
 * clean_readable: the "clean" stage.
 *
 *   page_html (raw page from fetch)  -> html, text; title, published, authors, lang filled
 *                                       when absent (or, for the title, when ours is better);
 *                                       page_html removed
 *   content, else summary (feed HTML) -> html (cleaned again), text
 *   text only                        -> text normalised
 *
 * Boilerplate learning: each instance learns the blocks that recur across documents of a
 * source (boiler.h) and strips them. The learned set is per instance and persisted in
 * state_dir/boilerplate-<worker index>.txt, so workers never write the same file and each
 * reloads its own on restart (round-robin feeding gives every worker a share of each source,
 * enough to learn its recurring lines). Not a singleton.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <feedmill/doc.h>
#include <feedmill/host.h>
#include <feedmill/plugin.h>

#include "boiler.h"
#include "doc_urls.h"
#include "readable.h"
#include "text.h"

struct ctx {
	const fm_host *host;
	fm_instance *inst;
	const struct rd_config *cfg;
	struct rd_limits lim;
	struct rd_boiler *boiler;
	char *state_path;
	bool dirty;
};

void rd_limits_from_config(const struct rd_config *c, struct rd_limits *lim)
{
	struct rd_limits d = RD_LIMITS_DEFAULT;
	*lim = d;
	if (!c)
		return;
	if (c->max_html_size)
		lim->max_html_size = c->max_html_size;
	if (c->max_depth > 0)
		lim->max_depth = c->max_depth;
	if (c->max_nodes > 0)
		lim->max_nodes = c->max_nodes;
	if (c->min_words > 0)
		lim->min_words = c->min_words;
	if (c->max_link_density > 0)
		lim->max_link_density = c->max_link_density;
}

static int rd_init(void **out, const fm_host *host, fm_instance *inst, const void *config)
{
	struct ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->host = host;
	c->inst = inst;
	c->cfg = config;
	rd_limits_from_config(c->cfg, &c->lim);
	if (c->cfg->learn) {
		struct rd_boiler_opts bo = {
			.max_sources = (int)c->cfg->learn_sources,
			.max_entries = (int)c->cfg->learn_entries,
			.min_docs = (int)c->cfg->learn_min_docs,
			.window = (int)c->cfg->learn_window,
		};
		c->boiler = rd_boiler_new(&bo);
		if (!c->boiler) {
			free(c);
			return -ENOMEM;
		}
		const char *dir = host->state_dir(inst);
		if (dir) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/boilerplate-%d.txt", dir,
			         host->worker_index(inst));
			c->state_path = strdup(path);
			int r = rd_boiler_load(c->boiler, path);
			if (r == 0)
				fm_info(host, inst, "loaded learned boilerplate of %zu sources from %s",
				        rd_boiler_sources(c->boiler), path);
			else if (r != -ENOENT)
				fm_warn(host, inst, "cannot load %s (%s); starting afresh", path,
				        strerror(-r));
		}
	}
	*out = c;
	return 0;
}

static void set_if_absent(json_t *doc, const char *key, const char *v)
{
	if (!v || !*v)
		return;
	json_t *cur = json_object_get(doc, key);
	if (json_is_string(cur) && *json_string_value(cur))
		return;
	json_object_set_new(doc, key, json_string(v));
}

/* A feed title cut short ("Minister says the plan...") is worse than the page's own. */
static bool title_better(const char *cur, const char *ours)
{
	if (!cur || !*cur)
		return true;
	size_t n = strlen(cur);
	const char *stem_end = NULL;
	if (n >= 3 && !strcmp(cur + n - 3, "..."))
		stem_end = cur + n - 3;
	else if (n >= 3 && !strcmp(cur + n - 3, "\xE2\x80\xA6"))
		stem_end = cur + n - 3;
	if (!stem_end)
		return false;
	size_t stem = (size_t)(stem_end - cur);
	return strlen(ours) > stem && !strncmp(cur, ours, stem);
}

static void fill_meta(struct ctx *c, json_t *doc, const struct rd_result *r)
{
	if (r->title && title_better(fm_doc_str(doc, FM_DOC_TITLE), r->title))
		json_object_set_new(doc, FM_DOC_TITLE, json_string(r->title));
	if (r->published != -1) {
		json_t *cur = json_object_get(doc, FM_DOC_PUBLISHED);
		if (!json_is_string(cur)) {
			char d[32];
			rd_format_date(r->published, d);
			json_object_set_new(doc, FM_DOC_PUBLISHED, json_string(d));
		}
	}
	json_t *au = json_object_get(doc, FM_DOC_AUTHORS);
	if (r->n_authors && (!json_is_array(au) || !json_array_size(au))) {
		json_t *arr = json_array();
		for (int i = 0; arr && i < r->n_authors; i++) {
			json_t *a = json_object();
			json_object_set_new(a, "name", json_string(r->authors[i]));
			json_array_append_new(arr, a);
		}
		if (arr)
			json_object_set_new(doc, FM_DOC_AUTHORS, arr);
	}
	set_if_absent(doc, FM_DOC_LANG, r->lang);
	(void)c;
}

static int from_fragment(struct ctx *c, json_t *doc, const char *url, const char *source)
{
	const char *html = fm_doc_str(doc, FM_DOC_CONTENT);
	if (!html || !*html)
		html = fm_doc_str(doc, FM_DOC_SUMMARY);
	if (!html || !*html)
		return 1;
	struct rd_result r;
	int rc = rd_extract_fragment(html, strlen(html), url, &c->lim, c->boiler, source, &r);
	if (rc < 0)
		return rc;
	c->dirty |= c->boiler != NULL;
	json_object_set_new(doc, FM_DOC_HTML, json_string(r.html));
	json_object_set_new(doc, FM_DOC_TEXT, json_string(r.text));
	set_if_absent(doc, FM_DOC_LANG, r.lang);
	rd_result_free(&r);
	return 0;
}

static int rd_process(void *vc, json_t *doc, fm_out *out)
{
	struct ctx *c = vc;
	(void)out;
	/* First, as url is also the base of the page's relative links: only http(s) URLs stay in
	 * the document (doc_urls.h), and this stage adds no URL field of its own. */
	int unsafe = fm_doc_strip_unsafe_urls(doc, c->host, c->inst);
	if (unsafe > 0)
		c->host->count(c->inst, "unsafe_urls", unsafe);
	const char *url = fm_doc_str(doc, FM_DOC_URL);
	const char *source = fm_doc_str(doc, FM_DOC_SOURCE);
	json_t *page = json_object_get(doc, FM_DOC_PAGE_HTML);
	int rc;
	const char *id = fm_doc_str(doc, FM_DOC_ID);
	rd_boiler_set_document(c->boiler, id && *id ? id : url);

	if (json_is_string(page)) {
		struct rd_result r;
		rc = rd_extract_page(json_string_value(page), json_string_length(page), url,
		                     &c->lim, c->boiler, source, &r);
		if (rc < 0)
			goto fail;
		c->dirty |= c->boiler != NULL;
		if (r.truncated)
			fm_warn(c->host, c->inst, "%s: page larger than max_html_size, cut",
			        url ? url : "(no url)");
		if (r.depth_capped)
			c->host->count(c->inst, "depth_capped", 1);
		fill_meta(c, doc, &r);
		bool got = r.text && *r.text;
		if (got) {
			json_object_set_new(doc, FM_DOC_HTML, json_string(r.html));
			json_object_set_new(doc, FM_DOC_TEXT, json_string(r.text));
			c->host->count(c->inst, "extracted", 1);
		} else {
			fm_info(c->host, c->inst, "%s: %s", url ? url : "(no url)",
			        r.error ? r.error : "no text");
			c->host->count(c->inst, "empty", 1);
		}
		rd_result_free(&r);
		json_object_del(doc, FM_DOC_PAGE_HTML);
		if (got)
			return FM_PASS;
	}
	rc = from_fragment(c, doc, url, source);
	if (rc < 0)
		goto fail;
	if (rc == 0)
		return FM_PASS;
	/* text only: normalise it */
	json_t *t = json_object_get(doc, FM_DOC_TEXT);
	if (json_is_string(t)) {
		size_t n;
		char *norm = fm_text_normalize(json_string_value(t), json_string_length(t), 0, &n);
		if (!norm) {
			rc = -ENOMEM;
			goto fail;
		}
		json_object_set_new(doc, FM_DOC_TEXT, json_stringn(norm, n));
		const char *l = fm_text_detect_lang(norm, n);
		set_if_absent(doc, FM_DOC_LANG, l);
		free(norm);
	}
	return FM_PASS;
fail:
	fm_err(c->host, c->inst, "%s: %s", url ? url : "(no url)", strerror(-rc));
	return rc == -ENOMEM ? FM_RETRY : FM_ERROR;
}

static void rd_flush(void *vc)
{
	struct ctx *c = vc;
	if (!c->boiler || !c->state_path || !c->dirty)
		return;
	int r = rd_boiler_save(c->boiler, c->state_path);
	if (r < 0)
		fm_warn(c->host, c->inst, "cannot save %s: %s", c->state_path, strerror(-r));
	else
		c->dirty = false;
}

static void rd_fini(void *vc)
{
	struct ctx *c = vc;
	if (!c)
		return;
	rd_flush(c);
	rd_boiler_free(c->boiler);
	free(c->state_path);
	free(c);
}

#define OPT(k, t, d, f, lo, hi, doc)                                                            \
	{k, t, d, offsetof(struct rd_config, f), 0, NULL, lo, hi, doc}

static const struct fm_option rd_options[] = {
	OPT("max_html_size", FM_OPT_SIZE, "20M", max_html_size, 1024, 1073741824.0,
	    "pages larger than this are cut to this size before parsing"),
	OPT("max_depth", FM_OPT_INT, "512", max_depth, 8, 1000000,
	    "elements nested deeper than this are ignored with their content"),
	OPT("max_nodes", FM_OPT_INT, "500000", max_nodes, 100, 100000000,
	    "elements past this count in one page are ignored"),
	OPT("min_words", FM_OPT_INT, "10", min_words, 1, 1000,
	    "a block needs this many words (with sentence punctuation) to count as article text"),
	OPT("max_link_density", FM_OPT_DOUBLE, "0.5", max_link_density, 0.01, 1,
	    "blocks whose share of link text is above this are dropped as navigation"),
	OPT("learn", FM_OPT_BOOL, "yes", learn, 0, 0,
	    "learn blocks that recur across documents of a source and strip them"),
	OPT("learn_sources", FM_OPT_INT, "1000", learn_sources, 1, 1000000,
	    "sources whose boilerplate is remembered (least recently used forgotten)"),
	OPT("learn_entries", FM_OPT_INT, "2000", learn_entries, 16, 1000000,
	    "block fingerprints remembered per source"),
	OPT("learn_min_docs", FM_OPT_INT, "3", learn_min_docs, 2, 100000,
	    "a block seen in this many documents of a source is boilerplate"),
	OPT("learn_window", FM_OPT_INT, "500", learn_window, 1, 10000000,
	    "a fingerprint not seen in this many documents of its source is forgotten"),
	OPT("threads", FM_OPT_INT, "0", threads, 0, 64,
	    "`feedmill extract`: files extracted in parallel (0: one per CPU, at most 8)"),
	{NULL, 0, NULL, 0, 0, NULL, 0, 0, NULL},
};

static const struct fm_command rd_commands[] = {
	{"extract", "extract [--url URL] FILE...",
	 "extract the main content, title, date, authors and language of HTML pages",
	 rd_extract_run},
	{NULL, NULL, NULL, NULL},
};

static const struct fm_plugin rd_plugin;

FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void);
FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void)
{
	return &rd_plugin;
}

static const struct fm_plugin rd_plugin = {
	.abi_major = FM_ABI_MAJOR,
	.abi_minor = FM_ABI_MINOR,
	.struct_size = sizeof(struct fm_plugin),
	.name = "readable",
	.kind = "clean",
	.version = "1.0.0",
	.summary = "main-content extraction, metadata, text normalisation, learned boilerplate",
	.flags = 0,
	.options = rd_options,
	.config_size = sizeof(struct rd_config),
	.init = rd_init,
	.process = rd_process,
	.flush = rd_flush,
	.fini = rd_fini,
	.commands = rd_commands,
};
