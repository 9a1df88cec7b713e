/* dedupe_similar: canonical article URLs (see canon.h). */
#include "canon.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "url.h"

int dd_canon_init(struct dd_canon *c, char *const *params, size_t nparams, char *const *rules,
                  size_t nrules, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	if (nparams) {
		c->strip_params = calloc(nparams, sizeof(char *));
		if (!c->strip_params)
			return -ENOMEM;
		for (size_t i = 0; i < nparams; i++) {
			c->strip_params[i] = strdup(params[i]);
			if (!c->strip_params[i])
				return -ENOMEM;
			c->nstrip++;
		}
	}
	if (nrules) {
		c->rules = calloc(nrules, sizeof(*c->rules));
		if (!c->rules)
			return -ENOMEM;
	}
	for (size_t i = 0; i < nrules; i++) {
		const char *arrow = strstr(rules[i], "=>");
		if (!arrow) {
			snprintf(err, errlen, "url_rules entry '%s' is not 'REGEX => REPLACEMENT'",
			         rules[i]);
			return -EINVAL;
		}
		size_t plen = (size_t)(arrow - rules[i]);
		while (plen && isspace((unsigned char)rules[i][plen - 1]))
			plen--;
		const char *rep = arrow + 2;
		while (isspace((unsigned char)*rep))
			rep++;
		char *pat = strndup(rules[i], plen);
		if (!pat)
			return -ENOMEM;
		int rc = regcomp(&c->rules[i].re, pat, REG_EXTENDED | REG_ICASE);
		free(pat);
		if (rc != 0) {
			char msg[128];
			regerror(rc, &c->rules[i].re, msg, sizeof(msg));
			snprintf(err, errlen, "url_rules entry '%s': %s", rules[i], msg);
			return -EINVAL;
		}
		c->rules[i].replacement = strdup(rep);
		c->nrules++;
		if (!c->rules[i].replacement)
			return -ENOMEM;
	}
	return 0;
}

void dd_canon_fini(struct dd_canon *c)
{
	for (size_t i = 0; i < c->nstrip; i++)
		free(c->strip_params[i]);
	free(c->strip_params);
	for (size_t i = 0; i < c->nrules; i++) {
		regfree(&c->rules[i].re);
		free(c->rules[i].replacement);
	}
	free(c->rules);
	memset(c, 0, sizeof(*c));
}

/* Query parameters that select an AMP rendering or name a configured tracker. (Common
 * trackers, utm_* and friends, are removed before by fm_url_strip_tracking.) */
