/*
 * HTML sanitizer: parse with libxml2's HTML parser (recovering), then serialize only what an
 * allowlist keeps. The policy (which elements, attributes and CSS properties are harmless) is
 * in the same spirit as the allowlists of established feed readers: formatting, links, media and
 * tables stay; anything that runs code, loads other documents, submits data or overlays the
 * page goes. See html_sanitize.h for the summary.
 */
#include "html_sanitize.h"

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include "url.h"

#define MAX_DEPTH 200

enum el_action {
	EL_UNWRAP = 0, /* unknown, or embedding (object, iframe: their content is fallback):
	                * drop the tag, keep the (sanitized) children */
	EL_KEEP,
	EL_VOID,       /* kept, never has children */
	EL_DROP,       /* dropped with everything inside */
};

struct el_rule {
	const char *name;
	enum el_action action;
};

/* Sorted (strcmp on lower case) for bsearch. */
static const struct el_rule html_elements[] = {
	{"a", EL_KEEP}, {"abbr", EL_KEEP}, {"acronym", EL_KEEP}, {"address", EL_KEEP},
	{"applet", EL_UNWRAP}, {"area", EL_VOID}, {"article", EL_KEEP}, {"aside", EL_KEEP},
	{"audio", EL_KEEP}, {"b", EL_KEEP}, {"base", EL_DROP}, {"basefont", EL_DROP},
	{"bdi", EL_KEEP}, {"bdo", EL_KEEP}, {"bgsound", EL_DROP}, {"big", EL_KEEP},
	{"blockquote", EL_KEEP}, {"br", EL_VOID}, {"button", EL_KEEP}, {"canvas", EL_KEEP},
	{"caption", EL_KEEP}, {"center", EL_KEEP}, {"cite", EL_KEEP}, {"code", EL_KEEP},
	{"col", EL_VOID}, {"colgroup", EL_KEEP}, {"command", EL_KEEP}, {"data", EL_KEEP},
	{"datagrid", EL_KEEP}, {"datalist", EL_KEEP}, {"dd", EL_KEEP}, {"del", EL_KEEP},
	{"details", EL_KEEP}, {"dfn", EL_KEEP}, {"dialog", EL_KEEP}, {"dir", EL_KEEP},
	{"div", EL_KEEP}, {"dl", EL_KEEP}, {"dt", EL_KEEP}, {"em", EL_KEEP}, {"embed", EL_UNWRAP},
	{"fieldset", EL_KEEP}, {"figcaption", EL_KEEP}, {"figure", EL_KEEP}, {"font", EL_KEEP},
	{"footer", EL_KEEP}, {"frame", EL_UNWRAP}, {"frameset", EL_UNWRAP}, {"h1", EL_KEEP},
	{"h2", EL_KEEP}, {"h3", EL_KEEP}, {"h4", EL_KEEP}, {"h5", EL_KEEP}, {"h6", EL_KEEP},
	{"head", EL_DROP}, {"header", EL_KEEP}, {"hgroup", EL_KEEP}, {"hr", EL_VOID},
	{"i", EL_KEEP}, {"iframe", EL_UNWRAP}, {"img", EL_VOID}, {"input", EL_VOID},
	{"ins", EL_KEEP}, {"kbd", EL_KEEP}, {"keygen", EL_VOID}, {"label", EL_KEEP},
	{"legend", EL_KEEP}, {"li", EL_KEEP}, {"link", EL_DROP}, {"m", EL_KEEP},
	{"main", EL_KEEP}, {"map", EL_KEEP}, {"mark", EL_KEEP}, {"menu", EL_KEEP},
	{"meta", EL_DROP}, {"meter", EL_KEEP}, {"multicol", EL_KEEP}, {"nav", EL_KEEP},
	{"nextid", EL_KEEP}, {"noembed", EL_UNWRAP}, {"noframes", EL_UNWRAP}, {"object", EL_UNWRAP},
	{"ol", EL_KEEP}, {"optgroup", EL_KEEP}, {"option", EL_KEEP}, {"output", EL_KEEP},
	{"p", EL_KEEP}, {"param", EL_DROP}, {"picture", EL_KEEP}, {"plaintext", EL_DROP},
	{"pre", EL_KEEP}, {"progress", EL_KEEP}, {"q", EL_KEEP}, {"rp", EL_KEEP}, {"rt", EL_KEEP},
	{"ruby", EL_KEEP}, {"s", EL_KEEP}, {"samp", EL_KEEP}, {"script", EL_DROP},
	{"section", EL_KEEP}, {"select", EL_KEEP}, {"small", EL_KEEP}, {"sound", EL_KEEP},
	{"source", EL_VOID}, {"spacer", EL_KEEP}, {"span", EL_KEEP}, {"strike", EL_KEEP},
	{"strong", EL_KEEP}, {"style", EL_DROP}, {"sub", EL_KEEP}, {"summary", EL_KEEP},
	{"sup", EL_KEEP}, {"table", EL_KEEP}, {"tbody", EL_KEEP}, {"td", EL_KEEP},
	{"template", EL_DROP}, {"textarea", EL_KEEP}, {"tfoot", EL_KEEP}, {"th", EL_KEEP},
	{"thead", EL_KEEP}, {"time", EL_KEEP}, {"tr", EL_KEEP}, {"track", EL_VOID},
	{"tt", EL_KEEP}, {"u", EL_KEEP}, {"ul", EL_KEEP}, {"var", EL_KEEP}, {"video", EL_KEEP},
	{"wbr", EL_VOID}, {"xml", EL_DROP}, {"xmp", EL_KEEP},
};

