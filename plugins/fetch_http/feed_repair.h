/* Internal to the XML feed reader: repair of stray '&' and undeclared HTML entities on the
 * way to the parser (see feed_repair.c for why). */
#ifndef FM_FETCH_HTTP_FEED_REPAIR_H
#define FM_FETCH_HTTP_FEED_REPAIR_H

#include <stddef.h>

#include "feed_priv.h"

/* Receives the document in order, in pieces; a negative return stops the repair. */
typedef int (*fm_feed_sink)(void *ud, const char *s, size_t n);

/* Pass data[0..len) to sink with each repair made and reported in c's errors. Nothing is
 * copied but the replacements: unrepaired stretches are handed over in place. Returns the
 * last sink's result (0, or the negative value that stopped it). */
int fm_feed_repair(struct feed_ctx *c, const char *data, size_t len, fm_feed_sink sink, void *ud);

#endif
