/*
 * XML feeds (RSS 0.9x/1.0/2.0, RDF, Atom 0.3/1.0), read as a stream.
 *
 * The body goes through the entity repair (feed_repair.c) into libxml2's push parser in
 * 64 KiB chunks; our SAX2 handlers watch the elements go by and build a tree only for what
 * the result is made of: one item (or Atom entry) at a time, and one channel field at a time.
 * Each subtree is read into the result (feed_elements.c) as soon as it closes, then freed.
 * Elements the readers never look at (extensions, a second channel, the rest of an RDF
 * document) are not built at all, and items past max_items are skipped unbuilt.
 *
 * Memory bound, per parse: besides the body and its UTF-8 copy (the caller's), at most
 *   max_items x (one item's result) + one subtree (FEED_MAX_SUBTREE) + 64 KiB + O(depth),
 * plus the internal subset's entity declarations (no larger than the body) and, while one
 * field is sanitized, the HTML sanitizer's own tree of that field (fmkit; it grows with the
 * field's markup). A subtree's nodes are counted as they are made and it stops growing at
 * FEED_MAX_SUBTREE, with an error saying so; an item's result is made from its subtree, so
 * it is bounded by it too. `feedmill parse` of a 10 MB body of tiny elements peaks at 22 MB
 * of RSS, where the whole-document tree took 250 MB.
 *
 * Safety, as before: no network (XML_PARSE_NONET), no DTD loading, entities never substituted
 * by libxml2 (no XML_PARSE_NOENT) but expanded by us within a byte budget
 * (max_entity_expansion), libxml2's own amplification checks on (no XML_PARSE_HUGE), and
 * element nesting bounded by max_depth. Recovery mode: an ill-formed document still yields
 * what it holds, with `errors` saying what went wrong and where.
 */
#include "feed_stream.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include "feed_repair.h"
#include "feed_tree.h"
#include "url.h"

/* The largest subtree (an item, or one channel field) we build: what its nodes cost, about
 * the bytes they hold plus 150 per node. Real items are a few KiB to a few hundred. */
#define FEED_MAX_SUBTREE (8u << 20)

/* Bytes handed to the parser at once. */
#define CHUNK_SIZE (64u << 10)

enum role {
	R_NONE,  /* outside any item or field: only the channel and document element are here */
	R_ITEM,  /* inside an item being built */
	R_FIELD, /* inside a channel field being built */
	R_SKIP,  /* inside an element nobody reads: nothing is built */
};

struct stream {
	struct feed_ctx *c;
	xmlParserCtxtPtr px;
	size_t depth;          /* elements open; the document element is 1 */
	bool root_seen;
	size_t channel_depth;  /* depth of the channel element; 0 until it is found */
	char *root_base;       /* xml:base in effect inside the document element (or NULL) */
	char *channel_base;    /* ... inside the channel */
	char *root_lang;       /* xml:lang of the document element (NULL: none) */
	enum role role;
	size_t role_depth;     /* depth of the element the role began with */
	long role_line;        /* and its line */
	const char *role_base; /* base URL in effect at its parent */
	struct feed_tree tree;
	char chunk[CHUNK_SIZE];
	size_t chunk_len;
};

static void on_error(void *ud, xmlErrorPtr e)
{
	/* libxml2 passes the parser context as user data (its userData defaults to itself); the
	 * contexts it makes for entity content share our _private */
	xmlParserCtxtPtr px = ud;
	struct stream *s = px ? px->_private : NULL;
	if (!s || !e || e->level < XML_ERR_ERROR)
		return;
	char msg[240];
	snprintf(msg, sizeof(msg), "%s", e->message ? e->message : "parse error");
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	if (e->code == XML_ERR_ENTITY_LOOP)
		s->c->entity_bomb = true;
	fm_feed_error(s->c, "line %d: %s", e->line, msg);
}

