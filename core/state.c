#include "state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "util.h"

struct fm_state {
	sqlite3 *db;
	sqlite3_stmt *get, *put;
};

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;"
	"CREATE TABLE IF NOT EXISTS sources ("
	" name TEXT PRIMARY KEY, url TEXT, etag TEXT, last_modified TEXT, last_error TEXT,"
	" last_attempt INTEGER, last_success INTEGER, next_due INTEGER, failures INTEGER,"
	" items INTEGER);"
	"CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"
	"INSERT OR IGNORE INTO meta VALUES ('schema', '1');";

/* migrations[i] brings schema i+1 to i+2. Columns are only ever added: a row written before
 * reads its new columns as NULL, "not known yet", and an older feedmill still reads and
 * writes the columns it names (its writes leave the new ones NULL). */
static const char *const migrations[FM_STATE_SCHEMA - 1] = {
	/* 2: the adaptive interval, and a feed discovered on the source's page */
	"ALTER TABLE sources ADD COLUMN interval INTEGER;"
	"ALTER TABLE sources ADD COLUMN reason TEXT;"
	"ALTER TABLE sources ADD COLUMN rate_fast_items REAL;"
	"ALTER TABLE sources ADD COLUMN rate_fast_time REAL;"
	"ALTER TABLE sources ADD COLUMN rate_slow_items REAL;"
	"ALTER TABLE sources ADD COLUMN rate_slow_time REAL;"
	"ALTER TABLE sources ADD COLUMN observed INTEGER;"
	"ALTER TABLE sources ADD COLUMN observed_at INTEGER;"
	"ALTER TABLE sources ADD COLUMN feed_ttl INTEGER;"
	"ALTER TABLE sources ADD COLUMN update_period INTEGER;"
	"ALTER TABLE sources ADD COLUMN update_base INTEGER;"
	"ALTER TABLE sources ADD COLUMN item_keys BLOB;"
	"ALTER TABLE sources ADD COLUMN feed_url TEXT;"
	"ALTER TABLE sources ADD COLUMN feed_found INTEGER;",
};

#define COLUMNS                                                                                  \
	"url, etag, last_modified, last_error, last_attempt, last_success, next_due, failures, "  \
	"items, interval, reason, rate_fast_items, rate_fast_time, rate_slow_items, "            \
	"rate_slow_time, observed, observed_at, feed_ttl, update_period, update_base, item_keys, " \
	"feed_url, feed_found"
#define N_COLUMNS 23

/* The schema version of the database; -1 when meta does not say. */
static int schema_version(sqlite3 *db)
{
	sqlite3_stmt *q = NULL;
	int v = -1;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema'", -1, &q, NULL) ==
	            SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	return v;
}

/* Bring the database to FM_STATE_SCHEMA, every step and the version it reaches in one
 * transaction (another feedmill cannot hold the state folder: see fm_lock_file). */
static int migrate(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	int v = schema_version(db);
	if (v < 1) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		snprintf(err, errlen, "%s is not a usable feedmill state database: no schema version",
		         path);
		return -EINVAL;
	}
	if (v > FM_STATE_SCHEMA) /* columns are only added: what this one names is there */
		log_notice("state: %s was written by a newer feedmill (schema %d; this one knows %d)",
		           path, v, FM_STATE_SCHEMA);
	for (int i = v - 1; i < FM_STATE_SCHEMA - 1; i++) {
		char set[64];
		snprintf(set, sizeof(set), "UPDATE meta SET value = '%d' WHERE key = 'schema'", i + 2);
		if (sqlite3_exec(db, migrations[i], NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, set, NULL, NULL, &msg) != SQLITE_OK)
			goto fail;
		log_info("state: %s brought to schema %d", path, i + 2);
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s: cannot bring the state up to date: %s", path,
	         msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -EIO;
}

