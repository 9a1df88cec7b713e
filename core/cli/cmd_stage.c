/* `feedmill stage NAME`: one stage's worker as its own process, started by the core (process
 * mode) or by hand on another host (remote mode). */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "cli.h"
#include "common.h"
#include "instance.h"
#include "log.h"
#include "util.h"
#include "worker.h"

static atomic_int stage_stop;

/* SIGTERM: stop at once (the document in hand is cut short when the plugin looks at
 * host->stopping(), and delivered again), save the state, exit. */
static void on_stop(void)
{
	atomic_store(&stage_stop, 1);
}

int fm_cmd_stage(int argc, char **argv)
{
	struct cli_conf cc;
	const char *name = NULL, *work = NULL, *results = NULL;
	int index = 0;
	bool temporary = false;
	if (fm_cli_wants_help(argc, argv)) {
		printf("usage: feedmill stage NAME [-c FILE] [--set STAGE.KEY=VALUE]... [--worker N]\n"
		       "Run stage NAME's plugin as a worker process. For a stage with run_as = remote,\n"
		       "start this on the remote host with the same configuration: it connects to\n"
		       "the stage's `connect` endpoint (documents) and the next port (results).\n"
		       "  --worker N   this worker's index, when a stage has several\n"
		       "SIGTERM cuts the document in hand short (it is delivered again), saves the\n"
		       "plugin's state and exits 0; a second one exits at once. SIGHUP (a process\n"
		       "the core started gets it when the core dies) stops it like a first SIGTERM.\n");
		return FM_EXIT_OK;
	}
	if (cli_conf_parse(&cc, &argc, argv) != 0)
		return FM_EXIT_USAGE;
	for (int i = 1; i < argc; i++) {
		bool next = i + 1 < argc;
		if (strcmp(argv[i], "--worker") == 0 && next)
			index = atoi(argv[++i]);
		else if (strcmp(argv[i], "--work") == 0 && next)
			work = argv[++i];
		else if (strcmp(argv[i], "--results") == 0 && next)
			results = argv[++i];
		else if (strcmp(argv[i], "--temporary-state") == 0)
			temporary = true;
		else if (argv[i][0] != '-' && !name)
			name = argv[i];
		else {
			fprintf(stderr, "feedmill stage: unexpected argument '%s'\n", argv[i]);
			cli_conf_free(&cc);
			return FM_EXIT_USAGE;
		}
	}
	if (!name) {
		fprintf(stderr, "usage: feedmill stage NAME [-c FILE]\n");
		cli_conf_free(&cc);
		return FM_EXIT_USAGE;
	}

	struct fm_diag diag = {0};
	struct fm_loader l = {0};
	struct fm_stage_cfg *st = NULL;
	fm_instance *inst = NULL;
	void *zctx = NULL;
	char *res_alloc = NULL;
	int rc = FM_EXIT_CONFIG;
	struct fm_config *cfg = cli_load_config(&cc, true, &diag);
	if (cfg) {
		fm_loader_init(&l, cfg->plugin_dir);
		st = fm_config_ensure_stage(cfg, &l, name, &diag);
		cli_apply_sets(&cc, cfg, &diag);
		if (st)
			fm_config_validate_stage(cfg, st, &l, &diag);
	}
	if (diag.n || !st) {
		fm_diag_print(&diag, stderr);
		goto out;
	}
	if (!work) {
		if (st->mode != FM_MODE_REMOTE || !st->connect) {
			fprintf(stderr,
			        "feedmill stage: stage %s is not remote: give it run_as = remote with bind "
			        "and connect (or let `feedmill run` start it)\n",
			        name);
			goto out;
		}
		work = st->connect;
		results = res_alloc = fm_endpoint_next_port(st->connect);
	}
	void *config = fm_plugin_config_new(&st->loaded->desc, st->options, &diag);
	if (!config) {
		fm_diag_print(&diag, stderr);
		goto out;
	}
	char *sdir_rel = NULL;
	char *sdir = NULL;
	if (asprintf(&sdir_rel, "stages/%s", name) >= 0)
		sdir = fm_path_join(cfg->state_dir, sdir_rel);
	free(sdir_rel);
	inst = fm_instance_new(st->loaded, name, index, st->workers, sdir, config);
	free(sdir);
	if (inst) {
		fm_instance_set_temporary_state(inst, temporary);
		fm_instance_set_in_process(inst, 1); /* a worker process of its own */
	}
	if (!inst || fm_instance_start(inst) != 0)
		goto out;

	cli_install_signals(on_stop);
	cli_stop_on_hangup();

	zctx = zmq_ctx_new();
	struct fm_worker_spec spec = {
		.stage = name,
		.index = index,
		.zctx = zctx,
		.work_ep = work,
		.result_ep = results,
		.max_doc_size = cfg->max_doc_size,
		.stop = &stage_stop,
		.output = st->is_output,
		.commit_ms = cfg->commit_interval_ms,
	};
	log_info("stage %s worker %d: pulling from %s, answering to %s", name, index, work, results);
	rc = fm_worker_loop(inst, &spec) == 0 ? FM_EXIT_OK : FM_EXIT_FAILURE;
out:
	fm_instance_free(inst);
	if (zctx)
		zmq_ctx_term(zctx);
	free(res_alloc);
	fm_diag_free(&diag);
	fm_config_free(cfg);
	fm_loader_fini(&l);
	cli_conf_free(&cc);
	return rc;
}
