/*
 * XML feeds (RSS 0.9x/1.0/2.0, Atom 0.3/1.0) into the `feedmill parse` JSON shape: the
 * channel/feed and item/entry elements read by namespace and local name, with field
 * precedence between the namespaces that say the same thing.
 */
#include "feed_content.h"
#include "feed_repair.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
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

struct ranks {
	int title, summary, content, id, published, updated, image;
};

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

static bool same_ns(xmlNodePtr n, xmlNodePtr root)
{
	return root && n->ns && root->ns && n->ns->href && root->ns->href &&
	       !strcmp((const char *)n->ns->href, (const char *)root->ns->href);
}

static json_t *read_item(struct feed_ctx *c, xmlNodePtr item)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	struct ranks rk = {0};
	struct link_state ls = {0};
	bool atom03 = c->format == FMT_ATOM03;
	bool guid_permalink = false;
	xmlNodePtr guid = NULL;
	bool media_encl = false;

	if (c->format == FMT_RSS10 || c->format == FMT_RSS090) {
		xmlChar *about = xmlGetNsProp(item, BAD_CAST "about",
		                              BAD_CAST "http://www.w3.org/1999/02/22-rdf-syntax-ns#");
		if (about) {
			rk.id = 1;
			json_object_set_new_nocheck(o, "id", json_string((const char *)about));
			xmlFree(about);
		}
	}
	for (xmlNodePtr n = item->children; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		const char *l;
		enum ns ns = fm_feed_classify(n, &l);
		size_t len;
		const char *s;
		bool atom_doc = c->format == FMT_ATOM10 || c->format == FMT_ATOM03;
		if ((ns == NS_OTHER && same_ns(n, c->root)) || (ns == NS_RSS && atom_doc))
			ns = atom_doc ? NS_ATOM : NS_RSS;
		switch (ns) {
		case NS_RSS:
			if (!strcasecmp(l, "title")) {
				if (take(&rk.title, 5))
					fm_feed_set_title(c, o, n, true);
			} else if (!strcasecmp(l, "link")) {
				s = fm_feed_text(c, n, &len);
				if (len && ls.rank < 4) {
					ls.rank = 4;
					fm_feed_set_url(c, o, "link", n, s, true);
				}
			} else if (!strcasecmp(l, "description")) {
				if (take(&rk.summary, 5))
					fm_feed_set_rendered(c, o, "summary", n, fm_feed_rss_ctype(n), true, true);
			} else if (!strcasecmp(l, "guid")) {
				s = fm_feed_text(c, n, &len);
				if (len && take(&rk.id, 5)) {
					fm_feed_set_str(o, "id", s, len);
					xmlChar *pl = xmlGetProp(n, BAD_CAST "isPermaLink");
					guid_permalink = !pl || strcasecmp((const char *)pl, "false") != 0;
					xmlFree(pl);
					guid = n;
				}
			} else if (!strcasecmp(l, "pubDate")) {
				if (take(&rk.published, 5))
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
				if (take(&rk.content, 3))
					fm_feed_set_rendered(c, o, "content", n, fm_feed_rss_ctype(n), true, true);
			} else if (!strcasecmp(l, "content") || !strcasecmp(l, "summary") ||
			           !strcasecmp(l, "id") || !strcasecmp(l, "updated") ||
			           !strcasecmp(l, "published")) {
				goto atomish; /* Atom elements without a namespace */
			}
			break;
		case NS_ATOM:
		atomish:
			if (!strcasecmp(l, "title")) {
				if (take(&rk.title, 5))
					fm_feed_set_rendered(c, o, "title", n, fm_feed_atom_ctype(n, atom03), false, true);
			} else if (!strcasecmp(l, "link")) {
				atom_link(c, o, n, &ls, true);
			} else if (!strcasecmp(l, "id")) {
				s = fm_feed_text(c, n, &len);
				if (len && take(&rk.id, 4))
					fm_feed_set_str(o, "id", s, len);
			} else if (!strcasecmp(l, "summary")) {
				if (take(&rk.summary, 4))
					fm_feed_set_rendered(c, o, "summary", n, fm_feed_atom_ctype(n, atom03), true, true);
			} else if (!strcasecmp(l, "content")) {
				xmlChar *src = xmlGetProp(n, BAD_CAST "src");
				if (src) {
					/* out-of-line content: a link, not a body */
					if (ls.rank < 1) {
						ls.rank = 1;
						fm_feed_set_url(c, o, "link", n, (const char *)src, true);
					}
					xmlFree(src);
				} else if (take(&rk.content, 4)) {
					fm_feed_set_rendered(c, o, "content", n, fm_feed_atom_ctype(n, atom03), true, true);
				}
			} else if (!strcasecmp(l, "published") || !strcasecmp(l, "issued")) {
				if (take(&rk.published, 4))
					set_date(c, o, "published", n, true);
			} else if (!strcasecmp(l, "updated") || !strcasecmp(l, "modified")) {
				if (take(&rk.updated, 4))
					set_date(c, o, "updated", n, true);
			} else if (!strcasecmp(l, "created")) {
				if (take(&rk.published, 1))
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
			break;
		case NS_CONTENT:
			if (!strcasecmp(l, "encoded") && take(&rk.content, 5))
				fm_feed_set_rendered(c, o, "content", n, fm_feed_rss_ctype(n), true, true);
			break;
		case NS_XHTML:
			if (!strcasecmp(l, "body") && take(&rk.content, 3))
				fm_feed_set_rendered(c, o, "content", n, CT_XHTML, true, true);
			else if (!strcasecmp(l, "div") && take(&rk.content, 2))
				fm_feed_set_rendered(c, o, "content", n, CT_XHTML, true, true);
			break;
		case NS_DC:
		case NS_DCTERMS:
			if (!strcasecmp(l, "title")) {
				if (take(&rk.title, 3))
					fm_feed_set_title(c, o, n, true);
			} else if (!strcasecmp(l, "description") || !strcasecmp(l, "abstract")) {
				if (take(&rk.summary, 3))
					fm_feed_set_rendered(c, o, "summary", n, fm_feed_rss_ctype(n), true, true);
			} else if (!strcasecmp(l, "creator") || !strcasecmp(l, "author") ||
			           !strcasecmp(l, "contributor")) {
				if (strcasecmp(l, "contributor") || !json_object_get(o, "authors"))
					add_person_string(c, o, n);
			} else if (!strcasecmp(l, "subject")) {
				add_category_text(c, o, n);
			} else if (!strcasecmp(l, "date") || !strcasecmp(l, "modified")) {
				if (take(&rk.updated, 3))
					set_date(c, o, "updated", n, true);
			} else if (!strcasecmp(l, "issued") || !strcasecmp(l, "created") ||
			           !strcasecmp(l, "available")) {
				if (take(&rk.published, 3))
					set_date(c, o, "published", n, true);
			} else if (!strcasecmp(l, "identifier")) {
				s = fm_feed_text(c, n, &len);
				if (len && take(&rk.id, 2))
					fm_feed_set_str(o, "id", s, len);
			}
			break;
		case NS_ITUNES:
			if (!strcasecmp(l, "summary")) {
				if (take(&rk.summary, 2))
					fm_feed_set_rendered(c, o, "summary", n, CT_TEXT, true, true);
			} else if (!strcasecmp(l, "subtitle")) {
				if (take(&rk.summary, 1))
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
				if (h && take(&rk.image, 2))
					fm_feed_set_url(c, o, "image", n, (const char *)h, true);
				xmlFree(h);
			} else if (!strcasecmp(l, "title")) {
				if (take(&rk.title, 2))
					fm_feed_set_title(c, o, n, true);
			}
			break;
		case NS_MEDIA:
			read_media(c, o, n, &rk, &media_encl, o, 0);
			break;
		case NS_WFW:
			break;
		case NS_FEEDBURNER:
			if (!strcasecmp(l, "origLink") && ls.rank < 5) {
				s = fm_feed_text(c, n, &len);
				if (len) {
					ls.rank = 5;
					fm_feed_set_url(c, o, "link", n, s, true);
				}
			}
			break;
		default:
			break;
		}
	}
	if (guid && guid_permalink && ls.rank == 0) {
		size_t len;
		const char *s = fm_feed_text(c, guid, &len);
		if (len > 7 && (!strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8)))
			fm_feed_set_url(c, o, "link", guid, s, true);
	}
	if (media_encl && !json_object_get(o, "enclosures"))
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