struct fm_state *fm_state_open(const char *dir, char *err, size_t errlen)
{
	int rc = fm_mkdirs(dir, 0750);
	if (rc != 0) {
		snprintf(err, errlen, "cannot create state directory %s: %s", dir, strerror(-rc));
		return NULL;
	}
	char *path = fm_path_join(dir, "feedmill.db");
	struct fm_state *st = calloc(1, sizeof(*st));
	if (!path || !st)
		goto oom;
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                                          SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		         st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 5000);
	char *msg = NULL;
	if (sqlite3_exec(st->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s is not a usable feedmill state database: %s", path,
		         msg ? msg : "?");
		sqlite3_free(msg);
		goto fail;
	}
	if (migrate(st->db, path, err, errlen) < 0)
		goto fail;
	if (sqlite3_prepare_v2(st->db, "SELECT " COLUMNS " FROM sources WHERE name = ?", -1,
	                       &st->get, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db,
	                       "INSERT OR REPLACE INTO sources (name, " COLUMNS ") VALUES (?,?,?,?,?,"
	                       "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	                       -1, &st->put, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(st->db));
		goto fail;
	}
	free(path);
	return st;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	free(path);
	fm_state_close(st);
	return NULL;
}

void fm_state_close(struct fm_state *st)
{
	if (!st)
		return;
	sqlite3_finalize(st->get);
	sqlite3_finalize(st->put);
	sqlite3_close(st->db);
	free(st);
}

static char *col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return t ? strdup((const char *)t) : NULL;
}

static bool col_null(sqlite3_stmt *s, int i)
{
	return sqlite3_column_type(s, i) == SQLITE_NULL;
}

static int64_t col_int_or(sqlite3_stmt *s, int i, int64_t none)
{
	return col_null(s, i) ? none : sqlite3_column_int64(s, i);
}

/* Item keys are kept as little-endian 32-bit words, whatever the machine. */
static void col_keys(sqlite3_stmt *s, int i, struct fm_source_state *out)
{
	const unsigned char *b = sqlite3_column_blob(s, i);
	size_t len = (size_t)sqlite3_column_bytes(s, i);
	if (col_null(s, i) || len % 4 || len > 4u * 65536)
		return; /* not known: the next fetch sets a baseline */
	out->item_keys = len ? malloc(len) : NULL;
	if (len && !out->item_keys)
		return;
	out->n_item_keys = len / 4;
	for (size_t k = 0; k < out->n_item_keys; k++)
		out->item_keys[k] = (uint32_t)b[4 * k] | (uint32_t)b[4 * k + 1] << 8 |
		                    (uint32_t)b[4 * k + 2] << 16 | (uint32_t)b[4 * k + 3] << 24;
	out->has_item_keys = true;
}

/* Columns 9 on: what schema 2 added (see COLUMNS). */
static void get_schema2(sqlite3_stmt *g, struct fm_source_state *out)
{
	out->interval_ms = col_int_or(g, 9, 0);
	out->reason = col_text(g, 10);
	out->has_rate = !col_null(g, 11) && !col_null(g, 12) && !col_null(g, 13) &&
	                !col_null(g, 14);
	out->rate = (struct fm_rate){sqlite3_column_double(g, 11), sqlite3_column_double(g, 12),
	                             sqlite3_column_double(g, 13), sqlite3_column_double(g, 14),
	                             col_int_or(g, 15, 0)};
	out->observed_at_ms = col_int_or(g, 16, 0);
	out->hints = FM_HINTS_NONE;
	out->hints.ttl_s = col_int_or(g, 17, -1);
	out->hints.period_s = col_int_or(g, 18, -1);
	out->hints.has_base = !col_null(g, 19);
	out->hints.base_s = col_int_or(g, 19, 0);
	col_keys(g, 20, out);
	out->feed_url = col_text(g, 21);
	out->feed_found_ms = col_int_or(g, 22, 0);
}

int fm_state_get(struct fm_state *st, const char *source, struct fm_source_state *out)
{
	memset(out, 0, sizeof(*out));
	sqlite3_reset(st->get);
	sqlite3_bind_text(st->get, 1, source, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st->get);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW) {
		log_err("state: cannot read source %s: %s", source, sqlite3_errmsg(st->db));
		return -EIO;
	}
	out->url = col_text(st->get, 0);
	out->etag = col_text(st->get, 1);
	out->last_modified = col_text(st->get, 2);
	out->last_error = col_text(st->get, 3);
	out->last_attempt_ms = sqlite3_column_int64(st->get, 4);
	out->last_success_ms = sqlite3_column_int64(st->get, 5);
	out->next_due_ms = sqlite3_column_int64(st->get, 6);
	out->failures = sqlite3_column_int64(st->get, 7);
	out->items = sqlite3_column_int64(st->get, 8);
	get_schema2(st->get, out);
	sqlite3_reset(st->get);
	return 0;
}

