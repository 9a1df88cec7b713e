/*
 * publish:atom — an Atom 1.0 feed (RFC 4287) of the latest max_entries documents.
 *
 * The entries live in memory, newest first. commit() (the host calls it soon after documents
 * pause, and at least every commit_interval) replaces the feed atomically (temporary file +
 * rename, see common/atomic.h) when something changed, and saves the entry list as JSON in the
 * stage's state directory, so the latest N survive a restart; only then are the documents
 * acknowledged upstream. A document comes once per revision: delivered again (after a crash,
 * a lost worker) it changes nothing, even once it has left the window, because the keys of
 * what the feed has shown (id with revision, the last 20 x max_entries) are kept with the
 * entries; a new revision (the dedupe stage's "revision") replaces its entry and moves it to
 * the top with its new <updated>. Every string goes through fm_xml_escape, so hostile titles
 * or content cannot break the XML.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <feedmill/doc.h>
#include <feedmill/host.h>
#include <feedmill/plugin.h>

#include "atomic.h"
#include "buf.h"
#include "doc_urls.h"
#include "idset.h"
#include "url.h"
#include "xmlout.h"

struct atom_config {
	char *path;
	int64_t max_entries;
	char *title;
	char *subtitle;
	char *feed_id;
	char *link;
	char *self_link;
	char *author;
	int64_t summary_chars;
	uint64_t content_limit;
	bool fsync;
};

static const struct fm_option atom_options[] = {
	{"path", FM_OPT_PATH, NULL, offsetof(struct atom_config, path), FM_OPT_REQUIRED, NULL, 0, 0,
	 "the Atom file written (replaced atomically)"},
	{"max_entries", FM_OPT_INT, "50", offsetof(struct atom_config, max_entries), 0, NULL, 1, 10000,
	 "number of latest documents the feed holds"},
	{"title", FM_OPT_STR, "feedmill", offsetof(struct atom_config, title), 0, NULL, 0, 0,
	 "feed title"},
	{"subtitle", FM_OPT_STR, NULL, offsetof(struct atom_config, subtitle), 0, NULL, 0, 0,
	 "feed subtitle (none if unset)"},
	{"feed_id", FM_OPT_STR, NULL, offsetof(struct atom_config, feed_id), 0, NULL, 0, 0,
	 "permanent feed id, an IRI (default: self_link, else link, else a urn from the path)"},
	{"link", FM_OPT_STR, NULL, offsetof(struct atom_config, link), 0, NULL, 0, 0,
	 "web page the feed belongs to (rel=alternate), http or https"},
	{"self_link", FM_OPT_STR, NULL, offsetof(struct atom_config, self_link), 0, NULL, 0, 0,
	 "URL the feed itself is served at (rel=self), http or https"},
	{"author", FM_OPT_STR, "feedmill", offsetof(struct atom_config, author), 0, NULL, 0, 0,
	 "feed author name (entries without authors inherit it)"},
	{"summary_chars", FM_OPT_INT, "400", offsetof(struct atom_config, summary_chars), 0, NULL, 0,
	 100000, "characters of the text used as an entry's summary (0: no summary)"},
	{"content_limit", FM_OPT_SIZE, "256K", offsetof(struct atom_config, content_limit), 0, NULL,
	 0, 0, "larger HTML content is left out of the entry (the summary stays; 0: no limit)"},
	{"fsync", FM_OPT_BOOL, "yes", offsetof(struct atom_config, fsync), 0, NULL, 0, 0,
	 "fsync the feed and its folder on each rewrite"},
	{NULL, 0, NULL, 0, 0, NULL, 0, 0, NULL},
};

#define MAX_AUTHORS 10
#define MAX_CATEGORIES 50

struct atom {
	const fm_host *host;
	fm_instance *inst;
	const struct atom_config *cfg;
	json_t *entries;      /* array of entry objects, newest first */
	char updated[40];     /* feed-level atom:updated: time of the last change */
	char *state_path;
	bool dirty;
	bool failing;
	bool persist;         /* the state folder outlives this run: save the entry list */
	struct fm_idset *shown; /* keys (id with revision) of what the feed has shown */
	struct fm_buf out;
};

