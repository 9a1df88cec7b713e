/* Feed parsing entry points: encoding, format sniffing, JSON Feed. RSS/Atom: feed_elements.c. */
#include "feed.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "date.h"
#include "feed_priv.h"
#include "html_sanitize.h"
#include "url.h"

#define DEFAULT_MAX_ITEMS 10000
#define DEFAULT_MAX_DEPTH 256
#define DEFAULT_MAX_ENTITY (1u << 20)

static const char *skip_ws_bom(const char *p, const char *end)
{
	if (end - p >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		p += 3;
	while (p < end && isspace((unsigned char)*p))
		p++;
	return p;
}

int fm_feed_sniff(const char *data, size_t len)
{
	if (!data)
		return 0;
	size_t n = len < 4096 ? len : 4096;
	const char *end = data + n;
	const char *p = skip_ws_bom(data, end);
	if (p < end && *p == '{')
		return memmem(p, (size_t)(end - p), "jsonfeed.org/version", 20) != NULL;
	/* skip the prolog: declaration, comments, PIs, doctype */
	while (p < end && *p == '<') {
		if (end - p > 1 && (p[1] == '?' || p[1] == '!')) {
			const char *q = p[1] == '!' && end - p > 3 && !memcmp(p, "<!--", 4)
			                        ? memmem(p, (size_t)(end - p), "-->", 3)
			                        : memchr(p, '>', (size_t)(end - p));
			if (!q)
				return 0;
			p = skip_ws_bom(q + 1, end);
			continue;
		}
		p++;
		const char *name = p;
		while (p < end && !isspace((unsigned char)*p) && *p != '>' && *p != '/')
			p++;
		size_t nl = (size_t)(p - name);
		const char *colon = memchr(name, ':', nl);
		if (colon) {
			nl -= (size_t)(colon + 1 - name);
			name = colon + 1;
		}
		static const char *const roots[] = {"rss", "feed", "RDF", "channel"};
		for (size_t i = 0; i < 4; i++)
			if (strlen(roots[i]) == nl && !strncasecmp(name, roots[i], nl))
				return 1;
		return 0;
	}
	/* UTF-16 without BOM or with one: look for the ASCII root name with NULs between */
	if (n >= 2 && ((unsigned char)data[0] == 0xff || (unsigned char)data[0] == 0xfe || !data[0] ||
	               !data[1])) {
		char ascii[512];
		size_t k = 0;
		for (size_t i = 0; i < n && k + 1 < sizeof(ascii); i++)
			if (data[i] && (unsigned char)data[i] < 0x80)
				ascii[k++] = data[i];
		ascii[k] = '\0';
		return strstr(ascii, "<rss") || strstr(ascii, "<feed") || strstr(ascii, "RDF") ||
		       strstr(ascii, "<channel");
	}
	return 0;
}

/* ---- JSON Feed (https://www.jsonfeed.org/version/1.1/) ---- */

static void jf_str(json_t *dst, const char *key, json_t *src, const char *skey)
{
	json_t *v = json_object_get(src, skey);
	if (json_is_string(v) && json_string_length(v))
		json_object_set_new(dst, key, json_stringn(json_string_value(v), json_string_length(v)));
}

static void jf_url(struct feed_ctx *c, json_t *dst, const char *key, json_t *src, const char *skey)
{
	json_t *v = json_object_get(src, skey);
	if (!json_is_string(v) || !json_string_length(v))
		return;
	char *abs = c->base_url ? fm_url_resolve(c->base_url, json_string_value(v)) : NULL;
	json_object_set_new(dst, key, json_string(abs ? abs : json_string_value(v)));
	free(abs);
}

static void jf_text(json_t *dst, const char *key, json_t *src, const char *skey)
{
	json_t *v = json_object_get(src, skey);
	if (!json_is_string(v))
		return;
	char *t = fm_html_to_text(json_string_value(v), json_string_length(v));
	if (t && *t)
		json_object_set_new(dst, key, json_string(t));
	free(t);
}

static void jf_date(json_t *dst, const char *key, json_t *src, const char *skey)
{
	json_t *v = json_object_get(src, skey);
	if (!json_is_string(v))
		return;
	time_t t = fm_date_parse(json_string_value(v));
	if (t == -1) {
		json_object_set_new(dst, key, json_null());
		return;
	}
	char buf[21];
	fm_date_format(t, buf);
	json_object_set_new(dst, key, json_string(buf));
}

static void jf_authors(struct feed_ctx *c, json_t *dst, json_t *src)
{
	json_t *list = json_object_get(src, "authors");
	json_t *one = json_object_get(src, "author");
	json_t *out = json_array();
	size_t i;
	json_t *a;
	json_t *tmp = NULL;
	if (!json_is_array(list) && json_is_object(one)) {
		tmp = json_array();
		json_array_append(tmp, one);
		list = tmp;
	}
	if (json_is_array(list)) {
		json_array_foreach(list, i, a)
		{
			if (!json_is_object(a))
				continue;
			json_t *p = json_object();
			jf_text(p, "name", a, "name");
			jf_url(c, p, "uri", a, "url");
			if (json_object_size(p))
				json_array_append_new(out, p);
			else
				json_decref(p);
		}
	}
	json_decref(tmp);
	if (json_array_size(out))
		json_object_set_new(dst, "authors", out);
	else
		json_decref(out);
}

static void jf_html(struct feed_ctx *c, json_t *dst, const char *key, json_t *src,
                    const char *html_key, const char *text_key)
{
	json_t *h = json_object_get(src, html_key);
	if (json_is_string(h)) {
		char *s = fm_html_sanitize(json_string_value(h), json_string_length(h), c->base_url);
		if (s)
			json_object_set_new(dst, key, json_string(s));
		free(s);
		return;
	}
	json_t *t = text_key ? json_object_get(src, text_key) : NULL;
	if (json_is_string(t)) {
		struct fm_buf b = FM_BUF_INIT;
		fm_html_escape(&b, json_string_value(t), json_string_length(t), 0);
		json_object_set_new(dst, key, json_stringn(fm_buf_str(&b), b.len));
		fm_buf_free(&b);
	}
}

int fm_feed_parse_json(struct feed_ctx *c, const char *data, size_t len)
{
	json_error_t err;
	json_t *root = json_loadb(data, len, JSON_DECODE_INT_AS_REAL * 0, &err);
	json_object_set_new(c->result, "format", json_string("jsonfeed"));
	if (!root || !json_is_object(root)) {
		char msg[260];
		snprintf(msg, sizeof(msg), "line %d: %s", err.line, root ? "not a JSON object" : err.text);
		json_array_append_new(c->errors, json_string(msg));
		json_decref(root);
		return 0;
	}
	json_t *ver = json_object_get(root, "version");
	if (!json_is_string(ver) || !strstr(json_string_value(ver), "jsonfeed.org/version"))
		json_array_append_new(c->errors, json_string("line 1: no JSON Feed \"version\""));
	json_t *f = c->feed;
	jf_text(f, "title", root, "title");
	jf_url(c, f, "link", root, "home_page_url");
	jf_url(c, f, "self", root, "feed_url");
	jf_html(c, f, "subtitle", root, "description", NULL);
	jf_url(c, f, "icon", root, "favicon");
	jf_url(c, f, "image", root, "icon");
	jf_str(f, "language", root, "language");
	jf_authors(c, f, root);
	json_t *items = json_object_get(root, "items");
	size_t i;
	json_t *it;
	if (json_is_array(items)) {
		json_array_foreach(items, i, it)
		{
			if (!json_is_object(it))
				continue;
			if (json_array_size(c->items) >= c->max_items) {
				json_array_append_new(c->errors, json_string("item limit reached"));
				break;
			}
			json_t *o = json_object();
			json_t *id = json_object_get(it, "id");
			if (json_is_string(id))
				jf_str(o, "id", it, "id");
			else if (json_is_number(id)) {
				char b[64];
				snprintf(b, sizeof(b), "%.17g", json_number_value(id));
				json_object_set_new(o, "id", json_string(b));
			}
			jf_url(c, o, "link", it, "url");
			if (!json_object_get(o, "link"))
				jf_url(c, o, "link", it, "external_url");
			jf_text(o, "title", it, "title");
			jf_html(c, o, "summary", it, "summary", NULL);
			jf_html(c, o, "content", it, "content_html", "content_text");
			jf_date(o, "published", it, "date_published");
			jf_date(o, "updated", it, "date_modified");
			if (!json_object_get(o, "updated") && json_is_string(json_object_get(o, "published")))
				json_object_set(o, "updated", json_object_get(o, "published"));
			jf_authors(c, o, it);
			jf_url(c, o, "image", it, "image");
			json_t *tags = json_object_get(it, "tags");
			if (json_is_array(tags)) {
				json_t *cats = json_array();
				size_t k;
				json_t *t;
				json_array_foreach(tags, k, t)
				{
					if (json_is_string(t))
						json_array_append(cats, t);
				}
				json_object_set_new(o, "categories", cats);
			}
			json_t *att = json_object_get(it, "attachments");
			if (json_is_array(att)) {
				json_t *encl = json_array();
				size_t k;
				json_t *a;
				json_array_foreach(att, k, a)
				{
					if (!json_is_object(a))
						continue;
					json_t *e = json_object();
					jf_url(c, e, "url", a, "url");
					jf_str(e, "type", a, "mime_type");
					json_t *sz = json_object_get(a, "size_in_bytes");
					if (json_is_number(sz)) {
						char b[32];
						snprintf(b, sizeof(b), "%.0f", json_number_value(sz));
						json_object_set_new(e, "length", json_string(b));
					}
					json_array_append_new(encl, e);
				}
				json_object_set_new(o, "enclosures", encl);
			}
			json_array_append_new(c->items, o);
		}
	}
	json_decref(root);
	return 0;
}

json_t *fm_feed_parse(const char *data, size_t len, const struct fm_feed_opts *opts)
{
	struct feed_ctx c;
	memset(&c, 0, sizeof(c));
	c.result = json_object();
	c.errors = json_array();
	c.feed = json_object();
	c.items = json_array();
	if (!c.result || !c.errors || !c.feed || !c.items) {
		json_decref(c.result);
		json_decref(c.errors);
		json_decref(c.feed);
		json_decref(c.items);
		return NULL;
	}
	c.base_url = opts && opts->base_url && *opts->base_url ? opts->base_url : NULL;
	c.max_items = opts && opts->max_items ? opts->max_items : DEFAULT_MAX_ITEMS;
	c.max_depth = opts && opts->max_depth ? opts->max_depth : DEFAULT_MAX_DEPTH;
	c.entity_left = opts && opts->max_entity_expansion ? opts->max_entity_expansion
	                                                   : DEFAULT_MAX_ENTITY;
	json_object_set_new(c.result, "format", json_string("unknown"));
	json_object_set(c.result, "errors", c.errors);
	json_object_set(c.result, "feed", c.feed);
	json_object_set(c.result, "items", c.items);

	if (!data)
		len = 0;
	struct fm_enc_result enc;
	const char *p = data ? skip_ws_bom(data, data + len) : NULL;
	if (!len || !p || p == data + len) {
		json_array_append_new(c.errors, json_string("line 1: empty document"));
	} else if (*p == '{') {
		fm_feed_parse_json(&c, p, (size_t)(data + len - p));
	} else if (fm_feed_to_utf8(data, len, opts ? opts->http_charset : NULL, &enc) < 0) {
		json_array_append_new(c.errors, json_string("out of memory converting the encoding"));
	} else {
		if (enc.error[0])
			json_array_append_new(c.errors, json_string(enc.error));
		fm_feed_parse_xml(&c, enc.data, enc.len);
		free(enc.owned);
	}
	fm_buf_free(&c.tmp);
	json_decref(c.errors);
	json_decref(c.feed);
	json_decref(c.items);
	return c.result;
}
