#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fm_build_config.h"
#include "instance.h"
#include "log.h"
#include "util.h"

#define MAX_INCLUDE_DEPTH 8
#define MAX_CONFIG_FILE (4u << 20)

enum section_kind { SEC_GLOBAL, SEC_SOURCE, SEC_STAGE, SEC_OUTPUT };

/* A file read so far, known by device and inode so that another name for it (a symbolic
 * link, "./x.conf", a glob) is still the same file. */
struct seen_file {
	dev_t dev;
	ino_t ino;
	char *path;    /* as it was first read, for messages */
	char *by_file; /* the include line that read it; NULL for the main file */
	int by_line;
	bool reading; /* on the include stack: meeting it again is a cycle */
};

struct reader {
	struct fm_config *cfg;
	struct fm_diag *diag;
	enum section_kind kind;
	struct fm_source_cfg *source;
	struct fm_stage_cfg *stage;
	int depth;
	/* Every file is read once: `include = *.conf` in each of n files of a folder read
	 * n^depth files before (44 s and 1.7 million messages for n = 6). */
	struct seen_file *seen;
	size_t nseen, capseen;
	size_t stack[MAX_INCLUDE_DEPTH + 1]; /* seen[] index of the file read at each depth */
	struct fm_bounds bounds; /* the global interval keys as set (0: not set) */
};

/* Polite bounds (README, "The scheduler"): five minutes is about the fastest a source
 * publishes, hours are what a silent one is worth. */
static const struct fm_bounds builtin_bounds = {15 * 60 * 1000, 5 * 60 * 1000, 4 * 3600 * 1000};

static const char *const stage_core_keys[] = {"plugin", "run_as", "workers", "bind", "connect",
                                              "timeout", "max_in_flight", NULL};

const char *fm_stage_mode_name(enum fm_stage_mode m)
{
	switch (m) {
	case FM_MODE_THREAD: return "thread";
	case FM_MODE_PROCESS: return "process";
	case FM_MODE_REMOTE: return "remote";
	}
	return "?";
}

static void set_str(char **slot, const char *v)
{
	free(*slot);
	*slot = strdup(v);
}

static struct fm_config *config_new(void)
{
	struct fm_config *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->state_dir = strdup("state");
	c->log_level = FM_LOG_NOTICE;
	c->default_interval_ms = builtin_bounds.interval_ms;
	c->min_interval_ms = builtin_bounds.min_ms;
	c->max_interval_ms = builtin_bounds.max_ms;
	c->rediscover_ms = 7 * 86400 * 1000LL; /* a site's feed URL rarely moves in a week */
	c->jitter = 0.1;
	c->max_backoff_ms = 6 * 3600 * 1000;
	c->drain_timeout_ms = 30 * 1000;
	c->commit_interval_ms = 1000;
	c->max_attempts = 3;
	c->max_doc_size = 16u << 20;
	c->queue_limit = 1000;
	return c;
}

/* ------------------------------------------------------------------ lexical */

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Decode a value in place: "quoted" with escapes, or bare up to an inline " #". */
static int parse_value(char *v, const char **err)
{
	if (*v != '"') {
		for (char *p = v; *p; p++)
			if ((*p == '#' || *p == ';') && p > v && isspace((unsigned char)p[-1])) {
				*p = '\0';
				break;
			}
		char *t = trim(v);
		memmove(v, t, strlen(t) + 1);
		return 0;
	}
	char *out = v;
	char *p = v + 1;
	for (; *p && *p != '"'; p++) {
		if (*p != '\\') {
			*out++ = *p;
			continue;
		}
		p++;
		switch (*p) {
		case 'n': *out++ = '\n'; break;
		case 't': *out++ = '\t'; break;
		case '\\': *out++ = '\\'; break;
		case '"': *out++ = '"'; break;
		default:
			*err = "unknown escape in quoted value (use \\\" \\\\ \\n \\t)";
			return -EINVAL;
		}
	}
	if (*p != '"') {
		*err = "unterminated quoted value";
		return -EINVAL;
	}
	char *rest = trim(p + 1);
	if (*rest && *rest != '#' && *rest != ';') {
		*err = "text after the closing quote";
		return -EINVAL;
	}
	*out = '\0';
	return 0;
}

static bool valid_name(const char *s)
{
	/* Stage names become folders under state_dir/stages: "." and ".." would escape. */
	if (!*s || *s == '.')
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
			return false;
	return true;
}

/* ------------------------------------------------------------------ sections */

static int read_file(struct reader *r, const char *path, const char *from_file, int from_line,
                     bool from_glob);

