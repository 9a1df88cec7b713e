/*
 * Feed parsing for the fetch_http plugin and the `feedmill parse` command.
 *
 * Formats: RSS 0.90-0.94, RSS 1.0 (RDF), RSS 2.0, Atom 0.3 and 1.0, JSON Feed 1.0/1.1, with the
 * content:, dc:, dcterms:, media:, itunes: namespaces, and the syndication module (sy:) and RSS
 * <ttl> that say how often the channel changes. Input bytes in any encoding (BOM, HTTP
 * charset, XML declaration, detection; UTF-8 with a few bad bytes keeps its text, each bad
 * sequence becoming U+FFFD). libxml2 in recovery mode: ill-formed documents still yield their
 * items, with `errors` saying what went wrong and where. No network, no DTD loading, no
 * external entities, bounded entity expansion, depth and item count. RSS/Atom are read as a
 * stream (feed_stream.c): memory is bounded by the items kept, not by the body.
 */
#ifndef FM_FETCH_HTTP_FEED_H
#define FM_FETCH_HTTP_FEED_H

#include <stddef.h>

#include <jansson.h>

struct fm_feed_opts {
	const char *base_url;        /* the document's URL (or --base): relative URLs resolve
	                              * against xml:base, then this; may be NULL */
	const char *http_charset;    /* charset= from Content-Type; NULL if none */
	size_t max_items;            /* 0: default (10000) */
	size_t max_depth;            /* element nesting; 0: default (256) */
	size_t max_entity_expansion; /* bytes of entity text; 0: default (1 MiB) */
};

/* Parse a feed body. Returns a new JSON object in the `feedmill parse` contract shape:
 * {"format","errors":[...],"feed":{...},"items":[...]} (without "file"). The caller owns it.
 * Never NULL except on OOM. opts may be NULL (defaults). */
json_t *fm_feed_parse(const char *data, size_t len, const struct fm_feed_opts *opts);

/* 1 if the body looks like a feed (XML root rss, feed, rdf:RDF or channel; or a JSON object
 * with a jsonfeed.org "version"), 0 otherwise. Looks at the first few KiB only. */
int fm_feed_sniff(const char *data, size_t len);

#endif