/* ---- entries ------------------------------------------------------------------------------- */

static void format_time(int64_t ms, char *out, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *valid_date(json_t *doc, const char *key)
{
	const char *s = fm_doc_str(doc, key);
	return fm_is_rfc3339(s) ? s : NULL;
}

/* Plain-text summary: the first summary_chars characters of "text", cut after a word. */
static json_t *make_summary(const char *text, size_t max_chars)
{
	if (!text || !*text || max_chars == 0)
		return NULL;
	size_t i = 0, chars = 0, last_space = 0;
	while (text[i] && chars < max_chars) {
		unsigned char c = (unsigned char)text[i];
		if (c == ' ' || c == '\n')
			last_space = i;
		i++;
		while (((unsigned char)text[i] & 0xC0) == 0x80)
			i++;
		chars++;
	}
	if (!text[i])
		return json_string(text);
	size_t cut = last_space > i / 2 ? last_space : i;
	struct fm_buf b = FM_BUF_INIT;
	fm_buf_append(&b, text, cut);
	fm_buf_puts(&b, "\xE2\x80\xA6"); /* … */
	json_t *s = b.oom ? NULL : json_stringn(b.data, b.len);
	fm_buf_free(&b);
	return s;
}

static void add_str(json_t *o, const char *key, const char *v)
{
	if (v && *v)
		json_object_set_new(o, key, json_string(v));
}

static json_t *make_authors(json_t *doc)
{
	json_t *in = json_object_get(doc, FM_DOC_AUTHORS), *out = json_array(), *a;
	size_t i;
	json_array_foreach(in, i, a) {
		if (json_array_size(out) >= MAX_AUTHORS)
			break;
		json_t *o = json_object();
		if (json_is_string(a)) {
			add_str(o, "name", json_string_value(a));
		} else if (json_is_object(a)) {
			add_str(o, "name", fm_doc_str(a, "name"));
			add_str(o, "email", fm_doc_str(a, "email"));
			if (fm_url_is_safe_http(fm_doc_str(a, "uri")))
				add_str(o, "uri", fm_doc_str(a, "uri"));
		}
		/* atom:author needs a name: fall back to the e-mail address. */
		if (!json_object_get(o, "name") && json_object_get(o, "email"))
			json_object_set(o, "name", json_object_get(o, "email"));
		if (json_object_get(o, "name"))
			json_array_append_new(out, o);
		else
			json_decref(o);
	}
	return out;
}

static void add_term(json_t *terms, const char *t)
{
	if (!t || !*t || json_array_size(terms) >= MAX_CATEGORIES)
		return;
	size_t i;
	json_t *e;
	json_array_foreach(terms, i, e) {
		if (strcmp(json_string_value(e), t) == 0)
			return;
	}
	json_array_append_new(terms, json_string(t));
}

/* The entry kept for doc: only what the feed shows, so memory and the state file stay small. */
static json_t *make_entry(struct atom *a, json_t *doc, const char *key)
{
	json_t *e = json_object();
	if (!e)
		return NULL;
	json_object_set_new(e, "key", json_string(key));
	add_str(e, "title", fm_doc_str(doc, FM_DOC_TITLE));
	if (fm_url_is_safe_http(fm_doc_str(doc, FM_DOC_URL)))
		add_str(e, "url", fm_doc_str(doc, FM_DOC_URL));
	char now[40];
	format_time(a->host->now_ms(), now, sizeof(now));
	const char *upd = valid_date(doc, FM_DOC_UPDATED);
	const char *pub = valid_date(doc, FM_DOC_PUBLISHED);
	if (!upd)
		upd = pub ? pub : valid_date(doc, FM_DOC_FETCHED_AT);
	add_str(e, "updated", upd ? upd : now);
	add_str(e, "published", pub);
	json_object_set_new(e, "authors", make_authors(doc));
	json_t *summary = make_summary(fm_doc_str(doc, FM_DOC_TEXT), (size_t)a->cfg->summary_chars);
	if (summary)
		json_object_set_new(e, "summary", summary);
	const char *html = fm_doc_str(doc, FM_DOC_HTML);
	if (!html)
		html = fm_doc_str(doc, FM_DOC_CONTENT);
	if (!html)
		html = fm_doc_str(doc, FM_DOC_SUMMARY);
	if (html && a->cfg->content_limit && strlen(html) > a->cfg->content_limit) {
		fm_debug(a->host, a->inst, "%s: content over content_limit, left out", key);
		html = NULL;
	}
	add_str(e, "html", html);
	json_t *terms = json_array(), *t;
	size_t i;
	json_array_foreach(json_object_get(doc, FM_DOC_TAGS), i, t)
		add_term(terms, json_string_value(t));
	add_term(terms, fm_doc_str(doc, FM_DOC_CATEGORY));
	json_object_set_new(e, "categories", terms);
	if (fm_is_lang_tag(fm_doc_str(doc, FM_DOC_LANG)))
		add_str(e, "lang", fm_doc_str(doc, FM_DOC_LANG));
	return e;
}

/* The key identifying a document: id, else url, else a hash of title and text. */
static const char *doc_key(json_t *doc, char *hashbuf, size_t n)
{
	const char *k = fm_doc_str(doc, FM_DOC_ID);
	if (k && *k)
		return k;
	k = fm_doc_str(doc, FM_DOC_URL);
	if (k && *k)
		return k;
	const char *title = fm_doc_str(doc, FM_DOC_TITLE), *text = fm_doc_str(doc, FM_DOC_TEXT);
	uint64_t h1 = fm_id_hash(title ? title : "", title ? strlen(title) : 0);
	uint64_t h2 = fm_id_hash(text ? text : "", text ? strlen(text) : 0);
	snprintf(hashbuf, n, "urn:feedmill:hash:%016llx%016llx", (unsigned long long)h1,
	         (unsigned long long)h2);
	return hashbuf;
}

/* What the feed has shown of a document: its key with its revision. */
static uint64_t shown_key(const char *key, int64_t rev)
{
	uint64_t h = fm_id_hash(key, strlen(key));
	if (rev > 1)
		h = fm_id_hash((const char *)&rev, sizeof(rev)) ^ (h * 0x9E3779B97F4A7C15ull);
	return h ? h : 1;
}

static json_t *shown_to_json(const struct fm_idset *set)
{
	size_t n = fm_idset_size(set);
	uint64_t *keys = malloc((n ? n : 1) * sizeof(*keys));
	json_t *arr = json_array();
	if (!keys || !arr) {
		free(keys);
		return arr;
	}
	fm_idset_export(set, keys);
	for (size_t i = 0; i < n; i++) {
		char hex[20];
		snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)keys[i]);
		json_array_append_new(arr, json_string(hex));
	}
	free(keys);
	return arr;
}