/* SVG: drawing only (no script, foreignObject, animation that can set href, or external use). */
static const char *const svg_elements[] = {
	"a", "circle", "clipPath", "defs", "desc", "ellipse", "g", "line", "linearGradient", "marker",
	"mask", "path", "pattern", "polygon", "polyline", "radialGradient", "rect", "stop", "svg",
	"switch", "symbol", "text", "textPath", "title", "tspan", "use",
};
static const char *const svg_attributes[] = {
	"baseProfile", "clip-path", "clip-rule", "clipPathUnits", "color", "cx", "cy", "d", "dx", "dy",
	"fill", "fill-opacity", "fill-rule", "font-family", "font-size", "font-style",
	"font-weight", "fx", "fy", "gradientTransform", "gradientUnits", "height", "id",
	"marker-end", "marker-mid", "marker-start", "markerHeight", "markerUnits", "markerWidth",
	"mask", "offset", "opacity", "orient", "patternUnits", "points", "preserveAspectRatio", "r",
	"refX", "refY", "rotate", "rx", "ry", "stop-color", "stop-opacity", "stroke",
	"stroke-dasharray", "stroke-dashoffset", "stroke-linecap", "stroke-linejoin",
	"stroke-miterlimit", "stroke-opacity", "stroke-width", "text-anchor", "transform",
	"version", "viewBox", "width", "x", "x1", "x2", "y", "y1", "y2",
};
static const char *const math_elements[] = {
	"annotation", "maction", "math", "menclose", "merror", "mfenced", "mfrac", "mi",
	"mmultiscripts", "mn", "mo", "mover", "mpadded", "mphantom", "mprescripts", "mroot",
	"mrow", "ms", "mspace", "msqrt", "mstyle", "msub", "msubsup", "msup", "mtable", "mtd",
	"mtext", "mtr", "munder", "munderover", "none", "semantics",
};
static const char *const math_attributes[] = {
	"accent", "accentunder", "align", "bevelled", "close", "columnalign", "columnlines",
	"columnspacing", "columnspan", "depth", "display", "displaystyle", "encoding", "fence",
	"frame", "largeop", "linethickness", "lspace", "mathbackground", "mathcolor",
	"mathsize", "mathvariant", "maxsize", "minsize", "movablelimits", "notation", "open",
	"rowalign", "rowlines", "rowspacing", "rowspan", "rspace", "scriptlevel", "selection",
	"separator", "separators", "stretchy", "symmetric", "width",
};

/* HTML attributes kept (sorted). Handlers (on*), form/formaction and srcdoc never are. */
static const char *const html_attributes[] = {
	"abbr", "accept", "accept-charset", "accesskey", "action", "align", "alt", "autocomplete",
	"axis", "background", "balance", "bgcolor", "bgproperties", "border",
	"bordercolor", "bordercolordark", "bordercolorlight", "bottompadding", "cellpadding",
	"cellspacing", "ch", "challenge", "char", "charoff", "charset", "checked", "choff", "cite",
	"class", "clear", "color", "cols", "colspan", "compact", "contenteditable", "controls",
	"coords", "data", "datafld", "datapagesize", "datasrc", "datetime", "default", "delay",
	"dir", "disabled", "download", "draggable", "dynsrc", "enctype", "end", "face", "for",
	"frame", "galleryimg", "gutter", "headers", "height", "hidden", "high", "href", "hreflang",
	"hspace", "icon", "id", "inputmode", "ismap", "keytype", "kind", "label", "lang",
	"leftspacing", "list", "longdesc", "loop", "loopcount", "loopend", "loopstart", "low",
	"lowsrc", "max", "maxlength", "media", "method", "min", "multiple", "muted", "name",
	"nohref", "noshade", "nowrap", "open", "optimum", "pattern", "placeholder", "point-size",
	"poster", "pqg", "preload", "prompt", "radiogroup", "readonly", "rel", "repeat-max",
	"repeat-min", "replace", "required", "rev", "reversed", "rightspacing", "rows", "rowspan",
	"rules", "scope", "selected", "shape", "size", "sizes", "span", "src", "srclang",
	"srcset", "start", "step", "style", "summary", "suppress", "tabindex", "target",
	"template", "title", "toppadding", "type", "unselectable", "urn", "usemap", "valign",
	"value", "variable", "volume", "vrml", "vspace", "width", "wrap",
};

