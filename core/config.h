/*
 * pipeline.conf: reading, and validation against the plugins' option tables.
 *
 * The format (documented for operators in README.md and config/pipeline.conf.md):
 *
 *   # comment                      ; comment
 *   key = value                    global settings before the first section
 *   include = sources.d/NAME.conf   more files (glob, relative to this file); each regular
 *                                  file is read once, known by device and inode: a second
 *                                  include of it, or a cycle, is reported at the include line
 *   [source NAME]                  a source: url, interval, min_interval, max_interval,
 *                                  rediscover_after, type, enabled, tags, and per-source
 *                                  overrides of the fetch plugin's options
 *   [stage NAME]                   the ordered stages: plugin, run_as, workers, bind, connect,
 *                                  timeout, max_in_flight, and the plugin's own options
 *   [output NAME]                  publishers: every document that leaves the last stage goes
 *                                  to every output (same keys as a stage)
 *
 * Values may be "quoted" (with \" \\ \n \t escapes); unquoted values end at " #".
 */
#ifndef FM_CORE_CONFIG_H
#define FM_CORE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "diag.h"
#include "interval.h"
#include "loader.h"
#include "options.h"

enum fm_stage_mode {
	FM_MODE_THREAD = 0,  /* worker threads in the main process (inproc://) */
	FM_MODE_PROCESS = 1, /* child processes feedmill starts, watches and restarts (ipc://) */
	FM_MODE_REMOTE = 2,  /* processes started by hand elsewhere: `feedmill stage NAME` (tcp://) */
};

struct fm_source_cfg {
	char *name;
	char *url;
	char *file; /* where the section starts */
	int line;
	char *type; /* auto | feed | html */
	/* interval, min_interval, max_interval: where its polls start and the range the adaptive
	 * interval keeps to (interval.h). What the source sets itself wins over the global
	 * defaults, which give way to it (fm_bounds_resolve). */
	struct fm_bounds bounds;
	int64_t rediscover_ms; /* a feed found on the page is polled directly this long */
	bool enabled;
	json_t *tags;             /* array of strings */
	struct fm_setting *extra; /* keys for the fetch plugin, typed in validation */
	json_t *options;          /* typed per-source overrides (after validation) */
	struct fm_source_cfg *next;
};

struct fm_stage_cfg {
	char *name;
	char *plugin; /* "clean_readable" */
	char *file;
	int line;
	bool is_output;
	enum fm_stage_mode mode;
	int workers;
	char *workers_file; /* where workers was set (NULL: not set; "--set": the command line) */
	int workers_line;
	char *bind;    /* remote: endpoint the core binds, tcp://0.0.0.0:PORT (results on PORT+1) */
	char *connect; /* remote: endpoint `feedmill stage` connects to, tcp://host:PORT */
	int64_t timeout_ms;    /* a document not answered in this time is redelivered */
	int64_t max_in_flight; /* documents handed to the stage and not yet answered */
	bool max_in_flight_set; /* by the configuration (else the plugin's default) */
	struct fm_setting *options; /* the plugin's own keys */
	const struct fm_loaded_plugin *loaded; /* set by validation */
	struct fm_stage_cfg *next;
};

struct fm_config {
	char *path; /* the main file, NULL for a built-in configuration */
	char *state_dir;
	char *plugin_dir;
	int log_level;
	int64_t default_interval_ms;
	int64_t min_interval_ms, max_interval_ms; /* defaults of the sources' bounds */
	int64_t rediscover_ms;   /* default of the sources' rediscover_after */
	double jitter;           /* fraction of the interval, 0..0.5 */
	int64_t max_backoff_ms;  /* ceiling of a failing source's backoff */
	int64_t drain_timeout_ms;
	int64_t commit_interval_ms; /* longest time an output holds what it took uncommitted */
	int64_t max_attempts;    /* deliveries of one document before it is given up */
	uint64_t max_doc_size;
	int64_t queue_limit;     /* documents waiting in the core for a stage */
	char *user_agent;
	struct fm_source_cfg *sources;
	struct fm_stage_cfg *stages;  /* in order */
	struct fm_stage_cfg *outputs; /* fan-out after the last stage */
};

/* Read a configuration file (and its includes). Every syntax problem and bad core value goes to
 * diag; returns NULL only when the file cannot be read at all. Plugins are not looked at. */
struct fm_config *fm_config_load(const char *path, struct fm_diag *diag);

/* Where the configuration is when not given: $FEEDMILL_CONFIG, ./pipeline.conf,
 * FM_SYSCONF_DIR/pipeline.conf. Loads the first that exists; NULL when none does (and then
 * nothing is added to diag) or it cannot be read. diag may be NULL (problems are ignored). */
struct fm_config *fm_config_load_default(const char *path, struct fm_diag *diag);
/* The path fm_config_load_default() would read, or NULL. Caller frees. */
char *fm_config_default_path(void);

/* A configuration with no sources and one stage per kind, for `feedmill pipe` without a
 * file: stage NAME uses the first plugin of kind NAME. */
struct fm_config *fm_config_builtin(void);

/* Apply "STAGE.KEY=VALUE" from the command line. 0, or -EINVAL after a diag entry. */
int fm_config_set(struct fm_config *cfg, const char *assignment, struct fm_diag *diag);

/* Load every stage's plugin and check every option, source override and mode; all problems go
 * to diag with FILE:LINE. Returns 0 when the configuration can run. */
int fm_config_validate(struct fm_config *cfg, struct fm_loader *loader, struct fm_diag *diag);

/* Check one stage: its plugin loads, its options are valid, its mode fits the plugin. */
void fm_config_validate_stage(struct fm_config *cfg, struct fm_stage_cfg *st,
                              struct fm_loader *l, struct fm_diag *diag);

struct fm_stage_cfg *fm_config_find_stage(struct fm_config *cfg, const char *name);
/* The stage called name; when the configuration has none, a stage of that name is added that
 * runs the first plugin of kind `name` with its defaults (`feedmill pipe dedupe`). NULL after a
 * diag entry when there is neither. */
struct fm_stage_cfg *fm_config_ensure_stage(struct fm_config *cfg, struct fm_loader *l,
                                            const char *name, struct fm_diag *diag);
void fm_config_free(struct fm_config *cfg);
const char *fm_stage_mode_name(enum fm_stage_mode m);

#endif
