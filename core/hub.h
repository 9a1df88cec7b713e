/*
 * The hub: the core's side of the transport. It binds one ZeroMQ PUSH socket per stage (the
 * stage's workers pull from it, round-robin) and one PULL socket for all results, and routes
 * every result to the next stage, or to every output after the last stage.
 *
 * Because every hop passes through it, the hub knows each document in flight: it bounds them
 * per stage (max_in_flight) and in all (queue_limit), redelivers a document whose worker died,
 * timed out or asked to retry (up to max_attempts), counts what every stage did, and tells the
 * scheduler when all documents of a fetch have left the pipeline (the acknowledgement).
 *
 * Workers run as threads (inproc://), child processes it starts, watches and restarts (ipc://),
 * or remote processes that connect to it (tcp://); the plugin code is the same in every mode.
 */
#ifndef FM_CORE_HUB_H
#define FM_CORE_HUB_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "loader.h"
#include "scheduler.h"

struct fm_hub;

struct fm_hub_opts {
	const char *config_path;  /* for child processes (NULL: built-in configuration) */
	char *const *set_args;    /* --set assignments to hand on to child processes */
	int nset;
	const char *state_dir;    /* where stages keep state and ipc sockets live */
	struct fm_scheduler *sched; /* the source of fetch requests (run), or NULL */
	int input_fd;             /* JSON Lines input instead of a scheduler (pipe), or -1 */
	FILE *output;             /* where documents leaving the last stage go (pipe), or NULL */
	bool systemd;             /* send sd_notify READY/STOPPING/WATCHDOG */
	bool temporary_state;     /* state_dir is removed at exit (pipe) */
};

/* Set up sockets and start every stage's workers. stages: the chain to run (normally
 * cfg->stages; `pipe` passes its own). Returns NULL after logging why. */
struct fm_hub *fm_hub_new(struct fm_config *cfg, struct fm_stage_cfg *chain,
                          const struct fm_hub_opts *opts);
/* Route until the work is done (once / end of input) or a stop is requested and drained.
 * Returns 0 when everything that came in went through, 1 when documents were given up after
 * max_attempts or abandoned at the drain timeout. */
int fm_hub_run(struct fm_hub *hub);
/* Ask the hub to stop taking work and drain (async-signal-safe). */
void fm_hub_request_stop(void);
/* Print what every stage did. */
void fm_hub_summary(struct fm_hub *hub, FILE *out);
/* Stop the workers (flush and fini every instance) and free everything. */
void fm_hub_free(struct fm_hub *hub);

#endif