static void read_channel(struct feed_ctx *c, json_t *feed, xmlNodePtr ch)
{
	struct ranks rk = {0};
	struct link_state ls = {0};
	bool atom03 = c->format == FMT_ATOM03;
	int rights = 0, lang = 0, gen = 0;
	for (xmlNodePtr n = ch->children; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		const char *l;
		enum ns ns = fm_feed_classify(n, &l);
		size_t len;
		const char *s;
		if ((ns == NS_RSS || (ns == NS_OTHER && same_ns(n, c->root))) &&
		    (c->format == FMT_ATOM10 || c->format == FMT_ATOM03))
			ns = NS_ATOM; /* namespace-less Atom, or Atom under an unknown URI */
		else if (ns == NS_OTHER && same_ns(n, c->root))
			ns = NS_RSS;
		switch (ns) {
		case NS_RSS:
			if (!strcasecmp(l, "title")) {
				if (take(&rk.title, 5))
					fm_feed_set_title(c, feed, n, true);
			} else if (!strcasecmp(l, "link")) {
				s = fm_feed_text(c, n, &len);
				if (len && ls.rank < 4) {
					ls.rank = 4;
					fm_feed_set_url(c, feed, "link", n, s, true);
				}
			} else if (!strcasecmp(l, "description")) {
				if (take(&rk.summary, 5))
					fm_feed_set_rendered(c, feed, "subtitle", n, fm_feed_rss_ctype(n), true, true);
			} else if (!strcasecmp(l, "language")) {
				s = fm_feed_text(c, n, &len);
				if (len && take(&lang, 5))
					fm_feed_set_str(feed, "language", s, len);
			} else if (!strcasecmp(l, "copyright")) {
				if (take(&rights, 5))
					fm_feed_set_rendered(c, feed, "rights", n, fm_feed_rss_ctype(n), true, true);
			} else if (!strcasecmp(l, "generator")) {
				s = fm_feed_text(c, n, &len);
				if (len && take(&gen, 5))
					fm_feed_set_str(feed, "generator", s, len);
			} else if (!strcasecmp(l, "managingEditor") || !strcasecmp(l, "author")) {
				add_person_string(c, feed, n);
			} else if (!strcasecmp(l, "webMaster")) {
				/* a publisher, not an author: only when nothing better exists */
			} else if (!strcasecmp(l, "category")) {
				add_category_text(c, feed, n);
			} else if (!strcasecmp(l, "pubDate")) {
				if (take(&rk.published, 5))
					set_date(c, feed, "published", n, true);
			} else if (!strcasecmp(l, "lastBuildDate")) {
				if (take(&rk.updated, 5))
					set_date(c, feed, "updated", n, true);
			} else if (!strcasecmp(l, "image")) {
				read_image(c, feed, n, &rk.image);
			}
			break;
		case NS_ATOM:
			if (!strcasecmp(l, "title")) {
				if (take(&rk.title, 5))
					fm_feed_set_rendered(c, feed, "title", n, fm_feed_atom_ctype(n, atom03), false, true);
			} else if (!strcasecmp(l, "subtitle") || !strcasecmp(l, "tagline")) {
				if (take(&rk.summary, 4))
					fm_feed_set_rendered(c, feed, "subtitle", n, fm_feed_atom_ctype(n, atom03), true, true);
			} else if (!strcasecmp(l, "link")) {
				atom_link(c, feed, n, &ls, false);
			} else if (!strcasecmp(l, "id")) {
				s = fm_feed_text(c, n, &len);
				if (len && take(&rk.id, 4))
					fm_feed_set_str(feed, "id", s, len);
			} else if (!strcasecmp(l, "rights") || !strcasecmp(l, "copyright")) {
				if (take(&rights, 4))
					fm_feed_set_rendered(c, feed, "rights", n, fm_feed_atom_ctype(n, atom03), true, true);
			} else if (!strcasecmp(l, "generator")) {
				s = fm_feed_text(c, n, &len);
				if (len && take(&gen, 4))
					fm_feed_set_str(feed, "generator", s, len);
			} else if (!strcasecmp(l, "icon")) {
				s = fm_feed_text(c, n, &len);
				if (len)
					fm_feed_set_url(c, feed, "icon", n, s, true);
			} else if (!strcasecmp(l, "logo")) {
				s = fm_feed_text(c, n, &len);
				if (len && take(&rk.image, 4))
					fm_feed_set_url(c, feed, "image", n, s, true);
			} else if (!strcasecmp(l, "updated") || !strcasecmp(l, "modified")) {
				if (take(&rk.updated, 4))
					set_date(c, feed, "updated", n, true);
			} else if (!strcasecmp(l, "published") || !strcasecmp(l, "issued")) {
				if (take(&rk.published, 4))
					set_date(c, feed, "published", n, true);
			} else if (!strcasecmp(l, "author")) {
				add_atom_person(c, feed, n);
			} else if (!strcasecmp(l, "category")) {
				xmlChar *t = xmlGetProp(n, BAD_CAST "term");
				if (t) {
					add_category(feed, (const char *)t, strlen((const char *)t));
					xmlFree(t);
				}
			}
			break;
		case NS_DC:
		case NS_DCTERMS:
			if (!strcasecmp(l, "title")) {
				if (take(&rk.title, 3))
					fm_feed_set_title(c, feed, n, true);
			} else if (!strcasecmp(l, "description")) {
				if (take(&rk.summary, 3))
					fm_feed_set_rendered(c, feed, "subtitle", n, fm_feed_rss_ctype(n), true, true);
			} else if (!strcasecmp(l, "creator") || !strcasecmp(l, "author")) {
				add_person_string(c, feed, n);
			} else if (!strcasecmp(l, "subject")) {
				add_category_text(c, feed, n);
			} else if (!strcasecmp(l, "date") || !strcasecmp(l, "modified")) {
				if (take(&rk.updated, 3))
					set_date(c, feed, "updated", n, true);
			} else if (!strcasecmp(l, "issued") || !strcasecmp(l, "created")) {
				if (take(&rk.published, 3))
					set_date(c, feed, "published", n, true);
			} else if (!strcasecmp(l, "language")) {
				s = fm_feed_text(c, n, &len);
				if (len && take(&lang, 3))
					fm_feed_set_str(feed, "language", s, len);
			} else if (!strcasecmp(l, "rights")) {
				if (take(&rights, 3))
					fm_feed_set_rendered(c, feed, "rights", n, fm_feed_rss_ctype(n), true, true);
			}
			break;
		case NS_ITUNES:
			if (!strcasecmp(l, "summary")) {
				if (take(&rk.summary, 2))
					fm_feed_set_rendered(c, feed, "subtitle", n, CT_TEXT, true, true);
			} else if (!strcasecmp(l, "subtitle")) {
				if (take(&rk.summary, 1))
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
				if (h && *h && take(&rk.image, 2))
					fm_feed_set_url(c, feed, "image", n, (const char *)h, true);
				xmlFree(h);
			}
			break;
		default:
			break;
		}
	}
	if (!json_object_get(feed, "language")) {
		for (xmlNodePtr p = ch; p && p->type == XML_ELEMENT_NODE; p = p->parent) {
			xmlChar *xl = xmlGetNsProp(p, BAD_CAST "lang", XML_XML_NAMESPACE);
			if (xl) {
				if (*xl)
					json_object_set_new_nocheck(feed, "language", json_string((const char *)xl));
				xmlFree(xl);
				break;
			}
		}
	}
}

