/*
 * The interval policy (interval.h).
 *
 * What a source does. The rate is estimated after J. Cho and H. Garcia-Molina, "Estimating
 * frequency of change" (ACM TOIT 3(3), 2003). Their estimators work from whether a page changed
 * between visits, and correct for several changes between two visits looking like one. A feed
 * tells more: the scheduler counts the items a poll brought that the last poll had not (item
 * keys), so every publication is an event seen and the plain estimator, events over the time
 * observed, applies, as long as the feed's window does not overflow between polls (a poll that
 * finds only new items undercounts, but still speeds polling up, which is the remedy). A news
 * source's rate changes (a quiet night, a breaking story), so both counts are weighted down
 * exponentially with age, in two windows: about an hour, which follows a burst within a poll
 * or two, and about a day, which keeps a steady source steady; the faster of the two wins.
 *
 * The interval then aims at one new item per poll, i.e. polls in proportion to the estimated
 * rate. The same authors showed that for keeping copies of pages fresh under a fixed total
 * budget, proportional refresh is not optimal; here the aim is another one: items are events,
 * not overwritten state, and each should arrive soon without polls that find nothing. A poll
 * that finds nothing was wasted, one that finds several has delayed all but the last, and a
 * feed's window of ten or more items is far from full. A prior of twelve items (two in the
 * hour window) at the configured interval makes a new source start at that interval and
 * leave it only as evidence accumulates: a source configured at 1m that publishes hourly is
 * polled every 20-odd minutes after six hours, hourly after two days; a silent one configured
 * at 15m reaches four hours within a day.
 *
 * What a source says is a floor: its content cannot change before the answer's max-age, the
 * feed's ttl, or its next sy: update, so an earlier poll only costs the publisher. The
 * operator's bounds come last and win over both: min_interval over a source that publishes
 * faster or says "no-cache", max_interval over a ttl or a max-age of days (a misconfigured
 * CDN must not keep news away for a day).
 */
#include "interval.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAST_WINDOW_S 3600.0       /* time constants of the weights */
#define SLOW_WINDOW_S 86400.0
#define FAST_PRIOR_ITEMS 2.0       /* items at the configured interval the prior is worth */
#define SLOW_PRIOR_ITEMS 12.0
#define SY_MARGIN_MS (60 * 1000)   /* poll this long after a scheduled sy: update */
#define NEVER_MS (1000LL * 86400 * 1000) /* past this, "nothing expected" */

void fm_rate_init(struct fm_rate *r, int64_t interval_ms)
{
	double iv = interval_ms > 0 ? (double)interval_ms / 1000.0 : 900.0;
	r->fast_items = FAST_PRIOR_ITEMS;
	r->fast_time = FAST_PRIOR_ITEMS * iv;
	r->slow_items = SLOW_PRIOR_ITEMS;
	r->slow_time = SLOW_PRIOR_ITEMS * iv;
	r->observed = 0;
}

void fm_rate_observe(struct fm_rate *r, int64_t new_items, int64_t elapsed_ms)
{
	if (elapsed_ms <= 0 || new_items < 0)
		return;
	double dt = (double)elapsed_ms / 1000.0, k = (double)new_items;
	double df = exp(-dt / FAST_WINDOW_S), ds = exp(-dt / SLOW_WINDOW_S);
	r->fast_items = r->fast_items * df + k;
	r->fast_time = r->fast_time * df + dt;
	r->slow_items = r->slow_items * ds + k;
	r->slow_time = r->slow_time * ds + dt;
	r->observed++;
}

static double window_interval_s(double items, double time)
{
	return items > 1e-12 && time > 0 ? time / items : INFINITY;
}

int64_t fm_rate_interval_ms(const struct fm_rate *r)
{
	double f = window_interval_s(r->fast_items, r->fast_time);
	double s = window_interval_s(r->slow_items, r->slow_time);
	double ms = (f < s ? f : s) * 1000.0;
	if (!(ms < (double)NEVER_MS)) /* also NaN, from a corrupt state */
		return INT64_MAX;
	return ms < 1.0 ? 1 : (int64_t)ms;
}

/* What the rate means, for people: "2.5 new items/h", "0.4 new items/day". */
static void describe_rate(const struct fm_rate *r, char *buf, size_t size)
{
	int64_t iv = fm_rate_interval_ms(r);
	if (iv == INT64_MAX) {
		snprintf(buf, size, "no new items lately");
		return;
	}
	double per_h = 3600000.0 / (double)iv;
	if (per_h >= 10)
		snprintf(buf, size, "%.0f new items/h", per_h);
	else if (per_h >= 1)
		snprintf(buf, size, "%.1f new items/h", per_h);
	else
		snprintf(buf, size, "%.1f new items/day", per_h * 24);
}

/* The time until the feed's next scheduled update (sy:updateBase + k * period), plus a
 * margin for the publisher to finish it. */
static int64_t until_sy_update(const struct fm_hints *h, int64_t now_ms)
{
	int64_t now = now_ms / 1000, next = h->base_s;
	if (now >= h->base_s)
		next = h->base_s + ((now - h->base_s) / h->period_s + 1) * h->period_s;
	return (next - now) * 1000 + SY_MARGIN_MS;
}

