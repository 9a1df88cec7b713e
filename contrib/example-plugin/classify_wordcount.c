/*
 * classify_wordcount: an example third-party feedmill plugin, built out of tree against the
 * installed SDK (pkg-config feedmill). It shows every part of the plugin interface a stage uses:
 *
 *   - the one exported symbol, FM_PLUGIN_ENTRY, returning a constant descriptor;
 *   - an option table, which the core checks pipeline.conf against and fills into struct
 *     wc_config (and which `feedmill plugins --describe` prints);
 *   - init / process / fini, logging through the host, counters in the run summary;
 *   - the three outcomes of process(): pass a document on (modified), drop it, or fail it;
 *   - a command-line tool (`feedmill wordcount FILE...`) running the same counting code.
 *
 * What it does: counts the words of a document's "text" (set by the clean stage) and adds
 * "word_count" and "reading_minutes"; with min_words set, documents shorter than that are
 * dropped (link posts, empty pages).
 *
 * A word is a run of characters that are not white space. White space is ASCII space, tab,
 * newline, CR, FF, VT and U+00A0 NO-BREAK SPACE; every other byte, in any script, is part of a
 * word. That is the rule word processors use for a rough count, and it needs no Unicode tables.
 * (Scripts written without spaces, such as Chinese or Japanese, count one "word" per run; a
 * real plugin for those would segment first.)
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <feedmill/plugin.h>

struct wc_config {
	char *field;             /* name of the field written */
	int64_t words_per_minute;
	int64_t min_words;
	bool count_title;
};

#define OFF(f) offsetof(struct wc_config, f)
static const struct fm_option wc_options[] = {
	{"field", FM_OPT_STR, "word_count", OFF(field), 0, NULL, 0, 0,
	 "name of the document field that gets the count"},
	{"words_per_minute", FM_OPT_INT, "230", OFF(words_per_minute), 0, NULL, 50, 2000,
	 "reading speed for \"reading_minutes\" (rounded up)"},
	{"min_words", FM_OPT_INT, "0", OFF(min_words), 0, NULL, 0, 1000000,
	 "drop documents with fewer words than this (0: drop none)"},
	{"count_title", FM_OPT_BOOL, "no", OFF(count_title), 0, NULL, 0, 0,
	 "count the title's words too"},
	{NULL, 0, NULL, 0, 0, NULL, 0, 0, NULL},
};
#undef OFF

struct wc {
	const fm_host *host;
	fm_instance *inst;
	const struct wc_config *cfg;
};

/* A word counter that can be fed a text in pieces (the command reads files in blocks). */
struct wc_count {
	int64_t words;
	bool in_word;
	bool pending_c2; /* the last piece ended with 0xC2: maybe the first half of U+00A0 */
};

static void word_byte(struct wc_count *c)
{
	if (!c->in_word) {
		c->in_word = true;
		c->words++;
	}
}

/* Feed s[0..len): see the rule at the top. Linear, no allocation. */
static void count_feed(struct wc_count *c, const char *s, size_t len)
{
	size_t i = 0;
	if (c->pending_c2 && len > 0) {
		c->pending_c2 = false;
		if ((unsigned char)s[0] == 0xA0) {
			c->in_word = false;
			i = 1;
		} else {
			word_byte(c);
		}
	}
	for (; i < len; i++) {
		unsigned char b = (unsigned char)s[i];
		if (b == ' ' || (b >= '\t' && b <= '\r')) {
			c->in_word = false;
		} else if (b == 0xC2) {
			if (i + 1 == len) {
				c->pending_c2 = true;
			} else if ((unsigned char)s[i + 1] == 0xA0) {
				c->in_word = false;
				i++;
			} else {
				word_byte(c);
			}
		} else {
			word_byte(c);
		}
	}
}

/* The total once the whole text was fed. */
static int64_t count_end(struct wc_count *c)
{
	if (c->pending_c2) {
		c->pending_c2 = false;
		word_byte(c);
	}
	return c->words;
}

static int64_t field_words(const json_t *doc, const char *key)
{
	json_t *v = json_object_get(doc, key);
	if (!json_is_string(v))
		return 0;
	struct wc_count c = {0};
	count_feed(&c, json_string_value(v), json_string_length(v));
	return count_end(&c);
}

