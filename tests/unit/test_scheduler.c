/*
 * The scheduler and its state: validators and the next poll survive a restart (but only once
 * every document of the fetch has settled: a crash before makes the next start poll the source
 * at once, without validators), a changed URL forgets them, a failing source backs off
 * exponentially up to max_backoff and honours Retry-After, and a successful source comes back
 * after its interval, give or take the jitter, or after what the source says and does (the
 * adaptive interval: each signal, and min_interval/max_interval over them). A feed found on a
 * source's page is polled directly, until it fails or is old. Time is passed in, so nothing
 * here sleeps. The interval policy alone is in test_interval.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "scheduler.h"
#include "state.h"
#include "unit.h"
#include "util.h"

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY_MS (24 * HOUR)
#define T0 1700000000000LL /* some wall-clock instant, ms */

static char tmpdir[] = "/tmp/fm-test-sched-XXXXXX";

/* A configuration with the given text, written to a file in the temporary folder. */
static struct fm_config *config(const char *name, const char *text)
{
	char *path = fm_path_join(tmpdir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
	struct fm_diag diag = {0};
	struct fm_config *c = fm_config_load(path, &diag);
	if (!c || diag.n) {
		fm_diag_print(&diag, stderr);
		abort();
	}
	fm_diag_free(&diag);
	free(path);
	return c;
}

static struct fm_state *state_open(const char *sub)
{
	char err[256];
	char *dir = fm_path_join(tmpdir, sub);
	struct fm_state *st = fm_state_open(dir, err, sizeof(err));
	if (!st) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	free(dir);
	return st;
}

static const char *str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* The request of the next due source, taken at the moment it falls due. */
static json_t *take_next(struct fm_scheduler *s, int64_t *when, int *src)
{
	*when = fm_sched_next_due(s);
	if (*when == INT64_MAX)
		return NULL;
	return fm_sched_take_due(s, *when, src);
}

/* A fetch answered, and all its documents settled at once. */
static void finish(struct fm_scheduler *s, int src, const json_t *rep, bool failed, int64_t t)
{
	fm_sched_done(s, src, rep, failed, t);
	fm_sched_fetch_complete(s, src, true, t);
}

static const char one_source[] = "jitter = 0.1\n"
                                 "max_backoff = 6h\n"
                                 "[source harbour]\n"
                                 "url = https://harbour.example.org/feed\n"
                                 "interval = 10m\n";

static void test_validators_persist(void)
{
	struct fm_config *cfg = config("v.conf", one_source);
	struct fm_state *st = state_open("v-state");
	int src = -1;
	int64_t when;

	/* first poll: nothing known yet, due within the start-up spread */
	struct fm_scheduler *s = fm_sched_new(cfg, st, false, T0);
	CHECK(fm_sched_count(s) == 1);
	CHECK(fm_sched_next_due(s) >= T0 && fm_sched_next_due(s) <= T0 + 5 * SEC);
	CHECK(fm_sched_take_due(s, T0 - 1, &src) == NULL); /* not yet */
	json_t *req = take_next(s, &when, &src);
	CHECK(req != NULL && src == 0);
	CHECK_STR(str(req, "type"), "fetch");
	CHECK_STR(str(req, "source"), "harbour");
	CHECK_STR(str(req, "url"), "https://harbour.example.org/feed");
	CHECK(json_object_get(req, "etag") == NULL);
	json_decref(req);
	/* in flight: never handed out twice, whatever the time */
	CHECK(fm_sched_take_due(s, T0 + 365LL * 86400 * SEC, &src) == NULL);
	CHECK(fm_sched_next_due(s) == INT64_MAX);

	json_t *rep = json_pack("{s:s,s:s,s:i}", "etag", "\"v1\"", "last_modified",
	                        "Tue, 14 Nov 2023 22:13:20 GMT", "items", 3);
	fm_sched_done(s, src, rep, false, when + 2 * SEC);
	json_decref(rep);
	CHECK(fm_sched_totals(s).items == 3 && fm_sched_totals(s).polled == 1);

	/* documents still in the pipeline: the source is not polled again, and nothing is saved
	 * (neither the validators nor the next poll) */
	CHECK(fm_sched_take_due(s, T0 + 365LL * 86400 * SEC, &src) == NULL);
	struct fm_source_state ss;
	CHECK(fm_state_get(st, "harbour", &ss) == -ENOENT);
	fm_sched_free(s);

	/* a crash then: the next start polls the source at once, without validators */
	s = fm_sched_new(cfg, st, false, T0 + 3 * SEC);
	CHECK(fm_sched_next_due(s) <= T0 + 8 * SEC);
	req = take_next(s, &when, &src);
	CHECK(req && json_object_get(req, "etag") == NULL);
	json_decref(req);
	rep = json_pack("{s:s,s:i}", "etag", "\"v1\"", "items", 3);
	fm_sched_done(s, src, rep, false, when + SEC);
	json_decref(rep);
	/* a document was given up: the fetch completes (its next poll is saved), but not its
	 * validators, so that the next poll serves the item again */
	fm_sched_fetch_complete(s, src, false, when + 2 * SEC);
	CHECK(fm_state_get(st, "harbour", &ss) == 0);
	CHECK(ss.etag == NULL && ss.items == 3 && ss.failures == 0);
	CHECK(ss.next_due_ms >= when + SEC + 9 * MIN && ss.next_due_ms <= when + SEC + 11 * MIN);
	fm_source_state_clear(&ss);
	req = take_next(s, &when, &src);
	CHECK(req && json_object_get(req, "etag") == NULL);
	json_decref(req);
	fm_sched_done(s, src, NULL, false, when + SEC); /* a 304-like answer: no validators */

	/* every document has settled: now they are kept, and survive a restart */
	fm_sched_fetch_complete(s, src, true, when + 3 * SEC);
	CHECK(fm_state_get(st, "harbour", &ss) == 0);
	CHECK(ss.etag == NULL); /* the last fetch's (empty) answer was the pending one */
	fm_source_state_clear(&ss);
	fm_sched_free(s);

	/* again, completing the fetch that carried validators */
	s = fm_sched_new(cfg, st, false, T0);
	req = take_next(s, &when, &src);
	json_decref(req);
	rep = json_pack("{s:s,s:s}", "etag", "\"v2\"", "last_modified",
	                "Wed, 15 Nov 2023 08:00:00 GMT");
	fm_sched_done(s, src, rep, false, when + SEC);
	json_decref(rep);
	fm_sched_fetch_complete(s, src, true, when + 2 * SEC);
	int64_t due = fm_sched_next_due(s);
	fm_sched_free(s);
	fm_state_close(st);

	/* a new process: validators and the due time come back from the state */
	st = state_open("v-state");
	CHECK(fm_state_get(st, "harbour", &ss) == 0);
	CHECK_STR(ss.etag, "\"v2\"");
	CHECK_STR(ss.last_modified, "Wed, 15 Nov 2023 08:00:00 GMT");
	CHECK(ss.next_due_ms == due);
	fm_source_state_clear(&ss);
	s = fm_sched_new(cfg, st, false, due - MIN);
	CHECK(fm_sched_next_due(s) == due); /* not polled early because of the restart */
	req = take_next(s, &when, &src);
	CHECK(req != NULL);
	CHECK_STR(str(req, "etag"), "\"v2\"");
	CHECK_STR(str(req, "last_modified"), "Wed, 15 Nov 2023 08:00:00 GMT");
	json_decref(req);
	fm_sched_free(s);

	/* the source now points elsewhere: the old validators do not apply */
	struct fm_config *moved = config("v2.conf", "[source harbour]\n"
	                                            "url = https://harbour.example.org/new-feed\n");
	s = fm_sched_new(moved, st, false, T0);
	req = take_next(s, &when, &src);
	CHECK(req != NULL);
	CHECK_STR(str(req, "url"), "https://harbour.example.org/new-feed");
	CHECK(json_object_get(req, "etag") == NULL);
	CHECK(json_object_get(req, "last_modified") == NULL);
	CHECK(when <= T0 + 5 * SEC); /* and it is polled now, not at the old due time */
	json_decref(req);
	finish(s, src, NULL, false, when);
	fm_sched_free(s);
	CHECK(fm_state_get(st, "harbour", &ss) == 0);
	CHECK_STR(ss.url, "https://harbour.example.org/new-feed");
	CHECK(ss.etag == NULL);
	fm_source_state_clear(&ss);

	fm_state_close(st);
	fm_config_free(moved);
	fm_config_free(cfg);
}

static void test_interval_and_jitter(void)
{
	struct fm_config *cfg = config("j.conf", one_source);
	struct fm_scheduler *s = fm_sched_new(cfg, NULL, false, T0);
	int src;
	int64_t when;
	int64_t lo = INT64_MAX, hi = 0;
	for (int i = 0; i < 200; i++) {
		json_t *req = take_next(s, &when, &src);
		CHECK(req != NULL);
		json_decref(req);
		int64_t done_at = when + 1500;
		finish(s, src, NULL, false, done_at);
		int64_t wait = fm_sched_next_due(s) - done_at;
		if (wait < lo)
			lo = wait;
		if (wait > hi)
			hi = wait;
	}
	/* 10 minutes, +-10% */
	CHECK(lo >= 9 * MIN);
	CHECK(hi <= 11 * MIN);
	CHECK(hi > lo); /* it is spread, not fixed */
	CHECK(fm_sched_totals(s).polled == 200);
	fm_sched_free(s);
	fm_config_free(cfg);
}

static void test_backoff(void)
{
	struct fm_config *cfg = config("b.conf", one_source);
	struct fm_state *st = state_open("b-state");
	struct fm_scheduler *s = fm_sched_new(cfg, st, false, T0);
	int src;
	int64_t when;
	json_t *fail = json_pack("{s:s}", "error", "HTTP 503");

	/* 10m interval: waits of 20m, 40m, 80m, 160m, then the 6h ceiling, each +-10% */
	const int64_t expect[] = {20 * MIN, 40 * MIN, 80 * MIN, 160 * MIN, 320 * MIN, 360 * MIN,
	                          360 * MIN};
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		json_decref(take_next(s, &when, &src));
		finish(s, src, fail, false, when);
		int64_t wait = fm_sched_next_due(s) - when;
		if (wait < expect[i] * 9 / 10 || wait > expect[i] * 11 / 10) {
			fprintf(stderr, "failure %zu: waits %llds, expected %llds +-10%%\n", i + 1,
			        (long long)(wait / SEC), (long long)(expect[i] / SEC));
			fmt_failures++;
		}
	}
	struct fm_source_state ss;
	CHECK(fm_state_get(st, "harbour", &ss) == 0);
	CHECK(ss.failures == 7);
	CHECK_STR(ss.last_error, "HTTP 503");
	fm_source_state_clear(&ss);
	CHECK(fm_sched_totals(s).failed == 7);

