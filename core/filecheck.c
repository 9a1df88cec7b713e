#include "filecheck.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "options.h"
#include "util.h"

struct check_run {
	struct fm_diag *diag;
	const struct fm_stage_cfg *st;
	const struct fm_plugin *p;
	size_t added;
};

/* Whether msg contains the value of setting s as the plugin got it (a path resolved against
 * the folder of its file); the value's length in *len. Only text and path options count:
 * a number or a yes would be found in any message. */
static bool names_value(const struct check_run *c, const struct fm_setting *s, const char *msg,
                        size_t *len)
{
	const struct fm_option *o = fm_option_find(c->p->options, s->key);
	if (!o || (o->type != FM_OPT_PATH && o->type != FM_OPT_STR))
		return false;
	char err[256];
	char *dir = s->file ? fm_path_dirname(s->file) : NULL;
	json_t *v = fm_option_value_json(o, s->value, dir, err, sizeof(err));
	free(dir);
	const char *text = json_string_value(v);
	*len = text ? strlen(text) : 0;
	bool found = *len && strstr(msg, text);
	json_decref(v);
	return found;
}

/* The setting a message is about: of those whose value it contains, the longest value
 * ("rules.d/a.rules" rather than "a.rules"), and of equals the last (the one in force). */
static const struct fm_setting *named_setting(const struct check_run *c, const char *msg)
{
	const struct fm_setting *best = NULL;
	size_t best_len = 0, len;
	for (const struct fm_setting *s = c->st->options; s; s = s->next)
		if (names_value(c, s, msg, &len) && len >= best_len) {
			best = s;
			best_len = len;
		}
	return best;
}

static void on_message(void *arg, const char *msg)
{
	struct check_run *c = arg;
	const struct fm_setting *s = named_setting(c, msg);
	if (s)
		fm_diag_add(c->diag, s->file ? s->file : "--set", s->line, "%s: %s", s->key, msg);
	else
		fm_diag_add(c->diag, c->st->file, c->st->line, "%s '%s': %s",
		            c->st->is_output ? "output" : "stage", c->st->name, msg);
	c->added++;
}

static void check_stage(const struct fm_stage_cfg *st, struct fm_diag *diag)
{
	const struct fm_plugin *p = st->loaded ? &st->loaded->desc : NULL;
	/* A remote stage reads its files on its own host (`feedmill stage NAME` there), where a
	 * path may well exist that does not here. */
	if (!p || !p->check || st->mode == FM_MODE_REMOTE)
		return;
	/* Options the table refused are reported by validation already: a plugin is only asked
	 * about settings that would reach its init(). */
	struct fm_diag ignored = {0};
	void *config = fm_plugin_config_new(p, st->options, &ignored);
	fm_diag_free(&ignored);
	if (!config)
		return;
	/* No state directory: a check must not create one (host->state_dir() answers NULL). */
	fm_instance *inst = fm_instance_new(st->loaded, st->name, 0, 1, NULL, config);
	if (!inst) {
		fm_plugin_config_free(p, config);
		fm_diag_add(diag, st->file, st->line, "out of memory");
		return;
	}
	struct check_run c = {diag, st, p, 0};
	fm_instance_capture_log(inst, FM_LOG_ERR, on_message, &c);
	int rc = fm_instance_check(inst);
	fm_instance_free(inst);
	if (rc < 0 && c.added == 0)
		fm_diag_add(diag, st->file, st->line, "%s '%s': plugin %s refuses its settings: %s",
		            st->is_output ? "output" : "stage", st->name, st->plugin, strerror(-rc));
}

int fm_config_check_files(const struct fm_config *cfg, struct fm_diag *diag)
{
	size_t before = diag->n;
	for (int out = 0; out < 2; out++)
		for (const struct fm_stage_cfg *st = out ? cfg->outputs : cfg->stages; st;
		     st = st->next)
			check_stage(st, diag);
	return diag->n > before ? -EINVAL : 0;
}
