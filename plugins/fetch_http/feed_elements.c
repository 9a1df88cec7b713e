/*
 * XML feeds (RSS 0.9x/1.0/2.0, Atom 0.3/1.0) into the `feedmill parse` JSON shape: the
 * channel/feed and item/entry elements read by namespace and local name, with field
 * precedence between the namespaces that say the same thing.
 */
#include "feed_content.h"
#include "feed_stream.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/tree.h>

#include "date.h"
#include "html_sanitize.h"
#include "url.h"

/* ---- people, categories, dates ---- */

/* "email (Name)", "Name <email>", "Name (email)", "email", "Name" */
static json_t *person_from_string(const char *s, size_t n)
{
	json_t *p = json_object();
	char *tmp = strndup(s, n);
	if (!p || !tmp) {
		free(tmp);
		return p;
	}
	char *name = tmp, *email = NULL;
	char *open = strchr(tmp, '(');
	char *close = open ? strrchr(open, ')') : NULL;
	char *lt = strchr(tmp, '<');
	char *gt = lt ? strchr(lt, '>') : NULL;
	if (open && close) {
		*open = '\0';
		*close = '\0';
		char *a = tmp, *b = open + 1;
		if (strchr(a, '@') && !strchr(b, '@')) {
			email = a;
			name = b;
		} else {
			name = a;
			email = strchr(b, '@') ? b : NULL;
			if (!email) {
				/* "Name (nickname)": keep it all as the name */
				*open = '(';
				*close = ')';
			}
		}
	} else if (lt && gt && memchr(lt, '@', (size_t)(gt - lt))) {
		*lt = '\0';
		*gt = '\0';
		email = lt + 1;
	} else if (strchr(tmp, '@') && !strchr(tmp, ' ')) {
		email = tmp;
		name = NULL;
	}
	char *fields[2] = {name, email};
	const char *keys[2] = {"name", "email"};
	for (int i = 0; i < 2; i++) {
		char *f = fields[i];
		if (!f)
			continue;
		while (isspace((unsigned char)*f))
			f++;
		size_t l = strlen(f);
		while (l && isspace((unsigned char)f[l - 1]))
			l--;
		if (i == 1 && l > 7 && !strncasecmp(f, "mailto:", 7)) {
			f += 7;
			l -= 7;
		}
		if (l)
			json_object_set_new_nocheck(p, keys[i], fm_feed_jstr(f, l));
	}
	free(tmp);
	return p;
}

static json_t *ensure_array(json_t *o, const char *key)
{
	json_t *a = json_object_get(o, key);
	if (!a) {
		a = json_array();
		json_object_set_new_nocheck(o, key, a);
	}
	return a;
}

static void add_person_string(struct feed_ctx *c, json_t *o, xmlNodePtr n)
{
	size_t len;
	const char *s = fm_feed_text(c, n, &len);
	if (!len)
		return;
	char *t = fm_html_to_text(s, len);
	if (!t)
		return;
	json_t *p = person_from_string(t, strlen(t));
	free(t);
	if (p && json_object_size(p))
		json_array_append_new(ensure_array(o, "authors"), p);
	else
		json_decref(p);
}

static void add_atom_person(struct feed_ctx *c, json_t *o, xmlNodePtr n)
{
	json_t *p = json_object();
	for (xmlNodePtr k = n->children; k; k = k->next) {
		if (k->type != XML_ELEMENT_NODE)
			continue;
		const char *l;
		enum ns ns = fm_feed_classify(k, &l);
		if (ns != NS_ATOM && ns != NS_RSS)
			continue;
		size_t len;
		if (!strcasecmp(l, "name")) {
			const char *s = fm_feed_text(c, k, &len);
			char *t = fm_html_to_text(s, len);
			if (t && *t)
				json_object_set_new_nocheck(p, "name", json_string_nocheck(t));
			free(t);
		} else if (!strcasecmp(l, "email")) {
			const char *s = fm_feed_text(c, k, &len);
			if (len)
				fm_feed_set_str(p, "email", s, len);
		} else if (!strcasecmp(l, "uri") || !strcasecmp(l, "url") ||
		           !strcasecmp(l, "homepage")) {
			const char *s = fm_feed_text(c, k, &len);
			if (len) {
				json_t *v = fm_feed_url(c, k, s, len);
				if (v)
					json_object_set_new_nocheck(p, "uri", v);
			}
		}
	}
	if (json_object_size(p))
		json_array_append_new(ensure_array(o, "authors"), p);
	else
		json_decref(p);
}

static void add_category(json_t *o, const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (!n)
		return;
	json_t *a = ensure_array(o, "categories");
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		if (json_string_length(v) == n && !memcmp(json_string_value(v), s, n))
			return;
	}
	json_array_append_new(a, fm_feed_jstr(s, n));
}