/* ---- rendering ----------------------------------------------------------------------------- */

static void el(struct fm_buf *b, const char *indent, const char *name, const char *text)
{
	if (!text)
		return;
	fm_buf_printf(b, "%s<%s>", indent, name);
	fm_xml_escape(b, text, strlen(text), false);
	fm_buf_printf(b, "</%s>\n", name);
}

static void attr(struct fm_buf *b, const char *name, const char *value)
{
	fm_buf_printf(b, " %s=\"", name);
	fm_xml_escape(b, value, strlen(value), true);
	fm_buf_putc(b, '"');
}

/* An href or uri to write: only an http(s) URL (url.h), whatever the entry holds (entries
 * also come from the state file an older feedmill wrote). NULL: write none. */
static const char *safe_link(const char *url)
{
	return fm_url_is_safe_http(url) ? url : NULL;
}

/* Is key an IRI to use as atom:id as it is? Only http(s), urn: and tag: ones: a reader may
 * take an entry's id for its link when it has none, and an entry whose link was refused has
 * none, so an id like "javascript:..." is written in the urn:feedmill:entry: form instead. */
static bool id_as_is(const char *key)
{
	char scheme[8];
	if (!fm_is_iri(key))
		return false;
	switch (fm_url_classify(key, scheme, sizeof(scheme), NULL)) {
	case FM_URL_HTTP:
		return true;
	case FM_URL_OTHER:
		return !strcmp(scheme, "urn") || !strcmp(scheme, "tag");
	default:
		return false;
	}
}