/* ---- driver ---- */

static const char *format_name(int f)
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

static int detect_format(xmlNodePtr root, xmlNodePtr *channel)
{
	const char *l;
	fm_feed_classify(root, &l);
	const char *href = root->ns && root->ns->href ? (const char *)root->ns->href : "";
	*channel = NULL;
	if (!strcasecmp(l, "rss") || !strcasecmp(l, "channel")) {
		if (!strcasecmp(l, "channel"))
			*channel = root;
		else
			for (xmlNodePtr k = root->children; k; k = k->next)
				if (k->type == XML_ELEMENT_NODE && !strcasecmp((const char *)k->name, "channel")) {
					*channel = k;
					break;
				}
		xmlChar *v = xmlGetProp(root, BAD_CAST "version");
		int f = FMT_RSS20;
		if (v && !strncmp((const char *)v, "0.9", 3))
			f = FMT_RSS09X;
		xmlFree(v);
		return f;
	}
	if (!strcasecmp(l, "RDF")) {
		int f = FMT_RSS10;
		for (xmlNsPtr d = root->nsDef; d; d = d->next)
			if (d->href && !strcmp((const char *)d->href, "http://my.netscape.com/rdf/simple/0.9/"))
				f = FMT_RSS090;
		for (xmlNodePtr k = root->children; k; k = k->next) {
			if (k->type != XML_ELEMENT_NODE)
				continue;
			if (k->ns && !strcmp((const char *)k->ns->href, "http://my.netscape.com/rdf/simple/0.9/"))
				f = FMT_RSS090;
			if (!strcasecmp((const char *)k->name, "channel") && !*channel)
				*channel = k;
		}
		return f;
	}
	if (!strcasecmp(l, "feed")) {
		*channel = root;
		if (!strcasecmp(href, "http://purl.org/atom/ns#"))
			return FMT_ATOM03;
		if (!strcasecmp(href, "http://www.w3.org/2005/Atom"))
			return FMT_ATOM10;
		xmlChar *v = xmlGetProp(root, BAD_CAST "version");
		int f = v ? FMT_ATOM03 : FMT_ATOM10;
		xmlFree(v);
		return f;
	}
	return FMT_UNKNOWN;
}