static void bind_int_or_null(sqlite3_stmt *p, int i, bool known, int64_t v)
{
	if (known)
		sqlite3_bind_int64(p, i, v);
	else
		sqlite3_bind_null(p, i);
}

/* Parameters 11 on (1 is the name): what schema 2 added. Returns -ENOMEM, or 0. */
static int put_schema2(sqlite3_stmt *p, const struct fm_source_state *s)
{
	bind_int_or_null(p, 11, s->interval_ms > 0, s->interval_ms);
	sqlite3_bind_text(p, 12, s->reason, -1, SQLITE_TRANSIENT);
	if (s->has_rate) {
		sqlite3_bind_double(p, 13, s->rate.fast_items);
		sqlite3_bind_double(p, 14, s->rate.fast_time);
		sqlite3_bind_double(p, 15, s->rate.slow_items);
		sqlite3_bind_double(p, 16, s->rate.slow_time);
	} else {
		for (int i = 13; i <= 16; i++)
			sqlite3_bind_null(p, i);
	}
	sqlite3_bind_int64(p, 17, s->has_rate ? s->rate.observed : 0);
	bind_int_or_null(p, 18, s->observed_at_ms > 0, s->observed_at_ms);
	bind_int_or_null(p, 19, s->hints.ttl_s > 0, s->hints.ttl_s);
	bind_int_or_null(p, 20, s->hints.period_s > 0, s->hints.period_s);
	bind_int_or_null(p, 21, s->hints.has_base, s->hints.base_s);
	if (s->has_item_keys) {
		size_t len = s->n_item_keys * 4;
		unsigned char *b = malloc(len ? len : 1);
		if (!b)
			return -ENOMEM;
		for (size_t k = 0; k < s->n_item_keys; k++)
			for (int j = 0; j < 4; j++)
				b[4 * k + (size_t)j] = (unsigned char)(s->item_keys[k] >> (8 * j));
		sqlite3_bind_blob(p, 22, b, (int)len, free);
	} else {
		sqlite3_bind_null(p, 22);
	}
	sqlite3_bind_text(p, 23, s->feed_url, -1, SQLITE_TRANSIENT);
	bind_int_or_null(p, 24, s->feed_url != NULL, s->feed_found_ms);
	return 0;
}

int fm_state_put(struct fm_state *st, const char *source, const struct fm_source_state *s)
{
	sqlite3_stmt *p = st->put;
	sqlite3_reset(p);
	sqlite3_clear_bindings(p);
	sqlite3_bind_text(p, 1, source, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(p, 2, s->url, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(p, 3, s->etag, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(p, 4, s->last_modified, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(p, 5, s->last_error, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(p, 6, s->last_attempt_ms);
	sqlite3_bind_int64(p, 7, s->last_success_ms);
	sqlite3_bind_int64(p, 8, s->next_due_ms);
	sqlite3_bind_int64(p, 9, s->failures);
	sqlite3_bind_int64(p, 10, s->items);
	if (put_schema2(p, s) < 0) {
		log_err("state: cannot save source %s: out of memory", source);
		return -ENOMEM;
	}
	int rc = sqlite3_step(p);
	sqlite3_reset(p);
	sqlite3_clear_bindings(p); /* the keys' copy goes now, not at the next save */
	if (rc != SQLITE_DONE) {
		log_err("state: cannot save source %s: %s", source, sqlite3_errmsg(st->db));
		return -EIO;
	}
	return 0;
}

void fm_source_state_clear(struct fm_source_state *s)
{
	free(s->url);
	free(s->etag);
	free(s->last_modified);
	free(s->last_error);
	free(s->reason);
	free(s->item_keys);
	free(s->feed_url);
	memset(s, 0, sizeof(*s));
}
