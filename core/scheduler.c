#include "scheduler.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <feedmill/doc.h>

#include "interval.h"
#include "log.h"
#include "util.h"

#define MAX_RETRY_AFTER_S (30 * 86400)
/* Consecutive failures of a discovered feed URL before the page is asked again for its feed
 * (404 and 410 need only one). */
#define REDISCOVER_AFTER_FAILURES 3

/* What a fetch brought that is kept only once all its documents have settled, so that a crash
 * in between makes the next poll fetch everything again (README, "Nothing lost"). */
struct pending {
	bool set;
	char *etag, *last_modified;
	char *feed_url;         /* the URL those validators belong to; NULL: the source's own */
	bool feed_found;        /* ... found on the page by this fetch (at found_ms) */
	int64_t found_ms;
	struct fm_rate rate;    /* the estimate with this fetch counted */
	int64_t observed_at_ms;
	struct fm_hints hints;  /* the feed's own, as this fetch left them */
	uint32_t *keys;         /* normalized; has_keys: this fetch parsed a feed */
	size_t nkeys;
	bool has_keys;
};

struct entry {
	struct fm_source_cfg *cfg;
	struct fm_source_state st;
	bool in_flight;
	bool polled_once;
	bool direct; /* the fetch in flight asked for st.feed_url, not the source's URL */
	struct pending p;
};

struct fm_scheduler {
	struct fm_config *cfg;
	struct fm_state *state;
	bool once;
	size_t n;
	struct entry *e;
	struct fm_sched_totals totals;
	unsigned rand_state;
};

/* A uniform random number in [0, 1): spreads polls so sources do not march in step. */
static double rnd(struct fm_scheduler *s)
{
	return (double)rand_r(&s->rand_state) / ((double)RAND_MAX + 1.0);
}

static int64_t jittered(struct fm_scheduler *s, int64_t ms)
{
	double j = s->cfg->jitter;
	return (int64_t)((double)ms * (1.0 - j + 2.0 * j * rnd(s)));
}

static void pending_clear(struct pending *p)
{
	free(p->etag);
	free(p->last_modified);
	free(p->feed_url);
	free(p->keys);
	memset(p, 0, sizeof(*p));
}

/* The source points elsewhere than when its state was saved: what was learned about the old
 * URL (validators, its feed, its items, its pace) does not apply. */
static void forget_url(struct fm_source_state *st)
{
	free(st->etag);
	free(st->last_modified);
	free(st->feed_url);
	free(st->item_keys);
	st->etag = st->last_modified = st->feed_url = NULL;
	st->item_keys = NULL;
	st->n_item_keys = 0;
	st->has_item_keys = st->has_rate = false;
	st->hints = FM_HINTS_NONE;
	st->observed_at_ms = st->feed_found_ms = 0;
	st->failures = 0;
	st->next_due_ms = 0;
}

/* The longest wait a saved due time can honestly be from now; past it, the clock jumped. */
static int64_t longest_wait(const struct fm_scheduler *s, const struct fm_source_cfg *c)
{
	int64_t iv = c->bounds.max_ms > c->bounds.interval_ms ? c->bounds.max_ms
	                                                       : c->bounds.interval_ms;
	return (int64_t)((double)iv * (1.0 + s->cfg->jitter)) + s->cfg->max_backoff_ms;
}

static void entry_init(struct fm_scheduler *s, struct entry *e, struct fm_source_cfg *c,
                       int64_t now)
{
	e->cfg = c;
	if (!s->state || fm_state_get(s->state, c->name, &e->st) < 0) {
		memset(&e->st, 0, sizeof(e->st)); /* nothing known */
		e->st.hints = FM_HINTS_NONE;
	} else if (!e->st.url || !c->url || strcmp(e->st.url, c->url) != 0) {
		forget_url(&e->st);
	}
	if (!e->st.has_rate) {
		fm_rate_init(&e->st.rate, c->bounds.interval_ms);
		e->st.has_rate = true;
	}
	free(e->st.url);
	e->st.url = c->url ? strdup(c->url) : NULL;
	if (s->once || e->st.next_due_ms <= now) {
		/* Due now; spread a service start's first polls over a few seconds. */
		int64_t spread = s->once ? 0 : (int64_t)(rnd(s) * 5000.0);
		e->st.next_due_ms = now + spread;
	}
	if (e->st.next_due_ms > now + longest_wait(s, c))
		e->st.next_due_ms = now; /* a clock jump: do not wait for ever */
}

