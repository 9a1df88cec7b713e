/*
 * XML feeds (RSS 0.9x/1.0/2.0, Atom 0.3/1.0) into the `feedmill parse` JSON shape.
 *
 * The document is parsed once by libxml2 in recovery mode (no network, no DTD loading, no
 * entity substitution: entity references stay nodes that we expand ourselves under a byte
 * budget), then channel/feed and item/entry elements are read by namespace and local name.
 * Elements are matched by the namespace URI (case-insensitively; several URIs are in use for
 * RSS and iTunes) or, when a prefix was never declared, by the usual prefix.
 */
#include "feed_priv.h"

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

enum ns {
	NS_RSS = 0, /* no namespace, or an RSS namespace */
	NS_ATOM,
	NS_CONTENT,
	NS_DC,
	NS_DCTERMS,
	NS_MEDIA,
	NS_ITUNES,
	NS_RDF,
	NS_XHTML,
	NS_WFW,
	NS_FEEDBURNER,
	NS_OTHER,
};

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
};

static const struct {
	const char *prefix;
	enum ns ns;
} ns_prefixes[] = {
	{"atom", NS_ATOM}, {"content", NS_CONTENT}, {"dc", NS_DC}, {"dcterms", NS_DCTERMS},
	{"media", NS_MEDIA}, {"itunes", NS_ITUNES}, {"rdf", NS_RDF}, {"xhtml", NS_XHTML},
	{"wfw", NS_WFW}, {"feedburner", NS_FEEDBURNER},
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

/* Namespace class and local name of an element. A document uses a handful of xmlNs
 * structures for all its elements, so the URI comparison is cached per structure. */
static __thread struct {
	const void *ns;
	enum ns cls;
} ns_cache[8];
static __thread unsigned ns_cache_next;

static enum ns classify(xmlNodePtr n, const char **local)
{
	const char *name = (const char *)n->name;
	*local = name;
	if (n->ns && n->ns->href) {
		for (unsigned i = 0; i < 8; i++)
			if (ns_cache[i].ns == n->ns)
				return ns_cache[i].cls;
		enum ns cls = classify_uri((const char *)n->ns->href);
		ns_cache[ns_cache_next % 8].ns = n->ns;
		ns_cache[ns_cache_next % 8].cls = cls;
		ns_cache_next++;
		return cls;
	}
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

static bool is(xmlNodePtr n, enum ns want, const char *local)
{
	const char *l;
	return n->type == XML_ELEMENT_NODE && classify(n, &l) == want && !strcasecmp(l, local);
}

/* ---- errors ---- */

static void add_error(struct feed_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_error(struct feed_ctx *c, const char *fmt, ...)
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

static void xml_error(void *ud, xmlErrorPtr e)
{
	/* libxml2 passes the parser context as user data (its userData defaults to itself) */
	xmlParserCtxtPtr px = ud;
	struct feed_ctx *c = px ? px->_private : NULL;
	if (!c)
		return;
	if (!e || e->level < XML_ERR_ERROR)
		return;
	char msg[240];
	snprintf(msg, sizeof(msg), "%s", e->message ? e->message : "parse error");
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	/* keep only valid UTF-8 (a message may quote a cut multibyte sequence) */
	if (e->code == XML_ERR_ENTITY_LOOP)
		c->entity_bomb = true;
	add_error(c, "line %d: %s", e->line, msg);
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
			add_error(c, "entity expansion limit reached at &%s;: text cut", name);
		}
		return;
	default:
		if (!c->external_entity_seen) {
			c->external_entity_seen = true;
			add_error(c, "external entity &%s; not loaded", name);
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
static const char *text_of(struct feed_ctx *c, xmlNodePtr n, size_t *len)
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

static bool has_element_children(xmlNodePtr n)
{
	for (xmlNodePtr k = n->children; k; k = k->next)
		if (k->type == XML_ELEMENT_NODE)
			return true;
	return false;
}

static json_t *jstr(const char *s, size_t n)
{
	return json_stringn_nocheck(s, n);
}

static void set_str(json_t *o, const char *key, const char *s, size_t n)
{
	json_object_set_new_nocheck(o, key, jstr(s, n));
}

/* ---- xml:base ---- */

/* Base URL in effect at node n (malloc'd or NULL): xml:base attributes of n and its ancestors
 * resolved top-down against the document URL. */
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
	char *base = c->base_url ? strdup(c->base_url) : NULL;
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

static json_t *url_value(struct feed_ctx *c, xmlNodePtr at, const char *u, size_t n)
{
	if (!n)
		return NULL;
	char *base = base_at(c, at);
	json_t *r;
	if (base) {
		char *tmp = strndup(u, n);
		char *abs = tmp ? fm_url_resolve(base, tmp) : NULL;
		r = abs ? json_string(abs) : jstr(u, n);
		free(abs);
		free(tmp);
	} else {
		r = jstr(u, n);
	}
	free(base);
	return r;
}

static void set_url(struct feed_ctx *c, json_t *o, const char *key, xmlNodePtr at, const char *u,
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
	json_t *v = url_value(c, at, u, n);
	if (v)
		json_object_set_new_nocheck(o, key, v);
}

/* ---- content constructs ---- */

enum ctype { CT_TEXT, CT_HTML, CT_XHTML, CT_BASE64_TEXT, CT_BASE64_HTML };

/* Read an Atom text construct's type/mode (Atom 1.0: text|html|xhtml or a MIME type;
 * Atom 0.3: MIME type plus mode xml|escaped|base64). */
static enum ctype atom_ctype(xmlNodePtr n, bool atom03)
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
	} else if (atom03 && !type && has_element_children(n)) {
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

/* Produce sanitized HTML (as_html) or plain text for content node n of kind ct. */
static json_t *render(struct feed_ctx *c, xmlNodePtr n, enum ctype ct, bool as_html)
{
	struct fm_buf out = FM_BUF_INIT;
	json_t *r = NULL;
	char *base = NULL;
	if (ct == CT_XHTML) {
		/* Atom 1.0 wraps XHTML content in one xhtml:div that is not part of it */
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
		xmlNodePtr from = n;
		if (c->format == FMT_ATOM10 && elements == 1 && !text &&
		    !strcasecmp((const char *)only->name, "div") &&
		    only->ns && !strcmp((const char *)only->ns->href, "http://www.w3.org/1999/xhtml"))
			from = only;
		if (as_html) {
			base = base_at(c, from);
			fm_html_sanitize_node(from, base, &out);
			free(base);
			r = jstr(fm_buf_str(&out), out.len);
		} else {
			/* via the sanitizer, so script text never reaches a title */
			base = base_at(c, from);
			fm_html_sanitize_node(from, base, &out);
			free(base);
			char *t = fm_html_to_text(fm_buf_str(&out), out.len);
			r = t ? json_string_nocheck(t) : NULL;
			free(t);
		}
		fm_buf_free(&out);
		return r;
	}
	size_t len;
	const char *s = text_of(c, n, &len);
	char *dec = NULL;
	if (ct == CT_BASE64_TEXT || ct == CT_BASE64_HTML) {
		dec = strndup(s, len);
		if (!dec)
			return NULL;
		len = b64_decode(dec, len);
		if (fm_utf8_valid_prefix(dec, len) != len) {
			free(dec);
			return NULL;
		}
		s = dec;
		ct = ct == CT_BASE64_HTML ? CT_HTML : CT_TEXT;
	}
	if (as_html) {
		if (ct == CT_TEXT) {
			fm_html_escape(&out, s, len, 0);
			r = jstr(fm_buf_str(&out), out.len);
		} else {
			base = base_at(c, n);
			char *h = fm_html_sanitize(s, len, base);
			free(base);
			r = h ? json_string_nocheck(h) : NULL;
			free(h);
		}
	} else {
		if (ct == CT_TEXT) {
			r = collapsed(s, len);
		} else {
			char *t = fm_html_to_text(s, len);
			r = t ? json_string_nocheck(t) : NULL;
			free(t);
		}
	}
	free(dec);
	fm_buf_free(&out);
	return r;
}

/* RSS-style element (description, content:encoded, title...): escaped HTML as text, or
 * inline XHTML/HTML elements as children. */
static enum ctype rss_ctype(xmlNodePtr n)
{
	return has_element_children(n) ? CT_XHTML : CT_HTML;
}

static void set_rendered(struct feed_ctx *c, json_t *o, const char *key, xmlNodePtr n,
                         enum ctype ct, bool as_html, bool overwrite)
{
	if (!overwrite && json_object_get(o, key))
		return;
	json_t *v = render(c, n, ct, as_html);
	if (v)
		json_object_set_new_nocheck(o, key, v);
}

/* Titles in RSS: HTML when it looks like markup, else text. */
static void set_title(struct feed_ctx *c, json_t *o, xmlNodePtr n, bool overwrite)
{
	set_rendered(c, o, "title", n, has_element_children(n) ? CT_XHTML : CT_HTML, false,
	             overwrite);
}

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
			json_object_set_new_nocheck(p, keys[i], jstr(f, l));
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
	const char *s = text_of(c, n, &len);
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
		enum ns ns = classify(k, &l);
		if (ns != NS_ATOM && ns != NS_RSS)
			continue;
		size_t len;
		if (!strcasecmp(l, "name")) {
			const char *s = text_of(c, k, &len);
			char *t = fm_html_to_text(s, len);
			if (t && *t)
				json_object_set_new_nocheck(p, "name", json_string_nocheck(t));
			free(t);
		} else if (!strcasecmp(l, "email")) {
			const char *s = text_of(c, k, &len);
			if (len)
				set_str(p, "email", s, len);
		} else if (!strcasecmp(l, "uri") || !strcasecmp(l, "url") ||
		           !strcasecmp(l, "homepage")) {
			const char *s = text_of(c, k, &len);
			if (len) {
				json_t *v = url_value(c, k, s, len);
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
	json_array_append_new(a, jstr(s, n));
}

static void add_category_text(struct feed_ctx *c, json_t *o, xmlNodePtr n)
{
	size_t len;
	const char *s = text_of(c, n, &len);
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
			if (is(k, NS_ITUNES, "category"))
				add_itunes_category(o, k, depth + 1);
}

static void add_keywords(struct feed_ctx *c, json_t *o, xmlNodePtr n)
{
	size_t len;
	const char *s = text_of(c, n, &len);
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
	const char *s = text_of(c, n, &len);
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
		const char *s = text_of(c, n, &len);
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
			set_url(c, o, "link", n, (const char *)href, true);
			ls->rank = rank;
		}
	} else if (!strcasecmp(r, "enclosure") && entry) {
		json_t *e = json_object();
		json_t *u = url_value(c, n, (const char *)href, strlen((const char *)href));
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
			set_url(c, o, "comments", n, (const char *)href, false);
	} else if (!strcasecmp(r, "self") && !entry) {
		set_url(c, o, "self", n, (const char *)href, false);
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
	json_t *u = url_value(c, n, (const char *)url, strlen((const char *)url));
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
	classify(n, &l);
	if (!strcasecmp(l, "title")) {
		if (take(&rk->title, 1))
			set_title(c, o, n, true);
	} else if (!strcasecmp(l, "description")) {
		if (take(&rk->summary, 1)) {
			xmlChar *t = xmlGetProp(n, BAD_CAST "type");
			bool html = t && !strcasecmp((const char *)t, "html");
			xmlFree(t);
			set_rendered(c, o, "summary", n, html ? CT_HTML : CT_TEXT, true, true);
		}
	} else if (!strcasecmp(l, "category")) {
		add_category_text(c, o, n);
	} else if (!strcasecmp(l, "keywords")) {
		add_keywords(c, o, n);
	} else if (!strcasecmp(l, "thumbnail")) {
		xmlChar *u = xmlGetProp(n, BAD_CAST "url");
		if (u && take(&rk->image, 1))
			set_url(c, o, "image", n, (const char *)u, true);
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
				if (k->type == XML_ELEMENT_NODE && classify(k, &l) == NS_MEDIA)
					read_media(c, o, k, rk, media_encl, NULL, depth + 1);
	} else if (!strcasecmp(l, "group")) {
		if (depth < 3)
			for (xmlNodePtr k = n->children; k; k = k->next)
				if (k->type == XML_ELEMENT_NODE && classify(k, &l) == NS_MEDIA)
					read_media(c, o, k, rk, media_encl, media_list, depth + 1);
	}
}

/* media:content elements become enclosures only when the item has none of its own. */
static void media_enclosures(struct feed_ctx *c, json_t *o, xmlNodePtr item)
{
	for (xmlNodePtr k = item->children; k; k = k->next) {
		if (is(k, NS_MEDIA, "content"))
			rss_enclosure(c, o, k, "url", "fileSize");
		else if (is(k, NS_MEDIA, "group"))
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
		enum ns ns = classify(n, &l);
		size_t len;
		const char *s;
		bool atom_doc = c->format == FMT_ATOM10 || c->format == FMT_ATOM03;
		if ((ns == NS_OTHER && same_ns(n, c->root)) || (ns == NS_RSS && atom_doc))
			ns = atom_doc ? NS_ATOM : NS_RSS;
		switch (ns) {
		case NS_RSS:
			if (!strcasecmp(l, "title")) {
				if (take(&rk.title, 5))
					set_title(c, o, n, true);
			} else if (!strcasecmp(l, "link")) {
				s = text_of(c, n, &len);
				if (len && ls.rank < 4) {
					ls.rank = 4;
					set_url(c, o, "link", n, s, true);
				}
			} else if (!strcasecmp(l, "description")) {
				if (take(&rk.summary, 5))
					set_rendered(c, o, "summary", n, rss_ctype(n), true, true);
			} else if (!strcasecmp(l, "guid")) {
				s = text_of(c, n, &len);
				if (len && take(&rk.id, 5)) {
					set_str(o, "id", s, len);
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
				s = text_of(c, n, &len);
				if (len)
					set_url(c, o, "comments", n, s, false);
			} else if (!strcasecmp(l, "enclosure")) {
				rss_enclosure(c, o, n, "url", "length");
			} else if (!strcasecmp(l, "tags") || !strcasecmp(l, "keywords")) {
				add_keywords(c, o, n);
			} else if (!strcasecmp(l, "body") || !strcasecmp(l, "fullitem")) {
				if (take(&rk.content, 3))
					set_rendered(c, o, "content", n, rss_ctype(n), true, true);
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
					set_rendered(c, o, "title", n, atom_ctype(n, atom03), false, true);
			} else if (!strcasecmp(l, "link")) {
				atom_link(c, o, n, &ls, true);
			} else if (!strcasecmp(l, "id")) {
				s = text_of(c, n, &len);
				if (len && take(&rk.id, 4))
					set_str(o, "id", s, len);
			} else if (!strcasecmp(l, "summary")) {
				if (take(&rk.summary, 4))
					set_rendered(c, o, "summary", n, atom_ctype(n, atom03), true, true);
			} else if (!strcasecmp(l, "content")) {
				xmlChar *src = xmlGetProp(n, BAD_CAST "src");
				if (src) {
					/* out-of-line content: a link, not a body */
					if (ls.rank < 1) {
						ls.rank = 1;
						set_url(c, o, "link", n, (const char *)src, true);
					}
					xmlFree(src);
				} else if (take(&rk.content, 4)) {
					set_rendered(c, o, "content", n, atom_ctype(n, atom03), true, true);
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
				set_rendered(c, o, "content", n, rss_ctype(n), true, true);
			break;
		case NS_XHTML:
			if (!strcasecmp(l, "body") && take(&rk.content, 3))
				set_rendered(c, o, "content", n, CT_XHTML, true, true);
			else if (!strcasecmp(l, "div") && take(&rk.content, 2))
				set_rendered(c, o, "content", n, CT_XHTML, true, true);
			break;
		case NS_DC:
		case NS_DCTERMS:
			if (!strcasecmp(l, "title")) {
				if (take(&rk.title, 3))
					set_title(c, o, n, true);
			} else if (!strcasecmp(l, "description") || !strcasecmp(l, "abstract")) {
				if (take(&rk.summary, 3))
					set_rendered(c, o, "summary", n, rss_ctype(n), true, true);
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
				s = text_of(c, n, &len);
				if (len && take(&rk.id, 2))
					set_str(o, "id", s, len);
			}
			break;
		case NS_ITUNES:
			if (!strcasecmp(l, "summary")) {
				if (take(&rk.summary, 2))
					set_rendered(c, o, "summary", n, CT_TEXT, true, true);
			} else if (!strcasecmp(l, "subtitle")) {
				if (take(&rk.summary, 1))
					set_rendered(c, o, "summary", n, CT_TEXT, true, true);
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
					set_url(c, o, "image", n, (const char *)h, true);
				xmlFree(h);
			} else if (!strcasecmp(l, "title")) {
				if (take(&rk.title, 2))
					set_title(c, o, n, true);
			}
			break;
		case NS_MEDIA:
			read_media(c, o, n, &rk, &media_encl, o, 0);
			break;
		case NS_WFW:
			break;
		case NS_FEEDBURNER:
			if (!strcasecmp(l, "origLink") && ls.rank < 5) {
				s = text_of(c, n, &len);
				if (len) {
					ls.rank = 5;
					set_url(c, o, "link", n, s, true);
				}
			}
			break;
		default:
			break;
		}
	}
	if (guid && guid_permalink && ls.rank == 0) {
		size_t len;
		const char *s = text_of(c, guid, &len);
		if (len > 7 && (!strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8)))
			set_url(c, o, "link", guid, s, true);
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
			const char *s = text_of(c, k, &len);
			if (len && take(rank, 3))
				set_url(c, feed, "image", k, s, true);
		}
	}
	xmlChar *res = xmlGetNsProp(n, BAD_CAST "resource",
	                            BAD_CAST "http://www.w3.org/1999/02/22-rdf-syntax-ns#");
	if (res && take(rank, 1))
		set_url(c, feed, "image", n, (const char *)res, true);
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
		enum ns ns = classify(n, &l);
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
					set_title(c, feed, n, true);
			} else if (!strcasecmp(l, "link")) {
				s = text_of(c, n, &len);
				if (len && ls.rank < 4) {
					ls.rank = 4;
					set_url(c, feed, "link", n, s, true);
				}
			} else if (!strcasecmp(l, "description")) {
				if (take(&rk.summary, 5))
					set_rendered(c, feed, "subtitle", n, rss_ctype(n), true, true);
			} else if (!strcasecmp(l, "language")) {
				s = text_of(c, n, &len);
				if (len && take(&lang, 5))
					set_str(feed, "language", s, len);
			} else if (!strcasecmp(l, "copyright")) {
				if (take(&rights, 5))
					set_rendered(c, feed, "rights", n, rss_ctype(n), true, true);
			} else if (!strcasecmp(l, "generator")) {
				s = text_of(c, n, &len);
				if (len && take(&gen, 5))
					set_str(feed, "generator", s, len);
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
					set_rendered(c, feed, "title", n, atom_ctype(n, atom03), false, true);
			} else if (!strcasecmp(l, "subtitle") || !strcasecmp(l, "tagline")) {
				if (take(&rk.summary, 4))
					set_rendered(c, feed, "subtitle", n, atom_ctype(n, atom03), true, true);
			} else if (!strcasecmp(l, "link")) {
				atom_link(c, feed, n, &ls, false);
			} else if (!strcasecmp(l, "id")) {
				s = text_of(c, n, &len);
				if (len && take(&rk.id, 4))
					set_str(feed, "id", s, len);
			} else if (!strcasecmp(l, "rights") || !strcasecmp(l, "copyright")) {
				if (take(&rights, 4))
					set_rendered(c, feed, "rights", n, atom_ctype(n, atom03), true, true);
			} else if (!strcasecmp(l, "generator")) {
				s = text_of(c, n, &len);
				if (len && take(&gen, 4))
					set_str(feed, "generator", s, len);
			} else if (!strcasecmp(l, "icon")) {
				s = text_of(c, n, &len);
				if (len)
					set_url(c, feed, "icon", n, s, true);
			} else if (!strcasecmp(l, "logo")) {
				s = text_of(c, n, &len);
				if (len && take(&rk.image, 4))
					set_url(c, feed, "image", n, s, true);
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
					set_title(c, feed, n, true);
			} else if (!strcasecmp(l, "description")) {
				if (take(&rk.summary, 3))
					set_rendered(c, feed, "subtitle", n, rss_ctype(n), true, true);
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
				s = text_of(c, n, &len);
				if (len && take(&lang, 3))
					set_str(feed, "language", s, len);
			} else if (!strcasecmp(l, "rights")) {
				if (take(&rights, 3))
					set_rendered(c, feed, "rights", n, rss_ctype(n), true, true);
			}
			break;
		case NS_ITUNES:
			if (!strcasecmp(l, "summary")) {
				if (take(&rk.summary, 2))
					set_rendered(c, feed, "subtitle", n, CT_TEXT, true, true);
			} else if (!strcasecmp(l, "subtitle")) {
				if (take(&rk.summary, 1))
					set_rendered(c, feed, "subtitle", n, CT_TEXT, true, true);
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
					set_url(c, feed, "image", n, (const char *)h, true);
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
	classify(root, &l);
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
	enum ns ns = classify(n, &l);
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
				add_error(c, "line %ld: item limit (%zu) reached; the rest are ignored",
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

/*
 * Entity repair before parsing. libxml2 (2.9) stops expanding every entity reference, even
 * &lt; and &amp;, after the first well-formedness error in a document, so one stray '&' or an
 * undeclared &nbsp; would strip all escaped markup from the rest of the feed. Both are common,
 * so they are repaired here instead: an undeclared HTML entity name becomes a character
 * reference, any other '&' that does not start a reference becomes &amp;. Each repair is
 * reported (unless an external DTD, which we never load, may have declared the name).
 * CDATA sections, comments and processing instructions are left alone.
 */
static bool declared_entity(const char *data, size_t dlen, const char *name, size_t n)
{
	const char *p = data, *end = data + dlen;
	while ((p = memmem(p, (size_t)(end - p), "<!ENTITY", 8)) != NULL) {
		p += 8;
		while (p < end && isspace((unsigned char)*p))
			p++;
		if (p + n < end && !memcmp(p, name, n) && isspace((unsigned char)p[n]))
			return true;
	}
	return false;
}

static char *repair_entities(struct feed_ctx *c, const char *data, size_t len, size_t *outlen)
{
	struct fm_buf out = FM_BUF_INIT;
	const char *p = data, *end = data + len, *copied = data;
	size_t line = 1;
	const char *line_pos = data;
	/* the internal subset, where declared names live, and whether an external DTD exists */
	const char *dt = memmem(data, len < 4096 ? len : 4096, "<!DOCTYPE", 9);
	size_t dt_len = 0;
	bool external_dtd = false;
	if (dt) {
		const char *gt = memchr(dt, '>', (size_t)(end - dt));
		const char *br = memchr(dt, '[', (size_t)(end - dt));
		const char *close = br ? memmem(br, (size_t)(end - br), "]>", 2) : NULL;
		if (br && gt && br < gt && close)
			dt_len = (size_t)(close - dt);
		else if (gt)
			dt_len = (size_t)(gt - dt);
		external_dtd = memmem(dt, dt_len, "SYSTEM", 6) || memmem(dt, dt_len, "PUBLIC", 6);
	}
	while (p < end) {
		/* only '&' matters, and "<!" / "<?" sections where '&' is literal */
		const char *amp = memchr(p, '&', (size_t)(end - p));
		if (!amp)
			break;
		const char *q = amp;
		for (const char *lt = p; (lt = memchr(lt, '<', (size_t)(amp - lt))) != NULL; lt++) {
			if (lt + 1 < end && (lt[1] == '!' || lt[1] == '?')) {
				q = lt;
				break;
			}
		}
		if (*q == '<') {
			const char *skip_to = NULL;
			size_t skip_len = 0;
			size_t rest = (size_t)(end - q);
			if (rest >= 9 && !memcmp(q, "<![CDATA[", 9)) {
				skip_len = 3;
				skip_to = memmem(q + 9, rest - 9, "]]>", 3);
			} else if (rest >= 4 && !memcmp(q, "<!--", 4)) {
				skip_to = memmem(q + 4, rest - 4, "-->", 3);
				skip_len = 3;
			} else if (rest >= 2 && q[1] == '?') {
				skip_to = memmem(q + 2, rest - 2, "?>", 2);
				skip_len = 2;
			}
			if (skip_to)
				p = skip_to + skip_len;
			else if (skip_len)
				p = end; /* unterminated: the parser will say so */
			else
				p = q + 1;
			continue;
		}
		/* q points at '&' */
		if (dt && q > dt && q < dt + dt_len) {
			p = q + 1;
			continue;
		}
		const char *r = q + 1;
		bool ok = false;
		if (r < end && *r == '#') {
			r++;
			if (r < end && (*r == 'x' || *r == 'X')) {
				r++;
				while (r < end && isxdigit((unsigned char)*r))
					r++;
			} else {
				while (r < end && isdigit((unsigned char)*r))
					r++;
			}
			ok = r < end && *r == ';' && r > q + 2;
			p = r;
			if (ok) {
				p = r + 1;
				continue;
			}
		}
		const char *name = q + 1;
		r = name;
		while (r < end && r - name < 40 && (isalnum((unsigned char)*r) || *r == '_' || *r == '-' ||
		                                    *r == '.' || *r == ':'))
			r++;
		size_t n = (size_t)(r - name);
		if (n && r < end && *r == ';') {
			char nm[48];
			memcpy(nm, name, n);
			nm[n] = '\0';
			if (!strcmp(nm, "amp") || !strcmp(nm, "lt") || !strcmp(nm, "gt") ||
			    !strcmp(nm, "quot") || !strcmp(nm, "apos") ||
			    (dt_len && declared_entity(dt, dt_len, nm, n))) {
				p = r + 1;
				continue;
			}
			const htmlEntityDesc *h = htmlEntityLookup(BAD_CAST nm);
			if (h) {
				fm_buf_append(&out, copied, (size_t)(q - copied));
				fm_buf_printf(&out, "&#%u;", h->value);
				copied = p = r + 1;
				if (!external_dtd) {
					for (; line_pos < q; line_pos++)
						line += *line_pos == '\n';
					add_error(c, "line %zu: undeclared entity &%s; read as HTML", line, nm);
				}
				continue;
			}
		}
		/* a bare '&' */
		fm_buf_append(&out, copied, (size_t)(q - copied));
		fm_buf_puts(&out, "&amp;");
		copied = p = q + 1;
		for (; line_pos < q; line_pos++)
			line += *line_pos == '\n';
		add_error(c, "line %zu: '&' does not start an entity reference; read as text", line);
	}
	if (copied == data) {
		fm_buf_free(&out);
		return NULL;
	}
	fm_buf_append(&out, copied, (size_t)(end - copied));
	*outlen = out.len;
	return fm_buf_steal(&out);
}

int fm_feed_parse_xml(struct feed_ctx *c, const char *data, size_t len)
{
	xmlParserCtxtPtr px = xmlNewParserCtxt();
	if (!px)
		return -ENOMEM;
	px->sax->serror = xml_error;
	px->sax->warning = NULL;
	px->sax->error = NULL;
	px->_private = c;
	px->vctxt.error = NULL;
	px->vctxt.warning = NULL;
	int opts = XML_PARSE_RECOVER | XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_IGNORE_ENC |
	           XML_PARSE_NOWARNING | XML_PARSE_COMPACT;
	xmlDocPtr doc = NULL;
	size_t fixed_len = 0;
	char *fixed = memchr(data, '&', len) ? repair_entities(c, data, len, &fixed_len) : NULL;
	if (fixed) {
		data = fixed;
		len = fixed_len;
	}
	if (len > INT32_MAX) {
		add_error(c, "document too large");
	} else {
		doc = xmlCtxtReadMemory(px, data, (int)len, NULL, "UTF-8", opts);
	}
	if (c->entity_bomb)
		add_error(c, "entity expansion refused: the declared entities expand too much (billion laughs?)");
	xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (!root) {
		if (!json_array_size(c->errors))
			add_error(c, "line 1: no XML document element");
		json_object_set_new_nocheck(c->result, "format", json_string("unknown"));
		goto done;
	}
	if (doc->intSubset && doc->intSubset->entities) {
		/* declared entities: expansion is ours, bounded by entity_left */
	}
	if (too_deep(root, c->max_depth)) {
		add_error(c, "element nesting deeper than %zu: document refused", c->max_depth);
		json_object_set_new_nocheck(c->result, "format", json_string("unknown"));
		goto done;
	}
	xmlNodePtr channel = NULL;
	c->root = root;
	c->format = detect_format(root, &channel);
	json_object_set_new_nocheck(c->result, "format", json_string(format_name(c->format)));
	if (c->format == FMT_UNKNOWN) {
		add_error(c, "line %ld: <%s> is not a feed document element", xmlGetLineNo(root),
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
	memset(ns_cache, 0, sizeof(ns_cache));
	if (doc)
		xmlFreeDoc(doc);
	xmlFreeParserCtxt(px);
	free(fixed);
	return 0;
}