/* The value of attribute (uri, local) among startElementNs's attributes (malloc'd), or NULL.
 * Values with entity references are read as libxml2's tree would give them. */
static char *attr_value(struct stream *s, int nb, const xmlChar **attrs, const char *uri,
                        const char *local)
{
	for (int i = 0; i < nb; i++) {
		const xmlChar **a = attrs + 5 * i;
		if (strcmp((const char *)a[0], local) != 0 ||
		    (uri ? !a[2] || strcmp((const char *)a[2], uri) : a[2] != NULL))
			continue;
		int len = (int)(a[4] - a[3]);
		if (!memchr(a[3], '&', (size_t)len))
			return strndup((const char *)a[3], (size_t)len);
		xmlNodePtr list = xmlStringLenGetNodeList(s->px->myDoc, a[3], len);
		xmlChar *v = xmlNodeListGetString(s->px->myDoc, list, 1);
		xmlFreeNodeList(list);
		char *r = v ? strdup((const char *)v) : NULL;
		xmlFree(v);
		return r;
	}
	return NULL;
}

/* The base URL inside an element: its xml:base resolved against the one in effect. */
static char *base_inside(struct stream *s, const char *outer, int nb, const xmlChar **attrs)
{
	char *b = attr_value(s, nb, attrs, (const char *)XML_XML_NAMESPACE, "base");
	char *r = b ? fm_url_resolve(outer, b) : NULL;
	free(b);
	if (r)
		return r;
	return outer ? strdup(outer) : NULL;
}

/* The document element: what format this is, and where the channel is. */
static void begin_root(struct stream *s, const char *local, const char *uri, int nb_ns,
                       const xmlChar **ns, int nb, const xmlChar **attrs)
{
	struct feed_ctx *c = s->c;
	bool rss090 = false;
	for (int i = 0; i < nb_ns; i++)
		if (ns[2 * i + 1] && !strcmp((const char *)ns[2 * i + 1], FM_FEED_RSS090_NS))
			rss090 = true;
	char *version = attr_value(s, nb, attrs, NULL, "version");
	s->root_seen = true;
	c->format = fm_feed_format(local, uri, version, rss090);
	free(version);
	c->root_href = uri ? strdup(uri) : NULL;
	s->root_base = base_inside(s, c->base_url, nb, attrs);
	s->root_lang = attr_value(s, nb, attrs, (const char *)XML_XML_NAMESPACE, "lang");
	if (c->format == FMT_UNKNOWN) {
		fm_feed_error(c, "line %d: <%s> is not a feed document element",
		              xmlSAX2GetLineNumber(s->px), local);
		xmlStopParser(s->px);
		return;
	}
	/* Atom's feed and a bare RSS channel are their own channel */
	if (!strcasecmp(local, "channel") || !strcasecmp(local, "feed")) {
		s->channel_depth = 1;
		s->channel_base = s->root_base ? strdup(s->root_base) : NULL;
		c->channel_lang = s->root_lang ? strdup(s->root_lang) : NULL;
	}
}

/* The channel of an RSS or RDF document (its first "channel" child). */
static void begin_channel(struct stream *s, int nb, const xmlChar **attrs)
{
	s->channel_depth = s->depth;
	s->channel_base = base_inside(s, s->root_base, nb, attrs);
	char *lang = attr_value(s, nb, attrs, (const char *)XML_XML_NAMESPACE, "lang");
	s->c->channel_lang = lang ? lang : s->root_lang ? strdup(s->root_lang) : NULL;
}

/* Add an element to the subtree being built; out of memory stops the parse. */
static void tree_start(struct stream *s, const xmlChar *localname, const xmlChar *prefix,
                       const xmlChar *uri, int nb, const xmlChar **attrs)
{
	if (fm_tree_start(&s->tree, s->px->myDoc, localname, prefix, uri, nb, 0, attrs) < 0) {
		fm_feed_error(s->c, "out of memory reading the feed");
		xmlStopParser(s->px);
	}
}

