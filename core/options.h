/*
 * Typed plugin options: text from pipeline.conf (or --set) checked against a plugin's
 * struct fm_option table and stored in its config struct.
 */
#ifndef FM_CORE_OPTIONS_H
#define FM_CORE_OPTIONS_H

#include <stddef.h>

#include <jansson.h>

#include <feedmill/plugin.h>

#include "diag.h"

/* One "key = value" as written, with where it was written. */
struct fm_setting {
	char *key;
	char *value;
	char *file; /* NULL for --set on the command line */
	int line;
	struct fm_setting *next;
};

struct fm_setting *fm_setting_new(const char *key, const char *value, const char *file, int line);
/* Append s at the end of *list. */
void fm_setting_append(struct fm_setting **list, struct fm_setting *s);
void fm_settings_free(struct fm_setting *list);

const struct fm_option *fm_option_find(const struct fm_option *opts, const char *key);
const char *fm_option_type_name(enum fm_opt_type t);

/* Parsers shared with the core's own settings. 0 or -EINVAL. */
int fm_parse_bool(const char *s, bool *out);
int fm_parse_int(const char *s, int64_t *out);
int fm_parse_double(const char *s, double *out);
int fm_parse_size(const char *s, uint64_t *out);
int fm_parse_duration(const char *s, int64_t *out_ms);

/*
 * Fill config (config_size bytes, zeroed by the caller) from the defaults and then from
 * settings (the keys meant for this plugin only). Every problem is added to diag with its
 * location. Returns 0 when nothing was wrong, else -EINVAL. Free with fm_options_release().
 */
int fm_options_fill(const struct fm_plugin *p, void *config, const struct fm_setting *settings,
                    struct fm_diag *diag);
/* Free the strings and lists fm_options_fill stored in config (not config itself). */
void fm_options_release(const struct fm_plugin *p, void *config);

/* The typed JSON form of one value (for per-source overrides carried in documents):
 * durations as integer ms, sizes as integer bytes, bools, numbers, strings, lists as arrays.
 * NULL and a message in err on a bad value. */
json_t *fm_option_value_json(const struct fm_option *opt, const char *value, const char *basedir,
                             char *err, size_t errlen);

#endif
