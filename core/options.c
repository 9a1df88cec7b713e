#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

struct fm_setting *fm_setting_new(const char *key, const char *value, const char *file, int line)
{
	struct fm_setting *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->key = strdup(key);
	s->value = strdup(value);
	s->file = file ? strdup(file) : NULL;
	s->line = line;
	if (!s->key || !s->value || (file && !s->file)) {
		fm_settings_free(s);
		return NULL;
	}
	return s;
}

void fm_setting_append(struct fm_setting **list, struct fm_setting *s)
{
	while (*list)
		list = &(*list)->next;
	*list = s;
}

void fm_settings_free(struct fm_setting *list)
{
	while (list) {
		struct fm_setting *next = list->next;
		free(list->key);
		free(list->value);
		free(list->file);
		free(list);
		list = next;
	}
}

const struct fm_option *fm_option_find(const struct fm_option *opts, const char *key)
{
	for (const struct fm_option *o = opts; o && o->key; o++)
		if (strcmp(o->key, key) == 0)
			return o;
	return NULL;
}

const char *fm_option_type_name(enum fm_opt_type t)
{
	switch (t) {
	case FM_OPT_STR: return "string";
	case FM_OPT_INT: return "integer";
	case FM_OPT_BOOL: return "boolean";
	case FM_OPT_DOUBLE: return "number";
	case FM_OPT_ENUM: return "choice";
	case FM_OPT_SIZE: return "size";
	case FM_OPT_DURATION: return "duration";
	case FM_OPT_PATH: return "path";
	case FM_OPT_LIST: return "list";
	}
	return "?";
}

int fm_parse_bool(const char *s, bool *out)
{
	static const char *yes[] = {"yes", "true", "on", "1"};
	static const char *no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int fm_parse_int(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int fm_parse_double(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v))
		return -EINVAL;
	*out = v;
	return 0;
}

/* A number followed by an optional unit from the table; the unit scales it. */
static int parse_scaled(const char *s, const char *const *units, const double *scale,
                        double bare, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0 || !isfinite(v))
		return -EINVAL;
	while (*end == ' ')
		end++;
	if (!*end) {
		*out = v * bare;
		return 0;
	}
	for (size_t i = 0; units[i]; i++) {
		if (strcasecmp(end, units[i]) == 0) {
			*out = v * scale[i];
			return 0;
		}
	}
	return -EINVAL;
}

int fm_parse_size(const char *s, uint64_t *out)
{
	static const char *const units[] = {"b", "k", "kb", "kib", "m", "mb", "mib",
	                                    "g", "gb", "gib", NULL};
	static const double scale[] = {1, 1024.0, 1024.0, 1024.0, 1048576.0, 1048576.0,
	                               1048576.0, 1073741824.0, 1073741824.0, 1073741824.0};
	double v;
	if (parse_scaled(s, units, scale, 1, &v) != 0 || v > 9.0e18)
		return -EINVAL;
	*out = (uint64_t)v;
	return 0;
}

int fm_parse_duration(const char *s, int64_t *out_ms)
{
	static const char *const units[] = {"ms", "s", "sec", "m", "min", "h", "d", NULL};
	static const double scale[] = {1, 1000, 1000, 60000, 60000, 3600000, 86400000};
	double v;
	if (parse_scaled(s, units, scale, 1000, &v) != 0 || v > 9.0e15)
		return -EINVAL;
	*out_ms = (int64_t)llround(v);
	return 0;
}

static bool enum_has(const char *choices, const char *value)
{
	size_t n = strlen(value);
	const char *p = choices;
	while (p && *p) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && strncmp(p, value, n) == 0)
			return true;
		p = bar ? bar + 1 : NULL;
	}
	return false;
}

static bool in_range(const struct fm_option *o, double v)
{
	if (o->min == 0 && o->max == 0)
		return true;
	return v >= o->min && v <= o->max;
}

static void range_text(const struct fm_option *o, char *buf, size_t n)
{
	snprintf(buf, n, " (allowed: %g to %g)", o->min, o->max);
}

