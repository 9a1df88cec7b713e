/*
 * classify:tags — tags documents from hand-written rules (keywords and regexes, see
 * config/rules.example) and drops documents that a `block` rule matches.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <feedmill/doc.h>
#include <feedmill/host.h>
#include <feedmill/plugin.h>

#include "buf.h"
#include "model.h"
#include "regex.h"
#include "rules.h"

struct tags_config {
	char *rules;
	uint64_t field_limit;
	char *model;
};

struct tags {
	const fm_host *host;
	fm_instance *inst;
	const struct tags_config *cfg;
	struct fm_rules *rules;
	struct fm_rules_scratch scratch;
	struct fm_model *model;
	struct fm_model_scratch *mscratch;
};

static const struct fm_option tags_options[] = {
	{"rules", FM_OPT_PATH, NULL, offsetof(struct tags_config, rules), 0, NULL, 0, 0,
	 "rules file (format: config/rules.example; a regex gets 1 MiB to compile and 10^6 steps "
	 "a field); unset: no tagging, nothing dropped"},
	{"field_limit", FM_OPT_SIZE, "256K", offsetof(struct tags_config, field_limit), 0, NULL, 0, 0,
	 "bytes of each field the rules and the model read (0: all)"},
	{"model", FM_OPT_PATH, NULL, offsetof(struct tags_config, model), 0, NULL, 0, 0,
	 "topic model made by `feedmill train`: sets \"category\" and \"category_score\""},
	{NULL, 0, NULL, 0, 0, NULL, 0, 0, NULL},
};

struct err_ctx {
	const fm_host *host;
	fm_instance *inst;
	int n; /* messages logged */
};

static void log_rule_error(void *arg, const char *msg)
{
	struct err_ctx *e = arg;
	e->n++;
	fm_err(e->host, e->inst, "%s", msg);
}

static void tags_fini(void *ctx)
{
	struct tags *t = ctx;
	if (!t)
		return;
	fm_rules_free(t->rules);
	fm_rules_scratch_free(&t->scratch);
	fm_model_free(t->model);
	fm_model_scratch_free(t->mscratch);
	free(t);
}

/* Load the rules file, logging every problem with its file and line. When checking, only
 * those messages: they are what `feedmill check` shows. */
static int load_rules(struct tags *t, bool checking)
{
	struct err_ctx e = {t->host, t->inst, 0};
	int rc = fm_rules_load(t->cfg->rules, &t->rules, log_rule_error, &e);
	if (rc < 0 && (!checking || e.n == 0))
		fm_err(t->host, t->inst, "cannot use rules file %s: %s", t->cfg->rules,
		       rc == -EINVAL && e.n ? "errors above" : strerror(-rc));
	return rc;
}

static int load_model(struct tags *t, bool checking)
{
	char err[512];
	if ((t->model = fm_model_load(t->cfg->model, err, sizeof(err))) &&
	    (t->mscratch = fm_model_scratch_new()))
		return 0;
	const char *why = t->model ? "out of memory" : err;
	if (checking)
		fm_err(t->host, t->inst, "%s", why);
	else
		fm_err(t->host, t->inst, "cannot use model: %s", why);
	return t->model ? -ENOMEM : -EINVAL;
}

/* Load what the settings name. init() stops at the first failure; a check goes on to the
 * model after bad rules, so that one run of `feedmill check` shows both. */
static int tags_load(struct tags *t, bool checking)
{
	int rc = t->cfg->rules ? load_rules(t, checking) : 0;
	if (t->cfg->model && (rc == 0 || checking)) {
		int mr = load_model(t, checking);
		rc = rc < 0 ? rc : mr;
	}
	return rc;
}

static struct tags *tags_new(const fm_host *host, fm_instance *inst, const void *config)
{
	struct tags *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->host = host;
	t->inst = inst;
	t->cfg = config;
	t->scratch = (struct fm_rules_scratch)FM_RULES_SCRATCH_INIT;
	return t;
}

