/*
 * fetch_http: what a response is (a feed, a page, something else) and the documents made of
 * it: one per feed item, or one for a page.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "doc_urls.h"
#include "feed.h"
#include "stage.h"
#include "url.h"

/* ------------------------------------------------------------------------------------------ */
/* What a body is */

static bool type_is(const char *ct, const char *prefix)
{
	return ct && strncmp(ct, prefix, strlen(prefix)) == 0;
}

static bool binary_type(const char *ct)
{
	static const char *const bin[] = {
		"image/", "audio/", "video/", "font/", "model/", "application/pdf",
		"application/zip", "application/gzip", "application/x-gzip", "application/x-tar",
		"application/x-bzip2", "application/x-xz", "application/zstd", "application/msword",
		"application/vnd.", "application/x-shockwave-flash", "application/wasm",
		"application/x-executable", "application/java-archive", NULL,
	};
	for (size_t i = 0; bin[i]; i++)
		if (type_is(ct, bin[i]))
			return true;
	return false;
}

static bool html_type(const char *ct)
{
	return ct && (strcmp(ct, "text/html") == 0 || strcmp(ct, "application/xhtml+xml") == 0);
}

/* Types only feeds use: the parser gets the body even when the sniff does not recognise it
 * (junk before the root, a broken prolog), so the error names what is wrong in it. */
static bool feed_type(const char *ct)
{
	return ct && (strcmp(ct, "application/rss+xml") == 0 ||
	              strcmp(ct, "application/atom+xml") == 0 ||
	              strcmp(ct, "application/rdf+xml") == 0 ||
	              strcmp(ct, "application/feed+json") == 0 ||
	              strcmp(ct, "application/x-rss+xml") == 0);
}

static bool looks_binary(const char *s, size_t len)
{
	size_t n = len < 1024 ? len : 1024;
	/* UTF-16 text has NULs too, but starts with a BOM */
	if (n >= 2 && ((unsigned char)s[0] == 0xFF || (unsigned char)s[0] == 0xFE))
		return false;
	return memchr(s, '\0', n) != NULL;
}

static bool looks_html(const char *s, size_t len)
{
	size_t n = len < 1024 ? len : 1024;
	static const char *const marks[] = {"<!doctype html", "<html", "<head", "<body", NULL};
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '<')
			continue;
		for (size_t k = 0; marks[k]; k++) {
			size_t ml = strlen(marks[k]);
			if (i + ml <= len && strncasecmp(s + i, marks[k], ml) == 0)
				return true;
		}
	}
	return false;
}

enum body_kind fh_classify(const struct fm_http_response *resp, const char *source_type)
{
	const char *ct = resp->content_type;
	const char *b = fm_buf_str(&resp->body);
	size_t len = resp->body.len;

	if (binary_type(ct) || looks_binary(b, len))
		return BODY_BINARY;
	if (strcmp(source_type, "html") == 0)
		return BODY_HTML;
	if (fm_feed_sniff(b, len) || feed_type(ct))
		return BODY_FEED;
	if (html_type(ct) || looks_html(b, len))
		return BODY_HTML;
	return BODY_OTHER;
}

/* ------------------------------------------------------------------------------------------ */
/* Documents */

static void set_common(const struct doc_common *c, json_t *doc)
{
	json_object_set_new(doc, FM_DOC_SOURCE, c->source ? json_string(c->source) : json_null());
	json_object_set_new(doc, FM_DOC_FETCHED_AT, json_string(c->fetched_at));
	if (c->tags && json_array_size(c->tags))
		json_object_set_new(doc, FM_DOC_TAGS, json_deep_copy(c->tags));
}

void fh_strip_unsafe_urls(struct fh *fh, json_t *doc)
{
	int n = fm_doc_strip_unsafe_urls(doc, fh->host, fh->inst);
	if (n > 0)
		fh->host->count(fh->inst, "unsafe_urls", n);
}

int fh_set_page_html(json_t *doc, const struct fm_http_response *resp)
{
	struct fm_utf8 u = {0};
	if (fm_http_to_utf8(fm_buf_str(&resp->body), resp->body.len, resp->charset, &u) < 0)
		return -ENOMEM;
	json_t *v = json_stringn_nocheck(u.s, u.len); /* fm_http_to_utf8 guarantees UTF-8 */
	free(u.owned);
	if (!v)
		return -ENOMEM;
	return json_object_set_new(doc, FM_DOC_PAGE_HTML, v) ? -ENOMEM : 0;
}

json_t *fh_page_doc(struct fh *fh, const struct doc_common *c,
                    const struct fm_http_response *resp, const struct fm_utf8 *decoded,
                    const struct fm_html_info *known)
{
	struct fm_utf8 u = {0};
	struct fm_html_info info = {0};
	json_t *doc = json_object();

	if (!doc)
		goto oom;
	if (!decoded) {
		if (fm_http_to_utf8(fm_buf_str(&resp->body), resp->body.len, resp->charset, &u) < 0)
			goto oom;
		decoded = &u;
	}
	json_t *v = json_stringn_nocheck(decoded->s, decoded->len);
	if (!v || json_object_set_new(doc, FM_DOC_PAGE_HTML, v))
		goto oom;
	if (!known) {
		if (fm_html_scan(decoded->s, decoded->len, resp->url, &info) < 0)
			goto oom;
		known = &info;
	}
	json_object_set_new(doc, FM_DOC_ID, json_string(resp->url));
	json_object_set_new(doc, FM_DOC_URL, json_string(resp->url));
	if (known->title)
		json_object_set_new(doc, FM_DOC_TITLE, json_string(known->title));
	set_common(c, doc);
	fh_strip_unsafe_urls(fh, doc); /* only http(s) is fetched: a safeguard */
	free(u.owned);
	fm_html_info_free(&info);
	return doc;
oom:
	free(u.owned);
	fm_html_info_free(&info);
	json_decref(doc);
	return NULL;
}