static void add_category_text(struct feed_ctx *c, json_t *o, xmlNodePtr n)
{
	size_t len;
	const char *s = fm_feed_text(c, n, &len);
	if (!len)
		return;
	char *t = fm_html_to_text(s, len);
	if (t)
		add_category(o, t, strlen(t));
	free(t);
}

static void add_itunes_category(json_t *o, xmlNodePtr n, int depth)
{
	xmlChar *t = xmlGetProp(n, BAD_CAST "text");
	if (t) {
		add_category(o, (const char *)t, strlen((const char *)t));
		xmlFree(t);
	}
	if (depth < 4)
		for (xmlNodePtr k = n->children; k; k = k->next)
			if (fm_feed_is(k, NS_ITUNES, "category"))
				add_itunes_category(o, k, depth + 1);
}

static void add_keywords(struct feed_ctx *c, json_t *o, xmlNodePtr n)
{
	size_t len;
	const char *s = fm_feed_text(c, n, &len);
	const char *p = s, *end = s + len;
	while (p < end) {
		const char *q = memchr(p, ',', (size_t)(end - p));
		if (!q)
			q = end;
		add_category(o, p, (size_t)(q - p));
		p = q + 1;
	}
}

/* o[key] = the whole number from 1 to max that n holds, unless o has key already; anything
 * else (a word, zero, a sign, a fraction) is left out. */
static void set_count(struct feed_ctx *c, json_t *o, const char *key, xmlNodePtr n, long max)
{
	size_t len;
	const char *s = fm_feed_text(c, n, &len);
	long v = 0;
	if (json_object_get(o, key) || len == 0 || len > 12)
		return;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return;
		v = v * 10 + (s[i] - '0');
	}
	if (v >= 1 && v <= max)
		json_object_set_new_nocheck(o, key, json_integer(v));
}

static void set_date(struct feed_ctx *c, json_t *o, const char *key, xmlNodePtr n, bool overwrite)
{
	if (!overwrite && json_object_get(o, key) && !json_is_null(json_object_get(o, key)))
		return;
	size_t len;
	const char *s = fm_feed_text(c, n, &len);
	time_t t = fm_date_parse(s);
	if (t == -1) {
		if (!json_object_get(o, key))
			json_object_set_new_nocheck(o, key, json_null());
		return;
	}
	char buf[21];
	fm_date_format(t, buf);
	json_object_set_new_nocheck(o, key, json_stringn_nocheck(buf, 20));
}

/* ---- links and enclosures ---- */

static bool html_type(const char *t)
{
	return !t || !*t || !strcasecmp(t, "text/html") || !strcasecmp(t, "application/xhtml+xml") ||
	       !strcasecmp(t, "html");
}

static void atom_link(struct feed_ctx *c, json_t *o, xmlNodePtr n, struct link_state *ls,
                      bool entry)
{
	xmlChar *href = xmlGetProp(n, BAD_CAST "href");
	if (!href) {
		/* <link>URL</link> in an Atom feed: early Atom 0.3 producers wrote it so */
		size_t len;
		const char *s = fm_feed_text(c, n, &len);
		if (!len)
			return;
		href = xmlStrndup(BAD_CAST s, (int)len);
		if (!href)
			return;
	}
	xmlChar *rel = xmlGetProp(n, BAD_CAST "rel");
	xmlChar *type = xmlGetProp(n, BAD_CAST "type");
	const char *r = rel ? (const char *)rel : "alternate";
	if (!strcasecmp(r, "alternate") || !strcasecmp(r, "http://www.iana.org/assignments/relation/alternate")) {
		int rank = html_type((const char *)type) ? 3 : 2;
		if (rank > ls->rank) {
			fm_feed_set_url(c, o, "link", n, (const char *)href, true);
			ls->rank = rank;
		}
	} else if (!strcasecmp(r, "enclosure") && entry) {
		json_t *e = json_object();
		json_t *u = fm_feed_url(c, n, (const char *)href, strlen((const char *)href));
		if (u)
			json_object_set_new_nocheck(e, "url", u);
		if (type)
			json_object_set_new_nocheck(e, "type", json_string((const char *)type));
		xmlChar *length = xmlGetProp(n, BAD_CAST "length");
		if (length) {
			json_object_set_new_nocheck(e, "length", json_string((const char *)length));
			xmlFree(length);
		}
		json_array_append_new(ensure_array(o, "enclosures"), e);
	} else if (!strcasecmp(r, "replies") && entry) {
		if (html_type((const char *)type))
			fm_feed_set_url(c, o, "comments", n, (const char *)href, false);
	} else if (!strcasecmp(r, "self") && !entry) {
		fm_feed_set_url(c, o, "self", n, (const char *)href, false);
	}
	xmlFree(href);
	xmlFree(rel);
	xmlFree(type);
}