struct fm_scheduler *fm_sched_new(struct fm_config *cfg, struct fm_state *state, bool once,
                                  int64_t now)
{
	struct fm_scheduler *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = cfg;
	s->state = state;
	s->once = once;
	s->rand_state = (unsigned)now ^ (unsigned)getpid();
	for (struct fm_source_cfg *c = cfg->sources; c; c = c->next)
		s->n++;
	s->e = calloc(s->n ? s->n : 1, sizeof(*s->e));
	if (!s->e) {
		free(s);
		return NULL;
	}
	size_t i = 0;
	for (struct fm_source_cfg *c = cfg->sources; c; c = c->next, i++)
		entry_init(s, &s->e[i], c, now);
	return s;
}

void fm_sched_free(struct fm_scheduler *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		fm_source_state_clear(&s->e[i].st);
		pending_clear(&s->e[i].p);
	}
	free(s->e);
	free(s);
}

static bool eligible(const struct fm_scheduler *s, const struct entry *e)
{
	if (!e->cfg->enabled || e->in_flight || !e->cfg->url)
		return false;
	if (s->once && e->polled_once)
		return false;
	return true;
}

int64_t fm_sched_next_due(const struct fm_scheduler *s)
{
	int64_t best = INT64_MAX;
	for (size_t i = 0; i < s->n; i++)
		if (eligible(s, &s->e[i]) && s->e[i].st.next_due_ms < best)
			best = s->e[i].st.next_due_ms;
	return best;
}

/* A feed found on the source's page is fetched directly, with its own validators, until it
 * is rediscover_after old: then the page is read again, in case the site moved its feed. */
static bool poll_feed_directly(const struct entry *e, int64_t now)
{
	return e->st.feed_url && strcmp(e->cfg->type, "html") != 0 &&
	       now - e->st.feed_found_ms < e->cfg->rediscover_ms;
}

static json_t *request(struct entry *e, int64_t now)
{
	const struct fm_source_cfg *c = e->cfg;
	e->direct = poll_feed_directly(e, now);
	if (!e->direct && e->st.feed_url && fm_log_get_level() >= FM_LOG_INFO) {
		char *feed = fm_redact_url(e->st.feed_url);
		log_info("source %s: reading its page again for its feed (%s was found there %lldd "
		         "ago)", c->name, feed ? feed : "?",
		         (long long)((now - e->st.feed_found_ms) / 86400000));
		free(feed);
	}
	json_t *req = json_pack("{s:s,s:s,s:s,s:s}", "type", FM_DOC_TYPE_FETCH, "source", c->name,
	                        "url", e->direct ? e->st.feed_url : c->url, FM_DOC_SOURCE_TYPE,
	                        e->direct ? "feed" : c->type);
	if (!req)
		return NULL;
	if (e->direct)
		json_object_set_new(req, FM_DOC_SOURCE_URL, json_string(c->url));
	/* validators belong to feed_url when there is one: the page is asked without them */
	if (e->direct || !e->st.feed_url) {
		if (e->st.etag)
			json_object_set_new(req, FM_DOC_ETAG, json_string(e->st.etag));
		if (e->st.last_modified)
			json_object_set_new(req, FM_DOC_LAST_MODIFIED, json_string(e->st.last_modified));
	}
	if (c->options && json_object_size(c->options))
		json_object_set(req, FM_DOC_SOURCE_OPTIONS, c->options);
	if (c->tags && json_array_size(c->tags))
		json_object_set(req, FM_DOC_SOURCE_TAGS, c->tags);
	return req;
}

