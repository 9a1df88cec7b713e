/* Feed autodiscovery and cheap facts about an HTML page. */
#ifndef FM_FETCH_HTTP_DISCOVER_H
#define FM_FETCH_HTTP_DISCOVER_H

#include <stddef.h>

struct fm_html_info {
	char *feed_url; /* first <link rel="alternate" type="application/(rss|atom|rdf)+xml|
	                 * feed+json"> href, resolved against the page URL (or a <base href>);
	                 * NULL when none. malloc'd */
	char *title;    /* <title> text, whitespace collapsed; NULL when none. malloc'd */
};

/* Scan the <head> of an HTML page (UTF-8, len bytes) with libxml2's HTML parser in SAX mode,
 * stopping at <body>, so the cost does not grow with the page. Returns 0 or -ENOMEM. */
int fm_html_scan(const char *html, size_t len, const char *page_url, struct fm_html_info *info);
void fm_html_info_free(struct fm_html_info *info);

#endif