static int wc_init(void **ctx, const fm_host *host, fm_instance *inst, const void *config)
{
	const struct wc_config *cfg = config;
	if (!cfg->field || !cfg->field[0]) {
		fm_err(host, inst, "field must not be empty");
		return -EINVAL;
	}
	struct wc *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->host = host;
	w->inst = inst;
	w->cfg = cfg;
	fm_debug(host, inst, "counting into \"%s\", %lld words a minute, min_words %lld",
	         cfg->field, (long long)cfg->words_per_minute, (long long)cfg->min_words);
	*ctx = w;
	return 0;
}

static int wc_process(void *ctx, json_t *doc, fm_out *out)
{
	struct wc *w = ctx;
	const fm_host *h = w->host;
	(void)out; /* nothing new is emitted: the document itself goes on */

	int64_t words = field_words(doc, FM_DOC_TEXT);
	if (w->cfg->count_title)
		words += field_words(doc, FM_DOC_TITLE);

	if (words < w->cfg->min_words) {
		/* Dropping by design is FM_DROP (counted, not an error). */
		fm_info(h, w->inst, "dropped %s: %lld words, fewer than min_words",
		        fm_doc_str(doc, FM_DOC_ID) ? fm_doc_str(doc, FM_DOC_ID) : "(no id)",
		        (long long)words);
		h->count(w->inst, "too_short", 1);
		return FM_DROP;
	}
	int64_t minutes = (words + w->cfg->words_per_minute - 1) / w->cfg->words_per_minute;
	if (json_object_set_new(doc, w->cfg->field, json_integer(words)) < 0 ||
	    json_object_set_new(doc, "reading_minutes", json_integer(minutes)) < 0) {
		/* Out of memory is transient: let the core deliver the document again. */
		return FM_RETRY;
	}
	h->count(w->inst, "counted", 1);
	h->count(w->inst, "words", words);
	return FM_PASS;
}

static void wc_fini(void *ctx)
{
	free(ctx);
}

/* `feedmill wordcount FILE...`: the stage's counting rule on plain text files, one JSON object
 * a line ({"file","words"}), so a user can check what the stage will say. */
static int wc_cmd_run(const fm_host *host, fm_instance *inst, const void *config, int argc,
                      char **argv)
{
	(void)config;
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fprintf(argc < 2 ? stderr : stdout, "usage: feedmill wordcount FILE...\n");
		return argc < 2 ? 2 : 0;
	}
	int status = 0;
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f) {
			fm_err(host, inst, "%s: %s", argv[i], strerror(errno));
			status = 1;
			continue;
		}
		char buf[65536];
		struct wc_count c = {0};
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			count_feed(&c, buf, n);
		int64_t words = count_end(&c);
		bool failed = ferror(f);
		fclose(f);
		if (failed) {
			fm_err(host, inst, "%s: read error", argv[i]);
			status = 1;
			continue;
		}
		json_t *o = json_pack("{s:s,s:I}", "file", argv[i], "words", (json_int_t)words);
		char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (line)
			printf("%s\n", line);
		free(line);
		json_decref(o);
	}
	return status;
}

static const struct fm_command wc_commands[] = {
	{"wordcount", "wordcount FILE...", "count words in text files as classify_wordcount does",
	 wc_cmd_run},
	{NULL, NULL, NULL, NULL},
};

static const struct fm_plugin wc_plugin = {
	.abi_major = FM_ABI_MAJOR,
	.abi_minor = FM_ABI_MINOR,
	.struct_size = sizeof(struct fm_plugin),
	.name = "wordcount",
	.kind = "classify",
	.version = "1.0.0",
	.summary = "example out-of-tree plugin: adds word_count and reading_minutes, drops short "
	           "documents",
	.flags = 0, /* no shared state: any number of workers */
	.options = wc_options,
	.config_size = sizeof(struct wc_config),
	.init = wc_init,
	.process = wc_process,
	.fini = wc_fini,
	.commands = wc_commands,
};

/* The declaration keeps -Wmissing-prototypes quiet: nothing else calls it. */
FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void);
FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void)
{
	return &wc_plugin;
}