static const char *const url_attributes[] = {
	"action", "background", "cite", "dynsrc", "href", "icon", "longdesc", "lowsrc", "poster",
	"src", "usemap",
};

static int cmp_rule(const void *key, const void *elt)
{
	return strcasecmp((const char *)key, ((const struct el_rule *)elt)->name);
}

static int cmp_str(const void *key, const void *elt)
{
	return strcasecmp((const char *)key, *(const char *const *)elt);
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* svg/math tables are not sorted case-insensitively by construction; a linear scan is fine
 * for these rare subtrees. Returns the canonical spelling or NULL. */
static const char *find_linear(const char *const *tab, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(tab[i], name))
			return tab[i];
	return NULL;
}

static bool in_sorted(const char *const *tab, size_t n, const char *name)
{
	return bsearch(name, tab, n, sizeof(tab[0]), cmp_str) != NULL;
}

void fm_html_escape(struct fm_buf *out, const char *s, size_t len, int attr)
{

	const char *run = s, *end = s + len;
	for (const char *p = s; p < end; p++) {
		const char *rep = NULL;
		switch (*p) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = attr ? "&quot;" : NULL; break;
		default: break;
		}
		if (rep) {
			fm_buf_append(out, run, (size_t)(p - run));
			fm_buf_puts(out, rep);
			run = p + 1;
		}
	}
	fm_buf_append(out, run, (size_t)(end - run));
}

/* Escape a NUL-terminated string: strcspn finds the next special byte a word at a time,
 * which matters because most of a feed's bytes pass through here. */
static void escape_cstr(struct fm_buf *out, const char *s, int attr)
{
	const char *set = attr ? "&<>\"" : "&<>";
	for (;;) {
		size_t n = strcspn(s, set);
		fm_buf_append(out, s, n);
		s += n;
		switch (*s) {
		case '\0': return;
		case '&': fm_buf_append(out, "&amp;", 5); break;
		case '<': fm_buf_append(out, "&lt;", 4); break;
		case '>': fm_buf_append(out, "&gt;", 4); break;
		default: fm_buf_append(out, "&quot;", 6); break;
		}
		s++;
	}
}

/* ---- URLs ---- */

/* Is the (resolved) URL safe to keep? The scheme is read as fm_url_classify() does: every
 * control character and space before the ':' is skipped, as browsers skip tab and newline
 * there (libxml2 has already decoded character references such as &#x09;). http and https
 * must then be well-formed URLs with a host (fm_url_is_safe_http); a few other schemes that
 * only hand the link to another program are kept; javascript:, vbscript:, data: (but images),
 * file: and anything unknown are not. */
static bool url_is_safe(const char *url, bool image)
{
	char scheme[16];
	const char *rest;
	switch (fm_url_classify(url, scheme, sizeof(scheme), &rest)) {
	case FM_URL_EMPTY:
	case FM_URL_FRAGMENT:
	case FM_URL_RELATIVE:
	case FM_URL_HTTP:
		return true;
	case FM_URL_OTHER:
		break;
	}
	static const char *const ok[] = {"mailto", "ftp", "tel", "news", "nntp", "magnet", "xmpp",
	                                 "irc", "ircs", "geo", "sms"};
	for (size_t i = 0; i < NELEM(ok); i++)
		if (!strcmp(scheme, ok[i]))
			return true;
	if (!strcmp(scheme, "feed")) {
		/* feed://host/... or feed:URL: a wrapper, as safe as what it wraps (feed:javascript:
		 * once ran script in browsers that handled feed:) */
		while (*rest && ((unsigned char)*rest <= 0x20 || *rest == 0x7f))
			rest++;
		return (rest[0] == '/' && rest[1] == '/') || fm_url_is_safe_http(rest);
	}
	if (image && !strcmp(scheme, "data")) {
		const char *p = rest;
		while (*p == ' ')
			p++;
		static const char *const types[] = {"image/png", "image/gif", "image/jpeg",
		                                    "image/webp", "image/avif"};
		for (size_t i = 0; i < NELEM(types); i++)
			if (!strncasecmp(p, types[i], strlen(types[i])) &&
			    (p[strlen(types[i])] == ';' || p[strlen(types[i])] == ','))
				return true;
	}
	return false;
}

/* Resolve and check one URL attribute value; appends the attribute or nothing. */
static void put_url_attr(struct fm_buf *out, const char *name, const char *value, const char *base,
                         bool image)
{
	char *abs = NULL, *clean = NULL;
	const char *v = value;
	/* browsers drop tabs and newlines anywhere in a URL before reading it */
	if (strpbrk(value, "\t\r\n")) {
		clean = strdup(value);
		if (!clean)
			return;
		char *o = clean;
		for (const char *p = value; *p; p++)
			if (*p != '\t' && *p != '\r' && *p != '\n')
				*o++ = *p;
		*o = '\0';
		v = clean;
	}
	if (base && *base) {
		abs = fm_url_resolve(base, v);
		if (abs)
			v = abs;
	}
	if (url_is_safe(v, image)) {
		fm_buf_putc(out, ' ');
		fm_buf_puts(out, name);
		fm_buf_puts(out, "=\"");
		fm_html_escape(out, v, strlen(v), 1);
		fm_buf_putc(out, '"');
	}
	free(abs);
	free(clean);
}

