/*
 * Internal to the XML feed reader: what the element handlers (feed_elements.c) use to read one
 * element of an RSS/Atom subtree — its namespace, its text with entities expanded under the
 * budget, URLs under xml:base, and content constructs rendered as sanitized HTML or plain text.
 * Implemented in feed_content.c. Every function takes the parse's struct feed_ctx.
 */
#ifndef FM_FETCH_HTTP_FEED_CONTENT_H
#define FM_FETCH_HTTP_FEED_CONTENT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <libxml/tree.h>

#include "feed_priv.h"

/* The namespaces the readers tell apart. */
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
	NS_SY, /* RSS 1.0 syndication module: how often the channel is updated */
	NS_OTHER,
};

/* Namespace class of an element by its namespace URI (href; NULL when it has none) and its
 * name as libxml2 keeps it ("prefix:local" when the prefix was never declared, else the local
 * name); *local receives the local name. Several URIs are in use for RSS and iTunes, so URIs
 * compare case-insensitively; an undeclared prefix is read by its usual meaning ("dc", ...). */
enum ns fm_feed_classify_name(const char *href, const char *name, const char **local);

/* The same for an element node; the class is remembered in the node's xmlNs. */
enum ns fm_feed_classify(xmlNodePtr n, const char **local);

/* n is an element of namespace class want with this local name (case-insensitive). */
bool fm_feed_is(xmlNodePtr n, enum ns want, const char *local);

/* Add a message to the result's "errors" (at most FEED_MAX_ERRORS, duplicates dropped). */
void fm_feed_error(struct feed_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The text content of element n, entities expanded within the budget, trimmed. Valid until
 * the next call (it lives in c->tmp); *len (may be NULL) receives its length. */
const char *fm_feed_text(struct feed_ctx *c, xmlNodePtr n, size_t *len);

/* n has element children. */
bool fm_feed_has_elements(xmlNodePtr n);

static inline json_t *fm_feed_jstr(const char *s, size_t n)
{
	return json_stringn_nocheck(s, n);
}

static inline void fm_feed_set_str(json_t *o, const char *key, const char *s, size_t n)
{
	json_object_set_new_nocheck(o, key, fm_feed_jstr(s, n));
}

/* URL u (n bytes) resolved against the xml:base in effect at node `at`: a new JSON string,
 * or NULL when n is 0. */
json_t *fm_feed_url(struct feed_ctx *c, xmlNodePtr at, const char *u, size_t n);

/* o[key] = u trimmed and resolved at `at`; an existing value is kept unless overwrite. */
void fm_feed_set_url(struct feed_ctx *c, json_t *o, const char *key, xmlNodePtr at, const char *u,
                     bool overwrite);

/* How a content element's text is to be read. */
enum ctype { CT_TEXT, CT_HTML, CT_XHTML, CT_BASE64_TEXT, CT_BASE64_HTML };

/* An Atom text construct's type/mode (Atom 1.0: text|html|xhtml or a MIME type; Atom 0.3:
 * MIME type plus mode xml|escaped|base64). */
enum ctype fm_feed_atom_ctype(xmlNodePtr n, bool atom03);

/* RSS-style element (description, content:encoded, title...): escaped HTML as text, or inline
 * XHTML/HTML elements as children. */
enum ctype fm_feed_rss_ctype(xmlNodePtr n);

/* o[key] = content element n of kind ct as sanitized HTML (as_html) or plain text; an
 * existing value is kept unless overwrite. */
void fm_feed_set_rendered(struct feed_ctx *c, json_t *o, const char *key, xmlNodePtr n,
                          enum ctype ct, bool as_html, bool overwrite);

/* Titles in RSS: HTML when it looks like markup, else text. */
void fm_feed_set_title(struct feed_ctx *c, json_t *o, xmlNodePtr n, bool overwrite);

#endif
