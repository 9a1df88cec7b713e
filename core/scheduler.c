#include "scheduler.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define MAX_RETRY_AFTER_S (30 * 86400)

struct entry {
	struct fm_source_cfg *cfg;
	struct fm_source_state st;
	bool in_flight;
	bool polled_once;
	/* Validators of a fetch whose documents are still in the pipeline: kept only once they
	 * have all left it, so a crash mid-way makes the next poll fetch everything again. */
	char *pending_etag, *pending_last_modified;
	bool pending;
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
	for (struct fm_source_cfg *c = cfg->sources; c; c = c->next, i++) {
		struct entry *e = &s->e[i];
		e->cfg = c;
		if (state && fm_state_get(state, c->name, &e->st) == 0) {
			if (!e->st.url || !c->url || strcmp(e->st.url, c->url) != 0) {
				/* The source now points elsewhere: the old validators do not apply. */
				free(e->st.etag);
				free(e->st.last_modified);
				e->st.etag = e->st.last_modified = NULL;
				e->st.failures = 0;
				e->st.next_due_ms = 0;
			}
		}
		free(e->st.url);
		e->st.url = c->url ? strdup(c->url) : NULL;
		if (once || e->st.next_due_ms <= now) {
			/* Due now; spread a service start's first polls over a few seconds. */
			int64_t spread = once ? 0 : (int64_t)(rnd(s) * 5000.0);
			e->st.next_due_ms = now + spread;
		}
		if (e->st.next_due_ms > now + c->bounds.interval_ms + s->cfg->max_backoff_ms)
			e->st.next_due_ms = now; /* a clock jump: do not wait for ever */
	}
	return s;
}

void fm_sched_free(struct fm_scheduler *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		fm_source_state_clear(&s->e[i].st);
		free(s->e[i].pending_etag);
		free(s->e[i].pending_last_modified);
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
	pick->in_flight = true;
	pick->polled_once = true;
	pick->st.last_attempt_ms = now;
	*source = (int)(pick - s->e);
	json_t *req = json_pack("{s:s,s:s,s:s,s:s}", "type", "fetch", "source", pick->cfg->name,
	                        "url", pick->cfg->url, "source_type", pick->cfg->type);
	if (!req)
		return NULL;
	if (pick->st.etag)
		json_object_set_new(req, "etag", json_string(pick->st.etag));
	if (pick->st.last_modified)
		json_object_set_new(req, "last_modified", json_string(pick->st.last_modified));
	if (pick->cfg->options && json_object_size(pick->cfg->options))
		json_object_set(req, "source_options", pick->cfg->options);
	if (pick->cfg->tags && json_array_size(pick->cfg->tags))
		json_object_set(req, "source_tags", pick->cfg->tags);
	s->totals.polled++;
	return req;
}

static void set_opt_str(char **slot, const json_t *v)
{
	if (!json_is_string(v))
		return;
	free(*slot);
	*slot = strdup(json_string_value(v));
}

void fm_sched_done(struct fm_scheduler *s, int source, const json_t *report, bool failed,
                   int64_t now)
{
	if (source < 0 || (size_t)source >= s->n)
		return;
	struct entry *e = &s->e[source];
	const char *error = json_string_value(json_object_get(report, "error"));
	int64_t interval = e->cfg->bounds.interval_ms;
	if (failed && !error)
		error = "the fetch stage could not process the request";

	if (error) {
		e->st.failures++;
		free(e->st.last_error);
		e->st.last_error = strdup(error);
		/* Exponential backoff from the interval, capped; Retry-After is a floor. */
		int shift = e->st.failures > 10 ? 10 : (int)e->st.failures;
		int64_t delay = interval << shift;
		if (delay > s->cfg->max_backoff_ms || delay <= 0)
			delay = s->cfg->max_backoff_ms;
		delay = jittered(s, delay);
		json_int_t ra = json_integer_value(json_object_get(report, "retry_after"));
		/* A fetch plugin may pass on whatever a server asked: bound it (30 days). */
		if (ra > MAX_RETRY_AFTER_S)
			ra = MAX_RETRY_AFTER_S;
		if (ra > 0 && ra * 1000 > delay)
			delay = (int64_t)ra * 1000;
		e->st.next_due_ms = now + delay;
		s->totals.failed++;
		log_warn("source %s: %s (failure %lld; next try in %llds)", e->cfg->name, error,
		         (long long)e->st.failures, (long long)(delay / 1000));
	} else {
		if (e->st.failures)
			log_notice("source %s: recovered after %lld failures", e->cfg->name,
			           (long long)e->st.failures);
		e->st.failures = 0;
		free(e->st.last_error);
		e->st.last_error = NULL;
		e->st.last_success_ms = now;
		e->st.next_due_ms = now + jittered(s, interval);
		free(e->pending_etag);
		free(e->pending_last_modified);
		e->pending_etag = e->pending_last_modified = NULL;
		set_opt_str(&e->pending_etag, json_object_get(report, "etag"));
		set_opt_str(&e->pending_last_modified, json_object_get(report, "last_modified"));
		e->pending = true;
		if (json_is_true(json_object_get(report, "not_modified")))
			s->totals.not_modified++;
		json_int_t items = json_integer_value(json_object_get(report, "items"));
		e->st.items += items;
		s->totals.items += items;
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
	bool commit = e->pending && settled;
	e->pending = false;
	if (commit && (e->pending_etag || e->pending_last_modified)) {
		free(e->st.etag);
		free(e->st.last_modified);
		e->st.etag = e->pending_etag;
		e->st.last_modified = e->pending_last_modified;
		e->pending_etag = e->pending_last_modified = NULL;
	}
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
