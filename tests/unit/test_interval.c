/*
 * The interval policy (core/interval.c) on its own: the publish-rate estimate follows a steady
 * source, a quiet one and a burst; what a source says (max-age, ttl, sy:) is a floor; the
 * operator's min_interval and max_interval bound everything; the jitter never moves a poll
 * before its floor. The scheduler's use of it is in test_scheduler.c. Time is passed in.
 */
#include <stdint.h>
#include <string.h>

#include "interval.h"
#include "unit.h"

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define T0 1700000000000LL

static const struct fm_bounds fifteen = {15 * MIN, 5 * MIN, 4 * HOUR};

/* Poll every `every` ms for `for_ms`, finding `per_poll` new items each time; returns the
 * interval the estimate asks for at the end. */
static int64_t settle(struct fm_rate *r, int64_t every, int64_t for_ms, int per_poll)
{
	for (int64_t t = 0; t < for_ms; t += every)
		fm_rate_observe(r, per_poll, every);
	return fm_rate_interval_ms(r);
}

static void test_rate(void)
{
	struct fm_rate r;
	/* nothing observed: the configured interval */
	fm_rate_init(&r, 15 * MIN);
	CHECK(r.observed == 0);
	CHECK(fm_rate_interval_ms(&r) >= 15 * MIN - 1 && fm_rate_interval_ms(&r) <= 15 * MIN + 1);
	/* a source that brings one item per poll at that interval stays there */
	int64_t iv = settle(&r, 15 * MIN, 3 * 24 * HOUR, 1);
	CHECK(iv >= 14 * MIN && iv <= 16 * MIN);

	/* a source that publishes hourly is not polled every minute, nor every 15: after a few
	 * days of one item an hour, about an hour */
	fm_rate_init(&r, 1 * MIN);
	iv = settle(&r, HOUR, 4 * 24 * HOUR, 1);
	CHECK(iv >= 55 * MIN && iv <= 65 * MIN);

	/* breaking news: twelve items in the next 15 minutes, and the next poll comes within
	 * minutes, not in an hour */
	fm_rate_observe(&r, 12, 15 * MIN);
	iv = fm_rate_interval_ms(&r);
	CHECK(iv <= 8 * MIN);
	/* it goes on for an hour: faster still */
	iv = settle(&r, 5 * MIN, HOUR, 3);
	CHECK(iv <= 3 * MIN);
	/* and when it is over, polling slows down again within hours (the day's window remembers
	 * the burst, so not quite back to hourly yet) */
	iv = settle(&r, 10 * MIN, 4 * HOUR, 0);
	CHECK(iv >= 20 * MIN);

	/* a source that stopped publishing drifts to "nothing expected" over days */
	fm_rate_init(&r, 15 * MIN);
	iv = settle(&r, 15 * MIN, HOUR, 0);
	CHECK(iv > 15 * MIN && iv < 30 * MIN); /* not at once: the prior holds for a while */
	iv = settle(&r, 15 * MIN, 5 * HOUR, 0);
	CHECK(iv > 30 * MIN && iv < 2 * HOUR);
	iv = settle(&r, HOUR, 4 * 24 * HOUR, 0);
	CHECK(iv > 24 * HOUR);

	/* a clock that went back is not an observation */
	fm_rate_init(&r, 15 * MIN);
	fm_rate_observe(&r, 50, 0);
	fm_rate_observe(&r, 50, -HOUR);
	CHECK(r.observed == 0 && fm_rate_interval_ms(&r) >= 15 * MIN - 1);
}

static struct fm_next_poll next(const struct fm_bounds *b, const struct fm_rate *r,
                                struct fm_hints h, int64_t now)
{
	struct fm_next_poll np;
	fm_interval_next(b, r, &h, now, &np);
	return np;
}

