/*
 * Fuzz target: robots.txt parsing and matching, and the cache around them
 * (plugins/fetch_http/robots.c). The first byte picks the agent; the rest is the body. Every
 * value after a ':' in the body is also tried as a request target, with a few fixed ones.
 * Invariants checked (abort on failure):
 *   - the parse succeeds (the body is untrusted but always valid input) and keeps at most
 *     max_rules rules; with no group for us, everything is allowed;
 *   - /robots.txt is always allowed;
 *   - a target means the same with its unreserved characters percent-encoded, in either hex
 *     case (the normal form decodes them: RFC 9309 section 2.2.2);
 *   - the cache, given the body as a 200, answers as the rules do for the same target;
 *   - the matcher agrees with plain backtracking on '*' and '$' (differential()).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "robots.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RULES 64
#define MAX_TARGETS 24
#define MAX_TARGET 512

static bool unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* t with every unreserved character written as %XX (hex in the case asked for), except the
 * digits of an escape already there, which would stop being one. */
static size_t encode_unreserved(const char *t, size_t n, char *out, bool lower)
{
	const char *hex = lower ? "0123456789abcdef" : "0123456789ABCDEF";
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c == '%' && i + 2 < n && is_hex(t[i + 1]) && is_hex(t[i + 2])) {
			memcpy(out + o, t + i, 3);
			o += 3;
			i += 2;
		} else if (unreserved(c)) {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	return o;
}

/* Only targets a URL can carry whole: no '#', no space or control (a URL's ends are trimmed). */
static bool url_safe(const char *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t[i] <= 0x20 || t[i] == '#' || t[i] == 0x7f)
			return false;
	return n > 0 && t[0] == '/';
}

static void check_target(const struct fm_robots_rules *r, struct fm_robots_cache *c,
                         const char *t, size_t n, bool everything_allowed)
{
	static char enc[3 * MAX_TARGET], url[MAX_TARGET + 32];
	bool allow = fm_robots_rules_allow(r, t, n);
	if (everything_allowed && !allow)
		abort();
	if (fm_robots_rules_allow(r, enc, encode_unreserved(t, n, enc, true)) != allow ||
	    fm_robots_rules_allow(r, enc, encode_unreserved(t, n, enc, false)) != allow)
		abort();
	if (!c || !url_safe(t, n))
		return;
	snprintf(url, sizeof(url), "https://fuzz.example%.*s", (int)n, t);
	if (memchr(t, '\0', n))
		return; /* a C string URL stops at the NUL */
	enum fm_robots_verdict v;
	if (fm_robots_lookup(c, url, 1, &v) != 0)
		abort();
	if (v != (allow ? FM_ROBOTS_ALLOWED : FM_ROBOTS_DISALLOWED))
		abort();
}

/* The values after ':' on the body's lines, as targets. */
static size_t body_targets(const char *b, size_t len, const char **t, size_t *tn, size_t max)
{
	size_t k = 0;
	for (const char *p = b, *end = b + len; p < end && k < max;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *e = eol ? eol : end;
		const char *colon = memchr(p, ':', (size_t)(e - p));
		if (colon) {
			const char *v = colon + 1;
			while (v < e && *v == ' ')
				v++;
			size_t n = (size_t)(e - v);
			t[k] = v;
			tn[k++] = n < MAX_TARGET ? n : MAX_TARGET;
		}
		p = e + 1;
	}
	return k;
}

/* The meaning of '*' and a final '$' (RFC 9309 section 2.2.3), by plain backtracking. */
static bool naive_match(const char *p, const char *t, bool anchored)
{
	if (!*p)
		return !anchored || !*t;
	if (*p == '*')
		return naive_match(p + 1, t, anchored) || (*t && naive_match(p, t + 1, anchored));
	return *t == *p && naive_match(p + 1, t + 1, anchored);
}

/* The matcher against naive_match(), on a pattern and a target drawn from the input over a
 * small alphabet (short, so the backtracking stays cheap): one disallow rule, so the target
 * is allowed exactly when the pattern does not match it. */
static void differential(const uint8_t *d, size_t n)
{
	char pat[12] = "/", tgt[14] = "/", body[64];
	size_t pn = 1, tn = 1, i = 0;
	bool anchored = n > 0 && (d[0] & 0x80);
	for (; i < n && pn < 9; i++)
		pat[pn++] = "ab/*"[d[i] & 3];
	for (; i < n && tn < 11; i++)
		tgt[tn++] = "ab/"[d[i] % 3];
	pat[pn] = tgt[tn] = '\0';
	int len = snprintf(body, sizeof(body), "User-agent: *\nDisallow: %s%s\n", pat,
	                   anchored ? "$" : "");
	struct fm_robots_rules *r = NULL;
	if (fm_robots_parse(body, (size_t)len, NULL, &r, NULL) != 0)
		abort();
	if (fm_robots_rules_allow(r, tgt, tn) == naive_match(pat, tgt, anchored))
		abort();
	fm_robots_rules_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const agents[] = {NULL, "feedmill", "FeedMill/0.1 (+x)", "otherbot"};
	static const char *const fixed[] = {"/", "/a", "/private/x", "/x?y=1&z", "/%7Ea%2f",
	                                    "/caf\xC3\xA9", "/*$", "", "?q"};
	const char *t[MAX_TARGETS];
	size_t tn[MAX_TARGETS], nt = 0;
	struct fm_robots_rules *r = NULL;
	struct fm_robots_cache *c = NULL;
	struct fm_robots_info info;

	if (size < 1)
		return 0;
	differential(data + 1, size - 1);
	struct fm_robots_limits lim = {.agent = agents[data[0] % 4], .max_rules = MAX_RULES};
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	if (fm_robots_parse(body, len, &lim, &r, &info) != 0)
		abort(); /* only -ENOMEM could be, and the replay does not run out of memory */
	if (info.rules > MAX_RULES || !fm_robots_rules_allow(r, "/robots.txt", 11))
		abort();
	if (fm_robots_cache_new(&lim, &c) == 0 &&
	    fm_robots_store(c, "https://fuzz.example/", 200, body, len, 0, NULL) != 0)
		abort();
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++, nt++) {
		t[nt] = fixed[i];
		tn[nt] = strlen(fixed[i]);
	}
	nt += body_targets(body, len, t + nt, tn + nt, MAX_TARGETS - nt);
	for (size_t i = 0; i < nt; i++)
		check_target(r, c, t[i], tn[i], info.group == FM_ROBOTS_GROUP_NONE);
	fm_robots_cache_free(c);
	fm_robots_rules_free(r);
	return 0;
}
