/*
 * feedmill plugin SDK: the document contract.
 *
 * A document is a JSON object (jansson). These field names are a public contract read by
 * third-party plugins and by downstream consumers of what publish writes; docs/ in README.md
 * ("Documents") says the same. A stage must cope with any field missing, and must keep fields it
 * does not know.
 *
 * Text fields are UTF-8. Dates are RFC 3339 strings in UTC ("2024-11-02T09:30:00Z") or null.
 *
 * URL fields (url, comments, authors[].uri, enclosures[].url, feed.link; also image, which
 * fetch copies from a feed item, and live_of) are always an absolute http or https URL, or
 * absent (or null): never javascript:, vbscript:, data: or any other scheme, never relative,
 * however the feed spelled them (entities, case, controls). A consumer may link them as they
 * are. The bundled fetch and clean stages remove any other value before they emit a document,
 * and the bundled publishers again before they write one; a third-party stage that sets these
 * fields must keep to the same rule.
 */
#ifndef FEEDMILL_DOC_H
#define FEEDMILL_DOC_H

#include <stdint.h>
#include <string.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- The request the scheduler sends to the fetch stage (one per due source) --- */
#define FM_DOC_TYPE "type"                 /* "fetch" for a request; absent on articles */
#define FM_DOC_TYPE_FETCH "fetch"
#define FM_DOC_SOURCE_TYPE "source_type"   /* "auto" | "feed" | "html" */
#define FM_DOC_ETAG "etag"                 /* validators from the last successful fetch */
#define FM_DOC_LAST_MODIFIED "last_modified"
#define FM_DOC_SOURCE_OPTIONS "source_options" /* object: per-source overrides, typed */
#define FM_DOC_SOURCE_TAGS "source_tags"   /* array of strings set on the source */
#define FM_DOC_SOURCE_URL "source_url"   /* the source's configured URL, sent when "url" is
                                         * another one: the feed autodiscovered from that
                                         * page, fetched directly. Its host stays the one
                                         * trusted as the source's own (allow_private_links) */

/* --- Article documents --- */
#define FM_DOC_ID "id"             /* stable id: the item's GUID/id, else its URL */
#define FM_DOC_SOURCE "source"     /* source name from pipeline.conf */
#define FM_DOC_URL "url"           /* the article's link: absolute http(s), or absent */
#define FM_DOC_TITLE "title"       /* plain text */
#define FM_DOC_SUMMARY "summary"   /* sanitized HTML, from the feed */
#define FM_DOC_CONTENT "content"   /* sanitized HTML, full content from the feed */
#define FM_DOC_PAGE_HTML "page_html" /* raw page HTML (untrusted), from fetch to clean only */
#define FM_DOC_HTML "html"         /* sanitized HTML of the main content, set by clean */
#define FM_DOC_TEXT "text"         /* plain text, paragraphs separated by blank lines */
#define FM_DOC_PUBLISHED "published"
#define FM_DOC_UPDATED "updated"
#define FM_DOC_AUTHORS "authors"   /* array of {"name","email","uri"}; uri: http(s) or absent */
#define FM_DOC_CATEGORIES "categories" /* array of strings, from the feed */
#define FM_DOC_ENCLOSURES "enclosures" /* array of {"url","type","length"};
                                        * url: http(s) or absent */
#define FM_DOC_COMMENTS "comments" /* URL of the comments page: http(s) or absent */
#define FM_DOC_LANG "lang"         /* BCP 47 language tag, "en" */
#define FM_DOC_FEED "feed"         /* object: {"title","link"} of the feed it came from;
                                    * link: http(s) or absent */
#define FM_DOC_FETCHED_AT "fetched_at" /* RFC 3339, when fetch got it */
#define FM_DOC_TAGS "tags"         /* array of strings, set by classify */
#define FM_DOC_CATEGORY "category" /* string: the label a trained model chose */
#define FM_DOC_CATEGORY_SCORE "category_score"
#define FM_DOC_DUPLICATE_OF "duplicate_of" /* id of the earlier document this one copies */
#define FM_DOC_ALSO_REPORTED_BY "also_reported_by" /* array of source names */
#define FM_DOC_REVISION "revision" /* integer >= 2: the document changed since it was
                                    * published under the same id (a correction, an update);
                                    * absent on a first publication. Outputs write each
                                    * revision once. Set by dedupe. */

/* --- Keys a stage may report() to the core (the fetch stage, to the scheduler) --- */
#define FM_REPORT_HTTP_STATUS "http_status"   /* integer */
#define FM_REPORT_ETAG "etag"                 /* string */
#define FM_REPORT_LAST_MODIFIED "last_modified" /* string */
#define FM_REPORT_NOT_MODIFIED "not_modified" /* true: 304, nothing parsed */
#define FM_REPORT_ERROR "error"               /* string: why the fetch failed */
#define FM_REPORT_RETRY_AFTER "retry_after"   /* integer seconds, from Retry-After */
#define FM_REPORT_ITEMS "items"               /* integer: documents emitted */
#define FM_REPORT_FEED_URL "feed_url"         /* string: feed found by autodiscovery; the
                                               * validators reported with it are the feed's */
/* When to poll again (README, "The scheduler"). Each is what this fetch learned; the scheduler
 * keeps the feed's own (ttl, update_*) across 304s, until a fetch parses the feed again. */
#define FM_REPORT_MAX_AGE "max_age"           /* integer seconds the response stays fresh by
                                               * Cache-Control max-age, else Expires - Date (0:
                                               * revalidate every time); absent or null: not
                                               * said */
#define FM_REPORT_FEED_TTL "feed_ttl"         /* integer seconds: the feed's <ttl> */
#define FM_REPORT_UPDATE_PERIOD "update_period" /* integer seconds between the feed's updates:
                                               * sy:updatePeriod / sy:updateFrequency */
#define FM_REPORT_UPDATE_BASE "update_base"   /* integer Unix seconds: sy:updateBase, the
                                               * instant those updates count from */
#define FM_REPORT_ITEM_KEYS "item_keys"       /* array of integers, present exactly when a feed
                                               * was parsed (empty for an empty feed): a stable
                                               * 32-bit hash of each emitted item's id (fetch_http:
                                               * FNV-1a), at most FM_REPORT_ITEM_KEYS_MAX of them.
                                               * The scheduler counts the keys its last fetch of
                                               * the source did not have as new items */
#define FM_REPORT_ITEM_KEYS_MAX 4096

/* Convenience readers; they return NULL / fallback when the field is absent or mistyped. */
static inline const char *fm_doc_str(const json_t *doc, const char *key)
{
	return json_string_value(json_object_get(doc, key));
}

static inline int64_t fm_doc_int(const json_t *doc, const char *key, int64_t fallback)
{
	json_t *v = json_object_get(doc, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : fallback;
}

/* Set a string field (copied). Returns 0 or -1 on allocation failure. */
static inline int fm_doc_set_str(json_t *doc, const char *key, const char *value)
{
	return json_object_set_new(doc, key, value ? json_string(value) : json_null());
}

#ifdef __cplusplus
}
#endif

#endif /* FEEDMILL_DOC_H */
