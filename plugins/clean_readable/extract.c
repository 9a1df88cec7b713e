/*
 * Main-content extraction.
 *
 * The page is parsed with libxml2's HTML parser, then walked once (iteratively, with depth and
 * node caps) to cut it into text blocks: maximal runs of inline content between block-level
 * boundaries, the unit of Kohlschütter, Fankhauser & Nejdl, "Boilerplate detection using
 * shallow text features" (WSDM 2010). Each block gets the shallow features that paper found
 * sufficient (number of words, link density, plus sentence punctuation) and the hints the
 * markup gives (class/id/role/itemprop patterns, as Arc90's Readability uses class and id
 * names to weight candidates; <nav>, <aside>, <footer> and hidden elements are skipped).
 *
 * A block's value is positive for content-like text (long, few links) and negative for
 * boilerplate-like text (link lists, short fragments, blocks inside comment/share/related
 * containers). The container of the article is the DOM element whose subtree maximizes the
 * sum of its blocks' values: the tree form of the maximum-subsequence segmentation of
 * Pasternack & Roth ("Extracting article text from the web with maximum subsequence
 * segmentation", WWW 2009), with a bonus for elements the page itself marks as the article
 * body (itemprop=articleBody, "article-body"-like classes, <article>). Inside the container,
 * link-heavy and flagged blocks are dropped, short fragments are kept only between content
 * blocks, and blocks learned as recurring boilerplate for the source are removed.
 *
 * Metadata (title, date, authors, language) come from the same walk: JSON-LD, OpenGraph and
 * other meta tags, microdata, <time>, the URL and bylines.
 */
#include "extract.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include "boiler.h"
#include "buf.h"
#include "html_sanitize.h"
#include "text.h"
#include "url.h"

/* ---- tags -------------------------------------------------------------------------- */

enum tag {
	T_OTHER, T_A, T_ABBR, T_ADDRESS, T_ARTICLE, T_ASIDE, T_AUDIO, T_B, T_BASE, T_BLOCKQUOTE,
	T_BODY, T_BR, T_BUTTON, T_CANVAS, T_CAPTION, T_CENTER, T_CITE, T_CODE, T_DD, T_DEL,
	T_DETAILS, T_DIALOG, T_DIV, T_DL, T_DT, T_EM, T_EMBED, T_FIELDSET, T_FIGCAPTION,
	T_FIGURE, T_FOOTER, T_FORM, T_H1, T_H2, T_H3, T_H4, T_H5, T_H6, T_HEAD, T_HEADER, T_HR,
	T_HTML, T_I, T_IFRAME, T_IMG, T_INPUT, T_INS, T_KBD, T_LABEL, T_LI, T_LINK, T_MAIN,
	T_MAP, T_MARK, T_MATH, T_MENU, T_META, T_NAV, T_NOSCRIPT, T_OBJECT, T_OL, T_OPTION,
	T_P, T_PICTURE, T_PRE, T_Q, T_S, T_SAMP, T_SCRIPT, T_SECTION, T_SELECT, T_SMALL,
	T_SOURCE, T_STRIKE, T_STRONG, T_STYLE, T_SUB, T_SUMMARY, T_SUP, T_SVG, T_TABLE,
	T_TBODY, T_TD, T_TEMPLATE, T_TEXTAREA, T_TFOOT, T_TH, T_THEAD, T_TIME, T_TITLE, T_TR,
	T_U, T_UL, T_VIDEO, T_COUNT
};

static const struct { const char *name; enum tag tag; } tag_names[] = {
	{"a", T_A}, {"abbr", T_ABBR}, {"address", T_ADDRESS}, {"article", T_ARTICLE},
	{"aside", T_ASIDE}, {"audio", T_AUDIO}, {"b", T_B}, {"base", T_BASE},
	{"blockquote", T_BLOCKQUOTE}, {"body", T_BODY}, {"br", T_BR}, {"button", T_BUTTON},
	{"canvas", T_CANVAS}, {"caption", T_CAPTION}, {"center", T_CENTER}, {"cite", T_CITE},
	{"code", T_CODE}, {"dd", T_DD}, {"del", T_DEL}, {"details", T_DETAILS},
	{"dialog", T_DIALOG}, {"div", T_DIV}, {"dl", T_DL}, {"dt", T_DT}, {"em", T_EM},
	{"embed", T_EMBED}, {"fieldset", T_FIELDSET}, {"figcaption", T_FIGCAPTION},
	{"figure", T_FIGURE}, {"footer", T_FOOTER}, {"form", T_FORM}, {"h1", T_H1},
	{"h2", T_H2}, {"h3", T_H3}, {"h4", T_H4}, {"h5", T_H5}, {"h6", T_H6}, {"head", T_HEAD},
	{"header", T_HEADER}, {"hr", T_HR}, {"html", T_HTML}, {"i", T_I}, {"iframe", T_IFRAME},
	{"img", T_IMG}, {"input", T_INPUT}, {"ins", T_INS}, {"kbd", T_KBD}, {"label", T_LABEL},
	{"li", T_LI}, {"link", T_LINK}, {"main", T_MAIN}, {"map", T_MAP}, {"mark", T_MARK},
	{"math", T_MATH}, {"menu", T_MENU}, {"meta", T_META}, {"nav", T_NAV},
	{"noscript", T_NOSCRIPT}, {"object", T_OBJECT}, {"ol", T_OL}, {"option", T_OPTION},
	{"p", T_P}, {"picture", T_PICTURE}, {"pre", T_PRE}, {"q", T_Q}, {"s", T_S},
	{"samp", T_SAMP}, {"script", T_SCRIPT}, {"section", T_SECTION}, {"select", T_SELECT},
	{"small", T_SMALL}, {"source", T_SOURCE}, {"strike", T_STRIKE}, {"strong", T_STRONG},
	{"style", T_STYLE}, {"sub", T_SUB}, {"summary", T_SUMMARY}, {"sup", T_SUP},
	{"svg", T_SVG}, {"table", T_TABLE}, {"tbody", T_TBODY}, {"td", T_TD},
	{"template", T_TEMPLATE}, {"textarea", T_TEXTAREA}, {"tfoot", T_TFOOT}, {"th", T_TH},
	{"thead", T_THEAD}, {"time", T_TIME}, {"title", T_TITLE}, {"tr", T_TR}, {"u", T_U},
	{"ul", T_UL}, {"video", T_VIDEO},
};

static enum tag tag_of(const xmlChar *name)
{
	size_t lo = 0, hi = sizeof(tag_names) / sizeof(tag_names[0]);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp((const char *)name, tag_names[mid].name);
		if (!c)
			return tag_names[mid].tag;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return T_OTHER;
}

/* what a tag means for segmentation */
enum {
	TF_BLOCK = 1,   /* ends the current text block */
	TF_DEAD = 2,    /* skipped with its subtree */
	TF_INLINE = 4,  /* formatting kept in the html output */
};

static unsigned tag_flags(enum tag t)
{
	switch (t) {
	case T_SCRIPT: case T_STYLE: case T_NOSCRIPT: case T_TEMPLATE: case T_SVG: case T_MATH:
	case T_IFRAME: case T_OBJECT: case T_EMBED: case T_CANVAS: case T_BUTTON: case T_INPUT:
	case T_SELECT: case T_TEXTAREA: case T_OPTION: case T_HEAD: case T_LINK: case T_META:
	case T_TITLE: case T_NAV: case T_ASIDE: case T_FOOTER: case T_DIALOG: case T_MENU:
	case T_AUDIO: case T_VIDEO: case T_MAP: case T_SOURCE: case T_LABEL: case T_BASE:
		return TF_DEAD | TF_BLOCK;
	case T_ADDRESS: case T_ARTICLE: case T_BLOCKQUOTE: case T_BODY: case T_CAPTION:
	case T_CENTER: case T_DD: case T_DETAILS: case T_DIV: case T_DL: case T_DT:
	case T_FIELDSET: case T_FIGCAPTION: case T_FIGURE: case T_FORM: case T_H1: case T_H2:
	case T_H3: case T_H4: case T_H5: case T_H6: case T_HEADER: case T_HR: case T_HTML:
	case T_LI: case T_MAIN: case T_OL: case T_P: case T_PRE: case T_SECTION:
	case T_SUMMARY: case T_TABLE: case T_TBODY: case T_TD: case T_TFOOT: case T_TH:
	case T_THEAD: case T_TR: case T_UL: case T_IMG: case T_PICTURE:
		return TF_BLOCK;
	case T_A: case T_ABBR: case T_B: case T_CITE: case T_CODE: case T_DEL: case T_EM:
	case T_I: case T_INS: case T_KBD: case T_MARK: case T_Q: case T_S: case T_SAMP:
	case T_SMALL: case T_STRIKE: case T_STRONG: case T_SUB: case T_SUP: case T_U:
		return TF_INLINE;
	default:
		return 0;
	}
}

static const char *tag_name(enum tag t)
{
	for (size_t i = 0; i < sizeof(tag_names) / sizeof(tag_names[0]); i++)
		if (tag_names[i].tag == t)
			return tag_names[i].name;
	return "span";
}

/* ---- attributes without allocation ------------------------------------------------- */

static const char *attr(xmlNodePtr n, const char *name)
{
	for (xmlAttrPtr a = n->properties; a; a = a->next) {
		if (a->name && !strcasecmp((const char *)a->name, name)) {
			if (a->children && a->children->type == XML_TEXT_NODE && a->children->content)
				return (const char *)a->children->content;
			return "";
		}
	}
	return NULL;
}

/* ---- class / id hints ---------------------------------------------------------------
 * Pattern lists in the spirit of Readability's "unlikely candidates" and "positive" regular
 * expressions; written for this project. Long words match as substrings of the lower-cased
 * class+id string; short ones only as whole tokens (split at space, '-' and '_'), so "ad"
 * does not hit "header" or "shadow". */

