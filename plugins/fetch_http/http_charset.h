/* Decoding fetched HTML pages to UTF-8 (see http_charset.c for how the charset is chosen). */
#ifndef FM_FETCH_HTTP_CHARSET_H
#define FM_FETCH_HTTP_CHARSET_H

#include <stddef.h>

struct fm_utf8 {
	const char *s;       /* the UTF-8 text: points into the input or at owned */
	size_t len;
	char *owned;         /* malloc'd when a conversion was needed, else NULL: free it */
	const char *charset; /* static name of the charset the bytes were read as */
};

/* Decode an HTML body of len bytes to valid UTF-8 without NUL bytes, using the HTTP charset
 * (may be NULL), a BOM, or a <meta> declaration; undeclared bytes are UTF-8 unless they are
 * clearly not (then windows-1252). Undecodable bytes become U+FFFD (in UTF-8, one per maximal
 * subpart of an ill-formed sequence: valid characters around them are kept). Returns 0,
 * or -ENOMEM. res->s is NULL only on failure. */
int fm_http_to_utf8(const char *data, size_t len, const char *http_charset,
                    struct fm_utf8 *res);

#endif
