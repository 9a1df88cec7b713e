/*
 * classify:tags — tags documents from hand-written rules (keywords and regexes, see
 * config/rules.example) and drops documents that a `block` rule matches.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <feedmill/doc.h>
#include <feedmill/host.h>
#include <feedmill/plugin.h>

#include "rules.h"

struct tags_config {
	char *rules;
	uint64_t field_limit;
};

struct tags {
	const fm_host *host;
	fm_instance *inst;
	const struct tags_config *cfg;
	struct fm_rules *rules;
	struct fm_rules_scratch scratch;
};

static const struct fm_option tags_options[] = {
	{"rules", FM_OPT_PATH, NULL, offsetof(struct tags_config, rules), 0, NULL, 0, 0,
	 "rules file (format: config/rules.example); unset: no tagging, nothing dropped"},
	{"field_limit", FM_OPT_SIZE, "256K", offsetof(struct tags_config, field_limit), 0, NULL, 0, 0,
	 "bytes of each field the rules read (0: all)"},
	{NULL, 0, NULL, 0, 0, NULL, 0, 0, NULL},
};

struct err_ctx {
	const fm_host *host;
	fm_instance *inst;
};

static void log_rule_error(void *arg, const char *msg)
{
	struct err_ctx *e = arg;
	fm_err(e->host, e->inst, "%s", msg);
}

static void tags_fini(void *ctx)
{
	struct tags *t = ctx;
	if (!t)
		return;
	fm_rules_free(t->rules);
	fm_rules_scratch_free(&t->scratch);
	free(t);
}

static int tags_init(void **ctx, const fm_host *host, fm_instance *inst, const void *config)
{
	const struct tags_config *cfg = config;
	struct tags *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->host = host;
	t->inst = inst;
	t->cfg = cfg;
	t->scratch = (struct fm_rules_scratch)FM_RULES_SCRATCH_INIT;
	if (cfg->rules) {
		struct err_ctx e = {host, inst};
		int rc = fm_rules_load(cfg->rules, &t->rules, log_rule_error, &e);
		if (rc < 0) {
			fm_err(host, inst, "cannot use rules file %s: %s", cfg->rules,
			       rc == -EINVAL ? "errors above" : strerror(-rc));
			tags_fini(t);
			return rc;
		}
		fm_info(host, inst, "%zu rules (%zu keywords) from %s", fm_rules_count(t->rules),
		        fm_rules_keywords(t->rules), cfg->rules);
	} else {
		fm_notice(host, inst, "no rules file set: documents pass through untagged");
	}
	*ctx = t;
	return 0;
}

static int tags_process(void *ctx, json_t *doc, fm_out *out)
{
	struct tags *t = ctx;
	(void)out;
	if (!t->rules)
		return FM_PASS;
	struct fm_rules_result res;
	if (fm_rules_apply(t->rules, &t->scratch, doc, (size_t)t->cfg->field_limit, &res) < 0) {
		fm_err(t->host, t->inst, "out of memory while matching rules");
		return FM_RETRY;
	}
	if (res.blocked) {
		const char *id = fm_doc_str(doc, FM_DOC_ID);
		fm_info(t->host, t->inst, "blocked %s (rule at line %d)", id ? id : "(no id)",
		        res.block_line);
		t->host->count(t->inst, "blocked", 1);
		return FM_DROP;
	}
	if (res.tags_added)
		t->host->count(t->inst, "tagged", 1);
	return FM_PASS;
}

static const struct fm_plugin tags_plugin = {
	.abi_major = FM_ABI_MAJOR,
	.abi_minor = FM_ABI_MINOR,
	.struct_size = sizeof(struct fm_plugin),
	.name = "tags",
	.kind = "classify",
	.version = "0.1.0",
	.summary = "tag documents by keyword and regex rules; drop blocked ones",
	.flags = 0,
	.options = tags_options,
	.config_size = sizeof(struct tags_config),
	.init = tags_init,
	.process = tags_process,
	.fini = tags_fini,
};

FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void);
FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void)
{
	return &tags_plugin;
}