static const char *const neg_sub[] = {
	"comment", "disqus", "share", "sharing", "social", "related", "recommend",
	"newsletter", "subscri", "signup", "sign-up", "cookie", "consent", "gdpr", "promo",
	"advert", "sponsor", "breadcrumb", "sidebar", "widget", "popup", "modal", "outbrain",
	"taboola", "paywall", "footer", "masthead", "navbar", "navigation", "pagination",
	"toolbar", "more-stories", "morestories", "read-more", "readmore", "trending",
	"most-popular", "mostpopular", "popular", "skip-link", "rss", "byline", "author-bio",
	"authorbio", "author-info", "dateline", "timestamp", "caption", "credit", "copyright",
	"disclaimer", "alert", "banner", "teaser", "tease", "follow", "print", "login",
	"register", "tooltip", "offscreen", "sr-only", "visually-hidden",
	"screen-reader", "adslot", "ad-slot", "ad-container", "ad-wrapper", "dfp", "gpt-ad",
	"inline-ad", "native-ad", "nocontent", "keywords", "topics", "headline",
	"article-title", "entry-title", "post-title", "page-title", "top-stories",
	"further-reading", "see-also", "next-article", "prev", "upsell", "donate", "survey",
	"feedback", "rating", "playlist", "carousel", "slideshow", "gallery-nav", "video-player",
	"audio-player", "podcast", "rightrail", "right-rail", "leftrail", "left-rail",
	"rail-", "privacy",
};
static const char *const neg_tok[] = {
	"ad", "ads", "adv", "advert", "nav", "menu", "tags", "tag", "meta", "extra", "aside",
	"date", "author", "time", "label", "share", "tools", "utility", "utilities", "links",
	"more", "header", "top", "foot", "footer", "partner", "partners", "sticky",
	"jump", "toc", "kicker", "eyebrow", "overline", "lede-image", "image", "photo", "media",
	"embed", "figure", "img", "icon", "logo", "button", "btn", "cta", "form", "search",
	"community", "replies", "reply", "contact", "rail",
};
static const char *const pos_strong[] = {
	"articlebody", "article-body", "article__body", "article_body", "articletext",
	"article-text", "article__text", "article-content", "articlecontent", "article__content",
	"article_content", "story-body", "storybody", "story__body", "story-content",
	"storycontent", "story-text", "storytext", "post-content", "postcontent", "post__content",
	"post-body", "postbody", "post-text", "entry-content", "entrycontent", "entry__content",
	"entry-body", "main-content", "maincontent", "content-body", "contentbody", "body-text",
	"bodytext", "body-copy", "bodycopy", "text-content", "rich-text", "richtext",
	"field-body", "news-text", "newstext", "article-copy", "content-article", "single-content",
	"blog-content", "blog-post-body", "td-post-content", "post_content", "entry_content",
	"article-main", "artikel", "cuerpo", "contenido", "testo",
};
static const char *const pos_tok[] = {
	"article", "content", "entry", "post", "story", "text", "body", "main", "blog",
	"column", "prose", "copy",
};

enum { H_NEG = 1, H_POS = 2, H_POS_STRONG = 4, H_NEG_STRONG = 8 };

/* user comments are never the article, however much text they hold */
static const char *const neg_strong[] = {"comment", "disqus", "respond", "replies"};

static bool tok_match(const char *s, const char *const *list, size_t n)
{
	const char *p = s;
	while (*p) {
		while (*p == ' ' || *p == '-' || *p == '_')
			p++;
		const char *w = p;
		while (*p && *p != ' ' && *p != '-' && *p != '_')
			p++;
		size_t len = (size_t)(p - w);
		if (!len)
			continue;
		for (size_t i = 0; i < n; i++)
			if (strlen(list[i]) == len && !memcmp(list[i], w, len))
				return true;
	}
	return false;
}

static unsigned class_hints(xmlNodePtr n, enum tag t)
{
	const char *cl = attr(n, "class"), *id = attr(n, "id"), *role = attr(n, "role");
	const char *ip = attr(n, "itemprop");
	unsigned h = 0;
	if (ip && strstr(ip, "articleBody"))
		return H_POS_STRONG;
	if (role) {
		if (!strcasecmp(role, "main") || !strcasecmp(role, "article"))
			h |= H_POS;
		else if (!strcasecmp(role, "navigation") || !strcasecmp(role, "banner") ||
		         !strcasecmp(role, "contentinfo") || !strcasecmp(role, "complementary") ||
		         !strcasecmp(role, "search") || !strcasecmp(role, "menu") ||
		         !strcasecmp(role, "menubar") || !strcasecmp(role, "dialog") ||
		         !strcasecmp(role, "alert") || !strcasecmp(role, "toolbar"))
			return H_NEG;
	}
	if (!cl && !id)
		return h;
	char buf[512];
	size_t k = 0;
	for (int pass = 0; pass < 2; pass++) {
		const char *s = pass ? id : cl;
		if (!s)
			continue;
		/* WordPress and others add taxonomy classes ("tag-comments", "category-social")
		 * to the article element: they describe the topic, not the block */
		const char *p = s;
		while (*p && k + 2 < sizeof(buf)) {
			while (*p == ' ' || *p == '\t' || *p == '\n')
				p++;
			const char *w = p;
			while (*p && *p != ' ' && *p != '\t' && *p != '\n')
				p++;
			size_t len = (size_t)(p - w);
			if (!len)
				continue;
			if ((len > 4 && !strncasecmp(w, "tag-", 4)) ||
			    (len > 9 && !strncasecmp(w, "category-", 9)) ||
			    (len > 5 && !strncasecmp(w, "post-", 5) && isdigit((unsigned char)w[5])))
				continue;
			for (size_t i = 0; i < len && k + 2 < sizeof(buf); i++)
				buf[k++] = (char)tolower((unsigned char)w[i]);
			buf[k++] = ' ';
		}
	}
	buf[k] = 0;
	if (!k)
		return h;
	for (size_t i = 0; i < sizeof(pos_strong) / sizeof(pos_strong[0]); i++)
		if (strstr(buf, pos_strong[i]))
			return h | H_POS_STRONG;
	bool neg = false;
	for (size_t i = 0; i < sizeof(neg_sub) / sizeof(neg_sub[0]) && !neg; i++)
		if (strstr(buf, neg_sub[i]))
			neg = true;
	if (!neg)
		neg = tok_match(buf, neg_tok, sizeof(neg_tok) / sizeof(neg_tok[0]));
	/* the page's big wrappers are never boilerplate as a whole */
	if (neg && t != T_BODY && t != T_HTML && t != T_MAIN && t != T_ARTICLE) {
		for (size_t i = 0; i < sizeof(neg_strong) / sizeof(neg_strong[0]); i++)
			if (strstr(buf, neg_strong[i]))
				return H_NEG | H_NEG_STRONG;
		return H_NEG;
	}
	if (tok_match(buf, pos_tok, sizeof(pos_tok) / sizeof(pos_tok[0])))
		h |= H_POS;
	return h;
}

static bool is_hidden(xmlNodePtr n)
{
	if (attr(n, "hidden"))
		return true;
	const char *st = attr(n, "style");
	if (st) {
		char low[256];
		size_t k = 0;
		for (const char *p = st; *p && k + 1 < sizeof(low); p++)
			if (*p != ' ')
				low[k++] = (char)tolower((unsigned char)*p);
		low[k] = 0;
		if (strstr(low, "display:none") || strstr(low, "visibility:hidden"))
			return true;
	}
	const char *ah = attr(n, "aria-hidden");
	const char *cl = attr(n, "class");
	if (ah && !strcmp(ah, "true") && cl && (strstr(cl, "icon") || strstr(cl, "sr-")))
		return true;
	return false;
}

/* ---- segmentation data ------------------------------------------------------------- */

enum elem_flags {
	EF_NEG = 1 << 0,       /* inside a boilerplate-marked container */
	EF_POS = 1 << 1,       /* this element is marked as content */
	EF_POS_STRONG = 1 << 2,
	EF_IN_A = 1 << 3,
	EF_IN_PRE = 1 << 4,
	EF_IN_HEADER = 1 << 5,
	EF_IN_CAPTION = 1 << 6,
	EF_IN_TABLE = 1 << 7,
};

struct elem {
	xmlNodePtr node;
	int parent;
	int owner; /* nearest block-level element (itself when block-level) */
	int list;  /* nearest ul/ol/dl, -1 */
	int quote; /* nearest blockquote, -1 */
	int heading; /* 1..6 inside h1..h6, else 0 */
	int end;   /* one past the last descendant's index */
	unsigned flags;
	uint8_t tag;
	uint8_t hints; /* H_* of its own class/id/role */
	double sum; /* sum of block values in the subtree */
	double pos; /* sum of positive block values, boilerplate marks ignored */
	uint32_t npos; /* number of such blocks */
	double strong_pos; /* pos inside elements marked as the article body */
};

enum item_type { IT_TEXT, IT_BR, IT_OPEN, IT_CLOSE };

struct item {
	uint8_t type, tag;
	int elem;          /* IT_OPEN of <a>: the element, for href */
	uint32_t off, len; /* IT_TEXT: range in the text pool */
};

enum block_kind { BK_TEXT, BK_HEAD, BK_FIG, BK_TABLE };

struct block {
	uint8_t kind, level, is_li, pre;
	int owner, list, quote;
	unsigned flags;
	uint32_t item_begin, item_end;
	uint32_t words, link_words, chars, link_chars, punct;
	double v;
	bool keep, learned;
	xmlNodePtr node;   /* BK_FIG / BK_TABLE */
	uint32_t cap_off, cap_len; /* BK_FIG: caption text in the pool */
};

struct meta {
	char *title_tag, *og_title, *ld_headline, *h1, *site_name;
	char *lang_attr, *lang_meta, *ld_lang;
	char *base_href, *canonical;
	time_t ld_date, meta_date, time_date, micro_date;
	struct fm_buf authors_meta, authors_ld, authors_micro, authors_byline; /* '\n'-separated */
	char *ld_body;
	int n_ld;
};

struct seg {
	const struct rd_limits *lim;
	struct elem *el;
	size_t nel, capel;
	struct item *it;
	size_t nit, capit;
	struct block *bl;
	size_t nbl, capbl;
	struct fm_buf pool;
	int cur;     /* open block index, -1 */
	bool capped;
	struct meta m;
	const char *url;
	bool fragment;
};

#define GROW(arr, n, cap)                                                                    \
	do {                                                                                     \
		if ((n) >= (cap)) {                                                              \
			size_t nc_ = (cap) ? (cap) * 2 : 256;                                    \
			void *np_ = realloc((arr), nc_ * sizeof(*(arr)));                        \
			if (!np_)                                                                \
				return -ENOMEM;                                                  \
			(arr) = np_;                                                             \
			(cap) = nc_;                                                             \
		}                                                                                \
	} while (0)

/* ---- blocks ------------------------------------------------------------------------ */

static int open_block(struct seg *s, int owner_elem)
{
	GROW(s->bl, s->nbl, s->capbl);
	struct block *b = &s->bl[s->nbl];
	memset(b, 0, sizeof(*b));
	const struct elem *e = &s->el[owner_elem];
	b->kind = e->heading ? BK_HEAD : BK_TEXT;
	b->level = (uint8_t)e->heading;
	b->owner = e->owner;
	b->list = e->list;
	b->quote = e->quote;
	b->flags = s->el[e->owner].flags;
	b->is_li = e->list >= 0 && s->el[e->owner].tag == T_LI;
	b->pre = (e->flags & EF_IN_PRE) != 0;
	b->item_begin = b->item_end = (uint32_t)s->nit;
	s->cur = (int)s->nbl++;
	return 0;
}

