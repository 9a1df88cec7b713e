/* Internal to the feed parser: state shared by feed.c (entry, encodings, JSON Feed) and the
 * XML reader (feed_stream.c and the files it uses). */
#ifndef FM_FETCH_HTTP_FEED_PRIV_H
#define FM_FETCH_HTTP_FEED_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "buf.h"
#include "encoding.h"
#include "feed.h"

#define FEED_MAX_ERRORS 20

enum feed_format {
	FMT_UNKNOWN = 0,
	FMT_RSS20,
	FMT_RSS10,
	FMT_RSS090,
	FMT_RSS09X,
	FMT_ATOM10,
	FMT_ATOM03,
	FMT_JSON,
};

struct link_state {
	int rank; /* how good the link chosen so far is (0: none) */
};

/* Field precedence: the rank of the element each field was taken from (0: none yet). */
struct ranks {
	int title, summary, content, id, published, updated, image;
};

/* The channel's fields are read one child element at a time: what was taken so far. */
struct channel_state {
	struct ranks rk;
	struct link_state ls;
	int rights, lang, gen;
};

struct feed_ctx {
	json_t *result, *errors, *feed, *items;
	const char *base_url;
	size_t max_items, max_depth;
	size_t entity_left; /* bytes of entity text we may still expand */
	bool entity_limit_hit, entity_bomb, items_limit_hit, external_entity_seen;
	int format;
	char *root_href;        /* namespace URI of the document element (malloc'd), or NULL */
	const char *outer_base; /* base URL in effect at the parent of the subtree being read */
	char *channel_lang;     /* xml:lang in effect at the channel (malloc'd), or NULL */
	struct channel_state chan;
	struct fm_buf tmp;
};

int fm_feed_parse_xml(struct feed_ctx *c, const char *data, size_t len);
int fm_feed_parse_json(struct feed_ctx *c, const char *data, size_t len);

#endif