/* srcset: "url 1x, url 2x": each candidate URL resolved and checked; all or nothing. */
static void put_srcset(struct fm_buf *out, const char *value, const char *base)
{
	struct fm_buf tmp = FM_BUF_INIT;
	const char *p = value;
	bool ok = true;
	while (*p && ok) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		const char *u = p;
		while (*p && !isspace((unsigned char)*p) && *p != ',')
			p++;
		char *ref = strndup(u, (size_t)(p - u));
		char *abs = ref && base ? fm_url_resolve(base, ref) : NULL;
		const char *use = abs ? abs : ref;
		if (!use || !url_is_safe(use, true))
			ok = false;
		else {
			if (tmp.len)
				fm_buf_puts(&tmp, ", ");
			fm_buf_puts(&tmp, use);
		}
		free(ref);
		free(abs);
		const char *d = p;
		while (*p && *p != ',')
			p++;
		while (d < p && isspace((unsigned char)*d))
			d++;
		const char *de = p;
		while (de > d && isspace((unsigned char)de[-1]))
			de--;
		if (ok && de > d) {
			fm_buf_putc(&tmp, ' ');
			fm_buf_append(&tmp, d, (size_t)(de - d));
		}
	}
	if (ok && tmp.len) {
		fm_buf_puts(out, " srcset=\"");
		fm_html_escape(out, fm_buf_str(&tmp), tmp.len, 1);
		fm_buf_putc(out, '"');
	}
	fm_buf_free(&tmp);
}

/* ---- CSS ---- */

static const char *const css_properties[] = {
	"azimuth", "background-color", "border-bottom-color", "border-collapse", "border-color",
	"border-left-color", "border-right-color", "border-spacing", "border-top-color",
	"caption-side", "clear", "color", "cursor", "direction", "display", "elevation",
	"float", "font", "font-family", "font-size", "font-style", "font-variant", "font-weight",
	"height", "letter-spacing", "line-height", "list-style-type", "max-height", "max-width",
	"min-height", "min-width", "overflow", "pause", "pause-after", "pause-before", "pitch",
	"pitch-range", "richness", "speak", "speak-header", "speak-numeral", "speak-punctuation",
	"speech-rate", "stress", "table-layout", "text-align", "text-decoration", "text-indent",
	"text-transform", "unicode-bidi", "vertical-align", "voice-family", "volume",
	"white-space", "width", "word-spacing", "word-wrap",
};

static const char *const css_keywords[] = {
	"!important", "aqua", "auto", "black", "block", "blue", "bold", "both", "bottom",
	"brown", "center", "collapse", "dashed", "dotted", "double", "fuchsia", "gray", "green",
	"groove", "inset", "italic", "left", "lime", "maroon", "medium", "navy", "none",
	"normal", "nowrap", "olive", "outset", "pointer", "purple", "red", "ridge", "right",
	"silver", "solid", "teal", "thick", "thin", "top", "transparent", "underline", "white",
	"yellow",
};

/* Only plain words, numbers, colours, quoted font names and numeric parentheses: this keeps
 * out url(), expression(), escapes and comments without having to parse CSS. */
static bool css_value_chars_ok(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (isalnum(c) || strchr(" \t\r\n,#%.!-_", c))
			continue;
		if (c == '\'' || c == '"') {
			size_t j = i + 1;
			while (j < n && v[j] != (char)c &&
			       (isalnum((unsigned char)v[j]) || v[j] == ' ' || v[j] == '_' || v[j] == '-'))
				j++;
			if (j >= n || v[j] != (char)c)
				return false;
			i = j;
			continue;
		}
		if (c == '(') {
			size_t j = i + 1;
			while (j < n && (isdigit((unsigned char)v[j]) || strchr(" ,.%", v[j])))
				j++;
			if (j >= n || v[j] != ')')
				return false;
			i = j;
			continue;
		}
		if (c >= 0x80)
			continue; /* UTF-8 letters in font names */
		return false;
	}
	return true;
}

/* A token of a background/border/margin/padding shorthand: a keyword, a colour, or a small
 * non-negative length (a negative margin or a huge one pulls content over the page). */