static void close_block(struct seg *s)
{
	if (s->cur < 0)
		return;
	struct block *b = &s->bl[s->cur];
	b->item_end = (uint32_t)s->nit;
	if (!b->words && b->kind != BK_FIG && b->kind != BK_TABLE) {
		/* nothing readable: forget it and its items */
		s->nit = b->item_begin;
		s->nbl--;
	}
	s->cur = -1;
}

static int add_item(struct seg *s, int elem, uint8_t type, uint8_t tag)
{
	if (s->cur < 0) {
		if (type == IT_CLOSE || type == IT_BR)
			return 0;
		if (open_block(s, elem) < 0)
			return -ENOMEM;
	}
	GROW(s->it, s->nit, s->capit);
	struct item *it = &s->it[s->nit++];
	it->type = type;
	it->tag = tag;
	it->elem = elem;
	it->off = it->len = 0;
	return 0;
}

/* Is byte c (at p) part of a word? ASCII letters/digits and non-ASCII except the common
 * punctuation and space ranges (U+00A0, U+2000-U+206F, U+3000-U+303F). */
static size_t word_scan(const unsigned char *p, size_t n, uint32_t *words, uint32_t *chars,
                        uint32_t *punct)
{
	bool in = false;
	uint32_t w = 0, c = 0, pu = 0;
	for (size_t i = 0; i < n;) {
		unsigned ch = p[i];
		size_t adv = 1;
		bool wc;
		if (ch < 0x80) {
			wc = isalnum(ch);
			if (ch == '.' || ch == '!' || ch == '?' || ch == ';')
				pu++;
		} else {
			adv = ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : ch >= 0xC0 ? 2 : 1;
			if (i + adv > n)
				adv = n - i;
			wc = true;
			if (ch == 0xC2 && i + 1 < n && (p[i + 1] == 0xA0 || p[i + 1] == 0xAB ||
			                                p[i + 1] == 0xBB))
				wc = false;
			else if (ch == 0xE2 && i + 1 < n && (p[i + 1] == 0x80 || p[i + 1] == 0x81))
				wc = false;
			else if (ch == 0xE3 && i + 1 < n && p[i + 1] == 0x80) {
				wc = false;
				if (i + 2 < n && p[i + 2] == 0x82) /* 。 */
					pu++;
			} else if (ch == 0xEF && i + 1 < n && (p[i + 1] == 0xBC || p[i + 1] == 0xBD))
				wc = false;
			else if (ch >= 0xE3 && ch <= 0xED)
				c += 2; /* CJK: count each ideograph as a third of a word, below */
		}
		if (wc && !in)
			w++;
		in = wc;
		if (wc)
			c++;
		i += adv;
	}
	*words += w;
	*chars += c;
	*punct += pu;
	return w;
}

static int add_text(struct seg *s, int elem, const char *txt)
{
	const unsigned char *p = (const unsigned char *)txt;
	size_t n = strlen(txt);
	const struct elem *e = &s->el[elem];
	bool pre = e->flags & EF_IN_PRE;
	/* skip pure whitespace between blocks */
	if (s->cur < 0) {
		size_t i = 0;
		while (i < n && (p[i] == ' ' || p[i] == '\n' || p[i] == '\t' || p[i] == '\r' ||
		                 p[i] == '\f'))
			i++;
		if (i == n)
			return 0;
	}
	if (add_item(s, elem, IT_TEXT, 0) < 0)
		return -ENOMEM;
	struct item *it = &s->it[s->nit - 1];
	it->off = (uint32_t)s->pool.len;
	if (pre) {
		fm_buf_append(&s->pool, txt, n);
	} else {
		/* collapse ASCII whitespace runs to one space */
		char *dst = fm_buf_reserve(&s->pool, n + 1);
		if (!dst)
			return -ENOMEM;
		size_t k = 0;
		bool sp = false;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = p[i];
			if (c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f') {
				if (!sp)
					dst[k++] = ' ';
				sp = true;
			} else {
				dst[k++] = (char)c;
				sp = false;
			}
		}
		s->pool.len += k;
		s->pool.data[s->pool.len] = 0;
	}
	if (s->pool.oom)
		return -ENOMEM;
	it->len = (uint32_t)(s->pool.len - it->off);
	struct block *b = &s->bl[s->cur];
	uint32_t w = 0, c = 0;
	word_scan((const unsigned char *)s->pool.data + it->off, it->len, &w, &c, &b->punct);
	b->words += w;
	b->chars += c;
	if (e->flags & EF_IN_A) {
		b->link_words += w;
		b->link_chars += c;
	}
	return 0;
}

/* ---- images ------------------------------------------------------------------------ */

/* The best URL of an image: lazy-loading attributes first (data-src and friends hold the real
 * image while src holds a placeholder), then the widest srcset candidate, then src. */
static const char *img_src(xmlNodePtr img, char *tmp, size_t tmpsz)
{
	static const char *const lazy[] = {"data-src", "data-lazy-src", "data-original",
	                                   "data-url", "data-hi-res-src", "data-full-src"};
	for (size_t i = 0; i < sizeof(lazy) / sizeof(lazy[0]); i++) {
		const char *v = attr(img, lazy[i]);
		if (v && *v && strncmp(v, "data:", 5))
			return v;
	}
	const char *srcset = attr(img, "data-srcset");
	if (!srcset || !*srcset)
		srcset = attr(img, "srcset");
	if (srcset && *srcset) {
		const char *best = NULL;
		size_t best_len = 0;
		long best_w = -1;
		const char *p = srcset;
		while (*p) {
			while (*p == ' ' || *p == ',' || *p == '\n' || *p == '\t')
				p++;
			const char *u = p;
			while (*p && *p != ' ' && *p != '\n' && *p != '\t')
				p++;
			size_t ulen = (size_t)(p - u);
			if (ulen && u[ulen - 1] == ',')
				ulen--;
			long wv = 0;
			while (*p == ' ')
				p++;
			if (isdigit((unsigned char)*p)) {
				wv = strtol(p, (char **)&p, 10);
				if (*p == 'x')
					wv *= 1000;
			}
			while (*p && *p != ',')
				p++;
			if (ulen && strncmp(u, "data:", 5) && wv > best_w) {
				best = u, best_len = ulen, best_w = wv;
			}
		}
		if (best && best_len < tmpsz) {
			memcpy(tmp, best, best_len);
			tmp[best_len] = 0;
			return tmp;
		}
	}
	const char *src = attr(img, "src");
	if (src && *src && strncmp(src, "data:", 5))
		return src;
	return NULL;
}

static bool img_is_decoration(xmlNodePtr img)
{
	const char *w = attr(img, "width"), *h = attr(img, "height");
	if ((w && atoi(w) > 0 && atoi(w) < 60) || (h && atoi(h) > 0 && atoi(h) < 60))
		return true;
	const char *cl = attr(img, "class");
	if (cl && (strstr(cl, "icon") || strstr(cl, "logo") || strstr(cl, "avatar") ||
	           strstr(cl, "sprite") || strstr(cl, "emoji")))
		return true;
	return false;
}

/* ---- figures and tables: a bounded look inside before deciding how to treat them ----- */

static xmlNodePtr next_in(xmlNodePtr n, xmlNodePtr root, bool descend)
{
	if (descend && n->children)
		return n->children;
	while (n && n != root) {
		if (n->next)
			return n->next;
		n = n->parent;
	}
	return NULL;
}

struct peek {
	size_t text, nodes, paras, rows, cells, nested_tables, max_cell;
	xmlNodePtr img, caption;
	bool too_big;
};

static void peek_subtree(xmlNodePtr root, size_t max_nodes, struct peek *pk)
{
	memset(pk, 0, sizeof(*pk));
	size_t cell_text = 0;
	for (xmlNodePtr n = root->children; n;) {
		bool descend = true;
		if (++pk->nodes > max_nodes) {
			pk->too_big = true;
			return;
		}
		if (n->type == XML_TEXT_NODE && n->content) {
			size_t l = strlen((const char *)n->content);
			pk->text += l;
			cell_text += l;
		} else if (n->type == XML_ELEMENT_NODE) {
			enum tag t = tag_of(n->name);
			if (t == T_SCRIPT || t == T_STYLE || t == T_NOSCRIPT || t == T_TEMPLATE)
				descend = false;
			else if (t == T_P || t == T_DIV)
				pk->paras++;
			else if (t == T_TR)
				pk->rows++;
			else if (t == T_TD || t == T_TH) {
				pk->cells++;
				if (cell_text > pk->max_cell)
					pk->max_cell = cell_text;
				cell_text = 0;
			} else if (t == T_TABLE)
				pk->nested_tables++;
			else if (t == T_IMG && !pk->img)
				pk->img = n;
			else if (t == T_FIGCAPTION && !pk->caption)
				pk->caption = n;
		}
		n = next_in(n, root, descend);
	}
	if (cell_text > pk->max_cell)
		pk->max_cell = cell_text;
}

/* Caption text with repeats removed: sites often put the same caption twice (one copy per
 * layout, or an alt text echoed in a visually hidden span). */
static int add_caption(struct seg *s, struct block *b, xmlNodePtr cap)
{
	size_t start = s->pool.len;
	size_t seen_off[16], seen_len[16], nseen = 0;
	for (xmlNodePtr n = cap->children; n;) {
		bool descend = true;
		if (n->type == XML_ELEMENT_NODE) {
			enum tag t = tag_of(n->name);
			if ((tag_flags(t) & TF_DEAD) || is_hidden(n))
				descend = false;
		} else if (n->type == XML_TEXT_NODE && n->content) {
			char *norm = fm_text_normalize((const char *)n->content,
			                               strlen((const char *)n->content),
			                               FM_TEXT_ONE_LINE | FM_TEXT_NO_NFC, NULL);
			if (!norm)
				return -ENOMEM;
			size_t l = strlen(norm);
			bool dup = false;
			for (size_t i = 0; i < nseen && l; i++)
				if (seen_len[i] == l && !memcmp(s->pool.data + seen_off[i], norm, l))
					dup = true;
			if (l && !dup) {
				if (s->pool.len > start)
					fm_buf_putc(&s->pool, ' ');
				if (nseen < 16) {
					seen_off[nseen] = s->pool.len;
					seen_len[nseen++] = l;
				}
				fm_buf_append(&s->pool, norm, l);
			}
			free(norm);
		}
		n = next_in(n, cap, descend);
	}
	b->cap_off = (uint32_t)start;
	b->cap_len = (uint32_t)(s->pool.len - start);
	return s->pool.oom ? -ENOMEM : 0;
}

static bool in_table(const struct seg *s)
{
	return s->cur >= 0 && s->bl[s->cur].kind == BK_TABLE;
}

