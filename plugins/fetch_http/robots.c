/*
 * robots.txt (RFC 9309): parsing and matching, then the per-origin cache. See robots.h.
 *
 * A body is reduced while it is read to the rules of the groups that name our product token
 * and, in case none does, of the "*" groups: other groups cost nothing to keep. Patterns and
 * request targets are put in one normal form before comparison (normalise()), so a lookup is
 * a byte comparison per rule, and rules are sorted longest first so it stops at the first
 * match.
 */
#include "robots.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEF_MAX_RULES 1000
#define DEF_MAX_ENTRIES 1000
#define DEF_MAX_BYTES ((size_t)32 << 20)
#define DAY_MS ((int64_t)24 * 3600 * 1000)
#define DEF_RETRY_MS ((int64_t)3600 * 1000)
#define DEF_FETCH_TIMEOUT_MS ((int64_t)120 * 1000)
/* Offsets and lengths are 32-bit: a body's normal form is at most 3 bytes per byte. */
#define MAX_PARSE_CAP ((size_t)64 << 20)
#define MAX_RULES_CAP ((size_t)1 << 20)
/* "https://" + a DNS name (at most 253 bytes) or an IPv6 literal + ":65535", with room. */
#define MAX_ORIGIN 300

struct rule {
	const char *pat; /* normal form; a '*' is a wildcard, a literal one is "%2A" */
	uint32_t len;
	uint32_t spec;   /* octets of the pattern as written (normal form, '$' counted): longer
	                  * is more specific (RFC 9309 section 2.2.2) */
	bool allow;
	bool anchored;   /* the pattern ended with '$': the target must end where it ends */
};

struct fm_robots_rules {
	size_t n;
	int64_t crawl_delay_ms;
	size_t size;
	char *arena; /* every pattern, back to back */
	struct rule rules[];
};

/* ---- Normal form ------------------------------------------------------------------------
 * RFC 9309 section 2.2.2 compares percent-encoded octets: octets outside US-ASCII are
 * encoded, and an encoded octet is decoded only when it stands for an unreserved character
 * (RFC 3986 section 2.3), so "%7E" and "~" are one, while "%2F" and "/" stay different (they
 * mean different paths). Hex digits are upper-cased (RFC 3986 section 6.2.2.1) and a '%' that
 * starts no escape is "%25". Characters a URI may not carry raw (space, '"', '<', ...) are
 * encoded so a robots.txt writing them raw and a URL carrying them encoded compare equal.
 *
 * '*' and '$' are special in patterns, so a pattern writes them encoded to mean themselves
 * (RFC 9309 section 2.2.3): in the normal form a literal '*' or '$' is always "%2A" or "%24",
 * in targets too, and a raw '*' exists only in patterns, as the wildcard. The '$' that anchors
 * a pattern is taken off before. */

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* Printable ASCII that stands for itself in the normal form. */
static bool raw_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("\"<>\\^`{|}#%*$", c);
}

/* Writes at most 3 * n bytes to out; returns how many. In a pattern, '*' stays the wildcard. */
static size_t normalise(const char *in, size_t n, char *out, bool pattern)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '%' && i + 2 < n && hexval((unsigned char)in[i + 1]) >= 0 &&
		    hexval((unsigned char)in[i + 2]) >= 0) {
			c = (unsigned char)(hexval((unsigned char)in[i + 1]) * 16 +
			                    hexval((unsigned char)in[i + 2]));
			i += 2;
			if (unreserved(c)) {
				out[o++] = (char)c;
				continue;
			}
		} else if (raw_ok(c) || (pattern && c == '*')) {
			out[o++] = (char)c;
			continue;
		}
		out[o++] = '%';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	return o;
}

/* ---- Parsing ------------------------------------------------------------------------- */

/* A rule while parsing: its pattern is an offset, since the arena moves as it grows. */
struct prule {
	uint32_t off, len, spec;
	bool allow, anchored;
};

/* The rules of the groups of one kind (ours, or "*"), merged (RFC 9309 section 2.2.1). */
struct list {
	struct prule *v;
	size_t n, cap;
	char *arena;
	size_t alen, acap;
	size_t dropped;
	int64_t delay_ms;
	bool named; /* some user-agent line named it, even in a group without rules */
};

