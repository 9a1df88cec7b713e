/* URL helpers shared by the bundled plugins. */
#ifndef FMKIT_URL_H
#define FMKIT_URL_H

#include <stdbool.h>

/* Resolve reference `ref` against absolute URL `base` (RFC 3986 section 5.2, with the
 * remove_dot_segments algorithm of 5.2.4). Leading/trailing whitespace of both is ignored.
 * When base is NULL or empty, or ref is already absolute, a copy of ref (with dot segments
 * removed when it is absolute) is returned. Returns a malloc'd string the caller frees, or NULL
 * when ref is NULL or on OOM. */
char *fm_url_resolve(const char *base, const char *ref);

/* true when url is an absolute http:// or https:// URL (scheme case-insensitive) with a
 * non-empty host. */
bool fm_url_is_http(const char *url);

/* A copy of url without tracking query parameters (utm_*, fbclid, gclid, dclid, msclkid,
 * mc_cid, mc_eid, yclid, _hsenc, _hsmi, igshid, ...). Other parameters keep their order; an
 * empty query loses its '?'; the fragment is kept. Returns malloc'd, NULL on OOM or NULL url. */
char *fm_url_strip_tracking(const char *url);

/* The scheme of url lower-cased into out (size n), e.g. "https"; returns false when url has no
 * scheme (it is relative). */
bool fm_url_scheme(const char *url, char *out, unsigned n);

#endif