static void begin_role(struct stream *s, enum role role, const char *base)
{
	s->role = role;
	s->role_depth = s->depth;
	s->role_line = xmlSAX2GetLineNumber(s->px);
	s->role_base = base;
}

/* An element directly in the channel or the document element: an item, a channel field, or
 * something nobody reads. Returns the role it begins. */
static enum role classify_child(struct stream *s, const char *name, const char *uri)
{
	struct feed_ctx *c = s->c;
	const char *local;
	enum ns cls = fm_feed_classify_name(uri, name, &local);
	bool in_channel = s->channel_depth && s->depth == s->channel_depth + 1;
	if (fm_feed_is_item(c, cls, local, uri)) {
		if (json_array_size(c->items) < c->max_items)
			return R_ITEM;
		if (!c->items_limit_hit) {
			c->items_limit_hit = true;
			fm_feed_error(c, "line %d: item limit (%zu) reached; the rest are ignored",
			              xmlSAX2GetLineNumber(s->px), c->max_items);
		}
		return R_SKIP;
	}
	return in_channel && fm_feed_channel_reads(c, cls, uri) ? R_FIELD : R_SKIP;
}

/* An element outside any item or field (depth already counts it). */
static void start_outside(struct stream *s, const xmlChar *localname, const xmlChar *prefix,
                          const xmlChar *uri, int nb_ns, const xmlChar **ns, int nb,
                          const xmlChar **attrs)
{
	struct feed_ctx *c = s->c;
	/* the name libxml2's tree would give it: "prefix:local" when the prefix is undeclared */
	char qbuf[128];
	const char *name = (const char *)localname;
	if (prefix && !uri) {
		snprintf(qbuf, sizeof(qbuf), "%s:%s", (const char *)prefix, (const char *)localname);
		name = qbuf;
	}
	if (s->depth == 1 && !s->root_seen) {
		begin_root(s, (const char *)localname, (const char *)uri, nb_ns, ns, nb, attrs);
		return;
	}
	if (s->depth == 1) { /* a second document element, if recovery ever lets one through */
		begin_role(s, R_SKIP, NULL);
		return;
	}
	bool in_root = s->depth == 2;
	if (in_root && c->format == FMT_RSS10 && uri && !strcmp((const char *)uri, FM_FEED_RSS090_NS))
		c->format = FMT_RSS090;
	if (in_root && !s->channel_depth && !strcasecmp(name, "channel")) {
		begin_channel(s, nb, attrs);
		return;
	}
	bool in_channel = s->channel_depth && s->depth == s->channel_depth + 1;
	enum role role = in_channel || in_root ? classify_child(s, name, (const char *)uri) : R_SKIP;
	begin_role(s, role, in_channel ? s->channel_base : s->root_base);
	if (role == R_ITEM || role == R_FIELD)
		tree_start(s, localname, prefix, uri, nb, attrs);
}

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                     const xmlChar *uri, int nb_ns, const xmlChar **ns, int nb_attributes,
                     int nb_defaulted, const xmlChar **attrs)
{
	xmlParserCtxtPtr px = ctx;
	struct stream *s = px->_private;
	if (!s || px != s->px) { /* entity content parsed on its own: libxml2 keeps it as a tree */
		xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_ns, ns, nb_attributes,
		                      nb_defaulted, attrs);
		return;
	}
	s->depth++;
	if (s->depth - 1 > s->c->max_depth) {
		fm_feed_error(s->c, "line %d: element nesting deeper than %zu; the rest is ignored",
		              xmlSAX2GetLineNumber(px), s->c->max_depth);
		xmlStopParser(px);
		return;
	}
	/* attributes the DTD defaults are left out, as libxml2 does without XML_PARSE_DTDATTR */
	int nb = nb_attributes - nb_defaulted;
	if (s->role == R_ITEM || s->role == R_FIELD)
		tree_start(s, localname, prefix, uri, nb, attrs);
	else if (s->role == R_NONE)
		start_outside(s, localname, prefix, uri, nb_ns, ns, nb, attrs);
}

