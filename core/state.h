/*
 * Persistent state of the core: what the scheduler knows about each source (validators for
 * conditional GET, last success and error, backoff, what it learned about when to poll, the
 * feed it discovered), in STATE_DIR/feedmill.db (SQLite, WAL). SQLite gives atomic updates
 * that survive a crash mid-write without us writing a journal.
 *
 * The schema carries a version (table meta, key "schema"); fm_state_open() brings an older
 * database up to date in one transaction, adding columns whose NULLs read as "not known yet",
 * so a database of any earlier feedmill keeps its validators and due times.
 */
#ifndef FM_CORE_STATE_H
#define FM_CORE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "interval.h"

#define FM_STATE_SCHEMA 2

struct fm_state;

struct fm_source_state {
	char *url;           /* the source's configured URL when this was saved */
	char *etag;          /* validators: of feed_url when it is set, else of url */
	char *last_modified;
	char *last_error;
	int64_t last_attempt_ms;
	int64_t last_success_ms;
	int64_t next_due_ms; /* wall clock */
	int64_t failures;    /* consecutive */
	int64_t items;       /* documents produced, in all */
	/* schema 2: the adaptive interval (interval.h) */
	int64_t interval_ms; /* chosen at the last poll, before jitter; 0: none yet */
	char *reason;        /* why, for people ("ttl 15m"); NULL: none yet */
	bool has_rate;       /* rate holds an estimate (else start from the prior) */
	struct fm_rate rate;
	int64_t observed_at_ms; /* the last poll the rate counts up to; 0: none */
	struct fm_hints hints;  /* the feed's own (ttl, sy:); max_age_s is not kept */
	uint32_t *item_keys;    /* normalized keys of the last committed feed fetch (malloc'd) */
	size_t n_item_keys;
	bool has_item_keys;     /* known (possibly none): the next fetch can count new items */
	/* schema 2: a feed autodiscovered on the source's page, polled directly */
	char *feed_url;
	int64_t feed_found_ms;  /* when it was (last) found on the page */
};

/* Open (creating) the database in dir. NULL with a message in err. */
struct fm_state *fm_state_open(const char *dir, char *err, size_t errlen);
void fm_state_close(struct fm_state *st);
/* 0 and *out filled (caller frees with fm_source_state_clear), or -ENOENT, or -EIO. Values
 * a database of schema 1 did not keep come back as "not known": has_rate and has_item_keys
 * false, hints FM_HINTS_NONE, interval_ms 0, reason and feed_url NULL. */
int fm_state_get(struct fm_state *st, const char *source, struct fm_source_state *out);
int fm_state_put(struct fm_state *st, const char *source, const struct fm_source_state *s);
void fm_source_state_clear(struct fm_source_state *s);

#endif
