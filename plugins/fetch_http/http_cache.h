/*
 * How long a response stays fresh, by its caching headers (RFC 9111 section 4.2), for the
 * scheduler: a feed served with "Cache-Control: max-age=600" will not change for ten minutes,
 * so polling it sooner only costs the publisher (reported as FM_REPORT_MAX_AGE).
 *
 * The header callback hands each header line to fm_http_cache_header() as it arrives; nothing
 * is allocated. What counts is what a private cache reads: max-age, else Expires relative to
 * Date; no-cache and no-store mean "ask every time" (no freshness); Age and the apparent age
 * (now - Date) are taken off. s-maxage is ignored on purpose: it is what a CDN may keep, and
 * news sites commonly pair a long s-maxage with a purge on publication, so honouring it would
 * hold back exactly the stories that are new.
 */
#ifndef FM_FETCH_HTTP_CACHE_H
#define FM_FETCH_HTTP_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The caching headers of one response (zeroed: none seen). */
struct fm_http_cache {
	int64_t max_age; /* seconds, when has_max_age (an invalid value is 0: stale) */
	int64_t expires; /* Unix seconds, when has_expires (an invalid date is 0: in the past) */
	int64_t date;    /* Unix seconds, when has_date */
	int64_t age;     /* seconds from Age; 0 when absent */
	bool has_max_age, has_expires, has_date, no_cache;
};

/* Take one header line: name (nlen bytes, any case) and its raw value (vlen bytes, spaces
 * and the line end included). Lines of other headers are ignored; Cache-Control lines add up.
 * A directive or header given twice keeps its first value (RFC 9111 section 4.2.1). */
void fm_http_cache_header(struct fm_http_cache *c, const char *name, size_t nlen,
                          const char *value, size_t vlen);

/* Seconds the response stays fresh from now_s (Unix seconds): 0 when it is stale or must be
 * revalidated every time, at most 365 days; -1 when its headers say nothing about it. */
int64_t fm_http_fresh_for(const struct fm_http_cache *c, int64_t now_s);

#endif
