/*
 * Reading one element of an RSS/Atom document: its namespace class, its text (entity
 * references expanded by us under a byte budget, since libxml2 is never asked to substitute
 * them), URLs under xml:base, and content constructs (text, escaped HTML, inline XHTML,
 * base64) rendered as sanitized HTML or plain text. The element handlers in feed_elements.c
 * are built on these.
 */
#include "feed_content.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>

#include "html_sanitize.h"
#include "url.h"

static const struct {
	const char *uri;
	enum ns ns;
} ns_uris[] = {
	{"http://www.w3.org/2005/Atom", NS_ATOM},
	{"http://purl.org/atom/ns#", NS_ATOM},
	{"http://purl.org/rss/1.0/", NS_RSS},
	{"http://my.netscape.com/rdf/simple/0.9/", NS_RSS},
	{"http://backend.userland.com/rss2", NS_RSS},
	{"http://backend.userland.com/rss", NS_RSS},
	{"http://blogs.law.harvard.edu/tech/rss", NS_RSS},
	{"http://purl.org/net/rss1.1#", NS_RSS},
	{"http://purl.org/rss/1.0/modules/content/", NS_CONTENT},
	{"http://purl.org/dc/elements/1.1/", NS_DC},
	{"http://purl.org/dc/elements/1.0/", NS_DC},
	{"http://purl.org/dc/terms/", NS_DCTERMS},
	{"http://search.yahoo.com/mrss/", NS_MEDIA},
	{"http://search.yahoo.com/mrss", NS_MEDIA},
	{"http://www.itunes.com/dtds/podcast-1.0.dtd", NS_ITUNES},
	{"http://example.com/dtds/podcast-1.0.dtd", NS_ITUNES},
	{"http://www.w3.org/1999/02/22-rdf-syntax-ns#", NS_RDF},
	{"http://www.w3.org/1999/xhtml", NS_XHTML},
	{"http://wellformedweb.org/commentapi/", NS_WFW},
	{"http://rssnamespace.org/feedburner/ext/1.0", NS_FEEDBURNER},
	{"http://purl.org/rss/1.0/modules/syndication/", NS_SY},
};

static const struct {
	const char *prefix;
	enum ns ns;
} ns_prefixes[] = {
	{"atom", NS_ATOM}, {"content", NS_CONTENT}, {"dc", NS_DC}, {"dcterms", NS_DCTERMS},
	{"media", NS_MEDIA}, {"itunes", NS_ITUNES}, {"rdf", NS_RDF}, {"xhtml", NS_XHTML},
	{"wfw", NS_WFW}, {"feedburner", NS_FEEDBURNER}, {"sy", NS_SY},
};

static enum ns classify_uri(const char *h)
{
	if (!*h)
		return NS_RSS;
	for (size_t i = 0; i < sizeof(ns_uris) / sizeof(ns_uris[0]); i++)
		if (!strcasecmp(h, ns_uris[i].uri))
			return ns_uris[i].ns;
	return NS_OTHER;
}

enum ns fm_feed_classify_name(const char *href, const char *name, const char **local)
{
	*local = name;
	if (href)
		return classify_uri(href);
	const char *colon = strchr(name, ':');
	if (!colon)
		return NS_RSS;
	*local = colon + 1;
	size_t pl = (size_t)(colon - name);
	for (size_t i = 0; i < sizeof(ns_prefixes) / sizeof(ns_prefixes[0]); i++)
		if (strlen(ns_prefixes[i].prefix) == pl && !strncasecmp(name, ns_prefixes[i].prefix, pl))
			return ns_prefixes[i].ns;
	return NS_OTHER;
}

/* Elements of a document share a handful of xmlNs structures, so the class found for one is
 * kept in its _private field (libxml2 leaves that to applications) instead of comparing the
 * URI with the whole table for every element. */