/* Check one value; on success store it into config (if non-NULL). */
static int store_value(const struct fm_option *o, void *config, const char *value,
                       const char *basedir, char *err, size_t errlen)
{
	char *slot = config ? (char *)config + o->offset : NULL;
	char range[64] = "";
	switch (o->type) {
	case FM_OPT_STR:
	case FM_OPT_PATH:
	case FM_OPT_ENUM: {
		if (o->type == FM_OPT_ENUM && !enum_has(o->choices, value)) {
			snprintf(err, errlen, "'%s' is not one of %s", value, o->choices);
			return -EINVAL;
		}
		if (o->type == FM_OPT_PATH && !value[0]) {
			snprintf(err, errlen, "empty path");
			return -EINVAL;
		}
		if (!slot)
			return 0;
		char *copy = o->type == FM_OPT_PATH ? fm_path_join(basedir, value) : strdup(value);
		if (!copy)
			return -ENOMEM;
		free(*(char **)slot);
		*(char **)slot = copy;
		return 0;
	}
	case FM_OPT_INT: {
		int64_t v;
		if (fm_parse_int(value, &v) != 0) {
			snprintf(err, errlen, "'%s' is not an integer", value);
			return -EINVAL;
		}
		if (!in_range(o, (double)v)) {
			range_text(o, range, sizeof(range));
			snprintf(err, errlen, "%s is out of range%s", value, range);
			return -EINVAL;
		}
		if (slot)
			*(int64_t *)slot = v;
		return 0;
	}
	case FM_OPT_BOOL: {
		bool v;
		if (fm_parse_bool(value, &v) != 0) {
			snprintf(err, errlen, "'%s' is not yes or no", value);
			return -EINVAL;
		}
		if (slot)
			*(bool *)slot = v;
		return 0;
	}
	case FM_OPT_DOUBLE: {
		double v;
		if (fm_parse_double(value, &v) != 0) {
			snprintf(err, errlen, "'%s' is not a number", value);
			return -EINVAL;
		}
		if (!in_range(o, v)) {
			range_text(o, range, sizeof(range));
			snprintf(err, errlen, "%s is out of range%s", value, range);
			return -EINVAL;
		}
		if (slot)
			*(double *)slot = v;
		return 0;
	}
	case FM_OPT_SIZE: {
		uint64_t v;
		if (fm_parse_size(value, &v) != 0) {
			snprintf(err, errlen, "'%s' is not a size (like 512K, 10M, 1G)", value);
			return -EINVAL;
		}
		if (!in_range(o, (double)v)) {
			range_text(o, range, sizeof(range));
			snprintf(err, errlen, "%s is out of range%s", value, range);
			return -EINVAL;
		}
		if (slot)
			*(uint64_t *)slot = v;
		return 0;
	}
	case FM_OPT_DURATION: {
		int64_t v;
		if (fm_parse_duration(value, &v) != 0) {
			snprintf(err, errlen, "'%s' is not a duration (like 500ms, 30s, 5m, 2h, 1d)",
			         value);
			return -EINVAL;
		}
		if (!in_range(o, (double)v / 1000.0)) {
			snprintf(err, errlen, "%s is out of range (allowed: %gs to %gs)", value, o->min,
			         o->max);
			return -EINVAL;
		}
		if (slot)
			*(int64_t *)slot = v;
		return 0;
	}
	case FM_OPT_LIST: {
		struct fm_strlist *l = slot ? (struct fm_strlist *)slot : NULL;
		const char *p = value;
		while (*p) {
			const char *comma = strchr(p, ',');
			size_t len = comma ? (size_t)(comma - p) : strlen(p);
			while (len && (*p == ' ' || *p == '\t'))
				p++, len--;
			while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
				len--;
			if (len && l) {
				char **items = realloc(l->items, (l->n + 1) * sizeof(*items));
				if (!items)
					return -ENOMEM;
				l->items = items;
				if (!(l->items[l->n] = strndup(p, len)))
					return -ENOMEM;
				l->n++;
			}
			if (!comma)
				break;
			p = comma + 1;
		}
		return 0;
	}
	}
	snprintf(err, errlen, "option has an unknown type");
	return -EINVAL;
}

static void clear_slot(const struct fm_option *o, void *config)
{
	char *slot = (char *)config + o->offset;
	switch (o->type) {
	case FM_OPT_STR:
	case FM_OPT_PATH:
	case FM_OPT_ENUM:
		free(*(char **)slot);
		*(char **)slot = NULL;
		break;
	case FM_OPT_LIST: {
		struct fm_strlist *l = (struct fm_strlist *)slot;
		for (size_t i = 0; i < l->n; i++)
			free(l->items[i]);
		free(l->items);
		l->items = NULL;
		l->n = 0;
		break;
	}
	default:
		break;
	}
}

