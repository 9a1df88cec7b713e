/*
 * robots.txt for the full-article page fetches of the fetch stage (RFC 9309, the Robots
 * Exclusion Protocol). Feeds themselves are not subject to it: sources publish feeds to be
 * polled. This module does no I/O: the fetcher GETs fm_robots_url() with its own client and
 * hands the outcome to fm_robots_store(); lookups then answer from memory.
 *
 * Two layers:
 *   - fm_robots_parse() / fm_robots_rules_allow(): one robots.txt body, reduced at parse time
 *     to the rules of the group that applies to our product token (else "*"), sorted so a
 *     lookup stops at the first (longest) matching rule;
 *   - struct fm_robots_cache: those results per origin (scheme, host, port), with the fetch
 *     outcome semantics of RFC 9309 section 2.3.1 and its 24-hour cache rule (2.4), bounded in
 *     origins (LRU) and in bytes.
 *
 * Ownership and threads: one cache per fetch plugin instance. Nothing here is thread-safe and
 * nothing takes a lock: a plugin instance is called from one thread (GUIDE.md). Strings passed
 * in are only read during the call; what a function returns to the caller is said per function.
 *
 * Time: every `now_ms` is the caller's clock in milliseconds (host->monotonic_ms() in the
 * plugin); only differences are used, so any clock that does not go backwards will do.
 *
 * How the fetcher uses it, per article URL (the plugin is not wired yet, see below):
 *
 *   fm_robots_lookup(cache, url, now, &v)
 *     ALLOWED     fetch the page, no sooner than max(full_article_delay,
 *                 fm_robots_crawl_delay_ms()) after the previous request to that host;
 *     DISALLOWED  keep the summary (count "robots_disallowed"; log once per host at info);
 *     UNKNOWN     GET fm_robots_url(url) (redirects followed, at most 5, all http(s)),
 *                 then fm_robots_store(cache, url, status or -errno, body, len, now, &info)
 *                 and look up again. This lookup marked the origin as being fetched.
 *                 Bound the body above max_parse (1M for the default 500K): a client
 *                 that gives up on a larger body with no bytes (-EFBIG) makes the origin
 *                 "unreachable", all disallowed, where its first max_parse bytes (status
 *                 200) would have been parsed. Log info.truncated and info.dropped
 *                 (notice, once per origin and fetch): rules were ignored;
 *     PENDING     another lookup asked for the same robots.txt, not yet stored (an
 *                 event-driven fetcher parks the page until then); after fetch_timeout_ms
 *                 without a store the next lookup answers UNKNOWN again.
 *
 * Options to add to fetch_http's table when the fetcher is wired (not in plugin.c yet):
 *   robots = yes               (bool, per source) obey robots.txt for full_article pages
 *   robots_cache = 1000        (int, stage) origins whose robots.txt is remembered
 *   robots_cache_size = 32M    (size, stage) memory those may take (max_bytes)
 *   robots_max_age = 1d        (duration, stage, at most 1d per RFC 9309 section 2.4)
 *   robots_retry = 1h          (duration, stage) how long an unreachable robots.txt stands
 * The product token is the leading token of the stage's user_agent ("feedmill/0.1" gives
 * "feedmill"); a source that overrides user_agent with another token needs a cache of its own.
 */
#ifndef FM_FETCH_HTTP_ROBOTS_H
#define FM_FETCH_HTTP_ROBOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 9309 section 2.5: the parsing limit MUST be at least 500 KiB. */
#define FM_ROBOTS_MIN_PARSE ((size_t)500 * 1024)

/* A zero field takes the default in brackets. */
struct fm_robots_limits {
	const char *agent;         /* our product token, or a User-Agent whose leading token
	                            * ([A-Za-z_-]+) is used; NULL or "": only "*" groups apply */
	size_t max_parse;          /* bytes of a body parsed [500 KiB]; the rest is ignored,
	                            * cut at the last line end. From FM_ROBOTS_MIN_PARSE to
	                            * 64 MiB, else -EINVAL */
	size_t max_rules;          /* allow/disallow rules kept for us per robots.txt [1000];
	                            * more are dropped and counted (fm_robots_info.dropped) */
	size_t max_entries;        /* origins cached [1000]; the least recently used goes */
	size_t max_bytes;          /* memory of the cached entries [32 MiB]; must hold one
	                            * robots.txt at the limits above, else -EINVAL */
	int64_t max_age_ms;        /* a fetched robots.txt is used this long [24 h]; longer is
	                            * -EINVAL (RFC 9309 section 2.4: SHOULD NOT be used longer) */
	int64_t retry_ms;          /* an unreachable one stands this long before a retry [1 h] */
	int64_t fetch_timeout_ms;  /* a lookup's UNKNOWN waits this long for its store [2 min] */
};

/* ---- One robots.txt ------------------------------------------------------------------- */

struct fm_robots_rules;

/* Which groups of the file apply to us (RFC 9309 section 2.2.1). */
enum fm_robots_group {
	FM_ROBOTS_GROUP_NONE,  /* no group names us or "*": everything is allowed */
	FM_ROBOTS_GROUP_STAR,  /* the "*" group(s) */
	FM_ROBOTS_GROUP_AGENT, /* the group(s) naming our product token */
};

/* What a parse kept, for the fetcher's log line (all zero/false when nothing was parsed). */
struct fm_robots_info {
	enum fm_robots_group group;
	size_t rules;           /* rules kept (after merging groups and removing duplicates) */
	size_t dropped;         /* rules over max_rules, ignored */
	bool truncated;         /* the body was longer than max_parse */
	int64_t crawl_delay_ms; /* Crawl-delay of our group, 0 when none */
};

