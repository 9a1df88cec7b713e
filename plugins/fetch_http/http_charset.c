/*
 * Decoding HTML page bodies to UTF-8 for "page_html".
 *
 * The charset is chosen as the WHATWG "encoding sniffing algorithm" does, simplified: a BOM
 * wins, then the HTTP charset, then a <meta charset> / <meta http-equiv content="...charset=">
 * in the first 4 KiB (the spec's prescan looks at 1024 bytes; real pages put long <head>s
 * first), then UTF-8 unless the bytes are clearly not UTF-8 (more ill-formed sequences than
 * well-formed multi-byte ones), else windows-1252. Labels that the Encoding Standard maps to
 * windows-1252 (latin1, iso-8859-1, us-ascii) are decoded as such. Text read as UTF-8 keeps
 * every well-formed character; each ill-formed sequence becomes one U+FFFD (maximal subparts,
 * as the Encoding Standard's decoder does), so a page with a few damaged bytes is not turned
 * into mojibake by a whole-page fallback.
 */
#include "http_charset.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "text.h"

#define PRESCAN_BYTES 4096

static void label_copy(char *out, size_t n, const char *s, size_t len)
{
	size_t j = 0;
	while (len && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	for (size_t i = 0; i < len && j + 1 < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':'))
			break;
		out[j++] = (char)tolower(c);
	}
	out[j] = '\0';
}

/* Map a label to a name iconv knows, folding the Encoding Standard's aliases that matter. */
static const char *canonical(const char *label)
{
	static const char *const latin1[] = {"iso-8859-1", "iso8859-1", "latin1", "l1",
	                                     "us-ascii", "ascii", "cp819", "iso_8859-1",
	                                     "windows-1252", "cp1252", "x-cp1252", NULL};
	static const char *const utf8[] = {"utf-8", "utf8", "unicode-1-1-utf-8", NULL};
	if (!*label)
		return NULL;
	for (size_t i = 0; latin1[i]; i++)
		if (strcmp(label, latin1[i]) == 0)
			return "WINDOWS-1252";
	for (size_t i = 0; utf8[i]; i++)
		if (strcmp(label, utf8[i]) == 0)
			return "UTF-8";
	/* A <meta> or header claiming UTF-16 on a body without a BOM is wrong: the bytes were
	 * readable as ASCII to find the claim. The Encoding Standard says UTF-8 then. */
	if (strncmp(label, "utf-16", 6) == 0)
		return "UTF-8";
	return label;
}

static const char *memcasestr(const char *h, size_t hl, const char *n)
{
	size_t nl = strlen(n);
	for (size_t i = 0; i + nl <= hl; i++)
		if (strncasecmp(h + i, n, nl) == 0)
			return h + i;
	return NULL;
}

/* Find charset= inside the first <meta ...> tags of the prescan window. */
static void meta_charset(const char *data, size_t len, char *out, size_t n)
{
	size_t end = len < PRESCAN_BYTES ? len : PRESCAN_BYTES;
	const char *p = data, *lim = data + end;

	out[0] = '\0';
	while (p < lim) {
		const char *m = memcasestr(p, (size_t)(lim - p), "<meta");
		if (!m)
			return;
		const char *gt = memchr(m, '>', (size_t)(lim - m));
		const char *tag_end = gt ? gt : lim;
		const char *cs = memcasestr(m, (size_t)(tag_end - m), "charset");
		if (cs) {
			cs += 7;
			while (cs < tag_end && (isspace((unsigned char)*cs)))
				cs++;
			if (cs < tag_end && *cs == '=') {
				cs++;
				while (cs < tag_end && (isspace((unsigned char)*cs) || *cs == '"' ||
				                        *cs == '\''))
					cs++;
				label_copy(out, n, cs, (size_t)(tag_end - cs));
				if (out[0])
					return;
			}
		}
		p = m + 5;
	}
}

/* Decoders pass NUL through; later stages treat page_html as a C string. */
static int convert(const char *from, const char *data, size_t len, char **out, size_t *out_len)
{
	int rc = fm_text_iconv_to_utf8(from, data, len, out, out_len, NULL);
	if (rc == 0 && memchr(*out, '\0', *out_len)) {
		char *buf = *out;
		size_t j = 0;
		for (size_t i = 0; i < *out_len; i++)
			if (buf[i])
				buf[j++] = buf[i];
		buf[j] = '\0';
		*out_len = j;
	}
	return rc;
}

/* The charset of bytes nothing (or nothing iconv knows) declares: UTF-8, unless they are
 * clearly not UTF-8. */
static const char *undeclared(const char *data, size_t len)
{
	return fm_text_utf8_fit(data, len, NULL) == FM_UTF8_NOT ? "WINDOWS-1252" : "UTF-8";
}

int fm_http_to_utf8(const char *data, size_t len, const char *http_charset,
                    struct fm_utf8 *res)
{
	char label[64] = "";
	const char *enc = NULL;

	memset(res, 0, sizeof(*res));
	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
		data += 3;
		len -= 3;
		enc = "UTF-8";
	} else if (len >= 2 && (memcmp(data, "\xFF\xFE", 2) == 0 ||
	                        memcmp(data, "\xFE\xFF", 2) == 0)) {
		res->charset = data[0] == '\xFF' ? "UTF-16LE" : "UTF-16BE";
		int rc = convert(res->charset, data + 2, len - 2, &res->owned, &res->len);
		res->s = res->owned;
		return rc;
	}
	if (!enc && http_charset) {
		label_copy(label, sizeof(label), http_charset, strlen(http_charset));
		enc = canonical(label);
	}
	if (!enc) {
		meta_charset(data, len, label, sizeof(label));
		enc = canonical(label);
	}
	if (!enc)
		enc = undeclared(data, len);

	if (strcmp(enc, "UTF-8") != 0) {
		int rc = convert(enc, data, len, &res->owned, &res->len);
		if (rc == -EINVAL && strcmp(enc = undeclared(data, len), "UTF-8") != 0)
			rc = convert(enc, data, len, &res->owned, &res->len);
		if (rc != -EINVAL) {
			res->charset = enc;
			res->s = res->owned;
			return rc;
		}
		/* iconv does not know the label and the bytes are mostly UTF-8: read them so */
	}
	res->charset = "UTF-8";
	if (fm_text_utf8_valid(data, len) && !memchr(data, '\0', len)) {
		res->s = data; /* usable as is: no copy */
		res->len = len;
		return 0;
	}
	res->owned = fm_text_utf8_replace(data, len, true, &res->len, NULL);
	res->s = res->owned;
	return res->owned ? 0 : -ENOMEM;
}