static bool css_token_ok(const char *t, size_t n)
{
	char w[32];
	if (n == 0)
		return true;
	if (n >= sizeof(w))
		return false;
	memcpy(w, t, n);
	w[n] = '\0';
	if (in_sorted(css_keywords, NELEM(css_keywords), w))
		return true;
	if (w[0] == '#') {
		for (size_t i = 1; i < n; i++)
			if (!isxdigit((unsigned char)w[i]))
				return false;
		return n > 1;
	}
	const char *p = w;
	if (!strncasecmp(p, "rgb(", 4) || !strncasecmp(p, "rgba(", 5))
		return true; /* the character check already limited what is inside */
	size_t digits = 0;
	while (isdigit((unsigned char)*p)) {
		p++;
		digits++;
	}
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (digits > 4)
		return false;
	static const char *const units[] = {"", "%", "cm", "em", "ex", "in", "mm", "pc", "pt",
	                                    "px", "rem", ",", ")", "%,", "%)"};
	for (size_t i = 0; i < NELEM(units); i++)
		if (!strcasecmp(p, units[i]))
			return p != w;
	return false;
}

static void put_style(struct fm_buf *out, const char *style)
{
	struct fm_buf clean = FM_BUF_INIT;
	const char *p = style;
	while (*p) {
		const char *decl = p;
		/* a ';' inside quotes or parentheses does not end the declaration */
		char quote = 0;
		int paren = 0;
		while (*p && (quote || paren || *p != ';')) {
			if (quote) {
				if (*p == quote)
					quote = 0;
			} else if (*p == '\'' || *p == '"') {
				quote = *p;
			} else if (*p == '(') {
				paren++;
			} else if (*p == ')' && paren) {
				paren--;
			}
			p++;
		}
		const char *end = p;
		if (*p)
			p++;
		const char *colon = memchr(decl, ':', (size_t)(end - decl));
		if (!colon)
			continue;
		const char *ps = decl, *pe = colon;
		while (ps < pe && isspace((unsigned char)*ps))
			ps++;
		while (pe > ps && isspace((unsigned char)pe[-1]))
			pe--;
		const char *vs = colon + 1, *ve = end;
		while (vs < ve && isspace((unsigned char)*vs))
			vs++;
		while (ve > vs && isspace((unsigned char)ve[-1]))
			ve--;
		size_t plen = (size_t)(pe - ps);
		if (plen == 0 || plen > 40 || vs == ve)
			continue;
		char prop[48];
		bool bad = false;
		for (size_t i = 0; i < plen; i++) {
			unsigned char c = (unsigned char)ps[i];
			if (!isalnum(c) && c != '-' && c != '_')
				bad = true;
			prop[i] = (char)tolower(c);
		}
		prop[plen] = '\0';
		if (bad || !css_value_chars_ok(vs, (size_t)(ve - vs)))
			continue;
		bool keep = false;
		if (in_sorted(css_properties, NELEM(css_properties), prop)) {
			keep = true;
			/* hiding content is how feeds smuggle spam and fake UI */
			if (!strcmp(prop, "display") && (size_t)(ve - vs) >= 4 && !strncasecmp(vs, "none", 4))
				keep = false;
		} else if (!strncmp(prop, "background", 10) || !strncmp(prop, "border", 6) ||
		           !strncmp(prop, "margin", 6) || !strncmp(prop, "padding", 7)) {
			keep = true;
			const char *t = vs;
			while (t < ve && keep) {
				while (t < ve && isspace((unsigned char)*t))
					t++;
				const char *te = t;
				while (te < ve && !isspace((unsigned char)*te))
					te++;
				if (!css_token_ok(t, (size_t)(te - t)))
					keep = false;
				t = te;
			}
		}
		if (!keep)
			continue;
		if (clean.len)
			fm_buf_putc(&clean, ' ');
		fm_buf_append(&clean, ps, plen);
		fm_buf_puts(&clean, ": ");
		fm_buf_append(&clean, vs, (size_t)(ve - vs));
		fm_buf_putc(&clean, ';');
	}
	if (clean.len) {
		fm_buf_puts(out, " style=\"");
		fm_html_escape(out, fm_buf_str(&clean), clean.len, 1);
		fm_buf_putc(out, '"');
	}
	fm_buf_free(&clean);
}

/* ---- Tree walk ---- */

enum ns_mode { NS_HTML, NS_SVG, NS_MATH };

struct walker {
	struct fm_buf *out;
	int depth;
};

static void walk(struct walker *w, xmlNodePtr first, const char *base, enum ns_mode mode);

static enum ns_mode node_ns(xmlNodePtr n, enum ns_mode parent)
{
	if (n->ns && n->ns->href) {
		const char *h = (const char *)n->ns->href;
		if (!strcmp(h, "http://www.w3.org/2000/svg"))
			return NS_SVG;
		if (!strcmp(h, "http://www.w3.org/1998/Math/MathML"))
			return NS_MATH;
		if (!strcmp(h, "http://www.w3.org/1999/xhtml"))
			return NS_HTML;
	}
	const char *name = (const char *)n->name;
	if (!strcasecmp(name, "svg"))
		return NS_SVG;
	if (!strcasecmp(name, "math"))
		return NS_MATH;
	return parent;
}