/* Parse len bytes of a robots.txt body (any bytes; NUL is an ordinary byte) for lim->agent
 * under lim->max_parse and lim->max_rules (other fields unused). On success *out is the
 * caller's, to free with fm_robots_rules_free(); info may be NULL. Returns 0, -EINVAL (bad
 * limits) or -ENOMEM. An empty or unparsable body gives rules that allow everything. */
int fm_robots_parse(const char *body, size_t len, const struct fm_robots_limits *lim,
                    struct fm_robots_rules **out, struct fm_robots_info *info);
void fm_robots_rules_free(struct fm_robots_rules *r);

/* Whether rules allow a request target: path and query of a URL ("/a/b?c=d"; "" counts as
 * "/"), as sent (percent-encoded or not: both sides are normalised before comparing). The
 * longest matching rule wins, allow on a tie; no match allows; "/robots.txt" is always
 * allowed (RFC 9309 section 2.2.2). A target over 340 bytes that needs rewriting takes a
 * malloc; if that fails the answer is false (not fetching is the safe mistake). */
bool fm_robots_rules_allow(const struct fm_robots_rules *r, const char *target, size_t len);

/* Crawl-delay of the group that applies, in ms (0: none). Non-standard but widely used; the
 * largest value of the merged groups, at most one day. */
int64_t fm_robots_rules_crawl_delay_ms(const struct fm_robots_rules *r);

/* Memory held by r, for the cache's byte bound. */
size_t fm_robots_rules_size(const struct fm_robots_rules *r);

/* ---- The per-origin cache ------------------------------------------------------------- */

struct fm_robots_cache;

enum fm_robots_verdict {
	FM_ROBOTS_ALLOWED,
	FM_ROBOTS_DISALLOWED,
	FM_ROBOTS_UNKNOWN, /* fetch fm_robots_url(url), store the outcome, look up again */
	FM_ROBOTS_PENDING, /* a fetch of that robots.txt was asked for and is not stored yet */
};

/* Create a cache with the limits (copied, agent included; lim may be NULL for defaults).
 * Returns 0 with *out the caller's (fm_robots_cache_free()), -EINVAL or -ENOMEM. */
int fm_robots_cache_new(const struct fm_robots_limits *lim, struct fm_robots_cache **out);
void fm_robots_cache_free(struct fm_robots_cache *c);

/* The verdict for fetching url, an absolute http(s) URL. A lookup that answers UNKNOWN
 * records that the caller is now fetching the origin's robots.txt (later lookups answer
 * PENDING until fm_robots_store() or fetch_timeout_ms), and may evict the least recently
 * used origin. Returns 0, -EINVAL (not an http(s) URL with a host) or -ENOMEM. */
int fm_robots_lookup(struct fm_robots_cache *c, const char *url, int64_t now_ms,
                     enum fm_robots_verdict *v);

/* The robots.txt URL of url's origin, "scheme://host[:port]/robots.txt" (lower-case scheme
 * and host, no userinfo, the port only when not the scheme's default). Returns 0 with *out
 * malloc'd (the caller frees it), -EINVAL or -ENOMEM. */
int fm_robots_url(const char *url, char **out);

/* Store the outcome of fetching the robots.txt of url's origin (url: any URL of the origin:
 * the page's, or fm_robots_url()'s; after redirects, still the first one, since RFC 9309
 * section 2.3.1.2 applies the rules to the initial authority). status is the final HTTP status
 * or a negative errno from the client:
 *   2xx            parse body: its rules, for max_age_ms;
 *   304            (a conditional GET the fetcher made) the copy held stays, for max_age_ms;
 *                  with none held, as unreachable below;
 *   other 3xx,    unavailable: more than the redirects the caller follows (5 per RFC 9309
 *   -ELOOP         2.3.1.2), or one without a target: everything allowed, for max_age_ms;
 *   4xx but 429    unavailable (2.3.1.3): everything allowed, for max_age_ms;
 *   429, 5xx,      unreachable (2.3.1.4): everything disallowed for retry_ms; when the origin
 *   0, any other   holds an earlier fetched robots.txt (even expired), that one is used for
 *   negative       retry_ms instead, as 2.4 allows while the file is unreachable. 429 is
 *                  treated as unreachable although it is a 4xx: it asks us to slow down,
 *                  and "everything allowed" would do the opposite.
 * body may be NULL when len is 0 and is only read for a 2xx. Clears the origin's PENDING
 * mark; may evict least recently used origins to stay within max_entries and max_bytes.
 * info (may be NULL) describes what was kept (zero unless the body was parsed).
 * Returns 0, -EINVAL (url) or -ENOMEM (the origin is left as it was). */
int fm_robots_store(struct fm_robots_cache *c, const char *url, long status, const char *body,
                    size_t len, int64_t now_ms, struct fm_robots_info *info);

/* Crawl-delay in ms that the origin's robots.txt asks of us, from the last robots.txt stored
 * for it (even expired): 0 when none, unknown, or url is not http(s). */
int64_t fm_robots_crawl_delay_ms(const struct fm_robots_cache *c, const char *url);

/* Origins held and the bytes they take (for a gauge and for tests). */
size_t fm_robots_cache_entries(const struct fm_robots_cache *c);
size_t fm_robots_cache_bytes(const struct fm_robots_cache *c);

#endif