static void rss_enclosure(struct feed_ctx *c, json_t *o, xmlNodePtr n, const char *urlattr,
                          const char *lenattr)
{
	xmlChar *url = xmlGetProp(n, BAD_CAST urlattr);
	if (!url)
		return;
	json_t *e = json_object();
	json_t *u = fm_feed_url(c, n, (const char *)url, strlen((const char *)url));
	if (u)
		json_object_set_new_nocheck(e, "url", u);
	xmlChar *type = xmlGetProp(n, BAD_CAST "type");
	if (type) {
		json_object_set_new_nocheck(e, "type", json_string((const char *)type));
		xmlFree(type);
	}
	xmlChar *length = xmlGetProp(n, BAD_CAST lenattr);
	if (length) {
		json_object_set_new_nocheck(e, "length", json_string((const char *)length));
		xmlFree(length);
	}
	json_array_append_new(ensure_array(o, "enclosures"), e);
	xmlFree(url);
}

/* ---- item / entry ---- */

/* Field precedence: a higher rank overwrites a lower one (RSS core > dc > itunes > media). */
static bool take(int *slot, int rank)
{
	if (rank >= *slot) { /* a later element of the same kind wins, as in most readers */
		*slot = rank;
		return true;
	}
	return false;
}

static void read_media(struct feed_ctx *c, json_t *o, xmlNodePtr n, struct ranks *rk,
                       bool *media_encl, json_t *media_list, int depth)
{
	const char *l;
	fm_feed_classify(n, &l);
	if (!strcasecmp(l, "title")) {
		if (take(&rk->title, 1))
			fm_feed_set_title(c, o, n, true);
	} else if (!strcasecmp(l, "description")) {
		if (take(&rk->summary, 1)) {
			xmlChar *t = xmlGetProp(n, BAD_CAST "type");
			bool html = t && !strcasecmp((const char *)t, "html");
			xmlFree(t);
			fm_feed_set_rendered(c, o, "summary", n, html ? CT_HTML : CT_TEXT, true, true);
		}
	} else if (!strcasecmp(l, "category")) {
		add_category_text(c, o, n);
	} else if (!strcasecmp(l, "keywords")) {
		add_keywords(c, o, n);
	} else if (!strcasecmp(l, "thumbnail")) {
		xmlChar *u = xmlGetProp(n, BAD_CAST "url");
		if (u && take(&rk->image, 1))
			fm_feed_set_url(c, o, "image", n, (const char *)u, true);
		xmlFree(u);
	} else if (!strcasecmp(l, "content")) {
		if (media_list) {
			xmlChar *u = xmlGetProp(n, BAD_CAST "url");
			if (u) {
				*media_encl = true;
				xmlFree(u);
			}
		}
		if (depth < 3)
			for (xmlNodePtr k = n->children; k; k = k->next)
				if (k->type == XML_ELEMENT_NODE && fm_feed_classify(k, &l) == NS_MEDIA)
					read_media(c, o, k, rk, media_encl, NULL, depth + 1);
	} else if (!strcasecmp(l, "group")) {
		if (depth < 3)
			for (xmlNodePtr k = n->children; k; k = k->next)
				if (k->type == XML_ELEMENT_NODE && fm_feed_classify(k, &l) == NS_MEDIA)
					read_media(c, o, k, rk, media_encl, media_list, depth + 1);
	}
}

/* media:content elements become enclosures only when the item has none of its own. */
static void media_enclosures(struct feed_ctx *c, json_t *o, xmlNodePtr item)
{
	for (xmlNodePtr k = item->children; k; k = k->next) {
		if (fm_feed_is(k, NS_MEDIA, "content"))
			rss_enclosure(c, o, k, "url", "fileSize");
		else if (fm_feed_is(k, NS_MEDIA, "group"))
			media_enclosures(c, o, k);
	}
}

/* n is in the document element's namespace (an unknown URI used for the whole feed). */
static bool same_ns(struct feed_ctx *c, xmlNodePtr n)
{
	return c->root_href && n->ns && n->ns->href &&
	       !strcmp((const char *)n->ns->href, c->root_href);
}

static bool atom_doc(struct feed_ctx *c)
{
	return c->format == FMT_ATOM10 || c->format == FMT_ATOM03;
}

/* What an item's reader keeps while it goes through the item's children. */
struct item_state {
	json_t *o;
	struct ranks rk;
	struct link_state ls;
	bool atom03;
	bool guid_permalink;
	xmlNodePtr guid;
	bool media_encl;
};

