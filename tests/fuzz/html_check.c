/* The HTML safety oracle of the fuzz targets and tests. See html_check.h. */
#include "html_check.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include "url.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static bool in_list(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(list[i], s))
			return true;
	return false;
}

/* A character reference before the scheme's end that the parser left as it was: "&Tab;" or
 * "&colon;" (HTML5 names libxml2 does not know) or a numeric one it did not take. A browser
 * decodes them, so "java&Tab;script&colon;" in the output would be javascript: to it. Written
 * escaped ("&amp;Tab;") the value is the same after parsing and harmless, so this can only be
 * told apart from the output text; but where URLs are resolved against a base (the extract
 * target), no relative reference with such a '&' before its first '/' is left to confuse. */
static bool undecoded_ref_in_scheme(const char *v)
{
	size_t end = strcspn(v, ":/?#");
	for (size_t i = 0; i < end; i++) {
		if (v[i] != '&')
			continue;
		size_t j = i + 1;
		if (v[j] == '#' && (isdigit((unsigned char)v[j + 1]) || v[j + 1] == 'x' ||
		                    v[j + 1] == 'X'))
			return true;
		while (j < end && isalnum((unsigned char)v[j]))
			j++;
		if (j > i + 1 && v[j] == ';')
			return true;
	}
	return false;
}

/* Is v acceptable as the value of a URL attribute? image: the source of an image. */
static bool url_ok(const char *v, bool image, char *scheme, size_t n)
{
	static const char *const handoff[] = {"mailto", "tel", "sms", "geo", "ftp", "news", "nntp",
	                                      "magnet", "xmpp", "irc", "ircs"};
	static const char *const images[] = {"image/png", "image/gif", "image/jpeg", "image/webp",
	                                     "image/avif"};
	const char *rest;
	if (undecoded_ref_in_scheme(v)) {
		snprintf(scheme, n, "(a character reference)");
		return false;
	}
	switch (fm_url_classify(v, scheme, n, &rest)) {
	case FM_URL_EMPTY:
	case FM_URL_FRAGMENT:
	case FM_URL_RELATIVE:
	case FM_URL_HTTP:
		return true;
	case FM_URL_OTHER:
		break;
	}
	if (in_list(handoff, NELEM(handoff), scheme))
		return true;
	if (!strcmp(scheme, "feed")) {
		while (*rest && (unsigned char)*rest <= 0x20)
			rest++;
		return !strncmp(rest, "//", 2) || fm_url_is_safe_http(rest);
	}
	if (image && !strcmp(scheme, "data")) {
		while (*rest == ' ')
			rest++;
		for (size_t i = 0; i < NELEM(images); i++) {
			size_t k = strlen(images[i]);
			if (!strncasecmp(rest, images[i], k) && (rest[k] == ';' || rest[k] == ','))
				return true;
		}
	}
	return false;
}

/* srcset: candidates separated by commas, each a URL (which may itself hold commas, as in
 * data: URLs) and optional descriptors. */
static bool srcset_ok(const char *v, char *scheme, size_t n)
{
	char url[4096];
	const char *p = v;
	for (;;) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (!*p)
			return true;
		size_t k = 0;
		while (*p && !isspace((unsigned char)*p)) {
			if (k + 1 < sizeof(url))
				url[k++] = *p;
			p++;
		}
		bool ended = false;
		while (k > 0 && url[k - 1] == ',') {
			k--;
			ended = true;
		}
		url[k] = '\0';
		if (!url_ok(url, true, scheme, n))
			return false;
		if (!ended)
			while (*p && *p != ',')
				p++;
	}
}

static bool style_ok(const char *v)
{
	char flat[4096];
	size_t k = 0;
	for (const char *p = v; *p && k + 1 < sizeof(flat); p++)
		if (!isspace((unsigned char)*p) && *p != '\\')
			flat[k++] = (char)tolower((unsigned char)*p);
	flat[k] = '\0';
	return !strstr(flat, "expression(") && !strstr(flat, "javascript:") &&
	       !strstr(flat, "vbscript:");
}

static bool element_ok(xmlNodePtr el, char *why, size_t n)
{
	static const char *const banned[] = {"script", "iframe", "frame", "object", "embed",
	                                     "applet", "base", "meta", "link"};
	static const char *const url_attrs[] = {
		"href", "src", "action", "formaction", "poster", "cite", "background", "data",
		"codebase", "longdesc", "lowsrc", "dynsrc", "usemap", "icon", "xlink:href",
	};
	const char *name = (const char *)el->name;
	if (in_list(banned, NELEM(banned), name)) {
		snprintf(why, n, "a <%s> element", name);
		return false;
	}
	bool image = !strcasecmp(name, "img") || !strcasecmp(name, "source") ||
	             !strcasecmp(name, "picture");
	for (xmlAttrPtr a = el->properties; a; a = a->next) {
		char full[128], scheme[32];
		const char *prefix = a->ns && a->ns->prefix ? (const char *)a->ns->prefix : NULL;
		snprintf(full, sizeof(full), "%s%s%s", prefix ? prefix : "", prefix ? ":" : "",
		         (const char *)a->name);
		xmlChar *val = xmlNodeGetContent((xmlNodePtr)a);
		const char *v = val ? (const char *)val : "";
		bool ok = true;
		if (!strncasecmp(full, "on", 2)) {
			snprintf(why, n, "an event handler %s on <%s>", full, name);
			ok = false;
		} else if (!strcasecmp(full, "srcdoc")) {
			snprintf(why, n, "srcdoc on <%s>", name);
			ok = false;
		} else if (!strcasecmp(full, "style") && !style_ok(v)) {
			snprintf(why, n, "script in the style of <%s>", name);
			ok = false;
		} else if (!strcasecmp(full, "srcset") && !srcset_ok(v, scheme, sizeof(scheme))) {
			snprintf(why, n, "a %s URL in srcset of <%s>", scheme, name);
			ok = false;
		} else if (in_list(url_attrs, NELEM(url_attrs), full) &&
		           !url_ok(v, image && !strcasecmp(full, "src"), scheme, sizeof(scheme))) {
			snprintf(why, n, "a %s URL in %s of <%s>", scheme[0] ? scheme : "(long scheme)",
			         full, name);
			ok = false;
		}
		xmlFree(val);
		if (!ok)
			return false;
	}
	return true;
}

bool fmt_html_is_safe(const char *html, size_t len, char *why, size_t n)
{
	if (n)
		why[0] = '\0';
	if (!html || !len)
		return true;
	if (len > (size_t)0x7fffffff)
		len = 0x7fffffff;
	htmlDocPtr doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
	                                HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
	if (!doc)
		return true; /* nothing a parser would build */
	bool ok = true;
	/* every element, depth first, without recursion (the tree may be deep) */
	xmlNodePtr cur = xmlDocGetRootElement(doc);
	while (cur && ok) {
		if (cur->type == XML_ELEMENT_NODE)
			ok = element_ok(cur, why, n);
		if (cur->type == XML_ELEMENT_NODE && cur->children) {
			cur = cur->children;
			continue;
		}
		while (cur && !cur->next)
			cur = cur->parent && cur->parent->type != XML_HTML_DOCUMENT_NODE ? cur->parent
			                                                                 : NULL;
		if (cur)
			cur = cur->next;
	}
	xmlFreeDoc(doc);
	return ok;
}
