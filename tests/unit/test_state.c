/*
 * The state database across versions: a database written by an earlier feedmill (schema 1)
 * opens with what it knew, every value schema 2 added is kept, and an older feedmill writing
 * to a migrated database does not break it. (The scheduler's use of the state is in
 * test_scheduler.c.)
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "state.h"
#include "unit.h"
#include "util.h"

#define SEC 1000LL
#define MIN (60 * SEC)
#define T0 1700000000000LL

static char tmpdir[] = "/tmp/fm-test-state-XXXXXX";

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

/* Run SQL on a state database directly, as an older feedmill (or an operator) would. */
static void sql(const char *dir, const char *text)
{
	char *db = fm_path_join(dir, "feedmill.db");
	sqlite3 *h = NULL;
	char *msg = NULL;
	if (sqlite3_open(db, &h) != SQLITE_OK || sqlite3_exec(h, text, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "sql: %s\n", msg ? msg : sqlite3_errmsg(h));
		abort();
	}
	sqlite3_close(h);
	free(db);
}

static int schema_of(const char *dir)
{
	char *db = fm_path_join(dir, "feedmill.db");
	sqlite3 *h = NULL;
	sqlite3_stmt *q = NULL;
	int v = -1;
	if (sqlite3_open(db, &h) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, "SELECT value FROM meta WHERE key = 'schema'", -1, &q, NULL) ==
	            SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(h);
	free(db);
	return v;
}

/* A database written by a feedmill before adaptive intervals (schema 1) opens: its validators
 * and due time are kept, what it did not know reads as not known, and the new values are kept
 * from then on; an older feedmill writing to it afterwards does not break it. */
static void test_state_migration(void)
{
	char *dir = fm_path_join(tmpdir, "m-state");
	CHECK(fm_mkdirs(dir, 0700) == 0);
	sql(dir, "CREATE TABLE sources (name TEXT PRIMARY KEY, url TEXT, etag TEXT, "
	         "last_modified TEXT, last_error TEXT, last_attempt INTEGER, last_success INTEGER, "
	         "next_due INTEGER, failures INTEGER, items INTEGER);"
	         "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
	         "INSERT INTO meta VALUES ('schema', '1');"
	         "INSERT INTO sources VALUES ('harbour', 'https://harbour.example.org/feed', "
	         "'\"v9\"', NULL, NULL, 1699999000000, 1699999000000, 1700000600000, 0, 42);");
	struct fm_state *st = state_open("m-state");
	CHECK(schema_of(dir) == FM_STATE_SCHEMA);
	struct fm_source_state ss;
	CHECK(fm_state_get(st, "harbour", &ss) == 0);
	CHECK_STR(ss.etag, "\"v9\"");
	CHECK(ss.next_due_ms == 1700000600000LL && ss.items == 42);
	CHECK(!ss.has_rate && !ss.has_item_keys && ss.item_keys == NULL);
	CHECK(ss.interval_ms == 0 && ss.reason == NULL && ss.feed_url == NULL);
	CHECK(ss.hints.ttl_s < 0 && ss.hints.period_s < 0 && !ss.hints.has_base);

	/* everything new survives a save and a reopen */
	fm_rate_init(&ss.rate, 10 * MIN);
	fm_rate_observe(&ss.rate, 3, 20 * MIN);
	ss.has_rate = true;
	ss.observed_at_ms = T0;
	ss.interval_ms = 7 * MIN;
	ss.reason = strdup("3.2 new items/h");
	ss.hints.ttl_s = 2700;
	ss.hints.period_s = 1800;
	ss.hints.has_base = true;
	ss.hints.base_s = 1704067200;
	ss.item_keys = malloc(3 * sizeof(uint32_t));
	ss.item_keys[0] = 1;
	ss.item_keys[1] = 0x80000000u;
	ss.item_keys[2] = 0xffffffffu;
	ss.n_item_keys = 3;
	ss.has_item_keys = true;
	ss.feed_url = strdup("https://harbour.example.org/news.atom");
	ss.feed_found_ms = T0 - MIN;
	struct fm_rate saved = ss.rate;
	CHECK(fm_state_put(st, "harbour", &ss) == 0);
	fm_source_state_clear(&ss);
	fm_state_close(st);
	st = state_open("m-state"); /* already current: opening again changes nothing */
	CHECK(schema_of(dir) == FM_STATE_SCHEMA);
	CHECK(fm_state_get(st, "harbour", &ss) == 0);
	CHECK(ss.has_rate && ss.rate.observed == 1);
	CHECK(ss.rate.fast_items == saved.fast_items && ss.rate.slow_time == saved.slow_time);
	CHECK(ss.observed_at_ms == T0 && ss.interval_ms == 7 * MIN);
	CHECK_STR(ss.reason, "3.2 new items/h");
	CHECK(ss.hints.ttl_s == 2700 && ss.hints.period_s == 1800 && ss.hints.has_base &&
	      ss.hints.base_s == 1704067200);
	CHECK(ss.has_item_keys && ss.n_item_keys == 3 && ss.item_keys[1] == 0x80000000u &&
	      ss.item_keys[2] == 0xffffffffu);
	CHECK_STR(ss.feed_url, "https://harbour.example.org/news.atom");
	CHECK(ss.feed_found_ms == T0 - MIN);
	CHECK_STR(ss.etag, "\"v9\"");
	fm_source_state_clear(&ss);
	/* an empty key set is known, not unknown */
	ss.url = strdup("https://x.example/");
	ss.has_item_keys = true;
	CHECK(fm_state_put(st, "empty", &ss) == 0);
	fm_source_state_clear(&ss);
	CHECK(fm_state_get(st, "empty", &ss) == 0);
	CHECK(ss.has_item_keys && ss.n_item_keys == 0);
	fm_source_state_clear(&ss);
	fm_state_close(st);

	/* an older feedmill saves the source again, naming only the columns it knows */
	sql(dir, "INSERT OR REPLACE INTO sources (name, url, etag, last_modified, last_error, "
	         "last_attempt, last_success, next_due, failures, items) VALUES ('harbour', "
	         "'https://harbour.example.org/feed', '\"v10\"', NULL, NULL, 1, 1, 2, 0, 43)");
	st = state_open("m-state");
	CHECK(fm_state_get(st, "harbour", &ss) == 0);
	CHECK_STR(ss.etag, "\"v10\"");
	CHECK(!ss.has_rate && !ss.has_item_keys && ss.feed_url == NULL);
	fm_source_state_clear(&ss);
	fm_state_close(st);
	free(dir);
}

int main(void)
{
	fm_log_set_level(FM_LOG_ERR);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_state_migration();
	fm_remove_tree(tmpdir);
	return fmt_done("test_state");
}