static void render_id(struct fm_buf *b, const char *key)
{
	fm_buf_puts(b, "    <id>");
	if (id_as_is(key)) {
		fm_xml_escape(b, key, strlen(key), false);
	} else {
		fm_buf_puts(b, "urn:feedmill:entry:");
		fm_pct_encode(b, key);
	}
	fm_buf_puts(b, "</id>\n");
}

static void render_entry(struct fm_buf *b, json_t *e)
{
	fm_buf_puts(b, "  <entry");
	if (fm_doc_str(e, "lang"))
		attr(b, "xml:lang", fm_doc_str(e, "lang"));
	fm_buf_puts(b, ">\n");
	render_id(b, fm_doc_str(e, "key"));
	const char *title = fm_doc_str(e, "title");
	el(b, "    ", "title", title ? title : "(untitled)");
	const char *url = safe_link(fm_doc_str(e, "url"));
	if (url) {
		fm_buf_puts(b, "    <link rel=\"alternate\"");
		attr(b, "href", url);
		fm_buf_puts(b, "/>\n");
	}
	el(b, "    ", "updated", fm_doc_str(e, "updated"));
	el(b, "    ", "published", fm_doc_str(e, "published"));
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(e, "authors"), i, v) {
		fm_buf_puts(b, "    <author>\n");
		el(b, "      ", "name", fm_doc_str(v, "name"));
		el(b, "      ", "email", fm_doc_str(v, "email"));
		el(b, "      ", "uri", safe_link(fm_doc_str(v, "uri")));
		fm_buf_puts(b, "    </author>\n");
	}
	json_array_foreach(json_object_get(e, "categories"), i, v) {
		fm_buf_puts(b, "    <category");
		attr(b, "term", json_string_value(v));
		fm_buf_puts(b, "/>\n");
	}
	el(b, "    ", "summary", fm_doc_str(e, "summary"));
	const char *html = fm_doc_str(e, "html");
	if (html) {
		fm_buf_puts(b, "    <content type=\"html\">");
		fm_xml_escape(b, html, strlen(html), false);
		fm_buf_puts(b, "</content>\n");
	} else if (!url) {
		/* RFC 4287 4.1.2: without an alternate link an entry needs atom:content. */
		const char *s = fm_doc_str(e, "summary");
		el(b, "    ", "content", s ? s : title ? title : "");
	}
	fm_buf_puts(b, "  </entry>\n");
}

static void render_feed(struct atom *a, struct fm_buf *b)
{
	const struct atom_config *c = a->cfg;
	fm_buf_truncate(b, 0);
	fm_buf_puts(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	               "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
	el(b, "  ", "title", c->title ? c->title : "feedmill");
	el(b, "  ", "subtitle", c->subtitle);
	const char *id = c->feed_id ? c->feed_id : c->self_link ? c->self_link : c->link;
	if (id) {
		el(b, "  ", "id", id);
	} else {
		char h[40];
		snprintf(h, sizeof(h), "%016llx",
		         (unsigned long long)fm_id_hash(c->path, strlen(c->path)));
		fm_buf_printf(b, "  <id>urn:feedmill:feed:%s</id>\n", h);
	}
	if (c->self_link) {
		fm_buf_puts(b, "  <link rel=\"self\" type=\"application/atom+xml\"");
		attr(b, "href", c->self_link);
		fm_buf_puts(b, "/>\n");
	}
	if (c->link) {
		fm_buf_puts(b, "  <link rel=\"alternate\"");
		attr(b, "href", c->link);
		fm_buf_puts(b, "/>\n");
	}
	el(b, "  ", "updated", a->updated);
	fm_buf_puts(b, "  <author>\n");
	el(b, "    ", "name", c->author && *c->author ? c->author : "feedmill");
	fm_buf_puts(b, "  </author>\n  <generator>feedmill</generator>\n");
	size_t i;
	json_t *e;
	json_array_foreach(a->entries, i, e)
		render_entry(b, e);
	fm_buf_puts(b, "</feed>\n");
}

/* ---- persistence --------------------------------------------------------------------------- */

static int write_all_files(struct atom *a)
{
	int rc;
	const char *what = a->state_path;
	if (!a->persist)
		goto feed;
	json_t *state = json_pack("{s:i, s:s, s:O, s:o}", "version", 2, "updated", a->updated,
	                          "entries", a->entries, "shown", shown_to_json(a->shown));
	char *s = state ? json_dumps(state, JSON_COMPACT) : NULL;
	json_decref(state);
	if (!s) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = fm_atomic_write(a->state_path, s, strlen(s), a->cfg->fsync);
	free(s);
	if (rc < 0)
		goto fail;
feed:
	what = a->cfg->path;
	render_feed(a, &a->out);
	if (a->out.oom) {
		fm_buf_free(&a->out);
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = fm_atomic_write(a->cfg->path, a->out.data, a->out.len, a->cfg->fsync)) < 0)
		goto fail;
	if (a->failing)
		fm_notice(a->host, a->inst, "writing %s works again", a->cfg->path);
	a->failing = false;
	a->dirty = false;
	return 0;
fail:
	fm_err(a->host, a->inst, "cannot write %s: %s; nothing is acknowledged until it works",
	       what, strerror(-rc));
	a->host->count(a->inst, "write_errors", 1);
	a->failing = true;
	return rc;
}

