/*
 * A minimal plugin for the loader's tests. Built once per variant (see meson.build): each
 * FMT_* macro makes the descriptor wrong in one way the loader must refuse without crashing.
 */
#include <stddef.h>
#include <stdint.h>

#include <feedmill/plugin.h>

#ifndef FMT_NAME
#define FMT_NAME "minimal"
#endif

struct mini_config {
	int64_t level;
	char *label;
};

static const struct fm_option mini_options[] = {
	{"level", FM_OPT_INT, "3", offsetof(struct mini_config, level), 0, NULL, 0, 10,
	 "a number"},
#ifdef FMT_OPTION_OUTSIDE
	/* lands past the end of the struct the host allocates */
	{"label", FM_OPT_STR, NULL, sizeof(struct mini_config), 0, NULL, 0, 0, "a label"},
#else
	{"label", FM_OPT_STR, "hello", offsetof(struct mini_config, label), 0, NULL, 0, 0,
	 "a label"},
#endif
#ifdef FMT_ENUM_NO_CHOICES
	{"flavour", FM_OPT_ENUM, NULL, offsetof(struct mini_config, label), 0, NULL, 0, 0,
	 "a choice without choices"},
#endif
	{NULL, 0, NULL, 0, 0, NULL, 0, 0, NULL},
};

static int mini_init(void **ctx, const fm_host *host, fm_instance *inst, const void *config)
{
	(void)host;
	(void)inst;
	*ctx = (void *)config;
	return 0;
}

__attribute__((unused)) static int mini_process(void *ctx, json_t *doc, fm_out *out)
{
	(void)ctx;
	(void)doc;
	(void)out;
	return FM_PASS;
}

__attribute__((unused)) static void *mini_prepare(const void *config, const json_t *doc)
{
	(void)config;
	(void)doc;
	return NULL;
}

__attribute__((unused)) static void mini_release(void *prepared)
{
	(void)prepared;
}

static void mini_fini(void *ctx)
{
	(void)ctx;
}

#if defined(FMT_CHECK)
#include <errno.h>
#include <string.h>
/* check() (ABI 1.3) as a plugin that reads a file named by `label` would write it: a message
 * naming the value, one naming nothing, a failure without a word, and a complaint when the
 * host hands it a state directory (a check must have no side effects). */
static int mini_check(const fm_host *host, fm_instance *inst, const void *config)
{
	const struct mini_config *c = config;
	if (host->state_dir(inst)) {
		fm_err(host, inst, "check() was given a state directory");
		return -EINVAL;
	}
	if (c->level == 9)
		return -EIO;
	int rc = 0;
	if (strcmp(c->label, "hello") != 0) {
		fm_err(host, inst, "cannot open %s: no such label", c->label);
		rc = -ENOENT;
	}
	if (c->level == 7) {
		fm_err(host, inst, "level seven is unlucky");
		rc = -EINVAL;
	}
	return rc;
}
#endif

#ifdef FMT_ROOMY
/* A descriptor that says it is larger than the host's: the host reads only what it knows. */
struct roomy {
	struct fm_plugin base;
	char future[64];
};
static const struct roomy roomy_desc = {
	.base =
		{
			.abi_major = FM_ABI_MAJOR,
			.abi_minor = FM_ABI_MINOR,
			.struct_size = sizeof(struct roomy),
			.name = "roomy",
			.kind = "test",
			.version = "0.0.1",
			.summary = "a descriptor with room for later fields",
			.options = mini_options,
			.config_size = sizeof(struct mini_config),
			.init = mini_init,
			.process = mini_process,
			.fini = mini_fini,
		},
	.future = "not read by a 1.0 host",
};
#define DESC (&roomy_desc.base)
#else
static const struct fm_plugin mini = {
#ifdef FMT_ABI_MAJOR
	.abi_major = FMT_ABI_MAJOR,
#else
	.abi_major = FM_ABI_MAJOR,
#endif
#if defined(FMT_ABI_MINOR_NEWER)
	.abi_minor = FM_ABI_MINOR + 1,
#elif defined(FMT_ABI_1_0)
	.abi_minor = 0,
#elif defined(FMT_ABI_1_2) || defined(FMT_ABI_1_2_ROOMY)
	.abi_minor = 2,
#else
	.abi_minor = FM_ABI_MINOR,
#endif
#if defined(FMT_SMALL_STRUCT)
	/* as if built against a descriptor that ended before `commands` */
	.struct_size = offsetof(struct fm_plugin, commands),
#elif defined(FMT_ABI_1_0)
	/* built against the 1.0 header, which ended with `commands`: what lies beyond in memory
	 * is not the plugin's, and a host must not read it */
	.struct_size = offsetof(struct fm_plugin, prepare),
#elif defined(FMT_ABI_1_2)
	/* built against the 1.2 header, which ended with `release` */
	.struct_size = offsetof(struct fm_plugin, release) + sizeof(void (*)(void *)),
#else
	.struct_size = sizeof(struct fm_plugin),
#endif
#ifdef FMT_NO_NAME
	.name = "",
#else
	.name = FMT_NAME,
#endif
	.kind = "test",
	.version = "0.0.1",
	.summary = "a plugin for the loader's tests",
	.options = mini_options,
	.config_size = sizeof(struct mini_config),
	.init = mini_init,
#ifndef FMT_NO_PROCESS
	.process = mini_process,
#endif
	.fini = mini_fini,
#if defined(FMT_ABI_1_0)
	.prepare = mini_prepare, /* past struct_size: never seen */
	.release = mini_release,
#elif defined(FMT_PREPARE_NO_RELEASE)
	.prepare = mini_prepare,
#endif
#if defined(FMT_CHECK)
	/* for a 1.2 plugin, past what its minor knows (and, honest, past its struct_size) */
	.check = mini_check,
#endif
};
#define DESC (&mini)
#endif

#ifdef FMT_NO_ENTRY
/* Exported, but not under the name the loader looks for. */
FM_EXPORT const struct fm_plugin *fm_plugin_entry_v0(void);
FM_EXPORT const struct fm_plugin *fm_plugin_entry_v0(void)
{
	return DESC;
}
#else
FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void);
FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void)
{
#ifdef FMT_NULL_ENTRY
	(void)DESC;
	return NULL;
#else
	return DESC;
#endif
}
#endif