static int add_special(struct seg *s, int elem, enum block_kind kind, xmlNodePtr node)
{
	close_block(s);
	if (open_block(s, elem) < 0)
		return -ENOMEM;
	struct block *b = &s->bl[s->cur];
	b->kind = (uint8_t)kind;
	b->node = node;
	return 0;
}

/* ---- metadata ---------------------------------------------------------------------- */

static char *node_text(xmlNodePtr n, size_t max)
{
	struct fm_buf b = FM_BUF_INIT;
	for (xmlNodePtr c = n->children; c && b.len < max;) {
		bool descend = true;
		if (c->type == XML_ELEMENT_NODE) {
			enum tag t = tag_of(c->name);
			if (t == T_SCRIPT || t == T_STYLE || t == T_NOSCRIPT || t == T_TEMPLATE)
				descend = false;
			else if (tag_flags(t) & TF_BLOCK)
				fm_buf_putc(&b, ' ');
		} else if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) &&
		           c->content) {
			fm_buf_puts(&b, (const char *)c->content);
		}
		c = next_in(c, n, descend);
	}
	char *r = fm_text_normalize(b.data ? b.data : "", b.len, FM_TEXT_ONE_LINE, NULL);
	fm_buf_free(&b);
	return r;
}

static void set_str(char **dst, const char *v)
{
	if (*dst || !v || !*v)
		return;
	*dst = fm_text_normalize(v, strlen(v), FM_TEXT_ONE_LINE, NULL);
	if (*dst && !**dst) {
		free(*dst);
		*dst = NULL;
	}
}

static void add_author(struct fm_buf *b, const char *name)
{
	if (!name)
		return;
	while (*name == ' ')
		name++;
	if (!*name || strlen(name) > 120 || strstr(name, "://") || name[0] == '@' ||
	    (name[0] == '/' && name[1] != '/'))
		return;
	fm_buf_puts(b, name);
	fm_buf_putc(b, '\n');
}

static void ld_authors(struct fm_buf *out, json_t *a)
{
	if (json_is_string(a)) {
		add_author(out, json_string_value(a));
	} else if (json_is_object(a)) {
		add_author(out, json_string_value(json_object_get(a, "name")));
	} else if (json_is_array(a)) {
		size_t i;
		json_t *v;
		json_array_foreach(a, i, v)
		{
			if (i >= RD_MAX_AUTHORS)
				break;
			ld_authors(out, v);
		}
	}
}

static bool ld_is_article(json_t *type)
{
	static const char *const kinds[] = {"Article", "NewsArticle", "BlogPosting",
		"ReportageNewsArticle", "AnalysisNewsArticle", "OpinionNewsArticle", "Report",
		"ScholarlyArticle", "TechArticle", "LiveBlogPosting", "BackgroundNewsArticle",
		"SocialMediaPosting", "WebPage", "Review", "Recipe", "HowTo", "Posting",
		"ReviewNewsArticle", "SatiricalArticle", "MedicalScholarlyArticle"};
	if (json_is_array(type)) {
		size_t i;
		json_t *v;
		json_array_foreach(type, i, v) if (ld_is_article(v)) return true;
		return false;
	}
	const char *t = json_string_value(type);
	if (!t)
		return false;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(t, kinds[i]))
			return true;
	return false;
}

static void ld_walk(struct meta *m, json_t *v, int depth)
{
	if (depth > 6 || !v)
		return;
	if (json_is_array(v)) {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x)
		{
			if (i > 64)
				break;
			ld_walk(m, x, depth + 1);
		}
		return;
	}
	if (!json_is_object(v))
		return;
	json_t *graph = json_object_get(v, "@graph");
	if (graph)
		ld_walk(m, graph, depth + 1);
	json_t *type = json_object_get(v, "@type");
	const char *ts = json_string_value(type);
	if (ts && (!strcmp(ts, "WebSite") || !strcmp(ts, "Organization") ||
	           !strcmp(ts, "NewsMediaOrganization"))) {
		set_str(&m->site_name, json_string_value(json_object_get(v, "name")));
		return;
	}
	if (!ld_is_article(type))
		return;
	bool webpage = ts && !strcmp(ts, "WebPage");
	if (!webpage || !m->ld_headline)
		set_str(&m->ld_headline, json_string_value(json_object_get(v, "headline")));
	const char *d = json_string_value(json_object_get(v, "datePublished"));
	if (!d)
		d = json_string_value(json_object_get(v, "dateCreated"));
	if (d && m->ld_date == -1 && !webpage)
		m->ld_date = rd_parse_date(d);
	if (!m->authors_ld.len)
		ld_authors(&m->authors_ld, json_object_get(v, "author"));
	if (!m->authors_ld.len)
		ld_authors(&m->authors_ld, json_object_get(v, "creator"));
	json_t *pub = json_object_get(v, "publisher");
	if (json_is_object(pub))
		set_str(&m->site_name, json_string_value(json_object_get(pub, "name")));
	json_t *lang = json_object_get(v, "inLanguage");
	if (json_is_string(lang))
		set_str(&m->ld_lang, json_string_value(lang));
	const char *body = json_string_value(json_object_get(v, "articleBody"));
	if (body && !m->ld_body && strlen(body) > 200)
		m->ld_body = strdup(body);
	m->n_ld++;
}

static void meta_ldjson(struct meta *m, xmlNodePtr script)
{
	if (m->n_ld > 16)
		return;
	struct fm_buf b = FM_BUF_INIT;
	for (xmlNodePtr c = script->children; c; c = c->next)
		if (c->content)
			fm_buf_puts(&b, (const char *)c->content);
	if (b.len && b.len < (4u << 20)) {
		json_t *j = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
		if (j) {
			ld_walk(m, j, 0);
			json_decref(j);
		}
	}
	fm_buf_free(&b);
}

static bool is_date_meta(const char *k)
{
	static const char *const keys[] = {
		"article:published_time", "og:article:published_time", "og:published_time",
		"article:published", "datepublished", "pubdate", "publishdate", "publish-date",
		"publish_date", "published_time", "published-date", "date_published",
		"dc.date.issued", "dc.date", "dcterms.created", "dcterms.issued", "dcterms.date",
		"date", "sailthru.date", "parsely-pub-date", "article.published",
		"citation_publication_date", "cxenseparse:recs:publishtime", "article_date_original",
		"original-publish-date", "release_date", "datecreated", "displaydate", "dc.created",
		"article.created", "publication_date", "pub_date", "live_date",
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcasecmp(k, keys[i]))
			return true;
	return false;
}

static void meta_tag(struct meta *m, xmlNodePtr n)
{
	const char *content = attr(n, "content");
	const char *key = attr(n, "property");
	if (!key)
		key = attr(n, "name");
	if (!key)
		key = attr(n, "itemprop");
	const char *he = attr(n, "http-equiv");
	if (he && content && !strcasecmp(he, "content-language"))
		set_str(&m->lang_meta, content);
	if (!key || !content)
		return;
	if (!strcasecmp(key, "og:title") || !strcasecmp(key, "twitter:title"))
		set_str(&m->og_title, content);
	else if (!strcasecmp(key, "og:site_name") || !strcasecmp(key, "application-name"))
		set_str(&m->site_name, content);
	else if (!strcasecmp(key, "og:locale") || !strcasecmp(key, "language") ||
	         !strcasecmp(key, "dc.language") || !strcasecmp(key, "content-language"))
		set_str(&m->lang_meta, content);
	else if (!strcasecmp(key, "author") || !strcasecmp(key, "article:author") ||
	         !strcasecmp(key, "dc.creator") || !strcasecmp(key, "sailthru.author") ||
	         !strcasecmp(key, "parsely-author") || !strcasecmp(key, "byl") ||
	         !strcasecmp(key, "citation_author"))
		add_author(&m->authors_meta, content);
	else if (!strcasecmp(key, "og:url"))
		set_str(&m->canonical, content);
	else if (m->meta_date == -1 && is_date_meta(key))
		m->meta_date = rd_parse_date(content);
}

/* elements of the body that carry metadata (microdata, <time>, bylines) */
static void meta_body_elem(struct meta *m, xmlNodePtr n, enum tag t)
{
	const char *ip = attr(n, "itemprop");
	if (ip) {
		if (strstr(ip, "datePublished") && m->micro_date == -1) {
			const char *v = attr(n, "content");
			if (!v)
				v = attr(n, "datetime");
			char *txt = NULL;
			if (!v)
				v = txt = node_text(n, 200);
			m->micro_date = rd_parse_date(v);
			free(txt);
		} else if (!strcmp(ip, "author") || !strcmp(ip, "creator")) {
			const char *v = attr(n, "content");
			char *txt = NULL;
			if (!v)
				v = txt = node_text(n, 300);
			if (v && strlen(v) < 120)
				add_author(&m->authors_micro, v);
			free(txt);
		} else if (!strcmp(ip, "headline")) {
			char *txt = node_text(n, 1000);
			set_str(&m->ld_headline, txt);
			free(txt);
		}
	}
	if (t == T_TIME && m->time_date == -1) {
		const char *v = attr(n, "datetime");
		if (v)
			m->time_date = rd_parse_date(v);
	}
	if (t == T_A && !m->authors_byline.len) {
		const char *rel = attr(n, "rel");
		if (rel && strstr(rel, "author")) {
			char *txt = node_text(n, 200);
			add_author(&m->authors_byline, txt);
			free(txt);
		}
	}
}

/* ---- the walk ---------------------------------------------------------------------- */

static int new_elem(struct seg *s, xmlNodePtr n, int parent, enum tag t, unsigned hints)
{
	GROW(s->el, s->nel, s->capel);
	int i = (int)s->nel++;
	struct elem *e = &s->el[i];
	const struct elem *p = parent >= 0 ? &s->el[parent] : NULL;
	e->node = n;
	e->parent = parent;
	e->tag = (uint8_t)t;
	e->sum = 0;
	e->end = i + 1;
	unsigned tf = tag_flags(t);
	e->owner = (tf & TF_BLOCK) || !p ? i : p->owner;
	e->list = p ? p->list : -1;
	e->quote = p ? p->quote : -1;
	e->heading = p ? p->heading : 0;
	e->flags = p ? (p->flags & ~(unsigned)(EF_POS | EF_POS_STRONG)) : 0;
	if (t == T_UL || t == T_OL || t == T_DL)
		e->list = i;
	if (t == T_BLOCKQUOTE)
		e->quote = i;
	if (t >= T_H1 && t <= T_H6)
		e->heading = t - T_H1 + 1;
	if (t == T_A)
		e->flags |= EF_IN_A;
	if (t == T_PRE)
		e->flags |= EF_IN_PRE;
	if (t == T_HEADER)
		e->flags |= EF_IN_HEADER;
	if (t == T_FIGCAPTION || t == T_CAPTION)
		e->flags |= EF_IN_CAPTION;
	e->hints = (uint8_t)hints;
	e->pos = 0;
	e->npos = 0;
	e->strong_pos = 0;
	if (hints & H_POS)
		e->flags |= EF_POS;
	if (hints & H_POS_STRONG)
		e->flags |= EF_POS_STRONG;
	n->_private = (void *)(intptr_t)(i + 1);
	return i;
}

