/*
 * What a fetch tells the scheduler about when to come back (report keys in feedmill/doc.h):
 * how long the response stays fresh, what the feed says about its updates, and one key per
 * item so that the scheduler can count the items that are new since its last poll. Kept out
 * of plugin.c so the fetching there can change without touching it.
 */
#ifndef FM_FETCH_HTTP_POLL_HINTS_H
#define FM_FETCH_HTTP_POLL_HINTS_H

#include <stdbool.h>
#include <stdint.h>

#include <feedmill/plugin.h>

#include "http.h"

/* Report FM_REPORT_MAX_AGE for resp, when its caching headers say anything; with replace,
 * null when they do not (resp is a later answer of the same fetch, such as the feed found
 * on a page: the page's freshness is not the feed's). */
void fm_hints_report_fresh(const fm_host *h, fm_out *out, const struct fm_http_response *resp,
                           bool replace);

/* Report FM_REPORT_FEED_TTL, _UPDATE_PERIOD and _UPDATE_BASE from a parse result's "feed"
 * object (feed.h), for those it has. */
void fm_hints_report_feed(const fm_host *h, fm_out *out, const json_t *feed);

/* The key of an item id in FM_REPORT_ITEM_KEYS (32-bit FNV-1a; NULL hashes as ""). */
uint32_t fm_hints_item_key(const char *id);

/* Append a key to the array being built for FM_REPORT_ITEM_KEYS, up to the maximum. keys may
 * be NULL (out of memory when it was made): nothing happens. */
void fm_hints_add_key(json_t *keys, uint32_t key);

#endif