static bool is_item(struct feed_ctx *c, xmlNodePtr n)
{
	if (n->type != XML_ELEMENT_NODE)
		return false;
	const char *l;
	enum ns ns = fm_feed_classify(n, &l);
	if (c->format == FMT_ATOM10 || c->format == FMT_ATOM03)
		return (ns == NS_ATOM || ns == NS_RSS || same_ns(n, c->root)) && !strcasecmp(l, "entry");
	return ns == NS_RSS && !strcasecmp(l, "item");
}

static void read_items(struct feed_ctx *c, xmlNodePtr parent, json_t *items)
{
	for (xmlNodePtr n = parent->children; n; n = n->next) {
		if (!is_item(c, n))
			continue;
		if (json_array_size(items) >= c->max_items) {
			if (!c->items_limit_hit) {
				c->items_limit_hit = true;
				fm_feed_error(c, "line %ld: item limit (%zu) reached; the rest are ignored",
				          xmlGetLineNo(n), c->max_items);
			}
			return;
		}
		json_t *it = read_item(c, n);
		if (it)
			json_array_append_new(items, it);
	}
}

/* Depth check over the parsed tree (libxml2 itself stops at 256 levels). */
static bool too_deep(xmlNodePtr n, size_t max)
{
	size_t depth = 0;
	while (n) {
		if (n->type == XML_ELEMENT_NODE && depth > max)
			return true;
		if (n->children && n->type == XML_ELEMENT_NODE) {
			n = n->children;
			depth++;
			continue;
		}
		while (n && !n->next) {
			n = n->parent;
			if (n && n->type == XML_ELEMENT_NODE)
				depth--;
			else
				n = NULL;
		}
		if (n)
			n = n->next;
	}
	return false;
}