struct parser {
	const char *token; /* our product token; token_n 0: none */
	size_t token_n;
	size_t max_rules;
	bool in_group;     /* a user-agent line was seen: rules have a group to go to */
	bool ua_phase;     /* the last record was a user-agent line: another one joins the group */
	bool g_agent, g_star; /* the current group names us, "*" */
	struct list ours, star;
};

static bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9309 section 2.2.1: product tokens are [A-Za-z_-]; "feedmill/0.1" has "feedmill". */
static size_t token_len(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
	                 s[i] == '_' || s[i] == '-'))
		i++;
	return i;
}

static bool key_is(const char *k, size_t n, const char *name)
{
	return n == strlen(name) && strncasecmp(k, name, n) == 0;
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
	size_t c = *cap ? *cap : 16;
	while (c < need)
		c *= 2;
	void *q = realloc(p, c * elem);
	if (q)
		*cap = c;
	return q;
}

/* Room for one more rule whose pattern takes up to `bytes`; -ENOMEM leaves l as it was. */
static int list_reserve(struct list *l, size_t bytes)
{
	if (l->n == l->cap) {
		struct prule *v = grow(l->v, &l->cap, l->n + 1, sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
	}
	if (l->alen + bytes > l->acap) {
		char *a = grow(l->arena, &l->acap, l->alen + bytes, 1);
		if (!a)
			return -ENOMEM;
		l->arena = a;
	}
	return 0;
}

/* Add "allow"/"disallow" with value v (n > 0, trimmed). */
static int list_add(struct list *l, size_t max_rules, bool allow, const char *v, size_t n)
{
	if (l->n >= max_rules) {
		l->dropped++;
		return 0;
	}
	bool anchored = v[n - 1] == '$'; /* only a final '$' anchors; elsewhere it is literal */
	if (anchored)
		n--;
	/* Lenient as RFC 9309 section 2.2 allows: "Disallow: private/" meant "/private/". */
	bool slash = n == 0 || (v[0] != '/' && v[0] != '*');
	int rc = list_reserve(l, 3 * n + 1);
	if (rc < 0)
		return rc;
	char *out = l->arena + l->alen;
	size_t m = 0;
	if (slash)
		out[m++] = '/';
	m += normalise(v, n, out + m, true);
	struct prule *r = &l->v[l->n++];
	r->off = (uint32_t)l->alen;
	r->spec = (uint32_t)(m + anchored);
	r->len = (uint32_t)m;
	r->allow = allow;
	r->anchored = anchored;
	l->alen += m;
	return 0;
}

/* "Crawl-delay: 2.5": seconds, a fraction allowed; anything else is ignored (-1). */
static int64_t crawl_delay(const char *v, size_t n)
{
	size_t i = 0;
	int64_t sec = 0, ms = 0, scale = 100;
	if (n == 0 || v[0] < '0' || v[0] > '9')
		return -1;
	for (; i < n && v[i] >= '0' && v[i] <= '9'; i++)
		if (sec < 86400)
			sec = sec * 10 + (v[i] - '0');
	if (i < n && v[i] == '.')
		for (i++; i < n && v[i] >= '0' && v[i] <= '9'; i++, scale /= 10)
			ms += (v[i] - '0') * scale;
	if (i != n)
		return -1;
	ms += sec * 1000;
	return ms < DAY_MS ? ms : DAY_MS;
}

static void user_agent(struct parser *p, const char *v, size_t n)
{
	/* RFC 9309 section 2.2.1: user-agent lines in a row (blank lines between them too)
	 * start one group; one after a rule starts the next. */
	if (!p->ua_phase) {
		p->g_agent = p->g_star = false;
		p->ua_phase = p->in_group = true;
	}
	if (n >= 1 && v[0] == '*' && (n == 1 || is_ws(v[1]))) {
		p->g_star = p->star.named = true;
		return;
	}
	size_t t = token_len(v, n);
	if (t && t == p->token_n && strncasecmp(v, p->token, t) == 0)
		p->g_agent = p->ours.named = true;
}

static int rule(struct parser *p, bool allow, const char *v, size_t n)
{
	if (!p->in_group)
		return 0; /* a rule before any user-agent line belongs to no group */
	p->ua_phase = false;
	if (n == 0)
		return 0; /* an empty pattern matches nothing: "Disallow:" disallows nothing */
	int rc = 0;
	if (p->g_agent)
		rc = list_add(&p->ours, p->max_rules, allow, v, n);
	/* "*" rules matter only while no group names us */
	if (rc == 0 && p->g_star && !p->ours.named)
		rc = list_add(&p->star, p->max_rules, allow, v, n);
	return rc;
}

static void delay_line(struct parser *p, const char *v, size_t n)
{
	if (!p->in_group)
		return;
	/* Written inside a group; counted as one of its records, so a user-agent line after
	 * it starts a new group, as it does after a rule. */
	p->ua_phase = false;
	int64_t ms = crawl_delay(v, n);
	if (p->g_agent && ms > p->ours.delay_ms)
		p->ours.delay_ms = ms;
	if (p->g_star && ms > p->star.delay_ms)
		p->star.delay_ms = ms;
}

static void trim(const char **s, size_t *n)
{
	while (*n && is_ws(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_ws((*s)[*n - 1]))
		(*n)--;
}

/* One line, without its end. Field names are case-insensitive; lines that are not
 * "name: value" and names we do not know (sitemap, host, ...) are ignored (RFC 9309
 * section 2.2.4 lets crawlers interpret other records; we need none). */
static int line(struct parser *p, const char *s, size_t n)
{
	const char *hash = memchr(s, '#', n);
	if (hash)
		n = (size_t)(hash - s);
	const char *colon = memchr(s, ':', n);
	if (!colon)
		return 0;
	const char *k = s, *v = colon + 1;
	size_t kn = (size_t)(colon - s), vn = n - kn - 1;
	trim(&k, &kn);
	trim(&v, &vn);
	if (key_is(k, kn, "user-agent"))
		user_agent(p, v, vn);
	else if (key_is(k, kn, "allow") || key_is(k, kn, "disallow"))
		return rule(p, key_is(k, kn, "allow"), v, vn);
	else if (key_is(k, kn, "crawl-delay"))
		delay_line(p, v, vn);
	return 0;
}

/* Feed the lines of [s, end) to the parser: LF, CR or CRLF end a line (RFC 9309 section
 * 2.2's EOL), the last one may have no end. */
static int lines(struct parser *p, const char *s, const char *end)
{
	while (s < end) {
		const char *e = s;
		while (e < end && *e != '\n' && *e != '\r')
			e++;
		int rc = line(p, s, (size_t)(e - s));
		if (rc < 0)
			return rc;
		if (e < end && *e == '\r' && e + 1 < end && e[1] == '\n')
			e++;
		s = e + 1;
	}
	return 0;
}

/* Longest first; on a tie allow first (RFC 9309 section 2.2.2: "the allow rule SHOULD be
 * used"); then by pattern, so duplicates are neighbours. */
static int by_precedence(const void *pa, const void *pb)
{
	const struct rule *a = pa, *b = pb;
	if (a->spec != b->spec)
		return a->spec > b->spec ? -1 : 1;
	if (a->allow != b->allow)
		return a->allow ? -1 : 1;
	if (a->anchored != b->anchored)
		return a->anchored ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return memcmp(a->pat, b->pat, a->len);
}

static bool same_rule(const struct rule *a, const struct rule *b)
{
	return by_precedence(a, b) == 0;
}

/* The rules of the list that applies, in an exact-size block, sorted, duplicates removed. */
static int finish(const struct list *l, struct fm_robots_rules **out)
{
	size_t n = l ? l->n : 0, alen = l ? l->alen : 0;
	struct fm_robots_rules *r = malloc(sizeof(*r) + n * sizeof(r->rules[0]));
	char *arena = malloc(alen ? alen : 1);
	if (!r || !arena) {
		free(r);
		free(arena);
		return -ENOMEM;
	}
	if (alen)
		memcpy(arena, l->arena, alen);
	for (size_t i = 0; i < n; i++)
		r->rules[i] = (struct rule){.pat = arena + l->v[i].off, .len = l->v[i].len,
		                            .spec = l->v[i].spec, .allow = l->v[i].allow,
		                            .anchored = l->v[i].anchored};
	qsort(r->rules, n, sizeof(r->rules[0]), by_precedence);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (k == 0 || !same_rule(&r->rules[k - 1], &r->rules[i]))
			r->rules[k++] = r->rules[i];
	r->n = k;
	r->arena = arena;
	r->crawl_delay_ms = l ? l->delay_ms : 0;
	r->size = sizeof(*r) + n * sizeof(r->rules[0]) + alen;
	*out = r;
	return 0;
}

static void list_free(struct list *l)
{
	free(l->v);
	free(l->arena);
}

static int parse_limits(const struct fm_robots_limits *lim, size_t *max_parse, size_t *max_rules)
{
	*max_parse = lim && lim->max_parse ? lim->max_parse : FM_ROBOTS_MIN_PARSE;
	*max_rules = lim && lim->max_rules ? lim->max_rules : DEF_MAX_RULES;
	if (*max_parse < FM_ROBOTS_MIN_PARSE || *max_parse > MAX_PARSE_CAP ||
	    *max_rules > MAX_RULES_CAP)
		return -EINVAL;
	return 0;
}

/* Where parsing stops: at max_parse, cut back to the last line end before it, so a line cut
 * in two (an "Allow: /a" that was "Allow: /a/b") is not read as another rule. */
static const char *parse_end(const char *body, size_t len, size_t max_parse, bool *truncated)
{
	*truncated = len > max_parse;
	if (!*truncated)
		return body + len;
	const char *end = body + max_parse;
	while (end > body && end[-1] != '\n' && end[-1] != '\r')
		end--;
	return end;
}

int fm_robots_parse(const char *body, size_t len, const struct fm_robots_limits *lim,
                    struct fm_robots_rules **out, struct fm_robots_info *info)
{
	struct parser p = {0};
	bool truncated;
	size_t max_parse;
	int rc = parse_limits(lim, &max_parse, &p.max_rules);
	if (rc < 0 || (!body && len))
		return -EINVAL;
	if (!body)
		body = "";
	const char *agent = lim && lim->agent ? lim->agent : "";
	p.token = agent;
	p.token_n = token_len(agent, strlen(agent));
	const char *end = parse_end(body, len, max_parse, &truncated);
	if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0)
		body += 3; /* a UTF-8 byte order mark */
	rc = lines(&p, body, end);
	if (rc == 0) {
		const struct list *l = p.ours.named ? &p.ours : p.star.named ? &p.star : NULL;
		rc = finish(l, out);
		if (rc == 0 && info)
			*info = (struct fm_robots_info){
				.group = l == &p.ours ? FM_ROBOTS_GROUP_AGENT
				         : l       ? FM_ROBOTS_GROUP_STAR
				                   : FM_ROBOTS_GROUP_NONE,
				.rules = (*out)->n,
				.dropped = l ? l->dropped : 0,
				.truncated = truncated,
				.crawl_delay_ms = (*out)->crawl_delay_ms};
	}
	list_free(&p.ours);
	list_free(&p.star);
	return rc;
}

void fm_robots_rules_free(struct fm_robots_rules *r)
{
	if (!r)
		return;
	free(r->arena);
	free(r);
}

int64_t fm_robots_rules_crawl_delay_ms(const struct fm_robots_rules *r)
{
	return r ? r->crawl_delay_ms : 0;
}

size_t fm_robots_rules_size(const struct fm_robots_rules *r)
{
	return r ? r->size : 0;
}

/* ---- Matching ------------------------------------------------------------------------ */

/* Whether pattern p (its '*' match any run of bytes) matches a prefix of s, or all of s when
 * anchored. The pieces between '*'s are found leftmost, one after the other: for patterns
 * whose only operator is '*', the leftmost place of each piece never loses a match a later
 * place would have made, so no backtracking is needed and the cost is O(|p| * |s|) at worst. */
static bool glob_match(const char *p, size_t pn, bool anchored, const char *s, size_t sn)
{
	const char *star = memchr(p, '*', pn);
	size_t seg = star ? (size_t)(star - p) : pn;
	if (seg > sn || memcmp(p, s, seg) != 0)
		return false;
	if (!star)
		return !anchored || seg == sn;
	size_t pos = seg, i = seg + 1;
	for (;;) {
		star = memchr(p + i, '*', pn - i);
		seg = star ? (size_t)(star - (p + i)) : pn - i;
		if (!star) {
			/* the last piece: anchored, it must end s; else anywhere after pos */
			if (anchored)
				return sn - pos >= seg && memcmp(s + sn - seg, p + i, seg) == 0;
			return seg == 0 || memmem(s + pos, sn - pos, p + i, seg) != NULL;
		}
		if (seg) {
			const char *at = memmem(s + pos, sn - pos, p + i, seg);
			if (!at)
				return false;
			pos = (size_t)(at - s) + seg;
		}
		i += seg + 1;
	}
}

/* A target that needs no rewriting, the usual case, is compared as it is. */
static bool is_normal(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!raw_ok((unsigned char)s[i]))
			return false;
	return true;
}