int fm_options_fill(const struct fm_plugin *p, void *config, const struct fm_setting *settings,
                    struct fm_diag *diag)
{
	int bad = 0;
	char err[256];
	const struct fm_option *opts = p->options;

	/* Defaults first; a broken default is the plugin's bug, reported as such. */
	for (const struct fm_option *o = opts; o && o->key; o++) {
		if (!o->def)
			continue;
		if (store_value(o, config, o->def, NULL, err, sizeof(err)) != 0) {
			fm_diag_add(diag, NULL, 0, "plugin %s_%s: bad default for '%s': %s", p->kind,
			            p->name, o->key, err);
			bad = 1;
		}
	}

	/* A key set again replaces the earlier value, except lists, which a config builds up
	 * over repeated lines (the first line that sets a list replaces its default). */
	const struct fm_setting *seen_list[64];
	size_t nseen = 0;
	for (const struct fm_setting *s = settings; s; s = s->next) {
		const struct fm_option *o = fm_option_find(opts, s->key);
		if (!o) {
			fm_diag_add(diag, s->file ? s->file : "--set", s->line,
			            "unknown option '%s' for plugin %s_%s", s->key, p->kind, p->name);
			bad = 1;
			continue;
		}
		bool first = true;
		for (size_t i = 0; i < nseen; i++)
			if (strcmp(seen_list[i]->key, s->key) == 0)
				first = false;
		if (o->type == FM_OPT_LIST && first) {
			clear_slot(o, config);
			if (nseen < 64)
				seen_list[nseen++] = s;
		} else if (o->type != FM_OPT_LIST) {
			clear_slot(o, config);
		}
		char *basedir = s->file ? fm_path_dirname(s->file) : NULL;
		int rc = store_value(o, config, s->value, basedir, err, sizeof(err));
		free(basedir);
		if (rc != 0) {
			fm_diag_add(diag, s->file ? s->file : "--set", s->line, "%s: %s", s->key, err);
			bad = 1;
		}
	}

	for (const struct fm_option *o = opts; o && o->key; o++) {
		if (!(o->flags & FM_OPT_REQUIRED))
			continue;
		bool set = false;
		for (const struct fm_setting *s = settings; s; s = s->next)
			if (strcmp(s->key, o->key) == 0)
				set = true;
		if (!set && !o->def) {
			fm_diag_add(diag, NULL, 0, "plugin %s_%s needs option '%s' (%s)", p->kind,
			            p->name, o->key, o->doc ? o->doc : fm_option_type_name(o->type));
			bad = 1;
		}
	}
	return bad ? -EINVAL : 0;
}

void fm_options_release(const struct fm_plugin *p, void *config)
{
	if (!config)
		return;
	for (const struct fm_option *o = p->options; o && o->key; o++)
		clear_slot(o, config);
}

json_t *fm_option_value_json(const struct fm_option *o, const char *value, const char *basedir,
                             char *err, size_t errlen)
{
	if (store_value(o, NULL, value, basedir, err, errlen) != 0)
		return NULL;
	switch (o->type) {
	case FM_OPT_STR:
	case FM_OPT_ENUM:
		return json_string(value);
	case FM_OPT_PATH: {
		char *path = fm_path_join(basedir, value);
		json_t *j = path ? json_string(path) : NULL;
		free(path);
		return j;
	}
	case FM_OPT_INT: {
		int64_t v = 0;
		fm_parse_int(value, &v);
		return json_integer(v);
	}
	case FM_OPT_BOOL: {
		bool v = false;
		fm_parse_bool(value, &v);
		return json_boolean(v);
	}
	case FM_OPT_DOUBLE: {
		double v = 0;
		fm_parse_double(value, &v);
		return json_real(v);
	}
	case FM_OPT_SIZE: {
		uint64_t v = 0;
		fm_parse_size(value, &v);
		return json_integer((json_int_t)v);
	}
	case FM_OPT_DURATION: {
		int64_t v = 0;
		fm_parse_duration(value, &v);
		return json_integer(v);
	}
	case FM_OPT_LIST: {
		struct fm_strlist l = {0, NULL};
		json_t *arr = json_array();
		struct fm_option tmp = *o;
		tmp.offset = 0;
		store_value(&tmp, &l, value, basedir, err, errlen);
		for (size_t i = 0; i < l.n; i++) {
			json_array_append_new(arr, json_string(l.items[i]));
			free(l.items[i]);
		}
		free(l.items);
		return arr;
	}
	}
	return NULL;
}
