/* Commands provided by plugins (`feedmill parse`, `extract`, `train`, ...): the core finds the
 * plugin that declares the command and runs it with the plugin's settings, so a tool runs the
 * same code as the stage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "instance.h"
#include "loader.h"
#include "log.h"

static void ignore_error(const char *msg, void *arg)
{
	(void)arg;
	log_debug("%s", msg);
}

void fm_cli_list_tools(void)
{
	struct fm_loader l;
	if (fm_loader_init(&l, NULL) != 0)
		return;
	fm_loader_load_all(&l, ignore_error, NULL);
	for (struct fm_loaded_plugin *p = l.loaded; p; p = p->next)
		for (const struct fm_command *c = p->desc.commands; c && c->name; c++)
			fprintf(stdout, "  %-29s %s (plugin %s)\n", c->usage ? c->usage : c->name,
			        c->summary ? c->summary : "", p->id);
	fm_loader_fini(&l);
}

/* Settings for the tool's plugin: those of the first stage of the configuration that uses it;
 * none (the plugin's defaults) without one. */
static struct fm_setting *settings_from_config(const struct fm_config *cfg, const char *plugin_id)
{
	struct fm_setting *copy = NULL;
	for (struct fm_stage_cfg *s = cfg ? cfg->stages : NULL; s; s = s->next) {
		if (!s->plugin || strcmp(s->plugin, plugin_id) != 0)
			continue;
		for (struct fm_setting *o = s->options; o; o = o->next)
			fm_setting_append(&copy, fm_setting_new(o->key, o->value, o->file, o->line));
		break;
	}
	return copy;
}

int fm_cmd_tool(const char *name, int argc, char **argv)
{
	struct fm_loader l;
	const struct fm_command *cmd = NULL;
	struct fm_diag diag = {0};
	int rc = FM_EXIT_FAILURE;

	/* The default configuration, when there is one, gives the plugin directory and the
	 * plugin's settings, as for `feedmill run`; its problems are `feedmill check`'s to tell. */
	struct fm_config *cfg = fm_config_load_default(NULL, NULL);
	if (fm_loader_init(&l, cfg ? cfg->plugin_dir : NULL) != 0) {
		fm_config_free(cfg);
		return FM_EXIT_FAILURE;
	}
	fm_loader_load_all(&l, ignore_error, NULL);
	const struct fm_loaded_plugin *p = fm_loader_find_command(&l, name, &cmd);
	if (!p) {
		fm_config_free(cfg);
		fm_loader_fini(&l);
		return -1;
	}
	struct fm_setting *settings = settings_from_config(cfg, p->id);
	fm_config_free(cfg);
	void *config = fm_plugin_config_new(&p->desc, settings, &diag);
	fm_settings_free(settings);
	if (!config) {
		fm_diag_print(&diag, stderr);
		fm_diag_free(&diag);
		fm_loader_fini(&l);
		return FM_EXIT_CONFIG;
	}
	fm_instance *inst = fm_instance_new(p, name, 0, 1, NULL, config);
	if (inst)
		rc = cmd->run(fm_host_table(), inst, config, argc, argv);
	fm_instance_free(inst); /* never started: frees config without fini() */
	fm_loader_fini(&l);
	return rc;
}
