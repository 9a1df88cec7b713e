/*
 * An oracle for HTML that feedmill outputs as safe (sanitized summaries and content, extracted
 * articles): parse it as a browser-like HTML parser would (libxml2) and look for anything that
 * could run script or load another document. Text that merely mentions javascript: or shows
 * markup as text (&lt;script&gt;) is not a finding, nor is an https link whose path does.
 *
 * Written independently of the sanitizer's allowlist on purpose, so that the fuzz targets
 * check the sanitizer instead of repeating it; the URL reading (url.h) is shared.
 */
#ifndef FMT_HTML_CHECK_H
#define FMT_HTML_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* true when html (len bytes, UTF-8) has none of:
 *   - an element that runs or loads code or documents: script, iframe, frame, object, embed,
 *     applet, base, meta, link;
 *   - an event handler attribute (on*), or srcdoc;
 *   - a style attribute with expression( or a javascript:/vbscript: URL;
 *   - a URL attribute (href, src, srcset candidates, action, formaction, poster, cite,
 *     background, data, codebase, longdesc, lowsrc, dynsrc, usemap, icon, xlink:href) that is
 *     not relative, a fragment, an http(s) URL with a host (fm_url_is_safe_http), mailto, one
 *     of the schemes that hand the link to another program (tel, sms, geo, ftp, news, nntp,
 *     magnet, xmpp, irc, ircs, feed wrapping one of these), or for an image source
 *     data:image/(png|gif|jpeg|webp|avif); a scheme spelled with a character reference the
 *     parser left alone (java&Tab;script&colon;, which a browser decodes) counts as unsafe.
 * Otherwise false, with a description of the first finding in why[0..n). */
bool fmt_html_is_safe(const char *html, size_t len, char *why, size_t n);

#endif
