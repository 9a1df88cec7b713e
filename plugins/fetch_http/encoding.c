/*
 * Feed encodings. Precedence follows RFC 7303 (XML media types) section 3: a byte order mark
 * wins, then the charset parameter of the HTTP Content-Type, then the XML declaration, then
 * UTF-8. Declarations lie often enough (a windows-1252 body labelled UTF-8) that the chosen
 * encoding is checked against the bytes. A body meant as UTF-8 with a few damaged bytes keeps
 * its text: each ill-formed sequence becomes U+FFFD (maximal subparts, as the WHATWG decoder
 * does). Only a body that is clearly not UTF-8 — more ill-formed sequences than well-formed
 * multi-byte ones — is read as windows-1252 (every byte decodes). Either is reported.
 */
#include "encoding.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "text.h"

size_t fm_utf8_valid_prefix(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < len) {
		/* fast path: 8 ASCII bytes at a time */
		while (i + 8 <= len) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			if (w & 0x8080808080808080ULL)
				break;
			i += 8;
		}
		if (i >= len)
			break;
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t n;
		uint32_t cp;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			cp = c & 0x07;
		} else {
			return i;
		}
		if (i + n > len)
			return i;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return i;
		i += n;
	}
	return len;
}

/* The encoding="..." of an XML declaration in ASCII-compatible bytes, or "" when none. */
static void xml_decl_encoding(const char *data, size_t len, char *out, size_t outlen)
{
	out[0] = '\0';
	if (len < 6 || memcmp(data, "<?xml", 5) != 0)
		return;
	const char *end = memchr(data, '>', len < 512 ? len : 512);
	if (!end)
		return;
	const char *p = data + 5;
	while (p + 8 < end) {
		if (!strncmp(p, "encoding", 8)) {
			p += 8;
			while (p < end && isspace((unsigned char)*p))
				p++;
			if (p >= end || *p != '=')
				return;
			p++;
			while (p < end && isspace((unsigned char)*p))
				p++;
			if (p >= end || (*p != '"' && *p != '\''))
				return;
			char q = *p++;
			size_t n = 0;
			while (p < end && *p != q && n + 1 < outlen)
				out[n++] = *p++;
			out[n] = '\0';
			return;
		}
		p++;
	}
}