static int tags_init(void **ctx, const fm_host *host, fm_instance *inst, const void *config)
{
	const struct tags_config *cfg = config;
	struct tags *t = tags_new(host, inst, config);
	if (!t)
		return -ENOMEM;
	int rc = tags_load(t, false);
	if (rc < 0) {
		tags_fini(t);
		return rc;
	}
	if (t->rules)
		fm_info(host, inst, "%zu rules (%zu keywords) from %s", fm_rules_count(t->rules),
		        fm_rules_keywords(t->rules), cfg->rules);
	if (t->model)
		fm_info(host, inst, "model %s: %zu labels, %zu features", cfg->model,
		        fm_model_labels(t->model), fm_model_features(t->model));
	if (!cfg->rules && !cfg->model)
		fm_notice(host, inst, "neither rules nor model set: documents pass through as they are");
	*ctx = t;
	return 0;
}

/* ABI 1.3: load what init() would, and let it go. */
static int tags_check(const fm_host *host, fm_instance *inst, const void *config)
{
	struct tags *t = tags_new(host, inst, config);
	if (!t)
		return -ENOMEM;
	int rc = tags_load(t, true);
	tags_fini(t);
	return rc;
}

static int apply_rules(struct tags *t, json_t *doc);

static int tags_process(void *ctx, json_t *doc, fm_out *out)
{
	struct tags *t = ctx;
	(void)out;
	int rc = t->rules ? apply_rules(t, doc) : FM_PASS;
	if (rc != FM_PASS)
		return rc; /* blocked, or out of memory (retried) */
	if (t->model) {
		double score;
		const char *label = fm_model_predict(t->model, t->mscratch, fm_doc_str(doc, FM_DOC_TITLE),
		                                     fm_doc_str(doc, FM_DOC_TEXT),
		                                     (size_t)t->cfg->field_limit, &score);
		if (!label || fm_doc_set_str(doc, FM_DOC_CATEGORY, label) < 0 ||
		    json_object_set_new(doc, FM_DOC_CATEGORY_SCORE, json_real(score)) < 0) {
			fm_err(t->host, t->inst, "out of memory while classifying");
			return FM_RETRY;
		}
		t->host->count(t->inst, "categorised", 1);
	}
	return FM_PASS;
}

