/*
 * Internal to the XML feed reader: what the reader loop (feed_stream.c) asks of the element
 * handlers (feed_elements.c). The loop sees the document as a stream of SAX2 events and never
 * holds more of it than one subtree (feed_tree.h); the handlers decide what a feed's elements
 * are and read each finished subtree into the result.
 */
#ifndef FM_FETCH_HTTP_FEED_STREAM_H
#define FM_FETCH_HTTP_FEED_STREAM_H

#include <stdbool.h>

#include <jansson.h>
#include <libxml/tree.h>

#include "feed_content.h"
#include "feed_priv.h"

/* The format a document element announces: its local name, namespace URI (NULL: none), its
 * version attribute (NULL: none), and whether it declares the RSS 0.90 namespace. */
int fm_feed_format(const char *local, const char *href, const char *version,
                   bool declares_rss090);

/* The name of a format in the result ("rss2.0", ... "unknown"). */
const char *fm_feed_format_name(int format);

/* The namespace URI of RSS 0.90: an RDF document using it is RSS 0.90, not 1.0. */
#define FM_FEED_RSS090_NS "http://my.netscape.com/rdf/simple/0.9/"

/* An element of class cls (namespace URI href, NULL: none) and this local name, found in the
 * channel or at the top of the document, is an item (or an Atom entry). */
bool fm_feed_is_item(struct feed_ctx *c, enum ns cls, const char *local, const char *href);

/* The channel reader looks at children of this class (so others need not be built). */
bool fm_feed_channel_reads(struct feed_ctx *c, enum ns cls, const char *href);

/* Read one child element of the channel (or of an Atom feed) into c->feed. The fields read so
 * far and their precedence are kept in c->chan. c->outer_base is the base URL in effect at
 * the channel. */
void fm_feed_read_channel_field(struct feed_ctx *c, xmlNodePtr n);

/* After the channel: what only the whole of it tells (the language of xml:lang). */
void fm_feed_channel_done(struct feed_ctx *c);

/* A new item object from an item/entry subtree (NULL on OOM). c->outer_base is the base URL
 * in effect at its parent. */
json_t *fm_feed_read_item(struct feed_ctx *c, xmlNodePtr item);

#endif