	/* Retry-After above the backoff wins */
	json_t *limited = json_pack("{s:s,s:i}", "error", "HTTP 429", "retry_after", 9 * 3600);
	json_decref(take_next(s, &when, &src));
	finish(s, src, limited, false, when);
	CHECK(fm_sched_next_due(s) - when == 9 * 3600 * SEC);
	json_decref(limited);

	/* an absurd Retry-After (from a third-party fetch plugin) is bounded, not overflowed */
	limited = json_pack("{s:s,s:I}", "error", "HTTP 429", "retry_after",
	                    (json_int_t)100000000000000000LL);
	json_decref(take_next(s, &when, &src));
	finish(s, src, limited, false, when);
	CHECK(fm_sched_next_due(s) > when + 9 * 3600 * SEC);
	CHECK(fm_sched_next_due(s) <= when + 30LL * 86400 * SEC);
	json_decref(limited);

	/* recovery: back to the plain interval, the failure count and error forgotten */
	json_decref(take_next(s, &when, &src));
	finish(s, src, NULL, false, when);
	int64_t wait = fm_sched_next_due(s) - when;
	CHECK(wait >= 9 * MIN && wait <= 11 * MIN);
	CHECK(fm_state_get(st, "harbour", &ss) == 0);
	CHECK(ss.failures == 0 && ss.last_error == NULL && ss.last_success_ms == when);
	fm_source_state_clear(&ss);

