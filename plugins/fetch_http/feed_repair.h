/* Internal to the XML feed reader: repair of stray '&' and undeclared HTML entities (see
 * feed_repair.c for why). */
#ifndef FM_FETCH_HTTP_FEED_REPAIR_H
#define FM_FETCH_HTTP_FEED_REPAIR_H

#include <stddef.h>

#include "feed_priv.h"

/* The document with each repair made, reported in c's errors: a malloc'd copy (*outlen bytes,
 * NUL-terminated), or NULL when nothing needed repair (or on OOM). */
char *fm_feed_repair_entities(struct feed_ctx *c, const char *data, size_t len, size_t *outlen);

#endif
