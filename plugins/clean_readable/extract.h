/*
 * Main-content extraction: the code shared by the clean_readable stage and `feedmill extract`.
 */
#ifndef FM_CLEAN_READABLE_EXTRACT_H
#define FM_CLEAN_READABLE_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct rd_boiler; /* boiler.h */

/* Limits and thresholds (the stage's options land here). */
struct rd_limits {
	uint64_t max_html_size; /* bytes; a larger page is cut to this size before parsing */
	int64_t max_depth;      /* elements nested deeper are ignored (with their subtree) */
	int64_t max_nodes;      /* elements past this count are ignored */
	int64_t min_words;      /* a block with fewer words is "short" (not content on its own) */
	double max_link_density; /* a block with more link text than this share is boilerplate */
};

#define RD_LIMITS_DEFAULT {20u << 20, 512, 500000, 10, 0.5}

#define RD_MAX_AUTHORS 8

struct rd_result {
	char *title;     /* plain text, site name removed; NULL if none */
	char *text;      /* normalised plain text, paragraphs separated by blank lines */
	char *html;      /* sanitized HTML of the main content */
	time_t published; /* -1 if unknown */
	char *authors[RD_MAX_AUTHORS];
	int n_authors;
	char lang[16];   /* BCP 47 primary tag, "" if unknown */
	char *canonical; /* canonical URL when the page names one, else NULL */
	const char *error; /* static message when nothing could be extracted (binary, empty...) */
	bool truncated;    /* the page was cut to max_html_size */
	bool depth_capped; /* elements beyond max_depth/max_nodes were ignored */
};

void rd_result_free(struct rd_result *r);

/* Extract the main content of an HTML page: raw bytes in any charset (detected from a BOM or
 * <meta charset>, else UTF-8, falling back to windows-1252). url (may be NULL) resolves
 * relative links and feeds the date guess. boiler (may be NULL) strips blocks learned as
 * recurring for source `source` (may be NULL) and learns from this page.
 * Returns 0 (r filled; r->error set when the page had no usable content, with r->text "") or
 * -ENOMEM. r is zeroed first. */
int rd_extract_page(const char *data, size_t len, const char *url, const struct rd_limits *lim,
                    struct rd_boiler *boiler, const char *source, struct rd_result *r);

/* The same for an already sanitized HTML fragment (a feed's content/summary): no container
 * search, every block kept except learned boilerplate. */
int rd_extract_fragment(const char *html, size_t len, const char *url,
                        const struct rd_limits *lim, struct rd_boiler *boiler,
                        const char *source, struct rd_result *r);

/* Decode raw page bytes to UTF-8 (see rd_extract_page). Returns a malloc'd NUL-terminated
 * buffer and its length, or NULL with *err set to a static message (binary data, OOM). */
char *rd_decode_page(const char *data, size_t len, size_t *out_len, const char **err);

/* Remove the contents of <script> (but JSON-LD) and <style> elements in place; returns the new
 * length (buf stays NUL-terminated). */
size_t rd_strip_scripts(char *buf, size_t len);

/* Parse a date as found in HTML pages (ISO 8601, RFC 2822, "November 19, 2019", "19 Nov 2019",
 * "2019/11/19", with or without time and zone). Returns seconds since the epoch (UTC) or -1. */
time_t rd_parse_date(const char *s);

/* A date embedded in a URL path (/2019/11/19/, /20191119/, /2019-11-19-...), or -1. */
time_t rd_url_date(const char *url);

/* RFC 3339 UTC into out. */
void rd_format_date(time_t t, char out[32]);

#endif
