#include "harness.h"

#include <errno.h>
#include <poll.h>
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

/* A held document's answer (ABI 1.4), as the worker would get it. */
struct answer {
	bool done;
	int status;
	json_t *out, *report;
};

static void on_complete(void *arg, void *user, int status, struct fm_emitted *docs,
                        json_t *report)
{
	struct answer *a = user;
	(void)arg;
	if (!a) {
		fm_emitted_clear(docs);
		json_decref(report);
		return;
	}
	a->done = true;
	a->status = status;
	for (size_t i = 0; i < docs->n; i++)
		json_array_append(a->out, docs->v[i]);
	fm_emitted_clear(docs);
	a->report = report;
}

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
	fm_instance_on_complete(s->inst, on_complete, s);
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

/* Wait and step as the worker does until the held document is answered (60 s at most). */
static void wait_answer(fmt_stage *s, struct answer *a)
{
	int64_t deadline = fm_monotonic_ms() + 60000;
	while (!a->done && fm_monotonic_ms() < deadline) {
		struct fm_wait w;
		fm_instance_wait(s->inst, &w);
		int64_t t = w.timeout_ms < 0 || w.timeout_ms > 1000 ? 1000 : w.timeout_ms;
		struct pollfd p = {.fd = w.fd, .events = w.events};
		poll(&p, w.fd >= 0 ? 1 : 0, (int)t);
		fm_instance_step(s->inst);
	}
	if (!a->done) {
		fprintf(stderr, "harness: a held document was not answered within 60 s\n");
		abort();
	}
}

int fmt_stage_process_as(fmt_stage *s, json_t *doc, uint64_t token, json_t **out,
                         json_t **report)
{
	json_t *rep = NULL;
	struct fm_emitted e;
	fm_emitted_init(&e);
	fm_held *held = NULL;
	int rc = fm_instance_process(s->inst, doc, NULL, 0, token, NULL, &e, &rep,
	                             fm_instance_waits(s->inst) ? &held : NULL);
	*out = json_array();
	if (rc == FM_PENDING) {
		struct answer a = {.out = *out};
		fm_held_set_user(held, &a);
		wait_answer(s, &a);
		rc = a.status;
		rep = a.report;
	}
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