json_t *fm_sched_take_due(struct fm_scheduler *s, int64_t now, int *source)
{
	struct entry *pick = NULL;
	for (size_t i = 0; i < s->n; i++) {
		struct entry *e = &s->e[i];
		if (eligible(s, e) && e->st.next_due_ms <= now &&
		    (!pick || e->st.next_due_ms < pick->st.next_due_ms))
			pick = e;
	}
	if (!pick)
		return NULL;
	json_t *req = request(pick, now);
	if (!req)
		return NULL;
	pick->in_flight = true;
	pick->polled_once = true;
	pick->st.last_attempt_ms = now;
	*source = (int)(pick - s->e);
	s->totals.polled++;
	return req;
}

static char *dup_str(const json_t *v)
{
	return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

static void set_reason(struct entry *e, int64_t interval_ms, const char *reason)
{
	free(e->st.reason);
	e->st.reason = strdup(reason);
	e->st.interval_ms = interval_ms;
}

/* A discovered feed URL that fails is forgotten, with the validators and items that were
 * its, so the next poll asks the page: at once when it is gone (404, 410), else after a few
 * failures in a row. */
static bool feed_url_failed(struct entry *e, const json_t *report)
{
	json_int_t status = json_integer_value(json_object_get(report, FM_REPORT_HTTP_STATUS));
	bool gone = status == 404 || status == 410;
	if (!e->direct || !e->st.feed_url || (!gone && e->st.failures < REDISCOVER_AFTER_FAILURES))
		return false;
	char *feed = fm_redact_url(e->st.feed_url), *page = fm_redact_url(e->cfg->url);
	log_notice("source %s: its feed %s %s; looking for the feed on %s again", e->cfg->name,
	           feed ? feed : "?", gone ? "is gone" : "keeps failing", page ? page : "?");
	free(feed);
	free(page);
	free(e->st.feed_url);
	free(e->st.etag);
	free(e->st.last_modified);
	e->st.feed_url = e->st.etag = e->st.last_modified = NULL;
	e->st.feed_found_ms = 0;
	return gone;
}

static void done_failed(struct fm_scheduler *s, struct entry *e, const char *error,
                        const json_t *report, int64_t now)
{
	int64_t interval = e->cfg->bounds.interval_ms;
	e->st.failures++;
	free(e->st.last_error);
	e->st.last_error = strdup(error);
	s->totals.failed++;
	if (feed_url_failed(e, report)) {
		/* not the source failing, but the shortcut to its feed: the page, right away (in
		 * this very run with --once, which polls each source's content once) */
		e->st.failures--;
		e->st.next_due_ms = now;
		e->polled_once = false;
		set_reason(e, 0, "its feed URL is gone: reading the page again");
		return;
	}
	/* Exponential backoff from the interval, capped; Retry-After is a floor. */
	int shift = e->st.failures > 10 ? 10 : (int)e->st.failures;
	int64_t delay = interval << shift;
	if (delay > s->cfg->max_backoff_ms || delay <= 0)
		delay = s->cfg->max_backoff_ms;
	delay = jittered(s, delay);
	json_int_t ra = json_integer_value(json_object_get(report, FM_REPORT_RETRY_AFTER));
	/* A fetch plugin may pass on whatever a server asked: bound it (30 days). */
	if (ra > MAX_RETRY_AFTER_S)
		ra = MAX_RETRY_AFTER_S;
	char why[64];
	snprintf(why, sizeof(why), "backing off after %lld failures", (long long)e->st.failures);
	if (ra > 0 && ra * 1000 > delay) {
		delay = (int64_t)ra * 1000;
		snprintf(why, sizeof(why), "Retry-After");
	}
	e->st.next_due_ms = now + delay;
	set_reason(e, delay, why);
	log_warn("source %s: %s (failure %lld; next try in %llds)", e->cfg->name, error,
	         (long long)e->st.failures, (long long)(delay / 1000));
}

/* The item keys of a report, normalized (0 with *keys NULL when there are none); -1 when
 * the report has no key array (no feed was parsed) or memory ran out. */
static int report_keys(const json_t *report, uint32_t **keys, size_t *n)
{
	const json_t *arr = json_object_get(report, FM_REPORT_ITEM_KEYS);
	size_t len = json_array_size(arr);
	*keys = NULL;
	*n = 0;
	if (!json_is_array(arr))
		return -1;
	if (len > FM_REPORT_ITEM_KEYS_MAX)
		len = FM_REPORT_ITEM_KEYS_MAX;
	if (len && !(*keys = malloc(len * sizeof(**keys))))
		return -1;
	for (size_t i = 0; i < len; i++)
		(*keys)[(*n)++] = (uint32_t)json_integer_value(json_array_get(arr, i));
	*n = fm_keys_normalize(*keys, *n);
	return 0;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static int64_t hint(const json_t *report, const char *key)
{
	json_t *v = json_object_get(report, key);
	return json_is_integer(v) && json_integer_value(v) >= 0 ? json_integer_value(v) : -1;
}

/* What the fetch says about the source's schedule and pace, into p: the feed's own hints (a
 * 304 keeps the last ones), and one more observation of its publishing rate: the items the
 * feed has that the last fetch had not, none for a 304. A page teaches nothing about its
 * rate: a poll sees at most one change, which cannot tell a page that changes every minute
 * from one that changes every hour, and counting changes would either never speed polling
 * up again or drive a page that always changes to min_interval. */
static void observe(struct entry *e, struct pending *p, const json_t *report, int64_t now)
{
	bool not_modified = json_is_true(json_object_get(report, FM_REPORT_NOT_MODIFIED));
	p->rate = e->st.rate;
	p->observed_at_ms = e->st.observed_at_ms;
	p->hints = not_modified ? e->st.hints : FM_HINTS_NONE;
	if (report_keys(report, &p->keys, &p->nkeys) == 0) {
		p->has_keys = true;
		p->hints.ttl_s = hint(report, FM_REPORT_FEED_TTL);
		p->hints.period_s = hint(report, FM_REPORT_UPDATE_PERIOD);
		json_t *base = json_object_get(report, FM_REPORT_UPDATE_BASE);
		p->hints.has_base = json_is_integer(base) && p->hints.period_s > 0;
		p->hints.base_s = p->hints.has_base ? json_integer_value(base) : 0;
		/* items of another feed than last time are no news: a new baseline */
		if (e->st.has_item_keys && e->st.observed_at_ms && same_str(p->feed_url, e->st.feed_url))
			fm_rate_observe(&p->rate,
			                (int64_t)fm_keys_count_new(e->st.item_keys, e->st.n_item_keys,
			                                           p->keys, p->nkeys),
			                now - e->st.observed_at_ms);
		p->observed_at_ms = now;
	} else if (not_modified && e->st.has_item_keys) {
		if (e->st.observed_at_ms)
			fm_rate_observe(&p->rate, 0, now - e->st.observed_at_ms);
		p->observed_at_ms = now;
	}
}

static void done_ok(struct fm_scheduler *s, struct entry *e, const json_t *report, int64_t now)
{
	struct pending *p = &e->p;
	if (e->st.failures)
		log_notice("source %s: recovered after %lld failures", e->cfg->name,
		           (long long)e->st.failures);
	e->st.failures = 0;
	free(e->st.last_error);
	e->st.last_error = NULL;
	e->st.last_success_ms = now;

	pending_clear(p);
	p->set = true;
	p->etag = dup_str(json_object_get(report, FM_REPORT_ETAG));
	p->last_modified = dup_str(json_object_get(report, FM_REPORT_LAST_MODIFIED));
	p->feed_url = dup_str(json_object_get(report, FM_REPORT_FEED_URL));
	p->feed_found = p->feed_url != NULL;
	p->found_ms = now;
	if (!p->feed_url && e->direct && e->st.feed_url)
		p->feed_url = strdup(e->st.feed_url);
	observe(e, p, report, now);

	struct fm_hints h = p->hints;
	h.max_age_s = hint(report, FM_REPORT_MAX_AGE);
	struct fm_next_poll np;
	fm_interval_next(&e->cfg->bounds, &p->rate, &h, now, &np);
	int64_t delay = fm_interval_jitter(&np, s->cfg->jitter, rnd(s));
	e->st.next_due_ms = now + delay;
	set_reason(e, np.delay_ms, np.reason);
	if (fm_log_get_level() >= FM_LOG_INFO) {
		char d[32];
		fm_format_duration(delay, d, sizeof(d));
		log_info("source %s: next poll in %s (%s)", e->cfg->name, d, np.reason);
	}
	if (json_is_true(json_object_get(report, FM_REPORT_NOT_MODIFIED)))
		s->totals.not_modified++;
	json_int_t items = json_integer_value(json_object_get(report, FM_REPORT_ITEMS));
	e->st.items += items;
	s->totals.items += items;
}

void fm_sched_done(struct fm_scheduler *s, int source, const json_t *report, bool failed,
                   int64_t now)
{
	if (source < 0 || (size_t)source >= s->n)
		return;
	struct entry *e = &s->e[source];
	const char *error = json_string_value(json_object_get(report, FM_REPORT_ERROR));
	if (failed && !error)
		error = "the fetch stage could not process the request";
	if (error)
		done_failed(s, e, error, report, now);
	else
		done_ok(s, e, report, now);
}

/* Keep what the fetch brought (its documents have all settled). */
static void commit(struct entry *e)
{
	struct pending *p = &e->p;
	struct fm_source_state *st = &e->st;
	/* a 304 may come without validators: the old ones still hold, unless they were another
	 * URL's (the page's, a feed's that moved) */
	if (p->etag || p->last_modified || !same_str(p->feed_url, st->feed_url)) {
		free(st->etag);
		free(st->last_modified);
		st->etag = p->etag;
		st->last_modified = p->last_modified;
		p->etag = p->last_modified = NULL;
	}
	if (!same_str(p->feed_url, st->feed_url)) {
		free(st->feed_url);
		st->feed_url = p->feed_url;
		p->feed_url = NULL;
	}
	if (p->feed_found)
		st->feed_found_ms = p->found_ms;
	st->rate = p->rate;
	st->observed_at_ms = p->observed_at_ms;
	st->hints = p->hints;
	if (p->has_keys) {
		free(st->item_keys);
		st->item_keys = p->keys;
		st->n_item_keys = p->nkeys;
		st->has_item_keys = true;
		p->keys = NULL;
	}
}

void fm_sched_fetch_complete(struct fm_scheduler *s, int source, bool settled, int64_t now)
{
	(void)now;
	if (source < 0 || (size_t)source >= s->n)
		return;
	struct entry *e = &s->e[source];
	e->in_flight = false;
	log_debug("source %s: every document of the last fetch has settled%s", e->cfg->name,
	          settled ? "" : " (some were given up: its validators are not kept)");
	if (e->p.set && settled)
		commit(e);
	pending_clear(&e->p);
	if (s->state)
		fm_state_put(s->state, e->cfg->name, &e->st);
}

bool fm_sched_finished(const struct fm_scheduler *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct entry *e = &s->e[i];
		if (e->in_flight)
			return false;
		if (s->once && e->cfg->enabled && !e->polled_once)
			return false;
	}
	return s->once;
}

const char *fm_sched_source_name(const struct fm_scheduler *s, int source)
{
	return source >= 0 && (size_t)source < s->n ? s->e[source].cfg->name : NULL;
}

int fm_sched_source_index(const struct fm_scheduler *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->e[i].cfg->name, name) == 0)
			return (int)i;
	return -1;
}

size_t fm_sched_count(const struct fm_scheduler *s)
{
	return s->n;
}

struct fm_sched_totals fm_sched_totals(const struct fm_scheduler *s)
{
	return s->totals;
}
