/* Careful XML text output for the Atom publisher. */
#ifndef FM_PUBLISH_XMLOUT_H
#define FM_PUBLISH_XMLOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Append s[0..n) as XML 1.0 character data (attr: also for a double-quoted attribute value):
 * & < > (and " in attributes) become references; characters XML 1.0 forbids (C0 controls but
 * tab/LF/CR, U+FFFE, U+FFFF) and C1 controls are removed; bytes that are not UTF-8 become
 * U+FFFD. The output is therefore always well-formed, whatever the input. */
void fm_xml_escape(struct fm_buf *b, const char *s, size_t n, bool attr);

/* Is s an RFC 3339 date-time ("2024-11-02T09:30:00Z", "...:00.123+01:00")? */
bool fm_is_rfc3339(const char *s);

/* Is s usable as an atom:id as it is: an absolute IRI (scheme ":" ...) without white space,
 * controls or the characters RFC 3987 excludes (<>"{}|\^`)? */
bool fm_is_iri(const char *s);

/* Append s percent-encoded (all but RFC 3986 unreserved characters). */
void fm_pct_encode(struct fm_buf *b, const char *s);

/* Is s a plausible BCP 47 language tag (letters/digits in subtags of 1-8, joined by '-')? */
bool fm_is_lang_tag(const char *s);

#endif
