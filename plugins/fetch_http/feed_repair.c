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
#include <stdio.h>
#include <string.h>

#include <libxml/HTMLparser.h>

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

struct repair {
	struct feed_ctx *c;
	const char *end;
	const char *dt;     /* the DOCTYPE declaration (in the first 4 KiB), or NULL */
	size_t dt_len;      /* its length, internal subset included */
	bool external_dtd;  /* it names an external DTD, which may declare any name */
	size_t line;        /* line number of line_pos, for messages */
	const char *line_pos;
};

/* The internal subset, where declared names live, and whether an external DTD exists. */
static void find_doctype(struct repair *r, const char *data, size_t len)
{
	const char *end = r->end;
	r->dt = memmem(data, len < 4096 ? len : 4096, "<!DOCTYPE", 9);
	if (!r->dt)
		return;
	const char *dt = r->dt;
	const char *gt = memchr(dt, '>', (size_t)(end - dt));
	const char *br = memchr(dt, '[', (size_t)(end - dt));
	const char *close = br ? memmem(br, (size_t)(end - br), "]>", 2) : NULL;
	if (br && gt && br < gt && close)
		r->dt_len = (size_t)(close - dt);
	else if (gt)
		r->dt_len = (size_t)(gt - dt);
	r->external_dtd = memmem(dt, r->dt_len, "SYSTEM", 6) || memmem(dt, r->dt_len, "PUBLIC", 6);
}

/* Past a CDATA section, comment or processing instruction starting at q (where '&' is
 * literal); q + 1 when q starts none of them. */
static const char *skip_section(const char *q, const char *end)
{
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
		return skip_to + skip_len;
	return skip_len ? end : q + 1; /* unterminated: the parser will say so */
}

static size_t line_at(struct repair *r, const char *q)
{
	for (; r->line_pos < q; r->line_pos++)
		r->line += *r->line_pos == '\n';
	return r->line;
}

/* The '&' at q: returns true and sets *next past the reference when it is one the parser
 * reads (a character reference, a predefined or declared entity); otherwise writes its
 * replacement into repl, sets *next past what it replaces, reports it and returns false. */
static bool check_reference(struct repair *r, const char *q, char repl[16], const char **next)
{
	const char *end = r->end, *p = q + 1;
	if (p < end && *p == '#') {
		p++;
		if (p < end && (*p == 'x' || *p == 'X')) {
			p++;
			while (p < end && isxdigit((unsigned char)*p))
				p++;
		} else {
			while (p < end && isdigit((unsigned char)*p))
				p++;
		}
		if (p < end && *p == ';' && p > q + 2) {
			*next = p + 1;
			return true;
		}
		p = q + 1; /* "&#" without digits and ';': a bare '&' */
	}
	const char *name = q + 1;
	while (p < end && p - name < 40 && (isalnum((unsigned char)*p) || *p == '_' || *p == '-' ||
	                                    *p == '.' || *p == ':'))
		p++;
	size_t n = (size_t)(p - name);
	if (n && p < end && *p == ';') {
		char nm[48];
		memcpy(nm, name, n);
		nm[n] = '\0';
		*next = p + 1;
		if (!strcmp(nm, "amp") || !strcmp(nm, "lt") || !strcmp(nm, "gt") ||
		    !strcmp(nm, "quot") || !strcmp(nm, "apos") ||
		    (r->dt_len && declared_entity(r->dt, r->dt_len, nm, n)))
			return true;
		const htmlEntityDesc *h = htmlEntityLookup(BAD_CAST nm);
		if (h) {
			snprintf(repl, 16, "&#%u;", h->value);
			if (!r->external_dtd)
				fm_feed_error(r->c, "line %zu: undeclared entity &%s; read as HTML",
				              line_at(r, q), nm);
			return false;
		}
	}
	memcpy(repl, "&amp;", 6);
	*next = q + 1;
	fm_feed_error(r->c, "line %zu: '&' does not start an entity reference; read as text",
	              line_at(r, q));
	return false;
}

int fm_feed_repair(struct feed_ctx *c, const char *data, size_t len, fm_feed_sink sink, void *ud)
{
	struct repair r = {.c = c, .end = data + len, .line = 1, .line_pos = data};
	const char *p = data, *end = data + len, *copied = data;
	int rc;
	find_doctype(&r, data, len);
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
		if (*q == '<' || (r.dt && q > r.dt && q < r.dt + r.dt_len)) {
			p = *q == '<' ? skip_section(q, end) : q + 1;
			continue;
		}
		char repl[16];
		if (check_reference(&r, q, repl, &p))
			continue;
		if ((rc = sink(ud, copied, (size_t)(q - copied))) < 0 ||
		    (rc = sink(ud, repl, strlen(repl))) < 0)
			return rc;
		copied = p;
	}
	return sink(ud, copied, (size_t)(end - copied));
}
