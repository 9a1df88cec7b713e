/* URL helpers shared by the bundled plugins. */
#ifndef FMKIT_URL_H
#define FMKIT_URL_H

#include <stdbool.h>
#include <stddef.h>

/* Resolve reference `ref` against absolute URL `base` (RFC 3986 section 5.2, with the
 * remove_dot_segments algorithm of 5.2.4). Leading/trailing whitespace of both is ignored.
 * When base is NULL or empty, or ref is already absolute, a copy of ref (with dot segments
 * removed when it is absolute) is returned. Returns a malloc'd string the caller frees, or NULL
 * when ref is NULL or on OOM. */
char *fm_url_resolve(const char *base, const char *ref);

/* true when url, as given to libcurl, is an absolute http:// or https:// URL (scheme
 * case-insensitive) with a host: white space at either end is ignored, nothing else is. This is
 * the test for what may be fetched; for what may be published, see fm_url_is_safe_http(). */
bool fm_url_is_http(const char *url);

/* true when s, read as a browser reads a URL, is an http or https URL with a host: the only
 * kind of URL a document's URL fields may hold (feedmill/doc.h) and an output may link to.
 *
 * The WHATWG URL standard's basic URL parser first strips leading and trailing C0 controls and
 * spaces and removes ASCII tab, LF and CR anywhere, so "\x01 ht\ttps://x" is https and
 * "java\tscript:" is javascript:. What is left must be the scheme http or https (any case),
 * "://", and a host: no white space or control characters, an optional port of digits, after
 * optional userinfo. Anything else is refused: other schemes (javascript:, vbscript:, data:,
 * file:...), relative references, HTML character references (a consumer may decode
 * "&#106;avascript:"), percent-encoded schemes, backslashes or extra slashes in place of
 * "//", an empty host. What follows the host is not looked at, so "https://x/javascript:" and
 * "https://x/%6a" are fine. NULL is refused. */
bool fm_url_is_safe_http(const char *s);

/* What a URL attribute value is, for sanitizers and checkers of HTML output. */
enum fm_url_kind {
	FM_URL_EMPTY,    /* nothing but spaces and controls: a link to the document itself */
	FM_URL_FRAGMENT, /* "#..." within the document */
	FM_URL_RELATIVE, /* no scheme: resolved against the document's URL */
	FM_URL_HTTP,     /* fm_url_is_safe_http() */
	FM_URL_OTHER,    /* any other scheme, or an http(s) one that is not a well-formed URL */
};

/* Classify s. The scheme is read leniently on purpose: every control character and space
 * before the ':' is skipped (browsers skip tab and newline there, and older parsers more), so
 * "java\x01script:" counts as javascript:, never as relative. For FM_URL_HTTP and
 * FM_URL_OTHER the scheme, lower-cased and without ':', goes to scheme[0..n) ("" when it does
 * not fit) and *rest (rest may be NULL) points after the ':'; otherwise scheme is "" and *rest
 * is s. */
enum fm_url_kind fm_url_classify(const char *s, char *scheme, size_t n, const char **rest);

/* A copy of url without tracking query parameters (utm_*, fbclid, gclid, dclid, msclkid,
 * mc_cid, mc_eid, yclid, _hsenc, _hsmi, igshid, ...). Other parameters keep their order; an
 * empty query loses its '?'; the fragment is kept. Returns malloc'd, NULL on OOM or NULL url. */
char *fm_url_strip_tracking(const char *url);

/* The scheme of url lower-cased into out (size n), e.g. "https"; returns false when url has no
 * scheme (it is relative). */
bool fm_url_scheme(const char *url, char *out, unsigned n);

#endif
