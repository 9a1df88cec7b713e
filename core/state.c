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
	if (sqlite3_prepare_v2(st->db,
	                       "SELECT url, etag, last_modified, last_error, last_attempt, "
	                       "last_success, next_due, failures, items FROM sources WHERE name = ?",
	                       -1, &st->get, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db,
	                       "INSERT OR REPLACE INTO sources (name, url, etag, last_modified, "
	                       "last_error, last_attempt, last_success, next_due, failures, items) "
	                       "VALUES (?,?,?,?,?,?,?,?,?,?)",
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
	sqlite3_reset(st->get);
	return 0;
}

int fm_state_put(struct fm_state *st, const char *source, const struct fm_source_state *s)
{
	sqlite3_stmt *p = st->put;
	sqlite3_reset(p);
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
	int rc = sqlite3_step(p);
	sqlite3_reset(p);
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
	memset(s, 0, sizeof(*s));
}