static void put_text(struct fm_buf *out, const xmlChar *s)
{
	if (s)
		escape_cstr(out, (const char *)s, 0);
}

static void put_attrs(struct walker *w, xmlNodePtr n, const char *base, enum ns_mode mode,
                      const char *elname)
{
	bool image = !strcasecmp(elname, "img") || !strcasecmp(elname, "source") ||
	             !strcasecmp(elname, "picture");
	for (xmlAttrPtr a = n->properties; a; a = a->next) {
		const char *name = (const char *)a->name;
		if (!strncasecmp(name, "on", 2))
			continue;
		const char *v = "";
		char *raw = NULL;
		if (a->children && a->children->type == XML_TEXT_NODE && !a->children->next) {
			v = a->children->content ? (const char *)a->children->content : "";
		} else if (a->children) {
			raw = (char *)xmlNodeGetContent((xmlNodePtr)a);
			if (raw)
				v = raw;
		}
		const char *prefix = a->ns && a->ns->prefix ? (const char *)a->ns->prefix : NULL;
		if (prefix) {
			if (!strcmp(prefix, "xml") && (!strcmp(name, "lang") || !strcmp(name, "space"))) {
				fm_buf_printf(w->out, " xml:%s=\"", name);
				escape_cstr(w->out, v, 1);
				fm_buf_putc(w->out, '"');
			} else if (!strcmp(name, "href") && mode == NS_SVG && v[0] == '#') {
				/* same-document references only (<use>) */
				fm_buf_puts(w->out, " xlink:href=\"");
				escape_cstr(w->out, v, 1);
				fm_buf_putc(w->out, '"');
			} else if (!strcmp(name, "href") && mode == NS_SVG && !strcmp(elname, "a")) {
				put_url_attr(w->out, "xlink:href", v, base, false);
			}
			xmlFree(raw);
			continue;
		}
		if (mode == NS_SVG && !strcasecmp(name, "xlink:href")) {
			/* the HTML parser keeps a prefixed name as is */
			if (v[0] == '#' || !strcmp(elname, "a"))
				put_url_attr(w->out, "xlink:href", v, v[0] == '#' ? NULL : base, false);
			xmlFree(raw);
			continue;
		}
		if (mode == NS_SVG) {
			const char *canon = find_linear(svg_attributes, NELEM(svg_attributes), name);
			if (canon) {
				fm_buf_printf(w->out, " %s=\"", canon);
				escape_cstr(w->out, v, 1);
				fm_buf_putc(w->out, '"');
			} else if (!strcasecmp(name, "style")) {
				put_style(w->out, v);
			} else if (!strcasecmp(name, "class")) {
				fm_buf_puts(w->out, " class=\"");
				escape_cstr(w->out, v, 1);
				fm_buf_putc(w->out, '"');
			} else if (!strcmp(name, "href") && v[0] == '#') {
				fm_buf_puts(w->out, " href=\"");
				escape_cstr(w->out, v, 1);
				fm_buf_putc(w->out, '"');
			}
			xmlFree(raw);
			continue;
		}
		if (mode == NS_MATH) {
			const char *canon = find_linear(math_attributes, NELEM(math_attributes), name);
			if (canon) {
				fm_buf_printf(w->out, " %s=\"", canon);
				escape_cstr(w->out, v, 1);
				fm_buf_putc(w->out, '"');
			}
			xmlFree(raw);
			continue;
		}
		char lname[32];
		size_t ln = strlen(name);
		if (ln >= sizeof(lname)) {
			xmlFree(raw);
			continue;
		}
		for (size_t i = 0; i <= ln; i++)
			lname[i] = (char)tolower((unsigned char)name[i]);
		if (!in_sorted(html_attributes, NELEM(html_attributes), lname)) {
			xmlFree(raw);
			continue;
		}
		if (!strcmp(lname, "style")) {
			put_style(w->out, v);
		} else if (!strcmp(lname, "srcset")) {
			put_srcset(w->out, v, base);
		} else if (in_sorted(url_attributes, NELEM(url_attributes), lname) && *v) {
			put_url_attr(w->out, lname, v, base, image && !strcmp(lname, "src"));
		} else {
			fm_buf_printf(w->out, " %s=\"", lname);
			escape_cstr(w->out, v, 1);
			fm_buf_putc(w->out, '"');
		}
		xmlFree(raw);
	}
}

/* xml:base on this element (XML trees: Atom XHTML content) changes the base below it. */
static char *element_base(xmlNodePtr n, const char *base)
{
	if (n->type != XML_ELEMENT_NODE || !n->properties)
		return NULL;
	xmlChar *b = xmlGetNsProp(n, BAD_CAST "base", XML_XML_NAMESPACE);
	if (!b)
		return NULL;
	char *r = fm_url_resolve(base, (const char *)b);
	xmlFree(b);
	return r;
}

