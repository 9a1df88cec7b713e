/*
 * The scheduler: which source to poll when. A source starts at its configured interval; after
 * each successful fetch the next poll follows what the source says (HTTP freshness, the feed's
 * ttl and sy: schedule) and does (new items per poll), within min_interval and max_interval
 * (interval.c), with random jitter; the interval chosen and why are logged at info and kept in
 * the state. A failing source backs off exponentially (honouring Retry-After) up to
 * max_backoff; a source is never polled again while documents of its previous fetch are in the
 * pipeline, so a slow source holds up nothing but itself.
 *
 * A feed the fetch stage found on a source's page is polled directly next time, with its own
 * validators (the request's url is the feed, source_url the page), until it fails (404 or 410
 * at once, other errors after a few) or rediscover_after has passed: then the page is read
 * again. The source's configured URL stays its identity.
 *
 * What a fetch teaches (validators, the discovered feed, the publishing rate, the feed's
 * hints) is kept when the fetch completes, never before its documents have settled: after a
 * crash, a source whose fetch had not completed is polled again at once, without the
 * validators that would hide the items it had served. Errors, backoff and the next poll are
 * saved at completion whether or not the documents settled.
 */
#ifndef FM_CORE_SCHEDULER_H
#define FM_CORE_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "state.h"

struct fm_scheduler;

struct fm_sched_totals {
	int64_t polled, not_modified, failed, items;
};

/* once: poll every enabled source one time, immediately. state may be NULL (nothing kept). */
struct fm_scheduler *fm_sched_new(struct fm_config *cfg, struct fm_state *state, bool once,
                                  int64_t now_ms);
void fm_sched_free(struct fm_scheduler *s);

/* The fetch request of a source due at now, marking it in flight; NULL when none is due.
 * *source receives the source's index. */
json_t *fm_sched_take_due(struct fm_scheduler *s, int64_t now_ms, int *source);
/* When the next source falls due (wall ms); INT64_MAX when none will. */
int64_t fm_sched_next_due(const struct fm_scheduler *s);
/* The fetch of `source` answered: report is what the fetch stage reported (may be NULL);
 * failed is true when the request itself could not be processed. Nothing is saved yet: a
 * crash before the fetch completes makes the next start poll the source at once. */
void fm_sched_done(struct fm_scheduler *s, int source, const json_t *report, bool failed,
                   int64_t now_ms);
/* Every document of the fetch has settled (published durably by every output, dropped, or
 * failed for good): the fetch is committed, its validators (when settled: none was given up)
 * and its next poll saved. Until then the source is not polled again. */
void fm_sched_fetch_complete(struct fm_scheduler *s, int source, bool settled, int64_t now_ms);
/* once mode: every source has been polled and none is in flight. */
bool fm_sched_finished(const struct fm_scheduler *s);
const char *fm_sched_source_name(const struct fm_scheduler *s, int source);
int fm_sched_source_index(const struct fm_scheduler *s, const char *name);
size_t fm_sched_count(const struct fm_scheduler *s);
struct fm_sched_totals fm_sched_totals(const struct fm_scheduler *s);

#endif
