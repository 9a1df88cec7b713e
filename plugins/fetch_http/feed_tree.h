/*
 * Internal to the XML feed reader: one element subtree (an item, or one field of the channel)
 * built from SAX2 events, so the element handlers can read it as a small libxml2 tree while the
 * rest of the document is never built. The tree's size is bounded: once its nodes would cost
 * more than max_cost bytes, the rest of the subtree is dropped and `cut` says so.
 *
 * Nodes belong to the parser's document (so entity references resolve against its declared
 * entities) but are not linked into it. Namespaces are declared on the subtree's own elements.
 */
#ifndef FM_FETCH_HTTP_FEED_TREE_H
#define FM_FETCH_HTTP_FEED_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include <libxml/tree.h>

#include "buf.h"

struct feed_tree {
	xmlDocPtr doc;       /* the parser's document */
	xmlNodePtr root;     /* the subtree; NULL when none is being built */
	xmlNodePtr cur;      /* the element open in it */
	xmlNsPtr spare_ns;   /* namespaces that found no place on an element */
	size_t cost;         /* bytes its nodes take, approximately (the bound counts these) */
	size_t max_cost;
	bool cut;            /* max_cost was reached: the rest of the subtree is not built */
	struct fm_buf text;  /* character data not yet made a text node */
};

void fm_tree_init(struct feed_tree *t, size_t max_cost);

/* Open an element, from the arguments of libxml2's startElementNs callback; the first one
 * opened becomes the subtree's root. doc is the parser's document. Returns 0 or -ENOMEM. */
int fm_tree_start(struct feed_tree *t, xmlDocPtr doc, const xmlChar *localname,
                  const xmlChar *prefix, const xmlChar *uri, int nb_attributes, int nb_defaulted,
                  const xmlChar **attributes);

/* Close the element opened last. */
void fm_tree_end(struct feed_tree *t);

/* Character data (n bytes of UTF-8) in the open element. */
void fm_tree_text(struct feed_tree *t, const char *s, size_t n);

/* An entity reference libxml2 left unexpanded; the element handlers expand it within the
 * entity budget. */
void fm_tree_reference(struct feed_tree *t, const xmlChar *name);

/* The subtree built so far (NULL if none), still owned by t. */
xmlNodePtr fm_tree_finish(struct feed_tree *t);

/* Free the subtree; t is ready for the next one. */
void fm_tree_reset(struct feed_tree *t);

/* Free everything t holds. */
void fm_tree_fini(struct feed_tree *t);

#endif