/* Each signal alone, and which wins when several speak. */
static void test_signals(void)
{
	struct fm_rate r;
	struct fm_hints h = FM_HINTS_NONE;
	fm_rate_init(&r, 15 * MIN);

	struct fm_next_poll np = next(&fifteen, &r, h, T0);
	CHECK(np.delay_ms == 15 * MIN);
	CHECK_STR(np.reason, "configured interval");

	/* HTTP freshness shorter than the interval changes nothing; longer, it is the wait */
	h.max_age_s = 600;
	CHECK(next(&fifteen, &r, h, T0).delay_ms == 15 * MIN);
	h.max_age_s = 3600;
	np = next(&fifteen, &r, h, T0);
	CHECK(np.delay_ms == HOUR && np.floor_ms == HOUR);
	CHECK_STR(np.reason, "max-age 1h");
	/* "no-cache" (0) is no floor */
	h.max_age_s = 0;
	CHECK(next(&fifteen, &r, h, T0).delay_ms == 15 * MIN);

	/* the feed's ttl, and the longer of ttl and max-age */
	h = FM_HINTS_NONE;
	h.ttl_s = 45 * 60;
	np = next(&fifteen, &r, h, T0);
	CHECK(np.delay_ms == 45 * MIN);
	CHECK_STR(np.reason, "ttl 45m");
	h.max_age_s = 50 * 60;
	CHECK_STR(next(&fifteen, &r, h, T0).reason, "max-age 50m");

	/* sy: without a base, the period is the wait */
	h = FM_HINTS_NONE;
	h.period_s = 2 * 3600;
	np = next(&fifteen, &r, h, T0);
	CHECK(np.delay_ms == 2 * HOUR);
	CHECK_STR(np.reason, "sy: updated every 2h");
	/* with a base, the next poll comes a minute after the next scheduled update: updated
	 * hourly on the hour, it is now 12:05, so 13:01 */
	h.period_s = 3600;
	h.has_base = true;
	h.base_s = 1704067200; /* 2024-01-01T00:00:00Z */
	int64_t noon = (h.base_s + 12 * 3600) * SEC;
	np = next(&fifteen, &r, h, noon + 5 * MIN);
	CHECK(np.delay_ms == 56 * MIN);
	CHECK_STR(np.reason, "sy: updated every 1h, next one soon after");
	/* at 12:50 the update is sooner than the interval: the interval wins */
	CHECK(next(&fifteen, &r, h, noon + 50 * MIN).delay_ms == 15 * MIN);
	/* a base in the future counts from itself */
	CHECK(next(&fifteen, &r, h, h.base_s * SEC - 2 * HOUR).delay_ms == 2 * HOUR + MIN);

	/* what the source does: an observed rate of four items an hour means 15 minutes; the
	 * reason says so */
	struct fm_rate quick;
	fm_rate_init(&quick, HOUR);
	settle(&quick, 15 * MIN, 4 * 24 * HOUR, 1);
	np = next(&(struct fm_bounds){HOUR, 5 * MIN, 4 * HOUR}, &quick, FM_HINTS_NONE, T0);
	CHECK(np.delay_ms >= 14 * MIN && np.delay_ms <= 16 * MIN);
	CHECK(strstr(np.reason, "new items/h") != NULL);
	/* ... but a ttl of 30 minutes is a floor under it */
	h = FM_HINTS_NONE;
	h.ttl_s = 1800;
	np = next(&(struct fm_bounds){HOUR, 5 * MIN, 4 * HOUR}, &quick, h, T0);
	CHECK(np.delay_ms == 30 * MIN);
	CHECK_STR(np.reason, "ttl 30m");
}

