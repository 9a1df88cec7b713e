/*
 * HTML sanitizing to an allowlist, shared by the bundled plugins (feed content, extracted
 * articles, published output).
 *
 * Kept: text formatting, links, images, lists, tables, figures, quotes, code, media
 * (audio/video/source with safe URLs), and SVG/MathML subsets without scripting.
 * Removed with their content: script, style, noscript, template, iframe, frame(set), object,
 * embed, applet, head-level elements (meta, link, base, title), form controls' scripts.
 * Removed but content kept: unknown elements (blink, font, span-like wrappers not on the list).
 * Attributes: an allowlist; every on* handler dropped; URL attributes (href, src, cite, icon,
 * ...) must be relative (resolved against base_url when given), a fragment, an http(s) URL
 * with a host (fm_url_is_safe_http, url.h), mailto, ftp, tel and a few other hand-off schemes,
 * feed: wrapping one of those, or data:image/(png|gif|jpeg|webp|avif) for img src;
 * javascript:, vbscript:, other data: are dropped, however spelled (character references,
 * case, controls or white space in or before the scheme).
 * style: only an allowlist of CSS properties with harmless values (no url(), expression(),
 * position/display:none/visibility hidden overlays).
 */
#ifndef FMKIT_HTML_SANITIZE_H
#define FMKIT_HTML_SANITIZE_H

#include <stddef.h>

#include <libxml/tree.h>

#include "buf.h"

/* Sanitize an HTML fragment of len bytes (UTF-8; need not be NUL-terminated). Relative URLs are
 * resolved against base_url when it is non-NULL. Returns the sanitized fragment (malloc'd,
 * caller frees; "" when nothing survives), or NULL on OOM. */
char *fm_html_sanitize(const char *html, size_t len, const char *base_url);

/* Serialize the children of node (from a libxml2 HTML or XML tree; e.g. an Atom XHTML div or a
 * parsed HTML body) through the same allowlist, appending to out. Element names are compared
 * by local name, case-insensitively; XHTML, SVG and MathML namespaces are understood. The
 * tree is not modified. xml:base attributes on the way down override base_url. */
void fm_html_sanitize_node(xmlNodePtr node, const char *base_url, struct fm_buf *out);

/* Plain text of an HTML fragment: markup stripped (script/style content dropped), entities
 * decoded, whitespace runs collapsed to one space, trimmed. For titles. Returns malloc'd, NULL
 * on OOM. */
char *fm_html_to_text(const char *html, size_t len);

/* Append s (len bytes) to out with &, <, > (and " when attr) escaped. */
void fm_html_escape(struct fm_buf *out, const char *s, size_t len, int attr);

#endif