enum ns fm_feed_classify(xmlNodePtr n, const char **local)
{
	if (n->ns && n->ns->href) {
		*local = (const char *)n->name;
		if (n->ns->_private)
			return (enum ns)((uintptr_t)n->ns->_private - 1);
		enum ns cls = classify_uri((const char *)n->ns->href);
		n->ns->_private = (void *)(uintptr_t)(cls + 1);
		return cls;
	}
	return fm_feed_classify_name(NULL, (const char *)n->name, local);
}

bool fm_feed_is(xmlNodePtr n, enum ns want, const char *local)
{
	const char *l;
	return n->type == XML_ELEMENT_NODE && fm_feed_classify(n, &l) == want &&
	       !strcasecmp(l, local);
}

/* ---- errors ---- */

void fm_feed_error(struct feed_ctx *c, const char *fmt, ...)
{
	if (json_array_size(c->errors) >= FEED_MAX_ERRORS)
		return;
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	size_t i;
	json_t *e;
	json_array_foreach(c->errors, i, e)
	{
		if (!strcmp(json_string_value(e), msg))
			return;
	}
	json_t *v = json_string(msg);
	json_array_append_new(c->errors, v ? v : json_string("error"));
}

/* ---- text ---- */

static void append_html_entity(struct fm_buf *b, const char *name)
{
	const htmlEntityDesc *h = htmlEntityLookup(BAD_CAST name);
	if (h) {
		char u[8];
		int len = xmlCopyCharMultiByte((xmlChar *)u, (int)h->value);
		if (len > 0)
			fm_buf_append(b, u, (size_t)len);
	} else {
		fm_buf_printf(b, "&%s;", name);
	}
}

static void expand_text(struct feed_ctx *c, xmlDocPtr doc, const char *s, struct fm_buf *b,
                        int depth);

/* Expand entity `name` into b. Declared internal entities are expanded from their replacement
 * text, recursively, within the byte budget (entity_left) and a depth bound, so nested
 * "billion laughs" declarations cannot blow up; external entities are never loaded; undeclared
 * names are read as HTML entities (&nbsp; in feeds that never declared it). */
static void expand_entity(struct feed_ctx *c, xmlDocPtr doc, const char *name, struct fm_buf *b,
                          int depth)
{
	xmlEntityPtr ent = xmlGetDocEntity(doc, BAD_CAST name);
	if (!ent) {
		append_html_entity(b, name);
		return;
	}
	switch (ent->etype) {
	case XML_INTERNAL_PREDEFINED_ENTITY:
		if (ent->content)
			fm_buf_puts(b, (const char *)ent->content);
		return;
	case XML_INTERNAL_GENERAL_ENTITY:
		if (ent->content && c->entity_left >= (size_t)ent->length && depth < 16) {
			c->entity_left -= (size_t)ent->length;
			expand_text(c, doc, (const char *)ent->content, b, depth + 1);
		} else if (!c->entity_limit_hit) {
			c->entity_limit_hit = true;
			fm_feed_error(c, "entity expansion limit reached at &%s;: text cut", name);
		}
		return;
	default:
		if (!c->external_entity_seen) {
			c->external_entity_seen = true;
			fm_feed_error(c, "external entity &%s; not loaded", name);
		}
		return;
	}
}

/* Replacement text of an entity: character data with references (markup is kept as text). */
static void expand_text(struct feed_ctx *c, xmlDocPtr doc, const char *s, struct fm_buf *b,
                        int depth)
{
	while (*s) {
		const char *amp = strchr(s, '&');
		if (!amp) {
			fm_buf_puts(b, s);
			return;
		}
		fm_buf_append(b, s, (size_t)(amp - s));
		const char *semi = strchr(amp, ';');
		if (!semi || semi - amp > 64) {
			fm_buf_putc(b, '&');
			s = amp + 1;
			continue;
		}
		char name[72];
		size_t n = (size_t)(semi - amp - 1);
		memcpy(name, amp + 1, n);
		name[n] = '\0';
		if (name[0] == '#') {
			long v = name[1] == 'x' || name[1] == 'X' ? strtol(name + 2, NULL, 16)
			                                         : strtol(name + 1, NULL, 10);
			char u[8];
			int len = v > 0 && v <= 0x10ffff ? xmlCopyCharMultiByte((xmlChar *)u, (int)v) : 0;
			if (len > 0)
				fm_buf_append(b, u, (size_t)len);
		} else {
			expand_entity(c, doc, name, b, depth);
		}
		s = semi + 1;
	}
}

