/*
 * Feed autodiscovery: the <link rel="alternate" type="application/rss+xml" href="..."> convention
 * (RSS Board "RSS Autodiscovery", and RFC 4287's Atom equivalent), plus the page's <title>.
 *
 * libxml2's HTML parser runs in SAX mode with no tree, and stops at <body> (libxml2 reports the
 * implied <body> before the first body-only element), so only the head is parsed.
 */
#include "discover.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>

#include "buf.h"
#include "url.h"

#define TITLE_MAX 1024

struct scan {
	htmlParserCtxtPtr ctxt;
	const char *page_url;
	char *base;      /* <base href>, resolved; NULL: page_url */
	char *feed_url;
	struct fm_buf title;
	bool in_title, title_done;
	bool oom;
};

static const char *attr(const xmlChar **atts, const char *name)
{
	for (size_t i = 0; atts && atts[i]; i += 2)
		if (strcasecmp((const char *)atts[i], name) == 0)
			return atts[i + 1] ? (const char *)atts[i + 1] : "";
	return NULL;
}

static bool has_token(const char *list, const char *tok)
{
	size_t tl = strlen(tok);
	for (const char *p = list; *p;) {
		while (*p && isspace((unsigned char)*p))
			p++;
		size_t n = 0;
		while (p[n] && !isspace((unsigned char)p[n]))
			n++;
		if (n == tl && strncasecmp(p, tok, n) == 0)
			return true;
		p += n;
	}
	return false;
}

static bool is_feed_type(const char *type)
{
	static const char *const types[] = {
		"application/rss+xml",   "application/atom+xml",  "application/rdf+xml",
		"application/feed+json", "application/x-rss+xml", "application/x-atom+xml",
		NULL,
	};
	while (isspace((unsigned char)*type))
		type++;
	size_t n = strcspn(type, "; \t");
	for (size_t i = 0; types[i]; i++)
		if (strlen(types[i]) == n && strncasecmp(type, types[i], n) == 0)
			return true;
	return false;
}

static void on_start(void *ud, const xmlChar *name, const xmlChar **atts)
{
	struct scan *s = ud;
	const char *el = (const char *)name;

	if (strcmp(el, "body") == 0) {
		xmlStopParser(s->ctxt);
		return;
	}
	if (strcmp(el, "title") == 0 && !s->title_done) {
		s->in_title = true;
		return;
	}
	if (strcmp(el, "base") == 0 && !s->base) {
		const char *href = attr(atts, "href");
		if (href && *href) {
			s->base = fm_url_resolve(s->page_url, href);
			if (!s->base)
				s->oom = true;
		}
		return;
	}
	if (strcmp(el, "link") != 0 || s->feed_url)
		return;
	const char *rel = attr(atts, "rel"), *type = attr(atts, "type"),
	           *href = attr(atts, "href");
	if (!rel || !type || !href || !*href)
		return;
	if (!(has_token(rel, "alternate") || has_token(rel, "feed")) || !is_feed_type(type))
		return;
	char *u = fm_url_resolve(s->base ? s->base : s->page_url, href);
	if (!u) {
		s->oom = true;
		return;
	}
	if (fm_url_is_http(u))
		s->feed_url = u;
	else
		free(u);
}

static void on_end(void *ud, const xmlChar *name)
{
	struct scan *s = ud;
	if (s->in_title && strcmp((const char *)name, "title") == 0) {
		s->in_title = false;
		s->title_done = true;
	}
}

static void on_chars(void *ud, const xmlChar *ch, int len)
{
	struct scan *s = ud;
	if (!s->in_title || len <= 0)
		return;
	/* collapse whitespace as we go; bounded */
	for (int i = 0; i < len && s->title.len < TITLE_MAX; i++) {
		char c = (char)ch[i];
		if (isspace((unsigned char)c)) {
			if (s->title.len && s->title.data[s->title.len - 1] != ' ')
				fm_buf_putc(&s->title, ' ');
		} else {
			fm_buf_putc(&s->title, c);
		}
	}
}

static void on_error(void *ud, xmlErrorPtr err)
{
	/* broken HTML is the norm; the scan is best effort and says nothing */
	(void)ud;
	(void)err;
}

int fm_html_scan(const char *html, size_t len, const char *page_url, struct fm_html_info *info)
{
	struct scan s = {.page_url = page_url, .title = FM_BUF_INIT};
	htmlSAXHandler sax;
	int ret = 0;

	memset(info, 0, sizeof(*info));
	memset(&sax, 0, sizeof(sax));
	sax.startElement = on_start;
	sax.endElement = on_end;
	sax.characters = on_chars;
	sax.serror = on_error;
	sax.initialized = XML_SAX2_MAGIC; /* makes libxml2 use serror instead of stderr */

	if (len > INT32_MAX)
		len = INT32_MAX; /* the head is at the start; max_size keeps bodies far smaller */
	s.ctxt = htmlCreatePushParserCtxt(&sax, &s, NULL, 0, page_url, XML_CHAR_ENCODING_UTF8);
	if (!s.ctxt)
		return -ENOMEM;
	htmlCtxtUseOptions(s.ctxt, HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
	                                   HTML_PARSE_RECOVER | HTML_PARSE_NOBLANKS |
	                                   HTML_PARSE_IGNORE_ENC); /* already UTF-8: no <meta> */
	htmlParseChunk(s.ctxt, html, (int)len, 1);
	htmlFreeParserCtxt(s.ctxt);

	/* the bound may have cut a UTF-8 sequence: drop its lead and continuation bytes */
	if (s.title.len >= TITLE_MAX) {
		size_t i = s.title.len;
		while (i && ((unsigned char)s.title.data[i - 1] & 0xC0) == 0x80)
			i--;
		if (i && ((unsigned char)s.title.data[i - 1] & 0x80)) {
			unsigned char lead = (unsigned char)s.title.data[i - 1];
			size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
			if (s.title.len - (i - 1) < need)
				fm_buf_truncate(&s.title, i - 1);
		}
	}
	/* trailing space from the collapse */
	while (s.title.len && s.title.data[s.title.len - 1] == ' ')
		fm_buf_truncate(&s.title, s.title.len - 1);
	if (s.oom || s.title.oom) {
		ret = -ENOMEM;
		free(s.feed_url);
		fm_buf_free(&s.title);
	} else {
		info->feed_url = s.feed_url;
		info->title = s.title.len ? fm_buf_steal(&s.title) : NULL;
		fm_buf_free(&s.title);
	}
	free(s.base);
	return ret;
}

void fm_html_info_free(struct fm_html_info *info)
{
	free(info->feed_url);
	free(info->title);
	memset(info, 0, sizeof(info[0]));
}