static bool first_match_allows(const struct fm_robots_rules *r, const char *t, size_t n)
{
	if (n == 11 && memcmp(t, "/robots.txt", 11) == 0)
		return true; /* RFC 9309 section 2.2.2: implicitly allowed */
	for (size_t i = 0; i < r->n; i++) {
		const struct rule *ru = &r->rules[i];
		if (glob_match(ru->pat, ru->len, ru->anchored, t, n))
			return ru->allow;
	}
	return true; /* no rule matches: allowed */
}

bool fm_robots_rules_allow(const struct fm_robots_rules *r, const char *target, size_t len)
{
	char stack[1024];
	char *buf = stack;
	bool slash = len == 0 || target[0] != '/'; /* "" and "?q" are requests for "/" */
	if (!slash && is_normal(target, len))
		return first_match_allows(r, target, len);
	size_t need = 3 * len + 1;
	if (need > sizeof(stack) && !(buf = malloc(need)))
		return false; /* out of memory: not fetching is the safe answer */
	size_t n = 0;
	if (slash)
		buf[n++] = '/';
	n += normalise(target, len, buf + n, false);
	bool ok = first_match_allows(r, buf, n);
	if (buf != stack)
		free(buf);
	return ok;
}

/* ---- URLs ---------------------------------------------------------------------------- */