	/* a short Retry-After does not shorten the backoff */
	json_t *soon = json_pack("{s:s,s:i}", "error", "HTTP 429", "retry_after", 5);
	json_decref(take_next(s, &when, &src));
	finish(s, src, soon, false, when);
	wait = fm_sched_next_due(s) - when;
	CHECK(wait >= 18 * MIN && wait <= 22 * MIN);
	json_decref(soon);

	/* a request the fetch stage could not process at all counts as a failure too */
	json_decref(take_next(s, &when, &src));
	finish(s, src, NULL, true, when);
	wait = fm_sched_next_due(s) - when;
	CHECK(wait >= 36 * MIN && wait <= 44 * MIN);
	CHECK(fm_state_get(st, "harbour", &ss) == 0);
	CHECK(ss.failures == 2 && ss.last_error != NULL);
	fm_source_state_clear(&ss);
	fm_sched_free(s);

	/* the backoff survives a restart: not polled before its time */
	int64_t due = when + wait;
	s = fm_sched_new(cfg, st, false, when + MIN);
	CHECK(fm_sched_next_due(s) == due);
	fm_sched_free(s);

	json_decref(fail);
	fm_state_close(st);
	fm_config_free(cfg);
}

static void test_once(void)
{
	struct fm_config *cfg = config("o.conf", "[source a]\n"
	                                         "url = https://a.example.org/\n"
	                                         "[source b]\n"
	                                         "url = https://b.example.org/\n"
	                                         "[source off]\n"
	                                         "url = https://off.example.org/\n"
	                                         "enabled = no\n");
	struct fm_scheduler *s = fm_sched_new(cfg, NULL, true, T0);
	int src1 = -1, src2 = -1, src3 = -1;
	json_t *r1 = fm_sched_take_due(s, T0, &src1);
	json_t *r2 = fm_sched_take_due(s, T0, &src2);
	json_t *r3 = fm_sched_take_due(s, T0, &src3);
	CHECK(r1 && r2 && !r3); /* both enabled sources at once; the disabled one never */
	CHECK(src1 != src2);
	CHECK(!fm_sched_finished(s));
	finish(s, src1, NULL, false, T0 + SEC);
	CHECK(!fm_sched_finished(s));
	fm_sched_done(s, src2, NULL, true, T0 + SEC);
	CHECK(!fm_sched_finished(s)); /* answered, but its documents have not settled */
	fm_sched_fetch_complete(s, src2, true, T0 + 2 * SEC);
	CHECK(fm_sched_finished(s));
	/* once means once, even for a failed source */
	CHECK(fm_sched_take_due(s, T0 + 365LL * 86400 * SEC, &src3) == NULL);
	CHECK(fm_sched_source_index(s, "off") == 2);
	CHECK_STR(fm_sched_source_name(s, 1), "b");
	json_decref(r1);
	json_decref(r2);
	fm_sched_free(s);
	fm_config_free(cfg);
}