static int elem_of(xmlNodePtr n)
{
	return n && n->_private ? (int)(intptr_t)n->_private - 1 : -1;
}

/* Enter an element: returns 1 to descend, 0 to skip its subtree, <0 on error. */
static int enter(struct seg *s, xmlNodePtr n, int parent, int depth)
{
	enum tag t = tag_of(n->name);
	unsigned tf = tag_flags(t);

	if (tf & TF_DEAD) {
		if (t == T_META)
			meta_tag(&s->m, n);
		else if (t == T_TITLE && !s->m.title_tag)
			s->m.title_tag = node_text(n, 2000);
		else if (t == T_LINK) {
			const char *rel = attr(n, "rel");
			if (rel && !strcasecmp(rel, "canonical"))
				set_str(&s->m.canonical, attr(n, "href"));
		} else if (t == T_BASE)
			set_str(&s->m.base_href, attr(n, "href"));
		else if (t == T_SCRIPT) {
			const char *ty = attr(n, "type");
			if (ty && strstr(ty, "ld+json"))
				meta_ldjson(&s->m, n);
		} else if (t == T_HEAD)
			return 1; /* its meta, title and scripts are read above */
		if (!in_table(s))
			close_block(s);
		return 0;
	}
	if (s->nel >= (size_t)s->lim->max_nodes || depth > s->lim->max_depth) {
		s->capped = true;
		return 0;
	}
	if (is_hidden(n) && t != T_BODY && t != T_HTML) {
		if (!in_table(s))
			close_block(s);
		return 0;
	}
	if (in_table(s)) {
		/* inside a data table: one block, kept whole */
		int i = new_elem(s, n, parent, t, 0);
		if (i < 0)
			return i;
		if (t == T_BR && add_item(s, i, IT_BR, 0) < 0)
			return -ENOMEM;
		return t == T_BR || t == T_IMG ? 0 : 1;
	}
	meta_body_elem(&s->m, n, t);
	if (t == T_HTML) {
		const char *l = attr(n, "lang");
		if (!l)
			l = attr(n, "xml:lang");
		set_str(&s->m.lang_attr, l);
	}
	if (t == T_H1 && !s->m.h1) {
		char *h = node_text(n, 1000);
		if (h && *h)
			s->m.h1 = h;
		else
			free(h);
	}

	unsigned hints = s->fragment ? 0 : class_hints(n, t);
	int i = new_elem(s, n, parent, t, hints);
	if (i < 0)
		return i;
	if (tf & TF_BLOCK)
		close_block(s);

	if (t == T_BR) {
		/* two line breaks in a row separate paragraphs (text written with <br><br>) */
		if (s->cur >= 0 && s->nit > 0 && s->it[s->nit - 1].type == IT_BR) {
			s->nit--;
			close_block(s);
		} else if (add_item(s, i, IT_BR, 0) < 0) {
			return -ENOMEM;
		}
		return 0;
	}
	if (t == T_IMG) {
		if (!img_is_decoration(n)) {
			char tmp[8];
			if (img_src(n, tmp, sizeof(tmp)) || attr(n, "srcset") || attr(n, "data-srcset"))
				if (add_special(s, i, BK_FIG, n) < 0)
					return -ENOMEM;
			close_block(s);
		}
		return 0;
	}
	if (t == T_FIGURE || t == T_PICTURE) {
		struct peek pk;
		peek_subtree(n, 400, &pk);
		if (!pk.too_big && pk.text < 600 && pk.paras < 4) {
			if (pk.img && !img_is_decoration(pk.img)) {
				if (add_special(s, i, BK_FIG, pk.img) < 0)
					return -ENOMEM;
				if (pk.caption && add_caption(s, &s->bl[s->cur], pk.caption) < 0)
					return -ENOMEM;
				close_block(s);
			}
			return 0;
		}
	}
	if (t == T_TABLE && !(s->el[i].flags & EF_IN_TABLE)) {
		struct peek pk;
		peek_subtree(n, 4000, &pk);
		bool data = !pk.too_big && !pk.nested_tables && pk.rows >= 2 && pk.cells >= 4 &&
		            pk.max_cell < 300 && pk.paras < 3;
		if (data) {
			if (add_special(s, i, BK_TABLE, n) < 0)
				return -ENOMEM;
			s->el[i].flags |= EF_IN_TABLE;
			return 1; /* cells' text goes into this one block */
		}
	}
	if (tf & TF_INLINE) {
		if (add_item(s, i, IT_OPEN, t) < 0)
			return -ENOMEM;
	}
	return 1;
}

static int leave(struct seg *s, xmlNodePtr n)
{
	int i = elem_of(n);
	if (i < 0)
		return 0;
	struct elem *e = &s->el[i];
	e->end = (int)s->nel;
	enum tag t = e->tag;
	if (t == T_TABLE && (e->flags & EF_IN_TABLE) && s->cur >= 0 &&
	    s->bl[s->cur].kind == BK_TABLE && s->bl[s->cur].node == n) {
		s->bl[s->cur].item_end = (uint32_t)s->nit;
		s->cur = -1;
		return 0;
	}
	if (s->cur >= 0 && s->bl[s->cur].kind == BK_TABLE) {
		/* inside a data table: cells and rows become spaces and line breaks */
		if (t == T_TD || t == T_TH) {
			if (add_item(s, i, IT_TEXT, 0) < 0)
				return -ENOMEM;
			struct item *it = &s->it[s->nit - 1];
			it->off = (uint32_t)s->pool.len;
			fm_buf_putc(&s->pool, ' ');
			it->len = 1;
		} else if (t == T_TR) {
			if (add_item(s, i, IT_BR, 0) < 0)
				return -ENOMEM;
		}
		return 0;
	}
	if (tag_flags(t) & TF_BLOCK)
		close_block(s);
	else if (tag_flags(t) & TF_INLINE)
		return add_item(s, i, IT_CLOSE, t);
	return 0;
}

static int walk(struct seg *s, xmlNodePtr root)
{
	int depth = 0;
	xmlNodePtr n = root;
	while (n) {
		bool descend = false;
		if (n->type == XML_ELEMENT_NODE) {
			int parent = elem_of(n->parent);
			int r = enter(s, n, parent, depth);
			if (r < 0)
				return r;
			descend = r > 0;
		} else if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
			if (n->content && n->parent) {
				int pe = elem_of(n->parent);
				if (pe >= 0 && add_text(s, pe, (const char *)n->content) < 0)
					return -ENOMEM;
			}
		}
		if (descend && n->children) {
			n = n->children;
			depth++;
			continue;
		}
		/* leave n and every ancestor whose last child we just finished */
		for (;;) {
			if (n->type == XML_ELEMENT_NODE && leave(s, n) < 0)
				return -ENOMEM;
			if (n == root) {
				n = NULL;
				break;
			}
			if (n->next) {
				n = n->next;
				break;
			}
			n = n->parent;
			depth--;
		}
	}
	close_block(s);
	return 0;
}

/* ---- scoring ----------------------------------------------------------------------- */

/* Whether s[0..len), leading spaces and newlines skipped, starts with one of the phrases
 * (lower case, at most 63 bytes), ignoring ASCII case. */
static bool starts_with_any(const char *s, size_t len, const char *const *phrases, size_t n)
{
	char low[64];
	size_t k = 0;
	for (size_t i = 0; i < len && k + 1 < sizeof(low); i++) {
		char c = s[i];
		if (k == 0 && (c == ' ' || c == '\n'))
			continue;
		low[k++] = (char)tolower((unsigned char)c);
	}
	low[k] = 0;
	for (size_t i = 0; i < n; i++)
		if (!strncmp(low, phrases[i], strlen(phrases[i])))
			return true;
	return false;
}

/* Short fixed phrases that are navigation or calls to action even inside an article. */
static bool is_cta(const char *s, size_t len)
{
	static const char *const phrases[] = {
		"advert", "sponsored", "read more", "read next", "related",
		"see also", "share this", "share on", "share:", "follow us", "follow me",
		"sign up", "subscribe", "click here", "tap here", "recommended", "more:", "more on",
		"more from", "watch:", "listen:", "photo:", "image:", "getty images", "pictured:",
		"related coverage", "read the full", "read also", "also read", "continue reading",
		"comments", "leave a comment", "post a comment", "you might also like",
		"you may also like", "skip to", "back to top", "copyright", "all rights reserved",
		"©", "download the app", "story continues below", "article continues below",
		"this article was", "this story was", "published", "updated", "posted",
		"last modified", "reporting by", "editing by", "tags:", "topics:", "filed under",
		"by ", "source:", "credit:",
	};
	return starts_with_any(s, len, phrases, sizeof(phrases) / sizeof(phrases[0]));
}

/* Text that is not prose: a cookie/consent notice, or markup that the page escaped into text
 * ("&lt;img src=...&gt;"). */
static bool is_notice(const char *s, size_t len)
{
	if (!s || !len)
		return false;
	size_t i = 0;
	while (i < len && s[i] == ' ')
		i++;
	if (i + 1 < len && s[i] == '<' && (isalpha((unsigned char)s[i + 1]) || s[i + 1] == '/') &&
	    memchr(s + i, '>', len - i))
		return true;
	if (len > 2000)
		return false;
	char low[2001];
	for (size_t k = 0; k < len; k++)
		low[k] = (char)tolower((unsigned char)s[k]);
	low[len] = 0;
	return strstr(low, "cookie") &&
	       (strstr(low, "website") || strstr(low, "browser") || strstr(low, "consent") ||
	        strstr(low, "privacy") || strstr(low, "this site"));
}

/* Headings that open what follows the article: related links, comments, newsletters. */
static bool is_stop_heading(const char *s, size_t len)
{
	static const char *const phrases[] = {
		"related", "you may also like", "you might also like", "you may like",
		"more from", "more stories", "more on this", "more news", "more in", "read more",
		"read next", "recommended", "popular", "most read", "most popular", "trending",
		"see also", "also read", "further reading", "latest news", "latest stories",
		"top stories", "what to read next", "comments", "leave a reply", "leave a comment",
		"join the conversation", "share this", "about the author", "sign up", "subscribe",
		"newsletter", "editor's picks", "editors' picks", "don't miss", "recent posts",
		"leia também", "leia mais", "você pode gostar", "veja também", "lesen sie auch",
		"mehr zum thema", "weitere artikel", "das könnte sie", "à lire aussi",
		"a lire aussi", "lire aussi", "sur le même sujet", "te puede interesar",
		"lee también", "noticias relacionadas", "leggi anche", "potrebbe interessarti",
		"articoli correlati", "ver también", "más noticias", "tell us what you think",
		"what do you think", "have your say",
	};
	return starts_with_any(s, len, phrases, sizeof(phrases) / sizeof(phrases[0]));
}