static void item_atom(struct feed_ctx *c, struct item_state *st, xmlNodePtr n, const char *l)
{
	json_t *o = st->o;
	size_t len;
	const char *s;
	if (!strcasecmp(l, "title")) {
		if (take(&st->rk.title, 5))
			fm_feed_set_rendered(c, o, "title", n, fm_feed_atom_ctype(n, st->atom03), false,
			                     true);
	} else if (!strcasecmp(l, "link")) {
		atom_link(c, o, n, &st->ls, true);
	} else if (!strcasecmp(l, "id")) {
		s = fm_feed_text(c, n, &len);
		if (len && take(&st->rk.id, 4))
			fm_feed_set_str(o, "id", s, len);
	} else if (!strcasecmp(l, "summary")) {
		if (take(&st->rk.summary, 4))
			fm_feed_set_rendered(c, o, "summary", n, fm_feed_atom_ctype(n, st->atom03), true,
			                     true);
	} else if (!strcasecmp(l, "content")) {
		xmlChar *src = xmlGetProp(n, BAD_CAST "src");
		if (src) {
			/* out-of-line content: a link, not a body */
			if (st->ls.rank < 1) {
				st->ls.rank = 1;
				fm_feed_set_url(c, o, "link", n, (const char *)src, true);
			}
			xmlFree(src);
		} else if (take(&st->rk.content, 4)) {
			fm_feed_set_rendered(c, o, "content", n, fm_feed_atom_ctype(n, st->atom03), true,
			                     true);
		}
	} else if (!strcasecmp(l, "published") || !strcasecmp(l, "issued")) {
		if (take(&st->rk.published, 4))
			set_date(c, o, "published", n, true);
	} else if (!strcasecmp(l, "updated") || !strcasecmp(l, "modified")) {
		if (take(&st->rk.updated, 4))
			set_date(c, o, "updated", n, true);
	} else if (!strcasecmp(l, "created")) {
		if (take(&st->rk.published, 1))
			set_date(c, o, "published", n, true);
	} else if (!strcasecmp(l, "author")) {
		add_atom_person(c, o, n);
	} else if (!strcasecmp(l, "category")) {
		xmlChar *t = xmlGetProp(n, BAD_CAST "term");
		if (t) {
			add_category(o, (const char *)t, strlen((const char *)t));
			xmlFree(t);
		} else {
			add_category_text(c, o, n);
		}
	}
}

static void item_rss_guid(struct feed_ctx *c, struct item_state *st, xmlNodePtr n)
{
	size_t len;
	const char *s = fm_feed_text(c, n, &len);
	if (len && take(&st->rk.id, 5)) {
		fm_feed_set_str(st->o, "id", s, len);
		xmlChar *pl = xmlGetProp(n, BAD_CAST "isPermaLink");
		st->guid_permalink = !pl || strcasecmp((const char *)pl, "false") != 0;
		xmlFree(pl);
		st->guid = n;
	}
}

static void item_rss(struct feed_ctx *c, struct item_state *st, xmlNodePtr n, const char *l)
{
	json_t *o = st->o;
	size_t len;
	const char *s;
	if (!strcasecmp(l, "title")) {
		if (take(&st->rk.title, 5))
			fm_feed_set_title(c, o, n, true);
	} else if (!strcasecmp(l, "link")) {
		s = fm_feed_text(c, n, &len);
		if (len && st->ls.rank < 4) {
			st->ls.rank = 4;
			fm_feed_set_url(c, o, "link", n, s, true);
		}
	} else if (!strcasecmp(l, "description")) {
		if (take(&st->rk.summary, 5))
			fm_feed_set_rendered(c, o, "summary", n, fm_feed_rss_ctype(n), true, true);
	} else if (!strcasecmp(l, "guid")) {
		item_rss_guid(c, st, n);
	} else if (!strcasecmp(l, "pubDate")) {
		if (take(&st->rk.published, 5))
			set_date(c, o, "published", n, true);
	} else if (!strcasecmp(l, "author")) {
		add_person_string(c, o, n);
	} else if (!strcasecmp(l, "category")) {
		add_category_text(c, o, n);
	} else if (!strcasecmp(l, "comments")) {
		s = fm_feed_text(c, n, &len);
		if (len)
			fm_feed_set_url(c, o, "comments", n, s, false);
	} else if (!strcasecmp(l, "enclosure")) {
		rss_enclosure(c, o, n, "url", "length");
	} else if (!strcasecmp(l, "tags") || !strcasecmp(l, "keywords")) {
		add_keywords(c, o, n);
	} else if (!strcasecmp(l, "body") || !strcasecmp(l, "fullitem")) {
		if (take(&st->rk.content, 3))
			fm_feed_set_rendered(c, o, "content", n, fm_feed_rss_ctype(n), true, true);
	} else if (!strcasecmp(l, "content") || !strcasecmp(l, "summary") || !strcasecmp(l, "id") ||
	           !strcasecmp(l, "updated") || !strcasecmp(l, "published")) {
		item_atom(c, st, n, l); /* Atom elements without a namespace */
	}
}

