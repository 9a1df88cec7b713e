/*
 * The URL fields of a document, as a promise to whoever reads the outputs: each one holds an
 * http or https URL (fm_url_is_safe_http(), url.h), or is absent (or null). A consumer may put
 * them in an href as they are; a javascript:, vbscript: or data: link from a hostile feed must
 * never reach it, however it is spelled.
 *
 * The fields (feedmill/doc.h): url, comments, image, live_of, authors[].uri, enclosures[].url,
 * feed.link.
 *
 * The fetch and clean stages call fm_doc_strip_unsafe_urls() on every document they emit, and
 * every publisher calls it on every document it writes (an output also takes documents from
 * `feedmill pipe`, third-party stages, or an older feedmill), so neither end depends on the
 * other.
 */
#ifndef FMKIT_DOC_URLS_H
#define FMKIT_DOC_URLS_H

#include <jansson.h>

#include <feedmill/host.h>

/* Remove from doc every URL field whose value is not an http(s) URL: a string that
 * fm_url_is_safe_http() refuses (or that holds a NUL byte), or a value of another JSON type
 * (null is left: it means absent). A top-level field, feed.link or an author's uri is
 * deleted; an enclosure whose url is refused is deleted from the enclosures array (a url is
 * all an enclosure is).
 * Fields other than the URL fields, and URLs that pass, are not touched.
 *
 * host (may be NULL: silent) gets one debug line per removal, naming the document's id, the
 * field and the URL's scheme, never the URL itself (it may hold credentials or be crafted for
 * the log). inst is the instance to name in that line (may be NULL).
 *
 * Returns how many fields or enclosures were removed (0 when doc is not an object). Allocates
 * nothing, so it cannot fail. doc stays owned by the caller. */
int fm_doc_strip_unsafe_urls(json_t *doc, const fm_host *host, fm_instance *inst);

#endif