static void load_state(struct atom *a)
{
	json_error_t err;
	json_t *st = json_load_file(a->state_path, 0, &err);
	if (!st) {
		if (access(a->state_path, F_OK) == 0)
			fm_warn(a->host, a->inst, "ignoring unreadable state %s: %s (line %d)",
			        a->state_path, err.text, err.line);
		return;
	}
	json_t *entries = json_object_get(st, "entries"), *e;
	size_t i;
	json_array_foreach(entries, i, e) {
		if ((int64_t)json_array_size(a->entries) >= a->cfg->max_entries)
			break;
		if (json_is_object(e) && fm_doc_str(e, "key") && fm_doc_str(e, "updated"))
			json_array_append(a->entries, e);
	}
	if (fm_is_rfc3339(fm_doc_str(st, "updated")))
		snprintf(a->updated, sizeof(a->updated), "%s", fm_doc_str(st, "updated"));
	json_t *shown = json_object_get(st, "shown"), *k;
	json_array_foreach(shown, i, k) {
		unsigned long long h = 0;
		if (json_is_string(k) && sscanf(json_string_value(k), "%16llx", &h) == 1 && h)
			fm_idset_add(a->shown, (uint64_t)h);
	}
	/* a state of version 1 kept no keys: what the window holds was shown */
	json_array_foreach(a->entries, i, e)
		fm_idset_add(a->shown, shown_key(fm_doc_str(e, "key"), fm_doc_int(e, "rev", 1)));
	json_decref(st);
}

/* ---- plugin -------------------------------------------------------------------------------- */

static void atom_fini(void *ctx)
{
	struct atom *a = ctx;
	if (!a)
		return;
	if (a->dirty && a->entries && write_all_files(a) < 0)
		fm_err(a->host, a->inst, "%s is not up to date", a->cfg->path);
	json_decref(a->entries);
	fm_idset_free(a->shown);
	free(a->state_path);
	fm_buf_free(&a->out);
	free(a);
}

static int atom_init(void **ctx, const fm_host *host, fm_instance *inst, const void *config)
{
	const struct atom_config *cfg = config;
	/* the feed's own links are hrefs like any other: http(s) only */
	if ((cfg->link && !fm_url_is_safe_http(cfg->link)) ||
	    (cfg->self_link && !fm_url_is_safe_http(cfg->self_link))) {
		fm_err(host, inst, "option %s: not an http or https URL",
		       cfg->link && !fm_url_is_safe_http(cfg->link) ? "link" : "self_link");
		return -EINVAL;
	}
	struct atom *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->host = host;
	a->inst = inst;
	a->cfg = cfg;
	const char *dir = host->state_dir(inst);
	if (!dir || asprintf(&a->state_path, "%s/atom-entries.json", dir) < 0) {
		a->state_path = NULL;
		fm_err(host, inst, "no state directory for the entry list");
		free(a);
		return -EIO;
	}
	size_t remember = (size_t)cfg->max_entries * 20;
	if (!(a->entries = json_array()) ||
	    !(a->shown = fm_idset_new(remember > 1000 ? remember : 1000))) {
		atom_fini(a);
		return -ENOMEM;
	}
	/* A temporary state folder (`feedmill pipe`) is removed at exit: saving there is waste.
	 * Hosts older than state_persistent() always keep it. */
	a->persist = true;
	if (host->struct_size >= offsetof(struct fm_host, state_persistent) + sizeof(void *) &&
	    host->state_persistent)
		a->persist = host->state_persistent(inst) != 0;
	format_time(host->now_ms(), a->updated, sizeof(a->updated));
	load_state(a);
	/* Rewrite at once: the options (title, max_entries...) may have changed since last run,
	 * and the feed exists, even empty, from the start. */
	a->dirty = true;
	write_all_files(a);
	fm_info(host, inst, "writing %s (%zu entries kept from the last run)", cfg->path,
	        json_array_size(a->entries));
	*ctx = a;
	return 0;
}