/* A state that cannot be used is refused with the reason, not a crash. */
static void test_state_errors(void)
{
	char err[512] = "";
	/* the state "directory" is a file */
	char *file = fm_path_join(tmpdir, "plain-file");
	FILE *f = fopen(file, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("not a folder\n", f);
		fclose(f);
	}
	CHECK(fm_state_open(file, err, sizeof(err)) == NULL);
	char *want = NULL;
	if (asprintf(&want, "cannot create state directory %s: Not a directory", file) < 0)
		abort();
	CHECK_STR(err, want);
	free(want);
	free(file);

	/* the database is not a database */
	char *dir = fm_path_join(tmpdir, "junk-state");
	CHECK(fm_mkdirs(dir, 0700) == 0);
	char *db = fm_path_join(dir, "feedmill.db");
	f = fopen(db, "w");
	CHECK(f != NULL);
	if (f) {
		for (int i = 0; i < 200; i++)
			fputs("this file was overwritten by something else entirely\n", f);
		fclose(f);
	}
	err[0] = '\0';
	CHECK(fm_state_open(dir, err, sizeof(err)) == NULL);
	if (asprintf(&want, "%s is not a usable feedmill state database: ", db) < 0)
		abort();
	CHECK(strncmp(err, want, strlen(want)) == 0);
	free(want);
	free(db);
	free(dir);
}

/* A due time far beyond interval + max_backoff (the clock was wrong when it was saved) is not
 * waited for. */
static void test_clock_jump(void)
{
	struct fm_config *cfg = config("c.conf", one_source);
	struct fm_state *st = state_open("c-state");
	struct fm_source_state ss = {0};
	ss.url = strdup("https://harbour.example.org/feed");
	ss.etag = strdup("\"kept\"");
	ss.next_due_ms = T0 + 30LL * 86400 * SEC;
	CHECK(fm_state_put(st, "harbour", &ss) == 0);
	fm_source_state_clear(&ss);
	struct fm_scheduler *s = fm_sched_new(cfg, st, false, T0);
	CHECK(fm_sched_next_due(s) <= T0 + 5 * SEC);
	int src;
	int64_t when;
	json_t *req = take_next(s, &when, &src);
	CHECK(req != NULL);
	CHECK_STR(str(req, "etag"), "\"kept\""); /* same URL: validators still apply */
	json_decref(req);
	fm_sched_free(s);
	fm_state_close(st);
	fm_config_free(cfg);
}

/* A fetch stage's report of a feed whose items have the keys first..last, and more fields
 * ("{s:i,...}" pairs in fmt, or NULL). */
static json_t *feed_report(int first, int last, const char *fmt, ...)
{
	json_t *keys = json_array();
	for (int k = first; k <= last; k++)
		json_array_append_new(keys, json_integer(k));
	json_t *r = json_pack("{s:o,s:i}", "item_keys", keys, "items", last - first + 1);
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		json_t *more = json_vpack_ex(NULL, 0, fmt, ap);
		va_end(ap);
		json_object_update(r, more);
		json_decref(more);
	}
	return r;
}

/* Poll the source once more when it falls due, answer with report (taken), settle at once;
 * returns the wait until the next poll. */
static int64_t poll(struct fm_scheduler *s, json_t *report, int64_t *when)
{
	int src;
	json_t *req = take_next(s, when, &src);
	if (!req) {
		fprintf(stderr, "poll: nothing due\n");
		fmt_failures++;
		json_decref(report);
		return -1;
	}
	json_decref(req);
	finish(s, src, report, false, *when);
	json_decref(report);
	return fm_sched_next_due(s) - *when;
}

static char *saved_reason(struct fm_state *st, const char *name)
{
	struct fm_source_state ss;
	if (fm_state_get(st, name, &ss) != 0)
		return NULL;
	char *r = ss.reason ? strdup(ss.reason) : NULL;
	fm_source_state_clear(&ss);
	return r;
}

static bool reason_is(struct fm_state *st, const char *name, const char *want)
{
	char *r = saved_reason(st, name);
	bool ok = r && strcmp(r, want) == 0;
	if (!ok)
		fprintf(stderr, "reason of %s: \"%s\", expected \"%s\"\n", name, r ? r : "(none)",
		        want);
	free(r);
	return ok;
}

