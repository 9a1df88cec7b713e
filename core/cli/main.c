/* feedmill: entry point and subcommand dispatch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>
#include <zmq.h>

#include <feedmill/plugin.h>

#include "cli.h"
#include "fm_build_config.h"
#include "log.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: feedmill COMMAND [OPTIONS]\n"
	        "\n"
	        "Service:\n"
	        "  run [-c FILE] [--once]        poll the sources and run the pipeline\n"
	        "  check [-c FILE]               validate a configuration; print every problem\n"
	        "  stage NAME [-c FILE]          run one stage as a separate (remote) process\n"
	        "  plugins [-c FILE] [--describe] [NAME]   list plugins, their versions and options\n"
	        "  version                       print versions\n"
	        "\n"
	        "Tools:\n"
	        "  pipe [-c FILE] [--set STAGE.KEY=VALUE]... STAGE...\n"
	        "                                run JSON Lines from stdin through stages to stdout\n");
	fm_cli_list_tools();
	fprintf(out, "\n`feedmill COMMAND --help` shows a command's options.\n"
	             "Exit status: 0 success, 1 failure, 2 usage error, 3 configuration error.\n");
}

int fm_cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

static int cmd_version(void)
{
	int maj, min, pat;
	zmq_version(&maj, &min, &pat);
	printf("feedmill %s (plugin ABI %d.%d)\n", FM_VERSION, FM_ABI_MAJOR, FM_ABI_MINOR);
	printf("libzmq %d.%d.%d, jansson %s, sqlite %s\n", maj, min, pat, JANSSON_VERSION,
	       sqlite3_libversion());
	return FM_EXIT_OK;
}

int main(int argc, char **argv)
{
	const char *lvl = getenv("FEEDMILL_LOG_LEVEL");
	if (lvl && fm_log_level_parse(lvl) > 0)
		fm_log_set_level(fm_log_level_parse(lvl));

	if (argc < 2) {
		usage(stderr);
		return FM_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return FM_EXIT_OK;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
		return cmd_version();
	argc--;
	argv++;
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{"run", fm_cmd_run},       {"check", fm_cmd_check}, {"stage", fm_cmd_stage},
		{"plugins", fm_cmd_plugins}, {"pipe", fm_cmd_pipe},
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmd, cmds[i].name) == 0)
			return cmds[i].fn(argc, argv);
	int rc = fm_cmd_tool(cmd, argc, argv);
	if (rc >= 0)
		return rc;
	fprintf(stderr, "feedmill: unknown command '%s' (see feedmill --help)\n", cmd);
	return FM_EXIT_USAGE;
}