/* An item or channel field is complete (or the document ended inside it): read it. */
static void finish_role(struct stream *s)
{
	struct feed_ctx *c = s->c;
	xmlNodePtr n = s->role == R_SKIP ? NULL : fm_tree_finish(&s->tree);
	if (n && s->tree.cut)
		fm_feed_error(c, "line %ld: <%s> is larger than %u MiB; the rest of it is ignored",
		              s->role_line, (const char *)n->name, FEED_MAX_SUBTREE >> 20);
	c->outer_base = s->role_base;
	if (n && s->role == R_ITEM) {
		json_t *it = fm_feed_read_item(c, n);
		if (it)
			json_array_append_new(c->items, it);
	} else if (n) {
		fm_feed_read_channel_field(c, n);
	}
	c->outer_base = NULL;
	fm_tree_reset(&s->tree);
	s->role = R_NONE;
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                   const xmlChar *uri)
{
	xmlParserCtxtPtr px = ctx;
	struct stream *s = px->_private;
	if (!s || px != s->px) {
		xmlSAX2EndElementNs(ctx, localname, prefix, uri);
		return;
	}
	if (s->role != R_NONE && s->depth == s->role_depth)
		finish_role(s);
	else if (s->role == R_ITEM || s->role == R_FIELD)
		fm_tree_end(&s->tree);
	if (s->depth)
		s->depth--;
}

static void on_text(void *ctx, const xmlChar *ch, int len)
{
	xmlParserCtxtPtr px = ctx;
	struct stream *s = px->_private;
	if (!s || px != s->px)
		xmlSAX2Characters(ctx, ch, len);
	else if (s->role == R_ITEM || s->role == R_FIELD)
		fm_tree_text(&s->tree, (const char *)ch, (size_t)len);
}

static void on_reference(void *ctx, const xmlChar *name)
{
	xmlParserCtxtPtr px = ctx;
	struct stream *s = px->_private;
	if (!s || px != s->px)
		xmlSAX2Reference(ctx, name);
	else if (s->role == R_ITEM || s->role == R_FIELD)
		fm_tree_reference(&s->tree, name);
}

/* Comments and processing instructions matter only inside entity content (kept as libxml2's
 * tree keeps them there); in the document they are not part of any field. */
static bool in_entity(xmlParserCtxtPtr px)
{
	struct stream *s = px->_private;
	return !s || px != s->px;
}

static void on_comment(void *ctx, const xmlChar *value)
{
	if (in_entity(ctx))
		xmlSAX2Comment(ctx, value);
}

static void on_pi(void *ctx, const xmlChar *target, const xmlChar *data)
{
	if (in_entity(ctx))
		xmlSAX2ProcessingInstruction(ctx, target, data);
}

/* Hand a full chunk to the parser, but for a character its end would split: that one waits
 * for the next chunk. libxml2 copes with a split character in character data; ending chunks
 * on character boundaries keeps every other construct's input whole too. */
static void parse_chunk(struct stream *s)
{
	size_t cut = s->chunk_len, k = 0;
	while (k < 3 && cut > 0 && ((unsigned char)s->chunk[cut - 1] & 0xc0) == 0x80) {
		cut--;
		k++;
	}
	if (cut > 0 && (unsigned char)s->chunk[cut - 1] >= 0xc0)
		cut--; /* a lead byte whose sequence may be incomplete */
	else
		cut = s->chunk_len;
	if (cut == 0)
		cut = s->chunk_len; /* not UTF-8 at all: the parser will say so */
	xmlParseChunk(s->px, s->chunk, (int)cut, 0);
	memmove(s->chunk, s->chunk + cut, s->chunk_len - cut);
	s->chunk_len -= cut;
}