int fm_feed_parse_xml(struct feed_ctx *c, const char *data, size_t len)
{
	xmlParserCtxtPtr px = xmlNewParserCtxt();
	if (!px)
		return -ENOMEM;
	px->sax->serror = fm_feed_xml_error;
	px->sax->warning = NULL;
	px->sax->error = NULL;
	px->_private = c;
	px->vctxt.error = NULL;
	px->vctxt.warning = NULL;
	int opts = XML_PARSE_RECOVER | XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_IGNORE_ENC |
	           XML_PARSE_NOWARNING | XML_PARSE_COMPACT;
	xmlDocPtr doc = NULL;
	size_t fixed_len = 0;
	char *fixed = memchr(data, '&', len) ? fm_feed_repair_entities(c, data, len, &fixed_len) : NULL;
	if (fixed) {
		data = fixed;
		len = fixed_len;
	}
	if (len > INT32_MAX) {
		fm_feed_error(c, "document too large");
	} else {
		doc = xmlCtxtReadMemory(px, data, (int)len, NULL, "UTF-8", opts);
	}
	if (c->entity_bomb)
		fm_feed_error(c, "entity expansion refused: the declared entities expand too much (billion laughs?)");
	xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (!root) {
		if (!json_array_size(c->errors))
			fm_feed_error(c, "line 1: no XML document element");
		json_object_set_new_nocheck(c->result, "format", json_string("unknown"));
		goto done;
	}
	if (doc->intSubset && doc->intSubset->entities) {
		/* declared entities: expansion is ours, bounded by entity_left */
	}
	if (too_deep(root, c->max_depth)) {
		fm_feed_error(c, "element nesting deeper than %zu: document refused", c->max_depth);
		json_object_set_new_nocheck(c->result, "format", json_string("unknown"));
		goto done;
	}
	xmlNodePtr channel = NULL;
	c->root = root;
	c->format = detect_format(root, &channel);
	json_object_set_new_nocheck(c->result, "format", json_string(format_name(c->format)));
	if (c->format == FMT_UNKNOWN) {
		fm_feed_error(c, "line %ld: <%s> is not a feed document element", xmlGetLineNo(root),
		          (const char *)root->name);
		goto done;
	}
	if (channel)
		read_channel(c, c->feed, channel);
	if (channel)
		read_items(c, channel, c->items);
	if (channel != root)
		read_items(c, root, c->items);
done:
	if (doc)
		xmlFreeDoc(doc);
	xmlFreeParserCtxt(px);
	free(fixed);
	return 0;
}
