/*
 * Entity repair before parsing. libxml2 (2.9) stops expanding every entity reference, even
 * &lt; and &amp;, after the first well-formedness error in a document, so one stray '&' or an
 * undeclared &nbsp; would strip all escaped markup from the rest of the feed. Both are common,
 * so they are repaired here instead: an undeclared HTML entity name becomes a character
 * reference, any other '&' that does not start a reference becomes &amp;. Each repair is
 * reported (unless an external DTD, which we never load, may have declared the name).
 * CDATA sections, comments and processing instructions are left alone.
 */
#include "feed_content.h"
#include "feed_repair.h"

#include <ctype.h>
#include <string.h>

#include <libxml/HTMLparser.h>

#include "buf.h"

static bool declared_entity(const char *data, size_t dlen, const char *name, size_t n)
{
	const char *p = data, *end = data + dlen;
	while ((p = memmem(p, (size_t)(end - p), "<!ENTITY", 8)) != NULL) {
		p += 8;
		while (p < end && isspace((unsigned char)*p))
			p++;
		if (p + n < end && !memcmp(p, name, n) && isspace((unsigned char)p[n]))
			return true;
	}
	return false;
}

char *fm_feed_repair_entities(struct feed_ctx *c, const char *data, size_t len, size_t *outlen)
{
	struct fm_buf out = FM_BUF_INIT;
	const char *p = data, *end = data + len, *copied = data;
	size_t line = 1;
	const char *line_pos = data;
	/* the internal subset, where declared names live, and whether an external DTD exists */
	const char *dt = memmem(data, len < 4096 ? len : 4096, "<!DOCTYPE", 9);
	size_t dt_len = 0;
	bool external_dtd = false;
	if (dt) {
		const char *gt = memchr(dt, '>', (size_t)(end - dt));
		const char *br = memchr(dt, '[', (size_t)(end - dt));
		const char *close = br ? memmem(br, (size_t)(end - br), "]>", 2) : NULL;
		if (br && gt && br < gt && close)
			dt_len = (size_t)(close - dt);
		else if (gt)
			dt_len = (size_t)(gt - dt);
		external_dtd = memmem(dt, dt_len, "SYSTEM", 6) || memmem(dt, dt_len, "PUBLIC", 6);
	}
	while (p < end) {
		/* only '&' matters, and "<!" / "<?" sections where '&' is literal */
		const char *amp = memchr(p, '&', (size_t)(end - p));
		if (!amp)
			break;
		const char *q = amp;
		for (const char *lt = p; (lt = memchr(lt, '<', (size_t)(amp - lt))) != NULL; lt++) {
			if (lt + 1 < end && (lt[1] == '!' || lt[1] == '?')) {
				q = lt;
				break;
			}
		}
		if (*q == '<') {
			const char *skip_to = NULL;
			size_t skip_len = 0;
			size_t rest = (size_t)(end - q);
			if (rest >= 9 && !memcmp(q, "<![CDATA[", 9)) {
				skip_len = 3;
				skip_to = memmem(q + 9, rest - 9, "]]>", 3);
			} else if (rest >= 4 && !memcmp(q, "<!--", 4)) {
				skip_to = memmem(q + 4, rest - 4, "-->", 3);
				skip_len = 3;
			} else if (rest >= 2 && q[1] == '?') {
				skip_to = memmem(q + 2, rest - 2, "?>", 2);
				skip_len = 2;
			}
			if (skip_to)
				p = skip_to + skip_len;
			else if (skip_len)
				p = end; /* unterminated: the parser will say so */
			else
				p = q + 1;
			continue;
		}
		/* q points at '&' */
		if (dt && q > dt && q < dt + dt_len) {
			p = q + 1;
			continue;
		}
		const char *r = q + 1;
		bool ok = false;
		if (r < end && *r == '#') {
			r++;
			if (r < end && (*r == 'x' || *r == 'X')) {
				r++;
				while (r < end && isxdigit((unsigned char)*r))
					r++;
			} else {
				while (r < end && isdigit((unsigned char)*r))
					r++;
			}
			ok = r < end && *r == ';' && r > q + 2;
			p = r;
			if (ok) {
				p = r + 1;
				continue;
			}
		}
		const char *name = q + 1;
		r = name;
		while (r < end && r - name < 40 && (isalnum((unsigned char)*r) || *r == '_' || *r == '-' ||
		                                    *r == '.' || *r == ':'))
			r++;
		size_t n = (size_t)(r - name);
		if (n && r < end && *r == ';') {
			char nm[48];
			memcpy(nm, name, n);
			nm[n] = '\0';
			if (!strcmp(nm, "amp") || !strcmp(nm, "lt") || !strcmp(nm, "gt") ||
			    !strcmp(nm, "quot") || !strcmp(nm, "apos") ||
			    (dt_len && declared_entity(dt, dt_len, nm, n))) {
				p = r + 1;
				continue;
			}
			const htmlEntityDesc *h = htmlEntityLookup(BAD_CAST nm);
			if (h) {
				fm_buf_append(&out, copied, (size_t)(q - copied));
				fm_buf_printf(&out, "&#%u;", h->value);
				copied = p = r + 1;
				if (!external_dtd) {
					for (; line_pos < q; line_pos++)
						line += *line_pos == '\n';
					fm_feed_error(c, "line %zu: undeclared entity &%s; read as HTML", line, nm);
				}
				continue;
			}
		}
		/* a bare '&' */
		fm_buf_append(&out, copied, (size_t)(q - copied));
		fm_buf_puts(&out, "&amp;");
		copied = p = q + 1;
		for (; line_pos < q; line_pos++)
			line += *line_pos == '\n';
		fm_feed_error(c, "line %zu: '&' does not start an entity reference; read as text", line);
	}
	if (copied == data) {
		fm_buf_free(&out);
		return NULL;
	}
	fm_buf_append(&out, copied, (size_t)(end - copied));
	*outlen = out.len;
	return fm_buf_steal(&out);
}