static void open_section(struct reader *r, char *head, const char *file, int line)
{
	char *kind = trim(head);
	char *name = kind + strcspn(kind, " \t");
	if (*name)
		*name++ = '\0';
	name = trim(name);
	r->source = NULL;
	r->stage = NULL;
	r->kind = SEC_GLOBAL;

	enum section_kind k;
	if (strcmp(kind, "source") == 0)
		k = SEC_SOURCE;
	else if (strcmp(kind, "stage") == 0)
		k = SEC_STAGE;
	else if (strcmp(kind, "output") == 0)
		k = SEC_OUTPUT;
	else {
		fm_diag_add(r->diag, file, line,
		            "unknown section [%s]: expected [source NAME], [stage NAME] or [output NAME]",
		            kind);
		r->kind = -1;
		return;
	}
	if (!valid_name(name)) {
		fm_diag_add(r->diag, file, line,
		            "[%s] needs a name of letters, digits, '_', '-' or '.', not starting with "
		            "'.' (got '%s')",
		            kind,
		            name);
		r->kind = -1;
		return;
	}
	if (k == SEC_SOURCE) {
		for (struct fm_source_cfg *s = r->cfg->sources; s; s = s->next)
			if (strcmp(s->name, name) == 0) {
				fm_diag_add(r->diag, file, line,
				            "duplicate source '%s' (first defined at %s:%d)", name,
				            s->file, s->line);
				r->kind = -1;
				return;
			}
		struct fm_source_cfg *s = calloc(1, sizeof(*s));
		s->name = strdup(name);
		s->file = strdup(file);
		s->line = line;
		s->enabled = true;
		s->rediscover_ms = -1;
		s->type = strdup("auto");
		struct fm_source_cfg **tail = &r->cfg->sources;
		while (*tail)
			tail = &(*tail)->next;
		*tail = s;
		r->source = s;
	} else {
		struct fm_stage_cfg *dup = fm_config_find_stage(r->cfg, name);
		if (dup) {
			fm_diag_add(r->diag, file, line,
			            "duplicate stage or output name '%s' (first defined at %s:%d)", name,
			            dup->file, dup->line);
			r->kind = -1;
			return;
		}
		struct fm_stage_cfg *st = calloc(1, sizeof(*st));
		st->name = strdup(name);
		st->file = strdup(file);
		st->line = line;
		st->is_output = k == SEC_OUTPUT;
		st->workers = 1;
		st->timeout_ms = 5 * 60 * 1000;
		st->max_in_flight = 256;
		struct fm_stage_cfg **tail = st->is_output ? &r->cfg->outputs : &r->cfg->stages;
		while (*tail)
			tail = &(*tail)->next;
		*tail = st;
		r->stage = st;
	}
	r->kind = k;
}

static void bad_value(struct reader *r, const char *file, int line, const char *key,
                      const char *value, const char *what)
{
	fm_diag_add(r->diag, file, line, "%s: '%s' is not %s", key, value, what);
}

/* Where a global duration setting lands; NULL when key is not one. */
static int64_t *duration_slot(struct fm_config *c, const char *key)
{
	static const struct {
		const char *key;
		size_t off;
	} slots[] = {
		{"default_interval", offsetof(struct fm_config, default_interval_ms)},
		{"min_interval", offsetof(struct fm_config, min_interval_ms)},
		{"max_interval", offsetof(struct fm_config, max_interval_ms)},
		{"rediscover_after", offsetof(struct fm_config, rediscover_ms)},
		{"max_backoff", offsetof(struct fm_config, max_backoff_ms)},
		{"drain_timeout", offsetof(struct fm_config, drain_timeout_ms)},
		{"commit_interval", offsetof(struct fm_config, commit_interval_ms)},
	};
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		if (strcmp(key, slots[i].key) == 0)
			return (int64_t *)(void *)((char *)c + slots[i].off);
	return NULL;
}

/* Note an interval key the operator set in b, and report at this line a pair of them set out
 * of order (min_interval <= interval <= max_interval): the defaults give way to what is set
 * (fm_bounds_resolve), two settings that contradict each other cannot. */
static void interval_key(struct reader *r, struct fm_bounds *b, const char *key, int64_t ms,
                         const char *file, int line)
{
	const char *iv_key = r->kind == SEC_SOURCE ? "interval" : "default_interval";
	if (strcmp(key, iv_key) == 0)
		b->interval_ms = ms;
	else if (strcmp(key, "min_interval") == 0)
		b->min_ms = ms;
	else if (strcmp(key, "max_interval") == 0)
		b->max_ms = ms;
	else
		return;
	char msg[128];
	if (fm_bounds_check(b, iv_key, msg, sizeof(msg)) < 0)
		fm_diag_add(r->diag, file, line, "%s", msg);
}