static void item_dc(struct feed_ctx *c, struct item_state *st, xmlNodePtr n, const char *l)
{
	json_t *o = st->o;
	if (!strcasecmp(l, "title")) {
		if (take(&st->rk.title, 3))
			fm_feed_set_title(c, o, n, true);
	} else if (!strcasecmp(l, "description") || !strcasecmp(l, "abstract")) {
		if (take(&st->rk.summary, 3))
			fm_feed_set_rendered(c, o, "summary", n, fm_feed_rss_ctype(n), true, true);
	} else if (!strcasecmp(l, "creator") || !strcasecmp(l, "author") ||
	           !strcasecmp(l, "contributor")) {
		if (strcasecmp(l, "contributor") || !json_object_get(o, "authors"))
			add_person_string(c, o, n);
	} else if (!strcasecmp(l, "subject")) {
		add_category_text(c, o, n);
	} else if (!strcasecmp(l, "date") || !strcasecmp(l, "modified")) {
		if (take(&st->rk.updated, 3))
			set_date(c, o, "updated", n, true);
	} else if (!strcasecmp(l, "issued") || !strcasecmp(l, "created") ||
	           !strcasecmp(l, "available")) {
		if (take(&st->rk.published, 3))
			set_date(c, o, "published", n, true);
	} else if (!strcasecmp(l, "identifier")) {
		size_t len;
		const char *s = fm_feed_text(c, n, &len);
		if (len && take(&st->rk.id, 2))
			fm_feed_set_str(o, "id", s, len);
	}
}

static void item_itunes(struct feed_ctx *c, struct item_state *st, xmlNodePtr n, const char *l)
{
	json_t *o = st->o;
	if (!strcasecmp(l, "summary")) {
		if (take(&st->rk.summary, 2))
			fm_feed_set_rendered(c, o, "summary", n, CT_TEXT, true, true);
	} else if (!strcasecmp(l, "subtitle")) {
		if (take(&st->rk.summary, 1))
			fm_feed_set_rendered(c, o, "summary", n, CT_TEXT, true, true);
	} else if (!strcasecmp(l, "author")) {
		if (!json_object_get(o, "authors"))
			add_person_string(c, o, n);
	} else if (!strcasecmp(l, "category")) {
		add_itunes_category(o, n, 0);
	} else if (!strcasecmp(l, "keywords")) {
		add_keywords(c, o, n);
	} else if (!strcasecmp(l, "image")) {
		xmlChar *h = xmlGetProp(n, BAD_CAST "href");
		if (h && take(&st->rk.image, 2))
			fm_feed_set_url(c, o, "image", n, (const char *)h, true);
		xmlFree(h);
	} else if (!strcasecmp(l, "title")) {
		if (take(&st->rk.title, 2))
			fm_feed_set_title(c, o, n, true);
	}
}

/* content:, xhtml:, media: and feedburner: children of an item. */
static void item_extension(struct feed_ctx *c, struct item_state *st, xmlNodePtr n,
                           enum ns ns, const char *l)
{
	json_t *o = st->o;
	if (ns == NS_CONTENT) {
		if (!strcasecmp(l, "encoded") && take(&st->rk.content, 5))
			fm_feed_set_rendered(c, o, "content", n, fm_feed_rss_ctype(n), true, true);
	} else if (ns == NS_XHTML) {
		if (!strcasecmp(l, "body") && take(&st->rk.content, 3))
			fm_feed_set_rendered(c, o, "content", n, CT_XHTML, true, true);
		else if (!strcasecmp(l, "div") && take(&st->rk.content, 2))
			fm_feed_set_rendered(c, o, "content", n, CT_XHTML, true, true);
	} else if (ns == NS_MEDIA) {
		read_media(c, o, n, &st->rk, &st->media_encl, o, 0);
	} else if (ns == NS_FEEDBURNER && !strcasecmp(l, "origLink") && st->ls.rank < 5) {
		size_t len;
		const char *s = fm_feed_text(c, n, &len);
		if (len) {
			st->ls.rank = 5;
			fm_feed_set_url(c, o, "link", n, s, true);
		}
	}
}

static void item_child(struct feed_ctx *c, struct item_state *st, xmlNodePtr n)
{
	const char *l;
	enum ns ns = fm_feed_classify(n, &l);
	if ((ns == NS_OTHER && same_ns(c, n)) || (ns == NS_RSS && atom_doc(c)))
		ns = atom_doc(c) ? NS_ATOM : NS_RSS;
	switch (ns) {
	case NS_RSS: item_rss(c, st, n, l); break;
	case NS_ATOM: item_atom(c, st, n, l); break;
	case NS_DC:
	case NS_DCTERMS: item_dc(c, st, n, l); break;
	case NS_ITUNES: item_itunes(c, st, n, l); break;
	default: item_extension(c, st, n, ns, l); break;
	}
}

