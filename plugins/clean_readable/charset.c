/* Page bytes to UTF-8: BOM, then <meta charset> (the HTML "prescan" idea, WHATWG HTML
 * 13.2.3.2, much simplified), then UTF-8 if valid, else windows-1252. */
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "extract.h"
#include "text.h"

/* windows-1252 0x80..0x9F; the rest of the range is Latin-1 */
static const uint16_t cp1252_hi[32] = {
	0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
	0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
	0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
};

static char *from_cp1252(const unsigned char *s, size_t n, size_t *out_len)
{
	char *out = malloc(n * 3 + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned c = s[i];
		if (c < 0x80) {
			if (c)
				*o++ = (char)c;
			continue;
		}
		unsigned cp = c < 0xA0 ? cp1252_hi[c - 0x80] : c;
		if (cp < 0x800) {
			*o++ = (char)(0xC0 | (cp >> 6));
			*o++ = (char)(0x80 | (cp & 0x3F));
		} else {
			*o++ = (char)(0xE0 | (cp >> 12));
			*o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
			*o++ = (char)(0x80 | (cp & 0x3F));
		}
	}
	*o = 0;
	*out_len = (size_t)(o - out);
	return out;
}

/* Convert with iconv; an invalid or unconvertible byte becomes U+FFFD. NULL when the charset
 * is unknown to iconv (the caller falls back) or on OOM. */
static char *from_iconv(const char *charset, const char *s, size_t n, size_t *out_len)
{
	iconv_t cd = iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1)
		return NULL;
	size_t cap = n * 2 + 64;
	char *out = malloc(cap);
	if (!out) {
		iconv_close(cd);
		return NULL;
	}
	char *in = (char *)s, *o = out;
	size_t inleft = n, outleft = cap - 1;
	while (inleft) {
		size_t r = iconv(cd, &in, &inleft, &o, &outleft);
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG || outleft < 4) {
			size_t used = (size_t)(o - out);
			cap = cap * 2 + 16;
			char *nb = realloc(out, cap);
			if (!nb) {
				free(out);
				iconv_close(cd);
				return NULL;
			}
			out = nb;
			o = out + used;
			outleft = cap - 1 - used;
			continue;
		}
		/* EILSEQ / EINVAL: skip one byte, mark it */
		memcpy(o, "\xEF\xBF\xBD", 3);
		o += 3;
		outleft -= 3;
		in++;
		inleft--;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	iconv_close(cd);
	*o = 0;
	/* drop NULs: they end C strings in libxml2 and jansson */
	size_t len = (size_t)(o - out), j = 0;
	for (size_t i = 0; i < len; i++)
		if (out[i])
			out[j++] = out[i];
	out[j] = 0;
	*out_len = j;
	return out;
}

/* Find charset=NAME inside a <meta ...> tag within the first bytes. */
static bool sniff_meta_charset(const char *s, size_t n, char *out, size_t outsz)
{
	if (n > 8192)
		n = 8192;
	const char *end = s + n;
	for (const char *p = s; p + 5 < end; p++) {
		if (*p != '<' || strncasecmp(p + 1, "meta", 4) != 0)
			continue;
		const char *gt = memchr(p, '>', (size_t)(end - p));
		if (!gt)
			return false;
		for (const char *q = p; q + 8 < gt; q++) {
			if (strncasecmp(q, "charset", 7) != 0)
				continue;
			q += 7;
			while (q < gt && (*q == ' ' || *q == '\t'))
				q++;
			if (q >= gt || *q != '=')
				continue;
			q++;
			while (q < gt && (*q == ' ' || *q == '"' || *q == '\''))
				q++;
			size_t k = 0;
			while (q < gt && k + 1 < outsz &&
			       (isalnum((unsigned char)*q) || *q == '-' || *q == '_' || *q == ':' ||
			        *q == '.'))
				out[k++] = *q++;
			out[k] = 0;
			if (k)
				return true;
		}
		p = gt;
	}
	return false;
}

static bool looks_binary(const unsigned char *s, size_t n)
{
	if (n > 4096)
		n = 4096;
	size_t ctl = 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '\f')
			ctl++;
	return ctl * 10 > n; /* text has next to none; images, archives, PDFs have plenty */
}

static char *dup_utf8(const char *s, size_t n, size_t *out_len)
{
	/* valid UTF-8: a plain copy without NULs */
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	size_t j = 0;
	for (size_t i = 0; i < n; i++)
		if (s[i])
			out[j++] = s[i];
	out[j] = 0;
	*out_len = j;
	return out;
}