static bool reason_has(struct fm_state *st, const char *name, const char *part)
{
	char *r = saved_reason(st, name);
	bool ok = r && strstr(r, part);
	if (!ok)
		fprintf(stderr, "reason of %s: \"%s\", expected to contain \"%s\"\n", name,
		        r ? r : "(none)", part);
	free(r);
	return ok;
}

static const char adaptive[] = "jitter = 0.1\n"
                               "[source tides]\n"
                               "url = https://tides.example.org/feed\n"
                               "interval = 15m\n";

/* What the server and the feed say: each is a floor under the next poll, kept as the reason;
 * the feed's own hints survive 304s (which do not repeat them) and a restart, and go when a
 * fetch of the feed no longer has them. */
static void test_said(void)
{
	struct fm_config *cfg = config("said.conf", adaptive);
	struct fm_state *st = state_open("said-state");
	struct fm_scheduler *s = fm_sched_new(cfg, st, false, T0);
	int64_t when, wait;

	wait = poll(s, feed_report(1, 5, NULL), &when);
	CHECK(wait >= 13 * MIN + 30 * SEC && wait <= 16 * MIN + 30 * SEC);
	CHECK(reason_is(st, "tides", "configured interval"));

	/* Cache-Control: max-age=3600 (from the fetch stage): not before an hour, ever */
	wait = poll(s, feed_report(1, 5, "{s:i}", "max_age", 3600), &when);
	CHECK(wait >= HOUR && wait <= HOUR + 6 * MIN);
	CHECK(reason_is(st, "tides", "max-age 1h"));
	/* a 304 carries its own freshness, or none */
	wait = poll(s, json_pack("{s:b,s:i}", "not_modified", 1, "max_age", 1800), &when);
	CHECK(wait >= 30 * MIN && wait <= 33 * MIN);
	/* without one the source's own pace rules again (a little slower: nothing new came) */
	wait = poll(s, json_pack("{s:b}", "not_modified", 1), &when);
	CHECK(wait <= 30 * MIN);
	CHECK(reason_has(st, "tides", "new items/"));

	/* the feed's ttl, kept across 304s and a restart */
	wait = poll(s, feed_report(1, 5, "{s:i}", "feed_ttl", 45 * 60), &when);
	CHECK(wait >= 45 * MIN && wait <= 50 * MIN);
	CHECK(reason_is(st, "tides", "ttl 45m"));
	fm_sched_free(s);
	s = fm_sched_new(cfg, st, false, when + MIN);
	wait = poll(s, json_pack("{s:b}", "not_modified", 1), &when);
	CHECK(wait >= 45 * MIN && wait <= 50 * MIN);
	CHECK(reason_is(st, "tides", "ttl 45m"));
	/* the feed dropped its ttl */
	wait = poll(s, feed_report(1, 5, NULL), &when);
	CHECK(wait < 45 * MIN);
	CHECK(reason_has(st, "tides", "new items/"));

	/* sy: updated hourly from 00:00; polled at two past the hour, the next poll comes a
	 * minute after the next full hour */
	int64_t base = 1672531200; /* 2023-01-01T00:00:00Z */
	int src;
	when = ((fm_sched_next_due(s) / 1000 - base) / 3600 + 1) * 3600 * SEC + base * SEC +
	       2 * MIN;
	json_decref(fm_sched_take_due(s, when, &src));
	json_t *rep = feed_report(1, 5, "{s:i,s:I}", "update_period", 3600, "update_base",
	                          (json_int_t)base);
	finish(s, src, rep, false, when);
	json_decref(rep);
	int64_t due = fm_sched_next_due(s);
	CHECK(due >= when + 59 * MIN && due <= when + 59 * MIN + 6 * MIN);
	CHECK(reason_is(st, "tides", "sy: updated every 1h, next one soon after"));

	/* a ttl of two days is cut to max_interval (4h by default), and says so */
	wait = poll(s, feed_report(1, 5, "{s:i}", "feed_ttl", 2 * 86400), &when);
	CHECK(wait >= 4 * HOUR && wait <= 4 * HOUR + 25 * MIN);
	CHECK(reason_is(st, "tides", "ttl 2d, cut to max_interval"));
	struct fm_source_state ss;
	CHECK(fm_state_get(st, "tides", &ss) == 0);
	CHECK(ss.interval_ms == 4 * HOUR);
	fm_source_state_clear(&ss);

	fm_sched_free(s);
	fm_state_close(st);
	fm_config_free(cfg);
}