/* The repair's output goes to the parser in chunks; -ECANCELED once the parser has stopped
 * (a fatal error it cannot recover from, or we stopped it), so the rest is not even read. */
static int push(void *ud, const char *p, size_t n)
{
	struct stream *s = ud;
	while (n) {
		size_t k = CHUNK_SIZE - s->chunk_len < n ? CHUNK_SIZE - s->chunk_len : n;
		memcpy(s->chunk + s->chunk_len, p, k);
		s->chunk_len += k;
		p += k;
		n -= k;
		if (s->chunk_len == CHUNK_SIZE)
			parse_chunk(s);
		if (s->px->instate == XML_PARSER_EOF)
			return -ECANCELED;
	}
	return 0;
}

static xmlParserCtxtPtr new_parser(struct stream *s)
{
	xmlSAXHandler sax;
	memset(&sax, 0, sizeof(sax));
	xmlSAXVersion(&sax, 2); /* the DTD, entity declarations and lookups as libxml2 does them */
	sax.startElementNs = on_start;
	sax.endElementNs = on_end;
	sax.characters = on_text;
	sax.ignorableWhitespace = on_text;
	sax.reference = on_reference;
	sax.comment = on_comment;
	sax.processingInstruction = on_pi;
	sax.serror = on_error;
	sax.warning = NULL;
	sax.error = NULL;
	xmlParserCtxtPtr px = xmlCreatePushParserCtxt(&sax, NULL, NULL, 0, NULL);
	if (!px)
		return NULL;
	px->_private = s;
	px->vctxt.error = NULL;
	px->vctxt.warning = NULL;
	xmlCtxtUseOptions(px, XML_PARSE_RECOVER | XML_PARSE_NONET | XML_PARSE_NOCDATA |
	                              XML_PARSE_IGNORE_ENC | XML_PARSE_NOWARNING |
	                              XML_PARSE_COMPACT);
	/* the body was converted to UTF-8 already: ignore what its declaration says */
	xmlSwitchEncoding(px, XML_CHAR_ENCODING_UTF8);
	return px;
}

/* What the whole document tells once it has been read. */
static void finish_document(struct stream *s)
{
	struct feed_ctx *c = s->c;
	if (s->role != R_NONE)
		finish_role(s); /* cut short: what an open item holds still counts */
	if (s->channel_depth)
		fm_feed_channel_done(c);
	if (c->entity_bomb)
		fm_feed_error(c, "entity expansion refused: the declared entities expand too much "
		                 "(billion laughs?)");
	if (!s->root_seen && !json_array_size(c->errors))
		fm_feed_error(c, "line 1: no XML document element");
	const char *format = s->root_seen ? fm_feed_format_name(c->format) : "unknown";
	json_object_set_new_nocheck(c->result, "format", json_string(format));
}

int fm_feed_parse_xml(struct feed_ctx *c, const char *data, size_t len)
{
	struct stream *s = calloc(1, sizeof(*s)); /* the chunk buffer is too big for a stack */
	if (!s)
		return -ENOMEM;
	s->c = c;
	fm_tree_init(&s->tree, FEED_MAX_SUBTREE);
	s->px = new_parser(s);
	int rc = -ENOMEM;
	if (!s->px)
		goto cleanup;
	if (fm_feed_repair(c, data, len, push, s) == 0)
		xmlParseChunk(s->px, s->chunk, (int)s->chunk_len, 1);
	finish_document(s);
	rc = 0;
cleanup:
	fm_tree_fini(&s->tree);
	if (s->px) {
		xmlFreeDoc(s->px->myDoc); /* only the DTD and entity declarations live there */
		s->px->myDoc = NULL;
		xmlFreeParserCtxt(s->px);
	}
	free(s->root_base);
	free(s->channel_base);
	free(s->root_lang);
	free(c->root_href);
	free(c->channel_lang);
	c->root_href = c->channel_lang = NULL;
	free(s);
	return rc;
}
