#include "xmlout.h"

#include <stdint.h>
#include <string.h>

/* Decode one UTF-8 sequence strictly (no overlongs, no surrogates, <= U+10FFFF). Returns its
 * length, or 0 when s does not start a valid sequence. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t v, min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xE0) == 0xC0) {
		len = 2, v = c & 0x1F, min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		len = 3, v = c & 0x0F, min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		len = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

void fm_xml_escape(struct fm_buf *b, const char *s, size_t n, bool attr)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0; /* run: start of bytes to copy unchanged */
	while (i < n) {
		unsigned char c = p[i];
		const char *rep = NULL;
		size_t len = 1;
		if (c >= 0x80) {
			uint32_t cp;
			len = utf8_decode(p + i, n - i, &cp);
			if (len == 0) {
				rep = "\xEF\xBF\xBD"; /* U+FFFD for a bad byte */
				len = 1;
			} else if ((cp >= 0x80 && cp <= 0x9F) || cp == 0xFFFE || cp == 0xFFFF) {
				rep = "";
			} else {
				i += len;
				continue;
			}
		} else if (c == '&') {
			rep = "&amp;";
		} else if (c == '<') {
			rep = "&lt;";
		} else if (c == '>') {
			rep = "&gt;"; /* so "]]>" can never appear */
		} else if (c == '"' && attr) {
			rep = "&quot;";
		} else if (c == '\r' || ((c == '\n' || c == '\t') && attr)) {
			/* Keep them through attribute-value and end-of-line normalisation. */
			rep = c == '\r' ? "&#13;" : c == '\n' ? "&#10;" : "&#9;";
		} else if (c < 0x20 && c != '\n' && c != '\t') {
			rep = "";
		} else if (c == 0x7F) {
			rep = "";
		} else {
			i++;
			continue;
		}
		fm_buf_append(b, s + run, i - run);
		fm_buf_puts(b, rep);
		i += len;
		run = i;
	}
	fm_buf_append(b, s + run, n - run);
}

static bool digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

bool fm_is_rfc3339(const char *s)
{
	if (!s || strlen(s) < 20)
		return false;
	if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2) ||
	    (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2) || s[13] != ':' ||
	    !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
		return false;
	int mon = (s[5] - '0') * 10 + s[6] - '0', day = (s[8] - '0') * 10 + s[9] - '0';
	int hh = (s[11] - '0') * 10 + s[12] - '0', mm = (s[14] - '0') * 10 + s[15] - '0';
	int ss = (s[17] - '0') * 10 + s[18] - '0';
	if (mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
		return false;
	const char *p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		return true;
	return (*p == '+' || *p == '-') && digits(p + 1, 2) && p[3] == ':' && digits(p + 4, 2) &&
	       p[6] == '\0';
}

bool fm_is_iri(const char *s)
{
	if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return false;
	const char *p = s;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
	       *p == '+' || *p == '-' || *p == '.')
		p++;
	if (*p != ':' || p[1] == '\0')
		return false;
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c == 0x7F || strchr("<>\"{}|\\^`", c))
			return false;
	}
	return true;
}

void fm_pct_encode(struct fm_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			fm_buf_putc(b, (char)c);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			fm_buf_append(b, e, 3);
		}
	}
}

bool fm_is_lang_tag(const char *s)
{
	if (!s || !*s || strlen(s) > 35)
		return false;
	int sub = 0;
	for (const char *p = s;; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')) {
			if (++sub > 8)
				return false;
		} else if (*p == '-' || *p == '\0') {
			if (sub == 0)
				return false;
			if (*p == '\0')
				return true;
			sub = 0;
		} else {
			return false;
		}
	}
}
