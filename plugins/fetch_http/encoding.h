/* Character encoding of feed bodies: find it, convert to UTF-8. */
#ifndef FM_FETCH_HTTP_ENCODING_H
#define FM_FETCH_HTTP_ENCODING_H

#include <stdbool.h>
#include <stddef.h>

struct fm_enc_result {
	char *owned;       /* converted copy (malloc'd), or NULL when the input is used as is */
	const char *data;  /* UTF-8 text without BOM: owned, or a pointer into the input */
	size_t len;
	char name[40];     /* the encoding the bytes were read as ("utf-8", "windows-1252") */
	char error[200];   /* non-empty when the declared encoding was wrong or missing */
};

/* Decide the encoding of a feed body (BOM, then the HTTP charset, then the XML declaration,
 * then UTF-8; a declaration the bytes contradict is replaced by a detected encoding and
 * reported in `error`) and produce UTF-8. Text read as UTF-8 keeps every well-formed
 * character, each ill-formed sequence becoming U+FFFD; only a body that is clearly not UTF-8
 * is read as windows-1252. Returns 0, or -ENOMEM. free(res->owned) after use. */
int fm_feed_to_utf8(const char *data, size_t len, const char *http_charset,
                    struct fm_enc_result *res);

/* Length of the longest prefix of s that is valid UTF-8 (== len when all of it is). */
size_t fm_utf8_valid_prefix(const char *s, size_t len);

#endif