static double block_value(const struct seg *s, struct block *b)
{
	double w = b->words;
	double cw = b->chars / 6.0; /* scripts without spaces: about 6 characters a word */
	if (cw > w * 1.5 && cw > w + 10)
		w = cw;
	double ld = b->chars ? (double)b->link_chars / b->chars : 0;
	if (b->kind == BK_FIG)
		return 0;
	if (b->flags & EF_NEG)
		return -w;
	if (ld > s->lim->max_link_density)
		return -w;
	if (b->kind == BK_HEAD)
		return 0;
	if (b->kind == BK_TABLE)
		return w * (1 - ld) * 0.5;
	double v;
	if (w >= (double)s->lim->min_words && (b->punct > 0 || w >= 25))
		v = w * (1 - ld);
	else
		v = -(b->link_chars ? 0.5 : 0.25) * w;
	if (b->flags & EF_IN_HEADER)
		v = v > 0 ? v * 0.5 : v;
	return v;
}

/* ---- output ------------------------------------------------------------------------ */

struct out {
	struct fm_buf html, text;
	const char *base;
};

static void put_href(struct out *o, const char *name, const char *url)
{
	if (!url || !*url)
		return;
	char *abs = fm_url_resolve(o->base, url);
	if (!abs)
		return;
	if (fm_url_is_http(abs) || !strncasecmp(abs, "mailto:", 7)) {
		char *clean = fm_url_strip_tracking(abs);
		if (clean) {
			fm_buf_printf(&o->html, " %s=\"", name);
			fm_html_escape(&o->html, clean, strlen(clean), true);
			fm_buf_putc(&o->html, '"');
			free(clean);
		}
	}
	free(abs);
}

static void emit_items(const struct seg *s, struct out *o, const struct block *b, bool html,
                       bool text)
{
	uint8_t stack[32];
	int sp = 0;
	for (uint32_t k = b->item_begin; k < b->item_end; k++) {
		const struct item *it = &s->it[k];
		switch (it->type) {
		case IT_TEXT:
			if (html)
				fm_html_escape(&o->html, s->pool.data + it->off, it->len, false);
			if (text)
				fm_buf_append(&o->text, s->pool.data + it->off, it->len);
			break;
		case IT_BR:
			if (html)
				fm_buf_puts(&o->html, "<br>");
			if (text)
				fm_buf_putc(&o->text, '\n');
			break;
		case IT_OPEN:
			if (!html || sp >= 32)
				break;
			stack[sp++] = it->tag;
			if (it->tag == T_A) {
				fm_buf_puts(&o->html, "<a");
				put_href(o, "href", attr(s->el[it->elem].node, "href"));
				fm_buf_putc(&o->html, '>');
			} else {
				fm_buf_printf(&o->html, "<%s>", tag_name(it->tag));
			}
			break;
		case IT_CLOSE:
			if (!html)
				break;
			/* close only what this block opened, innermost first */
			for (int j = sp - 1; j >= 0; j--) {
				if (stack[j] == it->tag) {
					while (sp > j)
						fm_buf_printf(&o->html, "</%s>", tag_name(stack[--sp]));
					break;
				}
			}
			break;
		}
	}
	while (html && sp > 0)
		fm_buf_printf(&o->html, "</%s>", tag_name(stack[--sp]));
}

static void emit_figure(const struct seg *s, struct out *o, const struct block *b)
{
	char tmp[2048];
	const char *src = img_src(b->node, tmp, sizeof(tmp));
	if (!src)
		return;
	fm_buf_puts(&o->html, "<figure><img");
	put_href(o, "src", src);
	const char *alt = attr(b->node, "alt");
	if (alt && *alt) {
		fm_buf_puts(&o->html, " alt=\"");
		fm_html_escape(&o->html, alt, strlen(alt), true);
		fm_buf_putc(&o->html, '"');
	}
	fm_buf_putc(&o->html, '>');
	if (b->cap_len) {
		fm_buf_puts(&o->html, "<figcaption>");
		fm_html_escape(&o->html, s->pool.data + b->cap_off, b->cap_len, false);
		fm_buf_puts(&o->html, "</figcaption>");
	}
	fm_buf_puts(&o->html, "</figure>");
}

/* Emit kept blocks [from, to): html with lists and quotes regrouped, text with paragraphs
 * separated by blank lines. */
static void emit(const struct seg *s, struct out *o, size_t from, size_t to)
{
	int open_list = -1, open_quote = -1;
	for (size_t i = from; i < to; i++) {
		const struct block *b = &s->bl[i];
		if (!b->keep)
			continue;
		int list = b->is_li || (b->list >= 0 && b->kind == BK_TEXT) ? b->list : -1;
		if (open_list >= 0 && list != open_list) {
			fm_buf_printf(&o->html, "</%s>",
			              s->el[open_list].tag == T_OL ? "ol" :
			              s->el[open_list].tag == T_DL ? "dl" : "ul");
			open_list = -1;
		}
		if (open_quote >= 0 && b->quote != open_quote) {
			fm_buf_puts(&o->html, "</blockquote>");
			open_quote = -1;
		}
		if (b->quote >= 0 && open_quote < 0) {
			fm_buf_puts(&o->html, "<blockquote>");
			open_quote = b->quote;
		}
		if (list >= 0 && open_list < 0) {
			fm_buf_printf(&o->html, "<%s>",
			              s->el[list].tag == T_OL ? "ol" : s->el[list].tag == T_DL ? "dl" :
			                                                                     "ul");
			open_list = list;
		}
		if (o->text.len)
			fm_buf_puts(&o->text, "\n\n");
		switch (b->kind) {
		case BK_FIG:
			emit_figure(s, o, b);
			break;
		case BK_TABLE:
			fm_buf_puts(&o->html, "<table>");
			fm_html_sanitize_node(b->node, o->base, &o->html);
			fm_buf_puts(&o->html, "</table>");
			emit_items(s, o, b, false, true);
			break;
		case BK_HEAD: {
			int lv = b->level < 2 ? 2 : b->level;
			fm_buf_printf(&o->html, "<h%d>", lv);
			emit_items(s, o, b, true, true);
			fm_buf_printf(&o->html, "</h%d>", lv);
			break;
		}
		default: {
			const char *tg = list >= 0 ? (s->el[list].tag == T_DL ?
			                              (s->el[b->owner].tag == T_DT ? "dt" : "dd") : "li") :
			                 b->pre ? "pre" : "p";
			fm_buf_printf(&o->html, "<%s>", tg);
			emit_items(s, o, b, true, true);
			fm_buf_printf(&o->html, "</%s>", tg);
			break;
		}
		}
	}
	if (open_list >= 0)
		fm_buf_printf(&o->html, "</%s>", s->el[open_list].tag == T_OL ? "ol" :
		                                 s->el[open_list].tag == T_DL ? "dl" : "ul");
	if (open_quote >= 0)
		fm_buf_puts(&o->html, "</blockquote>");
}

/* ---- selection --------------------------------------------------------------------- */

static void block_text(const struct seg *s, const struct block *b, struct fm_buf *out)
{
	out->len = 0;
	if (out->data)
		out->data[0] = 0;
	for (uint32_t k = b->item_begin; k < b->item_end; k++)
		if (s->it[k].type == IT_TEXT)
			fm_buf_append(out, s->pool.data + s->it[k].off, s->it[k].len);
		else if (s->it[k].type == IT_BR)
			fm_buf_putc(out, ' ');
}

static bool ends_sentence(const struct seg *s, const struct block *b)
{
	for (uint32_t k = b->item_end; k > b->item_begin; k--) {
		const struct item *it = &s->it[k - 1];
		if (it->type != IT_TEXT)
			continue;
		for (uint32_t j = it->len; j > 0; j--) {
			unsigned char c = (unsigned char)s->pool.data[it->off + j - 1];
			if (c == ' ')
				continue;
			return c == '.' || c == '!' || c == '?' || c == '"' || c == ')' || c == 0x9D ||
			       c == 0x82; /* ” 。 */
		}
	}
	return false;
}

/* Which elements marked as boilerplate by their class/id really are: a wrapper whose name
 * says "sidebar" but that holds a good share of the page's article-like text is a layout
 * wrapper ("page-with-sidebar"), not a sidebar. Comment sections stay marked whatever
 * their size. */
static void resolve_neg(struct seg *s)
{
	for (size_t i = 0; i < s->nbl; i++) {
		double v = block_value(s, &s->bl[i]);
		if (v > 0) {
			s->el[s->bl[i].owner].pos += v;
			s->el[s->bl[i].owner].npos++;
		}
	}
	for (size_t i = s->nel; i-- > 0;) {
		struct elem *e = &s->el[i];
		if (e->flags & EF_POS_STRONG)
			e->strong_pos = e->pos;
		if (e->parent >= 0) {
			s->el[e->parent].pos += e->pos;
			s->el[e->parent].npos += e->npos;
			s->el[e->parent].strong_pos += e->strong_pos;
		}
	}
	double total = s->nel ? s->el[0].pos : 0;
	for (size_t i = 0; i < s->nel; i++) {
		struct elem *e = &s->el[i];
		bool neg = e->parent >= 0 && (s->el[e->parent].flags & EF_NEG);
		if (!neg && (e->hints & H_NEG))
			neg = (e->hints & H_NEG_STRONG) ||
			      ((e->npos < 3 || e->pos < 0.5 * total) &&
			       e->strong_pos < 0.5 * e->pos);
		if (neg)
			e->flags |= EF_NEG;
	}
	for (size_t i = 0; i < s->nbl; i++)
		s->bl[i].flags |= s->el[s->bl[i].owner].flags & EF_NEG;
}

/* A teaser: an excerpt cut short with an ellipsis ("... the minister said…"). */
static bool ends_ellipsis(const struct seg *s, const struct block *b)
{
	for (uint32_t k = b->item_end; k > b->item_begin; k--) {
		const struct item *it = &s->it[k - 1];
		if (it->type != IT_TEXT)
			continue;
		const char *t = s->pool.data + it->off;
		uint32_t n = it->len;
		while (n && (t[n - 1] == ' ' || t[n - 1] == ']' || t[n - 1] == '['))
			n--;
		if (!n)
			continue;
		return (n >= 3 && !memcmp(t + n - 3, "...", 3)) ||
		       (n >= 3 && !memcmp(t + n - 3, "\xE2\x80\xA6", 3));
	}
	return false;
}