json_t *fm_feed_read_item(struct feed_ctx *c, xmlNodePtr item)
{
	struct item_state st = {.o = json_object(), .atom03 = c->format == FMT_ATOM03};
	json_t *o = st.o;
	if (!o)
		return NULL;
	if (c->format == FMT_RSS10 || c->format == FMT_RSS090) {
		xmlChar *about = xmlGetNsProp(item, BAD_CAST "about",
		                              BAD_CAST "http://www.w3.org/1999/02/22-rdf-syntax-ns#");
		if (about) {
			st.rk.id = 1;
			json_object_set_new_nocheck(o, "id", json_string((const char *)about));
			xmlFree(about);
		}
	}
	for (xmlNodePtr n = item->children; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE)
			item_child(c, &st, n);
	if (st.guid && st.guid_permalink && st.ls.rank == 0) {
		size_t len;
		const char *s = fm_feed_text(c, st.guid, &len);
		if (len > 7 && (!strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8)))
			fm_feed_set_url(c, o, "link", st.guid, s, true);
	}
	if (st.media_encl && !json_object_get(o, "enclosures"))
		media_enclosures(c, o, item);
	json_t *pub = json_object_get(o, "published");
	if (!json_object_get(o, "updated") && json_is_string(pub))
		json_object_set_nocheck(o, "updated", pub);
	return o;
}

/* ---- channel / feed ---- */

static void read_image(struct feed_ctx *c, json_t *feed, xmlNodePtr n, int *rank)
{
	for (xmlNodePtr k = n->children; k; k = k->next) {
		if (k->type == XML_ELEMENT_NODE && !strcasecmp((const char *)k->name, "url")) {
			size_t len;
			const char *s = fm_feed_text(c, k, &len);
			if (len && take(rank, 3))
				fm_feed_set_url(c, feed, "image", k, s, true);
		}
	}
	xmlChar *res = xmlGetNsProp(n, BAD_CAST "resource",
	                            BAD_CAST "http://www.w3.org/1999/02/22-rdf-syntax-ns#");
	if (res && take(rank, 1))
		fm_feed_set_url(c, feed, "image", n, (const char *)res, true);
	xmlFree(res);
}

static void channel_rss(struct feed_ctx *c, struct channel_state *st, xmlNodePtr n,
                        const char *l)
{
	json_t *feed = c->feed;
	size_t len;
	const char *s;
	if (!strcasecmp(l, "title")) {
		if (take(&st->rk.title, 5))
			fm_feed_set_title(c, feed, n, true);
	} else if (!strcasecmp(l, "link")) {
		s = fm_feed_text(c, n, &len);
		if (len && st->ls.rank < 4) {
			st->ls.rank = 4;
			fm_feed_set_url(c, feed, "link", n, s, true);
		}
	} else if (!strcasecmp(l, "description")) {
		if (take(&st->rk.summary, 5))
			fm_feed_set_rendered(c, feed, "subtitle", n, fm_feed_rss_ctype(n), true, true);
	} else if (!strcasecmp(l, "language")) {
		s = fm_feed_text(c, n, &len);
		if (len && take(&st->lang, 5))
			fm_feed_set_str(feed, "language", s, len);
	} else if (!strcasecmp(l, "copyright")) {
		if (take(&st->rights, 5))
			fm_feed_set_rendered(c, feed, "rights", n, fm_feed_rss_ctype(n), true, true);
	} else if (!strcasecmp(l, "generator")) {
		s = fm_feed_text(c, n, &len);
		if (len && take(&st->gen, 5))
			fm_feed_set_str(feed, "generator", s, len);
	} else if (!strcasecmp(l, "managingEditor") || !strcasecmp(l, "author")) {
		add_person_string(c, feed, n);
	} else if (!strcasecmp(l, "category")) {
		add_category_text(c, feed, n);
	} else if (!strcasecmp(l, "pubDate")) {
		if (take(&st->rk.published, 5))
			set_date(c, feed, "published", n, true);
	} else if (!strcasecmp(l, "lastBuildDate")) {
		if (take(&st->rk.updated, 5))
			set_date(c, feed, "updated", n, true);
	} else if (!strcasecmp(l, "image")) {
		read_image(c, feed, n, &st->rk.image);
	} else if (!strcasecmp(l, "ttl")) {
		set_count(c, feed, "ttl", n, 10000000); /* minutes; ~19 years is already absurd */
	}
	/* webMaster is a publisher, not an author: not read */
}

/* The RSS 1.0 syndication module (also common in RSS 2.0): the channel is updated
 * updateFrequency times per updatePeriod, counting from updateBase. The scheduler reads these
 * as the earliest useful time to poll again; the first of each element counts. */
