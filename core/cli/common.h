/* Option handling shared by the subcommands that read a configuration. */
#ifndef FM_CLI_COMMON_H
#define FM_CLI_COMMON_H

#include <stdbool.h>

#include "config.h"
#include "diag.h"
#include "loader.h"

struct cli_conf {
	const char *path;   /* -c FILE */
	bool no_config;     /* --no-config: the built-in configuration */
	char **sets;        /* --set STAGE.KEY=VALUE */
	int nset;
	const char *state_dir; /* --state-dir DIR */
};

/* Take -c/--config, --no-config, --set and --state-dir out of argv (compacting it).
 * Returns 0, or -1 after printing a usage error. */
int cli_conf_parse(struct cli_conf *c, int *argc, char **argv);
void cli_conf_free(struct cli_conf *c);

/* Load the configuration the options name (or the default one; with allow_builtin, the
 * built-in one when none is found); --state-dir applies, --set not yet (cli_apply_sets). Problems go to diag. NULL when there is
 * nothing to run with. */
struct fm_config *cli_load_config(const struct cli_conf *c, bool allow_builtin,
                                  struct fm_diag *diag);

/* Signals of a long-running command (run, pipe, stage): the first SIGTERM or SIGINT calls
 * on_stop (from the handler: it must be async-signal-safe), a second one exits at once with
 * status 1 (the state on disk is consistent at every moment). SIGPIPE, SIGHUP, SIGUSR1 and
 * SIGUSR2 are ignored: a stray signal must not kill a service. */
void cli_install_signals(void (*on_stop)(void));
/* For a stage process the core started: SIGHUP (its parent-death signal) stops it like a
 * first SIGTERM, however often it comes. */
void cli_stop_on_hangup(void);

/* Apply the --set assignments (after any stage they name exists). 0 or -1 (see diag). */
int cli_apply_sets(const struct cli_conf *c, struct fm_config *cfg, struct fm_diag *diag);

#endif