static int pick_container(struct seg *s)
{
	resolve_neg(s);
	for (size_t i = 0; i < s->nbl; i++) {
		struct block *b = &s->bl[i];
		b->v = block_value(s, b);
		s->el[b->owner].sum += b->v;
	}
	for (size_t i = s->nel; i-- > 1;)
		if (s->el[i].parent >= 0)
			s->el[s->el[i].parent].sum += s->el[i].sum;
	int best = -1;
	double best_score = 0;
	for (size_t i = 0; i < s->nel; i++) {
		const struct elem *e = &s->el[i];
		if (e->flags & EF_NEG)
			continue;
		double sc = e->sum;
		if (sc <= 0)
			continue;
		if (e->flags & EF_POS_STRONG)
			sc *= 1.3;
		else if (e->tag == T_ARTICLE || e->tag == T_MAIN || (e->flags & EF_POS))
			sc *= 1.1;
		if (sc >= best_score) {
			best_score = sc;
			best = (int)i;
		}
	}
	return best;
}

/* Two excerpts cut with an ellipsis close to each other, in different parents: a list of
 * "read more" teasers for other articles. */
static bool teaser_run(const struct seg *s, size_t i, size_t from, size_t to)
{
	int par = s->el[s->bl[i].owner].parent;
	int seen = 0;
	for (size_t j = i + 1; j < to && seen < 2; j++)
		if (s->bl[j].v > 0) {
			seen++;
			if (ends_ellipsis(s, &s->bl[j]) && s->el[s->bl[j].owner].parent != par)
				return true;
		}
	seen = 0;
	for (size_t j = i; j-- > from && seen < 2;)
		if (s->bl[j].v > 0) {
			seen++;
			if (ends_ellipsis(s, &s->bl[j]) && s->el[s->bl[j].owner].parent != par)
				return true;
		}
	return false;
}

/* Decide which blocks of the container [from, to) are kept. */
static void select_blocks(struct seg *s, size_t from, size_t to, const char *title,
                          struct rd_boiler *boiler, const char *source)
{
	struct fm_buf tmp = FM_BUF_INIT;
	size_t n = to - from;
	uint64_t *fp = n ? calloc(n, sizeof(*fp)) : NULL;
	bool *learned = n ? calloc(n, sizeof(*learned)) : NULL;
	if (boiler && fp && learned) {
		for (size_t i = from; i < to; i++) {
			block_text(s, &s->bl[i], &tmp);
			fp[i - from] = s->bl[i].kind == BK_FIG ? 0 : rd_boiler_hash(tmp.data, tmp.len);
		}
		rd_boiler_check_and_learn(boiler, source, fp, n, learned);
		/* a document all of whose text is "boilerplate" is its own text (a short item whose
		 * one paragraph recurs): the learner must not empty it */
		bool all = true;
		for (size_t i = 0; i < n && all; i++)
			all = !fp[i] || learned[i];
		for (size_t i = from; i < to; i++)
			s->bl[i].learned = !all && learned[i - from] && fp[i - from];
	}
	free(fp);
	free(learned);

	ptrdiff_t first = -1, last = -1;
	for (size_t i = from; i < to; i++) {
		struct block *b = &s->bl[i];
		b->keep = false;
		/* a "Related stories" / "Comments" heading after the article text ends it */
		if (!s->fragment && first >= 0 && (b->kind == BK_HEAD || b->words <= 6) &&
		    b->words <= 12) {
			block_text(s, b, &tmp);
			bool stop = is_stop_heading(tmp.data, tmp.len);
			if (!stop && b->kind == BK_HEAD && (b->flags & EF_NEG) && i + 1 < to &&
			    !(s->bl[i + 1].flags & EF_NEG))
				stop = true;
			if (stop) {
				/* an inline box in the middle of the article is followed by more
				 * paragraphs of the same parent; a trailing section is not */
				for (size_t j = i + 1; j < to; j++) {
					if (s->bl[j].v > 0) {
						stop = ends_ellipsis(s, &s->bl[j]);
						break;
					}
				}
			}
			if (stop) {
				to = i;
				break;
			}
		}
		if (b->learned)
			continue;
		double ld = b->chars ? (double)b->link_chars / b->chars : 0;
		if (s->fragment) {
			b->keep = true;
			continue;
		}
		if ((b->flags & (EF_NEG | EF_IN_CAPTION)) || ld > s->lim->max_link_density)
			continue;
		if (b->kind == BK_FIG || b->kind == BK_TABLE || b->kind == BK_HEAD)
			continue; /* decided below */
		if (b->v > 0 && ends_ellipsis(s, b) && teaser_run(s, i, from, to))
			continue;
		if (b->v > 0) {
			block_text(s, b, &tmp);
			if (is_notice(tmp.data, tmp.len))
				continue;
		}
		if (b->v > 0) {
			b->keep = true;
			if (first < 0)
				first = (ptrdiff_t)i;
			last = (ptrdiff_t)i;
		}
	}
	if (s->fragment)
		goto out;
	for (size_t i = from; i < to; i++) {
		struct block *b = &s->bl[i];
		if (b->keep || b->learned)
			continue;
		double ld = b->chars ? (double)b->link_chars / b->chars : 0;
		if ((b->flags & (EF_NEG | EF_IN_CAPTION)) || ld > s->lim->max_link_density)
			continue;
		bool inside = first >= 0 && (ptrdiff_t)i > first && (ptrdiff_t)i < last;
		if (b->kind == BK_FIG) {
			b->keep = inside;
			continue;
		}
		block_text(s, b, &tmp);
		if (b->kind == BK_HEAD) {
			if (b->level == 1 && title) {
				char *norm = fm_text_normalize(tmp.data, tmp.len, FM_TEXT_ONE_LINE, NULL);
				bool same = norm && !strcmp(norm, title);
				free(norm);
				if (same)
					continue;
			}
			b->keep = inside && b->words <= 30;
			continue;
		}
		if (b->words <= 12 && is_cta(tmp.data, tmp.len))
			continue;
		if (is_notice(tmp.data, tmp.len))
			continue;
		if (b->kind == BK_TABLE) {
			b->keep = inside || b->v > 0;
			continue;
		}
		if (inside) {
			b->keep = true;
		} else if (first >= 0 && b->words >= 5 && !b->link_words && ends_sentence(s, b) &&
		           !(b->flags & EF_IN_CAPTION)) {
			/* a short closing or opening sentence next to the article text */
			size_t gap_lo = (ptrdiff_t)i < first ? i : (size_t)last;
			size_t gap_hi = (ptrdiff_t)i < first ? (size_t)first : i;
			bool adjacent = true;
			for (size_t j = gap_lo + 1; j < gap_hi; j++)
				if (s->bl[j].words > 3)
					adjacent = false;
			b->keep = adjacent;
		}
	}
	if (first < 0) {
		/* no block reads like article text (a short note, a photo page): keep the
		 * plain short blocks rather than nothing */
		for (size_t i = from; i < to; i++) {
			struct block *b = &s->bl[i];
			double ld = b->chars ? (double)b->link_chars / b->chars : 0;
			if (b->learned || b->kind != BK_TEXT || b->words < 4 ||
			    (b->flags & (EF_NEG | EF_IN_CAPTION)) || ld > s->lim->max_link_density)
				continue;
			block_text(s, b, &tmp);
			b->keep = !is_cta(tmp.data, tmp.len);
		}
	}
out:
	fm_buf_free(&tmp);
}

/* ---- metadata resolution ----------------------------------------------------------- */

static bool seg_eq_site(const char *seg, size_t n, const char *site, const char *host)
{
	while (n && seg[n - 1] == ' ')
		n--;
	while (n && *seg == ' ')
		seg++, n--;
	if (!n)
		return true;
	if (site && strlen(site) == n && !strncasecmp(seg, site, n))
		return true;
	if (host) {
		/* "example.com" vs "Example" / "Example.com" */
		char low[128];
		size_t k = 0;
		for (size_t i = 0; i < n && k + 1 < sizeof(low); i++)
			if (isalnum((unsigned char)seg[i]))
				low[k++] = (char)tolower((unsigned char)seg[i]);
		low[k] = 0;
		if (k >= 3 && strstr(host, low))
			return true;
	}
	return false;
}

static char *strip_site(const char *title, const char *site, const char *url)
{
	static const char *const seps[] = {" | ", " - ", " – ", " — ", " :: ", " · ", " » ",
	                                   " / ", " : ", " ~ "};
	char host[256] = "";
	if (url) {
		const char *p = strstr(url, "://");
		p = p ? p + 3 : url;
		size_t k = 0;
		while (*p && *p != '/' && *p != ':' && *p != '?' && k + 1 < sizeof(host)) {
			if (isalnum((unsigned char)*p))
				host[k++] = (char)tolower((unsigned char)*p);
			p++;
		}
		host[k] = 0;
	}
	char *t = strdup(title);
	if (!t)
		return NULL;
	for (int round = 0; round < 2; round++) {
		size_t tl = strlen(t);
		bool cut = false;
		for (size_t si = 0; si < sizeof(seps) / sizeof(seps[0]) && !cut; si++) {
			const char *sep = seps[si];
			size_t sl = strlen(sep);
			/* last occurrence: "Headline - Section | Site" */
			const char *last = NULL;
			for (const char *p = strstr(t, sep); p; p = strstr(p + 1, sep))
				last = p;
			if (!last)
				continue;
			const char *tail = last + sl;
			size_t tail_len = tl - (size_t)(tail - t);
			size_t head_len = (size_t)(last - t);
			size_t tail_words = fm_text_count_words(tail, tail_len);
			size_t head_words = fm_text_count_words(t, head_len);
			if (seg_eq_site(tail, tail_len, site, host[0] ? host : NULL) ||
			    (tail_words <= 3 && head_words >= 4 && si != 8)) {
				t[head_len] = 0;
				cut = true;
				break;
			}
			/* "Site | Headline" */
			const char *firstp = strstr(t, sep);
			if (firstp && seg_eq_site(t, (size_t)(firstp - t), site, host[0] ? host : NULL) &&
			    fm_text_count_words(firstp + sl, strlen(firstp + sl)) >= 3) {
				memmove(t, firstp + sl, strlen(firstp + sl) + 1);
				cut = true;
			}
		}
		if (!cut)
			break;
	}
	return t;
}

static void norm_lang(const char *in, char out[16])
{
	out[0] = 0;
	if (!in)
		return;
	size_t k = 0;
	while (*in == ' ')
		in++;
	while (isalpha((unsigned char)in[k]) && k < 8) {
		out[k] = (char)tolower((unsigned char)in[k]);
		k++;
	}
	out[k] = 0;
	if (k < 2 || k > 3)
		out[0] = 0;
}