char *rd_decode_page(const char *data, size_t len, size_t *out_len, const char **err)
{
	const unsigned char *u = (const unsigned char *)data;
	*err = NULL;
	if (len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF))) {
		char *r = from_iconv(u[0] == 0xFF ? "UTF-16LE" : "UTF-16BE", data + 2, len - 2,
		                     out_len);
		if (!r)
			*err = "out of memory";
		return r;
	}
	if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
		data += 3, len -= 3, u += 3;
		goto utf8;
	}
	if (looks_binary(u, len)) {
		*err = "not HTML (binary data)";
		return NULL;
	}
	char cs[40];
	if (sniff_meta_charset(data, len, cs, sizeof(cs))) {
		if (!strcasecmp(cs, "utf-8") || !strcasecmp(cs, "utf8"))
			goto utf8;
		/* WHATWG: these labels all mean windows-1252 */
		if (!strcasecmp(cs, "iso-8859-1") || !strcasecmp(cs, "latin1") ||
		    !strcasecmp(cs, "us-ascii") || !strcasecmp(cs, "ascii") ||
		    !strcasecmp(cs, "windows-1252") || !strcasecmp(cs, "cp1252") ||
		    !strcasecmp(cs, "iso8859-1"))
			goto cp1252;
		if (!strncasecmp(cs, "utf-16", 6)) /* a meta tag readable as ASCII is not UTF-16 */
			goto utf8;
		char *r = from_iconv(cs, data, len, out_len);
		if (r)
			return r;
	}
utf8:
	if (fm_text_utf8_valid(data, len)) {
		char *r = dup_utf8(data, len, out_len);
		if (!r)
			*err = "out of memory";
		return r;
	}
	/* mostly UTF-8 with a few bad bytes (a truncated page, a stray Latin-1 byte) stays
	 * UTF-8; otherwise the text was most likely written in windows-1252 */
	{
		size_t bad = 0, multi = 0;
		for (size_t i = 0; i < len;) {
			if (u[i] < 0x80) {
				i++;
				continue;
			}
			uint32_t cp;
			int k = fm_text_utf8_decode(u + i, len - i, &cp);
			if (cp == 0xFFFD && k == 1)
				bad++;
			else
				multi++;
			i += (size_t)k;
		}
		if (multi > bad * 4) {
			char *r = fm_text_utf8_repair(data, len, out_len);
			if (!r)
				*err = "out of memory";
			return r;
		}
	}
cp1252: {
	char *r = from_cp1252(u, len, out_len);
	if (!r)
		*err = "out of memory";
	return r;
}
}

/* Drop the bodies of <script> (except JSON-LD, which carries metadata) and <style> elements
 * in place before parsing: they are half the bytes of a typical news page, never content,
 * and the HTML tokenizer ends them at the first "</script" / "</style" exactly as done here.
 * Returns the new length. */
size_t rd_strip_scripts(char *buf, size_t len)
{
	char *end = buf + len, *w = buf, *r = buf;
	while (r < end) {
		char *lt = memchr(r, '<', (size_t)(end - r));
		if (!lt)
			break;
		size_t nlen = 0;
		if (end - lt > 7 && !strncasecmp(lt + 1, "script", 6))
			nlen = 6;
		else if (end - lt > 6 && !strncasecmp(lt + 1, "style", 5))
			nlen = 5;
		char d = nlen ? lt[1 + nlen] : 0;
		if (!nlen || !(d == '>' || d == ' ' || d == '\t' || d == '\n' || d == '\r' ||
		               d == '/')) {
			/* copy through this '<' */
			size_t n = (size_t)(lt + 1 - r);
			if (w != r)
				memmove(w, r, n);
			w += n;
			r = lt + 1;
			continue;
		}
		char *gt = memchr(lt, '>', (size_t)(end - lt));
		if (!gt)
			break;
		bool keep = false;
		if (nlen == 6) {
			/* type="application/ld+json" somewhere in the open tag */
			for (char *q = lt; q + 7 < gt; q++)
				if ((*q == 'l' || *q == 'L') && !strncasecmp(q, "ld+json", 7)) {
					keep = true;
					break;
				}
		}
		/* copy up to and including the open tag */
		size_t n = (size_t)(gt + 1 - r);
		if (w != r)
			memmove(w, r, n);
		w += n;
		r = gt + 1;
		if (keep || gt[-1] == '/')
			continue;
		/* find the close tag */
		char *q = r;
		char *close = NULL;
		while (q < end) {
			char *c = memchr(q, '<', (size_t)(end - q));
			if (!c || end - c < (ptrdiff_t)(nlen + 2))
				break;
			if (c[1] == '/' && !strncasecmp(c + 2, nlen == 6 ? "script" : "style", nlen)) {
				close = c;
				break;
			}
			q = c + 1;
		}
		if (!close) /* unterminated: the parser would swallow the rest as script too */
			r = end;
		else
			r = close;
	}
	if (r < end) {
		if (w != r)
			memmove(w, r, (size_t)(end - r));
		w += end - r;
	}
	*w = 0;
	return (size_t)(w - buf);
}