static void channel_sy(struct feed_ctx *c, xmlNodePtr n, const char *l)
{
	static const char *const periods[] = {"hourly", "daily", "weekly", "monthly", "yearly",
	                                      NULL};
	json_t *feed = c->feed;
	if (!strcasecmp(l, "updatePeriod") && !json_object_get(feed, "update_period")) {
		size_t len;
		const char *s = fm_feed_text(c, n, &len);
		for (size_t i = 0; periods[i]; i++)
			if (len == strlen(periods[i]) && !strncasecmp(s, periods[i], len))
				json_object_set_new_nocheck(feed, "update_period", json_string(periods[i]));
	} else if (!strcasecmp(l, "updateFrequency")) {
		set_count(c, feed, "update_frequency", n, 1000000);
	} else if (!strcasecmp(l, "updateBase") && !json_object_get(feed, "update_base")) {
		set_date(c, feed, "update_base", n, false);
	}
}

/* Atom's channel-level text, URL and date fields. */
static bool channel_atom_simple(struct feed_ctx *c, struct channel_state *st, xmlNodePtr n,
                                const char *l)
{
	json_t *feed = c->feed;
	size_t len;
	const char *s;
	if (!strcasecmp(l, "id")) {
		s = fm_feed_text(c, n, &len);
		if (len && take(&st->rk.id, 4))
			fm_feed_set_str(feed, "id", s, len);
	} else if (!strcasecmp(l, "generator")) {
		s = fm_feed_text(c, n, &len);
		if (len && take(&st->gen, 4))
			fm_feed_set_str(feed, "generator", s, len);
	} else if (!strcasecmp(l, "icon")) {
		s = fm_feed_text(c, n, &len);
		if (len)
			fm_feed_set_url(c, feed, "icon", n, s, true);
	} else if (!strcasecmp(l, "logo")) {
		s = fm_feed_text(c, n, &len);
		if (len && take(&st->rk.image, 4))
			fm_feed_set_url(c, feed, "image", n, s, true);
	} else if (!strcasecmp(l, "updated") || !strcasecmp(l, "modified")) {
		if (take(&st->rk.updated, 4))
			set_date(c, feed, "updated", n, true);
	} else if (!strcasecmp(l, "published") || !strcasecmp(l, "issued")) {
		if (take(&st->rk.published, 4))
			set_date(c, feed, "published", n, true);
	} else {
		return false;
	}
	return true;
}

static void channel_atom(struct feed_ctx *c, struct channel_state *st, xmlNodePtr n,
                         const char *l)
{
	json_t *feed = c->feed;
	bool atom03 = c->format == FMT_ATOM03;
	if (channel_atom_simple(c, st, n, l))
		return;
	if (!strcasecmp(l, "title")) {
		if (take(&st->rk.title, 5))
			fm_feed_set_rendered(c, feed, "title", n, fm_feed_atom_ctype(n, atom03), false,
			                     true);
	} else if (!strcasecmp(l, "subtitle") || !strcasecmp(l, "tagline")) {
		if (take(&st->rk.summary, 4))
			fm_feed_set_rendered(c, feed, "subtitle", n, fm_feed_atom_ctype(n, atom03), true,
			                     true);
	} else if (!strcasecmp(l, "link")) {
		atom_link(c, feed, n, &st->ls, false);
	} else if (!strcasecmp(l, "rights") || !strcasecmp(l, "copyright")) {
		if (take(&st->rights, 4))
			fm_feed_set_rendered(c, feed, "rights", n, fm_feed_atom_ctype(n, atom03), true,
			                     true);
	} else if (!strcasecmp(l, "author")) {
		add_atom_person(c, feed, n);
	} else if (!strcasecmp(l, "category")) {
		xmlChar *t = xmlGetProp(n, BAD_CAST "term");
		if (t) {
			add_category(feed, (const char *)t, strlen((const char *)t));
			xmlFree(t);
		}
	}
}

static void channel_dc(struct feed_ctx *c, struct channel_state *st, xmlNodePtr n,
                       const char *l)
{
	json_t *feed = c->feed;
	if (!strcasecmp(l, "title")) {
		if (take(&st->rk.title, 3))
			fm_feed_set_title(c, feed, n, true);
	} else if (!strcasecmp(l, "description")) {
		if (take(&st->rk.summary, 3))
			fm_feed_set_rendered(c, feed, "subtitle", n, fm_feed_rss_ctype(n), true, true);
	} else if (!strcasecmp(l, "creator") || !strcasecmp(l, "author")) {
		add_person_string(c, feed, n);
	} else if (!strcasecmp(l, "subject")) {
		add_category_text(c, feed, n);
	} else if (!strcasecmp(l, "date") || !strcasecmp(l, "modified")) {
		if (take(&st->rk.updated, 3))
			set_date(c, feed, "updated", n, true);
	} else if (!strcasecmp(l, "issued") || !strcasecmp(l, "created")) {
		if (take(&st->rk.published, 3))
			set_date(c, feed, "published", n, true);
	} else if (!strcasecmp(l, "language")) {
		size_t len;
		const char *s = fm_feed_text(c, n, &len);
		if (len && take(&st->lang, 3))
			fm_feed_set_str(feed, "language", s, len);
	} else if (!strcasecmp(l, "rights")) {
		if (take(&st->rights, 3))
			fm_feed_set_rendered(c, feed, "rights", n, fm_feed_rss_ctype(n), true, true);
	}
}

