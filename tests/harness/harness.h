/*
 * Test harness: load one plugin from the build tree through the real core loader and run
 * documents through one instance of it, exactly as a stage worker would (same host table, same
 * option parsing). Link tests with `harness_dep` (tests/meson.build).
 *
 * The plugin directory comes from $FEEDMILL_PLUGIN_DIR, which tests/meson.build sets to the
 * build tree's plugins/ folder.
 */
#ifndef FM_TEST_HARNESS_H
#define FM_TEST_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

typedef struct fmt_stage fmt_stage;

/* Load plugin `plugin` ("dedupe_similar") and create an instance with the given settings,
 * "key=value" strings (NULL-terminated array, may be NULL), validated against the plugin's
 * option table as pipeline.conf would be. state_dir: where host->state_dir() points (created);
 * NULL makes a fresh temporary one, removed by fmt_stage_close(). Returns NULL and prints why
 * on failure. */
fmt_stage *fmt_stage_open(const char *plugin, const char *const *settings, const char *state_dir);

/* Run one document through process(). Steals doc. *out receives a new JSON array of what
 * went on downstream in order (the input first when the plugin returned FM_PASS, then what it
 * emitted... exactly what a worker would forward); *report (may be NULL) a new object of what
 * the plugin reported. Returns the enum fm_status the plugin returned. */
int fmt_stage_process(fmt_stage *s, json_t *doc, json_t **out, json_t **report);

/* The same as a delivery with the given token (host->delivery()): the harness numbers its
 * deliveries 1, 2, ... so a test can deliver a document again with the token it had. */
int fmt_stage_process_as(fmt_stage *s, json_t *doc, uint64_t token, json_t **out,
                         json_t **report);
/* The token of the last delivery fmt_stage_process() made. */
uint64_t fmt_stage_last_delivery(const fmt_stage *s);
/* An output's commit, as the worker makes it (plugin.h, commit): 0 or a negative errno. */
int fmt_stage_commit(fmt_stage *s);
/* Acknowledge a delivery to the plugin (plugin.h, ack): settled, or failed downstream. */
void fmt_stage_ack(fmt_stage *s, uint64_t token, bool failed);

/* Convenience: parse `json_text` as the document. Aborts the test on invalid JSON. */
int fmt_stage_process_str(fmt_stage *s, const char *json_text, json_t **out, json_t **report);

/* Call flush() then fini(); removes a temporary state dir. */
void fmt_stage_close(fmt_stage *s);

/* CHECK, CHECK_STR, fmt_failures and fmt_done() */
#include "check.h"

/* Read a whole file from tests/data (FM_TEST_DATA_DIR, set by meson) into a NUL-terminated
 * buffer; aborts on failure. *len may be NULL. Caller frees. */
char *fmt_read_data(const char *relpath, size_t *len);

#endif