/* What the source does: the new items each poll finds set the pace, within the bounds. */
static void test_done(void)
{
	struct fm_config *cfg = config("done.conf", "jitter = 0\n"
	                                            "[source wire]\n"
	                                            "url = https://wire.example.org/feed\n"
	                                            "interval = 15m\n"
	                                            "[source gazette]\n"
	                                            "url = https://gazette.example.org/feed\n"
	                                            "interval = 1m\n"
	                                            "min_interval = 1m\n");
	struct fm_state *st = state_open("done-state");
	struct fm_scheduler *s = fm_sched_new(cfg, st, false, T0);
	int src;
	int64_t when;

	/* the gazette publishes about once an hour: a minute apart at first, then slower, and
	 * about hourly after two days */
	int w = fm_sched_source_index(s, "wire"), g = fm_sched_source_index(s, "gazette");
	int64_t t = T0, last_item = T0, gazette_wait = 0;
	int newest = 1, wire_polls = 0;
	for (int64_t due; t < T0 + 3 * 24 * HOUR; t = due) {
		due = fm_sched_next_due(s);
		json_t *req = fm_sched_take_due(s, due, &src);
		CHECK(req != NULL);
		json_decref(req);
		json_t *rep;
		if (src == g) {
			if (due - last_item >= HOUR) { /* an item an hour, the feed keeping 10 */
				newest++;
				last_item = due;
			}
			rep = feed_report(newest > 10 ? newest - 9 : 1, newest, NULL);
		} else if (wire_polls++ == 0) {
			rep = feed_report(1, 3, NULL);
		} else {
			rep = json_pack("{s:b}", "not_modified", 1); /* the wire never changes again */
		}
		finish(s, src, rep, false, due);
		json_decref(rep);
		if (src == g)
			gazette_wait = fm_sched_next_due(s) - due;
		(void)w;
	}
	CHECK(gazette_wait >= 45 * MIN && gazette_wait <= 75 * MIN);
	CHECK(reason_has(st, "gazette", " new items/"));
	/* the wire, silent for three days, waits max_interval, and is not polled every 15 m */
	CHECK(reason_has(st, "wire", ", cut to max_interval"));
	CHECK(wire_polls < 3 * 24 * 4 / 3);
	fm_sched_free(s);

	/* what was learned survives a restart */
	s = fm_sched_new(cfg, st, false, t);
	g = fm_sched_source_index(s, "gazette");
	while ((when = fm_sched_next_due(s)) != INT64_MAX) {
		json_t *req = fm_sched_take_due(s, when, &src);
		json_decref(req);
		if (src == g)
			break;
		json_t *rep = json_pack("{s:b}", "not_modified", 1);
		finish(s, src, rep, false, when);
		json_decref(rep);
	}
	/* breaking news: ten new items (the whole window) within the hour: polled much sooner */
	json_t *rep = feed_report(newest + 1, newest + 10, NULL);
	finish(s, g, rep, false, when);
	json_decref(rep);
	int64_t wait = fm_sched_next_due(s) - when;
	CHECK(wait <= 12 * MIN);
	fm_sched_free(s);
	fm_state_close(st);
	fm_config_free(cfg);
}

/* A page has no items to count, and whether it changed does not say how often: a page source
 * keeps its configured interval, changed or not, unless its server says otherwise. */
static void test_page_keeps_its_interval(void)
{
	struct fm_config *cfg = config("pc.conf", "jitter = 0\n"
	                                          "[source notices]\n"
	                                          "url = https://notices.example.org/board.html\n"
	                                          "type = html\n"
	                                          "interval = 15m\n");
	struct fm_state *st = state_open("pc-state");
	struct fm_scheduler *s = fm_sched_new(cfg, st, false, T0);
	int64_t when, wait = 0;
	for (int i = 0; i < 96; i++) /* a day of a page that changes at every poll */
		CHECK(poll(s, json_pack("{s:i,s:s}", "items", 1, "etag", "\"p\""), &when) ==
		      15 * MIN);
	for (int i = 0; i < 96; i++) /* a day unchanged */
		wait = poll(s, json_pack("{s:b}", "not_modified", 1), &when);
	CHECK(wait == 15 * MIN);
	CHECK(reason_is(st, "notices", "configured interval"));
	wait = poll(s, json_pack("{s:b,s:i}", "not_modified", 1, "max_age", 3600), &when);
	CHECK(wait == HOUR);
	fm_sched_free(s);
	fm_state_close(st);
	fm_config_free(cfg);
}

/* An observation counts only once its fetch has committed: a fetch whose documents did not
 * all settle is fetched again, and its new items are counted then, not twice. */
static void test_done_needs_commit(void)
{
	struct fm_config *cfg = config("dc.conf", "jitter = 0\n"
	                                          "[source depot]\n"
	                                          "url = https://depot.example.org/feed\n"
	                                          "interval = 1h\n"
	                                          "min_interval = 1m\n");
	struct fm_state *st = state_open("dc-state");
	struct fm_scheduler *s = fm_sched_new(cfg, st, false, T0);
	int src;
	int64_t when;
	CHECK(poll(s, feed_report(1, 3, NULL), &when) == HOUR); /* the baseline */
	json_t *req = take_next(s, &when, &src);
	json_decref(req);
	json_t *rep = feed_report(1, 40, NULL); /* 37 new items an hour later... */
	fm_sched_done(s, src, rep, false, when);
	json_decref(rep);
	fm_sched_fetch_complete(s, src, false, when); /* ... but one was given up */
	struct fm_source_state ss;
	CHECK(fm_state_get(st, "depot", &ss) == 0);
	CHECK(ss.rate.observed == 0 && ss.n_item_keys == 3);
	fm_source_state_clear(&ss);
	/* fetched again: counted once, now */
	poll(s, feed_report(1, 40, NULL), &when);
	CHECK(fm_state_get(st, "depot", &ss) == 0);
	CHECK(ss.rate.observed == 1 && ss.n_item_keys == 40);
	fm_source_state_clear(&ss);
	fm_sched_free(s);
	fm_state_close(st);
	fm_config_free(cfg);
}

