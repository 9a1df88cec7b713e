/* The feedmill command line: one function per subcommand, each returning the exit status. */
#ifndef FM_CLI_H
#define FM_CLI_H

/* Exit codes (documented in README.md, "Exit status"). */
enum {
	FM_EXIT_OK = 0,
	FM_EXIT_FAILURE = 1, /* the command ran and failed (e.g. a stage could not start) */
	FM_EXIT_USAGE = 2,   /* bad command line */
	FM_EXIT_CONFIG = 3,  /* the configuration has errors (printed as FILE:LINE: message) */
};

int fm_cmd_run(int argc, char **argv);
int fm_cmd_check(int argc, char **argv);
int fm_cmd_stage(int argc, char **argv);
int fm_cmd_plugins(int argc, char **argv);
int fm_cmd_pipe(int argc, char **argv);
/* A command provided by a plugin (parse, extract, train, ...). -1 when no plugin has it. */
int fm_cmd_tool(const char *name, int argc, char **argv);
void fm_cli_list_tools(void);

/* True when argv holds -h or --help. */
int fm_cli_wants_help(int argc, char **argv);

#endif