/* Where the entry of key is in the list, or -1. */
static ssize_t find_entry(const struct atom *a, const char *key)
{
	size_t i;
	json_t *e;
	json_array_foreach(a->entries, i, e)
		if (strcmp(fm_doc_str(e, "key"), key) == 0)
			return (ssize_t)i;
	return -1;
}

static int atom_process(void *ctx, json_t *doc, fm_out *out)
{
	struct atom *a = ctx;
	(void)out;
	/* the walk every publisher does (doc_urls.h): the entry is then made of safe fields */
	int unsafe = fm_doc_strip_unsafe_urls(doc, a->host, a->inst);
	if (unsafe > 0)
		a->host->count(a->inst, "unsafe_urls", unsafe);
	char hashbuf[64];
	const char *key = doc_key(doc, hashbuf, sizeof(hashbuf));
	int64_t rev = fm_doc_int(doc, FM_DOC_REVISION, 1);
	uint64_t h = shown_key(key, rev);
	if (fm_idset_has(a->shown, h)) {
		/* delivered again: the feed has shown this revision already */
		a->host->count(a->inst, "unchanged", 1);
		return FM_PASS;
	}
	json_t *e = make_entry(a, doc, key);
	if (!e)
		return FM_RETRY;
	if (rev > 1)
		json_object_set_new(e, "rev", json_integer(rev));
	ssize_t pos = find_entry(a, key);
	if (pos >= 0 && fm_doc_int(json_array_get(a->entries, (size_t)pos), "rev", 1) > rev) {
		json_decref(e); /* an older revision, late */
		a->host->count(a->inst, "unchanged", 1);
		return FM_PASS;
	}
	/* a revision, or the first time: at the top */
	if (pos >= 0)
		json_array_remove(a->entries, (size_t)pos);
	json_array_insert_new(a->entries, 0, e);
	while ((int64_t)json_array_size(a->entries) > a->cfg->max_entries)
		json_array_remove(a->entries, json_array_size(a->entries) - 1);
	a->host->count(a->inst, pos >= 0 ? "updated" : "added", 1);
	fm_idset_add(a->shown, h);
	format_time(a->host->now_ms(), a->updated, sizeof(a->updated));
	a->dirty = true;
	return FM_PASS;
}

/* The feed and the entry list written, when something changed. 0 or -errno (logged). */
static int atom_commit(void *ctx)
{
	struct atom *a = ctx;
	return a->dirty ? write_all_files(a) : 0;
}

static void atom_flush(void *ctx)
{
	atom_commit(ctx);
}

static const struct fm_plugin atom_plugin = {
	.abi_major = FM_ABI_MAJOR,
	.abi_minor = FM_ABI_MINOR,
	.struct_size = sizeof(struct fm_plugin),
	.name = "atom",
	.kind = "publish",
	.version = "0.2.0",
	.summary = "an Atom 1.0 feed of the latest documents, written atomically, each revision once",
	.flags = FM_PLUGIN_SINGLETON,
	.options = atom_options,
	.config_size = sizeof(struct atom_config),
	.init = atom_init,
	.process = atom_process,
	.flush = atom_flush,
	.fini = atom_fini,
	.commit = atom_commit,
};

FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void);
FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void)
{
	return &atom_plugin;
}