static int apply_rules(struct tags *t, json_t *doc)
{
	struct fm_rules_result res;
	if (fm_rules_apply(t->rules, &t->scratch, doc, (size_t)t->cfg->field_limit, &res) < 0) {
		fm_err(t->host, t->inst, "out of memory while matching rules");
		return FM_RETRY;
	}
	if (res.limit_hits) {
		/* Counted as not matching; said once per rule and worker, counted every time. */
		t->host->count(t->inst, "regex_limit", (int64_t)res.limit_hits);
		if (res.limit_line) {
			const char *id = fm_doc_str(doc, FM_DOC_ID);
			fm_warn(t->host, t->inst, "%s:%d: the regex gave up on %s after %u steps "
			        "(counted as no match; said once per rule)", t->cfg->rules,
			        res.limit_line, id ? id : "(no id)", FM_RE_MATCH_LIMIT);
		}
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

/* ---- feedmill train ------------------------------------------------------------------------ */

/* Longest input line accepted; longer ones are skipped with a message (bounded memory). */
#define TRAIN_MAX_LINE (64u << 20)

/* Read one line of stdin into b (without the newline). Returns 1, 0 at end of input, or -1
 * for a line over the limit (consumed and dropped). */
static int read_line(FILE *in, struct fm_buf *b)
{
	char chunk[65536];
	bool any = false, over = false;
	fm_buf_truncate(b, 0);
	while (fgets(chunk, sizeof(chunk), in)) {
		any = true;
		size_t n = strlen(chunk);
		bool end = n && chunk[n - 1] == '\n';
		if (end)
			n--;
		if (!over && b->len + n > TRAIN_MAX_LINE)
			over = true;
		if (!over)
			fm_buf_append(b, chunk, n);
		if (end)
			break;
	}
	if (!any)
		return 0;
	return over ? -1 : 1;
}

static bool label_ok(const char *s)
{
	if (!*s)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7F)
			return false; /* one label a line in the model file */
	return true;
}

static int train_usage(void)
{
	fprintf(stderr, "usage: feedmill train --out MODEL [--epochs N] [--l2 X] [--min-df N] "
	                "< train.jsonl\n"
	                "Learn a topic model from labelled documents {\"title\",\"text\",\"label\"}\n"
	                "(JSON Lines on stdin) and write it at MODEL, a path that must not exist.\n");
	return 2;
}

static int cmd_train(const fm_host *host, fm_instance *inst, const void *config, int argc,
                     char **argv)
{
	const struct tags_config *cfg = config;
	struct fm_train_params p = FM_TRAIN_PARAMS_DEFAULT;
	const char *out = NULL;
	p.field_limit = cfg ? (size_t)cfg->field_limit : 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return train_usage() - 2;
		if (!v)
			return train_usage();
		if (strcmp(a, "--out") == 0)
			out = v;
		else if (strcmp(a, "--epochs") == 0)
			p.epochs = (int)strtol(v, &end, 10);
		else if (strcmp(a, "--l2") == 0)
			p.l2 = strtod(v, &end);
		else if (strcmp(a, "--min-df") == 0)
			p.min_df = (int)strtol(v, &end, 10);
		else
			return train_usage();
		if (end && (*end || end == v || p.epochs < 1 || p.epochs > 1000 || p.l2 < 0 ||
		            p.min_df < 1)) {
			fprintf(stderr, "feedmill train: bad value '%s' for %s\n", v, a);
			return 2;
		}
		i++;
	}
	if (!out)
		return train_usage();
	if (access(out, F_OK) == 0) {
		fm_err(host, inst, "%s exists: give a new path for the model", out);
		return 1;
	}
	struct fm_trainer *t = fm_trainer_new(&p);
	struct fm_buf line = FM_BUF_INIT;
	long lineno = 0, skipped = 0;
	int rc = 1, r;
	if (!t)
		goto out;
	while ((r = read_line(stdin, &line)) != 0) {
		lineno++;
		json_error_t e;
		json_t *doc = r > 0 ? json_loadb(fm_buf_str(&line), line.len, 0, &e) : NULL;
		const char *label = fm_doc_str(doc, "label");
		if (!label || !label_ok(label)) {
			if (skipped++ < 10)
				fm_warn(host, inst, "stdin:%ld: skipped: %s", lineno,
				        r < 0 ? "line too long" : !doc ? e.text
				        : "no usable \"label\" string");
			json_decref(doc);
			continue;
		}
		int ar = fm_trainer_add(t, fm_doc_str(doc, FM_DOC_TITLE), fm_doc_str(doc, FM_DOC_TEXT),
		                        label);
		json_decref(doc);
		if (ar < 0) {
			fm_err(host, inst, "out of memory after %zu documents", fm_trainer_docs(t));
			goto out;
		}
	}
	if (ferror(stdin)) {
		fm_err(host, inst, "reading stdin: %s", strerror(errno));
		goto out;
	}
	if (skipped)
		fm_warn(host, inst, "%ld input lines skipped", skipped);
	char err[256];
	struct fm_model *m = fm_trainer_finish(t, err, sizeof(err));
	if (!m) {
		fm_err(host, inst, "cannot train: %s", err);
		goto out;
	}
	int sr = fm_model_save(m, out);
	if (sr < 0)
		fm_err(host, inst, "cannot write %s: %s", out, strerror(-sr));
	else
		fm_info(host, inst, "%s: %zu documents, %zu labels, %zu features", out,
		        fm_trainer_docs(t), fm_model_labels(m), fm_model_features(m));
	fm_model_free(m);
	rc = sr < 0 ? 1 : 0;
out:
	fm_trainer_free(t);
	fm_buf_free(&line);
	return rc;
}

static const struct fm_command tags_commands[] = {
	{"train", "train --out MODEL < train.jsonl",
	 "learn a topic model from labelled documents for classify's `model` option", cmd_train},
	{NULL, NULL, NULL, NULL},
};

static const struct fm_plugin tags_plugin = {
	.abi_major = FM_ABI_MAJOR,
	.abi_minor = FM_ABI_MINOR,
	.struct_size = sizeof(struct fm_plugin),
	.name = "tags",
	.kind = "classify",
	.version = "0.1.0",
	.summary = "tag documents by keyword and regex rules, drop blocked ones, assign a trained topic",
	.flags = 0,
	.options = tags_options,
	.config_size = sizeof(struct tags_config),
	.init = tags_init,
	.process = tags_process,
	.fini = tags_fini,
	.commands = tags_commands,
	.check = tags_check,
};

FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void);
FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void)
{
	return &tags_plugin;
}