static void global_key(struct reader *r, const char *key, const char *value, const char *file,
                       int line)
{
	struct fm_config *c = r->cfg;
	if (strcmp(key, "include") == 0) {
		if (r->depth >= MAX_INCLUDE_DEPTH) {
			fm_diag_add(r->diag, file, line, "include: nested more than %d deep",
			            MAX_INCLUDE_DEPTH);
			return;
		}
		char *dir = fm_path_dirname(file);
		char *pattern = fm_path_join(dir, value);
		free(dir);
		glob_t g;
		int rc = glob(pattern, GLOB_ERR, NULL, &g);
		if (rc == GLOB_NOMATCH) {
			/* A pattern is allowed to match nothing (an empty sources.d/); a plain file is not. */
			if (!strpbrk(value, "*?["))
				fm_diag_add(r->diag, file, line, "include: %s: no such file", pattern);
		} else if (rc != 0) {
			fm_diag_add(r->diag, file, line, "include: cannot read %s", pattern);
		} else {
			bool is_glob = strpbrk(value, "*?[") != NULL;
			for (size_t i = 0; i < g.gl_pathc; i++) {
				r->depth++;
				read_file(r, g.gl_pathv[i], file, line, is_glob);
				r->depth--;
			}
			globfree(&g);
		}
		free(pattern);
		/* After an include we are back in the global section of this file. */
		r->kind = SEC_GLOBAL;
		r->source = NULL;
		r->stage = NULL;
		return;
	}
	if (strcmp(key, "state_dir") == 0 || strcmp(key, "plugin_dir") == 0) {
		char *dir = fm_path_dirname(file);
		char *p = fm_path_join(dir, value);
		free(dir);
		char **slot = key[0] == 's' ? &c->state_dir : &c->plugin_dir;
		free(*slot);
		*slot = p;
	} else if (strcmp(key, "log_level") == 0) {
		int lvl = fm_log_level_parse(value);
		if (lvl < 0)
			bad_value(r, file, line, key, value, "a log level (err, warn, notice, info, debug)");
		else
			c->log_level = lvl;
	} else if (duration_slot(c, key)) {
		int64_t ms;
		if (fm_parse_duration(value, &ms) != 0 || ms <= 0) {
			bad_value(r, file, line, key, value, "a positive duration (like 30s, 15m, 6h)");
		} else {
			*duration_slot(c, key) = ms;
			interval_key(r, &r->bounds, key, ms, file, line);
		}
	} else if (strcmp(key, "jitter") == 0) {
		double v;
		if (fm_parse_double(value, &v) != 0 || v < 0 || v > 0.5)
			bad_value(r, file, line, key, value, "a fraction from 0 to 0.5");
		else
			c->jitter = v;
	} else if (strcmp(key, "max_attempts") == 0 || strcmp(key, "queue_limit") == 0) {
		int64_t v;
		if (fm_parse_int(value, &v) != 0 || v < 1 || v > 10000000)
			bad_value(r, file, line, key, value, "a positive integer");
		else if (key[0] == 'm')
			c->max_attempts = v;
		else
			c->queue_limit = v;
	} else if (strcmp(key, "max_doc_size") == 0) {
		uint64_t v;
		if (fm_parse_size(value, &v) != 0 || v < 1024)
			bad_value(r, file, line, key, value, "a size of at least 1K (like 16M)");
		else
			c->max_doc_size = v;
	} else {
		fm_diag_add(r->diag, file, line,
		            "unknown global setting '%s' (known: state_dir, plugin_dir, log_level, "
		            "include, default_interval, min_interval, max_interval, rediscover_after, "
		            "jitter, max_backoff, drain_timeout, commit_interval, max_attempts, "
		            "max_doc_size, queue_limit)",
		            key);
	}
}

