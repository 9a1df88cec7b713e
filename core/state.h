/*
 * Persistent state of the core: what the scheduler knows about each source (validators for
 * conditional GET, last success and error, backoff), in STATE_DIR/feedmill.db (SQLite, WAL).
 * SQLite gives atomic updates that survive a crash mid-write without us writing a journal.
 */
#ifndef FM_CORE_STATE_H
#define FM_CORE_STATE_H

#include <stddef.h>
#include <stdint.h>

struct fm_state;

struct fm_source_state {
	char *url;           /* the URL the validators belong to */
	char *etag;
	char *last_modified;
	char *last_error;
	int64_t last_attempt_ms;
	int64_t last_success_ms;
	int64_t next_due_ms; /* wall clock */
	int64_t failures;    /* consecutive */
	int64_t items;       /* documents produced, in all */
};

/* Open (creating) the database in dir. NULL with a message in err. */
struct fm_state *fm_state_open(const char *dir, char *err, size_t errlen);
void fm_state_close(struct fm_state *st);
/* 0 and *out filled (caller frees with fm_source_state_clear), or -ENOENT, or -EIO. */
int fm_state_get(struct fm_state *st, const char *source, struct fm_source_state *out);
int fm_state_put(struct fm_state *st, const char *source, const struct fm_source_state *s);
void fm_source_state_clear(struct fm_source_state *s);

#endif