/* Names iconv may not know, or that browsers read as a superset (WHATWG Encoding). */
static const char *iconv_name(const char *name)
{
	static const struct {
		const char *label, *iconv;
	} alias[] = {
		{"iso-8859-1", "WINDOWS-1252"}, {"iso8859-1", "WINDOWS-1252"},
		{"latin1", "WINDOWS-1252"}, {"latin-1", "WINDOWS-1252"},
		{"us-ascii", "WINDOWS-1252"}, {"ascii", "WINDOWS-1252"},
		{"x-sjis", "CP932"}, {"shift_jis", "CP932"}, {"shift-jis", "CP932"},
		{"sjis", "CP932"}, {"ms_kanji", "CP932"}, {"windows-31j", "CP932"},
		{"euc-kr", "CP949"}, {"ks_c_5601-1987", "CP949"}, {"gb2312", "GBK"},
		{"x-gbk", "GBK"}, {"big5", "BIG5-HKSCS"}, {"x-euc-jp", "EUC-JP"},
		{"tis-620", "CP874"}, {"iso-8859-11", "CP874"}, {"iso-8859-9", "WINDOWS-1254"},
		{"utf8", "UTF-8"}, {"unicode-1-1-utf-8", "UTF-8"}, {"x-mac-roman", "MACINTOSH"},
	};
	for (size_t i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
		if (!strcasecmp(name, alias[i].label))
			return alias[i].iconv;
	return name;
}

static bool is_utf8_name(const char *n)
{
	return !strcasecmp(n, "utf-8") || !strcasecmp(n, "utf8");
}

static void set_name(struct fm_enc_result *res, const char *name)
{
	snprintf(res->name, sizeof(res->name), "%s", name);
	for (char *p = res->name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

/* Line (1-based) of byte offset off, for messages. */
static size_t line_of(const char *data, size_t off)
{
	size_t line = 1;
	for (size_t i = 0; i < off; i++)
		line += data[i] == '\n';
	return line;
}

/* Read a body meant as UTF-8: in place when valid; with each ill-formed sequence replaced
 * by U+FFFD when it is mostly UTF-8 (reported in res->error). Returns 0 when res is filled,
 * 1 when the body is clearly not UTF-8 (res untouched), -ENOMEM. */
static int read_utf8(const char *body, size_t blen, struct fm_enc_result *res)
{
	size_t ok = fm_utf8_valid_prefix(body, blen), bad = 0;
	if (ok == blen) {
		res->data = body;
		res->len = blen;
		set_name(res, "utf-8");
		return 0;
	}
	if (fm_text_utf8_fit(body, blen, &bad) == FM_UTF8_NOT)
		return 1;
	res->owned = fm_text_utf8_replace(body, blen, false, &res->len, NULL);
	if (!res->owned)
		return -ENOMEM;
	res->data = res->owned;
	set_name(res, "utf-8");
	snprintf(res->error, sizeof(res->error),
	         "line %zu: %zu ill-formed UTF-8 sequence(s) replaced with U+FFFD",
	         line_of(body, ok), bad);
	return 0;
}

/* The encoding a feed body is to be read as, and where it was found. */
struct enc_choice {
	const char *name; /* points at a constant, at the HTTP charset or at decl */
	size_t skip;      /* bytes of byte order mark before the text */
	bool from_bom;    /* the bytes say so (a BOM, or '<' in a wide encoding) */
	bool declared;    /* the HTTP charset or the XML declaration names it */
	char decl[40];
};

static void choose_encoding(const char *data, size_t len, const char *http_charset,
                            struct enc_choice *ch)
{
	const unsigned char *u = (const unsigned char *)data;
	static const struct {
		const char *bom;
		size_t len;
		const char *name;
	} boms[] = {
		{"\x00\x00\xfe\xff", 4, "UTF-32BE"}, {"\xff\xfe\x00\x00", 4, "UTF-32LE"},
		{"\xef\xbb\xbf", 3, "UTF-8"},        {"\xfe\xff", 2, "UTF-16BE"},
		{"\xff\xfe", 2, "UTF-16LE"},
	};
	memset(ch, 0, sizeof(*ch));
	for (size_t i = 0; i < sizeof(boms) / sizeof(boms[0]) && !ch->name; i++) {
		if (len >= boms[i].len && !memcmp(u, boms[i].bom, boms[i].len)) {
			ch->name = boms[i].name;
			ch->skip = boms[i].len;
		}
	}
	if (!ch->name && len >= 4) {
		/* no BOM: the first character '<' tells the width (XML 1.0 appendix F) */
		if (!memcmp(u, "\x00\x00\x00\x3c", 4))
			ch->name = "UTF-32BE";
		else if (!memcmp(u, "\x3c\x00\x00\x00", 4))
			ch->name = "UTF-32LE";
		else if (u[0] == 0 && u[1] == 0x3c)
			ch->name = "UTF-16BE";
		else if (u[0] == 0x3c && u[1] == 0)
			ch->name = "UTF-16LE";
	}
	ch->from_bom = ch->name != NULL;
	if (!ch->name && http_charset && *http_charset)
		ch->name = http_charset;
	if (!ch->name) {
		xml_decl_encoding(data, len, ch->decl, sizeof(ch->decl));
		if (ch->decl[0])
			ch->name = ch->decl;
	}
	ch->declared = ch->name != NULL;
	if (!ch->name)
		ch->name = "utf-8";
}

int fm_feed_to_utf8(const char *data, size_t len, const char *http_charset,
                    struct fm_enc_result *res)
{
	struct enc_choice ch;
	memset(res, 0, sizeof(*res));
	choose_encoding(data, len, http_charset, &ch);
	const char *enc = ch.name, *body = data + ch.skip;
	size_t blen = len - ch.skip;
	bool declared = ch.declared, from_bom = ch.from_bom;

	/* UTF-8 (the common case): use the bytes in place when they are valid */
	if (is_utf8_name(enc) || (!strcasecmp(enc, "us-ascii") && !from_bom)) {
		int rc = read_utf8(body, blen, res);
		if (rc <= 0)
			return rc;
		snprintf(res->error, sizeof(res->error),
		         "line %zu: bytes are not valid %s%s; read as windows-1252",
		         line_of(body, fm_utf8_valid_prefix(body, blen)), declared ? enc : "UTF-8",
		         declared ? " as declared" : " (no encoding declared)");
		enc = "WINDOWS-1252";
	}
	size_t bad = 0;
	int rc = fm_text_iconv_to_utf8(iconv_name(enc), body, blen, &res->owned, &res->len, &bad);
	if (rc == -EINVAL) {
		rc = read_utf8(body, blen, res);
		if (rc <= 0) {
			char repl[sizeof(res->error)];
			snprintf(repl, sizeof(repl), "%s", res->error);
			snprintf(res->error, sizeof(res->error), "unknown encoding \"%.40s\"; read as utf-8%s%.120s",
			         enc, repl[0] ? ", " : "", repl);
			return rc;
		}
		snprintf(res->error, sizeof(res->error),
		         "unknown encoding \"%.40s\"; read as windows-1252", enc);
		enc = "WINDOWS-1252";
		rc = fm_text_iconv_to_utf8(iconv_name(enc), body, blen, &res->owned, &res->len, &bad);
	}
	if (rc < 0)
		return rc;
	if (bad && !res->error[0]) {
		/* the declared encoding does not fit: valid UTF-8 is the likeliest truth */
		if (fm_utf8_valid_prefix(body, blen) == blen) {
			free(res->owned);
			res->owned = NULL;
			res->data = body;
			res->len = blen;
			snprintf(res->error, sizeof(res->error),
			         "%zu byte(s) are not valid %s as declared; read as utf-8", bad, enc);
			set_name(res, "utf-8");
			return 0;
		}
		snprintf(res->error, sizeof(res->error),
		         "%zu byte(s) are not valid %s; replaced with U+FFFD", bad, enc);
	}
	res->data = res->owned;
	set_name(res, enc);
	return 0;
}
