/*
 * The scheduler's interval policy: when to poll a source again after a successful fetch, from
 * what the source says (the answer's HTTP freshness, the feed's ttl and sy: schedule) and what
 * it does (how many new items each poll found, over time), bounded by the source's
 * min_interval and max_interval. The configured interval is where a source starts.
 *
 * Everything here is a pure function of its arguments (the time and the random number are
 * passed in), so the unit tests replay any history without sleeping. scheduler.c owns the
 * state and calls these; state.c keeps it.
 */
#ifndef FM_CORE_INTERVAL_H
#define FM_CORE_INTERVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * How often a source publishes: new items counted over the time they were counted in, both
 * weighted down exponentially with age, in two windows (about an hour and about a day).
 * Times are in seconds.
 */
struct fm_rate {
	double fast_items, fast_time;
	double slow_items, slow_time;
	int64_t observed; /* polls counted in; 0: only the prior from the configured interval */
};

/* What the source said about when it can change; a value < 0 (has_base false): not said. */
struct fm_hints {
	int64_t max_age_s; /* freshness of the last answer (FM_REPORT_MAX_AGE); not kept */
	int64_t ttl_s;     /* the feed's <ttl> */
	int64_t period_s;  /* the feed's sy: schedule, seconds between updates */
	int64_t base_s;    /* sy:updateBase, Unix seconds, when has_base */
	bool has_base;
};

#define FM_HINTS_NONE ((struct fm_hints){-1, -1, -1, 0, false})

/* A source's bounds, from pipeline.conf: the interval it starts at and the range it stays in
 * (min_ms <= interval_ms <= max_ms, as config.c resolves them). */
struct fm_bounds {
	int64_t interval_ms, min_ms, max_ms;
};

/* A source's bounds: what it sets itself (own, a value <= 0: not set) over the defaults, which
 * give way so that min_ms <= interval_ms <= max_ms holds: an interval of 1m with the default
 * min_interval of 5m lowers that minimum to 1m, a max_interval of 1m lowers the minimum and the
 * starting interval to it. Values own sets are taken as they are (config.c reports a pair of
 * them out of order). */
void fm_bounds_resolve(struct fm_bounds *out, const struct fm_bounds *own,
                       const struct fm_bounds *def);
/* -EINVAL with msg ("min_interval (1h) is above max_interval (30m)"; iv_key names the
 * interval) when two of the values b sets (> 0) are out of order, else 0. */
int fm_bounds_check(const struct fm_bounds *b, const char *iv_key, char *msg, size_t size);

/* The interval chosen, and why, in words for the log and `reason` in the state. */
struct fm_next_poll {
	int64_t delay_ms; /* before jitter */
	int64_t floor_ms; /* the earliest the poll may come: jitter never moves it before this */
	char reason[112];
};

/* The prior: a dozen new items at the configured interval, so a source starts at its interval
 * and moves off it only as the evidence grows. */
void fm_rate_init(struct fm_rate *r, int64_t interval_ms);
/* A poll found new_items items that the last one had not, elapsed_ms after it. Nothing
 * happens when elapsed_ms <= 0 (a clock that went back). */
void fm_rate_observe(struct fm_rate *r, int64_t new_items, int64_t elapsed_ms);
/* The interval at which a poll finds about one new item, by the faster of the two estimates
 * (ms, at least 1; INT64_MAX when nothing is expected any more). */
int64_t fm_rate_interval_ms(const struct fm_rate *r);

/* The next poll after a successful fetch at now_ms. */
void fm_interval_next(const struct fm_bounds *b, const struct fm_rate *r,
                      const struct fm_hints *h, int64_t now_ms, struct fm_next_poll *out);

/* np's delay moved by up to +-jitter (a fraction) with u uniform in [0, 1), never before its
 * floor: there the jitter only adds. */
int64_t fm_interval_jitter(const struct fm_next_poll *np, double jitter, double u);

/* Item keys (FM_REPORT_ITEM_KEYS): sort and remove duplicates in place, returning the count;
 * and how many of cur are not in old (both normalized). */
size_t fm_keys_normalize(uint32_t *keys, size_t n);
size_t fm_keys_count_new(const uint32_t *old, size_t nold, const uint32_t *cur, size_t ncur);

/* "14m", "2h30m", "1d6h", "45s", "500ms": two units at most, for people. */
void fm_format_duration(int64_t ms, char *buf, size_t size);

#endif