struct origin {
	char key[MAX_ORIGIN + 1]; /* "scheme://host:port", lower case, the port always */
	size_t key_len;
	size_t host_len;          /* key[scheme_len + 3 .. + host_len) is the host */
	size_t scheme_len;
	bool default_port;
	const char *target;       /* path and query, up to the fragment */
	size_t target_len;
};

static int parse_port(const char *s, size_t n, unsigned *port)
{
	unsigned v = 0;
	if (n > 5)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*port = v;
	return 0;
}

/* Host and port of an authority (after any userinfo) into o->key after the scheme. */
static int put_host_port(struct origin *o, const char *a, size_t n, unsigned port)
{
	const char *colon;
	if (n && a[0] == '[') { /* an IPv6 literal: its colons are not the port's */
		const char *close = memchr(a, ']', n);
		if (!close)
			return -EINVAL;
		colon = close + 1 < a + n ? close + 1 : NULL;
		if (colon && *colon != ':')
			return -EINVAL;
	} else {
		colon = memchr(a, ':', n);
	}
	size_t hn = colon ? (size_t)(colon - a) : n;
	if (colon && colon + 1 < a + n && parse_port(colon + 1, n - hn - 1, &port) < 0)
		return -EINVAL;
	if (hn == 0 || o->key_len + hn + 7 > MAX_ORIGIN)
		return -EINVAL;
	for (size_t i = 0; i < hn; i++) {
		unsigned char c = (unsigned char)a[i];
		if (c <= 0x20 || c == 0x7f)
			return -EINVAL;
		o->key[o->key_len++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	o->host_len = hn;
	o->default_port = port == (o->scheme_len == 5 ? 443u : 80u);
	o->key_len += (size_t)snprintf(o->key + o->key_len, sizeof(o->key) - o->key_len, ":%u",
	                               port);
	return 0;
}

/* Split an absolute http(s) URL into its origin and request target. Spaces and controls at
 * either end are ignored, as fm_url_is_http() does. */
static int split_url(const char *url, struct origin *o)
{
	if (!url)
		return -EINVAL;
	size_t n = strlen(url);
	while (n && (unsigned char)*url <= 0x20) {
		url++;
		n--;
	}
	while (n && (unsigned char)url[n - 1] <= 0x20)
		n--;
	bool https = n >= 8 && strncasecmp(url, "https://", 8) == 0;
	if (!https && !(n >= 7 && strncasecmp(url, "http://", 7) == 0))
		return -EINVAL;
	o->scheme_len = https ? 5 : 4;
	memcpy(o->key, https ? "https://" : "http://", o->scheme_len + 3);
	o->key_len = o->scheme_len + 3;
	const char *a = url + o->key_len, *end = url + n, *e = a;
	while (e < end && *e != '/' && *e != '?' && *e != '#')
		e++;
	for (const char *at = e; at > a; at--)
		if (at[-1] == '@') { /* userinfo: not part of the origin */
			a = at;
			break;
		}
	int rc = put_host_port(o, a, (size_t)(e - a), https ? 443 : 80);
	if (rc < 0)
		return rc;
	o->key[o->key_len] = '\0';
	const char *frag = memchr(e, '#', (size_t)(end - e));
	o->target = e;
	o->target_len = (size_t)((frag ? frag : end) - e);
	return 0;
}

int fm_robots_url(const char *url, char **out)
{
	struct origin o;
	int rc = split_url(url, &o);
	if (rc < 0)
		return rc;
	/* "scheme://host" and the port only when it is not the scheme's own */
	size_t keep = o.default_port ? o.scheme_len + 3 + o.host_len : o.key_len;
	if (asprintf(out, "%.*s/robots.txt", (int)keep, o.key) < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* ---- The cache ----------------------------------------------------------------------- */

enum state {
	ST_NONE,         /* nothing stored yet */
	ST_RULES,        /* a robots.txt was fetched: rules */
	ST_ALLOW_ALL,    /* "unavailable" (4xx, too many redirects) */
	ST_DISALLOW_ALL, /* "unreachable" (5xx, network), and no earlier answer to fall back on */
};

struct entry {
	struct entry *hnext;        /* hash chain */
	struct entry *prev, *next;  /* LRU list, most recent first */
	uint64_t hash;
	enum state state;
	struct fm_robots_rules *rules; /* ST_RULES: the rules; kept while unreachable */
	int64_t expires_ms;         /* state is in force before this */
	bool pending;               /* a lookup answered UNKNOWN and nothing was stored since */
	int64_t pending_until_ms;
	size_t size;                /* counted in the cache's bytes */
	size_t key_len;
	char key[];
};

struct fm_robots_cache {
	struct fm_robots_limits lim; /* defaults filled in; lim.agent points to agent */
	char *agent;
	struct entry **buckets;
	size_t mask;                 /* buckets - 1, a power of two minus one */
	struct entry *head, *tail;
	size_t n, bytes;
};

static uint64_t hash_key(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static int64_t add_ms(int64_t t, int64_t d)
{
	return t > INT64_MAX - d ? INT64_MAX : t + d;
}

/* The most one origin can take: a robots.txt at max_parse and max_rules (each byte of a
 * pattern is at most 3 in normal form, plus a '/' put before a pattern without one). */
static size_t entry_worst(const struct fm_robots_limits *l)
{
	return sizeof(struct entry) + MAX_ORIGIN + 1 + sizeof(struct fm_robots_rules) +
	       l->max_rules * (sizeof(struct rule) + 1) + 3 * l->max_parse;
}

static int fill_limits(const struct fm_robots_limits *in, struct fm_robots_limits *l)
{
	*l = in ? *in : (struct fm_robots_limits){0};
	int rc = parse_limits(l, &l->max_parse, &l->max_rules);
	if (rc < 0)
		return rc;
	if (!l->max_entries)
		l->max_entries = DEF_MAX_ENTRIES;
	if (!l->max_bytes)
		l->max_bytes = DEF_MAX_BYTES;
	if (!l->max_age_ms)
		l->max_age_ms = DAY_MS;
	if (!l->retry_ms)
		l->retry_ms = DEF_RETRY_MS;
	if (!l->fetch_timeout_ms)
		l->fetch_timeout_ms = DEF_FETCH_TIMEOUT_MS;
	/* RFC 9309 section 2.4: a cached robots.txt SHOULD NOT be used for more than 24 hours */
	if (l->max_age_ms < 0 || l->max_age_ms > DAY_MS || l->retry_ms < 0 ||
	    l->fetch_timeout_ms < 0 || l->max_entries > ((size_t)1 << 24) ||
	    l->max_bytes < entry_worst(l))
		return -EINVAL;
	return 0;
}

int fm_robots_cache_new(const struct fm_robots_limits *lim, struct fm_robots_cache **out)
{
	struct fm_robots_cache *c = calloc(1, sizeof(*c));
	int rc = -ENOMEM;
	if (!c)
		goto fail;
	rc = fill_limits(lim, &c->lim);
	if (rc < 0)
		goto fail;
	rc = -ENOMEM;
	const char *a = c->lim.agent ? c->lim.agent : "";
	c->agent = strndup(a, token_len(a, strlen(a)));
	if (!c->agent)
		goto fail;
	c->lim.agent = c->agent;
	size_t nb = 16;
	while (nb < c->lim.max_entries)
		nb *= 2;
	c->buckets = calloc(nb, sizeof(*c->buckets));
	if (!c->buckets)
		goto fail;
	c->mask = nb - 1;
	*out = c;
	return 0;
fail:
	fm_robots_cache_free(c);
	*out = NULL;
	return rc;
}

static void entry_free(struct entry *e)
{
	fm_robots_rules_free(e->rules);
	free(e);
}

void fm_robots_cache_free(struct fm_robots_cache *c)
{
	if (!c)
		return;
	for (struct entry *e = c->head, *next; e; e = next) {
		next = e->next;
		entry_free(e);
	}
	free(c->buckets);
	free(c->agent);
	free(c);
}

static struct entry *find(const struct fm_robots_cache *c, const struct origin *o, uint64_t h)
{
	for (struct entry *e = c->buckets[h & c->mask]; e; e = e->hnext)
		if (e->hash == h && e->key_len == o->key_len && memcmp(e->key, o->key, o->key_len) == 0)
			return e;
	return NULL;
}

static void lru_unlink(struct fm_robots_cache *c, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(struct fm_robots_cache *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

static void touch(struct fm_robots_cache *c, struct entry *e)
{
	if (c->head != e) {
		lru_unlink(c, e);
		lru_push(c, e);
	}
}

static void remove_entry(struct fm_robots_cache *c, struct entry *e)
{
	struct entry **pp = &c->buckets[e->hash & c->mask];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(c, e);
	c->n--;
	c->bytes -= e->size;
	entry_free(e);
}

/* Drop least recently used origins, never keep, until within both bounds. keep fits alone:
 * fill_limits() made max_bytes hold the largest entry there can be. */
static void evict(struct fm_robots_cache *c, const struct entry *keep)
{
	while (c->tail && c->tail != keep &&
	       (c->n > c->lim.max_entries || c->bytes > c->lim.max_bytes))
		remove_entry(c, c->tail);
}

static size_t entry_size(const struct entry *e)
{
	return sizeof(*e) + e->key_len + 1 + fm_robots_rules_size(e->rules);
}

static int insert(struct fm_robots_cache *c, const struct origin *o, uint64_t h,
                  struct entry **out)
{
	struct entry *e = calloc(1, sizeof(*e) + o->key_len + 1);
	if (!e)
		return -ENOMEM;
	e->hash = h;
	e->key_len = o->key_len;
	memcpy(e->key, o->key, o->key_len + 1);
	e->size = entry_size(e);
	e->hnext = c->buckets[h & c->mask];
	c->buckets[h & c->mask] = e;
	lru_push(c, e);
	c->n++;
	c->bytes += e->size;
	evict(c, e);
	*out = e;
	return 0;
}

static enum fm_robots_verdict verdict(const struct entry *e, const struct origin *o)
{
	switch (e->state) {
	case ST_RULES:
		return fm_robots_rules_allow(e->rules, o->target, o->target_len)
		               ? FM_ROBOTS_ALLOWED
		               : FM_ROBOTS_DISALLOWED;
	case ST_ALLOW_ALL:
		return FM_ROBOTS_ALLOWED;
	default:
		return FM_ROBOTS_DISALLOWED;
	}
}

int fm_robots_lookup(struct fm_robots_cache *c, const char *url, int64_t now_ms,
                     enum fm_robots_verdict *v)
{
	struct origin o;
	int rc = split_url(url, &o);
	if (rc < 0)
		return rc;
	if (o.target_len == 11 && memcmp(o.target, "/robots.txt", 11) == 0) {
		*v = FM_ROBOTS_ALLOWED; /* RFC 9309 section 2.2.2; and it needs no robots.txt */
		return 0;
	}
	uint64_t h = hash_key(o.key, o.key_len);
	struct entry *e = find(c, &o, h);
	if (e && e->state != ST_NONE && now_ms < e->expires_ms) {
		touch(c, e);
		*v = verdict(e, &o);
		return 0;
	}
	if (e && e->pending && now_ms < e->pending_until_ms) {
		touch(c, e);
		*v = FM_ROBOTS_PENDING;
		return 0;
	}
	if (!e && (rc = insert(c, &o, h, &e)) < 0)
		return rc;
	touch(c, e);
	e->pending = true;
	e->pending_until_ms = add_ms(now_ms, c->lim.fetch_timeout_ms);
	*v = FM_ROBOTS_UNKNOWN;
	return 0;
}

enum outcome { FETCHED, NOT_MODIFIED, UNAVAILABLE, UNREACHABLE };

/* RFC 9309 section 2.3.1, with 429 read as "unreachable" (robots.h says why). */
static enum outcome classify(long status)
{
	if (status >= 200 && status <= 299)
		return FETCHED;
	if (status == 304)
		return NOT_MODIFIED;
	if ((status >= 300 && status <= 399) || status == -ELOOP)
		return UNAVAILABLE;
	if (status >= 400 && status <= 499 && status != 429)
		return UNAVAILABLE;
	return UNREACHABLE;
}

/* Put what a fetch gave into e. rules (FETCHED only) becomes e's. */
static void apply(struct fm_robots_cache *c, struct entry *e, enum outcome k,
                  struct fm_robots_rules *rules, int64_t now_ms)
{
	e->pending = false;
	bool have = e->state == ST_RULES || e->state == ST_ALLOW_ALL;
	if (k == NOT_MODIFIED && have) {
		/* a conditional GET confirmed what we hold: a fresh copy as good as a 200 */
		e->expires_ms = add_ms(now_ms, c->lim.max_age_ms);
		return;
	}
	if (k == UNREACHABLE || k == NOT_MODIFIED) {
		/* RFC 9309 section 2.4 lets an earlier answer stand while the file is
		 * unreachable; with none, section 2.3.1.4: assume complete disallow. */
		if (!have)
			e->state = ST_DISALLOW_ALL;
		e->expires_ms = add_ms(now_ms, c->lim.retry_ms);
		return;
	}
	fm_robots_rules_free(e->rules);
	e->rules = rules;
	e->state = k == FETCHED ? ST_RULES : ST_ALLOW_ALL;
	e->expires_ms = add_ms(now_ms, c->lim.max_age_ms);
}

int fm_robots_store(struct fm_robots_cache *c, const char *url, long status, const char *body,
                    size_t len, int64_t now_ms, struct fm_robots_info *info)
{
	struct origin o;
	struct fm_robots_rules *rules = NULL;
	struct entry *e;
	enum outcome k = classify(status);
	int rc = split_url(url, &o);
	if (info)
		*info = (struct fm_robots_info){0};
	if (rc < 0)
		return rc;
	if (k == FETCHED && (rc = fm_robots_parse(body, len, &c->lim, &rules, info)) < 0)
		return rc;
	uint64_t h = hash_key(o.key, o.key_len);
	e = find(c, &o, h);
	if (!e && (rc = insert(c, &o, h, &e)) < 0)
		goto fail;
	c->bytes -= e->size;
	apply(c, e, k, rules, now_ms);
	e->size = entry_size(e);
	c->bytes += e->size;
	touch(c, e);
	evict(c, e);
	return 0;
fail:
	fm_robots_rules_free(rules);
	return rc;
}

int64_t fm_robots_crawl_delay_ms(const struct fm_robots_cache *c, const char *url)
{
	struct origin o;
	if (split_url(url, &o) < 0)
		return 0;
	const struct entry *e = find(c, &o, hash_key(o.key, o.key_len));
	return e ? fm_robots_rules_crawl_delay_ms(e->rules) : 0;
}

size_t fm_robots_cache_entries(const struct fm_robots_cache *c)
{
	return c->n;
}

size_t fm_robots_cache_bytes(const struct fm_robots_cache *c)
{
	return c->bytes;
}