static void source_key(struct reader *r, const char *key, const char *value, const char *file,
                       int line)
{
	struct fm_source_cfg *s = r->source;
	if (strcmp(key, "url") == 0) {
		if (strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0)
			bad_value(r, file, line, key, value, "an http:// or https:// URL");
		else
			set_str(&s->url, value);
	} else if (strcmp(key, "interval") == 0 || strcmp(key, "min_interval") == 0 ||
	           strcmp(key, "max_interval") == 0 || strcmp(key, "rediscover_after") == 0) {
		int64_t ms;
		if (fm_parse_duration(value, &ms) != 0 || ms < 1000) {
			bad_value(r, file, line, key, value, "a duration of at least 1s (like 15m)");
		} else if (key[0] == 'r') {
			s->rediscover_ms = ms;
		} else {
			interval_key(r, &s->bounds, key, ms, file, line);
		}
	} else if (strcmp(key, "type") == 0) {
		if (strcmp(value, "auto") && strcmp(value, "feed") && strcmp(value, "html"))
			bad_value(r, file, line, key, value, "one of auto, feed, html");
		else
			set_str(&s->type, value);
	} else if (strcmp(key, "enabled") == 0) {
		if (fm_parse_bool(value, &s->enabled) != 0)
			bad_value(r, file, line, key, value, "yes or no");
	} else if (strcmp(key, "tags") == 0) {
		struct fm_option o = {.key = "tags", .type = FM_OPT_LIST};
		char err[128];
		json_t *arr = fm_option_value_json(&o, value, NULL, err, sizeof(err));
		if (!s->tags)
			s->tags = json_array();
		json_array_extend(s->tags, arr);
		json_decref(arr);
	} else {
		/* Checked against the fetch plugin's per-source options in validation. */
		fm_setting_append(&s->extra, fm_setting_new(key, value, file, line));
	}
}

static bool is_one_of(const char *key, const char *const *keys)
{
	for (size_t i = 0; keys[i]; i++)
		if (strcmp(key, keys[i]) == 0)
			return true;
	return false;
}

/* tcp://HOST:PORT with a numeric port; results travel on PORT+1, which must exist too. */
static bool valid_tcp_endpoint(const char *v)
{
	const char *colon = strncmp(v, "tcp://", 6) == 0 ? strrchr(v + 6, ':') : NULL;
	if (!colon || colon == v + 6 || !isdigit((unsigned char)colon[1]))
		return false;
	char *end;
	errno = 0;
	long port = strtol(colon + 1, &end, 10);
	return errno == 0 && !*end && port >= 1 && port <= 65534;
}

static void stage_key_set(struct fm_stage_cfg *st, struct fm_diag *diag, const char *key,
                          const char *value, const char *file, int line)
{
	const char *where = file ? file : "--set";
	if (strcmp(key, "plugin") == 0) {
		set_str(&st->plugin, value);
	} else if (strcmp(key, "run_as") == 0) {
		if (strcmp(value, "thread") == 0)
			st->mode = FM_MODE_THREAD;
		else if (strcmp(value, "process") == 0)
			st->mode = FM_MODE_PROCESS;
		else if (strcmp(value, "remote") == 0)
			st->mode = FM_MODE_REMOTE;
		else
			fm_diag_add(diag, where, line, "run_as: '%s' is not one of thread, process, remote",
			            value);
	} else if (strcmp(key, "workers") == 0) {
		int64_t v;
		if (fm_parse_int(value, &v) != 0 || v < 1 || v > 256)
			fm_diag_add(diag, where, line, "workers: '%s' is not a number from 1 to 256",
			            value);
		else {
			st->workers = (int)v;
			set_str(&st->workers_file, where);
			st->workers_line = line;
		}
	} else if (strcmp(key, "bind") == 0 || strcmp(key, "connect") == 0) {
		if (!valid_tcp_endpoint(value))
			fm_diag_add(diag, where, line, "%s: '%s' is not tcp://HOST:PORT", key, value);
		else
			set_str(key[0] == 'b' ? &st->bind : &st->connect, value);
	} else if (strcmp(key, "timeout") == 0) {
		int64_t ms;
		if (fm_parse_duration(value, &ms) != 0 || ms < 100)
			fm_diag_add(diag, where, line, "timeout: '%s' is not a duration of at least 100ms",
			            value);
		else
			st->timeout_ms = ms;
	} else if (strcmp(key, "max_in_flight") == 0) {
		int64_t v;
		if (fm_parse_int(value, &v) != 0 || v < 1 || v > 100000)
			fm_diag_add(diag, where, line, "max_in_flight: '%s' is not a number from 1 to 100000",
			            value);
		else {
			st->max_in_flight = v;
			st->max_in_flight_set = true;
		}
	}
}

