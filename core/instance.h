/*
 * A running instance of a plugin, and the host table plugins call back into. Used by stage
 * workers, by plugin commands, and by the test harness: all run plugins the same way.
 */
#ifndef FM_CORE_INSTANCE_H
#define FM_CORE_INSTANCE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <feedmill/plugin.h>

#include "diag.h"
#include "loader.h"
#include "options.h"

struct fm_count; /* envelope.h */
typedef struct fm_out fm_held; /* a document a plugin answers later (ABI 1.4) */

const fm_host *fm_host_table(void);

/* A zeroed config struct for p filled from defaults and settings; NULL after reporting every
 * problem to diag. Free with fm_plugin_config_free(). */
void *fm_plugin_config_new(const struct fm_plugin *p, const struct fm_setting *settings,
                    struct fm_diag *diag);
void fm_plugin_config_free(const struct fm_plugin *p, void *config);

/* Create an instance of plugin for stage `stage` (worker index of count). Takes config.
 * state_dir: the stage's state directory (created on demand). Does not call init(). */
fm_instance *fm_instance_new(const struct fm_loaded_plugin *plugin, const char *stage, int index,
                             int count, const char *state_dir, void *config);
/* Call the plugin's init(). 0 or its negative error. */
int fm_instance_start(fm_instance *inst);
/* The plugin's prepare() of doc (NULL when it has none), and its release(). prepare may run
 * on any thread (plugin.h). */
void *fm_plugin_prepare(const struct fm_plugin *p, const void *config, const json_t *doc);
void fm_plugin_release(const struct fm_plugin *p, void *prepared);
/* What one process() call passes on: n document references, in order. */
struct fm_emitted {
	json_t **v;
	size_t n, cap;
	json_t *small[2]; /* v points here until more are emitted */
};
void fm_emitted_init(struct fm_emitted *e);
/* Drop the references and what holds them; e is empty and usable again. */
void fm_emitted_clear(struct fm_emitted *e);

/* Run one document; steals doc. token: the delivery's, for acknowledgements (0: none). *prepared: what fm_plugin_prepare() gave for it on another
 * thread, or NULL to have it prepared here. The plugin borrows it (host->prepared) or takes it
 * (host->take_prepared: *prepared is then NULL on return); what is left is still the caller's
 * to release, on whichever thread it likes. out (empty, fm_emitted_init): what goes on
 * downstream, in order (the input first when the plugin passes it). *report: new object of
 * reported values, or NULL when nothing was reported. Returns enum fm_status (an invalid
 * return is FM_ERROR). */
int fm_instance_process(fm_instance *inst, json_t *doc, const char *text, size_t text_len,
                        uint64_t token, void **prepared, struct fm_emitted *out,
                        json_t **report, fm_held **held);

/* ABI 1.4, documents answered later. With held non-NULL, process() may return FM_PENDING:
 * *held is then the handle (doc, out and report untouched: they come through on_complete);
 * with held NULL a held document is answered FM_RETRY at once. */
/* status (final, as fm_instance_process() would return it), docs (what goes on, the input
 * first on FM_PASS: the callee takes the references it keeps and clears docs), report (a
 * reference, or NULL: the callee's). user: what fm_held_set_user() stored. */
typedef void (*fm_complete_fn)(void *arg, void *user, int status, struct fm_emitted *docs,
                               json_t *report);
/* host->progress() of a held document: user as fm_held_set_user() stored it; arg as given to
 * fm_instance_on_complete(). */
typedef void (*fm_progress_fn)(void *arg, void *user);
void fm_instance_on_complete(fm_instance *inst, fm_complete_fn fn, void *arg);
void fm_instance_on_progress(fm_instance *inst, fm_progress_fn fn);
/* How many workers of the stage share this process (host->workers_in_process): the count
 * given to fm_instance_new() unless set. */
void fm_instance_set_in_process(fm_instance *inst, int n);
void fm_held_set_user(fm_held *h, void *user);
size_t fm_instance_held(const fm_instance *inst);
/* Whether the plugin answers later (it has wait and step). */
bool fm_instance_waits(const fm_instance *inst);
/* What to wait for before fm_instance_step() (fd -1 and timeout -1: nothing). */
void fm_instance_wait(fm_instance *inst, struct fm_wait *w);
void fm_instance_step(fm_instance *inst);
/* Whether the plugin takes acknowledgements (plugin.h, ack). */
bool fm_instance_wants_acks(const fm_instance *inst);
/* Hand the plugin acknowledgements of the deliveries named by tokens[0..n): settled, or
 * failed downstream (plugin.h, ack). */
void fm_instance_ack(fm_instance *inst, const uint64_t *tokens, size_t n, bool failed);
/* The flag host->stopping() reads for this instance (the stage's stop flag); NULL: never. */
void fm_instance_set_stop_flag(fm_instance *inst, const atomic_int *stop);
void fm_instance_tick(fm_instance *inst, int64_t now_ms);
void fm_instance_flush(fm_instance *inst);
/* An output's commit (plugin.h): commit(), else flush(). 0 or its negative errno. */
int fm_instance_commit(fm_instance *inst);
/* fini() (when started), then free everything. */
void fm_instance_free(fm_instance *inst);

/* Until called again with fn NULL, what the plugin logs at `level` or more urgent goes to fn
 * (the line formatted, at most 1 KB, lent for the call) instead of stderr: `feedmill check`
 * turns a plugin's complaints into problems of the configuration. */
void fm_instance_capture_log(fm_instance *inst, int level,
                             void (*fn)(void *arg, const char *msg), void *arg);
/* The plugin's check() (ABI 1.3) of the instance's settings; 0 when it has none. Needs no
 * init(). */
int fm_instance_check(fm_instance *inst);

/* The state directory is removed at exit (host->state_persistent() answers 0). */
void fm_instance_set_temporary_state(fm_instance *inst, bool temporary);
const char *fm_instance_name(const fm_instance *inst);
const struct fm_loaded_plugin *fm_instance_plugin(const fm_instance *inst);
const void *fm_instance_config(const fm_instance *inst);
/* Counters changed since the last call into out[0..max) (names are static strings); returns
 * how many. */
size_t fm_instance_take_counts(fm_instance *inst, struct fm_count *out, size_t max);

#endif