/* Append the text of a node list to b, expanding entity references within the budget. */
static void gather_text(struct feed_ctx *c, xmlNodePtr n, struct fm_buf *b, int depth)
{
	for (; n; n = n->next) {
		switch (n->type) {
		case XML_TEXT_NODE:
		case XML_CDATA_SECTION_NODE:
			if (n->content)
				fm_buf_puts(b, (const char *)n->content);
			break;
		case XML_ENTITY_REF_NODE:
			expand_entity(c, n->doc, (const char *)n->name, b, depth);
			break;
		case XML_ELEMENT_NODE:
			if (depth < 64)
				gather_text(c, n->children, b, depth + 1);
			break;
		default:
			break;
		}
	}
}

/* The text content of element n (in c->tmp, valid until the next call), trimmed. */
const char *fm_feed_text(struct feed_ctx *c, xmlNodePtr n, size_t *len)
{
	fm_buf_truncate(&c->tmp, 0);
	gather_text(c, n->children, &c->tmp, 0);
	if (!fm_buf_reserve(&c->tmp, 0)) {
		if (len)
			*len = 0;
		return "";
	}
	const char *s = fm_buf_str(&c->tmp);
	size_t l = c->tmp.len;
	while (l && isspace((unsigned char)*s)) {
		s++;
		l--;
	}
	while (l && isspace((unsigned char)s[l - 1]))
		l--;
	if (len)
		*len = l;
	((char *)s)[l] = '\0';
	return s;
}

bool fm_feed_has_elements(xmlNodePtr n)
{
	for (xmlNodePtr k = n->children; k; k = k->next)
		if (k->type == XML_ELEMENT_NODE)
			return true;
	return false;
}

/* ---- xml:base ---- */

/* Base URL in effect at node n (malloc'd or NULL): xml:base attributes of n and its ancestors
 * in the subtree, resolved top-down against the base in effect at the subtree's parent. */
static char *base_at(struct feed_ctx *c, xmlNodePtr n)
{
	xmlChar *stack[32];
	int k = 0;
	for (xmlNodePtr p = n; p && p->type == XML_ELEMENT_NODE && k < 32; p = p->parent) {
		if (!p->properties)
			continue;
		xmlChar *b = xmlGetNsProp(p, BAD_CAST "base", XML_XML_NAMESPACE);
		if (b)
			stack[k++] = b;
	}
	char *base = c->outer_base ? strdup(c->outer_base) : NULL;
	while (k > 0) {
		xmlChar *b = stack[--k];
		char *nb = fm_url_resolve(base, (const char *)b);
		xmlFree(b);
		if (nb) {
			free(base);
			base = nb;
		}
	}
	return base;
}

json_t *fm_feed_url(struct feed_ctx *c, xmlNodePtr at, const char *u, size_t n)
{
	if (!n)
		return NULL;
	char *base = base_at(c, at);
	json_t *r;
	if (base) {
		char *tmp = strndup(u, n);
		char *abs = tmp ? fm_url_resolve(base, tmp) : NULL;
		r = abs ? json_string(abs) : fm_feed_jstr(u, n);
		free(abs);
		free(tmp);
	} else {
		r = fm_feed_jstr(u, n);
	}
	free(base);
	return r;
}

void fm_feed_set_url(struct feed_ctx *c, json_t *o, const char *key, xmlNodePtr at, const char *u,
                    bool overwrite)
{
	if (!u || (!overwrite && json_object_get(o, key)))
		return;
	size_t n = strlen(u);
	while (n && isspace((unsigned char)*u)) {
		u++;
		n--;
	}
	while (n && isspace((unsigned char)u[n - 1]))
		n--;
	json_t *v = fm_feed_url(c, at, u, n);
	if (v)
		json_object_set_new_nocheck(o, key, v);
}