static bool drop_param(const struct dd_canon *c, const char *kv, size_t n)
{
	const char *eq = memchr(kv, '=', n);
	size_t klen = eq ? (size_t)(eq - kv) : n;
	const char *val = eq ? eq + 1 : kv + n;
	size_t vlen = (size_t)(kv + n - val);
	if (klen == 3 && !strncasecmp(kv, "amp", 3))
		return true;
	if ((klen == 10 && !strncasecmp(kv, "outputtype", 10)) ||
	    (klen == 6 && !strncasecmp(kv, "output", 6))) {
		if (vlen == 3 && !strncasecmp(val, "amp", 3))
			return true;
	}
	for (size_t i = 0; i < c->nstrip; i++) {
		const char *p = c->strip_params[i];
		size_t pl = strlen(p);
		if (pl && p[pl - 1] == '*') {
			if (klen >= pl - 1 && !strncasecmp(kv, p, pl - 1))
				return true;
		} else if (pl == klen && !strncasecmp(kv, p, klen)) {
			return true;
		}
	}
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_index_page(const char *seg, size_t n)
{
	static const char *const names[] = {"index.html", "index.htm", "index.php", "index.shtml",
	                                    "index.asp", "index.aspx", "default.aspx",
	                                    "default.asp", NULL};
	for (size_t i = 0; names[i]; i++)
		if (strlen(names[i]) == n && !strncasecmp(seg, names[i], n))
			return true;
	return false;
}

static void put_host(struct fm_buf *out, const char *h, size_t n)
{
	const char *at = memchr(h, '@', n); /* userinfo never identifies an article */
	if (at) {
		n -= (size_t)(at + 1 - h);
		h = at + 1;
	}
	const char *end = h + n;
	const char *colon = NULL;
	if (n && h[0] != '[')
		colon = memchr(h, ':', n);
	size_t hl = colon ? (size_t)(colon - h) : n;
	while (hl && h[hl - 1] == '.')
		hl--;
	/* www., m., mobile., amp. in front of the site name (at most two of them) */
	for (int round = 0; round < 2; round++) {
		static const char *const pre[] = {"www.", "m.", "mobile.", "amp.", NULL};
		for (size_t i = 0; pre[i]; i++) {
			size_t pl = strlen(pre[i]);
			if (hl > pl + 3 && !strncasecmp(h, pre[i], pl) && memchr(h + pl, '.', hl - pl)) {
				h += pl;
				hl -= pl;
				break;
			}
		}
	}
	char *w = fm_buf_reserve(out, hl);
	if (w) {
		for (size_t i = 0; i < hl; i++) {
			unsigned char ch = (unsigned char)h[i];
			w[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch | 0x20 : ch);
		}
		out->len += hl;
		out->data[out->len] = '\0';
	}
	if (colon) {
		const char *port = colon + 1;
		size_t pl = (size_t)(end - port);
		bool def = pl == 0 || (pl == 2 && !memcmp(port, "80", 2)) ||
		           (pl == 3 && !memcmp(port, "443", 3));
		if (!def) {
			fm_buf_putc(out, ':');
			fm_buf_append(out, port, pl);
		}
	}
}

static void put_path(struct fm_buf *out, const char *p, size_t n)
{
	size_t start = out->len;
	size_t i = 0;
	while (i < n) {
		while (i < n && p[i] == '/')
			i++;
		size_t j = i;
		while (j < n && p[j] != '/')
			j++;
		const char *seg = p + i;
		size_t sl = j - i;
		i = j;
		if (sl == 0)
			continue;
		if (sl == 3 && !strncasecmp(seg, "amp", 3))
			continue;
		if (i >= n && is_index_page(seg, sl))
			continue;
		fm_buf_putc(out, '/');
		/* story.amp.html -> story.html */
		const char *dot = NULL, *send = seg + sl;
		for (const char *d = memchr(seg, '.', sl); d && send - d >= 4;
		     d = memchr(d + 1, '.', (size_t)(send - d - 1)))
			if (!strncasecmp(d, ".amp", 4) && (d + 4 == send || d[4] == '.'))
				dot = d;
		if (dot) {
			fm_buf_append(out, seg, (size_t)(dot - seg));
			fm_buf_append(out, dot + 4, sl - (size_t)(dot + 4 - seg));
		} else {
			fm_buf_append(out, seg, sl);
		}
	}
	if (out->len == start)
		fm_buf_putc(out, '/');
}

static void put_query(const struct dd_canon *c, struct fm_buf *out, const char *q, size_t n)
{
	char *copy = strndup(q, n);
	if (!copy) {
		out->oom = true;
		return;
	}
	char *parts[64];
	size_t np = 0;
	char *save = NULL;
	for (char *t = strtok_r(copy, "&;", &save); t && np < 64; t = strtok_r(NULL, "&;", &save))
		if (*t && !drop_param(c, t, strlen(t)))
			parts[np++] = t;
	/* parameter order carries no meaning for the article it names */
	qsort(parts, np, sizeof(parts[0]), cmp_str);
	for (size_t i = 0; i < np; i++) {
		fm_buf_putc(out, i ? '&' : '?');
		fm_buf_puts(out, parts[i]);
	}
	free(copy);
}

static void apply_rules(const struct dd_canon *c, struct fm_buf *out)
{
	for (size_t r = 0; r < c->nrules && !out->oom; r++) {
		regmatch_t m[10];
		const char *s = fm_buf_str(out);
		if (regexec(&c->rules[r].re, s, 10, m, 0) != 0)
			continue;
		struct fm_buf nb = FM_BUF_INIT;
		fm_buf_append(&nb, s, (size_t)m[0].rm_so);
		for (const char *p = c->rules[r].replacement; *p; p++) {
			if (*p == '\\' && p[1] >= '0' && p[1] <= '9') {
				int g = p[1] - '0';
				if (m[g].rm_so >= 0)
					fm_buf_append(&nb, s + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
				p++;
			} else {
				fm_buf_putc(&nb, *p);
			}
		}
		fm_buf_puts(&nb, s + m[0].rm_eo);
		fm_buf_truncate(out, 0);
		fm_buf_append(out, fm_buf_str(&nb), nb.len);
		fm_buf_free(&nb);
	}
}

bool dd_canon_url(const struct dd_canon *c, const char *url, struct fm_buf *out)
{
	fm_buf_truncate(out, 0);
	if (!url || !*url)
		return false;
	char *clean = fm_url_strip_tracking(url);
	if (!clean)
		return false;
	const char *s = clean;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	const char *hash = memchr(s, '#', n);
	if (hash)
		n = (size_t)(hash - s);
	bool ok = false;
	const char *sep = NULL;
	for (size_t i = 0; i + 2 < n; i++) {
		if (s[i] == ':') {
			sep = s + i;
			break;
		}
		if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '-' && s[i] != '.')
			break;
	}
	size_t sl = sep ? (size_t)(sep - s) : 0;
	bool http = sep && ((sl == 4 && !strncasecmp(s, "http", 4)) ||
	                    (sl == 5 && !strncasecmp(s, "https", 5))) &&
	            sep[1] == '/' && sep[2] == '/';
	if (!http) {
		/* not a web URL: the trimmed text, without fragment, still names something */
		fm_buf_append(out, s, n);
		goto done;
	}
	/* http and https serve the same article; the canonical form says neither */
	fm_buf_puts(out, "//");
	const char *auth = sep + 3, *end = s + n;
	const char *pe = auth;
	while (pe < end && *pe != '/' && *pe != '?')
		pe++;
	if (pe == auth)
		goto done;
	put_host(out, auth, (size_t)(pe - auth));
	const char *q = memchr(pe, '?', (size_t)(end - pe));
	const char *path_end = q ? q : end;
	size_t before_path = out->len;
	put_path(out, pe, (size_t)(path_end - pe));
	bool root = out->len - before_path == 1;
	size_t before_query = out->len;
	if (q)
		put_query(c, out, q + 1, (size_t)(end - q - 1));
	ok = !root || out->len > before_query;
	apply_rules(c, out);
done:
	free(clean);
	return ok && !out->oom;
}