static void split_authors(struct rd_result *r, const char *list)
{
	const char *p = list;
	while (*p && r->n_authors < RD_MAX_AUTHORS) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char *name = fm_text_normalize(p, n, FM_TEXT_ONE_LINE, NULL);
		if (name) {
			char *q = name;
			if (!strncasecmp(q, "by ", 3))
				q += 3;
			bool dup = !*q;
			for (int i = 0; i < r->n_authors && !dup; i++)
				if (!strcasecmp(r->authors[i], q))
					dup = true;
			if (!dup)
				r->authors[r->n_authors++] = strdup(q);
			free(name);
		}
		p += n;
		if (*p)
			p++;
	}
}

static void resolve_meta(struct seg *s, struct rd_result *r, const char *url)
{
	struct meta *m = &s->m;
	/* title: the page's h1 when the <title>/og:title agrees with it, else the stripped
	 * og:title / JSON-LD headline / <title> */
	const char *cand = m->og_title ? m->og_title : m->ld_headline ? m->ld_headline :
	                                                                m->title_tag;
	char *stripped = cand ? strip_site(cand, m->site_name, url) : NULL;
	if (m->h1 && strlen(m->h1) >= 8 && strlen(m->h1) < 400 &&
	    ((m->title_tag && strstr(m->title_tag, m->h1)) ||
	     (m->og_title && strstr(m->og_title, m->h1)) ||
	     (m->ld_headline && strstr(m->ld_headline, m->h1)) || !stripped)) {
		free(stripped);
		r->title = strdup(m->h1);
	} else {
		r->title = stripped;
	}
	if (r->title && !*r->title) {
		free(r->title);
		r->title = NULL;
	}

	time_t d = m->ld_date;
	if (d == -1)
		d = m->meta_date;
	if (d == -1)
		d = m->micro_date;
	if (d == -1)
		d = m->time_date;
	if (d == -1)
		d = rd_url_date(url);
	r->published = d;

	const struct fm_buf *srcs[] = {&m->authors_ld, &m->authors_meta, &m->authors_micro,
	                               &m->authors_byline};
	for (size_t i = 0; i < 4 && !r->n_authors; i++)
		if (srcs[i]->len)
			split_authors(r, srcs[i]->data);

	norm_lang(m->lang_attr, r->lang);
	if (!r->lang[0])
		norm_lang(m->ld_lang, r->lang);
	if (!r->lang[0])
		norm_lang(m->lang_meta, r->lang);
	if (m->canonical)
		r->canonical = strdup(m->canonical);
}

static void meta_free(struct meta *m)
{
	free(m->title_tag);
	free(m->og_title);
	free(m->ld_headline);
	free(m->h1);
	free(m->site_name);
	free(m->lang_attr);
	free(m->lang_meta);
	free(m->ld_lang);
	free(m->base_href);
	free(m->canonical);
	free(m->ld_body);
	fm_buf_free(&m->authors_meta);
	fm_buf_free(&m->authors_ld);
	fm_buf_free(&m->authors_micro);
	fm_buf_free(&m->authors_byline);
}

void rd_result_free(struct rd_result *r)
{
	free(r->title);
	free(r->text);
	free(r->html);
	for (int i = 0; i < r->n_authors; i++)
		free(r->authors[i]);
	free(r->canonical);
	memset(r, 0, sizeof(*r));
	r->published = -1;
}

/* ---- driver ------------------------------------------------------------------------ */

static xmlNodePtr find_root(htmlDocPtr doc)
{
	return xmlDocGetRootElement(doc);
}

/* The JSON-LD articleBody as paragraphs, when the page's markup gave us next to nothing. */
static void body_from_ld(const char *body, struct out *o)
{
	const char *p = body;
	while (*p) {
		const char *e = strstr(p, "\n");
		size_t n = e ? (size_t)(e - p) : strlen(p);
		size_t k = 0;
		while (k < n && isspace((unsigned char)p[k]))
			k++;
		if (k < n) {
			fm_buf_puts(&o->html, "<p>");
			fm_html_escape(&o->html, p, n, false);
			fm_buf_puts(&o->html, "</p>");
			if (o->text.len)
				fm_buf_puts(&o->text, "\n\n");
			fm_buf_append(&o->text, p, n);
		}
		p += n;
		if (*p)
			p++;
	}
}

#ifdef RD_DEBUG
#include <stdio.h>
static void debug_dump(const struct seg *s, size_t from, size_t to)
{
	struct fm_buf t = FM_BUF_INIT;
	for (size_t i = 0; i < s->nbl; i++) {
		const struct block *b = &s->bl[i];
		block_text(s, b, &t);
		const struct elem *o = &s->el[b->owner];
		const char *cl = attr(o->node, "class");
		fprintf(stderr, "%c%c %4zu k%d w%3u lw%3u p%2u v%7.1f f%03x <%s.%.30s> %.90s\n",
		        i >= from && i < to ? '*' : ' ', b->keep ? 'K' : '-', i, b->kind, b->words,
		        b->link_words, b->punct, b->v, b->flags, o->node->name, cl ? cl : "",
		        t.data ? t.data : "");
	}
	fm_buf_free(&t);
}
#endif

static int extract_doc(const char *html, size_t len, const char *url, bool fragment,
                       const struct rd_limits *lim, struct rd_boiler *boiler,
                       const char *source, struct rd_result *r)
{
	int ret = 0;
	struct seg s;
	memset(&s, 0, sizeof(s));
	s.lim = lim;
	s.cur = -1;
	s.url = url;
	s.fragment = fragment;
	s.m.ld_date = s.m.meta_date = s.m.time_date = s.m.micro_date = -1;
	struct out o = {FM_BUF_INIT, FM_BUF_INIT, url};
	char *base = NULL;

	int opts = HTML_PARSE_RECOVER | HTML_PARSE_NONET | HTML_PARSE_NOERROR |
	           HTML_PARSE_NOWARNING | HTML_PARSE_COMPACT | HTML_PARSE_NOBLANKS;
	if (len > INT32_MAX)
		len = INT32_MAX;
	htmlDocPtr doc = htmlReadMemory(html, (int)len, url, "UTF-8", opts);
	if (!doc) {
		r->error = "the page could not be parsed";
		goto done;
	}
	xmlNodePtr root = find_root(doc);
	if (!root) {
		r->error = "the page has no content";
		goto done;
	}
	ret = walk(&s, root);
	if (ret < 0)
		goto done;
	r->depth_capped = s.capped;
	if (s.m.base_href && url)
		base = fm_url_resolve(url, s.m.base_href);
	o.base = base ? base : url;

	if (!fragment)
		resolve_meta(&s, r, url);

	size_t from = 0, to = s.nbl;
	if (!fragment) {
		int c = pick_container(&s);
		if (c >= 0) {
			/* blocks whose owner lies in c's subtree are contiguous */
			const struct elem *ce = &s.el[c];
			while (from < s.nbl && s.bl[from].owner < c)
				from++;
			to = from;
			while (to < s.nbl && s.bl[to].owner < ce->end)
				to++;
		}
	}
	select_blocks(&s, from, to, r->title, boiler, source);
#ifdef RD_DEBUG
	debug_dump(&s, from, to);
#endif
	emit(&s, &o, from, to);

	size_t tl = 0;
	r->text = fm_text_normalize(o.text.data ? o.text.data : "", o.text.len, FM_TEXT_KEEP_LINES,
	                            &tl);
	/* the markup hid the text (client-side rendering): the page's own JSON-LD has it */
	if (r->text && !fragment && s.m.ld_body &&
	    fm_text_count_words(r->text, tl) * 3 < fm_text_count_words(s.m.ld_body,
	                                                                 strlen(s.m.ld_body))) {
		free(r->text);
		o.html.len = 0;
		o.text.len = 0;
		body_from_ld(s.m.ld_body, &o);
		r->text = fm_text_normalize(o.text.data ? o.text.data : "", o.text.len,
		                            FM_TEXT_KEEP_LINES, &tl);
	}
	if (!r->text) {
		ret = -ENOMEM;
		goto done;
	}
	r->html = fm_html_sanitize(o.html.data ? o.html.data : "", o.html.len, o.base);
	if (!r->html) {
		ret = -ENOMEM;
		goto done;
	}
	if (!r->lang[0]) {
		const char *l = fm_text_detect_lang(r->text, tl);
		if (l)
			snprintf(r->lang, sizeof(r->lang), "%s", l);
	}
	if (!tl && !r->error)
		r->error = "no text content found";
done:
	if (doc)
		xmlFreeDoc(doc);
	free(base);
	free(s.el);
	free(s.it);
	free(s.bl);
	fm_buf_free(&s.pool);
	meta_free(&s.m);
	fm_buf_free(&o.html);
	fm_buf_free(&o.text);
	if (ret < 0)
		rd_result_free(r);
	if (!ret && !r->text)
		r->text = strdup("");
	if (!ret && !r->html)
		r->html = strdup("");
	return ret;
}

int rd_extract_page(const char *data, size_t len, const char *url, const struct rd_limits *lim,
                    struct rd_boiler *boiler, const char *source, struct rd_result *r)
{
	memset(r, 0, sizeof(*r));
	r->published = -1;
	if (len > lim->max_html_size) {
		len = (size_t)lim->max_html_size;
		r->truncated = true;
	}
	size_t ulen = 0;
	const char *err = NULL;
	char *utf8 = rd_decode_page(data, len, &ulen, &err);
	if (!utf8) {
		if (err && !strcmp(err, "out of memory"))
			return -ENOMEM;
		r->error = err;
		r->text = strdup("");
		r->html = strdup("");
		return r->text && r->html ? 0 : -ENOMEM;
	}
	bool truncated = r->truncated;
	ulen = rd_strip_scripts(utf8, ulen);
	int ret = extract_doc(utf8, ulen, url, false, lim, boiler, source, r);
	r->truncated = truncated;
	free(utf8);
	return ret;
}

int rd_extract_fragment(const char *html, size_t len, const char *url,
                        const struct rd_limits *lim, struct rd_boiler *boiler,
                        const char *source, struct rd_result *r)
{
	memset(r, 0, sizeof(*r));
	r->published = -1;
	if (len > lim->max_html_size)
		len = (size_t)lim->max_html_size;
	char *fixed = NULL;
	if (!fm_text_utf8_valid(html, len)) {
		fixed = fm_text_utf8_repair(html, len, &len);
		if (!fixed)
			return -ENOMEM;
		html = fixed;
	}
	int ret = extract_doc(html, len, url, true, lim, boiler, source, r);
	free(fixed);
	return ret;
}
