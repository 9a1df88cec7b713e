/*
 * dedupe_similar: canonical article URLs, so that the same story reached through a tracking
 * link, an AMP or mobile page, another scheme or an index.html is recognised as one.
 */
#ifndef DD_CANON_H
#define DD_CANON_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

struct fm_buf;

struct dd_url_rule {
	regex_t re;
	char *replacement; /* \0..\9 refer to the match and its groups */
};

struct dd_canon {
	char **strip_params; /* extra query parameter names; "name*" strips a prefix */
	size_t nstrip;
	struct dd_url_rule *rules; /* applied in order to the canonical URL, first match each */
	size_t nrules;
};

/* Compile the option values. params/rules may be NULL. A rule is "REGEX => REPLACEMENT"
 * (POSIX extended, case-insensitive). On a bad rule returns -EINVAL and writes why into
 * err (size errlen). */
int dd_canon_init(struct dd_canon *c, char *const *params, size_t nparams, char *const *rules,
                  size_t nrules, char *err, size_t errlen);
void dd_canon_fini(struct dd_canon *c);

/* Write the canonical form of url into out (reset first). Returns true when the result can
 * identify an article (an http(s) URL with a host and a path or query other than "/"). */
bool dd_canon_url(const struct dd_canon *c, const char *url, struct fm_buf *out);

#endif
