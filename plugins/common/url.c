/* URL reference resolution (RFC 3986 section 5) and small URL utilities. */
#include "url.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* A URI split per RFC 3986 appendix B; pointers into the source string, lengths explicit.
 * A component that is absent has a NULL pointer (empty but present is non-NULL, len 0). */
struct uri_parts {
	const char *scheme, *auth, *path, *query, *frag;
	size_t scheme_len, auth_len, path_len, query_len, frag_len;
};

static void split_uri(const char *s, size_t n, struct uri_parts *u)
{
	memset(u, 0, sizeof(*u));
	const char *p = s, *end = s + n;
	/* scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
	if (p < end && isalpha((unsigned char)*p)) {
		const char *q = p + 1;
		while (q < end && (isalnum((unsigned char)*q) || *q == '+' || *q == '-' || *q == '.'))
			q++;
		if (q < end && *q == ':') {
			u->scheme = p;
			u->scheme_len = (size_t)(q - p);
			p = q + 1;
		}
	}
	if (end - p >= 2 && p[0] == '/' && p[1] == '/') {
		p += 2;
		const char *q = p;
		while (q < end && *q != '/' && *q != '?' && *q != '#')
			q++;
		u->auth = p;
		u->auth_len = (size_t)(q - p);
		p = q;
	}
	const char *q = p;
	while (q < end && *q != '?' && *q != '#')
		q++;
	u->path = p;
	u->path_len = (size_t)(q - p);
	p = q;
	if (p < end && *p == '?') {
		p++;
		q = p;
		while (q < end && *q != '#')
			q++;
		u->query = p;
		u->query_len = (size_t)(q - p);
		p = q;
	}
	if (p < end && *p == '#') {
		p++;
		u->frag = p;
		u->frag_len = (size_t)(end - p);
	}
}

/* RFC 3986 5.2.4 remove_dot_segments, appending the result to out. Works segment by segment
 * on the input with an output stack kept in `out` itself (linear time). */
static void remove_dots(struct fm_buf *out, const char *in, size_t n)
{
	size_t start = out->len;
	const char *p = in, *end = in + n;
	while (p < end) {
		size_t rest = (size_t)(end - p);
		if (rest >= 3 && !memcmp(p, "../", 3)) {
			p += 3;
		} else if (rest >= 2 && !memcmp(p, "./", 2)) {
			p += 2;
		} else if (rest >= 3 && !memcmp(p, "/./", 3)) {
			p += 2;
		} else if (rest == 2 && !memcmp(p, "/.", 2)) {
			p += 1;
			/* becomes "/" */
			fm_buf_putc(out, '/');
			p = end;
		} else if ((rest >= 4 && !memcmp(p, "/../", 4)) || (rest == 3 && !memcmp(p, "/..", 3))) {
			/* pop the last segment of the output */
			size_t len = out->len;
			while (len > start && out->data[len - 1] != '/')
				len--;
			if (len > start)
				len--;
			fm_buf_truncate(out, len);
			if (rest == 3) {
				fm_buf_putc(out, '/');
				p = end;
			} else {
				p += 3;
			}
		} else if ((rest == 1 && *p == '.') || (rest == 2 && !memcmp(p, "..", 2))) {
			p = end;
		} else {
			const char *q = p + (*p == '/' ? 1 : 0);
			while (q < end && *q != '/')
				q++;
			fm_buf_append(out, p, (size_t)(q - p));
			p = q;
		}
	}
}

static void trim(const char **s, size_t *n)
{
	while (*n && isspace((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

static void put_lower(struct fm_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fm_buf_putc(b, (char)tolower((unsigned char)s[i]));
}

static void put_tail(struct fm_buf *b, const struct uri_parts *r, bool query_from_r,
                     const struct uri_parts *base)
{
	const struct uri_parts *q = query_from_r ? r : base;
	if (q->query) {
		fm_buf_putc(b, '?');
		fm_buf_append(b, q->query, q->query_len);
	}
	if (r->frag) {
		fm_buf_putc(b, '#');
		fm_buf_append(b, r->frag, r->frag_len);
	}
}

char *fm_url_resolve(const char *base, const char *ref)
{
	if (!ref)
		return NULL;
	const char *rs = ref;
	size_t rn = strlen(ref);
	trim(&rs, &rn);
	struct uri_parts r, b;
	split_uri(rs, rn, &r);
	struct fm_buf out = FM_BUF_INIT;

	const char *bs = base;
	size_t bn = base ? strlen(base) : 0;
	if (bs)
		trim(&bs, &bn);
	split_uri(bs ? bs : "", bn, &b);

	if (r.scheme || !b.scheme) {
		/* absolute reference, or nothing to resolve against */
		if (!r.scheme) {
			fm_buf_append(&out, rs, rn);
			return fm_buf_steal(&out);
		}
		put_lower(&out, r.scheme, r.scheme_len);
		fm_buf_putc(&out, ':');
		if (r.auth) {
			fm_buf_puts(&out, "//");
			fm_buf_append(&out, r.auth, r.auth_len);
		}
		remove_dots(&out, r.path, r.path_len);
		put_tail(&out, &r, true, &r);
		return fm_buf_steal(&out);
	}

	put_lower(&out, b.scheme, b.scheme_len);
	fm_buf_putc(&out, ':');
	if (r.auth) {
		fm_buf_puts(&out, "//");
		fm_buf_append(&out, r.auth, r.auth_len);
		remove_dots(&out, r.path, r.path_len);
		put_tail(&out, &r, true, &b);
		return fm_buf_steal(&out);
	}
	if (b.auth) {
		fm_buf_puts(&out, "//");
		fm_buf_append(&out, b.auth, b.auth_len);
	}
	if (r.path_len == 0) {
		fm_buf_append(&out, b.path, b.path_len);
		put_tail(&out, &r, r.query != NULL, &b);
		return fm_buf_steal(&out);
	}
	if (r.path[0] == '/') {
		remove_dots(&out, r.path, r.path_len);
	} else {
		/* 5.2.3 merge: base path up to its last '/', then the reference path */
		struct fm_buf merged = FM_BUF_INIT;
		if (b.auth && b.path_len == 0) {
			fm_buf_putc(&merged, '/');
		} else {
			size_t k = b.path_len;
			while (k > 0 && b.path[k - 1] != '/')
				k--;
			fm_buf_append(&merged, b.path, k);
		}
		fm_buf_append(&merged, r.path, r.path_len);
		if (merged.oom) {
			fm_buf_free(&merged);
			fm_buf_free(&out);
			return NULL;
		}
		remove_dots(&out, fm_buf_str(&merged), merged.len);
		fm_buf_free(&merged);
	}
	put_tail(&out, &r, true, &b);
	return fm_buf_steal(&out);
}

bool fm_url_scheme(const char *url, char *out, unsigned n)
{
	if (!url || !n)
		return false;
	struct uri_parts u;
	const char *s = url;
	size_t len = strlen(url);
	trim(&s, &len);
	split_uri(s, len, &u);
	if (!u.scheme)
		return false;
	size_t k = u.scheme_len < n - 1 ? u.scheme_len : n - 1;
	for (size_t i = 0; i < k; i++)
		out[i] = (char)tolower((unsigned char)u.scheme[i]);
	out[k] = '\0';
	return true;
}

/* ---- Is it an http(s) URL? ---- */

/* Characters the WHATWG URL parser removes wherever they are (ASCII tab or newline). */
static bool url_ignored(unsigned char c)
{
	return c == '\t' || c == '\n' || c == '\r';
}

/* A byte a host may not contain: controls, space, and the forbidden host code points that
 * cannot end the authority (those that can: / \ ? # @ are handled by the caller). */
static bool host_forbidden(unsigned char c)
{
	return c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '^' || c == '|' ||
	       c == '"' || c == '`' || c == '{' || c == '}';
}

/* The authority after "//", up to the first / \ ? # or end: optional userinfo ending at the
 * last '@', then a host (a name, or an IPv6 literal in brackets) that is not empty, then an
 * optional ":" and up to five digits of a port no larger than 65535. */
static bool authority_ok(const char *p, const char *end, bool lenient)
{
	size_t host = 0, port_digits = 0;
	unsigned long port = 0;
	bool in_port = false, in_v6 = false, v6_done = false, bad = false;
	for (; p < end; p++) {
		unsigned char c = (unsigned char)*p;
		if (lenient && url_ignored(c))
			continue;
		if (c == '/' || c == '\\' || c == '?' || c == '#')
			break;
		if (c == '@') { /* what came before was userinfo: start the host again */
			host = port_digits = 0;
			port = 0;
			in_port = in_v6 = v6_done = bad = false;
			continue;
		}
		if (in_port) {
			if (c < '0' || c > '9' || ++port_digits > 5)
				bad = true;
			else
				port = port * 10 + (unsigned long)(c - '0');
		} else if (c == '[' && host == 0 && !in_v6) {
			in_v6 = true;
		} else if (c == ']' && in_v6) {
			in_v6 = false;
			v6_done = true;
			bad |= host == 0; /* "[]" */
		} else if (c == ':' && !in_v6) {
			in_port = true;
		} else if (host_forbidden(c) || c == '[' || c == ']' || v6_done) {
			bad = true;
		} else {
			host++;
		}
	}
	return host > 0 && !bad && !in_v6 && port <= 65535;
}

/* lenient: read s as a browser does (see url.h); otherwise as libcurl gets it. */
static bool http_url(const char *s, bool lenient)
{
	if (!s)
		return false;
	const char *p = s, *end = s + strlen(s);
	if (lenient) {
		while (p < end && (unsigned char)*p <= 0x20)
			p++;
		while (end > p && (unsigned char)end[-1] <= 0x20)
			end--;
	} else {
		size_t n = (size_t)(end - p);
		trim(&p, &n);
		end = p + n;
	}
	/* "http" "s"? ":" "/" "/", skipping what the parser removes */
	static const char want[] = "https://";
	size_t k = 0;
	while (k < sizeof(want) - 1) {
		while (lenient && p < end && url_ignored((unsigned char)*p))
			p++;
		if (p == end)
			return false;
		char c = (char)tolower((unsigned char)*p);
		if (c == want[k]) {
			k++;
			p++;
		} else if (k == 4 && c == ':') {
			k = 5; /* no 's' */
		} else {
			return false;
		}
	}
	return authority_ok(p, end, lenient);
}

bool fm_url_is_http(const char *url)
{
	return http_url(url, false);
}

bool fm_url_is_safe_http(const char *s)
{
	return http_url(s, true);
}

enum fm_url_kind fm_url_classify(const char *s, char *scheme, size_t n, const char **rest)
{
	if (n)
		scheme[0] = '\0';
	if (rest)
		*rest = s;
	if (!s)
		return FM_URL_EMPTY;
	const char *start = s;
	while ((unsigned char)*start <= 0x20 || *start == 0x7f) {
		if (!*start)
			return FM_URL_EMPTY;
		start++;
	}
	if (*start == '#')
		return FM_URL_FRAGMENT;
	if (!isalpha((unsigned char)*start))
		return FM_URL_RELATIVE;
	const char *p = start;
	for (; *p != ':'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\0')
			return FM_URL_RELATIVE;
		if (c > 0x20 && c != 0x7f && !isalnum(c) && c != '+' && c != '-' && c != '.')
			return FM_URL_RELATIVE; /* '/', '?', '#', '%', '&'... before any ':' */
	}
	if (rest)
		*rest = p + 1;
	size_t k = 0;
	for (const char *q = start; q < p && n; q++) {
		if ((unsigned char)*q <= 0x20 || *q == 0x7f)
			continue;
		if (k + 1 >= n) {
			k = 0; /* does not fit: no listed scheme is this long */
			break;
		}
		scheme[k++] = (char)tolower((unsigned char)*q);
	}
	if (n)
		scheme[k] = '\0';
	return fm_url_is_safe_http(s) ? FM_URL_HTTP : FM_URL_OTHER;
}

static bool is_tracking_key(const char *k, size_t n)
{
	static const char *const exact[] = {
		"fbclid", "gclid", "gclsrc", "dclid", "msclkid", "mc_cid", "mc_eid", "yclid",
		"_hsenc", "_hsmi", "igshid", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id",
		"wickedid", "twclid", "ttclid", "_ga", "_gl", "srsltid", "rb_clickid", "s_cid",
		"ncid", "cmpid", "ref_src", "ref_url", NULL,
	};
	if (n > 4 && !strncasecmp(k, "utm_", 4))
		return true;
	for (size_t i = 0; exact[i]; i++)
		if (strlen(exact[i]) == n && !strncasecmp(k, exact[i], n))
			return true;
	return false;
}

char *fm_url_strip_tracking(const char *url)
{
	if (!url)
		return NULL;
	size_t n = strlen(url);
	struct uri_parts u;
	split_uri(url, n, &u);
	struct fm_buf out = FM_BUF_INIT;
	if (!u.query) {
		fm_buf_append(&out, url, n);
		return fm_buf_steal(&out);
	}
	fm_buf_append(&out, url, (size_t)(u.query - url) - 1);
	size_t kept = 0;
	const char *p = u.query, *end = u.query + u.query_len;
	while (p <= end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		if (!amp)
			amp = end;
		const char *eq = memchr(p, '=', (size_t)(amp - p));
		size_t klen = (size_t)((eq ? eq : amp) - p);
		if (amp > p && !is_tracking_key(p, klen)) {
			fm_buf_putc(&out, kept++ ? '&' : '?');
			fm_buf_append(&out, p, (size_t)(amp - p));
		}
		p = amp + 1;
	}
	if (u.frag) {
		fm_buf_putc(&out, '#');
		fm_buf_append(&out, u.frag, u.frag_len);
	}
	return fm_buf_steal(&out);
}