static const char discovering[] = "jitter = 0\n"
                                  "[source club]\n"
                                  "url = https://club.example.org/\n"
                                  "interval = 10m\n"
                                  "rediscover_after = 2d\n";
#define CLUB_FEED "https://club.example.org/news.atom"

/* A page source whose feed was found: the next polls ask for the feed itself, with its
 * validators, the page's URL riding along as source_url; a restart keeps that. */
static void test_discovered_feed(void)
{
	struct fm_config *cfg = config("d.conf", discovering);
	struct fm_state *st = state_open("d-state");
	struct fm_scheduler *s = fm_sched_new(cfg, st, false, T0);
	int src;
	int64_t when;

	json_t *req = take_next(s, &when, &src);
	CHECK_STR(str(req, "url"), "https://club.example.org/");
	CHECK_STR(str(req, "source_type"), "auto");
	CHECK(json_object_get(req, "source_url") == NULL);
	json_decref(req);
	json_t *rep = feed_report(1, 4, "{s:s,s:s}", "feed_url", CLUB_FEED, "etag", "\"f1\"");
	fm_sched_done(s, src, rep, false, when);
	json_decref(rep);
	/* not before its documents have settled */
	fm_sched_fetch_complete(s, src, false, when);
	req = take_next(s, &when, &src);
	CHECK_STR(str(req, "url"), "https://club.example.org/");
	json_decref(req);
	rep = feed_report(1, 4, "{s:s,s:s}", "feed_url", CLUB_FEED, "etag", "\"f1\"");
	finish(s, src, rep, false, when);
	json_decref(rep);
	int64_t found = when;

	/* now the feed, conditionally */
	req = take_next(s, &when, &src);
	CHECK_STR(str(req, "url"), CLUB_FEED);
	CHECK_STR(str(req, "source_type"), "feed");
	CHECK_STR(str(req, "source_url"), "https://club.example.org/");
	CHECK_STR(str(req, "source"), "club");
	CHECK_STR(str(req, "etag"), "\"f1\"");
	json_decref(req);
	rep = json_pack("{s:b,s:s}", "not_modified", 1, "etag", "\"f1\"");
	finish(s, src, rep, false, when);
	json_decref(rep);
	fm_sched_free(s);
	s = fm_sched_new(cfg, st, false, when + 20 * MIN);
	req = take_next(s, &when, &src);
	CHECK_STR(str(req, "url"), CLUB_FEED);
	CHECK_STR(str(req, "etag"), "\"f1\"");
	json_decref(req);
	/* the feed changed: new validators, still for the feed */
	rep = feed_report(1, 5, "{s:s}", "etag", "\"f2\"");
	finish(s, src, rep, false, when);
	json_decref(rep);
	req = take_next(s, &when, &src);
	CHECK_STR(str(req, "url"), CLUB_FEED);
	CHECK_STR(str(req, "etag"), "\"f2\"");
	json_decref(req);
	finish(s, src, NULL, false, when);

	/* after rediscover_after (2d), the page again, without the feed's validators; it links
	 * the same feed, which is then polled directly for two more days */
	while ((when = fm_sched_next_due(s)) < found + 2 * 24 * HOUR) {
		req = fm_sched_take_due(s, when, &src);
		CHECK_STR(str(req, "url"), CLUB_FEED);
		json_decref(req);
		rep = json_pack("{s:b}", "not_modified", 1);
		finish(s, src, rep, false, when);
		json_decref(rep);
	}
	req = fm_sched_take_due(s, when, &src);
	CHECK_STR(str(req, "url"), "https://club.example.org/");
	CHECK(json_object_get(req, "etag") == NULL && json_object_get(req, "source_url") == NULL);
	json_decref(req);
	rep = feed_report(1, 5, "{s:s,s:s}", "feed_url", CLUB_FEED, "etag", "\"f2\"");
	finish(s, src, rep, false, when);
	json_decref(rep);
	req = take_next(s, &when, &src);
	CHECK_STR(str(req, "url"), CLUB_FEED);
	json_decref(req);
	finish(s, src, NULL, false, when);

	/* the page stops linking a feed: it is a page source again, with the page's validators */
	fm_sched_free(s);
	s = fm_sched_new(cfg, st, false, when + 3 * 24 * HOUR);
	req = take_next(s, &when, &src);
	CHECK_STR(str(req, "url"), "https://club.example.org/");
	json_decref(req);
	rep = json_pack("{s:s,s:i}", "etag", "\"page-1\"", "items", 1);
	finish(s, src, rep, false, when);
	json_decref(rep);
	req = take_next(s, &when, &src);
	CHECK_STR(str(req, "url"), "https://club.example.org/");
	CHECK_STR(str(req, "etag"), "\"page-1\"");
	json_decref(req);
	fm_sched_free(s);
	fm_state_close(st);
	fm_config_free(cfg);
}

