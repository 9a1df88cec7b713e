#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "instance.h"
#include "loader.h"
#include "log.h"
#include "options.h"
#include "util.h"

struct fmt_stage {
	struct fm_loader loader;
	fm_instance *inst;
	char *tmp_state;
	uint64_t deliveries;
};

fmt_stage *fmt_stage_open(const char *plugin, const char *const *settings, const char *state_dir)
{
	const char *lvl = getenv("FEEDMILL_LOG_LEVEL");
	fm_log_set_level(lvl && fm_log_level_parse(lvl) > 0 ? fm_log_level_parse(lvl) : FM_LOG_WARN);

	fmt_stage *s = calloc(1, sizeof(*s));
	struct fm_setting *list = NULL;
	struct fm_diag diag = {0};
	char err[512];
	if (!s)
		return NULL;
	fm_loader_init(&s->loader, NULL);
	const struct fm_loaded_plugin *p = fm_loader_get(&s->loader, plugin, err, sizeof(err));
	if (!p) {
		fprintf(stderr, "harness: %s\n", err);
		goto fail;
	}
	for (size_t i = 0; settings && settings[i]; i++) {
		const char *eq = strchr(settings[i], '=');
		if (!eq) {
			fprintf(stderr, "harness: setting '%s' has no '='\n", settings[i]);
			goto fail;
		}
		char *key = strndup(settings[i], (size_t)(eq - settings[i]));
		fm_setting_append(&list, fm_setting_new(key, eq + 1, NULL, 0));
		free(key);
	}
	void *config = fm_plugin_config_new(&p->desc, list, &diag);
	if (!config) {
		fm_diag_print(&diag, stderr);
		goto fail;
	}
	if (!state_dir) {
		char tmpl[] = "/tmp/fm-test-state-XXXXXX";
		if (!mkdtemp(tmpl)) {
			fm_plugin_config_free(&p->desc, config);
			goto fail;
		}
		s->tmp_state = strdup(tmpl);
		state_dir = s->tmp_state;
	}
	s->inst = fm_instance_new(p, p->desc.kind, 0, 1, state_dir, config);
	if (!s->inst || fm_instance_start(s->inst) != 0)
		goto fail;
	fm_settings_free(list);
	fm_diag_free(&diag);
	return s;
fail:
	fm_settings_free(list);
	fm_diag_free(&diag);
	fmt_stage_close(s);
	return NULL;
}

int fmt_stage_process(fmt_stage *s, json_t *doc, json_t **out, json_t **report)
{
	return fmt_stage_process_as(s, doc, ++s->deliveries, out, report);
}

uint64_t fmt_stage_last_delivery(const fmt_stage *s)
{
	return s->deliveries;
}

int fmt_stage_commit(fmt_stage *s)
{
	return fm_instance_commit(s->inst);
}

void fmt_stage_ack(fmt_stage *s, uint64_t token, bool failed)
{
	fm_instance_ack(s->inst, &token, 1, failed);
}

int fmt_stage_process_as(fmt_stage *s, json_t *doc, uint64_t token, json_t **out,
                         json_t **report)
{
	json_t *rep = NULL;
	struct fm_emitted e;
	fm_emitted_init(&e);
	int rc = fm_instance_process(s->inst, doc, token, NULL, &e, &rep, NULL);
	*out = json_array();
	for (size_t i = 0; i < e.n; i++)
		json_array_append(*out, e.v[i]);
	fm_emitted_clear(&e);
	if (report)
		*report = rep ? rep : json_object();
	else
		json_decref(rep);
	return rc;
}

int fmt_stage_process_str(fmt_stage *s, const char *json_text, json_t **out, json_t **report)
{
	json_error_t e;
	json_t *doc = json_loads(json_text, 0, &e);
	if (!doc) {
		fprintf(stderr, "harness: bad test JSON: %s\n", e.text);
		abort();
	}
	return fmt_stage_process(s, doc, out, report);
}

void fmt_stage_close(fmt_stage *s)
{
	if (!s)
		return;
	if (s->inst) {
		fm_instance_flush(s->inst);
		fm_instance_free(s->inst);
	}
	if (s->tmp_state) {
		fm_remove_tree(s->tmp_state);
		free(s->tmp_state);
	}
	fm_loader_fini(&s->loader);
	free(s);
}

char *fmt_read_data(const char *relpath, size_t *len)
{
	const char *dir = getenv("FM_TEST_DATA_DIR");
	char *path = fm_path_join(dir ? dir : "tests/data", relpath);
	char *data = NULL;
	int rc = fm_read_file(path, (size_t)1 << 30, &data, len);
	if (rc != 0) {
		fprintf(stderr, "harness: cannot read %s: %s\n", path, strerror(-rc));
		abort();
	}
	free(path);
	return data;
}