/* min_interval and max_interval bound every signal, and say so. */
static void test_clamping(void)
{
	struct fm_rate r;
	struct fm_hints h = FM_HINTS_NONE;

	/* a source publishing every minute is polled at min_interval */
	fm_rate_init(&r, 15 * MIN);
	settle(&r, 5 * MIN, 2 * HOUR, 5);
	CHECK(fm_rate_interval_ms(&r) < 5 * MIN);
	struct fm_next_poll np = next(&fifteen, &r, h, T0);
	CHECK(np.delay_ms == 5 * MIN);
	CHECK(strstr(np.reason, "new items/h, raised to min_interval") != NULL);

	/* a silent one at max_interval */
	fm_rate_init(&r, 15 * MIN);
	settle(&r, HOUR, 5 * 24 * HOUR, 0);
	np = next(&fifteen, &r, h, T0);
	CHECK(np.delay_ms == 4 * HOUR);
	CHECK(strstr(np.reason, ", cut to max_interval") != NULL);

	/* a ttl of a day (or a CDN's max-age) does not keep news away past max_interval */
	fm_rate_init(&r, 15 * MIN);
	h.ttl_s = 86400;
	np = next(&fifteen, &r, h, T0);
	CHECK(np.delay_ms == 4 * HOUR && np.floor_ms == 4 * HOUR);
	CHECK_STR(np.reason, "ttl 1d, cut to max_interval");
	/* the operator can lift that bound */
	np = next(&(struct fm_bounds){15 * MIN, 5 * MIN, 2 * 86400 * SEC}, &r, h, T0);
	CHECK(np.delay_ms == 24 * HOUR);

	/* min_interval = max_interval = interval: a fixed interval, whatever is said or done */
	struct fm_bounds fixed = {10 * MIN, 10 * MIN, 10 * MIN};
	CHECK(next(&fixed, &r, h, T0).delay_ms == 10 * MIN);
	settle(&r, 5 * MIN, 2 * HOUR, 5);
	CHECK(next(&fixed, &r, FM_HINTS_NONE, T0).delay_ms == 10 * MIN);
}

/* Jitter spreads polls both ways, except below a floor: never before what the source allows
 * or min_interval. */
static void test_jitter(void)
{
	struct fm_rate r;
	fm_rate_init(&r, 15 * MIN);
	struct fm_next_poll free_np = next(&fifteen, &r, FM_HINTS_NONE, T0);
	CHECK(free_np.floor_ms == 5 * MIN); /* min_interval is the floor when nothing is said */
	int64_t lo = INT64_MAX, hi = 0;
	for (int i = 0; i < 100; i++) {
		int64_t d = fm_interval_jitter(&free_np, 0.1, i / 100.0);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	CHECK(lo >= 13 * MIN + 30 * SEC && lo < 14 * MIN);
	CHECK(hi > 16 * MIN && hi <= 16 * MIN + 30 * SEC);

	struct fm_hints h = FM_HINTS_NONE;
	h.ttl_s = 3600;
	struct fm_next_poll at_floor = next(&fifteen, &r, h, T0);
	lo = INT64_MAX;
	hi = 0;
	for (int i = 0; i < 100; i++) {
		int64_t d = fm_interval_jitter(&at_floor, 0.1, i / 100.0);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	CHECK(lo == HOUR); /* never before the ttl */
	CHECK(hi > HOUR + 5 * MIN && hi <= HOUR + 6 * MIN);
	CHECK(fm_interval_jitter(&at_floor, 0, 0.5) == HOUR);
}

static void test_keys(void)
{
	uint32_t old[] = {7, 3, 3, 900, 12};
	uint32_t cur[] = {12, 3, 44, 45, 44, 7};
	size_t nold = fm_keys_normalize(old, 5), ncur = fm_keys_normalize(cur, 6);
	CHECK(nold == 4 && old[0] == 3 && old[1] == 7 && old[2] == 12 && old[3] == 900);
	CHECK(ncur == 5);
	CHECK(fm_keys_count_new(old, nold, cur, ncur) == 2);       /* 44 and 45 */
	CHECK(fm_keys_count_new(old, nold, old, nold) == 0);       /* the same feed again */
	CHECK(fm_keys_count_new(NULL, 0, cur, ncur) == ncur);      /* everything is new */
	CHECK(fm_keys_count_new(old, nold, NULL, 0) == 0);         /* an emptied feed */
	CHECK(fm_keys_normalize(NULL, 0) == 0);
}

static void test_durations(void)
{
	static const struct {
		int64_t ms;
		const char *text;
	} cases[] = {
		{0, "0ms"},         {500, "500ms"},         {45 * SEC, "45s"},
		{14 * MIN, "14m"},  {14 * MIN + 30 * SEC, "14m30s"}, {HOUR, "1h"},
		{150 * MIN, "2h30m"}, {30 * HOUR, "1d6h"},  {2 * 24 * HOUR + 59 * SEC, "2d"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[32];
		fm_format_duration(cases[i].ms, buf, sizeof(buf));
		CHECK_STR(buf, cases[i].text);
	}
}

int main(void)
{
	test_rate();
	test_signals();
	test_clamping();
	test_jitter();
	test_keys();
	test_durations();
	return fmt_done("test_interval");
}