static void put_element(struct walker *w, xmlNodePtr n, const char *base, enum ns_mode parent)
{
	const char *name = (const char *)n->name;
	enum ns_mode mode = node_ns(n, parent);
	const char *canon = NULL;
	enum el_action act;

	if (mode == NS_SVG) {
		canon = find_linear(svg_elements, NELEM(svg_elements), name);
		act = canon ? EL_KEEP : EL_DROP;
	} else if (mode == NS_MATH) {
		canon = find_linear(math_elements, NELEM(math_elements), name);
		act = canon ? EL_KEEP : EL_UNWRAP;
		if (canon && !strcmp(canon, "annotation"))
			act = EL_DROP;
	} else {
		const struct el_rule *r = bsearch(name, html_elements, NELEM(html_elements),
		                                  sizeof(html_elements[0]), cmp_rule);
		act = r ? r->action : EL_UNWRAP;
		canon = r ? r->name : NULL;
	}
	if (act == EL_DROP)
		return;

	char *nb = element_base(n, base);
	const char *b = nb ? nb : base;
	if (act == EL_UNWRAP || w->depth >= MAX_DEPTH) {
		if (w->depth < MAX_DEPTH * 4) {
			w->depth++;
			walk(w, n->children, b, mode);
			w->depth--;
		}
		free(nb);
		return;
	}
	fm_buf_putc(w->out, '<');
	fm_buf_puts(w->out, canon);
	if (mode == NS_SVG && !strcmp(canon, "svg"))
		fm_buf_puts(w->out, " xmlns=\"http://www.w3.org/2000/svg\"");
	else if (mode == NS_SVG && !strcmp(canon, "a"))
		fm_buf_puts(w->out, " xmlns:xlink=\"http://www.w3.org/1999/xlink\"");
	else if (mode == NS_MATH && !strcmp(canon, "math"))
		fm_buf_puts(w->out, " xmlns=\"http://www.w3.org/1998/Math/MathML\"");
	put_attrs(w, n, b, mode, canon);
	if (act == EL_VOID) {
		fm_buf_puts(w->out, " />");
		free(nb);
		return;
	}
	fm_buf_putc(w->out, '>');
	w->depth++;
	walk(w, n->children, b, mode);
	w->depth--;
	fm_buf_puts(w->out, "</");
	fm_buf_puts(w->out, canon);
	fm_buf_putc(w->out, '>');
	free(nb);
}

static void put_entity_ref(struct fm_buf *out, xmlNodePtr n)
{
	xmlEntityPtr ent = n->doc ? xmlGetDocEntity(n->doc, n->name) : NULL;
	if (ent) {
		/* declared in the document: its replacement text, unexpanded further (so nested
		 * declarations cannot multiply) and escaped; external entities are never loaded */
		if ((ent->etype == XML_INTERNAL_GENERAL_ENTITY ||
		     ent->etype == XML_INTERNAL_PREDEFINED_ENTITY) && ent->content)
			put_text(out, ent->content);
		return;
	}
	const htmlEntityDesc *e = htmlEntityLookup(n->name);
	if (e) {
		char u[8];
		int len = xmlCopyCharMultiByte((xmlChar *)u, (int)e->value);
		if (len > 0) {
			fm_html_escape(out, u, (size_t)len, 0);
			return;
		}
	}
	fm_buf_puts(out, "&amp;");
	put_text(out, n->name);
	fm_buf_putc(out, ';');
}

static void walk(struct walker *w, xmlNodePtr first, const char *base, enum ns_mode mode)
{
	for (xmlNodePtr n = first; n; n = n->next) {
		switch (n->type) {
		case XML_TEXT_NODE:
		case XML_CDATA_SECTION_NODE:
			put_text(w->out, n->content);
			break;
		case XML_ENTITY_REF_NODE:
			put_entity_ref(w->out, n);
			break;
		case XML_ELEMENT_NODE:
			put_element(w, n, base, mode);
			break;
		default:
			break; /* comments, PIs, DTD nodes */
		}
	}
}

void fm_html_sanitize_node(xmlNodePtr node, const char *base_url, struct fm_buf *out)
{
	if (!node)
		return;
	struct walker w = {out, 0};
	char *nb = element_base(node, base_url);
	walk(&w, node->children, nb ? nb : base_url, NS_HTML);
	free(nb);
}

static const char FRAG_PREFIX[] = "<html><body>";

/* Parse a fragment as the content of <body>: returns the document, or NULL. A parser context
 * is kept per thread and reset between fragments: creating one (dictionary, SAX table, stacks)
 * cost as much as parsing a typical item. */
static __thread htmlParserCtxtPtr frag_ctxt;
static __thread unsigned frag_uses;
static pthread_key_t frag_key;
static pthread_once_t frag_once = PTHREAD_ONCE_INIT;

static void frag_ctxt_free(void *p)
{
	htmlFreeParserCtxt(p);
	frag_ctxt = NULL;
}

static bool frag_key_ok;