static void channel_itunes(struct feed_ctx *c, struct channel_state *st, xmlNodePtr n,
                           const char *l)
{
	json_t *feed = c->feed;
	if (!strcasecmp(l, "summary")) {
		if (take(&st->rk.summary, 2))
			fm_feed_set_rendered(c, feed, "subtitle", n, CT_TEXT, true, true);
	} else if (!strcasecmp(l, "subtitle")) {
		if (take(&st->rk.summary, 1))
			fm_feed_set_rendered(c, feed, "subtitle", n, CT_TEXT, true, true);
	} else if (!strcasecmp(l, "author")) {
		if (!json_object_get(feed, "authors"))
			add_person_string(c, feed, n);
	} else if (!strcasecmp(l, "category")) {
		add_itunes_category(feed, n, 0);
	} else if (!strcasecmp(l, "keywords")) {
		add_keywords(c, feed, n);
	} else if (!strcasecmp(l, "image")) {
		xmlChar *h = xmlGetProp(n, BAD_CAST "href");
		if (h && *h && take(&st->rk.image, 2))
			fm_feed_set_url(c, feed, "image", n, (const char *)h, true);
		xmlFree(h);
	}
}

/* The namespace a channel child is read as: namespace-less Atom, or Atom or RSS under an
 * unknown URI used for the whole document, count as Atom or RSS. */
static enum ns channel_ns(struct feed_ctx *c, enum ns ns, bool in_root_ns)
{
	if ((ns == NS_RSS || (ns == NS_OTHER && in_root_ns)) && atom_doc(c))
		return NS_ATOM;
	if (ns == NS_OTHER && in_root_ns)
		return NS_RSS;
	return ns;
}

bool fm_feed_channel_reads(struct feed_ctx *c, enum ns cls, const char *href)
{
	bool in_root_ns = href && c->root_href && !strcmp(href, c->root_href);
	switch (channel_ns(c, cls, in_root_ns)) { /* as fm_feed_read_channel_field below */
	case NS_RSS:
	case NS_ATOM:
	case NS_DC:
	case NS_DCTERMS:
	case NS_ITUNES:
	case NS_SY: return true;
	default: return false;
	}
}

void fm_feed_read_channel_field(struct feed_ctx *c, xmlNodePtr n)
{
	const char *l;
	enum ns ns = channel_ns(c, fm_feed_classify(n, &l), same_ns(c, n));
	switch (ns) {
	case NS_RSS: channel_rss(c, &c->chan, n, l); break;
	case NS_ATOM: channel_atom(c, &c->chan, n, l); break;
	case NS_DC:
	case NS_DCTERMS: channel_dc(c, &c->chan, n, l); break;
	case NS_ITUNES: channel_itunes(c, &c->chan, n, l); break;
	case NS_SY: channel_sy(c, n, l); break;
	default: break;
	}
}

void fm_feed_channel_done(struct feed_ctx *c)
{
	if (!json_object_get(c->feed, "language") && c->channel_lang && *c->channel_lang)
		json_object_set_new_nocheck(c->feed, "language", json_string(c->channel_lang));
}

/* ---- formats ---- */

const char *fm_feed_format_name(int f)
{
	switch (f) {
	case FMT_RSS20: return "rss2.0";
	case FMT_RSS10: return "rss1.0";
	case FMT_RSS090:
	case FMT_RSS09X: return "rss0.9x";
	case FMT_ATOM10: return "atom1.0";
	case FMT_ATOM03: return "atom0.3";
	default: return "unknown";
	}
}

int fm_feed_format(const char *local, const char *href, const char *version,
                   bool declares_rss090)
{
	if (!strcasecmp(local, "rss") || !strcasecmp(local, "channel"))
		return version && !strncmp(version, "0.9", 3) ? FMT_RSS09X : FMT_RSS20;
	if (!strcasecmp(local, "RDF"))
		return declares_rss090 ? FMT_RSS090 : FMT_RSS10;
	if (!strcasecmp(local, "feed")) {
		if (href && !strcasecmp(href, "http://purl.org/atom/ns#"))
			return FMT_ATOM03;
		if (href && !strcasecmp(href, "http://www.w3.org/2005/Atom"))
			return FMT_ATOM10;
		return version ? FMT_ATOM03 : FMT_ATOM10;
	}
	return FMT_UNKNOWN;
}

bool fm_feed_is_item(struct feed_ctx *c, enum ns cls, const char *local, const char *href)
{
	if (atom_doc(c))
		return (cls == NS_ATOM || cls == NS_RSS ||
		        (href && c->root_href && !strcmp(href, c->root_href))) &&
		       !strcasecmp(local, "entry");
	return cls == NS_RSS && !strcasecmp(local, "item");
}