/* ---- content constructs ---- */

/* Read an Atom text construct's type/mode (Atom 1.0: text|html|xhtml or a MIME type;
 * Atom 0.3: MIME type plus mode xml|escaped|base64). */
enum ctype fm_feed_atom_ctype(xmlNodePtr n, bool atom03)
{
	xmlChar *type = xmlGetProp(n, BAD_CAST "type");
	xmlChar *mode = atom03 ? xmlGetProp(n, BAD_CAST "mode") : NULL;
	enum ctype ct = CT_TEXT;
	const char *t = type ? (const char *)type : "";
	bool htmlish = !strcasecmp(t, "html") || !strcasecmp(t, "text/html");
	bool xhtmlish = !strcasecmp(t, "xhtml") || !strcasecmp(t, "application/xhtml+xml");
	bool textish = !*t || !strcasecmp(t, "text") || !strncasecmp(t, "text/", 5);
	if (mode && !strcasecmp((const char *)mode, "base64")) {
		ct = htmlish || xhtmlish ? CT_BASE64_HTML : CT_BASE64_TEXT;
	} else if (mode && !strcasecmp((const char *)mode, "escaped")) {
		ct = textish && !htmlish && *t && strcasecmp(t, "text/plain") ? CT_HTML
		     : htmlish || !*t                                          ? CT_HTML
		                                                               : CT_TEXT;
		if (!strcasecmp(t, "text/plain"))
			ct = CT_TEXT;
	} else if (xhtmlish) {
		ct = CT_XHTML;
	} else if (htmlish) {
		ct = CT_HTML;
	} else if (atom03 && !type && fm_feed_has_elements(n)) {
		ct = CT_XHTML;
	} else if (textish || (!strcasecmp(t, "application/xml") || strstr(t, "+xml"))) {
		ct = textish ? CT_TEXT : CT_XHTML;
	} else {
		ct = CT_BASE64_TEXT; /* Atom 1.0 section 4.1.3.3: other media types are base64 */
	}
	xmlFree(type);
	xmlFree(mode);
	return ct;
}