/* Reach the state where the club's feed is polled directly; returns the scheduler. */
static struct fm_scheduler *club_on_feed(struct fm_config *cfg, struct fm_state *st)
{
	struct fm_scheduler *s = fm_sched_new(cfg, st, false, T0);
	int64_t when;
	poll(s, feed_report(1, 4, "{s:s,s:s}", "feed_url", CLUB_FEED, "etag", "\"f1\""), &when);
	return s;
}

/* A discovered feed URL that fails sends the scheduler back to the page: at once when it is
 * gone (404, 410: not counted as the source failing), after three failures otherwise. */
static void test_discovered_feed_fails(void)
{
	struct fm_config *cfg = config("df.conf", discovering);
	struct fm_state *st = state_open("df-state");
	struct fm_scheduler *s = club_on_feed(cfg, st);
	int src;
	int64_t when;

	json_t *req = take_next(s, &when, &src);
	CHECK_STR(str(req, "url"), CLUB_FEED);
	json_decref(req);
	json_t *rep = json_pack("{s:s,s:i}", "error", "HTTP 410", "http_status", 410);
	finish(s, src, rep, false, when);
	json_decref(rep);
	CHECK(fm_sched_next_due(s) == when); /* right away */
	req = take_next(s, &when, &src);
	CHECK_STR(str(req, "url"), "https://club.example.org/");
	CHECK(json_object_get(req, "etag") == NULL);
	json_decref(req);
	/* the page links a new feed */
	rep = feed_report(1, 4, "{s:s,s:s}", "feed_url", CLUB_FEED "?v=2", "etag", "\"n1\"");
	finish(s, src, rep, false, when);
	json_decref(rep);
	struct fm_source_state ss;
	CHECK(fm_state_get(st, "club", &ss) == 0);
	CHECK(ss.failures == 0);
	CHECK_STR(ss.feed_url, CLUB_FEED "?v=2");
	CHECK_STR(ss.etag, "\"n1\"");
	fm_source_state_clear(&ss);

	/* three timeouts in a row: backoff as usual, then the page */
	json_t *timeout = json_pack("{s:s}", "error", "timed out");
	for (int i = 0; i < 3; i++) {
		req = take_next(s, &when, &src);
		CHECK_STR(str(req, "url"), CLUB_FEED "?v=2");
		json_decref(req);
		finish(s, src, timeout, false, when);
		CHECK(fm_sched_next_due(s) - when >= 10 * MIN << (i + 1));
	}
	req = take_next(s, &when, &src);
	CHECK_STR(str(req, "url"), "https://club.example.org/");
	json_decref(req);
	json_decref(timeout);
	fm_sched_free(s);
	fm_state_close(st);
	fm_config_free(cfg);

	/* a source of type html never takes the shortcut; a source moved elsewhere forgets it */
	st = state_open("df-state");
	struct fm_config *html = config("dh.conf", "[source club]\n"
	                                           "url = https://club.example.org/\n"
	                                           "type = html\n");
	fm_sched_free(club_on_feed(cfg = config("df.conf", discovering), st));
	s = fm_sched_new(html, st, false, T0 + DAY_MS);
	req = take_next(s, &when, &src);
	CHECK_STR(str(req, "url"), "https://club.example.org/");
	CHECK(json_object_get(req, "etag") == NULL);
	json_decref(req);
	fm_sched_free(s);
	struct fm_config *moved = config("dm.conf", "[source club]\n"
	                                            "url = https://club.example.org/news/\n");
	s = fm_sched_new(moved, st, false, T0 + DAY_MS);
	req = take_next(s, &when, &src);
	CHECK_STR(str(req, "url"), "https://club.example.org/news/");
	json_decref(req);
	fm_sched_free(s);
	fm_state_close(st);
	fm_config_free(moved);
	fm_config_free(html);
	fm_config_free(cfg);
}

int main(void)
{
	fm_log_set_level(FM_LOG_ERR);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_validators_persist();
	test_interval_and_jitter();
	test_backoff();
	test_once();
	test_state_errors();
	test_clock_jump();
	test_said();
	test_done();
	test_page_keeps_its_interval();
	test_done_needs_commit();
	test_discovered_feed();
	test_discovered_feed_fails();
	fm_remove_tree(tmpdir);
	return fmt_done("test_scheduler");
}
