/* Internal to the feed parser: state shared by feed.c (entry, encodings, JSON Feed) and
 * feed_content.c, feed_elements.c (RSS/Atom). */
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

struct feed_ctx {
	json_t *result, *errors, *feed, *items;
	const char *base_url;
	size_t max_items, max_depth;
	size_t entity_left; /* bytes of entity text we may still expand */
	bool entity_limit_hit, entity_bomb, items_limit_hit, external_entity_seen;
	int format;
	void *root; /* xmlNodePtr of the document element */
	struct fm_buf tmp;
};

int fm_feed_parse_xml(struct feed_ctx *c, const char *data, size_t len);
int fm_feed_parse_json(struct feed_ctx *c, const char *data, size_t len);

#endif