static size_t b64_decode(char *s, size_t n)
{
	static signed char map[256];
	static bool init;
	if (!init) {
		memset(map, -1, sizeof(map));
		const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		for (int i = 0; i < 64; i++)
			map[(unsigned char)a[i]] = (signed char)i;
		map['-'] = 62;
		map['_'] = 63;
		init = true;
	}
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		signed char v = map[(unsigned char)s[i]];
		if (v < 0)
			continue;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			s[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	s[o] = '\0';
	return o;
}

/* s with whitespace runs collapsed to one space, as a JSON string. */
static json_t *collapsed(const char *s, size_t len)
{
	char *t = malloc(len + 1);
	if (!t)
		return NULL;
	size_t o = 0;
	bool sp = false;
	for (size_t i = 0; i < len; i++) {
		if (isspace((unsigned char)s[i])) {
			sp = true;
			continue;
		}
		if (sp && o)
			t[o++] = ' ';
		sp = false;
		t[o++] = s[i];
	}
	json_t *r = json_stringn_nocheck(t, o);
	free(t);
	return r;
}

/* The element XHTML content starts from: Atom 1.0 wraps it in one xhtml:div that is not
 * part of it. */
static xmlNodePtr xhtml_start(struct feed_ctx *c, xmlNodePtr n)
{
	xmlNodePtr only = NULL;
	int elements = 0;
	bool text = false;
	for (xmlNodePtr k = n->children; k; k = k->next) {
		if (k->type == XML_ELEMENT_NODE) {
			elements++;
			only = k;
		} else if (k->type == XML_TEXT_NODE && k->content) {
			for (const xmlChar *p = k->content; *p; p++)
				if (!isspace(*p))
					text = true;
		}
	}
	if (c->format == FMT_ATOM10 && elements == 1 && !text &&
	    !strcasecmp((const char *)only->name, "div") && only->ns &&
	    !strcmp((const char *)only->ns->href, "http://www.w3.org/1999/xhtml"))
		return only;
	return n;
}

/* Inline XHTML content as sanitized HTML, or as plain text (made from the sanitized HTML,
 * so script text never reaches a title). */
static json_t *render_xhtml(struct feed_ctx *c, xmlNodePtr n, bool as_html)
{
	struct fm_buf out = FM_BUF_INIT;
	xmlNodePtr from = xhtml_start(c, n);
	char *base = base_at(c, from);
	json_t *r;
	fm_html_sanitize_node(from, base, &out);
	free(base);
	if (as_html) {
		r = fm_feed_jstr(fm_buf_str(&out), out.len);
	} else {
		char *t = fm_html_to_text(fm_buf_str(&out), out.len);
		r = t ? json_string_nocheck(t) : NULL;
		free(t);
	}
	fm_buf_free(&out);
	return r;
}

/* Text content (s, len) of kind CT_TEXT or CT_HTML as sanitized HTML or plain text. */
static json_t *render_text(struct feed_ctx *c, xmlNodePtr n, const char *s, size_t len,
                           enum ctype ct, bool as_html)
{
	json_t *r;
	if (!as_html && ct == CT_TEXT)
		return collapsed(s, len);
	if (as_html && ct == CT_TEXT) {
		struct fm_buf out = FM_BUF_INIT;
		fm_html_escape(&out, s, len, 0);
		r = fm_feed_jstr(fm_buf_str(&out), out.len);
		fm_buf_free(&out);
		return r;
	}
	char *h;
	if (as_html) {
		char *base = base_at(c, n);
		h = fm_html_sanitize(s, len, base);
		free(base);
	} else {
		h = fm_html_to_text(s, len);
	}
	r = h ? json_string_nocheck(h) : NULL;
	free(h);
	return r;
}

/* Produce sanitized HTML (as_html) or plain text for content node n of kind ct. */
static json_t *render(struct feed_ctx *c, xmlNodePtr n, enum ctype ct, bool as_html)
{
	if (ct == CT_XHTML)
		return render_xhtml(c, n, as_html);
	size_t len;
	const char *s = fm_feed_text(c, n, &len);
	if (ct != CT_BASE64_TEXT && ct != CT_BASE64_HTML)
		return render_text(c, n, s, len, ct, as_html);
	char *dec = strndup(s, len);
	if (!dec)
		return NULL;
	len = b64_decode(dec, len);
	json_t *r = NULL;
	if (fm_utf8_valid_prefix(dec, len) == len) /* decoded bytes that are not text: dropped */
		r = render_text(c, n, dec, len, ct == CT_BASE64_HTML ? CT_HTML : CT_TEXT, as_html);
	free(dec);
	return r;
}

/* RSS-style element (description, content:encoded, title...): escaped HTML as text, or
 * inline XHTML/HTML elements as children. */
enum ctype fm_feed_rss_ctype(xmlNodePtr n)
{
	return fm_feed_has_elements(n) ? CT_XHTML : CT_HTML;
}

void fm_feed_set_rendered(struct feed_ctx *c, json_t *o, const char *key, xmlNodePtr n,
                         enum ctype ct, bool as_html, bool overwrite)
{
	if (!overwrite && json_object_get(o, key))
		return;
	json_t *v = render(c, n, ct, as_html);
	if (v)
		json_object_set_new_nocheck(o, key, v);
}

/* Titles in RSS: HTML when it looks like markup, else text. */
void fm_feed_set_title(struct feed_ctx *c, json_t *o, xmlNodePtr n, bool overwrite)
{
	fm_feed_set_rendered(c, o, "title", n, fm_feed_has_elements(n) ? CT_XHTML : CT_HTML, false,
	             overwrite);
}