static void handle_line(struct reader *r, char *line, const char *file, int lineno)
{
	char *s = trim(line);
	if (!*s || *s == '#' || *s == ';')
		return;
	if (*s == '[') {
		char *close = strchr(s, ']');
		char *rest = close ? trim(close + 1) : NULL;
		if (!close || (*rest && *rest != '#' && *rest != ';')) {
			fm_diag_add(r->diag, file, lineno, "malformed section header (expected [kind NAME])");
			r->kind = -1;
			return;
		}
		*close = '\0';
		open_section(r, s + 1, file, lineno);
		return;
	}
	char *eq = strchr(s, '=');
	if (!eq) {
		fm_diag_add(r->diag, file, lineno, "expected 'key = value'");
		return;
	}
	*eq = '\0';
	char *key = trim(s);
	char *value = eq + 1;
	const char *err = NULL;
	if (!*key) {
		fm_diag_add(r->diag, file, lineno, "missing key before '='");
		return;
	}
	value = trim(value);
	if (parse_value(value, &err) != 0) {
		fm_diag_add(r->diag, file, lineno, "%s: %s", key, err);
		return;
	}
	/* include may stand anywhere, also below the sections (a sources.d/ at the end). */
	if (strcmp(key, "include") == 0 && (int)r->kind != SEC_GLOBAL) {
		global_key(r, key, value, file, lineno);
		return;
	}
	switch ((int)r->kind) {
	case SEC_GLOBAL:
		global_key(r, key, value, file, lineno);
		break;
	case SEC_SOURCE:
		source_key(r, key, value, file, lineno);
		break;
	case SEC_STAGE:
	case SEC_OUTPUT:
		if (is_one_of(key, stage_core_keys))
			stage_key_set(r->stage, r->diag, key, value, file, lineno);
		else
			fm_setting_append(&r->stage->options, fm_setting_new(key, value, file, lineno));
		break;
	default:
		break; /* inside a broken section: already reported once */
	}
}

static const char *file_type_name(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	return "not a regular file";
}

/* Open a configuration file for reading, refusing anything but a regular file: a FIFO would
 * block `feedmill check` forever, a device could be endless. stat() first so that such a file
 * is not even opened; O_NONBLOCK and fstat() again in case it was swapped in between. Returns
 * the descriptor, or -errno after reporting. */
static int open_regular(struct reader *r, const char *path, const char *from_file,
                        int from_line, struct stat *st)
{
	int fd = -1, rc;
	if (stat(path, st) != 0)
		goto io_error;
	if (!S_ISREG(st->st_mode))
		goto not_regular;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 || fstat(fd, st) != 0)
		goto io_error;
	if (!S_ISREG(st->st_mode))
		goto not_regular;
	return fd;
not_regular:
	rc = -EINVAL;
	if (from_file)
		fm_diag_add(r->diag, from_file, from_line, "include: %s: not a regular file (%s)",
		            path, file_type_name(st->st_mode));
	else
		fm_diag_add(r->diag, path, 0, "not a regular file (%s)", file_type_name(st->st_mode));
	goto out;
io_error:
	rc = -errno;
	fm_diag_add(r->diag, from_file ? from_file : path, from_file ? from_line : 0,
	            "cannot read %s: %s", path, strerror(-rc));
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

static ssize_t find_seen(const struct reader *r, const struct stat *st)
{
	for (size_t i = 0; i < r->nseen; i++)
		if (r->seen[i].dev == st->st_dev && r->seen[i].ino == st->st_ino)
			return (ssize_t)i;
	return -1;
}

/* "include cycle: A -> B -> A": the files from the first reading of seen[again] down to the
 * one whose include line names it again. */
static void report_cycle(struct reader *r, size_t again, const char *from_file, int from_line)
{
	char *chain = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&chain, &len);
	if (!f)
		return;
	int k = r->depth - 1;
	while (k > 0 && r->stack[k] != again)
		k--;
	for (; k < r->depth; k++)
		fprintf(f, "%s -> ", r->seen[r->stack[k]].path);
	fputs(r->seen[again].path, f);
	if (fclose(f) == 0)
		fm_diag_add(r->diag, from_file, from_line, "include cycle: %s", chain);
	free(chain);
}

/* Whether an included file is to be read now. Not when it is being read (a cycle) or was read
 * before (each is reported at the include line); a glob that matches the very file it stands
 * in is passed over quietly: `include = *.conf` means the others. */
static bool first_reading(struct reader *r, const struct stat *st, const char *path,
                          const char *from_file, int from_line, bool from_glob)
{
	ssize_t i = find_seen(r, st);
	if (i < 0)
		return true;
	const struct seen_file *f = &r->seen[i];
	if (from_glob && r->depth > 0 && (size_t)i == r->stack[r->depth - 1])
		return false;
	if (f->reading)
		report_cycle(r, (size_t)i, from_file, from_line);
	else
		fm_diag_add(r->diag, from_file, from_line, "include: %s is already included (by %s:%d)",
		            path, f->by_file ? f->by_file : "the command line", f->by_line);
	return false;
}

