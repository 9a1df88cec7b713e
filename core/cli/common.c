#include "common.h"

#include <signal.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm_build_config.h"
#include "log.h"

int cli_conf_parse(struct cli_conf *c, int *argc, char **argv)
{
	int out = 1;
	memset(c, 0, sizeof(*c));
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		bool has_next = i + 1 < *argc;
		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (!has_next)
				goto missing;
			c->path = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			c->path = a + 9;
		} else if (strcmp(a, "--no-config") == 0) {
			c->no_config = true;
		} else if (strcmp(a, "--set") == 0 || strncmp(a, "--set=", 6) == 0) {
			const char *v = a[5] == '=' ? a + 6 : NULL;
			if (!v) {
				if (!has_next)
					goto missing;
				v = argv[++i];
			}
			char **p = realloc(c->sets, ((size_t)c->nset + 1) * sizeof(*p));
			if (!p)
				return -1;
			c->sets = p;
			c->sets[c->nset++] = (char *)v;
		} else if (strcmp(a, "--state-dir") == 0) {
			if (!has_next)
				goto missing;
			c->state_dir = argv[++i];
		} else {
			argv[out++] = argv[i];
		}
		continue;
missing:
		fprintf(stderr, "feedmill: %s needs a value\n", a);
		return -1;
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

void cli_conf_free(struct cli_conf *c)
{
	free(c->sets);
	c->sets = NULL;
}

struct fm_config *cli_load_config(const struct cli_conf *c, bool allow_builtin,
                                  struct fm_diag *diag)
{
	struct fm_config *cfg = NULL;
	if (c->no_config) {
		cfg = fm_config_builtin();
	} else if (c->path) {
		cfg = fm_config_load(c->path, diag);
	} else {
		char *path = fm_config_default_path();
		if (path)
			cfg = fm_config_load(path, diag);
		else if (allow_builtin)
			cfg = fm_config_builtin();
		else
			fm_diag_add(diag, NULL, 0,
			            "no configuration found: give -c FILE (looked for $FEEDMILL_CONFIG, "
			            "./pipeline.conf and %s/pipeline.conf)",
			            FM_SYSCONF_DIR);
		free(path);
	}
	if (!cfg)
		return NULL;
	if (getenv("FEEDMILL_LOG_LEVEL") == NULL)
		fm_log_set_level(cfg->log_level);
	if (c->state_dir) {
		free(cfg->state_dir);
		cfg->state_dir = strdup(c->state_dir);
	}
	return cfg;
}

int cli_apply_sets(const struct cli_conf *c, struct fm_config *cfg, struct fm_diag *diag)
{
	int rc = 0;
	for (int i = 0; i < c->nset; i++)
		if (fm_config_set(cfg, c->sets[i], diag) != 0)
			rc = -1;
	return rc;
}

static void (*stop_hook)(void);
static volatile sig_atomic_t stop_signals;

static void on_stop_signal(int sig)
{
	(void)sig;
	if (stop_signals++ == 0) {
		if (stop_hook)
			stop_hook();
		return;
	}
	static const char msg[] = "<4>feedmill: second stop request: exiting now\n";
	ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)w;
	_exit(1);
}

void cli_install_signals(void (*on_stop)(void))
{
	stop_hook = on_stop;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
}

static void on_hangup(int sig)
{
	(void)sig;
	if (stop_hook)
		stop_hook();
}

void cli_stop_on_hangup(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_hangup;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
}