/* A stable id for an item with neither id nor link: FNV-1a over its text fields. */
static char *fallback_id(const char *feed_url, json_t *item)
{
	static const char *const keys[] = {FM_DOC_TITLE, FM_DOC_SUMMARY, FM_DOC_CONTENT,
	                                   FM_DOC_PUBLISHED, NULL};
	uint64_t hsh = 1469598103934665603ull;
	for (size_t k = 0; keys[k]; k++) {
		const char *s = fm_doc_str(item, keys[k]);
		for (; s && *s; s++) {
			hsh ^= (unsigned char)*s;
			hsh *= 1099511628211ull;
		}
		hsh ^= 0xff;
		hsh *= 1099511628211ull;
	}
	char *out = NULL;
	if (asprintf(&out, "%s#item-%016" PRIx64, feed_url, hsh) < 0)
		return NULL;
	return out;
}

/* The feed's title and link as every item carries them ("feed"). */
static json_t *feed_ref_of(struct fh *fh, json_t *feed, const char *source_name)
{
	json_t *ref = json_object();
	if (!ref)
		return NULL;
	json_t *t = json_object_get(feed, "title"), *l = json_object_get(feed, "link");
	if (l && !json_is_null(l) && !fm_url_is_safe_http(json_string_value(l))) {
		fm_debug(fh->host, fh->inst, "source %s: the feed's link is not an http(s) URL; "
		         "left out", source_name);
		l = NULL;
	}
	json_object_set_new(ref, "title", t ? json_incref(t) : json_null());
	json_object_set_new(ref, "link", l ? json_incref(l) : json_null());
	return ref;
}

/* An item of the parse result made a document: id, url, feed, common fields. */
static void item_to_doc(struct fh *fh, const struct doc_common *c, const char *feed_url,
                        json_t *feed_ref, json_t *doc)
{
	json_t *link = json_incref(json_object_get(doc, "link"));
	json_object_del(doc, "link");
	const char *url = json_string_value(link);
	const char *id = fm_doc_str(doc, FM_DOC_ID);
	if (!id || !*id) {
		/* a link that is going to be removed must not live on as the id */
		if (fm_url_is_safe_http(url)) {
			json_object_set(doc, FM_DOC_ID, link);
		} else {
			char *fid = fallback_id(feed_url, doc);
			json_object_set_new(doc, FM_DOC_ID, fid ? json_string(fid) : json_null());
			free(fid);
		}
	}
	json_object_set_new(doc, FM_DOC_URL, link ? link : json_null());
	json_object_set_new(doc, FM_DOC_FEED, json_deep_copy(feed_ref));
	set_common(c, doc);
	fh_strip_unsafe_urls(fh, doc);
}

int fh_feed_docs(struct fh *fh, const struct doc_common *c, const struct fm_http_response *resp,
                 int64_t max_items, const char *source_name, const char *safe_url,
                 struct feed_docs *out)
{
	*out = (struct feed_docs){0};
	struct fm_feed_opts o = {
		.base_url = resp->url,
		.http_charset = resp->charset,
		.max_items = (size_t)max_items,
	};
	json_t *res = fm_feed_parse(fm_buf_str(&resp->body), resp->body.len, &o);
	if (!res) {
		snprintf(out->error, sizeof(out->error), "out of memory parsing the feed");
		return -1;
	}
	json_t *items = json_object_get(res, "items");
	json_t *errors = json_object_get(res, "errors");
	const char *format = fm_doc_str(res, "format");
	size_t n = json_array_size(items);
	if (n == 0 && (json_array_size(errors) || !format || strcmp(format, "unknown") == 0)) {
		const char *first = json_string_value(json_array_get(errors, 0));
		snprintf(out->error, sizeof(out->error), "invalid feed (%s)%s%s",
		         format ? format : "unknown", first ? ": " : "", first ? first : "");
		json_decref(res);
		return -1;
	}
	if (json_array_size(errors))
		fm_info(fh->host, fh->inst, "source %s: %s: feed not well-formed (%zu errors, first: "
		        "%s); kept %zu items", source_name, safe_url, json_array_size(errors),
		        json_string_value(json_array_get(errors, 0)) ?: "?", n);

	json_t *feed = json_object_get(res, "feed");
	json_t *feed_ref = feed_ref_of(fh, feed, source_name);
	json_t *docs = json_array();
	if (!feed_ref || !docs) {
		json_decref(feed_ref);
		json_decref(docs);
		json_decref(res);
		snprintf(out->error, sizeof(out->error), "out of memory");
		return -1;
	}
	if (n > (size_t)max_items)
		n = (size_t)max_items;
	for (size_t i = 0; i < n; i++) {
		/* take the item out of the parse result: the document owns it alone */
		json_t *doc = json_incref(json_array_get(items, i));
		json_array_set_new(items, i, json_null());
		if (!json_is_object(doc)) {
			json_decref(doc);
			continue;
		}
		item_to_doc(fh, c, resp->url, feed_ref, doc);
		json_array_append_new(docs, doc);
	}
	json_decref(feed_ref);
	json_object_del(res, "items");
	out->items = docs;
	out->feed = feed;
	out->parsed = res;
	return 0;
}

void fh_feed_docs_free(struct feed_docs *d)
{
	json_decref(d->items);
	json_decref(d->parsed);
	*d = (struct feed_docs){0};
}