/* Add a file to those read; its index in *idx. 0 or -ENOMEM. */
static int remember(struct reader *r, const struct stat *st, const char *path,
                    const char *from_file, int from_line, size_t *idx)
{
	if (r->nseen == r->capseen) {
		size_t cap = r->capseen ? r->capseen * 2 : 8;
		struct seen_file *p = realloc(r->seen, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		r->seen = p;
		r->capseen = cap;
	}
	struct seen_file *f = &r->seen[r->nseen];
	*f = (struct seen_file){st->st_dev, st->st_ino, strdup(path),
	                        from_file ? strdup(from_file) : NULL, from_line, false};
	if (!f->path || (from_file && !f->by_file)) {
		free(f->path);
		free(f->by_file);
		return -ENOMEM;
	}
	*idx = r->nseen++;
	return 0;
}

static void forget_all(struct reader *r)
{
	for (size_t i = 0; i < r->nseen; i++) {
		free(r->seen[i].path);
		free(r->seen[i].by_file);
	}
	free(r->seen);
	r->seen = NULL;
	r->nseen = r->capseen = 0;
}

/* The lines of one file, in its own global section; the includer's section is restored. */
static void read_lines(struct reader *r, char *data, const char *path)
{
	enum section_kind saved = r->kind;
	struct fm_source_cfg *saved_src = r->source;
	struct fm_stage_cfg *saved_stage = r->stage;
	r->kind = SEC_GLOBAL;
	int lineno = 0;
	char *p = data;
	/* strtok_r would merge empty lines and shift numbers: split by hand. */
	while (p && *p) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		lineno++;
		handle_line(r, p, path, lineno);
		p = nl ? nl + 1 : NULL;
	}
	r->kind = saved;
	r->source = saved_src;
	r->stage = saved_stage;
}

static int read_file(struct reader *r, const char *path, const char *from_file, int from_line,
                     bool from_glob)
{
	struct stat st;
	char *data = NULL;
	size_t len = 0, idx;
	int fd = open_regular(r, path, from_file, from_line, &st);
	if (fd < 0)
		return fd;
	if (!first_reading(r, &st, path, from_file, from_line, from_glob)) {
		close(fd);
		return 0;
	}
	int rc = fm_read_fd(fd, MAX_CONFIG_FILE, &data, &len);
	close(fd);
	if (rc != 0) {
		fm_diag_add(r->diag, from_file ? from_file : path, from_file ? from_line : 0,
		            "cannot read %s: %s", path, strerror(-rc));
		return rc;
	}
	if (memchr(data, '\0', len)) {
		fm_diag_add(r->diag, path, 0, "not a text file (contains NUL bytes)");
		rc = -EINVAL;
	} else if ((rc = remember(r, &st, path, from_file, from_line, &idx)) == 0) {
		/* An index, not a pointer: reading the includes may move the array. */
		r->stack[r->depth] = idx;
		r->seen[idx].reading = true;
		read_lines(r, data, path);
		r->seen[idx].reading = false;
	}
	free(data);
	return rc;
}

struct fm_config *fm_config_load(const char *path, struct fm_diag *diag)
{
	struct fm_config *c = config_new();
	if (!c)
		return NULL;
	c->path = strdup(path);
	/* state_dir defaults to "state" beside the configuration. */
	char *dir = fm_path_dirname(path);
	free(c->state_dir);
	c->state_dir = fm_path_join(dir, "state");
	free(dir);
	struct reader r = {.cfg = c, .diag = diag, .kind = SEC_GLOBAL};
	int rc = read_file(&r, path, NULL, 0, false);
	forget_all(&r);
	if (rc != 0) {
		fm_config_free(c);
		return NULL;
	}
	/* the interval keys set globally over the built-in ones, then each source's over those */
	struct fm_bounds def;
	fm_bounds_resolve(&def, &r.bounds, &builtin_bounds);
	c->default_interval_ms = def.interval_ms;
	c->min_interval_ms = def.min_ms;
	c->max_interval_ms = def.max_ms;
	for (struct fm_source_cfg *s = c->sources; s; s = s->next) {
		if (!s->url)
			fm_diag_add(diag, s->file, s->line, "source '%s' has no url", s->name);
		struct fm_bounds own = s->bounds;
		fm_bounds_resolve(&s->bounds, &own, &def);
		if (s->rediscover_ms < 0)
			s->rediscover_ms = c->rediscover_ms;
	}
	for (int out = 0; out < 2; out++)
		for (struct fm_stage_cfg *st = out ? c->outputs : c->stages; st; st = st->next)
			if (!st->plugin)
				fm_diag_add(diag, st->file, st->line, "%s '%s' has no plugin",
				            out ? "output" : "stage", st->name);
	return c;
}

char *fm_config_default_path(void)
{
	const char *env = getenv("FEEDMILL_CONFIG");
	if (env && env[0])
		return strdup(env);
	if (access("pipeline.conf", R_OK) == 0)
		return strdup("pipeline.conf");
	char *sys = fm_path_join(FM_SYSCONF_DIR, "pipeline.conf");
	if (sys && access(sys, R_OK) == 0)
		return sys;
	free(sys);
	return NULL;
}