static void frag_key_init(void)
{
	frag_key_ok = pthread_key_create(&frag_key, frag_ctxt_free) == 0;
}

/* When the plugin holding this code is unloaded, no thread may later run a destructor that
 * lives in it: delete the key (contexts of threads still running are then simply not freed). */
__attribute__((destructor)) static void frag_key_fini(void)
{
	if (frag_key_ok) {
		pthread_key_delete(frag_key);
		frag_key_ok = false;
	}
	if (frag_ctxt) {
		htmlFreeParserCtxt(frag_ctxt);
		frag_ctxt = NULL;
	}
}

static htmlDocPtr parse_fragment(const char *html, size_t len)
{
	size_t plen = sizeof(FRAG_PREFIX) - 1;
	if (len > (size_t)INT32_MAX - plen)
		return NULL;
	char *buf = malloc(plen + len + 1);
	if (!buf)
		return NULL;
	memcpy(buf, FRAG_PREFIX, plen);
	memcpy(buf + plen, html, len);
	buf[plen + len] = '\0';
	/* the context's dictionary only grows: start afresh now and then */
	if (frag_ctxt && ++frag_uses > 2000) {
		htmlFreeParserCtxt(frag_ctxt);
		frag_ctxt = NULL;
	}
	if (!frag_ctxt) {
		/* freed by the key's destructor when the thread exits */
		pthread_once(&frag_once, frag_key_init);
		frag_ctxt = htmlNewParserCtxt();
		frag_uses = 0;
	}
	if (frag_key_ok)
		pthread_setspecific(frag_key, frag_ctxt);
	htmlDocPtr doc = NULL;
	if (frag_ctxt)
		doc = htmlCtxtReadMemory(frag_ctxt, buf, (int)(plen + len), NULL, "UTF-8",
		                         HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
		                                 HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
		                                 HTML_PARSE_NOIMPLIED | HTML_PARSE_NODEFDTD);
	free(buf);
	return doc;
}

static xmlNodePtr find_body(htmlDocPtr doc)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	if (!root)
		return NULL;
	for (xmlNodePtr c = root->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && !strcasecmp((const char *)c->name, "body"))
			return c;
	return root;
}

char *fm_html_sanitize(const char *html, size_t len, const char *base_url)
{
	struct fm_buf out = FM_BUF_INIT;
	if (!html || !len)
		return fm_buf_steal(&out);
	/* Plain text needs no parser: only '>' could need escaping. */
	if (!memchr(html, '<', len) && !memchr(html, '&', len)) {
		fm_html_escape(&out, html, len, 0);
		return fm_buf_steal(&out);
	}
	htmlDocPtr doc = parse_fragment(html, len);
	if (doc) {
		xmlNodePtr body = find_body(doc);
		if (body)
			fm_html_sanitize_node(body, base_url, &out);
		xmlFreeDoc(doc);
	}
	return fm_buf_steal(&out);
}

/* ---- Plain text ---- */

static bool is_block(const char *name)
{
	static const char *const blocks[] = {
		"address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
		"figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
		"hr", "li", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
	};
	return in_sorted(blocks, NELEM(blocks), name);
}

static void text_walk(struct fm_buf *out, xmlNodePtr first, int depth)
{
	for (xmlNodePtr n = first; n; n = n->next) {
		if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
			if (n->content)
				fm_buf_puts(out, (const char *)n->content);
		} else if (n->type == XML_ELEMENT_NODE && depth < MAX_DEPTH * 4) {
			const char *name = (const char *)n->name;
			if (!strcasecmp(name, "script") || !strcasecmp(name, "style") ||
			    !strcasecmp(name, "template"))
				continue;
			bool block = is_block(name);
			if (block)
				fm_buf_putc(out, ' ');
			text_walk(out, n->children, depth + 1);
			if (block)
				fm_buf_putc(out, ' ');
		}
	}
}

/* Collapse whitespace runs (ASCII space, tab, CR, LF, FF, and U+00A0) into one space, trimmed. */
static char *collapse(const char *s, size_t len)
{
	char *r = malloc(len + 1);
	if (!r)
		return NULL;
	size_t o = 0;
	bool space = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
			space = true;
			continue;
		}
		if (space && o)
			r[o++] = ' ';
		space = false;
		r[o++] = (char)c;
	}
	r[o] = '\0';
	return r;
}

char *fm_html_to_text(const char *html, size_t len)
{
	if (!html)
		return NULL;
	if (!memchr(html, '<', len) && !memchr(html, '&', len))
		return collapse(html, len);
	struct fm_buf out = FM_BUF_INIT;
	htmlDocPtr doc = parse_fragment(html, len);
	if (doc) {
		xmlNodePtr body = find_body(doc);
		if (body)
			text_walk(&out, body->children, 0);
		xmlFreeDoc(doc);
	}
	char *r = collapse(fm_buf_str(&out), out.len);
	fm_buf_free(&out);
	return r;
}
