/* `feedmill run` and `feedmill check`. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "common.h"
#include "filecheck.h"
#include "hub.h"
#include "log.h"
#include "scheduler.h"
#include "service.h"
#include "state.h"
#include "util.h"

/* Load and validate: 0, or the exit status after printing every problem. With files, the
 * plugins also load what their settings name (check(), ABI 1.3): `run` leaves that to init(),
 * which would read a large model twice otherwise. */
static int load_checked(const struct cli_conf *cc, struct fm_config **out, struct fm_loader *l,
                        bool files)
{
	struct fm_diag diag = {0};
	struct fm_config *cfg = cli_load_config(cc, false, &diag);
	if (cfg) {
		cli_apply_sets(cc, cfg, &diag);
		fm_loader_init(l, cfg->plugin_dir);
		fm_config_validate(cfg, l, &diag);
		if (files)
			fm_config_check_files(cfg, &diag);
		if (!cfg->stages)
			fm_diag_add(&diag, cfg->path, 0, "no [stage NAME] sections: nothing to run");
	}
	if (diag.n || !cfg) {
		fm_diag_print(&diag, stderr);
		fprintf(stderr, "feedmill: %zu problem%s in the configuration\n", diag.n,
		        diag.n == 1 ? "" : "s");
		fm_diag_free(&diag);
		fm_config_free(cfg);
		if (cfg)
			fm_loader_fini(l);
		return FM_EXIT_CONFIG;
	}
	*out = cfg;
	return 0;
}

int fm_cmd_check(int argc, char **argv)
{
	struct cli_conf cc;
	if (fm_cli_wants_help(argc, argv)) {
		printf("usage: feedmill check [-c FILE] [--set STAGE.KEY=VALUE]...\n"
		       "Read the configuration and its includes, load every stage's plugin, check\n"
		       "every setting and load the files the settings name (rules, models). Prints\n"
		       "each problem as FILE:LINE: message; exit status 3 when there is any, 0 when\n"
		       "the configuration can run.\n");
		return FM_EXIT_OK;
	}
	if (cli_conf_parse(&cc, &argc, argv) != 0 || argc > 1) {
		if (argc > 1)
			fprintf(stderr, "feedmill check: unexpected argument '%s'\n", argv[1]);
		cli_conf_free(&cc);
		return FM_EXIT_USAGE;
	}
	struct fm_config *cfg = NULL;
	struct fm_loader l;
	int rc = load_checked(&cc, &cfg, &l, true);
	if (rc == 0) {
		int ns = 0, nst = 0, no = 0;
		for (struct fm_source_cfg *s = cfg->sources; s; s = s->next)
			ns++;
		for (struct fm_stage_cfg *s = cfg->stages; s; s = s->next)
			nst++;
		for (struct fm_stage_cfg *s = cfg->outputs; s; s = s->next)
			no++;
		printf("%s: OK (%d sources, %d stages, %d outputs)\n", cfg->path, ns, nst, no);
		fm_config_free(cfg);
		fm_loader_fini(&l);
	}
	cli_conf_free(&cc);
	return rc;
}

int fm_cmd_run(int argc, char **argv)
{
	struct cli_conf cc;
	bool once = false;
	if (fm_cli_wants_help(argc, argv)) {
		printf("usage: feedmill run [-c FILE] [--once] [--set STAGE.KEY=VALUE]... "
		       "[--state-dir DIR]\n"
		       "Poll the configured sources and run their documents through the stages.\n"
		       "  -c FILE     the configuration (default: $FEEDMILL_CONFIG, ./pipeline.conf,\n"
		       "              then the system one)\n"
		       "  --once      poll every source once, drain the pipeline, print a summary, exit\n"
		       "  --set S.K=V override a stage setting\n"
		       "SIGTERM or SIGINT drains the documents in flight and exits 0; a second one exits\n"
		       "at once. Exit status: 0 done, 1 failure, 2 usage, 3 configuration error.\n");
		return FM_EXIT_OK;
	}
	if (cli_conf_parse(&cc, &argc, argv) != 0)
		return FM_EXIT_USAGE;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--once") == 0) {
			once = true;
		} else {
			fprintf(stderr, "feedmill run: unexpected argument '%s'\n", argv[i]);
			cli_conf_free(&cc);
			return FM_EXIT_USAGE;
		}
	}
	struct fm_config *cfg = NULL;
	struct fm_loader l;
	int rc = load_checked(&cc, &cfg, &l, false);
	if (rc != 0) {
		cli_conf_free(&cc);
		return rc;
	}
	if (!cfg->sources)
		log_warn("%s has no [source NAME] sections: nothing will be polled", cfg->path);
	char err[512];
	/* One feedmill per state folder: a second one would poll and publish everything twice. */
	int lock = fm_mkdirs(cfg->state_dir, 0750);
	if (lock == 0)
		lock = fm_lock_file(cfg->state_dir, "feedmill.lock", 0, "another feedmill");
	struct fm_state *state = NULL;
	if (lock < 0) {
		log_err("%s: %s", cfg->state_dir,
		        lock == -EWOULDBLOCK ? "another feedmill is running with this state folder"
		                             : strerror(-lock));
		rc = FM_EXIT_FAILURE;
		goto out_unlocked;
	}
	state = fm_state_open(cfg->state_dir, err, sizeof(err));
	struct fm_scheduler *sched = NULL;
	struct fm_hub *hub = NULL;
	rc = FM_EXIT_FAILURE;
	if (!state) {
		log_err("%s", err);
		goto out;
	}
	sched = fm_sched_new(cfg, state, once, fm_now_ms());
	if (!sched)
		goto out;
	cli_install_signals(fm_hub_request_stop);
	struct fm_hub_opts opts = {
		.config_path = cfg->path,
		.set_args = cc.sets,
		.nset = cc.nset,
		.state_dir = cfg->state_dir,
		.sched = sched,
		.input_fd = -1,
		.systemd = fm_service_managed(),
	};
	hub = fm_hub_new(cfg, cfg->stages, &opts);
	if (!hub)
		goto out;
	char *shown = fm_path_tidy(cfg->state_dir);
	log_notice("running: %zu sources, state in %s", fm_sched_count(sched),
	           shown ? shown : cfg->state_dir);
	free(shown);
	int hr = fm_hub_run(hub);
	rc = hr == 0 ? FM_EXIT_OK : FM_EXIT_FAILURE;
	if (once)
		fm_hub_summary(hub, stdout);
	else
		log_notice("stopped");
out:
	fm_hub_free(hub);
	fm_sched_free(sched);
	fm_state_close(state);
	close(lock);
out_unlocked:
	fm_config_free(cfg);
	fm_loader_fini(&l);
	cli_conf_free(&cc);
	return rc;
}
