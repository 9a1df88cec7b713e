/* `feedmill pipe STAGE...`: JSON Lines from stdin through the named stages to stdout, with the
 * same hub and workers as `feedmill run`. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common.h"
#include "hub.h"
#include "log.h"
#include "util.h"

int fm_cmd_pipe(int argc, char **argv)
{
	struct cli_conf cc;
	bool summary = false;
	if (fm_cli_wants_help(argc, argv)) {
		printf("usage: feedmill pipe [-c FILE] [--set STAGE.KEY=VALUE]... [--state-dir DIR] "
		       "[--summary] STAGE...\n"
		       "Read documents (JSON Lines) on stdin, run them through the named stages in\n"
		       "order and write what comes out as JSON Lines on stdout. A STAGE is a stage of\n"
		       "the configuration (default: $FEEDMILL_CONFIG or ./pipeline.conf if present),\n"
		       "or a plugin kind (dedupe, clean, ...) run with its defaults.\n"
		       "State is kept in a temporary directory unless --state-dir is given, so a pipe\n"
		       "remembers nothing between runs by default.\n"
		       "  --summary   print what each stage did on stderr at the end\n");
		return FM_EXIT_OK;
	}
	if (cli_conf_parse(&cc, &argc, argv) != 0)
		return FM_EXIT_USAGE;
	int nnames = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--summary") == 0) {
			summary = true;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "feedmill pipe: unknown option '%s'\n", argv[i]);
			cli_conf_free(&cc);
			return FM_EXIT_USAGE;
		} else {
			argv[1 + nnames++] = argv[i];
		}
	}
	if (nnames == 0) {
		fprintf(stderr, "usage: feedmill pipe [-c FILE] [--set STAGE.KEY=VALUE]... STAGE...\n");
		cli_conf_free(&cc);
		return FM_EXIT_USAGE;
	}

	struct fm_diag diag = {0};
	struct fm_loader l = {0};
	struct fm_stage_cfg **chain = calloc((size_t)nnames, sizeof(*chain));
	struct fm_stage_cfg *copies = calloc((size_t)nnames, sizeof(*copies));
	struct fm_hub *hub = NULL;
	char *tmp_state = NULL;
	int rc = FM_EXIT_CONFIG;
	struct fm_config *cfg = cli_load_config(&cc, true, &diag);
	if (!cfg || !chain || !copies)
		goto report;
	fm_loader_init(&l, cfg->plugin_dir);
	for (int i = 0; i < nnames; i++)
		chain[i] = fm_config_ensure_stage(cfg, &l, argv[1 + i], &diag);
	cli_apply_sets(&cc, cfg, &diag);
	for (int i = 0; i < nnames; i++)
		if (chain[i])
			fm_config_validate_stage(cfg, chain[i], &l, &diag);
report:
	if (diag.n || !cfg) {
		fm_diag_print(&diag, stderr);
		goto out;
	}
	/* The chain is this command's own order, whatever the configuration's is. */
	for (int i = 0; i < nnames; i++) {
		copies[i] = *chain[i];
		copies[i].next = i + 1 < nnames ? &copies[i + 1] : NULL;
		copies[i].is_output = false;
	}
	if (!cc.state_dir) {
		char tmpl[] = "/tmp/feedmill-pipe-XXXXXX";
		if (!mkdtemp(tmpl)) {
			log_err("cannot create a temporary state directory: %m");
			rc = FM_EXIT_FAILURE;
			goto out;
		}
		tmp_state = strdup(tmpl);
		free(cfg->state_dir);
		cfg->state_dir = strdup(tmpl);
	}
	cli_install_signals(fm_hub_request_stop);
	static char outbuf[1 << 16];
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	struct fm_hub_opts opts = {
		.config_path = cfg->path,
		.set_args = cc.sets,
		.nset = cc.nset,
		.state_dir = cfg->state_dir,
		.input_fd = 0,
		.output = stdout,
		.temporary_state = tmp_state != NULL,
	};
	rc = FM_EXIT_FAILURE;
	hub = fm_hub_new(cfg, &copies[0], &opts);
	if (!hub)
		goto out;
	rc = fm_hub_run(hub) == 0 ? FM_EXIT_OK : FM_EXIT_FAILURE;
	if (fflush(stdout) != 0 && rc == FM_EXIT_OK) {
		log_err("cannot write the output: %m");
		rc = FM_EXIT_FAILURE;
	}
	if (summary)
		fm_hub_summary(hub, stderr);
out:
	fm_hub_free(hub);
	if (tmp_state) {
		fm_remove_tree(tmp_state);
		free(tmp_state);
	}
	free(copies);
	free(chain);
	fm_diag_free(&diag);
	fm_config_free(cfg);
	fm_loader_fini(&l);
	cli_conf_free(&cc);
	return rc;
}