struct fm_config *fm_config_load_default(const char *path, struct fm_diag *diag)
{
	struct fm_diag scratch = {0};
	char *p = path ? strdup(path) : fm_config_default_path();
	if (!p)
		return NULL;
	struct fm_config *c = fm_config_load(p, diag ? diag : &scratch);
	fm_diag_free(&scratch);
	free(p);
	return c;
}

struct fm_config *fm_config_builtin(void)
{
	struct fm_config *c = config_new();
	return c;
}

struct fm_stage_cfg *fm_config_ensure_stage(struct fm_config *cfg, struct fm_loader *l,
                                            const char *name, struct fm_diag *diag)
{
	struct fm_stage_cfg *st = fm_config_find_stage(cfg, name);
	if (st)
		return st;
	const struct fm_loaded_plugin *p = fm_loader_find_kind(l, name);
	if (!p) {
		fm_diag_add(diag, cfg->path, 0,
		            "no stage named '%s' in the configuration, and no plugin of kind '%s'", name,
		            name);
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->name = strdup(name);
	st->plugin = strdup(p->id);
	st->file = strdup(cfg->path ? cfg->path : "(built-in)");
	st->workers = 1;
	st->timeout_ms = 5 * 60 * 1000;
	st->max_in_flight = 256;
	struct fm_stage_cfg **tail = &cfg->stages;
	while (*tail)
		tail = &(*tail)->next;
	*tail = st;
	return st;
}

struct fm_stage_cfg *fm_config_find_stage(struct fm_config *cfg, const char *name)
{
	for (int out = 0; out < 2; out++)
		for (struct fm_stage_cfg *st = out ? cfg->outputs : cfg->stages; st; st = st->next)
			if (strcmp(st->name, name) == 0)
				return st;
	return NULL;
}

int fm_config_set(struct fm_config *cfg, const char *assignment, struct fm_diag *diag)
{
	/* Stage names may hold dots, keys do not: the key starts after the last dot before '='. */
	const char *eq = strchr(assignment, '=');
	const char *dot = eq ? memrchr(assignment, '.', (size_t)(eq - assignment)) : NULL;
	if (!dot || !eq || dot == assignment || eq == dot + 1) {
		fm_diag_add(diag, "--set", 0, "'%s' is not STAGE.KEY=VALUE", assignment);
		return -EINVAL;
	}
	char *stage = strndup(assignment, (size_t)(dot - assignment));
	char *key = strndup(dot + 1, (size_t)(eq - dot - 1));
	int rc = 0;
	struct fm_stage_cfg *st = fm_config_find_stage(cfg, stage);
	if (!st) {
		fm_diag_add(diag, "--set", 0, "no stage named '%s' in the configuration", stage);
		rc = -EINVAL;
	} else if (is_one_of(key, stage_core_keys)) {
		size_t before = diag->n;
		stage_key_set(st, diag, key, eq + 1, NULL, 0);
		rc = diag->n > before ? -EINVAL : 0;
	} else {
		/* The command line overrides the file: for a list option too, whose values in the
		 * file would otherwise be kept with the new ones appended. Several --set of one
		 * key still make a list. */
		for (struct fm_setting **pp = &st->options; *pp;) {
			struct fm_setting *o = *pp;
			if (o->file && strcmp(o->key, key) == 0) {
				*pp = o->next;
				o->next = NULL;
				fm_settings_free(o);
			} else {
				pp = &o->next;
			}
		}
		fm_setting_append(&st->options, fm_setting_new(key, eq + 1, NULL, 0));
	}
	free(stage);
	free(key);
	return rc;
}

/* ------------------------------------------------------------------ validation */

void fm_config_validate_stage(struct fm_config *cfg, struct fm_stage_cfg *st,
                              struct fm_loader *l, struct fm_diag *diag)
{
	char err[512];
	if (!st->plugin)
		return;
	st->loaded = fm_loader_get(l, st->plugin, err, sizeof(err));
	if (!st->loaded) {
		fm_diag_add(diag, st->file, st->line, "%s", err);
		return;
	}
	const struct fm_plugin *p = &st->loaded->desc;
	if (!st->max_in_flight_set && p->max_in_flight)
		st->max_in_flight = p->max_in_flight;
	if ((p->flags & FM_PLUGIN_SINGLETON) && st->workers > 1)
		fm_diag_add(diag, st->workers_file ? st->workers_file : st->file,
		            st->workers_file ? st->workers_line : st->line,
		            "plugin %s keeps shared state and runs as one instance: workers must be 1",
		            st->plugin);
	if (st->mode == FM_MODE_REMOTE && (!st->bind || !st->connect))
		fm_diag_add(diag, st->file, st->line,
		            "run_as = remote needs bind = tcp://*:PORT (the core's side) and connect = "
		            "tcp://HOST:PORT (the remote stage's side)");
	/* Check the options now so that `feedmill check` reports them before anything runs. */
	size_t first = diag->n;
	void *config = fm_plugin_config_new(p, st->options, diag);
	if (config)
		fm_plugin_config_free(p, config);
	/* What the option table says about the section as a whole (a required option left
	 * unset) comes without a place: it belongs at the section's header. */
	for (size_t i = first; st->line > 0 && i < diag->n; i++) {
		struct fm_diag_entry *e = &diag->e[i];
		char *text = NULL, *file = strdup(st->file);
		if (e->file || !file ||
		    asprintf(&text, "%s:%d: %s '%s': %s", st->file, st->line,
		             st->is_output ? "output" : "stage", st->name, e->text) < 0) {
			free(file);
			continue;
		}
		free(e->text);
		e->text = text;
		e->file = file;
		e->line = st->line;
	}
	(void)cfg;
}

static void validate_source(struct fm_source_cfg *s, const struct fm_loaded_plugin *fetch,
                            struct fm_diag *diag)
{
	json_decref(s->options);
	s->options = json_object();
	for (struct fm_setting *e = s->extra; e; e = e->next) {
		const struct fm_option *o = fetch ? fm_option_find(fetch->desc.options, e->key) : NULL;
		if (!o || !(o->flags & FM_OPT_PER_SOURCE)) {
			fm_diag_add(diag, e->file, e->line,
			            "unknown source setting '%s' (known: url, interval, min_interval, "
			            "max_interval, rediscover_after, type, enabled, tags%s)",
			            e->key,
			            fetch ? ", and the per-source options of the fetch plugin" : "");
			continue;
		}
		char err[256];
		char *dir = fm_path_dirname(e->file);
		json_t *v = fm_option_value_json(o, e->value, dir, err, sizeof(err));
		free(dir);
		json_t *prev = json_object_get(s->options, e->key);
		if (!v)
			fm_diag_add(diag, e->file, e->line, "%s: %s", e->key, err);
		else if (o->type == FM_OPT_LIST && json_is_array(prev)) {
			/* A list builds up over repeated lines, as in a [stage] section. */
			json_array_extend(prev, v);
			json_decref(v);
		} else
			json_object_set_new(s->options, e->key, v);
	}
}

int fm_config_validate(struct fm_config *cfg, struct fm_loader *l, struct fm_diag *diag)
{
	size_t before = diag->n;
	for (int out = 0; out < 2; out++)
		for (struct fm_stage_cfg *st = out ? cfg->outputs : cfg->stages; st; st = st->next)
			fm_config_validate_stage(cfg, st, l, diag);
	const struct fm_loaded_plugin *fetch = cfg->stages ? cfg->stages->loaded : NULL;
	if (cfg->sources && cfg->stages && fetch && strcmp(fetch->desc.kind, "fetch") != 0)
		fm_diag_add(diag, cfg->stages->file, cfg->stages->line,
		            "the first stage receives the sources' fetch requests: it should be a fetch "
		            "plugin, not %s",
		            fetch->id);
	/* Without the fetch plugin its per-source keys cannot be judged: that problem is
	 * already reported once, at the stage. */
	bool fetch_unknown = cfg->stages && cfg->stages->plugin && !fetch;
	for (struct fm_source_cfg *s = cfg->sources; s && !fetch_unknown; s = s->next)
		validate_source(s, fetch, diag);
	return diag->n > before ? -EINVAL : 0;
}

static void free_stages(struct fm_stage_cfg *st)
{
	while (st) {
		struct fm_stage_cfg *next = st->next;
		free(st->name);
		free(st->plugin);
		free(st->file);
		free(st->workers_file);
		free(st->bind);
		free(st->connect);
		fm_settings_free(st->options);
		free(st);
		st = next;
	}
}

void fm_config_free(struct fm_config *cfg)
{
	if (!cfg)
		return;
	struct fm_source_cfg *s = cfg->sources;
	while (s) {
		struct fm_source_cfg *next = s->next;
		free(s->name);
		free(s->url);
		free(s->file);
		free(s->type);
		json_decref(s->tags);
		json_decref(s->options);
		fm_settings_free(s->extra);
		free(s);
		s = next;
	}
	free_stages(cfg->stages);
	free_stages(cfg->outputs);
	free(cfg->path);
	free(cfg->state_dir);
	free(cfg->plugin_dir);
	free(cfg->user_agent);
	free(cfg);
}