/* The latest time the source said it cannot change before (0: it said nothing), and what. */
static int64_t said_floor(const struct fm_hints *h, int64_t now_ms, char *why, size_t size)
{
	int64_t floor = 0;
	char d[32];
	if (h->max_age_s > 0) {
		floor = h->max_age_s * 1000;
		fm_format_duration(floor, d, sizeof(d));
		snprintf(why, size, "max-age %s", d);
	}
	if (h->ttl_s > 0 && h->ttl_s * 1000 > floor) {
		floor = h->ttl_s * 1000;
		fm_format_duration(floor, d, sizeof(d));
		snprintf(why, size, "ttl %s", d);
	}
	if (h->period_s > 0) {
		int64_t sy = h->has_base ? until_sy_update(h, now_ms) : h->period_s * 1000;
		if (sy > floor) {
			floor = sy;
			fm_format_duration(h->period_s * 1000, d, sizeof(d));
			snprintf(why, size, h->has_base ? "sy: updated every %s, next one soon after"
			                                : "sy: updated every %s", d);
		}
	}
	return floor;
}

void fm_bounds_resolve(struct fm_bounds *out, const struct fm_bounds *own,
                       const struct fm_bounds *def)
{
	bool set_iv = own->interval_ms > 0, set_lo = own->min_ms > 0, set_hi = own->max_ms > 0;
	int64_t iv = set_iv ? own->interval_ms : def->interval_ms;
	int64_t lo = set_lo ? own->min_ms : def->min_ms;
	int64_t hi = set_hi ? own->max_ms : def->max_ms;
	if (!set_lo) {
		if (set_hi && lo > hi)
			lo = hi;
		if (set_iv && lo > iv)
			lo = iv;
	}
	if (!set_hi) {
		if (hi < lo)
			hi = lo;
		if (set_iv && hi < iv)
			hi = iv;
	}
	if (!set_iv)
		iv = iv < lo ? lo : iv > hi ? hi : iv;
	*out = (struct fm_bounds){iv, lo, hi};
}

int fm_bounds_check(const struct fm_bounds *b, const char *iv_key, char *msg, size_t size)
{
	const struct {
		const char *lo_key, *hi_key;
		int64_t lo, hi;
	} pairs[] = {{"min_interval", "max_interval", b->min_ms, b->max_ms},
	             {"min_interval", iv_key, b->min_ms, b->interval_ms},
	             {iv_key, "max_interval", b->interval_ms, b->max_ms}};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		if (pairs[i].lo <= 0 || pairs[i].hi <= 0 || pairs[i].lo <= pairs[i].hi)
			continue;
		char lo[32], hi[32];
		fm_format_duration(pairs[i].lo, lo, sizeof(lo));
		fm_format_duration(pairs[i].hi, hi, sizeof(hi));
		snprintf(msg, size, "%s (%s) is above %s (%s)", pairs[i].lo_key, lo, pairs[i].hi_key,
		         hi);
		return -EINVAL;
	}
	return 0;
}

void fm_interval_next(const struct fm_bounds *b, const struct fm_rate *r,
                      const struct fm_hints *h, int64_t now_ms, struct fm_next_poll *out)
{
	char does[48], says[64] = "";
	const char *why = does;
	int64_t delay = b->interval_ms;

	if (r->observed > 0) {
		delay = fm_rate_interval_ms(r);
		describe_rate(r, does, sizeof(does));
	} else {
		snprintf(does, sizeof(does), "configured interval");
	}
	int64_t floor = said_floor(h, now_ms, says, sizeof(says));
	if (floor > delay) {
		delay = floor;
		why = says;
	}
	const char *bound = "";
	if (delay < b->min_ms) {
		delay = b->min_ms;
		bound = ", raised to min_interval";
	} else if (delay > b->max_ms) {
		delay = b->max_ms;
		bound = ", cut to max_interval";
	}
	out->delay_ms = delay;
	out->floor_ms = floor < b->min_ms ? b->min_ms : floor > b->max_ms ? b->max_ms : floor;
	snprintf(out->reason, sizeof(out->reason), "%s%s", why, bound);
}

int64_t fm_interval_jitter(const struct fm_next_poll *np, double jitter, double u)
{
	double d = (double)np->delay_ms * (1.0 - jitter + 2.0 * jitter * u);
	if (d < (double)np->floor_ms)
		d = (double)np->floor_ms * (1.0 + jitter * u);
	return (int64_t)d;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

size_t fm_keys_normalize(uint32_t *keys, size_t n)
{
	if (n < 2)
		return n;
	qsort(keys, n, sizeof(*keys), cmp_u32);
	size_t out = 1;
	for (size_t i = 1; i < n; i++)
		if (keys[i] != keys[out - 1])
			keys[out++] = keys[i];
	return out;
}

size_t fm_keys_count_new(const uint32_t *old, size_t nold, const uint32_t *cur, size_t ncur)
{
	size_t i = 0, fresh = 0;
	for (size_t j = 0; j < ncur; j++) {
		while (i < nold && old[i] < cur[j])
			i++;
		if (i == nold || old[i] != cur[j])
			fresh++;
	}
	return fresh;
}

void fm_format_duration(int64_t ms, char *buf, size_t size)
{
	static const struct {
		char unit;
		int64_t ms;
	} units[] = {{'d', 86400000}, {'h', 3600000}, {'m', 60000}, {'s', 1000}};
	if (ms < 1000) {
		snprintf(buf, size, "%lldms", (long long)(ms < 0 ? 0 : ms));
		return;
	}
	for (size_t i = 0; i < 4; i++) {
		int64_t n = ms / units[i].ms;
		if (n == 0)
			continue;
		int64_t rest = i < 3 ? (ms % units[i].ms) / units[i + 1].ms : 0;
		if (rest)
			snprintf(buf, size, "%lld%c%lld%c", (long long)n, units[i].unit, (long long)rest,
			         units[i + 1].unit);
		else
			snprintf(buf, size, "%lld%c", (long long)n, units[i].unit);
		return;
	}
}
